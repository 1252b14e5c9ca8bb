/*
 * An example decoder plugin: a water meter vendor's fixed binary frame.
 *
 * The frame is 14 bytes, little-endian unless `byte_order: big` says
 * otherwise:
 *
 *   offset size  field
 *        0    1  version        must be 1
 *        1    4  serial         unsigned
 *        5    4  total_litres   unsigned
 *        9    2  temperature    signed, 0.01 degC
 *       11    2  battery        unsigned, mV
 *       13    1  flags          bit0 leak, bit1 tamper, bit2 reverse flow
 *
 * It becomes {"serial":"305419896","total_m3":123.456,"temperature_c":
 * 21.5,"battery_v":3.6,"leak":false,"tamper":false,"reverse_flow":true}.
 * The serial is a string because it names a meter, it is not a quantity.
 * Unknown flag bits are ignored: vendors add flags in later firmware and
 * an older gateway should keep decoding what it knows.
 *
 * This file is also the template for writing a plugin: it includes only
 * the public header (citygate_plugin.h), keeps its state in the instance
 * that create() returns, builds its record with host->record_alloc() and
 * exports nothing but cg_plugin_entry(). It builds in tree through
 * cg_add_plugin() and out of tree with plugins/examples/out_of_tree/.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "citygate_plugin.h"

#define FRAME_LEN     14
#define FRAME_VERSION 1
#define N_FIELDS      7
#define FLAG_LEAK     0x01
#define FLAG_TAMPER   0x02
#define FLAG_REVERSE  0x04

struct meterbin {
    const struct cg_host *host;
    bool big_endian;
};

/* ---- reading the frame ------------------------------------------------ */

/* An unsigned integer of n bytes (n <= 4) in the instance's byte order. */
static uint32_t read_uint(const struct meterbin *m, const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = m->big_endian ? i : n - 1 - i;
        v = v << 8 | p[k];
    }
    return v;
}

/* A two's-complement 16-bit value; written without a cast of an
 * out-of-range value, whose result C leaves to the implementation. */
static int32_t read_i16(const struct meterbin *m, const uint8_t *p)
{
    uint32_t v = read_uint(m, p, 2);
    return v & 0x8000u ? (int32_t)v - 0x10000 : (int32_t)v;
}

/* ---- building the record ---------------------------------------------- */

/* Writes a one-line reason for a dead letter; returns CG_EDECODE. */
__attribute__((format(printf, 2, 3))) static int fail(struct cg_record *out,
                                                      const char *fmt, ...)
{
    if (out->detail && out->detail_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->detail, out->detail_size, fmt, ap);
        va_end(ap);
    }
    return CG_EDECODE;
}

/* Keys are string literals: records may point at them, because the host
 * keeps the plugin loaded for as long as any of its records lives. */
static void put(struct cg_member *m, const char *key, struct cg_value v)
{
    m->key = key;
    m->key_len = (uint32_t)strlen(key);
    m->value = v;
}

static struct cg_value number(double d)
{
    struct cg_value v = {.type = CG_NUM};
    v.as.num = d;
    return v;
}

static struct cg_value boolean(bool b)
{
    struct cg_value v = {.type = CG_BOOL};
    v.as.boolean = b;
    return v;
}

/* The serial as decimal text in record memory. */
static int serial_value(const struct meterbin *m, struct cg_record *out,
                        uint32_t serial, struct cg_value *v)
{
    char *text = m->host->record_alloc(out, 11); /* 4294967295 and NUL */
    if (!text)
        return CG_ENOMEM;
    int n = snprintf(text, 11, "%lu", (unsigned long)serial);
    *v = (struct cg_value){.type = CG_STR, .len = (uint32_t)n};
    v->as.str = text;
    return CG_OK;
}

static int meterbin_decode(void *inst, const struct cg_input *in,
                           struct cg_record *out)
{
    const struct meterbin *m = inst;
    const uint8_t *p = in->payload;
    if (in->len != FRAME_LEN)
        return fail(out, "meterbin frame is %zu bytes, expected %d", in->len,
                    FRAME_LEN);
    if (p[0] != FRAME_VERSION)
        return fail(out, "meterbin frame version %u, expected %d", p[0],
                    FRAME_VERSION);
    struct cg_member *f = m->host->record_alloc(out, N_FIELDS * sizeof(*f));
    struct cg_value serial;
    if (!f || serial_value(m, out, read_uint(m, p + 1, 4), &serial) != CG_OK)
        return CG_ENOMEM;
    /* Divide by powers of ten rather than multiply by 0.001, so values
     * are the doubles nearest to the decimals the meter meant. */
    put(&f[0], "serial", serial);
    put(&f[1], "total_m3", number(read_uint(m, p + 5, 4) / 1000.0));
    put(&f[2], "temperature_c", number(read_i16(m, p + 9) / 100.0));
    put(&f[3], "battery_v", number(read_uint(m, p + 11, 2) / 1000.0));
    put(&f[4], "leak", boolean(p[13] & FLAG_LEAK));
    put(&f[5], "tamper", boolean(p[13] & FLAG_TAMPER));
    put(&f[6], "reverse_flow", boolean(p[13] & FLAG_REVERSE));
    out->root = (struct cg_value){.type = CG_OBJ, .len = N_FIELDS};
    out->root.as.members = f;
    return CG_OK;
}

/* ---- options and lifetime --------------------------------------------- */

/* The member `name` of the options object, or NULL when absent. */
static const struct cg_value *option(const struct cg_value *opts,
                                     const char *name)
{
    for (uint32_t i = 0; opts->type == CG_OBJ && i < opts->len; i++)
        if (!strcmp(opts->as.members[i].key, name))
            return &opts->as.members[i].value;
    return NULL;
}

/* Reads byte_order into *big. The host has checked the option's type
 * against the table below; it is checked again so that the plugin stays
 * safe under any host. */
static int parse_byte_order(const struct cg_value *opts, bool *big, char *err,
                            size_t errlen)
{
    const struct cg_value *v = option(opts, "byte_order");
    *big = false;
    if (!v)
        return CG_OK;
    if (v->type == CG_STR && !strcmp(v->as.str, "big")) {
        *big = true;
        return CG_OK;
    }
    if (v->type == CG_STR && !strcmp(v->as.str, "little"))
        return CG_OK;
    snprintf(err, errlen, "byte_order must be little or big, not '%s'",
             v->type == CG_STR ? v->as.str : "a non-string");
    return CG_EINVAL;
}

static int meterbin_create(const struct cg_host *host,
                           const struct cg_value *opts, void **inst, char *err,
                           size_t errlen)
{
    bool big;
    int rc = parse_byte_order(opts, &big, err, errlen);
    if (rc != CG_OK)
        return rc;
    struct meterbin *m = host->alloc(sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    *m = (struct meterbin){.host = host, .big_endian = big};
    *inst = m;
    return CG_OK;
}

static void meterbin_destroy(void *inst)
{
    struct meterbin *m = inst;
    if (m)
        m->host->free(m);
}

static const struct cg_option meterbin_options[] = {
    {"byte_order", CG_OPT_STRING, 0,
     "little (default) or big: how the frame's integers are laid out"},
    {NULL, 0, 0, NULL},
};

static const struct cg_plugin meterbin_plugin = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "meterbin",
    .kind = "decoder",
    .options = meterbin_options,
    .create = meterbin_create,
    .destroy = meterbin_destroy,
    .decode = meterbin_decode,
    .deliver = NULL,
};

CG_PLUGIN_EXPORT const struct cg_plugin *cg_plugin_entry(void)
{
    return &meterbin_plugin;
}
