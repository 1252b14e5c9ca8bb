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

#include <stdatomic.h>
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
    struct cg_mqtt *mqtt;  /* what host->publish uses, or NULL */
    _Atomic int cancelled; /* what host->cancelled answers */
    bool retain;           /* host->publish publishes retained */
    char name[96];
};

/* Asks the instance's deliver() to give up soon (host->cancelled), from
 * any thread: the last step of a bounded shutdown. */
void cg_instance_cancel(struct cg_instance *in);

/* Checks opts (a CG_OBJ) against the plugin's option table, then creates
 * the instance. With mqtt non-NULL the instance's host->publish sends over
 * that connection (borrowed: it must outlive the instance). Problems go to
 * d at pos, or at an option's own position when `where` (n_where entries,
 * may be NULL) names it. Returns CG_OK, CG_EINVAL or CG_ENOMEM; on failure
 * *out is NULL and create() never ran or was undone. Loop thread. */
int cg_instance_new(const struct cg_plugin *p, const char *name,
                    const struct cg_value *opts, const struct cg_pos *pos,
                    const struct cg_sink_option *where, size_t n_where,
                    struct cg_mqtt *mqtt, struct cg_instance **out,
                    struct cg_diags *d);

/* A consumer's sink as the gateway uses it: the plugin, its options
 * checked and resolved, and what the host does for it (SPEC §12 and the
 * host-handled option types of citygate_plugin.h). */
struct cg_sink_conf {
    const struct cg_plugin *plugin;
    struct cg_value options; /* sizes as integers, paths absolute, env: read */
    const char *topic;       /* its topic template, or NULL: no topics */
    struct cg_pos topic_pos;
    const char *target; /* where it delivers, for people (a url with its
                           password as ***, a path), or NULL */
    int qos;            /* of its events */
    int batch_max, batch_wait_ms;
    bool mqtt;   /* publishes through the host's MQTT connection */
    bool retain; /* and retained */
};

/* Finds consumer c's sink in reg (a built-in by its name, a loaded plugin
 * as plugin:NAME) and checks and resolves its options against the
 * plugin's table; strings live in arena. Every problem goes to d at its
 * position. Returns CG_OK, CG_EINVAL or CG_ENOMEM. Loop thread. */
int cg_sink_resolve(const struct cg_plugin_reg *reg,
                    const struct cg_config *cfg,
                    const struct cg_consumer_conf *c, struct cg_arena *arena,
                    struct cg_sink_conf *out, struct cg_diags *d);

/* The plugin of kind named in a config (a built-in by its plain name, a
 * loaded plugin as plugin:NAME), or NULL. */
const struct cg_plugin *cg_plugins_lookup(const struct cg_plugin_reg *reg,
                                          const char *kind, const char *spec);
/* The sink of a consumer that names none (a built-in). */
const struct cg_plugin *
cg_plugins_default_sink(const struct cg_plugin_reg *reg);
/* The built-in plugins of kind, as "a | b | c" for messages. */
void cg_plugins_builtin_names(const struct cg_plugin_reg *reg, const char *kind,
                              struct cg_buf *out);

/* Internals shared by the files of host/ (options.c). */
int host__check_options(const struct cg_plugin *p, const struct cg_value *opts,
                        const struct cg_pos *pos,
                        const struct cg_sink_option *where, size_t n_where,
                        struct cg_diags *d);
void host__create_error(const struct cg_plugin *p, const char *err,
                        const struct cg_pos *pos,
                        const struct cg_sink_option *where, size_t n_where,
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
