/*
 * The plugin host: the registry of decoders and sinks (built in, or
 * loaded from shared objects through plugins/citygate_plugin.h) and
 * instances, the configured uses of a plugin with their host services.
 *
 * Threads: a registry is built and freed by the loop thread and is
 * read-only in between; its reference count is touched only by the loop
 * thread. An instance is used by one thread at a time (a decoder by the
 * pipeline, a sink by its consumer's delivery thread).
 */
#ifndef CG_HOST_H
#define CG_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "base.h"
#include "citygate_plugin.h"
#include "config.h"

struct cg_plugin_reg;
struct cg_mqtt;

/* The built-in decoders and sinks plus the shared objects at paths. Every
 * problem (a file that does not load, no cg_plugin_entry, a wrong ABI
 * version, a duplicate name) is added to d. Returns CG_OK, CG_EINVAL or
 * CG_ENOMEM; on failure *out is NULL. */
int cg_plugins_load(const char *const *paths, size_t n,
                    struct cg_plugin_reg **out, struct cg_diags *d);
/* Drops a reference; the last one unloads the shared objects. NULL-safe. */
void cg_plugins_free(struct cg_plugin_reg *reg);
/* Takes a reference: instances of its plugins may outlive the generation
 * that loaded them (a consumer kept across a reload). */
struct cg_plugin_reg *cg_plugins_ref(struct cg_plugin_reg *reg);
/* kind: "decoder" or "sink". NULL when there is none by that name. */
const struct cg_plugin *cg_plugins_find(const struct cg_plugin_reg *reg,
                                        const char *kind, const char *name);
size_t cg_plugins_count(const struct cg_plugin_reg *reg);
/* The i-th plugin and where it came from (NULL: built in). */
const struct cg_plugin *cg_plugins_get(const struct cg_plugin_reg *reg,
                                       size_t i, const char **path);

/* A configured use of a plugin. */
struct cg_instance {
    const struct cg_plugin *plugin;
    void *inst;
    struct cg_host host;
    struct cg_mqtt *mqtt; /* what host->publish uses, or NULL */
    char name[96];
};

/* Checks opts (a CG_OBJ) against the plugin's option table, then creates
 * the instance. With mqtt non-NULL the instance's host->publish sends over
 * that connection (borrowed: it must outlive the instance). Problems go to
 * d at pos. Returns CG_OK, CG_EINVAL or CG_ENOMEM; on failure *out is NULL
 * and create() never ran or was undone. Loop thread. */
int cg_instance_new(const struct cg_plugin *p, const char *name,
                    const struct cg_value *opts, const struct cg_pos *pos,
                    struct cg_mqtt *mqtt, struct cg_instance **out,
                    struct cg_diags *d);
/* Destroys the plugin's instance. NULL-safe. */
void cg_instance_free(struct cg_instance *in);

/* A decoder's output plus the arena its nodes come from: the host's
 * record_alloc finds the arena from the record (the first member). */
struct cg_decoded {
    struct cg_record rec;
    struct cg_arena *arena;
};

#endif
