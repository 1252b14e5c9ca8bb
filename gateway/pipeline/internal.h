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
#include "state/state.h"

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
/* The same for a template of text rather than a topic (CAP headlines):
 * its literal text may hold any character. */
int tpl__compile_text(const char *src, struct tpl *out, char *err,
                      size_t errlen, size_t *err_offset);
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
    /* A loaded (plugin:NAME) decoder: its records are checked for what
     * the built-in decoders guarantee (decode__record). */
    bool check_record;
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
    struct cg_expr *when;     /* its filter over the event, or NULL */
    const char **context;     /* NGSI-LD @context, as plain strings */
};

struct cap_rule;

struct rule_rt {
    const char *ngsi_type;   /* the rule's ngsi_type, or NULL */
    struct cap_rule *cap;    /* the rule's cap: settings (owned), or NULL */
    uint64_t hash;           /* of the full name, for event ids */
    struct taint *taints;    /* per data field */
    _Atomic uint64_t events; /* events it produced (per consumer) */
    /* Stateful rules (stateful.c): the rule's state, and for a window the
     * taint of each data field and the vendors its groups may mix. */
    struct cg_state_rule *state;
    struct taint *win_taints;
    size_t n_win_taints, n_group; /* the first n_group: group_by fields */
    uint32_t *vendors;
    size_t n_vendors;
    uint32_t domain; /* index into the pipeline's domains */
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
    /* Lookup tables (build_tables.c), what rule expressions compile
     * against, and the "<table>.<column>" names of private columns. */
    struct cg_table **tables;
    size_t n_tables;
    struct cg_expr_env env;
    char **table_private;
    size_t n_table_private;
    struct cg_state *state; /* stateful rules' keys, owned */
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
    struct cg_buf envelope; /* with keep_envelopes */
    bool keep_envelopes;
};

/* build_formats.c: the rules' ngsi_type and cap: settings (SPEC §15),
 * once the rules are built. */
int build__formats(struct cg_pipeline *p, struct cg_diags *d);
void build__free_formats(struct cg_pipeline *p);
int build__vendors(struct cg_pipeline *p, const struct cg_plugin_reg *reg,
                   struct cg_diags *d);
void build__free_vendors(struct cg_pipeline *p);
int build__rules(struct cg_pipeline *p, const struct cg_plugin_reg *reg,
                 struct cg_diags *d);
void build__free_rules(struct cg_pipeline *p);
int taint__collect(const struct cg_expr *x, struct taint *t);
void taint__free(struct taint *t);
/* build_tables.c: the config's lookup tables as the rules library's
 * tables (CG_OK or CG_ENOMEM), and their release (after the rules). */
int build__tables(struct cg_pipeline *p, struct cg_diags *d);
void build__free_tables(struct cg_pipeline *p);
/* warnings.c (SPEC §14): what a rule or a consumer filter reads that
 * cannot be there, and a rule topic no vendor of it publishes on; added
 * to d as warnings. A rule's compiled expressions (any may be NULL),
 * data[i] compiled from conf->data[i]: */
struct rule_exprs {
    const struct cg_expr *when, *severity;
    struct cg_expr *const *data;
    size_t n_data;
};
void warn__rule(const struct cg_pipeline *p, const struct cg_rule_conf *conf,
                const struct rule_exprs *rule, struct cg_diags *d);
void warn__consumer(const struct cg_consumer_conf *conf,
                    const struct cg_expr *when, struct cg_diags *d);

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
    /* Without a vendor (a window's group): what source.vendor and the
     * chain name, a vendor or "mixed". */
    const char *vendor_name, *network_name;
    const char *group_key; /* a window's group, as an entity key */
};

/* One fired rule's event before it is routed. */
struct fired {
    const struct cg_rule *rule;
    struct rule_rt *rt;
    int severity;
    struct cg_value data; /* an object */
    /* The taint of data's first n_taints members (members past them,
     * added by stateful rules, read nothing); NULL: the rule has no
     * `data`, names are checked as they are. */
    const struct taint *taints;
    size_t n_taints;
    bool no_citizens; /* below a window's min_count */
    /* An alert's resolution: CAP sends a Cancel that references the
     * firing event, when one was kept. */
    bool resolved, has_ref;
    struct cg_state_ref ref;
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
/* The event of rule r for this message: severity and data evaluated.
 * CG_OK or CG_ENOMEM. */
int match__event(struct cg_pipeline *p, struct msg_ctx *mc,
                 const struct cg_rule *r, struct fired *f);

/* stateful.c: the hooks of stateful rules (SPEC §13). build compiles the
 * rules' state (errors into d); message runs one message through a
 * stateful rule, whose `when` held or not, and returns the number of
 * deliveries or a negative CG_E*. */
int stateful__build(struct cg_pipeline *p, struct cg_diags *d);
void stateful__free(struct cg_pipeline *p);
int stateful__message(struct cg_pipeline *p, struct msg_ctx *mc,
                      const struct cg_rule *r, bool holds,
                      const struct cg_emit *emit);

/* route.c: one fired rule to each consumer it names. Returns the number
 * of deliveries or a negative CG_E*. */
int route__event(struct cg_pipeline *p, const struct msg_ctx *mc,
                 const struct fired *f, const struct cg_emit *emit);

/* What route.c decides per consumer, shared with filter.c: whether a
 * data field (its taint t, or NULL for a record field `name`) and the
 * device may reach consumer c, and the taint of data field i. */
bool route__field_visible(const struct cg_pipeline *p,
                          const struct vendor_rt *v,
                          const struct consumer_rt *c, const struct taint *t,
                          const char *name);
bool route__device_visible(const struct vendor_rt *v,
                           const struct consumer_rt *c);
const struct taint *route__taint(const struct fired *f, size_t i);
/* Whether data member i of f (named name) may reach c; a window's group
 * (mc->vendor NULL) shows a member only when every vendor its rule may
 * match would show it. */
bool route__member_visible(const struct cg_pipeline *p,
                           const struct msg_ctx *mc, const struct fired *f,
                           const struct consumer_rt *c, size_t i,
                           const char *name);

/* filter.c: whether consumer c's `when:` holds for the event with this
 * id, evaluated over what c may see of it. 1 yes, 0 no, CG_ENOMEM. */
int filter__holds(struct cg_pipeline *p, const struct msg_ctx *mc,
                  const struct fired *f, const struct consumer_rt *c,
                  const char *id);

/* dead.c: builds the dead letter of m and hands it to emit->dead.
 * Returns what the callback returned (or CG_ENOMEM). */
int dead__letter(struct cg_pipeline *p, const struct cg_message *m, int reason,
                 const char *consumer, const char *detail,
                 const struct cg_emit *emit);

#endif
