/*
 * Plugin options: an instance's options are checked against the table its
 * plugin declares (unknown names with a suggestion, types, required
 * options), each error at the option's own line and column. For sinks,
 * the host-handled option types (citygate_plugin.h) are resolved here:
 * sizes to integers, paths against the config's folder, env:NAME in maps,
 * and the topic template, QoS, batching and destination are taken out for
 * the host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "rules.h"

#define DEFAULT_BATCH_MAX  100
#define DEFAULT_BATCH_WAIT 200

static const char *type_name(int type)
{
    switch (type) {
    case CG_OPT_STRING:
    case CG_OPT_TARGET:
        return "a string";
    case CG_OPT_INT:
        return "an integer";
    case CG_OPT_NUMBER:
        return "a number";
    case CG_OPT_BOOL:
    case CG_OPT_RETAIN:
        return "true or false";
    case CG_OPT_LIST:
        return "a list";
    case CG_OPT_MAP:
    case CG_OPT_BROKER:
        return "a mapping";
    case CG_OPT_SIZE:
        return "a size (e.g. 64MiB)";
    case CG_OPT_PATH:
    case CG_OPT_FILE:
        return "a path";
    case CG_OPT_FORMAT:
        return "set by the gateway";
    case CG_OPT_TEMPLATE:
        return "a topic template";
    case CG_OPT_QOS:
        return "0, 1 or 2";
    case CG_OPT_BATCH:
        return "a mapping of max_events and max_wait_ms";
    default:
        return "a value";
    }
}

static bool type_fits(int type, const struct cg_value *v)
{
    switch (type) {
    case CG_OPT_STRING:
    case CG_OPT_PATH:
    case CG_OPT_TARGET:
    case CG_OPT_TEMPLATE:
    case CG_OPT_FILE:
    case CG_OPT_FORMAT:
        return v->type == CG_STR;
    case CG_OPT_INT:
        return v->type == CG_INT;
    case CG_OPT_NUMBER:
        return v->type == CG_INT || v->type == CG_NUM;
    case CG_OPT_BOOL:
    case CG_OPT_RETAIN:
        return v->type == CG_BOOL;
    case CG_OPT_LIST:
        return v->type == CG_LIST;
    case CG_OPT_MAP:
    case CG_OPT_BATCH:
        return v->type == CG_OBJ;
    case CG_OPT_SIZE:
        return (v->type == CG_INT && v->as.i >= 0) || v->type == CG_STR;
    case CG_OPT_QOS:
        return v->type == CG_INT && v->as.i >= 0 && v->as.i <= 2;
    default:
        return false;
    }
}

static const struct cg_option *find_option(const struct cg_plugin *p,
                                           const char *name)
{
    for (const struct cg_option *o = p->options; o && o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

static const struct cg_pos *where_is(const char *name, const struct cg_pos *pos,
                                     const struct cg_sink_option *where,
                                     size_t n)
{
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(where[i].name, name))
            return &where[i].pos;
    return pos;
}

static void unknown_option(const struct cg_plugin *p, const char *name,
                           const struct cg_pos *at, struct cg_diags *d)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (const struct cg_option *o = p->options; o && o->name; o++) {
        size_t dist = cg_edit_distance(name, o->name);
        if (dist < best_d && o->type != CG_OPT_BROKER) {
            best_d = dist;
            best = o->name;
        }
    }
    if (best)
        cg_diags_add(d, at->file, at->line, at->col,
                     "unknown option '%s' for %s %s (did you mean '%s'?)", name,
                     p->kind, p->name, best);
    else
        cg_diags_add(d, at->file, at->line, at->col,
                     "unknown option '%s' for %s %s", name, p->kind, p->name);
}

int host__check_options(const struct cg_plugin *p, const struct cg_value *opts,
                        const struct cg_pos *pos,
                        const struct cg_sink_option *where, size_t n_where,
                        struct cg_diags *d)
{
    size_t before = d->n;
    for (uint32_t i = 0; i < opts->len; i++) {
        const struct cg_member *m = &opts->as.members[i];
        const struct cg_option *o = find_option(p, m->key);
        const struct cg_pos *at = where_is(m->key, pos, where, n_where);
        if (!o || o->type == CG_OPT_BROKER)
            unknown_option(p, m->key, at, d);
        else if (!type_fits(o->type, &m->value))
            cg_diags_add(d, at->file, at->line, at->col,
                         "option '%s' of %s %s must be %s", m->key, p->kind,
                         p->name, type_name(o->type));
    }
    for (const struct cg_option *o = p->options; o && o->name; o++)
        if (o->required && !cg_value_member(opts, o->name, strlen(o->name)))
            cg_diags_add(d, pos->file, pos->line, pos->col,
                         "%s %s needs the option '%s'", p->kind, p->name,
                         o->name);
    return d->n > before ? CG_EINVAL : CG_OK;
}

/* "name: message" from create() is reported at that option. */
void host__create_error(const struct cg_plugin *p, const char *err,
                        const struct cg_pos *pos,
                        const struct cg_sink_option *where, size_t n_where,
                        struct cg_diags *d)
{
    const char *colon = strchr(err, ':');
    char name[64] = "";
    if (colon && (size_t)(colon - err) < sizeof(name)) {
        memcpy(name, err, (size_t)(colon - err));
        name[colon - err] = '\0';
    }
    const struct cg_pos *at = where_is(name, pos, where, n_where);
    cg_diags_add(d, at->file, at->line, at->col, "%s %s: %s", p->kind, p->name,
                 err);
}

/* ---- sinks ----------------------------------------------------------------
 */

struct resolve {
    const struct cg_config *cfg;
    const struct cg_consumer_conf *c;
    struct cg_arena *arena;
    struct cg_sink_conf *out;
    struct cg_diags *d;
};

static void error_at(struct resolve *r, const char *option, const char *fmt,
                     const char *arg)
{
    const struct cg_pos *at =
        where_is(option, &r->c->pos, r->c->sink_options, r->c->n_sink_options);
    char msg[160];
    snprintf(msg, sizeof(msg), fmt, arg);
    cg_diags_add(r->d, at->file, at->line, at->col, "consumer %s: %s",
                 r->c->name.s, msg);
}

static int arena_str(struct resolve *r, const char *s, struct cg_value *out)
{
    size_t n = strlen(s);
    char *copy = cg_arena_strndup(r->arena, s, n);
    if (!copy)
        return CG_ENOMEM;
    *out = cg_value_str(copy, n);
    return CG_OK;
}

/* Whether the plugin lists name ("bearer_token_file", "auth.password_file")
 * among the options that hold a secret. */
static bool is_secret(const struct cg_plugin *p, const char *name)
{
    for (const char *const *s = p->secret_files; s && *s; s++)
        if (!strcmp(*s, name))
            return true;
    return false;
}

/* A secret file others can read still works, so it is a warning, not an
 * error (as for the broker's files): but it is a leak waiting to happen. */
static void warn_if_readable(struct resolve *r, const char *option,
                             const char *name, const char *path)
{
    struct stat st;
    if (!is_secret(r->out->plugin, name) || stat(path, &st) != 0 ||
        !(st.st_mode & 077))
        return;
    const struct cg_pos *at =
        where_is(option, &r->c->pos, r->c->sink_options, r->c->n_sink_options);
    cg_diags_warn(r->d, at->file, at->line, at->col,
                  "consumer %s: %s '%.80s' is readable by others (mode %04o): "
                  "chmod 600",
                  r->c->name.s, name, path, (unsigned)(st.st_mode & 07777));
}

/* A file the sink will read: resolved against the config's folder and
 * readable now, so a typo is a load error rather than a failing sink.
 * name is the option ("bearer_token_file") or map member
 * ("auth.password_file") it came from. */
static int resolve_file(struct resolve *r, const char *option, const char *name,
                        struct cg_value *v)
{
    char buf[4096];
    cg_config_resolve(r->cfg, v->as.str, buf, sizeof(buf));
    if (access(buf, R_OK) != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s: cannot read '%.80s': %s", option, buf,
                 strerror(errno));
        error_at(r, option, "%s", msg);
        return CG_EINVAL;
    }
    warn_if_readable(r, option, name, buf);
    return arena_str(r, buf, v);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

/* String members of a map may read the environment ("env:NAME"); those
 * named *_file are files, resolved like CG_OPT_FILE. */
static int resolve_member(struct resolve *r, const struct cg_member *m,
                          struct cg_member *x)
{
    const struct cg_value *s = &x->value;
    if (s->type == CG_STR && ends_with(x->key, "_file")) {
        char name[160];
        snprintf(name, sizeof(name), "%s.%s", m->key, x->key);
        return resolve_file(r, m->key, name, &x->value);
    }
    if (s->type != CG_STR || strncmp(s->as.str, "env:", 4))
        return CG_OK;
    const char *env = getenv(s->as.str + 4);
    if (!env) {
        error_at(r, m->key, "environment variable '%s' is not set",
                 s->as.str + 4);
        return CG_EINVAL;
    }
    return arena_str(r, env, &x->value);
}

static int resolve_map(struct resolve *r, const struct cg_member *m,
                       struct cg_value *v)
{
    struct cg_member *copy =
        cg_arena_alloc(r->arena, (v->len ? v->len : 1) * sizeof(*copy));
    if (!copy)
        return CG_ENOMEM;
    for (uint32_t i = 0; i < v->len; i++) {
        copy[i] = v->as.members[i];
        int rc = resolve_member(r, m, &copy[i]);
        if (rc != CG_OK)
            return rc;
    }
    v->as.members = copy;
    return CG_OK;
}

static int resolve_batch(struct resolve *r, const struct cg_member *m)
{
    const struct cg_value *v = &m->value;
    for (uint32_t i = 0; i < v->len; i++) {
        const struct cg_member *b = &v->as.members[i];
        bool events = !strcmp(b->key, "max_events");
        bool wait = !strcmp(b->key, "max_wait_ms");
        long max = events ? 100000 : 600000, min = events ? 1 : 0;
        if (!events && !wait) {
            error_at(r, m->key,
                     "unknown key 'batch.%s' (max_events, "
                     "max_wait_ms)",
                     b->key);
            return CG_EINVAL;
        }
        if (b->value.type != CG_INT || b->value.as.i < min ||
            b->value.as.i > max) {
            error_at(r, m->key, "batch.%s is out of range", b->key);
            return CG_EINVAL;
        }
        *(events ? &r->out->batch_max : &r->out->batch_wait_ms) =
            (int)b->value.as.i;
    }
    return CG_OK;
}

/* The destination as people see it (check, eval, test): a password in
 * the URL's userinfo is shown as "***". The sink's own option keeps the
 * URL as written, since only the connection itself needs it. */
static int redacted_target(struct resolve *r, const char *url)
{
    char buf[4096];
    struct cg_value shown;
    cg_uri_redacted(url, buf, sizeof(buf));
    if (arena_str(r, buf, &shown) != CG_OK)
        return CG_ENOMEM;
    r->out->target = shown.as.str;
    return CG_OK;
}

/* One option whose type the host handles; v is the copy create() gets. */
static int resolve_one(struct resolve *r, const struct cg_option *o,
                       const struct cg_member *m, struct cg_value *v)
{
    char buf[4096];
    uint64_t size;
    switch (o->type) {
    case CG_OPT_SIZE:
        if (v->type == CG_STR && cg_size_parse(v->as.str, &size) != CG_OK) {
            error_at(r, m->key, "'%s' is not a size (e.g. 64MiB)", v->as.str);
            return CG_EINVAL;
        }
        if (v->type == CG_STR)
            *v = cg_value_int((int64_t)size);
        return CG_OK;
    case CG_OPT_PATH:
        cg_config_resolve(r->cfg, v->as.str, buf, sizeof(buf));
        if (arena_str(r, buf, v) != CG_OK)
            return CG_ENOMEM;
        r->out->target = v->as.str;
        return CG_OK;
    case CG_OPT_TARGET:
        return redacted_target(r, v->as.str);
    case CG_OPT_TEMPLATE:
        r->out->topic = v->as.str;
        r->out->topic_pos = r->c->pos;
        for (size_t i = 0; i < r->c->n_sink_options; i++)
            if (!strcmp(r->c->sink_options[i].name, m->key))
                r->out->topic_pos = r->c->sink_options[i].value_pos;
        return CG_OK;
    case CG_OPT_QOS:
        r->out->qos = (int)v->as.i;
        return CG_OK;
    case CG_OPT_RETAIN:
        r->out->retain = v->as.boolean;
        return CG_OK;
    case CG_OPT_BATCH:
        return resolve_batch(r, m);
    case CG_OPT_MAP:
        return resolve_map(r, m, v);
    case CG_OPT_FILE:
        return resolve_file(r, m->key, m->key, v);
    case CG_OPT_FORMAT:
        error_at(r, m->key,
                 "'%s' is set by the gateway (the consumer's "
                 "format:)",
                 m->key);
        return CG_EINVAL;
    default:
        return CG_OK;
    }
}

/* What the host does for a sink that declares an option of this type,
 * whether the consumer gives the option or not. */
static int declared(const struct cg_plugin *p, int type, const char **name)
{
    for (const struct cg_option *o = p->options; o && o->name; o++)
        if (o->type == type) {
            *name = o->name;
            return 1;
        }
    return 0;
}

static int apply_defaults(struct resolve *r)
{
    const struct cg_plugin *p = r->out->plugin;
    const char *name;
    char buf[300];
    r->out->mqtt = declared(p, CG_OPT_BROKER, &name);
    if (declared(p, CG_OPT_BATCH, &name)) {
        r->out->batch_max = DEFAULT_BATCH_MAX;
        r->out->batch_wait_ms = DEFAULT_BATCH_WAIT;
    }
    if (r->c->broker && !r->out->mqtt) {
        cg_diags_add(r->d, r->c->pos.file, r->c->pos.line, r->c->pos.col,
                     "consumer %s: 'broker' does not apply to the %s sink",
                     r->c->name.s, p->name);
        return CG_EINVAL;
    }
    if (!declared(p, CG_OPT_TEMPLATE, &name))
        return CG_OK;
    snprintf(buf, sizeof(buf), "city/%s/{domain}/{type}", r->c->name.s);
    r->out->topic_pos = r->c->pos;
    struct cg_value v;
    if (arena_str(r, buf, &v) != CG_OK)
        return CG_ENOMEM;
    r->out->topic = v.as.str;
    return CG_OK;
}

static const char *const format_names[] = {"event", "ngsi-ld", "cap"};

/* A sink that declares a CG_OPT_FORMAT option gets the consumer's format
 * in it, as one more member after the operator's options. */
static void add_format(struct resolve *r, struct cg_member *m, uint32_t *n)
{
    const char *name;
    if (!declared(r->out->plugin, CG_OPT_FORMAT, &name))
        return;
    m[*n].key = name;
    m[*n].key_len = (uint32_t)strlen(name);
    m[*n].value = cg_value_str(format_names[r->c->format % 3],
                               strlen(format_names[r->c->format % 3]));
    (*n)++;
}

static int resolve_options(struct resolve *r)
{
    const struct cg_value *in = &r->c->options;
    struct cg_member *m = cg_arena_alloc(r->arena, (in->len + 1) * sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    int result = CG_OK;
    for (uint32_t i = 0; i < in->len; i++) {
        m[i] = in->as.members[i];
        const struct cg_option *o = find_option(r->out->plugin, m[i].key);
        int rc = o ? resolve_one(r, o, &in->as.members[i], &m[i].value) : CG_OK;
        if (rc == CG_ENOMEM)
            return rc;
        if (rc != CG_OK)
            result = rc;
    }
    uint32_t n = in->len;
    add_format(r, m, &n);
    r->out->options = (struct cg_value){.type = CG_OBJ, .len = n};
    r->out->options.as.members = m;
    return result;
}

/* The plugin's own check of its options (what create() would refuse),
 * when its descriptor has one. */
static int check_plugin(struct resolve *r)
{
    const struct cg_plugin *p = r->out->plugin;
    char err[160] = "";
    if (!p->check || p->check(&r->out->options, err, sizeof(err)) == CG_OK)
        return CG_OK;
    host__create_error(p, err[0] ? err : "invalid options", &r->c->pos,
                       r->c->sink_options, r->c->n_sink_options, r->d);
    return CG_EINVAL;
}

int cg_sink_resolve(const struct cg_plugin_reg *reg,
                    const struct cg_config *cfg,
                    const struct cg_consumer_conf *c, struct cg_arena *arena,
                    struct cg_sink_conf *out, struct cg_diags *d)
{
    memset(out, 0, sizeof(*out));
    out->qos = 1;
    out->batch_max = DEFAULT_BATCH_MAX;
    struct resolve r = {cfg, c, arena, out, d};
    out->plugin = c->sink.s ? cg_plugins_lookup(reg, "sink", c->sink.s)
                            : cg_plugins_default_sink(reg);
    if (!out->plugin) {
        struct cg_buf names = {0};
        cg_plugins_builtin_names(reg, "sink", &names);
        cg_diags_add(d, c->sink.pos.file, c->sink.pos.line, c->sink.pos.col,
                     "unknown sink '%s' (%s | plugin:NAME)", c->sink.s,
                     names.data ? names.data : "");
        cg_buf_free(&names);
        return CG_EINVAL;
    }
    int rc = host__check_options(out->plugin, &c->options, &c->pos,
                                 c->sink_options, c->n_sink_options, d);
    if (rc != CG_OK)
        return rc;
    if ((rc = apply_defaults(&r)) != CG_OK)
        return rc;
    if ((rc = resolve_options(&r)) != CG_OK)
        return rc;
    return check_plugin(&r);
}
