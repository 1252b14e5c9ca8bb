/*
 * JSON output: strings with the escapes RFC 8259 requires, numbers in the
 * one format citygate uses everywhere (SPEC §12), and whole values.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* True when none of the 8 bytes needs an escape: no control character,
 * no '"' and no backslash (the classic "has a zero byte" bit trick on
 * each condition). */
static bool word_is_plain(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
    uint64_t ctrl = (w - ones * 0x20) & ~w;
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
    uint64_t eq = ((q - ones) & ~q) | ((bs - ones) & ~bs);
    return ((ctrl | eq) & high) == 0;
}

static void put_escape(struct cg_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        cg_buf_put(b, "\\\"", 2);
        break;
    case '\\':
        cg_buf_put(b, "\\\\", 2);
        break;
    case '\n':
        cg_buf_put(b, "\\n", 2);
        break;
    case '\r':
        cg_buf_put(b, "\\r", 2);
        break;
    case '\t':
        cg_buf_put(b, "\\t", 2);
        break;
    default: {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        cg_buf_put(b, esc, 6);
    }
    }
}

void cg_json_put_string(struct cg_buf *b, const char *s, size_t n)
{
    cg_buf_putc(b, '"');
    size_t run = 0, i = 0; /* s[run..i) is copied as it is, in one go */
    while (i < n) {
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, s + i, 8), word_is_plain(w))) {
            i += 8;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        cg_buf_put(b, s + run, i - run);
        put_escape(b, c);
        run = ++i;
    }
    cg_buf_put(b, s + run, n - run);
    cg_buf_putc(b, '"');
}

/* Digits of an integer, written backwards into the end of buf; returns
 * where they start. Faster than printf, which this path would call for
 * every number of every event. */
static char *int_digits(char *end, uint64_t u)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

void cg_json_put_int(struct cg_buf *b, int64_t i)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp);
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    char *p = int_digits(end, u);
    if (i < 0)
        *--p = '-';
    cg_buf_put(b, p, (size_t)(end - p));
}

/* printf writes exponents with at least two digits ("1e-07"); citygate
 * writes the shortest ("1e-7", "1e+21"). */
static size_t tidy_exponent(char *s, size_t n)
{
    char *e = memchr(s, 'e', n);
    if (!e || e + 2 >= s + n)
        return n;
    char *digits = e + 2; /* after the sign */
    char *p = digits;
    while (*p == '0' && p[1] != '\0')
        p++;
    memmove(digits, p, (size_t)(s + n - p) + 1);
    return n - (size_t)(p - digits);
}

static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                               1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17};

/* The common case of sensor values (41.2, 0.35, 81234.5678): the fewest
 * decimals k for which round(d * 10^k) / 10^k gives d back. Division is
 * correctly rounded, as is reading the decimal back, so both land on the
 * same double: the text round-trips. Within 1e-4 <= |d| < 1e15 printf's
 * %g also writes fixed notation, so the text is the one %.17g-shortest
 * gives. Returns false when the case does not apply. */
static bool put_short_fixed(struct cg_buf *b, double d)
{
    double a = fabs(d);
    if (a < 1e-4 || a >= 1e15)
        return false;
    for (int k = 1; k < 18; k++) {
        double r = nearbyint(a * pow10[k]);
        if (r >= 9007199254740992.0)
            return false;
        if (r / pow10[k] != a)
            continue;
        char tmp[48];
        char *end = tmp + sizeof(tmp);
        char *p = int_digits(end, (uint64_t)r);
        while (end - p <= k) /* leading zeros of 0.00x */
            *--p = '0';
        memmove(p - 1, p, (size_t)(end - p - k));
        end[-k - 1] = '.';
        p--;
        if (d < 0)
            *--p = '-';
        cg_buf_put(b, p, (size_t)(end - p));
        return true;
    }
    return false;
}

void cg_json_put_num(struct cg_buf *b, double d)
{
    if (!isfinite(d)) {
        cg_buf_put(b, "null", 4);
        return;
    }
    if (d == trunc(d) && fabs(d) < 9007199254740992.0) {
        cg_json_put_int(b, (int64_t)d);
        return;
    }
    if (put_short_fixed(b, d))
        return;
    /* 15 significant digits always read back as the same decimal, so the
     * first precision that round-trips is also the shortest form; but a
     * subnormal holds fewer digits than 15 (5e-324 would print as
     * 4.94065645841247e-324), so its search starts at one. */
    char tmp[40];
    int n = 0;
    for (int prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    cg_buf_put(b, tmp, tidy_exponent(tmp, (size_t)n));
}

void cg_json_put_value(struct cg_buf *b, const struct cg_value *v)
{
    switch (v->type) {
    case CG_BOOL:
        cg_buf_puts(b, v->as.boolean ? "true" : "false");
        break;
    case CG_INT:
        cg_json_put_int(b, v->as.i);
        break;
    case CG_NUM:
        cg_json_put_num(b, v->as.num);
        break;
    case CG_STR:
        cg_json_put_string(b, v->as.str, v->len);
        break;
    case CG_LIST:
        cg_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                cg_buf_putc(b, ',');
            cg_json_put_value(b, &v->as.items[i]);
        }
        cg_buf_putc(b, ']');
        break;
    case CG_OBJ:
        cg_buf_putc(b, '{');
        for (uint32_t i = 0; i < v->len; i++) {
            const struct cg_member *m = &v->as.members[i];
            if (i)
                cg_buf_putc(b, ',');
            cg_json_put_string(b, m->key, m->key_len);
            cg_buf_putc(b, ':');
            cg_json_put_value(b, &m->value);
        }
        cg_buf_putc(b, '}');
        break;
    default:
        cg_buf_put(b, "null", 4);
    }
}
