/*
 * Telling systemd how the service is doing (sd_notify(3)): READY once
 * intake is subscribed, a STATUS line, RELOADING around a reload,
 * STOPPING at shutdown, and WATCHDOG pings. A thin wrapper over
 * libsystemd, so the gateway states what happened and this file knows
 * the protocol.
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd, or a
 * unit without Type=notify) every call is a no-op, and the watchdog
 * interval is 0.
 *
 * Threads: the loop thread only (the notifications go out in the order
 * the loop decides on them).
 */
#ifndef CG_NOTIFY_H
#define CG_NOTIFY_H

/* Startup is complete. status: a STATUS line to go with it, or NULL. */
void cg_notify_ready(const char *status);
/* Replaces the status line `systemctl status` shows. */
void cg_notify_status(const char *status);
/* A reload starts (RELOADING=1) or is over (READY=1). */
void cg_notify_reloading(void);
void cg_notify_reloaded(void);
/* Shutdown starts. */
void cg_notify_stopping(void);
/* How often to ping the watchdog, in seconds: half of WATCHDOG_USEC when
 * the watchdog is on for this process (WATCHDOG_PID, when set, must be
 * ours), else 0. */
double cg_notify_watchdog_interval(void);
/* One watchdog ping. */
void cg_notify_watchdog(void);

#endif
