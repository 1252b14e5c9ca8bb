/*
 * The running gateway: what `citygate run` holds while it serves a city.
 *
 * Threads: the loop thread owns this struct; it loads, reloads and shuts
 * down, renders /metrics, /status.json and /healthz, and talks to systemd.
 * The MQTT receive thread runs the pipeline for each message under
 * pipeline_lock, which a reload takes only to swap in a new generation;
 * what it tells the loop thread (messages done, intake connected) goes
 * through atomics. Each consumer's delivery thread lives in its outbox
 * (deliver/). The metrics server's thread reads only the rendered
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

#define GW_N_BUCKETS 12   /* pipeline histogram, plus +Inf */
#define GW_DRAIN_MS  5000 /* SIGTERM and reloads wait this long for outboxes */

/* ---- rates (rates.c) --------------------------------------------------
 *
 * Per-second rates of the counters the live page shows, from deltas over
 * the last few one-second samples. Loop thread only.
 */
enum gw_rate_kind {
    GW_RATE_TOTAL = 0, /* "messages", "events", "dead" */
    GW_RATE_DOMAIN_MESSAGES,
    GW_RATE_DOMAIN_EVENTS,
    GW_RATE_CONSUMER, /* delivered */
    GW_RATE_DEAD      /* per reason */
};
#define GW_RATE_WINDOW 5 /* samples a rate spans */

struct gw_rate;
struct gw_rates {
    struct gw_rate *v;
    size_t n, cap, hint;
    double t[GW_RATE_WINDOW + 1]; /* sample times, a ring */
    unsigned pass;                /* samples taken */
};

/* Starts a sample at monotonic time now. */
void gw__rates_begin(struct gw_rates *r, double now);
/* Records a counter's value in this sample. CG_OK or CG_ENOMEM. */
int gw__rates_put(struct gw_rates *r, int kind, const char *name,
                  uint64_t value);
/* Ends the sample: counters not put in it are forgotten (a reload
 * removed them). */
void gw__rates_end(struct gw_rates *r);
/* The counter's rate per second over the window, 0 when unknown. */
double gw__rates_get(const struct gw_rates *r, int kind, const char *name);
void gw__rates_free(struct gw_rates *r);

/* ---- what systemd and the watchdog see (service.c) -------------------- */

struct gw_service {
    /* Written by other threads, read by the loop thread. */
    atomic_bool subscribed;         /* intake connected and subscribing */
    atomic_ullong done;             /* messages the pipeline finished */
    atomic_ullong busy_since_ns;    /* monotonic start of the message in
                                       the pipeline, 0 when idle */
    atomic_ullong begun;            /* messages started, for the hook */
    unsigned long long wedge_after; /* test hook, see service.c; 0 off */
    /* Loop thread only. */
    bool ready;
    double wd_interval, wd_next; /* watchdog: 0 interval when off */
    unsigned long long wd_done;  /* `done` at the last ping */
    bool wd_held;                /* pings held: logged once */
    double next_status;
};

struct gw_metrics; /* metrics.c */
struct gw_state;   /* run_state.c */

struct gw {
    const char *config_path;
    const char *broker_uri; /* `run -b`: replaces broker.uri, or NULL */
    struct cg_loop *loop;
    struct gw_gen gen;
    pthread_mutex_t pipeline_lock;
    struct cg_deliver *deliver;
    struct cg_mqtt *in;  /* intake: subscriptions, status and will */
    struct cg_mqtt *out; /* events and dead letters */
    double started;
    struct cg_config_files *files; /* as of the last look, for reloads */
    unsigned long long reloads_ok, reloads_failed;
    /* Fixed for the life of the process (a reload warns when the config
     * changes them): the status topic and the two status documents. */
    char *status_topic;
    struct cg_buf status_online, status_offline;
    atomic_ullong received;
    atomic_bool blocked; /* intake held: a spool with block policy is full */
    bool suspended;      /* intake disconnected while spools are full */
    char persist_dir[4096];
    int spool_lock; /* holds <spool_dir>/.lock for the process's life */
    atomic_ullong pipeline_buckets[GW_N_BUCKETS + 1];
    atomic_ullong pipeline_ns;
    struct gw_service svc;
    struct gw_rates rates;
    struct gw_metrics *metrics;
    struct gw_state *state;
};

/* run.c */
int gw__start(struct gw *g, const char *config_path, const char *broker_uri);
int gw__run(struct gw *g);
void gw__shutdown(struct gw *g);
/* Loads config, plugins and pipeline into gen (broker_uri applied);
 * problems go to d. CG_OK, or an error with gen empty. */
int gw__load_gen(const struct gw *g, struct gw_gen *gen, struct cg_diags *d);
void gw__gen_free(struct gw_gen *gen);
/* One log line per diagnostic, at its own level. */
void gw__log_diags(const struct cg_diags *d);

/* reload.c (loop thread): a reload for the reason given, and the check
 * of each tick that reloads when a file of the config changed. */
void gw__reload(struct gw *g, const char *why);
void gw__check_files(struct gw *g);

/* service.c: READY, STATUS and the watchdog (loop thread), and the
 * intake thread's progress marks around each message. */
void gw__service_init(struct gw *g);
void gw__service_connected(struct gw *g); /* any thread */
void gw__service_begin(struct gw *g);     /* intake thread */
void gw__service_end(struct gw *g);       /* intake thread */
void gw__service_check(struct gw *g);     /* loop: wake-ups and ticks */
double gw__service_timers(struct gw *g, double now);

/* status.c (loop thread): the rates sample of each tick, the health
 * verdict, the /status.json and /healthz documents and the STATUS line. */
void gw__status_sample(struct gw *g);
bool gw__healthy(struct gw *g, char *reason, size_t size);
void gw__render_status(struct gw *g, struct cg_buf *b);
void gw__render_health(struct gw *g, struct cg_buf *b, bool *ok);
void gw__status_line(struct gw *g, char *out, size_t size);

/* metrics_text.c (loop thread): /metrics in the Prometheus text format. */
void gw__render_metrics(struct gw *g, struct cg_buf *b);
void gw__observe_pipeline(struct gw *g, double seconds);

/* proc.c: the process's own figures, from /proc/self. */
struct gw_proc {
    uint64_t rss_bytes, open_fds;
    double cpu_seconds;
};
void gw__proc_read(struct gw_proc *p);

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
/* Loop thread: renders fresh pages when the server asked for them. */
void gw__metrics_serve(struct gw *g);

/* live_page.c (generated from live_page.html at build time). */
extern const char gw__live_page[];
extern const unsigned long gw__live_page_len;

#endif
