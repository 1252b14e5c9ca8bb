/*
 * The deliver stage's front (deliver.h): events and dead letters from the
 * pipeline into the outboxes, the intake hold while spools are full or
 * the disk runs low, and the stage's lifetime and counters.
 */
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "internal.h"
#include "log.h"
#include "mqtt/mqtt.h"

#define DEAD_MAX_BYTES (64ULL << 20)
#define NO_SPACE_ROOM  (256ULL << 10)

/* A QoS 0 consumer promises no more than MQTT QoS 0 does: its events go
 * straight out on our connection, skipping the spool, unless a backlog
 * waits there (order first) or the connection is down. */
static bool deliver_direct(struct cg_deliver *d, const struct consumer *c,
                           const struct cg_event *e)
{
    unsigned ticket;
    if (!c->direct || !outbox__idle(c->box))
        return false;
    if (cg_mqtt_publish(d->out, e->topic, e->json, e->json_len, 0, false,
                        &ticket) != CG_OK)
        return false;
    outbox__count_direct(c->box);
    return true;
}

/* Spool errors come back for every retry of a held message: one line a
 * second says what is wrong without flooding the log. */
static void log_spool_error(struct cg_deliver *d, const char *consumer, int rc)
{
    int64_t now = (int64_t)(cg_time_mono() * 1000.0);
    int64_t last = atomic_load(&d->last_error_log);
    if (now - last < 1000 ||
        !atomic_compare_exchange_strong(&d->last_error_log, &last, now))
        return;
    cg_log(CG_LOG_ERROR, "consumer %s: cannot spool events: %s%s", consumer,
           cg_strerror(rc),
           rc == CG_ENOSPC ? " (intake is held until there is room)" : "");
}

/* A failed append is logged; one that met a full disk also holds intake
 * at the broker until the tick finds room again (check_no_space), since
 * the MQTT client would otherwise keep taking messages that it can only
 * park, in memory and in its own persistence on the same full disk. */
static void spool_failed(struct cg_deliver *d, const char *who, int rc)
{
    if (rc == CG_ENOSPC)
        atomic_store(&d->no_space, true);
    log_spool_error(d, who, rc);
}

/* What an append took from the disk's headroom. */
static void spend(struct cg_deliver *d, const struct cg_event *e)
{
    if (d->reserve_bytes)
        atomic_fetch_sub_explicit(&d->headroom, (int64_t)(e->json_len + 128),
                                  memory_order_relaxed);
}

int cg_deliver_event(void *user, const struct cg_delivery *dv)
{
    struct cg_deliver *d = user;
    const struct consumer *c = &d->cur.v[dv->consumer];
    atomic_fetch_add_explicit(&d->events, 1, memory_order_relaxed);
    if (deliver_direct(d, c, &dv->event))
        return CG_OK;
    int rc = outbox__push(c->box, &dv->event);
    if (rc == CG_OK)
        spend(d, &dv->event);
    else if (rc != CG_EINVAL)
        spool_failed(d, dv->consumer_name, rc);
    return rc;
}

int deliver__dead_letter(struct cg_deliver *d, int reason, const char *json,
                         size_t len)
{
    char id[17];
    cg_hex64(cg_hash_mix(cg_hash64(CG_HASH_SEED, json, len)), id);
    struct cg_event ev = {id,
                          d->dead_topic,
                          json,
                          len,
                          reason == CG_DEAD_REJECTED ? CG_SEV_WARNING
                                                     : CG_SEV_INFO,
                          1};
    int rc = outbox__push(d->dead, &ev);
    if (rc == CG_OK)
        spend(d, &ev);
    if (rc == CG_OK && reason >= 0 && reason < CG_DEAD_N_REASONS)
        atomic_fetch_add_explicit(&d->dead_count[reason], 1,
                                  memory_order_relaxed);
    else if (rc != CG_OK)
        spool_failed(d, "dead-letters", rc);
    return rc;
}

static void log_dead_line(int reason, uint64_t n, const char *latest)
{
    cg_log(CG_LOG_INFO,
           "%llu dead letter%s (%s) since the last such line; "
           "latest: %s",
           (unsigned long long)n, n == 1 ? "" : "s",
           cg_dead_reason_name(reason), latest);
}

/* A dead letter says why at info level, but a flood of bad payloads must
 * not become a flood of lines: one line per reason per second, carrying
 * the count. The whole document (payload included) only at debug. */
static void log_dead(struct cg_deliver *d, const struct cg_dead *dead)
{
    char text[256], latest[256];
    if (dead->reason < 0 || dead->reason >= CG_DEAD_N_REASONS)
        return;
    snprintf(text, sizeof(text), "%.*s: %s", (int)dead->topic_len,
             dead->topic ? dead->topic : "", dead->detail ? dead->detail : "");
    uint64_t n = cg_log_limit_event(&d->dead_log[dead->reason], cg_time_mono(),
                                    text, latest, sizeof(latest));
    if (n)
        log_dead_line(dead->reason, n, latest);
    cg_log(CG_LOG_DEBUG, "dead letter (%s): %.*s",
           cg_dead_reason_name(dead->reason), (int)dead->len, dead->json);
}

int cg_deliver_dead(void *user, const struct cg_dead *dead)
{
    struct cg_deliver *d = user;
    log_dead(d, dead);
    return deliver__dead_letter(d, dead->reason, dead->json, dead->len);
}

void cg_deliver_log_held(struct cg_deliver *d)
{
    char latest[256];
    double now = cg_time_mono();
    for (int i = 0; i < CG_DEAD_N_REASONS; i++) {
        uint64_t n =
            cg_log_limit_flush(&d->dead_log[i], now, latest, sizeof(latest));
        if (n)
            log_dead_line(i, n, latest);
    }
}

/* ---- holding intake ------------------------------------------------------ */

bool cg_deliver_blocked(struct cg_deliver *d)
{
    if (atomic_load_explicit(&d->disk_low, memory_order_relaxed) ||
        atomic_load_explicit(&d->no_space, memory_order_relaxed) ||
        (d->reserve_bytes &&
         atomic_load_explicit(&d->headroom, memory_order_relaxed) <= 0))
        return true;
    for (size_t i = 0; i < d->cur.n; i++)
        if (outbox__full(d->cur.v[i].box))
            return true;
    return false;
}

/* After an append met a full disk, intake stays held until the spool's
 * file system has NO_SPACE_ROOM free again (a drained segment gives back
 * 64 KiB or more), rather than flapping on every page the spools free.
 * Whatever the reserve: it may be 0, or the disk filled between ticks. */
static void check_no_space(struct cg_deliver *d)
{
    struct statvfs st;
    if (!atomic_load(&d->no_space) ||
        (statvfs(d->spool_dir, &st) == 0 &&
         (uint64_t)st.f_bavail * st.f_frsize < NO_SPACE_ROOM))
        return;
    atomic_store(&d->no_space, false);
    cg_log(CG_LOG_INFO, "spool disk: room again after running out of space");
}

bool cg_deliver_check_disk(struct cg_deliver *d)
{
    struct statvfs st;
    check_no_space(d);
    if (d->reserve_bytes == 0 || statvfs(d->spool_dir, &st) < 0) {
        atomic_store(&d->disk_low, false); /* unknown: do not hold */
        atomic_store(&d->headroom, INT64_MAX);
        return false;
    }
    uint64_t avail = (uint64_t)st.f_bavail * st.f_frsize;
    bool low = avail < d->reserve_bytes;
    atomic_store(&d->disk_low, low);
    atomic_store(&d->headroom, low ? 0 : (int64_t)(avail - d->reserve_bytes));
    if (low != d->disk_low_logged)
        cg_log(low ? CG_LOG_WARN : CG_LOG_INFO,
               low ? "spool disk: %llu bytes free, below the reserve of %llu: "
                     "holding intake"
                   : "spool disk: %llu bytes free again (reserve %llu)",
               (unsigned long long)avail, (unsigned long long)d->reserve_bytes);
    d->disk_low_logged = low;
    return low;
}

bool cg_deliver_disk_low(const struct cg_deliver *d)
{
    return atomic_load(&d->disk_low);
}

bool cg_deliver_out_of_space(const struct cg_deliver *d)
{
    return atomic_load(&d->no_space);
}

bool cg_deliver_drain(struct cg_deliver *d, int timeout_ms)
{
    double deadline = cg_time_mono() + timeout_ms / 1000.0;
    bool all = true;
    for (size_t i = 0; i < d->cur.n; i++) {
        int left = (int)((deadline - cg_time_mono()) * 1000.0);
        if (d->cur.v[i].box &&
            !outbox__drain(d->cur.v[i].box, left > 0 ? left : 0)) {
            cg_log(CG_LOG_WARN,
                   "consumer %s: shutting down with events undelivered",
                   d->cur.v[i].name);
            all = false;
        }
    }
    int left = (int)((deadline - cg_time_mono()) * 1000.0);
    return outbox__drain(d->dead, left > 0 ? left : 0) && all;
}

/* ---- lifetime and counters ----------------------------------------------- */

int cg_deliver_new(const struct cg_deliver_conf *conf, struct cg_deliver **out)
{
    *out = NULL;
    struct cg_deliver *d = cg_calloc(1, sizeof(*d));
    if (!d)
        return CG_ENOMEM;
    d->out = conf->out;
    d->reserve_bytes = conf->reserve_bytes;
    d->direct_ok = conf->direct_ok;
    d->spool_dir = cg_strdup(conf->spool_dir);
    d->dead_topic = cg_strdup(conf->dead_letter_topic);
    for (int i = 0; i < CG_DEAD_N_REASONS; i++)
        cg_log_limit_init(&d->dead_log[i], 1.0);
    cg_deliver_check_disk(d); /* the headroom, before the first event */
    struct cg_diags diags = {0};
    struct cg_value opts = {.type = CG_OBJ};
    struct cg_pos pos = {conf->spool_dir, 0, 0};
    struct cg_instance *sink = NULL;
    int rc = d->spool_dir && d->dead_topic ? CG_OK : CG_ENOMEM;
    if (rc == CG_OK)
        rc = cg_instance_new(&deliver__dead_sink, "dead-letters", &opts, &pos,
                             NULL, 0, d->out, &sink, &diags);
    cg_diags_free(&diags);
    struct outbox_conf oc = {
        "dead-letters", ".dead-letters",      d->spool_dir, 100, 0,
        DEAD_MAX_BYTES, CG_SPOOL_DROP_OLDEST, NULL,         NULL};
    if (rc == CG_OK)
        rc = outbox__new(&oc, sink, &d->dead);
    if (rc != CG_OK) {
        cg_deliver_free(d);
        return rc;
    }
    *out = d;
    return CG_OK;
}

void cg_deliver_free(struct cg_deliver *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->cur.n; i++)
        outbox__cancel(d->cur.v[i].box);
    outbox__cancel(d->dead);
    deliver__consumers_free(d);
    outbox__free(d->dead);
    cg_deliver_log_held(d); /* the count of the last second, too */
    for (int i = 0; i < CG_DEAD_N_REASONS; i++)
        cg_log_limit_destroy(&d->dead_log[i]);
    cg_free(d->spool_dir);
    cg_free(d->dead_topic);
    cg_free(d);
}

size_t cg_deliver_consumer_stats(struct cg_deliver *d, size_t i,
                                 const char **name, struct cg_consumer_stats *s)
{
    if (i < d->cur.n) {
        const struct consumer *c = &d->cur.v[i];
        *name = c->name;
        outbox__stats(c->box, s);
        if (c->own_mqtt)
            s->broker = cg_mqtt_connected(c->own_mqtt) ? 1 : 0;
    }
    return d->cur.n;
}

uint64_t cg_deliver_dead_count(const struct cg_deliver *d, int reason)
{
    return reason >= 0 && reason < CG_DEAD_N_REASONS
               ? atomic_load(&d->dead_count[reason])
               : 0;
}

uint64_t cg_deliver_event_count(const struct cg_deliver *d)
{
    return atomic_load(&d->events);
}
