/*
 * A consumer's event filter (SPEC §14): `when: EXPR` over the event it
 * would receive (severity, domain, type, rule, data.X, source.vendor ...),
 * which keeps only the events for which it holds.
 *
 * The filter runs after privacy: it sees the event as this consumer gets
 * it, so a filter cannot test a field the consumer may not see (which
 * would leak one bit of it per event). The event is built as a value in
 * the message's arena, only for consumers that have a filter.
 */
#include <string.h>

#include "internal.h"

struct members {
    struct cg_member *m;
    uint32_t n;
};

static void put(struct members *o, const char *key, struct cg_value v)
{
    o->m[o->n].key = key;
    o->m[o->n].key_len = (uint32_t)strlen(key);
    o->m[o->n++].value = v;
}

static struct cg_value text(const char *s)
{
    return s ? cg_value_str(s, strlen(s)) : CG_VALUE_NULL;
}

static struct cg_value object(struct members *o)
{
    struct cg_value v = {.type = CG_OBJ, .len = o->n};
    v.as.members = o->m;
    return v;
}

static bool alloc_members(struct cg_pipeline *p, struct members *o, size_t n)
{
    o->n = 0;
    o->m = cg_arena_alloc(p->arena, (n ? n : 1) * sizeof(*o->m));
    return o->m != NULL;
}

/* The event's data as this consumer sees it. */
static bool data_view(struct cg_pipeline *p, const struct msg_ctx *mc,
                      const struct fired *f, const struct consumer_rt *c,
                      struct cg_value *out)
{
    struct members o;
    if (!alloc_members(p, &o, f->data.len))
        return false;
    for (uint32_t i = 0; i < f->data.len; i++) {
        const struct cg_member *m = &f->data.as.members[i];
        if (route__member_visible(p, mc, f, c, i, m->key))
            o.m[o.n++] = *m;
    }
    *out = object(&o);
    return true;
}

/* source and chain, without the device and topic it may not see. */
static bool source_views(struct cg_pipeline *p, const struct msg_ctx *mc,
                         const struct consumer_rt *c, struct cg_value *source,
                         struct cg_value *chain)
{
    const struct vendor_rt *v = mc->vendor;
    const char *vendor = v ? v->conf->name.s : mc->vendor_name;
    struct members s, ch;
    if (!alloc_members(p, &s, 3) || !alloc_members(p, &ch, 3))
        return false;
    put(&s, "vendor", text(vendor));
    if (mc->device && route__device_visible(v, c)) {
        put(&s, "device", text(mc->device));
        put(&s, "topic", cg_value_str(mc->m->topic, mc->m->topic_len));
    }
    put(&ch, "device_provider", text(vendor));
    put(&ch, "network_provider", text(v ? v->network : mc->network_name));
    put(&ch, "application_provider", text(c->conf->name.s));
    *source = object(&s);
    *chain = object(&ch);
    return true;
}

static bool event_view(struct cg_pipeline *p, const struct msg_ctx *mc,
                       const struct fired *f, const struct consumer_rt *c,
                       const char *id, struct cg_value *out)
{
    const struct cg_rule *r = f->rule;
    struct cg_value data, source, chain;
    struct members o;
    if (!alloc_members(p, &o, 11) || !data_view(p, mc, f, c, &data) ||
        !source_views(p, mc, c, &source, &chain))
        return false;
    put(&o, "id", text(id));
    put(&o, "time", text(mc->time_text));
    put(&o, "received", text(mc->received));
    put(&o, "gateway", text(p->cfg->gateway.id));
    put(&o, "domain", text(r->domain));
    put(&o, "type", text(r->type));
    put(&o, "severity", text(cg_severity_name(f->severity)));
    put(&o, "rule", text(r->full_name));
    put(&o, "source", source);
    put(&o, "chain", chain);
    put(&o, "data", data);
    *out = object(&o);
    return true;
}

int filter__holds(struct cg_pipeline *p, const struct msg_ctx *mc,
                  const struct fired *f, const struct consumer_rt *c,
                  const char *id)
{
    struct cg_value event, v;
    if (!event_view(p, mc, f, c, id, &event))
        return CG_ENOMEM;
    struct cg_eval_ctx ctx = mc->eval;
    ctx.record = &event;
    ctx.domain = f->rule->domain;
    if (!mc->device || !route__device_visible(mc->vendor, c)) {
        ctx.device = NULL; /* so are the topic and its levels */
        ctx.topic = NULL;
        ctx.levels = NULL;
        ctx.n_levels = 0;
    }
    cg_expr_eval(c->when, &ctx, &v);
    return cg_value_is_true(&v) ? 1 : 0;
}
