/*
 * The gateway's small MQTT client interface. The rest of the gateway never
 * sees Paho (or any other client library): it connects, subscribes,
 * publishes, waits for acknowledgements and receives messages through
 * these functions, so another backend can be measured beside Paho.
 *
 * Connection management is the client's job: after start() it connects in
 * the background and, after any loss, reconnects with capped exponential
 * backoff and jitter (0.5 s doubling to 30 s); a new session gets every
 * filter subscribed, a resumed one keeps its subscriptions. It logs every
 * connect, loss and failed attempt under the connection's name, turning
 * TLS and CONNACK failures into their reason (unknown CA, hostname
 * mismatch, bad user name or password).
 *
 * Backends: Eclipse Paho's synchronous client (the default; one thread of
 * ours drives every Paho connection of the process, see
 * mqtt/paho_driver.c) and libmosquitto, chosen by `broker.client`; the
 * functions below dispatch (mqtt.c).
 */
#ifndef CG_MQTT_H
#define CG_MQTT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct cg_mqtt;

struct cg_mqtt_callbacks {
    /* A message arrived; topic is NUL-terminated. Runs on the connection's
     * own thread (Paho: the one MQTT thread of the process), one message
     * at a time. Return CG_OK once the message is done with: the message
     * may then be released (Paho: its journal entry is deleted;
     * libmosquitto: it is acknowledged). Return CG_RETRY to have the same
     * message again shortly. */
    int (*message)(void *user, const char *topic, size_t topic_len,
                   const void *payload, size_t len, int qos);
    /* The connection is up (after a start or a reconnect), filters are
     * being resubscribed. Any client thread. May be NULL. */
    void (*connected)(void *user, bool session_present);
    /* The connection is gone; the client is reconnecting. May be NULL. */
    void (*lost)(void *user, const char *cause);
    void *user;
    /* What log lines call this connection: "intake", "output",
     * "consumer NAME's broker" (copied; NULL: "mqtt"). */
    const char *name;
};

/* A retained last will, published by the broker if we vanish. */
struct cg_mqtt_will {
    const char *topic;
    const char *payload;
    int qos;
    bool retain;
};

/* Once per process, before any client: sets up the TLS library. */
void cg_mqtt_global_init(void);

/* Creates a client for broker b (client id, credentials, TLS, keepalive,
 * clean session). will may be NULL. With persist_dir, messages the client
 * has received (and, with Paho, already acknowledged) are kept on disk
 * there until the message callback is done with them, surviving a crash
 * (NULL: in memory only). Returns CG_OK,
 * CG_EINVAL (with a sentence in err) or CG_ENOMEM. Nothing connects
 * before start(). */
int cg_mqtt_new(const struct cg_broker_conf *b, const struct cg_mqtt_will *will,
                const char *persist_dir, const struct cg_mqtt_callbacks *cb,
                struct cg_mqtt **out, char *err, size_t errlen);
/* Remembers filters to subscribe at qos on every connect (a share group
 * is applied by the caller). Call before start(). */
int cg_mqtt_subscribe(struct cg_mqtt *m, const char *const *filters, size_t n,
                      int qos);
/* Replaces the filter list of a running client: subscribes the new
 * filters and unsubscribes the ones that went away. */
int cg_mqtt_resubscribe(struct cg_mqtt *m, const char *const *filters, size_t n,
                        int qos);
/* Starts connecting in the background. */
int cg_mqtt_start(struct cg_mqtt *m);
bool cg_mqtt_connected(const struct cg_mqtt *m);
/* The broker URI the client connects to, as logs may show it (without a
 * password; valid as long as the client). Any thread. */
const char *cg_mqtt_uri(const struct cg_mqtt *m);
/* The connection's name (callbacks.name). Any thread. */
const char *cg_mqtt_name(const struct cg_mqtt *m);

/* Publishes asynchronously. Returns CG_OK and sets *ticket (give it to
 * cg_mqtt_wait), CG_EFULL when the client's window of publishes in flight
 * is full (wait for one of yours to complete, then publish again),
 * CG_RETRY when not connected, or CG_ENOMEM. Any thread. */
int cg_mqtt_publish(struct cg_mqtt *m, const char *topic, const void *payload,
                    size_t len, int qos, bool retain, unsigned *ticket);
/* True when publishing from the thread that runs the arrival callback
 * is cheap (both backends now: Paho's synchronous publish writes from the
 * calling thread). */
bool cg_mqtt_inline_publish_ok(const struct cg_mqtt *m);

/* Waits until any publish of this client completes or timeout_ms passes:
 * after CG_EFULL, room in the window comes back with a completion. Any
 * thread. */
void cg_mqtt_wait_any(struct cg_mqtt *m, int timeout_ms);

/* Waits until the publish of ticket has completed (QoS 0: written; QoS 1:
 * acknowledged). Wait for each ticket of a batch in turn: they complete
 * concurrently. Returns CG_OK, CG_RETRY (it failed: publish again) or
 * CG_ETIMEDOUT. */
int cg_mqtt_wait(struct cg_mqtt *m, unsigned ticket, int timeout_ms);

/* Stops reading new messages for good (SIGTERM: stop intake first, then
 * drain): the client disconnects; a message already read is still
 * processed; the broker keeps the rest for the next start. */
void cg_mqtt_pause_intake(struct cg_mqtt *m);
/* Disconnects and stays away until resume(): while consumers' spools are
 * full the broker, not the gateway, holds the backlog. */
void cg_mqtt_suspend(struct cg_mqtt *m);
void cg_mqtt_resume(struct cg_mqtt *m);
/* Disconnects cleanly (the broker does not publish the will), waiting up
 * to timeout_ms for in-flight work, and stops reconnecting. */
void cg_mqtt_stop(struct cg_mqtt *m, int timeout_ms);
void cg_mqtt_free(struct cg_mqtt *m);

#endif
