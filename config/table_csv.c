/*
 * CSV lookup tables (SPEC §14): a header row naming the columns, then one
 * row per line, RFC 4180 quoting (a quoted cell may hold commas, quotes
 * written twice and line breaks). Cells are typed like the csv decoder's:
 * an unquoted cell is trimmed and read as a number, true or false, or
 * else a string, an empty one is null; a quoted cell is always a string.
 * Blank lines are skipped and a UTF-8 byte-order mark is allowed. Every
 * problem is reported with the file's line and column.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct csv {
    struct loader *L;
    const char *file, *s;
    size_t len, i;
    int line;        /* of s[i] */
    size_t line_at;  /* where that line starts, for columns */
    struct cg_buf b; /* the current cell */
};

static void csv_error(struct csv *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void csv_error(struct csv *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_diags_vadd(c->L->d, c->file, c->line, (int)(c->i - c->line_at) + 1, fmt,
                  ap);
    va_end(ap);
    c->L->errors++;
}

static bool at_end_of_cell(const struct csv *c)
{
    return c->i >= c->len || c->s[c->i] == ',' || c->s[c->i] == '\n' ||
           c->s[c->i] == '\r';
}

static void new_line(struct csv *c)
{
    c->line++;
    c->line_at = c->i + 1;
}

/* A quoted cell, c->i at its opening quote. Returns 0 or -1. */
static int quoted_cell(struct csv *c)
{
    for (c->i++; c->i < c->len; c->i++) {
        char ch = c->s[c->i];
        if (ch == '"' && c->i + 1 < c->len && c->s[c->i + 1] == '"') {
            cg_buf_putc(&c->b, '"');
            c->i++;
        } else if (ch == '"') {
            c->i++;
            while (c->i < c->len && c->s[c->i] == ' ')
                c->i++;
            if (at_end_of_cell(c))
                return 0;
            csv_error(c, "unexpected text after a quoted cell");
            return -1;
        } else {
            if (ch == '\n')
                new_line(c);
            cg_buf_putc(&c->b, ch);
        }
    }
    csv_error(c, "a quoted cell is not closed");
    return -1;
}

/* Types the cell in c->b into v (in the loader's arena). */
static int typed_cell(struct csv *c, bool quoted, struct cg_value *v)
{
    const char *s = c->b.data ? c->b.data : "";
    size_t n = c->b.len;
    memset(v, 0, sizeof(*v));
    if (!cg_utf8_valid(s, n)) {
        csv_error(c, "a cell is not valid UTF-8");
        return -1;
    }
    if (!quoted)
        cg_trim(&s, &n);
    if (!quoted && n == 0)
        return 0; /* null */
    if (!quoted && cg_text_type(s, n, v) != CG_OK) {
        csv_error(c, "number out of range in '%.*s'", (int)n, s);
        return -1;
    }
    if (quoted || v->type == CG_STR) {
        char *copy = cg_arena_strndup(c->L->arena, s, n);
        if (!copy) {
            c->L->oom = 1;
            return -1;
        }
        *v = (struct cg_value){.type = CG_STR, .len = (uint32_t)n};
        v->as.str = copy;
    }
    return 0;
}

/* One cell at c->i into v. Returns 0 or -1. */
static int cell(struct csv *c, struct cg_value *v)
{
    cg_buf_reset(&c->b);
    size_t start = c->i;
    while (c->i < c->len && c->s[c->i] == ' ')
        c->i++;
    bool quoted = c->i < c->len && c->s[c->i] == '"';
    if (quoted && quoted_cell(c) < 0)
        return -1;
    if (!quoted) {
        c->i = start;
        for (; !at_end_of_cell(c); c->i++) {
            if (c->s[c->i] == '"') {
                csv_error(c, "a quote inside an unquoted cell (quote the "
                             "whole cell)");
                return -1;
            }
            cg_buf_putc(&c->b, c->s[c->i]);
        }
    }
    if (c->b.oom) {
        c->L->oom = 1;
        return -1;
    }
    return typed_cell(c, quoted, v);
}

/* A growable list of values (cells of a record, or rows). */
struct vlist {
    struct cg_value *v;
    size_t n, cap;
};

static int vlist_add(struct vlist *l, const struct cg_value *v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct cg_value *p = cg_realloc(l->v, cap * sizeof(*p));
        if (!p)
            return -1;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = *v;
    return 0;
}

/* One record (line) into cells; c->i ends past its line break. Returns
 * 0, 1 for a blank line, or -1. */
static int record(struct csv *c, struct vlist *cells)
{
    size_t p = c->i;
    while (p < c->len && (c->s[p] == ' ' || c->s[p] == '\t' || c->s[p] == '\r'))
        p++;
    int blank = p >= c->len || c->s[p] == '\n';
    cells->n = 0;
    for (bool more = !blank; more;) {
        struct cg_value v;
        if (cell(c, &v) < 0)
            return -1;
        if (vlist_add(cells, &v) < 0) {
            c->L->oom = 1;
            return -1;
        }
        more = c->i < c->len && c->s[c->i] == ',';
        c->i += more;
    }
    if (blank)
        c->i = p;
    if (c->i < c->len && c->s[c->i] == '\r')
        c->i++;
    if (c->i < c->len && c->s[c->i] != '\n') {
        csv_error(c, "unexpected character in a cell");
        return -1;
    }
    return blank;
}

static void next_line(struct csv *c)
{
    if (c->i < c->len) {
        new_line(c);
        c->i++;
    }
}

/* The header: column names, unique and not empty. */
static int header(struct csv *c, struct vlist *cols)
{
    int rc;
    while ((rc = record(c, cols)) == 1 && c->i < c->len)
        next_line(c);
    if (rc == 1) {
        csv_error(c, "no header row: the first line names the columns");
        return -1;
    }
    if (rc < 0)
        return -1;
    for (size_t k = 0; k < cols->n; k++) {
        const struct cg_value *v = &cols->v[k];
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup |= v->type == CG_STR && cols->v[j].type == CG_STR &&
                   !strcmp(cols->v[j].as.str, v->as.str);
        if (v->type != CG_STR || dup) {
            csv_error(c, "%s",
                      dup ? "a column name appears twice in the header"
                          : "the header names every column (a name "
                            "that is not a number)");
            return -1;
        }
    }
    return 0;
}

/* A row: as many cells as columns, made an object in the arena. */
static int make_row(struct csv *c, const struct vlist *cols,
                    const struct vlist *cells, struct cg_value *row)
{
    if (cells->n != cols->n) {
        csv_error(c, "%zu cells where the header has %zu columns", cells->n,
                  cols->n);
        return -1;
    }
    struct cg_member *m = loader_alloc(c->L, cols->n * sizeof(*m));
    if (!m)
        return -1;
    for (size_t k = 0; k < cols->n; k++) {
        m[k].key = cols->v[k].as.str;
        m[k].key_len = cols->v[k].len;
        m[k].value = cells->v[k];
    }
    *row = (struct cg_value){.type = CG_OBJ, .len = (uint32_t)cols->n};
    row->as.members = m;
    return 0;
}

/* Past a record that had a problem: the rest of its line is skipped, so
 * that the next record starts where the file's next line does. */
static void skip_line(struct csv *c)
{
    while (c->i < c->len && c->s[c->i] != '\n')
        c->i++;
}

/* Reads the rows after the header, and the line of each. A bad row is
 * reported and left out, and reading goes on: an error in one row hides
 * none in a later one (SPEC §14), duplicate keys included, which the
 * caller checks on the rows that were read. Returns 0, or -1 out of
 * memory. */
static int body(struct csv *c, const struct vlist *cols, struct vlist *rows,
                struct vlist *lines)
{
    struct vlist cells = {0};
    while (!c->L->oom && c->i < c->len) {
        next_line(c);
        int line = c->line, r = record(c, &cells);
        struct cg_value row, at = {.type = CG_INT};
        at.as.i = line;
        if (r < 0)
            skip_line(c);
        if (r != 0 || make_row(c, cols, &cells, &row) < 0)
            continue;
        if (vlist_add(rows, &row) < 0 || vlist_add(lines, &at) < 0)
            c->L->oom = 1;
    }
    cg_free(cells.v);
    return c->L->oom ? -1 : 0;
}

/* Copies the rows, their lines and the column names into the loader's
 * arena. */
static int keep(struct loader *L, const struct vlist *rows,
                const struct vlist *lines, const struct vlist *cols,
                struct table_text *out)
{
    struct cg_value *items =
        loader_alloc(L, (rows->n ? rows->n : 1) * sizeof(*items));
    int *at = loader_alloc(L, (rows->n ? rows->n : 1) * sizeof(*at));
    const char **names = loader_alloc(L, cols->n * sizeof(*names));
    if (!items || !at || !names)
        return -1;
    for (size_t i = 0; i < rows->n; i++) {
        items[i] = rows->v[i];
        at[i] = (int)lines->v[i].as.i;
    }
    for (size_t k = 0; k < cols->n; k++)
        names[k] = cols->v[k].as.str;
    out->rows = (struct cg_value){.type = CG_LIST, .len = (uint32_t)rows->n};
    out->rows.as.items = items;
    out->lines = at;
    out->columns = names;
    out->n_columns = cols->n;
    return 0;
}

int table__csv(struct loader *L, const char *file, const char *text, size_t len,
               struct table_text *out)
{
    struct csv c = {L, file, text, len, 0, 1, 0, {0}};
    struct vlist cols = {0}, all = {0}, at = {0};
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        c.i = c.line_at = 3;
    int rc = header(&c, &cols);
    if (rc == 0 && (rc = body(&c, &cols, &all, &at)) == 0)
        rc = keep(L, &all, &at, &cols, out);
    /* The header's names stay: the rows' members point at them. */
    cg_free(cols.v);
    cg_free(all.v);
    cg_free(at.v);
    cg_buf_free(&c.b);
    return rc;
}
