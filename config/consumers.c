/*
 * The consumers section: application providers, their role and the keys
 * every consumer has (SPEC §2, §6, §12). Every other key is an option of
 * the consumer's sink, kept with its position: only the sink's plugin
 * knows its options, and the gateway checks them against the plugin's
 * option table (`url:` on an mqtt consumer is an error there).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const roles[] = {"government", "enterprise", "citizen",
                                    NULL};
static const char *const spool_full[] = {"block", "drop_oldest", NULL};
static const char *const formats[] = {"event", "ngsi-ld", "cap", NULL};

static const struct field cap_fields[] = {
    {FIELD(struct cg_consumer_conf, cap_sender, "sender", FT_STR)}, {0}};

/* cap: {sender}: the consumer's part of the CAP settings (the rule
 * says what the alert is about). */
static int parse_cap(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_consumer_conf *c = base;
    int errs = schema_apply(L, n, cap_fields, c);
    /* CAP identifiers and senders hold no spaces, commas, < or &. */
    if (c->cap_sender &&
        (!*c->cap_sender || strpbrk(c->cap_sender, " \t,<&"))) {
        loader_error(L, map_get(L, n, "sender"),
                     "a CAP sender holds no spaces, commas, '<' or '&'");
        errs++;
    }
    return errs;
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

/* The keys every consumer has, whatever its sink. `options` is a mapping
 * of more sink options, for plugin sinks (kept for configs that use it). */
static const struct field consumer_fields[] = {
    {FIELD(struct cg_consumer_conf, name, "name", FT_PSTR), .required = 1},
    {FIELD(struct cg_consumer_conf, role, "role", FT_ENUM), .def = "citizen",
     .choices = roles},
    /* No default here: the gateway's default sink is a built-in plugin's
     * business (plugins/builtin.h). */
    {FIELD(struct cg_consumer_conf, sink, "sink", FT_PSTR)},
    {.key = "broker", .type = FT_CUSTOM, .parse = parse_broker},
    {FIELD(struct cg_consumer_conf, grants, "grants", FT_PLIST)},
    {FIELD(struct cg_consumer_conf, spool_max_bytes, "spool_max_bytes",
           FT_SIZE),
     .def = "1GiB"},
    {FIELD(struct cg_consumer_conf, spool_full, "spool_full", FT_ENUM),
     .def = "block", .choices = spool_full},
    {FIELD(struct cg_consumer_conf, format, "format", FT_ENUM), .def = "event",
     .choices = formats},
    {FIELD(struct cg_consumer_conf, context, "context", FT_PLIST)},
    {.key = "cap", .type = FT_CUSTOM, .parse = parse_cap},
    {FIELD(struct cg_consumer_conf, when, "when", FT_SRC)},
    {.key = "options", .type = FT_REST},
    {.key = "*", .type = FT_REST}, /* a sink option */
    {0}};

/* One sink option: its value and where its key stands. */
static void add_option(struct loader *L, yaml_node_t *k, yaml_node_t *v,
                       struct cg_consumer_conf *c, struct cg_member *m)
{
    struct cg_sink_option *o = &c->sink_options[c->n_sink_options];
    m->key = scalar_dup(L, k);
    m->key_len = m->key ? (uint32_t)strlen(m->key) : 0;
    size_t mark = where_push(L, ".%s", node_text(k));
    if (m->key && node_value(L, v, &m->value) == 0) {
        o->name = m->key;
        o->pos = node_pos(L, k);
        o->value_pos = node_pos(L, v);
        c->n_sink_options++;
    }
    where_pop(L, mark);
}

/* Every key the table does not know, and every key of `options:`, is an
 * option of the consumer's sink: the sink's plugin checks them against
 * its option table (the gateway does, in `check` too). */
static void collect_sink_options(struct loader *L, yaml_node_t *item,
                                 struct cg_consumer_conf *c)
{
    yaml_node_t *extra = map_get(L, item, "options");
    if (extra && extra->type != YAML_MAPPING_NODE) {
        loader_error(L, extra, "expected a mapping");
        extra = NULL;
    }
    size_t cap = node_len(item) + (extra ? node_len(extra) : 0);
    struct cg_member *m = loader_alloc(L, (cap ? cap : 1) * sizeof(*m));
    c->sink_options =
        loader_alloc(L, (cap ? cap : 1) * sizeof(*c->sink_options));
    if (!m || !c->sink_options)
        return;
    for (size_t i = 0; i < node_len(item); i++) {
        yaml_node_pair_t *p = &item->data.mapping.pairs.start[i];
        yaml_node_t *k = node_at(L, p->key);
        if (node_is_scalar(k) && !schema_has_key(consumer_fields, node_text(k)))
            add_option(L, k, node_at(L, p->value), c, &m[c->n_sink_options]);
    }
    for (size_t i = 0; extra && i < node_len(extra); i++) {
        yaml_node_pair_t *p = &extra->data.mapping.pairs.start[i];
        add_option(L, node_at(L, p->key), node_at(L, p->value), c,
                   &m[c->n_sink_options]);
    }
    c->options.type = CG_OBJ;
    c->options.len = (uint32_t)c->n_sink_options;
    c->options.as.members = m;
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
    int errs = schema_apply(L, item, consumer_fields, c);
    if (item->type != YAML_MAPPING_NODE)
        return;
    /* Its sink options are checked by the gateway even when other keys
     * had problems, unless the sink itself is in doubt. */
    collect_sink_options(L, item, c);
    c->sink_broken = map_get(L, item, "sink") && !c->sink.s;
    if (errs)
        return; /* the value checks below need every key read */
    check_folder(L, item, c);
    check_spool(L, item, c);
    if (c->sink.s && (!c->sink.s[0] || !strcmp(c->sink.s, "plugin:")))
        loader_error(L, map_get(L, item, "sink"),
                     "expected a sink's name, or plugin:NAME");
    if (c->n_context && c->format != CG_CONSUMER_NGSI_LD)
        loader_error(L, map_get(L, item, "context"),
                     "context applies to format: ngsi-ld only");
    if (c->cap_sender && c->format != CG_CONSUMER_CAP)
        loader_error(L, map_get(L, item, "cap"),
                     "cap applies to format: cap only");
    if (c->n_grants && c->role != CG_ROLE_ENTERPRISE)
        loader_error(L, map_get(L, item, "grants"),
                     "grants apply to enterprise consumers only");
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
