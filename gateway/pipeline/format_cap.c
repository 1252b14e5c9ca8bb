/*
 * OASIS CAP 1.2 alerts (SPEC §15), for alerting authorities and the
 * public alert aggregators that take their feeds: one <alert> per event,
 * with one <info>, the elements in the order the CAP 1.2 schema demands,
 * on one line (a delivery per line in files and `eval`), every text
 * XML-escaped.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "format.h"

#define CAP_NS "urn:oasis:names:tc:emergency:cap:1.2"

/* ---- text ------------------------------------------------------------------
 */

/* What XML 1.0 allows as a character at all. */
static bool xml_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD ||
           (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

static void put_escaped(struct cg_buf *b, uint32_t cp, const char *s,
                        size_t len)
{
    switch (cp) {
    case '<':
        cg_buf_puts(b, "&lt;");
        return;
    case '>':
        cg_buf_puts(b, "&gt;");
        return;
    case '&':
        cg_buf_puts(b, "&amp;");
        return;
    case '"':
        cg_buf_puts(b, "&quot;");
        return;
    case '\'':
        cg_buf_puts(b, "&apos;");
        return;
    case '\n':
        cg_buf_puts(b, "&#10;"); /* the document stays on one line */
        return;
    case '\r':
        cg_buf_puts(b, "&#13;");
        return;
    case '\t':
        cg_buf_puts(b, "&#9;");
        return;
    default:
        cg_buf_put(b, s, len);
    }
}

void format__xml_text(struct cg_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t len = cg_utf8_decode(s + i, n - i, &cp);
        if (len == 0 || !xml_char(cp))
            cg_buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD */
        else
            put_escaped(b, cp, s + i, len);
        i += len ? len : 1;
    }
}

static void element(struct cg_buf *b, const char *name, const char *text)
{
    cg_buf_printf(b, "<%s>", name);
    format__xml_text(b, text, strlen(text));
    cg_buf_printf(b, "</%s>", name);
}

/* CAP's dateTime has four-digit years: a device's far-future time (or
 * one plus cap.expires) stops at the last second of 9999. */
#define CAP_LAST_SECOND 253402300799.0

void format__cap_time(double epoch, char out[32])
{
    struct tm tm;
    time_t t = (time_t)(epoch < 0                 ? 0
                        : epoch > CAP_LAST_SECOND ? CAP_LAST_SECOND
                                                  : epoch);
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S-00:00", &tm);
}

/* ---- the alert
 * ---------------------------------------------------------------- */

/* CAP categories by domain, when the rule names none. */
static const char *category_of(const char *domain)
{
    static const struct {
        const char *domain, *category;
    } map[] = {{"environment", "Env"},
               {"transport", "Transport"},
               {"public-safety", "Safety"},
               {"health", "Health"},
               {"water", "Met"},
               {"energy", "Infra"},
               {"building", "Infra"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(domain, map[i].domain))
            return map[i].category;
    return "Other";
}

static const char *cap_severity(int severity)
{
    return severity == CG_SEV_CRITICAL  ? "Severe"
           : severity == CG_SEV_WARNING ? "Moderate"
                                        : "Minor";
}

/* The consumer's cap.sender (checked at load), else citygate@<gateway>
 * with what CAP forbids in a sender (white space, commas, '<', '&': a
 * comma would also split <references>) written as '_'. */
static void sender_of(const struct event_view *v,
                      const struct format_consumer *c, struct cg_buf *out)
{
    if (c->cap_sender) {
        cg_buf_puts(out, c->cap_sender);
        return;
    }
    cg_buf_puts(out, "citygate@");
    for (const char *p = v->gateway; *p; p++)
        cg_buf_putc(out, strchr(" \t\r\n,<&", *p) ? '_' : *p);
}

/* A template's text for this event, XML-escaped; a data field the
 * consumer may not see reads as empty. */
static void put_template(struct cg_buf *b, const struct tpl *t,
                         const struct event_view *v)
{
    struct cg_buf text = {0};
    for (size_t i = 0; i < t->n; i++) {
        const struct tpl_part *p = &t->parts[i];
        const char *s = NULL;
        switch (p->kind) {
        case TPL_TEXT:
            cg_buf_put(&text, p->text, p->len);
            break;
        case TPL_DOMAIN:
            s = v->domain;
            break;
        case TPL_TYPE:
            s = v->type;
            break;
        case TPL_SEVERITY:
            s = cg_severity_name(v->severity);
            break;
        case TPL_RULE:
            s = v->rule_name;
            break;
        case TPL_VENDOR:
            s = v->vendor;
            break;
        case TPL_DEVICE:
            s = v->device;
            break;
        default: {
            const struct cg_value *x =
                cg_value_member(&v->data, p->text, strlen(p->text));
            if (x)
                cg_value_format(x, &text);
        }
        }
        if (s)
            cg_buf_puts(&text, s);
    }
    format__xml_text(b, text.data ? text.data : "", text.len);
    b->oom |= text.oom;
    cg_buf_free(&text);
}

static void put_alert_head(struct cg_buf *b, const struct event_view *v,
                           const struct format_consumer *c)
{
    struct cg_buf sender = {0};
    char sent[32];
    sender_of(v, c, &sender);
    format__cap_time(v->epoch, sent);
    cg_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                   "<alert xmlns=\"" CAP_NS "\">");
    element(b, "identifier", v->id);
    element(b, "sender", sender.data ? sender.data : "");
    element(b, "sent", sent);
    element(b, "status", "Actual");
    element(b, "msgType", v->resolved ? "Cancel" : "Alert");
    element(b, "scope", "Public");
    if (v->resolved && v->ref_id) {
        char ref_sent[32];
        format__cap_time(v->ref_sent, ref_sent);
        cg_buf_puts(b, "<references>");
        format__xml_text(b, sender.data ? sender.data : "", sender.len);
        cg_buf_putc(b, ',');
        format__xml_text(b, v->ref_id, strlen(v->ref_id));
        cg_buf_printf(b, ",%s</references>", ref_sent);
    }
    b->oom |= sender.oom;
    cg_buf_free(&sender);
}

/* One <parameter> per data field (SPEC §15); a null one has an empty
 * <value>, so that the field is there as in the event. */
static void put_parameters(struct cg_buf *b, const struct event_view *v)
{
    struct cg_buf text = {0};
    for (uint32_t i = 0; i < v->data.len; i++) {
        const struct cg_member *m = &v->data.as.members[i];
        cg_buf_reset(&text);
        cg_value_format(&m->value, &text); /* null: nothing written */
        cg_buf_puts(b, "<parameter><valueName>");
        format__xml_text(b, m->key, m->key_len);
        cg_buf_puts(b, "</valueName><value>");
        format__xml_text(b, text.data ? text.data : "", text.len);
        cg_buf_puts(b, "</value></parameter>");
    }
    b->oom |= text.oom;
    cg_buf_free(&text);
}

/* headline and description: the rule's templates, else its description
 * (and the event type when it has none). */
static void put_texts(struct cg_buf *b, const struct event_view *v,
                      const struct cap_rule *r)
{
    const char *fallback = v->description ? v->description : v->type;
    cg_buf_puts(b, "<headline>");
    if (r && r->headline.n)
        put_template(b, &r->headline, v);
    else
        format__xml_text(b, fallback, strlen(fallback));
    cg_buf_puts(b, "</headline><description>");
    if (r && r->description.n)
        put_template(b, &r->description, v);
    else
        format__xml_text(b, fallback, strlen(fallback));
    cg_buf_puts(b, "</description>");
}

static void put_area(struct cg_buf *b, const struct event_view *v,
                     const struct cap_rule *r)
{
    cg_buf_puts(b, "<area><areaDesc>");
    size_t before = b->len;
    if (r && r->area.n) {
        put_template(b, &r->area, v);
    } else {
        const struct cg_value *d = cg_value_member(&v->data, "district", 8);
        struct cg_buf text = {0};
        if (d && cg_value_format(d, &text))
            format__xml_text(b, text.data, text.len);
        cg_buf_free(&text);
    }
    if (b->len == before) /* areaDesc is required: never empty */
        format__xml_text(b, v->gateway, strlen(v->gateway));
    cg_buf_puts(b, "</areaDesc></area>");
}

void format__cap(const struct event_view *v, const struct cap_rule *r,
                 const struct format_consumer *c, struct cg_buf *out)
{
    char expires[32];
    double expires_s = r && r->expires_s > 0 ? r->expires_s : 3600;
    format__cap_time(v->epoch + expires_s, expires);
    put_alert_head(out, v, c);
    cg_buf_puts(out, "<info>");
    element(out, "category",
            r && r->category ? r->category : category_of(v->domain));
    element(out, "event", r && r->event ? r->event : v->type);
    element(out, "urgency",
            v->severity == CG_SEV_CRITICAL ? "Immediate" : "Expected");
    element(out, "severity", cap_severity(v->severity));
    element(out, "certainty", "Observed");
    element(out, "expires", expires);
    put_texts(out, v, r);
    put_parameters(out, v);
    put_area(out, v, r);
    cg_buf_puts(out, "</info></alert>");
}
