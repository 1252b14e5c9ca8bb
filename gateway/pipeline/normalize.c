/*
 * Normalize (SPEC §1): the vendor's field map turns decoded fields into
 * canonical ones. With `fields`, the record holds exactly the listed
 * fields; without, the decoded record passes as it is.
 */
#include <string.h>

#include "internal.h"

int normalize__record(struct cg_pipeline *p, struct msg_ctx *mc)
{
    const struct vendor_rt *v = mc->vendor;
    size_t n = v->conf->n_fields;
    if (!v->conf->has_fields)
        return CG_OK;
    struct cg_member *m = cg_arena_alloc(p->arena, (n ? n : 1) * sizeof(*m));
    if (!m)
        return CG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        m[i].key = v->conf->fields[i].name.s;
        m[i].key_len = (uint32_t)strlen(m[i].key);
        cg_expr_eval(v->fields[i], &mc->eval, &m[i].value);
    }
    mc->record.type = CG_OBJ;
    mc->record.len = (uint32_t)n;
    mc->record.as.members = m;
    return CG_OK;
}
