/*
 * What every fuzz target shares: the leading control bytes that arm
 * allocation-failure injection, and a way to stop on a broken invariant.
 *
 * Input layout: byte 0 is the control byte. When its two top bits are
 * set (0xC0..0xFF, a quarter of the values) it and byte 1 arm
 * cg_mem_fail_after(n) with n = (byte0 & 0x3F) << 8 | byte1, so that the
 * n-th allocation of the run, and every later one, fails; otherwise only
 * byte 0 is consumed and nothing fails. Seeds start with a plain ASCII
 * byte, so they read as text and run without failures; the fuzzer finds
 * the failing variants by itself. Every run must free what it took,
 * failure or not: the targets run with leak detection on.
 */
#ifndef CG_FUZZ_H
#define CG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The allocation that fails first in this run, or -1; and whether that
 * is armed at all: only then may the code under test report CG_ENOMEM. */
static long fuzz_fail_at = -1;
static bool fuzz_armed;

/* Consumes the control bytes and arms injection; returns false when the
 * input is too short to hold them. */
static inline bool fuzz_begin(const uint8_t **data, size_t *size)
{
    fuzz_fail_at = -1;
    fuzz_armed = false;
    cg_mem_fail_after(-1);
    if (*size < 1)
        return false;
    uint8_t c = (*data)[0];
    size_t used = (c & 0xC0) == 0xC0 ? 2 : 1;
    if (*size < used)
        return false;
    if (used == 2)
        fuzz_fail_at = (long)(c & 0x3F) << 8 | (*data)[1];
    fuzz_armed = fuzz_fail_at >= 0;
    *data += used;
    *size -= used;
    cg_mem_fail_after(fuzz_fail_at);
    return true;
}

/* Arms injection again after a pause (fuzz_end) for the harness's own
 * work, counting from zero again. */
static inline void fuzz_arm(void)
{
    cg_mem_fail_after(fuzz_fail_at);
}

/* Disarms injection; call before checking results or returning. */
static inline void fuzz_end(void)
{
    cg_mem_fail_after(-1);
}

/* A broken invariant is a bug even when nothing crashed: report it and
 * abort, so libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n  ",          \
                    __FILE__, __LINE__, #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
