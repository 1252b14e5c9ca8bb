/*
 * Ingest (SPEC §1): a message off the broker is tagged with its vendor,
 * the first vendor in the file whose filter matches its topic, and with
 * that vendor's network provider. The topic is split into levels for
 * topic[N], and the message gets the hash its event ids derive from.
 */
#include <string.h>

#include "internal.h"

struct vendor_hit {
    uint32_t filter;
    bool found;
};

/* The first vendor in the file wins, and within it the first filter. */
static int keep_first(void *user, uint32_t filter)
{
    struct vendor_hit *h = user;
    if (!h->found || filter < h->filter)
        h->filter = filter;
    h->found = true;
    return 0;
}

const struct filter_rt *ingest__vendor(struct cg_pipeline *p,
                                       struct msg_ctx *mc)
{
    struct vendor_hit hit = {0, false};
    cg_topic_trie_match(p->vendor_trie, mc->m->topic, mc->m->topic_len,
                        keep_first, &hit);
    if (!hit.found)
        return NULL;
    const struct filter_rt *f = &p->filters[hit.filter];
    mc->vendor = &p->vendors[f->vendor];
    mc->filter = f;
    atomic_fetch_add_explicit(&p->vendors[f->vendor].received, 1,
                              memory_order_relaxed);
    mc->eval.vendor = mc->vendor->conf->name.s;
    mc->eval.network = mc->vendor->network;
    return f;
}

/* The levels point into an arena copy of the topic with every '/' turned
 * into NUL, so each is a C string. */
int ingest__levels(struct cg_pipeline *p, struct msg_ctx *mc)
{
    const struct cg_message *m = mc->m;
    size_t n = 1;
    for (size_t i = 0; i < m->topic_len; i++)
        n += m->topic[i] == '/';
    if (n > p->cap_levels) {
        struct cg_strref *l = cg_realloc(p->levels, n * sizeof(*l));
        if (!l)
            return CG_ENOMEM;
        p->levels = l;
        p->cap_levels = n;
    }
    char *copy = cg_arena_strndup(p->arena, m->topic, m->topic_len);
    if (!copy)
        return CG_ENOMEM;
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= m->topic_len; i++) {
        if (i < m->topic_len && copy[i] != '/')
            continue;
        copy[i] = '\0';
        p->levels[k].p = copy + start;
        p->levels[k++].len = (uint32_t)(i - start);
        start = i + 1;
    }
    mc->eval.levels = p->levels;
    mc->eval.n_levels = (uint32_t)k;
    return CG_OK;
}

uint64_t ingest__hash(const struct cg_pipeline *p, const struct cg_message *m)
{
    const char *id = p->cfg->gateway.id;
    uint64_t h = cg_hash64(CG_HASH_SEED, id, strlen(id) + 1);
    h = cg_hash64(h, m->topic, m->topic_len);
    h = cg_hash64(h, "", 1);
    return cg_hash64(h, m->payload, m->len);
}
