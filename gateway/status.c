/*
 * The gateway's state for people and health checks (SPEC §16), all on the
 * loop thread: the rates sample of each tick, the health verdict behind
 * /healthz, the /status.json document the live page reads, and the
 * STATUS line systemd shows.
 *
 * Healthy means intake can do its work: the intake connection is up, no
 * consumer's spool is full and the spool's disk is above its reserve.
 */
#include <stdio.h>
#include <string.h>

#include "run.h"

/* ---- rates --------------------------------------------------------------- */

static uint64_t dead_total(struct cg_deliver *d)
{
    uint64_t n = 0;
    for (int i = 0; i < CG_DEAD_N_REASONS; i++)
        n += cg_deliver_dead_count(d, i);
    return n;
}

static void sample_pipeline(struct gw_rates *r, const struct cg_pipeline *p)
{
    const char *name;
    uint64_t a, b;
    for (size_t i = 0; i < cg_pipeline_domain_stats(p, i, &name, &a, &b); i++) {
        gw__rates_put(r, GW_RATE_DOMAIN_MESSAGES, name, a);
        gw__rates_put(r, GW_RATE_DOMAIN_EVENTS, name, b);
    }
}

/* A counter that cannot be recorded (out of memory) shows a rate of 0:
 * the page is for people, and the next tick tries again. */
void gw__status_sample(struct gw *g)
{
    struct gw_rates *r = &g->rates;
    struct cg_consumer_stats s;
    const char *c;
    gw__rates_begin(r, cg_time_mono());
    gw__rates_put(r, GW_RATE_TOTAL, "messages", atomic_load(&g->received));
    gw__rates_put(r, GW_RATE_TOTAL, "events",
                  cg_deliver_event_count(g->deliver));
    gw__rates_put(r, GW_RATE_TOTAL, "dead", dead_total(g->deliver));
    sample_pipeline(r, g->gen.pipeline);
    for (size_t i = 0; i < cg_deliver_consumer_stats(g->deliver, i, &c, &s);
         i++)
        gw__rates_put(r, GW_RATE_CONSUMER, c, s.delivered);
    for (int i = 0; i < CG_DEAD_N_REASONS; i++)
        gw__rates_put(r, GW_RATE_DEAD, cg_dead_reason_name(i),
                      cg_deliver_dead_count(g->deliver, i));
    gw__rates_end(r);
}

/* ---- health -------------------------------------------------------------- */

/* Causes first: a full spool holds intake at the broker (the intake
 * connection goes down on purpose), so it is named before the connection. */
bool gw__healthy(struct gw *g, char *reason, size_t size)
{
    struct cg_consumer_stats s;
    const char *c;
    for (size_t i = 0; i < cg_deliver_consumer_stats(g->deliver, i, &c, &s);
         i++) {
        if (s.full) {
            snprintf(reason, size,
                     "the spool of consumer %s is full (%llu of %llu bytes)", c,
                     (unsigned long long)s.bytes,
                     (unsigned long long)s.max_bytes);
            return false;
        }
    }
    if (cg_deliver_disk_low(g->deliver)) {
        snprintf(reason, size,
                 "the spool's disk has less free space than "
                 "spool_reserve_bytes (%llu)",
                 (unsigned long long)g->gen.cfg->gateway.spool_reserve_bytes);
        return false;
    }
    if (cg_deliver_out_of_space(g->deliver)) {
        snprintf(reason, size,
                 "the spool's disk is full (no space left on the device): "
                 "intake is held until there is room");
        return false;
    }
    if (!g->in || !cg_mqtt_connected(g->in)) {
        snprintf(reason, size, "the intake connection to %s is down",
                 g->in ? cg_mqtt_uri(g->in) : "the broker");
        return false;
    }
    reason[0] = '\0';
    return true;
}

void gw__status_line(struct gw *g, char *out, size_t size)
{
    char reason[400];
    bool ok = gw__healthy(g, reason, sizeof(reason));
    snprintf(out, size, "%.1f msg/s, %.1f events/s, %.1f dead letters/s; %s%s",
             gw__rates_get(&g->rates, GW_RATE_TOTAL, "messages"),
             gw__rates_get(&g->rates, GW_RATE_TOTAL, "events"),
             gw__rates_get(&g->rates, GW_RATE_TOTAL, "dead"),
             ok ? "intake connected" : "unhealthy: ", reason);
}

/* ---- JSON ------------------------------------------------------------------
 */

static void key(struct cg_buf *b, const char *k)
{
    cg_buf_putc(b, '"');
    cg_buf_puts(b, k);
    cg_buf_puts(b, "\":");
}

static void str(struct cg_buf *b, const char *k, const char *v)
{
    key(b, k);
    cg_json_put_string(b, v, strlen(v));
}

static void num(struct cg_buf *b, const char *k, uint64_t v)
{
    key(b, k);
    cg_buf_printf(b, "%llu", (unsigned long long)v);
}

static void rate(struct cg_buf *b, const char *k, double v)
{
    key(b, k);
    cg_buf_printf(b, "%.2f", v);
}

static void header(struct gw *g, struct cg_buf *b)
{
    char now[32];
    cg_time_format(cg_time_now(), now);
    str(b, "gateway", g->gen.cfg->gateway.id);
    cg_buf_putc(b, ',');
    str(b, "version", CG_VERSION);
    cg_buf_putc(b, ',');
    str(b, "time", now);
    cg_buf_putc(b, ',');
    num(b, "uptime_s", (uint64_t)(cg_time_now() - g->started));
}

void gw__render_health(struct gw *g, struct cg_buf *b, bool *ok)
{
    char reason[400];
    *ok = gw__healthy(g, reason, sizeof(reason));
    cg_buf_putc(b, '{');
    str(b, "state", *ok ? "ok" : "unhealthy");
    cg_buf_putc(b, ',');
    header(g, b);
    cg_buf_putc(b, ',');
    if (*ok)
        str(b, "intake", "connected");
    else
        str(b, "reason", reason);
    cg_buf_puts(b, "}\n");
}

static void render_totals(struct gw *g, struct cg_buf *b)
{
    const struct gw_rates *r = &g->rates;
    key(b, "totals");
    cg_buf_putc(b, '{');
    rate(b, "messages_per_s", gw__rates_get(r, GW_RATE_TOTAL, "messages"));
    cg_buf_putc(b, ',');
    rate(b, "events_per_s", gw__rates_get(r, GW_RATE_TOTAL, "events"));
    cg_buf_putc(b, ',');
    rate(b, "dead_per_s", gw__rates_get(r, GW_RATE_TOTAL, "dead"));
    cg_buf_putc(b, ',');
    num(b, "messages", atomic_load(&g->received));
    cg_buf_putc(b, ',');
    num(b, "events", cg_deliver_event_count(g->deliver));
    cg_buf_putc(b, ',');
    num(b, "dead", dead_total(g->deliver));
    cg_buf_puts(b, "}");
}

static void connection(struct cg_buf *b, bool first, const char *name,
                       const char *uri, bool up)
{
    cg_buf_puts(b, first ? "{" : ",{");
    str(b, "name", name);
    if (uri) {
        cg_buf_putc(b, ',');
        str(b, "uri", uri);
    }
    cg_buf_puts(b, up ? ",\"connected\":true}" : ",\"connected\":false}");
}

static void render_connections(struct gw *g, struct cg_buf *b)
{
    struct cg_consumer_stats s;
    const char *c;
    char name[300];
    key(b, "connections");
    cg_buf_putc(b, '[');
    connection(b, true, "intake", cg_mqtt_uri(g->in), cg_mqtt_connected(g->in));
    connection(b, false, "output", cg_mqtt_uri(g->out),
               cg_mqtt_connected(g->out));
    for (size_t i = 0; i < cg_deliver_consumer_stats(g->deliver, i, &c, &s);
         i++) {
        snprintf(name, sizeof(name), "consumer %s's broker", c);
        if (s.broker >= 0)
            connection(b, false, name, NULL, s.broker == 1);
    }
    cg_buf_putc(b, ']');
}

static void render_domains(struct gw *g, struct cg_buf *b)
{
    const char *name;
    uint64_t m, e;
    const struct cg_pipeline *p = g->gen.pipeline;
    key(b, "domains");
    cg_buf_putc(b, '[');
    for (size_t i = 0; i < cg_pipeline_domain_stats(p, i, &name, &m, &e); i++) {
        cg_buf_puts(b, i ? ",{" : "{");
        str(b, "name", name);
        cg_buf_putc(b, ',');
        rate(b, "messages_per_s",
             gw__rates_get(&g->rates, GW_RATE_DOMAIN_MESSAGES, name));
        cg_buf_putc(b, ',');
        rate(b, "events_per_s",
             gw__rates_get(&g->rates, GW_RATE_DOMAIN_EVENTS, name));
        cg_buf_putc(b, ',');
        num(b, "messages", m);
        cg_buf_putc(b, ',');
        num(b, "events", e);
        cg_buf_putc(b, '}');
    }
    cg_buf_putc(b, ']');
}

static void render_consumer(struct gw *g, struct cg_buf *b, const char *c,
                            const struct cg_consumer_stats *s)
{
    str(b, "name", c);
    cg_buf_putc(b, ',');
    rate(b, "delivered_per_s", gw__rates_get(&g->rates, GW_RATE_CONSUMER, c));
    const struct {
        const char *k;
        uint64_t v;
    } rows[] = {{"delivered", s->delivered},      {"retried", s->retried},
                {"rejected", s->rejected},        {"dropped", s->dropped},
                {"spool_depth", s->queued},       {"spool_bytes", s->bytes},
                {"spool_max_bytes", s->max_bytes}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cg_buf_putc(b, ',');
        num(b, rows[i].k, rows[i].v);
    }
    cg_buf_puts(b, s->full ? ",\"spool_full\":true" : ",\"spool_full\":false");
}

static void render_consumers(struct gw *g, struct cg_buf *b)
{
    struct cg_consumer_stats s;
    const char *c;
    key(b, "consumers");
    cg_buf_putc(b, '[');
    for (size_t i = 0; i < cg_deliver_consumer_stats(g->deliver, i, &c, &s);
         i++) {
        cg_buf_puts(b, i ? ",{" : "{");
        render_consumer(g, b, c, &s);
        cg_buf_putc(b, '}');
    }
    cg_buf_putc(b, ']');
}

static void render_dead(struct gw *g, struct cg_buf *b)
{
    key(b, "dead_letters");
    cg_buf_putc(b, '[');
    for (int i = 0; i < CG_DEAD_N_REASONS; i++) {
        const char *reason = cg_dead_reason_name(i);
        cg_buf_puts(b, i ? ",{" : "{");
        str(b, "reason", reason);
        cg_buf_putc(b, ',');
        rate(b, "per_s", gw__rates_get(&g->rates, GW_RATE_DEAD, reason));
        cg_buf_putc(b, ',');
        num(b, "total", cg_deliver_dead_count(g->deliver, i));
        cg_buf_putc(b, '}');
    }
    cg_buf_putc(b, ']');
}

/* What the live page shows: the health verdict, totals, connections,
 * domains, consumers and dead letters, rates computed at the last tick. */
void gw__render_status(struct gw *g, struct cg_buf *b)
{
    char reason[400];
    bool ok = gw__healthy(g, reason, sizeof(reason));
    cg_buf_putc(b, '{');
    header(g, b);
    cg_buf_putc(b, ',');
    str(b, "state", ok ? "ok" : "unhealthy");
    cg_buf_putc(b, ',');
    str(b, "reason", reason);
    cg_buf_putc(b, ',');
    render_totals(g, b);
    cg_buf_putc(b, ',');
    render_connections(g, b);
    cg_buf_putc(b, ',');
    render_domains(g, b);
    cg_buf_putc(b, ',');
    render_consumers(g, b);
    cg_buf_putc(b, ',');
    render_dead(g, b);
    cg_buf_puts(b, "}\n");
}
