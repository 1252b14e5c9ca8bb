/*
 * Packed values: a deep copy of a value (its strings, lists, objects and
 * keys) in one heap block, so that a key keeps its last data or on_change
 * values in one allocation that one cg_free releases. Also the data
 * extension every stateful event needs (active_since, resolved,
 * suppressed ...).
 */
#include <string.h>

#include "internal.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

static size_t measure(const struct cg_value *v)
{
    size_t n = 0;
    switch (v->type) {
    case CG_STR:
        return ALIGN8((size_t)v->len + 1);
    case CG_LIST:
        n = (size_t)v->len * sizeof(struct cg_value);
        for (uint32_t i = 0; i < v->len; i++)
            n += measure(&v->as.items[i]);
        return n;
    case CG_OBJ:
        n = (size_t)v->len * sizeof(struct cg_member);
        for (uint32_t i = 0; i < v->len; i++)
            n += ALIGN8((size_t)v->as.members[i].key_len + 1) +
                 measure(&v->as.members[i].value);
        return n;
    default:
        return 0;
    }
}

/* Takes n bytes from the block at *at. */
static void *take(char **at, size_t n)
{
    void *p = *at;
    *at += ALIGN8(n);
    return p;
}

static char *copy_text(char **at, const char *s, size_t len)
{
    char *p = take(at, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void copy(const struct cg_value *v, struct cg_value *out, char **at)
{
    *out = *v;
    if (v->type == CG_STR) {
        out->as.str = copy_text(at, v->as.str, v->len);
    } else if (v->type == CG_LIST) {
        struct cg_value *items = take(at, v->len * sizeof(*items));
        for (uint32_t i = 0; i < v->len; i++)
            copy(&v->as.items[i], &items[i], at);
        out->as.items = items;
    } else if (v->type == CG_OBJ) {
        struct cg_member *m = take(at, v->len * sizeof(*m));
        for (uint32_t i = 0; i < v->len; i++) {
            const struct cg_member *src = &v->as.members[i];
            m[i].key = copy_text(at, src->key, src->key_len);
            m[i].key_len = src->key_len;
            copy(&src->value, &m[i].value, at);
        }
        out->as.members = m;
    }
}

struct cg_value *pack__value(const struct cg_value *v)
{
    struct cg_value *p = cg_malloc(sizeof(*p) + measure(v));
    if (!p)
        return NULL;
    char *at = (char *)(p + 1);
    copy(v, p, &at);
    return p;
}

struct cg_value *pack__list(const struct cg_value *items, size_t n)
{
    struct cg_value list = {.type = CG_LIST, .len = (uint32_t)n};
    list.as.items = items;
    return pack__value(&list);
}

int cg_state_data_extend(struct cg_arena *arena, const struct cg_value *data,
                         const struct cg_member *extra, size_t n_extra,
                         struct cg_value *out)
{
    size_t own = data && data->type == CG_OBJ ? data->len : 0;
    struct cg_member *m =
        cg_arena_alloc(arena, (own + n_extra + 1) * sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < own; i++)
        m[n++] = data->as.members[i];
    for (size_t e = 0; e < n_extra; e++) {
        size_t i = 0;
        while (i < n && strcmp(m[i].key, extra[e].key))
            i++;
        m[i] = extra[e]; /* in place of a member of the same name */
        n += i == n;
    }
    *out = (struct cg_value){.type = CG_OBJ, .len = (uint32_t)n};
    out->as.members = m;
    return CG_OK;
}

const char *state__time_text(struct cg_arena *a, int64_t ms)
{
    char *s = cg_arena_alloc(a, 32);
    if (s)
        cg_time_format((double)ms / 1000.0, s);
    return s;
}
