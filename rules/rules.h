/*
 * rules: the pure rules library: values, expressions, MQTT topic filters
 * and compiled rules with their match index.
 *
 * Everything is compiled once at load time and then evaluated many times
 * without parsing. Evaluation never fails: any run-time oddity (a missing
 * field, a wrong type, a division by zero) yields null, as SPEC §4 says.
 * Nothing here logs, blocks or allocates from the heap per message: strings
 * made while evaluating live in the caller's per-message arena.
 *
 * Threads: compiled objects are immutable and may be evaluated from several
 * threads at once, each with its own arena.
 */
#ifndef CG_RULES_H
#define CG_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

/* ---- values (value.c) ------------------------------------------------ */

#define CG_VALUE_NULL ((struct cg_value){.type = CG_NULL})
static inline struct cg_value cg_value_bool(bool b)
{
    struct cg_value v = {.type = CG_BOOL};
    v.as.boolean = b;
    return v;
}
static inline struct cg_value cg_value_int(int64_t i)
{
    struct cg_value v = {.type = CG_INT};
    v.as.i = i;
    return v;
}
static inline struct cg_value cg_value_num(double d)
{
    struct cg_value v = {.type = CG_NUM};
    v.as.num = d;
    return v;
}
/* s must stay valid and be NUL-terminated at s[n]. */
static inline struct cg_value cg_value_str(const char *s, size_t n)
{
    struct cg_value v = {.type = CG_STR, .len = (uint32_t)n};
    v.as.str = s;
    return v;
}
static inline bool cg_value_is_number(const struct cg_value *v)
{
    return v->type == CG_INT || v->type == CG_NUM;
}
/* A number as a double (0 for anything else). */
double cg_value_to_double(const struct cg_value *v);
/* Only the boolean true is true (SPEC §4). */
static inline bool cg_value_is_true(const struct cg_value *v)
{
    return v->type == CG_BOOL && v->as.boolean;
}
/* SPEC §4 equality: numbers compare by value whatever their
 * representation; values of different types are never equal; lists and
 * objects compare deeply (objects regardless of member order). */
bool cg_value_equal(const struct cg_value *a, const struct cg_value *b);
/* Orders two numbers or two strings (bytewise) into *order (-1, 0, 1).
 * Returns false for any other pair: then every ordering operator is false. */
bool cg_value_order(const struct cg_value *a, const struct cg_value *b,
                    int *order);
/* The member `key` of an object, or NULL (also when obj is no object). */
const struct cg_value *cg_value_member(const struct cg_value *obj,
                                       const char *key, size_t key_len);
/* SPEC §12 str(): strings as they are, numbers as cg_json_put_num prints
 * them, true/false, lists and objects as compact JSON. Null appends
 * nothing and returns false. */
bool cg_value_format(const struct cg_value *v, struct cg_buf *out);
/* Deep copy of v into arena; NULL-safe for out-of-memory (returns
 * CG_ENOMEM). */
int cg_value_copy(struct cg_arena *arena, const struct cg_value *v,
                  struct cg_value *out);

/* ---- MQTT topic filters (topic.c) ------------------------------------ */

/* True when filter is a valid MQTT filter: '+' and '#' fill a whole level,
 * '#' only as the last level, no NUL, not empty. */
bool cg_topic_filter_valid(const char *filter);
/* MQTT matching, including the rule that a filter starting with a wildcard
 * never matches a topic starting with '$'. */
bool cg_topic_matches(const char *filter, const char *topic);

/* A trie over many filters: returns every filter matching a topic without
 * scanning them all. Values are small integers chosen by the caller. */
struct cg_topic_trie;
struct cg_topic_trie *cg_topic_trie_new(void);
void cg_topic_trie_free(struct cg_topic_trie *t);
/* Adds filter -> value. Returns CG_OK, CG_EINVAL (invalid filter) or
 * CG_ENOMEM. */
int cg_topic_trie_add(struct cg_topic_trie *t, const char *filter,
                      uint32_t value);
/* Calls fn for the value of every filter that matches topic (a value added
 * under several matching filters is reported once per filter). Stops early
 * and returns the callback's result when it is non-zero. */
typedef int (*cg_topic_visit_fn)(void *user, uint32_t value);
int cg_topic_trie_match(const struct cg_topic_trie *t, const char *topic,
                        size_t topic_len, cg_topic_visit_fn fn, void *user);

/* ---- expressions (expr_*.c) ------------------------------------------ */

struct cg_expr;

/* Why a compile failed: offset is the byte offset in the source text of the
 * token at fault (a caller turns it into file:line:col). */
struct cg_expr_error {
    size_t offset;
    char msg[160];
};

/*
 * Compiles src[0..len) (SPEC §4). Returns CG_OK and sets *out, CG_EINVAL
 * with err filled in (syntax, unknown function, wrong arity, bad regex,
 * unknown escape, a window aggregate outside a window), or CG_ENOMEM.
 */
int cg_expr_compile(const char *src, size_t len, struct cg_expr **out,
                    struct cg_expr_error *err);
void cg_expr_free(struct cg_expr *e);

/* A topic level, for topic[N]. */
struct cg_strref {
    const char *p;
    uint32_t len;
};

/* What an expression sees while it runs. Every pointer may be NULL, which
 * reads as null. */
struct cg_eval_ctx {
    const struct cg_value *record; /* the fields (an object) and `payload` */
    const char *topic;
    const struct cg_strref *levels; /* topic split at '/' */
    uint32_t n_levels;
    const char *vendor, *network, *device, *domain;
    double now;
    struct cg_arena *arena; /* strings and lists made while evaluating */
};

/* Evaluates e into *out. Never fails: errors and out-of-memory give null.
 * Strings in *out may point into the record, the compiled expression or
 * ctx->arena. */
void cg_expr_eval(const struct cg_expr *e, const struct cg_eval_ctx *ctx,
                  struct cg_value *out);

/* True when the expression is a constant (then *out holds its value, which
 * lives as long as the expression). */
bool cg_expr_constant(const struct cg_expr *e, struct cg_value *out);

/* For privacy taint (SPEC §6): what an expression reads, as written. Only
 * subtrees without any read are folded into constants, so folding never
 * hides one; both branches of a conditional count, even under a constant
 * condition. `all` is set when it reads the whole record (`payload` on its
 * own or with a key that is not a constant string); `device` when it reads
 * the built-in `device`, `topic` or `topic[N]` (any N, constant or not: a
 * topic names its device as surely as the id does). fn is called once per
 * distinct top-level field name. */
struct cg_expr_reads {
    bool all;
    bool device;
};
typedef void (*cg_expr_field_fn)(void *user, const char *name, size_t len);
void cg_expr_reads(const struct cg_expr *e, struct cg_expr_reads *r,
                   cg_expr_field_fn fn, void *user);

/* When the expression is a bare field path with a constant first name
 * (`pm25`, `a.b`), returns that first name; else NULL. */
const char *cg_expr_field_name(const struct cg_expr *e);

/* ---- compiled rules and their match index (ruleset.c) ----------------- */

/* An expression's source with a name: a data field or a vendor field. */
struct cg_named_src {
    const char *name;
    struct cg_src src;
};

/* What the gateway hands over to compile one rule. Vendors and targets
 * are indexes the caller assigns (vendors in config order; targets are
 * consumer indexes, already resolved from roles and names). */
struct cg_rule_spec {
    const char *domain, *name, *type, *description;
    struct cg_src when;     /* text NULL: always */
    struct cg_src severity; /* text NULL: info */
    bool has_data;
    const struct cg_named_src *data;
    size_t n_data;
    const uint32_t *vendors; /* n_vendors == 0: every vendor */
    size_t n_vendors;
    struct cg_src topic; /* text NULL: every topic */
    const uint32_t *targets;
    size_t n_targets;
    struct cg_src pos; /* the rule itself, for reports */
};

/* A compiled rule. Read-only once added. */
struct cg_rule {
    uint32_t index;
    const char *domain, *name, *full_name, *type, *description;
    struct cg_expr *when;     /* NULL: always */
    struct cg_expr *severity; /* NULL: severity_const */
    int severity_const;       /* enum cg_severity */
    bool has_data;
    size_t n_data;
    char **data_names;
    struct cg_expr **data;
    uint32_t *targets; /* consumer indexes, unique, in `to` order */
    size_t n_targets;
    const char *file; /* where the rule stands */
    int line;
};

struct cg_ruleset;

/* A ruleset for messages of n_vendors vendors. NULL when out of memory. */
struct cg_ruleset *cg_ruleset_new(size_t n_vendors);
void cg_ruleset_free(struct cg_ruleset *rs);
/* Compiles a rule into the set. Every problem (an expression that does not
 * compile, an invalid topic filter) is added to d with its file, line and
 * column. Returns CG_OK, CG_EINVAL (see d) or CG_ENOMEM. */
int cg_ruleset_add(struct cg_ruleset *rs, const struct cg_rule_spec *spec,
                   struct cg_diags *d);
/* Builds the match index; call once after the last add. */
int cg_ruleset_finish(struct cg_ruleset *rs);
size_t cg_ruleset_count(const struct cg_ruleset *rs);
const struct cg_rule *cg_ruleset_rule(const struct cg_ruleset *rs,
                                      size_t index);
/* Writes to out the indexes of the rules that may fire for a message of
 * this vendor on this topic, ascending (rule order), and returns their
 * count. out must hold cg_ruleset_count() entries. Rules of other vendors
 * or topics cost nothing. */
size_t cg_ruleset_match(const struct cg_ruleset *rs, uint32_t vendor,
                        const char *topic, size_t topic_len, uint32_t *out);

/* Maps the text of an evaluated severity to enum cg_severity: the three
 * words as they are, anything else info (SPEC §12). */
int cg_severity_parse(const struct cg_value *v);
const char *cg_severity_name(int severity);

/* Compiles src, reporting a failure into d at the right file:line:col with
 * `what` ("when", "data.pm25") in front of the message. */
int cg_expr_compile_src(const struct cg_src *src, const char *what,
                        struct cg_expr **out, struct cg_diags *d);
#endif
