/*
 * Tests for the csv decoder: sensor and meter lines, RFC 4180 quoting,
 * typing and null cells, line ends, separators, every decode_error and
 * option error, and running out of record memory.
 */
#include "fake_host.h"

#define DECODE_ERROR(f, text, part)                                            \
    assert_decode_error(f, text, sizeof(text) - 1, part)

#define COLS3 "{\"columns\":[\"a\",\"b\",\"c\"]}"

static void expect_csv(const char *opts, const char *payload, const char *want)
{
    struct fixture f;
    if (fixture_create(&f, &cg_builtin_decode_csv, opts) != CG_OK)
        fail_msg("%s: %s", opts, f.err);
    if (fixture_decode(&f, payload) != CG_OK)
        fail_msg("'%s': %s", payload, f.out.detail);
    assert_record(&f, want);
    fixture_free(&f);
}

static void test_descriptor(void **state)
{
    const struct cg_plugin *p = &cg_builtin_decode_csv;
    assert_int_equal(p->abi_version, CG_PLUGIN_ABI);
    assert_int_equal(p->struct_size, sizeof(struct cg_plugin));
    assert_string_equal(p->name, "csv");
    assert_string_equal(p->kind, "decoder");
    assert_string_equal(p->options[0].name, "columns");
    assert_int_equal(p->options[0].type, CG_OPT_LIST);
    assert_int_equal(p->options[0].required, 1);
    assert_string_equal(p->options[1].name, "separator");
    assert_int_equal(p->options[1].type, CG_OPT_STRING);
    assert_int_equal(p->options[1].required, 0);
    assert_null(p->options[2].name);
    assert_null(p->deliver);
}

static void test_sensor_and_meter_lines(void **state)
{
    expect_csv("{\"columns\":[\"device\",\"pm25\",\"no2\",\"status\"]}",
               "air-17,37.5,21,ok\n",
               "{\"device\":\"air-17\",\"pm25\":37.5,\"no2\":21,"
               "\"status\":\"ok\"}");
    expect_csv("{\"columns\":[\"meter\",\"ts\",\"kwh\",\"v\",\"alarm\"]}",
               "M-0042,1764490502,12345.678,229.8,false\r\n",
               "{\"meter\":\"M-0042\",\"ts\":1764490502,\"kwh\":12345.678,"
               "\"v\":229.8,\"alarm\":false}");
    expect_csv("{\"columns\":[\"id\",\"kwh\",\"note\"],\"separator\":\";\"}",
               "M-1;12,5;\"a;b\"",
               "{\"id\":\"M-1\",\"kwh\":\"12,5\","
               "\"note\":\"a;b\"}");
}

static void test_cells(void **state)
{
    /* Trimmed and typed like kv values; empty cells are null. */
    expect_csv(COLS3, " 1 ,\t2.5\t, true ", "{\"a\":1,\"b\":2.5,\"c\":true}");
    expect_csv(COLS3, "x,,z", "{\"a\":\"x\",\"b\":null,\"c\":\"z\"}");
    expect_csv(COLS3, ", ,", "{\"a\":null,\"b\":null,\"c\":null}");
    expect_csv(COLS3, "1,2,", "{\"a\":1,\"b\":2,\"c\":null}");
    expect_csv(COLS3, "+5,.5,0x1", "{\"a\":\"+5\",\"b\":\".5\",\"c\":\"0x1\"}");
    expect_csv(COLS3, "9223372036854775808,-0,1e-400",
               "{\"a\":9.223372036854776e+18,\"b\":0,\"c\":0}");
    expect_csv(COLS3, "S\xc3\xa3o Paulo,\xe5\x8c\x97\xe4\xba\xac,x",
               "{\"a\":\"S\xc3\xa3o Paulo\",\"b\":\"\xe5\x8c\x97\xe4\xba\xac\","
               "\"c\":\"x\"}");
}

static void test_quoting(void **state)
{
    /* A quoted cell is always a string; "" inside quotes is a quote. */
    expect_csv(COLS3, "\"42\",\"\",\"true\"",
               "{\"a\":\"42\",\"b\":\"\",\"c\":\"true\"}");
    expect_csv(COLS3, "\"x,y\",\"say \"\"hi\"\"\",\"\"\"\"",
               "{\"a\":\"x,y\",\"b\":\"say \\\"hi\\\"\",\"c\":\"\\\"\"}");
    /* Space outside the quotes goes; space inside stays. */
    expect_csv(COLS3, "  \" a \"  , \"b\"\t,\"\"\n",
               "{\"a\":\" a \",\"b\":\"b\",\"c\":\"\"}");
    expect_csv(COLS3, "\"\",,\"\"", "{\"a\":\"\",\"b\":null,\"c\":\"\"}");
}

static void test_separators(void **state)
{
    expect_csv("{\"columns\":[\"a\",\"b\",\"c\"],\"separator\":\"\\t\"}",
               "1\t \"x\"\t3\n", "{\"a\":1,\"b\":\"x\",\"c\":3}");
    expect_csv("{\"columns\":[\"a\",\"b\",\"c\"],\"separator\":\" \"}", "1 2 x",
               "{\"a\":1,\"b\":2,\"c\":\"x\"}");
    expect_csv("{\"columns\":[\"a\",\"b\",\"c\"],\"separator\":\"|\"}",
               "1|\"a|b\"|", "{\"a\":1,\"b\":\"a|b\",\"c\":null}");
    /* One character, even when it takes several bytes (U+FF1B). */
    expect_csv("{\"columns\":[\"a\",\"b\",\"c\"],\"separator\":\"\\uff1b\"}",
               "1\xef\xbc\x9b"
               "2\xef\xbc\x9bx",
               "{\"a\":1,\"b\":2,\"c\":\"x\"}");
    expect_csv("{\"columns\":[\"only\"]}", "7", "{\"only\":7}");
}

static void test_decode_errors(void **state)
{
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_csv, COLS3), CG_OK);
    DECODE_ERROR(&f, "", "empty payload");
    DECODE_ERROR(&f, "\n", "empty payload");
    DECODE_ERROR(&f, " \r\n", "empty payload");
    DECODE_ERROR(&f, "1,2", "expected 3 cells (columns), got 2");
    DECODE_ERROR(&f, "1", "expected 3 cells (columns), got 1");
    DECODE_ERROR(&f, "1,2,3,4", "expected 3 cells (columns), got 4");
    DECODE_ERROR(&f, "1,2,3,", "expected 3 cells (columns), got 4");
    DECODE_ERROR(&f, "1,2,3\n4,5,6", "more than one line at byte 5");
    DECODE_ERROR(&f, "1,2,3\n\n", "more than one line at byte 5");
    DECODE_ERROR(&f, "1,2,3\r", "more than one line at byte 5");
    DECODE_ERROR(&f, "1,\"a\nb\",3", "line break inside quotes at byte 4");
    DECODE_ERROR(&f, "1,\"a\r\nb\",3", "line break inside quotes at byte 4");
    DECODE_ERROR(&f, "1,\"a\n", "unterminated quote at byte 2");
    DECODE_ERROR(&f, "1,2,\"abc", "unterminated quote at byte 4");
    DECODE_ERROR(&f, "\"", "unterminated quote at byte 0");
    DECODE_ERROR(&f, "\"a\"b,2,3",
                 "unexpected text after a quoted cell at "
                 "byte 3");
    DECODE_ERROR(&f, "\"a\" \"b\",2,3", "unexpected text after a quoted cell");
    DECODE_ERROR(&f, "a\"b,2,3", "quote inside an unquoted cell at byte 1");
    DECODE_ERROR(&f, "1,2,1e999", "number out of range at byte 4");
    DECODE_ERROR(&f, "1,2,\xff", "invalid UTF-8 at byte 4");
    DECODE_ERROR(&f, "1,\"\xc3\",3", "invalid UTF-8 at byte 3");
    DECODE_ERROR(&f, "1,2\0,3", "NUL byte at byte 3");
    fixture_free(&f);
}

static void expect_bad_options(const char *opts, const char *part)
{
    struct fixture f;
    int rc = fixture_create(&f, &cg_builtin_decode_csv, opts);
    if (rc != CG_EINVAL)
        fail_msg("%s: expected an error, got %d", opts, rc);
    if (!strstr(f.err, part))
        fail_msg("%s: reason '%s' lacks '%s'", opts, f.err, part);
    fixture_free(&f);
}

static void test_bad_options(void **state)
{
    const char *list = "columns must be a non-empty list of names";
    expect_bad_options("{}", list);
    expect_bad_options("{\"columns\":\"a,b\"}", list);
    expect_bad_options("{\"columns\":[]}", list);
    expect_bad_options("{\"columns\":[\"a\",1]}",
                       "columns[1] must be a non-empty string");
    expect_bad_options("{\"columns\":[\"a\",\"\"]}",
                       "columns[1] must be a non-empty string");
    expect_bad_options("{\"columns\":[\"a\",\"b\",\"a\"]}",
                       "columns: 'a' appears twice");
    const char *one = "separator must be one character";
    expect_bad_options("{\"columns\":[\"a\"],\"separator\":\",,\"}", one);
    expect_bad_options("{\"columns\":[\"a\"],\"separator\":\"ab\"}", one);
    expect_bad_options("{\"columns\":[\"a\"],\"separator\":\"\"}",
                       "separator must be a non-empty string");
    expect_bad_options("{\"columns\":[\"a\"],\"separator\":5}",
                       "separator must be a non-empty string");
    const char *quote = "separator cannot be a quote or a line break";
    expect_bad_options("{\"columns\":[\"a\"],\"separator\":\"\\\"\"}", quote);
    expect_bad_options("{\"columns\":[\"a\"],\"separator\":\"\\n\"}", quote);
    expect_bad_options("{\"columns\":[\"a\"],\"separator\":\"\\r\"}", quote);
}

/* Hundreds of columns: the duplicate check sorts and names the first
 * name that repeats. */
static void test_many_columns(void **state)
{
    struct cg_buf opts = {0}, line = {0}, want = {0};
    cg_buf_puts(&opts, "{\"columns\":[");
    cg_buf_putc(&want, '{');
    for (int i = 0; i < 500; i++) {
        cg_buf_printf(&opts, "%s\"c%d\"", i ? "," : "", i);
        cg_buf_printf(&line, "%s%d", i ? "," : "", i);
        cg_buf_printf(&want, "%s\"c%d\":%d", i ? "," : "", i, i);
    }
    cg_buf_putc(&want, '}');
    struct cg_buf dup = {0};
    cg_buf_put(&dup, opts.data, opts.len);
    cg_buf_puts(&opts, "]}");
    cg_buf_puts(&dup, ",\"c7\",\"c9\"]}");
    expect_csv(opts.data, line.data, want.data);
    expect_bad_options(dup.data, "columns: 'c7' appears twice");
    cg_buf_free(&opts);
    cg_buf_free(&line);
    cg_buf_free(&want);
    cg_buf_free(&dup);
}

/* The record owns its keys: it stays valid after the instance is gone
 * (a config reload may destroy an instance while records are in use). */
static void test_record_outlives_instance(void **state)
{
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_csv,
                                    "{\"columns\":[\"device\",\"t\"]}"),
                     CG_OK);
    assert_int_equal(fixture_decode(&f, "d-1,21.5"), CG_OK);
    f.plugin->destroy(f.inst);
    f.inst = NULL;
    assert_record(&f, "{\"device\":\"d-1\",\"t\":21.5}");
    fixture_free(&f);
}

static void test_record_alloc_failures(void **state)
{
    static const char line[] = "\"a,b\",x,1.5,,\"\"\"q\"\"\"\r\n";
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_csv,
                                    "{\"columns\":[\"a\",\"b\",\"c\",\"d\","
                                    "\"e\"]}"),
                     CG_OK);
    assert_true(fixture_alloc_failures(&f, line, sizeof(line) - 1) >= 4);
    assert_record(&f, "{\"a\":\"a,b\",\"b\":\"x\",\"c\":1.5,\"d\":null,"
                      "\"e\":\"\\\"q\\\"\"}");
    fixture_free(&f);
    for (long k = 0; k < 2; k++) {
        struct cg_arena *a = cg_arena_new(512);
        struct cg_value opts;
        assert_int_equal(cg_json_parse(COLS3, sizeof(COLS3) - 1,
                                       cg_arena_alloc_fn, a, &opts, NULL, 0),
                         CG_OK);
        void *inst = NULL;
        char err[64];
        cg_mem_fail_after(k); /* the duplicate check, then the instance */
        int rc = cg_builtin_decode_csv.create(&fake_host, &opts, &inst, err,
                                              sizeof(err));
        cg_mem_fail_after(-1);
        assert_int_equal(rc, CG_ENOMEM);
        cg_arena_free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_sensor_and_meter_lines),
        cmocka_unit_test(test_cells),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_many_columns),
        cmocka_unit_test(test_record_outlives_instance),
        cmocka_unit_test(test_record_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
