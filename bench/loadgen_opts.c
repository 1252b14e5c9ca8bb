/*
 * loadgen's command line: every option sets one field of struct lg_opts;
 * values are checked here so the run never starts with a rate of zero or
 * a QoS of 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loadgen.h"

/* Runs get distinct sequence numbers, a million per second of the wall
 * clock, so an event that a system under test delivers after its run has
 * ended is never taken for one of the next run's (rates stay far below a
 * million a second). The numbers wrap every 10,000 s. */
static uint64_t default_first_seq(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)(ts.tv_sec % 10000) * 1000000u +
           (uint64_t)ts.tv_nsec / 1000u;
}

const char *lg_mode_name(enum lg_mode m)
{
    return m == MODE_RATE ? "rate" : m == MODE_FLAT ? "flat" : "closed";
}

void lg_usage(FILE *out)
{
    fputs("usage: loadgen (--rate R | --flat | --closed N) [options]\n"
          "  -h, --host H          broker host (127.0.0.1)\n"
          "  -p, --port P          broker port (1883)\n"
          "  --qos 0|1             publish and subscribe QoS (0)\n"
          "  --duration S          send window in seconds (10)\n"
          "  --size B              payload bytes (210)\n"
          "  --topic-prefix T      topics T/d<k>/telemetry "
          "(vendors/aircheck/aqs)\n"
          "  --devices K           devices per prefix (100)\n"
          "  --prefixes P          P numbered prefixes T<p>/d<k>/... (0)\n"
          "  --sub FILTER          where results arrive; repeatable "
          "(city/#)\n"
          "  --expect-fanout F     events expected per message (1)\n"
          "  --reject-every N      every Nth message must yield no event\n"
          "  --timeout S           a message later than this is lost (5)\n"
          "  --drain S             wait after the window at most (10)\n"
          "  --ready S             wait for the system under test (15)\n"
          "  --label NAME          names the run in the output\n"
          "  --id ID               client id prefix\n"
          "  --first-seq N         first sequence number (default: from\n"
          "                        the clock, so runs never overlap)\n"
          "  --progress            a line per second on stderr\n",
          out);
}

static int parse_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* The remaining numeric options, which take any non-negative value. */
static int set_time_option(struct lg_opts *o, int c, double v)
{
    switch (c) {
    case 'd':
        o->duration = v;
        break;
    case 's':
        o->shape.size = (size_t)v;
        break;
    case 'D':
        o->shape.devices = (unsigned)v;
        return v >= 1 ? 0 : -1;
    case 'P':
        o->shape.prefixes = (unsigned)v;
        break;
    case 'R':
        o->reject_every = (unsigned)v;
        break;
    case 'N':
        o->first_seq = (uint64_t)v;
        break;
    case 'o':
        o->timeout = v;
        break;
    case 'n':
        o->drain = v;
        break;
    default: /* 'y' */
        o->ready = v;
        break;
    }
    return 0;
}

/* Options whose value is text, or that take none. */
static int set_text_option(struct lg_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'h':
        o->host = arg;
        break;
    case 'T':
        o->shape.prefix = arg;
        break;
    case 'S':
        if (o->n_subs == LG_MAX_SUBS)
            return -1;
        o->subs[o->n_subs++] = arg;
        break;
    case 'L':
        o->label = arg;
        break;
    case 'I':
        o->id = arg;
        break;
    case 'f':
        o->mode = MODE_FLAT;
        break;
    default: /* 'g' */
        o->progress = true;
        break;
    }
    return 0;
}

/* Counts, rates and times; returns -1 for a value out of range. */
static int set_number_option(struct lg_opts *o, int c, double v)
{
    bool ok = true;
    switch (c) {
    case 'p':
        o->port = (int)v;
        ok = v >= 1 && v < 65536;
        break;
    case 'q':
        o->qos = (int)v;
        ok = v == 0 || v == 1;
        break;
    case 'r':
        o->mode = MODE_RATE;
        o->rate = v;
        ok = v > 0;
        break;
    case 'c':
        o->mode = MODE_CLOSED;
        o->closed = (unsigned)v;
        ok = v >= 1;
        break;
    case 'F':
        o->fanout = (unsigned)v;
        ok = v >= 1 && v < 255;
        break;
    default:
        return set_time_option(o, c, v);
    }
    return ok ? 0 : -1;
}

static int set_option(struct lg_opts *o, int c, const char *arg)
{
    double v;
    if (c && strchr("hTSLIfg", c))
        return set_text_option(o, c, arg);
    if (parse_number(arg, 0, 1e12, &v) != 0)
        return -1;
    return set_number_option(o, c, v);
}

static const struct option long_options[] = {{"host", 1, 0, 'h'},
                                             {"port", 1, 0, 'p'},
                                             {"qos", 1, 0, 'q'},
                                             {"rate", 1, 0, 'r'},
                                             {"closed", 1, 0, 'c'},
                                             {"flat", 0, 0, 'f'},
                                             {"duration", 1, 0, 'd'},
                                             {"size", 1, 0, 's'},
                                             {"topic-prefix", 1, 0, 'T'},
                                             {"devices", 1, 0, 'D'},
                                             {"prefixes", 1, 0, 'P'},
                                             {"sub", 1, 0, 'S'},
                                             {"expect-fanout", 1, 0, 'F'},
                                             {"reject-every", 1, 0, 'R'},
                                             {"timeout", 1, 0, 'o'},
                                             {"drain", 1, 0, 'n'},
                                             {"ready", 1, 0, 'y'},
                                             {"label", 1, 0, 'L'},
                                             {"id", 1, 0, 'I'},
                                             {"first-seq", 1, 0, 'N'},
                                             {"progress", 0, 0, 'g'},
                                             {"help", 0, 0, 'H'},
                                             {0, 0, 0, 0}};

int lg_opts_parse(int argc, char **argv, struct lg_opts *o)
{
    *o = (struct lg_opts){.host = "127.0.0.1",
                          .label = "loadgen",
                          .port = 1883,
                          .duration = 10,
                          .drain = 10,
                          .timeout = 5,
                          .ready = 15,
                          .fanout = 1,
                          .first_seq = default_first_seq(),
                          .shape = {"vendors/aircheck/aqs", 0, 100, 210}};
    int c;
    while ((c = getopt_long(argc, argv, "h:p:", long_options, NULL)) != -1) {
        if (c == 'H') {
            lg_usage(stdout);
            exit(0);
        }
        if (c == '?' || set_option(o, c, optarg ? optarg : "") != 0) {
            fprintf(stderr, "loadgen: bad option %s\n", argv[optind - 1]);
            return -1;
        }
    }
    if (o->n_subs == 0)
        o->subs[o->n_subs++] = "city/#";
    if (o->mode == MODE_NONE || optind < argc) {
        fprintf(stderr, "loadgen: give one of --rate, --flat, --closed\n");
        return -1;
    }
    return 0;
}
