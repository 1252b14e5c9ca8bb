/*
 * Authoring aids in the loader (SPEC §14): the flow-mapping comma trap
 * named at the expression, "did you mean" for unknown networks, vendors
 * and `to` names, loading that goes on past every problem, and the test
 * case keys payload_hex, payload_base64 and expect_dead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "harness.h"

/* Table rows give only the fields they need; the rest are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define RULE(body)                                                             \
    "domain: environment\nrules:\n  - name: r\n    to: [government]\n" body

struct case_ {
    const char *config, *rules;
    const char *expect[4]; /* substrings of the diagnostics */
    const char *absent;    /* must not appear; NULL: nothing */
};

static const struct case_ traps[] = {
    /* the README's old example: one error, at the expression, with the
     * quoted expression to write; no "empty expression" for the piece */
    {MINIMAL,
     RULE("    data: { pm25: round(pm25, 1), district: district }\n"),
     {"env.yaml:5:19: error: rules[0].data.pm25: the comma in "
      "round(pm25, 1) splits the YAML flow mapping { ... } in two entries: "
      "quote the expression, \"round(pm25, 1)\""},
     "data.1)"},
    /* nested calls, several cuts */
    {MINIMAL,
     RULE("    data: { m: max(a, min(b, c)), x: 1 }\n"),
     {"the comma in max(a, min(b, c)) splits"},
     "unknown"},
    /* a cut string literal; the suggestion quotes with the other quote */
    {MINIMAL,
     RULE("    data: { m: f(\"a, b\") }\n"),
     {"the comma in f(\"a, b\") splits the YAML flow mapping { ... } in two "
      "entries: quote the expression, 'f(\"a, b\")'"}},
    /* a rule written as a flow mapping: `when` is cut, no unknown key */
    {MINIMAL,
     "domain: env\nrules:\n  - { name: r, when: min(a, b) > 3, to: "
     "[government] }\n",
     {"env.yaml:3:22: error: rules[0].when: the comma in min(a, b) > 3 "
      "splits"},
     "unknown key"},
    /* a cut conditional keeps its ': ' */
    {MINIMAL,
     RULE("    data: { s: x ? f(y, z) : w }\n"),
     {"the comma in x ? f(y, z): w splits"}},
    /* a vendor's fields */
    {"vendors:\n  - name: v\n    topics: [\"v/+\"]\n"
     "    fields: { t: round(temp, 1), d: zone }\n"
     "consumers: [{name: ops, role: government}]\nrules: [\"rules/*.yaml\"]\n",
     RULES_OK,
     {"citygate.yaml:4:18: error: vendors[0].fields.t: the comma"}},
    /* quoted, or in block style: loads */
    {MINIMAL,
     RULE("    data: { pm25: \"round(pm25, 1)\", d: district }\n"),
     {""},
     "error"},
    {MINIMAL, RULE("    data:\n      pm25: round(pm25, 1)\n"), {""}, "error"},
    /* the split that is itself a YAML syntax error: libyaml's message at
     * libyaml's position, with the cause named (SPEC §14) */
    {MINIMAL,
     RULE("    data: { a: f(x, \"y\") }\n"),
     {"env.yaml:5:24: error: YAML: did not find expected ',' or '}' while "
      "parsing a flow mapping; the comma in f(x, \"y\") splits the YAML flow "
      "mapping { ... } in two entries: quote the expression, 'f(x, \"y\")'"}},
    {MINIMAL,
     RULE("    data: { o: lookup(\"bins\", \"B1\").owner }\n"),
     {"env.yaml:5:35: error: YAML: did not find expected ',' or '}' while "
      "parsing a flow mapping; the comma in lookup(\"bins\", \"B1\").owner "
      "splits"}},
    {MINIMAL,
     RULE("    data: { a: f(x, [1, 2]) }\n"),
     {"; the comma in f(x, [1, 2]) splits", "quote the expression, "
                                            "\"f(x, [1, 2])\""}},
    {MINIMAL,
     RULE("    data: { a: x in [1, 2], b: 1 }\n"),
     {"env.yaml:5:21: error: YAML: ", "; the comma in x in [1, 2] splits"}},
    /* in a nested flow mapping, over two lines */
    {MINIMAL,
     RULE("    window: { every: 1h,\n"
          "      aggregate: { m: max(lvl, \"2\") } }\n"),
     {"env.yaml:6:35: error: YAML: ", "; the comma in max(lvl, \"2\") splits"}},
    {"vendors:\n  - name: v\n    topics: [\"v/+\"]\n"
     "    fields: { level: max(lvl, \"2\") }\n"
     "consumers: [{name: ops, role: government}]\nrules: [\"rules/*.yaml\"]\n",
     RULES_OK,
     {"citygate.yaml:4:34: error: YAML: ",
      "; the comma in max(lvl, \"2\") splits the YAML flow mapping"}},
    /* a long expression: the hint without the text */
    {MINIMAL,
     RULE("    data: { a: f(x, \"a very long string that goes on and on and "
          "on\", "
          "\"and on\") }\n"),
     {"; a comma inside this expression splits the YAML flow mapping { ... } "
      "in two entries: quote the expression\n"}},
    /* other YAML errors in a flow mapping keep libyaml's message alone */
    {MINIMAL,
     RULE("    data: { a: \"x\" y }\n"),
     {"env.yaml:5:20: error: YAML: did not find expected ',' or '}' while "
      "parsing a flow mapping\n"}},
    {MINIMAL,
     RULE("    data: { a: f(x), b: [1, 2] c }\n"),
     {"while parsing a flow mapping\n"}},
    /* a long message is not cut (it once ended at 160 bytes) */
    {MINIMAL,
     RULE("    window: { every: 1h, aggregate: { a: round(avg(fill_pct), 1), "
          "b: count() } }\n"),
     {"env.yaml:5:42: error: rules[0].window.aggregate.a: the comma in "
      "round(avg(fill_pct), 1) splits the YAML flow mapping { ... } in two "
      "entries: quote the expression, \"round(avg(fill_pct), 1)\"\n"}},
    /* unbalanced but not a split: left to the expression compiler */
    {MINIMAL, RULE("    data: { a: f(x }\n"), {""}, "splits"},
};

static const struct case_ refs[] = {
    {MINIMAL,
     RULE("    match: { vendors: [acme-ai] }\n"),
     {"env.yaml:5:24: error: match.vendors: unknown vendor 'acme-ai'; did "
      "you mean 'acme-air'?"}},
    {MINIMAL,
     "domain: e\nrules:\n  - {name: r, to: [goverment]}\n",
     {"env.yaml:3:20: error: to: 'goverment' is neither a consumer nor a "
      "role; did you mean 'government'?"}},
    {MINIMAL,
     "domain: e\nrules:\n  - {name: r, to: [city-op]}\n",
     {"did you mean 'city-ops'?"}},
    /* case alone never hides the name meant: vendors, to and networks */
    {MINIMAL,
     RULE("    match: { vendors: [ACME-AIR] }\n"),
     {"match.vendors: unknown vendor 'ACME-AIR'; did you mean 'acme-air'?"}},
    {"vendors:\n  - {name: va, topics: [\"v/+\"]}\n"
     "consumers: [{name: gov, role: government}]\nrules: [\"rules/*.yaml\"]\n",
     "domain: e\nrules:\n  - {name: r, to: [GOV], match: {vendors: [VA]}}\n",
     {"env.yaml:3:20: error: to: 'GOV' is neither a consumer nor a role; did "
      "you mean 'gov'?",
      "env.yaml:3:44: error: match.vendors: unknown vendor 'VA'; did you mean "
      "'va'?"}},
    {MINIMAL,
     "domain: e\nrules:\n  - {name: r, to: [CITY-OPS]}\n",
     {"did you mean 'city-ops'?"}},
    {"vendors:\n  - {name: v, network: NB, topics: [\"v/+\"]}\n"
     "networks: [{name: nb}]\n"
     "consumers: [{name: ops, role: government}]\nrules: [\"rules/*.yaml\"]\n",
     RULES_OK,
     {"unknown network 'NB'; did you mean 'nb'?"}},
    /* grants: the nearest private field, or a table's column of that
     * name, which is granted as <table>.<column> */
    {"vendors:\n  - {name: v, topics: [\"v/+\"], private: [owner_id]}\n"
     "tables:\n  - {name: bins, file: bins.csv, key: id, private: [owner]}\n"
     "consumers: [{name: fm, role: enterprise, grants: [owner, ownerid]}]\n"
     "rules: [\"rules/*.yaml\"]\n",
     RULES_OK,
     {"grant 'owner' is no vendor's private field; did you mean "
      "'bins.owner'?",
      "grant 'ownerid' is no vendor's private field; did you mean "
      "'owner_id'?"}},
    {MINIMAL,
     "domain: e\nrules:\n  - {name: r, to: [nobody-at-all]}\n",
     {"to: 'nobody-at-all' is neither a consumer nor a role (government | "
      "enterprise | citizen)"},
     "did you mean"},
    {"vendors:\n  - {name: v, network: nb-iot, topics: [\"v/+\"]}\n"
     "networks: [{name: nb-iot-1}]\n"
     "consumers: [{name: ops, role: government}]\nrules: [\"rules/*.yaml\"]\n",
     RULES_OK,
     {"citygate.yaml:2:24: error: unknown network 'nb-iot'; did you mean "
      "'nb-iot-1'?"}},
};

/* One problem of each kind in one config: every one is reported. */
static const struct case_ keep_going[] = {
    {"vendors:\n"
     "  - name: v\n"
     "    network: nb1\n"
     "    topic: [\"v/+\"]\n" /* a typo: topics */
     "networks: [{name: nb}]\n"
     "consumers:\n"
     "  - {name: ops, role: goverment}\n"
     "rules: [\"rules/*.yaml\"]\n",
     "domain: e\nrules:\n"
     "  - {name: r, whn: x > 1, to: [opps]}\n"
     "  - {name: r2, to: [ops], tests: [{payload: x}]}\n",
     {"citygate.yaml:4:5: error: vendors[0]: unknown key 'topic' (did you "
      "mean 'topics'?)",
      "citygate.yaml:3:14: error: unknown network 'nb1'; did you mean 'nb'?",
      "env.yaml:3:15: error: rules[0]: unknown key 'whn' (did you mean "
      "'when'?)",
      "env.yaml:3:32: error: to: 'opps' is neither a consumer nor a role; "
      "did you mean 'ops'?"}},
};

static const struct case_ test_keys[] = {
    {MINIMAL,
     RULE("    tests:\n      - {topic: a, payload: x, payload_hex: '00'"
          ", expect: []}\n"),
     {"give only one of payload, payload_hex and payload_base64"}},
    {MINIMAL,
     RULE("    tests:\n      - {topic: a, payload: x}\n"),
     {"missing required key 'expect' (or 'expect_dead')"}},
    {MINIMAL,
     RULE("    tests:\n      - {topic: a, payload_hex: '0g'}\n"),
     {"expected pairs of hex digits, got 'g' at character 2"}},
    {MINIMAL,
     RULE("    tests:\n      - {topic: a, payload_hex: 'abc'}\n"),
     {"expected pairs of hex digits"}},
    {MINIMAL,
     RULE("    tests:\n      - {topic: a, payload_base64: 'a$=='}\n"),
     {"expected base64 (RFC 4648, with padding)"}},
};

static void run_cases(const struct case_ *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *out = load(cases[i].config, cases[i].rules, NULL);
        for (size_t k = 0; k < 4 && cases[i].expect[k]; k++)
            if (!strstr(out, cases[i].expect[k]))
                fail_msg("case %zu: want '%s', got:\n%s", i, cases[i].expect[k],
                         out);
        if (cases[i].absent && strstr(out, cases[i].absent))
            fail_msg("case %zu: '%s' should not appear in:\n%s", i,
                     cases[i].absent, out);
    }
}

static void test_flow_mapping_trap(void **state)
{
    run_cases(traps, sizeof(traps) / sizeof(traps[0]));
}

static void test_did_you_mean(void **state)
{
    run_cases(refs, sizeof(refs) / sizeof(refs[0]));
}

static void test_keeps_going(void **state)
{
    run_cases(keep_going, sizeof(keep_going) / sizeof(keep_going[0]));
}

static void test_case_keys(void **state)
{
    run_cases(test_keys, sizeof(test_keys) / sizeof(test_keys[0]));
}

/* The partial config: what loaded is there, the rest is NULL. */
static void test_partial_config(void **state)
{
    struct cg_diags d = {0};
    struct cg_config *cfg = NULL;
    char path[512];
    write_file("citygate.yaml", MINIMAL);
    write_file("rules/env.yaml", "domain: e\nrules:\n  - {name: r, to: [x], "
                                 "when: a > 1, bogus: 1}\n");
    int rc = cg_config_load_partial(in_dir("citygate.yaml", path, sizeof(path)),
                                    NULL, 0, &cfg, &d);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(cfg);
    assert_int_equal(cg_diags_errors(&d), 2); /* bogus, x */
    assert_int_equal(cfg->n_rule_files, 1);
    assert_string_equal(cfg->rule_files[0].rules[0].when.text, "a > 1");
    assert_string_equal(cfg->rule_files[0].rules[0].full_name, "e/r");
    cg_config_free(cfg);
    cg_diags_free(&d);
    /* cg_config_load keeps its contract: nothing on failure */
    rc = cg_config_load(path, NULL, 0, &cfg, &d);
    assert_int_equal(rc, CG_EINVAL);
    assert_null(cfg);
    cg_diags_free(&d);
}

/* Binary payloads decode into the exact bytes, NULs included. */
static void test_binary_payloads(void **state)
{
    struct cg_config *cfg;
    int rc;
    write_file("citygate.yaml", MINIMAL);
    write_file("rules/env.yaml",
               RULE("    tests:\n"
                    "      - {topic: a, payload_hex: '01 67 00 FF', expect: "
                    "[]}\n"
                    "      - {payload_base64: 'AWcA/w==', expect_dead: "
                    "decode_error}\n"));
    const char *out = load_dir(&rc, &cfg);
    assert_string_equal(out, "");
    const struct cg_rule_conf *r = &cfg->rule_files[0].rules[0];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r->tests[i].payload_len, 4);
        assert_memory_equal(r->tests[i].payload, "\x01\x67\x00\xff", 4);
    }
    assert_null(r->tests[0].expect_dead.s);
    assert_string_equal(r->tests[1].expect_dead.s, "decode_error");
    assert_null(r->tests[1].expect);
    cg_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_mapping_trap),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_keeps_going),
        cmocka_unit_test(test_case_keys),
        cmocka_unit_test(test_partial_config),
        cmocka_unit_test(test_binary_payloads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
