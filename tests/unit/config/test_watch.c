/*
 * Which file triggered a reload: snapshots of the config's files compare
 * equal while nothing changes, and name the config file or the rule file
 * that was edited, added or removed; a failed allocation leaves nothing
 * behind.
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

#include "harness.h"

static struct cg_config *load_ok(void)
{
    struct cg_config *cfg = NULL;
    int rc;
    load_dir(&rc, &cfg);
    assert_int_equal(rc, CG_OK);
    return cfg;
}

static struct cg_config_files *snap(const struct cg_config *cfg)
{
    struct cg_config_files *f = NULL;
    assert_int_equal(cg_config_files_snapshot(cfg, &f), CG_OK);
    assert_non_null(f);
    return f;
}

/* What each change does to the description of the difference. */
struct change {
    const char *name;
    void (*apply)(void);
    const char *want; /* the description, after the folder */
    size_t n;
};

static void edit_config(void)
{
    write_file("citygate.yaml", MINIMAL "# an edit\n");
}

static void edit_rule(void)
{
    write_file("rules/env.yaml", RULES_OK "# an edit\n");
}

static void add_rule(void)
{
    write_file("rules/water.yaml", "domain: water\nrules: []\n");
}

static void remove_rule(void)
{
    char path[512];
    assert_int_equal(unlink(in_dir("rules/env.yaml", path, sizeof(path))), 0);
}

static void add_two(void)
{
    write_file("rules/a.yaml", "domain: a\nrules: []\n");
    write_file("rules/b.yaml", "domain: b\nrules: []\n");
}

static void nothing(void)
{
}

static const struct change changes[] = {
    {"config edited", edit_config, "config file %s/citygate.yaml changed", 1},
    {"rule edited", edit_rule, "rule file %s/rules/env.yaml changed", 1},
    {"rule added", add_rule, "rule file %s/rules/water.yaml was added", 1},
    {"rule removed", remove_rule, "rule file %s/rules/env.yaml was removed", 1},
    {"two added", add_two, "rule file %s/rules/a.yaml was added", 2},
    {"nothing", nothing, "", 0},
};

static void reset_files(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -f '%s'/rules/*.yaml", dir);
    assert_int_equal(system(cmd), 0);
    write_file("citygate.yaml", MINIMAL);
    write_file("rules/env.yaml", RULES_OK);
}

static void test_changes_named(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        const struct change *c = &changes[i];
        reset_files();
        struct cg_config *cfg = load_ok();
        struct cg_config_files *before = snap(cfg);
        c->apply();
        struct cg_config_files *after = snap(cfg);
        char why[600], want[600];
        snprintf(want, sizeof(want), c->want, dir);
        size_t n = cg_config_files_diff(before, after, why, sizeof(why));
        if (n != c->n || strcmp(why, want))
            fail_msg("%s: want %zu '%s', got %zu '%s'", c->name, c->n, want, n,
                     why);
        cg_config_files_free(before);
        cg_config_files_free(after);
        cg_config_free(cfg);
    }
}

/* The description is cut to the buffer it is given. */
static void test_description_cut(void **state)
{
    (void)state;
    reset_files();
    struct cg_config *cfg = load_ok();
    struct cg_config_files *before = snap(cfg);
    edit_rule();
    struct cg_config_files *after = snap(cfg);
    char why[10];
    assert_int_equal(cg_config_files_diff(before, after, why, sizeof(why)), 1);
    assert_string_equal(why, "rule file");
    cg_config_files_free(before);
    cg_config_files_free(after);
    cg_config_free(cfg);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    reset_files();
    struct cg_config *cfg = load_ok();
    for (long n = 0; n < 8; n++) {
        struct cg_config_files *f = NULL;
        cg_mem_fail_after(n);
        int rc = cg_config_files_snapshot(cfg, &f);
        cg_mem_fail_after(-1);
        assert_true(rc == CG_OK || rc == CG_ENOMEM);
        assert_true((rc == CG_OK) == (f != NULL));
        cg_config_files_free(f);
    }
    cg_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes_named),
        cmocka_unit_test(test_description_cut),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
