/*
 * relay_paho_sync: the Eclipse Paho synchronous-client reference relay of
 * the citygate benchmark, in single-threaded mode, the way citygate now
 * drives Paho.
 *
 * It subscribes to one filter and republishes every message unchanged, at
 * the same QoS, on <out>/0 ... <out>/F-1 (F = --fanout). No Paho callback
 * is set, so Paho starts no thread: one thread calls MQTTClient_receive
 * and MQTTClient_publish on one client. Up to --inflight QoS 1 publishes
 * are in flight (default 1000); when the window is full, MQTTClient_publish
 * cycles (MQTTClient_yield) until an acknowledgement frees a place. A
 * received QoS 1 message is acknowledged by Paho as it arrives.
 *
 * It prints nothing and runs until SIGTERM or SIGINT (receive returns at
 * least every 100 ms to look at the flag). Exit status 0, 1 when the
 * broker is unreachable at start, 2 bad usage.
 */
#include <MQTTClient.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FANOUT 64

struct relay {
    const char *host, *sub, *out, *id;
    int port, qos, inflight;
    unsigned fanout;
    char *topics[MAX_FANOUT];
    MQTTClient client;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int parse_args(int argc, char **argv, struct relay *r)
{
    static const struct option longs[] = {
        {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'},     {"sub", 1, 0, 's'},
        {"out", 1, 0, 'o'},  {"qos", 1, 0, 'q'},      {"fanout", 1, 0, 'f'},
        {"id", 1, 0, 'i'},   {"inflight", 1, 0, 'n'}, {0, 0, 0, 0}};
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
        case 'n':
            r->inflight = atoi(optarg);
            break;
        default:
            return -1;
        }
    }
    return optind == argc && r->port > 0 && (r->qos == 0 || r->qos == 1) &&
                   r->fanout >= 1 && r->fanout <= MAX_FANOUT && r->inflight >= 1
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

/* Paho leaves Nagle's algorithm on; citygate turns it off, and so does
 * this relay (and relay_mosq), so that all of them are compared alike.
 * The relay's only TCP socket is its connection to the broker. */
static void set_nodelay(void)
{
    for (int fd = 3; fd < 64; fd++) {
        int one = 1, type = 0;
        socklen_t len = sizeof(type);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
            type == SOCK_STREAM)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static int connect_and_subscribe(struct relay *r)
{
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
    o.keepAliveInterval = 30;
    o.cleansession = 1;
    o.reliable = 0;
    o.maxInflightMessages = r->inflight;
    if (MQTTClient_connect(r->client, &o) != MQTTCLIENT_SUCCESS)
        return -1;
    set_nodelay();
    return MQTTClient_subscribe(r->client, r->sub, r->qos) == MQTTCLIENT_SUCCESS
               ? 0
               : -1;
}

static void relay_one(struct relay *r, const MQTTClient_message *m)
{
    for (unsigned i = 0; i < r->fanout; i++)
        MQTTClient_publish(r->client, r->topics[i], m->payloadlen, m->payload,
                           r->qos, 0, NULL);
}

static void serve(struct relay *r)
{
    while (!stop_requested) {
        char *topic = NULL;
        int tlen = 0;
        MQTTClient_message *m = NULL;
        int rc = MQTTClient_receive(r->client, &topic, &tlen, &m, 100);
        if (m) {
            relay_one(r, m);
            MQTTClient_freeMessage(&m);
            MQTTClient_free(topic);
        } else if (rc != MQTTCLIENT_SUCCESS && !stop_requested) {
            struct timespec pause = {0, 200 * 1000 * 1000};
            nanosleep(&pause, NULL);
            if (!MQTTClient_isConnected(r->client))
                connect_and_subscribe(r);
        }
    }
}

int main(int argc, char **argv)
{
    struct relay r = {"127.0.0.1", "vendors/#", "bench/out", "relay-paho-sync",
                      1883,        0,           1000,        1,
                      {NULL},      NULL};
    if (parse_args(argc, argv, &r) != 0 || make_topics(&r) != 0) {
        fputs("usage: relay_paho_sync [-h HOST] [-p PORT] [--sub FILTER] "
              "[--out PREFIX] [--qos 0|1] [--fanout F] [--id ID] "
              "[--inflight N]\n",
              stderr);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    char uri[300];
    snprintf(uri, sizeof(uri), "tcp://%s:%d", r.host, r.port);
    int rc =
        MQTTClient_create(&r.client, uri, r.id, MQTTCLIENT_PERSISTENCE_NONE,
                          NULL) == MQTTCLIENT_SUCCESS
            ? 0
            : 1;
    if (rc == 0)
        rc = connect_and_subscribe(&r) == 0 ? 0 : 1;
    if (rc == 0) {
        serve(&r);
        MQTTClient_disconnect(r.client, 1000);
    }
    if (r.client)
        MQTTClient_destroy(&r.client);
    for (unsigned i = 0; i < r.fanout; i++)
        free(r.topics[i]);
    return rc;
}
