/*
 * What every MQTT backend shares: publish tickets (a ring of completion
 * states that waiters sleep on), filter lists, the reconnect backoff, and
 * the log lines of connections with the words for a refused CONNACK.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define BACKOFF_MAX 30.0

/* ---- owned settings ------------------------------------------------------ */

static int dup_str(const char **dst, const char *src)
{
    *dst = src ? cg_strdup(src) : NULL;
    return src && !*dst ? CG_ENOMEM : CG_OK;
}

int mqtt__conf_copy(const struct cg_broker_conf *b, struct cg_mqtt *m)
{
    cg_uri_redacted(b->uri, m->shown, sizeof(m->shown));
    return mqtt__broker_copy(b, &m->conf);
}

int mqtt__broker_copy(const struct cg_broker_conf *b,
                      struct cg_broker_conf *out)
{
    *out = *b;
    out->uri = out->client_id = out->username = out->password = NULL;
    out->password_file = out->share_group = NULL;
    out->tls.ca_file = out->tls.cert_file = out->tls.key_file = NULL;
    out->pos.file = NULL;
    int rc = dup_str(&out->uri, b->uri) |
             dup_str(&out->client_id, b->client_id) |
             dup_str(&out->username, b->username) |
             dup_str(&out->password, b->password) |
             dup_str(&out->password_file, b->password_file) |
             dup_str(&out->share_group, b->share_group) |
             dup_str(&out->tls.ca_file, b->tls.ca_file) |
             dup_str(&out->tls.cert_file, b->tls.cert_file) |
             dup_str(&out->tls.key_file, b->tls.key_file);
    return rc ? CG_ENOMEM : CG_OK;
}

void mqtt__conf_free(struct cg_broker_conf *c)
{
    const char *strs[] = {c->uri,         c->client_id,     c->username,
                          c->password,    c->password_file, c->share_group,
                          c->tls.ca_file, c->tls.cert_file, c->tls.key_file};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        cg_free((char *)strs[i]);
    memset(c, 0, sizeof(*c));
}

/* ---- tickets ------------------------------------------------------------ */

enum { SLOT_FREE = 0, SLOT_PENDING, SLOT_OK, SLOT_FAILED };

void mqtt__tickets_init(struct mqtt_tickets *t)
{
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
}

void mqtt__tickets_destroy(struct mqtt_tickets *t)
{
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
}

bool mqtt__tickets_reserve(struct mqtt_tickets *t, unsigned *ticket)
{
    pthread_mutex_lock(&t->lock);
    bool ok = t->next - t->oldest < MQTT_RING;
    if (ok) {
        *ticket = t->next++;
        t->state[*ticket % MQTT_RING] = SLOT_PENDING;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void mqtt__tickets_complete(struct mqtt_tickets *t, unsigned ticket, bool ok)
{
    pthread_mutex_lock(&t->lock);
    t->state[ticket % MQTT_RING] = ok ? SLOT_OK : SLOT_FAILED;
    while (t->oldest != t->next && t->state[t->oldest % MQTT_RING] >= SLOT_OK)
        t->oldest++;
    t->completions++;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

int cg_mqtt_wait(struct cg_mqtt *m, unsigned ticket, int timeout_ms)
{
    struct mqtt_tickets *t = &m->tickets;
    struct timespec until;
    cg_time_deadline(&until, timeout_ms / 1000.0);
    int result = CG_OK;
    pthread_mutex_lock(&t->lock);
    while ((int)(ticket - t->oldest) >= 0 &&
           t->state[ticket % MQTT_RING] == SLOT_PENDING) {
        if (pthread_cond_timedwait(&t->cond, &t->lock, &until)) {
            result = CG_ETIMEDOUT;
            break;
        }
    }
    if (result == CG_OK && t->state[ticket % MQTT_RING] == SLOT_FAILED)
        result = CG_RETRY;
    pthread_mutex_unlock(&t->lock);
    return result;
}

void cg_mqtt_wait_any(struct cg_mqtt *m, int timeout_ms)
{
    struct mqtt_tickets *t = &m->tickets;
    struct timespec until;
    cg_time_deadline(&until, timeout_ms / 1000.0);
    pthread_mutex_lock(&t->lock);
    unsigned long seen = t->completions;
    while (t->completions == seen &&
           pthread_cond_timedwait(&t->cond, &t->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&t->lock);
}

/* ---- filters and backoff ---------------------------------------------- */

void mqtt__filters_free(struct mqtt_filters *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        cg_free(fl->f[i]);
    cg_free(fl->f);
    cg_free(fl->qos);
    memset(fl, 0, sizeof(*fl));
}

int mqtt__filters_set(struct mqtt_filters *fl, const char *const *filters,
                      size_t n, int qos)
{
    struct mqtt_filters next = {cg_calloc(n ? n : 1, sizeof(char *)),
                                cg_calloc(n ? n : 1, sizeof(int)), 0};
    int rc = next.f && next.qos ? CG_OK : CG_ENOMEM;
    for (size_t i = 0; rc == CG_OK && i < n; i++) {
        if (!(next.f[i] = cg_strdup(filters[i])))
            rc = CG_ENOMEM;
        next.qos[i] = qos;
        next.n += rc == CG_OK;
    }
    if (rc != CG_OK) {
        mqtt__filters_free(&next);
        return rc;
    }
    mqtt__filters_free(fl);
    *fl = next;
    return CG_OK;
}

bool mqtt__filters_has(const struct mqtt_filters *fl, const char *f)
{
    for (size_t i = 0; i < fl->n; i++)
        if (!strcmp(fl->f[i], f))
            return true;
    return false;
}

double mqtt__next_wait(double *backoff)
{
    double wait = *backoff * (0.5 + (double)rand() / RAND_MAX);
    *backoff = *backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : *backoff * 2;
    return wait;
}

/* ---- log lines ------------------------------------------------------------
 */

void mqtt__log_connected(const struct cg_mqtt *m, bool session_present)
{
    /* A clean session has nothing to resume: saying so would mislead. */
    const char *session = m->conf.clean_session ? ""
                          : session_present     ? " (session resumed)"
                                                : " (new session)";
    cg_log(CG_LOG_INFO, "%s: connected to %s%s", m->name, m->shown, session);
}

void mqtt__log_lost(const struct cg_mqtt *m, const char *cause)
{
    cg_log(CG_LOG_WARN, "%s: lost the connection to %s: %s; reconnecting",
           m->name, m->shown, cause && cause[0] ? cause : "connection lost");
}

void mqtt__log_refused(const struct cg_mqtt *m, const char *reason)
{
    cg_log(CG_LOG_WARN, "%s: cannot connect to %s: %s", m->name, m->shown,
           reason);
}

/* MQTT 3.1.1 section 3.2.2.3 and MQTT 5 section 3.2.2.2. */
static const struct {
    int code;
    const char *reason;
} connack_reasons[] = {
    {1, "unacceptable protocol version"},
    {2, "client identifier rejected"},
    {3, "server unavailable"},
    {4, "bad user name or password"},
    {5, "not authorized (bad user name or password, or this client may not "
        "connect)"},
    {0x80, "unspecified error"},
    {0x81, "malformed packet"},
    {0x82, "protocol error"},
    {0x83, "implementation specific error"},
    {0x84, "unsupported protocol version"},
    {0x85, "client identifier not valid"},
    {0x86, "bad user name or password"},
    /* mosquitto answers a wrong password on MQTT 5 with 0x87, not 0x86 */
    {0x87, "not authorized (bad user name or password, or this client may "
           "not connect)"},
    {0x88, "server unavailable"},
    {0x89, "server busy"},
    {0x8A, "banned"},
    {0x8C, "bad authentication method"},
    {0x90, "topic name invalid"},
    {0x95, "packet too large"},
    {0x97, "quota exceeded"},
    {0x99, "payload format invalid"},
    {0x9A, "retain not supported"},
    {0x9B, "QoS not supported"},
    {0x9C, "use another server"},
    {0x9D, "server moved"},
    {0x9F, "connection rate exceeded"},
};

const char *mqtt__connack_reason(int code)
{
    for (size_t i = 0; i < sizeof(connack_reasons) / sizeof(connack_reasons[0]);
         i++)
        if (connack_reasons[i].code == code)
            return connack_reasons[i].reason;
    return NULL;
}
