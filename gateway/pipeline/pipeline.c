/*
 * The pipeline (pipeline.h): built from a config, then one message at a
 * time through ingest, decode, normalize, rules and route. Everything a
 * message needs lives in the pipeline's arena, which is reset per
 * message, so a steady stream of ordinary messages does not allocate.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define ARENA_CHUNK (64 * 1024)

int cg_pipeline_new(const struct cg_config *cfg,
                    const struct cg_plugin_reg *reg, struct cg_pipeline **out,
                    struct cg_diags *d)
{
    *out = NULL;
    struct cg_pipeline *p = cg_calloc(1, sizeof(*p));
    if (!p)
        return CG_ENOMEM;
    p->cfg = cfg;
    int rc = build__vendors(p, reg, d);
    if (rc != CG_ENOMEM) { /* report the rules' problems too */
        int rrc = build__rules(p, reg, d);
        rc = rc == CG_OK ? rrc : rc;
    }
    if (rc != CG_ENOMEM) { /* and those of their stateful keys */
        int src = stateful__build(p, d);
        rc = rc == CG_OK ? src : rc;
    }
    if (rc != CG_ENOMEM && p->rule_rt) { /* and their formats' settings */
        int frc = build__formats(p, d);
        rc = rc == CG_OK ? frc : rc;
    }
    if (rc == CG_OK) {
        p->arena = cg_arena_new(ARENA_CHUNK);
        size_t n = cg_ruleset_count(p->rules);
        p->matched = cg_calloc(n ? n : 1, sizeof(*p->matched));
        if (!p->arena || !p->matched)
            rc = CG_ENOMEM;
    }
    if (rc != CG_OK) {
        cg_pipeline_free(p);
        return rc;
    }
    *out = p;
    return CG_OK;
}

void cg_pipeline_free(struct cg_pipeline *p)
{
    if (!p)
        return;
    stateful__free(p);
    build__free_formats(p);
    build__free_rules(p);
    build__free_vendors(p);
    cg_arena_free(p->arena);
    cg_arena_free(p->conf_arena);
    cg_free(p->matched);
    cg_free(p->levels);
    cg_buf_free(&p->json);
    cg_buf_free(&p->topic);
    cg_buf_free(&p->text);
    cg_buf_free(&p->envelope);
    cg_free(p);
}

const struct cg_ruleset *cg_pipeline_rules(const struct cg_pipeline *p)
{
    return p->rules;
}

const struct cg_config *cg_pipeline_config(const struct cg_pipeline *p)
{
    return p->cfg;
}

const struct cg_sink_conf *cg_pipeline_sink(const struct cg_pipeline *p,
                                            size_t consumer)
{
    return consumer < p->n_consumers ? &p->consumers[consumer].sink : NULL;
}

const char *cg_pipeline_target(const struct cg_pipeline *p, size_t consumer)
{
    if (consumer >= p->n_consumers)
        return NULL;
    const struct consumer_rt *c = &p->consumers[consumer];
    return c->target ? c->target : c->sink.topic;
}

/* A dead letter ends the message: 0 deliveries, or the callback's error. */
static int dead(struct cg_pipeline *p, const struct cg_message *m, int reason,
                const char *detail, const struct cg_emit *emit)
{
    int rc = dead__letter(p, m, reason, NULL, detail, emit);
    return rc < 0 ? rc : 0;
}

/* Ingest, decode and normalize. Returns 1 when the message goes on to the
 * rules, 0 when it was dead-lettered, or a negative CG_E*. */
static int prepare(struct cg_pipeline *p, struct msg_ctx *mc,
                   const struct cg_emit *emit)
{
    const struct cg_message *m = mc->m;
    char detail[256];
    if (!ingest__vendor(p, mc))
        return dead(p, m, CG_DEAD_UNKNOWN_VENDOR,
                    "no vendor's topic filter matches the topic", emit);
    if (ingest__levels(p, mc) != CG_OK)
        return CG_ENOMEM;
    int rc = decode__record(p, mc, detail, sizeof(detail));
    if (rc == CG_ENOMEM)
        return rc;
    if (rc != CG_OK)
        return dead(p, m, CG_DEAD_DECODE_ERROR, detail, emit);
    mc->eval.record = &mc->record;
    if (!(mc->device = decode__device(p, mc)))
        return CG_ENOMEM;
    if (!mc->device[0])
        return dead(p, m, CG_DEAD_NO_DEVICE, "the device id came out empty",
                    emit);
    mc->eval.device = mc->device;
    mc->time = decode__time(mc);
    mc->eval.time = mc->time;
    return normalize__record(p, mc) == CG_OK ? 1 : CG_ENOMEM;
}

int cg_pipeline_process(struct cg_pipeline *p, const struct cg_message *m,
                        const struct cg_emit *emit)
{
    cg_arena_reset(p->arena);
    p->message_seq++;
    struct msg_ctx mc = {.m = m};
    if (m->len > p->cfg->gateway.max_payload_bytes) {
        char detail[128];
        snprintf(detail, sizeof(detail),
                 "payload of %zu bytes exceeds max_payload_bytes (%llu)",
                 m->len, (unsigned long long)p->cfg->gateway.max_payload_bytes);
        return dead(p, m, CG_DEAD_TOO_LARGE, detail, emit);
    }
    mc.eval.topic = m->topic;
    mc.eval.now = m->received;
    mc.eval.time = m->received; /* until the device time is known */
    mc.eval.arena = p->arena;
    int rc = prepare(p, &mc, emit);
    if (rc <= 0)
        return rc;
    mc.hash = ingest__hash(p, m);
    cg_time_format(m->received, mc.received);
    cg_time_format(mc.time, mc.time_text);
    return match__rules(p, &mc, emit);
}

size_t cg_pipeline_vendor_stats(const struct cg_pipeline *p, size_t i,
                                const char **name, uint64_t *received)
{
    if (i >= p->n_vendors)
        return p->n_vendors;
    *name = p->vendors[i].conf->name.s;
    *received =
        atomic_load_explicit(&p->vendors[i].received, memory_order_relaxed);
    return p->n_vendors;
}

size_t cg_pipeline_rule_stats(const struct cg_pipeline *p, size_t i,
                              const char **name, uint64_t *events)
{
    size_t n = cg_ruleset_count(p->rules);
    if (i >= n)
        return n;
    *name = cg_ruleset_rule(p->rules, i)->full_name;
    *events = atomic_load_explicit(&p->rule_rt[i].events, memory_order_relaxed);
    return n;
}

size_t cg_pipeline_domain_stats(const struct cg_pipeline *p, size_t i,
                                const char **name, uint64_t *messages,
                                uint64_t *events)
{
    if (i >= p->n_domains)
        return p->n_domains;
    *name = p->domains[i].name;
    *messages =
        atomic_load_explicit(&p->domains[i].messages, memory_order_relaxed);
    *events = atomic_load_explicit(&p->domains[i].events, memory_order_relaxed);
    return p->n_domains;
}

static void inherit_domains(struct cg_pipeline *p,
                            const struct cg_pipeline *old)
{
    for (size_t i = 0; i < p->n_domains; i++)
        for (size_t j = 0; j < old->n_domains; j++)
            if (!strcmp(p->domains[i].name, old->domains[j].name)) {
                atomic_store(&p->domains[i].messages,
                             atomic_load(&old->domains[j].messages));
                atomic_store(&p->domains[i].events,
                             atomic_load(&old->domains[j].events));
            }
}

/* Counters survive a reload: carried over by vendor, rule and domain
 * name. */
void cg_pipeline_inherit_stats(struct cg_pipeline *p,
                               const struct cg_pipeline *old)
{
    for (size_t i = 0; i < p->n_vendors; i++)
        for (size_t j = 0; j < old->n_vendors; j++)
            if (!strcmp(p->vendors[i].conf->name.s,
                        old->vendors[j].conf->name.s))
                atomic_store(&p->vendors[i].received,
                             atomic_load(&old->vendors[j].received));
    size_t n = cg_ruleset_count(p->rules), m = cg_ruleset_count(old->rules);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            if (!strcmp(cg_ruleset_rule(p->rules, i)->full_name,
                        cg_ruleset_rule(old->rules, j)->full_name))
                atomic_store(&p->rule_rt[i].events,
                             atomic_load(&old->rule_rt[j].events));
    inherit_domains(p, old);
}

void cg_pipeline_keep_envelopes(struct cg_pipeline *p, bool on)
{
    p->keep_envelopes = on;
}
