/*
 * config: loads config/citygate.yaml and the rule files it names into an
 * immutable struct cg_config (SPEC §2 and §3).
 *
 * The loader checks structure: YAML syntax, unknown keys, types, required
 * keys, value ranges and every reference that lives inside the config
 * (networks, vendor names, consumer names and roles, duplicate names). It
 * does not compile expressions or topic filters: those stay as source
 * text with their positions (struct cg_src) for the rules library, so that
 * config/ and rules/ never depend on each other.
 *
 * All strings and arrays live in one arena owned by the config.
 */
#ifndef CG_CONFIG_H
#define CG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

/* Where a key or value stood in its file (1-based). */
struct cg_pos {
    const char *file;
    int line, col;
};

/* A string with its position. */
struct cg_pstr {
    const char *s;
    struct cg_pos pos;
};

struct cg_tls_conf {
    const char *ca_file, *cert_file, *key_file;
    bool verify;
    bool enabled; /* a tls: block was given */
};

enum cg_mqtt_client { CG_CLIENT_PAHO = 0, CG_CLIENT_MOSQUITTO };

struct cg_broker_conf {
    const char *uri;
    const char *client_id;
    const char *username;
    const char *password; /* read from password_file at load, or NULL */
    const char *password_file;
    struct cg_tls_conf tls;
    int keepalive;
    bool clean_session;
    int qos;
    const char *share_group;
    int client; /* enum cg_mqtt_client */
    struct cg_pos pos;
};

enum cg_log_level_conf {
    CG_CONF_LOG_ERROR = 0,
    CG_CONF_LOG_WARN,
    CG_CONF_LOG_INFO,
    CG_CONF_LOG_DEBUG
};

struct cg_gateway_conf {
    const char *id;
    int log_level;         /* enum cg_log_level_conf */
    const char *spool_dir; /* absolute, or relative to the config folder */
    const char *dead_letter_topic;
    const char *status_topic;
    const char *metrics_listen; /* NULL: off */
    uint64_t max_payload_bytes;
    const char *timezone; /* IANA name, checked against the system tzdata */
    uint64_t spool_reserve_bytes; /* free disk below this: spools full */
    int log_format;               /* enum cg_log_format */
};

enum cg_log_format { CG_LOG_FORMAT_TEXT = 0, CG_LOG_FORMAT_JSON };

struct cg_network_conf {
    const char *name;
    const char *kind;
    struct cg_pos pos;
};

/* A canonical field: name -> expression over the decoded record. */
struct cg_field_conf {
    struct cg_pstr name;
    struct cg_src expr;
};

struct cg_vendor_conf {
    struct cg_pstr name;
    struct cg_pstr network;
    int network_index;
    struct cg_pstr *topics;
    size_t n_topics;
    struct cg_src device; /* text NULL: the default (see README) */
    struct cg_pstr decoder;
    const struct cg_value *decoder_options; /* a CG_OBJ, never NULL */
    struct cg_pos decoder_options_pos;
    bool has_fields;
    struct cg_field_conf *fields;
    size_t n_fields;
    struct cg_pstr *private_fields;
    size_t n_private;
    struct cg_src time; /* text NULL: no device time */
    struct cg_pos pos;
};

enum cg_role { CG_ROLE_GOVERNMENT = 0, CG_ROLE_ENTERPRISE, CG_ROLE_CITIZEN };
enum cg_spool_full { CG_SPOOL_BLOCK = 0, CG_SPOOL_DROP_OLDEST };

/* Where a sink option's key stands, for the option table's errors. */
struct cg_sink_option {
    const char *name;
    struct cg_pos pos;       /* of the key */
    struct cg_pos value_pos; /* of the value (a quote, when quoted) */
};

/* A consumer: the keys every consumer has. Everything else it says is an
 * option of its sink, which only the sink's plugin knows (checked against
 * the plugin's option table by the gateway). */
struct cg_consumer_conf {
    struct cg_pstr name;
    int role;            /* enum cg_role */
    struct cg_pstr sink; /* a built-in sink's name, plugin:<name>, or NULL:
                            the default sink */
    struct cg_pstr *grants;
    size_t n_grants;
    uint64_t spool_max_bytes;
    int spool_full;                      /* enum cg_spool_full */
    struct cg_broker_conf *broker;       /* its own connection, or NULL */
    struct cg_value options;             /* the sink's options, a CG_OBJ */
    struct cg_sink_option *sink_options; /* one per member of options */
    size_t n_sink_options;
    int format;              /* enum cg_consumer_format */
    struct cg_pstr *context; /* NGSI-LD @context URLs */
    size_t n_context;
    const char *cap_sender; /* cap.sender, or NULL: citygate@<gateway id> */
    struct cg_src when;     /* filter over the event; text NULL: every event */
    /* The sink's own keys had a problem (sink, broker): its options
     * cannot be checked against the right table. */
    bool sink_broken;
    struct cg_pos pos;
};

/* A consumer's payload format (SPEC §15). */
enum cg_consumer_format {
    CG_CONSUMER_EVENT = 0,
    CG_CONSUMER_NGSI_LD,
    CG_CONSUMER_CAP
};

/* A duration key of a rule (SPEC §13): set is false when it is absent. */
struct cg_duration_conf {
    int64_t ms;
    bool set;
    struct cg_pos pos; /* of the value */
};

/* One case of a rule's tests:. */
struct cg_test_conf {
    const char *name; /* or NULL: reported by its 1-based index */
    int index;
    const char *topic;   /* already inherited from the previous case */
    const char *payload; /* NULL: no message, the clock only moves */
    size_t payload_len;
    struct cg_duration_conf at;    /* simulated clock (SPEC §13); ms is
                                      inherited from the previous case */
    const struct cg_value *expect; /* a CG_LIST of CG_OBJ, or NULL */
    struct cg_pos pos;             /* the case's '-' */
    /* expect_dead: the dead-letter reason the message must get, or
     * NULL (then a dead letter fails the case). */
    struct cg_pstr expect_dead;
};

/* One on_change entry: a data key and the least absolute change of a
 * number that counts (0: any change). */
struct cg_on_change_conf {
    struct cg_pstr field;
    double threshold;
};

/* A rule's tumbling window (SPEC §13). */
struct cg_window_conf {
    struct cg_duration_conf every;
    struct cg_src *group_by; /* field names or built-ins, as expressions */
    size_t n_group_by;
    struct cg_field_conf *aggregate; /* window expressions */
    size_t n_aggregate;
    struct cg_src having; /* text NULL: every group */
    int min_count;        /* 0: no floor */
    struct cg_pos pos;
};

/* A rule's CAP settings (SPEC §15). Templates are kept as text (the
 * gateway compiles them); every member may be absent. */
struct cg_cap_conf {
    const char *category; /* one of the CAP 1.2 categories */
    const char *event;
    struct cg_pstr headline, description, area; /* templates */
    struct cg_duration_conf expires;            /* default 1h */
};

/* The stateful keys of a rule (SPEC §13), checked for their
 * combinations; every member is absent (zero) in a stateless rule. */
struct cg_rule_state_conf {
    struct cg_duration_conf throttle, hold, keep_firing_for, repeat,
        stale_after; /* hold is `for` */
    struct cg_on_change_conf *on_change;
    size_t n_on_change;
    bool has_on_change;
    struct cg_window_conf *window; /* NULL: none */
    int max_keys;                  /* default 100000 */
};

struct cg_rule_conf {
    struct cg_pstr name;
    const char *domain;
    const char *full_name; /* <domain>/<name> */
    const char *description;
    struct cg_pstr type; /* defaults to the name */
    struct cg_pstr *match_vendors;
    size_t n_match_vendors;
    struct cg_pstr match_topic; /* s NULL: every topic */
    struct cg_src when;         /* text NULL: true */
    struct cg_src severity;     /* text NULL: info */
    bool has_data;
    struct cg_field_conf *data;
    size_t n_data;
    struct cg_pstr *to;
    size_t n_to;
    struct cg_test_conf *tests;
    size_t n_tests;
    struct cg_rule_state_conf state;
    const char *ngsi_type;   /* NGSI-LD entity type, or NULL (SPEC §15) */
    struct cg_cap_conf *cap; /* CAP settings, or NULL for the defaults */
    struct cg_pos pos;
};

/* A lookup table (SPEC §14): its rows, read from a CSV file with a header
 * row (cells typed like the csv decoder's) or a YAML list of mappings. */
struct cg_table_conf {
    struct cg_pstr name;
    struct cg_pstr file; /* as written */
    struct cg_pstr key;  /* the key column */
    struct cg_pstr *private_cols;
    size_t n_private;
    const char *path;     /* the file, resolved */
    struct cg_value rows; /* a CG_LIST of CG_OBJ (column -> cell) */
    struct cg_pos pos;
};

struct cg_rule_file_conf {
    const char *path;
    struct cg_pstr domain;
    struct cg_rule_conf *rules;
    size_t n_rules;
};

struct cg_config {
    const char *path; /* the config file as given */
    const char *dir;  /* its folder, for relative paths */
    struct cg_gateway_conf gateway;
    struct cg_broker_conf broker;
    struct cg_network_conf *networks;
    size_t n_networks;
    struct cg_vendor_conf *vendors;
    size_t n_vendors;
    struct cg_consumer_conf *consumers;
    size_t n_consumers;
    struct cg_pstr *rule_globs;
    size_t n_rule_globs;
    struct cg_rule_file_conf *rule_files;
    size_t n_rule_files;
    struct cg_table_conf *tables;
    size_t n_tables;
    struct cg_pstr *plugin_globs;
    size_t n_plugin_globs;
    const char **plugin_paths; /* globs expanded, resolved */
    size_t n_plugin_paths;
    struct cg_arena *arena;
};

/*
 * Loads the config at path and every rule file its `rules` globs select
 * (sorted by path within each glob). When only_rule_files is non-NULL,
 * those rule files (n_only of them) are loaded instead of the globs.
 * Returns CG_OK with *out set, CG_ENOENT when the config file cannot be
 * read, CG_EINVAL when d holds one or more problems, or CG_ENOMEM. On
 * failure *out is NULL. Any thread; no logging.
 */
int cg_config_load(const char *path, const char *const *only_rule_files,
                   size_t n_only, struct cg_config **out, struct cg_diags *d);
/*
 * The same, except that a config with problems (CG_EINVAL) is still
 * returned in *out, as far as it loaded, so that the caller can compile
 * its expressions and report their errors in the same run (SPEC §14: an
 * error in one place hides no error elsewhere). In such a config every
 * string a problem left unset is NULL, every list it left unread is
 * empty, an expression whose source was unusable has text NULL, and the
 * parts a problem touched may be missing; it must never run. *out is
 * NULL only for CG_ENOENT and CG_ENOMEM. The caller frees it.
 */
int cg_config_load_partial(const char *path, const char *const *only_rule_files,
                           size_t n_only, struct cg_config **out,
                           struct cg_diags *d);
void cg_config_free(struct cg_config *cfg);

/*
 * The files a config was loaded from, as they are now: the config file
 * and every file its rule globs select, and the lookup tables' files,
 * each with what stat() says of it
 * (size, modification time, inode). `run` takes one a second and reloads
 * when it differs from the last, saying which file triggered the reload.
 */
enum cg_file_kind { CG_FILE_CONFIG = 0, CG_FILE_RULE, CG_FILE_TABLE };
struct cg_config_files;

/* Takes a snapshot now. A file that cannot be stat'ed is listed as
 * missing. Returns CG_OK with *out set, or CG_ENOMEM (*out NULL). Any
 * thread; no logging. */
int cg_config_files_snapshot(const struct cg_config *cfg,
                             struct cg_config_files **out);
void cg_config_files_free(struct cg_config_files *f);
/* Counts the differences between two snapshots (0: nothing changed) and
 * describes the first in why ("rule file /etc/citygate/rules/water.yaml
 * changed", "... was added", "... was removed", "config file ...
 * changed", "table file ... changed"), cut to fit size; why is "" when nothing
 * changed. Pure. */
size_t cg_config_files_diff(const struct cg_config_files *old,
                            const struct cg_config_files *now, char *why,
                            size_t size);

/* "government", "enterprise", "citizen". */
const char *cg_role_name(int role);
/* Parses a role name; returns -1 when it is none. */
int cg_role_parse(const char *s);

/*
 * The folder under gateway.spool_dir that holds a consumer's spool. The
 * mapping is injective, so two consumers never share a spool: bytes in
 * [A-Za-z0-9_-] and '.' (except a leading '.') are kept, every other byte
 * (and a leading '.') becomes %XX with uppercase hex ("ops/gov" ->
 * "ops%2Fgov", "ops%2Fgov" -> "ops%252Fgov", ".x" -> "%2Ex"). A folder
 * therefore never starts with '.' (the gateway's own ".mqtt" and
 * ".dead-letters" cannot be hit), never climbs ("..", "/") and is plain
 * ASCII. The loader refuses a consumer whose folder is empty, is "state"
 * (the saved state of stateful rules) or is longer than NAME_MAX.
 *
 * Writes the folder name into out, cut to fit size with a NUL (like
 * snprintf), and returns its full length: a result >= size means it was
 * cut. Pure: any thread.
 */
size_t cg_consumer_folder(const char *name, char *out, size_t size);

/*
 * A broker or HTTP URI fit to print: the password of a userinfo part
 * becomes "***" ("tcp://user:pass@host:1883" -> "tcp://user:***@host:1883").
 * A URI without a password comes back unchanged. Use it wherever a URI
 * reaches a log, `check` or `eval` output: the config keeps the URI as
 * written, credentials included, for the connection itself. Writes into
 * buf (cut to fit size, NUL-terminated) and returns buf. Pure: any thread.
 */
const char *cg_uri_redacted(const char *uri, char *buf, size_t size);

/*
 * What is wrong with a broker URI, or NULL: the scheme (tcp://, mqtt://,
 * ssl://, mqtts://), a host, an optional port from 1 to 65535 (1883, or
 * 8883 for TLS), nothing after it, and no userinfo: neither MQTT client
 * reads credentials from a URI (they would be taken for the host name),
 * and SPEC keeps passwords out of YAML. Pure: any thread.
 */
const char *cg_broker_uri_problem(const char *uri);

/* Resolves path against the config's folder into buf; returns buf. */
const char *cg_config_resolve(const struct cg_config *cfg, const char *path,
                              char *buf, size_t size);

#endif
