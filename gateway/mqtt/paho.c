/*
 * The MQTT backend on the Eclipse Paho asynchronous client (the default).
 *
 * Paho runs its own threads; this file fits them to mqtt.h:
 *   - Arrival: Paho calls our callback before it sends the PUBACK of a
 *     QoS 1 message, so returning 1 after the pipeline spooled the events
 *     is at-least-once. A message we cannot take now (0) stays in Paho's
 *     queue, persisted under persist_dir, until Paho offers it again.
 *   - Completion: publishes complete through onSuccess/onFailure into the
 *     shared ticket ring (Paho's own waitForCompletion polls with 100 ms
 *     sleeps).
 *   - Reconnection: our own thread reconnects with capped exponential
 *     backoff and jitter, which Paho's automatic reconnect lacks. It also
 *     logs why an attempt failed: Paho's words for a TLS failure ("TCP/TLS
 *     connect failure") say nothing, so for those it asks OpenSSL through
 *     a handshake of its own, which must not run on Paho's threads (every
 *     client shares them).
 * Never call into Paho with our lock held: Paho's threads take our lock in
 * callbacks while holding theirs.
 */
#include <MQTTAsync.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define BACKOFF_MIN 0.5

struct slot {
    struct paho *p;
    unsigned ticket;
};

/* A failed connect attempt, handed from Paho's thread to ours. */
struct failure {
    bool pending;
    int code;
    char message[160];
    char tls[160]; /* the first OpenSSL error of the attempt, if any */
};

struct paho {
    struct cg_mqtt base;
    MQTTAsync client;
    struct cg_mqtt_callbacks cb;
    const struct cg_broker_conf *conf; /* &base.conf */
    char *will_topic, *will_payload;
    MQTTAsync_willOptions will;
    MQTTAsync_SSLOptions ssl;
    bool has_will;
    struct mqtt_filters filters;

    pthread_mutex_t lock;
    pthread_cond_t rcond; /* connect requests and stop, for reconnector */
    pthread_t reconnector;
    bool started, stopping, need_connect, connecting, suspended;
    atomic_bool connected;
    double backoff;
    struct failure fail;
    struct slot slots[MQTT_RING];
};

static struct paho *of(const struct cg_mqtt *m)
{
    return (struct paho *)m;
}

/* ---- arrival ------------------------------------------------------------ */

static int on_message(void *ctx, char *topic, int topic_len,
                      MQTTAsync_message *msg)
{
    struct paho *p = ctx;
    size_t tlen = topic_len ? (size_t)topic_len : strlen(topic);
    int rc = p->cb.message
                 ? p->cb.message(p->cb.user, topic, tlen, msg->payload,
                                 (size_t)msg->payloadlen, msg->qos)
                 : CG_OK;
    if (rc == CG_RETRY)
        return 0; /* Paho keeps it and offers it again */
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_lost(void *ctx, char *cause)
{
    struct paho *p = ctx;
    atomic_store(&p->connected, false);
    pthread_mutex_lock(&p->lock);
    p->need_connect = !p->stopping;
    pthread_cond_signal(&p->rcond);
    pthread_mutex_unlock(&p->lock);
    mqtt__log_lost(&p->base, cause);
    if (p->cb.lost)
        p->cb.lost(p->cb.user, cause ? cause : "connection lost");
    MQTTAsync_free(cause);
}

/* ---- publish ------------------------------------------------------------- */

static void on_publish_ok(void *ctx, MQTTAsync_successData *r)
{
    struct slot *s = ctx;
    mqtt__tickets_complete(&s->p->base.tickets, s->ticket, true);
}

static void on_publish_fail(void *ctx, MQTTAsync_failureData *r)
{
    struct slot *s = ctx;
    mqtt__tickets_complete(&s->p->base.tickets, s->ticket, false);
}

static int paho_publish(struct cg_mqtt *m, const char *topic,
                        const void *payload, size_t len, int qos, bool retain,
                        unsigned *ticket)
{
    struct paho *p = of(m);
    if (!atomic_load(&p->connected) ||
        !mqtt__tickets_reserve(&m->tickets, ticket))
        return CG_RETRY;
    struct slot *s = &p->slots[*ticket % MQTT_RING];
    s->p = p;
    s->ticket = *ticket;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_publish_ok;
    ro.onFailure = on_publish_fail;
    ro.context = s;
    int rc =
        MQTTAsync_send(p->client, topic, (int)len, payload, qos, retain, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        mqtt__tickets_complete(&m->tickets, *ticket, false);
        if (rc == MQTTASYNC_MAX_MESSAGES_INFLIGHT ||
            rc == MQTTASYNC_MAX_BUFFERED_MESSAGES)
            return CG_EFULL; /* wait for an acknowledgement, then again */
        return rc == MQTTASYNC_FAILURE ? CG_ENOMEM : CG_RETRY;
    }
    return CG_OK;
}

/* ---- connection ------------------------------------------------------ */

/* Subscribes a copy of the current list, made under our lock and handed
 * to Paho outside it. */
static void subscribe_all(struct paho *p)
{
    struct mqtt_filters copy = {0};
    pthread_mutex_lock(&p->lock);
    int rc =
        mqtt__filters_set(&copy, (const char *const *)p->filters.f,
                          p->filters.n, p->filters.n ? p->filters.qos[0] : 0);
    pthread_mutex_unlock(&p->lock);
    if (rc == CG_OK && copy.n) {
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        rc = MQTTAsync_subscribeMany(p->client, (int)copy.n, copy.f, copy.qos,
                                     &ro);
        if (rc != MQTTASYNC_SUCCESS)
            cg_log(CG_LOG_ERROR, "%s: subscribe failed: %s", p->base.name,
                   MQTTAsync_strerror(rc));
    }
    mqtt__filters_free(&copy);
}

static void on_connect_ok(void *ctx, MQTTAsync_successData *r)
{
    struct paho *p = ctx;
    pthread_mutex_lock(&p->lock);
    p->connecting = false;
    p->backoff = BACKOFF_MIN;
    pthread_mutex_unlock(&p->lock);
    atomic_store(&p->connected, true);
    subscribe_all(p);
    mqtt__log_connected(&p->base, r && r->alt.connect.sessionPresent);
    if (p->cb.connected)
        p->cb.connected(p->cb.user, r && r->alt.connect.sessionPresent);
}

/* OpenSSL's error lines during a connect attempt (Paho's thread): the
 * first one's reason is kept. */
static int on_tls_error(const char *str, size_t len, void *ctx)
{
    struct paho *p = ctx;
    pthread_mutex_lock(&p->lock);
    if (!p->fail.tls[0])
        mqtt__openssl_reason(str, len, p->fail.tls, sizeof(p->fail.tls));
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData *r)
{
    struct paho *p = ctx;
    pthread_mutex_lock(&p->lock);
    p->fail.pending = true;
    p->fail.code = r ? r->code : MQTTASYNC_FAILURE;
    snprintf(p->fail.message, sizeof(p->fail.message), "%s",
             r && r->message ? r->message : MQTTAsync_strerror(p->fail.code));
    p->connecting = false;
    p->need_connect = !p->stopping;
    pthread_cond_signal(&p->rcond);
    pthread_mutex_unlock(&p->lock);
}

static void fill_connect_options(struct paho *p, MQTTAsync_connectOptions *o)
{
    const struct cg_broker_conf *b = p->conf;
    o->keepAliveInterval = b->keepalive;
    o->cleansession = b->clean_session;
    o->username = b->username;
    o->password = b->password;
    o->connectTimeout = 10;
    o->maxInflight = 100;      /* Paho searches its in-flight list linearly */
    o->automaticReconnect = 0; /* we reconnect, with jitter */
    o->will = p->has_will ? &p->will : NULL;
    o->ssl = b->tls.enabled ? &p->ssl : NULL;
    o->onSuccess = on_connect_ok;
    o->onFailure = on_connect_fail;
    o->context = p;
}

static void connect_now(struct paho *p)
{
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    fill_connect_options(p, &o);
    int rc = MQTTAsync_connect(p->client, &o);
    if (rc != MQTTASYNC_SUCCESS) {
        mqtt__log_refused(&p->base, MQTTAsync_strerror(rc));
        pthread_mutex_lock(&p->lock);
        p->connecting = false;
        p->need_connect = !p->stopping;
        pthread_mutex_unlock(&p->lock);
    }
}

static void deadline_in(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)s;
    ts->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits the jittered backoff unless stopping. Lock held. */
static bool wait_backoff(struct paho *p, bool first)
{
    double wait = first ? 0 : mqtt__next_wait(&p->backoff);
    struct timespec until;
    deadline_in(&until, wait);
    while (!p->stopping &&
           pthread_cond_timedwait(&p->rcond, &p->lock, &until) == 0)
        ;
    return !p->stopping;
}

/* Logs a failure Paho reported, outside the lock (the probe blocks):
 * a positive code is the CONNACK's; MQTTASYNC_FAILURE on a TLS
 * connection is any TCP or TLS failure. Lock held on entry and return. */
static void take_failure(struct paho *p)
{
    struct failure f = p->fail;
    char reason[400];
    memset(&p->fail, 0, sizeof(p->fail));
    pthread_mutex_unlock(&p->lock);
    mqtt__failure_reason(p->conf, f.code > 0 ? f.code : 0,
                         p->conf->tls.enabled && f.code == MQTTASYNC_FAILURE,
                         f.message, f.tls, reason, sizeof(reason));
    mqtt__log_refused(&p->base, reason);
    pthread_mutex_lock(&p->lock);
}

static void *reconnect_loop(void *arg)
{
    struct paho *p = arg;
    bool first = true;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && !p->fail.pending &&
               (!p->need_connect || p->connecting || p->suspended))
            pthread_cond_wait(&p->rcond, &p->lock);
        if (p->fail.pending && !p->stopping) {
            take_failure(p);
            continue;
        }
        if (p->stopping || !wait_backoff(p, first))
            break;
        first = false;
        p->need_connect = false;
        p->connecting = true;
        pthread_mutex_unlock(&p->lock);
        connect_now(p);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- subscriptions ---------------------------------------------------- */

static int paho_subscribe(struct cg_mqtt *m, const char *const *filters,
                          size_t n, int qos)
{
    struct paho *p = of(m);
    pthread_mutex_lock(&p->lock);
    int rc = mqtt__filters_set(&p->filters, filters, n, qos);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Unsubscribes what the new list dropped; subscribing the new list again
 * is harmless for the filters that stay. */
static int paho_resubscribe(struct cg_mqtt *m, const char *const *filters,
                            size_t n, int qos)
{
    struct paho *p = of(m);
    struct mqtt_filters old = {0};
    pthread_mutex_lock(&p->lock);
    old = p->filters;
    memset(&p->filters, 0, sizeof(p->filters));
    int rc = mqtt__filters_set(&p->filters, filters, n, qos);
    pthread_mutex_unlock(&p->lock);
    if (rc == CG_OK && atomic_load(&p->connected)) {
        for (size_t i = 0; i < old.n; i++) {
            if (mqtt__filters_has(&p->filters, old.f[i]))
                continue;
            MQTTAsync_responseOptions ro =
                MQTTAsync_responseOptions_initializer;
            MQTTAsync_unsubscribe(p->client, old.f[i], &ro);
        }
        subscribe_all(p);
    }
    mqtt__filters_free(&old);
    return rc;
}

/* ---- lifetime ---------------------------------------------------------- */

static int paho_start(struct cg_mqtt *m)
{
    struct paho *p = of(m);
    pthread_mutex_lock(&p->lock);
    p->need_connect = true;
    int rc = pthread_create(&p->reconnector, NULL, reconnect_loop, p);
    p->started = rc == 0;
    pthread_mutex_unlock(&p->lock);
    return rc == 0 ? CG_OK : CG_ENOMEM;
}

static bool paho_connected(const struct cg_mqtt *m)
{
    return atomic_load(&of(m)->connected);
}

static void disconnect_now(struct paho *p, int timeout_ms)
{
    if (!p->client || !MQTTAsync_isConnected(p->client))
        return;
    MQTTAsync_disconnectOptions o = MQTTAsync_disconnectOptions_initializer;
    o.timeout = timeout_ms;
    MQTTAsync_disconnect(p->client, &o);
    for (int i = 0; i < timeout_ms / 10 && MQTTAsync_isConnected(p->client);
         i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void paho_suspend(struct cg_mqtt *m)
{
    struct paho *p = of(m);
    pthread_mutex_lock(&p->lock);
    p->suspended = true;
    pthread_mutex_unlock(&p->lock);
    disconnect_now(p, 1000);
    atomic_store(&p->connected, false);
}

static void paho_resume(struct cg_mqtt *m)
{
    struct paho *p = of(m);
    pthread_mutex_lock(&p->lock);
    p->suspended = false;
    p->need_connect = true;
    pthread_cond_signal(&p->rcond);
    pthread_mutex_unlock(&p->lock);
}

static void paho_stop(struct cg_mqtt *m, int timeout_ms)
{
    struct paho *p = of(m);
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->rcond);
    pthread_mutex_unlock(&p->lock);
    if (p->started) {
        pthread_join(p->reconnector, NULL);
        p->started = false;
    }
    disconnect_now(p, timeout_ms);
    atomic_store(&p->connected, false);
}

static void paho_free(struct cg_mqtt *m)
{
    struct paho *p = of(m);
    paho_stop(m, 0);
    if (p->client)
        MQTTAsync_destroy(&p->client);
    mqtt__filters_free(&p->filters);
    cg_free(p->will_topic);
    cg_free(p->will_payload);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->rcond);
    mqtt__tickets_destroy(&m->tickets);
    mqtt__conf_free(&m->conf);
    cg_free(p);
}

static const struct mqtt_ops paho_ops = {
    .subscribe = paho_subscribe,
    .resubscribe = paho_resubscribe,
    .start = paho_start,
    .connected = paho_connected,
    .publish = paho_publish,
    .suspend = paho_suspend,
    .resume = paho_resume,
    .stop = paho_stop,
    .free = paho_free,
    .inline_publish_ok = false,
};

static int set_will(struct paho *p, const struct cg_mqtt_will *w)
{
    MQTTAsync_willOptions init = MQTTAsync_willOptions_initializer;
    p->will = init;
    if (!w)
        return CG_OK;
    p->will_topic = cg_strdup(w->topic);
    p->will_payload = cg_strdup(w->payload);
    if (!p->will_topic || !p->will_payload)
        return CG_ENOMEM;
    p->will.topicName = p->will_topic;
    p->will.message = p->will_payload;
    p->will.qos = w->qos;
    p->will.retained = w->retain;
    p->has_will = true;
    return CG_OK;
}

static void set_tls(struct paho *p)
{
    MQTTAsync_SSLOptions init = MQTTAsync_SSLOptions_initializer;
    const struct cg_tls_conf *t = &p->conf->tls;
    p->ssl = init;
    p->ssl.trustStore = t->ca_file;
    p->ssl.keyStore = t->cert_file;
    p->ssl.privateKey = t->key_file;
    p->ssl.enableServerCertAuth = t->verify;
    p->ssl.verify = t->verify;
    p->ssl.ssl_error_cb = on_tls_error;
    p->ssl.ssl_error_context = p;
}

static int create_client(struct paho *p, const char *persist_dir, char *err,
                         size_t errlen)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.sendWhileDisconnected = 0; /* our spools hold what waits */
    /* Paho counts every publish not yet written as buffered, connected or
     * not, and refuses past 100 by default: too few for several consumers
     * sending batches of 100 on one connection. */
    co.maxBufferedMessages = 4096;
    int rc = MQTTAsync_createWithOptions(
        &p->client, p->conf->uri, p->conf->client_id,
        persist_dir ? MQTTCLIENT_PERSISTENCE_DEFAULT
                    : MQTTCLIENT_PERSISTENCE_NONE,
        (void *)persist_dir, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot create an MQTT client for %s: %s",
                 p->base.shown, MQTTAsync_strerror(rc));
        return CG_EINVAL;
    }
    rc = MQTTAsync_setCallbacks(p->client, p, on_lost, on_message, NULL);
    return rc == MQTTASYNC_SUCCESS ? CG_OK : CG_EINVAL;
}

int mqtt__paho_new(const struct cg_broker_conf *b,
                   const struct cg_mqtt_will *will, const char *persist_dir,
                   const struct cg_mqtt_callbacks *cb, struct cg_mqtt **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    struct paho *p = cg_calloc(1, sizeof(*p));
    if (!p)
        return CG_ENOMEM;
    p->base.ops = &paho_ops;
    mqtt__tickets_init(&p->base.tickets);
    p->conf = &p->base.conf;
    p->cb = *cb;
    p->backoff = BACKOFF_MIN;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->rcond, NULL);
    int rc = mqtt__conf_copy(b, &p->base);
    set_tls(p);
    if (rc == CG_OK)
        rc = set_will(p, will);
    if (rc == CG_OK)
        rc = create_client(p, persist_dir, err, errlen);
    if (rc != CG_OK) {
        paho_free(&p->base);
        return rc;
    }
    *out = &p->base;
    return CG_OK;
}

void mqtt__paho_global_init(void)
{
    MQTTAsync_init_options o = MQTTAsync_init_options_initializer;
    o.do_openssl_init = 1;
    MQTTAsync_global_init(&o);
}
