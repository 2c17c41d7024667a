/* tz — pure time-zone arithmetic: TZif v2+ parsing (RFC 8536), POSIX TZ footer
 * rules, local<->UTC conversion and civil dates. No I/O, no clock, no globals:
 * ccm_tz_load() in tz_load.c is the only part that reads a file. */
#include "ccm/tz.h"

#include <string.h>

#include "ccm/error.h"

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. */
int32_t ccm_tz_days_from_civil(int32_t y, int32_t m, int32_t d)
{
    y -= m <= 2;
    const int32_t era = (y >= 0 ? y : y - 399) / 400;
    const int32_t yoe = y - era * 400;
    const int32_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ccm_tz_civil_from_days(int32_t z, int32_t *y, int32_t *m, int32_t *d)
{
    z += 719468;
    const int32_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int32_t doe = z - era * 146097;
    const int32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int32_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static bool s_leap(int32_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int ccm_tz_days_in_month(int32_t y, int32_t m)
{
    static const int8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && s_leap(y))
        return 29;
    return days[m - 1];
}

/* ---- POSIX TZ rule ---------------------------------------------------- */

typedef struct {
    const char *p;
    const char *end;
} s_cur_t;

static int s_peek(const s_cur_t *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static bool s_num(s_cur_t *c, int32_t *out, int32_t max)
{
    int32_t v = 0;
    int digits = 0;
    while (s_peek(c) >= '0' && s_peek(c) <= '9') {
        v = v * 10 + (*c->p - '0');
        c->p++;
        if (++digits > 6 || v > max)
            return false;
    }
    *out = v;
    return digits > 0;
}

static bool s_name(s_cur_t *c)
{
    int len = 0;
    if (s_peek(c) == '<') {
        c->p++;
        while (s_peek(c) != '>') {
            if (s_peek(c) < 0)
                return false;
            c->p++;
            len++;
        }
        c->p++;
    } else {
        while ((s_peek(c) >= 'A' && s_peek(c) <= 'Z') || (s_peek(c) >= 'a' && s_peek(c) <= 'z')) {
            c->p++;
            len++;
        }
    }
    return len >= 3;
}

/* [+-]hh[:mm[:ss]] with hh up to `maxh`; returns seconds (sign as written). */
static bool s_hms(s_cur_t *c, int32_t *out, int32_t maxh)
{
    int sign = 1;
    if (s_peek(c) == '+' || s_peek(c) == '-') {
        sign = *c->p == '-' ? -1 : 1;
        c->p++;
    }
    int32_t h = 0, m = 0, s = 0;
    if (!s_num(c, &h, maxh))
        return false;
    if (s_peek(c) == ':') {
        c->p++;
        if (!s_num(c, &m, 59))
            return false;
        if (s_peek(c) == ':') {
            c->p++;
            if (!s_num(c, &s, 59))
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool s_when(s_cur_t *c, ccm_tz_when_t *w)
{
    int32_t a = 0, b = 0, d = 0;
    memset(w, 0, sizeof *w);
    if (s_peek(c) == 'J') {
        c->p++;
        if (!s_num(c, &a, 365) || a < 1)
            return false;
        w->kind = 'J';
        w->n = (int16_t)a;
    } else if (s_peek(c) == 'M') {
        c->p++;
        if (!s_num(c, &a, 12) || a < 1 || s_peek(c) != '.')
            return false;
        c->p++;
        if (!s_num(c, &b, 5) || b < 1 || s_peek(c) != '.')
            return false;
        c->p++;
        if (!s_num(c, &d, 6))
            return false;
        w->kind = 'M';
        w->m = (int8_t)a;
        w->w = (int8_t)b;
        w->d = (int8_t)d;
    } else {
        if (!s_num(c, &a, 365))
            return false;
        w->kind = 'N';
        w->n = (int16_t)a;
    }
    w->time = 7200;
    if (s_peek(c) == '/') {
        c->p++;
        if (!s_hms(c, &w->time, 167))
            return false;
    }
    return true;
}

int ccm_tz_parse_rule(ccm_tz_rule_t *rule, const char *s, size_t len)
{
    s_cur_t c = {s, s + len};
    int32_t v;
    memset(rule, 0, sizeof *rule);
    if (!s_name(&c) || !s_hms(&c, &v, 24))
        return CCM_EINVAL;
    rule->std_off = -v; /* POSIX offsets are west-positive */
    if (s_peek(&c) < 0)
        return 0;
    if (!s_name(&c))
        return CCM_EINVAL;
    rule->has_dst = true;
    rule->dst_off = rule->std_off + 3600;
    if (s_peek(&c) != ',' && s_peek(&c) >= 0) {
        if (!s_hms(&c, &v, 24))
            return CCM_EINVAL;
        rule->dst_off = -v;
    }
    if (s_peek(&c) != ',') {
        /* No rule given: POSIX default is implementation-defined; use US rules. */
        rule->start = (ccm_tz_when_t){'M', 0, 3, 2, 0, 7200};
        rule->end = (ccm_tz_when_t){'M', 0, 11, 1, 0, 7200};
        return s_peek(&c) < 0 ? 0 : CCM_EINVAL;
    }
    c.p++;
    if (!s_when(&c, &rule->start) || s_peek(&c) != ',')
        return CCM_EINVAL;
    c.p++;
    if (!s_when(&c, &rule->end) || s_peek(&c) >= 0)
        return CCM_EINVAL;
    return 0;
}

/* Local day (days since epoch) on which rule end `w` falls in year `y`. */
static int32_t s_when_day(const ccm_tz_when_t *w, int32_t y)
{
    const int32_t jan1 = ccm_tz_days_from_civil(y, 1, 1);
    if (w->kind == 'J')
        return jan1 + w->n - 1 + (s_leap(y) && w->n >= 60 ? 1 : 0);
    if (w->kind == 'N')
        return jan1 + w->n;
    const int32_t first = ccm_tz_days_from_civil(y, w->m, 1);
    const int32_t wd1 = (int32_t)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    int32_t day = 1 + (w->d - wd1 + 7) % 7 + 7 * (w->w - 1);
    if (day > ccm_tz_days_in_month(y, w->m))
        day -= 7;
    return first + day - 1;
}

static int32_t s_rule_offset(const ccm_tz_rule_t *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int32_t y, m, d;
    ccm_tz_civil_from_days((int32_t)s_floor_div(t + r->std_off, 86400), &y, &m, &d);
    const int64_t start = (int64_t)s_when_day(&r->start, y) * 86400 + r->start.time - r->std_off;
    const int64_t end = (int64_t)s_when_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
    bool dst;
    if (start < end)
        dst = t >= start && t < end;
    else
        dst = !(t >= end && t < start); /* southern hemisphere */
    return dst ? r->dst_off : r->std_off;
}

/* ---- TZif ------------------------------------------------------------- */

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t s_be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)s_be32(p) << 32 | s_be32(p + 4));
}

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
} s_counts_t;

static int s_header(const uint8_t *p, size_t len, s_counts_t *k)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return CCM_EINVAL;
    k->isut = s_be32(p + 20);
    k->isstd = s_be32(p + 24);
    k->leap = s_be32(p + 28);
    k->time = s_be32(p + 32);
    k->type = s_be32(p + 36);
    k->chars = s_be32(p + 40);
    if (k->type == 0 || k->type > 256 || k->time > 100000 || k->chars > 100000 ||
        k->leap > 100000 || k->isut > 256 || k->isstd > 256)
        return CCM_EINVAL;
    return 0;
}

void ccm_tz_fixed(ccm_tz_t *tz, const char *name, int32_t off)
{
    memset(tz, 0, sizeof *tz);
    strncpy(tz->name, name ? name : "", sizeof tz->name - 1);
    tz->off_before = off;
    tz->has_rule = true;
    tz->rule.std_off = off;
}

int ccm_tz_parse(ccm_tz_t *tz, const char *name, const uint8_t *buf, size_t len)
{
    s_counts_t k;
    memset(tz, 0, sizeof *tz);
    strncpy(tz->name, name ? name : "", sizeof tz->name - 1);
    if (s_header(buf, len, &k) != 0 || buf[4] < '2')
        return CCM_EINVAL;
    /* Skip the version-1 (32-bit) block. */
    size_t v1 = (size_t)k.time * 5 + (size_t)k.type * 6 + k.chars + (size_t)k.leap * 8 + k.isstd + k.isut;
    if (44 + v1 > len)
        return CCM_EINVAL;
    const uint8_t *p = buf + 44 + v1;
    size_t rest = len - 44 - v1;
    if (s_header(p, rest, &k) != 0)
        return CCM_EINVAL;
    if (k.leap != 0)
        return CCM_EINVAL; /* "right/" zones count leap seconds; instants here do not */
    if (k.time > CCM_TZ_MAX_TRANS)
        return CCM_EINVAL;
    size_t v2 = (size_t)k.time * 9 + (size_t)k.type * 6 + k.chars + k.isstd + k.isut;
    if (44 + v2 > rest)
        return CCM_EINVAL;
    const uint8_t *times = p + 44;
    const uint8_t *idx = times + (size_t)k.time * 8;
    const uint8_t *types = idx + k.time;
    tz->n = (int32_t)k.time;
    for (uint32_t i = 0; i < k.time; i++) {
        if (idx[i] >= k.type)
            return CCM_EINVAL;
        tz->at[i] = s_be64(times + (size_t)i * 8);
        if (i > 0 && tz->at[i] <= tz->at[i - 1])
            return CCM_EINVAL;
        tz->off[i] = (int32_t)s_be32(types + (size_t)idx[i] * 6);
    }
    /* RFC 8536: local time type 0 applies before the first transition. */
    tz->off_before = (int32_t)s_be32(types);
    const uint8_t *foot = p + 44 + v2;
    const uint8_t *end = buf + len;
    if (foot < end && *foot == '\n') {
        const uint8_t *nl = foot + 1;
        while (nl < end && *nl != '\n')
            nl++;
        if (nl >= end)
            return CCM_EINVAL;
        size_t flen = (size_t)(nl - foot - 1);
        if (flen > 0) {
            if (ccm_tz_parse_rule(&tz->rule, (const char *)foot + 1, flen) != 0)
                return CCM_EINVAL;
            tz->has_rule = true;
        }
    }
    return 0;
}

int32_t ccm_tz_offset(const ccm_tz_t *tz, int64_t t)
{
    if (tz->n == 0)
        return tz->has_rule ? s_rule_offset(&tz->rule, t) : tz->off_before;
    if (t < tz->at[0])
        return tz->off_before;
    if (t >= tz->at[tz->n - 1] && tz->has_rule)
        return s_rule_offset(&tz->rule, t);
    int32_t lo = 0, hi = tz->n - 1; /* invariant: at[lo] <= t */
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return tz->off[lo];
}

int32_t ccm_tz_local_day(const ccm_tz_t *tz, int64_t t)
{
    return (int32_t)s_floor_div(t + ccm_tz_offset(tz, t), 86400);
}

int64_t ccm_tz_local_to_utc(const ccm_tz_t *tz, int64_t local)
{
    /* Real zones never change offset twice within two days, so the offsets a
     * day either side are the only candidates. */
    const int32_t a = ccm_tz_offset(tz, local - 86400);
    const int32_t b = ccm_tz_offset(tz, local + 86400);
    const int64_t ua = local - a, ub = local - b;
    const bool va = ua + ccm_tz_offset(tz, ua) == local;
    const bool vb = ub + ccm_tz_offset(tz, ub) == local;
    if (va && vb)
        return ua < ub ? ua : ub;
    if (va)
        return ua;
    if (vb)
        return ub;
    /* In a gap: the earliest instant whose local time is >= `local`. */
    int64_t lo = ua < ub ? ua : ub, hi = ua < ub ? ub : ua;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + ccm_tz_offset(tz, mid) >= local)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- RFC 3339 --------------------------------------------------------- */

static bool s_digits(const char *s, int n, int32_t *out)
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

static bool s_ymd(const char *s, int32_t *y, int32_t *m, int32_t *d)
{
    if (!s_digits(s, 4, y) || s[4] != '-' || !s_digits(s + 5, 2, m) || s[7] != '-' ||
        !s_digits(s + 8, 2, d))
        return false;
    return *y >= 1 && *m >= 1 && *m <= 12 && *d >= 1 && *d <= ccm_tz_days_in_month(*y, *m);
}

int ccm_tz_parse_date(const char *s, int32_t *out)
{
    int32_t y, m, d;
    if (!s || strlen(s) != 10 || !s_ymd(s, &y, &m, &d))
        return CCM_EINVAL;
    *out = ccm_tz_days_from_civil(y, m, d);
    return 0;
}

int ccm_tz_parse_month(const char *s, int32_t *out)
{
    int32_t y, m;
    if (!s || strlen(s) != 7 || !s_digits(s, 4, &y) || s[4] != '-' || !s_digits(s + 5, 2, &m) ||
        y < 1 || m < 1 || m > 12)
        return CCM_EINVAL;
    *out = y * 12 + m - 1;
    return 0;
}

int ccm_tz_parse_instant(const char *s, int64_t *out)
{
    int32_t y, mo, d, h, mi, se, oh, om;
    if (!s || strlen(s) < 20 || !s_ymd(s, &y, &mo, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
        return CCM_EINVAL;
    if (!s_digits(s + 11, 2, &h) || s[13] != ':' || !s_digits(s + 14, 2, &mi) || s[16] != ':' ||
        !s_digits(s + 17, 2, &se) || h > 23 || mi > 59 || se > 60)
        return CCM_EINVAL;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return CCM_EINVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int32_t off;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && s_digits(p + 1, 2, &oh) && p[3] == ':' &&
               s_digits(p + 4, 2, &om) && oh <= 23 && om <= 59) {
        off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
        return CCM_EINVAL;
    }
    if (se == 60)
        se = 59; /* a leap second is folded into the second before it */
    *out = (int64_t)ccm_tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return 0;
}
