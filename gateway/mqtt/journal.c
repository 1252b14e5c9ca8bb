/*
 * The intake client's persistence (internal.h): Paho's persistence
 * interface (MQTTCLIENT_PERSISTENCE_USER) over one append-only journal
 * file per client, with an in-memory index of the live records.
 *
 * Why: Paho stores a received message as a queue entry ("q-<n>") before
 * it sends the PUBACK, and deletes the entry when MQTTClient_receive()
 * hands the message over, which is before the gateway has spooled its
 * events. This store defers that deletion: a queue entry handed over
 * stays on disk until mqtt__journal_done() says its message is done, so a
 * crash in between leaves the entry in the journal, and Paho restores and
 * hands over the message again at the next start.
 *
 * Records: u32 length of what follows the header | u32 crc32 of it |
 * u8 op (put or delete) | u8 key length | key | value. A torn or damaged
 * record ends the journal: it is cut off at open. Every put and every
 * delete is one write(2) (QoS 1: two per message), no fsync: like the
 * spool, the journal survives a killed process, not a power cut. QoS 0
 * queue entries are not written at all (QoS 0 promises nothing). When no
 * record is live the file is truncated; a journal much larger than its
 * live records is rewritten.
 *
 * Threads: Paho calls in from whichever thread cycles the client; a mutex
 * serializes the calls.
 */
#include <MQTTClientPersistence.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

#define HDR          10 /* u32 len, u32 crc, u8 op, u8 key length */
#define KEY_MAX      64
#define OP_PUT       1
#define OP_DEL       2
#define TRUNCATE_AT  (16u << 10)  /* truncate an empty journal past this */
#define REWRITE_AT   (256u << 10) /* rewrite a mostly dead journal past this */
#define Q_KEY_PREFIX "q-"

struct entry {
    char key[KEY_MAX];
    uint64_t off; /* of the value in the file */
    uint32_t len;
    bool live, handed; /* handed: Paho removed it, we have not yet */
};

struct mqtt_journal {
    MQTTClient_persistence api;
    pthread_mutex_t lock;
    char dir[4096];
    char path[4200];
    int fd;
    uint64_t size, live_bytes;
    struct entry *v;
    size_t n, cap, head; /* head: no live entry before it */
    size_t live;
    long handed; /* the entry receive() handed over last, or -1 */
    /* Messages Paho holds in its queue (put, not yet handed over), QoS 0
     * included: how far reading runs ahead of the arrival callback. */
    _Atomic long queued;
    bool failed; /* a write failed since open (logged once) */
    /* What pkeys and pget handed to Paho, see forget_handouts(). */
    void **handouts;
    size_t n_handouts, cap_handouts;
};

/* Remembers a block given to Paho. Lock held. */
static void handout(struct mqtt_journal *j, void *p)
{
    if (!p)
        return;
    if (j->n_handouts == j->cap_handouts) {
        size_t cap = j->cap_handouts ? j->cap_handouts * 2 : 16;
        void **v = cg_realloc(j->handouts, cap * sizeof(*v));
        if (!v)
            return; /* not freed later: a small leak, never a double free */
        j->handouts = v;
        j->cap_handouts = cap;
    }
    j->handouts[j->n_handouts++] = p;
}

/* ---- the index ----------------------------------------------------------- */

static long find(const struct mqtt_journal *j, const char *key)
{
    for (size_t i = j->head; i < j->n; i++)
        if (j->v[i].live && !strcmp(j->v[i].key, key))
            return (long)i;
    return -1;
}

static int index_put(struct mqtt_journal *j, const char *key, uint64_t off,
                     uint32_t len)
{
    long old = find(j, key);
    if (old >= 0) { /* a key written again replaces its value */
        j->v[old].live = false;
        j->live--;
        j->live_bytes -= j->v[old].len;
    }
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 16;
        struct entry *v = cg_realloc(j->v, cap * sizeof(*v));
        if (!v)
            return CG_ENOMEM;
        j->v = v;
        j->cap = cap;
    }
    struct entry *e = &j->v[j->n++];
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->off = off;
    e->len = len;
    e->live = true;
    e->handed = false;
    j->live++;
    j->live_bytes += len;
    return CG_OK;
}

/* Keeps the index about as long as what is live. Paho reads ahead, so
 * under steady traffic some entry is nearly always live and the index
 * never empties: without this, every message left 80 dead bytes behind
 * (and made find() slower). Dead entries go once they are the larger
 * part, so the work is constant per message on average. */
static void index_compact(struct mqtt_journal *j)
{
    if (j->n < 64 || j->n - j->live < j->n / 2)
        return;
    size_t w = 0;
    long handed = -1;
    for (size_t i = j->head; i < j->n; i++) {
        if (!j->v[i].live)
            continue;
        if ((long)i == j->handed)
            handed = (long)w;
        j->v[w++] = j->v[i];
    }
    j->n = w;
    j->head = 0;
    j->handed = handed;
    if (j->cap > 256 && j->n < j->cap / 4) { /* give a burst's room back */
        struct entry *v = cg_realloc(j->v, j->cap / 2 * sizeof(*v));
        if (v) {
            j->v = v;
            j->cap /= 2;
        }
    }
}

/* Forgets entry i and moves head past dead entries; an index with nothing
 * live starts again from zero. */
static void index_drop(struct mqtt_journal *j, size_t i)
{
    j->v[i].live = false;
    j->live--;
    j->live_bytes -= j->v[i].len;
    if ((long)i == j->handed)
        j->handed = -1;
    while (j->head < j->n && !j->v[j->head].live)
        j->head++;
    if (j->head == j->n)
        j->n = j->head = 0;
    index_compact(j);
}

/* ---- the file ------------------------------------------------------------ */

static void note_failure(struct mqtt_journal *j, int err)
{
    if (!j->failed)
        cg_log(CG_LOG_ERROR, "mqtt: cannot write the intake journal %s: %s",
               j->path, strerror(err));
    j->failed = true;
}

/* Appends one record of op, key and the value in parts. */
static int append(struct mqtt_journal *j, int op, const char *key, int n,
                  char *const parts[], const int lens[], uint64_t *val_off)
{
    size_t klen = strlen(key);
    uint32_t body = (uint32_t)(2 + klen);
    unsigned char hdr[HDR];
    struct iovec iov[16];
    int niov = 0;
    iov[niov++] = (struct iovec){hdr, HDR};
    iov[niov++] = (struct iovec){(void *)key, klen};
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char opk[2] = {(unsigned char)op, (unsigned char)klen};
    crc = crc32(crc, opk, 2);
    crc = crc32(crc, (const Bytef *)key, (uInt)klen);
    for (int i = 0; i < n && niov < 16; i++) {
        iov[niov++] = (struct iovec){parts[i], (size_t)lens[i]};
        crc = crc32(crc, (const Bytef *)parts[i], (uInt)lens[i]);
        body += (uint32_t)lens[i];
    }
    uint32_t c32 = (uint32_t)crc;
    memcpy(hdr, &body, 4);
    memcpy(hdr + 4, &c32, 4);
    memcpy(hdr + 8, opk, 2);
    ssize_t want = (ssize_t)HDR + body - 2;
    ssize_t w = pwritev(j->fd, iov, niov, (off_t)j->size);
    if (w != want) {
        int err = w < 0 ? errno : ENOSPC;
        if (ftruncate(j->fd, (off_t)j->size) < 0) {
            /* the torn tail is cut off at the next open anyway */
        }
        note_failure(j, err);
        return MQTTCLIENT_PERSISTENCE_ERROR;
    }
    *val_off = j->size + HDR + klen;
    j->size += (uint64_t)want;
    return 0;
}

/* Starts the file afresh with only the live records. */
static void rewrite(struct mqtt_journal *j)
{
    char tmp[sizeof(j->path) + 8];
    snprintf(tmp, sizeof(tmp), "%s.new", j->path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return;
    int old = j->fd;
    uint64_t old_size = j->size;
    j->fd = fd;
    j->size = 0;
    bool ok = true;
    for (size_t i = j->head; ok && i < j->n; i++) {
        struct entry *e = &j->v[i];
        char *buf = e->live ? cg_malloc(e->len ? e->len : 1) : NULL;
        ok = !e->live ||
             (buf && pread(old, buf, e->len, (off_t)e->off) == (ssize_t)e->len);
        uint64_t off;
        int len = (int)e->len;
        if (ok && e->live)
            ok = append(j, OP_PUT, e->key, 1, &buf, &len, &off) == 0;
        if (ok && e->live)
            e->off = off;
        cg_free(buf);
    }
    if (ok && rename(tmp, j->path) == 0) {
        close(old);
        return;
    }
    close(fd); /* keep the old file: it is still right */
    unlink(tmp);
    j->fd = old;
    j->size = old_size;
}

static void maybe_shrink(struct mqtt_journal *j)
{
    if (j->live == 0 && j->size >= TRUNCATE_AT) {
        if (ftruncate(j->fd, 0) == 0)
            j->size = 0;
    } else if (j->size >= REWRITE_AT && j->live_bytes < j->size / 4) {
        rewrite(j);
    }
}

/* Reads the journal from the start, rebuilding the index; a damaged or
 * torn record and everything after it are cut off. */
static int replay(struct mqtt_journal *j)
{
    struct stat st;
    if (fstat(j->fd, &st) < 0)
        return CG_EIO;
    uint64_t off = 0, end = (uint64_t)st.st_size;
    unsigned char hdr[HDR];
    char *body = NULL;
    size_t cap = 0;
    int rc = CG_OK;
    while (rc == CG_OK && off + HDR <= end &&
           pread(j->fd, hdr, HDR, (off_t)off) == HDR) {
        uint32_t len, crc;
        memcpy(&len, hdr, 4);
        memcpy(&crc, hdr + 4, 4);
        if (len < 2u + hdr[9] || off + HDR - 2 + len > end ||
            hdr[9] >= KEY_MAX || (hdr[8] != OP_PUT && hdr[8] != OP_DEL))
            break;
        if (len > cap) {
            char *b = cg_realloc(body, len);
            if (!b) {
                rc = CG_ENOMEM;
                break;
            }
            body = b;
            cap = len;
        }
        memcpy(body, hdr + 8, 2);
        if (pread(j->fd, body + 2, len - 2, (off_t)(off + HDR)) !=
                (ssize_t)(len - 2) ||
            (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)body, len) !=
                crc)
            break;
        char key[KEY_MAX];
        memcpy(key, body + 2, hdr[9]);
        key[hdr[9]] = '\0';
        uint64_t val = off + HDR + hdr[9];
        if (hdr[8] == OP_PUT)
            rc = index_put(j, key, val, len - 2 - hdr[9]);
        else if (find(j, key) >= 0)
            index_drop(j, (size_t)find(j, key));
        off += HDR - 2 + len;
    }
    cg_free(body);
    if (rc == CG_OK && off < end && ftruncate(j->fd, (off_t)off) < 0)
        rc = CG_EIO;
    j->size = off;
    return rc;
}

/* ---- Paho's persistence interface --------------------------------------- */

/* The file name holds the client id, escaped, so that two clients (or a
 * changed client id) never share a journal. */
static void journal_path(struct mqtt_journal *j, const char *dir,
                         const char *client_id)
{
    size_t n = (size_t)snprintf(j->path, sizeof(j->path), "%s/", dir);
    for (const char *p = client_id; *p && n + 8 < sizeof(j->path); p++) {
        unsigned char c = (unsigned char)*p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '_';
        n += (size_t)snprintf(j->path + n, sizeof(j->path) - n,
                              plain ? "%c" : "%%%02X", c);
    }
    snprintf(j->path + n, sizeof(j->path) - n, ".journal");
}

static int p_open(void **handle, const char *client_id, const char *uri,
                  void *context)
{
    struct mqtt_journal *j = context;
    (void)uri;
    pthread_mutex_lock(&j->lock);
    journal_path(j, j->dir, client_id);
    j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    int rc = j->fd >= 0 ? replay(j) : CG_EIO;
    size_t restored = 0;
    for (size_t i = j->head; rc == CG_OK && i < j->n; i++)
        restored += j->v[i].live && !strncmp(j->v[i].key, Q_KEY_PREFIX, 2);
    atomic_store(&j->queued, (long)restored);
    if (rc != CG_OK)
        cg_log(CG_LOG_ERROR, "mqtt: cannot open the intake journal %s: %s",
               j->path, j->fd < 0 ? strerror(errno) : cg_strerror(rc));
    *handle = j;
    pthread_mutex_unlock(&j->lock);
    return rc == CG_OK ? 0 : MQTTCLIENT_PERSISTENCE_ERROR;
}

static int p_close(void *handle)
{
    struct mqtt_journal *j = handle;
    pthread_mutex_lock(&j->lock);
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    pthread_mutex_unlock(&j->lock);
    return 0;
}

/* A queue entry's third part is its QoS (Paho's queue entry layout:
 * payload length, payload, qos, retained, dup, msgid, topic, topic
 * length). */
static bool qos0_entry(const char *key, int n, char *parts[], const int lens[])
{
    int qos = 1;
    if (strncmp(key, Q_KEY_PREFIX, 2) || n < 3 || lens[2] != sizeof(int))
        return false;
    memcpy(&qos, parts[2], sizeof(int));
    return qos == 0;
}

static int p_put(void *handle, char *key, int n, char *parts[], int lens[])
{
    struct mqtt_journal *j = handle;
    if (strlen(key) >= KEY_MAX || n > 14)
        return MQTTCLIENT_PERSISTENCE_ERROR;
    if (!strncmp(key, Q_KEY_PREFIX, 2))
        atomic_fetch_add(&j->queued, 1);
    if (qos0_entry(key, n, parts, lens))
        return 0;
    pthread_mutex_lock(&j->lock);
    uint64_t off;
    int rc = append(j, OP_PUT, key, n, parts, lens, &off);
    uint32_t len = 0;
    for (int i = 0; i < n; i++)
        len += (uint32_t)lens[i];
    if (rc == 0 && index_put(j, key, off, len) != CG_OK)
        rc = MQTTCLIENT_PERSISTENCE_ERROR;
    pthread_mutex_unlock(&j->lock);
    return rc;
}

static int p_get(void *handle, char *key, char **buffer, int *buflen)
{
    struct mqtt_journal *j = handle;
    int rc = MQTTCLIENT_PERSISTENCE_ERROR;
    pthread_mutex_lock(&j->lock);
    long i = find(j, key);
    /* Paho frees what it gets with free(): plain malloc here. */
    char *buf = i >= 0 ? malloc(j->v[i].len ? j->v[i].len : 1) : NULL;
    if (buf && pread(j->fd, buf, j->v[i].len, (off_t)j->v[i].off) ==
                   (ssize_t)j->v[i].len) {
        handout(j, buf);
        *buffer = buf;
        *buflen = (int)j->v[i].len;
        rc = 0;
    } else {
        free(buf);
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

/* Deletes a record; a queue entry only becomes "handed": it is deleted by
 * mqtt__journal_done() once the gateway is done with its message. */
static int p_remove(void *handle, char *key)
{
    struct mqtt_journal *j = handle;
    if (!strncmp(key, Q_KEY_PREFIX, 2) && atomic_load(&j->queued) > 0)
        atomic_fetch_sub(&j->queued, 1);
    pthread_mutex_lock(&j->lock);
    long i = find(j, key);
    if (i >= 0 && !strncmp(key, Q_KEY_PREFIX, 2)) {
        j->v[i].handed = true;
        j->handed = i;
    } else if (i >= 0) {
        uint64_t off;
        append(j, OP_DEL, key, 0, NULL, NULL, &off);
        index_drop(j, (size_t)i);
        maybe_shrink(j);
    } else if (!strncmp(key, Q_KEY_PREFIX, 2)) {
        j->handed = -1; /* a QoS 0 message: nothing to keep */
    }
    pthread_mutex_unlock(&j->lock);
    return 0;
}

static int p_keys(void *handle, char ***keys, int *nkeys)
{
    struct mqtt_journal *j = handle;
    pthread_mutex_lock(&j->lock);
    /* Paho frees the array only when it holds keys: none, no array. */
    char **k = j->live ? malloc(j->live * sizeof(char *)) : NULL;
    int n = 0;
    for (size_t i = j->head; k && i < j->n; i++)
        if (j->v[i].live && !j->v[i].handed && (k[n] = strdup(j->v[i].key)))
            handout(j, k[n++]);
    handout(j, k);
    *keys = k;
    *nkeys = n;
    bool ok = k || !j->live;
    pthread_mutex_unlock(&j->lock);
    return ok ? 0 : MQTTCLIENT_PERSISTENCE_ERROR;
}

static int p_clear(void *handle)
{
    struct mqtt_journal *j = handle;
    pthread_mutex_lock(&j->lock);
    int rc = ftruncate(j->fd, 0) == 0 ? 0 : MQTTCLIENT_PERSISTENCE_ERROR;
    j->size = rc == 0 ? 0 : j->size;
    j->n = j->head = j->live = 0;
    j->live_bytes = 0;
    j->handed = -1;
    atomic_store(&j->queued, 0);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

static int p_containskey(void *handle, char *key)
{
    struct mqtt_journal *j = handle;
    pthread_mutex_lock(&j->lock);
    long i = find(j, key);
    bool found = i >= 0 && !j->v[i].handed;
    pthread_mutex_unlock(&j->lock);
    return found ? 0 : MQTTCLIENT_PERSISTENCE_ERROR;
}

/* ---- the gateway's side ------------------------------------------------- */

int mqtt__journal_new(const char *dir, struct mqtt_journal **out)
{
    struct mqtt_journal *j = cg_calloc(1, sizeof(*j));
    *out = NULL;
    if (!j)
        return CG_ENOMEM;
    if (strlen(dir) >= sizeof(j->dir)) {
        cg_free(j);
        return CG_EINVAL;
    }
    snprintf(j->dir, sizeof(j->dir), "%s", dir);
    j->fd = -1;
    j->handed = -1;
    pthread_mutex_init(&j->lock, NULL);
    j->api =
        (MQTTClient_persistence){j,        p_open, p_close, p_put,        p_get,
                                 p_remove, p_keys, p_clear, p_containskey};
    *out = j;
    return CG_OK;
}

void *mqtt__journal_persistence(struct mqtt_journal *j)
{
    return &j->api;
}

/* A delete that cannot be written (a full disk) still leaves the index:
 * after a crash the message comes back once more (a duplicate, never a
 * loss), and an index with nothing live truncates the file anyway. */
void mqtt__journal_done(struct mqtt_journal *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    if (j->handed >= 0 && j->fd >= 0) {
        size_t i = (size_t)j->handed;
        uint64_t off;
        append(j, OP_DEL, j->v[i].key, 0, NULL, NULL, &off);
        index_drop(j, i);
        maybe_shrink(j);
    }
    j->handed = -1;
    pthread_mutex_unlock(&j->lock);
}

long mqtt__journal_queued(struct mqtt_journal *j)
{
    return j ? atomic_load(&j->queued) : 0;
}

size_t mqtt__journal_index_len(struct mqtt_journal *j)
{
    pthread_mutex_lock(&j->lock);
    size_t n = j->n;
    pthread_mutex_unlock(&j->lock);
    return n;
}

size_t mqtt__journal_live(struct mqtt_journal *j)
{
    pthread_mutex_lock(&j->lock);
    size_t n = j->live;
    pthread_mutex_unlock(&j->lock);
    return n;
}

/* <journal path minus ".journal">.filters: one filter per line, with its
 * QoS first ("1 vendors/#"). */
static void filters_path(const struct mqtt_journal *j, char *out, size_t n)
{
    size_t len = strlen(j->path);
    size_t stem = len > 8 ? len - 8 : len; /* without ".journal" */
    snprintf(out, n, "%.*s.filters", (int)stem, j->path);
}

void mqtt__journal_save_filters(struct mqtt_journal *j,
                                const struct mqtt_filters *fl)
{
    char path[sizeof(j->path) + 8], tmp[sizeof(path) + 4];
    if (!j || !j->path[0] || j->fd < 0)
        return;
    filters_path(j, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return;
    for (size_t i = 0; i < fl->n; i++)
        fprintf(f, "%d %s\n", fl->qos[i], fl->f[i]);
    if (fclose(f) == 0 && rename(tmp, path) == 0)
        return;
    unlink(tmp);
}

void mqtt__journal_load_filters(struct mqtt_journal *j, struct mqtt_filters *fl)
{
    char path[sizeof(j->path) + 8], line[4096];
    if (!j || !j->path[0])
        return;
    filters_path(j, path, sizeof(path));
    FILE *f = fopen(path, "re");
    char **v = NULL;
    size_t n = 0, cap = 0;
    int qos = 0;
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (n == cap) {
            char **nv = cg_realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
            if (!nv)
                break;
            v = nv;
        }
        char *sp = strchr(line, ' ');
        qos = atoi(line);
        if (sp && (v[n] = cg_strdup(sp + 1)))
            n++;
    }
    if (f)
        fclose(f);
    mqtt__filters_set(fl, (const char *const *)v, n, qos);
    for (size_t i = 0; i < n; i++)
        cg_free(v[i]);
    cg_free(v);
}

/* Paho's Debian build tracks its own heap: its free() releases only what
 * its malloc() gave, and leaves a block from us alone. So what pkeys and
 * pget handed over during the restore (Paho copies what it keeps) is
 * freed here, once the restore is over, in such a build; a build without
 * the tracking frees them itself, and then they are only forgotten. */
void mqtt__journal_forget_handouts(struct mqtt_journal *j)
{
    if (!j)
        return;
    void *self = dlopen(NULL, RTLD_NOW);
    bool tracked = self && dlsym(self, "Heap_get_info");
    if (self)
        dlclose(self);
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; tracked && i < j->n_handouts; i++)
        free(j->handouts[i]);
    j->n_handouts = 0;
    pthread_mutex_unlock(&j->lock);
}

void mqtt__journal_free(struct mqtt_journal *j)
{
    if (!j)
        return;
    mqtt__journal_forget_handouts(j);
    cg_free(j->handouts);
    if (j->fd >= 0)
        close(j->fd);
    pthread_mutex_destroy(&j->lock);
    cg_free(j->v);
    cg_free(j);
}
