/*
 * The plugins compiled into citygate. Each is the same struct cg_plugin
 * descriptor a loadable plugin returns from cg_plugin_entry(), so the host
 * registers built-ins and loaded plugins through one code path. The
 * descriptors are immutable; all state lives in the instances that
 * create() returns.
 */
#ifndef CG_PLUGINS_BUILTIN_H
#define CG_PLUGINS_BUILTIN_H

#include "citygate_plugin.h"

/* Decoders (SPEC §2 "Decoders"). */
extern const struct cg_plugin cg_builtin_decode_json, cg_builtin_decode_kv,
    cg_builtin_decode_csv, cg_builtin_decode_lpp;

/* Sinks (SPEC §12 "Delivery", "File sink"). The http sink needs the host
 * to call curl_global_init() once, before any instance is created. */
extern const struct cg_plugin cg_builtin_sink_http, cg_builtin_sink_file,
    cg_builtin_sink_mqtt;

/* The sink of a consumer that names none: MQTT, the gateway's own medium. */
extern const struct cg_plugin *const cg_builtin_default_sink;

#endif
