/*
 * citygate check: validate config, rules and plugins and print a summary
 * an operator can read at a glance (SPEC §7); with --strict, warnings
 * fail it too (SPEC §14).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_vendors(const struct cg_config *cfg)
{
    printf("vendors: %zu\n", cfg->n_vendors);
    for (size_t i = 0; i < cfg->n_vendors; i++) {
        const struct cg_vendor_conf *v = &cfg->vendors[i];
        printf("  %-22s network %-16s decoder %-8s topics", v->name.s,
               v->network.s ? v->network.s : "-", v->decoder.s);
        for (size_t t = 0; t < v->n_topics; t++)
            printf(" %s", v->topics[t].s);
        printf("\n");
    }
}

static void print_consumers(const struct cg_config *cfg,
                            const struct cg_pipeline *p)
{
    printf("consumers: %zu\n", cfg->n_consumers);
    for (size_t i = 0; i < cfg->n_consumers; i++) {
        const struct cg_consumer_conf *c = &cfg->consumers[i];
        const char *target = cg_pipeline_target(p, i);
        printf("  %-22s %-11s %-6s %s\n", c->name.s, cg_role_name(c->role),
               cg_pipeline_sink(p, i)->plugin->name, target ? target : "");
    }
}

struct domain_count {
    const char *name;
    size_t rules;
};

/* Rules per domain, in first-seen order. Domains are few, rules may be
 * thousands: one pass over the rules, a short scan of the domains. */
static void print_domains(const struct cg_ruleset *rs)
{
    size_t n = cg_ruleset_count(rs), n_domains = 0;
    struct domain_count *d = cg_calloc(n ? n : 1, sizeof(*d));
    for (size_t i = 0; d && i < n; i++) {
        const char *name = cg_ruleset_rule(rs, i)->domain;
        size_t k = 0;
        while (k < n_domains && strcmp(d[k].name, name))
            k++;
        if (k == n_domains)
            d[n_domains++].name = name;
        d[k].rules++;
    }
    printf("domains: %zu\n", n_domains);
    for (size_t k = 0; k < n_domains; k++)
        printf("  %-22s %zu rule%s\n", d[k].name, d[k].rules,
               d[k].rules == 1 ? "" : "s");
    printf("rules: %zu\n", n);
    cg_free(d);
}

static void print_plugins(const struct cg_plugin_reg *reg)
{
    size_t n = cg_plugins_count(reg);
    printf("plugins: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        const char *path;
        const struct cg_plugin *p = cg_plugins_get(reg, i, &path);
        printf("  %-22s %-8s %s\n", p->name, p->kind, path ? path : "built-in");
    }
}

int cg_cmd_check(int argc, char **argv)
{
    const char *config = CG_DEFAULT_CONFIG;
    bool strict = false;
    const struct cli_opt opts[] = {
        {'c', "config", &config, NULL}, {0, "strict", NULL, &strict}, {0}};
    size_t n_pos;
    if (cli__parse("check", argc, argv, opts, NULL, &n_pos, 0))
        return 2;
    struct cli_loaded l;
    if (cli__load(config, NULL, 0, strict ? CLI_STRICT : 0, &l))
        return 1;
    const struct cg_config *cfg = l.cfg;
    printf("%s: OK\n", cfg->path);
    printf("gateway: %s\n", cfg->gateway.id);
    printf("networks: %zu\n", cfg->n_networks);
    for (size_t i = 0; i < cfg->n_networks; i++)
        printf("  %-22s %s\n", cfg->networks[i].name, cfg->networks[i].kind);
    print_vendors(cfg);
    print_consumers(cfg, l.pipeline);
    print_domains(cg_pipeline_rules(l.pipeline));
    print_plugins(l.reg);
    cli__unload(&l);
    return 0;
}
