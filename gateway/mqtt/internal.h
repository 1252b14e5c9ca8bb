/*
 * What an MQTT backend implements behind gateway/mqtt.h, and the pieces
 * every backend shares (shared.c): publish tickets, filter lists and the
 * reconnect backoff. Not included outside gateway/mqtt/.
 */
#ifndef CG_MQTT_BACKEND_H
#define CG_MQTT_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base.h"
#include "log.h"
#include "mqtt.h"

struct mqtt_ops {
    int (*subscribe)(struct cg_mqtt *m, const char *const *filters, size_t n,
                     int qos);
    int (*resubscribe)(struct cg_mqtt *m, const char *const *filters, size_t n,
                       int qos);
    int (*start)(struct cg_mqtt *m);
    bool (*connected)(const struct cg_mqtt *m);
    int (*publish)(struct cg_mqtt *m, const char *topic, const void *payload,
                   size_t len, int qos, bool retain, unsigned *ticket);
    void (*suspend)(struct cg_mqtt *m);
    void (*resume)(struct cg_mqtt *m);
    void (*stop)(struct cg_mqtt *m, int timeout_ms);
    void (*free)(struct cg_mqtt *m);
    bool inline_publish_ok; /* see cg_mqtt_inline_publish_ok() */
};

#define MQTT_RING 65536u /* publishes in flight at most, per client */

/* Publish completion by ticket: a ring of states and one condition
 * variable, so waiters sleep instead of polling. */
struct mqtt_tickets {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned next, oldest; /* oldest: the first ticket not yet completed */
    uint8_t state[MQTT_RING];
};

/* Every backend's client struct starts with this. */
struct cg_mqtt {
    const struct mqtt_ops *ops;
    struct mqtt_tickets tickets;
    /* The connection's own copy of its settings: a reload frees the config
     * they came from while the connection lives on. */
    struct cg_broker_conf conf;
    char shown[512]; /* the URI as logs show it: no password */
    char name[128];  /* what logs call the connection */
};

/* Deep-copies b (every string) into m->conf and sets m->shown. CG_OK or
 * CG_ENOMEM (m->conf then holds what was copied: free it). */
int mqtt__conf_copy(const struct cg_broker_conf *b, struct cg_mqtt *m);
void mqtt__conf_free(struct cg_broker_conf *c);

void mqtt__tickets_init(struct mqtt_tickets *t);
void mqtt__tickets_destroy(struct mqtt_tickets *t);
/* Returns false when MQTT_RING publishes are in flight. */
bool mqtt__tickets_reserve(struct mqtt_tickets *t, unsigned *ticket);
void mqtt__tickets_complete(struct mqtt_tickets *t, unsigned ticket, bool ok);

/* A list of filters with their QoS; copies are owned. */
struct mqtt_filters {
    char **f;
    int *qos;
    size_t n;
};
int mqtt__filters_set(struct mqtt_filters *fl, const char *const *filters,
                      size_t n, int qos);
void mqtt__filters_free(struct mqtt_filters *fl);
bool mqtt__filters_has(const struct mqtt_filters *fl, const char *f);

/* ---- log lines (shared.c, tls_probe.c) ----------------------------------
 *
 * Every connection logs under its name, the same way whatever the
 * backend: "<name>: connected to <uri>", "<name>: lost the connection to
 * <uri>: <cause>; reconnecting", "<name>: cannot connect to <uri>:
 * <reason>". Any thread.
 */
void mqtt__log_connected(const struct cg_mqtt *m, bool session_present);
void mqtt__log_lost(const struct cg_mqtt *m, const char *cause);
void mqtt__log_refused(const struct cg_mqtt *m, const char *reason);

/* Why a broker refused a connection, from its CONNACK return code (MQTT
 * 3.1.1: 1 to 5) or reason code (MQTT 5: 0x80 and up), in words an
 * operator acts on ("bad user name or password"); NULL for a code that
 * is neither. Pure. */
const char *mqtt__connack_reason(int code);

/* Finds out why a TLS connection to b fails, the way OpenSSL sees it: a
 * TCP connection and a handshake of our own with b's CA file, client
 * certificate and host name check, bounded by a few seconds. Writes
 * "unknown CA: ...", "hostname mismatch: ...", "certificate verify
 * failed: ...", "TLS handshake failed: ..." or "cannot reach ...: ..."
 * into out and returns true; false when the handshake succeeds (nothing
 * to add). Blocks: call it from the connection's own thread, never from
 * a thread other connections share. */
bool mqtt__tls_probe(const struct cg_broker_conf *b, char *out, size_t size);

/* The words for a failed connect attempt to b: the meaning of a CONNACK
 * code (connack > 0); for a TLS failure before any CONNACK, the probe's
 * verdict (blocks: see above); else the library's message, with the first
 * OpenSSL error it reported (tls_error, may be ""). */
void mqtt__failure_reason(const struct cg_broker_conf *b, int connack,
                          bool tls_failed, const char *message,
                          const char *tls_error, char *out, size_t size);
/* The reason part of an OpenSSL error line ("certificate verify failed"
 * from "<thread>:error:<code>:<library>:<function>:<reason>:<file>:..."),
 * or the whole line when it has another form. Pure. */
void mqtt__openssl_reason(const char *line, size_t len, char *out, size_t size);

/* The next reconnect wait: backoff seconds times 0.5 to 1.5, then the
 * backoff doubles up to 30 s. */
double mqtt__next_wait(double *backoff);

int mqtt__paho_new(const struct cg_broker_conf *b,
                   const struct cg_mqtt_will *will, const char *persist_dir,
                   const struct cg_mqtt_callbacks *cb, struct cg_mqtt **out,
                   char *err, size_t errlen);
int mqtt__mosq_new(const struct cg_broker_conf *b,
                   const struct cg_mqtt_will *will, const char *persist_dir,
                   const struct cg_mqtt_callbacks *cb, struct cg_mqtt **out,
                   char *err, size_t errlen);
void mqtt__paho_global_init(void);
void mqtt__mosq_global_init(void);

#endif
