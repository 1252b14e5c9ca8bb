/*
 * The MQTT backend on Eclipse Paho's synchronous client (the default),
 * driven in single-threaded mode: no Paho thread ever runs, because
 * MQTTClient_setCallbacks is never called. This file is a client: its
 * settings, publishing (any thread) and the primitives the driver thread
 * (paho_driver.c) calls to connect, receive and disconnect.
 *
 * Publishing: MQTTClient_publish is thread-safe and writes to the socket
 * from the calling thread. It would block in MQTTClient_yield (100 ms at
 * a time) when Paho's in-flight window is full, so we count our own
 * publishes in flight and answer CG_EFULL before Paho would block.
 *
 * Completion: output connections speak MQTT 5, for which Paho reports
 * every PUBACK through MQTTClient_setPublished (in 1.3.12 it does not for
 * MQTT 3.1.1), on whichever thread cycled the socket. The intake
 * connection stays on MQTT 3.1.1 (a persistent 3.1.1 session needs no
 * expiry interval); its few publishes (the status) complete by polling
 * Paho's pending tokens.
 */
#include <MQTTClient.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define WINDOW            1000  /* QoS 1 publishes in flight per connection */
#define MID_SLOTS         2048  /* > WINDOW: msgids in flight never collide */
#define CONNECT_TIMEOUT   5     /* seconds, after the probe found the port */
#define PAHO_MEMORY_ERROR (-99) /* Paho's, from its private Heap.h */
#define POLL_S            0.001 /* MQTT 3.1.1 completions, at most this often */

enum { MID_FREE = 0, MID_WAIT, MID_EARLY_OK, MID_EARLY_FAIL };

struct mid_slot {
    int mid;
    uint8_t state;
    unsigned ticket;
};

struct paho {
    struct cg_mqtt base;
    MQTTClient client;
    struct cg_mqtt_callbacks cb;
    struct mqtt_journal *journal; /* intake only */
    bool v5;                      /* output connections */
    char *will_topic, *will_payload;
    MQTTClient_willOptions will;
    MQTTClient_SSLOptions ssl;
    bool tls; /* TLS: a tls: block, or an ssl:// or mqtts:// URI */
    bool has_will;
    char host[256];
    int port;
    pthread_mutex_t lock; /* filters and the msgid map */
    struct mqtt_filters filters, subscribed;
    atomic_bool connected;
    atomic_int inflight; /* QoS > 0 publishes not yet completed */
    atomic_int window;   /* written at connect, read by publishers */
    double next_poll;    /* driver thread: MQTT 3.1.1 completions */
    struct mid_slot mids[MID_SLOTS];
    struct paho_conn conn;
};

static struct paho *of(const struct cg_mqtt *m)
{
    return (struct paho *)m;
}

struct paho_conn *paho__conn(struct paho *p)
{
    return &p->conn;
}

const struct cg_mqtt_callbacks *paho__callbacks(const struct paho *p)
{
    return &p->cb;
}

const char *paho__host(const struct paho *p, int *port)
{
    *port = p->port;
    return p->host[0] ? p->host : NULL;
}

bool paho__tls(const struct paho *p)
{
    return p->tls;
}

/* ---- publish completion ------------------------------------------------ */

static void complete(struct paho *p, unsigned ticket, bool ok)
{
    atomic_fetch_sub(&p->inflight, 1);
    mqtt__tickets_complete(&p->base.tickets, ticket, ok);
}

/* Called with the token Paho gave a publish; the acknowledgement may
 * already have come (MID_EARLY_*). */
static void mid_wait(struct paho *p, int mid, unsigned ticket)
{
    struct mid_slot *s = &p->mids[mid % MID_SLOTS];
    pthread_mutex_lock(&p->lock);
    int early = s->mid == mid ? s->state : MID_FREE;
    bool stale = s->state == MID_WAIT && s->mid != mid;
    unsigned stale_ticket = s->ticket;
    if (early == MID_EARLY_OK || early == MID_EARLY_FAIL)
        s->state = MID_FREE;
    else
        *s = (struct mid_slot){mid, MID_WAIT, ticket};
    pthread_mutex_unlock(&p->lock);
    if (stale) /* MID_SLOTS msgids later: long given up by its waiter */
        complete(p, stale_ticket, false);
    if (early == MID_EARLY_OK || early == MID_EARLY_FAIL)
        complete(p, ticket, early == MID_EARLY_OK);
}

static void mid_done(struct paho *p, int mid, bool ok)
{
    struct mid_slot *s = &p->mids[mid % MID_SLOTS];
    pthread_mutex_lock(&p->lock);
    bool waiting = s->mid == mid && s->state == MID_WAIT;
    unsigned ticket = s->ticket;
    if (waiting)
        s->state = MID_FREE;
    else
        *s = (struct mid_slot){mid, ok ? MID_EARLY_OK : MID_EARLY_FAIL, 0};
    pthread_mutex_unlock(&p->lock);
    if (waiting)
        complete(p, ticket, ok);
}

/* MQTT 5 acknowledgements, on the thread that cycled the socket. A
 * refusal (reason code 0x80 and up, e.g. not authorized) is logged and
 * counted as done, as MQTT 3.1.1 brokers drop such publishes silently:
 * sending it again would be refused again. */
static void on_published(void *ctx, int mid, int type, MQTTProperties *props,
                         enum MQTTReasonCodes reason)
{
    struct paho *p = ctx;
    (void)type;
    (void)props;
    if (reason >= MQTTREASONCODE_UNSPECIFIED_ERROR)
        cg_log(CG_LOG_WARN, "mqtt: %s refused a publish: %s", p->base.shown,
               MQTTReasonCode_toString(reason));
    mid_done(p, mid, true);
}

/* The msgids of p that wait for an acknowledgement, at most max. */
static size_t waiting_mids(struct paho *p, int *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < MID_SLOTS && n < max; i++)
        if (p->mids[i].state == MID_WAIT)
            out[n++] = p->mids[i].mid;
    pthread_mutex_unlock(&p->lock);
    return n;
}

static bool is_pending(const MQTTClient_deliveryToken *pending, int mid)
{
    for (size_t k = 0; pending && pending[k] != -1; k++)
        if (pending[k] == mid)
            return true;
    return false;
}

void paho__poll_completions(struct paho *p)
{
    int mids[64];
    double now = cg_time_mono();
    if (p->v5 || atomic_load(&p->inflight) == 0 || now < p->next_poll)
        return;
    p->next_poll = now + POLL_S; /* a pass per message would cost much */
    MQTTClient_deliveryToken *pending = NULL;
    if (MQTTClient_getPendingDeliveryTokens(p->client, &pending) !=
        MQTTCLIENT_SUCCESS)
        return;
    size_t n = waiting_mids(p, mids, 64);
    for (size_t i = 0; i < n; i++)
        if (!is_pending(pending, mids[i]))
            mid_done(p, mids[i], true);
    MQTTClient_free(pending);
}

void paho__went_down(struct paho *p)
{
    int mids[64];
    size_t n;
    atomic_store(&p->connected, false);
    while ((n = waiting_mids(p, mids, 64)) > 0)
        for (size_t i = 0; i < n; i++)
            mid_done(p, mids[i], false);
}

/* ---- publish ------------------------------------------------------------- */

static int send_one(struct paho *p, const char *topic, const void *payload,
                    size_t len, int qos, bool retain, int *mid)
{
    if (!p->v5)
        return MQTTClient_publish(p->client, topic, (int)len, payload, qos,
                                  retain, mid);
    MQTTResponse r = MQTTClient_publish5(p->client, topic, (int)len, payload,
                                         qos, retain, NULL, mid);
    MQTTResponse_free(r);
    return r.reasonCode;
}

static int paho_publish(struct cg_mqtt *m, const char *topic,
                        const void *payload, size_t len, int qos, bool retain,
                        unsigned *ticket)
{
    struct paho *p = of(m);
    if (!atomic_load(&p->connected))
        return CG_RETRY;
    if (atomic_fetch_add(&p->inflight, 1) >= atomic_load(&p->window)) {
        atomic_fetch_sub(&p->inflight, 1);
        return CG_EFULL; /* Paho would block in yield(): wait_any */
    }
    if (!mqtt__tickets_reserve(&m->tickets, ticket)) {
        atomic_fetch_sub(&p->inflight, 1);
        return CG_EFULL;
    }
    int mid = 0;
    int rc = send_one(p, topic, payload, len, qos, retain, &mid);
    if (rc != MQTTCLIENT_SUCCESS) {
        complete(p, *ticket, false);
        return rc == PAHO_MEMORY_ERROR ? CG_ENOMEM : CG_RETRY;
    }
    if (qos == 0 || mid <= 0)
        complete(p, *ticket, true); /* written: all QoS 0 promises */
    else
        mid_wait(p, mid, *ticket);
    return CG_OK;
}

/* ---- subscriptions ------------------------------------------------------- */

static int paho_subscribe(struct cg_mqtt *m, const char *const *filters,
                          size_t n, int qos)
{
    struct paho *p = of(m);
    pthread_mutex_lock(&p->lock);
    int rc = mqtt__filters_set(&p->filters, filters, n, qos);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int paho_resubscribe(struct cg_mqtt *m, const char *const *filters,
                            size_t n, int qos)
{
    int rc = paho_subscribe(m, filters, n, qos);
    if (rc == CG_OK)
        paho__driver_request(of(m), PAHO_REQ_RESUB, 0);
    return rc;
}

/* Takes the filters of add that the broker did not grant (all of them
 * when the SUBSCRIBE failed as a whole; else those whose SUBACK code is
 * 0x80) out of want, the list the journal keeps as subscribed: the next
 * connection asks for them again, even on a resumed session, instead of
 * taking the refusal for a subscription. */
static void forget_refused(struct paho *p, struct mqtt_filters *want,
                           const struct mqtt_filters *add, bool answered)
{
    for (size_t i = 0; i < add->n; i++) {
        if (answered && add->qos[i] != 0x80)
            continue;
        if (answered)
            cg_log(CG_LOG_ERROR,
                   "%s: the broker refused the subscription to "
                   "'%s'",
                   p->base.name, add->f[i]);
        for (size_t j = 0; j < want->n; j++) {
            if (strcmp(want->f[j], add->f[i]))
                continue;
            cg_free(want->f[j]);
            want->f[j] = want->f[want->n - 1];
            want->qos[j] = want->qos[want->n - 1];
            want->n--;
            break;
        }
    }
}

/* Subscribes the filters the broker does not have yet (all of them in
 * one SUBSCRIBE) and unsubscribes those that went away; the driver thread
 * calls it, at a quiet moment: Paho waits for the SUBACK, which the broker
 * sends after whatever it had queued for us, and Paho reads (and
 * acknowledges) all of that into its queue meanwhile. */
void paho__resubscribe(struct paho *p)
{
    struct mqtt_filters want = {0}, add = {0};
    pthread_mutex_lock(&p->lock);
    int rc =
        mqtt__filters_set(&want, (const char *const *)p->filters.f,
                          p->filters.n, p->filters.n ? p->filters.qos[0] : 0);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; rc == CG_OK && i < p->subscribed.n; i++)
        if (!mqtt__filters_has(&want, p->subscribed.f[i]))
            MQTTClient_unsubscribe(p->client, p->subscribed.f[i]);
    char **fresh = cg_calloc(want.n ? want.n : 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; fresh && rc == CG_OK && i < want.n; i++)
        if (!mqtt__filters_has(&p->subscribed, want.f[i]))
            fresh[n++] = want.f[i];
    if (rc == CG_OK && fresh)
        rc = mqtt__filters_set(&add, (const char *const *)fresh, n,
                               want.n ? want.qos[0] : 0);
    cg_free(fresh);
    if (rc == CG_OK && add.n) {
        int r = MQTTClient_subscribeMany(p->client, (int)add.n, add.f, add.qos);
        if (r != MQTTCLIENT_SUCCESS)
            cg_log(CG_LOG_ERROR, "%s: subscribe on %s failed: %s", p->base.name,
                   p->base.shown, MQTTClient_strerror(r));
        forget_refused(p, &want, &add, r == MQTTCLIENT_SUCCESS);
    }
    mqtt__filters_free(&add);
    mqtt__filters_free(&p->subscribed);
    p->subscribed = want;
    mqtt__journal_save_filters(p->journal, &p->subscribed);
}

/* After a resumed session: does the broker lack a filter or have one too
 * many? A new process learns what it has from the journal's list. */
bool paho__filters_changed(struct paho *p)
{
    if (p->subscribed.n == 0)
        mqtt__journal_load_filters(p->journal, &p->subscribed);
    bool changed = false;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->filters.n && !changed; i++)
        changed = !mqtt__filters_has(&p->subscribed, p->filters.f[i]);
    for (size_t i = 0; i < p->subscribed.n && !changed; i++)
        changed = !mqtt__filters_has(&p->filters, p->subscribed.f[i]);
    pthread_mutex_unlock(&p->lock);
    return changed;
}

/* ---- connecting (driver thread) ----------------------------------------- */

/* Paho leaves Nagle's algorithm on, which holds small packets (PUBACKs,
 * events) back by up to 40 ms; it does not tell which socket is a
 * client's, so every TCP socket to the broker's port gets TCP_NODELAY. */
static void set_nodelay(int port)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int fd = atoi(e->d_name), one = 1;
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        if (fd <= 2 || getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
            continue;
        int pp = peer.ss_family == AF_INET
                     ? ntohs(((struct sockaddr_in *)&peer)->sin_port)
                 : peer.ss_family == AF_INET6
                     ? ntohs(((struct sockaddr_in6 *)&peer)->sin6_port)
                     : -1;
        if (pp == port)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (d)
        closedir(d);
}

static void fill_options(struct paho *p, MQTTClient_connectOptions *o)
{
    const struct cg_broker_conf *b = &p->base.conf;
    MQTTClient_connectOptions v3 = MQTTClient_connectOptions_initializer;
    MQTTClient_connectOptions v5 = MQTTClient_connectOptions_initializer5;
    *o = p->v5 ? v5 : v3;
    o->keepAliveInterval = b->keepalive;
    if (p->v5)
        o->cleanstart = b->clean_session;
    else
        o->cleansession = b->clean_session;
    o->reliable = 0;
    o->username = b->username;
    o->password = b->password;
    o->connectTimeout = CONNECT_TIMEOUT;
    o->retryInterval = 0;
    o->maxInflightMessages = WINDOW;
    o->will = p->has_will ? &p->will : NULL;
    o->ssl = p->tls ? &p->ssl : NULL;
}

/* The broker may allow fewer publishes in flight (MQTT 5 Receive
 * Maximum); Paho keeps to it, and so must our count. */
static int connect_now(struct paho *p, bool *session_present)
{
    MQTTClient_connectOptions o;
    fill_options(p, &o);
    int rc, window = WINDOW;
    if (p->v5) {
        MQTTResponse r = MQTTClient_connect5(p->client, &o, NULL, NULL);
        rc = r.reasonCode;
        if (rc == MQTTCLIENT_SUCCESS && r.properties &&
            MQTTProperties_hasProperty(r.properties,
                                       MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)) {
            int max = MQTTProperties_getNumericValue(
                r.properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
            window = max > 0 && max < WINDOW ? max : WINDOW;
        }
        MQTTResponse_free(r);
    } else {
        rc = MQTTClient_connect(p->client, &o);
    }
    atomic_store(&p->window, window);
    *session_present = o.returned.sessionPresent;
    return rc;
}

static int create_client(struct paho *p, const char *persist_dir, char *err,
                         size_t errlen);

/* A broker that speaks only MQTT 3.1.1 refuses an MQTT 5 CONNECT (return
 * code 1, reason 0x84) or drops it: the output connection then goes on
 * in MQTT 3.1.1, on a new client handle (Paho fixes the version at
 * create), with completions found by polling. */
static int connect_downgraded(struct paho *p, bool *session_present)
{
    char err[160];
    cg_log(CG_LOG_WARN, "mqtt: %s refused MQTT 5; trying MQTT 3.1.1",
           p->base.shown);
    MQTTClient_destroy(&p->client);
    p->v5 = false;
    if (create_client(p, NULL, err, sizeof(err)) != CG_OK) {
        cg_log(CG_LOG_ERROR, "mqtt: %s", err);
        return MQTTCLIENT_FAILURE;
    }
    return connect_now(p, session_present);
}

/* A failed connect in words: a CONNACK's code (MQTT 3.1.1 or 5) as its
 * reason, else Paho's. Returns true for a failure on a TLS connection
 * that Paho words only as "TCP/TLS connect failure" (the TCP probe found
 * the port open, so the handshake is what failed). */
static bool connect_failure(const struct paho *p, int rc, char *why,
                            size_t size)
{
    const char *words = rc > 0 ? mqtt__connack_reason(rc) : NULL;
    if (words)
        snprintf(why, size, "%s (CONNACK %d)", words, rc);
    else if (rc > 0)
        snprintf(why, size, "the broker refused the connection (CONNACK %d)",
                 rc);
    else
        snprintf(why, size, "%s", MQTTClient_strerror(rc));
    return p->tls && rc == MQTTCLIENT_FAILURE;
}

int paho__connect(struct paho *p, bool *session_present, char *why, size_t size,
                  bool *ask_tls)
{
    int rc = connect_now(p, session_present);
    *ask_tls = false;
    /* A dropped CONNECT may be a broker that does not know MQTT 5; on a
     * TLS connection it is far more likely the handshake. */
    if (p->v5 &&
        (rc == 1 || rc == MQTTREASONCODE_UNSUPPORTED_PROTOCOL_VERSION ||
         (rc == MQTTCLIENT_FAILURE && !p->tls)))
        rc = connect_downgraded(p, session_present);
    if (rc != MQTTCLIENT_SUCCESS) {
        *ask_tls = connect_failure(p, rc, why, size);
        return CG_ECONN;
    }
    set_nodelay(p->port);
    atomic_store(&p->inflight, 0);
    /* A new session has no subscriptions and no backlog: subscribe now.
     * A resumed one keeps its subscriptions and may have a long backlog
     * queued: the driver brings the list up to date once it is quiet. */
    if (!*session_present) {
        mqtt__filters_free(&p->subscribed);
        paho__resubscribe(p);
    }
    atomic_store(&p->connected, true);
    return CG_OK;
}

const struct cg_broker_conf *paho__conf(const struct paho *p)
{
    return &p->base.conf;
}

bool paho__is_connected(struct paho *p)
{
    return MQTTClient_isConnected(p->client);
}

void paho__disconnect(struct paho *p, int timeout_ms)
{
    if (MQTTClient_isConnected(p->client))
        MQTTClient_disconnect(p->client, timeout_ms);
    paho__went_down(p);
}

/* ---- receiving (driver thread) ------------------------------------------ */

void *paho__receive(struct paho *p, int timeout_ms, char **topic, int *tlen,
                    int *rc)
{
    MQTTClient_message *msg = NULL;
    *topic = NULL;
    *rc = MQTTClient_receive(p->client, topic, tlen, &msg,
                             (unsigned long)timeout_ms);
    if (msg && !p->cb.message) { /* nothing subscribes on this one */
        paho__free_message(msg, *topic);
        return NULL;
    }
    return msg;
}

int paho__dispatch(struct paho *p, void *m, char *topic, int tlen)
{
    MQTTClient_message *msg = m;
    size_t n = tlen > 0 ? (size_t)tlen : strlen(topic);
    int rc = p->cb.message(p->cb.user, topic, n, msg->payload,
                           (size_t)msg->payloadlen, msg->qos);
    if (rc == CG_RETRY)
        return CG_RETRY;
    mqtt__journal_done(p->journal);
    paho__free_message(msg, topic);
    return CG_OK;
}

bool paho__awaiting(struct paho *p)
{
    return atomic_load(&p->inflight) > 0;
}

long paho__queued(struct paho *p)
{
    return mqtt__journal_queued(p->journal);
}

void paho__free_message(void *m, char *topic)
{
    MQTTClient_message *msg = m;
    if (msg)
        MQTTClient_freeMessage(&msg);
    MQTTClient_free(topic);
}

/* ---- lifetime ------------------------------------------------------------ */

static int paho_start(struct cg_mqtt *m)
{
    paho__driver_add(of(m));
    paho__driver_request(of(m), PAHO_REQ_START, 0);
    return CG_OK;
}

static bool paho_connected(const struct cg_mqtt *m)
{
    return atomic_load(&of(m)->connected);
}

/* Suspend and stop wait for the driver: a caller that then drains or
 * frees must find the connection closed. */
static void paho_suspend(struct cg_mqtt *m)
{
    paho__driver_request(of(m), PAHO_REQ_SUSPEND, 10000);
}

static void paho_resume(struct cg_mqtt *m)
{
    paho__driver_request(of(m), PAHO_REQ_RESUME, 0);
}

static void paho_stop(struct cg_mqtt *m, int timeout_ms)
{
    paho__driver_request(of(m), PAHO_REQ_STOP, timeout_ms + 10000);
}

static void paho_free(struct cg_mqtt *m)
{
    struct paho *p = of(m);
    paho_stop(m, 0); /* nothing to do for a client never started */
    if (p->client)
        MQTTClient_destroy(&p->client);
    mqtt__journal_free(p->journal);
    mqtt__filters_free(&p->filters);
    mqtt__filters_free(&p->subscribed);
    cg_free(p->will_topic);
    cg_free(p->will_payload);
    pthread_mutex_destroy(&p->lock);
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
    .inline_publish_ok = true,
};

static int set_will(struct paho *p, const struct cg_mqtt_will *w)
{
    MQTTClient_willOptions init = MQTTClient_willOptions_initializer;
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

/* An ssl:// (or mqtts://) URI always means TLS, verified against the
 * system's CAs unless a tls: block says otherwise: never a password in
 * cleartext, and never a refusal that names no cause. */
static void set_tls(struct paho *p)
{
    MQTTClient_SSLOptions init = MQTTClient_SSLOptions_initializer;
    const struct cg_broker_conf *b = &p->base.conf;
    const struct cg_tls_conf *t = &b->tls;
    bool verify = !t->enabled || t->verify;
    p->tls = t->enabled || !strncmp(b->uri, "ssl://", 6) ||
             !strncmp(b->uri, "mqtts://", 8);
    p->ssl = init;
    p->ssl.trustStore = t->ca_file;
    p->ssl.CApath = t->ca_file ? NULL : "/etc/ssl/certs";
    p->ssl.keyStore = t->cert_file;
    p->ssl.privateKey = t->key_file;
    p->ssl.enableServerCertAuth = verify;
    p->ssl.verify = verify;
}

/* Host and port of scheme://host:port[/path] (IPv6 in brackets), for the
 * reachability probe and TCP_NODELAY; unknown forms leave host empty. */
static void parse_host(struct paho *p, const char *uri)
{
    const char *rest = strstr(uri, "://");
    bool tls = !strncmp(uri, "ssl://", 6) || !strncmp(uri, "mqtts://", 8) ||
               !strncmp(uri, "wss://", 6);
    rest = rest ? rest + 3 : uri;
    const char *end = rest + strcspn(rest, "/");
    const char *hend, *colon = NULL;
    if (*rest == '[') {
        const char *br = memchr(rest, ']', (size_t)(end - rest));
        if (!br)
            return;
        colon = br + 1 < end && br[1] == ':' ? br + 1 : NULL;
        rest++;
        hend = br;
    } else {
        for (const char *c = rest; c < end; c++)
            colon = *c == ':' ? c : colon;
        hend = colon ? colon : end;
    }
    size_t hlen = (size_t)(hend - rest);
    if (hlen == 0 || hlen >= sizeof(p->host))
        return;
    memcpy(p->host, rest, hlen);
    p->host[hlen] = '\0';
    p->port = colon ? atoi(colon + 1) : (tls ? 8883 : 1883);
}

static int create_client(struct paho *p, const char *persist_dir, char *err,
                         size_t errlen)
{
    MQTTClient_createOptions co = MQTTClient_createOptions_initializer;
    co.MQTTVersion = p->v5 ? MQTTVERSION_5 : MQTTVERSION_DEFAULT;
    int type = MQTTCLIENT_PERSISTENCE_NONE, rc = CG_OK;
    void *ctx = NULL;
    if (persist_dir && (rc = mqtt__journal_new(persist_dir, &p->journal)))
        return rc;
    if (p->journal) {
        type = MQTTCLIENT_PERSISTENCE_USER;
        ctx = mqtt__journal_persistence(p->journal);
    }
    const struct cg_broker_conf *b = &p->base.conf;
    rc = MQTTClient_createWithOptions(&p->client, b->uri, b->client_id, type,
                                      ctx, &co);
    mqtt__journal_forget_handouts(p->journal); /* the restore is over */
    if (rc == MQTTCLIENT_SUCCESS && p->v5)
        rc = MQTTClient_setPublished(p->client, p, on_published);
    if (rc != MQTTCLIENT_SUCCESS) {
        snprintf(err, errlen, "cannot create an MQTT client for %s: %s",
                 p->base.shown, MQTTClient_strerror(rc));
        return CG_EINVAL;
    }
    return CG_OK;
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
    pthread_mutex_init(&p->lock, NULL);
    p->cb = *cb;
    p->v5 = !cb->message; /* see the top of this file */
    atomic_store(&p->window, WINDOW);
    int rc = mqtt__conf_copy(b, &p->base);
    if (rc == CG_OK) {
        set_tls(p);
        parse_host(p, p->base.conf.uri);
        rc = set_will(p, will);
    }
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
    MQTTClient_init_options o = MQTTClient_init_options_initializer;
    o.do_openssl_init = 1;
    MQTTClient_global_init(&o);
}
