/* test_rules — table-driven tests of lib/rules: one row per behaviour, each
 * named after the rule id of docs/medicare-rules.md it checks. A row edits a base
 * patient-month (2025-03, America/New_York, CCM, two qualifying conditions,
 * consent 2024-10-02, care plan established, seen 2024-08-20) and states the
 * expected decision. Fees come from deploy/fees (the real data files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ccm/error.h"
#include "ccm/rules.h"
#include "ccm/tz.h"

#ifndef CCM_FEES_DIR_DEFAULT
#define CCM_FEES_DIR_DEFAULT "deploy/fees"
#endif

#define NPI 1234567893ULL
#define OTHER_NPI 1111111111ULL

static ccm_tz_t s_ny, s_syd;
static ccm_fees_t s_fees;

/* A mutable test case: arrays the row setup fills. */
typedef struct {
    ccm_case_t c;
    ccm_rules_config_t cfg;
    const ccm_tz_t *tz;
    ccm_fees_t *fees; /* NULL: the real tables */
    ccm_condition_t cond[4];
    ccm_visit_t visits[6];
    ccm_other_service_t other[6];
    ccm_span_t inpatient[4];
    ccm_time_entry_t time[16];
    char ids[16][8];
} tc_t;

static int64_t I(const char *s)
{
    int64_t t;
    assert_int_equal(ccm_tz_parse_instant(s, &t), 0);
    return t;
}

static int32_t D(const char *s)
{
    int32_t d;
    assert_int_equal(ccm_tz_parse_date(s, &d), 0);
    return d;
}

static int32_t M(const char *s)
{
    int32_t m;
    assert_int_equal(ccm_tz_parse_month(s, &m), 0);
    return m;
}

static void base(tc_t *t)
{
    memset(t, 0, sizeof *t);
    ccm_rules_config_default(&t->cfg);
    t->tz = &s_ny;
    ccm_case_t *c = &t->c;
    c->month = M("2025-03");
    c->program = CCM_PROGRAM_CCM;
    c->payer = CCM_PAYER_MEDICARE_B;
    c->clinic = CCM_CLINIC_PHYSICIAN_PRACTICE;
    c->billing_npi = NPI;
    c->billing_role = CCM_ROLE_PHYSICIAN;
    t->cond[0] = (ccm_condition_t){true, 12, true};
    t->cond[1] = (ccm_condition_t){true, 24, true};
    c->conditions = t->cond;
    c->n_conditions = 2;
    c->died_at = CCM_INSTANT_NONE;
    t->visits[0] = (ccm_visit_t){CCM_CODE_99213, D("2024-08-20"), NPI, false, false};
    c->visits = t->visits;
    c->n_visits = 1;
    c->has_consent = true;
    c->consent_at = I("2024-10-02T10:00:00-04:00");
    c->consent_npi = NPI;
    c->consent_program = CCM_PROGRAM_CCM;
    c->revoked_at = CCM_INSTANT_NONE;
    c->care_plan = CCM_CARE_PLAN_ESTABLISHED;
    c->care_plan_established_at = I("2024-10-05T09:00:00-04:00");
    c->care_plan_copy_given_at = I("2024-10-05T09:30:00-04:00");
    c->other = t->other;
    c->inpatient = t->inpatient;
    c->time = t->time;
}

static void add_time_full(tc_t *t, uint64_t npi, ccm_role_t role, ccm_service_t svc, bool in_us,
                          const char *start, int64_t secs)
{
    size_t i = t->c.n_time++;
    snprintf(t->ids[i], sizeof t->ids[i], "e%zu", i);
    t->time[i] = (ccm_time_entry_t){t->ids[i], npi, role, in_us, svc, I(start), secs};
}

/* staff CCM time */
static void staff(tc_t *t, const char *start, int64_t secs)
{
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, t->c.program == CCM_PROGRAM_PCM ? CCM_SERVICE_PCM : CCM_SERVICE_CCM,
                  true, start, secs);
}

/* billing practitioner's own time */
static void prac(tc_t *t, const char *start, int64_t secs)
{
    add_time_full(t, NPI, CCM_ROLE_PHYSICIAN, t->c.program == CCM_PROGRAM_PCM ? CCM_SERVICE_PCM : CCM_SERVICE_CCM,
                  true, start, secs);
}

static void other(tc_t *t, ccm_code_t code, uint64_t npi, const char *month)
{
    t->other[t->c.n_other++] = (ccm_other_service_t){code, npi, M(month)};
}

static void visit(tc_t *t, ccm_code_t code, const char *day, uint64_t npi, bool g0506)
{
    t->visits[t->c.n_visits++] = (ccm_visit_t){code, D(day), npi, g0506, false};
}

static void pcm(tc_t *t)
{
    t->c.program = t->c.consent_program = CCM_PROGRAM_PCM;
    t->c.n_conditions = 1;
    t->cond[0].expected_months = 3;
}

static void apcm(tc_t *t)
{
    t->c.program = t->c.consent_program = CCM_PROGRAM_APCM;
}

static void element(tc_t *t, const char *start)
{
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_APCM, true, start, 0);
}

/* ---- row setups ---------------------------------------------------------- */

static void r_staff25(tc_t *t) { staff(t, "2025-03-04T10:00:00-05:00", 420); staff(t, "2025-03-26T10:00:00-04:00", 1080); }
static void r_staff45(tc_t *t) { staff(t, "2025-03-10T10:00:00-04:00", 45 * 60); }
static void r_staff39(tc_t *t) { staff(t, "2025-03-10T10:00:00-04:00", 39 * 60 + 59); }
static void r_staff1199(tc_t *t) { staff(t, "2025-03-10T10:00:00-04:00", 1199); }
static void r_staff100(tc_t *t) { staff(t, "2025-03-10T10:00:00-04:00", 100 * 60); }
static void r_floor_sum(tc_t *t) { staff(t, "2025-03-10T10:00:00-04:00", 659); staff(t, "2025-03-11T10:00:00-04:00", 541); }
static void r_complex95(tc_t *t) { t->c.complex = true; staff(t, "2025-03-10T10:00:00-04:00", 95 * 60); }
static void r_complex75(tc_t *t) { t->c.complex = true; staff(t, "2025-03-10T10:00:00-04:00", 75 * 60); }
static void r_complex200(tc_t *t) { t->c.complex = true; staff(t, "2025-03-10T08:00:00-04:00", 200 * 60); }
static void r_complex200cap(tc_t *t) { r_complex200(t); t->cfg.cap_99489 = 2; }
static void r_prac35(tc_t *t) { prac(t, "2025-03-10T10:00:00-04:00", 35 * 60); }
static void r_prac130(tc_t *t) { prac(t, "2025-03-10T10:00:00-04:00", 130 * 60); }
static void r_prac130cap3(tc_t *t) { r_prac130(t); t->cfg.cap_99437 = 3; }
static void r_staff100cap1(tc_t *t) { r_staff100(t); t->cfg.cap_99439 = 1; }

static ccm_fees_t s_tie_fees;
static void r_tie(tc_t *t)
{
    /* 99491 paid exactly like 99490: A must win the tie (A > C > B). */
    s_tie_fees = s_fees;
    s_tie_fees.cents[2025 - CCM_FEES_YEAR_MIN][CCM_CODE_99491] = 6049;
    t->fees = &s_tie_fees;
    prac(t, "2025-03-10T10:00:00-04:00", 30 * 60);
}
static void r_tie_pcm(tc_t *t)
{
    /* D and E paid the same: D wins (D > E). */
    pcm(t);
    s_tie_fees = s_fees;
    s_tie_fees.cents[2025 - CCM_FEES_YEAR_MIN][CCM_CODE_99426] = 8087;
    t->fees = &s_tie_fees;
    prac(t, "2025-03-10T10:00:00-04:00", 30 * 60);
}
static void r_pcm_staff35(tc_t *t) { pcm(t); staff(t, "2025-03-10T10:00:00-04:00", 35 * 60); }
static void r_pcm_prac35(tc_t *t) { pcm(t); prac(t, "2025-03-10T10:00:00-04:00", 35 * 60); }
static void r_pcm_staff130(tc_t *t) { pcm(t); staff(t, "2025-03-10T10:00:00-04:00", 130 * 60); }
static void r_pcm_prac130(tc_t *t) { pcm(t); prac(t, "2025-03-10T10:00:00-04:00", 130 * 60); }
static void r_pcm_staff29(tc_t *t) { pcm(t); staff(t, "2025-03-10T10:00:00-04:00", 29 * 60 + 59); }
static void r_pcm_2021(tc_t *t)
{
    pcm(t);
    t->c.month = M("2021-06");
    t->c.consent_at = I("2021-01-04T10:00:00-05:00");
    t->c.care_plan_established_at = t->c.care_plan_copy_given_at = I("2021-01-05T10:00:00-05:00");
    t->visits[0].day = D("2020-12-01");
    staff(t, "2021-06-10T10:00:00-04:00", 40 * 60);
}
static void r_ccm_2021_b(tc_t *t)
{
    t->c.month = M("2021-06");
    t->c.consent_at = I("2021-01-04T10:00:00-05:00");
    t->c.care_plan_established_at = t->c.care_plan_copy_given_at = I("2021-01-05T10:00:00-05:00");
    t->visits[0].day = D("2020-12-01");
    prac(t, "2021-06-10T10:00:00-04:00", 70 * 60);
    t->cfg.cap_99439 = 0; /* so that B (99491 alone) outpays A */
}
static void r_fee2026(tc_t *t)
{
    t->c.month = M("2026-01");
    staff(t, "2026-01-05T10:00:00-05:00", 25 * 60);
}
static void r_fee2025dec(tc_t *t)
{
    t->c.month = M("2025-12");
    staff(t, "2025-12-31T22:00:00-05:00", 25 * 60);
}
static void r_fee2026_stale(tc_t *t)
{
    t->c.month = M("2026-02");
    prac(t, "2026-02-05T10:00:00-05:00", 35 * 60); /* 99491 has no 2026 amount */
}
static void r_apcm1(tc_t *t) { apcm(t); t->c.n_conditions = 1; element(t, "2025-03-12T10:00:00-04:00"); }
static void r_apcm2(tc_t *t) { apcm(t); element(t, "2025-03-12T10:00:00-04:00"); }
static void r_apcm3(tc_t *t) { apcm(t); t->c.qmb = true; element(t, "2025-03-12T10:00:00-04:00"); }
static void r_apcm_none(tc_t *t) { apcm(t); }
static void r_apcm_none_cfg(tc_t *t) { apcm(t); t->cfg.apcm_requires_element = false; }
static void r_apcm_2024(tc_t *t)
{
    apcm(t);
    t->c.month = M("2024-11");
    element(t, "2024-11-12T10:00:00-05:00");
}
static void r_apcm_tcm(tc_t *t) { r_apcm2(t); other(t, CCM_CODE_99495, NPI, "2025-03"); }
static void r_apcm_evisit(tc_t *t) { r_apcm2(t); other(t, CCM_CODE_99421, NPI, "2025-03"); }
static void r_apcm_other_apcm(tc_t *t) { r_apcm2(t); other(t, CCM_CODE_G0557, OTHER_NPI, "2025-03"); }
static void r_apcm_other_ccm(tc_t *t) { r_apcm2(t); other(t, CCM_CODE_99490, OTHER_NPI, "2025-03"); }
static void r_apcm_other_ccm_any(tc_t *t) { r_apcm_other_ccm(t); t->cfg.apcm_exclusion_any_practitioner = true; }
static void r_apcm_ccm_consent(tc_t *t) { r_apcm2(t); t->c.consent_program = CCM_PROGRAM_CCM; }

static void r_payer(tc_t *t) { r_staff45(t); t->c.payer = CCM_PAYER_MEDICARE_ADVANTAGE; }
static void r_one_cond(tc_t *t) { r_staff45(t); t->c.n_conditions = 1; }
static void r_short_cond(tc_t *t) { r_staff45(t); t->cond[1].expected_months = 6; }
static void r_low_risk(tc_t *t) { r_staff45(t); t->cond[0].high_risk = false; }
static void r_pcm_short(tc_t *t) { r_pcm_staff35(t); t->cond[0].expected_months = 2; }
static void r_no_consent(tc_t *t) { r_staff45(t); t->c.has_consent = false; }
static void r_consent_npi(tc_t *t) { r_staff45(t); t->c.consent_npi = OTHER_NPI; }
static void r_consent_prog(tc_t *t) { r_staff45(t); t->c.consent_program = CCM_PROGRAM_PCM; }
static void r_consent_late(tc_t *t) { r_staff45(t); t->c.consent_at = I("2025-04-01T00:00:00-04:00"); }
static void r_consent_last_sec(tc_t *t)
{
    /* consent in the last minute of the month: gate passes, but all earlier minutes are lost */
    r_staff45(t);
    t->c.consent_at = I("2025-03-31T23:59:00-04:00");
}
static void r_consent_mid(tc_t *t)
{
    t->c.consent_at = I("2025-03-10T12:00:00-04:00");
    t->visits[0].day = D("2025-01-15");
    staff(t, "2025-03-05T10:00:00-05:00", 1500); /* before consent */
    staff(t, "2025-03-10T11:50:00-04:00", 1200); /* 600 s before, 600 s after */
}
static void r_revoked_before(tc_t *t) { r_staff45(t); t->c.revoked_at = I("2025-02-27T10:00:00-05:00"); }
static void r_revoked_in(tc_t *t)
{
    t->c.revoked_at = I("2025-03-10T00:00:00-04:00");
    staff(t, "2025-03-05T10:00:00-05:00", 600);
    staff(t, "2025-03-20T10:00:00-04:00", 900);
}
static void r_revoked_in_cfg(tc_t *t) { r_revoked_in(t); t->cfg.count_after_revocation = false; }
static void r_revoked_at_boundary(tc_t *t)
{
    /* revoked at the first instant of the month (local): an earlier month it is not */
    r_staff45(t);
    t->c.revoked_at = I("2025-03-01T00:00:00-05:00");
}
static void r_revoked_before_boundary(tc_t *t)
{
    r_staff45(t);
    t->c.revoked_at = I("2025-02-28T23:59:59-05:00");
}
static void r_no_recent_visit(tc_t *t) { r_staff45(t); t->visits[0].day = D("2023-09-01"); }
static void r_visit_12m_edge(tc_t *t) { r_staff45(t); t->visits[0].day = D("2023-10-02"); }
static void r_visit_12m_out(tc_t *t) { r_staff45(t); t->visits[0].day = D("2023-10-01"); }
static void r_visit_other_npi(tc_t *t) { r_staff45(t); t->visits[0].npi = OTHER_NPI; }
static void r_visit_99211(tc_t *t) { r_staff45(t); t->visits[0].code = CCM_CODE_99211; }
static void r_init_visit_in_month(tc_t *t)
{
    t->c.consent_at = I("2025-03-01T09:00:00-05:00");
    t->visits[0].day = D("2023-01-01");
    visit(t, CCM_CODE_G0438, "2025-03-15", NPI, false);
    staff(t, "2025-03-03T10:00:00-05:00", 1800); /* before the visit day: not countable */
    staff(t, "2025-03-16T10:00:00-04:00", 1500);
}
static void r_telehealth(tc_t *t)
{
    r_staff45(t);
    t->visits[0].day = D("2023-01-01");
    visit(t, CCM_CODE_99214, "2024-10-02", NPI, false);
    t->visits[1].telehealth = true;
}
static void r_telehealth_ok(tc_t *t) { r_telehealth(t); t->cfg.telehealth_initiating = true; }
static void r_draft(tc_t *t) { r_staff45(t); t->c.care_plan = CCM_CARE_PLAN_DRAFT; }
static void r_no_copy(tc_t *t) { r_staff45(t); t->c.care_plan_copy_given_at = CCM_INSTANT_NONE; }
static void r_plan_late(tc_t *t) { r_staff45(t); t->c.care_plan_established_at = I("2025-04-02T10:00:00-04:00"); }
static void r_g0181(tc_t *t) { r_staff45(t); other(t, CCM_CODE_G0181, OTHER_NPI, "2025-03"); }
static void r_g0182(tc_t *t) { r_staff45(t); other(t, CCM_CODE_G0182, OTHER_NPI, "2025-03"); }
static void r_esrd(tc_t *t) { r_staff45(t); other(t, CCM_CODE_90960, OTHER_NPI, "2025-03"); }
static void r_esrd_pcm(tc_t *t) { r_pcm_staff35(t); other(t, CCM_CODE_90951, OTHER_NPI, "2025-03"); }
static void r_g0181_off(tc_t *t) { r_g0181(t); t->cfg.exclude_cpo_esrd = false; }
static void r_g0181_feb(tc_t *t) { r_staff45(t); other(t, CCM_CODE_G0181, OTHER_NPI, "2025-02"); }
static void r_other_ccm(tc_t *t) { r_staff45(t); other(t, CCM_CODE_99490, OTHER_NPI, "2025-03"); }
static void r_same_ccm(tc_t *t) { r_staff45(t); other(t, CCM_CODE_99491, NPI, "2025-03"); }
static void r_pcm_same(tc_t *t) { r_staff45(t); other(t, CCM_CODE_99424, NPI, "2025-03"); }
static void r_pcm_other(tc_t *t) { r_staff45(t); other(t, CCM_CODE_99426, OTHER_NPI, "2025-03"); }
static void r_pcm_other_cfg(tc_t *t) { r_pcm_other(t); t->cfg.pcm_ccm_other_practitioner_allowed = false; }
static void r_ccm_for_pcm(tc_t *t) { r_pcm_staff35(t); other(t, CCM_CODE_99490, NPI, "2025-03"); }
static void r_pcm_other_pcm(tc_t *t) { r_pcm_staff35(t); other(t, CCM_CODE_99426, OTHER_NPI, "2025-03"); }
static void r_apcm_same(tc_t *t) { r_staff45(t); other(t, CCM_CODE_G0557, NPI, "2025-03"); }
static void r_apcm_otherp(tc_t *t) { r_staff45(t); other(t, CCM_CODE_G0557, OTHER_NPI, "2025-03"); }
static void r_tcm_rpm_bhi(tc_t *t)
{
    r_staff45(t);
    other(t, CCM_CODE_99495, NPI, "2025-03");
    other(t, CCM_CODE_99457, NPI, "2025-03");
    other(t, CCM_CODE_99484, NPI, "2025-03");
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_TCM, true, "2025-03-11T10:00:00-04:00", 1800);
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_RPM, true, "2025-03-12T10:00:00-04:00", 1800);
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_BHI, true, "2025-03-13T10:00:00-04:00", 1800);
}
static void r_inpatient_all(tc_t *t)
{
    r_staff45(t);
    t->inpatient[t->c.n_inpatient++] = (ccm_span_t){I("2025-02-20T08:00:00-05:00"), I("2025-03-15T00:00:00-04:00")};
    t->inpatient[t->c.n_inpatient++] = (ccm_span_t){I("2025-03-14T08:00:00-04:00"), CCM_INSTANT_NONE};
}
static void r_inpatient_part(tc_t *t)
{
    t->inpatient[t->c.n_inpatient++] = (ccm_span_t){I("2025-03-10T10:30:00-04:00"), I("2025-03-20T08:00:00-04:00")};
    staff(t, "2025-03-10T10:00:00-04:00", 3600); /* half inside the stay */
    staff(t, "2025-03-15T10:00:00-04:00", 3600); /* all inside */
}
static void r_inpatient_gap(tc_t *t)
{
    /* out for one hour on 2025-03-31: not inpatient the whole month */
    t->inpatient[t->c.n_inpatient++] = (ccm_span_t){CCM_INSTANT_NONE, I("2025-03-31T10:00:00-04:00")};
    t->inpatient[t->c.n_inpatient++] = (ccm_span_t){I("2025-03-31T11:00:00-04:00"), CCM_INSTANT_NONE};
    staff(t, "2025-03-31T10:00:00-04:00", 3600);
}
static void r_dup(tc_t *t)
{
    staff(t, "2025-03-10T10:00:00-04:00", 1200);
    staff(t, "2025-03-12T10:00:00-04:00", 1200);
    strcpy(t->ids[1], "e0"); /* the same event delivered twice */
}
static void r_dup_other_month(tc_t *t)
{
    /* first delivery dated in February; a replay with the same id dated in March is the same event */
    staff(t, "2025-02-10T10:00:00-05:00", 1500);
    staff(t, "2025-03-12T10:00:00-04:00", 1500);
    strcpy(t->ids[1], "e0");
}
static void r_overlap_prac_staff(tc_t *t)
{
    prac(t, "2025-03-10T10:00:00-04:00", 1800);
    staff(t, "2025-03-10T10:15:00-04:00", 1800);
}
static void r_overlap_staff(tc_t *t)
{
    staff(t, "2025-03-10T10:00:00-04:00", 1200);
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_CCM, true, "2025-03-10T10:10:00-04:00", 1200);
}
static void r_overlap_contained(tc_t *t)
{
    staff(t, "2025-03-10T10:00:00-04:00", 3600);
    staff(t, "2025-03-10T10:10:00-04:00", 600);
    prac(t, "2025-03-10T10:20:00-04:00", 600);
}
static void r_nonclinical(tc_t *t)
{
    add_time_full(t, 0, CCM_ROLE_NON_CLINICAL, CCM_SERVICE_CCM, true, "2025-03-10T10:00:00-04:00", 3600);
    staff(t, "2025-03-11T10:00:00-04:00", 600);
}
static void r_outside_us(tc_t *t)
{
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_CCM, false, "2025-03-10T10:00:00-04:00", 3600);
    staff(t, "2025-03-11T10:00:00-04:00", 600);
}
static void r_other_tag(tc_t *t)
{
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_RPM, true, "2025-03-10T10:00:00-04:00", 3600);
    staff(t, "2025-03-11T10:00:00-04:00", 600);
}
static void r_death(tc_t *t)
{
    t->c.died_at = I("2025-03-10T10:10:00-04:00");
    staff(t, "2025-03-10T10:00:00-04:00", 1800);
    staff(t, "2025-03-12T10:00:00-04:00", 1800);
}
static void r_history(tc_t *t)
{
    staff(t, "2025-02-10T10:00:00-05:00", 3000);
    staff(t, "2025-04-10T10:00:00-04:00", 3000);
    staff(t, "2025-03-10T10:00:00-04:00", 1300);
}
static void r_month_end_split(tc_t *t)
{
    /* 23:30 EDT on 31 March for an hour: 30 min belong to March (P-8) */
    staff(t, "2025-03-31T23:30:00-04:00", 3600);
    staff(t, "2025-03-20T10:00:00-04:00", 600);
}
static void r_month_start_split(tc_t *t)
{
    /* 23:50 EST on 28 Feb for 20 min: 10 min in March; with 10 more = 20 */
    staff(t, "2025-02-28T23:50:00-05:00", 1200);
    staff(t, "2025-03-20T10:00:00-04:00", 600);
}
static void r_dst_start(tc_t *t)
{
    /* 01:50 EST on 2025-03-09 for 20 elapsed minutes ends 03:10 EDT (wall clock says 80) */
    staff(t, "2025-03-09T01:50:00-05:00", 1200);
}
static void r_dst_end(tc_t *t)
{
    /* 01:10–01:30 happens twice on 2025-11-02; the two entries do not overlap in time */
    t->c.month = M("2025-11");
    staff(t, "2025-11-02T01:10:00-04:00", 1200);
    staff(t, "2025-11-02T01:10:00-05:00", 1200);
}
static void r_dst_month_sydney(tc_t *t)
{
    /* Sydney is on daylight time (+11) at the April boundary: 13:30Z on 31 March is
     * 00:30 on 1 April locally, so this hour belongs to April, not March. */
    t->tz = &s_syd;
    staff(t, "2025-03-31T13:30:00Z", 3600);
    staff(t, "2025-03-20T10:00:00+11:00", 600);
}
static void r_dos_prac(tc_t *t)
{
    prac(t, "2025-03-10T10:00:00-04:00", 1200);
    staff(t, "2025-03-11T10:00:00-04:00", 300);
    prac(t, "2025-03-25T10:00:00-04:00", 600); /* A reached 20 on 03-11, B 30 on 03-25 */
}
static void r_dos_midnight(tc_t *t)
{
    /* threshold reached exactly at local midnight: the DOS is the day the last second was worked */
    staff(t, "2025-03-14T23:40:00-04:00", 1200);
}
static void r_rhc_2024(tc_t *t)
{
    t->c.clinic = CCM_CLINIC_RHC;
    t->c.month = M("2024-12");
    staff(t, "2024-12-10T10:00:00-05:00", 45 * 60);
}
static void r_rhc_2025_03(tc_t *t) { t->c.clinic = CCM_CLINIC_RHC; r_staff45(t); }
static void r_rhc_2025_06_cfg(tc_t *t)
{
    t->c.clinic = CCM_CLINIC_FQHC;
    t->cfg.rhc_g0511_2025h1 = true;
    t->c.month = M("2025-06");
    staff(t, "2025-06-30T23:00:00-04:00", 45 * 60); /* threshold reached 23:20 on 30 June */
}
static void r_rhc_2025_07_cfg(tc_t *t)
{
    t->c.clinic = CCM_CLINIC_RHC;
    t->cfg.rhc_g0511_2025h1 = true;
    t->c.month = M("2025-07");
    staff(t, "2025-07-01T00:00:00-04:00", 45 * 60);
}
static void r_g0506_twice(tc_t *t)
{
    t->c.consent_at = I("2025-03-03T09:00:00-05:00");
    visit(t, CCM_CODE_99214, "2025-03-03", NPI, true);
    visit(t, CCM_CODE_99214, "2025-03-20", NPI, true);
    r_staff45(t);
}
static void r_g0506_bad(tc_t *t)
{
    t->c.consent_at = I("2025-03-03T09:00:00-05:00");
    visit(t, CCM_CODE_99211, "2025-03-03", NPI, true);       /* nurse visit */
    visit(t, CCM_CODE_99214, "2025-03-04", OTHER_NPI, true); /* other practitioner */
    r_staff45(t);
}
static void r_g0506_prior(tc_t *t)
{
    other(t, CCM_CODE_G0506, NPI, "2024-10");
    visit(t, CCM_CODE_99214, "2025-03-05", NPI, true);
    r_staff45(t);
}
static void r_g0506_other_npi_history(tc_t *t)
{
    /* G0506 by another practitioner earlier does not use up this practitioner's */
    other(t, CCM_CODE_G0506, OTHER_NPI, "2024-10");
    visit(t, CCM_CODE_99214, "2025-03-05", NPI, true);
    r_staff45(t);
}

/* G0506 belongs to the CCM initiating visit only (§4) and is a line of the claim */
static ccm_fees_t s_g0506_fees;
static void r_g0506_line(tc_t *t)
{
    t->c.consent_at = I("2025-03-03T09:00:00-05:00");
    visit(t, CCM_CODE_99214, "2025-03-03", NPI, true);
    r_staff45(t); /* threshold day 2025-03-10 stays the claim's DOS */
}
static void r_g0506_fee(tc_t *t)
{
    /* with an amount for G0506 the claim's amount includes it */
    s_g0506_fees = s_fees;
    s_g0506_fees.cents[2025 - CCM_FEES_YEAR_MIN][CCM_CODE_G0506] = 5000;
    t->fees = &s_g0506_fees;
    r_g0506_line(t);
}
static void r_g0506_only(tc_t *t)
{
    t->c.consent_at = I("2025-03-03T09:00:00-05:00");
    visit(t, CCM_CODE_99214, "2025-03-03", NPI, true);
    staff(t, "2025-03-10T10:00:00-04:00", 600); /* below every threshold */
}
static void r_g0506_pcm(tc_t *t)
{
    pcm(t);
    t->c.consent_at = I("2025-03-03T09:00:00-05:00");
    visit(t, CCM_CODE_99214, "2025-03-03", NPI, true);
    staff(t, "2025-03-10T10:00:00-04:00", 35 * 60);
}
static void r_g0506_apcm(tc_t *t)
{
    r_apcm2(t);
    t->c.consent_at = I("2025-03-03T09:00:00-05:00");
    visit(t, CCM_CODE_99214, "2025-03-03", NPI, true);
}
static void r_g0506_later_visit(tc_t *t)
{
    /* CCM began with the 2024-11-05 visit; a G0506 on a later visit is refused */
    visit(t, CCM_CODE_99213, "2024-11-05", NPI, false);
    visit(t, CCM_CODE_99214, "2025-03-05", NPI, true);
    r_staff45(t);
}
static void r_g0506_before_consent_day(tc_t *t)
{
    /* a visit before the consent's day is not where CCM was initiated */
    t->c.consent_at = I("2025-03-04T09:00:00-05:00");
    visit(t, CCM_CODE_99214, "2025-03-03", NPI, true);
    r_staff45(t);
}
static void r_g0506_telehealth(tc_t *t)
{
    /* a telehealth visit does not initiate (default): the face-to-face one does */
    t->c.consent_at = I("2025-03-03T09:00:00-05:00");
    visit(t, CCM_CODE_99214, "2025-03-03", NPI, true);
    t->visits[1].telehealth = true;
    visit(t, CCM_CODE_99214, "2025-03-04", NPI, false);
    r_staff45(t);
}
static void r_g0506_gate(tc_t *t) { r_g0506_only(t); t->c.care_plan = CCM_CARE_PLAN_DRAFT; }

/* APCM tiers count CCM-grade chronic conditions only (§2) */
static void r_apcm_short(tc_t *t) { r_apcm3(t); t->cond[1].expected_months = 6; }
static void r_apcm_low_risk(tc_t *t) { r_apcm3(t); t->cond[0].high_risk = t->cond[1].high_risk = false; }
static void r_apcm_until_death(tc_t *t) { r_apcm3(t); t->cond[1].expected_months = 999; }

/* Death with the date only (P-11): the day of death is held for review */
static void died_on(tc_t *t, const char *day_start)
{
    t->c.died_at = I(day_start);
    t->c.died_date_only = true;
}
static void r_death_day(tc_t *t)
{
    died_on(t, "2025-03-12T00:00:00-04:00");
    staff(t, "2025-03-10T10:00:00-04:00", 1800);
    staff(t, "2025-03-12T10:00:00-04:00", 600);
}
static void r_death_day_crossing(tc_t *t)
{
    /* 23:50 the day before, 20 min: 10 min before the day count, the rest is held */
    died_on(t, "2025-03-12T00:00:00-04:00");
    staff(t, "2025-03-10T10:00:00-04:00", 1800);
    staff(t, "2025-03-11T23:50:00-04:00", 1200);
}
static void r_death_day_clear(tc_t *t)
{
    /* nothing countable on the day: RPM time and non-clinical time do not hold the month */
    died_on(t, "2025-03-12T00:00:00-04:00");
    staff(t, "2025-03-10T10:00:00-04:00", 45 * 60);
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_RPM, true, "2025-03-12T10:00:00-04:00", 600);
    add_time_full(t, 0, CCM_ROLE_NON_CLINICAL, CCM_SERVICE_CCM, true, "2025-03-12T11:00:00-04:00", 600);
    staff(t, "2025-03-13T10:00:00-04:00", 600); /* after the day: after death, no review */
}
static void r_death_day_apcm(tc_t *t)
{
    r_apcm2(t);
    died_on(t, "2025-03-12T00:00:00-04:00");
    element(t, "2025-03-12T15:00:00-04:00");
}
static void r_death_exact(tc_t *t)
{
    /* an exact instant: seconds before it count, no review */
    t->c.died_at = I("2025-03-12T10:30:00-04:00");
    staff(t, "2025-03-10T10:00:00-04:00", 1800);
    staff(t, "2025-03-12T10:00:00-04:00", 3600);
}

/* Consent ended by a change of billing practitioner (P-3) */
static void r_ended_in(tc_t *t)
{
    r_revoked_in(t); /* 600 s before, 900 s after */
    t->c.consent_ended = true;
}
static void r_ended_before(tc_t *t)
{
    r_staff45(t);
    t->c.revoked_at = I("2025-02-20T10:00:00-05:00");
    t->c.consent_ended = true;
}
static void r_ended_at_start(tc_t *t)
{
    r_staff45(t);
    t->c.revoked_at = I("2025-03-01T00:00:00-05:00");
    t->c.consent_ended = true;
}

/* Timely filing (§9): DOS 2025-03-10 */
static void r_filing_late(tc_t *t) { r_staff45(t); t->c.filing_day = D("2026-03-11"); }
static void r_filing_edge(tc_t *t) { r_staff45(t); t->c.filing_day = D("2026-03-10"); }
static void r_filing_off(tc_t *t) { r_filing_late(t); t->cfg.timely_filing_months = 0; }
static void r_filing_months(tc_t *t) { r_staff45(t); t->c.filing_day = D("2025-09-11"); t->cfg.timely_filing_months = 6; }
static void r_filing_g0506(tc_t *t)
{
    /* the G0506 line (2025-03-03) is past the limit, the time lines (2025-03-10) are not */
    r_g0506_line(t);
    t->c.filing_day = D("2026-03-05");
}

/* ---- table ----------------------------------------------------------------- */

typedef struct {
    void (*setup)(tc_t *);
    const char *reason;  /* "" = claim expected */
    const char *lines;   /* "99490x1 99439x1"; NULL = do not check */
    const char *dos;     /* NULL = do not check */
    int64_t amount;      /* -1 = do not check */
    int total, prac;     /* minutes; -1 = do not check */
    int staff_min;       /* -1 = do not check */
    const char *g0506;   /* "A,ALREADY_BILLED" etc.; NULL = do not check */
    int stale;           /* -1 = do not check */
    ccm_ev_t must_have;  /* an evidence kind that must be present; CCM_EV_COUNT = none */
} row_t;

#define ROW(name, ...) {name, {__VA_ARGS__}}

typedef struct {
    const char *name; /* test name: the rule id first */
    row_t r;
} named_row_t;

static named_row_t s_rows[] = {
    /* §8 worked examples and thresholds */
    ROW("§8-A worked example: staff 25 min -> 99490x1, DOS threshold day (P-13)", r_staff25, "", "99490x1", "2025-03-26", 6049, 25, 0, 25, NULL, 0, CCM_EV_DOS),
    ROW("§8-A worked example: staff 45 min -> 99490+99439", r_staff45, "", "99490x1 99439x1", "2025-03-10", 10642, 45, 0, 45, NULL, 0, CCM_EV_SELECTED),
    ROW("§8-C worked example: complex, staff 95 min -> 99487+99489 ($202.17 > $152.35)", r_complex95, "", "99487x1 99489x1", "2025-03-10", 20217, 95, 0, 95, NULL, 0, CCM_EV_CANDIDATE),
    ROW("§8-A/C product choice: complex 75 min pays more as A", r_complex75, "", "99490x1 99439x2", NULL, 15235, 75, 0, 75, NULL, 0, CCM_EV_SELECTED),
    ROW("§6 add-on needs the full increment: 39:59 -> 99490 only", r_staff39, "", "99490x1", NULL, 6049, 39, 0, 39, NULL, 0, CCM_EV_COUNT),
    ROW("§6 threshold is a minimum: 19:59 -> BELOW_THRESHOLD", r_staff1199, "BELOW_THRESHOLD", NULL, NULL, -1, 19, 0, 19, NULL, -1, CCM_EV_NO_CANDIDATE),
    ROW("P-10 sum seconds then floor: 659 s + 541 s = 20 min", r_floor_sum, "", "99490x1", "2025-03-11", 6049, 20, 0, 20, NULL, 0, CCM_EV_TIME_TOTAL),
    ROW("§7-CAP 99439 capped at 2: staff 100 min", r_staff100, "", "99490x1 99439x2", NULL, 15235, 100, 0, 100, NULL, 0, CCM_EV_CAP),
    ROW("§7-CAP 99439 cap configurable (1)", r_staff100cap1, "", "99490x1 99439x1", NULL, 10642, 100, 0, 100, NULL, 0, CCM_EV_CAP),
    ROW("§8-B practitioner 35 min -> 99491 beats 99490", r_prac35, "", "99491x1", "2025-03-10", 8216, 35, 35, 0, NULL, 0, CCM_EV_SELECTED),
    ROW("§7-CAP 99437 capped at 2: practitioner 130 min", r_prac130, "", "99491x1 99437x2", NULL, 19732, 130, 130, 0, NULL, 0, CCM_EV_CAP),
    ROW("§7-CAP 99437 cap configurable (3)", r_prac130cap3, "", "99491x1 99437x3", NULL, 25490, 130, 130, 0, NULL, 0, CCM_EV_COUNT),
    ROW("§7-CAP 99489 no cap by default: complex 200 min -> 99489x4", r_complex200, "", "99487x1 99489x4", NULL, 41373, 200, 0, 200, NULL, 0, CCM_EV_COUNT),
    ROW("§7-CAP 99489 cap configurable (2)", r_complex200cap, "", "99487x1 99489x2", NULL, 27269, 200, 0, 200, NULL, 0, CCM_EV_CAP),
    ROW("§8-SELECT tie A vs B -> A", r_tie, "", "99490x1", NULL, 6049, 30, 30, 0, NULL, 0, CCM_EV_SELECTED),
    ROW("§8-SELECT tie D vs E -> D", r_tie_pcm, "", "99426x1", NULL, 8087, 30, 30, 0, NULL, 0, CCM_EV_SELECTED),
    ROW("§8-D PCM staff 35 min -> 99426 at 2022 amount (P-14 stale)", r_pcm_staff35, "", "99426x1", NULL, 6333, 35, 0, 35, NULL, 1, CCM_EV_FEE_STALE),
    ROW("§8-E PCM practitioner 35 min -> 99424", r_pcm_prac35, "", "99424x1", NULL, 8087, 35, 35, 0, NULL, 0, CCM_EV_SELECTED),
    ROW("§7-CAP 99427 capped at 2: PCM staff 130 min", r_pcm_staff130, "", "99426x1 99427x2", NULL, 16425, 130, 0, 130, NULL, 1, CCM_EV_CAP),
    ROW("§7-CAP 99425 capped at 2: PCM practitioner 130 min (E beats D)", r_pcm_prac130, "", "99424x1 99425x2", NULL, 19861, 130, 130, 0, NULL, 0, CCM_EV_CAP),
    ROW("§8-D PCM threshold 30: 29:59 -> BELOW_THRESHOLD", r_pcm_staff29, "BELOW_THRESHOLD", NULL, NULL, -1, 29, 0, 29, NULL, -1, CCM_EV_COUNT),
    ROW("§7 PCM before 2022 uses G2065 (no add-on)", r_pcm_2021, "", "G2065x1", NULL, -1, 40, 0, 40, NULL, -1, CCM_EV_COUNT),
    ROW("§7 99437 does not exist before 2022: 99491 alone", r_ccm_2021_b, "", "99491x1", NULL, 8216, 70, 70, 0, NULL, 1, CCM_EV_CODE_NOT_EFFECTIVE),
    ROW("§9 fee year by DOS: 2026 DOS uses 2026 amount", r_fee2026, "", "99490x1", "2026-01-05", 6613, 25, 0, 25, NULL, 0, CCM_EV_FEE),
    ROW("§9 fee year by DOS: DOS 2025-12-31 local uses 2025 (UTC says 2026)", r_fee2025dec, "", "99490x1", "2025-12-31", 6049, 25, 0, 25, NULL, 0, CCM_EV_FEE),
    ROW("P-14 2026 99491 falls back to 2025 and says so", r_fee2026_stale, "", "99491x1", NULL, 8216, 35, 35, 0, NULL, 1, CCM_EV_FEE_STALE),
    /* APCM */
    ROW("§2-APCM tier G0556: one chronic condition", r_apcm1, "", "G0556x1", "2025-03-12", 1500, 0, 0, 0, NULL, 0, CCM_EV_APCM_TIER),
    ROW("§2-APCM tier G0557: two chronic conditions", r_apcm2, "", "G0557x1", "2025-03-12", 5000, 0, 0, 0, NULL, 0, CCM_EV_APCM_ELEMENTS),
    ROW("§2-APCM tier G0558: two conditions and QMB", r_apcm3, "", "G0558x1", NULL, 11000, 0, 0, 0, NULL, 0, CCM_EV_APCM_TIER),
    ROW("§8-APCM no documented element -> BELOW_THRESHOLD", r_apcm_none, "BELOW_THRESHOLD", NULL, NULL, -1, 0, 0, 0, NULL, -1, CCM_EV_APCM_ELEMENTS),
    ROW("§8-APCM element requirement configurable", r_apcm_none_cfg, "", "G0557x1", "2025-03-31", 5000, 0, 0, 0, NULL, 0, CCM_EV_COUNT),
    ROW("§7 APCM does not exist before 2025", r_apcm_2024, "CODE_NOT_EFFECTIVE", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CODE_NOT_EFFECTIVE),
    ROW("§10 APCM excludes TCM by the same practitioner", r_apcm_tcm, "EXCLUDED_SERVICE(99495)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 APCM excludes e-visits by the same practitioner", r_apcm_evisit, "EXCLUDED_SERVICE(99421)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 APCM by another practitioner -> OTHER_PRACTITIONER_BILLED", r_apcm_other_apcm, "OTHER_PRACTITIONER_BILLED", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_OTHER_PRACTITIONER),
    ROW("§10 APCM with CCM by another practitioner: allowed by default", r_apcm_other_ccm, "", "G0557x1", NULL, 5000, -1, -1, -1, NULL, -1, CCM_EV_ALLOWED_WITH),
    ROW("§10 APCM with CCM by any practitioner: configurable", r_apcm_other_ccm_any, "EXCLUDED_SERVICE(99490)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§3 APCM needs its own consent (CCM consent) -> NO_CONSENT", r_apcm_ccm_consent, "NO_CONSENT", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CONSENT_OTHER_PROGRAM),
    /* gates */
    ROW("G0 not Part B FFS -> NOT_PART_B_FFS", r_payer, "NOT_PART_B_FFS", NULL, NULL, -1, 45, 0, 45, NULL, -1, CCM_EV_PAYER_FAIL),
    ROW("G1 one condition -> NOT_ELIGIBLE_CONDITIONS", r_one_cond, "NOT_ELIGIBLE_CONDITIONS", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_NOT_ELIGIBLE),
    ROW("G1 condition expected < 12 months does not count for CCM", r_short_cond, "NOT_ELIGIBLE_CONDITIONS", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_NOT_ELIGIBLE),
    ROW("G1 condition without attested risk does not count", r_low_risk, "NOT_ELIGIBLE_CONDITIONS", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_NOT_ELIGIBLE),
    ROW("G1 PCM condition must last >= 3 months", r_pcm_short, "NOT_ELIGIBLE_CONDITIONS", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_NOT_ELIGIBLE),
    ROW("G2 no consent -> NO_CONSENT (no minutes count)", r_no_consent, "NO_CONSENT", NULL, NULL, -1, 0, 0, 0, NULL, -1, CCM_EV_CONSENT_MISSING),
    ROW("P-3 consent for another billing NPI -> NO_CONSENT", r_consent_npi, "NO_CONSENT", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CONSENT_OTHER_NPI),
    ROW("§3 consent for another program -> NO_CONSENT", r_consent_prog, "NO_CONSENT", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CONSENT_OTHER_PROGRAM),
    ROW("P-1 consent after month end -> NO_CONSENT", r_consent_late, "NO_CONSENT", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CONSENT_AFTER_MONTH),
    ROW("P-1 consent in last minute: earlier minutes lost -> BELOW_THRESHOLD", r_consent_last_sec, "BELOW_THRESHOLD", NULL, NULL, -1, 0, 0, 0, NULL, -1, CCM_EV_BEFORE_CONSENT),
    ROW("P-1 minutes before consent do not count (entry split at consent)", r_consent_mid, "BELOW_THRESHOLD", NULL, NULL, -1, 10, 0, 10, NULL, -1, CCM_EV_BEFORE_CONSENT),
    ROW("P-2 revoked in an earlier month -> CONSENT_REVOKED", r_revoked_before, "CONSENT_REVOKED", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CONSENT_REVOKED_EARLIER),
    ROW("P-2 revoked one second before the month (local) -> CONSENT_REVOKED", r_revoked_before_boundary, "CONSENT_REVOKED", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CONSENT_REVOKED_EARLIER),
    ROW("P-2 revoked at the month's first instant: month billable", r_revoked_at_boundary, "", "99490x1 99439x1", NULL, 10642, 45, 0, 45, NULL, 0, CCM_EV_CONSENT_REVOKED_THIS_MONTH),
    ROW("P-2 revoked this month: billable, later minutes count (default)", r_revoked_in, "", "99490x1", "2025-03-20", 6049, 25, 0, 25, NULL, 0, CCM_EV_CONSENT_REVOKED_THIS_MONTH),
    ROW("P-2 second half configurable: later minutes do not count", r_revoked_in_cfg, "BELOW_THRESHOLD", NULL, NULL, -1, 10, 0, 10, NULL, -1, CCM_EV_AFTER_REVOCATION),
    ROW("G3 not seen within 12 months, no visit since -> INITIATING_VISIT_MISSING", r_no_recent_visit, "INITIATING_VISIT_MISSING", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_VISIT_MISSING),
    ROW("P-4 visit exactly 12 calendar months before start: no visit needed", r_visit_12m_edge, "", "99490x1 99439x1", NULL, 10642, 45, 0, 45, NULL, 0, CCM_EV_VISIT_NOT_REQUIRED),
    ROW("P-4 visit 12 months and a day before start: visit needed", r_visit_12m_out, "INITIATING_VISIT_MISSING", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_VISIT_MISSING),
    ROW("§4 a visit by another practitioner does not count", r_visit_other_npi, "INITIATING_VISIT_MISSING", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_VISIT_MISSING),
    ROW("§4 a 99211 nurse visit does not qualify", r_visit_99211, "INITIATING_VISIT_MISSING", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_VISIT_MISSING),
    ROW("P-5 initiating visit this month: minutes before its day do not count", r_init_visit_in_month, "", "99490x1", "2025-03-16", 6049, 25, 0, 25, NULL, 0, CCM_EV_BEFORE_VISIT),
    ROW("§4-TELEHEALTH telehealth initiating visit refused by default", r_telehealth, "INITIATING_VISIT_MISSING", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_VISIT_TELEHEALTH),
    ROW("§4-TELEHEALTH telehealth initiating visit accepted when configured", r_telehealth_ok, "", "99490x1 99439x1", NULL, 10642, 45, 0, 45, NULL, 0, CCM_EV_VISIT_DONE),
    ROW("G4/P-6 care plan DRAFT -> CARE_PLAN_MISSING", r_draft, "CARE_PLAN_MISSING", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CARE_PLAN_DRAFT),
    ROW("G4/P-6 no copy given -> CARE_PLAN_MISSING", r_no_copy, "CARE_PLAN_MISSING", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CARE_PLAN_NO_COPY),
    ROW("G4/P-6 established after month end -> CARE_PLAN_MISSING", r_plan_late, "CARE_PLAN_MISSING", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_CARE_PLAN_LATE),
    /* G5 / §10 */
    ROW("§10 G0181 home health CPO -> EXCLUDED_SERVICE(G0181)", r_g0181, "EXCLUDED_SERVICE(G0181)", NULL, NULL, -1, 45, 0, 45, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 G0182 hospice CPO -> EXCLUDED_SERVICE(G0182)", r_g0182, "EXCLUDED_SERVICE(G0182)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 ESRD 90960 -> EXCLUDED_SERVICE(90960)", r_esrd, "EXCLUDED_SERVICE(90960)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 ESRD 90951 excludes PCM too", r_esrd_pcm, "EXCLUDED_SERVICE(90951)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 CPO/ESRD exclusion configurable (off)", r_g0181_off, "", "99490x1 99439x1", NULL, 10642, -1, -1, -1, NULL, 0, CCM_EV_ALLOWED_WITH),
    ROW("§10 exclusion keyed by month: G0181 in February allowed", r_g0181_feb, "", "99490x1 99439x1", NULL, 10642, -1, -1, -1, NULL, 0, CCM_EV_EXCLUSIONS_OK),
    ROW("§10 CCM by another practitioner -> OTHER_PRACTITIONER_BILLED", r_other_ccm, "OTHER_PRACTITIONER_BILLED", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_OTHER_PRACTITIONER),
    ROW("§10 99491 already billed by the same practitioner -> EXCLUDED_SERVICE(99491)", r_same_ccm, "EXCLUDED_SERVICE(99491)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 PCM by the same practitioner -> EXCLUDED_SERVICE(99424)", r_pcm_same, "EXCLUDED_SERVICE(99424)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 PCM by a different practitioner: allowed by default", r_pcm_other, "", "99490x1 99439x1", NULL, 10642, -1, -1, -1, NULL, 0, CCM_EV_ALLOWED_WITH),
    ROW("§10 PCM by a different practitioner: configurable", r_pcm_other_cfg, "EXCLUDED_SERVICE(99426)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 PCM program with CCM by the same practitioner -> EXCLUDED_SERVICE(99490)", r_ccm_for_pcm, "EXCLUDED_SERVICE(99490)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 PCM by another practitioner for a PCM month -> OTHER_PRACTITIONER_BILLED", r_pcm_other_pcm, "OTHER_PRACTITIONER_BILLED", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_OTHER_PRACTITIONER),
    ROW("§10 APCM by the same practitioner -> EXCLUDED_SERVICE(G0557)", r_apcm_same, "EXCLUDED_SERVICE(G0557)", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_EXCLUDED),
    ROW("§10 APCM by another practitioner: CCM allowed by default", r_apcm_otherp, "", "99490x1 99439x1", NULL, 10642, -1, -1, -1, NULL, 0, CCM_EV_ALLOWED_WITH),
    ROW("§10 TCM/RPM/BHI allowed; their minutes are not CCM minutes (P-11)", r_tcm_rpm_bhi, "", "99490x1 99439x1", NULL, 10642, 45, 0, 45, NULL, 0, CCM_EV_OTHER_SERVICE),
    ROW("G6 inpatient the whole month (overlapping stays) -> INPATIENT_WHOLE_MONTH", r_inpatient_all, "INPATIENT_WHOLE_MONTH", NULL, NULL, -1, 0, 0, 0, NULL, -1, CCM_EV_INPATIENT_WHOLE_MONTH),
    ROW("P-11 inpatient minutes do not count", r_inpatient_part, "", "99490x1", "2025-03-10", 6049, 30, 0, 30, NULL, 0, CCM_EV_INPATIENT_TIME),
    ROW("G6 out of hospital for one hour: not the whole month; that hour counts", r_inpatient_gap, "", "99490x1 99439x2", "2025-03-31", -1, 60, 0, 60, NULL, 0, CCM_EV_NOT_INPATIENT_WHOLE_MONTH),
    /* time accounting */
    ROW("P-7 duplicate event id counted once", r_dup, "", "99490x1", "2025-03-10", 6049, 20, 0, 20, NULL, 0, CCM_EV_DUPLICATE),
    ROW("P-7 duplicate id across months: first delivery wins", r_dup_other_month, "BELOW_THRESHOLD", NULL, NULL, -1, 0, 0, 0, NULL, -1, CCM_EV_DUPLICATE),
    ROW("P-9 practitioner/staff overlap counts once, as practitioner", r_overlap_prac_staff, "", "99490x1 99439x1", NULL, 10642, 45, 30, 15, NULL, 0, CCM_EV_OVERLAP),
    ROW("P-9 two staff overlapping count once (union)", r_overlap_staff, "", "99490x1", NULL, 6049, 30, 0, 30, NULL, 0, CCM_EV_OVERLAP),
    ROW("P-9 nested intervals: union is the outer one", r_overlap_contained, "", "99490x1 99439x2", NULL, 15235, 60, 10, 50, NULL, 0, CCM_EV_OVERLAP),
    ROW("P-11 non-clinical staff time does not count", r_nonclinical, "BELOW_THRESHOLD", NULL, NULL, -1, 10, 0, 10, NULL, -1, CCM_EV_NON_CLINICAL),
    ROW("P-11 time furnished outside the US does not count", r_outside_us, "BELOW_THRESHOLD", NULL, NULL, -1, 10, 0, 10, NULL, -1, CCM_EV_OUTSIDE_US),
    ROW("P-11 time tagged to another service does not count", r_other_tag, "BELOW_THRESHOLD", NULL, NULL, -1, 10, 0, 10, NULL, -1, CCM_EV_OTHER_SERVICE),
    ROW("P-11 minutes after death do not count", r_death, "BELOW_THRESHOLD", NULL, NULL, -1, 10, 0, 10, NULL, -1, CCM_EV_AFTER_DEATH),
    ROW("§13 entries of other months are ignored", r_history, "", "99490x1", NULL, 6049, 21, 0, 21, NULL, 0, CCM_EV_COUNT),
    ROW("P-8 entry across the month end is split at local midnight", r_month_end_split, "", "99490x1 99439x1", "2025-03-31", 10642, 40, 0, 40, NULL, 0, CCM_EV_SPLIT_MONTH),
    ROW("P-8 entry across the month start is split at local midnight", r_month_start_split, "", "99490x1", "2025-03-20", 6049, 20, 0, 20, NULL, 0, CCM_EV_SPLIT_MONTH),
    ROW("P-8 DST start: elapsed minutes, not wall clock", r_dst_start, "", "99490x1", "2025-03-09", 6049, 20, 0, 20, NULL, 0, CCM_EV_COUNT),
    ROW("P-8 DST end: the repeated hour is two distinct intervals", r_dst_end, "", "99490x1 99439x1", "2025-11-02", 10642, 40, 0, 40, NULL, 0, CCM_EV_COUNT),
    ROW("P-8 month boundary in daylight time (Sydney +11)", r_dst_month_sydney, "BELOW_THRESHOLD", NULL, NULL, -1, 10, 0, 10, NULL, -1, CCM_EV_COUNT),
    ROW("P-13 DOS of B is the day practitioner time reached 30", r_dos_prac, "", "99491x1", "2025-03-25", 8216, 35, 30, 5, NULL, 0, CCM_EV_DOS),
    ROW("P-13 threshold reached at local midnight: DOS is the day worked", r_dos_midnight, "", "99490x1", "2025-03-14", 6049, 20, 0, 20, NULL, 0, CCM_EV_DOS),
    /* RHC / FQHC */
    ROW("§9-RHC before 2025: G0511", r_rhc_2024, "", "G0511x1", "2024-12-10", 7290, 45, 0, 45, NULL, 0, CCM_EV_RHC_G0511),
    ROW("§9-RHC 2025 H1 default: individual codes", r_rhc_2025_03, "", "99490x1 99439x1", NULL, 10642, 45, 0, 45, NULL, 0, CCM_EV_COUNT),
    ROW("§9-RHC FQHC G0511 allowed through 2025-06-30 when configured", r_rhc_2025_06_cfg, "", "G0511x1", "2025-06-30", 7290, 45, 0, 45, NULL, 1, CCM_EV_RHC_G0511),
    ROW("§9-RHC from 2025-07-01 individual codes only", r_rhc_2025_07_cfg, "", "99490x1 99439x1", "2025-07-01", 10642, 45, 0, 45, NULL, 0, CCM_EV_RHC_G0511_CLOSED),
    /* G0506 */
    ROW("§4-G0506 twice: first allowed, second ALREADY_BILLED", r_g0506_twice, "", "99490x1 99439x1 G0506x1", NULL, 10642, -1, -1, -1, "A,ALREADY_BILLED", 1, CCM_EV_G0506_LINE),
    ROW("§4-G0506 on a nurse visit / other practitioner's visit refused", r_g0506_bad, "", NULL, NULL, -1, -1, -1, -1, "NOT_INITIATING_VISIT,OTHER_PRACTITIONER", -1, CCM_EV_COUNT),
    ROW("§4-G0506 billed in an earlier month -> ALREADY_BILLED", r_g0506_prior, "", NULL, NULL, -1, -1, -1, -1, "ALREADY_BILLED", -1, CCM_EV_COUNT),
    ROW("§4-G0506 is per practitioner: another's earlier G0506 does not count", r_g0506_other_npi_history, "", NULL, NULL, -1, -1, -1, -1, "A", -1, CCM_EV_COUNT),
    ROW("§4-G0506 line: G0506x1 dated the visit day, claim DOS stays the threshold day", r_g0506_line, "", "99490x1 99439x1 G0506x1", "2025-03-10", 10642, 45, 0, 45, "A", 1, CCM_EV_G0506_LINE),
    ROW("§4-G0506 line: its amount is part of the claim", r_g0506_fee, "", "99490x1 99439x1 G0506x1", "2025-03-10", 15642, 45, 0, 45, "A", 0, CCM_EV_FEE),
    ROW("§4-G0506 line: below threshold the claim is the G0506 alone (DOS = visit day)", r_g0506_only, "", "G0506x1", "2025-03-03", 0, 10, 0, 10, "A", 1, CCM_EV_NO_CANDIDATE),
    ROW("§4-G0506 not with PCM", r_g0506_pcm, "", "99426x1", NULL, 6333, -1, -1, -1, "NO_CONSENT", -1, CCM_EV_COUNT),
    ROW("§4-G0506 not with APCM", r_g0506_apcm, "", "G0557x1", NULL, 5000, -1, -1, -1, "NO_CONSENT", -1, CCM_EV_COUNT),
    ROW("§4-G0506 only on the CCM initiating visit, not a later visit of the month", r_g0506_later_visit, "", "99490x1 99439x1", NULL, 10642, -1, -1, -1, "NOT_INITIATING_VISIT", 0, CCM_EV_COUNT),
    ROW("§4-G0506 the initiating visit is on or after the consent's day", r_g0506_before_consent_day, "", "99490x1 99439x1", NULL, 10642, -1, -1, -1, "NOT_INITIATING_VISIT", 0, CCM_EV_COUNT),
    ROW("§4-G0506 a telehealth visit does not initiate by default", r_g0506_telehealth, "", "99490x1 99439x1", NULL, 10642, -1, -1, -1, "NOT_INITIATING_VISIT", 0, CCM_EV_COUNT),
    ROW("§4-G0506 no line when a gate fails", r_g0506_gate, "CARE_PLAN_MISSING", NULL, NULL, -1, -1, -1, -1, "A", -1, CCM_EV_COUNT),
    /* APCM tiers */
    ROW("§2-APCM a short condition does not count toward G0557/G0558", r_apcm_short, "", "G0556x1", NULL, 1500, -1, -1, -1, NULL, -1, CCM_EV_APCM_TIER),
    ROW("§2-APCM low-risk conditions do not count toward G0557/G0558", r_apcm_low_risk, "", "G0556x1", NULL, 1500, -1, -1, -1, NULL, -1, CCM_EV_APCM_TIER),
    ROW("§2-APCM 999 months (until death) counts", r_apcm_until_death, "", "G0558x1", NULL, 11000, -1, -1, -1, NULL, -1, CCM_EV_APCM_TIER),
    /* death with the date only */
    ROW("P-11 died on a date, entry on that day -> DEATH_DAY_REVIEW", r_death_day, "DEATH_DAY_REVIEW", NULL, NULL, -1, 30, 0, 30, NULL, -1, CCM_EV_DEATH_DAY),
    ROW("P-11 died on a date, entry reaching into that day -> DEATH_DAY_REVIEW", r_death_day_crossing, "DEATH_DAY_REVIEW", NULL, NULL, -1, 40, 0, 40, NULL, -1, CCM_EV_DEATH_DAY),
    ROW("P-11 died on a date, nothing countable on that day -> claim", r_death_day_clear, "", "99490x1 99439x1", "2025-03-10", 10642, 45, 0, 45, NULL, 0, CCM_EV_AFTER_DEATH),
    ROW("P-11 died on a date, APCM element on that day -> DEATH_DAY_REVIEW", r_death_day_apcm, "DEATH_DAY_REVIEW", NULL, NULL, -1, -1, -1, -1, NULL, -1, CCM_EV_DEATH_DAY),
    ROW("P-11 exact instant of death: seconds before it count, no review", r_death_exact, "", "99490x1 99439x2", "2025-03-10", 15235, 60, 0, 60, NULL, 0, CCM_EV_AFTER_DEATH),
    /* consent ended by a change of practitioner */
    ROW("P-3 consent ended this month: later time never counts", r_ended_in, "BELOW_THRESHOLD", NULL, NULL, -1, 10, 0, 10, NULL, -1, CCM_EV_AFTER_CONSENT_END),
    ROW("P-3 consent ended in an earlier month -> NO_CONSENT", r_ended_before, "NO_CONSENT", NULL, NULL, -1, 0, 0, 0, NULL, -1, CCM_EV_CONSENT_ENDED),
    ROW("P-3 consent ended at the month's first instant -> NO_CONSENT", r_ended_at_start, "NO_CONSENT", NULL, NULL, -1, 0, 0, 0, NULL, -1, CCM_EV_CONSENT_ENDED),
    /* timely filing */
    ROW("§9-FILING DOS before filing day minus 12 months -> TIMELY_FILING", r_filing_late, "TIMELY_FILING", NULL, NULL, 0, 45, 0, 45, NULL, -1, CCM_EV_TIMELY_FILING),
    ROW("§9-FILING DOS exactly 12 months before the filing day is in time", r_filing_edge, "", "99490x1 99439x1", "2025-03-10", 10642, 45, 0, 45, NULL, 0, CCM_EV_COUNT),
    ROW("§9-FILING timely_filing_months 0 turns the check off", r_filing_off, "", "99490x1 99439x1", "2025-03-10", 10642, 45, 0, 45, NULL, 0, CCM_EV_COUNT),
    ROW("§9-FILING limit configurable (6 months)", r_filing_months, "TIMELY_FILING", NULL, NULL, 0, 45, 0, 45, NULL, -1, CCM_EV_TIMELY_FILING),
    ROW("§9-FILING a late G0506 line is dropped, the rest is billed", r_filing_g0506, "", "99490x1 99439x1", "2025-03-10", 10642, 45, 0, 45, "A", 0, CCM_EV_TIMELY_FILING),
};

static void s_day_text(int32_t day, char *buf, size_t len)
{
    int32_t y, m, d;
    ccm_tz_civil_from_days(day, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

static void s_eval(tc_t *t, ccm_decision_t *d)
{
    static _Alignas(16) unsigned char buf[4096];
    ccm_rules_scratch_t scratch = {buf, sizeof buf};
    assert_true(ccm_rules_scratch_size(&t->c) <= sizeof buf);
    assert_int_equal(ccm_rules_evaluate(&t->cfg, t->fees ? t->fees : &s_fees, t->tz, &t->c, &scratch, d, NULL), 0);
}

static void run_row(void **state)
{
    const row_t *r = *state;
    tc_t *t = malloc(sizeof *t);
    ccm_decision_t *d = malloc(sizeof *d);
    assert_non_null(t);
    assert_non_null(d);
    base(t);
    r->setup(t);
    s_eval(t, d);

    char got[256] = "";
    if (d->reason == CCM_REASON_EXCLUDED_SERVICE)
        snprintf(got, sizeof got, "EXCLUDED_SERVICE(%s)", ccm_rules_code_name(d->reason_code));
    else if (d->reason != CCM_REASON_NONE)
        snprintf(got, sizeof got, "%s", ccm_rules_reason_name(d->reason));
    assert_string_equal(got, r->reason);
    assert_int_equal(d->claim, r->reason[0] == '\0');
    if (r->lines) {
        got[0] = '\0';
        for (int i = 0; i < d->n_lines; i++) {
            size_t n = strlen(got);
            snprintf(got + n, sizeof got - n, "%s%sx%d", i ? " " : "", ccm_rules_code_name(d->lines[i].code),
                     d->lines[i].units);
        }
        assert_string_equal(got, r->lines);
    }
    if (r->dos) {
        s_day_text(d->dos, got, sizeof got);
        assert_string_equal(got, r->dos);
    }
    /* every line carries its DOS: the claim's, or the G0506's visit day */
    for (int i = 0; i < d->n_lines; i++) {
        if (d->lines[i].code != CCM_CODE_G0506) {
            assert_int_equal(d->lines[i].dos, d->dos);
            continue;
        }
        bool found = false;
        for (int k = 0; k < d->n_g0506; k++)
            found |= d->g0506[k].allowed && d->g0506[k].day == d->lines[i].dos;
        assert_true(found);
    }
    if (!d->claim)
        assert_int_equal(d->n_lines, 0);
    if (r->amount >= 0)
        assert_int_equal(d->amount_cents, r->amount);
    if (r->total >= 0)
        assert_int_equal(d->total_minutes, r->total);
    if (r->prac >= 0)
        assert_int_equal(d->practitioner_minutes, r->prac);
    if (r->staff_min >= 0)
        assert_int_equal(d->staff_minutes, r->staff_min);
    if (r->stale >= 0)
        assert_int_equal(d->fee_stale, r->stale);
    if (r->g0506) {
        got[0] = '\0';
        for (int i = 0; i < d->n_g0506; i++) {
            size_t n = strlen(got);
            snprintf(got + n, sizeof got - n, "%s%s", i ? "," : "",
                     d->g0506[i].allowed ? "A" : ccm_rules_g0506_reason_name(d->g0506[i].reason));
        }
        assert_string_equal(got, r->g0506);
    }
    if (r->must_have != CCM_EV_COUNT) {
        bool found = false;
        for (int i = 0; i < d->n_evidence; i++)
            found |= d->evidence[i].kind == r->must_have;
        if (!found)
            fail_msg("evidence kind %d (%s) missing", (int)r->must_have, ccm_rules_evidence_rule(r->must_have));
    }
    /* every decision explains itself: each evidence item names a rule and renders */
    for (int i = 0; i < d->n_evidence; i++) {
        char text[256];
        assert_string_not_equal(ccm_rules_evidence_rule(d->evidence[i].kind), "?");
        assert_true(ccm_rules_evidence_format(&d->evidence[i], text, sizeof text) > 0);
    }
    free(d);
    free(t);
}

/* ---- non-table tests --------------------------------------------------------- */

/* P-7: an entry with end <= start is rejected, naming the entry. */
static void t_p7_rejects_bad_entries(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    ccm_decision_t *d = malloc(sizeof *d);
    _Alignas(16) unsigned char buf[4096];
    ccm_rules_scratch_t scratch = {buf, sizeof buf};
    int32_t bad;
    base(t);
    staff(t, "2025-03-10T10:00:00-04:00", 600);
    staff(t, "2025-03-11T10:00:00-04:00", 0);
    assert_int_equal(ccm_rules_evaluate(&t->cfg, &s_fees, &s_ny, &t->c, &scratch, d, &bad), CCM_EINVAL);
    assert_int_equal(bad, 1);
    t->time[1].seconds = -5;
    assert_int_equal(ccm_rules_evaluate(&t->cfg, &s_fees, &s_ny, &t->c, &scratch, d, &bad), CCM_EINVAL);
    assert_int_equal(bad, 1);
    /* zero seconds is fine for an APCM element */
    t->time[1].service = CCM_SERVICE_APCM;
    t->time[1].seconds = 0;
    assert_int_equal(ccm_rules_evaluate(&t->cfg, &s_fees, &s_ny, &t->c, &scratch, d, &bad), 0);
    /* §1: the billing practitioner must be a practitioner */
    t->c.billing_role = CCM_ROLE_CLINICAL_STAFF;
    assert_int_equal(ccm_rules_evaluate(&t->cfg, &s_fees, &s_ny, &t->c, &scratch, d, &bad), CCM_EINVAL);
    /* scratch too small is reported, not overrun */
    t->c.billing_role = CCM_ROLE_PHYSICIAN;
    scratch.size = 8;
    assert_int_equal(ccm_rules_evaluate(&t->cfg, &s_fees, &s_ny, &t->c, &scratch, d, &bad), CCM_ETOOBIG);
    free(d);
    free(t);
}

/* P-9 with many entries: the heap-sort path agrees with the arithmetic. */
static void t_p9_many_entries(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    ccm_decision_t *d = malloc(sizeof *d);
    ccm_time_entry_t *e = calloc(400, sizeof *e);
    base(t);
    /* 200 disjoint 60 s staff entries, each duplicated with a different id and
     * shifted by 30 s: union per pair = 90 s; 200 * 90 = 18000 s = 300 min */
    int64_t t0 = I("2025-03-10T08:00:00-04:00");
    for (int i = 0; i < 200; i++) {
        e[2 * i] = (ccm_time_entry_t){NULL, 0, CCM_ROLE_CLINICAL_STAFF, true, CCM_SERVICE_CCM, t0 + i * 600, 60};
        e[2 * i + 1] = (ccm_time_entry_t){NULL, 0, CCM_ROLE_CLINICAL_STAFF, true, CCM_SERVICE_CCM, t0 + i * 600 + 30, 60};
    }
    /* reverse order to exercise the sort */
    for (int i = 0; i < 200; i++) {
        ccm_time_entry_t x = e[i];
        e[i] = e[399 - i];
        e[399 - i] = x;
    }
    t->c.time = e;
    t->c.n_time = 400;
    size_t need = ccm_rules_scratch_size(&t->c);
    void *buf = malloc(need);
    ccm_rules_scratch_t scratch = {buf, need};
    assert_int_equal(ccm_rules_evaluate(&t->cfg, &s_fees, &s_ny, &t->c, &scratch, d, NULL), 0);
    assert_int_equal(d->staff_seconds, 18000);
    assert_int_equal(d->total_minutes, 300);
    free(buf);
    free(e);
    free(d);
    free(t);
}

/* P-14 and the fee-file parser. */
static void t_fees(void **state)
{
    (void)state;
    ccm_fees_t *f = malloc(sizeof *f);
    char err[200];
    ccm_fees_init(f);
    const char *csv = "code,amount_cents,source\n# c\n99490,6049,S17\n\n99439, 4593 ,S17\n";
    assert_int_equal(ccm_fees_parse_csv(f, 2025, csv, strlen(csv), err, sizeof err), 0);
    ccm_fee_t x = ccm_fees_lookup(f, CCM_CODE_99490, 2025);
    assert_int_equal(x.cents, 6049);
    assert_false(x.stale);
    assert_string_equal(x.source, "S17");
    x = ccm_fees_lookup(f, CCM_CODE_99490, 2027);
    assert_int_equal(x.cents, 6049);
    assert_int_equal(x.year, 2025);
    assert_true(x.stale);
    x = ccm_fees_lookup(f, CCM_CODE_99490, 2020); /* only later years known */
    assert_int_equal(x.year, 2025);
    assert_true(x.stale);
    assert_int_equal(ccm_fees_lookup(f, CCM_CODE_99491, 2025).cents, -1);
    const char *bad1 = "99999,100,x\n";
    assert_int_equal(ccm_fees_parse_csv(f, 2025, bad1, strlen(bad1), err, sizeof err), CCM_EINVAL);
    assert_non_null(strstr(err, "unknown code"));
    const char *bad2 = "99491,12.50,x\n";
    assert_int_equal(ccm_fees_parse_csv(f, 2025, bad2, strlen(bad2), err, sizeof err), CCM_EINVAL);
    const char *bad3 = "99490,1,x\n";
    assert_int_equal(ccm_fees_parse_csv(f, 2025, bad3, strlen(bad3), err, sizeof err), CCM_EINVAL);
    assert_non_null(strstr(err, "duplicate"));
    /* the shipped tables carry every §7 code with a known amount (§13) */
    const ccm_code_t need[] = {CCM_CODE_99490, CCM_CODE_99439, CCM_CODE_99491, CCM_CODE_99437,
                               CCM_CODE_99487, CCM_CODE_99489, CCM_CODE_99424, CCM_CODE_99425,
                               CCM_CODE_99426, CCM_CODE_99427, CCM_CODE_G0556, CCM_CODE_G0557,
                               CCM_CODE_G0558};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        assert_true(ccm_fees_lookup(&s_fees, need[i], 2026).cents > 0);
    assert_int_equal(ccm_fees_lookup(&s_fees, CCM_CODE_99426, 2025).cents, 6333);
    assert_int_equal(ccm_fees_lookup(&s_fees, CCM_CODE_99426, 2025).year, 2022);
    free(f);
}

/* §7: catalogue and effective dates. */
static void t_catalogue(void **state)
{
    (void)state;
    assert_int_equal(ccm_rules_code_parse("99490"), CCM_CODE_99490);
    assert_int_equal(ccm_rules_code_parse("99999"), CCM_CODE_NONE);
    assert_string_equal(ccm_rules_code_name(CCM_CODE_G0506), "G0506");
    assert_false(ccm_rules_code_effective(CCM_CODE_99439, D("2020-12-31")));
    assert_true(ccm_rules_code_effective(CCM_CODE_99439, D("2021-01-01")));
    assert_true(ccm_rules_code_effective(CCM_CODE_G0511, D("2025-06-30")));
    assert_false(ccm_rules_code_effective(CCM_CODE_G0511, D("2025-07-01")));
    assert_false(ccm_rules_code_effective(CCM_CODE_G0556, D("2024-12-31")));
    uint64_t npi;
    assert_int_equal(ccm_rules_npi_parse("1234567893", &npi), 0);
    assert_int_equal(npi, NPI);
    assert_int_equal(ccm_rules_npi_parse("123456789", &npi), CCM_EINVAL);
    assert_int_equal(ccm_rules_npi_parse("12345678a3", &npi), CCM_EINVAL);
    ccm_care_plan_t cp = CCM_CARE_PLAN_ESTABLISHED;
    assert_int_equal(ccm_rules_care_plan_parse("NONE", &cp), 0);
    assert_int_equal(cp, CCM_CARE_PLAN_NONE);
    assert_int_equal(ccm_rules_care_plan_parse("DRAFT", &cp), 0);
    assert_int_equal(cp, CCM_CARE_PLAN_DRAFT);
    assert_int_equal(ccm_rules_care_plan_parse("none", &cp), CCM_EINVAL);
    ccm_payer_t payer;
    assert_int_equal(ccm_rules_payer_parse(ccm_rules_payer_name(CCM_PAYER_MEDICAID), &payer), 0);
    assert_int_equal(payer, CCM_PAYER_MEDICAID);
    assert_string_equal(ccm_rules_payer_name(CCM_PAYER_MEDICARE_B), "MEDICARE_B");
}

/* Purity: the same input gives the same decision, and the input is untouched. */
static void t_pure(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    ccm_decision_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    base(t);
    r_tcm_rpm_bhi(t);
    tc_t *copy = malloc(sizeof *copy);
    memcpy(copy, t, sizeof *t);
    memset(a, 0xAB, sizeof *a);
    memset(b, 0x00, sizeof *b);
    s_eval(t, a);
    s_eval(t, b);
    assert_int_equal(a->amount_cents, b->amount_cents);
    assert_int_equal(a->n_evidence, b->n_evidence);
    for (int i = 0; i < a->n_evidence; i++) {
        assert_int_equal(a->evidence[i].kind, b->evidence[i].kind);
        assert_int_equal(a->evidence[i].index, b->evidence[i].index);
        assert_int_equal(a->evidence[i].code, b->evidence[i].code);
        assert_int_equal(a->evidence[i].a, b->evidence[i].a);
        assert_int_equal(a->evidence[i].b, b->evidence[i].b);
    }
    assert_memory_equal(t->time, copy->time, sizeof t->time);
    free(copy);
    free(a);
    free(b);
    free(t);
}

static int s_setup(void **state)
{
    (void)state;
    char err[512];
    if (ccm_tz_load(&s_ny, "America/New_York") != 0 || ccm_tz_load(&s_syd, "Australia/Sydney") != 0) {
        fprintf(stderr, "cannot load tzdata\n");
        return -1;
    }
    if (ccm_fees_load_dir(&s_fees, CCM_FEES_DIR_DEFAULT, err, sizeof err) != 0) {
        fprintf(stderr, "fees: %s\n", err);
        return -1;
    }
    return 0;
}

/* §2 / G1: program eligibility from conditions, as enrollment publishes it. */
static void t_g1_eligibility(void **state)
{
    (void)state;
    const ccm_condition_t none[] = {{true, 24, false}, {true, 2, true}, {false, 24, true}};
    ccm_eligibility_t e = ccm_rules_eligibility(none, 3);
    assert_int_equal(e.program, CCM_ELIGIBLE_NONE); /* no risk / too short / not chronic */
    assert_int_equal(e.chronic, 2);
    const ccm_condition_t pcm[] = {{true, 3, true}, {true, 11, true}};
    e = ccm_rules_eligibility(pcm, 2);
    assert_int_equal(e.program, CCM_ELIGIBLE_PCM); /* both >= 3 months, none >= 12 */
    assert_int_equal(e.pcm_conditions, 2);
    assert_int_equal(e.ccm_conditions, 0);
    const ccm_condition_t ccm[] = {{true, 12, true}, {true, 999, true}, {true, 1, true}};
    e = ccm_rules_eligibility(ccm, 3);
    assert_int_equal(e.program, CCM_ELIGIBLE_CCM);
    assert_int_equal(e.ccm_conditions, 2);
    e = ccm_rules_eligibility(ccm, 1);
    assert_int_equal(e.program, CCM_ELIGIBLE_PCM);
    assert_int_equal(ccm_rules_eligibility(NULL, 0).program, CCM_ELIGIBLE_NONE);
}

/* ---- month facts (ccm_rules_month) -------------------------------------------- */

typedef struct {
    ccm_facts_t f;
    ccm_practitioner_period_t prac[4];
    ccm_payer_period_t payer[4];
    ccm_condition_facts_t cond[4];
    ccm_attestation_t att[4][3];
    ccm_consent_t consent[10];
    ccm_care_plan_facts_t plan[3];
    int32_t complex[2];
} fc_t;

/* The facts equivalent to test case t: its consent (if any), its payer since
 * before any month, each condition attested since before any month, its
 * billing practitioner since before any month, its program's care plan. */
static void facts_of(const tc_t *t, fc_t *x)
{
    const ccm_case_t *c = &t->c;
    ccm_facts_t *f = &x->f;
    memset(x, 0, sizeof *x);
    f->month = c->month;
    f->clinic = c->clinic;
    x->payer[0] = (ccm_payer_period_t){CCM_INSTANT_NONE, c->payer, c->qmb};
    f->payers = x->payer;
    f->n_payers = 1;
    static const char *const codes[] = {"I10", "E11.9", "I50.9", "N18.3"};
    for (size_t i = 0; i < c->n_conditions; i++) {
        x->att[i][0] = (ccm_attestation_t){CCM_INSTANT_NONE, c->conditions[i]};
        x->cond[i] = (ccm_condition_facts_t){codes[i % 4], CCM_INSTANT_NONE, x->att[i], 1};
    }
    f->conditions = x->cond;
    f->n_conditions = c->n_conditions;
    x->prac[0] = (ccm_practitioner_period_t){CCM_INSTANT_NONE, c->billing_npi, c->billing_role};
    f->practitioners = x->prac;
    f->n_practitioners = 1;
    if (c->has_consent) {
        x->consent[0] = (ccm_consent_t){"C1",
                                        c->consent_program,
                                        c->consent_npi,
                                        c->billing_role,
                                        c->consent_at,
                                        c->consent_ended ? CCM_INSTANT_NONE : c->revoked_at,
                                        c->consent_ended ? c->revoked_at : CCM_INSTANT_NONE};
        f->consents = x->consent;
        f->n_consents = 1;
    }
    x->plan[0] = (ccm_care_plan_facts_t){c->program, c->care_plan, c->care_plan_established_at,
                                         c->care_plan_copy_given_at};
    f->care_plans = x->plan;
    f->n_care_plans = 1;
    if (c->complex) {
        x->complex[0] = c->month;
        f->complex_months = x->complex;
        f->n_complex_months = 1;
    }
    f->died_at = c->died_at;
    f->died_date_only = c->died_date_only;
    f->visits = c->visits;
    f->n_visits = c->n_visits;
    f->other = c->other;
    f->n_other = c->n_other;
    f->inpatient = c->inpatient;
    f->n_inpatient = c->n_inpatient;
    f->time = c->time;
    f->n_time = c->n_time;
    f->filing_day = c->filing_day;
}

static int s_month(const tc_t *t, const ccm_facts_t *f, ccm_month_decision_t *m)
{
    size_t need = ccm_rules_month_scratch_size(f);
    void *buf = malloc(need);
    assert_non_null(buf);
    ccm_rules_scratch_t scratch = {buf, need};
    int rc = ccm_rules_month(&t->cfg, t->fees ? t->fees : &s_fees, t->tz, f, &scratch, m, NULL);
    free(buf);
    return rc;
}

/* A month judged through ccm_rules_month() equals ccm_rules_evaluate() on the
 * equivalent case, plus the MONTH_CASE evidence at the end. */
static void s_same_decision(const ccm_decision_t *a, const ccm_decision_t *b)
{
    assert_int_equal(a->claim, b->claim);
    assert_int_equal(a->reason, b->reason);
    assert_int_equal(a->reason_code, b->reason_code);
    assert_int_equal(a->program, b->program);
    assert_int_equal(a->letter, b->letter);
    assert_int_equal(a->n_lines, b->n_lines);
    for (int i = 0; i < a->n_lines; i++) {
        assert_int_equal(a->lines[i].code, b->lines[i].code);
        assert_int_equal(a->lines[i].units, b->lines[i].units);
        assert_int_equal(a->lines[i].unit_cents, b->lines[i].unit_cents);
        assert_int_equal(a->lines[i].dos, b->lines[i].dos);
    }
    assert_int_equal(a->dos, b->dos);
    assert_int_equal(a->amount_cents, b->amount_cents);
    assert_int_equal(a->fee_year, b->fee_year);
    assert_int_equal(a->fee_stale, b->fee_stale);
    assert_int_equal(a->practitioner_seconds, b->practitioner_seconds);
    assert_int_equal(a->staff_seconds, b->staff_seconds);
    assert_int_equal(a->total_minutes, b->total_minutes);
    assert_int_equal(a->apcm_elements, b->apcm_elements);
    assert_int_equal(a->month_start, b->month_start);
    assert_int_equal(a->month_end, b->month_end);
    assert_int_equal(a->n_candidates, b->n_candidates);
    for (int i = 0; i < a->n_candidates; i++) {
        assert_int_equal(a->candidates[i].letter, b->candidates[i].letter);
        assert_int_equal(a->candidates[i].amount_cents, b->candidates[i].amount_cents);
    }
    assert_int_equal(a->n_g0506, b->n_g0506);
    for (int i = 0; i < a->n_g0506; i++) {
        assert_int_equal(a->g0506[i].allowed, b->g0506[i].allowed);
        assert_int_equal(a->g0506[i].reason, b->g0506[i].reason);
        assert_int_equal(a->g0506[i].day, b->g0506[i].day);
    }
    int n = a->n_evidence;
    assert_int_equal(b->n_evidence + b->evidence_dropped, n + a->evidence_dropped + 1);
    for (int i = 0; i < n && i < b->n_evidence; i++) {
        assert_int_equal(a->evidence[i].kind, b->evidence[i].kind);
        assert_int_equal(a->evidence[i].index, b->evidence[i].index);
        assert_int_equal(a->evidence[i].code, b->evidence[i].code);
        assert_int_equal(a->evidence[i].a, b->evidence[i].a);
        assert_int_equal(a->evidence[i].b, b->evidence[i].b);
    }
}

static void t_month_equals_evaluate(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    fc_t *x = malloc(sizeof *x);
    ccm_decision_t *d = malloc(sizeof *d);
    ccm_month_decision_t *m = malloc(sizeof *m);
    int compared = 0;
    for (size_t r = 0; r < sizeof s_rows / sizeof s_rows[0]; r++) {
        base(t);
        s_rows[r].r.setup(t);
        s_eval(t, d);
        /* a case the facts express: its consent names its practitioner and
         * program and was given before the month ended, or it has none and its
         * program is the one its conditions qualify for */
        const ccm_case_t *c = &t->c;
        const ccm_eligibility_t el = ccm_rules_eligibility(c->conditions, c->n_conditions);
        const ccm_program_t eligible = el.program == CCM_ELIGIBLE_PCM ? CCM_PROGRAM_PCM : CCM_PROGRAM_CCM;
        if (c->has_consent ? c->consent_npi != c->billing_npi || c->consent_program != c->program ||
                                 c->consent_at >= d->month_end
                           : c->program != eligible)
            continue;
        facts_of(t, x);
        assert_int_equal(s_month(t, &x->f, m), 0);
        s_same_decision(d, &m->d);
        assert_int_equal(m->n_cases, 1);
        assert_int_equal(m->consent, c->has_consent ? 0 : -1);
        assert_int_equal(m->billing_npi, c->billing_npi);
        assert_int_equal(m->payer, c->payer);
        assert_int_equal(m->qmb, c->qmb);
        if (m->d.evidence_dropped == 0) {
            const ccm_evidence_t *e = &m->d.evidence[m->d.n_evidence - 1];
            assert_int_equal(e->kind, CCM_EV_MONTH_CASE);
            assert_int_equal(e->a, m->consent);
            assert_int_equal(e->b, c->program);
        }
        compared++;
    }
    assert_true(compared >= 120); /* the test covers nearly every row, not a few */
    free(m);
    free(d);
    free(x);
    free(t);
}

/* A base month (2025-03, one CCM consent to NPI since 2024-10-02) as facts. */
static void month_base(tc_t *t, fc_t *x)
{
    base(t);
    facts_of(t, x);
    x->plan[1] = (ccm_care_plan_facts_t){CCM_PROGRAM_PCM, CCM_CARE_PLAN_ESTABLISHED,
                                         t->c.care_plan_established_at, t->c.care_plan_copy_given_at};
    x->f.n_care_plans = 2;
}

static ccm_consent_t consent(ccm_program_t p, uint64_t npi, const char *at)
{
    return (ccm_consent_t){"", p, npi, CCM_ROLE_PHYSICIAN, I(at), CCM_INSTANT_NONE, CCM_INSTANT_NONE};
}

/* P-3 / §10: the practitioner changed mid-month. Each consent is judged on the
 * time while it was in force; the claim with the higher amount is the month's. */
static void t_month_practitioner_change(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    fc_t *x = malloc(sizeof *x);
    ccm_month_decision_t *m = malloc(sizeof *m);
    month_base(t, x);
    visit(t, CCM_CODE_99214, "2024-09-01", OTHER_NPI, false); /* seen by the old practitioner */
    x->f.n_visits = t->c.n_visits;
    x->consent[0] = consent(CCM_PROGRAM_CCM, OTHER_NPI, "2024-10-02T10:00:00-04:00");
    x->consent[0].ended_at = I("2025-03-15T12:00:00-04:00");
    x->consent[1] = consent(CCM_PROGRAM_CCM, NPI, "2025-03-15T12:00:00-04:00");
    x->f.n_consents = 2;
    staff(t, "2025-03-05T10:00:00-05:00", 25 * 60); /* under the old consent */
    staff(t, "2025-03-20T10:00:00-04:00", 45 * 60); /* under the new one */
    x->f.n_time = t->c.n_time;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->n_cases, 2);
    assert_int_equal(m->consent, 1);
    assert_int_equal(m->billing_npi, NPI);
    assert_true(m->d.claim);
    assert_int_equal(m->d.amount_cents, 10642); /* 45 min: the old consent's 25 never count here */
    assert_int_equal(m->d.total_minutes, 45);
    const ccm_evidence_t *e = &m->d.evidence[m->d.n_evidence - 1];
    assert_int_equal(e->kind, CCM_EV_MONTH_CASE);
    assert_int_equal(e->a, 1);
    assert_int_equal(e->b, CCM_PROGRAM_CCM);

    /* more time under the old consent: the old practitioner's claim is the month's */
    t->time[0].seconds = 60 * 60;
    t->time[1].seconds = 20 * 60;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->consent, 0);
    assert_int_equal(m->billing_npi, OTHER_NPI);
    assert_int_equal(m->d.amount_cents, 15235);
    bool ended = false;
    for (int i = 0; i < m->d.n_evidence; i++)
        ended |= m->d.evidence[i].kind == CCM_EV_CONSENT_ENDED;
    assert_true(ended);

    /* the next month: only the new consent is in force */
    x->f.month = t->c.month + 1;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->n_cases, 1);
    assert_int_equal(m->consent, 1);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "BELOW_THRESHOLD");
    /* a consent ended at the month's first instant is not in force during it */
    x->consent[0].ended_at = x->consent[1].at = I("2025-04-01T00:00:00-04:00");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->n_cases, 1);
    assert_int_equal(m->consent, 1);
    free(m);
    free(x);
    free(t);
}

/* A consent both revoked and ended in the month: whichever stops time first. */
static void t_month_revoked_and_ended(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    fc_t *x = malloc(sizeof *x);
    ccm_month_decision_t *m = malloc(sizeof *m);
    month_base(t, x);
    x->consent[0].revoked_at = I("2025-03-05T10:00:00-05:00");
    x->consent[0].ended_at = I("2025-03-20T10:00:00-04:00");
    staff(t, "2025-03-03T10:00:00-05:00", 10 * 60);
    staff(t, "2025-03-10T10:00:00-04:00", 15 * 60); /* after the revocation, before the end */
    staff(t, "2025-03-25T10:00:00-04:00", 30 * 60); /* after the end: never */
    x->f.n_time = t->c.n_time;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->d.total_minutes, 25); /* revocation month stays countable until the end */
    t->cfg.count_after_revocation = false;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->d.total_minutes, 10); /* the revocation stops counting first */
    /* ended before it was revoked: the end */
    t->cfg.count_after_revocation = true;
    x->consent[0].ended_at = I("2025-03-04T10:00:00-05:00");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->d.total_minutes, 10);
    bool ended = false;
    for (int i = 0; i < m->d.n_evidence; i++)
        ended |= m->d.evidence[i].kind == CCM_EV_CONSENT_ENDED;
    assert_true(ended);
    free(m);
    free(x);
    free(t);
}

/* Selection [P]: a claim beats no claim; the higher amount beats the program
 * order; equal amounts: CCM > PCM > APCM, then the later consent. */
static void t_month_selection(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    fc_t *x = malloc(sizeof *x);
    ccm_month_decision_t *m = malloc(sizeof *m);
    month_base(t, x);
    x->consent[0] = consent(CCM_PROGRAM_CCM, NPI, "2024-10-02T10:00:00-04:00");
    x->consent[1] = consent(CCM_PROGRAM_PCM, NPI, "2024-11-02T10:00:00-04:00");
    x->f.n_consents = 2;
    staff(t, "2025-03-05T10:00:00-05:00", 20 * 60); /* CCM: 99490 $60.49 */
    add_time_full(t, 0, CCM_ROLE_CLINICAL_STAFF, CCM_SERVICE_PCM, true, "2025-03-06T10:00:00-05:00",
                  60 * 60); /* PCM: 99426 + 99427 */
    x->f.n_time = t->c.n_time;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->n_cases, 2);
    assert_int_equal(m->consent, 1); /* the higher amount wins over CCM > PCM */
    assert_int_equal(m->d.program, CCM_PROGRAM_PCM);
    assert_int_equal(m->d.amount_cents, 6333 + 5046);

    /* equal amounts: CCM wins */
    s_tie_fees = s_fees;
    s_tie_fees.cents[2025 - CCM_FEES_YEAR_MIN][CCM_CODE_99426] = 6049;
    t->fees = &s_tie_fees;
    t->time[1].seconds = 30 * 60;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->consent, 0);
    assert_int_equal(m->d.program, CCM_PROGRAM_CCM);
    assert_int_equal(m->d.amount_cents, 6049);

    /* a claim beats no claim: without a PCM care plan the CCM claim is the month's
     * even when the PCM consent is later */
    t->time[1].seconds = 60 * 60;
    t->fees = NULL;
    x->f.n_care_plans = 1;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->consent, 0);
    assert_true(m->d.claim);

    /* two CCM consents to the same practitioner in force (revoked this month,
     * given again): the same claim either way, so the later consent */
    x->f.n_care_plans = 2;
    x->consent[0].revoked_at = I("2025-03-02T10:00:00-05:00");
    x->consent[1] = consent(CCM_PROGRAM_CCM, NPI, "2025-03-03T10:00:00-05:00");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->n_cases, 2);
    assert_int_equal(m->consent, 1);
    assert_int_equal(m->d.amount_cents, 6049);
    free(m);
    free(x);
    free(t);
}

/* No consent in force: the latest consent given before the month ends says why;
 * with none, the month is judged without consent for the program the conditions
 * qualify for and the billing practitioner at the month's end. */
static void t_month_no_consent(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    fc_t *x = malloc(sizeof *x);
    ccm_month_decision_t *m = malloc(sizeof *m);
    month_base(t, x);
    r_staff45(t);
    x->f.n_time = t->c.n_time;
    x->consent[0] = consent(CCM_PROGRAM_CCM, NPI, "2024-10-02T10:00:00-04:00");
    x->consent[0].revoked_at = I("2025-01-15T10:00:00-05:00");
    x->consent[1] = consent(CCM_PROGRAM_CCM, NPI, "2024-06-02T10:00:00-04:00");
    x->consent[1].revoked_at = I("2024-07-15T10:00:00-04:00");
    x->consent[2] = consent(CCM_PROGRAM_CCM, NPI, "2025-04-02T10:00:00-04:00"); /* after */
    x->f.n_consents = 3;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->n_cases, 1);
    assert_int_equal(m->consent, 0);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "CONSENT_REVOKED");

    /* revoked in January and (later) ended in March: the revocation already took
     * it out of force */
    x->consent[0].ended_at = I("2025-03-10T10:00:00-04:00");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->consent, 0);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "CONSENT_REVOKED");

    /* ended (practitioner changed) in an earlier month: NO_CONSENT, naming it */
    x->consent[0].revoked_at = CCM_INSTANT_NONE;
    x->consent[0].ended_at = I("2025-02-10T10:00:00-05:00");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->consent, 0);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "NO_CONSENT");

    /* none given before the month ends: no consent, practitioner at month end */
    x->consent[0] = x->consent[2];
    x->f.n_consents = 1;
    x->prac[0] = (ccm_practitioner_period_t){CCM_INSTANT_NONE, OTHER_NPI, CCM_ROLE_NP};
    x->prac[1] = (ccm_practitioner_period_t){I("2025-03-20T00:00:00-04:00"), NPI, CCM_ROLE_PHYSICIAN};
    x->prac[2] = (ccm_practitioner_period_t){I("2025-04-01T00:00:00-04:00"), 1111111112ULL,
                                             CCM_ROLE_PHYSICIAN}; /* after the month */
    x->f.n_practitioners = 3;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->consent, -1);
    assert_int_equal(m->billing_npi, NPI);
    assert_int_equal(m->d.program, CCM_PROGRAM_CCM);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "NO_CONSENT");
    const ccm_evidence_t *e = &m->d.evidence[m->d.n_evidence - 1];
    assert_int_equal(e->kind, CCM_EV_MONTH_CASE);
    assert_int_equal(e->a, -1);

    /* one PCM-grade condition: judged as PCM; no practitioner period: NPI 0 */
    x->att[1][0].c.expected_months = 6;
    x->f.n_practitioners = 0;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->d.program, CCM_PROGRAM_PCM);
    assert_int_equal(m->billing_npi, 0);
    /* nothing qualifies: CCM */
    x->att[0][0].c.high_risk = false;
    x->att[1][0].c.high_risk = false;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->d.program, CCM_PROGRAM_CCM);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "NOT_ELIGIBLE_CONDITIONS");
    free(m);
    free(x);
    free(t);
}

/* The month's payer is the one in force at its first instant (or the earliest). */
static void t_month_payer(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    fc_t *x = malloc(sizeof *x);
    ccm_month_decision_t *m = malloc(sizeof *m);
    month_base(t, x);
    r_staff45(t);
    x->f.n_time = t->c.n_time;
    x->payer[0] = (ccm_payer_period_t){CCM_INSTANT_NONE, CCM_PAYER_MEDICARE_B, false};
    x->payer[1] = (ccm_payer_period_t){I("2025-03-15T00:00:00-04:00"), CCM_PAYER_MEDICARE_ADVANTAGE, false};
    x->f.n_payers = 2;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->payer, CCM_PAYER_MEDICARE_B);
    assert_true(m->d.claim);
    x->f.month++; /* April: Medicare Advantage all month */
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->payer, CCM_PAYER_MEDICARE_ADVANTAGE);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "NOT_PART_B_FFS");
    /* a period starting exactly at the month's first instant is in force */
    x->f.month--;
    x->payer[1].from = I("2025-03-01T00:00:00-05:00");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->payer, CCM_PAYER_MEDICARE_ADVANTAGE);
    /* every period starts later: the earliest applies; QMB follows it */
    x->payer[0] = (ccm_payer_period_t){I("2025-06-01T00:00:00-04:00"), CCM_PAYER_MEDICARE_B, false};
    x->payer[1] = (ccm_payer_period_t){I("2025-05-01T00:00:00-04:00"), CCM_PAYER_MEDICAID, true};
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->payer, CCM_PAYER_MEDICAID);
    assert_true(m->qmb);
    /* none: Medicare Part B */
    x->f.n_payers = 0;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->payer, CCM_PAYER_MEDICARE_B);
    assert_false(m->qmb);
    assert_true(m->d.claim);
    free(m);
    free(x);
    free(t);
}

/* Conditions over time: the latest attestation before the month ends applies,
 * unless the condition was resolved before the month began. */
static void t_attestation(void **state)
{
    (void)state;
    const int64_t ms = I("2025-03-01T00:00:00-05:00"), me = I("2025-04-01T00:00:00-04:00");
    ccm_attestation_t att[3] = {
        {CCM_INSTANT_NONE, {true, 12, true}},
        {I("2025-03-20T10:00:00-04:00"), {true, 6, true}},
        {I("2025-04-01T00:00:00-04:00"), {true, 24, false}}, /* from the month end: not yet */
    };
    ccm_condition_facts_t c = {"E11.9", CCM_INSTANT_NONE, att, 3};
    assert_ptr_equal(ccm_rules_attestation(&c, ms, me), &att[1]);
    assert_ptr_equal(ccm_rules_attestation(&c, ms - 30 * 86400, ms), &att[0]);
    assert_ptr_equal(ccm_rules_attestation(&c, me, me + 30 * 86400), &att[2]);
    c.resolved_at = I("2025-03-10T00:00:00-05:00"); /* resolved during the month: applies */
    assert_ptr_equal(ccm_rules_attestation(&c, ms, me), &att[1]);
    assert_null(ccm_rules_attestation(&c, me, me + 30 * 86400)); /* resolved before April */
    c.resolved_at = CCM_INSTANT_NONE;
    c.n_attestations = 0;
    assert_null(ccm_rules_attestation(&c, ms, me));
    /* the attestation first made after the month is not in force during it */
    ccm_condition_facts_t later = {"I10", CCM_INSTANT_NONE, &att[2], 1};
    assert_null(ccm_rules_attestation(&later, ms, me));
    /* two attestations from the same instant: the later one recorded */
    ccm_attestation_t same[2] = {{CCM_INSTANT_NONE, {true, 12, true}}, {CCM_INSTANT_NONE, {true, 3, true}}};
    ccm_condition_facts_t dup = {"I10", CCM_INSTANT_NONE, same, 2};
    assert_ptr_equal(ccm_rules_attestation(&dup, ms, me), &same[1]);
    /* resolved on the 10th and added again on the 20th: the code counts once in
     * March (the re-add), the resolved record alone in February */
    ccm_attestation_t readd = {I("2025-03-20T10:00:00-04:00"), {true, 12, true}};
    ccm_condition_facts_t conds[3] = {
        {"E11.9", I("2025-03-10T00:00:00-05:00"), att, 1},
        {"I10", CCM_INSTANT_NONE, att, 1},
        {"E11.9", CCM_INSTANT_NONE, &readd, 1},
    };
    ccm_facts_t f;
    memset(&f, 0, sizeof f);
    f.conditions = conds;
    f.n_conditions = 3;
    assert_null(ccm_rules_month_attestation(&f, 0, ms, me));
    assert_ptr_equal(ccm_rules_month_attestation(&f, 1, ms, me), &att[0]);
    assert_ptr_equal(ccm_rules_month_attestation(&f, 2, ms, me), &readd);
    assert_ptr_equal(ccm_rules_month_attestation(&f, 0, ms - 28 * 86400, ms), &att[0]);
    assert_null(ccm_rules_month_attestation(&f, 2, ms - 28 * 86400, ms));
}

/* The month's conditions, complex flag and care plan come from the facts of that month. */
static void t_month_facts_in_force(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    fc_t *x = malloc(sizeof *x);
    ccm_month_decision_t *m = malloc(sizeof *m);
    month_base(t, x);
    staff(t, "2025-03-10T10:00:00-04:00", 95 * 60);
    x->f.n_time = t->c.n_time;
    /* re-attested as short on 2025-03-20: March has one qualifying condition */
    x->att[1][1] = (ccm_attestation_t){I("2025-03-20T10:00:00-04:00"), {true, 6, true}};
    x->cond[1].n_attestations = 2;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "NOT_ELIGIBLE_CONDITIONS");
    /* resolved before the month: gone as well; a resolution during the month is not */
    x->cond[1].n_attestations = 1;
    x->cond[1].resolved_at = I("2025-02-27T10:00:00-05:00");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "NOT_ELIGIBLE_CONDITIONS");
    x->cond[1].resolved_at = I("2025-03-27T10:00:00-04:00");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_true(m->d.claim);
    assert_int_equal(m->d.letter, 'A');
    /* complex attested for March: 99487 + 99489 */
    x->complex[0] = M("2025-02");
    x->complex[1] = M("2025-03");
    x->f.complex_months = x->complex;
    x->f.n_complex_months = 2;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->d.letter, 'C');
    x->f.n_complex_months = 1; /* only February */
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_int_equal(m->d.letter, 'A');
    /* the care plan is the consent's program's: a PCM plan does not serve CCM */
    x->plan[0].program = CCM_PROGRAM_APCM;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "CARE_PLAN_MISSING");
    /* died on a date: passed through */
    x->plan[0].program = CCM_PROGRAM_CCM;
    x->f.died_at = I("2025-03-10T00:00:00-04:00");
    x->f.died_date_only = true;
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "DEATH_DAY_REVIEW");
    /* filing day passed through */
    x->f.died_at = CCM_INSTANT_NONE;
    x->f.filing_day = D("2026-06-01");
    assert_int_equal(s_month(t, &x->f, m), 0);
    assert_string_equal(ccm_rules_reason_name(m->d.reason), "TIMELY_FILING");
    free(m);
    free(x);
    free(t);
}

/* Scratch and malformed facts are reported, never overrun or guessed. */
static void t_month_errors(void **state)
{
    (void)state;
    tc_t *t = malloc(sizeof *t);
    fc_t *x = malloc(sizeof *x);
    ccm_month_decision_t *m = malloc(sizeof *m);
    month_base(t, x);
    r_staff45(t);
    x->f.n_time = t->c.n_time;
    size_t need = ccm_rules_month_scratch_size(&x->f);
    unsigned char *buf = malloc(need + 1);
    assert_non_null(buf);
    int32_t bad = 7;
    ccm_rules_scratch_t small = {buf, need - 1};
    assert_int_equal(ccm_rules_month(&t->cfg, &s_fees, t->tz, &x->f, &small, m, &bad), CCM_ETOOBIG);
    assert_int_equal(bad, -1);
    /* a buffer that is not max-aligned still fits: the size includes the slack */
    ccm_rules_scratch_t odd = {buf + 1, need};
    assert_int_equal(ccm_rules_month(&t->cfg, &s_fees, t->tz, &x->f, &odd, m, &bad), 0);
    assert_true(m->d.claim);
    /* a bad entry names its index in facts.time */
    t->time[0].seconds = -1;
    assert_int_equal(ccm_rules_month(&t->cfg, &s_fees, t->tz, &x->f, &odd, m, &bad), CCM_EINVAL);
    assert_int_equal(bad, 0);
    t->time[0].seconds = 45 * 60;
    /* a consent to a non-practitioner, an unknown program */
    x->consent[0].role = CCM_ROLE_CLINICAL_STAFF;
    assert_int_equal(ccm_rules_month(&t->cfg, &s_fees, t->tz, &x->f, &odd, m, &bad), CCM_EINVAL);
    x->consent[0].role = CCM_ROLE_PHYSICIAN;
    x->consent[0].program = (ccm_program_t)7;
    assert_int_equal(ccm_rules_month(&t->cfg, &s_fees, t->tz, &x->f, &odd, m, &bad), CCM_EINVAL);
    x->consent[0].program = CCM_PROGRAM_CCM;
    /* more practitioners' consents in force than CCM_RULES_MAX_MONTH_CASES */
    for (int i = 0; i < 9; i++)
        x->consent[i] = consent(CCM_PROGRAM_CCM, NPI + (uint64_t)i, "2024-10-02T10:00:00-04:00");
    x->f.n_consents = 9;
    assert_int_equal(ccm_rules_month(&t->cfg, &s_fees, t->tz, &x->f, &odd, m, &bad), CCM_EINVAL);
    x->f.n_consents = 8;
    assert_int_equal(ccm_rules_month(&t->cfg, &s_fees, t->tz, &x->f, &odd, m, &bad), 0);
    assert_int_equal(m->n_cases, 8);
    assert_int_equal(m->consent, 0); /* the only consent to the billing practitioner NPI */
    /* consent stopped and given again nine times in March: the earliest and the
     * latest of the run make the cases, never an error */
    static const char *const ats[9] = {
        "2025-03-01T10:00:00-05:00", "2025-03-02T10:00:00-05:00", "2025-03-03T10:00:00-05:00",
        "2025-03-04T10:00:00-05:00", "2025-03-05T10:00:00-05:00", "2025-03-06T10:00:00-05:00",
        "2025-03-07T10:00:00-05:00", "2025-03-08T10:00:00-05:00", "2025-03-09T10:00:00-05:00"};
    for (int i = 0; i < 9; i++) {
        x->consent[i] = consent(CCM_PROGRAM_CCM, NPI, ats[i]);
        if (i < 8)
            x->consent[i].revoked_at = x->consent[i].at + 3600;
    }
    x->f.n_consents = 9;
    assert_int_equal(ccm_rules_month(&t->cfg, &s_fees, t->tz, &x->f, &odd, m, &bad), 0);
    assert_int_equal(m->n_cases, 2);
    assert_true(m->d.claim);
    assert_int_equal(m->consent, 8); /* equal amounts: the later consent */
    free(buf);
    free(m);
    free(x);
    free(t);
}

int main(void)
{
    enum { NROWS = sizeof s_rows / sizeof s_rows[0] };
    struct CMUnitTest tests[NROWS + 15];
    memset(tests, 0, sizeof tests);
    for (size_t i = 0; i < NROWS; i++) {
        tests[i].name = s_rows[i].name;
        tests[i].test_func = run_row;
        tests[i].initial_state = &s_rows[i].r;
    }
    tests[NROWS + 0] = (struct CMUnitTest)cmocka_unit_test(t_p7_rejects_bad_entries);
    tests[NROWS + 1] = (struct CMUnitTest)cmocka_unit_test(t_p9_many_entries);
    tests[NROWS + 2] = (struct CMUnitTest)cmocka_unit_test(t_fees);
    tests[NROWS + 3] = (struct CMUnitTest)cmocka_unit_test(t_catalogue);
    tests[NROWS + 4] = (struct CMUnitTest)cmocka_unit_test(t_pure);
    tests[NROWS + 5] = (struct CMUnitTest)cmocka_unit_test(t_g1_eligibility);
    tests[NROWS + 6] = (struct CMUnitTest)cmocka_unit_test(t_month_equals_evaluate);
    tests[NROWS + 7] = (struct CMUnitTest)cmocka_unit_test(t_month_practitioner_change);
    tests[NROWS + 8] = (struct CMUnitTest)cmocka_unit_test(t_month_selection);
    tests[NROWS + 9] = (struct CMUnitTest)cmocka_unit_test(t_month_no_consent);
    tests[NROWS + 10] = (struct CMUnitTest)cmocka_unit_test(t_month_payer);
    tests[NROWS + 11] = (struct CMUnitTest)cmocka_unit_test(t_attestation);
    tests[NROWS + 12] = (struct CMUnitTest)cmocka_unit_test(t_month_facts_in_force);
    tests[NROWS + 13] = (struct CMUnitTest)cmocka_unit_test(t_month_errors);
    tests[NROWS + 14] = (struct CMUnitTest)cmocka_unit_test(t_month_revoked_and_ended);
    return _cmocka_run_group_tests("rules", tests, NROWS + 15, s_setup, NULL);
}
