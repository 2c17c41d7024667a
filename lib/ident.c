/* ident — identifier validation (see ident.h). Every reason is a static string
 * that completes "<field>: …" in an error reply. */
#include "ccm/ident.h"

#include <ctype.h>
#include <string.h>

#include "ccm/error.h"

static int s_fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return CCM_EINVAL;
}

/* MBI letters exclude S, L, O, I, B and Z (they read like digits). */
static bool s_mbi_alpha(char c)
{
    return c >= 'A' && c <= 'Z' && !strchr("SLOIBZ", c);
}

int ccm_ident_mbi(const char *in, char out[12], const char **why)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '-')
            continue;
        if (n == 11)
            return s_fail(why, "must be 11 characters (dashes aside)");
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = '\0';
    if (n != 11)
        return s_fail(why, "must be 11 characters (dashes aside)");
    /* position classes: C A AN N A AN N A A N N */
    static const char cls[] = "CAXNAXNAANN";
    for (size_t i = 0; i < 11; i++) {
        char c = out[i];
        bool ok;
        switch (cls[i]) {
        case 'C': ok = c >= '1' && c <= '9'; break;
        case 'N': ok = isdigit((unsigned char)c); break;
        case 'A': ok = s_mbi_alpha(c); break;
        default: ok = isdigit((unsigned char)c) || s_mbi_alpha(c); break;
        }
        if (!ok) {
            switch (cls[i]) {
            case 'C': return s_fail(why, "position 1 must be a digit 1-9");
            case 'N': return s_fail(why, "positions 4, 7, 10 and 11 must be digits");
            case 'A':
                return s_fail(why, "positions 2, 5, 8 and 9 must be letters other than "
                                   "S, L, O, I, B, Z");
            default:
                return s_fail(why, "positions 3 and 6 must be digits or letters other than "
                                   "S, L, O, I, B, Z");
            }
        }
    }
    return 0;
}

int ccm_ident_icd10(const char *in, char out[9], const char **why)
{
    char raw[8];
    size_t n = 0;
    bool dot = false;
    for (const char *p = in; *p; p++) {
        if (*p == '.') {
            if (dot || n != 3)
                return s_fail(why, "the dot must follow the third character");
            dot = true;
            continue;
        }
        if (!isalnum((unsigned char)*p))
            return s_fail(why, "only letters, digits and one dot are allowed");
        if (n == 7)
            return s_fail(why, "at most 7 characters");
        raw[n++] = (char)toupper((unsigned char)*p);
    }
    if (n < 3)
        return s_fail(why, "at least 3 characters (e.g. E11.9)");
    if (dot && n == 3)
        return s_fail(why, "nothing after the dot");
    if (!isalpha((unsigned char)raw[0]))
        return s_fail(why, "must start with a letter");
    if (!isdigit((unsigned char)raw[1]))
        return s_fail(why, "the second character must be a digit");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 3)
            out[o++] = '.';
        out[o++] = raw[i];
    }
    out[o] = '\0';
    return 0;
}

int ccm_ident_npi(const char *in, const char **why)
{
    if (strlen(in) != 10)
        return s_fail(why, "must be 10 digits");
    for (int i = 0; i < 10; i++)
        if (!isdigit((unsigned char)in[i]))
            return s_fail(why, "must be 10 digits");
    /* Luhn over "80840" + the first 9 digits; the prefix contributes 24. */
    int sum = 24;
    for (int i = 8, dbl = 1; i >= 0; i--, dbl = !dbl) {
        int d = in[i] - '0';
        if (dbl) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    int check = (10 - sum % 10) % 10;
    if (check != in[9] - '0')
        return s_fail(why, "check digit is wrong (Luhn)");
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long s_days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

int ccm_ident_date(const char *in, long *days, const char **why)
{
    if (strlen(in) != 10 || in[4] != '-' || in[7] != '-')
        return s_fail(why, "must be a date YYYY-MM-DD");
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)in[i]))
            return s_fail(why, "must be a date YYYY-MM-DD");
    int y = (in[0] - '0') * 1000 + (in[1] - '0') * 100 + (in[2] - '0') * 10 + (in[3] - '0');
    int m = (in[5] - '0') * 10 + (in[6] - '0');
    int d = (in[8] - '0') * 10 + (in[9] - '0');
    if (y < 1900 || y > 2999)
        return s_fail(why, "year must be 1900-2999");
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m < 1 || m > 12)
        return s_fail(why, "month must be 01-12");
    if (d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        return s_fail(why, "no such day in that month");
    if (days)
        *days = s_days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* Length of the UTF-8 sequence at p, or 0 when invalid. */
static size_t s_utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n;
    unsigned min;
    unsigned cp;
    if ((p[0] & 0xE0) == 0xC0) {
        n = 2, min = 0x80, cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        n = 3, min = 0x800, cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        n = 4, min = 0x10000, cp = p[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int ccm_ident_text(const char *in, size_t max, bool required, const char **why)
{
    size_t len = strlen(in);
    if (required && len == 0)
        return s_fail(why, "is required");
    if (len > max)
        return s_fail(why, "is too long");
    for (const unsigned char *p = (const unsigned char *)in; *p;) {
        if (*p < 0x20 || *p == 0x7F)
            return s_fail(why, "must not contain control characters");
        size_t n = s_utf8_len(p);
        if (n == 0)
            return s_fail(why, "is not valid UTF-8");
        p += n;
    }
    return 0;
}

int ccm_ident_key(const char *in, size_t max, const char **why)
{
    size_t len = strlen(in);
    if (len == 0)
        return s_fail(why, "is required");
    if (len > max)
        return s_fail(why, "is too long");
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (!isalnum((unsigned char)c) && c != '.' && c != '_' && c != '-')
            return s_fail(why, "may contain only letters, digits, '.', '_' and '-'");
    }
    return 0;
}
