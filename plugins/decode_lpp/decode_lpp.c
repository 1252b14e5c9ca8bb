/*
 * The lpp decoder (SPEC §2, §12): Cayenne Low Power Payload, a run of
 * frames [channel:1][type:1][data], big-endian, as LoRaWAN and NB-IoT
 * sensors send them. Each frame becomes the field `<type>_<channel>`
 * (temperature_3, gps_1) scaled to its unit.
 *
 * Scaled values divide the raw integer by a power of ten (272 / 10.0)
 * instead of multiplying by 0.1, so they are the doubles closest to the
 * decimals the sensor meant and print as 27.2, not 27.200000000000003.
 * Types without a scale stay exact integers.
 *
 * A first pass checks every frame (truncated frame or unknown type: a
 * decode_error naming the byte offset) and counts them; the second builds
 * the record. With `encoding: base64` the payload is decoded first
 * (whitespace allowed) and offsets count bytes of the decoded frames. The
 * same type and channel twice: the last frame wins.
 */
#include <string.h>

#include "base.h"
#include "builtin.h"
#include "decode_util.h"

enum shape { SCALAR, XYZ, GPS };

struct lpp_type {
    uint8_t id;
    uint8_t size; /* data bytes */
    uint8_t is_signed;
    uint8_t shape;    /* enum shape */
    uint16_t divisor; /* 1: an exact integer */
    const char *name;
};

static const struct lpp_type lpp_types[] = {
    {0, 1, 0, SCALAR, 1, "digital_input"},
    {1, 1, 0, SCALAR, 1, "digital_output"},
    {2, 2, 1, SCALAR, 100, "analog_input"},
    {3, 2, 1, SCALAR, 100, "analog_output"},
    {101, 2, 0, SCALAR, 1, "illuminance"},
    {102, 1, 0, SCALAR, 1, "presence"},
    {103, 2, 1, SCALAR, 10, "temperature"},
    {104, 1, 0, SCALAR, 2, "humidity"},
    {113, 6, 1, XYZ, 1000, "accelerometer"},
    {115, 2, 0, SCALAR, 10, "barometer"},
    {134, 6, 1, XYZ, 100, "gyrometer"},
    {136, 9, 1, GPS, 0, "gps"}, /* lat, lon 0.0001 deg; alt 0.01 m */
};

/* Names of the parts of XYZ and GPS values; static, so records may point
 * at them for as long as the program runs. */
static const char *const xyz_keys[3] = {"x", "y", "z"};
static const char *const gps_keys[3] = {"lat", "lon", "alt"};
static const uint16_t gps_divisors[3] = {10000, 10000, 100};

struct lpp_dec {
    const struct cg_host *host;
    bool base64;
};

static const struct lpp_type *find_type(uint8_t id)
{
    for (size_t i = 0; i < sizeof(lpp_types) / sizeof(lpp_types[0]); i++)
        if (lpp_types[i].id == id)
            return &lpp_types[i];
    return NULL;
}

static void lpp_destroy(void *inst)
{
    struct lpp_dec *d = inst;
    if (d)
        d->host->free(d);
}

static int lpp_create(const struct cg_host *host, const struct cg_value *opts,
                      void **inst, char *err, size_t errlen)
{
    const char *enc = "raw";
    int rc = dec_string_option(opts, "encoding", &enc, err, errlen);
    if (rc != CG_OK)
        return rc;
    if (strcmp(enc, "raw") != 0 && strcmp(enc, "base64") != 0)
        return dec_bad_option(err, errlen,
                              "encoding must be raw or base64, not '%s'", enc);
    struct lpp_dec *d = host->alloc(sizeof(*d));
    if (!d)
        return CG_ENOMEM;
    *d = (struct lpp_dec){.host = host, .base64 = enc[0] == 'b'};
    *inst = d;
    return CG_OK;
}

/* A big-endian integer of n bytes (1 to 3). */
static int32_t read_be(const uint8_t *p, size_t n, bool is_signed)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    uint32_t sign_bit = 1u << (8 * n - 1);
    if (is_signed && (v & sign_bit))
        return (int32_t)(v - sign_bit) - (int32_t)sign_bit;
    return (int32_t)v;
}

static struct cg_value scaled(int32_t raw, unsigned divisor)
{
    if (divisor == 1)
        return (struct cg_value){.type = CG_INT, .as.i = raw};
    return (struct cg_value){.type = CG_NUM, .as.num = (double)raw / divisor};
}

/* Checks every frame of p[0..n) and counts them. */
static int check_frames(const uint8_t *p, size_t n, const char *where,
                        struct cg_record *out, size_t *count)
{
    *count = 0;
    if (n == 0)
        return dec_fail(out, "empty payload");
    for (size_t i = 0; i < n; ++*count) {
        if (n - i < 2)
            return dec_fail(out, "truncated frame at byte %zu%s", i, where);
        const struct lpp_type *t = find_type(p[i + 1]);
        if (!t)
            return dec_fail(out, "unknown LPP type %u at byte %zu%s", p[i + 1],
                            i + 1, where);
        if (n - i - 2 < t->size)
            return dec_fail(out, "truncated %s frame at byte %zu%s", t->name, i,
                            where);
        i += 2u + t->size;
    }
    return CG_OK;
}

/* An {x,y,z} or {lat,lon,alt} object of three 2- or 3-byte parts. */
static int triple(const struct lpp_dec *d, struct cg_record *out,
                  const struct lpp_type *t, const uint8_t *data,
                  struct cg_value *v)
{
    struct cg_member *m = d->host->record_alloc(out, 3 * sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    size_t part = t->size / 3;
    for (size_t k = 0; k < 3; k++) {
        const char *key = t->shape == GPS ? gps_keys[k] : xyz_keys[k];
        unsigned div = t->shape == GPS ? gps_divisors[k] : t->divisor;
        m[k] = (struct cg_member){.key = key, .key_len = (uint32_t)strlen(key)};
        m[k].value = scaled(read_be(data + k * part, part, true), div);
    }
    *v = (struct cg_value){.type = CG_OBJ, .len = 3};
    v->as.members = m;
    return CG_OK;
}

/* Decodes the frame at p (already checked) into member m. */
static int frame(const struct lpp_dec *d, struct cg_record *out,
                 const uint8_t *p, struct cg_member *m)
{
    const struct lpp_type *t = find_type(p[1]);
    size_t len = strlen(t->name);
    char *key = d->host->record_alloc(out, len + 5); /* "_255" and NUL */
    if (!key)
        return CG_ENOMEM;
    memcpy(key, t->name, len);
    int k = (int)len;
    key[k++] = '_';
    if (p[0] >= 100)
        key[k++] = (char)('0' + p[0] / 100);
    if (p[0] >= 10)
        key[k++] = (char)('0' + p[0] / 10 % 10);
    key[k++] = (char)('0' + p[0] % 10);
    key[k] = '\0';
    *m = (struct cg_member){.key = key, .key_len = (uint32_t)k};
    if (t->shape != SCALAR)
        return triple(d, out, t, p + 2, &m->value);
    m->value = scaled(read_be(p + 2, t->size, t->is_signed), t->divisor);
    return CG_OK;
}

/* The raw frames: the payload itself, or its base64 decoding in record
 * memory. */
static int frames_of(const struct lpp_dec *d, const struct cg_input *in,
                     struct cg_record *out, const uint8_t **p, size_t *n)
{
    *p = in->payload;
    *n = in->len;
    if (!d->base64)
        return CG_OK;
    uint8_t *buf = d->host->record_alloc(out, in->len * 3 / 4 + 3);
    if (!buf)
        return CG_ENOMEM;
    long len = cg_base64_decode((const char *)in->payload, in->len, buf);
    if (len < 0)
        return dec_fail(out, "invalid base64");
    *p = buf;
    *n = (size_t)len;
    return CG_OK;
}

static int lpp_decode(void *inst, const struct cg_input *in,
                      struct cg_record *out)
{
    const struct lpp_dec *d = inst;
    const char *where = d->base64 ? " of the decoded payload" : "";
    const uint8_t *p;
    size_t n, count;
    int rc = frames_of(d, in, out, &p, &n);
    if (rc == CG_OK)
        rc = check_frames(p, n, where, out, &count);
    if (rc != CG_OK)
        return rc;
    struct cg_member *m = d->host->record_alloc(out, count * sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    for (size_t i = 0, k = 0; i < n; i += 2u + find_type(p[i + 1])->size)
        if ((rc = frame(d, out, p + i, &m[k++])) != CG_OK)
            return rc;
    if ((rc = cg_members_dedupe(m, &count)) != CG_OK)
        return rc;
    out->root = (struct cg_value){.type = CG_OBJ, .len = (uint32_t)count};
    out->root.as.members = m;
    return CG_OK;
}

static const struct cg_option lpp_options[] = {
    {"encoding", CG_OPT_STRING, 0,
     "raw (default): the payload is the frames; base64: base64 text of them"},
    {NULL, 0, 0, NULL},
};

const struct cg_plugin cg_builtin_decode_lpp = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "lpp",
    .kind = "decoder",
    .options = lpp_options,
    .create = lpp_create,
    .destroy = lpp_destroy,
    .decode = lpp_decode,
    .deliver = NULL,
};
