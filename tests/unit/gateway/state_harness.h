/*
 * Shared harness of the stateful-rule tests: a small city (two vendors on
 * two networks, a government and a citizen consumer) loaded with the
 * rules a test gives, driven on a simulated clock that starts at
 * 2030-01-01T00:00:00Z like `citygate test`.
 *
 * A test is a table of steps. Each step moves the clock to `at` (ms from
 * the start), runs the timers due by then, then sends its message (none
 * when payload is NULL), and expects exactly the deliveries it lists:
 * each "consumer|text|!text..." must be matched by a distinct delivery of
 * that consumer whose event JSON contains every text (and no !text).
 * Steps that fail print what came instead. A scenario's steps end at the
 * first empty one (END).
 */
#ifndef CG_TEST_STATE_HARNESS_H
#define CG_TEST_STATE_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/host.h"
#include "pipeline/pipeline.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define HARNESS   static __attribute__((unused))
#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))
#define CLOCK0    1893456000.0 /* 2030-01-01T00:00:00Z */
#define SEC       1000LL
#define MIN       (60 * SEC)
#define HOUR      (60 * MIN)
#define MAX_OUT   64
#define MAX_WANT  8

static const char *const SH_CONFIG =
    "gateway: { id: box-1 }\n"
    "networks: [ { name: nb, kind: nb-iot }, { name: lora, kind: lorawan } ]\n"
    "vendors:\n"
    "  - name: acme\n"
    "    network: nb\n"
    "    topics: [\"v/acme/+/t\"]\n"
    "    fields: { level: level, zone: zone, owner: owner, band: band }\n"
    "    private: [owner]\n"
    "  - name: beta\n"
    "    network: lora\n"
    "    topics: [\"v/beta/+/t\"]\n"
    "    fields: { level: level, zone: zone, owner: owner, band: band }\n"
    "    private: [owner]\n"
    "consumers:\n"
    "  - { name: gov, role: government, topic: \"c/gov/{type}\" }\n"
    "  - { name: pub, role: citizen, topic: \"c/pub/{type}\" }\n"
    "rules: [\"rules/*.yaml\"]\n";

/* A test may load its own config instead of SH_CONFIG. */
static const char *sh_config __attribute__((unused));

struct sh {
    char dir[256];
    struct cg_config *cfg;
    struct cg_plugin_reg *reg;
    struct cg_pipeline *p;
    char out[MAX_OUT][2048];
    int n;
};

struct step {
    int64_t at;          /* ms from CLOCK0 */
    const char *topic;   /* with payload */
    const char *payload; /* NULL: the clock only moves */
    const char *want[MAX_WANT];
};

HARNESS int sh_deliver(void *user, const struct cg_delivery *d)
{
    struct sh *h = user;
    if (h->n < MAX_OUT)
        snprintf(h->out[h->n++], sizeof(h->out[0]), "%s %s", d->consumer_name,
                 d->event.json);
    return CG_OK;
}

HARNESS int sh_dead(void *user, const struct cg_dead *d)
{
    struct sh *h = user;
    if (h->n < MAX_OUT)
        snprintf(h->out[h->n++], sizeof(h->out[0]), "dead %.*s", (int)d->len,
                 d->json);
    return CG_OK;
}

HARNESS void sh_write(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads config and rules into h->p; returns the pipeline's status, with
 * the diagnostics in diags when it is given. */
HARNESS int sh_load_diags(struct sh *h, const char *rules, struct cg_buf *diags)
{
    char path[512];
    memset(h, 0, sizeof(*h));
    cg_time_set_zone(getenv("CG_TEST_TZ") ? getenv("CG_TEST_TZ") : "UTC");
    snprintf(h->dir, sizeof(h->dir), "/tmp/cg-state-test-XXXXXX");
    assert_non_null(mkdtemp(h->dir));
    snprintf(path, sizeof(path), "%s/rules", h->dir);
    mkdir(path, 0700);
    sh_write(h->dir, "citygate.yaml", sh_config ? sh_config : SH_CONFIG);
    sh_write(h->dir, "rules/r.yaml", rules);
    snprintf(path, sizeof(path), "%s/citygate.yaml", h->dir);
    struct cg_diags d = {0};
    int rc = cg_config_load(path, NULL, 0, &h->cfg, &d);
    if (rc == CG_OK)
        rc = cg_plugins_load(NULL, 0, &h->reg, &d);
    if (rc == CG_OK)
        rc = cg_pipeline_new(h->cfg, h->reg, &h->p, &d);
    if (diags)
        cg_diags_format(&d, diags);
    cg_diags_free(&d);
    return rc;
}

HARNESS void sh_load(struct sh *h, const char *rules)
{
    struct cg_buf b = {0};
    int rc = sh_load_diags(h, rules, &b);
    if (rc != CG_OK)
        fprintf(stderr, "%s", b.data ? b.data : "");
    cg_buf_free(&b);
    assert_int_equal(rc, CG_OK);
}

HARNESS void sh_free(struct sh *h)
{
    char cmd[300];
    cg_pipeline_free(h->p);
    cg_plugins_free(h->reg);
    cg_config_free(h->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
    assert_int_equal(system(cmd), 0);
    h->p = NULL;
    h->reg = NULL;
    h->cfg = NULL;
}

/* Timers due by at, then the message; the deliveries land in h->out. */
HARNESS int sh_run(struct sh *h, int64_t at, const char *topic,
                   const char *payload)
{
    struct cg_emit emit = {sh_deliver, sh_dead, h};
    double now = CLOCK0 + (double)at / 1000.0;
    h->n = 0;
    int rc = cg_pipeline_timers(h->p, now, &emit, NULL);
    if (rc >= 0 && payload) {
        struct cg_message m = {topic, strlen(topic), (const uint8_t *)payload,
                               strlen(payload), now};
        rc = cg_pipeline_process(h->p, &m, &emit);
    }
    return rc;
}

/* Does out match "consumer|text|text..."? */
HARNESS bool sh_matches(const char *out, const char *want)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", want);
    char *save = NULL, *part = strtok_r(buf, "|", &save);
    size_t n = strlen(part);
    if (strncmp(out, part, n) || out[n] != ' ')
        return false;
    while ((part = strtok_r(NULL, "|", &save)))
        if (part[0] == '!' ? strstr(out, part + 1) != NULL : !strstr(out, part))
            return false;
    return true;
}

/* Every wanted delivery matched by a distinct one, and nothing else. */
HARNESS bool sh_check(const struct sh *h, const char *const *want)
{
    bool used[MAX_OUT] = {false};
    int n = 0;
    for (; n < MAX_WANT && want[n]; n++) {
        int i = 0;
        while (i < h->n && (used[i] || !sh_matches(h->out[i], want[n])))
            i++;
        if (i == h->n)
            return false;
        used[i] = true;
    }
    return n == h->n;
}

HARNESS void sh_print(const struct sh *h, const char *name, size_t step,
                      const struct step *s)
{
    fprintf(stderr, "%s, step %zu (at %lld ms): expected", name, step,
            (long long)s->at);
    for (int i = 0; i < MAX_WANT && s->want[i]; i++)
        fprintf(stderr, " [%s]", s->want[i]);
    fprintf(stderr, "\n  got %d:\n", h->n);
    for (int i = 0; i < h->n; i++)
        fprintf(stderr, "    %s\n", h->out[i]);
}

/* Runs a table of steps; every step is checked, failures printed, and
 * the test fails at the end if any did. */
HARNESS void sh_steps(struct sh *h, const char *name, const struct step *s,
                      size_t n)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = sh_run(h, s[i].at, s[i].topic, s[i].payload);
        if (rc < 0 || !sh_check(h, s[i].want)) {
            sh_print(h, name, i, &s[i]);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* One scenario: rules, then steps up to the first empty one. */
#define MAX_STEPS 24
#define END                                                                    \
    {                                                                          \
        0                                                                      \
    }
struct scenario {
    const char *name;
    const char *rules;
    struct step steps[MAX_STEPS];
};

HARNESS size_t sh_count(const struct step *s)
{
    size_t n = 1;
    while (n < MAX_STEPS &&
           (s[n].at || s[n].topic || s[n].payload || s[n].want[0]))
        n++;
    return n;
}

HARNESS void sh_scenarios(const struct scenario *sc, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct sh h;
        sh_load(&h, sc[i].rules);
        sh_steps(&h, sc[i].name, sc[i].steps, sh_count(sc[i].steps));
        sh_free(&h);
    }
}

#endif
