/*
 * Fuzz target: the built-in decoders (json, kv, csv, lpp; SPEC §2, §12),
 * driven through their plugin descriptors and a fake host, as the engine
 * drives them.
 *
 * After the control bytes (fuzz.h), byte 0 picks what runs:
 *   - below 0xF0: a row of the table below (a decoder and options as an
 *     operator would write them), modulo its size; the rest is the
 *     payload;
 *   - 0xF0 and above: decoder (byte & 3) with options read from the input
 *     as JSON text up to the first NUL byte, then the payload. Options go
 *     through the host's type check first, as in the gateway, so create()
 *     sees only what a real host would hand it.
 *
 * Beyond "no crash, no leak", every run checks: create() and decode()
 * answer only what the ABI allows (CG_OK, CG_EINVAL with a reason,
 * CG_EDECODE with a reason, CG_ENOMEM only while failures are armed); a
 * record is an object with unique keys whose strings are valid UTF-8 and
 * NUL-terminated, and it writes out as JSON that parses again. lpp frames
 * decode to the same record raw and as base64 (cg_base64_encode's text).
 */
#include <string.h>

#include "builtin.h"
#include "fuzz.h"

struct row {
    const struct cg_plugin *plugin;
    const char *options; /* JSON */
};

static const struct row rows[] = {
    {&cg_builtin_decode_json, "{}"},
    {&cg_builtin_decode_json, "{\"root\":\"data\"}"},
    {&cg_builtin_decode_json, "{\"root\":\"data.readings\"}"},
    {&cg_builtin_decode_json, "{\"root\":\"items[0]\"}"},
    {&cg_builtin_decode_json, "{\"root\":\"a[\\\"odd key\\\"][1].b\"}"},
    {&cg_builtin_decode_kv, "{}"},
    {&cg_builtin_decode_kv, "{\"pair_sep\":\"&\",\"kv_sep\":\":\"}"},
    {&cg_builtin_decode_kv, "{\"pair_sep\":\"\\n\"}"},
    {&cg_builtin_decode_kv, "{\"pair_sep\":\"||\",\"kv_sep\":\"=>\"}"},
    {&cg_builtin_decode_csv, "{\"columns\":[\"a\",\"b\",\"c\"]}"},
    {&cg_builtin_decode_csv,
     "{\"columns\":[\"device\",\"pm25\",\"no2\",\"status\"]}"},
    {&cg_builtin_decode_csv, "{\"columns\":[\"x\"],\"separator\":\";\"}"},
    {&cg_builtin_decode_csv,
     "{\"columns\":[\"id\",\"ts\",\"v\",\"a\",\"b\",\"c\",\"d\",\"e\"],"
     "\"separator\":\"\\t\"}"},
    {&cg_builtin_decode_lpp, "{}"},
    {&cg_builtin_decode_lpp, "{\"encoding\":\"base64\"}"},
};
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static const struct cg_plugin *const decoders[4] = {
    &cg_builtin_decode_json, &cg_builtin_decode_kv, &cg_builtin_decode_csv,
    &cg_builtin_decode_lpp};

/* ---- the fake host ---------------------------------------------------- */

/* Like the gateway, the host embeds the record in a larger struct and
 * serves record_alloc from a per-message arena. */
struct message {
    struct cg_arena *arena;
    struct cg_record rec;
    char detail[160];
};

static void *record_alloc(struct cg_record *rec, size_t size)
{
    struct message *m =
        (struct message *)((char *)rec - offsetof(struct message, rec));
    return cg_arena_alloc(m->arena, size);
}

__attribute__((format(printf, 3, 4))) static void
host_log(const struct cg_host *host, int level, const char *fmt, ...)
{
}

static void *host_alloc(size_t size)
{
    return cg_malloc(size);
}

static double host_now(void)
{
    return 1764490502.0;
}

static const struct cg_host host = {
    .struct_size = sizeof(struct cg_host),
    .log = host_log,
    .alloc = host_alloc,
    .free = cg_free,
    .now = host_now,
    .record_alloc = record_alloc,
    .instance_name = "fuzz",
};

/* ---- options ---------------------------------------------------------- */

static bool type_fits(int type, const struct cg_value *v)
{
    static const uint8_t want[] = {0,       CG_STR,  CG_INT, CG_NUM,
                                   CG_BOOL, CG_LIST, CG_OBJ};
    if (type == CG_OPT_NUMBER)
        return v->type == CG_INT || v->type == CG_NUM;
    return type > 0 && type < 7 && v->type == want[type];
}

/* The host's check (gateway/instance.c): known names, right types,
 * required ones present. */
static bool options_fit(const struct cg_plugin *p, const struct cg_value *o)
{
    if (o->type != CG_OBJ)
        return false;
    for (uint32_t i = 0; i < o->len; i++) {
        const struct cg_option *opt = p->options;
        while (opt->name && strcmp(opt->name, o->as.members[i].key))
            opt++;
        if (!opt->name || !type_fits(opt->type, &o->as.members[i].value))
            return false;
    }
    for (const struct cg_option *opt = p->options; opt->name; opt++) {
        bool found = false;
        for (uint32_t i = 0; i < o->len && !found; i++)
            found = !strcmp(opt->name, o->as.members[i].key);
        if (opt->required && !found)
            return false;
    }
    return true;
}

/* True when obj has the member key with the string value want. */
static bool member_is(const struct cg_value *obj, const char *key,
                      const char *want)
{
    for (uint32_t i = 0; obj->type == CG_OBJ && i < obj->len; i++) {
        const struct cg_member *m = &obj->as.members[i];
        if (!strcmp(m->key, key))
            return m->value.type == CG_STR && !strcmp(m->value.as.str, want);
    }
    return false;
}

/* ---- checking a record ------------------------------------------------ */

static void check_record(const struct cg_value *root)
{
    FUZZ_CHECK(root->type == CG_OBJ, "record of type %d", root->type);
    for (uint32_t i = 0; i < root->len && root->len <= 256; i++)
        for (uint32_t j = i + 1; j < root->len; j++)
            FUZZ_CHECK(
                strcmp(root->as.members[i].key, root->as.members[j].key) != 0,
                "duplicate key '%s'", root->as.members[i].key);
    /* The JSON parser checks every string's UTF-8 and NUL on the way. */
    struct cg_buf b = {0};
    struct cg_arena *arena = cg_arena_new(4096);
    struct cg_value again;
    char err[160] = "";
    cg_json_put_value(&b, root);
    FUZZ_CHECK(arena && !b.oom, "out of memory");
    FUZZ_CHECK(cg_json_parse(b.data, b.len, cg_arena_alloc_fn, arena, &again,
                             err, sizeof(err)) == CG_OK,
               "record is not JSON (%s): %s", err, b.data);
    cg_buf_free(&b);
    cg_arena_free(arena);
}

/* ---- one run ---------------------------------------------------------- */

/* Decodes into m (whose arena the caller frees); returns the result. */
static int decode_into(const struct cg_plugin *p, void *inst,
                       const uint8_t *data, size_t size, struct message *m)
{
    m->rec = (struct cg_record){.detail = m->detail,
                                .detail_size = sizeof(m->detail)};
    m->detail[0] = '\0';
    struct cg_input in = {.payload = data, .len = size, .topic = "t/1"};
    return p->decode(inst, &in, &m->rec);
}

static char *render(const struct cg_value *v)
{
    struct cg_buf b = {0};
    cg_json_put_value(&b, v);
    FUZZ_CHECK(!b.oom, "out of memory");
    return b.data;
}

/* The frames as base64 text through an lpp instance with encoding
 * base64 must give what the raw frames gave (result and record). */
static void check_lpp_base64(const uint8_t *data, size_t size, int rc,
                             const struct cg_value *raw)
{
    struct cg_member enc = {"encoding", 8, {.type = CG_STR, .len = 6}};
    struct cg_value opts = {.type = CG_OBJ, .len = 1};
    struct message m = {.arena = cg_arena_new(256)};
    struct cg_buf text = {0};
    void *inst = NULL;
    char err[160] = "";
    enc.value.as.str = "base64";
    opts.as.members = &enc;
    cg_base64_encode(&text, data, size);
    FUZZ_CHECK(m.arena && !text.oom, "out of memory");
    FUZZ_CHECK(cg_builtin_decode_lpp.create(&host, &opts, &inst, err,
                                            sizeof(err)) == CG_OK,
               "%s", err);
    const char *b64 = text.data ? text.data : "";
    int rc64 = decode_into(&cg_builtin_decode_lpp, inst, (const uint8_t *)b64,
                           text.len, &m);
    FUZZ_CHECK(rc64 == rc, "raw %d, base64 %d (%s)", rc, rc64, m.detail);
    if (rc == CG_OK) {
        char *x = render(raw), *y = render(&m.rec.root);
        FUZZ_CHECK(!strcmp(x, y), "raw %s, base64 %s", x, y);
        cg_free(x);
        cg_free(y);
    }
    cg_builtin_decode_lpp.destroy(inst);
    cg_buf_free(&text);
    cg_arena_free(m.arena);
}

static void decode(const struct cg_plugin *p, void *inst, bool lpp_raw,
                   const uint8_t *data, size_t size)
{
    struct message m = {.arena = cg_arena_new(256)};
    if (!m.arena)
        return;
    int rc = decode_into(p, inst, data, size, &m);
    fuzz_end();
    FUZZ_CHECK(rc == CG_OK || (rc == CG_EDECODE && m.detail[0]) ||
                   (rc == CG_ENOMEM && fuzz_armed),
               "%s decode returned %d (%s)", p->name, rc, m.detail);
    if (rc == CG_OK)
        check_record(&m.rec.root);
    if (lpp_raw && rc != CG_ENOMEM)
        check_lpp_base64(data, size, rc, &m.rec.root);
    cg_arena_free(m.arena);
}

static void run(const struct cg_plugin *p, const char *opts_json,
                size_t opts_len, const uint8_t *data, size_t size)
{
    bool lpp_raw = false;
    struct cg_arena *opts_arena = cg_arena_new(1024);
    struct cg_value opts;
    void *inst = NULL;
    if (!opts_arena)
        return;
    int rc = cg_json_parse(opts_json, opts_len, cg_arena_alloc_fn, opts_arena,
                           &opts, NULL, 0);
    if (rc == CG_OK && options_fit(p, &opts)) {
        char err[160] = "";
        rc = p->create(&host, &opts, &inst, err, sizeof(err));
        FUZZ_CHECK(rc == CG_OK || (rc == CG_EINVAL && err[0]) ||
                       (rc == CG_ENOMEM && fuzz_armed),
                   "%s create returned %d (%s)", p->name, rc, err);
        FUZZ_CHECK(rc == CG_OK || !inst, "instance set on failure");
        lpp_raw = p == &cg_builtin_decode_lpp &&
                  !member_is(&opts, "encoding", "base64");
    }
    /* Options are borrowed for create() only: drop them before decoding,
     * so ASan sees any instance that kept a pointer into them. */
    cg_arena_free(opts_arena);
    if (inst) {
        decode(p, inst, lpp_raw, data, size);
        p->destroy(inst);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_begin(&data, &size) || size < 1) {
        fuzz_end();
        return 0;
    }
    uint8_t pick = data[0];
    data++;
    size--;
    if (pick < 0xF0) {
        const struct row *r = &rows[pick % N_ROWS];
        run(r->plugin, r->options, strlen(r->options), data, size);
    } else {
        const uint8_t *nul = memchr(data, 0, size);
        size_t n = nul ? (size_t)(nul - data) : size;
        size_t skip = nul ? n + 1 : n;
        run(decoders[pick & 3], (const char *)data, n, data + skip,
            size - skip);
    }
    fuzz_end();
    return 0;
}
