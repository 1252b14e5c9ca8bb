/*
 * A bump allocator for per-message memory. Chunks form a list; reset frees
 * every chunk but the first, so steady traffic of ordinary messages reuses
 * one block and never reaches malloc. Oversized requests get a chunk of
 * their own.
 */
#include <string.h>

#include "base.h"

struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[]; /* aligned storage */
};

struct cg_arena {
    struct chunk *head; /* the chunk being filled; the first is last */
    size_t chunk_size;
    size_t total; /* bytes handed out since the last reset */
};

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = cg_malloc(sizeof(*c) + size);
    if (c) {
        c->next = NULL;
        c->size = size;
        c->used = 0;
    }
    return c;
}

struct cg_arena *cg_arena_new(size_t chunk_size)
{
    struct cg_arena *a = cg_calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
    a->head = chunk_new(a->chunk_size);
    if (!a->head) {
        cg_free(a);
        return NULL;
    }
    return a;
}

void cg_arena_free(struct cg_arena *a)
{
    if (!a)
        return;
    struct chunk *c = a->head;
    while (c) {
        struct chunk *next = c->next;
        cg_free(c);
        c = next;
    }
    cg_free(a);
}

void *cg_arena_alloc(struct cg_arena *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (size == 0)
        size = 8;
    struct chunk *c = a->head;
    if (c->size - c->used < size) {
        size_t want = size > a->chunk_size ? size : a->chunk_size;
        struct chunk *n = chunk_new(want);
        if (!n)
            return NULL;
        n->next = c;
        a->head = c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    a->total += size;
    return p;
}

void *cg_arena_alloc_fn(void *arena, size_t size)
{
    return cg_arena_alloc(arena, size);
}

char *cg_arena_strndup(struct cg_arena *a, const char *s, size_t n)
{
    char *p = cg_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void cg_arena_reset(struct cg_arena *a)
{
    struct chunk *c = a->head;
    while (c->next) { /* free all but the first (oldest) chunk */
        struct chunk *next = c->next;
        cg_free(c);
        c = next;
    }
    c->used = 0;
    a->head = c;
    a->total = 0;
}

size_t cg_arena_used(const struct cg_arena *a)
{
    return a->total;
}
