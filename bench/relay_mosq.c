/*
 * relay_mosq: the libmosquitto reference relay of the citygate benchmark.
 *
 * It subscribes to one filter and republishes every message unchanged, at
 * the same QoS, on <out>/0 ... <out>/F-1 (F = --fanout, so it can mirror
 * the number of events citygate makes of one message). It does nothing
 * else, which makes it the floor that citygate's cost per message is
 * measured against.
 *
 * It runs the client the way libmosquitto's documentation shows:
 * mosquitto_loop() in the main thread, publishing from the message
 * callback (libmosquitto acknowledges a QoS 1 message after the callback
 * returns). Up to 100 QoS 1 publishes are in flight, as for citygate's
 * Paho client and the benchmark broker. It prints nothing and runs until
 * SIGTERM or SIGINT; exit status 0, or 1 when the broker is unreachable
 * at start, 2 bad usage.
 */
#include <getopt.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FANOUT 64

struct relay {
    const char *host, *sub, *out, *id;
    int port, qos;
    unsigned fanout;
    char *topics[MAX_FANOUT];
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Subscribing here renews the subscription after every reconnect. */
static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    struct relay *r = obj;
    if (rc == 0)
        mosquitto_subscribe(m, NULL, r->sub, r->qos);
}

static void on_message(struct mosquitto *m, void *obj,
                       const struct mosquitto_message *msg)
{
    struct relay *r = obj;
    for (unsigned i = 0; i < r->fanout; i++)
        mosquitto_publish(m, NULL, r->topics[i], msg->payloadlen, msg->payload,
                          r->qos, false);
}

static int parse_args(int argc, char **argv, struct relay *r)
{
    static const struct option longs[] = {
        {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"sub", 1, 0, 's'},
        {"out", 1, 0, 'o'},  {"qos", 1, 0, 'q'},  {"fanout", 1, 0, 'f'},
        {"id", 1, 0, 'i'},   {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h:p:", longs, NULL)) != -1) {
        switch (c) {
        case 'h':
            r->host = optarg;
            break;
        case 'p':
            r->port = atoi(optarg);
            break;
        case 's':
            r->sub = optarg;
            break;
        case 'o':
            r->out = optarg;
            break;
        case 'q':
            r->qos = atoi(optarg);
            break;
        case 'f':
            r->fanout = (unsigned)atoi(optarg);
            break;
        case 'i':
            r->id = optarg;
            break;
        default:
            return -1;
        }
    }
    return optind == argc && r->port > 0 && (r->qos == 0 || r->qos == 1) &&
                   r->fanout >= 1 && r->fanout <= MAX_FANOUT
               ? 0
               : -1;
}

static int make_topics(struct relay *r)
{
    for (unsigned i = 0; i < r->fanout; i++) {
        size_t n = strlen(r->out) + 16;
        r->topics[i] = malloc(n);
        if (!r->topics[i])
            return -1;
        snprintf(r->topics[i], n, "%s/%u", r->out, i);
    }
    return 0;
}

/* mosquitto_loop() returns on a signal (its select is interrupted), so the
 * stop flag is seen within one pass. */
static void serve(struct mosquitto *m)
{
    while (!stop_requested) {
        if (mosquitto_loop(m, 1000, 1) == MOSQ_ERR_SUCCESS)
            continue;
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
        if (!stop_requested)
            mosquitto_reconnect(m);
    }
}

int main(int argc, char **argv)
{
    struct relay r = {"127.0.0.1", "vendors/#", "bench/out", "relay-mosq",
                      1883,        0,           1,           {NULL}};
    if (parse_args(argc, argv, &r) != 0 || make_topics(&r) != 0) {
        fputs("usage: relay_mosq [-h HOST] [-p PORT] [--sub FILTER] "
              "[--out PREFIX] [--qos 0|1] [--fanout F] [--id ID]\n",
              stderr);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(r.id, true, &r);
    int rc = m ? 0 : 1;
    if (m) {
        mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
        mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 100);
        mosquitto_connect_callback_set(m, on_connect);
        mosquitto_message_callback_set(m, on_message);
        rc = mosquitto_connect(m, r.host, r.port, 30) ? 1 : 0;
    }
    if (rc == 0) {
        serve(m);
        mosquitto_disconnect(m);
    }
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    for (unsigned i = 0; i < r.fanout; i++)
        free(r.topics[i]);
    return rc;
}
