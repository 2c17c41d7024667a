/* bench_rules — throughput of ccm_rules_evaluate() and ccm_rules_month().
 * Generates a pool of varied patient-months (1–14 time entries, overlaps,
 * month-crossing entries, practitioner and staff time, complex flags,
 * exclusions, inpatient stays, CCM/PCM/APCM), then evaluates N of them
 * round-robin on one core with no allocation in the loop, and prints
 * patient-months per second; then the same months as facts (one consent, one
 * attestation per condition) through ccm_rules_month().
 * usage: bench_rules [N=1000000] [ZONE=America/New_York] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccm/rules.h"
#include "ccm/tz.h"

#ifndef CCM_FEES_DIR_DEFAULT
#define CCM_FEES_DIR_DEFAULT "deploy/fees"
#endif

#define POOL 65536
#define MAX_ENTRIES 14

typedef struct {
    ccm_case_t c;
    ccm_condition_t cond[3];
    ccm_visit_t visit[2];
    ccm_other_service_t other[1];
    ccm_span_t inpatient[1];
    ccm_time_entry_t time[MAX_ENTRIES];
    /* the same month as facts */
    ccm_facts_t f;
    ccm_condition_facts_t cfacts[3];
    ccm_attestation_t att[3];
    ccm_consent_t consent;
    ccm_payer_period_t payer;
    ccm_care_plan_facts_t plan;
    int32_t complex_month;
} gen_t;

/* The facts that make ccm_rules_month() build exactly g's case. */
static void s_facts(gen_t *g)
{
    const ccm_case_t *c = &g->c;
    ccm_facts_t *f = &g->f;
    memset(f, 0, sizeof *f);
    f->month = c->month;
    f->clinic = c->clinic;
    g->payer = (ccm_payer_period_t){CCM_INSTANT_NONE, c->payer, c->qmb};
    f->payers = &g->payer;
    f->n_payers = 1;
    for (size_t i = 0; i < c->n_conditions; i++) {
        g->att[i] = (ccm_attestation_t){CCM_INSTANT_NONE, c->conditions[i]};
        g->cfacts[i] = (ccm_condition_facts_t){"I10", CCM_INSTANT_NONE, &g->att[i], 1};
    }
    f->conditions = g->cfacts;
    f->n_conditions = c->n_conditions;
    g->consent =
        (ccm_consent_t){"C1",          c->consent_program, c->consent_npi,  c->billing_role,
                        c->consent_at, c->revoked_at,      CCM_INSTANT_NONE};
    f->consents = &g->consent;
    f->n_consents = 1;
    g->plan = (ccm_care_plan_facts_t){c->program, c->care_plan, c->care_plan_established_at,
                                      c->care_plan_copy_given_at};
    f->care_plans = &g->plan;
    f->n_care_plans = 1;
    g->complex_month = c->month;
    f->complex_months = &g->complex_month;
    f->n_complex_months = c->complex;
    f->died_at = c->died_at;
    f->visits = c->visits;
    f->n_visits = c->n_visits;
    f->other = c->other;
    f->n_other = c->n_other;
    f->inpatient = c->inpatient;
    f->n_inpatient = c->n_inpatient;
    f->time = c->time;
    f->n_time = c->n_time;
}

static uint64_t s_rng(uint64_t *s)
{
    /* xorshift64*: deterministic so runs are comparable */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void s_gen(gen_t *g, uint64_t *rng, const ccm_tz_t *tz, char ids[][8])
{
    memset(g, 0, sizeof *g);
    ccm_case_t *c = &g->c;
    const uint64_t npi = 1234567893ULL;
    uint64_t r = s_rng(rng);
    c->month = 2025 * 12 + (int32_t)(r % 12);
    int32_t y = c->month / 12, m = c->month % 12 + 1;
    int64_t ms = ccm_tz_local_to_utc(tz, (int64_t)ccm_tz_days_from_civil(y, m, 1) * 86400);
    unsigned p = (unsigned)(r >> 8) % 10;
    c->program = p < 7 ? CCM_PROGRAM_CCM : p < 9 ? CCM_PROGRAM_PCM : CCM_PROGRAM_APCM;
    c->payer = (r >> 16) % 50 == 0 ? CCM_PAYER_MEDICARE_ADVANTAGE : CCM_PAYER_MEDICARE_B;
    c->clinic = (r >> 22) % 20 == 0 ? CCM_CLINIC_RHC : CCM_CLINIC_PHYSICIAN_PRACTICE;
    c->billing_npi = npi;
    c->billing_role = CCM_ROLE_PHYSICIAN;
    g->cond[0] = (ccm_condition_t){true, 24, true};
    g->cond[1] = (ccm_condition_t){true, 12, (r >> 28) % 8 != 0};
    g->cond[2] = (ccm_condition_t){false, 1, false};
    c->conditions = g->cond;
    c->n_conditions = 3;
    c->qmb = (r >> 31) % 5 == 0;
    c->died_at = CCM_INSTANT_NONE;
    g->visit[0] = (ccm_visit_t){CCM_CODE_99214, ccm_tz_days_from_civil(2024, 6, 1), npi, false, false};
    g->visit[1] = (ccm_visit_t){CCM_CODE_99213, ccm_tz_days_from_civil(y, m, 3), npi, (r >> 34) % 10 == 0, false};
    c->visits = g->visit;
    c->n_visits = 2;
    c->has_consent = true;
    c->consent_at = ms - 86400 * 90;
    c->consent_npi = npi;
    c->consent_program = c->program;
    c->revoked_at = (r >> 38) % 40 == 0 ? ms + 86400 * 10 : CCM_INSTANT_NONE;
    c->care_plan = CCM_CARE_PLAN_ESTABLISHED;
    c->care_plan_established_at = c->care_plan_copy_given_at = ms - 86400 * 80;
    c->complex = (r >> 42) % 4 == 0;
    if ((r >> 45) % 25 == 0) {
        g->other[0] = (ccm_other_service_t){(r >> 50) % 2 ? CCM_CODE_G0181 : CCM_CODE_99457, 1111111111ULL, c->month};
        c->n_other = 1;
    }
    c->other = g->other;
    if ((r >> 52) % 15 == 0) {
        g->inpatient[0] = (ccm_span_t){ms + 86400 * 5, ms + 86400 * 9};
        c->n_inpatient = 1;
    }
    c->inpatient = g->inpatient;
    uint64_t r2 = s_rng(rng);
    size_t n = 1 + r2 % MAX_ENTRIES;
    const ccm_service_t svc = c->program == CCM_PROGRAM_CCM ? CCM_SERVICE_CCM
                              : c->program == CCM_PROGRAM_PCM ? CCM_SERVICE_PCM : CCM_SERVICE_APCM;
    for (size_t i = 0; i < n; i++) {
        uint64_t e = s_rng(rng);
        ccm_time_entry_t *t = &g->time[i];
        t->id = ids[i];
        bool prac = e % 4 == 0;
        t->npi = prac ? npi : 0;
        t->role = prac ? CCM_ROLE_PHYSICIAN : (e >> 3) % 30 == 0 ? CCM_ROLE_NON_CLINICAL : CCM_ROLE_CLINICAL_STAFF;
        t->in_us = (e >> 8) % 100 != 0;
        t->service = (e >> 10) % 12 == 0 ? CCM_SERVICE_RPM : svc;
        /* mostly inside the month; a few start the day before it */
        t->start = ms - 3600 + (int64_t)((e >> 16) % (30ULL * 86400));
        t->seconds = svc == CCM_SERVICE_APCM ? 0 : 120 + (int64_t)((e >> 40) % 1500);
        if (t->service != CCM_SERVICE_APCM && t->seconds == 0)
            t->seconds = 60;
    }
    if ((r2 >> 20) % 10 == 0 && n > 1)
        g->time[n - 1].id = g->time[0].id; /* a replayed event */
    c->time = g->time;
    c->n_time = n;
    s_facts(g);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *zone = argc > 2 ? argv[2] : "America/New_York";
    static ccm_tz_t tz;
    static ccm_fees_t fees;
    static char ids[MAX_ENTRIES][8];
    char err[256];
    if (ccm_tz_load(&tz, zone) != 0) {
        fprintf(stderr, "bench_rules: cannot load zone %s\n", zone);
        return 1;
    }
    if (ccm_fees_load_dir(&fees, CCM_FEES_DIR_DEFAULT, err, sizeof err) != 0) {
        fprintf(stderr, "bench_rules: fees: %s\n", err);
        return 1;
    }
    for (int i = 0; i < MAX_ENTRIES; i++)
        snprintf(ids[i], sizeof ids[i], "e%d", i);
    gen_t *pool = malloc(sizeof *pool * POOL);
    ccm_decision_t *d = malloc(sizeof *d);
    if (!pool || !d)
        return 1;
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    size_t entries = 0;
    for (int i = 0; i < POOL; i++) {
        s_gen(&pool[i], &rng, &tz, ids);
        entries += pool[i].c.n_time;
    }
    ccm_rules_config_t cfg;
    ccm_rules_config_default(&cfg);
    _Alignas(16) static unsigned char scratch_buf[4096];
    ccm_rules_scratch_t scratch = {scratch_buf, sizeof scratch_buf};

    long claims = 0;
    int64_t cents = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        const ccm_case_t *c = &pool[i % POOL].c;
        if (ccm_rules_evaluate(&cfg, &fees, &tz, c, &scratch, d, NULL) != 0) {
            fprintf(stderr, "bench_rules: case %ld rejected\n", i % POOL);
            return 1;
        }
        claims += d->claim;
        cents += d->amount_cents;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("bench_rules: %ld patient-months in %.3f s = %.0f patient-months/s (one core)\n", n, secs,
           (double)n / secs);
    printf("bench_rules: %.1f time entries per patient-month, %.1f%% claims, $%.2f average per claim\n",
           (double)entries / POOL, 100.0 * (double)claims / (double)n,
           claims ? (double)cents / 100.0 / (double)claims : 0.0);

    /* the same months through the month facts */
    ccm_month_decision_t *md = malloc(sizeof *md);
    _Alignas(16) static unsigned char month_buf[16384];
    ccm_rules_scratch_t month_scratch = {month_buf, sizeof month_buf};
    if (!md)
        return 1;
    long month_claims = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        const ccm_facts_t *f = &pool[i % POOL].f;
        if (ccm_rules_month(&cfg, &fees, &tz, f, &month_scratch, md, NULL) != 0) {
            fprintf(stderr, "bench_rules: facts %ld rejected\n", i % POOL);
            return 1;
        }
        month_claims += md->d.claim;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("bench_rules: ccm_rules_month %ld patient-months in %.3f s = %.0f patient-months/s "
           "(%s claims as evaluate)\n",
           n, secs, (double)n / secs, month_claims == claims ? "same" : "DIFFERENT");
    free(md);
    free(d);
    free(pool);
    return 0;
}
