/*
 * Snapshot files: written whole or not at all. The snapshot goes to
 * state.jsonl.tmp, is synced, the current state.jsonl becomes
 * state.jsonl.prev, the new one takes its name, and the folder is synced
 * so the renames last. A crash leaves either file whole: between the two
 * renames only the previous one exists, which is what a restore then
 * reads (it also reads it when the current one is torn or garbled).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CURRENT  "state.jsonl"
#define PREVIOUS "state.jsonl.prev"
#define TEMP     "state.jsonl.tmp"

static int fail(char *err, size_t errlen, const char *what, const char *path,
                int e)
{
    snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
    return e == ENOSPC ? CG_ENOSPC : e == ENOENT ? CG_ENOENT : CG_EIO;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int cg_state_file_write(const char *dir, const char *data, size_t len,
                        char *err, size_t errlen)
{
    char tmp[4096], cur[4096], prev[4096];
    snprintf(tmp, sizeof(tmp), "%s/" TEMP, dir);
    snprintf(cur, sizeof(cur), "%s/" CURRENT, dir);
    snprintf(prev, sizeof(prev), "%s/" PREVIOUS, dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return fail(err, errlen, "cannot create", tmp, errno);
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return fail(err, errlen, "cannot write", tmp, e);
    }
    close(fd);
    if (rename(cur, prev) < 0 && errno != ENOENT)
        return fail(err, errlen, "cannot keep", cur, errno);
    if (rename(tmp, cur) < 0)
        return fail(err, errlen, "cannot rename into", cur, errno);
    if (sync_dir(dir) < 0)
        return fail(err, errlen, "cannot sync", dir, errno);
    return CG_OK;
}

int cg_state_file_read(const char *dir, bool prev, struct cg_buf *out,
                       char *err, size_t errlen)
{
    char path[4096], chunk[65536];
    snprintf(path, sizeof(path), "%s/%s", dir, prev ? PREVIOUS : CURRENT);
    cg_buf_reset(out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, "cannot open", path, errno);
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return fail(err, errlen, "cannot read", path, e);
        }
        cg_buf_put(out, chunk, (size_t)n);
    }
    close(fd);
    return out->oom ? CG_ENOMEM : CG_OK;
}
