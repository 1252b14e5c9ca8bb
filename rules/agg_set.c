/*
 * Values the window accumulators own, and the set behind count_distinct.
 *
 * A value kept past its message is cloned into one cg_malloc block (no
 * block for numbers, booleans and null): arrays first, 8-aligned, then the
 * bytes of every string, so a clone costs one allocation and one free
 * whatever its shape, and the block starts where the root value points
 * (its string, items or members).
 *
 * The set is an open-addressing hash table of such clones. Its hash agrees
 * with SPEC §4 equality (cg_value_equal): a number hashes by its value (an
 * integral double within int64 like that integer), a string by its bytes,
 * a list by its items in order, an object by its members in any order.
 * Nulls are never added, so a null slot is an empty one.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* ---- clones ------------------------------------------------------------ */

/* Bytes of arrays and of strings below v (v's own array included). */
static void clone_size(const struct cg_value *v, size_t *arrays,
                       size_t *strings)
{
    if (v->type == CG_STR) {
        *strings += (size_t)v->len + 1;
    } else if (v->type == CG_LIST) {
        *arrays += sizeof(struct cg_value) * v->len;
        for (uint32_t i = 0; i < v->len; i++)
            clone_size(&v->as.items[i], arrays, strings);
    } else if (v->type == CG_OBJ) {
        *arrays += sizeof(struct cg_member) * v->len;
        for (uint32_t i = 0; i < v->len; i++) {
            *strings += (size_t)v->as.members[i].key_len + 1;
            clone_size(&v->as.members[i].value, arrays, strings);
        }
    }
}

struct cursor {
    char *array, *string;
};

static const char *put_string(struct cursor *c, const char *s, uint32_t len)
{
    char *p = c->string;
    memcpy(p, s, len);
    p[len] = '\0';
    c->string += (size_t)len + 1;
    return p;
}

/* Copies v's contents into the block at c; out already holds *v. */
static void clone_into(struct cursor *c, const struct cg_value *v,
                       struct cg_value *out)
{
    if (v->type == CG_STR) {
        out->as.str = put_string(c, v->as.str, v->len);
    } else if (v->type == CG_LIST) {
        struct cg_value *items = (struct cg_value *)(void *)c->array;
        c->array += sizeof(*items) * v->len;
        for (uint32_t i = 0; i < v->len; i++) {
            items[i] = v->as.items[i];
            clone_into(c, &v->as.items[i], &items[i]);
        }
        out->as.items = items;
    } else if (v->type == CG_OBJ) {
        struct cg_member *m = (struct cg_member *)(void *)c->array;
        c->array += sizeof(*m) * v->len;
        for (uint32_t i = 0; i < v->len; i++) {
            const struct cg_member *src = &v->as.members[i];
            m[i] = *src;
            m[i].key = put_string(c, src->key, src->key_len);
            clone_into(c, &src->value, &m[i].value);
        }
        out->as.members = m;
    }
}

static bool has_block(const struct cg_value *v)
{
    return v->type == CG_STR || v->type == CG_LIST || v->type == CG_OBJ;
}

int agg__clone(const struct cg_value *v, struct cg_value *out, size_t *bytes)
{
    size_t arrays = 0, strings = 0;
    *bytes = 0;
    *out = *v;
    if (!has_block(v))
        return CG_OK;
    clone_size(v, &arrays, &strings);
    /* Arrays hold 8-byte members, so strings after them stay unaligned
     * without harm; an empty list still gets a block of its own. */
    char *block = cg_malloc(arrays + strings);
    if (!block)
        return CG_ENOMEM;
    struct cursor c = {block, block + arrays};
    clone_into(&c, v, out);
    *bytes = arrays + strings;
    return CG_OK;
}

void agg__clone_free(struct cg_value *v)
{
    if (v->type == CG_STR)
        cg_free((void *)v->as.str);
    else if (v->type == CG_LIST)
        cg_free((void *)v->as.items);
    else if (v->type == CG_OBJ)
        cg_free((void *)v->as.members);
    *v = CG_VALUE_NULL;
}

/* ---- hashing ------------------------------------------------------------ */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    return cg_hash64(h, p, n);
}

static uint64_t hash_value(uint64_t h, const struct cg_value *v);

/* Integers and integral doubles within int64 hash as the integer, so that
 * every pair cg_value_equal calls equal hashes alike. */
static uint64_t hash_number(uint64_t h, const struct cg_value *v)
{
    int64_t i;
    if (expr__whole(v, &i))
        return hash_bytes(h ^ CG_INT, &i, sizeof(i));
    double d = v->as.num;
    return hash_bytes(h ^ CG_NUM, &d, sizeof(d));
}

/* Members in any order: the sum of independent member hashes. */
static uint64_t hash_object(uint64_t h, const struct cg_value *v)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < v->len; i++) {
        const struct cg_member *m = &v->as.members[i];
        uint64_t k = hash_bytes(CG_HASH_SEED, m->key, m->key_len);
        sum += cg_hash_mix(hash_value(k, &m->value));
    }
    return hash_bytes(h ^ CG_OBJ, &sum, sizeof(sum));
}

static uint64_t hash_value(uint64_t h, const struct cg_value *v)
{
    uint8_t b;
    switch (v->type) {
    case CG_INT:
    case CG_NUM:
        return hash_number(h, v);
    case CG_BOOL:
        b = v->as.boolean != 0;
        return hash_bytes(h ^ CG_BOOL, &b, 1);
    case CG_STR:
        return hash_bytes(h ^ CG_STR, v->as.str, v->len);
    case CG_LIST:
        h = hash_bytes(h ^ CG_LIST, &v->len, sizeof(v->len));
        for (uint32_t i = 0; i < v->len; i++)
            h = hash_value(h, &v->as.items[i]);
        return h;
    case CG_OBJ:
        return hash_object(h, v);
    default:
        return h;
    }
}

/* ---- the set ----------------------------------------------------------- */

struct slot {
    uint64_t hash;
    struct cg_value v; /* CG_NULL: empty */
};

struct cg_agg_set {
    struct slot *slots;
    size_t cap, n; /* cap: a power of two */
    size_t cloned; /* bytes of the clones */
};

/* The slot holding a value equal to v, or the empty one where it goes. */
static struct slot *probe(struct slot *slots, size_t cap, uint64_t hash,
                          const struct cg_value *v)
{
    for (size_t i = hash & (cap - 1);; i = (i + 1) & (cap - 1)) {
        struct slot *s = &slots[i];
        if (s->v.type == CG_NULL ||
            (s->hash == hash && cg_value_equal(&s->v, v)))
            return s;
    }
}

/* Doubles the table (or makes the first one) once it is 3/4 full. */
static int grow(struct cg_agg_set *s)
{
    if (s->n + 1 <= s->cap / 4 * 3)
        return CG_OK;
    size_t cap = s->cap ? s->cap * 2 : 8;
    struct slot *slots = cg_calloc(cap, sizeof(*slots));
    if (!slots)
        return CG_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        const struct slot *old = &s->slots[i];
        if (old->v.type != CG_NULL)
            *probe(slots, cap, old->hash, &old->v) = *old;
    }
    cg_free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return CG_OK;
}

int agg__set_add(struct cg_agg_set **set, const struct cg_value *v)
{
    if (v->type == CG_NULL)
        return CG_OK;
    if (!*set && !(*set = cg_calloc(1, sizeof(**set))))
        return CG_ENOMEM;
    struct cg_agg_set *s = *set;
    uint64_t hash = cg_hash_mix(hash_value(CG_HASH_SEED, v));
    if (s->cap && probe(s->slots, s->cap, hash, v)->v.type != CG_NULL)
        return CG_OK;
    struct cg_value copy;
    size_t bytes;
    if (grow(s) || agg__clone(v, &copy, &bytes))
        return CG_ENOMEM;
    struct slot *slot = probe(s->slots, s->cap, hash, v);
    slot->hash = hash;
    slot->v = copy;
    s->n++;
    s->cloned += bytes;
    return CG_OK;
}

size_t agg__set_count(const struct cg_agg_set *s)
{
    return s ? s->n : 0;
}

size_t agg__set_bytes(const struct cg_agg_set *s)
{
    return s ? sizeof(*s) + s->cap * sizeof(*s->slots) + s->cloned : 0;
}

void agg__set_each(const struct cg_agg_set *s,
                   void (*fn)(void *user, const struct cg_value *v), void *user)
{
    for (size_t i = 0; s && i < s->cap; i++)
        if (s->slots[i].v.type != CG_NULL)
            fn(user, &s->slots[i].v);
}

void agg__set_free(struct cg_agg_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        agg__clone_free(&s->slots[i].v);
    cg_free(s->slots);
    cg_free(s);
}
