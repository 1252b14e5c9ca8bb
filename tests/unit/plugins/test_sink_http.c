/*
 * Tests for the http sink against a real HTTP server inside this process
 * (http_test_server.h, on a free loopback port): the exact JSON array
 * body and headers, keep-alive, the verdict for every class of status
 * (2xx ok; 408, 429, 5xx retry with Retry-After in seconds or as a date;
 * other 4xx and 3xx rejected with a sanitized detail), a server that
 * hangs past the timeout, a refused connection, proxies in the
 * environment, many consumers at once, and running out of memory.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http_test_server.h"
#include "sink_host.h"

struct env {
    struct http_server srv;
    char opts[512];
};

static int setup(void **state)
{
    struct env *e = cg_calloc(1, sizeof(*e));
    if (!e || http_server_start(&e->srv) != 0)
        return -1;
    sink_host_reset();
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    http_server_stop(&e->srv);
    cg_free(e);
    return 0;
}

/* Options for the test server's /events plus extra members. */
static const char *opts(struct env *e, const char *extra)
{
    snprintf(e->opts, sizeof(e->opts),
             "{\"url\":\"http://127.0.0.1:%u/events\"%s}", e->srv.port, extra);
    return e->opts;
}

static const char *const abc[] = {
    "{\"id\":\"9f2c4e1a0b7d3e55\",\"data\":{\"pm25\":80.2}}",
    "{\"id\":\"0000000000000001\",\"data\":{\"district\":\"haidian\"}}",
    "{\"id\":\"0000000000000002\",\"data\":{}}",
};
#define ABC_BODY                                                               \
    "[{\"id\":\"9f2c4e1a0b7d3e55\",\"data\":{\"pm25\":80.2}},"                 \
    "{\"id\":\"0000000000000001\",\"data\":{\"district\":\"haidian\"}},"       \
    "{\"id\":\"0000000000000002\",\"data\":{}}]"

static int deliver(void *s, const char *const *json, size_t n,
                   struct cg_delivery_result *res)
{
    struct test_batch t;
    return cg_builtin_sink_http.deliver(s, make_batch(&t, json, n), res);
}

/* Copies of what the server saw last; the caller frees both. */
static void last_request(struct env *e, char **head, char **body)
{
    pthread_mutex_lock(&e->srv.mu);
    *head = cg_strdup(e->srv.head.data ? e->srv.head.data : "");
    *body = cg_strdup(e->srv.body.data ? e->srv.body.data : "");
    pthread_mutex_unlock(&e->srv.mu);
}

static int server_count(struct env *e, const int *field)
{
    pthread_mutex_lock(&e->srv.mu);
    int n = *field;
    pthread_mutex_unlock(&e->srv.mu);
    return n;
}

static void test_descriptor(void **state)
{
    const struct cg_plugin *p = &cg_builtin_sink_http;
    static const char *const names[] = {
        "url",    "headers",    "batch",
        "tls",    "auth",       "bearer_token_file",
        "format", "timeout_ms", "connect_timeout_ms"};
    static const int types[] = {CG_OPT_TARGET, CG_OPT_MAP, CG_OPT_BATCH,
                                CG_OPT_MAP,    CG_OPT_MAP, CG_OPT_FILE,
                                CG_OPT_FORMAT, CG_OPT_INT, CG_OPT_INT};
    assert_int_equal(p->abi_version, CG_PLUGIN_ABI);
    assert_string_equal(p->name, "http");
    assert_string_equal(p->kind, "sink");
    for (int i = 0; i < 9; i++) {
        assert_string_equal(p->options[i].name, names[i]);
        assert_int_equal(p->options[i].type, types[i]);
        assert_int_equal(p->options[i].required, i == 0);
    }
    assert_null(p->options[9].name);
    static const char *const secrets[] = {"auth.password_file",
                                          "bearer_token_file", "tls.key_file"};
    for (int i = 0; i < 3; i++)
        assert_string_equal(p->secret_files[i], secrets[i]);
    assert_null(p->secret_files[3]);
}

static void test_bad_options(void **state)
{
    struct env *e = *state;
    const struct cg_plugin *p = &cg_builtin_sink_http;
    assert_create_fails(p, "{}", "url: is required");
    assert_create_fails(p, "{\"url\":\"ftp://127.0.0.1/x\"}", "http");
    assert_create_fails(p, "{\"url\":\"file:///etc/passwd\"}", "http");
    assert_create_fails(p, "{\"url\":\"not a url\"}", "http");
    assert_create_fails(p, opts(e, ",\"headers\":{\"Bad Name\":\"x\"}"),
                        "invalid name");
    assert_create_fails(p, opts(e, ",\"headers\":{\"X-A\":\"a\\r\\nB: c\"}"),
                        "line breaks");
    assert_create_fails(p, opts(e, ",\"headers\":{\"content-length\":\"9\"}"),
                        "set by the sink");
    assert_create_fails(p, opts(e, ",\"headers\":{\"X-N\":1}"),
                        "must be a string");
    assert_create_fails(p, opts(e, ",\"timeout_ms\":0"), "timeout_ms");
    assert_create_fails(p, opts(e, ",\"connect_timeout_ms\":-5"),
                        "connect_timeout_ms");
    assert_create_fails(p, opts(e, ",\"timeout_ms\":1.5"), "timeout_ms");
}

static void test_posts_json_array(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char *head, *body;
    void *s = sink_create(&cg_builtin_sink_http,
                          opts(e, ",\"headers\":{\"Authorization\":\"Bearer "
                                  "t0ken\",\"X-Empty\":\"\"}"));
    assert_int_equal(deliver(s, abc, 3, &res), CG_OK);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.detail, "");
    last_request(e, &head, &body);
    assert_string_equal(body, ABC_BODY);
    assert_true(!strncmp(head, "POST /events HTTP/1.1\r\n", 23));
    assert_non_null(strstr(head, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(head, "\r\nAuthorization: Bearer t0ken\r\n"));
    assert_non_null(strstr(head, "\r\nX-Empty:"));
    assert_non_null(strstr(head, "\r\nUser-Agent: citygate/"));
    assert_null(strstr(head, "\r\nExpect:"));
    cg_free(head);
    cg_free(body);
    /* One event is still an array. */
    assert_int_equal(deliver(s, abc + 2, 1, &res), CG_OK);
    last_request(e, &head, &body);
    assert_string_equal(body, "[{\"id\":\"0000000000000002\",\"data\":{}}]");
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
}

/* The host gives the consumer's format: NGSI-LD batches go to the batch
 * upsert path as JSON-LD; CAP alerts go one per request as CAP XML. */
static void test_payload_formats(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char *head, *body;
    void *s =
        sink_create(&cg_builtin_sink_http, opts(e, ",\"format\":\"ngsi-ld\""));
    assert_int_equal(deliver(s, abc, 2, &res), CG_OK);
    last_request(e, &head, &body);
    assert_true(!strncmp(head,
                         "POST /events/ngsi-ld/v1/entityOperations/upsert "
                         "HTTP/1.1\r\n",
                         58));
    assert_non_null(strstr(head, "\r\nContent-Type: application/ld+json\r\n"));
    assert_int_equal(body[0], '[');
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
    int before = e->srv.requests;
    s = sink_create(&cg_builtin_sink_http, opts(e, ",\"format\":\"cap\""));
    assert_int_equal(deliver(s, abc, 3, &res), CG_OK);
    assert_int_equal(e->srv.requests - before, 3);
    last_request(e, &head, &body);
    assert_non_null(strstr(head, "\r\nContent-Type: application/cap+xml\r\n"));
    assert_string_equal(body, abc[2]); /* the document as it is */
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
}

/* A backlog drains critical first; an NGSI-LD batch upsert applies its
 * entities in order, so they are sent by observation time and the broker
 * ends at each device's latest reading. Event batches keep their order. */
static void test_ngsi_batches_in_time_order(void **state)
{
#define ENTITY(level, at)                                                      \
    "{\"id\":\"urn:ngsi-ld:G:gw:g1\",\"type\":\"G\",\"level\":{\"type\":"      \
    "\"Property\",\"value\":" #level ",\"observedAt\":\"" at "\"}}"
    static const char *const backlog[] = {
        ENTITY(9, "2026-11-30T08:00:03.000Z"), /* critical */
        ENTITY(8, "2026-11-30T08:00:01.000Z"), /* critical */
        ENTITY(5, "2026-11-30T08:00:04.000Z"), /* warning, the latest */
        ENTITY(1, "2026-11-30T08:00:02.000Z"), /* info */
        "{\"id\":\"urn:ngsi-ld:G:gw:g2\",\"type\":\"G\"}", /* no time */
    };
    struct env *e = *state;
    struct cg_delivery_result res;
    char *head, *body;
    void *s =
        sink_create(&cg_builtin_sink_http, opts(e, ",\"format\":\"ngsi-ld\""));
    assert_int_equal(deliver(s, backlog, 5, &res), CG_OK);
    last_request(e, &head, &body);
    const char *at[5];
    for (int i = 0; i < 5; i++)
        assert_non_null(at[i] = strstr(body, backlog[i]));
    assert_true(at[4] < at[1] && at[1] < at[3] && at[3] < at[0] &&
                at[0] < at[2]);
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
    s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    assert_int_equal(deliver(s, backlog, 5, &res), CG_OK);
    last_request(e, &head, &body);
    for (int i = 0; i < 5; i++)
        assert_non_null(at[i] = strstr(body, backlog[i]));
    assert_true(at[0] < at[1] && at[1] < at[2] && at[2] < at[3] &&
                at[3] < at[4]);
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
#undef ENTITY
}

/* The upsert path goes below the URL's path, before its query; an event
 * consumer posts to its URL exactly as written. */
static void test_request_paths(void **state)
{
    static const struct {
        const char *path, *format, *request;
    } cases[] = {
        {"/base/?q=1", "ngsi-ld",
         "POST /base/ngsi-ld/v1/entityOperations/upsert?q=1 HTTP/1.1\r\n"},
        {"/", "ngsi-ld",
         "POST /ngsi-ld/v1/entityOperations/upsert HTTP/1.1\r\n"},
        {"/events/?k=v", "event", "POST /events/?k=v HTTP/1.1\r\n"},
    };
    struct env *e = *state;
    struct cg_delivery_result res;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char o[256], *head, *body;
        snprintf(o, sizeof(o),
                 "{\"url\":\"http://127.0.0.1:%u%s\","
                 "\"format\":\"%s\"}",
                 e->srv.port, cases[i].path, cases[i].format);
        void *s = sink_create(&cg_builtin_sink_http, o);
        assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
        last_request(e, &head, &body);
        if (strncmp(head, cases[i].request, strlen(cases[i].request)))
            fail_msg("%s: want %s, got %.80s", cases[i].path, cases[i].request,
                     head);
        cg_free(head);
        cg_free(body);
        cg_builtin_sink_http.destroy(s);
    }
}

static const char *secret_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/cg-secret-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_basic_and_bearer_auth(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char *head, *body, extra[256];
    const char *pw = secret_file("s3cret\n");
    snprintf(extra, sizeof(extra),
             ",\"auth\":{\"basic_user\":\"grid\",\"password_file\":\"%s\"}",
             pw);
    void *s = sink_create(&cg_builtin_sink_http, opts(e, extra));
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    last_request(e, &head, &body);
    /* base64("grid:s3cret") */
    assert_non_null(strstr(head, "\r\nAuthorization: Basic Z3JpZDpzM2NyZXQ="));
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
    unlink(pw);
    const char *tok = secret_file("tok-123\n");
    snprintf(extra, sizeof(extra), ",\"bearer_token_file\":\"%s\"", tok);
    s = sink_create(&cg_builtin_sink_http, opts(e, extra));
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    last_request(e, &head, &body);
    assert_non_null(strstr(head, "\r\nAuthorization: Bearer tok-123\r\n"));
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
    unlink(tok);
}

static void test_security_options_checked(void **state)
{
    struct env *e = *state;
    const struct cg_plugin *p = &cg_builtin_sink_http;
    assert_create_fails(p, opts(e, ",\"tls\":{\"cafile\":\"x\"}"),
                        "tls: unknown key 'cafile'");
    assert_create_fails(p, opts(e, ",\"tls\":{\"cert_file\":\"x\"}"),
                        "cert_file and key_file go together");
    assert_create_fails(p, opts(e, ",\"auth\":{\"basic_user\":\"u\"}"),
                        "auth: needs basic_user and password_file");
    assert_create_fails(p,
                        opts(e, ",\"auth\":{\"basic_user\":\"u\","
                                "\"password_file\":\"/nonexistent\"}"),
                        "cannot read the secret");
}

/* A configured Content-Type replaces the default instead of doubling. */
static void test_custom_content_type(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char *head, *body;
    void *s = sink_create(&cg_builtin_sink_http,
                          opts(e, ",\"headers\":{\"content-type\":"
                                  "\"application/json; charset=utf-8\"}"));
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    last_request(e, &head, &body);
    assert_non_null(
        strstr(head, "\r\ncontent-type: application/json; charset=utf-8\r\n"));
    assert_null(strstr(head, "Content-Type"));
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
}

static void test_tick_sends_nothing(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    assert_int_equal(cg_builtin_sink_http.deliver(s, &empty_batch, &res),
                     CG_OK);
    assert_int_equal(server_count(e, &e->srv.requests), 0);
    assert_int_equal(server_count(e, &e->srv.connections), 0);
    cg_builtin_sink_http.destroy(s);
}

static void test_keep_alive(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    for (int i = 0; i < 3; i++)
        assert_int_equal(deliver(s, abc, 2, &res), CG_OK);
    assert_int_equal(server_count(e, &e->srv.requests), 3);
    assert_int_equal(server_count(e, &e->srv.connections), 1);
    cg_builtin_sink_http.destroy(s);
}

struct verdict {
    int status;
    const char *headers;
    const char *body;
    int rc;
    uint32_t retry_after_ms;
    const char *detail;
};

static void expect_verdicts(struct env *e, const struct verdict *v, size_t n)
{
    struct cg_delivery_result res;
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    for (size_t i = 0; i < n; i++) {
        http_server_reply(&e->srv, v[i].status, v[i].headers, v[i].body);
        int rc = deliver(s, abc, 2, &res);
        if (rc != v[i].rc || res.status != v[i].status)
            fail_msg("HTTP %d: got rc %d status %d", v[i].status, rc,
                     res.status);
        if (res.retry_after_ms != v[i].retry_after_ms)
            fail_msg("HTTP %d: retry_after_ms %u, want %u", v[i].status,
                     res.retry_after_ms, v[i].retry_after_ms);
        if (v[i].detail && strcmp(res.detail, v[i].detail) != 0)
            fail_msg("HTTP %d: detail '%s', want '%s'", v[i].status, res.detail,
                     v[i].detail);
    }
    cg_builtin_sink_http.destroy(s);
}

static void test_success_statuses(void **state)
{
    static const struct verdict v[] = {
        {200, NULL, "ok", CG_OK, 0, ""},
        {201, NULL, NULL, CG_OK, 0, ""},
        {202, "Retry-After: 5\r\n", NULL, CG_OK, 0, ""},
        {204, NULL, NULL, CG_OK, 0, ""},
    };
    expect_verdicts(*state, v, sizeof(v) / sizeof(v[0]));
}

static void test_transient_statuses(void **state)
{
    static const struct verdict v[] = {
        {500, NULL, "boom", CG_RETRY, 0, "HTTP 500: boom"},
        {503, "Retry-After: 3\r\n", NULL, CG_RETRY, 3000, NULL},
        {429, "Retry-After: 120\r\n", "slow down", CG_RETRY, 120000, NULL},
        {408, NULL, NULL, CG_RETRY, 0, "HTTP 408: (empty body)"},
        {502, "Retry-After: 0\r\n", NULL, CG_RETRY, 0, NULL},
        {504, NULL, NULL, CG_RETRY, 0, NULL},
        {599, NULL, NULL, CG_RETRY, 0, NULL},
    };
    expect_verdicts(*state, v, sizeof(v) / sizeof(v[0]));
}

static void test_rejected_statuses(void **state)
{
    static const struct verdict v[] = {
        {400, NULL, "{\"error\":\"bad\r\n\tfield\"}\x01\xc3\xa9 end\n",
         CG_EREJECTED, 0, "HTTP 400: {\"error\":\"bad field\"}??? end"},
        {401, "Retry-After: 3\r\n", "", CG_EREJECTED, 0,
         "HTTP 401: (empty body)"},
        {403, NULL, NULL, CG_EREJECTED, 0, NULL},
        {404, NULL, NULL, CG_EREJECTED, 0, NULL},
        {413, NULL, NULL, CG_EREJECTED, 0, NULL},
        {422, NULL, NULL, CG_EREJECTED, 0, NULL},
    };
    expect_verdicts(*state, v, sizeof(v) / sizeof(v[0]));
}

/* A long body is cut to one short line ending in "...". */
static void test_long_body_is_cut(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char body[2000];
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    http_server_reply(&e->srv, 400, NULL, body);
    assert_int_equal(deliver(s, abc, 1, &res), CG_EREJECTED);
    assert_true(!strncmp(res.detail, "HTTP 400: xxxx", 14));
    assert_true(strlen(res.detail) < 120);
    assert_non_null(strstr(res.detail, "xxx..."));
    cg_builtin_sink_http.destroy(s);
}

/* Redirects are refused, never followed: the batch would go (with its
 * Authorization header) somewhere the operator never configured. */
static void test_redirect_not_followed(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char location[128];
    snprintf(location, sizeof(location),
             "Location: http://127.0.0.1:%u/elsewhere\r\n", e->srv.port);
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    http_server_reply(&e->srv, 301, location, NULL);
    assert_int_equal(deliver(s, abc, 2, &res), CG_EREJECTED);
    assert_int_equal(res.status, 301);
    assert_non_null(strstr(res.detail, "HTTP 301: redirect to http://"));
    assert_non_null(strstr(res.detail, "/elsewhere not followed"));
    http_server_reply(&e->srv, 307, NULL, NULL);
    assert_int_equal(deliver(s, abc, 2, &res), CG_EREJECTED);
    assert_int_equal(res.status, 307);
    assert_int_equal(server_count(e, &e->srv.requests), 2);
    cg_builtin_sink_http.destroy(s);
}

/* A redirect's target is named in the detail (a log line, a dead
 * letter) without the password of the configured URL, which libcurl
 * copies into a relative Location, or of the Location itself. */
static void test_redirect_hides_passwords(void **state)
{
    struct env *e = *state;
    static const struct {
        const char *location, *shown;
    } cases[] = {
        {"/elsewhere", "redirect to http://u:***@127.0.0.1:"},
        {"http://v:other@127.0.0.1:1/x",
         "redirect to http://v:***@127.0.0.1:1/x"},
        {"http://w@127.0.0.1:1/y", "redirect to http://w@127.0.0.1:1/y not"},
    };
    char url[512], header[256];
    snprintf(url, sizeof(url), "{\"url\":\"http://u:s3cret@127.0.0.1:%u/e\"}",
             e->srv.port);
    void *s = sink_create(&cg_builtin_sink_http, url);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cg_delivery_result res;
        snprintf(header, sizeof(header), "Location: %s\r\n", cases[i].location);
        http_server_reply(&e->srv, 302, header, NULL);
        assert_int_equal(deliver(s, abc, 1, &res), CG_EREJECTED);
        if (!strstr(res.detail, cases[i].shown) ||
            strstr(res.detail, "s3cret") || strstr(res.detail, "other"))
            fail_msg("case %zu: want \"%s\", got \"%s\"", i, cases[i].shown,
                     res.detail);
    }
    cg_builtin_sink_http.destroy(s);
}

static void http_date(double epoch, char *out, size_t size)
{
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

/* Dates count from the host's clock; the wait is clamped to an hour. */
static void test_retry_after_forms(void **state)
{
    static char later[64], past[64];
    http_date(sink_fake.now + 120, later, sizeof(later));
    http_date(sink_fake.now - 3600, past, sizeof(past));
    const struct verdict v[] = {
        {503, later, NULL, CG_RETRY, 120000, NULL},
        {503, past, NULL, CG_RETRY, 0, NULL},
        {503, "Retry-After: soon\r\n", NULL, CG_RETRY, 0, NULL},
        {503, "Retry-After: -5\r\n", NULL, CG_RETRY, 0, NULL},
        {503, "Retry-After: 7200\r\n", NULL, CG_RETRY, 3600000, NULL},
        {503, "Retry-After: 99999999999999999999\r\n", NULL, CG_RETRY, 3600000,
         NULL},
    };
    expect_verdicts(*state, v, sizeof(v) / sizeof(v[0]));
}

/* The host offers the same batch again; it arrives unchanged. */
static void test_retry_then_ok(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char *head, *body;
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    http_server_reply(&e->srv, 503, NULL, NULL);
    assert_int_equal(deliver(s, abc, 3, &res), CG_RETRY);
    http_server_reply(&e->srv, 200, NULL, NULL);
    assert_int_equal(deliver(s, abc, 3, &res), CG_OK);
    assert_int_equal(res.retry_after_ms, 0);
    assert_string_equal(res.detail, "");
    last_request(e, &head, &body);
    assert_string_equal(body, ABC_BODY);
    cg_free(head);
    cg_free(body);
    cg_builtin_sink_http.destroy(s);
}

static void test_timeout(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s =
        sink_create(&cg_builtin_sink_http, opts(e, ",\"timeout_ms\":300"));
    http_server_reply(&e->srv, 0, NULL, NULL); /* hang */
    double t0 = cg_time_mono();
    assert_int_equal(deliver(s, abc, 2, &res), CG_RETRY);
    double took = cg_time_mono() - t0;
    assert_true(took >= 0.25); /* it waited for the timeout, then gave up */
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.detail, "timed out"));
    /* The server answers again: the same instance recovers. */
    http_server_reply(&e->srv, 200, NULL, NULL);
    assert_int_equal(deliver(s, abc, 2, &res), CG_OK);
    cg_builtin_sink_http.destroy(s);
}

static void test_connection_refused(void **state)
{
    struct cg_delivery_result res;
    char o[128];
    snprintf(o, sizeof(o), "{\"url\":\"http://127.0.0.1:%u/x\"}",
             http_refusing_port());
    void *s = sink_create(&cg_builtin_sink_http, o);
    assert_int_equal(deliver(s, abc, 1, &res), CG_RETRY);
    assert_int_equal(res.status, 0);
    assert_true(strlen(res.detail) > 0);
    assert_non_null(strstr(res.detail, "connect"));
    cg_builtin_sink_http.destroy(s);
}

/* Proxy variables in the environment must not divert events: here they
 * point at a port where nothing listens. */
static void test_environment_proxy_ignored(void **state)
{
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY",
                                       "https_proxy", "ALL_PROXY"};
    struct env *e = *state;
    struct cg_delivery_result res;
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%u", http_refusing_port());
    for (int i = 0; i < 4; i++)
        setenv(vars[i], proxy, 1);
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    int rc = deliver(s, abc, 1, &res);
    for (int i = 0; i < 4; i++)
        unsetenv(vars[i]);
    assert_int_equal(rc, CG_OK);
    assert_int_equal(server_count(e, &e->srv.requests), 1);
    cg_builtin_sink_http.destroy(s);
}

/* Many consumers at once, each on its own thread with its own
 * instance: no shared state, every batch arrives, one connection each. */
enum { THREADS = 4, BATCHES = 25 };

static void *consumer_main(void *inst)
{
    struct cg_delivery_result res;
    long failures = 0;
    for (int i = 0; i < BATCHES; i++)
        failures += deliver(inst, abc, 1 + (size_t)i % 3, &res) != CG_OK;
    return (void *)failures;
}

static void test_concurrent_consumers(void **state)
{
    struct env *e = *state;
    pthread_t t[THREADS];
    void *inst[THREADS];
    for (int i = 0; i < THREADS; i++) {
        inst[i] = sink_create(&cg_builtin_sink_http, opts(e, ""));
        assert_int_equal(pthread_create(&t[i], NULL, consumer_main, inst[i]),
                         0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *failures;
        pthread_join(t[i], &failures);
        assert_null(failures);
        cg_builtin_sink_http.destroy(inst[i]);
    }
    assert_int_equal(server_count(e, &e->srv.requests), THREADS * BATCHES);
    assert_int_equal(server_count(e, &e->srv.connections), THREADS);
}

/* A big batch goes in one request, without waiting for 100-continue. */
static void test_large_batch(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    enum { N = 2000 };
    static char text[N][40];
    static struct cg_event ev[N];
    struct cg_buf want = {0};
    char *head, *body;
    cg_buf_putc(&want, '[');
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof(text[i]), "{\"i\":%d,\"pad\":\"%020d\"}", i,
                 i);
        ev[i] = (struct cg_event){.json = text[i], .json_len = strlen(text[i])};
        cg_buf_printf(&want, "%s%s", i ? "," : "", text[i]);
    }
    cg_buf_putc(&want, ']');
    struct cg_batch b = {ev, N};
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    assert_int_equal(cg_builtin_sink_http.deliver(s, &b, &res), CG_OK);
    last_request(e, &head, &body);
    assert_string_equal(body, want.data);
    assert_null(strstr(head, "\r\nExpect:"));
    cg_free(head);
    cg_free(body);
    cg_buf_free(&want);
    cg_builtin_sink_http.destroy(s);
}

static void test_out_of_memory(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    assert_create_survives_oom(
        &cg_builtin_sink_http,
        opts(e, ",\"headers\":{\"A\":\"1\",\"B\":\"2\",\"C\":\"\"}"));
    void *s = sink_create(&cg_builtin_sink_http, opts(e, ""));
    cg_mem_fail_after(0);
    int rc = deliver(s, abc, 3, &res);
    cg_mem_fail_after(-1);
    assert_int_equal(rc, CG_RETRY);
    assert_string_equal(res.detail, "out of memory");
    assert_int_equal(server_count(e, &e->srv.requests), 0);
    assert_int_equal(deliver(s, abc, 3, &res), CG_OK);
    cg_builtin_sink_http.destroy(s);
    cg_builtin_sink_http.destroy(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_descriptor),
        T(test_bad_options),
        T(test_posts_json_array),
        T(test_payload_formats),
        T(test_request_paths),
        T(test_ngsi_batches_in_time_order),
        T(test_basic_and_bearer_auth),
        T(test_security_options_checked),
        T(test_custom_content_type),
        T(test_tick_sends_nothing),
        T(test_keep_alive),
        T(test_success_statuses),
        T(test_transient_statuses),
        T(test_rejected_statuses),
        T(test_long_body_is_cut),
        T(test_redirect_not_followed),
        T(test_redirect_hides_passwords),
        T(test_retry_after_forms),
        T(test_retry_then_ok),
        T(test_timeout),
        T(test_connection_refused),
        T(test_environment_proxy_ignored),
        T(test_concurrent_consumers),
        T(test_large_batch),
        T(test_out_of_memory),
    };
    /* The host's job in the gateway: once, before any thread. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
