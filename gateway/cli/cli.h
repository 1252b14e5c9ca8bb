/*
 * The command line (SPEC §7): one file per command, and the helpers they
 * share here: loading a config with its plugins and pipeline, printing
 * diagnostics, option parsing.
 */
#ifndef CG_CLI_H
#define CG_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "host/host.h"
#include "pipeline/pipeline.h"

#define CG_DEFAULT_CONFIG "./config/citygate.yaml"

struct cli_loaded {
    struct cg_config *cfg;
    struct cg_plugin_reg *reg;
    struct cg_pipeline *pipeline;
};

/* Each command returns the process exit status: 0, 1 (input), 2 (usage). */
int cg_cmd_check(int argc, char **argv);
int cg_cmd_eval(int argc, char **argv);
int cg_cmd_test(int argc, char **argv);
int cg_cmd_run(int argc, char **argv);
int cg_main(int argc, char **argv);

/* cli__load flags. */
#define CLI_STRICT 1 /* warnings are errors (check --strict) */

/* Loads config, plugins and pipeline; prints every problem to stderr as
 * file:line:col: error: message (or warning:). A config with errors is
 * still compiled as far as it goes, so that one run reports the errors of
 * every stage (SPEC §14). Returns 0, or the exit status 1. */
int cli__load(const char *path, const char *const *rule_files, size_t n,
              int flags, struct cli_loaded *out);
void cli__unload(struct cli_loaded *l);
void cli__print_diags(const struct cg_diags *d);
/* Prints "citygate <cmd>: <msg>" and the usage hint; returns 2. */
int cli__usage_error(const char *cmd, const char *msg);
void cli__usage(FILE *out);

/* An option that takes a value (-c FILE, --config FILE, --config=FILE),
 * or with `flag` set instead of `value`, a switch (--strict). */
struct cli_opt {
    char short_name;
    const char *long_name;
    const char **value;
    bool *flag;
};

/* Parses argv[1..] (argv[0] is the command). Other words go to pos (at
 * most max_pos). Returns 0, or 2 after printing a usage error. */
int cli__parse(const char *cmd, int argc, char **argv,
               const struct cli_opt *opts, const char **pos, size_t *n_pos,
               size_t max_pos);

#endif
