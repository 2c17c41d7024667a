/* month — judges one patient-month from the patient's history (the facts in
 * force during the month), through ccm_rules_evaluate(): one case per consent
 * in force, one selected. Pure like rules.c: no I/O, no clock, no globals, no
 * allocation; the conditions of the month, the per-case time scratch and the
 * decision under comparison all live in the caller's scratch. */
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/rules.h"

#define S_ALIGN alignof(max_align_t)

static size_t s_round(size_t n)
{
    return (n + S_ALIGN - 1) / S_ALIGN * S_ALIGN;
}

/* The evaluation scratch of any case built from `f`: only its entry counts matter. */
static size_t s_case_scratch(const ccm_facts_t *f)
{
    ccm_case_t c;
    memset(&c, 0, sizeof c);
    c.n_time = f->n_time;
    c.n_inpatient = f->n_inpatient;
    return ccm_rules_scratch_size(&c);
}

size_t ccm_rules_month_scratch_size(const ccm_facts_t *f)
{
    /* slack to align a buffer that is not max-aligned, then the decision under
     * comparison, the month's conditions, the evaluation scratch */
    return S_ALIGN + s_round(sizeof(ccm_decision_t)) +
           s_round(f->n_conditions * sizeof(ccm_condition_t)) + s_case_scratch(f);
}

const ccm_attestation_t *ccm_rules_attestation(const ccm_condition_facts_t *c, int64_t ms,
                                               int64_t me)
{
    if (!c || (c->resolved_at != CCM_INSTANT_NONE && c->resolved_at < ms))
        return NULL;
    const ccm_attestation_t *best = NULL;
    for (size_t i = 0; i < c->n_attestations; i++) {
        const ccm_attestation_t *a = &c->attestations[i];
        /* CCM_INSTANT_NONE is INT64_MIN: "since before any month" orders first */
        if (a->from < me && (!best || a->from >= best->from))
            best = a; /* the latest; on equal instants the later one recorded */
    }
    return best;
}

const ccm_attestation_t *ccm_rules_month_attestation(const ccm_facts_t *f, size_t i, int64_t ms,
                                                     int64_t me)
{
    const ccm_condition_facts_t *c = &f->conditions[i];
    const ccm_attestation_t *a = ccm_rules_attestation(c, ms, me);
    for (size_t j = i + 1; a && c->icd10 && j < f->n_conditions; j++)
        if (f->conditions[j].icd10 && strcmp(f->conditions[j].icd10, c->icd10) == 0 &&
            ccm_rules_attestation(&f->conditions[j], ms, me))
            a = NULL;
    return a;
}

static bool s_practitioner(ccm_role_t r)
{
    return r == CCM_ROLE_PHYSICIAN || r == CCM_ROLE_NP || r == CCM_ROLE_PA || r == CCM_ROLE_CNS ||
           r == CCM_ROLE_CNM;
}

/* Malformed facts: what no caller should hand over. Entries are checked by
 * ccm_rules_evaluate(). */
static bool s_valid(const ccm_facts_t *f)
{
    if (f->month < 12 || f->month > 9999 * 12 || (unsigned)f->clinic > CCM_CLINIC_FQHC)
        return false;
    if ((f->n_practitioners && !f->practitioners) || (f->n_payers && !f->payers) ||
        (f->n_conditions && !f->conditions) || (f->n_consents && !f->consents) ||
        (f->n_care_plans && !f->care_plans) || (f->n_complex_months && !f->complex_months) ||
        (f->n_visits && !f->visits) || (f->n_other && !f->other) ||
        (f->n_inpatient && !f->inpatient) || (f->n_time && !f->time))
        return false;
    for (size_t i = 0; i < f->n_practitioners; i++)
        if (!s_practitioner(f->practitioners[i].role))
            return false;
    for (size_t i = 0; i < f->n_payers; i++)
        if ((unsigned)f->payers[i].payer > CCM_PAYER_OTHER)
            return false;
    for (size_t i = 0; i < f->n_conditions; i++)
        if (f->conditions[i].n_attestations && !f->conditions[i].attestations)
            return false;
    for (size_t i = 0; i < f->n_consents; i++) {
        const ccm_consent_t *k = &f->consents[i];
        if ((unsigned)k->program > CCM_PROGRAM_APCM || !s_practitioner(k->role) ||
            k->at == CCM_INSTANT_NONE)
            return false;
    }
    for (size_t i = 0; i < f->n_care_plans; i++)
        if ((unsigned)f->care_plans[i].program > CCM_PROGRAM_APCM ||
            (unsigned)f->care_plans[i].status > CCM_CARE_PLAN_ESTABLISHED)
            return false;
    return true;
}

/* In force during [ms, me): given before the month ends, not revoked in an
 * earlier month (a revocation takes effect at the end of its month, P-2), not
 * ended (practitioner changed) at or before the month's first instant. */
static bool s_in_force(const ccm_consent_t *k, int64_t ms, int64_t me)
{
    return k->at < me && (k->revoked_at == CCM_INSTANT_NONE || k->revoked_at >= ms) &&
           (k->ended_at == CCM_INSTANT_NONE || k->ended_at > ms);
}

/* Consents of one program given to one practitioner follow each other (one
 * active at a time), so several can be in force in one month only when the
 * patient stopped and consented again within it. Of such a run only the
 * earliest (it counts the most time while revocations count to the month's end,
 * P-2) and the latest make a case [P]: a month stays one or two cases per
 * program and practitioner however often consent was recorded. */
static bool s_case_of(const ccm_facts_t *f, size_t i, int64_t ms, int64_t me)
{
    const ccm_consent_t *k = &f->consents[i];
    if (!s_in_force(k, ms, me))
        return false;
    bool earlier = false, later = false;
    for (size_t j = 0; j < f->n_consents; j++) {
        const ccm_consent_t *o = &f->consents[j];
        if (j == i || o->program != k->program || o->npi != k->npi || !s_in_force(o, ms, me))
            continue;
        if (o->at < k->at || (o->at == k->at && j < i))
            earlier = true;
        else
            later = true;
    }
    return !earlier || !later;
}

/* The payer at the month's first instant; with every period starting later, the
 * earliest; with none, Medicare Part B. */
static void s_payer(const ccm_facts_t *f, int64_t ms, ccm_payer_t *payer, bool *qmb)
{
    const ccm_payer_period_t *best = NULL, *first = NULL;
    for (size_t i = 0; i < f->n_payers; i++) {
        const ccm_payer_period_t *p = &f->payers[i];
        if (p->from <= ms && (!best || p->from >= best->from))
            best = p;
        if (!first || p->from < first->from)
            first = p;
    }
    if (!best)
        best = first;
    *payer = best ? best->payer : CCM_PAYER_MEDICARE_B;
    *qmb = best ? best->qmb : false;
}

static void s_care_plan(const ccm_facts_t *f, ccm_case_t *c)
{
    c->care_plan = CCM_CARE_PLAN_NONE;
    c->care_plan_established_at = c->care_plan_copy_given_at = CCM_INSTANT_NONE;
    for (size_t i = 0; i < f->n_care_plans; i++) {
        const ccm_care_plan_facts_t *p = &f->care_plans[i];
        if (p->program != c->program)
            continue;
        c->care_plan = p->status; /* a later entry for the same program wins */
        c->care_plan_established_at = p->established_at;
        c->care_plan_copy_given_at = p->copy_given_at;
    }
}

/* The case of consent k: its practitioner bills its program. A consent both
 * revoked and ended maps to whichever stops the month's time first: the end
 * (immediate) unless the revocation came in an earlier month, or came first
 * in this month and stops counting at once (count_after_revocation off). */
static void s_consent_case(const ccm_rules_config_t *cfg, const ccm_facts_t *f,
                           const ccm_consent_t *k, int64_t ms, int64_t me, ccm_case_t *c)
{
    c->program = k->program;
    c->billing_npi = k->npi;
    c->billing_role = k->role;
    c->has_consent = true;
    c->consent_at = k->at;
    c->consent_npi = k->npi;
    c->consent_program = k->program;
    const int64_t rev = k->revoked_at, end = k->ended_at;
    const bool ended =
        end != CCM_INSTANT_NONE && (rev == CCM_INSTANT_NONE || end <= rev ||
                                    (rev >= ms && end < me && cfg->count_after_revocation));
    c->consent_ended = ended;
    c->revoked_at = ended ? end : rev;
    s_care_plan(f, c);
}

/* The case without a consent in force or given: the program the conditions
 * qualify for (CCM, else PCM, else CCM) and the billing practitioner in force
 * at the month's last instant (none: NPI 0, physician). */
static void s_no_consent_case(const ccm_facts_t *f, int64_t me, ccm_case_t *c)
{
    const ccm_eligibility_t el = ccm_rules_eligibility(c->conditions, c->n_conditions);
    c->program = el.program == CCM_ELIGIBLE_PCM ? CCM_PROGRAM_PCM : CCM_PROGRAM_CCM;
    const ccm_practitioner_period_t *best = NULL;
    for (size_t i = 0; i < f->n_practitioners; i++) {
        const ccm_practitioner_period_t *p = &f->practitioners[i];
        if (p->from < me && (!best || p->from >= best->from))
            best = p;
    }
    c->billing_npi = best ? best->npi : 0;
    c->billing_role = best ? best->role : CCM_ROLE_PHYSICIAN;
    c->has_consent = false;
    c->consent_at = c->revoked_at = CCM_INSTANT_NONE;
    c->consent_npi = 0;
    c->consent_program = c->program;
    c->consent_ended = false;
    s_care_plan(f, c);
}

/* Selection [P]: a claim beats no claim; then the higher amount; then CCM > PCM
 * > APCM; then the later consent (on equal instants the later index). */
static bool s_better(const ccm_facts_t *f, const ccm_decision_t *a, int32_t ka,
                     const ccm_decision_t *b, int32_t kb)
{
    if (a->claim != b->claim)
        return a->claim;
    if (a->amount_cents != b->amount_cents)
        return a->amount_cents > b->amount_cents;
    if (a->program != b->program)
        return a->program < b->program;
    const int64_t ta = f->consents[ka].at, tb = f->consents[kb].at;
    return ta != tb ? ta > tb : ka > kb;
}

static void s_case_ev(ccm_decision_t *d, int32_t consent, ccm_program_t program)
{
    if (d->n_evidence >= CCM_RULES_MAX_EVIDENCE) {
        d->evidence_dropped++;
        return;
    }
    d->evidence[d->n_evidence++] =
        (ccm_evidence_t){CCM_EV_MONTH_CASE, -1, CCM_CODE_NONE, consent, (int64_t)program};
}

int ccm_rules_month(const ccm_rules_config_t *cfg, const ccm_fees_t *fees, const ccm_tz_t *tz,
                    const ccm_facts_t *f, ccm_rules_scratch_t *scratch, ccm_month_decision_t *out,
                    int32_t *bad_index)
{
    if (bad_index)
        *bad_index = -1;
    if (!s_valid(f))
        return CCM_EINVAL;
    if (!scratch || !scratch->buf || scratch->size < ccm_rules_month_scratch_size(f))
        return CCM_ETOOBIG;

    const int32_t y = f->month / 12, m = f->month % 12 + 1;
    const int32_t first_day = ccm_tz_days_from_civil(y, m, 1);
    const int64_t ms = ccm_tz_local_to_utc(tz, (int64_t)first_day * 86400);
    const int64_t me =
        ccm_tz_local_to_utc(tz, ((int64_t)first_day + ccm_tz_days_in_month(y, m)) * 86400);

    size_t in_force = 0;
    for (size_t i = 0; i < f->n_consents; i++)
        in_force += s_case_of(f, i, ms, me);
    if (in_force > CCM_RULES_MAX_MONTH_CASES)
        return CCM_EINVAL; /* more practitioners and programs in one month than any
                              real history has: bad data */

    /* carve the scratch: decision, conditions, evaluation scratch */
    unsigned char *p = scratch->buf;
    p += (S_ALIGN - (uintptr_t)p % S_ALIGN) % S_ALIGN;
    ccm_decision_t *tmp = (ccm_decision_t *)(void *)p;
    p += s_round(sizeof *tmp);
    ccm_condition_t *conds = (ccm_condition_t *)(void *)p;
    p += s_round(f->n_conditions * sizeof *conds);
    ccm_rules_scratch_t cs = {p, s_case_scratch(f)};

    ccm_case_t c;
    memset(&c, 0, sizeof c);
    c.month = f->month;
    c.clinic = f->clinic;
    s_payer(f, ms, &c.payer, &c.qmb);
    for (size_t i = 0; i < f->n_conditions; i++) {
        const ccm_attestation_t *a = ccm_rules_month_attestation(f, i, ms, me);
        if (a)
            conds[c.n_conditions++] = a->c;
    }
    c.conditions = conds;
    c.died_at = f->died_at;
    c.died_date_only = f->died_date_only;
    c.visits = f->visits;
    c.n_visits = f->n_visits;
    c.other = f->other;
    c.n_other = f->n_other;
    c.inpatient = f->inpatient;
    c.n_inpatient = f->n_inpatient;
    c.time = f->time;
    c.n_time = f->n_time;
    c.filing_day = f->filing_day;
    for (size_t i = 0; i < f->n_complex_months && !c.complex; i++)
        c.complex = f->complex_months[i] == f->month;

    int rc;
    int32_t best = -1;
    out->n_cases = 0;
    for (size_t i = 0; i < f->n_consents; i++) {
        if (!s_case_of(f, i, ms, me))
            continue;
        s_consent_case(cfg, f, &f->consents[i], ms, me, &c);
        ccm_decision_t *d = out->n_cases == 0 ? &out->d : tmp;
        rc = ccm_rules_evaluate(cfg, fees, tz, &c, &cs, d, bad_index);
        if (rc != 0)
            return rc;
        if (out->n_cases++ == 0 || s_better(f, tmp, (int32_t)i, &out->d, best)) {
            if (d != &out->d)
                memcpy(&out->d, d, sizeof *d);
            best = (int32_t)i;
        }
    }
    if (out->n_cases == 0) {
        /* nothing in force: the latest consent given before the month ends says
         * why (revoked, ended), else the month is judged without consent */
        for (size_t i = 0; i < f->n_consents; i++)
            if (f->consents[i].at < me && (best < 0 || f->consents[i].at >= f->consents[best].at))
                best = (int32_t)i;
        if (best >= 0)
            s_consent_case(cfg, f, &f->consents[best], ms, me, &c);
        else
            s_no_consent_case(f, me, &c);
        rc = ccm_rules_evaluate(cfg, fees, tz, &c, &cs, &out->d, bad_index);
        if (rc != 0)
            return rc;
        out->n_cases = 1;
        out->billing_npi = c.billing_npi;
    } else {
        out->billing_npi = f->consents[best].npi;
    }
    s_case_ev(&out->d, best, out->d.program);
    out->consent = best;
    out->payer = c.payer;
    out->qmb = c.qmb;
    return 0;
}
