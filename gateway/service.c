/*
 * What systemd sees of the gateway (SPEC §16): READY once intake is
 * connected and subscribed, a STATUS line with the rates every few
 * seconds, and watchdog pings only while the pipeline makes progress or
 * is idle, so that a pipeline stuck on one message gets the service
 * restarted rather than pinged forever by a healthy loop thread.
 *
 * The intake thread marks each message's start and end with atomics
 * (when it entered the pipeline, how many it finished); the loop thread
 * reads them at each ping. No lock: the loop must be able to see a stuck
 * pipeline without waiting for it.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "run.h"

#define STATUS_EVERY_S 5.0

/* Test only: CITYGATE_TEST_WEDGE_AFTER=N makes the N-th message's
 * processing sleep forever on the intake thread, inside the pipeline, so
 * the integration tests can show that watchdog pings stop. Nothing else
 * reads it; an operator has no use for it. */
#define WEDGE_ENV "CITYGATE_TEST_WEDGE_AFTER"

static unsigned long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL +
           (unsigned long long)ts.tv_nsec;
}

void gw__service_init(struct gw *g)
{
    struct gw_service *s = &g->svc;
    const char *hook = getenv(WEDGE_ENV);
    s->wedge_after = hook ? strtoull(hook, NULL, 10) : 0;
    if (s->wedge_after)
        cg_log(CG_LOG_WARN,
               "test hook %s: message %llu will wedge the pipeline", WEDGE_ENV,
               s->wedge_after);
    s->wd_interval = cg_notify_watchdog_interval();
    s->wd_next = cg_time_mono();
    if (s->wd_interval > 0)
        cg_log(CG_LOG_INFO,
               "watchdog: pinging every %.1f s while the pipeline makes "
               "progress or is idle",
               s->wd_interval);
    cg_notify_status("connecting to the broker");
}

void gw__service_connected(struct gw *g)
{
    if (!atomic_exchange(&g->svc.subscribed, true))
        cg_loop_wake(g->loop); /* READY goes out from the loop thread */
}

static void wedge(void)
{
    for (;;)
        sleep(3600);
}

void gw__service_begin(struct gw *g)
{
    struct gw_service *s = &g->svc;
    atomic_store(&s->busy_since_ns, mono_ns());
    unsigned long long n = atomic_fetch_add(&s->begun, 1) + 1;
    if (s->wedge_after && n == s->wedge_after)
        wedge();
}

void gw__service_end(struct gw *g)
{
    atomic_store(&g->svc.busy_since_ns, 0);
    atomic_fetch_add(&g->svc.done, 1);
}

void gw__service_check(struct gw *g)
{
    struct gw_service *s = &g->svc;
    char line[512];
    double now = cg_time_mono();
    if (!s->ready && atomic_load(&s->subscribed)) {
        s->ready = true;
        s->next_status = now + STATUS_EVERY_S;
        gw__status_line(g, line, sizeof(line));
        cg_notify_ready(line);
    } else if (s->ready && now >= s->next_status) {
        s->next_status = now + STATUS_EVERY_S;
        gw__status_line(g, line, sizeof(line));
        cg_notify_status(line);
    }
}

/* Progress since the last ping: a message finished, or none has been in
 * the pipeline for longer than a ping interval. */
static bool progressing(struct gw_service *s, double *stuck_s)
{
    unsigned long long done = atomic_load(&s->done);
    unsigned long long since = atomic_load(&s->busy_since_ns);
    bool moved = done != s->wd_done;
    s->wd_done = done;
    *stuck_s = since ? (double)(mono_ns() - since) / 1e9 : 0;
    return moved || *stuck_s < s->wd_interval;
}

double gw__service_timers(struct gw *g, double now)
{
    struct gw_service *s = &g->svc;
    double stuck_s;
    if (s->wd_interval <= 0)
        return 0;
    if (now < s->wd_next)
        return s->wd_next;
    s->wd_next = now + s->wd_interval;
    if (progressing(s, &stuck_s)) {
        cg_notify_watchdog();
        if (s->wd_held)
            cg_log(CG_LOG_INFO, "watchdog: the pipeline moves again");
        s->wd_held = false;
    } else if (!s->wd_held) {
        s->wd_held = true;
        cg_log(CG_LOG_ERROR,
               "watchdog: the pipeline has been on one message for %.1f s; "
               "no more pings, so systemd restarts the service",
               stuck_s);
    }
    return s->wd_next;
}
