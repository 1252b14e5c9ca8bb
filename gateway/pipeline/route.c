/*
 * Routing: each fired rule's event goes to the consumers its `to` names,
 * with the fields each consumer's role may see (SPEC §6), on its rendered
 * topic, with an id that is the same whenever the same source message is
 * redelivered (SPEC §5), unless the consumer's `when:` filter refuses it
 * (SPEC §14). A private column of a lookup table, read as
 * "<table>.<column>", is private like a vendor's private field, with the
 * same grants.
 */
#include <stdio.h>
#include <string.h>

#include "format.h"
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

static bool table_private(const struct cg_pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->n_table_private; i++)
        if (!strcmp(p->table_private[i], name))
            return true;
    return false;
}

static bool name_visible(const struct cg_pipeline *p, const struct vendor_rt *v,
                         const struct consumer_rt *c, const char *name)
{
    if ((private_field(v, name) || table_private(p, name)) && !granted(c, name))
        return false;
    return !device_field(v, name) || granted(c, "device");
}

/* A value computed from a private field is private too, with the same
 * grants: every private field it reads must be visible. */
bool route__field_visible(const struct cg_pipeline *p,
                          const struct vendor_rt *v,
                          const struct consumer_rt *c, const struct taint *t,
                          const char *name)
{
    if (c->conf->role == CG_ROLE_GOVERNMENT)
        return true;
    if (!t)
        return name_visible(p, v, c, name);
    if (t->device && v->device_private && !granted(c, "device"))
        return false;
    for (size_t i = 0; t->all && i < v->conf->n_private; i++) {
        const char *priv = v->conf->private_fields[i].s;
        if (strcmp(priv, "device") && !granted(c, priv))
            return false;
    }
    if (t->all && v->n_device_fields && !granted(c, "device"))
        return false;
    for (size_t i = 0; i < t->n; i++)
        if (!name_visible(p, v, c, t->names[i]))
            return false;
    return true;
}

bool route__device_visible(const struct vendor_rt *v,
                           const struct consumer_rt *c)
{
    return c->conf->role == CG_ROLE_GOVERNMENT || !v->device_private ||
           granted(c, "device");
}

/* What data member i reads: a member that a stateful rule added
 * (active_since, suppressed ...) reads nothing. */
const struct taint *route__taint(const struct fired *f, size_t i)
{
    static const struct taint none = {NULL, 0, false, false};
    if (!f->taints)
        return NULL;
    return i < f->n_taints ? &f->taints[i] : &none;
}

/* A window's group mixes messages of the vendors its rule may match: a
 * field is shown only when every one of them would show it. */
bool route__member_visible(const struct cg_pipeline *p,
                           const struct msg_ctx *mc, const struct fired *f,
                           const struct consumer_rt *c, size_t i,
                           const char *name)
{
    const struct taint *t = route__taint(f, i);
    if (mc->vendor)
        return route__field_visible(p, mc->vendor, c, t, name);
    for (size_t k = 0; k < f->rt->n_vendors; k++)
        if (!route__field_visible(p, &p->vendors[f->rt->vendors[k]], c, t,
                                  name))
            return false;
    return true;
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

static void put_data(struct cg_buf *b, const struct cg_pipeline *p,
                     const struct msg_ctx *mc, const struct fired *f,
                     const struct consumer_rt *c)
{
    bool first = true;
    cg_buf_put(b, "\"data\":{", 8);
    for (uint32_t i = 0; i < f->data.len; i++) {
        const struct cg_member *m = &f->data.as.members[i];
        if (!route__member_visible(p, mc, f, c, i, m->key))
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
    const char *vendor = v ? v->conf->name.s : mc->vendor_name;
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
    put_key(b, "vendor", vendor);
    if (mc->device && route__device_visible(v, c)) {
        cg_buf_putc(b, ',');
        put_key(b, "device", mc->device);
        cg_buf_putc(b, ',');
        cg_buf_put(b, "\"topic\":", 8);
        cg_json_put_string(b, mc->m->topic, mc->m->topic_len);
    }
    cg_buf_put(b, "},\"chain\":{", 11);
    put_key(b, "device_provider", vendor);
    cg_buf_putc(b, ',');
    put_key(b, "network_provider", v ? v->network : mc->network_name);
    cg_buf_putc(b, ',');
    put_key(b, "application_provider", c->conf->name.s);
    cg_buf_put(b, "},", 2);
    put_data(b, p, mc, f, c);
}

static const struct cg_value *data_member(const struct cg_pipeline *p,
                                          const struct fired *f,
                                          const struct msg_ctx *mc,
                                          const struct consumer_rt *c,
                                          const char *name)
{
    for (uint32_t i = 0; i < f->data.len; i++) {
        const struct cg_member *m = &f->data.as.members[i];
        if (!strcmp(m->key, name))
            return route__member_visible(p, mc, f, c, i, name) ? &m->value
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
        s = mc->vendor ? mc->vendor->conf->name.s : mc->vendor_name;
        break;
    case TPL_DEVICE:
        s = mc->device && route__device_visible(mc->vendor, c) ? mc->device
                                                               : "";
        break;
    default: {
        const struct cg_value *v = data_member(p, f, mc, c, t->text);
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

/* The rule and consumer part of an event id. */
static uint64_t who(const struct fired *f, const struct consumer_rt *c)
{
    return cg_hash_mix(f->rt->hash ^ cg_hash_mix(c->hash));
}

static uint64_t event_id(const struct msg_ctx *mc, const struct fired *f,
                         const struct consumer_rt *c)
{
    return cg_hash_mix(mc->hash ^ who(f, c));
}

/* The data members this consumer may see, copied into the arena. */
static int visible_data(struct cg_pipeline *p, const struct msg_ctx *mc,
                        const struct fired *f, const struct consumer_rt *c,
                        struct cg_value *out)
{
    uint32_t n = f->data.len, k = 0;
    struct cg_member *m = cg_arena_alloc(p->arena, (n ? n : 1) * sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        if (route__member_visible(p, mc, f, c, i, f->data.as.members[i].key))
            m[k++] = f->data.as.members[i];
    *out = (struct cg_value){.type = CG_OBJ, .len = k};
    out->as.members = m;
    return CG_OK;
}

/* A copy of s[0..n) in the arena, or NULL. */
static char *arena_text(struct cg_pipeline *p, const char *s, size_t n)
{
    char *t = cg_arena_alloc(p->arena, n + 1);
    if (t) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    return t;
}

/* A window's entity key (SPEC §15): its group_by values, or their hash
 * when this consumer may not see one of them, as hash(device) hides a
 * device: a private value must not reach an entity id either. */
static int window_key(struct cg_pipeline *p, const struct msg_ctx *mc,
                      const struct fired *f, const struct consumer_rt *c,
                      struct event_view *v)
{
    struct cg_buf key = {0};
    bool hidden = false;
    size_t n = f->rt->n_group;
    for (size_t i = 0; i < n && i < f->data.len; i++)
        hidden |=
            !route__member_visible(p, mc, f, c, i, f->data.as.members[i].key);
    format__window_key(&f->data, n, &key);
    char hex[17];
    if (hidden)
        cg_hex64(cg_hash_mix(cg_hash64(CG_HASH_SEED, key.data, key.len)), hex);
    v->key = hidden ? arena_text(p, hex, 16)
                    : arena_text(p, key.data ? key.data : "", key.len);
    v->key_is_urn = true;
    bool oom = key.oom || !v->key;
    cg_buf_free(&key);
    return oom ? CG_ENOMEM : CG_OK;
}

/* The event as this consumer may see it, for the formats of SPEC §15. */
static int make_view(struct cg_pipeline *p, const struct msg_ctx *mc,
                     const struct fired *f, const struct consumer_rt *c,
                     const char *id, struct event_view *v)
{
    const struct cg_rule *r = f->rule;
    const struct vendor_rt *vr = mc->vendor;
    bool device = mc->device && route__device_visible(vr, c);
    *v = (struct event_view){
        .id = id,
        .time = mc->time_text,
        .epoch = mc->time,
        .gateway = p->cfg->gateway.id,
        .domain = r->domain,
        .type = r->type,
        .rule = r->full_name,
        .rule_name = r->name,
        .description = r->description,
        .severity = f->severity,
        .vendor = vr ? vr->conf->name.s : mc->vendor_name,
        .network = vr ? vr->network : mc->network_name,
        .consumer = c->conf->name.s,
        .device = device ? mc->device : NULL,
        .key = mc->device ? mc->device : mc->group_key,
    };
    if (f->resolved && f->has_ref) { /* the alert this one resolves */
        char *ref = cg_arena_alloc(p->arena, 17);
        if (!ref)
            return CG_ENOMEM;
        cg_hex64(cg_hash_mix(f->ref.hash ^ who(f, c)), ref);
        v->resolved = true;
        v->ref_id = ref;
        v->ref_sent = (double)f->ref.time / 1000.0;
    }
    if (mc->device && !device) { /* hash(device), as hash() gives it */
        char *hex = cg_arena_alloc(p->arena, 17);
        if (!hex)
            return CG_ENOMEM;
        cg_hex64(cg_hash_mix(
                     cg_hash64(CG_HASH_SEED, mc->device, strlen(mc->device))),
                 hex);
        v->key = hex;
    }
    if (!mc->device && window_key(p, mc, f, c, v) != CG_OK)
        return CG_ENOMEM;
    return visible_data(p, mc, f, c, &v->data);
}

/* CAP takes warnings, criticals and their resolutions: not an info event,
 * nor the Cancel of an alert that fired as info and so never went out. */
static bool cap_takes(const struct fired *f)
{
    if (f->resolved)
        return !f->has_ref || f->ref.severity != CG_SEV_INFO;
    return f->severity != CG_SEV_INFO;
}

/* The payload in the consumer's format, in p->json. Returns 1, 0 when the
 * format takes no such event (CAP: only warning and critical), or
 * CG_ENOMEM. */
static int put_payload(struct cg_pipeline *p, const struct msg_ctx *mc,
                       const struct fired *f, const struct consumer_rt *c,
                       const char *id)
{
    int format = c->conf->format;
    if (format == CG_CONSUMER_EVENT) {
        put_envelope(&p->json, p, mc, f, c, id);
        return p->json.oom ? CG_ENOMEM : 1;
    }
    if (format == CG_CONSUMER_CAP && !cap_takes(f))
        return 0;
    struct event_view v;
    if (make_view(p, mc, f, c, id, &v) != CG_OK)
        return CG_ENOMEM;
    struct format_consumer fc = {
        format == CG_CONSUMER_CAP ? CG_FORMAT_CAP : CG_FORMAT_NGSI_LD,
        c->context, c->conf->n_context, c->conf->cap_sender};
    cg_buf_reset(&p->json);
    if (format == CG_CONSUMER_CAP)
        format__cap(&v, f->rt->cap, &fc, &p->json);
    else
        format__ngsi(&v, f->rt->ngsi_type, &fc, &p->json);
    return p->json.oom ? CG_ENOMEM : 1;
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
    cg_hex64(event_id(mc, f, c), id);
    int holds = c->when ? filter__holds(p, mc, f, c, id) : 1;
    if (holds <= 0)
        return holds; /* refused by its filter, or out of memory */
    const char *topic = c->target ? NULL : render_topic(p, mc, f, c);
    if (!c->target && !topic)
        return CG_ENOMEM;
    const char *bad = topic ? tpl__invalid(topic, p->topic.len) : NULL;
    if (bad) {
        char detail[128];
        snprintf(detail, sizeof(detail), "the event's topic %s", bad);
        int rc = dead__letter(p, mc->m, CG_DEAD_UNDELIVERABLE, c->conf->name.s,
                              detail, emit);
        return rc < 0 ? rc : 0;
    }
    int made = put_payload(p, mc, f, c, id);
    if (made <= 0)
        return made; /* not for this format, or out of memory */
    bool envelope = p->keep_envelopes && c->conf->format != CG_CONSUMER_EVENT;
    if (envelope) {
        put_envelope(&p->envelope, p, mc, f, c, id);
        if (p->envelope.oom)
            return CG_ENOMEM;
    }
    struct cg_delivery d = {
        .consumer = ci,
        .consumer_name = c->conf->name.s,
        .target = c->target ? c->target : topic,
        .rule = f->rule,
        .event = {id, topic, p->json.data, p->json.len, f->severity,
                  c->sink.qos},
        .envelope = envelope ? p->envelope.data : NULL,
        .envelope_len = envelope ? p->envelope.len : 0,
    };
    int rc = emit->deliver(emit->user, &d);
    if (rc == CG_EINVAL) { /* no spool can hold it: it never will */
        rc = dead__letter(p, mc->m, CG_DEAD_UNDELIVERABLE, c->conf->name.s,
                          "the event is too large for the spool", emit);
        return rc < 0 ? rc : 0;
    }
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
        uint32_t ci = f->rule->targets[i];
        if (f->no_citizens && p->consumers[ci].conf->role == CG_ROLE_CITIZEN)
            continue; /* a window group below min_count (SPEC §13) */
        int rc = route_one(p, mc, f, ci, emit);
        if (rc < 0)
            return rc;
        count += rc;
    }
    return count;
}
