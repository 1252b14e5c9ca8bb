/*
 * The MQTT interface (mqtt.h) on the Eclipse Paho asynchronous client.
 *
 * Paho runs its own threads; this file turns them into the small contract
 * of mqtt.h:
 *   - Arrival: Paho acknowledges a QoS 1 message when the callback returns
 *     1, so we return 1 only when the gateway says the message is done.
 *   - Completion: each publish gets a ticket; Paho's onSuccess/onFailure
 *     mark it in a ring, and waiters sleep on a condition variable (Paho's
 *     own waitForCompletion polls with 100 ms sleeps).
 *   - Reconnection: our own thread reconnects with capped exponential
 *     backoff and jitter, which Paho's automatic reconnect lacks.
 */
#include <MQTTAsync.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway.h"
#include "mqtt.h"

#define RING 65536u /* publishes in flight at most */
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 30.0

enum { SLOT_FREE = 0, SLOT_PENDING, SLOT_OK, SLOT_FAILED };

struct slot {
    struct cg_mqtt *m;
    unsigned ticket;
};

struct cg_mqtt {
    MQTTAsync client;
    struct cg_mqtt_callbacks cb;
    const struct cg_broker_conf *conf;
    char *will_topic, *will_payload;
    MQTTAsync_willOptions will;
    MQTTAsync_SSLOptions ssl;
    bool has_will;
    char **filters;
    int *qos;
    size_t n_filters;

    pthread_mutex_t lock;
    pthread_cond_t cond;  /* publish completions */
    pthread_cond_t rcond; /* connect requests and stop, for reconnector */
    pthread_t reconnector;
    bool started, stopping, need_connect, connecting, suspended;
    atomic_bool connected, paused;
    double backoff;

    unsigned next_ticket, oldest; /* oldest ticket not yet completed */
    uint8_t state[RING];
    struct slot slots[RING];
};

static void on_connect_ok(void *ctx, MQTTAsync_successData *r);
static void on_connect_fail(void *ctx, MQTTAsync_failureData *r);
static void free_filters(char **filters, int *qos, size_t n);

/* ---- arrival ------------------------------------------------------------ */

static int on_message(void *ctx, char *topic, int topic_len,
                      MQTTAsync_message *msg)
{
    struct cg_mqtt *m = ctx;
    size_t tlen = topic_len ? (size_t)topic_len : strlen(topic);
    if (atomic_load(&m->paused)) {
        /* Intake stopped for shutdown: leave the message unacknowledged so
         * the broker keeps it for the next start. */
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return 0;
    }
    int rc = m->cb.message ? m->cb.message(m->cb.user, topic, tlen,
                                           msg->payload,
                                           (size_t)msg->payloadlen, msg->qos)
                           : CG_OK;
    if (rc == CG_RETRY)
        return 0; /* Paho calls again with the same message */
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_lost(void *ctx, char *cause)
{
    struct cg_mqtt *m = ctx;
    atomic_store(&m->connected, false);
    pthread_mutex_lock(&m->lock);
    m->need_connect = !m->stopping;
    pthread_cond_signal(&m->rcond);
    pthread_mutex_unlock(&m->lock);
    if (m->cb.lost)
        m->cb.lost(m->cb.user, cause ? cause : "connection lost");
    MQTTAsync_free(cause);
}

/* ---- publish completion --------------------------------------------- */

static void complete(struct slot *s, int state)
{
    struct cg_mqtt *m = s->m;
    pthread_mutex_lock(&m->lock);
    m->state[s->ticket % RING] = (uint8_t)state;
    while (m->oldest != m->next_ticket &&
           m->state[m->oldest % RING] >= SLOT_OK)
        m->oldest++;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

static void on_publish_ok(void *ctx, MQTTAsync_successData *r)
{
    complete(ctx, SLOT_OK);
}

static void on_publish_fail(void *ctx, MQTTAsync_failureData *r)
{
    complete(ctx, SLOT_FAILED);
}

/* Reserves a ticket, or returns false when RING publishes are in flight. */
static bool reserve(struct cg_mqtt *m, unsigned *ticket)
{
    pthread_mutex_lock(&m->lock);
    bool ok = m->next_ticket - m->oldest < RING;
    if (ok) {
        *ticket = m->next_ticket++;
        m->state[*ticket % RING] = SLOT_PENDING;
        m->slots[*ticket % RING] = (struct slot){m, *ticket};
    }
    pthread_mutex_unlock(&m->lock);
    return ok;
}

int cg_mqtt_publish(struct cg_mqtt *m, const char *topic, const void *payload,
                    size_t len, int qos, bool retain, unsigned *ticket)
{
    if (!atomic_load(&m->connected) || !reserve(m, ticket))
        return CG_RETRY;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_publish_ok;
    ro.onFailure = on_publish_fail;
    ro.context = &m->slots[*ticket % RING];
    int rc = MQTTAsync_send(m->client, topic, (int)len, payload, qos,
                            retain, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        complete(&m->slots[*ticket % RING], SLOT_FAILED);
        return rc == MQTTASYNC_FAILURE ? CG_ENOMEM : CG_RETRY;
    }
    return CG_OK;
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
    struct timespec until;
    deadline_after(&until, timeout_ms);
    int result = CG_OK;
    pthread_mutex_lock(&m->lock);
    while ((int)(ticket - m->oldest) >= 0 &&
           m->state[ticket % RING] == SLOT_PENDING) {
        if (pthread_cond_timedwait(&m->cond, &m->lock, &until)) {
            result = CG_ETIMEDOUT;
            break;
        }
    }
    if (result == CG_OK && m->state[ticket % RING] == SLOT_FAILED)
        result = CG_RETRY;
    pthread_mutex_unlock(&m->lock);
    return result;
}

/* ---- connection ------------------------------------------------------ */

/* Subscribes the current list. The list is copied under our lock and
 * handed to Paho outside it: Paho's threads take our lock in callbacks
 * while holding theirs, so never call into Paho with ours held. */
static void subscribe_all(struct cg_mqtt *m)
{
    pthread_mutex_lock(&m->lock);
    size_t n = m->n_filters;
    char **f = cg_calloc(n ? n : 1, sizeof(char *));
    int *q = cg_calloc(n ? n : 1, sizeof(int));
    for (size_t i = 0; f && q && i < n; i++) {
        f[i] = m->filters[i];
        q[i] = m->qos[i];
    }
    char **copies = f ? cg_calloc(n ? n : 1, sizeof(char *)) : NULL;
    for (size_t i = 0; copies && i < n; i++)
        copies[i] = cg_strdup(f[i]);
    pthread_mutex_unlock(&m->lock);
    bool ok = copies && q;
    for (size_t i = 0; ok && i < n; i++)
        ok = copies[i] != NULL;
    if (n && ok) {
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        int rc = MQTTAsync_subscribeMany(m->client, (int)n, copies, q, &ro);
        if (rc != MQTTASYNC_SUCCESS)
            cg_log(CG_LOG_ERROR, "mqtt: subscribe failed: %s",
                   MQTTAsync_strerror(rc));
    }
    free_filters(copies, q, copies ? n : 0);
    cg_free(f);
}

static void on_connect_ok(void *ctx, MQTTAsync_successData *r)
{
    struct cg_mqtt *m = ctx;
    pthread_mutex_lock(&m->lock);
    m->connecting = false;
    m->backoff = BACKOFF_MIN;
    pthread_mutex_unlock(&m->lock);
    atomic_store(&m->connected, true);
    subscribe_all(m);
    if (m->cb.connected)
        m->cb.connected(m->cb.user, r && r->alt.connect.sessionPresent);
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData *r)
{
    struct cg_mqtt *m = ctx;
    cg_log(CG_LOG_WARN, "mqtt: cannot connect to %s: %s", m->conf->uri,
           r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : 0));
    pthread_mutex_lock(&m->lock);
    m->connecting = false;
    m->need_connect = !m->stopping;
    pthread_cond_signal(&m->rcond);
    pthread_mutex_unlock(&m->lock);
}

static void fill_connect_options(struct cg_mqtt *m,
                                 MQTTAsync_connectOptions *o)
{
    const struct cg_broker_conf *b = m->conf;
    o->keepAliveInterval = b->keepalive;
    o->cleansession = b->clean_session;
    o->username = b->username;
    o->password = b->password;
    o->connectTimeout = 10;
    o->maxInflight = 100; /* Paho searches its in-flight list linearly */
    o->automaticReconnect = 0; /* we reconnect, with jitter */
    o->will = m->has_will ? &m->will : NULL;
    o->ssl = b->tls.enabled ? &m->ssl : NULL;
    o->onSuccess = on_connect_ok;
    o->onFailure = on_connect_fail;
    o->context = m;
}

static void connect_now(struct cg_mqtt *m)
{
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    fill_connect_options(m, &o);
    int rc = MQTTAsync_connect(m->client, &o);
    if (rc != MQTTASYNC_SUCCESS) {
        cg_log(CG_LOG_WARN, "mqtt: connect to %s failed: %s", m->conf->uri,
               MQTTAsync_strerror(rc));
        pthread_mutex_lock(&m->lock);
        m->connecting = false;
        m->need_connect = !m->stopping;
        pthread_mutex_unlock(&m->lock);
    }
}

/* Waits the backoff (with jitter: 50% to 150%), then connects. Returns
 * false when stopping. Called with the lock held. */
static bool wait_backoff(struct cg_mqtt *m, bool first)
{
    double jitter = 0.5 + (double)rand() / RAND_MAX;
    int ms = first ? 0 : (int)(m->backoff * jitter * 1000.0);
    struct timespec until;
    deadline_after(&until, ms);
    while (!m->stopping &&
           pthread_cond_timedwait(&m->rcond, &m->lock, &until) == 0)
        ;
    if (!first) {
        m->backoff *= 2;
        if (m->backoff > BACKOFF_MAX)
            m->backoff = BACKOFF_MAX;
    }
    return !m->stopping;
}

static void *reconnect_loop(void *arg)
{
    struct cg_mqtt *m = arg;
    bool first = true;
    pthread_mutex_lock(&m->lock);
    for (;;) {
        while (!m->stopping &&
               (!m->need_connect || m->connecting || m->suspended))
            pthread_cond_wait(&m->rcond, &m->lock);
        if (m->stopping || !wait_backoff(m, first))
            break;
        first = false;
        m->need_connect = false;
        m->connecting = true;
        pthread_mutex_unlock(&m->lock);
        connect_now(m);
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/* ---- lifetime ---------------------------------------------------------- */

static int set_will(struct cg_mqtt *m, const struct cg_mqtt_will *w)
{
    MQTTAsync_willOptions init = MQTTAsync_willOptions_initializer;
    m->will = init;
    if (!w)
        return CG_OK;
    m->will_topic = cg_strdup(w->topic);
    m->will_payload = cg_strdup(w->payload);
    if (!m->will_topic || !m->will_payload)
        return CG_ENOMEM;
    m->will.topicName = m->will_topic;
    m->will.message = m->will_payload;
    m->will.qos = w->qos;
    m->will.retained = w->retain;
    m->has_will = true;
    return CG_OK;
}

static void set_tls(struct cg_mqtt *m)
{
    MQTTAsync_SSLOptions init = MQTTAsync_SSLOptions_initializer;
    const struct cg_tls_conf *t = &m->conf->tls;
    m->ssl = init;
    m->ssl.trustStore = t->ca_file;
    m->ssl.keyStore = t->cert_file;
    m->ssl.privateKey = t->key_file;
    m->ssl.enableServerCertAuth = t->verify;
    m->ssl.verify = t->verify;
}

static int create_client(struct cg_mqtt *m, const char *persist_dir,
                         char *err, size_t errlen)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.sendWhileDisconnected = 0; /* our queues hold what waits */
    int rc = MQTTAsync_createWithOptions(
        &m->client, m->conf->uri, m->conf->client_id,
        persist_dir ? MQTTCLIENT_PERSISTENCE_DEFAULT
                    : MQTTCLIENT_PERSISTENCE_NONE,
        (void *)persist_dir, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot create an MQTT client for %s: %s",
                 m->conf->uri, MQTTAsync_strerror(rc));
        return CG_EINVAL;
    }
    rc = MQTTAsync_setCallbacks(m->client, m, on_lost, on_message, NULL);
    return rc == MQTTASYNC_SUCCESS ? CG_OK : CG_EINVAL;
}

int cg_mqtt_new(const struct cg_broker_conf *b, const struct cg_mqtt_will *will,
                const char *persist_dir, const struct cg_mqtt_callbacks *cb,
                struct cg_mqtt **out, char *err, size_t errlen)
{
    *out = NULL;
    struct cg_mqtt *m = cg_calloc(1, sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    m->conf = b;
    m->cb = *cb;
    m->backoff = BACKOFF_MIN;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    pthread_cond_init(&m->rcond, NULL);
    set_tls(m);
    int rc = set_will(m, will);
    if (rc == CG_OK)
        rc = create_client(m, persist_dir, err, errlen);
    if (rc != CG_OK) {
        cg_mqtt_free(m);
        return rc;
    }
    *out = m;
    return CG_OK;
}

void cg_mqtt_global_init(void)
{
    MQTTAsync_init_options o = MQTTAsync_init_options_initializer;
    o.do_openssl_init = 1;
    MQTTAsync_global_init(&o);
}

static void free_filters(char **filters, int *qos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cg_free(filters[i]);
    cg_free(filters);
    cg_free(qos);
}

static bool listed(char *const *list, size_t n, const char *f)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], f))
            return true;
    return false;
}

/* Unsubscribes what the new list dropped. The subscribe of the new list
 * is idempotent for filters that stay. */
static void unsubscribe_gone(struct cg_mqtt *m, char *const *old, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (listed(m->filters, m->n_filters, old[i]))
            continue;
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        MQTTAsync_unsubscribe(m->client, old[i], &ro);
    }
}

int cg_mqtt_resubscribe(struct cg_mqtt *m, const char *const *filters,
                        size_t n, int qos)
{
    pthread_mutex_lock(&m->lock);
    char **old = m->filters;
    int *old_qos = m->qos;
    size_t old_n = m->n_filters;
    m->filters = NULL;
    m->n_filters = 0;
    int rc = cg_mqtt_subscribe(m, filters, n, qos);
    pthread_mutex_unlock(&m->lock);
    if (rc == CG_OK && atomic_load(&m->connected)) {
        unsubscribe_gone(m, old, old_n);
        subscribe_all(m);
    }
    free_filters(old, old_qos, old_n);
    return rc;
}

int cg_mqtt_subscribe(struct cg_mqtt *m, const char *const *filters,
                      size_t n, int qos)
{
    m->filters = cg_calloc(n ? n : 1, sizeof(char *));
    m->qos = cg_calloc(n ? n : 1, sizeof(int));
    if (!m->filters || !m->qos)
        return CG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(m->filters[i] = cg_strdup(filters[i])))
            return CG_ENOMEM;
        m->qos[i] = qos;
        m->n_filters++;
    }
    return CG_OK;
}

int cg_mqtt_start(struct cg_mqtt *m)
{
    pthread_mutex_lock(&m->lock);
    m->need_connect = true;
    int rc = pthread_create(&m->reconnector, NULL, reconnect_loop, m);
    m->started = rc == 0;
    pthread_mutex_unlock(&m->lock);
    return rc == 0 ? CG_OK : CG_ENOMEM;
}

bool cg_mqtt_connected(const struct cg_mqtt *m)
{
    return atomic_load(&((struct cg_mqtt *)m)->connected);
}

void cg_mqtt_pause_intake(struct cg_mqtt *m)
{
    atomic_store(&m->paused, true);
}

static void disconnect_now(struct cg_mqtt *m, int timeout_ms)
{
    if (!m->client || !MQTTAsync_isConnected(m->client))
        return;
    MQTTAsync_disconnectOptions o = MQTTAsync_disconnectOptions_initializer;
    o.timeout = timeout_ms;
    MQTTAsync_disconnect(m->client, &o);
    for (int i = 0; i < timeout_ms / 10 && MQTTAsync_isConnected(m->client);
         i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void cg_mqtt_suspend(struct cg_mqtt *m)
{
    pthread_mutex_lock(&m->lock);
    m->suspended = true;
    pthread_mutex_unlock(&m->lock);
    disconnect_now(m, 1000);
    atomic_store(&m->connected, false);
}

void cg_mqtt_resume(struct cg_mqtt *m)
{
    pthread_mutex_lock(&m->lock);
    m->suspended = false;
    m->need_connect = true;
    pthread_cond_signal(&m->rcond);
    pthread_mutex_unlock(&m->lock);
}

void cg_mqtt_stop(struct cg_mqtt *m, int timeout_ms)
{
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_broadcast(&m->rcond);
    pthread_mutex_unlock(&m->lock);
    if (m->started) {
        pthread_join(m->reconnector, NULL);
        m->started = false;
    }
    disconnect_now(m, timeout_ms);
    atomic_store(&m->connected, false);
}

void cg_mqtt_free(struct cg_mqtt *m)
{
    if (!m)
        return;
    cg_mqtt_stop(m, 0);
    if (m->client)
        MQTTAsync_destroy(&m->client);
    free_filters(m->filters, m->qos, m->n_filters);
    cg_free(m->will_topic);
    cg_free(m->will_payload);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    pthread_cond_destroy(&m->rcond);
    cg_free(m);
}
