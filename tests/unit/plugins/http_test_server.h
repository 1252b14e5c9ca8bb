/*
 * A tiny HTTP/1.1 server for the http sink tests, running inside the test
 * process on a free loopback port (bound to port 0, so tests never clash).
 *
 * One thread accepts; each connection gets its own thread that serves
 * requests until the client closes, so keep-alive and many concurrent
 * clients work. Every request is answered with the current `reply`; a
 * reply with status 0 hangs instead, until the client gives up. The
 * server records the last request (head and body) and counts requests
 * and connections. It understands only what libcurl sends for a POST
 * with a known length: a head, then Content-Length bytes of body.
 *
 * Shutting down: shutdown(2) on the listening socket wakes accept(), and
 * on each connection wakes its reader; then every thread is joined.
 */
#ifndef CG_TEST_HTTP_TEST_SERVER_H
#define CG_TEST_HTTP_TEST_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base.h"

#define HTTP_SERVER_MAX_CONNS 64

struct http_reply {
    int status;          /* 0: hang until the client goes away */
    const char *headers; /* extra header lines, each ending in "\r\n" */
    const char *body;
};

struct http_server {
    int lfd;
    uint16_t port;
    pthread_t acceptor;
    pthread_mutex_t mu;
    atomic_bool stopping;
    /* Guarded by mu. */
    struct http_reply reply;
    struct cg_buf head, body; /* of the last request */
    int requests, connections;
    int fds[HTTP_SERVER_MAX_CONNS];
    pthread_t threads[HTTP_SERVER_MAX_CONNS];
};

struct http_conn {
    struct http_server *srv;
    int fd;
};

/* Reads more bytes into b; false on EOF or error. */
static inline bool http_recv_more(int fd, struct cg_buf *b)
{
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0)
        return false;
    cg_buf_put(b, chunk, (size_t)n);
    return true;
}

/* The value of Content-Length in a head, or 0. */
static inline size_t http_content_length(const char *head)
{
    for (const char *p = strchr(head, '\n'); p; p = strchr(p + 1, '\n'))
        if (!strncasecmp(p + 1, "Content-Length:", 15))
            return (size_t)strtoul(p + 16, NULL, 10);
    return 0;
}

/* Reads one request into srv->head / srv->body. False when the client
 * closed the connection (or the server stops). */
static inline bool http_read_request(struct http_server *srv, int fd,
                                     struct cg_buf *in)
{
    char *end;
    while (!(end = in->data ? strstr(in->data, "\r\n\r\n") : NULL))
        if (!http_recv_more(fd, in))
            return false;
    size_t head_len = (size_t)(end - in->data) + 4;
    in->data[head_len - 2] = '\0'; /* keep the head's last CRLF */
    size_t body_len = http_content_length(in->data);
    while (in->len < head_len + body_len)
        if (!http_recv_more(fd, in))
            return false;
    pthread_mutex_lock(&srv->mu);
    cg_buf_reset(&srv->head);
    cg_buf_puts(&srv->head, in->data);
    cg_buf_reset(&srv->body);
    cg_buf_put(&srv->body, in->data + head_len, body_len);
    srv->requests++;
    pthread_mutex_unlock(&srv->mu);
    /* curl does not pipeline, but keep any extra bytes anyway. */
    size_t used = head_len + body_len;
    memmove(in->data, in->data + used, in->len - used + 1);
    in->len -= used;
    return true;
}

/* Waits until the client closes the connection (or the server stops). */
static inline void http_hang(struct http_server *srv, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    while (!atomic_load(&srv->stopping))
        if (poll(&p, 1, 50) > 0 && recv(fd, &c, 1, 0) <= 0)
            return;
}

static inline void http_respond(int fd, const struct http_reply *r)
{
    struct cg_buf out = {0};
    const char *body = r->body ? r->body : "";
    cg_buf_printf(&out,
                  "HTTP/1.1 %d Test\r\nContent-Length: %zu\r\n%s"
                  "Content-Type: text/plain\r\n\r\n%s",
                  r->status, strlen(body), r->headers ? r->headers : "", body);
    for (size_t sent = 0; sent < out.len;) {
        ssize_t n = send(fd, out.data + sent, out.len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    cg_buf_free(&out);
}

static inline void *http_conn_main(void *arg)
{
    struct http_conn *c = arg;
    struct http_server *srv = c->srv;
    struct cg_buf in = {0};
    while (http_read_request(srv, c->fd, &in)) {
        pthread_mutex_lock(&srv->mu);
        struct http_reply r = srv->reply;
        pthread_mutex_unlock(&srv->mu);
        if (r.status == 0) {
            http_hang(srv, c->fd);
            break;
        }
        http_respond(c->fd, &r);
    }
    cg_buf_free(&in);
    cg_free(c);
    return NULL;
}

static inline void *http_accept_main(void *arg)
{
    struct http_server *srv = arg;
    for (;;) {
        int fd = accept(srv->lfd, NULL, NULL);
        if (fd < 0)
            return NULL; /* shut down */
        struct http_conn *c = cg_malloc(sizeof(*c));
        pthread_mutex_lock(&srv->mu);
        int k = srv->connections;
        if (!c || k == HTTP_SERVER_MAX_CONNS) {
            pthread_mutex_unlock(&srv->mu);
            cg_free(c);
            close(fd);
            continue;
        }
        *c = (struct http_conn){srv, fd};
        srv->fds[k] = fd;
        pthread_create(&srv->threads[k], NULL, http_conn_main, c);
        srv->connections++;
        pthread_mutex_unlock(&srv->mu);
    }
}

/* A socket bound to 127.0.0.1 on a free port, or -1. */
static inline int http_bind_loopback(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Starts a server answering 200; returns 0 or -1. */
static inline int http_server_start(struct http_server *srv)
{
    memset(srv, 0, sizeof(*srv));
    srv->reply = (struct http_reply){.status = 200};
    srv->lfd = http_bind_loopback(&srv->port);
    if (srv->lfd < 0 || listen(srv->lfd, 16) != 0)
        return -1;
    pthread_mutex_init(&srv->mu, NULL);
    return pthread_create(&srv->acceptor, NULL, http_accept_main, srv) ? -1 : 0;
}

static inline void http_server_stop(struct http_server *srv)
{
    atomic_store(&srv->stopping, true);
    shutdown(srv->lfd, SHUT_RDWR);
    pthread_join(srv->acceptor, NULL);
    close(srv->lfd);
    for (int k = 0; k < srv->connections; k++) {
        shutdown(srv->fds[k], SHUT_RDWR);
        pthread_join(srv->threads[k], NULL);
        close(srv->fds[k]);
    }
    pthread_mutex_destroy(&srv->mu);
    cg_buf_free(&srv->head);
    cg_buf_free(&srv->body);
}

static inline void http_server_reply(struct http_server *srv, int status,
                                     const char *headers, const char *body)
{
    pthread_mutex_lock(&srv->mu);
    srv->reply = (struct http_reply){status, headers, body};
    pthread_mutex_unlock(&srv->mu);
}

/* A loopback port where nothing listens: bound, then closed again. */
static inline uint16_t http_refusing_port(void)
{
    uint16_t port = 0;
    int fd = http_bind_loopback(&port);
    if (fd >= 0)
        close(fd);
    return port;
}

#endif
