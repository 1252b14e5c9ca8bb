/*
 * Restoring a snapshot (snapshot.c wrote it). The trailer is checked
 * first, so a torn or garbled file changes nothing; then each rule line
 * selects the rule with the same name, kind and definition hash (the
 * keys of any other rule are skipped: it changed while the gateway was
 * down), and each key line rebuilds a key with every time moved forward
 * by the outage, so that downtime counts toward no timer. Windows are
 * aligned to the clock, not to the outage: one that ended meanwhile is
 * emitted as partial.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct restore {
    struct cg_state *s;
    const struct cg_state_names *names;
    int64_t outage;
    struct cg_state_rule *cur; /* NULL: skip the keys that follow */
    struct cg_state_restored *out;
};

static const struct cg_value *get(const struct cg_value *o, const char *k,
                                  int type)
{
    const struct cg_value *v = cg_value_member(o, k, strlen(k));
    return v && v->type == type ? v : NULL;
}

static bool get_int(const struct cg_value *o, const char *k, int64_t *out)
{
    const struct cg_value *v = get(o, k, CG_INT);
    if (v)
        *out = v->as.i;
    return v != NULL;
}

/* A vendor or network by name, as put_name wrote it. */
static uint32_t index_of(const struct cg_value *o, const char *k,
                         const char *const *names, size_t n)
{
    const struct cg_value *v = cg_value_member(o, k, strlen(k));
    if (v && v->type == CG_BOOL && v->as.boolean)
        return CG_STATE_MIXED;
    for (size_t i = 0; v && v->type == CG_STR && i < n; i++)
        if (names[i] && !strcmp(names[i], v->as.str))
            return (uint32_t)i;
    return CG_STATE_NONE;
}

static struct skey *add_key(struct restore *rs, const struct cg_value *o)
{
    const struct cg_value *k = get(o, "k", CG_STR);
    int64_t t;
    if (!k || !get_int(o, "t", &t))
        return NULL;
    return rule__insert(rs->cur, k->as.str, k->len,
                        keytab__hash(k->as.str, k->len), t + rs->outage);
}

static int gate_key(struct restore *rs, const struct cg_value *o)
{
    struct cg_state_rule *r = rs->cur;
    int64_t n, sent;
    const struct cg_value *c = get(o, "c", CG_LIST);
    if (!get_int(o, "n", &n) || (c && c->len != r->n_oc) ||
        (!c && get(o, "c", CG_NULL) == NULL))
        return CG_EINVAL;
    struct gate_key *k = (struct gate_key *)add_key(rs, o);
    if (!k)
        return CG_EINVAL;
    k->last_sent = get_int(o, "s", &sent) ? sent + rs->outage : NEVER;
    k->suppressed = (uint32_t)n;
    if (c && !(k->last = pack__value(c)))
        return CG_ENOMEM;
    return CG_OK;
}

static int alert_key(struct restore *rs, const struct cg_value *o)
{
    struct cg_state_rule *r = rs->cur;
    int64_t a, f, h, rep, sev;
    if (!get_int(o, "a", &a) || !get_int(o, "f", &f) || !get_int(o, "h", &h) ||
        !get_int(o, "r", &rep) || !get_int(o, "sev", &sev))
        return CG_EINVAL;
    uint32_t vendor =
        index_of(o, "v", rs->names->vendors, rs->names->n_vendors);
    if (f && vendor == CG_STATE_NONE)
        return CG_OK; /* its vendor is gone: it cannot be routed */
    struct alert_key *k = (struct alert_key *)add_key(rs, o);
    if (!k)
        return CG_EINVAL;
    k->active_since = a + rs->outage;
    k->last_hold = h + rs->outage;
    k->next_repeat = rep + rs->outage;
    k->firing = f != 0;
    k->severity = (uint8_t)sev;
    int64_t ft, fs;
    const struct cg_value *fh = get(o, "fh", CG_STR);
    if (fh && fh->len == 16 && get_int(o, "ft", &ft)) {
        k->fire_hash = strtoull(fh->as.str, NULL, 16);
        k->fire_time = ft; /* a time in the past: it does not move */
        /* A save from before "fs": taken as sent to CAP, as it was. */
        bool known =
            get_int(o, "fs", &fs) && fs >= CG_SEV_INFO && fs <= CG_SEV_CRITICAL;
        k->fire_severity = (uint8_t)(known ? fs : CG_SEV_WARNING);
    }
    k->vendor = vendor;
    const struct cg_value *tp = get(o, "tp", CG_STR);
    const struct cg_value *d = get(o, "d", CG_OBJ);
    if ((tp && !(k->topic = cg_strndup(tp->as.str, tp->len))) ||
        (d && !(k->data = pack__value(d))))
        return CG_ENOMEM;
    if (k->firing && r->repeat)
        alert__link_firing(r, k);
    return CG_OK;
}

static int group_accs(struct cg_state_rule *r, struct group_key *g,
                      const struct cg_value *o)
{
    const struct cg_value *dev = get(o, "dev", CG_OBJ);
    const struct cg_value *a = get(o, "a", CG_LIST);
    if (!dev || !a || a->len != r->win.n_slots)
        return CG_EINVAL;
    int rc = cg_agg_acc_load(&g->devices, dev);
    for (size_t i = 0; rc == CG_OK && i < r->win.n_slots; i++)
        if (a->as.items[i].type != CG_OBJ ||
            (rc = cg_agg_acc_load(&g->acc[i], &a->as.items[i])) != CG_OK)
            rc = rc ? rc : CG_EINVAL;
    return rc;
}

static int group_key(struct restore *rs, const struct cg_value *o)
{
    struct cg_state_rule *r = rs->cur;
    const struct cg_value *vals = get(o, "g", CG_LIST);
    int64_t m;
    if (!vals || vals->len != r->win.n_group || !get_int(o, "m", &m))
        return CG_EINVAL;
    struct group_key *g = (struct group_key *)add_key(rs, o);
    if (!g)
        return CG_EINVAL;
    if (!(g->values = pack__value(vals)))
        return CG_ENOMEM;
    const struct cg_state_names *nm = rs->names;
    g->vendor = index_of(o, "v", nm->vendors, nm->n_vendors);
    g->network = index_of(o, "n", nm->networks, nm->n_networks);
    g->messages = (uint32_t)m;
    return group_accs(r, g, o);
}

static int key_line(struct restore *rs, const struct cg_value *o)
{
    if (!rs->cur)
        return CG_OK;
    rs->out->keys++;
    switch (rs->cur->kind) {
    case CG_STATE_GATE:
        return gate_key(rs, o);
    case CG_STATE_ALERT:
        return alert_key(rs, o);
    default:
        return group_key(rs, o);
    }
}

static struct cg_state_rule *find(const struct cg_state *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i] && !strcmp(s->rules[i]->name, name))
            return s->rules[i];
    return NULL;
}

static const char *const kinds[] = {"", "gate", "alert", "window"};

static int rule_line(struct restore *rs, const struct cg_value *o)
{
    const struct cg_value *name = get(o, "rule", CG_STR);
    const struct cg_value *def = get(o, "def", CG_STR);
    const struct cg_value *kind = get(o, "kind", CG_STR);
    if (!name || !def || !kind)
        return CG_EINVAL;
    struct cg_state_rule *r = find(rs->s, name->as.str);
    char hex[17] = "";
    if (r)
        cg_hex64(r->def, hex);
    rs->cur = r && !strcmp(kinds[r->kind], kind->as.str) &&
                      !strcmp(hex, def->as.str) && !r->tab.n
                  ? r
                  : NULL;
    if (!rs->cur) {
        rs->out->rules_gone++;
        return CG_OK;
    }
    rs->out->rules++;
    if (r->kind == CG_STATE_WINDOW) {
        get_int(o, "start", &r->win_start);
        get_int(o, "end", &r->win_end);
    }
    return CG_OK;
}

/* ---- the whole text ------------------------------------------------------ */

static int parse_line(struct cg_arena *a, const char *p, size_t n,
                      struct cg_value *out)
{
    char err[96];
    return cg_json_parse(p, n, cg_arena_alloc_fn, a, out, err, sizeof(err)) ==
                       CG_OK &&
                   out->type == CG_OBJ
               ? CG_OK
               : CG_EINVAL;
}

/* Checks the trailer; sets *body to the length before it. */
static int verify(struct cg_arena *a, const char *text, size_t len,
                  size_t *body, char *err, size_t errlen)
{
    if (!len || text[len - 1] != '\n') {
        snprintf(err, errlen, "torn: it does not end with a whole line");
        return CG_EINVAL;
    }
    size_t last = len - 1, lines = 0;
    while (last > 0 && text[last - 1] != '\n')
        last--;
    struct cg_value t;
    int64_t end;
    const struct cg_value *check;
    char want[17];
    if (parse_line(a, text + last, len - 1 - last, &t) != CG_OK ||
        !get_int(&t, "end", &end) || !(check = get(&t, "check", CG_STR))) {
        snprintf(err, errlen, "torn: its last line is not the trailer");
        return CG_EINVAL;
    }
    for (size_t i = 0; i < last; i++)
        lines += text[i] == '\n';
    cg_hex64(cg_hash64(CG_HASH_SEED, text, last), want);
    if ((int64_t)lines != end || strcmp(want, check->as.str)) {
        snprintf(err, errlen, "garbled: its check does not match");
        return CG_EINVAL;
    }
    *body = last;
    return CG_OK;
}

static int header(struct cg_arena *a, const char *p, size_t n, int64_t now,
                  int64_t *outage)
{
    struct cg_value h;
    int64_t version, saved;
    if (parse_line(a, p, n, &h) != CG_OK ||
        !get_int(&h, "citygate_state", &version) || version != 1 ||
        !get_int(&h, "saved", &saved))
        return CG_EINVAL;
    *outage = now > saved ? now - saved : 0;
    return CG_OK;
}

static int each_line(struct restore *rs, struct cg_arena *a, const char *text,
                     size_t body, int64_t now)
{
    const char *nl = memchr(text, '\n', body);
    if (!nl || header(a, text, (size_t)(nl - text), now, &rs->outage))
        return CG_EINVAL;
    for (const char *p = nl + 1; p < text + body; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + body - p));
        struct cg_value o;
        cg_arena_reset(a);
        if (parse_line(a, p, (size_t)(nl - p), &o) != CG_OK)
            return CG_EINVAL;
        int rc = get(&o, "rule", CG_STR) ? rule_line(rs, &o) : key_line(rs, &o);
        if (rc != CG_OK)
            return rc;
    }
    return CG_OK;
}

/* Windows that ended while the gateway was down go out now, partial. */
static int late_windows(struct cg_state *s, int64_t now,
                        const struct cg_state_ctx *c,
                        struct cg_state_restored *out)
{
    for (size_t i = 0; i < s->n; i++) {
        struct cg_state_rule *r = s->rules[i];
        if (!r || r->kind != CG_STATE_WINDOW || !r->tab.n || r->win_end > now)
            continue;
        out->windows_late++;
        int rc = window__flush(r, r->win_end, c);
        if (rc != CG_OK)
            return rc;
    }
    return CG_OK;
}

int cg_state_load(struct cg_state *s, const char *text, size_t len, int64_t now,
                  const struct cg_state_names *names,
                  const struct cg_state_ctx *c, struct cg_state_restored *out,
                  char *err, size_t errlen)
{
    struct restore rs = {s, names, 0, NULL, out};
    struct cg_arena *a = cg_arena_new(64 * 1024);
    size_t body = 0;
    memset(out, 0, sizeof(*out));
    if (!a)
        return CG_ENOMEM;
    int rc = verify(a, text, len, &body, err, errlen);
    if (rc == CG_OK && (rc = each_line(&rs, a, text, body, now)) != CG_OK) {
        snprintf(err, errlen, "%s",
                 rc == CG_ENOMEM ? "out of memory"
                                 : "garbled: a line does "
                                   "not read back");
        cg_state_reset(s);
    }
    cg_arena_free(a);
    out->outage = rs.outage;
    return rc == CG_OK ? late_windows(s, now, c, out) : rc;
}
