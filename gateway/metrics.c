/*
 * /metrics in the Prometheus text format (SPEC §9), served by
 * libmicrohttpd on its own thread when gateway.metrics_listen is set.
 *
 * One owner: the page is rendered on the loop thread, which owns the
 * generation (pipeline, consumers) and so can read it without a lock.
 * The server's thread asks for a fresh page (a wake-up), waits for it
 * briefly and serves that snapshot; it never touches gateway state.
 *
 * The server is bounded (SPEC §16, systemd's default of 1024 descriptors):
 * a cap on connections in all and per address, and a timeout, so idle
 * clients cannot take the descriptors deliveries and reloads need.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "run.h"

#define MAX_CONNECTIONS    64
#define MAX_PER_IP         16
#define CONNECTION_TIMEOUT 10 /* seconds */
#define SNAPSHOT_WAIT_MS   1000

struct gw_metrics {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    pthread_cond_t fresh;
    bool requested;
    unsigned long long version; /* of page */
    struct cg_buf page;
};

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

/* ---- rendering, on the loop thread ------------------------------------ */

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

static void render_delivery(struct cg_buf *b, struct cg_deliver *d)
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
    family(b, "citygate_spool_depth", "gauge",
           "Events waiting in each consumer's spool.");
    for (size_t i = 0; i < cg_deliver_consumer_stats(d, i, &c, &s); i++)
        sample(b, "citygate_spool_depth", "consumer", c, s.queued);
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

void gw__metrics_serve(struct gw *g)
{
    struct gw_metrics *m = g->metrics;
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bool wanted = m->requested;
    pthread_mutex_unlock(&m->lock);
    if (!wanted)
        return;
    struct cg_buf page = {0};
    render_pipeline(&page, g->gen.pipeline);
    render_state(&page, g->gen.pipeline);
    render_delivery(&page, g->deliver);
    render_histogram(&page, g);
    pthread_mutex_lock(&m->lock);
    struct cg_buf old = m->page;
    m->page = page;
    m->version++;
    m->requested = false;
    pthread_cond_broadcast(&m->fresh);
    pthread_mutex_unlock(&m->lock);
    cg_buf_free(&old);
}

/* ---- serving, on the server's thread ------------------------------------ */

static void deadline_in_ms(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Asks the loop thread for a fresh page and copies it (or the last one,
 * should the loop be busy with a reload). */
static void snapshot(struct gw *g, struct cg_buf *out)
{
    struct gw_metrics *m = g->metrics;
    struct timespec until;
    deadline_in_ms(&until, SNAPSHOT_WAIT_MS);
    pthread_mutex_lock(&m->lock);
    unsigned long long seen = m->version;
    m->requested = true;
    cg_loop_wake(g->loop);
    while (m->version == seen &&
           pthread_cond_timedwait(&m->fresh, &m->lock, &until) == 0)
        ;
    cg_buf_put(out, m->page.data ? m->page.data : "", m->page.len);
    pthread_mutex_unlock(&m->lock);
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             const char *version, const char *upload,
                             size_t *upload_size, void **state)
{
    struct cg_buf b = {0};
    int status = MHD_HTTP_OK;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        cg_buf_puts(&b, "only GET\n");
    } else if (strcmp(url, "/metrics")) {
        status = MHD_HTTP_NOT_FOUND;
        cg_buf_puts(&b, "citygate serves /metrics\n");
    } else {
        snapshot(cls, &b);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        b.len, b.data ? b.data : (char *)"", MHD_RESPMEM_MUST_COPY);
    cg_buf_free(&b);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

/* "127.0.0.1:9108" or ":9108" (every address); checked at load. */
static int parse_listen(const char *s, struct sockaddr_in *sa)
{
    char host[64] = "0.0.0.0";
    const char *colon = strrchr(s, ':');
    unsigned port;
    if (!colon || sscanf(colon + 1, "%u", &port) != 1 || port > 65535 ||
        (size_t)(colon - s) >= sizeof(host))
        return -1;
    if (colon > s) {
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static struct MHD_Daemon *start_daemon(struct gw *g, struct sockaddr_in *sa)
{
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, ntohs(sa->sin_port),
        NULL, NULL, serve, g, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
        MHD_OPTION_END);
}

int gw__metrics_start(struct gw *g)
{
    const char *listen = g->gen.cfg->gateway.metrics_listen;
    struct sockaddr_in sa;
    if (!listen)
        return CG_OK;
    if (parse_listen(listen, &sa) < 0) {
        fprintf(stderr, "citygate: metrics_listen '%s' is not host:port\n",
                listen);
        return CG_EINVAL;
    }
    struct gw_metrics *m = cg_calloc(1, sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->fresh, NULL);
    g->metrics = m;
    if (!(m->daemon = start_daemon(g, &sa))) {
        fprintf(stderr, "citygate: cannot serve metrics on %s\n", listen);
        gw__metrics_stop(g);
        return CG_EIO;
    }
    cg_log(CG_LOG_INFO, "metrics on http://%s/metrics", listen);
    return CG_OK;
}

void gw__metrics_stop(struct gw *g)
{
    struct gw_metrics *m = g->metrics;
    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->fresh);
    cg_buf_free(&m->page);
    cg_free(m);
    g->metrics = NULL;
}
