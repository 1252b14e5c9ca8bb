/*
 * Keyed state of stateful rules (SPEC §13): per rule and key, what
 * throttle and on_change (a gate), for (an alert) and window remember;
 * the timers that state plans; bounded memory (max_keys, least recently
 * used keys evicted first); the hand-over of state across a reload; and
 * the snapshot that carries it across a restart.
 *
 * The state decides and the pipeline acts: a message step says whether
 * an event goes out (and with which extra data), the pipeline routes it
 * and then commits the step, so a message whose events could not be
 * spooled (and which the broker will offer again) leaves the state as it
 * found it. Timers hand their events to a callback in the same way; a
 * timer whose callback fails stays due.
 *
 * Keys are the device id (gate, alert) or the group_by values (window).
 * Times are epoch milliseconds of the gateway's clock when a message was
 * received (processing time, not device time).
 *
 * Threads: a struct cg_state belongs to one pipeline generation and is
 * used by one thread at a time (the gateway holds its pipeline lock). The
 * counters behind cg_state_rule_stats are atomics that any thread may
 * read.
 */
#ifndef CG_STATE_H
#define CG_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "config.h"
#include "rules.h"

struct cg_state;
struct cg_state_rule;

enum cg_state_kind {
    CG_STATE_GATE = 1, /* throttle and/or on_change */
    CG_STATE_ALERT,    /* for, keep_firing_for, repeat, stale_after */
    CG_STATE_WINDOW    /* window */
};

/* Why an event was held back (the `why` label of the metrics). */
enum cg_state_why {
    CG_WHY_THROTTLE = 0,
    CG_WHY_ON_CHANGE,
    CG_WHY_MIN_COUNT,
    CG_WHY_N
};
const char *cg_state_why_name(int why);

/* A vendor or network index that is not one: several (a window group's
 * messages disagree) or none. */
#define CG_STATE_MIXED UINT32_MAX
#define CG_STATE_NONE  (UINT32_MAX - 1)

/* ---- building ------------------------------------------------------------ */

/* The state of a pipeline of n_rules rules, all stateless until added.
 * NULL when out of memory. */
struct cg_state *cg_state_new(size_t n_rules);
void cg_state_free(struct cg_state *s);

/* Makes rule `index` (the pipeline's rule index) stateful as rc says;
 * a rule without stateful keys is left alone. Compiles a window's
 * group_by, aggregate and having expressions, reporting each problem to d
 * at its file, line and column. The rule's definition hash (everything
 * but its description and tests) decides what a reload or a restart
 * keeps. Returns CG_OK, CG_EINVAL (see d) or CG_ENOMEM. rc is borrowed
 * only for the call. */
int cg_state_add(struct cg_state *s, uint32_t index, const char *full_name,
                 const struct cg_rule_conf *rc, struct cg_diags *d);
/* Rule index's state, or NULL for a stateless rule. */
struct cg_state_rule *cg_state_rule(const struct cg_state *s, uint32_t index);
int cg_state_rule_kind(const struct cg_state_rule *r);
/* A window rule's compiled group_by and aggregate expressions (for the
 * privacy taint of each data field), in data order. */
void cg_state_window_exprs(const struct cg_state_rule *r,
                           struct cg_expr *const **group, size_t *n_group,
                           struct cg_expr *const **fields, size_t *n_fields);

/* ---- messages -------------------------------------------------------------
 */

/* What a message step found; valid until the rule's state next changes
 * (the commit that follows, in practice). */
struct cg_state_step {
    void *entry;
    uint32_t suppressed;  /* gate: held back since the last sent event */
    int64_t active_since; /* alert */
};

#define CG_STATE_HOLD 0 /* nothing goes out */
#define CG_STATE_SEND 1 /* route the event, then commit */

/* A firing message of a gate rule, with its evaluated data (an object,
 * read for on_change). Returns CG_STATE_SEND (then call
 * cg_state_gate_sent once the event is routed; st->suppressed is the
 * count to report), CG_STATE_HOLD (held back and counted) or CG_ENOMEM. */
int cg_state_gate(struct cg_state_rule *r, const char *key, int64_t now,
                  const struct cg_value *data, struct cg_state_step *st);
void cg_state_gate_sent(struct cg_state_rule *r, struct cg_state_step *st,
                        int64_t now, const struct cg_value *data);

/* What an alert step asks of the pipeline. */
enum cg_alert_action {
    CG_ALERT_NONE = 0, /* nothing: pending, or back to inactive */
    CG_ALERT_FIRE,     /* send the firing event, then commit */
    CG_ALERT_KEEP,     /* firing, nothing to send: commit the data */
    CG_ALERT_RESOLVE   /* send the resolved event, then commit */
};

/* A message of an alert rule's key; holds: its `when` held. Returns an
 * enum cg_alert_action (st->active_since set for every action but NONE)
 * or CG_ENOMEM. */
int cg_state_alert(struct cg_state_rule *r, const char *key, int64_t now,
                   bool holds, struct cg_state_step *st);
/* Records what the pipeline did for action: FIRE and KEEP keep this
 * message's data, severity and source (vendor index, topic) for repeats
 * and a stale resolution; RESOLVE forgets the key. */
void cg_state_alert_commit(struct cg_state_rule *r, struct cg_state_step *st,
                           int action, int64_t now, const struct cg_value *data,
                           int severity, uint32_t vendor, const char *topic,
                           size_t topic_len);

/* The firing event a resolution references (CAP's Cancel, SPEC §15). */
struct cg_state_ref {
    uint64_t hash; /* its source message's hash: event ids derive from it */
    int64_t time;  /* ms */
    int severity;  /* enum cg_severity: CAP took it only above info */
};

/* After the commit of CG_ALERT_FIRE: the firing event's source hash, time
 * (ms) and severity, kept (and saved) for the resolution to reference. */
void cg_state_alert_fired(struct cg_state_step *st, uint64_t hash, int64_t time,
                          int severity);
/* Before the commit of CG_ALERT_RESOLVE: what cg_state_alert_fired kept.
 * False when nothing was kept (an alert restored from an older save). */
bool cg_state_alert_ref(const struct cg_state_step *st,
                        struct cg_state_ref *ref);

/* A message entering a window rule (its `when` held): evaluates the
 * group_by values and the aggregates' arguments against ctx and adds them
 * to the key's group of the window containing now. Run the rule's due
 * timers first (cg_state_run_rule), so that a window past its end is
 * emitted before a new one opens. vendor and network: the message's
 * indexes (CG_STATE_NONE: none). Returns CG_OK or CG_ENOMEM. */
int cg_state_window_add(struct cg_state_rule *r, const struct cg_eval_ctx *ctx,
                        int64_t now, uint32_t vendor, uint32_t network);

/* ---- timers ---------------------------------------------------------------
 */

enum cg_state_event_kind {
    CG_EVENT_REPEAT = 1, /* an alert's firing event again */
    CG_EVENT_STALE,      /* an alert resolved because its key fell silent */
    CG_EVENT_WINDOW      /* a window's group at its end (or partial) */
};

/* One event a timer (or a reload or restart) produces. Everything is
 * valid only during the callback. */
struct cg_state_event {
    uint32_t rule; /* the pipeline's rule index */
    int kind;      /* enum cg_state_event_kind */
    const char *key;
    int64_t time;         /* the timer's time: the event's time */
    int severity;         /* enum cg_severity; -1: the rule's, over data */
    struct cg_value data; /* the event's data, extra members included */
    uint32_t vendor;      /* index, CG_STATE_MIXED or CG_STATE_NONE */
    uint32_t network;     /* windows only; alerts: the vendor's */
    const char *topic;    /* alerts: the last message's; windows: NULL */
    size_t topic_len;
    bool citizens; /* false: below min_count, not for citizen consumers */
    /* A stale resolution: the firing event it resolves (see
     * cg_state_alert_fired); has_ref false when none was kept. */
    bool has_ref;
    struct cg_state_ref ref;
};

/* Returns 0 or more once the event is safe, or a negative CG_E*. */
typedef int (*cg_state_emit_fn)(void *user, const struct cg_state_event *e);

struct cg_state_ctx {
    struct cg_arena *arena; /* where events' data is built */
    cg_state_emit_fn emit;
    void *user;
};

/* Runs every timer due at or before now (window ends, repeats, stale
 * keys), each rule's in time order. Returns CG_OK, or the first error of
 * the callback (that timer stays due) or CG_ENOMEM. */
int cg_state_run(struct cg_state *s, int64_t now, const struct cg_state_ctx *c);
int cg_state_run_rule(struct cg_state_rule *r, int64_t now,
                      const struct cg_state_ctx *c);
/* The earliest time a timer is due, or 0 when none is planned. */
int64_t cg_state_next_due(const struct cg_state *s);

/* The bounds [*start, *end) of the `every`-long window that holds t,
 * aligned to the local clock (TZ; rules.h): windows start where the local
 * time of day is a multiple of every, so an hourly window runs hh:00 to
 * hh+1:00 and a daily one from local midnight to local midnight (23 or 25
 * hours across a daylight saving change). When the clock is set back,
 * the repeated stretch is a window of its own once the clock returns to
 * the window's start (two hourly windows read 02:00 to 03:00). every must
 * divide a day. */
void cg_state_window_bounds(int64_t t, int64_t every, int64_t *start,
                            int64_t *end);

/* ---- reload and restart ---------------------------------------------------
 */

/* Vendors and networks by name, in the pipeline's index order: state
 * keeps indexes, snapshots and reloads map them by name. */
struct cg_state_names {
    const char *const *vendors;
    size_t n_vendors;
    const char *const *networks;
    size_t n_networks;
};

/* Moves into s the keys of every rule of old whose full name, kind and
 * definition hash are those of a rule of s (a reload keeps the state of
 * unchanged rules), with vendor and network indexes mapped by name; a key
 * whose vendor is gone is dropped. Counters carry over by rule name. What
 * old keeps afterwards belongs to rules that changed or went away: emit
 * its open windows with cg_state_flush before freeing it. */
void cg_state_adopt(struct cg_state *s, struct cg_state *old,
                    const struct cg_state_names *names,
                    const struct cg_state_names *old_names);
/* Emits every open window of s with data.partial: true at time now, and
 * forgets them. Returns CG_OK or the callback's first error. */
int cg_state_flush(struct cg_state *s, int64_t now,
                   const struct cg_state_ctx *c);

/* Appends a snapshot of s to out: JSON lines, a header with `saved`
 * (now), one line per stateful rule and one per key (oldest first), and a
 * trailer with the line count and a check hash of everything before it.
 * Returns CG_OK or CG_ENOMEM. */
int cg_state_save(const struct cg_state *s, int64_t now, const char *gateway,
                  const struct cg_state_names *names, struct cg_buf *out);

/* What a restore found. */
struct cg_state_restored {
    size_t rules, keys;  /* restored */
    size_t rules_gone;   /* rules of the snapshot left out: changed, gone */
    size_t windows_late; /* windows emitted as partial */
    int64_t outage;      /* ms added to every state time */
};

/* Restores a snapshot that cg_state_save wrote, into rules with the same
 * full name, kind and definition hash. Downtime counts toward no timer:
 * every state time moves forward by now - saved (a firing alert stays
 * firing). A window that ended before now is emitted through c with
 * data.partial: true. Returns CG_OK, CG_EINVAL when the text is torn or
 * garbled (err says how; s is left empty) or CG_ENOMEM. */
int cg_state_load(struct cg_state *s, const char *text, size_t len, int64_t now,
                  const struct cg_state_names *names,
                  const struct cg_state_ctx *c, struct cg_state_restored *out,
                  char *err, size_t errlen);

/* Snapshot files under dir: `state.jsonl` and the one before it,
 * `state.jsonl.prev`. Writing goes to a temporary file that is synced
 * and then renamed into place (the current one becoming the previous
 * one), so a crash at any moment leaves a whole snapshot on disk. Returns
 * CG_OK, or CG_EIO/CG_ENOSPC with err naming the step that failed. */
int cg_state_file_write(const char *dir, const char *data, size_t len,
                        char *err, size_t errlen);
/* Reads the current snapshot (prev false) or the previous one into out
 * (reset first). Returns CG_OK, CG_ENOENT (no such file), CG_EIO or
 * CG_ENOMEM. */
int cg_state_file_read(const char *dir, bool prev, struct cg_buf *out,
                       char *err, size_t errlen);

/* ---- counters -------------------------------------------------------------
 */

struct cg_state_stats {
    uint64_t keys;                 /* held now */
    uint64_t evicted;              /* least recently used keys dropped */
    uint64_t suppressed[CG_WHY_N]; /* by enum cg_state_why */
};
void cg_state_rule_stats(const struct cg_state_rule *r,
                         struct cg_state_stats *out);
/* Grows with every change of state: a snapshot is due when it moved. */
uint64_t cg_state_version(const struct cg_state *s);
/* Forgets every key of every rule (each `citygate test` rule starts
 * afresh); counters stay. */
void cg_state_reset(struct cg_state *s);

/* data (an object, or null for none) with extra members after its own,
 * an extra replacing a member of the same name, as a new object in arena.
 * Returns CG_OK or CG_ENOMEM. */
int cg_state_data_extend(struct cg_arena *arena, const struct cg_value *data,
                         const struct cg_member *extra, size_t n_extra,
                         struct cg_value *out);

#endif
