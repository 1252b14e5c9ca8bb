/*
 * The keys of a rule test case beyond topic, payload and expect (SPEC
 * §14): binary payloads written as hex or base64, and what a case must
 * say about its message: the events it expects, or the dead-letter
 * reason it expects, or both.
 */
#include <string.h>

#include "internal.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Hex digits, two per byte; spaces between bytes are allowed, so that
 * "01 67 00 ff" reads as a frame is usually written. */
int testcase__payload_hex(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_test_conf *t = base;
    const char *s = scalar_dup(L, n);
    if (!s)
        return 1;
    size_t len = strlen(s), used = 0;
    uint8_t *out = loader_alloc(L, len / 2 + 1);
    if (!out)
        return 1;
    for (size_t i = 0; i < len; i++) {
        if (is_space(s[i]))
            continue;
        int hi = hex_digit(s[i]), lo = i + 1 < len ? hex_digit(s[i + 1]) : -1;
        if (hi < 0 || lo < 0) {
            loader_error(L, n,
                         "expected pairs of hex digits, got '%.1s' at "
                         "character %zu",
                         hi < 0 ? &s[i] : (i + 1 < len ? &s[i + 1] : "?"),
                         hi < 0 ? i + 1 : i + 2);
            return 1;
        }
        out[used++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    t->payload = (const char *)out;
    t->payload_len = used;
    return 0;
}

int testcase__payload_base64(struct loader *L, yaml_node_t *n, void *base)
{
    struct cg_test_conf *t = base;
    const char *s = scalar_dup(L, n);
    if (!s)
        return 1;
    size_t len = strlen(s);
    uint8_t *out = loader_alloc(L, len * 3 / 4 + 3);
    if (!out)
        return 1;
    long got = cg_base64_decode(s, len, out);
    if (got < 0) {
        loader_error(L, n, "expected base64 (RFC 4648, with padding)");
        return 1;
    }
    t->payload = (const char *)out;
    t->payload_len = (size_t)got;
    return 0;
}

/* A case gives at most one payload (none: the clock only moves, SPEC
 * §13), and says what should happen: events (expect), a dead letter
 * (expect_dead), or both. */
void testcase__check(struct loader *L, yaml_node_t *item)
{
    static const char *const payloads[] = {"payload", "payload_hex",
                                           "payload_base64"};
    size_t given = 0;
    if (item->type != YAML_MAPPING_NODE)
        return;
    for (size_t i = 0; i < 3; i++)
        given += map_get(L, item, payloads[i]) != NULL;
    if (given > 1)
        loader_error(L, item,
                     "give only one of payload, payload_hex and "
                     "payload_base64");
    if (!map_get(L, item, "expect") && !map_get(L, item, "expect_dead"))
        loader_error(L, item,
                     "missing required key 'expect' (or 'expect_dead')");
}
