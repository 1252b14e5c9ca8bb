/*
 * The expression compiler: a recursive-descent parser over the tokens of
 * expr_lex.c, one function per precedence level of SPEC §4, building the
 * tree that expr_eval.c walks.
 *
 * Each node is finished by one function (finish) that checks the tree
 * depth and folds the node into a literal when all of its operands are
 * literals, by evaluating it once against the expression's own arena:
 * evaluation has no side effects and reads nothing but its operands, so
 * the folded value is what every run would compute. Every allocation comes
 * from the expression's arena; on any failure the caller frees the whole
 * expression (cg_expr_compile in expr.c), so no path here frees anything.
 */
#include <string.h>

#include "internal.h"

struct parser {
    struct expr__lexer lx;
    struct expr__token tok; /* the current token, not yet consumed */
    struct cg_expr *expr;
    struct cg_expr_error *err;
    int depth;   /* recursion depth of parse_cond and parse_unary */
    bool window; /* compiling a window's aggregate expression */
};

static int parse_cond(struct parser *p, struct expr__node **out);

static int advance(struct parser *p)
{
    return expr__lex(&p->lx, &p->tok);
}

static int fail_token(struct parser *p)
{
    const struct expr__token *t = &p->tok;
    if (t->kind == TOK_END)
        return expr__error(p->err, t->start, "unexpected end of expression");
    if (t->kind == TOK_LIT && t->string)
        return expr__error(p->err, t->start, "unexpected string");
    int n = t->len > 32 ? 32 : (int)t->len;
    return expr__error(p->err, t->start, "unexpected '%.*s'", n,
                       p->lx.src + t->start);
}

static int expect(struct parser *p, int kind, const char *msg)
{
    if (p->tok.kind != kind)
        return expr__error(p->err, p->tok.start, "%s", msg);
    return advance(p);
}

static struct expr__node *node_new(struct parser *p, int kind, size_t offset,
                                   uint32_t n_kids)
{
    struct cg_arena *a = p->expr->arena;
    struct expr__node *n = cg_arena_alloc(a, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = (uint8_t)kind;
    n->offset = offset;
    n->depth = 1;
    n->n = n_kids;
    if (n_kids) {
        n->kids = cg_arena_alloc(a, sizeof(*n->kids) * n_kids);
        if (!n->kids)
            return NULL;
    }
    return n;
}

/* Only a node whose operands are all literals folds. A literal reads
 * nothing, and the nodes that read (fields, built-ins, topic levels,
 * aggregates) never fold, so folding cannot hide a read from
 * cg_expr_reads: taint is that of the expression as written. Functions
 * of the local time zone do not fold either, so that the zone in force
 * when the expression runs is the one that counts, nor do lookups, whose
 * private columns must stay visible to cg_expr_reads. */
static bool foldable(const struct expr__node *n)
{
    if (n->kind == NODE_LIT || n->kind == NODE_FIELD ||
        n->kind == NODE_BUILTIN || n->kind == NODE_LEVEL || n->kind == NODE_AGG)
        return false;
    if (n->kind == NODE_CALL &&
        (n->fn->flags & (EXPR_FN_LOCAL | EXPR_FN_TABLE)))
        return false;
    for (uint32_t i = 0; i < n->n; i++)
        if (n->kids[i]->kind != NODE_LIT)
            return false;
    return true;
}

/* Checks the depth of a node whose kids are set, then folds it. */
static int finish(struct parser *p, struct expr__node *n)
{
    unsigned depth = 0;
    for (uint32_t i = 0; i < n->n; i++)
        if (n->kids[i]->depth > depth)
            depth = n->kids[i]->depth;
    if (depth + 1 > EXPR_MAX_DEPTH)
        return expr__error(p->err, n->offset, "expression nested too deeply");
    n->depth = (uint16_t)(depth + 1);
    if (!foldable(n))
        return CG_OK;
    struct cg_eval_ctx ctx = {.arena = p->expr->arena};
    struct expr__ev ev = {.ctx = &ctx, .oom = false};
    struct cg_value v;
    expr__eval(&ev, n, &v);
    if (ev.oom)
        return CG_ENOMEM;
    /* A folded call keeps its regex registered; it is freed with the
     * expression like any other. */
    n->kind = NODE_LIT;
    n->lit = v;
    n->n = 0;
    n->kids = NULL;
    n->depth = 1;
    return CG_OK;
}

static int make(struct parser *p, int kind, int op, size_t offset,
                struct expr__node *a, struct expr__node *b,
                struct expr__node **out)
{
    struct expr__node *n = node_new(p, kind, offset, b ? 2 : 1);
    if (!n)
        return CG_ENOMEM;
    n->op = (uint8_t)op;
    n->kids[0] = a;
    if (b)
        n->kids[1] = b;
    *out = n;
    return finish(p, n);
}

/* Parses `item (, item)* close` into an array of kids (none when the
 * closing token follows at once). */
static int parse_items(struct parser *p, int close, const char *msg,
                       struct expr__node *n)
{
    struct expr__node *head = NULL, **tail = &head;
    uint32_t count = 0;
    while (p->tok.kind != close || count > 0) {
        struct expr__node *item = NULL;
        int rc = parse_cond(p, &item);
        if (rc)
            return rc;
        *tail = item;
        tail = &item->next;
        count++;
        if (p->tok.kind != TOK_COMMA)
            break;
        if ((rc = advance(p)))
            return rc;
    }
    int rc = expect(p, close, msg);
    if (rc)
        return rc;
    n->n = count;
    n->kids = cg_arena_alloc(p->expr->arena, sizeof(*n->kids) * (count + 1));
    if (!n->kids)
        return CG_ENOMEM;
    for (uint32_t i = 0; head; head = head->next)
        n->kids[i++] = head;
    return CG_OK;
}

/* After the name and its '(' : name(args). min and max of one argument
 * are aggregates; of more, the functions. */
static int parse_call(struct parser *p, const struct expr__token *name,
                      struct expr__node **out)
{
    const struct expr__func *fn;
    int agg;
    int rc = expr__func_lookup(p->lx.src + name->start, name->len, name->start,
                               &fn, &agg, p->err);
    if (rc)
        return rc;
    struct expr__node *n = node_new(p, NODE_CALL, name->start, 0);
    if (!n)
        return CG_ENOMEM;
    n->fn = fn;
    if ((rc = advance(p)) ||
        (rc =
             parse_items(p, TOK_RPAREN, "expected ',' or ')' in arguments", n)))
        return rc;
    *out = n;
    if (agg >= 0 && (!fn || n->n == 1))
        rc = expr__agg_make(p->expr, p->window, agg, n, p->err);
    else if (!(rc = expr__func_check_arity(fn, n->n, name->start, p->err)))
        rc =
            expr__func_check_literals(p->expr, n, p->lx.src, p->lx.len, p->err);
    return rc ? rc : finish(p, n);
}

static const char *const builtins[] = {
    [BUILTIN_PAYLOAD] = "payload", [BUILTIN_TOPIC] = "topic",
    [BUILTIN_VENDOR] = "vendor",   [BUILTIN_NETWORK] = "network",
    [BUILTIN_DEVICE] = "device",   [BUILTIN_DOMAIN] = "domain",
    [BUILTIN_NOW] = "now",         [BUILTIN_TIME] = "time",
};

/* A name: a function call, a built-in or a field of the record. */
static int parse_name(struct parser *p, struct expr__node **out)
{
    struct expr__token name = p->tok;
    const char *s = p->lx.src + name.start;
    int rc = advance(p);
    if (rc)
        return rc;
    if (p->tok.kind == TOK_LPAREN)
        return parse_call(p, &name, out);
    struct expr__node *n = node_new(p, NODE_FIELD, name.start, 0);
    if (!n)
        return CG_ENOMEM;
    *out = n;
    for (size_t b = 0; b < sizeof(builtins) / sizeof(builtins[0]); b++) {
        if (strlen(builtins[b]) == name.len &&
            memcmp(builtins[b], s, name.len) == 0) {
            n->kind = NODE_BUILTIN;
            n->op = (uint8_t)b;
            return CG_OK;
        }
    }
    char *copy = cg_arena_strndup(p->expr->arena, s, name.len);
    if (!copy)
        return CG_ENOMEM;
    n->lit = cg_value_str(copy, name.len);
    return CG_OK;
}

static int parse_primary(struct parser *p, struct expr__node **out)
{
    struct expr__node *n;
    int rc;
    switch (p->tok.kind) {
    case TOK_LIT:
        if (!(n = node_new(p, NODE_LIT, p->tok.start, 0)))
            return CG_ENOMEM;
        n->lit = p->tok.val;
        *out = n;
        return advance(p);
    case TOK_IDENT:
        return parse_name(p, out);
    case TOK_LPAREN:
        if ((rc = advance(p)) || (rc = parse_cond(p, out)))
            return rc;
        return expect(p, TOK_RPAREN, "expected ')' after expression");
    case TOK_LBRACKET:
        if (!(n = node_new(p, NODE_LIST, p->tok.start, 0)))
            return CG_ENOMEM;
        if ((rc = advance(p)) ||
            (rc = parse_items(p, TOK_RBRACKET, "expected ',' or ']' in list",
                              n)))
            return rc;
        *out = n;
        return finish(p, n);
    default:
        return fail_token(p);
    }
}

/* base[index]: topic[N] reads a topic level, a constant string key is a
 * member (so that cg_expr_reads sees payload["x"] as field x). */
static int make_index(struct parser *p, size_t at, struct expr__node *base,
                      struct expr__node *index, struct expr__node **out)
{
    if (base->kind == NODE_BUILTIN && base->op == BUILTIN_TOPIC)
        return make(p, NODE_LEVEL, 0, base->offset, index, NULL, out);
    if (index->kind == NODE_LIT && index->lit.type == CG_STR) {
        struct expr__node *m = node_new(p, NODE_MEMBER, at, 1);
        if (!m)
            return CG_ENOMEM;
        m->kids[0] = base;
        m->lit = index->lit;
        *out = m;
        return finish(p, m);
    }
    return make(p, NODE_INDEX, 0, at, base, index, out);
}

static int parse_member(struct parser *p, struct expr__node **n)
{
    size_t at = p->tok.start;
    int rc = advance(p);
    if (rc)
        return rc;
    if (!p->tok.word)
        return expr__error(p->err, p->tok.start,
                           "expected a field name after '.'");
    const char *s = p->lx.src + p->tok.start;
    char *key = cg_arena_strndup(p->expr->arena, s, p->tok.len);
    if (!key)
        return CG_ENOMEM;
    struct expr__node *m = node_new(p, NODE_MEMBER, at, 1);
    if (!m)
        return CG_ENOMEM;
    m->kids[0] = *n;
    m->lit = cg_value_str(key, p->tok.len);
    *n = m;
    if ((rc = finish(p, m)))
        return rc;
    return advance(p);
}

/* Member access and indexing after a primary: a.b, a["b"], a[i]. */
static int parse_postfix(struct parser *p, struct expr__node **n)
{
    int rc = CG_OK;
    while (rc == CG_OK) {
        if (p->tok.kind == TOK_DOT) {
            rc = parse_member(p, n);
        } else if (p->tok.kind == TOK_LBRACKET) {
            size_t at = p->tok.start;
            struct expr__node *index = NULL;
            if ((rc = advance(p)) || (rc = parse_cond(p, &index)) ||
                (rc = expect(p, TOK_RBRACKET, "expected ']' after index")))
                return rc;
            rc = make_index(p, at, *n, index, n);
        } else {
            break;
        }
    }
    return rc;
}

static int parse_unary(struct parser *p, struct expr__node **out);

/* "-N" written without a space is one literal, so -9223372036854775808
 * stays an exact integer. */
static int negative_literal(struct parser *p, size_t minus,
                            struct expr__node **out)
{
    struct expr__node *n = node_new(p, NODE_LIT, minus, 0);
    if (!n)
        return CG_ENOMEM;
    size_t end = p->tok.start + p->tok.len;
    int rc = expr__lex_number(&p->lx, minus, end, &n->lit);
    if (rc || (rc = advance(p)))
        return rc;
    *out = n;
    return parse_postfix(p, out);
}

static int parse_operand(struct parser *p, struct expr__node **out)
{
    int rc = parse_primary(p, out);
    return rc ? rc : parse_postfix(p, out);
}

static int parse_prefixed(struct parser *p, struct expr__node **out)
{
    int kind = p->tok.kind;
    size_t at = p->tok.start;
    int rc = advance(p);
    if (rc)
        return rc;
    const struct expr__token *t = &p->tok;
    if (kind == TOK_MINUS && t->kind == TOK_LIT && !t->string && !t->word &&
        t->start == at + 1)
        return negative_literal(p, at, out);
    struct expr__node *operand;
    if ((rc = parse_unary(p, &operand)))
        return rc;
    return make(p, kind == TOK_MINUS ? NODE_NEG : NODE_NOT, 0, at, operand,
                NULL, out);
}

static int parse_unary(struct parser *p, struct expr__node **out)
{
    if (p->tok.kind != TOK_NOT && p->tok.kind != TOK_MINUS)
        return parse_operand(p, out);
    if (++p->depth > EXPR_MAX_DEPTH)
        return expr__error(p->err, p->tok.start,
                           "expression nested too deeply");
    int rc = parse_prefixed(p, out);
    p->depth--;
    return rc;
}

/* Binary operators by precedence, lowest first (SPEC §4). */
#define LEVELS 6
static int level_of(int tok)
{
    switch (tok) {
    case TOK_OR:
        return 0;
    case TOK_AND:
        return 1;
    case TOK_EQ:
    case TOK_NE:
        return 2;
    case TOK_LT:
    case TOK_LE:
    case TOK_GT:
    case TOK_GE:
    case TOK_IN:
        return 3;
    case TOK_PLUS:
    case TOK_MINUS:
        return 4;
    case TOK_STAR:
    case TOK_SLASH:
    case TOK_PERCENT:
        return 5;
    default:
        return -1;
    }
}

/* One precedence level, left-associative. */
static int parse_binary(struct parser *p, int level, struct expr__node **out)
{
    if (level == LEVELS)
        return parse_unary(p, out);
    int rc = parse_binary(p, level + 1, out);
    while (rc == CG_OK && level_of(p->tok.kind) == level) {
        int op = p->tok.kind;
        size_t at = p->tok.start;
        struct expr__node *right;
        if ((rc = advance(p)) || (rc = parse_binary(p, level + 1, &right)))
            return rc;
        int kind = op == TOK_OR    ? NODE_OR
                   : op == TOK_AND ? NODE_AND
                                   : NODE_BINARY;
        rc = make(p, kind, op, at, *out, right, out);
    }
    return rc;
}

/* c ? a : b, right-associative: the branches are whole expressions. */
static int parse_cond_body(struct parser *p, struct expr__node **out)
{
    int rc = parse_binary(p, 0, out);
    if (rc || p->tok.kind != TOK_QUESTION)
        return rc;
    struct expr__node *n = node_new(p, NODE_COND, p->tok.start, 3);
    if (!n)
        return CG_ENOMEM;
    n->kids[0] = *out;
    if ((rc = advance(p)) || (rc = parse_cond(p, &n->kids[1])) ||
        (rc = expect(p, TOK_COLON, "expected ':' in conditional")) ||
        (rc = parse_cond(p, &n->kids[2])))
        return rc;
    *out = n;
    return finish(p, n);
}

static int parse_cond(struct parser *p, struct expr__node **out)
{
    if (++p->depth > EXPR_MAX_DEPTH)
        return expr__error(p->err, p->tok.start,
                           "expression nested too deeply");
    int rc = parse_cond_body(p, out);
    p->depth--;
    return rc;
}

int expr__parse(struct cg_expr *e, const char *src, size_t len, bool window,
                struct cg_expr_error *err)
{
    struct parser p = {
        .lx = {.src = src, .len = len, .arena = e->arena, .err = err},
        .expr = e,
        .err = err,
        .window = window,
    };
    int rc = advance(&p);
    if (rc)
        return rc;
    if (p.tok.kind == TOK_END)
        return expr__error(err, 0, "empty expression");
    if ((rc = parse_cond(&p, &e->root)))
        return rc;
    switch (p.tok.kind) {
    case TOK_END:
        return CG_OK;
    case TOK_RPAREN:
    case TOK_RBRACKET:
    case TOK_COMMA:
    case TOK_COLON:
        return fail_token(&p);
    default:
        return expr__error(err, p.tok.start, "trailing input after expression");
    }
}
