/*
 * The MQTT backend on libmosquitto (`broker.client: mosquitto`), from the
 * project that ships the test broker; cheaper per message than Paho, and
 * it sets TCP_NODELAY.
 *
 * One network thread per client (ours: see net_run) reads, writes and
 * calls our callbacks. At-least-once: for a QoS 1 message libmosquitto
 * queues the PUBACK before calling on_message, but in threaded mode that
 * thread writes it only after on_message returns; so returning after the
 * pipeline spooled the events acknowledges nothing early. A message we
 * cannot take now (disk full) is offered again from within the callback,
 * which holds this connection only: the broker keeps everything behind.
 * Publishes complete through on_publish(mid) into the shared ticket ring.
 * A TLS failure reaches us only as the library's log lines ("certificate
 * verify failed" for an unknown CA and a host name mismatch alike): on the
 * first OpenSSL line of an attempt we ask OpenSSL for the cause.
 */
#include <errno.h>
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

enum { MID_IDLE = 0, MID_WAITING, MID_DONE };

struct mosq {
    struct cg_mqtt base;
    struct mosquitto *client;
    struct cg_mqtt_callbacks cb;
    const struct cg_broker_conf *conf;
    char host[256];
    int port;
    bool tls; /* the URI says ssl:// or mqtts:// */
    struct mqtt_filters filters;
    pthread_mutex_t lock; /* filters, mid map, flags */
    pthread_cond_t wake;  /* ends the network thread's backoff wait */
    pthread_t net;        /* the network thread, while looping */
    bool looping, suspended;
    double backoff;  /* network thread: the next reconnect's wait */
    double up_since; /* network thread: when it connected (0: down) */
    /* The last SUBSCRIBE's mid, and whether its SUBACK is to announce the
     * connection (with the session flag): under lock. */
    int sub_mid;
    bool announce, announce_session;
    atomic_bool connected, stopping, down;
    /* publish completion: mid -> ticket; a completion may beat the map */
    uint8_t mid_state[65536];
    unsigned mid_ticket[65536];
};

static struct mosq *of(const struct cg_mqtt *m)
{
    return (struct mosq *)m;
}

/* tcp://host:port, ssl://host:port (mqtt:// and mqtts:// too), host a
 * name, an IPv4 address or a bracketed IPv6 one; the config checked the
 * form (cg_broker_uri_problem). */
static int parse_uri(struct mosq *q, const char *uri, char *err, size_t errlen)
{
    const char *rest = strstr(uri, "://");
    bool tls = !strncmp(uri, "ssl://", 6) || !strncmp(uri, "mqtts://", 8);
    rest = rest ? rest + 3 : uri;
    const char *host = rest, *host_end;
    if (*rest == '[') {
        host++;
        host_end = strchr(host, ']');
    } else {
        host_end = host + strcspn(host, ":/");
    }
    const char *colon = host_end ? strchr(host_end, ':') : NULL;
    size_t hlen = host_end ? (size_t)(host_end - host) : 0;
    q->port = colon ? atoi(colon + 1) : (tls ? 8883 : 1883);
    if (hlen == 0 || hlen >= sizeof(q->host) || q->port <= 0 ||
        q->port > 65535) {
        snprintf(err, errlen, "cannot read host and port from %s",
                 q->base.shown);
        return CG_EINVAL;
    }
    memcpy(q->host, host, hlen);
    q->host[hlen] = '\0';
    q->tls = tls;
    return CG_OK;
}

/* ---- callbacks (on the network thread) --------------------------------- */

static void on_message(struct mosquitto *c, void *obj,
                       const struct mosquitto_message *msg)
{
    struct mosq *q = obj;
    if (!q->cb.message)
        return;
    while (q->cb.message(q->cb.user, msg->topic, strlen(msg->topic),
                         msg->payload, (size_t)msg->payloadlen,
                         msg->qos) == CG_RETRY &&
           !atomic_load(&q->stopping)) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* libmosquitto's error lines (the thread connecting): a TLS failure is
 * reported once per attempt, at its first OpenSSL line. */
static void on_log(struct mosquitto *c, void *obj, int level, const char *str)
{
    struct mosq *q = obj;
    char reason[320];
    if (!(level & MOSQ_LOG_ERR) || strncmp(str, "OpenSSL Error[0]", 16))
        return;
    if (!mqtt__tls_probe(q->conf, reason, sizeof(reason)))
        snprintf(reason, sizeof(reason), "TLS: %s", str);
    mqtt__log_refused(&q->base, reason);
}

/* Sends one SUBSCRIBE for every filter; false when there is none to
 * send or it could not be sent. */
static bool subscribe_all(struct mosq *q)
{
    pthread_mutex_lock(&q->lock);
    int mid = 0;
    int rc = q->filters.n
                 ? mosquitto_subscribe_multiple(q->client, &mid,
                                                (int)q->filters.n, q->filters.f,
                                                q->filters.qos[0], 0, NULL)
                 : MOSQ_ERR_NOT_FOUND;
    if (rc == MOSQ_ERR_SUCCESS)
        q->sub_mid = mid;
    pthread_mutex_unlock(&q->lock);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NOT_FOUND)
        cg_log(CG_LOG_ERROR, "%s: subscribe failed: %s", q->base.name,
               mosquitto_strerror(rc));
    return rc == MOSQ_ERR_SUCCESS;
}

static void announce(struct mosq *q, bool session_present)
{
    mqtt__log_connected(&q->base, session_present);
    if (q->cb.connected)
        q->cb.connected(q->cb.user, session_present);
}

/* The SUBACK of the connection's SUBSCRIBE: only now is it "connected",
 * as with Paho, whose connect subscribes before it returns. A publisher
 * that waits for that line (or READY) loses nothing to a subscription
 * still on its way. A refused filter is named. */
static void on_subscribe(struct mosquitto *c, void *obj, int mid, int n,
                         const int *granted)
{
    struct mosq *q = obj;
    (void)c;
    pthread_mutex_lock(&q->lock);
    bool ours = mid == q->sub_mid;
    for (int i = 0; ours && i < n && (size_t)i < q->filters.n; i++)
        if (granted[i] >= 0x80)
            cg_log(CG_LOG_ERROR,
                   "%s: the broker refused the subscription to "
                   "'%s'",
                   q->base.name, q->filters.f[i]);
    bool now = ours && q->announce;
    bool session = q->announce_session;
    if (now)
        q->announce = false;
    pthread_mutex_unlock(&q->lock);
    if (now)
        announce(q, session);
}

static void on_connect(struct mosquitto *c, void *obj, int rc, int flags)
{
    struct mosq *q = obj;
    if (rc != 0) {
        char reason[320];
        const char *why = mqtt__connack_reason(rc);
        snprintf(reason, sizeof(reason), "%s (CONNACK %d: %s)",
                 why ? why : "refused", rc, mosquitto_connack_string(rc));
        mqtt__log_refused(&q->base, reason);
        return;
    }
    q->up_since = cg_time_mono(); /* see MQTT_STABLE_S */
    atomic_store(&q->connected, true);
    pthread_mutex_lock(&q->lock);
    q->announce = true; /* by on_subscribe, once the SUBACK is in */
    q->announce_session = flags & 1;
    pthread_mutex_unlock(&q->lock);
    if (subscribe_all(q))
        return;
    pthread_mutex_lock(&q->lock);
    q->announce = false;
    pthread_mutex_unlock(&q->lock);
    announce(q, flags & 1); /* nothing to subscribe (or it failed) */
}

static void on_disconnect(struct mosquitto *c, void *obj, int rc)
{
    struct mosq *q = obj;
    bool was = atomic_exchange(&q->connected, false);
    if (rc == 0 || !was)
        return; /* we asked for it, or a refused attempt (logged) */
    mqtt__log_lost(&q->base, mosquitto_strerror(rc));
    if (q->cb.lost)
        q->cb.lost(q->cb.user, mosquitto_strerror(rc));
}

static void on_publish(struct mosquitto *c, void *obj, int mid)
{
    struct mosq *q = obj;
    pthread_mutex_lock(&q->lock);
    bool waiting = q->mid_state[mid & 0xffff] == MID_WAITING;
    unsigned ticket = q->mid_ticket[mid & 0xffff];
    q->mid_state[mid & 0xffff] = waiting ? MID_IDLE : MID_DONE;
    pthread_mutex_unlock(&q->lock);
    if (waiting)
        mqtt__tickets_complete(&q->base.tickets, ticket, true);
}

/* ---- publish ------------------------------------------------------------ */

static int mosq_publish(struct cg_mqtt *m, const char *topic,
                        const void *payload, size_t len, int qos, bool retain,
                        unsigned *ticket)
{
    struct mosq *q = of(m);
    int mid = 0;
    if (!atomic_load(&q->connected) ||
        !mqtt__tickets_reserve(&m->tickets, ticket))
        return CG_RETRY;
    int rc = mosquitto_publish(q->client, &mid, topic, (int)len, payload, qos,
                               retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        mqtt__tickets_complete(&m->tickets, *ticket, false);
        return rc == MOSQ_ERR_NOMEM ? CG_ENOMEM : CG_RETRY;
    }
    pthread_mutex_lock(&q->lock);
    bool done = q->mid_state[mid & 0xffff] == MID_DONE;
    q->mid_state[mid & 0xffff] = done ? MID_IDLE : MID_WAITING;
    q->mid_ticket[mid & 0xffff] = *ticket;
    pthread_mutex_unlock(&q->lock);
    if (done)
        mqtt__tickets_complete(&m->tickets, *ticket, true);
    return CG_OK;
}

/* ---- subscriptions ---------------------------------------------------- */

static int mosq_subscribe(struct cg_mqtt *m, const char *const *filters,
                          size_t n, int qos)
{
    struct mosq *q = of(m);
    pthread_mutex_lock(&q->lock);
    int rc = mqtt__filters_set(&q->filters, filters, n, qos);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static int mosq_resubscribe(struct cg_mqtt *m, const char *const *filters,
                            size_t n, int qos)
{
    struct mosq *q = of(m);
    struct mqtt_filters old;
    pthread_mutex_lock(&q->lock);
    old = q->filters;
    memset(&q->filters, 0, sizeof(q->filters));
    int rc = mqtt__filters_set(&q->filters, filters, n, qos);
    for (size_t i = 0; rc == CG_OK && i < old.n; i++)
        if (!mqtt__filters_has(&q->filters, old.f[i]))
            mosquitto_unsubscribe(q->client, NULL, old.f[i]);
    pthread_mutex_unlock(&q->lock);
    if (rc == CG_OK && atomic_load(&q->connected))
        subscribe_all(q);
    mqtt__filters_free(&old);
    return rc;
}

/* ---- lifetime ---------------------------------------------------------- */

/* Waits before the next connect: nothing after a loss of a working
 * connection, then the jittered backoff (0.5 s doubling to 30 s). False
 * when the thread is to end. */
static bool wait_to_reconnect(struct mosq *q)
{
    double wait = q->backoff > 0 ? mqtt__next_wait(&q->backoff) : 0;
    if (q->backoff <= 0)
        q->backoff = 0.5;
    struct timespec until;
    cg_time_deadline(&until, wait);
    pthread_mutex_lock(&q->lock);
    while (!atomic_load(&q->down) &&
           pthread_cond_timedwait(&q->wake, &q->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&q->lock);
    return !atomic_load(&q->down);
}

/* The network thread. libmosquitto's own loop (mosquitto_loop_forever)
 * gives up for good on a TLS error, a refused authentication or a name
 * that does not resolve, which a gateway must outlive (a certificate is
 * renewed, DNS comes back after boot): so this thread turns the library's
 * loop itself and reconnects with our backoff, whatever failed. */
static void *net_run(void *arg)
{
    struct mosq *q = arg;
    while (!atomic_load(&q->down)) {
        int rc = mosquitto_loop(q->client, 1000, 1);
        if (rc == MOSQ_ERR_SUCCESS || atomic_load(&q->down))
            continue;
        atomic_store(&q->connected, false);
        /* The loss of a working connection reconnects at once. */
        if (q->up_since && cg_time_mono() - q->up_since >= MQTT_STABLE_S)
            q->backoff = 0;
        q->up_since = 0;
        if (!wait_to_reconnect(q))
            break;
        rc = mosquitto_reconnect_async(q->client);
        /* A TLS failure was logged with its cause by on_log. */
        if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_TLS)
            mqtt__log_refused(&q->base, rc == MOSQ_ERR_ERRNO
                                            ? strerror(errno)
                                            : mosquitto_strerror(rc));
    }
    return NULL;
}

static int loop_up(struct mosq *q, bool reconnect)
{
    int rc = reconnect ? mosquitto_reconnect_async(q->client)
                       : mosquitto_connect_async(q->client, q->host, q->port,
                                                 q->conf->keepalive);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_TLS)
        mqtt__log_refused(&q->base, rc == MOSQ_ERR_ERRNO
                                        ? strerror(errno)
                                        : mosquitto_strerror(rc));
    /* Even after a failed first attempt the thread keeps reconnecting. */
    atomic_store(&q->down, false);
    q->backoff = 0.5;
    q->looping = pthread_create(&q->net, NULL, net_run, q) == 0;
    return q->looping ? CG_OK : CG_ENOMEM;
}

static int mosq_start(struct cg_mqtt *m)
{
    return loop_up(of(m), false);
}

static bool mosq_connected(const struct cg_mqtt *m)
{
    return atomic_load(&of(m)->connected);
}

/* Ends the network thread: the DISCONNECT wakes its loop, the flag its
 * backoff wait; then join it. */
static void loop_down(struct mosq *q)
{
    atomic_store(&q->down, true);
    mosquitto_disconnect(q->client);
    pthread_mutex_lock(&q->lock);
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->lock);
    if (q->looping)
        pthread_join(q->net, NULL);
    q->looping = false;
    atomic_store(&q->connected, false);
}

static void mosq_suspend(struct cg_mqtt *m)
{
    struct mosq *q = of(m);
    if (!q->suspended && q->looping)
        loop_down(q);
    q->suspended = true;
}

static void mosq_resume(struct cg_mqtt *m)
{
    struct mosq *q = of(m);
    if (q->suspended && !atomic_load(&q->stopping))
        loop_up(q, true);
    q->suspended = false;
}

static void mosq_stop(struct cg_mqtt *m, int timeout_ms)
{
    struct mosq *q = of(m);
    atomic_store(&q->stopping, true);
    if (q->looping)
        loop_down(q);
}

static void mosq_free(struct cg_mqtt *m)
{
    struct mosq *q = of(m);
    if (q->client) {
        mosq_stop(m, 0);
        mosquitto_destroy(q->client);
    }
    mqtt__filters_free(&q->filters);
    pthread_cond_destroy(&q->wake);
    pthread_mutex_destroy(&q->lock);
    mqtt__tickets_destroy(&m->tickets);
    mqtt__conf_free(&m->conf);
    cg_free(q);
}

static const struct mqtt_ops mosq_ops = {
    .subscribe = mosq_subscribe,
    .resubscribe = mosq_resubscribe,
    .start = mosq_start,
    .connected = mosq_connected,
    .publish = mosq_publish,
    .suspend = mosq_suspend,
    .resume = mosq_resume,
    .stop = mosq_stop,
    .free = mosq_free,
    .inline_publish_ok = true,
};

static int configure(struct mosq *q, const struct cg_mqtt_will *will, char *err,
                     size_t errlen)
{
    const struct cg_broker_conf *b = q->conf;
    const struct cg_tls_conf *t = &b->tls;
    int rc = MOSQ_ERR_SUCCESS;
    if (b->username)
        rc = mosquitto_username_pw_set(q->client, b->username, b->password);
    if (rc == MOSQ_ERR_SUCCESS && will)
        rc = mosquitto_will_set(q->client, will->topic,
                                (int)strlen(will->payload), will->payload,
                                will->qos, will->retain);
    /* An ssl:// URI always means TLS, verified against the system's CAs
     * unless a tls: block says otherwise: never cleartext credentials. */
    if (rc == MOSQ_ERR_SUCCESS && (q->tls || t->enabled)) {
        const char *ca_path = t->ca_file ? NULL : "/etc/ssl/certs";
        rc = mosquitto_tls_set(q->client, t->ca_file, ca_path, t->cert_file,
                               t->key_file, NULL);
        bool verify = !t->enabled || t->verify;
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_tls_insecure_set(q->client, !verify);
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_tls_opts_set(q->client, verify ? 1 : 0, NULL, NULL);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
        mosquitto_int_option(q->client, MOSQ_OPT_TCP_NODELAY, 1);
        mosquitto_int_option(q->client, MOSQ_OPT_SEND_MAXIMUM, 1000);
        /* Our thread turns the loop: other threads' publishes wake it. */
        rc = mosquitto_threaded_set(q->client, true);
    }
    if (rc != MOSQ_ERR_SUCCESS)
        snprintf(err, errlen, "cannot set up an MQTT client for %s: %s",
                 q->base.shown, mosquitto_strerror(rc));
    return rc == MOSQ_ERR_SUCCESS ? CG_OK : CG_EINVAL;
}

static void set_callbacks(struct mosq *q)
{
    mosquitto_connect_with_flags_callback_set(q->client, on_connect);
    mosquitto_disconnect_callback_set(q->client, on_disconnect);
    mosquitto_message_callback_set(q->client, on_message);
    mosquitto_publish_callback_set(q->client, on_publish);
    mosquitto_subscribe_callback_set(q->client, on_subscribe);
    mosquitto_log_callback_set(q->client, on_log);
}

int mqtt__mosq_new(const struct cg_broker_conf *b,
                   const struct cg_mqtt_will *will, const char *persist_dir,
                   const struct cg_mqtt_callbacks *cb, struct cg_mqtt **out,
                   char *err, size_t errlen)
{
    (void)persist_dir; /* we hold unprocessed messages at the broker */
    *out = NULL;
    struct mosq *q = cg_calloc(1, sizeof(*q));
    if (!q)
        return CG_ENOMEM;
    q->base.ops = &mosq_ops;
    mqtt__tickets_init(&q->base.tickets);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->wake, NULL);
    q->conf = &q->base.conf;
    q->cb = *cb;
    int rc = mqtt__conf_copy(b, &q->base);
    b = q->conf; /* from here on, only the owned copy */
    if (rc == CG_OK)
        rc = parse_uri(q, b->uri, err, errlen);
    if (rc == CG_OK &&
        !(q->client = mosquitto_new(b->client_id, b->clean_session, q))) {
        snprintf(err, errlen, "cannot create an MQTT client for %s",
                 q->base.shown);
        rc = CG_ENOMEM;
    }
    if (rc == CG_OK)
        rc = configure(q, will, err, errlen);
    if (rc != CG_OK) {
        mosq_free(&q->base);
        return rc;
    }
    set_callbacks(q);
    *out = &q->base;
    return CG_OK;
}

void mqtt__mosq_global_init(void)
{
    mosquitto_lib_init();
}
