/*
 * Fuzz targets: the config loader and everything `citygate check` builds
 * on it. One source, two targets:
 *
 *   fuzz_config  the input is citygate.yaml (its rule globs find one
 *                fixed, valid rule file next to it);
 *   fuzz_rules   (CG_FUZZ_RULE_FILE) the input is a rule file, loaded
 *                with the example city's config (CG_EXAMPLE_CONFIG), so
 *                that its rule files, the seeds, load and run whole.
 *
 * Each run writes the input (after the control bytes, fuzz.h) to a file
 * in a private temporary folder, loads it with cg_config_load, and when
 * that succeeds builds the engine (decoders, expressions, templates,
 * rules) with only the built-in plugins: fuzzed `plugins:` globs are
 * expanded but never dlopen'ed. Messages then go through the engine: for
 * fuzz_config one per vendor on a topic made from its first filter; for
 * fuzz_rules every case of the rules' own `tests:` (topics and payloads
 * the fuzzer writes).
 *
 * Beyond "no crash, no leak", every run checks: the loader and the engine
 * answer only CG_OK (with no error; warnings may come), CG_EINVAL with at
 * least one error, or CG_ENOMEM while failures are armed (out of memory,
 * a diagnostic may be dropped); diagnostics have sane positions; every
 * event and dead letter the engine emits is valid JSON, and a message run
 * twice emits the same.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "host/host.h"
#include "pipeline/pipeline.h"

#define MAX_MESSAGES 32 /* per run, to keep runs fast */

static char dir[64], input_path[96];

static const char fixed_rules[] = "domain: environment\n"
                                  "rules:\n"
                                  "  - name: pm25-high\n"
                                  "    when: pm25 > 35\n"
                                  "    data: {pm25: pm25, owner: owner_id}\n"
                                  "    to: [government, citizen]\n";

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0,
               "cannot write %s", path);
}

#ifdef CG_FUZZ_RULE_FILE
/* Copies a YAML file without its comment lines: every run parses it, and
 * the example city is mostly comments. */
static void copy_yaml(const char *from, const char *to)
{
    char line[1024];
    FILE *in = fopen(from, "r"), *out = fopen(to, "w");
    FUZZ_CHECK(in && out, "cannot copy %s to %s", from, to);
    while (fgets(line, sizeof(line), in))
        if (line[strspn(line, " ")] != '#')
            fputs(line, out);
    FUZZ_CHECK(!ferror(in) && fclose(out) == 0, "cannot copy %s", from);
    fclose(in);
}
#endif

static void remove_dir(void)
{
    char path[128];
    const char *names[] = {"citygate.yaml", "rules/env.yaml", "input.yaml"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/rules", dir);
    rmdir(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[128];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/cg-fuzz-XXXXXX", tmp ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(dir), "cannot make a folder in %s", dir);
    atexit(remove_dir);
    snprintf(path, sizeof(path), "%s/rules", dir);
    FUZZ_CHECK(mkdir(path, 0700) == 0, "cannot make %s", path);
    snprintf(path, sizeof(path), "%s/rules/env.yaml", dir);
    write_file(path, fixed_rules, sizeof(fixed_rules) - 1);
#ifdef CG_FUZZ_RULE_FILE
    snprintf(path, sizeof(path), "%s/citygate.yaml", dir);
    copy_yaml(CG_EXAMPLE_CONFIG, path);
    snprintf(input_path, sizeof(input_path), "%s/input.yaml", dir);
#else
    snprintf(input_path, sizeof(input_path), "%s/citygate.yaml", dir);
#endif
    return 0;
}

/* ---- checking what comes out ------------------------------------------ */

static void check_json(const char *what, const char *json, size_t len)
{
    struct cg_arena *arena = cg_arena_new(4096);
    struct cg_value v;
    char err[160] = "";
    FUZZ_CHECK(arena, "out of memory");
    FUZZ_CHECK(strlen(json) == len, "%s: length %zu, text %zu", what, len,
               strlen(json));
    FUZZ_CHECK(cg_json_parse(json, len, cg_arena_alloc_fn, arena, &v, err,
                             sizeof(err)) == CG_OK &&
                   v.type == CG_OBJ,
               "%s is not a JSON object (%s): %s", what, err, json);
    cg_arena_free(arena);
}

/* Each output is checked, then folded into the hash at user. */
static int on_delivery(void *user, const struct cg_delivery *d)
{
    uint64_t *h = user;
    FUZZ_CHECK(d->consumer_name && d->target, "delivery without target");
    check_json("event", d->event.json, d->event.json_len);
    *h = cg_hash64(*h, d->target, strlen(d->target) + 1);
    *h = cg_hash64(*h, d->event.json, d->event.json_len);
    return CG_OK;
}

static int on_dead(void *user, const struct cg_dead *d)
{
    uint64_t *h = user;
    FUZZ_CHECK(d->reason >= 0 && d->reason < CG_DEAD_N_REASONS,
               "dead letter without reason");
    check_json("dead letter", d->json, d->len);
    *h = cg_hash64(*h, d->json, d->len);
    return CG_OK;
}

static void check_diags(const struct cg_diags *d)
{
    struct cg_buf b = {0};
    for (size_t i = 0; i < d->n; i++)
        FUZZ_CHECK((d->items[i].file || fuzz_armed) && d->items[i].line >= 0 &&
                       d->items[i].col >= 0 && d->items[i].msg[0],
                   "diagnostic %zu: %s:%d:%d: %s", i, d->items[i].file,
                   d->items[i].line, d->items[i].col, d->items[i].msg);
    cg_diags_format(d, &b);
    cg_buf_free(&b);
}

/* ---- messages through the engine -------------------------------------- */

/* Runs the message twice: the engine keeps no state between messages
 * that shows in its output, so both runs must emit the same. */
static void process(struct cg_pipeline *e, const char *topic,
                    const void *payload, size_t len)
{
    struct cg_message m = {topic, strlen(topic), payload, len, 1764490502.0};
    uint64_t h[2] = {CG_HASH_SEED, CG_HASH_SEED};
    int rc[2];
    for (int i = 0; i < 2; i++) {
        struct cg_emit emit = {on_delivery, on_dead, &h[i]};
        rc[i] = cg_pipeline_process(e, &m, &emit);
        FUZZ_CHECK(rc[i] >= 0 || (rc[i] == CG_ENOMEM && fuzz_armed),
                   "process returned %d", rc[i]);
    }
    FUZZ_CHECK(fuzz_armed || (rc[0] == rc[1] && h[0] == h[1]),
               "a second run of '%s' emits something else", topic);
}

#ifdef CG_FUZZ_RULE_FILE
/* Every case of the rules' own tests. */
static void run_messages(struct cg_pipeline *e, const struct cg_config *cfg)
{
    size_t sent = 0;
    for (size_t f = 0; f < cfg->n_rule_files; f++)
        for (size_t r = 0; r < cfg->rule_files[f].n_rules; r++) {
            const struct cg_rule_conf *rule = &cfg->rule_files[f].rules[r];
            for (size_t t = 0; t < rule->n_tests && sent < MAX_MESSAGES;
                 t++, sent++)
                if (rule->tests[t].topic)
                    process(e, rule->tests[t].topic, rule->tests[t].payload,
                            rule->tests[t].payload_len);
        }
}
#else
/* A topic that the filter matches: wildcards become sample levels. */
static void topic_for(const char *filter, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = filter; *p && n + 8 < size; p++) {
        if (*p == '+')
            n += (size_t)snprintf(out + n, size - n, "dev-1");
        else if (*p == '#')
            n += (size_t)snprintf(out + n, size - n, "a/b");
        else
            out[n++] = *p;
    }
    out[n] = '\0';
}

/* One message per vendor, in each text format a decoder may expect. */
static void run_messages(struct cg_pipeline *e, const struct cg_config *cfg)
{
    static const char *const payloads[] = {
        ("{\"id\":\"d-1\",\"pm2_5\":80.5,\"temp_f\":70,\"zone\":\"north\","
         "\"owner\":\"o-1\",\"ts\":1764490502,\"data\":{\"v\":[1,2]}}"),
        "id=d-1;pm25=80;status=ok",
        "d-1,80,ok\n",
        "\x03\x67\x01\x10\x05\x68\x50",
    };
    char topic[256];
    for (size_t v = 0; v < cfg->n_vendors && v < MAX_MESSAGES / 4; v++) {
        if (!cfg->vendors[v].n_topics)
            continue;
        topic_for(cfg->vendors[v].topics[0].s, topic, sizeof(topic));
        for (size_t p = 0; p < 4; p++)
            process(e, topic, payloads[p], strlen(payloads[p]));
    }
}
#endif

/* ---- one run ---------------------------------------------------------- */

/* A partial config (one with errors, SPEC 14) is built too, as `check`
 * builds it to report every error, but never run. */
static void build_and_run(const struct cg_config *cfg, struct cg_diags *d,
                          bool partial)
{
    struct cg_plugin_reg *reg = NULL;
    struct cg_pipeline *e = NULL;
    /* No paths: a fuzzed glob must never get a file dlopen'ed. */
    int rc = cg_plugins_load(NULL, 0, &reg, d);
    if (rc == CG_OK)
        rc = cg_pipeline_new(cfg, reg, &e, d);
    if (partial) {
        cg_pipeline_free(e);
        cg_plugins_free(reg);
        return;
    }
    FUZZ_CHECK(rc == CG_OK ||
                   (rc == CG_EINVAL && (cg_diags_errors(d) || fuzz_armed)) ||
                   (rc == CG_ENOMEM && fuzz_armed),
               "engine returned %d", rc);
    FUZZ_CHECK(rc != CG_OK || cg_diags_errors(d) == 0, "built, with %zu errors",
               cg_diags_errors(d));
    if (e)
        run_messages(e, cfg);
    cg_pipeline_free(e);
    cg_plugins_free(reg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_begin(&data, &size))
        return 0;
    fuzz_end(); /* writing the input is no part of the test */
    write_file(input_path, data, size);
    fuzz_arm();
    struct cg_config *cfg = NULL;
    struct cg_diags d = {0};
#ifdef CG_FUZZ_RULE_FILE
    char config[128];
    const char *only[] = {input_path};
    snprintf(config, sizeof(config), "%s/citygate.yaml", dir);
    int rc = cg_config_load_partial(config, only, 1, &cfg, &d);
#else
    int rc = cg_config_load_partial(input_path, NULL, 0, &cfg, &d);
#endif
    /* Out of memory, the diagnostics list drops what it cannot hold. */
    FUZZ_CHECK(rc == CG_OK ||
                   (rc == CG_EINVAL && (cg_diags_errors(&d) || fuzz_armed)) ||
                   (rc == CG_ENOMEM && fuzz_armed),
               "load returned %d", rc);
    FUZZ_CHECK(rc == CG_OK || rc == CG_EINVAL || !cfg, "config set on failure");
    /* Warnings (a password file others can read) do not fail a load. */
    FUZZ_CHECK(rc != CG_OK || cg_diags_errors(&d) == 0,
               "loaded, with %zu errors", cg_diags_errors(&d));
    if (cfg)
        build_and_run(cfg, &d, rc != CG_OK);
    fuzz_end();
    check_diags(&d);
    cg_diags_free(&d);
    cg_config_free(cfg);
    return 0;
}
