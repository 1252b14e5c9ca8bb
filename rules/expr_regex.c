/*
 * A guard in front of regcomp(): glibc builds a regex's automaton by
 * copying the tree once per repetition, so a short pattern such as
 * "[0-9]++++++{3}" or "(a{100}){100}" can take gigabytes and minutes to
 * compile. Rule files are trusted to be typos, not attacks, but `check`
 * and a reload must stay quick and small whatever they hold, so patterns
 * whose repetitions multiply past a bound are refused at load time.
 * Patterns that pass are compiled here, once, for matches().
 */
#include <stdlib.h>

#include "internal.h"

#define MAX_COUNT   255    /* the largest {m,n} bound accepted */
#define MAX_PRODUCT 10000L /* repetitions multiplied over the pattern */

static bool is_quantifier(char c)
{
    return c == '*' || c == '+' || c == '?' || c == '{';
}

/* Skips a bracket expression "[...]" starting at s[i]; returns the index
 * after it (or the end of the pattern). */
static size_t skip_bracket(const char *s, size_t i)
{
    i++;
    if (s[i] == '^')
        i++;
    if (s[i] == ']')
        i++; /* a ']' first is a member, not the end */
    while (s[i] && s[i] != ']')
        i++;
    return s[i] ? i + 1 : i;
}

/* Reads "{m}", "{m,}" or "{m,n}" at s[i]; returns the largest count it
 * allows (m when open-ended) and sets *end past it, or -1 when malformed
 * (regcomp will say so). */
static long brace_count(const char *s, size_t i, size_t *end)
{
    char *p;
    long m = strtol(s + i + 1, &p, 10), n = m;
    if (*p == ',' && p[1] != '}')
        n = strtol(p + 1, &p, 10);
    else if (*p == ',')
        p++;
    if (*p != '}')
        return -1;
    *end = (size_t)(p - s) + 1;
    return n > m ? n : m;
}

const char *expr__regex_too_costly(const char *s)
{
    long product = 1;
    bool after_quantifier = false;
    for (size_t i = 0; s[i];) {
        if (s[i] == '\\' && s[i + 1]) {
            i += 2;
        } else if (s[i] == '[') {
            i = skip_bracket(s, i);
        } else if (is_quantifier(s[i])) {
            if (after_quantifier)
                return "repeated repetition operators";
            size_t end = i + 1;
            long n = s[i] == '{' ? brace_count(s, i, &end) : 2;
            if (n > MAX_COUNT)
                return "a repetition count above 255";
            product *= n > 1 ? n : 1;
            if (product > MAX_PRODUCT)
                return "repetitions that multiply past 10000";
            i = end;
            after_quantifier = true;
            continue;
        } else {
            i++;
        }
        after_quantifier = false;
    }
    return NULL;
}

int expr__regex_compile(struct cg_expr *e, struct expr__node *call,
                        struct cg_expr_error *err)
{
    const struct expr__node *lit = call->kids[1];
    if (lit->kind != NODE_LIT || lit->lit.type != CG_STR)
        return expr__error(err, lit->offset,
                           "matches() needs a string literal as its regex");
    const char *costly = expr__regex_too_costly(lit->lit.as.str);
    if (costly)
        return expr__error(err, lit->offset, "regex too costly: %s", costly);
    struct expr__regex *r = cg_arena_alloc(e->arena, sizeof(*r));
    if (!r)
        return CG_ENOMEM;
    int rc = regcomp(&r->re, lit->lit.as.str, REG_EXTENDED | REG_NOSUB);
    if (rc == REG_ESPACE)
        return CG_ENOMEM;
    if (rc) {
        char why[128];
        regerror(rc, NULL, why, sizeof(why));
        return expr__error(err, lit->offset, "bad regex: %s", why);
    }
    r->next = e->regexes;
    e->regexes = r;
    call->re = &r->re;
    return CG_OK;
}
