/*
 * gateway: the process side of citygate. This header is what the citygate
 * binary and the tests use: the plugin registry, the engine that runs one
 * message through decode → normalize → rules → route, logging, and the
 * command-line entry points.
 *
 * Threads: an engine is owned by one thread at a time (it keeps per-message
 * scratch memory). Plugins registries are read-only after creation.
 */
#ifndef CG_GATEWAY_H
#define CG_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "citygate_plugin.h"
#include "config.h"
#include "rules.h"

/* ---- logging (log.c) -------------------------------------------------- */

/* Sets the level and the gateway id each line carries. Call before
 * threads start. */
void cg_log_setup(int level, const char *gateway_id);
/* One line to stderr: "<time> <gateway> <level>: <message>". Any thread. */
void cg_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool cg_log_enabled(int level);

/* ---- plugins (plugin_host.c) ----------------------------------------- */

struct cg_plugin_reg;

/* The built-in decoders and sinks plus the shared objects at paths. Every
 * problem (a file that does not load, no cg_plugin_entry, a wrong ABI
 * version, a duplicate name) is added to d. Returns CG_OK, CG_EINVAL or
 * CG_ENOMEM. */
int cg_plugins_load(const char *const *paths, size_t n,
                    struct cg_plugin_reg **out, struct cg_diags *d);
/* Drops a reference; the last one unloads the shared objects. */
void cg_plugins_free(struct cg_plugin_reg *reg);
/* Takes a reference: instances of its plugins may outlive the engine
 * that loaded them (a consumer kept across a reload). */
struct cg_plugin_reg *cg_plugins_ref(struct cg_plugin_reg *reg);
/* kind: "decoder" or "sink". NULL when there is none by that name. */
const struct cg_plugin *cg_plugins_find(const struct cg_plugin_reg *reg,
                                        const char *kind, const char *name);
size_t cg_plugins_count(const struct cg_plugin_reg *reg);
/* The i-th plugin and where it came from (NULL: built in). */
const struct cg_plugin *cg_plugins_get(const struct cg_plugin_reg *reg,
                                       size_t i, const char **path);

struct cg_mqtt;

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
 * and create() never ran or was undone. */
int cg_instance_new(const struct cg_plugin *p, const char *name,
                    const struct cg_value *opts, const struct cg_pos *pos,
                    struct cg_mqtt *mqtt, struct cg_instance **out,
                    struct cg_diags *d);
void cg_instance_free(struct cg_instance *in);

/* ---- the engine (engine_*.c, route.c) -------------------------------- */

struct cg_engine;

/* One message as it came off the broker. */
struct cg_message {
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t len;
    double received; /* epoch seconds */
};

/* One event for one consumer. Everything is valid only during the
 * callback. */
struct cg_delivery {
    uint32_t consumer; /* index in config order */
    const char *consumer_name;
    const char *target; /* rendered topic, url, or file path */
    const struct cg_rule *rule;
    struct cg_event event; /* json, id, topic, severity, qos */
};

/* What the engine emits while it processes one message. */
struct cg_emit {
    void (*deliver)(void *user, const struct cg_delivery *d);
    /* A message that fails: reason is a SPEC §1 reason code; json the
     * dead-letter document. */
    void (*dead)(void *user, const char *reason, const char *json, size_t len);
    void *user;
};

/* Builds the engine for a loaded config: resolves decoders (from reg),
 * compiles vendors' device, time and fields expressions, consumers' topic
 * templates and every rule. Every problem goes to d with its position.
 * The engine borrows cfg and reg: both must outlive it. Returns CG_OK,
 * CG_EINVAL or CG_ENOMEM. */
int cg_engine_new(const struct cg_config *cfg, const struct cg_plugin_reg *reg,
                  struct cg_engine **out, struct cg_diags *d);
void cg_engine_free(struct cg_engine *e);

/* Runs one message through decode → normalize → rules → route and calls
 * emit for each delivery or the dead letter. Returns the number of
 * deliveries (0 or more), or CG_ENOMEM. */
int cg_engine_process(struct cg_engine *e, const struct cg_message *m,
                      const struct cg_emit *emit);

const struct cg_ruleset *cg_engine_rules(const struct cg_engine *e);

/* Counters for /metrics, safe to read from any thread. Each returns the
 * number of vendors (rules) and, when i is below it, fills name and the
 * count of messages (events) so far. */
size_t cg_engine_vendor_stats(const struct cg_engine *e, size_t i,
                              const char **name, uint64_t *received);
size_t cg_engine_rule_stats(const struct cg_engine *e, size_t i,
                            const char **name, uint64_t *events);
/* Carries counters of vendors and rules with the same names over from
 * the engine being replaced by a reload. */
void cg_engine_inherit_stats(struct cg_engine *e, const struct cg_engine *old);
const struct cg_config *cg_engine_config(const struct cg_engine *e);

/* ---- commands (cmd_*.c) ---------------------------------------------- */

/* Each returns the process exit status (SPEC §7): 0, 1 (input), 2 (usage). */
int cg_cmd_check(int argc, char **argv);
int cg_cmd_eval(int argc, char **argv);
int cg_cmd_test(int argc, char **argv);
int cg_cmd_run(int argc, char **argv);
int cg_main(int argc, char **argv);

#endif
