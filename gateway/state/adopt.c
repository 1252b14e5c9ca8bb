/*
 * A reload keeps the state of every rule whose definition did not change
 * (SPEC §13): the new generation's rule takes over the old one's key
 * table as it is (same definition, same layout), and the vendor and
 * network indexes its keys hold are mapped by name to the new config's.
 */
#include <string.h>

#include "internal.h"

static uint32_t map_name(uint32_t i, const char *const *from, size_t n_from,
                         const char *const *to, size_t n_to)
{
    if (i >= n_from)
        return i; /* CG_STATE_MIXED, CG_STATE_NONE */
    for (size_t j = 0; j < n_to; j++)
        if (from[i] && to[j] && !strcmp(from[i], to[j]))
            return (uint32_t)j;
    return CG_STATE_NONE;
}

static struct cg_state_rule *find(const struct cg_state *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i] && !strcmp(s->rules[i]->name, name))
            return s->rules[i];
    return NULL;
}

static void take_counters(struct cg_state_rule *r,
                          const struct cg_state_rule *old)
{
    atomic_store(&r->evicted, atomic_load(&old->evicted));
    for (int w = 0; w < CG_WHY_N; w++)
        atomic_store(&r->suppressed[w], atomic_load(&old->suppressed[w]));
}

/* Maps each key's vendor and network; an alert key whose vendor is gone
 * cannot be routed (privacy needs its vendor) and is dropped. */
static void remap(struct cg_state_rule *r, const struct cg_state_names *to,
                  const struct cg_state_names *from)
{
    struct skey *k = r->tab.oldest, *newer;
    for (; k; k = newer) {
        newer = k->newer;
        if (r->kind == CG_STATE_ALERT) {
            struct alert_key *a = (struct alert_key *)k;
            a->vendor = map_name(a->vendor, from->vendors, from->n_vendors,
                                 to->vendors, to->n_vendors);
            if (a->firing && a->vendor == CG_STATE_NONE)
                rule__remove(r, k);
        } else if (r->kind == CG_STATE_WINDOW) {
            struct group_key *g = (struct group_key *)k;
            g->vendor = map_name(g->vendor, from->vendors, from->n_vendors,
                                 to->vendors, to->n_vendors);
            g->network = map_name(g->network, from->networks, from->n_networks,
                                  to->networks, to->n_networks);
        }
    }
}

static void take_keys(struct cg_state_rule *r, struct cg_state_rule *old)
{
    struct keytab t = r->tab;
    r->tab = old->tab;
    old->tab = t;
    r->first = old->first;
    r->last = old->last;
    old->first = old->last = NULL;
    r->win_start = old->win_start;
    r->win_end = old->win_end;
    rule__count_keys(r);
    rule__count_keys(old);
}

void cg_state_adopt(struct cg_state *s, struct cg_state *old,
                    const struct cg_state_names *names,
                    const struct cg_state_names *old_names)
{
    for (size_t i = 0; i < s->n; i++) {
        struct cg_state_rule *r = s->rules[i];
        struct cg_state_rule *o = r ? find(old, r->name) : NULL;
        if (!o)
            continue;
        take_counters(r, o);
        if (o->kind != r->kind || o->def != r->def || r->tab.n)
            continue;
        take_keys(r, o);
        remap(r, names, old_names);
    }
}
