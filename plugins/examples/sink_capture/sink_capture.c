/*
 * An example sink plugin, made for tests: it appends each event's JSON as
 * one line to the file its `path` option names and counts what it got.
 *
 *   consumers:
 *     - {name: probe, role: government, sink: plugin:capture,
 *        options: {path: /tmp/probe.jsonl}}
 *
 * A test reads the file to see exactly what the consumer received, in
 * order; the counts (batches, events) go to the log when the instance is
 * destroyed, so a test can also see how the host batched them. The file
 * is opened on the first delivery, not in create(), so `citygate check`
 * stays free of side effects.
 *
 * Delivery is at least once, like every sink: when a write fails the
 * batch is answered CG_RETRY and may appear twice in the file once the
 * host offers it again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "citygate_plugin.h"

struct capture {
    const struct cg_host *host;
    char *path; /* host->alloc memory */
    FILE *file; /* NULL until the first delivery, or after a failure */
    unsigned long batches, events;
};

static int io_failure(struct capture *c, struct cg_delivery_result *res,
                      const char *what, int err)
{
    char text[96] = "unknown error";
    (void)strerror_r(err, text, sizeof(text)); /* deliver() may run on */
    snprintf(res->detail, sizeof(res->detail), /* several threads */
             "cannot %s %s: %s", what, c->path, text);
    if (c->file)
        fclose(c->file);
    c->file = NULL; /* reopened on the next delivery */
    return CG_RETRY;
}

static int capture_deliver(void *inst, const struct cg_batch *batch,
                           struct cg_delivery_result *res)
{
    struct capture *c = inst;
    *res = (struct cg_delivery_result){0};
    if (batch->n == 0)
        return CG_OK; /* the host's idle tick: nothing is buffered */
    if (!c->file && !(c->file = fopen(c->path, "a")))
        return io_failure(c, res, "open", errno);
    for (size_t i = 0; i < batch->n; i++) {
        const struct cg_event *e = &batch->events[i];
        if (fwrite(e->json, 1, e->json_len, c->file) != e->json_len ||
            fputc('\n', c->file) == EOF)
            return io_failure(c, res, "write", errno);
    }
    /* Flushed per batch, so a test that waits for a line sees it. */
    if (fflush(c->file) != 0)
        return io_failure(c, res, "write", errno);
    c->batches++;
    c->events += batch->n;
    return CG_OK;
}

static int capture_create(const struct cg_host *host,
                          const struct cg_value *opts, void **inst, char *err,
                          size_t errlen)
{
    const struct cg_value *path = NULL;
    for (uint32_t i = 0; i < opts->len; i++)
        if (!strcmp(opts->as.members[i].key, "path"))
            path = &opts->as.members[i].value;
    /* Plugin options are not resolved against the config's folder, so a
     * relative path would depend on the gateway's working directory. */
    if (!path || path->type != CG_STR || path->as.str[0] != '/') {
        snprintf(err, errlen, "path must be an absolute file name");
        return CG_EINVAL;
    }
    struct capture *c = host->alloc(sizeof(*c));
    char *copy = host->alloc(path->len + 1);
    if (!c || !copy) {
        host->free(c);
        host->free(copy);
        return CG_ENOMEM;
    }
    memcpy(copy, path->as.str, path->len + 1);
    *c = (struct capture){.host = host, .path = copy};
    *inst = c;
    return CG_OK;
}

static void capture_destroy(void *inst)
{
    struct capture *c = inst;
    if (!c)
        return;
    c->host->log(c->host, CG_LOG_INFO, "captured %lu events in %lu batches",
                 c->events, c->batches);
    if (c->file)
        fclose(c->file);
    c->host->free(c->path);
    c->host->free(c);
}

static const struct cg_option capture_options[] = {
    {"path", CG_OPT_STRING, 1, "absolute path of the JSON-lines file"},
    {NULL, 0, 0, NULL},
};

static const struct cg_plugin capture_plugin = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "capture",
    .kind = "sink",
    .options = capture_options,
    .create = capture_create,
    .destroy = capture_destroy,
    .decode = NULL,
    .deliver = capture_deliver,
};

CG_PLUGIN_EXPORT const struct cg_plugin *cg_plugin_entry(void)
{
    return &capture_plugin;
}
