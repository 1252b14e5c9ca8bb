/*
 * Compile errors of expressions: every message with the byte offset of the
 * token at fault (the loader turns it into file:line:col), nesting limits,
 * and the same errors under injected allocation failures (either
 * CG_ENOMEM or the very same error, never a leak).
 */
#include <stdlib.h>

#include "expr_harness.h"

static const struct error_case errors[] = {
    /* structure */
    {"", 0, "empty expression"},
    {"   ", 0, "empty expression"},
    {"1 +", 3, "unexpected end of expression"},
    {"not", 3, "unexpected end of expression"},
    {"-", 1, "unexpected end of expression"},
    {"(1 + 2", 6, "expected ')' after expression"},
    {"((1)", 4, "expected ')' after expression"},
    {"1 + 2)", 5, "unexpected ')'"},
    {"()", 1, "unexpected ')'"},
    {"1 ]", 2, "unexpected ']'"},
    {"1, 2", 1, "unexpected ','"},
    {"1 : 2", 2, "unexpected ':'"},
    {",", 0, "unexpected ','"},
    {"and", 0, "unexpected 'and'"},
    {"1 + * 2", 4, "unexpected '*'"},
    {"a == == b", 5, "unexpected '=='"},
    {"1 2", 2, "trailing input after expression"},
    {"a b", 2, "trailing input after expression"},
    {"a 'b'", 2, "trailing input after expression"},
    {"true(1)", 4, "trailing input after expression"},
    {"x +", 3, "unexpected end of expression"},
    {"x + 'a' 'b'", 8, "trailing input after expression"},
    {"1 + 'a' + ", 10, "unexpected end of expression"},
    {"'a' 'b'", 4, "trailing input after expression"},
    {"(,)", 1, "unexpected ','"},
    {"x.", 2, "expected a field name after '.'"},
    {"x.1", 2, "expected a field name after '.'"},
    {"x.'b'", 2, "expected a field name after '.'"},
    {"x..y", 2, "expected a field name after '.'"},
    {"a[1", 3, "expected ']' after index"},
    {"a[1, 2]", 3, "expected ']' after index"},
    {"a[]", 2, "unexpected ']'"},
    {"[1, 2", 5, "expected ',' or ']' in list"},
    {"[1 2]", 3, "expected ',' or ']' in list"},
    {"[1,]", 3, "unexpected ']'"},
    {"[,1]", 1, "unexpected ','"},
    {"t ? 1", 5, "expected ':' in conditional"},
    {"t ? 1 : ", 8, "unexpected end of expression"},
    {"t ? : 1", 4, "unexpected ':'"},
    {"? 1 : 2", 0, "unexpected '?'"},
    /* characters and numbers */
    {"a = 1", 2, "unexpected '=' (did you mean '=='?)"},
    {"a & b", 2, "unexpected '&' (did you mean '&&'?)"},
    {"a | b", 2, "unexpected '|' (did you mean '||'?)"},
    {"a # b", 2, "unexpected character '#'"},
    {"a ; b", 2, "unexpected character ';'"},
    {"{}", 0, "unexpected character '{'"},
    {"$x", 0, "unexpected character '$'"},
    {"x + \xff", 4, "unexpected byte 0xff"},
    {"\xc3\xa9", 0, "unexpected byte 0xc3"},
    {"01", 0, "invalid number '01'"},
    {"1.", 0, "invalid number '1.'"},
    {"1.e3", 0, "invalid number '1.e3'"},
    {"1e", 0, "invalid number '1e'"},
    {"1e+", 0, "invalid number '1e+'"},
    {"x + 1x", 4, "invalid number '1x'"},
    {"0x10", 0, "invalid number '0x10'"},
    {"1.2.3", 0, "invalid number '1.2.3'"},
    {"3in list", 0, "invalid number '3in'"},
    {".5", 0, "unexpected '.'"},
    {"1e999", 0, "number out of range"},
    {"-1e999", 1, "number out of range"},
    {"x * -1e999", 5, "number out of range"},
    /* strings */
    {"'abc", 0, "unterminated string"},
    {"x == \"abc", 5, "unterminated string"},
    {"'abc\"", 0, "unterminated string"},
    {"'abc\\'", 0, "unterminated string"},
    {"'a\\qb'", 2, "invalid escape '\\q' in string"},
    {"'\\x41'", 1, "invalid escape '\\x' in string"},
    {"'\\a'", 1, "invalid escape '\\a' in string"},
    {"'\\U0041'", 1, "invalid escape '\\U' in string"},
    {"'\\ '", 1, "invalid escape in string"},
    {"'\\u00'", 1, "invalid \\u escape in string"},
    {"'\\uzzzz'", 1, "invalid \\u escape in string"},
    {"'ab\\u12'", 3, "invalid \\u escape in string"},
    {"'\\ud800'", 1, "lone surrogate '\\ud800' in string"},
    {"'\\udc00x'", 1, "lone surrogate '\\udc00' in string"},
    {"'\\ud800\\u0041'", 1, "lone surrogate '\\ud800' in string"},
    {"'\\ud800\\ud800'", 1, "lone surrogate '\\ud800' in string"},
    {"'\\u0000'", 1, "\\u0000 is not allowed in a string"},
    {"'a\nb'", 2, "line break in string"},
    {"'a\rb'", 2, "line break in string"},
    {"'a\x01'", 2, "control character in string"},
    {"'\xff'", 0, "invalid UTF-8 in string"},
    {"'\xc3'", 0, "invalid UTF-8 in string"},
    {"'\xed\xa0\x80'", 0, "invalid UTF-8 in string"},
    /* functions */
    {"foo(1)", 0, "unknown function 'foo'"},
    {"x + payload(1)", 4, "unknown function 'payload'"},
    {"Len(s)", 0, "unknown function 'Len'"},
    {"round()", 0, "round() takes 1 or 2 arguments"},
    {"round(1, 2, 3)", 0, "round() takes 1 or 2 arguments"},
    {"abs()", 0, "abs() takes 1 argument"},
    {"abs(1, 2)", 0, "abs() takes 1 argument"},
    {"len()", 0, "len() takes 1 argument"},
    {"contains(s)", 0, "contains() takes 2 arguments"},
    {"matches(s)", 0, "matches() takes 2 arguments"},
    {"x + starts_with(s, 'a', 'b')", 4, "starts_with() takes 2 arguments"},
    {"min()", 0, "min() takes 2 or more arguments"},
    {"coalesce()", 0, "coalesce() takes 1 or more arguments"},
    {"max(1 2)", 6, "expected ',' or ')' in arguments"},
    {"max(1, 2", 8, "expected ',' or ')' in arguments"},
    {"abs(", 4, "unexpected end of expression"},
    {"abs(,)", 4, "unexpected ','"},
    {"min(pm25)", 0,
     "min() of one argument is a window aggregate: only a window's aggregate "
     "may use it (min() takes 2 or more arguments)"},
    {"max(pm25)", 0,
     "max() of one argument is a window aggregate: only a window's aggregate "
     "may use it (max() takes 2 or more arguments)"},
    {"count()", 0,
     "count() is a window aggregate: only a window's aggregate may use it"},
    {"count(x)", 0,
     "count() is a window aggregate: only a window's aggregate may use it"},
    {"x > count_distinct(device)", 4,
     "count_distinct() is a window aggregate: only a window's aggregate may "
     "use it"},
    {"sum(x)", 0,
     "sum() is a window aggregate: only a window's aggregate may use it"},
    {"round(avg(x), 1)", 6,
     "avg() is a window aggregate: only a window's aggregate may use it"},
    {"first(x)", 0,
     "first() is a window aggregate: only a window's aggregate may use it"},
    {"last(x)", 0,
     "last() is a window aggregate: only a window's aggregate may use it"},
    {"Count()", 0, "unknown function 'Count'"},
    /* time functions */
    {"hour()", 0, "hour() takes 1 argument"},
    {"weekday(1, 2)", 0, "weekday() takes 1 argument"},
    {"between(1, 2)", 0, "between() takes 3 arguments"},
    {"format_time(t)", 0, "format_time() takes 2 arguments"},
    {"format_time(t, f)", 15,
     "format_time() needs a string literal as its format"},
    {"format_time(t, 5)", 15,
     "format_time() needs a string literal as its format"},
    {"format_time(t, null)", 15,
     "format_time() needs a string literal as its format"},
    {"format_time(t, '%Y-%q')", 19,
     "format_time(): unsupported conversion '%q' (use %Y %m %d %H %M %S %j "
     "%a %b %%)"},
    {"format_time(t, \"%c\")", 16,
     "format_time(): unsupported conversion '%c'*"},
    {"format_time(t, '%e')", 16, "format_time(): unsupported conversion '%e'*"},
    {"format_time(t, '%Ey')", 16,
     "format_time(): unsupported conversion '%E'*"},
    {"format_time(t, '%%%s')", 18,
     "format_time(): unsupported conversion '%s'*"},
    {"format_time(t, '%H:%M %')", 22,
     "format_time(): '%' at the end of the format"},
    {"format_time(t, '%')", 16, "format_time(): '%' at the end of the format"},
    {"format_time(t, '%\\u00e9')", 16,
     "format_time(): unsupported conversion after '%'*"},
    {"format_time(t, '%\\t')", 16,
     "format_time(): unsupported conversion after '%'*"},
    /* escapes before the fault decode shorter than they are written */
    {"format_time(t, '\\u00e9\\n%Y %x')", 27,
     "format_time(): unsupported conversion '%x'*"},
    {"format_time(t, '\\u0025x')", 16,
     "format_time(): unsupported conversion '%x'*"},
    {"format_time(t, '\\ud83d\\ude00 %k')", 29,
     "format_time(): unsupported conversion '%k'*"},
    /* a folded format has no '%' to point at: the fold's operator */
    {"format_time(t, '%Y' + '%q')", 20,
     "format_time(): unsupported conversion '%q'*"},
    {"matches(s, x)", 11, "matches() needs a string literal as its regex"},
    {"matches(s, 5)", 11, "matches() needs a string literal as its regex"},
    {"matches(s, null)", 11, "matches() needs a string literal as its regex"},
    {"matches(s, ['a'])", 11, "matches() needs a string literal as its regex"},
    {"matches(s, '(')", 11, "bad regex: *"},
    {"matches(s, 'a[b')", 11, "bad regex: *"},
    {"matches(s, 'a{2,1}')", 11, "bad regex: *"},
    {"x || matches(s, \"*\" )", 16, "bad regex: *"},
    /* patterns glibc would take gigabytes to compile */
    {"matches(s, '[0-9]++{3}')", 11,
     "regex too costly: repeated repetition operators"},
    {"matches(s, 'a*?')", 11,
     "regex too costly: repeated repetition operators"},
    {"matches(s, 'a{256}')", 11,
     "regex too costly: a repetition count above 255"},
    {"matches(s, '((a{100}){100}){2}')", 11,
     "regex too costly: repetitions that multiply past 10000"},
    /* an error inside a function's arguments wins over its arity */
    {"round(1, 'a\\q')", 11, "invalid escape '\\q' in string"},
};

static void test_errors(void **state)
{
    run_errors(errors, N_ROWS(errors), false);
}

static void test_errors_oom(void **state)
{
    run_errors(errors, N_ROWS(errors), true);
}

/* src made of `head` n times, then `mid`, then `tail` n times. */
static char *repeat(const char *head, const char *mid, const char *tail, int n)
{
    size_t nh = strlen(head), nm = strlen(mid), nt = strlen(tail);
    char *s = malloc((nh + nt) * (size_t)n + nm + 1);
    assert_non_null(s);
    char *p = s;
    for (int i = 0; i < n; i++, p += nh)
        memcpy(p, head, nh);
    memcpy(p, mid, nm);
    p += nm;
    for (int i = 0; i < n; i++, p += nt)
        memcpy(p, tail, nt);
    *p = '\0';
    return s;
}

struct depth_case {
    const char *head, *mid, *tail;
    int ok_n, bad_n; /* ok_n compiles; bad_n is too deep */
};

/* Parentheses, unary operators, lists, calls, conditionals and long
 * operator chains all hit the same limit instead of the stack's end. */
static const struct depth_case depths[] = {
    {"(", "x", ")", 200, 300},       {"(", "1", ")", 200, 300},
    {"-", "x", "", 200, 300},        {"!", "x", "", 200, 300},
    {"not ", "x", "", 200, 300},     {"[", "x", "]", 200, 300},
    {"[", "1", "]", 200, 300},       {"abs(", "x", ")", 200, 300},
    {"t ? 1 : ", "2", "", 200, 300}, {"x + ", "x", "", 200, 300},
    {"x[", "0", "]", 200, 300},      {"", "x", ".a", 200, 300},
    {"", "x", "[0]", 200, 300},      {"", "x", " == x", 200, 300},
    {"(x + ", "x", ")", 200, 300},   {"(", "x", ")", 200, 100000},
};

static void test_depth(void **state)
{
    for (size_t i = 0; i < N_ROWS(depths); i++) {
        const struct depth_case *d = &depths[i];
        char *ok = repeat(d->head, d->mid, d->tail, d->ok_n);
        char *bad = repeat(d->head, d->mid, d->tail, d->bad_n);
        struct cg_expr *e = NULL;
        struct cg_expr_error err = {0};
        if (cg_expr_compile(ok, strlen(ok), &e, &err) != CG_OK)
            fail_msg("depth %d of %s%s%s: %s", d->ok_n, d->head, d->mid,
                     d->tail, err.msg);
        cg_expr_free(e);
        int rc = cg_expr_compile(bad, strlen(bad), &e, &err);
        assert_int_equal(rc, CG_EINVAL);
        assert_null(e);
        assert_string_equal(err.msg, "expression nested too deeply");
        assert_true(err.offset < strlen(bad));
        free(ok);
        free(bad);
    }
}

/* The offset of the depth error points at the token that went too deep:
 * the 257th '(' (offset 256) or the 256th '+' (whose node is 257 deep). */
static void test_depth_offset(void **state)
{
    char *src = repeat("(", "1", ")", 300);
    struct cg_expr *e = NULL;
    struct cg_expr_error err = {0};
    assert_int_equal(cg_expr_compile(src, strlen(src), &e, &err), CG_EINVAL);
    assert_string_equal(err.msg, "expression nested too deeply");
    assert_int_equal(err.offset, 256);
    free(src);
    src = repeat("x + ", "x", "", 300);
    assert_int_equal(cg_expr_compile(src, strlen(src), &e, &err), CG_EINVAL);
    assert_string_equal(err.msg, "expression nested too deeply");
    assert_int_equal(err.offset, 256 * 4 - 2); /* the 256th '+' */
    free(src);
}

/* Long but flat expressions are fine: the limit is on depth only. */
static void test_wide(void **state)
{
    char *list = repeat("1, ", "1", "", 5000);
    char *src = repeat("[", list, "]", 1);
    struct cg_expr *e = NULL;
    assert_int_equal(cg_expr_compile(src, strlen(src), &e, NULL), CG_OK);
    struct cg_value v;
    assert_true(cg_expr_constant(e, &v));
    assert_int_equal(v.type, CG_LIST);
    assert_int_equal(v.len, 5001);
    cg_expr_free(e);
    free(src);
    src = repeat("max(", list, ", n)", 1);
    assert_int_equal(cg_expr_compile(src, strlen(src), &e, NULL), CG_OK);
    struct harness h;
    harness_open(&h, NULL);
    eval_no_heap(e, &h.ctx, &v);
    assert_int_equal(v.type, CG_INT);
    assert_int_equal(v.as.i, 7);
    harness_close(&h);
    cg_expr_free(e);
    free(src);
    free(list);
}

/* A NULL error pointer is allowed, and *out stays NULL on failure. */
static void test_null_err(void **state)
{
    struct cg_expr *e = (struct cg_expr *)&e;
    assert_int_equal(cg_expr_compile("1 +", 3, &e, NULL), CG_EINVAL);
    assert_null(e);
    assert_int_equal(cg_expr_compile(NULL, 0, &e, NULL), CG_EINVAL);
    cg_expr_free(NULL);
}

/* The source need not be NUL-terminated: only len bytes are read. */
static void test_length_bound(void **state)
{
    struct cg_expr *e = NULL;
    struct cg_expr_error err;
    assert_int_equal(cg_expr_compile("1 + 2garbage", 5, &e, &err), CG_OK);
    struct cg_value v;
    assert_true(cg_expr_constant(e, &v));
    assert_int_equal(v.as.i, 3);
    cg_expr_free(e);
    assert_int_equal(cg_expr_compile("'abc'", 4, &e, &err), CG_EINVAL);
    assert_string_equal(err.msg, "unterminated string");
    assert_int_equal(cg_expr_compile("1 + 22", 5, &e, &err), CG_OK);
    assert_true(cg_expr_constant(e, &v));
    assert_int_equal(v.as.i, 3);
    cg_expr_free(e);
    char nul[] = {'1', '\0', '2'};
    assert_int_equal(cg_expr_compile(nul, 3, &e, &err), CG_EINVAL);
    assert_string_equal(err.msg, "unexpected byte 0x00");
    assert_int_equal(err.offset, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_errors_oom),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_depth_offset),
        cmocka_unit_test(test_wide),
        cmocka_unit_test(test_null_err),
        cmocka_unit_test(test_length_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
