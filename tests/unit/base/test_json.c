/*
 * Tests for cg_json_parse: the RFC 8259 conformance corpus under
 * tests/data/json (pass/ must parse, fail/ must be refused), the exact
 * values the parser builds, the SPEC §2 corners (duplicate keys, nesting,
 * number ranges), hostile inputs that must stay fast, and allocation
 * failures at every point.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base.h"

#define MIN_CORPUS 110

struct parsed {
    struct cg_arena *arena;
    struct cg_value v;
    char err[160];
    int rc;
};

static void parse_n(struct parsed *p, const char *text, size_t n)
{
    if (!p->arena)
        p->arena = cg_arena_new(4096);
    assert_non_null(p->arena);
    p->err[0] = '\0';
    p->rc = cg_json_parse(text, n, cg_arena_alloc_fn, p->arena, &p->v, p->err,
                          sizeof(p->err));
}

static void parse(struct parsed *p, const char *text)
{
    parse_n(p, text, strlen(text));
}

static void parsed_free(struct parsed *p)
{
    cg_arena_free(p->arena);
    p->arena = NULL;
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* Serializing, parsing the output again and serializing once more must
 * give the same text: the tree is well formed and self-consistent. */
static void check_round_trip(const struct cg_value *v, const char *name)
{
    struct cg_buf a = {0}, b = {0};
    cg_json_put_value(&a, v);
    assert_false(a.oom);
    struct parsed again = {0};
    parse_n(&again, a.data, a.len);
    if (again.rc != CG_OK)
        fail_msg("%s: reparse failed: %s", name, again.err);
    cg_json_put_value(&b, &again.v);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    parsed_free(&again);
    cg_buf_free(&a);
    cg_buf_free(&b);
}

/* Runs every *.json file in tests/data/json/<dir>; returns the count. */
static int run_corpus(const char *dir, int want_rc)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/json/%s", CG_TEST_DATA, dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char file[1024];
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        size_t n;
        char *text = read_file(file, &n);
        struct parsed p = {0};
        parse_n(&p, text, n);
        if (p.rc != want_rc)
            fail_msg("%s/%s: rc %d (%s)", dir, e->d_name, p.rc, p.err);
        if (want_rc == CG_OK)
            check_round_trip(&p.v, e->d_name);
        else if (strstr(p.err, " at byte ") == NULL)
            fail_msg("%s: reason without offset: '%s'", e->d_name, p.err);
        parsed_free(&p);
        free(text);
        count++;
    }
    closedir(d);
    return count;
}

static void test_corpus_pass(void **state)
{
    assert_true(run_corpus("pass", CG_OK) >= MIN_CORPUS);
}

static void test_corpus_fail(void **state)
{
    assert_true(run_corpus("fail", CG_EDECODE) >= MIN_CORPUS);
}

/* ---- values ---------------------------------------------------------- */

static const struct cg_value *member(const struct cg_value *obj,
                                     const char *key)
{
    assert_int_equal(obj->type, CG_OBJ);
    for (uint32_t i = 0; i < obj->len; i++)
        if (strcmp(obj->as.members[i].key, key) == 0)
            return &obj->as.members[i].value;
    fail_msg("no member '%s'", key);
    return NULL;
}

static void test_scalars(void **state)
{
    struct parsed p = {0};
    parse(&p, "true");
    assert_int_equal(p.v.type, CG_BOOL);
    assert_int_equal(p.v.as.boolean, 1);
    parse(&p, " false ");
    assert_int_equal(p.v.type, CG_BOOL);
    assert_int_equal(p.v.as.boolean, 0);
    parse(&p, "null");
    assert_int_equal(p.v.type, CG_NULL);
    parse(&p, "\"hi\"");
    assert_int_equal(p.v.type, CG_STR);
    assert_int_equal(p.v.len, 2);
    assert_string_equal(p.v.as.str, "hi");
    parse(&p, "\"\"");
    assert_int_equal(p.v.type, CG_STR);
    assert_int_equal(p.v.len, 0);
    assert_string_equal(p.v.as.str, "");
    parsed_free(&p);
}

static void expect_int(const char *text, int64_t want)
{
    struct parsed p = {0};
    parse(&p, text);
    assert_int_equal(p.rc, CG_OK);
    assert_int_equal(p.v.type, CG_INT);
    assert_true(p.v.as.i == want);
    parsed_free(&p);
}

static void expect_num(const char *text, double want)
{
    struct parsed p = {0};
    parse(&p, text);
    assert_int_equal(p.rc, CG_OK);
    assert_int_equal(p.v.type, CG_NUM);
    assert_true(p.v.as.num == want);
    parsed_free(&p);
}

static void test_numbers(void **state)
{
    expect_int("0", 0);
    expect_int("-0", 0);
    expect_int("42", 42);
    expect_int("-17", -17);
    expect_int("999999999999999999", 999999999999999999LL);
    expect_int("-999999999999999999", -999999999999999999LL);
    expect_int("1000000000000000000", 1000000000000000000LL);
    expect_int("9007199254740993", 9007199254740993LL); /* 2^53 + 1 */
    expect_int("9223372036854775807", INT64_MAX);
    expect_int("-9223372036854775808", INT64_MIN);
    expect_num("9223372036854775808", 9223372036854775808.0);
    expect_num("-9223372036854775809", -9223372036854775809.0);
    expect_num("18446744073709551616", 18446744073709551616.0);
    expect_num("1.5", 1.5);
    expect_num("0.1", 0.1);
    expect_num("-2.5e-3", -2.5e-3);
    expect_num("1e3", 1000.0);
    expect_num("1E+2", 100.0);
    expect_num("1.0", 1.0); /* a fraction makes a double, even if whole */
    expect_num("1.7976931348623157e308", 1.7976931348623157e308);
    expect_num("5e-324", 5e-324);
    expect_num("1e-400", 0.0);
    expect_num("123456789012345678901234567890e-10", 12345678901234567890.0);
}

/* Decimals take a fast path; they must read as exactly the double that
 * strtod (correctly rounded) gives, for every digit count and exponent. */
static void test_doubles_match_strtod(void **state)
{
    struct parsed p = {0};
    unsigned seed = 12345;
    char text[64];
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned long long m = ((unsigned long long)seed << 20) ^ (seed >> 3);
        int digits = 1 + (int)(seed % 19), point = (int)((seed >> 8) % 20);
        int exp = (int)((seed >> 13) % 61) - 30;
        char mant[32];
        snprintf(mant, sizeof(mant), "%.*llu", digits,
                 m % 10000000000000000000ULL);
        mant[digits] = '\0';
        if (mant[0] == '0' && digits > 1)
            mant[0] = '1';
        if (point > 0 && point < digits)
            snprintf(text, sizeof(text), "%s%.*s.%se%d", seed & 1 ? "-" : "",
                     point, mant, mant + point, exp);
        else
            snprintf(text, sizeof(text), "%s%s.5e%d", seed & 1 ? "-" : "", mant,
                     exp);
        parse(&p, text);
        assert_int_equal(p.rc, CG_OK);
        assert_int_equal(p.v.type, CG_NUM);
        double want = strtod(text, NULL);
        if (memcmp(&want, &p.v.as.num, sizeof(want)) != 0)
            fail_msg("%s: %.17g != %.17g", text, p.v.as.num, want);
        cg_arena_reset(p.arena);
    }
    parse(&p, "-0.0");
    assert_true(p.v.as.num == 0.0 && 1.0 / p.v.as.num < 0);
    parsed_free(&p);
}

static void test_number_errors(void **state)
{
    struct parsed p = {0};
    parse(&p, "[1e400]");
    assert_int_equal(p.rc, CG_EDECODE);
    assert_string_equal(p.err, "invalid JSON at byte 1: number out of range");
    parse(&p, "[01]");
    assert_string_equal(p.err,
                        "invalid JSON at byte 1: leading zero in a number");
    parse(&p, "-x");
    assert_string_equal(p.err, "invalid JSON at byte 1: expected a digit");
    parse(&p, "+1");
    assert_string_equal(p.err,
                        "invalid JSON at byte 0: unexpected character '+'");
    parse(&p, "1.");
    assert_string_equal(p.err,
                        "invalid JSON at byte 2: expected a digit after '.'");
    parsed_free(&p);
}

static void test_strings_decode_to_utf8(void **state)
{
    static const struct {
        const char *json, *bytes;
        uint32_t len;
    } cases[] = {
        {"\"a\\\"b\"", "a\"b", 3},
        {"\"\\\\\\/\"", "\\/", 2},
        {"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5},
        {"\"\\u0041\"", "A", 1},
        {"\"\\u00e9\"", "\xc3\xa9", 2},
        {"\"\\u20AC\"", "\xe2\x82\xac", 3},
        {"\"\\uffff\"", "\xef\xbf\xbf", 3},
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},
        {"\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4},
        {"\"\\u001f\"", "\x1f", 1},
        {"\"x\\ny\\u00e9z\"", "x\ny\xc3\xa9z", 6},
        {"\"caf\xc3\xa9\"", "caf\xc3\xa9", 5},
    };
    struct parsed p = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse(&p, cases[i].json);
        assert_int_equal(p.rc, CG_OK);
        assert_int_equal(p.v.type, CG_STR);
        assert_int_equal(p.v.len, cases[i].len);
        assert_memory_equal(p.v.as.str, cases[i].bytes, cases[i].len);
        assert_int_equal(p.v.as.str[p.v.len], '\0');
    }
    parsed_free(&p);
}

static void test_object_order_and_keys(void **state)
{
    struct parsed p = {0};
    parse(&p, "{\"z\":1,\"a\":[true,null],\"m\\u00e9\":{\"\":\"e\"}}");
    assert_int_equal(p.rc, CG_OK);
    assert_int_equal(p.v.type, CG_OBJ);
    assert_int_equal(p.v.len, 3);
    const struct cg_member *m = p.v.as.members;
    assert_string_equal(m[0].key, "z");
    assert_int_equal(m[0].key_len, 1);
    assert_string_equal(m[1].key, "a");
    assert_string_equal(m[2].key, "m\xc3\xa9");
    assert_int_equal(m[2].key_len, 3);
    assert_int_equal(m[1].value.type, CG_LIST);
    assert_int_equal(m[1].value.len, 2);
    assert_int_equal(m[1].value.as.items[0].type, CG_BOOL);
    assert_int_equal(m[1].value.as.items[1].type, CG_NULL);
    const struct cg_value *inner = member(&m[2].value, "");
    assert_string_equal(inner->as.str, "e");
    parsed_free(&p);
}

static void test_empty_containers(void **state)
{
    struct parsed p = {0};
    parse(&p, "{\"o\":{},\"l\":[]}");
    assert_int_equal(p.rc, CG_OK);
    const struct cg_value *o = member(&p.v, "o"), *l = member(&p.v, "l");
    assert_int_equal(o->type, CG_OBJ);
    assert_int_equal(o->len, 0);
    assert_non_null(o->as.members);
    assert_int_equal(l->type, CG_LIST);
    assert_int_equal(l->len, 0);
    assert_non_null(l->as.items);
    parsed_free(&p);
}

static void test_duplicate_keys(void **state)
{
    struct parsed p = {0};
    parse(&p, "{\"a\":1,\"b\":2,\"a\":3,\"c\":4,\"b\":{\"x\":5}}");
    assert_int_equal(p.rc, CG_OK);
    assert_int_equal(p.v.len, 3);
    const struct cg_member *m = p.v.as.members;
    assert_string_equal(m[0].key, "a");
    assert_int_equal(m[0].value.as.i, 3);
    assert_string_equal(m[1].key, "b");
    assert_int_equal(m[1].value.type, CG_OBJ);
    assert_string_equal(m[2].key, "c");
    /* An escaped key equals the same key written raw. */
    parse(&p, "{\"\\u0061\":1,\"a\":2}");
    assert_int_equal(p.v.len, 1);
    assert_int_equal(p.v.as.members[0].value.as.i, 2);
    parsed_free(&p);
}

/* Big objects merge duplicates by sorting: check the same semantics. */
static void test_duplicate_keys_big_object(void **state)
{
    struct cg_buf b = {0};
    cg_buf_putc(&b, '{');
    for (int i = 0; i < 300; i++)
        cg_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i % 100, i);
    cg_buf_putc(&b, '}');
    struct parsed p = {0};
    parse_n(&p, b.data, b.len);
    assert_int_equal(p.rc, CG_OK);
    assert_int_equal(p.v.len, 100);
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_string_equal(p.v.as.members[i].key, key);
        assert_int_equal(p.v.as.members[i].value.as.i, 200 + i);
    }
    parsed_free(&p);
    cg_buf_free(&b);
}

/* This thread's CPU time since t0: other processes on a busy machine do
 * not count. */
static double elapsed_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Parses an object of n members, half of them repeating one key; the
 * best of three runs. */
static double time_duplicates(int n)
{
    struct cg_buf b = {0};
    cg_buf_putc(&b, '{');
    for (int i = 0; i < n; i++)
        cg_buf_printf(&b, "%s\"%s%d\":%d", i ? "," : "", i % 2 ? "k" : "u",
                      i % 2 ? 0 : i, i);
    cg_buf_putc(&b, '}');
    double best = 1e9;
    for (int t = 0; t < 5; t++) {
        struct timespec t0;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        struct parsed p = {0};
        parse_n(&p, b.data, b.len);
        double took = elapsed_since(&t0);
        best = took < best ? took : best;
        assert_int_equal(p.rc, CG_OK);
        assert_int_equal(p.v.len, n / 2 + 1);
        const struct cg_value *k = member(&p.v, "k0");
        assert_int_equal(k->as.i, n - 1);
        assert_string_equal(p.v.as.members[1].key, "k0"); /* first place */
        parsed_free(&p);
    }
    cg_buf_free(&b);
    return best;
}

/* A hostile payload: 50,000 members, half of them repeating one key. A
 * quadratic duplicate check would take billions of comparisons: eight
 * times the members would cost 64 times as long (over a second here). A
 * ratio of CPU times, not a time, so that a slow build or a busy machine
 * does not fail it; the 50 ms of slack absorb cache effects. */
static void test_hostile_duplicate_keys_fast(void **state)
{
    double small = time_duplicates(6250), big = time_duplicates(50000);
    if (big > 24 * small + 0.05)
        fail_msg("6,250 members: %.4f s, 50,000: %.4f s", small, big);
}

static void test_big_inputs_linear(void **state)
{
    /* Deep garbage, long strings and long arrays all finish quickly. */
    size_t n = 4 << 20;
    char *s = malloc(n + 2);
    assert_non_null(s);
    struct parsed p = {0};
    memset(s, '[', n);
    parse_n(&p, s, n);
    assert_int_equal(p.rc, CG_EDECODE);
    assert_string_equal(p.err, "nesting deeper than 64 at byte 64");
    s[0] = '"';
    memset(s + 1, 'a', n - 2);
    s[n - 1] = '"';
    parse_n(&p, s, n);
    assert_int_equal(p.rc, CG_OK);
    assert_int_equal(p.v.len, n - 2);
    s[0] = '[';
    for (size_t i = 1; i + 1 < n; i += 2)
        memcpy(s + i, "1,", 2);
    memcpy(s + n - 2, "1]", 2);
    parse_n(&p, s, n);
    assert_int_equal(p.rc, CG_OK);
    /* No clock: quadratic work on 4 MiB would take hours and meet the
     * test's timeout. */
    parsed_free(&p);
    free(s);
}

static void test_depth_limit(void **state)
{
    char text[300];
    struct parsed p = {0};
    memset(text, '[', 64);
    memset(text + 64, ']', 64);
    parse_n(&p, text, 128);
    assert_int_equal(p.rc, CG_OK);
    memset(text, '[', 65);
    memset(text + 65, ']', 65);
    parse_n(&p, text, 130);
    assert_int_equal(p.rc, CG_EDECODE);
    assert_string_equal(p.err, "nesting deeper than 64 at byte 64");
    parsed_free(&p);
}

static void expect_error(const char *text, size_t n, const char *want)
{
    struct parsed p = {0};
    parse_n(&p, text, n);
    assert_int_equal(p.rc, CG_EDECODE);
    assert_string_equal(p.err, want);
    parsed_free(&p);
}

#define EXPECT_ERROR(text, want) expect_error(text, sizeof(text) - 1, want)

static void test_error_messages(void **state)
{
    EXPECT_ERROR("", "invalid JSON at byte 0: unexpected end of input");
    EXPECT_ERROR("\xef\xbb\xbf{}", "invalid JSON at byte 0: byte-order mark");
    EXPECT_ERROR("{\"device\":\"a\",\"t\"1}",
                 "invalid JSON at byte 17: expected ':'");
    EXPECT_ERROR("[\"ab\xff\"]", "invalid UTF-8 at byte 4");
    EXPECT_ERROR("{} x", "invalid JSON at byte 3: unexpected data after the "
                         "value");
    EXPECT_ERROR("[1 2]", "invalid JSON at byte 3: expected ',' or ']'");
    EXPECT_ERROR("{\"a\":1,}", "invalid JSON at byte 7: expected a string "
                               "key");
    EXPECT_ERROR("[\"a\nb\"]",
                 "invalid JSON at byte 3: control character in string");
    EXPECT_ERROR("[\"\\u0000\"]",
                 "invalid JSON at byte 2: \\u0000 is not allowed");
    EXPECT_ERROR("[\"\\ud800\"]",
                 "invalid JSON at byte 2: lone surrogate in \\u escape");
    EXPECT_ERROR("[\"\\q\"]", "invalid JSON at byte 2: invalid escape");
    EXPECT_ERROR("[\"abc", "invalid JSON at byte 1: unterminated string");
    EXPECT_ERROR("[NaN]", "invalid JSON at byte 1: unexpected character 'N'");
    EXPECT_ERROR("[\x01]", "invalid JSON at byte 1: unexpected byte 0x01");
}

static void test_no_error_buffer(void **state)
{
    struct cg_arena *a = cg_arena_new(256);
    struct cg_value v;
    assert_int_equal(cg_json_parse("[", 1, cg_arena_alloc_fn, a, &v, NULL, 0),
                     CG_EDECODE);
    assert_int_equal(v.type, CG_NULL);
    char small[8];
    assert_int_equal(
        cg_json_parse("[", 1, cg_arena_alloc_fn, a, &v, small, sizeof(small)),
        CG_EDECODE);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    cg_arena_free(a);
}

/* ---- allocation failures --------------------------------------------- */

struct counting_alloc {
    struct cg_arena *arena;
    long left; /* calls that still succeed; then every call fails */
};

static void *counting_alloc_fn(void *ctx, size_t size)
{
    struct counting_alloc *c = ctx;
    if (c->left-- <= 0)
        return NULL;
    return cg_arena_alloc(c->arena, size);
}

static const char alloc_doc[] =
    "{\"device\":\"air-17\",\"vals\":[1,2.5,\"x\\n\",{\"k\":[]}],"
    "\"a\":{\"b\":{\"c\":\"\\u00e9\"}},\"device\":\"air-18\"}";

/* Fails the tree allocator at every call in turn: each run must report
 * CG_ENOMEM cleanly until there are enough calls to succeed. */
static void test_tree_alloc_failures(void **state)
{
    struct counting_alloc c = {.arena = cg_arena_new(1024)};
    char err[160];
    struct cg_value v;
    int rc = CG_ENOMEM;
    long n;
    for (n = 0; rc == CG_ENOMEM && n < 1000; n++) {
        c.left = n;
        rc = cg_json_parse(alloc_doc, sizeof(alloc_doc) - 1, counting_alloc_fn,
                           &c, &v, err, sizeof(err));
        if (rc == CG_ENOMEM)
            assert_string_equal(err, "out of memory");
    }
    assert_int_equal(rc, CG_OK);
    assert_true(n > 5);
    assert_string_equal(member(&v, "device")->as.str, "air-18");
    cg_arena_free(c.arena);
}

/* Big documents need scratch memory from cg_malloc (the value stack and
 * the duplicate sort); make each of those allocations fail too. */
static void test_scratch_alloc_failures(void **state)
{
    struct cg_buf b = {0};
    cg_buf_puts(&b, "[[");
    for (int i = 0; i < 600; i++)
        cg_buf_printf(&b, "%s%d", i ? "," : "", i);
    cg_buf_puts(&b, "],{");
    for (int i = 0; i < 100; i++)
        cg_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i % 50, i);
    cg_buf_puts(&b, "}]");
    assert_false(b.oom);
    struct cg_arena *a = cg_arena_new(1 << 16);
    char err[160];
    struct cg_value v;
    int rc = CG_ENOMEM;
    for (long n = 0; rc == CG_ENOMEM && n < 100; n++) {
        cg_mem_fail_after(n);
        rc = cg_json_parse(b.data, b.len, cg_arena_alloc_fn, a, &v, err,
                           sizeof(err));
        cg_mem_fail_after(-1);
        cg_arena_reset(a);
    }
    assert_int_equal(rc, CG_OK);
    cg_arena_free(a);
    cg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_pass),
        cmocka_unit_test(test_corpus_fail),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_doubles_match_strtod),
        cmocka_unit_test(test_number_errors),
        cmocka_unit_test(test_strings_decode_to_utf8),
        cmocka_unit_test(test_object_order_and_keys),
        cmocka_unit_test(test_empty_containers),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_duplicate_keys_big_object),
        cmocka_unit_test(test_hostile_duplicate_keys_fast),
        cmocka_unit_test(test_big_inputs_linear),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_no_error_buffer),
        cmocka_unit_test(test_tree_alloc_failures),
        cmocka_unit_test(test_scratch_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
