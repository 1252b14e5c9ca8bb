/*
 * Diagnostics: loaders collect every problem with its file, line and column
 * so an operator fixes a whole file in one pass.
 */
#include <stdio.h>
#include <string.h>

#include "base.h"

/* The message, formatted into a string of its own length; NULL out of
 * memory. */
static char *vformat(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *s = n >= 0 ? cg_malloc((size_t)n + 1) : NULL;
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    return s;
}

static void diags_vput(struct cg_diags *d, int severity, const char *file,
                       int line, int col, const char *fmt, va_list ap)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct cg_diag *p = cg_realloc(d->items, cap * sizeof(*p));
        if (!p)
            return; /* dropping a diagnostic beats crashing the loader */
        d->items = p;
        d->cap = cap;
    }
    char *msg = vformat(fmt, ap);
    if (!msg)
        return;
    struct cg_diag *g = &d->items[d->n++];
    g->file = file ? cg_strdup(file) : NULL; /* outlives the config */
    g->line = line;
    g->col = col;
    g->severity = severity;
    g->msg = msg;
}

void cg_diags_vadd(struct cg_diags *d, const char *file, int line, int col,
                   const char *fmt, va_list ap)
{
    diags_vput(d, CG_DIAG_ERROR, file, line, col, fmt, ap);
}

void cg_diags_add(struct cg_diags *d, const char *file, int line, int col,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_diags_vadd(d, file, line, col, fmt, ap);
    va_end(ap);
}

void cg_diags_warn(struct cg_diags *d, const char *file, int line, int col,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diags_vput(d, CG_DIAG_WARNING, file, line, col, fmt, ap);
    va_end(ap);
}

size_t cg_diags_errors(const struct cg_diags *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += d->items[i].severity == CG_DIAG_ERROR;
    return n;
}

void cg_diags_free(struct cg_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        cg_free((char *)d->items[i].file);
        cg_free(d->items[i].msg);
    }
    cg_free(d->items);
    d->items = NULL;
    d->n = d->cap = 0;
}

void cg_diags_format(const struct cg_diags *d, struct cg_buf *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct cg_diag *g = &d->items[i];
        const char *kind = g->severity == CG_DIAG_WARNING ? "warning" : "error";
        if (g->file && g->line > 0)
            cg_buf_printf(out, "%s:%d:%d: %s: %s\n", g->file, g->line, g->col,
                          kind, g->msg);
        else if (g->file)
            cg_buf_printf(out, "%s: %s: %s\n", g->file, kind, g->msg);
        else
            cg_buf_printf(out, "%s: %s\n", kind, g->msg);
    }
}

void cg_src_locate(const struct cg_src *src, size_t offset, int *line, int *col)
{
    int l = src->line, c = src->col;
    for (size_t i = 0; i < offset && src->text[i]; i++) {
        if (src->text[i] == '\n') {
            l++;
            c = src->block ? src->indent + 1 : 1;
        } else if (((unsigned char)src->text[i] & 0xC0) != 0x80) {
            c++; /* columns count characters, not UTF-8 bytes */
        }
    }
    *line = l;
    *col = c;
}
