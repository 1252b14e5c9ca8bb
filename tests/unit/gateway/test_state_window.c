/*
 * Tumbling windows on a simulated clock (SPEC §13): group_by, aggregates
 * (every one, with nulls), window_start and window_end, an event per
 * group at the window's end from a timer, a window closed by the first
 * message after its end, having, min_count, vendors mixed, severity and
 * privacy over aggregates; and the alignment of windows to the local
 * clock across daylight saving changes.
 */
#include <math.h>

#include "state_harness.h"

#define A(dev)  "v/acme/" dev "/t"
#define B(dev)  "v/beta/" dev "/t"
#define WIN(x)  "\"window_start\":\"2030-01-01T" x ":00.000Z\""
#define TIME(x) "\"time\":\"2030-01-01T" x ":00.000Z\""

static const struct scenario windows[] = {
    {"group_by, aggregates and the window's bounds",
     "domain: d\nrules:\n  - name: w\n    when: level >= 0\n    window:\n"
     "      every: 1h\n      group_by: [zone]\n"
     "      aggregate: { n: count(), avg: \"round(avg(level), 1)\",\n"
     "                   devices: count_distinct(device) }\n"
     "    to: [gov]\n",
     {{10 * MIN, A("g1"), "{\"zone\": \"a\", \"level\": 1}"},
      {20 * MIN, A("g2"), "{\"zone\": \"a\", \"level\": 2}"},
      {30 * MIN, B("g3"), "{\"zone\": \"b\", \"level\": 3}"},
      {40 * MIN, A("g1"), "{\"zone\": \"b\", \"level\": -1}"}, /* when */
      {1 * HOUR,
       NULL,
       NULL,
       {"gov|\"zone\":\"a\"|\"n\":2|\"avg\":1.5|\"devices\":2|" WIN(
            "00:00") "|\"window_end\":\"2030-01-01T01:00:00."
                     "000Z\"|" TIME("01:00") "|\"source\":{\"vendor\":"
                                             "\"acme\"}|\"network_"
                                             "provider\":\"nb\"|"
                                             "!\"device\":|!\"topic\"",
        "gov|\"zone\":\"b\"|\"n\":1|\"source\":{\"vendor\":\"beta\"}|"
        "\"network_provider\":\"lora\""}},
      {2 * HOUR}, /* no message, no window */
      {130 * MIN, A("g1"), "{\"zone\": \"a\", \"level\": 4}"},
      {185 * MIN,
       A("g1"),
       "{\"zone\": \"a\", \"level\": 6}",
       {"gov|" WIN("02:00") "|\"n\":1|\"avg\":4|" TIME("03:00")}},
      {4 * HOUR, NULL, NULL, {"gov|" WIN("03:00") "|\"avg\":6"}},
      END}},
    {"a group of several vendors names them mixed",
     "domain: d\nrules:\n  - name: w\n    window: { every: 15m, "
     "aggregate: { n: count() } }\n    to: [gov]\n",
     {{1 * MIN, A("g1"), "{}"},
      {2 * MIN, B("g2"), "{}"},
      {15 * MIN,
       NULL,
       NULL,
       {"gov|\"n\":2|\"source\":{\"vendor\":\"mixed\"}|"
        "\"device_provider\":\"mixed\"|\"network_provider\":\"mixed\"|"
        "\"window_end\":\"2030-01-01T00:15:00.000Z\""}},
      END}},
    {"having keeps only the groups it holds for",
     "domain: d\nrules:\n  - name: w\n    window: { every: 1h, group_by: "
     "[zone], aggregate: { n: count() }, having: n >= 2 }\n    to: [gov]\n",
     {{1 * MIN, A("g1"), "{\"zone\": \"a\"}"},
      {2 * MIN, A("g1"), "{\"zone\": \"a\"}"},
      {3 * MIN, A("g1"), "{\"zone\": \"b\"}"},
      {1 * HOUR, NULL, NULL, {"gov|\"zone\":\"a\"|\"n\":2"}},
      END}},
    {"min_count keeps thin groups from citizens only",
     "domain: d\nrules:\n  - name: w\n    window: { every: 1h, group_by: "
     "[zone], aggregate: { n: count() }, min_count: 2 }\n"
     "    to: [gov, pub]\n",
     {{1 * MIN, A("g1"), "{\"zone\": \"a\"}"},
      {2 * MIN, A("g2"), "{\"zone\": \"a\"}"},
      {3 * MIN, A("g3"), "{\"zone\": \"b\"}"},
      {4 * MIN, A("g3"), "{\"zone\": \"b\"}"}, /* one device, twice */
      {1 * HOUR,
       NULL,
       NULL,
       {"gov|\"zone\":\"a\"", "pub|\"zone\":\"a\"",
        "gov|\"zone\":\"b\"|\"n\":2"}},
      END}},
    {"every aggregate, with nulls",
     "domain: d\nrules:\n  - name: w\n    window:\n      every: 1h\n"
     "      group_by: [zone]\n"
     "      aggregate: { c: count(), cd: count_distinct(level), "
     "s: sum(level), a: avg(level), mn: min(level), mx: max(level), "
     "f: first(level), l: last(level) }\n    to: [gov]\n",
     {{1 * MIN, A("g1"), "{\"zone\": \"a\"}"},
      {2 * MIN, A("g1"), "{\"zone\": \"a\", \"level\": 3}"},
      {3 * MIN, A("g1"), "{\"zone\": \"a\", \"level\": null}"},
      {4 * MIN, A("g1"), "{\"zone\": \"a\", \"level\": 1}"},
      {5 * MIN, A("g1"), "{\"zone\": \"a\", \"level\": 5}"},
      {6 * MIN, A("g1"), "{\"zone\": \"a\", \"level\": 1.0}"},
      {7 * MIN, A("g1"), "{\"zone\": \"a\"}"},
      {8 * MIN, A("g1"), "{\"zone\": \"b\"}"},
      {9 * MIN, A("g1"), "{\"zone\": \"b\", \"level\": null}"},
      {1 * HOUR,
       NULL,
       NULL,
       {"gov|\"zone\":\"a\"|\"c\":7|\"cd\":3|\"s\":10,|\"a\":2.5|\"mn\":1,|"
        "\"mx\":5|\"f\":3|\"l\":1",
        "gov|\"zone\":\"b\"|\"c\":2|\"cd\":0|\"s\":null|\"a\":null|"
        "\"mn\":null|\"mx\":null|\"f\":null|\"l\":null"}},
      END}},
    {"severity over the aggregates",
     "domain: d\nrules:\n  - name: w\n    severity: \"mx > 4 ? 'warning' : "
     "'info'\"\n    window: { every: 1h, group_by: [zone], aggregate: "
     "{ mx: max(level) } }\n    to: [gov]\n",
     {{1 * MIN, A("g1"), "{\"zone\": \"a\", \"level\": 9}"},
      {2 * MIN, A("g1"), "{\"zone\": \"b\", \"level\": 1}"},
      {1 * HOUR,
       NULL,
       NULL,
       {"gov|\"zone\":\"a\"|\"severity\":\"warning\"",
        "gov|\"zone\":\"b\"|\"severity\":\"info\""}},
      END}},
    {"privacy: a private group_by field or aggregate input",
     "domain: d\nrules:\n  - name: w\n    window: { every: 1h, group_by: "
     "[owner, device], aggregate: { n: count(), owners: "
     "count_distinct(owner) } }\n    to: [gov, pub]\n",
     {{1 * MIN, A("g1"), "{\"owner\": \"o-1\"}"},
      {1 * HOUR,
       NULL,
       NULL,
       {"gov|\"owner\":\"o-1\"|\"owners\":1|\"device\":\"g1\"",
        "pub|!owner|\"device\":\"g1\"|\"n\":1"}},
      END}},
};

static void test_windows(void **state)
{
    (void)state;
    sh_scenarios(windows, N_ROWS(windows));
}

/* The same hourly window rule on the night Berlin moves to summer time:
 * the window of 01:00 CET ends at the jump, the next one is 03:00 to
 * 04:00 CEST. The clock starts on 1 January: 31 March is day 89. */
#define DAY89 (89 * 24 * HOUR)
static const struct step dst_steps[] = {
    {DAY89 + 30 * MIN, A("g1"), "{\"level\": 1}"},
    {DAY89 + 1 * HOUR,
     NULL,
     NULL,
     {"gov|\"window_start\":\"2030-03-31T00:00:00.000Z\"|"
      "\"window_end\":\"2030-03-31T01:00:00.000Z\""}},
    {DAY89 + 90 * MIN, A("g1"), "{\"level\": 1}"},
    {DAY89 + 2 * HOUR,
     NULL,
     NULL,
     {"gov|\"window_start\":\"2030-03-31T01:00:00.000Z\"|"
      "\"window_end\":\"2030-03-31T02:00:00.000Z\""}},
};

static void test_window_events_across_dst(void **state)
{
    (void)state;
    struct sh h;
    setenv("CG_TEST_TZ", "Europe/Berlin", 1);
    sh_load(&h, "domain: d\nrules:\n  - name: w\n    window: { every: 1h, "
                "aggregate: { n: count() } }\n    to: [gov]\n");
    sh_steps(&h, "dst", dst_steps, N_ROWS(dst_steps));
    sh_free(&h);
    unsetenv("CG_TEST_TZ");
}

/* ---- alignment ------------------------------------------------------------
 */

struct bounds_case {
    const char *zone, *t, *every, *start, *end;
};

static const struct bounds_case bounds[] = {
    /* Berlin, 31 March 2030: 02:00 CET becomes 03:00 CEST (01:00Z). */
    {"Europe/Berlin", "2030-03-31T00:30:00Z", "1h", "2030-03-31T00:00:00Z",
     "2030-03-31T01:00:00Z"},
    {"Europe/Berlin", "2030-03-31T01:30:00Z", "1h", "2030-03-31T01:00:00Z",
     "2030-03-31T02:00:00Z"},
    {"Europe/Berlin", "2030-03-31T10:00:00Z", "1d", "2030-03-30T23:00:00Z",
     "2030-03-31T22:00:00Z"}, /* 23 hours, midnight to midnight */
    {"Europe/Berlin", "2030-03-31T00:30:00Z", "2h", "2030-03-30T23:00:00Z",
     "2030-03-31T01:00:00Z"}, /* 00:00 CET to the jump */
    {"Europe/Berlin", "2030-03-31T01:30:00Z", "2h", "2030-03-31T01:00:00Z",
     "2030-03-31T02:00:00Z"}, /* the jump to 04:00 CEST */
    /* Berlin, 27 October 2030: 03:00 CEST becomes 02:00 CET (01:00Z). */
    {"Europe/Berlin", "2030-10-26T23:30:00Z", "1h", "2030-10-26T23:00:00Z",
     "2030-10-27T00:00:00Z"},
    {"Europe/Berlin", "2030-10-27T00:30:00Z", "1h", "2030-10-27T00:00:00Z",
     "2030-10-27T01:00:00Z"}, /* 02:00 to 03:00 CEST */
    {"Europe/Berlin", "2030-10-27T01:30:00Z", "1h", "2030-10-27T01:00:00Z",
     "2030-10-27T02:00:00Z"}, /* 02:00 to 03:00 CET, the repeat */
    {"Europe/Berlin", "2030-10-27T12:00:00Z", "1d", "2030-10-26T22:00:00Z",
     "2030-10-27T23:00:00Z"}, /* 25 hours */
    {"Europe/Berlin", "2030-10-27T00:50:00Z", "15m", "2030-10-27T00:45:00Z",
     "2030-10-27T01:00:00Z"},
    {"Europe/Berlin", "2030-10-27T01:05:00Z", "15m", "2030-10-27T01:00:00Z",
     "2030-10-27T01:15:00Z"},
    {"Europe/Berlin", "2030-10-27T00:30:00Z", "2h", "2030-10-27T00:00:00Z",
     "2030-10-27T01:00:00Z"},
    {"Europe/Berlin", "2030-10-27T01:30:00Z", "2h", "2030-10-27T01:00:00Z",
     "2030-10-27T03:00:00Z"},
    {"Europe/Berlin", "2030-06-15T12:34:56Z", "1h", "2030-06-15T12:00:00Z",
     "2030-06-15T13:00:00Z"},
    {"Europe/Berlin", "2030-06-15T12:34:56Z", "1d", "2030-06-14T22:00:00Z",
     "2030-06-15T22:00:00Z"},
    /* New York: a day of 23 and one of 25 hours. */
    {"America/New_York", "2030-03-10T12:00:00Z", "1d", "2030-03-10T05:00:00Z",
     "2030-03-11T04:00:00Z"},
    {"America/New_York", "2030-11-03T12:00:00Z", "1d", "2030-11-03T04:00:00Z",
     "2030-11-04T05:00:00Z"},
    /* Lord Howe changes by half an hour: 02:00 +11 becomes 01:30 +10:30
     * (15:00Z); the hour 01:00 to 02:00 then lasts 90 minutes. */
    {"Australia/Lord_Howe", "2030-04-06T14:45:00Z", "1h",
     "2030-04-06T14:00:00Z", "2030-04-06T15:30:00Z"},
    {"Australia/Lord_Howe", "2030-04-06T15:10:00Z", "1h",
     "2030-04-06T14:00:00Z", "2030-04-06T15:30:00Z"},
    /* ... and 02:00 +10:30 becomes 02:30 +11 (15:30Z). */
    {"Australia/Lord_Howe", "2030-10-05T15:45:00Z", "1h",
     "2030-10-05T15:30:00Z", "2030-10-05T16:00:00Z"},
    /* Kolkata, +05:30 all year: hours start at hh:30Z. */
    {"Asia/Kolkata", "2030-06-15T12:10:00Z", "1h", "2030-06-15T11:30:00Z",
     "2030-06-15T12:30:00Z"},
    {"UTC", "2030-06-15T12:34:56.789Z", "500ms", "2030-06-15T12:34:56.500Z",
     "2030-06-15T12:34:57Z"},
};

static int64_t ms_of(const char *text)
{
    double s;
    assert_int_equal(cg_time_parse(text, strlen(text), &s), CG_OK);
    return (int64_t)llround(s * 1000.0);
}

static void test_alignment(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < N_ROWS(bounds); i++) {
        const struct bounds_case *c = &bounds[i];
        int64_t every, s, e;
        assert_int_equal(cg_duration_parse(c->every, &every), CG_OK);
        cg_time_set_zone(c->zone);
        cg_state_window_bounds(ms_of(c->t), every, &s, &e);
        if (s != ms_of(c->start) || e != ms_of(c->end)) {
            char a[32], b[32];
            cg_time_format((double)s / 1000.0, a);
            cg_time_format((double)e / 1000.0, b);
            fprintf(stderr, "%s %s every %s: got %s to %s\n", c->zone, c->t,
                    c->every, a, b);
            failed++;
        }
    }
    cg_time_set_zone("UTC");
    assert_int_equal(failed, 0);
}

/* Over a whole year, in zones with changes of an hour and of half an
 * hour: every window holds the time it was asked for, and the next
 * window starts where it ends, so windows tile time without gaps. */
static void test_windows_tile_the_year(void **state)
{
    (void)state;
    const char *zones[] = {"Europe/Berlin", "America/New_York",
                           "Australia/Lord_Howe"};
    const int64_t every[] = {15 * MIN, HOUR, 2 * HOUR, 24 * HOUR};
    int64_t from = ms_of("2030-01-01T00:00:00Z");
    int64_t to = ms_of("2031-01-01T00:00:00Z");
    for (size_t z = 0; z < N_ROWS(zones); z++) {
        cg_time_set_zone(zones[z]);
        for (size_t i = 0; i < N_ROWS(every); i++)
            for (int64_t t = from; t < to; t += 11 * MIN) {
                int64_t s, e, s2, e2;
                cg_state_window_bounds(t, every[i], &s, &e);
                assert_true(s <= t && t < e);
                assert_true(e - s <= every[i] + HOUR); /* a 25-hour day */
                cg_state_window_bounds(e, every[i], &s2, &e2);
                assert_true(s2 == e);
            }
    }
    cg_time_set_zone("UTC");
}

/* Window expressions are compiled with the pipeline: every problem is
 * reported at its line and column, all of them in one run. */
static void test_window_compile_errors(void **state)
{
    (void)state;
    struct sh h;
    struct cg_buf b = {0};
    int rc = sh_load_diags(&h,
                           "domain: d\nrules:\n  - name: w\n    window:\n"
                           "      every: 1h\n      group_by: [zone, \"a b\"]\n"
                           "      aggregate:\n        x: avg(avg(level))\n"
                           "        y: level + 1\n        z: count(level)\n"
                           "      having: \"x >\"\n    to: [gov]\n",
                           &b);
    assert_int_equal(rc, CG_EINVAL);
    const char *want[] = {
        "r.yaml:6:27: error: window.group_by: ",
        "r.yaml:8:16: error: window.aggregate.x: ",
        "r.yaml:9:12: error: window.aggregate.y: ",
        "r.yaml:10:12: error: window.aggregate.z: ",
        "r.yaml:11:19: error: window.having: ",
    };
    for (size_t i = 0; i < N_ROWS(want); i++)
        if (!strstr(b.data, want[i]))
            fail_msg("want %s in:\n%s", want[i], b.data);
    cg_buf_free(&b);
    sh_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_window_events_across_dst),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_windows_tile_the_year),
        cmocka_unit_test(test_window_compile_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
