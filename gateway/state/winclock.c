/*
 * Window alignment on the local clock (SPEC §13), through localtime_r's
 * UTC offset (tm_gmtoff) in the zone that TZ names.
 *
 * With offset o at time t, the local clock reads L = t + o; the window
 * index is k = floor(L / every), and the window is where k holds. Without
 * a change of offset that is [k*every - o, (k+1)*every - o). A daylight
 * saving change inside it moves one bound: the change happens at T (found
 * by bisection, to the second: zones change on whole seconds), and the
 * window ends (or starts) at T when the clock jumps out of window k there,
 * or returns exactly to its start (the repeated hour of autumn is then a
 * window of its own); otherwise the bound is the aligned time read with
 * the offset on its side of T. One change per window is assumed: zones
 * change their offset at most a few times a year and every is at most a
 * day.
 */
#include <time.h>

#include "internal.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The zone's UTC offset at time ms, in ms. */
static int64_t offset_at(int64_t ms)
{
    time_t s = (time_t)floor_div(ms, 1000);
    struct tm tm;
    if (!localtime_r(&s, &tm))
        return 0;
    return (int64_t)tm.tm_gmtoff * 1000;
}

/* The first whole second in (lo, hi] whose offset is hi's, given that
 * lo's differs. */
static int64_t change_between(int64_t lo, int64_t hi)
{
    int64_t want = offset_at(hi);
    int64_t a = floor_div(lo, 1000), b = floor_div(hi, 1000) + 1;
    while (b - a > 1) {
        int64_t mid = a + (b - a) / 2;
        if (offset_at(mid * 1000) == want)
            b = mid;
        else
            a = mid;
    }
    return b * 1000;
}

/* Does the window of index k end (or start) at the change T? Yes when
 * the clock leaves k there, or comes back to k's start. */
static bool cut_at(int64_t T, int64_t before, int64_t after, int64_t k,
                   int64_t every)
{
    int64_t was = T - 1 + before, is = T + after;
    return floor_div(was, every) != floor_div(is, every) || is == k * every;
}

void cg_state_window_bounds(int64_t t, int64_t every, int64_t *start,
                            int64_t *end)
{
    int64_t off = offset_at(t);
    int64_t k = floor_div(t + off, every);
    int64_t s = k * every - off, e = (k + 1) * every - off;
    int64_t off_s = offset_at(s), off_e = offset_at(e);
    if (off_s != off) { /* a change in (s, t] */
        int64_t T = change_between(s, t);
        s = cut_at(T, off_s, off, k, every) ? T : k * every - off_s;
    }
    if (off_e != off) { /* a change in (t, e] */
        int64_t T = change_between(t, e);
        e = cut_at(T, off, off_e, k, every) ? T : (k + 1) * every - off_e;
    }
    *start = s;
    *end = e;
}
