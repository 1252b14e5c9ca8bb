/*
 * Which files a config was loaded from, and which of them changed: `run`
 * takes a snapshot once a second and reloads when it differs from the
 * last one, naming the file that triggered the reload (SPEC §16).
 *
 * A snapshot lists the config file, every file the rule globs select
 * now and the lookup tables' files, each with a hash of what stat() says of it
 * (size, modification time, inode), sorted by kind and path so that two
 * snapshots compare in one pass. The file contents are not read: an edit always
 * moves the modification time, and reading every rule file each second would
 * cost more than the reload it saves.
 */
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

struct watched {
    int kind; /* enum cg_file_kind */
    char *path;
    bool exists;
    uint64_t facts; /* hash of size, mtime and inode */
};

struct cg_config_files {
    struct watched *v;
    size_t n, cap;
};

static const char *const kind_names[] = {"config file", "rule file",
                                         "table file"};

static uint64_t file_facts(const char *path, bool *exists)
{
    struct stat st;
    *exists = stat(path, &st) == 0;
    if (!*exists)
        return 0;
    int64_t facts[4] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                        (int64_t)st.st_mtim.tv_nsec, (int64_t)st.st_ino};
    return cg_hash64(CG_HASH_SEED, facts, sizeof(facts));
}

static int add(struct cg_config_files *f, int kind, const char *path)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct watched *v = cg_realloc(f->v, cap * sizeof(*v));
        if (!v)
            return CG_ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    struct watched *w = &f->v[f->n];
    if (!(w->path = cg_strdup(path)))
        return CG_ENOMEM;
    w->kind = kind;
    w->facts = file_facts(path, &w->exists);
    f->n++;
    return CG_OK;
}

static int by_kind_and_path(const void *a, const void *b)
{
    const struct watched *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    return strcmp(x->path, y->path);
}

/* Every file the rule globs select now (a file two globs select is
 * listed twice: harmless, both entries compare alike). */
static int add_rule_files(const struct cg_config *cfg,
                          struct cg_config_files *f)
{
    char buf[PATH_MAX];
    int rc = CG_OK;
    for (size_t i = 0; rc == CG_OK && i < cfg->n_rule_globs; i++) {
        glob_t g;
        const char *pattern =
            cg_config_resolve(cfg, cfg->rule_globs[i].s, buf, sizeof(buf));
        if (glob(pattern, 0, NULL, &g) != 0)
            continue;
        for (size_t j = 0; rc == CG_OK && j < g.gl_pathc; j++)
            rc = add(f, CG_FILE_RULE, g.gl_pathv[j]);
        globfree(&g);
    }
    return rc;
}

int cg_config_files_snapshot(const struct cg_config *cfg,
                             struct cg_config_files **out)
{
    *out = NULL;
    struct cg_config_files *f = cg_calloc(1, sizeof(*f));
    if (!f)
        return CG_ENOMEM;
    int rc = add(f, CG_FILE_CONFIG, cfg->path);
    if (rc == CG_OK)
        rc = add_rule_files(cfg, f);
    for (size_t i = 0; rc == CG_OK && i < cfg->n_tables; i++)
        if (cfg->tables[i].path)
            rc = add(f, CG_FILE_TABLE, cfg->tables[i].path);
    if (rc != CG_OK) {
        cg_config_files_free(f);
        return rc;
    }
    qsort(f->v, f->n, sizeof(*f->v), by_kind_and_path);
    *out = f;
    return CG_OK;
}

void cg_config_files_free(struct cg_config_files *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        cg_free(f->v[i].path);
    cg_free(f->v);
    cg_free(f);
}

/* One difference in words: "rule file /x/a.yaml was added". */
static void describe(const struct watched *w, const char *what, char *why,
                     size_t size)
{
    snprintf(why, size, "%s %s %s", kind_names[w->kind], w->path, what);
}

/* Compares entries a (old) and b (new), either of which may be NULL past
 * its list's end; describes the first difference once. Returns -1, 0 or
 * 1 like a comparison, telling the caller which list to advance. */
static int step(const struct watched *a, const struct watched *b, size_t *n,
                char *why, size_t size)
{
    int order = !a ? 1 : !b ? -1 : by_kind_and_path(a, b);
    const char *what = NULL;
    if (order < 0)
        what = "was removed";
    else if (order > 0)
        what = "was added";
    else if (a->exists != b->exists)
        what = b->exists ? "was added" : "was removed";
    else if (a->facts != b->facts)
        what = "changed";
    if (what && (*n)++ == 0)
        describe(order < 0 ? a : b, what, why, size);
    return order;
}

size_t cg_config_files_diff(const struct cg_config_files *old,
                            const struct cg_config_files *now, char *why,
                            size_t size)
{
    size_t i = 0, j = 0, n = 0;
    if (size)
        why[0] = '\0';
    while (i < old->n || j < now->n) {
        const struct watched *a = i < old->n ? &old->v[i] : NULL;
        const struct watched *b = j < now->n ? &now->v[j] : NULL;
        int order = step(a, b, &n, why, size);
        i += order <= 0;
        j += order >= 0;
    }
    return n;
}
