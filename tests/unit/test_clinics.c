/* clinics: the [clinic ID] sections every service loads — fields, defaults,
 * and every kind of bad section refused (the service then does not start). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ccm/clinics.h"
#include "ccm/config.h"
#include "ccm/error.h"
#include "ccm/log.h"

/* A configuration with one [clinic ID] section of the given keys (NULL: absent). */
static ccm_config_t *s_config(const char *id, const char *timezone, const char *type)
{
    ccm_config_t *cfg = ccm_config_new();
    assert_non_null(cfg);
    char section[64];
    snprintf(section, sizeof section, "clinic %s", id);
    assert_int_equal(ccm_config_set(cfg, "broker", "endpoint", "tcp://127.0.0.1:1"), 0);
    assert_int_equal(ccm_config_set(cfg, section, "name", "A clinic"), 0);
    if (timezone)
        assert_int_equal(ccm_config_set(cfg, section, "timezone", timezone), 0);
    if (type)
        assert_int_equal(ccm_config_set(cfg, section, "type", type), 0);
    return cfg;
}

static void test_load_reads_every_clinic(void **state)
{
    (void)state;
    ccm_config_t *cfg = s_config("C01", "America/New_York", NULL);
    assert_int_equal(ccm_config_set(cfg, "clinic C01", "place_of_service", "11"), 0);
    assert_int_equal(ccm_config_set(cfg, "clinic R-2.x_y", "timezone", "America/Denver"), 0);
    assert_int_equal(ccm_config_set(cfg, "clinic R-2.x_y", "type", "RHC"), 0);
    ccm_clinics_t *c = NULL;
    assert_int_equal(ccm_clinics_load(cfg, &c), 0);
    assert_non_null(c);

    const ccm_clinic_info_t *a = ccm_clinics_find(c, "C01");
    assert_non_null(a);
    assert_string_equal(a->id, "C01");
    assert_string_equal(a->name, "A clinic");
    assert_string_equal(a->tz->name, "America/New_York");
    assert_int_equal(a->type, CCM_CLINIC_PHYSICIAN_PRACTICE); /* the default */
    assert_string_equal(a->pos, "11");
    /* the zone is loaded: New York is 5 hours behind UTC on 2025-01-15 */
    assert_int_equal(ccm_tz_offset(a->tz, 1736899200), -5 * 3600);

    const ccm_clinic_info_t *b = ccm_clinics_find(c, "R-2.x_y");
    assert_non_null(b);
    assert_string_equal(b->name, "");
    assert_string_equal(b->tz->name, "America/Denver");
    assert_int_equal(b->type, CCM_CLINIC_RHC);
    assert_string_equal(b->pos, "");

    assert_null(ccm_clinics_find(c, "C02"));
    assert_null(ccm_clinics_find(c, "c01")); /* ids are case-sensitive */
    /* every clinic, in file order */
    assert_int_equal(ccm_clinics_count(c), 2);
    assert_ptr_equal(ccm_clinics_at(c, 0), a);
    assert_ptr_equal(ccm_clinics_at(c, 1), b);
    ccm_clinics_destroy(&c);
    assert_null(c);
    ccm_clinics_destroy(&c); /* safe twice */
    ccm_config_destroy(&cfg);
}

static void test_load_without_clinics_is_empty(void **state)
{
    (void)state;
    ccm_config_t *cfg = ccm_config_new();
    assert_non_null(cfg);
    assert_int_equal(ccm_config_set(cfg, "clinics", "timezone", "UTC"), 0); /* not "clinic " */
    ccm_clinics_t *c = NULL;
    assert_int_equal(ccm_clinics_load(cfg, &c), 0);
    assert_non_null(c);
    assert_null(ccm_clinics_find(c, "s"));
    assert_int_equal(ccm_clinics_count(c), 0);
    ccm_clinics_destroy(&c);
    ccm_config_destroy(&cfg);
}

static void test_load_refuses_a_bad_section(void **state)
{
    (void)state;
    static const struct {
        const char *id, *timezone, *type;
    } bad[] = {
        {"C01", NULL, NULL},                                  /* timezone required */
        {"C01", "Mars/Olympus_Mons", NULL},                   /* no such zone */
        {"C01", "../etc/passwd", NULL},                       /* not an IANA name */
        {"C01", "America/New_York", "HOSPITAL"},              /* unknown type */
        {"C01", "America/New_York", ""},                      /* empty type */
        {"bad id", "America/New_York", NULL},                 /* id characters */
        {"", "America/New_York", NULL},                       /* empty id */
        {"C0123456789012345678901234567890123", "UTC", NULL}, /* id over 32 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccm_config_t *cfg = s_config(bad[i].id, bad[i].timezone, bad[i].type);
        /* a good clinic beside it does not save the configuration */
        assert_int_equal(ccm_config_set(cfg, "clinic OK", "timezone", "UTC"), 0);
        ccm_clinics_t *keep = ccm_clinics_new(), *c = keep; /* *out is set on failure too */
        assert_int_equal(ccm_clinics_load(cfg, &c), CCM_EINVAL);
        assert_null(c);
        ccm_clinics_destroy(&keep);
        ccm_config_destroy(&cfg);
    }
}

static void test_add(void **state)
{
    (void)state;
    ccm_clinics_t *c = ccm_clinics_new();
    assert_non_null(c);
    assert_int_equal(ccm_clinics_add(c, "C01", "America/New_York", NULL), 0);
    assert_int_equal(ccm_clinics_add(c, "C02", "Pacific/Kiritimati", "FQHC"), 0);
    assert_int_equal(ccm_clinics_add(c, "C03", "America/New_York", "PHYSICIAN_PRACTICE"), 0);
    assert_int_equal(ccm_clinics_add(c, "C/4", "America/New_York", NULL), CCM_EINVAL);
    assert_int_equal(ccm_clinics_add(c, "C04", NULL, NULL), CCM_EINVAL);
    assert_int_equal(ccm_clinics_add(c, "C04", "America/New_York", "rhc"), CCM_EINVAL);
    assert_int_equal(ccm_clinics_add(c, "C04", "Nowhere/Atlantis", NULL), CCM_ENOTFOUND);
    assert_null(ccm_clinics_find(c, "C04"));
    assert_int_equal(ccm_clinics_find(c, "C01")->type, CCM_CLINIC_PHYSICIAN_PRACTICE);
    assert_int_equal(ccm_clinics_find(c, "C02")->type, CCM_CLINIC_FQHC);
    assert_string_equal(ccm_clinics_find(c, "C02")->tz->name, "Pacific/Kiritimati");
    assert_string_equal(ccm_clinics_find(c, "C03")->name, "");
    ccm_clinics_destroy(&c);
}

int main(void)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_reads_every_clinic),
        cmocka_unit_test(test_load_without_clinics_is_empty),
        cmocka_unit_test(test_load_refuses_a_bad_section),
        cmocka_unit_test(test_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
