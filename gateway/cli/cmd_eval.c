/*
 * citygate eval: one message through decode, normalize, rules and route,
 * without a broker. Prints "<consumer> <topic-or-url> <event-json>" per
 * delivery, or "dead <reason> <dead-letter-json>" (SPEC §7).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int print_delivery(void *user, const struct cg_delivery *d)
{
    (void)user;
    printf("%s %s %s\n", d->consumer_name, d->target, d->event.json);
    return CG_OK;
}

static int print_dead(void *user, const struct cg_dead *d)
{
    (void)user;
    printf("dead %s %.*s\n", cg_dead_reason_name(d->reason), (int)d->len,
           d->json);
    return CG_OK;
}

static int read_payload(const char *path, struct cg_buf *out)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "citygate eval: cannot read '%s': %s\n", path,
                strerror(errno));
        return 1;
    }
    char chunk[8192];
    size_t n;
    errno = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cg_buf_put(out, chunk, n);
    int err = out->oom ? ENOMEM : ferror(f) ? (errno ? errno : EIO) : 0;
    if (f != stdin)
        fclose(f);
    if (err) /* a folder opens, then reads as EISDIR */
        fprintf(stderr, "citygate eval: cannot read '%s': %s\n", path,
                strerror(err));
    return err != 0;
}

static int eval_message(const char *config, const char *topic,
                        const uint8_t *payload, size_t len)
{
    struct cli_loaded l;
    if (cli__load(config, NULL, 0, 0, &l))
        return 1;
    struct cg_message m = {topic, strlen(topic), payload, len, cg_time_now()};
    struct cg_emit emit = {print_delivery, print_dead, NULL};
    int rc = cg_pipeline_process(l.pipeline, &m, &emit);
    cli__unload(&l);
    if (rc < 0) {
        fprintf(stderr, "citygate eval: %s\n", cg_strerror(rc));
        return 1;
    }
    return 0;
}

int cg_cmd_eval(int argc, char **argv)
{
    const char *config = CG_DEFAULT_CONFIG, *topic = NULL, *payload = NULL,
               *file = NULL;
    const struct cli_opt opts[] = {{'c', "config", &config, NULL},
                                   {'t', "topic", &topic, NULL},
                                   {'p', "payload", &payload, NULL},
                                   {'f', "file", &file, NULL},
                                   {0}};
    size_t n_pos;
    if (cli__parse("eval", argc, argv, opts, NULL, &n_pos, 0))
        return 2;
    if (!topic)
        return cli__usage_error("eval", "-t TOPIC is required");
    if (!payload == !file)
        return cli__usage_error("eval", "give exactly one of -p PAYLOAD "
                                        "and -f FILE");
    if (payload)
        return eval_message(config, topic, (const uint8_t *)payload,
                            strlen(payload));
    struct cg_buf b = {0};
    int rc = read_payload(file, &b);
    if (rc == 0)
        rc = eval_message(config, topic, (const uint8_t *)b.data, b.len);
    cg_buf_free(&b);
    return rc;
}
