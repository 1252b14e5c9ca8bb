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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connack_table),
        cmocka_unit_test(test_probe_unreachable),
        cmocka_unit_test(test_probe_declines_bad_uris),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
