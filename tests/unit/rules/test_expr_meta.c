/*
 * What the rules compiler learns about a compiled expression: the record
 * fields it reads (privacy taint, SPEC §6), whether it is a bare field
 * path, whether it is a constant (with folding of pure operators); and how
 * evaluation treats a sparse or missing context.
 */
#include "expr_harness.h"

struct reads_case {
    const char *expr;
    bool all, device;
    const char *fields; /* comma-separated, in order of first use */
};

static const struct reads_case reads[] = {
    {"pm25 > 35 && status != 'fault'", false, false, "pm25,status"},
    {"pm25", false, false, "pm25"},
    {"payload", true, false, ""},
    {"len(payload)", true, false, ""},
    {"payload.x + payload['y'] + x", false, false, "x,y"},
    {"payload[k]", true, false, "k"},
    {"payload[0]", true, false, ""},
    {"payload['a' + 'b']", false, false, "ab"},
    {"payload.a.b", false, false, "a"},
    {"payload['odd key']", false, false, "odd key"},
    {"device", false, true, ""},
    {"payload.device", false, false, "device"},
    {"payload['device'] + device", false, true, "device"},
    {"vendor + network + domain + str(now) + str(time)", false, false, ""},
    /* topic and every level of it read the device (SPEC §6), whatever the
     * index and however the level is used */
    {"topic", false, true, ""},
    {"topic[0]", false, true, ""},
    {"topic[2]", false, true, ""},
    {"topic[1 + 1]", false, true, ""},
    {"topic[-1]", false, true, ""},
    {"topic['x']", false, true, ""},
    {"topic[i]", false, true, "i"},
    {"topic[len(s) - 3]", false, true, "s"},
    {"topic[topic[0] == 'city' ? 1 : 2]", false, true, ""},
    {"lower(topic[2])", false, true, ""},
    {"'id-' + topic[2]", false, true, ""},
    {"str(topic[2])", false, true, ""},
    {"hash(topic[2])", false, true, ""},
    {"exists(topic[2])", false, true, ""},
    {"coalesce(null, topic[2])", false, true, ""},
    {"coalesce('fixed', topic[2])", false, true, ""},
    {"topic[2] in ['aq-7']", false, true, ""},
    {"'aq' in topic", false, true, ""},
    {"[topic[2]][0]", false, true, ""},
    {"len(topic[2]) > 0", false, true, ""},
    {"format_time(now, '%Y') + topic[2]", false, true, ""},
    {"matches(topic[2], '^aq')", false, true, ""},
    /* constant conditions: both branches count, as written */
    {"true ? device : x", false, true, "x"},
    {"false ? x : topic[2]", false, true, "x"},
    {"1 == 1 ? 'public' : device", false, true, ""},
    {"true || device == 'x'", false, true, ""},
    {"false && x", false, false, "x"},
    {"min(1, x, 3)", false, false, "x"},
    {"between(x, 1, topic[1])", false, true, "x"},
    {"hour(time) + minute(now)", false, false, ""},
    {"date(ts) + str(weekday(ts2))", false, false, "ts,ts2"},
    /* payload with a key that is no constant string reads everything */
    {"payload[str(k)]", true, false, "k"},
    {"payload[lower('X')]", false, false, "x"},
    {"payload[device]", true, true, ""},
    {"payload[topic[2]]", true, true, ""},
    {"payload[true ? 'a' : k]", true, false, "k"},
    {"payload['a' + k]", true, false, "k"},
    {"coalesce(payload)", true, false, ""},
    {"coalesce(payload, x).y", true, false, "x"},
    {"(payload).a", false, false, "a"},
    {"str(payload)", true, false, ""},
    {"hash(payload.secret)", false, false, "secret"},
    {"'x' in payload", true, false, ""},
    {"1 + 2", false, false, ""},
    {"a.b.c", false, false, "a"},
    {"a[b]", false, false, "a,b"},
    {"obj[\"x\"]", false, false, "obj"},
    {"coalesce(a, b, a)", false, false, "a,b"},
    {"t ? a : [b, c]", false, false, "t,a,b,c"},
    {"hash(device) + x.device", false, true, "x"},
    {"exists(payload.z)", false, false, "z"},
};

static void collect(void *user, const char *name, size_t len)
{
    char *out = user;
    assert_int_equal(strlen(name), len); /* NUL-terminated too */
    if (*out)
        strcat(out, ",");
    strncat(out, name, len);
}

static void test_reads(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(reads); i++) {
        const struct reads_case *c = &reads[i];
        struct cg_expr *e;
        assert_int_equal(cg_expr_compile(c->expr, strlen(c->expr), &e, NULL),
                         CG_OK);
        char got[256] = "";
        struct cg_expr_reads r = {true, true};
        cg_expr_reads(e, &r, collect, got);
        if (r.all != c->all || r.device != c->device ||
            strcmp(got, c->fields) != 0) {
            print_error("reads: %s\n  want all=%d device=%d [%s]\n"
                        "  got  all=%d device=%d [%s]\n",
                        c->expr, c->all, c->device, c->fields, r.all, r.device,
                        got);
            failures++;
        }
        cg_expr_reads(e, &r, NULL, NULL); /* no callback is fine */
        cg_expr_free(e);
    }
    assert_int_equal(failures, 0);
}

struct name_case {
    const char *expr, *name; /* name NULL: not a bare field path */
};

static const struct name_case field_names[] = {
    {"pm25", "pm25"},  {"a.b", "a"},      {"a.b.c", "a"},
    {"a[0]", "a"},     {"a['b'].c", "a"}, {"(a)", "a"},
    {" a ", "a"},      {"a[i]", NULL},    {"payload.x", NULL},
    {"payload", NULL}, {"device", NULL},  {"topic[0]", NULL},
    {"1", NULL},       {"'a'", NULL},     {"a + 1", NULL},
    {"len(a)", NULL},  {"-a", NULL},      {"[a][0]", NULL},
};

static void test_field_name(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(field_names); i++) {
        const struct name_case *c = &field_names[i];
        struct cg_expr *e;
        assert_int_equal(cg_expr_compile(c->expr, strlen(c->expr), &e, NULL),
                         CG_OK);
        const char *got = cg_expr_field_name(e);
        if (c->name ? !got || strcmp(got, c->name) != 0 : got != NULL) {
            print_error("field name: %s: want %s, got %s\n", c->expr,
                        c->name ? c->name : "NULL", got ? got : "NULL");
            failures++;
        }
        cg_expr_free(e);
    }
    assert_null(cg_expr_field_name(NULL));
    assert_int_equal(failures, 0);
}

struct const_case {
    const char *expr;
    const char *value; /* NULL: not a constant */
};

static const struct const_case constants[] = {
    {"42", "42"},
    {"'x'", "\"x\""},
    {"null", "null"},
    {"true", "true"},
    {"-5", "-5"},
    {"1 + 2 * 3", "7"},
    {"(1 + 2) * 3", "9"},
    {"[1, 'a', [true]]", "[1,\"a\",[true]]"},
    {"[1, 2][0]", "1"},
    {"round(2.675, 2)", "2.68"},
    {"upper('a') + str(1)", "\"A1\""},
    {"1 / 0", "null"},
    {"'a' in ['a']", "true"},
    {"true ? 'y' : 'n'", "\"y\""},
    {"not false && 1 < 2", "true"},
    {"matches('abc', 'b')", "true"},
    {"hash('x') == hash('x')", "true"},
    {"x", NULL},
    {"now", NULL},
    {"topic[0]", NULL},
    {"payload", NULL},
    {"[x]", NULL},
    {"x + 1", NULL},
    {"t ? 1 : 2", NULL},
    {"len(s)", NULL},
    {"true ? 1 : x", NULL},
};

static void test_constant(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(constants); i++) {
        const struct const_case *c = &constants[i];
        struct cg_expr *e;
        assert_int_equal(cg_expr_compile(c->expr, strlen(c->expr), &e, NULL),
                         CG_OK);
        struct cg_value v;
        bool is_const = cg_expr_constant(e, &v);
        char *got = is_const ? render(&v) : NULL;
        if (c->value ? !got || strcmp(got, c->value) != 0 : is_const) {
            print_error("constant: %s: want %s, got %s\n", c->expr,
                        c->value ? c->value : "not constant",
                        got ? got : "not constant");
            failures++;
        }
        cg_free(got);
        assert_int_equal(cg_expr_constant(e, NULL), is_const);
        cg_expr_free(e);
    }
    assert_false(cg_expr_constant(NULL, NULL));
    assert_int_equal(failures, 0);
}

/* Every built-in reads null (now reads 0) from an empty context or from
 * none at all; nothing crashes. */
static void test_empty_context(void **state)
{
    static const char *const exprs[] = {
        "payload", "topic",  "topic[0]", "vendor", "network",
        "device",  "domain", "pm25",     "a.b[0]", "payload.x",
        "s + s",   "[1, n]", "str(n)",
    };
    struct cg_eval_ctx empty = {0};
    for (size_t i = 0; i < N_ROWS(exprs); i++) {
        struct cg_expr *e;
        assert_int_equal(cg_expr_compile(exprs[i], strlen(exprs[i]), &e, NULL),
                         CG_OK);
        struct cg_value v = cg_value_bool(true);
        eval_no_heap(e, &empty, &v);
        if (v.type != CG_NULL)
            fail_msg("%s in an empty context is not null", exprs[i]);
        v = cg_value_bool(true);
        eval_no_heap(e, NULL, &v);
        if (v.type != CG_NULL)
            fail_msg("%s without a context is not null", exprs[i]);
        cg_expr_free(e);
    }
    struct cg_expr *e;
    assert_int_equal(cg_expr_compile("now", 3, &e, NULL), CG_OK);
    struct cg_value v;
    cg_expr_eval(e, &empty, &v);
    assert_int_equal(v.type, CG_NUM);
    cg_expr_free(e);
    cg_expr_eval(NULL, &empty, &v);
    assert_int_equal(v.type, CG_NULL);
}

/* Without ctx->levels, topic[N] splits ctx->topic itself. */
static const struct expr_case levels_from_topic[] = {
    {"topic[0]", "\"city\""},
    {"topic[2]", "\"aq-7\""},
    {"topic[3]", "\"telemetry\""},
    {"topic[4]", "null"},
};

static void test_levels_from_topic(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < N_ROWS(levels_from_topic); i++) {
        const struct expr_case *c = &levels_from_topic[i];
        struct cg_expr *e;
        assert_int_equal(cg_expr_compile(c->expr, strlen(c->expr), &e, NULL),
                         CG_OK);
        struct harness h;
        harness_open(&h, NULL);
        h.ctx.levels = NULL;
        h.ctx.n_levels = 0;
        struct cg_value v;
        eval_no_heap(e, &h.ctx, &v);
        failures += check_value("levels from topic", c, &v);
        harness_close(&h);
        cg_expr_free(e);
    }
    assert_int_equal(failures, 0);
}

/* A record that is not an object: fields read null, payload reads it. */
static const struct expr_case odd_records[] = {
    {"x", "null", 0, "[1, 2]"},
    {"payload[1]", "2", 0, "[1, 2]"},
    {"payload", "\"text\"", 0, "\"text\""},
    {"len(payload)", "4", 0, "\"text\""},
    {"x", "null", 0, "null"},
    {"x.y", "null", 0, "{\"x\": 5}"},
    {"x", "1", 0, "{\"x\": 1}"},
};

static void test_odd_records(void **state)
{
    run_cases(odd_records, N_ROWS(odd_records));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads),
        cmocka_unit_test(test_field_name),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_empty_context),
        cmocka_unit_test(test_levels_from_topic),
        cmocka_unit_test(test_odd_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
