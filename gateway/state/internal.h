/*
 * State internals: the key table every stateful rule keeps (a hash table
 * with a least-recently-used list threaded through it), the three kinds of
 * key, and the compiled stateful keys of a rule. Shared by the files of
 * gateway/state/ only.
 *
 * Memory: a key is one allocation, its kind's struct followed by its text;
 * a gate key adds the packed on_change values of its last event, an alert
 * key that fires its last data and topic, a window group its
 * accumulators. Nothing is allocated per rule up front beyond the table's
 * slots, which grow with the keys.
 */
#ifndef CG_STATE_INTERNAL_H
#define CG_STATE_INTERNAL_H

#include <stdatomic.h>

#include "state.h"

#define NEVER INT64_MIN /* a time that has not happened */

/* ---- the key table (keys.c) ------------------------------------------------
 */

struct skey {
    struct skey *hnext;         /* hash chain */
    struct skey *newer, *older; /* the LRU list */
    uint64_t hash;
    int64_t touched; /* the key's last message */
    uint32_t len;    /* of the text, which follows the kind's struct */
};

struct keytab {
    struct skey **slots;
    size_t cap; /* a power of two, 0 before the first key */
    size_t n;
    size_t entry_size; /* the kind's struct: where the text starts */
    struct skey *newest, *oldest;
};

static inline const char *skey_text(const struct keytab *t,
                                    const struct skey *k)
{
    return (const char *)k + t->entry_size;
}

void keytab__init(struct keytab *t, size_t entry_size);
uint64_t keytab__hash(const char *key, size_t len);
struct skey *keytab__find(const struct keytab *t, const char *key, size_t len,
                          uint64_t hash);
/* A new zeroed key with its text, the newest; NULL when out of memory. */
struct skey *keytab__add(struct keytab *t, const char *key, size_t len,
                         uint64_t hash, int64_t now);
/* Takes k out of the table (the caller frees it). */
void keytab__unlink(struct keytab *t, struct skey *k);
/* k had a message at now: it becomes the newest. */
void keytab__touch(struct keytab *t, struct skey *k, int64_t now);
void keytab__free_slots(struct keytab *t);

/* ---- kinds of key
 * ------------------------------------------------------------
 */

struct gate_key {
    struct skey k;
    int64_t last_sent;     /* NEVER before the first */
    struct cg_value *last; /* on_change values sent last (a packed list) */
    uint32_t suppressed;
};

struct alert_key {
    struct skey k;
    struct alert_key *fnext, *fprev; /* the firing list, by next_repeat */
    int64_t active_since, last_hold, next_repeat;
    struct cg_value *data; /* firing: the last message's data (packed) */
    char *topic;           /* firing: the last message's topic */
    uint32_t vendor;
    uint8_t firing, severity;
    /* The firing event, for the CAP Cancel that references it (SPEC
     * §15): its severity (CAP took it only above info), its source
     * message's hash (event ids derive from it) and its time in ms. */
    uint8_t fire_severity;
    uint64_t fire_hash;
    int64_t fire_time;
};

struct group_key {
    struct skey k;
    struct cg_value *values;  /* the group_by values (a packed list) */
    uint32_t vendor, network; /* CG_STATE_MIXED once messages differ */
    uint32_t messages;
    struct cg_agg_acc devices; /* distinct devices, for min_count */
    struct cg_agg_acc acc[];   /* one per aggregate slot */
};

/* ---- a stateful rule (rule.c)
 * ------------------------------------------------
 */

struct on_change {
    char *name;
    double threshold;
};

struct window_def {
    int64_t every;
    struct cg_expr **group; /* group_by, as expressions */
    char **group_names;
    size_t n_group;
    struct cg_expr **fields; /* aggregate: window expressions */
    char **field_names;
    size_t n_fields;
    size_t *first_slot; /* per field: its first slot in acc */
    struct cg_agg *slots;
    size_t n_slots;
    struct cg_expr *having;
    int min_count;
};

struct cg_state_rule {
    int kind; /* enum cg_state_kind */
    uint32_t index;
    char *name, *domain;
    uint64_t def; /* definition hash */
    size_t max_keys;
    struct keytab tab;
    uint64_t changes;
    /* gate */
    int64_t throttle; /* 0: none */
    struct on_change *oc;
    size_t n_oc;
    /* alert */
    int64_t hold, keep, repeat, stale;
    struct alert_key *first, *last; /* the firing list (with repeat) */
    /* window */
    struct window_def win;
    int64_t win_start, win_end; /* the open window, when tab.n > 0 */
    struct cg_buf scratch;      /* a group's key text */
    /* counters (atomics: /metrics reads them from another thread) */
    _Atomic uint64_t n_keys, evicted, suppressed[CG_WHY_N];
};

struct cg_state {
    struct cg_state_rule **rules; /* by pipeline rule index; NULL stateless */
    size_t n;
};

/* A new key at the head of r's table, evicting the least recently used one
 * when the table is full; NULL when out of memory. */
struct skey *rule__insert(struct cg_state_rule *r, const char *key, size_t len,
                          uint64_t hash, int64_t now);
/* Takes k out of r's table and frees it. */
void rule__remove(struct cg_state_rule *r, struct skey *k);
/* Frees what a key holds besides itself. */
void rule__key_release(struct cg_state_rule *r, struct skey *k);
void rule__count_keys(struct cg_state_rule *r);
int rule__compile_window(struct cg_state_rule *r, const struct cg_rule_conf *rc,
                         struct cg_diags *d);
void rule__free_window(struct window_def *w);
uint64_t rule__def_hash(const char *full_name, const struct cg_rule_conf *rc);

/* ---- per kind
 * ------------------------------------------------------------------
 */

/* alert.c: the firing list, and the alert's due timers. */
void alert__link_firing(struct cg_state_rule *r, struct alert_key *k);
void alert__unlink_firing(struct cg_state_rule *r, struct alert_key *k);
int alert__run(struct cg_state_rule *r, int64_t now,
               const struct cg_state_ctx *c);
int64_t alert__next(const struct cg_state_rule *r);

/* window.c: one group's event, and the window's end. */
int window__emit(struct cg_state_rule *r, struct group_key *g, int64_t time,
                 bool partial, const struct cg_state_ctx *c);
int window__run(struct cg_state_rule *r, int64_t now,
                const struct cg_state_ctx *c);
/* Emits every group with partial: true at time and forgets them. */
int window__flush(struct cg_state_rule *r, int64_t time,
                  const struct cg_state_ctx *c);
void window__init_group(struct cg_state_rule *r, struct group_key *g);

/* pack.c: deep copies of values in one heap block (freed with cg_free). */
struct cg_value *pack__value(const struct cg_value *v);
struct cg_value *pack__list(const struct cg_value *items, size_t n);

/* An RFC 3339 text of ms in arena, or NULL. */
const char *state__time_text(struct cg_arena *a, int64_t ms);

#endif
