/*
 * The key table of a stateful rule: separate chaining over a power-of-two
 * array of slots that doubles when the keys outnumber it, and a doubly
 * linked list from the newest key (the last message) to the oldest, which
 * eviction takes first and which also orders silence: the oldest key is
 * the one a stale_after timer reaches first.
 */
#include <string.h>

#include "internal.h"

#define FIRST_CAP 16

void keytab__init(struct keytab *t, size_t entry_size)
{
    memset(t, 0, sizeof(*t));
    t->entry_size = entry_size;
}

uint64_t keytab__hash(const char *key, size_t len)
{
    return cg_hash64(CG_HASH_SEED, key, len);
}

struct skey *keytab__find(const struct keytab *t, const char *key, size_t len,
                          uint64_t hash)
{
    if (!t->cap)
        return NULL;
    for (struct skey *k = t->slots[hash & (t->cap - 1)]; k; k = k->hnext)
        if (k->hash == hash && k->len == len &&
            !memcmp(skey_text(t, k), key, len))
            return k;
    return NULL;
}

/* Doubles the slots (or makes the first ones). Out of memory, the table
 * keeps its slots: chains only get longer. */
static void grow(struct keytab *t)
{
    size_t cap = t->cap ? t->cap * 2 : FIRST_CAP;
    struct skey **slots = cg_calloc(cap, sizeof(*slots));
    if (!slots)
        return;
    for (size_t i = 0; i < t->cap; i++) {
        struct skey *k = t->slots[i], *next;
        for (; k; k = next) {
            next = k->hnext;
            k->hnext = slots[k->hash & (cap - 1)];
            slots[k->hash & (cap - 1)] = k;
        }
    }
    cg_free(t->slots);
    t->slots = slots;
    t->cap = cap;
}

static void link_newest(struct keytab *t, struct skey *k)
{
    k->older = t->newest;
    k->newer = NULL;
    if (t->newest)
        t->newest->newer = k;
    t->newest = k;
    if (!t->oldest)
        t->oldest = k;
}

static void unlink_lru(struct keytab *t, struct skey *k)
{
    if (k->newer)
        k->newer->older = k->older;
    else
        t->newest = k->older;
    if (k->older)
        k->older->newer = k->newer;
    else
        t->oldest = k->newer;
    k->newer = k->older = NULL;
}

struct skey *keytab__add(struct keytab *t, const char *key, size_t len,
                         uint64_t hash, int64_t now)
{
    if (t->n >= t->cap)
        grow(t);
    if (!t->cap)
        return NULL;
    struct skey *k = cg_calloc(1, t->entry_size + len + 1);
    if (!k)
        return NULL;
    memcpy((char *)k + t->entry_size, key, len);
    k->hash = hash;
    k->len = (uint32_t)len;
    k->touched = now;
    k->hnext = t->slots[hash & (t->cap - 1)];
    t->slots[hash & (t->cap - 1)] = k;
    link_newest(t, k);
    t->n++;
    return k;
}

void keytab__unlink(struct keytab *t, struct skey *k)
{
    struct skey **p = &t->slots[k->hash & (t->cap - 1)];
    while (*p != k)
        p = &(*p)->hnext;
    *p = k->hnext;
    unlink_lru(t, k);
    t->n--;
}

void keytab__touch(struct keytab *t, struct skey *k, int64_t now)
{
    k->touched = now;
    if (t->newest == k)
        return;
    unlink_lru(t, k);
    link_newest(t, k);
}

void keytab__free_slots(struct keytab *t)
{
    CG_FREE(t->slots);
    t->cap = t->n = 0;
    t->newest = t->oldest = NULL;
}
