/*
 * Rule files (SPEC §3): one domain per file, its rules and their tests.
 * Expressions stay source text with positions; the gateway compiles them.
 * The stateful keys (throttle, on_change, for, window ...) are read and
 * checked in rulestate.c.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct test_state { /* carried from case to case: topic and clock */
    const char *topic;
    int64_t at_ms;
};

static const struct field match_fields[] = {
    {FIELD(struct cg_rule_conf, match_vendors, "vendors", FT_PLIST)},
    {FIELD(struct cg_rule_conf, match_topic, "topic", FT_PSTR)},
    {0}};

static int parse_match(struct loader *L, yaml_node_t *n, void *base)
{
    return schema_apply(L, n, match_fields, base);
}

static int parse_data(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_rule_conf *r = base;
    r->has_data = true;
    return node_field_map(L, n, &r->data, &r->n_data);
}

/* A payload is usually a string; a mapping or list is taken as the JSON
 * it spells, which reads better for structured payloads. */
static int parse_payload(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_test_conf *t = base;
    if (node_is_scalar(n)) {
        t->payload = scalar_bytes(L, n);
        t->payload_len = n->data.scalar.length;
        return 0;
    }
    struct cg_value v;
    struct cg_buf b = {0};
    if (node_value(L, n, &v))
        return 1;
    cg_json_put_value(&b, &v);
    t->payload = b.oom ? NULL : cg_arena_strndup(L->arena, b.data, b.len);
    t->payload_len = b.len;
    cg_buf_free(&b);
    if (!t->payload)
        L->oom = 1;
    return 0;
}

static int parse_expect(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_test_conf *t = base;
    if (n->type != YAML_SEQUENCE_NODE) {
        loader_error(L, n,
                     "expected a list of expected events ([] for "
                     "none)");
        return 1;
    }
    for (size_t i = 0; i < node_len(n); i++) {
        yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        if (item->type != YAML_MAPPING_NODE)
            loader_error(L, item, "expect[%zu]: expected a mapping", i);
    }
    struct cg_value *v = loader_alloc(L, sizeof(*v));
    if (!v || node_value(L, n, v))
        return 1;
    t->expect = v;
    return 0;
}

static const struct field test_fields[] = {
    {FIELD(struct cg_test_conf, name, "name", FT_STR)},
    {FIELD(struct cg_test_conf, topic, "topic", FT_STR)},
    {.key = "payload", .type = FT_CUSTOM, .parse = parse_payload},
    {FIELD(struct cg_test_conf, at, "at", FT_DURATION)},
    {.key = "expect", .type = FT_CUSTOM, .parse = parse_expect},
    /* binary payloads and dead letters (testcase.c) */
    {.key = "payload_hex", .type = FT_CUSTOM, .parse = testcase__payload_hex},
    {.key = "payload_base64",
     .type = FT_CUSTOM,
     .parse = testcase__payload_base64},
    {FIELD(struct cg_test_conf, expect_dead, "expect_dead", FT_PSTR)},
    {0}};

static void load_test(struct loader *L, yaml_node_t *item,
                      struct cg_test_conf *t, struct test_state *st)
{
    t->pos = node_pos(L, item);
    schema_apply(L, item, test_fields, t);
    testcase__check(L, item);
    if (t->topic)
        st->topic = t->topic;
    else if (st->topic)
        t->topic = st->topic;
    else if (t->payload) /* a case without a message only moves the clock */
        loader_error(L, item, "the first test case needs a 'topic'");
    if (!t->at.set)
        t->at.ms = st->at_ms;
    else if (t->at.ms < st->at_ms)
        loader_error(L, map_get(L, item, "at"),
                     "at: the clock cannot go back (the case before is at "
                     "%lldms)",
                     (long long)st->at_ms);
    st->at_ms = t->at.ms;
}

static int parse_tests(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_rule_conf *r = base;
    struct test_state st = {NULL, 0};
    if (n->type != YAML_SEQUENCE_NODE) {
        loader_error(L, n, "expected a list of test cases");
        return 1;
    }
    size_t len = node_len(n);
    r->tests = loader_alloc(L, (len ? len : 1) * sizeof(*r->tests));
    if (!r->tests)
        return 1;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        struct cg_test_conf *t = &r->tests[r->n_tests++];
        size_t mark = where_push(L, "[%zu]", i);
        t->index = (int)i + 1;
        load_test(L, item, t, &st);
        where_pop(L, mark);
    }
    return 0;
}

static const char *const cap_categories[] = {
    "Geo", "Met",       "Safety", "Security", "Rescue", "Fire", "Health",
    "Env", "Transport", "Infra",  "CBRNE",    "Other",  NULL};

static int parse_cap_category(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_cap_conf *c = base;
    const char *s = node_is_scalar(n) ? node_text(n) : "";
    for (int i = 0; cap_categories[i]; i++)
        if (!strcmp(s, cap_categories[i])) {
            c->category = cap_categories[i];
            return 0;
        }
    loader_error(L, n,
                 "expected a CAP 1.2 category (Geo Met Safety Security Rescue "
                 "Fire Health Env Transport Infra CBRNE Other)");
    return 1;
}

static const struct field cap_fields[] = {
    {.key = "category", .type = FT_CUSTOM, .parse = parse_cap_category},
    {FIELD(struct cg_cap_conf, event, "event", FT_STR)},
    {FIELD(struct cg_cap_conf, headline, "headline", FT_PSTR)},
    {FIELD(struct cg_cap_conf, description, "description", FT_PSTR)},
    {FIELD(struct cg_cap_conf, area, "area", FT_PSTR)},
    {FIELD(struct cg_cap_conf, expires, "expires", FT_DURATION)},
    {0}};

/* cap: the rule's part of a CAP alert (the consumer gives the sender). */
static int parse_cap(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_rule_conf *r = base;
    r->cap = loader_alloc(L, sizeof(*r->cap));
    if (!r->cap)
        return 1;
    int errs = schema_apply(L, n, cap_fields, r->cap);
    if (r->cap->expires.set && r->cap->expires.ms <= 0) {
        size_t mark = where_push(L, ".expires");
        loader_error(L, map_get(L, n, "expires"), "must be greater than 0s");
        where_pop(L, mark);
        errs++;
    }
    return errs;
}

static const struct field rule_fields[] = {
    {FIELD(struct cg_rule_conf, name, "name", FT_PSTR), .required = 1},
    {FIELD(struct cg_rule_conf, description, "description", FT_STR)},
    {.key = "match", .type = FT_CUSTOM, .parse = parse_match},
    {FIELD(struct cg_rule_conf, when, "when", FT_SRC)},
    {FIELD(struct cg_rule_conf, type, "type", FT_PSTR)},
    {FIELD(struct cg_rule_conf, severity, "severity", FT_SRC)},
    {.key = "data", .type = FT_CUSTOM, .parse = parse_data},
    {FIELD(struct cg_rule_conf, to, "to", FT_PLIST), .required = 1},
    {FIELD(struct cg_rule_conf, state.throttle, "throttle", FT_DURATION)},
    {.key = "on_change", .type = FT_CUSTOM, .parse = parse_on_change},
    {FIELD(struct cg_rule_conf, state.hold, "for", FT_DURATION)},
    {FIELD(struct cg_rule_conf, state.keep_firing_for, "keep_firing_for",
           FT_DURATION)},
    {FIELD(struct cg_rule_conf, state.repeat, "repeat", FT_DURATION)},
    {FIELD(struct cg_rule_conf, state.stale_after, "stale_after", FT_DURATION)},
    {.key = "window", .type = FT_CUSTOM, .parse = parse_window},
    {FIELD(struct cg_rule_conf, state.max_keys, "max_keys", FT_INT),
     .def = "100000", .min = 1, .max = 100000000},
    {FIELD(struct cg_rule_conf, ngsi_type, "ngsi_type", FT_STR)},
    {.key = "cap", .type = FT_CUSTOM, .parse = parse_cap},
    {.key = "tests", .type = FT_CUSTOM, .parse = parse_tests},
    {0}};

/* Rule names seen so far in this file are in a hash map: comparing each
 * name with every earlier one made a 60,000-rule file take seconds. */
static void check_unique_name(struct loader *L, yaml_node_t *item,
                              struct cg_rule_file_conf *f, size_t i)
{
    const char *name = f->rules[i].name.s;
    size_t first;
    if (name_map_get(&L->rule_names, name, &first))
        loader_error(L, item, "duplicate rule name '%s' in domain '%s'", name,
                     f->domain.s);
    else if (name_map_put(&L->rule_names, name, i) < 0)
        L->oom = 1;
}

/* An NGSI-LD type is a term or an IRI: never empty, never white space. */
static void check_ngsi_type(struct loader *L, yaml_node_t *item,
                            const struct cg_rule_conf *r)
{
    const char *t = r->ngsi_type;
    if (!t || (*t && !t[strcspn(t, " \t\r\n\f\v")]))
        return;
    size_t mark = where_push(L, ".ngsi_type");
    loader_error(L, map_get(L, item, "ngsi_type"),
                 *t ? "an NGSI-LD type holds no white space"
                    : "must not be empty");
    where_pop(L, mark);
}

/* A rule's name makes its full name <domain>/<name> and its event's
 * `type`: an empty one or one with a '/' would make them ambiguous. */
static bool check_rule_name(struct loader *L, yaml_node_t *item,
                            const char *name)
{
    const char *why = !name[strspn(name, " \t\r\n\f\v")] ? "must not be empty"
                      : strchr(name, '/') ? "must not contain '/' (the full "
                                            "name is <domain>/<name>)"
                                          : NULL;
    if (!why)
        return true;
    size_t mark = where_push(L, ".name");
    loader_error(L, map_get(L, item, "name"), "%s", why);
    where_pop(L, mark);
    return false;
}

static void load_rule(struct loader *L, yaml_node_t *item,
                      struct cg_rule_file_conf *f, size_t i)
{
    struct cg_rule_conf *r = &f->rules[i];
    r->pos = node_pos(L, item);
    r->domain = f->domain.s;
    schema_apply(L, item, rule_fields, r); /* a problem hides no other */
    if (!r->name.s || !r->domain || !check_rule_name(L, item, r->name.s))
        return;
    char buf[512];
    snprintf(buf, sizeof(buf), "%s/%s", r->domain, r->name.s);
    r->full_name = loader_strdup(L, buf);
    if (!r->type.s)
        r->type = r->name;
    yaml_node_t *to = map_get(L, item, "to");
    if (to && to->type == YAML_SEQUENCE_NODE && node_len(to) == 0)
        loader_error(L, item, "to: name at least one consumer or role");
    check_unique_name(L, item, f, i);
    check_rule_state(L, item, r);
    check_ngsi_type(L, item, r);
}

static int parse_rules(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_rule_file_conf *f = base;
    if (n->type != YAML_SEQUENCE_NODE) {
        loader_error(L, n, "expected a list of rules");
        return 1;
    }
    size_t len = node_len(n);
    f->rules = loader_alloc(L, (len ? len : 1) * sizeof(*f->rules));
    if (!f->rules)
        return 1;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        size_t mark = where_push(L, "[%zu]", i);
        f->n_rules++;
        load_rule(L, item, f, i);
        where_pop(L, mark);
    }
    return 0;
}

static const struct field file_fields[] = {
    {FIELD(struct cg_rule_file_conf, domain, "domain", FT_PSTR), .required = 1},
    {.key = "rules", .type = FT_CUSTOM, .required = 1, .parse = parse_rules},
    {0}};

int load_rule_file(struct loader *L, yaml_node_t *root,
                   struct cg_rule_file_conf *out)
{
    /* The domain must be known before the rules are read: apply it first
     * so rule names and full names can use it. */
    yaml_node_t *dom = map_get(L, root, "domain");
    if (dom && node_is_scalar(dom) && node_text(dom)[0])
        out->domain.s = scalar_dup(L, dom);
    else if (dom)
        loader_error(L, dom, "domain: expected a non-empty string");
    L->where[0] = '\0';
    return schema_apply(L, root, file_fields, out);
}
