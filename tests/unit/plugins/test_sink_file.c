/*
 * Tests for the file sink: JSON lines appended in order and never
 * truncated (also across instances), folders and modes on creation,
 * rotation (shifting, keep count, an oversized event alone in a fresh
 * file), the three fsync policies, and every I/O failure answering
 * CG_RETRY and healing on the same batch: a file where a folder should
 * be, a read-only folder, a full disk (/dev/full), a short write cut off
 * again (RLIMIT_FSIZE), a torn last line from an earlier crash.
 *
 * fdatasync() is replaced below (a link-time seam: the executable's
 * definition wins over libc's) so the tests can count syncs and make
 * one fail. Each test works in its own fresh temporary folder.
 */
#define _XOPEN_SOURCE 700 /* nftw(), to clean up the test folders */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sink_host.h"

static int sync_calls;
static int sync_fail; /* errno to fail with, 0: succeed */

int fdatasync(int fd)
{
    sync_calls++;
    if (sync_fail) {
        errno = sync_fail;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

struct env {
    char dir[256]; /* the test's own folder */
    char path[1024];
    char opts[1280];
};

static int setup(void **state)
{
    struct env *e = cg_calloc(1, sizeof(*e));
    const char *tmp = getenv("TMPDIR");
    snprintf(e->dir, sizeof(e->dir), "%s/cg_sink_file_XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(e->dir))
        return -1;
    snprintf(e->path, sizeof(e->path), "%s/events.jsonl", e->dir);
    sink_host_reset();
    sync_calls = 0;
    sync_fail = 0;
    umask(022);
    *state = e;
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int type,
                      struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    struct env *e = *state;
    chmod(e->dir, 0700);
    nftw(e->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    cg_free(e);
    return 0;
}

/* Options for e->path plus extra members (e.g. ",\"fsync\":\"never\""). */
static const char *opts(struct env *e, const char *extra)
{
    snprintf(e->opts, sizeof(e->opts), "{\"path\":\"%s\"%s}", e->path, extra);
    return e->opts;
}

/* The whole file, or "<missing>". The caller frees. */
static char *slurp(const char *path)
{
    struct cg_buf b = {0};
    char chunk[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return cg_strdup("<missing>");
    for (ssize_t n; (n = read(fd, chunk, sizeof(chunk))) > 0;)
        cg_buf_put(&b, chunk, (size_t)n);
    close(fd);
    cg_buf_putc(&b, '\0');
    assert_false(b.oom);
    return b.data;
}

static void assert_file(const char *path, const char *want)
{
    char *got = slurp(path);
    assert_string_equal(got, want);
    cg_free(got);
}

static void assert_suffix_file(struct env *e, unsigned k, const char *want)
{
    char name[1100];
    snprintf(name, sizeof(name), "%s.%u", e->path, k);
    assert_file(name, want);
}

static int deliver(void *s, const char *const *json, size_t n,
                   struct cg_delivery_result *res)
{
    struct test_batch t;
    return cg_builtin_sink_file.deliver(s, make_batch(&t, json, n), res);
}

static int tick(void *s)
{
    struct cg_delivery_result res;
    return cg_builtin_sink_file.deliver(s, &empty_batch, &res);
}

static const char *const abc[] = {"{\"a\":1}", "{\"b\":\"two\"}",
                                  "{\"c\":[3]}"};

static void test_descriptor(void **state)
{
    const struct cg_plugin *p = &cg_builtin_sink_file;
    static const char *const names[] = {"path", "fsync", "rotate"};
    static const int types[] = {CG_OPT_PATH, CG_OPT_STRING, CG_OPT_MAP};
    assert_int_equal(p->abi_version, CG_PLUGIN_ABI);
    assert_string_equal(p->name, "file");
    assert_string_equal(p->kind, "sink");
    for (int i = 0; i < 3; i++) {
        assert_string_equal(p->options[i].name, names[i]);
        assert_int_equal(p->options[i].type, types[i]);
        assert_int_equal(p->options[i].required, i == 0);
    }
    assert_null(p->options[3].name);
}

static void test_bad_options(void **state)
{
    struct env *e = *state;
    const struct cg_plugin *p = &cg_builtin_sink_file;
    assert_create_fails(p, "{}", "path: is required");
    assert_create_fails(p, "{\"path\":\"\"}", "path");
    assert_create_fails(p, "{\"path\":\"spool/a.jsonl\"}", "absolute");
    assert_create_fails(p, "{\"path\":\"/var/lib/x/\"}", "absolute");
    assert_create_fails(p, opts(e, ",\"fsync\":\"sometimes\""), "sometimes");
    assert_create_fails(p, opts(e, ",\"rotate\":{\"max_bytes\":-1}"),
                        "rotate: max_bytes");
    assert_create_fails(p, opts(e, ",\"rotate\":{\"max_bytes\":\"lots\"}"),
                        "rotate: max_bytes");
    assert_create_fails(p, opts(e, ",\"rotate\":{\"keep\":2}"),
                        "rotate: needs max_bytes");
    assert_create_fails(p, opts(e, ",\"rotate\":{\"max_bytes\":9,\"keep\":0}"),
                        "rotate: keep");
    assert_create_fails(p,
                        opts(e, ",\"rotate\":{\"max_bytes\":9,\"keep\":1001}"),
                        "rotate: keep");
    assert_create_fails(p,
                        opts(e, ",\"rotate\":{\"max_bytes\":9,\"keep\":2.5}"),
                        "rotate: keep");
    assert_create_fails(p, opts(e, ",\"rotate\":{\"max_bytes\":9,\"kep\":2}"),
                        "unknown key 'kep'");
}

static void test_appends_lines(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc, 2, &res), CG_OK);
    assert_int_equal(tick(s), CG_OK);
    assert_int_equal(deliver(s, abc + 2, 1, &res), CG_OK);
    assert_string_equal(res.detail, "");
    assert_file(e->path, "{\"a\":1}\n{\"b\":\"two\"}\n{\"c\":[3]}\n");
    cg_builtin_sink_file.destroy(s);
}

/* A restart (a new instance) appends after what is there. */
static void test_reopen_never_truncates(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc, 2, &res), CG_OK);
    cg_builtin_sink_file.destroy(s);
    s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc + 2, 1, &res), CG_OK);
    cg_builtin_sink_file.destroy(s);
    assert_file(e->path, "{\"a\":1}\n{\"b\":\"two\"}\n{\"c\":[3]}\n");
}

/* logrotate's way: mv the file away, then the sink writes to a new file
 * at the path (not into the renamed one); and after rm, likewise. */
static void test_follows_path_after_mv_and_rm(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char moved[1100];
    snprintf(moved, sizeof(moved), "%s.old", e->path);
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    assert_int_equal(rename(e->path, moved), 0);
    assert_int_equal(deliver(s, abc + 1, 1, &res), CG_OK);
    assert_file(moved, "{\"a\":1}\n");
    assert_file(e->path, "{\"b\":\"two\"}\n");
    assert_int_equal(unlink(e->path), 0);
    assert_int_equal(deliver(s, abc + 2, 1, &res), CG_OK);
    assert_file(e->path, "{\"c\":[3]}\n");
    cg_builtin_sink_file.destroy(s);
}

static void test_creates_folders(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    struct stat st;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/archive/2026/gov", e->dir);
    snprintf(e->path, sizeof(e->path), "%s/events.jsonl", dir);
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    /* create() has no side effects (think `citygate check`). */
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0750);
    assert_int_equal(stat(e->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_file(e->path, "{\"a\":1}\n");
    cg_builtin_sink_file.destroy(s);
}

/* Ten 20-byte events (21 with the newline) under a 64-byte limit: three
 * per file, rotated in whole events; keep 2 drops the oldest file. */
static void test_rotation_shifts_and_keeps(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char text[10][32];
    const char *ev[10];
    static const size_t batches[] = {4, 1, 5};
    for (int i = 0; i < 10; i++) {
        snprintf(text[i], sizeof(text[i]), "{\"n\":%02d,\"p\":\"xxxxx\"}", i);
        assert_int_equal(strlen(text[i]), 20);
        ev[i] = text[i];
    }
    void *s = sink_create(&cg_builtin_sink_file,
                          opts(e, ",\"rotate\":{\"max_bytes\":64,\"keep\":2}"));
    for (size_t b = 0, at = 0; b < 3; at += batches[b++])
        assert_int_equal(deliver(s, ev + at, batches[b], &res), CG_OK);
    assert_file(e->path, "{\"n\":09,\"p\":\"xxxxx\"}\n");
    assert_suffix_file(
        e, 1,
        "{\"n\":06,\"p\":\"xxxxx\"}\n{\"n\":07,\"p\":\"xxxxx\"}\n"
        "{\"n\":08,\"p\":\"xxxxx\"}\n");
    assert_suffix_file(
        e, 2,
        "{\"n\":03,\"p\":\"xxxxx\"}\n{\"n\":04,\"p\":\"xxxxx\"}\n"
        "{\"n\":05,\"p\":\"xxxxx\"}\n");
    assert_suffix_file(e, 3, "<missing>");
    assert_non_null(strstr(sink_fake.last_log, "rotated"));
    cg_builtin_sink_file.destroy(s);
}

/* An event larger than max_bytes is written anyway, alone in a fresh
 * file; the next event moves on to another one. */
static void test_oversized_event(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char big[101];
    memset(big, 'x', 100);
    memcpy(big, "{\"b\":\"", 6);
    memcpy(big + 98, "\"}", 3);
    const char *ev[] = {"{\"s\":1}", big, "{\"s\":2}"};
    void *s = sink_create(&cg_builtin_sink_file,
                          opts(e, ",\"rotate\":{\"max_bytes\":32}"));
    assert_int_equal(deliver(s, ev, 3, &res), CG_OK);
    assert_file(e->path, "{\"s\":2}\n");
    char *want = cg_malloc(strlen(big) + 2);
    snprintf(want, strlen(big) + 2, "%s\n", big);
    assert_suffix_file(e, 1, want);
    assert_suffix_file(e, 2, "{\"s\":1}\n");
    cg_free(want);
    cg_builtin_sink_file.destroy(s);
}

/* A file already over the limit at start is rotated before the first
 * new event. */
static void test_existing_file_over_limit(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    int fd = open(e->path, O_WRONLY | O_CREAT, 0640);
    assert_int_equal(write(fd, "{\"old\":\"0123456789\"}\n", 21), 21);
    close(fd);
    void *s = sink_create(&cg_builtin_sink_file,
                          opts(e, ",\"rotate\":{\"max_bytes\":16}"));
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    assert_file(e->path, "{\"a\":1}\n");
    assert_suffix_file(e, 1, "{\"old\":\"0123456789\"}\n");
    cg_builtin_sink_file.destroy(s);
}

static void test_fsync_every_event(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s = sink_create(&cg_builtin_sink_file,
                          opts(e, ",\"fsync\":\"every_event\""));
    assert_int_equal(deliver(s, abc, 3, &res), CG_OK);
    assert_int_equal(sync_calls, 1); /* one per batch, before CG_OK */
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    assert_int_equal(sync_calls, 2);
    assert_int_equal(tick(s), CG_OK);
    assert_int_equal(sync_calls, 2); /* nothing new to sync */
    cg_builtin_sink_file.destroy(s);
    assert_int_equal(sync_calls, 2);
}

static void test_fsync_never(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s = sink_create(
        &cg_builtin_sink_file,
        opts(e, ",\"fsync\":\"never\",\"rotate\":{\"max_bytes\":10}"));
    assert_int_equal(deliver(s, abc, 3, &res), CG_OK); /* rotates twice */
    sink_fake.now += 10;
    assert_int_equal(tick(s), CG_OK);
    cg_builtin_sink_file.destroy(s);
    assert_int_equal(sync_calls, 0);
    assert_suffix_file(e, 2, "{\"a\":1}\n");
}

/* interval: a sync on the first delivery or tick a second or more after
 * the last one, only when something was written; a clock that steps
 * back counts as due. The default policy. */
static void test_fsync_interval(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    double t0 = sink_fake.now;
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc, 2, &res), CG_OK);
    assert_int_equal(sync_calls, 0);
    sink_fake.now = t0 + 0.5;
    assert_int_equal(tick(s), CG_OK);
    assert_int_equal(sync_calls, 0);
    sink_fake.now = t0 + 1.0;
    assert_int_equal(tick(s), CG_OK);
    assert_int_equal(sync_calls, 1);
    sink_fake.now = t0 + 5.0;
    assert_int_equal(tick(s), CG_OK);
    assert_int_equal(sync_calls, 1); /* nothing written since */
    sink_fake.now = t0 + 5.2;
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    assert_int_equal(sync_calls, 2); /* due at once: 4.2 s since */
    sink_fake.now = t0;
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    assert_int_equal(sync_calls, 3);
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    cg_builtin_sink_file.destroy(s); /* syncs what is left */
    assert_int_equal(sync_calls, 4);
}

/* Under interval the file is synced before it is renamed away. */
static void test_sync_before_rotation(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s = sink_create(&cg_builtin_sink_file,
                          opts(e, ",\"rotate\":{\"max_bytes\":10}"));
    assert_int_equal(deliver(s, abc, 2, &res), CG_OK);
    assert_int_equal(sync_calls, 1);
    cg_builtin_sink_file.destroy(s);
}

/* A failed sync under every_event is not a delivery: CG_RETRY, and the
 * same batch succeeds later (at least once: it may appear twice). */
static void test_sync_failure_retries(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    void *s = sink_create(&cg_builtin_sink_file,
                          opts(e, ",\"fsync\":\"every_event\""));
    sync_fail = EIO;
    assert_int_equal(deliver(s, abc, 1, &res), CG_RETRY);
    assert_non_null(strstr(res.detail, "sync"));
    assert_non_null(strstr(res.detail, "Input/output error"));
    sync_fail = 0;
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    assert_file(e->path, "{\"a\":1}\n{\"a\":1}\n");
    cg_builtin_sink_file.destroy(s);
}

/* A regular file where a folder should be: retried until the operator
 * fixes it, then the same batch goes through. */
static void test_blocked_folder_heals(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    char blocker[512];
    snprintf(blocker, sizeof(blocker), "%s/blocker", e->dir);
    close(open(blocker, O_WRONLY | O_CREAT, 0600));
    snprintf(e->path, sizeof(e->path), "%s/sub/events.jsonl", blocker);
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(tick(s), CG_RETRY); /* reported on the first tick */
    assert_int_equal(deliver(s, abc, 2, &res), CG_RETRY);
    assert_non_null(strstr(res.detail, "blocker"));
    assert_non_null(strstr(res.detail, "Not a directory"));
    assert_int_equal(unlink(blocker), 0);
    assert_int_equal(deliver(s, abc, 2, &res), CG_OK);
    assert_file(e->path, "{\"a\":1}\n{\"b\":\"two\"}\n");
    cg_builtin_sink_file.destroy(s);
}

static void test_read_only_folder(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    if (geteuid() == 0)
        skip(); /* root writes into read-only folders anyway */
    assert_int_equal(chmod(e->dir, 0500), 0);
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc, 1, &res), CG_RETRY);
    assert_non_null(strstr(res.detail, "Permission denied"));
    assert_int_equal(chmod(e->dir, 0700), 0);
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK);
    assert_file(e->path, "{\"a\":1}\n");
    cg_builtin_sink_file.destroy(s);
}

/* /dev/full fails every write with ENOSPC. */
static void test_disk_full(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    if (access("/dev/full", W_OK) != 0)
        skip();
    snprintf(e->path, sizeof(e->path), "/dev/full");
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc, 3, &res), CG_RETRY);
    assert_non_null(strstr(res.detail, "No space left on device"));
    assert_int_equal(deliver(s, abc, 3, &res), CG_RETRY);
    assert_int_equal(tick(s), CG_OK);
    cg_builtin_sink_file.destroy(s);
}

/* A file size limit makes the kernel write part of the batch and then
 * fail: the part is cut off again, so the retried batch starts on a
 * clean line and the file ends up with each event exactly once. */
static void test_short_write_is_cut_off(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    struct rlimit old, lim;
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc, 1, &res), CG_OK); /* 8 bytes */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = (struct rlimit){.rlim_cur = 20, .rlim_max = old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = deliver(s, abc, 3, &res); /* 8 + 12 + 10 bytes */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_sig);
    assert_int_equal(rc, CG_RETRY);
    assert_non_null(strstr(res.detail, "File too large"));
    assert_file(e->path, "{\"a\":1}\n");
    assert_int_equal(deliver(s, abc, 3, &res), CG_OK);
    assert_file(e->path,
                "{\"a\":1}\n{\"a\":1}\n{\"b\":\"two\"}\n{\"c\":[3]}\n");
    cg_builtin_sink_file.destroy(s);
}

/* A crash mid-line in an earlier run: the next line starts fresh. */
static void test_torn_tail_is_ended(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    int fd = open(e->path, O_WRONLY | O_CREAT, 0640);
    assert_int_equal(write(fd, "{\"a\":1}\n{\"tor", 13), 13);
    close(fd);
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(deliver(s, abc + 1, 2, &res), CG_OK);
    assert_file(e->path, "{\"a\":1}\n{\"tor\n{\"b\":\"two\"}\n{\"c\":[3]}\n");
    cg_builtin_sink_file.destroy(s);
}

/* More events than one writev takes, in order. */
static void test_large_batch(void **state)
{
    struct env *e = *state;
    struct cg_delivery_result res;
    enum { N = 700 };
    static char text[N][16];
    static struct cg_event ev[N];
    struct cg_buf want = {0};
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof(text[i]), "{\"i\":%d}", i);
        ev[i] = (struct cg_event){.json = text[i], .json_len = strlen(text[i])};
        cg_buf_printf(&want, "%s\n", text[i]);
    }
    struct cg_batch b = {ev, N};
    void *s = sink_create(&cg_builtin_sink_file, opts(e, ""));
    assert_int_equal(cg_builtin_sink_file.deliver(s, &b, &res), CG_OK);
    assert_file(e->path, want.data);
    cg_buf_free(&want);
    cg_builtin_sink_file.destroy(s);
}

static void test_out_of_memory(void **state)
{
    struct env *e = *state;
    assert_create_survives_oom(&cg_builtin_sink_file, opts(e, ""));
    cg_builtin_sink_file.destroy(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_descriptor),
        T(test_bad_options),
        T(test_appends_lines),
        T(test_reopen_never_truncates),
        T(test_follows_path_after_mv_and_rm),
        T(test_creates_folders),
        T(test_rotation_shifts_and_keeps),
        T(test_oversized_event),
        T(test_existing_file_over_limit),
        T(test_fsync_every_event),
        T(test_fsync_never),
        T(test_fsync_interval),
        T(test_sync_before_rotation),
        T(test_sync_failure_retries),
        T(test_blocked_folder_heals),
        T(test_read_only_folder),
        T(test_disk_full),
        T(test_short_write_is_cut_off),
        T(test_torn_tail_is_ended),
        T(test_large_batch),
        T(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
