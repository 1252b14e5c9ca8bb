/*
 * Pipeline internals: the compiled form of a config (vendors, filters,
 * consumers, rules) and what one message carries from stage to stage.
 * Shared by the files of gateway/pipeline/ only.
 */
#ifndef CG_PIPELINE_INTERNAL_H
#define CG_PIPELINE_INTERNAL_H

#include <stdatomic.h>

#include "host/host.h"
#include "pipeline.h"

/* ---- topic templates (template.c) -------------------------------------- */

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

/* A topic template compiled into parts. */
struct tpl {
    struct tpl_part *parts;
    size_t n;
};

/* Compiles src. Returns CG_OK, CG_EINVAL (err and *err_offset filled in)
 * or CG_ENOMEM; on failure out holds nothing to free. */
int tpl__compile(const char *src, struct tpl *out, char *err, size_t errlen,
                 size_t *err_offset);
void tpl__free(struct tpl *t);
/* Appends a substituted value made topic-safe (SPEC §5). */
void tpl__put_safe(struct cg_buf *b, const char *s, size_t n);
/* Why a rendered topic cannot be published (NULL: it can): too long for
 * MQTT, or not valid UTF-8. */
const char *tpl__invalid(const char *topic, size_t len);

/* ---- the compiled config (build_vendors.c, build_rules.c) --------------- */

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
    uint32_t first_filter;     /* index into the pipeline's filters */
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
    struct cg_sink_conf sink; /* resolved options */
    struct tpl topic;         /* sinks that take topics */
    const char *target;       /* url, path or plugin name; NULL: the topic */
    uint64_t hash;            /* of the name, for event ids */
};

struct rule_rt {
    uint64_t hash;           /* of the full name, for event ids */
    struct taint *taints;    /* per data field */
    _Atomic uint64_t events; /* events it produced (per consumer) */
    uint32_t domain;         /* index into the pipeline's domains */
};

/* A rule file's domain, for the rates per domain on the live page. */
struct domain_rt {
    const char *name;          /* borrowed from the config */
    _Atomic uint64_t messages; /* messages that fired one of its rules */
    _Atomic uint64_t events;   /* events its rules produced */
    uint64_t last_message;     /* pipeline thread: the last one counted */
};

struct cg_pipeline {
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
    struct domain_rt *domains;
    size_t n_domains;
    uint64_t message_seq;        /* numbers messages, for domain_rt */
    struct cg_arena *conf_arena; /* what the build resolved, for its life */
    /* per-message scratch, reused */
    struct cg_arena *arena;
    uint32_t *matched;
    struct cg_strref *levels;
    size_t cap_levels;
    struct cg_buf json, topic, text;
};

int build__vendors(struct cg_pipeline *p, const struct cg_plugin_reg *reg,
                   struct cg_diags *d);
void build__free_vendors(struct cg_pipeline *p);
int build__rules(struct cg_pipeline *p, const struct cg_plugin_reg *reg,
                 struct cg_diags *d);
void build__free_rules(struct cg_pipeline *p);
int taint__collect(const struct cg_expr *x, struct taint *t);
void taint__free(struct taint *t);

/* ---- one message, stage to stage ------------------------------------------
 */

/* What the pipeline knows of a message once it is normalized. */
struct msg_ctx {
    const struct cg_message *m;
    const struct vendor_rt *vendor;
    const struct filter_rt *filter; /* the filter that matched */
    const char *device;             /* the id as text */
    double time;                    /* device time or received */
    struct cg_value record;         /* normalized */
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

/* ingest.c: finds the vendor (NULL: none matches) and splits the topic
 * into levels for topic[N] (CG_OK or CG_ENOMEM). */
const struct filter_rt *ingest__vendor(struct cg_pipeline *p,
                                       struct msg_ctx *mc);
int ingest__levels(struct cg_pipeline *p, struct msg_ctx *mc);
uint64_t ingest__hash(const struct cg_pipeline *p, const struct cg_message *m);

/* decode.c: the record (CG_OK, CG_EDECODE with detail, CG_ENOMEM), the
 * device id (NULL: out of memory; "" means none) and the device time. */
int decode__record(struct cg_pipeline *p, struct msg_ctx *mc, char *detail,
                   size_t size);
const char *decode__device(struct cg_pipeline *p, struct msg_ctx *mc);
double decode__time(const struct msg_ctx *mc);

/* normalize.c: the vendor's field map, when it has one. */
int normalize__record(struct cg_pipeline *p, struct msg_ctx *mc);

/* match.c: every matching rule whose `when` holds, routed. Returns the
 * number of deliveries or a negative CG_E*. */
int match__rules(struct cg_pipeline *p, struct msg_ctx *mc,
                 const struct cg_emit *emit);

/* route.c: one fired rule to each consumer it names. Returns the number
 * of deliveries or a negative CG_E*. */
int route__event(struct cg_pipeline *p, const struct msg_ctx *mc,
                 const struct fired *f, const struct cg_emit *emit);

/* dead.c: builds the dead letter of m and hands it to emit->dead.
 * Returns what the callback returned (or CG_ENOMEM). */
int dead__letter(struct cg_pipeline *p, const struct cg_message *m, int reason,
                 const char *consumer, const char *detail,
                 const struct cg_emit *emit);

#endif
