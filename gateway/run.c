/*
 * The gateway's life: load a generation (config, plugins, pipeline,
 * consumers), connect, run each arriving message through the pipeline
 * into the consumers' outboxes, reload without dropping traffic, and shut
 * down cleanly.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "run.h"

#define SHUTDOWN_MAX_S 9 /* SPEC §12: exit within 10 s of SIGTERM */

/* ---- intake, on the MQTT receive thread -------------------------------- */

#define HOLD_LOG_S 10.0 /* the longest a held message goes unmentioned */

/* Not acknowledged: the MQTT client offers the message again shortly,
 * serving its other connections meanwhile (so no sleep here). A message
 * that keeps coming back holds all intake behind it, so it is said, at
 * most once every HOLD_LOG_S: a silent retry loop looks like a stall. */
static int hold(int rc, const char *topic)
{
    static _Atomic double last;
    double now = cg_time_mono();
    if (now - atomic_load(&last) >= HOLD_LOG_S) {
        atomic_store(&last, now);
        cg_log(CG_LOG_ERROR,
               "holding the message on %.200s: %s; it is offered "
               "again",
               topic, cg_strerror(rc));
    }
    return CG_RETRY;
}

/* Runs one message through the pipeline. Returning CG_OK lets the client
 * acknowledge it: by then every event it produced is in a spool.
 *
 * A full spool (policy block) does not refuse the message: the MQTT client
 * would only park it in memory until its socket next stirs. Instead the
 * message is spooled past the bound and the loop thread is woken to hold
 * intake at the broker, so the overshoot is what was already in flight. */
static int on_message(void *user, const char *topic, size_t tlen,
                      const void *payload, size_t len, int qos)
{
    struct gw *g = user;
    struct cg_message m = {topic, tlen, payload, len, cg_time_now()};
    struct cg_emit emit = {cg_deliver_event, cg_deliver_dead, g->deliver};
    (void)qos;
    pthread_mutex_lock(&g->pipeline_lock);
    gw__service_begin(g);
    if (cg_deliver_blocked(g->deliver) && !atomic_exchange(&g->blocked, true))
        cg_loop_wake(g->loop);
    double t0 = cg_time_mono();
    int rc = cg_pipeline_process(g->gen.pipeline, &m, &emit);
    pthread_mutex_unlock(&g->pipeline_lock);
    gw__service_end(g);
    gw__observe_pipeline(g, cg_time_mono() - t0);
    if (rc < 0)
        return hold(rc, topic); /* not acknowledged: the message comes back */
    atomic_fetch_add(&g->received, 1);
    return CG_OK;
}

/* ---- status ---------------------------------------------------------- */

/* {"state":"online","gateway":ID,"version":V,"started":T}, or the
 * offline form {"state":"offline","gateway":ID} (SPEC §9, §12). */
static void status_json(const struct gw *g, bool online, struct cg_buf *b)
{
    const char *id = g->gen.cfg->gateway.id;
    cg_buf_printf(
        b, "{\"state\":\"%s\",\"gateway\":", online ? "online" : "offline");
    cg_json_put_string(b, id, strlen(id));
    if (online) {
        char started[32];
        cg_time_format(g->started, started);
        cg_buf_printf(b, ",\"version\":\"%s\",\"started\":\"%s\"", CG_VERSION,
                      started);
    }
    cg_buf_putc(b, '}');
}

/* The status topic and the gateway id are fixed for the life of the
 * process (a reload does not change them: a warning says so), so reading
 * them from the generation here is safe as long as they are copied at
 * start; the connection callbacks use this copy. The MQTT client logs the
 * connection itself, under the name "intake". */
static void on_connected(void *user, bool session_present)
{
    struct gw *g = user;
    unsigned ticket;
    (void)session_present;
    cg_mqtt_publish(g->in, g->status_topic, g->status_online.data,
                    g->status_online.len, 1, true, &ticket);
    gw__service_connected(g); /* subscriptions are on their way: READY */
}

/* ---- loading a generation ------------------------------------------- */

/* One log line per diagnostic, at its own level: the log line already
 * says "error" or "warn", so the diagnostic's word is not repeated. */
void gw__log_diags(const struct cg_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct cg_diag *x = &d->items[i];
        int level = x->severity == CG_DIAG_WARNING ? CG_LOG_WARN : CG_LOG_ERROR;
        if (x->line > 0)
            cg_log(level, "%s:%d:%d: %s", x->file, x->line, x->col, x->msg);
        else
            cg_log(level, "%s: %s", x->file, x->msg);
    }
}

void gw__gen_free(struct gw_gen *gen)
{
    cg_pipeline_free(gen->pipeline);
    cg_plugins_free(gen->reg);
    cg_config_free(gen->cfg);
    for (size_t i = 0; i < gen->n_filters; i++)
        cg_free(gen->filters[i]);
    cg_free(gen->filters);
    memset(gen, 0, sizeof(*gen));
}

static bool has_filter(const struct gw_gen *gen, const char *f)
{
    for (size_t i = 0; i < gen->n_filters; i++)
        if (!strcmp(gen->filters[i], f))
            return true;
    return false;
}

/* Every vendor filter once, as $share/<group>/<filter> with a group. */
static int collect_filters(struct gw_gen *gen)
{
    const struct cg_config *cfg = gen->cfg;
    size_t total = 0;
    for (size_t v = 0; v < cfg->n_vendors; v++)
        total += cfg->vendors[v].n_topics;
    gen->filters = cg_calloc(total ? total : 1, sizeof(char *));
    if (!gen->filters)
        return CG_ENOMEM;
    for (size_t v = 0; v < cfg->n_vendors; v++) {
        for (size_t t = 0; t < cfg->vendors[v].n_topics; t++) {
            struct cg_buf b = {0};
            if (cfg->broker.share_group)
                cg_buf_printf(&b, "$share/%s/", cfg->broker.share_group);
            cg_buf_puts(&b, cfg->vendors[v].topics[t].s);
            if (b.oom)
                return CG_ENOMEM;
            if (has_filter(gen, b.data))
                cg_buf_free(&b);
            else
                gen->filters[gen->n_filters++] = b.data;
        }
    }
    return CG_OK;
}

/* Loads config, plugins and pipeline into gen; problems go to d. A
 * config with errors is compiled as far as it goes all the same, so that
 * a reload reports every error at once (SPEC §14), then fails. The
 * broker given with `run -b` replaces broker.uri in every generation, so
 * a reload neither undoes it nor warns about it; the string lives as long
 * as the process (argv). */
int gw__load_gen(const struct gw *g, struct gw_gen *gen, struct cg_diags *d)
{
    memset(gen, 0, sizeof(*gen));
    int rc = cg_config_load_partial(g->config_path, NULL, 0, &gen->cfg, d);
    if (gen->cfg && g->broker_uri)
        gen->cfg->broker.uri = g->broker_uri;
    int prc = gen->cfg ? cg_plugins_load(gen->cfg->plugin_paths,
                                         gen->cfg->n_plugin_paths, &gen->reg, d)
                       : rc;
    int brc =
        gen->reg ? cg_pipeline_new(gen->cfg, gen->reg, &gen->pipeline, d) : prc;
    rc = rc != CG_OK ? rc : prc != CG_OK ? prc : brc;
    if (rc == CG_OK)
        rc = collect_filters(gen);
    if (rc != CG_OK)
        gw__gen_free(gen);
    return rc;
}

/* ---- connecting ---------------------------------------------------------- */

static int connect_out(struct gw *g)
{
    const struct cg_broker_conf *b = &g->gen.cfg->broker;
    char err[160] = "", client_id[300];
    struct cg_mqtt_callbacks cb = {.name = "output"};
    struct cg_broker_conf out = *b;
    snprintf(client_id, sizeof(client_id), "%s-out", b->client_id);
    out.client_id = client_id;
    out.clean_session = true; /* our outboxes hold what waits */
    int rc = cg_mqtt_new(&out, NULL, NULL, &cb, &g->out, err, sizeof(err));
    if (rc == CG_OK)
        rc = cg_mqtt_start(g->out);
    if (rc != CG_OK)
        cg_log(CG_LOG_ERROR, "output: %s", err[0] ? err : cg_strerror(rc));
    return rc;
}

static int connect_in(struct gw *g)
{
    const struct cg_config *cfg = g->gen.cfg;
    struct cg_mqtt_will w = {g->status_topic, g->status_offline.data, 1, true};
    struct cg_mqtt_callbacks cb = {on_message, on_connected, NULL, g, "intake"};
    char err[160] = "";
    int rc = cg_mqtt_new(&cfg->broker, &w, g->persist_dir, &cb, &g->in, err,
                         sizeof(err));
    if (rc == CG_OK)
        rc = cg_mqtt_subscribe(g->in, (const char *const *)g->gen.filters,
                               g->gen.n_filters, cfg->broker.qos);
    if (rc == CG_OK)
        rc = cg_mqtt_start(g->in);
    if (rc != CG_OK)
        cg_log(CG_LOG_ERROR, "intake: %s", err[0] ? err : cg_strerror(rc));
    return rc;
}

/* Where the intake client keeps messages it holds: inside the spool. */
static int make_persist_dir(struct gw *g)
{
    snprintf(g->persist_dir, sizeof(g->persist_dir), "%s/.mqtt",
             g->gen.cfg->gateway.spool_dir);
    char path[sizeof(g->persist_dir)];
    snprintf(path, sizeof(path), "%s", g->persist_dir);
    /* Each folder on the way, so that the error names the one at fault
     * (an unwritable spool_dir, not "No such file" for its child). */
    for (char *p = path + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST) {
            int err = errno;
            cg_log(CG_LOG_ERROR, "cannot create the spool folder %s: %s", path,
                   strerror(err));
            return CG_EIO;
        }
        *p = c;
        if (!c)
            return CG_OK;
    }
}

/* Two gateways on one spool would append to the same segments and each
 * deliver and delete the other's events: a lock on <spool_dir>/.lock
 * (flock, so a killed process leaves none behind) keeps the second out.
 * The holder's pid is in the file, for the message. */
static int lock_spool(struct gw *g)
{
    const char *dir = g->gen.cfg->gateway.spool_dir;
    char path[4200], pid[32] = "";
    snprintf(path, sizeof(path), "%s/.lock", dir);
    g->spool_lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (g->spool_lock < 0) {
        cg_log(CG_LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
        return CG_EIO;
    }
    if (flock(g->spool_lock, LOCK_EX | LOCK_NB) < 0) {
        ssize_t n = pread(g->spool_lock, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        cg_log(CG_LOG_ERROR,
               "spool_dir %s is in use by another citygate%s%s%s: give each "
               "gateway its own spool_dir",
               dir, *pid ? " (pid " : "", pid, *pid ? ")" : "");
        return CG_EIO;
    }
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(g->spool_lock, 0) < 0 ||
        pwrite(g->spool_lock, pid, (size_t)len, 0) != len) {
        /* the pid is for a message only: the lock holds without it */
    }
    return CG_OK;
}

/* What the process keeps for its whole life from the first config. */
static int keep_identity(struct gw *g)
{
    const struct cg_config *cfg = g->gen.cfg;
    g->status_topic = cg_strdup(cfg->gateway.status_topic);
    status_json(g, true, &g->status_online);
    status_json(g, false, &g->status_offline);
    return g->status_topic && !g->status_online.oom && !g->status_offline.oom
               ? CG_OK
               : CG_ENOMEM;
}

static int start_delivery(struct gw *g, struct cg_diags *d)
{
    const struct cg_config *cfg = g->gen.cfg;
    struct cg_deliver_conf dc = {
        g->out, cfg->gateway.spool_dir, cfg->gateway.dead_letter_topic,
        cfg->gateway.spool_reserve_bytes, cg_mqtt_inline_publish_ok(g->out)};
    int rc = cg_deliver_new(&dc, &g->deliver);
    if (rc == CG_OK)
        rc =
            cg_deliver_prepare(g->deliver, cfg, g->gen.pipeline, g->gen.reg, d);
    if (rc == CG_OK)
        cg_deliver_commit(g->deliver);
    return rc;
}

/* A config's errors and warnings as SPEC §4 prints them, or as log lines
 * when the config asked for JSON logs (a log shipper reads every line). */
static void print_diags(struct cg_diags *d)
{
    struct cg_buf b = {0};
    if (cg_log_json()) {
        gw__log_diags(d);
    } else {
        cg_diags_format(d, &b);
        if (b.data)
            fputs(b.data, stderr);
    }
    cg_buf_free(&b);
    cg_diags_free(d);
}

/* The process-wide settings of the first config: logging, time zone,
 * the libraries' global state, and the files a reload watches. */
static int set_up_process(struct gw *g)
{
    const struct cg_gateway_conf *gc = &g->gen.cfg->gateway;
    cg_log_setup(gc->log_level, gc->id);
    cg_log_set_json(gc->log_format == CG_LOG_FORMAT_JSON);
    cg_time_set_zone(gc->timezone);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cg_mqtt_global_init();
    gw__service_init(g);
    int rc = cg_config_files_snapshot(g->gen.cfg, &g->files);
    return rc == CG_OK ? keep_identity(g) : rc;
}

int gw__start(struct gw *g, const char *config_path, const char *broker_uri)
{
    struct cg_diags d = {0};
    g->config_path = config_path;
    g->broker_uri = broker_uri;
    g->started = cg_time_now();
    /* Each thread that allocates would get a malloc arena of its own (up
     * to 8 per core), each holding some hundred KiB of private memory;
     * the gateway's threads allocate little, so two arenas serve them. */
    mallopt(M_ARENA_MAX, 2);
    pthread_mutex_init(&g->pipeline_lock, NULL);
    int rc = gw__load_gen(g, &g->gen, &d);
    if (rc == CG_OK)
        rc = set_up_process(g);
    if (rc == CG_OK)
        rc = cg_loop_new(&g->loop);
    if (rc == CG_OK)
        rc = make_persist_dir(g);
    if (rc == CG_OK)
        rc = lock_spool(g);
    if (rc == CG_OK)
        rc = connect_out(g);
    if (rc == CG_OK)
        rc = start_delivery(g, &d);
    if (rc == CG_OK)
        rc = gw__state_start(g);
    if (rc == CG_OK)
        rc = gw__metrics_start(g);
    if (rc == CG_OK) /* before connecting: "connected" lines follow it */
        cg_log(CG_LOG_INFO,
               "citygate %s started: %zu vendors, %zu rules, %zu consumers",
               CG_VERSION, g->gen.cfg->n_vendors,
               cg_ruleset_count(cg_pipeline_rules(g->gen.pipeline)),
               g->gen.cfg->n_consumers);
    if (rc == CG_OK) {
        gw__status_sample(g); /* rates count from here, not the first tick */
        rc = connect_in(g);
    }
    print_diags(&d);
    return rc;
}

/* ---- the loop's handlers ------------------------------------------------- */

/* Holds intake at the broker while spools stay full, and lets it in again
 * once they have room. */
static void check_backpressure(struct gw *g)
{
    bool full = cg_deliver_blocked(g->deliver);
    if (!g->suspended && full) {
        cg_log(CG_LOG_WARN, "a consumer's spool is full: holding intake at "
                            "the broker until it has room");
        cg_mqtt_suspend(g->in);
        g->suspended = true;
    } else if (g->suspended && !full) {
        cg_log(CG_LOG_INFO, "spools have room again: resuming intake");
        g->suspended = false;
        cg_mqtt_resume(g->in);
    }
    if (!full)
        atomic_store(&g->blocked, false);
}

static void on_reload(void *user)
{
    gw__reload(user, "SIGHUP");
}

static void on_wake(void *user)
{
    struct gw *g = user;
    check_backpressure(g);
    gw__service_check(g);
    gw__metrics_serve(g);
}

static void on_tick(void *user)
{
    struct gw *g = user;
    gw__check_files(g);
    cg_deliver_check_disk(g->deliver);
    check_backpressure(g);
    gw__state_tick(g);
    cg_deliver_log_held(g->deliver);
    gw__status_sample(g);
    gw__service_check(g);
}

/* The loop's timers: the service's (watchdog) first, so that a stuck
 * pipeline cannot delay a ping's verdict, then the stateful rules' (for,
 * windows); the earlier of the two is next (0: none planned). */
static double on_timers(void *user, double now)
{
    double a = gw__service_timers(user, now);
    double b = gw__state_timers(user, now);
    return !a ? b : !b ? a : a < b ? a : b;
}

static void log_stats(void *user)
{
    struct gw *g = user;
    unsigned long long dead = 0;
    for (int i = 0; i < CG_DEAD_N_REASONS; i++)
        dead += cg_deliver_dead_count(g->deliver, i);
    cg_log(CG_LOG_INFO, "%llu messages, %llu events, %llu dead letters",
           (unsigned long long)atomic_load(&g->received),
           (unsigned long long)cg_deliver_event_count(g->deliver), dead);
}

int gw__run(struct gw *g)
{
    struct cg_loop_handlers h = {on_reload, on_wake,   on_tick,
                                 log_stats, on_timers, g};
    return cg_loop_run(g->loop, &h);
}

/* ---- shutdown ---------------------------------------------------------- */

/* Intake is already disconnected (cleanly: no will), so the retained
 * offline status goes out on the publishing connection. */
static void publish_offline(struct gw *g)
{
    unsigned ticket;
    if (g->out && g->status_topic &&
        cg_mqtt_publish(g->out, g->status_topic, g->status_offline.data,
                        g->status_offline.len, 1, true, &ticket) == CG_OK)
        cg_mqtt_wait(g->out, ticket, 1000);
}

/* The last resort of a bounded shutdown (SPEC §12): whatever a consumer
 * or a connection does, the process is gone within SHUTDOWN_MAX_S. What
 * was not delivered is in the spools, safe for the next start. */
static void *shutdown_guard(void *arg)
{
    (void)arg;
    struct timespec ts = {SHUTDOWN_MAX_S, 0};
    while (nanosleep(&ts, &ts) != 0)
        ;
    cg_log(CG_LOG_ERROR, "shutdown took longer than %d s: exiting now",
           SHUTDOWN_MAX_S);
    _exit(0);
    return NULL;
}

static void guard_shutdown(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, shutdown_guard, NULL) == 0)
        pthread_detach(t);
}

void gw__shutdown(struct gw *g)
{
    cg_notify_stopping();
    guard_shutdown();
    gw__metrics_stop(g);
    if (g->in)
        cg_mqtt_pause_intake(g->in);
    gw__state_stop(g);
    if (g->deliver)
        cg_deliver_drain(g->deliver, GW_DRAIN_MS);
    if (g->deliver && g->gen.cfg)
        log_stats(g);
    publish_offline(g);
    if (g->in)
        cg_mqtt_stop(g->in, 1000);
    cg_deliver_free(g->deliver);
    g->deliver = NULL;
    if (g->out)
        cg_mqtt_stop(g->out, 1000);
    cg_mqtt_free(g->in);
    cg_mqtt_free(g->out);
    gw__gen_free(&g->gen);
    gw__state_free(g);
    cg_loop_free(g->loop);
    cg_free(g->status_topic);
    cg_config_files_free(g->files);
    gw__rates_free(&g->rates);
    cg_buf_free(&g->status_online);
    cg_buf_free(&g->status_offline);
    pthread_mutex_destroy(&g->pipeline_lock);
    if (g->spool_lock > 0)
        close(g->spool_lock); /* and with it the lock */
}
