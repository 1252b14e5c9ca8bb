/*
 * The loop thread (loop.h): poll() over a signal self-pipe and a wake-up
 * eventfd, with a one-second tick, a one-minute tick and the caller's
 * timers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base.h"
#include "log.h"
#include "loop.h"

#define TICK_S   1.0
#define MINUTE_S 60.0

struct cg_loop {
    int wake_fd; /* an eventfd: wake-ups from other threads merge */
};

static int sig_pipe[2] = {-1, -1};

static void on_signal(int signo)
{
    int saved = errno; /* the handler must not disturb the code it broke */
    unsigned char b = (unsigned char)signo;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* the pipe is full: a signal is already pending */
    }
    errno = saved;
}

void cg_loop_wake(struct cg_loop *l)
{
    uint64_t one = 1;
    if (l && write(l->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: a wake-up is pending anyway */
    }
}

int cg_loop_new(struct cg_loop **out)
{
    *out = NULL;
    struct cg_loop *l = cg_calloc(1, sizeof(*l));
    if (!l)
        return CG_ENOMEM;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0 || pipe(sig_pipe) < 0) {
        cg_loop_free(l);
        return CG_EIO;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFL, O_NONBLOCK);
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    *out = l;
    return CG_OK;
}

void cg_loop_free(struct cg_loop *l)
{
    if (!l)
        return;
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    for (int i = 0; i < 2; i++)
        if (sig_pipe[i] >= 0)
            close(sig_pipe[i]);
    sig_pipe[0] = sig_pipe[1] = -1;
    cg_free(l);
}

/* Returns false when the gateway should stop. */
static bool handle_signals(const struct cg_loop_handlers *h)
{
    unsigned char b[16];
    ssize_t n;
    bool keep = true, reload = false;
    while ((n = read(sig_pipe[0], b, sizeof(b))) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (b[i] == SIGHUP)
                reload = true;
            else
                keep = false;
        }
    if (!keep)
        cg_log(CG_LOG_INFO, "stopping: draining in-flight work");
    else if (reload)
        h->reload(h->user);
    return keep;
}

static double earliest(double a, double b)
{
    return b > 0 && b < a ? b : a;
}

int cg_loop_run(struct cg_loop *l, const struct cg_loop_handlers *h)
{
    double now = cg_time_mono();
    double next_tick = now + TICK_S, next_minute = now + MINUTE_S;
    double next_timer = h->timers ? h->timers(h->user, now) : 0;
    for (;;) {
        double due = earliest(earliest(next_tick, next_minute), next_timer);
        int timeout = due > now ? (int)((due - now) * 1000.0) + 1 : 0;
        struct pollfd pfd[2] = {{sig_pipe[0], POLLIN, 0},
                                {l->wake_fd, POLLIN, 0}};
        int rc = poll(pfd, 2, timeout);
        if (rc > 0 && pfd[0].revents && !handle_signals(h))
            break;
        uint64_t n;
        if (rc > 0 && pfd[1].revents && read(l->wake_fd, &n, sizeof(n)) > 0)
            h->wake(h->user);
        now = cg_time_mono();
        if (now >= next_tick) {
            h->tick(h->user);
            next_tick = now + TICK_S;
        }
        if (now >= next_minute) {
            h->minute(h->user);
            next_minute = now + MINUTE_S;
        }
        if (h->timers && (next_timer == 0 || now >= next_timer || rc > 0))
            next_timer = h->timers(h->user, now);
    }
    return CG_OK;
}
