/*
 * JSON string literals: the checking scan and the decoding copy behind
 * cg_json_parse.
 *
 * Strings are the bulk of most payloads, so the scan runs over a byte
 * table and only leaves its tight loop for quotes, backslashes, control
 * characters and non-ASCII bytes. It measures the decoded length exactly,
 * so the parser makes one allocation per string; strings without escapes
 * are then copied with a single memcpy, and escaped ones copy the runs
 * between backslashes with memcpy. Escapes never grow the text (six bytes
 * of \uHHHH make at most three of UTF-8), and the result is always valid
 * UTF-8 without NUL bytes.
 */
#include <string.h>

#include "base.h"
#include "internal.h"

/* Bytes a string may hold as they are: printable ASCII except '"' and
 * '\\'. Everything else takes the slow path. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
};

/* The one-character escapes and the bytes they stand for. */
static const char esc_from[] = "\"\\/bfnrt";
static const char esc_to[] = "\"\\/\b\f\n\r\t";

size_t json__utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
    return len <= n && cg_utf8_valid((const char *)s, len) ? len : 0;
}

static long hex4(const unsigned char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], lc = c | 0x20;
        if (c >= '0' && c <= '9')
            v = v << 4 | (c - '0');
        else if (lc >= 'a' && lc <= 'f')
            v = v << 4 | (lc - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* Reads the \u escape at s[i] (n bytes in all), combining a surrogate
 * pair into one code point. Returns the code point and sets *used, or -1
 * when s[i] does not start a \u escape with four hex digits. A high
 * surrogate without its low half comes back as itself, for the caller to
 * refuse. */
static long read_u_escape(const unsigned char *s, size_t n, size_t i,
                          size_t *used)
{
    if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    long cp = hex4(s + i + 2);
    *used = 6;
    if (cp < 0xD800 || cp > 0xDBFF)
        return cp;
    long lo = n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u'
                  ? hex4(s + i + 8)
                  : -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return cp;
    *used = 12;
    return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
}

static size_t utf8_put(unsigned long cp, char *out)
{
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    size_t len = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t i = len - 1; i > 0; i--, cp >>= 6)
        out[i] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)(lead[len] | cp);
    return len;
}

static bool scan_fail(struct json__string *str, size_t at, const char *why)
{
    str->err_at = at;
    str->err = why;
    return false;
}

/* Checks the escape at s[*i] (a backslash), adds its decoded size to
 * str->len and moves *i past it. */
static bool scan_escape(const unsigned char *s, size_t n, size_t *i,
                        struct json__string *str)
{
    unsigned char c = *i + 1 < n ? s[*i + 1] : 0;
    if (c && strchr(esc_from, c)) {
        *i += 2;
        str->len += 1;
        return true;
    }
    if (c != 'u')
        return scan_fail(str, *i, "invalid escape");
    size_t used;
    long cp = read_u_escape(s, n, *i, &used);
    if (cp < 0)
        return scan_fail(str, *i, "invalid \\u escape");
    if (cp == 0)
        return scan_fail(str, *i, "\\u0000 is not allowed");
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return scan_fail(str, *i, "lone surrogate in \\u escape");
    char tmp[4];
    str->len += utf8_put((unsigned long)cp, tmp);
    *i += used;
    return true;
}

bool json__string_scan(const unsigned char *s, size_t n, size_t open,
                       struct json__string *str)
{
    size_t i = open + 1;
    *str = (struct json__string){.len = 0};
    for (;;) {
        size_t start = i;
        while (i < n && plain[s[i]])
            i++;
        str->len += i - start;
        if (i >= n)
            return scan_fail(str, open, "unterminated string");
        if (s[i] == '"')
            break;
        if (s[i] == '\\') {
            str->escaped = true;
            if (!scan_escape(s, n, &i, str))
                return false;
        } else if (s[i] < 0x20) {
            return scan_fail(str, i, "control character in string");
        } else {
            size_t k = json__utf8_len(s + i, n - i);
            if (!k) {
                str->err_utf8 = true;
                return scan_fail(str, i, "invalid UTF-8");
            }
            i += k;
            str->len += k;
        }
    }
    str->end = i;
    return true;
}

void json__string_copy(const unsigned char *s, size_t open,
                       const struct json__string *str, char *dst)
{
    size_t i = open + 1, end = str->end;
    if (!str->escaped) {
        memcpy(dst, s + i, str->len);
        dst[str->len] = '\0';
        return;
    }
    while (i < end) {
        const unsigned char *bs = memchr(s + i, '\\', end - i);
        size_t run = bs ? (size_t)(bs - s) - i : end - i;
        memcpy(dst, s + i, run);
        dst += run;
        i += run;
        if (!bs)
            break;
        if (s[i + 1] == 'u') {
            size_t used;
            long cp = read_u_escape(s, end, i, &used);
            dst += utf8_put((unsigned long)cp, dst);
            i += used;
        } else {
            *dst++ = esc_to[strchr(esc_from, s[i + 1]) - esc_from];
            i += 2;
        }
    }
    *dst = '\0';
}
