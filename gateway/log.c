/*
 * Logging: one line per event of note on stderr, level-filtered, carrying
 * the time, the gateway id and the level. Only gateway/ logs; libraries
 * report through return codes and diagnostics.
 */
#include <stdarg.h>
#include <stdio.h>

#include "base.h"
#include "log.h"

static int log_level = CG_LOG_INFO;
static char log_id[64] = "citygate";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void cg_log_setup(int level, const char *gateway_id)
{
    log_level = level;
    snprintf(log_id, sizeof(log_id), "%s", gateway_id ? gateway_id : "");
}

bool cg_log_enabled(int level)
{
    return level <= log_level;
}

void cg_log(int level, const char *fmt, ...)
{
    if (!cg_log_enabled(level))
        return;
    char msg[1024], ts[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cg_time_format(cg_time_now(), ts);
    /* One fprintf per line: stdio's lock keeps lines from interleaving. */
    fprintf(stderr, "%s %s %s: %s\n", ts, log_id,
            level_names[level < 0   ? 0
                        : level > 3 ? 3
                                    : level],
            msg);
}
