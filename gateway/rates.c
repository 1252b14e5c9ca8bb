/*
 * Rates per second for the live page and the STATUS line (run.h), from
 * counter deltas on the loop thread: each tick (about a second) records
 * every counter's value; a rate is the change over the last
 * GW_RATE_WINDOW samples divided by the time they span, so it neither
 * jumps with one busy second nor needs another thread.
 *
 * Counters are put in the same order every sample, so a lookup starts
 * where the last one ended and is usually a single comparison.
 */
#include <string.h>

#include "run.h"

#define RING (GW_RATE_WINDOW + 1)

struct gw_rate {
    int kind;
    char *name;
    uint64_t v[RING];
    unsigned samples; /* how many of v hold a value */
    unsigned pass;    /* the sample that last updated it */
};

void gw__rates_begin(struct gw_rates *r, double now)
{
    r->pass++;
    r->t[r->pass % RING] = now;
    r->hint = 0;
}

static struct gw_rate *find(const struct gw_rates *r, size_t from, int kind,
                            const char *name)
{
    for (size_t k = 0; k < r->n; k++) {
        struct gw_rate *e = &r->v[(from + k) % r->n];
        if (e->kind == kind && !strcmp(e->name, name))
            return e;
    }
    return NULL;
}

static struct gw_rate *add(struct gw_rates *r, int kind, const char *name)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct gw_rate *v = cg_realloc(r->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        r->v = v;
        r->cap = cap;
    }
    struct gw_rate *e = &r->v[r->n];
    memset(e, 0, sizeof(*e));
    if (!(e->name = cg_strdup(name)))
        return NULL;
    e->kind = kind;
    r->n++;
    return e;
}

int gw__rates_put(struct gw_rates *r, int kind, const char *name,
                  uint64_t value)
{
    struct gw_rate *e = r->n ? find(r, r->hint, kind, name) : NULL;
    if (!e && !(e = add(r, kind, name)))
        return CG_ENOMEM;
    r->hint = (size_t)(e - r->v) + 1;
    e->v[r->pass % RING] = value;
    e->samples += e->samples < RING;
    e->pass = r->pass;
    return CG_OK;
}

void gw__rates_end(struct gw_rates *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].pass == r->pass)
            r->v[kept++] = r->v[i];
        else
            cg_free(r->v[i].name);
    }
    r->n = kept;
}

double gw__rates_get(const struct gw_rates *r, int kind, const char *name)
{
    const struct gw_rate *e = find(r, 0, kind, name);
    if (!e || e->samples < 2 || e->pass != r->pass)
        return 0;
    unsigned now = r->pass % RING, then = (r->pass - (e->samples - 1)) % RING;
    double dt = r->t[now] - r->t[then];
    if (dt <= 0 || e->v[now] < e->v[then]) /* a counter never goes back */
        return 0;
    return (double)(e->v[now] - e->v[then]) / dt;
}

void gw__rates_free(struct gw_rates *r)
{
    for (size_t i = 0; i < r->n; i++)
        cg_free(r->v[i].name);
    cg_free(r->v);
    memset(r, 0, sizeof(*r));
}
