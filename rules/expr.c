/*
 * The public face of expressions (rules.h): compile (ordinary and window
 * expressions), free, evaluate, and the facts the rules compiler asks
 * about a compiled expression: which record fields it reads (for privacy
 * taint), whether it is a constant and whether it is a bare field path.
 *
 * Those facts are worked out once, when the expression compiles, so the
 * queries neither walk the tree nor allocate; only cg_expr_field_refs,
 * for the warnings `check` prints, walks it.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void cg_expr_free(struct cg_expr *e)
{
    if (!e)
        return;
    for (struct expr__regex *r = e->regexes; r; r = r->next)
        regfree(&r->re);
    cg_arena_free(e->arena);
    cg_free(e);
}

/* The fields an expression reads. With names NULL, reads_walk only counts
 * field references, giving the size of the array for the second walk. */
struct reads {
    struct cg_value *names;
    uint32_t n;
    bool all, device, oom;
    struct cg_arena *arena; /* for "<table>.<column>" names */
};

static void reads_add(struct reads *r, const struct cg_value *name)
{
    if (r->names) {
        for (uint32_t i = 0; i < r->n; i++)
            if (cg_value_equal(&r->names[i], name))
                return;
        r->names[r->n] = *name;
    }
    r->n++;
}

/* A private column of a lookup table reads as "<table>.<column>". */
static void reads_column(struct reads *r, const struct cg_table *t,
                         const char *col, size_t len)
{
    if (!cg_table_private(t, col, len))
        return;
    if (!r->names) {
        r->n++;
        return;
    }
    const char *table = cg_table_name(t);
    size_t n = strlen(table) + 1 + len;
    char *name = cg_arena_alloc(r->arena, n + 1);
    if (!name) {
        r->oom = true;
        return;
    }
    snprintf(name, n + 1, "%s.%.*s", table, (int)len, col);
    struct cg_value v = cg_value_str(name, n);
    reads_add(r, &v);
}

/* The whole row of a lookup (or a column chosen at run time): every
 * private column. */
static void reads_row(struct reads *r, const struct cg_table *t)
{
    const char *const *cols;
    size_t n = cg_table_private_columns(t, &cols);
    for (size_t i = 0; i < n; i++)
        reads_column(r, t, cols[i], strlen(cols[i]));
}

static bool is_builtin(const struct expr__node *n, int which)
{
    return n->kind == NODE_BUILTIN && n->op == which;
}

static void reads_walk(struct reads *r, const struct expr__node *n)
{
    if (n->kind == NODE_FIELD) {
        reads_add(r, &n->lit);
        return;
    }
    /* lookup(...).col reads that column; the lookup's own arguments are
     * read as usual (its key may be the device). */
    if (n->kind == NODE_MEMBER && expr__is_lookup(n->kids[0])) {
        reads_column(r, n->kids[0]->table, n->lit.as.str, n->lit.len);
        for (uint32_t i = 0; i < n->kids[0]->n; i++)
            reads_walk(r, n->kids[0]->kids[i]);
        return;
    }
    if (expr__is_lookup(n))
        reads_row(r, n->table);
    /* payload.x and payload["x"] (a member node) read field x; any other
     * use of payload, such as payload[k], reads the whole record. */
    if (n->kind == NODE_MEMBER && is_builtin(n->kids[0], BUILTIN_PAYLOAD)) {
        reads_add(r, &n->lit);
        return;
    }
    if (is_builtin(n, BUILTIN_PAYLOAD))
        r->all = true;
    /* The topic names the device as surely as the device id does, and so
     * does any level of it: topic[N] keeps no topic node below it. */
    if (is_builtin(n, BUILTIN_DEVICE) || is_builtin(n, BUILTIN_TOPIC) ||
        n->kind == NODE_LEVEL)
        r->device = true;
    for (uint32_t i = 0; i < n->n; i++)
        reads_walk(r, n->kids[i]);
}

/* `pm25`, `a.b`, `a[0]`, `a["b"]`: the first name of a constant path. */
static const char *bare_field(const struct expr__node *n)
{
    while (n->kind == NODE_MEMBER ||
           (n->kind == NODE_INDEX && n->kids[1]->kind == NODE_LIT))
        n = n->kids[0];
    return n->kind == NODE_FIELD ? n->lit.as.str : NULL;
}

int expr__analyse(struct cg_expr *e)
{
    struct reads r = {.arena = e->arena};
    reads_walk(&r, e->root);
    if (r.n) {
        r.names = cg_arena_alloc(e->arena, sizeof(*r.names) * r.n);
        if (!r.names)
            return CG_ENOMEM;
        r.n = 0;
        reads_walk(&r, e->root);
        if (r.oom)
            return CG_ENOMEM;
    }
    e->reads_all = r.all;
    e->reads_device = r.device;
    e->fields = r.names;
    e->n_fields = r.n;
    e->field_name = bare_field(e->root);
    return CG_OK;
}

static int compile(const char *src, size_t len, bool window,
                   const struct cg_expr_env *env, struct cg_expr **out,
                   struct cg_expr_error *err)
{
    struct cg_expr_error spare;
    if (!err)
        err = &spare;
    *out = NULL;
    struct cg_expr *e = cg_calloc(1, sizeof(*e));
    int rc = CG_ENOMEM;
    /* Most expressions are a few dozen bytes; size the first chunk so
     * they need one, without giving a short one a big block. */
    if (e && (e->arena = cg_arena_new(len < 1024 ? 384 + len * 8 : 16384))) {
        e->env = env;
        rc = expr__parse(e, src ? src : "", len, window, err);
        e->env = NULL; /* borrowed for the compile only */
    }
    if (rc == CG_OK && window)
        rc = expr__window_finish(e, err);
    if (rc == CG_OK)
        rc = expr__analyse(e);
    if (rc == CG_OK) {
        *out = e;
        return CG_OK;
    }
    cg_expr_free(e);
    if (rc == CG_ENOMEM) {
        err->offset = 0;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
    }
    return rc;
}

int cg_expr_compile(const char *src, size_t len, struct cg_expr **out,
                    struct cg_expr_error *err)
{
    return compile(src, len, false, NULL, out, err);
}

int cg_expr_compile_env(const char *src, size_t len,
                        const struct cg_expr_env *env, struct cg_expr **out,
                        struct cg_expr_error *err)
{
    return compile(src, len, false, env, out, err);
}

int cg_expr_compile_window(const char *src, size_t len, struct cg_expr **out,
                           const struct cg_agg **aggs, size_t *n_aggs,
                           struct cg_expr_error *err)
{
    int rc = compile(src, len, true, NULL, out, err);
    size_t n = cg_expr_aggregates(*out, aggs);
    if (n_aggs)
        *n_aggs = n;
    return rc;
}

size_t cg_expr_aggregates(const struct cg_expr *e, const struct cg_agg **aggs)
{
    if (aggs)
        *aggs = e ? e->aggs : NULL;
    return e ? e->n_aggs : 0;
}

void cg_expr_eval(const struct cg_expr *e, const struct cg_eval_ctx *ctx,
                  struct cg_value *out)
{
    static const struct cg_eval_ctx none;
    struct expr__ev ev = {.ctx = ctx ? ctx : &none, .oom = false};
    if (!e) {
        *out = CG_VALUE_NULL;
        return;
    }
    expr__eval(&ev, e->root, out);
}

bool cg_expr_constant(const struct cg_expr *e, struct cg_value *out)
{
    if (!e || e->root->kind != NODE_LIT)
        return false;
    if (out)
        *out = e->root->lit;
    return true;
}

void cg_expr_reads(const struct cg_expr *e, struct cg_expr_reads *r,
                   cg_expr_field_fn fn, void *user)
{
    r->all = e && e->reads_all;
    r->device = e && e->reads_device;
    for (uint32_t i = 0; e && fn && i < e->n_fields; i++)
        fn(user, e->fields[i].as.str, e->fields[i].len);
}

const char *cg_expr_field_name(const struct cg_expr *e)
{
    return e ? e->field_name : NULL;
}

static void refs_walk(const struct expr__node *n, cg_expr_ref_fn fn, void *user)
{
    if (n->kind == NODE_FIELD)
        fn(user, n->lit.as.str, n->offset);
    for (uint32_t i = 0; i < n->n; i++)
        refs_walk(n->kids[i], fn, user);
}

void cg_expr_field_refs(const struct cg_expr *e, cg_expr_ref_fn fn, void *user)
{
    if (e && e->root)
        refs_walk(e->root, fn, user);
}
