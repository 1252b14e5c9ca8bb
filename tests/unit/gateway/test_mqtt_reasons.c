/*
 * Why a connection fails, in an operator's words (gateway/mqtt/): CONNACK
 * return codes of MQTT 3.1.1 and reason codes of MQTT 5 map to their
 * meaning, other codes to nothing; the TLS probe says a port that does not
 * answer cannot be reached, and declines URIs it cannot read. (The probe
 * against real certificates runs in tests/integration/test_tls.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "mqtt/internal.h"

static void test_connack_table(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *words; /* a part of the reason; NULL: none */
    } cases[] = {
        {0, NULL},
        {1, "unacceptable protocol version"},
        {2, "client identifier rejected"},
        {3, "server unavailable"},
        {4, "bad user name or password"},
        {5, "bad user name or password"}, /* mosquitto's answer to one */
        {5, "not authorized"},
        {6, NULL},
        {-1, NULL},
        {0x86, "bad user name or password"},
        {0x87, "not authorized"},
        {0x8A, "banned"},
        {0x9C, "use another server"},
        {0x8B, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = mqtt__connack_reason(cases[i].code);
        if (!cases[i].words && got)
            fail_msg("code %d: want none, got '%s'", cases[i].code, got);
        if (cases[i].words && (!got || !strstr(got, cases[i].words)))
            fail_msg("code %d: want '%s', got '%s'", cases[i].code,
                     cases[i].words, got ? got : "(none)");
    }
}

/* A loopback port with nobody listening: bound, never listened on. */
static int closed_port(int *fd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(*fd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

static void test_probe_unreachable(void **state)
{
    (void)state;
    int fd;
    char uri[64], out[256];
    snprintf(uri, sizeof(uri), "ssl://127.0.0.1:%d", closed_port(&fd));
    struct cg_broker_conf b = {.uri = uri};
    b.tls.enabled = true;
    b.tls.verify = true;
    assert_true(mqtt__tls_probe(&b, out, sizeof(out)));
    assert_non_null(strstr(out, "cannot reach 127.0.0.1:"));
    assert_non_null(strstr(out, "Connection refused"));
    close(fd);
}

static void test_probe_declines_bad_uris(void **state)
{
    (void)state;
    static const char *uris[] = {"ssl://", "ssl://[::1:8883", "ssl://:8883",
                                 "ssl://host:1234567890"};
    char out[256];
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        struct cg_broker_conf b = {.uri = uris[i]};
        if (mqtt__tls_probe(&b, out, sizeof(out)))
            fail_msg("%s: want no verdict, got '%s'", uris[i], out);
    }
}

static void test_openssl_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"C0E63F1DF77F0000:error:0A000086:SSL routines:tls_post_process_"
         "server_certificate:certificate verify failed:../ssl/statem/"
         "statem_clnt.c:1889:\n",
         "certificate verify failed"},
        {"1:error:2:lib:func:wrong version number\n", "wrong version number"},
        {"no colons here\n", "no colons here"},
        {"a:b:c", "a:b:c"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        mqtt__openssl_reason(cases[i].line, strlen(cases[i].line), out,
                             sizeof(out));
        if (strcmp(out, cases[i].want))
            fail_msg("'%s': want '%s', got '%s'", cases[i].line, cases[i].want,
                     out);
    }
}

/* Without TLS nothing is probed: the CONNACK's words, else the library's
 * message with the OpenSSL error it saw. */
static void test_failure_words(void **state)
{
    (void)state;
    static const struct {
        int connack;
        const char *message, *tls, *want;
    } cases[] = {
        {4, "CONNACK return code", "", "bad user name or password (CONNACK 4)"},
        {0x87, "x", "",
         "not authorized (bad user name or password, or this client may "
         "not connect) (CONNACK 135)"},
        {0, "TCP/TLS connect failure", "", "TCP/TLS connect failure"},
        {0, "TCP/TLS connect failure", "certificate verify failed",
         "TCP/TLS connect failure: certificate verify failed"},
        {9, "odd code", "", "odd code"},
    };
    struct cg_broker_conf b = {.uri = "tcp://127.0.0.1:1"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        mqtt__failure_reason(&b, cases[i].connack, false, cases[i].message,
                             cases[i].tls, out, sizeof(out));
        if (strcmp(out, cases[i].want))
            fail_msg("case %zu: want '%s', got '%s'", i, cases[i].want, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connack_table),
        cmocka_unit_test(test_probe_unreachable),
        cmocka_unit_test(test_probe_declines_bad_uris),
        cmocka_unit_test(test_openssl_lines),
        cmocka_unit_test(test_failure_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
