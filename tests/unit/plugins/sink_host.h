/*
 * A fake plugin host for the sink tests. Its clock stands still unless a
 * test moves it (sink_clock), its log keeps the last line, and its
 * publish() records what the mqtt sink hands over and answers what the
 * test asks for. Options are written as JSON text and parsed into the
 * CG_OBJ value that create() receives; that memory is gone once create()
 * returns, which proves a sink keeps its own copies.
 *
 * The host's callbacks get no context pointer (now() takes none), so the
 * fake keeps its state in one static struct; every test starts with
 * sink_host_reset().
 */
#ifndef CG_TEST_SINK_HOST_H
#define CG_TEST_SINK_HOST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base.h"
#include "builtin.h"

struct sink_host_state {
    double now;          /* what host->now() answers */
    char last_log[256];  /* the last line logged */
    int logs;            /* lines logged */
    int publish_rc;      /* what publish() answers */
    int publish_calls;   /* calls to publish() */
    size_t published;    /* events seen by publish() */
    uint32_t timeout_ms; /* of the last publish() */
    const struct cg_batch *last_batch;
};

static struct sink_host_state sink_fake;

__attribute__((format(printf, 3, 4))) static inline void
sink_log(const struct cg_host *host, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sink_fake.last_log, sizeof(sink_fake.last_log), fmt, ap);
    va_end(ap);
    sink_fake.logs++;
}

static inline void *sink_alloc(size_t size)
{
    return cg_malloc(size);
}

static inline void sink_free(void *p)
{
    cg_free(p);
}

static inline double sink_now(void)
{
    return sink_fake.now;
}

static inline int sink_publish(const struct cg_host *host,
                               const struct cg_batch *batch,
                               uint32_t timeout_ms)
{
    sink_fake.publish_calls++;
    sink_fake.published += batch->n;
    sink_fake.timeout_ms = timeout_ms;
    sink_fake.last_batch = batch;
    return sink_fake.publish_rc;
}

/* The host of a consumer with an MQTT connection. */
static const struct cg_host sink_host = {
    .struct_size = sizeof(struct cg_host),
    .log = sink_log,
    .alloc = sink_alloc,
    .free = sink_free,
    .now = sink_now,
    .record_alloc = NULL,
    .instance_name = "test-consumer",
    .publish = sink_publish,
};

static inline void sink_host_reset(void)
{
    memset(&sink_fake, 0, sizeof(sink_fake));
    sink_fake.now = 1764490502.0; /* 2025-11-30T08:15:02Z */
}

/* Creates an instance from options written as JSON ("{}" for none) with
 * the given host; allocations inside create() fail after `fail_after` of
 * them (-1: never). Returns what create() returned; err gets its
 * reason. */
static inline int sink_create_with(const struct cg_host *host,
                                   const struct cg_plugin *plugin,
                                   const char *opts_json, long fail_after,
                                   void **inst, char *err, size_t errlen)
{
    struct cg_arena *arena = cg_arena_new(1024);
    struct cg_value opts;
    assert_non_null(arena);
    assert_int_equal(cg_json_parse(opts_json, strlen(opts_json),
                                   cg_arena_alloc_fn, arena, &opts, NULL, 0),
                     CG_OK);
    assert_int_equal(opts.type, CG_OBJ);
    *inst = NULL;
    err[0] = '\0';
    cg_mem_fail_after(fail_after);
    int rc = plugin->create(host, &opts, inst, err, errlen);
    cg_mem_fail_after(-1);
    cg_arena_free(arena);
    if (rc != CG_OK)
        assert_null(*inst);
    return rc;
}

static inline void *sink_create(const struct cg_plugin *plugin,
                                const char *opts_json)
{
    char err[160];
    void *inst;
    int rc = sink_create_with(&sink_host, plugin, opts_json, -1, &inst, err,
                              sizeof(err));
    if (rc != CG_OK)
        fail_msg("create %s: %s", opts_json, err);
    return inst;
}

/* Checks that create() refuses the options with a reason holding part. */
static inline void assert_create_fails(const struct cg_plugin *plugin,
                                       const char *opts_json, const char *part)
{
    char err[160];
    void *inst;
    int rc = sink_create_with(&sink_host, plugin, opts_json, -1, &inst, err,
                              sizeof(err));
    if (rc != CG_EINVAL)
        fail_msg("%s: expected CG_EINVAL, got %d", opts_json, rc);
    if (!strstr(err, part))
        fail_msg("%s: reason '%s' lacks '%s'", opts_json, err, part);
}

/* Runs create() with allocations failing after 0, 1, 2 ... of them: each
 * run must answer CG_ENOMEM (and leak nothing, which ASan checks) until
 * one succeeds. */
static inline void assert_create_survives_oom(const struct cg_plugin *plugin,
                                              const char *opts_json)
{
    char err[160];
    for (long k = 0; k < 1000; k++) {
        void *inst;
        int rc = sink_create_with(&sink_host, plugin, opts_json, k, &inst, err,
                                  sizeof(err));
        if (rc == CG_OK) {
            plugin->destroy(inst);
            return;
        }
        assert_int_equal(rc, CG_ENOMEM);
    }
    fail_msg("create never succeeded");
}

/* A batch of events from JSON texts; ids and topics are made up. */
struct test_batch {
    struct cg_event ev[64];
    struct cg_batch b;
};

static inline const struct cg_batch *
make_batch(struct test_batch *t, const char *const *json, size_t n)
{
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        t->ev[i] = (struct cg_event){.id = "9f2c4e1a0b7d3e55",
                                     .topic = "city/gov/env/pm25",
                                     .json = json[i],
                                     .json_len = strlen(json[i]),
                                     .severity = CG_SEV_WARNING,
                                     .qos = 1};
    t->b = (struct cg_batch){.events = t->ev, .n = n};
    return &t->b;
}

static const struct cg_batch empty_batch = {NULL, 0};

#endif
