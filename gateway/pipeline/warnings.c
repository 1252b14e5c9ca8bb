/*
 * Authoring warnings (SPEC §14): things that load and run but almost
 * surely do not do what the operator meant, found once the rules are
 * compiled, reported as `file:line:col: warning: message` (and made errors
 * by `check --strict`):
 *
 * - a rule reads a name that no vendor it matches produces, when every
 *   such vendor lists its `fields` (a typo: the rule never fires), in
 *   when, severity, data, and a window's group_by and aggregates;
 * - a window's having reads a name that is neither one of its aggregates
 *   nor one of its group_by fields (SPEC §13: it reads the window's data);
 * - a severity expression reads a field named info, warning or critical
 *   (the string was meant: every event comes out as info);
 * - a rule's match.topic overlaps none of its vendors' topic filters (the
 *   rule can never see a message);
 * - a consumer's `when:` reads a name that no event has.
 *
 * Built-ins and payload[...] are never warned about: they read what the
 * operator asked for, by design.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MAX_VENDORS 256

/* The vendors a rule may see a message of: those match.vendors names
 * (all of them when it names none) whose filters overlap match.topic.
 * Returns their number, or -1 when a vendor name did not resolve (the
 * config reported it, and guessing would only add noise). */
static int rule_vendors(const struct cg_pipeline *p,
                        const struct cg_rule_conf *r, uint32_t *out)
{
    int n = 0;
    for (size_t v = 0; v < p->n_vendors && n < MAX_VENDORS; v++) {
        const struct cg_vendor_conf *vc = p->vendors[v].conf;
        bool named = r->n_match_vendors == 0;
        for (size_t i = 0; !named && i < r->n_match_vendors; i++)
            named = vc->name.s && !strcmp(vc->name.s, r->match_vendors[i].s);
        if (named)
            out[n++] = (uint32_t)v;
    }
    size_t found = 0;
    for (size_t i = 0; i < r->n_match_vendors; i++)
        for (int k = 0; k < n; k++)
            found +=
                !strcmp(p->vendors[out[k]].conf->name.s, r->match_vendors[i].s);
    return found < r->n_match_vendors ? -1 : n;
}

static bool vendor_overlaps(const struct cg_vendor_conf *v, const char *topic)
{
    for (size_t t = 0; t < v->n_topics; t++)
        if (cg_topic_filter_valid(v->topics[t].s) &&
            cg_topic_filters_overlap(v->topics[t].s, topic))
            return true;
    return false;
}

/* Keeps the vendors whose filters overlap the rule's topic; warns when
 * none does. Returns how many are left. */
static int topic_vendors(const struct cg_pipeline *p,
                         const struct cg_rule_conf *r, uint32_t *v, int n,
                         struct cg_diags *d)
{
    const struct cg_pstr *t = &r->match_topic;
    if (!t->s || !cg_topic_filter_valid(t->s) || n <= 0)
        return n;
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (vendor_overlaps(p->vendors[v[i]].conf, t->s))
            v[kept++] = v[i];
    if (kept == 0) {
        const struct cg_vendor_conf *first = p->vendors[v[0]].conf;
        cg_diags_warn(d, t->pos.file, t->pos.line, t->pos.col,
                      "match.topic '%.60s' overlaps no topic filter of the "
                      "vendors it matches (%s: %.60s%s)",
                      t->s, first->name.s,
                      first->n_topics ? first->topics[0].s : "",
                      n > 1 || first->n_topics > 1 ? " ..." : "");
    }
    return kept;
}

/* What one expression of a rule is checked against. */
struct names_check {
    const struct cg_pipeline *p;
    const uint32_t *vendors;
    int n_vendors;
    const struct cg_src *src;
    const char *what;
    bool severity;
    struct cg_diags *d;
    const char *warned[32]; /* names warned about in this rule */
    size_t n_warned;
    /* A window rule's severity and data read its groups, not messages:
     * the aggregate names, the group_by fields and the window's bounds. */
    const struct cg_window_conf *window;
};

static bool window_names(const struct cg_window_conf *w, const char *name)
{
    if (!strcmp(name, "window_start") || !strcmp(name, "window_end") ||
        !strcmp(name, "partial"))
        return true;
    for (size_t i = 0; i < w->n_aggregate; i++)
        if (!strcmp(w->aggregate[i].name.s, name))
            return true;
    for (size_t i = 0; i < w->n_group_by; i++)
        if (w->group_by[i].text && !strcmp(w->group_by[i].text, name))
            return true;
    return false;
}

static bool vendor_produces(const struct cg_vendor_conf *v, const char *name)
{
    for (size_t f = 0; f < v->n_fields; f++)
        if (v->fields[f].name.s && !strcmp(v->fields[f].name.s, name))
            return true;
    return false;
}

/* The closest field name of the vendors, for a "did you mean". */
static const char *closest(const struct names_check *c, const char *name)
{
    const char *best = NULL;
    size_t best_d = strlen(name) <= 4 ? 2 : 3;
    for (int i = 0; i < c->n_vendors; i++) {
        const struct cg_vendor_conf *v = c->p->vendors[c->vendors[i]].conf;
        for (size_t f = 0; f < v->n_fields; f++) {
            const char *field = v->fields[f].name.s;
            size_t dist = field ? cg_edit_distance(name, field) : 99;
            if (dist < best_d) {
                best_d = dist;
                best = field;
            }
        }
    }
    return best;
}

static bool is_severity_word(const char *name)
{
    return !strcmp(name, "info") || !strcmp(name, "warning") ||
           !strcmp(name, "critical");
}

static bool already_warned(struct names_check *c, const char *name)
{
    for (size_t i = 0; i < c->n_warned; i++)
        if (!strcmp(c->warned[i], name))
            return true;
    if (c->n_warned < 32)
        c->warned[c->n_warned++] = name;
    return false;
}

static void check_name(void *user, const char *name, size_t offset)
{
    struct names_check *c = user;
    int line, col;
    cg_src_locate(c->src, offset, &line, &col);
    if (c->severity && is_severity_word(name)) {
        cg_diags_warn(c->d, c->src->file, line, col,
                      "severity: '%s' reads a field named %s; did you mean "
                      "the string '%s'?",
                      name, name, name);
        return;
    }
    if (c->window && window_names(c->window, name))
        return;
    for (int i = 0; i < c->n_vendors; i++)
        if (vendor_produces(c->p->vendors[c->vendors[i]].conf, name))
            return;
    if (c->n_vendors == 0 || already_warned(c, name))
        return;
    const char *near = closest(c, name);
    cg_diags_warn(c->d, c->src->file, line, col,
                  "%s: '%s' is no field of the vendors this rule matches%s%s%s",
                  c->what, name, near ? " (did you mean '" : "",
                  near ? near : "", near ? "'?)" : "");
}

/* Field names are checked only when every vendor lists its fields: a
 * vendor without `fields` passes its payload through as it is. */
static bool all_list_fields(const struct cg_pipeline *p, const uint32_t *v,
                            int n)
{
    for (int i = 0; i < n; i++)
        if (!p->vendors[v[i]].conf->has_fields)
            return false;
    return true;
}

static void check_expr(struct names_check *c, const struct cg_expr *x,
                       const struct cg_src *src, const char *what,
                       bool severity)
{
    if (!x || !src->text)
        return;
    c->src = src;
    c->what = what;
    c->severity = severity;
    cg_expr_field_refs(x, check_name, c);
}

/* The name of a window's data closest to an unknown one. */
static const char *closest_window_name(const struct cg_window_conf *w,
                                       const char *name)
{
    const char *best = NULL;
    size_t best_d = strlen(name) <= 4 ? 2 : 3;
    for (size_t i = 0; i < w->n_aggregate + w->n_group_by; i++) {
        const char *known = i < w->n_aggregate
                                ? w->aggregate[i].name.s
                                : w->group_by[i - w->n_aggregate].text;
        size_t dist = known ? cg_edit_distance(name, known) : 99;
        if (dist < best_d) {
            best_d = dist;
            best = known;
        }
    }
    return best;
}

static void check_having_name(void *user, const char *name, size_t offset)
{
    struct names_check *c = user;
    int line, col;
    if (window_names(c->window, name))
        return;
    const char *near = closest_window_name(c->window, name);
    cg_src_locate(c->src, offset, &line, &col);
    cg_diags_warn(c->d, c->src->file, line, col,
                  "window.having: '%s' is neither an aggregate nor a "
                  "group_by field of this window%s%s%s",
                  name, near ? " (did you mean '" : "", near ? near : "",
                  near ? "'?)" : "");
}

/* group_by and the aggregates' arguments read the messages that enter
 * the window, as `when` does. The pipeline keeps no compiled window (the
 * state rule does, and reports its errors), so they are compiled again
 * here, quietly. */
static void check_window_inputs(struct names_check *c,
                                const struct cg_window_conf *w)
{
    struct cg_diags quiet = {0};
    for (size_t i = 0; i < w->n_group_by; i++) {
        struct cg_expr *x = NULL;
        if (w->group_by[i].text &&
            cg_expr_compile_src(&w->group_by[i], "", &x, &quiet) == CG_OK)
            check_expr(c, x, &w->group_by[i], "window.group_by", false);
        cg_expr_free(x);
    }
    for (size_t i = 0; i < w->n_aggregate; i++) {
        const struct cg_src *src = &w->aggregate[i].expr;
        struct cg_expr *x = NULL;
        const struct cg_agg *aggs;
        size_t n;
        struct cg_expr_error err;
        char what[96];
        snprintf(what, sizeof(what), "window.aggregate.%s",
                 w->aggregate[i].name.s);
        if (src->text && cg_expr_compile_window(src->text, strlen(src->text),
                                                &x, &aggs, &n, &err) == CG_OK)
            check_expr(c, x, src, what, false);
        cg_expr_free(x);
    }
    cg_diags_free(&quiet);
}

/* having reads the window's data, never a message: checked against the
 * window's own names whatever its vendors list. */
static void check_having(struct names_check *c, const struct cg_window_conf *w)
{
    struct cg_diags quiet = {0};
    struct cg_expr *x = NULL;
    if (w->having.text &&
        cg_expr_compile_src(&w->having, "", &x, &quiet) == CG_OK) {
        c->src = &w->having;
        cg_expr_field_refs(x, check_having_name, c);
    }
    cg_expr_free(x);
    cg_diags_free(&quiet);
}

void warn__rule(const struct cg_pipeline *p, const struct cg_rule_conf *conf,
                const struct rule_exprs *rule, struct cg_diags *d)
{
    uint32_t vendors[MAX_VENDORS];
    int n = rule_vendors(p, conf, vendors);
    n = topic_vendors(p, conf, vendors, n, d);
    struct names_check c = {p, vendors, n, NULL, NULL, false, d, {0}, 0, NULL};
    /* With no vendor left there is nothing to compare names with; the
     * severity words are checked all the same. */
    if (n < 0 || !all_list_fields(p, vendors, n))
        c.n_vendors = 0;
    check_expr(&c, rule->when, &conf->when, "when", false);
    if (conf->state.window)
        check_window_inputs(&c, conf->state.window);
    c.window = conf->state.window; /* from here on, a window's groups */
    if (c.window)
        check_having(&c, c.window);
    check_expr(&c, rule->severity, &conf->severity, "severity", true);
    for (size_t i = 0; i < rule->n_data && i < conf->n_data; i++) {
        char what[96];
        snprintf(what, sizeof(what), "data.%s", conf->data[i].name.s);
        check_expr(&c, rule->data[i], &conf->data[i].expr, what, false);
    }
}

/* What an event offers a consumer's filter (SPEC §5). */
static const char *const event_keys[] = {
    "id",   "time",     "received", "gateway", "domain", "type",
    "rule", "severity", "source",   "chain",   "data",   NULL};

struct filter_check {
    const struct cg_consumer_conf *cc;
    struct cg_diags *d;
};

static void check_event_name(void *user, const char *name, size_t offset)
{
    const struct cg_consumer_conf *cc = ((struct filter_check *)user)->cc;
    struct cg_diags *d = ((struct filter_check *)user)->d;
    const char *best = NULL;
    size_t best_d = 3;
    for (int i = 0; event_keys[i]; i++) {
        size_t dist = cg_edit_distance(name, event_keys[i]);
        if (!dist)
            return;
        if (dist < best_d) {
            best_d = dist;
            best = event_keys[i];
        }
    }
    int line, col;
    cg_src_locate(&cc->when, offset, &line, &col);
    cg_diags_warn(d, cc->when.file, line, col,
                  "when: events have no '%s' (they have severity, domain, "
                  "type, rule, data, source ...)%s%s%s",
                  name, best ? "; did you mean '" : "", best ? best : "",
                  best ? "'?" : "");
}

void warn__consumer(const struct cg_consumer_conf *conf,
                    const struct cg_expr *when, struct cg_diags *d)
{
    struct filter_check c = {conf, d};
    cg_expr_field_refs(when, check_event_name, &c);
}
