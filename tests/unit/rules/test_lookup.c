/*
 * Lookup tables and lookup() (SPEC §14): keys compared as text, rows
 * with their typed cells, a missing row, duplicate and missing keys, the
 * table name resolved at compile time (unknown name at its column), the
 * taint of private columns, and cg_expr_field_refs, which the authoring
 * warnings read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

/* Table rows give only the fields they need; the rest are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

/* Cells as the config types them: numbers, booleans, strings, null. */
static const char BINS[] =
    "[{\"bin_id\": \"b-1\", \"district\": \"haidian\", \"capacity_l\": 240,"
    "  \"owner\": \"Ms Li\", \"smart\": true},"
    " {\"bin_id\": \"b-2\", \"district\": \"chaoyang\", \"capacity_l\": 1100.5,"
    "  \"owner\": null, \"smart\": false},"
    " {\"bin_id\": 17, \"district\": \"xicheng\", \"capacity_l\": 660,"
    "  \"owner\": \"Mr Wang\", \"smart\": true}]";

static struct cg_arena *arena;
static struct cg_value rows;
static struct cg_table *bins, *meters;
static struct cg_expr_env env;

static int setup(void **state)
{
    static struct cg_table *both[2];
    static const char *const owner[] = {"owner"};
    char err[128];
    arena = cg_arena_new(1 << 16);
    if (cg_json_parse(BINS, strlen(BINS), cg_arena_alloc_fn, arena, &rows, err,
                      sizeof(err)) != CG_OK)
        return -1;
    if (cg_table_new("bins", &rows, "bin_id", owner, 1, &bins, NULL) ||
        cg_table_new("meters", &rows, "district", NULL, 0, &meters, NULL))
        return -1;
    both[0] = bins;
    both[1] = meters;
    env.tables = both;
    env.n_tables = 2;
    return 0;
}

static int teardown(void **state)
{
    cg_table_free(bins);
    cg_table_free(meters);
    cg_arena_free(arena);
    return 0;
}

static char *eval_json(const char *src, const char *record_json)
{
    static char out[1024];
    struct cg_expr *e = NULL;
    struct cg_expr_error err;
    struct cg_value record = {.type = CG_OBJ};
    char why[128];
    struct cg_arena *a = cg_arena_new(4096);
    if (record_json)
        assert_int_equal(cg_json_parse(record_json, strlen(record_json),
                                       cg_arena_alloc_fn, a, &record, why,
                                       sizeof(why)),
                         CG_OK);
    int rc = cg_expr_compile_env(src, strlen(src), &env, &e, &err);
    if (rc != CG_OK)
        fail_msg("'%s' does not compile: %s", src, err.msg);
    struct cg_eval_ctx ctx = {.record = &record, .device = "b-2", .arena = a};
    struct cg_value v;
    cg_expr_eval(e, &ctx, &v);
    struct cg_buf b = {0};
    cg_json_put_value(&b, &v);
    snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
    cg_buf_free(&b);
    cg_expr_free(e);
    cg_arena_free(a);
    return out;
}

static const struct {
    const char *expr, *record, *want;
} lookups[] = {
    /* the row as an object, key column included, cells typed */
    {"lookup('bins', 'b-1')", NULL,
     "{\"bin_id\":\"b-1\",\"district\":\"haidian\",\"capacity_l\":240,"
     "\"owner\":\"Ms Li\",\"smart\":true}"},
    {"lookup('bins', 'b-1').capacity_l", NULL, "240"},
    {"lookup('bins', 'b-2').capacity_l", NULL, "1100.5"},
    {"lookup('bins', 'b-2').owner", NULL, "null"},
    {"lookup('bins', 'b-1').smart", NULL, "true"},
    {"lookup(\"bins\", device).district", NULL, "\"chaoyang\""},
    /* keys compare as text: a number finds the cell that reads 17 */
    {"lookup('bins', 17).district", NULL, "\"xicheng\""},
    {"lookup('bins', '17').district", NULL, "\"xicheng\""},
    {"lookup('bins', 17.0).district", NULL, "\"xicheng\""},
    {"lookup('bins', id).district", "{\"id\": \"b-1\"}", "\"haidian\""},
    /* a missing row, a null key, a missing field: null */
    {"lookup('bins', 'b-404')", NULL, "null"},
    {"lookup('bins', 'b-404').capacity_l", NULL, "null"},
    {"lookup('bins', null)", NULL, "null"},
    {"lookup('bins', nothing)", NULL, "null"},
    {"coalesce(lookup('bins', 'x').capacity_l, 120)", NULL, "120"},
    /* another key column of the same rows */
    {"lookup('meters', 'xicheng').bin_id", NULL, "17"},
    /* in arithmetic, as a rule would use it */
    {"round(fill / lookup('bins', device).capacity_l * 100, 1)",
     "{\"fill\": 550.25}", "50"},
    {"exists(lookup('bins', 'b-1'))", NULL, "true"},
    {"exists(lookup('bins', 'b-9'))", NULL, "false"},
};

static void test_lookup_values(void **state)
{
    for (size_t i = 0; i < N_ROWS(lookups); i++) {
        const char *got = eval_json(lookups[i].expr, lookups[i].record);
        if (strcmp(got, lookups[i].want))
            fail_msg("%s: got %s, want %s", lookups[i].expr, got,
                     lookups[i].want);
    }
}

static const struct {
    const char *expr;
    size_t offset;
    const char *msg;
} errors[] = {
    {"lookup('binz', device)", 8,
     "lookup(): unknown table 'binz' (did you mean 'bins'?)"},
    {"x + lookup(\"nothing_like_it\", device)", 12,
     "lookup(): unknown table 'nothing_like_it'"},
    {"lookup(name, device)", 7,
     "lookup() needs a string literal as its table name"},
    {"lookup('bins')", 0, "lookup() takes 2 arguments"},
    {"lookup('bins', a, b)", 0, "lookup() takes 2 arguments"},
};

static void test_lookup_errors(void **state)
{
    for (size_t i = 0; i < N_ROWS(errors); i++) {
        struct cg_expr *e = NULL;
        struct cg_expr_error err;
        const char *s = errors[i].expr;
        assert_int_equal(cg_expr_compile_env(s, strlen(s), &env, &e, &err),
                         CG_EINVAL);
        if (err.offset != errors[i].offset || strcmp(err.msg, errors[i].msg))
            fail_msg("%s: got %zu '%s'", s, err.offset, err.msg);
        assert_null(e);
    }
    /* Without tables, lookup() says where tables come from. */
    struct cg_expr *e = NULL;
    struct cg_expr_error err;
    assert_int_equal(cg_expr_compile("lookup('bins', device)", 22, &e, &err),
                     CG_EINVAL);
    assert_int_equal(err.offset, 8);
    assert_non_null(strstr(err.msg, "no lookup tables here"));
}

struct names {
    char text[256];
};

static void add_name(void *user, const char *name, size_t len)
{
    struct names *n = user;
    size_t used = strlen(n->text);
    snprintf(n->text + used, sizeof(n->text) - used, "%s%.*s", used ? " " : "",
             (int)len, name);
}

static const struct {
    const char *expr, *names;
    bool device;
} taint[] = {
    /* a private column reads as "<table>.<column>" */
    {"lookup('bins', device).owner", "bins.owner", true},
    {"lookup('bins', device)['owner']", "bins.owner", true},
    {"hash(lookup('bins', id).owner)", "bins.owner id", false},
    /* a column that is not private reads nothing but the key */
    {"lookup('bins', device).district", "", true},
    {"lookup('bins', 'b-1').capacity_l > level", "level", false},
    /* the whole row, or a column chosen at run time: every private one */
    {"lookup('bins', device)", "bins.owner", true},
    {"lookup('bins', device)[col]", "bins.owner col", true},
    {"lookup('meters', device)", "", true},
    /* a constant key does not fold the private read away */
    {"lookup('bins', 'b-1').owner", "bins.owner", false},
};

static void test_lookup_taint(void **state)
{
    for (size_t i = 0; i < N_ROWS(taint); i++) {
        struct cg_expr *e = NULL;
        struct cg_expr_error err;
        const char *s = taint[i].expr;
        if (cg_expr_compile_env(s, strlen(s), &env, &e, &err) != CG_OK)
            fail_msg("%s: %s", s, err.msg);
        struct names n = {""};
        struct cg_expr_reads r;
        cg_expr_reads(e, &r, add_name, &n);
        if (strcmp(n.text, taint[i].names) || r.device != taint[i].device)
            fail_msg("%s: reads '%s' (device %d)", s, n.text, r.device);
        assert_false(cg_expr_constant(e, NULL));
        cg_expr_free(e);
    }
}

static void test_table_keys(void **state)
{
    char err[128];
    struct cg_value dup;
    const char *text = "[{\"k\": \"a\"}, {\"k\": 1}, {\"k\": \"1\"}]";
    struct cg_table *t = NULL;
    size_t bad = 99;
    assert_int_equal(cg_json_parse(text, strlen(text), cg_arena_alloc_fn, arena,
                                   &dup, err, sizeof(err)),
                     CG_OK);
    /* 1 and "1" are one key as text: the later row is the duplicate */
    assert_int_equal(cg_table_new("t", &dup, "k", NULL, 0, &t, &bad),
                     CG_EINVAL);
    assert_null(t);
    assert_int_equal(bad, 2);
    /* a row without its key */
    assert_int_equal(cg_table_new("t", &rows, "owner", NULL, 0, &t, &bad),
                     CG_EINVAL);
    assert_int_equal(bad, 1);
    assert_int_equal(cg_table_new("t", &rows, "nope", NULL, 0, &t, &bad),
                     CG_EINVAL);
    assert_int_equal(bad, 0);
    assert_int_equal(cg_table_rows(bins), 3);
    assert_non_null(cg_table_find(bins, "17", 2));
    assert_null(cg_table_find(bins, "1", 1));
    assert_true(cg_table_private(bins, "owner", 5));
    assert_false(cg_table_private(bins, "own", 3));
    /* every allocation failure is reported and leaks nothing */
    for (long n = 0;; n++) {
        cg_mem_fail_after(n);
        int rc = cg_table_new("bins", &rows, "bin_id",
                              (const char *const[]){"owner"}, 1, &t, NULL);
        cg_mem_fail_after(-1);
        if (rc == CG_OK)
            break;
        assert_int_equal(rc, CG_ENOMEM);
        assert_null(t);
    }
    cg_table_free(t);
}

struct refs {
    char text[256];
};

static void add_ref(void *user, const char *name, size_t offset)
{
    struct refs *r = user;
    size_t used = strlen(r->text);
    snprintf(r->text + used, sizeof(r->text) - used, "%s%s@%zu",
             used ? " " : "", name, offset);
}

static const struct {
    const char *expr, *refs;
} refs[] = {
    {"fil_pct > 90", "fil_pct@0"},
    {"a + b.c * a", "a@0 b@4 a@10"},
    {"payload['x'] + payload.y + device + topic[1] + time", ""},
    {"fill_pct >= 95 ? critical : warning",
     "fill_pct@0 critical@17 warning@28"},
    {"lookup('bins', device).capacity_l", ""},
    {"coalesce(x, 1)", "x@9"},
    {"1 + 2", ""},
};

static void test_field_refs(void **state)
{
    for (size_t i = 0; i < N_ROWS(refs); i++) {
        struct cg_expr *e = NULL;
        const char *s = refs[i].expr;
        assert_int_equal(cg_expr_compile_env(s, strlen(s), &env, &e, NULL),
                         CG_OK);
        struct refs r = {""};
        cg_expr_field_refs(e, add_ref, &r);
        if (strcmp(r.text, refs[i].refs))
            fail_msg("%s: got '%s'", s, r.text);
        cg_expr_free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_values),
        cmocka_unit_test(test_lookup_errors),
        cmocka_unit_test(test_lookup_taint),
        cmocka_unit_test(test_table_keys),
        cmocka_unit_test(test_field_refs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
