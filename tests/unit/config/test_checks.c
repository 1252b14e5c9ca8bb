/*
 * What `check` must catch so that `run` never fails or misbehaves on a
 * config it called OK (issue 9, items 4, 9, 11 and 12): values the
 * gateway cannot use, files that are not regular files, any number of
 * globs, secret files others can read (a warning, not an error), and
 * client ids that would make connections take turns on one broker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"

#define VENDOR                                                                 \
    "vendors:\n"                                                               \
    "  - name: acme-air\n"                                                     \
    "    topics: [\"vendors/acme/+/telemetry\"]\n"
#define RULES    "rules: [\"rules/*.yaml\"]\n"
#define CONSUMER "consumers:\n  - name: ops\n    role: government\n"

struct check_case {
    const char *config;
    const char *expect; /* a substring of the diagnostics; NULL: loads */
};

static const struct check_case check_cases[] = {
    /* spool_max_bytes: 0 would hold intake forever. */
    {VENDOR RULES "consumers:\n  - name: ops\n    spool_max_bytes: 0\n",
     "citygate.yaml:7:22: error: consumers[0].spool_max_bytes: must be "
     "greater than 0"},
    {VENDOR RULES "consumers:\n  - name: ops\n    spool_max_bytes: 1\n", NULL},
    /* client_id: an empty one makes the broker invent one per connect. */
    {VENDOR RULES CONSUMER "broker:\n  client_id: ''\n",
     "citygate.yaml:9:14: error: broker.client_id: must not be empty"},
    {VENDOR RULES
     "consumers:\n  - name: ops\n    broker: { uri: 'tcp://b:1883' }\n",
     "citygate.yaml:7:13: error: consumers[0].broker: missing required key "
     "'client_id'"},
    {VENDOR RULES "consumers:\n  - name: ops\n    broker: { client_id: '' }\n",
     "consumers[0].broker.client_id: must not be empty"},
    {VENDOR RULES "consumers:\n  - name: ops\n    broker: { client_id: x }\n",
     NULL},
    /* share_group: $share/<group>/<filter> with a '/', '+' or '#' in the
     * group is refused by the broker, and the gateway would receive
     * nothing. */
    {VENDOR RULES CONSUMER "broker:\n  share_group: 'a/b'\n",
     "citygate.yaml:9:16: error: broker.share_group: 'a/b' must not contain "
     "'/', '+' or '#'"},
    {VENDOR RULES CONSUMER "broker:\n  share_group: 'x+'\n",
     "broker.share_group: 'x+' must not contain"},
    {VENDOR RULES CONSUMER "broker:\n  share_group: '#'\n",
     "broker.share_group: '#' must not contain"},
    {VENDOR RULES CONSUMER "broker:\n  share_group: ''\n",
     "broker.share_group: must not be empty"},
    {VENDOR RULES CONSUMER "broker:\n  share_group: city-gate_2.east\n", NULL},
    /* Connections that share a client id on one broker. */
    {VENDOR RULES
     "consumers:\n  - name: ops\n    broker: { client_id: citygate-citygate "
     "}\n",
     "citygate.yaml:7:13: error: client_id 'citygate-citygate' is already "
     "used on tcp://127.0.0.1:1883 by the gateway's intake connection"},
    {VENDOR RULES "consumers:\n  - name: ops\n    broker: { client_id: "
                  "citygate-citygate-out "
                  "}\n",
     "by the gateway's output connection"},
    {VENDOR RULES "consumers:\n  - name: a\n    broker: { client_id: x }\n"
                  "  - name: b\n    broker: { client_id: x }\n",
     "citygate.yaml:9:13: error: client_id 'x' is already used on "
     "tcp://127.0.0.1:1883 by consumer 'a'"},
    {VENDOR RULES
     "consumers:\n  - name: a\n    broker: { client_id: x }\n"
     "  - name: b\n    broker: { client_id: x, uri: 'tcp://other:1883' }\n",
     NULL},
    /* The error names the broker without the password of its URI. */
    {VENDOR RULES
     "broker: { uri: 'tcp://gw:hunter2@b:1883', client_id: x }\n"
     "consumers:\n  - name: ops\n"
     "    broker: { uri: 'tcp://gw:hunter2@b:1883', client_id: x }\n",
     "client_id 'x' is already used on tcp://gw:***@b:1883 by the "
     "gateway's intake connection"},
    /* A device id built from a private field is private, and `device`
     * may be granted (SPEC §6); with neither, the grant is a typo. */
    {"vendors:\n  - name: lot\n    topics: [\"p/+\"]\n"
     "    device: \"{payload.owner}\"\n    private: [owner]\n" RULES
     "consumers:\n  - { name: fm, role: enterprise, grants: [device] }\n",
     NULL},
    {"vendors:\n  - name: lot\n    topics: [\"p/+\"]\n    private: "
     "[owner]\n" RULES
     "consumers:\n  - { name: fm, role: enterprise, grants: [device] }\n",
     "grant 'device' is no vendor's private field"},
    /* A broker URI neither MQTT client could use, at its position. */
    {VENDOR RULES CONSUMER "broker: { uri: 'tcp://gw:pw@b:1883' }\n",
     "citygate.yaml:8:16: error: broker: uri must not carry a user or "
     "password"},
    {VENDOR RULES CONSUMER "broker: { uri: 'http://b:1883' }\n",
     "citygate.yaml:8:16: error: broker: uri must start with tcp://"},
    {VENDOR RULES CONSUMER "broker: { uri: 'tcp://b:70000' }\n",
     "error: broker: uri has a port that is not a number"},
    {VENDOR RULES CONSUMER "broker: { uri: 'ssl://[::1]:8883' }\n", NULL},
    /* metrics_listen: what the metrics server can bind. */
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: nonsense\n",
     "citygate.yaml:9:19: error: gateway.metrics_listen: expected IPV4:PORT "
     "or :PORT with a port from 1 to 65535, got 'nonsense'"},
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: 127.0.0.1:0\n",
     "gateway.metrics_listen: expected"},
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: 127.0.0.1:65536\n",
     "gateway.metrics_listen: expected"},
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: localhost:9108\n",
     "gateway.metrics_listen: expected"},
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: '127.0.0.1:'\n",
     "gateway.metrics_listen: expected"},
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: '127.0.0.1:+80'\n",
     "gateway.metrics_listen: expected"},
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: '[::1]:9108'\n",
     "gateway.metrics_listen: expected"},
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: 127.0.0.1:9108\n",
     NULL},
    {VENDOR RULES CONSUMER "gateway:\n  metrics_listen: ':65535'\n", NULL},
    /* Topics the gateway publishes to. */
    {VENDOR RULES CONSUMER "gateway:\n  dead_letter_topic: city/+/dead\n",
     "citygate.yaml:9:22: error: gateway.dead_letter_topic: must not hold "
     "the MQTT wildcards '+' or '#'"},
    {VENDOR RULES CONSUMER "gateway:\n  status_topic: 'city/#'\n",
     "gateway.status_topic: must not hold the MQTT wildcards"},
    {VENDOR RULES CONSUMER "gateway:\n  status_topic: ''\n",
     "gateway.status_topic: must not be empty"},
    {VENDOR RULES CONSUMER "gateway:\n  dead_letter_topic: '$SYS/dead'\n",
     "gateway.dead_letter_topic: must not start with '$'"},
    {VENDOR RULES CONSUMER "gateway:\n  dead_letter_topic: \"a\\0b\"\n",
     "citygate.yaml:9:22: error: gateway.dead_letter_topic: text must not "
     "hold a NUL character"},
    {VENDOR RULES CONSUMER
     "gateway:\n  dead_letter_topic: city/dead\n  status_topic: city/up\n",
     NULL},
    /* Consumer names and their spool folders. */
    {VENDOR RULES "consumers:\n  - name: state\n",
     "citygate.yaml:6:11: error: consumers[0]: consumer name 'state' is "
     "taken: the gateway keeps its own 'state' folder in spool_dir"},
    {VENDOR RULES "consumers:\n  - name: ''\n",
     "consumers[0]: name must not be empty"},
    {VENDOR RULES "consumers:\n  - name: .dead-letters\n  - name: .mqtt\n"
                  "  - name: _dead-letters\n  - name: State\n",
     NULL},
    {VENDOR RULES "consumers:\n  - name: ops/gov\n  - name: ops_gov\n"
                  "  - name: ops%2Fgov\n",
     NULL},
    /* A time zone the system's tzdata does not know: glibc would fall back
     * to UTC without a word, and every hour() would be off. */
    {VENDOR RULES CONSUMER "gateway:\n  timezone: Mars/Olympus\n",
     "citygate.yaml:9:13: error: gateway.timezone: unknown time zone "
     "'Mars/Olympus'"},
    {VENDOR RULES CONSUMER "gateway:\n  timezone: Asia/Shanghai\n", NULL},
};

/* Every case runs; each mismatch is printed, then the test fails. */
static void test_checks(void **state)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
        const struct check_case *c = &check_cases[i];
        int rc;
        const char *out = load(c->config, RULES_OK, &rc);
        bool ok = c->expect ? rc == CG_EINVAL && strstr(out, c->expect)
                            : rc == CG_OK && !*out;
        if (!ok)
            print_error("case %zu: want \"%s\"\ngot %d:\n%s", i,
                        c->expect ? c->expect : "", rc, out);
        failed += !ok;
    }
    assert_int_equal(failed, 0);
}

/* A name whose folder is longer than the file system allows. */
static void test_long_consumer_name(void **state)
{
    char config[2048], name[300];
    memset(name, 'a', 255);
    name[255] = '\0';
    snprintf(config, sizeof(config), VENDOR RULES "consumers:\n  - name: %s\n",
             name);
    int rc;
    assert_string_equal(load(config, RULES_OK, &rc), "");
    name[254] = '/'; /* escaped as %2F: 257 bytes */
    snprintf(config, sizeof(config), VENDOR RULES "consumers:\n  - name: %s\n",
             name);
    const char *out = load(config, RULES_OK, &rc);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out, "name makes a spool folder name of 257 "
                                "bytes; the file system allows 255"));
}

/* More rule globs than the old fixed array of 64: every one counts. */
static void test_many_globs(void **state)
{
    struct cg_buf b = {0};
    char name[64];
    cg_buf_puts(&b, VENDOR CONSUMER "rules:\n");
    for (int i = 0; i < 100; i++) {
        char rule[128];
        snprintf(name, sizeof(name), "rules/r%03d.yaml", i);
        snprintf(rule, sizeof(rule),
                 "domain: d\nrules:\n  - name: r%d\n    to: [ops]\n", i);
        cg_buf_printf(&b, "  - %s\n", name);
        write_file(name, rule);
    }
    write_file("citygate.yaml", b.data);
    cg_buf_free(&b);
    struct cg_config *cfg = NULL;
    int rc;
    assert_string_equal(load_dir(&rc, &cfg), "");
    assert_int_equal(rc, CG_OK);
    assert_int_equal(cfg->n_rule_files, 100); /* 36 were dropped */
    assert_string_equal(cfg->rule_files[99].path + strlen(dir),
                        "/rules/r099.yaml");
    cg_config_free(cfg);
    /* The same rule name in two files of one domain is still found. */
    write_file("rules/r050.yaml",
               "domain: d\nrules:\n  - name: x\n    to: [ops]\n"
               "  - name: r7\n    to: [ops]\n");
    const char *out = load_dir(&rc, NULL);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out,
                           "r050.yaml:5:11: error: duplicate rule name 'r7' in "
                           "domain 'd' (also in "));
    assert_non_null(strstr(out, "/rules/r007.yaml)"));
    for (int i = 0; i < 100; i++) {
        char path[512];
        snprintf(name, sizeof(name), "rules/r%03d.yaml", i);
        unlink(in_dir(name, path, sizeof(path)));
    }
}

/* More plugin globs than the old fixed array of 64: every one counts
 * (the config lists the files; loading them is the host's job). */
static void test_many_plugin_globs(void **state)
{
    struct cg_buf b = {0};
    char name[64], path[512];
    cg_buf_puts(&b, MINIMAL "plugins:\n");
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "p%03d.so", i);
        cg_buf_printf(&b, "  - %s\n", name);
        write_file(name, "");
    }
    write_file("citygate.yaml", b.data);
    write_file("rules/env.yaml", RULES_OK);
    cg_buf_free(&b);
    struct cg_config *cfg = NULL;
    int rc;
    assert_string_equal(load_dir(&rc, &cfg), "");
    assert_int_equal(rc, CG_OK);
    assert_int_equal(cfg->n_plugin_paths, 100); /* 36 were dropped */
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "/p%03d.so", i);
        assert_string_equal(cfg->plugin_paths[i] + strlen(dir), name);
    }
    cg_config_free(cfg);
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "p%03d.so", i);
        unlink(in_dir(name, path, sizeof(path)));
    }
}

/* A folder and a FIFO matched by the rules glob: each is refused by
 * name, and the FIFO never blocks the loader. */
static void test_not_regular_files(void **state)
{
    char path[512], out_copy[16384];
    write_file("rules/env.yaml", RULES_OK);
    write_file("citygate.yaml", MINIMAL);
    assert_int_equal(mkdir(in_dir("rules/sub.yaml", path, sizeof(path)), 0700),
                     0);
    assert_int_equal(
        mkfifo(in_dir("rules/fifo.yaml", path, sizeof(path)), 0600), 0);
    int rc;
    snprintf(out_copy, sizeof(out_copy), "%s", load_dir(&rc, NULL));
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out_copy, "citygate.yaml:12:9: error: rules: '"));
    assert_non_null(strstr(out_copy,
                           "/rules/sub.yaml' is a directory, not a regular "
                           "file"));
    assert_non_null(
        strstr(out_copy, "/rules/fifo.yaml' is a FIFO, not a regular file"));
    /* Named directly (citygate test FILE), the FIFO is opened without
     * blocking and refused after fstat. */
    struct cg_diags d = {0};
    struct cg_config *cfg = NULL;
    char config[512];
    const char *only[] = {in_dir("rules/fifo.yaml", path, sizeof(path))};
    rc = cg_config_load(in_dir("citygate.yaml", config, sizeof(config)), only,
                        1, &cfg, &d);
    assert_int_equal(rc, CG_EINVAL);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].msg, "cannot read the rule file: is a FIFO, "
                                        "not a regular file");
    cg_diags_free(&d);
    const char *dir_only[] = {in_dir("rules/sub.yaml", path, sizeof(path))};
    rc = cg_config_load(config, dir_only, 1, &cfg, &d);
    assert_int_equal(rc, CG_EINVAL);
    assert_string_equal(d.items[0].msg, "cannot read the rule file: is a "
                                        "directory, not a regular file");
    cg_diags_free(&d);
    unlink(in_dir("rules/fifo.yaml", path, sizeof(path)));
    rmdir(in_dir("rules/sub.yaml", path, sizeof(path)));
}

/* Secrets others can read: a warning at the key, and the load succeeds. */
static void test_secret_file_warnings(void **state)
{
    char path[512], config[2048];
    write_file("pass", "s3cret\n");
    write_file("key.pem", "-----BEGIN PRIVATE KEY-----\n");
    chmod(in_dir("pass", path, sizeof(path)), 0644);
    chmod(in_dir("key.pem", path, sizeof(path)), 0640);
    snprintf(config, sizeof(config),
             MINIMAL "broker:\n  password_file: pass\n"
                     "  tls: { key_file: key.pem }\n");
    struct cg_config *cfg = NULL;
    int rc;
    write_file("citygate.yaml", config);
    write_file("rules/env.yaml", RULES_OK);
    const char *out = load_dir(&rc, &cfg);
    assert_int_equal(rc, CG_OK);
    assert_non_null(cfg);
    assert_string_equal(cfg->broker.password, "s3cret");
    cg_config_free(cfg);
    assert_non_null(strstr(out, "citygate.yaml:14:18: warning: broker: "
                                "password_file '"));
    assert_non_null(strstr(out, "/pass' is readable by others (mode 0644): "
                                "chmod 600\n"));
    assert_non_null(strstr(out, "citygate.yaml:15:20: warning: broker.tls: "
                                "key_file '"));
    assert_non_null(strstr(out, "(mode 0640): chmod 600\n"));
    assert_null(strstr(out, "error"));
    /* chmod 600 silences both. */
    chmod(in_dir("pass", path, sizeof(path)), 0600);
    chmod(in_dir("key.pem", path, sizeof(path)), 0600);
    assert_string_equal(load_dir(&rc, NULL), "");
    /* A consumer's own broker is checked the same way, and a warning
     * next to an error still fails the load for the error only. */
    chmod(in_dir("pass", path, sizeof(path)), 0604);
    write_file("citygate.yaml",
               VENDOR RULES "consumers:\n  - name: ops\n    broker: "
                            "{ client_id: c, password_file: pass }\n"
                            "  - name: ''\n");
    out = load_dir(&rc, NULL);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out, "warning: consumers[0].broker: password_file"));
    assert_non_null(strstr(out, "error: consumers[1]: name must not be empty"));
}

/* Files the broker connection will need must exist when `check` runs. */
static void test_unreadable_files(void **state)
{
    int rc;
    const char *out = load(MINIMAL "broker:\n  password_file: nothing-here\n"
                                   "  tls: { ca_file: no-ca.pem }\n",
                           RULES_OK, &rc);
    assert_int_equal(rc, CG_EINVAL);
    assert_non_null(strstr(out, "citygate.yaml:14:18: error: broker: "
                                "password_file '"));
    assert_non_null(strstr(out, "/nothing-here' cannot be read: No such file"));
    assert_non_null(strstr(out, "citygate.yaml:15:19: error: broker.tls."
                                "ca_file: '"));
    out = load(MINIMAL "broker:\n  password_file: rules\n", RULES_OK, &rc);
    assert_non_null(strstr(out, "/rules' cannot be read: is a directory, not "
                                "a regular file"));
}

/* This thread's CPU time: other processes on a busy machine do not count
 * (wall time did, and failed the ratio below on a loaded CI box). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The best of `tries` loads of a rule file with n rules, in CPU seconds. */
static double time_rules(int n, int tries)
{
    struct cg_buf b = {0};
    cg_buf_puts(&b, "domain: d\nrules:\n");
    for (int i = 0; i < n; i++)
        cg_buf_printf(&b, "  - {name: rule-%d, to: [ops]}\n", i);
    write_file("citygate.yaml", VENDOR CONSUMER RULES);
    write_file("rules/env.yaml", b.data);
    cg_buf_free(&b);
    double best = 1e9;
    for (int t = 0; t < tries; t++) {
        double t0 = cpu_seconds();
        int rc;
        assert_string_equal(load_dir(&rc, NULL), "");
        double took = cpu_seconds() - t0;
        best = took < best ? took : best;
    }
    return best;
}

/* Many rules load in linear time: eight times the rules take about
 * eight times the CPU time. Each rule name used to be compared with every
 * earlier one: 30,000 rules took 1.9 s, 60,000 took 5.8 s, and 40,000
 * took over fifty times as long as 5,000. A ratio, not a time, so that a
 * slow build (sanitizers) does not fail it; the best of a few runs, so
 * that a busy machine does not. */
static void test_many_rules_linear(void **state)
{
    /* Memory given back to the system is faulted in again by the next
     * load, which would time the kernel, not the loader: keep it. */
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    double big = time_rules(40000, 2), small = time_rules(5000, 5);
    if (big > 25 * small)
        fail_msg("5,000 rules: %.3f s, 40,000: %.3f s", small, big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_long_consumer_name),
        cmocka_unit_test(test_many_globs),
        cmocka_unit_test(test_many_plugin_globs),
        cmocka_unit_test(test_not_regular_files),
        cmocka_unit_test(test_secret_file_warnings),
        cmocka_unit_test(test_unreadable_files),
        cmocka_unit_test(test_many_rules_linear),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
