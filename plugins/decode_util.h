/*
 * Helpers shared by the built-in decoders (json, kv, csv, lpp): option
 * lookup, one-line failure reasons, payload text checks and typing of
 * text cells into record memory.
 *
 * Everything a decoder hands back lives in host->record_alloc() memory,
 * so these helpers take the host and the record. They are static inline
 * so that each decoder stays a self-contained translation unit, as a
 * loadable plugin would be.
 */
#ifndef CG_PLUGINS_DECODE_UTIL_H
#define CG_PLUGINS_DECODE_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base.h"
#include "citygate_plugin.h"

/* The member `name` of the options object, or NULL when absent. */
static inline const struct cg_value *dec_option(const struct cg_value *opts,
                                                const char *name)
{
    size_t n = strlen(name);
    if (!opts || opts->type != CG_OBJ)
        return NULL;
    for (uint32_t i = 0; i < opts->len; i++) {
        const struct cg_member *m = &opts->as.members[i];
        if (m->key_len == n && memcmp(m->key, name, n) == 0)
            return &m->value;
    }
    return NULL;
}

static inline void dec_vprintf(char *buf, size_t size, const char *fmt,
                               va_list ap)
{
    if (buf && size)
        vsnprintf(buf, size, fmt, ap);
}

/* Writes a reason for a failed create() to err; returns CG_EINVAL. */
__attribute__((format(printf, 3, 4))) static inline int
dec_bad_option(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dec_vprintf(err, errlen, fmt, ap);
    va_end(ap);
    return CG_EINVAL;
}

/* Writes a one-line reason to out->detail; returns CG_EDECODE. */
__attribute__((format(printf, 2, 3))) static inline int
dec_fail(struct cg_record *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dec_vprintf(out->detail, out->detail_size, fmt, ap);
    va_end(ap);
    return CG_EDECODE;
}

/* A string option that must be a non-empty string when present: *out is
 * left alone when the option is absent. */
static inline int dec_string_option(const struct cg_value *opts,
                                    const char *name, const char **out,
                                    char *err, size_t errlen)
{
    const struct cg_value *v = dec_option(opts, name);
    if (!v)
        return CG_OK;
    if (v->type != CG_STR || v->len == 0)
        return dec_bad_option(err, errlen, "%s must be a non-empty string",
                              name);
    *out = v->as.str;
    return CG_OK;
}

/* Text decoders (kv, csv) take only valid UTF-8 without NUL bytes, so
 * every string they produce is clean for C string functions and JSON. */
static inline int dec_check_text(const struct cg_input *in,
                                 struct cg_record *out)
{
    const char *s = (const char *)in->payload;
    for (size_t i = 0; i < in->len;) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return dec_fail(out, "NUL byte at byte %zu", i);
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (k > in->len - i || !cg_utf8_valid(s + i, k))
            return dec_fail(out, "invalid UTF-8 at byte %zu", i);
        i += k;
    }
    return CG_OK;
}

/* A copy of s[0..n) with a NUL, in record memory; NULL when out of
 * memory. */
static inline char *dec_strdup(const struct cg_host *host,
                               struct cg_record *out, const char *s, size_t n)
{
    char *p = host->record_alloc(out, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Types a trimmed text cell as SPEC §12 says (number, true, false, else a
 * string copied into record memory). `at` is the cell's byte offset, for
 * the reason. Returns CG_OK, CG_EDECODE or CG_ENOMEM. */
static inline int dec_text_value(const struct cg_host *host,
                                 struct cg_record *out, const char *s, size_t n,
                                 size_t at, struct cg_value *v)
{
    *v = (struct cg_value){.type = CG_NULL};
    int rc = cg_text_type(s, n, v);
    if (rc == CG_ERANGE)
        return dec_fail(out, "number out of range at byte %zu", at);
    if (rc != CG_OK)
        return rc;
    if (v->type == CG_STR) {
        char *copy = dec_strdup(host, out, s, n);
        if (!copy)
            return CG_ENOMEM;
        v->as.str = copy;
    }
    return CG_OK;
}

#endif
