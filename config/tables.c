/*
 * The tables section (SPEC §14): lookup tables such as device registries,
 * each read from its own file, a CSV file with a header row or a YAML
 * list of mappings (.yaml, .yml). The loader checks what `lookup()` will
 * rely on: the key column exists (an error at `key:`), every row has a
 * key and no two rows share one (an error at the row's line in the table
 * file), and the private columns exist. Keys compare as text, as lookup()
 * compares them: a string as it is, a number as JSON writes it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const struct field table_fields[] = {
    {FIELD(struct cg_table_conf, name, "name", FT_PSTR), .required = 1},
    {FIELD(struct cg_table_conf, file, "file", FT_PSTR), .required = 1},
    {FIELD(struct cg_table_conf, key, "key", FT_PSTR), .required = 1},
    {FIELD(struct cg_table_conf, private_cols, "private", FT_PLIST)},
    {0}};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The columns of YAML rows: every key of every row, first seen first. */
static int yaml_columns(struct loader *L, struct table_text *out)
{
    size_t cap = 0;
    for (uint32_t i = 0; i < out->rows.len; i++)
        cap += out->rows.as.items[i].len;
    out->columns = loader_alloc(L, (cap ? cap : 1) * sizeof(char *));
    if (!out->columns)
        return -1;
    for (uint32_t i = 0; i < out->rows.len; i++) {
        const struct cg_value *row = &out->rows.as.items[i];
        for (uint32_t k = 0; k < row->len; k++) {
            const char *name = row->as.members[k].key;
            size_t j = 0;
            while (j < out->n_columns && strcmp(out->columns[j], name))
                j++;
            if (j == out->n_columns)
                out->columns[out->n_columns++] = name;
        }
    }
    return 0;
}

/* Every item of a YAML table must be a mapping; notes its line. */
static int yaml_items(struct loader *L, yaml_node_t *root,
                      struct table_text *out)
{
    size_t n = node_len(root);
    out->lines = loader_alloc(L, (n ? n : 1) * sizeof(int));
    if (!out->lines)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(L, root->data.sequence.items.start[i]);
        out->lines[i] = (int)item->start_mark.line + 1;
        if (item->type != YAML_MAPPING_NODE) {
            loader_error(L, item, "expected a mapping (one row)");
            rc = -1;
        }
    }
    return rc;
}

/* A YAML table: a list of mappings, values typed as YAML types them. */
static int yaml_rows(struct loader *parent, const char *file,
                     const struct file_text *ft, struct table_text *out)
{
    struct loader L = {.cfg = parent->cfg,
                       .arena = parent->arena,
                       .d = parent->d,
                       .file = file,
                       .text = ft->text,
                       .text_len = ft->len};
    yaml_document_t doc;
    int rc = -1;
    if (yaml_compose(&L, &doc) == 0) {
        L.doc = &doc;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root || root->type != YAML_SEQUENCE_NODE)
            cg_diags_add(L.d, file, 1, 1,
                         "a YAML table is a list of mappings, one per row");
        L.errors += !root || root->type != YAML_SEQUENCE_NODE;
        if (root && root->type == YAML_SEQUENCE_NODE &&
            yaml_items(&L, root, out) == 0 &&
            node_value(&L, root, &out->rows) == 0)
            rc = yaml_columns(&L, out);
        yaml_document_delete(&doc);
    }
    parent->errors += L.errors;
    parent->oom |= L.oom;
    return rc;
}

static int read_rows(struct loader *L, struct cg_table_conf *t,
                     struct table_text *out)
{
    struct file_text ft;
    const char *why;
    const struct cg_pos *p = &t->file.pos;
    bool yaml = ends_with(t->path, ".yaml") || ends_with(t->path, ".yml");
    if (!yaml && !ends_with(t->path, ".csv")) {
        cg_diags_add(L->d, p->file, p->line, p->col,
                     "tables: '%s' is neither .csv nor .yaml/.yml", t->file.s);
        L->errors++;
        return -1;
    }
    int err = read_text_file(t->path, &ft, &why);
    if (err == ENOMEM)
        L->oom = 1;
    if (err) {
        if (err != ENOMEM)
            cg_diags_add(L->d, p->file, p->line, p->col,
                         "tables: cannot read '%s': %s", t->path, why);
        L->errors += err != ENOMEM;
        return -1;
    }
    int rc = yaml ? yaml_rows(L, t->path, &ft, out)
                  : table__csv(L, t->path, ft.text, ft.len, out);
    cg_free(ft.text);
    return rc;
}

static bool has_column(const struct table_text *tt, const char *name)
{
    for (size_t i = 0; i < tt->n_columns; i++)
        if (!strcmp(tt->columns[i], name))
            return true;
    return false;
}

/* An unknown column named at pos, with the closest known one. */
static void unknown_column(struct loader *L, const struct cg_table_conf *t,
                           const struct table_text *tt,
                           const struct cg_pstr *col, const char *what)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < tt->n_columns; i++) {
        size_t d = cg_edit_distance(col->s, tt->columns[i]);
        if (d < best_d) {
            best_d = d;
            best = tt->columns[i];
        }
    }
    cg_diags_add(L->d, col->pos.file, col->pos.line, col->pos.col,
                 "tables: %s '%s' is no column of %s%s%s%s", what, col->s,
                 t->path, best ? " (did you mean '" : "", best ? best : "",
                 best ? "'?)" : "");
    L->errors++;
}

static const struct cg_value *member(const struct cg_value *row,
                                     const char *key)
{
    for (uint32_t i = 0; row->type == CG_OBJ && i < row->len; i++)
        if (!strcmp(row->as.members[i].key, key))
            return &row->as.members[i].value;
    return NULL;
}

/* A key's text, as lookup() compares it. NULL for a row without one. */
static const char *key_text(struct loader *L, const struct cg_value *row,
                            const char *key)
{
    const struct cg_value *v = member(row, key);
    if (!v || v->type == CG_NULL)
        return NULL;
    if (v->type == CG_STR)
        return v->as.str;
    struct cg_buf b = {0};
    cg_json_put_value(&b, v);
    const char *text = b.oom ? NULL : loader_strdup(L, b.data);
    if (b.oom)
        L->oom = 1;
    cg_buf_free(&b);
    return text;
}

static void row_error(struct loader *L, const struct cg_table_conf *t, int line,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void row_error(struct loader *L, const struct cg_table_conf *t, int line,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_diags_vadd(L->d, t->path, line, 1, fmt, ap);
    va_end(ap);
    L->errors++;
}

/* Every row has a key, and no two rows the same one. */
static void check_keys(struct loader *L, const struct cg_table_conf *t,
                       const struct table_text *tt)
{
    struct name_map seen = {0};
    for (uint32_t i = 0; i < tt->rows.len; i++) {
        const char *k = key_text(L, &tt->rows.as.items[i], t->key.s);
        size_t first;
        if (!k) {
            row_error(L, t, tt->lines[i],
                      "row without a value for its key column '%s'", t->key.s);
        } else if (name_map_get(&seen, k, &first)) {
            row_error(L, t, tt->lines[i],
                      "duplicate key '%.60s' (first at line %d)", k,
                      tt->lines[first]);
        } else if (name_map_put(&seen, k, i) < 0) {
            L->oom = 1;
        }
    }
    name_map_free(&seen);
}

static void check_table(struct loader *L, struct cg_table_conf *t)
{
    struct table_text tt = {0};
    int before = L->errors;
    if (read_rows(L, t, &tt) < 0)
        return;
    for (size_t i = 0; i < t->n_private; i++)
        if (!has_column(&tt, t->private_cols[i].s))
            unknown_column(L, t, &tt, &t->private_cols[i], "private");
    if (!has_column(&tt, t->key.s))
        unknown_column(L, t, &tt, &t->key, "key");
    else
        check_keys(L, t, &tt);
    if (L->errors == before) /* rows whose keys hold, or none at all */
        t->rows = tt.rows;
}

/* A table's name is how lookup() and grants ("<table>.<column>") name
 * it: letters, digits, '_' and '-' only. */
static bool good_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || (*s >= '0' && *s <= '9') ||
              ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z')))
            return false;
    return true;
}

static void load_table(struct loader *L, yaml_node_t *item,
                       struct cg_table_conf *t)
{
    t->pos = node_pos(L, item);
    schema_apply(L, item, table_fields, t);
    if (!t->name.s || !t->file.s || !t->key.s)
        return;
    if (!good_name(t->name.s)) {
        cg_diags_add(L->d, t->name.pos.file, t->name.pos.line, t->name.pos.col,
                     "%s.name: '%s': a table's name has letters, digits, '_' "
                     "and '-' only",
                     L->where + 1, t->name.s);
        L->errors++;
    }
    t->path = loader_resolve(L, t->file.s);
    if (t->path)
        check_table(L, t);
}

int load_tables(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_config *cfg = base;
    struct name_map names = {0};
    if (!n)
        return 0;
    if (n->type != YAML_SEQUENCE_NODE) {
        loader_error(L, n, "expected a list of tables");
        return 1;
    }
    size_t len = node_len(n), first;
    cfg->tables = loader_alloc(L, (len ? len : 1) * sizeof(*cfg->tables));
    for (size_t i = 0; cfg->tables && i < len; i++) {
        struct cg_table_conf *t = &cfg->tables[cfg->n_tables++];
        size_t mark = where_push(L, "[%zu]", i);
        load_table(L, node_at(L, n->data.sequence.items.start[i]), t);
        where_pop(L, mark);
        if (t->name.s && name_map_get(&names, t->name.s, &first)) {
            cg_diags_add(L->d, t->name.pos.file, t->name.pos.line,
                         t->name.pos.col, "duplicate table name '%s'",
                         t->name.s);
            L->errors++;
        } else if (t->name.s && name_map_put(&names, t->name.s, i) < 0) {
            L->oom = 1;
        }
    }
    name_map_free(&names);
    return 0;
}
