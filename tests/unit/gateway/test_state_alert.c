/*
 * `for` alerts on a simulated clock (SPEC §13): every transition of
 * pending, firing and resolved, keep_firing_for, repeat, stale pending and
 * stale firing keys, for: 0s, severity, privacy of resolved events, and
 * keys per device.
 */
#include "state_harness.h"

#define G1     "v/acme/g1/t"
#define G2     "v/acme/g2/t"
#define L(x)   "{\"level\": " #x "}"
#define SINCE0 "\"active_since\":\"2030-01-01T00:00:00.000Z\""

static const struct scenario alerts[] = {
    {"pending, firing, holding, resolved",
     "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 2m\n"
     "    data: { level: level }\n    to: [gov]\n",
     {{0, G1, L(5)},
      {1 * MIN, G1, L(5)},
      {2 * MIN,
       G1,
       L(6),
       {"gov|" SINCE0 "|\"level\":6|\"time\":\"2030-01-01T00:02:00.000Z\"|"
        "\"source\":{\"vendor\":\"acme\",\"device\":\"g1\"|!\"resolved\""}},
      {3 * MIN, G1, L(7)}, /* firing: nothing more while it holds */
      {4 * MIN,
       G1,
       L(1),
       {"gov|\"resolved\":true|" SINCE0 "|\"level\":1|\"severity\":\"info\""}},
      {5 * MIN, G1, L(1)}, /* inactive */
      {6 * MIN, G1, L(5)}, /* pending again */
      END}},
    {"a message that does not hold makes a pending key start over",
     "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 2m\n"
     "    to: [gov]\n",
     {{0, G1, L(5)},
      {1 * MIN, G1, L(1)},
      {2 * MIN, G1, L(5)},
      {3 * MIN, G1, L(5)},
      {4 * MIN,
       G1,
       L(5),
       {"gov|\"active_since\":\"2030-01-01T00:02:00.000Z\""}},
      END}},
    {"keys are per device",
     "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 2m\n"
     "    to: [gov]\n",
     {{0, G1, L(5)},
      {1 * MIN, G2, L(5)},
      {2 * MIN, G2, L(5)},
      {2 * MIN, G1, L(5), {"gov|\"device\":\"g1\""}},
      {3 * MIN,
       G2,
       L(5),
       {"gov|\"device\":\"g2\"|\"active_since\":"
        "\"2030-01-01T00:01:00.000Z\""}},
      END}},
    {"keep_firing_for holds a firing key through short dips",
     "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 1m\n"
     "    keep_firing_for: 2m\n    to: [gov]\n",
     {{0, G1, L(5)},
      {1 * MIN, G1, L(5), {"gov|" SINCE0}},
      {2 * MIN, G1, L(1)},   /* within 2m of the last hold (1m) */
      {150 * SEC, G1, L(5)}, /* holds again: the 2m restart here */
      {4 * MIN, G1, L(1)},   /* 1m30s after it last held */
      {270 * SEC,
       G1,
       L(1), /* exactly 2m: resolved */
       {"gov|\"resolved\":true|" SINCE0}},
      END}},
    {"repeat re-sends the firing event from a timer, latest data",
     "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 1m\n"
     "    repeat: 2m\n    stale_after: 1h\n    severity: \"level > 6 ? "
     "'critical' : 'warning'\"\n    data: { level: level }\n    to: [gov]\n",
     {{0, G1, L(5)},
      {1 * MIN, G1, L(5), {"gov|" SINCE0 "|\"severity\":\"warning\""}},
      {2 * MIN, G1, L(8)},
      {3 * MIN,
       NULL,
       NULL,
       {"gov|\"level\":8|" SINCE0 "|\"severity\":\"critical\"|"
        "\"time\":\"2030-01-01T00:03:00.000Z\"|\"device\":\"g1\""}},
      {4 * MIN},
      {9 * MIN,
       NULL,
       NULL,
       {"gov|\"time\":\"2030-01-01T00:05:00.000Z\"",
        "gov|\"time\":\"2030-01-01T00:07:00.000Z\"",
        "gov|\"time\":\"2030-01-01T00:09:00.000Z\""}},
      {10 * MIN, G1, L(1), {"gov|\"resolved\":true"}},
      {20 * MIN}, /* resolved: no more repeats */
      END}},
    {"a pending key silent for stale_after is dropped",
     "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 2m\n"
     "    stale_after: 5m\n    to: [gov]\n",
     {{0, G1, L(5)},
      {6 * MIN}, /* dropped at 5m, silently */
      {7 * MIN, G1, L(5)},
      {8 * MIN, G1, L(5)},
      {9 * MIN,
       G1,
       L(5),
       {"gov|\"active_since\":\"2030-01-01T00:07:00.000Z\""}},
      END}},
    {"a firing key silent for stale_after resolves from a timer",
     "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 1m\n"
     "    severity: critical\n    data: { level: level }\n    to: [gov]\n",
     {{0, G1, L(5)},
      {1 * MIN, G1, L(6), {"gov|\"severity\":\"critical\""}},
      {3 * MIN},
      {4 * MIN,
       NULL,
       NULL, /* default stale_after: 3 x for */
       {"gov|\"resolved\":true|\"stale\":true|\"level\":6|" SINCE0
        "|\"severity\":\"info\"|\"time\":\"2030-01-01T00:04:00.000Z\"|"
        "\"source\":{\"vendor\":\"acme\",\"device\":\"g1\",\"topic\":"
        "\"v/acme/g1/t\"}"}},
      {5 * MIN, G1, L(1)}, /* already resolved */
      END}},
    {"for: 0s fires on the first message that holds",
     "domain: d\nrules:\n  - name: panic\n    when: level > 3\n    for: 0s\n"
     "    stale_after: 10m\n    to: [gov]\n",
     {{0, G1, L(5), {"gov|" SINCE0}},
      {1 * MIN, G1, L(5)},
      {2 * MIN, G1, L(0), {"gov|\"resolved\":true"}},
      END}},
    {"citizens never see a private field, resolved events included",
     "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 1m\n"
     "    data: { level: level, owner: owner }\n    to: [gov, pub]\n",
     {{0, G1, "{\"level\": 5, \"owner\": \"o-1\"}"},
      {1 * MIN,
       G1,
       "{\"level\": 5, \"owner\": \"o-1\"}",
       {"gov|\"owner\":\"o-1\"", "pub|!owner|" SINCE0}},
      {2 * MIN,
       G1,
       "{\"level\": 1, \"owner\": \"o-1\"}",
       {"gov|\"owner\":\"o-1\"|\"resolved\":true",
        "pub|!owner|\"resolved\":true"}},
      END}},
};

static void test_alert_transitions(void **state)
{
    (void)state;
    sh_scenarios(alerts, N_ROWS(alerts));
}

/* A message whose events cannot be spooled leaves the state as it was:
 * when the broker offers it again, the alert fires then. */
static int refuse(void *user, const struct cg_delivery *d)
{
    (void)user;
    (void)d;
    return CG_EIO;
}

static void test_failed_delivery_leaves_state(void **state)
{
    (void)state;
    struct sh h;
    sh_load(&h, "domain: d\nrules:\n  - name: high\n    when: level > 3\n"
                "    for: 1m\n    to: [gov]\n");
    assert_int_equal(sh_run(&h, 0, G1, L(5)), 0);
    struct cg_emit bad = {refuse, sh_dead, &h};
    struct cg_message m = {G1, strlen(G1), (const uint8_t *)L(5), strlen(L(5)),
                           CLOCK0 + 60};
    assert_int_equal(cg_pipeline_process(h.p, &m, &bad), CG_EIO);
    assert_int_equal(sh_run(&h, 61 * SEC, G1, L(5)), 1);
    assert_non_null(strstr(h.out[0], SINCE0));
    sh_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alert_transitions),
        cmocka_unit_test(test_failed_delivery_leaves_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
