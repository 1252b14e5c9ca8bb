/*
 * loadgen bookkeeping: which messages came back, how often, how late.
 *
 * Latency is measured per event, from the send time the event carries
 * (`t`, CLOCK_MONOTONIC of this process) or, where the system under test
 * drops that field, from the send time kept in the message's slot. Both
 * are the same instant; `t` is preferred because it proves the payload
 * came through.
 *
 * Classification of an event:
 *   - no sequence number, or one never sent: wrong;
 *   - a message that must produce no event (LG_REJECT): wrong;
 *   - beyond `fanout` events for a message: duplicate;
 *   - for a message already counted lost: once all its events are in, it
 *     counts late instead (and no longer lost);
 *   - too old for the ring: late;
 *   - numbered below this run's first message: stale (an earlier run's
 *     event that the system under test delivered only now);
 *   - for a readiness probe: noted, not counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loadgen.h"
#include "payload.h"

int lg_track_init(struct lg_track *t, unsigned fanout, double timeout,
                  double now, uint64_t first_seq)
{
    memset(t, 0, sizeof(*t));
    t->ring = calloc(LG_RING, sizeof(*t->ring));
    if (!t->ring)
        return -1;
    t->fanout = fanout ? fanout : 1;
    t->timeout = timeout;
    t->base = now;
    t->first_seq = t->next_seq = t->tail = first_seq;
    return 0;
}

void lg_track_free(struct lg_track *t)
{
    free(t->ring);
    t->ring = NULL;
}

static size_t bucket_of(uint64_t us)
{
    if (us < LG_HIST_LINEAR)
        return (size_t)us;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* e >= 10 */
    size_t sub = (size_t)((us >> (e - 6)) & (LG_HIST_SUB - 1));
    size_t i = LG_HIST_LINEAR + (size_t)(e - 10) * LG_HIST_SUB + sub;
    return i < LG_HIST_N ? i : LG_HIST_N - 1;
}

static uint64_t bucket_mid(size_t i)
{
    if (i < LG_HIST_LINEAR)
        return i;
    unsigned e = (unsigned)((i - LG_HIST_LINEAR) / LG_HIST_SUB) + 10;
    uint64_t sub = (i - LG_HIST_LINEAR) % LG_HIST_SUB;
    uint64_t width = 1ull << (e - 6);
    return ((LG_HIST_SUB + sub) << (e - 6)) + width / 2;
}

static void hist_add(struct lg_hist *h, double seconds)
{
    uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0;
    h->bucket[bucket_of(us)]++;
    h->n++;
    if (us > h->max_us)
        h->max_us = us;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n);
    if (rank >= h->n)
        rank = h->n - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < LG_HIST_N; i++) {
        seen += h->bucket[i];
        if (seen > rank) {
            uint64_t v = bucket_mid(i);
            return v < h->max_us ? v : h->max_us;
        }
    }
    return h->max_us;
}

uint64_t lg_track_send(struct lg_track *t, enum lg_state state, double now)
{
    uint64_t seq = t->next_seq++;
    struct lg_slot *s = &t->ring[seq & (LG_RING - 1)];
    s->send_us = (uint32_t)((now - t->base) * 1e6);
    s->got = 0;
    s->state = (uint8_t)state;
    if (state == LG_OPEN) {
        t->sent++;
        if (++t->outstanding > t->max_outstanding)
            t->max_outstanding = t->outstanding;
    } else if (state == LG_REJECT) {
        t->sent++;
        t->rejects++;
    }
    return seq;
}

static void finish_done(struct lg_track *t, struct lg_slot *s, double now)
{
    s->state = LG_DONE;
    t->outstanding--;
    t->delivered++;
    if (t->sending)
        t->in_window++;
    t->t_last_done = now;
}

/* One event for a slot that is still in the ring. */
static void slot_event(struct lg_track *t, struct lg_slot *s, double now,
                       double sent_at)
{
    switch (s->state) {
    case LG_PROBE:
        t->probes_back++;
        return;
    case LG_REJECT:
        t->wrong++;
        return;
    case LG_LOST: /* complete after all: late, and no longer lost */
        if (s->got < 255)
            s->got++;
        if (t->lost_events)
            t->lost_events--;
        if (s->got >= t->fanout) {
            s->state = LG_DONE;
            t->lost--;
            t->late++;
        }
        return;
    case LG_DONE:
        t->dup++;
        return;
    default:
        break;
    }
    if (t->measuring)
        hist_add(&t->hist, now - sent_at);
    if (s->got < 255)
        s->got++;
    if (s->got >= t->fanout)
        finish_done(t, s, now);
}

void lg_track_event(struct lg_track *t, const char *payload, size_t len,
                    double now)
{
    uint64_t seq;
    double sent_at;
    bool has_t;
    if (lg_parse_event(payload, len, &seq, &sent_at, &has_t) != 0 ||
        seq >= t->next_seq) {
        t->wrong++;
        return;
    }
    if (seq < t->first_seq) { /* a straggler of an earlier run */
        t->stale++;
        return;
    }
    if (t->next_seq - seq > LG_RING) {
        t->late++;
        return;
    }
    struct lg_slot *s = &t->ring[seq & (LG_RING - 1)];
    if (!has_t)
        sent_at = t->base + s->send_us / 1e6;
    slot_event(t, s, now, sent_at);
}

void lg_track_expire(struct lg_track *t, double now, bool all)
{
    double cutoff = now - t->timeout - t->base; /* seconds since base */
    while (t->tail < t->next_seq) {
        struct lg_slot *s = &t->ring[t->tail & (LG_RING - 1)];
        if (s->state == LG_OPEN) {
            if (!all && s->send_us / 1e6 > cutoff)
                return;
            s->state = LG_LOST;
            t->outstanding--;
            t->lost++;
            t->lost_events += t->fanout - s->got;
        }
        t->tail++;
    }
}

/* ---- parsing events ---------------------------------------------------- */

static const char *find(const char *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    const char *end = p + len;
    for (const char *q = p; q + n <= end; q++) {
        q = memchr(q, needle[0], (size_t)(end - q));
        if (!q || q + n > end)
            return NULL;
        if (memcmp(q, needle, n) == 0)
            return q + n;
    }
    return NULL;
}

/* Reads digits; returns how many were read (0: none, or too many). */
static size_t read_uint(const char *p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    while (p + n < end && p[n] >= '0' && p[n] <= '9' && n < 19)
        v = v * 10 + (uint64_t)(p[n++] - '0');
    *out = v;
    return n;
}

/* A non-negative decimal like 81234.567890. */
static int read_seconds(const char *p, const char *end, double *out)
{
    uint64_t whole, frac = 0;
    size_t n = read_uint(p, end, &whole);
    if (n == 0)
        return -1;
    double scale = 1;
    if (p + n < end && p[n] == '.') {
        size_t m = read_uint(p + n + 1, end, &frac);
        for (size_t i = 0; i < m; i++)
            scale *= 10;
    }
    *out = (double)whole + (double)frac / scale;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "2023-11-14T22:13:20.123Z" at p: epoch milliseconds. */
static int read_rfc3339_ms(const char *p, const char *end, uint64_t *ms)
{
    static const size_t at[7] = {0, 5, 8, 11, 14, 17, 20};
    static const size_t width[7] = {4, 2, 2, 2, 2, 2, 3};
    uint64_t f[7];
    if (end - p < 24)
        return -1;
    for (size_t i = 0; i < 7; i++)
        if (read_uint(p + at[i], p + at[i] + width[i], &f[i]) != width[i])
            return -1;
    int64_t days = days_from_civil((int64_t)f[0], (int64_t)f[1], (int64_t)f[2]);
    int64_t s = days * 86400 + (int64_t)(f[3] * 3600 + f[4] * 60 + f[5]);
    *ms = (uint64_t)s * 1000 + f[6];
    return 0;
}

int lg_parse_event(const char *p, size_t len, uint64_t *seq, double *t,
                   bool *has_t)
{
    const char *end = p + len, *v;
    *has_t = false;
    if ((v = find(p, len, "\"seq\":")) != NULL) {
        if (read_uint(v, end, seq) == 0)
            return -1;
        const char *tv = find(p, len, "\"t\":");
        *has_t = tv && read_seconds(tv, end, t) == 0;
        return 0;
    }
    uint64_t ms;
    if ((v = find(p, len, "\"time\":\"")) == NULL ||
        read_rfc3339_ms(v, end, &ms) != 0 || ms < BENCH_TS_BASE_MS)
        return -1;
    *seq = ms - BENCH_TS_BASE_MS;
    return 0;
}
