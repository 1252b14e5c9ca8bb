/*
 * The running gateway: what `citygate run` holds while it serves a city.
 *
 * Threads: the loop thread (main) owns this struct; it loads, reloads and
 * shuts down. The MQTT receive thread runs the pipeline for each message
 * under engine_lock, which a reload takes only to swap in a new
 * generation. Each consumer's delivery thread lives in its outbox.
 */
#ifndef CG_RUN_H
#define CG_RUN_H

#include <pthread.h>
#include <stdatomic.h>

#include "gateway.h"
#include "mqtt.h"
#include "outbox.h"

/* A consumer's outbox and what it was built from, so a reload can keep
 * it when nothing it depends on changed. */
struct gw_consumer {
    char *name;
    uint64_t signature;
    struct outbox *box;
    struct cg_mqtt *own_mqtt; /* its own broker: connection, or NULL */
    struct cg_plugin_reg *reg;
};

/* One loaded configuration: swapped as a whole by a reload. */
struct gw_gen {
    struct cg_config *cfg;
    struct cg_plugin_reg *reg;
    struct cg_engine *engine;
    struct outbox **boxes; /* per consumer of cfg, in config order */
    bool *direct;          /* per consumer: QoS 0 over our own connection */
    char **filters;        /* vendor filters, with any share group */
    size_t n_filters;
};

#define GW_N_REASONS 5
extern const char *const gw__reasons[GW_N_REASONS];
#define GW_N_BUCKETS 12 /* pipeline histogram, plus +Inf */

struct gw {
    const char *config_path;
    struct gw_gen gen;
    pthread_mutex_t engine_lock;
    struct gw_consumer *cons;
    size_t n_cons;
    struct gw_consumer *retired; /* replaced by a reload, freed after it */
    size_t n_retired;
    struct outbox *dead;            /* dead letters, published at QoS 1 */
    struct cg_plugin_reg *dead_reg; /* its sink's plugin stays loaded */
    struct cg_mqtt *in;             /* intake: subscriptions, status and will */
    struct cg_mqtt *out;            /* events and dead letters */
    struct cg_broker_conf out_conf;
    char out_client_id[300];
    double started;
    uint64_t fingerprint;
    atomic_ullong received, events, dead_count[GW_N_REASONS];
    atomic_bool stopping;
    atomic_bool blocked; /* intake held: a spool with block policy is full */
    atomic_bool push_failed; /* a spool could not be written */
    bool suspended;          /* intake disconnected while spools are full */
    bool direct_ok;          /* QoS 0 events may be published from the intake */
    char persist_dir[4096];
    atomic_ullong pipeline_buckets[GW_N_BUCKETS + 1];
    atomic_ullong pipeline_ns;
    struct MHD_Daemon *metrics;
};

/* gateway.c */
int gw__start(struct gw *g, const char *config_path);
void gw__shutdown(struct gw *g);
void gw__reload(struct gw *g, const char *why);
void gw__log_stats(struct gw *g);
/* Loop thread, every second: holds intake at the broker while spools stay
 * full, and lets it in again once they have room. */
void gw__check_backpressure(struct gw *g);

/* metrics.c */
struct MHD_Daemon;
int gw__metrics_start(struct gw *g);
void gw__metrics_stop(struct gw *g);
void gw__observe_pipeline(struct gw *g, double seconds);

/* consumers.c */
int gw__build_consumers(struct gw *g, struct gw_gen *gen, struct cg_diags *d);
void gw__retire_consumers(struct gw *g, int drain_ms);
void gw__gen_free(struct gw_gen *gen);

/* loop.c */
int loop__run(struct gw *g);
/* Wakes the loop thread from any thread (wake-ups merge). */
void loop__wake(void);

#endif
