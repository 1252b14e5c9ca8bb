/*
 * Logging: the only place citygate writes log lines. Libraries report
 * through return codes and diagnostics; the gateway decides what to log.
 *
 * Threads: cg_log and cg_log_enabled may be called from any thread;
 * cg_log_setup before other threads start (or from the loop thread, which
 * only changes the level: a torn read of an int is not possible).
 */
#ifndef CG_LOG_H
#define CG_LOG_H

#include <stdbool.h>

#include "citygate_plugin.h" /* enum cg_log_level */

/* Sets the level and the gateway id each line carries. */
void cg_log_setup(int level, const char *gateway_id);
/* One line to stderr: "<time> <gateway> <level>: <message>". */
void cg_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool cg_log_enabled(int level);

#endif
