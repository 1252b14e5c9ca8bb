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
 */
#include <string.h>

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
    return 0;
}
