/*
 * References inside the config: vendors name networks, rules name vendors
 * and consumers or roles, enterprises are granted private fields. Every
 * name must exist and every list of names must be free of duplicates, so
 * a typo fails at load instead of silently routing nothing. An unknown
 * name gets a "did you mean" when a known one is a typo away. These
 * checks run even when other parts of the config had problems, so every
 * name a problem left unset is NULL here and skipped.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void ref_error(struct loader *L, const struct cg_pos *p, const char *fmt,
                      const char *name)
{
    cg_diags_add(L->d, p->file, p->line, p->col, fmt, name);
    L->errors++;
}

/* The known name closest to an unknown one, if a typo away: at most one
 * edit for names of up to four characters, two for longer ones. Case does
 * not count: `VA` for the vendor `va` is the same name written in
 * capitals, not two typos, and every kind of name (networks, vendors,
 * `to`) is compared this one way. */
struct near {
    const char *name, *best;
    size_t dist;
};

static void near_init(struct near *n, const char *name)
{
    n->name = name;
    n->best = NULL;
    n->dist = strlen(name) <= 4 ? 2 : 3;
}

/* s in lower case into buf (of 32 bytes); a longer name is kept as it
 * is, since cg_edit_distance gives up past 30 bytes anyway. */
static const char *folded(const char *s, char *buf)
{
    size_t i = 0;
    for (; i < 31 && s[i]; i++)
        buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] | 0x20 : s[i]);
    if (s[i])
        return s;
    buf[i] = '\0';
    return buf;
}

static void near_try(struct near *n, const char *candidate)
{
    char a[32], b[32];
    if (!candidate)
        return;
    size_t d = cg_edit_distance(folded(n->name, a), folded(candidate, b));
    if (d < n->dist) {
        n->dist = d;
        n->best = candidate;
    }
}

/* Reports an unknown name: `what` holds one %s for it; a close known name
 * follows as "did you mean". */
static void unknown_ref(struct loader *L, const struct cg_pos *p,
                        const char *what, const struct near *n,
                        const char *otherwise)
{
    char msg[CG_DIAG_MSG_MAX];
    snprintf(msg, sizeof(msg), what, n->name);
    if (n->best)
        cg_diags_add(L->d, p->file, p->line, p->col, "%s; did you mean '%s'?",
                     msg, n->best);
    else
        cg_diags_add(L->d, p->file, p->line, p->col, "%s%s", msg, otherwise);
    L->errors++;
}

/* Every name a reference may point to, hashed: rules are many, and each
 * names vendors and consumers (keys are the config's arena strings). */
struct names {
    struct name_map networks, vendors, consumers, private_fields;
};

static void put_name(struct loader *L, struct name_map *m, const char *name,
                     size_t i)
{
    size_t old;
    if (name && !name_map_get(m, name, &old) && name_map_put(m, name, i) < 0)
        L->oom = 1;
}

static void names_index(struct loader *L, struct names *nm)
{
    const struct cg_config *cfg = L->cfg;
    for (size_t i = 0; i < cfg->n_networks; i++)
        put_name(L, &nm->networks, cfg->networks[i].name, i);
    for (size_t i = 0; i < cfg->n_vendors; i++) {
        const struct cg_vendor_conf *v = &cfg->vendors[i];
        for (size_t j = 0; j < v->n_private; j++)
            put_name(L, &nm->private_fields, v->private_fields[j].s, i);
        /* A device id built from a private field is private as if listed
         * (SPEC §6), and a `device` grant reveals it. */
        if (v->n_private && v->device.text)
            put_name(L, &nm->private_fields, "device", i);
    }
    /* A table's private column is granted as "<table>.<column>". */
    for (size_t i = 0; i < cfg->n_tables; i++) {
        const struct cg_table_conf *t = &cfg->tables[i];
        for (size_t j = 0; t->name.s && j < t->n_private; j++) {
            char buf[512];
            snprintf(buf, sizeof(buf), "%s.%s", t->name.s,
                     t->private_cols[j].s);
            put_name(L, &nm->private_fields, loader_strdup(L, buf), i);
        }
    }
}

static void names_free(struct names *nm)
{
    name_map_free(&nm->networks);
    name_map_free(&nm->vendors);
    name_map_free(&nm->consumers);
    name_map_free(&nm->private_fields);
}

/* Adds a name to its map; a second one is reported. */
static void unique_name(struct loader *L, struct name_map *m,
                        const struct cg_pstr *name, size_t i, const char *what)
{
    size_t first;
    if (!name->s)
        return;
    if (name_map_get(m, name->s, &first))
        ref_error(L, &name->pos, what, name->s);
    else
        put_name(L, m, name->s, i);
}

static void check_vendors(struct loader *L, struct names *nm)
{
    struct cg_config *cfg = L->cfg;
    for (size_t i = 0; i < cfg->n_vendors; i++) {
        struct cg_vendor_conf *v = &cfg->vendors[i];
        size_t net;
        unique_name(L, &nm->vendors, &v->name, i, "duplicate vendor name '%s'");
        if (!v->network.s)
            continue;
        v->network_index =
            name_map_get(&nm->networks, v->network.s, &net) ? (int)net : -1;
        if (v->network_index < 0) {
            struct near n;
            near_init(&n, v->network.s);
            for (size_t k = 0; k < cfg->n_networks; k++)
                near_try(&n, cfg->networks[k].name);
            unknown_ref(L, &v->network.pos, "unknown network '%s'", &n, "");
        }
    }
}

/* A grant that names no private field: the nearest one, or the table
 * column of that name (granted as <table>.<column>). */
static void unknown_grant(struct loader *L, const struct cg_pstr *g)
{
    const struct cg_config *cfg = L->cfg;
    struct near n;
    near_init(&n, g->s);
    for (size_t i = 0; i < cfg->n_vendors; i++)
        for (size_t j = 0; j < cfg->vendors[i].n_private; j++)
            near_try(&n, cfg->vendors[i].private_fields[j].s);
    for (size_t i = 0; i < cfg->n_tables; i++) {
        const struct cg_table_conf *t = &cfg->tables[i];
        for (size_t j = 0; t->name.s && j < t->n_private; j++) {
            if (!t->private_cols[j].s || strcmp(t->private_cols[j].s, g->s))
                continue;
            char buf[512];
            snprintf(buf, sizeof(buf), "%s.%s", t->name.s, g->s);
            n.best = loader_strdup(L, buf);
            n.dist = 0;
        }
    }
    unknown_ref(L, &g->pos, "grant '%s' is no vendor's private field", &n, "");
}

static void check_consumers(struct loader *L, struct names *nm)
{
    struct cg_config *cfg = L->cfg;
    for (size_t i = 0; i < cfg->n_consumers; i++) {
        struct cg_consumer_conf *c = &cfg->consumers[i];
        size_t ignored;
        unique_name(L, &nm->consumers, &c->name, i,
                    "duplicate consumer name '%s'");
        if (c->name.s && cg_role_parse(c->name.s) >= 0)
            ref_error(L, &c->name.pos,
                      "consumer name '%s' is a role name; `to:` could not "
                      "tell them apart",
                      c->name.s);
        for (size_t g = 0; g < c->n_grants; g++)
            if (!name_map_get(&nm->private_fields, c->grants[g].s, &ignored))
                unknown_grant(L, &c->grants[g]);
    }
}

static void unknown_vendor(struct loader *L, const struct cg_pstr *v)
{
    const struct cg_config *cfg = L->cfg;
    struct near n;
    near_init(&n, v->s);
    for (size_t k = 0; k < cfg->n_vendors; k++)
        near_try(&n, cfg->vendors[k].name.s);
    unknown_ref(L, &v->pos, "match.vendors: unknown vendor '%s'", &n, "");
}

static void unknown_target(struct loader *L, const struct cg_pstr *t)
{
    const struct cg_config *cfg = L->cfg;
    struct near n;
    near_init(&n, t->s);
    for (int role = CG_ROLE_GOVERNMENT; role <= CG_ROLE_CITIZEN; role++)
        near_try(&n, cg_role_name(role));
    for (size_t k = 0; k < cfg->n_consumers; k++)
        near_try(&n, cfg->consumers[k].name.s);
    unknown_ref(L, &t->pos, "to: '%s' is neither a consumer nor a role", &n,
                " (government | enterprise | citizen)");
}

static void check_rule(struct loader *L, const struct names *nm,
                       const struct cg_rule_conf *r)
{
    size_t ignored;
    for (size_t i = 0; i < r->n_match_vendors; i++)
        if (!name_map_get(&nm->vendors, r->match_vendors[i].s, &ignored))
            unknown_vendor(L, &r->match_vendors[i]);
    for (size_t i = 0; i < r->n_to; i++) {
        const char *t = r->to[i].s;
        if (cg_role_parse(t) < 0 && !name_map_get(&nm->consumers, t, &ignored))
            unknown_target(L, &r->to[i]);
    }
}

/* A domain spread over several files must still have unique rule names
 * (names within one file were checked as it loaded). */
static void check_rules(struct loader *L, const struct names *nm)
{
    struct cg_config *cfg = L->cfg;
    struct name_map full = {0};
    for (size_t f = 0; f < cfg->n_rule_files; f++) {
        const struct cg_rule_file_conf *file = &cfg->rule_files[f];
        for (size_t r = 0; r < file->n_rules; r++) {
            const struct cg_rule_conf *rule = &file->rules[r];
            size_t first;
            check_rule(L, nm, rule);
            if (!rule->name.s || !rule->full_name)
                continue;
            /* One file's duplicates were reported as it loaded. */
            if (name_map_get(&full, rule->full_name, &first)) {
                if (first != f) {
                    const struct cg_pos *at = &rule->name.pos;
                    cg_diags_add(L->d, at->file, at->line, at->col,
                                 "duplicate rule name '%s' in domain '%s' "
                                 "(also in %s)",
                                 rule->name.s, file->domain.s,
                                 cfg->rule_files[first].path);
                    L->errors++;
                }
            } else if (name_map_put(&full, rule->full_name, f) < 0)
                L->oom = 1;
        }
    }
    name_map_free(&full);
}

/* Who holds a connection, for a message: 0 and 1 are the gateway's. */
static void connection_owner(const struct cg_config *cfg, size_t who, char *buf,
                             size_t size)
{
    if (who < 2)
        snprintf(buf, size, "the gateway's %s connection",
                 who ? "output" : "intake");
    else
        snprintf(buf, size, "consumer '%s'", cfg->consumers[who - 2].name.s);
}

/* Records a connection's (uri, client id); a second one is an error at
 * pos. */
static void connection_id(struct loader *L, struct name_map *ids,
                          const struct cg_broker_conf *b, const char *suffix,
                          size_t who)
{
    char key[1024];
    size_t first;
    if (!b->uri || !b->client_id)
        return;
    snprintf(key, sizeof(key), "%s\n%s%s", b->uri, b->client_id, suffix);
    if (name_map_get(ids, key, &first)) {
        char owner[200], shown[512];
        connection_owner(L->cfg, first, owner, sizeof(owner));
        cg_diags_add(L->d, b->pos.file, b->pos.line, b->pos.col,
                     "client_id '%s%s' is already used on %s by %s",
                     b->client_id, suffix,
                     cg_uri_redacted(b->uri, shown, sizeof(shown)), owner);
        L->errors++;
        return;
    }
    const char *copy = loader_strdup(L, key);
    if (copy && name_map_put(ids, copy, who) < 0)
        L->oom = 1;
}

/* A broker drops the older of two connections with one client id, and
 * they take turns forever: the gateway's intake (client_id), its output
 * (client_id-out) and each consumer's own connection need distinct ids
 * on one broker. */
static void check_client_ids(struct loader *L)
{
    const struct cg_config *cfg = L->cfg;
    struct name_map ids = {0};
    connection_id(L, &ids, &cfg->broker, "", 0);
    connection_id(L, &ids, &cfg->broker, "-out", 1);
    for (size_t i = 0; i < cfg->n_consumers; i++)
        if (cfg->consumers[i].broker)
            connection_id(L, &ids, cfg->consumers[i].broker, "", i + 2);
    name_map_free(&ids);
}

void config__check_refs(struct loader *L)
{
    struct names nm = {0};
    names_index(L, &nm);
    check_vendors(L, &nm);
    check_consumers(L, &nm);
    check_rules(L, &nm);
    check_client_ids(L);
    names_free(&nm);
}
