/*
 * Consumers at run time: each gets an outbox whose sink instance is built
 * from its config through the plugin descriptor (built-in or loaded). A
 * reload keeps a consumer's outbox, and what is queued in it, when the
 * consumer's delivery settings did not change.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "run.h"

/* A hash of everything the outbox and sink depend on. Routing settings
 * (role, grants, topic template) live in the engine and may change freely. */
static uint64_t signature(const struct cg_consumer_conf *c)
{
    struct cg_buf b = {0};
    cg_buf_printf(
        &b, "%s|%d|%s|%s|%d|%d|%d|%d|%d|%llu|%d|%d|%llu|%d", c->sink.s, c->qos,
        c->url ? c->url : "", c->path ? c->path : "", c->batch_max_events,
        c->batch_max_wait_ms, c->timeout_ms, c->connect_timeout_ms, c->fsync,
        (unsigned long long)c->spool_max_bytes, c->spool_full, c->rotate_keep,
        (unsigned long long)c->rotate_max_bytes, c->role);
    for (size_t i = 0; i < c->n_headers; i++)
        cg_buf_printf(&b, "|%s=%s", c->headers[i].name, c->headers[i].value);
    if (c->broker)
        cg_buf_printf(&b, "|%s|%s|%s", c->broker->uri, c->broker->client_id,
                      c->broker->username ? c->broker->username : "");
    if (c->options)
        cg_json_put_value(&b, c->options);
    uint64_t h = cg_hash64(CG_HASH_SEED, b.data ? b.data : "", b.len);
    cg_buf_free(&b);
    return h;
}

static void put_member(struct cg_member *m, const char *key, struct cg_value v)
{
    m->key = key;
    m->key_len = (uint32_t)strlen(key);
    m->value = v;
}

static struct cg_value str_value(const char *s)
{
    return cg_value_str(s, strlen(s));
}

static struct cg_value headers_value(const struct cg_consumer_conf *c,
                                     struct cg_member *m)
{
    for (size_t i = 0; i < c->n_headers; i++)
        put_member(&m[i], c->headers[i].name, str_value(c->headers[i].value));
    struct cg_value v = {.type = CG_OBJ, .len = (uint32_t)c->n_headers};
    v.as.members = m;
    return v;
}

static const char *const fsync_names[] = {"interval", "every_event", "never"};

/* The options a built-in sink gets, named as its option table says. */
static struct cg_value sink_options(const struct cg_consumer_conf *c,
                                    struct cg_member *m, struct cg_member *h)
{
    struct cg_value v = {.type = CG_OBJ};
    uint32_t n = 0;
    if (!strcmp(c->sink.s, "http")) {
        put_member(&m[n++], "url", str_value(c->url));
        put_member(&m[n++], "headers", headers_value(c, h));
        put_member(&m[n++], "timeout_ms", cg_value_int(c->timeout_ms));
        put_member(&m[n++], "connect_timeout_ms",
                   cg_value_int(c->connect_timeout_ms));
    } else if (!strcmp(c->sink.s, "file")) {
        put_member(&m[n++], "path", str_value(c->path));
        put_member(&m[n++], "fsync", str_value(fsync_names[c->fsync]));
        put_member(&m[n++], "rotate_max_bytes",
                   cg_value_int((int64_t)c->rotate_max_bytes));
        put_member(&m[n++], "rotate_keep", cg_value_int(c->rotate_keep));
    } else if (c->options) {
        return *c->options;
    }
    v.len = n;
    v.as.members = m;
    return v;
}

static const char *sink_name(const struct cg_consumer_conf *c)
{
    return strncmp(c->sink.s, "plugin:", 7) ? c->sink.s : c->sink.s + 7;
}

/* A batch refused for good becomes one "rejected" dead letter. */
static void reject_batch(void *user, const char *consumer,
                         const struct cg_batch *b,
                         const struct cg_delivery_result *res)
{
    struct gw *g = user;
    struct cg_buf j = {0};
    char received[32], id[17];
    cg_time_format(cg_time_now(), received);
    cg_buf_puts(&j, "{\"reason\":\"rejected\",\"consumer\":");
    cg_json_put_string(&j, consumer, strlen(consumer));
    cg_buf_printf(&j, ",\"status\":%d,\"detail\":", res->status);
    cg_json_put_string(&j, res->detail,
                       strnlen(res->detail, sizeof(res->detail)));
    cg_buf_puts(&j, ",\"events\":[");
    uint64_t h = cg_hash64(CG_HASH_SEED, consumer, strlen(consumer));
    for (size_t i = 0; i < b->n; i++) {
        cg_buf_printf(&j, "%s\"%s\"", i ? "," : "", b->events[i].id);
        h = cg_hash64(h, b->events[i].id, 16);
    }
    cg_buf_printf(&j, "],\"received\":\"%s\"}", received);
    cg_hex64(cg_hash_mix(h), id);
    cg_log(CG_LOG_WARN,
           "consumer %s refused %zu events for good (status %d: "
           "%s)",
           consumer, b->n, res->status, res->detail);
    if (!j.oom && g->dead) {
        struct cg_event ev = {id,
                              g->gen.cfg->gateway.dead_letter_topic,
                              j.data,
                              j.len,
                              CG_SEV_WARNING,
                              1};
        outbox__push(g->dead, &ev);
    }
    cg_buf_free(&j);
}

static int own_connection(const struct cg_consumer_conf *c,
                          struct cg_mqtt **out, struct cg_diags *d)
{
    struct cg_mqtt_callbacks cb = {0};
    char err[160] = "";
    int rc = cg_mqtt_new(c->broker, NULL, NULL, &cb, out, err, sizeof(err));
    if (rc == CG_OK)
        rc = cg_mqtt_start(*out);
    if (rc != CG_OK)
        cg_diags_add(d, c->pos.file, c->pos.line, c->pos.col, "consumer %s: %s",
                     c->name.s, err[0] ? err : cg_strerror(rc));
    return rc;
}

static int new_consumer(struct gw *g, const struct cg_consumer_conf *c,
                        struct cg_plugin_reg *reg, struct gw_consumer *out,
                        struct cg_diags *d)
{
    const struct cg_plugin *p = cg_plugins_find(reg, "sink", sink_name(c));
    if (!p)
        return CG_EINVAL; /* the engine reported it already */
    memset(out, 0, sizeof(*out));
    struct cg_mqtt *mqtt = NULL;
    if (c->broker && own_connection(c, &out->own_mqtt, d) != CG_OK)
        return CG_EINVAL;
    mqtt = c->broker ? out->own_mqtt : g->out;
    struct cg_member m[8];
    struct cg_member *h = cg_calloc(c->n_headers + 1, sizeof(*h));
    if (!h)
        return CG_ENOMEM;
    struct cg_value opts = sink_options(c, m, h);
    struct cg_instance *sink;
    int rc = cg_instance_new(p, c->name.s, &opts, &c->pos, mqtt, &sink, d);
    cg_free(h); /* create() copies what it keeps */
    if (rc != CG_OK)
        return rc;
    bool http = !strcmp(c->sink.s, "http");
    struct outbox_conf oc = {c->name.s,
                             g->gen.cfg->gateway.spool_dir,
                             http ? c->batch_max_events : 100,
                             http ? c->batch_max_wait_ms : 0,
                             c->spool_max_bytes,
                             c->spool_full,
                             reject_batch,
                             g};
    if ((rc = outbox__new(&oc, sink, &out->box)) != CG_OK)
        return rc;
    out->name = cg_strdup(c->name.s);
    out->signature = signature(c);
    out->reg = cg_plugins_ref(reg);
    return out->name ? CG_OK : CG_ENOMEM;
}

static void consumer_free(struct gw_consumer *c, int drain_ms)
{
    if (c->box && drain_ms > 0 && !outbox__drain(c->box, drain_ms))
        cg_log(CG_LOG_WARN, "consumer %s: undelivered events dropped", c->name);
    outbox__free(c->box);
    if (c->own_mqtt)
        cg_mqtt_stop(c->own_mqtt, 1000);
    cg_mqtt_free(c->own_mqtt);
    cg_plugins_free(c->reg);
    cg_free(c->name);
    memset(c, 0, sizeof(*c));
}

/* Takes the existing consumer of that name and signature out of g->cons
 * and returns where it was, or SIZE_MAX. */
static size_t take_existing(struct gw *g, const struct cg_consumer_conf *c,
                            struct gw_consumer *out)
{
    uint64_t sig = signature(c);
    for (size_t i = 0; i < g->n_cons; i++) {
        struct gw_consumer *old = &g->cons[i];
        if (old->box && !strcmp(old->name, c->name.s) &&
            old->signature == sig) {
            *out = *old;
            memset(old, 0, sizeof(*old));
            return i;
        }
    }
    return SIZE_MAX;
}

/* Undoes a build that failed half-way: kept consumers go back where they
 * were, new ones are freed. */
static void undo_build(struct gw *g, struct gw_consumer *next,
                       const size_t *from, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (from[i] != SIZE_MAX)
            g->cons[from[i]] = next[i];
        else
            consumer_free(&next[i], 0);
    }
}

int gw__build_consumers(struct gw *g, struct gw_gen *gen, struct cg_diags *d)
{
    size_t n = gen->cfg->n_consumers;
    struct gw_consumer *next = cg_calloc(n ? n : 1, sizeof(*next));
    size_t *from = cg_malloc((n ? n : 1) * sizeof(*from));
    gen->boxes = cg_calloc(n ? n : 1, sizeof(*gen->boxes));
    gen->direct = cg_calloc(n ? n : 1, sizeof(*gen->direct));
    int rc = next && from && gen->boxes && gen->direct ? CG_OK : CG_ENOMEM;
    for (size_t i = 0; from && i < n; i++)
        from[i] = SIZE_MAX;
    for (size_t i = 0; i < n && rc == CG_OK; i++) {
        const struct cg_consumer_conf *c = &gen->cfg->consumers[i];
        from[i] = take_existing(g, c, &next[i]);
        if (from[i] == SIZE_MAX)
            rc = new_consumer(g, c, gen->reg, &next[i], d);
        gen->boxes[i] = next[i].box;
        gen->direct[i] =
            !strcmp(c->sink.s, "mqtt") && !c->broker && c->qos == 0;
    }
    if (rc != CG_OK && next && from)
        undo_build(g, next, from, n);
    cg_free(from);
    if (rc != CG_OK) {
        cg_free(next);
        return rc;
    }
    g->retired = g->cons;
    g->n_retired = g->n_cons;
    g->cons = next;
    g->n_cons = n;
    return CG_OK;
}

void gw__retire_consumers(struct gw *g, int drain_ms)
{
    for (size_t i = 0; i < g->n_retired; i++)
        if (g->retired[i].box)
            consumer_free(&g->retired[i], drain_ms);
    CG_FREE(g->retired);
    g->n_retired = 0;
}

void gw__gen_free(struct gw_gen *gen)
{
    cg_engine_free(gen->engine);
    cg_plugins_free(gen->reg);
    cg_config_free(gen->cfg);
    for (size_t i = 0; i < gen->n_filters; i++)
        cg_free(gen->filters[i]);
    cg_free(gen->filters);
    cg_free(gen->boxes);
    cg_free(gen->direct);
    memset(gen, 0, sizeof(*gen));
}
