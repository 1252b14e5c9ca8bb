/*
 * citygate-sim: how readings drift, and the small formatting helpers every
 * vendor generator shares.
 *
 * Each metric of a device follows a mean-reverting random walk: a step
 * closes part of the gap to the device's target and adds Gaussian noise.
 * That gives smooth, plausible series (a river does not jump a metre
 * between two uplinks) while staying near a typical level. A rare, short
 * "excursion" pulls one metric to its alert level, which is what makes
 * rules fire now and then in a normal day. All randomness comes from one
 * seeded stream consumed in message order, so a seed replays a run.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim.h"

/* Chance per message that a device without an excursion starts one; with
 * excursions of 3-7 messages and the time a metric takes to come back, a
 * few per cent of normal traffic crosses a rule's threshold. */
#define SIM_EXCURSION_P 0.008

/* The example city is a Chinese one: local time is UTC+8 all year. */
#define SIM_UTC_OFFSET_S (8 * 3600)

const struct sim_district sim__districts[] = {
    {"haidian", "Haidian", "HD", "Zhongguancun St", "Wudaokou"},
    {"chaoyang", "Chaoyang", "CY", "Jianguo Rd", "Sanlitun"},
    {"dongcheng", "Dongcheng", "DC", "Wangfujing St", "Dongsi"},
    {"xicheng", "Xicheng", "XC", "Xidan North St", "Financial Street"},
    {"fengtai", "Fengtai", "FT", "Lize Rd", "Lize Park"},
    {"shijingshan", "Shijingshan", "SJ", "Shijingshan Rd", "Bajiao"},
    {"tongzhou", "Tongzhou", "TZ", "Xinhua St", "Canal Park"},
    {"shunyi", "Shunyi", "SY", "Fuqian St", "Houshayu"},
};
const size_t sim__district_count =
    sizeof(sim__districts) / sizeof(sim__districts[0]);

static const char *const scenario_names[SIM_SCENARIO_COUNT] = {
    "normal", "smog", "flood", "heatwave", "incident", "malformed",
};

int sim__scenario_parse(const char *name)
{
    for (int i = 0; i < SIM_SCENARIO_COUNT; i++)
        if (strcmp(name, scenario_names[i]) == 0)
            return i;
    return -1;
}

const char *sim__scenario_name(int scenario)
{
    return scenario_names[scenario];
}

/* ---- random numbers -------------------------------------------------- */

uint64_t sim__rng_next(struct sim_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double sim__rng_unit(struct sim_rng *r)
{
    return (double)(sim__rng_next(r) >> 11) / 9007199254740992.0;
}

double sim__rng_gauss(struct sim_rng *r)
{
    /* Box-Muller; 1 - u keeps the logarithm's argument above zero. */
    double u = 1.0 - sim__rng_unit(r);
    double v = sim__rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

int sim__rng_below(struct sim_rng *r, int n)
{
    return (int)(sim__rng_next(r) % (uint64_t)n);
}

/* ---- devices --------------------------------------------------------- */

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static int is_probability(const struct sim_metric *m)
{
    size_t n = strlen(m->name);
    return n > 2 && strcmp(m->name + n - 2, "_p") == 0;
}

void sim__device_init(struct sim_device *d, const struct sim_vendor *v,
                      int index, int scenario, struct sim_rng *rng)
{
    memset(d, 0, sizeof(*d));
    d->vendor = v;
    d->index = index;
    d->scenario = scenario;
    d->district = &sim__districts[(size_t)index % sim__district_count];
    d->rng = rng;
    for (int m = 0; m < v->n_metrics; m++) {
        const struct sim_metric *mt = &v->metrics[m];
        double offset = mt->spread * sim__rng_gauss(rng);
        double pushed = sim__scenario_target(v, m, scenario);
        /* Start at the everyday level so a scenario visibly develops. */
        d->value[m] = clamp(mt->mean + offset, mt->lo, mt->hi);
        d->target[m] = isnan(pushed) ? mt->mean + offset : pushed + offset;
    }
}

/* Ends a running excursion or, rarely, starts one on a metric that has an
 * alert level. */
static void update_excursion(struct sim_device *d)
{
    const struct sim_vendor *v = d->vendor;
    if (d->excursion_left > 0) {
        d->excursion_left--;
        return;
    }
    if (sim__rng_unit(d->rng) >= SIM_EXCURSION_P)
        return;
    int candidates[SIM_MAX_METRICS], n = 0;
    for (int m = 0; m < v->n_metrics; m++)
        if (!isnan(v->metrics[m].alert))
            candidates[n++] = m;
    if (n == 0)
        return;
    d->excursion_metric = candidates[sim__rng_below(d->rng, n)];
    d->excursion_left = 3 + sim__rng_below(d->rng, 5);
}

void sim__device_step(struct sim_device *d)
{
    const struct sim_vendor *v = d->vendor;
    d->seq++;
    update_excursion(d);
    for (int m = 0; m < v->n_metrics; m++) {
        const struct sim_metric *mt = &v->metrics[m];
        double target = d->target[m], revert = mt->revert;
        if (d->excursion_left > 0 && m == d->excursion_metric) {
            target = mt->alert;
            revert = revert > 0.5 ? revert : 0.5;
        }
        if (is_probability(mt)) {
            d->value[m] = target;
            continue;
        }
        double x = d->value[m];
        x += revert * (target - x) + mt->noise * sim__rng_gauss(d->rng);
        d->value[m] = clamp(x, mt->lo, mt->hi);
    }
}

int sim__chance(struct sim_device *d, int m)
{
    return sim__rng_unit(d->rng) < d->value[m];
}

/* ---- formatting ------------------------------------------------------ */

void sim__rfc3339(double t, int utc_offset_min, char *out, size_t n)
{
    time_t secs = (time_t)floor(t) + (time_t)utc_offset_min * 60;
    struct tm tm;
    char date[32];
    gmtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    if (utc_offset_min == 0) {
        snprintf(out, n, "%sZ", date);
        return;
    }
    int a = utc_offset_min < 0 ? -utc_offset_min : utc_offset_min;
    snprintf(out, n, "%s%c%02d:%02d", date, utc_offset_min < 0 ? '-' : '+',
             a / 60, a % 60);
}

static struct tm local_tm(double t)
{
    time_t secs = (time_t)floor(t) + SIM_UTC_OFFSET_S;
    struct tm tm;
    gmtime_r(&secs, &tm);
    return tm;
}

int sim__local_hour(double t)
{
    return local_tm(t).tm_hour;
}

int sim__local_month(double t)
{
    return local_tm(t).tm_mon + 1;
}

int sim__topic(struct sim_msg *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->topic, sizeof(m->topic), fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof(m->topic) ? -1 : 0;
}

/* Cayenne LPP layout of the types the vendors use: data bytes and the
 * value of one step. Multi-byte values are big-endian and signed. */
static const struct {
    int type, size;
    double step;
} lpp_types[] = {
    {SIM_LPP_DIGITAL_IN, 1, 1},
    {SIM_LPP_ANALOG_IN, 2, 0.01},
    {SIM_LPP_PRESENCE, 1, 1},
    {SIM_LPP_TEMPERATURE, 2, 0.1},
};

size_t sim__lpp_put(uint8_t *frame, size_t len, int channel, int type,
                    double value)
{
    for (size_t i = 0; i < sizeof(lpp_types) / sizeof(lpp_types[0]); i++) {
        if (lpp_types[i].type != type)
            continue;
        long raw = lround(value / lpp_types[i].step);
        long max = lpp_types[i].size == 1 ? 255 : 32767;
        long min = lpp_types[i].size == 1 ? 0 : -32768;
        raw = raw < min ? min : raw > max ? max : raw;
        frame[len++] = (uint8_t)channel;
        frame[len++] = (uint8_t)type;
        if (lpp_types[i].size == 2)
            frame[len++] = (uint8_t)(((unsigned long)raw >> 8) & 0xff);
        frame[len++] = (uint8_t)((unsigned long)raw & 0xff);
        return len;
    }
    return len; /* an unknown type is a programming error: add it above */
}
