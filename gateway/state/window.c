/*
 * Tumbling windows (SPEC §13). A window rule has one open window at a
 * time, aligned to the local clock (winclock.c), and one group per
 * distinct set of group_by values that received a message in it: its
 * accumulators (one per aggregate slot), the distinct devices for
 * min_count, and whether its messages agree on vendor and network. At the
 * window's end each group becomes one event: its group_by fields, its
 * aggregates, window_start and window_end; groups for which `having` does
 * not hold send nothing. Groups are keys: max_keys bounds them.
 */
#include <string.h>

#include "internal.h"

void window__init_group(struct cg_state_rule *r, struct group_key *g)
{
    g->vendor = g->network = CG_STATE_NONE;
    cg_agg_acc_init(&g->devices, CG_AGG_COUNT_DISTINCT);
    for (size_t i = 0; i < r->win.n_slots; i++)
        cg_agg_acc_init(&g->acc[i], r->win.slots[i].kind);
}

/* The group's key: its group_by values as compact JSON, unambiguous. */
static int group_key_text(struct cg_state_rule *r, const struct cg_value *vals)
{
    cg_buf_reset(&r->scratch);
    cg_buf_putc(&r->scratch, '[');
    for (size_t i = 0; i < r->win.n_group; i++) {
        if (i)
            cg_buf_putc(&r->scratch, ',');
        cg_json_put_value(&r->scratch, &vals[i]);
    }
    cg_buf_putc(&r->scratch, ']');
    return r->scratch.oom ? CG_ENOMEM : CG_OK;
}

static struct group_key *find_group(struct cg_state_rule *r,
                                    const struct cg_value *vals, int64_t now)
{
    if (group_key_text(r, vals) != CG_OK)
        return NULL;
    const char *key = r->scratch.data;
    size_t len = r->scratch.len;
    uint64_t h = keytab__hash(key, len);
    struct skey *k = keytab__find(&r->tab, key, len, h);
    if (k) {
        keytab__touch(&r->tab, k, now);
        return (struct group_key *)k;
    }
    struct group_key *g = (struct group_key *)rule__insert(r, key, len, h, now);
    if (g && !(g->values = pack__list(vals, r->win.n_group))) {
        rule__remove(r, &g->k);
        return NULL;
    }
    return g;
}

static uint32_t agree(uint32_t had, uint32_t now, bool first)
{
    return first || had == now ? now : CG_STATE_MIXED;
}

static int accumulate(struct cg_state_rule *r, struct group_key *g,
                      const struct cg_eval_ctx *ctx)
{
    int rc = CG_OK;
    for (size_t i = 0; i < r->win.n_slots; i++) {
        struct cg_value v = CG_VALUE_NULL;
        if (r->win.slots[i].arg)
            cg_expr_eval(r->win.slots[i].arg, ctx, &v);
        if (cg_agg_acc_add(&g->acc[i], &v) != CG_OK)
            rc = CG_ENOMEM;
    }
    if (r->win.min_count && ctx->device) {
        struct cg_value dev = cg_value_str(ctx->device, strlen(ctx->device));
        if (cg_agg_acc_add(&g->devices, &dev) != CG_OK)
            rc = CG_ENOMEM;
    }
    return rc;
}

int cg_state_window_add(struct cg_state_rule *r, const struct cg_eval_ctx *ctx,
                        int64_t now, uint32_t vendor, uint32_t network)
{
    struct window_def *w = &r->win;
    if (!r->tab.n)
        cg_state_window_bounds(now, w->every, &r->win_start, &r->win_end);
    struct cg_value *vals =
        cg_arena_alloc(ctx->arena, (w->n_group + 1) * sizeof(*vals));
    if (!vals)
        return CG_ENOMEM;
    for (size_t i = 0; i < w->n_group; i++)
        cg_expr_eval(w->group[i], ctx, &vals[i]);
    struct group_key *g = find_group(r, vals, now);
    if (!g)
        return CG_ENOMEM;
    g->vendor = agree(g->vendor, vendor, !g->messages);
    g->network = agree(g->network, network, !g->messages);
    g->messages++;
    r->changes++;
    return accumulate(r, g, ctx);
}

/* ---- a group's event ------------------------------------------------------
 */

/* The finished value of every aggregate slot. */
static struct cg_value *results(struct cg_state_rule *r, struct group_key *g,
                                struct cg_arena *a)
{
    struct cg_value *res =
        cg_arena_alloc(a, (r->win.n_slots + 1) * sizeof(*res));
    for (size_t i = 0; res && i < r->win.n_slots; i++)
        cg_agg_acc_result(&g->acc[i], &res[i]);
    return res;
}

static struct cg_member member(const char *key, struct cg_value v)
{
    return (struct cg_member){key, (uint32_t)strlen(key), v};
}

static struct cg_value text(const char *s)
{
    return s ? cg_value_str(s, strlen(s)) : CG_VALUE_NULL;
}

/* group_by fields, aggregates, window_start, window_end (and partial). */
static int build_data(struct cg_state_rule *r, struct group_key *g,
                      int64_t time, bool partial, struct cg_arena *a,
                      struct cg_value *out)
{
    const struct window_def *w = &r->win;
    struct cg_member *m =
        cg_arena_alloc(a, (w->n_group + w->n_fields + 3) * sizeof(*m));
    struct cg_value *res = results(r, g, a);
    if (!m || !res)
        return CG_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < w->n_group; i++)
        m[k++] = member(w->group_names[i], g->values->as.items[i]);
    struct cg_eval_ctx e = {.arena = a, .domain = r->domain};
    e.now = e.time = (double)time / 1000.0;
    for (size_t i = 0; i < w->n_fields; i++) {
        size_t end = i + 1 < w->n_fields ? w->first_slot[i + 1] : w->n_slots;
        e.aggs = res + w->first_slot[i];
        e.n_aggs = (uint32_t)(end - w->first_slot[i]);
        m[k] = member(w->field_names[i], CG_VALUE_NULL);
        cg_expr_eval(w->fields[i], &e, &m[k++].value);
    }
    m[k++] = member("window_start", text(state__time_text(a, r->win_start)));
    m[k++] = member("window_end", text(state__time_text(a, r->win_end)));
    if (partial)
        m[k++] = member("partial", cg_value_bool(true));
    *out = (struct cg_value){.type = CG_OBJ, .len = (uint32_t)k};
    out->as.members = m;
    return CG_OK;
}

static bool having(const struct cg_state_rule *r, const struct cg_value *data,
                   struct cg_arena *a)
{
    if (!r->win.having)
        return true;
    struct cg_eval_ctx e = {.record = data, .arena = a, .domain = r->domain};
    struct cg_value v;
    cg_expr_eval(r->win.having, &e, &v);
    return cg_value_is_true(&v);
}

/* SPEC §13's k-anonymity floor: enough distinct devices for citizens. */
static bool enough_devices(struct cg_state_rule *r, const struct group_key *g)
{
    struct cg_value n;
    if (!r->win.min_count)
        return true;
    cg_agg_acc_result(&g->devices, &n);
    if (n.type == CG_INT && n.as.i >= r->win.min_count)
        return true;
    atomic_fetch_add_explicit(&r->suppressed[CG_WHY_MIN_COUNT], 1,
                              memory_order_relaxed);
    return false;
}

int window__emit(struct cg_state_rule *r, struct group_key *g, int64_t time,
                 bool partial, const struct cg_state_ctx *c)
{
    struct cg_state_event e = {
        .rule = r->index,
        .kind = CG_EVENT_WINDOW,
        .key = skey_text(&r->tab, &g->k),
        .time = time,
        .severity = -1,
        .vendor = g->vendor,
        .network = g->network,
    };
    if (build_data(r, g, time, partial, c->arena, &e.data) != CG_OK)
        return CG_ENOMEM;
    if (!having(r, &e.data, c->arena))
        return CG_OK;
    e.citizens = enough_devices(r, g);
    int rc = c->emit(c->user, &e);
    return rc < 0 ? rc : CG_OK;
}

/* Every group becomes its event, oldest first, and is forgotten; a group
 * whose event fails stays, with those after it, for the next try. */
static int emit_all(struct cg_state_rule *r, int64_t time, bool partial,
                    const struct cg_state_ctx *c)
{
    while (r->tab.oldest) {
        struct group_key *g = (struct group_key *)r->tab.oldest;
        int rc = window__emit(r, g, time, partial, c);
        if (rc != CG_OK)
            return rc;
        rule__remove(r, &g->k);
    }
    return CG_OK;
}

int window__run(struct cg_state_rule *r, int64_t now,
                const struct cg_state_ctx *c)
{
    if (!r->tab.n || r->win_end > now)
        return CG_OK;
    return emit_all(r, r->win_end, false, c);
}

int window__flush(struct cg_state_rule *r, int64_t time,
                  const struct cg_state_ctx *c)
{
    return emit_all(r, time, true, c);
}
