/*
 * MQTT topic filters from tables: validity, matching (including the '$'
 * rule), and the trie giving the same answers as one-by-one matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static const struct {
    const char *filter;
    bool valid;
} validity[] = {
    {"a/b/c", true},  {"#", true},      {"+", true},   {"a/+/c", true},
    {"a/#", true},    {"+/+/#", true},  {"/", true},   {"a//b", true},
    {"$SYS/#", true}, {"a/#/b", false}, {"a+", false}, {"a/b#", false},
    {"#/a", false},   {"a/+b", false},  {"", false},   {"++", false},
    {"a/##", false},  {"+a/b", false},
};

static void test_validity(void **state)
{
    for (size_t i = 0; i < sizeof(validity) / sizeof(validity[0]); i++)
        if (cg_topic_filter_valid(validity[i].filter) != validity[i].valid)
            fail_msg("filter '%s' should be %s", validity[i].filter,
                     validity[i].valid ? "valid" : "invalid");
}

static const struct {
    const char *filter, *topic;
    bool match;
} matching[] = {
    {"a/b/c", "a/b/c", true},
    {"a/b/c", "a/b", false},
    {"a/b", "a/b/c", false},
    {"a/+/c", "a/x/c", true},
    {"a/+/c", "a/x/y/c", false},
    {"a/+", "a/", true},
    {"a/+", "a", false},
    {"+/+", "/a", true},
    {"+", "a", true},
    {"+", "a/b", false},
    {"#", "a/b/c", true},
    {"#", "/", true},
    {"a/#", "a", true},
    {"a/#", "a/b/c", true},
    {"a/#", "ab", false},
    {"a/b/#", "a/b", true},
    {"vendors/acme/air/+/telemetry", "vendors/acme/air/aq-7/telemetry", true},
    {"vendors/acme/air/+/telemetry", "vendors/acme/air/aq-7/status", false},
    {"#", "$SYS/broker", false},
    {"+/broker", "$SYS/broker", false},
    {"$SYS/#", "$SYS/broker", true},
    {"$SYS/+", "$SYS/broker", true},
    {"a/+/#", "a/b", true},
    {"a/+/#", "a", false},
    {"A/b", "a/b", false},
};

static void test_matching(void **state)
{
    for (size_t i = 0; i < sizeof(matching) / sizeof(matching[0]); i++)
        if (cg_topic_matches(matching[i].filter, matching[i].topic) !=
            matching[i].match)
            fail_msg("'%s' vs '%s' should %smatch", matching[i].filter,
                     matching[i].topic, matching[i].match ? "" : "not ");
}

static int mark(void *user, uint32_t value)
{
    ((int *)user)[value]++;
    return 0;
}

/* The trie answers exactly what matching each filter alone answers. */
static void test_trie_agrees(void **state)
{
    enum { N = sizeof(matching) / sizeof(matching[0]) };
    struct cg_topic_trie *t = cg_topic_trie_new();
    assert_non_null(t);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(cg_topic_trie_add(t, matching[i].filter, i), CG_OK);
    for (size_t k = 0; k < N; k++) {
        const char *topic = matching[k].topic;
        int hits[N] = {0};
        cg_topic_trie_match(t, topic, strlen(topic), mark, hits);
        for (size_t i = 0; i < N; i++)
            if (hits[i] != (int)cg_topic_matches(matching[i].filter, topic))
                fail_msg("trie: '%s' vs '%s' gave %d", matching[i].filter,
                         topic, hits[i]);
    }
    assert_int_equal(cg_topic_trie_add(t, "a/#/b", 99), CG_EINVAL);
    cg_topic_trie_free(t);
}

static int stop_at_first(void *user, uint32_t value)
{
    (*(int *)user)++;
    return 7;
}

static void test_trie_stops_early(void **state)
{
    struct cg_topic_trie *t = cg_topic_trie_new();
    cg_topic_trie_add(t, "a/#", 1);
    cg_topic_trie_add(t, "a/b", 2);
    int calls = 0;
    assert_int_equal(cg_topic_trie_match(t, "a/b", 3, stop_at_first, &calls),
                     7);
    assert_int_equal(calls, 1);
    cg_topic_trie_free(t);
}

static void test_trie_many_filters(void **state)
{
    struct cg_topic_trie *t = cg_topic_trie_new();
    char f[64];
    for (uint32_t i = 0; i < 2000; i++) {
        snprintf(f, sizeof(f), "vendors/v%u/+/telemetry", i);
        assert_int_equal(cg_topic_trie_add(t, f, i), CG_OK);
    }
    int hits[2000] = {0};
    const char *topic = "vendors/v1234/dev-9/telemetry";
    cg_topic_trie_match(t, topic, strlen(topic), mark, hits);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(hits[i], i == 1234);
    cg_topic_trie_free(t);
}

static void test_trie_allocation_failures(void **state)
{
    for (long n = 0; n < 200; n++) {
        struct cg_topic_trie *t = cg_topic_trie_new();
        cg_mem_fail_after(n);
        int rc = t ? cg_topic_trie_add(t, "a/+/c/#", 1) : CG_ENOMEM;
        cg_mem_fail_after(-1);
        assert_true(rc == CG_OK || rc == CG_ENOMEM);
        cg_topic_trie_free(t);
    }
}

/* Two filters overlap when some topic matches both (SPEC 14 warnings). */
static const struct {
    const char *a, *b;
    bool overlap;
} overlaps[] = {
    {"a/b", "a/b", true},
    {"a/b", "a/c", false},
    {"a/+", "a/b", true},
    {"a/+", "+/b", true},
    {"a/+", "a/b/c", false},
    {"a/#", "a", true},
    {"a/#", "a/b/c", true},
    {"a/#", "b/#", false},
    {"a/+/c", "a/b/+", true},
    {"a/+/c", "a/b/d", false},
    {"#", "x/y/z", true},
    {"+", "a/b", false},
    {"+/+", "a", false},
    {"a//b", "a/+/b", true},
    {"a/", "a/+", true},
    {"a", "a/+", false},
    {"vendors/+/aqs/#", "vendors/aircheck/aqs/+/telemetry", true},
    {"vendors/+/air/#", "vendors/aircheck/aqs/+/telemetry", false},
    {"vendors/acme/#", "vendors/+/x/+", true},
    {"#", "$SYS/broker", false},
    {"+/broker", "$SYS/+", false},
    {"$SYS/#", "$SYS/+", true},
    {"+", "+", true},
    {"#", "#", true},
};

static void test_overlap(void **state)
{
    for (size_t i = 0; i < sizeof(overlaps) / sizeof(overlaps[0]); i++) {
        const char *a = overlaps[i].a, *b = overlaps[i].b;
        if (cg_topic_filters_overlap(a, b) != overlaps[i].overlap ||
            cg_topic_filters_overlap(b, a) != overlaps[i].overlap)
            fail_msg("'%s' and '%s' should %soverlap", a, b,
                     overlaps[i].overlap ? "" : "not ");
    }
}

/* Brute force: filters over a tiny alphabet overlap exactly when one of
 * the topics of up to five levels over that alphabet matches both. */
static const char *const levels[] = {"a", "b", "$s", ""};
static const char *const flevels[] = {"a", "b", "$s", "", "+", "#"};

static void make(char *out, size_t size, unsigned code, unsigned n,
                 const char *const *alpha, unsigned n_alpha)
{
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++, code /= n_alpha) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i ? "/" : "",
                 alpha[code % n_alpha]);
    }
}

static bool overlap_by_topics(const char *f, const char *g)
{
    char topic[64];
    for (unsigned n = 1; n <= 5; n++) {
        unsigned total = 1;
        for (unsigned i = 0; i < n; i++)
            total *= 4;
        for (unsigned c = 0; c < total; c++) {
            make(topic, sizeof(topic), c, n, levels, 4);
            if (cg_topic_matches(f, topic) && cg_topic_matches(g, topic))
                return true;
        }
    }
    return false;
}

static void test_overlap_agrees_with_matching(void **state)
{
    char f[64], g[64];
    unsigned checked = 0;
    for (unsigned fc = 0; fc < 6 * 6 * 6; fc += 5) {
        make(f, sizeof(f), fc, 1 + fc % 3, flevels, 6);
        for (unsigned gc = 0; gc < 6 * 6 * 6; gc += 7) {
            make(g, sizeof(g), gc, 1 + gc % 3, flevels, 6);
            if (!cg_topic_filter_valid(f) || !cg_topic_filter_valid(g))
                continue;
            checked++;
            if (cg_topic_filters_overlap(f, g) != overlap_by_topics(f, g))
                fail_msg("'%s' and '%s': overlap says %d", f, g,
                         cg_topic_filters_overlap(f, g));
        }
    }
    assert_true(checked > 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_trie_agrees),
        cmocka_unit_test(test_trie_stops_early),
        cmocka_unit_test(test_trie_many_filters),
        cmocka_unit_test(test_trie_allocation_failures),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_overlap_agrees_with_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
