/*
 * Logging: one line per event of note on stderr, level-filtered, carrying
 * the time, the gateway id and the level, as text or as one JSON object
 * per line. Only gateway/ logs; libraries report through return codes
 * and diagnostics.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base.h"
#include "log.h"

static atomic_int log_level = CG_LOG_INFO;
static atomic_bool log_json;
static char log_id[64] = "citygate";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void cg_log_setup(int level, const char *gateway_id)
{
    atomic_store(&log_level, level);
    snprintf(log_id, sizeof(log_id), "%s", gateway_id ? gateway_id : "");
}

void cg_log_set_json(bool json)
{
    atomic_store(&log_json, json);
}

bool cg_log_json(void)
{
    return atomic_load(&log_json);
}

bool cg_log_enabled(int level)
{
    return level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* s as the inside of a JSON string, cut to fit out (never inside an
 * escape). Bytes that are not UTF-8 were replaced before. */
static void json_escape(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

/* A message cut by vsnprintf, or holding a topic's raw bytes, may not be
 * UTF-8; a JSON line must be. */
static void ascii_if_not_utf8(char *msg)
{
    if (cg_utf8_valid(msg, strlen(msg)))
        return;
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
}

static void write_json(const char *ts, const char *level, char *msg)
{
    char id[sizeof(log_id) * 6 + 8], text[1024 * 6 + 8];
    ascii_if_not_utf8(msg);
    json_escape(log_id, id, sizeof(id));
    json_escape(msg, text, sizeof(text));
    fprintf(stderr,
            "{\"time\":\"%s\",\"gateway\":\"%s\",\"level\":\"%s\","
            "\"msg\":\"%s\"}\n",
            ts, id, level, text);
}

void cg_log(int level, const char *fmt, ...)
{
    if (!cg_log_enabled(level))
        return;
    char msg[1024], ts[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cg_time_format(cg_time_now(), ts);
    const char *name = level_names[level < 0 ? 0 : level > 3 ? 3 : level];
    /* One fprintf per line: stdio's lock keeps lines from interleaving. */
    if (atomic_load_explicit(&log_json, memory_order_relaxed))
        write_json(ts, name, msg);
    else
        fprintf(stderr, "%s %s %s: %s\n", ts, log_id, name, msg);
}

/* ---- rate-limited lines ------------------------------------------------ */

void cg_log_limit_init(struct cg_log_limit *l, double period)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    l->period = period;
}

void cg_log_limit_destroy(struct cg_log_limit *l)
{
    pthread_mutex_destroy(&l->lock);
}

uint64_t cg_log_limit_event(struct cg_log_limit *l, double now,
                            const char *text, char *out, size_t size)
{
    uint64_t n = 0;
    pthread_mutex_lock(&l->lock);
    if (now >= l->next) {
        n = l->held + 1;
        l->held = 0;
        l->next = now + l->period;
        snprintf(out, size, "%s", text);
    } else {
        l->held++;
        snprintf(l->latest, sizeof(l->latest), "%s", text);
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

uint64_t cg_log_limit_flush(struct cg_log_limit *l, double now, char *out,
                            size_t size)
{
    uint64_t n = 0;
    pthread_mutex_lock(&l->lock);
    if (l->held && now >= l->next) {
        n = l->held;
        l->held = 0;
        l->next = now + l->period;
        snprintf(out, size, "%s", l->latest);
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}
