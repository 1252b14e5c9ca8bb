/*
 * Helpers shared by the files of base/ and by nothing outside it.
 */
#ifndef CG_BASE_INTERNAL_H
#define CG_BASE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* ---- JSON strings (json_string.c, used by json_parse.c) --------------- */

/* A JSON string literal found and checked by json__string_scan. */
struct json__string {
    size_t end;   /* offset of the closing quote */
    size_t len;   /* decoded length in bytes, without a terminator */
    bool escaped; /* holds escapes: json__string_copy must decode */
    /* On failure: the offset of the bad byte, a short static reason and
     * whether it is an encoding error (invalid UTF-8) or a grammar one. */
    size_t err_at;
    const char *err;
    bool err_utf8;
};

/* Length of the valid UTF-8 sequence starting at s (n bytes left; s[0] >=
 * 0x80), or 0 when it is not valid. */
size_t json__utf8_len(const unsigned char *s, size_t n);

/* Checks the string literal whose opening quote is at s[open]: valid
 * UTF-8, no raw control characters, only RFC 8259 escapes, no \u0000, no
 * lone surrogates. Returns true and fills str, or false with str->err. */
bool json__string_scan(const unsigned char *s, size_t n, size_t open,
                       struct json__string *str);

/* Writes the decoded text of a scanned literal and a NUL to dst, which
 * holds str->len + 1 bytes. */
void json__string_copy(const unsigned char *s, size_t open,
                       const struct json__string *str, char *dst);

#endif
