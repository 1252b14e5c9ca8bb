/*
 * The schema engine: a table of {key, type, required, default, offset}
 * rows applied to a YAML mapping. Unknown keys and wrong types are errors
 * (a typo must not silently disable a feature); defaults apply only to
 * absent keys. Every error carries the line and column of the offending
 * key or value.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *field_type_name(int type)
{
    switch (type) {
    case FT_INT:
        return "an integer";
    case FT_BOOL:
        return "true or false";
    case FT_SIZE:
        return "a size (e.g. 64MiB)";
    case FT_PLIST:
        return "a list of strings";
    case FT_DURATION:
        return "a duration (500ms, 30s, 5m, 1h, 1d)";
    default:
        return "a string";
    }
}

static void unknown_key(struct loader *L, yaml_node_t *key,
                        const struct field *t)
{
    const char *name = node_text(key);
    const char *best = NULL;
    size_t best_d = 3;
    for (const struct field *f = t; f->key; f++) {
        size_t dist = cg_edit_distance(name, f->key);
        if (dist < best_d) {
            best_d = dist;
            best = f->key;
        }
    }
    if (best)
        loader_error(L, key, "unknown key '%s' (did you mean '%s'?)", name,
                     best);
    else
        loader_error(L, key, "unknown key '%s'", name);
}

static const struct field *find_field(const struct field *t, const char *k)
{
    for (const struct field *f = t; f->key; f++)
        if (strcmp(f->key, k) == 0)
            return f;
    return NULL;
}

static int parse_int_text(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool_text(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *out = false;
        return 0;
    }
    return -1;
}

int parse_size(const char *s, uint64_t *out)
{
    return cg_size_parse(s, out) == CG_OK ? 0 : -1;
}

static int parse_enum_text(const struct field *f, const char *s, int *out)
{
    for (int i = 0; f->choices[i]; i++)
        if (strcmp(f->choices[i], s) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static void enum_error(struct loader *L, yaml_node_t *n, const struct field *f)
{
    char list[160] = "";
    for (int i = 0; f->choices[i]; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s", i ? " | " : "",
                 f->choices[i]);
    }
    loader_error(L, n, "expected one of %s, got '%s'", list, node_text(n));
}

/* Parses a scalar text into the field (for values and for defaults). n is
 * NULL for defaults, which are trusted. Returns 0 or -1. */
static int scalar_into(struct loader *L, const struct field *f, yaml_node_t *n,
                       const char *s, char *dst)
{
    long lv;
    switch (f->type) {
    case FT_STR:
        *(const char **)dst = n ? scalar_dup(L, n) : s;
        return 0;
    case FT_INT:
        if (parse_int_text(s, &lv))
            return -1;
        if (f->min < f->max && (lv < f->min || lv > f->max)) {
            if (n)
                loader_error(L, n, "must be between %ld and %ld", f->min,
                             f->max);
            return n ? -2 : -1;
        }
        *(int *)dst = (int)lv;
        return 0;
    case FT_BOOL:
        return parse_bool_text(s, (bool *)dst);
    case FT_SIZE:
        return parse_size(s, (uint64_t *)dst);
    case FT_ENUM:
        if (parse_enum_text(f, s, (int *)dst) == 0)
            return 0;
        if (n)
            enum_error(L, n, f);
        return -2;
    default:
        return -1;
    }
}

static void apply_value(struct loader *L, const struct field *f, yaml_node_t *v,
                        void *base)
{
    char *dst = (char *)base + f->off;
    if (f->type == FT_CUSTOM) {
        f->parse(L, v, base);
        return;
    }
    if (f->type == FT_VALUE) {
        struct cg_value *val = loader_alloc(L, sizeof(*val));
        if (val && node_value(L, v, val) == 0)
            *(const struct cg_value **)dst = val;
        return;
    }
    if (f->type == FT_PLIST) {
        node_plist(L, v, (struct cg_pstr **)dst,
                   (size_t *)(dst + sizeof(struct cg_pstr *)));
        return;
    }
    if (!node_is_scalar(v)) {
        loader_error(L, v, "expected %s, got a %s", field_type_name(f->type),
                     node_kind(v));
        return;
    }
    if (f->type == FT_SRC) {
        scalar_src(L, v, (struct cg_src *)dst);
        return;
    }
    if (f->type == FT_DURATION) {
        struct cg_duration_conf *d = (struct cg_duration_conf *)dst;
        d->pos = node_pos(L, v);
        d->set = cg_duration_parse(node_text(v), &d->ms) == CG_OK;
        if (!d->set)
            loader_error(L, v, "expected %s, got '%s'",
                         field_type_name(f->type), node_text(v));
        return;
    }
    if (f->type == FT_PSTR) {
        struct cg_pstr *p = (struct cg_pstr *)dst;
        p->s = scalar_dup(L, v);
        p->pos = node_pos(L, v);
        return;
    }
    if (scalar_into(L, f, v, node_text(v), dst) == -1)
        loader_error(L, v, "expected %s, got '%s'", field_type_name(f->type),
                     node_text(v));
}

static void apply_default(struct loader *L, const struct field *f, void *base)
{
    if (f->type == FT_REST)
        return;
    char *dst = (char *)base + f->off;
    if (!f->def)
        return;
    if (f->type == FT_PSTR)
        ((struct cg_pstr *)dst)->s = f->def;
    else
        scalar_into(L, f, NULL, f->def, dst);
}

/* Applies one key: value pair. `seen` has a bit per table row (a table
 * has at most 64 rows), so a repeated key is found without comparing it
 * with every earlier key: a mapping may be long. */
static void apply_pair(struct loader *L, yaml_node_pair_t *pair,
                       const struct field *t, void *base, uint64_t *seen)
{
    yaml_node_t *k = node_at(L, pair->key), *v = node_at(L, pair->value);
    if (!node_is_scalar(k)) {
        loader_error(L, k, "expected a key, got a %s", node_kind(k));
        return;
    }
    const struct field *f = find_field(t, node_text(k));
    if (!f)
        f = find_field(t, "*");
    if (!f) {
        unknown_key(L, k, t);
        return;
    }
    if (f->type == FT_REST)
        return; /* the caller reads it, and checks it for duplicates */
    uint64_t bit = 1ULL << (f - t);
    if (*seen & bit) {
        /* Reported, and not applied again: a section read twice would
         * leave counts that no longer match its arrays. */
        loader_error(L, k, "duplicate key '%s'", f->key);
        return;
    }
    *seen |= bit;
    size_t mark = where_push(L, ".%s", f->key);
    if (f->type == FT_REFUSED)
        loader_error(L, k, "'%s' is not supported in this version", f->key);
    else
        apply_value(L, f, v, base);
    where_pop(L, mark);
}

/* Pairs that a comma split in a flow mapping were reported once (flow.c);
 * the key the split value belonged to still counts as given. */
static void skip_pair(struct loader *L, yaml_node_pair_t *pair,
                      const struct field *t, uint64_t *seen)
{
    const struct field *f = find_field(t, node_text(node_at(L, pair->key)));
    if (f && f->type != FT_REST)
        *seen |= 1ULL << (f - t);
}

bool *flow_skips(struct loader *L, yaml_node_t *map)
{
    size_t n = node_len(map);
    if (map->type != YAML_MAPPING_NODE ||
        map->data.mapping.style != YAML_FLOW_MAPPING_STYLE || n < 2)
        return NULL;
    bool *skip = cg_calloc(n, sizeof(*skip));
    if (!skip)
        L->oom = 1;
    else
        flow_splits(L, map, skip);
    return skip;
}

int schema_apply(struct loader *L, yaml_node_t *map, const struct field *t,
                 void *base)
{
    int before = L->errors;
    uint64_t seen = 0;
    if (map->type != YAML_MAPPING_NODE) {
        loader_error(L, map, "expected a mapping, got a %s", node_kind(map));
        return L->errors - before;
    }
    bool *skip = flow_skips(L, map);
    yaml_node_pair_t *first = map->data.mapping.pairs.start;
    for (yaml_node_pair_t *p = first; p < map->data.mapping.pairs.top; p++) {
        if (skip && skip[p - first])
            skip_pair(L, p, t, &seen);
        else
            apply_pair(L, p, t, base, &seen);
    }
    cg_free(skip);
    for (const struct field *f = t; f->key; f++) {
        if (seen & (1ULL << (f - t)))
            continue;
        if (f->required)
            loader_error(L, map, "missing required key '%s'", f->key);
        else
            apply_default(L, f, base);
    }
    return L->errors - before;
}

bool schema_has_key(const struct field *t, const char *key)
{
    const struct field *f = find_field(t, key);
    return f && strcmp(f->key, "*");
}

void schema_defaults(struct loader *L, const struct field *t, void *base)
{
    for (const struct field *f = t; f->key; f++)
        if (!f->required)
            apply_default(L, f, base);
}
