/*
 * The mqtt sink: publishes each event on its own topic at its own qos
 * through host->publish(), which owns the connection (the gateway's, or
 * the consumer's own `broker:`), the topics and the acknowledgements.
 *
 * So this sink holds no state beyond the host pointer, and it is tiny on
 * purpose. Its one decision: whatever publish() answers other than CG_OK
 * is transient, because an MQTT broker never refuses a batch for good in
 * a way the host could tell apart from a lost connection.
 */
#include <stddef.h>
#include <stdio.h>

#include "base.h"
#include "builtin.h"

/* How long one batch may wait for its acknowledgements (QoS 1 and 2). */
#define PUBLISH_TIMEOUT_MS 10000

struct mqtt_sink {
    const struct cg_host *host;
};

/* A host built against an older ABI has a shorter struct cg_host:
 * fields beyond its struct_size are absent. */
static bool has_publish(const struct cg_host *host)
{
    size_t end = offsetof(struct cg_host, publish) + sizeof(host->publish);
    return host->struct_size >= end && host->publish;
}

static int mqtt_create(const struct cg_host *host, const struct cg_value *opts,
                       void **inst, char *err, size_t errlen)
{
    if (!has_publish(host)) {
        if (err && errlen)
            snprintf(err, errlen,
                     "the mqtt sink needs an MQTT connection, and this "
                     "instance has none (host->publish is NULL)");
        return CG_EINVAL;
    }
    struct mqtt_sink *s = cg_malloc(sizeof(*s));
    if (!s)
        return CG_ENOMEM;
    s->host = host;
    *inst = s;
    return CG_OK;
}

static void mqtt_destroy(void *inst)
{
    cg_free(inst);
}

static int mqtt_deliver(void *inst, const struct cg_batch *batch,
                        struct cg_delivery_result *res)
{
    const struct mqtt_sink *s = inst;
    *res = (struct cg_delivery_result){0};
    if (batch->n == 0)
        return CG_OK; /* a tick: nothing is buffered here */
    int rc = s->host->publish(s->host, batch, PUBLISH_TIMEOUT_MS);
    if (rc == CG_OK)
        return CG_OK;
    if (rc == CG_RETRY)
        snprintf(res->detail, sizeof(res->detail),
                 "not connected, or not acknowledged within %d ms",
                 PUBLISH_TIMEOUT_MS);
    else
        snprintf(res->detail, sizeof(res->detail), "publish failed: %s",
                 cg_strerror(rc));
    return CG_RETRY;
}

static const struct cg_option mqtt_options[] = {
    {"topic", CG_OPT_TEMPLATE, 0,
     "topic template (default city/<consumer>/{domain}/{type})"},
    {"qos", CG_OPT_QOS, 0, "QoS of the events: 0, 1 (default) or 2"},
    {"broker", CG_OPT_BROKER, 0, "a broker of its own (uri, client_id ...)"},
    {"retain", CG_OPT_RETAIN, 0,
     "publish retained: late subscribers see "
     "each topic's last event"},
    {NULL, 0, 0, NULL},
};

const struct cg_plugin *const cg_builtin_default_sink = &cg_builtin_sink_mqtt;

const struct cg_plugin cg_builtin_sink_mqtt = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "mqtt",
    .kind = "sink",
    .options = mqtt_options,
    .create = mqtt_create,
    .destroy = mqtt_destroy,
    .decode = NULL,
    .deliver = mqtt_deliver,
};
