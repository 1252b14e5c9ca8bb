/*
 * The numeric functions of expressions: abs, min, max, round, floor, ceil,
 * sqrt and num (SPEC §4 and §12), and between, which orders like min and
 * max do.
 *
 * round() works on the decimal the user sees, not on the binary double:
 * 2.675 is stored as 2.67499999..., yet str(2.675) prints 2.675, so
 * round(2.675, 2) must be 2.68. It therefore rounds the shortest decimal
 * that reads back as the double, half away from zero, and lets strtod
 * turn the rounded decimal into the nearest double. Integers round in
 * exact integer arithmetic. Results that are whole (round with digits <=
 * 0, floor, ceil) come back as CG_INT whenever they fit in 64 bits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TWO_63 9223372036854775808.0

/* A whole double as an integer when it fits, else as it is. */
static void whole_result(double d, struct cg_value *out)
{
    if (d >= -TWO_63 && d < TWO_63)
        *out = cg_value_int((int64_t)d);
    else
        *out = isfinite(d) ? cg_value_num(d) : CG_VALUE_NULL;
}

void expr__fn_abs(struct expr__ev *ev, const struct expr__node *n,
                  const struct cg_value *a, struct cg_value *out)
{
    if (a->type == CG_INT && a->as.i != INT64_MIN)
        *out = cg_value_int(a->as.i < 0 ? -a->as.i : a->as.i);
    else if (cg_value_is_number(a))
        *out = cg_value_num(fabs(cg_value_to_double(a)));
    else
        *out = CG_VALUE_NULL;
}

void expr__fn_floor(struct expr__ev *ev, const struct expr__node *n,
                    const struct cg_value *a, struct cg_value *out)
{
    if (a->type == CG_NUM)
        whole_result(floor(a->as.num), out);
    else
        *out = a->type == CG_INT ? *a : CG_VALUE_NULL;
}

void expr__fn_ceil(struct expr__ev *ev, const struct expr__node *n,
                   const struct cg_value *a, struct cg_value *out)
{
    if (a->type == CG_NUM)
        whole_result(ceil(a->as.num), out);
    else
        *out = a->type == CG_INT ? *a : CG_VALUE_NULL;
}

void expr__fn_sqrt(struct expr__ev *ev, const struct expr__node *n,
                   const struct cg_value *a, struct cg_value *out)
{
    double d = cg_value_to_double(a);
    if (cg_value_is_number(a) && d >= 0)
        *out = cg_value_num(sqrt(d));
    else
        *out = CG_VALUE_NULL;
}

/* min (sign -1) and max (sign 1) of two or more numbers, or of two or more
 * strings; null for any mix. The first of equal values wins. */
static void extreme(struct expr__ev *ev, const struct expr__node *n, int sign,
                    struct cg_value *out)
{
    struct cg_value best, v;
    int order;
    expr__eval(ev, n->kids[0], &best);
    for (uint32_t i = 1; i < n->n; i++) {
        expr__eval(ev, n->kids[i], &v);
        if (!cg_value_order(&v, &best, &order)) {
            *out = CG_VALUE_NULL;
            return;
        }
        if (order == sign)
            best = v;
    }
    *out = best;
}

void expr__fn_min(struct expr__ev *ev, const struct expr__node *n,
                  const struct cg_value *a, struct cg_value *out)
{
    extreme(ev, n, -1, out);
}

void expr__fn_max(struct expr__ev *ev, const struct expr__node *n,
                  const struct cg_value *a, struct cg_value *out)
{
    extreme(ev, n, 1, out);
}

/* between(x, lo, hi): lo <= x <= hi when the three are all numbers (ints
 * and doubles mixed) or all strings (bytewise); false for any other mix,
 * nulls included, so that it can stand in a `when` as it is (SPEC §14). */
void expr__fn_between(struct expr__ev *ev, const struct expr__node *n,
                      const struct cg_value *a, struct cg_value *out)
{
    int low, high;
    bool numbers = cg_value_is_number(&a[0]) && cg_value_is_number(&a[1]) &&
                   cg_value_is_number(&a[2]);
    bool strings =
        a[0].type == CG_STR && a[1].type == CG_STR && a[2].type == CG_STR;
    *out = cg_value_bool(
        (numbers || strings) && cg_value_order(&a[1], &a[0], &low) &&
        cg_value_order(&a[0], &a[2], &high) && low <= 0 && high <= 0);
}

/* An integer rounded to 10^places (places > 0), half away from zero. */
static void round_int(int64_t x, int64_t places, struct cg_value *out)
{
    if (places > 19) {
        *out = cg_value_int(0);
        return;
    }
    uint64_t unit = 1;
    for (int64_t i = 0; i < places; i++)
        unit *= 10; /* 10^19 still fits in uint64 */
    uint64_t mag = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
    uint64_t q = mag / unit, r = mag % unit;
    if (r >= unit - r)
        q++;
    mag = q * unit; /* at most 10^19, which fits */
    if (x >= 0 && mag <= (uint64_t)INT64_MAX)
        *out = cg_value_int((int64_t)mag);
    else if (x < 0 && mag <= (uint64_t)INT64_MAX + 1)
        *out = cg_value_int(mag ? -(int64_t)(mag - 1) - 1 : 0);
    else
        *out = cg_value_num(x < 0 ? -(double)mag : (double)mag);
}

/* The shortest decimal of d > 0 that reads back as d: its significant
 * digits into digits[] (returned count) and the exponent of the first. */
static int shortest_decimal(double d, char digits[20], int *exp10)
{
    char buf[40];
    int prec;
    for (prec = 15;; prec++) { /* 17 digits always read back */
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
        if (prec == 17 || strtod(buf, NULL) == d)
            break;
    }
    digits[0] = buf[0];
    memcpy(digits + 1, buf + 2, (size_t)(prec - 1));
    *exp10 = atoi(strchr(buf, 'e') + 1);
    return prec;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                     1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17};

/* The common case, without printf: |x| has a short decimal, k digits
 * after the point, found as the first k with round(|x| * 10^k) / 10^k ==
 * |x| (both steps correctly rounded, so that decimal reads back as x);
 * rounding it is integer arithmetic, and dividing by 10^places lands on
 * the double that reading the rounded decimal would give. Returns false
 * when the case does not apply. */
static bool round_short(double x, int places, double *out)
{
    double a = fabs(x);
    if (places < 0 || places > 17 || a < 1e-4 || a >= 1e15)
        return false;
    for (int k = 0; k < 18; k++) {
        double r = nearbyint(a * pow10_exact[k]);
        if (r >= 9007199254740992.0)
            return false;
        if (r / pow10_exact[k] != a)
            continue;
        if (k <= places) {
            *out = x;
            return true;
        }
        uint64_t unit = 1, m = (uint64_t)r;
        for (int i = places; i < k; i++)
            unit *= 10;
        uint64_t q = m / unit + (m % unit >= unit - m % unit);
        double v = (double)q / pow10_exact[places];
        *out = (x < 0 ? -v : v) + 0.0;
        return true;
    }
    return false;
}

/* A finite double rounded to `places` decimals (negative: tens,
 * hundreds...), half away from zero on its shortest decimal. */
static double round_double(double x, int places)
{
    char digits[20], text[48];
    int exp10;
    double fast;
    if (x == 0)
        return 0;
    if (round_short(x, places, &fast))
        return fast;
    int count = shortest_decimal(fabs(x), digits, &exp10);
    /* Digit k stands for 10^(exp10 - k): keep those down to 10^-places. */
    int keep = exp10 + places + 1;
    if (keep >= count)
        return x;
    if (keep < 0)
        return 0;
    unsigned long long kept = 0;
    for (int k = 0; k < keep; k++)
        kept = kept * 10 + (unsigned long long)(digits[k] - '0');
    if (digits[keep] >= '5')
        kept++;
    snprintf(text, sizeof(text), "%s%llue%d", x < 0 ? "-" : "", kept, -places);
    return strtod(text, NULL) + 0.0; /* + 0.0 turns -0 into 0 */
}

void expr__fn_round(struct expr__ev *ev, const struct expr__node *n,
                    const struct cg_value *a, struct cg_value *out)
{
    int64_t places = 0;
    *out = CG_VALUE_NULL;
    if (n->n == 2 && !expr__whole(&a[1], &places))
        return;
    /* Beyond +-400 places every double rounds as it would at +-400. */
    places = places > 400 ? 400 : places < -400 ? -400 : places;
    if (a->type == CG_INT) {
        if (places >= 0)
            *out = *a;
        else
            round_int(a->as.i, -places, out);
        return;
    }
    if (a->type != CG_NUM || !isfinite(a->as.num))
        return;
    double r = round_double(a->as.num, (int)places);
    if (places <= 0)
        whole_result(r, out);
    else
        *out = isfinite(r) ? cg_value_num(r) : CG_VALUE_NULL;
}

/* num(x): numbers as they are, booleans as 1 and 0, strings that read
 * wholly as a JSON number after trimming (SPEC §12); else null. */
void expr__fn_num(struct expr__ev *ev, const struct expr__node *n,
                  const struct cg_value *a, struct cg_value *out)
{
    *out = CG_VALUE_NULL;
    if (cg_value_is_number(a)) {
        *out = *a;
    } else if (a->type == CG_BOOL) {
        *out = cg_value_int(a->as.boolean ? 1 : 0);
    } else if (a->type == CG_STR) {
        const char *s = a->as.str;
        size_t len = a->len;
        cg_trim(&s, &len);
        struct cg_value v;
        int rc = cg_number_parse(s, len, &v);
        if (rc == CG_OK)
            *out = v;
        else if (rc == CG_ENOMEM)
            ev->oom = true;
    }
}
