/*
 * The durable spool: one consumer's undelivered events on disk, so they
 * survive SIGKILL, a restart, or a consumer that is down for hours.
 *
 * Layout: <spool_dir>/<consumer>/ holds one append-only log per severity
 * (info, warning, critical), each a chain of segment files, plus a cursor
 * per log naming the first event not yet delivered. A record carries its
 * length and CRC, so a write torn by a crash is found and cut off at open.
 * Fully delivered segments are deleted, so the files wrap around instead
 * of growing.
 *
 * Durability: an append is one write(2) into the page cache before the
 * caller acknowledges the source message, which survives a killed process
 * (not a power cut: that would need fsync per message).
 *
 * Threads: append, bytes and drop from the intake thread; peek and commit
 * from the consumer's delivery thread. All calls lock the spool.
 */
#ifndef CG_SPOOL_H
#define CG_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "citygate_plugin.h"

struct spool;

/* Opens (creating it when missing) the spool of consumer `name` under dir,
 * recovering from a crash: a torn record at the end of a log is cut off.
 * Returns CG_OK, CG_EIO (with a sentence in err) or CG_ENOMEM. */
int spool__open(const char *dir, const char *name, struct spool **out,
                char *err, size_t errlen);
void spool__close(struct spool *s);

/* Appends one event at the end of its severity's log. Returns CG_OK or
 * CG_EIO (disk full, I/O error: the caller must not acknowledge). */
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
struct spool_batch {
    struct cg_event *events;
    size_t n;
    char *buf;
    size_t cap_events, cap_buf;
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

/* Tests only: the size at which a log starts a new segment file. */
void spool__set_segment_max(uint64_t bytes);

#endif
