/*
 * The ids of events that timers send (SPEC §13): they derive from the
 * gateway, the rule, the key, the timer's time and the consumer, so a
 * consumer that drops duplicates sees a window's or a stale alert's event
 * once even when a restart sends it again, and two consumers, groups,
 * windows or gateways never share one.
 */
#include "state_harness.h"

#define A(d) "v/acme/" d "/t"

static const char *const WINDOW_RULE =
    "domain: d\nrules:\n  - name: w\n    window: { every: 1h, group_by: "
    "[zone], aggregate: { n: count(), top: max(level) } }\n"
    "    to: [gov, pub]\n";

static const char *const STALE_RULE =
    "domain: d\nrules:\n  - name: high\n    when: level > 3\n    for: 1m\n"
    "    stale_after: 10m\n    repeat: 3m\n    to: [gov, pub]\n";

/* The id of h's delivery to consumer whose JSON holds text, copied to id. */
static void id_of(const struct sh *h, const char *consumer, const char *text,
                  char id[17])
{
    size_t n = strlen(consumer);
    for (int i = 0; i < h->n; i++) {
        const char *o = h->out[i];
        if (strncmp(o, consumer, n) || o[n] != ' ' || !strstr(o, text))
            continue;
        const char *at = strstr(o, "\"id\":\"");
        assert_non_null(at);
        memcpy(id, at + 6, 16);
        id[16] = '\0';
        return;
    }
    fail_msg("no delivery to %s with %s", consumer, text);
}

/* Window events at the end of the first hour: [gov a, gov b, pub a, pub
 * b], then gov a's of the second hour. levels differ between runs. */
static void window_ids(int level, char ids[5][17])
{
    struct sh h;
    char p[64];
    sh_load(&h, WINDOW_RULE);
    snprintf(p, sizeof(p), "{\"zone\": \"a\", \"level\": %d}", level);
    assert_true(sh_run(&h, 1 * MIN, A("g1"), p) >= 0);
    snprintf(p, sizeof(p), "{\"zone\": \"b\", \"level\": %d}", level + 1);
    assert_true(sh_run(&h, 2 * MIN, A("g2"), p) >= 0);
    assert_true(sh_run(&h, 1 * HOUR, NULL, NULL) >= 0);
    assert_int_equal(h.n, 4);
    id_of(&h, "gov", "\"zone\":\"a\"", ids[0]);
    id_of(&h, "gov", "\"zone\":\"b\"", ids[1]);
    id_of(&h, "pub", "\"zone\":\"a\"", ids[2]);
    id_of(&h, "pub", "\"zone\":\"b\"", ids[3]);
    snprintf(p, sizeof(p), "{\"zone\": \"a\", \"level\": %d}", level);
    assert_true(sh_run(&h, 61 * MIN, A("g1"), p) >= 0);
    assert_true(sh_run(&h, 2 * HOUR, NULL, NULL) >= 0);
    assert_int_equal(h.n, 2);
    id_of(&h, "gov", "\"zone\":\"a\"", ids[4]);
    sh_free(&h);
}

static void assert_all_differ(char ids[][17], int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (!strcmp(ids[i], ids[j]))
                fail_msg("ids %d and %d are both %s", i, j, ids[i]);
}

static void test_window_ids(void **state)
{
    (void)state;
    char first[5][17], again[5][17];
    window_ids(3, first);
    assert_all_differ(first, 5); /* consumers, groups and windows */
    window_ids(9, again);        /* other readings, the same timers */
    for (int i = 0; i < 5; i++)
        assert_string_equal(first[i], again[i]);
}

static void test_window_ids_differ_between_gateways(void **state)
{
    (void)state;
    char here[5][17], there[5][17];
    window_ids(3, here);
    static char other[4096];
    const char *at = strstr(SH_CONFIG, "box-1");
    assert_non_null(at);
    snprintf(other, sizeof(other), "%.*sbox-2%s", (int)(at - SH_CONFIG),
             SH_CONFIG, at + 5);
    sh_config = other;
    window_ids(3, there);
    sh_config = NULL;
    for (int i = 0; i < 5; i++)
        assert_string_not_equal(here[i], there[i]);
}

/* The stale resolution and the repeats of one firing alert; their ids
 * differ from each other and between consumers, and a second run with
 * the same timers gives the same ids. */
static void stale_ids(char ids[4][17])
{
    struct sh h;
    sh_load(&h, STALE_RULE);
    assert_true(sh_run(&h, 0, A("g1"), "{\"level\": 5}") >= 0);
    assert_true(sh_run(&h, 1 * MIN, A("g1"), "{\"level\": 5}") >= 0);
    assert_true(sh_run(&h, 4 * MIN, NULL, NULL) >= 0); /* a repeat */
    assert_int_equal(h.n, 2);
    id_of(&h, "gov", "\"active_since\"", ids[0]);
    id_of(&h, "pub", "\"active_since\"", ids[1]);
    assert_true(sh_run(&h, 7 * MIN, NULL, NULL) >= 0); /* another */
    id_of(&h, "gov", "\"active_since\"", ids[2]);
    assert_true(sh_run(&h, 11 * MIN, NULL, NULL) >= 0); /* stale */
    id_of(&h, "gov", "\"stale\":true", ids[3]);
    sh_free(&h);
}

static void test_stale_and_repeat_ids(void **state)
{
    (void)state;
    char first[4][17], again[4][17];
    stale_ids(first);
    assert_all_differ(first, 4);
    stale_ids(again);
    for (int i = 0; i < 4; i++)
        assert_string_equal(first[i], again[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_ids),
        cmocka_unit_test(test_window_ids_differ_between_gateways),
        cmocka_unit_test(test_stale_and_repeat_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
