/*
 * The window accumulators (rules.h struct cg_agg_acc, SPEC §13): every
 * aggregate over nulls, mixed integers and doubles, mixed types and empty
 * windows, from one table. Each row is also checked for what the gateway
 * relies on: values held are the accumulator's own copies, an add that
 * runs out of memory changes nothing, a snapshot saved and loaded goes on
 * exactly like the original, and reset frees everything.
 */
#include "expr_harness.h"

struct agg_case {
    int kind;
    const char *inputs; /* JSON list: the values added, in order */
    const char *want;   /* the result as compact JSON */
    char type;          /* 'i', 'n' or 0 for any */
};

#define COUNT    CG_AGG_COUNT
#define DISTINCT CG_AGG_COUNT_DISTINCT
#define SUM      CG_AGG_SUM
#define AVG      CG_AGG_AVG
#define MIN      CG_AGG_MIN
#define MAX      CG_AGG_MAX
#define FIRST    CG_AGG_FIRST
#define LAST     CG_AGG_LAST

static const struct agg_case cases[] = {
    /* count() counts messages, nulls included; 0 when empty */
    {COUNT, "[]", "0", 'i'},
    {COUNT, "[null, 1, \"a\", [], {}]", "5", 'i'},
    /* count_distinct: non-null values under SPEC §4 equality */
    {DISTINCT, "[]", "0", 'i'},
    {DISTINCT, "[null, null]", "0", 'i'},
    {DISTINCT, "[1, 1.0, 2, \"1\", \"a\", \"a\", true, false, true]", "6", 'i'},
    {DISTINCT, "[-0.0, 0, 0.0]", "1", 'i'},
    {DISTINCT, "[0.5, 0.5, 1e300, 1e300, -1e300]", "3", 'i'},
    /* exact: 2^53 + 1 is not the double 2^53, which is the integer 2^53 */
    {DISTINCT, "[9007199254740993, 9007199254740992.0, 9007199254740992]", "2",
     'i'},
    {DISTINCT, "[9223372036854775807, 9223372036854775806]", "2", 'i'},
    {DISTINCT, "[\"\", \"\", \" \", \"é\", \"e\"]", "4", 'i'},
    {DISTINCT, "[[1, 2], [1, 2], [2, 1], [1.0, 2], [], [[]]]", "4", 'i'},
    {DISTINCT, "[{\"a\": 1, \"b\": 2}, {\"b\": 2, \"a\": 1.0}, {\"a\": 1}, {}]",
     "3", 'i'},
    /* sum: numbers only, an exact integer while it fits; null when empty */
    {SUM, "[]", "null"},
    {SUM, "[null, \"a\", true, [1]]", "null"},
    {SUM, "[1, 2, 3]", "6", 'i'},
    {SUM, "[1, null, 2, \"3\"]", "3", 'i'},
    {SUM, "[1, 2.5]", "3.5", 'n'},
    {SUM, "[2.5, 1, 1]", "4.5", 'n'},
    {SUM, "[0.5, 0.5]", "1", 'n'},
    {SUM, "[9223372036854775807, 1]", "9.223372036854776e+18", 'n'},
    {SUM, "[-9223372036854775808, -1]", "-9.223372036854776e+18", 'n'},
    {SUM, "[9007199254740993, 0.5]", "9007199254740994", 'n'},
    /* compensated: the naive sums give 0.6000000000000001 and 0 */
    {SUM, "[0.1, 0.2, 0.3]", "0.6", 'n'},
    {SUM, "[1e16, 1, -1e16]", "1", 'n'},
    /* leaving the double range is final */
    {SUM, "[1e308, 1e308]", "null"},
    {SUM, "[1e308, 1e308, -1e308, -1e308]", "null"},
    /* avg: a double over the numbers; null when there are none */
    {AVG, "[]", "null"},
    {AVG, "[null, \"x\"]", "null"},
    {AVG, "[2, 4]", "3", 'n'},
    {AVG, "[1, 2]", "1.5", 'n'},
    {AVG, "[null, 4, \"x\", false]", "4", 'n'},
    {AVG, "[1, 2.5, null]", "1.75", 'n'},
    {AVG, "[0.1, 0.2, 0.3]", "0.19999999999999998", 'n'},
    {AVG, "[9223372036854775807, 9223372036854775807]", "9.223372036854776e+18",
     'n'},
    {AVG, "[1e308, 1e308]", "null"},
    /* min and max: numbers or strings, like min(a, b, ...) */
    {MIN, "[]", "null"},
    {MIN, "[null]", "null"},
    {MIN, "[3, 1.5, 2]", "1.5", 'n'},
    {MIN, "[null, 2, null]", "2", 'i'},
    {MIN, "[1, 1.0]", "1", 'i'},
    {MIN, "[1.0, 1]", "1", 'n'},
    {MIN, "[9007199254740993, 9007199254740992.0]", "9007199254740992", 'n'},
    {MIN, "[\"b\", \"a\", \"c\"]", "\"a\""},
    {MIN, "[\"b\", \"B\", \"é\"]", "\"B\""},
    {MIN, "[3, \"a\"]", "null"},
    {MIN, "[\"a\", 3, \"0\"]", "null"},
    {MIN, "[true]", "null"},
    {MIN, "[1, [0]]", "null"},
    {MIN, "[{}, 1]", "null"},
    {MAX, "[]", "null"},
    {MAX, "[3, 1.5, 7, null]", "7", 'i'},
    {MAX, "[-1.5, -2]", "-1.5", 'n'},
    {MAX, "[\"b\", \"é\", \"c\"]", "\"é\""},
    {MAX, "[1, \"1\"]", "null"},
    /* first and last: non-null values of any type */
    {FIRST, "[]", "null"},
    {FIRST, "[null, 2, 3]", "2", 'i'},
    {FIRST, "[{\"a\": [1, \"x\"]}, 1]", "{\"a\":[1,\"x\"]}"},
    {FIRST, "[\"s\", null]", "\"s\""},
    {FIRST, "[\"\", \"x\"]", "\"\""},
    {FIRST, "[-0.0]", "0", 'n'},
    {MIN, "[0, -0.0]", "0", 'i'},
    {MAX, "[-0.0, 0]", "0", 'n'},
    {LAST, "[]", "null"},
    {LAST, "[null]", "null"},
    {LAST, "[1, 2, null]", "2", 'i'},
    {LAST, "[1, \"a\", [1, {\"b\": null, \"c\": \"d\"}]]",
     "[1,{\"b\":null,\"c\":\"d\"}]"},
    {LAST, "[[1], {}, []]", "[]"},
    {LAST, "[true, false]", "false"},
};

static struct cg_value parse(struct cg_arena *arena, const char *json)
{
    struct cg_value v;
    char why[128];
    if (cg_json_parse(json, strlen(json), cg_arena_alloc_fn, arena, &v, why,
                      sizeof(why)) != CG_OK)
        fail_msg("bad JSON in test (%s): %s", why, json);
    return v;
}

static char *result_json(const struct cg_agg_acc *a, struct cg_value *v)
{
    cg_agg_acc_result(a, v);
    return render(v);
}

/* The row's result, with the inputs' memory overwritten after the adds:
 * what the accumulator holds must be its own. */
static int check_result(const struct agg_case *c, struct cg_agg_acc *a)
{
    struct cg_arena *arena = cg_arena_new(1 << 16);
    assert_non_null(arena);
    struct cg_value in = parse(arena, c->inputs);
    for (uint32_t i = 0; i < in.len; i++)
        assert_int_equal(cg_agg_acc_add(a, &in.as.items[i]), CG_OK);
    cg_arena_reset(arena);
    memset(cg_arena_alloc(arena, 1 << 15), 0xA5, 1 << 15);
    struct cg_value v;
    char *got = result_json(a, &v);
    struct expr_case want = {c->inputs, c->want, c->type};
    int bad = check_value(cg_agg_name(c->kind), &want, &v);
    cg_free(got);
    cg_arena_free(arena);
    return bad;
}

/* Save, parse, load into an accumulator of another kind, and compare: then
 * and after one more value added to both. */
static int check_snapshot(const struct agg_case *c, struct cg_agg_acc *a)
{
    struct cg_buf b = {0};
    struct cg_arena *arena = cg_arena_new(4096);
    assert_int_equal(cg_agg_acc_save(a, &b), CG_OK);
    struct cg_value saved = parse(arena, b.data);
    struct cg_agg_acc copy;
    cg_agg_acc_init(&copy, c->kind == COUNT ? LAST : COUNT);
    int bad = cg_agg_acc_load(&copy, &saved) != CG_OK || copy.kind != c->kind;
    struct cg_value extra = cg_value_num(2.5), v;
    for (int round = 0; round < 2 && !bad; round++) {
        char *want = result_json(a, &v);
        char *got = result_json(&copy, &v);
        bad = strcmp(want, got) != 0;
        if (bad)
            print_error("snapshot %s %s: %s\n  want %s, got %s\n",
                        cg_agg_name(c->kind), c->inputs, b.data, want, got);
        cg_free(want);
        cg_free(got);
        assert_int_equal(cg_agg_acc_add(a, &extra), CG_OK);
        assert_int_equal(cg_agg_acc_add(&copy, &extra), CG_OK);
    }
    cg_agg_acc_reset(&copy);
    cg_buf_free(&b);
    cg_arena_free(arena);
    return bad;
}

/* Every add once more with the next allocation failing: CG_OK, or
 * CG_ENOMEM with the result unchanged; then again without failures. */
static int check_oom(const struct agg_case *c)
{
    struct cg_arena *arena = cg_arena_new(4096);
    struct cg_value in = parse(arena, c->inputs), v;
    struct cg_agg_acc a;
    int bad = 0;
    cg_agg_acc_init(&a, c->kind);
    for (uint32_t i = 0; i < in.len; i++) {
        char *before = result_json(&a, &v);
        cg_mem_fail_after(0);
        int rc = cg_agg_acc_add(&a, &in.as.items[i]);
        cg_mem_fail_after(-1);
        char *after = result_json(&a, &v);
        if (rc == CG_ENOMEM) {
            bad |= strcmp(before, after) != 0;
            rc = cg_agg_acc_add(&a, &in.as.items[i]);
        }
        bad |= rc != CG_OK;
        cg_free(before);
        cg_free(after);
    }
    char *got = result_json(&a, &v);
    bad |= strcmp(got, c->want) != 0;
    if (bad)
        print_error("oom %s %s: got %s\n", cg_agg_name(c->kind), c->inputs,
                    got);
    cg_free(got);
    cg_agg_acc_reset(&a);
    cg_arena_free(arena);
    return bad;
}

static void test_aggregates(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(cases); i++) {
        const struct agg_case *c = &cases[i];
        struct cg_agg_acc a;
        cg_agg_acc_init(&a, c->kind);
        failures += check_result(c, &a);
        failures += check_snapshot(c, &a);
        failures += check_oom(c);
        cg_agg_acc_reset(&a);
        struct cg_value v;
        char *empty = result_json(&a, &v);
        bool zero = c->kind == COUNT || c->kind == DISTINCT;
        failures += strcmp(empty, zero ? "0" : "null") != 0;
        failures += cg_agg_acc_bytes(&a) != 0 || a.kind != c->kind;
        cg_free(empty);
    }
    assert_int_equal(failures, 0);
}

/* count() takes no value at all; the others read a NULL value as null. */
static void test_no_value(void **state)
{
    struct cg_agg_acc a;
    struct cg_value v;
    for (int k = 0; k < CG_AGG_KINDS; k++) {
        cg_agg_acc_init(&a, k);
        assert_int_equal(cg_agg_acc_add(&a, NULL), CG_OK);
        assert_int_equal(cg_agg_acc_add(&a, NULL), CG_OK);
        cg_agg_acc_result(&a, &v);
        if (k == COUNT)
            assert_int_equal(v.as.i, 2);
        else if (k == DISTINCT)
            assert_int_equal(v.as.i, 0);
        else
            assert_int_equal(v.type, CG_NULL);
        cg_agg_acc_reset(&a);
    }
}

/* The set grows past many resizes and owns its strings; reset frees it. */
static void test_many_distinct(void **state)
{
    struct cg_agg_acc a;
    struct cg_value v;
    char text[32];
    cg_agg_acc_init(&a, DISTINCT);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3000; i++) {
            struct cg_value n = cg_value_int(i);
            struct cg_value d = cg_value_num(i); /* the same numbers */
            int len = snprintf(text, sizeof(text), "key-%d", i);
            struct cg_value s = cg_value_str(text, (size_t)len);
            assert_int_equal(cg_agg_acc_add(&a, &n), CG_OK);
            assert_int_equal(cg_agg_acc_add(&a, &d), CG_OK);
            assert_int_equal(cg_agg_acc_add(&a, &s), CG_OK);
        }
    }
    memset(text, 0, sizeof(text));
    cg_agg_acc_result(&a, &v);
    assert_int_equal(v.as.i, 6000);
    size_t bytes = cg_agg_acc_bytes(&a);
    assert_true(bytes > 6000 * 24 && bytes < 6000 * 100);
    struct cg_value again = cg_value_str("key-2999", 8);
    assert_int_equal(cg_agg_acc_add(&a, &again), CG_OK);
    cg_agg_acc_result(&a, &v);
    assert_int_equal(v.as.i, 6000);
    cg_agg_acc_reset(&a);
    assert_int_equal(cg_agg_acc_bytes(&a), 0);
    cg_agg_acc_result(&a, &v);
    assert_int_equal(v.as.i, 0);
}

/* A held value's bytes are accounted and released as it changes. */
static void test_bytes(void **state)
{
    struct cg_agg_acc a;
    cg_agg_acc_init(&a, LAST);
    struct cg_value s = cg_value_str("0123456789", 10), n = cg_value_int(1);
    assert_int_equal(cg_agg_acc_add(&a, &s), CG_OK);
    assert_int_equal(cg_agg_acc_bytes(&a), 11);
    assert_int_equal(cg_agg_acc_add(&a, &n), CG_OK);
    assert_int_equal(cg_agg_acc_bytes(&a), 0);
    cg_agg_acc_reset(&a);
    cg_agg_acc_init(&a, MIN);
    assert_int_equal(cg_agg_acc_add(&a, &s), CG_OK);
    assert_int_equal(cg_agg_acc_add(&a, &n), CG_OK); /* mixed: null */
    assert_int_equal(cg_agg_acc_bytes(&a), 0);
    cg_agg_acc_reset(&a);
}

struct load_case {
    const char *saved;
    int rc;
    const char *want; /* the result after loading; NULL when it fails */
};

static const struct load_case loads[] = {
    {"{\"kind\":\"count\",\"flags\":0,\"n\":3}", CG_OK, "3"},
    {"{\"kind\":\"last\",\"flags\":0,\"n\":0}", CG_OK, "null"},
    {"{\"kind\":\"sum\",\"flags\":1,\"n\":2,\"isum\":0,\"sum\":3,\"comp\":"
     "0.5}",
     CG_OK, "3.5"},
    {"{\"kind\":\"min\",\"flags\":4,\"n\":0}", CG_OK, "null"},
    {"{\"kind\":\"count_distinct\",\"flags\":0,\"n\":0,\"set\":[1,1.0,\"a\"]}",
     CG_OK, "2"},
    {"5", CG_EINVAL},
    {"[]", CG_EINVAL},
    {"{}", CG_EINVAL},
    {"{\"kind\":\"median\",\"flags\":0,\"n\":0}", CG_EINVAL},
    {"{\"kind\":7,\"flags\":0,\"n\":0}", CG_EINVAL},
    {"{\"kind\":\"count\",\"flags\":9,\"n\":0}", CG_EINVAL},
    {"{\"kind\":\"count\",\"flags\":1,\"n\":0}", CG_EINVAL},
    {"{\"kind\":\"count\",\"flags\":0,\"n\":-1}", CG_EINVAL},
    {"{\"kind\":\"count\",\"flags\":0,\"n\":1.5}", CG_EINVAL},
    {"{\"kind\":\"count\",\"flags\":0}", CG_EINVAL},
    {"{\"kind\":\"sum\",\"flags\":0,\"n\":1}", CG_EINVAL},
    {"{\"kind\":\"sum\",\"flags\":0,\"n\":1,\"isum\":1.5,\"sum\":0,\"comp\":0}",
     CG_EINVAL},
    {"{\"kind\":\"avg\",\"flags\":2,\"n\":1,\"isum\":1,\"sum\":0,\"comp\":0}",
     CG_EINVAL},
    {"{\"kind\":\"count_distinct\",\"flags\":0,\"n\":0,\"set\":{}}", CG_EINVAL},
    {"{\"kind\":\"count_distinct\",\"flags\":2,\"n\":0,\"set\":[]}", CG_EINVAL},
    {"{\"kind\":\"min\",\"flags\":2,\"n\":0}", CG_EINVAL},
    {"{\"kind\":\"min\",\"flags\":2,\"n\":0,\"value\":[1]}", CG_EINVAL},
    {"{\"kind\":\"first\",\"flags\":2,\"n\":0,\"value\":null}", CG_EINVAL},
    {"{\"kind\":\"last\",\"flags\":1,\"n\":0}", CG_EINVAL},
};

/* Loading checks what it reads; a failed load leaves an empty accumulator
 * of the kind it had. */
static void test_load(void **state)
{
    struct cg_arena *arena = cg_arena_new(4096);
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(loads); i++) {
        const struct load_case *c = &loads[i];
        struct cg_agg_acc a;
        struct cg_value five = cg_value_int(5), v;
        cg_agg_acc_init(&a, MAX);
        assert_int_equal(cg_agg_acc_add(&a, &five), CG_OK);
        struct cg_value saved = parse(arena, c->saved);
        int rc = cg_agg_acc_load(&a, &saved);
        char *got = result_json(&a, &v);
        const char *want = c->want ? c->want : "null";
        bool bad = rc != c->rc || strcmp(got, want) != 0 ||
                   (rc != CG_OK && a.kind != MAX);
        if (bad) {
            print_error("load %s\n  want %d %s, got %d %s\n", c->saved, c->rc,
                        want, rc, got);
            failures++;
        }
        cg_free(got);
        cg_agg_acc_reset(&a);
    }
    cg_arena_free(arena);
    assert_int_equal(failures, 0);
}

/* A load that runs out of memory leaves an empty accumulator, no leak. */
static void test_load_oom(void **state)
{
    struct cg_arena *arena = cg_arena_new(4096);
    struct cg_value saved = parse(
        arena, "{\"kind\":\"count_distinct\",\"flags\":0,\"n\":0,\"set\":"
               "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}");
    int rc = CG_ENOMEM;
    for (long n = 0; rc == CG_ENOMEM; n++) {
        struct cg_agg_acc a;
        struct cg_value v;
        cg_agg_acc_init(&a, SUM);
        cg_mem_fail_after(n);
        rc = cg_agg_acc_load(&a, &saved);
        cg_mem_fail_after(-1);
        cg_agg_acc_result(&a, &v);
        if (rc == CG_ENOMEM) {
            assert_int_equal(a.kind, SUM);
            assert_int_equal(v.type, CG_NULL);
            assert_int_equal(cg_agg_acc_bytes(&a), 0);
        } else {
            assert_int_equal(rc, CG_OK);
            assert_int_equal(v.as.i, 9);
        }
        cg_agg_acc_reset(&a);
    }
    cg_arena_free(arena);
}

/* A full round: aggregates of a window expression fed from messages, the
 * outer expression evaluated over their results. */
static void test_window_round(void **state)
{
    static const char *const records[] = {
        "{\"pm25\": 10, \"device\": \"a\"}",
        "{\"pm25\": 20.5, \"device\": \"b\"}",
        "{\"pm25\": null, \"device\": \"a\"}",
    };
    const char *src = "[round(avg(pm25), 1), count(), "
                      "count_distinct(payload.device), max(pm25)]";
    struct cg_expr *e;
    const struct cg_agg *aggs;
    size_t n;
    assert_int_equal(
        cg_expr_compile_window(src, strlen(src), &e, &aggs, &n, NULL), CG_OK);
    assert_int_equal(n, 4);
    struct cg_agg_acc acc[4];
    for (size_t i = 0; i < n; i++)
        cg_agg_acc_init(&acc[i], aggs[i].kind);
    for (size_t r = 0; r < N_ROWS(records); r++) {
        struct harness h;
        harness_open(&h, records[r]);
        for (size_t i = 0; i < n; i++) {
            struct cg_value v = CG_VALUE_NULL;
            if (aggs[i].arg)
                cg_expr_eval(aggs[i].arg, &h.ctx, &v);
            assert_int_equal(cg_agg_acc_add(&acc[i], &v), CG_OK);
        }
        harness_close(&h);
    }
    struct cg_value values[4], out;
    for (size_t i = 0; i < n; i++)
        cg_agg_acc_result(&acc[i], &values[i]);
    struct cg_eval_ctx ctx = {.aggs = values, .n_aggs = 4};
    struct cg_arena *arena = cg_arena_new(1024);
    ctx.arena = arena;
    cg_expr_eval(e, &ctx, &out);
    char *got = render(&out);
    assert_string_equal(got, "[15.3,3,2,20.5]");
    cg_free(got);
    for (size_t i = 0; i < n; i++)
        cg_agg_acc_reset(&acc[i]);
    cg_arena_free(arena);
    cg_expr_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregates),    cmocka_unit_test(test_no_value),
        cmocka_unit_test(test_many_distinct), cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_load),          cmocka_unit_test(test_load_oom),
        cmocka_unit_test(test_window_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
