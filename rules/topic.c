/*
 * MQTT topic filters: validation, matching one filter, and a trie that
 * matches a topic against many filters at once, so the cost per message
 * does not grow with the number of vendors and rules.
 *
 * A filter starting with a wildcard never matches a topic starting with
 * '$' (MQTT 3.1.1 §4.7.2): broker-internal topics stay out of "#".
 */
#include <string.h>

#include "rules.h"

bool cg_topic_filter_valid(const char *filter)
{
    if (!filter || !*filter)
        return false;
    for (const char *p = filter; *p; p++) {
        bool level_start = p == filter || p[-1] == '/';
        bool level_end = p[1] == '\0' || p[1] == '/';
        if (*p == '+' && !(level_start && level_end))
            return false;
        if (*p == '#' && !(level_start && p[1] == '\0'))
            return false;
    }
    return true;
}

bool cg_topic_matches(const char *filter, const char *topic)
{
    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return false;
    const char *f = filter, *t = topic;
    for (;;) {
        if (f[0] == '#')
            return true; /* "a/#" also matches "a": handled below */
        const char *fe = strchr(f, '/'), *te = strchr(t, '/');
        size_t fl = fe ? (size_t)(fe - f) : strlen(f);
        size_t tl = te ? (size_t)(te - t) : strlen(t);
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl)))
            return false;
        if (!fe && !te)
            return true;
        if (!te) /* topic ended: only a trailing "/#" still matches */
            return fe && strcmp(fe, "/#") == 0;
        if (!fe)
            return false;
        f = fe + 1;
        t = te + 1;
    }
}

/* The first level of f is a wildcard. */
static bool starts_wild(const char *f)
{
    return (f[0] == '+' || f[0] == '#') && (f[1] == '\0' || f[1] == '/');
}

/* Every topic that filter f matches starts with '$', and no topic that
 * starts with '$' is matched by g (its first level is a wildcard). */
static bool dollar_apart(const char *f, const char *g)
{
    return f[0] == '$' && starts_wild(g);
}

/* Level by level: two literals must be equal, '+' takes any one level and
 * '#' any rest, including none ("a/#" matches "a"). */
bool cg_topic_filters_overlap(const char *a, const char *b)
{
    if (dollar_apart(a, b) || dollar_apart(b, a))
        return false;
    for (;;) {
        if (!strcmp(a, "#") || !strcmp(b, "#"))
            return true;
        const char *ae = strchr(a, '/'), *be = strchr(b, '/');
        size_t al = ae ? (size_t)(ae - a) : strlen(a);
        size_t bl = be ? (size_t)(be - b) : strlen(b);
        bool plus = (al == 1 && a[0] == '+') || (bl == 1 && b[0] == '+');
        if (!plus && (al != bl || memcmp(a, b, al)))
            return false;
        if (!ae || !be) /* one ended: the other may only go on with "/#" */
            return ae == be || !strcmp(ae ? ae : be, "/#");
        a = ae + 1;
        b = be + 1;
    }
}

/* ---- trie ------------------------------------------------------------ */

struct values {
    uint32_t *v;
    size_t n, cap;
};

struct node {
    char *level; /* this node's level text ("" for the root) */
    size_t level_len;
    struct node **kids; /* exact-level children, sorted for bsearch */
    size_t n_kids, cap_kids;
    struct node *plus;   /* the '+' child */
    struct values exact; /* filters ending at this node */
    struct values hash;  /* filters ending with '#' below this node */
};

struct cg_topic_trie {
    struct node root;
};

static int values_add(struct values *vs, uint32_t v)
{
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 2;
        uint32_t *p = cg_realloc(vs->v, cap * sizeof(*p));
        if (!p)
            return CG_ENOMEM;
        vs->v = p;
        vs->cap = cap;
    }
    vs->v[vs->n++] = v;
    return CG_OK;
}

static int level_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    if (al != bl)
        return al < bl ? -1 : 1;
    return memcmp(a, b, al);
}

/* Index of the child with this level, or where it would be inserted
 * (negative: -(pos + 1)). */
static long kid_find(const struct node *n, const char *lv, size_t len)
{
    size_t lo = 0, hi = n->n_kids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct node *k = n->kids[mid];
        int c = level_cmp(k->level, k->level_len, lv, len);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static struct node *node_new(const char *lv, size_t len)
{
    struct node *n = cg_calloc(1, sizeof(*n));
    if (n && !(n->level = cg_strndup(lv, len))) {
        cg_free(n);
        return NULL;
    }
    if (n)
        n->level_len = len;
    return n;
}

static int kid_insert(struct node *n, size_t pos, struct node *k)
{
    if (n->n_kids == n->cap_kids) {
        size_t cap = n->cap_kids ? n->cap_kids * 2 : 4;
        struct node **p = cg_realloc(n->kids, cap * sizeof(*p));
        if (!p)
            return CG_ENOMEM;
        n->kids = p;
        n->cap_kids = cap;
    }
    memmove(n->kids + pos + 1, n->kids + pos,
            (n->n_kids - pos) * sizeof(*n->kids));
    n->kids[pos] = k;
    n->n_kids++;
    return CG_OK;
}

static struct node *child_get(struct node *n, const char *lv, size_t len)
{
    if (len == 1 && lv[0] == '+') {
        if (!n->plus)
            n->plus = node_new("+", 1);
        return n->plus;
    }
    long at = kid_find(n, lv, len);
    if (at >= 0)
        return n->kids[at];
    struct node *k = node_new(lv, len);
    if (k && kid_insert(n, (size_t)(-at - 1), k) != CG_OK) {
        cg_free(k->level);
        cg_free(k);
        return NULL;
    }
    return k;
}

struct cg_topic_trie *cg_topic_trie_new(void)
{
    return cg_calloc(1, sizeof(struct cg_topic_trie));
}

static void node_clear(struct node *n)
{
    for (size_t i = 0; i < n->n_kids; i++) {
        node_clear(n->kids[i]);
        cg_free(n->kids[i]);
    }
    if (n->plus) {
        node_clear(n->plus);
        cg_free(n->plus);
    }
    cg_free(n->kids);
    cg_free(n->level);
    cg_free(n->exact.v);
    cg_free(n->hash.v);
}

void cg_topic_trie_free(struct cg_topic_trie *t)
{
    if (!t)
        return;
    node_clear(&t->root);
    cg_free(t);
}

int cg_topic_trie_add(struct cg_topic_trie *t, const char *filter,
                      uint32_t value)
{
    if (!cg_topic_filter_valid(filter))
        return CG_EINVAL;
    struct node *n = &t->root;
    const char *p = filter;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 1 && p[0] == '#')
            return values_add(&n->hash, value);
        n = child_get(n, p, len);
        if (!n)
            return CG_ENOMEM;
        if (!end)
            return values_add(&n->exact, value);
        p = end + 1;
    }
}

struct walk {
    const char *topic;
    size_t len;
    cg_topic_visit_fn fn;
    void *user;
};

static int report(const struct values *vs, const struct walk *w)
{
    for (size_t i = 0; i < vs->n; i++) {
        int rc = w->fn(w->user, vs->v[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Matches the topic from byte `at` (the start of a level) below node n;
 * `first` is set while at the topic's first level, for the '$' rule. */
static int walk(const struct node *n, const struct walk *w, size_t at,
                bool first, bool ended)
{
    bool dollar = first && w->len > 0 && w->topic[0] == '$';
    int rc = dollar ? 0 : report(&n->hash, w);
    if (rc || ended)
        return rc ? rc : report(&n->exact, w);
    const char *lv = w->topic + at;
    const char *end = memchr(lv, '/', w->len - at);
    size_t len = end ? (size_t)(end - lv) : w->len - at;
    size_t next = at + len + 1;
    long k = kid_find(n, lv, len);
    if (k >= 0 && (rc = walk(n->kids[k], w, next, false, !end)))
        return rc;
    if (n->plus && !dollar)
        rc = walk(n->plus, w, next, false, !end);
    return rc;
}

int cg_topic_trie_match(const struct cg_topic_trie *t, const char *topic,
                        size_t topic_len, cg_topic_visit_fn fn, void *user)
{
    struct walk w = {topic, topic_len, fn, user};
    return walk(&t->root, &w, 0, true, false);
}
