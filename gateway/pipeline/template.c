/*
 * Topic templates ("city/gov/{domain}/{type}"): compiled once into text
 * and placeholder parts. Substituted values are made topic-safe so a device
 * can never steer an event onto another topic level (SPEC §5).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const struct {
    const char *name;
    int kind;
} placeholders[] = {
    {"domain", TPL_DOMAIN}, {"type", TPL_TYPE},     {"severity", TPL_SEVERITY},
    {"rule", TPL_RULE},     {"vendor", TPL_VENDOR}, {"device", TPL_DEVICE},
};

static int add_part(struct tpl *t, int kind, const char *s, size_t n)
{
    struct tpl_part *p = cg_realloc(t->parts, (t->n + 1) * sizeof(*p));
    if (!p)
        return CG_ENOMEM;
    t->parts = p;
    p = &t->parts[t->n];
    p->kind = kind;
    p->len = n;
    p->text = cg_strndup(s, n);
    if (!p->text)
        return CG_ENOMEM;
    t->n++;
    return CG_OK;
}

static int placeholder_kind(const char *s, size_t n, const char **field,
                            size_t *field_len)
{
    for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++)
        if (strlen(placeholders[i].name) == n &&
            !memcmp(placeholders[i].name, s, n))
            return placeholders[i].kind;
    if (n > 5 && !memcmp(s, "data.", 5)) {
        *field = s + 5;
        *field_len = n - 5;
        return TPL_DATA;
    }
    return -1;
}

static bool literal_bad(const char *s, size_t n, char *err, size_t errlen)
{
    char copy[64];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+' || c == '#' || c < 0x20 || c == 0x7F) {
            snprintf(copy, sizeof(copy), "%.*s", (int)(n < 40 ? n : 40), s);
            snprintf(err, errlen,
                     "'%s': a topic name may not hold '+', '#' or control "
                     "characters",
                     copy);
            return true;
        }
    }
    return false;
}

/* topic: the literal text must be fit for a topic name. */
static int compile(const char *src, struct tpl *out, char *err, size_t errlen,
                   size_t *err_offset, bool topic)
{
    memset(out, 0, sizeof(*out));
    const char *p = src;
    while (*p) {
        const char *open = strchr(p, '{');
        size_t text_len = open ? (size_t)(open - p) : strlen(p);
        if (topic && text_len && literal_bad(p, text_len, err, errlen)) {
            *err_offset = (size_t)(p - src);
            return CG_EINVAL;
        }
        if (text_len && add_part(out, TPL_TEXT, p, text_len) != CG_OK)
            return CG_ENOMEM;
        if (!open)
            break;
        const char *close = strchr(open, '}');
        if (!close) {
            snprintf(err, errlen, "'{' without a closing '}'");
            *err_offset = (size_t)(open - src);
            return CG_EINVAL;
        }
        const char *field = open + 1;
        size_t flen = (size_t)(close - open - 1);
        int kind = placeholder_kind(open + 1, flen, &field, &flen);
        if (kind < 0) {
            snprintf(err, errlen,
                     "unknown placeholder {%.*s} (domain type severity rule "
                     "vendor device data.FIELD)",
                     (int)(close - open - 1), open + 1);
            *err_offset = (size_t)(open - src);
            return CG_EINVAL;
        }
        if (add_part(out, kind, field, kind == TPL_DATA ? flen : 0) != CG_OK)
            return CG_ENOMEM;
        p = close + 1;
    }
    return CG_OK;
}

int tpl__compile(const char *src, struct tpl *out, char *err, size_t errlen,
                 size_t *err_offset)
{
    return compile(src, out, err, errlen, err_offset, true);
}

int tpl__compile_text(const char *src, struct tpl *out, char *err,
                      size_t errlen, size_t *err_offset)
{
    return compile(src, out, err, errlen, err_offset, false);
}

void tpl__free(struct tpl *t)
{
    for (size_t i = 0; i < t->n; i++)
        cg_free(t->parts[i].text);
    cg_free(t->parts);
    t->parts = NULL;
    t->n = 0;
}

/* What MQTT forbids in a topic name, or brokers refuse (mosquitto drops
 * the connection): NUL, C0 and C1 controls, DEL, noncharacters. */
static bool forbidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
           (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

/* Each value is cut to this many bytes, at a character boundary. */
#define VALUE_MAX 256

void tpl__put_safe(struct cg_buf *b, const char *s, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t len = cg_utf8_decode(s + i, n - i, &cp);
        bool replace =
            len == 0 || forbidden(cp) || cp == '/' || cp == '+' || cp == '#';
        size_t take = replace ? 1 : len;
        if (out + take > VALUE_MAX)
            break;
        if (replace)
            cg_buf_putc(b, '_');
        else
            cg_buf_put(b, s + i, len);
        out += take;
        i += len ? len : 1;
    }
    if (out == 0)
        cg_buf_putc(b, '_');
}

const char *tpl__invalid(const char *topic, size_t len)
{
    if (len == 0)
        return "is empty";
    if (len > 65535)
        return "is longer than MQTT's 65,535 bytes";
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = cg_utf8_decode(topic + i, len - i, &cp);
        if (n == 0)
            return "is not valid UTF-8";
        if (forbidden(cp) || cp == '+' || cp == '#')
            return "holds a character MQTT forbids in topic names";
        i += n;
    }
    return NULL;
}
