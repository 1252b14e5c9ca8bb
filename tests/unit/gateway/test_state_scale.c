/*
 * State at scale: the heap a key costs (a throttle key, a firing alert
 * key with its data and topic), memory bounded by max_keys whatever the
 * number of devices, and the time to save and restore a snapshot of
 * 100,000 keys. The figures are printed ("state figures: ...") for the
 * README and bench/RESULTS.md; the bounds asserted are generous so that
 * a slow machine does not fail, and memory is not asserted under ASan,
 * whose allocator keeps its own books.
 */
#include <malloc.h>
#include <time.h>

#include "state_harness.h"

#define N_DEVICES 100000

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count(void *user, const struct cg_delivery *d)
{
    (void)d;
    (*(size_t *)user)++;
    return CG_OK;
}

static int count_dead(void *user, const struct cg_dead *d)
{
    (void)user;
    (void)d;
    return CG_OK;
}

/* n devices, one message each, at one second apart; returns the heap the
 * pipeline holds afterwards minus what it held before. */
static size_t feed(struct sh *h, size_t n, size_t *events)
{
    char topic[64];
    const char *payload = "{\"level\": 5, \"zone\": \"haidian\"}";
    struct cg_emit emit = {count, count_dead, events};
    /* The first message grows the pipeline's scratch memory, not state. */
    struct cg_message m = {"v/acme/warm/t", 13, (const uint8_t *)payload,
                           strlen(payload), CLOCK0};
    assert_true(cg_pipeline_process(h->p, &m, &emit) >= 0);
    size_t before = heap_used();
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(topic, sizeof(topic), "v/acme/d%06zu/t", i);
        m = (struct cg_message){topic, (size_t)len, (const uint8_t *)payload,
                                strlen(payload), CLOCK0 + 1 + (double)i};
        assert_true(cg_pipeline_process(h->p, &m, &emit) >= 0);
    }
    return heap_used() - before;
}

static void test_bytes_per_key(void **state)
{
    (void)state;
    struct sh h;
    size_t events = 0;
    sh_load(&h, "domain: d\nrules:\n  - name: t\n    throttle: 1h\n"
                "    to: [gov]\n");
    size_t gate = feed(&h, N_DEVICES, &events);
    sh_free(&h);
    sh_load(&h, "domain: d\nrules:\n  - name: a\n    when: level > 3\n"
                "    for: 0s\n    stale_after: 1d\n"
                "    data: { level: level, zone: zone }\n    to: [gov]\n");
    size_t alert = feed(&h, N_DEVICES, &events);
    sh_free(&h);
    printf("state figures: %zu bytes per throttle key, %zu bytes per firing "
           "alert key (data of 2 fields, a 15-byte topic)\n",
           gate / N_DEVICES, alert / N_DEVICES);
    if (!SANITIZED) {
        assert_true(gate / N_DEVICES < 160);
        assert_true(alert / N_DEVICES < 320);
    }
}

/* 100,000 devices through a rule that may keep 10,000: memory stays that
 * of 10,000 keys, and the rest are counted as evicted. */
static void test_max_keys_bounds_memory(void **state)
{
    (void)state;
    struct sh h;
    size_t events = 0;
    sh_load(&h, "domain: d\nrules:\n  - name: t\n    throttle: 1h\n"
                "    max_keys: 10000\n    to: [gov]\n");
    size_t held = feed(&h, N_DEVICES, &events);
    const char *name;
    struct cg_state_stats s;
    cg_pipeline_state_stats(h.p, 0, &name, &s);
    assert_int_equal(s.keys, 10000);
    assert_int_equal(s.evicted, N_DEVICES + 1 - 10000);
    assert_int_equal(events, N_DEVICES + 1);
    printf("state figures: %zu bytes held for max_keys 10000 after %d "
           "devices\n",
           held, N_DEVICES);
    if (!SANITIZED)
        assert_true(held < 10000 * 160 + 256 * 1024);
    sh_free(&h);
}

static void test_snapshot_of_100k_keys(void **state)
{
    (void)state;
    struct sh h, b;
    struct cg_buf snap = {0}, text = {0};
    struct cg_state_restored r;
    size_t events = 0;
    char err[256];
    const char *rules = "domain: d\nrules:\n  - name: a\n    when: level > 3\n"
                        "    for: 0s\n    stale_after: 1d\n"
                        "    data: { level: level, zone: zone }\n"
                        "    to: [gov]\n";
    sh_load(&h, rules);
    feed(&h, N_DEVICES, &events);
    double t0 = mono();
    assert_int_equal(cg_pipeline_state_save(h.p, CLOCK0 + 2e5, &snap), CG_OK);
    double cold = mono() - t0;
    /* The gateway keeps its buffer from one snapshot to the next. */
    cg_buf_reset(&snap);
    t0 = mono();
    assert_int_equal(cg_pipeline_state_save(h.p, CLOCK0 + 2e5, &snap), CG_OK);
    double t1 = mono();
    assert_int_equal(
        cg_state_file_write(h.dir, snap.data, snap.len, err, sizeof(err)),
        CG_OK);
    double t2 = mono();
    sh_load(&b, rules);
    assert_int_equal(cg_state_file_read(h.dir, false, &text, err, sizeof(err)),
                     CG_OK);
    struct cg_emit emit = {count, count_dead, &events};
    assert_int_equal(cg_pipeline_state_restore(b.p, text.data, text.len,
                                               CLOCK0 + 3e5, &emit, &r, err,
                                               sizeof(err)),
                     CG_OK);
    double t3 = mono();
    assert_int_equal(r.keys, N_DEVICES); /* max_keys: the first evicted */
    printf("state figures: snapshot of %d keys: %zu bytes, %.0f ms to "
           "serialize under the pipeline lock (%.0f ms into a new buffer), "
           "%.0f ms to write and sync, %.0f ms to read and restore\n",
           N_DEVICES, snap.len, (t1 - t0) * 1000, cold * 1000, (t2 - t1) * 1000,
           (t3 - t2) * 1000);
    assert_true(t1 - t0 < 5.0);
    sh_free(&b);
    sh_free(&h);
    cg_buf_free(&snap);
    cg_buf_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_per_key),
        cmocka_unit_test(test_max_keys_bounds_memory),
        cmocka_unit_test(test_snapshot_of_100k_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
