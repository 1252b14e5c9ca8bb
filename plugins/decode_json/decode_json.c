/*
 * The json decoder (SPEC §2): one strict JSON text per payload, parsed by
 * cg_json_parse straight into record memory. The record is the top-level
 * object, or the object that the `root` option selects inside it.
 *
 * `root` is a path in expression syntax (`data.readings`, `items[0]`,
 * `a["odd key"]`) compiled once in create() into segments: each is either
 * a member name (already unescaped) or a list index. decode() only walks
 * them. An instance is immutable after create(), so one instance may
 * decode on any one thread at a time without locks.
 */
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "builtin.h"
#include "decode_util.h"

struct segment {
    const char *key; /* NULL for a list index */
    uint32_t key_len;
    uint32_t index;
};

struct json_dec {
    const struct cg_host *host;
    const char *root; /* the path as written, for reasons; NULL if none */
    size_t nseg;
    struct segment *seg;
};

/* A cursor over the root path while it compiles; decoded names are
 * written to `keys`, which has room for the whole path. */
struct cursor {
    const char *s;
    size_t n, i;
    char *keys;
    char *err;
    size_t errlen;
};

static int path_error(struct cursor *c, const char *what)
{
    return dec_bad_option(c->err, c->errlen, "root: %s at column %zu", what,
                          c->i + 1);
}

static void skip_spaces(struct cursor *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t'))
        c->i++;
}

static bool is_name_char(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

static int parse_name(struct cursor *c, struct segment *seg)
{
    size_t start = c->i;
    if (c->i >= c->n || !is_name_char(c->s[c->i], true))
        return path_error(c, "expected a name");
    while (c->i < c->n && is_name_char(c->s[c->i], false))
        c->i++;
    *seg = (struct segment){.key = c->s + start,
                            .key_len = (uint32_t)(c->i - start)};
    return CG_OK;
}

static long hex_digits4(const char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        char ch = s[k], lc = (char)(ch | 0x20);
        if (ch >= '0' && ch <= '9')
            v = v * 16 + (ch - '0');
        else if (lc >= 'a' && lc <= 'f')
            v = v * 16 + (lc - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* Reads \uHHHH (and a following low surrogate) at c->i, which points at
 * the 'u'. Returns the code point or -1. */
static long read_code_point(struct cursor *c)
{
    if (c->n - c->i < 5)
        return -1;
    long cp = hex_digits4(c->s + c->i + 1);
    c->i += 5;
    if (cp < 0xD800 || cp > 0xDBFF)
        return cp >= 0xDC00 && cp <= 0xDFFF ? -1 : cp;
    if (c->n - c->i < 6 || c->s[c->i] != '\\' || c->s[c->i + 1] != 'u')
        return -1;
    long lo = hex_digits4(c->s + c->i + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    c->i += 6;
    return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
}

static size_t put_utf8(long cp, char *out)
{
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    size_t len = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t k = len - 1; k > 0; k--, cp >>= 6)
        out[k] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)(lead[len] | cp);
    return len;
}

/* Decodes one escape (c->i at the backslash) into *w. */
static int path_escape(struct cursor *c, char **w)
{
    static const char from[] = "\"'\\/ntr", to[] = "\"'\\/\n\t\r";
    char e = ++c->i < c->n ? c->s[c->i] : '\0';
    const char *hit = e ? strchr(from, e) : NULL;
    if (hit) {
        *(*w)++ = to[hit - from];
        c->i++;
        return CG_OK;
    }
    long cp = e == 'u' ? read_code_point(c) : -1;
    if (cp <= 0)
        return path_error(c, "invalid escape");
    *w += put_utf8(cp, *w);
    return CG_OK;
}

/* A quoted name: "..." or '...' with the escapes of SPEC §12. */
static int parse_quoted(struct cursor *c, struct segment *seg)
{
    char quote = c->s[c->i++], *start = c->keys, *w = c->keys;
    while (c->i < c->n && c->s[c->i] != quote) {
        if (c->s[c->i] == '\\') {
            int rc = path_escape(c, &w);
            if (rc != CG_OK)
                return rc;
        } else {
            *w++ = c->s[c->i++];
        }
    }
    if (c->i >= c->n)
        return path_error(c, "unterminated string");
    c->i++;
    *w++ = '\0';
    c->keys = w;
    *seg = (struct segment){.key = start, .key_len = (uint32_t)(w - start - 1)};
    return CG_OK;
}

static int parse_index(struct cursor *c, struct segment *seg)
{
    uint64_t v = 0;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        v = v * 10 + (uint64_t)(c->s[c->i++] - '0');
        if (v > UINT32_MAX)
            return path_error(c, "index too large");
    }
    *seg = (struct segment){.index = (uint32_t)v};
    return CG_OK;
}

/* [index] or ["name"], with c->i at the '['. */
static int parse_bracket(struct cursor *c, struct segment *seg)
{
    c->i++;
    skip_spaces(c);
    char ch = c->i < c->n ? c->s[c->i] : '\0';
    int rc;
    if (ch >= '0' && ch <= '9')
        rc = parse_index(c, seg);
    else if (ch == '"' || ch == '\'')
        rc = parse_quoted(c, seg);
    else
        return path_error(c, "expected an index or a quoted name");
    if (rc != CG_OK)
        return rc;
    skip_spaces(c);
    if (c->i >= c->n || c->s[c->i] != ']')
        return path_error(c, "expected ']'");
    c->i++;
    return CG_OK;
}

static int parse_path(struct cursor *c, struct json_dec *d)
{
    skip_spaces(c);
    if (c->i >= c->n)
        return path_error(c, "empty path");
    for (bool first = true;; first = false) {
        skip_spaces(c);
        if (c->i >= c->n)
            return CG_OK;
        struct segment *seg = &d->seg[d->nseg++];
        char ch = c->s[c->i];
        int rc;
        if (ch == '[')
            rc = parse_bracket(c, seg);
        else if (first)
            rc = parse_name(c, seg);
        else if (ch == '.') {
            c->i++;
            skip_spaces(c);
            rc = parse_name(c, seg);
        } else {
            return path_error(c, "expected '.' or '['");
        }
        if (rc != CG_OK)
            return rc;
    }
}

static void json_destroy(void *inst)
{
    struct json_dec *d = inst;
    if (d)
        d->host->free(d);
}

static int json_create(const struct cg_host *host, const struct cg_value *opts,
                       void **inst, char *err, size_t errlen)
{
    const char *root = NULL;
    int rc = dec_string_option(opts, "root", &root, err, errlen);
    if (rc != CG_OK)
        return rc;
    /* One block: the instance, at most one segment per byte of the path,
     * the path itself and its decoded names (never longer than the path). */
    size_t n = root ? strlen(root) : 0;
    struct json_dec *d =
        host->alloc(sizeof(*d) + n * sizeof(struct segment) + 2 * n + 2);
    if (!d)
        return CG_ENOMEM;
    *d = (struct json_dec){.host = host, .seg = (struct segment *)(d + 1)};
    if (root) {
        char *text = (char *)(d->seg + n);
        memcpy(text, root, n + 1);
        d->root = text;
        /* Names point into the instance's own copy of the path. */
        struct cursor c = {text, n, 0, text + n + 1, err, errlen};
        if ((rc = parse_path(&c, d)) != CG_OK) {
            json_destroy(d);
            return rc;
        }
    }
    *inst = d;
    return CG_OK;
}

static const struct cg_value *step(const struct segment *seg,
                                   const struct cg_value *v)
{
    if (!seg->key)
        return v->type == CG_LIST && seg->index < v->len
                   ? &v->as.items[seg->index]
                   : NULL;
    if (v->type != CG_OBJ)
        return NULL;
    for (uint32_t i = 0; i < v->len; i++) {
        const struct cg_member *m = &v->as.members[i];
        if (m->key_len == seg->key_len &&
            memcmp(m->key, seg->key, seg->key_len) == 0)
            return &m->value;
    }
    return NULL;
}

/* Follows the root path; NULL when a step finds nothing. */
static const struct cg_value *select_root(const struct json_dec *d,
                                          const struct cg_value *v)
{
    for (size_t s = 0; v && s < d->nseg; s++)
        v = step(&d->seg[s], v);
    return v;
}

static const char *type_name(int type)
{
    static const char *const names[] = {"null",     "a boolean", "a number",
                                        "a number", "a string",  "a list",
                                        "an object"};
    return type >= CG_NULL && type <= CG_OBJ ? names[type] : "unknown";
}

/* cg_json_parse takes memory through a (ctx, size) callback; this binds
 * it to the record being built. */
struct record_ctx {
    const struct cg_host *host;
    struct cg_record *rec;
};

static void *record_alloc(void *ctx, size_t size)
{
    struct record_ctx *r = ctx;
    return r->host->record_alloc(r->rec, size);
}

static int json_decode(void *inst, const struct cg_input *in,
                       struct cg_record *out)
{
    const struct json_dec *d = inst;
    struct record_ctx ctx = {d->host, out};
    struct cg_value top;
    int rc = cg_json_parse((const char *)in->payload, in->len, record_alloc,
                           &ctx, &top, out->detail, out->detail_size);
    if (rc != CG_OK)
        return rc;
    const struct cg_value *v = select_root(d, &top);
    if (!v)
        return dec_fail(out, "root %s not found", d->root);
    if (v->type != CG_OBJ) {
        if (d->root)
            return dec_fail(out, "root %s is %s, not an object", d->root,
                            type_name(v->type));
        return dec_fail(out, "top level is %s, not an object",
                        type_name(v->type));
    }
    out->root = *v;
    return CG_OK;
}

static const struct cg_option json_options[] = {
    {"root", CG_OPT_STRING, 0,
     "path of the object to decode, e.g. data.readings or items[0]"},
    {NULL, 0, 0, NULL},
};

const struct cg_plugin cg_builtin_decode_json = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "json",
    .kind = "decoder",
    .options = json_options,
    .create = json_create,
    .destroy = json_destroy,
    .decode = json_decode,
    .deliver = NULL,
};
