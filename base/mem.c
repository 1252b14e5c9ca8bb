/*
 * Allocation wrappers. Every allocation in citygate goes through here so
 * unit tests and fuzzers can make the n-th allocation fail on purpose and
 * prove that each caller survives it.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* Countdown to the first injected failure; negative means never. Atomic so
 * that tests may arm it while Paho threads allocate. */
static atomic_long fail_countdown = -1;

void cg_mem_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

static int should_fail(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (n < 0)
        return 0;
    if (n == 0)
        return 1;
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

void *cg_malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size ? size : 1);
}

void *cg_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *cg_realloc(void *ptr, size_t size)
{
    return should_fail() ? NULL : realloc(ptr, size ? size : 1);
}

char *cg_strndup(const char *s, size_t n)
{
    char *p = cg_malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *cg_strdup(const char *s)
{
    return s ? cg_strndup(s, strlen(s)) : NULL;
}

void cg_free(void *ptr)
{
    free(ptr);
}

const char *cg_strerror(int err)
{
    switch (err) {
    case CG_OK:
        return "success";
    case CG_ENOENT:
        return "not found";
    case CG_EIO:
        return "input/output error";
    case CG_RETRY:
        return "temporarily unavailable, try again";
    case CG_ENOMEM:
        return "out of memory";
    case CG_EINVAL:
        return "invalid argument";
    case CG_ENOSPC:
        return "no space left on the device";
    case CG_ERANGE:
        return "value out of range";
    case CG_EDECODE:
        return "payload does not decode";
    case CG_ETOOLARGE:
        return "payload too large";
    case CG_EREJECTED:
        return "rejected by the consumer";
    case CG_EABI:
        return "plugin built for another ABI version";
    case CG_ECONN:
        return "connection failed";
    case CG_ETIMEDOUT:
        return "timed out";
    case CG_EFULL:
        return "queue full";
    default:
        return "unknown error";
    }
}
