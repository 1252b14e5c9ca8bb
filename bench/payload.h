/*
 * The benchmark's message: the same topic and payload bytes for every
 * system under test (the bare relays and citygate), so their numbers
 * compare.
 *
 * A payload is one JSON object padded to a fixed size, shaped like the
 * example city's `aircheck` air-quality stations so that the example city
 * processes it as real traffic:
 *
 *   {"seq":123,"t":81234.567890,"ts":1700000000123,"dev":"d17",
 *    "zone":"haidian","pm2_5_24h":41.2,...,"status":"ok","pad":"xx…"}
 *
 * `seq` numbers messages from 0; `t` is the send time on CLOCK_MONOTONIC
 * in seconds; `ts` is the device time in epoch milliseconds, chosen as
 * BENCH_TS_BASE_MS + seq so that the sequence number survives into the
 * `time` of citygate's events even where a rule's `data` drops `seq` (the
 * example city's rules pick their own fields). A message to be rejected
 * by the one-rule config says "status":"fault".
 *
 * Topics: <prefix>/d<k>/telemetry, or with `prefixes` P > 0
 * <prefix><p>/d<k>/telemetry, p = seq mod P, so a run can spread over
 * many topic filters (the rule-scaling configs).
 */
#ifndef CG_BENCH_PAYLOAD_H
#define CG_BENCH_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_TS_BASE_MS  1700000000000ULL /* 2023-11-14T22:13:20Z */
#define BENCH_MAX_PAYLOAD 65536
#define BENCH_MAX_TOPIC   256

struct bench_shape {
    const char *prefix; /* topic prefix */
    unsigned prefixes;  /* 0: one prefix; P: P numbered prefixes */
    unsigned devices;   /* devices per prefix, at least 1 */
    size_t size;        /* payload bytes (more when the fields need it) */
};

/* Writes message seq's payload into buf (cap bytes) and returns its
 * length, or 0 when cap is too small. */
size_t bench_payload_write(char *buf, size_t cap, const struct bench_shape *s,
                           uint64_t seq, double t, bool reject);

/* Writes message seq's topic, NUL-terminated, and returns its length, or
 * 0 when cap is too small. */
size_t bench_topic_write(char *buf, size_t cap, const struct bench_shape *s,
                         uint64_t seq);

#endif
