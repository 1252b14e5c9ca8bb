/*
 * The stateful keys of a rule (SPEC §13) as the loader reads them:
 * durations, on_change in both forms, window, max_keys, the derived
 * stale_after, the tests' simulated clock; and every invalid duration and
 * combination reported at the line and column of the value at fault;
 * and the output format keys (ngsi_type, cap) refused the same way.
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

#include "config.h"

static char dir[256];

static const char *const CONFIG =
    "vendors: [ { name: acme, topics: [\"v/+/t\"] } ]\n"
    "consumers: [ { name: gov, role: government } ]\n"
    "rules: [\"rules/*.yaml\"]\n";

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    char rules[300];
    snprintf(dir, sizeof(dir), "/tmp/cg-rulestate-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(rules, sizeof(rules), "%s/rules", dir);
    mkdir(rules, 0700);
    write_file("citygate.yaml", CONFIG);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* Loads one rule file; the diagnostics go to out (static). */
static struct cg_config *load(const char *rules, const char **out)
{
    static char text[4096];
    char path[512];
    struct cg_diags d = {0};
    struct cg_config *cfg = NULL;
    struct cg_buf b = {0};
    write_file("rules/r.yaml", rules);
    snprintf(path, sizeof(path), "%s/citygate.yaml", dir);
    cg_config_load(path, NULL, 0, &cfg, &d);
    cg_diags_format(&d, &b);
    snprintf(text, sizeof(text), "%s", b.data ? b.data : "");
    cg_buf_free(&b);
    cg_diags_free(&d);
    *out = text;
    return cfg;
}

#define RULE "domain: d\nrules:\n  - name: r\n    to: [gov]\n"

struct error_case {
    const char *rules, *expect;
};

static const struct error_case errors[] = {
    {RULE "    throttle: 10 m\n",
     "r.yaml:5:15: error: rules[0].throttle: expected a duration (500ms, "
     "30s, 5m, 1h, 1d), got '10 m'"},
    {RULE "    for: -5s\n", "r.yaml:5:10: error: rules[0].for: expected a"},
    {RULE "    for: 1w\n", "r.yaml:5:10: error: rules[0].for: expected a"},
    {RULE "    throttle: 0s\n",
     "r.yaml:5:15: error: rules[0].throttle: must be longer than 0"},
    {RULE "    for: 1m\n    repeat: 0ms\n",
     "r.yaml:6:13: error: rules[0].repeat: must be longer than 0"},
    {RULE "    for: 0s\n",
     "r.yaml:5:10: error: rules[0].for: for: 0s needs a stale_after"},
    {RULE "    keep_firing_for: 5m\n",
     "r.yaml:5:22: error: rules[0].keep_firing_for: keep_firing_for only "
     "goes with for"},
    {RULE "    repeat: 5m\n", "r.yaml:5:13: error: rules[0].repeat: repeat "
                              "only goes with for"},
    {RULE "    stale_after: 5m\n", "r.yaml:5:18: error: rules[0].stale_after"},
    {RULE "    for: 1m\n    window: { every: 1h }\n",
     "r.yaml:5:10: error: rules[0].for: for and window: a rule uses one of "
     "for, window, or throttle and on_change"},
    {RULE "    for: 1m\n    throttle: 5m\n",
     "r.yaml:6:15: error: rules[0].throttle: a rule uses one of"},
    {RULE "    window: { every: 1h }\n    on_change: [x]\n",
     "r.yaml:6:16: error: rules[0].on_change: a rule uses one of"},
    {RULE "    window: { every: 7m }\n",
     "r.yaml:5:22: error: rules[0].window.every: must divide a day"},
    {RULE "    window: { every: 2d }\n",
     "r.yaml:5:22: error: rules[0].window.every: must divide a day"},
    {RULE "    window: { group_by: [zone] }\n",
     "r.yaml:5:13: error: rules[0].window: missing required key 'every'"},
    {RULE "    window: { every: 1h, min_count: 0 }\n",
     "r.yaml:5:37: error: rules[0].window.min_count: must be between 1 and"},
    {RULE "    window: { every: 1h, evry: 1 }\n",
     "r.yaml:5:26: error: rules[0].window: unknown key 'evry'"},
    {RULE "    window: { every: 1h, aggregate: { zone: count() }, group_by: "
          "[zone] }\n",
     "r.yaml:5:39: error: rules[0].window.aggregate: 'zone' is already a name"},
    {RULE "    window: { every: 1h, aggregate: { window_end: count() } }\n",
     "already a name of this window's data"},
    {RULE "    data: { a: x }\n    window: { every: 1h }\n",
     "r.yaml:5:11: error: rules[0].data: a window's data are its group_by "
     "fields and aggregates"},
    {RULE "    data: { band: b }\n    on_change: [level]\n",
     "r.yaml:6:17: error: rules[0].on_change: 'level' is not a key of this "
     "rule's data"},
    {RULE "    on_change: { level: -1 }\n",
     "r.yaml:5:25: error: rules[0].on_change: expected the least change that "
     "counts, a number of at least 0"},
    {RULE "    on_change: { level: lots }\n", "expected the least change"},
    {RULE "    on_change: []\n",
     "r.yaml:5:16: error: rules[0].on_change: expected a list of data keys, "
     "or a mapping"},
    {RULE "    max_keys: 10\n",
     "r.yaml:5:15: error: rules[0].max_keys: max_keys bounds the state of "
     "throttle, on_change, for or window, and this rule has none"},
    {RULE "    throttle: 1m\n    max_keys: 0\n",
     "r.yaml:6:15: error: rules[0].max_keys: must be between 1 and"},
    {RULE "    tests:\n      - { at: 5m, expect: [] }\n"
          "      - { at: 1m, expect: [] }\n",
     "r.yaml:7:15: error: rules[0].tests[1]: at: the clock cannot go back"},
    {RULE "    tests:\n      - { at: soon, expect: [] }\n",
     "r.yaml:6:15: error: rules[0].tests[0].at: expected a duration"},
    /* The output format keys of a rule (SPEC §15). */
    {RULE "    ngsi_type: ''\n",
     "r.yaml:5:16: error: rules[0].ngsi_type: must not be empty"},
    {RULE "    ngsi_type: Air Quality\n",
     "r.yaml:5:16: error: rules[0].ngsi_type: an NGSI-LD type holds no "
     "white space"},
    {RULE "    cap: { expires: 0s }\n",
     "r.yaml:5:21: error: rules[0].cap.expires: must be greater than 0s"},
    {RULE "    cap: { category: Weather }\n",
     "r.yaml:5:22: error: rules[0].cap.category: expected a CAP 1.2 "
     "category"},
};

static void test_errors(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        const char *out;
        struct cg_config *cfg = load(errors[i].rules, &out);
        if (cfg || !strstr(out, errors[i].expect)) {
            fprintf(stderr, "case %zu: want \"%s\"\ngot:\n%s\n", i,
                    errors[i].expect, out);
            failed++;
        }
        cg_config_free(cfg);
    }
    assert_int_equal(failed, 0);
}

static void test_keys_as_read(void **state)
{
    (void)state;
    const char *out;
    struct cg_config *cfg =
        load("domain: d\nrules:\n"
             "  - name: a\n    to: [gov]\n    for: 2m\n    repeat: 10m\n"
             "    keep_firing_for: 500ms\n"
             "  - name: g\n    to: [gov]\n    throttle: 1d\n"
             "    on_change: { pm25: 5, band: 0 }\n    max_keys: 7\n"
             "  - name: w\n    to: [gov]\n    window:\n      every: 1h\n"
             "      group_by: [zone, device]\n"
             "      aggregate: { n: count(), top: max(pm25) }\n"
             "      having: n > 2\n      min_count: 3\n"
             "    tests:\n      - { topic: v/x/t, payload: '{}', expect: [] }\n"
             "      - { at: 1h, expect: [] }\n      - { expect: [] }\n",
             &out);
    if (!cfg)
        fail_msg("%s", out);
    const struct cg_rule_conf *r = cfg->rule_files[0].rules;
    assert_int_equal(r[0].state.hold.ms, 120000);
    assert_int_equal(r[0].state.stale_after.ms, 360000); /* 3 x for */
    assert_false(r[0].state.stale_after.set);
    assert_int_equal(r[0].state.repeat.ms, 600000);
    assert_int_equal(r[0].state.keep_firing_for.ms, 500);
    assert_int_equal(r[0].state.max_keys, 100000);
    assert_int_equal(r[1].state.throttle.ms, 86400000);
    assert_int_equal(r[1].state.n_on_change, 2);
    assert_string_equal(r[1].state.on_change[0].field.s, "pm25");
    assert_true(r[1].state.on_change[0].threshold == 5.0);
    assert_true(r[1].state.on_change[1].threshold == 0.0);
    assert_int_equal(r[1].state.max_keys, 7);
    const struct cg_window_conf *w = r[2].state.window;
    assert_non_null(w);
    assert_int_equal(w->every.ms, 3600000);
    assert_int_equal(w->n_group_by, 2);
    assert_int_equal(w->n_aggregate, 2);
    assert_string_equal(w->having.text, "n > 2");
    assert_int_equal(w->min_count, 3);
    assert_null(r[0].state.window);
    assert_int_equal(r[2].tests[0].at.ms, 0);
    assert_int_equal(r[2].tests[1].at.ms, 3600000);
    assert_null(r[2].tests[1].payload);
    assert_int_equal(r[2].tests[2].at.ms, 3600000); /* inherited */
    cg_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_keys_as_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
