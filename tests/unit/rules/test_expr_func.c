/*
 * Expression function tests (SPEC §4 and §12): each built-in function with
 * its edge cases and the rule that a type a function does not take yields
 * null. Every row is also compiled under injected allocation failures.
 */
#include "expr_harness.h"

static const struct expr_case math[] = {
    {"abs(-3)", "3", 'i'},
    {"abs(3)", "3", 'i'},
    {"abs(-3.5)", "3.5", 'n'},
    {"abs(fzero)", "0", 'n'},
    {"abs(small)", "9.223372036854776e+18", 'n'},
    {"abs(big)", "9223372036854775807", 'i'},
    {"abs('x')", "null"},
    {"abs(z)", "null"},
    {"abs(list)", "null"},
    {"min(3, 1, 2)", "1", 'i'},
    {"max(3, 1, 2)", "3", 'i'},
    {"min(1, 1.0)", "1", 'i'},
    {"min(1.0, 1)", "1", 'n'},
    {"min(1.5, 2)", "1.5", 'n'},
    {"max(n, pm25)", "80.2", 'n'},
    {"min(-0.5, 0)", "-0.5", 'n'},
    {"max(big, 9223372036854775806.0)", "9.223372036854776e+18", 'n'},
    {"max(big, 1.0)", "9223372036854775807", 'i'},
    {"max('a', 'b')", "\"b\""},
    {"min('b', 'a', 'c')", "\"a\""},
    {"min('', 'a')", "\"\""},
    {"min(1, 'a')", "null"},
    {"max('a', 1)", "null"},
    {"max(1, z)", "null"},
    {"max(z, 1)", "null"},
    {"min(list, 1)", "null"},
    {"min(t, f)", "null"},
    {"max(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)", "11", 'i'},
    /* round: half away from zero on the decimal the user sees */
    {"round(2.5)", "3", 'i'},
    {"round(-2.5)", "-3", 'i'},
    {"round(2.4)", "2", 'i'},
    {"round(0.5)", "1", 'i'},
    {"round(-0.5)", "-1", 'i'},
    {"round(-0.4)", "0", 'i'},
    {"round(99.5)", "100", 'i'},
    {"round(2.675, 2)", "2.68", 'n'},
    {"round(1.005, 2)", "1.01", 'n'},
    {"round(-1.005, 2)", "-1.01", 'n'},
    {"round(1.45, 1)", "1.5", 'n'},
    {"round(0.05, 1)", "0.1", 'n'},
    {"round(80.25, 1)", "80.3", 'n'},
    {"round(pm25, 1)", "80.2", 'n'},
    {"round(1.23456, 3)", "1.235", 'n'},
    {"round(0.000123456, 5)", "0.00012", 'n'},
    {"round(-0.001, 2)", "0", 'n'},
    {"round(1e-300, 2)", "0", 'n'},
    {"round(2.5, 1000)", "2.5", 'n'},
    {"round(2.5, -1000)", "0", 'i'},
    {"round(2.5, 1.0)", "2.5", 'n'},
    {"round(1234, -2)", "1200", 'i'},
    {"round(1250, -2)", "1300", 'i'},
    {"round(-1250, -2)", "-1300", 'i'},
    {"round(1249.9, -2)", "1200", 'i'},
    {"round(123.456, -1)", "120", 'i'},
    {"round(5)", "5", 'i'},
    {"round(5, 2)", "5", 'i'},
    {"round(1e20)", "1e+20", 'n'},
    {"round(1.7e308, -308)", "null"},
    {"round(big, -1)", "9.223372036854776e+18", 'n'},
    {"round(small, -1)", "-9.223372036854776e+18", 'n'},
    {"round(big, -18)", "9000000000000000000", 'i'},
    {"round(big, -19)", "1e+19", 'n'},
    {"round(big, -20)", "0", 'i'},
    {"round(4999999999999999999, -19)", "0", 'i'},
    {"round(5000000000000000000, -19)", "1e+19", 'n'},
    {"round(small, -18)", "-9000000000000000000", 'i'},
    {"round(1.5, 0.5)", "null"},
    {"round('1', 1)", "null"},
    {"round(1, z)", "null"},
    {"round(1, '1')", "null"},
    {"round(z)", "null"},
    /* floor, ceil, sqrt */
    {"floor(2.7)", "2", 'i'},
    {"floor(-2.1)", "-3", 'i'},
    {"floor(-0.5)", "-1", 'i'},
    {"ceil(2.1)", "3", 'i'},
    {"ceil(-2.7)", "-2", 'i'},
    {"ceil(-0.5)", "0", 'i'},
    {"floor(5)", "5", 'i'},
    {"ceil(small)", "-9223372036854775808", 'i'},
    {"floor(1e300)", "1e+300", 'n'},
    {"ceil(-1e300)", "-1e+300", 'n'},
    {"floor('x')", "null"},
    {"ceil(z)", "null"},
    {"sqrt(16)", "4", 'n'},
    {"sqrt(2)", "1.4142135623730951", 'n'},
    {"sqrt(0)", "0", 'n'},
    {"sqrt(-1)", "null"},
    {"sqrt('4')", "null"},
    /* num: SPEC §12 numbers in text */
    {"num('42')", "42", 'i'},
    {"num(' 42 ')", "42", 'i'},
    {"num(numstr)", "42", 'i'},
    {"num('\\t7\\n')", "7", 'i'},
    {"num('-1')", "-1", 'i'},
    {"num('2.5')", "2.5", 'n'},
    {"num('1e3')", "1000", 'n'},
    {"num('-0')", "0", 'i'},
    {"num('9223372036854775808')", "9.223372036854776e+18", 'n'},
    {"num('1e-400')", "0", 'n'},
    {"num('1e400')", "null"},
    {"num('+5')", "null"},
    {"num('.5')", "null"},
    {"num('5.')", "null"},
    {"num('0x10')", "null"},
    {"num('01')", "null"},
    {"num('inf')", "null"},
    {"num('nan')", "null"},
    {"num('')", "null"},
    {"num('  ')", "null"},
    {"num('12abc')", "null"},
    {"num('1 2')", "null"},
    {"num(true)", "1", 'i'},
    {"num(false)", "0", 'i'},
    {"num(3.5)", "3.5", 'n'},
    {"num(7)", "7", 'i'},
    {"num(z)", "null"},
    {"num(list)", "null"},
    {"num(obj)", "null"},
};

static const struct expr_case text[] = {
    {"len('h\\u00e9llo')", "5", 'i'},
    {"len(u)", "11", 'i'},
    {"len('\\ud83d\\ude00')", "1", 'i'},
    {"len('')", "0", 'i'},
    {"len(list)", "3", 'i'},
    {"len(obj)", "4", 'i'},
    {"len([])", "0", 'i'},
    {"len(3)", "null"},
    {"len(z)", "null"},
    {"len(t)", "null"},
    {"lower('HeLLo')", "\"hello\""},
    {"lower('abc')", "\"abc\""},
    {"upper(s)", "\"HELLO\""},
    {"upper('h\\u00e9llo')", "\"H\xc3\xa9LLO\""},
    {"lower('\\u00c4B')", "\"\xc3\x84"
                          "b\""},
    {"upper('a1_z[')", "\"A1_Z[\""},
    {"lower('@[`{')", "\"@[`{\""},
    {"lower(5)", "null"},
    {"upper(z)", "null"},
    {"trim(sp)", "\"padded\""},
    {"trim('  a b  ')", "\"a b\""},
    {"trim('\\t\\n x \\r')", "\"x\""},
    {"trim('x  ')", "\"x\""},
    {"trim('  x')", "\"x\""},
    {"trim('')", "\"\""},
    {"trim('   ')", "\"\""},
    {"len(trim(sp))", "6"},
    {"trim(5)", "null"},
    {"contains(s, 'ell')", "true"},
    {"contains(s, 'xyz')", "false"},
    {"contains(s, '')", "true"},
    {"contains(e, 'a')", "false"},
    {"contains(list, 2)", "true"},
    {"contains(list, 2.0)", "true"},
    {"contains(list, 5)", "false"},
    {"contains(mixed, [2])", "true"},
    {"contains(mixed, null)", "true"},
    {"contains(obj, 'a')", "null"},
    {"contains(5, 'a')", "null"},
    {"contains(s, 5)", "null"},
    {"contains(z, 'a')", "null"},
    {"starts_with(s, 'He')", "true"},
    {"starts_with(s, 'he')", "false"},
    {"starts_with(s, '')", "true"},
    {"starts_with('He', 'Hello')", "false"},
    {"ends_with(s, 'llo')", "true"},
    {"ends_with(s, 'Hello!')", "false"},
    {"ends_with('lo', 'Hello')", "false"},
    {"ends_with(s, '')", "true"},
    {"starts_with(5, '5')", "null"},
    {"ends_with(s, z)", "null"},
    {"matches(s, '^H.l+o$')", "true"},
    {"matches(s, 'ell')", "true"},
    {"matches(s, '^ell')", "false"},
    {"matches(s, 'LL')", "false"},
    {"matches(status, 'ok|fault')", "true"},
    {"matches('abc123', '[0-9]{3}')", "true"},
    {"matches(e, '^$')", "true"},
    {"matches(device, '^aq-[0-9]+$')", "true"},
    {"matches(5, 'x')", "null"},
    {"matches(z, 'x')", "null"},
    {"matches(list, 'x')", "null"},
};

static const struct expr_case types[] = {
    {"exists(pm25)", "true"},
    {"exists(missing)", "false"},
    {"exists(z)", "false"},
    {"exists(f)", "true"},
    {"exists(e)", "true"},
    {"exists(readings.pm25)", "true"},
    {"exists(readings.nothing)", "false"},
    {"exists(values[5])", "false"},
    {"exists(payload)", "true"},
    {"coalesce(missing, z, 5)", "5", 'i'},
    {"coalesce(z)", "null"},
    {"coalesce(missing, s)", "\"Hello\""},
    {"coalesce(f, 1)", "false"},
    {"coalesce(1)", "1"},
    {"coalesce(z, e, 1)", "\"\""},
    {"str(42)", "\"42\""},
    {"str(-7)", "\"-7\""},
    {"str(2.5)", "\"2.5\""},
    {"str(0.1)", "\"0.1\""},
    {"str(1 / 3)", "\"0.3333333333333333\""},
    {"str(1e21)", "\"1e+21\""},
    {"str(1e20)", "\"1e+20\""},
    {"str(1e-7)", "\"1e-7\""},
    {"str(6 / 3)", "\"2\""},
    {"str(9007199254740991)", "\"9007199254740991\""},
    {"str(9007199254740993)", "\"9007199254740993\""},
    {"str(9007199254740992.0)", "\"9007199254740992\""},
    {"str(big)", "\"9223372036854775807\""},
    {"str(pm25)", "\"80.2\""},
    {"str(true)", "\"true\""},
    {"str(f)", "\"false\""},
    {"str(z)", "null"},
    {"str(missing)", "null"},
    {"str('x')", "\"x\""},
    {"str(e)", "\"\""},
    {"str(list)", "\"[1,2,3]\""},
    {"str(mixed)", "\"[1,\\\"a\\\",null,[2]]\""},
    {"str(obj.b)", "\"{\\\"c\\\":[10,20]}\""},
    {"str(['a\"\\n'])", "\"[\\\"a\\\\\\\"\\\\n\\\"]\""},
    {"str([])", "\"[]\""},
    {"str(1) + str(2)", "\"12\""},
    {"bool(true)", "true"},
    {"bool(f)", "false"},
    {"bool(1)", "true"},
    {"bool(0)", "false"},
    {"bool(0.0)", "false"},
    {"bool(-2.5)", "true"},
    {"bool('true')", "true"},
    {"bool('TRUE')", "true"},
    {"bool('yes')", "true"},
    {"bool('YES')", "true"},
    {"bool('On')", "true"},
    {"bool('1')", "true"},
    {"bool('false')", "false"},
    {"bool('False')", "false"},
    {"bool('no')", "false"},
    {"bool('Off')", "false"},
    {"bool('0')", "false"},
    {"bool('maybe')", "null"},
    {"bool(' yes')", "null"},
    {"bool('y')", "null"},
    {"bool('2')", "null"},
    {"bool('')", "null"},
    {"bool(z)", "null"},
    {"bool(list)", "null"},
    {"hash(z)", "null"},
    {"hash(missing)", "null"},
    {"len(hash(s))", "16"},
    {"matches(hash(s), '^[0-9a-f]{16}$')", "true"},
    {"hash(s) == hash('Hello')", "true"},
    {"hash('a') != hash('b')", "true"},
    {"hash(42) == hash('42')", "true"},
    {"hash(2.5) == hash('2.5')", "true"},
    {"hash(true) == hash('true')", "true"},
    {"hash(list) == hash('[1,2,3]')", "true"},
    {"hash(obj.b) == hash('{\"c\":[10,20]}')", "true"},
    {"hash(e) == hash('')", "true"},
};

static void test_math(void **state)
{
    run_cases(math, N_ROWS(math));
}

static void test_text(void **state)
{
    run_cases(text, N_ROWS(text));
}

static void test_types(void **state)
{
    run_cases(types, N_ROWS(types));
}

/* hash() is part of the contract: the same text gives the same 16 hex
 * digits on every machine and version (it pseudonymizes device ids). */
static void test_hash_value(void **state)
{
    char want[17];
    cg_hex64(cg_hash_mix(cg_hash64(CG_HASH_SEED, "aq-7", 4)), want);
    struct cg_expr *e;
    assert_int_equal(cg_expr_compile("hash(device)", 12, &e, NULL), CG_OK);
    struct harness h;
    harness_open(&h, NULL);
    struct cg_value v;
    eval_no_heap(e, &h.ctx, &v);
    assert_int_equal(v.type, CG_STR);
    assert_int_equal(v.len, 16);
    assert_string_equal(v.as.str, want);
    harness_close(&h);
    cg_expr_free(e);
}

/* Functions that make strings yield null when the arena is missing or
 * exhausted, and never crash. (Constant calls such as str(1) are folded at
 * compile time and need no arena.) */
static void test_no_arena(void **state)
{
    static const char *const exprs[] = {
        "str(n)",  "str(list)", "upper(s)", "lower(s)", "trim(sp)",
        "hash(s)", "hash(n)",   "s + s",    "[n, s]",   "topic[1]",
    };
    struct harness h;
    harness_open(&h, NULL);
    h.ctx.arena = NULL;
    for (size_t i = 0; i < N_ROWS(exprs); i++) {
        struct cg_expr *e;
        assert_int_equal(cg_expr_compile(exprs[i], strlen(exprs[i]), &e, NULL),
                         CG_OK);
        struct cg_value v = cg_value_bool(true);
        eval_no_heap(e, &h.ctx, &v);
        if (v.type != CG_NULL)
            fail_msg("%s without an arena is not null", exprs[i]);
        cg_expr_free(e);
    }
    harness_close(&h);
}

/* An arena that cannot grow (the heap fails) gives null for big results. */
static void test_arena_exhausted(void **state)
{
    const char *src = "str([s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s,"
                      " s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s])";
    struct cg_expr *e;
    assert_int_equal(cg_expr_compile(src, strlen(src), &e, NULL), CG_OK);
    struct harness h;
    harness_open(&h, NULL);
    struct cg_arena *small = cg_arena_new(256);
    h.ctx.arena = small;
    struct cg_value v;
    eval_no_heap(e, &h.ctx, &v);
    assert_int_equal(v.type, CG_NULL);
    cg_expr_eval(e, &h.ctx, &v); /* the heap is back: now it fits */
    assert_int_equal(v.type, CG_STR);
    cg_arena_free(small);
    harness_close(&h);
    cg_expr_free(e);
}

static void test_oom_compile(void **state)
{
    run_cases_oom(math, N_ROWS(math));
    run_cases_oom(text, N_ROWS(text));
    run_cases_oom(types, N_ROWS(types));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_math),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_hash_value),
        cmocka_unit_test(test_no_arena),
        cmocka_unit_test(test_arena_exhausted),
        cmocka_unit_test(test_oom_compile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
