/*
 * Time helpers of base/: RFC 3339 parsing and formatting, and the
 * absolute deadlines
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

/* SPEC §12: a `time` that does not parse falls back to `received`, so a
 * date that does not exist must not parse (not roll over into the next
 * month). */
static void test_parse(void **state)
{
    static const struct {
        const char *text;
        int rc;
        double epoch;
    } cases[] = {
        {"2026-02-28T00:00:00Z", CG_OK, 1772236800},
        {"2026-02-29T00:00:00Z", CG_EINVAL, 0}, /* not a leap year */
        {"2028-02-29T00:00:00Z", CG_OK, 1835395200},
        {"2000-02-29T00:00:00Z", CG_OK, 951782400}, /* 400: leap */
        {"2100-02-29T00:00:00Z", CG_EINVAL, 0},     /* 100: not */
        {"2026-02-30T00:00:00Z", CG_EINVAL, 0},
        {"2026-04-31T00:00:00Z", CG_EINVAL, 0},
        {"2026-04-30T23:59:59+02:00", CG_OK, 1777586399},
        {"2026-12-31T23:59:60Z", CG_OK, 1798761600}, /* a leap second */
        {"2026-12-32T00:00:00Z", CG_EINVAL, 0},
        {"2026-13-01T00:00:00Z", CG_EINVAL, 0},
        {"2026-00-10T00:00:00Z", CG_EINVAL, 0},
        {"2026-01-00T00:00:00Z", CG_EINVAL, 0},
        {"2026-01-01T24:00:00Z", CG_EINVAL, 0},
        {"2026-01-01T00:00:00.25z", CG_OK, 1767225600.25},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double t = 0;
        int rc = cg_time_parse(cases[i].text, strlen(cases[i].text), &t);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d", cases[i].text, rc, cases[i].rc);
        if (rc == CG_OK && t != cases[i].epoch)
            fail_msg("%s: %.3f, want %.3f", cases[i].text, t, cases[i].epoch);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
