/*
 * Window expressions (SPEC §13 `aggregate:`): cg_expr_compile_window lists
 * the aggregate calls with their kinds and arguments, the arguments run
 * against a message, the outer expression runs over the finished values
 * the caller hands in ctx->aggs; and the compiler's refusals: aggregates
 * outside a window or inside one another, wrong arity, names that read a
 * single message outside the aggregates.
 */
#include "expr_harness.h"

struct window_case {
    const char *expr;
    const char *kinds;  /* the aggregates' names in slot order, ',' apart */
    const char *args;   /* each argument evaluated against the default
                           record as JSON, ',' apart ('-' for none) */
    const char *values; /* JSON list of the finished aggregate values */
    const char *want;   /* the outer expression over them, as JSON */
};

static const struct window_case cases[] = {
    {"round(avg(pm25), 1)", "avg", "80.2", "[12.345]", "12.3"},
    {"avg(pm25)", "avg", "80.2", "[12.5]", "12.5"},
    {"count()", "count", "-", "[3]", "3"},
    {"sum(n) / count()", "sum,count", "7,-", "[10, 4]", "2.5"},
    {"max(pm25) - min(pm25)", "max,min", "80.2,80.2", "[9, 4]", "5"},
    {"max(avg(i), avg(n))", "avg,avg", "3,7", "[1, 2]", "2"},
    {"avg(min(i, n))", "avg", "3", "[3.5]", "3.5"},
    {"avg(max(i, n, m))", "avg", "7", "[3]", "3"},
    {"count_distinct(device)", "count_distinct", "\"aq-7\"", "[2]", "2"},
    {"first(topic[2]) + '/' + last(status)", "first,last", "\"aq-7\",\"ok\"",
     "[\"a\", \"b\"]", "\"a/b\""},
    {"last(payload.readings)", "last", "{\"pm25\":12.5,\"values\":[1.5,2]}",
     "[[1]]", "[1]"},
    {"sum(1)", "sum", "1", "[5]", "5"},
    {"count() >= 3 ? 'busy' : 'quiet'", "count", "-", "[2]", "\"quiet\""},
    {"str(count()) + ' in ' + domain", "count", "-", "[2]",
     "\"2 in environment\""},
    {"now - 3600 > 0", "", "", "[]", "true"},
    {"1 + 2", "", "", "[]", "3"},
    {"coalesce(avg(pm25), 0)", "avg", "80.2", "[null]", "0"},
    {"exists(first(z))", "first", "null", "[null]", "false"},
    {"between(avg(pm25), 0, 50)", "avg", "80.2", "[35]", "true"},
    {"hash(min(s)) == hash('x')", "min", "\"Hello\"", "[\"x\"]", "true"},
    {"avg(pm25) > 35 && count_distinct(device) >= 3", "avg,count_distinct",
     "80.2,\"aq-7\"", "[40, 3]", "true"},
    {"[sum(n), avg(n), min(n), max(n), first(n), last(n), count(), "
     "count_distinct(n)]",
     "sum,avg,min,max,first,last,count,count_distinct", "7,7,7,7,7,7,-,7",
     "[1, 2, 3, 4, 5, 6, 7, 8]", "[1,2,3,4,5,6,7,8]"},
};

/* Renders every argument of e's aggregates, evaluated against the default
 * record, and their kinds. */
static void describe(const struct cg_expr *e, struct harness *h, char *kinds,
                     char *args)
{
    const struct cg_agg *aggs;
    size_t n = cg_expr_aggregates(e, &aggs);
    kinds[0] = args[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(kinds, i ? "," : "");
        strcat(kinds, cg_agg_name(aggs[i].kind));
        strcat(args, i ? "," : "");
        if (!aggs[i].arg) {
            strcat(args, "-");
            continue;
        }
        struct cg_value v;
        eval_no_heap(aggs[i].arg, &h->ctx, &v);
        char *json = render(&v);
        strcat(args, json);
        cg_free(json);
    }
}

static int check_window(const struct window_case *c)
{
    struct cg_expr *e = NULL;
    struct cg_expr_error err = {0};
    const struct cg_agg *aggs = NULL;
    size_t n_aggs = 99;
    if (cg_expr_compile_window(c->expr, strlen(c->expr), &e, &aggs, &n_aggs,
                               &err) != CG_OK) {
        print_error("window: %s: %s\n", c->expr, err.msg);
        return 1;
    }
    struct harness h;
    harness_open(&h, NULL);
    char kinds[256], args[512];
    describe(e, &h, kinds, args);
    const struct cg_agg *again;
    int bad = n_aggs != cg_expr_aggregates(e, &again) || aggs != again ||
              strcmp(kinds, c->kinds) || strcmp(args, c->args);
    struct cg_value values;
    char why[128];
    assert_int_equal(cg_json_parse(c->values, strlen(c->values),
                                   cg_arena_alloc_fn, h.rec_arena, &values, why,
                                   sizeof(why)),
                     CG_OK);
    h.ctx.aggs = values.as.items;
    h.ctx.n_aggs = values.len;
    struct cg_value v;
    eval_no_heap(e, &h.ctx, &v);
    char *got = render(&v);
    bad |= strcmp(got, c->want) != 0;
    if (bad)
        print_error("window: %s\n  want [%s] (%s) -> %s\n  got  [%s] (%s) -> "
                    "%s\n",
                    c->expr, c->kinds, c->args, c->want, kinds, args, got);
    cg_free(got);
    harness_close(&h);
    cg_expr_free(e);
    return bad;
}

static void test_window(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(cases); i++)
        failures += check_window(&cases[i]);
    assert_int_equal(failures, 0);
}

/* Slots the caller does not fill read null; so do all without ctx->aggs. */
static void test_missing_values(void **state)
{
    struct cg_expr *e;
    const char *src = "[count(), sum(n), last(s)]";
    assert_int_equal(
        cg_expr_compile_window(src, strlen(src), &e, NULL, NULL, NULL), CG_OK);
    struct harness h;
    harness_open(&h, NULL);
    struct cg_value v, one = cg_value_int(4);
    eval_no_heap(e, &h.ctx, &v);
    char *got = render(&v);
    assert_string_equal(got, "[null,null,null]");
    cg_free(got);
    h.ctx.aggs = &one;
    h.ctx.n_aggs = 1;
    eval_no_heap(e, &h.ctx, &v);
    got = render(&v);
    assert_string_equal(got, "[4,null,null]");
    cg_free(got);
    harness_close(&h);
    cg_expr_free(e);
}

/* What the outer expression reads includes its aggregates' arguments, so
 * privacy taint covers a window's data (SPEC §6); an argument reports its
 * own reads. */
static void test_window_reads(void **state)
{
    struct cg_expr *e;
    const struct cg_agg *aggs;
    size_t n;
    const char *src = "count_distinct(topic[2]) + avg(pm25) + sum(payload[k])";
    assert_int_equal(
        cg_expr_compile_window(src, strlen(src), &e, &aggs, &n, NULL), CG_OK);
    assert_int_equal(n, 3);
    struct cg_expr_reads r = {false, false};
    cg_expr_reads(e, &r, NULL, NULL);
    assert_true(r.all);
    assert_true(r.device);
    cg_expr_reads(aggs[0].arg, &r, NULL, NULL);
    assert_false(r.all);
    assert_true(r.device);
    cg_expr_reads(aggs[1].arg, &r, NULL, NULL);
    assert_false(r.all);
    assert_false(r.device);
    assert_string_equal(cg_expr_field_name(aggs[1].arg), "pm25");
    cg_expr_reads(aggs[2].arg, &r, NULL, NULL);
    assert_true(r.all);
    assert_false(r.device);
    assert_null(cg_expr_field_name(e));
    assert_false(cg_expr_constant(e, NULL));
    cg_expr_free(e);
}

/* An ordinary expression has no aggregates; a failed compile lists none. */
static void test_no_aggregates(void **state)
{
    struct cg_expr *e;
    const struct cg_agg *aggs = (const struct cg_agg *)1;
    assert_int_equal(cg_expr_compile("min(a, b)", 9, &e, NULL), CG_OK);
    assert_int_equal(cg_expr_aggregates(e, &aggs), 0);
    assert_null(aggs);
    cg_expr_free(e);
    assert_int_equal(cg_expr_aggregates(NULL, NULL), 0);
    size_t n = 7;
    aggs = (const struct cg_agg *)1;
    assert_int_equal(cg_expr_compile_window("sum(", 4, &e, &aggs, &n, NULL),
                     CG_EINVAL);
    assert_null(e);
    assert_null(aggs);
    assert_int_equal(n, 0);
    for (int k = 0; k < CG_AGG_KINDS; k++)
        assert_non_null(cg_agg_name(k));
    assert_null(cg_agg_name(-1));
    assert_null(cg_agg_name(CG_AGG_KINDS));
    assert_string_equal(cg_agg_name(CG_AGG_COUNT_DISTINCT), "count_distinct");
}

static const struct error_case errors[] = {
    {"avg(sum(x))", 4, "sum() inside avg(): aggregates do not nest"},
    {"min(max(x))", 4, "max() inside min(): aggregates do not nest"},
    {"last(1 + count())", 9, "count() inside last(): aggregates do not nest"},
    {"sum(min(x, avg(y)))", 11, "avg() inside sum(): aggregates do not nest"},
    {"count(x)", 0, "count() takes 0 arguments"},
    {"sum()", 0, "sum() takes 1 argument"},
    {"avg(x, y)", 0, "avg() takes 1 argument"},
    {"count_distinct()", 0, "count_distinct() takes 1 argument"},
    {"max()", 0, "max() takes 2 or more arguments"},
    {"avg(x) + pm25", 9,
     "'pm25' outside an aggregate: a window has no single message to read it "
     "from (last(pm25)?)"},
    {"payload.x + count()", 0, "'payload' outside an aggregate*"},
    {"count() + topic[2]", 10, "'topic' outside an aggregate*"},
    {"topic", 0, "'topic' outside an aggregate*"},
    {"device", 0, "'device' outside an aggregate*"},
    {"vendor", 0, "'vendor' outside an aggregate*"},
    {"network", 0, "'network' outside an aggregate*"},
    {"hour(time)", 5, "'time' outside an aggregate*"},
    {"a.b", 0, "'a' outside an aggregate*"},
    {"min(a, avg(b))", 4, "'a' outside an aggregate*"},
    {"count() > 1 ? sum(x) : x", 23, "'x' outside an aggregate*"},
    {"avg(matches(s, '('))", 15, "bad regex: *"},
    {"first(format_time(t, '%q'))", 22,
     "format_time(): unsupported conversion '%q'*"},
    {"median(x)", 0, "unknown function 'median'"},
    {"sum(x", 5, "expected ',' or ')' in arguments"},
};

/* Like the harness's run_errors, through cg_expr_compile_window, with and
 * without allocation failures injected. */
static int check_window_error(const struct error_case *c, long fail_at)
{
    struct cg_expr *e = NULL;
    struct cg_expr_error err = {0};
    int rc;
    for (long n = fail_at;; n++) {
        cg_mem_fail_after(n);
        rc = cg_expr_compile_window(c->expr, strlen(c->expr), &e, NULL, NULL,
                                    &err);
        cg_mem_fail_after(-1);
        if (rc != CG_ENOMEM || n < 0)
            break;
        assert_null(e);
    }
    if (rc == CG_EINVAL && !e && err.offset == c->offset &&
        msg_matches(err.msg, c->msg))
        return 0;
    print_error("window error: \"%s\"\n  want %zu: %s\n  got rc %d, %zu: %s\n",
                c->expr, c->offset, c->msg, rc, err.offset, err.msg);
    cg_expr_free(e);
    return 1;
}

static void test_window_errors(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(errors); i++) {
        failures += check_window_error(&errors[i], -1);
        failures += check_window_error(&errors[i], 0);
    }
    assert_int_equal(failures, 0);
}

/* Every window case compiles under injected allocation failures, with no
 * leak (under ASan) and the same aggregates in the end. */
static void test_window_oom(void **state)
{
    for (size_t i = 0; i < N_ROWS(cases); i++) {
        const char *src = cases[i].expr;
        struct cg_expr *e = NULL;
        size_t n_aggs = 0;
        int rc = CG_ENOMEM;
        for (long n = 0; rc == CG_ENOMEM; n++) {
            cg_mem_fail_after(n);
            rc = cg_expr_compile_window(src, strlen(src), &e, NULL, &n_aggs,
                                        NULL);
            cg_mem_fail_after(-1);
        }
        assert_int_equal(rc, CG_OK);
        struct harness h;
        harness_open(&h, NULL);
        char kinds[256], args[512];
        describe(e, &h, kinds, args);
        assert_string_equal(kinds, cases[i].kinds);
        harness_close(&h);
        cg_expr_free(e);
    }
}

/* `having:` is an ordinary expression over the aggregate names. */
static const struct expr_case having[] = {
    {"avg_pm25 > 35 && devices >= 3", "true", 0,
     "{\"avg_pm25\": 40.5, \"devices\": 3}"},
    {"avg_pm25 > 35", "false", 0, "{\"avg_pm25\": null}"},
};

static void test_having(void **state)
{
    run_cases(having, N_ROWS(having));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_window_reads),
        cmocka_unit_test(test_no_aggregates),
        cmocka_unit_test(test_window_errors),
        cmocka_unit_test(test_window_oom),
        cmocka_unit_test(test_having),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
