/*
 * base: the small toolbox every citygate library shares.
 *
 * Memory wrappers with failure injection, a per-message arena, a growable
 * byte buffer, diagnostics with source positions, text helpers (UTF-8,
 * numbers in text, base64, JSON text in and out), a stable hash and time
 * formatting. Nothing here logs, blocks or touches the network; every
 * function is safe to call from any thread on its own data.
 */
#ifndef CG_BASE_H
#define CG_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "citygate_plugin.h"

/* ---- memory ---------------------------------------------------------- */

/* All allocation goes through these so tests and fuzzers can inject
 * failures. They return NULL on failure and never abort. */
void *cg_malloc(size_t size);
void *cg_calloc(size_t n, size_t size);
void *cg_realloc(void *ptr, size_t size);
char *cg_strdup(const char *s);
char *cg_strndup(const char *s, size_t n);
void cg_free(void *ptr);
#define CG_FREE(p)                                                             \
    do {                                                                       \
        cg_free(p);                                                            \
        (p) = NULL;                                                            \
    } while (0)

/* Makes the n-th allocation from now on (0 = the next) and every later one
 * fail; n < 0 turns injection off. For tests and fuzzers only. */
void cg_mem_fail_after(long n);

/* Names an error code (CG_E*) in a short sentence fragment. */
const char *cg_strerror(int err);

/* ---- arena ----------------------------------------------------------- */

/* A bump allocator for everything that lives as long as one message. Reset
 * keeps the first chunk, so a steady stream of messages allocates nothing.
 * Not thread-safe: one arena per thread. */
struct cg_arena;
struct cg_arena *cg_arena_new(size_t chunk_size);
void cg_arena_free(struct cg_arena *a);
void *cg_arena_alloc(struct cg_arena *a, size_t size); /* 8-byte aligned */
char *cg_arena_strndup(struct cg_arena *a, const char *s, size_t n);
void cg_arena_reset(struct cg_arena *a);
size_t cg_arena_used(const struct cg_arena *a);

/* ---- byte buffer ----------------------------------------------------- */

/* A growable buffer that stays NUL-terminated. After an allocation failure
 * it sets `oom` and ignores further writes, so callers check once at the
 * end instead of after every append. */
struct cg_buf {
    char *data;
    size_t len, cap;
    int oom;
};
void cg_buf_put_slow(struct cg_buf *b, const void *p, size_t n);
/* Appends n bytes (inline: the hot path of every event written). */
static inline void cg_buf_put(struct cg_buf *b, const void *p, size_t n)
{
    if (!b->oom && n < b->cap - b->len) { /* room for n and the NUL */
        if (n)
            __builtin_memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    cg_buf_put_slow(b, p, n);
}
void cg_buf_puts(struct cg_buf *b, const char *s);
void cg_buf_putc_slow(struct cg_buf *b, char c);
/* One byte: inline, since events are written a character at a time in
 * places. */
static inline void cg_buf_putc(struct cg_buf *b, char c)
{
    if (!b->oom && 1 < b->cap - b->len) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return;
    }
    cg_buf_putc_slow(b, c);
}
void cg_buf_printf(struct cg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cg_buf_reset(struct cg_buf *b); /* keeps the memory */
void cg_buf_free(struct cg_buf *b);

/* ---- diagnostics ----------------------------------------------------- */

/* How bad a diagnostic is. An error makes a loader fail; a warning is
 * reported (e.g. by `citygate check`) but never fails a load on its own. */
enum cg_diag_severity { CG_DIAG_ERROR = 0, CG_DIAG_WARNING };

/* One problem found in a config or rule file, printed as
 * "file:line:col: error: msg" (or "warning:"). The list owns its copies
 * of `file` and `msg`; msg is as long as the message is (never cut: a
 * message often quotes an expression or a path), never NULL. */
struct cg_diag {
    const char *file;
    int line, col;
    int severity; /* enum cg_diag_severity; 0 (an error) when zeroed */
    char *msg;
};

/* The room callers give a message they format before adding it (with a
 * place prefixed, say): enough for any expression a message quotes. */
#define CG_DIAG_MSG_MAX 1024

/* A list of diagnostics: loaders report every problem, not just the first. */
struct cg_diags {
    struct cg_diag *items;
    size_t n, cap;
};
/* Adds an error. Out of memory, the diagnostic is dropped (callers count
 * their errors themselves, so a dropped one still fails the load). */
void cg_diags_add(struct cg_diags *d, const char *file, int line, int col,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cg_diags_vadd(struct cg_diags *d, const char *file, int line, int col,
                   const char *fmt, va_list ap);
/* Adds a warning: something that works but is probably not what the
 * operator wants (a password file others can read). */
void cg_diags_warn(struct cg_diags *d, const char *file, int line, int col,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Number of diagnostics that are errors (warnings not counted). */
size_t cg_diags_errors(const struct cg_diags *d);
void cg_diags_free(struct cg_diags *d);
/* Writes "file:line:col: error: msg\n" for each error and
 * "file:line:col: warning: msg\n" for each warning to buf, in the order
 * they were added. Without a line the position is "file: ", without a
 * file it is left out. */
void cg_diags_format(const struct cg_diags *d, struct cg_buf *out);

/*
 * Where a scalar came from, so a compiler can turn an offset inside the
 * text into a line and column of the YAML file. For plain and quoted
 * scalars (line, col) is the position of the first character of the text
 * (after any quote); for block scalars (| and >) every line of the text
 * starts at column `indent + 1`.
 */
struct cg_src {
    const char *text;
    const char *file;
    int line, col;
    int block;  /* 1 for | and > scalars */
    int indent; /* block scalars: columns of indentation removed */
};
/* Position of byte `offset` of src->text. */
void cg_src_locate(const struct cg_src *src, size_t offset, int *line,
                   int *col);

/* ---- text ------------------------------------------------------------ */

/* True when s[0..n) is valid UTF-8 (no overlongs, no surrogates). */
bool cg_utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8. */
size_t cg_utf8_count(const char *s, size_t n);
/* Decodes the UTF-8 sequence at s[0..n), n > 0: its length with the code
 * point in *cp, or 0 when it is not valid (overlong, surrogate, beyond
 * U+10FFFF, truncated). */
size_t cg_utf8_decode(const char *s, size_t n, uint32_t *cp);

/*
 * Reads a number in JSON syntax filling s[0..n) exactly (no spaces, no
 * '+', no leading '.', no hex/inf/nan). Integers that fit in 64 bits come
 * back as CG_INT, others as CG_NUM. Returns CG_OK, CG_EINVAL (not a number)
 * or CG_ERANGE (magnitude beyond the double range; underflow reads as 0).
 */
int cg_number_parse(const char *s, size_t n, struct cg_value *out);

/* Types a trimmed text cell as SPEC §2 says for kv values and csv cells:
 * a number, true/false, or else a string (the string is NOT copied: out
 * points into s). Returns CG_OK or CG_ERANGE (a number out of range). */
int cg_text_type(const char *s, size_t n, struct cg_value *out);

/* Levenshtein distance between two short names (99 past 30 bytes): for
 * "did you mean" suggestions. */
size_t cg_edit_distance(const char *a, const char *b);

/* A size in bytes: a whole number with an optional unit (B, KiB, MiB,
 * GiB, KB, MB, GB): "512", "64KiB", "1GiB". CG_OK or CG_EINVAL (not a
 * size, or beyond 64 bits). */
int cg_size_parse(const char *s, uint64_t *out);

/* A duration: a whole number and one of the units ms, s, m, h, d
 * ("500ms", "30s", "5m", "1h", "1d"; SPEC §3), at most CG_DURATION_MAX,
 * into milliseconds. CG_OK or CG_EINVAL. */
#define CG_DURATION_MAX (100LL * 366 * 86400 * 1000)
int cg_duration_parse(const char *s, int64_t *ms);

/* Trims ASCII spaces and tabs (and CR/LF) on both ends. */
void cg_trim(const char **s, size_t *n);

/* base64 (RFC 4648, with padding). decode skips ASCII whitespace and
 * returns the decoded length, or -1 for invalid input. out must hold
 * at least n * 3 / 4 + 3 bytes. */
void cg_base64_encode(struct cg_buf *out, const void *p, size_t n);
long cg_base64_decode(const char *s, size_t n, uint8_t *out);

/* ---- JSON ------------------------------------------------------------ */

/* Maximum nesting of objects and arrays the parser accepts (SPEC §2). */
#define CG_JSON_MAX_DEPTH 64

/* Where a parser gets memory for the tree it builds (an arena, or a
 * plugin host's record_alloc). Returns NULL when out of memory. */
typedef void *(*cg_alloc_fn)(void *ctx, size_t size);
/* cg_alloc_fn over a struct cg_arena (ctx). */
void *cg_arena_alloc_fn(void *arena, size_t size);

/*
 * Parses one JSON text strictly (RFC 8259 plus SPEC §2: no BOM, no \u0000,
 * no lone surrogates, no NaN/Infinity, no raw control characters in
 * strings, nesting up to CG_JSON_MAX_DEPTH, numbers within the double
 * range, integers beyond 64 bits as doubles, duplicate keys: the last one
 * wins and keeps the first one's position). Every node and string of the
 * tree comes from alloc(ctx, size). Returns CG_OK, CG_EDECODE (with a
 * one-line reason in err) or CG_ENOMEM.
 */
int cg_json_parse(const char *text, size_t n, cg_alloc_fn alloc, void *ctx,
                  struct cg_value *out, char *err, size_t errlen);

/* Makes the keys of m[0..*k) unique in place (keys must not be NULL):
 * for a repeated key the last value wins and stays at the position of the
 * key's first occurrence; *k becomes the new count. O(k log k). Returns
 * CG_OK or CG_ENOMEM (big arrays sort on cg_malloc scratch). */
int cg_members_dedupe(struct cg_member *m, size_t *k);

/* Appends a JSON string literal (with quotes and escapes). */
void cg_json_put_string(struct cg_buf *b, const char *s, size_t n);
/* Appends a number: integers and whole doubles below 2^53 without a
 * decimal point, others in the shortest form that reads back the same. */
void cg_json_put_int(struct cg_buf *b, int64_t i);
void cg_json_put_num(struct cg_buf *b, double d);
/* Appends a value as compact JSON. */
void cg_json_put_value(struct cg_buf *b, const struct cg_value *v);

/* ---- hashing and time ------------------------------------------------ */

/* A stable 64-bit hash (FNV-1a with a final avalanche): the same bytes give
 * the same hash on every machine and every version. Chain calls by passing
 * the previous result as seed; start with CG_HASH_SEED. */
#define CG_HASH_SEED 0xcbf29ce484222325ULL
uint64_t cg_hash64(uint64_t seed, const void *p, size_t n);
uint64_t cg_hash_mix(uint64_t h);
/* Writes 16 lowercase hex digits and a NUL. */
void cg_hex64(uint64_t h, char out[17]);

/* Epoch seconds now (wall clock) and monotonic seconds. */
double cg_time_now(void);
double cg_time_mono(void);
/* The wall-clock moment `seconds` from now, as the absolute deadline that
 * pthread_cond_timedwait and pthread_mutex_timedlock take. */
struct timespec;
void cg_time_deadline(struct timespec *ts, double seconds);
/* Writes RFC 3339 UTC with milliseconds: 2026-11-30T08:15:02.123Z */
void cg_time_format(double epoch_s, char out[32]);
/* Makes zone (an IANA name) the process's local time zone, which the
 * expression library's time functions read through localtime_r. It sets
 * TZ in the environment: call it from the main thread before other
 * threads start (a reload does not change the zone). */
void cg_time_set_zone(const char *zone);
/* Parses RFC 3339 (date, 'T' or ' ', time, optional fraction, Z or
 * +hh:mm). Returns CG_OK or CG_EINVAL. */
int cg_time_parse(const char *s, size_t n, double *epoch_s);

#endif
