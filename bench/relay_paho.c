/*
 * relay_paho: the Eclipse Paho (asynchronous client) reference relay of
 * the citygate benchmark.
 *
 * It subscribes to one filter and republishes every message unchanged, at
 * the same QoS, on <out>/0 ... <out>/F-1 (F = --fanout). It uses the
 * client library citygate uses, the way citygate's STYLE.md describes the
 * Paho boundary: the arrival callback (on Paho's receive thread) hands the
 * message to MQTTAsync_sendMessage(), which copies it, then frees Paho's
 * copies and returns 1, which is when Paho acknowledges a QoS 1 message.
 * When a send is refused the callback returns 0 and Paho offers the
 * message again later. Up to 100 QoS 1 publishes are in flight, as for
 * citygate.
 *
 * It prints nothing and runs until SIGTERM or SIGINT, which the main
 * thread waits for with sigwait() (blocked before Paho starts its threads,
 * so they never take the signal). Exit status 0, 1 when the client cannot
 * be created, 2 bad usage.
 */
#include <MQTTAsync.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FANOUT 64

struct relay {
    const char *host, *sub, *out, *id;
    int port, qos, inflight;
    unsigned fanout;
    char *topics[MAX_FANOUT];
    MQTTAsync client;
};

static int on_arrived(void *ctx, char *topic, int topic_len,
                      MQTTAsync_message *msg)
{
    struct relay *r = ctx;
    for (unsigned i = 0; i < r->fanout; i++) {
        MQTTAsync_message out = MQTTAsync_message_initializer;
        out.payload = msg->payload;
        out.payloadlen = msg->payloadlen;
        out.qos = r->qos;
        if (MQTTAsync_sendMessage(r->client, r->topics[i], &out, NULL) !=
            MQTTASYNC_SUCCESS)
            return 0; /* offered again later; copies already sent repeat */
    }
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

/* Runs at the first connect and after each automatic reconnect. */
static void on_connected(void *ctx, char *cause)
{
    struct relay *r = ctx;
    MQTTAsync_subscribe(r->client, r->sub, r->qos, NULL);
}

static void on_lost(void *ctx, char *cause)
{
    /* Paho reconnects by itself (automaticReconnect). */
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

static int start(struct relay *r)
{
    char uri[300];
    snprintf(uri, sizeof(uri), "tcp://%s:%d", r->host, r->port);
    if (MQTTAsync_create(&r->client, uri, r->id, MQTTCLIENT_PERSISTENCE_NONE,
                         NULL) != MQTTASYNC_SUCCESS)
        return -1;
    MQTTAsync_setCallbacks(r->client, r, on_lost, on_arrived, NULL);
    MQTTAsync_setConnected(r->client, r, on_connected);
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.keepAliveInterval = 30;
    co.cleansession = 1;
    co.maxInflight = r->inflight;
    co.automaticReconnect = 1;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 2;
    return MQTTAsync_connect(r->client, &co) == MQTTASYNC_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct relay r = {"127.0.0.1", "vendors/#", "bench/out", "relay-paho",
                      1883,        0,           1000,        1,
                      {NULL},      NULL};
    if (parse_args(argc, argv, &r) != 0 || make_topics(&r) != 0) {
        fputs("usage: relay_paho [-h HOST] [-p PORT] [--sub FILTER] "
              "[--out PREFIX] [--qos 0|1] [--fanout F] [--id ID]\n",
              stderr);
        return 2;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    int rc = start(&r) == 0 ? 0 : 1;
    if (rc == 0) {
        int sig;
        sigwait(&stop, &sig);
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
        d.timeout = 1000;
        MQTTAsync_disconnect(r.client, &d);
    }
    if (r.client)
        MQTTAsync_destroy(&r.client);
    for (unsigned i = 0; i < r.fanout; i++)
        free(r.topics[i]);
    return rc;
}
