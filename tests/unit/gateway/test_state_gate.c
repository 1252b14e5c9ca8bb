/*
 * throttle and on_change on a simulated clock (SPEC §13): intervals
 * (exactly DURATION sends), data.suppressed, keys per device, the list
 * and threshold forms of on_change with nulls and type changes, both
 * together, the counters by why, and the order in which max_keys evicts.
 */
#include "state_harness.h"

#define G1 "v/acme/g1/t"
#define G2 "v/acme/g2/t"
#define G3 "v/acme/g3/t"

static const struct scenario gates[] = {
    {"throttle",
     "domain: d\nrules:\n  - name: t\n    when: level > 3\n"
     "    throttle: 10m\n    to: [gov]\n",
     {{0, G1, "{\"level\": 5}", {"gov|!suppressed"}},
      {1 * MIN, G1, "{\"level\": 5}"},
      {2 * MIN, G1, "{\"level\": 1}"}, /* not firing: not counted */
      {3 * MIN, G1, "{\"level\": 6}"},
      {10 * MIN,
       G1,
       "{\"level\": 5}", /* exactly 10m after: sends */
       {"gov|\"suppressed\":2}"}},
      {11 * MIN, G2, "{\"level\": 5}", {"gov|\"device\":\"g2\"|!suppressed"}},
      {15 * MIN, G1, "{\"level\": 5}"},
      {30 * MIN, G1, "{\"level\": 5}", {"gov|\"suppressed\":1}"}},
      {31 * MIN, G1, "{\"level\": 5}"},
      END}},
    {"on_change, a list: any change of a value",
     "domain: d\nrules:\n  - name: c\n    on_change: [band]\n"
     "    data: { band: band, level: level }\n    to: [gov]\n",
     {{0, G1, "{\"band\": \"good\", \"level\": 1}", {"gov|\"band\":\"good\""}},
      {1 * SEC, G1, "{\"band\": \"good\", \"level\": 2}"},
      {2 * SEC,
       G1,
       "{\"band\": \"poor\", \"level\": 2}",
       {"gov|\"band\":\"poor\"|\"suppressed\":1"}},
      {3 * SEC,
       G1,
       "{\"level\": 2}", /* null differs from a string */
       {"gov|\"band\":null|!suppressed"}},
      {4 * SEC, G1, "{\"level\": 3}"}, /* null equals null */
      {5 * SEC, G1, "{\"band\": 1, \"level\": 3}", {"gov|\"band\":1"}},
      {6 * SEC, G1, "{\"band\": 1.0, \"level\": 3}"}, /* 1 == 1.0 */
      {7 * SEC, G1, "{\"band\": \"1\", \"level\": 3}", {"gov|\"band\":\"1\""}},
      {8 * SEC, G2, "{\"band\": \"1\"}", {"gov|\"device\":\"g2\""}},
      END}},
    {"on_change thresholds: the least change from the last sent event",
     "domain: d\nrules:\n  - name: c\n    on_change: { level: 5, band: 0 }\n"
     "    data: { level: level, band: band }\n    to: [gov]\n",
     {{0, G1, "{\"level\": 10, \"band\": \"a\"}", {"gov|\"level\":10"}},
      {1 * SEC, G1, "{\"level\": 14, \"band\": \"a\"}"},
      {2 * SEC, G1, "{\"level\": 6, \"band\": \"a\"}"},
      {3 * SEC,
       G1,
       "{\"level\": 15, \"band\": \"a\"}",
       {"gov|\"level\":15|\"suppressed\":2"}},
      {4 * SEC, G1, "{\"level\": 11.5, \"band\": \"a\"}"},
      {5 * SEC,
       G1,
       "{\"level\": 11.5, \"band\": \"b\"}",
       {"gov|\"band\":\"b\"|\"suppressed\":1"}},
      {6 * SEC, G1, "{\"level\": 9.5, \"band\": \"b\"}"},
      {7 * SEC, G1, "{\"level\": 6.4, \"band\": \"b\"}", {"gov|\"level\":6.4"}},
      {8 * SEC,
       G1,
       "{\"level\": \"high\", \"band\": \"b\"}",
       {"gov|\"level\":\"high\""}},
      {9 * SEC, G1, "{\"band\": \"b\"}", {"gov|\"level\":null"}},
      END}},
    {"on_change and throttle together",
     "domain: d\nrules:\n  - name: c\n    on_change: [band]\n"
     "    throttle: 1m\n    data: { band: band }\n    to: [gov]\n",
     {{0, G1, "{\"band\": \"a\"}", {"gov|\"band\":\"a\""}},
      {10 * SEC, G1, "{\"band\": \"b\"}"}, /* changed, but throttled */
      {20 * SEC, G1, "{\"band\": \"b\"}"},
      {70 * SEC, G1, "{\"band\": \"a\"}"}, /* a again: unchanged */
      {80 * SEC,
       G1,
       "{\"band\": \"c\"}",
       {"gov|\"band\":\"c\"|\"suppressed\":3"}},
      END}},
    {"a rule without data compares the normalized fields",
     "domain: d\nrules:\n  - name: c\n    on_change: [zone]\n    to: [gov]\n",
     {{0, G1, "{\"zone\": \"x\", \"level\": 1}", {"gov|\"zone\":\"x\""}},
      {1 * SEC, G1, "{\"zone\": \"x\", \"level\": 2}"},
      {2 * SEC,
       G1,
       "{\"zone\": \"y\", \"level\": 2}",
       {"gov|\"zone\":\"y\"|\"suppressed\":1"}},
      END}},
    {"max_keys evicts the least recently used key",
     "domain: d\nrules:\n  - name: t\n    throttle: 1h\n    max_keys: 2\n"
     "    to: [gov]\n",
     {{0, G1, "{}", {"gov|\"device\":\"g1\""}},
      {1 * MIN, G2, "{}", {"gov|\"device\":\"g2\""}},
      {2 * MIN, G1, "{}"},                            /* g2 is now the oldest */
      {3 * MIN, G3, "{}", {"gov|\"device\":\"g3\""}}, /* evicts g2 */
      {4 * MIN, G1, "{}"},                            /* g1 kept: throttled */
      {5 * MIN,
       G2,
       "{}", /* afresh; evicts g3 */
       {"gov|\"device\":\"g2\"|!suppressed"}},
      {6 * MIN, G1, "{}"},                            /* still kept */
      {7 * MIN, G3, "{}", {"gov|\"device\":\"g3\""}}, /* evicts g2 */
      END}},
};

static void test_gates(void **state)
{
    (void)state;
    sh_scenarios(gates, N_ROWS(gates));
}

static void stats_of(const struct cg_pipeline *p, const char *rule,
                     struct cg_state_stats *out)
{
    const char *name;
    struct cg_state_stats s;
    for (size_t i = 0; i < cg_pipeline_state_stats(p, i, &name, &s); i++)
        if (name && !strcmp(name, rule)) {
            *out = s;
            return;
        }
    fail_msg("no stateful rule %s", rule);
}

/* The counters /metrics shows, by why. */
static void test_counters(void **state)
{
    (void)state;
    struct sh h;
    struct cg_state_stats s;
    sh_load(&h, "domain: d\nrules:\n"
                "  - name: t\n    throttle: 1h\n    max_keys: 2\n"
                "    to: [gov]\n"
                "  - name: c\n    on_change: [band]\n    to: [gov]\n"
                "  - name: plain\n    to: [gov]\n"
                "  - name: w\n    window: { every: 1h, group_by: [zone], "
                "aggregate: { n: count() }, min_count: 2 }\n"
                "    to: [gov, pub]\n");
    const char *devices[] = {G1, G1, G2, G1, G3, G3};
    for (size_t i = 0; i < N_ROWS(devices); i++)
        assert_true(sh_run(&h, (int64_t)i * SEC, devices[i], "{}") >= 0);
    stats_of(h.p, "d/t", &s);
    assert_int_equal(s.keys, 2);
    assert_int_equal(s.evicted, 1);
    assert_int_equal(s.suppressed[CG_WHY_THROTTLE], 3);
    assert_int_equal(s.suppressed[CG_WHY_ON_CHANGE], 0);
    stats_of(h.p, "d/c", &s);
    assert_int_equal(s.keys, 3);
    assert_int_equal(s.suppressed[CG_WHY_ON_CHANGE], 3);
    assert_int_equal(s.suppressed[CG_WHY_THROTTLE], 0);
    /* The window's groups (zone null: one group of three devices, and
     * zone "a" of one device): only the thin one is held from citizens. */
    assert_true(sh_run(&h, 10 * SEC, G1, "{\"zone\": \"a\"}") >= 0);
    assert_true(sh_run(&h, 1 * HOUR, NULL, NULL) >= 0);
    stats_of(h.p, "d/w", &s);
    assert_int_equal(s.suppressed[CG_WHY_MIN_COUNT], 1);
    assert_int_equal(s.suppressed[CG_WHY_THROTTLE], 0);
    const char *name = "x";
    assert_int_equal(cg_pipeline_state_stats(h.p, 2, &name, &s), 4);
    assert_null(name); /* a stateless rule */
    sh_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
