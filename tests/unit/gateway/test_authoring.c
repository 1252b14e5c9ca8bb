/*
 * Authoring aids end to end without a broker (SPEC §14): every error of
 * every stage reported in one run, the warnings, the consumer `when:`
 * filter, and lookup tables with their private columns through routing.
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

/* Table rows give only the fields they need; the rest are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

static char dir[256];

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
    char path[300];
    snprintf(dir, sizeof(dir), "/tmp/cg-authoring-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/rules", dir);
    return mkdir(path, 0700);
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* What a load gave: the pipeline (or NULL) and its diagnostics. */
struct loaded {
    struct cg_config *cfg;
    struct cg_plugin_reg *reg;
    struct cg_pipeline *p;
    int rc;
    size_t errors, warnings;
    char diags[16384];
};

/* Loads as `check` does: a config with errors is compiled as far as it
 * goes. */
static void load(const char *config, const char *rules, struct loaded *l)
{
    char path[512];
    struct cg_diags d = {0};
    memset(l, 0, sizeof(*l));
    write_file("citygate.yaml", config);
    write_file("rules/r.yaml", rules);
    snprintf(path, sizeof(path), "%s/citygate.yaml", dir);
    l->rc = cg_config_load_partial(path, NULL, 0, &l->cfg, &d);
    int prc = l->cfg ? cg_plugins_load(NULL, 0, &l->reg, &d) : l->rc;
    int brc = l->reg ? cg_pipeline_new(l->cfg, l->reg, &l->p, &d) : prc;
    l->rc = l->rc != CG_OK ? l->rc : prc != CG_OK ? prc : brc;
    struct cg_buf b = {0};
    cg_diags_format(&d, &b);
    snprintf(l->diags, sizeof(l->diags), "%s", b.data ? b.data : "");
    cg_buf_free(&b);
    l->errors = cg_diags_errors(&d);
    l->warnings = d.n - l->errors;
    cg_diags_free(&d);
}

static void unload(struct loaded *l)
{
    cg_pipeline_free(l->p);
    cg_plugins_free(l->reg);
    cg_config_free(l->cfg);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* ---- every error of every stage in one run ------------------------------ */

static const char ALL_CONFIG[] =
    "networks: [{name: nbiot-telecom, kind: nb-iot}]\n"
    "vendors:\n"
    "  - name: binsense\n"
    "    network: nbiot-telecomm\n" /* reference */
    "    topics: [\"v/bins/+/fill\"]\n"
    "    fields: {fill_pct: fill, district: zone, level: round(lvl, }\n"
    "consumers:\n"
    "  - {name: city-ops, role: government, topic: \"c/{domain}\"}\n"
    "  - {name: open-data, role: citizen, topc: \"c/p\"}\n" /* sink key */
    "  - {name: pub, role: citizen, when: severity == }\n"  /* expression */
    "rules: [\"rules/*.yaml\"]\n";

static const char ALL_RULES[] =
    "domain: waste\n"
    "rules:\n"
    "  - name: bin-full\n"
    "    whn: fill_pct > 90\n"                                /* YAML key */
    "    severity: \"fill_pct >= 95 ? critical : warning\"\n" /* warning */
    "    data: { fill: round(fill_pct, 1), district: district }\n" /* trap */
    "    to: [goverment, open-data]\n"                             /* to */
    "  - name: bin-empty\n"
    "    when: fill_pct < 5 &&\n" /* expression */
    "    data:\n"
    "      share: fill_pct / 100 +* 2\n"          /* expression */
    "      owner: lookup('bins', device).owner\n" /* no table */
    "    to: [city-ops]\n"
    "  - name: bin-odd\n"
    "    when: fil_pct == 3\n" /* warning */
    "    to: [city-op]\n";     /* to */

static const char *const all_errors[] = {
    "r.yaml:4:5: error: rules[0]: unknown key 'whn' (did you mean 'when'?)",
    "r.yaml:6:19: error: rules[0].data.fill: the comma in "
    "round(fill_pct, 1) splits",
    "citygate.yaml:4:14: error: unknown network 'nbiot-telecomm'; did you "
    "mean 'nbiot-telecom'?",
    "r.yaml:7:10: error: to: 'goverment' is neither a consumer nor a role; "
    "did you mean 'government'?",
    "r.yaml:16:10: error: to: 'city-op' is neither a consumer nor a role; "
    "did you mean 'city-ops'?",
    "citygate.yaml:9:38: error: unknown option 'topc' for sink mqtt (did you "
    "mean 'topic'?)",
    "citygate.yaml:10:49: error: when: unexpected end of expression",
    "citygate.yaml:6:62: error: fields.level: expected ',' or ')' in "
    "arguments",
    "r.yaml:9:26: error: when: unexpected end of expression",
    "r.yaml:11:30: error: data.share: unexpected '*'",
    "r.yaml:12:22: error: data.owner: lookup(): no lookup tables here",
};

static const char *const all_warnings[] = {
    "r.yaml:5:33: warning: severity: 'critical' reads a field named "
    "critical; did you mean the string 'critical'?",
    "r.yaml:5:44: warning: severity: 'warning' reads a field named warning",
    "r.yaml:15:11: warning: when: 'fil_pct' is no field of the vendors this "
    "rule matches (did you mean 'fill_pct'?)",
};

static void test_all_stages_in_one_run(void **state)
{
    struct loaded l;
    load(ALL_CONFIG, ALL_RULES, &l);
    assert_int_equal(l.rc, CG_EINVAL);
    for (size_t i = 0; i < N_ROWS(all_errors); i++)
        if (count(l.diags, all_errors[i]) != 1)
            fail_msg("want once: %s\ngot:\n%s", all_errors[i], l.diags);
    for (size_t i = 0; i < N_ROWS(all_warnings); i++)
        if (count(l.diags, all_warnings[i]) != 1)
            fail_msg("want once: %s\ngot:\n%s", all_warnings[i], l.diags);
    /* nothing else: every error once, no echo of another */
    if (l.errors != N_ROWS(all_errors) || l.warnings != N_ROWS(all_warnings))
        fail_msg("%zu errors, %zu warnings:\n%s", l.errors, l.warnings,
                 l.diags);
    unload(&l);
}

/* ---- warnings ------------------------------------------------------------ */

#define W_CONFIG(vendors)                                                      \
    "vendors:\n" vendors "consumers: [{name: ops, role: government}]\n"        \
    "rules: [\"rules/*.yaml\"]\n"
#define BINS                                                                   \
    "  - {name: bins, topics: [\"v/bins/+/fill\"], fields: {fill_pct: fill, "  \
    "district: zone}}\n"
#define RAW          "  - {name: raw, topics: [\"v/raw/#\"]}\n"
#define W_RULE(body) "domain: d\nrules:\n  - name: r\n    to: [ops]\n" body

struct warn_case {
    const char *vendors, *rule;
    const char *expect; /* the warning; NULL: none at all */
};

static const struct warn_case warn_cases[] = {
    /* a name no vendor it matches produces */
    {BINS, W_RULE("    when: fil_pct > 90\n"),
     "r.yaml:5:11: warning: when: 'fil_pct' is no field of the vendors this "
     "rule matches (did you mean 'fill_pct'?)"},
    {BINS, W_RULE("    data: {d: districts}\n"),
     "r.yaml:5:15: warning: data.d: 'districts' is no field of the vendors "
     "this rule matches (did you mean 'district'?)"},
    {BINS, W_RULE("    data: {x: nothing_like_it}\n"),
     "warning: data.x: 'nothing_like_it' is no field of the vendors this "
     "rule matches\n"},
    {BINS, W_RULE("    when: fil_pct > 9 || fil_pct < 1\n"),
     "warning: when: 'fil_pct'"}, /* once per rule */
    /* fine: produced, built-ins, payload[...], paths into a field */
    {BINS, W_RULE("    when: fill_pct > 90 && district == 'x'\n"), NULL},
    {BINS,
     W_RULE("    when: device == 'b' && topic[1] == 'bins' && now > 0 "
            "&& time > 0 && vendor == 'bins' && domain == 'd'\n"),
     NULL},
    {BINS, W_RULE("    when: payload['fil'] == 1 || payload.other == 2\n"),
     NULL},
    {BINS, W_RULE("    when: district.name == 'x'\n"), NULL},
    /* a vendor without fields passes anything through: no check */
    {BINS RAW, W_RULE("    when: whatever > 1\n"), NULL},
    {BINS RAW, W_RULE("    match: {vendors: [bins]}\n    when: whatever > 1\n"),
     "warning: when: 'whatever' is no field"},
    {BINS RAW,
     W_RULE("    match: {topic: \"v/bins/#\"}\n    when: whatever > 1\n"),
     "warning: when: 'whatever' is no field"},
    /* severity words read as fields */
    {BINS, W_RULE("    severity: \"fill_pct >= 95 ? critical : 'warning'\"\n"),
     "r.yaml:5:33: warning: severity: 'critical' reads a field named "
     "critical; did you mean the string 'critical'?"},
    {RAW, W_RULE("    severity: \"x ? info : 'warning'\"\n"),
     "r.yaml:5:20: warning: severity: 'info' reads a field named info"},
    {BINS, W_RULE("    severity: critical\n"), NULL},
    {BINS,
     W_RULE("    severity: \"fill_pct >= 95 ? 'critical' : "
            "'warning'\"\n"),
     NULL},
/* a window reads messages in group_by and the aggregates' arguments */
#define WIN(keys) W_RULE("    window: {every: 1h, " keys "}\n")
    {BINS, WIN("group_by: [distrct], aggregate: {n: count()}"),
     "r.yaml:5:36: warning: window.group_by: 'distrct' is no field of the "
     "vendors this rule matches (did you mean 'district'?)"},
    {BINS, WIN("aggregate: {a: avg(fil_pct)}"),
     "r.yaml:5:44: warning: window.aggregate.a: 'fil_pct' is no field of the "
     "vendors this rule matches (did you mean 'fill_pct'?)"},
    {BINS, WIN("aggregate: {b: \"round(max(zz), 1)\"}"),
     "r.yaml:5:51: warning: window.aggregate.b: 'zz' is no field"},
    {BINS, WIN("aggregate: {c: count_distinct(qq) + sum(fill_pct)}"),
     "warning: window.aggregate.c: 'qq' is no field"},
    /* built-ins, and the fields the vendors produce */
    {BINS,
     WIN("group_by: [district, device, vendor], aggregate: {n: "
         "count_distinct(device), t: max(time), f: avg(fill_pct), v: "
         "first(vendor)}, having: n > 1 && district != 'x' && "
         "window_end > window_start"),
     NULL},
    /* having reads the window's data: its aggregates and group_by fields */
    {BINS, WIN("aggregate: {avg_fill: avg(fill_pct)}, having: avg_fil > 50"),
     "r.yaml:5:71: warning: window.having: 'avg_fil' is neither an aggregate "
     "nor a group_by field of this window (did you mean 'avg_fill'?)"},
    {BINS,
     WIN("group_by: [district], aggregate: {n: count()}, having: fill_pct > "
         "50"),
     "warning: window.having: 'fill_pct' is neither an aggregate nor a "
     "group_by field of this window\n"},
    /* with a vendor that lists no fields, having is checked all the same */
    {RAW, WIN("aggregate: {n: count()}, having: m > 1"),
     "warning: window.having: 'm' is neither"},
#undef WIN
    /* a topic no vendor of the rule publishes on */
    {BINS RAW, W_RULE("    match: {vendors: [bins], topic: \"v/raw/#\"}\n"),
     "r.yaml:5:37: warning: match.topic 'v/raw/#' overlaps no topic filter "
     "of the vendors it matches (bins: v/bins/+/fill)"},
    {BINS, W_RULE("    match: {topic: \"v/bin/+/fill\"}\n"),
     "warning: match.topic 'v/bin/+/fill' overlaps no topic filter"},
    {BINS, W_RULE("    match: {topic: \"v/+/b-1/#\"}\n"), NULL},
    {BINS RAW, W_RULE("    match: {topic: \"v/raw/x\"}\n"), NULL},
};

static void test_warnings(void **state)
{
    for (size_t i = 0; i < N_ROWS(warn_cases); i++) {
        const struct warn_case *c = &warn_cases[i];
        struct loaded l;
        char config[2048];
        snprintf(config, sizeof(config), W_CONFIG("%s"), c->vendors);
        load(config, c->rule, &l);
        if (l.rc != CG_OK || l.errors)
            fail_msg("case %zu does not load:\n%s", i, l.diags);
        if (c->expect && (count(l.diags, c->expect) != 1 || l.warnings != 1))
            fail_msg("case %zu: want once '%s', got:\n%s", i, c->expect,
                     l.diags);
        if (!c->expect && l.warnings)
            fail_msg("case %zu: no warning wanted, got:\n%s", i, l.diags);
        unload(&l);
    }
}

/* A consumer filter reading what no event has. */
static void test_filter_warning(void **state)
{
    struct loaded l;
    load("vendors: [{name: v, topics: [\"v/+\"]}]\n"
         "consumers:\n  - {name: ops, role: government, when: sevrity == "
         "'critical' || data.x > 1 || source.vendor == 'v'}\n"
         "rules: [\"rules/*.yaml\"]\n",
         W_RULE(""), &l);
    assert_int_equal(l.rc, CG_OK);
    assert_int_equal(l.warnings, 1);
    assert_non_null(strstr(l.diags, "citygate.yaml:3:41: warning: when: "
                                    "events have no 'sevrity'"));
    assert_non_null(strstr(l.diags, "did you mean 'severity'?"));
    unload(&l);
}

/* ---- the consumer filter and lookup privacy, message by message ---------- */

struct out {
    char lines[16][2048];
    int n;
};

static int on_deliver(void *user, const struct cg_delivery *d)
{
    struct out *o = user;
    if (o->n < 16)
        snprintf(o->lines[o->n++], sizeof(o->lines[0]), "%s %s",
                 d->consumer_name, d->event.json);
    return CG_OK;
}

static int on_dead(void *user, const struct cg_dead *d)
{
    return CG_OK;
}

static const char *delivery(const struct out *o, const char *consumer)
{
    size_t n = strlen(consumer);
    for (int i = 0; i < o->n; i++)
        if (!strncmp(o->lines[i], consumer, n) && o->lines[i][n] == ' ')
            return o->lines[i] + n + 1;
    return NULL;
}

static void run(struct cg_pipeline *p, const char *topic, const char *payload,
                struct out *o)
{
    struct cg_message m = {topic, strlen(topic), (const uint8_t *)payload,
                           strlen(payload), 1900000000.0};
    struct cg_emit emit = {on_deliver, on_dead, o};
    memset(o, 0, sizeof(*o));
    assert_true(cg_pipeline_process(p, &m, &emit) >= 0);
}

static const char FILTER_CONFIG[] =
    "vendors:\n"
    "  - {name: bins, topics: [\"v/bins/+/fill\"], fields: {fill_pct: fill, "
    "district: zone, owner: owner}, private: [owner]}\n"
    "consumers:\n"
    "  - {name: all, role: government, topic: t/all}\n"
    "  - {name: crit, role: citizen, topic: t/crit, when: severity == "
    "'critical'}\n"
    "  - {name: hd, role: citizen, topic: t/hd, when: \"data.district == "
    "'haidian' && source.vendor == 'bins' && domain == 'waste'\"}\n"
    /* a citizen's filter on a field it may not see never holds */
    "  - {name: snoop, role: citizen, topic: t/s, when: data.owner == 'li'}\n"
    "  - {name: gov, role: government, topic: t/g, when: \"data.owner == "
    "'li' && type == 'bin.full' && rule == 'waste/full'\"}\n"
    /* the device is not private here: the built-ins read it */
    "  - {name: dev, role: citizen, topic: t/d, when: device == 'b-1' && "
    "source.device == 'b-1'}\n"
    "rules: [\"rules/*.yaml\"]\n";

static const char FILTER_RULES[] =
    "domain: waste\n"
    "rules:\n"
    "  - name: full\n"
    "    type: bin.full\n"
    "    when: fill_pct > 80\n"
    "    severity: \"fill_pct > 95 ? 'critical' : 'warning'\"\n"
    "    data: {fill: fill_pct, district: district, owner: owner}\n"
    "    to: [government, citizen]\n";

static const struct {
    const char *payload, *topic;
    const char *got; /* consumers that get the event, in config order */
} filter_cases[] = {
    {"{\"fill\": 99, \"zone\": \"haidian\", \"owner\": \"li\"}",
     "v/bins/b-1/fill", "all gov crit hd dev"},
    {"{\"fill\": 90, \"zone\": \"haidian\", \"owner\": \"li\"}",
     "v/bins/b-1/fill", "all gov hd dev"},
    {"{\"fill\": 99, \"zone\": \"xicheng\", \"owner\": \"wu\"}",
     "v/bins/b-2/fill", "all crit"},
    {"{\"fill\": 10, \"zone\": \"haidian\", \"owner\": \"li\"}",
     "v/bins/b-1/fill", ""},
};

static void test_consumer_filter(void **state)
{
    struct loaded l;
    load(FILTER_CONFIG, FILTER_RULES, &l);
    if (l.rc != CG_OK || l.errors || l.warnings)
        fail_msg("%s", l.diags);
    for (size_t i = 0; i < N_ROWS(filter_cases); i++) {
        struct out o;
        char got[256] = "";
        run(l.p, filter_cases[i].topic, filter_cases[i].payload, &o);
        for (int k = 0; k < o.n; k++) {
            size_t used = strlen(got);
            snprintf(got + used, sizeof(got) - used, "%s%.*s", k ? " " : "",
                     (int)strcspn(o.lines[k], " "), o.lines[k]);
        }
        if (strcmp(got, filter_cases[i].got))
            fail_msg("case %zu: got '%s', want '%s'", i, got,
                     filter_cases[i].got);
    }
    unload(&l);
}

static const char LOOKUP_CONFIG[] =
    "vendors:\n"
    "  - {name: bins, topics: [\"v/bins/+/fill\"], fields: {fill_l: fill}}\n"
    "consumers:\n"
    "  - {name: gov, role: government, topic: t/gov}\n"
    "  - {name: ent, role: enterprise, topic: t/ent}\n"
    "  - {name: ent-owner, role: enterprise, topic: t/eo, grants: "
    "[bins.owner]}\n"
    "  - {name: pub, role: citizen, topic: \"t/pub/{data.owner}\"}\n"
    "rules: [\"rules/*.yaml\"]\n"
    "tables:\n"
    "  - {name: bins, file: bins.csv, key: bin_id, private: [owner]}\n";

static const char LOOKUP_RULES[] =
    "domain: waste\n"
    "rules:\n"
    "  - name: fill\n"
    "    when: exists(lookup('bins', device))\n"
    "    data:\n"
    "      pct: round(fill_l / lookup('bins', device).capacity_l * 100, 1)\n"
    "      district: lookup('bins', device).district\n"
    "      owner: lookup('bins', device).owner\n"
    "      tag: hash(lookup('bins', device)['owner'])\n"
    "      row: lookup('bins', device)\n"
    "    to: [government, enterprise, citizen]\n";

static void test_lookup_privacy(void **state)
{
    struct loaded l;
    struct out o;
    write_file("bins.csv", "bin_id,district,capacity_l,owner\n"
                           "b-1,haidian,240,Ms Li\n"
                           "b-2,chaoyang,1100,\n");
    load(LOOKUP_CONFIG, LOOKUP_RULES, &l);
    if (l.rc != CG_OK || l.errors || l.warnings)
        fail_msg("%s", l.diags);
    run(l.p, "v/bins/b-1/fill", "{\"fill\": 120}", &o);
    assert_int_equal(o.n, 4);
    /* government: everything, typed cells from the table */
    const char *gov = delivery(&o, "gov");
    assert_non_null(strstr(gov, "\"data\":{\"pct\":50,\"district\":"
                                "\"haidian\",\"owner\":\"Ms Li\",\"tag\":"));
    assert_non_null(strstr(gov, "\"row\":{\"bin_id\":\"b-1\",\"district\":"
                                "\"haidian\",\"capacity_l\":240,\"owner\":"
                                "\"Ms Li\"}"));
    /* a citizen and an ungranted enterprise: no private column, nor what
     * is computed from it, nor the whole row */
    for (int k = 0; k < 2; k++) {
        const char *ev = delivery(&o, k ? "pub" : "ent");
        assert_non_null(strstr(ev, "\"data\":{\"pct\":50,\"district\":"
                                   "\"haidian\"}"));
        assert_null(strstr(ev, "Ms Li"));
    }
    /* the topic substitutes a value the consumer may not see as _ */
    assert_non_null(strstr(o.lines[3], "pub "));
    /* granted bins.owner: the column, the hash and the row */
    const char *eo = delivery(&o, "ent-owner");
    assert_non_null(strstr(eo, "\"owner\":\"Ms Li\",\"tag\":"));
    assert_non_null(strstr(eo, "\"row\":{"));
    /* a missing row: when does not hold */
    run(l.p, "v/bins/b-9/fill", "{\"fill\": 120}", &o);
    assert_int_equal(o.n, 0);
    /* a null cell stays null */
    run(l.p, "v/bins/b-2/fill", "{\"fill\": 110}", &o);
    assert_non_null(strstr(delivery(&o, "gov"), "\"pct\":10,\"district\":"
                                                "\"chaoyang\",\"owner\":null"));
    unload(&l);
}

/* The table file is read when the config loads: a new load sees new
 * values (what a reload does). */
static void test_lookup_reload(void **state)
{
    struct loaded l;
    struct out o;
    write_file("bins.csv", "bin_id,district,capacity_l,owner\n"
                           "b-1,haidian,240,x\n");
    load(LOOKUP_CONFIG, LOOKUP_RULES, &l);
    run(l.p, "v/bins/b-1/fill", "{\"fill\": 120}", &o);
    assert_non_null(strstr(delivery(&o, "gov"), "\"pct\":50,"));
    unload(&l);
    write_file("bins.csv", "bin_id,district,capacity_l,owner\n"
                           "b-1,haidian,480,x\n");
    load(LOOKUP_CONFIG, LOOKUP_RULES, &l);
    run(l.p, "v/bins/b-1/fill", "{\"fill\": 120}", &o);
    assert_non_null(strstr(delivery(&o, "gov"), "\"pct\":25,"));
    unload(&l);
}

/* Robustness of the partial build: the config of the all-stages test
 * and a rich valid one, each line dropped in turn, and each value line cut
 * in half: every load reports what is wrong and builds what it can,
 * without crashing (run under AddressSanitizer by scripts/test.sh). */
static void load_each_variant(const char *config, const char *rules,
                              bool cut_rules)
{
    size_t n = strlen(cut_rules ? rules : config);
    const char *text = cut_rules ? rules : config;
    char *copy = malloc(n + 1);
    assert_non_null(copy);
    for (size_t at = 0; at < n; at = strchr(text + at, '\n') - text + 1) {
        size_t end = strchr(text + at, '\n') - text + 1;
        for (int cut = 0; cut < 2; cut++) {
            size_t keep = cut ? at + (end - at) / 2 : at;
            memcpy(copy, text, keep);
            snprintf(copy + keep, n + 1 - keep, "%s%s", cut ? "\n" : "",
                     text + end);
            struct loaded l;
            load(cut_rules ? config : copy, cut_rules ? copy : rules, &l);
            assert_true(l.rc == CG_OK || l.errors > 0);
            unload(&l);
        }
    }
    free(copy);
}

static void test_partial_builds_never_crash(void **state)
{
    write_file("bins.csv", "bin_id,district,capacity_l,owner\nb-1,x,1,o\n");
    load_each_variant(ALL_CONFIG, ALL_RULES, false);
    load_each_variant(ALL_CONFIG, ALL_RULES, true);
    load_each_variant(LOOKUP_CONFIG, LOOKUP_RULES, false);
    load_each_variant(LOOKUP_CONFIG, LOOKUP_RULES, true);
    load_each_variant(FILTER_CONFIG, FILTER_RULES, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_stages_in_one_run),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_filter_warning),
        cmocka_unit_test(test_consumer_filter),
        cmocka_unit_test(test_lookup_privacy),
        cmocka_unit_test(test_lookup_reload),
        cmocka_unit_test(test_partial_builds_never_crash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
