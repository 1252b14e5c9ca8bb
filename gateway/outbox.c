/*
 * Outboxes (outbox.h): three FIFO lists per consumer, one per severity,
 * and a delivery thread that takes batches from the highest severity
 * first. A batch stays "in hand" until the sink accepts or refuses it, so
 * a retry offers exactly the same events in the same order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outbox.h"

#define N_SEV       3
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 30.0
#define TICK_S      1.0

/* One queued event in a single allocation: header, topic, json. */
struct item {
    struct item *next;
    uint64_t seq;
    size_t size;
    struct cg_event ev;
    char id[17];
    char data[];
};

struct fifo {
    struct item *head, *tail;
};

struct outbox {
    struct outbox_conf conf;
    char *name;
    struct cg_instance *sink;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* new events or stop, for the thread */
    pthread_cond_t emptied; /* the queue became empty, for drain */
    struct fifo q[N_SEV];
    uint64_t seq, count, bytes; /* bytes and count include the batch in hand */
    bool stopping;
    struct outbox_stats stats;
    bool failing; /* logged once per outage, not once per retry */
};

static void ts_after(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    double whole = (double)(long)s;
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((s - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static struct item *item_new(const struct cg_event *ev, uint64_t seq)
{
    size_t tlen = ev->topic ? strlen(ev->topic) + 1 : 0;
    struct item *it = cg_malloc(sizeof(*it) + tlen + ev->json_len + 1);
    if (!it)
        return NULL;
    it->next = NULL;
    it->seq = seq;
    it->size = ev->json_len + tlen;
    it->ev = *ev;
    memcpy(it->id, ev->id, 17);
    it->ev.id = it->id;
    char *p = it->data;
    if (ev->topic) {
        memcpy(p, ev->topic, tlen);
        it->ev.topic = p;
        p += tlen;
    }
    memcpy(p, ev->json, ev->json_len);
    p[ev->json_len] = '\0';
    it->ev.json = p;
    return it;
}

static void fifo_push(struct fifo *f, struct item *it)
{
    if (f->tail)
        f->tail->next = it;
    else
        f->head = it;
    f->tail = it;
}

static struct item *fifo_pop(struct fifo *f)
{
    struct item *it = f->head;
    if (it && !(f->head = it->next))
        f->tail = NULL;
    return it;
}

static int sev_index(int severity)
{
    return severity < 0 ? 0 : severity >= N_SEV ? N_SEV - 1 : severity;
}

/* Drops the oldest queued event (not one in hand). Lock held. */
static bool drop_oldest(struct outbox *o)
{
    struct fifo *oldest = NULL;
    for (int s = 0; s < N_SEV; s++)
        if (o->q[s].head && (!oldest || o->q[s].head->seq < oldest->head->seq))
            oldest = &o->q[s];
    struct item *it = oldest ? fifo_pop(oldest) : NULL;
    if (!it)
        return false;
    o->count--;
    o->bytes -= it->size;
    o->stats.dropped++;
    cg_free(it);
    return true;
}

int outbox__push(struct outbox *o, const struct cg_event *ev)
{
    pthread_mutex_lock(&o->lock);
    struct item *it = item_new(ev, o->seq++);
    if (!it) {
        pthread_mutex_unlock(&o->lock);
        return CG_ENOMEM;
    }
    while (o->conf.full_policy == CG_SPOOL_DROP_OLDEST &&
           o->bytes + it->size > o->conf.max_bytes && drop_oldest(o))
        ;
    fifo_push(&o->q[sev_index(ev->severity)], it);
    o->count++;
    o->bytes += it->size;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
    return CG_OK;
}

bool outbox__full(struct outbox *o)
{
    pthread_mutex_lock(&o->lock);
    bool full =
        o->conf.full_policy == CG_SPOOL_BLOCK && o->bytes >= o->conf.max_bytes;
    pthread_mutex_unlock(&o->lock);
    return full;
}

#define BATCH_MAX 1000

struct hand {
    struct item *items[BATCH_MAX];
    struct cg_event evs[BATCH_MAX];
    size_t n;
};

/* Takes up to batch_max events, highest severity first. Lock held. */
static void take_batch(struct outbox *o, struct hand *h)
{
    size_t max = (size_t)o->conf.batch_max;
    h->n = 0;
    for (int s = N_SEV - 1; s >= 0; s--) {
        while (h->n < max && h->n < BATCH_MAX && o->q[s].head) {
            struct item *it = fifo_pop(&o->q[s]);
            h->items[h->n] = it;
            h->evs[h->n++] = it->ev;
        }
    }
}

/* Sleeps d seconds unless the outbox stops first. Lock held. */
static void nap(struct outbox *o, double d)
{
    struct timespec until;
    ts_after(&until, d);
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
               "consumer %s: delivery failing (%s); retrying with "
               "backoff",
               o->name, res->detail[0] ? res->detail : "not now");
    } else if (rc != CG_RETRY && o->failing) {
        o->failing = false;
        cg_log(CG_LOG_INFO, "consumer %s: delivering again", o->name);
    }
}

/* Offers the batch until the sink takes or refuses it. Returns false when
 * the outbox stopped first (the batch is then given up). */
static bool deliver_batch(struct outbox *o, struct hand *h)
{
    struct cg_batch b = {h->evs, h->n};
    double backoff = BACKOFF_MIN;
    for (;;) {
        struct cg_delivery_result res = {0};
        int rc = o->sink->plugin->deliver(o->sink->inst, &b, &res);
        note_outcome(o, rc, &res);
        pthread_mutex_lock(&o->lock);
        if (rc == CG_OK) {
            o->stats.delivered += h->n;
        } else if (rc == CG_RETRY) {
            o->stats.retried++;
            double wait = jittered(backoff);
            if (res.retry_after_ms / 1000.0 > wait)
                wait = res.retry_after_ms / 1000.0;
            backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
            nap(o, wait);
            bool stop = o->stopping;
            pthread_mutex_unlock(&o->lock);
            if (stop)
                return false;
            continue;
        } else {
            o->stats.rejected += h->n;
        }
        pthread_mutex_unlock(&o->lock);
        if (rc != CG_OK && o->conf.reject)
            o->conf.reject(o->conf.user, o->name, &b, &res);
        return true;
    }
}

static void release(struct outbox *o, struct hand *h)
{
    pthread_mutex_lock(&o->lock);
    for (size_t i = 0; i < h->n; i++) {
        o->count--;
        o->bytes -= h->items[i]->size;
        cg_free(h->items[i]);
    }
    h->n = 0;
    if (o->count == 0)
        pthread_cond_broadcast(&o->emptied);
    pthread_mutex_unlock(&o->lock);
}

static bool has_queued(const struct outbox *o)
{
    return o->q[0].head || o->q[1].head || o->q[2].head;
}

static uint64_t queued_count(const struct outbox *o, const struct hand *h)
{
    return o->count - h->n;
}

/* Waits for work. Returns false on stop; sets *tick when a second passed
 * without any event. With batch_wait_ms, gives a batch that long to fill.
 * Lock held. */
static bool wait_for_work(struct outbox *o, const struct hand *h, bool *tick)
{
    struct timespec until;
    *tick = false;
    ts_after(&until, TICK_S);
    while (!o->stopping && !has_queued(o))
        if (pthread_cond_timedwait(&o->wake, &o->lock, &until)) {
            *tick = !has_queued(o);
            break;
        }
    if (*tick || o->conf.batch_wait_ms <= 0)
        return !o->stopping;
    ts_after(&until, o->conf.batch_wait_ms / 1000.0);
    while (!o->stopping && queued_count(o, h) < (uint64_t)o->conf.batch_max &&
           pthread_cond_timedwait(&o->wake, &o->lock, &until) == 0)
        ;
    return !o->stopping;
}

static void *deliver_loop(void *arg)
{
    struct outbox *o = arg;
    struct hand *h = cg_malloc(sizeof(*h));
    bool tick;
    pthread_mutex_lock(&o->lock);
    if (h)
        h->n = 0;
    while (h && wait_for_work(o, h, &tick)) {
        if (!tick)
            take_batch(o, h);
        pthread_mutex_unlock(&o->lock);
        if (tick) {
            struct cg_batch empty = {NULL, 0};
            struct cg_delivery_result res = {0};
            o->sink->plugin->deliver(o->sink->inst, &empty, &res);
        } else {
            deliver_batch(o, h);
            release(o, h);
        }
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    cg_free(h);
    return NULL;
}

int outbox__new(const struct outbox_conf *conf, struct cg_instance *sink,
                struct outbox **out)
{
    *out = NULL;
    struct outbox *o = cg_calloc(1, sizeof(*o));
    if (!o || !(o->name = cg_strdup(conf->name))) {
        cg_free(o);
        cg_instance_free(sink);
        return CG_ENOMEM;
    }
    o->conf = *conf;
    o->conf.name = o->name;
    if (o->conf.batch_max < 1)
        o->conf.batch_max = 1;
    o->sink = sink;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->wake, NULL);
    pthread_cond_init(&o->emptied, NULL);
    if (pthread_create(&o->thread, NULL, deliver_loop, o) != 0) {
        outbox__free(o);
        return CG_ENOMEM;
    }
    o->started = true;
    *out = o;
    return CG_OK;
}

void outbox__free(struct outbox *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_broadcast(&o->wake);
    pthread_mutex_unlock(&o->lock);
    if (o->started)
        pthread_join(o->thread, NULL);
    for (int s = 0; s < N_SEV; s++) {
        struct item *it;
        while ((it = fifo_pop(&o->q[s])))
            cg_free(it);
    }
    cg_instance_free(o->sink);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->wake);
    pthread_cond_destroy(&o->emptied);
    cg_free(o->name);
    cg_free(o);
}

bool outbox__drain(struct outbox *o, int timeout_ms)
{
    struct timespec until;
    ts_after(&until, timeout_ms / 1000.0);
    pthread_mutex_lock(&o->lock);
    while (o->count > 0 &&
           pthread_cond_timedwait(&o->emptied, &o->lock, &until) == 0)
        ;
    bool empty = o->count == 0;
    pthread_mutex_unlock(&o->lock);
    return empty;
}

void outbox__stats(struct outbox *o, struct outbox_stats *s)
{
    pthread_mutex_lock(&o->lock);
    *s = o->stats;
    s->queued = o->count;
    s->bytes = o->bytes;
    pthread_mutex_unlock(&o->lock);
}

const char *outbox__name(const struct outbox *o)
{
    return o->name;
}
