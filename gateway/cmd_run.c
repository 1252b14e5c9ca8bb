/*
 * citygate run: the gateway process.
 */
#include <stdio.h>

#include "cli.h"

int cg_cmd_run(int argc, char **argv)
{
    fprintf(stderr, "citygate run: the MQTT gateway is not in this build "
                    "yet; use check, test or eval\n");
    return 1;
}
