/*
 * throttle and on_change (SPEC §13): a gate per device in front of a
 * rule's events. A firing message sends when its on_change values differ
 * enough from those of the key's last sent event (or it is the key's
 * first), and when throttle's interval has passed since that event;
 * otherwise it is held back and counted, and the next event sent carries
 * the count as data.suppressed.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* SPEC §13: a number changes by at least its threshold; anything else
 * changes when it is no longer == (null equals only null). */
static bool differs(const struct cg_value *was, const struct cg_value *now,
                    double threshold)
{
    if (cg_value_equal(was, now))
        return false;
    if (!cg_value_is_number(was) || !cg_value_is_number(now))
        return true;
    return fabs(cg_value_to_double(now) - cg_value_to_double(was)) >= threshold;
}

static const struct cg_value *field(const struct cg_value *data,
                                    const char *name)
{
    static const struct cg_value null = {.type = CG_NULL};
    const struct cg_value *v = cg_value_member(data, name, strlen(name));
    return v ? v : &null;
}

static bool changed(const struct cg_state_rule *r, const struct gate_key *k,
                    const struct cg_value *data)
{
    if (!k->last)
        return true; /* the key's first message always sends */
    for (size_t i = 0; i < r->n_oc; i++)
        if (differs(&k->last->as.items[i], field(data, r->oc[i].name),
                    r->oc[i].threshold))
            return true;
    return false;
}

static int hold(struct cg_state_rule *r, struct gate_key *k, int why)
{
    k->suppressed++;
    r->changes++;
    atomic_fetch_add_explicit(&r->suppressed[why], 1, memory_order_relaxed);
    return CG_STATE_HOLD;
}

int cg_state_gate(struct cg_state_rule *r, const char *key, int64_t now,
                  const struct cg_value *data, struct cg_state_step *st)
{
    size_t len = strlen(key);
    uint64_t h = keytab__hash(key, len);
    struct gate_key *k = (struct gate_key *)keytab__find(&r->tab, key, len, h);
    if (k) {
        keytab__touch(&r->tab, &k->k, now);
    } else {
        if (!(k = (struct gate_key *)rule__insert(r, key, len, h, now)))
            return CG_ENOMEM;
        k->last_sent = NEVER;
    }
    st->entry = k;
    if (r->n_oc && !changed(r, k, data))
        return hold(r, k, CG_WHY_ON_CHANGE);
    if (r->throttle && k->last_sent != NEVER &&
        now - k->last_sent < r->throttle)
        return hold(r, k, CG_WHY_THROTTLE);
    st->suppressed = k->suppressed;
    return CG_STATE_SEND;
}

/* Keeps the on_change values of the event just sent. Out of memory, the
 * key keeps the values it had: the next message compares with older ones,
 * which at worst sends once more. */
static void keep_values(struct cg_state_rule *r, struct gate_key *k,
                        const struct cg_value *data)
{
    struct cg_value *items = cg_malloc(r->n_oc * sizeof(*items));
    if (!items)
        return;
    for (size_t i = 0; i < r->n_oc; i++)
        items[i] = *field(data, r->oc[i].name);
    struct cg_value *packed = pack__list(items, r->n_oc);
    cg_free(items);
    if (!packed)
        return;
    cg_free(k->last);
    k->last = packed;
}

void cg_state_gate_sent(struct cg_state_rule *r, struct cg_state_step *st,
                        int64_t now, const struct cg_value *data)
{
    struct gate_key *k = st->entry;
    k->last_sent = now;
    k->suppressed = 0;
    if (r->n_oc)
        keep_values(r, k, data);
    r->changes++;
}
