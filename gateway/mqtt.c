/*
 * The MQTT interface (mqtt.h): dispatch to the backend the broker config
 * names (`broker.client: paho | mosquitto`), and what backends share:
 * publish tickets, filter lists and the reconnect backoff.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqtt_backend.h"

#define BACKOFF_MAX 30.0

void cg_mqtt_global_init(void)
{
    mqtt__paho_global_init();
    mqtt__mosq_global_init();
}

int cg_mqtt_new(const struct cg_broker_conf *b, const struct cg_mqtt_will *will,
                const char *persist_dir, const struct cg_mqtt_callbacks *cb,
                struct cg_mqtt **out, char *err, size_t errlen)
{
    if (b->client == CG_CLIENT_MOSQUITTO)
        return mqtt__mosq_new(b, will, persist_dir, cb, out, err, errlen);
    return mqtt__paho_new(b, will, persist_dir, cb, out, err, errlen);
}

int cg_mqtt_subscribe(struct cg_mqtt *m, const char *const *filters, size_t n,
                      int qos)
{
    return m->ops->subscribe(m, filters, n, qos);
}

int cg_mqtt_resubscribe(struct cg_mqtt *m, const char *const *filters, size_t n,
                        int qos)
{
    return m->ops->resubscribe(m, filters, n, qos);
}

int cg_mqtt_start(struct cg_mqtt *m)
{
    return m->ops->start(m);
}

bool cg_mqtt_connected(const struct cg_mqtt *m)
{
    return m->ops->connected(m);
}

int cg_mqtt_publish(struct cg_mqtt *m, const char *topic, const void *payload,
                    size_t len, int qos, bool retain, unsigned *ticket)
{
    return m->ops->publish(m, topic, payload, len, qos, retain, ticket);
}

bool cg_mqtt_inline_publish_ok(const struct cg_mqtt *m)
{
    return m->ops->inline_publish_ok;
}

void cg_mqtt_pause_intake(struct cg_mqtt *m)
{
    m->ops->suspend(m); /* stop reading; what is read is still processed */
}

void cg_mqtt_suspend(struct cg_mqtt *m)
{
    m->ops->suspend(m);
}

void cg_mqtt_resume(struct cg_mqtt *m)
{
    m->ops->resume(m);
}

void cg_mqtt_stop(struct cg_mqtt *m, int timeout_ms)
{
    m->ops->stop(m, timeout_ms);
}

void cg_mqtt_free(struct cg_mqtt *m)
{
    if (m)
        m->ops->free(m);
}

/* ---- tickets ------------------------------------------------------------ */

enum { SLOT_FREE = 0, SLOT_PENDING, SLOT_OK, SLOT_FAILED };

void mqtt__tickets_init(struct mqtt_tickets *t)
{
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
}

void mqtt__tickets_destroy(struct mqtt_tickets *t)
{
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
}

bool mqtt__tickets_reserve(struct mqtt_tickets *t, unsigned *ticket)
{
    pthread_mutex_lock(&t->lock);
    bool ok = t->next - t->oldest < MQTT_RING;
    if (ok) {
        *ticket = t->next++;
        t->state[*ticket % MQTT_RING] = SLOT_PENDING;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void mqtt__tickets_complete(struct mqtt_tickets *t, unsigned ticket, bool ok)
{
    pthread_mutex_lock(&t->lock);
    t->state[ticket % MQTT_RING] = ok ? SLOT_OK : SLOT_FAILED;
    while (t->oldest != t->next && t->state[t->oldest % MQTT_RING] >= SLOT_OK)
        t->oldest++;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int cg_mqtt_wait(struct cg_mqtt *m, unsigned ticket, int timeout_ms)
{
    struct mqtt_tickets *t = &m->tickets;
    struct timespec until;
    deadline_after(&until, timeout_ms);
    int result = CG_OK;
    pthread_mutex_lock(&t->lock);
    while ((int)(ticket - t->oldest) >= 0 &&
           t->state[ticket % MQTT_RING] == SLOT_PENDING) {
        if (pthread_cond_timedwait(&t->cond, &t->lock, &until)) {
            result = CG_ETIMEDOUT;
            break;
        }
    }
    if (result == CG_OK && t->state[ticket % MQTT_RING] == SLOT_FAILED)
        result = CG_RETRY;
    pthread_mutex_unlock(&t->lock);
    return result;
}

/* ---- filters and backoff ---------------------------------------------- */

void mqtt__filters_free(struct mqtt_filters *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        cg_free(fl->f[i]);
    cg_free(fl->f);
    cg_free(fl->qos);
    memset(fl, 0, sizeof(*fl));
}

int mqtt__filters_set(struct mqtt_filters *fl, const char *const *filters,
                      size_t n, int qos)
{
    struct mqtt_filters next = {cg_calloc(n ? n : 1, sizeof(char *)),
                                cg_calloc(n ? n : 1, sizeof(int)), 0};
    int rc = next.f && next.qos ? CG_OK : CG_ENOMEM;
    for (size_t i = 0; rc == CG_OK && i < n; i++) {
        if (!(next.f[i] = cg_strdup(filters[i])))
            rc = CG_ENOMEM;
        next.qos[i] = qos;
        next.n += rc == CG_OK;
    }
    if (rc != CG_OK) {
        mqtt__filters_free(&next);
        return rc;
    }
    mqtt__filters_free(fl);
    *fl = next;
    return CG_OK;
}

bool mqtt__filters_has(const struct mqtt_filters *fl, const char *f)
{
    for (size_t i = 0; i < fl->n; i++)
        if (!strcmp(fl->f[i], f))
            return true;
    return false;
}

double mqtt__next_wait(double *backoff)
{
    double wait = *backoff * (0.5 + (double)rand() / RAND_MAX);
    *backoff = *backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : *backoff * 2;
    return wait;
}
