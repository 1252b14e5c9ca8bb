/*
 * Output formats (SPEC §15), internal to gateway/pipeline/: an event as a
 * consumer may see it (a view built by route.c after privacy), written as
 * an NGSI-LD entity or an OASIS CAP 1.2 alert. The event format itself is
 * route.c's envelope.
 *
 * Everything here is pure: it writes into the caller's buffer and never
 * fails but for memory (the buffer's oom flag).
 */
#ifndef CG_PIPELINE_FORMAT_H
#define CG_PIPELINE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

enum cg_format { CG_FORMAT_EVENT = 0, CG_FORMAT_NGSI_LD, CG_FORMAT_CAP };

/* What one consumer may see of one event. Strings are borrowed. */
struct event_view {
    const char *id;      /* the event id: CAP identifier */
    const char *time;    /* RFC 3339 UTC with milliseconds */
    double epoch;        /* the same time in epoch seconds */
    const char *gateway; /* the gateway id */
    const char *domain, *type, *rule, *rule_name, *description;
    int severity;         /* enum cg_severity */
    const char *vendor;   /* or "mixed" (windows) */
    const char *network;  /* or NULL */
    const char *consumer; /* the application provider */
    const char *device;   /* NULL when this consumer may not see it */
    /* The entity's key: the device id, hash(device) when the consumer may
     * not see it, or a window's group key (format__window_key). */
    const char *key;
    bool key_is_urn;      /* key is URN-safe already (a window's group key) */
    struct cg_value data; /* only the members this consumer may see */
    bool resolved;        /* a resolution (CAP Cancel) */
    const char *ref_id;   /* with resolved: the alert's identifier */
    double ref_sent;      /* and its sent time */
};

/* A rule's CAP settings (SPEC §15), compiled at load. */
struct cap_rule {
    const char *category;                   /* NULL: by domain */
    const char *event;                      /* NULL: the event type */
    struct tpl headline, description, area; /* n == 0: the defaults */
    double expires_s;                       /* default 3600 */
};

/* A consumer's format settings. */
struct format_consumer {
    int format;                 /* enum cg_format */
    const char *const *context; /* NGSI-LD @context, n_context of them */
    size_t n_context;           /* 0: the core context */
    const char *cap_sender;     /* NULL: citygate@<gateway> */
};

/* The NGSI-LD entity type: ngsi_type when given, else the event type in
 * UpperCamelCase (air_quality.pm25_high -> AirQualityPm25High). */
void format__ngsi_type(const char *ngsi_type, const char *event_type,
                       struct cg_buf *out);
/* One NGSI-LD entity (JSON, one line) for v. */
void format__ngsi(const struct event_view *v, const char *ngsi_type,
                  const struct format_consumer *c, struct cg_buf *out);
/* One CAP 1.2 <alert> (XML, one line) for v. */
void format__cap(const struct event_view *v, const struct cap_rule *r,
                 const struct format_consumer *c, struct cg_buf *out);
/* Appends s[0..n) as XML character data: <&>"' escaped, line breaks and
 * tabs as character references, what XML 1.0 cannot hold (other C0
 * controls, U+FFFE, U+FFFF, invalid UTF-8) as U+FFFD. */
void format__xml_text(struct cg_buf *b, const char *s, size_t n);
/* Appends s as a part of a URN: bytes outside A-Z a-z 0-9 - . _ ~ as %XX. */
void format__urn_part(struct cg_buf *b, const char *s, size_t n);
/* A window's entity key from its group_by values (the first n of data):
 * each as text (a string as it is, other values as JSON), URN-encoded,
 * joined by ':'; "all" without group_by. */
void format__window_key(const struct cg_value *data, size_t n,
                        struct cg_buf *out);
/* CAP's time form: UTC as YYYY-MM-DDThh:mm:ss-00:00. */
void format__cap_time(double epoch, char out[32]);

#endif
