/*
 * for (SPEC §13): alerts after Prometheus's `for`, driven by messages.
 *
 *   inactive --when holds--> pending (active_since = now)
 *   pending  --when fails--> inactive (the hold starts over)
 *   pending  --holds at or after active_since + for--> firing (event)
 *   firing   --when fails, keep_firing_for passed--> inactive (resolved)
 *
 * A firing key keeps its last message's data, severity and source, for
 * `repeat` (the firing event again from a timer) and for a stale
 * resolution: a key silent for stale_after is dropped when pending, and
 * resolved with data.stale: true when firing. Silence needs no timer per
 * key: the key table's oldest key is the one that fell silent first.
 * Repeats are a list of firing keys in next_repeat order.
 */
#include <string.h>

#include "internal.h"

int cg_state_alert(struct cg_state_rule *r, const char *key, int64_t now,
                   bool holds, struct cg_state_step *st)
{
    size_t len = strlen(key);
    uint64_t h = keytab__hash(key, len);
    struct alert_key *k =
        (struct alert_key *)keytab__find(&r->tab, key, len, h);
    if (k) {
        keytab__touch(&r->tab, &k->k, now);
        r->changes++;
    } else if (!holds) {
        return CG_ALERT_NONE;
    } else if ((k = (struct alert_key *)rule__insert(r, key, len, h, now))) {
        k->active_since = now;
        k->vendor = CG_STATE_NONE;
    } else {
        return CG_ENOMEM;
    }
    st->entry = k;
    st->active_since = k->active_since;
    if (!k->firing) {
        if (holds)
            return now - k->active_since >= r->hold ? CG_ALERT_FIRE
                                                    : CG_ALERT_NONE;
        rule__remove(r, &k->k);
        return CG_ALERT_NONE;
    }
    if (holds) {
        k->last_hold = now;
        return CG_ALERT_KEEP;
    }
    return r->keep && now - k->last_hold < r->keep ? CG_ALERT_KEEP
                                                   : CG_ALERT_RESOLVE;
}

/* The firing list stays in next_repeat order: a key goes in from the
 * back, where it almost always belongs. */
void alert__link_firing(struct cg_state_rule *r, struct alert_key *k)
{
    struct alert_key *after = r->last;
    while (after && after->next_repeat > k->next_repeat)
        after = after->fprev;
    k->fprev = after;
    k->fnext = after ? after->fnext : r->first;
    if (k->fnext)
        k->fnext->fprev = k;
    else
        r->last = k;
    if (after)
        after->fnext = k;
    else
        r->first = k;
}

void alert__unlink_firing(struct cg_state_rule *r, struct alert_key *k)
{
    if (!k->fprev && r->first != k)
        return; /* not in the list */
    if (k->fprev)
        k->fprev->fnext = k->fnext;
    else
        r->first = k->fnext;
    if (k->fnext)
        k->fnext->fprev = k->fprev;
    else
        r->last = k->fprev;
    k->fnext = k->fprev = NULL;
}

/* Keeps what a repeat or a stale resolution will send. Out of memory,
 * the key keeps what it had. */
static void keep(struct alert_key *k, const struct cg_value *data, int severity,
                 uint32_t vendor, const char *topic, size_t topic_len)
{
    struct cg_value *packed = data ? pack__value(data) : NULL;
    if (packed) {
        cg_free(k->data);
        k->data = packed;
    }
    k->severity = (uint8_t)severity;
    k->vendor = vendor;
    if (topic && (!k->topic || strlen(k->topic) != topic_len ||
                  memcmp(k->topic, topic, topic_len))) {
        char *copy = cg_strndup(topic, topic_len);
        if (copy) {
            cg_free(k->topic);
            k->topic = copy;
        }
    }
}

void cg_state_alert_commit(struct cg_state_rule *r, struct cg_state_step *st,
                           int action, int64_t now, const struct cg_value *data,
                           int severity, uint32_t vendor, const char *topic,
                           size_t topic_len)
{
    struct alert_key *k = st->entry;
    r->changes++;
    if (action == CG_ALERT_RESOLVE) {
        rule__remove(r, &k->k);
        return;
    }
    if (action == CG_ALERT_FIRE) {
        k->firing = 1;
        k->last_hold = now;
        if (r->repeat) {
            k->next_repeat = now + r->repeat;
            alert__link_firing(r, k);
        }
    }
    keep(k, data, severity, vendor, topic, topic_len);
}

void cg_state_alert_fired(struct cg_state_step *st, uint64_t hash, int64_t time,
                          int severity)
{
    struct alert_key *k = st->entry;
    k->fire_hash = hash;
    k->fire_time = time;
    k->fire_severity = (uint8_t)severity;
}

bool cg_state_alert_ref(const struct cg_state_step *st,
                        struct cg_state_ref *ref)
{
    const struct alert_key *k = st->entry;
    *ref = (struct cg_state_ref){k->fire_hash, k->fire_time, k->fire_severity};
    return k->fire_time != 0;
}

/* ---- timers ------------------------------------------------------------- */

static int emit(struct cg_state_rule *r, struct alert_key *k, int kind,
                int64_t time, const struct cg_state_ctx *c)
{
    static const struct cg_value empty = {.type = CG_OBJ};
    struct cg_member extra[3];
    size_t n = 0;
    const char *since = state__time_text(c->arena, k->active_since);
    if (!since)
        return CG_ENOMEM;
    if (kind == CG_EVENT_STALE)
        extra[n++] = (struct cg_member){"resolved", 8, cg_value_bool(true)};
    extra[n++] = (struct cg_member){"active_since", 12,
                                    cg_value_str(since, strlen(since))};
    if (kind == CG_EVENT_STALE)
        extra[n++] = (struct cg_member){"stale", 5, cg_value_bool(true)};
    struct cg_state_event e = {
        .rule = r->index,
        .kind = kind,
        .key = skey_text(&r->tab, &k->k),
        .time = time,
        .severity = kind == CG_EVENT_STALE ? CG_SEV_INFO : k->severity,
        .vendor = k->vendor,
        .network = CG_STATE_NONE,
        .topic = k->topic,
        .topic_len = k->topic ? strlen(k->topic) : 0,
        .citizens = true,
        .has_ref = kind == CG_EVENT_STALE && k->fire_time != 0,
        .ref = {k->fire_hash, k->fire_time, k->fire_severity},
    };
    if (cg_state_data_extend(c->arena, k->data ? k->data : &empty, extra, n,
                             &e.data) != CG_OK)
        return CG_ENOMEM;
    int rc = c->emit(c->user, &e);
    return rc < 0 ? rc : CG_OK;
}

static int64_t stale_at(const struct cg_state_rule *r)
{
    return r->tab.oldest ? r->tab.oldest->touched + r->stale : INT64_MAX;
}

static int64_t repeat_at(const struct cg_state_rule *r)
{
    return r->first ? r->first->next_repeat : INT64_MAX;
}

/* One repeat: the firing event again, then the key's next one. */
static int repeat_once(struct cg_state_rule *r, const struct cg_state_ctx *c)
{
    struct alert_key *k = r->first;
    int rc = emit(r, k, CG_EVENT_REPEAT, k->next_repeat, c);
    if (rc != CG_OK)
        return rc;
    alert__unlink_firing(r, k);
    k->next_repeat += r->repeat;
    alert__link_firing(r, k);
    r->changes++;
    return CG_OK;
}

/* The oldest key fell silent: dropped, and resolved when it fires. */
static int stale_once(struct cg_state_rule *r, const struct cg_state_ctx *c)
{
    struct alert_key *k = (struct alert_key *)r->tab.oldest;
    if (k->firing) {
        int rc = emit(r, k, CG_EVENT_STALE, stale_at(r), c);
        if (rc != CG_OK)
            return rc;
    }
    rule__remove(r, &k->k);
    return CG_OK;
}

int alert__run(struct cg_state_rule *r, int64_t now,
               const struct cg_state_ctx *c)
{
    for (;;) {
        int64_t stale = stale_at(r), repeat = repeat_at(r);
        if ((stale < repeat ? stale : repeat) > now)
            return CG_OK;
        int rc = repeat < stale ? repeat_once(r, c) : stale_once(r, c);
        if (rc != CG_OK)
            return rc;
    }
}

int64_t alert__next(const struct cg_state_rule *r)
{
    int64_t stale = stale_at(r), repeat = repeat_at(r);
    int64_t next = stale < repeat ? stale : repeat;
    return next == INT64_MAX ? 0 : next;
}
