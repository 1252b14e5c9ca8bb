/*
 * Logging: the only place citygate writes log lines. It sits in base/ so
 * that every folder of gateway/ can log without depending on the
 * process's root folder; the libraries (rules/, config/, plugins/) still
 * report through return codes and diagnostics, and the gateway decides
 * what to log.
 *
 * A line is "<time> <gateway> <level>: <message>", or with JSON chosen
 * (gateway.log_format: json) one object per line,
 * {"time":...,"gateway":...,"level":...,"msg":...}, for log shippers.
 *
 * Threads: cg_log and cg_log_enabled may be called from any thread.
 * cg_log_setup and cg_log_set_json run before other threads start; the
 * level and format are atomics, so a later change is no data race.
 */
#ifndef CG_LOG_H
#define CG_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "citygate_plugin.h" /* enum cg_log_level */

/* Sets the level and the gateway id each line carries. */
void cg_log_setup(int level, const char *gateway_id);
/* JSON lines (true) or text lines (false, the default). */
void cg_log_set_json(bool json);
/* Whether lines are JSON: output that must fit the log's format asks. */
bool cg_log_json(void);
/* One line to stderr. */
void cg_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool cg_log_enabled(int level);

/*
 * A line that could come once per message (a dead letter per bad
 * payload) and must not flood the journal: at most one line per period,
 * each saying how many events it stands for and the latest one's text.
 * The first event after a quiet period is logged at once; those that
 * follow within the period are held and counted, and reported by the
 * next event's line or by a periodic flush.
 *
 * Threads: any; each call takes the limit's lock. Times are monotonic
 * seconds (cg_time_mono), passed in so the logic is testable.
 */
struct cg_log_limit {
    pthread_mutex_t lock;
    double period, next;
    uint64_t held;
    char latest[256];
};
void cg_log_limit_init(struct cg_log_limit *l, double period);
void cg_log_limit_destroy(struct cg_log_limit *l);
/* An event described by text. Returns how many events the line to write
 * now stands for (this one and those held since the last line), with
 * text copied to out; or 0 when the line is held back. */
uint64_t cg_log_limit_event(struct cg_log_limit *l, double now,
                            const char *text, char *out, size_t size);
/* When events are held and their period is over: returns their count,
 * with the latest one's text in out; else 0. */
uint64_t cg_log_limit_flush(struct cg_log_limit *l, double now, char *out,
                            size_t size);

#endif
