/*
 * Reloading config and rules while traffic flows (SPEC §7): on SIGHUP or
 * when a file of the config changes, the next generation is built and
 * validated off to the side, then swapped in between two messages; a
 * reload that fails leaves the running rules in force. Each reload says
 * what triggered it, tells systemd (RELOADING, then READY) and is counted
 * for /metrics. Loop thread only.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "run.h"

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Settings a running connection cannot take over: a restart applies them. */
static void warn_restart_needed(const struct cg_config *old,
                                const struct cg_config *new)
{
    const struct cg_broker_conf *a = &old->broker, *b = &new->broker;
    const struct cg_gateway_conf *x = &old->gateway, *y = &new->gateway;
    if (!same_str(a->uri, b->uri) || !same_str(a->client_id, b->client_id) ||
        !same_str(a->username, b->username) ||
        !same_str(a->password, b->password) || a->keepalive != b->keepalive ||
        a->clean_session != b->clean_session || a->qos != b->qos ||
        !same_str(x->id, y->id) ||
        !same_str(x->status_topic, y->status_topic) ||
        !same_str(x->dead_letter_topic, y->dead_letter_topic) ||
        !same_str(x->spool_dir, y->spool_dir) ||
        !same_str(x->metrics_listen, y->metrics_listen) ||
        !same_str(x->timezone, y->timezone) || x->log_level != y->log_level ||
        x->log_format != y->log_format)
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

/* Swaps a prepared generation in between two messages. */
static void swap_in(struct gw *g, struct gw_gen *next)
{
    warn_restart_needed(g->gen.cfg, next->cfg);
    if (!same_filters(&g->gen, next))
        cg_mqtt_resubscribe(g->in, (const char *const *)next->filters,
                            next->n_filters, next->cfg->broker.qos);
    pthread_mutex_lock(&g->pipeline_lock);
    struct gw_gen old = g->gen;
    cg_pipeline_inherit_stats(next->pipeline, old.pipeline);
    g->gen = *next;
    cg_deliver_commit(g->deliver);
    gw__state_handover(g, old.pipeline, next->pipeline);
    pthread_mutex_unlock(&g->pipeline_lock);
    cg_deliver_retire(g->deliver, GW_DRAIN_MS); /* nothing feeds them now */
    gw__gen_free(&old);
    g->reloads_ok++;
    cg_log(CG_LOG_INFO, "reloaded: %zu vendors, %zu rules, %zu consumers",
           g->gen.cfg->n_vendors,
           cg_ruleset_count(cg_pipeline_rules(g->gen.pipeline)),
           g->gen.cfg->n_consumers);
}

/* Builds the next generation off to the side. CG_OK with next ready to
 * swap in, or an error (logged, nothing changed). */
static int prepare_next(struct gw *g, struct gw_gen *next)
{
    struct cg_diags d = {0};
    int rc = gw__load_gen(g, next, &d);
    if (rc == CG_OK &&
        (rc = cg_deliver_prepare(g->deliver, next->cfg, next->pipeline,
                                 next->reg, &d)) != CG_OK)
        gw__gen_free(next);
    gw__log_diags(&d); /* errors, or warnings of a config that loads */
    cg_diags_free(&d);
    if (rc != CG_OK) {
        g->reloads_failed++;
        cg_log(CG_LOG_ERROR, "reload failed: the running rules stay in force");
    }
    return rc;
}

void gw__reload(struct gw *g, const char *why)
{
    struct gw_gen next;
    cg_log(CG_LOG_INFO, "reloading: %s", why);
    cg_notify_reloading();
    int rc = prepare_next(g, &next);
    if (rc == CG_OK)
        swap_in(g, &next);
    cg_notify_reloaded();
}

/* Reloads when a file of the config changed, naming it (and how many
 * others changed with it). A failed reload waits for the next change. */
void gw__check_files(struct gw *g)
{
    struct cg_config_files *now = NULL;
    char why[PATH_MAX + 64], line[PATH_MAX + 128];
    if (cg_config_files_snapshot(g->gen.cfg, &now) != CG_OK)
        return; /* out of memory: look again at the next tick */
    size_t n = cg_config_files_diff(g->files, now, why, sizeof(why));
    cg_config_files_free(g->files);
    g->files = now;
    if (n == 0)
        return;
    if (n > 1)
        snprintf(line, sizeof(line), "%s (and %zu more changes)", why, n - 1);
    else
        snprintf(line, sizeof(line), "%s", why);
    gw__reload(g, line);
}
