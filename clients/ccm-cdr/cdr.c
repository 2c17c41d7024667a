/* cdr — format names, the parser dispatch, and the number and date parsing every
 * parser shares. Pure: no I/O, no clock, no allocation. */
#include "cdr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ccm/error.h"

static const char *const s_names[] = {"asterisk", "freeswitch", "kamailio", "twilio", "jsonl"};

int ccm_cdr_format_parse(const char *name, ccm_cdr_format_t *out)
{
    for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++)
        if (name && strcmp(name, s_names[i]) == 0) {
            *out = (ccm_cdr_format_t)i;
            return 0;
        }
    return CCM_EINVAL;
}

const char *ccm_cdr_format_name(ccm_cdr_format_t f)
{
    return (unsigned)f < sizeof s_names / sizeof s_names[0] ? s_names[f] : "?";
}

bool ccm_cdr_format_local_dates(ccm_cdr_format_t f)
{
    return f == CCM_CDR_ASTERISK || f == CCM_CDR_FREESWITCH;
}

int ccm_cdr_parse(ccm_cdr_format_t f, const char *line, size_t len, const ccm_tz_t *tz,
                  ccm_cdr_record_t *rec, char *reason, size_t rlen)
{
    if (rlen)
        reason[0] = '\0';
    switch (f) {
    case CCM_CDR_ASTERISK: return ccm_cdr_parse_asterisk(line, len, tz, rec, reason, rlen);
    case CCM_CDR_FREESWITCH: return ccm_cdr_parse_freeswitch(line, len, tz, rec, reason, rlen);
    case CCM_CDR_KAMAILIO: return ccm_cdr_parse_kamailio(line, len, rec, reason, rlen);
    case CCM_CDR_TWILIO: return ccm_cdr_parse_twilio(line, len, rec, reason, rlen);
    case CCM_CDR_JSONL: return ccm_cdr_parse_jsonl(line, len, rec, reason, rlen);
    }
    return ccm_cdr_fail(reason, rlen, "unknown format");
}

int ccm_cdr_fail(char *reason, size_t rlen, const char *fmt, ...)
{
    if (reason && rlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, rlen, fmt, ap);
        va_end(ap);
    }
    return CCM_EINVAL;
}

int ccm_cdr_copy(char *dst, size_t cap, const char *s, size_t len)
{
    if (len >= cap) {
        dst[0] = '\0';
        return CCM_ETOOBIG;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            dst[0] = '\0';
            return CCM_EINVAL;
        }
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

int ccm_cdr_parse_uint(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 12)
        return CCM_EINVAL;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CCM_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int ccm_cdr_parse_decimal_us(const char *s, size_t len, int64_t *out_us)
{
    size_t dot = 0;
    while (dot < len && s[dot] != '.')
        dot++;
    int64_t whole, frac = 0;
    if (ccm_cdr_parse_uint(s, dot, &whole) != 0)
        return CCM_EINVAL;
    if (dot < len) {
        size_t n = len - dot - 1;
        if (n == 0 || n > 9)
            return CCM_EINVAL;
        int64_t scale = 100000;
        for (size_t i = 0; i < n; i++) {
            char c = s[dot + 1 + i];
            if (c < '0' || c > '9')
                return CCM_EINVAL;
            frac += (c - '0') * scale;
            scale /= 10;
        }
    }
    *out_us = whole * 1000000 + frac;
    return 0;
}

static bool s_num(const char *s, int n, int32_t *out)
{
    int32_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Civil date and time of day to seconds on that wall clock; false when not a real time. */
static bool s_civil(int32_t y, int32_t mo, int32_t d, int32_t h, int32_t mi, int32_t se,
                    int64_t *out)
{
    if (y < 1900 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > ccm_tz_days_in_month(y, mo) ||
        h > 23 || mi > 59 || se > 60)
        return false;
    if (se == 60)
        se = 59; /* a leap second folds into the second before it */
    *out = (int64_t)ccm_tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

int ccm_cdr_parse_local(const char *s, size_t len, const ccm_tz_t *tz, int64_t *out_us)
{
    int32_t y, mo, d, h, mi, se;
    if (len != 19 || !s_num(s, 4, &y) || s[4] != '-' || !s_num(s + 5, 2, &mo) || s[7] != '-' ||
        !s_num(s + 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') || !s_num(s + 11, 2, &h) ||
        s[13] != ':' || !s_num(s + 14, 2, &mi) || s[16] != ':' || !s_num(s + 17, 2, &se))
        return CCM_EINVAL;
    int64_t local;
    if (!s_civil(y, mo, d, h, mi, se, &local))
        return CCM_EINVAL;
    *out_us = (tz ? ccm_tz_local_to_utc(tz, local) : local) * 1000000;
    return 0;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM). */
static int s_rfc3339(const char *s, size_t len, int64_t *out_us)
{
    int32_t y, mo, d, h, mi, se, oh, om;
    if (len < 20 || !s_num(s, 4, &y) || s[4] != '-' || !s_num(s + 5, 2, &mo) || s[7] != '-' ||
        !s_num(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !s_num(s + 11, 2, &h) || s[13] != ':' || !s_num(s + 14, 2, &mi) || s[16] != ':' ||
        !s_num(s + 17, 2, &se))
        return CCM_EINVAL;
    int64_t t;
    if (!s_civil(y, mo, d, h, mi, se, &t))
        return CCM_EINVAL;
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        int64_t scale = 100000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start || i - start > 9)
            return CCM_EINVAL;
    }
    int32_t off;
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        off = 0;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s_num(s + i + 1, 2, &oh) &&
               s[i + 3] == ':' && s_num(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
        off = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
        return CCM_EINVAL;
    }
    *out_us = (t - off) * 1000000 + frac;
    return 0;
}

/* RFC 2822: [Day, ]D[D] Mon YYYY HH:MM[:SS] (+HHMM|-HHMM|GMT|UT|UTC|Z). */
static int s_rfc2822(const char *s, size_t len, int64_t *out_us)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    if (len >= sizeof buf)
        return CCM_EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    const char *p = buf;
    const char *comma = strchr(p, ',');
    if (comma)
        p = comma + 1;
    while (*p == ' ')
        p++;
    int32_t d = 0, y, h, mi, se = 0, mo = 0;
    int nd = 0;
    while (nd < 2 && p[nd] >= '0' && p[nd] <= '9')
        nd++;
    if (nd == 0 || !s_num(p, nd, &d) || p[nd] != ' ')
        return CCM_EINVAL;
    p += nd + 1;
    for (int i = 0; i < 12; i++)
        if (strncmp(p, months[i], 3) == 0)
            mo = i + 1;
    if (mo == 0 || p[3] != ' ')
        return CCM_EINVAL;
    p += 4;
    if (!s_num(p, 4, &y) || p[4] != ' ')
        return CCM_EINVAL;
    p += 5;
    if (!s_num(p, 2, &h) || p[2] != ':' || !s_num(p + 3, 2, &mi))
        return CCM_EINVAL;
    p += 5;
    if (*p == ':') {
        if (!s_num(p + 1, 2, &se))
            return CCM_EINVAL;
        p += 3;
    }
    if (*p != ' ')
        return CCM_EINVAL;
    p++;
    int32_t off, oh, om;
    if ((*p == '+' || *p == '-') && strlen(p) == 5 && s_num(p + 1, 2, &oh) &&
        s_num(p + 3, 2, &om) && oh <= 23 && om <= 59)
        off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    else if (strcmp(p, "GMT") == 0 || strcmp(p, "UT") == 0 || strcmp(p, "UTC") == 0 ||
             strcmp(p, "Z") == 0)
        off = 0;
    else
        return CCM_EINVAL;
    int64_t t;
    if (!s_civil(y, mo, d, h, mi, se, &t))
        return CCM_EINVAL;
    *out_us = (t - off) * 1000000;
    return 0;
}

int ccm_cdr_parse_instant(const char *s, size_t len, int64_t *out_us)
{
    if (len >= 10 && s[4] == '-')
        return s_rfc3339(s, len, out_us);
    return s_rfc2822(s, len, out_us);
}

void ccm_cdr_clid_number(const char *clid, char *out, size_t cap)
{
    const char *lt = strrchr(clid, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    const char *from = clid;
    size_t n = strlen(clid);
    if (lt && gt) {
        from = lt + 1;
        n = (size_t)(gt - from);
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, from, n);
    out[n] = '\0';
}

uint64_t ccm_cdr_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
