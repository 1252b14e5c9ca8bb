/*
 * engine_bench: citygate's pipeline without a broker, for the rule-scaling
 * benchmark and for profiles.
 *
 * It loads a config the way `citygate eval` does (config, plugins,
 * engine), reports how long that took and the memory it holds, then
 * pushes --messages benchmark messages (payload.h, the same shape the load
 * generator sends) through cg_pipeline_process() with callbacks that only
 * count. The messages are built before measuring and reused round-robin,
 * so the measured loop is the engine alone.
 *
 * Instructions per message come from Valgrind:
 *
 *   valgrind --tool=callgrind --toggle-collect=push_messages \
 *       engine_bench -c CONFIG --messages N
 *
 * counts only inside push_messages(), i.e. exactly the instructions of N
 * messages (the same as a run with N messages minus a run with none, but
 * in one run and without the noise of loading). A few warm-up messages
 * run first, outside it, so one-time growth of scratch memory is not
 * counted.
 *
 * Stateful rules (SPEC §13) need time to pass: with --step-ms S each
 * message arrives S ms after the one before (simulated; nothing sleeps),
 * and with --timers N the rules' timers run every N messages, as the
 * gateway's loop would run them, inside the measured loop.
 *
 * Output: "RESULT key=value ..." on stdout; with --show N instead the
 * deliveries of the first N messages, "<consumer> <target>" per line (how
 * the benchmark counts the events a message fans out to). Exit status 0,
 * 1 the config does not load, 2 bad usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/host.h"
#include "pipeline/pipeline.h"
#include "payload.h"

#define SET_SIZE 4096 /* distinct messages, reused round-robin */
#define WARMUP   64

struct counts {
    unsigned long long deliveries, dead;
};

struct msg_set {
    struct cg_message m[SET_SIZE];
    char *topics, *payloads;
};

static int count_delivery(void *user, const struct cg_delivery *d)
{
    ((struct counts *)user)->deliveries++;
    return CG_OK;
}

/* For --show: what `citygate eval` prints, consumer and target. */
static int print_delivery(void *user, const struct cg_delivery *d)
{
    printf("%s %s\n", d->consumer_name, d->target);
    return CG_OK;
}

static int print_dead(void *user, const struct cg_dead *d)
{
    printf("dead %s\n", cg_dead_reason_name(d->reason));
    return CG_OK;
}

static int count_dead(void *user, const struct cg_dead *d)
{
    ((struct counts *)user)->dead++;
    return CG_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS or VmHWM of this process in KiB, 0 when unknown. */
static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            kib = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static int build_set(struct msg_set *s, const struct bench_shape *shape)
{
    s->topics = malloc((size_t)SET_SIZE * BENCH_MAX_TOPIC);
    s->payloads = malloc((size_t)SET_SIZE * (shape->size + 512));
    if (!s->topics || !s->payloads)
        return -1;
    double received = cg_time_now();
    for (size_t i = 0; i < SET_SIZE; i++) {
        char *t = s->topics + i * BENCH_MAX_TOPIC;
        char *p = s->payloads + i * (shape->size + 512);
        size_t tl = bench_topic_write(t, BENCH_MAX_TOPIC, shape, i);
        size_t pl = bench_payload_write(p, shape->size + 512, shape, i,
                                        (double)i, false);
        if (tl == 0 || pl == 0)
            return -1;
        s->m[i] = (struct cg_message){t, tl, (const uint8_t *)p, pl, received};
    }
    return 0;
}

/* The measured loop: callgrind collects only inside this function, so it
 * must keep its name (no inlining, no specialised clone; clang does not
 * clone and does not know the attribute). */
#if defined(__clang__)
#define KEEP_NAME __attribute__((noinline))
#else
#define KEEP_NAME __attribute__((noinline, noclone))
#endif
/* Simulated time for stateful rules (see the top of the file). */
struct sim_clock {
    double step_s;            /* between two messages */
    unsigned long long every; /* run timers every this many; 0: never */
};

KEEP_NAME static int push_messages(struct cg_pipeline *e,
                                   const struct msg_set *s,
                                   unsigned long long n,
                                   const struct cg_emit *emit,
                                   const struct sim_clock *clock)
{
    for (unsigned long long i = 0; i < n; i++) {
        struct cg_message m = s->m[i % SET_SIZE];
        m.received += (double)i * clock->step_s;
        if (clock->every && i % clock->every == 0 &&
            cg_pipeline_timers(e, m.received, emit, NULL) < 0)
            return -1;
        if (cg_pipeline_process(e, &m, emit) < 0)
            return -1;
    }
    return 0;
}

static int load(const char *path, struct cg_config **cfg,
                struct cg_plugin_reg **reg, struct cg_pipeline **e)
{
    struct cg_diags d = {0};
    int rc = cg_config_load(path, NULL, 0, cfg, &d);
    if (rc == CG_OK)
        rc = cg_plugins_load((*cfg)->plugin_paths, (*cfg)->n_plugin_paths, reg,
                             &d);
    if (rc == CG_OK)
        rc = cg_pipeline_new(*cfg, *reg, e, &d);
    struct cg_buf b = {0};
    cg_diags_format(&d, &b);
    if (b.data)
        fputs(b.data, stderr);
    cg_buf_free(&b);
    cg_diags_free(&d);
    if (rc != CG_OK)
        fprintf(stderr, "engine_bench: cannot load %s: %s\n", path,
                cg_strerror(rc));
    return rc == CG_OK ? 0 : -1;
}

static int measure(struct cg_pipeline *e, const struct msg_set *set,
                   unsigned long long n, double load_s, long rss_loaded,
                   const struct sim_clock *clock)
{
    struct counts c = {0};
    struct cg_emit emit = {count_delivery, count_dead, &c};
    int rc = 0;
    for (unsigned i = 0; i < WARMUP && rc == 0; i++) /* not collected */
        rc = cg_pipeline_process(e, &set->m[i], &emit) < 0 ? -1 : 0;
    c = (struct counts){0};
    double t0 = now_s();
    if (rc == 0)
        rc = push_messages(e, set, n, &emit, clock);
    double t = now_s() - t0;
    printf("RESULT rules=%zu load_ms=%.1f rss_loaded_kib=%ld "
           "hwm_kib=%ld messages=%llu deliveries=%llu dead=%llu "
           "ns_per_msg=%.0f\n",
           cg_ruleset_count(cg_pipeline_rules(e)), load_s * 1e3, rss_loaded,
           status_kib("VmHWM"), n, c.deliveries, c.dead,
           n ? t * 1e9 / (double)n : 0.0);
    return rc;
}

/* Runs the first n messages of the set and prints their deliveries. */
static int show(struct cg_pipeline *e, const struct msg_set *set,
                unsigned long long n)
{
    struct cg_emit emit = {print_delivery, print_dead, NULL};
    for (unsigned long long i = 0; i < n && i < SET_SIZE; i++)
        if (cg_pipeline_process(e, &set->m[i], &emit) < 0)
            return -1;
    return 0;
}

struct eb_opts {
    const char *config;
    unsigned long long n, n_show;
    struct bench_shape shape;
    struct sim_clock clock;
};

static int parse_args(int argc, char **argv, struct eb_opts *o)
{
    static const struct option longs[] = {
        {"config", 1, 0, 'c'},       {"messages", 1, 0, 'n'},
        {"topic-prefix", 1, 0, 'T'}, {"prefixes", 1, 0, 'P'},
        {"devices", 1, 0, 'D'},      {"size", 1, 0, 's'},
        {"show", 1, 0, 'w'},         {"step-ms", 1, 0, 'S'},
        {"timers", 1, 0, 'R'},       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:n:", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'n':
            o->n = strtoull(optarg, NULL, 10);
            break;
        case 'T':
            o->shape.prefix = optarg;
            break;
        case 'P':
            o->shape.prefixes = (unsigned)atoi(optarg);
            break;
        case 'D':
            o->shape.devices = (unsigned)atoi(optarg);
            break;
        case 's':
            o->shape.size = (size_t)atoi(optarg);
            break;
        case 'w':
            o->n_show = strtoull(optarg, NULL, 10);
            break;
        case 'S':
            o->clock.step_s = strtod(optarg, NULL) / 1000.0;
            break;
        case 'R':
            o->clock.every = strtoull(optarg, NULL, 10);
            break;
        default:
            return -1;
        }
    }
    return o->config && optind == argc && o->shape.devices > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct eb_opts o = {
        NULL, 10000, 0, {"vendors/aircheck/aqs", 0, 100, 210}, {0, 0}};
    if (parse_args(argc, argv, &o) != 0) {
        fputs("usage: engine_bench -c CONFIG [--messages N] "
              "[--topic-prefix T] [--prefixes P] [--devices K] "
              "[--size B] [--show N] [--step-ms S] [--timers N]\n",
              stderr);
        return 2;
    }
    struct cg_config *cfg = NULL;
    struct cg_plugin_reg *reg = NULL;
    struct cg_pipeline *e = NULL;
    static struct msg_set set;
    double t0 = now_s();
    int rc = load(o.config, &cfg, &reg, &e);
    double load_s = now_s() - t0;
    long rss_loaded = status_kib("VmRSS");
    if (rc == 0 && (rc = build_set(&set, &o.shape)) != 0)
        fprintf(stderr, "engine_bench: cannot build messages\n");
    if (rc == 0)
        rc = o.n_show ? show(e, &set, o.n_show)
                      : measure(e, &set, o.n, load_s, rss_loaded, &o.clock);
    free(set.topics);
    free(set.payloads);
    cg_pipeline_free(e);
    cg_plugins_free(reg);
    cg_config_free(cfg);
    return rc == 0 ? 0 : 1;
}
