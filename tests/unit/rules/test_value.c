/*
 * Value tests (rules.h "values"): number conversion, SPEC §4 equality and
 * ordering (exact across int and double, deep, objects regardless of
 * member order), member lookup (the last duplicate wins), str()-style
 * formatting (SPEC §12) and deep copies into an arena.
 */
#include <math.h>

#include "expr_harness.h"

static struct cg_value parse(struct cg_arena *a, const char *json)
{
    struct cg_value v;
    char why[128];
    if (cg_json_parse(json, strlen(json), cg_arena_alloc_fn, a, &v, why,
                      sizeof(why)) != CG_OK)
        fail_msg("bad JSON in test (%s): %s", why, json);
    return v;
}

static void test_to_double(void **state)
{
    struct cg_value v = cg_value_int(-3);
    assert_true(cg_value_to_double(&v) == -3.0);
    v = cg_value_num(2.5);
    assert_true(cg_value_to_double(&v) == 2.5);
    v = cg_value_str("7", 1);
    assert_true(cg_value_to_double(&v) == 0);
    v = CG_VALUE_NULL;
    assert_true(cg_value_to_double(&v) == 0);
    v = cg_value_bool(true);
    assert_true(cg_value_to_double(&v) == 0);
}

static const struct {
    const char *a, *b;
    bool equal;
} equals[] = {
    {"1", "1.0", true},
    {"1", "2", false},
    {"-0.0", "0", true},
    {"9007199254740993", "9007199254740992.0", false},
    {"9007199254740992", "9007199254740992.0", true},
    {"9223372036854775807", "9223372036854775808.0", false},
    {"-9223372036854775808", "-9223372036854775808.0", true},
    {"0.5", "0.5", true},
    {"null", "null", true},
    {"true", "true", true},
    {"true", "false", false},
    {"\"a\"", "\"a\"", true},
    {"\"a\"", "\"b\"", false},
    {"\"a\"", "\"ab\"", false},
    {"\"\"", "\"\"", true},
    {"[1, [2]]", "[1.0, [2]]", true},
    {"[1]", "[1, 2]", false},
    {"[1, 2]", "[2, 1]", false},
    {"[]", "[]", true},
    {"{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1}", true},
    {"{\"a\": 1, \"b\": 2, \"c\": 3}", "{\"c\": 3, \"a\": 1, \"b\": 2}", true},
    {"{\"a\": 1}", "{\"a\": 1, \"b\": 2}", false},
    {"{\"a\": 1}", "{\"b\": 1}", false},
    {"{\"a\": 1}", "{\"a\": 2}", false},
    {"{\"a\": {\"x\": [1]}}", "{\"a\": {\"x\": [1.0]}}", true},
    {"{}", "{}", true},
    {"{}", "[]", false},
    {"0", "false", false},
    {"0", "null", false},
    {"\"1\"", "1", false},
    {"[null]", "[]", false},
    {"\"null\"", "null", false},
};

static void test_equal(void **state)
{
    struct cg_arena *a = cg_arena_new(4096);
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(equals); i++) {
        struct cg_value x = parse(a, equals[i].a), y = parse(a, equals[i].b);
        if (cg_value_equal(&x, &y) != equals[i].equal ||
            cg_value_equal(&y, &x) != equals[i].equal) {
            print_error("equal(%s, %s) should be %d\n", equals[i].a,
                        equals[i].b, equals[i].equal);
            failures++;
        }
        if (!cg_value_equal(&x, &x))
            failures++;
    }
    struct cg_value nan = cg_value_num(NAN);
    assert_false(cg_value_equal(&nan, &nan));
    cg_arena_free(a);
    assert_int_equal(failures, 0);
}

static const struct {
    const char *a, *b;
    bool ok;
    int order;
} orders[] = {
    {"1", "2", true, -1},
    {"2", "1", true, 1},
    {"2", "2.0", true, 0},
    {"1.5", "2", true, -1},
    {"2", "1.5", true, 1},
    {"-1", "-0.5", true, -1},
    {"9007199254740993", "9007199254740992.0", true, 1},
    {"9223372036854775807", "9223372036854775808.0", true, -1},
    {"-9223372036854775808", "-9223372036854775808.0", true, 0},
    {"-9223372036854775808", "-1e300", true, 1},
    {"3", "1e300", true, -1},
    {"\"a\"", "\"b\"", true, -1},
    {"\"ab\"", "\"a\"", true, 1},
    {"\"\"", "\"\"", true, 0},
    {"\"B\"", "\"a\"", true, -1},
    {"\"\\u00e9\"", "\"z\"", true, 1},
    {"1", "\"1\"", false, 0},
    {"null", "null", false, 0},
    {"true", "false", false, 0},
    {"[1]", "[2]", false, 0},
    {"{}", "{}", false, 0},
    {"null", "1", false, 0},
};

static void test_order(void **state)
{
    struct cg_arena *a = cg_arena_new(4096);
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(orders); i++) {
        struct cg_value x = parse(a, orders[i].a), y = parse(a, orders[i].b);
        int order = 99, back = 99;
        bool ok = cg_value_order(&x, &y, &order);
        bool ok_back = cg_value_order(&y, &x, &back);
        if (ok != orders[i].ok || ok_back != ok ||
            (ok && (order != orders[i].order || back != -order))) {
            print_error("order(%s, %s): want %d/%d, got %d/%d\n", orders[i].a,
                        orders[i].b, orders[i].ok, orders[i].order, ok, order);
            failures++;
        }
    }
    struct cg_value nan = cg_value_num(NAN), one = cg_value_int(1);
    int order;
    assert_false(cg_value_order(&nan, &one, &order));
    assert_false(cg_value_order(&one, &nan, &order));
    assert_false(cg_value_order(&nan, &nan, &order));
    cg_arena_free(a);
    assert_int_equal(failures, 0);
}

static void test_member(void **state)
{
    struct cg_arena *a = cg_arena_new(4096);
    struct cg_value obj = parse(a, "{\"a\": 1, \"\": 2, \"odd key\": 3}");
    const struct cg_value *m = cg_value_member(&obj, "a", 1);
    assert_non_null(m);
    assert_int_equal(m->as.i, 1);
    assert_int_equal(cg_value_member(&obj, "", 0)->as.i, 2);
    assert_int_equal(cg_value_member(&obj, "odd key", 7)->as.i, 3);
    assert_null(cg_value_member(&obj, "odd", 3));
    assert_null(cg_value_member(&obj, "A", 1));
    assert_null(cg_value_member(NULL, "a", 1));
    struct cg_value list = parse(a, "[\"a\"]");
    assert_null(cg_value_member(&list, "a", 1));
    /* A hand-built object with a repeated key: the last one wins. */
    struct cg_member dup[] = {
        {"k", 1, cg_value_int(1)},
        {"k", 1, cg_value_int(2)},
    };
    struct cg_value hand = {.type = CG_OBJ, .len = 2};
    hand.as.members = dup;
    assert_int_equal(cg_value_member(&hand, "k", 1)->as.i, 2);
    cg_arena_free(a);
}

static const struct {
    const char *json, *text; /* text NULL: formats as nothing */
} formats[] = {
    {"42", "42"},
    {"-7", "-7"},
    {"2.5", "2.5"},
    {"0.1", "0.1"},
    {"1e21", "1e+21"},
    {"1e-7", "1e-7"},
    /* Subnormals hold fewer than 15 digits: still the shortest form. */
    {"5e-324", "5e-324"},
    {"1e-310", "1e-310"},
    {"3e-323", "3e-323"},
    {"2.2250738585072014e-308", "2.2250738585072014e-308"}, /* DBL_MIN */
    {"100.0", "100"},
    {"9007199254740993", "9007199254740993"},
    {"12345678901234567890", "1.2345678901234567e+19"},
    {"\"x y\"", "x y"},
    {"\"\"", ""},
    {"\"a\\\"b\"", "a\"b"},
    {"true", "true"},
    {"false", "false"},
    {"[1, \"a\", null]", "[1,\"a\",null]"},
    {"{\"a\": null, \"b\": [true]}", "{\"a\":null,\"b\":[true]}"},
    {"{\"q\": \"\\\"\\n\"}", "{\"q\":\"\\\"\\n\"}"},
    {"null", NULL},
};

static void test_format(void **state)
{
    struct cg_arena *a = cg_arena_new(4096);
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(formats); i++) {
        struct cg_value v = parse(a, formats[i].json);
        struct cg_buf b = {0};
        cg_buf_puts(&b, "");
        bool some = cg_value_format(&v, &b);
        const char *want = formats[i].text;
        if (some != (want != NULL) || strcmp(b.data, want ? want : "") != 0) {
            print_error("format(%s): want %s, got %s\n", formats[i].json,
                        want ? want : "(nothing)", some ? b.data : "(nothing)");
            failures++;
        }
        cg_buf_free(&b);
    }
    cg_arena_free(a);
    assert_int_equal(failures, 0);
}

static void test_copy(void **state)
{
    const char *json = "{\"a\": [1, 2.5, \"x\", null, true, {\"b\": \"c\"}],"
                       " \"\": {}, \"l\": []}";
    struct cg_arena *src = cg_arena_new(4096), *dst = cg_arena_new(256);
    struct cg_value v = parse(src, json), copy;
    char *want = render(&v);
    assert_int_equal(cg_value_copy(dst, &v, &copy), CG_OK);
    cg_arena_free(src); /* the copy must not point into the original */
    char *got = render(&copy);
    assert_string_equal(got, want);
    assert_int_equal(copy.as.members[0].key[copy.as.members[0].key_len], 0);
    cg_free(got);
    /* Out of memory: an arena that cannot grow (the heap fails). */
    struct cg_arena *tiny = cg_arena_new(256);
    struct cg_value list = parse(dst, "[\"0123456789\", \"0123456789\","
                                      " \"0123456789\", \"0123456789\","
                                      " [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],"
                                      " [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]");
    cg_mem_fail_after(0);
    int rc = cg_value_copy(tiny, &list, &v);
    cg_mem_fail_after(-1);
    assert_int_equal(rc, CG_ENOMEM);
    struct cg_value big = cg_value_str(want, strlen(want));
    /* Scalars need no arena; strings do. */
    struct cg_value n = cg_value_int(5);
    assert_int_equal(cg_value_copy(NULL, &n, &v), CG_OK);
    assert_int_equal(v.as.i, 5);
    assert_int_equal(cg_value_copy(NULL, &big, &v), CG_ENOMEM);
    cg_free(want);
    cg_arena_free(tiny);
    cg_arena_free(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_double), cmocka_unit_test(test_equal),
        cmocka_unit_test(test_order),     cmocka_unit_test(test_member),
        cmocka_unit_test(test_format),    cmocka_unit_test(test_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
