/*
 * gateway internals shared by the engine files. Not included from outside
 * gateway/.
 */
#ifndef CG_GATEWAY_INTERNAL_H
#define CG_GATEWAY_INTERNAL_H

#include <stdatomic.h>

#include "gateway.h"

/* A decoder's output plus the arena its nodes come from: the host's
 * record_alloc finds the arena from the record (the first member). */
struct decoded {
    struct cg_record rec;
    struct cg_arena *arena;
};

/* Host services every instance gets (plugin_host.c). */
void host__init(struct cg_host *h, const char *instance_name);

/* A topic template compiled into parts (template.c). */
enum tpl_kind {
    TPL_TEXT = 0,
    TPL_DOMAIN,
    TPL_TYPE,
    TPL_SEVERITY,
    TPL_RULE,
    TPL_VENDOR,
    TPL_DEVICE,
    TPL_DATA
};

struct tpl_part {
    int kind;   /* enum tpl_kind */
    char *text; /* TPL_TEXT: the text; TPL_DATA: the field name */
    size_t len;
};

struct tpl {
    struct tpl_part *parts;
    size_t n;
};

int tpl__compile(const char *src, struct tpl *out, char *err, size_t errlen,
                 size_t *err_offset);
void tpl__free(struct tpl *t);
/* Replaces what could steer a topic: '/', '+', '#', NUL and control
 * characters become '_'; an empty value becomes "_". */
void tpl__put_safe(struct cg_buf *b, const char *s, size_t n);

#endif

/* ---- the engine's compiled config (engine.c) ------------------------- */

/* Which record fields an expression reads, for privacy taint. */
struct taint {
    char **names;
    size_t n;
    bool all, device;
};

/* A device id template: text and expression parts, concatenated. */
struct device_part {
    char *text;           /* literal text, or NULL */
    struct cg_expr *expr; /* or an expression */
};

struct vendor_rt {
    const struct cg_vendor_conf *conf;
    const char *network; /* NULL: none given */
    struct cg_instance *decoder;
    struct device_part *device;
    size_t n_device;
    struct cg_expr *time;
    struct cg_expr **fields;
    bool device_private;
    /* With `device` private: the record fields the device id is made of
     * (or that copy them), private under the grant "device" as well. */
    char **device_fields;
    size_t n_device_fields;
    uint32_t first_filter;     /* index into engine filters */
    _Atomic uint64_t received; /* messages matched to this vendor */
};

/* One vendor topic filter; `plus_level` is the level of its first '+',
 * the default device id, or -1. */
struct filter_rt {
    uint32_t vendor;
    int plus_level;
};

struct consumer_rt {
    const struct cg_consumer_conf *conf;
    struct tpl topic;   /* mqtt sinks */
    const char *target; /* url, path or plugin name; NULL for mqtt */
    uint64_t hash;      /* of the name, for event ids */
};

struct rule_rt {
    uint64_t hash;           /* of the full name, for event ids */
    struct taint *taints;    /* per data field */
    _Atomic uint64_t events; /* events it produced (per consumer) */
};

struct cg_engine {
    const struct cg_config *cfg;
    struct vendor_rt *vendors;
    size_t n_vendors;
    struct filter_rt *filters;
    size_t n_filters;
    struct cg_topic_trie *vendor_trie;
    struct consumer_rt *consumers;
    size_t n_consumers;
    struct cg_ruleset *rules;
    struct rule_rt *rule_rt;
    /* per-message scratch, reused */
    struct cg_arena *arena;
    uint32_t *matched;
    struct cg_strref *levels;
    size_t cap_levels;
    struct cg_buf json, topic, text;
};

int engine__build_vendors(struct cg_engine *e, const struct cg_plugin_reg *reg,
                          struct cg_diags *d);
void engine__free_vendors(struct cg_engine *e);
int engine__build_rules(struct cg_engine *e, const struct cg_plugin_reg *reg,
                        struct cg_diags *d);
void engine__free_rules(struct cg_engine *e);
int taint__collect(const struct cg_expr *x, struct taint *t);
void taint__free(struct taint *t);

/* ---- per message (process.c, route.c) -------------------------------- */

/* What the pipeline knows of a message once it is normalized. */
struct msg_ctx {
    const struct cg_message *m;
    const struct vendor_rt *vendor;
    const char *device;     /* the id as text */
    double time;            /* device time or received */
    struct cg_value record; /* normalized */
    struct cg_eval_ctx eval;
    uint64_t hash; /* gateway id, topic and payload */
    char received[32], time_text[32];
};

/* One fired rule's event before it is routed. */
struct fired {
    const struct cg_rule *rule;
    struct rule_rt *rt;
    int severity;
    struct cg_value data; /* an object */
};

int route__event(struct cg_engine *e, const struct msg_ctx *mc,
                 const struct fired *f, const struct cg_emit *emit);
void dead__letter(struct cg_engine *e, const struct cg_message *m,
                  const char *reason, const char *detail,
                  const struct cg_emit *emit);
