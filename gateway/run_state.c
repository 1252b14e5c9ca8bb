/*
 * The running gateway's side of stateful rules (SPEC §13): their timers
 * run from the loop thread, their state is saved under
 * <spool_dir>/state/ every few seconds while it changes and at shutdown,
 * restored at start, handed over at a reload, and evictions are logged
 * at most once a minute.
 *
 * The pipeline's state is shared with the MQTT receive thread, so every
 * call into it takes g->pipeline_lock. A snapshot is serialized under the
 * lock (memory only) and written to disk after it is released, so intake
 * waits for the serialization alone. The periodic work waits for the
 * lock a bounded time (LOCK_WAIT_S): long enough to get its turn between
 * two messages under full traffic, short enough that a pipeline stuck on
 * one message cannot stop the loop thread, which still has /healthz to
 * answer and the watchdog to withhold.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "run.h"

#define SAVE_EVERY_S  5.0  /* SPEC: at least every 10 s */
#define EVICT_LOG_S   60.0 /* at most one eviction line a minute */
#define RETRY_S       1.0  /* a timer whose events could not be spooled */
#define TIMER_CHECK_S 1.0  /* messages plan new timers: look again soon */
#define BUSY_RETRY_S  0.05 /* the pipeline held the lock: look again */
#define LOCK_WAIT_S   0.25 /* the longest the loop waits for the pipeline */

struct gw_state {
    char dir[4096];
    double last_save, last_evict_log; /* monotonic */
    const struct cg_pipeline *saved;  /* what the last snapshot was of */
    uint64_t saved_version;
    bool save_failing;
    struct cg_buf text; /* kept between snapshots: no page faults under
                           the lock once it has grown */
    uint64_t *evicted;  /* per rule, at the last eviction line */
    size_t n_evicted;
    const struct cg_pipeline *evicted_of;
};

static struct cg_emit deliver_emit(struct gw *g)
{
    return (struct cg_emit){cg_deliver_event, cg_deliver_dead, g->deliver};
}

/* Takes the pipeline lock, waiting at most LOCK_WAIT_S (or for ever with
 * wait_always, at shutdown). Returns false when the pipeline kept it. */
static bool lock_pipeline(struct gw *g, bool wait_always)
{
    if (wait_always)
        return pthread_mutex_lock(&g->pipeline_lock) == 0;
    if (pthread_mutex_trylock(&g->pipeline_lock) == 0)
        return true;
    struct timespec until;
    cg_time_deadline(&until, LOCK_WAIT_S);
    return pthread_mutex_timedlock(&g->pipeline_lock, &until) == 0;
}

/* ---- snapshots -------------------------------------------------------------
 */

/* wait_always: at shutdown; else a pipeline that keeps the lock is
 * skipped until the next tick. */
static void save(struct gw *g, bool wait_always)
{
    struct gw_state *s = g->state;
    struct cg_buf *b = &s->text;
    char err[256];
    double t0 = cg_time_mono();
    cg_buf_reset(b);
    if (!lock_pipeline(g, wait_always))
        return; /* the next tick tries again */
    s->last_save = t0;
    const struct cg_pipeline *p = g->gen.pipeline;
    uint64_t version = cg_pipeline_state_version(p);
    if (p == s->saved && version == s->saved_version) {
        pthread_mutex_unlock(&g->pipeline_lock);
        return; /* nothing changed since the last snapshot */
    }
    int rc = cg_pipeline_state_save(p, cg_time_now(), b);
    pthread_mutex_unlock(&g->pipeline_lock);
    double t1 = cg_time_mono();
    if (rc == CG_OK)
        rc = cg_state_file_write(s->dir, b->data, b->len, err, sizeof(err));
    else
        snprintf(err, sizeof(err), "out of memory");
    if (rc == CG_OK) {
        cg_log(CG_LOG_DEBUG,
               "state saved: %zu bytes, %.1f ms under the lock, %.1f ms "
               "writing",
               b->len, (t1 - t0) * 1000.0, (cg_time_mono() - t1) * 1000.0);
        s->saved = p;
        s->saved_version = version;
        s->save_failing = false;
    } else if (!s->save_failing) {
        cg_log(CG_LOG_ERROR, "cannot save the rules' state: %s", err);
        s->save_failing = true; /* said once until it works again */
    }
    if (b->oom)
        cg_buf_free(b); /* start afresh next time */
}

static int restore_from(struct gw *g, bool prev, struct cg_buf *text)
{
    struct gw_state *s = g->state;
    struct cg_emit emit = deliver_emit(g);
    struct cg_state_restored r = {0};
    char err[256];
    int rc = cg_state_file_read(s->dir, prev, text, err, sizeof(err));
    if (rc == CG_OK) {
        pthread_mutex_lock(&g->pipeline_lock);
        rc = cg_pipeline_state_restore(g->gen.pipeline, text->data, text->len,
                                       cg_time_now(), &emit, &r, err,
                                       sizeof(err));
        pthread_mutex_unlock(&g->pipeline_lock);
    }
    if (rc == CG_OK)
        cg_log(CG_LOG_INFO,
               "state restored from %s: %zu rules, %zu keys, %.1f s of "
               "downtime left out of every timer, %zu windows that ended "
               "meanwhile sent as partial, %zu rules changed or gone",
               prev ? "the previous snapshot" : "the snapshot", r.rules, r.keys,
               (double)r.outage / 1000.0, r.windows_late, r.rules_gone);
    else if (rc != CG_ENOENT)
        cg_log(CG_LOG_WARN, "state snapshot %s: %s",
               prev ? "state.jsonl.prev" : "state.jsonl", err);
    return rc;
}

static int make_dir(struct gw *g)
{
    const char *spool = g->gen.cfg->gateway.spool_dir;
    snprintf(g->state->dir, sizeof(g->state->dir), "%s/state", spool);
    if (mkdir(g->state->dir, 0750) < 0 && errno != EEXIST) {
        cg_log(CG_LOG_ERROR, "cannot create %s: %s", g->state->dir,
               strerror(errno));
        return CG_EIO;
    }
    return CG_OK;
}

/* Remembers each rule's eviction count now: the next line reports only
 * evictions after it. Taken at start and at each reload, where kept rules
 * bring their counts along. */
static void evict_baseline(struct gw_state *s, const struct cg_pipeline *p)
{
    const char *name;
    struct cg_state_stats st;
    size_t n = cg_pipeline_state_stats(p, 0, &name, &st);
    uint64_t *e = cg_calloc(n + 1, sizeof(*e));
    if (!e)
        return; /* the old baseline stays; lines wait for the next try */
    for (size_t i = 0; i < n; i++) {
        cg_pipeline_state_stats(p, i, &name, &st);
        e[i] = name ? st.evicted : 0;
    }
    cg_free(s->evicted);
    s->evicted = e;
    s->n_evicted = n;
    s->evicted_of = p;
}

int gw__state_start(struct gw *g)
{
    if (!(g->state = cg_calloc(1, sizeof(*g->state))))
        return CG_ENOMEM;
    int rc = make_dir(g);
    if (rc != CG_OK)
        return rc;
    struct cg_buf text = {0};
    rc = restore_from(g, false, &text);
    if (rc != CG_OK && rc != CG_ENOENT) /* torn or garbled: the one before */
        rc = restore_from(g, true, &text);
    cg_buf_free(&text);
    g->state->saved = g->gen.pipeline;
    g->state->saved_version = cg_pipeline_state_version(g->gen.pipeline);
    g->state->last_save = cg_time_mono();
    g->state->last_evict_log = g->state->last_save - EVICT_LOG_S;
    evict_baseline(g->state, g->gen.pipeline);
    return rc == CG_ENOMEM ? rc : CG_OK;
}

void gw__state_stop(struct gw *g)
{
    if (g->state && g->gen.pipeline)
        save(g, true);
}

void gw__state_free(struct gw *g)
{
    if (!g->state)
        return;
    cg_free(g->state->evicted);
    cg_buf_free(&g->state->text);
    CG_FREE(g->state);
}

/* ---- the loop's handlers
 * ----------------------------------------------------- */

double gw__state_timers(void *user, double now)
{
    struct gw *g = user;
    struct cg_emit emit = deliver_emit(g);
    double next = 0, wall = cg_time_now();
    if (!g->state)
        return 0;
    if (!lock_pipeline(g, false))
        return now + BUSY_RETRY_S;
    int rc = cg_pipeline_timers(g->gen.pipeline, wall, &emit, &next);
    pthread_mutex_unlock(&g->pipeline_lock);
    if (rc < 0) {
        cg_log(CG_LOG_ERROR, "rule timers: %s; trying again", cg_strerror(rc));
        return now + RETRY_S;
    }
    double due = next ? now + (next - wall) : 0;
    return due && due < now + TIMER_CHECK_S ? due : now + TIMER_CHECK_S;
}

/* One line for each rule that evicted keys since the last line; returns
 * how many were written. */
static int log_evictions(struct gw *g)
{
    struct gw_state *s = g->state;
    const struct cg_pipeline *p = g->gen.pipeline;
    const char *name;
    struct cg_state_stats st;
    int lines = 0;
    if (s->evicted_of != p) {
        evict_baseline(s, p);
        return 0;
    }
    for (size_t i = 0; i < s->n_evicted; i++) {
        cg_pipeline_state_stats(p, i, &name, &st);
        if (!name || st.evicted <= s->evicted[i])
            continue;
        uint64_t n_new = st.evicted - s->evicted[i];
        cg_log(CG_LOG_WARN,
               "rule %s: %llu least recently used %s evicted: it holds "
               "max_keys (%llu) keys",
               name, (unsigned long long)n_new, n_new == 1 ? "key" : "keys",
               (unsigned long long)st.keys);
        s->evicted[i] = st.evicted;
        lines++;
    }
    return lines;
}

void gw__state_tick(struct gw *g)
{
    struct gw_state *s = g->state;
    double now = cg_time_mono();
    if (!s)
        return;
    if (now - s->last_save >= SAVE_EVERY_S)
        save(g, false);
    /* The first eviction is reported at once, the next a minute later at
     * the earliest, with what was evicted in between. */
    if (now - s->last_evict_log >= EVICT_LOG_S && log_evictions(g) > 0)
        s->last_evict_log = now;
}

/* The old generation routes a changed window rule's last events, for its
 * own consumers; by then the deliver stage holds the new ones: each event
 * goes to the consumer of the same name, or nowhere if it is gone. */
static int deliver_by_name(void *user, const struct cg_delivery *d)
{
    struct gw *g = user;
    const struct cg_config *cfg = g->gen.cfg;
    for (size_t i = 0; i < cfg->n_consumers; i++) {
        if (strcmp(cfg->consumers[i].name.s, d->consumer_name))
            continue;
        struct cg_delivery now = *d;
        now.consumer = (uint32_t)i;
        return cg_deliver_event(g->deliver, &now);
    }
    return CG_OK;
}

static int dead_letter(void *user, const struct cg_dead *d)
{
    return cg_deliver_dead(((struct gw *)user)->deliver, d);
}

void gw__state_handover(struct gw *g, struct cg_pipeline *old,
                        struct cg_pipeline *next)
{
    struct cg_emit emit = {deliver_by_name, dead_letter, g};
    int rc = cg_pipeline_state_handover(next, old, cg_time_now(), &emit);
    if (g->state)
        evict_baseline(g->state, next);
    if (rc != CG_OK)
        cg_log(CG_LOG_ERROR,
               "reload: the open windows of changed rules could not all be "
               "spooled: %s",
               cg_strerror(rc));
}
