/*
 * The consumers section: application providers, their role, sink and
 * delivery settings (SPEC §2, §6, §12). One table holds every key; after
 * it is applied, keys that do not belong to the consumer's sink are
 * refused, so `url:` on an mqtt consumer is an error rather than ignored.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const roles[] = {"government", "enterprise", "citizen",
                                    NULL};
static const char *const spool_full[] = {"block", "drop_oldest", NULL};
static const char *const fsyncs[] = {"interval", "every_event", "never", NULL};

static const struct field batch_fields[] = {
    {FIELD(struct cg_consumer_conf, batch_max_events, "max_events", FT_INT),
     .def = "100", .min = 1, .max = 100000},
    {FIELD(struct cg_consumer_conf, batch_max_wait_ms, "max_wait_ms", FT_INT),
     .def = "200", .min = 0, .max = 600000},
    {0}};

static const struct field rotate_fields[] = {
    {FIELD(struct cg_consumer_conf, rotate_max_bytes, "max_bytes", FT_SIZE),
     .required = 1},
    {FIELD(struct cg_consumer_conf, rotate_keep, "keep", FT_INT), .def = "5",
     .min = 1, .max = 1000},
    {0}};

static int parse_batch(struct loader *L, yaml_node_t *n, void *base)
{
    return schema_apply(L, n, batch_fields, base);
}

static int parse_rotate(struct loader *L, yaml_node_t *n, void *base)
{
    return schema_apply(L, n, rotate_fields, base);
}

/* env:NAME reads the environment at load time; an unset variable is an
 * error, not an empty header. */
static const char *header_value(struct loader *L, yaml_node_t *v)
{
    const char *s = node_text(v);
    if (strncmp(s, "env:", 4) != 0)
        return scalar_dup(L, v);
    const char *env = getenv(s + 4);
    if (!env) {
        loader_error(L, v, "environment variable '%s' is not set", s + 4);
        return NULL;
    }
    return loader_strdup(L, env);
}

static int parse_headers(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_consumer_conf *c = base;
    if (n->type != YAML_MAPPING_NODE) {
        loader_error(L, n, "expected a mapping of header: value");
        return 1;
    }
    size_t len = node_len(n);
    c->headers = loader_alloc(L, (len ? len : 1) * sizeof(*c->headers));
    if (!c->headers)
        return 1;
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node_at(L, p->key), *v = node_at(L, p->value);
        struct cg_header_conf *h = &c->headers[c->n_headers++];
        h->name = scalar_dup(L, k);
        if (!node_is_scalar(v))
            loader_error(L, v, "header value must be a string");
        else
            h->value = header_value(L, v);
    }
    return 0;
}

/* A consumer's own connection. Its client_id has no default: the
 * gateway's id is taken by the intake connection, and two connections
 * with one id on one broker disconnect each other in turn, so the
 * operator chooses. */
static int parse_broker(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_consumer_conf *c = base;
    c->broker = loader_alloc(L, sizeof(*c->broker));
    if (!c->broker)
        return 1;
    int errs = load_broker_into(L, n, c->broker);
    if (n->type == YAML_MAPPING_NODE && !map_get(L, n, "client_id")) {
        loader_error(L, n,
                     "missing required key 'client_id' (a connection of its "
                     "own needs an id of its own)");
        errs++;
    }
    return errs;
}

static const struct field consumer_fields[] = {
    {FIELD(struct cg_consumer_conf, name, "name", FT_PSTR), .required = 1},
    {FIELD(struct cg_consumer_conf, role, "role", FT_ENUM), .def = "citizen",
     .choices = roles},
    {FIELD(struct cg_consumer_conf, sink, "sink", FT_PSTR), .def = "mqtt"},
    {FIELD(struct cg_consumer_conf, topic, "topic", FT_PSTR)},
    {FIELD(struct cg_consumer_conf, qos, "qos", FT_INT), .def = "1", .min = 0,
     .max = 2},
    {.key = "broker", .type = FT_CUSTOM, .parse = parse_broker},
    {FIELD(struct cg_consumer_conf, url, "url", FT_STR)},
    {.key = "headers", .type = FT_CUSTOM, .parse = parse_headers},
    {.key = "batch", .type = FT_CUSTOM, .parse = parse_batch},
    {FIELD(struct cg_consumer_conf, timeout_ms, "timeout_ms", FT_INT),
     .def = "5000", .min = 1, .max = 600000},
    {FIELD(struct cg_consumer_conf, connect_timeout_ms, "connect_timeout_ms",
           FT_INT),
     .def = "2000", .min = 1, .max = 600000},
    {FIELD(struct cg_consumer_conf, path, "path", FT_STR)},
    {FIELD(struct cg_consumer_conf, fsync, "fsync", FT_ENUM), .def = "interval",
     .choices = fsyncs},
    {.key = "rotate", .type = FT_CUSTOM, .parse = parse_rotate},
    {FIELD(struct cg_consumer_conf, grants, "grants", FT_PLIST)},
    {FIELD(struct cg_consumer_conf, spool_max_bytes, "spool_max_bytes",
           FT_SIZE),
     .def = "1GiB"},
    {FIELD(struct cg_consumer_conf, spool_full, "spool_full", FT_ENUM),
     .def = "block", .choices = spool_full},
    {FIELD(struct cg_consumer_conf, options, "options", FT_VALUE)},
    {0}};

/* Which sinks each sink-specific key belongs to. */
static const struct {
    const char *key, *sinks;
} sink_keys[] = {
    {"topic", "mqtt"},      {"qos", "mqtt"},
    {"broker", "mqtt"},     {"url", "http"},
    {"headers", "http"},    {"batch", "http"},
    {"timeout_ms", "http"}, {"connect_timeout_ms", "http"},
    {"path", "file"},       {"fsync", "file"},
    {"rotate", "file"},     {"options", "plugin"},
};

static void check_sink_keys(struct loader *L, yaml_node_t *item,
                            const char *sink)
{
    const char *kind = strncmp(sink, "plugin:", 7) == 0 ? "plugin" : sink;
    for (size_t i = 0; i < sizeof(sink_keys) / sizeof(sink_keys[0]); i++) {
        yaml_node_t *v = map_get(L, item, sink_keys[i].key);
        if (v && strcmp(sink_keys[i].sinks, kind) != 0) {
            loader_error(L, v, "'%s' does not apply to a %s sink",
                         sink_keys[i].key, sink);
        }
    }
}

static void check_sink(struct loader *L, yaml_node_t *item,
                       struct cg_consumer_conf *c)
{
    const char *s = c->sink.s;
    char buf[300];
    bool known = !strcmp(s, "mqtt") || !strcmp(s, "http") ||
                 !strcmp(s, "file") || (!strncmp(s, "plugin:", 7) && s[7]);
    if (!known) {
        yaml_node_t *v = map_get(L, item, "sink");
        loader_error(L, v ? v : item,
                     "unknown sink '%s' (mqtt | http | file | plugin:NAME)", s);
        return;
    }
    check_sink_keys(L, item, s);
    if (!strcmp(s, "http") && !c->url)
        loader_error(L, item, "missing required key 'url' for an http sink");
    if (!strcmp(s, "file") && !c->path)
        loader_error(L, item, "missing required key 'path' for a file sink");
    if (!strcmp(s, "mqtt") && !c->topic.s && c->name.s) {
        snprintf(buf, sizeof(buf), "city/%s/{domain}/{type}", c->name.s);
        c->topic.s = loader_strdup(L, buf);
        c->topic.pos = c->pos;
    }
    if (c->path)
        c->path = loader_resolve(L, c->path);
}

/* The gateway's own folders under spool_dir (SPEC §8, §13). */
static const char *const internal_folders[] = {".mqtt", ".dead-letters",
                                               "state"};

/* The consumer's spool folder must be a name of its own: not empty, not
 * one of the gateway's folders, and short enough for the file system. */
static void check_folder(struct loader *L, yaml_node_t *item,
                         const struct cg_consumer_conf *c)
{
    yaml_node_t *n = map_get(L, item, "name");
    char folder[NAME_MAX + 1];
    if (!c->name.s)
        return; /* out of memory */
    if (!*c->name.s) {
        loader_error(L, n, "name must not be empty");
        return;
    }
    size_t len = cg_consumer_folder(c->name.s, folder, sizeof(folder));
    if (len > NAME_MAX) {
        loader_error(L, n,
                     "name makes a spool folder name of %zu bytes; the file "
                     "system allows %d",
                     len, NAME_MAX);
        return;
    }
    for (size_t i = 0; i < sizeof(internal_folders) / sizeof(char *); i++)
        if (!strcmp(folder, internal_folders[i]))
            loader_error(L, n,
                         "consumer name '%s' is taken: the gateway keeps its "
                         "own '%s' folder in spool_dir",
                         c->name.s, internal_folders[i]);
}

static void check_spool(struct loader *L, yaml_node_t *item,
                        const struct cg_consumer_conf *c)
{
    if (c->spool_max_bytes == 0) {
        size_t mark = where_push(L, ".spool_max_bytes");
        loader_error(L, map_get(L, item, "spool_max_bytes"),
                     "must be greater than 0");
        where_pop(L, mark);
    }
}

static void load_consumer(struct loader *L, yaml_node_t *item,
                          struct cg_consumer_conf *c)
{
    c->pos = node_pos(L, item);
    c->batch_max_events = 100;  /* the batch: and rotate: blocks may be */
    c->batch_max_wait_ms = 200; /* absent: their defaults */
    c->rotate_keep = 5;
    if (schema_apply(L, item, consumer_fields, c))
        return;
    check_folder(L, item, c);
    check_spool(L, item, c);
    check_sink(L, item, c);
    if (c->n_grants && c->role != CG_ROLE_ENTERPRISE)
        loader_error(L, map_get(L, item, "grants"),
                     "grants apply to enterprise consumers only");
    if (c->options && c->options->type != CG_OBJ)
        loader_error(L, map_get(L, item, "options"), "expected a mapping");
}

int load_consumers(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_config *cfg = base;
    if (n->type != YAML_SEQUENCE_NODE || node_len(n) == 0) {
        loader_error(L, n, "expected a non-empty list of consumers");
        return 1;
    }
    size_t len = node_len(n);
    cfg->consumers = loader_alloc(L, len * sizeof(*cfg->consumers));
    if (!cfg->consumers)
        return 1;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        size_t mark = where_push(L, "[%zu]", i);
        load_consumer(L, item, &cfg->consumers[cfg->n_consumers++]);
        where_pop(L, mark);
    }
    return 0;
}

static bool keeps(unsigned char ch, size_t i)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
           (ch == '.' && i > 0);
}

size_t cg_consumer_folder(const char *name, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; name[i]; i++) {
        unsigned char ch = (unsigned char)name[i];
        char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        const char *put = keeps(ch, i) ? &name[i] : esc;
        for (size_t k = 0; k < (keeps(ch, i) ? 1u : 3u); k++, n++)
            if (n + 1 < size)
                out[n] = put[k];
    }
    if (size)
        out[n < size ? n : size - 1] = '\0';
    return n;
}

const char *cg_role_name(int role)
{
    return role >= 0 && role <= CG_ROLE_CITIZEN ? roles[role] : "unknown";
}

int cg_role_parse(const char *s)
{
    for (int i = 0; roles[i]; i++)
        if (strcmp(roles[i], s) == 0)
            return i;
    return -1;
}
