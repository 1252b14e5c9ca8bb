/*
 * lookup("table", key) (SPEC §14): the row of a lookup table as an object,
 * key column included, or null.
 *
 * The table is named by a string literal and resolved once, when the
 * expression compiles, against the tables the caller hands over
 * (struct cg_expr_env); an unknown name is a compile error at its column.
 * The key is compared as text (a string as it is, a number as str()
 * writes it), so a device id read from a topic finds the row whose key
 * cell reads the same. The row returned points into the table's rows,
 * which outlive the expression.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

EXPR__FUNC(expr__fn_lookup)
{
    struct cg_value key;
    const struct cg_value *row = NULL;
    (void)ev;
    if (n->table && args[1].type != CG_NULL &&
        value__format_arena(ev->ctx->arena, &args[1], &key))
        row = cg_table_find(n->table, key.as.str, key.len);
    *out = row ? *row : CG_VALUE_NULL;
}

bool expr__is_lookup(const struct expr__node *n)
{
    return n->kind == NODE_CALL && n->fn && n->fn->fn == expr__fn_lookup;
}

/* The table called name, or the closest name for a "did you mean". */
static const struct cg_table *find_table(const struct cg_expr_env *env,
                                         const char *name, const char **closest)
{
    size_t best = 3;
    *closest = NULL;
    for (size_t i = 0; env && i < env->n_tables; i++) {
        const char *t = cg_table_name(env->tables[i]);
        if (!strcmp(t, name))
            return env->tables[i];
        size_t d = cg_edit_distance(name, t);
        if (d < best) {
            best = d;
            *closest = t;
        }
    }
    return NULL;
}

int expr__lookup_resolve(struct cg_expr *e, struct expr__node *n,
                         const char *src, size_t len, struct cg_expr_error *err)
{
    const struct expr__node *lit = n->kids[0];
    if (lit->kind != NODE_LIT || lit->lit.type != CG_STR)
        return expr__error(err, lit->offset,
                           "lookup() needs a string literal as its table name");
    /* Point inside the quotes, at the name itself. */
    size_t at = lit->offset < len &&
                        (src[lit->offset] == '"' || src[lit->offset] == '\'')
                    ? lit->offset + 1
                    : lit->offset;
    const char *closest, *name = lit->lit.as.str;
    if (!e->env || !e->env->n_tables)
        return expr__error(err, at,
                           "lookup(): no lookup tables here (tables: in "
                           "citygate.yaml, read by rules)");
    n->table = find_table(e->env, name, &closest);
    if (n->table)
        return CG_OK;
    if (closest)
        return expr__error(err, at,
                           "lookup(): unknown table '%.40s' (did you mean "
                           "'%.40s'?)",
                           name, closest);
    return expr__error(err, at, "lookup(): unknown table '%.40s'", name);
}
