/*
 * Tests for the kv decoder: meter and sensor lines, value typing, the
 * SPEC §12 fine print (trailing separator, first kv_sep splits, last
 * duplicate wins), custom separators, every decode_error and option
 * error, hostile sizes and running out of record memory.
 */
#include <time.h>

#include "fake_host.h"

#define DECODE_ERROR(f, text, part)                                            \
    assert_decode_error(f, text, sizeof(text) - 1, part)

static void expect_kv(const char *opts, const char *payload, const char *want)
{
    struct fixture f;
    if (fixture_create(&f, &cg_builtin_decode_kv, opts) != CG_OK)
        fail_msg("%s: %s", opts, f.err);
    if (fixture_decode(&f, payload) != CG_OK)
        fail_msg("'%s': %s", payload, f.out.detail);
    assert_record(&f, want);
    fixture_free(&f);
}

static void test_descriptor(void **state)
{
    const struct cg_plugin *p = &cg_builtin_decode_kv;
    assert_int_equal(p->abi_version, CG_PLUGIN_ABI);
    assert_int_equal(p->struct_size, sizeof(struct cg_plugin));
    assert_string_equal(p->name, "kv");
    assert_string_equal(p->kind, "decoder");
    assert_string_equal(p->options[0].name, "pair_sep");
    assert_int_equal(p->options[0].type, CG_OPT_STRING);
    assert_string_equal(p->options[1].name, "kv_sep");
    assert_int_equal(p->options[1].type, CG_OPT_STRING);
    assert_null(p->options[2].name);
    assert_null(p->deliver);
}

static void test_sensor_and_meter_lines(void **state)
{
    expect_kv("{}", "pm25=37.5;no2=21;status=ok",
              "{\"pm25\":37.5,\"no2\":21,\"status\":\"ok\"}");
    expect_kv("{}",
              "meter_id=M-0042;kwh=12345.678;voltage=229.8;alarm=false;"
              "ts=1764490502",
              "{\"meter_id\":\"M-0042\",\"kwh\":12345.678,\"voltage\":229.8,"
              "\"alarm\":false,\"ts\":1764490502}");
    expect_kv("{}", "\xe6\xb8\xa9\xe5\xba\xa6=21.5;city=S\xc3\xa3o Paulo",
              "{\"\xe6\xb8\xa9\xe5\xba\xa6\":21.5,\"city\":\"S\xc3\xa3o "
              "Paulo\"}");
}

static void test_typing(void **state)
{
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_kv, "{}"), CG_OK);
    assert_int_equal(fixture_decode(&f, "i=-1;d=2.5;e=1e3;t=true;f=false;"
                                        "big=9223372036854775808;"
                                        "max=9223372036854775807;tiny=1e-400"),
                     CG_OK);
    assert_int_equal(record_field(&f, "i")->type, CG_INT);
    assert_int_equal(record_field(&f, "i")->as.i, -1);
    assert_int_equal(record_field(&f, "d")->type, CG_NUM);
    assert_true(record_field(&f, "e")->as.num == 1000.0);
    assert_int_equal(record_field(&f, "t")->type, CG_BOOL);
    assert_int_equal(record_field(&f, "t")->as.boolean, 1);
    assert_int_equal(record_field(&f, "f")->as.boolean, 0);
    assert_int_equal(record_field(&f, "big")->type, CG_NUM);
    assert_true(record_field(&f, "max")->as.i == INT64_MAX);
    assert_true(record_field(&f, "tiny")->as.num == 0.0);
    /* Not JSON number syntax, not exactly true/false: strings. */
    assert_int_equal(fixture_decode(&f, "a=+5;b=.5;c=0x10;d=inf;e=nan;f=1.;"
                                        "g=01;h=True;i=1 2;j=-"),
                     CG_OK);
    assert_record(&f, "{\"a\":\"+5\",\"b\":\".5\",\"c\":\"0x10\",\"d\":\"inf\","
                      "\"e\":\"nan\",\"f\":\"1.\",\"g\":\"01\",\"h\":\"True\","
                      "\"i\":\"1 2\",\"j\":\"-\"}");
    fixture_free(&f);
}

static void test_fine_print(void **state)
{
    /* Keys and values are trimmed (spaces, tabs, line ends). */
    expect_kv("{}", " pm25 = 37.5 ;\tok\t=\ttrue ; name = a b ",
              "{\"pm25\":37.5,\"ok\":true,\"name\":\"a b\"}");
    /* A trailing pair separator is ignored. */
    expect_kv("{}", "a=1;", "{\"a\":1}");
    expect_kv("{}", "a=1; \r\n", "{\"a\":1}");
    /* The first kv_sep splits. */
    expect_kv("{}", "a=b=c", "{\"a\":\"b=c\"}");
    expect_kv("{}", "url=http://x/?q=1&r=2", "{\"url\":\"http://x/?q=1&r=2\"}");
    /* Duplicate keys: the last wins, at the first key's position. */
    expect_kv("{}", "a=1;b=2;a=3", "{\"a\":3,\"b\":2}");
    expect_kv("{}", "a=1;a=x;a=true", "{\"a\":true}");
    /* An empty value is the empty string. */
    expect_kv("{}", "a=;b= ;c=1", "{\"a\":\"\",\"b\":\"\",\"c\":1}");
}

static void test_custom_separators(void **state)
{
    expect_kv("{\"pair_sep\":\"&\",\"kv_sep\":\":\"}", "t:21.5&h:40&s:ok",
              "{\"t\":21.5,\"h\":40,\"s\":\"ok\"}");
    expect_kv("{\"pair_sep\":\"&&\",\"kv_sep\":\"=>\"}", "a=>1&&b=>x&y&&",
              "{\"a\":1,\"b\":\"x&y\"}");
    expect_kv("{\"pair_sep\":\"\\n\"}", "t=1\r\nh=2.5\r\nname=x;y\r\n",
              "{\"t\":1,\"h\":2.5,\"name\":\"x;y\"}");
    expect_kv("{\"pair_sep\":\",\"}", "a=1,b=2", "{\"a\":1,\"b\":2}");
    expect_kv("{\"pair_sep\":\" \"}", "a=1 b=2 ", "{\"a\":1,\"b\":2}");
    expect_kv("{\"kv_sep\":\"\\u00b7\"}",
              "a\xc2\xb7"
              "1;b\xc2\xb7x",
              "{\"a\":1,\"b\":\"x\"}");
}

static void test_decode_errors(void **state)
{
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_kv, "{}"), CG_OK);
    DECODE_ERROR(&f, "", "empty payload");
    DECODE_ERROR(&f, " \t\r\n", "empty payload");
    DECODE_ERROR(&f, "status", "pair without '=' at byte 0");
    DECODE_ERROR(&f, "a=1;b", "pair without '=' at byte 4");
    DECODE_ERROR(&f, "a=1; b ;c=2", "pair without '=' at byte 5");
    DECODE_ERROR(&f, "=1", "empty key at byte 0");
    DECODE_ERROR(&f, "a=1; =2", "empty key at byte 5");
    DECODE_ERROR(&f, "a=1;;b=2", "empty pair at byte 4");
    DECODE_ERROR(&f, ";a=1", "empty pair at byte 0");
    DECODE_ERROR(&f, ";", "empty pair at byte 0");
    DECODE_ERROR(&f, "a=1;;", "empty pair at byte 4");
    DECODE_ERROR(&f, "a=1e999", "number out of range at byte 2");
    DECODE_ERROR(&f, "a=1;b=-1e400", "number out of range at byte 6");
    DECODE_ERROR(&f, "a=caf\xe9", "invalid UTF-8 at byte 5");
    DECODE_ERROR(&f, "a=\xc3", "invalid UTF-8 at byte 2");
    DECODE_ERROR(&f, "\xef\xbf", "invalid UTF-8 at byte 0");
    DECODE_ERROR(&f, "a=\xed\xa0\x80", "invalid UTF-8 at byte 2");
    DECODE_ERROR(&f, "a=1\0b=2", "NUL byte at byte 3");
    DECODE_ERROR(&f, "\0", "NUL byte at byte 0");
    fixture_free(&f);
    assert_int_equal(
        fixture_create(&f, &cg_builtin_decode_kv, "{\"kv_sep\":\"=>\"}"),
        CG_OK);
    DECODE_ERROR(&f, "a=1", "pair without '=>' at byte 0");
    fixture_free(&f);
}

static void expect_bad_options(const char *opts, const char *part)
{
    struct fixture f;
    int rc = fixture_create(&f, &cg_builtin_decode_kv, opts);
    if (rc != CG_EINVAL)
        fail_msg("%s: expected an error, got %d", opts, rc);
    if (!strstr(f.err, part))
        fail_msg("%s: reason '%s' lacks '%s'", opts, f.err, part);
    fixture_free(&f);
}

static void test_bad_options(void **state)
{
    expect_bad_options("{\"pair_sep\":\"\"}",
                       "pair_sep must be a non-empty string");
    expect_bad_options("{\"kv_sep\":\"\"}",
                       "kv_sep must be a non-empty string");
    expect_bad_options("{\"kv_sep\":5}", "kv_sep must be a non-empty string");
    expect_bad_options("{\"pair_sep\":\"=\"}", "must differ");
    expect_bad_options("{\"pair_sep\":\":\",\"kv_sep\":\":\"}", "must differ");
}

/* 50,000 pairs with one key repeated: linear-ish, and the last wins. */
static void test_hostile_duplicates(void **state)
{
    struct cg_buf b = {0};
    for (int i = 0; i < 50000; i++)
        cg_buf_printf(&b, "%s=%d;", i % 2 ? "k" : "u", i % 2 ? i : i / 2);
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_kv, "{}"), CG_OK);
    clock_t t0 = clock();
    assert_int_equal(fixture_decode_n(&f, b.data, b.len), CG_OK);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
    assert_record(&f, "{\"u\":24999,\"k\":49999}");
    fixture_free(&f);
    cg_buf_free(&b);
}

static void test_record_alloc_failures(void **state)
{
    static const char line[] = "a=1;b=x;c=true;a=zz;d=2.5;e=f;g=h;i=j;k=l;m=n";
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_kv, "{}"), CG_OK);
    assert_true(fixture_alloc_failures(&f, line, sizeof(line) - 1) > 5);
    assert_string_equal(record_field(&f, "a")->as.str, "zz");
    fixture_free(&f);
    /* A create() that cannot allocate fails cleanly. */
    struct cg_value opts = {.type = CG_OBJ};
    void *inst = NULL;
    char err[64];
    cg_mem_fail_after(0);
    assert_int_equal(
        cg_builtin_decode_kv.create(&fake_host, &opts, &inst, err, 64),
        CG_ENOMEM);
    cg_mem_fail_after(-1);
    cg_builtin_decode_kv.destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_sensor_and_meter_lines),
        cmocka_unit_test(test_typing),
        cmocka_unit_test(test_fine_print),
        cmocka_unit_test(test_custom_separators),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_hostile_duplicates),
        cmocka_unit_test(test_record_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
