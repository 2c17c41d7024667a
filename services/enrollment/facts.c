/* facts — a patient's dated facts inside the Patient record (see facts.h).
 * Every operation validates first and changes the message only once nothing
 * can refuse any more, so a refusal leaves the patient exactly as loaded. */
#include "facts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/ident.h"
#include "ccm/log.h"
#include "ccm/rules.h"

typedef Ccm__Enrollment__Patient patient_t;
typedef Ccm__Enrollment__Condition condition_t;
typedef Ccm__Enrollment__Attestation attestation_t;
typedef Ccm__Enrollment__Consent consent_t;
typedef Ccm__Enrollment__BillingPeriod billing_period_t;
typedef Ccm__Enrollment__PayerPeriod payer_period_t;

/* ---- fields of unpacked messages ---- */

char *ccm_facts_dup(const char *v)
{
    char *d = strdup(v ? v : "");
    if (!d)
        abort(); /* out of memory: state is in LMDB, peers retry */
    return d;
}

void ccm_facts_set_str(char **field, const char *v)
{
    char *d = ccm_facts_dup(v); /* before the free: v may be *field itself */
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = d;
}

int ccm_facts_append(void ***arr, size_t *n, void *elem)
{
    if (*n >= CCM_FACTS_RECORDS_MAX)
        return CCM_ETOOBIG;
    void **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a)
        return CCM_ENOMEM;
    a[(*n)++] = elem;
    *arr = a;
    return 0;
}

/* ---- calendar ---- */

int32_t ccm_facts_local_day(const ccm_tz_t *tz, int64_t us)
{
    int64_t sec = us / 1000000 - (us % 1000000 < 0); /* floor */
    return ccm_tz_local_day(tz, sec);
}

int64_t ccm_facts_day_start(const ccm_tz_t *tz, int32_t day)
{
    return ccm_tz_local_to_utc(tz, (int64_t)day * 86400) * 1000000;
}

int64_t ccm_facts_month_start(const ccm_tz_t *tz, int32_t month)
{
    int32_t y = month / 12, m = month % 12 + 1;
    return ccm_facts_day_start(tz, ccm_tz_days_from_civil(y, m, 1));
}

void ccm_facts_format_day(int32_t day, char out[11])
{
    int32_t y, m, d;
    ccm_tz_civil_from_days(day, &y, &m, &d);
    unsigned uy = (unsigned)y % 10000u, um = (unsigned)m % 100u, ud = (unsigned)d % 100u;
    char buf[16];
    snprintf(buf, sizeof buf, "%04u-%02u-%02u", uy, um, ud);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

/* An instant for a message: RFC 3339 UTC to the second, or "since before any
 * month" for 0. */
static const char *s_when(int64_t us, char out[32])
{
    if (us == 0)
        return "since before any month";
    int64_t sec = us / 1000000 - (us % 1000000 < 0);
    int64_t days = sec / 86400 - (sec % 86400 < 0), rem = sec - days * 86400;
    int32_t y, m, d;
    ccm_tz_civil_from_days((int32_t)days, &y, &m, &d);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
    return out;
}

/* ---- refusals ---- */

static int s_refuse(ccm_facts_refusal_t *why, int rc, Ccm__Code code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int s_refuse(ccm_facts_refusal_t *why, int rc, Ccm__Code code, const char *field,
                    const char *fmt, ...)
{
    why->code = code;
    why->field = field;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->why, sizeof why->why, fmt, ap);
    va_end(ap);
    return rc;
}

#define S_INVALID(why, field, ...)                                                                 \
    s_refuse(why, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, field, __VA_ARGS__)
#define S_PRECONDITION(why, field, ...)                                                            \
    s_refuse(why, CCM_EINVAL, CCM__CODE__FAILED_PRECONDITION, field, __VA_ARGS__)

/* An effective instant of a request: not before the epoch, not in the future;
 * 0 stands for `unset`. *out is the instant the change takes effect. */
static int s_effective(const ccm_facts_ctx_t *x, const char *field, int64_t in, int64_t unset,
                       int64_t *out, ccm_facts_refusal_t *why)
{
    if (in < 0)
        return S_INVALID(why, field, "must be after 1970-01-01");
    if (in > x->now_us + CCM_FACTS_CLOCK_SKEW_US)
        return S_INVALID(why, field, "is in the future");
    *out = in ? in : unset;
    return 0;
}

/* ---- registration, billing practitioner, payer ---- */

static billing_period_t *s_billing_period(const char *npi, int64_t from, int64_t recorded,
                                          const char *request_id)
{
    billing_period_t *b = malloc(sizeof *b);
    if (!b)
        abort();
    ccm__enrollment__billing_period__init(b);
    b->npi = ccm_facts_dup(npi);
    b->from_us = from;
    b->recorded_us = recorded;
    b->request_id = ccm_facts_dup(request_id);
    return b;
}

static payer_period_t *s_payer_period(const char *payer, bool qmb, int64_t from, int64_t recorded,
                                      const char *request_id)
{
    payer_period_t *pp = malloc(sizeof *pp);
    if (!pp)
        abort();
    ccm__enrollment__payer_period__init(pp);
    pp->payer = ccm_facts_dup(payer);
    pp->qmb = qmb;
    pp->from_us = from;
    pp->recorded_us = recorded;
    pp->request_id = ccm_facts_dup(request_id);
    return pp;
}

/* Appends to a history whose length was checked by the caller. */
static void s_push(void ***arr, size_t *n, void *elem)
{
    if (ccm_facts_append(arr, n, elem) != 0)
        abort(); /* the caller checked the room: only out of memory is left */
}

void ccm_facts_register(patient_t *p, const ccm_facts_ctx_t *x)
{
    if (p->billing_npi[0])
        s_push((void ***)&p->billing_history, &p->n_billing_history,
               s_billing_period(p->billing_npi, 0, x->now_us, x->request_id));
    s_push((void ***)&p->payer_history, &p->n_payer_history,
           s_payer_period(p->payer, p->qmb, 0, x->now_us, x->request_id));
    p->change_effective_us = 0;
}

/* The last entry of a history, or NULL. */
#define S_LAST(p, list) ((p)->n_##list ? (p)->list[(p)->n_##list - 1] : NULL)

static int s_room(size_t n, const char *field, ccm_facts_refusal_t *why)
{
    if (n < CCM_FACTS_RECORDS_MAX)
        return 0;
    return s_refuse(why, CCM_ETOOBIG, CCM__CODE__FAILED_PRECONDITION, field,
                    "the patient's history holds %d such changes already", CCM_FACTS_RECORDS_MAX);
}

int ccm_facts_set_billing(patient_t *p, const char *npi, int64_t effective_us,
                          const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why)
{
    if (strcmp(p->billing_npi, npi) == 0)
        return CCM_EEXIST;
    const billing_period_t *last = S_LAST(p, billing_history);
    char t[32], t2[32];
    int64_t from = 0;
    /* The first billing practitioner is in force since before any month unless
     * told otherwise: patients are registered after their care began. */
    int rc = s_effective(x, "effective_us", effective_us, last ? x->now_us : 0, &from, why);
    if (rc)
        return rc;
    if (last && from < last->from_us)
        return S_PRECONDITION(why, "effective_us",
                              "%s is before the current billing practitioner's period began (%s)",
                              s_when(from, t), s_when(last->from_us, t2));
    /* A consent covers one billing practitioner (P-3): the change ends the old
     * one's, which cannot end before it was given. */
    for (size_t i = 0; i < p->n_consents; i++) {
        const consent_t *c = p->consents[i];
        if (c->status == CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE &&
            strcmp(c->billing_npi, p->billing_npi) == 0 && c->at_us > from)
            return S_PRECONDITION(why, "effective_us",
                                  "%s is before consent %s to %s was given (%s): the change can "
                                  "take effect then at the earliest",
                                  s_when(from, t), c->id, c->billing_npi, s_when(c->at_us, t2));
    }
    if ((rc = s_room(p->n_billing_history, "npi", why)) != 0)
        return rc;

    char until[11];
    ccm_facts_format_day(ccm_facts_local_day(x->tz, from - 1), until); /* last day in force */
    for (size_t i = 0; i < p->n_consents; i++) {
        consent_t *c = p->consents[i];
        if (c->status == CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE &&
            strcmp(c->billing_npi, p->billing_npi) == 0) {
            c->status = CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED;
            c->ended_us = from;
            ccm_facts_set_str(&c->effective_until, until);
        }
    }
    s_push((void ***)&p->billing_history, &p->n_billing_history,
           s_billing_period(npi, from, x->now_us, x->request_id));
    ccm_facts_set_str(&p->billing_npi, npi);
    p->change_effective_us = from;
    return 0;
}

/* A payer as lib/rules reads it ("" is MEDICARE_B). */
static ccm_payer_t s_payer(const char *s)
{
    ccm_payer_t v = CCM_PAYER_MEDICARE_B;
    if (s[0] && ccm_rules_payer_parse(s, &v) != 0)
        v = CCM_PAYER_OTHER;
    return v;
}

int ccm_facts_set_payer(patient_t *p, const char *payer, Ccm__Enrollment__QmbChange qmb,
                        int64_t effective_us, const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why)
{
    ccm_payer_t v;
    if (ccm_rules_payer_parse(payer, &v) != 0)
        return S_INVALID(why, "payer",
                         "must be MEDICARE_B, MEDICARE_ADVANTAGE, MEDICAID, COMMERCIAL or OTHER");
    if (qmb != CCM__ENROLLMENT__QMB_CHANGE__QMB_UNCHANGED &&
        qmb != CCM__ENROLLMENT__QMB_CHANGE__QMB_YES && qmb != CCM__ENROLLMENT__QMB_CHANGE__QMB_NO)
        return S_INVALID(why, "qmb", "must be QMB_UNCHANGED, QMB_YES or QMB_NO");
    bool q = qmb == CCM__ENROLLMENT__QMB_CHANGE__QMB_UNCHANGED
                 ? p->qmb
                 : qmb == CCM__ENROLLMENT__QMB_CHANGE__QMB_YES;
    if (v == s_payer(p->payer) && q == p->qmb)
        return CCM_EEXIST;
    const payer_period_t *last = S_LAST(p, payer_history);
    char t[32], t2[32];
    int64_t from = 0;
    int rc = s_effective(x, "effective_us", effective_us, x->now_us, &from, why);
    if (rc)
        return rc;
    if (last && from < last->from_us)
        return S_PRECONDITION(why, "effective_us",
                              "%s is before the current payer's period began (%s)", s_when(from, t),
                              s_when(last->from_us, t2));
    if ((rc = s_room(p->n_payer_history, "payer", why)) != 0)
        return rc;
    s_push((void ***)&p->payer_history, &p->n_payer_history,
           s_payer_period(payer, q, from, x->now_us, x->request_id));
    ccm_facts_set_str(&p->payer, payer);
    p->qmb = q;
    p->change_effective_us = from;
    return 0;
}

/* ---- conditions ---- */

/* expected_months meaning "until death". */
#define S_UNTIL_DEATH 999

static condition_t *s_active(patient_t *p, const char *icd10)
{
    for (size_t i = 0; i < p->n_conditions; i++)
        if (p->conditions[i]->resolved_us == 0 && strcmp(p->conditions[i]->icd10, icd10) == 0)
            return p->conditions[i];
    return NULL;
}

/* When the condition's latest attestation took effect. */
static int64_t s_attested_from(const condition_t *c)
{
    const attestation_t *a = S_LAST(c, attestations);
    return a ? a->from_us : c->from_us;
}

static attestation_t *s_attestation(int64_t from, int32_t months, bool high_risk, bool chronic,
                                    const ccm_facts_ctx_t *x)
{
    attestation_t *a = malloc(sizeof *a);
    if (!a)
        abort();
    ccm__enrollment__attestation__init(a);
    a->from_us = from;
    a->expected_months = months;
    a->high_risk = high_risk;
    a->chronic = chronic;
    a->recorded_us = x->now_us;
    a->request_id = ccm_facts_dup(x->request_id);
    return a;
}

/* Another attestation of active condition c from effective_us (0 = now). */
static int s_reattest(condition_t *c, const char *description, int32_t months, bool high_risk,
                      bool chronic, int64_t effective_us, const ccm_facts_ctx_t *x, int64_t *from,
                      ccm_facts_refusal_t *why)
{
    if (c->expected_months == months && c->high_risk == high_risk && c->chronic == chronic)
        return CCM_EEXIST;
    char t[32], t2[32];
    int rc = s_effective(x, "effective_us", effective_us, x->now_us, from, why);
    if (rc)
        return rc;
    if (*from < s_attested_from(c))
        return S_PRECONDITION(why, "effective_us",
                              "%s is before %s's latest attestation took effect (%s)",
                              s_when(*from, t), c->icd10, s_when(s_attested_from(c), t2));
    if ((rc = s_room(c->n_attestations, "icd10", why)) != 0)
        return rc;
    s_push((void ***)&c->attestations, &c->n_attestations,
           s_attestation(*from, months, high_risk, chronic, x));
    c->expected_months = months;
    c->high_risk = high_risk;
    c->chronic = chronic;
    if (description[0])
        ccm_facts_set_str(&c->description, description);
    return 0;
}

int ccm_facts_attest(patient_t *p, const char *icd10, const char *description,
                     int32_t expected_months, bool high_risk, bool chronic, int64_t effective_us,
                     const ccm_facts_ctx_t *x, bool *added, ccm_facts_refusal_t *why)
{
    if (expected_months < 0 || expected_months > S_UNTIL_DEATH)
        return S_INVALID(why, "expected_months",
                         "must be 0 to 998 months, or 999 for \"until death\"");
    int64_t from = 0;
    condition_t *same = s_active(p, icd10);
    *added = same == NULL;
    if (same) {
        int rc = s_reattest(same, description, expected_months, high_risk, chronic, effective_us, x,
                            &from, why);
        if (rc == 0)
            p->change_effective_us = from;
        return rc;
    }
    if (p->n_conditions >= CCM_FACTS_CONDITIONS_MAX)
        return s_refuse(why, CCM_ETOOBIG, CCM__CODE__FAILED_PRECONDITION, "icd10",
                        "the patient already has %d conditions", CCM_FACTS_CONDITIONS_MAX);
    /* A chronic condition is diagnosed, not begun, when it is recorded: it has
     * been there since before any month we bill. One that was resolved and
     * comes back recurs when it is recorded again, and never before it ended. */
    int64_t resolved = 0;
    for (size_t i = 0; i < p->n_conditions; i++)
        if (strcmp(p->conditions[i]->icd10, icd10) == 0 && p->conditions[i]->resolved_us > resolved)
            resolved = p->conditions[i]->resolved_us;
    char t[32], t2[32];
    int rc = s_effective(x, "effective_us", effective_us, resolved ? x->now_us : 0, &from, why);
    if (rc)
        return rc;
    if (resolved && from < resolved)
        return S_PRECONDITION(why, "effective_us", "%s is before %s was resolved (%s)",
                              s_when(from, t), icd10, s_when(resolved, t2));
    condition_t *c = malloc(sizeof *c);
    if (!c)
        abort();
    ccm__enrollment__condition__init(c);
    c->icd10 = ccm_facts_dup(icd10);
    c->description = ccm_facts_dup(description);
    c->added_us = x->now_us;
    c->added_request = ccm_facts_dup(x->request_id);
    c->expected_months = expected_months;
    c->high_risk = high_risk;
    c->chronic = chronic;
    c->from_us = from;
    s_push((void ***)&c->attestations, &c->n_attestations,
           s_attestation(from, expected_months, high_risk, chronic, x));
    s_push((void ***)&p->conditions, &p->n_conditions, c); /* fewer than 64: room */
    p->change_effective_us = from;
    return 0;
}

int ccm_facts_resolve(patient_t *p, const char *icd10, int64_t effective_us,
                      const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why)
{
    condition_t *c = s_active(p, icd10);
    if (!c)
        return s_refuse(why, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "icd10",
                        "patient %s has no active condition %s", p->mrn, icd10);
    char t[32], t2[32];
    int64_t at = 0;
    int rc = s_effective(x, "effective_us", effective_us, x->now_us, &at, why);
    if (rc)
        return rc;
    if (at < s_attested_from(c))
        return S_PRECONDITION(why, "effective_us",
                              "%s is before %s's latest attestation took effect (%s)",
                              s_when(at, t), icd10, s_when(s_attested_from(c), t2));
    c->resolved_us = at;
    ccm_facts_set_str(&c->resolved_request, x->request_id);
    p->change_effective_us = at;
    return 0;
}

/* ---- consent and death ---- */

int ccm_facts_consent_allowed(const patient_t *p, const char *npi, int64_t at_us,
                              ccm_facts_refusal_t *why)
{
    if (strcmp(p->billing_npi, npi) != 0)
        return S_PRECONDITION(why, "billing_npi",
                              "the patient's billing practitioner is %s; consent is given to the "
                              "billing practitioner (set it first)",
                              p->billing_npi[0] ? p->billing_npi : "not set");
    const billing_period_t *last = S_LAST(p, billing_history);
    char t[32], t2[32];
    if (last && at_us < last->from_us)
        return S_PRECONDITION(why, "at_us",
                              "%s is before %s became the billing practitioner (%s); consent is "
                              "given to the practitioner billing at its instant",
                              s_when(at_us, t), npi, s_when(last->from_us, t2));
    return 0;
}

int ccm_facts_revoke(patient_t *p, Ccm__Enrollment__Program program, int64_t at_us,
                     const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why)
{
    const ProtobufCEnumValue *name =
        protobuf_c_enum_descriptor_get_value(&ccm__enrollment__program__descriptor, (int)program);
    consent_t *c = NULL;
    for (size_t i = 0; i < p->n_consents && !c; i++)
        if (p->consents[i]->program == program &&
            p->consents[i]->status == CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE)
            c = p->consents[i];
    if (!c)
        return s_refuse(why, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "program",
                        "the patient has no active %s consent", name ? name->name : "?");
    if (at_us < 0)
        return S_INVALID(why, "at_us", "must be after 1970-01-01");
    int64_t at = at_us ? at_us : x->now_us;
    if (at > x->now_us)
        return S_INVALID(why, "at_us", "is in the future");
    if (at < c->at_us)
        return S_INVALID(why, "at_us", "is before the consent was given");
    /* Revocation takes effect at the end of the calendar month (§3, P-2). */
    int32_t y, m, d;
    ccm_tz_civil_from_days(ccm_facts_local_day(x->tz, at), &y, &m, &d);
    char until[11];
    ccm_facts_format_day(ccm_tz_days_from_civil(y, m, ccm_tz_days_in_month(y, m)), until);
    c->status = CCM__ENROLLMENT__CONSENT_STATUS__REVOKED;
    c->revoked_us = at;
    ccm_facts_set_str(&c->effective_until, until);
    p->change_effective_us = at;
    return 0;
}

int ccm_facts_record_death(patient_t *p, const char *date, int64_t at_us, const ccm_facts_ctx_t *x,
                           ccm_facts_refusal_t *why)
{
    const char *bad;
    long day, born;
    if (ccm_ident_date(date, &day, &bad) != 0)
        return S_INVALID(why, "date", "%s", bad);
    if (day > ccm_facts_local_day(x->tz, x->now_us))
        return S_INVALID(why, "date", "is in the future");
    if (ccm_ident_date(p->birth_date, &born, NULL) == 0 && day < born)
        return S_INVALID(why, "date", "is before the birth date");
    if (at_us < 0)
        return S_INVALID(why, "at_us", "must be after 1970-01-01 (or 0: the date only)");
    if (at_us > x->now_us + CCM_FACTS_CLOCK_SKEW_US)
        return S_INVALID(why, "at_us", "is in the future");
    if (at_us && ccm_facts_local_day(x->tz, at_us) != day) {
        char on[11];
        ccm_facts_format_day(ccm_facts_local_day(x->tz, at_us), on);
        return S_INVALID(why, "at_us",
                         "must fall on the date of death %s in the clinic's time zone (%s); it "
                         "is %s there",
                         date, x->tz->name, on);
    }
    if (strcmp(p->death_date, date) == 0 && p->died_us == at_us)
        return CCM_EEXIST;
    /* A correction re-opens the months from the earlier of the two days. */
    int64_t from = ccm_facts_day_start(x->tz, (int32_t)day);
    long old;
    if (p->death_date[0] && ccm_ident_date(p->death_date, &old, NULL) == 0 && old < day)
        from = ccm_facts_day_start(x->tz, (int32_t)old);
    ccm_facts_set_str(&p->death_date, date);
    p->died_us = at_us;
    p->change_effective_us = from;
    return 0;
}

/* ---- migration ---- */

bool ccm_facts_upgrade(patient_t *p, const ccm_tz_t *tz)
{
    bool changed = false;
    if (p->n_billing_history == 0 && p->billing_npi[0]) {
        s_push((void ***)&p->billing_history, &p->n_billing_history,
               s_billing_period(p->billing_npi, 0, p->created_us, ""));
        changed = true;
    }
    if (p->n_payer_history == 0) {
        s_push((void ***)&p->payer_history, &p->n_payer_history,
               s_payer_period(p->payer, p->qmb, 0, p->created_us, ""));
        changed = true;
    }
    for (size_t i = 0; i < p->n_conditions; i++) {
        condition_t *c = p->conditions[i];
        if (c->n_attestations)
            continue;
        ccm_facts_ctx_t x = {.now_us = c->added_us, .request_id = c->added_request, .tz = tz};
        s_push((void ***)&c->attestations, &c->n_attestations,
               s_attestation(c->from_us, c->expected_months, c->high_risk, c->chronic, &x));
        changed = true;
    }
    /* Such a consent was in force through its effective_until day. */
    for (size_t i = 0; i < p->n_consents; i++) {
        consent_t *c = p->consents[i];
        int32_t day;
        if (c->status != CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED || c->ended_us ||
            ccm_tz_parse_date(c->effective_until, &day) != 0)
            continue;
        c->ended_us = ccm_facts_day_start(tz, day + 1);
        changed = true;
    }
    return changed;
}

typedef struct {
    MDB_dbi patients;
    MDB_dbi meta;
    const ccm_clinics_t *clinics;
    ccm_tz_t *utc;   /* for clinics no longer configured */
    size_t upgraded; /* patients changed by the committed run */
} migration_t;

/* Upgrades one stored patient in place at the cursor; *changed says whether it had to. */
static int s_migrate_one(migration_t *m, MDB_cursor *cur, MDB_val *k, const MDB_val *v,
                         bool *changed)
{
    patient_t *p = ccm__enrollment__patient__unpack(NULL, v->mv_size, v->mv_data);
    if (!p) { /* left as it is: reading it fails as before, the rest still serve */
        const char *clinic = k->mv_data; /* key: clinic NUL mrn NUL */
        size_t n = strnlen(clinic, k->mv_size);
        ccm_error("event=corrupt_record db=patients op=migrate clinic=%.*s mrn=%.*s", (int)n,
                  clinic, n < k->mv_size ? (int)strnlen(clinic + n + 1, k->mv_size - n - 1) : 0,
                  n < k->mv_size ? clinic + n + 1 : "");
        return 0;
    }
    const ccm_clinic_info_t *c = ccm_clinics_find(m->clinics, p->clinic);
    *changed = ccm_facts_upgrade(p, c ? c->tz : m->utc);
    int rc = 0;
    if (*changed) {
        size_t len = ccm__enrollment__patient__get_packed_size(p);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
            abort();
        ccm__enrollment__patient__pack(p, buf);
        MDB_val nv = {len, buf};
        int mrc = mdb_cursor_put(cur, k, &nv, MDB_CURRENT);
        free(buf);
        if (mrc == MDB_MAP_FULL)
            rc = CCM_EMAPFULL;
        else if (mrc) {
            ccm_error("event=store_error op=migrate clinic=%s mrn=%s error=\"%s\"", p->clinic,
                      p->mrn, mdb_strerror(mrc));
            rc = CCM_EIO;
        }
    }
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

/* The batch item: every patient, then the version (replayable: it only reads
 * the transaction and overwrites m->upgraded). */
static int s_migrate_txn(MDB_txn *txn, void *item, void *ctx)
{
    (void)ctx;
    migration_t *m = item;
    m->upgraded = 0;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, m->patients, &cur) != 0)
        return CCM_EIO;
    MDB_val k, v;
    int rc = 0, mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool changed = false;
        rc = s_migrate_one(m, cur, &k, &v, &changed);
        m->upgraded += changed;
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != MDB_NOTFOUND) {
        ccm_error("event=store_error op=migrate error=\"%s\"", mdb_strerror(mrc));
        rc = CCM_EIO;
    }
    uint8_t ver[4];
    ccm_be_put_u32(ver, CCM_FACTS_VERSION);
    if (rc == 0)
        rc = ccm_store_put(txn, m->meta, CCM_FACTS_META_KEY, strlen(CCM_FACTS_META_KEY), ver,
                           sizeof ver, 0);
    return rc;
}

int ccm_facts_migrate(ccm_store_t *s, MDB_dbi patients, const ccm_clinics_t *clinics)
{
    migration_t m = {.patients = patients, .clinics = clinics};
    if (ccm_store_dbi(s, CCM_STORE_META_DB, &m.meta) != 0)
        return CCM_EIO;
    MDB_txn *txn;
    int rc = ccm_store_read_begin(s, &txn);
    if (rc)
        return rc;
    MDB_val v;
    rc = ccm_store_get(txn, m.meta, CCM_FACTS_META_KEY, strlen(CCM_FACTS_META_KEY), &v);
    uint32_t have = rc == 0 && v.mv_size == 4 ? ccm_be_get_u32(v.mv_data) : 0;
    mdb_txn_abort(txn);
    if (rc != 0 && rc != CCM_ENOTFOUND)
        return rc;
    if (have >= CCM_FACTS_VERSION)
        return 0;
    if (!(m.utc = malloc(sizeof *m.utc)))
        return CCM_ENOMEM;
    ccm_tz_fixed(m.utc, "UTC", 0);
    void *items[] = {&m};
    int item_rc = 0;
    rc = ccm_store_batch(s, items, 1, s_migrate_txn, NULL, &item_rc);
    free(m.utc);
    if (rc == 0 && item_rc != 0)
        rc = item_rc;
    if (rc == 0)
        ccm_info("event=migrated db=patients facts_version=%d patients_upgraded=%zu",
                 CCM_FACTS_VERSION, m.upgraded);
    else
        ccm_error("event=migrate_failed db=patients facts_version=%d error=\"%s\"",
                  CCM_FACTS_VERSION, ccm_strerror(rc));
    return rc;
}
