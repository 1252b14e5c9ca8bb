/*
 * Command dispatch: `citygate [run|check|test|eval] ...`, --version and
 * --help. A first word that is an option means `run`.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
    {"run", cg_cmd_run},
    {"check", cg_cmd_check},
    {"test", cg_cmd_test},
    {"eval", cg_cmd_eval},
};

/* --version and --help take nothing after them: a stray word is a
 * mistake (exit 2), not a silent success. */
static bool is_flag(int argc, char **argv, const char *lng, const char *shrt,
                    int *rc)
{
    if (argc < 2 || (strcmp(argv[1], lng) && strcmp(argv[1], shrt)))
        return false;
    if (argc > 2) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s takes no arguments (got '%.60s')", lng,
                 argv[2]);
        *rc = cli__usage_error(NULL, msg);
    }
    return true;
}

int cg_main(int argc, char **argv)
{
    int rc = 0;
    if (is_flag(argc, argv, "--version", "-V", &rc)) {
        if (rc)
            return rc;
        printf("citygate %s (plugin ABI %d)\n", CG_VERSION, CG_PLUGIN_ABI);
        return 0;
    }
    if (is_flag(argc, argv, "--help", "-h", &rc)) {
        if (rc)
            return rc;
        cli__usage(stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-')
        return cg_cmd_run(argc, argv); /* argv[0] stands in for "run" */
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    char msg[128];
    snprintf(msg, sizeof(msg), "unknown command '%s'", argv[1]);
    return cli__usage_error(NULL, msg);
}
