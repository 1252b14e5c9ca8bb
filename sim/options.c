/*
 * citygate-sim: the command line (SPEC §7).
 *
 *   citygate-sim [-b URI] [--devices N] [--rate MSG_PER_S] [--duration S]
 *                [--scenario NAME] [--seed N] [--qos 0|1] [--count N] [-v]
 *
 * Every value is checked here, whole, before anything connects: a typo in
 * a number is a usage error (exit 2), never a silent zero.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

enum {
    OPT_DEVICES = 256,
    OPT_RATE,
    OPT_DURATION,
    OPT_SCENARIO,
    OPT_SEED,
    OPT_QOS,
    OPT_COUNT,
};

static const struct option long_options[] = {
    {"broker", required_argument, NULL, 'b'},
    {"devices", required_argument, NULL, OPT_DEVICES},
    {"rate", required_argument, NULL, OPT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"seed", required_argument, NULL, OPT_SEED},
    {"qos", required_argument, NULL, OPT_QOS},
    {"count", required_argument, NULL, OPT_COUNT},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs("usage: citygate-sim [-b URI] [--devices N] [--rate MSG_PER_S] "
          "[--duration S]\n"
          "                    [--scenario NAME] [--seed N] [--qos 0|1] "
          "[--count N] [-v]\n\n"
          "Publishes realistic telemetry for every vendor of the example "
          "city\n(config/citygate.yaml), each in its own format and topic "
          "layout.\n\n"
          "  -b, --broker URI   tcp://HOST:PORT or mqtt://HOST:PORT "
          "(default tcp://127.0.0.1:1883)\n"
          "  --devices N        devices per vendor (default 3)\n"
          "  --rate R           messages per second, all vendors together "
          "(default 20)\n"
          "  --duration S       stop after S seconds (default 0: until "
          "Ctrl-C)\n"
          "  --count N          stop after N messages (default 0: no limit)\n"
          "  --scenario NAME    normal | smog | flood | heatwave | incident "
          "| malformed\n"
          "  --seed N           repeat a run exactly (default: from the "
          "clock)\n"
          "  --qos 0|1          publish QoS (default 1)\n"
          "  -v, --verbose      print each message's topic and payload\n"
          "  -h, --help         this text\n\n"
          "Scenarios: normal (everyday drift, a few threshold crossings), "
          "smog (PM2.5,\nPM10, NO2 episode), flood (rivers past the warning "
          "and guaranteed stages,\nheavy rain), heatwave (ozone, grid and "
          "building load, water demand),\nincident (smoke, CO, panic buttons, "
          "falls), malformed (normal traffic plus\nabout 10 % deliberately "
          "bad messages the gateway must dead-letter).\n",
          f);
    fputs("\nVendors:", f);
    for (size_t i = 0; i < sim__vendor_count; i++)
        fprintf(f, " %s (%s)%s", sim__vendors[i]->name, sim__vendors[i]->format,
                i + 1 < sim__vendor_count ? "," : "\n");
}

static int bad(const char *what, const char *arg)
{
    fprintf(stderr,
            "citygate-sim: %s: '%s'\n"
            "Try 'citygate-sim --help'.\n",
            what, arg);
    return -1;
}

/* A port: a whole number from 1 to 65535, digits only. */
static int parse_port(const char *arg, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* A seed: any unsigned 64-bit number, so every seed the summary line
 * prints can be given back. */
static int parse_seed(const char *arg, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || *arg == '-')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_double(const char *arg, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

/* tcp://HOST:PORT, mqtt://HOST:PORT or HOST[:PORT]; an IPv6 address goes
 * in brackets. The port defaults to 1883. */
static int parse_uri(const char *uri, struct sim_opts *o)
{
    const char *p = uri, *host, *rest;
    if (strncmp(p, "tcp://", 6) == 0)
        p += 6;
    else if (strncmp(p, "mqtt://", 7) == 0)
        p += 7;
    else if (strstr(p, "://"))
        return -1; /* ssl://, ws://: TLS and websockets are not supported */
    if (*p == '[') {
        host = p + 1;
        if (!(rest = strchr(host, ']')))
            return -1;
    } else {
        host = p;
        rest = host + strcspn(host, ":");
    }
    size_t hlen = (size_t)(rest - host);
    if (hlen == 0 || hlen >= sizeof(o->host))
        return -1;
    memcpy(o->host, host, hlen);
    o->host[hlen] = '\0';
    if (*p == '[')
        rest++;
    o->port = 1883;
    if (*rest == ':')
        return parse_port(rest + 1, &o->port);
    return *rest ? -1 : 0;
}

static void defaults(struct sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->uri = "tcp://127.0.0.1:1883";
    o->devices = 3;
    o->rate = 20;
    o->scenario = SIM_NORMAL;
    o->qos = 1;
    /* Different runs differ unless --seed asks for a repeat. */
    o->seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
}

/* The numeric options: their range and the field they fill, so each is
 * checked the same way (whole numbers where a fraction makes no sense). */
enum num_kind { NUM_INT, NUM_ULONG, NUM_DOUBLE };
static const struct {
    int opt;
    enum num_kind kind;
    size_t offset;
    double min, max;
    const char *want;
} numbers[] = {
    {OPT_DEVICES, NUM_INT, offsetof(struct sim_opts, devices), 1, 100000,
     "--devices wants a whole number from 1 to 100000"},
    {OPT_RATE, NUM_DOUBLE, offsetof(struct sim_opts, rate), 0.001, 1e6,
     "--rate wants messages per second, above 0"},
    {OPT_DURATION, NUM_DOUBLE, offsetof(struct sim_opts, duration), 0, 1e9,
     "--duration wants seconds (0: no limit)"},
    {OPT_QOS, NUM_INT, offsetof(struct sim_opts, qos), 0, 1,
     "--qos wants 0 or 1"},
    {OPT_COUNT, NUM_ULONG, offsetof(struct sim_opts, count), 0, 2147483647,
     "--count wants a whole number (0: no limit)"},
};

static int apply_number(size_t i, const char *arg, struct sim_opts *o)
{
    double v;
    if (parse_double(arg, numbers[i].min, numbers[i].max, &v) < 0 ||
        (numbers[i].kind != NUM_DOUBLE && v != floor(v)))
        return bad(numbers[i].want, arg);
    char *field = (char *)o + numbers[i].offset;
    if (numbers[i].kind == NUM_INT)
        *(int *)(void *)field = (int)v;
    else if (numbers[i].kind == NUM_ULONG)
        *(unsigned long *)(void *)field = (unsigned long)v;
    else
        *(double *)(void *)field = v;
    return 0;
}

/* Applies one option; returns 0, 1 (help shown) or -1 (error printed). */
static int apply(int opt, const char *arg, struct sim_opts *o)
{
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
        if (numbers[i].opt == opt)
            return apply_number(i, arg, o);
    switch (opt) {
    case 'b':
        o->uri = arg;
        return 0;
    case OPT_SCENARIO:
        o->scenario = sim__scenario_parse(arg);
        return o->scenario < 0 ? bad("unknown scenario", arg) : 0;
    case OPT_SEED:
        return parse_seed(arg, &o->seed) < 0
                   ? bad("--seed wants a whole number", arg)
                   : 0;
    case 'v':
        o->verbose = 1;
        return 0;
    case 'h':
        usage(stdout);
        return 1;
    default: /* getopt has printed what was wrong */
        fputs("Try 'citygate-sim --help'.\n", stderr);
        return -1;
    }
}

int sim__options_parse(int argc, char **argv, struct sim_opts *o)
{
    int opt;
    defaults(o);
    while ((opt = getopt_long(argc, argv, "b:vh", long_options, NULL)) != -1) {
        int rc = apply(opt, optarg, o);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return bad("unexpected argument", argv[optind]);
    if (parse_uri(o->uri, o) < 0)
        return bad("the broker must be tcp://HOST:PORT or mqtt://HOST:PORT",
                   o->uri);
    return 0;
}
