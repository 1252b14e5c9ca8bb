/*
 * Sinks known only to their plugins: a consumer's keys beyond the common
 * ones are checked against its sink's option table when the pipeline is
 * built (so `citygate check` reports them), each at its line and column,
 * and the host-handled options (topic, qos, batch, paths, sizes, env:) are
 * resolved for the host.
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

#define HEAD                                                                   \
    "vendors:\n  - name: a\n    topics: [x/+]\n"                               \
    "rules: [\"rules/*.yaml\"]\n"                                              \
    "consumers:\n"

static const char *RULES = "domain: d\nrules:\n  - name: r\n"
                           "    to: [government, enterprise, citizen]\n";

struct built {
    struct cg_config *cfg;
    struct cg_plugin_reg *reg;
    struct cg_pipeline *p;
    struct cg_buf diags;
    int rc;
};

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void build(const char *config, struct built *b)
{
    char path[512];
    memset(b, 0, sizeof(*b));
    write_file("citygate.yaml", config);
    snprintf(path, sizeof(path), "%s/citygate.yaml", dir);
    struct cg_diags d = {0};
    b->rc = cg_config_load(path, NULL, 0, &b->cfg, &d);
    if (b->rc == CG_OK)
        b->rc = cg_plugins_load(NULL, 0, &b->reg, &d);
    if (b->rc == CG_OK)
        b->rc = cg_pipeline_new(b->cfg, b->reg, &b->p, &d);
    cg_diags_format(&d, &b->diags);
    cg_diags_free(&d);
}

static void unbuild(struct built *b)
{
    cg_pipeline_free(b->p);
    cg_plugins_free(b->reg);
    cg_config_free(b->cfg);
    cg_buf_free(&b->diags);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cg-sinks-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof(path), "%s/rules", dir);
    mkdir(path, 0700);
    write_file("rules/d.yaml", RULES);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

struct error_case {
    const char *consumers;
    const char *expect;
};

static const struct error_case error_cases[] = {
    {"  - name: c\n    sink: http\n",
     "citygate.yaml:6:5: error: sink http needs the option 'url'"},
    {"  - name: c\n    url: http://x\n",
     "citygate.yaml:7:5: error: unknown option 'url' for sink mqtt"},
    {"  - name: c\n    sink: http\n    url: http://x\n"
     "    headers: { A: \"env:CG_SURELY_UNSET_VAR\" }\n",
     "citygate.yaml:9:5: error: consumer c: environment variable "
     "'CG_SURELY_UNSET_VAR' is not set"},
    {"  - name: c\n    topik: a/b\n",
     "citygate.yaml:7:5: error: unknown option 'topik' for sink mqtt "
     "(did you mean 'topic'?)"},
    {"  - name: c\n    qos: 3\n",
     "citygate.yaml:7:5: error: option 'qos' of sink mqtt must be 0, 1 "
     "or 2"},
    {"  - name: c\n    sink: file\n    path: a.jsonl\n    fsync: sometimes\n",
     "citygate.yaml:9:5: error: sink file: fsync: must be every_event"},
    {"  - name: c\n    sink: http\n    url: http://x\n"
     "    batch: { max_events: 0 }\n",
     "citygate.yaml:9:5: error: consumer c: batch.max_events is out of "
     "range"},
    {"  - name: c\n    sink: http\n    url: http://x\n"
     "    broker: { uri: \"tcp://b:1883\", client_id: x }\n",
     "consumer c: 'broker' does not apply to the http sink"},
    {"  - name: c\n    sink: smtp\n",
     "citygate.yaml:7:11: error: unknown sink 'smtp' (mqtt | http | file | "
     "plugin:NAME)"},
    {"  - name: c\n    sink: plugin:nope\n", "unknown sink 'plugin:nope'"},
    {"  - name: c\n    topic: \"a/+/{domain}\"\n",
     "citygate.yaml:7:12: error: topic: 'a/+/': a topic name may not hold"},
};

static void test_option_errors(void **state)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        char config[1024];
        snprintf(config, sizeof(config), HEAD "%s", error_cases[i].consumers);
        struct built b;
        build(config, &b);
        const char *out = b.diags.data ? b.diags.data : "";
        if (!strstr(out, error_cases[i].expect)) /* after the temp dir */
            fail_msg("case %zu: want \"%s\"\ngot:\n%s", i,
                     error_cases[i].expect, out);
        assert_int_not_equal(b.rc, CG_OK);
        unbuild(&b);
    }
}

static void test_resolved(void **state)
{
    struct built b;
    setenv("CG_TEST_TOKEN", "secret", 1);
    build(HEAD "  - name: m\n"
               "  - name: q0\n    qos: 0\n    topic: \"x/{domain}\"\n"
               "  - name: h\n    sink: http\n    url: http://127.0.0.1:9/e\n"
               "    headers: { Authorization: \"env:CG_TEST_TOKEN\" }\n"
               "    batch: { max_events: 7 }\n"
               "  - name: f\n    sink: file\n    path: out/a.jsonl\n"
               "    rotate: { max_bytes: 1KiB }\n",
          &b);
    assert_int_equal(b.rc, CG_OK);
    const struct cg_sink_conf *m = cg_pipeline_sink(b.p, 0);
    assert_string_equal(m->topic, "city/m/{domain}/{type}");
    assert_int_equal(m->qos, 1);
    assert_true(m->mqtt);
    assert_int_equal(m->batch_wait_ms, 0);
    const struct cg_sink_conf *q0 = cg_pipeline_sink(b.p, 1);
    assert_int_equal(q0->qos, 0);
    assert_string_equal(cg_pipeline_target(b.p, 1), "x/{domain}");
    const struct cg_sink_conf *h = cg_pipeline_sink(b.p, 2);
    assert_false(h->mqtt);
    assert_null(h->topic);
    assert_int_equal(h->batch_max, 7);
    assert_int_equal(h->batch_wait_ms, 200);
    const struct cg_value *hdr =
        cg_value_member(&h->options, "headers", strlen("headers"));
    assert_non_null(hdr);
    assert_string_equal(hdr->as.members[0].value.as.str, "secret");
    char want[600];
    snprintf(want, sizeof(want), "%s/out/a.jsonl", dir);
    assert_string_equal(cg_pipeline_target(b.p, 3), want);
    unbuild(&b);
}

struct secret_case {
    const char *options; /* the http consumer's keys after url */
    const char *file;    /* chmod'ed to mode before the load */
    int mode;
    const char *warning; /* a substring of the diagnostics; NULL: none */
};

static const struct secret_case secret_cases[] = {
    {"    auth: { basic_user: u, password_file: pass }\n", "pass", 0644,
     "citygate.yaml:9:5: warning: consumer h: auth.password_file '"},
    {"    auth: { basic_user: u, password_file: pass }\n", "pass", 0600, NULL},
    {"    bearer_token_file: token\n", "token", 0640,
     "citygate.yaml:9:5: warning: consumer h: bearer_token_file '"},
    {"    bearer_token_file: token\n", "token", 0400, NULL},
    {"    tls: { cert_file: cert.pem, key_file: key.pem }\n", "key.pem", 0604,
     "citygate.yaml:9:5: warning: consumer h: tls.key_file '"},
    /* A certificate or a CA is public: no warning. */
    {"    tls: { cert_file: cert.pem, key_file: key.pem }\n", "key.pem", 0600,
     NULL},
    {"    tls: { ca_file: cert.pem }\n", "cert.pem", 0644, NULL},
};

/* Sets a test file's mode; path gets its full name. */
static void set_mode(const char *name, int mode, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

/* Issue 9 item 9: a password, token or key file of an http consumer that
 * its group or others can read is a warning naming the file (the load
 * still succeeds); mode 0600 is quiet. */
static void test_secret_files_readable_by_others(void **state)
{
    char path[512];
    write_file("pass", "pw\n");
    write_file("token", "t0k\n");
    write_file("key.pem", "key\n");
    write_file("cert.pem", "cert\n");
    for (size_t i = 0; i < sizeof(secret_cases) / sizeof(secret_cases[0]);
         i++) {
        const struct secret_case *c = &secret_cases[i];
        char config[1024];
        snprintf(config, sizeof(config),
                 HEAD "  - name: h\n    sink: http\n    url: http://x/e\n%s",
                 c->options);
        set_mode("cert.pem", 0644, path, sizeof(path));
        set_mode(c->file, c->mode, path, sizeof(path));
        struct built b;
        build(config, &b);
        const char *out = b.diags.data ? b.diags.data : "";
        bool ok = c->warning ? strstr(out, c->warning) && strstr(out, path) &&
                                   strstr(out, "is readable by others")
                             : !*out;
        if (!ok || b.rc != CG_OK)
            fail_msg("case %zu: want \"%s\" (rc 0)\ngot %d:\n%s", i,
                     c->warning ? c->warning : "", b.rc, out);
        unbuild(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_resolved),
        cmocka_unit_test(test_secret_files_readable_by_others),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
