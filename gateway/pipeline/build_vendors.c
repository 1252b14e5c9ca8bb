/*
 * Building the pipeline from a loaded config: vendors with their decoder
 * instances and compiled expressions, the topic trie that finds a
 * message's vendor, consumers with their topic templates, and the rules.
 * Every problem is reported with its position; nothing is half-built.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Compiles src (or a part of it starting at `offset`) as an expression,
 * reporting problems at their true line and column. */
static int compile_at(const struct cg_src *src, size_t offset, size_t len,
                      const char *what, struct cg_expr **out,
                      struct cg_diags *d)
{
    struct cg_src sub = *src;
    char *text = cg_strndup(src->text + offset, len);
    if (!text)
        return CG_ENOMEM;
    cg_src_locate(src, offset, &sub.line, &sub.col);
    sub.text = text;
    int rc = cg_expr_compile_src(&sub, what, out, d);
    cg_free(text);
    return rc;
}

static int device_add(struct vendor_rt *v, char *text, struct cg_expr *x)
{
    struct device_part *p =
        cg_realloc(v->device, (v->n_device + 1) * sizeof(*p));
    if (!p) {
        cg_free(text);
        cg_expr_free(x);
        return CG_ENOMEM;
    }
    v->device = p;
    v->device[v->n_device].text = text;
    v->device[v->n_device++].expr = x;
    return CG_OK;
}

/* Inside braces, `topic.N` is level N and anything else an expression
 * (`payload.id` reads the decoded field id). */
static int device_placeholder(struct vendor_rt *v, const struct cg_src *src,
                              size_t at, size_t len, struct cg_diags *d)
{
    const char *s = src->text + at;
    char expr[48];
    struct cg_expr *x = NULL;
    int level;
    int rc;
    if (len > 6 && !strncmp(s, "topic.", 6) &&
        sscanf(s + 6, "%d", &level) == 1) {
        snprintf(expr, sizeof(expr), "topic[%d]", level);
        struct cg_src lit = {.text = expr, .file = src->file};
        rc = cg_expr_compile_src(&lit, "device", &x, d);
    } else {
        rc = compile_at(src, at, len, "device", &x, d);
    }
    return rc == CG_OK ? device_add(v, NULL, x) : rc;
}

static int compile_device_template(struct vendor_rt *v,
                                   const struct cg_src *src, struct cg_diags *d)
{
    const char *t = src->text;
    size_t i = 0, n = strlen(t);
    while (i < n) {
        const char *open = strchr(t + i, '{');
        size_t lit = open ? (size_t)(open - t) - i : n - i;
        if (lit) {
            char *text = cg_strndup(t + i, lit);
            if (!text || device_add(v, text, NULL) != CG_OK)
                return CG_ENOMEM;
        }
        if (!open)
            break;
        const char *close = strchr(open, '}');
        if (!close) {
            int line, col;
            cg_src_locate(src, (size_t)(open - t), &line, &col);
            cg_diags_add(d, src->file, line, col, "device: '{' without '}'");
            return CG_EINVAL;
        }
        size_t at = (size_t)(open - t) + 1;
        int rc = device_placeholder(v, src, at, (size_t)(close - open) - 1, d);
        if (rc != CG_OK)
            return rc;
        i = (size_t)(close - t) + 1;
    }
    return CG_OK;
}

/* Without `device:` the id is the first '+' level of the matching filter,
 * or else the payload's device, device_id or id field. */
static const char default_device_expr[] =
    "coalesce(payload[\"device\"], payload[\"device_id\"], payload[\"id\"])";

static int compile_device(struct vendor_rt *v, struct cg_diags *d)
{
    const struct cg_src *src = &v->conf->device;
    if (!src->text) {
        struct cg_src lit = {.text = default_device_expr};
        struct cg_expr *x = NULL;
        int rc = cg_expr_compile_src(&lit, "device", &x, d);
        return rc == CG_OK ? device_add(v, NULL, x) : rc;
    }
    if (strchr(src->text, '{'))
        return compile_device_template(v, src, d);
    struct cg_expr *x = NULL;
    int rc = compile_at(src, 0, strlen(src->text), "device", &x, d);
    return rc == CG_OK ? device_add(v, NULL, x) : rc;
}

static int compile_fields(struct vendor_rt *v, struct cg_diags *d)
{
    const struct cg_vendor_conf *c = v->conf;
    int result = CG_OK;
    if (c->time.text)
        result = cg_expr_compile_src(&c->time, "time", &v->time, d);
    if (result == CG_ENOMEM || !c->n_fields)
        return result;
    v->fields = cg_calloc(c->n_fields, sizeof(*v->fields));
    if (!v->fields)
        return CG_ENOMEM;
    for (size_t i = 0; i < c->n_fields; i++) {
        char what[96];
        if (!c->fields[i].expr.text)
            continue; /* the config reported why */
        snprintf(what, sizeof(what), "fields.%s", c->fields[i].name.s);
        int rc =
            cg_expr_compile_src(&c->fields[i].expr, what, &v->fields[i], d);
        if (rc == CG_ENOMEM)
            return rc;
        if (rc != CG_OK)
            result = rc;
    }
    return result;
}

static int decoder_instance(struct vendor_rt *v,
                            const struct cg_plugin_reg *reg, struct cg_diags *d)
{
    const struct cg_pstr *dec = &v->conf->decoder;
    if (!dec->s || !v->conf->decoder_options || !v->conf->name.s)
        return CG_EINVAL; /* the config reported why: nothing to check */
    const struct cg_plugin *p = cg_plugins_lookup(reg, "decoder", dec->s);
    if (!p) {
        struct cg_buf names = {0};
        cg_plugins_builtin_names(reg, "decoder", &names);
        cg_diags_add(d, dec->pos.file, dec->pos.line, dec->pos.col,
                     "unknown decoder '%s' (%s | plugin:NAME)", dec->s,
                     names.data ? names.data : "");
        cg_buf_free(&names);
        return CG_EINVAL;
    }
    const struct cg_pos *pos = v->conf->decoder_options_pos.file
                                   ? &v->conf->decoder_options_pos
                                   : &dec->pos;
    v->check_record = !strncmp(dec->s, "plugin:", 7);
    return cg_instance_new(p, v->conf->name.s, v->conf->decoder_options, pos,
                           NULL, 0, NULL, &v->decoder, d);
}

static bool is_private(const struct cg_vendor_conf *c, const char *name)
{
    for (size_t i = 0; i < c->n_private; i++)
        if (!strcmp(c->private_fields[i].s, name))
            return true;
    return false;
}

static int plus_level(const char *filter)
{
    int level = 0;
    for (const char *p = filter; *p; p++) {
        if (*p == '+')
            return level;
        level += *p == '/';
    }
    return -1;
}

/* Every invalid filter of the vendor is reported, not just the first. */
static int add_filters(struct cg_pipeline *e, uint32_t vi, struct cg_diags *d)
{
    const struct cg_vendor_conf *c = e->vendors[vi].conf;
    int result = CG_OK;
    e->vendors[vi].first_filter = (uint32_t)e->n_filters;
    for (size_t i = 0; i < c->n_topics; i++) {
        const struct cg_pstr *t = &c->topics[i];
        uint32_t fi = (uint32_t)e->n_filters++;
        e->filters[fi].vendor = vi;
        e->filters[fi].plus_level = plus_level(t->s);
        int rc = cg_topic_trie_add(e->vendor_trie, t->s, fi);
        if (rc == CG_EINVAL)
            cg_diags_add(d, t->pos.file, t->pos.line, t->pos.col,
                         "topics: invalid topic filter '%s'", t->s);
        if (rc == CG_ENOMEM)
            return rc;
        if (rc != CG_OK)
            result = rc;
    }
    return result;
}

static bool has_name(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* Every decoded field a device part reads. */
static int device_sources(const struct vendor_rt *v, struct taint *t)
{
    for (size_t i = 0; i < v->n_device; i++)
        if (v->device[i].expr)
            taint__collect(v->device[i].expr, t);
    return CG_OK;
}

static int add_device_field(struct vendor_rt *v, const char *name)
{
    if (has_name(v->device_fields, v->n_device_fields, name))
        return CG_OK;
    char **p =
        cg_realloc(v->device_fields, (v->n_device_fields + 1) * sizeof(*p));
    if (!p)
        return CG_ENOMEM;
    v->device_fields = p;
    if (!(p[v->n_device_fields] = cg_strdup(name)))
        return CG_ENOMEM;
    v->n_device_fields++;
    return CG_OK;
}

/* A private device id must not leak through the fields it is made of:
 * without `fields` those are record fields themselves; with `fields`,
 * any canonical field computed from them. */
static int taint_device_fields(struct vendor_rt *v)
{
    struct taint src = {0};
    int rc = device_sources(v, &src);
    const struct cg_vendor_conf *c = v->conf;
    for (size_t i = 0; rc == CG_OK && i < src.n && !c->has_fields; i++)
        rc = add_device_field(v, src.names[i]);
    for (size_t f = 0; rc == CG_OK && c->has_fields && f < c->n_fields; f++) {
        struct taint ft = {0};
        taint__collect(v->fields[f], &ft);
        bool reads = ft.all || ft.device;
        for (size_t i = 0; !reads && i < ft.n; i++)
            reads = has_name(src.names, src.n, ft.names[i]);
        if (reads)
            rc = add_device_field(v, c->fields[f].name.s);
        taint__free(&ft);
    }
    taint__free(&src);
    return rc;
}

/* Whether decoded field `name` feeds a private field: without `fields`
 * it is one; with `fields`, some private field's expression reads it. */
static bool feeds_private(const struct vendor_rt *v, const char *name)
{
    const struct cg_vendor_conf *c = v->conf;
    if (!c->has_fields)
        return is_private(c, name);
    bool feeds = false;
    for (size_t f = 0; !feeds && f < c->n_fields; f++) {
        if (!is_private(c, c->fields[f].name.s) || !v->fields[f])
            continue;
        struct taint ft = {0};
        taint__collect(v->fields[f], &ft);
        feeds = ft.all || has_name(ft.names, ft.n, name);
        taint__free(&ft);
    }
    return feeds;
}

/* A device id built from a private field is private too (SPEC §6), as if
 * `device` were listed in `private`. */
static bool device_reads_private(const struct vendor_rt *v)
{
    struct taint src = {0};
    device_sources(v, &src);
    bool reads = src.all && v->conf->n_private > 0;
    for (size_t i = 0; !reads && i < src.n; i++)
        reads = feeds_private(v, src.names[i]);
    taint__free(&src);
    return reads;
}

static int build_vendor(struct cg_pipeline *e, uint32_t vi,
                        const struct cg_plugin_reg *reg, struct cg_diags *d)
{
    struct vendor_rt *v = &e->vendors[vi];
    const struct cg_config *cfg = e->cfg;
    v->conf = &cfg->vendors[vi];
    if (v->conf->network_index >= 0)
        v->network = cfg->networks[v->conf->network_index].name;
    v->device_private = is_private(v->conf, "device");
    const int rcs[4] = {decoder_instance(v, reg, d), compile_device(v, d),
                        compile_fields(v, d), add_filters(e, vi, d)};
    for (int i = 0; i < 4; i++)
        if (rcs[i] == CG_ENOMEM)
            return CG_ENOMEM;
    for (int i = 0; i < 4; i++)
        if (rcs[i] != CG_OK)
            return rcs[i];
    v->device_private = v->device_private || device_reads_private(v);
    return v->device_private ? taint_device_fields(v) : CG_OK;
}

int build__vendors(struct cg_pipeline *e, const struct cg_plugin_reg *reg,
                   struct cg_diags *d)
{
    const struct cg_config *cfg = e->cfg;
    size_t n_filters = 0;
    for (size_t i = 0; i < cfg->n_vendors; i++)
        n_filters += cfg->vendors[i].n_topics;
    e->vendors = cg_calloc(cfg->n_vendors, sizeof(*e->vendors));
    e->filters = cg_calloc(n_filters ? n_filters : 1, sizeof(*e->filters));
    e->vendor_trie = cg_topic_trie_new();
    if (!e->vendors || !e->filters || !e->vendor_trie)
        return CG_ENOMEM;
    e->n_vendors = cfg->n_vendors;
    int result = CG_OK;
    for (uint32_t i = 0; i < cfg->n_vendors; i++) {
        int rc = build_vendor(e, i, reg, d);
        if (rc == CG_ENOMEM)
            return rc;
        if (rc != CG_OK)
            result = rc;
    }
    return result;
}

void build__free_vendors(struct cg_pipeline *e)
{
    for (size_t i = 0; e->vendors && i < e->n_vendors; i++) {
        struct vendor_rt *v = &e->vendors[i];
        cg_instance_free(v->decoder);
        for (size_t j = 0; j < v->n_device; j++) {
            cg_free(v->device[j].text);
            cg_expr_free(v->device[j].expr);
        }
        cg_free(v->device);
        for (size_t j = 0; j < v->n_device_fields; j++)
            cg_free(v->device_fields[j]);
        cg_free(v->device_fields);
        cg_expr_free(v->time);
        for (size_t j = 0; v->fields && j < v->conf->n_fields; j++)
            cg_expr_free(v->fields[j]);
        cg_free(v->fields);
    }
    CG_FREE(e->vendors);
    CG_FREE(e->filters);
    cg_topic_trie_free(e->vendor_trie);
    e->vendor_trie = NULL;
}
