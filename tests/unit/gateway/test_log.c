/*
 * Log lines (gateway/log.c): text and JSON lines with their fields and
 * escapes, a level filter, and the rate limit that keeps dead letters to
 * one line per reason per second while counting every one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base.h"
#include "log.h"

/* Runs fn with stderr sent to a file and returns what it wrote. */
static const char *captured(void (*fn)(void))
{
    static char out[8192];
    char path[] = "/tmp/cg-log-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, sizeof(out) - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return out;
}

static void write_lines(void)
{
    cg_log(CG_LOG_INFO, "intake: connected to %s", "tcp://h:1883");
    cg_log(CG_LOG_DEBUG, "not shown at info");
    cg_log(CG_LOG_WARN, "quote \" backslash \\ tab \t newline \n end");
    cg_log(CG_LOG_ERROR, "topic \xff\xfe bytes");
}

static void test_text_lines(void **state)
{
    (void)state;
    cg_log_setup(CG_LOG_INFO, "box-1");
    cg_log_set_json(false);
    const char *out = captured(write_lines);
    assert_non_null(strstr(out, " box-1 info: intake: connected to "
                                "tcp://h:1883\n"));
    assert_null(strstr(out, "not shown"));
    assert_non_null(strstr(out, " box-1 warn: quote \""));
    assert_non_null(strstr(out, " box-1 error: topic "));
}

/* Each line of the JSON form, with the escapes RFC 8259 wants and bytes
 * that are not UTF-8 replaced. */
static void test_json_lines(void **state)
{
    (void)state;
    cg_log_setup(CG_LOG_INFO, "box \"1\"");
    cg_log_set_json(true);
    const char *out = captured(write_lines);
    cg_log_set_json(false);
    const char *want[] = {
        "\",\"gateway\":\"box \\\"1\\\"\",\"level\":\"info\",\"msg\":\"intake: "
        "connected to tcp://h:1883\"}\n",
        "\"level\":\"warn\",\"msg\":\"quote \\\" backslash \\\\ tab \\u0009 "
        "newline \\n end\"}\n",
        "\"level\":\"error\",\"msg\":\"topic ?? bytes\"}\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(out, want[i]))
            fail_msg("missing %s in %s", want[i], out);
    assert_int_equal(strncmp(out, "{\"time\":\"", 9), 0);
    size_t lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 3);
}

/* A sequence of events at given times, and what each returns. */
struct step {
    double t;
    const char *text;
    uint64_t logged; /* the count the line stands for; 0: held */
    bool flush;      /* a periodic flush instead of an event */
};

static void test_limit_table(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {0.0, "a", 1, false}, /* the first logs at once */
        {0.1, "b", 0, false}, /* held */
        {0.5, "c", 0, false}, /* held */
        {0.9, NULL, 0, true}, /* the second is not over: nothing */
        {1.0, "d", 3, false}, /* the next line carries b, c and itself */
        {1.2, "e", 0, false}, /* held */
        {2.3, NULL, 1, true}, /* the flush reports it, with e's text */
        {2.5, "f", 0, false}, /* within a second of the flush: held */
        {3.3, NULL, 1, true}, /* reported */
        {3.4, NULL, 0, true}, /* nothing held */
        {9.0, "g", 1, false}, /* quiet for long: at once */
    };
    static const char *texts[] = {"a", NULL, NULL, NULL, "d", NULL,
                                  "e", NULL, "f",  NULL, "g"};
    struct cg_log_limit l;
    cg_log_limit_init(&l, 1.0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char out[64] = "";
        uint64_t n = steps[i].flush
                         ? cg_log_limit_flush(&l, steps[i].t, out, sizeof(out))
                         : cg_log_limit_event(&l, steps[i].t, steps[i].text,
                                              out, sizeof(out));
        if (n != steps[i].logged)
            fail_msg("step %zu: want %llu, got %llu", i,
                     (unsigned long long)steps[i].logged,
                     (unsigned long long)n);
        if (texts[i])
            assert_string_equal(out, texts[i]);
    }
    cg_log_limit_destroy(&l);
}

/* However the events fall, every one is counted once and lines are at
 * least a period apart. */
static void test_limit_counts_everything(void **state)
{
    (void)state;
    struct cg_log_limit l;
    cg_log_limit_init(&l, 1.0);
    uint64_t total = 0, lines = 0;
    double last_line = -10, t = 0;
    char out[64];
    for (int i = 0; i < 5000; i++) {
        t += (double)(i % 7) * 0.003;
        uint64_t n = cg_log_limit_event(&l, t, "x", out, sizeof(out));
        if (i % 100 == 0 && !n)
            n = cg_log_limit_flush(&l, t, out, sizeof(out));
        if (n) {
            assert_true(t - last_line >= 1.0);
            last_line = t;
            lines++;
        }
        total += n;
    }
    total += cg_log_limit_flush(&l, t + 10, out, sizeof(out));
    assert_int_equal(total, 5000);
    assert_true(lines <= (uint64_t)t + 2);
    cg_log_limit_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_lines),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_limit_table),
        cmocka_unit_test(test_limit_counts_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
