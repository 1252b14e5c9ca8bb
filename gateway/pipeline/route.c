/*
 * Routing: each fired rule's event goes to the consumers its `to` names,
 * with the fields each consumer's role may see (SPEC §6), on its rendered
 * topic, with an id that is the same whenever the same source message is
 * redelivered (SPEC §5).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static bool granted(const struct consumer_rt *c, const char *name)
{
    const struct cg_consumer_conf *cc = c->conf;
    if (cc->role != CG_ROLE_ENTERPRISE)
        return false; /* citizens never, whatever the config says */
    for (size_t i = 0; i < cc->n_grants; i++)
        if (!strcmp(cc->grants[i].s, name))
            return true;
    return false;
}

static bool private_field(const struct vendor_rt *v, const char *name)
{
    for (size_t i = 0; i < v->conf->n_private; i++)
        if (!strcmp(v->conf->private_fields[i].s, name))
            return true;
    return false;
}

static bool device_field(const struct vendor_rt *v, const char *name)
{
    for (size_t i = 0; i < v->n_device_fields; i++)
        if (!strcmp(v->device_fields[i], name))
            return true;
    return false;
}

static bool name_visible(const struct vendor_rt *v, const struct consumer_rt *c,
                         const char *name)
{
    if (private_field(v, name) && !granted(c, name))
        return false;
    return !device_field(v, name) || granted(c, "device");
}

/* A value computed from a private field is private too, with the same
 * grants: every private field it reads must be visible. */
static bool field_visible(const struct vendor_rt *v,
                          const struct consumer_rt *c, const struct taint *t,
                          const char *name)
{
    if (c->conf->role == CG_ROLE_GOVERNMENT)
        return true;
    if (!t)
        return name_visible(v, c, name);
    if (t->device && v->device_private && !granted(c, "device"))
        return false;
    for (size_t i = 0; t->all && i < v->conf->n_private; i++) {
        const char *p = v->conf->private_fields[i].s;
        if (strcmp(p, "device") && !granted(c, p))
            return false;
    }
    if (t->all && v->n_device_fields && !granted(c, "device"))
        return false;
    for (size_t i = 0; i < t->n; i++)
        if (!name_visible(v, c, t->names[i]))
            return false;
    return true;
}

static bool device_visible(const struct vendor_rt *v,
                           const struct consumer_rt *c)
{
    return c->conf->role == CG_ROLE_GOVERNMENT || !v->device_private ||
           granted(c, "device");
}

static const struct taint *taint_of(const struct fired *f, size_t i)
{
    return f->rule->has_data ? &f->rt->taints[i] : NULL;
}

static void put_key(struct cg_buf *b, const char *key, const char *value)
{
    cg_buf_putc(b, '"');
    cg_buf_puts(b, key);
    cg_buf_put(b, "\":", 2);
    if (value)
        cg_json_put_string(b, value, strlen(value));
    else
        cg_buf_put(b, "null", 4);
}

static void put_data(struct cg_buf *b, const struct msg_ctx *mc,
                     const struct fired *f, const struct consumer_rt *c)
{
    bool first = true;
    cg_buf_put(b, "\"data\":{", 8);
    for (uint32_t i = 0; i < f->data.len; i++) {
        const struct cg_member *m = &f->data.as.members[i];
        if (!field_visible(mc->vendor, c, taint_of(f, i), m->key))
            continue;
        if (!first)
            cg_buf_putc(b, ',');
        first = false;
        cg_json_put_string(b, m->key, m->key_len);
        cg_buf_putc(b, ':');
        cg_json_put_value(b, &m->value);
    }
    cg_buf_put(b, "}}", 2);
}

static void put_envelope(struct cg_buf *b, const struct cg_pipeline *p,
                         const struct msg_ctx *mc, const struct fired *f,
                         const struct consumer_rt *c, const char *id)
{
    const struct cg_rule *r = f->rule;
    const struct vendor_rt *v = mc->vendor;
    cg_buf_reset(b);
    cg_buf_putc(b, '{');
    put_key(b, "id", id);
    cg_buf_putc(b, ',');
    put_key(b, "time", mc->time_text);
    cg_buf_putc(b, ',');
    put_key(b, "received", mc->received);
    cg_buf_putc(b, ',');
    put_key(b, "gateway", p->cfg->gateway.id);
    cg_buf_putc(b, ',');
    put_key(b, "domain", r->domain);
    cg_buf_putc(b, ',');
    put_key(b, "type", r->type);
    cg_buf_putc(b, ',');
    put_key(b, "severity", cg_severity_name(f->severity));
    cg_buf_putc(b, ',');
    put_key(b, "rule", r->full_name);
    cg_buf_put(b, ",\"source\":{", 11);
    put_key(b, "vendor", v->conf->name.s);
    if (device_visible(v, c)) {
        cg_buf_putc(b, ',');
        put_key(b, "device", mc->device);
        cg_buf_putc(b, ',');
        cg_buf_put(b, "\"topic\":", 8);
        cg_json_put_string(b, mc->m->topic, mc->m->topic_len);
    }
    cg_buf_put(b, "},\"chain\":{", 11);
    put_key(b, "device_provider", v->conf->name.s);
    cg_buf_putc(b, ',');
    put_key(b, "network_provider", v->network);
    cg_buf_putc(b, ',');
    put_key(b, "application_provider", c->conf->name.s);
    cg_buf_put(b, "},", 2);
    put_data(b, mc, f, c);
}

static const struct cg_value *data_member(const struct fired *f,
                                          const struct msg_ctx *mc,
                                          const struct consumer_rt *c,
                                          const char *name)
{
    for (uint32_t i = 0; i < f->data.len; i++) {
        const struct cg_member *m = &f->data.as.members[i];
        if (!strcmp(m->key, name))
            return field_visible(mc->vendor, c, taint_of(f, i), name)
                       ? &m->value
                       : NULL;
    }
    return NULL;
}

static void put_part(struct cg_pipeline *p, const struct tpl_part *t,
                     const struct msg_ctx *mc, const struct fired *f,
                     const struct consumer_rt *c)
{
    struct cg_buf *b = &p->topic;
    const struct cg_rule *r = f->rule;
    const char *s = NULL;
    switch (t->kind) {
    case TPL_TEXT:
        cg_buf_put(b, t->text, t->len);
        return;
    case TPL_DOMAIN:
        s = r->domain;
        break;
    case TPL_TYPE:
        s = r->type;
        break;
    case TPL_SEVERITY:
        s = cg_severity_name(f->severity);
        break;
    case TPL_RULE:
        s = r->name;
        break;
    case TPL_VENDOR:
        s = mc->vendor->conf->name.s;
        break;
    case TPL_DEVICE:
        s = device_visible(mc->vendor, c) ? mc->device : "";
        break;
    default: {
        const struct cg_value *v = data_member(f, mc, c, t->text);
        cg_buf_reset(&p->text);
        if (v)
            cg_value_format(v, &p->text);
        tpl__put_safe(b, p->text.data ? p->text.data : "", p->text.len);
        return;
    }
    }
    tpl__put_safe(b, s, strlen(s));
}

static const char *render_topic(struct cg_pipeline *p, const struct msg_ctx *mc,
                                const struct fired *f,
                                const struct consumer_rt *c)
{
    cg_buf_reset(&p->topic);
    for (size_t i = 0; i < c->topic.n; i++)
        put_part(p, &c->topic.parts[i], mc, f, c);
    return p->topic.oom ? NULL : p->topic.data ? p->topic.data : "";
}

static uint64_t event_id(const struct msg_ctx *mc, const struct fired *f,
                         const struct consumer_rt *c)
{
    uint64_t who = cg_hash_mix(f->rt->hash ^ cg_hash_mix(c->hash));
    return cg_hash_mix(mc->hash ^ who);
}

/* An event that cannot be built for this consumer (its topic would break
 * MQTT's rules) becomes a dead letter naming it, and the message goes on
 * for the other consumers (SPEC §1). */
/* Builds the event for consumer index ci and emits it. Returns 1 for a
 * delivery, 0 for an undeliverable one, or a negative CG_E*. */
static int route_one(struct cg_pipeline *p, const struct msg_ctx *mc,
                     const struct fired *f, uint32_t ci,
                     const struct cg_emit *emit)
{
    const struct consumer_rt *c = &p->consumers[ci];
    char id[17];
    const char *topic = c->target ? NULL : render_topic(p, mc, f, c);
    if (!c->target && !topic)
        return CG_ENOMEM;
    const char *bad = topic ? tpl__invalid(topic, p->topic.len) : NULL;
    if (bad) {
        int rc = dead__letter(p, mc->m, CG_DEAD_UNDELIVERABLE, c->conf->name.s,
                              bad, emit);
        return rc < 0 ? rc : 0;
    }
    cg_hex64(event_id(mc, f, c), id);
    put_envelope(&p->json, p, mc, f, c, id);
    if (p->json.oom)
        return CG_ENOMEM;
    struct cg_delivery d = {
        .consumer = ci,
        .consumer_name = c->conf->name.s,
        .target = c->target ? c->target : topic,
        .rule = f->rule,
        .event = {id, topic, p->json.data, p->json.len, f->severity,
                  c->sink.qos},
    };
    int rc = emit->deliver(emit->user, &d);
    if (rc < 0)
        return rc;
    atomic_fetch_add_explicit(&f->rt->events, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->domains[f->rt->domain].events, 1,
                              memory_order_relaxed);
    return 1;
}

int route__event(struct cg_pipeline *p, const struct msg_ctx *mc,
                 const struct fired *f, const struct cg_emit *emit)
{
    int count = 0;
    for (size_t i = 0; i < f->rule->n_targets; i++) {
        int rc = route_one(p, mc, f, f->rule->targets[i], emit);
        if (rc < 0)
            return rc;
        count += rc;
    }
    return count;
}
