/*
 * References inside the config: vendors name networks, rules name vendors
 * and consumers or roles, enterprises are granted private fields. Every
 * name must exist and every list of names must be free of duplicates, so
 * a typo fails at load instead of silently routing nothing.
 */
#include <string.h>

#include "internal.h"

static void ref_error(struct loader *L, const struct cg_pos *p, const char *fmt,
                      const char *name)
{
    cg_diags_add(L->d, p->file, p->line, p->col, fmt, name);
    L->errors++;
}

static int network_index(const struct cg_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_networks; i++)
        if (cfg->networks[i].name && !strcmp(cfg->networks[i].name, name))
            return (int)i;
    return -1;
}

static bool vendor_exists(const struct cg_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_vendors; i++)
        if (cfg->vendors[i].name.s && !strcmp(cfg->vendors[i].name.s, name))
            return true;
    return false;
}

static bool consumer_exists(const struct cg_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_consumers; i++)
        if (cfg->consumers[i].name.s && !strcmp(cfg->consumers[i].name.s, name))
            return true;
    return false;
}

static void check_vendors(struct loader *L)
{
    struct cg_config *cfg = L->cfg;
    for (size_t i = 0; i < cfg->n_vendors; i++) {
        struct cg_vendor_conf *v = &cfg->vendors[i];
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->vendors[j].name.s, v->name.s))
                ref_error(L, &v->name.pos, "duplicate vendor name '%s'",
                          v->name.s);
        if (!v->network.s)
            continue;
        v->network_index = network_index(cfg, v->network.s);
        if (v->network_index < 0)
            ref_error(L, &v->network.pos, "unknown network '%s'", v->network.s);
    }
}

static bool is_private_somewhere(const struct cg_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_vendors; i++)
        for (size_t j = 0; j < cfg->vendors[i].n_private; j++)
            if (!strcmp(cfg->vendors[i].private_fields[j].s, name))
                return true;
    return false;
}

static void check_consumers(struct loader *L)
{
    struct cg_config *cfg = L->cfg;
    for (size_t i = 0; i < cfg->n_consumers; i++) {
        struct cg_consumer_conf *c = &cfg->consumers[i];
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->consumers[j].name.s, c->name.s))
                ref_error(L, &c->name.pos, "duplicate consumer name '%s'",
                          c->name.s);
        if (cg_role_parse(c->name.s) >= 0)
            ref_error(L, &c->name.pos,
                      "consumer name '%s' is a role name; `to:` could not "
                      "tell them apart",
                      c->name.s);
        for (size_t g = 0; g < c->n_grants; g++)
            if (!is_private_somewhere(cfg, c->grants[g].s))
                ref_error(L, &c->grants[g].pos,
                          "grant '%s' is no vendor's private field",
                          c->grants[g].s);
    }
}

static void check_rule(struct loader *L, const struct cg_rule_conf *r)
{
    const struct cg_config *cfg = L->cfg;
    for (size_t i = 0; i < r->n_match_vendors; i++)
        if (!vendor_exists(cfg, r->match_vendors[i].s))
            ref_error(L, &r->match_vendors[i].pos,
                      "match.vendors: unknown vendor '%s'",
                      r->match_vendors[i].s);
    for (size_t i = 0; i < r->n_to; i++) {
        const char *t = r->to[i].s;
        if (cg_role_parse(t) < 0 && !consumer_exists(cfg, t))
            ref_error(L, &r->to[i].pos,
                      "to: '%s' is neither a consumer nor a role "
                      "(government | enterprise | citizen)",
                      t);
    }
}

static void check_rules(struct loader *L)
{
    struct cg_config *cfg = L->cfg;
    for (size_t f = 0; f < cfg->n_rule_files; f++) {
        struct cg_rule_file_conf *file = &cfg->rule_files[f];
        for (size_t r = 0; r < file->n_rules; r++)
            if (file->rules[r].name.s)
                check_rule(L, &file->rules[r]);
    }
    /* A domain spread over two files must still have unique rule names. */
    for (size_t f = 0; f < cfg->n_rule_files; f++)
        for (size_t g = 0; g < f; g++)
            config__check_cross_file(L, &cfg->rule_files[g],
                                     &cfg->rule_files[f]);
}

void config__check_cross_file(struct loader *L,
                              const struct cg_rule_file_conf *a,
                              const struct cg_rule_file_conf *b)
{
    if (!a->domain.s || !b->domain.s || strcmp(a->domain.s, b->domain.s))
        return;
    for (size_t i = 0; i < b->n_rules; i++)
        for (size_t j = 0; j < a->n_rules; j++)
            if (b->rules[i].name.s && a->rules[j].name.s &&
                !strcmp(b->rules[i].name.s, a->rules[j].name.s))
                ref_error(L, &b->rules[i].name.pos,
                          "duplicate rule name '%s' in its domain",
                          b->rules[i].name.s);
}

void config__check_refs(struct loader *L)
{
    check_vendors(L);
    check_consumers(L);
    check_rules(L);
}
