/*
 * Tests for the lpp decoder: the frames from the Cayenne LPP
 * documentation, every type with its scale, values that print cleanly,
 * base64 payloads, every decode_error and option error, and running out
 * of record memory.
 */
#include <stdlib.h>

#include "fake_host.h"

/* Payloads written as hex, like the Cayenne documentation shows them. */
static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        char byte[3] = {p[0], p[1], 0};
        out[n++] = (uint8_t)strtoul(byte, NULL, 16);
        p += 2;
    }
    return n;
}

static void expect_lpp(const char *opts, const char *hex, const char *want)
{
    uint8_t buf[256];
    size_t n = unhex(hex, buf);
    struct fixture f;
    if (fixture_create(&f, &cg_builtin_decode_lpp, opts) != CG_OK)
        fail_msg("%s: %s", opts, f.err);
    if (fixture_decode_n(&f, buf, n) != CG_OK)
        fail_msg("%s: %s", hex, f.out.detail);
    assert_record(&f, want);
    fixture_free(&f);
}

static void expect_lpp_error(const char *hex, const char *part)
{
    uint8_t buf[256];
    size_t n = unhex(hex, buf);
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_lpp, "{}"), CG_OK);
    assert_decode_error(&f, buf, n, part);
    fixture_free(&f);
}

static void test_descriptor(void **state)
{
    const struct cg_plugin *p = &cg_builtin_decode_lpp;
    assert_int_equal(p->abi_version, CG_PLUGIN_ABI);
    assert_int_equal(p->struct_size, sizeof(struct cg_plugin));
    assert_string_equal(p->name, "lpp");
    assert_string_equal(p->kind, "decoder");
    assert_string_equal(p->options[0].name, "encoding");
    assert_int_equal(p->options[0].type, CG_OPT_STRING);
    assert_int_equal(p->options[0].required, 0);
    assert_null(p->options[1].name);
    assert_null(p->deliver);
}

/* The examples of the Cayenne LPP documentation. */
static void test_cayenne_examples(void **state)
{
    expect_lpp("{}", "03 67 01 10 05 67 00 FF",
               "{\"temperature_3\":27.2,\"temperature_5\":25.5}");
    expect_lpp("{}", "01 67 FF D7", "{\"temperature_1\":-4.1}");
    expect_lpp("{}", "06 71 04 D2 FB 2E 00 00",
               "{\"accelerometer_6\":{\"x\":1.234,\"y\":-1.234,\"z\":0}}");
    expect_lpp("{}", "01 88 06 76 5f f2 96 0a 00 03 e8",
               "{\"gps_1\":{\"lat\":42.3519,\"lon\":-87.9094,\"alt\":10}}");
}

static void test_every_type(void **state)
{
    expect_lpp("{}",
               "00 00 01  01 01 00  02 02 01 36  03 03 FE 0B  04 65 01 F4"
               "05 66 01  06 68 61  07 73 27 7F  08 86 00 64 FF 9C 27 10"
               "09 67 80 00  0A 68 00  FF 02 7F FF",
               "{\"digital_input_0\":1,\"digital_output_1\":0,"
               "\"analog_input_2\":3.1,\"analog_output_3\":-5.01,"
               "\"illuminance_4\":500,\"presence_5\":1,\"humidity_6\":48.5,"
               "\"barometer_7\":1011.1,"
               "\"gyrometer_8\":{\"x\":1,\"y\":-1,\"z\":100},"
               "\"temperature_9\":-3276.8,\"humidity_10\":0,"
               "\"analog_input_255\":327.67}");
    /* Unsigned types use the whole range; integers stay exact. */
    expect_lpp("{}", "01 65 FF FF  02 00 FF  03 68 FF  04 73 FF FF",
               "{\"illuminance_1\":65535,\"digital_input_2\":255,"
               "\"humidity_3\":127.5,\"barometer_4\":6553.5}");
    expect_lpp("{}", "02 88 80 00 00 7F FF FF FF FF FF",
               "{\"gps_2\":{\"lat\":-838.8608,\"lon\":838.8607,"
               "\"alt\":-0.01}}");
    struct fixture f;
    uint8_t buf[16];
    size_t n = unhex("01 65 01 F4 02 67 01 10", buf);
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_lpp, "{}"), CG_OK);
    assert_int_equal(fixture_decode_n(&f, buf, n), CG_OK);
    assert_int_equal(record_field(&f, "illuminance_1")->type, CG_INT);
    assert_int_equal(record_field(&f, "temperature_2")->type, CG_NUM);
    fixture_free(&f);
}

/* The decimal text of raw / 10^digits, as a person writes it. */
static void decimal_text(long raw, int digits, char *out, size_t size)
{
    long scale = 1;
    for (int i = 0; i < digits; i++)
        scale *= 10;
    long whole = labs(raw) / scale, frac = labs(raw) % scale;
    int n = snprintf(out, size, "%s%ld", raw < 0 ? "-" : "", whole);
    if (frac) {
        n += snprintf(out + n, size - (size_t)n, ".%0*ld", digits, frac);
        while (out[n - 1] == '0')
            out[--n] = '\0';
    }
}

/* Every raw value of the scaled 16-bit types prints as its decimal: the
 * decoder divides by a power of ten, never multiplies by 0.1. */
static void test_scaled_values_print_cleanly(void **state)
{
    static const struct {
        uint8_t type;
        int digits;
    } types[] = {{103, 1}, {2, 2}, {113, 3}, {134, 2}};
    struct fixture f;
    assert_int_equal(fixture_create(&f, &cg_builtin_decode_lpp, "{}"), CG_OK);
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (long raw = -32768; raw <= 32767; raw++) {
            uint8_t p[8] = {
                1, types[t].type, (uint8_t)(raw >> 8), (uint8_t)raw, 0, 0, 0,
                0};
            size_t n = types[t].type == 113 || types[t].type == 134 ? 8 : 4;
            assert_int_equal(fixture_decode_n(&f, p, n), CG_OK);
            const struct cg_value *v = &f.out.rec.root.as.members[0].value;
            if (v->type == CG_OBJ)
                v = &v->as.members[0].value;
            struct cg_buf b = {0};
            char want[32];
            cg_json_put_value(&b, v);
            decimal_text(raw, types[t].digits, want, sizeof(want));
            if (strcmp(b.data, want) != 0)
                fail_msg("type %u raw %ld: %s, not %s", types[t].type, raw,
                         b.data, want);
            cg_buf_free(&b);
        }
    }
    fixture_free(&f);
}

static void test_same_type_and_channel_last_wins(void **state)
{
    expect_lpp("{}", "03 67 01 10 05 67 00 FF 03 67 00 FA",
               "{\"temperature_3\":25,\"temperature_5\":25.5}");
    /* Same channel, different types: two fields. */
    expect_lpp("{}", "03 67 01 10 03 68 50",
               "{\"temperature_3\":27.2,\"humidity_3\":40}");
}

static void test_base64(void **state)
{
    struct fixture f;
    assert_int_equal(
        fixture_create(&f, &cg_builtin_decode_lpp, "{\"encoding\":\"base64\"}"),
        CG_OK);
    assert_int_equal(fixture_decode(&f, "A2cBEAVnAP8="), CG_OK);
    assert_record(&f, "{\"temperature_3\":27.2,\"temperature_5\":25.5}");
    assert_int_equal(fixture_decode(&f, " AYgGdl/y\r\nlgoAA+g= \n"), CG_OK);
    assert_record(&f, "{\"gps_1\":{\"lat\":42.3519,\"lon\":-87.9094,"
                      "\"alt\":10}}");
    assert_decode_error(&f, "", 0, "empty payload");
    assert_decode_error(&f, " \n", 2, "empty payload");
    assert_decode_error(&f, "A2cB!AVnAP8=", 12, "invalid base64");
    assert_decode_error(&f, "A", 1, "invalid base64");
    assert_decode_error(&f, "A2c=BEAV", 8, "invalid base64");
    assert_decode_error(&f, "A2cBEAVn", 8,
                        "truncated temperature frame at byte 4 of the "
                        "decoded payload");
    fixture_free(&f);
    assert_int_equal(
        fixture_create(&f, &cg_builtin_decode_lpp, "{\"encoding\":\"raw\"}"),
        CG_OK);
    assert_decode_error(&f, "A2cBEAVnAP8=", 12,
                        "unknown LPP type 50 at byte 1");
    fixture_free(&f);
}

static void test_decode_errors(void **state)
{
    expect_lpp_error("", "empty payload");
    expect_lpp_error("03", "truncated frame at byte 0");
    expect_lpp_error("03 67", "truncated temperature frame at byte 0");
    expect_lpp_error("03 67 01", "truncated temperature frame at byte 0");
    expect_lpp_error("03 67 01 10 05", "truncated frame at byte 4");
    expect_lpp_error("03 67 01 10 05 88 00 00 00 00 00 00 00 00",
                     "truncated gps frame at byte 4");
    expect_lpp_error("06 71 04 D2 FB 2E 00",
                     "truncated accelerometer frame at byte 0");
    expect_lpp_error("03 FF 00", "unknown LPP type 255 at byte 1");
    expect_lpp_error("03 67 01 10 05 04 00", "unknown LPP type 4 at byte 5");
    expect_lpp_error("00 67 01 10 00 8E 00", "unknown LPP type 142 at byte 5");
}

static void expect_bad_options(const char *opts, const char *part)
{
    struct fixture f;
    int rc = fixture_create(&f, &cg_builtin_decode_lpp, opts);
    if (rc != CG_EINVAL)
        fail_msg("%s: expected an error, got %d", opts, rc);
    if (!strstr(f.err, part))
        fail_msg("%s: reason '%s' lacks '%s'", opts, f.err, part);
    fixture_free(&f);
}

static void test_bad_options(void **state)
{
    expect_bad_options("{\"encoding\":\"hex\"}",
                       "encoding must be raw or base64, not 'hex'");
    expect_bad_options("{\"encoding\":\"Base64\"}", "must be raw or base64");
    expect_bad_options("{\"encoding\":\"\"}",
                       "encoding must be a non-empty string");
    expect_bad_options("{\"encoding\":true}",
                       "encoding must be a non-empty string");
}

static void test_record_alloc_failures(void **state)
{
    static const char b64[] = "A2cBEAVnAP8GcQTS+y4AAAGIBnZf8pYKAAPo";
    struct fixture f;
    assert_int_equal(
        fixture_create(&f, &cg_builtin_decode_lpp, "{\"encoding\":\"base64\"}"),
        CG_OK);
    assert_true(fixture_alloc_failures(&f, b64, sizeof(b64) - 1) >= 6);
    assert_record(&f, "{\"temperature_3\":27.2,\"temperature_5\":25.5,"
                      "\"accelerometer_6\":{\"x\":1.234,\"y\":-1.234,\"z\":0},"
                      "\"gps_1\":{\"lat\":42.3519,\"lon\":-87.9094,"
                      "\"alt\":10}}");
    fixture_free(&f);
    struct cg_value opts = {.type = CG_OBJ};
    void *inst = NULL;
    char err[64];
    cg_mem_fail_after(0);
    assert_int_equal(
        cg_builtin_decode_lpp.create(&fake_host, &opts, &inst, err, 64),
        CG_ENOMEM);
    cg_mem_fail_after(-1);
    cg_builtin_decode_lpp.destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_cayenne_examples),
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_scaled_values_print_cleanly),
        cmocka_unit_test(test_same_type_and_channel_last_wins),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_record_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
