/*
 * The http sink (SPEC §12 "Delivery"): POSTs each batch as one JSON array
 * `[ev1,ev2,...]` to a fixed URL with libcurl's easy API.
 *
 * Each instance owns one CURL handle and reuses it for every request, so
 * the connection stays alive between batches. Nothing is shared between
 * instances, which lets many consumers deliver at once, each on its own
 * delivery thread. deliver() blocks for at most timeout_ms.
 *
 * The verdict follows the status code: 2xx delivered; connection errors,
 * timeouts, 408, 429 and 5xx are transient (CG_RETRY, honouring
 * Retry-After); 3xx and every other 4xx are refused for good
 * (CG_EREJECTED). Redirects are never followed: the URL is configuration,
 * and re-POSTing a batch to wherever a server points would send events
 * (and their Authorization header) to a place the operator never named.
 *
 * Proxies from the environment (http_proxy, https_proxy, all_proxy) are
 * ignored on purpose: a variable inherited by a service must not silently
 * divert a government consumer's events.
 *
 * The host must call curl_global_init() once before any instance exists.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base.h"
#include "builtin.h"
#include "decode_util.h"

#ifndef CG_VERSION
#define CG_VERSION "0"
#endif

#define DEFAULT_TIMEOUT_MS         5000
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
/* A Retry-After longer than this is clamped: the backlog waits safely in
 * the spool, but a consumer should not go quiet for days on one header. */
#define MAX_RETRY_AFTER_S 3600
/* How much of a response body we keep, for the reason of a failure. */
#define BODY_KEEP 256
/* How much of it goes into the one-line detail. */
#define BODY_SHOW 96

enum payload { PAYLOAD_EVENT = 0, PAYLOAD_NGSI_LD, PAYLOAD_CAP };

/* What each payload format needs of a request (SPEC §15): NGSI-LD batches
 * go to the context broker's batch upsert; a CAP alert is one XML
 * document, so each is a request of its own. */
static const struct {
    const char *name, *content_type, *path;
} payloads[] = {
    {"event", "application/json", ""},
    {"ngsi-ld", "application/ld+json", "/ngsi-ld/v1/entityOperations/upsert"},
    {"cap", "application/cap+xml", ""},
};

struct http_sink {
    const struct cg_host *host;
    int payload; /* enum payload */
    CURL *curl;
    struct curl_slist *headers; /* must outlive the handle */
    struct cg_buf body;         /* the request, reused between batches */
    char reply[BODY_KEEP];      /* start of the response body */
    size_t reply_len;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- options ---------------------------------------------------------- */

static int check_url(const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    if (!u)
        return CG_ENOMEM;
    int bad = curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK;
    bad = bad || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0);
    curl_free(scheme);
    curl_url_cleanup(u);
    if (bad)
        /* The URL may hold credentials: the reason does not repeat it. */
        return dec_bad_option(err, errlen,
                              "url: must be an http:// or https:// URL");
    return CG_OK;
}

/* A positive int option; *out keeps its default when the option is
 * absent. */
static int ms_option(const struct cg_value *opts, const char *name, long *out,
                     char *err, size_t errlen)
{
    const struct cg_value *v = dec_option(opts, name);
    if (!v)
        return CG_OK;
    if (v->type != CG_INT || v->as.i <= 0 || v->as.i > INT32_MAX)
        return dec_bad_option(
            err, errlen, "%s: must be a positive number of milliseconds", name);
    *out = (long)v->as.i;
    return CG_OK;
}

/* An RFC 9110 token: the characters a header name may use. */
static bool is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9');
        if (!alnum && (c == '\0' || !strchr(extra, c)))
            return false;
    }
    return n > 0;
}

/* Checks one configured header. The body's framing is this sink's job,
 * so a header that would change it is refused. */
static int check_header(const struct cg_member *m, char *err, size_t errlen)
{
    const struct cg_value *v = &m->value;
    if (!is_token(m->key, m->key_len))
        return dec_bad_option(err, errlen, "headers: invalid name \"%s\"",
                              m->key);
    if (!strcasecmp(m->key, "Content-Length") ||
        !strcasecmp(m->key, "Transfer-Encoding"))
        return dec_bad_option(err, errlen, "headers: %s is set by the sink",
                              m->key);
    if (v->type != CG_STR)
        return dec_bad_option(err, errlen, "headers.%s must be a string",
                              m->key);
    if (strlen(v->as.str) != v->len || strpbrk(v->as.str, "\r\n"))
        return dec_bad_option(
            err, errlen, "headers.%s: line breaks or NUL in the value", m->key);
    return CG_OK;
}

/* Appends "Name: value" (or "Name;", curl's way to send an empty value). */
static int add_header(struct curl_slist **list, const char *name,
                      const char *value)
{
    struct cg_buf line = {0};
    cg_buf_printf(&line, value[0] ? "%s: %s" : "%s;", name, value);
    struct curl_slist *next =
        line.oom ? NULL : curl_slist_append(*list, line.data);
    cg_buf_free(&line);
    if (!next)
        return CG_ENOMEM;
    *list = next;
    return CG_OK;
}

/* Builds the header list: the configured headers, then Content-Type
 * unless configured, and no Expect, so that curl never stalls a large
 * batch waiting for "100 Continue". */
static int build_headers(struct http_sink *s, const struct cg_value *opts,
                         char *err, size_t errlen)
{
    const struct cg_value *h = dec_option(opts, "headers");
    bool has_type = false;
    int rc = CG_OK;
    for (uint32_t i = 0; h && i < h->len && rc == CG_OK; i++) {
        const struct cg_member *m = &h->as.members[i];
        rc = check_header(m, err, errlen);
        if (rc == CG_OK)
            rc = add_header(&s->headers, m->key, m->value.as.str);
        has_type = has_type || !strcasecmp(m->key, "Content-Type");
    }
    if (rc == CG_OK && !has_type)
        rc = add_header(&s->headers, "Content-Type",
                        payloads[s->payload].content_type);
    /* "Name:" without a value tells curl to drop its own header. */
    struct curl_slist *next =
        rc == CG_OK ? curl_slist_append(s->headers, "Expect:") : NULL;
    if (next)
        s->headers = next;
    return rc != CG_OK ? rc : next ? CG_OK : CG_ENOMEM;
}

/* ---- the handle ------------------------------------------------------- */

/* Keeps the first BODY_KEEP bytes of the response, for the detail of a
 * failure, and swallows the rest so memory stays flat. */
static size_t on_reply(char *p, size_t size, size_t nmemb, void *ud)
{
    struct http_sink *s = ud;
    size_t n = size * nmemb, room = sizeof(s->reply) - s->reply_len;
    memcpy(s->reply + s->reply_len, p, n < room ? n : room);
    s->reply_len += n < room ? n : room;
    return n;
}

/* Sets the options that stay the same for every request. */
/* A host built against an older ABI has no cancelled(): fields beyond
 * its struct_size are absent. */
static bool host_cancelled(const struct cg_host *host)
{
    size_t end = offsetof(struct cg_host, cancelled) + sizeof(host->cancelled);
    return host->struct_size >= end && host->cancelled && host->cancelled(host);
}

/* libcurl calls this during a transfer (about once a second when idle):
 * a non-zero answer aborts it, so a consumer that never answers cannot
 * hold a shutdown past its bound. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const struct http_sink *s = ud;
    return host_cancelled(s->host);
}

static int setup_handle(struct http_sink *s, const char *url, long timeout_ms,
                        long connect_ms, char *err, size_t errlen)
{
    CURL *c = s->curl;
    /* CURLE_OK is 0: OR-ing the codes tells whether any option failed. */
    int rc = (int)curl_easy_setopt(c, CURLOPT_URL, url);
    rc |= (int)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* No SIGALRM for DNS timeouts: we run on a delivery thread. */
    rc |= (int)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* An empty proxy overrides *_proxy from the environment. */
    rc |= (int)curl_easy_setopt(c, CURLOPT_PROXY, "");
    rc |= (int)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= (int)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    rc |= (int)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    rc |= (int)curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= (int)curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
    rc |= (int)curl_easy_setopt(c, CURLOPT_USERAGENT, "citygate/" CG_VERSION);
    rc |= (int)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
    rc |= (int)curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    rc |= (int)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    rc |= (int)curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    rc |= (int)curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    rc |= (int)curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (rc != 0)
        return dec_bad_option(err, errlen,
                              "libcurl %s refused an option (out of memory, "
                              "or older than 7.85)",
                              curl_version_info(CURLVERSION_NOW)->version);
    return CG_OK;
}

static void http_destroy(void *inst)
{
    struct http_sink *s = inst;
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    cg_buf_free(&s->body);
    cg_free(s);
}

/* The consumer's format, which the host gives in the `format` option. */
static int parse_format(const struct cg_value *opts, int *out, char *err,
                        size_t errlen)
{
    const struct cg_value *f = dec_option(opts, "format");
    *out = PAYLOAD_EVENT;
    for (int i = 0; f && i < 3; i++)
        if (!strcmp(f->as.str, payloads[i].name)) {
            *out = i;
            return CG_OK;
        }
    return f ? dec_bad_option(err, errlen, "format: unknown '%s'", f->as.str)
             : CG_OK;
}

/* The first line of a secret file (a password, a token), without its
 * line end. Returns CG_OK, CG_EINVAL (unreadable, empty) or CG_ENOMEM. */
static int read_secret(const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    if (!f || !fgets(line, sizeof(line), f)) {
        if (f)
            fclose(f);
        return dec_bad_option(err, errlen, "cannot read the secret in %s",
                              path);
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0])
        return dec_bad_option(err, errlen, "the secret in %s is empty", path);
    *out = cg_strdup(line);
    return *out ? CG_OK : CG_ENOMEM;
}

/* tls: {ca_file, cert_file, key_file, verify}; auth: {basic_user,
 * password_file}; bearer_token_file. The host resolved every *_file. */
static int check_security(const struct cg_value *opts, char *err, size_t errlen)
{
    const struct cg_value *tls = dec_option(opts, "tls");
    const struct cg_value *auth = dec_option(opts, "auth");
    static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file",
                                           "verify"};
    for (uint32_t i = 0; tls && i < tls->len; i++) {
        const char *k = tls->as.members[i].key;
        bool known = false;
        for (size_t j = 0; j < 4; j++)
            known = known || !strcmp(k, tls_keys[j]);
        if (!known)
            return dec_bad_option(err, errlen,
                                  "tls: unknown key '%s' "
                                  "(ca_file, cert_file, key_file, "
                                  "verify)",
                                  k);
    }
    if (tls && !dec_option(tls, "cert_file") != !dec_option(tls, "key_file"))
        return dec_bad_option(err, errlen,
                              "tls: cert_file and key_file go together");
    if (auth && (!dec_option(auth, "basic_user") ||
                 !dec_option(auth, "password_file") || auth->len != 2))
        return dec_bad_option(err, errlen,
                              "auth: needs basic_user and password_file");
    if (auth && dec_option(opts, "bearer_token_file"))
        return dec_bad_option(err, errlen,
                              "auth: give auth or bearer_token_file, not both");
    return CG_OK;
}

static int check_headers(const struct cg_value *opts, char *err, size_t errlen)
{
    const struct cg_value *h = dec_option(opts, "headers");
    if (h && h->type != CG_OBJ)
        return dec_bad_option(err, errlen, "headers: must be a map");
    int rc = CG_OK;
    for (uint32_t i = 0; h && i < h->len && rc == CG_OK; i++)
        rc = check_header(&h->as.members[i], err, errlen);
    return rc;
}

static int parse_options(const struct cg_value *opts, const char **url,
                         long *timeout_ms, long *connect_ms, char *err,
                         size_t errlen)
{
    int rc = dec_string_option(opts, "url", url, err, errlen);
    if (rc == CG_OK && !*url)
        rc = dec_bad_option(err, errlen, "url: is required");
    if (rc == CG_OK)
        rc = check_url(*url, err, errlen);
    if (rc == CG_OK)
        rc = ms_option(opts, "timeout_ms", timeout_ms, err, errlen);
    if (rc == CG_OK)
        rc = ms_option(opts, "connect_timeout_ms", connect_ms, err, errlen);
    if (rc == CG_OK)
        rc = check_headers(opts, err, errlen);
    if (rc == CG_OK)
        rc = check_security(opts, err, errlen);
    int payload;
    if (rc == CG_OK)
        rc = parse_format(opts, &payload, err, errlen);
    return rc;
}

static int http_check(const struct cg_value *opts, char *err, size_t errlen)
{
    const char *url = NULL;
    long timeout_ms = DEFAULT_TIMEOUT_MS,
         connect_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    return parse_options(opts, &url, &timeout_ms, &connect_ms, err, errlen);
}

/* libcurl copies every string option it is given, so the secrets read
 * here are freed at once. */
static int apply_security(struct http_sink *s, const struct cg_value *opts,
                          char *err, size_t errlen)
{
    const struct cg_value *tls = dec_option(opts, "tls");
    const struct cg_value *auth = dec_option(opts, "auth");
    const struct cg_value *bearer = dec_option(opts, "bearer_token_file");
    const struct cg_value *v;
    CURL *c = s->curl;
    int rc = 0;
    if (tls && (v = dec_option(tls, "ca_file")))
        rc |= (int)curl_easy_setopt(c, CURLOPT_CAINFO, v->as.str);
    if (tls && (v = dec_option(tls, "cert_file")))
        rc |= (int)curl_easy_setopt(c, CURLOPT_SSLCERT, v->as.str);
    if (tls && (v = dec_option(tls, "key_file")))
        rc |= (int)curl_easy_setopt(c, CURLOPT_SSLKEY, v->as.str);
    if (tls && (v = dec_option(tls, "verify")) && v->type == CG_BOOL &&
        !v->as.boolean) {
        rc |= (int)curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        rc |= (int)curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    char *secret = NULL;
    int src = CG_OK;
    if (auth && (src = read_secret(dec_option(auth, "password_file")->as.str,
                                   &secret, err, errlen)) == CG_OK) {
        rc |= (int)curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        rc |= (int)curl_easy_setopt(c, CURLOPT_USERNAME,
                                    dec_option(auth, "basic_user")->as.str);
        rc |= (int)curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
    } else if (bearer && (src = read_secret(bearer->as.str, &secret, err,
                                            errlen)) == CG_OK) {
        rc |= (int)curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        rc |= (int)curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, secret);
    }
    cg_free(secret);
    if (src != CG_OK)
        return src;
    return rc ? dec_bad_option(err, errlen, "tls: libcurl refused an option")
              : CG_OK;
}

/* The URL requests go to: the configured one, or for NGSI-LD the batch
 * upsert path below its path (before a query, which stays). */
static char *request_url(const char *url, int payload)
{
    const char *path = payloads[payload].path;
    size_t n = strcspn(url, "?#"), end = n;
    if (!*path)
        return cg_strdup(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    char *out = cg_malloc(strlen(url) + strlen(path) + 1);
    if (out) {
        memcpy(out, url, n);
        strcpy(out + n, path);
        strcat(out, url + end);
    }
    return out;
}

static int http_create(const struct cg_host *host, const struct cg_value *opts,
                       void **inst, char *err, size_t errlen)
{
    const char *url = NULL;
    long timeout_ms = DEFAULT_TIMEOUT_MS,
         connect_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    int rc = parse_options(opts, &url, &timeout_ms, &connect_ms, err, errlen);
    if (rc != CG_OK)
        return rc;
    struct http_sink *s = cg_calloc(1, sizeof(*s));
    if (!s)
        return CG_ENOMEM;
    s->host = host;
    parse_format(opts, &s->payload, err, errlen); /* checked just now */
    s->curl = curl_easy_init();
    char *full = request_url(url, s->payload);
    rc = s->curl && full ? build_headers(s, opts, err, errlen) : CG_ENOMEM;
    if (rc == CG_OK)
        rc = setup_handle(s, full, timeout_ms, connect_ms, err, errlen);
    if (rc == CG_OK)
        rc = apply_security(s, opts, err, errlen);
    cg_free(full); /* libcurl keeps its own copy of the URL */
    if (rc != CG_OK) {
        http_destroy(s);
        return rc;
    }
    *inst = s;
    return CG_OK;
}

/* ---- delivery --------------------------------------------------------- */

/* An entity's observation time (its properties' observedAt, RFC 3339
 * UTC with milliseconds: text order is time order), or "" without one.
 * A data string cannot fake it: its quotes are escaped. */
static const char *observed_at(const struct cg_event *e)
{
    static const char key[] = "\"observedAt\":\"";
    const char *at = strstr(e->json, key);
    return at ? at + sizeof(key) - 1 : "";
}

struct by_time {
    const char *at;
    size_t i;
};

static int earlier(const void *a, const void *b)
{
    const struct by_time *x = a, *y = b;
    int c = strncmp(x->at, y->at, 24);
    return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* The order the batch's events go in: as they came, or for NGSI-LD by
 * observation time. A batch upsert applies its entities in order and a
 * backlog drains critical first (SPEC §12): sorted, the entity a context
 * broker keeps for a device is its latest reading. */
static struct by_time *body_order(const struct cg_batch *batch, bool by_time)
{
    struct by_time *o = cg_malloc(batch->n * sizeof(*o));
    if (!o)
        return NULL;
    for (size_t i = 0; i < batch->n; i++)
        o[i] =
            (struct by_time){by_time ? observed_at(&batch->events[i]) : "", i};
    if (by_time)
        qsort(o, batch->n, sizeof(*o), earlier);
    return o;
}

/* The body: the events' JSON texts joined as they are, never
 * re-serialized. Returns false when out of memory. */
static bool build_body(struct cg_buf *b, const struct cg_batch *batch,
                       bool by_time)
{
    struct by_time *order = body_order(batch, by_time);
    if (!order)
        return false;
    cg_buf_reset(b);
    cg_buf_putc(b, '[');
    for (size_t k = 0; k < batch->n; k++) {
        const struct cg_event *e = &batch->events[order[k].i];
        if (k)
            cg_buf_putc(b, ',');
        cg_buf_put(b, e->json, e->json_len);
    }
    cg_buf_putc(b, ']');
    cg_free(order);
    return !b->oom;
}

/* Writes a short, printable, one-line copy of s[0..n) to out: control
 * characters and non-ASCII bytes become '?', runs of white space one
 * space, and a cut is marked with "...". */
static void sanitize(char *out, size_t size, const char *s, size_t n)
{
    size_t w = 0, limit = size - 4;
    for (size_t i = 0; i < n && w < limit; i++) {
        unsigned char c = (unsigned char)s[i];
        bool space = c == ' ' || c == '\t' || c == '\r' || c == '\n';
        if (space && (w == 0 || out[w - 1] == ' '))
            continue;
        out[w++] = space ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
        if (w == limit && i + 1 < n) {
            memcpy(out + w, "...", 3);
            w += 3;
        }
    }
    while (w > 0 && out[w - 1] == ' ')
        w--;
    out[w] = '\0';
}

/* Retry-After is either delta-seconds or an HTTP date; the result is
 * clamped to [0, MAX_RETRY_AFTER_S]. 0 when absent or unreadable. */
static uint32_t retry_after_ms(const struct http_sink *s)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(s->curl, "Retry-After", 0, CURLH_HEADER, -1, &h) !=
        CURLHE_OK)
        return 0;
    const char *v = h->value;
    double secs;
    if (v[0] >= '0' && v[0] <= '9' && strspn(v, "0123456789") == strlen(v)) {
        secs = strlen(v) > 9 ? MAX_RETRY_AFTER_S : (double)atol(v);
    } else {
        time_t at = curl_getdate(v, NULL);
        if (at == (time_t)-1)
            return 0;
        secs = (double)at - s->host->now();
    }
    secs = secs < 0 ? 0 : secs > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : secs;
    return (uint32_t)(secs * 1000.0);
}

/* Writes the URL with any userinfo password as "***" to out, or "" when
 * it cannot be parsed. libcurl resolves a relative Location against the
 * configured URL, credentials included, and the detail ends up in log
 * lines and dead letters. */
static void redact_url(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *pass = NULL, *shown = NULL;
    out[0] = '\0';
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return;
    }
    if (curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
        curl_url_set(u, CURLUPART_PASSWORD, "***", 0);
    if (curl_url_get(u, CURLUPART_URL, &shown, 0) == CURLUE_OK)
        sanitize(out, size, shown, strlen(shown));
    curl_free(pass);
    curl_free(shown);
    curl_url_cleanup(u);
}

/* The detail for an HTTP status: "HTTP 400: <start of the body>". */
static void status_detail(struct http_sink *s, long code,
                          struct cg_delivery_result *res)
{
    char text[BODY_SHOW + 4];
    char *location = NULL;
    if (code >= 300 && code < 400 &&
        curl_easy_getinfo(s->curl, CURLINFO_REDIRECT_URL, &location) ==
            CURLE_OK &&
        location) {
        redact_url(location, text, sizeof(text));
        snprintf(res->detail, sizeof(res->detail),
                 "HTTP %ld: redirect to %s not followed", code,
                 text[0] ? text : "an unreadable URL");
        return;
    }
    sanitize(text, sizeof(text), s->reply, s->reply_len);
    snprintf(res->detail, sizeof(res->detail), "HTTP %ld: %s", code,
             text[0] ? text : "(empty body)");
}

/* Maps a completed exchange to CG_OK, CG_RETRY or CG_EREJECTED. Status
 * codes outside 200..499 that are not 5xx cannot come from a sane server;
 * they are retried, since nothing suggests the batch itself is bad. */
static int classify(struct http_sink *s, long code,
                    struct cg_delivery_result *res)
{
    res->status = (int)code;
    if (code >= 200 && code < 300)
        return CG_OK;
    status_detail(s, code, res);
    bool transient = code == 408 || code == 429 || code >= 500 || code < 300;
    if (!transient)
        return CG_EREJECTED;
    res->retry_after_ms = retry_after_ms(s);
    return CG_RETRY;
}

/* One request with the body in s->body. */
static int post(struct http_sink *s, struct cg_delivery_result *res)
{
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)s->body.len);
    s->reply_len = 0;
    s->errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(s->curl);
    if (rc != CURLE_OK) {
        /* Every transport failure is transient: DNS, refused, reset, TLS,
         * timeouts. The consumer may have the batch already (a timeout
         * after the upload); sending it again is at-least-once, and the
         * duplicates carry the same ids. */
        const char *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
        sanitize(res->detail, sizeof(res->detail), why, strlen(why));
        return CG_RETRY;
    }
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    return classify(s, code, res);
}

/* A CAP alert is a document of its own: one request each. A retry sends
 * the batch again from its first alert (at-least-once: the same
 * identifiers). */
static int post_each(struct http_sink *s, const struct cg_batch *batch,
                     struct cg_delivery_result *res)
{
    for (size_t i = 0; i < batch->n; i++) {
        cg_buf_reset(&s->body);
        cg_buf_put(&s->body, batch->events[i].json, batch->events[i].json_len);
        if (s->body.oom) {
            snprintf(res->detail, sizeof(res->detail), "out of memory");
            return CG_RETRY;
        }
        int rc = post(s, res);
        if (rc != CG_OK)
            return rc;
    }
    return CG_OK;
}

static int http_deliver(void *inst, const struct cg_batch *batch,
                        struct cg_delivery_result *res)
{
    struct http_sink *s = inst;
    *res = (struct cg_delivery_result){0};
    if (batch->n == 0)
        return CG_OK; /* a tick: nothing is buffered here */
    if (s->payload == PAYLOAD_CAP)
        return post_each(s, batch, res);
    if (!build_body(&s->body, batch, s->payload == PAYLOAD_NGSI_LD)) {
        snprintf(res->detail, sizeof(res->detail), "out of memory");
        return CG_RETRY;
    }
    return post(s, res);
}

static const struct cg_option http_options[] = {
    {"url", CG_OPT_TARGET, 1, "http:// or https:// URL the batches go to"},
    {"headers", CG_OPT_MAP, 0, "extra request headers: name -> value"},
    {"batch", CG_OPT_BATCH, 0, "{max_events: 100, max_wait_ms: 200}"},
    {"tls", CG_OPT_MAP, 0, "{ca_file, cert_file, key_file, verify: true}"},
    {"auth", CG_OPT_MAP, 0, "{basic_user, password_file}: HTTP basic auth"},
    {"bearer_token_file", CG_OPT_FILE, 0, "a file holding a bearer token"},
    {"format", CG_OPT_FORMAT, 0, "set by the gateway: the payload format"},
    {"timeout_ms", CG_OPT_INT, 0, "whole request, in ms (default 5000)"},
    {"connect_timeout_ms", CG_OPT_INT, 0, "connect, in ms (default 2000)"},
    {NULL, 0, 0, NULL},
};

/* Files whose contents are secrets: the host warns when others can read
 * them. The CA and certificate files are public. */
static const char *const http_secret_files[] = {
    "auth.password_file", "bearer_token_file", "tls.key_file", NULL};

const struct cg_plugin cg_builtin_sink_http = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "http",
    .kind = "sink",
    .options = http_options,
    .create = http_create,
    .destroy = http_destroy,
    .decode = NULL,
    .deliver = http_deliver,
    .check = http_check,
    .secret_files = http_secret_files,
};
