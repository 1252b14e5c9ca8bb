/*
 * citygate-sim: the vendors whose devices serve people directly - guardian
 * smoke/CO detectors and panic buttons, vitalband wearables and mediboard
 * clinic boards (JSON), bms-link building systems (CSV), civicq service
 * halls and kiosks (JSON) and classmate classroom sensors (key=value).
 *
 * Each generator writes exactly the payload and topic layout the vendor's
 * entry in config/citygate.yaml decodes; the alert levels follow the
 * thresholds in config/rules/public-safety.yaml, health.yaml,
 * building.yaml, government.yaml and education.yaml. Names of people are
 * never generated: owners and wearers are opaque ids, as the vendors send.
 */
#include <math.h>
#include <string.h>

#include "sim.h"

/* Beijing local time, as the guardian, mediboard and civicq systems send. */
#define LOCAL_OFFSET_MIN (8 * 60)

/* ---- guardian: smoke and CO detectors, panic buttons, JSON ------------ */

enum { GD_SMOKE, GD_CO, GD_BATTERY, GD_PANIC };

/* Smoke in %/ft obscuration (UL 268 window 0.5-4), CO in ppm (UL 2034
 * alarm points 70/150/400), battery in % (low at 20). */
/* clang-format off */
static const struct sim_metric guardian_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"obscuration",  0.15,  0.05,  0.04, 0.35,  0,    15,   4.4},
    {"co_ppm",       2,     1.5,   1.2,  0.35,  0,    1000, 95},
    {"battery_pct",  78,    12,    0.05, 0.10,  1,    100,  14},
    {"panic_p",      0.003, 0,     0,    1,     0,    1,    NAN},
};
/* clang-format on */

/* Homes for the elderly and public buildings with a guardian hub. */
static const struct {
    const char *site, *hub;
} guardian_sites[] = {
    {"Sunshine Elderly Home", "SUNSHINE"},
    {"Evergreen Care Home", "EVERGREEN"},
    {"Harmony Senior Apartments", "HARMONY"},
    {"Riverside Community Centre", "RIVERSIDE"},
};

/* Writes the fields only one product sends, then names the product. */
static const char *guardian_product(struct sim_device *d, struct cg_buf *p)
{
    const double *x = d->value;
    switch (d->index % 3) {
    case 0: /* the detector's own alarm point is 2.5 %/ft */
        cg_buf_printf(p,
                      "\"alarm\":%s,\"obscuration_pct_ft\":%.1f,"
                      "\"co_ppm\":0,",
                      x[GD_SMOKE] >= 2.5 ? "true" : "false", x[GD_SMOKE]);
        return "smoke";
    case 1:
        cg_buf_printf(p, "\"alarm\":%s,\"co_ppm\":%.0f,",
                      x[GD_CO] >= 150 ? "true" : "false", x[GD_CO]);
        return "co";
    default:
        cg_buf_printf(p, "\"alarm\":%s,",
                      sim__chance(d, GD_PANIC) ? "true" : "false");
        return "panic";
    }
}

static int gen_guardian(struct sim_device *d, struct sim_msg *m)
{
    static const char *const id_prefix[] = {"SMK", "CO", "PB"};
    static const int id_base[] = {2201, 907, 311};
    int kind = d->index % 3, home = d->index / 3 % SIM_N_OF(guardian_sites);
    /* A hub and its three devices sit in one district. */
    const struct sim_district *where =
        &sim__districts[(size_t)(d->index / 3) % sim__district_count];
    char ts[40];
    sim__rfc3339(d->now, LOCAL_OFFSET_MIN, ts, sizeof(ts));
    cg_buf_printf(&m->payload, "{\"id\":\"GD-%s-%04d\",", id_prefix[kind],
                  id_base[kind] + d->index);
    const char *product = guardian_product(d, &m->payload);
    /* Older hubs (every fourth) send the district capitalised. */
    cg_buf_printf(&m->payload,
                  "\"battery_pct\":%.0f,\"site\":\"%s, Rm %d\","
                  "\"district\":\"%s\",\"owner_id\":\"OWN-%05d\","
                  "\"ts\":\"%s\"}",
                  d->value[GD_BATTERY], guardian_sites[home].site,
                  101 + d->index % 3 * 100 + d->index / 3 % 20,
                  d->index / 3 % 4 == 1 ? where->title : where->name,
                  55801 + d->index, ts);
    return sim__topic(m, "vendors/guardian/%s/HUB-%s-%02d/event", product,
                      guardian_sites[home].hub,
                      1 + d->index / (3 * SIM_N_OF(guardian_sites)));
}

const struct sim_vendor sim__vendor_guardian = {
    .name = "guardian",
    .format = "json",
    .metrics = guardian_metrics,
    .n_metrics = SIM_N_OF(guardian_metrics),
    .gen = gen_guardian,
};

/* ---- vitalband: wearable health bands, JSON, epoch ms ----------------- */

enum { VB_HR, VB_SPO2, VB_FALL };

/* Resting heart rate and SpO2; alert levels: > 120 bpm at rest and SpO2
 * under the 94 % target. */
/* clang-format off */
static const struct sim_metric vitalband_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"hr_bpm",       70,    7,     2.5,  0.25,  30,   200,  132},
    {"spo2_pct",     97,    0.8,   0.4,  0.30,  70,   100,  91.5},
    {"fall_p",       0.002, 0,     0,    1,     0,    1,    NAN},
};
/* clang-format on */

/* Asleep at night; by day resting, walking or exercising, which moves the
 * heart rate. Band firmware says "rest"/"sleep" or "resting"/"sleeping". */
static const char *wearer_activity(struct sim_device *d, double *hr_extra)
{
    static const double extra[] = {0, 22, 55};
    int hour = sim__local_hour(d->now), verbose = d->index % 2;
    if (hour >= 22 || hour < 6) {
        *hr_extra = -8;
        return verbose ? "sleeping" : "sleep";
    }
    if (d->seq == 1 || sim__rng_unit(d->rng) < 0.25) {
        double u = sim__rng_unit(d->rng);
        d->state = u < 0.6 ? 0 : u < 0.9 ? 1 : 2;
    }
    *hr_extra = extra[d->state];
    if (d->state == 0)
        return verbose ? "resting" : "rest";
    return d->state == 1 ? "walk" : "exercise";
}

static int gen_vitalband(struct sim_device *d, struct sim_msg *m)
{
    double hr_extra;
    const char *activity = wearer_activity(d, &hr_extra);
    cg_buf_printf(&m->payload,
                  "{\"wearer_id\":\"P-%05d\",\"hr_bpm\":%.0f,"
                  "\"spo2_pct\":%.0f,\"activity\":\"%s\",\"fall\":%s,"
                  "\"district\":\"%s\",\"ts\":%.0f}",
                  20931 + d->index, fmax(25, d->value[VB_HR] + hr_extra),
                  d->value[VB_SPO2], activity,
                  sim__chance(d, VB_FALL) ? "true" : "false", d->district->name,
                  floor(d->now * 1000));
    return sim__topic(m, "vendors/vitalband/band/VB-%04d/vitals",
                      193 + d->index);
}

const struct sim_vendor sim__vendor_vitalband = {
    .name = "vitalband",
    .format = "json",
    .metrics = vitalband_metrics,
    .n_metrics = SIM_N_OF(vitalband_metrics),
    .gen = gen_vitalband,
};

/* ---- mediboard: clinic capacity boards, JSON -------------------------- */

enum { MB_OCC, MB_WAIT };

/* Bed occupancy share; above 85 % shortages become regular (BMJ 1999). */
/* clang-format off */
static const struct sim_metric mediboard_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"bed_occupancy", 0.68, 0.07,  0.025, 0.10, 0,    1,    0.94},
    {"er_wait_min",  18,    5,     2,    0.15,  0,    300,  NAN},
};
/* clang-format on */

static int gen_mediboard(struct sim_device *d, struct sim_msg *m)
{
    static const int beds[] = {40, 30, 24, 50, 36, 28, 0};
    int total = beds[d->index % SIM_N_OF(beds)];
    int taken = (int)lround(d->value[MB_OCC] * total);
    /* A full clinic makes its emergency room wait longer too. */
    double wait = d->value[MB_WAIT] + fmax(0, d->value[MB_OCC] - 0.8) * 150;
    char ts[40];
    sim__rfc3339(d->now, LOCAL_OFFSET_MIN, ts, sizeof(ts));
    /* The bedless ones are outpatient-only health stations. */
    cg_buf_printf(&m->payload,
                  "{\"clinic_id\":\"CHC-%s-%02d\",\"name\":\"%s Community "
                  "Health %s %d\",\"district\":\"%s\",\"beds_total\":%d,"
                  "\"beds_free\":%d,\"er_wait_min\":%.0f,\"updated\":\"%s\"}",
                  d->district->code, 1 + d->index, d->district->title,
                  total ? "Centre" : "Station", 1 + d->index, d->district->name,
                  total, total - taken, wait, ts);
    return sim__topic(m, "vendors/mediboard/clinic/board-%02d/capacity",
                      1 + d->index);
}

const struct sim_vendor sim__vendor_mediboard = {
    .name = "mediboard",
    .format = "json",
    .metrics = mediboard_metrics,
    .n_metrics = SIM_N_OF(mediboard_metrics),
    .gen = gen_mediboard,
};

/* ---- bms-link: air-handling units of public buildings, CSV ------------ */

enum { BM_CO2, BM_TEMP_F, BM_RH, BM_PEOPLE, BM_DEMAND };

/* CO2 in ppm (GB/T 18883: 1000), zone temperature in °F (EN 16798-1 cat.
 * II: 20-26 °C is 68-78.8 °F), demand as a share of the contracted
 * maximum (double rate above 105 %). */
/* clang-format off */
static const struct sim_metric bms_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"co2_ppm",      760,   60,    25,   0.15,  400,  4000, 1250},
    {"temp_f",       72,    0.8,   0.25, 0.20,  45,   105,  80.8},
    {"rh_pct",       45,    5,     1,    0.10,  10,   95,   NAN},
    {"occupancy",    60,    20,    4,    0.20,  0,    400,  NAN},
    {"demand",       0.74,  0.05,  0.015, 0.15, 0.05, 1.4,  0.96},
};
/* clang-format on */

static const struct {
    const char *name;
    int contract_kw;
} buildings[] = {
    {"City Hall, Tower A", 500}, /* a comma: the cell goes in quotes */
    {"City Hall, Tower B", 350},
    {"Municipal Library", 250},
    {"Citizen Service Centre", 800},
};

/* Heating in winter, cooling in summer (and in any heatwave), fans alone
 * in between; off at night, when only the night staff remain. */
static const char *bms_mode(const struct sim_device *d, int *night)
{
    int month = sim__local_month(d->now), hour = sim__local_hour(d->now);
    *night = hour >= 21 || hour < 7;
    if (*night)
        return "off";
    if (d->scenario == SIM_HEATWAVE || (month >= 5 && month <= 9))
        return "cooling";
    return month >= 11 || month <= 3 ? "heating" : "ventilation";
}

static int gen_bms_link(struct sim_device *d, struct sim_msg *m)
{
    const double *x = d->value;
    int b = d->index / 4 % SIM_N_OF(buildings), night;
    const struct sim_district *where = &sim__districts[b];
    const char *mode = bms_mode(d, &night);
    double people = round(x[BM_PEOPLE] * (night ? 0.05 : 1));
    /* The demand is the whole building's, the same from each of its units;
     * the building, not the unit's number, decides the district. */
    cg_buf_printf(
        &m->payload, "%.0f,\"%s\",%dF-%s,%s,%.0f,%.1f,%.0f,%.0f,%.1f,%d,%s",
        floor(d->now), buildings[b].name, 1 + d->index % 4,
        d->index / 16 % 2 ? "West" : "East", where->name, x[BM_CO2],
        x[BM_TEMP_F], x[BM_RH], people, x[BM_DEMAND] * buildings[b].contract_kw,
        buildings[b].contract_kw, mode);
    return sim__topic(m, "vendors/bms-link/ahu/AHU-%s-%03d/telemetry",
                      where->code, 1 + d->index);
}

const struct sim_vendor sim__vendor_bms_link = {
    .name = "bms-link",
    .format = "csv",
    .metrics = bms_metrics,
    .n_metrics = SIM_N_OF(bms_metrics),
    .gen = gen_bms_link,
};

/* ---- civicq: service-hall queues and self-service kiosks, JSON -------- */

enum { CQ_WAIT, CQ_OFFLINE, CQ_READER };

/* Average wait in minutes (the commitment is 30); kiosk fault chances. */
/* clang-format off */
static const struct sim_metric civicq_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"avg_wait_min", 16,    5,     2,    0.15,  0,    240,  42},
    {"offline_p",    0.004, 0,     0,    1,     0,    1,    NAN},
    {"reader_fault_p", 0.004, 0,   0,    1,     0,    1,    NAN},
};
/* clang-format on */

static const char *const services[] = {
    "social-security",       "residence-permit",  "tax",
    "business-registration", "medical-insurance", "housing-fund",
};

/* A hall reports one service's queue per message, in turn. Closed halls
 * (before 9:00 and from 17:00) report no waiting time. */
static void gen_hall(struct sim_device *d, struct cg_buf *p)
{
    double wait = d->value[CQ_WAIT];
    int hour = sim__local_hour(d->now), open = hour >= 9 && hour < 17;
    int windows = open ? (int)fmin(12, 4 + wait / 8) : 0;
    double waiting = open ? round(wait * windows / 6) : 0;
    cg_buf_printf(p,
                  "{\"hall\":\"%s Government Service Centre\","
                  "\"district\":\"%s\",\"service\":\"%s\",",
                  d->district->title, d->district->name,
                  services[d->seq % SIM_N_OF(services)]);
    /* The queue system sends counts as text; one older hall as numbers. */
    if (d->index % 4 == 2)
        cg_buf_printf(p, "\"waiting\":%.0f,", waiting);
    else
        cg_buf_printf(p, "\"waiting\":\"%.0f\",", waiting);
    if (open)
        cg_buf_printf(p, "\"avg_wait_min\":%.0f,", wait);
    cg_buf_printf(p, "\"windows_open\":%d,\"windows_total\":12,", windows);
}

/* Receipt paper runs down with use until a technician refills it. */
static void gen_kiosk(struct sim_device *d, struct cg_buf *p)
{
    if (d->seq == 1)
        d->acc[0] = 20 + 80 * sim__rng_unit(d->rng);
    d->acc[0] = fmax(0, d->acc[0] - 0.5 - 1.5 * sim__rng_unit(d->rng));
    if (d->acc[0] < 4 && sim__rng_unit(d->rng) < 0.3)
        d->acc[0] = 100;
    cg_buf_printf(p,
                  "{\"location\":\"%s Community Centre\","
                  "\"district\":\"%s\",\"state\":\"%s\",\"paper_pct\":%.0f,",
                  d->district->place, d->district->name,
                  sim__chance(d, CQ_OFFLINE) ? "offline" : "online", d->acc[0]);
    /* Older kiosks have no card reader to report on. */
    if (d->index % 6 != 5)
        cg_buf_printf(p, "\"card_reader\":\"%s\",",
                      sim__chance(d, CQ_READER) ? "error" : "ok");
}

static int gen_civicq(struct sim_device *d, struct sim_msg *m)
{
    char ts[40];
    int hall = d->index % 2 == 0;
    if (hall)
        gen_hall(d, &m->payload);
    else
        gen_kiosk(d, &m->payload);
    sim__rfc3339(d->now, LOCAL_OFFSET_MIN, ts, sizeof(ts));
    cg_buf_printf(&m->payload, "\"ts\":\"%s\"}", ts);
    return sim__topic(m, "vendors/civicq/%s/%s-%s-%02d/%s",
                      hall ? "hall" : "kiosk", hall ? "HALL" : "KSK",
                      d->district->code, 1 + d->index / 2,
                      hall ? "queue" : "status");
}

const struct sim_vendor sim__vendor_civicq = {
    .name = "civicq",
    .format = "json",
    .metrics = civicq_metrics,
    .n_metrics = SIM_N_OF(civicq_metrics),
    .gen = gen_civicq,
};

/* ---- classmate: classroom sensors, key=value text --------------------- */

enum { CM_CO2, CM_FILL, CM_TEMP };

/* CO2 in ppm (GB/T 17226: 1000), occupants as a share of the room's
 * design capacity (over 1 is overcrowded), temperature in °C. */
/* clang-format off */
static const struct sim_metric classmate_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"co2_ppm",      820,   80,    30,   0.15,  400,  5000, 1280},
    {"fill",         0.82,  0.06,  0.03, 0.20,  0,    1.3,  1.16},
    {"temp_c",       22,    0.8,   0.2,  0.15,  5,    40,   NAN},
};
/* clang-format on */

static const char *const schools[] = {
    "No. 12 Middle School",
    "No. 35 Middle School",
    "Experimental Primary School",
    "Foreign Languages School",
};

static int gen_classmate(struct sim_device *d, struct sim_msg *m)
{
    /* School, floor and room number together are unique per index. */
    int school = d->index / 4 % SIM_N_OF(schools),
        hour = sim__local_hour(d->now);
    int cap = school % 2 ? 50 : 45, floor_no = 1 + d->index % 4;
    int room_no = 1 + d->index / 16;
    char wing = (char)('A' + school);
    const struct sim_district *where = &sim__districts[school];
    /* Outside lessons the rooms are empty. */
    int occ = hour >= 8 && hour < 17 ? (int)lround(d->value[CM_FILL] * cap) : 0;
    cg_buf_printf(&m->payload,
                  "room=%c-%d%02d;school=%s;district=%s;co2=%.0f;occ=%d;"
                  "cap=%d;t=%.1f",
                  wing, floor_no, room_no, schools[school], where->name,
                  d->value[CM_CO2], occ, cap, d->value[CM_TEMP]);
    return sim__topic(m, "vendors/classmate/room/CM-%03d-%c%d%02d/env",
                      12 + school, wing, floor_no, room_no);
}

const struct sim_vendor sim__vendor_classmate = {
    .name = "classmate",
    .format = "kv",
    .metrics = classmate_metrics,
    .n_metrics = SIM_N_OF(classmate_metrics),
    .gen = gen_classmate,
};
