/*
 * Window aggregates in the expression tree (SPEC §13): the compiler's
 * checks on them and the list of them that cg_expr_compile_window hands
 * to the gateway.
 *
 * In a window's `aggregate:` expression each aggregate call becomes a
 * NODE_AGG leaf for the outer expression: evaluating it reads the
 * finished value of its slot from ctx->aggs. Its argument stays below it
 * as kids[0], so that cg_expr_reads sees what the aggregate reads, and is
 * handed out as an expression of its own, which the gateway evaluates per
 * message. Outside a window every aggregate is an error, and so, inside
 * one, is any name that reads a single message outside the aggregates.
 */
#include <string.h>

#include "internal.h"

static const char *const names[CG_AGG_KINDS] = {
    [CG_AGG_COUNT] = "count", [CG_AGG_COUNT_DISTINCT] = "count_distinct",
    [CG_AGG_SUM] = "sum",     [CG_AGG_AVG] = "avg",
    [CG_AGG_MIN] = "min",     [CG_AGG_MAX] = "max",
    [CG_AGG_FIRST] = "first", [CG_AGG_LAST] = "last",
};

const char *cg_agg_name(int kind)
{
    return kind >= 0 && kind < CG_AGG_KINDS ? names[kind] : NULL;
}

int expr__agg_kind(const char *name, size_t len)
{
    for (int k = 0; k < CG_AGG_KINDS; k++)
        if (strlen(names[k]) == len && memcmp(names[k], name, len) == 0)
            return k;
    return -1;
}

/* The first aggregate in the subtree n, or NULL. */
static const struct expr__node *find_agg(const struct expr__node *n)
{
    if (n->kind == NODE_AGG)
        return n;
    for (uint32_t i = 0; i < n->n; i++) {
        const struct expr__node *hit = find_agg(n->kids[i]);
        if (hit)
            return hit;
    }
    return NULL;
}

static int outside_window(int kind, size_t offset, struct cg_expr_error *err)
{
    const char *name = names[kind];
    if (kind == CG_AGG_MIN || kind == CG_AGG_MAX)
        return expr__error(err, offset,
                           "%s() of one argument is a window aggregate: only "
                           "a window's aggregate may use it (%s() takes 2 or "
                           "more arguments)",
                           name, name);
    return expr__error(err, offset,
                       "%s() is a window aggregate: only a window's "
                       "aggregate may use it",
                       name);
}

int expr__agg_make(struct cg_expr *e, bool window, int kind,
                   struct expr__node *n, struct cg_expr_error *err)
{
    uint32_t want = kind == CG_AGG_COUNT ? 0 : 1;
    if (!window)
        return outside_window(kind, n->offset, err);
    if (n->n != want)
        return expr__error(err, n->offset, "%s() takes %u argument%s",
                           names[kind], want, want == 1 ? "" : "s");
    const struct expr__node *inner = n->n ? find_agg(n->kids[0]) : NULL;
    if (inner)
        return expr__error(err, inner->offset,
                           "%s() inside %s(): aggregates do not nest",
                           names[inner->op], names[kind]);
    n->kind = NODE_AGG;
    n->op = (uint8_t)kind;
    n->fn = NULL;
    n->lit = cg_value_int(e->n_aggs++);
    return CG_OK;
}

/* The name a node reads one message through, or NULL: fields, payload and
 * the built-ins of the message. `now` and `domain` are the same for every
 * message of a rule's window. */
static const char *message_name(const struct expr__node *n)
{
    static const char *const builtins[] = {
        [BUILTIN_PAYLOAD] = "payload", [BUILTIN_TOPIC] = "topic",
        [BUILTIN_VENDOR] = "vendor",   [BUILTIN_NETWORK] = "network",
        [BUILTIN_DEVICE] = "device",   [BUILTIN_DOMAIN] = NULL,
        [BUILTIN_NOW] = NULL,          [BUILTIN_TIME] = "time",
    };
    if (n->kind == NODE_FIELD)
        return n->lit.as.str;
    if (n->kind == NODE_LEVEL)
        return "topic";
    if (n->kind == NODE_BUILTIN)
        return builtins[n->op];
    return NULL;
}

/* Refuses the first name outside the aggregates that reads a message. */
static int check_outside(const struct expr__node *n, struct cg_expr_error *err)
{
    if (n->kind == NODE_AGG)
        return CG_OK;
    const char *name = message_name(n);
    if (name)
        return expr__error(err, n->offset,
                           "'%.32s' outside an aggregate: a window has no "
                           "single message to read it from (last(%.32s)?)",
                           name, name);
    for (uint32_t i = 0; i < n->n; i++) {
        int rc = check_outside(n->kids[i], err);
        if (rc)
            return rc;
    }
    return CG_OK;
}

/* Fills e->aggs[slot] for every aggregate under n, giving each argument an
 * expression of its own in e's arena. */
static int collect(struct cg_expr *e, const struct expr__node *n)
{
    if (n->kind != NODE_AGG) {
        for (uint32_t i = 0; i < n->n; i++) {
            int rc = collect(e, n->kids[i]);
            if (rc)
                return rc;
        }
        return CG_OK;
    }
    struct cg_agg *agg = &e->aggs[n->lit.as.i];
    agg->kind = n->op;
    agg->arg = NULL;
    if (n->n == 0)
        return CG_OK;
    struct cg_expr *arg = cg_arena_alloc(e->arena, sizeof(*arg));
    if (!arg)
        return CG_ENOMEM;
    memset(arg, 0, sizeof(*arg));
    arg->arena = e->arena; /* borrowed: cg_expr_free never sees arg */
    arg->root = n->kids[0];
    agg->arg = arg;
    return expr__analyse(arg);
}

int expr__window_finish(struct cg_expr *e, struct cg_expr_error *err)
{
    int rc = check_outside(e->root, err);
    if (rc || e->n_aggs == 0)
        return rc;
    e->aggs = cg_arena_alloc(e->arena, sizeof(*e->aggs) * e->n_aggs);
    return e->aggs ? collect(e, e->root) : CG_ENOMEM;
}
