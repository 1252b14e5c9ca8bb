/*
 * One message through the pipeline: size check, vendor, decode, device id
 * and time, normalize, rules. Everything a message needs lives in the
 * engine's arena, which is reset per message, so a steady stream of
 * ordinary messages does not allocate.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define ARENA_CHUNK (64 * 1024)

int cg_engine_new(const struct cg_config *cfg, const struct cg_plugin_reg *reg,
                  struct cg_engine **out, struct cg_diags *d)
{
    *out = NULL;
    struct cg_engine *e = cg_calloc(1, sizeof(*e));
    if (!e)
        return CG_ENOMEM;
    e->cfg = cfg;
    int rc = engine__build_vendors(e, reg, d);
    if (rc != CG_ENOMEM) {
        int rrc = engine__build_rules(e, reg, d);
        rc = rc == CG_OK ? rrc : rc;
    }
    if (rc == CG_OK) {
        e->arena = cg_arena_new(ARENA_CHUNK);
        size_t n = cg_ruleset_count(e->rules);
        e->matched = cg_calloc(n ? n : 1, sizeof(*e->matched));
        if (!e->arena || !e->matched)
            rc = CG_ENOMEM;
    }
    if (rc != CG_OK) {
        cg_engine_free(e);
        return rc;
    }
    *out = e;
    return CG_OK;
}

void cg_engine_free(struct cg_engine *e)
{
    if (!e)
        return;
    engine__free_rules(e);
    engine__free_vendors(e);
    cg_arena_free(e->arena);
    cg_free(e->matched);
    cg_free(e->levels);
    cg_buf_free(&e->json);
    cg_buf_free(&e->topic);
    cg_buf_free(&e->text);
    cg_free(e);
}

const struct cg_ruleset *cg_engine_rules(const struct cg_engine *e)
{
    return e->rules;
}

const struct cg_config *cg_engine_config(const struct cg_engine *e)
{
    return e->cfg;
}

struct vendor_hit {
    uint32_t filter;
    bool found;
    const struct filter_rt *filters;
};

/* The first vendor in the file wins, and within it the first filter. */
static int keep_first(void *user, uint32_t filter)
{
    struct vendor_hit *h = user;
    if (!h->found || filter < h->filter)
        h->filter = filter;
    h->found = true;
    return 0;
}

/* Splits the topic into levels for topic[N]. The levels point into an
 * arena copy with every '/' turned into NUL, so each is a C string. */
static int split_levels(struct cg_engine *e, const struct cg_message *m)
{
    size_t n = 1;
    for (size_t i = 0; i < m->topic_len; i++)
        n += m->topic[i] == '/';
    if (n > e->cap_levels) {
        struct cg_strref *p = cg_realloc(e->levels, n * sizeof(*p));
        if (!p)
            return CG_ENOMEM;
        e->levels = p;
        e->cap_levels = n;
    }
    char *copy = cg_arena_strndup(e->arena, m->topic, m->topic_len);
    if (!copy)
        return CG_ENOMEM;
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= m->topic_len; i++) {
        if (i < m->topic_len && copy[i] != '/')
            continue;
        copy[i] = '\0';
        e->levels[k].p = copy + start;
        e->levels[k++].len = (uint32_t)(i - start);
        start = i + 1;
    }
    return (int)k;
}

static int decode(struct cg_engine *e, const struct msg_ctx *mc,
                  struct cg_value *root, char *detail, size_t size)
{
    struct decoded out = {.arena = e->arena};
    out.rec.detail = detail;
    out.rec.detail_size = size;
    const struct cg_instance *dec = mc->vendor->decoder;
    struct cg_input in = {mc->m->payload, mc->m->len, mc->m->topic};
    detail[0] = '\0';
    int rc = dec->plugin->decode(dec->inst, &in, &out.rec);
    if (rc == CG_OK && out.rec.root.type != CG_OBJ) {
        snprintf(detail, size, "the decoder did not produce an object");
        rc = CG_EDECODE;
    }
    if (rc == CG_OK)
        *root = out.rec.root;
    else if (!detail[0])
        snprintf(detail, size, "%s", cg_strerror(rc));
    return rc;
}

/* The device id as text: the matching filter's '+' level by default,
 * else the template's parts concatenated. Empty means no device. */
static const char *device_id(struct cg_engine *e, struct msg_ctx *mc,
                             const struct filter_rt *f)
{
    const struct vendor_rt *v = mc->vendor;
    if (!v->conf->device.text && f->plus_level >= 0 &&
        (uint32_t)f->plus_level < mc->eval.n_levels)
        return e->levels[f->plus_level].p;
    cg_buf_reset(&e->text);
    for (size_t i = 0; i < v->n_device; i++) {
        if (v->device[i].text) {
            cg_buf_puts(&e->text, v->device[i].text);
            continue;
        }
        struct cg_value val;
        cg_expr_eval(v->device[i].expr, &mc->eval, &val);
        cg_value_format(&val, &e->text);
    }
    if (e->text.oom)
        return NULL;
    return cg_arena_strndup(e->arena, e->text.data ? e->text.data : "",
                            e->text.len);
}

/* Device time: a number (>= 1e11 means epoch ms) or RFC 3339 text; what
 * does not read as a time falls back to the time received. */
static double device_time(const struct msg_ctx *mc)
{
    const struct vendor_rt *v = mc->vendor;
    if (!v->time)
        return mc->m->received;
    struct cg_value t;
    cg_expr_eval(v->time, &mc->eval, &t);
    double s;
    if (cg_value_is_number(&t)) {
        s = cg_value_to_double(&t);
        s = s >= 1e11 ? s / 1000.0 : s;
        return isfinite(s) && s >= 0 && s < 253402300800.0 ? s
                                                           : mc->m->received;
    }
    if (t.type == CG_STR && cg_time_parse(t.as.str, t.len, &s) == CG_OK &&
        s >= 0 && s < 253402300800.0)
        return s;
    return mc->m->received;
}

/* With `fields`, the record holds exactly the listed fields. */
static int normalize(struct cg_engine *e, struct msg_ctx *mc)
{
    const struct vendor_rt *v = mc->vendor;
    size_t n = v->conf->n_fields;
    if (!v->conf->has_fields)
        return CG_OK;
    struct cg_member *m = cg_arena_alloc(e->arena, (n ? n : 1) * sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        m[i].key = v->conf->fields[i].name.s;
        m[i].key_len = (uint32_t)strlen(m[i].key);
        cg_expr_eval(v->fields[i], &mc->eval, &m[i].value);
    }
    mc->record.type = CG_OBJ;
    mc->record.len = (uint32_t)n;
    mc->record.as.members = m;
    return CG_OK;
}

static int fire(struct cg_engine *e, struct msg_ctx *mc,
                const struct cg_rule *r, const struct cg_emit *emit)
{
    struct cg_value v;
    mc->eval.domain = r->domain;
    if (r->when) {
        cg_expr_eval(r->when, &mc->eval, &v);
        if (!cg_value_is_true(&v))
            return 0;
    }
    struct fired f = {r, &e->rule_rt[r->index], r->severity_const, mc->record};
    if (r->severity) {
        cg_expr_eval(r->severity, &mc->eval, &v);
        f.severity = cg_severity_parse(&v);
    }
    if (r->has_data) {
        struct cg_member *m =
            cg_arena_alloc(e->arena, (r->n_data ? r->n_data : 1) * sizeof(*m));
        if (!m)
            return CG_ENOMEM;
        for (size_t i = 0; i < r->n_data; i++) {
            m[i].key = r->data_names[i];
            m[i].key_len = (uint32_t)strlen(m[i].key);
            cg_expr_eval(r->data[i], &mc->eval, &m[i].value);
        }
        f.data.type = CG_OBJ;
        f.data.len = (uint32_t)r->n_data;
        f.data.as.members = m;
    }
    return route__event(e, mc, &f, emit);
}

static int run_rules(struct cg_engine *e, struct msg_ctx *mc,
                     const struct cg_emit *emit)
{
    uint32_t vi = (uint32_t)(mc->vendor - e->vendors);
    size_t n = cg_ruleset_match(e->rules, vi, mc->m->topic, mc->m->topic_len,
                                e->matched);
    int total = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = fire(e, mc, cg_ruleset_rule(e->rules, e->matched[i]), emit);
        if (rc < 0)
            return rc;
        total += rc;
    }
    return total;
}

static uint64_t message_hash(const struct cg_engine *e,
                             const struct cg_message *m)
{
    const char *id = e->cfg->gateway.id;
    uint64_t h = cg_hash64(CG_HASH_SEED, id, strlen(id) + 1);
    h = cg_hash64(h, m->topic, m->topic_len);
    h = cg_hash64(h, "", 1);
    return cg_hash64(h, m->payload, m->len);
}

/* Finds the vendor and sets up what every expression of it sees. */
static const struct filter_rt *find_vendor(struct cg_engine *e,
                                           struct msg_ctx *mc)
{
    struct vendor_hit hit = {0, false, e->filters};
    cg_topic_trie_match(e->vendor_trie, mc->m->topic, mc->m->topic_len,
                        keep_first, &hit);
    if (!hit.found)
        return NULL;
    const struct filter_rt *f = &e->filters[hit.filter];
    mc->vendor = &e->vendors[f->vendor];
    atomic_fetch_add_explicit(&e->vendors[f->vendor].received, 1,
                              memory_order_relaxed);
    mc->eval.vendor = mc->vendor->conf->name.s;
    mc->eval.network = mc->vendor->network;
    return f;
}

static int dead(struct cg_engine *e, const struct cg_message *m,
                const char *reason, const char *detail,
                const struct cg_emit *emit)
{
    dead__letter(e, m, reason, detail, emit);
    return 0;
}

static int prepare(struct cg_engine *e, struct msg_ctx *mc,
                   const struct cg_emit *emit)
{
    const struct cg_message *m = mc->m;
    char detail[256];
    const struct filter_rt *f = find_vendor(e, mc);
    if (!f)
        return dead(e, m, "unknown_vendor",
                    "no vendor's topic filter matches the topic", emit);
    int levels = split_levels(e, m);
    if (levels < 0)
        return levels;
    mc->eval.levels = e->levels;
    mc->eval.n_levels = (uint32_t)levels;
    int rc = decode(e, mc, &mc->record, detail, sizeof(detail));
    if (rc == CG_ENOMEM)
        return rc;
    if (rc != CG_OK)
        return dead(e, m, "decode_error", detail, emit);
    mc->eval.record = &mc->record;
    if (!(mc->device = device_id(e, mc, f)))
        return CG_ENOMEM;
    if (!mc->device[0])
        return dead(e, m, "no_device", "the device id came out empty", emit);
    mc->eval.device = mc->device;
    mc->time = device_time(mc);
    return normalize(e, mc) == CG_OK ? 1 : CG_ENOMEM;
}

int cg_engine_process(struct cg_engine *e, const struct cg_message *m,
                      const struct cg_emit *emit)
{
    cg_arena_reset(e->arena);
    struct msg_ctx mc = {.m = m};
    if (m->len > e->cfg->gateway.max_payload_bytes) {
        char detail[128];
        snprintf(detail, sizeof(detail),
                 "payload of %zu bytes exceeds max_payload_bytes (%llu)",
                 m->len, (unsigned long long)e->cfg->gateway.max_payload_bytes);
        return dead(e, m, "too_large", detail, emit);
    }
    mc.eval.topic = m->topic;
    mc.eval.now = m->received;
    mc.eval.arena = e->arena;
    int rc = prepare(e, &mc, emit);
    if (rc <= 0)
        return rc;
    mc.hash = message_hash(e, m);
    cg_time_format(m->received, mc.received);
    cg_time_format(mc.time, mc.time_text);
    return run_rules(e, &mc, emit);
}

size_t cg_engine_vendor_stats(const struct cg_engine *e, size_t i,
                              const char **name, uint64_t *received)
{
    if (i >= e->n_vendors)
        return e->n_vendors;
    *name = e->vendors[i].conf->name.s;
    *received =
        atomic_load_explicit(&e->vendors[i].received, memory_order_relaxed);
    return e->n_vendors;
}

size_t cg_engine_rule_stats(const struct cg_engine *e, size_t i,
                            const char **name, uint64_t *events)
{
    size_t n = cg_ruleset_count(e->rules);
    if (i >= n)
        return n;
    *name = cg_ruleset_rule(e->rules, i)->full_name;
    *events = atomic_load_explicit(&e->rule_rt[i].events, memory_order_relaxed);
    return n;
}

/* Counters survive a reload: carried over by vendor and rule name. */
void cg_engine_inherit_stats(struct cg_engine *e, const struct cg_engine *old)
{
    for (size_t i = 0; i < e->n_vendors; i++)
        for (size_t j = 0; j < old->n_vendors; j++)
            if (!strcmp(e->vendors[i].conf->name.s,
                        old->vendors[j].conf->name.s))
                atomic_store(&e->vendors[i].received,
                             atomic_load(&old->vendors[j].received));
    size_t n = cg_ruleset_count(e->rules), m = cg_ruleset_count(old->rules);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            if (!strcmp(cg_ruleset_rule(e->rules, i)->full_name,
                        cg_ruleset_rule(old->rules, j)->full_name))
                atomic_store(&e->rule_rt[i].events,
                             atomic_load(&old->rule_rt[j].events));
}
