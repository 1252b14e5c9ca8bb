/*
 * citygate-sim: the MQTT connection, through libmosquitto's threaded
 * client.
 *
 * libmosquitto queues every message handed to mosquitto_publish() in its
 * own memory until the broker acknowledges it, so a simulator that
 * publishes faster than the broker drains would grow without bound. We
 * therefore keep a window: a publish first waits until fewer than
 * SIM_WINDOW messages are unconfirmed. The confirmation is the publish
 * callback, which libmosquitto calls on its network thread for QoS 1 when
 * the PUBACK arrives and for QoS 0 once the bytes are handed to the
 * kernel, so the same window bounds both.
 *
 * Threads: the main thread calls the sim__mqtt_* functions; libmosquitto's
 * network thread runs the callbacks. They share only the counters below,
 * under `lock`.
 */
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define SIM_WINDOW         64 /* unconfirmed messages at most */
#define SIM_CONNECT_WAIT_S 10 /* for the first CONNACK */
#define SIM_STALL_S        30 /* no progress this long: the broker is gone */
#define SIM_DRAIN_WAIT_S   10 /* for the last acknowledgements at exit */

struct sim_mqtt {
    struct mosquitto *mosq;
    const char *uri; /* for messages; borrowed from the options */
    pthread_mutex_t lock;
    pthread_cond_t changed; /* signalled whenever a field below changes */
    int connack;            /* -1 until the first CONNACK, then its code */
    int connected;
    long unconfirmed; /* published, publish callback not yet run */
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct sim_mqtt *c = obj;
    pthread_mutex_lock(&c->lock);
    c->connack = rc;
    c->connected = rc == 0;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct sim_mqtt *c = obj;
    pthread_mutex_lock(&c->lock);
    c->connected = 0;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct sim_mqtt *c = obj;
    pthread_mutex_lock(&c->lock);
    if (c->unconfirmed > 0)
        c->unconfirmed--;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

/* libmosquitto's texts end in a full stop, strerror's do not: the stop a
 * sentence about `why` still needs. */
static const char *stop_for(const char *why)
{
    size_t n = strlen(why);
    return n && why[n - 1] == '.' ? "" : ".";
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits on the condition for at most 100 ms (the caller holds the lock);
 * the short slice lets callers notice a signal, which cannot wake a
 * condition variable. */
static void wait_slice(struct sim_mqtt *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 100 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->changed, &c->lock, &ts);
}

static struct sim_mqtt *mqtt_new(const char *uri)
{
    struct sim_mqtt *c = calloc(1, sizeof(*c));
    pthread_condattr_t attr;
    if (!c) {
        mosquitto_lib_cleanup();
        return NULL;
    }
    c->uri = uri;
    c->connack = -1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->changed, &attr);
    pthread_condattr_destroy(&attr);
    char id[64];
    snprintf(id, sizeof(id), "citygate-sim-%ld", (long)getpid());
    c->mosq = mosquitto_new(id, true, c);
    if (!c->mosq) {
        sim__mqtt_close(c);
        return NULL;
    }
    mosquitto_connect_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
    mosquitto_publish_callback_set(c->mosq, on_publish);
    mosquitto_reconnect_delay_set(c->mosq, 1, 2, false);
    return c;
}

/* Waits for the broker's answer to CONNECT; returns 0 or -1 (printed). */
static int await_connack(struct sim_mqtt *c)
{
    double deadline = mono_now() + SIM_CONNECT_WAIT_S;
    pthread_mutex_lock(&c->lock);
    while (c->connack < 0 && mono_now() < deadline)
        wait_slice(c);
    int connack = c->connack;
    pthread_mutex_unlock(&c->lock);
    if (connack == 0)
        return 0;
    if (connack < 0)
        fprintf(stderr,
                "citygate-sim: the broker at %s did not answer "
                "within %d s.\n",
                c->uri, SIM_CONNECT_WAIT_S);
    else
        fprintf(stderr,
                "citygate-sim: the broker at %s refused the connection: "
                "%s%s\n",
                c->uri, mosquitto_connack_string(connack),
                stop_for(mosquitto_connack_string(connack)));
    return -1;
}

struct sim_mqtt *sim__mqtt_open(const char *host, int port, const char *uri)
{
    mosquitto_lib_init();
    struct sim_mqtt *c = mqtt_new(uri);
    if (!c) {
        fprintf(stderr, "citygate-sim: out of memory.\n");
        return NULL;
    }
    int rc = mosquitto_connect(c->mosq, host, port, 30);
    int err = errno;
    if (rc != MOSQ_ERR_SUCCESS) {
        const char *why =
            rc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(rc);
        fprintf(stderr,
                "citygate-sim: cannot connect to the broker at %s: %s%s\n", uri,
                why, stop_for(why));
        sim__mqtt_close(c);
        return NULL;
    }
    rc = mosquitto_loop_start(c->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "citygate-sim: cannot start the network thread: %s%s\n",
                mosquitto_strerror(rc), stop_for(mosquitto_strerror(rc)));
        sim__mqtt_close(c);
        return NULL;
    }
    if (await_connack(c) < 0) {
        sim__mqtt_close(c);
        return NULL;
    }
    return c;
}

/* Takes a slot in the window, waiting while it is full or the connection
 * is down. Returns 0, -1 (stalled, printed) or -2 (stop requested). */
static int take_slot(struct sim_mqtt *c, volatile sig_atomic_t *stop)
{
    double deadline = mono_now() + SIM_STALL_S;
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    while (!c->connected || c->unconfirmed >= SIM_WINDOW) {
        if (*stop) {
            rc = -2;
            break;
        }
        if (mono_now() >= deadline) {
            const char *what = c->connected ? "stopped acknowledging messages"
                                            : "has been unreachable";
            fprintf(stderr,
                    "citygate-sim: the broker at %s %s for %d s; "
                    "giving up.\n",
                    c->uri, what, SIM_STALL_S);
            rc = -1;
            break;
        }
        wait_slice(c);
    }
    if (rc == 0)
        c->unconfirmed++;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void give_slot_back(struct sim_mqtt *c)
{
    pthread_mutex_lock(&c->lock);
    c->unconfirmed--;
    pthread_mutex_unlock(&c->lock);
}

int sim__mqtt_publish(struct sim_mqtt *c, const struct sim_msg *m, int qos,
                      volatile sig_atomic_t *stop)
{
    double deadline = mono_now() + SIM_STALL_S;
    for (;;) {
        int rc = take_slot(c, stop);
        if (rc < 0)
            return rc;
        rc = mosquitto_publish(c->mosq, NULL, m->topic, (int)m->payload.len,
                               m->payload.data, qos, false);
        if (rc == MOSQ_ERR_SUCCESS)
            return 0;
        give_slot_back(c);
        if (rc != MOSQ_ERR_NO_CONN && rc != MOSQ_ERR_CONN_LOST) {
            fprintf(stderr, "citygate-sim: cannot publish on %s: %s%s\n",
                    m->topic, mosquitto_strerror(rc),
                    stop_for(mosquitto_strerror(rc)));
            return -1;
        }
        /* The connection dropped under us; the network thread reconnects
         * on its own, so try again shortly, for a bounded time. */
        if (mono_now() >= deadline) {
            fprintf(stderr,
                    "citygate-sim: lost the connection to the broker "
                    "at %s.\n",
                    c->uri);
            return -1;
        }
        pthread_mutex_lock(&c->lock);
        wait_slice(c);
        pthread_mutex_unlock(&c->lock);
    }
}

/* Gives the broker a moment to acknowledge what is still in flight. */
static void drain(struct sim_mqtt *c)
{
    double deadline = mono_now() + SIM_DRAIN_WAIT_S;
    pthread_mutex_lock(&c->lock);
    while (c->connected && c->unconfirmed > 0 && mono_now() < deadline)
        wait_slice(c);
    pthread_mutex_unlock(&c->lock);
}

void sim__mqtt_close(struct sim_mqtt *c)
{
    if (!c)
        return;
    if (c->mosq) {
        drain(c);
        /* If DISCONNECT cannot be sent the network thread may be asleep
         * between reconnect attempts: stop it by force then. */
        int rc = mosquitto_disconnect(c->mosq);
        mosquitto_loop_stop(c->mosq, rc != MOSQ_ERR_SUCCESS);
        mosquitto_destroy(c->mosq);
    }
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
    free(c);
    mosquitto_lib_cleanup();
}
