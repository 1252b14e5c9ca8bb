/*
 * citygate test: runs every rule's `tests:` (SPEC §3). Each case sends one
 * message through the whole config; each `expect` item must be matched by
 * a distinct event of this rule on the named consumer, comparing only the
 * keys the item gives; `expect: []` means the rule produces no event.
 * A dead-lettered message fails its case unless the case expects that
 * very dead letter (`expect_dead: REASON`, SPEC §14), so a payload in the
 * wrong format cannot pass as "no event".
 *
 * Cases run on a simulated clock (SPEC §13): it starts at TEST_CLOCK for
 * each rule, with that rule's state empty; a case's `at` moves it, the
 * timers due by then run first, and a case without a payload only moves
 * it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define MAX_EVENTS 256
#define TEST_CLOCK 1893456000.0 /* 2030-01-01T00:00:00Z */

struct got {
    const char *consumer;
    const char *target;
    struct cg_value event;
};

struct run {
    const struct cg_rule *rule;
    struct cg_arena *arena;
    struct got events[MAX_EVENTS];
    size_t n;
    const char *dead_reason;
    const char *dead_json;
};

static int collect(void *user, const struct cg_delivery *d)
{
    struct run *r = user;
    if (d->rule != r->rule || r->n == MAX_EVENTS)
        return CG_OK;
    struct got *g = &r->events[r->n];
    char err[128];
    g->consumer =
        cg_arena_strndup(r->arena, d->consumer_name, strlen(d->consumer_name));
    g->target = cg_arena_strndup(r->arena, d->target, strlen(d->target));
    /* A consumer in another format: the event it sees, not its payload. */
    const char *json = d->envelope ? d->envelope : d->event.json;
    size_t len = d->envelope ? d->envelope_len : d->event.json_len;
    if (!g->consumer || !g->target)
        return CG_ENOMEM;
    /* A payload that is no JSON (a plugin's format) still counts as an
     * event, so that `expect: []` sees it; it matches no expected item. */
    if (cg_json_parse(json, len, cg_arena_alloc_fn, r->arena, &g->event, err,
                      sizeof(err)) != CG_OK) {
        const char *raw = cg_arena_strndup(r->arena, json, len);
        g->event = (struct cg_value){.type = raw ? CG_STR : CG_NULL,
                                     .len = raw ? (uint32_t)len : 0,
                                     .as.str = raw};
    }
    r->n++;
    return CG_OK;
}

static int collect_dead(void *user, const struct cg_dead *d)
{
    struct run *r = user;
    if (r->dead_reason)
        return CG_OK; /* the first one says what happened */
    r->dead_reason = cg_dead_reason_name(d->reason);
    r->dead_json = cg_arena_strndup(r->arena, d->json, d->len);
    return CG_OK;
}

/* Subset comparison: objects compare only the keys expected; an expected
 * null also matches a key that is absent (a field hidden from a role). */
static bool subset(const struct cg_value *want, const struct cg_value *have)
{
    if (want->type == CG_NULL)
        return !have || have->type == CG_NULL;
    if (!have)
        return false;
    if (want->type != CG_OBJ || have->type != CG_OBJ)
        return cg_value_equal(want, have);
    for (uint32_t i = 0; i < want->len; i++) {
        const struct cg_member *m = &want->as.members[i];
        if (!subset(&m->value, cg_value_member(have, m->key, m->key_len)))
            return false;
    }
    return true;
}

static bool item_matches(const struct cg_value *item, const struct got *g)
{
    for (uint32_t i = 0; i < item->len; i++) {
        const struct cg_member *m = &item->as.members[i];
        const struct cg_value *w = &m->value;
        if (!strcmp(m->key, "consumer") || !strcmp(m->key, "topic")) {
            const char *have = m->key[0] == 'c' ? g->consumer : g->target;
            if (w->type != CG_STR || strcmp(w->as.str, have))
                return false;
        } else if (!subset(w, cg_value_member(&g->event, m->key, m->key_len))) {
            return false;
        }
    }
    return true;
}

/* Assigns each expected item a distinct event, backtracking when a greedy
 * choice would starve a later item. */
static bool assign(const struct cg_value *expect, uint32_t i,
                   const struct run *r, bool *used)
{
    if (i == expect->len)
        return true;
    for (size_t e = 0; e < r->n; e++) {
        if (used[e] || !item_matches(&expect->as.items[i], &r->events[e]))
            continue;
        used[e] = true;
        if (assign(expect, i + 1, r, used))
            return true;
        used[e] = false;
    }
    return false;
}

static void case_label(const struct cg_test_conf *t, char *buf, size_t size)
{
    if (t->name)
        snprintf(buf, size, "\"%s\"", t->name);
    else
        snprintf(buf, size, "case %d", t->index);
}

static void print_events(const struct run *r)
{
    struct cg_buf b = {0};
    if (r->dead_reason)
        printf("      message dead-lettered: %s\n", r->dead_json);
    for (size_t i = 0; i < r->n; i++) {
        cg_buf_reset(&b);
        cg_json_put_value(&b, &r->events[i].event);
        printf("      got: %s %s %s\n", r->events[i].consumer,
               r->events[i].target, b.data ? b.data : "");
    }
    if (!r->n && !r->dead_reason)
        printf("      got: no event from this rule\n");
    cg_buf_free(&b);
}

static bool known_reason(const char *name)
{
    for (int i = 0; i < CG_DEAD_N_REASONS; i++)
        if (!strcmp(cg_dead_reason_name(i), name))
            return true;
    return false;
}

/* What the case says of dead letters, against what happened. */
static bool check_dead(const struct cg_test_conf *t, const struct run *r,
                       char *why, size_t size)
{
    const char *want = t->expect_dead.s, *got = r->dead_reason;
    if (want && !known_reason(want))
        snprintf(why, size,
                 "expect_dead: unknown reason '%s' (unknown_vendor | "
                 "too_large | decode_error | no_device | undeliverable)",
                 want);
    else if (!want && got)
        snprintf(why, size,
                 "the message was dead-lettered as %s (write expect_dead: %s "
                 "if that is what this case tests)",
                 got, got);
    else if (want && !got)
        snprintf(why, size,
                 "expected the message to be dead-lettered as %s, but it "
                 "was not",
                 want);
    else if (want && strcmp(want, got))
        snprintf(why, size, "expected a dead letter %s, got %s", want, got);
    else
        return true;
    return false;
}

static bool check_case(const struct cg_test_conf *t, const struct run *r,
                       char *why, size_t size)
{
    bool used[MAX_EVENTS] = {false};
    const struct cg_value *expect = t->expect;
    if (!check_dead(t, r, why, size))
        return false;
    if (!expect)
        return true; /* expect_dead alone */
    if (expect->len == 0) {
        snprintf(why, size, "expected no event, got %zu", r->n);
        return r->n == 0;
    }
    if (assign(expect, 0, r, used))
        return true;
    struct cg_buf b = {0};
    cg_json_put_value(&b, expect);
    snprintf(why, size, "expected %s", b.data ? b.data : "");
    cg_buf_free(&b);
    return false;
}

/* Runs one case; prints its line and returns true when it passes. */
static bool run_case(struct cg_pipeline *e, const struct cg_rule *rule,
                     const struct cg_test_conf *t, struct cg_arena *arena)
{
    struct run r = {.rule = rule, .arena = arena};
    double now = TEST_CLOCK + (double)t->at.ms / 1000.0;
    struct cg_emit emit = {collect, collect_dead, &r};
    char label[128], why[512];
    case_label(t, label, sizeof(label));
    cg_arena_reset(arena);
    int rc = cg_pipeline_timers(e, now, &emit, NULL);
    if (rc >= 0 && t->payload) {
        struct cg_message m = {t->topic, strlen(t->topic),
                               (const uint8_t *)t->payload, t->payload_len,
                               now};
        rc = cg_pipeline_process(e, &m, &emit);
    }
    bool ok = rc >= 0 && check_case(t, &r, why, sizeof(why));
    if (rc < 0)
        snprintf(why, sizeof(why), "%s", cg_strerror(rc));
    printf("%s %s:%d: %s %s%s%s\n", ok ? "ok  " : "FAIL", t->pos.file,
           t->pos.line, rule->full_name, label, ok ? "" : ": ", ok ? "" : why);
    if (!ok)
        print_events(&r);
    return ok;
}

/* The rule built from rc. Rules are built in config order, so the search
 * starts after the previous rule found (*hint): linear in all, where a
 * search from the start made 60 000 rules take seconds. */
static const struct cg_rule *find_rule(const struct cg_ruleset *rs,
                                       const char *full_name, size_t *hint)
{
    size_t n = cg_ruleset_count(rs);
    for (size_t k = 0; k < n; k++) {
        size_t i = (*hint + k) % n;
        if (!strcmp(cg_ruleset_rule(rs, i)->full_name, full_name)) {
            *hint = i + 1;
            return cg_ruleset_rule(rs, i);
        }
    }
    return NULL;
}

static void run_rule(struct cli_loaded *l, const struct cg_rule_conf *rc,
                     struct cg_arena *arena, size_t *hint, size_t *passed,
                     size_t *failed)
{
    const struct cg_rule *rule =
        find_rule(cg_pipeline_rules(l->pipeline), rc->full_name, hint);
    cg_pipeline_state_reset(l->pipeline);
    for (size_t i = 0; rule && i < rc->n_tests; i++) {
        if (run_case(l->pipeline, rule, &rc->tests[i], arena))
            (*passed)++;
        else
            (*failed)++;
    }
}

int cg_cmd_test(int argc, char **argv)
{
    const char *config = CG_DEFAULT_CONFIG;
    const struct cli_opt opts[] = {{'c', "config", &config, NULL}, {0}};
    const char *files[256];
    size_t n_files;
    if (cli__parse("test", argc, argv, opts, files, &n_files, 256))
        return 2;
    struct cli_loaded l;
    if (cli__load(config, n_files ? files : NULL, n_files, 0, &l))
        return 1;
    struct cg_arena *arena = cg_arena_new(64 * 1024);
    size_t passed = 0, failed = 0, untested = 0, hint = 0;
    cg_pipeline_keep_envelopes(l.pipeline, true);
    for (size_t f = 0; arena && f < l.cfg->n_rule_files; f++) {
        const struct cg_rule_file_conf *file = &l.cfg->rule_files[f];
        for (size_t r = 0; r < file->n_rules; r++) {
            untested += file->rules[r].n_tests == 0;
            run_rule(&l, &file->rules[r], arena, &hint, &passed, &failed);
        }
    }
    printf("%zu case%s: %zu passed, %zu failed", passed + failed,
           passed + failed == 1 ? "" : "s", passed, failed);
    printf(untested ? "; %zu rule%s without tests\n" : "\n", untested,
           untested == 1 ? "" : "s");
    cg_arena_free(arena);
    cli__unload(&l);
    return failed || !arena ? 1 : 0;
}
