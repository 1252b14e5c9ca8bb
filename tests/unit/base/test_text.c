/*
 * UTF-8 decoding (base/text.c), the one decoder that topic templates and
 * CAP's XML text share: every valid sequence length, and every kind of
 * invalid one (overlong, surrogate, beyond U+10FFFF, truncated, a stray
 * continuation byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base.h"

static void test_utf8_decode(void **state)
{
    static const struct {
        const char *s;
        size_t len; /* 0: invalid */
        uint32_t cp;
    } cases[] = {
        {"A", 1, 0x41},
        {"\xC3\xA9", 2, 0xE9},            /* é */
        {"\xE2\x82\xAC", 3, 0x20AC},      /* € */
        {"\xF0\x9F\x9A\xA6", 4, 0x1F6A6}, /* a traffic light */
        {"\xC2\x85", 2, 0x85},            /* C1: valid UTF-8 */
        {"\xEF\xBF\xBF", 3, 0xFFFF},      /* a noncharacter, valid */
        {"\xF4\x8F\xBF\xBF", 4, 0x10FFFF},
        {"\xC0\xAF", 0, 0},         /* overlong '/' */
        {"\xE0\x80\xAF", 0, 0},     /* overlong, three bytes */
        {"\xED\xA0\x80", 0, 0},     /* a surrogate */
        {"\xF4\x90\x80\x80", 0, 0}, /* beyond U+10FFFF */
        {"\xE2\x82", 0, 0},         /* truncated */
        {"\x80", 0, 0},             /* a stray continuation */
        {"\xC3\x28", 0, 0},         /* a bad continuation */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t cp = 0;
        size_t len = cg_utf8_decode(cases[i].s, strlen(cases[i].s), &cp);
        if (len != cases[i].len || (len && cp != cases[i].cp))
            fail_msg("case %zu: want %zu U+%04X, got %zu U+%04X", i,
                     cases[i].len, (unsigned)cases[i].cp, len, (unsigned)cp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
