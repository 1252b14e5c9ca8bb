/*
 * citygate-sim: the environment and water vendors of the example city -
 * aircheck air-quality stations and sonitus noise monitors (JSON), hydronet
 * network loggers (JSON, three products under one tree) and riverwatch
 * river gauges (Cayenne LPP, base64).
 *
 * Each generator writes exactly the payload and topic layout the vendor's
 * entry in config/citygate.yaml decodes; the metric tables hold the
 * everyday levels and the alert levels an excursion heads for, chosen
 * against the thresholds in config/rules/environment.yaml and water.yaml.
 */
#include <math.h>

#include "sim.h"

/* ---- aircheck: air-quality stations, JSON, RFC 3339 time in UTC ------- */

enum { AQ_PM25, AQ_PM10, AQ_NO2, AQ_O3, AQ_TEMP_F, AQ_RH, AQ_FAULT, AQ_CAL };

/* Everyday levels sit below the WHO 2021 guidelines (15, 45, 25, 100
 * µg/m³); excursions reach past them, and a smog episode past GB 3095. */
/* clang-format off */
static const struct sim_metric aircheck_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"pm25",         10,    2.5,   0.8,  0.10,  1,    600,  48},
    {"pm10",         27,    5,     1.5,  0.10,  3,    900,  95},
    {"no2",          16,    3,     1.2,  0.10,  1,    400,  45},
    {"o3_8h",        62,    8,     2.5,  0.10,  0,    400,  128},
    {"temp_f",       45,    3,     0.6,  0.08,  -20,  120,  NAN},
    {"rh",           50,    8,     1.5,  0.10,  5,    100,  NAN},
    {"fault_p",      0.002, 0,     0,    1,     0,    1,    NAN},
    {"calibrating_p", 0.003, 0,    0,    1,     0,    1,    NAN},
};
/* clang-format on */

/* A station's full report; every fifth station has no ozone analyser and
 * leaves that key out. */
static void aircheck_readings(struct sim_device *d, struct cg_buf *p)
{
    const double *x = d->value;
    cg_buf_printf(p, "\"pm2_5_24h\":%.1f,\"pm10_24h\":%.1f,\"no2_24h\":%.1f,",
                  x[AQ_PM25], x[AQ_PM10], x[AQ_NO2]);
    if (d->index % 5 != 4)
        cg_buf_printf(p, "\"o3_8h\":%.1f,", x[AQ_O3]);
    cg_buf_printf(p, "\"temp_f\":%.1f,\"rh\":%.0f,", x[AQ_TEMP_F], x[AQ_RH]);
}

static int gen_aircheck(struct sim_device *d, struct sim_msg *m)
{
    char ts[40];
    /* Older firmware (every fourth station) still says "OK". */
    const char *status = d->index % 4 == 3 ? "OK" : "ok";
    int fault = sim__chance(d, AQ_FAULT);
    if (!fault && sim__chance(d, AQ_CAL))
        status = "calibrating";
    sim__rfc3339(d->now, 0, ts, sizeof(ts));
    cg_buf_printf(&m->payload, "{\"ts\":\"%s\",\"zone\":\"%s\",", ts,
                  d->district->name);
    /* A station in fault has no valid readings and sends none. */
    if (!fault)
        aircheck_readings(d, &m->payload);
    cg_buf_printf(&m->payload, "\"status\":\"%s\"}", fault ? "fault" : status);
    return sim__topic(m, "vendors/aircheck/aqs/AQ-%s-%02d/telemetry",
                      d->district->code, d->index + 1);
}

const struct sim_vendor sim__vendor_aircheck = {
    .name = "aircheck",
    .format = "json",
    .metrics = aircheck_metrics,
    .n_metrics = SIM_N_OF(aircheck_metrics),
    .gen = gen_aircheck,
};

/* ---- sonitus: noise monitors, JSON nested under data.readings --------- */

enum { NS_LDEN, NS_LNIGHT, NS_LAEQ };

/* Levels are kept relative to the WHO 2018 guideline of the monitor's
 * source, so one table serves road, rail and aircraft monitors. */
/* clang-format off */
static const struct sim_metric sonitus_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"lden_margin",  -4,    1.5,   0.4,  0.15,  -25,  25,   4.5},
    {"lnight_margin", -5,   1.5,   0.4,  0.15,  -25,  25,   3.5},
    {"laeq_offset",  4,     1.5,   1.2,  0.30,  -10,  20,   NAN},
};
/* clang-format on */

/* WHO guideline per source (Lden, Lnight); industry has none, so its
 * monitors report around a typical industrial level instead. */
static const struct {
    const char *source;
    double lden, lnight;
} noise_sources[] = {
    {"road", 53, 45},     {"rail", 54, 44},     {"road", 53, 45},
    {"aircraft", 45, 40}, {"industry", 60, 52},
};

static int gen_sonitus(struct sim_device *d, struct sim_msg *m)
{
    const double *x = d->value;
    int s = d->index % SIM_N_OF(noise_sources);
    double lden = noise_sources[s].lden + x[NS_LDEN];
    double lnight = noise_sources[s].lnight + x[NS_LNIGHT];
    cg_buf_printf(&m->payload,
                  "{\"fw\":\"%s\",\"data\":{\"readings\":{\"lden_db\":%.1f,"
                  "\"lnight_db\":%.1f,\"laeq_1h_db\":%.1f,\"site\":\"%s\","
                  "\"source\":\"%s\"}}}",
                  d->index % 3 == 2 ? "2.3.7" : "2.4.1", lden, lnight,
                  lden + x[NS_LAEQ], d->district->name,
                  noise_sources[s].source);
    return sim__topic(m, "vendors/sonitus/noise/NS-%02d/report", 31 + d->index);
}

const struct sim_vendor sim__vendor_sonitus = {
    .name = "sonitus",
    .format = "json",
    .metrics = sonitus_metrics,
    .n_metrics = SIM_N_OF(sonitus_metrics),
    .gen = gen_sonitus,
};

/* ---- hydronet: pressure, quality and reservoir loggers, JSON ---------- */

enum { HY_KPA, HY_FLOW, HY_CL, HY_TURB, HY_PH, HY_LEVEL };

/* Alert levels: pressure under the 1.4 bar service level, chlorine under
 * the WHO 0.2 mg/L residual, turbidity over GB 5749's 1 NTU, a service
 * reservoir under its 2 m fire reserve. */
/* clang-format off */
static const struct sim_metric hydronet_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"pressure_kpa", 310,   30,    6,    0.15,  0,    900,  122},
    {"flow_l_s",     4.5,   1,     0.3,  0.20,  0,    80,   NAN},
    {"cl_free",      0.6,   0.1,   0.02, 0.15,  0,    8,    0.14},
    {"turb",         0.3,   0.06,  0.04, 0.20,  0.05, 50,   1.7},
    {"ph",           7.4,   0.15,  0.04, 0.20,  5,    10,   NAN},
    {"level_cm",     420,   40,    6,    0.06,  0,    600,  170},
};
/* clang-format on */

static int gen_hydronet(struct sim_device *d, struct sim_msg *m)
{
    const double *x = d->value;
    const char *code = d->district->code;
    struct cg_buf *p = &m->payload;
    int rc;
    switch (d->index % 3) {
    case 0:
        cg_buf_printf(p, "{\"pressure_kpa\":%.0f,\"flow_l_s\":%.1f,", x[HY_KPA],
                      x[HY_FLOW]);
        rc = sim__topic(m, "vendors/hydronet/pressure/PL-%s-%04d/data", code,
                        311 + d->index);
        break;
    case 1:
        cg_buf_printf(p, "{\"cl_free\":%.2f,\"turb\":%.2f,\"ph\":%.1f,",
                      x[HY_CL], x[HY_TURB], x[HY_PH]);
        rc = sim__topic(m, "vendors/hydronet/quality/WQ-%s-%04d/data", code,
                        41 + d->index);
        break;
    default:
        cg_buf_printf(p, "{\"level_cm\":%.0f,", x[HY_LEVEL]);
        rc = sim__topic(m, "vendors/hydronet/tank/TK-%s-%02d/data", code,
                        1 + d->index / 3);
        break;
    }
    cg_buf_printf(p, "\"dma\":\"DMA-%s-%02d\",\"district\":\"%s\",\"ts\":%.0f}",
                  code, 10 + d->index % 7, d->district->name, floor(d->now));
    return rc;
}

const struct sim_vendor sim__vendor_hydronet = {
    .name = "hydronet",
    .format = "json",
    .metrics = hydronet_metrics,
    .n_metrics = SIM_N_OF(hydronet_metrics),
    .gen = gen_hydronet,
};

/* ---- riverwatch: river stage gauges, Cayenne LPP in base64 ------------ */

enum { RW_STAGE, RW_RAIN, RW_BATTERY };

/* Stage in m above gauge datum (warning stage 3.50 m, guaranteed 4.80 m),
 * rain in mm/h (heavy from 20 mm/h), battery in V. */
/* clang-format off */
static const struct sim_metric riverwatch_metrics[] = {
    /* name          mean   spread noise revert lo    hi    alert */
    {"stage_m",      2.1,   0.3,   0.02, 0.06,  0,    9,    3.9},
    {"rain_mm_h",    0.3,   0.2,   0.6,  0.35,  0,    150,  28},
    {"battery_v",    3.6,   0.03,  0.004, 0.10, 3.0,  3.7,  NAN},
};
/* clang-format on */

/* Gauges sit on the city's rivers: Qinghe, Liangma, Tonghui, Beiyun. */
static const char *const rivers[] = {"QH", "LM", "TH", "BY"};

static int gen_riverwatch(struct sim_device *d, struct sim_msg *m)
{
    uint8_t frame[16];
    size_t n = 0;
    n = sim__lpp_put(frame, n, 1, SIM_LPP_ANALOG_IN, d->value[RW_STAGE]);
    n = sim__lpp_put(frame, n, 2, SIM_LPP_ANALOG_IN, d->value[RW_RAIN]);
    n = sim__lpp_put(frame, n, 3, SIM_LPP_ANALOG_IN, d->value[RW_BATTERY]);
    cg_base64_encode(&m->payload, frame, n);
    return sim__topic(m, "vendors/riverwatch/%s/RG-%s-%02d/up",
                      d->district->name, rivers[d->index % SIM_N_OF(rivers)],
                      1 + d->index);
}

const struct sim_vendor sim__vendor_riverwatch = {
    .name = "riverwatch",
    .format = "lpp",
    .metrics = riverwatch_metrics,
    .n_metrics = SIM_N_OF(riverwatch_metrics),
    .gen = gen_riverwatch,
};
