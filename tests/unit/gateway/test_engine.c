/*
 * The engine end to end without a broker: routing to roles and names,
 * privacy and its taint through expressions, topic-template safety, the
 * envelope, stable ids, device time, and every dead-letter reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/host.h"
#include "pipeline/pipeline.h"

static char dir[256];

static const char *CONFIG =
    "gateway: { id: box-1, max_payload_bytes: 1000 }\n"
    "networks: [ { name: nb, kind: nb-iot } ]\n"
    "vendors:\n"
    "  - name: acme\n"
    "    network: nb\n"
    "    topics: [\"v/acme/+/t\"]\n"
    "    fields: { pm25: pm2_5, district: zone, owner_id: owner, ts: ts }\n"
    "    private: [owner_id]\n"
    "    time: ts\n"
    "  - name: band\n"
    "    topics: [\"v/band/+\"]\n"
    "    device: \"{payload.id}\"\n"
    "    private: [device, wearer]\n"
    "consumers:\n"
    "  - { name: gov, role: government, topic: "
    "\"c/gov/{domain}/{type}/{severity}\" }\n"
    "  - { name: ent, role: enterprise, topic: \"c/ent/{device}\", grants: "
    "[owner_id] }\n"
    "  - { name: ent2, role: enterprise, topic: \"c/ent2/{data.owner}\" }\n"
    "  - { name: pub, role: citizen, topic: \"c/pub/{data.district}/{device}\" "
    "}\n"
    "rules: [\"rules/*.yaml\"]\n";

static const char *RULES =
    "domain: env\n"
    "rules:\n"
    "  - name: high\n"
    "    when: pm25 > 35\n"
    "    severity: \"pm25 > 75 ? 'critical' : 'warning'\"\n"
    "    data: { pm25: pm25, district: district, owner: owner_id,\n"
    "            tag: hash(owner_id), all: payload, dev: device }\n"
    "    to: [government, enterprise, pub]\n"
    "  - name: raw\n"
    "    match: { vendors: [band] }\n"
    "    to: [government, citizen, ent]\n";

static struct cg_config *cfg;
static struct cg_plugin_reg *reg;
static struct cg_pipeline *engine;

struct out {
    char lines[16][2048];
    int n;
    char dead_reason[32];
    char dead[6000];
    char dead_topic[128], dead_detail[256]; /* for the log line */
};

static int on_deliver(void *user, const struct cg_delivery *d)
{
    struct out *o = user;
    if (o->n < 16)
        snprintf(o->lines[o->n++], sizeof(o->lines[0]), "%s %s %s",
                 d->consumer_name, d->target, d->event.json);
    return CG_OK;
}

static int on_dead(void *user, const struct cg_dead *d)
{
    struct out *o = user;
    snprintf(o->dead_reason, sizeof(o->dead_reason), "%s",
             cg_dead_reason_name(d->reason));
    snprintf(o->dead, sizeof(o->dead), "%.*s", (int)d->len, d->json);
    snprintf(o->dead_topic, sizeof(o->dead_topic), "%.*s", (int)d->topic_len,
             d->topic);
    snprintf(o->dead_detail, sizeof(o->dead_detail), "%s", d->detail);
    return CG_OK;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cg-engine-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof(path), "%s/rules", dir);
    mkdir(path, 0700);
    write_file("citygate.yaml", CONFIG);
    write_file("rules/env.yaml", RULES);
    snprintf(path, sizeof(path), "%s/citygate.yaml", dir);
    struct cg_diags d = {0};
    int rc = cg_config_load(path, NULL, 0, &cfg, &d);
    if (rc == CG_OK)
        rc = cg_plugins_load(NULL, 0, &reg, &d);
    if (rc == CG_OK)
        rc = cg_pipeline_new(cfg, reg, &engine, &d);
    struct cg_buf b = {0};
    cg_diags_format(&d, &b);
    if (rc != CG_OK)
        fprintf(stderr, "%s", b.data ? b.data : "");
    cg_buf_free(&b);
    cg_diags_free(&d);
    return rc;
}

static int teardown(void **state)
{
    cg_pipeline_free(engine);
    cg_plugins_free(reg);
    cg_config_free(cfg);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static int process(const char *topic, const char *payload, struct out *o)
{
    memset(o, 0, sizeof(*o));
    struct cg_message m = {topic, strlen(topic), (const uint8_t *)payload,
                           strlen(payload), 1764490502.130};
    struct cg_emit emit = {on_deliver, on_dead, o};
    return cg_pipeline_process(engine, &m, &emit);
}

static const char *line_of(struct out *o, const char *consumer)
{
    size_t n = strlen(consumer);
    for (int i = 0; i < o->n; i++)
        if (!strncmp(o->lines[i], consumer, n) && o->lines[i][n] == ' ')
            return o->lines[i];
    return NULL;
}

#define HAS(line, text)   assert_non_null(strstr((line), (text)))
#define HASNT(line, text) assert_null(strstr((line), (text)))

static void test_roles_and_taint(void **state)
{
    struct out o;
    const char *p =
        "{\"pm2_5\": 80.2, \"zone\": \"haidian\", \"owner\": \"o-17\"}";
    assert_int_equal(process("v/acme/aq-7/t", p, &o), 4);
    const char *gov = line_of(&o, "gov"), *ent = line_of(&o, "ent"),
               *pub = line_of(&o, "pub");
    assert_non_null(gov);
    assert_non_null(ent);
    assert_non_null(pub);
    HAS(gov, "\"owner\":\"o-17\"");
    HAS(gov, "\"tag\":\"");
    HAS(gov, "\"all\":{");
    HAS(ent, "\"owner\":\"o-17\""); /* granted */
    HAS(ent, "\"tag\":\"");         /* derived from a granted field */
    HAS(ent, "\"all\":{");          /* payload: every private field granted */
    HASNT(pub, "owner");
    HASNT(pub, "\"tag\"");
    HASNT(pub, "\"all\"");
    HAS(pub, "\"pm25\":80.2");
    HAS(pub, "\"dev\":\"aq-7\""); /* device is not private for acme */
}

static void test_enterprise_without_grant(void **state)
{
    struct out o;
    /* ent2 is reached by role: the rule's `to` names enterprise. */
    process("v/acme/aq-7/t",
            "{\"pm2_5\": 50, \"zone\": \"z\", \"owner\": \"o\"}", &o);
    assert_int_equal(o.n, 4);
    const char *ent2 = line_of(&o, "ent2");
    assert_non_null(ent2);
    HASNT(ent2, "\"owner\"");
    HASNT(ent2, "\"tag\"");
    HASNT(ent2, "\"all\"");
    /* {data.owner} is private to ent2: substituted as _ */
    assert_int_equal(strncmp(ent2, "ent2 c/ent2/_ ", 14), 0);
}

static void test_topic_values_are_made_safe(void **state)
{
    struct out o;
    process("v/acme/aq-7/t", "{\"pm2_5\": 50, \"zone\": \"a/b+c#d\\u0001e f\"}",
            &o);
    const char *pub = line_of(&o, "pub");
    assert_non_null(pub);
    assert_int_equal(strncmp(pub, "pub c/pub/a_b_c_d_e f/aq-7 ", 27), 0);
    process("v/acme/aq-7/t", "{\"pm2_5\": 50, \"zone\": \"\"}", &o);
    assert_int_equal(strncmp(line_of(&o, "pub"), "pub c/pub/_/aq-7 ", 17), 0);
    process("v/acme/aq-7/t", "{\"pm2_5\": 50}", &o);
    assert_int_equal(strncmp(line_of(&o, "pub"), "pub c/pub/_/aq-7 ", 17), 0);
}

static void test_private_device(void **state)
{
    struct out o;
    assert_int_equal(
        process("v/band/b1",
                "{\"id\": \"w/9\", \"wearer\": \"ann\", \"hr\": 130}", &o),
        3);
    const char *gov = line_of(&o, "gov"), *pub = line_of(&o, "pub"),
               *ent = line_of(&o, "ent");
    HAS(gov, "\"source\":{\"vendor\":\"band\",\"device\":\"w/9\",\"topic\":"
             "\"v/band/b1\"}");
    HAS(gov, "\"wearer\":\"ann\"");
    HAS(pub, "\"source\":{\"vendor\":\"band\"}");
    HASNT(pub, "ann");
    HASNT(pub, "w/9");
    HAS(pub, "\"hr\":130");
    assert_int_equal(strncmp(ent, "ent c/ent/_ ", 12), 0);
    HAS(ent, "\"source\":{\"vendor\":\"band\"}");
    HASNT(ent, "ann");
}

static void test_envelope(void **state)
{
    struct out o;
    process("v/acme/aq-7/t",
            "{\"pm2_5\": 90, \"zone\": \"z\", \"ts\": 1764490000000}", &o);
    const char *gov = line_of(&o, "gov");
    char t[32], r[32], want[512];
    cg_time_format(1764490000.0, t);
    cg_time_format(1764490502.130, r);
    assert_int_equal(strncmp(gov, "gov c/gov/env/high/critical {\"id\":\"", 34),
                     0);
    snprintf(
        want, sizeof(want),
        "\",\"time\":\"%s\",\"received\":\"%s\",\"gateway\":\"box-1\","
        "\"domain\":\"env\",\"type\":\"high\",\"severity\":\"critical\","
        "\"rule\":\"env/high\",\"source\":{\"vendor\":\"acme\",\"device\":"
        "\"aq-7\",\"topic\":\"v/acme/aq-7/t\"},\"chain\":{\"device_provider\":"
        "\"acme\",\"network_provider\":\"nb\",\"application_provider\":"
        "\"gov\"},\"data\":{",
        t, r);
    HAS(gov, want);
    /* time that does not parse falls back to received */
    process("v/acme/aq-7/t", "{\"pm2_5\": 90, \"ts\": \"yesterday\"}", &o);
    snprintf(want, sizeof(want), "\"time\":\"%s\",\"received\":\"%s\"", r, r);
    HAS(line_of(&o, "gov"), want);
    process("v/acme/aq-7/t",
            "{\"pm2_5\": 90, \"ts\": \"2026-11-30T08:15:02+01:00\"}", &o);
    HAS(line_of(&o, "gov"), "\"time\":\"2026-11-30T07:15:02.000Z\"");
}

static void ids(const char *topic, const char *payload, char out[4][17])
{
    struct out o;
    process(topic, payload, &o);
    for (int i = 0; i < 4; i++) {
        const char *id = strstr(o.lines[i], "\"id\":\"");
        assert_non_null(id);
        memcpy(out[i], id + 6, 16);
        out[i][16] = '\0';
    }
}

static void test_ids_stable_and_distinct(void **state)
{
    char a[4][17], b[4][17], c[4][17];
    ids("v/acme/aq-7/t", "{\"pm2_5\": 90}", a);
    ids("v/acme/aq-7/t", "{\"pm2_5\": 90}", b);
    ids("v/acme/aq-7/t", "{\"pm2_5\": 90 }", c);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(a[i], b[i]);
        assert_string_not_equal(a[i], c[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(a[i], a[j]);
    }
}

static void test_dead_letters(void **state)
{
    struct out o;
    char big[1200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    static const struct {
        const char *topic, *payload, *reason;
    } cases[] = {
        {"v/acme/aq-7/t", "{bad", "decode_error"},
        {"v/acme/aq-7/t", "[1, 2]", "decode_error"},
        {"v/acme/aq-7/t", "{\"a\": \"\\u0000\"}", "decode_error"},
        {"elsewhere/x", "{}", "unknown_vendor"},
        {"v/band/b1", "{\"hr\": 1}", "no_device"},
        {"v/band/b1", "{\"id\": \"\"}", "no_device"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(process(cases[i].topic, cases[i].payload, &o), 0);
        assert_string_equal(o.dead_reason, cases[i].reason);
        HAS(o.dead, "\"encoding\":\"utf8\"");
        /* The topic and the detail on their own, for the log line. */
        assert_string_equal(o.dead_topic, cases[i].topic);
        assert_true(o.dead_detail[0]);
    }
    process("v/acme/aq-7/t", big, &o);
    assert_string_equal(o.dead_reason, "too_large");
    HAS(o.dead, "\"reason\":\"too_large\",\"detail\":\"payload of 1199 bytes");
}

/* Per domain: a message that fires rules of the domain counts once, its
 * events once per delivery; a message that fires nothing, or dies, does
 * not count. */
static void test_domain_counters(void **state)
{
    static const struct {
        const char *topic, *payload;
        bool fires;
    } cases[] = {
        {"v/acme/aq-7/t",
         "{\"pm2_5\": 80, \"zone\": \"z\", "
         "\"owner\": \"o\"}",
         true},
        {"v/band/b1", "{\"id\": \"b1\", \"hr\": 80}", true},
        {"v/acme/aq-7/t", "{\"pm2_5\": 3}", false},
        {"v/acme/aq-7/t", "{bad", false},
    };
    struct out o;
    const char *name;
    uint64_t m0, e0, m1, e1;
    assert_int_equal(cg_pipeline_domain_stats(engine, 0, &name, &m0, &e0), 1);
    assert_string_equal(name, "env");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = process(cases[i].topic, cases[i].payload, &o);
        assert_true(n >= 0);
        cg_pipeline_domain_stats(engine, 0, &name, &m1, &e1);
        assert_int_equal(m1 - m0, cases[i].fires ? 1 : 0);
        assert_int_equal(e1 - e0, (uint64_t)n);
        assert_true(!cases[i].fires || n > 0);
        m0 = m1;
        e0 = e1;
    }
    assert_int_equal(cg_pipeline_domain_stats(engine, 1, &name, &m1, &e1), 1);
}

static void test_binary_dead_letter_is_base64(void **state)
{
    struct out o;
    const char bin[] = {'\xff', '\xfe', 'a', 0};
    process("v/acme/aq-7/t", bin, &o);
    assert_string_equal(o.dead_reason, "decode_error");
    HAS(o.dead, "\"payload\":\"//5h\",\"encoding\":\"base64\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_and_taint),
        cmocka_unit_test(test_enterprise_without_grant),
        cmocka_unit_test(test_topic_values_are_made_safe),
        cmocka_unit_test(test_private_device),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_ids_stable_and_distinct),
        cmocka_unit_test(test_dead_letters),
        cmocka_unit_test(test_binary_dead_letter_is_base64),
        cmocka_unit_test(test_domain_counters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
