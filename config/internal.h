/*
 * config internals: the loader state and the schema tables that turn YAML
 * mappings into config structs. Not included from outside config/.
 */
#ifndef CG_CONFIG_INTERNAL_H
#define CG_CONFIG_INTERNAL_H

#include <stddef.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config.h"

/* A map from borrowed names to numbers (names.c), for duplicate checks
 * and lookups in linear time. Zero-initialized it is empty. */
struct name_slot {
    const char *key; /* NULL: free */
    size_t value;
};
struct name_map {
    struct name_slot *slots;
    size_t cap, n;
};
/* Returns 1 and sets *value when key is present, else 0. */
int name_map_get(const struct name_map *m, const char *key, size_t *value);
/* Sets key (borrowed: it must outlive the map) to value, replacing an
 * earlier value. Returns 0, or -1 when out of memory. */
int name_map_put(struct name_map *m, const char *key, size_t value);
void name_map_free(struct name_map *m);

/* The state of loading one file. `where` names the current place
 * ("vendors[2].fields") for messages; each level pushes and pops. */
struct loader {
    struct cg_config *cfg;
    struct cg_arena *arena;
    struct cg_diags *d;
    const char *file; /* arena-owned */
    yaml_document_t *doc;
    const char *text; /* the raw file, for block scalar indentation */
    size_t text_len;
    char where[256];
    int errors;
    int oom;
    struct name_map rule_names; /* a rule file's rule names */
};

enum field_type {
    FT_STR = 1,  /* const char * */
    FT_PSTR,     /* struct cg_pstr */
    FT_INT,      /* int, within [min, max] */
    FT_BOOL,     /* bool */
    FT_SIZE,     /* uint64_t bytes: 512, 64KiB, 256MiB, 1GiB */
    FT_ENUM,     /* int: index into choices */
    FT_SRC,      /* struct cg_src: an expression */
    FT_DURATION, /* struct cg_duration_conf: 500ms, 30s, 5m, 1h, 1d */
    FT_PLIST,    /* struct cg_pstr * + size_t count right after it */
    FT_VALUE,    /* const struct cg_value *: any YAML as a value */
    FT_CUSTOM,   /* parse(loader, node, base) */
    FT_REFUSED,  /* a key of a later version: always an error */
    FT_REST      /* left to the caller; key "*": any key the table lacks */
};

struct field {
    const char *key;
    int type; /* enum field_type */
    int required;
    const char *def; /* default, written as YAML would (NULL: zero) */
    size_t off;
    const char *const *choices; /* FT_ENUM, NULL-terminated */
    long min, max;              /* FT_INT, when min < max */
    int (*parse)(struct loader *L, yaml_node_t *node, void *base);
};

/* A table row helper: FIELD(struct, member, "key", type). */
#define FIELD(st, member, k, t)                                                \
    .key = (k), .type = (t), .off = offsetof(st, member)

/* Applies a table to a mapping node: every key must be in the table,
 * every required key present; absent keys get their default. `base` is
 * the struct the offsets refer to. Returns the number of errors added. */
int schema_apply(struct loader *L, yaml_node_t *map, const struct field *t,
                 void *base);

/* True when the table has a row for key (the "*" row does not count). */
bool schema_has_key(const struct field *t, const char *key);

/* Applies only the defaults of a table (for an absent section). */
void schema_defaults(struct loader *L, const struct field *t, void *base);

/* Diagnostics at a node; the message is prefixed with L->where. */
void loader_error(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void loader_error_at(struct loader *L, const yaml_mark_t *m, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));
/* A warning at a node: reported, but the load does not fail for it. */
void loader_warn(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses L->text into doc (compose.c) with the bounds that make every
 * later walk over it safe: no node inside itself, nesting and alias
 * expansion limited. Returns 0 with doc to be deleted by the caller, or
 * -1 with the problem reported (or L->oom set) and nothing to delete. */
int yaml_compose(struct loader *L, yaml_document_t *doc);
/* Pushes ".key" or "[i]" onto L->where; returns the old length to pop. */
size_t where_push(struct loader *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void where_pop(struct loader *L, size_t len);

/* Node helpers. */
yaml_node_t *node_at(struct loader *L, int index);
const char *node_kind(const yaml_node_t *n);
struct cg_pos node_pos(const struct loader *L, const yaml_node_t *n);
bool node_is_scalar(const yaml_node_t *n);
const char *node_text(const yaml_node_t *n); /* scalar value */
/* A copy of a scalar in the arena, or NULL with an error added. Text
 * with a NUL character is refused: C strings would silently cut it. */
const char *scalar_dup(struct loader *L, yaml_node_t *n);
/* The same for text whose length is kept (payloads, values): a NUL is
 * allowed. */
const char *scalar_bytes(struct loader *L, yaml_node_t *n);
/* Expression source of a scalar, with the position of its first char. */
int scalar_src(struct loader *L, yaml_node_t *n, struct cg_src *out);
/* A list of strings: a sequence of scalars, or one scalar. */
int node_plist(struct loader *L, yaml_node_t *n, struct cg_pstr **out,
               size_t *count);
/* A mapping of name: expression (a vendor's fields, a rule's data). */
int node_field_map(struct loader *L, yaml_node_t *n, struct cg_field_conf **out,
                   size_t *count);
/* Any YAML node as a value: plain scalars are typed (null, true/false,
 * numbers), quoted ones are strings. Like JSON, a value nests at most
 * CG_JSON_MAX_DEPTH mappings and lists: a deeper one is an error at the
 * node one level too deep. Returns 0 or -1 (reported, or out of memory). */
int node_value(struct loader *L, yaml_node_t *n, struct cg_value *out);
/* Number of entries of a mapping or sequence node. */
size_t node_len(const yaml_node_t *n);
/* The value node of key in a mapping, or NULL. */
yaml_node_t *map_get(struct loader *L, yaml_node_t *map, const char *key);
int parse_size(const char *s, uint64_t *out);

/* Files (files.c). */
struct file_text {
    char *text; /* cg_malloc'd, NUL-terminated */
    size_t len;
    mode_t mode;
};
/* Reads a whole regular file of at most 16 MiB, opened with O_NONBLOCK
 * so that a FIFO never blocks the loader. Returns 0, or an errno value
 * (ENOMEM out of memory, EINVAL not a regular file) with *why set to a
 * fragment that follows the path ("is a directory, not a regular file"). */
int read_text_file(const char *path, struct file_text *out, const char **why);
/* What a file of this mode is, said after its name ("is a FIFO, not a
 * regular file"), or NULL for a regular file. */
const char *file_kind(mode_t mode);
/* Paths selected by globs: in glob order, each once. */
struct path_list {
    const char **v; /* cg_malloc'd array of arena strings */
    size_t n, cap;
    struct name_map seen;
};
/* Appends the regular files each glob matches (resolved against the
 * config folder, sorted within a glob). A glob that matches nothing, and
 * a match that is not a regular file, is an error at the glob; `what`
 * names the key ("rules"). */
void expand_globs(struct loader *L, const struct cg_pstr *globs, size_t n,
                  struct path_list *out, const char *what);
void path_list_free(struct path_list *pl);

void *loader_alloc(struct loader *L, size_t size); /* zeroed */
const char *loader_strdup(struct loader *L, const char *s);
const char *loader_resolve(struct loader *L, const char *path);

/* Sections (sections.c, consumers.c) and rule files (rulefile.c). */
int load_gateway(struct loader *L, yaml_node_t *n, void *base);
int load_broker(struct loader *L, yaml_node_t *n, void *base);
int load_networks(struct loader *L, yaml_node_t *n, void *base);
int load_vendors(struct loader *L, yaml_node_t *n, void *base);
int load_consumers(struct loader *L, yaml_node_t *n, void *base);
int load_broker_into(struct loader *L, yaml_node_t *n,
                     struct cg_broker_conf *b);
int load_rule_file(struct loader *L, yaml_node_t *root,
                   struct cg_rule_file_conf *out);

/* Test case keys (testcase.c): payload_hex, payload_base64, and the
 * checks that a case has one payload and expects something. */
int testcase__payload_hex(struct loader *L, yaml_node_t *n, void *base);
int testcase__payload_base64(struct loader *L, yaml_node_t *n, void *base);
void testcase__check(struct loader *L, yaml_node_t *item);

/* Lookup tables (tables.c, table_csv.c). */
int load_tables(struct loader *L, yaml_node_t *n, void *base);
/* A table file read: its rows (a CG_LIST of CG_OBJ), the line of each
 * row and the column names, all in the loader's arena. */
struct table_text {
    struct cg_value rows;
    int *lines;
    const char **columns;
    size_t n_columns;
};
/* Parses CSV text (a header row, then one row per line) into out.
 * Problems are reported against `file` with line and column. A bad row is
 * reported and left out of out, and the rows after it are read all the
 * same. Returns 0, or -1 when there are no rows to check (no usable
 * header, out of memory). */
int table__csv(struct loader *L, const char *file, const char *text, size_t len,
               struct table_text *out);

/* A flow mapping split at a comma inside an expression (flow.c). Marks
 * in skip[] (one per pair of map) the pairs that are pieces of one split
 * expression and reports each split once, naming the cause. Returns the
 * number of splits. */
size_t flow_splits(struct loader *L, yaml_node_t *map, bool *skip);
/* For a YAML syntax error at `problem` inside a flow mapping (opening at
 * `mapping`, or NULL when libyaml did not say where: it is looked for
 * before the error): when one of its plain values has a '(' or '[' still
 * open at a comma (the same split, in a form that no longer parses),
 * appends the words flow_splits reports it with to hint and returns
 * true. */
bool flow_text_split(const struct loader *L, const yaml_mark_t *problem,
                     const yaml_mark_t *mapping, struct cg_buf *hint);
/* For a flow mapping of two or more pairs: the pairs to skip (cg_free()
 * it), with every split reported; NULL for any other node. */
bool *flow_skips(struct loader *L, yaml_node_t *map);

/* The stateful keys of a rule (rulestate.c): on_change and window parse
 * into r->state; check_rule_state reports invalid durations and
 * combinations at their line and column once the rule is read. */
int parse_on_change(struct loader *L, yaml_node_t *n, void *rule);
int parse_window(struct loader *L, yaml_node_t *n, void *rule);
void check_rule_state(struct loader *L, yaml_node_t *item,
                      struct cg_rule_conf *r);

/* Checks references between sections and files (refs.c). */
void config__check_refs(struct loader *L);

#endif
