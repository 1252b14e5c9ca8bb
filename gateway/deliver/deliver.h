/*
 * The deliver stage (SPEC §1): every consumer's outbox (its durable spool
 * and the delivery thread that feeds its sink), the dead-letter outbox,
 * and the counters /metrics shows.
 *
 * The pipeline hands events and dead letters over through the emit
 * callbacks below; once they return CG_OK the item is in a spool and
 * survives a crash, so the source message may be acknowledged.
 *
 * A reload builds the consumers of the new config off to the side
 * (prepare), keeping each outbox whose delivery settings did not change
 * with what is queued in it; commit swaps them in, retire drains and frees
 * what they replaced.
 *
 * Threads: new, prepare, commit, abort, retire, check_disk, drain and free
 * run on the loop thread. cg_deliver_event and cg_deliver_dead run on the
 * pipeline thread; commit must not run while the pipeline thread is inside
 * them (the caller holds the lock the pipeline runs under). The reject
 * path runs on delivery threads. The stats functions may be called from
 * any thread while no commit runs.
 */
#ifndef CG_DELIVER_H
#define CG_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "host/host.h"
#include "pipeline/pipeline.h"

struct cg_deliver;
struct cg_mqtt;
struct cg_plugin_reg;

struct cg_deliver_conf {
    /* The gateway's publishing connection: dead letters, and consumers
     * without a broker of their own. Borrowed: it outlives the stage. */
    struct cg_mqtt *out;
    const char *spool_dir;         /* copied */
    const char *dead_letter_topic; /* copied */
    /* Free space on the spool's file system below this holds intake like
     * a full spool (SPEC §12 "Disk space"). */
    uint64_t reserve_bytes;
    /* QoS 0 events of consumers on `out` may skip the spool when their
     * backlog is empty (the MQTT backend publishes cheaply from the
     * pipeline thread). */
    bool direct_ok;
};

struct cg_consumer_stats {
    uint64_t queued, bytes, max_bytes;
    uint64_t delivered, retried, rejected, dropped;
    /* At its bound: with block it holds intake; with drop_oldest it
     * dropped events in the last few seconds. */
    bool full;
    /* Its own broker connection: -1 none (it uses the gateway's), 0 down,
     * 1 up. */
    int broker;
};

/* Creates the stage and its dead-letter outbox (spool `.dead-letters`,
 * QoS 1, drop_oldest past 64 MiB). Returns CG_OK, CG_EIO (the spool
 * cannot be opened: logged) or CG_ENOMEM. */
int cg_deliver_new(const struct cg_deliver_conf *conf, struct cg_deliver **out);
/* Stops every delivery thread (what is queued stays in the spools) and
 * frees everything. NULL-safe. */
void cg_deliver_free(struct cg_deliver *d);

/* Builds the consumers of cfg with the sinks that pipeline p resolved
 * (from reg, which the new instances hold a reference to). Problems go to
 * diags. Returns CG_OK, CG_EINVAL, CG_EIO or CG_ENOMEM; on failure
 * nothing changed. */
int cg_deliver_prepare(struct cg_deliver *dl, const struct cg_config *cfg,
                       const struct cg_pipeline *p, struct cg_plugin_reg *reg,
                       struct cg_diags *d);
/* Makes the prepared consumers current. */
void cg_deliver_commit(struct cg_deliver *d);
/* Drops the prepared consumers (a reload that failed later on). */
void cg_deliver_abort(struct cg_deliver *d);
/* Frees the consumers that a commit replaced, after waiting up to
 * drain_ms for each to deliver what it holds. */
void cg_deliver_retire(struct cg_deliver *d, int drain_ms);

/* The emit callbacks (user: the struct cg_deliver). cg_deliver_event
 * returns CG_OK, CG_EINVAL (no spool can hold this event: the pipeline
 * dead-letters it as undeliverable), CG_ENOSPC or CG_EIO (not safe: do
 * not acknowledge). cg_deliver_dead returns CG_OK or the spool's error. */
int cg_deliver_event(void *d, const struct cg_delivery *dv);
int cg_deliver_dead(void *d, const struct cg_dead *dead);

/* True while intake must be held: a consumer with spool_full: block is at
 * its bound, the spool's disk is below the reserve, or an append found
 * the disk full and no check since found room. */
bool cg_deliver_blocked(struct cg_deliver *d);
/* Looks at the free space of the spool's file system (loop thread, about
 * once a second). Returns true while it is below the reserve. Also ends
 * the hold after a full disk once there is room again. */
bool cg_deliver_check_disk(struct cg_deliver *d);
/* What the last check found (any thread). */
bool cg_deliver_disk_low(const struct cg_deliver *d);
/* True from an append that met ENOSPC until a check finds room again: the
 * reserve was 0 or the disk filled between two checks (any thread). */
bool cg_deliver_out_of_space(const struct cg_deliver *d);
/* Dead letters are logged at info, at most one line per reason per
 * second with the count since the last line; this writes the lines held
 * back once their second is over (loop thread, about once a second). */
void cg_deliver_log_held(struct cg_deliver *d);
/* Waits up to timeout_ms in all for every outbox to empty; true if all
 * did. */
bool cg_deliver_drain(struct cg_deliver *d, int timeout_ms);

/* Counters. Each returns the number of current consumers and, when i is
 * below it, fills name and s. */
size_t cg_deliver_consumer_stats(struct cg_deliver *d, size_t i,
                                 const char **name,
                                 struct cg_consumer_stats *s);
uint64_t cg_deliver_dead_count(const struct cg_deliver *d, int reason);
uint64_t cg_deliver_event_count(const struct cg_deliver *d);

#endif
