/*
 * A window rule's compiled keys (SPEC §13): group_by names as expressions
 * (so built-ins such as device and vendor read as they do everywhere),
 * each aggregate as a window expression whose aggregate calls become
 * slots, and having as an ordinary expression over the window's data.
 * Every compile error is reported at its file, line and column.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int compile_group(struct window_def *w, const struct cg_window_conf *c,
                         struct cg_diags *d)
{
    int result = CG_OK;
    w->group = cg_calloc(c->n_group_by + 1, sizeof(*w->group));
    w->group_names = cg_calloc(c->n_group_by + 1, sizeof(char *));
    if (!w->group || !w->group_names)
        return CG_ENOMEM;
    for (size_t i = 0; i < c->n_group_by; i++, w->n_group++) {
        const struct cg_src *g = &c->group_by[i];
        if (!(w->group_names[i] = cg_strdup(g->text)))
            return CG_ENOMEM;
        int rc = cg_expr_compile_src(g, "window.group_by", &w->group[i], d);
        if (rc == CG_ENOMEM)
            return rc;
        if (rc != CG_OK)
            result = rc;
    }
    return result;
}

/* Appends the aggregates of field i's expression to the slots. */
static int add_slots(struct window_def *w, size_t i, const struct cg_agg *aggs,
                     size_t n)
{
    struct cg_agg *slots =
        cg_realloc(w->slots, (w->n_slots + n + 1) * sizeof(*slots));
    if (!slots)
        return CG_ENOMEM;
    w->slots = slots;
    w->first_slot[i] = w->n_slots;
    memcpy(slots + w->n_slots, aggs, n * sizeof(*aggs));
    w->n_slots += n;
    return CG_OK;
}

static int compile_field(struct window_def *w, size_t i,
                         const struct cg_field_conf *f, struct cg_diags *d)
{
    struct cg_expr_error err;
    const struct cg_agg *aggs = NULL;
    size_t n = 0;
    if (!(w->field_names[i] = cg_strdup(f->name.s)))
        return CG_ENOMEM;
    int rc = cg_expr_compile_window(f->expr.text, strlen(f->expr.text),
                                    &w->fields[i], &aggs, &n, &err);
    if (rc == CG_EINVAL) {
        int line, col;
        cg_src_locate(&f->expr, err.offset, &line, &col);
        cg_diags_add(d, f->expr.file, line, col, "window.aggregate.%s: %s",
                     f->name.s, err.msg);
    }
    return rc == CG_OK ? add_slots(w, i, aggs, n) : rc;
}

static int compile_fields(struct window_def *w, const struct cg_window_conf *c,
                          struct cg_diags *d)
{
    int result = CG_OK;
    size_t n = c->n_aggregate + 1;
    w->fields = cg_calloc(n, sizeof(*w->fields));
    w->field_names = cg_calloc(n, sizeof(char *));
    w->first_slot = cg_calloc(n, sizeof(size_t));
    if (!w->fields || !w->field_names || !w->first_slot)
        return CG_ENOMEM;
    for (size_t i = 0; i < c->n_aggregate; i++, w->n_fields++) {
        int rc = compile_field(w, i, &c->aggregate[i], d);
        if (rc == CG_ENOMEM)
            return rc;
        if (rc != CG_OK)
            result = rc;
    }
    return result;
}

int rule__compile_window(struct cg_state_rule *r, const struct cg_rule_conf *rc,
                         struct cg_diags *d)
{
    const struct cg_window_conf *c = rc->state.window;
    struct window_def *w = &r->win;
    w->every = c->every.ms;
    w->min_count = c->min_count;
    int rc1 = compile_group(w, c, d);
    if (rc1 == CG_ENOMEM)
        return rc1;
    int rc2 = compile_fields(w, c, d);
    if (rc2 == CG_ENOMEM)
        return rc2;
    int rc3 = c->having.text ? cg_expr_compile_src(&c->having, "window.having",
                                                   &w->having, d)
                             : CG_OK;
    return rc1 != CG_OK ? rc1 : rc2 != CG_OK ? rc2 : rc3;
}

void rule__free_window(struct window_def *w)
{
    for (size_t i = 0; i < w->n_group; i++) {
        cg_expr_free(w->group[i]);
        cg_free(w->group_names[i]);
    }
    for (size_t i = 0; i < w->n_fields; i++) {
        cg_expr_free(w->fields[i]);
        cg_free(w->field_names[i]);
    }
    cg_free(w->group);
    cg_free(w->group_names);
    cg_free(w->fields);
    cg_free(w->field_names);
    cg_free(w->first_slot);
    cg_free(w->slots);
    cg_expr_free(w->having);
    memset(w, 0, sizeof(*w));
}

void cg_state_window_exprs(const struct cg_state_rule *r,
                           struct cg_expr *const **group, size_t *n_group,
                           struct cg_expr *const **fields, size_t *n_fields)
{
    *group = r->win.group;
    *n_group = r->win.n_group;
    *fields = r->win.fields;
    *n_fields = r->win.n_fields;
}
