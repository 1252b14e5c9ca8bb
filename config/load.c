/*
 * cg_config_load: reads the config file and the rule files it names,
 * applies the section tables in dependency order and checks every
 * reference that lives inside the config. Every problem is collected with
 * its position, and loading goes on past every problem, so that one run
 * reports them all; a config with any problem is returned only by
 * cg_config_load_partial, for the gateway to compile what it can.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int skip(struct loader *L, yaml_node_t *n, void *base)
{
    return 0; /* sections are loaded in order afterwards */
}

static const struct field top_fields[] = {
    {.key = "gateway", .type = FT_CUSTOM, .parse = skip},
    {.key = "broker", .type = FT_CUSTOM, .parse = skip},
    {.key = "networks", .type = FT_CUSTOM, .parse = skip},
    {.key = "vendors", .type = FT_CUSTOM, .required = 1, .parse = skip},
    {.key = "consumers", .type = FT_CUSTOM, .required = 1, .parse = skip},
    {FIELD(struct cg_config, rule_globs, "rules", FT_PLIST), .required = 1},
    {FIELD(struct cg_config, plugin_globs, "plugins", FT_PLIST)},
    {.key = "tables", .type = FT_CUSTOM, .parse = skip},
    {0}};

const char *loader_resolve(struct loader *L, const char *path)
{
    char buf[PATH_MAX];
    if (!path)
        return NULL;
    return loader_strdup(L, cg_config_resolve(L->cfg, path, buf, sizeof(buf)));
}

const char *cg_config_resolve(const struct cg_config *cfg, const char *path,
                              char *buf, size_t size)
{
    if (path[0] == '/')
        snprintf(buf, size, "%s", path);
    else
        snprintf(buf, size, "%s/%s", cfg->dir,
                 strncmp(path, "./", 2) == 0 ? path + 2 : path);
    return buf;
}

/* Parses L->text into doc; returns the root mapping or NULL. */
static yaml_node_t *parse_yaml(struct loader *L, yaml_document_t *doc)
{
    if (yaml_compose(L, doc) < 0)
        return NULL;
    L->doc = doc;
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) {
        cg_diags_add(L->d, L->file, 1, 1, "the file is empty");
        L->errors++;
    } else if (root->type != YAML_MAPPING_NODE) {
        loader_error(L, root, "expected a mapping at the top level");
        root = NULL;
    }
    return root;
}

static void load_sections(struct loader *L, yaml_node_t *root)
{
    struct cg_config *cfg = L->cfg;
    schema_apply(L, root, top_fields, cfg); /* each section goes on */
    struct {
        const char *key;
        int (*load)(struct loader *, yaml_node_t *, void *);
        int optional;
    } order[] = {{"gateway", load_gateway, 1},     {"broker", load_broker, 1},
                 {"networks", load_networks, 0},   {"vendors", load_vendors, 0},
                 {"consumers", load_consumers, 0}, {"tables", load_tables, 1}};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        yaml_node_t *n = map_get(L, root, order[i].key);
        size_t mark = where_push(L, ".%s", order[i].key);
        if (n || order[i].optional)
            order[i].load(L, n, cfg);
        where_pop(L, mark);
    }
}

static int load_main(struct loader *L, const char *path)
{
    struct file_text f;
    const char *why;
    int err = read_text_file(path, &f, &why);
    if (err) {
        cg_diags_add(L->d, path, 0, 0, "cannot read the config file: %s", why);
        return err == ENOMEM ? CG_ENOMEM : CG_ENOENT;
    }
    char *text = f.text;
    L->text = text;
    L->text_len = f.len;
    yaml_document_t doc;
    yaml_node_t *root = parse_yaml(L, &doc);
    if (root)
        load_sections(L, root);
    if (L->doc)
        yaml_document_delete(&doc);
    L->doc = NULL;
    cg_free(text);
    return CG_OK;
}

static void load_one_rule_file(struct loader *parent, const char *path)
{
    struct cg_config *cfg = parent->cfg;
    struct loader L = {.cfg = cfg, .arena = parent->arena, .d = parent->d};
    L.file = loader_strdup(&L, path);
    struct file_text ft;
    const char *why;
    int err = read_text_file(path, &ft, &why);
    if (err == ENOMEM) {
        parent->oom = 1;
        return;
    }
    if (err) {
        cg_diags_add(L.d, path, 0, 0, "cannot read the rule file: %s", why);
        parent->errors++;
        return;
    }
    char *text = ft.text;
    L.text = text;
    L.text_len = ft.len;
    yaml_document_t doc;
    yaml_node_t *root = parse_yaml(&L, &doc);
    struct cg_rule_file_conf *f = &cfg->rule_files[cfg->n_rule_files++];
    f->path = L.file;
    if (root)
        load_rule_file(&L, root, f);
    if (L.doc)
        yaml_document_delete(&doc);
    cg_free(text);
    name_map_free(&L.rule_names);
    parent->errors += L.errors;
    parent->oom |= L.oom;
}

static void load_rule_files(struct loader *L, const char *const *only,
                            size_t n_only)
{
    struct cg_config *cfg = L->cfg;
    struct path_list files = {0};
    const char *const *paths = only;
    size_t n = n_only;
    if (!only) {
        expand_globs(L, cfg->rule_globs, cfg->n_rule_globs, &files, "rules");
        paths = files.v;
        n = files.n;
    }
    cfg->rule_files = loader_alloc(L, (n ? n : 1) * sizeof(*cfg->rule_files));
    for (size_t i = 0; cfg->rule_files && i < n; i++)
        load_one_rule_file(L, paths[i]);
    path_list_free(&files);
}

static void load_plugin_paths(struct loader *L)
{
    struct cg_config *cfg = L->cfg;
    struct path_list files = {0};
    if (!cfg->n_plugin_globs)
        return;
    expand_globs(L, cfg->plugin_globs, cfg->n_plugin_globs, &files, "plugins");
    cfg->plugin_paths =
        loader_alloc(L, (files.n ? files.n : 1) * sizeof(char *));
    if (cfg->plugin_paths && files.n) {
        memcpy(cfg->plugin_paths, files.v, files.n * sizeof(char *));
        cfg->n_plugin_paths = files.n;
    }
    path_list_free(&files);
}

static int dir_of(struct loader *L, const char *path)
{
    char buf[PATH_MAX], real[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash)
        *(slash == buf ? slash + 1 : slash) = '\0';
    else
        snprintf(buf, sizeof(buf), ".");
    /* Absolute, so that resolved paths mean the same after a chdir and
     * read unambiguously in `eval` output. */
    L->cfg->dir = loader_strdup(L, realpath(buf, real) ? real : buf);
    L->cfg->path = loader_strdup(L, path);
    return L->oom ? CG_ENOMEM : CG_OK;
}

int cg_config_load_partial(const char *path, const char *const *only_rule_files,
                           size_t n_only, struct cg_config **out,
                           struct cg_diags *d)
{
    *out = NULL;
    struct cg_config *cfg = cg_calloc(1, sizeof(*cfg));
    struct cg_arena *arena = cg_arena_new(64 * 1024);
    if (!cfg || !arena) {
        cg_free(cfg);
        cg_arena_free(arena);
        return CG_ENOMEM;
    }
    cfg->arena = arena;
    struct loader L = {.cfg = cfg, .arena = arena, .d = d};
    L.file = loader_strdup(&L, path);
    int rc = dir_of(&L, path);
    if (rc == CG_OK)
        rc = load_main(&L, path);
    if (rc == CG_OK && (cfg->n_rule_globs || only_rule_files)) {
        load_rule_files(&L, only_rule_files, n_only);
        load_plugin_paths(&L);
    }
    if (rc == CG_OK) /* references too, whatever else went wrong */
        config__check_refs(&L);
    if (rc == CG_OK && L.oom)
        rc = CG_ENOMEM;
    if (rc == CG_OK && L.errors)
        rc = CG_EINVAL;
    if (rc != CG_OK && rc != CG_EINVAL)
        cg_config_free(cfg);
    else
        *out = cfg;
    return rc;
}

int cg_config_load(const char *path, const char *const *only_rule_files,
                   size_t n_only, struct cg_config **out, struct cg_diags *d)
{
    int rc = cg_config_load_partial(path, only_rule_files, n_only, out, d);
    if (rc != CG_OK) {
        cg_config_free(*out);
        *out = NULL;
    }
    return rc;
}

void cg_config_free(struct cg_config *cfg)
{
    if (!cfg)
        return;
    cg_arena_free(cfg->arena);
    cg_free(cfg);
}
