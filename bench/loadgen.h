/*
 * loadgen: what the publish loop (loadgen.c), its options
 * (loadgen_opts.c) and the bookkeeping (loadgen_track.c) share.
 *
 * Every message sent gets a slot in a ring indexed by its sequence number:
 * its send time and how many events came back for it. The ring and the
 * latency histogram are allocated once, so receiving an event allocates
 * nothing. A message is finished when `fanout` events have arrived
 * (delivered) or when it waited longer than the timeout (lost); finished
 * slots stay readable until the ring wraps, so a straggler is still
 * recognised as a duplicate or as late.
 *
 * Threads: one. The whole load generator runs on its own poll loop.
 */
#ifndef CG_BENCH_LOADGEN_H
#define CG_BENCH_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "payload.h"

/* ---- options (loadgen_opts.c) ----------------------------------------- */

#define LG_MAX_SUBS 8

enum lg_mode { MODE_NONE, MODE_RATE, MODE_FLAT, MODE_CLOSED };

struct lg_opts {
    const char *host, *label, *id;
    int port, qos;
    enum lg_mode mode;
    double rate, duration, drain, timeout, ready;
    unsigned closed, fanout, reject_every;
    uint64_t first_seq;
    bool progress;
    struct bench_shape shape;
    const char *subs[LG_MAX_SUBS];
    unsigned n_subs;
};

/* Fills o from argv, defaults first. Returns 0, or -1 after printing what
 * is wrong (the caller prints the usage). --help prints it and exits. */
int lg_opts_parse(int argc, char **argv, struct lg_opts *o);
void lg_usage(FILE *out);
const char *lg_mode_name(enum lg_mode m);

/* ---- bookkeeping (loadgen_track.c) ------------------------------------ */

#define LG_RING_BITS 22 /* 4M messages: 80 s at 50k msg/s */
#define LG_RING      (1u << LG_RING_BITS)

/* Latency histogram: 1 µs buckets below 1,024 µs, then 64 buckets per
 * power of two (1.6 % resolution) up to hours. */
#define LG_HIST_LINEAR 1024u
#define LG_HIST_SUB    64u
#define LG_HIST_N      (LG_HIST_LINEAR + 32u * LG_HIST_SUB)

enum lg_state {
    LG_FREE = 0, /* never used */
    LG_OPEN,     /* sent, events still expected */
    LG_DONE,     /* every expected event arrived */
    LG_LOST,     /* timed out before every event arrived */
    LG_REJECT,   /* must produce no event */
    LG_PROBE     /* readiness probe, not counted */
};

struct lg_slot {
    uint32_t send_us; /* since lg_track.base */
    uint8_t got;      /* events received, saturating */
    uint8_t state;    /* enum lg_state */
};

struct lg_hist {
    uint64_t n, max_us;
    uint64_t bucket[LG_HIST_N];
};

struct lg_track {
    struct lg_slot *ring;
    double base;             /* monotonic seconds; slot times count from here */
    double timeout;          /* seconds before an open message counts as lost */
    unsigned fanout;         /* events expected per message */
    uint64_t first_seq;      /* of this run: older events are stale */
    uint64_t next_seq, tail; /* every seq below tail is finished */
    bool measuring, sending; /* counting; still inside the send window */
    double t_first, t_send_end, t_last_done;
    uint64_t sent, rejects, delivered, in_window, lost, lost_events;
    uint64_t dup, wrong, late, stale, outstanding, max_outstanding;
    /* late: messages complete only after their timeout */
    uint64_t probes_back;
    struct lg_hist hist;
};

/* Allocates the ring; sequence numbers start at first_seq. Returns 0, or
 * -1 when out of memory. */
int lg_track_init(struct lg_track *t, unsigned fanout, double timeout,
                  double now, uint64_t first_seq);
void lg_track_free(struct lg_track *t);

/* Claims the next sequence number for a message in `state` (LG_OPEN,
 * LG_REJECT or LG_PROBE) sent at `now`. */
uint64_t lg_track_send(struct lg_track *t, enum lg_state state, double now);

/* Accounts one received event. */
void lg_track_event(struct lg_track *t, const char *payload, size_t len,
                    double now);

/* Finishes open messages older than the timeout, or every open message
 * when `all` is set (the end of a run). */
void lg_track_expire(struct lg_track *t, double now, bool all);

/* Value at quantile q (0..1) in µs, the bucket's midpoint. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

/* Reads the sequence number, and the send time `t` when the event carries
 * one, out of an event: `"seq":N` (relays, the one-rule config) or else
 * the event's `"time"` (BENCH_TS_BASE_MS + seq, the example city).
 * Returns 0, or -1 when there is neither. */
int lg_parse_event(const char *p, size_t len, uint64_t *seq, double *t,
                   bool *has_t);

#endif
