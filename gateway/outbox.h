/*
 * An outbox: one consumer's queue of events and the delivery thread that
 * hands them to the consumer's sink in batches.
 *
 * Storage: the consumer's durable spool (spool.h); memory holds one batch.
 * Order: per severity, events leave in the order they came; when a
 * backlog drains, critical go before warning and warning before info.
 * Failures: a sink that says CG_RETRY is offered the backlog again after
 * a backoff (0.5 s doubling to 30 s with jitter, or its Retry-After),
 * most urgent first; a batch refused for good is handed to the reject
 * callback once.
 * Bounds: the spool holds at most max_bytes of events; past that the
 * policy decides: block (the caller holds intake) or drop the oldest.
 *
 * Threads: push, full and depth may be called from any thread; the
 * delivery thread is the only one that calls the sink.
 */
#ifndef CG_OUTBOX_H
#define CG_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway.h"

struct outbox;

/* Called on the delivery thread with a batch the sink refused for good. */
typedef void (*outbox_reject_fn)(void *user, const char *consumer,
                                 const struct cg_batch *batch,
                                 const struct cg_delivery_result *res);

struct outbox_conf {
    const char *name;
    const char *spool_dir; /* the consumer's spool lives below it */
    int batch_max;         /* events per deliver() call */
    int batch_wait_ms;     /* wait this long for a batch to fill (0: none) */
    uint64_t max_bytes;
    int full_policy; /* enum cg_spool_full */
    outbox_reject_fn reject;
    void *user;
};

/* Opens the consumer's spool (what an earlier run left is delivered
 * first), and starts the delivery thread. Takes ownership of sink.
 * Returns CG_OK, CG_EIO (the spool cannot be opened: logged) or
 * CG_ENOMEM; on failure sink is freed. */
int outbox__new(const struct outbox_conf *conf, struct cg_instance *sink,
                struct outbox **out);
/* Stops the thread after the batch in hand; what is queued is lost
 * unless drained first. Frees everything. */
void outbox__free(struct outbox *o);

/* Appends ev to the spool: when this returns CG_OK, ev survives a crash.
 * Never blocks: with drop_oldest it makes room by dropping the oldest
 * events (counted); with block it may go past the bound by this event,
 * and outbox__full() tells the caller to hold intake. CG_EIO when the
 * spool cannot be written (disk full). */
int outbox__push(struct outbox *o, const struct cg_event *ev);
/* True when the outbox is at its bound and its policy is block. */
bool outbox__full(struct outbox *o);
/* True when nothing waits in the spool (a direct publish keeps order). */
bool outbox__idle(struct outbox *o);
/* Counts an event the caller delivered itself, past the spool. */
void outbox__count_direct(struct outbox *o);
/* Waits until the queue is empty or timeout_ms passes; true if empty. */
bool outbox__drain(struct outbox *o, int timeout_ms);

struct outbox_stats {
    uint64_t queued, bytes;
    uint64_t delivered, retried, rejected, dropped;
};
void outbox__stats(struct outbox *o, struct outbox_stats *s);
const char *outbox__name(const struct outbox *o);

#endif
