/*
 * Declarations shared by the expression files and value.c; never included
 * from outside rules/. The pieces: expr_lex.c (tokens and literals),
 * expr_parse.c (the parser and constant folding), expr_eval.c (the
 * evaluator and operators), expr_func.c and expr_math.c (functions),
 * expr.c (the public entry points of rules.h).
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
    NODE_CALL     /* fn(kids[0..n)) */
};

enum expr__builtin {
    BUILTIN_PAYLOAD,
    BUILTIN_TOPIC,
    BUILTIN_VENDOR,
    BUILTIN_NETWORK,
    BUILTIN_DEVICE,
    BUILTIN_DOMAIN,
    BUILTIN_NOW
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
    const struct expr__func *fn; /* NODE_CALL */
    regex_t *re;                 /* matches(): the compiled literal */
    struct expr__node *next;     /* sibling link while parsing lists */
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
};

/* Parses src into e->root, allocating from e->arena and registering regexes
 * in e->regexes (expr_parse.c). Returns CG_OK, CG_EINVAL or CG_ENOMEM. */
int expr__parse(struct cg_expr *e, const char *src, size_t len,
                struct cg_expr_error *err);

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

/* ---- functions (expr_func.c) ------------------------------------------ */

typedef void (*expr__func_fn)(struct expr__ev *ev, const struct expr__node *n,
                              const struct cg_value *args,
                              struct cg_value *out);

struct expr__func {
    const char *name;
    uint8_t min_args, max_args; /* max_args 255: any number */
    bool lazy;                  /* evaluates its own arguments */
    bool aggregate;             /* with one argument: a window aggregate */
    expr__func_fn fn;
};

/* The function called `name`, or NULL. */
const struct expr__func *expr__func_find(const char *name, size_t len);
/* Refuses (CG_EINVAL, err filled in) an unknown function and the window
 * aggregates this version does not support. */
int expr__func_check_name(const char *name, size_t len, size_t offset,
                          struct cg_expr_error *err);
/* Checks a call's arity: CG_OK or CG_EINVAL (min or max with a single
 * argument is the window aggregate, refused like the others). */
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

/* ---- values (value.c) ------------------------------------------------- */

/* str(x) into an arena: numbers, booleans, lists and objects formatted as
 * cg_value_format does; strings as they are. False for null or when the
 * arena is out of memory. */
bool value__format_arena(struct cg_arena *arena, const struct cg_value *v,
                         struct cg_value *out);

/* Why a regex would be too costly to compile (expr_regex.c), or NULL. */
const char *expr__regex_too_costly(const char *re);

#endif
