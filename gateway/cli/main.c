/*
 * citygate: the command line (SPEC §7). Everything happens in cg_core;
 * main only hands over.
 */
#include "cli.h"

int main(int argc, char **argv)
{
    return cg_main(argc, argv);
}
