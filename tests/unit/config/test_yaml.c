/*
 * YAML within bounds (issue 9, item 2): an alias inside the node it
 * names is refused wherever YAML becomes a value (it used to recurse
 * until the stack overflowed); aliases that expand exponentially are
 * refused in well under a second (they used to take seconds and
 * gigabytes); nesting is bounded like JSON's and deep brackets cost
 * linear time; a reader error (invalid UTF-8) is reported where it is,
 * not at 1:1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#define VENDOR_HEAD                                                            \
    "vendors:\n"                                                               \
    "  - name: acme-air\n"                                                     \
    "    topics: [\"vendors/acme/+/telemetry\"]\n"
#define TAIL                                                                   \
    "consumers:\n  - name: ops\n    role: government\n"                        \
    "rules: [\"rules/*.yaml\"]\n"
#define RULE_HEAD                                                              \
    "domain: d\nrules:\n  - name: r\n    to: [government]\n"                   \
    "    tests:\n      - topic: vendors/acme/1/telemetry\n"

struct yaml_case {
    const char *config; /* NULL: MINIMAL */
    const char *rules;  /* NULL: RULES_OK */
    const char *expect; /* a substring of the diagnostics; NULL: loads */
};

static const struct yaml_case alias_cases[] = {
    /* Every place a mapping becomes a value, and a list. */
    {VENDOR_HEAD "    decoder_options: &o { root: *o }\n" TAIL, NULL,
     "citygate.yaml:4:33: error: YAML: alias '*o' is inside the node it "
     "names (a recursive alias)"},
    {VENDOR_HEAD "consumers:\n  - name: ops\n    sink: plugin:x\n"
                 "    options: &p { a: [1, *p] }\nrules: [\"rules/*.yaml\"]\n",
     NULL,
     "citygate.yaml:7:26: error: YAML: alias '*p' is inside the node it "
     "names"},
    {NULL, RULE_HEAD "        payload: &a { k: *a }\n        expect: []\n",
     "env.yaml:7:26: error: YAML: alias '*a' is inside the node it names"},
    {NULL,
     RULE_HEAD "        payload: '{}'\n        expect: &e [ { k: *e } ]\n",
     "env.yaml:8:27: error: YAML: alias '*e' is inside the node it names"},
    {NULL, RULE_HEAD "        payload: &l [ [ *l ] ]\n        expect: []\n",
     "env.yaml:7:25: error: YAML: alias '*l' is inside the node it names"},
    /* Through the schema tables: a rule that contains itself. */
    {NULL,
     "domain: d\nrules:\n  - &r\n    name: r\n    to: [government]\n"
     "    tests: [ *r ]\n",
     "env.yaml:6:14: error: YAML: alias '*r' is inside the node it names"},
    {NULL, "domain: d\nrules: *nowhere\n",
     "env.yaml:2:8: error: YAML: unknown alias '*nowhere'"},
    /* Aliases that are not recursive still work, also redefined ones. */
    {VENDOR_HEAD "    decoder_options: &o { root: data }\n"
                 "  - name: other\n    topics: [\"o/+\"]\n"
                 "    decoder_options: *o\n" TAIL,
     NULL, NULL},
    {NULL,
     "domain: d\nrules:\n  - name: a\n    to: &to [government]\n"
     "  - name: b\n    to: *to\n  - name: c\n    to: &to [citizen]\n"
     "  - name: e\n    to: *to\n",
     NULL},
};

/* Every case runs; each mismatch is printed, then the test fails. */
static void run_cases(const struct yaml_case *cases, size_t n)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct yaml_case *c = &cases[i];
        int rc;
        const char *out = load(c->config ? c->config : MINIMAL,
                               c->rules ? c->rules : RULES_OK, &rc);
        bool ok = c->expect ? rc == CG_EINVAL && strstr(out, c->expect)
                            : rc == CG_OK && !*out;
        if (!ok)
            print_error("case %zu: want \"%s\"\ngot %d:\n%s", i,
                        c->expect ? c->expect : "", rc, out);
        failed += !ok;
    }
    assert_int_equal(failed, 0);
}

static void test_recursive_aliases(void **state)
{
    run_cases(alias_cases, sizeof(alias_cases) / sizeof(alias_cases[0]));
}

/* Ten aliases to ten aliases ... nine levels down: 10^9 nodes expanded. */
static void test_billion_laughs(void **state)
{
    struct cg_buf b = {0};
    cg_buf_puts(&b, RULE_HEAD "        expect: []\n        payload:\n"
                              "          a0: &a0 [x, x, x, x, x, x, x, x, x, "
                              "x]\n");
    for (int i = 1; i < 10; i++) {
        cg_buf_printf(&b, "          a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++)
            cg_buf_printf(&b, "%s*a%d", k ? ", " : "", i - 1);
        cg_buf_puts(&b, "]\n");
    }
    int rc;
    const char *out = load(MINIMAL, b.data, &rc);
    cg_buf_free(&b);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out, "env.yaml:14:55: error: YAML: alias '*a4': "
                                "the aliases of this file expand past "
                                "1000000 nodes or 16 MiB of text"));
}

/* Text counts too: a 64 KiB scalar copied 300 times is 19 MiB. */
static void test_alias_text_budget(void **state)
{
    struct cg_buf b = {0};
    cg_buf_puts(&b, RULE_HEAD "        expect: []\n        payload:\n"
                              "          big: &big '");
    for (int i = 0; i < 65536; i++)
        cg_buf_putc(&b, 'x');
    cg_buf_puts(&b, "'\n          copies: [");
    for (int i = 0; i < 300; i++)
        cg_buf_puts(&b, i ? ", *big" : "*big");
    cg_buf_puts(&b, "]\n");
    int rc;
    const char *out = load(MINIMAL, b.data, &rc);
    cg_buf_free(&b);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out, "env.yaml:10:"));
    assert_non_null(strstr(out, "error: YAML: alias '*big': the aliases of "
                                "this file expand past"));
}

/* A test payload of n nested lists, in flow style. */
static char *nested_payload(int n)
{
    struct cg_buf b = {0};
    cg_buf_puts(&b, RULE_HEAD "        expect: []\n        payload: ");
    for (int i = 0; i < n; i++)
        cg_buf_putc(&b, '[');
    for (int i = 0; i < n; i++)
        cg_buf_putc(&b, ']');
    cg_buf_putc(&b, '\n');
    return b.data;
}

/* A value nests 64 levels, like JSON: 64 loads, 65 is refused at the
 * node one level too deep. */
static void test_value_depth_bound(void **state)
{
    int rc;
    char *text = nested_payload(64);
    assert_string_equal(load(MINIMAL, text, &rc), "");
    cg_free(text);
    text = nested_payload(65);
    const char *out = load(MINIMAL, text, &rc);
    cg_free(text);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out, "env.yaml:8:82: error: rules[0].tests[0]."
                                "payload: nesting deeper than 64 levels"));
    /* decoder_options, in block style, through an alias. */
    struct cg_buf b = {0};
    cg_buf_puts(&b, VENDOR_HEAD "    decoder_options: &deep\n");
    for (int i = 1; i <= 65; i++)
        cg_buf_printf(&b, "%*sk:\n", 4 + 2 * i, "");
    cg_buf_printf(&b, "%*s1\n", 4 + 2 * 66, "");
    cg_buf_puts(&b, "  - name: b\n    topics: [\"b/+\"]\n"
                    "    decoder_options: *deep\n" TAIL);
    out = load(b.data, RULES_OK, &rc);
    cg_buf_free(&b);
    assert_int_equal(rc, CG_EINVAL);
    /* A block mapping starts at its first key: the 65th "k". */
    assert_non_null(strstr(out, "citygate.yaml:69:135: error: "
                                "vendors[0].decoder_options: nesting deeper "
                                "than 64 levels"));
    assert_non_null(strstr(out, "citygate.yaml:69:135: error: "
                                "vendors[1].decoder_options: nesting deeper"));
}

/* Deep brackets are refused where the document passes 80 levels, at
 * once: libyaml's scanner costs the square of the depth when it reads on
 * (100,000 levels took minutes). */
static void test_deep_brackets_linear(void **state)
{
    int rc;
    char *text = nested_payload(100000);
    /* No clock here (a busy machine is no proof): a scanner that read on
     * would take minutes and meet the test's timeout. */
    const char *out = load(MINIMAL, text, &rc);
    cg_free(text);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out, "env.yaml:8:93: error: YAML: nesting deeper "
                                "than 80 levels"));
}

/* A reader error has no mark, only a byte offset: the position is found
 * in the text (columns count characters). */
static void test_reader_error_position(void **state)
{
    static const struct yaml_case cases[] = {
        {NULL,
         "domain: d\nrules:\n  - name: r\n    description: \"ok \xff\"\n"
         "    to: [government]\n",
         "env.yaml:4:22: error: YAML: invalid leading UTF-8 octet (0xFF)"},
        /* The bad byte is the CR after a lead byte. */
        {NULL, "domain: d\r\nrules:\r\n  - name: \xc3\xa9t\xc3\xa9 \xc3\r\n",
         "env.yaml:3:16: error: YAML: invalid trailing UTF-8 octet (0xD)"},
        {NULL, "domain: d\nrules: []\n# \x01\n",
         "env.yaml:3:3: error: YAML: control characters are not allowed "
         "(0x1)"},
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Only the first document counts, as before; an empty stream is empty. */
static void test_documents(void **state)
{
    static const struct yaml_case cases[] = {
        {NULL, RULES_OK "---\nnot: read\n", NULL},
        {NULL, "# nothing\n", "env.yaml:1:1: error: the file is empty"},
        {NULL, "- a\n", "env.yaml:1:1: error: expected a mapping at the top"},
        {NULL, "domain: d\nrules: [\n",
         "env.yaml:3:1: error: YAML: did not find expected node content "
         "while parsing a flow node"},
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recursive_aliases),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_alias_text_budget),
        cmocka_unit_test(test_value_depth_bound),
        cmocka_unit_test(test_deep_brackets_linear),
        cmocka_unit_test(test_reader_error_position),
        cmocka_unit_test(test_documents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
