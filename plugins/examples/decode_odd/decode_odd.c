/*
 * A decoder that breaks the record rules on request, only for the test
 * that the host checks what loaded decoders produce (SPEC §5: an event is
 * UTF-8 JSON with unique keys). The payload's first byte picks the fault:
 * 'u' text that is not UTF-8, 'k' a key that is not UTF-8, 'd' a key
 * twice, 'n' a number that is not finite, 'x' nothing wrong. Built only
 * with the tests, into the test-only folder.
 */
#include <math.h>

#include "citygate_plugin.h"

struct odd {
    const struct cg_host *host;
};

static struct cg_value text(const char *s, uint32_t len)
{
    struct cg_value v = {.type = CG_STR, .len = len};
    v.as.str = s;
    return v;
}

static int odd_decode(void *inst, const struct cg_input *in,
                      struct cg_record *out)
{
    const struct odd *o = inst;
    struct cg_member *f = o->host->record_alloc(out, 2 * sizeof(*f));
    if (!f)
        return CG_ENOMEM;
    char fault = in->len ? (char)in->payload[0] : 'x';
    f[0] = (struct cg_member){"id", 2, text("d1", 2)};
    f[1] = (struct cg_member){"v", 1, text("ok", 2)};
    if (fault == 'u')
        f[1].value = text("\xff\xfe", 2);
    else if (fault == 'k')
        f[1] = (struct cg_member){"\xc3", 1, text("ok", 2)};
    else if (fault == 'd')
        f[1] = (struct cg_member){"id", 2, text("d2", 2)};
    else if (fault == 'n')
        f[1].value = (struct cg_value){.type = CG_NUM, .as.num = NAN};
    out->root = (struct cg_value){.type = CG_OBJ, .len = 2};
    out->root.as.members = f;
    return CG_OK;
}

static int odd_create(const struct cg_host *host, const struct cg_value *opts,
                      void **inst, char *err, size_t errlen)
{
    (void)opts;
    (void)err;
    (void)errlen;
    struct odd *o = host->alloc(sizeof(*o));
    if (!o)
        return CG_ENOMEM;
    o->host = host;
    *inst = o;
    return CG_OK;
}

static void odd_destroy(void *inst)
{
    struct odd *o = inst;
    if (o)
        o->host->free(o);
}

static const struct cg_option odd_options[] = {{NULL, 0, 0, NULL}};

static const struct cg_plugin odd_plugin = {
    .abi_version = CG_PLUGIN_ABI,
    .struct_size = sizeof(struct cg_plugin),
    .name = "odd",
    .kind = "decoder",
    .options = odd_options,
    .create = odd_create,
    .destroy = odd_destroy,
    .decode = odd_decode,
};

CG_PLUGIN_EXPORT const struct cg_plugin *cg_plugin_entry(void)
{
    return &odd_plugin;
}
