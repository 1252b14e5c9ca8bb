/*
 * Compiled rules and the index that finds the rules a message can fire.
 *
 * Per vendor the index keeps the rules without a topic filter in a sorted
 * list and the rules with one in a topic trie, so a message only touches
 * rules of its own vendor whose filter matches its topic: a city with
 * thousands of rules pays per message for the few that apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

struct vendor_index {
    uint32_t *always; /* rules with no topic filter, ascending */
    size_t n_always, cap_always;
    struct cg_topic_trie *by_topic;
};

struct cg_ruleset {
    struct cg_rule **rules;
    size_t n_rules, cap_rules;
    char **topic_filters; /* per rule, NULL when none */
    uint32_t **rule_vendors;
    size_t *n_rule_vendors;
    struct vendor_index *vendors;
    size_t n_vendors;
};

static const char *const severity_names[] = {"info", "warning", "critical"};

const char *cg_severity_name(int severity)
{
    return severity >= 0 && severity <= CG_SEV_CRITICAL
               ? severity_names[severity]
               : "info";
}

int cg_severity_parse(const struct cg_value *v)
{
    if (v->type != CG_STR)
        return CG_SEV_INFO;
    for (int i = 0; i <= CG_SEV_CRITICAL; i++)
        if (strcmp(v->as.str, severity_names[i]) == 0)
            return i;
    return CG_SEV_INFO;
}

int cg_expr_compile_src(const struct cg_src *src, const char *what,
                        struct cg_expr **out, struct cg_diags *d)
{
    return cg_expr_compile_src_env(src, what, NULL, out, d);
}

int cg_expr_compile_src_env(const struct cg_src *src, const char *what,
                            const struct cg_expr_env *env, struct cg_expr **out,
                            struct cg_diags *d)
{
    struct cg_expr_error err;
    int rc = cg_expr_compile_env(src->text, strlen(src->text), env, out, &err);
    if (rc == CG_EINVAL) {
        int line, col;
        cg_src_locate(src, err.offset, &line, &col);
        cg_diags_add(d, src->file, line, col, "%s: %s", what, err.msg);
    }
    return rc;
}

struct cg_ruleset *cg_ruleset_new(size_t n_vendors)
{
    struct cg_ruleset *rs = cg_calloc(1, sizeof(*rs));
    if (!rs)
        return NULL;
    rs->vendors = cg_calloc(n_vendors ? n_vendors : 1, sizeof(*rs->vendors));
    if (!rs->vendors) {
        cg_free(rs);
        return NULL;
    }
    rs->n_vendors = n_vendors;
    return rs;
}

static void rule_free(struct cg_rule *r)
{
    if (!r)
        return;
    cg_expr_free(r->when);
    cg_expr_free(r->severity);
    for (size_t i = 0; i < r->n_data; i++) {
        cg_free(r->data_names[i]);
        cg_expr_free(r->data[i]);
    }
    cg_free(r->data_names);
    cg_free(r->data);
    cg_free(r->targets);
    cg_free((char *)r->full_name);
    cg_free((char *)r->domain);
    cg_free((char *)r->name);
    cg_free((char *)r->type);
    cg_free((char *)r->description);
    cg_free((char *)r->file);
    cg_free(r);
}

void cg_ruleset_free(struct cg_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n_rules; i++) {
        rule_free(rs->rules[i]);
        cg_free(rs->topic_filters[i]);
        cg_free(rs->rule_vendors[i]);
    }
    for (size_t v = 0; v < rs->n_vendors; v++) {
        cg_free(rs->vendors[v].always);
        cg_topic_trie_free(rs->vendors[v].by_topic);
    }
    cg_free(rs->vendors);
    cg_free(rs->rules);
    cg_free(rs->topic_filters);
    cg_free(rs->rule_vendors);
    cg_free(rs->n_rule_vendors);
    cg_free(rs);
}

size_t cg_ruleset_count(const struct cg_ruleset *rs)
{
    return rs->n_rules;
}

const struct cg_rule *cg_ruleset_rule(const struct cg_ruleset *rs, size_t index)
{
    return index < rs->n_rules ? rs->rules[index] : NULL;
}

static int grow(struct cg_ruleset *rs)
{
    if (rs->n_rules < rs->cap_rules)
        return CG_OK;
    size_t cap = rs->cap_rules ? rs->cap_rules * 2 : 16;
    void *a = cg_realloc(rs->rules, cap * sizeof(*rs->rules));
    if (a)
        rs->rules = a;
    void *b = cg_realloc(rs->topic_filters, cap * sizeof(char *));
    if (b)
        rs->topic_filters = b;
    void *c = cg_realloc(rs->rule_vendors, cap * sizeof(uint32_t *));
    if (c)
        rs->rule_vendors = c;
    void *d = cg_realloc(rs->n_rule_vendors, cap * sizeof(size_t));
    if (d)
        rs->n_rule_vendors = d;
    if (!a || !b || !c || !d)
        return CG_ENOMEM;
    rs->cap_rules = cap;
    return CG_OK;
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *p = cg_strdup(s);
    *oom |= !p;
    return p;
}

static int copy_names(struct cg_rule *r, const struct cg_rule_spec *s)
{
    int oom = 0;
    size_t n = strlen(s->domain) + strlen(s->name) + 2;
    char *full = cg_malloc(n);
    if (full)
        snprintf(full, n, "%s/%s", s->domain, s->name);
    r->full_name = full;
    r->domain = dup_or_null(s->domain, &oom);
    r->name = dup_or_null(s->name, &oom);
    r->type = dup_or_null(s->type ? s->type : s->name, &oom);
    r->description = dup_or_null(s->description, &oom);
    r->file = dup_or_null(s->pos.file, &oom);
    r->line = s->pos.line;
    return oom || !full ? CG_ENOMEM : CG_OK;
}

/* The bare words are literals; anything else is an expression, and one
 * that is constant is folded now. */
static int compile_severity(struct cg_rule *r, const struct cg_src *src,
                            const struct cg_expr_env *env, struct cg_diags *d)
{
    struct cg_value lit = cg_value_str(src->text, strlen(src->text));
    r->severity_const = cg_severity_parse(&lit);
    if (r->severity_const != CG_SEV_INFO || !strcmp(src->text, "info"))
        return CG_OK;
    int rc = cg_expr_compile_src_env(src, "severity", env, &r->severity, d);
    struct cg_value v;
    if (rc == CG_OK && cg_expr_constant(r->severity, &v)) {
        r->severity_const = cg_severity_parse(&v);
        cg_expr_free(r->severity); /* it owns an arena: not cg_free */
        r->severity = NULL;
    }
    return rc;
}

static int compile_data(struct cg_rule *r, const struct cg_rule_spec *s,
                        struct cg_diags *d)
{
    int result = CG_OK;
    r->has_data = s->has_data;
    if (!s->n_data)
        return CG_OK;
    r->data_names = cg_calloc(s->n_data, sizeof(char *));
    r->data = cg_calloc(s->n_data, sizeof(struct cg_expr *));
    if (!r->data_names || !r->data)
        return CG_ENOMEM;
    r->n_data = s->n_data;
    for (size_t i = 0; i < s->n_data; i++) {
        char what[96];
        snprintf(what, sizeof(what), "data.%s", s->data[i].name);
        if (!(r->data_names[i] = cg_strdup(s->data[i].name)))
            return CG_ENOMEM;
        if (!s->data[i].src.text)
            continue; /* a problem the config already reported */
        int rc = cg_expr_compile_src_env(&s->data[i].src, what, s->env,
                                         &r->data[i], d);
        if (rc == CG_ENOMEM)
            return rc;
        if (rc != CG_OK)
            result = rc;
    }
    return result;
}

static int copy_targets(struct cg_rule *r, const struct cg_rule_spec *s)
{
    r->targets = cg_calloc(s->n_targets ? s->n_targets : 1, sizeof(uint32_t));
    if (!r->targets)
        return CG_ENOMEM;
    for (size_t i = 0; i < s->n_targets; i++) {
        bool seen = false;
        for (size_t j = 0; j < r->n_targets; j++)
            seen |= r->targets[j] == s->targets[i];
        if (!seen) /* `to: [government, city-ops]` delivers once */
            r->targets[r->n_targets++] = s->targets[i];
    }
    return CG_OK;
}

/* Compiles every part so that one run reports every problem. */
static int compile_rule(struct cg_rule *r, const struct cg_rule_spec *s,
                        struct cg_diags *d)
{
    int rcs[5] = {copy_names(r, s), CG_OK, CG_OK, compile_data(r, s, d),
                  copy_targets(r, s)};
    if (s->when.text)
        rcs[1] = cg_expr_compile_src_env(&s->when, "when", s->env, &r->when, d);
    if (s->severity.text)
        rcs[2] = compile_severity(r, &s->severity, s->env, d);
    for (int i = 0; i < 5; i++)
        if (rcs[i] == CG_ENOMEM)
            return CG_ENOMEM;
    for (int i = 0; i < 5; i++)
        if (rcs[i] != CG_OK)
            return rcs[i];
    return CG_OK;
}

static int check_topic(const struct cg_rule_spec *s, struct cg_diags *d)
{
    if (!s->topic.text || cg_topic_filter_valid(s->topic.text))
        return CG_OK;
    cg_diags_add(d, s->topic.file, s->topic.line, s->topic.col,
                 "match.topic: invalid topic filter '%s'", s->topic.text);
    return CG_EINVAL;
}

static int keep_match(struct cg_ruleset *rs, const struct cg_rule_spec *s)
{
    size_t i = rs->n_rules;
    rs->topic_filters[i] = NULL;
    rs->rule_vendors[i] = NULL;
    rs->n_rule_vendors[i] = s->n_vendors;
    if (s->topic.text && !(rs->topic_filters[i] = cg_strdup(s->topic.text)))
        return CG_ENOMEM;
    if (!s->n_vendors)
        return CG_OK;
    rs->rule_vendors[i] = cg_malloc(s->n_vendors * sizeof(uint32_t));
    if (!rs->rule_vendors[i]) {
        CG_FREE(rs->topic_filters[i]);
        return CG_ENOMEM;
    }
    memcpy(rs->rule_vendors[i], s->vendors, s->n_vendors * sizeof(uint32_t));
    return CG_OK;
}

int cg_ruleset_add(struct cg_ruleset *rs, const struct cg_rule_spec *spec,
                   struct cg_diags *d)
{
    if (grow(rs) != CG_OK)
        return CG_ENOMEM;
    struct cg_rule *r = cg_calloc(1, sizeof(*r));
    if (!r)
        return CG_ENOMEM;
    int rc = compile_rule(r, spec, d);
    int trc = check_topic(spec, d);
    if (rc == CG_OK)
        rc = trc;
    if (rc == CG_OK)
        rc = keep_match(rs, spec);
    if (rc != CG_OK) {
        rule_free(r);
        return rc;
    }
    r->index = (uint32_t)rs->n_rules;
    rs->rules[rs->n_rules++] = r;
    return CG_OK;
}

static int always_add(struct vendor_index *vi, uint32_t rule)
{
    if (vi->n_always == vi->cap_always) {
        size_t cap = vi->cap_always ? vi->cap_always * 2 : 8;
        uint32_t *p = cg_realloc(vi->always, cap * sizeof(*p));
        if (!p)
            return CG_ENOMEM;
        vi->always = p;
        vi->cap_always = cap;
    }
    vi->always[vi->n_always++] = rule;
    return CG_OK;
}

static int index_rule(struct vendor_index *vi, const char *filter,
                      uint32_t rule)
{
    if (!filter)
        return always_add(vi, rule);
    if (!vi->by_topic && !(vi->by_topic = cg_topic_trie_new()))
        return CG_ENOMEM;
    return cg_topic_trie_add(vi->by_topic, filter, rule);
}

static bool rule_has_vendor(const struct cg_ruleset *rs, size_t r, uint32_t v)
{
    if (!rs->n_rule_vendors[r])
        return true;
    for (size_t i = 0; i < rs->n_rule_vendors[r]; i++)
        if (rs->rule_vendors[r][i] == v)
            return true;
    return false;
}

int cg_ruleset_finish(struct cg_ruleset *rs)
{
    for (uint32_t v = 0; v < rs->n_vendors; v++) {
        for (size_t r = 0; r < rs->n_rules; r++) {
            if (!rule_has_vendor(rs, r, v))
                continue;
            int rc =
                index_rule(&rs->vendors[v], rs->topic_filters[r], (uint32_t)r);
            if (rc != CG_OK)
                return rc;
        }
    }
    return CG_OK;
}

struct collect {
    uint32_t *out;
    size_t n;
};

static int collect_rule(void *user, uint32_t rule)
{
    struct collect *c = user;
    c->out[c->n++] = rule;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

size_t cg_ruleset_match(const struct cg_ruleset *rs, uint32_t vendor,
                        const char *topic, size_t topic_len, uint32_t *out)
{
    if (vendor >= rs->n_vendors)
        return 0;
    const struct vendor_index *vi = &rs->vendors[vendor];
    if (vi->n_always)
        memcpy(out, vi->always, vi->n_always * sizeof(*out));
    struct collect c = {out, vi->n_always};
    if (!vi->by_topic)
        return c.n;
    cg_topic_trie_match(vi->by_topic, topic, topic_len, collect_rule, &c);
    if (c.n == vi->n_always)
        return c.n;
    /* Back into rule order; a rule reached twice (it cannot be, one filter
     * per rule) would be dropped here as well. */
    qsort(out, c.n, sizeof(*out), cmp_u32);
    size_t w = 0;
    for (size_t i = 0; i < c.n; i++)
        if (w == 0 || out[w - 1] != out[i])
            out[w++] = out[i];
    return w;
}
