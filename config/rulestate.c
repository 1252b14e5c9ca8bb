/*
 * The stateful keys of a rule (SPEC §13): throttle, on_change, for with
 * keep_firing_for, repeat and stale_after, window and max_keys.
 *
 * The schema reads the durations (FT_DURATION) and max_keys; on_change
 * and window are parsed here. Once the whole rule is read,
 * check_rule_state reports every invalid duration and combination at the
 * line and column of the key's value, so that `check` points at what an
 * operator must change rather than at the rule as a whole. It also fills
 * in the one derived default, stale_after = 3 x for.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DAY_MS (86400LL * 1000)

/* ---- parsing ------------------------------------------------------------ */

static int parse_aggregate(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_window_conf *w = base;
    return node_field_map(L, n, &w->aggregate, &w->n_aggregate);
}

/* group_by: one name or a list; each is compiled as an expression, so
 * built-ins (device, vendor) read as they do everywhere. */
static int parse_group_by(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_window_conf *w = base;
    bool one = node_is_scalar(n);
    size_t len = one ? 1 : node_len(n);
    if (!one && n->type != YAML_SEQUENCE_NODE) {
        loader_error(L, n, "expected a list of field names");
        return 1;
    }
    if (!(w->group_by =
              loader_alloc(L, (len ? len : 1) * sizeof(*w->group_by))))
        return 1;
    int errors = 0;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *item =
            one ? n : node_at(L, n->data.sequence.items.start[i]);
        errors += scalar_src(L, item, &w->group_by[w->n_group_by]) != 0;
        w->n_group_by += w->group_by[w->n_group_by].text != NULL;
    }
    return errors;
}

static const struct field window_fields[] = {
    {FIELD(struct cg_window_conf, every, "every", FT_DURATION), .required = 1},
    {.key = "group_by", .type = FT_CUSTOM, .parse = parse_group_by},
    {.key = "aggregate", .type = FT_CUSTOM, .parse = parse_aggregate},
    {FIELD(struct cg_window_conf, having, "having", FT_SRC)},
    {FIELD(struct cg_window_conf, min_count, "min_count", FT_INT), .min = 1,
     .max = 1000000},
    {0}};

int parse_window(struct loader *L, yaml_node_t *n, void *rule)
{
    struct cg_rule_conf *r = rule;
    struct cg_window_conf *w = loader_alloc(L, sizeof(*w));
    if (!w)
        return 1;
    w->pos = node_pos(L, n);
    r->state.window = w;
    return schema_apply(L, n, window_fields, w);
}

/* A threshold: a number of at least 0, written plainly. */
static int threshold_of(struct loader *L, yaml_node_t *v, double *out)
{
    char *end;
    if (node_is_scalar(v) && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        *out = strtod(node_text(v), &end);
        if (end != node_text(v) && !*end && *out >= 0)
            return 0;
    }
    loader_error(L, v,
                 "expected the least change that counts, a number of "
                 "at least 0");
    return 1;
}

static int on_change_entry(struct loader *L, yaml_node_t *name,
                           yaml_node_t *threshold, struct cg_on_change_conf *e)
{
    if (!node_is_scalar(name) || !node_text(name)[0]) {
        loader_error(L, name, "expected the name of a data key");
        return 1;
    }
    e->field.s = scalar_dup(L, name);
    e->field.pos = node_pos(L, name);
    e->threshold = 0;
    return threshold ? threshold_of(L, threshold, &e->threshold) : 0;
}

/* `on_change: [band]` (any change) or `on_change: {pm25: 5, band: 0}`. */
int parse_on_change(struct loader *L, yaml_node_t *n, void *rule)
{
    struct cg_rule_state_conf *s = &((struct cg_rule_conf *)rule)->state;
    size_t len = node_len(n);
    if ((n->type != YAML_SEQUENCE_NODE && n->type != YAML_MAPPING_NODE) ||
        len == 0) {
        loader_error(L, n,
                     "expected a list of data keys, or a mapping of "
                     "data key: least change");
        return 1;
    }
    s->on_change = loader_alloc(L, len * sizeof(*s->on_change));
    if (!s->on_change)
        return 1;
    s->has_on_change = true;
    int errors = 0;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *name, *threshold = NULL;
        if (n->type == YAML_SEQUENCE_NODE) {
            name = node_at(L, n->data.sequence.items.start[i]);
        } else {
            name = node_at(L, n->data.mapping.pairs.start[i].key);
            threshold = node_at(L, n->data.mapping.pairs.start[i].value);
        }
        errors += on_change_entry(L, name, threshold, &s->on_change[i]);
        s->n_on_change++;
    }
    return errors;
}

/* ---- checks ------------------------------------------------------------- */

/* An error at pos, placed under `rules[i].<key>`. */
static void key_error(struct loader *L, const struct cg_pos *pos,
                      const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void key_error(struct loader *L, const struct cg_pos *pos,
                      const char *key, const char *fmt, ...)
{
    char msg[CG_DIAG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    yaml_mark_t m = {0, (size_t)(pos->line - 1), (size_t)(pos->col - 1)};
    size_t mark = where_push(L, ".%s", key);
    loader_error_at(L, &m, "%s", msg);
    where_pop(L, mark);
}

/* Keys that belong to `for` alone, and durations that must be positive. */
static void check_alert_keys(struct loader *L, struct cg_rule_state_conf *s)
{
    const struct {
        const char *key;
        struct cg_duration_conf *d;
    } keys[] = {{"keep_firing_for", &s->keep_firing_for},
                {"repeat", &s->repeat},
                {"stale_after", &s->stale_after}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct cg_duration_conf *d = keys[i].d;
        if (d->set && !s->hold.set)
            key_error(L, &d->pos, keys[i].key,
                      "%s only goes with for (an alert held before it fires)",
                      keys[i].key);
        else if (d->set && d->ms == 0)
            key_error(L, &d->pos, keys[i].key, "must be longer than 0");
    }
    if (!s->hold.set || s->stale_after.set)
        return;
    if (s->hold.ms == 0)
        key_error(L, &s->hold.pos, "for",
                  "for: 0s needs a stale_after (its default, 3 x for, "
                  "would be 0)");
    s->stale_after.ms = 3 * s->hold.ms; /* SPEC §13's default */
}

/* One of for, window, or any of throttle and on_change (SPEC §13). */
static void check_combination(struct loader *L, yaml_node_t *item,
                              const struct cg_rule_state_conf *s)
{
    static const char why[] =
        "a rule uses one of for, window, or throttle and on_change";
    if (s->hold.set && s->window)
        key_error(L, &s->hold.pos, "for", "for and window: %s", why);
    if (s->throttle.set && (s->hold.set || s->window))
        key_error(L, &s->throttle.pos, "throttle", "%s", why);
    yaml_node_t *oc = map_get(L, item, "on_change");
    if (oc && (s->hold.set || s->window)) {
        struct cg_pos pos = node_pos(L, oc);
        key_error(L, &pos, "on_change", "%s", why);
    }
    if (s->throttle.set && s->throttle.ms == 0)
        key_error(L, &s->throttle.pos, "throttle", "must be longer than 0");
}

static bool is_data_key(const struct cg_rule_conf *r, const char *name)
{
    for (size_t i = 0; i < r->n_data; i++)
        if (r->data[i].name.s && !strcmp(r->data[i].name.s, name))
            return true;
    return false;
}

static void check_on_change(struct loader *L, const struct cg_rule_conf *r)
{
    const struct cg_rule_state_conf *s = &r->state;
    for (size_t i = 0; r->has_data && i < s->n_on_change; i++) {
        const struct cg_pstr *f = &s->on_change[i].field;
        if (f->s && !is_data_key(r, f->s))
            key_error(L, &f->pos, "on_change",
                      "'%s' is not a key of this rule's data", f->s);
    }
}

/* A window's own data: its group_by names, its aggregates, and the
 * names the gateway adds. */
static bool taken_name(const struct cg_window_conf *w, size_t upto,
                       const char *name)
{
    static const char *const added[] = {"window_start", "window_end",
                                        "partial"};
    for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++)
        if (!strcmp(name, added[i]))
            return true;
    for (size_t i = 0; i < w->n_group_by; i++)
        if (!strcmp(w->group_by[i].text, name))
            return true;
    for (size_t i = 0; i < upto; i++)
        if (w->aggregate[i].name.s && !strcmp(w->aggregate[i].name.s, name))
            return true;
    return false;
}

static void check_window(struct loader *L, yaml_node_t *item,
                         const struct cg_rule_conf *r)
{
    const struct cg_window_conf *w = r->state.window;
    if (w->every.set && (w->every.ms == 0 || DAY_MS % w->every.ms != 0))
        key_error(L, &w->every.pos, "window.every",
                  "must divide a day, so that windows line up with local "
                  "midnight (1m, 5m, 15m, 1h, 6h, 1d ...)");
    yaml_node_t *data = map_get(L, item, "data");
    if (data) {
        struct cg_pos pos = node_pos(L, data);
        key_error(L, &pos, "data",
                  "a window's data are its group_by fields and aggregates");
    }
    for (size_t i = 0; i < w->n_aggregate; i++) {
        const struct cg_pstr *n = &w->aggregate[i].name;
        if (n->s && taken_name(w, i, n->s))
            key_error(L, &n->pos, "window.aggregate",
                      "'%s' is already a name of this window's data", n->s);
    }
}

void check_rule_state(struct loader *L, yaml_node_t *item,
                      struct cg_rule_conf *r)
{
    struct cg_rule_state_conf *s = &r->state;
    check_combination(L, item, s);
    check_alert_keys(L, s);
    check_on_change(L, r);
    if (s->window)
        check_window(L, item, r);
    yaml_node_t *mk = map_get(L, item, "max_keys");
    if (mk && !s->throttle.set && !s->has_on_change && !s->hold.set &&
        !s->window) {
        struct cg_pos pos = node_pos(L, mk);
        key_error(L, &pos, "max_keys",
                  "max_keys bounds the state of throttle, on_change, for or "
                  "window, and this rule has none");
    }
}
