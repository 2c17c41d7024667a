/* cdr mapping: staff from src, caller id or dst; patient from account code, user
 * field or the other side's number; misses and over-long calls give a reason;
 * the sample mapping file loads; a bad service tag is refused at load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "ccm/error.h"
#include "cdr.h"
#include "map.h"

static ccm_cdr_map_t *s_map(const char *service)
{
    ccm_config_t *c = ccm_config_new();
    ccm_config_set(c, "staff", "2015", "rn1");
    ccm_config_set(c, "staff", "2016", "1234567893");
    ccm_config_set(c, "patients", "pt-1042", "1042");
    ccm_config_set(c, "patients", "pt-1043", "1043");
    ccm_config_set(c, "patients", "5551234567", "1044");
    if (service)
        ccm_config_set(c, "defaults", "service", service);
    ccm_cdr_map_t *m = NULL;
    char err[256];
    int rc = ccm_cdr_map_from_config(c, &m, err, sizeof err);
    return rc == 0 ? m : NULL;
}

static ccm_cdr_record_t s_rec(const char *src, const char *clid, const char *dst,
                              const char *account, const char *userfield)
{
    ccm_cdr_record_t r;
    memset(&r, 0, sizeof r);
    strcpy(r.id, "u1");
    strcpy(r.src, src);
    strcpy(r.clid, clid);
    strcpy(r.dst, dst);
    strcpy(r.account, account);
    strcpy(r.userfield, userfield);
    r.start_us = 1793714539000000;
    r.billsec = 930;
    r.answered = true;
    return r;
}

static void test_map_hits(void **state)
{
    (void)state;
    ccm_cdr_map_t *m = s_map(NULL);
    assert_non_null(m);
    ccm_cdr_entry_t e;
    char reason[CCM_CDR_REASON_MAX];
    /* outbound from an extension, patient by account code */
    ccm_cdr_record_t r = s_rec("2015", "2015", "5559999999", "pt-1042", "ccm");
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), 0);
    assert_string_equal(e.performer, "rn1");
    assert_string_equal(e.mrn, "1042");
    assert_string_equal(e.activity, "phone call");
    assert_int_equal(e.service, 1); /* CCM */
    assert_string_equal(e.event_id, "u1");
    assert_int_equal(e.seconds, 930);
    assert_int_equal(e.start_us, 1793714539000000);
    /* src is a trunk, the caller id names the extension; patient by user field */
    r = s_rec("trunk", "2016", "5559999999", "", "pt-1043");
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), 0);
    assert_string_equal(e.performer, "1234567893");
    assert_string_equal(e.mrn, "1043");
    /* inbound: staff is dst, the patient is the calling number */
    r = s_rec("5551234567", "5551234567", "2015", "", "");
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), 0);
    assert_string_equal(e.performer, "rn1");
    assert_string_equal(e.mrn, "1044");
    /* account code wins over the user field */
    r = s_rec("2015", "2015", "x", "pt-1042", "pt-1043");
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), 0);
    assert_string_equal(e.mrn, "1042");
    ccm_cdr_map_destroy(&m);
    ccm_cdr_map_destroy(&m); /* safe twice */
}

static void test_map_misses(void **state)
{
    (void)state;
    ccm_cdr_map_t *m = s_map("pcm");
    ccm_cdr_entry_t e;
    char reason[CCM_CDR_REASON_MAX];
    ccm_cdr_record_t r = s_rec("2099", "2099", "5559999999", "pt-1042", "");
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), CCM_EINVAL);
    assert_string_equal(reason, "no [staff] mapping for src \"2099\", caller id \"2099\" or dst "
                                "\"5559999999\"");
    r = s_rec("2015", "2015", "5559999999", "pt-9", "ccm");
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), CCM_EINVAL);
    assert_string_equal(reason, "no [patients] mapping for account code \"pt-9\", user field "
                                "\"ccm\" or number \"5559999999\"");
    r = s_rec("2015", "2015", "x", "pt-1042", "");
    r.billsec = 86401;
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), CCM_EINVAL);
    assert_non_null(strstr(reason, "over 24 hours"));
    r.billsec = 86400;
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), 0);
    assert_int_equal(e.service, 2); /* PCM, case-insensitive */
    ccm_cdr_map_destroy(&m);
}

static void test_map_generic_records(void **state)
{
    (void)state;
    ccm_cdr_map_t *m = s_map(NULL);
    ccm_cdr_record_t r;
    memset(&r, 0, sizeof r);
    strcpy(r.id, "ehr-1");
    strcpy(r.patient, "7001");
    strcpy(r.staff, "np2");
    strcpy(r.activity, "medication reconciliation");
    strcpy(r.service, "BHI");
    r.billsec = 60;
    r.answered = true;
    ccm_cdr_entry_t e;
    char reason[CCM_CDR_REASON_MAX];
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), 0);
    assert_string_equal(e.mrn, "7001");
    assert_string_equal(e.performer, "np2");
    assert_string_equal(e.activity, "medication reconciliation");
    assert_int_equal(e.service, 5);
    strcpy(r.service, "XYZ");
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), CCM_EINVAL);
    assert_non_null(strstr(reason, "service \"XYZ\""));
    ccm_cdr_map_destroy(&m);
}

static void test_map_files(void **state)
{
    (void)state;
    ccm_cdr_map_t *m = NULL;
    char err[512];
    assert_int_equal(ccm_cdr_map_load(CCM_CDR_DATA "/map.ini", &m, err, sizeof err), 0);
    assert_string_equal(ccm_cdr_map_timezone(m), "America/New_York");
    assert_false(ccm_cdr_map_gmt(m));
    ccm_cdr_record_t r = s_rec("+15550002015", "+15550002015", "+15551234567", "", "");
    ccm_cdr_entry_t e;
    char reason[CCM_CDR_REASON_MAX];
    assert_int_equal(ccm_cdr_map_apply(m, &r, &e, reason, sizeof reason), 0);
    assert_string_equal(e.performer, "rn1");
    assert_string_equal(e.mrn, "1042");
    ccm_cdr_map_destroy(&m);

    char path[] = "/tmp/ccm-cdr-map-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *bad = "[defaults]\nservice = XCM\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    assert_int_equal(ccm_cdr_map_load(path, &m, err, sizeof err), CCM_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err, "service = XCM"));
    unlink(path);
    assert_int_equal(ccm_cdr_map_load("/nonexistent/map.ini", &m, err, sizeof err), CCM_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_hits),
        cmocka_unit_test(test_map_misses),
        cmocka_unit_test(test_map_generic_records),
        cmocka_unit_test(test_map_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
