/*
 * The window aggregates' accumulators (rules.h, SPEC §13): pure logic over
 * values, one accumulator per aggregate slot and group, owned by the
 * gateway's window state. What each kind keeps:
 *
 *   count            n, the messages added
 *   count_distinct   a set of owned copies (agg_set.c)
 *   sum, avg         n numbers; their sum exact in isum while every one is
 *                    an integer and it fits, else in sum + comp (Neumaier)
 *   min, max         the best value so far, an owned copy, or MIXED
 *   first, last      the value, an owned copy
 *
 * Copies are made before anything changes, so an out-of-memory failure
 * leaves the accumulator as it was. The snapshot form (save and load) is
 * one JSON object: {"kind": K} plus n, isum, sum, comp, flags, value and
 * set as the kind uses them.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* flags */
#define ACC_FLOAT 1 /* sum, avg: the sum moved to sum + comp */
#define ACC_HELD  2 /* min, max, first, last: held is set */
#define ACC_NONE  4 /* min, max: types mixed; sum, avg: left the range */

void cg_agg_acc_init(struct cg_agg_acc *a, int kind)
{
    memset(a, 0, sizeof(*a));
    a->kind = (uint8_t)kind;
}

void cg_agg_acc_reset(struct cg_agg_acc *a)
{
    agg__clone_free(&a->held);
    agg__set_free(a->set);
    cg_agg_acc_init(a, a->kind);
}

size_t cg_agg_acc_bytes(const struct cg_agg_acc *a)
{
    return a->held_bytes + agg__set_bytes(a->set);
}

/* Replaces the held value by a copy of v. */
static int hold(struct cg_agg_acc *a, const struct cg_value *v)
{
    struct cg_value copy;
    size_t bytes;
    if (agg__clone(v, &copy, &bytes))
        return CG_ENOMEM;
    agg__clone_free(&a->held);
    a->held = copy;
    a->held_bytes = bytes;
    a->flags |= ACC_HELD;
    return CG_OK;
}

/* Neumaier's compensated sum: comp gathers the low-order bits that each
 * addition to sum loses. */
static void add_double(struct cg_agg_acc *a, double x)
{
    double t = a->sum + x;
    if (fabs(a->sum) >= fabs(x))
        a->comp += (a->sum - t) + x;
    else
        a->comp += (x - t) + a->sum;
    a->sum = t;
    if (!isfinite(t))
        a->flags |= ACC_NONE;
}

static void add_number(struct cg_agg_acc *a, const struct cg_value *v)
{
    if (!cg_value_is_number(v) || (a->flags & ACC_NONE))
        return;
    a->n++;
    int64_t r;
    if (!(a->flags & ACC_FLOAT) && v->type == CG_INT &&
        !__builtin_add_overflow(a->isum, v->as.i, &r)) {
        a->isum = r;
        return;
    }
    if (!(a->flags & ACC_FLOAT)) {
        /* Both halves convert exactly: the low 20 bits, and the rest with
         * at most 43 significant bits. */
        int64_t low = a->isum & 0xFFFFF;
        a->flags |= ACC_FLOAT;
        a->sum = (double)(a->isum - low);
        a->comp = (double)low;
        a->isum = 0;
    }
    add_double(a, cg_value_to_double(v));
}

/* min (sign -1) and max (sign 1), as the functions order values. */
static int add_extreme(struct cg_agg_acc *a, const struct cg_value *v, int sign)
{
    int order;
    if (v->type == CG_NULL || (a->flags & ACC_NONE))
        return CG_OK;
    if (!(a->flags & ACC_HELD)) {
        if (cg_value_is_number(v) || v->type == CG_STR)
            return hold(a, v);
    } else if (cg_value_order(v, &a->held, &order)) {
        return order == sign ? hold(a, v) : CG_OK;
    }
    agg__clone_free(&a->held);
    a->held_bytes = 0;
    a->flags = ACC_NONE;
    return CG_OK;
}

int cg_agg_acc_add(struct cg_agg_acc *a, const struct cg_value *v)
{
    static const struct cg_value null = {.type = CG_NULL};
    if (!v)
        v = &null;
    switch (a->kind) {
    case CG_AGG_COUNT:
        a->n++;
        return CG_OK;
    case CG_AGG_COUNT_DISTINCT:
        return agg__set_add(&a->set, v);
    case CG_AGG_SUM:
    case CG_AGG_AVG:
        add_number(a, v);
        return CG_OK;
    case CG_AGG_MIN:
        return add_extreme(a, v, -1);
    case CG_AGG_MAX:
        return add_extreme(a, v, 1);
    case CG_AGG_FIRST:
        return v->type == CG_NULL || (a->flags & ACC_HELD) ? CG_OK : hold(a, v);
    default: /* last */
        return v->type == CG_NULL ? CG_OK : hold(a, v);
    }
}

/* sum (avg false) or avg of the numbers added. */
static void sum_result(const struct cg_agg_acc *a, bool avg,
                       struct cg_value *out)
{
    *out = CG_VALUE_NULL;
    if (a->n == 0 || (a->flags & ACC_NONE))
        return;
    if (!(a->flags & ACC_FLOAT) && !avg) {
        *out = cg_value_int(a->isum);
        return;
    }
    double s = a->flags & ACC_FLOAT ? a->sum + a->comp : (double)a->isum;
    if (avg)
        s /= (double)a->n;
    if (isfinite(s))
        *out = cg_value_num(s);
}

void cg_agg_acc_result(const struct cg_agg_acc *a, struct cg_value *out)
{
    switch (a->kind) {
    case CG_AGG_COUNT:
        *out = cg_value_int((int64_t)a->n);
        break;
    case CG_AGG_COUNT_DISTINCT:
        *out = cg_value_int((int64_t)agg__set_count(a->set));
        break;
    case CG_AGG_SUM:
    case CG_AGG_AVG:
        sum_result(a, a->kind == CG_AGG_AVG, out);
        break;
    default: /* min, max, first, last */
        *out = a->flags & ACC_HELD ? a->held : CG_VALUE_NULL;
    }
}

/* ---- snapshots ---------------------------------------------------------- */

static void put_key(struct cg_buf *b, const char *key)
{
    cg_buf_printf(b, ",\"%s\":", key);
}

struct items {
    struct cg_buf *b;
    bool first;
};

static void put_set_item(void *user, const struct cg_value *v)
{
    struct items *it = user;
    if (!it->first)
        cg_buf_putc(it->b, ',');
    it->first = false;
    cg_json_put_value(it->b, v);
}

int cg_agg_acc_save(const struct cg_agg_acc *a, struct cg_buf *out)
{
    const char *name = cg_agg_name(a->kind);
    cg_buf_printf(out, "{\"kind\":\"%s\",\"flags\":%u,\"n\":", name ? name : "",
                  a->flags);
    cg_json_put_int(out, (int64_t)a->n);
    if (a->kind == CG_AGG_SUM || a->kind == CG_AGG_AVG) {
        put_key(out, "isum");
        cg_json_put_int(out, a->isum);
        /* A sum out of range is null for good: its parts do not matter. */
        bool none = a->flags & ACC_NONE;
        put_key(out, "sum");
        cg_json_put_num(out, none ? 0 : a->sum);
        put_key(out, "comp");
        cg_json_put_num(out, none ? 0 : a->comp);
    } else if (a->kind == CG_AGG_COUNT_DISTINCT) {
        struct items it = {out, true};
        put_key(out, "set");
        cg_buf_putc(out, '[');
        agg__set_each(a->set, put_set_item, &it);
        cg_buf_putc(out, ']');
    } else if (a->flags & ACC_HELD) {
        put_key(out, "value");
        cg_json_put_value(out, &a->held);
    }
    cg_buf_putc(out, '}');
    return out->oom ? CG_ENOMEM : CG_OK;
}

/* Member `key` of the saved object when it has the type wanted (CG_NUM
 * takes any number), else NULL. */
static const struct cg_value *member(const struct cg_value *saved,
                                     const char *key, int type)
{
    const struct cg_value *v = cg_value_member(saved, key, strlen(key));
    if (!v || v->type == CG_NULL)
        return NULL;
    if (type == CG_NUM)
        return cg_value_is_number(v) ? v : NULL;
    return v->type == type ? v : NULL;
}

static int load_sum(struct cg_agg_acc *a, const struct cg_value *saved)
{
    const struct cg_value *isum = member(saved, "isum", CG_INT);
    const struct cg_value *sum = member(saved, "sum", CG_NUM);
    const struct cg_value *comp = member(saved, "comp", CG_NUM);
    if (!isum || !sum || !comp)
        return CG_EINVAL;
    a->isum = isum->as.i;
    a->sum = cg_value_to_double(sum);
    a->comp = cg_value_to_double(comp);
    return CG_OK;
}

static int load_set(struct cg_agg_acc *a, const struct cg_value *saved)
{
    const struct cg_value *set = member(saved, "set", CG_LIST);
    if (!set)
        return CG_EINVAL;
    for (uint32_t i = 0; i < set->len; i++) {
        int rc = agg__set_add(&a->set, &set->as.items[i]);
        if (rc)
            return rc;
    }
    return CG_OK;
}

/* The kind-specific part of a snapshot, once kind, flags and n are in. */
static int load_state(struct cg_agg_acc *a, const struct cg_value *saved)
{
    switch (a->kind) {
    case CG_AGG_COUNT:
        return a->flags ? CG_EINVAL : CG_OK;
    case CG_AGG_COUNT_DISTINCT:
        return a->flags ? CG_EINVAL : load_set(a, saved);
    case CG_AGG_SUM:
    case CG_AGG_AVG:
        return a->flags & ACC_HELD ? CG_EINVAL : load_sum(a, saved);
    default:
        break;
    }
    if (a->flags & ~(ACC_HELD | ACC_NONE))
        return CG_EINVAL;
    if (!(a->flags & ACC_HELD))
        return CG_OK;
    const struct cg_value *v = cg_value_member(saved, "value", 5);
    bool extreme = a->kind == CG_AGG_MIN || a->kind == CG_AGG_MAX;
    if (!v || v->type == CG_NULL ||
        (extreme && !cg_value_is_number(v) && v->type != CG_STR))
        return CG_EINVAL;
    a->flags &= (uint8_t)~ACC_HELD; /* hold() sets it again */
    return hold(a, v);
}

int cg_agg_acc_load(struct cg_agg_acc *a, const struct cg_value *saved)
{
    int old_kind = a->kind;
    cg_agg_acc_reset(a);
    const struct cg_value *kind = member(saved, "kind", CG_STR);
    const struct cg_value *flags = member(saved, "flags", CG_INT);
    const struct cg_value *n = member(saved, "n", CG_INT);
    int k = kind ? expr__agg_kind(kind->as.str, kind->len) : -1;
    if (k < 0 || !flags || flags->as.i < 0 || flags->as.i > 7 || !n ||
        n->as.i < 0)
        return CG_EINVAL;
    a->kind = (uint8_t)k;
    a->flags = (uint8_t)flags->as.i;
    a->n = (uint64_t)n->as.i;
    int rc = load_state(a, saved);
    if (rc) {
        cg_agg_acc_reset(a);
        a->kind = (uint8_t)old_kind;
    }
    return rc;
}
