/*
 * Why a TLS connection fails, in OpenSSL's own words (internal.h), and
 * the words for any failed connect attempt.
 *
 * The MQTT libraries say too little: Paho reports "TCP/TLS connect
 * failure" for a refused port, an unknown CA and a host name mismatch
 * alike (it checks the host name itself, after the handshake, and says
 * nothing of it), and libmosquitto "certificate verify failed" for the
 * last two. A handshake of our own with the same CA file, client
 * certificate and host name check asks OpenSSL for the verification
 * result, which names the cause.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "internal.h"

#define PROBE_TIMEOUT_MS 3000

struct target {
    char host[256], port[8];
    bool is_ip;
};

/* ssl://[user[:pass]@]host[:port], mqtts://..., host in [] for IPv6. */
static bool parse_target(const char *uri, struct target *t)
{
    const char *p = strstr(uri, "://");
    p = p ? p + 3 : uri;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(end - p));
    p = at ? at + 1 : p;
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (!host_end)
            return false;
        p = host_end + 1;
    } else {
        host_end = memchr(p, ':', (size_t)(end - p));
        host_end = host_end ? host_end : end;
        p = host_end;
    }
    size_t hlen = (size_t)(host_end - host);
    size_t plen = *p == ':' ? (size_t)(end - p - 1) : 0;
    if (hlen == 0 || hlen >= sizeof(t->host) || plen >= sizeof(t->port))
        return false;
    memcpy(t->host, host, hlen);
    t->host[hlen] = '\0';
    snprintf(t->port, sizeof(t->port), "%.*s", (int)plen, plen ? p + 1 : "");
    if (!plen)
        snprintf(t->port, sizeof(t->port), "8883");
    unsigned char addr[16];
    t->is_ip = inet_pton(AF_INET, t->host, addr) == 1 ||
               inet_pton(AF_INET6, t->host, addr) == 1;
    return true;
}

/* A connected, blocking socket with timeouts, or -1 with why filled. */
static int tcp_connect(const struct target *t, char *why, size_t size)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &ai);
    if (rc != 0) {
        snprintf(why, size, "cannot resolve %s: %s", t->host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0) {
        fcntl(fd, F_SETFL, O_NONBLOCK);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
            errno != EINPROGRESS)
            err = errno;
    }
    freeaddrinfo(ai);
    struct pollfd pfd = {fd, POLLOUT, 0};
    socklen_t len = sizeof(err);
    if (!err && poll(&pfd, 1, PROBE_TIMEOUT_MS) <= 0)
        err = ETIMEDOUT;
    else if (!err)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        snprintf(why, size, "cannot reach %s:%s: %s", t->host, t->port,
                 strerror(err));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, 0);
    struct timeval tv = {PROBE_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* The context the MQTT client would use: the CA file (or the system's
 * CAs), the client certificate, and verification when asked for. */
static SSL_CTX *client_context(const struct cg_tls_conf *tls)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    if (tls->ca_file)
        SSL_CTX_load_verify_locations(ctx, tls->ca_file, NULL);
    else
        SSL_CTX_set_default_verify_paths(ctx);
    if (tls->cert_file)
        SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file);
    if (tls->key_file)
        SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM);
    bool verify = !tls->enabled || tls->verify;
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return ctx;
}

static bool is_unknown_ca(long v)
{
    return v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
           v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
           v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
           v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
           v == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
           v == X509_V_ERR_CERT_UNTRUSTED;
}

/* The handshake's failure in words, or false when it succeeded. */
static bool explain(SSL *ssl, const struct target *t,
                    const struct cg_tls_conf *tls, char *out, size_t size)
{
    ERR_clear_error();
    if (SSL_connect(ssl) == 1)
        return false;
    long v = SSL_get_verify_result(ssl);
    const char *words = X509_verify_cert_error_string(v);
    if (v == X509_V_ERR_HOSTNAME_MISMATCH ||
        v == X509_V_ERR_IP_ADDRESS_MISMATCH)
        snprintf(out, size,
                 "hostname mismatch: the broker's certificate does not name "
                 "%s",
                 t->host);
    else if (is_unknown_ca(v))
        snprintf(out, size,
                 "unknown CA: the broker's certificate is not signed by a CA "
                 "in %s (%s)",
                 tls->ca_file ? tls->ca_file : "the system's store", words);
    else if (v != X509_V_OK)
        snprintf(out, size, "certificate verify failed: %s", words);
    else
        snprintf(out, size, "TLS handshake failed: %s",
                 ERR_peek_error() ? ERR_reason_error_string(ERR_peek_error())
                                  : "the broker closed the connection");
    return true;
}

static bool handshake(int fd, const struct target *t,
                      const struct cg_tls_conf *tls, char *out, size_t size)
{
    SSL_CTX *ctx = client_context(tls);
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    bool found = false;
    if (ssl) {
        SSL_set_fd(ssl, fd);
        if (t->is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t->host);
        } else {
            SSL_set_tlsext_host_name(ssl, t->host);
            SSL_set1_host(ssl, t->host);
        }
        found = explain(ssl, t, tls, out, size);
        SSL_free(ssl);
    }
    SSL_CTX_free(ctx);
    ERR_clear_error(); /* this thread's queue: leave none behind */
    return found;
}

bool mqtt__tls_probe(const struct cg_broker_conf *b, char *out, size_t size)
{
    struct target t;
    if (!parse_target(b->uri, &t))
        return false;
    int fd = tcp_connect(&t, out, size);
    if (fd < 0)
        return true;
    bool found = handshake(fd, &t, &b->tls, out, size);
    close(fd);
    return found;
}

/* ---- the words for a failed attempt ------------------------------------ */

void mqtt__failure_reason(const struct cg_broker_conf *b, int connack,
                          bool tls_failed, const char *message,
                          const char *tls_error, char *out, size_t size)
{
    const char *words = connack > 0 ? mqtt__connack_reason(connack) : NULL;
    if (words)
        snprintf(out, size, "%s (CONNACK %d)", words, connack);
    else if (!tls_failed || !mqtt__tls_probe(b, out, size))
        snprintf(out, size, "%s%s%s", message, tls_error[0] ? ": " : "",
                 tls_error);
}

void mqtt__openssl_reason(const char *line, size_t len, char *out, size_t size)
{
    const char *f = line, *end = line + len;
    int colons = 0;
    while (f < end && colons < 5)
        colons += *f++ == ':';
    if (colons < 5)
        f = line; /* not OpenSSL's format: keep it all */
    const char *stop = colons < 5 ? NULL : memchr(f, ':', (size_t)(end - f));
    const char *last = stop ? stop : end;
    while (last > f && (last[-1] == '\n' || last[-1] == ' '))
        last--;
    snprintf(out, size, "%.*s", (int)(last - f), f);
}
