/*
 * Plugin instances: an instance's options are checked against the table
 * its plugin declares before create() runs, and every instance gets the
 * host services table (logging prefixed with its name, memory, time).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "mqtt/mqtt.h"
#include "rules.h"

#define PUBLISH_MAX 1024 /* events one host->publish call sends at most */

static void host_log(const struct cg_host *h, int level, const char *fmt, ...)
{
    if (!cg_log_enabled(level))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cg_log(level, "%s: %s", h->instance_name, msg);
}

static void *host_alloc(size_t size)
{
    return cg_malloc(size);
}

static void host_free(void *p)
{
    cg_free(p);
}

static void *host_record_alloc(struct cg_record *rec, size_t size)
{
    return cg_arena_alloc(((struct cg_decoded *)rec)->arena, size);
}

static struct cg_instance *instance_of(const struct cg_host *h)
{
    return (struct cg_instance *)((const char *)h -
                                  offsetof(struct cg_instance, host));
}

static int host_cancelled(const struct cg_host *h)
{
    return atomic_load(&instance_of(h)->cancelled);
}

void cg_instance_cancel(struct cg_instance *in)
{
    if (in)
        atomic_store(&in->cancelled, 1);
}

/* Waits for one acknowledgement until the deadline, in slices, so that a
 * cancel (shutdown) is noticed within a tenth of a second. */
static int wait_ticket(struct cg_instance *in, unsigned ticket, double deadline)
{
    for (;;) {
        int left = (int)((deadline - cg_time_mono()) * 1000.0);
        int rc = cg_mqtt_wait(in->mqtt, ticket,
                              left < 0     ? 0
                              : left < 100 ? left
                                           : 100);
        if (rc != CG_ETIMEDOUT || left <= 100)
            return rc;
        if (atomic_load(&in->cancelled))
            return CG_RETRY;
    }
}

/* host->publish: publishes the whole batch, then waits for every
 * acknowledgement, so a batch costs about one round trip, not n. When the
 * client's in-flight window is full (other consumers share it), it waits
 * for the oldest of its own publishes, or, with none in flight, for any
 * completion on the connection, and goes on. */
static int host_publish(const struct cg_host *h, const struct cg_batch *b,
                        uint32_t timeout_ms)
{
    struct cg_instance *in = instance_of(h);
    unsigned tickets[PUBLISH_MAX];
    size_t n = b->n, done = 0;
    if (n > PUBLISH_MAX)
        n = PUBLISH_MAX; /* the rest comes back as the next batch */
    double deadline = cg_time_mono() + timeout_ms / 1000.0;
    for (size_t i = 0; i < n; i++) {
        const struct cg_event *e = &b->events[i];
        int rc;
        while ((rc = cg_mqtt_publish(in->mqtt, e->topic, e->json, e->json_len,
                                     e->qos, in->retain, &tickets[i])) ==
               CG_EFULL) {
            if (done < i) { /* room comes back with our own acks */
                if (wait_ticket(in, tickets[done++], deadline) != CG_OK)
                    return CG_RETRY;
                continue;
            }
            if (cg_time_mono() >= deadline || atomic_load(&in->cancelled))
                return CG_RETRY;
            cg_mqtt_wait_any(in->mqtt, 100); /* others' publishes */
        }
        if (rc != CG_OK)
            return CG_RETRY;
    }
    for (; done < n; done++)
        if (wait_ticket(in, tickets[done], deadline) != CG_OK)
            return CG_RETRY;
    return n == b->n ? CG_OK : CG_RETRY;
}

static void host_init(struct cg_host *h, const char *instance_name)
{
    memset(h, 0, sizeof(*h));
    h->struct_size = sizeof(*h);
    h->log = host_log;
    h->alloc = host_alloc;
    h->free = host_free;
    h->now = cg_time_now;
    h->record_alloc = host_record_alloc;
    h->instance_name = instance_name;
    h->cancelled = host_cancelled;
}

int cg_instance_new(const struct cg_plugin *p, const char *name,
                    const struct cg_value *opts, const struct cg_pos *pos,
                    const struct cg_sink_option *where, size_t n_where,
                    struct cg_mqtt *mqtt, struct cg_instance **out,
                    struct cg_diags *d)
{
    *out = NULL;
    if (host__check_options(p, opts, pos, where, n_where, d) != CG_OK)
        return CG_EINVAL;
    struct cg_instance *in = cg_calloc(1, sizeof(*in));
    if (!in)
        return CG_ENOMEM;
    in->plugin = p;
    snprintf(in->name, sizeof(in->name), "%s", name);
    host_init(&in->host, in->name);
    in->mqtt = mqtt;
    if (mqtt)
        in->host.publish = host_publish;
    char err[160] = "";
    int rc = p->create(&in->host, opts, &in->inst, err, sizeof(err));
    if (rc != CG_OK) {
        if (rc != CG_ENOMEM)
            host__create_error(p, err[0] ? err : cg_strerror(rc), pos, where,
                               n_where, d);
        cg_free(in);
        return rc == CG_ENOMEM ? CG_ENOMEM : CG_EINVAL;
    }
    *out = in;
    return CG_OK;
}

void cg_instance_free(struct cg_instance *in)
{
    if (!in)
        return;
    if (in->inst)
        in->plugin->destroy(in->inst);
    cg_free(in);
}
