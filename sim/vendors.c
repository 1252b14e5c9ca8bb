/*
 * citygate-sim: the vendor table and what each scenario does to it.
 *
 * The table lists every vendor of config/citygate.yaml in the file's order;
 * a vendor added to the example city gets a generator in one of the
 * vendors_*.c files and a line here. Scenarios are data too: each row
 * moves one metric of one vendor to a new level, and devices drift there
 * at their metric's pace, so a flood rises over minutes rather than
 * jumping. Rows name vendors and metrics by their strings so the table
 * reads like the story it tells; a typo is caught at start-up.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

const struct sim_vendor *const sim__vendors[] = {
    &sim__vendor_aircheck,       &sim__vendor_sonitus,
    &sim__vendor_flowmetrix,     &sim__vendor_parkwise_bays,
    &sim__vendor_parkwise_zones, &sim__vendor_gridmeter,
    &sim__vendor_lumen,          &sim__vendor_guardian,
    &sim__vendor_vitalband,      &sim__vendor_mediboard,
    &sim__vendor_bms_link,       &sim__vendor_hydronet,
    &sim__vendor_riverwatch,     &sim__vendor_civicq,
    &sim__vendor_classmate,
};
const size_t sim__vendor_count = sizeof(sim__vendors) / sizeof(sim__vendors[0]);

static const struct {
    int scenario;
    const char *vendor, *metric;
    double level;
} pushes[] = {
    /* smog: a winter inversion traps traffic and heating emissions; ozone
     * stays low under the haze. Schools keep the windows shut, and
     * respiratory admissions fill the clinics. */
    {SIM_SMOG, "aircheck", "pm25", 165},
    {SIM_SMOG, "aircheck", "pm10", 240},
    {SIM_SMOG, "aircheck", "no2", 92},
    {SIM_SMOG, "aircheck", "o3_8h", 35},
    {SIM_SMOG, "classmate", "co2_ppm", 1350},
    {SIM_SMOG, "mediboard", "bed_occupancy", 0.9},

    /* flood: a rainstorm over the catchment; the rivers pass the warning
     * stage (3.50 m) and then the guaranteed stage (4.80 m), runoff clouds
     * the drinking water and traffic crawls. */
    {SIM_FLOOD, "riverwatch", "stage_m", 5.3},
    {SIM_FLOOD, "riverwatch", "rain_mm_h", 42},
    {SIM_FLOOD, "hydronet", "turb", 4.5},
    {SIM_FLOOD, "flowmetrix", "speed_kmh", 13},

    /* heatwave: ozone builds in the sun, air conditioning loads the grid
     * until voltages sag and buildings pass their contracted demand, water
     * demand drains pressure and reservoirs, people and pavements heat. */
    {SIM_HEATWAVE, "aircheck", "o3_8h", 175},
    {SIM_HEATWAVE, "aircheck", "temp_f", 101},
    {SIM_HEATWAVE, "bms-link", "temp_f", 81.5},
    {SIM_HEATWAVE, "bms-link", "demand", 1.02},
    {SIM_HEATWAVE, "gridmeter", "voltage_v", 201},
    {SIM_HEATWAVE, "gridmeter", "power_w", 2600},
    {SIM_HEATWAVE, "hydronet", "pressure_kpa", 128},
    {SIM_HEATWAVE, "hydronet", "flow_l_s", 9},
    {SIM_HEATWAVE, "hydronet", "level_cm", 160},
    {SIM_HEATWAVE, "classmate", "temp_c", 30.5},
    {SIM_HEATWAVE, "vitalband", "hr_bpm", 88},
    {SIM_HEATWAVE, "mediboard", "bed_occupancy", 0.9},
    {SIM_HEATWAVE, "parkwise-bays", "temp_c", 45},

    /* incident: a fire in a care home - smoke and CO in its rooms, panic
     * buttons pressed, residents falling as they leave. */
    {SIM_INCIDENT, "guardian", "obscuration", 5.5},
    {SIM_INCIDENT, "guardian", "co_ppm", 170},
    {SIM_INCIDENT, "guardian", "panic_p", 0.25},
    {SIM_INCIDENT, "vitalband", "fall_p", 0.15},
    {SIM_INCIDENT, "vitalband", "hr_bpm", 98},
};

#define N_PUSHES (sizeof(pushes) / sizeof(pushes[0]))

double sim__scenario_target(const struct sim_vendor *v, int m, int scenario)
{
    for (size_t i = 0; i < N_PUSHES; i++)
        if (pushes[i].scenario == scenario &&
            strcmp(pushes[i].vendor, v->name) == 0 &&
            strcmp(pushes[i].metric, v->metrics[m].name) == 0)
            return pushes[i].level;
    return NAN;
}

static int metric_exists(const char *vendor, const char *metric)
{
    for (size_t i = 0; i < sim__vendor_count; i++) {
        const struct sim_vendor *v = sim__vendors[i];
        if (strcmp(v->name, vendor) != 0)
            continue;
        for (int m = 0; m < v->n_metrics; m++)
            if (strcmp(v->metrics[m].name, metric) == 0)
                return 1;
    }
    return 0;
}

int sim__vendors_check(void)
{
    int bad = 0;
    for (size_t i = 0; i < N_PUSHES; i++) {
        if (metric_exists(pushes[i].vendor, pushes[i].metric))
            continue;
        fprintf(stderr,
                "citygate-sim: scenario %s moves unknown metric %s/%s\n",
                sim__scenario_name(pushes[i].scenario), pushes[i].vendor,
                pushes[i].metric);
        bad = 1;
    }
    for (size_t i = 0; i < sim__vendor_count; i++) {
        if (sim__vendors[i]->n_metrics <= SIM_MAX_METRICS)
            continue;
        fprintf(stderr, "citygate-sim: vendor %s has too many metrics\n",
                sim__vendors[i]->name);
        bad = 1;
    }
    return bad ? -1 : 0;
}
