/*
 * The durable spool (spool.h): per consumer, one append-only log per
 * severity. A log is a chain of segment files <n>.seg of up to SEG_MAX
 * bytes and a cursor file holding (segment, offset) of the first record
 * not yet delivered. Records are
 *
 *     u32 body length | u32 crc32(body) | body
 *     body = u64 seq | u8 severity | u8 qos | u16 topic length |
 *            16 bytes id | topic | json
 *
 * in host byte order (a spool never moves between machines). Two
 * positions walk each log: the durable cursor (delivered up to here) and
 * the read position (handed out up to here); commit moves the cursor to
 * the read position, rewind the read position back to the cursor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gateway.h"
#include "spool.h"

#define N_SEV 3
/* Segment size: big enough for few files, small enough that delivered
 * space returns to the disk soon. Tests shrink it to exercise wrapping. */
static uint64_t seg_max = 8u << 20;
#define HDR     8
#define FIXED   28
#define REC_MAX (64u << 20)

struct pos {
    uint64_t seg, off;
};

struct log {
    char dir[PATH_MAX + 16];
    int wfd; /* the segment being appended to */
    struct pos end;
    struct pos cursor, read;
    uint64_t first_seg; /* the oldest segment still on disk */
    int rfd;            /* a reading descriptor, for rseg */
    uint64_t rseg;
    int cfd;                       /* the cursor file */
    uint64_t bytes, count;         /* from the cursor to the end */
    uint64_t out_bytes, out_count; /* handed out, not yet committed */
};

struct spool {
    pthread_mutex_t lock;
    struct log logs[N_SEV];
    uint64_t next_seq;
};

static const char *const sev_dirs[N_SEV] = {"info", "warning", "critical"};

static void seg_path(const struct log *l, uint64_t seg, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%016llx.seg", l->dir, (unsigned long long)seg);
}

static int open_seg(const struct log *l, uint64_t seg, int flags)
{
    char path[PATH_MAX + 64];
    seg_path(l, seg, path, sizeof(path));
    return open(path, flags | O_CLOEXEC, 0640);
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0750) < 0 && errno != EEXIST ? -1 : 0;
}

static uint32_t body_crc(const unsigned char *body, uint32_t len)
{
    return (uint32_t)crc32(0L, body, len);
}

/* ---- reading records ------------------------------------------------ */

struct rec {
    uint32_t len; /* body length */
    uint64_t seq;
    int severity, qos;
};

static int reader_for(struct log *l, uint64_t seg)
{
    if (l->rfd >= 0 && l->rseg == seg)
        return l->rfd;
    if (l->rfd >= 0)
        close(l->rfd);
    l->rfd = open_seg(l, seg, O_RDONLY);
    l->rseg = seg;
    return l->rfd;
}

/* Reads the record at *p into body (when not NULL, cap bytes), moving
 * *p to the next segment first when this one is exhausted. Returns 1 with
 * a record, 0 at the end of the log, -1 for a damaged record. */
static int read_rec(struct log *l, struct pos *p, struct rec *r,
                    unsigned char *body, size_t cap)
{
    for (;;) {
        int fd = reader_for(l, p->seg);
        uint32_t hdr[2];
        ssize_t n = fd < 0 ? 0 : pread(fd, hdr, HDR, (off_t)p->off);
        if (n == HDR && hdr[0] >= FIXED && hdr[0] <= REC_MAX) {
            r->len = hdr[0];
            unsigned char fixed[FIXED];
            unsigned char *dst = body && cap >= hdr[0] ? body : NULL;
            if (!dst && pread(fd, fixed, FIXED, (off_t)p->off + HDR) != FIXED)
                return -1;
            if (dst && (pread(fd, dst, hdr[0], (off_t)p->off + HDR) !=
                            (ssize_t)hdr[0] ||
                        body_crc(dst, hdr[0]) != hdr[1]))
                return -1;
            const unsigned char *f = dst ? dst : fixed;
            memcpy(&r->seq, f, 8);
            r->severity = f[8];
            r->qos = f[9];
            return 1;
        }
        if (n != 0 && !(n < 0 && fd < 0))
            return -1; /* a header that is torn or nonsense */
        if (p->seg >= l->end.seg)
            return 0;
        p->seg++; /* this segment is done: on to the next */
        p->off = 0;
    }
}

static void advance(struct pos *p, const struct rec *r)
{
    p->off += HDR + r->len;
}

/* ---- opening and recovery ------------------------------------------- */

static int save_cursor(struct log *l)
{
    uint64_t c[2] = {l->cursor.seg, l->cursor.off};
    return pwrite(l->cfd, c, sizeof(c), 0) == (ssize_t)sizeof(c) ? CG_OK
                                                                 : CG_EIO;
}

static void load_cursor(struct log *l)
{
    uint64_t c[2];
    if (pread(l->cfd, c, sizeof(c), 0) == (ssize_t)sizeof(c)) {
        l->cursor.seg = c[0];
        l->cursor.off = c[1];
    }
}

/* Finds the first and last segment numbers on disk. */
static bool list_segments(const struct log *l, uint64_t *first, uint64_t *last)
{
    DIR *d = opendir(l->dir);
    bool any = false;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        unsigned long long n;
        char tail[8];
        if (sscanf(e->d_name, "%16llx.%3s", &n, tail) != 2 ||
            strcmp(tail, "seg"))
            continue;
        if (!any || n < *first)
            *first = n;
        if (!any || n > *last)
            *last = n;
        any = true;
    }
    if (d)
        closedir(d);
    return any;
}

/* Cuts a segment at off: what follows a damaged record cannot be trusted,
 * and it is most likely a write that a crash tore. */
static void cut_segment(struct log *l, uint64_t seg, uint64_t off)
{
    char path[PATH_MAX + 64];
    seg_path(l, seg, path, sizeof(path));
    if (truncate(path, (off_t)off) == 0)
        cg_log(CG_LOG_WARN, "spool %s: cut a damaged record at %s:%llu", l->dir,
               path, (unsigned long long)off);
}

/* Walks from the cursor to the end, counting what is undelivered and
 * cutting any damaged tail. Returns the highest sequence number seen. */
static uint64_t scan(struct log *l)
{
    struct pos p = l->cursor;
    struct rec r;
    uint64_t max_seq = 0;
    size_t cap = 1 << 16;
    unsigned char *body = cg_malloc(cap);
    int rc;
    while (body && (rc = read_rec(l, &p, &r, body, cap)) != 0) {
        if (rc > 0 && r.len > cap) { /* bigger than the buffer: grow */
            unsigned char *nb = cg_realloc(body, r.len);
            if (!nb)
                break;
            body = nb;
            cap = r.len;
            continue;
        }
        if (rc < 0) {
            cut_segment(l, p.seg, p.off);
            if (p.seg >= l->end.seg)
                break;
            p.seg++;
            p.off = 0;
            continue;
        }
        max_seq = r.seq > max_seq ? r.seq : max_seq;
        l->bytes += HDR + r.len;
        l->count++;
        advance(&p, &r);
    }
    cg_free(body);
    return max_seq;
}

static void delete_before(struct log *l, uint64_t seg)
{
    for (; l->first_seg < seg; l->first_seg++) {
        char path[PATH_MAX + 64];
        seg_path(l, l->first_seg, path, sizeof(path));
        unlink(path);
    }
}

static int open_writer(struct log *l)
{
    l->wfd = open_seg(l, l->end.seg, O_WRONLY | O_CREAT | O_APPEND);
    if (l->wfd < 0)
        return CG_EIO;
    off_t size = lseek(l->wfd, 0, SEEK_END);
    l->end.off = size > 0 ? (uint64_t)size : 0;
    return CG_OK;
}

static int open_log(struct log *l, const char *root, int sev, uint64_t *max_seq)
{
    char path[PATH_MAX + 64];
    l->wfd = l->rfd = l->cfd = -1;
    snprintf(l->dir, sizeof(l->dir), "%s/%s", root, sev_dirs[sev]);
    snprintf(path, sizeof(path), "%s/%s.cursor", root, sev_dirs[sev]);
    if (mkdir_p(l->dir) < 0 ||
        (l->cfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
        return CG_EIO;
    load_cursor(l);
    uint64_t first = l->cursor.seg, last = l->cursor.seg;
    list_segments(l, &first, &last);
    if (l->cursor.seg < first) /* its segment is gone: start at the next */
        l->cursor = (struct pos){first, 0};
    l->first_seg = first;
    delete_before(l, l->cursor.seg); /* left over from a crash in commit */
    l->end.seg = last > l->cursor.seg ? last : l->cursor.seg;
    uint64_t seq = scan(l);
    *max_seq = seq > *max_seq ? seq : *max_seq;
    l->read = l->cursor;
    return open_writer(l);
}

static void close_log(struct log *l)
{
    if (l->wfd >= 0)
        close(l->wfd);
    if (l->rfd >= 0)
        close(l->rfd);
    if (l->cfd >= 0)
        close(l->cfd);
}

/* A consumer name as a folder name: nothing that climbs or hides. */
static void folder_name(const char *name, char *out, size_t size)
{
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++) {
        char c = name[i];
        out[i] = c == '/' || (i == 0 && c == '.') || (unsigned char)c < 0x20
                     ? '_'
                     : c;
    }
    out[i] = '\0';
}

int spool__open(const char *dir, const char *name, struct spool **out,
                char *err, size_t errlen)
{
    char root[PATH_MAX - 16], folder[256];
    *out = NULL;
    struct spool *s = cg_calloc(1, sizeof(*s));
    if (!s)
        return CG_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    folder_name(name, folder, sizeof(folder));
    snprintf(root, sizeof(root), "%s/%s", dir, folder);
    uint64_t max_seq = 0;
    for (int i = 0; i < N_SEV; i++)
        s->logs[i].wfd = s->logs[i].rfd = s->logs[i].cfd = -1;
    for (int i = 0; i < N_SEV; i++) {
        if (open_log(&s->logs[i], root, i, &max_seq) != CG_OK) {
            snprintf(err, errlen, "cannot open the spool in %s: %s", root,
                     strerror(errno));
            spool__close(s);
            return CG_EIO;
        }
    }
    s->next_seq = max_seq + 1;
    *out = s;
    return CG_OK;
}

void spool__close(struct spool *s)
{
    if (!s)
        return;
    for (int i = 0; i < N_SEV; i++)
        close_log(&s->logs[i]);
    pthread_mutex_destroy(&s->lock);
    cg_free(s);
}

/* ---- appending --------------------------------------------------------- */

static int sev_index(int severity)
{
    return severity < 0 ? 0 : severity >= N_SEV ? N_SEV - 1 : severity;
}

/* Lays out header and body; the caller fills in seq and the CRC. */
static size_t encode(const struct cg_event *ev, unsigned char *rec)
{
    size_t tlen = ev->topic ? strlen(ev->topic) : 0;
    uint32_t len = (uint32_t)(FIXED + tlen + ev->json_len);
    unsigned char *b = rec + HDR;
    memcpy(rec, &len, 4);
    b[8] = (unsigned char)sev_index(ev->severity);
    b[9] = (unsigned char)ev->qos;
    uint16_t t16 = (uint16_t)tlen;
    memcpy(b + 10, &t16, 2);
    memcpy(b + 12, ev->id, 16);
    if (tlen)
        memcpy(b + FIXED, ev->topic, tlen);
    memcpy(b + FIXED + tlen, ev->json, ev->json_len);
    return HDR + len;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int rotate(struct log *l)
{
    close(l->wfd);
    l->end.seg++;
    return open_writer(l);
}

int spool__append(struct spool *s, const struct cg_event *ev)
{
    size_t tlen = ev->topic ? strlen(ev->topic) : 0;
    size_t size = HDR + FIXED + tlen + ev->json_len;
    if (tlen > UINT16_MAX || size > REC_MAX)
        return CG_EINVAL;
    unsigned char small[4096];
    unsigned char *rec = size <= sizeof(small) ? small : cg_malloc(size);
    if (!rec)
        return CG_ENOMEM;
    encode(ev, rec);
    pthread_mutex_lock(&s->lock);
    struct log *l = &s->logs[sev_index(ev->severity)];
    uint64_t seq = s->next_seq++;
    memcpy(rec + HDR, &seq, 8);
    uint32_t crc = body_crc(rec + HDR, (uint32_t)(size - HDR));
    memcpy(rec + 4, &crc, 4);
    int rc = CG_OK;
    if (l->end.off > 0 && l->end.off + size > seg_max)
        rc = rotate(l);
    if (rc == CG_OK && write_all(l->wfd, rec, size) < 0) {
        rc = CG_EIO; /* take back any part of it: no torn record */
        if (ftruncate(l->wfd, (off_t)l->end.off) < 0)
            cg_log(CG_LOG_ERROR, "spool %s: cannot cut a failed write", l->dir);
    }
    if (rc == CG_OK) {
        l->end.off += size;
        l->bytes += size;
        l->count++;
    }
    pthread_mutex_unlock(&s->lock);
    if (rec != small)
        cg_free(rec);
    return rc;
}

uint64_t spool__bytes(struct spool *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = 0;
    for (int i = 0; i < N_SEV; i++)
        n += s->logs[i].bytes;
    pthread_mutex_unlock(&s->lock);
    return n;
}

uint64_t spool__count(struct spool *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = 0;
    for (int i = 0; i < N_SEV; i++)
        n += s->logs[i].count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- delivering -------------------------------------------------------- */

static int reserve(struct spool_batch *b, size_t events, size_t bytes)
{
    if (events > b->cap_events) {
        size_t cap = events * 2;
        struct cg_event *e = cg_realloc(b->events, cap * sizeof(*e));
        if (!e)
            return CG_ENOMEM;
        b->events = e;
        b->cap_events = cap;
    }
    if (bytes > b->cap_buf) {
        size_t cap = bytes * 2;
        char *p = cg_realloc(b->buf, cap);
        if (!p)
            return CG_ENOMEM;
        b->buf = p;
        b->cap_buf = cap;
    }
    return CG_OK;
}

/* Where one event's text sits in the batch buffer (pointers are set once
 * the buffer stops moving). */
struct slot {
    size_t id, topic, json, json_len;
    bool has_topic;
};

/* Reads the record at the read position into the buffer at *used.
 * Returns 1, 0 at the end of the log, or a negative CG_E*. */
static int load_one(struct log *l, struct spool_batch *b, struct slot *sl,
                    size_t *used)
{
    struct rec r;
    int rc = read_rec(l, &l->read, &r, NULL, 0);
    if (rc <= 0)
        return rc < 0 ? CG_EIO : 0;
    if (reserve(b, b->n + 1, *used + r.len + 3) != CG_OK)
        return CG_ENOMEM;
    unsigned char *body = (unsigned char *)b->buf + *used;
    uint32_t crc;
    int fd = reader_for(l, l->read.seg);
    if (pread(fd, &crc, 4, (off_t)l->read.off + 4) != 4 ||
        pread(fd, body, r.len, (off_t)l->read.off + HDR) != (ssize_t)r.len ||
        body_crc(body, r.len) != crc)
        return CG_EIO;
    uint16_t tlen;
    memcpy(&tlen, body + 10, 2);
    size_t jlen = r.len - FIXED - tlen;
    memmove(body + FIXED + tlen + 1, body + FIXED + tlen, jlen);
    body[FIXED + tlen] = '\0';
    body[FIXED + tlen + 1 + jlen] = '\0';
    memmove(body + 11, body + 12, 16); /* id, NUL-terminated at 27 */
    body[27] = '\0';
    *sl = (struct slot){*used + 11, *used + FIXED, *used + FIXED + tlen + 1,
                        jlen, tlen > 0};
    b->events[b->n] = (struct cg_event){.severity = r.severity, .qos = r.qos};
    b->n++;
    *used += r.len + 3;
    l->out_bytes += HDR + r.len;
    l->out_count++;
    advance(&l->read, &r);
    return 1;
}

static void skip_damage(struct log *l)
{
    cg_log(CG_LOG_ERROR,
           "spool %s: damaged record in segment %llu; skipping "
           "the rest of it",
           l->dir, (unsigned long long)l->read.seg);
    if (l->read.seg < l->end.seg)
        l->read = (struct pos){l->read.seg + 1, 0};
    else
        l->read = l->end;
}

int spool__peek(struct spool *s, size_t max, struct spool_batch *b)
{
    struct slot *slots = cg_malloc((max ? max : 1) * sizeof(*slots));
    if (!slots)
        return CG_ENOMEM;
    size_t used = 0;
    int rc = CG_OK;
    b->n = 0;
    pthread_mutex_lock(&s->lock);
    for (int sev = N_SEV - 1; sev >= 0 && rc == CG_OK; sev--) {
        struct log *l = &s->logs[sev];
        while (b->n < max) {
            int got = load_one(l, b, &slots[b->n], &used);
            if (got == CG_EIO) {
                skip_damage(l);
                continue;
            }
            if (got <= 0) {
                rc = got < 0 ? got : CG_OK;
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < b->n; i++) {
        b->events[i].id = b->buf + slots[i].id;
        b->events[i].topic =
            slots[i].has_topic ? b->buf + slots[i].topic : NULL;
        b->events[i].json = b->buf + slots[i].json;
        b->events[i].json_len = slots[i].json_len;
    }
    cg_free(slots);
    return rc;
}

static int commit_log(struct log *l)
{
    if (l->read.seg == l->cursor.seg && l->read.off == l->cursor.off)
        return CG_OK;
    l->cursor = l->read;
    l->bytes -= l->out_bytes < l->bytes ? l->out_bytes : l->bytes;
    l->count -= l->out_count < l->count ? l->out_count : l->count;
    l->out_bytes = l->out_count = 0;
    if (l->cursor.seg == l->end.seg && l->cursor.off == l->end.off)
        l->bytes = l->count = 0; /* empty: heal any skipped damage */
    int rc = save_cursor(l);
    delete_before(l, l->cursor.seg);
    return rc;
}

int spool__commit(struct spool *s)
{
    int rc = CG_OK;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < N_SEV; i++)
        if (commit_log(&s->logs[i]) != CG_OK)
            rc = CG_EIO;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static bool same_pos(struct pos a, struct pos b)
{
    return a.seg == b.seg && a.off == b.off;
}

/* The log whose oldest undelivered record (at its cursor) is the oldest
 * of all; *at is where that record starts. */
static struct log *oldest_log(struct spool *s, struct rec *out, struct pos *at)
{
    struct log *best = NULL;
    for (int i = 0; i < N_SEV; i++) {
        struct log *l = &s->logs[i];
        struct pos p = l->cursor;
        struct rec r;
        if (read_rec(l, &p, &r, NULL, 0) != 1)
            continue;
        if (!best || r.seq < out->seq) {
            best = l;
            *out = r;
            *at = p;
        }
    }
    return best;
}

/* Drops one record at the cursor. A record handed out already stops
 * counting as handed out; one not yet handed out moves the read position
 * along with the cursor. */
static void drop_at_cursor(struct log *l, struct pos at, const struct rec *r)
{
    bool handed_out = !same_pos(l->read, l->cursor);
    l->cursor = at;
    advance(&l->cursor, r);
    if (handed_out && l->out_count) {
        l->out_bytes -= HDR + r->len;
        l->out_count--;
    }
    if (!handed_out ||
        (l->read.seg < l->cursor.seg ||
         (l->read.seg == l->cursor.seg && l->read.off < l->cursor.off)))
        l->read = l->cursor;
    l->bytes -= HDR + r->len;
    l->count--;
}

uint64_t spool__drop_oldest(struct spool *s, uint64_t bytes)
{
    uint64_t freed = 0, dropped = 0;
    struct rec r;
    struct pos at;
    struct log *l;
    pthread_mutex_lock(&s->lock);
    while (freed < bytes && (l = oldest_log(s, &r, &at))) {
        drop_at_cursor(l, at, &r);
        freed += HDR + r.len;
        dropped++;
    }
    for (int i = 0; i < N_SEV && dropped; i++) {
        save_cursor(&s->logs[i]);
        delete_before(&s->logs[i], s->logs[i].cursor.seg);
    }
    pthread_mutex_unlock(&s->lock);
    return dropped;
}

void spool__rewind(struct spool *s)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < N_SEV; i++) {
        struct log *l = &s->logs[i];
        l->read = l->cursor;
        l->out_bytes = l->out_count = 0;
    }
    pthread_mutex_unlock(&s->lock);
}

void spool__batch_free(struct spool_batch *b)
{
    cg_free(b->events);
    cg_free(b->buf);
    memset(b, 0, sizeof(*b));
}

void spool__set_segment_max(uint64_t bytes)
{
    seg_max = bytes;
}
