/* cdr parsers: every format on lines laid out exactly as
 * docs/call-records-and-claims.md §1 describes,
 * CSV quoting edge cases, unanswered and zero-second calls, malformed lines with
 * their reasons, and Asterisk wall-clock dates across DST in America/New_York. */
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
#include "cdr.h"
#include "csv.h"

/* 2026-11-03 14:02:19 UTC */
#define T_ANSWER_UTC 1793714539LL

static const char s_ast18[] =
    "\"pt-1042\",\"2015\",\"5551234567\",\"from-internal\",\"\"\"Nurse Ray\"\" <2015>\","
    "\"PJSIP/2015-0000001a\",\"PJSIP/trunk-0000001b\",\"Dial\",\"PJSIP/5551234567@trunk,60\","
    "\"2026-11-03 14:02:11\",\"2026-11-03 14:02:19\",\"2026-11-03 14:17:49\",938,930,"
    "\"ANSWERED\",\"DOCUMENTATION\",\"1793714531.42\",\"ccm\"";

static ccm_tz_t *s_ny(void)
{
    static ccm_tz_t tz;
    static int loaded;
    if (!loaded) {
        assert_int_equal(ccm_tz_load(&tz, "America/New_York"), 0);
        loaded = 1;
    }
    return &tz;
}

static int s_parse(ccm_cdr_format_t f, const char *line, const ccm_tz_t *tz, ccm_cdr_record_t *rec,
                   char *reason)
{
    return ccm_cdr_parse(f, line, strlen(line), tz, rec, reason, CCM_CDR_REASON_MAX);
}

/* ---- CSV ---- */

static void test_csv_quoting(void **state)
{
    (void)state;
    char buf[256], reason[CCM_CDR_REASON_MAX];
    ccm_csv_field_t f[8];
    const char *line = "\"a\"\"b\",\"x,y\",,\"\",42,\"\"\"\"";
    int n = ccm_csv_split(line, strlen(line), f, 8, buf, sizeof buf, reason, sizeof reason);
    assert_int_equal(n, 6);
    assert_int_equal(f[0].len, 3);
    assert_memory_equal(f[0].p, "a\"b", 3);
    assert_int_equal(f[1].len, 3);
    assert_memory_equal(f[1].p, "x,y", 3);
    assert_int_equal(f[2].len, 0);
    assert_false(f[2].quoted);
    assert_int_equal(f[3].len, 0);
    assert_true(f[3].quoted);
    assert_memory_equal(f[4].p, "42", 2);
    assert_int_equal(f[5].len, 1);
    assert_memory_equal(f[5].p, "\"", 1);
    /* a trailing comma is one more empty field */
    assert_int_equal(ccm_csv_split("a,", 2, f, 8, buf, sizeof buf, reason, sizeof reason), 2);
    assert_int_equal(f[1].len, 0);
    /* more fields than room: counted, not stored */
    assert_int_equal(ccm_csv_split("1,2,3,4", 7, f, 2, buf, sizeof buf, reason, sizeof reason), 4);
}

static void test_csv_malformed(void **state)
{
    (void)state;
    char buf[256], reason[CCM_CDR_REASON_MAX];
    ccm_csv_field_t f[8];
    const char *cases[][2] = {{"\"abc,def", "column 1: unterminated"},
                              {"\"abc\"x,1", "column 1: text after the closing quote"},
                              {"1,ab\"c", "column 2: quote inside"}};
    for (size_t i = 0; i < 3; i++) {
        int n = ccm_csv_split(cases[i][0], strlen(cases[i][0]), f, 8, buf, sizeof buf, reason,
                              sizeof reason);
        assert_int_equal(n, CCM_EINVAL);
        assert_non_null(strstr(reason, cases[i][1]));
    }
}

/* ---- Asterisk ---- */

static void test_asterisk_18_example(void **state)
{
    (void)state;
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX];
    /* usegmtime: dates are UTC */
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, s_ast18, NULL, &r, reason), 0);
    assert_string_equal(r.id, "1793714531.42");
    assert_string_equal(r.account, "pt-1042");
    assert_string_equal(r.src, "2015");
    assert_string_equal(r.dst, "5551234567");
    assert_string_equal(r.clid, "2015");
    assert_string_equal(r.userfield, "ccm");
    assert_string_equal(r.status, "ANSWERED");
    assert_int_equal(r.billsec, 930);
    assert_true(r.answered);
    assert_int_equal(r.start_us, T_ANSWER_UTC * 1000000); /* talk starts at `answer` */
    /* local time in New York (EST in November): five hours later in UTC */
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, s_ast18, s_ny(), &r, reason), 0);
    assert_int_equal(r.start_us, (T_ANSWER_UTC + 5 * 3600) * 1000000);
}

static void test_asterisk_16_and_21_columns(void **state)
{
    (void)state;
    ccm_cdr_record_t a, b, c;
    char reason[CCM_CDR_REASON_MAX];
    const char *l16 = "\"pt-1042\",\"2015\",\"5551234567\",\"from-internal\",\"\"\"Nurse Ray\"\" "
                      "<2015>\",\"PJSIP/2015-0000001a\",\"PJSIP/trunk-0000001b\",\"Dial\","
                      "\"PJSIP/5551234567@trunk,60\",\"2026-11-03 14:02:11\",\"2026-11-03 "
                      "14:02:19\",\"2026-11-03 14:17:49\",938,930,\"ANSWERED\",\"DOCUMENTATION\"";
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, l16, NULL, &a, reason), 0);
    assert_int_equal(strncmp(a.id, "ast-", 4), 0);
    assert_int_equal(strlen(a.id), 20);
    assert_int_equal(a.billsec, 930);
    assert_string_equal(a.userfield, "");
    /* the same record again gets the same id; another record another one */
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, l16, NULL, &b, reason), 0);
    assert_string_equal(a.id, b.id);
    char other[1024];
    strcpy(other, l16);
    memcpy(strstr(other, "0000001a"), "0000001c", 8);
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, other, NULL, &c, reason), 0);
    assert_string_not_equal(a.id, c.id);

    char l21[1024];
    snprintf(l21, sizeof l21, "%s,\"\",\"1793714531.42\",42", s_ast18);
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, l21, NULL, &a, reason), 0);
    assert_string_equal(a.id, "1793714531.42");
    assert_string_equal(a.userfield, "ccm");
    assert_int_equal(a.billsec, 930);

    char l17[1024];
    snprintf(l17, sizeof l17, "%s,\"1793714531.42\"", l16);
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, l17, NULL, &a, reason), CCM_EINVAL);
    assert_string_equal(reason, "expected 16, 18 or 21 columns, got 17");
}

static void test_asterisk_unanswered(void **state)
{
    (void)state;
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX];
    const char *noanswer =
        "\"pt-1042\",\"2015\",\"5551234567\",\"from-internal\",\"\"\"Nurse Ray\"\" <2015>\","
        "\"PJSIP/2015-0000001c\",\"PJSIP/trunk-0000001d\",\"Dial\",\"PJSIP/5551234567@trunk,60\","
        "\"2026-11-03 15:00:00\",,\"2026-11-03 15:00:30\",30,0,\"NO ANSWER\",\"DOCUMENTATION\","
        "\"1793718000.43\",\"ccm\"";
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, noanswer, NULL, &r, reason), 0);
    assert_false(r.answered);
    assert_string_equal(r.status, "NO ANSWER");
    /* ANSWERED but zero billsec: nothing to count */
    const char *zero =
        "\"pt-1042\",\"2015\",\"5551234567\",\"from-internal\",\"2015\",\"c\",\"d\",\"Dial\","
        "\"x\",\"2026-11-04 10:00:00\",\"2026-11-04 10:00:09\",\"2026-11-04 10:00:09\",9,0,"
        "\"ANSWERED\",\"DOCUMENTATION\",\"1793804400.46\",\"\"";
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, zero, NULL, &r, reason), 0);
    assert_false(r.answered);
}

static void test_asterisk_malformed(void **state)
{
    (void)state;
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX], line[1024];
    struct {
        const char *from, *to, *why;
    } cases[] = {
        {"\"2026-11-03 14:02:11\"", "\"2026-02-30 14:02:11\"", "start: not a date"},
        {"\"2026-11-03 14:02:19\"", "\"14:02:19\"", "answer: not a date"},
        {",938,930,", ",938,9x0,", "billsec: not a whole number \"9x0\""},
        {",938,930,", ",938,-5,", "billsec: not a whole number"},
        {",938,930,", ",900,930,", "billsec 930 exceeds duration 900"},
        {"\"1793714531.42\"", "\"\"", "uniqueid: empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strstr(s_ast18, cases[i].from);
        assert_non_null(at);
        snprintf(line, sizeof line, "%.*s%s%s", (int)(at - s_ast18), s_ast18, cases[i].to,
                 at + strlen(cases[i].from));
        assert_int_equal(s_parse(CCM_CDR_ASTERISK, line, NULL, &r, reason), CCM_EINVAL);
        assert_non_null(strstr(reason, cases[i].why));
    }
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, "", NULL, &r, reason), CCM_EINVAL);
    assert_string_equal(reason, "expected 16, 18 or 21 columns, got 1");
}

/* The parser reads exactly len bytes: what follows in memory is not part of it. */
static void test_parsers_respect_len(void **state)
{
    (void)state;
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX], line[1024];
    snprintf(line, sizeof line, "%s,\"extra\",\"cols\",\"x\"", s_ast18);
    assert_int_equal(
        ccm_cdr_parse(CCM_CDR_ASTERISK, line, strlen(s_ast18), NULL, &r, reason, sizeof reason), 0);
    assert_string_equal(r.userfield, "ccm");
    const char *k = "1793714539|1793715469|930|2015|5551234567|abc@pbxGARBAGE";
    assert_int_equal(
        ccm_cdr_parse(CCM_CDR_KAMAILIO, k, strlen(k) - 7, NULL, &r, reason, sizeof reason), 0);
    assert_string_equal(r.id, "abc@pbx");
}

static void test_asterisk_dst_new_york(void **state)
{
    (void)state;
    struct {
        const char *local;
        int64_t utc;
    } cases[] = {
        {"2026-07-01 12:00:00", 1782864000 + 16 * 3600}, /* EDT, UTC-4 */
        {"2026-12-01 12:00:00", 1796083200 + 17 * 3600}, /* EST, UTC-5 */
        /* spring forward 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist;
         * it maps to the transition instant, 07:00Z */
        {"2026-03-08 02:30:00", 1772928000 + 7 * 3600},
        {"2026-03-08 01:59:59", 1772928000 + 6 * 3600 + 3599},
        {"2026-03-08 03:00:00", 1772928000 + 7 * 3600},
        /* fall back 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice; the
         * first (EDT) is taken */
        {"2026-11-01 01:30:00", 1793491200 + 5 * 3600 + 1800},
        {"2026-11-01 02:30:00", 1793491200 + 7 * 3600 + 1800},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t us;
        assert_int_equal(ccm_cdr_parse_local(cases[i].local, 19, s_ny(), &us), 0);
        assert_int_equal(us, cases[i].utc * 1000000);
    }
    /* a whole line: answered in the repeated hour */
    char line[1024];
    const char *at = strstr(s_ast18, "\"2026-11-03 14:02:19\"");
    snprintf(line, sizeof line, "%.*s\"2026-11-01 01:30:00\"%s", (int)(at - s_ast18), s_ast18,
             at + 21);
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX];
    assert_int_equal(s_parse(CCM_CDR_ASTERISK, line, s_ny(), &r, reason), 0);
    assert_int_equal(r.start_us, (int64_t)(1793491200 + 5 * 3600 + 1800) * 1000000);
}

/* ---- FreeSWITCH ---- */

static void test_freeswitch(void **state)
{
    (void)state;
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX];
    const char *ok =
        "\"Nurse Ray\",\"2015\",\"5551234567\",\"default\",\"2026-11-03 14:02:11\","
        "\"2026-11-03 14:02:19\",\"2026-11-03 14:17:49\",\"938\",\"930\",\"NORMAL_CLEARING\","
        "\"5c0a1e2e-9d3b-4c1f-8a55-0c5b1d2e3f40\",\"\",\"pt-1042\",\"PCMU\",\"PCMU\"";
    assert_int_equal(s_parse(CCM_CDR_FREESWITCH, ok, NULL, &r, reason), 0);
    assert_string_equal(r.id, "5c0a1e2e-9d3b-4c1f-8a55-0c5b1d2e3f40");
    assert_string_equal(r.src, "2015");
    assert_string_equal(r.dst, "5551234567");
    assert_string_equal(r.account, "pt-1042");
    assert_int_equal(r.billsec, 930);
    assert_true(r.answered);
    assert_int_equal(r.start_us, T_ANSWER_UTC * 1000000);
    assert_int_equal(s_parse(CCM_CDR_FREESWITCH, ok, s_ny(), &r, reason), 0);
    assert_int_equal(r.start_us, (T_ANSWER_UTC + 5 * 3600) * 1000000);

    const char *unanswered =
        "\"Nurse Ray\",\"2015\",\"5551234567\",\"default\",\"2026-11-03 15:00:00\",\"\","
        "\"2026-11-03 15:00:30\",\"30\",\"0\",\"NO_ANSWER\",\"6d1b\",\"\",\"pt-1042\",\"PCMU\","
        "\"PCMU\"";
    assert_int_equal(s_parse(CCM_CDR_FREESWITCH, unanswered, NULL, &r, reason), 0);
    assert_false(r.answered);
    assert_string_equal(r.status, "NO_ANSWER");

    assert_int_equal(s_parse(CCM_CDR_FREESWITCH, "\"a\",\"b\"", NULL, &r, reason), CCM_EINVAL);
    assert_string_equal(reason, "expected 15 columns, got 2");
    const char *nouuid =
        "\"Nurse Ray\",\"2015\",\"5551234567\",\"default\",\"2026-11-03 14:02:11\","
        "\"2026-11-03 14:02:19\",\"2026-11-03 14:17:49\",\"938\",\"930\",\"NORMAL_CLEARING\","
        "\"\",\"\",\"pt-1042\",\"PCMU\",\"PCMU\"";
    assert_int_equal(s_parse(CCM_CDR_FREESWITCH, nouuid, NULL, &r, reason), CCM_EINVAL);
    assert_string_equal(reason, "uuid: empty");
}

/* ---- Kamailio ---- */

static void test_kamailio(void **state)
{
    (void)state;
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX];
    assert_int_equal(s_parse(CCM_CDR_KAMAILIO,
                             "1793714539.25|1793715469.9|930.999|2015|5551234567|a84b@pbx", NULL,
                             &r, reason),
                     0);
    assert_string_equal(r.id, "a84b@pbx");
    assert_int_equal(r.start_us, T_ANSWER_UTC * 1000000 + 250000);
    assert_int_equal(r.billsec, 930); /* floored */
    assert_true(r.answered);
    assert_string_equal(r.src, "2015");
    assert_string_equal(r.dst, "5551234567");
    /* under one second of talk counts as nothing */
    assert_int_equal(
        s_parse(CCM_CDR_KAMAILIO, "1793714539|1793714539.5|0.5|2015|555|b@pbx", NULL, &r, reason),
        0);
    assert_false(r.answered);
    const char *bad[][2] = {
        {"1793714539|1793715469|930|2015|5551234567", "expected 6 '|'-separated fields, got 5"},
        {"1793714539|1793715469|930|2015|555|c|d", "expected 6 '|'-separated fields, got 7"},
        {"now|1793715469|930|2015|555|c", "start: not a number \"now\""},
        {"1793714539|1793715469|-3|2015|555|c", "duration: not a number"},
        {"1793714539|1793715469|1.|2015|555|c", "duration: not a number"},
        {"1793715469|1793714539|930|2015|555|c", "end is before start"},
        {"1793714539|1793715469|930|2015|555|", "callid: empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_parse(CCM_CDR_KAMAILIO, bad[i][0], NULL, &r, reason), CCM_EINVAL);
        assert_non_null(strstr(reason, bad[i][1]));
    }
}

/* ---- Twilio ---- */

static void test_twilio(void **state)
{
    (void)state;
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX];
    const char *ok =
        "{\"sid\":\"CA0f1e\",\"account_sid\":\"AC1\",\"parent_call_sid\":null,"
        "\"from\":\"+15550002015\",\"to\":\"+15551234567\",\"status\":\"completed\","
        "\"start_time\":\"Tue, 03 Nov 2026 14:02:19 +0000\",\"end_time\":\"Tue, 03 "
        "Nov 2026 14:17:49 +0000\",\"duration\":\"930\",\"direction\":\"outbound-api\"}";
    assert_int_equal(s_parse(CCM_CDR_TWILIO, ok, NULL, &r, reason), 0);
    assert_string_equal(r.id, "CA0f1e");
    assert_string_equal(r.src, "+15550002015");
    assert_string_equal(r.dst, "+15551234567");
    assert_int_equal(r.billsec, 930);
    assert_true(r.answered);
    assert_int_equal(r.start_us, T_ANSWER_UTC * 1000000);
    /* RFC 2822 with another offset, RFC 3339, a numeric duration */
    const char *other = "{\"sid\":\"CA2\",\"from\":\"a\",\"to\":\"b\",\"status\":\"completed\","
                        "\"start_time\":\"03 Nov 2026 09:02:19 -0500\",\"duration\":930}";
    assert_int_equal(s_parse(CCM_CDR_TWILIO, other, NULL, &r, reason), 0);
    assert_int_equal(r.start_us, T_ANSWER_UTC * 1000000);
    assert_int_equal(r.billsec, 930);
    const char *rfc3339 = "{\"sid\":\"CA3\",\"from\":\"a\",\"to\":\"b\",\"status\":\"completed\","
                          "\"start_time\":\"2026-11-03T09:02:19-05:00\",\"duration\":\"930\"}";
    assert_int_equal(s_parse(CCM_CDR_TWILIO, rfc3339, NULL, &r, reason), 0);
    assert_int_equal(r.start_us, T_ANSWER_UTC * 1000000);
    /* unanswered statuses and child legs are records, not answered */
    const char *noans = "{\"sid\":\"CA4\",\"from\":\"a\",\"to\":\"b\",\"status\":\"no-answer\","
                        "\"start_time\":null,\"duration\":\"0\"}";
    assert_int_equal(s_parse(CCM_CDR_TWILIO, noans, NULL, &r, reason), 0);
    assert_false(r.answered);
    const char *child = "{\"sid\":\"CA5\",\"parent_call_sid\":\"CA3\",\"from\":\"a\",\"to\":\"b\","
                        "\"status\":\"completed\",\"start_time\":\"2026-11-03T09:02:19-05:00\","
                        "\"duration\":\"930\"}";
    assert_int_equal(s_parse(CCM_CDR_TWILIO, child, NULL, &r, reason), 0);
    assert_false(r.answered);
    assert_string_equal(r.status, "child leg");
    const char *bad[][2] = {
        {"{\"sid\":\"CA6\"", "not JSON"},
        {"[1,2]", "not a JSON object"},
        {"{\"from\":\"a\",\"status\":\"completed\"}", "sid: missing"},
        {"{\"sid\":\"CA7\",\"status\":\"completed\",\"duration\":\"9 s\"}",
         "duration: not a whole"},
        {"{\"sid\":\"CA8\",\"status\":\"completed\",\"duration\":\"9\"}", "start_time: missing"},
        {"{\"sid\":\"CA9\",\"status\":\"completed\",\"duration\":\"9\",\"start_time\":\"Tue, 03 "
         "Nov 2026 14:02\"}",
         "start_time: not a date"},
        {"{\"sid\":\"CA9\",\"sid\":\"CA10\",\"status\":\"completed\"}", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_parse(CCM_CDR_TWILIO, bad[i][0], NULL, &r, reason), CCM_EINVAL);
        assert_non_null(strstr(reason, bad[i][1]));
    }
}

/* ---- JSON Lines ---- */

static void test_jsonl(void **state)
{
    (void)state;
    ccm_cdr_record_t r;
    char reason[CCM_CDR_REASON_MAX];
    const char *ok = "{\"id\":\"ehr-1\",\"patient\":\"1042\",\"staff\":\"rn1\",\"start\":"
                     "\"2026-11-03T14:02:19.5Z\",\"seconds\":930,\"activity\":\"call\"}";
    assert_int_equal(s_parse(CCM_CDR_JSONL, ok, NULL, &r, reason), 0);
    assert_string_equal(r.id, "ehr-1");
    assert_string_equal(r.patient, "1042");
    assert_string_equal(r.staff, "rn1");
    assert_string_equal(r.activity, "call");
    assert_int_equal(r.start_us, T_ANSWER_UTC * 1000000 + 500000);
    assert_int_equal(r.billsec, 930);
    assert_true(r.answered);
    const char *zero = "{\"id\":\"ehr-2\",\"patient\":\"1042\",\"staff\":\"rn1\",\"start\":"
                       "\"2026-11-03T14:02:19Z\",\"seconds\":0}";
    assert_int_equal(s_parse(CCM_CDR_JSONL, zero, NULL, &r, reason), 0);
    assert_false(r.answered);
    const char *bad[][2] = {
        {"{\"patient\":\"1\",\"staff\":\"s\",\"start\":\"2026-11-03T14:02:19Z\",\"seconds\":1}",
         "id: missing"},
        {"{\"id\":\"x\",\"patient\":\"1\",\"staff\":\"s\",\"seconds\":1}", "start: missing"},
        {"{\"id\":\"x\",\"patient\":\"1\",\"staff\":\"s\",\"start\":\"Tue, 03 Nov 2026 14:02:19 "
         "+0000\",\"seconds\":1}",
         "start: not an RFC 3339 instant"},
        {"{\"id\":\"x\",\"patient\":\"1\",\"staff\":\"s\",\"start\":\"2026-11-03T14:02:19Z\","
         "\"seconds\":-1}",
         "seconds: not a whole number"},
        {"{\"id\":\"x\",\"patient\":\"1\",\"staff\":\"s\",\"start\":\"2026-11-03T14:02:19Z\"}",
         "seconds: missing"},
        {"{\"id\":7,\"patient\":\"1\"}", "id: not a string"},
        {"{\"id\":\"a\\u0001b\",\"patient\":\"1\"}", "id: control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_parse(CCM_CDR_JSONL, bad[i][0], NULL, &r, reason), CCM_EINVAL);
        assert_non_null(strstr(reason, bad[i][1]));
    }
}

static void test_instants_and_formats(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(ccm_cdr_parse_instant("Tue, 03 Nov 2026 14:02:19 GMT", 29, &us), 0);
    assert_int_equal(us, T_ANSWER_UTC * 1000000);
    assert_int_equal(ccm_cdr_parse_instant("3 Nov 2026 14:02:19 +0000", 25, &us), 0);
    assert_int_equal(us, T_ANSWER_UTC * 1000000);
    assert_int_equal(ccm_cdr_parse_instant("Tue, 03 Foo 2026 14:02:19 +0000", 31, &us), CCM_EINVAL);
    assert_int_equal(ccm_cdr_parse_instant("2026-11-03T14:02:19", 19, &us), CCM_EINVAL);
    ccm_cdr_format_t f;
    assert_int_equal(ccm_cdr_format_parse("kamailio", &f), 0);
    assert_int_equal(f, CCM_CDR_KAMAILIO);
    assert_int_equal(ccm_cdr_format_parse("csv", &f), CCM_EINVAL);
    assert_true(ccm_cdr_format_local_dates(CCM_CDR_ASTERISK));
    assert_false(ccm_cdr_format_local_dates(CCM_CDR_TWILIO));
    char num[16];
    ccm_cdr_clid_number("\"Nurse Ray\" <2015>", num, sizeof num);
    assert_string_equal(num, "2015");
    ccm_cdr_clid_number("5551234567", num, sizeof num);
    assert_string_equal(num, "5551234567");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_csv_malformed),
        cmocka_unit_test(test_asterisk_18_example),
        cmocka_unit_test(test_asterisk_16_and_21_columns),
        cmocka_unit_test(test_asterisk_unanswered),
        cmocka_unit_test(test_asterisk_malformed),
        cmocka_unit_test(test_parsers_respect_len),
        cmocka_unit_test(test_asterisk_dst_new_york),
        cmocka_unit_test(test_freeswitch),
        cmocka_unit_test(test_kamailio),
        cmocka_unit_test(test_twilio),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_instants_and_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
