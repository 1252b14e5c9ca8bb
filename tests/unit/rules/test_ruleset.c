/*
 * Compiled rules: severity as a bare word, a constant expression (folded
 * at load, its compiled form freed: under LeakSanitizer a leak here fails
 * the test) or an expression evaluated per message; rules found by vendor
 * and topic through the index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static struct cg_ruleset *one_rule(const char *severity, const char *topic,
                                   const uint32_t *vendors, size_t n_vendors)
{
    struct cg_ruleset *rs = cg_ruleset_new(2);
    assert_non_null(rs);
    uint32_t target = 0;
    struct cg_rule_spec s = {
        .domain = "d",
        .name = "r",
        .type = "r",
        .severity = {.text = severity, .file = "t.yaml", .line = 1, .col = 1},
        .vendors = vendors,
        .n_vendors = n_vendors,
        .topic = {.text = topic, .file = "t.yaml", .line = 1, .col = 1},
        .targets = &target,
        .n_targets = 1,
        .pos = {.file = "t.yaml", .line = 1, .col = 1},
    };
    struct cg_diags d = {0};
    assert_int_equal(cg_ruleset_add(rs, &s, &d), CG_OK);
    assert_int_equal(d.n, 0);
    assert_int_equal(cg_ruleset_finish(rs), CG_OK);
    cg_diags_free(&d);
    return rs;
}

static void test_constant_severity_is_folded(void **state)
{
    static const struct {
        const char *src;
        int sev;
    } cases[] = {
        {"critical", CG_SEV_CRITICAL},
        {"info", CG_SEV_INFO},
        {"\"critical\"", CG_SEV_CRITICAL},
        {"lower(\"WARNING\")", CG_SEV_WARNING},
        {"'nonsense'", CG_SEV_INFO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cg_ruleset *rs = one_rule(cases[i].src, NULL, NULL, 0);
        const struct cg_rule *r = cg_ruleset_rule(rs, 0);
        assert_null(r->severity);
        assert_int_equal(r->severity_const, cases[i].sev);
        cg_ruleset_free(rs);
    }
}

static void test_severity_expression_stays(void **state)
{
    struct cg_ruleset *rs =
        one_rule("pm25 > 75 ? 'critical' : 'warning'", NULL, NULL, 0);
    assert_non_null(cg_ruleset_rule(rs, 0)->severity);
    cg_ruleset_free(rs);
}

static void test_match_by_vendor_and_topic(void **state)
{
    uint32_t vendors[] = {1};
    struct cg_ruleset *rs = one_rule(NULL, "v/+/air/#", vendors, 1);
    uint32_t out[1];
    const char *t = "v/x/air/7";
    assert_int_equal(cg_ruleset_match(rs, 1, t, strlen(t), out), 1);
    assert_int_equal(cg_ruleset_match(rs, 0, t, strlen(t), out), 0);
    t = "v/x/water/7";
    assert_int_equal(cg_ruleset_match(rs, 1, t, strlen(t), out), 0);
    cg_ruleset_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_severity_is_folded),
        cmocka_unit_test(test_severity_expression_stays),
        cmocka_unit_test(test_match_by_vendor_and_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
