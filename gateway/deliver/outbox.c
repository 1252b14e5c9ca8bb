/*
 * Outboxes (deliver/internal.h) on the durable spool: push appends to the
 * consumer's spool; the delivery thread reads a batch from it (critical first),
 * offers it to the sink and commits it once it is taken or refused. After
 * a CG_RETRY the batch is read again after the backoff, so critical
 * events that arrived meanwhile overtake it; a crash before the commit
 * sends it again at the next start, with the same ids.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "log.h"

#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 30.0
#define TICK_S      1.0

struct outbox {
    struct outbox_conf conf;
    char *name, *folder;
    struct cg_instance *sink;
    struct spool *spool;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* new events or stop, for the thread */
    pthread_cond_t emptied; /* the spool became empty, for drain */
    bool stopping;
    struct cg_consumer_stats stats;
    bool failing; /* logged once per outage, not once per retry */
    bool dropping;
    double last_drop; /* monotonic time of the last drop */
    double backoff;   /* the next wait after a CG_RETRY */
};

/* With drop_oldest, makes room for what was just appended. */
static void enforce_bound(struct outbox *o)
{
    uint64_t bytes = spool__bytes(o->spool);
    if (o->conf.full_policy != CG_SPOOL_DROP_OLDEST ||
        bytes <= o->conf.max_bytes)
        return;
    uint64_t dropped = spool__drop_oldest(o->spool, bytes - o->conf.max_bytes);
    pthread_mutex_lock(&o->lock);
    o->stats.dropped += dropped;
    o->last_drop = cg_time_mono();
    bool first = !o->dropping;
    o->dropping = true;
    pthread_mutex_unlock(&o->lock);
    if (first)
        cg_log(CG_LOG_WARN,
               "consumer %s: spool full (%llu bytes); dropping "
               "the oldest events (counted)",
               o->name, (unsigned long long)o->conf.max_bytes);
}

int outbox__push(struct outbox *o, const struct cg_event *ev)
{
    int rc = spool__append(o->spool, ev);
    if (rc != CG_OK)
        return rc;
    enforce_bound(o);
    pthread_mutex_lock(&o->lock);
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
    return CG_OK;
}

bool outbox__full(struct outbox *o)
{
    return o->conf.full_policy == CG_SPOOL_BLOCK &&
           spool__bytes(o->spool) >= o->conf.max_bytes;
}

/* Sleeps d seconds unless the outbox stops first. Lock held. */
static void nap(struct outbox *o, double d)
{
    struct timespec until;
    cg_time_deadline(&until, d);
    while (!o->stopping &&
           pthread_cond_timedwait(&o->wake, &o->lock, &until) == 0)
        ;
}

static double jittered(double backoff)
{
    return backoff * (0.5 + (double)rand() / RAND_MAX);
}

/* Logs the start and the end of an outage, not every retry. */
static void note_outcome(struct outbox *o, int rc,
                         const struct cg_delivery_result *res)
{
    if (rc == CG_RETRY && !o->failing) {
        o->failing = true;
        cg_log(CG_LOG_WARN,
               "consumer %s: delivery failing (%s); retrying "
               "with backoff",
               o->name, res->detail[0] ? res->detail : "not now");
    } else if (rc != CG_RETRY && o->failing) {
        o->failing = false;
        cg_log(CG_LOG_INFO, "consumer %s: delivering again", o->name);
    }
}

/* Offers a batch once. On CG_RETRY it waits out the backoff; the next
 * batch is read afresh, so what turned critical meanwhile goes first.
 * Returns false when the outbox stopped during the wait. */
static bool offer(struct outbox *o, const struct cg_batch *b, bool *done)
{
    struct cg_delivery_result res = {0};
    int rc = o->sink->plugin->deliver(o->sink->inst, b, &res);
    note_outcome(o, rc, &res);
    *done = rc != CG_RETRY;
    pthread_mutex_lock(&o->lock);
    if (rc == CG_RETRY) {
        double wait = jittered(o->backoff);
        if (res.retry_after_ms / 1000.0 > wait)
            wait = res.retry_after_ms / 1000.0;
        o->backoff =
            o->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : o->backoff * 2;
        o->stats.retried++;
        nap(o, wait);
    } else {
        o->backoff = BACKOFF_MIN;
        if (rc == CG_OK)
            o->stats.delivered += b->n;
        else
            o->stats.rejected += b->n;
    }
    bool stop = o->stopping;
    pthread_mutex_unlock(&o->lock);
    if (rc != CG_OK && rc != CG_RETRY && o->conf.reject)
        o->conf.reject(o->conf.user, o->name, b, &res);
    return !stop;
}

/* Waits for work. Returns false on stop; sets *tick when a second passed
 * without any event. With batch_wait_ms, gives a batch that long to fill.
 * Lock held. */
static bool wait_for_work(struct outbox *o, bool *tick)
{
    struct timespec until;
    *tick = false;
    cg_time_deadline(&until, TICK_S);
    while (!o->stopping && spool__count(o->spool) == 0)
        if (pthread_cond_timedwait(&o->wake, &o->lock, &until)) {
            *tick = spool__count(o->spool) == 0;
            break;
        }
    if (*tick || o->conf.batch_wait_ms <= 0)
        return !o->stopping;
    cg_time_deadline(&until, o->conf.batch_wait_ms / 1000.0);
    while (!o->stopping &&
           spool__count(o->spool) < (uint64_t)o->conf.batch_max &&
           pthread_cond_timedwait(&o->wake, &o->lock, &until) == 0)
        ;
    return !o->stopping;
}

static void tick(struct outbox *o)
{
    struct cg_batch empty = {NULL, 0};
    struct cg_delivery_result res = {0};
    o->sink->plugin->deliver(o->sink->inst, &empty, &res);
}

/* One batch from the spool to the sink; false when stopping. */
static bool deliver_next(struct outbox *o, struct spool_batch *sb)
{
    int rc = spool__peek(o->spool, (size_t)o->conf.batch_max, sb);
    if (rc != CG_OK) {
        cg_log(CG_LOG_ERROR, "consumer %s: cannot read its spool: %s", o->name,
               cg_strerror(rc));
        pthread_mutex_lock(&o->lock);
        nap(o, 1.0);
        pthread_mutex_unlock(&o->lock);
        return true;
    }
    struct cg_batch b = {sb->events, sb->n};
    bool done = true;
    if (b.n && !offer(o, &b, &done))
        return false;
    if (!done) {
        spool__rewind(o->spool);
        return true;
    }
    if (b.n && spool__commit(o->spool) != CG_OK)
        cg_log(CG_LOG_ERROR,
               "consumer %s: cannot record a delivery in its "
               "spool; it may be sent again",
               o->name);
    pthread_mutex_lock(&o->lock);
    if (spool__count(o->spool) == 0)
        pthread_cond_broadcast(&o->emptied);
    pthread_mutex_unlock(&o->lock);
    return true;
}

static void *deliver_loop(void *arg)
{
    struct outbox *o = arg;
    struct spool_batch sb = {0};
    bool idle, go = true;
    pthread_mutex_lock(&o->lock);
    while (go && wait_for_work(o, &idle)) {
        pthread_mutex_unlock(&o->lock);
        if (idle)
            tick(o);
        else
            go = deliver_next(o, &sb);
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    spool__batch_free(&sb);
    return NULL;
}

int outbox__new(const struct outbox_conf *conf, struct cg_instance *sink,
                struct outbox **out)
{
    char err[256] = "";
    *out = NULL;
    struct outbox *o = cg_calloc(1, sizeof(*o));
    if (!o || !(o->name = cg_strdup(conf->name)) ||
        !(o->folder = cg_strdup(conf->folder))) {
        if (o)
            cg_free(o->name);
        cg_free(o);
        cg_instance_free(sink);
        return CG_ENOMEM;
    }
    o->conf = *conf;
    o->conf.name = o->name;
    o->conf.folder = o->folder;
    o->conf.spool_dir = NULL; /* borrowed: only spool__open reads it */
    o->conf.batch_max = conf->batch_max < 1 ? 1 : conf->batch_max;
    o->sink = sink;
    o->backoff = BACKOFF_MIN;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->wake, NULL);
    pthread_cond_init(&o->emptied, NULL);
    int rc = spool__open(conf->spool_dir, conf->folder, conf->max_bytes,
                         &o->spool, err, sizeof(err));
    if (rc == CG_OK && pthread_create(&o->thread, NULL, deliver_loop, o))
        rc = CG_ENOMEM;
    o->started = rc == CG_OK;
    if (rc != CG_OK) {
        if (err[0])
            cg_log(CG_LOG_ERROR, "consumer %s: %s", conf->name, err);
        outbox__free(o);
        return rc;
    }
    uint64_t backlog = spool__count(o->spool);
    if (backlog)
        cg_log(CG_LOG_INFO, "consumer %s: %llu events waiting in its spool",
               o->name, (unsigned long long)backlog);
    *out = o;
    return CG_OK;
}

void outbox__cancel(struct outbox *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_broadcast(&o->wake);
    pthread_mutex_unlock(&o->lock);
    cg_instance_cancel(o->sink);
}

void outbox__free(struct outbox *o)
{
    if (!o)
        return;
    outbox__cancel(o);
    if (o->started)
        pthread_join(o->thread, NULL);
    spool__close(o->spool);
    cg_instance_free(o->sink);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->wake);
    pthread_cond_destroy(&o->emptied);
    cg_free(o->name);
    cg_free(o->folder);
    cg_free(o);
}

bool outbox__drain(struct outbox *o, int timeout_ms)
{
    struct timespec until;
    cg_time_deadline(&until, timeout_ms / 1000.0);
    pthread_mutex_lock(&o->lock);
    while (spool__count(o->spool) > 0 &&
           pthread_cond_timedwait(&o->emptied, &o->lock, &until) == 0)
        ;
    bool empty = spool__count(o->spool) == 0;
    pthread_mutex_unlock(&o->lock);
    return empty;
}

/* How long a drop_oldest spool counts as full after it last dropped. */
#define DROPPING_S 5.0

void outbox__stats(struct outbox *o, struct cg_consumer_stats *s)
{
    pthread_mutex_lock(&o->lock);
    *s = o->stats;
    bool dropped_lately =
        o->stats.dropped > 0 && cg_time_mono() - o->last_drop < DROPPING_S;
    pthread_mutex_unlock(&o->lock);
    s->queued = spool__count(o->spool);
    s->bytes = spool__bytes(o->spool);
    s->max_bytes = o->conf.max_bytes;
    s->full = o->conf.full_policy == CG_SPOOL_BLOCK
                  ? s->bytes >= o->conf.max_bytes
                  : dropped_lately;
    s->broker = -1;
}

const char *outbox__name(const struct outbox *o)
{
    return o->name;
}

bool outbox__idle(struct outbox *o)
{
    return spool__count(o->spool) == 0;
}

void outbox__count_direct(struct outbox *o)
{
    pthread_mutex_lock(&o->lock);
    o->stats.delivered++;
    pthread_mutex_unlock(&o->lock);
}
