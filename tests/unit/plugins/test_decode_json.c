/*
 * Tests for the json decoder: the descriptor, records from real payloads,
 * every decode_error of SPEC §2/§12, the `root` option (compiled at
 * create time) and running out of record memory.
 */
#include "fake_host.h"

#define DECODE_ERROR(f, text, part)                                            \
    assert_decode_error(f, text, sizeof(text) - 1, part)

static void test_descriptor(void **state)
{
    const struct cg_plugin *p = &cg_builtin_decode_json;
    assert_int_equal(p->abi_version, CG_PLUGIN_ABI);
    assert_int_equal(p->struct_size, sizeof(struct cg_plugin));
    assert_string_equal(p->name, "json");
    assert_string_equal(p->kind, "decoder");
    assert_string_equal(p->options[0].name, "root");
    assert_int_equal(p->options[0].type, CG_OPT_STRING);
    assert_int_equal(p->options[0].required, 0);
    assert_null(p->options[1].name);
    assert_non_null(p->create);
    assert_non_null(p->destroy);
    assert_non_null(p->decode);
    assert_null(p->deliver);
}

static void test_sensor_payload(void **state)
{
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_json, "{}"), CG_OK);
    assert_int_equal(
        fixture_decode(&f, "{\"device\":\"air-17\",\"pm2_5\":37.5,\"no2\":21,"
                           "\"ok\":true,\"zone\":null,\"tags\":[\"roof\"]}"),
        CG_OK);
    assert_record(&f, "{\"device\":\"air-17\",\"pm2_5\":37.5,\"no2\":21,"
                      "\"ok\":true,\"zone\":null,\"tags\":[\"roof\"]}");
    assert_int_equal(record_field(&f, "no2")->type, CG_INT);
    assert_int_equal(record_field(&f, "pm2_5")->type, CG_NUM);
    /* The same instance decodes message after message. */
    assert_int_equal(fixture_decode(&f, " {\"a\":{\"b\":[1,2]}}\r\n"), CG_OK);
    assert_record(&f, "{\"a\":{\"b\":[1,2]}}");
    assert_int_equal(fixture_decode(&f, "{}"), CG_OK);
    assert_record(&f, "{}");
    fixture_free(&f);
}

static void test_spec_corners(void **state)
{
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_json, "{}"), CG_OK);
    assert_int_equal(fixture_decode(&f, "{\"a\":1,\"b\":2,\"a\":3}"), CG_OK);
    assert_record(&f, "{\"a\":3,\"b\":2}");
    assert_int_equal(
        fixture_decode(&f, "{\"big\":18446744073709551616,"
                           "\"max\":9223372036854775807,\"tiny\":1e-400}"),
        CG_OK);
    assert_int_equal(record_field(&f, "big")->type, CG_NUM);
    assert_true(record_field(&f, "big")->as.num == 18446744073709551616.0);
    assert_int_equal(record_field(&f, "max")->type, CG_INT);
    assert_true(record_field(&f, "max")->as.i == INT64_MAX);
    assert_true(record_field(&f, "tiny")->as.num == 0.0);
    assert_int_equal(fixture_decode(&f, "{\"s\":\"\\u00e9\\ud83d\\ude00\"}"),
                     CG_OK);
    assert_string_equal(record_field(&f, "s")->as.str,
                        "\xc3\xa9\xf0\x9f\x98\x80");
    fixture_free(&f);
}

static void test_depth(void **state)
{
    struct fixture f;
    char text[1024];
    size_t n = 0;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_json, "{}"), CG_OK);
    for (int i = 0; i < 63; i++)
        n += (size_t)sprintf(text + n, "{\"a\":");
    n += (size_t)sprintf(text + n, "[]");
    for (int i = 0; i < 63; i++)
        text[n++] = '}';
    assert_int_equal(fixture_decode_n(&f, text, n), CG_OK); /* 64 levels */
    memmove(text + 5, text, n);
    memcpy(text, "{\"a\":", 5);
    text[n + 5] = '}';
    assert_decode_error(&f, text, n + 6, "nesting deeper than 64");
    fixture_free(&f);
}

static void test_decode_errors(void **state)
{
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_json, "{}"), CG_OK);
    DECODE_ERROR(&f, "", "unexpected end of input");
    DECODE_ERROR(&f, "   ", "unexpected end of input");
    DECODE_ERROR(&f, "[1,2]", "top level is a list, not an object");
    DECODE_ERROR(&f, "\"text\"", "top level is a string, not an object");
    DECODE_ERROR(&f, "42", "top level is a number, not an object");
    DECODE_ERROR(&f, "null", "top level is null, not an object");
    DECODE_ERROR(&f, "\xef\xbb\xbf{}", "byte-order mark");
    DECODE_ERROR(&f, "{\"a\":\"\xc3\x28\"}", "invalid UTF-8 at byte 6");
    DECODE_ERROR(&f, "{\"a\":\"\\u0000\"}", "\\u0000");
    DECODE_ERROR(&f, "{\"a\":\"\\udc00\"}", "lone surrogate");
    DECODE_ERROR(&f, "{\"a\":NaN}", "at byte 5");
    DECODE_ERROR(&f, "{\"a\":Infinity}", "at byte 5");
    DECODE_ERROR(&f, "{\"a\":-Infinity}", "at byte 6");
    DECODE_ERROR(&f, "{\"a\":1}{}", "unexpected data after the value");
    DECODE_ERROR(&f, "{\"a\":1} x", "unexpected data after the value");
    DECODE_ERROR(&f, "{\"a\":1e999}", "number out of range");
    DECODE_ERROR(&f, "{\"a\":\"x\ty\"}", "control character");
    DECODE_ERROR(&f, "{\"a\":01}", "leading zero");
    DECODE_ERROR(&f, "{\"a\":+1}", "at byte 5");
    DECODE_ERROR(&f, "{\"a\":.5}", "at byte 5");
    DECODE_ERROR(&f, "{\"a\":1,}", "expected a string key");
    DECODE_ERROR(&f, "{\"a\" 1}", "invalid JSON at byte 5: expected ':'");
    DECODE_ERROR(&f, "{\"a\":1", "unexpected end of input");
    fixture_free(&f);
}

static void expect_root(const char *opts, const char *payload, const char *want)
{
    struct fixture f;
    if (fixture_create(&f, &cg_builtin_decode_json, opts) != CG_OK)
        fail_msg("%s: %s", opts, f.err);
    if (fixture_decode(&f, payload) != CG_OK)
        fail_msg("%s: %s", opts, f.out.detail);
    assert_record(&f, want);
    fixture_free(&f);
}

static void test_root_paths(void **state)
{
    const char *doc = "{\"data\":{\"readings\":{\"pm\":5}},"
                      "\"items\":[{\"i\":0},{\"i\":1}],"
                      "\"a\":{\"odd key\":{\"k\":1},\"\xc3\xa9\":{\"e\":2},"
                      "\"q\\\"\":{\"q\":3}}}";
    expect_root("{\"root\":\"data.readings\"}", doc, "{\"pm\":5}");
    expect_root("{\"root\":\"data\"}", doc, "{\"readings\":{\"pm\":5}}");
    expect_root("{\"root\":\"items[1]\"}", doc, "{\"i\":1}");
    expect_root("{\"root\":\"items[0]\"}", doc, "{\"i\":0}");
    expect_root("{\"root\":\"a[\\\"odd key\\\"]\"}", doc, "{\"k\":1}");
    expect_root("{\"root\":\"a['odd key']\"}", doc, "{\"k\":1}");
    expect_root("{\"root\":\"a[\\\"\\\\u00e9\\\"]\"}", doc, "{\"e\":2}");
    expect_root("{\"root\":\"a['\\u00e9']\"}", doc, "{\"e\":2}");
    expect_root("{\"root\":\"a['q\\\\\\\"']\"}", doc, "{\"q\":3}");
    expect_root("{\"root\":\" data . readings \"}", doc, "{\"pm\":5}");
    expect_root("{\"root\":\"[\\\"data\\\"][\\\"readings\\\"]\"}", doc,
                "{\"pm\":5}");
    expect_root("{\"root\":\"[1]\"}", "[{\"x\":0},{\"x\":1}]", "{\"x\":1}");
    expect_root("{\"root\":\"items[ 1 ]\"}", doc, "{\"i\":1}");
}

/* A LoRaWAN network server wraps the decoded object in its envelope. */
static void test_root_lorawan_envelope(void **state)
{
    expect_root(
        "{\"root\":\"object\"}",
        "{\"deduplicationId\":\"3ac7e3c4\",\"time\":\"2026-11-30T08:15:02Z\","
        "\"deviceInfo\":{\"devEui\":\"0004a30b001c0530\"},\"fPort\":2,"
        "\"object\":{\"temperature\":21.5,\"humidity\":48},"
        "\"rxInfo\":[{\"rssi\":-57,\"snr\":9.5}]}",
        "{\"temperature\":21.5,\"humidity\":48}");
}

static void test_root_decode_errors(void **state)
{
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_json,
                                    "{\"root\":\"data.readings\"}"),
                     CG_OK);
    DECODE_ERROR(&f, "{\"data\":{}}", "root data.readings not found");
    DECODE_ERROR(&f, "{\"data\":[1]}", "root data.readings not found");
    DECODE_ERROR(&f, "{\"other\":1}", "root data.readings not found");
    DECODE_ERROR(&f, "{\"data\":{\"readings\":[1]}}",
                 "root data.readings is a list, not an object");
    DECODE_ERROR(&f, "{\"data\":{\"readings\":7}}",
                 "root data.readings is a number, not an object");
    DECODE_ERROR(&f, "[]", "root data.readings not found");
    DECODE_ERROR(&f, "{\"data\":", "unexpected end of input");
    fixture_free(&f);
    assert_int_equal(
        fixture_create(&f, &cg_builtin_decode_json, "{\"root\":\"items[2]\"}"),
        CG_OK);
    DECODE_ERROR(&f, "{\"items\":[{},{}]}", "root items[2] not found");
    DECODE_ERROR(&f, "{\"items\":{\"2\":{}}}", "root items[2] not found");
    fixture_free(&f);
}

static void expect_bad_root(const char *opts, const char *part)
{
    struct fixture f;
    int rc = fixture_create(&f, &cg_builtin_decode_json, opts);
    if (rc != CG_EINVAL)
        fail_msg("%s: expected an error, got %d", opts, rc);
    if (!strstr(f.err, part))
        fail_msg("%s: reason '%s' lacks '%s'", opts, f.err, part);
    assert_null(f.inst);
    fixture_free(&f);
}

static void test_bad_root_options(void **state)
{
    expect_bad_root("{\"root\":\"\"}", "root must be a non-empty string");
    expect_bad_root("{\"root\":5}", "root must be a non-empty string");
    expect_bad_root("{\"root\":\"  \"}", "root: empty path at column 3");
    expect_bad_root("{\"root\":\"a.\"}", "root: expected a name at column 3");
    expect_bad_root("{\"root\":\"a..b\"}", "expected a name at column 3");
    expect_bad_root("{\"root\":\"1a\"}", "expected a name at column 1");
    expect_bad_root("{\"root\":\"a b\"}", "expected '.' or '[' at column 3");
    expect_bad_root("{\"root\":\"a[\"}", "expected an index or a quoted name");
    expect_bad_root("{\"root\":\"a[x]\"}", "expected an index or a quoted");
    expect_bad_root("{\"root\":\"a[-1]\"}", "expected an index or a quoted");
    expect_bad_root("{\"root\":\"a[1\"}", "expected ']' at column 4");
    expect_bad_root("{\"root\":\"a[99999999999]\"}", "index too large");
    expect_bad_root("{\"root\":\"a['x\"}", "unterminated string");
    expect_bad_root("{\"root\":\"a['x'\"}", "expected ']'");
    expect_bad_root("{\"root\":\"a['\\\\q']\"}", "invalid escape");
    expect_bad_root("{\"root\":\"a['\\\\u0000']\"}", "invalid escape");
    expect_bad_root("{\"root\":\"a['\\\\ud800']\"}", "invalid escape");
    expect_bad_root("{\"root\":\"a['\\\\u12']\"}", "invalid escape");
    expect_bad_root("{\"root\":\"a-b\"}", "expected '.' or '['");
}

static void test_record_alloc_failures(void **state)
{
    static const char doc[] =
        "{\"d\":{\"id\":\"x-1\",\"v\":[1,2,{\"k\":\"s\"}],"
        "\"e\":{}},\"d\":{\"id\":\"x-2\"}}";
    struct fixture f;
    assert_int_equal(
        fixture_create(&f, &cg_builtin_decode_json, "{\"root\":\"d\"}"), CG_OK);
    assert_true(fixture_alloc_failures(&f, doc, sizeof(doc) - 1) > 3);
    assert_record(&f, "{\"id\":\"x-2\"}");
    fixture_free(&f);
}

static void test_create_alloc_failure(void **state)
{
    struct cg_arena *a = cg_arena_new(1024);
    struct cg_value opts;
    assert_int_equal(cg_json_parse("{\"root\":\"a.b\"}", 14, cg_arena_alloc_fn,
                                   a, &opts, NULL, 0),
                     CG_OK);
    void *inst = NULL;
    char err[64];
    cg_mem_fail_after(0);
    int rc = cg_builtin_decode_json.create(&fake_host, &opts, &inst, err,
                                           sizeof(err));
    cg_mem_fail_after(-1);
    assert_int_equal(rc, CG_ENOMEM);
    assert_int_equal(cg_builtin_decode_json.create(&fake_host, &opts, &inst,
                                                   err, sizeof(err)),
                     CG_OK);
    cg_builtin_decode_json.destroy(inst);
    cg_builtin_decode_json.destroy(NULL); /* like every _free */
    cg_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_sensor_payload),
        cmocka_unit_test(test_spec_corners),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_root_paths),
        cmocka_unit_test(test_root_lorawan_envelope),
        cmocka_unit_test(test_root_decode_errors),
        cmocka_unit_test(test_bad_root_options),
        cmocka_unit_test(test_record_alloc_failures),
        cmocka_unit_test(test_create_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
