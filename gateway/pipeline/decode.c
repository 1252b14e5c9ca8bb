/*
 * Decode (SPEC §1): the vendor's decoder turns the payload bytes into a
 * record (an object), built in the pipeline's arena. Then the device id
 * (a template over topic levels and decoded fields) and the device time.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define RECORD_DEPTH_MAX 64 /* what the JSON decoder allows */

static bool record_fails(const struct cg_value *v, int depth, char *detail,
                         size_t size);

/* An object's keys: UTF-8, and each once (an event is JSON, whose
 * readers differ on duplicates). Quadratic: a record is small. */
static bool keys_fail(const struct cg_value *v, int depth, char *detail,
                      size_t size)
{
    for (uint32_t i = 0; i < v->len; i++) {
        const struct cg_member *m = &v->as.members[i];
        if (!cg_utf8_valid(m->key, m->key_len)) {
            snprintf(detail, size, "the decoder produced a non-UTF-8 key");
            return true;
        }
        for (uint32_t j = 0; j < i; j++)
            if (v->as.members[j].key_len == m->key_len &&
                !memcmp(v->as.members[j].key, m->key, m->key_len)) {
                /* Named when short: a cut could split a character. */
                snprintf(detail, size,
                         "the decoder produced the key '%s' twice",
                         m->key_len <= 64 ? m->key : "(a long one)");
                return true;
            }
        if (record_fails(&m->value, depth + 1, detail, size))
            return true;
    }
    return false;
}

/* What the built-in decoders guarantee and a loaded one might not: UTF-8
 * text, finite numbers, unique keys, bounded depth. True (with detail)
 * when v breaks one of them. */
static bool record_fails(const struct cg_value *v, int depth, char *detail,
                         size_t size)
{
    if (depth > RECORD_DEPTH_MAX) {
        snprintf(detail, size, "the decoder nested values deeper than %d",
                 RECORD_DEPTH_MAX);
        return true;
    }
    switch (v->type) {
    case CG_NUM:
        if (isfinite(v->as.num))
            return false;
        snprintf(detail, size, "the decoder produced a non-finite number");
        return true;
    case CG_STR:
        if (cg_utf8_valid(v->as.str, v->len))
            return false;
        snprintf(detail, size, "the decoder produced non-UTF-8 text");
        return true;
    case CG_LIST:
        for (uint32_t i = 0; i < v->len; i++)
            if (record_fails(&v->as.items[i], depth + 1, detail, size))
                return true;
        return false;
    case CG_OBJ:
        return keys_fail(v, depth, detail, size);
    default:
        return false;
    }
}

int decode__record(struct cg_pipeline *p, struct msg_ctx *mc, char *detail,
                   size_t size)
{
    struct cg_decoded out = {.arena = p->arena};
    out.rec.detail = detail;
    out.rec.detail_size = size;
    const struct cg_instance *dec = mc->vendor->decoder;
    struct cg_input in = {mc->m->payload, mc->m->len, mc->m->topic};
    detail[0] = '\0';
    int rc = dec->plugin->decode(dec->inst, &in, &out.rec);
    if (rc == CG_OK && out.rec.root.type != CG_OBJ) {
        snprintf(detail, size, "the decoder did not produce an object");
        rc = CG_EDECODE;
    }
    if (rc == CG_OK && mc->vendor->check_record &&
        record_fails(&out.rec.root, 1, detail, size))
        rc = CG_EDECODE;
    if (rc == CG_OK)
        mc->record = out.rec.root;
    else if (!detail[0])
        snprintf(detail, size, "%s", cg_strerror(rc));
    return rc;
}

/* The matching filter's '+' level by default, else the template's parts
 * concatenated. */
const char *decode__device(struct cg_pipeline *p, struct msg_ctx *mc)
{
    const struct vendor_rt *v = mc->vendor;
    const struct filter_rt *f = mc->filter;
    if (!v->conf->device.text && f->plus_level >= 0 &&
        (uint32_t)f->plus_level < mc->eval.n_levels)
        return p->levels[f->plus_level].p;
    cg_buf_reset(&p->text);
    for (size_t i = 0; i < v->n_device; i++) {
        if (v->device[i].text) {
            cg_buf_puts(&p->text, v->device[i].text);
            continue;
        }
        struct cg_value val;
        cg_expr_eval(v->device[i].expr, &mc->eval, &val);
        cg_value_format(&val, &p->text);
    }
    if (p->text.oom)
        return NULL;
    return cg_arena_strndup(p->arena, p->text.data ? p->text.data : "",
                            p->text.len);
}

/* A number (>= 1e11 means epoch ms) or RFC 3339 text; what does not read
 * as a time between 1970 and 9999 falls back to the time received. */
double decode__time(const struct msg_ctx *mc)
{
    const struct vendor_rt *v = mc->vendor;
    if (!v->time)
        return mc->m->received;
    struct cg_value t;
    cg_expr_eval(v->time, &mc->eval, &t);
    double s;
    if (cg_value_is_number(&t)) {
        s = cg_value_to_double(&t);
        s = s >= 1e11 ? s / 1000.0 : s;
        return isfinite(s) && s >= 0 && s < 253402300800.0 ? s
                                                           : mc->m->received;
    }
    if (t.type == CG_STR && cg_time_parse(t.as.str, t.len, &s) == CG_OK &&
        s >= 0 && s < 253402300800.0)
        return s;
    return mc->m->received;
}
