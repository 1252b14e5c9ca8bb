/*
 * Values: the comparisons, lookups and formatting that SPEC §4 and §12
 * define over the JSON-like tree (struct cg_value).
 *
 * Numbers compare by their mathematical value whatever their
 * representation, exactly: an integer and a double are equal only when the
 * double holds that very integer, so 2^53 + 1 is not equal to 2^53.0.
 * Nothing here allocates from the heap except cg_value_format, whose
 * buffer the caller owns; value__format_arena writes into an arena so that
 * evaluation stays off the heap.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

double cg_value_to_double(const struct cg_value *v)
{
    if (v->type == CG_INT)
        return (double)v->as.i;
    if (v->type == CG_NUM)
        return v->as.num;
    return 0;
}

/* Compares an integer with a finite double exactly. Doubles at or beyond
 * +-2^63 lie outside every int64; inside, the double's integer part
 * converts exactly and its fraction breaks ties. */
static int cmp_int_double(int64_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    double t = trunc(d);
    int64_t ti = (int64_t)t;
    if (i != ti)
        return i < ti ? -1 : 1;
    return d > t ? -1 : d < t ? 1 : 0;
}

/* Orders two numbers; false when a NaN makes them unordered. */
static bool order_numbers(const struct cg_value *a, const struct cg_value *b,
                          int *order)
{
    if (a->type == CG_INT && b->type == CG_INT) {
        *order = a->as.i < b->as.i ? -1 : a->as.i > b->as.i;
        return true;
    }
    if (a->type == CG_INT || b->type == CG_INT) {
        bool a_int = a->type == CG_INT;
        double d = a_int ? b->as.num : a->as.num;
        if (isnan(d))
            return false;
        int c = cmp_int_double(a_int ? a->as.i : b->as.i, d);
        *order = a_int ? c : -c;
        return true;
    }
    if (isnan(a->as.num) || isnan(b->as.num))
        return false;
    *order = a->as.num < b->as.num ? -1 : a->as.num > b->as.num;
    return true;
}

static int order_strings(const struct cg_value *a, const struct cg_value *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->as.str, b->as.str, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

bool cg_value_order(const struct cg_value *a, const struct cg_value *b,
                    int *order)
{
    if (cg_value_is_number(a) && cg_value_is_number(b))
        return order_numbers(a, b, order);
    if (a->type == CG_STR && b->type == CG_STR) {
        *order = order_strings(a, b);
        return true;
    }
    return false;
}

/* Finds member `key` of b, trying position `hint` first: objects that
 * came from the same decoder usually list their keys in the same order,
 * which makes comparing them linear. */
static const struct cg_value *
member_hint(const struct cg_value *b, const struct cg_member *m, uint32_t hint)
{
    const struct cg_member *h = &b->as.members[hint];
    if (h->key_len == m->key_len && memcmp(h->key, m->key, m->key_len) == 0)
        return &h->value;
    return cg_value_member(b, m->key, m->key_len);
}

/* Keys are unique in an object (citygate_plugin.h), so equal counts plus
 * every member of a found equal in b means the same set of members. */
static bool objects_equal(const struct cg_value *a, const struct cg_value *b)
{
    if (a->len != b->len)
        return false;
    for (uint32_t i = 0; i < a->len; i++) {
        const struct cg_member *m = &a->as.members[i];
        const struct cg_value *other = member_hint(b, m, i);
        if (!other || !cg_value_equal(&m->value, other))
            return false;
    }
    return true;
}

bool cg_value_equal(const struct cg_value *a, const struct cg_value *b)
{
    int order;
    if (cg_value_is_number(a) && cg_value_is_number(b))
        return order_numbers(a, b, &order) && order == 0;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case CG_NULL:
        return true;
    case CG_BOOL:
        return !a->as.boolean == !b->as.boolean;
    case CG_STR:
        return a->len == b->len &&
               (a->len == 0 || memcmp(a->as.str, b->as.str, a->len) == 0);
    case CG_LIST:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!cg_value_equal(&a->as.items[i], &b->as.items[i]))
                return false;
        return true;
    case CG_OBJ:
        return objects_equal(a, b);
    default:
        return false;
    }
}

const struct cg_value *cg_value_member(const struct cg_value *obj,
                                       const char *key, size_t key_len)
{
    if (!obj || obj->type != CG_OBJ)
        return NULL;
    /* From the end: should a hand-built object repeat a key, the last one
     * wins, as it does in JSON text. */
    for (uint32_t i = obj->len; i-- > 0;) {
        const struct cg_member *m = &obj->as.members[i];
        if (m->key_len == key_len &&
            (key_len == 0 || memcmp(m->key, key, key_len) == 0))
            return &m->value;
    }
    return NULL;
}

bool cg_value_format(const struct cg_value *v, struct cg_buf *out)
{
    switch (v->type) {
    case CG_NULL:
        return false;
    case CG_STR:
        cg_buf_put(out, v->as.str, v->len);
        return true;
    default: /* numbers, booleans, lists and objects print as JSON */
        cg_json_put_value(out, v);
        return true;
    }
}

/* An upper bound on the bytes cg_json_put_value writes for v: no escape
 * is longer than six bytes (\u00XX) and no number longer than 32. */
static size_t string_bound(const char *s, size_t len)
{
    size_t n = 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        n += c < 0x20 ? 6 : (c == '"' || c == '\\') ? 2 : 1;
    }
    return n;
}

static size_t json_bound(const struct cg_value *v)
{
    size_t n = 2;
    switch (v->type) {
    case CG_STR:
        return string_bound(v->as.str, v->len);
    case CG_LIST:
        for (uint32_t i = 0; i < v->len; i++)
            n += json_bound(&v->as.items[i]) + 1;
        return n;
    case CG_OBJ:
        for (uint32_t i = 0; i < v->len; i++) {
            const struct cg_member *m = &v->as.members[i];
            n += string_bound(m->key, m->key_len) + 2;
            n += json_bound(&m->value);
        }
        return n;
    default:
        return 32;
    }
}

bool value__format_arena(struct cg_arena *arena, const struct cg_value *v,
                         struct cg_value *out)
{
    if (v->type == CG_NULL)
        return false;
    if (v->type == CG_STR) {
        *out = *v;
        return true;
    }
    if (!arena)
        return false;
    /* A buffer that already has room for everything never reallocates, so
     * the JSON writer can fill arena memory in place. */
    size_t cap = json_bound(v) + 1;
    char *mem = cap <= UINT32_MAX ? cg_arena_alloc(arena, cap) : NULL;
    if (!mem)
        return false;
    struct cg_buf b = {.data = mem, .len = 0, .cap = cap, .oom = 0};
    cg_value_format(v, &b);
    if (b.oom)
        return false;
    *out = cg_value_str(mem, b.len);
    return true;
}

static int copy_members(struct cg_arena *arena, const struct cg_value *v,
                        struct cg_value *out)
{
    struct cg_member *m = cg_arena_alloc(arena, sizeof(*m) * (v->len + 1));
    if (!m)
        return CG_ENOMEM;
    for (uint32_t i = 0; i < v->len; i++) {
        const struct cg_member *src = &v->as.members[i];
        char *key = cg_arena_strndup(arena, src->key, src->key_len);
        if (!key)
            return CG_ENOMEM;
        m[i].key = key;
        m[i].key_len = src->key_len;
        int rc = cg_value_copy(arena, &src->value, &m[i].value);
        if (rc)
            return rc;
    }
    out->as.members = m;
    return CG_OK;
}

static int copy_items(struct cg_arena *arena, const struct cg_value *v,
                      struct cg_value *out)
{
    struct cg_value *items =
        cg_arena_alloc(arena, sizeof(*items) * (v->len + 1));
    if (!items)
        return CG_ENOMEM;
    for (uint32_t i = 0; i < v->len; i++) {
        int rc = cg_value_copy(arena, &v->as.items[i], &items[i]);
        if (rc)
            return rc;
    }
    out->as.items = items;
    return CG_OK;
}

int cg_value_copy(struct cg_arena *arena, const struct cg_value *v,
                  struct cg_value *out)
{
    *out = *v;
    if (!arena &&
        (v->type == CG_STR || v->type == CG_LIST || v->type == CG_OBJ))
        return CG_ENOMEM;
    if (v->type == CG_STR) {
        char *s = cg_arena_strndup(arena, v->as.str, v->len);
        if (!s)
            return CG_ENOMEM;
        out->as.str = s;
        return CG_OK;
    }
    if (v->type == CG_LIST)
        return copy_items(arena, v, out);
    if (v->type == CG_OBJ)
        return copy_members(arena, v, out);
    return CG_OK;
}
