/*
 * The plugin ABI lives in include/citygate_plugin.h, where base/ and the
 * plugins can both include it without an include circle. This file keeps
 * the path that the specification and older plugin builds name.
 */
#include "../include/citygate_plugin.h"
