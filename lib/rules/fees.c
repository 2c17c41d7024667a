/* fees — the national non-facility fee table (§11) as plain data keyed by year
 * and code. Pure: parsing works on text the loader (fees_load.c) has read.
 * P-14: a year without an amount falls back to the nearest known year and says so. */
#include <stdio.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/rules.h"

void ccm_fees_init(ccm_fees_t *fees)
{
    for (int y = 0; y < CCM_FEES_NYEARS; y++)
        for (int c = 0; c < CCM_CODE_COUNT; c++) {
            fees->cents[y][c] = -1;
            fees->source[y][c] = 0;
        }
    fees->pool[0] = '\0'; /* offset 0 is the empty source */
    fees->pool_used = 1;
}

static void s_trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t' || **b == '"'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r' || (*e)[-1] == '"'))
        (*e)--;
}

/* Interns a source text so that identical sources share pool space. */
static int s_intern(ccm_fees_t *fees, const char *b, size_t n, uint16_t *off)
{
    for (size_t i = 1; i < fees->pool_used;) {
        size_t l = strlen(fees->pool + i);
        if (l == n && memcmp(fees->pool + i, b, n) == 0) {
            *off = (uint16_t)i;
            return 0;
        }
        i += l + 1;
    }
    if (fees->pool_used + n + 1 > CCM_FEES_POOL || fees->pool_used > UINT16_MAX)
        return CCM_ETOOBIG;
    memcpy(fees->pool + fees->pool_used, b, n);
    fees->pool[fees->pool_used + n] = '\0';
    *off = (uint16_t)fees->pool_used;
    fees->pool_used += n + 1;
    return 0;
}

int ccm_fees_parse_csv(ccm_fees_t *fees, int year, const char *text, size_t len, char *err,
                       size_t errlen)
{
    if (year < CCM_FEES_YEAR_MIN || year > CCM_FEES_YEAR_MAX) {
        snprintf(err, errlen, "year %d outside %d..%d", year, CCM_FEES_YEAR_MIN, CCM_FEES_YEAR_MAX);
        return CCM_EINVAL;
    }
    const int yi = year - CCM_FEES_YEAR_MIN;
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        lineno++;
        const char *b = p, *e = eol;
        p = eol < end ? eol + 1 : end;
        s_trim(&b, &e);
        if (b == e || *b == '#')
            continue;
        const char *c1 = memchr(b, ',', (size_t)(e - b));
        const char *c2 = c1 ? memchr(c1 + 1, ',', (size_t)(e - c1 - 1)) : NULL;
        if (!c1 || !c2) {
            snprintf(err, errlen, "line %d: expected code,amount_cents,source", lineno);
            return CCM_EINVAL;
        }
        const char *cb = b, *ce = c1, *ab = c1 + 1, *ae = c2, *sb = c2 + 1, *se = e;
        s_trim(&cb, &ce);
        s_trim(&ab, &ae);
        s_trim(&sb, &se);
        if (lineno == 1 && ce - cb == 4 && memcmp(cb, "code", 4) == 0)
            continue; /* header */
        char code[8];
        if (ce - cb <= 0 || ce - cb >= (long)sizeof code) {
            snprintf(err, errlen, "line %d: bad code", lineno);
            return CCM_EINVAL;
        }
        memcpy(code, cb, (size_t)(ce - cb));
        code[ce - cb] = '\0';
        ccm_code_t k = ccm_rules_code_parse(code);
        if (k == CCM_CODE_NONE) {
            snprintf(err, errlen, "line %d: unknown code %s", lineno, code);
            return CCM_EINVAL;
        }
        int64_t cents = 0;
        if (ab == ae) {
            snprintf(err, errlen, "line %d: missing amount_cents", lineno);
            return CCM_EINVAL;
        }
        for (const char *q = ab; q < ae; q++) {
            if (*q < '0' || *q > '9' || cents > 100000000) {
                snprintf(err, errlen, "line %d: amount_cents must be a whole number of cents", lineno);
                return CCM_EINVAL;
            }
            cents = cents * 10 + (*q - '0');
        }
        if (fees->cents[yi][k] >= 0) {
            snprintf(err, errlen, "line %d: duplicate code %s", lineno, code);
            return CCM_EINVAL;
        }
        uint16_t off;
        if (s_intern(fees, sb, (size_t)(se - sb), &off) != 0) {
            snprintf(err, errlen, "line %d: too much source text", lineno);
            return CCM_EINVAL;
        }
        fees->cents[yi][k] = cents;
        fees->source[yi][k] = off;
    }
    return 0;
}

ccm_fee_t ccm_fees_lookup(const ccm_fees_t *fees, ccm_code_t code, int year)
{
    ccm_fee_t f = {-1, year, false, ""};
    if (code <= CCM_CODE_NONE || code >= CCM_CODE_COUNT)
        return f;
    int y = year < CCM_FEES_YEAR_MIN ? CCM_FEES_YEAR_MIN : year > CCM_FEES_YEAR_MAX ? CCM_FEES_YEAR_MAX : year;
    int yi = y - CCM_FEES_YEAR_MIN;
    for (int i = yi; i >= 0; i--)
        if (fees->cents[i][code] >= 0) {
            yi = i;
            goto found;
        }
    for (int i = yi + 1; i < CCM_FEES_NYEARS; i++)
        if (fees->cents[i][code] >= 0) {
            yi = i;
            goto found;
        }
    return f;
found:
    f.cents = fees->cents[yi][code];
    f.year = yi + CCM_FEES_YEAR_MIN;
    f.stale = f.year != year;
    f.source = fees->pool + fees->source[yi][code];
    return f;
}
