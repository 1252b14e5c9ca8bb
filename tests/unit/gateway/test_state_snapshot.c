/*
 * State across a restart and a reload (SPEC §13): a snapshot saved and
 * restored into a fresh pipeline, with every time moved by the outage (a
 * firing alert stays firing, a throttle keeps its interval), a window
 * that ended while down sent as partial and one still open carried on;
 * torn and garbled snapshots refused whole; snapshot files replaced
 * atomically with the previous one kept; and a reload that keeps the
 * state of unchanged rules and flushes a changed window rule's open
 * window as partial.
 */
#include "state_harness.h"

#define G1 "v/acme/g1/t"
#define G2 "v/acme/g2/t"

static const char *const ALERT =
    "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 1m\n"
    "    data: { level: level }\n    to: [gov]\n";
static const char *const GATE =
    "domain: d\nrules:\n  - name: t\n    throttle: 10m\n    to: [gov]\n";
static const char *const WINDOW =
    "domain: d\nrules:\n  - name: w\n    window: { every: 1h, group_by: "
    "[zone], aggregate: { n: count(), top: max(level) } }\n    to: [gov]\n";

static void save(struct sh *h, int64_t at, struct cg_buf *out)
{
    cg_buf_reset(out);
    assert_int_equal(cg_pipeline_state_save(h->p, CLOCK0 + at / 1000.0, out),
                     CG_OK);
}

static int restore(struct sh *h, const char *text, size_t len, int64_t at,
                   struct cg_state_restored *r)
{
    struct cg_emit emit = {sh_deliver, sh_dead, h};
    char err[160];
    h->n = 0;
    return cg_pipeline_state_restore(h->p, text, len, CLOCK0 + at / 1000.0,
                                     &emit, r, err, sizeof(err));
}

static uint64_t keys_of(const struct sh *h)
{
    const char *name;
    struct cg_state_stats s;
    uint64_t n = 0;
    for (size_t i = 0; i < cg_pipeline_state_stats(h->p, i, &name, &s); i++)
        n += name ? s.keys : 0;
    return n;
}

/* Runs steps on a, saves at save_at, restores into a fresh pipeline at
 * restore_at, runs steps on it; returns the text saved in snap. */
static void across_restart(const char *rules, const struct step *before,
                           size_t n_before, int64_t save_at, int64_t restore_at,
                           const struct step *after, size_t n_after,
                           struct cg_buf *snap)
{
    struct sh a, b;
    struct cg_state_restored r;
    sh_load(&a, rules);
    sh_steps(&a, "before", before, n_before);
    save(&a, save_at, snap);
    sh_free(&a);
    sh_load(&b, rules);
    assert_int_equal(restore(&b, snap->data, snap->len, restore_at, &r), 0);
    assert_int_equal(r.outage, restore_at - save_at);
    assert_int_equal(r.rules, 1);
    sh_steps(&b, "after", after, n_after);
    sh_free(&b);
}

static void test_firing_alert_survives_a_restart(void **state)
{
    (void)state;
    struct cg_buf snap = {0};
    const struct step before[] = {
        {0, G1, "{\"level\": 5}"},
        {1 * MIN, G1, "{\"level\": 5}", {"gov|\"active_since\""}},
        {80 * SEC, G2, "{\"level\": 5}"}, /* pending */
    };
    /* Down for an hour: every time moves by it. The alert stays firing
     * (no second firing event), is not stale (its last message is 1h1m
     * 20s later now), resolves with its shifted active_since; g2 stays
     * pending and fires a minute (not an hour) after it began. */
    const struct step after[] = {
        {62 * MIN, G1, "{\"level\": 6}"},
        {62 * MIN, G2, "{\"level\": 6}"},
    };
    across_restart(ALERT, before, N_ROWS(before), 90 * SEC, 90 * SEC + HOUR,
                   after, N_ROWS(after), &snap);
    const struct step resolve[] = {
        {62 * MIN,
         G1,
         "{\"level\": 1}",
         {"gov|\"resolved\":true|\"active_since\":\"2030-01-01T01:00:00."
          "000Z\""}},
        {63 * MIN,
         G2,
         "{\"level\": 5}",
         {"gov|\"device\":\"g2\"|\"active_since\":"
          "\"2030-01-01T01:01:20.000Z\""}},
    };
    across_restart(ALERT, before, N_ROWS(before), 90 * SEC, 90 * SEC + HOUR,
                   resolve, N_ROWS(resolve), &snap);
    const struct step stale[] = {
        {65 * MIN, NULL, NULL, {"gov|\"stale\":true|\"device\":\"g1\""}},
    };
    across_restart(ALERT, before, N_ROWS(before), 90 * SEC, 90 * SEC + HOUR,
                   stale, N_ROWS(stale), &snap);
    cg_buf_free(&snap);
}

static void test_throttle_survives_a_restart(void **state)
{
    (void)state;
    struct cg_buf snap = {0};
    const struct step before[] = {
        {0, G1, "{}", {"gov|!suppressed"}},
        {1 * MIN, G1, "{}"},
    };
    const struct step after[] = {
        {69 * MIN, G1, "{}"}, /* 9 minutes of its interval have passed */
        {70 * MIN, G1, "{}", {"gov|\"suppressed\":2"}},
    };
    across_restart(GATE, before, N_ROWS(before), 2 * MIN, 2 * MIN + HOUR, after,
                   N_ROWS(after), &snap);
    cg_buf_free(&snap);
}

static void test_windows_across_a_restart(void **state)
{
    (void)state;
    struct cg_buf snap = {0};
    const struct step before[] = {
        {10 * MIN, G1, "{\"zone\": \"a\", \"level\": 1}"},
        {20 * MIN, G2, "{\"zone\": \"a\", \"level\": 7}"},
    };
    /* Back before the window's end: it carries on. */
    const struct step open[] = {
        {50 * MIN, G1, "{\"zone\": \"a\", \"level\": 3}"},
        {1 * HOUR, NULL, NULL, {"gov|\"n\":3|\"top\":7|!partial"}},
    };
    across_restart(WINDOW, before, N_ROWS(before), 30 * MIN, 45 * MIN, open,
                   N_ROWS(open), &snap);
    /* Back after it: sent at once, as partial, with the window's end as
     * its time. */
    struct sh b;
    struct cg_state_restored r;
    sh_load(&b, WINDOW);
    assert_int_equal(restore(&b, snap.data, snap.len, 2 * HOUR, &r), 0);
    assert_int_equal(r.windows_late, 1);
    const char *want[] = {"gov|\"n\":2|\"partial\":true|\"time\":"
                          "\"2030-01-01T01:00:00.000Z\"|\"window_start\":"
                          "\"2030-01-01T00:00:00.000Z\"",
                          NULL};
    assert_true(sh_check(&b, want));
    assert_int_equal(keys_of(&b), 0);
    sh_free(&b);
    cg_buf_free(&snap);
}

static void test_torn_and_garbled_snapshots(void **state)
{
    (void)state;
    struct sh a;
    struct cg_buf snap = {0};
    struct cg_state_restored r;
    sh_load(&a, ALERT);
    assert_true(sh_run(&a, 0, G1, "{\"level\": 5}") >= 0);
    assert_true(sh_run(&a, 0, G2, "{\"level\": 5}") >= 0);
    save(&a, MIN, &snap);
    cg_pipeline_state_reset(a.p);
    /* Cut anywhere, a snapshot is refused whole. */
    for (size_t cut = 1; cut < snap.len; cut += 7) {
        assert_int_equal(restore(&a, snap.data, snap.len - cut, MIN, &r),
                         CG_EINVAL);
        assert_int_equal(keys_of(&a), 0);
    }
    /* So is one whose bytes changed. */
    char *garbled = cg_strndup(snap.data, snap.len);
    garbled[snap.len / 2] ^= 0x20;
    assert_int_equal(restore(&a, garbled, snap.len, MIN, &r), CG_EINVAL);
    assert_int_equal(keys_of(&a), 0);
    cg_free(garbled);
    assert_int_equal(restore(&a, snap.data, snap.len, MIN, &r), CG_OK);
    assert_int_equal(keys_of(&a), 2);
    sh_free(&a);
    /* A rule that changed while the gateway was down starts afresh. */
    sh_load(&a, "domain: d\nrules:\n  - name: high\n    when: level > 3\n"
                "    for: 2m\n    data: { level: level }\n    to: [gov]\n");
    assert_int_equal(restore(&a, snap.data, snap.len, MIN, &r), CG_OK);
    assert_int_equal(r.rules_gone, 1);
    assert_int_equal(keys_of(&a), 0);
    sh_free(&a);
    cg_buf_free(&snap);
}

static void test_snapshot_files(void **state)
{
    (void)state;
    struct sh a;
    struct cg_buf snap = {0}, text = {0};
    struct cg_state_restored r;
    char err[256], path[600];
    sh_load(&a, ALERT);
    assert_int_equal(cg_state_file_read(a.dir, false, &text, err, sizeof(err)),
                     CG_ENOENT);
    assert_int_equal(cg_state_file_write(a.dir, "one\n", 4, err, sizeof(err)),
                     CG_OK);
    assert_true(sh_run(&a, 0, G1, "{\"level\": 5}") >= 0);
    save(&a, MIN, &snap);
    assert_int_equal(
        cg_state_file_write(a.dir, snap.data, snap.len, err, sizeof(err)),
        CG_OK);
    assert_int_equal(cg_state_file_read(a.dir, false, &text, err, sizeof(err)),
                     CG_OK);
    assert_int_equal(text.len, snap.len);
    assert_int_equal(cg_state_file_read(a.dir, true, &text, err, sizeof(err)),
                     CG_OK);
    assert_string_equal(text.data, "one\n");
    /* Torn by a crash mid-write (were it written in place): the previous
     * snapshot is still whole. */
    assert_int_equal(
        cg_state_file_write(a.dir, snap.data, snap.len / 2, err, sizeof(err)),
        CG_OK);
    cg_pipeline_state_reset(a.p);
    cg_state_file_read(a.dir, false, &text, err, sizeof(err));
    assert_int_equal(restore(&a, text.data, text.len, MIN, &r), CG_EINVAL);
    cg_state_file_read(a.dir, true, &text, err, sizeof(err));
    assert_int_equal(restore(&a, text.data, text.len, MIN, &r), CG_OK);
    assert_int_equal(keys_of(&a), 1);
    snprintf(path, sizeof(path), "%s/state.jsonl.tmp", a.dir);
    assert_int_equal(access(path, F_OK), -1); /* nothing left over */
    sh_free(&a);
    cg_buf_free(&snap);
    cg_buf_free(&text);
}

/* ---- reload ------------------------------------------------------------- */

static const char *const RELOAD_OLD =
    "domain: d\nrules:\n"
    "  - name: high\n    when: level > 3\n    for: 2m\n    to: [gov]\n"
    "  - name: t\n    throttle: 1h\n    description: before\n    to: [gov]\n"
    "  - name: w\n    window: { every: 1h, aggregate: { n: count() } }\n"
    "    to: [gov]\n";
/* The window rule changes; the others only in their description. */
static const char *const RELOAD_NEW =
    "domain: d\nrules:\n"
    "  - name: w\n    window: { every: 1h, aggregate: { n: count(),"
    " m: max(level) } }\n    to: [gov]\n"
    "  - name: high\n    when: level > 3\n    for: 2m\n    to: [gov]\n"
    "    description: after\n"
    "  - name: t\n    throttle: 1h\n    description: after\n    to: [gov]\n";

static void test_reload_keeps_unchanged_rules(void **state)
{
    (void)state;
    struct sh a, b;
    sh_load(&a, RELOAD_OLD);
    assert_true(sh_run(&a, 0, G1, "{\"level\": 5}") >= 0); /* 3 rules */
    assert_true(sh_run(&a, MIN, G1, "{\"level\": 5}") >= 0);
    sh_load(&b, RELOAD_NEW);
    struct cg_emit emit = {sh_deliver, sh_dead, &a};
    a.n = 0;
    assert_int_equal(cg_pipeline_state_handover(b.p, a.p, CLOCK0 + 90, &emit),
                     CG_OK);
    const char *flushed[] = {"gov|\"rule\":\"d/w\"|\"n\":2|\"partial\":true|"
                             "\"time\":\"2030-01-01T00:01:30.000Z\"",
                             NULL};
    assert_true(sh_check(&a, flushed));
    sh_free(&a);
    const struct step after[] = {
        {2 * MIN,
         G1,
         "{\"level\": 5}", /* pending kept: fires on time */
         {"gov|\"rule\":\"d/high\"|\"active_since\":"
          "\"2030-01-01T00:00:00.000Z\""}},
        {3 * MIN, G1, "{\"level\": 5}"}, /* throttle kept: held */
        {1 * HOUR,
         NULL,
         NULL, /* and the alert, silent, resolves */
         {"gov|\"rule\":\"d/w\"|\"n\":2|\"m\":5",
          "gov|\"rule\":\"d/high\"|\"stale\":true"}},
    };
    sh_steps(&b, "after the reload", after, N_ROWS(after));
    const char *name;
    struct cg_state_stats s;
    cg_pipeline_state_stats(b.p, 2, &name, &s);
    assert_string_equal(name, "d/t");
    assert_int_equal(s.suppressed[CG_WHY_THROTTLE], 3); /* carried over */
    sh_free(&b);
}

/* ---- CAP: a Cancel only for an Alert that went out (SPEC §15) --------- */

/* SH_CONFIG with a CAP consumer beside gov. */
static const char *cap_config(void)
{
    static char text[4096];
    snprintf(text, sizeof(text), "%s", SH_CONFIG);
    char *at = strstr(text, "rules: [");
    assert_non_null(at);
    snprintf(at, sizeof(text) - (size_t)(at - text), "%s",
             "  - { name: cp, role: government, topic: \"c/cap\", "
             "format: cap }\nrules: [\"rules/*.yaml\"]\n");
    return text;
}

/* A hand-edited snapshot gets the trailer a save would write. */
static void reseal(char *text)
{
    char *trailer = strstr(text, "{\"end\":");
    assert_non_null(trailer);
    char check[17];
    cg_hex64(cg_hash64(CG_HASH_SEED, text, (size_t)(trailer - text)), check);
    memcpy(strstr(trailer, "\"check\":\"") + 9, check, 16);
}

static const char *const TWO_ALERTS =
    "domain: d\nrules:\n"
    "  - name: high\n    when: level > 3\n    for: 1m\n"
    "    severity: warning\n    to: [gov, cp]\n"
    "  - name: note\n    when: level > 3\n    for: 1m\n"
    "    severity: info\n    to: [gov, cp]\n";

/* The warning alert goes to CAP as Alert and Cancel; the info one, which
 * CAP never took, sends no Cancel either: at once, across a restart, and
 * (a save from before the firing severity was kept) as it used to. */
static void test_cap_cancels_only_what_it_alerted(void **state)
{
    (void)state;
    struct cg_buf snap = {0};
    sh_config = cap_config();
    const struct step fire[] = {
        {0, G1, "{\"level\": 5}"},
        {1 * MIN,
         G1,
         "{\"level\": 5}",
         {"gov|\"rule\":\"d/high\"", "gov|\"rule\":\"d/note\"",
          "cp|<msgType>Alert</msgType>|<event>high</event>|Moderate"}},
    };
    const struct step resolve[] = {
        {2 * MIN,
         G1,
         "{\"level\": 1}",
         {"gov|\"rule\":\"d/high\"|\"resolved\":true",
          "gov|\"rule\":\"d/note\"|\"resolved\":true",
          "cp|<msgType>Cancel</msgType>|<references>|<event>high</event>"}},
    };
    struct sh h;
    sh_load(&h, TWO_ALERTS);
    sh_steps(&h, "fire", fire, N_ROWS(fire));
    sh_steps(&h, "resolve", resolve, N_ROWS(resolve));
    sh_free(&h);

    struct cg_state_restored r;
    sh_load(&h, TWO_ALERTS);
    sh_steps(&h, "fire", fire, N_ROWS(fire));
    save(&h, 90 * SEC, &snap);
    sh_free(&h);
    assert_non_null(strstr(snap.data, "\"fs\":0")); /* note fired as info */
    sh_load(&h, TWO_ALERTS);
    assert_int_equal(restore(&h, snap.data, snap.len, 100 * SEC, &r), 0);
    assert_int_equal(r.rules, 2);
    sh_steps(&h, "resolve after a restart", resolve, N_ROWS(resolve));
    sh_free(&h);

    /* Without "fs", a firing alert's Cancel goes out as before. */
    char *old = strdup(snap.data);
    assert_non_null(old);
    for (char *at; (at = strstr(old, ",\"fs\":"));)
        memmove(at, at + 7, strlen(at + 7) + 1); /* ,"fs":N (one digit) */
    assert_null(strstr(old, "\"fs\""));
    reseal(old);
    sh_load(&h, TWO_ALERTS);
    assert_int_equal(restore(&h, old, strlen(old), 100 * SEC, &r), 0);
    const struct step both[] = {
        {2 * MIN,
         G1,
         "{\"level\": 1}",
         {"gov|\"rule\":\"d/high\"", "gov|\"rule\":\"d/note\"",
          "cp|<msgType>Cancel</msgType>|<event>high</event>",
          "cp|<msgType>Cancel</msgType>|<event>note</event>"}},
    };
    sh_steps(&h, "an older save", both, N_ROWS(both));
    sh_free(&h);
    free(old);
    sh_config = NULL;
    cg_buf_free(&snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firing_alert_survives_a_restart),
        cmocka_unit_test(test_throttle_survives_a_restart),
        cmocka_unit_test(test_windows_across_a_restart),
        cmocka_unit_test(test_torn_and_garbled_snapshots),
        cmocka_unit_test(test_snapshot_files),
        cmocka_unit_test(test_reload_keeps_unchanged_rules),
        cmocka_unit_test(test_cap_cancels_only_what_it_alerted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
