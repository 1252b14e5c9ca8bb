/*
 * The gateway's life: load a generation (config, plugins, engine,
 * consumers), connect, run each arriving message through the engine into
 * the consumers' outboxes, reload without dropping traffic, and shut
 * down cleanly.
 */
#include <curl/curl.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "run.h"

/* The dead-letter reasons of SPEC §1, in the order of gw.dead_count. */
const char *const gw__reasons[GW_N_REASONS] = {
    "unknown_vendor", "too_large", "decode_error", "no_device", "rejected"};

/* ---- the pipeline, on the MQTT receive thread --------------------- */

/* A QoS 0 consumer promises no more than MQTT QoS 0 does: its events go
 * straight out on our connection, skipping the spool, unless a backlog
 * is waiting there (order first), the connection is down, or the MQTT
 * backend makes a publish from the arrival thread dear (Paho: measured
 * 7k msg/s that way against 18k through the spool's own thread). */
static bool deliver_direct(struct gw *g, const struct cg_delivery *d)
{
    unsigned ticket;
    struct outbox *o = g->gen.boxes[d->consumer];
    if (!g->direct_ok || !g->gen.direct[d->consumer] || !outbox__idle(o))
        return false;
    const struct cg_event *e = &d->event;
    if (cg_mqtt_publish(g->out, e->topic, e->json, e->json_len, 0, false,
                        &ticket) != CG_OK)
        return false;
    outbox__count_direct(o);
    return true;
}

static void emit_deliver(void *user, const struct cg_delivery *d)
{
    struct gw *g = user;
    atomic_fetch_add(&g->events, 1);
    if (deliver_direct(g, d))
        return;
    int rc = outbox__push(g->gen.boxes[d->consumer], &d->event);
    if (rc != CG_OK) {
        /* Not acknowledged: the message comes back and is processed again
         * (consumers that did get its events drop the duplicate by id). */
        atomic_store(&g->push_failed, true);
        cg_log(CG_LOG_ERROR, "consumer %s: cannot spool event %s: %s",
               d->consumer_name, d->event.id, cg_strerror(rc));
    }
}

static void emit_dead(void *user, const char *reason, const char *json,
                      size_t len)
{
    struct gw *g = user;
    for (int i = 0; i < GW_N_REASONS; i++)
        if (!strcmp(gw__reasons[i], reason))
            atomic_fetch_add(&g->dead_count[i], 1);
    char id[17];
    cg_hex64(cg_hash_mix(cg_hash64(CG_HASH_SEED, json, len)), id);
    struct cg_event ev = {
        id, g->gen.cfg->gateway.dead_letter_topic, json, len, CG_SEV_INFO, 1};
    cg_log(CG_LOG_DEBUG, "dead letter (%s): %.*s", reason, (int)len, json);
    if (outbox__push(g->dead, &ev) != CG_OK)
        atomic_store(&g->push_failed, true);
}

/* With spool_full: block, a full outbox holds intake: the message stays
 * with the MQTT client and comes back shortly. */
static bool intake_blocked(const struct gw *g)
{
    for (size_t i = 0; i < g->gen.cfg->n_consumers; i++)
        if (outbox__full(g->gen.boxes[i]))
            return true;
    return false;
}

static int hold(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the client offers the message again */
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
    struct cg_emit emit = {emit_deliver, emit_dead, g};
    pthread_mutex_lock(&g->engine_lock);
    bool blocked = intake_blocked(g);
    if (blocked && !atomic_exchange(&g->blocked, true))
        loop__wake();
    atomic_store(&g->push_failed, false);
    double t0 = cg_time_mono();
    int rc = cg_engine_process(g->gen.engine, &m, &emit);
    pthread_mutex_unlock(&g->engine_lock);
    gw__observe_pipeline(g, cg_time_mono() - t0);
    if (rc == CG_ENOMEM)
        cg_log(CG_LOG_ERROR, "out of memory processing a message on %s", topic);
    if (rc == CG_ENOMEM || atomic_load(&g->push_failed))
        return hold();
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

static void on_connected(void *user, bool session_present)
{
    struct gw *g = user;
    struct cg_buf json = {0};
    unsigned ticket;
    status_json(g, true, &json);
    cg_log(CG_LOG_INFO, "connected to %s (session %s)", g->gen.cfg->broker.uri,
           session_present ? "resumed" : "new");
    if (!json.oom)
        cg_mqtt_publish(g->in, g->gen.cfg->gateway.status_topic, json.data,
                        json.len, 1, true, &ticket);
    cg_buf_free(&json);
}

static void on_lost(void *user, const char *cause)
{
    cg_log(CG_LOG_WARN, "lost the broker connection: %s; reconnecting", cause);
}

/* ---- loading a generation ------------------------------------------- */

static void log_diags(const struct cg_diags *d)
{
    struct cg_buf b = {0};
    cg_diags_format(d, &b);
    for (char *line = b.data, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cg_log(CG_LOG_ERROR, "%s", line);
        if (!nl)
            break;
    }
    cg_buf_free(&b);
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
            const char *f = cfg->vendors[v].topics[t].s;
            struct cg_buf b = {0};
            if (cfg->broker.share_group)
                cg_buf_printf(&b, "$share/%s/", cfg->broker.share_group);
            cg_buf_puts(&b, f);
            bool dup = false;
            for (size_t i = 0; i < gen->n_filters && !dup; i++)
                dup = !strcmp(gen->filters[i], b.data);
            if (b.oom)
                return CG_ENOMEM;
            if (dup)
                cg_buf_free(&b);
            else
                gen->filters[gen->n_filters++] = b.data;
        }
    }
    return CG_OK;
}

/* Loads config, plugins and engine into gen; problems go to d. */
static int load_gen(const char *path, struct gw_gen *gen, struct cg_diags *d)
{
    memset(gen, 0, sizeof(*gen));
    int rc = cg_config_load(path, NULL, 0, &gen->cfg, d);
    if (rc == CG_OK)
        rc = cg_plugins_load(gen->cfg->plugin_paths, gen->cfg->n_plugin_paths,
                             &gen->reg, d);
    if (rc == CG_OK)
        rc = cg_engine_new(gen->cfg, gen->reg, &gen->engine, d);
    if (rc == CG_OK)
        rc = collect_filters(gen);
    if (rc != CG_OK)
        gw__gen_free(gen);
    return rc;
}

static int make_dead_outbox(struct gw *g, struct cg_diags *d)
{
    const struct cg_plugin *p = cg_plugins_find(g->gen.reg, "sink", "mqtt");
    struct cg_value opts = {.type = CG_OBJ};
    struct cg_pos pos = {g->gen.cfg->path, 0, 0};
    struct cg_instance *sink;
    int rc =
        p ? cg_instance_new(p, "dead-letters", &opts, &pos, g->out, &sink, d)
          : CG_EINVAL;
    if (rc != CG_OK)
        return rc;
    struct outbox_conf oc = {
        ".dead-letters", g->gen.cfg->gateway.spool_dir, 100,  0,
        64ULL << 20,     CG_SPOOL_DROP_OLDEST,          NULL, NULL};
    g->dead_reg = cg_plugins_ref(g->gen.reg);
    return outbox__new(&oc, sink, &g->dead);
}

static int connect_out(struct gw *g)
{
    const struct cg_broker_conf *b = &g->gen.cfg->broker;
    char err[160] = "";
    struct cg_mqtt_callbacks cb = {0};
    g->out_conf = *b;
    snprintf(g->out_client_id, sizeof(g->out_client_id), "%s-out",
             b->client_id);
    g->out_conf.client_id = g->out_client_id;
    g->out_conf.clean_session = true; /* our outboxes hold what waits */
    int rc =
        cg_mqtt_new(&g->out_conf, NULL, NULL, &cb, &g->out, err, sizeof(err));
    if (rc == CG_OK)
        rc = cg_mqtt_start(g->out);
    if (rc != CG_OK)
        fprintf(stderr, "citygate: %s\n", err[0] ? err : cg_strerror(rc));
    g->direct_ok = rc == CG_OK && cg_mqtt_inline_publish_ok(g->out);
    return rc;
}

static int connect_in(struct gw *g)
{
    const struct cg_config *cfg = g->gen.cfg;
    struct cg_buf will = {0};
    status_json(g, false, &will);
    struct cg_mqtt_will w = {cfg->gateway.status_topic, will.data, 1, true};
    struct cg_mqtt_callbacks cb = {on_message, on_connected, on_lost, g};
    char err[160] = "";
    int rc = will.oom ? CG_ENOMEM
                      : cg_mqtt_new(&cfg->broker, &w, g->persist_dir, &cb,
                                    &g->in, err, sizeof(err));
    cg_buf_free(&will);
    if (rc == CG_OK)
        rc = cg_mqtt_subscribe(g->in, (const char *const *)g->gen.filters,
                               g->gen.n_filters, cfg->broker.qos);
    if (rc == CG_OK)
        rc = cg_mqtt_start(g->in);
    if (rc != CG_OK)
        fprintf(stderr, "citygate: %s\n", err[0] ? err : cg_strerror(rc));
    return rc;
}

/* Where the intake client keeps messages it holds: inside the spool. */
static int make_persist_dir(struct gw *g)
{
    snprintf(g->persist_dir, sizeof(g->persist_dir), "%s/.mqtt",
             g->gen.cfg->gateway.spool_dir);
    char cmd[sizeof(g->persist_dir)];
    snprintf(cmd, sizeof(cmd), "%s", g->persist_dir);
    for (char *p = cmd + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(cmd, 0750);
        *p = '/';
    }
    if (mkdir(cmd, 0750) < 0 && errno != EEXIST) {
        fprintf(stderr, "citygate: cannot create %s: %s\n", g->persist_dir,
                strerror(errno));
        return CG_EIO;
    }
    return CG_OK;
}

int gw__start(struct gw *g, const char *config_path)
{
    struct cg_diags d = {0};
    g->config_path = config_path;
    g->started = cg_time_now();
    pthread_mutex_init(&g->engine_lock, NULL);
    int rc = load_gen(config_path, &g->gen, &d);
    if (rc == CG_OK) {
        cg_log_setup(g->gen.cfg->gateway.log_level, g->gen.cfg->gateway.id);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        cg_mqtt_global_init();
        g->fingerprint = cg_config_fingerprint(g->gen.cfg);
        rc = make_persist_dir(g);
    }
    if (rc == CG_OK) {
        rc = connect_out(g);
    }
    if (rc == CG_OK && (rc = make_dead_outbox(g, &d)) == CG_OK)
        rc = gw__build_consumers(g, &g->gen, &d);
    if (rc == CG_OK)
        rc = gw__metrics_start(g);
    if (rc == CG_OK) /* before connecting: "connected" lines follow it */
        cg_log(CG_LOG_INFO,
               "citygate %s started: %zu vendors, %zu rules, %zu consumers",
               CG_VERSION, g->gen.cfg->n_vendors,
               cg_ruleset_count(cg_engine_rules(g->gen.engine)),
               g->gen.cfg->n_consumers);
    if (rc == CG_OK)
        rc = connect_in(g);
    struct cg_buf b = {0};
    cg_diags_format(&d, &b);
    if (b.data)
        fputs(b.data, stderr);
    cg_buf_free(&b);
    cg_diags_free(&d);
    return rc;
}

/* ---- reload ------------------------------------------------------------ */

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Settings a running connection cannot take over: a restart applies them. */
static void warn_restart_needed(const struct cg_config *old,
                                const struct cg_config *new)
{
    const struct cg_broker_conf *a = &old->broker, *b = &new->broker;
    if (!same_str(a->uri, b->uri) || !same_str(a->client_id, b->client_id) ||
        !same_str(a->username, b->username) ||
        !same_str(a->password, b->password) || a->keepalive != b->keepalive ||
        a->clean_session != b->clean_session || a->qos != b->qos ||
        !same_str(old->gateway.id, new->gateway.id) ||
        !same_str(old->gateway.status_topic, new->gateway.status_topic))
        cg_log(CG_LOG_WARN, "broker or gateway settings changed: they take "
                            "effect at the next restart");
}

static bool same_filters(const struct gw_gen *a, const struct gw_gen *b)
{
    if (a->n_filters != b->n_filters)
        return false;
    for (size_t i = 0; i < a->n_filters; i++)
        if (strcmp(a->filters[i], b->filters[i]))
            return false;
    return true;
}

void gw__reload(struct gw *g, const char *why)
{
    struct cg_diags d = {0};
    struct gw_gen next;
    cg_log(CG_LOG_INFO, "reloading (%s)", why);
    int rc = load_gen(g->config_path, &next, &d);
    if (rc == CG_OK && (rc = gw__build_consumers(g, &next, &d)) != CG_OK)
        gw__gen_free(&next);
    if (rc != CG_OK) {
        log_diags(&d);
        cg_diags_free(&d);
        cg_log(CG_LOG_ERROR, "reload failed: the running rules stay in force");
        return;
    }
    cg_diags_free(&d);
    warn_restart_needed(g->gen.cfg, next.cfg);
    if (!same_filters(&g->gen, &next))
        cg_mqtt_resubscribe(g->in, (const char *const *)next.filters,
                            next.n_filters, next.cfg->broker.qos);
    pthread_mutex_lock(&g->engine_lock);
    struct gw_gen old = g->gen;
    cg_engine_inherit_stats(next.engine, old.engine);
    g->gen = next;
    pthread_mutex_unlock(&g->engine_lock);
    gw__retire_consumers(g, 5000); /* after the swap: nothing feeds them */
    gw__gen_free(&old);
    cg_log(CG_LOG_INFO, "reloaded: %zu vendors, %zu rules, %zu consumers",
           g->gen.cfg->n_vendors,
           cg_ruleset_count(cg_engine_rules(g->gen.engine)),
           g->gen.cfg->n_consumers);
}

/* ---- shutdown ---------------------------------------------------------- */

void gw__check_backpressure(struct gw *g)
{
    bool full = g->gen.cfg && intake_blocked(g);
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

void gw__log_stats(struct gw *g)
{
    unsigned long long dead = 0;
    for (int i = 0; i < GW_N_REASONS; i++)
        dead += atomic_load(&g->dead_count[i]);
    cg_log(CG_LOG_INFO, "%llu messages, %llu events, %llu dead letters",
           (unsigned long long)atomic_load(&g->received),
           (unsigned long long)atomic_load(&g->events), dead);
}

/* Waits up to timeout_ms in all for every outbox to empty. */
static void drain_all(struct gw *g, int timeout_ms)
{
    double deadline = cg_time_mono() + timeout_ms / 1000.0;
    for (size_t i = 0; i < g->n_cons; i++) {
        int left = (int)((deadline - cg_time_mono()) * 1000.0);
        if (g->cons[i].box &&
            !outbox__drain(g->cons[i].box, left > 0 ? left : 0))
            cg_log(CG_LOG_WARN,
                   "consumer %s: shutting down with events "
                   "undelivered",
                   g->cons[i].name);
    }
    int left = (int)((deadline - cg_time_mono()) * 1000.0);
    if (g->dead)
        outbox__drain(g->dead, left > 0 ? left : 0);
}

/* Intake is already disconnected (cleanly: no will), so the retained
 * offline status goes out on the publishing connection. */
static void publish_offline(struct gw *g)
{
    if (!g->out || !g->gen.cfg)
        return;
    struct cg_buf json = {0};
    unsigned ticket;
    status_json(g, false, &json);
    if (!json.oom &&
        cg_mqtt_publish(g->out, g->gen.cfg->gateway.status_topic, json.data,
                        json.len, 1, true, &ticket) == CG_OK)
        cg_mqtt_wait(g->out, ticket, 1000);
    cg_buf_free(&json);
}

void gw__shutdown(struct gw *g)
{
    atomic_store(&g->stopping, true);
    gw__metrics_stop(g);
    if (g->in)
        cg_mqtt_pause_intake(g->in);
    drain_all(g, 5000);
    publish_offline(g);
    if (g->in)
        cg_mqtt_stop(g->in, 1000);
    g->retired = g->cons;
    g->n_retired = g->n_cons;
    g->cons = NULL;
    g->n_cons = 0;
    gw__retire_consumers(g, 0);
    outbox__free(g->dead);
    cg_plugins_free(g->dead_reg);
    if (g->out)
        cg_mqtt_stop(g->out, 1000);
    cg_mqtt_free(g->in);
    cg_mqtt_free(g->out);
    if (g->gen.cfg)
        gw__log_stats(g);
    gw__gen_free(&g->gen);
    pthread_mutex_destroy(&g->engine_lock);
}
