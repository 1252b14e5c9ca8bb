/*
 * Diagnostics: errors and warnings keep their order, print with their
 * kind ("error:" exactly as before warnings existed), and only errors
 * count as errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base.h"

static void test_format(void **state)
{
    struct cg_diags d = {0};
    cg_diags_add(&d, "a.yaml", 3, 7, "bad %s", "key");
    cg_diags_warn(&d, "a.yaml", 4, 1, "readable by others: chmod %d", 600);
    cg_diags_add(&d, "b.yaml", 0, 0, "cannot read");
    cg_diags_warn(&d, "b.yaml", 0, 0, "odd");
    cg_diags_add(&d, NULL, 0, 0, "out of memory");
    cg_diags_warn(&d, NULL, 0, 0, "careful");
    struct cg_buf b = {0};
    cg_diags_format(&d, &b);
    assert_string_equal(b.data, "a.yaml:3:7: error: bad key\n"
                                "a.yaml:4:1: warning: readable by others: "
                                "chmod 600\n"
                                "b.yaml: error: cannot read\n"
                                "b.yaml: warning: odd\n"
                                "error: out of memory\n"
                                "warning: careful\n");
    assert_int_equal(d.n, 6);
    assert_int_equal(cg_diags_errors(&d), 3);
    assert_int_equal(d.items[0].severity, CG_DIAG_ERROR);
    assert_int_equal(d.items[1].severity, CG_DIAG_WARNING);
    cg_buf_free(&b);
    cg_diags_free(&d);
    assert_int_equal(cg_diags_errors(&d), 0);
}

/* va_list callers add errors, as before. */
static void vadd(struct cg_diags *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_diags_vadd(d, "c.yaml", 1, 2, fmt, ap);
    va_end(ap);
}

static void test_vadd_is_an_error(void **state)
{
    struct cg_diags d = {0};
    vadd(&d, "%d problems", 2);
    cg_diags_warn(&d, "c.yaml", 1, 1, "w");
    assert_int_equal(cg_diags_errors(&d), 1);
    assert_string_equal(d.items[0].msg, "2 problems");
    cg_diags_free(&d);
}

/* A long message is kept whole: a message that quotes an expression or
 * a path must not end mid-word. */
static void test_long_message(void **state)
{
    struct cg_diags d = {0};
    char text[900];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    cg_diags_add(&d, "e.yaml", 1, 1, "the expression \"%s\" is long", text);
    assert_int_equal(d.n, 1);
    assert_int_equal(strlen(d.items[0].msg), strlen(text) + 25);
    assert_non_null(strstr(d.items[0].msg, "x\" is long"));
    cg_diags_free(&d);
}

/* Out of memory, a diagnostic is dropped, never half written. */
static void test_out_of_memory(void **state)
{
    struct cg_diags d = {0};
    cg_mem_fail_after(0);
    cg_diags_warn(&d, "d.yaml", 1, 1, "w");
    cg_mem_fail_after(-1);
    assert_int_equal(d.n, 0);
    cg_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_vadd_is_an_error),
        cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
