/*
 * Rates for the live page and the STATUS line (gateway/rates.c): a rate is
 * the change of a counter over the last samples divided by the time they
 * span; a counter seen once has no rate yet, a counter that goes back
 * reads 0, counters a sample leaves out are forgotten, and a failed
 * allocation costs a rate, not the gateway.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "run.h"

/* One counter's values, one per second from t = 0, and the rate wanted
 * after the last. */
struct rate_case {
    const char *name;
    uint64_t values[10];
    size_t n;
    double want;
};

static const struct rate_case cases[] = {
    {"seen once", {5}, 1, 0},
    {"steady 10/s", {0, 10, 20, 30}, 4, 10},
    {"burst then quiet", {0, 50, 50, 50}, 4, 50.0 / 3},
    {"window of five", {0, 0, 0, 0, 0, 0, 100, 200, 300, 400}, 10, 80},
    {"old burst left the window", {0, 600, 600, 600, 600, 600, 600}, 7, 0},
    {"counter went back", {10, 20, 5}, 3, 0},
};

static void test_rates_table(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct gw_rates r = {0};
        for (size_t i = 0; i < cases[c].n; i++) {
            gw__rates_begin(&r, (double)i);
            assert_int_equal(gw__rates_put(&r, GW_RATE_TOTAL, "messages",
                                           cases[c].values[i]),
                             CG_OK);
            gw__rates_end(&r);
        }
        double got = gw__rates_get(&r, GW_RATE_TOTAL, "messages");
        if (got < cases[c].want - 1e-9 || got > cases[c].want + 1e-9)
            fail_msg("%s: want %g, got %g", cases[c].name, cases[c].want, got);
        gw__rates_free(&r);
    }
}

/* Kinds keep counters of the same name apart; one a sample leaves out is
 * forgotten and starts afresh when it comes back. */
static void test_kinds_and_forgetting(void **state)
{
    (void)state;
    struct gw_rates r = {0};
    for (int i = 0; i < 3; i++) {
        gw__rates_begin(&r, i);
        gw__rates_put(&r, GW_RATE_DOMAIN_MESSAGES, "water", 10u * i);
        gw__rates_put(&r, GW_RATE_DOMAIN_EVENTS, "water", 30u * i);
        gw__rates_put(&r, GW_RATE_CONSUMER, "ops", 5u * i);
        gw__rates_end(&r);
    }
    assert_true(gw__rates_get(&r, GW_RATE_DOMAIN_MESSAGES, "water") == 10);
    assert_true(gw__rates_get(&r, GW_RATE_DOMAIN_EVENTS, "water") == 30);
    assert_true(gw__rates_get(&r, GW_RATE_CONSUMER, "ops") == 5);
    assert_true(gw__rates_get(&r, GW_RATE_CONSUMER, "water") == 0);
    gw__rates_begin(&r, 3); /* a reload removed the consumer */
    gw__rates_put(&r, GW_RATE_DOMAIN_MESSAGES, "water", 30);
    gw__rates_put(&r, GW_RATE_DOMAIN_EVENTS, "water", 90);
    gw__rates_end(&r);
    assert_int_equal(r.n, 2);
    assert_true(gw__rates_get(&r, GW_RATE_CONSUMER, "ops") == 0);
    gw__rates_begin(&r, 4); /* ... and a later one brought it back */
    gw__rates_put(&r, GW_RATE_DOMAIN_MESSAGES, "water", 40);
    gw__rates_put(&r, GW_RATE_DOMAIN_EVENTS, "water", 120);
    gw__rates_put(&r, GW_RATE_CONSUMER, "ops", 500);
    gw__rates_end(&r);
    assert_true(gw__rates_get(&r, GW_RATE_CONSUMER, "ops") == 0);
    assert_true(gw__rates_get(&r, GW_RATE_DOMAIN_MESSAGES, "water") == 10);
    gw__rates_free(&r);
}

static void test_allocation_failure(void **state)
{
    (void)state;
    struct gw_rates r = {0};
    gw__rates_begin(&r, 0);
    cg_mem_fail_after(0);
    assert_int_equal(gw__rates_put(&r, GW_RATE_TOTAL, "events", 1), CG_ENOMEM);
    cg_mem_fail_after(-1);
    gw__rates_end(&r);
    assert_true(gw__rates_get(&r, GW_RATE_TOTAL, "events") == 0);
    gw__rates_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_table),
        cmocka_unit_test(test_kinds_and_forgetting),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
