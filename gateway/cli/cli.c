/*
 * Shared command-line plumbing: load a config into a pipeline or print
 * every diagnostic, and the usage text.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli__print_diags(const struct cg_diags *d)
{
    struct cg_buf b = {0};
    cg_diags_format(d, &b);
    if (b.data)
        fputs(b.data, stderr);
    cg_buf_free(&b);
}

/* The worse of two results: out of memory first, then any problem. */
static int worse(int a, int b)
{
    return a == CG_ENOMEM || b == CG_ENOMEM ? CG_ENOMEM : a != CG_OK ? a : b;
}

/* --strict: every warning becomes an error. Returns how many did. */
static size_t make_strict(struct cg_diags *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        n += d->items[i].severity == CG_DIAG_WARNING;
        d->items[i].severity = CG_DIAG_ERROR;
    }
    return n;
}

int cli__load(const char *path, const char *const *rule_files, size_t n,
              int flags, struct cli_loaded *out)
{
    struct cg_diags d = {0};
    memset(out, 0, sizeof(*out));
    /* A config with errors goes on to plugins and pipeline all the same:
     * their errors are reported in the same run, and then it fails. */
    int rc = cg_config_load_partial(path, rule_files, n, &out->cfg, &d);
    if (rc == CG_OK)
        cg_time_set_zone(out->cfg->gateway.timezone);
    if (out->cfg)
        rc =
            worse(rc, cg_plugins_load(out->cfg->plugin_paths,
                                      out->cfg->n_plugin_paths, &out->reg, &d));
    if (out->reg)
        rc = worse(rc, cg_pipeline_new(out->cfg, out->reg, &out->pipeline, &d));
    if ((flags & CLI_STRICT) && make_strict(&d) && rc == CG_OK)
        rc = CG_EINVAL;
    cli__print_diags(&d);
    if (rc == CG_ENOMEM)
        fprintf(stderr, "citygate: out of memory while loading %s\n", path);
    else if (rc != CG_OK && cg_diags_errors(&d) == 0)
        fprintf(stderr, "citygate: cannot load %s: %s\n", path,
                cg_strerror(rc));
    cg_diags_free(&d);
    if (rc != CG_OK) {
        cli__unload(out);
        return 1;
    }
    return 0;
}

void cli__unload(struct cli_loaded *l)
{
    cg_pipeline_free(l->pipeline);
    cg_plugins_free(l->reg);
    cg_config_free(l->cfg);
    memset(l, 0, sizeof(*l));
}

void cli__usage(FILE *out)
{
    fputs("usage:\n"
          "  citygate [run] [-c FILE] [-b URI]\n"
          "                                 run the gateway (-b: another "
          "broker.uri)\n"
          "  citygate check [-c FILE] [--strict]\n"
          "                                 validate config, rules and "
          "plugins;\n"
          "                                 --strict: warnings are errors\n"
          "  citygate test  [-c FILE] [RULEFILE...]\n"
          "                                 run the rules' tests\n"
          "  citygate eval  [-c FILE] -t TOPIC (-p PAYLOAD | -f FILE)\n"
          "                                 show what one message would "
          "produce\n"
          "  citygate --version | --help\n"
          "FILE defaults to " CG_DEFAULT_CONFIG ".\n",
          out);
}

int cli__usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "citygate%s%s: %s\n", cmd ? " " : "", cmd ? cmd : "", msg);
    fputs("Try 'citygate --help'.\n", stderr);
    return 2;
}

static const struct cli_opt *match_opt(const struct cli_opt *opts,
                                       const char *arg, const char **inline_v)
{
    *inline_v = NULL;
    for (const struct cli_opt *o = opts; o->long_name; o++) {
        size_t n = strlen(o->long_name);
        if (arg[1] == o->short_name && arg[2] == '\0')
            return o;
        if (arg[1] == '-' && !strncmp(arg + 2, o->long_name, n)) {
            if (arg[2 + n] == '\0')
                return o;
            if (arg[2 + n] == '=') {
                *inline_v = arg + 3 + n;
                return o;
            }
        }
    }
    return NULL;
}

int cli__parse(const char *cmd, int argc, char **argv,
               const struct cli_opt *opts, const char **pos, size_t *n_pos,
               size_t max_pos)
{
    char msg[256];
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') {
            if (*n_pos == max_pos) {
                snprintf(msg, sizeof(msg), "unexpected argument '%s'", a);
                return cli__usage_error(cmd, msg);
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *inline_v;
        const struct cli_opt *o = match_opt(opts, a, &inline_v);
        if (!o) {
            snprintf(msg, sizeof(msg), "unknown option '%s'", a);
            return cli__usage_error(cmd, msg);
        }
        if (o->flag && !inline_v) {
            *o->flag = true;
            continue;
        }
        if (o->flag || (!inline_v && i + 1 >= argc)) {
            snprintf(msg, sizeof(msg), "option '%s' %s", a,
                     o->flag ? "takes no value" : "needs a value");
            return cli__usage_error(cmd, msg);
        }
        *o->value = inline_v ? inline_v : argv[++i];
    }
    return 0;
}
