/*
 * The Paho driver: the one thread that runs every Paho client of the
 * process (internal.h).
 *
 * Why one thread: MQTTClient_cycle, behind MQTTClient_receive, _yield,
 * _connect and _subscribe, selects over the sockets of ALL clients and
 * handles whichever is ready, so whichever thread cycles serves every
 * connection. Two threads cycling at once can steal each other's CONNACK
 * or SUBACK. So this thread alone connects, subscribes, receives and
 * disconnects; other threads only publish (MQTTClient_publish writes from
 * the caller's thread and takes Paho's lock) and send requests here.
 *
 * Each pass: take requests (start, suspend, resume, resubscribe, stop);
 * start probes and connect the clients that are due; then receive on the
 * intake connection for up to PUMP_MS, which also reads every other
 * connection's acknowledgements (MQTT 5 reports them at once through the
 * published callback), and run the arrival callback for a message that
 * came; then look for connections that went down.
 *
 * Connecting: MQTTClient_connect blocks until CONNACK (up to 5 s), and
 * while it blocks no message is processed. So a connection that is down
 * is first probed off this thread, on a short-lived thread of its own:
 * a TCP connect, then (without TLS) an anonymous clean-session CONNECT
 * that any MQTT broker answers with a CONNACK, accepting or refusing it.
 * Only once the broker answers does this thread call Paho. A broker that
 * is down, or one that takes TCP but never answers MQTT (a hung broker,
 * a load balancer without a backend), costs intake nothing. Over TLS the
 * probe stops at TCP: such a broker still costs one connect timeout per
 * attempt (backoff 0.5 s doubling to 30 s).
 *
 * Losses: in Paho 1.3.12 MQTTClient_receive(A) disconnects A when it
 * meets an error on ANY socket. After such an error, MQTTClient_yield
 * (100 ms of cycling) disconnects the client whose socket failed; when
 * another client went down meanwhile, A's loss was collateral and A
 * reconnects at once, without backoff.
 */
#include <MQTTClient.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PUMP_MS       50  /* the longest a request waits for this thread */
#define HOLD_MS       5   /* offer a refused message again this often */
#define HOLD_SUSPEND  0.2 /* s: then disconnect the intake while it holds */
#define PROBE_MS      5000
#define PROBE_STACK   (128u << 10)
#define BACKOFF_FIRST 0.5
#define QUIET_S       0.002 /* a receive that waited this long: no backlog */
#define DRAIN_CYCLES  4     /* extra cycles per message, for the acks */
#define QUEUE_SOFT    64    /* read ahead of the callback at most this */

enum { ST_IDLE = 0, ST_DOWN, ST_PROBING, ST_UP, ST_SUSPENDED, ST_STOPPED };

struct paho_probe {
    atomic_int refs;
    atomic_int result; /* 0 running, 1 the port answers, -1 it does not */
    char host[256];
    int port;
    bool ask_mqtt; /* wait for a CONNACK too (not over TLS) */
    char err[400];
    /* With ask_tls: a handshake of our own after a failed TLS connect,
     * to say why (unknown CA, hostname mismatch ...), with the
     * connection's settings copied (the client may go meanwhile). */
    bool ask_tls;
    struct cg_broker_conf conf;
    char paho_said[128];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* requests and probe results, for the driver */
    pthread_cond_t done; /* requests done, for their senders */
    struct paho *list;
    bool running, poked;
} drv = {PTHREAD_MUTEX_INITIALIZER,
         PTHREAD_COND_INITIALIZER,
         PTHREAD_COND_INITIALIZER,
         NULL,
         false,
         false};

static void *drive(void *arg);

/* ---- requests (any thread) --------------------------------------------- */

static void poke(void)
{
    pthread_mutex_lock(&drv.lock);
    drv.poked = true;
    pthread_cond_signal(&drv.cond);
    pthread_mutex_unlock(&drv.lock);
}

static pthread_attr_t *small_stack(pthread_attr_t *a, size_t size)
{
    pthread_attr_init(a);
    pthread_attr_setdetachstate(a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(a, size);
    return a;
}

void paho__driver_add(struct paho *p)
{
    struct paho_conn *c = paho__conn(p);
    pthread_mutex_lock(&drv.lock);
    if (!c->registered) {
        c->next = drv.list;
        drv.list = p;
        c->registered = true;
        c->state = ST_IDLE;
        c->backoff = BACKOFF_FIRST;
    }
    if (!drv.running) {
        pthread_t t;
        pthread_attr_t a;
        /* The pipeline runs on this thread: the default stack size. */
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        drv.running = pthread_create(&t, &a, drive, NULL) == 0;
        pthread_attr_destroy(&a);
        if (!drv.running)
            cg_log(CG_LOG_ERROR, "mqtt: cannot start the MQTT thread");
    }
    pthread_mutex_unlock(&drv.lock);
}

void paho__driver_request(struct paho *p, unsigned req, int wait_ms)
{
    struct paho_conn *c = paho__conn(p);
    struct timespec until;
    cg_time_deadline(&until, wait_ms / 1000.0);
    pthread_mutex_lock(&drv.lock);
    if (c->registered) {
        c->acked &= ~req;
        c->req |= req;
        drv.poked = true;
        pthread_cond_signal(&drv.cond);
        while (wait_ms > 0 && c->registered && drv.running &&
               (c->acked & req) != req &&
               pthread_cond_timedwait(&drv.done, &drv.lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&drv.lock);
}

/* ---- the reachability probe (its own short-lived thread) ---------------- */

static void probe_release(struct paho_probe *pr)
{
    if (pr && atomic_fetch_sub(&pr->refs, 1) == 1) {
        mqtt__conf_free(&pr->conf);
        cg_free(pr);
    }
}

/* An MQTT 3.1.1 CONNECT with clean session and an empty client id: it
 * touches no session of ours, needs no credentials, and every broker
 * answers it with a CONNACK, accepting or refusing; then DISCONNECT. */
static const uint8_t PROBE_CONNECT[] = {0x10, 12, 0, 4, 'M', 'Q', 'T',
                                        'T',  4,  2, 0, 10,  0,   0};
static const uint8_t PROBE_DISCONNECT[] = {0xe0, 0};

/* Does the broker on fd (connected) say anything to a CONNECT within
 * PROBE_MS? A CONNACK, a refusal or a close all mean it is alive, and
 * Paho will hear the same at once; only silence would stall Paho. */
static int answers_mqtt(int fd, char *err, size_t errlen)
{
    uint8_t reply[4];
    struct pollfd pfd = {fd, POLLIN, 0};
    if (send(fd, PROBE_CONNECT, sizeof(PROBE_CONNECT), MSG_NOSIGNAL) !=
        (ssize_t)sizeof(PROBE_CONNECT))
        return 0; /* the connection broke: Paho will say how */
    if (poll(&pfd, 1, PROBE_MS) != 1) {
        snprintf(err, errlen,
                 "the broker accepted the TCP connection but did not answer "
                 "MQTT within %d s",
                 PROBE_MS / 1000);
        return -1;
    }
    if (recv(fd, reply, sizeof(reply), MSG_DONTWAIT) > 0 && reply[0] == 0x20)
        (void)!send(fd, PROBE_DISCONNECT, sizeof(PROBE_DISCONNECT),
                    MSG_NOSIGNAL);
    return 0;
}

static int try_connect(const struct addrinfo *ai, bool ask_mqtt, char *err,
                       size_t errlen)
{
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               ai->ai_protocol);
    if (fd < 0)
        return -1;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen), soerr = 0;
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        socklen_t len = sizeof(soerr);
        rc = poll(&pfd, 1, PROBE_MS) == 1 &&
                     getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
                     soerr == 0
                 ? 0
                 : -1;
        if (rc < 0 && !soerr)
            soerr = ETIMEDOUT;
    } else if (rc < 0) {
        soerr = errno;
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", strerror(soerr));
    else if (ask_mqtt)
        rc = answers_mqtt(fd, err, errlen);
    close(fd);
    return rc;
}

/* The words for a failed TLS connect: OpenSSL's reason from a handshake
 * of our own, else what Paho said. The port answered: the result is 1. */
static void explain_tls(struct paho_probe *pr)
{
    mqtt__failure_reason(&pr->conf, 0, true, pr->paho_said, "", pr->err,
                         sizeof(pr->err));
    atomic_store(&pr->result, 1);
    poke();
    probe_release(pr);
}

static void *probe_run(void *arg)
{
    struct paho_probe *pr = arg;
    if (pr->ask_tls) {
        explain_tls(pr);
        return NULL;
    }
    struct addrinfo hints, *res = NULL;
    char port[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", pr->port);
    int rc = getaddrinfo(pr->host, port, &hints, &res), ok = -1;
    if (rc != 0)
        snprintf(pr->err, sizeof(pr->err), "%s", gai_strerror(rc));
    for (struct addrinfo *ai = res; ai && ok < 0; ai = ai->ai_next)
        ok = try_connect(ai, pr->ask_mqtt, pr->err, sizeof(pr->err));
    if (res)
        freeaddrinfo(res);
    atomic_store(&pr->result, ok == 0 ? 1 : -1);
    poke();
    probe_release(pr);
    return NULL;
}

/* Starts a probe of p's broker; without a host to probe (or a thread to
 * probe on) the probe counts as answered and Paho connects directly.
 * With paho_said, the probe asks OpenSSL why a TLS connect failed. */
static void probe_start(struct paho *p, const char *paho_said)
{
    struct paho_conn *c = paho__conn(p);
    int port;
    const char *host = paho__host(p, &port);
    struct paho_probe *pr = cg_calloc(1, sizeof(*pr));
    if (!pr)
        return;
    atomic_store(&pr->refs, 2);
    atomic_store(&pr->result, host || paho_said ? 0 : 1);
    snprintf(pr->host, sizeof(pr->host), "%s", host ? host : "");
    pr->port = port;
    pr->ask_mqtt = !paho__tls(p);
    if (paho_said) {
        pr->ask_tls = true;
        snprintf(pr->err, sizeof(pr->err), "%s", paho_said);
        snprintf(pr->paho_said, sizeof(pr->paho_said), "%s", paho_said);
        if (mqtt__broker_copy(paho__conf(p), &pr->conf) != CG_OK)
            atomic_store(&pr->result, 1); /* out of memory: Paho's words */
    }
    c->probe = pr;
    pthread_t t;
    pthread_attr_t a;
    /* A handshake needs more stack than a TCP connect. */
    size_t stack = pr->ask_tls ? PROBE_STACK * 4 : PROBE_STACK;
    if (atomic_load(&pr->result) != 0 ||
        pthread_create(&t, small_stack(&a, stack), probe_run, pr) != 0) {
        atomic_store(&pr->result, 1);
        probe_release(pr);
        return;
    }
    pthread_attr_destroy(&a);
}

/* ---- connections (driver thread) ---------------------------------------- */

static void retry_later(struct paho *p, bool backoff)
{
    struct paho_conn *c = paho__conn(p);
    c->state = ST_DOWN;
    c->next_try = cg_time_mono() + (backoff ? mqtt__next_wait(&c->backoff) : 0);
}

static void connect_now(struct paho *p)
{
    struct paho_conn *c = paho__conn(p);
    struct cg_mqtt *m = (struct cg_mqtt *)p;
    bool session = false, ask_tls = false;
    char why[160];
    if (paho__connect(p, &session, why, sizeof(why), &ask_tls) != CG_OK) {
        if (ask_tls) { /* why in OpenSSL's words, off this thread */
            probe_start(p, why);
            if (c->probe) {
                c->state = ST_PROBING;
                return;
            }
        }
        mqtt__log_refused(m, why);
        retry_later(p, true);
        return;
    }
    c->state = ST_UP;
    c->up_since = cg_time_mono();
    c->ever_up = true;
    c->resub_due = session && paho__filters_changed(p);
    mqtt__log_connected(m, session);
    const struct cg_mqtt_callbacks *cb = paho__callbacks(p);
    if (cb->connected)
        cb->connected(cb->user, session);
}

/* Moves a client that is down or probing one step on. */
static void advance(struct paho *p, double now)
{
    struct paho_conn *c = paho__conn(p);
    if (c->state == ST_DOWN && now >= c->next_try) {
        probe_start(p, NULL);
        c->state = c->probe ? ST_PROBING : ST_DOWN;
        if (!c->probe)
            c->next_try = now + 1.0; /* out of memory: later */
    }
    if (c->state != ST_PROBING || atomic_load(&c->probe->result) == 0)
        return;
    bool answered = atomic_load(&c->probe->result) > 0;
    bool explained = c->probe->ask_tls; /* a failed TLS connect, in words */
    if (!answered || explained)
        mqtt__log_refused((struct cg_mqtt *)p, c->probe->err);
    probe_release(c->probe);
    c->probe = NULL;
    if (answered && !explained)
        connect_now(p);
    else
        retry_later(p, true);
}

static void went_down(struct paho *p, bool collateral)
{
    const struct cg_mqtt_callbacks *cb = paho__callbacks(p);
    const char *cause = collateral ? "dropped together with another "
                                     "connection that failed"
                                   : "connection lost";
    struct paho_conn *c = paho__conn(p);
    paho__went_down(p);
    if (cg_time_mono() - c->up_since >= MQTT_STABLE_S)
        c->backoff = BACKOFF_FIRST;
    retry_later(p, !collateral);
    mqtt__log_lost((struct cg_mqtt *)p, cause);
    if (cb->lost)
        cb->lost(cb->user, cause);
}

/* ---- requests (driver thread) ------------------------------------------- */

static void apply(struct paho *p, unsigned todo)
{
    struct paho_conn *c = paho__conn(p);
    if (todo & PAHO_REQ_STOP) {
        if (c->state == ST_UP)
            paho__disconnect(p, 1000);
        paho__went_down(p);
        paho__free_message(c->held, c->held_topic); /* stays journaled */
        c->held = c->held_topic = NULL;
        probe_release(c->probe);
        c->probe = NULL;
        c->state = ST_STOPPED;
        return;
    }
    if (todo & PAHO_REQ_START && c->state == ST_IDLE)
        retry_later(p, false);
    if (todo & PAHO_REQ_SUSPEND) {
        c->self_held = false; /* the caller decides when to resume */
        if (c->state == ST_UP)
            paho__disconnect(p, 0);
        probe_release(c->probe);
        c->probe = NULL;
        c->state = ST_SUSPENDED;
    }
    if (todo & PAHO_REQ_RESUME && c->state == ST_SUSPENDED)
        retry_later(p, false);
    if (todo & PAHO_REQ_RESUB)
        c->resub_due = true;
}

/* Takes the requests of every client, applies them, and drops stopped
 * clients from the list. Returns false when the list is empty. */
static bool take_requests(void)
{
    pthread_mutex_lock(&drv.lock);
    for (struct paho *p = drv.list; p; p = paho__conn(p)->next) {
        struct paho_conn *c = paho__conn(p);
        unsigned todo = c->req;
        c->req = 0;
        if (!todo)
            continue;
        pthread_mutex_unlock(&drv.lock);
        apply(p, todo); /* no one else unlinks p meanwhile */
        pthread_mutex_lock(&drv.lock);
        c->acked |= todo;
    }
    for (struct paho **pp = &drv.list; *pp;) {
        struct paho_conn *c = paho__conn(*pp);
        if (c->state == ST_STOPPED) {
            *pp = c->next;
            c->registered = false;
        } else {
            pp = &c->next;
        }
    }
    pthread_cond_broadcast(&drv.done);
    bool any = drv.list != NULL;
    drv.running = any;
    pthread_mutex_unlock(&drv.lock);
    return any;
}

/* ---- receiving (driver thread) ------------------------------------------ */

static struct paho *head(void)
{
    pthread_mutex_lock(&drv.lock);
    struct paho *p = drv.list;
    pthread_mutex_unlock(&drv.lock);
    return p;
}

/* A connection to receive on: the intake (a receiver) unless it holds a
 * message it could not hand over, else any other that is up. */
static struct paho *pick(void)
{
    struct paho *other = NULL;
    for (struct paho *p = head(); p; p = paho__conn(p)->next) {
        struct paho_conn *c = paho__conn(p);
        bool recv = paho__callbacks(p)->message != NULL;
        if (c->state != ST_UP || (recv && c->held))
            continue;
        if (recv)
            return p;
        other = other ? other : p;
    }
    return other;
}

/* Offers a held message again; true when it is done. */
static bool offer_held(struct paho *p)
{
    struct paho_conn *c = paho__conn(p);
    if (paho__dispatch(p, c->held, c->held_topic, c->held_tlen) != CG_OK)
        return false;
    c->held = c->held_topic = NULL;
    return true;
}

static void handle(struct paho *p, void *msg, char *topic, int tlen)
{
    struct paho_conn *c = paho__conn(p);
    if (paho__dispatch(p, msg, topic, tlen) == CG_OK)
        return;
    c->held = msg;
    c->held_topic = topic;
    c->held_tlen = tlen;
    c->held_since = cg_time_mono();
}

/* Offers held messages again. While the intake holds one, no socket is
 * read (reading would pile the broker's messages up in Paho's queue and
 * journal); after HOLD_SUSPEND the intake disconnects, so the other
 * connections can be served, and it reconnects once the message is
 * done. Returns false when this pass must not cycle. */
static bool retry_held(int *ms)
{
    for (struct paho *p = head(); p; p = paho__conn(p)->next) {
        struct paho_conn *c = paho__conn(p);
        if (!c->held)
            continue;
        if (offer_held(p)) {
            if (c->self_held && c->state == ST_SUSPENDED)
                retry_later(p, false);
            c->self_held = false;
            continue;
        }
        *ms = *ms > HOLD_MS ? HOLD_MS : *ms;
        if (c->state != ST_UP)
            continue;
        if (cg_time_mono() - c->held_since < HOLD_SUSPEND)
            return false;
        cg_log(CG_LOG_WARN, "intake: a message cannot be processed yet; "
                            "holding intake at the broker");
        paho__disconnect(p, 0);
        c->state = ST_SUSPENDED;
        c->self_held = true;
    }
    return true;
}

/* One MQTTClient_receive cycle reads one packet from one ready socket,
 * taking the ready sockets in turn, and a receive on the intake returns
 * after one cycle while Paho holds a message. With QoS 1 events each
 * message brings several PUBACKs on the output connections: without extra
 * cycles they are read more slowly than they come, the window fills and
 * delivery stalls. Extra cycles may also read intake messages ahead, so
 * they stop while Paho holds QUEUE_SOFT of those. */
static void drain_acks(struct paho *in)
{ /* only connections with acknowledgements to come: none for QoS 0 */
    struct paho *out = NULL;
    for (struct paho *p = head(); p && !out; p = paho__conn(p)->next)
        if (p != in && paho__conn(p)->state == ST_UP && paho__awaiting(p))
            out = p;
    for (int k = 0; out && k < DRAIN_CYCLES && paho__queued(in) < QUEUE_SOFT;
         k++) {
        char *topic;
        int tlen, rc;
        paho__receive(out, 0, &topic, &tlen, &rc); /* frees any message */
        if (rc != MQTTCLIENT_SUCCESS)
            break;
    }
}

/* Waits for a request or a probe result, up to ms. */
static void idle(int ms)
{
    struct timespec until;
    cg_time_deadline(&until, ms / 1000.0);
    pthread_mutex_lock(&drv.lock);
    while (!drv.poked &&
           pthread_cond_timedwait(&drv.cond, &drv.lock, &until) == 0)
        ;
    drv.poked = false;
    pthread_mutex_unlock(&drv.lock);
}

/* Receives on the intake connection (or, without one, on any connection
 * that is up, for its acknowledgements). Returns the client whose
 * receive failed, or NULL. */
static struct paho *pump(int ms)
{
    bool cycle = retry_held(&ms);
    struct paho *any = cycle ? pick() : NULL;
    if (!any) {
        idle(ms);
        return NULL;
    }
    char *topic;
    int tlen, rc;
    double t0 = cg_time_mono();
    void *msg = paho__receive(any, ms, &topic, &tlen, &rc);
    struct paho_conn *c = paho__conn(any);
    if (c->resub_due && rc == MQTTCLIENT_SUCCESS &&
        (!msg || cg_time_mono() - t0 >= QUIET_S)) {
        c->resub_due = false; /* quiet: no backlog waits at the broker */
        paho__resubscribe(any);
    }
    if (msg) {
        handle(any, msg, topic, tlen);
        drain_acks(any);
    }
    return rc == MQTTCLIENT_FAILURE ? any : NULL;
}

/* After a failed receive: see the introduction. */
static void find_losses(struct paho *failed)
{
    bool other = false;
    if (failed)
        MQTTClient_yield(); /* disconnects the client whose socket failed */
    for (struct paho *p = head(); p; p = paho__conn(p)->next)
        if (p != failed && paho__conn(p)->state == ST_UP &&
            !paho__is_connected(p)) {
            went_down(p, false);
            other = true;
        }
    if (failed && paho__conn(failed)->state == ST_UP &&
        !paho__is_connected(failed))
        went_down(failed, other);
}

static int next_wait_ms(double now)
{
    double due = now + PUMP_MS / 1000.0;
    for (struct paho *p = head(); p; p = paho__conn(p)->next) {
        struct paho_conn *c = paho__conn(p);
        if (c->state == ST_DOWN && c->next_try < due)
            due = c->next_try;
        if (c->state == ST_PROBING)
            due = now + HOLD_MS / 1000.0;
    }
    return due > now ? (int)((due - now) * 1000.0) + 1 : 0;
}

/* The list is walked from its head (read under the lock) without the
 * lock: only this thread unlinks, and other threads only push new clients
 * at the head, which the next pass sees. */
static void *drive(void *arg)
{
    (void)arg;
    while (take_requests()) {
        double now = cg_time_mono();
        for (struct paho *p = head(); p; p = paho__conn(p)->next)
            advance(p, now);
        find_losses(pump(next_wait_ms(now)));
        for (struct paho *p = head(); p; p = paho__conn(p)->next)
            if (paho__conn(p)->state == ST_UP)
                paho__poll_completions(p);
    }
    return NULL;
}
