/* test_tz — the TZif reader and local/UTC conversion behind P-8 (month
 * boundaries and DOS in the clinic's IANA zone), checked against the system
 * tzdata: DST start and end, footer rules past the table, southern zones,
 * midnight gaps, RFC 3339 parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ccm/error.h"
#include "ccm/tz.h"

static int64_t I(const char *s)
{
    int64_t t;
    assert_int_equal(ccm_tz_parse_instant(s, &t), 0);
    return t;
}

static int64_t L(int y, int m, int d, int hh, int mm)
{
    return (int64_t)ccm_tz_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60;
}

static ccm_tz_t *s_load(const char *name)
{
    ccm_tz_t *tz = malloc(sizeof *tz);
    assert_non_null(tz);
    assert_int_equal(ccm_tz_load(tz, name), 0);
    return tz;
}

/* P-8 DST start/end in New York, from the table. */
static void t_new_york_dst(void **state)
{
    (void)state;
    ccm_tz_t *tz = s_load("America/New_York");
    assert_string_equal(tz->name, "America/New_York");
    assert_int_equal(ccm_tz_offset(tz, I("2025-03-09T06:59:59Z")), -5 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2025-03-09T07:00:00Z")), -4 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2025-11-02T05:59:59Z")), -4 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2025-11-02T06:00:00Z")), -5 * 3600);
    /* month start: local midnight, in standard time for March, daylight for April */
    assert_int_equal(ccm_tz_local_to_utc(tz, L(2025, 3, 1, 0, 0)), I("2025-03-01T05:00:00Z"));
    assert_int_equal(ccm_tz_local_to_utc(tz, L(2025, 4, 1, 0, 0)), I("2025-04-01T04:00:00Z"));
    /* fall back: 01:30 happens twice; the first occurrence is taken */
    assert_int_equal(ccm_tz_local_to_utc(tz, L(2025, 11, 2, 1, 30)), I("2025-11-02T05:30:00Z"));
    /* spring forward: 02:30 does not exist; the first instant after is 03:00 EDT */
    assert_int_equal(ccm_tz_local_to_utc(tz, L(2025, 3, 9, 2, 30)), I("2025-03-09T07:00:00Z"));
    /* local days */
    assert_int_equal(ccm_tz_local_day(tz, I("2026-01-01T04:59:59Z")), ccm_tz_days_from_civil(2025, 12, 31));
    assert_int_equal(ccm_tz_local_day(tz, I("2026-01-01T05:00:00Z")), ccm_tz_days_from_civil(2026, 1, 1));
    /* historic: 1970 had DST from April */
    assert_int_equal(ccm_tz_offset(tz, I("1970-07-01T00:00:00Z")), -4 * 3600);
    free(tz);
}

/* Instants past the last table entry use the POSIX footer rule. */
static void t_footer_rule(void **state)
{
    (void)state;
    ccm_tz_t *tz = s_load("America/New_York");
    assert_true(tz->has_rule);
    assert_int_equal(ccm_tz_offset(tz, I("2045-01-15T12:00:00Z")), -5 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2045-07-15T12:00:00Z")), -4 * 3600);
    /* 2045: DST starts Sunday 12 March 02:00 EST, ends Sunday 5 November 02:00 EDT */
    assert_int_equal(ccm_tz_offset(tz, I("2045-03-12T06:59:59Z")), -5 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2045-03-12T07:00:00Z")), -4 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2045-11-05T05:59:59Z")), -4 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2045-11-05T06:00:00Z")), -5 * 3600);
    /* The footer agrees with every table transition since 2008 (same US rules). */
    ccm_tz_t *rule_only = malloc(sizeof *rule_only);
    memcpy(rule_only, tz, sizeof *tz);
    rule_only->n = 0;
    int checked = 0;
    for (int i = 0; i < tz->n; i++) {
        if (tz->at[i] < I("2008-01-01T00:00:00Z"))
            continue;
        assert_int_equal(ccm_tz_offset(rule_only, tz->at[i]), tz->off[i]);
        assert_int_equal(ccm_tz_offset(rule_only, tz->at[i] - 1), ccm_tz_offset(tz, tz->at[i] - 1));
        checked++;
    }
    (void)checked; /* a "slim" tzdata build may have no table past 2007: then the 2045 checks above cover it */
    free(rule_only);
    free(tz);
}

/* Southern hemisphere: DST spans the new year. */
static void t_sydney(void **state)
{
    (void)state;
    ccm_tz_t *tz = s_load("Australia/Sydney");
    assert_int_equal(ccm_tz_offset(tz, I("2025-01-15T00:00:00Z")), 11 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2025-07-15T00:00:00Z")), 10 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2045-01-15T00:00:00Z")), 11 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2045-07-15T00:00:00Z")), 10 * 3600);
    /* 2025-04-06 03:00 AEDT -> 02:00 AEST: 2025-04-05T16:00Z */
    assert_int_equal(ccm_tz_offset(tz, I("2025-04-05T15:59:59Z")), 11 * 3600);
    assert_int_equal(ccm_tz_offset(tz, I("2025-04-05T16:00:00Z")), 10 * 3600);
    assert_int_equal(ccm_tz_local_to_utc(tz, L(2025, 4, 1, 0, 0)), I("2025-03-31T13:00:00Z"));
    free(tz);
}

/* A zone whose DST gap is at midnight: the month/day starts at the transition. */
static void t_midnight_gap(void **state)
{
    (void)state;
    ccm_tz_t *tz = s_load("America/Havana");
    /* Cuba: 2025-03-09 00:00 CST -> 01:00 CDT, so local 00:00 does not exist */
    int64_t u = ccm_tz_local_to_utc(tz, L(2025, 3, 9, 0, 0));
    assert_int_equal(u, I("2025-03-09T05:00:00Z"));
    assert_int_equal(ccm_tz_local_day(tz, u), ccm_tz_days_from_civil(2025, 3, 9));
    assert_int_equal(ccm_tz_local_day(tz, u - 1), ccm_tz_days_from_civil(2025, 3, 8));
    free(tz);
}

static void t_utc_and_fixed(void **state)
{
    (void)state;
    ccm_tz_t *tz = s_load("UTC");
    assert_int_equal(ccm_tz_offset(tz, I("2025-07-01T00:00:00Z")), 0);
    assert_int_equal(ccm_tz_local_to_utc(tz, L(2025, 7, 1, 0, 0)), I("2025-07-01T00:00:00Z"));
    ccm_tz_fixed(tz, "X", 5 * 3600 + 1800);
    assert_int_equal(ccm_tz_local_to_utc(tz, L(2025, 7, 1, 0, 0)), I("2025-06-30T18:30:00Z"));
    ccm_tz_t *kol = s_load("Asia/Kolkata");
    assert_int_equal(ccm_tz_offset(kol, I("2025-07-01T00:00:00Z")), 5 * 3600 + 1800);
    free(kol);
    free(tz);
}

static void t_load_errors(void **state)
{
    (void)state;
    ccm_tz_t *tz = malloc(sizeof *tz);
    assert_int_equal(ccm_tz_load(tz, "Mars/Olympus_Mons"), CCM_ENOTFOUND);
    assert_int_equal(ccm_tz_load(tz, "../../etc/passwd"), CCM_EINVAL);
    assert_int_equal(ccm_tz_load(tz, "/etc/passwd"), CCM_EINVAL);
    assert_int_equal(ccm_tz_load(tz, ""), CCM_EINVAL);
    assert_int_equal(ccm_tz_load(tz, "America/New York"), CCM_EINVAL);
    /* a directory or a non-TZif file is not a zone */
    int rc = ccm_tz_load(tz, "America");
    assert_true(rc == CCM_EIO || rc == CCM_EINVAL || rc == CCM_ENOTFOUND);
    const uint8_t junk[] = "TZif1 not really";
    assert_int_equal(ccm_tz_parse(tz, "x", junk, sizeof junk), CCM_EINVAL);
    assert_int_equal(ccm_tz_parse(tz, "x", junk, 3), CCM_EINVAL);
    free(tz);
}

/* Truncated images must be refused, never over-read. */
static void t_truncated(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/zoneinfo/America/New_York", "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(65536);
    size_t n = fread(buf, 1, 65536, f);
    fclose(f);
    ccm_tz_t *tz = malloc(sizeof *tz);
    assert_int_equal(ccm_tz_parse(tz, "ny", buf, n), 0);
    for (size_t cut = 0; cut + 1 < n; cut += 7) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size so ASan sees over-reads */
        memcpy(copy, buf, cut);
        int rc = ccm_tz_parse(tz, "ny", copy, cut);
        /* only a cut inside the footer can still parse (without its rule) */
        if (rc == 0)
            assert_true(cut > n - 40);
        free(copy);
    }
    free(tz);
    free(buf);
}

static void t_posix_rules(void **state)
{
    (void)state;
    ccm_tz_rule_t r;
    const char *ok1 = "EST5EDT,M3.2.0,M11.1.0";
    assert_int_equal(ccm_tz_parse_rule(&r, ok1, strlen(ok1)), 0);
    assert_int_equal(r.std_off, -5 * 3600);
    assert_int_equal(r.dst_off, -4 * 3600);
    assert_int_equal(r.start.m, 3);
    assert_int_equal(r.end.time, 7200);
    const char *ok2 = "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0";
    assert_int_equal(ccm_tz_parse_rule(&r, ok2, strlen(ok2)), 0);
    assert_int_equal(r.std_off, 10 * 3600 + 1800);
    assert_int_equal(r.dst_off, 11 * 3600);
    const char *ok3 = "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1";
    assert_int_equal(ccm_tz_parse_rule(&r, ok3, strlen(ok3)), 0);
    assert_int_equal(r.start.time, -7200);
    const char *ok4 = "IST-5:30";
    assert_int_equal(ccm_tz_parse_rule(&r, ok4, strlen(ok4)), 0);
    assert_false(r.has_dst);
    const char *bad[] = {"", "E5", "EST", "EST5EDT,M13.1.0,M11.1.0", "EST5EDT,M3.2.0", "EST5EDT,M3.2.0,M11.1.0x",
                         "<+05", "EST5EDT,J0,J10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ccm_tz_parse_rule(&r, bad[i], strlen(bad[i])), CCM_EINVAL);
}

static void t_rfc3339(void **state)
{
    (void)state;
    int64_t t;
    int32_t d;
    assert_int_equal(ccm_tz_parse_instant("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(ccm_tz_parse_instant("2025-03-04T10:00:00-05:00", &t), 0);
    assert_int_equal(t, I("2025-03-04T15:00:00Z"));
    assert_int_equal(ccm_tz_parse_instant("2025-03-04T10:00:00.123+05:30", &t), 0);
    assert_int_equal(t, I("2025-03-04T04:30:00Z"));
    const char *bad[] = {"2025-03-04T10:00:00", "2025-03-04 10:00", "2025-02-29T10:00:00Z",
                         "2025-13-01T00:00:00Z", "2025-03-04T24:00:00Z", "2025-03-04T10:00:00+5:00",
                         "2025-03-04T10:00:00Zjunk", "tomorrow", "", "2025-03-04T10:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ccm_tz_parse_instant(bad[i], &t), CCM_EINVAL);
    assert_int_equal(ccm_tz_parse_date("2024-02-29", &d), 0);
    assert_int_equal(d, ccm_tz_days_from_civil(2024, 2, 29));
    assert_int_equal(ccm_tz_parse_date("2025-02-29", &d), CCM_EINVAL);
    assert_int_equal(ccm_tz_parse_date("2025-2-1", &d), CCM_EINVAL);
    assert_int_equal(ccm_tz_parse_month("2025-03", &d), 0);
    assert_int_equal(d, 2025 * 12 + 2);
    assert_int_equal(ccm_tz_parse_month("2025-00", &d), CCM_EINVAL);
    assert_int_equal(ccm_tz_parse_month("2025-3", &d), CCM_EINVAL);
}

static void t_civil_roundtrip(void **state)
{
    (void)state;
    for (int32_t z = -800000; z <= 800000; z += 17) {
        int32_t y, m, d;
        ccm_tz_civil_from_days(z, &y, &m, &d);
        assert_int_equal(ccm_tz_days_from_civil(y, m, d), z);
    }
    assert_int_equal(ccm_tz_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ccm_tz_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(ccm_tz_days_in_month(2024, 2), 29);
    assert_int_equal(ccm_tz_days_in_month(2100, 2), 28);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_new_york_dst),  cmocka_unit_test(t_footer_rule),
        cmocka_unit_test(t_sydney),        cmocka_unit_test(t_midnight_gap),
        cmocka_unit_test(t_utc_and_fixed), cmocka_unit_test(t_load_errors),
        cmocka_unit_test(t_truncated),     cmocka_unit_test(t_posix_rules),
        cmocka_unit_test(t_rfc3339),       cmocka_unit_test(t_civil_roundtrip),
    };
    return cmocka_run_group_tests_name("tz", tests, NULL, NULL);
}
