/*
 * The intake client's journal (gateway/mqtt/journal.c), through Paho's
 * persistence interface as Paho calls it: a queue entry that receive()
 * handed over stays on disk until the gateway says it is done (a crash in
 * between brings it back), QoS 0 entries are never written, other keys
 * go at once, a torn or damaged tail is cut off, the file is truncated or
 * rewritten as records die, and the subscribed filters survive a restart.
 */
#include <MQTTClientPersistence.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mqtt/internal.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cg-journal-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* An open journal and Paho's view of it. */
struct jr {
    struct mqtt_journal *j;
    MQTTClient_persistence *api;
    void *h;
};

static struct jr jopen(void)
{
    struct jr r;
    assert_int_equal(mqtt__journal_new(dir, &r.j), CG_OK);
    r.api = mqtt__journal_persistence(r.j);
    assert_int_equal(
        r.api->popen(&r.h, "cg-test/in", "tcp://x:1", r.api->context), 0);
    return r;
}

static void jclose(struct jr *r)
{
    r->api->pclose(r->h);
    mqtt__journal_free(r->j);
}

/* A queue entry as Paho lays it out: payload length, payload, qos,
 * retained, dup, msgid, topic, topic length. */
static void put_q(struct jr *r, const char *key, const char *payload, int qos)
{
    int plen = (int)strlen(payload), zero = 0, id = 7, tlen = 5;
    char *parts[8] = {(char *)&plen, (char *)payload, (char *)&qos,
                      (char *)&zero, (char *)&zero,   (char *)&id,
                      "a/b/c",       (char *)&tlen};
    int lens[8] = {4, plen, 4, 4, 4, 4, 6, 4};
    assert_int_equal(r->api->pput(r->h, (char *)key, 8, parts, lens), 0);
}

static int nkeys(struct jr *r, const char *want)
{
    char **keys;
    int n, found = 0;
    assert_int_equal(r->api->pkeys(r->h, &keys, &n), 0);
    /* Not freed here: like Paho's heap-tracking build, which leaves blocks
     * it did not allocate, the test lets mqtt__journal_free release them. */
    for (int i = 0; i < n; i++)
        found += want && !strcmp(keys[i], want);
    if (n == 0)
        assert_null(keys); /* Paho would not free an empty array */
    return want ? found : n;
}

static off_t file_size(void)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof(path), "%s/cg-test%%2Fin.journal", dir);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void handed_entry_survives_a_crash(void **state)
{
    (void)state;
    struct jr r = jopen();
    put_q(&r, "q-1", "hello", 1);
    assert_int_equal(r.api->premove(r.h, "q-1"), 0); /* receive() */
    jclose(&r); /* a crash before mqtt__journal_done() */
    r = jopen();
    assert_int_equal(nkeys(&r, "q-1"), 1);
    char *buf;
    int len;
    assert_int_equal(r.api->pget(r.h, "q-1", &buf, &len), 0);
    assert_int_equal(len, 4 + 5 + 16 + 6 + 4);
    assert_memory_equal(buf + 4, "hello", 5); /* freed by the journal */
    jclose(&r);
}

static void done_entry_is_gone(void **state)
{
    (void)state;
    struct jr r = jopen();
    put_q(&r, "q-1", "one", 1);
    put_q(&r, "q-2", "two", 1);
    r.api->premove(r.h, "q-1");
    mqtt__journal_done(r.j);
    assert_int_equal(mqtt__journal_live(r.j), 1);
    jclose(&r);
    r = jopen();
    assert_int_equal(nkeys(&r, NULL), 1);
    assert_int_equal(nkeys(&r, "q-2"), 1);
    assert_int_equal(r.api->pcontainskey(r.h, "q-1"),
                     MQTTCLIENT_PERSISTENCE_ERROR);
    jclose(&r);
}

static void qos0_and_other_keys(void **state)
{
    (void)state;
    struct jr r = jopen();
    put_q(&r, "q-3", "zero", 0); /* never written */
    r.api->premove(r.h, "q-3");
    mqtt__journal_done(r.j); /* nothing to do */
    char *parts[1] = {"packet"};
    int lens[1] = {6};
    assert_int_equal(r.api->pput(r.h, "s-5", 1, parts, lens), 0);
    assert_int_equal(r.api->pcontainskey(r.h, "s-5"), 0);
    r.api->premove(r.h, "s-5"); /* not a queue entry: gone at once */
    assert_int_equal(mqtt__journal_live(r.j), 0);
    jclose(&r);
    r = jopen();
    assert_int_equal(nkeys(&r, NULL), 0);
    jclose(&r);
}

static void torn_and_damaged_tails_are_cut(void **state)
{
    (void)state;
    static const int cut[] = {3, 20}; /* torn write; damaged last record */
    for (size_t t = 0; t < sizeof(cut) / sizeof(cut[0]); t++) {
        struct jr r = jopen();
        r.api->pclear(r.h);
        put_q(&r, "q-1", "first", 1);
        off_t keep = file_size();
        put_q(&r, "q-2", "second", 1);
        jclose(&r);
        char path[400];
        snprintf(path, sizeof(path), "%s/cg-test%%2Fin.journal", dir);
        if (t == 0) {
            assert_int_equal(truncate(path, file_size() - cut[t]), 0);
        } else { /* flip a byte inside the second record */
            FILE *f = fopen(path, "r+");
            assert_non_null(f);
            fseek(f, keep + cut[t], SEEK_SET);
            fputc('X', f);
            fclose(f);
        }
        r = jopen();
        assert_int_equal(nkeys(&r, NULL), 1);
        assert_int_equal(nkeys(&r, "q-1"), 1);
        assert_int_equal(file_size(), keep);
        jclose(&r);
    }
}

static void journal_stays_small(void **state)
{
    (void)state;
    struct jr r = jopen();
    r.api->pclear(r.h);
    char key[16], big[400];
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put_q(&r, "q-0", big, 1); /* always one live entry: no truncation */
    for (int i = 1; i < 5000; i++) {
        snprintf(key, sizeof(key), "q-%d", i);
        put_q(&r, key, big, 1);
        r.api->premove(r.h, key);
        mqtt__journal_done(r.j);
    }
    assert_true(file_size() < 300 * 1024); /* rewritten, not 4 MB */
    /* The index too: 5,000 messages left 5,000 dead entries in memory. */
    assert_true(mqtt__journal_index_len(r.j) < 128);
    jclose(&r);
    r = jopen();
    assert_int_equal(nkeys(&r, NULL), 1);
    assert_int_equal(nkeys(&r, "q-0"), 1);
    r.api->premove(r.h, "q-0");
    mqtt__journal_done(r.j);
    assert_int_equal(mqtt__journal_live(r.j), 0);
    jclose(&r);
}

/* The index is compacted while a message is handed over: the entry that
 * mqtt__journal_done() deletes must still be the one receive() handed. */
static void compaction_keeps_the_handed_entry(void **state)
{
    (void)state;
    struct jr r = jopen();
    r.api->pclear(r.h);
    char key[16], sent[16], *parts[1] = {"packet"};
    int lens[1] = {6};
    put_q(&r, "q-0", "stuck", 1); /* never handed: always live */
    for (int i = 1; i < 3000; i++) {
        snprintf(key, sizeof(key), "q-%d", i);
        snprintf(sent, sizeof(sent), "s-%d", i);
        put_q(&r, key, "m", 1);
        assert_int_equal(r.api->pput(r.h, sent, 1, parts, lens), 0);
        r.api->premove(r.h, key);  /* receive() hands it over */
        r.api->premove(r.h, sent); /* a PUBACK: a drop, maybe a compaction */
        mqtt__journal_done(r.j);
        assert_int_equal(mqtt__journal_live(r.j), 1);
    }
    assert_true(mqtt__journal_index_len(r.j) < 128);
    jclose(&r);
    r = jopen();
    assert_int_equal(nkeys(&r, NULL), 1);
    assert_int_equal(nkeys(&r, "q-0"), 1);
    jclose(&r);
}

static void filters_survive_a_restart(void **state)
{
    (void)state;
    const char *f[] = {"vendors/+/telemetry", "$share/g/a/#"};
    struct mqtt_filters in = {0}, out = {0};
    assert_int_equal(mqtt__filters_set(&in, f, 2, 1), CG_OK);
    struct jr r = jopen();
    mqtt__journal_save_filters(r.j, &in);
    jclose(&r);
    r = jopen();
    mqtt__journal_load_filters(r.j, &out);
    assert_int_equal(out.n, 2);
    assert_true(mqtt__filters_has(&out, f[0]));
    assert_true(mqtt__filters_has(&out, f[1]));
    assert_int_equal(out.qos[0], 1);
    mqtt__journal_load_filters(NULL, &out); /* NULL-safe */
    mqtt__filters_free(&in);
    mqtt__filters_free(&out);
    jclose(&r);
}

static void bad_keys_are_refused(void **state)
{
    (void)state;
    struct jr r = jopen();
    char key[100];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    char *parts[1] = {"x"};
    int lens[1] = {1};
    assert_int_equal(r.api->pput(r.h, key, 1, parts, lens),
                     MQTTCLIENT_PERSISTENCE_ERROR);
    char *buf;
    int len;
    assert_int_equal(r.api->pget(r.h, "q-404", &buf, &len),
                     MQTTCLIENT_PERSISTENCE_ERROR);
    assert_int_equal(r.api->premove(r.h, "q-404"), 0);
    jclose(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(handed_entry_survives_a_crash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(done_entry_is_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(qos0_and_other_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_and_damaged_tails_are_cut, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(journal_stays_small, setup, teardown),
        cmocka_unit_test_setup_teardown(compaction_keeps_the_handed_entry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(filters_survive_a_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_keys_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
