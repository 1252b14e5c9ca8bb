/*
 * Stateful rules: built from a rule's config (its stateful keys and, for a
 * window, its compiled group_by, aggregate and having expressions), their
 * definition hash, their key tables with max_keys and least-recently-used
 * eviction, and their counters.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *cg_state_why_name(int why)
{
    static const char *const names[CG_WHY_N] = {"throttle", "on_change",
                                                "min_count"};
    return why >= 0 && why < CG_WHY_N ? names[why] : "unknown";
}

struct cg_state *cg_state_new(size_t n_rules)
{
    struct cg_state *s = cg_calloc(1, sizeof(*s));
    if (s && !(s->rules = cg_calloc(n_rules ? n_rules : 1, sizeof(void *))))
        CG_FREE(s);
    if (s)
        s->n = n_rules;
    return s;
}

static void clear_keys(struct cg_state_rule *r)
{
    while (r->tab.oldest)
        rule__remove(r, r->tab.oldest);
}

static void rule_free(struct cg_state_rule *r)
{
    if (!r)
        return;
    clear_keys(r);
    keytab__free_slots(&r->tab);
    for (size_t i = 0; i < r->n_oc; i++)
        cg_free(r->oc[i].name);
    cg_free(r->oc);
    rule__free_window(&r->win);
    cg_buf_free(&r->scratch);
    cg_free(r->name);
    cg_free(r->domain);
    cg_free(r);
}

void cg_state_free(struct cg_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        rule_free(s->rules[i]);
    cg_free(s->rules);
    cg_free(s);
}

struct cg_state_rule *cg_state_rule(const struct cg_state *s, uint32_t index)
{
    return s && index < s->n ? s->rules[index] : NULL;
}

int cg_state_rule_kind(const struct cg_state_rule *r)
{
    return r->kind;
}

static int kind_of(const struct cg_rule_state_conf *c)
{
    if (c->window)
        return CG_STATE_WINDOW;
    if (c->hold.set)
        return CG_STATE_ALERT;
    if (c->throttle.set || c->has_on_change)
        return CG_STATE_GATE;
    return 0;
}

static size_t entry_size(int kind)
{
    return kind == CG_STATE_GATE    ? sizeof(struct gate_key)
           : kind == CG_STATE_ALERT ? sizeof(struct alert_key)
                                    : sizeof(struct group_key);
}

static int copy_on_change(struct cg_state_rule *r,
                          const struct cg_rule_state_conf *c)
{
    if (!c->n_on_change)
        return CG_OK;
    if (!(r->oc = cg_calloc(c->n_on_change, sizeof(*r->oc))))
        return CG_ENOMEM;
    for (size_t i = 0; i < c->n_on_change; i++, r->n_oc++) {
        r->oc[i].threshold = c->on_change[i].threshold;
        if (!(r->oc[i].name = cg_strdup(c->on_change[i].field.s)))
            return CG_ENOMEM;
    }
    return CG_OK;
}

static int fill(struct cg_state_rule *r, const char *full_name,
                const struct cg_rule_conf *rc, struct cg_diags *d)
{
    const struct cg_rule_state_conf *c = &rc->state;
    r->name = cg_strdup(full_name);
    r->domain = cg_strdup(rc->domain);
    if (!r->name || !r->domain)
        return CG_ENOMEM;
    r->def = rule__def_hash(full_name, rc);
    r->max_keys = c->max_keys > 0 ? (size_t)c->max_keys : 100000;
    r->throttle = c->throttle.set ? c->throttle.ms : 0;
    r->hold = c->hold.ms;
    r->keep = c->keep_firing_for.set ? c->keep_firing_for.ms : 0;
    r->repeat = c->repeat.set ? c->repeat.ms : 0;
    r->stale = c->stale_after.ms;
    if (copy_on_change(r, c) != CG_OK)
        return CG_ENOMEM;
    if (r->kind != CG_STATE_WINDOW)
        return CG_OK;
    int rc2 = rule__compile_window(r, rc, d);
    r->tab.entry_size += r->win.n_slots * sizeof(struct cg_agg_acc);
    return rc2;
}

int cg_state_add(struct cg_state *s, uint32_t index, const char *full_name,
                 const struct cg_rule_conf *rc, struct cg_diags *d)
{
    int kind = kind_of(&rc->state);
    if (!kind)
        return CG_OK;
    struct cg_state_rule *r = cg_calloc(1, sizeof(*r));
    if (!r)
        return CG_ENOMEM;
    r->kind = kind;
    r->index = index;
    keytab__init(&r->tab, entry_size(kind));
    int rc2 = fill(r, full_name, rc, d);
    if (rc2 != CG_OK || index >= s->n || s->rules[index]) {
        rule_free(r);
        return rc2 != CG_OK ? rc2 : CG_EINVAL;
    }
    s->rules[index] = r;
    return CG_OK;
}

/* ---- keys ------------------------------------------------------------------
 */

void rule__count_keys(struct cg_state_rule *r)
{
    atomic_store_explicit(&r->n_keys, r->tab.n, memory_order_relaxed);
    r->changes++;
}

void rule__key_release(struct cg_state_rule *r, struct skey *k)
{
    if (r->kind == CG_STATE_GATE) {
        cg_free(((struct gate_key *)k)->last);
    } else if (r->kind == CG_STATE_ALERT) {
        struct alert_key *a = (struct alert_key *)k;
        alert__unlink_firing(r, a);
        cg_free(a->data);
        cg_free(a->topic);
    } else {
        struct group_key *g = (struct group_key *)k;
        cg_free(g->values);
        cg_agg_acc_reset(&g->devices);
        for (size_t i = 0; i < r->win.n_slots; i++)
            cg_agg_acc_reset(&g->acc[i]);
    }
}

void rule__remove(struct cg_state_rule *r, struct skey *k)
{
    keytab__unlink(&r->tab, k);
    rule__key_release(r, k);
    cg_free(k);
    rule__count_keys(r);
}

struct skey *rule__insert(struct cg_state_rule *r, const char *key, size_t len,
                          uint64_t hash, int64_t now)
{
    if (r->tab.n >= r->max_keys && r->tab.oldest) {
        rule__remove(r, r->tab.oldest);
        atomic_fetch_add_explicit(&r->evicted, 1, memory_order_relaxed);
    }
    struct skey *k = keytab__add(&r->tab, key, len, hash, now);
    if (k && r->kind == CG_STATE_WINDOW)
        window__init_group(r, (struct group_key *)k);
    if (k)
        rule__count_keys(r);
    return k;
}

void cg_state_reset(struct cg_state *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i])
            clear_keys(s->rules[i]);
}

/* ---- counters ------------------------------------------------------------ */

void cg_state_rule_stats(const struct cg_state_rule *r,
                         struct cg_state_stats *out)
{
    out->keys = atomic_load_explicit(&r->n_keys, memory_order_relaxed);
    out->evicted = atomic_load_explicit(&r->evicted, memory_order_relaxed);
    for (int i = 0; i < CG_WHY_N; i++)
        out->suppressed[i] =
            atomic_load_explicit(&r->suppressed[i], memory_order_relaxed);
}

uint64_t cg_state_version(const struct cg_state *s)
{
    uint64_t v = 0;
    for (size_t i = 0; s && i < s->n; i++)
        if (s->rules[i])
            v += s->rules[i]->changes;
    return v;
}

/* ---- the definition hash ------------------------------------------------- */

static uint64_t h_str(uint64_t h, const char *s)
{
    return s ? cg_hash64(h, s, strlen(s) + 1) : cg_hash64(h, "\x01", 1);
}

static uint64_t h_num(uint64_t h, int64_t n)
{
    return cg_hash64(h, &n, sizeof(n));
}

static uint64_t h_stateful(uint64_t h, const struct cg_rule_state_conf *c)
{
    const struct cg_duration_conf *d[] = {&c->throttle, &c->hold,
                                          &c->keep_firing_for, &c->repeat,
                                          &c->stale_after};
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        h = h_num(h_num(h, d[i]->set), d[i]->ms);
    for (size_t i = 0; i < c->n_on_change; i++)
        h = h_num(h_str(h, c->on_change[i].field.s),
                  (int64_t)(c->on_change[i].threshold * 1e6));
    h = h_num(h, c->max_keys);
    const struct cg_window_conf *w = c->window;
    if (!w)
        return h;
    h = h_num(h_num(h, w->every.ms), w->min_count);
    for (size_t i = 0; i < w->n_group_by; i++)
        h = h_str(h, w->group_by[i].text);
    for (size_t i = 0; i < w->n_aggregate; i++)
        h = h_str(h_str(h, w->aggregate[i].name.s), w->aggregate[i].expr.text);
    return h_str(h, w->having.text);
}

/* Everything that shapes the rule's events and state; not its
 * description or tests, which a reload may change freely. */
uint64_t rule__def_hash(const char *full_name, const struct cg_rule_conf *rc)
{
    uint64_t h = h_str(CG_HASH_SEED, full_name);
    h = h_str(h_str(h, rc->type.s), rc->match_topic.s);
    for (size_t i = 0; i < rc->n_match_vendors; i++)
        h = h_str(h, rc->match_vendors[i].s);
    h = h_str(h_str(h, rc->when.text), rc->severity.text);
    h = h_num(h, rc->has_data);
    for (size_t i = 0; i < rc->n_data; i++)
        h = h_str(h_str(h, rc->data[i].name.s), rc->data[i].expr.text);
    for (size_t i = 0; i < rc->n_to; i++)
        h = h_str(h, rc->to[i].s);
    return cg_hash_mix(h_stateful(h, &rc->state));
}
