/*
 * A growable, always NUL-terminated byte buffer. An allocation failure is
 * sticky (`oom`), so a writer checks once when it is done.
 */
#include <stdio.h>
#include <string.h>

#include "base.h"

static int reserve(struct cg_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = cg_realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void cg_buf_put_slow(struct cg_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) < 0)
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cg_buf_puts(struct cg_buf *b, const char *s)
{
    cg_buf_put(b, s, strlen(s));
}

void cg_buf_putc_slow(struct cg_buf *b, char c)
{
    if (reserve(b, 1) < 0)
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void cg_buf_printf(struct cg_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        cg_buf_put(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cg_buf_reset(struct cg_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data)
        b->data[0] = '\0';
}

void cg_buf_free(struct cg_buf *b)
{
    cg_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
