/*
 * Config loading: a valid config loads with its defaults; every kind of
 * mistake is reported at its line and column; several are reported in
 * one run; allocation failures never crash or leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static void test_minimal_defaults(void **state)
{
    char path[512];
    write_file("citygate.yaml", MINIMAL);
    write_file("rules/env.yaml", RULES_OK);
    snprintf(path, sizeof(path), "%s/citygate.yaml", dir);
    struct cg_diags d = {0};
    struct cg_config *cfg = NULL;
    assert_int_equal(cg_config_load(path, NULL, 0, &cfg, &d), CG_OK);
    assert_int_equal(d.n, 0);
    assert_string_equal(cfg->gateway.id, "citygate");
    assert_string_equal(cfg->gateway.dead_letter_topic,
                        "citygate/citygate/dead");
    assert_int_equal(cfg->gateway.max_payload_bytes, 262144);
    assert_string_equal(cfg->broker.uri, "tcp://127.0.0.1:1883");
    assert_string_equal(cfg->broker.client_id, "citygate-citygate");
    assert_int_equal(cfg->broker.qos, 1);
    assert_false(cfg->broker.clean_session);
    assert_int_equal(cfg->consumers[0].role, CG_ROLE_GOVERNMENT);
    assert_int_equal(cfg->consumers[0].spool_max_bytes, 1ULL << 30);
    assert_int_equal(cfg->n_rule_files, 1);
    assert_string_equal(cfg->rule_files[0].rules[0].full_name,
                        "environment/pm25-high");
    assert_string_equal(cfg->rule_files[0].rules[0].type.s, "pm25-high");
    assert_string_equal(cfg->vendors[0].decoder.s, "json");
    assert_int_equal(cfg->vendors[0].network_index, 0);
    cg_config_free(cfg);
}

struct error_case {
    const char *config; /* NULL: MINIMAL */
    const char *rules;  /* NULL: RULES_OK */
    const char *expect; /* a substring of the diagnostics */
};

static const struct error_case error_cases[] = {
    {"vendors: [\n", NULL, "citygate.yaml:2:1: error: YAML:"},
    {MINIMAL "gatway:\n  id: x\n", NULL,
     "citygate.yaml:13:1: error: unknown key 'gatway' (did you mean "
     "'gateway'?)"},
    {MINIMAL "gateway:\n  max_payload_bytes: lots\n", NULL,
     "citygate.yaml:14:22: error: gateway.max_payload_bytes: expected a "
     "size"},
    {MINIMAL "gateway:\n  log_level: loud\n", NULL,
     "citygate.yaml:14:14: error: gateway.log_level: expected one of error "
     "| warn | info | debug, got 'loud'"},
    {MINIMAL "broker:\n  qos: 3\n", NULL,
     "citygate.yaml:14:8: error: broker.qos: must be between 0 and 2"},
    {MINIMAL "broker:\n  keepalive: [1]\n", NULL,
     "citygate.yaml:14:14: error: broker.keepalive: expected an integer, got "
     "a list"},
    {"vendors:\n  - name: a\n    network: nope\n    topics: [x/+]\n"
     "consumers:\n  - name: c\n    role: citizen\nrules: [\"rules/*.yaml\"]\n",
     NULL, "citygate.yaml:3:14: error: unknown network 'nope'"},
    {"vendors:\n  - name: a\n    topics: [x/+]\n  - name: a\n"
     "    topics: [y/+]\nconsumers:\n  - name: c\nrules: [\"rules/*.yaml\"]\n",
     NULL, "citygate.yaml:4:11: error: duplicate vendor name 'a'"},
    {"vendors:\n  - network: nb\n    topics: [x/+]\n"
     "consumers:\n  - name: c\nrules: [\"rules/*.yaml\"]\n",
     NULL, "citygate.yaml:2:5: error: vendors[0]: missing required key 'name'"},
    {"consumers:\n  - name: c\nrules: [\"rules/*.yaml\"]\n", NULL,
     "citygate.yaml:1:1: error: missing required key 'vendors'"},
    {MINIMAL,
     "domain: environment\nrules:\n  - name: r\n    when: x > 1\n"
     "    to: [nobody]\n",
     "env.yaml:5:10: error: to: 'nobody' is neither a consumer nor a role"},
    {MINIMAL,
     "domain: environment\nrules:\n  - name: r\n    to: [citizen]\n"
     "    throttle: 60\n",
     "env.yaml:5:15: error: rules[0].throttle: expected a duration (500ms, "
     "30s, 5m, 1h, 1d), got '60'"},
    {MINIMAL,
     "domain: environment\nrules:\n  - name: r\n    to: [citizen]\n"
     "  - name: r\n    to: [citizen]\n",
     "env.yaml:5:5: error: rules[1]: duplicate rule name 'r' in domain "
     "'environment'"},
    /* A name makes <domain>/<name> and the event's type. */
    {MINIMAL, "domain: d\nrules:\n  - name: ''\n    to: [citizen]\n",
     "env.yaml:3:11: error: rules[0].name: must not be empty"},
    {MINIMAL, "domain: d\nrules:\n  - name: '  '\n    to: [citizen]\n",
     "env.yaml:3:11: error: rules[0].name: must not be empty"},
    {MINIMAL, "domain: d\nrules:\n  - name: a/b\n    to: [citizen]\n",
     "env.yaml:3:11: error: rules[0].name: must not contain '/' (the full "
     "name is <domain>/<name>)"},
    {MINIMAL, "rules:\n  - name: r\n    to: [citizen]\n",
     "env.yaml:1:1: error: missing required key 'domain'"},
    {MINIMAL,
     "domain: d\nrules:\n  - name: r\n    to: [citizen]\n    tests:\n"
     "      - payload: '{}'\n        expect: []\n",
     "env.yaml:6:9: error: rules[0].tests[0]: the first test case needs a "
     "'topic'"},
    {MINIMAL,
     "domain: d\nrules:\n  - name: r\n    to: [citizen]\n"
     "    match: { vendors: [acme-aire] }\n",
     "env.yaml:5:24: error: match.vendors: unknown vendor 'acme-aire'"},
    {"vendors:\n  - name: a\n    topics: [x/+]\n    private: [owner]\n"
     "    fields: { pm25: pm2_5 }\n"
     "consumers:\n  - name: c\nrules: [\"rules/*.yaml\"]\n",
     NULL,
     "citygate.yaml:4:15: error: vendors[0].private: 'owner' is not "
     "one of this vendor's fields"},
    {"vendors:\n  - name: a\n    topics: [x/+]\n"
     "consumers:\n  - name: c\n    role: citizen\n    grants: [x]\n"
     "rules: [\"rules/*.yaml\"]\n",
     NULL, "grants apply to enterprise consumers only"},
    {"vendors:\n  - name: a\n    topics: [x/+]\n"
     "consumers:\n  - name: government\nrules: [\"rules/*.yaml\"]\n",
     NULL, "consumer name 'government' is a role name"},
    {"vendors:\n  - name: a\n    topics: [x/+]\n"
     "consumers:\n  - name: c\nrules: [\"nothing/*.yaml\"]\n",
     NULL,
     "citygate.yaml:6:9: error: rules: 'nothing/*.yaml' matches no "
     "file"},
    {MINIMAL,
     "domain: d\nrules:\n  - name: r\n    to: [citizen]\n"
     "    tests:\n      - topic: a\n        payload: '{}'\n",
     "env.yaml:6:9: error: rules[0].tests[0]: missing required key "
     "'expect'"},
};

static void test_errors(void **state)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        int rc;
        const char *out = load(c->config ? c->config : MINIMAL,
                               c->rules ? c->rules : RULES_OK, &rc);
        if (!strstr(out, c->expect))
            fail_msg("case %zu: want \"%s\"\ngot:\n%s", i, c->expect, out);
        assert_int_not_equal(rc, CG_OK);
    }
}

/* A duplicate within one file is one error, not two. */
static void test_duplicate_reported_once(void **state)
{
    const char *out = load(MINIMAL,
                           "domain: d\nrules:\n  - name: a\n    to: [citizen]\n"
                           "  - name: a\n    to: [citizen]\n",
                           NULL);
    const char *first = strstr(out, "duplicate rule name");
    assert_non_null(first);
    assert_null(strstr(first + 1, "duplicate rule name"));
}

static void test_many_errors_in_one_run(void **state)
{
    const char *out = load(MINIMAL "gateway:\n  log_level: loud\n"
                                   "  bogus: 1\nbroker:\n  qos: 9\n",
                           RULES_OK, NULL);
    assert_non_null(strstr(out, "log_level"));
    assert_non_null(strstr(out, "unknown key 'bogus'"));
    assert_non_null(strstr(out, "broker.qos"));
}

static void test_missing_file(void **state)
{
    struct cg_diags d = {0};
    struct cg_config *cfg = NULL;
    assert_int_equal(
        cg_config_load("/nonexistent/citygate.yaml", NULL, 0, &cfg, &d),
        CG_ENOENT);
    assert_null(cfg);
    assert_int_equal(d.n, 1);
    cg_diags_free(&d);
}

static void test_allocation_failures(void **state)
{
    char path[512];
    write_file("citygate.yaml", MINIMAL);
    write_file("rules/env.yaml", RULES_OK);
    snprintf(path, sizeof(path), "%s/citygate.yaml", dir);
    int rc = CG_ENOMEM;
    for (long n = 0; n < 100000 && rc == CG_ENOMEM; n++) {
        struct cg_diags d = {0};
        struct cg_config *cfg = NULL;
        cg_mem_fail_after(n);
        rc = cg_config_load(path, NULL, 0, &cfg, &d);
        cg_mem_fail_after(-1);
        cg_config_free(cfg);
        cg_diags_free(&d);
        assert_true(rc == CG_OK || rc == CG_ENOMEM || rc == CG_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_many_errors_in_one_run),
        cmocka_unit_test(test_duplicate_reported_once),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
