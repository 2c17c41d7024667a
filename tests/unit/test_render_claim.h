/* Hand-built claims shared by the renderer tests (original and replacement). */
#ifndef CCM_TEST_RENDER_CLAIM_H
#define CCM_TEST_RENDER_CLAIM_H

#include "ccm/billing.pb-c.h"
#include "render.h"

typedef struct {
    Ccm__Billing__Claim claim;
    Ccm__Billing__Line l1, l2, l3;
    Ccm__Billing__Line *lines[3];
    Ccm__Billing__Evidence ev;
    char *dx[3];
    char *entries[3];
    char *visit_dates[1];
} test_claim_t;

/* C01/1042/2026-11/CCM: 99490 + 99439 on 2026-11-18, E11.22 and I10; version 2
 * replaces v1. */
static inline void test_claim_init(test_claim_t *t, unsigned version)
{
    *t = (test_claim_t){0};
    Ccm__Billing__Claim init = CCM__BILLING__CLAIM__INIT;
    Ccm__Billing__Line linit = CCM__BILLING__LINE__INIT;
    Ccm__Billing__Evidence einit = CCM__BILLING__EVIDENCE__INIT;
    t->claim = init;
    t->l1 = linit;
    t->l2 = linit;
    t->ev = einit;
    t->l1.code = "99490";
    t->l1.units = 1;
    t->l1.unit_cents = 6049;
    t->l1.amount_cents = 6049;
    t->l1.minutes = 20;
    t->l1.role = "staff";
    t->l1.dos = "2026-11-18";
    t->l2.code = "99439";
    t->l2.units = 1;
    t->l2.unit_cents = 4593;
    t->l2.amount_cents = 4593;
    t->l2.minutes = 20;
    t->l2.role = "staff";
    t->l2.dos = "2026-11-18";
    t->lines[0] = &t->l1;
    t->lines[1] = &t->l2;
    t->dx[0] = "E11.22";
    t->dx[1] = "I10";
    t->entries[0] = "CDR:uid-1";
    t->entries[1] = "MANUAL:a";
    t->entries[2] = "MANUAL:b";
    t->ev.consent_id = "C01/1042/CCM/1";
    t->ev.care_plan_version = 3;
    t->ev.n_time_entry_ids = 3;
    t->ev.time_entry_ids = t->entries;
    t->ev.rules_version = "2026.1";
    Ccm__Billing__Claim *c = &t->claim;
    c->key = "C01/1042/2026-11/CCM";
    c->version = version;
    c->id = version == 1 ? "C01/1042/2026-11/CCM#v1" : "C01/1042/2026-11/CCM#v2";
    c->supersedes = version == 1 ? "" : "C01/1042/2026-11/CCM#v1";
    c->clinic = "C01";
    c->mrn = "1042";
    c->mbi = "1EG4TE5MK73";
    c->month = "2026-11";
    c->program = "CCM";
    c->dos = "2026-11-18";
    c->place_of_service = "11";
    c->billing_npi = "1234567893";
    c->rendering_npi = "1245319599";
    c->n_diagnoses = 2;
    c->diagnoses = t->dx;
    c->n_lines = 2;
    c->lines = t->lines;
    c->amount_cents = 10642;
    c->fee_year = 2026;
    c->staff_minutes = 40;
    c->practitioner_minutes = 0;
    c->evidence = &t->ev;
    c->status = CCM__BILLING__CLAIM_STATUS__READY;
    c->created_us = 1796000000000000LL;
    c->status_us = 1796000000000000LL;
}

/* Adds the G0506 line of the initiating visit of 2026-11-03 (its own date of service). */
static inline void test_claim_add_g0506(test_claim_t *t)
{
    Ccm__Billing__Line linit = CCM__BILLING__LINE__INIT;
    t->l3 = linit;
    t->l3.code = "G0506";
    t->l3.units = 1;
    t->l3.unit_cents = 6500;
    t->l3.amount_cents = 6500;
    t->l3.role = "";
    t->l3.dos = "2026-11-03";
    t->lines[2] = &t->l3;
    t->claim.n_lines = 3;
    t->claim.amount_cents += 6500;
    t->visit_dates[0] = "2026-11-03";
    t->ev.visit_dates = t->visit_dates;
    t->ev.n_visit_dates = 1;
}

static inline ccm_render_ids_t test_ids(void)
{
    return (ccm_render_ids_t){"SUB123",
                              "Riverside Billing",
                              "5555550100",
                              "CLEARHOUSE1",
                              "Clear House",
                              "T",
                              "Medicare Part B",
                              "12502",
                              "Riverside Family Medicine",
                              "1 Main St",
                              "Albany",
                              "NY",
                              "122070001",
                              "123456789"};
}

#endif
