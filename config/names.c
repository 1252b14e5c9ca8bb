/*
 * A map from names to numbers, for the loader's duplicate checks and
 * lookups (rule names, vendors, consumers, YAML anchors). A config may
 * hold tens of thousands of rules: comparing every name with every other
 * was the quadratic step of loading them, so names are hashed instead.
 *
 * Open addressing with linear probing, kept at most half full. Keys are
 * borrowed: the caller keeps them alive (arena strings) as long as the
 * map.
 */
#include <string.h>

#include "internal.h"

static size_t slot_of(const struct name_map *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)cg_hash64(CG_HASH_SEED, key, strlen(key)) & mask;
    while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
        i = (i + 1) & mask;
    return i;
}

int name_map_get(const struct name_map *m, const char *key, size_t *value)
{
    if (!m->cap)
        return 0;
    size_t i = slot_of(m, key);
    if (!m->slots[i].key)
        return 0;
    *value = m->slots[i].value;
    return 1;
}

/* Doubles the table (the capacity stays a power of two). */
static int grow(struct name_map *m)
{
    struct name_map bigger = {NULL, m->cap ? m->cap * 2 : 16, 0};
    bigger.slots = cg_calloc(bigger.cap, sizeof(*bigger.slots));
    if (!bigger.slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            bigger.slots[slot_of(&bigger, m->slots[i].key)] = m->slots[i];
    bigger.n = m->n;
    cg_free(m->slots);
    *m = bigger;
    return 0;
}

int name_map_put(struct name_map *m, const char *key, size_t value)
{
    if (2 * (m->n + 1) > m->cap && grow(m) < 0)
        return -1;
    size_t i = slot_of(m, key);
    if (!m->slots[i].key) {
        m->slots[i].key = key;
        m->n++;
    }
    m->slots[i].value = value;
    return 0;
}

void name_map_free(struct name_map *m)
{
    cg_free(m->slots);
    memset(m, 0, sizeof(*m));
}
