/*
 * A fake plugin host for the decoder tests. Like the real host it embeds
 * struct cg_record in a larger struct and serves record_alloc() from a
 * per-message arena; it can also make record_alloc() fail after a given
 * number of calls, to prove decoders survive running out of memory.
 * Options are written as JSON text and parsed into the CG_OBJ value that
 * create() receives.
 */
#ifndef CG_TEST_FAKE_HOST_H
#define CG_TEST_FAKE_HOST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base.h"
#include "builtin.h"

struct fake_record {
    struct cg_arena *arena;
    long allocs_left; /* record_alloc calls that succeed; < 0: all */
    struct cg_record rec;
    char detail[160];
};

static inline void *fake_record_alloc(struct cg_record *rec, size_t size)
{
    struct fake_record *f =
        (struct fake_record *)((char *)rec - offsetof(struct fake_record, rec));
    if (f->allocs_left == 0)
        return NULL;
    if (f->allocs_left > 0)
        f->allocs_left--;
    return cg_arena_alloc(f->arena, size);
}

__attribute__((format(printf, 3, 4))) static inline void
fake_log(const struct cg_host *host, int level, const char *fmt, ...)
{
    (void)host;
    (void)level;
    (void)fmt;
}

static inline void *fake_alloc(size_t size)
{
    return cg_malloc(size);
}

static inline void fake_free(void *p)
{
    cg_free(p);
}

static inline double fake_now(void)
{
    return 1764490502.0;
}

static const struct cg_host fake_host = {
    .struct_size = sizeof(struct cg_host),
    .log = fake_log,
    .alloc = fake_alloc,
    .free = fake_free,
    .now = fake_now,
    .record_alloc = fake_record_alloc,
    .instance_name = "test",
};

/* One decoder instance plus the memory its options and records use. */
struct fixture {
    const struct cg_plugin *plugin;
    void *inst;
    struct cg_arena *opts_arena;
    struct fake_record out;
    char err[160];
    int rc; /* of the last create() or decode() */
};

/* Creates an instance from options written as JSON ("{}" for none). */
static inline int fixture_create(struct fixture *f,
                                 const struct cg_plugin *plugin,
                                 const char *opts_json)
{
    struct cg_value opts;
    f->plugin = plugin;
    f->inst = NULL;
    f->err[0] = '\0';
    f->opts_arena = cg_arena_new(1024);
    f->out.arena = cg_arena_new(4096);
    assert_non_null(f->opts_arena);
    assert_non_null(f->out.arena);
    assert_int_equal(cg_json_parse(opts_json, strlen(opts_json),
                                   cg_arena_alloc_fn, f->opts_arena, &opts,
                                   NULL, 0),
                     CG_OK);
    f->rc = plugin->create(&fake_host, &opts, &f->inst, f->err, sizeof(f->err));
    /* The options may go away once create() has returned. */
    cg_arena_free(f->opts_arena);
    f->opts_arena = NULL;
    return f->rc;
}

static inline void fixture_free(struct fixture *f)
{
    if (f->inst)
        f->plugin->destroy(f->inst);
    f->inst = NULL;
    cg_arena_free(f->out.arena);
    f->out.arena = NULL;
}

/* Decodes n bytes; the record (f->out.rec.root) lives until the next
 * decode or fixture_free. */
static inline int fixture_decode_n(struct fixture *f, const void *payload,
                                   size_t n)
{
    struct cg_input in = {.payload = payload, .len = n, .topic = "t/1"};
    cg_arena_reset(f->out.arena);
    f->out.allocs_left = -1;
    f->out.rec = (struct cg_record){.detail = f->out.detail,
                                    .detail_size = sizeof(f->out.detail)};
    f->out.detail[0] = '\0';
    f->rc = f->plugin->decode(f->inst, &in, &f->out.rec);
    return f->rc;
}

static inline int fixture_decode(struct fixture *f, const char *payload)
{
    return fixture_decode_n(f, payload, strlen(payload));
}

/* Runs decode with record_alloc failing after 0, 1, 2 ... calls: every
 * run must report CG_ENOMEM until one succeeds. Returns the number of
 * allocations the successful run needed. */
static inline long fixture_alloc_failures(struct fixture *f,
                                          const void *payload, size_t n)
{
    struct cg_input in = {.payload = payload, .len = n, .topic = "t/1"};
    for (long k = 0; k < 10000; k++) {
        cg_arena_reset(f->out.arena);
        f->out.allocs_left = k;
        f->out.rec = (struct cg_record){.detail = f->out.detail,
                                        .detail_size = sizeof(f->out.detail)};
        int rc = f->plugin->decode(f->inst, &in, &f->out.rec);
        if (rc == CG_OK)
            return k;
        assert_int_equal(rc, CG_ENOMEM);
    }
    fail_msg("decode never succeeded");
    return -1;
}

/* The record as compact JSON, for whole-record comparisons. */
static inline void assert_record(const struct fixture *f, const char *json)
{
    struct cg_buf b = {0};
    assert_int_equal(f->out.rec.root.type, CG_OBJ);
    cg_json_put_value(&b, &f->out.rec.root);
    assert_false(b.oom);
    assert_string_equal(b.data, json);
    cg_buf_free(&b);
}

static inline const struct cg_value *record_field(const struct fixture *f,
                                                  const char *key)
{
    const struct cg_value *obj = &f->out.rec.root;
    assert_int_equal(obj->type, CG_OBJ);
    for (uint32_t i = 0; i < obj->len; i++)
        if (strcmp(obj->as.members[i].key, key) == 0)
            return &obj->as.members[i].value;
    fail_msg("no field '%s'", key);
    return NULL;
}

/* Checks that decoding fails with a reason containing `part`. */
static inline void assert_decode_error(struct fixture *f, const void *payload,
                                       size_t n, const char *part)
{
    int rc = fixture_decode_n(f, payload, n);
    if (rc != CG_EDECODE)
        fail_msg("expected decode_error (%s), got %d", part, rc);
    if (!strstr(f->out.detail, part))
        fail_msg("reason '%s' lacks '%s'", f->out.detail, part);
}

#endif
