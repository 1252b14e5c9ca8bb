/*
 * The time functions (SPEC §14): hour, minute, weekday, date, format_time
 * and the built-in `time`, in a zone with daylight saving time across both
 * of its changes (Europe/Berlin, 2030-03-31 and 2030-10-27), in a zone
 * without (Asia/Shanghai) and in UTC; and between().
 *
 * Each test points the C library at its zone (setenv + tzset), as the
 * gateway does once at start; the library itself never touches TZ. The
 * zones come from the system's tzdata.
 *
 * The instants used, in UTC:
 *   1901149199  2030-03-31T00:59:59Z  the last second of CET (Berlin 01:59)
 *   1901149200  2030-03-31T01:00:00Z  the first of CEST (Berlin 03:00)
 *   1919291400  2030-10-27T00:30:00Z  Berlin 02:30 CEST, the first time
 *   1919293199  2030-10-27T00:59:59Z  the last second of CEST (02:59:59)
 *   1919293200  2030-10-27T01:00:00Z  the first of CET (02:00 again)
 *   1919295000  2030-10-27T01:30:00Z  Berlin 02:30 CET, the second time
 *   1919372400  2030-10-27T23:00:00Z  Berlin midnight, Monday 28th
 *   1893427200  2029-12-31T16:00:00Z  Shanghai midnight, new year 2030
 */
#include <stdlib.h>
#include <time.h>

#include "expr_harness.h"

static void use_zone(const char *zone)
{
    assert_int_equal(setenv("TZ", zone, 1), 0);
    tzset();
}

static const struct expr_case berlin[] = {
    /* spring forward: 02:00 to 02:59 do not exist */
    {"hour(1901149199)", "1", 'i'},
    {"minute(1901149199)", "59", 'i'},
    {"hour(1901149200)", "3", 'i'},
    {"minute(1901149200)", "0", 'i'},
    {"format_time(1901149199, '%H:%M:%S')", "\"01:59:59\""},
    {"format_time(1901149200, '%H:%M:%S')", "\"03:00:00\""},
    {"hour(1901149200) - hour(1901149199)", "2", 'i'},
    {"date(1901149200)", "\"2030-03-31\""},
    {"weekday(1901149200)", "7", 'i'},
    /* fall back: 02:00 to 02:59 happen twice */
    {"hour(1919291400)", "2", 'i'},
    {"minute(1919291400)", "30", 'i'},
    {"hour(1919295000)", "2", 'i'},
    {"minute(1919295000)", "30", 'i'},
    {"format_time(1919293199, '%H:%M:%S')", "\"02:59:59\""},
    {"format_time(1919293200, '%H:%M:%S')", "\"02:00:00\""},
    {"format_time(1919291400, '%Y-%m-%dT%H:%M:%S %j %a %b %%')",
     "\"2030-10-27T02:30:00 300 Sun Oct %\""},
    {"date(1919293200)", "\"2030-10-27\""},
    /* local midnight after the change is 23:00 UTC */
    {"date(1919372399)", "\"2030-10-27\""},
    {"date(1919372400)", "\"2030-10-28\""},
    {"weekday(1919372399)", "7", 'i'},
    {"weekday(1919372400)", "1", 'i'},
    {"hour(1919372400)", "0", 'i'},
    {"format_time(1919372400, '%a %d %b %j')", "\"Mon 28 Oct 301\""},
    /* the event time: 2030-10-27T00:30:00.5Z */
    {"hour(time)", "2", 'i'},
    {"format_time(time, '%H:%M:%S')", "\"02:30:00\""},
    {"format_time(0, 'é %H')", "\"é 01\""},
};

static void test_berlin(void **state)
{
    use_zone("Europe/Berlin");
    run_cases(berlin, N_ROWS(berlin));
}

static const struct expr_case shanghai[] = {
    {"hour(1901149199)", "8", 'i'},
    {"hour(1901149200)", "9", 'i'},
    {"hour(1919291400)", "8", 'i'},
    {"hour(1919295000)", "9", 'i'},
    {"hour(1919293200) - hour(1919293199)", "1", 'i'},
    {"date(1893427199)", "\"2029-12-31\""},
    {"date(1893427200)", "\"2030-01-01\""},
    {"weekday(1893427199)", "1", 'i'},
    {"weekday(1893427200)", "2", 'i'},
    {"format_time(1893427200, '%Y %j %a %b')", "\"2030 001 Tue Jan\""},
    {"format_time(1919372399, '%d %a')", "\"28 Mon\""},
    {"hour(time)", "8", 'i'},
    {"minute(time)", "30", 'i'},
    /* 9999-12-31T23:59:59Z is already year 10000 here */
    {"date(253402300799)", "null"},
    {"date(253402271999)", "\"9999-12-31\""},
};

static void test_shanghai(void **state)
{
    use_zone("Asia/Shanghai");
    run_cases(shanghai, N_ROWS(shanghai));
}

static const struct expr_case utc[] = {
    {"hour(1919291400)", "0", 'i'},
    {"hour(1919293200)", "1", 'i'},
    {"date(1919372400)", "\"2030-10-27\""},
    {"weekday(1919372400)", "7", 'i'},
    {"weekday(0)", "4", 'i'},
    {"format_time(0, '%Y-%m-%d %H:%M:%S')", "\"1970-01-01 00:00:00\""},
    /* fractions drop towards the past */
    {"format_time(1919291400.999, '%S')", "\"00\""},
    {"format_time(-0.5, '%Y-%m-%d %H:%M:%S')", "\"1969-12-31 23:59:59\""},
    {"hour(-1)", "23", 'i'},
    /* years 1 to 9999, always four digits */
    {"date(-62135596800)", "\"0001-01-01\""},
    {"format_time(-62135596800, '%Y %a')", "\"0001 Mon\""},
    {"date(-62135596801)", "null"},
    {"date(253402300799)", "\"9999-12-31\""},
    {"date(253402300800)", "null"},
    {"hour(1e12)", "null"},
    {"hour(-1e12)", "null"},
    {"hour(1e300)", "null"},
    {"hour(9223372036854775807)", "null"},
    {"hour(-9223372036854775808)", "null"},
    /* anything but a number is no time */
    {"hour('1919291400')", "null"},
    {"minute(null)", "null"},
    {"weekday(true)", "null"},
    {"date([0])", "null"},
    {"format_time(s, '%Y')", "null"},
    {"format_time(z, '%Y')", "null"},
    {"format_time(1e308 * 10, '%Y')", "null"},
    {"hour(missing)", "null"},
    /* formats */
    {"format_time(0, '')", "\"\""},
    {"format_time(0, 'no conversion')", "\"no conversion\""},
    {"format_time(0, '%%Y')", "\"%Y\""},
    {"format_time(0, '%%%Y%%')", "\"%1970%\""},
    {"format_time(0, '\\u0025Y')", "\"1970\""},
    {"format_time(1924991999, '%j')", "\"365\""},
    {"format_time(1924991999 + 86400 * 366, '%j %Y')", "\"001 2032\""},
    {"format_time(1924991999 + 86400 * 731, '%j %Y')", "\"366 2032\""},
    {"format_time(now, '%Y-%m-%d')", "\"2023-11-14\""},
    {"date(time)", "\"2030-10-27\""},
    {"time", "1919291400.5", 'n'},
    {"hour(time) == hour(1919291400)", "true"},
};

static void test_utc(void **state)
{
    use_zone("UTC");
    run_cases(utc, N_ROWS(utc));
    run_cases_oom(utc, N_ROWS(utc));
}

/* The zone in force when an expression runs counts, not the one at load:
 * time functions of constants are never folded. */
static void test_not_folded(void **state)
{
    use_zone("UTC");
    struct cg_expr *e;
    assert_int_equal(cg_expr_compile("hour(0)", 7, &e, NULL), CG_OK);
    assert_false(cg_expr_constant(e, NULL));
    struct harness h;
    harness_open(&h, NULL);
    struct cg_value v;
    cg_expr_eval(e, &h.ctx, &v);
    assert_int_equal(v.as.i, 0);
    use_zone("Asia/Shanghai");
    cg_expr_eval(e, &h.ctx, &v);
    assert_int_equal(v.as.i, 8);
    harness_close(&h);
    cg_expr_free(e);
    /* between is no time function: it folds */
    assert_int_equal(cg_expr_compile("between(2, 1, 3)", 16, &e, NULL), CG_OK);
    assert_true(cg_expr_constant(e, &v));
    assert_true(cg_value_is_true(&v));
    cg_expr_free(e);
}

/* `time` reads ctx->time as it is: 0 in an empty context. */
static void test_time_context(void **state)
{
    struct cg_expr *e;
    assert_int_equal(cg_expr_compile("time", 4, &e, NULL), CG_OK);
    struct cg_eval_ctx empty = {0};
    struct cg_value v;
    cg_expr_eval(e, &empty, &v);
    assert_int_equal(v.type, CG_NUM);
    assert_true(v.as.num == 0);
    cg_expr_eval(e, NULL, &v);
    assert_int_equal(v.type, CG_NUM);
    cg_expr_free(e);
    /* a payload field named time is still reachable */
    const struct expr_case hidden[] = {
        {"payload.time", "\"field\"", 0, "{\"time\": \"field\"}"},
        {"payload['time'] + str(time)", "\"field1919291400.5\"", 0,
         "{\"time\": \"field\"}"},
    };
    run_cases(hidden, N_ROWS(hidden));
}

static const struct expr_case between[] = {
    /* numbers, ints and doubles mixed, inclusive at both ends */
    {"between(5, 1, 10)", "true"},
    {"between(1, 1, 10)", "true"},
    {"between(10, 1, 10)", "true"},
    {"between(1, 1, 1)", "true"},
    {"between(0, 1, 10)", "false"},
    {"between(11, 1, 10)", "false"},
    {"between(5, 10, 1)", "false"},
    {"between(1.5, 1, 2)", "true"},
    {"between(2, 1.5, 2.0)", "true"},
    {"between(2.0000001, 1.5, 2)", "false"},
    {"between(-0.5, -1, 0)", "true"},
    {"between(pm25, 50, 100)", "true"},
    {"between(n, 7.0, 7)", "true"},
    {"between(9223372036854775807, 9223372036854775806, "
     "9223372036854775807)",
     "true"},
    /* exact: 2^53 + 1 lies above the double 2^53 */
    {"between(9007199254740993, 9007199254740992.0, 9007199254740992.0)",
     "false"},
    {"between(big, 9.2e18, 1e19)", "true"},
    /* strings, bytewise */
    {"between('b', 'a', 'c')", "true"},
    {"between('a', 'a', 'a')", "true"},
    {"between('ab', 'a', 'b')", "true"},
    {"between('b', 'a', 'ab')", "false"},
    {"between('B', 'a', 'c')", "false"},
    {"between('é', 'a', 'z')", "false"},
    {"between('', '', 'a')", "true"},
    {"between(status, 'a', 'z')", "true"},
    {"between(format_time(0, '%H:%M'), '00:00', '06:00')", "true"},
    /* not all numbers or all strings: false, never null */
    {"between('5', 1, 10)", "false"},
    {"between(5, '1', 10)", "false"},
    {"between(5, 1, '10')", "false"},
    {"between(numstr, 1, 100)", "false"},
    {"between(null, 1, 2)", "false"},
    {"between(1, null, 2)", "false"},
    {"between(1, 0, null)", "false"},
    {"between(null, null, null)", "false"},
    {"between(z, 'a', 'b')", "false"},
    {"between(missing, 1, 2)", "false"},
    {"between(true, false, true)", "false"},
    {"between([1], [0], [2])", "false"},
    {"between(obj, obj, obj)", "false"},
    {"!between(null, 1, 2)", "true"},
};

static void test_between(void **state)
{
    use_zone("UTC");
    run_cases(between, N_ROWS(between));
    run_cases_oom(between, N_ROWS(between));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_berlin),       cmocka_unit_test(test_shanghai),
        cmocka_unit_test(test_utc),          cmocka_unit_test(test_not_folded),
        cmocka_unit_test(test_time_context), cmocka_unit_test(test_between),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
