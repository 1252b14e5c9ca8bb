/*
 * sd_notify through libsystemd (notify.h). libsystemd does the socket
 * work (abstract and path sockets, credentials) and returns 0 without a
 * NOTIFY_SOCKET, which is what makes every call here a no-op outside
 * systemd. A failed notification is not worth stopping a gateway for:
 * systemd notices a missing READY or WATCHDOG on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "notify.h"

static void send_state(const char *state)
{
    (void)sd_notify(0, state);
}

void cg_notify_ready(const char *status)
{
    if (status)
        (void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
    else
        send_state("READY=1");
}

void cg_notify_status(const char *status)
{
    (void)sd_notifyf(0, "STATUS=%s", status);
}

/* systemd 253 and later want the time of the reload request with
 * RELOADING=1 (for Type=notify-reload); older ones ignore it. */
void cg_notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long usec =
        (unsigned long long)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
    (void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
}

void cg_notify_reloaded(void)
{
    send_state("READY=1");
}

void cg_notify_stopping(void)
{
    send_state("STOPPING=1");
}

double cg_notify_watchdog_interval(void)
{
    uint64_t usec = 0;
    if (!getenv("NOTIFY_SOCKET"))
        return 0; /* nobody to ping */
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    return (double)usec / 2e6;
}

void cg_notify_watchdog(void)
{
    send_state("WATCHDOG=1");
}
