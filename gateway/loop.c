/*
 * The loop thread: a poll() loop that waits for signals (delivered through
 * a self-pipe, so handlers only write a byte) and for wake-ups from other
 * threads (an eventfd), and runs its timers: the rule-file watch and the
 * backpressure check every second, a traffic summary every minute.
 *
 * Each pass: handle signals, then wake-ups, run due timers, compute the
 * next timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

#define WATCH_EVERY_S 1.0
#define STATS_EVERY_S 60.0

static int sig_pipe[2] = {-1, -1};
static int wake_fd = -1; /* an eventfd: wake-ups from other threads merge */

static void on_signal(int signo)
{
    int saved = errno; /* the handler must not disturb the code it broke */
    unsigned char b = (unsigned char)signo;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* the pipe is full: a signal is already pending */
    }
    errno = saved;
}

void loop__wake(void)
{
    uint64_t one = 1;
    if (wake_fd >= 0 && write(wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: a wake-up is pending anyway */
    }
}

static int install_signals(void)
{
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0 || pipe(sig_pipe) < 0)
        return CG_EIO;
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
    return CG_OK;
}

/* Returns false when the gateway should stop. */
static bool handle_signals(struct gw *g)
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
        gw__reload(g, "SIGHUP");
    return keep;
}

static void watch_files(struct gw *g)
{
    uint64_t fp = cg_config_fingerprint(g->gen.cfg);
    if (fp == g->fingerprint)
        return;
    g->fingerprint = fp; /* a failed reload is not retried until the next
                            change */
    gw__reload(g, "a config or rule file changed");
}

int loop__run(struct gw *g)
{
    if (install_signals() != CG_OK)
        return CG_EIO;
    double next_watch = cg_time_mono() + WATCH_EVERY_S;
    double next_stats = cg_time_mono() + STATS_EVERY_S;
    for (;;) {
        double now = cg_time_mono();
        double due = next_watch < next_stats ? next_watch : next_stats;
        int timeout = due > now ? (int)((due - now) * 1000.0) + 1 : 0;
        struct pollfd pfd[2] = {{sig_pipe[0], POLLIN, 0}, {wake_fd, POLLIN, 0}};
        int rc = poll(pfd, 2, timeout);
        if (rc > 0 && pfd[0].revents && !handle_signals(g))
            break;
        if (rc > 0 && pfd[1].revents) {
            uint64_t n;
            if (read(wake_fd, &n, sizeof(n)) > 0)
                gw__check_backpressure(g);
        }
        now = cg_time_mono();
        if (now >= next_watch) {
            watch_files(g);
            gw__check_backpressure(g);
            next_watch = now + WATCH_EVERY_S;
        }
        if (now >= next_stats) {
            gw__log_stats(g);
            next_stats = now + STATS_EVERY_S;
        }
    }
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    int fd = wake_fd;
    wake_fd = -1;
    close(fd);
    return CG_OK;
}
