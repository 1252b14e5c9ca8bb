/*
 * Dead letters (SPEC §1): a message that fails on the way, or an event
 * that cannot be built for a consumer, becomes one JSON document with its
 * reason, the raw topic and the payload (cut to 4 KiB, base64 when it is
 * not valid UTF-8). The reason names live here, once, for the pipeline,
 * the deliver stage and the metrics.
 */
#include <string.h>

#include "internal.h"

#define DEAD_PAYLOAD_MAX 4096

static const char *const reason_names[CG_DEAD_N_REASONS] = {
    "unknown_vendor", "too_large",     "decode_error",
    "no_device",      "undeliverable", "rejected"};

const char *cg_dead_reason_name(int reason)
{
    return reason >= 0 && reason < CG_DEAD_N_REASONS ? reason_names[reason]
                                                     : "unknown";
}

static void put_str(struct cg_buf *b, const char *key, const char *value)
{
    cg_buf_putc(b, '"');
    cg_buf_puts(b, key);
    cg_buf_put(b, "\":", 2);
    cg_json_put_string(b, value, strlen(value));
}

static void put_payload(struct cg_buf *b, const struct cg_message *m)
{
    size_t n = m->len < DEAD_PAYLOAD_MAX ? m->len : DEAD_PAYLOAD_MAX;
    bool utf8 = cg_utf8_valid((const char *)m->payload, n);
    cg_buf_put(b, ",\"payload\":", 11);
    if (utf8) {
        cg_json_put_string(b, (const char *)m->payload, n);
    } else {
        cg_buf_putc(b, '"');
        cg_base64_encode(b, m->payload, n);
        cg_buf_putc(b, '"');
    }
    cg_buf_putc(b, ',');
    put_str(b, "encoding", utf8 ? "utf8" : "base64");
}

int dead__letter(struct cg_pipeline *p, const struct cg_message *m, int reason,
                 const char *consumer, const char *detail,
                 const struct cg_emit *emit)
{
    struct cg_buf *b = &p->json;
    char received[32];
    cg_time_format(m->received, received);
    cg_buf_reset(b);
    cg_buf_putc(b, '{');
    put_str(b, "reason", cg_dead_reason_name(reason));
    if (consumer) {
        cg_buf_putc(b, ',');
        put_str(b, "consumer", consumer);
    }
    cg_buf_putc(b, ',');
    put_str(b, "detail", detail);
    cg_buf_put(b, ",\"topic\":", 9);
    cg_json_put_string(b, m->topic, m->topic_len);
    put_payload(b, m);
    cg_buf_putc(b, ',');
    put_str(b, "received", received);
    cg_buf_putc(b, '}');
    if (b->oom)
        return CG_ENOMEM;
    struct cg_dead d = {reason,   consumer,     b->data, b->len,
                        m->topic, m->topic_len, detail};
    return emit->dead(emit->user, &d);
}
