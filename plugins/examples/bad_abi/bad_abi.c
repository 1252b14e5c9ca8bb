/*
 * A plugin built for an ABI this citygate does not speak (999), for the
 * test that the host refuses it with a clear message instead of calling
 * into a descriptor whose layout it cannot trust. Built only with the
 * tests, and into a folder of its own, so that no glob loads it by
 * accident.
 */
#include "citygate_plugin.h"

static const struct cg_plugin bad_abi_plugin = {
    .abi_version = 999,
    .struct_size = sizeof(struct cg_plugin),
    .name = "bad_abi",
    .kind = "decoder",
};

CG_PLUGIN_EXPORT const struct cg_plugin *cg_plugin_entry(void)
{
    return &bad_abi_plugin;
}
