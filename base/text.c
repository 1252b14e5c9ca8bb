/*
 * Text helpers shared by the decoders and the expression functions: UTF-8
 * validation, numbers in JSON syntax (SPEC §12), typing of kv/csv cells,
 * trimming and base64.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* Length of the UTF-8 sequence starting at s (n bytes left), or 0 when it
 * is not valid: overlong forms, surrogates and values above U+10FFFF are
 * refused as RFC 3629 says. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

size_t cg_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = utf8_seq(p, n);
    if (!len)
        return 0;
    *cp = len == 1 ? p[0] : p[0] & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++)
        *cp = (*cp << 6) | (p[i] & 0x3Fu);
    return len;
}

bool cg_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_seq(p + i, n - i);
        if (!len)
            return false;
        i += len;
    }
    return true;
}

size_t cg_utf8_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Checks JSON number syntax over s[0..n); sets *integral when there is
 * neither a fraction nor an exponent. */
static bool json_number_syntax(const char *s, size_t n, bool *integral)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < n && is_digit(s[i]))
            i++;
    *integral = true;
    if (i < n && s[i] == '.') {
        *integral = false;
        if (++i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *integral = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i == n;
}

static int convert_number(const char *z, bool integral, struct cg_value *out)
{
    if (integral) {
        errno = 0;
        long long v = strtoll(z, NULL, 10);
        if (errno == 0) {
            out->type = CG_INT;
            out->as.i = v;
            return CG_OK;
        }
    }
    errno = 0;
    double d = strtod(z, NULL);
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
        return CG_ERANGE;
    out->type = CG_NUM;
    out->as.num = d; /* underflow reads as (signed) zero */
    return CG_OK;
}

int cg_number_parse(const char *s, size_t n, struct cg_value *out)
{
    bool integral;
    if (!json_number_syntax(s, n, &integral))
        return CG_EINVAL;
    char small[128];
    char *z = n < sizeof(small) ? small : cg_malloc(n + 1);
    if (!z)
        return CG_ENOMEM;
    memcpy(z, s, n);
    z[n] = '\0';
    int rc = convert_number(z, integral, out);
    if (z != small)
        cg_free(z);
    return rc;
}

void cg_trim(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n;
    while (len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' ||
                   p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    *s = p;
    *n = len;
}

int cg_text_type(const char *s, size_t n, struct cg_value *out)
{
    int rc = cg_number_parse(s, n, out);
    if (rc == CG_OK || rc == CG_ERANGE || rc == CG_ENOMEM)
        return rc;
    if (n == 4 && memcmp(s, "true", 4) == 0) {
        out->type = CG_BOOL;
        out->as.boolean = 1;
    } else if (n == 5 && memcmp(s, "false", 5) == 0) {
        out->type = CG_BOOL;
        out->as.boolean = 0;
    } else {
        out->type = CG_STR;
        out->len = (uint32_t)n;
        out->as.str = s;
    }
    return CG_OK;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void cg_base64_encode(struct cg_buf *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    char quad[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        quad[0] = b64_alphabet[(v >> 18) & 63];
        quad[1] = b64_alphabet[(v >> 12) & 63];
        quad[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        quad[3] = i + 2 < n ? b64_alphabet[v & 63] : '=';
        cg_buf_put(out, quad, 4);
    }
}

static int b64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long cg_base64_decode(const char *s, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    long len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int d = b64_digit(c);
        if (d < 0 || pad)
            return -1; /* a digit after padding is malformed */
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (uint8_t)(acc >> bits);
        }
    }
    if (pad > 2 || bits >= 6)
        return -1;
    return len;
}

size_t cg_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 30 || lb > 30)
        return 99;
    size_t row[32];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

int cg_size_parse(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KiB", 1ULL << 10},
                 {"MiB", 1ULL << 20},
                 {"GiB", 1ULL << 30},
                 {"KB", 1000},
                 {"MB", 1000000},
                 {"GB", 1000000000}};
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return CG_EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return CG_EINVAL;
            *out = v * units[i].mult;
            return CG_OK;
        }
    }
    return CG_EINVAL;
}

int cg_duration_parse(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"ms", 1},
                 {"s", 1000},
                 {"m", 60 * 1000},
                 {"h", 3600 * 1000},
                 {"d", 86400 * 1000}};
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return CG_EINVAL; /* no sign, no space, no empty text */
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return CG_EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        /* A century bounds every duration: time arithmetic on epoch
         * milliseconds then never overflows. */
        if (strcmp(end, units[i].unit) == 0 &&
            v <= (unsigned long long)(CG_DURATION_MAX / units[i].mult)) {
            *ms = (int64_t)v * units[i].mult;
            return CG_OK;
        }
    }
    return CG_EINVAL;
}
