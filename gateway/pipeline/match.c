/*
 * Rules (SPEC §1): every rule whose match fits the message (found through
 * the ruleset's index, not a scan) and whose `when` holds fires one event,
 * with its severity and data evaluated over the normalized record; the
 * event goes on to routing.
 */
#include <string.h>

#include "internal.h"

static int eval_data(struct cg_pipeline *p, struct msg_ctx *mc,
                     const struct cg_rule *r, struct fired *f)
{
    if (!r->has_data)
        return CG_OK;
    struct cg_member *m =
        cg_arena_alloc(p->arena, (r->n_data ? r->n_data : 1) * sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    for (size_t i = 0; i < r->n_data; i++) {
        m[i].key = r->data_names[i];
        m[i].key_len = (uint32_t)strlen(m[i].key);
        cg_expr_eval(r->data[i], &mc->eval, &m[i].value);
    }
    f->data.type = CG_OBJ;
    f->data.len = (uint32_t)r->n_data;
    f->data.as.members = m;
    return CG_OK;
}

int match__event(struct cg_pipeline *p, struct msg_ctx *mc,
                 const struct cg_rule *r, struct fired *f)
{
    struct rule_rt *rt = &p->rule_rt[r->index];
    *f = (struct fired){.rule = r,
                        .rt = rt,
                        .severity = r->severity_const,
                        .data = mc->record,
                        .taints = r->has_data ? rt->taints : NULL,
                        .n_taints = r->n_data};
    if (r->severity) {
        struct cg_value v;
        cg_expr_eval(r->severity, &mc->eval, &v);
        f->severity = cg_severity_parse(&v);
    }
    return eval_data(p, mc, r, f);
}

/* Counts a message once for its domain, however many of the domain's
 * rules it fires (the live page's rates per domain). */
static void count_domain_message(struct cg_pipeline *p,
                                 const struct rule_rt *rt)
{
    struct domain_rt *d = &p->domains[rt->domain];
    if (d->last_message != p->message_seq) {
        d->last_message = p->message_seq;
        atomic_fetch_add_explicit(&d->messages, 1, memory_order_relaxed);
    }
}

/* A stateful rule sees every message its match fits, `when` or not: a
 * message whose `when` fails resolves an alert (SPEC §13). */
static int fire(struct cg_pipeline *p, struct msg_ctx *mc,
                const struct cg_rule *r, const struct cg_emit *emit)
{
    struct cg_value v;
    bool holds = true;
    mc->eval.domain = r->domain;
    if (r->when) {
        cg_expr_eval(r->when, &mc->eval, &v);
        holds = cg_value_is_true(&v);
    }
    if (holds)
        count_domain_message(p, &p->rule_rt[r->index]);
    if (p->rule_rt[r->index].state)
        return stateful__message(p, mc, r, holds, emit);
    struct fired f;
    if (!holds)
        return 0;
    if (match__event(p, mc, r, &f) != CG_OK)
        return CG_ENOMEM;
    return route__event(p, mc, &f, emit);
}

int match__rules(struct cg_pipeline *p, struct msg_ctx *mc,
                 const struct cg_emit *emit)
{
    uint32_t vi = (uint32_t)(mc->vendor - p->vendors);
    size_t n = cg_ruleset_match(p->rules, vi, mc->m->topic, mc->m->topic_len,
                                p->matched);
    int total = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = fire(p, mc, cg_ruleset_rule(p->rules, p->matched[i]), emit);
        if (rc < 0)
            return rc;
        total += rc;
    }
    return total;
}
