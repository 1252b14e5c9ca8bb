/*
 * Fuzz target: MQTT topic filters (cg_topic_filter_valid,
 * cg_topic_matches) and the trie that matches a topic against many
 * filters at once (cg_topic_trie_*).
 *
 * The input after the control bytes (fuzz.h) is lines: every line but the
 * last is a filter, the last is the topic (each cut at a NUL byte, as C
 * strings are). Three implementations are held against each other:
 *   - a reference written here from MQTT 3.1.1 §4.7 over arrays of
 *     levels, for validity and, on valid topic names, for matching;
 *   - cg_topic_matches, filter by filter;
 *   - the trie, which must report exactly the valid filters that
 *     cg_topic_matches accepts, each once.
 */
#include <string.h>

#include "fuzz.h"
#include "rules.h"

#define MAX_FILTERS 64
#define MAX_LEVELS  64

struct levels {
    const char *p[MAX_LEVELS];
    size_t len[MAX_LEVELS];
    size_t n;
};

/* Splits s at '/'; false when it has more levels than we keep. */
static bool split(const char *s, struct levels *out)
{
    out->n = 0;
    for (;;) {
        size_t n = strcspn(s, "/");
        if (out->n == MAX_LEVELS)
            return false;
        out->p[out->n] = s;
        out->len[out->n++] = n;
        if (!s[n])
            return true;
        s += n + 1;
    }
}

static bool level_is(const struct levels *l, size_t i, const char *word)
{
    return l->len[i] == strlen(word) && !memcmp(l->p[i], word, l->len[i]);
}

/* Non-empty; a level holding '+' or '#' is just that character; '#' only
 * as the last level. */
static bool ref_valid(const char *f, const struct levels *l)
{
    if (!f[0])
        return false;
    for (size_t i = 0; i < l->n; i++) {
        bool wild =
            memchr(l->p[i], '+', l->len[i]) || memchr(l->p[i], '#', l->len[i]);
        if (wild && !level_is(l, i, "+") && !level_is(l, i, "#"))
            return false;
        if (level_is(l, i, "#") && i + 1 != l->n)
            return false;
    }
    return true;
}

/* Level by level; "a/#" also matches "a"; a filter starting with a
 * wildcard never matches a topic starting with '$'. */
static bool ref_matches(const struct levels *f, const struct levels *t,
                        const char *topic)
{
    if (topic[0] == '$' && (level_is(f, 0, "+") || level_is(f, 0, "#")))
        return false;
    for (size_t i = 0; i < f->n; i++) {
        if (level_is(f, i, "#"))
            return true;
        if (i >= t->n)
            return false;
        if (!level_is(f, i, "+") &&
            (f->len[i] != t->len[i] || memcmp(f->p[i], t->p[i], f->len[i])))
            return false;
    }
    return f->n == t->n;
}

static bool valid_topic_name(const char *t)
{
    return t[0] && !strpbrk(t, "+#");
}

struct seen {
    unsigned count[MAX_FILTERS];
};

static int visit(void *user, uint32_t value)
{
    struct seen *s = user;
    FUZZ_CHECK(value < MAX_FILTERS, "value %u never added", value);
    s->count[value]++;
    return 0;
}

/* Cuts the input into NUL-terminated lines in buf; returns their count. */
static size_t cut_lines(const uint8_t *data, size_t size, char *buf,
                        char **lines)
{
    size_t n = 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (char *p = buf; n < MAX_FILTERS + 1;) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

static void check(char **filters, size_t n, const char *topic, bool all_added,
                  const struct cg_topic_trie *trie)
{
    struct levels tl, fl;
    bool t_split = split(topic, &tl);
    struct seen seen = {{0}};
    FUZZ_CHECK(cg_topic_trie_match(trie, topic, strlen(topic), visit, &seen) ==
                   0,
               "match stopped early");
    for (size_t i = 0; i < n; i++) {
        if (!cg_topic_filter_valid(filters[i]))
            continue;
        bool m = cg_topic_matches(filters[i], topic);
        if (t_split && split(filters[i], &fl) && valid_topic_name(topic))
            FUZZ_CHECK(m == ref_matches(&fl, &tl, topic),
                       "'%s' vs '%s': %d, reference %d", filters[i], topic, m,
                       !m);
        if (all_added)
            FUZZ_CHECK(seen.count[i] == (unsigned)m,
                       "trie reports '%s' %u times for '%s', matches: %d",
                       filters[i], seen.count[i], topic, m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_begin(&data, &size))
        return 0;
    fuzz_end(); /* the harness's own copy may not fail */
    char *buf = cg_malloc(size + 1), *lines[MAX_FILTERS + 1];
    FUZZ_CHECK(buf, "out of memory");
    size_t n = cut_lines(data, size, buf, lines) - 1; /* last: the topic */
    fuzz_arm();
    struct cg_topic_trie *trie = cg_topic_trie_new();
    bool all_added = trie != NULL;
    for (size_t i = 0; trie && i < n; i++) {
        struct levels l;
        bool valid = cg_topic_filter_valid(lines[i]);
        if (split(lines[i], &l))
            FUZZ_CHECK(valid == ref_valid(lines[i], &l), "'%s' valid: %d",
                       lines[i], valid);
        int rc = cg_topic_trie_add(trie, lines[i], (uint32_t)i);
        FUZZ_CHECK(rc == (valid ? CG_OK : CG_EINVAL) ||
                       (valid && rc == CG_ENOMEM && fuzz_armed),
                   "add '%s': %d", lines[i], rc);
        all_added &= rc != CG_ENOMEM;
    }
    fuzz_end();
    if (trie)
        check(lines, n, lines[n], all_added, trie);
    cg_topic_trie_free(trie);
    cg_free(buf);
    return 0;
}
