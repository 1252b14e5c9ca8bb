/*
 * The file sink (SPEC §12 "File sink"): appends each event as one JSON
 * line to a file, with optional size-based rotation.
 *
 * Invariants:
 *   - The file is only ever appended to (O_APPEND) and never truncated,
 *     except to cut off a partial batch that this sink itself just failed
 *     to finish writing; a retried batch then starts on a clean line.
 *   - Every line ends in '\n'. When the file may end in a partial line
 *     (a crash mid-write, or a failed cut), `torn` is set and the next
 *     write starts with a newline, so later lines still parse.
 *   - `size` is the size of the open file; rotation happens between
 *     events, before the one that would push the file over max_bytes, so
 *     a file exceeds max_bytes only when it holds one event that alone is
 *     larger.
 *   - The open file is the one at `path`: when it was renamed away
 *     (logrotate) or removed, the next delivery or tick syncs and closes
 *     it and opens `path` afresh, so nothing goes to a file no one reads.
 *   - I/O failures are never fatal: deliver() answers CG_RETRY, closes the
 *     file and reopens it on the next call (a tick included), which also
 *     picks up a folder or file that the operator fixed in the meantime.
 *
 * The fsync policy decides what CG_OK promises: every_event syncs before
 * returning; interval syncs at least once a second (on a later delivery
 * or the host's idle tick); never leaves it to the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base.h"
#include "builtin.h"
#include "decode_util.h"

enum fsync_mode { FSYNC_EVERY_EVENT, FSYNC_INTERVAL, FSYNC_NEVER };

#define DEFAULT_KEEP  5
#define MAX_KEEP      1000
#define FILE_MODE     0640
#define DIR_MODE      0750
#define SYNC_INTERVAL 1.0 /* seconds */
/* Events per writev: two iovecs each (text, newline) plus one for a
 * repair newline stay well below Linux's 1024 (UIO_MAXIOV). */
#define RUN_EVENTS 256

struct file_sink {
    const struct cg_host *host;
    char *path;  /* absolute */
    char *dir;   /* the folder holding path */
    char *names; /* two scratch names of path_len + 16 bytes, for rotation */
    size_t path_len;
    int mode;           /* enum fsync_mode */
    uint64_t max_bytes; /* 0: never rotate */
    unsigned keep;
    int fd;    /* -1 while closed */
    dev_t dev; /* of the open file, to notice it moved away from path */
    ino_t ino;
    uint64_t size;
    bool dirty; /* written since the last sync */
    bool torn;  /* the file may end in a partial line */
    double last_sync;
    struct iovec iov[RUN_EVENTS * 2 + 1];
};

static const char newline[] = "\n";

/* ---- failures --------------------------------------------------------- */

/* Fills res->detail with "<what> <path>: <strerror(err)>" and returns
 * CG_RETRY: on a local disk, every failure may heal (space freed, disk
 * remounted, permissions fixed), and nothing is lost by waiting. */
static int io_fail(struct file_sink *s, struct cg_delivery_result *res,
                   const char *what, const char *path, int err)
{
    char text[96] = "unknown error";
    (void)strerror_r(err, text, sizeof(text));
    snprintf(res->detail, sizeof(res->detail), "%s %s: %s", what, path, text);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    return CG_RETRY;
}

/* ---- opening ---------------------------------------------------------- */

/* mkdir -p for the folders above the file. */
static int make_parents(struct file_sink *s, struct cg_delivery_result *res)
{
    char *p = s->names; /* scratch: path_len + 16 bytes */
    memcpy(p, s->path, s->path_len + 1);
    for (char *slash = strchr(p + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(p, DIR_MODE) != 0 && errno != EEXIST)
            return io_fail(s, res, "cannot create folder", p, errno);
        *slash = '/';
    }
    return CG_OK;
}

/* Sets `torn` when a non-empty file does not end in '\n', i.e. a
 * previous run stopped in the middle of a line. A file opened write-only
 * cannot be read: then what we knew before stays. */
static void check_tail(struct file_sink *s)
{
    char last;
    if (s->size == 0)
        s->torn = false;
    else if (pread(s->fd, &last, 1, (off_t)(s->size - 1)) == 1)
        s->torn = last != '\n';
}

static int try_open(const char *path)
{
    int flags = O_APPEND | O_CREAT | O_CLOEXEC;
    int fd = open(path, O_RDWR | flags, FILE_MODE);
    /* Read access is only for the torn-line check; go on without it. */
    return fd < 0 && errno == EACCES ? open(path, O_WRONLY | flags, FILE_MODE)
                                     : fd;
}

static int open_file(struct file_sink *s, struct cg_delivery_result *res)
{
    int fd = try_open(s->path);
    if (fd < 0 && errno == ENOENT) {
        if (make_parents(s, res) != CG_OK)
            return CG_RETRY;
        fd = try_open(s->path);
    }
    if (fd < 0)
        return io_fail(s, res, "cannot open", s->path, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return io_fail(s, res, "cannot stat", s->path, err);
    }
    s->fd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = (uint64_t)st.st_size;
    check_tail(s);
    s->dirty = false;
    s->last_sync = s->host->now();
    return CG_OK;
}

/* ---- syncing ---------------------------------------------------------- */

static int sync_file(struct file_sink *s, struct cg_delivery_result *res)
{
    if (s->fd < 0 || !s->dirty)
        return CG_OK;
    if (fdatasync(s->fd) != 0)
        return io_fail(s, res, "cannot sync", s->path, errno);
    s->dirty = false;
    s->last_sync = s->host->now();
    return CG_OK;
}

/* Syncs when the policy asks for it now. The interval uses the host's
 * wall clock; a clock that went backwards counts as "due", so a step back
 * never postpones a sync. */
static int sync_due(struct file_sink *s, struct cg_delivery_result *res)
{
    if (s->mode == FSYNC_EVERY_EVENT)
        return sync_file(s, res);
    if (s->mode == FSYNC_NEVER)
        return CG_OK;
    double since = s->host->now() - s->last_sync;
    if (since >= SYNC_INTERVAL || since < 0)
        return sync_file(s, res);
    return CG_OK;
}

/* Makes the renames durable too; best effort, since the data itself is
 * already synced and a lost rename only leaves an old name in place. */
static void sync_dir(struct file_sink *s)
{
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* ---- rotation --------------------------------------------------------- */

static void rotated_name(const struct file_sink *s, char *out, unsigned k)
{
    if (k == 0)
        memcpy(out, s->path, s->path_len + 1);
    else
        snprintf(out, s->path_len + 16, "%s.%u", s->path, k);
}

/* path.<keep-1> -> path.<keep> (replacing the oldest) ... path -> path.1,
 * then a fresh path. Missing files are skipped, so a rotation that failed
 * half-way simply resumes on the next call. */
static int rotate(struct file_sink *s, struct cg_delivery_result *res)
{
    char *from = s->names, *to = s->names + s->path_len + 16;
    if (s->mode != FSYNC_NEVER && sync_file(s, res) != CG_OK)
        return CG_RETRY;
    close(s->fd);
    s->fd = -1;
    for (unsigned k = s->keep; k > 0; k--) {
        rotated_name(s, from, k - 1);
        rotated_name(s, to, k);
        if (rename(from, to) != 0 && errno != ENOENT)
            return io_fail(s, res, "cannot rotate", from, errno);
    }
    if (s->mode != FSYNC_NEVER)
        sync_dir(s);
    s->host->log(s->host, CG_LOG_INFO, "rotated %s", s->path);
    return open_file(s, res);
}

/* True when the event must go to a fresh file: it does not fit in what is
 * left, and the file is not empty (an oversized event gets a file of its
 * own rather than being refused). */
static bool must_rotate(const struct file_sink *s, uint64_t size,
                        const struct cg_event *ev)
{
    return s->max_bytes > 0 && size > 0 &&
           size + ev->json_len + 1 > s->max_bytes;
}

/* ---- writing ---------------------------------------------------------- */

/* Writes iov[0..n) completely, resuming after short writes. Returns 0 or
 * an errno value. */
static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Writes events[0..k) (k <= RUN_EVENTS) with as few writev calls as the
 * kernel allows. On failure the partial run is cut off again. */
static int write_run(struct file_sink *s, const struct cg_event *events,
                     size_t k, struct cg_delivery_result *res)
{
    int n = 0;
    size_t bytes = 0;
    if (s->torn)
        s->iov[n++] = (struct iovec){(void *)newline, 1};
    for (size_t i = 0; i < k; i++) {
        s->iov[n++] =
            (struct iovec){(void *)events[i].json, events[i].json_len};
        s->iov[n++] = (struct iovec){(void *)newline, 1};
    }
    for (int i = 0; i < n; i++)
        bytes += s->iov[i].iov_len;
    int err = write_all(s->fd, s->iov, n);
    if (err) {
        /* Cut the partial run off, so the retry starts a clean line;
         * when that fails, the next write starts with a newline. */
        if (ftruncate(s->fd, (off_t)s->size) != 0)
            s->torn = true;
        return io_fail(s, res, "cannot write", s->path, err);
    }
    s->size += bytes;
    s->dirty = true;
    s->torn = false;
    return CG_OK;
}

/* How many events from `first` fit in the current file, at most
 * RUN_EVENTS, and at least one (the caller rotated when needed). */
static size_t run_length(const struct file_sink *s, const struct cg_batch *b,
                         size_t first)
{
    uint64_t size = s->size;
    size_t k = 0;
    while (first + k < b->n && k < RUN_EVENTS &&
           (k == 0 || !must_rotate(s, size, &b->events[first + k])))
        size += b->events[first + k++].json_len + 1;
    return k;
}

static int write_batch(struct file_sink *s, const struct cg_batch *b,
                       struct cg_delivery_result *res)
{
    for (size_t i = 0; i < b->n;) {
        if (s->fd < 0 && open_file(s, res) != CG_OK)
            return CG_RETRY;
        if (must_rotate(s, s->size, &b->events[i]) && rotate(s, res) != CG_OK)
            return CG_RETRY;
        size_t k = run_length(s, b, i);
        if (write_run(s, b->events + i, k, res) != CG_OK)
            return CG_RETRY;
        i += k;
    }
    return CG_OK;
}

/* Closes the open file when `path` no longer names it (moved or removed),
 * so that the next write goes to the file at `path` again. */
static void follow_path(struct file_sink *s)
{
    struct stat st;
    if (s->fd < 0 ||
        (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino))
        return;
    if (s->mode != FSYNC_NEVER && s->dirty)
        (void)fdatasync(s->fd);
    close(s->fd);
    s->fd = -1;
    s->host->log(s->host, CG_LOG_INFO, "%s was moved or removed: reopening it",
                 s->path);
}

static int file_deliver(void *inst, const struct cg_batch *batch,
                        struct cg_delivery_result *res)
{
    struct file_sink *s = inst;
    *res = (struct cg_delivery_result){0};
    follow_path(s);
    /* Opening here, not in create(), keeps `citygate check` free of side
     * effects; the host's first idle tick still reports a bad path within
     * a second of the start. */
    if (s->fd < 0 && open_file(s, res) != CG_OK)
        return CG_RETRY;
    if (write_batch(s, batch, res) != CG_OK)
        return CG_RETRY;
    return sync_due(s, res) == CG_OK ? CG_OK : CG_RETRY;
}

/* ---- options and lifetime --------------------------------------------- */

static int parse_mode(const char *text, int *mode, char *err, size_t errlen)
{
    static const char *const names[] = {"every_event", "interval", "never"};
    for (int m = 0; m < 3; m++)
        if (!strcmp(text, names[m])) {
            *mode = m;
            return CG_OK;
        }
    return dec_bad_option(
        err, errlen, "fsync: must be every_event, interval or never: %s", text);
}

/* rotate: {max_bytes: SIZE, keep: N}; max_bytes is required in it. */
static int parse_rotate(const struct cg_value *opts, int64_t *max,
                        int64_t *keep, char *err, size_t errlen)
{
    const struct cg_value *r = dec_option(opts, "rotate");
    if (!r)
        return CG_OK;
    const struct cg_value *m = dec_option(r, "max_bytes");
    const struct cg_value *k = dec_option(r, "keep");
    uint64_t size;
    for (uint32_t i = 0; i < r->len; i++)
        if (strcmp(r->as.members[i].key, "max_bytes") &&
            strcmp(r->as.members[i].key, "keep"))
            return dec_bad_option(err, errlen,
                                  "rotate: unknown key '%s' (max_bytes, keep)",
                                  r->as.members[i].key);
    if (!m)
        return dec_bad_option(err, errlen, "rotate: needs max_bytes");
    if (m->type == CG_INT && m->as.i >= 0)
        size = (uint64_t)m->as.i;
    else if (m->type != CG_STR || cg_size_parse(m->as.str, &size) != CG_OK ||
             size > INT64_MAX)
        return dec_bad_option(err, errlen,
                              "rotate: max_bytes must be a size (e.g. 64MiB)");
    *max = (int64_t)size;
    if (k && (k->type != CG_INT || k->as.i < 1 || k->as.i > MAX_KEEP))
        return dec_bad_option(err, errlen,
                              "rotate: keep must be an integer from 1 to %d",
                              MAX_KEEP);
    if (k)
        *keep = k->as.i;
    return CG_OK;
}

static int check_path(const char *path, char *err, size_t errlen)
{
    size_t n = path ? strlen(path) : 0;
    if (!path)
        return dec_bad_option(err, errlen, "path: is required");
    if (path[0] != '/' || path[n - 1] == '/')
        return dec_bad_option(err, errlen,
                              "path: must be an absolute file name: %s", path);
    if (n > PATH_MAX - 16)
        return dec_bad_option(err, errlen, "path: is too long");
    return CG_OK;
}

static void file_destroy(void *inst)
{
    struct file_sink *s = inst;
    if (!s)
        return;
    if (s->fd >= 0) {
        /* Nothing can be reported from here; a best-effort final sync
         * keeps what interval mode had not synced yet. */
        if (s->mode != FSYNC_NEVER && s->dirty)
            (void)fdatasync(s->fd);
        close(s->fd);
    }
    cg_free(s->path);
    cg_free(s->dir);
    cg_free(s->names);
    cg_free(s);
}

/* Copies the path and its folder and makes the scratch names. */
static int init_names(struct file_sink *s, const char *path)
{
    s->path_len = strlen(path);
    s->path = cg_strdup(path);
    const char *slash = strrchr(path, '/');
    s->dir = cg_strndup(path, slash == path ? 1 : (size_t)(slash - path));
    s->names = cg_malloc(2 * (s->path_len + 16));
    return s->path && s->dir && s->names ? CG_OK : CG_ENOMEM;
}

static int parse_options(const struct cg_value *opts, const char **path,
                         int *mode, int64_t *max, int64_t *keep, char *err,
                         size_t errlen)
{
    const char *fsync_text = "interval";
    int rc = dec_string_option(opts, "path", path, err, errlen);
    if (rc == CG_OK)
        rc = check_path(*path, err, errlen);
    if (rc == CG_OK)
        rc = dec_string_option(opts, "fsync", &fsync_text, err, errlen);
    if (rc == CG_OK)
        rc = parse_mode(fsync_text, mode, err, errlen);
    if (rc == CG_OK)
        rc = parse_rotate(opts, max, keep, err, errlen);
    return rc;
}

static int file_check(const struct cg_value *opts, char *err, size_t errlen)
{
    const char *path = NULL;
    int mode = FSYNC_INTERVAL;
    int64_t max = 0, keep = DEFAULT_KEEP;
    return parse_options(opts, &path, &mode, &max, &keep, err, errlen);
}

static int file_create(const struct cg_host *host, const struct cg_value *opts,
                       void **inst, char *err, size_t errlen)
{
    const char *path = NULL;
    int mode = FSYNC_INTERVAL;
    int64_t max = 0, keep = DEFAULT_KEEP;
    int rc = parse_options(opts, &path, &mode, &max, &keep, err, errlen);
    if (rc != CG_OK)
        return rc;
    struct file_sink *s = cg_calloc(1, sizeof(*s));
    if (!s)
        return CG_ENOMEM;
    s->host = host;
    s->mode = mode;
    s->fd = -1;
    s->max_bytes = (uint64_t)max;
    s->keep = (unsigned)keep;
    if (init_names(s, path) != CG_OK) {
        file_destroy(s);
        return CG_ENOMEM;
    }
    *inst = s;
    return CG_OK;
}

static const struct cg_option file_options[] = {
    {"path", CG_OPT_PATH, 1, "the JSON-lines file"},
    {"fsync", CG_OPT_STRING, 0, "every_event, interval (default) or never"},
    {"rotate", CG_OPT_MAP, 0,
     "{max_bytes: SIZE, keep: N (default 5)}: rotate beyond max_bytes"},
    {NULL, 0, 0, NULL},
};

const struct cg_plugin cg_builtin_sink_file = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "file",
    .kind = "sink",
    .options = file_options,
    .create = file_create,
    .destroy = file_destroy,
    .decode = NULL,
    .deliver = file_deliver,
    .check = file_check,
};
