/*
 * The durable spool: order by severity then arrival, survival across
 * close and reopen, wrap-around of segment files, segments sized to the
 * bound, a drained segment freed early, a write torn by a crash or a
 * damaged record cut off at open, and the drop-oldest policy.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/internal.h"

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/cg-spool-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    spool__set_segment_max(0);
    return system(cmd);
}

static struct spool *open_spool(const char *name)
{
    struct spool *s;
    char err[160];
    assert_int_equal(spool__open(dir, name, 1ULL << 30, &s, err, sizeof(err)),
                     CG_OK);
    return s;
}

static void put(struct spool *s, int n, int severity, const char *body)
{
    char id[17], json[2048];
    snprintf(id, sizeof(id), "%016x", n);
    snprintf(json, sizeof(json), "{\"n\":%d,\"b\":\"%s\"}", n, body);
    struct cg_event ev = {id, "city/x", json, strlen(json), severity, 1};
    assert_int_equal(spool__append(s, &ev), CG_OK);
}

/* Reads everything (in batches of max) and returns the n values in order,
 * committing when asked. */
static int drain(struct spool *s, size_t max, int *out, int cap, bool commit)
{
    struct spool_batch b = {0};
    int k = 0;
    for (;;) {
        assert_int_equal(spool__peek(s, max, &b), CG_OK);
        if (b.n == 0)
            break;
        for (size_t i = 0; i < b.n; i++) {
            int n;
            assert_int_equal(sscanf(b.events[i].json, "{\"n\":%d", &n), 1);
            assert_int_equal(strtol(b.events[i].id, NULL, 16), n);
            assert_string_equal(b.events[i].topic, "city/x");
            assert_int_equal(b.events[i].qos, 1);
            if (k < cap)
                out[k++] = n;
        }
        if (commit)
            assert_int_equal(spool__commit(s), CG_OK);
    }
    spool__batch_free(&b);
    return k;
}

static void test_order_and_commit(void **state)
{
    struct spool *s = open_spool("order");
    put(s, 1, CG_SEV_INFO, "a");
    put(s, 2, CG_SEV_CRITICAL, "b");
    put(s, 3, CG_SEV_WARNING, "c");
    put(s, 4, CG_SEV_INFO, "d");
    put(s, 5, CG_SEV_CRITICAL, "e");
    assert_int_equal(spool__count(s), 5);
    int got[8];
    assert_int_equal(drain(s, 2, got, 8, true), 5);
    int want[] = {2, 5, 3, 1, 4};
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(spool__count(s), 0);
    assert_int_equal(spool__bytes(s), 0);
    spool__close(s);
}

static void test_survives_reopen(void **state)
{
    struct spool *s = open_spool("reopen");
    for (int i = 1; i <= 10; i++)
        put(s, i, CG_SEV_INFO, "x");
    struct spool_batch b = {0};
    assert_int_equal(spool__peek(s, 4, &b), CG_OK);
    assert_int_equal(b.n, 4);
    assert_int_equal(spool__commit(s), CG_OK); /* 1..4 delivered */
    assert_int_equal(spool__peek(s, 3, &b), CG_OK);
    assert_int_equal(b.n, 3); /* 5..7 handed out, never committed */
    spool__batch_free(&b);
    spool__close(s);
    s = open_spool("reopen");
    assert_int_equal(spool__count(s), 6);
    put(s, 11, CG_SEV_INFO, "x");
    int got[16];
    assert_int_equal(drain(s, 100, got, 16, true), 7);
    int want[] = {5, 6, 7, 8, 9, 10, 11};
    assert_memory_equal(got, want, sizeof(want));
    spool__close(s);
}

static int count_segments(const char *name, const char *sev)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, name, sev);
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".seg") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_wraps_around(void **state)
{
    spool__set_segment_max(4096);
    struct spool *s = open_spool("wrap");
    char body[300];
    memset(body, 'z', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    int next = 1, expect = 1, got[64];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 40; i++)
            put(s, next++, CG_SEV_WARNING, body);
        assert_true(count_segments("wrap", "warning") > 2);
        int k = drain(s, 7, got, 64, true);
        assert_int_equal(k, 40);
        for (int i = 0; i < k; i++)
            assert_int_equal(got[i], expect++);
        assert_int_equal(count_segments("wrap", "warning"), 1);
    }
    spool__close(s);
    s = open_spool("wrap"); /* nothing left after 2000 events */
    assert_int_equal(spool__count(s), 0);
    spool__close(s);
}

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)

/* A segment is an eighth of the spool's bound, kept between 64 KiB and
 * 8 MiB. */
static void test_segment_size_table(void **state)
{
    static const struct {
        uint64_t bound, segment;
    } cases[] = {
        {0, 64 * KIB},
        {1, 64 * KIB},
        {512 * KIB - 1, 64 * KIB},
        {512 * KIB, 64 * KIB},
        {512 * KIB + 8, 64 * KIB + 1},
        {1 * MIB, 128 * KIB},
        {10 * MIB, 1280 * KIB},
        {64 * MIB, 8 * MIB},
        {64 * MIB + 8, 8 * MIB},
        {1ULL << 40, 8 * MIB},
        {UINT64_MAX, 8 * MIB},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (spool__segment_size(cases[i].bound) != cases[i].segment)
            fail_msg("bound %llu: want %llu, got %llu",
                     (unsigned long long)cases[i].bound,
                     (unsigned long long)cases[i].segment,
                     (unsigned long long)spool__segment_size(cases[i].bound));
}

/* The size and count of a log's segment files; *first is the lowest
 * segment number and *first_size its size. */
static int list_segments(const char *name, const char *sev,
                         unsigned long long *first, long long *first_size)
{
    char path[512], file[800];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, name, sev);
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        unsigned long long seg;
        if (sscanf(e->d_name, "%16llx.seg", &seg) != 1)
            continue;
        if (n++ == 0 || seg < *first) {
            struct stat st;
            snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
            assert_int_equal(stat(file, &st), 0);
            *first = seg;
            *first_size = (long long)st.st_size;
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* A spool sized to its bound (whatever an earlier test forced). */
static struct spool *open_bounded(const char *name, uint64_t bound)
{
    struct spool *s;
    char err[160];
    spool__set_segment_max(0);
    assert_int_equal(spool__open(dir, name, bound, &s, err, sizeof(err)),
                     CG_OK);
    return s;
}

/* The spool starts a new segment file where its bound says: the first
 * file ends within one record of bound / 8. */
static void test_segments_sized_to_bound(void **state)
{
    static const struct {
        uint64_t bound, segment;
    } cases[] = {
        {256 * KIB, 64 * KIB}, {1 * MIB, 128 * KIB}, {2 * MIB, 256 * KIB}};
    char body[1001], name[32];
    memset(body, 'z', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(name, sizeof(name), "sized%zu", i);
        struct spool *s = open_bounded(name, cases[i].bound);
        put(s, 0, CG_SEV_INFO, body);
        long long rec = (long long)spool__bytes(s), first_size = 0;
        unsigned long long first = 0;
        for (int n = 1; list_segments(name, "info", &first, &first_size) < 2;
             n++)
            put(s, n, CG_SEV_INFO, body);
        long long seg = (long long)cases[i].segment;
        if (first != 0 || first_size > seg || first_size <= seg - rec)
            fail_msg("bound %llu: first segment %llu of %lld bytes, want "
                     "(%lld, %lld]",
                     (unsigned long long)cases[i].bound, first, first_size,
                     seg - rec, seg);
        spool__close(s);
    }
}

/* Appends records of about 1 KiB until they reach 64 KiB (or stay just
 * below it); returns how many. */
static uint64_t fill_to_64k(struct spool *s, bool reach)
{
    char body[1001];
    memset(body, 'z', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    put(s, 0, CG_SEV_INFO, body);
    uint64_t rec = spool__bytes(s);
    uint64_t n = reach ? (64 * KIB + rec - 1) / rec : (64 * KIB - 1) / rec;
    for (uint64_t k = 1; k < n; k++)
        put(s, (int)k, CG_SEV_INFO, body);
    return n;
}

/* How many of this process's descriptors hold a deleted file of the
 * test folder (whose blocks the disk cannot get back). */
static int deleted_files_held(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char link[300], target[1024];
        snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += !strncmp(target, dir, strlen(dir)) &&
             strstr(target, " (deleted)") != NULL;
    }
    if (d)
        closedir(d);
    return n;
}

/* A drained segment of 64 KiB or more is closed at once and its file
 * deleted, so a full disk gets its space back without waiting for the
 * segment (up to 8 MiB) to fill, nor for a next read to let go of it; a
 * smaller one, or one not yet drained, stays. */
static void test_early_rotation(void **state)
{
    static const struct {
        const char *name;
        bool reach_64k;  /* else: just below it */
        bool drain_half; /* else: everything */
        bool rotated;
    } cases[] = {
        {"early-below", false, false, false},
        {"early-at", true, false, true},
        {"early-half", true, true, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct spool *s = open_bounded(cases[i].name, 1ULL << 30);
        uint64_t n = fill_to_64k(s, cases[i].reach_64k);
        struct spool_batch b = {0};
        assert_int_equal(spool__peek(s, cases[i].drain_half ? n / 2 : n, &b),
                         CG_OK);
        assert_int_equal(spool__commit(s), CG_OK);
        spool__batch_free(&b);
        unsigned long long first = 0;
        long long size = 0;
        assert_int_equal(list_segments(cases[i].name, "info", &first, &size),
                         1);
        if ((first == 1) != cases[i].rotated || (size == 0) != cases[i].rotated)
            fail_msg("%s: segment %llu of %lld bytes left after %llu records",
                     cases[i].name, first, size, (unsigned long long)n);
        assert_int_equal(deleted_files_held(), 0);
        put(s, (int)n, CG_SEV_INFO, "after"); /* the log goes on */
        int got[64];
        assert_int_equal(drain(s, 100, got, 64, true),
                         cases[i].drain_half ? (int)(n - n / 2) + 1 : 1);
        spool__close(s);
    }
}

static void segment_path(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s/info/%016llx.seg", dir, name, 0ULL);
}

static void test_torn_write_is_cut(void **state)
{
    struct spool *s = open_spool("torn");
    for (int i = 1; i <= 3; i++)
        put(s, i, CG_SEV_INFO, "torn");
    spool__close(s);
    char path[512];
    segment_path("torn", path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 5), 0); /* a crash mid-write */
    s = open_spool("torn");
    assert_int_equal(spool__count(s), 2);
    put(s, 4, CG_SEV_INFO, "after");
    int got[8];
    assert_int_equal(drain(s, 10, got, 8, true), 3);
    int want[] = {1, 2, 4};
    assert_memory_equal(got, want, sizeof(want));
    spool__close(s);
}

static void test_damaged_record_is_cut(void **state)
{
    struct spool *s = open_spool("damaged");
    for (int i = 1; i <= 3; i++)
        put(s, i, CG_SEV_INFO, "damage");
    spool__close(s);
    char path[512];
    segment_path("damaged", path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, st.st_size - 3, SEEK_SET); /* flip a byte of the last json */
    fputc('#', f);
    fclose(f);
    s = open_spool("damaged");
    assert_int_equal(spool__count(s), 2);
    int got[8];
    assert_int_equal(drain(s, 10, got, 8, true), 2);
    spool__close(s);
}

static void test_garbage_length_is_cut(void **state)
{
    struct spool *s = open_spool("garbage");
    put(s, 1, CG_SEV_INFO, "ok");
    spool__close(s);
    char path[512];
    segment_path("garbage", path, sizeof(path));
    FILE *f = fopen(path, "ab");
    fwrite("\xff\xff\xff\xff\x01\x02", 1, 6, f); /* nonsense header */
    fclose(f);
    s = open_spool("garbage");
    assert_int_equal(spool__count(s), 1);
    put(s, 2, CG_SEV_INFO, "ok");
    int got[4];
    assert_int_equal(drain(s, 10, got, 4, true), 2);
    assert_int_equal(got[1], 2);
    spool__close(s);
}

static void test_drop_oldest(void **state)
{
    struct spool *s = open_spool("drop");
    put(s, 1, CG_SEV_CRITICAL, "old");
    put(s, 2, CG_SEV_INFO, "b");
    put(s, 3, CG_SEV_WARNING, "c");
    put(s, 4, CG_SEV_CRITICAL, "d");
    uint64_t one = spool__bytes(s) / 4 - 1;
    assert_int_equal(spool__drop_oldest(s, 2 * one), 2); /* 1 and 2 */
    assert_int_equal(spool__count(s), 2);
    spool__close(s);
    s = open_spool("drop"); /* the drop is durable */
    int got[8];
    assert_int_equal(drain(s, 10, got, 8, true), 2);
    int want[] = {4, 3};
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(spool__drop_oldest(s, 1000), 0); /* nothing left */
    spool__close(s);
}

static void test_drop_reaches_events_in_flight(void **state)
{
    struct spool *s = open_spool("inflight");
    for (int i = 1; i <= 4; i++)
        put(s, i, CG_SEV_INFO, "f");
    struct spool_batch b = {0};
    assert_int_equal(spool__peek(s, 2, &b), CG_OK); /* 1, 2 in flight */
    assert_int_equal(spool__drop_oldest(s, 1), 1);  /* drops 1 */
    assert_int_equal(spool__count(s), 3);
    assert_int_equal(spool__drop_oldest(s, 1), 1); /* drops 2 */
    assert_int_equal(spool__drop_oldest(s, 1), 1); /* drops 3, not out yet */
    assert_int_equal(spool__commit(s), CG_OK);
    assert_int_equal(spool__count(s), 1);
    assert_int_equal(spool__peek(s, 10, &b), CG_OK);
    assert_int_equal(b.n, 1);
    assert_non_null(strstr(b.events[0].json, "\"n\":4"));
    assert_int_equal(spool__commit(s), CG_OK);
    assert_int_equal(spool__count(s), 0);
    assert_int_equal(spool__bytes(s), 0);
    spool__batch_free(&b);
    spool__close(s);
}

static void test_rewind_lets_urgent_events_first(void **state)
{
    struct spool *s = open_spool("rewind");
    put(s, 1, CG_SEV_INFO, "r");
    put(s, 2, CG_SEV_INFO, "r");
    struct spool_batch b = {0};
    assert_int_equal(spool__peek(s, 10, &b), CG_OK);
    assert_int_equal(b.n, 2);
    put(s, 3, CG_SEV_CRITICAL, "r"); /* arrives while 1, 2 are retried */
    spool__rewind(s);
    int got[4];
    assert_int_equal(drain(s, 10, got, 4, true), 3);
    int want[] = {3, 1, 2};
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(spool__count(s), 0);
    spool__batch_free(&b);
    spool__close(s);
}

/* The spool lives in exactly the folder it is given (the consumer's name
 * is escaped into a folder name by config: cg_consumer_folder). */
static void test_names_stay_in_their_folder(void **state)
{
    struct spool *s = open_spool("ops%2Fgov");
    put(s, 1, CG_SEV_INFO, "x");
    spool__close(s);
    char path[512];
    snprintf(path, sizeof(path), "%s/ops%%2Fgov/info", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_commit),
        cmocka_unit_test(test_survives_reopen),
        cmocka_unit_test(test_wraps_around),
        cmocka_unit_test(test_segment_size_table),
        cmocka_unit_test(test_segments_sized_to_bound),
        cmocka_unit_test(test_early_rotation),
        cmocka_unit_test(test_torn_write_is_cut),
        cmocka_unit_test(test_damaged_record_is_cut),
        cmocka_unit_test(test_garbage_length_is_cut),
        cmocka_unit_test(test_drop_oldest),
        cmocka_unit_test(test_drop_reaches_events_in_flight),
        cmocka_unit_test(test_rewind_lets_urgent_events_first),
        cmocka_unit_test(test_names_stay_in_their_folder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
