/*
 * Topic templates ("city/gov/{domain}/{type}"): compiled once into text
 * and placeholder parts. Substituted values are made topic-safe so a device
 * can never steer an event onto another topic level (SPEC §5).
 */
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

int tpl__compile(const char *src, struct tpl *out, char *err, size_t errlen,
                 size_t *err_offset)
{
    memset(out, 0, sizeof(*out));
    const char *p = src;
    while (*p) {
        const char *open = strchr(p, '{');
        size_t text_len = open ? (size_t)(open - p) : strlen(p);
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

void tpl__free(struct tpl *t)
{
    for (size_t i = 0; i < t->n; i++)
        cg_free(t->parts[i].text);
    cg_free(t->parts);
    t->parts = NULL;
    t->n = 0;
}

void tpl__put_safe(struct cg_buf *b, const char *s, size_t n)
{
    if (n == 0) {
        cg_buf_putc(b, '_');
        return;
    }
    size_t start = b->len;
    cg_buf_put(b, s, n);
    if (b->oom)
        return;
    for (size_t i = start; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c == '/' || c == '+' || c == '#' || c < 0x20 || c == 0x7f)
            b->data[i] = '_';
    }
}
