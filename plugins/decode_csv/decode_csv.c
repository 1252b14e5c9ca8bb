/*
 * The csv decoder (SPEC §2, §12): one line of cells named by the
 * `columns` option, split at `separator` (default ","), with RFC 4180
 * quoting ("" inside quotes is one quote).
 *
 * One trailing "\n" or "\r\n" is allowed; any other line break outside
 * quotes, or one inside quotes, is a decode_error, as is a line with more
 * or fewer cells than columns. Unquoted cells are trimmed and typed like
 * kv values, and an empty one is null; a quoted cell is always a string.
 * Space outside the quotes of a quoted cell is ignored; a quote inside an
 * unquoted cell is a decode_error (RFC 4180 asks for quoting there).
 *
 * The instance keeps the column names as one blob, copied into record
 * memory with a single memcpy per message, so the record owns its keys
 * and outlives the instance if it must.
 */
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "builtin.h"
#include "decode_util.h"

struct column {
    uint32_t off, len; /* of the name inside the blob */
};

struct csv_dec {
    const struct cg_host *host;
    char sep[5]; /* one UTF-8 character */
    size_t sep_len;
    size_t ncol;
    struct column *cols;
    char *names; /* every name with its NUL, in column order */
    size_t names_size;
};

static void csv_destroy(void *inst)
{
    struct csv_dec *d = inst;
    if (d)
        d->host->free(d);
}

static int check_separator(const char *sep, char *err, size_t errlen)
{
    size_t n = strlen(sep);
    if (n > 4 || !cg_utf8_valid(sep, n) || cg_utf8_count(sep, n) != 1)
        return dec_bad_option(err, errlen, "separator must be one character");
    if (*sep == '"' || *sep == '\r' || *sep == '\n')
        return dec_bad_option(err, errlen,
                              "separator cannot be a quote or a line break");
    return CG_OK;
}

/* Columns must be a non-empty list of distinct non-empty strings. The
 * duplicate check sorts (cg_members_dedupe), so even a huge list costs
 * O(n log n); the walk after it names the first repeated column. */
static int check_columns(const struct cg_value *cols, char *err, size_t errlen)
{
    if (!cols || cols->type != CG_LIST || cols->len == 0)
        return dec_bad_option(err, errlen,
                              "columns must be a non-empty list of names");
    size_t n = cols->len, kept = n;
    for (size_t i = 0; i < n; i++)
        if (cols->as.items[i].type != CG_STR || cols->as.items[i].len == 0)
            return dec_bad_option(err, errlen,
                                  "columns[%zu] must be a non-empty string", i);
    struct cg_member *m = cg_calloc(n, sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        m[i] = (struct cg_member){.key = cols->as.items[i].as.str,
                                  .key_len = cols->as.items[i].len};
    int rc = cg_members_dedupe(m, &kept);
    for (size_t i = 0, j = 0; rc == CG_OK && kept < n && i < n; i++) {
        if (j < kept && m[j].key == cols->as.items[i].as.str)
            j++;
        else
            rc = dec_bad_option(err, errlen, "columns: '%s' appears twice",
                                cols->as.items[i].as.str);
    }
    cg_free(m);
    return rc;
}

/* The instance, its column table and the names blob, in one block. */
static struct csv_dec *csv_new(const struct cg_host *host,
                               const struct cg_value *cols, const char *sep)
{
    size_t n = cols->len, size = 0;
    for (size_t i = 0; i < n; i++)
        size += cols->as.items[i].len + 1;
    struct csv_dec *d =
        host->alloc(sizeof(*d) + n * sizeof(struct column) + size);
    if (!d)
        return NULL;
    *d = (struct csv_dec){.host = host, .ncol = n, .names_size = size};
    d->sep_len = strlen(sep);
    memcpy(d->sep, sep, d->sep_len + 1);
    d->cols = (struct column *)(d + 1);
    d->names = (char *)(d->cols + n);
    for (size_t i = 0, off = 0; i < n; i++) {
        const struct cg_value *c = &cols->as.items[i];
        memcpy(d->names + off, c->as.str, c->len + 1);
        d->cols[i] = (struct column){(uint32_t)off, c->len};
        off += c->len + 1;
    }
    return d;
}

static int csv_create(const struct cg_host *host, const struct cg_value *opts,
                      void **inst, char *err, size_t errlen)
{
    const char *sep = ",";
    const struct cg_value *cols = dec_option(opts, "columns");
    int rc = dec_string_option(opts, "separator", &sep, err, errlen);
    if (rc == CG_OK)
        rc = check_separator(sep, err, errlen);
    if (rc == CG_OK)
        rc = check_columns(cols, err, errlen);
    if (rc != CG_OK)
        return rc;
    struct csv_dec *d = csv_new(host, cols, sep);
    if (!d)
        return CG_ENOMEM;
    *inst = d;
    return CG_OK;
}

/* Scanning state over the line s[0..n). */
struct line {
    const struct csv_dec *d;
    struct cg_record *out;
    const char *s;
    size_t n, i;
};

static bool at_sep(const struct line *l, size_t i)
{
    return l->s[i] == l->d->sep[0] && l->n - i >= l->d->sep_len &&
           memcmp(l->s + i, l->d->sep, l->d->sep_len) == 0;
}

/* Skips spaces and tabs that are not the separator itself. */
static void skip_blanks(struct line *l)
{
    while (l->i < l->n && (l->s[l->i] == ' ' || l->s[l->i] == '\t') &&
           !at_sep(l, l->i))
        l->i++;
}

/* Finds the closing quote of the cell opening at l->s[open] and measures
 * its text ("" counts as one byte). */
static int scan_quoted(struct line *l, size_t open, size_t *close, size_t *len)
{
    *len = 0;
    for (size_t i = open + 1; i < l->n; i++, ++*len) {
        char c = l->s[i];
        if (c == '\r' || c == '\n')
            return dec_fail(l->out, "line break inside quotes at byte %zu", i);
        if (c == '"' && !(i + 1 < l->n && l->s[i + 1] == '"')) {
            *close = i;
            return CG_OK;
        }
        i += c == '"'; /* "" stands for one quote */
    }
    return dec_fail(l->out, "unterminated quote at byte %zu", open);
}

/* A quoted cell, with l->i at its opening quote: always a string. */
static int quoted_cell(struct line *l, struct cg_value *v)
{
    size_t close = 0, len = 0; /* set by scan_quoted; zeroed for the compiler */
    int rc = scan_quoted(l, l->i, &close, &len);
    if (rc != CG_OK)
        return rc;
    char *dst = l->d->host->record_alloc(l->out, len + 1);
    if (!dst)
        return CG_ENOMEM;
    for (size_t i = l->i + 1, k = 0; i < close; i++) {
        dst[k++] = l->s[i];
        i += l->s[i] == '"';
    }
    dst[len] = '\0';
    *v = (struct cg_value){.type = CG_STR, .len = (uint32_t)len};
    v->as.str = dst;
    l->i = close + 1;
    skip_blanks(l);
    if (l->i < l->n && !at_sep(l, l->i))
        return dec_fail(
            l->out, "unexpected text after a quoted cell at byte %zu", l->i);
    return CG_OK;
}

/* An unquoted cell: up to the next separator, trimmed and typed. */
static int plain_cell(struct line *l, struct cg_value *v)
{
    size_t start = l->i;
    for (; l->i < l->n && !at_sep(l, l->i); l->i++) {
        char c = l->s[l->i];
        if (c == '"')
            return dec_fail(l->out,
                            "quote inside an unquoted cell at byte "
                            "%zu",
                            l->i);
        if (c == '\r' || c == '\n')
            return dec_fail(l->out, "more than one line at byte %zu", l->i);
    }
    const char *s = l->s + start;
    size_t n = l->i - start;
    cg_trim(&s, &n);
    if (n == 0) {
        *v = (struct cg_value){.type = CG_NULL};
        return CG_OK;
    }
    return dec_text_value(l->d->host, l->out, s, n, (size_t)(s - l->s), v);
}

/* Reads every cell; cells beyond the columns are read (to count them and
 * to find errors) but dropped. Sets *count to the number of cells. */
static int read_cells(struct line *l, struct cg_member *m, size_t *count)
{
    struct cg_value extra;
    size_t k = 0;
    for (;;) {
        struct cg_value *v = k < l->d->ncol ? &m[k].value : &extra;
        k++;
        skip_blanks(l);
        int rc = l->i < l->n && l->s[l->i] == '"' ? quoted_cell(l, v)
                                                  : plain_cell(l, v);
        if (rc != CG_OK)
            return rc;
        if (l->i >= l->n)
            break;
        l->i += l->d->sep_len; /* both cell readers stop at a separator */
    }
    *count = k;
    return CG_OK;
}

/* Record memory for the members, keyed by a copy of the names blob. */
static struct cg_member *new_members(const struct csv_dec *d,
                                     struct cg_record *out)
{
    struct cg_member *m = d->host->record_alloc(out, d->ncol * sizeof(*m));
    char *names = m ? d->host->record_alloc(out, d->names_size) : NULL;
    if (!names)
        return NULL;
    memcpy(names, d->names, d->names_size);
    for (size_t i = 0; i < d->ncol; i++)
        m[i] = (struct cg_member){.key = names + d->cols[i].off,
                                  .key_len = d->cols[i].len};
    return m;
}

static int csv_decode(void *inst, const struct cg_input *in,
                      struct cg_record *out)
{
    const struct csv_dec *d = inst;
    int rc = dec_check_text(in, out);
    if (rc != CG_OK)
        return rc;
    struct line l = {d, out, (const char *)in->payload, in->len, 0};
    if (l.n && l.s[l.n - 1] == '\n') /* one trailing LF or CRLF */
        l.n -= l.n > 1 && l.s[l.n - 2] == '\r' ? 2 : 1;
    const char *t = l.s;
    size_t tn = l.n;
    cg_trim(&t, &tn);
    if (tn == 0)
        return dec_fail(out, "empty payload");
    struct cg_member *m = new_members(d, out);
    if (!m)
        return CG_ENOMEM;
    size_t count;
    if ((rc = read_cells(&l, m, &count)) != CG_OK)
        return rc;
    if (count != d->ncol)
        return dec_fail(out, "expected %zu cells (columns), got %zu", d->ncol,
                        count);
    out->root = (struct cg_value){.type = CG_OBJ, .len = (uint32_t)d->ncol};
    out->root.as.members = m;
    return CG_OK;
}

static const struct cg_option csv_options[] = {
    {"columns", CG_OPT_LIST, 1, "the field names, one per cell, in order"},
    {"separator", CG_OPT_STRING, 0, "the cell separator (default \",\")"},
    {NULL, 0, 0, NULL},
};

const struct cg_plugin cg_builtin_decode_csv = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "csv",
    .kind = "decoder",
    .options = csv_options,
    .create = csv_create,
    .destroy = csv_destroy,
    .decode = csv_decode,
    .deliver = NULL,
};
