/*
 * citygate plugin ABI: the one installed header.
 *
 * A plugin is a shared object that exports one symbol, cg_plugin_entry(),
 * returning a static descriptor. The built-in decoders (json, kv, csv, lpp)
 * and sinks (mqtt, http, file) use the very same descriptor, so the host has
 * one code path for both.
 *
 * Compatibility rules:
 *   - The host refuses a descriptor whose abi_version differs from
 *     CG_PLUGIN_ABI. It reads only struct_size bytes of the descriptor and
 *     treats fields beyond that size as absent (NULL).
 *   - Fields are only ever appended to the structs below; none is removed or
 *     reordered while CG_PLUGIN_ABI stays the same.
 *
 * Ownership rules:
 *   - Everything the host passes in is a const view, valid only for the
 *     length of the callback.
 *   - A decoder builds its record with host->record_alloc(); that memory
 *     belongs to the host and is released after the message is processed.
 *   - Anything else a plugin hands back to the host is allocated with
 *     host->alloc() so that the host can free it with host->free().
 *   - One .so may back many configured instances: keep state in the instance
 *     created by create(), never in mutable globals.
 */
#ifndef CITYGATE_PLUGIN_H
#define CITYGATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_PLUGIN_ABI 1

/* Results: the same meaning everywhere in citygate and its plugins. */
#define CG_OK        0
#define CG_ENOENT    (-2)   /* no such file, key or name */
#define CG_EIO       (-5)   /* an I/O error */
#define CG_RETRY     (-11)  /* not now: transient, try again later */
#define CG_ENOMEM    (-12)  /* out of memory */
#define CG_EINVAL    (-22)  /* invalid argument or input */
#define CG_ENOSPC    (-28)  /* no space left on a file system */
#define CG_ERANGE    (-34)  /* a value out of range */
#define CG_EDECODE   (-100) /* a payload that does not decode */
#define CG_ETOOLARGE (-101) /* a payload above max_payload_bytes */
#define CG_EREJECTED (-102) /* a consumer refused a batch for good */
#define CG_EABI      (-103) /* a plugin built for another ABI */
#define CG_ECONN     (-104) /* a connection failed or was lost */
#define CG_ETIMEDOUT (-110) /* an operation timed out */
#define CG_EFULL     (-111) /* a bounded queue or spool is full */

/*
 * Values: the JSON-like tree a decoder produces and expressions work on.
 * Strings are UTF-8, `len` bytes long and always followed by a NUL byte, so
 * they can be handed to C string functions as they are.
 */
enum cg_type {
    CG_NULL = 0,
    CG_BOOL,
    CG_INT, /* exact 64-bit integer */
    CG_NUM, /* double */
    CG_STR,
    CG_LIST,
    CG_OBJ
};

struct cg_member;

struct cg_value {
    uint8_t type; /* enum cg_type */
    uint32_t len; /* CG_STR: bytes; CG_LIST: items; CG_OBJ: members */
    union {
        int boolean;
        int64_t i;
        double num;
        const char *str;
        const struct cg_value *items;
        const struct cg_member *members;
    } as;
};

/* Object members keep their order; keys are unique (the last one wins). */
struct cg_member {
    const char *key; /* NUL-terminated too */
    uint32_t key_len;
    struct cg_value value;
};

/* Host services, handed to every plugin instance. */
struct cg_record;
struct cg_batch;
enum cg_log_level { CG_LOG_ERROR = 0, CG_LOG_WARN, CG_LOG_INFO, CG_LOG_DEBUG };

struct cg_host {
    uint32_t struct_size; /* sizeof(struct cg_host) as the host knows it */
    /* Logs one line, prefixed with the instance name. Any thread. */
    void (*log)(const struct cg_host *host, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void *(*alloc)(size_t size);
    void (*free)(void *ptr);
    /* Wall-clock time in epoch seconds. */
    double (*now)(void);
    /* Memory for a decoder's record; freed by the host with the record.
     * Returns NULL when out of memory. */
    void *(*record_alloc)(struct cg_record *rec, size_t size);
    /* The instance name, for plugins that want it in their own output. */
    const char *instance_name;
    /* Sinks that publish over MQTT: publishes every event of the batch on
     * its topic at its qos, over the connection the consumer uses (the
     * gateway's own, or the consumer's own `broker:`), and waits until all
     * are done (QoS 1: acknowledged) or timeout_ms passes. Returns CG_OK,
     * or CG_RETRY (not connected, or some event not acknowledged in time:
     * nothing is lost, the batch is offered again). NULL for instances
     * that have no MQTT connection. Called on the delivery thread. */
    int (*publish)(const struct cg_host *host, const struct cg_batch *batch,
                   uint32_t timeout_ms);
    /* Non-zero once the host wants the instance's deliver() to give up
     * (shutdown past its drain time): a sink that blocks for long (network
     * I/O) polls it and returns CG_RETRY; what it held stays in the spool.
     * Any thread. Added within ABI 1: check struct_size before use. */
    int (*cancelled)(const struct cg_host *host);
};

/* A decoder's output: root must end up a CG_OBJ value. On failure the
 * decoder returns CG_EDECODE and may write a one-line reason to `detail`. */
struct cg_record {
    struct cg_value root;
    char *detail;
    size_t detail_size;
};

/* The raw message a decoder receives. */
struct cg_input {
    const uint8_t *payload;
    size_t len;
    const char *topic;
};

/* One event for one consumer, serialized once. */
enum cg_severity { CG_SEV_INFO = 0, CG_SEV_WARNING, CG_SEV_CRITICAL };

struct cg_event {
    const char *id;    /* 16 hex digits, NUL-terminated */
    const char *topic; /* rendered topic template, or NULL */
    const char *json;  /* one line of JSON, NUL-terminated */
    size_t json_len;
    int severity; /* enum cg_severity */
    int qos;      /* the consumer's qos (0, 1 or 2) */
};

struct cg_batch {
    const struct cg_event *events;
    size_t n;
};

/* What deliver() reports beyond its result. */
struct cg_delivery_result {
    int status;              /* protocol status (HTTP code), 0 if none */
    uint32_t retry_after_ms; /* with CG_RETRY: the wait asked for, or 0 */
    char detail[160];        /* with a failure: one line */
};

/*
 * The option table a plugin declares. The host checks an instance's
 * options against it before create() runs (in `citygate check` too): an
 * unknown option, a wrong type or a missing required option is an error
 * at its line and column. A sink's options are the keys of its consumer
 * that are not common to every consumer (name, role, sink, grants,
 * spool_max_bytes, spool_full, when, format and the like), plus any
 * `options:` mapping.
 *
 * The types from CG_OPT_SIZE on are handled by the host, so a sink never
 * needs to know how the gateway renders topics, batches or connects:
 *   CG_OPT_SIZE      "64MiB" or a number of bytes; create() gets an integer.
 *   CG_OPT_PATH      a file path; create() gets it resolved against the
 *                    config file's folder. It names the consumer's
 *                    destination (`citygate eval`).
 *   CG_OPT_TARGET    a string naming the consumer's destination (a URL).
 *                    create() gets it as written; `check`, `eval` and
 *                    `test` show it with a userinfo password as "***".
 *   CG_OPT_TEMPLATE  a topic template ("city/{domain}/{type}"); the host
 *                    renders it for every event into cg_event.topic, with
 *                    the privacy rules and topic-safe values of SPEC §5.
 *                    Absent: "city/<consumer>/{domain}/{type}".
 *   CG_OPT_QOS       the MQTT QoS (0-2) of the consumer's events
 *                    (cg_event.qos); default 1.
 *   CG_OPT_BROKER    the consumer may have a `broker:` of its own: the host
 *                    opens that connection and host->publish uses it.
 *   CG_OPT_BATCH     `{max_events, max_wait_ms}`: the host hands deliver()
 *                    batches of up to max_events (default 100), waiting up
 *                    to max_wait_ms (default 200) for one to fill. A sink
 *                    without it gets up to 100 events with no wait.
 *   CG_OPT_FILE      a file the sink reads (a secret, a certificate);
 *                    resolved like a path and checked readable at load.
 *                    One that holds a secret belongs in secret_files.
 *   CG_OPT_RETAIN    true: the host publishes the consumer's events
 *                    retained (the broker keeps each topic's last one for
 *                    subscribers that connect later).
 *   CG_OPT_FORMAT    not set by the operator: the host gives the
 *                    consumer's payload format ("event", "ngsi-ld" or
 *                    "cap", SPEC §15), so a sink can label what it sends.
 * String values inside a CG_OPT_MAP may read the environment as
 * "env:NAME" (an unset variable is an error); those whose names end in
 * "_file" are paths, resolved like CG_OPT_FILE.
 * Errors that create() writes to err may start with "NAME: " to be
 * reported at that option's position.
 */
enum cg_option_type {
    CG_OPT_STRING = 1,
    CG_OPT_INT,
    CG_OPT_NUMBER,
    CG_OPT_BOOL,
    CG_OPT_LIST,
    CG_OPT_MAP,
    CG_OPT_SIZE,
    CG_OPT_PATH,
    CG_OPT_TARGET,
    CG_OPT_TEMPLATE,
    CG_OPT_QOS,
    CG_OPT_BROKER,
    CG_OPT_BATCH,
    CG_OPT_FILE,
    CG_OPT_FORMAT,
    CG_OPT_RETAIN
};

struct cg_option {
    const char *name; /* NULL ends the table */
    int type;         /* enum cg_option_type */
    int required;
    const char *help;
};

struct cg_plugin {
    uint32_t abi_version; /* CG_PLUGIN_ABI */
    uint32_t struct_size; /* sizeof(struct cg_plugin) */
    const char *name;
    const char *kind; /* "decoder" or "sink" */
    const struct cg_option *options;
    /* Creates an instance from its checked options (a CG_OBJ value, never
     * NULL). Returns CG_OK and sets *inst, or a negative CG_E* and may
     * write a reason to err (errlen bytes). */
    int (*create)(const struct cg_host *host, const struct cg_value *opts,
                  void **inst, char *err, size_t errlen);
    void (*destroy)(void *inst);
    /* Decoders: turn in into out->root. May run on any one thread at a
     * time per instance. Returns CG_OK, CG_EDECODE or CG_ENOMEM. */
    int (*decode)(void *inst, const struct cg_input *in, struct cg_record *out);
    /* Sinks: deliver a batch, in order. Called from the consumer's own
     * delivery thread (one call at a time per instance), so it may block
     * up to the consumer's timeout. Returns CG_OK (all delivered),
     * CG_RETRY (nothing is lost; the host offers the same batch again
     * after a backoff, or after res->retry_after_ms when that is longer)
     * or CG_EREJECTED (refused for good: the host dead-letters the batch
     * with res->status and res->detail). The host also calls deliver with
     * an empty batch (n == 0) about once a second while idle, so a sink
     * can flush or sync what it buffered. */
    int (*deliver)(void *inst, const struct cg_batch *batch,
                   struct cg_delivery_result *res);
    /* Optional (added within ABI 1: read only when struct_size covers it):
     * checks options the way create() would, without creating anything,
     * so `citygate check` reports what create() would refuse. Returns CG_OK
     * or CG_EINVAL with a reason in err ("NAME: ..." to point at an
     * option). */
    int (*check)(const struct cg_value *opts, char *err, size_t errlen);
    /* Optional (added within ABI 1: read only when struct_size covers it):
     * the options that name a file holding a secret (a password, a token,
     * a private key), as a NULL-terminated list: "bearer_token_file" for a
     * CG_OPT_FILE option, "auth.password_file" for a *_file member of a
     * CG_OPT_MAP option. The host warns, at the option, when such a file
     * is readable by its group or by others (as it does for the broker's
     * password and key files); the sink still gets it. */
    const char *const *secret_files;
};

/* The single symbol a plugin exports. */
typedef const struct cg_plugin *(*cg_plugin_entry_fn)(void);
const struct cg_plugin *cg_plugin_entry(void);

#define CG_PLUGIN_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
}
#endif
#endif
