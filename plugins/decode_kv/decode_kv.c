/*
 * The kv decoder (SPEC §2, §12): `key=value` pairs such as
 * `pm25=37.5;no2=21;status=ok`, split at `pair_sep` (default ";") and
 * then at the first `kv_sep` (default "="), so `a=b=c` gives a = "b=c".
 *
 * Keys and values are trimmed; values are typed like csv cells (number,
 * true/false, else a string). A trailing pair separator is ignored; a pair
 * without kv_sep, an empty key, an empty payload, invalid UTF-8 or a NUL
 * byte is a decode_error. Duplicate keys: the last value wins at the
 * first key's position. Separators may be several bytes long (`&&`,
 * `\n`). The member array grows by doubling in record memory, so a
 * payload costs at most twice the memory of its pairs, whatever it holds.
 */
#include <string.h>

#include "base.h"
#include "builtin.h"
#include "decode_util.h"

struct kv_dec {
    const struct cg_host *host;
    char *pair_sep, *kv_sep; /* copies, in the instance's block */
    size_t pair_len, kv_len;
};

/* The first occurrence of sep[0..len) in s[0..n), or s + n. */
static const char *find_sep(const char *s, size_t n, const char *sep,
                            size_t len)
{
    const char *end = s + n;
    while ((size_t)(end - s) >= len) {
        s = memchr(s, sep[0], (size_t)(end - s) - len + 1);
        if (!s)
            break;
        if (memcmp(s, sep, len) == 0)
            return s;
        s++;
    }
    return end;
}

static void kv_destroy(void *inst)
{
    struct kv_dec *d = inst;
    if (d)
        d->host->free(d);
}

static int kv_create(const struct cg_host *host, const struct cg_value *opts,
                     void **inst, char *err, size_t errlen)
{
    const char *pair_sep = ";", *kv_sep = "=";
    int rc = dec_string_option(opts, "pair_sep", &pair_sep, err, errlen);
    if (rc == CG_OK)
        rc = dec_string_option(opts, "kv_sep", &kv_sep, err, errlen);
    if (rc != CG_OK)
        return rc;
    if (strcmp(pair_sep, kv_sep) == 0)
        return dec_bad_option(err, errlen, "pair_sep and kv_sep must differ");
    size_t pl = strlen(pair_sep), kl = strlen(kv_sep);
    struct kv_dec *d = host->alloc(sizeof(*d) + pl + kl + 2);
    if (!d)
        return CG_ENOMEM;
    d->host = host;
    d->pair_sep = memcpy((char *)(d + 1), pair_sep, pl + 1);
    d->kv_sep = memcpy(d->pair_sep + pl + 1, kv_sep, kl + 1);
    d->pair_len = pl;
    d->kv_len = kl;
    *inst = d;
    return CG_OK;
}

/* The members being collected, in record memory. */
struct members {
    struct cg_member *m;
    size_t n, cap;
};

static struct cg_member *next_member(const struct kv_dec *d,
                                     struct cg_record *out, struct members *ms)
{
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 8;
        struct cg_member *m = d->host->record_alloc(out, cap * sizeof(*m));
        if (!m)
            return NULL;
        if (ms->n)
            memcpy(m, ms->m, ms->n * sizeof(*m));
        ms->m = m;
        ms->cap = cap;
    }
    return &ms->m[ms->n++];
}

/* Decodes the pair s[0..n), found at byte `at` of the payload. */
static int decode_pair(const struct kv_dec *d, struct cg_record *out,
                       const char *s, size_t n, size_t at, struct members *ms)
{
    const char *sep = find_sep(s, n, d->kv_sep, d->kv_len);
    if (sep == s + n)
        return dec_fail(out, "pair without '%s' at byte %zu", d->kv_sep, at);
    const char *key = s, *val = sep + d->kv_len;
    size_t key_len = (size_t)(sep - s), val_len = (size_t)(s + n - val);
    cg_trim(&key, &key_len);
    cg_trim(&val, &val_len);
    if (key_len == 0)
        return dec_fail(out, "empty key at byte %zu", at);
    if (key_len > UINT32_MAX || val_len > UINT32_MAX)
        return dec_fail(out, "pair too long at byte %zu", at);
    struct cg_member *m = next_member(d, out, ms);
    char *k = m ? dec_strdup(d->host, out, key, key_len) : NULL;
    if (!k)
        return CG_ENOMEM;
    m->key = k;
    m->key_len = (uint32_t)key_len;
    return dec_text_value(d->host, out, val, val_len, at + (size_t)(val - s),
                          &m->value);
}

static int kv_decode(void *inst, const struct cg_input *in,
                     struct cg_record *out)
{
    const struct kv_dec *d = inst;
    const char *text = (const char *)in->payload;
    int rc = dec_check_text(in, out);
    if (rc != CG_OK)
        return rc;
    const char *t = text;
    size_t tn = in->len;
    cg_trim(&t, &tn);
    if (tn == 0)
        return dec_fail(out, "empty payload");
    const char *end = text + in->len;
    struct members ms = {NULL, 0, 0};
    const char *p = text;
    for (bool last = false; !last && rc == CG_OK;) {
        const char *sep =
            find_sep(p, (size_t)(end - p), d->pair_sep, d->pair_len);
        const char *s = p;
        size_t n = (size_t)(sep - p);
        cg_trim(&s, &n);
        last = sep == end;
        p = last ? end : sep + d->pair_len;
        if (n == 0 && last)
            break; /* nothing after a trailing separator */
        if (n == 0)
            return dec_fail(out, "empty pair at byte %zu", (size_t)(s - text));
        rc = decode_pair(d, out, s, n, (size_t)(s - text), &ms);
    }
    if (rc == CG_OK)
        rc = cg_members_dedupe(ms.m, &ms.n);
    if (rc != CG_OK)
        return rc;
    out->root = (struct cg_value){.type = CG_OBJ, .len = (uint32_t)ms.n};
    out->root.as.members = ms.m;
    return CG_OK;
}

static const struct cg_option kv_options[] = {
    {"pair_sep", CG_OPT_STRING, 0, "separator between pairs (default \";\")"},
    {"kv_sep", CG_OPT_STRING, 0,
     "separator between a key and its value (default \"=\")"},
    {NULL, 0, 0, NULL},
};

const struct cg_plugin cg_builtin_decode_kv = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "kv",
    .kind = "decoder",
    .options = kv_options,
    .create = kv_create,
    .destroy = kv_destroy,
    .decode = kv_decode,
    .deliver = NULL,
};
