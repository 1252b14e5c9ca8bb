/*
 * Lookup tables (SPEC §14): the rows of a device registry indexed by the
 * text of their key column, for lookup("name", key) in expressions.
 *
 * A key is compared as text: a string as it is, a number or boolean as
 * str() writes it, so lookup("meters", 17) and lookup("meters", "17") find
 * the row whose key cell reads 17. The rows are borrowed (the config owns
 * them); the table owns its sorted index and the key texts it had to
 * write. Finding a row is a binary search that neither allocates nor
 * writes, so one table serves any number of threads.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct table_row {
    const char *key;
    size_t key_len;
    size_t index; /* in the rows as given, for reports */
    const struct cg_value *row;
};

struct cg_table {
    char *name;
    char **private_cols;
    size_t n_private;
    struct table_row *rows; /* sorted by key, bytewise */
    size_t n_rows;
    struct cg_arena *arena; /* key texts of keys that are no strings */
};

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static int row_cmp(const void *x, const void *y)
{
    const struct table_row *a = x, *b = y;
    int c = key_cmp(a->key, a->key_len, b->key, b->key_len);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

/* The key text of one row: its key column as str() writes it. False when
 * the row has no key (no such member, or null). */
static bool row_key(struct cg_table *t, const struct cg_value *row,
                    const char *key, struct table_row *out)
{
    const struct cg_value *k = cg_value_member(row, key, strlen(key));
    struct cg_value text;
    if (!k || !value__format_arena(t->arena, k, &text))
        return false;
    out->key = text.as.str;
    out->key_len = text.len;
    out->row = row;
    return true;
}

static int copy_private(struct cg_table *t, const char *const *cols, size_t n)
{
    t->private_cols = cg_calloc(n ? n : 1, sizeof(char *));
    if (!t->private_cols)
        return CG_ENOMEM;
    for (size_t i = 0; i < n; i++, t->n_private++)
        if (!(t->private_cols[i] = cg_strdup(cols[i])))
            return CG_ENOMEM;
    return CG_OK;
}

/* Indexes the rows; a row without a key or with a key an earlier row has
 * is reported through *bad. */
static int index_rows(struct cg_table *t, const struct cg_value *rows,
                      const char *key, size_t *bad)
{
    size_t n = rows->type == CG_LIST ? rows->len : 0;
    t->rows = cg_calloc(n ? n : 1, sizeof(*t->rows));
    if (!t->rows)
        return CG_ENOMEM;
    for (size_t i = 0; i < n; i++, t->n_rows++) {
        t->rows[i].index = i;
        if (!row_key(t, &rows->as.items[i], key, &t->rows[i])) {
            *bad = i;
            return CG_EINVAL;
        }
    }
    qsort(t->rows, n, sizeof(*t->rows), row_cmp);
    for (size_t i = 1; i < n; i++) {
        const struct table_row *a = &t->rows[i - 1], *b = &t->rows[i];
        if (!key_cmp(a->key, a->key_len, b->key, b->key_len)) {
            *bad = b->index; /* the later of the two: sorted by index */
            return CG_EINVAL;
        }
    }
    return CG_OK;
}

int cg_table_new(const char *name, const struct cg_value *rows, const char *key,
                 const char *const *private_cols, size_t n_private,
                 struct cg_table **out, size_t *bad)
{
    size_t ignored;
    *out = NULL;
    struct cg_table *t = cg_calloc(1, sizeof(*t));
    if (!t)
        return CG_ENOMEM;
    int rc = CG_ENOMEM;
    if ((t->name = cg_strdup(name)) && (t->arena = cg_arena_new(1024)) &&
        (rc = copy_private(t, private_cols, n_private)) == CG_OK)
        rc = index_rows(t, rows, key, bad ? bad : &ignored);
    if (rc != CG_OK) {
        cg_table_free(t);
        return rc;
    }
    *out = t;
    return CG_OK;
}

void cg_table_free(struct cg_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_private; i++)
        cg_free(t->private_cols[i]);
    cg_free(t->private_cols);
    cg_free(t->rows);
    cg_arena_free(t->arena);
    cg_free(t->name);
    cg_free(t);
}

const char *cg_table_name(const struct cg_table *t)
{
    return t->name;
}

size_t cg_table_rows(const struct cg_table *t)
{
    return t->n_rows;
}

const struct cg_value *cg_table_find(const struct cg_table *t, const char *key,
                                     size_t len)
{
    size_t lo = 0, hi = t->n_rows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct table_row *r = &t->rows[mid];
        int c = key_cmp(r->key, r->key_len, key, len);
        if (c == 0)
            return r->row;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool cg_table_private(const struct cg_table *t, const char *column, size_t len)
{
    for (size_t i = 0; i < t->n_private; i++)
        if (strlen(t->private_cols[i]) == len &&
            !memcmp(t->private_cols[i], column, len))
            return true;
    return false;
}

size_t cg_table_private_columns(const struct cg_table *t,
                                const char *const **cols)
{
    *cols = (const char *const *)t->private_cols;
    return t->n_private;
}
