/*
 * Fuzz target: the strict JSON parser (cg_json_parse, SPEC §2) and the
 * writer that turns records back into text (cg_json_put_value).
 *
 * Beyond "no crash, no leak", every run checks:
 *   - a failure is CG_EDECODE with a reason, or CG_ENOMEM while
 *     allocation failures are armed, never anything else;
 *   - nothing deeper than CG_JSON_MAX_DEPTH is accepted, and every string
 *     in the tree is valid UTF-8 with its NUL where `len` says;
 *   - what parses writes back as JSON that parses again and writes the
 *     very same text (write, parse, write is a fixpoint), so events built
 *     from any accepted payload stay valid JSON;
 *   - numbers in text (cg_number_parse, for kv values, csv cells and
 *     num()) agree with the JSON parser: the same texts are numbers, out
 *     of range, or neither, with the same value (SPEC §12).
 *
 * The tree lives in an arena with small chunks, so that injected
 * failures strike in the middle of a document, not only at its start.
 */
#include <string.h>

#include "fuzz.h"

static int depth_of(const struct cg_value *v)
{
    int deepest = 0;
    for (uint32_t i = 0; v->type == CG_LIST && i < v->len; i++) {
        int d = depth_of(&v->as.items[i]);
        deepest = d > deepest ? d : deepest;
    }
    for (uint32_t i = 0; v->type == CG_OBJ && i < v->len; i++) {
        const struct cg_member *m = &v->as.members[i];
        FUZZ_CHECK(m->key[m->key_len] == '\0' &&
                       cg_utf8_valid(m->key, m->key_len),
                   "bad key of %u bytes", m->key_len);
        int d = depth_of(&m->value);
        deepest = d > deepest ? d : deepest;
    }
    if (v->type == CG_STR)
        FUZZ_CHECK(v->as.str[v->len] == '\0' &&
                       cg_utf8_valid(v->as.str, v->len),
                   "bad string of %u bytes", v->len);
    return deepest + (v->type == CG_LIST || v->type == CG_OBJ);
}

/* Writes v, parses the text again and writes that: both texts must be
 * the same. Runs with injection off, so it must not fail. */
static void check_round_trip(const struct cg_value *v)
{
    struct cg_buf first = {0}, second = {0};
    struct cg_arena *arena = cg_arena_new(4096);
    struct cg_value again;
    char err[160] = "";
    FUZZ_CHECK(arena, "out of memory");
    cg_json_put_value(&first, v);
    FUZZ_CHECK(!first.oom, "out of memory");
    int rc = cg_json_parse(first.data, first.len, cg_arena_alloc_fn, arena,
                           &again, err, sizeof(err));
    FUZZ_CHECK(rc == CG_OK, "written JSON does not parse (%s): %s", err,
               first.data);
    cg_json_put_value(&second, &again);
    FUZZ_CHECK(!second.oom && !strcmp(first.data, second.data),
               "not a fixpoint:\n  %s\n  %s", first.data, second.data);
    cg_buf_free(&first);
    cg_buf_free(&second);
    cg_arena_free(arena);
}

static bool same_number(const struct cg_value *a, const struct cg_value *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == CG_INT)
        return a->as.i == b->as.i;
    return memcmp(&a->as.num, &b->as.num, sizeof(double)) == 0;
}

/* The text as cg_number_parse reads it against what the JSON parser made
 * of it (rc, v), for a text without surrounding whitespace. */
static void check_number(const char *text, size_t n, int rc,
                         const struct cg_value *v, const char *err)
{
    struct cg_value num;
    if (n == 0 || strchr(" \t\r\n", text[0]) || strchr(" \t\r\n", text[n - 1]))
        return; /* JSON skips whitespace; number text is trimmed first */
    int nrc = cg_number_parse(text, n, &num);
    bool json_number = rc == CG_OK && (v->type == CG_INT || v->type == CG_NUM);
    FUZZ_CHECK((nrc == CG_OK) == json_number,
               "number_parse %d, JSON parse %d (type %d)", nrc, rc,
               rc == CG_OK ? v->type : -1);
    FUZZ_CHECK(nrc != CG_OK || same_number(&num, v), "different values");
    FUZZ_CHECK(nrc != CG_ERANGE || (rc == CG_EDECODE && strstr(err, "range")),
               "out of range as text, JSON says: %s", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_begin(&data, &size))
        return 0;
    struct cg_arena *arena = cg_arena_new(256);
    if (!arena) {
        fuzz_end();
        return 0;
    }
    struct cg_value v;
    char err[160] = "";
    int rc = cg_json_parse((const char *)data, size, cg_arena_alloc_fn, arena,
                           &v, err, sizeof(err));
    fuzz_end();
    FUZZ_CHECK(rc == CG_OK || rc == CG_EDECODE ||
                   (rc == CG_ENOMEM && fuzz_armed),
               "unexpected result %d", rc);
    FUZZ_CHECK(rc != CG_EDECODE || err[0], "a decode error without reason");
    if (!fuzz_armed)
        check_number((const char *)data, size, rc, &v, err);
    if (rc == CG_OK) {
        FUZZ_CHECK(depth_of(&v) <= CG_JSON_MAX_DEPTH, "too deep: %d",
                   depth_of(&v));
        check_round_trip(&v);
    }
    cg_arena_free(arena);
    return 0;
}
