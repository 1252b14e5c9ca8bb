/*
 * The durable spool (deliver/internal.h): three segment logs, one per
 * severity, under one lock, with a sequence number across them so that
 * the oldest event can be found for drop_oldest.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define N_SEV   3
#define SEG_MIN (64u << 10)
#define SEG_MAX (8u << 20)
#define HDR     SPOOL_HDR
#define FIXED   SPOOL_FIXED

struct spool {
    pthread_mutex_t lock;
    struct log logs[N_SEV];
    uint64_t next_seq;
};

static const char *const sev_dirs[N_SEV] = {"info", "warning", "critical"};
static uint64_t seg_override; /* tests only */

void spool__set_segment_max(uint64_t bytes)
{
    seg_override = bytes;
}

/* An eighth of the bound per segment keeps what a drained spool still
 * holds on disk small next to its bound (a segment is freed only when the
 * cursor leaves it); the floor keeps small spools from churning files, the
 * ceiling keeps one segment's worth of a big spool modest. */
uint64_t spool__segment_size(uint64_t max_bytes)
{
    uint64_t s = max_bytes / 8;
    return s < SEG_MIN ? SEG_MIN : s > SEG_MAX ? SEG_MAX : s;
}

int spool__open(const char *dir, const char *folder, uint64_t max_bytes,
                struct spool **out, char *err, size_t errlen)
{
    char root[PATH_MAX - 16];
    *out = NULL;
    struct spool *s = cg_calloc(1, sizeof(*s));
    if (!s)
        return CG_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    snprintf(root, sizeof(root), "%s/%s", dir, folder);
    uint64_t max_seq = 0,
             seg = seg_override ? seg_override : spool__segment_size(max_bytes);
    for (int i = 0; i < N_SEV; i++)
        s->logs[i].wfd = s->logs[i].rfd = s->logs[i].cfd = -1;
    for (int i = 0; i < N_SEV; i++) {
        if (log__open(&s->logs[i], root, sev_dirs[i], seg, &max_seq) != CG_OK) {
            snprintf(err, errlen, "cannot open the spool in %s: %s", root,
                     strerror(errno));
            spool__close(s);
            return CG_EIO;
        }
    }
    s->next_seq = max_seq + 1;
    *out = s;
    return CG_OK;
}

void spool__close(struct spool *s)
{
    if (!s)
        return;
    for (int i = 0; i < N_SEV; i++)
        log__close(&s->logs[i]);
    pthread_mutex_destroy(&s->lock);
    cg_free(s);
}

/* ---- appending --------------------------------------------------------- */

static int sev_index(int severity)
{
    return severity < 0 ? 0 : severity >= N_SEV ? N_SEV - 1 : severity;
}

/* Lays out header and body; the caller fills in seq and the CRC. */
static void encode(const struct cg_event *ev, size_t tlen, unsigned char *rec)
{
    uint32_t len = (uint32_t)(FIXED + tlen + ev->json_len);
    unsigned char *b = rec + HDR;
    memcpy(rec, &len, 4);
    b[8] = (unsigned char)sev_index(ev->severity);
    b[9] = (unsigned char)ev->qos;
    uint16_t t16 = (uint16_t)tlen;
    memcpy(b + 10, &t16, 2);
    memcpy(b + 12, ev->id, 16);
    if (tlen)
        memcpy(b + FIXED, ev->topic, tlen);
    memcpy(b + FIXED + tlen, ev->json, ev->json_len);
}

int spool__append(struct spool *s, const struct cg_event *ev)
{
    size_t tlen = ev->topic ? strlen(ev->topic) : 0;
    size_t size = HDR + FIXED + tlen + ev->json_len;
    if (tlen > UINT16_MAX || size > SPOOL_REC_MAX)
        return CG_EINVAL;
    unsigned char small[4096];
    unsigned char *rec = size <= sizeof(small) ? small : cg_malloc(size);
    if (!rec)
        return CG_ENOMEM;
    encode(ev, tlen, rec);
    pthread_mutex_lock(&s->lock);
    uint64_t seq = s->next_seq++;
    memcpy(rec + HDR, &seq, 8);
    uint32_t crc = (uint32_t)crc32(0L, rec + HDR, (uInt)(size - HDR));
    memcpy(rec + 4, &crc, 4);
    int rc = log__append(&s->logs[sev_index(ev->severity)], rec, size);
    pthread_mutex_unlock(&s->lock);
    if (rec != small)
        cg_free(rec);
    return rc;
}

uint64_t spool__bytes(struct spool *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = 0;
    for (int i = 0; i < N_SEV; i++)
        n += s->logs[i].bytes;
    pthread_mutex_unlock(&s->lock);
    return n;
}

uint64_t spool__count(struct spool *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = 0;
    for (int i = 0; i < N_SEV; i++)
        n += s->logs[i].count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- delivering -------------------------------------------------------- */

int spool__peek(struct spool *s, size_t max, struct spool_batch *b)
{
    size_t used = 0;
    int rc = CG_OK;
    b->n = 0;
    pthread_mutex_lock(&s->lock);
    for (int sev = N_SEV - 1; sev >= 0 && rc != CG_ENOMEM && b->n < max;
         sev--) {
        struct log *l = &s->logs[sev];
        while ((rc = log__read_batch(l, b, max, &used)) == CG_EIO)
            log__skip_damage(l);
    }
    pthread_mutex_unlock(&s->lock);
    log__batch_fix(b);
    return rc == CG_ENOMEM ? rc : CG_OK;
}

int spool__commit(struct spool *s)
{
    int rc = CG_OK;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < N_SEV; i++)
        if (log__commit(&s->logs[i]) != CG_OK)
            rc = CG_EIO;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void spool__rewind(struct spool *s)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < N_SEV; i++) {
        struct log *l = &s->logs[i];
        l->read = l->cursor;
        l->out_bytes = l->out_count = 0;
    }
    pthread_mutex_unlock(&s->lock);
}

void spool__batch_free(struct spool_batch *b)
{
    cg_free(b->events);
    cg_free(b->slots);
    cg_free(b->buf);
    cg_free(b->chunk);
    memset(b, 0, sizeof(*b));
}

/* ---- dropping ----------------------------------------------------------- */

/* The log whose oldest undelivered record (at its cursor) is the oldest
 * of all; *at is where that record starts. */
static struct log *oldest_log(struct spool *s, struct rec *out, struct pos *at)
{
    struct log *best = NULL;
    for (int i = 0; i < N_SEV; i++) {
        struct log *l = &s->logs[i];
        struct pos p = l->cursor;
        struct rec r;
        if (log__read(l, &p, &r) != 1)
            continue;
        if (!best || r.seq < out->seq) {
            best = l;
            *out = r;
            *at = p;
        }
    }
    return best;
}

uint64_t spool__drop_oldest(struct spool *s, uint64_t bytes)
{
    uint64_t freed = 0, dropped = 0;
    struct rec r;
    struct pos at;
    struct log *l;
    pthread_mutex_lock(&s->lock);
    while (freed < bytes && (l = oldest_log(s, &r, &at))) {
        log__drop_at_cursor(l, at, &r);
        freed += HDR + r.len;
        dropped++;
    }
    for (int i = 0; i < N_SEV && dropped; i++)
        log__save(&s->logs[i]);
    pthread_mutex_unlock(&s->lock);
    return dropped;
}
