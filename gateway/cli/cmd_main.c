/*
 * Command dispatch: `citygate [run|check|test|eval] ...`, --version and
 * --help. A first word that is an option means `run`.
 */
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

int cg_main(int argc, char **argv)
{
    if (argc >= 2 &&
        (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("citygate %s (plugin ABI %d)\n", CG_VERSION, CG_PLUGIN_ABI);
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
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
