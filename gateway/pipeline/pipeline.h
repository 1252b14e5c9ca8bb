/*
 * The pipeline of SPEC §1, from a message off the broker to the events
 * each consumer should receive:
 *
 *   ingest (ingest.c) → decode (decode.c) → normalize (normalize.c) →
 *   rules (match.c) → route (route.c, template.c)
 *
 * and the dead letters of messages that fail on the way (dead.c). A
 * pipeline is built once per loaded config (build_vendors.c,
 * build_rules.c) and then runs messages without allocating from the heap
 * in the common case: everything a message needs lives in the pipeline's
 * arena, reset per message. It does not deliver: it hands each event to
 * the caller's emit callbacks (the deliver stage, or `citygate eval` and
 * `test`), and reports what those callbacks answer.
 *
 * Threads: a pipeline is used by one thread at a time (it owns per-message
 * scratch memory). The counters behind the *_stats functions are atomics
 * that any thread may read.
 */
#ifndef CG_PIPELINE_H
#define CG_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "citygate_plugin.h"
#include "config.h"
#include "rules.h"
#include "state/state.h"

struct cg_plugin_reg;
struct cg_pipeline;

/* The dead-letter reasons of SPEC §1: one table of names (dead.c) for the
 * pipeline, the deliver stage and the metrics. */
enum cg_dead_reason {
    CG_DEAD_UNKNOWN_VENDOR = 0,
    CG_DEAD_TOO_LARGE,
    CG_DEAD_DECODE_ERROR,
    CG_DEAD_NO_DEVICE,
    CG_DEAD_UNDELIVERABLE,
    CG_DEAD_REJECTED,
    CG_DEAD_N_REASONS
};
/* "unknown_vendor", ...; "unknown" outside the enum. */
const char *cg_dead_reason_name(int reason);

/* One message as it came off the broker. */
struct cg_message {
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t len;
    double received; /* epoch seconds */
};

/* One event for one consumer. Everything is valid only during the
 * callback. */
struct cg_delivery {
    uint32_t consumer; /* index in config order */
    const char *consumer_name;
    const char *target; /* rendered topic, url, or file path */
    const struct cg_rule *rule;
    struct cg_event event; /* json, id, topic, severity, qos */
    /* With cg_pipeline_keep_envelopes: for a consumer whose format is not
     * `event`, the event as it sees it (SPEC §5, after privacy), which
     * `citygate test` compares with `expect`; else NULL. */
    const char *envelope;
    size_t envelope_len;
};

/* A dead letter: reason, the consumer it concerns (undeliverable and
 * rejected; else NULL) and the SPEC §1 document; the source topic and the
 * detail again on their own, for a log line. */
struct cg_dead {
    int reason; /* enum cg_dead_reason */
    const char *consumer;
    const char *json;
    size_t len;
    const char *topic; /* not NUL-terminated: topic_len bytes */
    size_t topic_len;
    const char *detail;
};

/* What the pipeline emits while it processes one message. Each callback
 * returns CG_OK once the item is safe (spooled, printed), or a negative
 * CG_E*: the pipeline stops and cg_pipeline_process returns that error,
 * so the caller does not acknowledge the message. */
struct cg_emit {
    int (*deliver)(void *user, const struct cg_delivery *d);
    int (*dead)(void *user, const struct cg_dead *d);
    void *user;
};

/* Builds the pipeline for a loaded config: resolves decoders (from reg),
 * compiles vendors' device, time and fields expressions, consumers' topic
 * templates and every rule. Every problem goes to d with its position.
 * The pipeline borrows cfg and reg: both must outlive it. Returns CG_OK,
 * CG_EINVAL or CG_ENOMEM; on failure *out is NULL. */
int cg_pipeline_new(const struct cg_config *cfg,
                    const struct cg_plugin_reg *reg, struct cg_pipeline **out,
                    struct cg_diags *d);
void cg_pipeline_free(struct cg_pipeline *p);
/* Deliveries to consumers with another format also carry the event
 * itself (cg_delivery.envelope): `citygate test` checks events, whatever
 * shape their payload takes. Off by default: it costs a second build. */
void cg_pipeline_keep_envelopes(struct cg_pipeline *p, bool on);

/* Runs one message through every stage and calls emit for each delivery
 * and dead letter. Returns the number of deliveries (0 or more), or a
 * negative CG_E*: CG_ENOMEM, or what an emit callback returned. */
int cg_pipeline_process(struct cg_pipeline *p, const struct cg_message *m,
                        const struct cg_emit *emit);

const struct cg_ruleset *cg_pipeline_rules(const struct cg_pipeline *p);
/* Consumer i's sink, resolved (NULL past the last consumer). Valid as
 * long as the pipeline. */
struct cg_sink_conf;
const struct cg_sink_conf *cg_pipeline_sink(const struct cg_pipeline *p,
                                            size_t consumer);
/* Where consumer i's events go, for people: its URL or path, or its topic
 * template. */
const char *cg_pipeline_target(const struct cg_pipeline *p, size_t consumer);
const struct cg_config *cg_pipeline_config(const struct cg_pipeline *p);

/* Counters for /metrics. Each returns the number of vendors (rules) and,
 * when i is below it, fills name and the count of messages (events). */
size_t cg_pipeline_vendor_stats(const struct cg_pipeline *p, size_t i,
                                const char **name, uint64_t *received);
size_t cg_pipeline_rule_stats(const struct cg_pipeline *p, size_t i,
                              const char **name, uint64_t *events);
/* Per domain (the rule files' `domain`): messages that fired at least one
 * of its rules, and the events its rules produced (one per consumer
 * reached). Returns the number of domains. */
size_t cg_pipeline_domain_stats(const struct cg_pipeline *p, size_t i,
                                const char **name, uint64_t *messages,
                                uint64_t *events);
/* Carries counters of vendors, rules and domains with the same names over
 * from the pipeline being replaced by a reload. */
void cg_pipeline_inherit_stats(struct cg_pipeline *p,
                               const struct cg_pipeline *old);

/* ---- stateful rules (SPEC §13; stateful.c) ----------------------------------
 *
 * The pipeline owns the state of its stateful rules. Times are the
 * gateway's clock in epoch seconds (a message's `received`). Every
 * function below runs on the thread that runs the pipeline, or under the
 * lock it runs under; events go through emit like a message's.
 */

/* Runs every timer due at or before now (window ends, repeats, stale
 * alerts) and sets *next (may be NULL) to when the next is due, or 0.
 * Returns the number of deliveries, or the first error of emit (that
 * timer stays due; the caller tries again later). */
int cg_pipeline_timers(struct cg_pipeline *p, double now,
                       const struct cg_emit *emit, double *next);
/* A reload: next takes over the state of every rule of old whose
 * definition did not change; the open windows of old's other window
 * rules go out through emit with data.partial: true (routed by old,
 * whose consumers emit must still address). Returns CG_OK or emit's
 * error. */
int cg_pipeline_state_handover(struct cg_pipeline *next,
                               struct cg_pipeline *old, double now,
                               const struct cg_emit *emit);
/* A snapshot of the state (cg_state_save), appended to out. CG_OK or
 * CG_ENOMEM. */
int cg_pipeline_state_save(const struct cg_pipeline *p, double now,
                           struct cg_buf *out);
/* Restores a snapshot (cg_state_load): times shifted by the outage,
 * windows that ended meanwhile emitted as partial through emit. CG_OK,
 * CG_EINVAL (torn or garbled: err says; nothing restored) or CG_ENOMEM. */
int cg_pipeline_state_restore(struct cg_pipeline *p, const char *text,
                              size_t len, double now,
                              const struct cg_emit *emit,
                              struct cg_state_restored *out, char *err,
                              size_t errlen);
/* Forgets every key (each rule's `citygate test` cases start afresh). */
void cg_pipeline_state_reset(struct cg_pipeline *p);
/* Moves with every change of state: a snapshot is due when it moved. */
uint64_t cg_pipeline_state_version(const struct cg_pipeline *p);
/* Counters for /metrics: returns the number of rules and, when i is
 * below it, sets *name to the rule's full name and fills s, or sets
 * *name to NULL for a stateless rule. Any thread (atomics). */
size_t cg_pipeline_state_stats(const struct cg_pipeline *p, size_t i,
                               const char **name, struct cg_state_stats *s);

#endif
