/*
 * Strict JSON text in (RFC 8259 plus the rules of SPEC §2 and §12).
 *
 * The parser is iterative: an explicit frame per open object or array
 * (never more than CG_JSON_MAX_DEPTH) and a scratch stack of slots, one per
 * value being built. A container's children pile up on the scratch stack
 * above the container's own slot; when the container closes they are
 * copied into one exact-size array taken from the caller's allocator and
 * popped, so every value is copied once. The finished tree holds only
 * memory from alloc(ctx, size); the scratch stack starts on the C stack
 * and moves to cg_malloc memory only for documents with more than
 * SCRATCH_INLINE values open at once, and it is freed before returning.
 * Every byte of input is looked at a bounded number of times; duplicate
 * keys are merged per object in O(k log k) for k keys.
 *
 * Invariants: slots[0] is the root; while a frame is open, its container's
 * slot is slots[frame.base - 1]; every string in the tree is NUL-terminated
 * and valid UTF-8 without NUL bytes; object keys are unique. Error messages
 * give 0-based byte offsets into the text.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "internal.h"

#define SCRATCH_INLINE 128 /* slots before the scratch stack needs the heap */

/* Internal results besides CG_OK and the negative CG_E* codes. */
enum { VALUE_DONE = 1, VALUE_OPEN = 2 };

struct frame {
    uint32_t base; /* scratch index of the container's first child */
    bool is_obj;
};

struct parser {
    const unsigned char *s;
    size_t n, pos;
    cg_alloc_fn alloc;
    void *ctx;
    char *err;
    size_t errlen;
    struct cg_member *slots; /* scratch stack; values of lists use .value */
    size_t top, cap;
    int depth;
    bool heap; /* slots came from cg_malloc, not the caller's stack */
    struct frame frames[CG_JSON_MAX_DEPTH];
};

/* A shared sentinel, so empty containers never carry a NULL pointer that
 * a later memcpy(dst, items, 0) would trip over. */
static const struct cg_member no_members[1];
static const struct cg_value no_items[1];

/* Reports "<what> at byte N" without the "invalid JSON" prefix, for
 * problems that are not grammar (encoding, nesting). */
static int fail_plain(struct parser *p, size_t at, const char *what)
{
    if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "%s at byte %zu", what, at);
    return CG_EDECODE;
}

static int fail(struct parser *p, size_t at, const char *what)
{
    if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "invalid JSON at byte %zu: %s", at, what);
    return CG_EDECODE;
}

/* Explains a byte that cannot start a value or follow one. */
static int fail_unexpected(struct parser *p, size_t at)
{
    if (at >= p->n)
        return fail(p, at, "unexpected end of input");
    unsigned char c = p->s[at];
    if (c >= 0x80 && !json__utf8_len(p->s + at, p->n - at))
        return fail_plain(p, at, "invalid UTF-8");
    char what[40];
    if (c >= 0x21 && c < 0x7F)
        snprintf(what, sizeof(what), "unexpected character '%c'", c);
    else
        snprintf(what, sizeof(what), "unexpected byte 0x%02x", c);
    return fail(p, at, what);
}

static void skip_ws(struct parser *p)
{
    const unsigned char *s = p->s;
    size_t i = p->pos, n = p->n;
    while (i < n &&
           (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    p->pos = i;
}

/* ---- strings and numbers ---------------------------------------------- */

/* Parses the string at p->pos into memory from the allocator. */
static int parse_string(struct parser *p, const char **out, uint32_t *len)
{
    struct json__string str;
    if (!json__string_scan(p->s, p->n, p->pos, &str)) {
        if (str.err_utf8)
            return fail_plain(p, str.err_at, str.err);
        return fail(p, str.err_at, str.err);
    }
    if (str.len > UINT32_MAX)
        return fail(p, p->pos, "string too long");
    *out = ""; /* the empty string needs no memory */
    if (str.len) {
        char *dst = p->alloc(p->ctx, str.len + 1);
        if (!dst)
            return CG_ENOMEM;
        json__string_copy(p->s, p->pos, &str, dst);
        *out = dst;
    }
    *len = (uint32_t)str.len;
    p->pos = str.end + 1;
    return CG_OK;
}

static bool digit_at(const struct parser *p, size_t i)
{
    return i < p->n && p->s[i] >= '0' && p->s[i] <= '9';
}

/* Moves past the number grammar of RFC 8259 §6; sets *integral when there
 * is neither fraction nor exponent and *ndigits to the integer digits. */
static int scan_number(struct parser *p, bool *integral, size_t *ndigits)
{
    size_t i = p->pos + (p->s[p->pos] == '-');
    size_t first = i;
    if (!digit_at(p, i))
        return fail(p, i, "expected a digit");
    if (p->s[i++] == '0' && digit_at(p, i))
        return fail(p, first, "leading zero in a number");
    while (digit_at(p, i))
        i++;
    *ndigits = i - first;
    *integral = true;
    if (i < p->n && p->s[i] == '.') {
        *integral = false;
        if (!digit_at(p, ++i))
            return fail(p, i, "expected a digit after '.'");
        while (digit_at(p, i))
            i++;
    }
    if (i < p->n && (p->s[i] | 0x20) == 'e') {
        *integral = false;
        i += i + 1 < p->n && (p->s[i + 1] == '+' || p->s[i + 1] == '-');
        if (!digit_at(p, ++i))
            return fail(p, i, "expected a digit in the exponent");
        while (digit_at(p, i))
            i++;
    }
    p->pos = i;
    return CG_OK;
}

/* Powers of ten that a double holds exactly. */
static const double exact_pow10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Clinger's fast path for the usual sensor reading (21.5, -0.25, 1e3):
 * when the digits make an integer below 2^53 and the decimal exponent is
 * within 22, both operands are exact doubles, so one IEEE multiply or
 * divide rounds correctly and gives the very double strtod would, at a
 * fraction of its cost. Returns false when the slow path must decide. The
 * text s[0..n) has already passed scan_number. */
static bool fast_double(const unsigned char *s, size_t n, double *out)
{
    size_t i = s[0] == '-';
    uint64_t m = 0;
    long e = 0, digits = 0, scale = 0, frac = 0;
    for (; i < n && (s[i] | 0x20) != 'e'; i++) {
        if (s[i] == '.') {
            frac = 1;
            continue;
        }
        if (++digits > 19) /* keeps m from overflowing */
            return false;
        m = m * 10 + (uint64_t)(s[i] - '0');
        scale -= frac;
    }
    if (i < n) {
        bool neg = s[++i] == '-';
        i += s[i] == '-' || s[i] == '+';
        if (n - i > 4)
            return false;
        for (; i < n; i++)
            e = e * 10 + (s[i] - '0');
        e = neg ? -e : e;
    }
    e += scale;
    if (FLT_EVAL_METHOD != 0 || m > (1ULL << 53) || e < -22 || e > 22)
        return false;
    double d = e < 0 ? (double)m / exact_pow10[-e] : (double)m * exact_pow10[e];
    *out = s[0] == '-' ? -d : d;
    return true;
}

static int parse_number(struct parser *p, struct cg_value *v)
{
    size_t start = p->pos, ndigits;
    bool integral;
    int rc = scan_number(p, &integral, &ndigits);
    if (rc != CG_OK)
        return rc;
    if (integral && ndigits <= 18) {
        /* The common case: exact without strtoll and without a copy. */
        bool neg = p->s[start] == '-';
        int64_t acc = 0;
        for (size_t i = start + neg; i < p->pos; i++)
            acc = acc * 10 + (p->s[i] - '0');
        *v = (struct cg_value){.type = CG_INT, .as.i = neg ? -acc : acc};
        return CG_OK;
    }
    if (!integral && fast_double(p->s + start, p->pos - start, &v->as.num)) {
        v->type = CG_NUM;
        return CG_OK;
    }
    rc = cg_number_parse((const char *)p->s + start, p->pos - start, v);
    if (rc == CG_ERANGE)
        return fail(p, start, "number out of range");
    return rc == CG_OK || rc == CG_ENOMEM ? rc : fail(p, start, "bad number");
}

static int parse_word(struct parser *p, const char *word, size_t len)
{
    if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0)
        return fail(p, p->pos, "invalid literal");
    p->pos += len;
    return CG_OK;
}

/* ---- containers ------------------------------------------------------ */

static int push_slot(struct parser *p, const char *key, uint32_t key_len)
{
    if (p->top == p->cap) {
        size_t cap = p->cap * 2;
        struct cg_member *m;
        if (!p->heap) {
            m = cg_malloc(cap * sizeof(*m));
            if (m)
                memcpy(m, p->slots, p->top * sizeof(*m));
        } else {
            m = cg_realloc(p->slots, cap * sizeof(*m));
        }
        if (!m)
            return CG_ENOMEM;
        p->slots = m;
        p->cap = cap;
        p->heap = true;
    }
    p->slots[p->top++] = (struct cg_member){.key = key, .key_len = key_len};
    return CG_OK;
}

/* Starts the next child of the innermost container: for an object its
 * key and ':'; then a fresh slot for the value. */
static int begin_child(struct parser *p, bool is_obj)
{
    const char *key = NULL;
    uint32_t key_len = 0;
    if (is_obj) {
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != '"')
            return fail(p, p->pos, "expected a string key");
        int rc = parse_string(p, &key, &key_len);
        if (rc != CG_OK)
            return rc;
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ':')
            return fail(p, p->pos, "expected ':'");
        p->pos++;
    }
    int rc = push_slot(p, key, key_len);
    return rc == CG_OK ? VALUE_OPEN : rc;
}

/* Closes the innermost container: its children move from the scratch
 * stack into one array from the allocator, stored in the container's
 * slot. */
static int close_container(struct parser *p)
{
    struct frame f = p->frames[--p->depth];
    struct cg_member *kids = p->slots + f.base;
    size_t k = p->top - f.base;
    struct cg_value *v = &p->slots[f.base - 1].value;
    if (f.is_obj) {
        int rc = cg_members_dedupe(kids, &k);
        if (rc != CG_OK)
            return rc;
        struct cg_member *m = (struct cg_member *)no_members;
        if (k && !(m = p->alloc(p->ctx, k * sizeof(*m))))
            return CG_ENOMEM;
        if (k)
            memcpy(m, kids, k * sizeof(*m));
        *v = (struct cg_value){.type = CG_OBJ, .len = (uint32_t)k};
        v->as.members = m;
    } else {
        struct cg_value *items = (struct cg_value *)no_items;
        if (k && !(items = p->alloc(p->ctx, k * sizeof(*items))))
            return CG_ENOMEM;
        for (size_t i = 0; i < k; i++)
            items[i] = kids[i].value;
        *v = (struct cg_value){.type = CG_LIST, .len = (uint32_t)k};
        v->as.items = items;
    }
    p->top = f.base;
    return CG_OK;
}

static int open_container(struct parser *p, bool is_obj)
{
    if (p->depth == CG_JSON_MAX_DEPTH) {
        char what[40];
        snprintf(what, sizeof(what), "nesting deeper than %d",
                 CG_JSON_MAX_DEPTH);
        return fail_plain(p, p->pos, what);
    }
    p->pos++;
    p->frames[p->depth++] = (struct frame){(uint32_t)p->top, is_obj};
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == (is_obj ? '}' : ']')) {
        p->pos++;
        int rc = close_container(p);
        return rc == CG_OK ? VALUE_DONE : rc;
    }
    return begin_child(p, is_obj);
}

/* Parses the value starting at p->pos into the top slot. Returns
 * VALUE_DONE for a complete value, VALUE_OPEN when it opened a container
 * and pushed the slot of its first child, or a negative CG_E*. */
static int parse_value(struct parser *p)
{
    struct cg_value *v = &p->slots[p->top - 1].value;
    int rc;
    skip_ws(p);
    switch (p->pos < p->n ? p->s[p->pos] : 0) {
    case '{':
        return open_container(p, true);
    case '[':
        return open_container(p, false);
    case '"':
        v->type = CG_STR;
        rc = parse_string(p, &v->as.str, &v->len);
        break;
    case 't':
        *v = (struct cg_value){.type = CG_BOOL, .as.boolean = 1};
        rc = parse_word(p, "true", 4);
        break;
    case 'f':
        *v = (struct cg_value){.type = CG_BOOL, .as.boolean = 0};
        rc = parse_word(p, "false", 5);
        break;
    case 'n':
        *v = (struct cg_value){.type = CG_NULL};
        rc = parse_word(p, "null", 4);
        break;
    default:
        if (p->pos >= p->n || !(p->s[p->pos] == '-' || digit_at(p, p->pos)))
            return fail_unexpected(p, p->pos);
        rc = parse_number(p, v);
    }
    return rc == CG_OK ? VALUE_DONE : rc;
}

/* After a complete value: closes every container that ends here and
 * starts the next child after a ','. Returns VALUE_OPEN when a child is
 * due, VALUE_DONE when the top-level value is complete. */
static int after_value(struct parser *p)
{
    while (p->depth > 0) {
        bool is_obj = p->frames[p->depth - 1].is_obj;
        skip_ws(p);
        int c = p->pos < p->n ? p->s[p->pos] : -1;
        if (c == ',') {
            p->pos++;
            return begin_child(p, is_obj);
        }
        if (c != (is_obj ? '}' : ']')) {
            if (c < 0)
                return fail(p, p->pos, "unexpected end of input");
            return fail(p, p->pos,
                        is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
        p->pos++;
        int rc = close_container(p);
        if (rc != CG_OK)
            return rc;
    }
    return VALUE_DONE;
}

static int parse_text(struct parser *p)
{
    if (p->n >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0)
        return fail(p, 0, "byte-order mark");
    int rc = push_slot(p, NULL, 0); /* the root's slot */
    while (rc == CG_OK) {
        rc = parse_value(p);
        if (rc == VALUE_DONE)
            rc = after_value(p);
        if (rc == VALUE_DONE)
            break;
        if (rc == VALUE_OPEN)
            rc = CG_OK;
    }
    if (rc < 0)
        return rc;
    skip_ws(p);
    if (p->pos < p->n)
        return fail(p, p->pos, "unexpected data after the value");
    return CG_OK;
}

int cg_json_parse(const char *text, size_t n, cg_alloc_fn alloc, void *ctx,
                  struct cg_value *out, char *err, size_t errlen)
{
    struct cg_member inline_slots[SCRATCH_INLINE];
    /* Field by field: zeroing the frames would cost more than small
     * documents take to parse. */
    struct parser p;
    p.s = (const unsigned char *)text;
    p.n = n;
    p.pos = 0;
    p.alloc = alloc;
    p.ctx = ctx;
    p.err = err;
    p.errlen = errlen;
    p.slots = inline_slots;
    p.top = 0;
    p.cap = SCRATCH_INLINE;
    p.depth = 0;
    p.heap = false;
    *out = (struct cg_value){.type = CG_NULL};
    int rc = parse_text(&p);
    if (rc == CG_OK)
        *out = p.slots[0].value;
    else if (rc == CG_ENOMEM && err && errlen)
        snprintf(err, errlen, "out of memory");
    if (p.heap)
        cg_free(p.slots);
    return rc;
}
