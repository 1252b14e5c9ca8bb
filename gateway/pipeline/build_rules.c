/*
 * Building consumers and rules: topic templates and event filters, the
 * consumer targets of each rule (roles and names resolved to indexes),
 * and for every data field the record fields it reads, so routing can
 * hide a value computed from a private field (SPEC §6).
 *
 * A config with problems is built as far as it goes, to report every
 * error at once (SPEC §14): a consumer or rule that lacks what it needs
 * still has its expressions compiled, and nothing is reported twice.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The consumer's `when:` over the events it would receive (SPEC §14). */
static int compile_filter(struct consumer_rt *c, struct cg_diags *d)
{
    const struct cg_consumer_conf *cc = c->conf;
    if (!cc->when.text)
        return CG_OK;
    int rc = cg_expr_compile_src(&cc->when, "when", &c->when, d);
    if (rc == CG_OK)
        warn__consumer(cc, c->when, d);
    return rc;
}

static int build_consumer(struct cg_pipeline *e, size_t i, struct cg_diags *d,
                          const struct cg_plugin_reg *reg)
{
    struct consumer_rt *c = &e->consumers[i];
    const struct cg_consumer_conf *cc = &e->cfg->consumers[i];
    c->conf = cc;
    int frc = compile_filter(c, d);
    if (frc == CG_ENOMEM)
        return frc;
    if (!cc->name.s || cc->sink_broken)
        return CG_EINVAL; /* the config reported why */
    c->hash = cg_hash64(CG_HASH_SEED, cc->name.s, strlen(cc->name.s));
    int rc = cg_sink_resolve(reg, e->cfg, cc, e->conf_arena, &c->sink, d);
    if (rc == CG_OK)
        rc = frc;
    if (rc != CG_OK)
        return rc;
    if (cc->n_context && !(c->context = cg_arena_alloc(
                               e->conf_arena, cc->n_context * sizeof(char *))))
        return CG_ENOMEM;
    for (size_t k = 0; k < cc->n_context; k++)
        c->context[k] = cc->context[k].s;
    c->target = c->sink.target  ? c->sink.target
                : c->sink.topic ? NULL
                : cc->sink.s    ? cc->sink.s
                                : c->sink.plugin->name;
    if (!c->sink.topic)
        return CG_OK;
    char err[160];
    size_t off = 0;
    rc = tpl__compile(c->sink.topic, &c->topic, err, sizeof(err), &off);
    if (rc == CG_EINVAL) {
        /* +off: the position of the value is its first character */
        const struct cg_pos *p = &c->sink.topic_pos;
        cg_diags_add(d, p->file, p->line, p->col + (int)off, "topic: %s", err);
    }
    return rc;
}

static int build_consumers(struct cg_pipeline *e,
                           const struct cg_plugin_reg *reg, struct cg_diags *d)
{
    size_t n = e->cfg->n_consumers;
    e->consumers = cg_calloc(n ? n : 1, sizeof(*e->consumers));
    e->conf_arena = cg_arena_new(4096);
    if (!e->consumers || !e->conf_arena)
        return CG_ENOMEM;
    e->n_consumers = n;
    int result = CG_OK;
    for (size_t i = 0; i < n; i++) {
        int rc = build_consumer(e, i, d, reg);
        if (rc == CG_ENOMEM)
            return rc;
        if (rc != CG_OK)
            result = rc;
    }
    return result;
}

static void collect_name(void *user, const char *name, size_t len)
{
    struct taint *t = user;
    char **p = cg_realloc(t->names, (t->n + 1) * sizeof(*p));
    if (p)
        t->names = p;
    if (p && (t->names[t->n] = cg_strndup(name, len)))
        t->n++;
    else
        t->all = true; /* out of memory: hide the field rather than leak */
}

int taint__collect(const struct cg_expr *x, struct taint *t)
{
    struct cg_expr_reads r = {false, false};
    cg_expr_reads(x, &r, collect_name, t);
    t->all = t->all || r.all;
    t->device = r.device;
    return CG_OK;
}

void taint__free(struct taint *t)
{
    for (size_t i = 0; i < t->n; i++)
        cg_free(t->names[i]);
    cg_free(t->names);
}

struct spec_buf { /* what one rule spec points at while it is added */
    uint32_t *vendors;
    uint32_t *targets;
    struct cg_named_src *data;
};

static size_t resolve_targets(const struct cg_pipeline *e,
                              const struct cg_rule_conf *r, uint32_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_to; i++) {
        int role = cg_role_parse(r->to[i].s);
        for (size_t c = 0; c < e->n_consumers; c++) {
            const struct cg_consumer_conf *cc = e->consumers[c].conf;
            if (cc && cc->name.s &&
                (role >= 0 ? cc->role == role
                           : !strcmp(cc->name.s, r->to[i].s)))
                out[n++] = (uint32_t)c;
        }
    }
    return n;
}

static size_t resolve_vendors(const struct cg_pipeline *e,
                              const struct cg_rule_conf *r, uint32_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_match_vendors; i++)
        for (size_t v = 0; v < e->n_vendors; v++)
            if (e->vendors[v].conf->name.s &&
                !strcmp(e->vendors[v].conf->name.s, r->match_vendors[i].s))
                out[n++] = (uint32_t)v;
    return n;
}

static void fill_spec(const struct cg_pipeline *e, const struct cg_rule_conf *r,
                      struct spec_buf *b, struct cg_rule_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->domain = r->domain;
    s->name = r->name.s;
    s->type = r->type.s;
    s->description = r->description;
    s->when = r->when;
    s->severity = r->severity;
    s->has_data = r->has_data;
    for (size_t i = 0; i < r->n_data; i++) {
        b->data[i].name = r->data[i].name.s;
        b->data[i].src = r->data[i].expr;
    }
    s->data = b->data;
    s->n_data = r->n_data;
    s->n_vendors = resolve_vendors(e, r, b->vendors);
    s->vendors = b->vendors;
    if (r->match_topic.s) {
        s->topic.text = r->match_topic.s;
        s->topic.file = r->match_topic.pos.file;
        s->topic.line = r->match_topic.pos.line;
        s->topic.col = r->match_topic.pos.col;
    }
    s->n_targets = resolve_targets(e, r, b->targets);
    s->targets = b->targets;
    s->pos.file = r->pos.file;
    s->pos.line = r->pos.line;
    s->pos.col = r->pos.col;
    s->env = &e->env;
}

/* A rule without a name or domain (the config said so) cannot join the
 * ruleset, but its expressions can still be checked. */
static int check_only(struct cg_pipeline *e, const struct cg_rule_conf *r,
                      struct cg_diags *d)
{
    const struct cg_src *srcs[2] = {&r->when, &r->severity};
    const char *what[2] = {"when", "severity"};
    int result = CG_EINVAL;
    for (size_t i = 0; i < 2 + r->n_data; i++) {
        const struct cg_src *src = i < 2 ? srcs[i] : &r->data[i - 2].expr;
        struct cg_expr *x = NULL;
        char name[96];
        snprintf(name, sizeof(name), "data.%s",
                 i < 2 ? "" : r->data[i - 2].name.s);
        if (src->text && cg_expr_compile_src_env(src, i < 2 ? what[i] : name,
                                                 &e->env, &x, d) == CG_ENOMEM)
            result = CG_ENOMEM;
        cg_expr_free(x);
    }
    return result;
}

static bool severity_word(const char *s)
{
    return !strcmp(s, "info") || !strcmp(s, "warning") ||
           !strcmp(s, "critical");
}

/* A rule that did not compile still gets the warnings of its parts that
 * do: they are compiled again, quietly, since their errors are reported
 * already. */
static void warn_failed(struct cg_pipeline *e, const struct cg_rule_conf *r,
                        struct cg_diags *d)
{
    struct cg_diags quiet = {0};
    struct cg_expr *when = NULL, *severity = NULL;
    struct cg_expr **data = cg_calloc(r->n_data + 1, sizeof(*data));
    if (!data)
        return;
    if (r->when.text)
        cg_expr_compile_src_env(&r->when, "", &e->env, &when, &quiet);
    if (r->severity.text && !severity_word(r->severity.text))
        cg_expr_compile_src_env(&r->severity, "", &e->env, &severity, &quiet);
    for (size_t i = 0; i < r->n_data; i++)
        if (r->data[i].expr.text)
            cg_expr_compile_src_env(&r->data[i].expr, "", &e->env, &data[i],
                                    &quiet);
    struct rule_exprs x = {when, severity, data, r->n_data};
    warn__rule(e, r, &x, d);
    cg_expr_free(when);
    cg_expr_free(severity);
    for (size_t i = 0; i < r->n_data; i++)
        cg_expr_free(data[i]);
    cg_free(data);
    cg_diags_free(&quiet);
}

static void warn_rule(struct cg_pipeline *e, const struct cg_rule_conf *r,
                      int rc, struct cg_diags *d)
{
    if (rc == CG_EINVAL) {
        warn_failed(e, r, d);
        return;
    }
    const struct cg_rule *rule =
        cg_ruleset_rule(e->rules, cg_ruleset_count(e->rules) - 1);
    struct rule_exprs x = {rule->when, rule->severity, rule->data,
                           rule->n_data};
    warn__rule(e, r, &x, d);
}

static int add_rule(struct cg_pipeline *e, const struct cg_rule_conf *r,
                    struct cg_diags *d)
{
    if (!r->name.s || !r->domain)
        return check_only(e, r, d);
    struct spec_buf b;
    b.targets = cg_malloc((e->n_consumers * r->n_to + 1) * sizeof(uint32_t));
    b.data = cg_calloc(r->n_data + 1, sizeof(*b.data));
    b.vendors = cg_malloc((r->n_match_vendors + 1) * sizeof(uint32_t));
    int rc = CG_ENOMEM;
    if (b.targets && b.data && b.vendors) {
        struct cg_rule_spec spec;
        fill_spec(e, r, &b, &spec);
        rc = cg_ruleset_add(e->rules, &spec, d);
        if (rc != CG_ENOMEM)
            warn_rule(e, r, rc, d);
    }
    cg_free(b.targets);
    cg_free(b.data);
    cg_free(b.vendors);
    return rc;
}

/* The index of the rule's domain, added on first sight. Domains are few
 * (one per rule file, usually), so a scan is cheap enough at load. */
static uint32_t domain_of(struct cg_pipeline *e, const char *name)
{
    for (size_t i = 0; i < e->n_domains; i++)
        if (!strcmp(e->domains[i].name, name))
            return (uint32_t)i;
    e->domains[e->n_domains].name = name;
    return (uint32_t)e->n_domains++;
}

static int build_rule_rt(struct cg_pipeline *e)
{
    size_t n = cg_ruleset_count(e->rules);
    e->rule_rt = cg_calloc(n ? n : 1, sizeof(*e->rule_rt));
    e->domains = cg_calloc(n ? n : 1, sizeof(*e->domains));
    if (!e->rule_rt || !e->domains)
        return CG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct cg_rule *r = cg_ruleset_rule(e->rules, i);
        struct rule_rt *rt = &e->rule_rt[i];
        rt->domain = domain_of(e, r->domain);
        rt->hash = cg_hash64(CG_HASH_SEED, r->full_name, strlen(r->full_name));
        rt->taints = cg_calloc(r->n_data + 1, sizeof(*rt->taints));
        if (!rt->taints)
            return CG_ENOMEM;
        for (size_t f = 0; f < r->n_data; f++)
            taint__collect(r->data[f], &rt->taints[f]);
    }
    return CG_OK;
}

int build__rules(struct cg_pipeline *e, const struct cg_plugin_reg *reg,
                 struct cg_diags *d)
{
    const struct cg_config *cfg = e->cfg;
    if (build__tables(e, d) != CG_OK)
        return CG_ENOMEM;
    int result = build_consumers(e, reg, d);
    if (result == CG_ENOMEM)
        return result;
    if (!(e->rules = cg_ruleset_new(e->n_vendors)))
        return CG_ENOMEM;
    for (size_t f = 0; f < cfg->n_rule_files; f++) {
        const struct cg_rule_file_conf *file = &cfg->rule_files[f];
        for (size_t i = 0; i < file->n_rules; i++) {
            int rc = add_rule(e, &file->rules[i], d);
            if (rc == CG_ENOMEM)
                return rc;
            if (rc != CG_OK)
                result = rc;
        }
    }
    if (result != CG_OK)
        return result;
    int rc = cg_ruleset_finish(e->rules);
    return rc == CG_OK ? build_rule_rt(e) : rc;
}

void build__free_rules(struct cg_pipeline *e)
{
    size_t n = e->rules ? cg_ruleset_count(e->rules) : 0;
    for (size_t i = 0; e->rule_rt && i < n; i++) {
        const struct cg_rule *r = cg_ruleset_rule(e->rules, i);
        for (size_t f = 0; e->rule_rt[i].taints && f < r->n_data; f++)
            taint__free(&e->rule_rt[i].taints[f]);
        cg_free(e->rule_rt[i].taints);
    }
    CG_FREE(e->rule_rt);
    CG_FREE(e->domains);
    e->n_domains = 0;
    cg_ruleset_free(e->rules);
    e->rules = NULL;
    for (size_t i = 0; e->consumers && i < e->n_consumers; i++) {
        tpl__free(&e->consumers[i].topic);
        cg_expr_free(e->consumers[i].when);
    }
    CG_FREE(e->consumers);
    build__free_tables(e); /* after every expression that reads them */
}
