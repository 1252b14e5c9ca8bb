/*
 * The vendors section: device providers, their topic filters, decoder,
 * device id, field map, private fields and device time (SPEC §2).
 */
#include <string.h>

#include "internal.h"

static const struct cg_value empty_object = {.type = CG_OBJ};

static int parse_fields(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_vendor_conf *v = base;
    v->has_fields = true;
    return node_field_map(L, n, &v->fields, &v->n_fields);
}

static const struct field vendor_fields[] = {
    {FIELD(struct cg_vendor_conf, name, "name", FT_PSTR), .required = 1},
    {FIELD(struct cg_vendor_conf, network, "network", FT_PSTR)},
    {FIELD(struct cg_vendor_conf, topics, "topics", FT_PLIST), .required = 1},
    {FIELD(struct cg_vendor_conf, device, "device", FT_SRC)},
    {FIELD(struct cg_vendor_conf, decoder, "decoder", FT_PSTR), .def = "json"},
    {FIELD(struct cg_vendor_conf, decoder_options, "decoder_options",
           FT_VALUE)},
    {.key = "fields", .type = FT_CUSTOM, .parse = parse_fields},
    {FIELD(struct cg_vendor_conf, private_fields, "private", FT_PLIST)},
    {FIELD(struct cg_vendor_conf, time, "time", FT_SRC)},
    {0}};

static bool has_field(const struct cg_vendor_conf *v, const char *name)
{
    for (size_t i = 0; i < v->n_fields; i++)
        if (v->fields[i].name.s && strcmp(v->fields[i].name.s, name) == 0)
            return true;
    return false;
}

/* A private name that is no field of the vendor is almost surely a typo
 * that would leak the field it meant. */
static void check_private(struct loader *L, const struct cg_vendor_conf *v)
{
    for (size_t i = 0; i < v->n_private; i++) {
        const struct cg_pstr *p = &v->private_fields[i];
        if (!p->s || strcmp(p->s, "device") == 0 || !v->has_fields ||
            has_field(v, p->s))
            continue;
        cg_diags_add(L->d, p->pos.file, p->pos.line, p->pos.col,
                     "%s.private: '%s' is not one of this vendor's fields",
                     L->where + 1, p->s);
        L->errors++;
    }
}

static void check_options(struct loader *L, yaml_node_t *item,
                          struct cg_vendor_conf *v)
{
    yaml_node_t *opts = map_get(L, item, "decoder_options");
    if (!v->decoder_options) {
        /* Absent: none. Present but unreadable: reported; left NULL so
         * that no decoder is made from options it never had. */
        if (!opts)
            v->decoder_options = &empty_object;
        return;
    }
    v->decoder_options_pos = node_pos(L, opts);
    if (v->decoder_options->type != CG_OBJ) {
        loader_error(L, opts, "decoder_options: expected a mapping");
        v->decoder_options = NULL; /* no decoder is made from it */
    }
}

static void load_vendor(struct loader *L, yaml_node_t *item,
                        struct cg_vendor_conf *v)
{
    v->pos = node_pos(L, item);
    v->network_index = -1;
    schema_apply(L, item, vendor_fields, v); /* the checks below go on */
    if (item->type != YAML_MAPPING_NODE)
        return;
    check_options(L, item, v);
    check_private(L, v);
    yaml_node_t *topics = map_get(L, item, "topics");
    if (topics && topics->type == YAML_SEQUENCE_NODE && node_len(topics) == 0)
        loader_error(L, item, "topics: at least one topic filter is needed");
}

int load_vendors(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_config *cfg = base;
    if (n->type != YAML_SEQUENCE_NODE || node_len(n) == 0) {
        loader_error(L, n, "expected a non-empty list of vendors");
        return 1;
    }
    size_t len = node_len(n);
    cfg->vendors = loader_alloc(L, len * sizeof(*cfg->vendors));
    if (!cfg->vendors)
        return 1;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        size_t mark = where_push(L, "[%zu]", i);
        load_vendor(L, item, &cfg->vendors[cfg->n_vendors++]);
        where_pop(L, mark);
    }
    return 0;
}
