/*
 * Shared by the config unit tests: a private folder per test program, a
 * minimal valid config and rule file, files written into the folder, and
 * a load that returns the formatted diagnostics. Included by one test
 * program each, so its functions are static.
 */
#ifndef CG_TEST_CONFIG_HARNESS_H
#define CG_TEST_CONFIG_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char dir[256];

static inline void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* dir/name into buf. */
static inline const char *in_dir(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

static inline int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cg-config-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char rules[300];
    return mkdir(in_dir("rules", rules, sizeof(rules)), 0700);
}

static inline int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

#define MINIMAL                                                                \
    "vendors:\n"                                                               \
    "  - name: acme-air\n"                                                     \
    "    network: nb\n"                                                        \
    "    topics: [\"vendors/acme/+/telemetry\"]\n"                             \
    "networks:\n"                                                              \
    "  - name: nb\n"                                                           \
    "    kind: nb-iot\n"                                                       \
    "consumers:\n"                                                             \
    "  - name: city-ops\n"                                                     \
    "    role: government\n"                                                   \
    "    topic: \"city/{domain}\"\n"                                           \
    "rules: [\"rules/*.yaml\"]\n"

#define RULES_OK                                                               \
    "domain: environment\n"                                                    \
    "rules:\n"                                                                 \
    "  - name: pm25-high\n"                                                    \
    "    when: pm25 > 35\n"                                                    \
    "    to: [government]\n"

/* Loads dir/citygate.yaml as it is and returns the formatted
 * diagnostics, or "" when there are none. */
static inline char *load_dir(int *rc_out, struct cg_config **keep)
{
    static char out[16384];
    char path[512];
    struct cg_diags d = {0};
    struct cg_config *cfg = NULL;
    int rc = cg_config_load(in_dir("citygate.yaml", path, sizeof(path)), NULL,
                            0, &cfg, &d);
    struct cg_buf b = {0};
    cg_diags_format(&d, &b);
    snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
    cg_buf_free(&b);
    cg_diags_free(&d);
    if (keep)
        *keep = cfg;
    else
        cg_config_free(cfg);
    if (rc_out)
        *rc_out = rc;
    return out;
}

/* Writes citygate.yaml and rules/env.yaml, then loads them. */
static inline char *load(const char *config, const char *rules, int *rc_out)
{
    write_file("citygate.yaml", config);
    write_file("rules/env.yaml", rules);
    return load_dir(rc_out, NULL);
}

#endif
