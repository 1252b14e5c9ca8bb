/*
 * Shared harness of the expression tests: one table row per case, an
 * expression, the record it runs against (JSON text; NULL for the default
 * record below) and the expected result as compact JSON, optionally with
 * its number type ('i' CG_INT, 'n' CG_NUM).
 *
 * Every case is evaluated with heap allocation failing (cg_mem_fail_after
 * armed at 0) over a pre-sized arena: a case that touched the heap while
 * evaluating would come out null and fail. Every case is also compiled
 * under injected allocation failures, n = 0, 1, ... until the compile
 * succeeds, which under ASan proves each failure path frees what it took.
 * Rows that fail are all printed before the test fails.
 */
#ifndef CG_TEST_EXPR_HARNESS_H
#define CG_TEST_EXPR_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

/* Table rows give only the fields they need; the rest are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define HARNESS   static __attribute__((unused))
#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

/* The default record: one field of every kind, plus fields named like the
 * built-ins (device, topic, payload) that only payload[...] reaches. */
#define DEFAULT_RECORD                                                         \
    "{\"pm25\": 80.2, \"status\": \"ok\", \"n\": 7, \"m\": -7, \"i\": 3,"      \
    " \"zero\": 0, \"fzero\": 0.0, \"half\": 0.5, \"s\": \"Hello\","           \
    " \"e\": \"\", \"u\": \"h\\u00e9llo w\\u00f6rld\","                        \
    " \"sp\": \"  padded\\t \", \"list\": [1, 2, 3],"                          \
    " \"mixed\": [1, \"a\", null, [2]],"                                       \
    " \"obj\": {\"a\": 1, \"odd key\": 2, \"b\": {\"c\": [10, 20]},"           \
    " \"and\": 9},"                                                            \
    " \"readings\": {\"pm25\": 12.5, \"values\": [1.5, 2]},"                   \
    " \"values\": [4, 5, 6], \"device\": \"field-dev\","                       \
    " \"topic\": \"field-topic\", \"payload\": \"field-payload\","             \
    " \"t\": true, \"f\": false, \"z\": null,"                                 \
    " \"big\": 9223372036854775807, \"small\": -9223372036854775808,"          \
    " \"huge\": 1e308, \"numstr\": \" 42 \", \"key\": \"odd key\","            \
    " \"idx\": 1}"

#define TOPIC "city/air/aq-7/telemetry"

struct expr_case {
    const char *expr;
    const char *want;   /* compact JSON */
    char type;          /* 'i', 'n' or 0 for any */
    const char *record; /* NULL: DEFAULT_RECORD */
};

struct error_case {
    const char *expr;
    size_t offset;
    const char *msg; /* a trailing '*' matches any rest */
};

struct harness {
    struct cg_arena *rec_arena, *arena;
    struct cg_value record;
    struct cg_strref levels[4];
    struct cg_eval_ctx ctx;
};

HARNESS void harness_open(struct harness *h, const char *record)
{
    static const char *const parts[] = {"city", "air", "aq-7", "telemetry"};
    char why[128] = "";
    memset(h, 0, sizeof(*h));
    h->rec_arena = cg_arena_new(4096);
    h->arena = cg_arena_new(1 << 20); /* big enough to never grow */
    assert_non_null(h->rec_arena);
    assert_non_null(h->arena);
    const char *text = record ? record : DEFAULT_RECORD;
    int rc = cg_json_parse(text, strlen(text), cg_arena_alloc_fn, h->rec_arena,
                           &h->record, why, sizeof(why));
    if (rc != CG_OK)
        fail_msg("bad test record (%s): %s", why, text);
    for (int i = 0; i < 4; i++)
        h->levels[i] = (struct cg_strref){parts[i], (uint32_t)strlen(parts[i])};
    h->ctx = (struct cg_eval_ctx){
        .record = &h->record,
        .topic = TOPIC,
        .levels = h->levels,
        .n_levels = 4,
        .vendor = "acme-air",
        .network = "nbiot",
        .device = "aq-7",
        .domain = "environment",
        .now = 1700000000.25,
        .arena = h->arena,
        .time = 1919291400.5, /* 2030-10-27T00:30:00.5Z */
    };
}

HARNESS void harness_close(struct harness *h)
{
    cg_arena_free(h->arena);
    cg_arena_free(h->rec_arena);
}

/* v as compact JSON in a heap string the caller frees. */
HARNESS char *render(const struct cg_value *v)
{
    struct cg_buf b = {0};
    cg_json_put_value(&b, v);
    assert_false(b.oom);
    return b.data;
}

/* Evaluates with the heap forbidden, as message-time code must run. */
HARNESS void eval_no_heap(const struct cg_expr *e, const struct cg_eval_ctx *c,
                          struct cg_value *out)
{
    cg_mem_fail_after(0);
    cg_expr_eval(e, c, out);
    cg_mem_fail_after(-1);
}

HARNESS int check_value(const char *what, const struct expr_case *c,
                        const struct cg_value *v)
{
    char *got = render(v);
    int bad = strcmp(got, c->want) != 0;
    if (!bad && c->type == 'i' && v->type != CG_INT)
        bad = 1;
    if (!bad && c->type == 'n' && v->type != CG_NUM)
        bad = 1;
    if (bad)
        print_error("%s: %s\n  want %s%s, got %s (type %d)\n", what, c->expr,
                    c->want,
                    c->type == 'i'   ? " (int)"
                    : c->type == 'n' ? " (double)"
                                     : "",
                    got, v->type);
    cg_free(got);
    return bad;
}

HARNESS int check_case(const struct expr_case *c)
{
    struct cg_expr *e = NULL;
    struct cg_expr_error err = {0};
    int rc = cg_expr_compile(c->expr, strlen(c->expr), &e, &err);
    if (rc != CG_OK) {
        print_error("compile: %s\n  error at %zu: %s\n", c->expr, err.offset,
                    err.msg);
        return 1;
    }
    struct harness h;
    harness_open(&h, c->record);
    struct cg_value v;
    eval_no_heap(e, &h.ctx, &v);
    int bad = check_value("eval", c, &v);
    /* Without an arena nothing may crash; made strings become null. */
    h.ctx.arena = NULL;
    cg_expr_eval(e, &h.ctx, &v);
    harness_close(&h);
    cg_expr_free(e);
    return bad;
}

HARNESS void run_cases(const struct expr_case *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++)
        failures += check_case(&cases[i]);
    assert_int_equal(failures, 0);
}

/* Compiles src with the n-th allocation failing for n = 0, 1, ... until it
 * compiles (or fails as it does without injection); returns the result. */
HARNESS int compile_under_oom(const char *src, struct cg_expr **out,
                              struct cg_expr_error *err)
{
    for (long n = 0;; n++) {
        cg_mem_fail_after(n);
        int rc = cg_expr_compile(src, strlen(src), out, err);
        cg_mem_fail_after(-1);
        if (rc != CG_ENOMEM)
            return rc;
        if (*out != NULL)
            fail_msg("out set after CG_ENOMEM: %s", src);
        if (n > 100000)
            fail_msg("compile never succeeds under injection: %s", src);
    }
}

HARNESS void run_cases_oom(const struct expr_case *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        struct cg_expr *e = NULL;
        struct cg_expr_error err = {0};
        if (compile_under_oom(cases[i].expr, &e, &err) != CG_OK) {
            print_error("oom compile: %s: %s\n", cases[i].expr, err.msg);
            failures++;
            continue;
        }
        struct harness h;
        harness_open(&h, cases[i].record);
        struct cg_value v;
        eval_no_heap(e, &h.ctx, &v);
        failures += check_value("eval after oom compile", &cases[i], &v);
        harness_close(&h);
        cg_expr_free(e);
    }
    assert_int_equal(failures, 0);
}

HARNESS bool msg_matches(const char *got, const char *want)
{
    size_t n = strlen(want);
    if (n && want[n - 1] == '*')
        return strncmp(got, want, n - 1) == 0;
    return strcmp(got, want) == 0;
}

HARNESS int check_error(const struct error_case *c, bool oom)
{
    struct cg_expr *e = NULL;
    struct cg_expr_error err = {0};
    int rc = oom ? compile_under_oom(c->expr, &e, &err)
                 : cg_expr_compile(c->expr, strlen(c->expr), &e, &err);
    if (rc == CG_EINVAL && e == NULL && err.offset == c->offset &&
        msg_matches(err.msg, c->msg))
        return 0;
    print_error("error%s: \"%s\"\n  want %zu: %s\n  got rc %d, %zu: %s\n",
                oom ? " under oom" : "", c->expr, c->offset, c->msg, rc,
                err.offset, err.msg);
    cg_expr_free(e);
    return 1;
}

HARNESS void run_errors(const struct error_case *cases, size_t n, bool oom)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++)
        failures += check_error(&cases[i], oom);
    assert_int_equal(failures, 0);
}

#endif
