/*
 * Names derived from the config: spool folders that no two consumers
 * share (issue 9, item 6) and URIs printed without their password
 * (item 9).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

struct folder_case {
    const char *name, *folder;
};

static const struct folder_case folder_cases[] = {
    {"city-ops", "city-ops"},
    {"ops/gov", "ops%2Fgov"},
    {"ops_gov", "ops_gov"},
    {"ops%2Fgov", "ops%252Fgov"},
    {"ops%252Fgov", "ops%25252Fgov"},
    {".x", "%2Ex"},
    {"%2Ex", "%252Ex"},
    {"x.", "x."},
    {"a.b", "a.b"},
    {".", "%2E"},
    {"..", "%2E."},
    {"../../etc", "%2E.%2F..%2Fetc"},
    {".dead-letters", "%2Edead-letters"},
    {"_dead-letters", "_dead-letters"},
    {".mqtt", "%2Emqtt"},
    {"state", "state"},
    {"State", "State"},
    {"a b", "a%20b"},
    {"a\tb", "a%09b"},
    {"a\\b", "a%5Cb"},
    {"caf\xc3\xa9", "caf%C3%A9"},
    {"caf%C3%A9", "caf%25C3%25A9"},
    {"\xe2\x82\xac", "%E2%82%AC"},
    {"a:b*c?", "a%3Ab%2Ac%3F"},
    {"\x7f", "%7F"},
    {"", ""},
};

#define N_FOLDERS (sizeof(folder_cases) / sizeof(folder_cases[0]))

static void test_folder_table(void **state)
{
    char out[256];
    for (size_t i = 0; i < N_FOLDERS; i++) {
        const struct folder_case *c = &folder_cases[i];
        size_t len = cg_consumer_folder(c->name, out, sizeof(out));
        if (strcmp(out, c->folder) || len != strlen(c->folder))
            fail_msg("'%s': want '%s', got '%s' (%zu)", c->name, c->folder, out,
                     len);
        /* Never hidden, never climbing. */
        assert_true(out[0] != '.' && !strchr(out, '/'));
    }
}

/* No two names of the table share a folder. */
static void test_folder_injective(void **state)
{
    char a[256], b[256];
    for (size_t i = 0; i < N_FOLDERS; i++) {
        cg_consumer_folder(folder_cases[i].name, a, sizeof(a));
        for (size_t j = i + 1; j < N_FOLDERS; j++) {
            cg_consumer_folder(folder_cases[j].name, b, sizeof(b));
            if (!strcmp(a, b))
                fail_msg("'%s' and '%s' share the folder '%s'",
                         folder_cases[i].name, folder_cases[j].name, a);
        }
    }
}

/* Every one- and two-byte name: 65,536 names, 65,536 folders. Decoding
 * a folder gives its name back, which proves the mapping injective. */
static void test_folder_decodes(void **state)
{
    char name[3] = {0}, out[16], back[3];
    for (int x = 1; x < 256 * 256; x++) {
        name[0] = (char)(x >> 8 ? x >> 8 : x);
        name[1] = (char)(x >> 8 ? x & 255 : 0);
        if (x >> 8 && !name[1])
            continue;
        cg_consumer_folder(name, out, sizeof(out));
        size_t n = 0;
        for (const char *p = out; *p; n++) {
            unsigned v;
            if (*p == '%') {
                assert_int_equal(sscanf(p + 1, "%2X", &v), 1);
                back[n] = (char)v;
                p += 3;
            } else {
                back[n] = *p++;
            }
        }
        back[n] = '\0';
        assert_string_equal(back, name);
    }
}

/* Like snprintf: the full length comes back, the text is cut to fit. */
static void test_folder_cut(void **state)
{
    char out[6];
    assert_int_equal(cg_consumer_folder("ab/cd", out, sizeof(out)), 7);
    assert_string_equal(out, "ab%2F");
    assert_int_equal(cg_consumer_folder("ab/cd", NULL, 0), 7);
    assert_int_equal(cg_consumer_folder("ab/cd", out, 1), 7);
    assert_string_equal(out, "");
}

struct uri_case {
    const char *uri, *printed;
};

static void test_uri_redacted(void **state)
{
    static const struct uri_case cases[] = {
        {"tcp://user:pass@host:1883", "tcp://user:***@host:1883"},
        {"ssl://u:p@broker.city.example:8883", "ssl://u:***@broker.city."
                                               "example:8883"},
        {"tcp://user@host:1883", "tcp://user@host:1883"},
        {"tcp://host:1883", "tcp://host:1883"},
        {"tcp://:secret@host", "tcp://:***@host"},
        {"tcp://user:@host", "tcp://user:***@host"},
        {"tcp://u:p@ss@host:1883", "tcp://u:***@host:1883"},
        {"https://u:p@h/path?q=1#f", "https://u:***@h/path?q=1#f"},
        {"http://host:8080/a@b:c", "http://host:8080/a@b:c"},
        {"http://host/x?user=a:b@c", "http://host/x?user=a:b@c"},
        {"user:pass@host:1883", "user:***@host:1883"},
        {"", ""},
    };
    char buf[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = cg_uri_redacted(cases[i].uri, buf, sizeof(buf));
        assert_ptr_equal(got, buf);
        if (strcmp(got, cases[i].printed))
            fail_msg("'%s': want '%s', got '%s'", cases[i].uri,
                     cases[i].printed, got);
    }
    char small[12];
    cg_uri_redacted("tcp://user:pass@host", small, sizeof(small));
    assert_string_equal(small, "tcp://user:");
}

struct broker_uri_case {
    const char *uri, *problem; /* a word of the problem, or NULL */
};

static void test_broker_uri_problems(void **state)
{
    static const struct broker_uri_case cases[] = {
        {"tcp://127.0.0.1:1883", NULL},
        {"mqtt://broker.city.example", NULL},
        {"ssl://broker:8883", NULL},
        {"mqtts://[::1]:8883", NULL},
        {"tcp://[fe80::1]", NULL},
        {"tcp://h:65535", NULL},
        {"tcp://h:1", NULL},
        {"http://h:1883", "must start"},
        {"tcp:/h:1883", "must start"},
        {"h:1883", "must start"},
        {"", "must start"},
        {"tcp://alice:secret@h:1883", "user or password"},
        {"tcp://alice@h:1883", "user or password"},
        {"tcp://u:p@ss@h", "user or password"},
        {"tcp://", "no host"},
        {"tcp://:1883", "no host"},
        {"tcp://[]:1883", "no host"},
        {"tcp://[::1:1883", "closing"},
        {"tcp://h:", "port"},
        {"tcp://h:0", "port"},
        {"tcp://h:65536", "port"},
        {"tcp://h:188x", "port"},
        {"tcp://h:-1", "port"},
        {"tcp://h:000001883", "port"},
        {"tcp://h:1883/", "nothing after"},
        {"tcp://h/topic", "nothing after"},
        {"tcp://h:1883?x=1", "nothing after"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = cg_broker_uri_problem(cases[i].uri);
        const char *want = cases[i].problem;
        if (want ? !got || !strstr(got, want) : got != NULL)
            fail_msg("'%s': want %s, got %s", cases[i].uri,
                     want ? want : "no problem", got ? got : "none");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder_table),
        cmocka_unit_test(test_folder_injective),
        cmocka_unit_test(test_folder_decodes),
        cmocka_unit_test(test_folder_cut),
        cmocka_unit_test(test_uri_redacted),
        cmocka_unit_test(test_broker_uri_problems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
