/*
 * The loop thread's event loop: a poll() loop that waits for signals
 * (delivered through a self-pipe, so handlers only write a byte), for
 * wake-ups from other threads (an eventfd: wake-ups merge, like
 * uv_async_send) and for its timers. It knows nothing of the gateway: it
 * calls the handlers it is given.
 *
 * Each pass runs fixed phases: signals, wake-ups, the timers that are due,
 * then it computes the next timeout.
 */
#ifndef CG_LOOP_H
#define CG_LOOP_H

struct cg_loop;

struct cg_loop_handlers {
    /* SIGHUP. */
    void (*reload)(void *user);
    /* Another thread called cg_loop_wake (merged). */
    void (*wake)(void *user);
    /* About once a second. */
    void (*tick)(void *user);
    /* About once a minute. */
    void (*minute)(void *user);
    /* Runs what is due at monotonic time now and returns when it next
     * wants to run (monotonic seconds), or 0 for nothing planned. May be
     * NULL. */
    double (*timers)(void *user, double now);
    void *user;
};

/* Creates the loop and installs handlers for SIGINT, SIGTERM and SIGHUP
 * (SIGPIPE is ignored). One loop per process. CG_OK or CG_EIO. */
int cg_loop_new(struct cg_loop **out);
/* Runs until SIGINT or SIGTERM. Returns CG_OK. */
int cg_loop_run(struct cg_loop *l, const struct cg_loop_handlers *h);
/* Wakes the loop from any thread (async-signal-safe). */
void cg_loop_wake(struct cg_loop *l);
void cg_loop_free(struct cg_loop *l);

#endif
