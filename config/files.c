/*
 * Files the loader reads: the config, rule files, password files, and
 * the globs that select rule files and plugins. Only regular files are
 * read, and they are opened without blocking: a FIFO or a device that a
 * glob matches by mistake must be refused with its name, not stall a
 * reload forever, and a folder must be called a folder, not an
 * "Input/output error".
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* A config larger than this is a mistake, not a city. */
#define MAX_FILE_BYTES (16u << 20)

const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "is a directory, not a regular file";
    if (S_ISFIFO(mode))
        return "is a FIFO, not a regular file";
    if (S_ISSOCK(mode))
        return "is a socket, not a regular file";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "is a device, not a regular file";
    return S_ISREG(mode) ? NULL : "is not a regular file";
}

/* Reads fd to its end (at most MAX_FILE_BYTES) into out. */
static int read_all(int fd, struct cg_buf *out)
{
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return out->oom ? ENOMEM : 0;
        if (out->len + (size_t)n > MAX_FILE_BYTES)
            return EFBIG;
        cg_buf_put(out, chunk, (size_t)n);
    }
}

int read_text_file(const char *path, struct file_text *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        *why = strerror(err);
        return err;
    }
    struct stat st;
    int err = fstat(fd, &st) < 0 ? errno : 0;
    struct cg_buf b = {0};
    if (!err && (*why = file_kind(st.st_mode)) != NULL)
        err = EINVAL;
    else if (!err)
        err = read_all(fd, &b);
    close(fd);
    if (err == EFBIG)
        *why = "is larger than 16 MiB";
    else if (err && err != EINVAL)
        *why = strerror(err);
    if (!err && !b.data && !(b.data = cg_strdup("")))
        err = ENOMEM;
    if (err) {
        cg_buf_free(&b);
        return err;
    }
    out->text = b.data;
    out->len = b.len;
    out->mode = st.st_mode;
    return 0;
}

/* Adds one match of a glob unless an earlier glob matched it too (two
 * globs naming one file load it once). */
static void add_match(struct loader *L, struct path_list *out, const char *path,
                      const struct cg_pstr *glob, const char *what)
{
    struct stat st;
    const char *kind = stat(path, &st) == 0 ? file_kind(st.st_mode) : NULL;
    size_t ignored;
    if (kind) {
        cg_diags_add(L->d, glob->pos.file, glob->pos.line, glob->pos.col,
                     "%s: '%s' %s", what, path, kind);
        L->errors++;
        return;
    }
    if (name_map_get(&out->seen, path, &ignored))
        return;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        const char **v = cg_realloc(out->v, cap * sizeof(*v));
        if (!v) {
            L->oom = 1;
            return;
        }
        out->v = v;
        out->cap = cap;
    }
    const char *copy = loader_strdup(L, path);
    if (copy && name_map_put(&out->seen, copy, out->n) == 0)
        out->v[out->n++] = copy;
    else
        L->oom = 1;
}

void expand_globs(struct loader *L, const struct cg_pstr *globs, size_t n,
                  struct path_list *out, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        char buf[PATH_MAX];
        glob_t g;
        int rc = glob(cg_config_resolve(L->cfg, globs[i].s, buf, sizeof(buf)),
                      0, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            /* Almost always a wrong path. */
            cg_diags_add(L->d, globs[i].pos.file, globs[i].pos.line,
                         globs[i].pos.col, "%s: '%s' matches no file", what,
                         globs[i].s);
            L->errors++;
        } else if (rc == GLOB_NOSPACE) {
            L->oom = 1;
        }
        for (size_t j = 0; rc == 0 && j < g.gl_pathc; j++)
            add_match(L, out, g.gl_pathv[j], &globs[i], what);
        globfree(&g);
    }
}

void path_list_free(struct path_list *pl)
{
    cg_free(pl->v);
    name_map_free(&pl->seen);
    memset(pl, 0, sizeof(*pl));
}
