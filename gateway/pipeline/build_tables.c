/*
 * Lookup tables (SPEC §14): the config parsed each table file into rows;
 * here they become the rules library's indexed tables, which rule
 * expressions compile against (lookup("name", key) resolves its table
 * once, at load). The names "<table>.<column>" of private columns are
 * kept for routing, which applies grants to them as to a vendor's
 * private fields (SPEC §6).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int add_private_name(struct cg_pipeline *p, const char *table,
                            const char *col)
{
    size_t n = strlen(table) + strlen(col) + 2;
    char **v =
        cg_realloc(p->table_private, (p->n_table_private + 1) * sizeof(*v));
    if (!v)
        return CG_ENOMEM;
    p->table_private = v;
    if (!(v[p->n_table_private] = cg_malloc(n)))
        return CG_ENOMEM;
    snprintf(v[p->n_table_private++], n, "%s.%s", table, col);
    return CG_OK;
}

/* One table. A table whose rows the config refused (it reported why) is
 * left without rows: it still resolves, so that no rule reports it as
 * unknown on top. */
static int build_table(struct cg_pipeline *p, const struct cg_table_conf *t,
                       struct cg_diags *d)
{
    static const struct cg_value none = {.type = CG_LIST};
    const char *priv[64];
    size_t n_priv = 0;
    for (size_t i = 0; i < t->n_private && n_priv < 64; i++)
        priv[n_priv++] = t->private_cols[i].s;
    const struct cg_value *rows = t->rows.type == CG_LIST ? &t->rows : &none;
    struct cg_table *table = NULL;
    size_t bad = 0;
    int rc =
        cg_table_new(t->name.s, rows, t->key.s, priv, n_priv, &table, &bad);
    if (rc == CG_EINVAL) { /* the config checks the same: cannot happen */
        cg_diags_add(d, t->pos.file, t->pos.line, t->pos.col,
                     "tables: row %zu of '%s' has no key or a duplicate one",
                     bad + 1, t->name.s);
        rc = cg_table_new(t->name.s, &none, t->key.s, priv, n_priv, &table,
                          NULL);
    }
    if (rc != CG_OK)
        return rc;
    p->tables[p->n_tables++] = table;
    for (size_t i = 0; i < n_priv; i++)
        if (add_private_name(p, t->name.s, priv[i]) != CG_OK)
            return CG_ENOMEM;
    return CG_OK;
}

int build__tables(struct cg_pipeline *p, struct cg_diags *d)
{
    const struct cg_config *cfg = p->cfg;
    p->tables =
        cg_calloc(cfg->n_tables ? cfg->n_tables : 1, sizeof(*p->tables));
    if (!p->tables)
        return CG_ENOMEM;
    for (size_t i = 0; i < cfg->n_tables; i++) {
        const struct cg_table_conf *t = &cfg->tables[i];
        if (!t->name.s || !t->key.s)
            continue; /* reported by the config */
        if (build_table(p, t, d) != CG_OK)
            return CG_ENOMEM;
    }
    p->env.tables = p->tables;
    p->env.n_tables = p->n_tables;
    return CG_OK;
}

void build__free_tables(struct cg_pipeline *p)
{
    for (size_t i = 0; i < p->n_tables; i++)
        cg_table_free(p->tables[i]);
    CG_FREE(p->tables);
    p->n_tables = 0;
    for (size_t i = 0; i < p->n_table_private; i++)
        cg_free(p->table_private[i]);
    CG_FREE(p->table_private);
    p->n_table_private = 0;
}
