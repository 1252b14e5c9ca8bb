/*
 * citygate-sim: the publish loop.
 *
 * Messages go out on a fixed-rate schedule: message k is due at
 * start + k / rate on the monotonic clock, so the rate holds over a long
 * run however long each publish takes (sleeping a fixed interval after
 * each message would drift). When the broker holds us back for more than
 * a second the schedule restarts from now instead of bursting to catch up.
 *
 * Vendors take turns, one message each, and within a vendor its devices
 * take turns, so every vendor shows up within the first few messages.
 * Exit status: 0 done, 1 the broker could not be reached or was lost,
 * 2 bad usage.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

/* Share of the malformed scenario's traffic that is deliberately bad. */
#define SIM_BAD_SHARE 0.10

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Everything one run needs; `next` is the turn of the next good message. */
struct sim_run {
    const struct sim_opts *opts;
    struct sim_rng rng;
    struct sim_device *devices; /* vendor-major: vendor v's device i at
                                   v * opts->devices + i */
    size_t n_devices;
    unsigned long next;
    unsigned long *per_vendor; /* good messages published per vendor */
    unsigned long malformed, total;
    double first_sent, last_sent; /* monotonic, for the achieved rate */
};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps until `due` on the monotonic clock, or until a signal. */
static void sleep_until(double due)
{
    struct timespec ts;
    ts.tv_sec = (time_t)floor(due);
    ts.tv_nsec = (long)((due - floor(due)) * 1e9);
    while (!stop_requested &&
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int run_init(struct sim_run *r, const struct sim_opts *o)
{
    memset(r, 0, sizeof(*r));
    r->opts = o;
    r->rng.state = o->seed;
    r->n_devices = sim__vendor_count * (size_t)o->devices;
    r->devices = calloc(r->n_devices, sizeof(*r->devices));
    r->per_vendor = calloc(sim__vendor_count, sizeof(*r->per_vendor));
    if (!r->devices || !r->per_vendor) {
        fprintf(stderr, "citygate-sim: out of memory for %zu devices.\n",
                r->n_devices);
        return -1;
    }
    for (size_t v = 0; v < sim__vendor_count; v++)
        for (int i = 0; i < o->devices; i++)
            sim__device_init(&r->devices[v * (size_t)o->devices + (size_t)i],
                             sim__vendors[v], i, o->scenario, &r->rng);
    return 0;
}

/* Writes the next message; *vendor is its vendor's index, or -1 for a
 * deliberately bad one. Returns 0 or -1 (out of memory). */
static int next_message(struct sim_run *r, struct sim_msg *m, int *vendor)
{
    double now = clock_s(CLOCK_REALTIME);
    if (r->opts->scenario == SIM_MALFORMED &&
        sim__rng_unit(&r->rng) < SIM_BAD_SHARE) {
        *vendor = -1;
        return sim__malformed(r->devices, r->n_devices, &r->rng, now, m);
    }
    size_t v = r->next % sim__vendor_count;
    size_t i = r->next / sim__vendor_count % (size_t)r->opts->devices;
    struct sim_device *d = &r->devices[v * (size_t)r->opts->devices + i];
    r->next++;
    *vendor = (int)v;
    d->now = now;
    sim__device_step(d);
    cg_buf_reset(&m->payload);
    int rc = d->vendor->gen(d, m);
    return rc < 0 || m->payload.oom ? -1 : 0;
}

/* -v: one line per message, as `mosquitto_sub -v` would show it, with
 * bytes that would upset a terminal escaped and huge payloads cut. */
static void print_message(const struct sim_msg *m)
{
    size_t n = m->payload.len;
    if (n > 400)
        n = 400;
    printf("%s ", m->topic);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)m->payload.data[i];
        if (c < 0x20 || c >= 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    if (n < m->payload.len)
        printf("... (%zu bytes)", m->payload.len);
    putchar('\n');
}

/* The fixed-rate schedule: message k is due at base + (k - base_k) / rate. */
struct sim_schedule {
    double start, base;
    unsigned long base_k;
};

/* Waits for message k's turn. Returns 0 to send it, -1 when the run is
 * over (duration reached or a signal). */
static int wait_turn(struct sim_schedule *s, unsigned long k,
                     const struct sim_opts *o)
{
    double due = s->base + (double)(k - s->base_k) / o->rate;
    if (o->duration > 0 && due - s->start >= o->duration)
        return -1;
    sleep_until(due);
    if (stop_requested)
        return -1;
    /* Held back for over a second: restart from now rather than burst. */
    if (clock_s(CLOCK_MONOTONIC) - due > 1.0) {
        s->base = clock_s(CLOCK_MONOTONIC);
        s->base_k = k;
    }
    return 0;
}

static void count_message(struct sim_run *r, int vendor)
{
    r->last_sent = clock_s(CLOCK_MONOTONIC);
    if (r->total == 0)
        r->first_sent = r->last_sent;
    r->total++;
    if (vendor < 0)
        r->malformed++;
    else
        r->per_vendor[vendor]++;
}

/* Returns 0 when the run ended as asked, -1 on a broker or memory error. */
static int publish_loop(struct sim_run *r, struct sim_mqtt *c)
{
    const struct sim_opts *o = r->opts;
    struct sim_msg m = {0};
    struct sim_schedule s = {clock_s(CLOCK_MONOTONIC), 0, 0};
    int rc = 0, vendor;
    s.base = s.start;
    for (unsigned long k = 0; !o->count || r->total < o->count; k++) {
        if (wait_turn(&s, k, o) < 0)
            break;
        if (next_message(r, &m, &vendor) < 0) {
            fprintf(stderr, "citygate-sim: out of memory.\n");
            rc = -1;
            break;
        }
        rc = sim__mqtt_publish(c, &m, o->qos, &stop_requested);
        if (rc < 0)
            break;
        if (o->verbose)
            print_message(&m);
        count_message(r, vendor);
    }
    cg_buf_free(&m.payload);
    return rc == -1 ? -1 : 0;
}

/* One line on stderr. The achieved rate counts the intervals between the
 * first and the last message, the quantity --rate sets. */
static void summary(const struct sim_run *r)
{
    double span = r->last_sent - r->first_sent;
    fflush(stdout); /* keep -v output ahead of the summary */
    fprintf(stderr, "citygate-sim: published %lu messages in %.1f s", r->total,
            span);
    if (r->total > 1 && span > 0)
        fprintf(stderr, " (%.1f msg/s)", (r->total - 1) / span);
    fprintf(stderr,
            ", scenario %s, seed %llu:", sim__scenario_name(r->opts->scenario),
            (unsigned long long)r->opts->seed);
    for (size_t v = 0; v < sim__vendor_count; v++)
        fprintf(stderr, " %s %lu,", sim__vendors[v]->name, r->per_vendor[v]);
    fprintf(stderr, " malformed %lu\n", r->malformed);
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends the sleep */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    struct sim_opts o;
    struct sim_run r;
    int rc = sim__options_parse(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (sim__vendors_check() < 0 || run_init(&r, &o) < 0)
        return 1;
    catch_signals();
    if (o.verbose) /* one line at a time, also into a pipe */
        setvbuf(stdout, NULL, _IOLBF, 0);
    struct sim_mqtt *c = sim__mqtt_open(o.host, o.port, o.uri);
    int reached = c != NULL;
    if (reached) {
        rc = publish_loop(&r, c);
        sim__mqtt_close(c);
        summary(&r);
    }
    fflush(stdout);
    free(r.devices);
    free(r.per_vendor);
    return reached && rc == 0 ? 0 : 1;
}
