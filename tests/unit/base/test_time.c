/*
 * Time helpers of base/: RFC 3339 formatting, and the absolute deadlines
 * that the gateway's timed waits take (a wrong carry of nanoseconds
 * would make pthread calls fail with EINVAL or wait a second too long).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base.h"

static double as_seconds(const struct timespec *ts)
{
    return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

static void test_deadlines(void **state)
{
    (void)state;
    const double waits[] = {0, 0.001, 0.25, 0.999999, 1.0, 1.5, 30.0};
    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
        struct timespec ts;
        double before = cg_time_now();
        cg_time_deadline(&ts, waits[i]);
        double after = cg_time_now();
        assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
        /* within the clock's moves around the call, less rounding */
        assert_true(as_seconds(&ts) >= before + waits[i] - 1e-6);
        assert_true(as_seconds(&ts) <= after + waits[i] + 1e-6);
    }
}

static void test_format(void **state)
{
    (void)state;
    char out[32];
    cg_time_format(1796026502.123, out);
    assert_string_equal(out, "2026-11-30T08:15:02.123Z");
    cg_time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
