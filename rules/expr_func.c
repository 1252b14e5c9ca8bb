/*
 * The function table of expressions, the arity check the compiler makes
 * on a call, the call itself, and the text and type functions: len lower
 * upper trim contains starts_with ends_with matches exists coalesce str
 * bool hash. The numeric ones live in expr_math.c, the time ones in
 * expr_time.c, lookup() in expr_lookup.c, the window aggregates in
 * expr_window.c.
 *
 * A function given a type it does not take yields null (SPEC §12). lower,
 * upper and trim know ASCII only: lower("ÄB") is "Äb", and trim removes
 * space, tab, CR, LF, VT and FF but no Unicode spaces. New strings go into
 * the evaluation arena; a result equal to its input is the input itself.
 */
#include <string.h>
#include <strings.h>

#include "internal.h"

#define ANY 255 /* max_args of a function taking any number */

static EXPR__FUNC(fn_len)
{
    const struct cg_value *a = args;
    if (a->type == CG_STR)
        *out = cg_value_int((int64_t)cg_utf8_count(a->as.str, a->len));
    else if (a->type == CG_LIST || a->type == CG_OBJ)
        *out = cg_value_int(a->len);
    else
        *out = CG_VALUE_NULL;
}

/* lower (to_upper false) and upper: ASCII letters only. */
static void change_case(struct expr__ev *ev, const struct cg_value *a,
                        bool to_upper, struct cg_value *out)
{
    char from = to_upper ? 'a' : 'A';
    uint32_t i = 0;
    *out = CG_VALUE_NULL;
    if (a->type != CG_STR)
        return;
    while (i < a->len && (unsigned char)(a->as.str[i] - from) >= 26)
        i++;
    if (i == a->len) {
        *out = *a; /* nothing to change */
        return;
    }
    expr__string(ev, a->as.str, a->len, out);
    char *s = (char *)out->as.str;
    for (; out->type == CG_STR && i < out->len; i++)
        if ((unsigned char)(s[i] - from) < 26)
            s[i] = (char)(s[i] ^ 0x20);
}

static EXPR__FUNC(fn_lower)
{
    change_case(ev, args, false, out);
}

static EXPR__FUNC(fn_upper)
{
    change_case(ev, args, true, out);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

static EXPR__FUNC(fn_trim)
{
    const struct cg_value *a = args;
    *out = CG_VALUE_NULL;
    if (a->type != CG_STR)
        return;
    const char *s = a->as.str;
    size_t len = a->len;
    while (len && is_space(*s))
        s++, len--;
    size_t kept = len;
    while (kept && is_space(s[kept - 1]))
        kept--;
    /* A string cut at the front still ends with the input's NUL; one cut
     * at the end needs a copy with its own. */
    if (kept == len)
        *out = cg_value_str(s, len);
    else
        expr__string(ev, s, kept, out);
}

static EXPR__FUNC(fn_contains)
{
    const struct cg_value *a = &args[0], *b = &args[1];
    if (a->type == CG_STR && b->type == CG_STR)
        *out = cg_value_bool(expr__has_substring(a, b));
    else if (a->type == CG_LIST)
        *out = cg_value_bool(expr__has_element(a, b));
    else
        *out = CG_VALUE_NULL;
}

/* starts_with (at_end false) and ends_with. */
static void affix(const struct cg_value *a, const struct cg_value *b,
                  bool at_end, struct cg_value *out)
{
    *out = CG_VALUE_NULL;
    if (a->type != CG_STR || b->type != CG_STR)
        return;
    if (b->len > a->len) {
        *out = cg_value_bool(false);
        return;
    }
    const char *s = a->as.str + (at_end ? a->len - b->len : 0);
    *out = cg_value_bool(b->len == 0 || memcmp(s, b->as.str, b->len) == 0);
}

static EXPR__FUNC(fn_starts_with)
{
    affix(&args[0], &args[1], false, out);
}

static EXPR__FUNC(fn_ends_with)
{
    affix(&args[0], &args[1], true, out);
}

/* The regex was compiled at load time (expr_parse.c); this only runs it.
 * Searching is unanchored: users anchor with ^ and $. */
static EXPR__FUNC(fn_matches)
{
    *out = CG_VALUE_NULL;
    if (args->type != CG_STR)
        return;
    int rc = regexec(n->re, args->as.str, 0, NULL, 0);
    if (rc == 0 || rc == REG_NOMATCH)
        *out = cg_value_bool(rc == 0);
    else
        ev->oom = true; /* REG_ESPACE */
}

static EXPR__FUNC(fn_exists)
{
    *out = cg_value_bool(args->type != CG_NULL);
}

static EXPR__FUNC(fn_coalesce)
{
    *out = CG_VALUE_NULL;
    for (uint32_t i = 0; i < n->n && out->type == CG_NULL; i++)
        expr__eval(ev, n->kids[i], out);
}

static EXPR__FUNC(fn_str)
{
    *out = CG_VALUE_NULL;
    if (args->type != CG_NULL &&
        !value__format_arena(ev->ctx->arena, args, out))
        ev->oom = true;
}

static bool word_in(const struct cg_value *s, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == s->len &&
            strncasecmp(*words, s->as.str, s->len) == 0)
            return true;
    return false;
}

static EXPR__FUNC(fn_bool)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    const struct cg_value *a = args;
    *out = CG_VALUE_NULL;
    if (a->type == CG_BOOL)
        *out = *a;
    else if (cg_value_is_number(a))
        *out = cg_value_bool(cg_value_to_double(a) != 0);
    else if (a->type == CG_STR && word_in(a, yes))
        *out = cg_value_bool(true);
    else if (a->type == CG_STR && word_in(a, no))
        *out = cg_value_bool(false);
}

/* hash(x): 16 hex digits of the stable hash of x's text (str(x)), so
 * pseudonyms stay the same across gateways and versions. */
static EXPR__FUNC(fn_hash)
{
    struct cg_value text;
    *out = CG_VALUE_NULL;
    if (args->type == CG_NULL)
        return;
    if (!value__format_arena(ev->ctx->arena, args, &text)) {
        ev->oom = true;
        return;
    }
    uint64_t h = cg_hash_mix(cg_hash64(CG_HASH_SEED, text.as.str, text.len));
    char *hex = expr__alloc(ev, 17);
    if (!hex)
        return;
    cg_hex64(h, hex);
    *out = cg_value_str(hex, 16);
}

#define LAZY  EXPR_FN_LAZY
#define LOCAL EXPR_FN_LOCAL
#define TABLE EXPR_FN_TABLE

static const struct expr__func funcs[] = {
    {"abs", 1, 1, 0, expr__fn_abs},
    {"min", 2, ANY, LAZY, expr__fn_min},
    {"max", 2, ANY, LAZY, expr__fn_max},
    {"round", 1, 2, 0, expr__fn_round},
    {"floor", 1, 1, 0, expr__fn_floor},
    {"ceil", 1, 1, 0, expr__fn_ceil},
    {"sqrt", 1, 1, 0, expr__fn_sqrt},
    {"len", 1, 1, 0, fn_len},
    {"lower", 1, 1, 0, fn_lower},
    {"upper", 1, 1, 0, fn_upper},
    {"trim", 1, 1, 0, fn_trim},
    {"contains", 2, 2, 0, fn_contains},
    {"starts_with", 2, 2, 0, fn_starts_with},
    {"ends_with", 2, 2, 0, fn_ends_with},
    {"matches", 2, 2, 0, fn_matches},
    {"exists", 1, 1, 0, fn_exists},
    {"coalesce", 1, ANY, LAZY, fn_coalesce},
    {"num", 1, 1, 0, expr__fn_num},
    {"str", 1, 1, 0, fn_str},
    {"bool", 1, 1, 0, fn_bool},
    {"hash", 1, 1, 0, fn_hash},
    {"between", 3, 3, 0, expr__fn_between},
    {"hour", 1, 1, LOCAL, expr__fn_hour},
    {"minute", 1, 1, LOCAL, expr__fn_minute},
    {"weekday", 1, 1, LOCAL, expr__fn_weekday},
    {"date", 1, 1, LOCAL, expr__fn_date},
    {"format_time", 2, 2, LOCAL, expr__fn_format_time},
    {"lookup", 2, 2, TABLE, expr__fn_lookup},
};

const struct expr__func *expr__func_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strlen(funcs[i].name) == len &&
            memcmp(funcs[i].name, name, len) == 0)
            return &funcs[i];
    return NULL;
}

int expr__func_lookup(const char *name, size_t len, size_t offset,
                      const struct expr__func **fn, int *agg,
                      struct cg_expr_error *err)
{
    *fn = expr__func_find(name, len);
    *agg = expr__agg_kind(name, len);
    if (*fn || *agg >= 0)
        return CG_OK;
    int n = len > 32 ? 32 : (int)len;
    return expr__error(err, offset, "unknown function '%.*s'", n, name);
}

int expr__func_check_literals(struct cg_expr *e, struct expr__node *n,
                              const char *src, size_t len,
                              struct cg_expr_error *err)
{
    if (n->fn->fn == expr__fn_format_time)
        return expr__time_format_check(n, src, len, err);
    if (n->fn->fn == fn_matches)
        return expr__regex_compile(e, n, err);
    if (n->fn->fn == expr__fn_lookup)
        return expr__lookup_resolve(e, n, src, len, err);
    return CG_OK;
}

int expr__func_check_arity(const struct expr__func *f, uint32_t n,
                           size_t offset, struct cg_expr_error *err)
{
    if (n >= f->min_args && (n <= f->max_args || f->max_args == ANY))
        return CG_OK;
    if (f->max_args == ANY)
        return expr__error(err, offset, "%s() takes %d or more arguments",
                           f->name, f->min_args);
    if (f->min_args != f->max_args)
        return expr__error(err, offset, "%s() takes %d or %d arguments",
                           f->name, f->min_args, f->max_args);
    return expr__error(err, offset, "%s() takes %d argument%s", f->name,
                       f->min_args, f->min_args == 1 ? "" : "s");
}

/* Functions that are not lazy get their first three arguments evaluated,
 * as many as any of them takes. */
void expr__call(struct expr__ev *ev, const struct expr__node *n,
                struct cg_value *out)
{
    struct cg_value args[3] = {CG_VALUE_NULL, CG_VALUE_NULL, CG_VALUE_NULL};
    if (!(n->fn->flags & EXPR_FN_LAZY))
        for (uint32_t i = 0; i < n->n && i < 3; i++)
            expr__eval(ev, n->kids[i], &args[i]);
    n->fn->fn(ev, n, args, out);
}
