/*
 * The YAML composer: builds a libyaml document from parser events, as
 * yaml_parser_load does, but within bounds. A YAML document is a graph,
 * not a tree: an alias names a node defined earlier, so one node can be
 * reached many times ("billion laughs": ten aliases to ten aliases to ...)
 * and even from inside itself (`&a { k: *a }`). Every walk over the
 * document (the schema tables, node_value) relies on what this file
 * guarantees for the document it hands on:
 *
 *  - no node contains itself: an alias to a collection that is still
 *    being composed is refused at the alias;
 *  - nesting, counting every mapping and sequence with aliases expanded,
 *    is at most YAML_MAX_DEPTH levels;
 *  - expanding every alias adds at most YAML_MAX_ALIAS_NODES nodes and
 *    YAML_MAX_ALIAS_BYTES bytes of scalar text, so a walk costs at most
 *    that much more than the file's own size.
 *
 * Composing also stops at the first nesting level past the bound, which
 * keeps deep bracket nesting linear: libyaml's scanner scans its list of
 * open flow levels at every token, so `[[[[...` costs the square of its
 * depth if it is read to the end.
 *
 * Only the first document of a stream is read, as yaml_parser_load does.
 */
#include <string.h>

#include "internal.h"

/* A value (payload, options) may nest CG_JSON_MAX_DEPTH levels, like
 * JSON (node_value checks that); the config around it takes a few more: a
 * rule test's payload sits five collections deep. */
#define YAML_MAX_DEPTH (CG_JSON_MAX_DEPTH + 16)
/* What aliases may add to a file. Generous for sharing (`to: *everyone`
 * in each of 100,000 rules), small next to what exponential expansion
 * asks for. */
#define YAML_MAX_ALIAS_NODES 1000000u
#define YAML_MAX_ALIAS_BYTES (16u << 20)

struct extent {
    uint64_t nodes, bytes; /* with every alias expanded */
    int height;            /* collections on the deepest path */
};

struct anchor {
    char *name;
    int index;
    int open; /* a collection still being composed */
    struct extent ext;
};

struct frame {
    int index;     /* the collection's node */
    int key;       /* a mapping's key that waits for its value, or 0 */
    size_t anchor; /* 1 + the anchor's slot, or 0 */
    struct extent ext;
};

struct composer {
    struct loader *L;
    yaml_parser_t parser;
    yaml_document_t *doc;
    struct frame frames[YAML_MAX_DEPTH];
    int depth;
    struct anchor *anchors;
    size_t n_anchors, cap_anchors;
    struct name_map by_name; /* anchor name -> slot */
    uint64_t alias_nodes, alias_bytes;
    int failed, done;
};

/* A reader error (invalid UTF-8, a control character) comes without a
 * mark, only the byte offset: find its line and column in the text.
 * Columns count characters, as libyaml's marks do. */
static yaml_mark_t mark_at_offset(const struct loader *L, size_t offset)
{
    yaml_mark_t m = {offset, 0, 0};
    for (size_t i = 0; i < offset && i < L->text_len; i++) {
        unsigned char ch = (unsigned char)L->text[i];
        bool crlf = ch == '\r' && i + 1 < L->text_len && L->text[i + 1] == '\n';
        if (ch == '\n' || (ch == '\r' && !crlf)) {
            m.line++;
            m.column = 0;
        } else if ((ch & 0xC0) != 0x80 && !crlf) {
            m.column++;
        }
    }
    return m;
}

/* A scanner or parser error, at libyaml's mark. Inside a flow mapping it
 * is most often a comma that split an expression (flow.c), whose words
 * follow libyaml's: the message alone points at the wrong character. */
static void syntax_error(struct composer *c, const char *problem)
{
    yaml_parser_t *p = &c->parser;
    struct cg_buf hint = {0};
    bool in_map =
        p->context && !strcmp(p->context, "while parsing a flow mapping");
    bool split = flow_text_split(c->L, &p->problem_mark,
                                 in_map ? &p->context_mark : NULL, &hint);
    if (hint.oom) {
        c->L->oom = 1;
    } else {
        loader_error_at(c->L, &p->problem_mark, "YAML: %s%s%s%s%s", problem,
                        p->context ? " " : "", p->context ? p->context : "",
                        split ? "; " : "", split ? hint.data : "");
    }
    cg_buf_free(&hint);
}

static void parser_problem(struct composer *c)
{
    yaml_parser_t *p = &c->parser;
    const char *problem = p->problem ? p->problem : "syntax error";
    if (p->error == YAML_READER_ERROR) {
        yaml_mark_t m = mark_at_offset(c->L, p->problem_offset);
        if (p->problem_value >= 0)
            loader_error_at(c->L, &m, "YAML: %s (0x%X)", problem,
                            (unsigned)p->problem_value);
        else
            loader_error_at(c->L, &m, "YAML: %s", problem);
    } else if (p->error == YAML_MEMORY_ERROR) {
        c->L->oom = 1;
    } else {
        syntax_error(c, problem);
    }
    c->failed = 1;
}

/* Returns 0, so that callers that return a count can return it. */
static size_t fail_oom(struct composer *c)
{
    c->L->oom = 1;
    c->failed = 1;
    return 0;
}

/* Remembers an anchor (a later one of the same name hides it). */
static size_t add_anchor(struct composer *c, const yaml_char_t *name, int index,
                         int open, struct extent ext)
{
    if (c->n_anchors == c->cap_anchors) {
        size_t cap = c->cap_anchors ? c->cap_anchors * 2 : 16;
        struct anchor *a = cg_realloc(c->anchors, cap * sizeof(*a));
        if (!a)
            return fail_oom(c);
        c->anchors = a;
        c->cap_anchors = cap;
    }
    struct anchor *a = &c->anchors[c->n_anchors];
    if (!(a->name = cg_strdup((const char *)name)))
        return fail_oom(c);
    a->index = index;
    a->open = open;
    a->ext = ext;
    c->n_anchors++;
    if (name_map_put(&c->by_name, a->name, c->n_anchors - 1) < 0)
        return fail_oom(c);
    return c->n_anchors;
}

/* Hangs a finished node (or an alias's target) on the open collection. */
static void attach(struct composer *c, int index, const struct extent *ext)
{
    if (c->depth == 0)
        return; /* the root */
    struct frame *f = &c->frames[c->depth - 1];
    f->ext.nodes += ext->nodes;
    f->ext.bytes += ext->bytes;
    if (ext->height > f->ext.height)
        f->ext.height = ext->height;
    yaml_node_t *parent = yaml_document_get_node(c->doc, f->index);
    int ok = 1;
    if (parent->type == YAML_SEQUENCE_NODE) {
        ok = yaml_document_append_sequence_item(c->doc, f->index, index);
    } else if (!f->key) {
        f->key = index;
    } else {
        ok = yaml_document_append_mapping_pair(c->doc, f->index, f->key, index);
        f->key = 0;
    }
    if (!ok)
        fail_oom(c);
}

/* libyaml's default tags stand for an absent one, and "!" means none. */
static const yaml_char_t *tag_of(const yaml_char_t *tag)
{
    return tag && strcmp((const char *)tag, "!") != 0 ? tag : NULL;
}

static void on_scalar(struct composer *c, const yaml_event_t *ev)
{
    int index = yaml_document_add_scalar(
        c->doc, tag_of(ev->data.scalar.tag), ev->data.scalar.value,
        (int)ev->data.scalar.length, ev->data.scalar.style);
    if (!index) {
        fail_oom(c);
        return;
    }
    yaml_node_t *n = yaml_document_get_node(c->doc, index);
    n->start_mark = ev->start_mark;
    n->end_mark = ev->end_mark;
    struct extent ext = {1, ev->data.scalar.length, 0};
    if (ev->data.scalar.anchor &&
        !add_anchor(c, ev->data.scalar.anchor, index, 0, ext))
        return;
    attach(c, index, &ext);
}

static void on_start(struct composer *c, const yaml_event_t *ev)
{
    int seq = ev->type == YAML_SEQUENCE_START_EVENT;
    if (c->depth == YAML_MAX_DEPTH) {
        loader_error_at(c->L, &ev->start_mark,
                        "YAML: nesting deeper than %d levels", YAML_MAX_DEPTH);
        c->failed = 1;
        return;
    }
    const yaml_char_t *anchor =
        seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
    int index =
        seq ? yaml_document_add_sequence(c->doc,
                                         tag_of(ev->data.sequence_start.tag),
                                         ev->data.sequence_start.style)
            : yaml_document_add_mapping(c->doc,
                                        tag_of(ev->data.mapping_start.tag),
                                        ev->data.mapping_start.style);
    if (!index) {
        fail_oom(c);
        return;
    }
    yaml_document_get_node(c->doc, index)->start_mark = ev->start_mark;
    struct frame *f = &c->frames[c->depth++];
    *f = (struct frame){index, 0, 0, {1, 0, 0}};
    if (anchor)
        f->anchor = add_anchor(c, anchor, index, 1, f->ext);
}

static void on_end(struct composer *c, const yaml_event_t *ev)
{
    struct frame f = c->frames[--c->depth];
    yaml_document_get_node(c->doc, f.index)->end_mark = ev->end_mark;
    f.ext.height++; /* the collection itself */
    if (f.anchor) {
        c->anchors[f.anchor - 1].open = 0;
        c->anchors[f.anchor - 1].ext = f.ext;
    }
    attach(c, f.index, &f.ext);
}

static void on_alias(struct composer *c, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    size_t slot;
    if (!name_map_get(&c->by_name, name, &slot)) {
        loader_error_at(c->L, &ev->start_mark, "YAML: unknown alias '*%s'",
                        name);
    } else if (c->anchors[slot].open) {
        loader_error_at(c->L, &ev->start_mark,
                        "YAML: alias '*%s' is inside the node it names "
                        "(a recursive alias)",
                        name);
    } else if (c->depth + c->anchors[slot].ext.height > YAML_MAX_DEPTH) {
        loader_error_at(c->L, &ev->start_mark,
                        "YAML: alias '*%s': nesting deeper than %d levels",
                        name, YAML_MAX_DEPTH);
    } else {
        const struct anchor *a = &c->anchors[slot];
        c->alias_nodes += a->ext.nodes;
        c->alias_bytes += a->ext.bytes;
        if (c->alias_nodes <= YAML_MAX_ALIAS_NODES &&
            c->alias_bytes <= YAML_MAX_ALIAS_BYTES) {
            attach(c, a->index, &a->ext);
            return;
        }
        loader_error_at(c->L, &ev->start_mark,
                        "YAML: alias '*%s': the aliases of this file expand "
                        "past %u nodes or %u MiB of text",
                        name, YAML_MAX_ALIAS_NODES, YAML_MAX_ALIAS_BYTES >> 20);
    }
    c->failed = 1;
}

static void on_event(struct composer *c, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        on_scalar(c, ev);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        on_start(c, ev);
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        on_end(c, ev);
        break;
    case YAML_ALIAS_EVENT:
        on_alias(c, ev);
        break;
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT:
        c->done = 1;
        break;
    default: /* stream and document starts */
        break;
    }
}

static void run(struct composer *c)
{
    while (!c->failed && !c->done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&c->parser, &ev)) {
            parser_problem(c);
            return;
        }
        on_event(c, &ev);
        yaml_event_delete(&ev);
    }
}

int yaml_compose(struct loader *L, yaml_document_t *doc)
{
    struct composer *c = cg_calloc(1, sizeof(*c));
    if (!c || !yaml_parser_initialize(&c->parser)) {
        cg_free(c);
        L->oom = 1;
        return -1;
    }
    c->L = L;
    c->doc = doc;
    yaml_parser_set_input_string(&c->parser, (const unsigned char *)L->text,
                                 L->text_len);
    int initialized = yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1);
    if (initialized)
        run(c);
    else
        fail_oom(c);
    int failed = c->failed;
    for (size_t i = 0; i < c->n_anchors; i++)
        cg_free(c->anchors[i].name);
    cg_free(c->anchors);
    name_map_free(&c->by_name);
    yaml_parser_delete(&c->parser);
    cg_free(c);
    if (failed && initialized)
        yaml_document_delete(doc);
    return failed ? -1 : 0;
}
