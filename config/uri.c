/*
 * URIs as citygate prints them: without the password that a broker or
 * HTTP URI may carry in its userinfo part (RFC 3986:
 * scheme://user:password@host:port/path).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

const char *cg_uri_redacted(const char *uri, char *buf, size_t size)
{
    const char *auth = strstr(uri, "://");
    auth = auth ? auth + 3 : uri;
    /* The authority ends at the path, query or fragment; a password may
     * hold '@' (unencoded, by mistake), so the host follows the last. */
    const char *end = auth + strcspn(auth, "/?#"), *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon)
        snprintf(buf, size, "%.*s***%s", (int)(colon + 1 - uri), uri, at);
    else
        snprintf(buf, size, "%s", uri);
    return buf;
}

/* Is [p, end) ":port" with a port from 1 to 65535 in digits? */
static bool port_ok(const char *p, const char *end)
{
    if (*p != ':' || ++p == end || end - p > 5)
        return false;
    long port = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535;
}

const char *cg_broker_uri_problem(const char *uri)
{
    static const char *const schemes[] = {"tcp://", "mqtt://", "ssl://",
                                          "mqtts://"};
    const char *auth = NULL;
    for (size_t i = 0; i < 4 && !auth; i++)
        if (!strncmp(uri, schemes[i], strlen(schemes[i])))
            auth = uri + strlen(schemes[i]);
    if (!auth)
        return "must start with tcp://, mqtt://, ssl:// or mqtts://";
    const char *end = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(end - auth)))
        return "must not carry a user or password (user:pass@host): give "
               "username and password_file instead";
    const char *host_end = auth;
    if (*auth == '[') { /* an IPv6 literal */
        host_end = memchr(auth, ']', (size_t)(end - auth));
        if (!host_end)
            return "has an IPv6 address without its closing ']'";
        host_end++;
    } else {
        while (host_end < end && *host_end != ':')
            host_end++;
    }
    if (host_end == auth || (*auth == '[' && host_end - auth < 3))
        return "has no host (scheme://host:port)";
    if (host_end < end && !port_ok(host_end, end))
        return "has a port that is not a number from 1 to 65535";
    if (*end)
        return "must be scheme://host:port, with nothing after the port";
    return NULL;
}
