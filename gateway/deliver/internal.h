/*
 * The deliver stage's internals: outboxes (a consumer's queue and its
 * delivery thread), the durable spool behind each outbox, and the
 * segment logs a spool is made of. Shared by gateway/deliver/ only (and
 * the spool's unit test).
 */
#ifndef CG_DELIVER_INTERNAL_H
#define CG_DELIVER_INTERNAL_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver.h"
#include "host/host.h"
#include "log.h"

/* ---- the stage (consumers.c, emit.c) ------------------------------------ */

struct outbox;

/* One consumer's outbox and what it was built from, so a reload can keep
 * it when nothing it depends on changed. */
struct consumer {
    char *name;
    uint64_t signature;
    struct outbox *box;
    struct cg_mqtt *own_mqtt; /* its own broker: connection, or NULL */
    struct cg_plugin_reg *reg;
    bool direct; /* QoS 0 over the gateway's connection: may skip spool */
    size_t from; /* while prepared: its index in the current set, or
                    SIZE_MAX for a new one */
    bool kept;   /* in the current set: a prepared set holds it too */
};

struct consumer_set {
    struct consumer *v;
    size_t n;
};

struct cg_deliver {
    struct cg_mqtt *out;
    char *spool_dir, *dead_topic;
    uint64_t reserve_bytes;
    bool direct_ok;
    struct outbox *dead;
    struct consumer_set cur, pending, retired;
    _Atomic uint64_t events, dead_count[CG_DEAD_N_REASONS];
    _Atomic bool disk_low;
    _Atomic bool no_space; /* an append met ENOSPC: held until there is room */
    /* Bytes the spools may still take before the disk reaches the
     * reserve, as of the last check, less what was appended since: the
     * pipeline holds intake the moment it runs out, not a second later. */
    _Atomic int64_t headroom;
    bool disk_low_logged;
    _Atomic int64_t last_error_log; /* ms, for one spool error line a second */
    struct cg_log_limit dead_log[CG_DEAD_N_REASONS];
};

/* Frees every consumer (shutdown). */
void deliver__consumers_free(struct cg_deliver *d);
/* Queues a dead letter (any thread). */
int deliver__dead_letter(struct cg_deliver *d, int reason, const char *json,
                         size_t len);
/* The sink of the dead-letter outbox: publishes over host->publish. */
extern const struct cg_plugin deliver__dead_sink;

/* ---- outboxes (outbox.c) -------------------------------------------------
 *
 * An outbox: one consumer's queue of events and the delivery thread that
 * hands them to the consumer's sink in batches.
 *
 * Storage: the consumer's durable spool; memory holds one batch.
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

/* Called on the delivery thread with a batch the sink refused for good. */
typedef void (*outbox_reject_fn)(void *user, const char *consumer,
                                 const struct cg_batch *batch,
                                 const struct cg_delivery_result *res);

struct outbox_conf {
    const char *name;      /* the consumer's name (copied) */
    const char *folder;    /* its spool folder under spool_dir (copied) */
    const char *spool_dir; /* borrowed during outbox__new only */
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
/* Stops the thread after the batch in hand, which the sink is asked to
 * give up (host->cancelled); what is queued stays in the spool for the
 * next start. Frees everything. NULL-safe. */
void outbox__free(struct outbox *o);
/* The first half of free, from any thread: several outboxes stopping at
 * once do not wait for each other. NULL-safe. */
void outbox__cancel(struct outbox *o);

/* Appends ev to the spool: when this returns CG_OK, ev survives a crash.
 * Never blocks: with drop_oldest it makes room by dropping the oldest
 * events (counted); with block it may go past the bound by this event,
 * and outbox__full() tells the caller to hold intake. CG_ENOSPC when the
 * disk is full, CG_EIO for another write error, CG_EINVAL for an event
 * that no spool can hold (too big). */
int outbox__push(struct outbox *o, const struct cg_event *ev);
/* True when the outbox is at its bound and its policy is block. */
bool outbox__full(struct outbox *o);
/* True when nothing waits in the spool (a direct publish keeps order). */
bool outbox__idle(struct outbox *o);
/* Counts an event the caller delivered itself, past the spool. */
void outbox__count_direct(struct outbox *o);
/* Waits until the queue is empty or timeout_ms passes; true if empty. */
bool outbox__drain(struct outbox *o, int timeout_ms);
void outbox__stats(struct outbox *o, struct cg_consumer_stats *s);
const char *outbox__name(const struct outbox *o);

/* ---- the spool (spool.c) --------------------------------------------------
 *
 * One consumer's undelivered events on disk, so they survive SIGKILL, a
 * restart, or a consumer that is down for hours.
 *
 * Layout: <spool_dir>/<folder>/ holds one append-only log per severity
 * (info, warning, critical), each a chain of segment files, plus a cursor
 * per log naming the first event not yet delivered. A record carries its
 * length and CRC, so a write torn by a crash is found and cut off at open.
 * Drained segments are deleted, so the files wrap around instead of
 * growing.
 *
 * Durability: an append is one write(2) into the page cache before the
 * caller acknowledges the source message, which survives a killed process
 * (not a power cut: that would need fsync per message).
 *
 * Threads: append, bytes and drop from the pipeline thread; peek and
 * commit from the consumer's delivery thread. All calls lock the spool.
 */

struct spool;

/* Opens (creating it when missing) the spool in dir/folder, recovering
 * from a crash: a torn record at the end of a log is cut off. Segments
 * are sized to the bound: max_bytes / 8, between 64 KiB and 8 MiB.
 * Returns CG_OK, CG_EIO (with a sentence in err) or CG_ENOMEM. */
int spool__open(const char *dir, const char *folder, uint64_t max_bytes,
                struct spool **out, char *err, size_t errlen);
void spool__close(struct spool *s);

/* Appends one event at the end of its severity's log. Returns CG_OK,
 * CG_EINVAL (a topic or event too big for a record), CG_ENOSPC (disk
 * full) or CG_EIO: then the caller must not acknowledge. */
int spool__append(struct spool *s, const struct cg_event *ev);

/* Undelivered events and their bytes (records as stored). */
uint64_t spool__bytes(struct spool *s);
uint64_t spool__count(struct spool *s);

/* Drops the oldest undelivered events (by arrival, across severities)
 * until at least `bytes` are freed or nothing is left. An event in a
 * batch being delivered may still arrive; it no longer counts. Returns
 * the number of events dropped. */
uint64_t spool__drop_oldest(struct spool *s, uint64_t bytes);

/* A batch read from the spool; its memory belongs to it. */
struct spool_slot; /* where an event's text sits in buf */
struct spool_batch {
    struct cg_event *events;
    size_t n;
    char *buf; /* the events' id, topic and json, NUL-terminated */
    size_t cap_events, cap_buf;
    struct spool_slot *slots; /* cap_events of them */
    unsigned char *chunk;     /* raw segment bytes, read a chunk at a time */
    size_t cap_chunk;
};

/* Reads up to max events not yet handed out, critical first, then
 * warning, then info, each in arrival order. Returns CG_OK (n may be 0)
 * or CG_EIO/CG_ENOMEM. The events stay in the spool until committed. */
int spool__peek(struct spool *s, size_t max, struct spool_batch *b);
/* Marks everything handed out so far as delivered. What is handed out
 * and never committed (a delivery that gave up at shutdown) is read again
 * at the next open. */
int spool__commit(struct spool *s);
/* Forgets what was handed out since the last commit: the next peek reads
 * it again, after anything more urgent that arrived meanwhile. */
void spool__rewind(struct spool *s);
void spool__batch_free(struct spool_batch *b);

/* Tests only: the size at which a log starts a new segment file (0: sized
 * to the bound, the default). */
void spool__set_segment_max(uint64_t bytes);
/* The segment size spool__open picks for a bound: max_bytes / 8, between
 * 64 KiB and 8 MiB. Pure (exposed for its test). */
uint64_t spool__segment_size(uint64_t max_bytes);

/* ---- one segment log (spool_log.c) ----------------------------------------
 *
 * A log is a chain of segment files <n>.seg and a cursor file holding
 * (segment, offset) of the first record not yet delivered. Records are
 *
 *     u32 body length | u32 crc32(body) | body
 *     body = u64 seq | u8 severity | u8 qos | u16 topic length |
 *            16 bytes id | topic | json
 *
 * in host byte order (a spool never moves between machines). Two
 * positions walk each log: the durable cursor (delivered up to here) and
 * the read position (handed out up to here); commit moves the cursor to
 * the read position, rewind the read position back to the cursor.
 * The caller (spool.c) serializes every call.
 */

#define SPOOL_HDR     8
#define SPOOL_FIXED   28
#define SPOOL_REC_MAX (64u << 20)

struct pos {
    uint64_t seg, off;
};

struct log {
    char dir[PATH_MAX + 16];
    uint64_t seg_max; /* a new segment starts past this size */
    int wfd;          /* the segment being appended to */
    struct pos end;
    struct pos cursor, read;
    uint64_t first_seg; /* the oldest segment still on disk */
    int rfd;            /* a reading descriptor, for rseg */
    uint64_t rseg;
    int cfd;                       /* the cursor file */
    uint64_t bytes, count;         /* from the cursor to the end */
    uint64_t out_bytes, out_count; /* handed out, not yet committed */
};

/* The fixed part of a record, as read back. */
struct rec {
    uint32_t len; /* body length */
    uint64_t seq;
    int severity, qos;
};

/* Opens log `name` under root, recovering (see spool__open); *max_seq
 * rises to the highest sequence number found. CG_OK or CG_EIO (errno
 * set). */
int log__open(struct log *l, const char *root, const char *name,
              uint64_t seg_max, uint64_t *max_seq);
void log__close(struct log *l);
/* Appends one encoded record (header and body). CG_OK, CG_ENOSPC or
 * CG_EIO; a failed write leaves no part of the record behind. */
int log__append(struct log *l, const unsigned char *rec, size_t size);
/* Reads the record at *p (only its fixed part), moving *p to the next
 * segment first when this one is exhausted. Returns 1 with a record, 0 at
 * the end of the log, -1 for a damaged record. */
int log__read(struct log *l, struct pos *p, struct rec *r);
void log__advance(struct pos *p, const struct rec *r);
/* Appends records from the read position to b, at most max in all,
 * reading whole chunks of the segment at a time. Returns CG_OK (end of
 * log or batch full), CG_EIO (a damaged record: call log__skip_damage)
 * or CG_ENOMEM. */
int log__read_batch(struct log *l, struct spool_batch *b, size_t max,
                    size_t *used);
/* Points the batch's events at its buffer, once reading is done. */
void log__batch_fix(struct spool_batch *b);
void log__skip_damage(struct log *l);
/* Moves the cursor to the read position and deletes segments before it;
 * a drained segment of some size is closed early so its space returns to
 * the disk at once. CG_OK or CG_EIO. */
int log__commit(struct log *l);
/* Saves the cursor and deletes what is behind it. */
int log__save(struct log *l);
/* Drops the record r at position at (the cursor's record). */
void log__drop_at_cursor(struct log *l, struct pos at, const struct rec *r);

#endif
