/* tz — IANA time zones as plain data, civil-date arithmetic and RFC 3339 parsing.
 * The pure part (ccm_rules) parses TZif bytes and converts instants; only
 * ccm_tz_load() (target ccm_tz_io) touches the file system. Instants are
 * int64 seconds since the Unix epoch, UTC; "local" seconds are the same count
 * on the clinic's wall clock; days are days since 1970-01-01. */
#ifndef CCM_TZ_H
#define CCM_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest transition table we keep. The biggest zones in tzdata have < 400
 * 64-bit transitions; past the table the POSIX footer rule takes over. */
#define CCM_TZ_MAX_TRANS 1200
#define CCM_TZ_NAME_MAX 64

/* One end of a daylight-saving period in a POSIX TZ rule. */
typedef struct {
    char kind;    /* 'J' (Jn, 1..365 no Feb 29), 'N' (n, 0..365), 'M' (Mm.w.d) */
    int16_t n;    /* day number for 'J' / 'N' */
    int8_t m;     /* month 1..12 for 'M' */
    int8_t w;     /* week 1..5 (5 = last) for 'M' */
    int8_t d;     /* weekday 0 (Sunday)..6 for 'M' */
    int32_t time; /* local seconds after midnight, may be negative or > 24 h */
} ccm_tz_when_t;

/* The TZif footer: offsets (seconds east of UTC) for instants past the table. */
typedef struct {
    int32_t std_off;     /* standard offset */
    int32_t dst_off;     /* daylight offset (std_off + 3600 unless given) */
    bool has_dst;        /* false: std_off all year */
    ccm_tz_when_t start; /* DST starts (local standard time) */
    ccm_tz_when_t end;   /* DST ends (local daylight time) */
} ccm_tz_rule_t;

/* A zone: plain data, no pointers, safe to copy and share read-only. */
typedef struct {
    char name[CCM_TZ_NAME_MAX];     /* IANA name, e.g. "America/New_York" */
    int32_t n;                      /* transitions used */
    int32_t off_before;             /* offset before the first transition */
    int64_t at[CCM_TZ_MAX_TRANS];   /* transition instants, ascending */
    int32_t off[CCM_TZ_MAX_TRANS];  /* offset in effect from at[i] */
    bool has_rule;                  /* footer present */
    ccm_tz_rule_t rule;             /* footer rule, used after at[n-1] */
} ccm_tz_t;

/* Parses a TZif (version 2 or later) image: the 64-bit section and the POSIX
 * footer. Pure. `name` is copied (truncated to fit). Returns 0 or CCM_EINVAL
 * (not TZif, version 1 only, leap-second zone, truncated, too many
 * transitions, bad footer). */
int ccm_tz_parse(ccm_tz_t *tz, const char *name, const uint8_t *buf, size_t len);

/* Parses a POSIX TZ string such as "EST5EDT,M3.2.0,M11.1.0". Returns 0 or CCM_EINVAL. */
int ccm_tz_parse_rule(ccm_tz_rule_t *rule, const char *s, size_t len);

/* Makes `tz` a fixed-offset zone (for tests and "UTC"). */
void ccm_tz_fixed(ccm_tz_t *tz, const char *name, int32_t off);

/* Reads /usr/share/zoneinfo/<name> (or $TZDIR/<name>) and parses it. I/O:
 * lives in ccm_tz_io. Rejects names with "..", a leading '/', or
 * characters outside [A-Za-z0-9/_+-]. Returns 0, CCM_EINVAL (bad name or
 * file content), CCM_ENOTFOUND (no such zone) or CCM_EIO. */
int ccm_tz_load(ccm_tz_t *tz, const char *name);

/* UTC offset (seconds east) in effect at instant `t`. */
int32_t ccm_tz_offset(const ccm_tz_t *tz, int64_t t);

/* First instant whose local wall-clock time is >= `local`. For an ambiguous
 * local time (fall back) that is its first occurrence; for a local time in a
 * gap (spring forward) it is the transition instant. */
int64_t ccm_tz_local_to_utc(const ccm_tz_t *tz, int64_t local);

/* Local calendar day (days since 1970-01-01) of instant `t`. */
int32_t ccm_tz_local_day(const ccm_tz_t *tz, int64_t t);

/* Civil calendar (proleptic Gregorian). */
int32_t ccm_tz_days_from_civil(int32_t y, int32_t m, int32_t d);
void ccm_tz_civil_from_days(int32_t days, int32_t *y, int32_t *m, int32_t *d);
int ccm_tz_days_in_month(int32_t y, int32_t m);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)" into UTC seconds
 * (fractions truncated). Returns 0 or CCM_EINVAL. */
int ccm_tz_parse_instant(const char *s, int64_t *out);

/* Parses "YYYY-MM-DD" into days since the epoch. Returns 0 or CCM_EINVAL. */
int ccm_tz_parse_date(const char *s, int32_t *out);

/* Parses "YYYY-MM" into a month index y*12 + (m-1). Returns 0 or CCM_EINVAL. */
int ccm_tz_parse_month(const char *s, int32_t *out);

#endif
