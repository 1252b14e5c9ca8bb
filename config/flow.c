/*
 * The flow-mapping comma trap (SPEC §14). In YAML's flow style a comma
 * ends an entry, so `data: { pm25: round(pm25, 1), district: district }`
 * is read as pm25: "round(pm25", a key "1)" without a value, and
 * district: district. Each piece alone is a puzzling error ("expected ','
 * or ')' in arguments", "unknown key '1)'"); the cause is the comma.
 *
 * A split shows in the nodes: a plain value whose brackets or quotes are
 * left open, followed by plain keys (with or without values) that close
 * them again, exactly as the text did before YAML cut it. Such a run of
 * pairs is reported once, at the value, naming the cause and the quoted
 * expression to write instead, and its pieces are skipped, so that no
 * other error is reported for them.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Brackets and quotes left open at the end of s: positive while some
 * '(' or '[' is unclosed or a string literal is unterminated, negative
 * when more close than open. */
static int open_count(const char *s)
{
    int depth = 0;
    char quote = 0;
    for (; *s; s++) {
        if (quote) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == quote)
                quote = 0;
        } else if (*s == '"' || *s == '\'') {
            quote = *s;
        } else if (*s == '(' || *s == '[') {
            depth++;
        } else if (*s == ')' || *s == ']') {
            depth--;
        }
    }
    return quote ? depth + 1 : depth;
}

static bool plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE &&
           n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* Appends the next piece of the cut text: YAML dropped ", " before a key
 * and ": " before its value. */
static void join(struct cg_buf *b, const char *sep, const yaml_node_t *n)
{
    cg_buf_puts(b, sep);
    cg_buf_put(b, node_text(n), n->data.scalar.length);
}

/* Whether the pairs from `first` on rejoin the cut value of pair first
 * into balanced text; *end gets the pair after the last piece. */
static bool rejoin(struct loader *L, yaml_node_t *map, size_t first,
                   struct cg_buf *b, size_t *end)
{
    yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    size_t n = node_len(map);
    cg_buf_reset(b);
    join(b, "", node_at(L, pairs[first].value));
    for (size_t j = first + 1; j < n; j++) {
        yaml_node_t *k = node_at(L, pairs[j].key),
                    *v = node_at(L, pairs[j].value);
        if (!plain(k) || !plain(v))
            return false;
        join(b, ", ", k);
        if (v->data.scalar.length)
            join(b, ": ", v);
        int open = b->oom ? -1 : open_count(b->data);
        if (open <= 0) {
            *end = j + 1;
            return open == 0;
        }
    }
    return false;
}

static void report(struct loader *L, yaml_node_t *map, size_t i,
                   const char *text)
{
    yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
    const char *q = strchr(text, '"') ? "'" : "\"";
    size_t mark = where_push(L, ".%s", node_text(node_at(L, p->key)));
    if (strlen(text) > 60)
        loader_error(L, node_at(L, p->value),
                     "a comma inside this expression splits the YAML flow "
                     "mapping { ... } in two entries: quote the expression");
    else
        loader_error(L, node_at(L, p->value),
                     "the comma in %s splits the YAML flow mapping { ... } "
                     "in two entries: quote the expression, %s%s%s",
                     text, q, text, q);
    where_pop(L, mark);
}

size_t flow_splits(struct loader *L, yaml_node_t *map, bool *skip)
{
    size_t n = node_len(map), found = 0, end = 0;
    struct cg_buf b = {0};
    if (map->type != YAML_MAPPING_NODE ||
        map->data.mapping.style != YAML_FLOW_MAPPING_STYLE)
        return 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *v = node_at(L, map->data.mapping.pairs.start[i].value);
        if (!plain(v) || open_count(node_text(v)) <= 0 ||
            !rejoin(L, map, i, &b, &end))
            continue;
        report(L, map, i, b.data);
        for (size_t j = i; j < end; j++)
            skip[j] = true;
        found++;
        i = end - 1;
    }
    if (b.oom)
        L->oom = 1;
    cg_buf_free(&b);
    return found;
}
