/*
 * Output formats (SPEC §15): NGSI-LD entities for every kind of field
 * value, ids and type names, location only from numeric lat/lon,
 * refDevice only where the device is visible; CAP alerts for each domain
 * default and severity, escaping, times, Alert and Cancel. Every CAP
 * document is validated with xmllint against tests/data/cap/cap12.xsd
 * (the CAP 1.2 rules SPEC §15 lists), every NGSI-LD entity parsed as JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipeline/format.h"

#define HAS(s, sub)                                                            \
    do {                                                                       \
        if (!strstr((s), (sub)))                                               \
            fail_msg("want %s\nin  %s", (sub), (s));                           \
    } while (0)
#define LACKS(s, sub)                                                          \
    do {                                                                       \
        if (strstr((s), (sub)))                                                \
            fail_msg("unwanted %s\nin  %s", (sub), (s));                       \
    } while (0)

static struct cg_arena *arena;

static int setup(void **state)
{
    arena = cg_arena_new(1 << 16);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    cg_arena_free(arena);
    return 0;
}

/* The data object of a view, from JSON. */
static struct cg_value data_of(const char *json)
{
    struct cg_value v;
    char err[128];
    assert_int_equal(cg_json_parse(json, strlen(json), cg_arena_alloc_fn, arena,
                                   &v, err, sizeof(err)),
                     CG_OK);
    return v;
}

static struct event_view view(const char *data)
{
    struct event_view v = {
        .id = "9f2c4e1a0b7d3e55",
        .time = "2026-11-30T08:15:02.123Z",
        .epoch = 1796026502.123,
        .gateway = "edge-box-01",
        .domain = "environment",
        .type = "air_quality.pm25_high",
        .rule = "environment/pm25-high",
        .rule_name = "pm25-high",
        .description = "PM2.5 above the WHO guideline",
        .severity = CG_SEV_CRITICAL,
        .vendor = "aircheck",
        .network = "nbiot-telecom",
        .consumer = "ministry",
        .device = "aq-7",
        .key = "aq-7",
        .data = data_of(data),
    };
    return v;
}

static struct cg_value parse(const struct cg_buf *b)
{
    assert_false(b->oom);
    assert_null(memchr(b->data, '\n', b->len)); /* one line */
    return data_of(b->data);
}

static const struct cg_value *member(const struct cg_value *o, const char *k)
{
    return cg_value_member(o, k, strlen(k));
}

/* ---- NGSI-LD ---------------------------------------------------------- */

static void test_ngsi_type_names(void **state)
{
    static const struct {
        const char *ngsi_type, *event_type, *want;
    } cases[] = {
        {NULL, "air_quality.pm25_high", "AirQualityPm25High"},
        {NULL, "flood-warning", "FloodWarning"},
        {NULL, "summary", "Summary"},
        {"AirQualityObserved", "air_quality.summary", "AirQualityObserved"},
        {NULL, "...", "Event"},
        /* UTF-8 letters stay whole; only ASCII letters change case. */
        {NULL, "température.élevée", "Températureélevée"},
        {NULL, "niveau_d'eau", "NiveauDEau"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cg_buf b = {0};
        format__ngsi_type(cases[i].ngsi_type, cases[i].event_type, &b);
        assert_string_equal(b.data, cases[i].want);
        cg_buf_free(&b);
    }
}

static void test_ngsi_every_value_kind(void **state)
{
    struct event_view v = view("{\"pm25\": 80.2, \"n\": 3, \"band\": \"poor\","
                               " \"ok\": false, \"gone\": null,"
                               " \"obj\": {\"a\": 1}, \"list\": [1, \"x\"]}");
    struct format_consumer c = {CG_FORMAT_NGSI_LD, NULL, 0, NULL};
    struct cg_buf b = {0};
    format__ngsi(&v, "AirQualityObserved", &c, &b);
    struct cg_value e = parse(&b);
    assert_string_equal(member(&e, "id")->as.str,
                        "urn:ngsi-ld:AirQualityObserved:edge-box-01:aq-7");
    assert_string_equal(member(&e, "type")->as.str, "AirQualityObserved");
    const char *props[] = {"pm25", "n", "band", "ok", "obj", "list"};
    for (size_t i = 0; i < 6; i++) {
        const struct cg_value *p = member(&e, props[i]);
        assert_non_null(p);
        assert_string_equal(member(p, "type")->as.str, "Property");
        assert_non_null(member(p, "value"));
        assert_string_equal(member(p, "observedAt")->as.str, v.time);
    }
    assert_null(member(&e, "gone")); /* null fields are left out */
    assert_int_equal(member(member(&e, "list"), "value")->len, 2);
    assert_null(member(&e, "location"));
    const struct cg_value *ref = member(&e, "refDevice");
    assert_string_equal(member(ref, "type")->as.str, "Relationship");
    assert_string_equal(member(ref, "object")->as.str,
                        "urn:ngsi-ld:Device:aircheck:aq-7");
    const struct cg_value *chain = member(member(&e, "chain"), "value");
    assert_string_equal(member(chain, "application_provider")->as.str,
                        "ministry");
    assert_string_equal(member(chain, "network_provider")->as.str,
                        "nbiot-telecom");
    const struct cg_value *ctx = member(&e, "@context");
    assert_int_equal(ctx->type, CG_LIST);
    HAS(ctx->as.items[0].as.str, "ngsi-ld-core-context");
    cg_buf_free(&b);
    /* NGSI-LD has no null values: no network, no network_provider. */
    v.network = NULL;
    format__ngsi(&v, NULL, &c, &b);
    LACKS(b.data, "null");
    LACKS(b.data, "network_provider");
    cg_buf_free(&b);
}

static void test_ngsi_location_and_hidden_device(void **state)
{
    struct event_view v = view("{\"lat\": 39.9, \"lon\": 116.4, \"pm10\": 60}");
    const char *ctx[] = {"https://smartdatamodels.org/context.jsonld"};
    struct format_consumer c = {CG_FORMAT_NGSI_LD, ctx, 1, NULL};
    v.device = NULL; /* this consumer may not see it: a hash keys it */
    v.key = "5b1e0f3a9c2d4e71";
    struct cg_buf b = {0};
    format__ngsi(&v, NULL, &c, &b);
    struct cg_value e = parse(&b);
    HAS(member(&e, "id")->as.str, ":5b1e0f3a9c2d4e71");
    const struct cg_value *loc = member(&e, "location");
    assert_string_equal(member(loc, "type")->as.str, "GeoProperty");
    const struct cg_value *coord = member(member(loc, "value"), "coordinates");
    assert_true(cg_value_to_double(&coord->as.items[0]) == 116.4);
    assert_true(cg_value_to_double(&coord->as.items[1]) == 39.9);
    assert_null(member(&e, "lat"));
    assert_null(member(&e, "refDevice"));
    LACKS(b.data, "aq-7");
    assert_string_equal(member(&e, "@context")->as.items[0].as.str, ctx[0]);
    cg_buf_free(&b);
    /* A lat that is not a number makes no location. */
    v = view("{\"lat\": \"39.9\", \"lon\": 116.4}");
    b = (struct cg_buf){0};
    format__ngsi(&v, NULL, &c, &b);
    e = parse(&b);
    assert_null(member(&e, "location"));
    assert_non_null(member(&e, "lat"));
    cg_buf_free(&b);
}

static void test_ngsi_ids_are_urn_safe(void **state)
{
    struct event_view v = view("{}");
    v.key = "bay 7:a/b";
    struct format_consumer c = {CG_FORMAT_NGSI_LD, NULL, 0, NULL};
    struct cg_buf b = {0};
    format__ngsi(&v, NULL, &c, &b);
    struct cg_value e = parse(&b);
    assert_string_equal(member(&e, "id")->as.str,
                        "urn:ngsi-ld:AirQualityPm25High:edge-box-01:"
                        "bay%207%3Aa%2Fb");
    cg_buf_free(&b);
}

/* ---- CAP ------------------------------------------------------------------
 */

/* Validates one document against the CAP 1.2 schema with xmllint. */
static void assert_valid_cap(const char *xml)
{
    if (system("command -v xmllint >/dev/null 2>&1") != 0) {
        print_message("xmllint missing: CAP not validated\n");
        return;
    }
    char path[] = "/tmp/cg-cap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "xmllint --noout --schema %s/cap/cap12.xsd %s 2>&1 | grep -v "
             "validates",
             CG_TEST_DATA, path);
    FILE *p = popen(cmd, "r");
    char out[2048] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    unlink(path);
    if (n)
        fail_msg("invalid CAP: %s\n%s", out, xml);
}

static void cap(const struct event_view *v, const struct cap_rule *r,
                const struct format_consumer *c, struct cg_buf *b)
{
    format__cap(v, r, c, b);
    assert_false(b->oom);
    assert_null(memchr(b->data, '\n', b->len));
    assert_valid_cap(b->data);
}

static void test_cap_domain_defaults_and_severities(void **state)
{
    static const struct {
        const char *domain, *category;
        int severity;
        const char *cap_severity, *urgency;
    } cases[] = {
        {"environment", "Env", CG_SEV_CRITICAL, "Severe", "Immediate"},
        {"transport", "Transport", CG_SEV_WARNING, "Moderate", "Expected"},
        {"public-safety", "Safety", CG_SEV_INFO, "Minor", "Expected"},
        {"health", "Health", CG_SEV_CRITICAL, "Severe", "Immediate"},
        {"water", "Met", CG_SEV_WARNING, "Moderate", "Expected"},
        {"energy", "Infra", CG_SEV_WARNING, "Moderate", "Expected"},
        {"building", "Infra", CG_SEV_WARNING, "Moderate", "Expected"},
        {"government", "Other", CG_SEV_WARNING, "Moderate", "Expected"},
    };
    struct format_consumer c = {CG_FORMAT_CAP, NULL, 0, NULL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct event_view v =
            view("{\"pm25\": 80.2, \"district\": \"haidian\"}");
        v.domain = cases[i].domain;
        v.severity = cases[i].severity;
        struct cg_buf b = {0}, want = {0};
        cap(&v, NULL, &c, &b);
        cg_buf_printf(&want, "<category>%s</category>", cases[i].category);
        HAS(b.data, want.data);
        cg_buf_reset(&want);
        cg_buf_printf(&want, "<urgency>%s</urgency><severity>%s</severity>",
                      cases[i].urgency, cases[i].cap_severity);
        HAS(b.data, want.data);
        HAS(b.data, "<sender>citygate@edge-box-01</sender>");
        HAS(b.data, "<msgType>Alert</msgType>");
        HAS(b.data, "<areaDesc>haidian</areaDesc>");
        HAS(b.data, "<parameter><valueName>pm25</valueName><value>80.2</value>"
                    "</parameter>");
        cg_buf_free(&b);
        cg_buf_free(&want);
    }
}

static void test_cap_times(void **state)
{
    struct event_view v = view("{}");
    struct cap_rule r = {.expires_s = 1800};
    struct format_consumer c = {CG_FORMAT_CAP, NULL, 0, "ops@city.example"};
    struct cg_buf b = {0};
    cap(&v, &r, &c, &b);
    HAS(b.data, "<sent>2026-11-30T08:15:02-00:00</sent>"); /* no fraction */
    HAS(b.data, "<expires>2026-11-30T08:45:02-00:00</expires>");
    HAS(b.data, "<sender>ops@city.example</sender>");
    LACKS(b.data, "Z<");
    cg_buf_free(&b);
    /* A device's far-future time: CAP's four-digit years end in 9999. */
    v.epoch = 253402300799.0; /* 9999-12-31T23:59:59Z */
    cap(&v, &r, &c, &b);
    HAS(b.data, "<sent>9999-12-31T23:59:59-00:00</sent>");
    HAS(b.data, "<expires>9999-12-31T23:59:59-00:00</expires>");
    cg_buf_free(&b);
}

/* The default sender, citygate@<gateway>, with what CAP forbids in a
 * sender (white space, ',', '<', '&') as '_'. */
static void test_cap_default_sender(void **state)
{
    struct event_view v = view("{}");
    v.gateway = "edge box,<1>&x";
    struct format_consumer c = {CG_FORMAT_CAP, NULL, 0, NULL};
    struct cg_buf b = {0};
    cap(&v, NULL, &c, &b);
    HAS(b.data, "<sender>citygate@edge_box__1&gt;_x</sender>");
    cg_buf_free(&b);
}

/* One <parameter> per data field, a null one with an empty value. */
static void test_cap_parameters(void **state)
{
    struct event_view v = view("{\"level\": 4.5, \"gone\": null, "
                               "\"zones\": [\"a\", 1]}");
    struct format_consumer c = {CG_FORMAT_CAP, NULL, 0, NULL};
    struct cg_buf b = {0};
    cap(&v, NULL, &c, &b);
    HAS(b.data, "<parameter><valueName>level</valueName><value>4.5</value>"
                "</parameter><parameter><valueName>gone</valueName><value>"
                "</value></parameter><parameter><valueName>zones</valueName>"
                "<value>[&quot;a&quot;,1]</value></parameter>");
    cg_buf_free(&b);
}

static void test_cap_escaping(void **state)
{
    struct event_view v = view("{\"note\": \"a<b & c>d \\\"q\\\" 'x'\\nline\","
                               " \"ctl\": \"\\u0001\\u0007\"}");
    v.description = "Tom & Jerry's <flood>\ttab";
    struct format_consumer c = {CG_FORMAT_CAP, NULL, 0, NULL};
    struct cg_buf b = {0};
    cap(&v, NULL, &c, &b);
    HAS(b.data, "a&lt;b &amp; c&gt;d &quot;q&quot; &apos;x&apos;&#10;line");
    HAS(b.data, "<headline>Tom &amp; Jerry&apos;s &lt;flood&gt;&#9;tab"
                "</headline>");
    HAS(b.data, "<value>\xEF\xBF\xBD\xEF\xBF\xBD</value>");
    cg_buf_free(&b);
}

static void test_cap_rule_settings(void **state)
{
    struct event_view v = view("{\"level_cm\": 412, \"station\": \"Erhai\"}");
    struct cap_rule r = {.category = "Met", .event = "River flood"};
    char err[160];
    size_t off;
    assert_int_equal(tpl__compile("Flood at {data.station}: {data.level_cm} cm",
                                  &r.headline, err, sizeof(err), &off),
                     CG_OK);
    assert_int_equal(
        tpl__compile("{data.station} river", &r.area, err, sizeof(err), &off),
        CG_OK);
    struct format_consumer c = {CG_FORMAT_CAP, NULL, 0, NULL};
    struct cg_buf b = {0};
    cap(&v, &r, &c, &b);
    HAS(b.data, "<category>Met</category><event>River flood</event>");
    HAS(b.data, "<headline>Flood at Erhai: 412 cm</headline>");
    HAS(b.data, "<areaDesc>Erhai river</areaDesc>");
    tpl__free(&r.headline);
    tpl__free(&r.area);
    cg_buf_free(&b);
}

static void test_cap_alert_then_cancel(void **state)
{
    struct format_consumer c = {CG_FORMAT_CAP, NULL, 0, NULL};
    struct event_view alert = view("{\"level_cm\": 412}");
    struct cg_buf a = {0}, x = {0};
    cap(&alert, NULL, &c, &a);
    struct event_view cancel = view("{\"level_cm\": 280, \"resolved\": true}");
    cancel.id = "00aa11bb22cc33dd";
    cancel.epoch = alert.epoch + 300;
    cancel.severity = CG_SEV_INFO;
    cancel.resolved = true;
    cancel.ref_id = alert.id;
    cancel.ref_sent = alert.epoch;
    cap(&cancel, NULL, &c, &x);
    HAS(x.data, "<msgType>Cancel</msgType>");
    HAS(x.data, "<references>citygate@edge-box-01,9f2c4e1a0b7d3e55,"
                "2026-11-30T08:15:02-00:00</references>");
    LACKS(a.data, "<references>");
    cg_buf_free(&a);
    cg_buf_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ngsi_type_names),
        cmocka_unit_test(test_ngsi_every_value_kind),
        cmocka_unit_test(test_ngsi_location_and_hidden_device),
        cmocka_unit_test(test_ngsi_ids_are_urn_safe),
        cmocka_unit_test(test_cap_domain_defaults_and_severities),
        cmocka_unit_test(test_cap_times),
        cmocka_unit_test(test_cap_default_sender),
        cmocka_unit_test(test_cap_parameters),
        cmocka_unit_test(test_cap_escaping),
        cmocka_unit_test(test_cap_rule_settings),
        cmocka_unit_test(test_cap_alert_then_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
