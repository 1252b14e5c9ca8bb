/*
 * Snapshots (SPEC §13 "Restart"): the state as JSON lines, compact and
 * readable with jq when something needs explaining.
 *
 *   {"citygate_state":1,"gateway":"edge-box-01","saved":1893456000000}
 *   {"rule":"water/river-high","def":"9f2c...","kind":"alert"}
 *   {"k":"gauge-7","t":...,"a":...,"f":1,"h":...,"r":...,"sev":2,
 *    "fh":"<hex>","ft":...,"fs":2,"v":"riverwatch","tp":"vendors/...",
 *    "d":{...}}
 *   {"rule":"environment/air-hourly","def":"...","kind":"window",
 *    "start":...,"end":...}
 *   {"k":"[\"haidian\"]","t":...,"g":["haidian"],"v":"aircheck",
 *    "n":"nbiot-telecom","m":12,"dev":{acc},"a":[{acc},...]}
 *   {"end":5,"check":"<hash of every byte before this line>"}
 *
 * Keys go oldest first, so a restore that puts each at the front of its
 * table rebuilds the least-recently-used order. Vendors and networks are
 * named, so a config that reorders them restores the same state; a group
 * of several vendors has "v":true, one with none "v":null. Times are
 * epoch milliseconds; the trailer lets a restore tell a whole snapshot
 * from a torn or garbled one.
 */
#include <string.h>

#include "internal.h"

static const char *const kind_names[] = {"", "gate", "alert", "window"};

static void key(struct cg_buf *b, const char *k)
{
    cg_buf_putc(b, ',');
    cg_json_put_string(b, k, strlen(k));
    cg_buf_putc(b, ':');
}

static void put_int(struct cg_buf *b, const char *k, int64_t v)
{
    key(b, k);
    cg_json_put_int(b, v);
}

/* A vendor or network by name: true for several, null for none. */
static void put_name(struct cg_buf *b, const char *k, uint32_t i,
                     const char *const *names, size_t n)
{
    key(b, k);
    if (i == CG_STATE_MIXED)
        cg_buf_puts(b, "true");
    else if (i < n && names[i])
        cg_json_put_string(b, names[i], strlen(names[i]));
    else
        cg_buf_puts(b, "null");
}

static void put_value(struct cg_buf *b, const char *k, const struct cg_value *v)
{
    key(b, k);
    if (v)
        cg_json_put_value(b, v);
    else
        cg_buf_puts(b, "null");
}

static void put_gate(struct cg_buf *b, const struct gate_key *k)
{
    key(b, "s");
    if (k->last_sent == NEVER)
        cg_buf_puts(b, "null");
    else
        cg_json_put_int(b, k->last_sent);
    put_int(b, "n", k->suppressed);
    put_value(b, "c", k->last);
}

static void put_alert(struct cg_buf *b, const struct alert_key *k,
                      const struct cg_state_names *names)
{
    put_int(b, "a", k->active_since);
    put_int(b, "f", k->firing);
    put_int(b, "h", k->last_hold);
    put_int(b, "r", k->next_repeat);
    put_int(b, "sev", k->severity);
    if (k->fire_time) { /* hex: a JSON number cannot hold 64 bits */
        char hex[17];
        cg_hex64(k->fire_hash, hex);
        key(b, "fh");
        cg_json_put_string(b, hex, 16);
        put_int(b, "ft", k->fire_time);
        put_int(b, "fs", k->fire_severity);
    }
    put_name(b, "v", k->vendor, names->vendors, names->n_vendors);
    key(b, "tp");
    if (k->topic)
        cg_json_put_string(b, k->topic, strlen(k->topic));
    else
        cg_buf_puts(b, "null");
    put_value(b, "d", k->data);
}

static void put_group(struct cg_buf *b, const struct cg_state_rule *r,
                      const struct group_key *g,
                      const struct cg_state_names *names)
{
    put_value(b, "g", g->values);
    put_name(b, "v", g->vendor, names->vendors, names->n_vendors);
    put_name(b, "n", g->network, names->networks, names->n_networks);
    put_int(b, "m", g->messages);
    key(b, "dev");
    cg_agg_acc_save(&g->devices, b);
    key(b, "a");
    cg_buf_putc(b, '[');
    for (size_t i = 0; i < r->win.n_slots; i++) {
        if (i)
            cg_buf_putc(b, ',');
        cg_agg_acc_save(&g->acc[i], b);
    }
    cg_buf_putc(b, ']');
}

static void put_key(struct cg_buf *b, const struct cg_state_rule *r,
                    const struct skey *k, const struct cg_state_names *names)
{
    cg_buf_puts(b, "{\"k\":");
    cg_json_put_string(b, skey_text(&r->tab, k), k->len);
    put_int(b, "t", k->touched);
    if (r->kind == CG_STATE_GATE)
        put_gate(b, (const struct gate_key *)k);
    else if (r->kind == CG_STATE_ALERT)
        put_alert(b, (const struct alert_key *)k, names);
    else
        put_group(b, r, (const struct group_key *)k, names);
    cg_buf_puts(b, "}\n");
}

static size_t put_rule(struct cg_buf *b, const struct cg_state_rule *r,
                       const struct cg_state_names *names)
{
    char def[17];
    cg_hex64(r->def, def);
    cg_buf_puts(b, "{\"rule\":");
    cg_json_put_string(b, r->name, strlen(r->name));
    cg_buf_printf(b, ",\"def\":\"%s\",\"kind\":\"%s\"", def,
                  kind_names[r->kind]);
    if (r->kind == CG_STATE_WINDOW && r->tab.n) {
        put_int(b, "start", r->win_start);
        put_int(b, "end", r->win_end);
    }
    cg_buf_puts(b, "}\n");
    for (const struct skey *k = r->tab.oldest; k; k = k->newer)
        put_key(b, r, k, names);
    return 1 + r->tab.n;
}

int cg_state_save(const struct cg_state *s, int64_t now, const char *gateway,
                  const struct cg_state_names *names, struct cg_buf *out)
{
    size_t start = out->len, lines = 1;
    cg_buf_puts(out, "{\"citygate_state\":1,\"gateway\":");
    cg_json_put_string(out, gateway, strlen(gateway));
    put_int(out, "saved", now);
    cg_buf_puts(out, "}\n");
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i])
            lines += put_rule(out, s->rules[i], names);
    if (out->oom)
        return CG_ENOMEM;
    char check[17];
    cg_hex64(cg_hash64(CG_HASH_SEED, out->data + start, out->len - start),
             check);
    cg_buf_printf(out, "{\"end\":%zu,\"check\":\"%s\"}\n", lines, check);
    return out->oom ? CG_ENOMEM : CG_OK;
}
