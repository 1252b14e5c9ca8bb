/*
 * citygate run: start the gateway, serve until SIGINT/SIGTERM, reload on
 * SIGHUP or when a rule file changes, shut down cleanly (SPEC §7). With
 * -b URI the broker.uri of the config is replaced for this run (SPEC §16:
 * one-off runs and the Quick start).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "run.h"

int cg_cmd_run(int argc, char **argv)
{
    const char *config = CG_DEFAULT_CONFIG, *broker = NULL;
    const struct cli_opt opts[] = {
        {'c', "config", &config, NULL}, {'b', "broker", &broker, NULL}, {0}};
    size_t n_pos;
    if (cli__parse("run", argc, argv, opts, NULL, &n_pos, 0))
        return 2;
    if (broker && !broker[0])
        return cli__usage_error("run", "-b needs a broker URI");
    const char *problem = broker ? cg_broker_uri_problem(broker) : NULL;
    if (problem) {
        char msg[256];
        snprintf(msg, sizeof(msg), "-b: the broker URI %s", problem);
        return cli__usage_error("run", msg);
    }
    static struct gw g; /* one gateway per process */
    memset(&g, 0, sizeof(g));
    if (gw__start(&g, config, broker) != CG_OK) {
        gw__shutdown(&g);
        return 1;
    }
    int rc = gw__run(&g);
    gw__shutdown(&g);
    cg_log(CG_LOG_INFO, "stopped");
    return rc == CG_OK ? 0 : 1;
}
