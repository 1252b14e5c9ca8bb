/*
 * The benchmark's topics and payloads (see payload.h). Writing a message
 * allocates nothing: the load generator builds one per publish, and
 * engine_bench builds its set once before it measures.
 */
#include <stdio.h>
#include <string.h>

#include "payload.h"

static unsigned device_of(const struct bench_shape *s, uint64_t seq)
{
    uint64_t per = s->prefixes ? s->prefixes : 1;
    uint64_t devices = s->devices ? s->devices : 1;
    return (unsigned)((seq / per) % devices);
}

size_t bench_payload_write(char *buf, size_t cap, const struct bench_shape *s,
                           uint64_t seq, double t, bool reject)
{
    /* The closing `"}` of the pad field is added after the padding. */
    int n = snprintf(buf, cap,
                     "{\"seq\":%llu,\"t\":%.6f,\"ts\":%llu,\"dev\":\"d%u\","
                     "\"zone\":\"haidian\",\"pm2_5_24h\":41.2,"
                     "\"pm10_24h\":30.5,\"no2_24h\":12.0,\"o3_8h\":60.0,"
                     "\"temp_f\":41.0,\"rh\":63,\"status\":\"%s\",\"pad\":\"",
                     (unsigned long long)seq, t,
                     (unsigned long long)(BENCH_TS_BASE_MS + seq),
                     device_of(s, seq), reject ? "fault" : "ok");
    if (n < 0 || (size_t)n + 2 >= cap)
        return 0;
    size_t len = (size_t)n;
    size_t want = s->size < cap - 1 ? s->size : cap - 1;
    if (want > len + 2) {
        memset(buf + len, 'x', want - len - 2);
        len = want - 2;
    }
    memcpy(buf + len, "\"}", 3);
    return len + 2;
}

size_t bench_topic_write(char *buf, size_t cap, const struct bench_shape *s,
                         uint64_t seq)
{
    int n;
    if (s->prefixes)
        n = snprintf(buf, cap, "%s%u/d%u/telemetry", s->prefix,
                     (unsigned)(seq % s->prefixes), device_of(s, seq));
    else
        n = snprintf(buf, cap, "%s/d%u/telemetry", s->prefix,
                     device_of(s, seq));
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
