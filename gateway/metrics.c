/*
 * The HTTP side of gateway.metrics_listen (SPEC §9, §16), served by
 * libmicrohttpd on its own thread: /metrics (Prometheus text), /healthz
 * (200 or 503 with a JSON verdict), /status.json (what the live page
 * shows) and / (the live page itself, static, compiled in).
 *
 * One owner: the pages are rendered on the loop thread, which owns the
 * generation (pipeline, consumers) and so can read it without a lock.
 * The server's thread asks for fresh pages (a wake-up), waits for them
 * briefly and serves that snapshot; it never touches gateway state.
 *
 * The server is bounded (SPEC §16, systemd's default of 1024 descriptors):
 * a cap on connections in all and per address, and a timeout, so idle
 * clients cannot take the descriptors deliveries and reloads need.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "run.h"

#define MAX_CONNECTIONS    64
#define MAX_PER_IP         16
#define CONNECTION_TIMEOUT 10 /* seconds */
#define SNAPSHOT_WAIT_MS   1000

/* What the loop thread rendered last, for the server to copy. */
struct pages {
    struct cg_buf metrics, status, health;
    bool healthy;
    double rendered; /* monotonic time */
};

struct gw_metrics {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    pthread_cond_t fresh;
    bool requested;
    unsigned long long version; /* of pages */
    struct pages pages;
};

static void pages_free(struct pages *p)
{
    cg_buf_free(&p->metrics);
    cg_buf_free(&p->status);
    cg_buf_free(&p->health);
}

/* ---- rendering, on the loop thread ------------------------------------ */

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
    struct pages next = {0};
    gw__render_metrics(g, &next.metrics);
    gw__render_status(g, &next.status);
    gw__render_health(g, &next.health, &next.healthy);
    next.rendered = cg_time_mono();
    pthread_mutex_lock(&m->lock);
    struct pages old = m->pages;
    m->pages = next;
    m->version++;
    m->requested = false;
    pthread_cond_broadcast(&m->fresh);
    pthread_mutex_unlock(&m->lock);
    pages_free(&old);
}

/* ---- serving, on the server's thread ------------------------------------ */

enum page { PAGE_METRICS, PAGE_STATUS, PAGE_HEALTH };

/* The answer to one request: status, type and body. */
struct reply {
    unsigned status;
    const char *type;
    struct cg_buf body;
};

/* A health answer from pages the loop thread rendered this long ago
 * still stands (a reload may keep it busy for the 5 s drain); older, the
 * loop itself is in trouble. */
#define HEALTH_STALE_S 10.0

static void copy_page(const struct pages *p, enum page which, struct reply *r)
{
    const struct cg_buf *src = which == PAGE_METRICS  ? &p->metrics
                               : which == PAGE_STATUS ? &p->status
                                                      : &p->health;
    double age = cg_time_mono() - p->rendered;
    if (which == PAGE_HEALTH && (!p->rendered || age > HEALTH_STALE_S)) {
        r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        cg_buf_printf(&r->body,
                      "{\"state\":\"unhealthy\",\"reason\":\"the gateway's "
                      "loop has not answered for %.0f s\"}\n",
                      p->rendered ? age : 0);
        return;
    }
    if (which == PAGE_HEALTH && !p->healthy)
        r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
    cg_buf_put(&r->body, src->data ? src->data : "", src->len);
}

/* Asks the loop thread for fresh pages and copies one (or the last ones,
 * should the loop be busy with a reload). */
static void snapshot(struct gw *g, enum page which, struct reply *r)
{
    struct gw_metrics *m = g->metrics;
    struct timespec until;
    cg_time_deadline(&until, SNAPSHOT_WAIT_MS / 1000.0);
    pthread_mutex_lock(&m->lock);
    unsigned long long seen = m->version;
    m->requested = true;
    cg_loop_wake(g->loop);
    while (m->version == seen &&
           pthread_cond_timedwait(&m->fresh, &m->lock, &until) == 0)
        ;
    copy_page(&m->pages, which, r);
    pthread_mutex_unlock(&m->lock);
}

/* The routes: the live page is static (it fetches /status.json), the
 * others come from the loop thread's snapshot. */
static void route(struct gw *g, const char *url, struct reply *r)
{
    if (!strcmp(url, "/metrics")) {
        r->type = "text/plain; version=0.0.4";
        snapshot(g, PAGE_METRICS, r);
    } else if (!strcmp(url, "/healthz")) {
        r->type = "application/json";
        snapshot(g, PAGE_HEALTH, r);
    } else if (!strcmp(url, "/status.json")) {
        r->type = "application/json";
        snapshot(g, PAGE_STATUS, r);
    } else if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        r->type = "text/html; charset=utf-8";
        cg_buf_put(&r->body, gw__live_page, gw__live_page_len);
    } else {
        r->status = MHD_HTTP_NOT_FOUND;
        cg_buf_puts(&r->body, "citygate serves /, /status.json, /healthz "
                              "and /metrics\n");
    }
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             const char *version, const char *upload,
                             size_t *upload_size, void **state)
{
    struct reply r = {MHD_HTTP_OK, "text/plain; charset=utf-8", {0}};
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        r.status = MHD_HTTP_METHOD_NOT_ALLOWED;
        cg_buf_puts(&r.body, "only GET\n");
    } else {
        route(cls, url, &r);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r.body.len, r.body.data ? r.body.data : (char *)"",
        MHD_RESPMEM_MUST_COPY);
    cg_buf_free(&r.body);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r.type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
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

/* Why the listener did not start: libmicrohttpd does not say, a bind of
 * our own to the same address (with its SO_REUSEADDR) does. */
static const char *bind_error(const struct sockaddr_in *sa)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return strerror(errno);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const char *why = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0
                          ? strerror(errno)
                          : "the HTTP server could not start";
    close(fd);
    return why;
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
        cg_log(CG_LOG_ERROR, "metrics_listen '%s' is not host:port", listen);
        return CG_EINVAL;
    }
    struct gw_metrics *m = cg_calloc(1, sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->fresh, NULL);
    g->metrics = m;
    if (!(m->daemon = start_daemon(g, &sa))) {
        cg_log(CG_LOG_ERROR, "cannot serve metrics on %s: %s", listen,
               bind_error(&sa));
        gw__metrics_stop(g);
        return CG_EIO;
    }
    cg_log(CG_LOG_INFO,
           "serving http://%s/ (live page), /metrics, /healthz and "
           "/status.json",
           listen);
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
    pages_free(&m->pages);
    cg_free(m);
    g->metrics = NULL;
}
