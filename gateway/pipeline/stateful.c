/*
 * The pipeline's hooks for stateful rules (SPEC §13): between matching a
 * rule and routing its event, the rule's state (state/) decides whether
 * the event goes out and with which extra data; timers' events are
 * routed here like any message's, through privacy, the spool and
 * delivery. A step's state is committed only once its event is routed,
 * so a message the spool could not take (the broker will offer it again)
 * leaves the state as it found it.
 *
 * Event ids of timer events derive from the gateway, the rule, the key,
 * the timer's time and the consumer (route.c mixes in the last two).
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static int64_t ms_of(double seconds)
{
    return (int64_t)llround(seconds * 1000.0);
}

static struct cg_member extra(const char *key, struct cg_value v)
{
    return (struct cg_member){key, (uint32_t)strlen(key), v};
}

/* ---- building -------------------------------------------------------------
 */

static int window_rt(struct cg_pipeline *p, struct rule_rt *rt,
                     const struct cg_rule_conf *rc)
{
    struct cg_expr *const *g, *const *fields;
    size_t ng, nf;
    cg_state_window_exprs(rt->state, &g, &ng, &fields, &nf);
    rt->win_taints = cg_calloc(ng + nf + 1, sizeof(*rt->win_taints));
    rt->vendors = cg_calloc(p->n_vendors + 1, sizeof(*rt->vendors));
    if (!rt->win_taints || !rt->vendors)
        return CG_ENOMEM;
    rt->n_win_taints = ng + nf;
    rt->n_group = ng;
    for (size_t i = 0; i < ng + nf; i++)
        taint__collect(i < ng ? g[i] : fields[i - ng], &rt->win_taints[i]);
    for (size_t v = 0; v < p->n_vendors; v++) {
        bool named = !rc->n_match_vendors;
        for (size_t i = 0; i < rc->n_match_vendors; i++)
            named |=
                !strcmp(rc->match_vendors[i].s, p->vendors[v].conf->name.s);
        if (named)
            rt->vendors[rt->n_vendors++] = (uint32_t)v;
    }
    return CG_OK;
}

/* Compiles every rule's state (reporting every problem), and once the
 * rules are built, hangs it on their runtime. */
int stateful__build(struct cg_pipeline *p, struct cg_diags *d)
{
    const struct cg_config *cfg = p->cfg;
    size_t n = 0;
    for (size_t f = 0; f < cfg->n_rule_files; f++)
        n += cfg->rule_files[f].n_rules;
    if (!(p->state = cg_state_new(n)))
        return CG_ENOMEM;
    int result = CG_OK;
    for (size_t f = 0, i = 0; f < cfg->n_rule_files; f++) {
        const struct cg_rule_file_conf *file = &cfg->rule_files[f];
        for (size_t r = 0; r < file->n_rules; r++, i++) {
            const struct cg_rule_conf *rc = &file->rules[r];
            int rc2 = rc->full_name ? cg_state_add(p->state, (uint32_t)i,
                                                   rc->full_name, rc, d)
                                    : CG_OK;
            if (rc2 == CG_ENOMEM)
                return rc2;
            if (rc2 != CG_OK)
                result = rc2;
            struct rule_rt *rt = p->rule_rt && i < cg_ruleset_count(p->rules)
                                     ? &p->rule_rt[i]
                                     : NULL;
            if (rt && (rt->state = cg_state_rule(p->state, (uint32_t)i)) &&
                cg_state_rule_kind(rt->state) == CG_STATE_WINDOW &&
                window_rt(p, rt, rc) != CG_OK)
                return CG_ENOMEM;
        }
    }
    return result;
}

void stateful__free(struct cg_pipeline *p)
{
    size_t n = p->rules ? cg_ruleset_count(p->rules) : 0;
    for (size_t i = 0; p->rule_rt && i < n; i++) {
        struct rule_rt *rt = &p->rule_rt[i];
        for (size_t t = 0; t < rt->n_win_taints; t++)
            taint__free(&rt->win_taints[t]);
        CG_FREE(rt->win_taints);
        CG_FREE(rt->vendors);
        rt->state = NULL;
    }
    cg_state_free(p->state);
    p->state = NULL;
}

/* ---- timer events ----------------------------------------------------------
 */

struct timer_run {
    struct cg_pipeline *p;
    const struct cg_emit *emit;
    bool reset; /* the arena is the timers' own: reset after each event */
    int deliveries;
};

static uint64_t timer_hash(const struct cg_pipeline *p, const struct cg_rule *r,
                           const struct cg_state_event *e)
{
    const char *id = p->cfg->gateway.id;
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)((uint64_t)e->time >> (8 * i));
    uint64_t h = cg_hash64(CG_HASH_SEED, id, strlen(id) + 1);
    h = cg_hash64(h, r->full_name, strlen(r->full_name) + 1);
    h = cg_hash64(h, e->key, strlen(e->key) + 1);
    return cg_hash64(h, t, sizeof(t));
}

/* Where a timer event comes from: an alert's last message (vendor,
 * device, topic), or a window's group (no device, no topic; the vendor
 * and network its messages share, else "mixed"). */
static void source(const struct cg_pipeline *p, const struct cg_state_event *e,
                   struct msg_ctx *mc)
{
    const struct cg_config *cfg = p->cfg;
    if (e->vendor < p->n_vendors)
        mc->vendor = &p->vendors[e->vendor];
    mc->vendor_name = "mixed";
    mc->network_name = e->network < cfg->n_networks
                           ? cfg->networks[e->network].name
                       : e->network == CG_STATE_MIXED ? "mixed"
                                                      : NULL;
    mc->device = e->kind == CG_EVENT_WINDOW ? NULL : e->key;
    mc->group_key = e->key;
    mc->eval.vendor = mc->vendor ? mc->vendor->conf->name.s : NULL;
    mc->eval.network = mc->vendor ? mc->vendor->network : NULL;
    mc->eval.device = mc->device;
}

/* A window's severity: the rule's expression over the group's data. */
static int window_severity(const struct cg_rule *r, struct msg_ctx *mc,
                           const struct cg_value *data)
{
    struct cg_value v;
    if (!r->severity)
        return r->severity_const;
    mc->eval.record = data;
    cg_expr_eval(r->severity, &mc->eval, &v);
    return cg_severity_parse(&v);
}

static int route_timer(void *user, const struct cg_state_event *e)
{
    struct timer_run *t = user;
    struct cg_pipeline *p = t->p;
    const struct cg_rule *r = cg_ruleset_rule(p->rules, e->rule);
    struct rule_rt *rt = &p->rule_rt[e->rule];
    double time = (double)e->time / 1000.0;
    struct cg_message m = {e->topic ? e->topic : "", e->topic_len,
                           (const uint8_t *)"", 0, time};
    struct msg_ctx mc = {.m = &m, .time = time};
    mc.eval = (struct cg_eval_ctx){
        .now = time, .time = time, .arena = p->arena, .domain = r->domain};
    source(p, e, &mc);
    if (!mc.vendor && e->kind != CG_EVENT_WINDOW)
        return 0; /* an alert without its vendor cannot be routed safely */
    mc.hash = timer_hash(p, r, e);
    cg_time_format(time, mc.received);
    memcpy(mc.time_text, mc.received, sizeof(mc.time_text));
    bool is_window = e->kind == CG_EVENT_WINDOW;
    struct fired f = {
        .rule = r,
        .rt = rt,
        .severity = e->severity,
        .data = e->data,
        .taints = is_window     ? rt->win_taints
                  : r->has_data ? rt->taints
                                : NULL,
        .n_taints = is_window ? rt->n_win_taints : r->n_data,
        .no_citizens = !e->citizens,
        .resolved = e->kind == CG_EVENT_STALE,
        .has_ref = e->has_ref,
        .ref = e->ref,
    };
    if (f.severity < 0)
        f.severity = window_severity(r, &mc, &e->data);
    int n = route__event(p, &mc, &f, t->emit);
    if (t->reset)
        cg_arena_reset(p->arena);
    if (n > 0)
        t->deliveries += n;
    return n;
}

/* ---- messages --------------------------------------------------------------
 */

static int gate(struct cg_pipeline *p, struct msg_ctx *mc,
                const struct cg_rule *r, struct cg_state_rule *sr,
                const struct cg_emit *emit)
{
    struct fired f;
    struct cg_state_step st = {0};
    int64_t now = ms_of(mc->m->received);
    if (match__event(p, mc, r, &f) != CG_OK)
        return CG_ENOMEM;
    struct cg_value data = f.data;
    int rc = cg_state_gate(sr, mc->device, now, &data, &st);
    if (rc != CG_STATE_SEND)
        return rc < 0 ? rc : 0;
    struct cg_member x = extra("suppressed", cg_value_int(st.suppressed));
    if (st.suppressed &&
        cg_state_data_extend(p->arena, &data, &x, 1, &f.data) != CG_OK)
        return CG_ENOMEM;
    int n = route__event(p, mc, &f, emit);
    if (n >= 0)
        cg_state_gate_sent(sr, &st, now, &data);
    return n;
}

/* The firing event carries active_since; the resolved one resolved: true
 * and active_since, with severity info (SPEC §13). */
static int alert_event(struct cg_pipeline *p, struct fired *f, int action,
                       int64_t since)
{
    struct cg_member x[2];
    size_t n = 0;
    char *text = cg_arena_alloc(p->arena, 32);
    if (!text)
        return CG_ENOMEM;
    cg_time_format((double)since / 1000.0, text);
    if (action == CG_ALERT_RESOLVE) {
        x[n++] = extra("resolved", cg_value_bool(true));
        f->severity = CG_SEV_INFO;
    }
    x[n++] = extra("active_since", cg_value_str(text, strlen(text)));
    return cg_state_data_extend(p->arena, &f->data, x, n, &f->data);
}

static int alert(struct cg_pipeline *p, struct msg_ctx *mc,
                 const struct cg_rule *r, struct cg_state_rule *sr, bool holds,
                 const struct cg_emit *emit)
{
    struct cg_state_step st = {0};
    int64_t now = ms_of(mc->m->received);
    int action = cg_state_alert(sr, mc->device, now, holds, &st);
    if (action <= 0)
        return action; /* nothing to send, or CG_ENOMEM */
    struct fired f;
    if (match__event(p, mc, r, &f) != CG_OK)
        return CG_ENOMEM;
    struct cg_value data = f.data;
    int severity = f.severity, n = 0;
    if (action == CG_ALERT_RESOLVE) {
        f.resolved = true;
        f.has_ref = cg_state_alert_ref(&st, &f.ref);
    }
    if (action != CG_ALERT_KEEP) {
        if (alert_event(p, &f, action, st.active_since) != CG_OK)
            return CG_ENOMEM;
        if ((n = route__event(p, mc, &f, emit)) < 0)
            return n;
    }
    cg_state_alert_commit(sr, &st, action, now, &data, severity,
                          (uint32_t)(mc->vendor - p->vendors), mc->m->topic,
                          mc->m->topic_len);
    if (action == CG_ALERT_FIRE) /* the alert a Cancel will reference */
        cg_state_alert_fired(&st, mc->hash, (int64_t)(mc->time * 1000.0),
                             severity);
    return n;
}

/* A window's end passes with the first message after it, if its timer
 * has not run yet: the window goes out before a new one opens. */
static int window(struct cg_pipeline *p, struct msg_ctx *mc,
                  struct cg_state_rule *sr, const struct cg_emit *emit)
{
    int64_t now = ms_of(mc->m->received);
    struct timer_run t = {p, emit, false, 0};
    struct cg_state_ctx c = {p->arena, route_timer, &t};
    int rc = cg_state_run_rule(sr, now, &c);
    if (rc != CG_OK)
        return rc;
    int network = mc->vendor->conf->network_index;
    rc = cg_state_window_add(sr, &mc->eval, now,
                             (uint32_t)(mc->vendor - p->vendors),
                             network >= 0 ? (uint32_t)network : CG_STATE_NONE);
    return rc != CG_OK ? rc : t.deliveries;
}

int stateful__message(struct cg_pipeline *p, struct msg_ctx *mc,
                      const struct cg_rule *r, bool holds,
                      const struct cg_emit *emit)
{
    struct cg_state_rule *sr = p->rule_rt[r->index].state;
    switch (cg_state_rule_kind(sr)) {
    case CG_STATE_GATE:
        return holds ? gate(p, mc, r, sr, emit) : 0;
    case CG_STATE_ALERT:
        return alert(p, mc, r, sr, holds, emit);
    default:
        return holds ? window(p, mc, sr, emit) : 0;
    }
}

/* ---- the pipeline's state API (pipeline.h) ---------------------------------
 */

int cg_pipeline_timers(struct cg_pipeline *p, double now,
                       const struct cg_emit *emit, double *next)
{
    struct timer_run t = {p, emit, true, 0};
    struct cg_state_ctx c = {p->arena, route_timer, &t};
    cg_arena_reset(p->arena);
    int rc = cg_state_run(p->state, ms_of(now), &c);
    int64_t due = cg_state_next_due(p->state);
    if (next)
        *next = due ? (double)due / 1000.0 : 0;
    return rc < 0 ? rc : t.deliveries;
}

/* Vendor and network names in index order (freed with free_names). */
static int names_of(const struct cg_pipeline *p, struct cg_state_names *n)
{
    const struct cg_config *cfg = p->cfg;
    const char **v = cg_calloc(p->n_vendors + 1, sizeof(*v));
    const char **w = cg_calloc(cfg->n_networks + 1, sizeof(*w));
    if (!v || !w) {
        cg_free(v);
        cg_free(w);
        return CG_ENOMEM;
    }
    for (size_t i = 0; i < p->n_vendors; i++)
        v[i] = p->vendors[i].conf->name.s;
    for (size_t i = 0; i < cfg->n_networks; i++)
        w[i] = cfg->networks[i].name;
    *n = (struct cg_state_names){v, p->n_vendors, w, cfg->n_networks};
    return CG_OK;
}

static void free_names(struct cg_state_names *n)
{
    cg_free((void *)n->vendors);
    cg_free((void *)n->networks);
}

int cg_pipeline_state_save(const struct cg_pipeline *p, double now,
                           struct cg_buf *out)
{
    struct cg_state_names n;
    if (names_of(p, &n) != CG_OK)
        return CG_ENOMEM;
    int rc = cg_state_save(p->state, ms_of(now), p->cfg->gateway.id, &n, out);
    free_names(&n);
    return rc;
}

int cg_pipeline_state_restore(struct cg_pipeline *p, const char *text,
                              size_t len, double now,
                              const struct cg_emit *emit,
                              struct cg_state_restored *out, char *err,
                              size_t errlen)
{
    struct cg_state_names n;
    struct timer_run t = {p, emit, true, 0};
    struct cg_state_ctx c = {p->arena, route_timer, &t};
    if (names_of(p, &n) != CG_OK)
        return CG_ENOMEM;
    cg_arena_reset(p->arena);
    int rc = cg_state_load(p->state, text, len, ms_of(now), &n, &c, out, err,
                           errlen);
    free_names(&n);
    return rc;
}

int cg_pipeline_state_handover(struct cg_pipeline *next,
                               struct cg_pipeline *old, double now,
                               const struct cg_emit *emit)
{
    struct cg_state_names nn, on;
    if (names_of(next, &nn) != CG_OK)
        return CG_ENOMEM;
    if (names_of(old, &on) != CG_OK) {
        free_names(&nn);
        return CG_ENOMEM;
    }
    cg_state_adopt(next->state, old->state, &nn, &on);
    free_names(&nn);
    free_names(&on);
    struct timer_run t = {old, emit, true, 0};
    struct cg_state_ctx c = {old->arena, route_timer, &t};
    cg_arena_reset(old->arena);
    return cg_state_flush(old->state, ms_of(now), &c);
}

void cg_pipeline_state_reset(struct cg_pipeline *p)
{
    cg_state_reset(p->state);
}

uint64_t cg_pipeline_state_version(const struct cg_pipeline *p)
{
    return cg_state_version(p->state);
}

size_t cg_pipeline_state_stats(const struct cg_pipeline *p, size_t i,
                               const char **name, struct cg_state_stats *s)
{
    size_t n = cg_ruleset_count(p->rules);
    if (i >= n)
        return n;
    const struct cg_state_rule *sr = p->rule_rt[i].state;
    *name = sr ? cg_ruleset_rule(p->rules, i)->full_name : NULL;
    if (sr)
        cg_state_rule_stats(sr, s);
    return n;
}
