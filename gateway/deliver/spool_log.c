/*
 * One segment log of a spool (deliver/internal.h): segment files,
 * records with their length and CRC, the cursor file, recovery from a
 * torn write, appends, batched reads and commits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "log.h"

#define HDR          SPOOL_HDR
#define FIXED        SPOOL_FIXED
#define CHUNK_MIN    (16u << 10)
#define EARLY_ROTATE (64u << 10) /* a drained segment this big is freed */

struct spool_slot {
    size_t id, topic, json, json_len;
    bool has_topic;
};

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
    char buf[PATH_MAX + 16];
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

static void parse_fixed(const unsigned char *f, uint32_t len, struct rec *r)
{
    r->len = len;
    memcpy(&r->seq, f, 8);
    r->severity = f[8];
    r->qos = f[9];
}

int log__read(struct log *l, struct pos *p, struct rec *r)
{
    for (;;) {
        int fd = reader_for(l, p->seg);
        unsigned char head[HDR + FIXED];
        ssize_t n = fd < 0 ? 0 : pread(fd, head, sizeof(head), (off_t)p->off);
        uint32_t len;
        if (n >= HDR)
            memcpy(&len, head, 4);
        if (n == (ssize_t)sizeof(head) && len >= FIXED &&
            len <= SPOOL_REC_MAX) {
            parse_fixed(head + HDR, len, r);
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

void log__advance(struct pos *p, const struct rec *r)
{
    p->off += HDR + r->len;
}

/* Reads the segment from the read position into b->chunk, at least
 * `need` bytes of room. *have is what was read, *at becomes 0. */
static int refill(struct log *l, struct spool_batch *b, size_t need,
                  size_t *have, size_t *at)
{
    if (need > b->cap_chunk || b->cap_chunk < CHUNK_MIN) {
        size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
        unsigned char *c = cg_realloc(b->chunk, cap);
        if (!c)
            return CG_ENOMEM;
        b->chunk = c;
        b->cap_chunk = cap;
    }
    int fd = reader_for(l, l->read.seg);
    ssize_t n =
        fd < 0 ? 0 : pread(fd, b->chunk, b->cap_chunk, (off_t)l->read.off);
    *have = n > 0 ? (size_t)n : 0;
    *at = 0;
    return CG_OK;
}

/* The length of the record at *at when its header is in the chunk:
 * 1, 0 (header not in the chunk) or -1 (a nonsense length). */
static int header_len(const struct spool_batch *b, size_t have, size_t at,
                      uint32_t *len)
{
    if (at + HDR > have)
        return 0;
    memcpy(len, b->chunk + at, 4);
    return *len >= FIXED && *len <= SPOOL_REC_MAX ? 1 : -1;
}

/* Makes the whole record at the read position (header and body) lie in
 * b->chunk at *at, reading the segment a chunk at a time, and checks it.
 * 1 with a record, 0 at the end of the segment, -1 when damaged or torn,
 * or CG_ENOMEM. */
static int read_whole(struct log *l, struct spool_batch *b, size_t *have,
                      size_t *at, uint32_t *len)
{
    int h = header_len(b, *have, *at, len);
    if (h < 0)
        return -1;
    if (h == 0 || *at + HDR + *len > *have) {
        if (refill(l, b, HDR, have, at) != CG_OK)
            return CG_ENOMEM;
        if (*have == 0)
            return 0;
        if (header_len(b, *have, 0, len) != 1)
            return -1;
        if (HDR + *len > *have && HDR + *len > b->cap_chunk &&
            refill(l, b, HDR + *len, have, at) != CG_OK)
            return CG_ENOMEM;
        if (HDR + *len > *have)
            return -1; /* torn: the segment ends inside the record */
    }
    uint32_t crc;
    memcpy(&crc, b->chunk + *at + 4, 4);
    return body_crc(b->chunk + *at + HDR, *len) == crc ? 1 : -1;
}

static int reserve(struct spool_batch *b, size_t events, size_t bytes)
{
    if (events > b->cap_events) {
        size_t cap = events * 2;
        struct cg_event *e = cg_realloc(b->events, cap * sizeof(*e));
        if (e)
            b->events = e;
        struct spool_slot *s = cg_realloc(b->slots, cap * sizeof(*s));
        if (s)
            b->slots = s;
        if (!e || !s)
            return CG_ENOMEM;
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

/* Copies one checked record's id, topic and json, each NUL-terminated,
 * into the batch. */
static int take(struct spool_batch *b, const unsigned char *body, uint32_t len,
                size_t *used)
{
    uint16_t tlen;
    memcpy(&tlen, body + 10, 2);
    if ((size_t)FIXED + tlen > len)
        return -1;
    size_t jlen = len - FIXED - tlen;
    if (reserve(b, b->n + 1, *used + 17 + tlen + 1 + jlen + 1) != CG_OK)
        return CG_ENOMEM;
    char *dst = b->buf + *used;
    memcpy(dst, body + 12, 16);
    dst[16] = '\0';
    memcpy(dst + 17, body + FIXED, tlen);
    dst[17 + tlen] = '\0';
    memcpy(dst + 18 + tlen, body + FIXED + tlen, jlen);
    dst[18 + tlen + jlen] = '\0';
    b->slots[b->n] = (struct spool_slot){*used, *used + 17, *used + 18 + tlen,
                                         jlen, tlen > 0};
    b->events[b->n] = (struct cg_event){.severity = body[8], .qos = body[9]};
    b->n++;
    *used += 19 + tlen + jlen;
    return 1;
}

int log__read_batch(struct log *l, struct spool_batch *b, size_t max,
                    size_t *used)
{
    size_t have = 0, at = 0; /* b->chunk holds [read.off - at, + have) */
    /* At the end of the log nothing is read: a batch costs one pread per
     * log that has records, not one per severity. */
    while (b->n < max &&
           (l->read.seg < l->end.seg || l->read.off < l->end.off)) {
        uint32_t len = 0;
        int rc = read_whole(l, b, &have, &at, &len);
        if (rc == CG_ENOMEM)
            return rc;
        if (rc == 0 && l->read.seg < l->end.seg) {
            l->read = (struct pos){l->read.seg + 1, 0};
            have = at = 0;
            continue;
        }
        if (rc == 0)
            return CG_OK;
        if (rc > 0)
            rc = take(b, b->chunk + at + HDR, len, used);
        if (rc < 0)
            return rc == CG_ENOMEM ? rc : CG_EIO;
        l->out_bytes += HDR + len;
        l->out_count++;
        l->read.off += HDR + len;
        at += HDR + len;
    }
    return CG_OK;
}

/* The batch's event pointers, once its buffer stops moving. */
void log__batch_fix(struct spool_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct spool_slot *s = &b->slots[i];
        b->events[i].id = b->buf + s->id;
        b->events[i].topic = s->has_topic ? b->buf + s->topic : NULL;
        b->events[i].json = b->buf + s->json;
        b->events[i].json_len = s->json_len;
    }
}

void log__skip_damage(struct log *l)
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
    struct spool_batch b = {0};
    size_t have = 0, at = 0;
    uint64_t max_seq = 0;
    l->read = l->cursor;
    for (;;) {
        uint32_t len = 0;
        int rc = read_whole(l, &b, &have, &at, &len);
        if (rc == CG_ENOMEM)
            break;
        if (rc < 0)
            cut_segment(l, l->read.seg, l->read.off);
        if (rc <= 0 && l->read.seg >= l->end.seg)
            break;
        if (rc <= 0) {
            l->read = (struct pos){l->read.seg + 1, 0};
            have = at = 0;
            continue;
        }
        struct rec r;
        parse_fixed(b.chunk + at + HDR, len, &r);
        max_seq = r.seq > max_seq ? r.seq : max_seq;
        l->bytes += HDR + len;
        l->count++;
        l->read.off += HDR + len;
        at += HDR + len;
    }
    cg_free(b.chunk);
    return max_seq;
}

static void delete_before(struct log *l, uint64_t seg)
{
    /* A deleted file keeps its blocks while a descriptor holds it, and the
     * reader's stays on its segment until the next read, which a drained
     * spool never does: close it, or a full disk never gets room back. */
    if (l->rfd >= 0 && l->rseg < seg) {
        close(l->rfd);
        l->rfd = -1;
    }
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

int log__open(struct log *l, const char *root, const char *name,
              uint64_t seg_max, uint64_t *max_seq)
{
    char path[PATH_MAX + 64];
    l->wfd = l->rfd = l->cfd = -1;
    l->seg_max = seg_max;
    snprintf(l->dir, sizeof(l->dir), "%s/%s", root, name);
    snprintf(path, sizeof(path), "%s/%s.cursor", root, name);
    if (mkdir_p(l->dir) < 0 ||
        (l->cfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
        return CG_EIO;
    load_cursor(l);
    /* Writing the cursor now takes its disk block while there is room, so
     * that a commit on a full disk overwrites it in place and records the
     * delivery. Should even this fail, the commits say so. */
    (void)save_cursor(l);
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

void log__close(struct log *l)
{
    if (l->wfd >= 0)
        close(l->wfd);
    if (l->rfd >= 0)
        close(l->rfd);
    if (l->cfd >= 0)
        close(l->cfd);
    l->wfd = l->rfd = l->cfd = -1;
}

/* ---- appending ---------------------------------------------------------- */

/* Returns 0, or the errno of the failed write. */
static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
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

int log__append(struct log *l, const unsigned char *rec, size_t size)
{
    if (l->end.off > 0 && l->end.off + size > l->seg_max && rotate(l) != CG_OK)
        return errno == ENOSPC || errno == EDQUOT ? CG_ENOSPC : CG_EIO;
    int err = write_all(l->wfd, rec, size);
    if (err) { /* take back any part of it: no torn record */
        if (ftruncate(l->wfd, (off_t)l->end.off) < 0)
            cg_log(CG_LOG_ERROR, "spool %s: cannot cut a failed write", l->dir);
        return err == ENOSPC || err == EDQUOT ? CG_ENOSPC : CG_EIO;
    }
    l->end.off += size;
    l->bytes += size;
    l->count++;
    return CG_OK;
}

/* ---- delivering -----------------------------------------------------------
 */

static bool same_pos(struct pos a, struct pos b)
{
    return a.seg == b.seg && a.off == b.off;
}

int log__save(struct log *l)
{
    int rc = save_cursor(l);
    delete_before(l, l->cursor.seg);
    return rc;
}

int log__commit(struct log *l)
{
    if (same_pos(l->read, l->cursor))
        return CG_OK;
    l->cursor = l->read;
    l->bytes -= l->out_bytes < l->bytes ? l->out_bytes : l->bytes;
    l->count -= l->out_count < l->count ? l->out_count : l->count;
    l->out_bytes = l->out_count = 0;
    bool drained = same_pos(l->cursor, l->end);
    if (drained)
        l->bytes = l->count = 0; /* empty: heal any skipped damage */
    /* A drained segment of some size is closed now rather than when it
     * fills, so its space goes back to the disk (a full disk drains). */
    if (drained && l->end.off >= EARLY_ROTATE && rotate(l) == CG_OK)
        l->cursor = l->read = (struct pos){l->end.seg, 0};
    return log__save(l);
}

/* A record handed out already stops counting as handed out; one not yet
 * handed out moves the read position along with the cursor. */
void log__drop_at_cursor(struct log *l, struct pos at, const struct rec *r)
{
    bool handed_out = !same_pos(l->read, l->cursor);
    l->cursor = at;
    log__advance(&l->cursor, r);
    if (handed_out && l->out_count) {
        l->out_bytes -= SPOOL_HDR + r->len;
        l->out_count--;
    }
    if (!handed_out ||
        (l->read.seg < l->cursor.seg ||
         (l->read.seg == l->cursor.seg && l->read.off < l->cursor.off)))
        l->read = l->cursor;
    l->bytes -= SPOOL_HDR + r->len;
    l->count--;
}
