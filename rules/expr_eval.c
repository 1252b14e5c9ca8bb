/*
 * The expression evaluator: walks a compiled tree against one message.
 *
 * Evaluation never fails and never touches the heap. Every run-time oddity
 * (a missing field, a wrong type, a division by zero, an overflow to
 * infinity) yields null as SPEC §4 says, and strings or lists made along
 * the way come from ctx->arena; when there is no arena or it runs dry the
 * value is null and ev->oom says so (the compiler's constant folding turns
 * that into CG_ENOMEM). Integer arithmetic stays exact in int64 and moves
 * to double only when it would overflow.
 */
/* memmem: glibc's and musl's run in linear time, which matters when both
 * the haystack and the needle come from a hostile payload. */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "internal.h"

void *expr__alloc(struct expr__ev *ev, size_t size)
{
    void *p = ev->ctx->arena ? cg_arena_alloc(ev->ctx->arena, size) : NULL;
    if (!p)
        ev->oom = true;
    return p;
}

void expr__string(struct expr__ev *ev, const char *s, size_t n,
                  struct cg_value *out)
{
    char *p = n <= UINT32_MAX ? expr__alloc(ev, n + 1) : NULL;
    if (!p) {
        *out = CG_VALUE_NULL;
        return;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    *out = cg_value_str(p, n);
}

bool expr__whole(const struct cg_value *v, int64_t *out)
{
    if (v->type == CG_INT) {
        *out = v->as.i;
        return true;
    }
    double d = v->as.num;
    if (v->type != CG_NUM || d != trunc(d) || d < -9223372036854775808.0 ||
        d >= 9223372036854775808.0)
        return false;
    *out = (int64_t)d;
    return true;
}

static void ctx_string(const char *s, struct cg_value *out)
{
    *out = s ? cg_value_str(s, strlen(s)) : CG_VALUE_NULL;
}

static void eval_builtin(const struct cg_eval_ctx *ctx, int op,
                         struct cg_value *out)
{
    switch (op) {
    case BUILTIN_PAYLOAD:
        *out = ctx->record ? *ctx->record : CG_VALUE_NULL;
        break;
    case BUILTIN_TOPIC:
        ctx_string(ctx->topic, out);
        break;
    case BUILTIN_VENDOR:
        ctx_string(ctx->vendor, out);
        break;
    case BUILTIN_NETWORK:
        ctx_string(ctx->network, out);
        break;
    case BUILTIN_DEVICE:
        ctx_string(ctx->device, out);
        break;
    case BUILTIN_DOMAIN:
        ctx_string(ctx->domain, out);
        break;
    case BUILTIN_TIME:
        *out = cg_value_num(ctx->time);
        break;
    default:
        *out = cg_value_num(ctx->now);
    }
}

/* A window aggregate's finished value, from the slot the caller filled. */
static void eval_agg(const struct cg_eval_ctx *ctx, const struct expr__node *n,
                     struct cg_value *out)
{
    uint64_t slot = (uint64_t)n->lit.as.i;
    *out = ctx->aggs && slot < ctx->n_aggs ? ctx->aggs[slot] : CG_VALUE_NULL;
}

/* topic[k]: from ctx->levels, or by splitting ctx->topic when the caller
 * gave no levels. Levels are copied because they are not NUL-terminated. */
static void topic_level(struct expr__ev *ev, const struct cg_value *index,
                        struct cg_value *out)
{
    const struct cg_eval_ctx *ctx = ev->ctx;
    int64_t k;
    *out = CG_VALUE_NULL;
    if (!expr__whole(index, &k) || k < 0)
        return;
    if (ctx->levels) {
        if ((uint64_t)k < ctx->n_levels)
            expr__string(ev, ctx->levels[k].p, ctx->levels[k].len, out);
        return;
    }
    const char *s = ctx->topic;
    for (; s && k > 0; k--) {
        s = strchr(s, '/');
        s = s ? s + 1 : NULL;
    }
    if (s)
        expr__string(ev, s, strcspn(s, "/"), out);
}

static void eval_index(const struct cg_value *base, const struct cg_value *idx,
                       struct cg_value *out)
{
    int64_t k;
    const struct cg_value *hit = NULL;
    if (base->type == CG_LIST && expr__whole(idx, &k) && k >= 0 &&
        (uint64_t)k < base->len)
        hit = &base->as.items[k];
    else if (base->type == CG_OBJ && idx->type == CG_STR)
        hit = cg_value_member(base, idx->as.str, idx->len);
    *out = hit ? *hit : CG_VALUE_NULL;
}

static void eval_list(struct expr__ev *ev, const struct expr__node *n,
                      struct cg_value *out)
{
    struct cg_value *items = expr__alloc(ev, sizeof(*items) * (n->n + 1));
    *out = CG_VALUE_NULL;
    if (!items)
        return;
    for (uint32_t i = 0; i < n->n; i++)
        expr__eval(ev, n->kids[i], &items[i]);
    out->type = CG_LIST;
    out->len = n->n;
    out->as.items = items;
}

/* A double result, or null when it is not finite. */
static void number(double d, struct cg_value *out)
{
    *out = isfinite(d) ? cg_value_num(d) : CG_VALUE_NULL;
}

static void negate(const struct cg_value *v, struct cg_value *out)
{
    if (v->type == CG_INT && v->as.i != INT64_MIN)
        *out = cg_value_int(-v->as.i);
    else if (cg_value_is_number(v))
        number(-cg_value_to_double(v), out);
    else
        *out = CG_VALUE_NULL;
}

/* int64 op int64; false when the result does not fit (or is no integer:
 * '/' always divides as floating point). */
static bool int_arith(int op, int64_t a, int64_t b, int64_t *r)
{
    switch (op) {
    case TOK_PLUS:
        return !__builtin_add_overflow(a, b, r);
    case TOK_MINUS:
        return !__builtin_sub_overflow(a, b, r);
    case TOK_STAR:
        return !__builtin_mul_overflow(a, b, r);
    case TOK_PERCENT: /* b is not 0; INT64_MIN % -1 would trap */
        *r = b == -1 ? 0 : a % b;
        return true;
    default:
        return false;
    }
}

static void num_arith(int op, double x, double y, struct cg_value *out)
{
    switch (op) {
    case TOK_PLUS:
        number(x + y, out);
        break;
    case TOK_MINUS:
        number(x - y, out);
        break;
    case TOK_STAR:
        number(x * y, out);
        break;
    case TOK_SLASH:
        number(x / y, out);
        break;
    default: /* fmod keeps the dividend's sign, as SPEC §4 wants */
        number(fmod(x, y), out);
    }
}

static void concat(struct expr__ev *ev, const struct cg_value *a,
                   const struct cg_value *b, struct cg_value *out)
{
    size_t n = (size_t)a->len + b->len;
    char *p = n <= UINT32_MAX ? expr__alloc(ev, n + 1) : NULL;
    if (!p) {
        *out = CG_VALUE_NULL;
        return;
    }
    memcpy(p, a->as.str, a->len);
    memcpy(p + a->len, b->as.str, b->len);
    p[n] = '\0';
    *out = cg_value_str(p, n);
}

static void arith(struct expr__ev *ev, int op, const struct cg_value *a,
                  const struct cg_value *b, struct cg_value *out)
{
    *out = CG_VALUE_NULL;
    if (op == TOK_PLUS && a->type == CG_STR && b->type == CG_STR) {
        concat(ev, a, b, out);
        return;
    }
    if (!cg_value_is_number(a) || !cg_value_is_number(b))
        return;
    double y = cg_value_to_double(b);
    if ((op == TOK_SLASH || op == TOK_PERCENT) && y == 0)
        return;
    int64_t r;
    if (a->type == CG_INT && b->type == CG_INT &&
        int_arith(op, a->as.i, b->as.i, &r))
        *out = cg_value_int(r);
    else
        num_arith(op, cg_value_to_double(a), y, out);
}

bool expr__has_element(const struct cg_value *list, const struct cg_value *x)
{
    for (uint32_t i = 0; i < list->len; i++)
        if (cg_value_equal(&list->as.items[i], x))
            return true;
    return false;
}

bool expr__has_substring(const struct cg_value *s, const struct cg_value *sub)
{
    if (sub->len == 0)
        return true;
    return sub->len <= s->len &&
           memmem(s->as.str, s->len, sub->as.str, sub->len) != NULL;
}

/* x in y: an element of a list, a substring of a string, a key of an
 * object; false for anything else. */
static bool in(const struct cg_value *x, const struct cg_value *y)
{
    if (y->type == CG_LIST)
        return expr__has_element(y, x);
    if (x->type == CG_STR && y->type == CG_STR)
        return expr__has_substring(y, x);
    if (x->type == CG_STR && y->type == CG_OBJ)
        return cg_value_member(y, x->as.str, x->len) != NULL;
    return false;
}

static bool compare(int op, const struct cg_value *a, const struct cg_value *b)
{
    int order;
    switch (op) {
    case TOK_EQ:
        return cg_value_equal(a, b);
    case TOK_NE:
        return !cg_value_equal(a, b);
    case TOK_IN:
        return in(a, b);
    }
    if (!cg_value_order(a, b, &order))
        return false;
    switch (op) {
    case TOK_LT:
        return order < 0;
    case TOK_LE:
        return order <= 0;
    case TOK_GT:
        return order > 0;
    default:
        return order >= 0;
    }
}

static bool is_arith(int op)
{
    return op == TOK_PLUS || op == TOK_MINUS || op == TOK_STAR ||
           op == TOK_SLASH || op == TOK_PERCENT;
}

static void eval_binary(struct expr__ev *ev, const struct expr__node *n,
                        struct cg_value *out)
{
    struct cg_value a, b;
    expr__eval(ev, n->kids[0], &a);
    expr__eval(ev, n->kids[1], &b);
    if (is_arith(n->op))
        arith(ev, n->op, &a, &b, out);
    else
        *out = cg_value_bool(compare(n->op, &a, &b));
}

static bool eval_true(struct expr__ev *ev, const struct expr__node *n)
{
    struct cg_value v;
    expr__eval(ev, n, &v);
    return cg_value_is_true(&v);
}

/* Paths, topic levels and lists. */
static void eval_access(struct expr__ev *ev, const struct expr__node *n,
                        struct cg_value *out)
{
    struct cg_value base, index;
    const struct cg_value *hit;
    switch (n->kind) {
    case NODE_FIELD:
        hit = cg_value_member(ev->ctx->record, n->lit.as.str, n->lit.len);
        *out = hit ? *hit : CG_VALUE_NULL;
        break;
    case NODE_MEMBER:
        expr__eval(ev, n->kids[0], &base);
        hit = cg_value_member(&base, n->lit.as.str, n->lit.len);
        *out = hit ? *hit : CG_VALUE_NULL;
        break;
    case NODE_INDEX:
        expr__eval(ev, n->kids[0], &base);
        expr__eval(ev, n->kids[1], &index);
        eval_index(&base, &index, out);
        break;
    case NODE_LEVEL:
        expr__eval(ev, n->kids[0], &index);
        topic_level(ev, &index, out);
        break;
    default:
        eval_list(ev, n, out);
    }
}

void expr__eval(struct expr__ev *ev, const struct expr__node *n,
                struct cg_value *out)
{
    struct cg_value v;
    switch (n->kind) {
    case NODE_LIT:
        *out = n->lit;
        break;
    case NODE_BUILTIN:
        eval_builtin(ev->ctx, n->op, out);
        break;
    case NODE_NEG:
        expr__eval(ev, n->kids[0], &v);
        negate(&v, out);
        break;
    case NODE_NOT:
        *out = cg_value_bool(!eval_true(ev, n->kids[0]));
        break;
    case NODE_BINARY:
        eval_binary(ev, n, out);
        break;
    case NODE_AND:
        *out = cg_value_bool(eval_true(ev, n->kids[0]) &&
                             eval_true(ev, n->kids[1]));
        break;
    case NODE_OR:
        *out = cg_value_bool(eval_true(ev, n->kids[0]) ||
                             eval_true(ev, n->kids[1]));
        break;
    case NODE_COND:
        expr__eval(ev, n->kids[eval_true(ev, n->kids[0]) ? 1 : 2], out);
        break;
    case NODE_CALL:
        expr__call(ev, n, out);
        break;
    case NODE_AGG:
        eval_agg(ev->ctx, n, out);
        break;
    default:
        eval_access(ev, n, out);
    }
}
