/*
 * URIs as citygate prints them: without the password that a broker or
 * HTTP URI may carry in its userinfo part (RFC 3986:
 * scheme://user:password@host:port/path).
 */
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
