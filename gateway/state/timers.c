/*
 * Timers of stateful rules: each rule knows its earliest due time without
 * a timer per key (an alert's oldest key and first repeat, a window's
 * end), so running what is due and finding the next due time cost one
 * look per rule.
 */
#include "internal.h"

int cg_state_run_rule(struct cg_state_rule *r, int64_t now,
                      const struct cg_state_ctx *c)
{
    if (r->kind == CG_STATE_ALERT)
        return alert__run(r, now, c);
    if (r->kind == CG_STATE_WINDOW)
        return window__run(r, now, c);
    return CG_OK;
}

int cg_state_run(struct cg_state *s, int64_t now, const struct cg_state_ctx *c)
{
    int result = CG_OK;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->rules[i])
            continue;
        int rc = cg_state_run_rule(s->rules[i], now, c);
        if (rc != CG_OK && result == CG_OK)
            result = rc; /* the others still run: one rule's trouble is not
                            theirs */
    }
    return result;
}

static int64_t rule_next(const struct cg_state_rule *r)
{
    if (r->kind == CG_STATE_ALERT)
        return alert__next(r);
    if (r->kind == CG_STATE_WINDOW && r->tab.n)
        return r->win_end;
    return 0;
}

int64_t cg_state_next_due(const struct cg_state *s)
{
    int64_t next = 0;
    for (size_t i = 0; i < s->n; i++) {
        int64_t t = s->rules[i] ? rule_next(s->rules[i]) : 0;
        if (t && (!next || t < next))
            next = t;
    }
    return next;
}

int cg_state_flush(struct cg_state *s, int64_t now,
                   const struct cg_state_ctx *c)
{
    int result = CG_OK;
    for (size_t i = 0; i < s->n; i++) {
        struct cg_state_rule *r = s->rules[i];
        if (!r || r->kind != CG_STATE_WINDOW || !r->tab.n)
            continue;
        int rc = window__flush(r, now, c);
        if (rc != CG_OK && result == CG_OK)
            result = rc;
    }
    return result;
}
