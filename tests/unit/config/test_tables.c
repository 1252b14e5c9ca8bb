/*
 * Lookup tables in the config (SPEC §14): CSV and YAML files, typed
 * cells, the errors an operator meets (a duplicate key at its line in the
 * table file, a key column the table lacks at the `key:` line, a private
 * column that is not there), and the fingerprint that makes `run` reload
 * when a table file changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define TABLE(file, key, private)                                              \
    MINIMAL "tables:\n"                                                        \
            "  - name: bins\n"                                                 \
            "    file: " file "\n"                                             \
            "    key: " key "\n"                                               \
            "    private: [" private "]\n"

/* An enterprise granted a private column of a table. */
#define GRANT(name)                                                            \
    "vendors:\n  - {name: v, topics: [\"v/+\"]}\n"                             \
    "consumers:\n  - {name: ent, role: enterprise, grants: [" name "]}\n"      \
    "rules: [\"rules/*.yaml\"]\n"                                              \
    "tables:\n  - {name: bins, file: t.csv, key: k, private: [o]}\n"

struct table_case {
    const char *config, *file, *text;
    const char *expect; /* a substring of the diagnostics; NULL: loads */
};

static const struct table_case cases[] = {
    /* loads */
    {TABLE("bins.csv", "bin_id", "owner"), "bins.csv",
     "bin_id,district,capacity_l,owner\nb-1,haidian,240,Ms Li\n", NULL},
    {TABLE("bins.yaml", "bin_id", "owner"), "bins.yaml",
     "- {bin_id: b-1, capacity_l: 240, owner: Ms Li}\n", NULL},
    /* a header without rows is an empty table */
    {TABLE("bins.csv", "bin_id", ""), "bins.csv", "bin_id,owner\n", NULL},
    /* duplicate key: at its line in the table file, naming the first */
    {TABLE("bins.csv", "bin_id", "owner"), "bins.csv",
     "bin_id,owner\nb-1,a\nb-2,b\n\nb-1,c\n",
     "bins.csv:5:1: error: duplicate key 'b-1' (first at line 2)"},
    {TABLE("bins.yaml", "bin_id", ""), "bins.yaml",
     "- {bin_id: 7}\n- {bin_id: 8}\n- bin_id: 7\n  x: 1\n",
     "bins.yaml:3:1: error: duplicate key '7' (first at line 1)"},
    /* keys compare as text: 7 and "7" are one key */
    {TABLE("bins.csv", "bin_id", ""), "bins.csv", "bin_id\n7\n\"7\"\n",
     "bins.csv:3:1: error: duplicate key '7' (first at line 2)"},
    /* the key column the table lacks: at the key: line */
    {TABLE("bins.csv", "bin_idx", "owner"), "bins.csv", "bin_id,owner\nb-1,a\n",
     "citygate.yaml:16:10: error: tables: key 'bin_idx' is no column of"},
    {TABLE("bins.csv", "bin_idx", ""), "bins.csv", "bin_id,owner\nb-1,a\n",
     "(did you mean 'bin_id'?)"},
    {TABLE("bins.csv", "bin_id", "ownr"), "bins.csv", "bin_id,owner\nb-1,a\n",
     "citygate.yaml:17:15: error: tables: private 'ownr' is no column of"},
    /* a row without a key */
    {TABLE("bins.csv", "bin_id", ""), "bins.csv", "bin_id,owner\n,a\n",
     "bins.csv:2:1: error: row without a value for its key column 'bin_id'"},
    /* CSV shape, with line and column */
    {TABLE("bins.csv", "bin_id", ""), "bins.csv", "bin_id,owner\nb-1\n",
     "bins.csv:2:4: error: 1 cells where the header has 2 columns"},
    {TABLE("bins.csv", "bin_id", ""), "bins.csv", "bin_id,owner\nb-1,\"open\n",
     "error: a quoted cell is not closed"},
    {TABLE("bins.csv", "bin_id", ""), "bins.csv", "bin_id,owner\nb-1,a\"b\n",
     "bins.csv:2:6: error: a quote inside an unquoted cell"},
    {TABLE("bins.csv", "bin_id", ""), "bins.csv", "bin_id,bin_id\n",
     "a column name appears twice in the header"},
    {TABLE("bins.csv", "bin_id", ""), "bins.csv", "\n\n",
     "no header row: the first line names the columns"},
    /* YAML shape */
    {TABLE("bins.yaml", "bin_id", ""), "bins.yaml", "bin_id: 1\n",
     "bins.yaml:1:1: error: a YAML table is a list of mappings"},
    {TABLE("bins.yaml", "bin_id", ""), "bins.yaml", "- {bin_id: 1}\n- 2\n",
     "bins.yaml:2:3: error: expected a mapping (one row)"},
    /* the file itself */
    {TABLE("bins.txt", "bin_id", ""), "bins.txt", "bin_id\n",
     "citygate.yaml:15:11: error: tables: 'bins.txt' is neither .csv nor"},
    {TABLE("nothere.csv", "bin_id", ""), "bins.csv", "bin_id\n",
     "tables: cannot read"},
    /* names: unique, usable in grants */
    {MINIMAL "tables:\n  - {name: 'a.b', file: t.csv, key: k}\n", "t.csv",
     "k\n1\n", "a table's name has letters, digits"},
    {MINIMAL "tables:\n  - {name: t, file: t.csv, key: k}\n"
             "  - {name: t, file: t.csv, key: k}\n",
     "t.csv", "k\n1\n", "citygate.yaml:15:12: error: duplicate table name 't'"},
    {MINIMAL "tables:\n  - {name: t, file: t.csv}\n", "t.csv", "k\n1\n",
     "missing required key 'key'"},
    /* a grant names a private column as <table>.<column> */
    {GRANT("bins.o"), "t.csv", "k,o\n1,x\n", NULL},
    {GRANT("bins.k"), "t.csv", "k,o\n1,x\n",
     "grant 'bins.k' is no vendor's private field"},
};

static void test_table_cases(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;
        write_file(cases[i].file, cases[i].text);
        const char *out = load(cases[i].config, RULES_OK, &rc);
        if (cases[i].expect && !strstr(out, cases[i].expect))
            fail_msg("case %zu: want '%s', got:\n%s", i, cases[i].expect, out);
        if (!cases[i].expect && (rc != CG_OK || *out))
            fail_msg("case %zu should load, got:\n%s", i, out);
    }
}

/* A malformed row stops nothing: every later row is read and checked, so
 * one run reports every problem of the file (SPEC §14). */
static const struct {
    const char *text, *expect[4];
} all_rows[] = {
    {"id,cap\nA,1\nB,2,3\nC\nA,5\n",
     {"bins.csv:3:6: error: 3 cells where the header has 2 columns",
      "bins.csv:4:2: error: 1 cells where the header has 2 columns",
      "bins.csv:5:1: error: duplicate key 'A' (first at line 2)"}},
    {"id,cap\nA,x\"y\nB,\"a\" b\nA,1\nC,\"open\n",
     {"bins.csv:2:4: error: a quote inside an unquoted cell",
      "bins.csv:3:7: error: unexpected text after a quoted cell",
      "error: a quoted cell is not closed"}},
};

static void test_every_row_error(void **state)
{
    for (size_t i = 0; i < sizeof(all_rows) / sizeof(all_rows[0]); i++) {
        int rc;
        write_file("bins.csv", all_rows[i].text);
        const char *out = load(TABLE("bins.csv", "id", ""), RULES_OK, &rc);
        assert_int_equal(rc, CG_EINVAL);
        for (size_t k = 0; k < 4 && all_rows[i].expect[k]; k++)
            if (!strstr(out, all_rows[i].expect[k]))
                fail_msg("case %zu: want '%s', got:\n%s", i,
                         all_rows[i].expect[k], out);
    }
}

/* Cells are typed like the csv decoder's: numbers, booleans, null for an
 * empty cell, and a quoted cell stays a string. */
static void test_typed_cells(void **state)
{
    struct cg_config *cfg;
    int rc;
    write_file("citygate.yaml", TABLE("bins.csv", "bin_id", "owner"));
    write_file("rules/env.yaml", RULES_OK);
    write_file("bins.csv",
               "\xEF\xBB\xBF"
               "bin_id,capacity_l,smart,owner,note\r\n"
               "b-1, 240 ,true,\"Li, Ms\",\r\n"
               "\"0042\",1.5e3,false,\"say \"\"hi\"\"\",\"a\nb\"\n");
    const char *out = load_dir(&rc, &cfg);
    assert_string_equal(out, "");
    assert_int_equal(rc, CG_OK);
    assert_int_equal(cfg->n_tables, 1);
    const struct cg_value *rows = &cfg->tables[0].rows;
    assert_int_equal(rows->type, CG_LIST);
    assert_int_equal(rows->len, 2);
    struct cg_buf b = {0};
    cg_json_put_value(&b, rows);
    assert_string_equal(
        b.data, "[{\"bin_id\":\"b-1\",\"capacity_l\":240,\"smart\":true,"
                "\"owner\":\"Li, Ms\",\"note\":null},{\"bin_id\":\"0042\","
                "\"capacity_l\":1500,\"smart\":false,\"owner\":\"say "
                "\\\"hi\\\"\",\"note\":\"a\\nb\"}]");
    cg_buf_free(&b);
    cg_config_free(cfg);
}

static void test_snapshot_follows_table(void **state)
{
    struct cg_config *cfg;
    struct cg_config_files *before, *same, *after;
    char why[256];
    int rc;
    write_file("citygate.yaml", TABLE("bins.csv", "bin_id", ""));
    write_file("rules/env.yaml", RULES_OK);
    write_file("bins.csv", "bin_id\nb-1\n");
    load_dir(&rc, &cfg);
    assert_int_equal(rc, CG_OK);
    assert_int_equal(cg_config_files_snapshot(cfg, &before), CG_OK);
    assert_int_equal(cg_config_files_snapshot(cfg, &same), CG_OK);
    assert_int_equal(cg_config_files_diff(before, same, why, sizeof(why)), 0);
    write_file("bins.csv", "bin_id\nb-1\nb-2\n");
    assert_int_equal(cg_config_files_snapshot(cfg, &after), CG_OK);
    assert_int_equal(cg_config_files_diff(before, after, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "table file"));
    assert_non_null(strstr(why, "bins.csv"));
    cg_config_files_free(before);
    cg_config_files_free(same);
    cg_config_files_free(after);
    cg_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_cases),
        cmocka_unit_test(test_every_row_error),
        cmocka_unit_test(test_typed_cells),
        cmocka_unit_test(test_snapshot_follows_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
