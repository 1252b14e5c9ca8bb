/*
 * A stable hash for event ids and hash(), and time in the formats events
 * carry. The hash must never change between versions: consumers drop
 * duplicates by id across gateway restarts and upgrades.
 */
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base.h"

uint64_t cg_hash64(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL; /* the FNV-1a 64-bit prime */
    }
    return h;
}

/* The splitmix64 finalizer: spreads every input bit over the output, which
 * plain FNV does poorly for short inputs. */
uint64_t cg_hash_mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

void cg_hex64(uint64_t h, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[h & 15];
        h >>= 4;
    }
    out[16] = '\0';
}

double cg_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cg_time_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cg_time_deadline(struct timespec *ts, double seconds)
{
    clock_gettime(CLOCK_REALTIME, ts);
    double whole = (double)(long)seconds;
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian), the
 * inverse of days_from_civil below. */
static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *two(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Every event carries two of these: written by hand, without printf or
 * gmtime_r (which takes a lock). */
void cg_time_format(double epoch_s, char out[32])
{
    double whole = floor(epoch_s);
    long ms = lround((epoch_s - whole) * 1000.0);
    long long t = (long long)whole + (ms >= 1000);
    ms %= 1000;
    long days = (long)(t >= 0 ? t / 86400 : (t - 86399) / 86400);
    long secs = (long)(t - (long long)days * 86400);
    int y, mo, d;
    civil_from_days(days, &y, &mo, &d);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    char *p = two(two(out, y / 100), y % 100);
    *p++ = '-';
    p = two(p, mo);
    *p++ = '-';
    p = two(p, d);
    *p++ = 'T';
    p = two(p, (int)(secs / 3600));
    *p++ = ':';
    p = two(p, (int)(secs / 60 % 60));
    *p++ = ':';
    p = two(p, (int)(secs % 60));
    *p++ = '.';
    p[0] = (char)('0' + ms / 100);
    p = two(p + 1, (int)(ms % 100));
    *p++ = 'Z';
    *p = '\0';
}

/* Reads exactly `width` digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, int width, int *out)
{
    int v = 0;
    for (int k = 0; k < width; k++, (*i)++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return 0;
}

static int expect(const char *s, size_t n, size_t *i, const char *any)
{
    if (*i >= n || !strchr(any, s[*i]))
        return -1;
    (*i)++;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The days of month m (1 to 12) of year y, leap years counted: so that
 * February 30 is refused rather than rolled into March. */
static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

static int parse_offset(const char *s, size_t n, size_t *i, int *offset_s)
{
    if (*i < n && (s[*i] == 'Z' || s[*i] == 'z')) {
        (*i)++;
        *offset_s = 0;
        return 0;
    }
    int sign = *i < n && s[*i] == '-' ? -1 : 1;
    int oh, om;
    if (expect(s, n, i, "+-") || digits(s, n, i, 2, &oh) ||
        expect(s, n, i, ":") || digits(s, n, i, 2, &om) || oh > 23 || om > 59)
        return -1;
    *offset_s = sign * (oh * 3600 + om * 60);
    return 0;
}

int cg_time_parse(const char *s, size_t n, double *epoch_s)
{
    size_t i = 0;
    int y, mo, d, h, mi, sec, off;
    if (digits(s, n, &i, 4, &y) || expect(s, n, &i, "-") ||
        digits(s, n, &i, 2, &mo) || expect(s, n, &i, "-") ||
        digits(s, n, &i, 2, &d) || expect(s, n, &i, "Tt ") ||
        digits(s, n, &i, 2, &h) || expect(s, n, &i, ":") ||
        digits(s, n, &i, 2, &mi) || expect(s, n, &i, ":") ||
        digits(s, n, &i, 2, &sec))
        return CG_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 60)
        return CG_EINVAL;
    double frac = 0, scale = 0.1;
    if (i < n && s[i] == '.') {
        if (++i >= n || s[i] < '0' || s[i] > '9')
            return CG_EINVAL;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += (s[i] - '0') * scale;
    }
    if (parse_offset(s, n, &i, &off) || i != n)
        return CG_EINVAL;
    double days = (double)days_from_civil(y, mo, d);
    *epoch_s = days * 86400.0 + h * 3600 + mi * 60 + sec - off + frac;
    return CG_OK;
}

void cg_time_set_zone(const char *zone)
{
    setenv("TZ", zone && *zone ? zone : "UTC", 1);
    tzset();
}
