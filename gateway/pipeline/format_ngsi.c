/*
 * NGSI-LD entities (SPEC §15, ETSI GS CIM 009): an event as FIWARE
 * context brokers (Orion-LD) take it. Every non-null data field becomes a
 * Property observed at the event's time, numeric `lat` and `lon` a
 * GeoProperty `location`, the device a Relationship `refDevice` (only for
 * a consumer that may see it), the industry chain a Property `chain`.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "format.h"

#define CORE_CONTEXT                                                           \
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"

/* Data fields whose names the entity itself uses: they are left out
 * rather than written twice. */
static const char *const reserved[] = {"id",       "type",      "@context",
                                       "location", "refDevice", "chain"};

void format__ngsi_type(const char *ngsi_type, const char *event_type,
                       struct cg_buf *out)
{
    if (ngsi_type) {
        cg_buf_puts(out, ngsi_type);
        return;
    }
    bool start = true;
    for (const char *p = event_type; *p; p++) {
        unsigned char c = (unsigned char)*p;
        /* Bytes of a UTF-8 letter (température) are kept whole: only
         * ASCII punctuation separates words. */
        if (c < 0x80 && !isalnum(c)) {
            start = true;
            continue;
        }
        cg_buf_putc(out, (char)(start && c < 0x80 ? toupper(c) : c));
        start = false;
    }
    if (out->len == 0)
        cg_buf_puts(out, "Event");
}

/* A URN component: what URNs do not take literally is %-encoded, ':'
 * included, since it separates the components. */
void format__urn_part(struct cg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        if (isalnum(p[i]) || (p[i] && strchr("-._~", p[i]))) {
            cg_buf_putc(b, (char)p[i]);
        } else {
            char esc[3] = {'%', hex[p[i] >> 4], hex[p[i] & 15]};
            cg_buf_put(b, esc, 3);
        }
    }
}

static void put_urn_part(struct cg_buf *b, const char *s)
{
    format__urn_part(b, s, strlen(s));
}

void format__window_key(const struct cg_value *data, size_t n,
                        struct cg_buf *out)
{
    struct cg_buf json = {0};
    if (n == 0 || data->type != CG_OBJ || data->len < n)
        cg_buf_puts(out, "all");
    for (size_t i = 0; data->type == CG_OBJ && i < n && i < data->len; i++) {
        const struct cg_value *v = &data->as.members[i].value;
        if (i)
            cg_buf_putc(out, ':');
        if (v->type == CG_STR) {
            format__urn_part(out, v->as.str, v->len);
            continue;
        }
        cg_buf_reset(&json);
        cg_json_put_value(&json, v);
        format__urn_part(out, json.data ? json.data : "", json.len);
        out->oom |= json.oom;
    }
    cg_buf_free(&json);
}

static bool is_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (!strcmp(name, reserved[i]))
            return true;
    return false;
}

static bool number_of(const struct cg_value *data, const char *name,
                      double *out)
{
    const struct cg_value *v = cg_value_member(data, name, strlen(name));
    if (!v || !cg_value_is_number(v))
        return false;
    *out = cg_value_to_double(v);
    return isfinite(*out);
}

/* Numeric lat and lon in range make the entity's location. */
static bool location(const struct event_view *v, double *lat, double *lon)
{
    return number_of(&v->data, "lat", lat) && number_of(&v->data, "lon", lon) &&
           fabs(*lat) <= 90 && fabs(*lon) <= 180;
}

/* ,"key":"value"; nothing for a NULL value: NGSI-LD has no null values
 * (a context broker may refuse them, and merge-patch reads null as
 * "delete"), so a vendor without a network has no network_provider. */
static void put_key_str(struct cg_buf *b, const char *key, const char *value)
{
    if (!value)
        return;
    cg_buf_putc(b, ',');
    cg_json_put_string(b, key, strlen(key));
    cg_buf_putc(b, ':');
    cg_json_put_string(b, value, strlen(value));
}

static void put_properties(struct cg_buf *b, const struct event_view *v,
                           bool has_location)
{
    for (uint32_t i = 0; i < v->data.len; i++) {
        const struct cg_member *m = &v->data.as.members[i];
        if (m->value.type == CG_NULL || is_reserved(m->key) ||
            (has_location &&
             (!strcmp(m->key, "lat") || !strcmp(m->key, "lon"))))
            continue;
        cg_buf_putc(b, ',');
        cg_json_put_string(b, m->key, m->key_len);
        cg_buf_puts(b, ":{\"type\":\"Property\",\"value\":");
        cg_json_put_value(b, &m->value);
        cg_buf_puts(b, ",\"observedAt\":");
        cg_json_put_string(b, v->time, strlen(v->time));
        cg_buf_putc(b, '}');
    }
}

static void put_location(struct cg_buf *b, double lat, double lon)
{
    cg_buf_puts(b, ",\"location\":{\"type\":\"GeoProperty\",\"value\":"
                   "{\"type\":\"Point\",\"coordinates\":[");
    cg_json_put_num(b, lon);
    cg_buf_putc(b, ',');
    cg_json_put_num(b, lat);
    cg_buf_puts(b, "]}}");
}

static void put_ref_device(struct cg_buf *b, const struct event_view *v)
{
    cg_buf_puts(b, ",\"refDevice\":{\"type\":\"Relationship\",\"object\":\""
                   "urn:ngsi-ld:Device:");
    put_urn_part(b, v->vendor);
    cg_buf_putc(b, ':');
    put_urn_part(b, v->device);
    cg_buf_puts(b, "\"}");
}

static void put_chain(struct cg_buf *b, const struct event_view *v)
{
    cg_buf_puts(b, ",\"chain\":{\"type\":\"Property\",\"value\":{");
    cg_buf_puts(b, "\"device_provider\":");
    cg_json_put_string(b, v->vendor, strlen(v->vendor));
    put_key_str(b, "network_provider", v->network);
    put_key_str(b, "application_provider", v->consumer);
    cg_buf_puts(b, "}}");
}

static void put_context(struct cg_buf *b, const struct format_consumer *c)
{
    cg_buf_puts(b, ",\"@context\":[");
    if (c->n_context == 0)
        cg_buf_puts(b, "\"" CORE_CONTEXT "\"");
    for (size_t i = 0; i < c->n_context; i++) {
        if (i)
            cg_buf_putc(b, ',');
        cg_json_put_string(b, c->context[i], strlen(c->context[i]));
    }
    cg_buf_putc(b, ']');
}

void format__ngsi(const struct event_view *v, const char *ngsi_type,
                  const struct format_consumer *c, struct cg_buf *out)
{
    struct cg_buf type = {0};
    double lat = 0, lon = 0;
    bool has_location = location(v, &lat, &lon);
    format__ngsi_type(ngsi_type, v->type, &type);
    cg_buf_puts(out, "{\"id\":\"urn:ngsi-ld:");
    put_urn_part(out, type.data ? type.data : "Event");
    cg_buf_putc(out, ':');
    put_urn_part(out, v->gateway);
    cg_buf_putc(out, ':');
    if (v->key_is_urn)
        cg_buf_puts(out, v->key);
    else
        put_urn_part(out, v->key);
    cg_buf_puts(out, "\",\"type\":");
    cg_json_put_string(out, type.data ? type.data : "Event", type.len);
    put_properties(out, v, has_location);
    if (has_location)
        put_location(out, lat, lon);
    if (v->device)
        put_ref_device(out, v);
    put_chain(out, v);
    put_context(out, c);
    cg_buf_putc(out, '}');
    out->oom |= type.oom;
    cg_buf_free(&type);
}
