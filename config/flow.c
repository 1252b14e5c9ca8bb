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
 *
 * When the piece after the comma is itself bad YAML (`f(x, "y")`: a
 * quoted key followed by `)`), there are no nodes, only libyaml's syntax
 * error. The cause is then looked for in the text of the flow mapping
 * around the error: a plain value with a '(' or '[' still open at a
 * comma. The same words name it in both cases.
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

/* The cause, named in one wording wherever a split is found: with the
 * quoted expression to write when it is short enough to repeat (text
 * NULL: not repeated). */
static void put_hint(struct cg_buf *b, const char *text)
{
    if (!text || strlen(text) > 60) {
        cg_buf_puts(b, "a comma inside this expression splits the YAML flow "
                       "mapping { ... } in two entries: quote the expression");
        return;
    }
    const char *q = strchr(text, '"') ? "'" : "\"";
    cg_buf_printf(b,
                  "the comma in %s splits the YAML flow mapping { ... } in "
                  "two entries: quote the expression, %s%s%s",
                  text, q, text, q);
}

static void report(struct loader *L, yaml_node_t *map, size_t i,
                   const char *text)
{
    yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
    struct cg_buf hint = {0};
    put_hint(&hint, text);
    size_t mark = where_push(L, ".%s", node_text(node_at(L, p->key)));
    if (hint.oom)
        L->oom = 1;
    else
        loader_error(L, node_at(L, p->value), "%s", hint.data);
    where_pop(L, mark);
    cg_buf_free(&hint);
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

/* ---- the split in the text, when it is a YAML syntax error -------------- */

/* Reading the text of a flow mapping, as far as the trap needs it. */
struct scan {
    const char *s;
    size_t i, n;
};

static bool blank_at(const struct scan *t, size_t i)
{
    return i >= t->n || t->s[i] == ' ' || t->s[i] == '\t' || t->s[i] == '\r' ||
           t->s[i] == '\n';
}

/* Spaces, line breaks and comments between the parts of an entry. */
static void skip_space(struct scan *t)
{
    while (t->i < t->n) {
        if (t->s[t->i] == '#')
            while (t->i < t->n && t->s[t->i] != '\n')
                t->i++;
        else if (blank_at(t, t->i))
            t->i++;
        else
            return;
    }
}

/* A quoted string from its opening quote: YAML's own ('' and \") and the
 * expression language's (\ escapes) both end at the next unescaped
 * quote of the same kind. */
static void skip_quoted(struct scan *t)
{
    char q = t->s[t->i++];
    while (t->i < t->n) {
        char ch = t->s[t->i++];
        if (ch == '\\' && t->i < t->n)
            t->i++;
        else if (ch == q)
            return;
    }
}

/* A node that is no plain scalar: a quoted one, or a nested flow
 * collection as a whole. Returns false, moving nothing, at a plain
 * scalar. */
static bool skip_node(struct scan *t)
{
    int depth = 0;
    if (t->i >= t->n || !t->s[t->i] || !strchr("\"'[{", t->s[t->i]))
        return false;
    if (t->s[t->i] != '[' && t->s[t->i] != '{') {
        skip_quoted(t);
        return true;
    }
    while (t->i < t->n) {
        char ch = t->s[t->i];
        if (ch == '"' || ch == '\'') {
            skip_quoted(t);
            continue;
        }
        t->i++;
        if (ch == '[' || ch == '{')
            depth++;
        else if ((ch == ']' || ch == '}') && --depth == 0)
            break;
    }
    return true;
}

/* An entry's key. Returns whether a value follows (t->i past its ':'). */
static bool skip_key(struct scan *t)
{
    skip_space(t);
    if (!skip_node(t))
        while (t->i < t->n && t->s[t->i] != ',' && t->s[t->i] != '}' &&
               !(t->s[t->i] == ':' && blank_at(t, t->i + 1)))
            t->i++;
    skip_space(t);
    if (t->i < t->n && t->s[t->i] == ':') {
        t->i++;
        return true;
    }
    return false;
}

/* A plain value, read as an expression to the ',' or '}' that ends it
 * once its brackets are closed. Returns whether a comma came while a '('
 * or '[' was open: where YAML cut it. */
static bool plain_value(struct scan *t)
{
    int depth = 0;
    bool cut = false;
    while (t->i < t->n) {
        char ch = t->s[t->i];
        if (depth <= 0 && (ch == ',' || ch == '}'))
            break;
        if (ch == '#' && blank_at(t, t->i - 1))
            break; /* a comment ends a plain scalar */
        if (ch == '"' || ch == '\'') {
            skip_quoted(t);
            continue;
        }
        depth += (ch == '(' || ch == '[') - (ch == ')' || ch == ']');
        cut |= ch == ',';
        t->i++;
    }
    return cut;
}

/* To the next entry (true) or the mapping's end (false), past whatever
 * is left of this one. */
static bool next_entry(struct scan *t)
{
    for (skip_space(t); t->i < t->n; skip_space(t)) {
        if (t->s[t->i] == '}')
            return false;
        if (t->s[t->i] == ',') {
            t->i++;
            return true;
        }
        if (!skip_node(t))
            t->i++;
    }
    return false;
}

/* The hint for the expression at s[from, to): its text, trimmed, unless
 * it spans lines. */
static void text_hint(struct cg_buf *b, const char *s, size_t from, size_t to)
{
    while (to > from && (s[to - 1] == ' ' || s[to - 1] == '\t'))
        to--;
    if (memchr(s + from, '\n', to - from)) {
        put_hint(b, NULL);
        return;
    }
    struct cg_buf text = {0};
    cg_buf_put(&text, s + from, to - from);
    cg_buf_putc(&text, '\0');
    put_hint(b, text.oom ? NULL : text.data);
    cg_buf_free(&text);
}

/* The byte offset of a mark in L->text: libyaml counts lines (a break
 * being \n, \r\n or a lone \r) and, within one, characters. */
static size_t mark_offset(const struct loader *L, const yaml_mark_t *m)
{
    size_t i = 0, line = 0;
    for (; i < L->text_len && line < m->line; i++) {
        char ch = L->text[i];
        bool crlf = ch == '\r' && i + 1 < L->text_len && L->text[i + 1] == '\n';
        line += ch == '\n' || (ch == '\r' && !crlf);
    }
    for (size_t col = 0; i < L->text_len && col < m->column; col++)
        for (i++;
             i < L->text_len && ((unsigned char)L->text[i] & 0xC0) == 0x80;)
            i++; /* the rest of a UTF-8 character */
    return i < L->text_len ? i : L->text_len;
}

/* The '{' that opens the flow mapping around byte at, braces balanced,
 * or `at` itself when there is none. Quotes are not tracked: this only
 * picks where the trap is looked for. */
static size_t open_before(const char *s, size_t at)
{
    int depth = 0;
    for (size_t i = at; i-- > 0;) {
        if (s[i] == '}')
            depth++;
        else if (s[i] == '{' && depth-- == 0)
            return i;
    }
    return at;
}

bool flow_text_split(const struct loader *L, const yaml_mark_t *problem,
                     const yaml_mark_t *mapping, struct cg_buf *hint)
{
    size_t at = mark_offset(L, problem);
    size_t open = mapping ? mark_offset(L, mapping) : open_before(L->text, at);
    struct scan t = {L->text, open + 1, L->text_len};
    if (open >= at || open >= L->text_len || L->text[open] != '{')
        return false;
    for (bool more = true; more && t.i <= at; more = next_entry(&t)) {
        if (!skip_key(&t))
            continue;
        skip_space(&t);
        size_t from = t.i;
        if (from <= at && !skip_node(&t) && plain_value(&t)) {
            text_hint(hint, L->text, from, t.i);
            return true;
        }
    }
    return false;
}
