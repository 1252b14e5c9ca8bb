/*
 * Fuzz target: the expression language (SPEC §4, §12): cg_expr_compile,
 * then cg_expr_eval over a small fixed record, as rules run at message
 * time. The input after the control bytes (fuzz.h) is the source text.
 *
 * Beyond "no crash, no leak", every run checks:
 *   - compile answers CG_OK, CG_EINVAL with a message and an offset
 *     inside the text, or CG_ENOMEM only while failures are armed;
 *   - evaluation never touches the heap (injection stays armed at 0 while
 *     it runs, as message-time code must cope with), gives the same value
 *     twice, and survives running without an arena and with a tiny one;
 *   - a constant-folded expression evaluates to its constant;
 *   - reads() and field_name() hold up on whatever compiled.
 *
 * The same text is then compiled as a window's aggregate expression
 * (cg_expr_compile_window); when that succeeds, each aggregate's argument
 * runs against the record into an accumulator of its kind, whose state
 * must survive a snapshot (save, parse, load) unchanged, and the outer
 * expression runs over the results without touching the heap. The zone is
 * Europe/Berlin, so the time functions meet daylight saving time.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "rules.h"

#define RECORD                                                                 \
    "{\"pm25\": 80.2, \"status\": \"ok\", \"n\": 7, \"m\": -7, \"zero\": 0,"   \
    " \"half\": 0.5, \"s\": \"Hello\", \"e\": \"\","                           \
    " \"u\": \"h\\u00e9llo w\\u00f6rld \\u5317\\u4eac\","                      \
    " \"list\": [1, 2.5, \"a\", null, [2], {\"k\": 1}],"                       \
    " \"obj\": {\"a\": 1, \"odd key\": 2, \"b\": {\"c\": [10, 20]}},"          \
    " \"t\": true, \"f\": false, \"z\": null,"                                 \
    " \"big\": 9223372036854775807, \"small\": -9223372036854775808,"          \
    " \"huge\": 1e308, \"tiny\": 5e-324, \"numstr\": \" 42 \","                \
    " \"ts\": \"2026-11-30T08:15:02.123Z\", \"ms\": 1764490502123}"

static struct cg_arena *record_arena, *eval_arena;
static struct cg_value record;
static const struct cg_strref levels[] = {
    {"city", 4}, {"air", 3}, {"aq-7", 4}, {"telemetry", 9}};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[160];
    record_arena = cg_arena_new(4096);
    /* Big enough that evaluation never needs a second chunk: the heap is
     * off limits while it runs. */
    eval_arena = cg_arena_new(1 << 20);
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    if (!record_arena || !eval_arena ||
        cg_json_parse(RECORD, strlen(RECORD), cg_arena_alloc_fn, record_arena,
                      &record, err, sizeof(err)) != CG_OK)
        abort();
    return 0;
}

static struct cg_eval_ctx context(struct cg_arena *arena)
{
    return (struct cg_eval_ctx){
        .record = &record,
        .topic = "city/air/aq-7/telemetry",
        .levels = levels,
        .n_levels = 4,
        .vendor = "acme-air",
        .network = "nbiot",
        .device = "aq-7",
        .domain = "environment",
        .now = 1764490502.25,
        .arena = arena,
        .time = 1919293199.5, /* the last second of CEST in 2030 */
    };
}

/* v as compact JSON in a heap string the caller frees. */
static char *render(const struct cg_value *v)
{
    struct cg_buf b = {0};
    cg_json_put_value(&b, v);
    FUZZ_CHECK(!b.oom, "out of memory");
    return b.data ? b.data : cg_strdup("");
}

static void count_field(void *user, const char *name, size_t len)
{
    FUZZ_CHECK(name && strlen(name) == len, "field name of %zu bytes", len);
    ++*(size_t *)user;
}

/* Evaluates with the heap forbidden and returns the value as JSON. */
static char *eval_json(const struct cg_expr *e, struct cg_arena *arena)
{
    struct cg_eval_ctx ctx = context(arena);
    struct cg_value v;
    cg_arena_reset(arena);
    cg_mem_fail_after(0);
    cg_expr_eval(e, &ctx, &v);
    fuzz_end();
    return render(&v);
}

static void check_compiled(const struct cg_expr *e)
{
    char *first = eval_json(e, eval_arena);
    char *second = eval_json(e, eval_arena);
    FUZZ_CHECK(!strcmp(first, second), "%s then %s", first, second);
    struct cg_value c;
    if (cg_expr_constant(e, &c)) {
        char *folded = render(&c);
        FUZZ_CHECK(!strcmp(folded, first), "folded %s, evaluates %s", folded,
                   first);
        cg_free(folded);
    }
    cg_free(first);
    cg_free(second);
    /* No arena: strings and lists made while evaluating become null. */
    struct cg_eval_ctx bare = context(NULL);
    struct cg_value v;
    cg_expr_eval(e, &bare, &v);
    struct cg_expr_reads reads;
    size_t n = 0;
    cg_expr_reads(e, &reads, count_field, &n);
    const char *name = cg_expr_field_name(e);
    FUZZ_CHECK(!name || n > 0, "field_name %s but no field read", name);
}

/* Saves a's state, loads it into a fresh accumulator and checks that both
 * give the same result; returns that result as JSON. */
static char *snapshot_result(const struct cg_agg_acc *a)
{
    struct cg_buf b = {0};
    struct cg_arena *arena = cg_arena_new(1024);
    struct cg_agg_acc copy;
    struct cg_value saved, v;
    char err[160];
    FUZZ_CHECK(arena && cg_agg_acc_save(a, &b) == CG_OK, "out of memory");
    FUZZ_CHECK(cg_json_parse(b.data, b.len, cg_arena_alloc_fn, arena, &saved,
                             err, sizeof(err)) == CG_OK,
               "snapshot %s: %s", b.data, err);
    cg_agg_acc_init(&copy, CG_AGG_COUNT);
    FUZZ_CHECK(cg_agg_acc_load(&copy, &saved) == CG_OK, "load %s", b.data);
    cg_agg_acc_result(a, &v);
    char *want = render(&v);
    cg_agg_acc_result(&copy, &v);
    char *got = render(&v);
    FUZZ_CHECK(!strcmp(want, got), "%s loads as %s, was %s", b.data, got, want);
    cg_free(got);
    cg_agg_acc_reset(&copy);
    cg_buf_free(&b);
    cg_arena_free(arena);
    return want;
}

/* Feeds every aggregate of e from the record (twice, as two messages),
 * then evaluates e over their results. */
static void check_window(const struct cg_expr *e, const struct cg_agg *aggs,
                         size_t n)
{
    struct cg_eval_ctx ctx = context(eval_arena);
    struct cg_agg_acc *acc = cg_calloc(n ? n : 1, sizeof(*acc));
    struct cg_value *values = cg_calloc(n ? n : 1, sizeof(*values));
    FUZZ_CHECK(acc && values, "out of memory");
    cg_arena_reset(eval_arena);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(cg_agg_name(aggs[i].kind), "kind %d", aggs[i].kind);
        FUZZ_CHECK(!aggs[i].arg == (aggs[i].kind == CG_AGG_COUNT),
                   "argument of %s", cg_agg_name(aggs[i].kind));
        cg_agg_acc_init(&acc[i], aggs[i].kind);
        for (int message = 0; message < 2; message++) {
            struct cg_value v = CG_VALUE_NULL;
            if (aggs[i].arg)
                cg_expr_eval(aggs[i].arg, &ctx, &v);
            fuzz_arm();
            int rc = cg_agg_acc_add(&acc[i], &v);
            fuzz_end();
            FUZZ_CHECK(rc == CG_OK || (rc == CG_ENOMEM && fuzz_armed),
                       "add returned %d", rc);
        }
        cg_free(snapshot_result(&acc[i]));
        cg_agg_acc_result(&acc[i], &values[i]);
    }
    ctx.aggs = values;
    ctx.n_aggs = (uint32_t)n;
    struct cg_value v;
    cg_mem_fail_after(0);
    cg_expr_eval(e, &ctx, &v);
    fuzz_end();
    for (size_t i = 0; i < n; i++)
        cg_agg_acc_reset(&acc[i]);
    cg_free(acc);
    cg_free(values);
}

static void fuzz_window(const uint8_t *data, size_t size)
{
    struct cg_expr *e = NULL;
    struct cg_expr_error err = {0};
    const struct cg_agg *aggs = NULL;
    size_t n = 0;
    fuzz_arm();
    int rc =
        cg_expr_compile_window((const char *)data, size, &e, &aggs, &n, &err);
    fuzz_end();
    FUZZ_CHECK(rc == CG_OK || (rc == CG_EINVAL && err.msg[0]) ||
                   (rc == CG_ENOMEM && fuzz_armed),
               "window compile returned %d (%s)", rc, err.msg);
    FUZZ_CHECK(rc == CG_OK || (!e && !n), "window set on failure");
    FUZZ_CHECK(rc != CG_EINVAL || err.offset <= size,
               "window error offset %zu beyond %zu bytes", err.offset, size);
    if (e)
        check_window(e, aggs, n);
    cg_expr_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_begin(&data, &size))
        return 0;
    struct cg_expr *e = NULL;
    struct cg_expr_error err = {0};
    int rc = cg_expr_compile((const char *)data, size, &e, &err);
    bool armed = fuzz_armed;
    fuzz_end();
    FUZZ_CHECK(rc == CG_OK || (rc == CG_EINVAL && err.msg[0]) ||
                   (rc == CG_ENOMEM && armed),
               "compile returned %d (%s)", rc, err.msg);
    FUZZ_CHECK(rc == CG_OK || !e, "expression set on failure");
    FUZZ_CHECK(rc != CG_EINVAL || err.offset <= size,
               "error offset %zu beyond %zu bytes", err.offset, size);
    if (e) {
        struct cg_arena *tiny = cg_arena_new(256);
        FUZZ_CHECK(tiny, "out of memory");
        check_compiled(e);
        /* A tiny arena runs dry mid-way: values become null, no more. */
        char *json = eval_json(e, tiny);
        cg_free(json);
        cg_arena_free(tiny);
    }
    cg_expr_free(e);
    fuzz_window(data, size);
    return 0;
}
