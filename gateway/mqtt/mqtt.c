/*
 * The MQTT interface (mqtt.h): dispatch to the backend the broker config
 * names (`broker.client: paho | mosquitto`).
 */

#include <stdio.h>

#include "internal.h"

void cg_mqtt_global_init(void)
{
    mqtt__paho_global_init();
    mqtt__mosq_global_init();
}

int cg_mqtt_new(const struct cg_broker_conf *b, const struct cg_mqtt_will *will,
                const char *persist_dir, const struct cg_mqtt_callbacks *cb,
                struct cg_mqtt **out, char *err, size_t errlen)
{
    int rc = b->client == CG_CLIENT_MOSQUITTO
                 ? mqtt__mosq_new(b, will, persist_dir, cb, out, err, errlen)
                 : mqtt__paho_new(b, will, persist_dir, cb, out, err, errlen);
    if (rc == CG_OK) /* before start(): no backend thread reads it yet */
        snprintf((*out)->name, sizeof((*out)->name), "%s",
                 cb->name ? cb->name : "mqtt");
    return rc;
}

int cg_mqtt_subscribe(struct cg_mqtt *m, const char *const *filters, size_t n,
                      int qos)
{
    return m->ops->subscribe(m, filters, n, qos);
}

int cg_mqtt_resubscribe(struct cg_mqtt *m, const char *const *filters, size_t n,
                        int qos)
{
    return m->ops->resubscribe(m, filters, n, qos);
}

int cg_mqtt_start(struct cg_mqtt *m)
{
    return m->ops->start(m);
}

bool cg_mqtt_connected(const struct cg_mqtt *m)
{
    return m->ops->connected(m);
}

const char *cg_mqtt_uri(const struct cg_mqtt *m)
{
    return m->shown;
}

const char *cg_mqtt_name(const struct cg_mqtt *m)
{
    return m->name;
}

int cg_mqtt_publish(struct cg_mqtt *m, const char *topic, const void *payload,
                    size_t len, int qos, bool retain, unsigned *ticket)
{
    return m->ops->publish(m, topic, payload, len, qos, retain, ticket);
}

bool cg_mqtt_inline_publish_ok(const struct cg_mqtt *m)
{
    return m->ops->inline_publish_ok;
}

void cg_mqtt_pause_intake(struct cg_mqtt *m)
{
    m->ops->suspend(m); /* stop reading; what is read is still processed */
}

void cg_mqtt_suspend(struct cg_mqtt *m)
{
    m->ops->suspend(m);
}

void cg_mqtt_resume(struct cg_mqtt *m)
{
    m->ops->resume(m);
}

void cg_mqtt_stop(struct cg_mqtt *m, int timeout_ms)
{
    m->ops->stop(m, timeout_ms);
}

void cg_mqtt_free(struct cg_mqtt *m)
{
    if (m)
        m->ops->free(m);
}
