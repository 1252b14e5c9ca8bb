/*
 * citygate-sim: the pieces shared by the simulator's files.
 *
 * The simulator publishes the telemetry that the vendors of the example city
 * (config/citygate.yaml) would send, each in its own payload format and topic
 * layout, so the Quick start has live input and the gateway has a load to
 * chew on. It is a tool, not part of the gateway: it owns its process, uses
 * plain malloc and prints what it likes.
 *
 * Every reading is a "metric" that drifts per device (a random walk pulled
 * back towards a target), so a seed reproduces the same message sequence.
 * A scenario moves the targets (smog raises PM2.5, a flood raises the
 * river); in every scenario a device now and then takes a short excursion
 * to its metric's alert level, so rules fire in a normal day too.
 *
 * Threads: everything here runs on the main thread except the publish
 * window in mqtt.c, which libmosquitto's network thread also touches.
 */
#ifndef CG_SIM_H
#define CG_SIM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

/* Number of elements of an array (an int: tables here are small). */
#define SIM_N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- scenarios ------------------------------------------------------- */

enum sim_scenario {
    SIM_NORMAL,
    SIM_SMOG,
    SIM_FLOOD,
    SIM_HEATWAVE,
    SIM_INCIDENT,
    SIM_MALFORMED,
    SIM_SCENARIO_COUNT
};

/* Looks a scenario up by its command-line name; returns -1 when unknown. */
int sim__scenario_parse(const char *name);
const char *sim__scenario_name(int scenario);

/* ---- the command line (options.c) ----------------------------------- */

struct sim_opts {
    const char *uri; /* as given, for messages */
    char host[256];
    int port;
    int devices;         /* per vendor */
    double rate;         /* messages per second, all vendors together */
    double duration;     /* seconds; 0 = until a signal */
    unsigned long count; /* messages; 0 = no limit */
    int scenario;
    uint64_t seed;
    int qos;
    int verbose;
};

/* Fills o from the command line. Returns 0 to run, 1 when --help was
 * printed (exit 0), or -1 after printing a usage error (exit 2). */
int sim__options_parse(int argc, char **argv, struct sim_opts *o);

/* ---- random numbers (model.c) ---------------------------------------- */

/* A small deterministic generator (splitmix64): one stream per run, so a
 * seed replays the same run whatever the timing. */
struct sim_rng {
    uint64_t state;
};
uint64_t sim__rng_next(struct sim_rng *r);
double sim__rng_unit(struct sim_rng *r);      /* uniform in [0, 1) */
double sim__rng_gauss(struct sim_rng *r);     /* standard normal */
int sim__rng_below(struct sim_rng *r, int n); /* uniform in [0, n) */

/* ---- the city -------------------------------------------------------- */

/* A district of the example city, with names its devices use. */
struct sim_district {
    const char *name;  /* lower case, as vendors send it: "haidian" */
    const char *title; /* "Haidian" */
    const char *code;  /* two letters used in asset ids: "HD" */
    const char *road;  /* an arterial road */
    const char *place; /* a neighbourhood or landmark */
};
extern const struct sim_district sim__districts[];
extern const size_t sim__district_count;

/* ---- vendors and devices --------------------------------------------- */

/* One reading a device reports. The device's level wanders around `mean`
 * (plus a fixed per-device offset of sd `spread`) with step noise `noise`;
 * each step closes `revert` of the gap to its target. Values stay within
 * [lo, hi]. `alert` is the level a short excursion heads for (NAN: none).
 * Metrics whose name ends in "_p" are probabilities of an event per
 * message (a fall, a pressed button) and are used with sim__chance(). */
struct sim_metric {
    const char *name;
    double mean, spread, noise, revert, lo, hi, alert;
};

#define SIM_MAX_METRICS 8

/* One message: a topic and a payload the generators append to. */
struct sim_msg {
    char topic[256];
    struct cg_buf payload;
};

struct sim_device;

/* Writes one message of the device's vendor into m (topic and payload,
 * m->payload reset by the caller). Returns 0, or -1 when the payload buffer
 * ran out of memory or the topic did not fit. */
typedef int (*sim_gen_fn)(struct sim_device *d, struct sim_msg *m);

/* A vendor of the example config: its name, how its devices speak and
 * what they measure. The generator reads d->value[] in metrics[] order. */
struct sim_vendor {
    const char *name;   /* as in config/citygate.yaml */
    const char *format; /* json | kv | csv | lpp: for --help only */
    const struct sim_metric *metrics;
    int n_metrics;
    sim_gen_fn gen;
};

/* The vendors, one generator each, grouped by domain in vendors_*.c. */
extern const struct sim_vendor sim__vendor_aircheck, sim__vendor_sonitus,
    sim__vendor_flowmetrix, sim__vendor_parkwise_bays,
    sim__vendor_parkwise_zones, sim__vendor_gridmeter, sim__vendor_lumen,
    sim__vendor_guardian, sim__vendor_vitalband, sim__vendor_mediboard,
    sim__vendor_bms_link, sim__vendor_hydronet, sim__vendor_riverwatch,
    sim__vendor_civicq, sim__vendor_classmate;

/* All of them, in the order of config/citygate.yaml (vendors.c). */
extern const struct sim_vendor *const sim__vendors[];
extern const size_t sim__vendor_count;

/* Checks that every scenario row names a real vendor metric and that no
 * vendor has more than SIM_MAX_METRICS; prints and returns -1 if not. */
int sim__vendors_check(void);

/* The level a scenario pushes metric m of vendor v to, or NAN when the
 * scenario leaves that metric alone (vendors.c). */
double sim__scenario_target(const struct sim_vendor *v, int m, int scenario);

/* One simulated device and its drifting state. */
struct sim_device {
    const struct sim_vendor *vendor;
    int index; /* 0-based within its vendor */
    const struct sim_district *district;
    int scenario;
    struct sim_rng *rng;            /* the run's shared stream */
    double now;                     /* wall clock of this message, epoch s */
    double target[SIM_MAX_METRICS]; /* where each metric is pulled to */
    double value[SIM_MAX_METRICS];  /* this message's readings */
    double acc[2];                  /* counters a vendor keeps (kWh) */
    int state;                      /* a sticky state (bay occupied) */
    unsigned long seq;              /* messages sent so far */
    int excursion_metric, excursion_left;
};

/* Sets up device `index` of vendor v for the scenario: its district, its
 * per-device targets and its first readings. */
void sim__device_init(struct sim_device *d, const struct sim_vendor *v,
                      int index, int scenario, struct sim_rng *rng);
/* Moves every metric of the device one step (and maybe starts or ends an
 * excursion); call once before each message. */
void sim__device_step(struct sim_device *d);
/* True with the probability held in metric m ("_p" metrics). */
int sim__chance(struct sim_device *d, int m);

/* ---- formatting helpers (model.c) ------------------------------------ */

/* Writes `t` (epoch seconds) as RFC 3339 with seconds, in UTC ("Z") when
 * utc_offset_min is 0, else in that fixed offset ("+08:00"). */
void sim__rfc3339(double t, int utc_offset_min, char *out, size_t n);
/* The local hour (0-23) of `t` in the example city (UTC+8). */
int sim__local_hour(double t);
/* The local month (1-12) of `t` in the example city. */
int sim__local_month(double t);
/* snprintf into m->topic; returns 0, or -1 when it did not fit. */
int sim__topic(struct sim_msg *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a Cayenne LPP item to a frame: returns the new length. */
size_t sim__lpp_put(uint8_t *frame, size_t len, int channel, int type,
                    double value);

/* Cayenne LPP data types used by the vendors (IPSO id - 3200). */
#define SIM_LPP_DIGITAL_IN  0x00
#define SIM_LPP_ANALOG_IN   0x02
#define SIM_LPP_PRESENCE    0x66
#define SIM_LPP_TEMPERATURE 0x67

/* ---- malformed traffic (malformed.c) --------------------------------- */

/* Writes one deliberately bad message (invalid JSON or UTF-8, a cut LPP
 * frame, a kv pair without '=', a csv line with a wrong cell count, an
 * unknown vendor's topic, a payload above max_payload_bytes), built from a
 * good message of a random device so it looks like the real thing.
 * Returns 0 or -1 (out of memory). */
int sim__malformed(struct sim_device *devices, size_t n_devices,
                   struct sim_rng *rng, double now, struct sim_msg *m);

/* ---- MQTT (mqtt.c) --------------------------------------------------- */

struct sim_mqtt;

/* Connects to host:port and waits for the broker's CONNACK (bounded).
 * Returns NULL after printing one sentence to stderr on failure. */
struct sim_mqtt *sim__mqtt_open(const char *host, int port, const char *uri);
/* Publishes one message, first waiting while `window` messages are still
 * unacknowledged, so memory stays bounded. Returns 0; -1 after printing a
 * sentence when the broker is gone; -2 when *stop was set while waiting. */
int sim__mqtt_publish(struct sim_mqtt *c, const struct sim_msg *m, int qos,
                      volatile sig_atomic_t *stop);
/* Waits (bounded) for outstanding acknowledgements, disconnects cleanly and
 * frees everything. Accepts NULL. */
void sim__mqtt_close(struct sim_mqtt *c);

#endif
