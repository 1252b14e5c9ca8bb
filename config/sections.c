/*
 * Schema tables for the gateway, broker, networks and vendors sections
 * (SPEC §2). Each section is a table of rows plus, where a value needs
 * more than a type check, a small parse function.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static const char *const log_levels[] = {"error", "warn", "info", "debug",
                                         NULL};
static const char *const network_kinds[] = {"nb-iot", "lorawan", "5g",    "lte",
                                            "fibre",  "wifi",    "other", NULL};
static const char *const mqtt_clients[] = {"paho", "mosquitto", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

static const struct field gateway_fields[] = {
    {FIELD(struct cg_gateway_conf, id, "id", FT_STR), .def = "citygate"},
    {FIELD(struct cg_gateway_conf, log_level, "log_level", FT_ENUM),
     .def = "info", .choices = log_levels},
    {FIELD(struct cg_gateway_conf, spool_dir, "spool_dir", FT_STR),
     .def = "./spool"},
    {FIELD(struct cg_gateway_conf, dead_letter_topic, "dead_letter_topic",
           FT_STR)},
    {FIELD(struct cg_gateway_conf, status_topic, "status_topic", FT_STR)},
    {FIELD(struct cg_gateway_conf, metrics_listen, "metrics_listen", FT_STR)},
    {FIELD(struct cg_gateway_conf, max_payload_bytes, "max_payload_bytes",
           FT_SIZE),
     .def = "262144"},
    {FIELD(struct cg_gateway_conf, timezone, "timezone", FT_STR), .def = "UTC"},
    {FIELD(struct cg_gateway_conf, spool_reserve_bytes, "spool_reserve_bytes",
           FT_SIZE),
     .def = "64MiB"},
    {FIELD(struct cg_gateway_conf, log_format, "log_format", FT_ENUM),
     .def = "text", .choices = log_formats},
    {0}};

/* An IANA zone name the system's tzdata holds (glibc quietly reads an
 * unknown name as UTC, which would shift every window and hour()). */
static bool zone_known(const char *name)
{
    if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC"))
        return true;
    if (!*name || name[0] == '/' || strstr(name, ".."))
        return false;
    const char *dir = getenv("TZDIR");
    char path[512], magic[4];
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo",
             name);
    FILE *f = fopen(path, "rb");
    bool ok = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "TZif", 4);
    if (f)
        fclose(f);
    return ok;
}

/* Fills what depends on other keys: topics named after the gateway id. */
static void gateway_derive(struct loader *L, struct cg_gateway_conf *g)
{
    char buf[512];
    if (!g->dead_letter_topic) {
        snprintf(buf, sizeof(buf), "citygate/%s/dead", g->id);
        g->dead_letter_topic = loader_strdup(L, buf);
    }
    if (!g->status_topic) {
        snprintf(buf, sizeof(buf), "citygate/%s/status", g->id);
        g->status_topic = loader_strdup(L, buf);
    }
    g->spool_dir = loader_resolve(L, g->spool_dir);
}

/* A topic the gateway publishes to. MQTT forbids wildcards and empty
 * names there, and brokers keep topics that start with '$' to
 * themselves: any of these would drop the output connection at the first
 * dead letter or status message, long after `check` said OK. */
static void check_topic(struct loader *L, yaml_node_t *map, const char *key,
                        const char *topic)
{
    yaml_node_t *n = map_get(L, map, key);
    const char *why = NULL;
    if (!n || !topic)
        return; /* derived from the id, which is checked */
    if (!*topic)
        why = "must not be empty";
    else if (strpbrk(topic, "+#"))
        why = "must not hold the MQTT wildcards '+' or '#'";
    else if (topic[0] == '$')
        why = "must not start with '$' (brokers reserve those topics)";
    else if (strlen(topic) > 65535)
        why = "is longer than MQTT's 65535 bytes";
    if (!why)
        return;
    size_t mark = where_push(L, ".%s", key);
    loader_error(L, n, "%s", why);
    where_pop(L, mark);
}

/* "127.0.0.1:9108" or ":9108" (every address): what the metrics server
 * can bind, an IPv4 address and a port from 1 to 65535. */
static bool valid_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return false;
    size_t digits = strspn(colon + 1, "0123456789");
    if (digits == 0 || digits > 5 || colon[1 + digits])
        return false;
    long port = strtol(colon + 1, NULL, 10);
    char host[INET_ADDRSTRLEN];
    size_t len = (size_t)(colon - s);
    struct in_addr addr;
    if (port < 1 || port > 65535 || len >= sizeof(host))
        return false;
    memcpy(host, s, len);
    host[len] = '\0';
    return len == 0 || inet_pton(AF_INET, host, &addr) == 1;
}

static void check_gateway(struct loader *L, yaml_node_t *n,
                          const struct cg_gateway_conf *g)
{
    yaml_node_t *id = map_get(L, n, "id");
    if (g->id && !*g->id)
        loader_error(L, id, "id must not be empty");
    if (g->id && strpbrk(g->id, "/+#"))
        loader_error(L, id, "id must not hold '/', '+' or '#'");
    check_topic(L, n, "dead_letter_topic", g->dead_letter_topic);
    check_topic(L, n, "status_topic", g->status_topic);
    if (g->timezone && !zone_known(g->timezone)) {
        size_t mark = where_push(L, ".timezone");
        loader_error(L, map_get(L, n, "timezone"),
                     "unknown time zone '%s' (an IANA name such as "
                     "Europe/Berlin, from the system's tzdata)",
                     g->timezone);
        where_pop(L, mark);
    }
    if (g->metrics_listen && !valid_listen(g->metrics_listen)) {
        size_t mark = where_push(L, ".metrics_listen");
        loader_error(L, map_get(L, n, "metrics_listen"),
                     "expected IPV4:PORT or :PORT with a port from 1 to "
                     "65535, got '%s'",
                     g->metrics_listen);
        where_pop(L, mark);
    }
}

int load_gateway(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_gateway_conf *g = &((struct cg_config *)base)->gateway;
    if (!n) {
        schema_defaults(L, gateway_fields, g);
        gateway_derive(L, g);
        return 0;
    }
    int errs = schema_apply(L, n, gateway_fields, g);
    check_gateway(L, n, g);
    if (g->id)
        gateway_derive(L, g);
    return errs;
}

static const struct field tls_fields[] = {
    {FIELD(struct cg_tls_conf, ca_file, "ca_file", FT_STR)},
    {FIELD(struct cg_tls_conf, cert_file, "cert_file", FT_STR)},
    {FIELD(struct cg_tls_conf, key_file, "key_file", FT_STR)},
    {FIELD(struct cg_tls_conf, verify, "verify", FT_BOOL), .def = "true"},
    {0}};

/* A secret file that others can read still works, so it is a warning,
 * not an error: but it is a leak waiting to happen. */
static void warn_if_readable(struct loader *L, yaml_node_t *n, const char *key,
                             const char *path, mode_t mode)
{
    if (mode & 077)
        loader_warn(L, n,
                    "%s '%s' is readable by others (mode %04o): chmod 600", key,
                    path, (unsigned)(mode & 07777));
}

/* Resolves a TLS file against the config folder and checks that the
 * gateway will be able to read it when it connects. */
static const char *tls_file(struct loader *L, yaml_node_t *tls, const char *key,
                            const char *path)
{
    yaml_node_t *n = map_get(L, tls, key);
    struct stat st;
    if (!path || !n)
        return path;
    path = loader_resolve(L, path);
    if (!path)
        return NULL;
    size_t mark = where_push(L, ".%s", key);
    bool bad = true;
    if (stat(path, &st) < 0 || access(path, R_OK) < 0)
        loader_error(L, n, "'%s' cannot be read: %s", path, strerror(errno));
    else if (file_kind(st.st_mode))
        loader_error(L, n, "'%s' %s", path, file_kind(st.st_mode));
    else
        bad = false;
    where_pop(L, mark);
    if (!bad && !strcmp(key, "key_file"))
        warn_if_readable(L, n, key, path, st.st_mode);
    return path;
}

static int parse_tls(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_tls_conf *t = &((struct cg_broker_conf *)base)->tls;
    t->enabled = true;
    int errs = schema_apply(L, n, tls_fields, t);
    t->ca_file = tls_file(L, n, "ca_file", t->ca_file);
    t->cert_file = tls_file(L, n, "cert_file", t->cert_file);
    t->key_file = tls_file(L, n, "key_file", t->key_file);
    return errs;
}

static const struct field broker_fields[] = {
    {FIELD(struct cg_broker_conf, uri, "uri", FT_STR),
     .def = "tcp://127.0.0.1:1883"},
    {FIELD(struct cg_broker_conf, client_id, "client_id", FT_STR)},
    {FIELD(struct cg_broker_conf, username, "username", FT_STR)},
    {FIELD(struct cg_broker_conf, password_file, "password_file", FT_STR)},
    {.key = "tls", .type = FT_CUSTOM, .parse = parse_tls},
    {FIELD(struct cg_broker_conf, keepalive, "keepalive", FT_INT), .def = "30",
     .min = 1, .max = 65535},
    {FIELD(struct cg_broker_conf, clean_session, "clean_session", FT_BOOL),
     .def = "false"},
    {FIELD(struct cg_broker_conf, qos, "qos", FT_INT), .def = "1", .min = 0,
     .max = 2},
    {FIELD(struct cg_broker_conf, share_group, "share_group", FT_STR)},
    {FIELD(struct cg_broker_conf, client, "client", FT_ENUM), .def = "paho",
     .choices = mqtt_clients},
    {0}};

/* Reads the password from its file: never from the YAML itself. A
 * trailing line break is not part of it. */
static void read_password(struct loader *L, yaml_node_t *n,
                          struct cg_broker_conf *b)
{
    struct file_text f;
    const char *why;
    b->password_file = loader_resolve(L, b->password_file);
    if (!b->password_file)
        return;
    int err = read_text_file(b->password_file, &f, &why);
    if (err == ENOMEM) {
        L->oom = 1;
        return;
    }
    if (err) {
        loader_error(L, n, "password_file '%s' cannot be read: %s",
                     b->password_file, why);
        return;
    }
    warn_if_readable(L, n, "password_file", b->password_file, f.mode);
    while (f.len && (f.text[f.len - 1] == '\n' || f.text[f.len - 1] == '\r'))
        f.text[--f.len] = '\0';
    b->password = loader_strdup(L, f.text);
    cg_free(f.text);
}

/* The gateway subscribes as $share/<group>/<filter>: MQTT 5 (4.8.2) bars
 * '/', '+' and '#' from a share name, and a broker refuses the whole
 * subscription, so a bad group would silently receive nothing. */
static void check_share_group(struct loader *L, yaml_node_t *n,
                              const char *group)
{
    size_t mark = where_push(L, ".share_group");
    if (!*group)
        loader_error(L, n, "must not be empty");
    else if (strpbrk(group, "/+#"))
        loader_error(L, n,
                     "'%s' must not contain '/', '+' or '#' (it becomes "
                     "$share/<group>/<filter>)",
                     group);
    where_pop(L, mark);
}

int load_broker_into(struct loader *L, yaml_node_t *n, struct cg_broker_conf *b)
{
    b->pos = node_pos(L, n);
    int errs = schema_apply(L, n, broker_fields, b);
    const char *problem = b->uri ? cg_broker_uri_problem(b->uri) : NULL;
    if (problem)
        loader_error(L, map_get(L, n, "uri") ? map_get(L, n, "uri") : n,
                     "uri %s", problem);
    if (b->client_id && !*b->client_id) {
        size_t mark = where_push(L, ".client_id");
        loader_error(L, map_get(L, n, "client_id"), "must not be empty");
        where_pop(L, mark);
    }
    if (b->share_group)
        check_share_group(L, map_get(L, n, "share_group"), b->share_group);
    if (b->password_file)
        read_password(L, map_get(L, n, "password_file"), b);
    return errs;
}

int load_broker(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_config *cfg = base;
    struct cg_broker_conf *b = &cfg->broker;
    int errs = 0;
    if (n)
        errs = load_broker_into(L, n, b);
    else
        schema_defaults(L, broker_fields, b);
    if (!b->client_id && cfg->gateway.id) {
        char buf[300];
        snprintf(buf, sizeof(buf), "citygate-%s", cfg->gateway.id);
        b->client_id = loader_strdup(L, buf);
    }
    return errs;
}

static const struct field network_fields[] = {
    {FIELD(struct cg_network_conf, name, "name", FT_STR), .required = 1},
    {FIELD(struct cg_network_conf, kind, "kind", FT_STR), .def = "other"},
    {0}};

static void check_network_kind(struct loader *L, yaml_node_t *item,
                               const struct cg_network_conf *net)
{
    for (int i = 0; network_kinds[i]; i++)
        if (strcmp(network_kinds[i], net->kind) == 0)
            return;
    loader_error(L, map_get(L, item, "kind"),
                 "expected one of nb-iot | lorawan | 5g | lte | fibre | "
                 "wifi | other, got '%s'",
                 net->kind);
}

int load_networks(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_config *cfg = base;
    if (n->type != YAML_SEQUENCE_NODE) {
        loader_error(L, n, "expected a list of networks");
        return 1;
    }
    size_t len = node_len(n);
    cfg->networks = loader_alloc(L, (len ? len : 1) * sizeof(*cfg->networks));
    if (!cfg->networks)
        return 1;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        struct cg_network_conf *net = &cfg->networks[cfg->n_networks++];
        size_t mark = where_push(L, "[%zu]", i);
        net->pos = node_pos(L, item);
        if (schema_apply(L, item, network_fields, net) == 0 && net->kind)
            check_network_kind(L, item, net);
        for (size_t j = 0; j + 1 < cfg->n_networks && net->name; j++)
            if (cfg->networks[j].name &&
                strcmp(cfg->networks[j].name, net->name) == 0)
                loader_error(L, item, "duplicate network name '%s'", net->name);
        where_pop(L, mark);
    }
    return 0;
}
