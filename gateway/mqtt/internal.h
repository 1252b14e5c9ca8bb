/*
 * What an MQTT backend implements behind mqtt/mqtt.h, and the pieces
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

/* Publishes in flight at most, per client: a client's window is at most
 * MQTT_WINDOW_MAX, and a ticket that outlives MQTT_RING later ones is
 * long given up (its waiter timed out). */
#define MQTT_RING 8192u

/* Publish completion by ticket: a ring of states and one condition
 * variable, so waiters sleep instead of polling. */
struct mqtt_tickets {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned next, oldest;     /* oldest: the first ticket not yet completed */
    unsigned long completions; /* counts every completion, for wait_any */
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
/* Deep-copies b into out; free with mqtt__conf_free (also on CG_ENOMEM). */
int mqtt__broker_copy(const struct cg_broker_conf *b,
                      struct cg_broker_conf *out);
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

/* A connection counts as working, and its loss resets the backoff, once
 * it has stayed up this long: one that a broker drops at once (it refuses
 * a SUBSCRIBE by closing the connection) is retried at a growing
 * interval, not twice a second for ever. */
#define MQTT_STABLE_S 10.0

/* ---- the Paho backend (paho.c, paho_driver.c, journal.c) ---------------
 *
 * Paho's synchronous client in single-threaded mode: MQTTClient_cycle
 * serves every client's socket in the process, so exactly one thread, the
 * driver (paho_driver.c), cycles them all: it connects, reconnects,
 * receives and runs the arrival callback, while any thread may publish
 * (paho.c). See paho_driver.c for the whole picture.
 */
struct paho;

/* The driver's part of a client (paho_driver.c owns it). */
struct paho_conn {
    struct paho *next; /* in the driver's list, under its lock */
    unsigned req;      /* requests from other threads, under its lock */
    unsigned acked;    /* requests done, for callers that wait */
    int state;         /* driver thread only from here on */
    double next_try, backoff;
    double up_since; /* when the connection came up (MQTT_STABLE_S) */
    bool registered, ever_up;
    bool self_held; /* suspended by the driver while it holds a message */
    bool resub_due; /* the filter list changed or the session resumed */
    struct paho_probe *probe;
    void *held, *held_topic; /* a message the callback asked for again */
    int held_tlen;
    double held_since;
};

/* paho.c, for the driver (driver thread only unless said otherwise). */
struct paho_conn *paho__conn(struct paho *p);
const struct cg_mqtt_callbacks *paho__callbacks(const struct paho *p);
const char *paho__host(const struct paho *p, int *port);
/* Whether the connection speaks TLS (any thread: fixed at creation). */
bool paho__tls(const struct paho *p);
/* Connects, and subscribes when the session is new (blocking, up to the
 * connect timeout). CG_OK, or CG_ECONN with why said in words (not yet
 * logged); *session_present as the broker said (then call
 * paho__resubscribe at a quiet moment). *ask_tls is set when the failure
 * was a TLS handshake whose reason Paho does not give: the caller asks
 * OpenSSL off the driver thread (mqtt__failure_reason) before logging. */
int paho__connect(struct paho *p, bool *session_present, char *why, size_t size,
                  bool *ask_tls);
/* The connection's settings (its own copy) and whether it speaks TLS. */
const struct cg_broker_conf *paho__conf(const struct paho *p);
bool paho__is_connected(struct paho *p);
/* Marks the client down: fails what waits for an acknowledgement. */
void paho__went_down(struct paho *p);
void paho__disconnect(struct paho *p, int timeout_ms);
/* Applies a changed filter list to a connected client. */
void paho__resubscribe(struct paho *p);
/* True when the filter list differs from what the broker has. */
bool paho__filters_changed(struct paho *p);
/* Cycles every client for up to timeout_ms and returns a message for p,
 * if one came; *rc is Paho's return code. */
void *paho__receive(struct paho *p, int timeout_ms, char **topic, int *tlen,
                    int *rc);
/* Hands a received message to the callback. CG_OK (done and freed) or
 * CG_RETRY (kept: offer it again). */
int paho__dispatch(struct paho *p, void *msg, char *topic, int tlen);
void paho__free_message(void *msg, char *topic);
/* Messages Paho has read for p and not yet handed over (0 without a
 * journal). */
long paho__queued(struct paho *p);
/* True while publishes of p wait for their acknowledgement. Any thread. */
bool paho__awaiting(struct paho *p);
/* Completes publishes on connections that do not report them (MQTT
 * 3.1.1): what Paho no longer has pending was acknowledged. */
void paho__poll_completions(struct paho *p);

/* paho_driver.c: any thread. */
void paho__driver_add(struct paho *p);
/* Sends requests (PAHO_REQ_*) and, with wait_ms, waits for them. */
void paho__driver_request(struct paho *p, unsigned req, int wait_ms);
#define PAHO_REQ_START   1u
#define PAHO_REQ_SUSPEND 2u
#define PAHO_REQ_RESUME  4u
#define PAHO_REQ_RESUB   8u
#define PAHO_REQ_STOP    16u

/* journal.c: the intake client's persistence, see there. */
struct mqtt_journal;
int mqtt__journal_new(const char *dir, struct mqtt_journal **out);
/* The MQTTClient_persistence to give MQTTClient_createWithOptions. */
void *mqtt__journal_persistence(struct mqtt_journal *j);
/* The message receive() handed over last is done: forget it. */
void mqtt__journal_done(struct mqtt_journal *j);
size_t mqtt__journal_live(struct mqtt_journal *j);
/* Entries the index holds, live and dead: what it costs in memory. */
size_t mqtt__journal_index_len(struct mqtt_journal *j);
/* Messages Paho has read and not yet handed over (any QoS). Any thread. */
long mqtt__journal_queued(struct mqtt_journal *j);
/* After MQTTClient_createWithOptions: frees what the restore was handed,
 * when Paho's own free() would not (its heap tracking). NULL-safe. */
void mqtt__journal_forget_handouts(struct mqtt_journal *j);
/* The filters a persistent session has at the broker, kept beside the
 * journal (<client>.filters) so a new process knows them. NULL-safe;
 * a list that cannot be saved or read is treated as empty. */
void mqtt__journal_save_filters(struct mqtt_journal *j,
                                const struct mqtt_filters *fl);
void mqtt__journal_load_filters(struct mqtt_journal *j,
                                struct mqtt_filters *fl);
void mqtt__journal_free(struct mqtt_journal *j);

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
