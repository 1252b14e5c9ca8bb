/*
 * JSON output: strings with the escapes RFC 8259 requires, numbers in the
 * one format citygate uses everywhere (SPEC §12), and whole values.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

void cg_json_put_string(struct cg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cg_buf_putc(b, '"');
    size_t run = 0; /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        cg_buf_put(b, s + run, i - run);
        run = i + 1;
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
    cg_buf_put(b, s + run, n - run);
    cg_buf_putc(b, '"');
}

void cg_json_put_int(struct cg_buf *b, int64_t i)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, i);
    cg_buf_put(b, tmp, (size_t)n);
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
    /* 15 significant digits always read back as the same decimal, so the
     * first precision that round-trips is also the shortest form. */
    char tmp[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
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
