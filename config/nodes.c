/*
 * YAML node helpers for the loader: positions, scalar copies, typed
 * values and diagnostics that name the place in the file ("vendors[2].
 * network") as well as its line and column.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void add_diag(struct loader *L, int severity, const yaml_mark_t *m,
                     const char *fmt, va_list ap)
{
    char msg[CG_DIAG_MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    const char *where = L->where[0] == '.' ? L->where + 1 : L->where;
    int line = (int)m->line + 1, col = (int)m->column + 1;
    if (severity == CG_DIAG_WARNING) {
        cg_diags_warn(L->d, L->file, line, col, "%s%s%s", where,
                      *where ? ": " : "", msg);
        return;
    }
    cg_diags_add(L->d, L->file, line, col, "%s%s%s", where, *where ? ": " : "",
                 msg);
    L->errors++;
}

static void add_error(struct loader *L, const yaml_mark_t *m, const char *fmt,
                      va_list ap)
{
    add_diag(L, CG_DIAG_ERROR, m, fmt, ap);
}

void loader_warn(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_diag(L, CG_DIAG_WARNING, &n->start_mark, fmt, ap);
    va_end(ap);
}

void loader_error(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error(L, &n->start_mark, fmt, ap);
    va_end(ap);
}

void loader_error_at(struct loader *L, const yaml_mark_t *m, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error(L, m, fmt, ap);
    va_end(ap);
}

size_t where_push(struct loader *L, const char *fmt, ...)
{
    size_t len = strlen(L->where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->where + len, sizeof(L->where) - len, fmt, ap);
    va_end(ap);
    return len;
}

void where_pop(struct loader *L, size_t len)
{
    L->where[len] = '\0';
}

yaml_node_t *node_at(struct loader *L, int index)
{
    return yaml_document_get_node(L->doc, index);
}

const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "mapping";
    case YAML_SEQUENCE_NODE:
        return "list";
    default:
        return "scalar";
    }
}

struct cg_pos node_pos(const struct loader *L, const yaml_node_t *n)
{
    struct cg_pos p = {L->file, (int)n->start_mark.line + 1,
                       (int)n->start_mark.column + 1};
    return p;
}

bool node_is_scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE;
}

const char *node_text(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                       : "";
}

size_t node_len(const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return (size_t)(n->data.mapping.pairs.top -
                        n->data.mapping.pairs.start);
    if (n->type == YAML_SEQUENCE_NODE)
        return (size_t)(n->data.sequence.items.top -
                        n->data.sequence.items.start);
    return 0;
}

yaml_node_t *map_get(struct loader *L, yaml_node_t *map, const char *key)
{
    if (map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++)
        if (strcmp(node_text(node_at(L, p->key)), key) == 0)
            return node_at(L, p->value);
    return NULL;
}

void *loader_alloc(struct loader *L, size_t size)
{
    void *p = cg_arena_alloc(L->arena, size);
    if (!p) {
        L->oom = 1;
        return NULL;
    }
    memset(p, 0, size);
    return p;
}

const char *loader_strdup(struct loader *L, const char *s)
{
    char *p = cg_arena_strndup(L->arena, s, strlen(s));
    if (!p)
        L->oom = 1;
    return p;
}

const char *scalar_bytes(struct loader *L, yaml_node_t *n)
{
    if (!node_is_scalar(n)) {
        loader_error(L, n, "expected a string, got a %s", node_kind(n));
        return NULL;
    }
    char *p = cg_arena_strndup(L->arena, node_text(n), n->data.scalar.length);
    if (!p)
        L->oom = 1;
    return p;
}

const char *scalar_dup(struct loader *L, yaml_node_t *n)
{
    if (node_is_scalar(n) &&
        memchr(node_text(n), '\0', n->data.scalar.length)) {
        loader_error(L, n, "text must not hold a NUL character (\\0)");
        return NULL;
    }
    return scalar_bytes(L, n);
}

/* Block scalars lose their indentation; find it in the raw text: the first
 * non-blank line after the indicator line. */
static int block_indent(const struct loader *L, const yaml_node_t *n,
                        int *first_line)
{
    size_t i = n->start_mark.index;
    while (i < L->text_len && L->text[i] != '\n')
        i++;
    int line = (int)n->start_mark.line + 2;
    while (i < L->text_len) {
        size_t start = ++i, col = 0;
        while (i < L->text_len && L->text[i] == ' ')
            i++, col++;
        if (i < L->text_len && L->text[i] != '\n') {
            *first_line = line;
            return (int)col;
        }
        (void)start;
        line++;
    }
    *first_line = line;
    return 0;
}

int scalar_src(struct loader *L, yaml_node_t *n, struct cg_src *out)
{
    if (!node_is_scalar(n)) {
        loader_error(L, n, "expected an expression, got a %s", node_kind(n));
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->text = scalar_dup(L, n);
    out->file = L->file;
    out->line = (int)n->start_mark.line + 1;
    out->col = (int)n->start_mark.column + 1;
    yaml_scalar_style_t st = n->data.scalar.style;
    if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
        st == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        out->col++;
    if (st == YAML_LITERAL_SCALAR_STYLE || st == YAML_FOLDED_SCALAR_STYLE) {
        out->block = 1;
        out->indent = block_indent(L, n, &out->line);
        out->col = out->indent + 1;
    }
    return out->text ? 0 : -1;
}

int node_plist(struct loader *L, yaml_node_t *n, struct cg_pstr **out,
               size_t *count)
{
    if (node_is_scalar(n)) {
        struct cg_pstr *p = loader_alloc(L, sizeof(*p));
        if (!p)
            return -1;
        p->s = scalar_dup(L, n);
        p->pos = node_pos(L, n);
        if (!p->s)
            return -1; /* out of memory */
        *out = p;
        *count = 1;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        loader_error(L, n, "expected a list of strings, got a %s",
                     node_kind(n));
        return -1;
    }
    size_t len = node_len(n);
    struct cg_pstr *p = loader_alloc(L, (len ? len : 1) * sizeof(*p));
    if (!p)
        return -1;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        p[i].s = scalar_dup(L, item);
        p[i].pos = node_pos(L, item);
        /* A non-string item is reported; leave the list unset rather
         * than hand on a NULL string (rule globs are expanded even when
         * the config has errors). */
        if (!p[i].s)
            return -1;
    }
    *out = p;
    *count = len;
    return 0;
}

static int scalar_value(struct loader *L, yaml_node_t *n, struct cg_value *out)
{
    const char *s = node_text(n);
    size_t len = n->data.scalar.length;
    memset(out, 0, sizeof(*out));
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (len == 0 || !strcmp(s, "null") || !strcmp(s, "~") ||
            !strcmp(s, "Null") || !strcmp(s, "NULL"))
            return 0;
        if (cg_text_type(s, len, out) == CG_OK && out->type != CG_STR)
            return 0;
    }
    const char *copy = scalar_bytes(L, n);
    if (!copy)
        return -1;
    out->type = CG_STR;
    out->len = (uint32_t)len;
    out->as.str = copy;
    return 0;
}

static int value_at(struct loader *L, yaml_node_t *n, struct cg_value *out,
                    int depth);

static int sequence_value(struct loader *L, yaml_node_t *n,
                          struct cg_value *out, int depth)
{
    size_t len = node_len(n);
    struct cg_value *items = loader_alloc(L, (len ? len : 1) * sizeof(*items));
    if (!items)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (value_at(L, node_at(L, n->data.sequence.items.start[i]), &items[i],
                     depth))
            return -1;
    out->type = CG_LIST;
    out->len = (uint32_t)len;
    out->as.items = items;
    return 0;
}

static int mapping_value(struct loader *L, yaml_node_t *n, struct cg_value *out,
                         int depth)
{
    size_t len = node_len(n);
    struct cg_member *m = loader_alloc(L, (len ? len : 1) * sizeof(*m));
    if (!m)
        return -1;
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node_at(L, p->key);
        if (!(m[i].key = scalar_bytes(L, k)))
            return -1;
        m[i].key_len = (uint32_t)k->data.scalar.length;
        if (value_at(L, node_at(L, p->value), &m[i].value, depth))
            return -1;
    }
    out->type = CG_OBJ;
    out->len = (uint32_t)len;
    out->as.members = m;
    return 0;
}

/* depth: the mappings and lists around n. The composer already bounds
 * nesting and alias expansion for the whole file; this bound is the one a
 * value shares with JSON, so a payload written in YAML is one the JSON
 * decoder accepts. */
static int value_at(struct loader *L, yaml_node_t *n, struct cg_value *out,
                    int depth)
{
    if (n->type == YAML_SCALAR_NODE)
        return scalar_value(L, n, out);
    if (depth == CG_JSON_MAX_DEPTH) {
        loader_error(L, n, "nesting deeper than %d levels", CG_JSON_MAX_DEPTH);
        return -1;
    }
    if (n->type == YAML_SEQUENCE_NODE)
        return sequence_value(L, n, out, depth + 1);
    return mapping_value(L, n, out, depth + 1);
}

int node_value(struct loader *L, yaml_node_t *n, struct cg_value *out)
{
    return value_at(L, n, out, 0);
}

int node_field_map(struct loader *L, yaml_node_t *n, struct cg_field_conf **out,
                   size_t *count)
{
    if (n->type != YAML_MAPPING_NODE) {
        loader_error(L, n, "expected a mapping of name: expression");
        return 1;
    }
    size_t len = node_len(n), kept = 0;
    struct cg_field_conf *fields =
        loader_alloc(L, (len ? len : 1) * sizeof(*fields));
    bool *skip = flow_skips(L, n); /* pieces of a split are reported */
    for (size_t i = 0; fields && i < len; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node_at(L, p->key);
        struct cg_field_conf *f = &fields[kept];
        if ((skip && skip[i]) || !(f->name.s = scalar_dup(L, k)))
            continue;
        f->name.pos = node_pos(L, k);
        size_t mark = where_push(L, ".%s", node_text(k));
        scalar_src(L, node_at(L, p->value), &f->expr);
        where_pop(L, mark);
        kept++;
    }
    cg_free(skip);
    if (!fields)
        return 1;
    *out = fields;
    *count = kept;
    return 0;
}
