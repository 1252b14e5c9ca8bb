/*
 * citygate-sim: the transport and energy vendors of the example city -
 * flowmetrix traffic counters (CSV), parkwise bay sensors (Cayenne LPP,
 * base64) and zone controllers (JSON), gridmeter smart meters (key=value)
 * and lumen streetlights (JSON).
 *
 * Each generator writes exactly the payload and topic layout the vendor's
 * entry in config/citygate.yaml decodes; the alert levels follow the
 * thresholds in config/rules/transport.yaml and energy.yaml.
 */
#include <math.h>

#include "sim.h"

static const char *const directions[] = {"N", "S", "E", "W"};

/* ---- flowmetrix: traffic counters, one CSV line per interval ---------- */

enum { TC_SPEED, TC_FLOW, TC_HEAVY, TC_FAULT, TC_DEGRADED };

/* Free flow on an arterial is 40-50 km/h; the alert level is moderate
 * congestion (GB/T 33171: < 15 km/h). Flow is vehicles per lane per 5 min. */
/* clang-format off */
static const struct sim_metric flowmetrix_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"speed_kmh",    42,    6,     1.8,  0.15,  2,    90,   12},
    {"flow_lane_5min", 34,  5,     2.5,  0.20,  0,    70,   NAN},
    {"heavy_pct",    8,     2,     0.8,  0.20,  0,    40,   NAN},
    {"fault_p",      0.002, 0,     0,    1,     0,    1,    NAN},
    {"degraded_p",   0.004, 0,     0,    1,     0,    1,    NAN},
};
/* clang-format on */

static int gen_flowmetrix(struct sim_device *d, struct sim_msg *m)
{
    const double *x = d->value;
    int lanes = 2 + d->index % 3;
    cg_buf_printf(&m->payload, "%.0f,%s %s,%s,%d,", floor(d->now),
                  d->district->road, directions[d->index % 4],
                  d->district->name, lanes);
    if (sim__chance(d, TC_FAULT)) {
        /* A failed loop counts nothing. */
        cg_buf_puts(&m->payload, "0,0,0,0,fault");
    } else {
        /* Loop occupancy grows as traffic slows down. */
        double occ = fmin(95, fmax(2, 8 + (50 - x[TC_SPEED]) * 1.1));
        cg_buf_printf(&m->payload, "%.0f,%.1f,%.0f,%.0f,%s",
                      round(x[TC_FLOW] * lanes), x[TC_SPEED], occ, x[TC_HEAVY],
                      sim__chance(d, TC_DEGRADED) ? "degraded" : "ok");
    }
    return sim__topic(m, "vendors/flowmetrix/counter/TC-%s-%03d/telemetry",
                      d->district->code, 101 + d->index);
}

const struct sim_vendor sim__vendor_flowmetrix = {
    .name = "flowmetrix",
    .format = "csv",
    .metrics = flowmetrix_metrics,
    .n_metrics = SIM_N_OF(flowmetrix_metrics),
    .gen = gen_flowmetrix,
};

/* ---- parkwise-bays: in-ground bay sensors, Cayenne LPP in base64 ------ */

enum { PB_BATTERY, PB_TEMP, PB_OCCUPIED, PB_FAULT };

/* Li-SOCl2 cell: 3.6 V nominal, "replace soon" below 3.3 V. */
/* clang-format off */
static const struct sim_metric bays_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"battery_v",    3.56,  0.05,  0.004, 0.08, 2.9,  3.7,  3.2},
    {"temp_c",       8,     2,     0.4,  0.10,  -30,  70,   NAN},
    {"occupied_p",   0.55,  0.12,  0,    1,     0,    1,    NAN},
    {"fault_p",      0.003, 0,     0,    1,     0,    1,    NAN},
};
/* clang-format on */

static int gen_parkwise_bays(struct sim_device *d, struct sim_msg *m)
{
    uint8_t frame[16];
    size_t n = 0;
    /* A bay keeps its car for a while: re-draw occupancy now and then. */
    if (d->seq == 1 || sim__rng_unit(d->rng) < 0.3)
        d->state = sim__chance(d, PB_OCCUPIED);
    n = sim__lpp_put(frame, n, 1, SIM_LPP_PRESENCE, d->state);
    n = sim__lpp_put(frame, n, 2, SIM_LPP_ANALOG_IN, d->value[PB_BATTERY]);
    n = sim__lpp_put(frame, n, 3, SIM_LPP_TEMPERATURE, d->value[PB_TEMP]);
    n = sim__lpp_put(frame, n, 4, SIM_LPP_DIGITAL_IN, sim__chance(d, PB_FAULT));
    cg_base64_encode(&m->payload, frame, n);
    return sim__topic(m, "vendors/parkwise/%s/bay/PB-%s-%04d/uplink",
                      d->district->name, d->district->code, 451 + d->index);
}

const struct sim_vendor sim__vendor_parkwise_bays = {
    .name = "parkwise-bays",
    .format = "lpp",
    .metrics = bays_metrics,
    .n_metrics = SIM_N_OF(bays_metrics),
    .gen = gen_parkwise_bays,
};

/* ---- parkwise-zones: zone controllers counting their bays, JSON ------- */

enum { PZ_FILL };

/* Share of the zone's bays taken; the alert level is a full zone. */
/* clang-format off */
static const struct sim_metric zones_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"fill",         0.62,  0.12,  0.03, 0.12,  0,    1.03, 1.01},
};
/* clang-format on */

static int gen_parkwise_zones(struct sim_device *d, struct sim_msg *m)
{
    int capacity = 80 + 40 * (d->index % 6);
    cg_buf_printf(&m->payload,
                  "{\"name\":\"%s %s\",\"capacity\":%d,\"occupied\":%.0f,"
                  "\"ts\":%.0f}",
                  d->district->place, d->index % 2 ? "West" : "East", capacity,
                  round(d->value[PZ_FILL] * capacity), floor(d->now));
    return sim__topic(m, "vendors/parkwise/%s/zone/Z-%s-%02d/summary",
                      d->district->name, d->district->code, 1 + d->index);
}

const struct sim_vendor sim__vendor_parkwise_zones = {
    .name = "parkwise-zones",
    .format = "json",
    .metrics = zones_metrics,
    .n_metrics = SIM_N_OF(zones_metrics),
    .gen = gen_parkwise_zones,
};

/* ---- gridmeter: household smart meters, key=value text ---------------- */

enum { EM_VOLT, EM_POWER, EM_TAMPER };

/* EN 50160: 230 V ±10 %; the alert level is a sag at the end of a long
 * feeder. Power is the household's demand in W. */
/* clang-format off */
static const struct sim_metric gridmeter_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"voltage_v",    230.5, 2.5,   0.8,  0.20,  150,  290,  202},
    {"power_w",      750,   250,   110,  0.25,  20,   12000, NAN},
    {"tamper_p",     0.0015, 0,    0,    1,     0,    1,    NAN},
};
/* clang-format on */

static int gen_gridmeter(struct sim_device *d, struct sim_msg *m)
{
    int commercial = d->index % 6 == 5;
    int old_fw = d->index % 4 == 3; /* reports the tamper switch as 1/0 */
    double p_w = d->value[EM_POWER] * (commercial ? 8 : 1);
    double volts = d->value[EM_VOLT];
    int tamper = sim__chance(d, EM_TAMPER);
    if (d->seq == 1) {
        d->acc[0] = 800 + 9000 * sim__rng_unit(d->rng); /* register */
        d->acc[1] = 20 + 220 * sim__rng_unit(d->rng);   /* this month */
    }
    d->acc[0] += p_w / 1000 * 0.25; /* a reading every 15 minutes */
    d->acc[1] += p_w / 1000 * 0.25;
    cg_buf_printf(&m->payload,
                  "meter_id=MTR-%d;kwh=%.1f;month_kwh=%.1f;v=%.1f;a=%.1f;"
                  "p_w=%.0f;tamper=%s;district=%s;tariff=%s;ts=%.0f",
                  1001 + d->index, d->acc[0], d->acc[1], volts,
                  tamper ? 0 : p_w / (volts * 0.95), tamper ? 0 : p_w,
                  old_fw ? (tamper ? "1" : "0") : (tamper ? "true" : "false"),
                  d->district->name, commercial ? "commercial" : "residential",
                  floor(d->now));
    return sim__topic(m, "vendors/gridmeter/em/nb-86012%04d/reading",
                      3041 + d->index);
}

const struct sim_vendor sim__vendor_gridmeter = {
    .name = "gridmeter",
    .format = "kv",
    .metrics = gridmeter_metrics,
    .n_metrics = SIM_N_OF(gridmeter_metrics),
    .gen = gen_gridmeter,
};

/* ---- lumen: LED streetlights on LoRaWAN, JSON uplinks ----------------- */

enum { SL_HEALTH, SL_DAYBURN };

/* Health is the share of the expected power the LED driver draws; the
 * alert level is a failed driver (< 10 %). */
/* clang-format off */
static const struct sim_metric lumen_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"driver_health", 0.97, 0.01,  0.005, 0.30, 0,    1.02, 0.03},
    {"dayburn_p",    0.01,  0,     0,    1,     0,    1,    NAN},
};
/* clang-format on */

static const int rated_w[] = {120, 90, 150};

/* Lamps follow the local clock: on from dusk, dimmed to half late at
 * night, off by day unless the photocell is stuck (day burning). */
static void lamp_schedule(struct sim_device *d, int *dim, double *lux)
{
    int hour = sim__local_hour(d->now);
    int dark = hour >= 18 || hour < 7;
    double u = sim__rng_unit(d->rng);
    *lux = dark ? 0.5 + 4 * u : 2000 + 18000 * u;
    if (dark)
        *dim = hour >= 23 || hour < 5 ? 50 : 100;
    else
        *dim = sim__chance(d, SL_DAYBURN) ? 100 : 0;
}

static int gen_lumen(struct sim_device *d, struct sim_msg *m)
{
    int dim, rated = rated_w[d->index % SIM_N_OF(rated_w)];
    double lux;
    lamp_schedule(d, &dim, &lux);
    /* Off, the controller alone draws about 0.4 W. */
    double power = dim ? rated * dim / 100.0 * d->value[SL_HEALTH] : 0.4;
    if (d->seq == 1)
        d->acc[0] = 100000 + 400000 * sim__rng_unit(d->rng);
    d->acc[0] += power * 0.25; /* an uplink every 15 minutes */
    cg_buf_printf(&m->payload,
                  "{\"lamp_id\":\"SL-%s-%04d\",\"road\":\"%s\","
                  "\"district\":\"%s\",\"state\":\"%s\",\"dim_pct\":%d,"
                  "\"power_w\":%.1f,\"rated_w\":%d,\"energy_wh\":%.0f,"
                  "\"ambient_lux\":%.1f,\"ts\":%.0f}",
                  d->district->code, 41 + d->index, d->district->road,
                  d->district->name,
                  dim == 0    ? "off"
                  : dim < 100 ? "dimmed"
                              : "on",
                  dim, power, rated, d->acc[0], lux, floor(d->now));
    /* Topic level 3 is the LoRaWAN DevEUI; the device id is lamp_id. */
    return sim__topic(m, "vendors/lumen/streetlight/70B3D57ED005%04X/status",
                      0x1234u + (unsigned)d->index);
}

const struct sim_vendor sim__vendor_lumen = {
    .name = "lumen",
    .format = "json",
    .metrics = lumen_metrics,
    .n_metrics = SIM_N_OF(lumen_metrics),
    .gen = gen_lumen,
};
