/*
 * The rules' format settings (SPEC §15): an NGSI-LD entity type and the
 * CAP settings, whose headline, description and area are templates like
 * topics ("Flood at {data.station}") compiled once here.
 */
#include <string.h>

#include "format.h"

/* A template key of cap:, compiled; an error at its position. */
static int compile_cap_template(const struct cg_pstr *src, struct tpl *out,
                                struct cg_diags *d)
{
    char err[160];
    size_t off = 0;
    if (!src->s)
        return CG_OK;
    int rc = tpl__compile_text(src->s, out, err, sizeof(err), &off);
    if (rc == CG_EINVAL)
        cg_diags_add(d, src->pos.file, src->pos.line, src->pos.col + (int)off,
                     "cap: %s", err);
    return rc;
}

static int build_cap(const struct cg_cap_conf *c, struct cap_rule *r,
                     struct cg_diags *d)
{
    r->category = c->category;
    r->event = c->event;
    r->expires_s = c->expires.set ? (double)c->expires.ms / 1000.0 : 3600;
    const int rcs[3] = {
        compile_cap_template(&c->headline, &r->headline, d),
        compile_cap_template(&c->description, &r->description, d),
        compile_cap_template(&c->area, &r->area, d)};
    for (int i = 0; i < 3; i++)
        if (rcs[i] != CG_OK)
            return rcs[i];
    return CG_OK;
}

int build__formats(struct cg_pipeline *p, struct cg_diags *d)
{
    const struct cg_config *cfg = p->cfg;
    size_t n = cg_ruleset_count(p->rules), i = 0;
    int result = CG_OK;
    for (size_t f = 0; f < cfg->n_rule_files; f++) {
        const struct cg_rule_file_conf *file = &cfg->rule_files[f];
        for (size_t k = 0; k < file->n_rules && i < n; k++, i++) {
            const struct cg_rule_conf *rc = &file->rules[k];
            struct rule_rt *rt = &p->rule_rt[i];
            rt->ngsi_type = rc->ngsi_type;
            if (!rc->cap)
                continue;
            struct cap_rule *cap = cg_calloc(1, sizeof(*cap));
            if (!cap)
                return CG_ENOMEM;
            rt->cap = cap;
            int rc2 = build_cap(rc->cap, cap, d);
            if (rc2 == CG_ENOMEM)
                return rc2;
            if (rc2 != CG_OK)
                result = rc2;
        }
    }
    return result;
}

void build__free_formats(struct cg_pipeline *p)
{
    size_t n = p->rules ? cg_ruleset_count(p->rules) : 0;
    for (size_t i = 0; p->rule_rt && i < n; i++) {
        struct cap_rule *cap = p->rule_rt[i].cap;
        if (!cap)
            continue;
        tpl__free(&cap->headline);
        tpl__free(&cap->description);
        tpl__free(&cap->area);
        cg_free(cap);
        p->rule_rt[i].cap = NULL;
    }
}
