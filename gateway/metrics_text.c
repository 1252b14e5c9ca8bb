/*
 * /metrics in the Prometheus text format (SPEC §9, §16), rendered on the
 * loop thread, which owns the generation (pipeline, consumers) and so can
 * read it without a lock; the counters themselves are atomics the other
 * threads bump.
 */
#include <stdio.h>
#include <string.h>

#include "run.h"
#include "state/state.h"

/* Upper bounds of the pipeline histogram, in seconds. */
static const double bounds[GW_N_BUCKETS] = {0.00001, 0.00002, 0.00005, 0.0001,
                                            0.0002,  0.0005,  0.001,   0.002,
                                            0.005,   0.01,    0.05,    0.1};

void gw__observe_pipeline(struct gw *g, double seconds)
{
    int b = 0;
    while (b < GW_N_BUCKETS && seconds > bounds[b])
        b++;
    atomic_fetch_add_explicit(&g->pipeline_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g->pipeline_ns,
                              (unsigned long long)(seconds * 1e9),
                              memory_order_relaxed);
}

/* A label value with the escapes the text format wants. */
static void put_label(struct cg_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            cg_buf_putc(b, '\\');
        if (*v == '\n')
            cg_buf_puts(b, "\\n");
        else
            cg_buf_putc(b, *v);
    }
}

static void family(struct cg_buf *b, const char *name, const char *type,
                   const char *help)
{
    cg_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct cg_buf *b, const char *name, const char *label,
                   const char *value, unsigned long long n)
{
    cg_buf_printf(b, "%s{%s=\"", name, label);
    put_label(b, value);
    cg_buf_printf(b, "\"} %llu\n", n);
}

static void render_pipeline(struct cg_buf *b, const struct cg_pipeline *p)
{
    const char *name;
    uint64_t n;
    family(b, "citygate_messages_received_total", "counter",
           "Messages matched to each vendor.");
    for (size_t i = 0; i < cg_pipeline_vendor_stats(p, i, &name, &n); i++)
        sample(b, "citygate_messages_received_total", "vendor", name, n);
    family(b, "citygate_rule_events_total", "counter",
           "Events each rule produced, one per consumer reached.");
    for (size_t i = 0; i < cg_pipeline_rule_stats(p, i, &name, &n); i++)
        sample(b, "citygate_rule_events_total", "rule", name, n);
}

static void render_domains(struct cg_buf *b, const struct cg_pipeline *p)
{
    const char *name;
    uint64_t m, e;
    family(b, "citygate_domain_messages_total", "counter",
           "Messages that fired at least one rule of each domain.");
    for (size_t i = 0; i < cg_pipeline_domain_stats(p, i, &name, &m, &e); i++)
        sample(b, "citygate_domain_messages_total", "domain", name, m);
    family(b, "citygate_domain_events_total", "counter",
           "Events the rules of each domain produced, one per consumer "
           "reached.");
    for (size_t i = 0; i < cg_pipeline_domain_stats(p, i, &name, &m, &e); i++)
        sample(b, "citygate_domain_events_total", "domain", name, e);
}

/* Stateful rules (SPEC §13): keys held, events held back by why, keys
 * evicted at max_keys. Stateless rules have no rows. */
static void render_state(struct cg_buf *b, const struct cg_pipeline *p)
{
    const char *name;
    struct cg_state_stats s;
    family(b, "citygate_rule_state_keys", "gauge",
           "Keys a stateful rule holds (devices or window groups).");
    for (size_t i = 0; i < cg_pipeline_state_stats(p, i, &name, &s); i++)
        if (name)
            sample(b, "citygate_rule_state_keys", "rule", name, s.keys);
    family(b, "citygate_rule_suppressed_total", "counter",
           "Events a stateful rule held back, by why (throttle, on_change, "
           "min_count).");
    for (size_t i = 0; i < cg_pipeline_state_stats(p, i, &name, &s); i++)
        for (int w = 0; name && w < CG_WHY_N; w++) {
            cg_buf_puts(b, "citygate_rule_suppressed_total{rule=\"");
            put_label(b, name);
            cg_buf_printf(b, "\",why=\"%s\"} %llu\n", cg_state_why_name(w),
                          (unsigned long long)s.suppressed[w]);
        }
    family(b, "citygate_rule_evicted_total", "counter",
           "Least recently used keys dropped at max_keys.");
    for (size_t i = 0; i < cg_pipeline_state_stats(p, i, &name, &s); i++)
        if (name)
            sample(b, "citygate_rule_evicted_total", "rule", name, s.evicted);
}

static void render_deliveries(struct cg_buf *b, struct cg_deliver *d)
{
    struct cg_consumer_stats s;
    const char *c;
    family(b, "citygate_deliveries_total", "counter",
           "Events per consumer by outcome (delivered, rejected, dropped; "
           "retried counts attempts).");
    for (size_t i = 0; i < cg_deliver_consumer_stats(d, i, &c, &s); i++) {
        const struct {
            const char *result;
            uint64_t n;
        } rows[] = {{"delivered", s.delivered},
                    {"rejected", s.rejected},
                    {"dropped", s.dropped},
                    {"retried", s.retried}};
        for (size_t r = 0; r < 4; r++) {
            cg_buf_puts(b, "citygate_deliveries_total{consumer=\"");
            put_label(b, c);
            cg_buf_printf(b, "\",result=\"%s\"} %llu\n", rows[r].result,
                          (unsigned long long)rows[r].n);
        }
    }
}

static void render_spools(struct cg_buf *b, struct cg_deliver *d)
{
    struct cg_consumer_stats s;
    const char *c;
    family(b, "citygate_spool_depth", "gauge",
           "Events waiting in each consumer's spool.");
    for (size_t i = 0; i < cg_deliver_consumer_stats(d, i, &c, &s); i++)
        sample(b, "citygate_spool_depth", "consumer", c, s.queued);
    family(b, "citygate_spool_bytes", "gauge",
           "Bytes of the events waiting in each consumer's spool.");
    for (size_t i = 0; i < cg_deliver_consumer_stats(d, i, &c, &s); i++)
        sample(b, "citygate_spool_bytes", "consumer", c, s.bytes);
    family(b, "citygate_messages_dead_total", "counter",
           "Dead letters by reason.");
    for (int i = 0; i < CG_DEAD_N_REASONS; i++)
        sample(b, "citygate_messages_dead_total", "reason",
               cg_dead_reason_name(i), cg_deliver_dead_count(d, i));
}

static void render_histogram(struct cg_buf *b, struct gw *g)
{
    family(b, "citygate_pipeline_seconds", "histogram",
           "Time from arrival to every event spooled, per message.");
    unsigned long long cum = 0;
    for (int i = 0; i <= GW_N_BUCKETS; i++) {
        cum += atomic_load(&g->pipeline_buckets[i]);
        if (i < GW_N_BUCKETS)
            cg_buf_printf(b,
                          "citygate_pipeline_seconds_bucket{le=\"%g\"} %llu\n",
                          bounds[i], cum);
        else
            cg_buf_printf(b,
                          "citygate_pipeline_seconds_bucket{le=\"+Inf\"} "
                          "%llu\n",
                          cum);
    }
    cg_buf_printf(b, "citygate_pipeline_seconds_sum %.9f\n",
                  atomic_load(&g->pipeline_ns) / 1e9);
    cg_buf_printf(b, "citygate_pipeline_seconds_count %llu\n", cum);
}

/* Connections by name: intake, output, and consumer:NAME for a consumer
 * with a broker of its own. */
static void render_connections(struct cg_buf *b, struct gw *g)
{
    struct cg_consumer_stats s;
    const char *c;
    family(b, "citygate_broker_connected", "gauge",
           "1 while the connection to its broker is up.");
    sample(b, "citygate_broker_connected", "connection", "intake",
           cg_mqtt_connected(g->in));
    sample(b, "citygate_broker_connected", "connection", "output",
           cg_mqtt_connected(g->out));
    for (size_t i = 0; i < cg_deliver_consumer_stats(g->deliver, i, &c, &s);
         i++) {
        if (s.broker < 0)
            continue;
        cg_buf_puts(b, "citygate_broker_connected{connection=\"consumer:");
        put_label(b, c);
        cg_buf_printf(b, "\"} %d\n", s.broker);
    }
}

static void render_process(struct cg_buf *b, struct gw *g)
{
    struct gw_proc p;
    gw__proc_read(&p);
    family(b, "citygate_build_info", "gauge", "The running version.");
    sample(b, "citygate_build_info", "version", CG_VERSION, 1);
    family(b, "citygate_reloads_total", "counter",
           "Reloads of config and rules by result.");
    sample(b, "citygate_reloads_total", "result", "ok", g->reloads_ok);
    sample(b, "citygate_reloads_total", "result", "failed", g->reloads_failed);
    family(b, "process_resident_memory_bytes", "gauge",
           "Resident memory size in bytes.");
    cg_buf_printf(b, "process_resident_memory_bytes %llu\n",
                  (unsigned long long)p.rss_bytes);
    family(b, "process_cpu_seconds_total", "counter",
           "User and system CPU time spent in seconds.");
    cg_buf_printf(b, "process_cpu_seconds_total %.2f\n", p.cpu_seconds);
    family(b, "process_open_fds", "gauge", "Open file descriptors.");
    cg_buf_printf(b, "process_open_fds %llu\n", (unsigned long long)p.open_fds);
    family(b, "process_start_time_seconds", "gauge",
           "Start time of the process since the epoch, in seconds.");
    cg_buf_printf(b, "process_start_time_seconds %.0f\n", g->started);
}

void gw__render_metrics(struct gw *g, struct cg_buf *b)
{
    render_pipeline(b, g->gen.pipeline);
    render_domains(b, g->gen.pipeline);
    render_state(b, g->gen.pipeline);
    render_deliveries(b, g->deliver);
    render_spools(b, g->deliver);
    render_histogram(b, g);
    render_connections(b, g);
    render_process(b, g);
}
