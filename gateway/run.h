/*
 * The running gateway: what `citygate run` holds while it serves a city.
 *
 * Threads: the loop thread owns this struct; it loads, reloads and shuts
 * down, and renders /metrics. The MQTT receive thread runs the pipeline
 * for each message under pipeline_lock, which a reload takes only to swap
 * in a new generation. Each consumer's delivery thread lives in its
 * outbox (deliver/). The metrics server's thread reads only the rendered
 * snapshot (metrics.c).
 */
#ifndef CG_RUN_H
#define CG_RUN_H

#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "deliver/deliver.h"
#include "host/host.h"
#include "loop.h"
#include "mqtt/mqtt.h"
#include "pipeline/pipeline.h"

/* One loaded configuration: swapped as a whole by a reload. */
struct gw_gen {
    struct cg_config *cfg;
    struct cg_plugin_reg *reg;
    struct cg_pipeline *pipeline;
    char **filters; /* vendor filters, with any share group */
    size_t n_filters;
};

#define GW_N_BUCKETS 12 /* pipeline histogram, plus +Inf */

struct gw_metrics; /* metrics.c */
struct gw_state;   /* run_state.c */

struct gw {
    const char *config_path;
    struct cg_loop *loop;
    struct gw_gen gen;
    pthread_mutex_t pipeline_lock;
    struct cg_deliver *deliver;
    struct cg_mqtt *in;  /* intake: subscriptions, status and will */
    struct cg_mqtt *out; /* events and dead letters */
    double started;
    uint64_t fingerprint;
    /* Fixed for the life of the process (a reload warns when the config
     * changes them): the status topic and the two status documents. */
    char *status_topic;
    struct cg_buf status_online, status_offline;
    atomic_ullong received;
    atomic_bool blocked; /* intake held: a spool with block policy is full */
    bool suspended;      /* intake disconnected while spools are full */
    char persist_dir[4096];
    atomic_ullong pipeline_buckets[GW_N_BUCKETS + 1];
    atomic_ullong pipeline_ns;
    struct gw_metrics *metrics;
    struct gw_state *state;
};

/* run.c */
int gw__start(struct gw *g, const char *config_path);
int gw__run(struct gw *g);
void gw__shutdown(struct gw *g);

/* run_state.c: stateful rules (SPEC §13), on the loop thread. start
 * restores the last snapshot (before intake connects); the loop's timers
 * handler runs their timers; tick saves a snapshot every few seconds when
 * state changed and logs evictions once a minute; handover runs during a
 * reload, under pipeline_lock, before the new consumers are committed;
 * stop saves the last snapshot once intake is paused. */
int gw__state_start(struct gw *g);
double gw__state_timers(void *user, double now);
void gw__state_tick(struct gw *g);
void gw__state_handover(struct gw *g, struct cg_pipeline *old,
                        struct cg_pipeline *next);
void gw__state_stop(struct gw *g);
void gw__state_free(struct gw *g);

/* metrics.c: the server on its own thread, fed by the loop thread. */
int gw__metrics_start(struct gw *g);
void gw__metrics_stop(struct gw *g);
/* Loop thread: renders a fresh page when the server asked for one. */
void gw__metrics_serve(struct gw *g);
void gw__observe_pipeline(struct gw *g, double seconds);

#endif
