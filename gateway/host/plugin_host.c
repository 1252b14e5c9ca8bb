/*
 * The plugin registry: the built-in decoders and sinks plus shared objects
 * loaded from the config's `plugins` paths, all behind one descriptor
 * (citygate_plugin.h). A loaded descriptor is copied into a zeroed struct
 * of the host's size, so fields a plugin's older header did not have read
 * as absent.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "builtin.h"
#include "host.h"

struct entry {
    struct cg_plugin desc; /* the copy the host reads */
    const char *path;      /* NULL: built in */
};

struct cg_plugin_reg {
    int refs; /* guarded by the one thread that loads and reloads */
    struct entry *v;
    size_t n, cap;
    void **handles; /* dlopen handles, closed on free */
    size_t n_handles;
};

static const struct cg_plugin *const builtins[] = {
    &cg_builtin_decode_json, &cg_builtin_decode_kv, &cg_builtin_decode_csv,
    &cg_builtin_decode_lpp,  &cg_builtin_sink_mqtt, &cg_builtin_sink_http,
    &cg_builtin_sink_file,
};

static struct cg_plugin copy_descriptor(const struct cg_plugin *p);

static int reg_add(struct cg_plugin_reg *reg, const struct cg_plugin *p,
                   const char *path)
{
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        struct entry *v = cg_realloc(reg->v, cap * sizeof(*v));
        if (!v)
            return CG_ENOMEM;
        reg->v = v;
        reg->cap = cap;
    }
    struct entry *e = &reg->v[reg->n];
    e->desc = copy_descriptor(p);
    e->path = path;
    if (path && !(e->path = cg_strdup(path)))
        return CG_ENOMEM;
    reg->n++;
    return CG_OK;
}

static struct cg_plugin copy_descriptor(const struct cg_plugin *p)
{
    struct cg_plugin c;
    memset(&c, 0, sizeof(c));
    memcpy(&c, p, p->struct_size < sizeof(c) ? p->struct_size : sizeof(c));
    return c;
}

/* Why a descriptor (the host's copy) cannot be used, or NULL. */
static const char *descriptor_problem(const struct cg_plugin *p, char *why,
                                      size_t size)
{
    if (p->abi_version != CG_PLUGIN_ABI) {
        snprintf(why, size,
                 "built for plugin ABI %u, this citygate speaks ABI %d",
                 p->abi_version, CG_PLUGIN_ABI);
        return why;
    }
    if (!p->name || !p->kind || !p->create || !p->destroy)
        return "its descriptor lacks a name, kind, create or destroy";
    if (!strcmp(p->kind, "decoder"))
        return p->decode ? NULL : "a decoder without decode()";
    if (!strcmp(p->kind, "sink"))
        return p->deliver ? NULL : "a sink without deliver()";
    return "its kind is neither \"decoder\" nor \"sink\"";
}

static void load_shared(struct cg_plugin_reg *reg, const char *path,
                        struct cg_diags *d)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        cg_diags_add(d, path, 0, 0, "cannot load plugin: %s", dlerror());
        return;
    }
    reg->handles[reg->n_handles++] = h;
    cg_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, "cg_plugin_entry");
    const struct cg_plugin *p = entry ? entry() : NULL;
    char buf[128];
    struct cg_plugin c;
    if (p)
        c = copy_descriptor(p);
    const char *why = !entry ? "it does not export cg_plugin_entry"
                      : !p   ? "cg_plugin_entry() returned NULL"
                             : descriptor_problem(&c, buf, sizeof(buf));
    if (why) {
        cg_diags_add(d, path, 0, 0, "plugin refused: %s", why);
        return;
    }
    if (cg_plugins_find(reg, c.kind, c.name)) {
        cg_diags_add(d, path, 0, 0, "plugin refused: a %s named '%s' exists",
                     c.kind, c.name);
        return;
    }
    if (reg_add(reg, p, path) != CG_OK)
        cg_diags_add(d, path, 0, 0, "out of memory");
}

int cg_plugins_load(const char *const *paths, size_t n,
                    struct cg_plugin_reg **out, struct cg_diags *d)
{
    *out = NULL;
    struct cg_plugin_reg *reg = cg_calloc(1, sizeof(*reg));
    if (!reg || !(reg->handles = cg_calloc(n ? n : 1, sizeof(void *)))) {
        cg_free(reg);
        return CG_ENOMEM;
    }
    reg->refs = 1;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (reg_add(reg, builtins[i], NULL) != CG_OK) {
            cg_plugins_free(reg);
            return CG_ENOMEM;
        }
    size_t before = d->n;
    for (size_t i = 0; i < n; i++)
        load_shared(reg, paths[i], d);
    if (d->n > before) {
        cg_plugins_free(reg);
        return CG_EINVAL;
    }
    *out = reg;
    return CG_OK;
}

struct cg_plugin_reg *cg_plugins_ref(struct cg_plugin_reg *reg)
{
    reg->refs++;
    return reg;
}

void cg_plugins_free(struct cg_plugin_reg *reg)
{
    if (!reg || --reg->refs > 0)
        return;
    for (size_t i = 0; i < reg->n; i++)
        cg_free((char *)reg->v[i].path);
    for (size_t i = 0; i < reg->n_handles; i++)
        dlclose(reg->handles[i]);
    cg_free(reg->handles);
    cg_free(reg->v);
    cg_free(reg);
}

const struct cg_plugin *cg_plugins_find(const struct cg_plugin_reg *reg,
                                        const char *kind, const char *name)
{
    for (size_t i = 0; i < reg->n; i++)
        if (!strcmp(reg->v[i].desc.kind, kind) &&
            !strcmp(reg->v[i].desc.name, name))
            return &reg->v[i].desc;
    return NULL;
}

size_t cg_plugins_count(const struct cg_plugin_reg *reg)
{
    return reg->n;
}

const struct cg_plugin *cg_plugins_get(const struct cg_plugin_reg *reg,
                                       size_t i, const char **path)
{
    if (i >= reg->n)
        return NULL;
    if (path)
        *path = reg->v[i].path;
    return &reg->v[i].desc;
}

const struct cg_plugin *cg_plugins_default_sink(const struct cg_plugin_reg *reg)
{
    return cg_plugins_find(reg, "sink", cg_builtin_default_sink->name);
}

const struct cg_plugin *cg_plugins_lookup(const struct cg_plugin_reg *reg,
                                          const char *kind, const char *spec)
{
    bool loaded = !strncmp(spec, "plugin:", 7);
    const char *name = loaded ? spec + 7 : spec;
    for (size_t i = 0; i < reg->n; i++)
        if ((reg->v[i].path != NULL) == loaded &&
            !strcmp(reg->v[i].desc.kind, kind) &&
            !strcmp(reg->v[i].desc.name, name))
            return &reg->v[i].desc;
    return NULL;
}

void cg_plugins_builtin_names(const struct cg_plugin_reg *reg, const char *kind,
                              struct cg_buf *out)
{
    for (size_t i = 0; i < reg->n; i++)
        if (!reg->v[i].path && !strcmp(reg->v[i].desc.kind, kind))
            cg_buf_printf(out, "%s%s", out->len ? " | " : "",
                          reg->v[i].desc.name);
}
