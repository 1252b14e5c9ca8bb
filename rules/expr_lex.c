/*
 * The expression tokenizer: turns source text into tokens one at a time,
 * on demand, for the parser's single token of lookahead.
 *
 * Literals are decoded here, once, at load time: numbers through
 * cg_number_parse (JSON syntax, SPEC §12) and strings, with their escapes,
 * into the expression's arena, NUL-terminated like every citygate string.
 * Keywords come back as the token they stand for but keep `word` set, so
 * `a.in` or `payload.true` still read as member names. Every error carries
 * the byte offset of the character at fault.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int expr__error(struct cg_expr_error *err, size_t offset, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->offset = offset;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return CG_EINVAL;
}

static bool is_word_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

static const struct {
    const char *word;
    int kind;
} keywords[] = {
    {"and", TOK_AND},  {"or", TOK_OR},     {"not", TOK_NOT},  {"in", TOK_IN},
    {"true", TOK_LIT}, {"false", TOK_LIT}, {"null", TOK_LIT},
};

static void lex_word(struct expr__lexer *lx, struct expr__token *t)
{
    size_t i = lx->pos;
    while (i < lx->len && (is_word_start(lx->src[i]) || is_digit(lx->src[i])))
        i++;
    t->kind = TOK_IDENT;
    t->word = true;
    t->len = i - lx->pos;
    lx->pos = i;
    const char *w = lx->src + t->start;
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
        if (strlen(keywords[k].word) != t->len ||
            memcmp(keywords[k].word, w, t->len) != 0)
            continue;
        t->kind = keywords[k].kind;
        if (t->kind == TOK_LIT && w[0] != 'n') /* true or false */
            t->val = cg_value_bool(w[0] == 't');
        return;
    }
}

int expr__lex_number(struct expr__lexer *lx, size_t start, size_t end,
                     struct cg_value *out)
{
    int rc = cg_number_parse(lx->src + start, end - start, out);
    if (rc == CG_EINVAL) {
        int n = end - start > 32 ? 32 : (int)(end - start);
        return expr__error(lx->err, start, "invalid number '%.*s'", n,
                           lx->src + start);
    }
    if (rc == CG_ERANGE)
        return expr__error(lx->err, start, "number out of range");
    return rc;
}

/* A number runs over everything that could belong to it (digits, letters,
 * '.', a sign after an exponent), so that "1x" or "01" is one bad number
 * rather than two tokens. */
static int lex_number(struct expr__lexer *lx, struct expr__token *t)
{
    size_t i = lx->pos + 1; /* after the first digit */
    while (i < lx->len) {
        char c = lx->src[i];
        char prev = lx->src[i - 1];
        bool sign = (c == '+' || c == '-') && (prev == 'e' || prev == 'E');
        if (!is_word_start(c) && !is_digit(c) && c != '.' && !sign)
            break;
        i++;
    }
    t->kind = TOK_LIT;
    t->len = i - lx->pos;
    lx->pos = i;
    return expr__lex_number(lx, t->start, i, &t->val);
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = is_digit(c)              ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t utf8_put(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads \uHHHH at s[*i] (the backslash), with a following low surrogate
 * when it is a high one, and advances *i past it. */
static int read_unicode(struct expr__lexer *lx, size_t *i, size_t end,
                        unsigned long *cp)
{
    size_t at = *i;
    int v = at + 6 <= end ? hex4(lx->src + at + 2) : -1;
    if (v < 0)
        return expr__error(lx->err, at, "invalid \\u escape in string");
    *i = at + 6;
    if (v >= 0xD800 && v <= 0xDBFF && *i + 6 <= end && lx->src[*i] == '\\' &&
        lx->src[*i + 1] == 'u') {
        int lo = hex4(lx->src + *i + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *i += 6;
            *cp = 0x10000 + (((unsigned long)v - 0xD800) << 10) +
                  ((unsigned long)lo - 0xDC00);
            return CG_OK;
        }
    }
    if (v >= 0xD800 && v <= 0xDFFF)
        return expr__error(lx->err, at, "lone surrogate '\\u%.4s' in string",
                           lx->src + at + 2);
    if (v == 0)
        return expr__error(lx->err, at, "\\u0000 is not allowed in a string");
    *cp = (unsigned long)v;
    return CG_OK;
}

/* Decodes the escape at src[*i] (the backslash) into out; returns the
 * number of bytes written or a negative CG_E*. */
static int read_escape(struct expr__lexer *lx, size_t *i, size_t end, char *out)
{
    char c = lx->src[*i + 1];
    static const char from[] = "\"'\\/ntr", to[] = "\"'\\/\n\t\r";
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit) {
        *out = to[hit - from];
        *i += 2;
        return 1;
    }
    if (c == 'u') {
        unsigned long cp = 0;
        int rc = read_unicode(lx, i, end, &cp);
        return rc ? rc : (int)utf8_put(cp, out);
    }
    if (c > 0x20 && c < 0x7F)
        return expr__error(lx->err, *i, "invalid escape '\\%c' in string", c);
    return expr__error(lx->err, *i, "invalid escape in string");
}

/* Finds the closing quote of the string opening at lx->pos. */
static int string_end(struct expr__lexer *lx, size_t *end)
{
    char quote = lx->src[lx->pos];
    for (size_t i = lx->pos + 1; i < lx->len; i++) {
        unsigned char c = (unsigned char)lx->src[i];
        if (c == (unsigned char)quote) {
            *end = i;
            return CG_OK;
        }
        if (c == '\n' || c == '\r')
            return expr__error(lx->err, i, "line break in string");
        if (c < 0x20 && c != '\t')
            return expr__error(lx->err, i, "control character in string");
        if (c == '\\')
            i++;
    }
    return expr__error(lx->err, lx->pos, "unterminated string");
}

static int lex_string(struct expr__lexer *lx, struct expr__token *t)
{
    size_t end = 0;
    int rc = string_end(lx, &end);
    if (rc)
        return rc;
    /* Escapes never decode longer than they are written. */
    char *out = cg_arena_alloc(lx->arena, end - lx->pos);
    if (!out)
        return CG_ENOMEM;
    size_t n = 0;
    for (size_t i = lx->pos + 1; i < end;) {
        if (lx->src[i] != '\\') {
            out[n++] = lx->src[i++];
            continue;
        }
        rc = read_escape(lx, &i, end, out + n);
        if (rc < 0)
            return rc;
        n += (size_t)rc;
    }
    out[n] = '\0';
    if (!cg_utf8_valid(out, n))
        return expr__error(lx->err, lx->pos, "invalid UTF-8 in string");
    if (n > UINT32_MAX)
        return expr__error(lx->err, lx->pos, "string too long");
    t->kind = TOK_LIT;
    t->string = true;
    t->val = cg_value_str(out, n);
    t->len = end + 1 - lx->pos;
    lx->pos = end + 1;
    return CG_OK;
}

size_t expr__lex_string_offset(const char *src, size_t len, size_t quote,
                               size_t index)
{
    struct expr__lexer lx = {.src = src, .len = len, .pos = quote};
    size_t end, i = quote + 1, n = 0;
    char bytes[4];
    if (quote >= len || (src[quote] != '"' && src[quote] != '\'') ||
        string_end(&lx, &end))
        return quote;
    while (i < end && n < index) {
        if (src[i] != '\\') {
            i++;
            n++;
            continue;
        }
        int k = read_escape(&lx, &i, end, bytes);
        if (k < 0)
            return quote;
        n += (size_t)k;
    }
    return i;
}

/* Operators of one or two characters. Longer spellings come first so that
 * "<=" wins over "<". */
static const struct {
    const char *text;
    int kind;
} operators[] = {
    {"==", TOK_EQ},      {"!=", TOK_NE},    {"<=", TOK_LE},
    {">=", TOK_GE},      {"&&", TOK_AND},   {"||", TOK_OR},
    {"(", TOK_LPAREN},   {")", TOK_RPAREN}, {"[", TOK_LBRACKET},
    {"]", TOK_RBRACKET}, {",", TOK_COMMA},  {".", TOK_DOT},
    {"?", TOK_QUESTION}, {":", TOK_COLON},  {"+", TOK_PLUS},
    {"-", TOK_MINUS},    {"*", TOK_STAR},   {"/", TOK_SLASH},
    {"%", TOK_PERCENT},  {"!", TOK_NOT},    {"<", TOK_LT},
    {">", TOK_GT},
};

static int lex_operator(struct expr__lexer *lx, struct expr__token *t)
{
    const char *s = lx->src + lx->pos;
    size_t left = lx->len - lx->pos;
    for (size_t k = 0; k < sizeof(operators) / sizeof(operators[0]); k++) {
        size_t n = strlen(operators[k].text);
        if (n <= left && memcmp(s, operators[k].text, n) == 0) {
            t->kind = operators[k].kind;
            t->len = n;
            lx->pos += n;
            return CG_OK;
        }
    }
    unsigned char c = (unsigned char)s[0];
    if (c == '=' || c == '&' || c == '|')
        return expr__error(lx->err, lx->pos,
                           "unexpected '%c' (did you mean '%c%c'?)", c, c, c);
    if (c > 0x20 && c < 0x7F)
        return expr__error(lx->err, lx->pos, "unexpected character '%c'", c);
    return expr__error(lx->err, lx->pos, "unexpected byte 0x%02x", c);
}

int expr__lex(struct expr__lexer *lx, struct expr__token *t)
{
    while (lx->pos < lx->len && is_space(lx->src[lx->pos]))
        lx->pos++;
    memset(t, 0, sizeof(*t));
    t->start = lx->pos;
    if (lx->pos >= lx->len)
        return CG_OK; /* TOK_END */
    char c = lx->src[lx->pos];
    if (is_word_start(c)) {
        lex_word(lx, t);
        return CG_OK;
    }
    if (is_digit(c))
        return lex_number(lx, t);
    if (c == '"' || c == '\'')
        return lex_string(lx, t);
    return lex_operator(lx, t);
}
