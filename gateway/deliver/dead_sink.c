/*
 * The dead-letter outbox's sink: the gateway's own, not a plugin an
 * operator can name. It publishes each dead letter (QoS 1) on the
 * gateway's connection through host->publish, like a consumer's MQTT
 * sink, and treats every failure as transient: nothing is dropped.
 */
#include <stdio.h>

#include "internal.h"

#define PUBLISH_TIMEOUT_MS 10000

static int dead_create(const struct cg_host *host, const struct cg_value *opts,
                       void **inst, char *err, size_t errlen)
{
    (void)opts;
    if (!host->publish) {
        snprintf(err, errlen, "no MQTT connection for dead letters");
        return CG_EINVAL;
    }
    *inst = (void *)host;
    return CG_OK;
}

static void dead_destroy(void *inst)
{
    (void)inst; /* the host table belongs to the instance */
}

static int dead_deliver(void *inst, const struct cg_batch *batch,
                        struct cg_delivery_result *res)
{
    const struct cg_host *host = inst;
    *res = (struct cg_delivery_result){0};
    if (batch->n == 0 || host->publish(host, batch, PUBLISH_TIMEOUT_MS) == 0)
        return CG_OK;
    snprintf(res->detail, sizeof(res->detail),
             "dead letters not acknowledged within %d ms", PUBLISH_TIMEOUT_MS);
    return CG_RETRY;
}

const struct cg_plugin deliver__dead_sink = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "dead-letters",
    .kind = "sink",
    .create = dead_create,
    .destroy = dead_destroy,
    .deliver = dead_deliver,
};
