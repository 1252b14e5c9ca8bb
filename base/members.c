/*
 * Unique object keys. JSON objects, kv payloads and anything else that
 * builds a struct cg_member array from untrusted input funnel through
 * cg_members_dedupe, so "the last value wins, at the first occurrence's
 * position" means the same everywhere and a hostile payload with tens of
 * thousands of keys costs O(k log k), never O(k^2).
 */
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* Objects this big merge duplicates by sorting; below it a pairwise scan
 * is cheaper and needs no scratch memory. */
#define SORT_MIN 24

struct keyref {
    const char *key;
    uint32_t len, idx;
};

static bool same_key(const struct keyref *x, const struct keyref *y)
{
    return x->len == y->len && memcmp(x->key, y->key, x->len) == 0;
}

/* Orders by length, then bytes, then position: any total order groups
 * equal keys, and the position tie-break puts each key's first
 * occurrence at the head of its group. */
static int keyref_cmp(const void *a, const void *b)
{
    const struct keyref *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->key, y->key, x->len);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Marks every later occurrence of a key as a tombstone (key NULL) after
 * handing its value to the first occurrence. */
static int merge_sorted(struct cg_member *m, size_t k)
{
    struct keyref *refs = cg_malloc(k * sizeof(*refs));
    if (!refs)
        return CG_ENOMEM;
    for (size_t i = 0; i < k; i++)
        refs[i] = (struct keyref){m[i].key, m[i].key_len, (uint32_t)i};
    qsort(refs, k, sizeof(*refs), keyref_cmp);
    for (size_t a = 0, b; a < k; a = b) {
        for (b = a + 1; b < k && same_key(&refs[a], &refs[b]); b++)
            m[refs[b].idx].key = NULL;
        if (b - a > 1)
            m[refs[a].idx].value = m[refs[b - 1].idx].value;
    }
    cg_free(refs);
    return CG_OK;
}

static void merge_small(struct cg_member *m, size_t *k)
{
    size_t out = 0;
    for (size_t i = 0; i < *k; i++) {
        size_t j = 0;
        while (j < out && (m[j].key_len != m[i].key_len ||
                           memcmp(m[j].key, m[i].key, m[i].key_len) != 0))
            j++;
        if (j < out)
            m[j].value = m[i].value;
        else
            m[out++] = m[i];
    }
    *k = out;
}

int cg_members_dedupe(struct cg_member *m, size_t *k)
{
    if (*k < SORT_MIN) {
        merge_small(m, k);
        return CG_OK;
    }
    if (*k > UINT32_MAX)
        return CG_ERANGE;
    int rc = merge_sorted(m, *k);
    if (rc != CG_OK)
        return rc;
    size_t out = 0;
    for (size_t i = 0; i < *k; i++)
        if (m[i].key)
            m[out++] = m[i];
    *k = out;
    return CG_OK;
}
