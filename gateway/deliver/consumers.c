/*
 * Consumers at run time: each gets an outbox whose sink instance is built
 * from its config through the plugin descriptor (built-in or loaded). A
 * reload keeps a consumer's outbox, and what is queued in it, when the
 * consumer's delivery settings did not change.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "mqtt/mqtt.h"

/* A hash of everything the outbox and sink depend on: the sink and its
 * resolved options, the QoS, batching, spool bound and policy, and the
 * consumer's own broker. Routing settings (role, grants, the topic
 * template) live in the pipeline and may change freely. */
static uint64_t signature(const struct cg_consumer_conf *c,
                          const struct cg_sink_conf *s)
{
    struct cg_buf b = {0};
    cg_buf_printf(&b, "%s|%d|%d|%d|%llu|%d", s->plugin->name, s->qos,
                  s->batch_max, s->batch_wait_ms,
                  (unsigned long long)c->spool_max_bytes, c->spool_full);
    cg_json_put_value(&b, &s->options);
    if (c->broker)
        cg_buf_printf(&b, "|%s|%s|%s|%s|%d", c->broker->uri,
                      c->broker->client_id,
                      c->broker->username ? c->broker->username : "",
                      c->broker->password ? c->broker->password : "",
                      c->broker->keepalive);
    uint64_t h = cg_hash64(CG_HASH_SEED, b.data ? b.data : "", b.len);
    cg_buf_free(&b);
    return h;
}

/* A batch refused for good becomes one "rejected" dead letter. Runs on
 * the consumer's delivery thread: it reads nothing the loop thread may
 * free, only what the stage owns. */
static void reject_batch(void *user, const char *consumer,
                         const struct cg_batch *b,
                         const struct cg_delivery_result *res)
{
    struct cg_deliver *d = user;
    struct cg_buf j = {0};
    char received[32];
    cg_time_format(cg_time_now(), received);
    cg_buf_puts(&j, "{\"reason\":\"rejected\",\"consumer\":");
    cg_json_put_string(&j, consumer, strlen(consumer));
    cg_buf_printf(&j, ",\"status\":%d,\"detail\":", res->status);
    cg_json_put_string(&j, res->detail,
                       strnlen(res->detail, sizeof(res->detail)));
    cg_buf_puts(&j, ",\"events\":[");
    for (size_t i = 0; i < b->n; i++)
        cg_buf_printf(&j, "%s\"%s\"", i ? "," : "", b->events[i].id);
    cg_buf_printf(&j, "],\"received\":\"%s\"}", received);
    cg_log(CG_LOG_WARN,
           "consumer %s refused %zu events for good (status %d: %s)", consumer,
           b->n, res->status, res->detail);
    if (j.oom || deliver__dead_letter(d, CG_DEAD_REJECTED, j.data, j.len))
        cg_log(CG_LOG_ERROR,
               "consumer %s: cannot queue the rejected dead "
               "letter",
               consumer);
    cg_buf_free(&j);
}

static int own_connection(const struct cg_consumer_conf *c,
                          struct cg_mqtt **out, struct cg_diags *d)
{
    char err[160] = "", name[300];
    snprintf(name, sizeof(name), "consumer %s's broker", c->name.s);
    struct cg_mqtt_callbacks cb = {.name = name};
    int rc = cg_mqtt_new(c->broker, NULL, NULL, &cb, out, err, sizeof(err));
    if (rc == CG_OK)
        rc = cg_mqtt_start(*out);
    if (rc != CG_OK)
        cg_diags_add(d, c->pos.file, c->pos.line, c->pos.col, "consumer %s: %s",
                     c->name.s, err[0] ? err : cg_strerror(rc));
    return rc;
}

static void consumer_free(struct consumer *c, int drain_ms)
{
    if (c->box && drain_ms > 0 && !outbox__drain(c->box, drain_ms))
        cg_log(CG_LOG_WARN,
               "consumer %s: undelivered events stay in its "
               "spool",
               c->name);
    outbox__free(c->box);
    if (c->own_mqtt)
        cg_mqtt_stop(c->own_mqtt, 1000);
    cg_mqtt_free(c->own_mqtt);
    cg_plugins_free(c->reg);
    cg_free(c->name);
    memset(c, 0, sizeof(*c));
}

static int new_consumer(struct cg_deliver *dl, const struct cg_consumer_conf *c,
                        const struct cg_sink_conf *s, struct cg_plugin_reg *reg,
                        struct consumer *out, struct cg_diags *d)
{
    memset(out, 0, sizeof(*out));
    if (c->broker && own_connection(c, &out->own_mqtt, d) != CG_OK)
        return CG_EINVAL;
    struct cg_mqtt *mqtt = c->broker ? out->own_mqtt : dl->out;
    struct cg_instance *sink;
    int rc = cg_instance_new(s->plugin, c->name.s, &s->options, &c->pos,
                             c->sink_options, c->n_sink_options,
                             s->mqtt ? mqtt : NULL, &sink, d);
    if (rc != CG_OK)
        return rc;
    char folder[NAME_MAX + 1]; /* config checked that the name fits */
    cg_consumer_folder(c->name.s, folder, sizeof(folder));
    struct outbox_conf oc = {
        c->name.s,     folder,           dl->spool_dir,
        s->batch_max,  s->batch_wait_ms, c->spool_max_bytes,
        c->spool_full, reject_batch,     dl};
    sink->retain = s->retain;
    if ((rc = outbox__new(&oc, sink, &out->box)) != CG_OK)
        return rc;
    out->name = cg_strdup(c->name.s);
    out->signature = signature(c, s);
    out->reg = cg_plugins_ref(reg);
    out->direct =
        dl->direct_ok && s->mqtt && !c->broker && s->qos == 0 && !s->retain;
    return out->name ? CG_OK : CG_ENOMEM;
}

/* Copies the current consumer of that name and signature into the
 * prepared set and marks it kept (commit hands it over; until then the
 * pipeline thread goes on using it), returning where it is, or SIZE_MAX. */
static size_t take_existing(struct cg_deliver *dl,
                            const struct cg_consumer_conf *c,
                            const struct cg_sink_conf *s, struct consumer *out)
{
    uint64_t sig = signature(c, s);
    for (size_t i = 0; i < dl->cur.n; i++) {
        struct consumer *old = &dl->cur.v[i];
        if (old->box && !old->kept && !strcmp(old->name, c->name.s) &&
            old->signature == sig) {
            *out = *old;
            old->kept = true; /* the pipeline still uses it until commit */
            return i;
        }
    }
    return SIZE_MAX;
}

/* Kept consumers go back where they were, new ones are freed. */
static void undo_prepare(struct cg_deliver *dl)
{
    for (size_t i = 0; i < dl->pending.n; i++) {
        struct consumer *c = &dl->pending.v[i];
        if (c->from != SIZE_MAX)
            dl->cur.v[c->from].kept = false;
        else
            consumer_free(c, 0);
    }
    CG_FREE(dl->pending.v);
    dl->pending.n = 0;
}

int cg_deliver_prepare(struct cg_deliver *dl, const struct cg_config *cfg,
                       const struct cg_pipeline *p, struct cg_plugin_reg *reg,
                       struct cg_diags *d)
{
    size_t n = cfg->n_consumers;
    cg_deliver_abort(dl);
    dl->pending.v = cg_calloc(n ? n : 1, sizeof(*dl->pending.v));
    if (!dl->pending.v)
        return CG_ENOMEM;
    int rc = CG_OK;
    for (size_t i = 0; i < n && rc == CG_OK; i++) {
        const struct cg_consumer_conf *c = &cfg->consumers[i];
        const struct cg_sink_conf *s = cg_pipeline_sink(p, i);
        struct consumer *next = &dl->pending.v[i];
        size_t from = take_existing(dl, c, s, next);
        if (from == SIZE_MAX)
            rc = new_consumer(dl, c, s, reg, next, d);
        next->from = from;
        dl->pending.n = i + 1;
    }
    if (rc != CG_OK)
        undo_prepare(dl);
    return rc;
}

void cg_deliver_abort(struct cg_deliver *dl)
{
    if (dl->pending.v)
        undo_prepare(dl);
}

void cg_deliver_commit(struct cg_deliver *dl)
{
    cg_deliver_retire(dl, 0); /* a commit without retire: nothing lost */
    for (size_t i = 0; i < dl->cur.n; i++)
        if (dl->cur.v[i].kept) /* it lives on in the prepared set */
            memset(&dl->cur.v[i], 0, sizeof(dl->cur.v[i]));
    dl->retired = dl->cur;
    dl->cur = dl->pending;
    dl->pending = (struct consumer_set){NULL, 0};
}

void cg_deliver_retire(struct cg_deliver *dl, int drain_ms)
{
    for (size_t i = 0; i < dl->retired.n; i++)
        if (dl->retired.v[i].box)
            consumer_free(&dl->retired.v[i], drain_ms);
    CG_FREE(dl->retired.v);
    dl->retired.n = 0;
}

void deliver__consumers_free(struct cg_deliver *dl)
{
    cg_deliver_abort(dl);
    cg_deliver_retire(dl, 0);
    dl->retired = dl->cur;
    dl->cur = (struct consumer_set){NULL, 0};
    cg_deliver_retire(dl, 0);
}
