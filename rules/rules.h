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
 *
 * Time zone: the time functions (hour, minute, weekday, date, format_time)
 * work in the process's local time zone through localtime_r(). This
 * library never reads or sets TZ and never calls tzset(): the gateway sets
 * TZ to gateway.timezone and calls tzset() once at start, before compiling
 * or evaluating anything, and does not change it while the process runs.
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
/* True when some topic matches both valid filters a and b (the '$' rule
 * included: "#" and "$SYS/#" share no topic). Pure. */
bool cg_topic_filters_overlap(const char *a, const char *b);

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

/* ---- lookup tables (table.c) ------------------------------------------ */

/* A lookup table for lookup("name", key) (SPEC §14): rows indexed by the
 * text of their key column (a string as it is, other values as str()
 * writes them). Immutable once made: any number of threads may read it. */
struct cg_table;

/*
 * Indexes rows, a CG_LIST of CG_OBJ that the table borrows (it must
 * outlive the table and every expression compiled against it), by their
 * member `key`. private_cols (copied) name the columns whose values are
 * private (SPEC §6). Returns CG_OK, CG_ENOMEM, or CG_EINVAL for a row
 * without a key (absent or null) or with the key of an earlier row: then
 * *bad (may be NULL) is that row's index. On failure *out is NULL.
 */
int cg_table_new(const char *name, const struct cg_value *rows, const char *key,
                 const char *const *private_cols, size_t n_private,
                 struct cg_table **out, size_t *bad);
void cg_table_free(struct cg_table *t);
const char *cg_table_name(const struct cg_table *t);
size_t cg_table_rows(const struct cg_table *t);
/* The row (an object) whose key text is key[0..len), or NULL. */
const struct cg_value *cg_table_find(const struct cg_table *t, const char *key,
                                     size_t len);
/* Whether column[0..len) is one of the table's private columns. */
bool cg_table_private(const struct cg_table *t, const char *column, size_t len);
/* The private columns: sets *cols, returns their number. */
size_t cg_table_private_columns(const struct cg_table *t,
                                const char *const **cols);

/* ---- expressions (expr_*.c) ------------------------------------------ */

struct cg_expr;

/* What the compiler may resolve beyond the language itself: the lookup
 * tables that lookup() may name (borrowed; they must outlive every
 * expression compiled with them). Without an environment, or with no
 * tables, lookup() is a compile error. */
struct cg_expr_env {
    struct cg_table *const *tables;
    size_t n_tables;
};

/* Why a compile failed: offset is the byte offset in the source text of the
 * token at fault (a caller turns it into file:line:col). */
struct cg_expr_error {
    size_t offset;
    char msg[160];
};

/*
 * Compiles src[0..len) (SPEC §4). Returns CG_OK and sets *out, CG_EINVAL
 * with err filled in (syntax, unknown function, wrong arity, bad regex, bad
 * format_time format, unknown escape, a window aggregate outside a window),
 * or CG_ENOMEM.
 */
int cg_expr_compile(const char *src, size_t len, struct cg_expr **out,
                    struct cg_expr_error *err);
/* The same with an environment (may be NULL): lookup("name", key) finds
 * its table there when it compiles; the name must be a string literal,
 * and one no table has is an error at its column (with a "did you mean"). */
int cg_expr_compile_env(const char *src, size_t len,
                        const struct cg_expr_env *env, struct cg_expr **out,
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
    /* What the built-in `time` reads: the event's time in epoch seconds.
     * The caller must set it; it is read as it is (0 reads as 1970). The
     * gateway gives the device time when the vendor has one, else the
     * received time (SPEC §5), and for the vendor's own `time:`
     * expression, which cannot know the device time yet, the received
     * time. */
    double time;
    /* Window mode (cg_expr_compile_window): the finished value of each
     * aggregate, indexed by slot. A slot at or past n_aggs reads null. */
    const struct cg_value *aggs;
    uint32_t n_aggs;
};

/* Evaluates e into *out. Never fails: errors and out-of-memory give null.
 * Strings in *out may point into the record, the compiled expression,
 * ctx->arena or the rows of a lookup table. */
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
 * topic names its device as surely as the id does). The built-in `time`
 * taints nothing: every event carries its time for every consumer. fn is
 * called once per distinct top-level field name. A window expression's
 * reads include those of its aggregates' arguments. A read of a lookup
 * table's private column counts as a read of the field-like name
 * "<table>.<column>" (`lookup("bins", device).owner` reads "bins.owner";
 * the whole row, or a column chosen at run time, reads every private
 * column of the table), so callers apply the same grants to it. */
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

/* For authoring warnings: calls fn for every record field the expression
 * names directly (`pm25`, the `a` of `a.b`; not `payload["x"]`, not the
 * built-ins), in source order, with the byte offset of the name in the
 * source, once per occurrence. Walks the tree: meant for load time. */
typedef void (*cg_expr_ref_fn)(void *user, const char *name, size_t offset);
void cg_expr_field_refs(const struct cg_expr *e, cg_expr_ref_fn fn, void *user);

/* ---- window aggregates (expr_window.c, agg.c) ------------------------- */

/* The aggregates of SPEC §13, in the order cg_agg_name() spells them. */
enum cg_agg_kind {
    CG_AGG_COUNT = 0,      /* count(): messages */
    CG_AGG_COUNT_DISTINCT, /* count_distinct(x): distinct non-null values */
    CG_AGG_SUM,            /* sum(x) */
    CG_AGG_AVG,            /* avg(x) */
    CG_AGG_MIN,            /* min(x), one argument */
    CG_AGG_MAX,            /* max(x), one argument */
    CG_AGG_FIRST,          /* first(x): the first non-null value */
    CG_AGG_LAST            /* last(x): the last non-null value */
};
#define CG_AGG_KINDS 8

/* One aggregate call of a window expression: its kind and its argument,
 * which the caller evaluates against each message entering the window
 * (NULL for count()). The argument belongs to the window expression: it
 * lives until cg_expr_free() of that expression and is never freed on its
 * own. */
struct cg_agg {
    int kind; /* enum cg_agg_kind */
    const struct cg_expr *arg;
};

/* "count", "count_distinct", "sum", ... or NULL for an unknown kind. */
const char *cg_agg_name(int kind);

/*
 * Compiles the expression of a window's `aggregate:` entry (SPEC §13), such
 * as `round(avg(pm25), 1)`. Each aggregate call (count() count_distinct(x)
 * sum(x) avg(x) min(x) max(x) first(x) last(x); min and max of two or more
 * arguments stay the ordinary functions) gets a slot, numbered from 0 in
 * source order; *aggs and *n_aggs (either may be NULL) list them, the array
 * living as long as *out. Evaluating *out with cg_expr_eval() reads the
 * value of aggregate i from ctx->aggs[i], so the outer expression runs once
 * per window and group over the finished aggregates.
 *
 * Besides cg_expr_compile()'s errors, CG_EINVAL for an aggregate inside an
 * aggregate's argument, an aggregate's wrong arity, and names that read one
 * message (a field, payload, topic, device, vendor, network, time) outside
 * every aggregate: a window has no single message to read them from. `now`
 * and `domain` stay allowed. A `having:` expression is no window
 * expression: it reads the aggregate names as fields of the record the
 * caller builds, with cg_expr_compile().
 */
int cg_expr_compile_window(const char *src, size_t len, struct cg_expr **out,
                           const struct cg_agg **aggs, size_t *n_aggs,
                           struct cg_expr_error *err);
/* The aggregates of a window expression (none for an ordinary one): sets
 * *aggs (may be NULL) and returns their number. */
size_t cg_expr_aggregates(const struct cg_expr *e, const struct cg_agg **aggs);

/*
 * A pure accumulator of one aggregate over the messages of one window and
 * group. The gateway owns it (one per aggregate slot and group), adds the
 * value of the slot's argument for every message that enters, reads the
 * result at the window's end and resets it.
 *
 * Semantics (SPEC §13, with SQL's answers for empty windows):
 * - nulls are skipped by every aggregate but count();
 * - count(): the messages added (v ignored, may be NULL); 0 when empty;
 * - count_distinct(x): distinct non-null values by SPEC §4 equality
 *   (1 and 1.0 are one value, strings bytewise, lists and objects deeply);
 *   0 when empty;
 * - sum(x), avg(x): over the numbers only (other values are skipped);
 *   null when no number came, or when the sum leaves the double range.
 *   A sum of integers stays an exact integer while it fits in 64 bits;
 *   avg is always a double. Doubles are summed with Neumaier's
 *   compensation, so the order of arrival hardly matters;
 * - min(x), max(x): as min(a, b, ...) over the non-null values: numbers or
 *   strings, the first of equal values kept; null when empty or when the
 *   values mix types that do not order (a number and a string, a boolean);
 * - first(x), last(x): the first and the last non-null value, any type.
 *
 * The members are private; the layout is public only so that the gateway
 * can embed accumulators in its own state without one allocation each.
 * Values held are deep copies owned by the accumulator. Not thread-safe:
 * one thread at a time per accumulator.
 */
struct cg_agg_set;
struct cg_agg_acc {
    uint8_t kind;  /* enum cg_agg_kind */
    uint8_t flags; /* private */
    uint64_t n;    /* messages or numbers added */
    int64_t isum;  /* exact sum while every number is an integer */
    double sum, comp;
    struct cg_value held;   /* min, max, first, last: an owned copy */
    size_t held_bytes;      /* memory behind held */
    struct cg_agg_set *set; /* count_distinct */
};

/* Starts an empty accumulator of kind, an enum cg_agg_kind (no
 * allocation). */
void cg_agg_acc_init(struct cg_agg_acc *a, int kind);
/* Adds one message's value. Returns CG_OK, or CG_ENOMEM when a copy could
 * not be made (the accumulator is then as it was before the call). */
int cg_agg_acc_add(struct cg_agg_acc *a, const struct cg_value *v);
/* The aggregate's value now. Strings, lists and objects in *out point into
 * the accumulator: valid until its next add, reset or load. */
void cg_agg_acc_result(const struct cg_agg_acc *a, struct cg_value *out);
/* Frees everything held and empties the accumulator; the kind stays. */
void cg_agg_acc_reset(struct cg_agg_acc *a);
/* The heap bytes the accumulator holds (for memory accounting). */
size_t cg_agg_acc_bytes(const struct cg_agg_acc *a);
/* Appends the accumulator's state to out as one JSON object, for the
 * gateway's state snapshots. Returns CG_OK or CG_ENOMEM (out->oom). */
int cg_agg_acc_save(const struct cg_agg_acc *a, struct cg_buf *out);
/* Replaces a's state, kind included, by one that cg_agg_acc_save wrote,
 * parsed back into saved (an object). Returns CG_OK, CG_EINVAL when saved
 * is no such state, or CG_ENOMEM; on failure a is empty, of the kind it
 * had before the call. */
int cg_agg_acc_load(struct cg_agg_acc *a, const struct cg_value *saved);

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
    struct cg_src pos;             /* the rule itself, for reports */
    const struct cg_expr_env *env; /* lookup tables, or NULL */
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
/* The same with an environment (may be NULL). */
int cg_expr_compile_src_env(const struct cg_src *src, const char *what,
                            const struct cg_expr_env *env, struct cg_expr **out,
                            struct cg_diags *d);
#endif
