/*
 * loadgen: the load generator of the citygate benchmark.
 *
 * One process, two MQTT connections through libmosquitto: a publisher that
 * sends the benchmark's messages (payload.h) to the broker, and a
 * subscriber that receives what the system under test (a bare relay or
 * citygate) makes of them. Modes:
 *
 *   --rate R    fixed rate: message k is due at start + k / R, so the rate
 *               holds however long a publish takes;
 *   --flat      flat out: as fast as the publishing connection takes
 *               messages, with at most FLAT_WINDOW that libmosquitto has
 *               not yet confirmed (written at QoS 0, acknowledged at QoS 1);
 *   --closed N  closed loop: at most N messages in flight end to end; the
 *               next leaves when one completes or times out. Its delivered
 *               rate is the system's sustained throughput, reached without
 *               queueing anything anywhere.
 *
 * Before measuring, probe messages go out until one comes back, so a
 * system still connecting or subscribing does not show up as loss. After
 * the send window, the run drains until every message is complete or
 * --drain seconds pass.
 *
 * Both connections run on one poll() loop in this thread (libmosquitto's
 * external-loop API), so the bookkeeping needs no locks and the generator
 * takes at most one core of the machine it shares with the broker and the
 * system under test.
 *
 * Output on stdout: "RESULT key=value ..." for scripts, then one line for
 * people. Exit status: 0 the run happened (whatever it lost), 1 the broker
 * or the system under test could not be reached, 2 bad usage.
 */
#include <errno.h>
#include <math.h>
#include <mosquitto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"
#include "payload.h"

#define FLAT_WINDOW  1000 /* unconfirmed publishes in flat mode */
#define BATCH_MAX    1000 /* publishes per loop pass, so reads keep up */
#define SETTLE_S     0.3  /* after the probe, and after the drain */
#define MAX_SUBS     8
#define CONNECT_WAIT 5.0

struct lg {
    struct lg_opts o;
    struct mosquitto *pub, *sub;
    struct lg_track t;
    uint64_t unconfirmed; /* published, on_publish not yet called */
    uint64_t first_seq;   /* of the measured run */
    int connacks;
    unsigned subacks;
    bool broken, closing;
    double started, t0, last_misc, last_progress;
    char topic[BENCH_MAX_TOPIC];
    char payload[BENCH_MAX_PAYLOAD];
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- libmosquitto callbacks (called from our own loop) ---------------- */

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    struct lg *g = obj;
    if (rc == 0)
        g->connacks++;
    else
        g->broken = true;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    struct lg *g = obj;
    if (!g->closing)
        g->broken = true;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    struct lg *g = obj;
    if (g->unconfirmed)
        g->unconfirmed--;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n,
                         const int *granted)
{
    struct lg *g = obj;
    g->subacks++;
}

static void on_message(struct mosquitto *m, void *obj,
                       const struct mosquitto_message *msg)
{
    struct lg *g = obj;
    lg_track_event(&g->t, msg->payload, (size_t)msg->payloadlen, now_s());
}

/* ---- the poll loop ----------------------------------------------------- */

/* Reads what the socket holds. The kernel's byte count decides when to
 * stop, not errno: libmosquitto's wake-up socketpair, which nobody reads
 * in an external loop, leaves EAGAIN behind on every acknowledgement. */
static int read_ready(struct mosquitto *m)
{
    for (int i = 0; i < 4096; i++) {
        int avail = 0;
        if (ioctl(mosquitto_socket(m), FIONREAD, &avail) != 0 || avail <= 0)
            return 0;
        if (mosquitto_loop_read(m, 1) != MOSQ_ERR_SUCCESS)
            return -1;
    }
    return 0;
}

static int service(struct lg *g, struct mosquitto *m, short revents)
{
    if ((revents & (POLLIN | POLLERR | POLLHUP)) && read_ready(m) != 0)
        return -1;
    if (mosquitto_want_write(m) &&
        mosquitto_loop_write(m, 1) != MOSQ_ERR_SUCCESS)
        return -1;
    return 0;
}

static void pump(struct lg *g, int timeout_ms)
{
    struct mosquitto *m[2] = {g->pub, g->sub};
    struct pollfd p[2];
    for (int i = 0; i < 2; i++) {
        p[i].fd = mosquitto_socket(m[i]);
        p[i].events = POLLIN;
        if (mosquitto_want_write(m[i]))
            p[i].events |= POLLOUT;
        p[i].revents = 0;
    }
    if (poll(p, 2, timeout_ms) < 0 && errno != EINTR) {
        g->broken = true;
        return;
    }
    for (int i = 0; i < 2; i++)
        if (service(g, m[i], p[i].revents) != 0)
            g->broken = true;
    double now = now_s();
    if (now - g->last_misc > 0.1) {
        g->last_misc = now;
        if (mosquitto_loop_misc(g->pub) || mosquitto_loop_misc(g->sub))
            g->broken = true;
    }
}

static void pump_for(struct lg *g, double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end && !g->broken)
        pump(g, 10);
}

/* ---- publishing -------------------------------------------------------- */

static int publish_one(struct lg *g, enum lg_state state)
{
    double now = now_s();
    uint64_t seq = lg_track_send(&g->t, state, now);
    size_t tl = bench_topic_write(g->topic, sizeof(g->topic), &g->o.shape, seq);
    size_t pl = bench_payload_write(g->payload, sizeof(g->payload), &g->o.shape,
                                    seq, now, state == LG_REJECT);
    if (tl == 0 || pl == 0)
        return -1;
    g->unconfirmed++; /* before: QoS 0 may confirm inside the call */
    int rc = mosquitto_publish(g->pub, NULL, g->topic, (int)pl, g->payload,
                               g->o.qos, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        g->unconfirmed--;
        g->broken = true;
        return -1;
    }
    return 0;
}

static enum lg_state next_state(const struct lg *g)
{
    uint64_t k = g->t.next_seq - g->first_seq + 1;
    return g->o.reject_every && k % g->o.reject_every == 0 ? LG_REJECT
                                                           : LG_OPEN;
}

/* Sends what the mode allows now; returns the poll timeout in ms. */
static int send_due(struct lg *g, double now)
{
    uint64_t sent = g->t.next_seq - g->first_seq;
    int n = 0;
    switch (g->o.mode) {
    case MODE_RATE: {
        uint64_t due = (uint64_t)((now - g->t0) * g->o.rate) + 1;
        while (sent < due && n++ < BATCH_MAX &&
               publish_one(g, next_state(g)) == 0)
            sent++;
        double next = g->t0 + (double)sent / g->o.rate - now_s();
        return next <= 0 ? 0 : (int)fmin(10, ceil(next * 1000));
    }
    case MODE_CLOSED:
        while (g->t.outstanding < g->o.closed && n++ < BATCH_MAX &&
               publish_one(g, next_state(g)) == 0)
            ;
        return 10;
    default:
        while (g->unconfirmed < FLAT_WINDOW && n++ < BATCH_MAX &&
               publish_one(g, next_state(g)) == 0)
            ;
        return g->unconfirmed < FLAT_WINDOW ? 0 : 10;
    }
}

static void progress(struct lg *g, double now)
{
    if (!g->o.progress || now - g->last_progress < 1.0)
        return;
    g->last_progress = now;
    fprintf(stderr,
            "loadgen %s: t=%.0f sent=%llu delivered=%llu "
            "outstanding=%llu lost=%llu\n",
            g->o.label, now - g->t0, (unsigned long long)g->t.sent,
            (unsigned long long)g->t.delivered,
            (unsigned long long)g->t.outstanding,
            (unsigned long long)g->t.lost);
}

/* ---- phases ------------------------------------------------------------ */

static int connect_all(struct lg *g)
{
    if (mosquitto_connect(g->pub, g->o.host, g->o.port, 30) ||
        mosquitto_connect(g->sub, g->o.host, g->o.port, 30)) {
        fprintf(stderr, "loadgen: cannot connect to %s:%d\n", g->o.host,
                g->o.port);
        return -1;
    }
    double end = now_s() + CONNECT_WAIT;
    while (g->connacks < 2 && !g->broken && now_s() < end)
        pump(g, 10);
    for (unsigned i = 0; i < g->o.n_subs && !g->broken; i++)
        if (mosquitto_subscribe(g->sub, NULL, g->o.subs[i], g->o.qos))
            g->broken = true;
    while (g->subacks < g->o.n_subs && !g->broken && now_s() < end)
        pump(g, 10);
    if (g->broken || g->subacks < g->o.n_subs) {
        fprintf(stderr, "loadgen: no session with %s:%d\n", g->o.host,
                g->o.port);
        return -1;
    }
    return 0;
}

/* Probes every 100 ms until one comes back: the system under test is
 * connected and subscribed. */
static int wait_ready(struct lg *g)
{
    double end = now_s() + g->o.ready, next = 0;
    while (g->t.probes_back == 0 && !g->broken && !stop_requested) {
        double now = now_s();
        if (now > end) {
            fprintf(stderr, "loadgen %s: nothing came back within %.0f s\n",
                    g->o.label, g->o.ready);
            return -1;
        }
        if (now >= next) {
            publish_one(g, LG_PROBE);
            next = now + 0.1;
        }
        pump(g, 10);
    }
    pump_for(g, SETTLE_S);
    return g->broken ? -1 : 0;
}

static void run_window(struct lg *g)
{
    g->first_seq = g->t.next_seq;
    g->t0 = g->t.t_first = now_s();
    g->t.measuring = g->t.sending = true;
    double end = g->t0 + g->o.duration;
    for (double now = g->t0; now < end && !g->broken && !stop_requested;
         now = now_s()) {
        int timeout = send_due(g, now);
        pump(g, timeout);
        lg_track_expire(&g->t, now_s(), false);
        progress(g, now);
    }
    g->t.sending = false;
    g->t.t_send_end = now_s();
}

static void drain(struct lg *g)
{
    double end = g->t.t_send_end + g->o.drain;
    double quiet_until = 0;
    for (double now = now_s(); now < end && !g->broken && !stop_requested;
         now = now_s()) {
        pump(g, 10);
        lg_track_expire(&g->t, now, false);
        progress(g, now);
        if (g->t.outstanding > 0)
            continue;
        if (quiet_until == 0)
            quiet_until = now + SETTLE_S; /* for stray duplicates */
        else if (now > quiet_until)
            break;
    }
    lg_track_expire(&g->t, now_s(), true);
}

/* ---- report ------------------------------------------------------------ */

/* What the two output lines say, derived from the bookkeeping. */
struct summary {
    double window, in_rate, out_rate, win_rate, drain_s, wall_s, cpu_s;
    uint64_t p50, p90, p99;
};

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void summarize(const struct lg *g, struct summary *s)
{
    const struct lg_track *t = &g->t;
    double last = t->t_last_done > g->t0 ? t->t_last_done : t->t_send_end;
    s->window = t->t_send_end - g->t0;
    s->in_rate = s->window > 0 ? (double)t->sent / s->window : 0;
    s->out_rate = last > g->t0 ? (double)t->delivered / (last - g->t0) : 0;
    s->win_rate = s->window > 0 ? (double)t->in_window / s->window : 0;
    s->drain_s = last > t->t_send_end ? last - t->t_send_end : 0;
    s->wall_s = now_s() - g->started;
    s->cpu_s = cpu_seconds();
    s->p50 = lg_hist_quantile(&t->hist, 0.50);
    s->p90 = lg_hist_quantile(&t->hist, 0.90);
    s->p99 = lg_hist_quantile(&t->hist, 0.99);
}

static void print_result(const struct lg *g, const struct summary *s)
{
    const struct lg_track *t = &g->t;
    printf("RESULT label=%s mode=%s qos=%d size=%zu fanout=%u target=%.0f "
           "duration=%.3f drain_s=%.3f wall_s=%.3f cpu_s=%.3f ",
           g->o.label, lg_mode_name(g->o.mode), g->o.qos, g->o.shape.size,
           t->fanout, g->o.mode == MODE_RATE ? g->o.rate : (double)g->o.closed,
           s->window, s->drain_s, s->wall_s, s->cpu_s);
    printf("sent=%llu rejects=%llu delivered=%llu lost=%llu lost_events=%llu "
           "dup=%llu wrong=%llu late=%llu stale=%llu max_outstanding=%llu ",
           (unsigned long long)t->sent, (unsigned long long)t->rejects,
           (unsigned long long)t->delivered, (unsigned long long)t->lost,
           (unsigned long long)t->lost_events, (unsigned long long)t->dup,
           (unsigned long long)t->wrong, (unsigned long long)t->late,
           (unsigned long long)t->stale,
           (unsigned long long)t->max_outstanding);
    printf("in_rate=%.1f out_rate=%.1f window_rate=%.1f events=%llu "
           "p50_us=%llu p90_us=%llu p99_us=%llu max_us=%llu\n",
           s->in_rate, s->out_rate, s->win_rate, (unsigned long long)t->hist.n,
           (unsigned long long)s->p50, (unsigned long long)s->p90,
           (unsigned long long)s->p99, (unsigned long long)t->hist.max_us);
}

static void print_human(const struct lg *g, const struct summary *s)
{
    const struct lg_track *t = &g->t;
    printf("%s: %s qos %d: sent %llu (%.0f/s), delivered %llu (%.0f/s, "
           "%.0f/s while sending), lost %llu, dup %llu, wrong %llu; "
           "latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           g->o.label, lg_mode_name(g->o.mode), g->o.qos,
           (unsigned long long)t->sent, s->in_rate,
           (unsigned long long)t->delivered, s->out_rate, s->win_rate,
           (unsigned long long)t->lost, (unsigned long long)t->dup,
           (unsigned long long)t->wrong, s->p50 / 1e3, s->p99 / 1e3,
           t->hist.max_us / 1e3);
}

static void report(const struct lg *g)
{
    struct summary s;
    summarize(g, &s);
    print_result(g, &s);
    print_human(g, &s);
}

/* ---- main -------------------------------------------------------------- */

static struct mosquitto *client(struct lg *g, const char *role)
{
    char id[128];
    snprintf(id, sizeof(id), "%s-%s", g->o.id ? g->o.id : "loadgen", role);
    struct mosquitto *m = mosquitto_new(id, true, g);
    if (!m)
        return NULL;
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 100);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_disconnect_callback_set(m, on_disconnect);
    mosquitto_publish_callback_set(m, on_publish);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    return m;
}

static int run(struct lg *g)
{
    g->started = now_s();
    if (lg_track_init(&g->t, g->o.fanout, g->o.timeout, g->started,
                      g->o.first_seq) != 0) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    g->pub = client(g, "pub");
    g->sub = client(g, "sub");
    int rc = 1;
    if (g->pub && g->sub && connect_all(g) == 0 && wait_ready(g) == 0) {
        run_window(g);
        drain(g);
        report(g);
        rc = 0;
    }
    g->closing = true;
    if (g->pub)
        mosquitto_disconnect(g->pub);
    if (g->sub)
        mosquitto_disconnect(g->sub);
    mosquitto_destroy(g->pub);
    mosquitto_destroy(g->sub);
    lg_track_free(&g->t);
    return rc;
}

int main(int argc, char **argv)
{
    static struct lg g; /* large buffers: not on the stack */
    if (lg_opts_parse(argc, argv, &g.o) != 0) {
        lg_usage(stderr);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    int rc = run(&g);
    mosquitto_lib_cleanup();
    return rc;
}
