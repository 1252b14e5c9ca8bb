/*
 * Declarations shared by the files of rules/; never included from
 * outside. The pieces: expr_lex.c (tokens and literals), expr_parse.c
 * (the parser and constant folding), expr_eval.c (the evaluator and
 * operators), expr_func.c and expr_math.c (functions),
 * expr_time.c (time functions), expr_window.c (window aggregates in the
 * tree), expr.c (the public entry points of rules.h), and agg.c and
 * agg_set.c (the window accumulators).
 *
 * A compiled expression is a tree of struct expr__node. Every node, every
 * literal string and list, and every compiled regex lives in the arena the
 * expression owns, so freeing an expression (or abandoning a failed
 * compile) is one arena free plus one regfree per regex: no path can leak
 * a node. Evaluation walks the tree recursively; the compiler refuses trees
 * deeper than EXPR_MAX_DEPTH so the walk cannot exhaust the stack.
 */
#ifndef CG_RULES_INTERNAL_H
#define CG_RULES_INTERNAL_H

#include <regex.h>

#include "rules.h"

/* Deepest tree (and parser recursion) an expression may have. Evaluation
 * uses about three stack frames per level, far below any thread's stack. */
#define EXPR_MAX_DEPTH 256

/* ---- tokens (expr_lex.c) --------------------------------------------- */

enum expr__tok {
    TOK_END = 0,
    TOK_LIT, /* number, string, true, false, null: value in tok.val */
    TOK_IDENT,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACKET,
    TOK_RBRACKET,
    TOK_COMMA,
    TOK_DOT,
    TOK_QUESTION,
    TOK_COLON,
    TOK_PLUS,
    TOK_MINUS,
    TOK_STAR,
    TOK_SLASH,
    TOK_PERCENT,
    TOK_NOT, /* ! not */
    TOK_EQ,
    TOK_NE,
    TOK_LT,
    TOK_LE,
    TOK_GT,
    TOK_GE,
    TOK_IN,
    TOK_AND, /* && and */
    TOK_OR   /* || or */
};

struct expr__token {
    int kind;          /* enum expr__tok */
    bool word;         /* spelled as a word (identifier or keyword) */
    bool string;       /* TOK_LIT from a string literal */
    size_t start, len; /* the token's bytes in the source */
    struct cg_value val;
};

struct expr__lexer {
    const char *src;
    size_t len, pos;
    struct cg_arena *arena; /* decoded string literals go here */
    struct cg_expr_error *err;
};

/* Reads the next token. Returns CG_OK, CG_EINVAL (err filled in) or
 * CG_ENOMEM. */
int expr__lex(struct expr__lexer *lx, struct expr__token *t);
/* Reads the number in JSON syntax at src[start..end) into out; the parser
 * also uses it to read "-N" as one literal so that INT64_MIN stays exact.
 * Returns CG_OK, CG_EINVAL (err filled in) or CG_ENOMEM. */
int expr__lex_number(struct expr__lexer *lx, size_t start, size_t end,
                     struct cg_value *out);
/* The source offset of byte `index` of the decoded string literal whose
 * opening quote is at src[quote] (escapes decode shorter than they are
 * written); quote itself when src[quote] opens no valid string. */
size_t expr__lex_string_offset(const char *src, size_t len, size_t quote,
                               size_t index);
/* Fills err (if any) and returns CG_EINVAL. */
int expr__error(struct cg_expr_error *err, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the tree (expr_parse.c builds it) -------------------------------- */

enum expr__kind {
    NODE_LIT,     /* lit */
    NODE_LIST,    /* kids[0..n) */
    NODE_FIELD,   /* lit: the field name (a string) */
    NODE_BUILTIN, /* op: enum expr__builtin */
    NODE_MEMBER,  /* kids[0] . lit (a string key) */
    NODE_INDEX,   /* kids[0] [ kids[1] ] */
    NODE_LEVEL,   /* topic [ kids[0] ] */
    NODE_NEG,     /* - kids[0] */
    NODE_NOT,     /* ! kids[0] */
    NODE_BINARY,  /* kids[0] op kids[1]; op: enum expr__tok */
    NODE_AND,     /* kids[0] && kids[1] */
    NODE_OR,      /* kids[0] || kids[1] */
    NODE_COND,    /* kids[0] ? kids[1] : kids[2] */
    NODE_CALL,    /* fn(kids[0..n)) */
    NODE_AGG      /* window aggregate: op enum cg_agg_kind, lit.as.i its
                     slot, kids[0] its argument (none for count()) */
};

enum expr__builtin {
    BUILTIN_PAYLOAD,
    BUILTIN_TOPIC,
    BUILTIN_VENDOR,
    BUILTIN_NETWORK,
    BUILTIN_DEVICE,
    BUILTIN_DOMAIN,
    BUILTIN_NOW,
    BUILTIN_TIME
};

struct expr__func;

struct expr__node {
    uint8_t kind; /* enum expr__kind */
    uint8_t op;
    uint16_t depth; /* 1 for a leaf */
    uint32_t n;     /* number of kids */
    size_t offset;  /* where the node starts in the source, for errors */
    struct cg_value lit;
    struct expr__node **kids;
    const struct expr__func *fn;  /* NODE_CALL */
    regex_t *re;                  /* matches(): the compiled literal */
    const struct cg_table *table; /* lookup(): the table it names */
    struct expr__node *next;      /* sibling link while parsing lists */
};

/* A regex to regfree when the expression goes. */
struct expr__regex {
    regex_t re;
    struct expr__regex *next;
};

struct cg_expr {
    struct cg_arena *arena;
    struct expr__node *root;
    struct expr__regex *regexes;
    /* What cg_expr_reads reports, worked out once at compile time. */
    bool reads_all, reads_device;
    uint32_t n_fields;
    const struct cg_value *fields; /* distinct top-level names (strings) */
    const char *field_name;        /* cg_expr_field_name */
    /* Window mode: the aggregates in slot order, their arguments being
     * expressions that live in this one's arena. */
    struct cg_agg *aggs;
    uint32_t n_aggs;
    /* The caller's environment, only while compiling (lookup() resolves
     * its table against it); NULL afterwards. */
    const struct cg_expr_env *env;
};

/* Parses src into e->root, allocating from e->arena and registering regexes
 * in e->regexes (expr_parse.c). In window mode the aggregate calls become
 * NODE_AGG nodes numbered from 0 (e->n_aggs counts them); otherwise they
 * are errors. Returns CG_OK, CG_EINVAL or CG_ENOMEM. */
int expr__parse(struct cg_expr *e, const char *src, size_t len, bool window,
                struct cg_expr_error *err);
/* Works out what cg_expr_reads and cg_expr_field_name answer for e
 * (expr.c). Returns CG_OK or CG_ENOMEM. */
int expr__analyse(struct cg_expr *e);

/* ---- evaluation (expr_eval.c) ----------------------------------------- */

/* One evaluation: the caller's context plus a note that the arena ran out,
 * which the compiler checks when it folds constants. */
struct expr__ev {
    const struct cg_eval_ctx *ctx;
    bool oom;
};

void expr__eval(struct expr__ev *ev, const struct expr__node *n,
                struct cg_value *out);
/* Memory from ctx->arena; NULL (and ev->oom set) when there is none. */
void *expr__alloc(struct expr__ev *ev, size_t size);
/* A copy of s[0..n) with a NUL in ctx->arena, as a string value; null
 * when out of memory. */
void expr__string(struct expr__ev *ev, const char *s, size_t n,
                  struct cg_value *out);
/* `a in b` and contains(b, a) share these element/substring rules. */
bool expr__has_element(const struct cg_value *list, const struct cg_value *x);
bool expr__has_substring(const struct cg_value *s, const struct cg_value *sub);
/* A whole number (integer or integral double) within int64, else false. */
bool expr__whole(const struct cg_value *v, int64_t *out);

/* ---- window aggregates in the tree (expr_window.c) --------------------- */

/* The aggregate a call of that name makes (enum cg_agg_kind), or -1. min
 * and max count only with one argument, which the caller checks. */
int expr__agg_kind(const char *name, size_t len);
/* Turns the parsed call n of the aggregate `kind` into a NODE_AGG with
 * the next slot of e, after checking that a window is being compiled, the
 * arity and that no aggregate nests inside. CG_OK or CG_EINVAL. */
int expr__agg_make(struct cg_expr *e, bool window, int kind,
                   struct expr__node *n, struct cg_expr_error *err);
/* Refuses names that read one message (fields, payload, topic, device,
 * vendor, network, time) outside the aggregates of a window expression,
 * then lists the aggregates in e->aggs. CG_OK, CG_EINVAL or CG_ENOMEM. */
int expr__window_finish(struct cg_expr *e, struct cg_expr_error *err);

/* ---- functions (expr_func.c) ------------------------------------------ */

typedef void (*expr__func_fn)(struct expr__ev *ev, const struct expr__node *n,
                              const struct cg_value *args,
                              struct cg_value *out);

/* Flags of a function. */
#define EXPR_FN_LAZY  1 /* evaluates its own arguments */
#define EXPR_FN_LOCAL 2 /* reads the local time zone: never folded */
#define EXPR_FN_TABLE                                                          \
    4 /* reads a lookup table: never folded, so that                           \
         cg_expr_reads still sees its private columns */

struct expr__func {
    const char *name;
    uint8_t min_args, max_args; /* max_args 255: any number */
    uint8_t flags;              /* EXPR_FN_* */
    expr__func_fn fn;
};

/* The function called `name`, or NULL. */
const struct expr__func *expr__func_find(const char *name, size_t len);
/* What a call of `name` may be: the function (*fn, or NULL) and the window
 * aggregate (*agg, or -1). CG_EINVAL (err at offset) when it is neither. */
int expr__func_lookup(const char *name, size_t len, size_t offset,
                      const struct expr__func **fn, int *agg,
                      struct cg_expr_error *err);
/* The load-time checks of a call's literal arguments: compiles the regex
 * of matches(), checks the format of format_time(). CG_OK, CG_EINVAL or
 * CG_ENOMEM. */
int expr__func_check_literals(struct cg_expr *e, struct expr__node *n,
                              const char *src, size_t len,
                              struct cg_expr_error *err);
/* Resolves the table of the lookup() call n against e->env (its first
 * argument must be a string literal naming one). CG_OK or CG_EINVAL. */
int expr__lookup_resolve(struct cg_expr *e, struct expr__node *n,
                         const char *src, size_t len,
                         struct cg_expr_error *err);
/* Whether n is a call of lookup(). */
bool expr__is_lookup(const struct expr__node *n);
/* Checks a call's arity: CG_OK or CG_EINVAL. */
int expr__func_check_arity(const struct expr__func *f, uint32_t n,
                           size_t offset, struct cg_expr_error *err);
void expr__call(struct expr__ev *ev, const struct expr__node *n,
                struct cg_value *out);

/* The numeric functions (expr_math.c), in the shape of expr__func_fn. */
#define EXPR__FUNC(name)                                                       \
    void name(struct expr__ev *ev, const struct expr__node *n,                 \
              const struct cg_value *args, struct cg_value *out)
EXPR__FUNC(expr__fn_abs);
EXPR__FUNC(expr__fn_min);
EXPR__FUNC(expr__fn_max);
EXPR__FUNC(expr__fn_round);
EXPR__FUNC(expr__fn_floor);
EXPR__FUNC(expr__fn_ceil);
EXPR__FUNC(expr__fn_sqrt);
EXPR__FUNC(expr__fn_num);
EXPR__FUNC(expr__fn_between);
EXPR__FUNC(expr__fn_lookup); /* expr_lookup.c */

/* The time functions (expr_time.c). */
EXPR__FUNC(expr__fn_hour);
EXPR__FUNC(expr__fn_minute);
EXPR__FUNC(expr__fn_weekday);
EXPR__FUNC(expr__fn_date);
EXPR__FUNC(expr__fn_format_time);
/* Checks the format of the format_time() call n, which must be a string
 * literal of the strftime subset; errors point at the conversion at fault
 * in src. CG_OK or CG_EINVAL. */
int expr__time_format_check(const struct expr__node *n, const char *src,
                            size_t len, struct cg_expr_error *err);

/* ---- values (value.c) ------------------------------------------------- */

/* str(x) into an arena: numbers, booleans, lists and objects formatted as
 * cg_value_format does; strings as they are. False for null or when the
 * arena is out of memory. */
bool value__format_arena(struct cg_arena *arena, const struct cg_value *v,
                         struct cg_value *out);

/* Why a regex would be too costly to compile (expr_regex.c), or NULL. */
const char *expr__regex_too_costly(const char *re);
/* Compiles the regex literal of the matches() call n into e (registered in
 * e->regexes, set as n->re). CG_OK, CG_EINVAL or CG_ENOMEM. */
int expr__regex_compile(struct cg_expr *e, struct expr__node *n,
                        struct cg_expr_error *err);

/* ---- owned values and the distinct set (agg_set.c) -------------------- */

/* A deep copy of v that owns its memory in one cg_malloc block (none for
 * scalars); *bytes gets the block's size. CG_OK or CG_ENOMEM. */
int agg__clone(const struct cg_value *v, struct cg_value *out, size_t *bytes);
/* Frees what agg__clone allocated for v; v becomes null. */
void agg__clone_free(struct cg_value *v);

/* A set of values under SPEC §4 equality, owning copies of them. */
struct cg_agg_set;
/* Adds a copy of v unless an equal value is in the set (a null set is
 * allocated first). CG_OK or CG_ENOMEM (the set is unchanged). */
int agg__set_add(struct cg_agg_set **s, const struct cg_value *v);
size_t agg__set_count(const struct cg_agg_set *s);
size_t agg__set_bytes(const struct cg_agg_set *s);
/* Calls fn for every value in the set, in no particular order. */
void agg__set_each(const struct cg_agg_set *s,
                   void (*fn)(void *user, const struct cg_value *v),
                   void *user);
void agg__set_free(struct cg_agg_set *s);

#endif
