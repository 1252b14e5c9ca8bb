/*
 * The time functions of expressions (SPEC §14): hour, minute, weekday,
 * date and format_time, in the process's local time zone.
 *
 * The zone comes from the C library (localtime_r), which the gateway
 * points at gateway.timezone once at start (rules.h); nothing here reads
 * or sets the environment. Because the zone is outside the expression,
 * these functions are never folded into constants at load time.
 *
 * A time is a number of epoch seconds; its fraction is dropped towards
 * the past (-0.5 is 23:59:59 of the day before). Anything else, and any
 * time whose local year falls outside 1..9999, gives null. format_time
 * renders a format that the compiler has already checked against the
 * strftime subset below, itself, so that the output depends on neither
 * the locale nor the C library's padding of years: it is what strftime
 * gives in the C locale, with %Y always four digits.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Beyond about 31,700 years from 1970 no year is within 1..9999 in any
 * zone; the bound keeps the conversion to time_t exact. */
#define TIME_LIMIT 1e12

/* The conversions format_time accepts, after '%'. */
static const char conversions[] = "YmdHMSjab%";

/* The broken-down local time of t, or false when t is no usable time. */
static bool local_time(const struct cg_value *t, struct tm *tm)
{
    if (!cg_value_is_number(t))
        return false;
    double d = floor(cg_value_to_double(t));
    if (!(d >= -TIME_LIMIT && d <= TIME_LIMIT))
        return false; /* also NaN */
    time_t s = (time_t)d;
    if ((double)s != d || !localtime_r(&s, tm))
        return false;
    return tm->tm_year >= 1 - 1900 && tm->tm_year <= 9999 - 1900;
}

void expr__fn_hour(struct expr__ev *ev, const struct expr__node *n,
                   const struct cg_value *a, struct cg_value *out)
{
    struct tm tm;
    *out = local_time(a, &tm) ? cg_value_int(tm.tm_hour) : CG_VALUE_NULL;
}

void expr__fn_minute(struct expr__ev *ev, const struct expr__node *n,
                     const struct cg_value *a, struct cg_value *out)
{
    struct tm tm;
    *out = local_time(a, &tm) ? cg_value_int(tm.tm_min) : CG_VALUE_NULL;
}

/* ISO 8601 numbering: 1 is Monday, 7 is Sunday (tm_wday has Sunday 0). */
void expr__fn_weekday(struct expr__ev *ev, const struct expr__node *n,
                      const struct cg_value *a, struct cg_value *out)
{
    struct tm tm;
    *out = local_time(a, &tm) ? cg_value_int(tm.tm_wday ? tm.tm_wday : 7)
                              : CG_VALUE_NULL;
}

/* Writes v in exactly `width` decimal digits, zero-padded. */
static size_t put_digits(char *o, int v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        o[i] = (char)('0' + v % 10);
    return (size_t)width;
}

/* Renders one conversion (c, as after '%') of tm at o; returns its length,
 * at most four bytes. */
static size_t put_conversion(char *o, char c, const struct tm *tm)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    switch (c) {
    case 'Y':
        return put_digits(o, tm->tm_year + 1900, 4);
    case 'm':
        return put_digits(o, tm->tm_mon + 1, 2);
    case 'd':
        return put_digits(o, tm->tm_mday, 2);
    case 'H':
        return put_digits(o, tm->tm_hour, 2);
    case 'M':
        return put_digits(o, tm->tm_min, 2);
    case 'S':
        return put_digits(o, tm->tm_sec, 2);
    case 'j':
        return put_digits(o, tm->tm_yday + 1, 3);
    case 'a':
        memcpy(o, days + 3 * tm->tm_wday, 3);
        return 3;
    case 'b':
        memcpy(o, months + 3 * tm->tm_mon, 3);
        return 3;
    default: /* '%' */
        *o = '%';
        return 1;
    }
}

/* Renders a checked format into the arena. No conversion (two bytes of
 * format) writes more than four bytes, so twice the format's length is
 * room enough. */
static void render(struct expr__ev *ev, const struct tm *tm,
                   const struct cg_value *fmt, struct cg_value *out)
{
    char *o = expr__alloc(ev, (size_t)fmt->len * 2 + 1);
    size_t len = 0;
    *out = CG_VALUE_NULL;
    if (!o)
        return;
    for (uint32_t i = 0; i < fmt->len; i++) {
        if (fmt->as.str[i] == '%' && i + 1 < fmt->len)
            len += put_conversion(o + len, fmt->as.str[++i], tm);
        else
            o[len++] = fmt->as.str[i];
    }
    o[len] = '\0';
    *out = cg_value_str(o, len);
}

void expr__fn_date(struct expr__ev *ev, const struct expr__node *n,
                   const struct cg_value *a, struct cg_value *out)
{
    static const struct cg_value iso = {
        .type = CG_STR, .len = 8, .as.str = "%Y-%m-%d"};
    struct tm tm;
    if (local_time(a, &tm))
        render(ev, &tm, &iso, out);
    else
        *out = CG_VALUE_NULL;
}

/* The format is a string literal the compiler checked (a folded one keeps
 * its check); a non-string here cannot happen, but reads as null. */
void expr__fn_format_time(struct expr__ev *ev, const struct expr__node *n,
                          const struct cg_value *a, struct cg_value *out)
{
    struct tm tm;
    if (a[1].type == CG_STR && local_time(&a[0], &tm))
        render(ev, &tm, &a[1], out);
    else
        *out = CG_VALUE_NULL;
}

/* Finds the first '%' of fmt that starts no accepted conversion: true and
 * its index in *at, or false when the format is valid. */
static bool format_problem(const struct cg_value *fmt, size_t *at)
{
    for (uint32_t i = 0; i < fmt->len; i++) {
        if (fmt->as.str[i] != '%')
            continue;
        *at = i++;
        if (i == fmt->len || fmt->as.str[i] == '\0' ||
            !strchr(conversions, fmt->as.str[i]))
            return true;
    }
    return false;
}

int expr__time_format_check(const struct expr__node *n, const char *src,
                            size_t len, struct cg_expr_error *err)
{
    const struct expr__node *lit = n->kids[1];
    size_t at = 0;
    if (lit->kind != NODE_LIT || lit->lit.type != CG_STR)
        return expr__error(err, lit->offset,
                           "format_time() needs a string literal as its "
                           "format");
    if (!format_problem(&lit->lit, &at))
        return CG_OK;
    /* A literal as written points at its '%'; a folded one at itself. */
    size_t offset = expr__lex_string_offset(src, len, lit->offset, at);
    if (at + 1 == lit->lit.len)
        return expr__error(err, offset,
                           "format_time(): '%%' at the end of the format");
    char c = lit->lit.as.str[at + 1];
    if (c > 0x20 && c < 0x7F)
        return expr__error(err, offset,
                           "format_time(): unsupported conversion '%%%c' "
                           "(use %%Y %%m %%d %%H %%M %%S %%j %%a %%b %%%%)",
                           c);
    return expr__error(err, offset,
                       "format_time(): unsupported conversion after '%%' "
                       "(use %%Y %%m %%d %%H %%M %%S %%j %%a %%b %%%%)");
}
