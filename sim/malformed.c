/*
 * citygate-sim: deliberately bad messages, for the `malformed` scenario.
 *
 * Real fleets send junk: firmware that cuts a frame short, a radio that
 * flips bytes, a device from a vendor nobody configured. Each bad message
 * here starts as a good message of a random device and is then broken in
 * one specific way, so it looks like what arrives in the field and the
 * gateway must dead-letter it with the right reason (SPEC §1): invalid
 * JSON, invalid UTF-8, a truncated LPP frame, a kv pair without '=' and a
 * csv line with a wrong cell count are `decode_error`, an unconfigured
 * vendor is `unknown_vendor`, a payload above max_payload_bytes is
 * `too_large`. None of them contains a newline, so they travel as one line
 * through `mosquitto_sub -v` in the smoke test.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* The example config's max_payload_bytes is 256 KiB; go a little over. */
#define SIM_OVERSIZE (262144 + 4096)

enum {
    BAD_JSON,
    BAD_UTF8,
    BAD_LPP,
    BAD_KV,
    BAD_CSV,
    BAD_VENDOR,
    BAD_SIZE,
    BAD_KINDS
};

/* Writes a good message of a random device whose vendor speaks `format`
 * (NULL: any vendor). Returns 0 or -1. */
static int good_message(struct sim_device *devices, size_t n,
                        struct sim_rng *rng, double now, const char *format,
                        struct sim_msg *m)
{
    size_t start = (size_t)sim__rng_below(rng, (int)n);
    for (size_t i = 0; i < n; i++) {
        struct sim_device *d = &devices[(start + i) % n];
        if (format && strcmp(d->vendor->format, format) != 0)
            continue;
        d->now = now;
        sim__device_step(d);
        cg_buf_reset(&m->payload);
        return d->vendor->gen(d, m);
    }
    return -1; /* no vendor speaks it: the vendor table lost one */
}

/* Replaces the payload with bytes [0, len) of itself plus `tail`. */
static void splice(struct sim_msg *m, size_t len, const char *tail)
{
    m->payload.len = len;
    m->payload.data[len] = '\0';
    cg_buf_puts(&m->payload, tail);
}

/* An object cut short, as a device that lost power mid-send leaves it. */
static void break_json(struct sim_msg *m, struct sim_rng *rng)
{
    splice(m, 1 + (size_t)sim__rng_below(rng, (int)m->payload.len - 1), "");
}

/* A corrupted byte pair inside the first string value: C3 28 is a lead
 * byte followed by a byte that cannot continue it. */
static int break_utf8(struct sim_msg *m)
{
    const char *at = strstr(m->payload.data, "\":\"");
    if (!at)
        return -1;
    size_t cut = (size_t)(at - m->payload.data) + 3;
    char *rest = strdup(m->payload.data + cut);
    if (!rest)
        return -1;
    splice(m, cut, "\xc3\x28");
    cg_buf_puts(&m->payload, rest);
    free(rest);
    return 0;
}

/* The frame loses its last byte, which leaves the last item short. */
static int break_lpp(struct sim_msg *m)
{
    uint8_t frame[64];
    if (m->payload.len * 3 / 4 + 3 > sizeof(frame))
        return -1;
    long n = cg_base64_decode(m->payload.data, m->payload.len, frame);
    if (n < 2)
        return -1;
    cg_buf_reset(&m->payload);
    cg_base64_encode(&m->payload, frame, (size_t)n - 1);
    return 0;
}

/* One pair of the line loses its '='. */
static void break_kv(struct sim_msg *m, struct sim_rng *rng)
{
    char *p = m->payload.data;
    int pairs = 0;
    for (char *q = p; (q = strchr(q, '=')) != NULL; q++)
        pairs++;
    int victim = sim__rng_below(rng, pairs);
    char *eq = strchr(p, '=');
    while (victim-- > 0)
        eq = strchr(eq + 1, '=');
    memmove(eq, eq + 1, strlen(eq + 1) + 1);
    m->payload.len--;
}

/* A firmware update added a column the config does not know, or a line
 * lost its last one. */
static void break_csv(struct sim_msg *m, struct sim_rng *rng)
{
    char *last = strrchr(m->payload.data, ',');
    if (sim__rng_below(rng, 2) == 0 && last)
        splice(m, (size_t)(last - m->payload.data), "");
    else
        cg_buf_puts(&m->payload, ",42");
}

/* A debug dump of one station: valid JSON, just far too big. */
static void oversize(struct sim_msg *m)
{
    cg_buf_reset(&m->payload);
    cg_buf_puts(&m->payload,
                "{\"zone\":\"haidian\",\"status\":\"ok\",\"dump\":\"");
    while (m->payload.len < SIM_OVERSIZE && !m->payload.oom)
        cg_buf_puts(&m->payload,
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    cg_buf_puts(&m->payload, "\"}");
}

static const char *const kind_format[BAD_KINDS] = {
    "json", "json", "lpp", "kv", "csv", "json", "json",
};

int sim__malformed(struct sim_device *devices, size_t n_devices,
                   struct sim_rng *rng, double now, struct sim_msg *m)
{
    int kind = sim__rng_below(rng, BAD_KINDS), rc = 0;
    if (good_message(devices, n_devices, rng, now, kind_format[kind], m) < 0)
        return -1;
    if (kind == BAD_JSON)
        break_json(m, rng);
    else if (kind == BAD_UTF8)
        rc = break_utf8(m);
    else if (kind == BAD_LPP)
        rc = break_lpp(m);
    else if (kind == BAD_KV)
        break_kv(m, rng);
    else if (kind == BAD_CSV)
        break_csv(m, rng);
    else if (kind == BAD_VENDOR)
        rc = sim__topic(m, "vendors/airsense-legacy/pm/ASL-%02d/telemetry",
                        1 + sim__rng_below(rng, 20));
    else
        oversize(m);
    return rc < 0 || m->payload.oom ? -1 : 0;
}
