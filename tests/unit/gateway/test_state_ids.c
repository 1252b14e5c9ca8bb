/*
 * The ids of events that timers send (SPEC §13): they derive from the
 * gateway, the rule, the key, the timer's time and the consumer, so a
 * consumer that drops duplicates sees a window's or a stale alert's event
 * once even when a restart sends it again, and two consumers, groups,
 * windows or gateways never share one. And a window's NGSI-LD entity id
 * (SPEC §15), which carries its group key, hidden where privacy says.
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

/* SH_CONFIG with both consumers taking NGSI-LD entities. */
static const char *ngsi_config(void)
{
    static char text[4096];
    const char *from = SH_CONFIG;
    size_t o = 0;
    for (const char *at; (at = strstr(from, "{type}\" }"));
         from = at + strlen("{type}\" }")) {
        o += (size_t)snprintf(text + o, sizeof(text) - o,
                              "%.*s{type}\", format: ngsi-ld }",
                              (int)(at - from), from);
    }
    snprintf(text + o, sizeof(text) - o, "%s", from);
    return text;
}

/* The entity id of h's delivery to consumer. */
static void entity_id(const struct sh *h, const char *consumer, char *out,
                      size_t size)
{
    size_t n = strlen(consumer);
    for (int i = 0; i < h->n; i++) {
        const char *o = h->out[i], *at = strstr(o, "\"id\":\"");
        if (strncmp(o, consumer, n) || o[n] != ' ' || !at)
            continue;
        at += 6;
        snprintf(out, size, "%.*s", (int)strcspn(at, "\""), at);
        return;
    }
    fail_msg("no entity for %s", consumer);
}

/* A window's NGSI-LD id carries its group_by values, URN-encoded and
 * joined by ':', or "all"; for a consumer that may not see one of them
 * (a private field), their hash, as hash(device) hides a device. */
static void test_ngsi_window_entity_ids(void **state)
{
    static const struct {
        const char *group, *gov, *pub;
    } cases[] = {
        {"[owner, zone]", "urn:ngsi-ld:W:box-1:o%3A1:north%20side",
         "urn:ngsi-ld:W:box-1:"},
        {"[zone]", "urn:ngsi-ld:W:box-1:north%20side",
         "urn:ngsi-ld:W:box-1:north%20side"},
        {"[level, zone]", "urn:ngsi-ld:W:box-1:7.5:north%20side",
         "urn:ngsi-ld:W:box-1:7.5:north%20side"},
        {"[]", "urn:ngsi-ld:W:box-1:all", "urn:ngsi-ld:W:box-1:all"},
    };
    (void)state;
    sh_config = ngsi_config();
    for (size_t i = 0; i < N_ROWS(cases); i++) {
        struct sh h;
        char rules[512], gov[256], pub[256];
        snprintf(rules, sizeof(rules),
                 "domain: d\nrules:\n  - name: w\n    ngsi_type: W\n"
                 "    window: { every: 1h, group_by: %s, aggregate: "
                 "{ n: count() } }\n    to: [gov, pub]\n",
                 cases[i].group);
        sh_load(&h, rules);
        assert_true(sh_run(&h, 1 * MIN, A("g1"),
                           "{\"owner\": \"o:1\", \"zone\": \"north side\", "
                           "\"level\": 7.5}") >= 0);
        assert_true(sh_run(&h, 1 * HOUR, NULL, NULL) >= 0);
        entity_id(&h, "gov", gov, sizeof(gov));
        entity_id(&h, "pub", pub, sizeof(pub));
        assert_string_equal(gov, cases[i].gov);
        if (strcmp(cases[i].pub, "urn:ngsi-ld:W:box-1:")) {
            assert_string_equal(pub, cases[i].pub);
        } else { /* hashed: 16 hex digits, nothing of the owner */
            assert_int_equal(strlen(pub), strlen(cases[i].pub) + 16);
            assert_int_equal(
                strspn(pub + strlen(cases[i].pub), "0123456789abcdef"), 16);
        }
        sh_free(&h);
    }
    sh_config = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_ids),
        cmocka_unit_test(test_window_ids_differ_between_gateways),
        cmocka_unit_test(test_stale_and_repeat_ids),
        cmocka_unit_test(test_ngsi_window_entity_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
