/* cmd_evaluate — offline evaluation of one patient-month: parse and validate the
 * JSON case (jansson), load the zone and the fee tables, call the pure rules
 * library, print the decision. Two forms: a single case (ccm_rules_evaluate())
 * or, with a top-level "history" object, a patient's facts over time judged for
 * the month (ccm_rules_month(), what the services call). Every validation error
 * names the field at fault ("time[2].seconds: must be positive") and exits 1. */
#include "cmd_evaluate.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/rules.h"
#include "ccm/tz.h"

#ifndef CCM_FEES_DIR_DEFAULT
#define CCM_FEES_DIR_DEFAULT "deploy/fees"
#endif

/* Parser state: the first error wins and is reported with its field path. */
typedef struct {
    char err[512];
    bool failed;
} s_ctx_t;

static bool s_err(s_ctx_t *x, const char *field, const char *fmt, ...)
{
    if (x->failed)
        return false;
    x->failed = true;
    int n = snprintf(x->err, sizeof x->err, "%s: ", field);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof x->err)
        vsnprintf(x->err + n, sizeof x->err - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static void s_path(char *buf, size_t len, const char *parent, const char *key)
{
    snprintf(buf, len, "%s%s%s", parent, *parent ? "." : "", key);
}

/* String member; NULL when absent or null (allowed only if !required). */
static bool s_get_str(s_ctx_t *x, json_t *o, const char *parent, const char *key, bool required,
                      const char **out)
{
    char f[128];
    s_path(f, sizeof f, parent, key);
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? s_err(x, f, "required") : true;
    if (!json_is_string(v))
        return s_err(x, f, "must be a string");
    *out = json_string_value(v);
    return true;
}

static bool s_get_bool(s_ctx_t *x, json_t *o, const char *parent, const char *key, bool dflt, bool *out)
{
    char f[128];
    s_path(f, sizeof f, parent, key);
    json_t *v = json_object_get(o, key);
    *out = dflt;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_boolean(v))
        return s_err(x, f, "must be true or false");
    *out = json_is_true(v);
    return true;
}

static bool s_get_int(s_ctx_t *x, json_t *o, const char *parent, const char *key, bool required,
                      int64_t dflt, int64_t *out)
{
    char f[128];
    s_path(f, sizeof f, parent, key);
    json_t *v = json_object_get(o, key);
    *out = dflt;
    if (!v || json_is_null(v))
        return required ? s_err(x, f, "required") : true;
    if (!json_is_integer(v))
        return s_err(x, f, "must be an integer");
    *out = json_integer_value(v);
    return true;
}

static bool s_get_instant(s_ctx_t *x, json_t *o, const char *parent, const char *key, int64_t *out)
{
    char f[128];
    const char *s;
    *out = CCM_INSTANT_NONE;
    if (!s_get_str(x, o, parent, key, false, &s))
        return false;
    if (!s)
        return true;
    s_path(f, sizeof f, parent, key);
    if (ccm_tz_parse_instant(s, out) != 0)
        return s_err(x, f, "'%s' is not an RFC 3339 instant with an offset", s);
    return true;
}

static bool s_get_npi(s_ctx_t *x, json_t *o, const char *parent, const char *key, bool required,
                      uint64_t *out)
{
    char f[128];
    const char *s;
    *out = 0;
    if (!s_get_str(x, o, parent, key, required, &s))
        return false;
    if (!s)
        return true;
    s_path(f, sizeof f, parent, key);
    if (ccm_rules_npi_parse(s, out) != 0)
        return s_err(x, f, "'%s' is not a 10-digit NPI", s);
    return true;
}

static bool s_get_enum(s_ctx_t *x, json_t *o, const char *parent, const char *key, bool required,
                       int (*parse)(const char *, void *), void *out, const char *allowed, bool *present)
{
    char f[128];
    const char *s;
    if (present)
        *present = false;
    if (!s_get_str(x, o, parent, key, required, &s))
        return false;
    if (!s)
        return true;
    s_path(f, sizeof f, parent, key);
    if (parse(s, out) != 0)
        return s_err(x, f, "unknown value '%s' (expected %s)", s, allowed);
    if (present)
        *present = true;
    return true;
}

#define S_CARE_PLAN_VALUES "NONE, DRAFT or ESTABLISHED"

/* Adapters so one helper parses every enum. */
static int s_p_program(const char *s, void *o) { return ccm_rules_program_parse(s, o); }
static int s_p_payer(const char *s, void *o) { return ccm_rules_payer_parse(s, o); }
static int s_p_clinic(const char *s, void *o) { return ccm_rules_clinic_parse(s, o); }
static int s_p_role(const char *s, void *o) { return ccm_rules_role_parse(s, o); }
static int s_p_service(const char *s, void *o) { return ccm_rules_service_parse(s, o); }
static int s_p_care_plan(const char *s, void *o) { return ccm_rules_care_plan_parse(s, o); }

static bool s_get_date(s_ctx_t *x, json_t *o, const char *parent, const char *key, bool *present,
                       int32_t *out)
{
    char f[128];
    const char *s;
    *present = false;
    if (!s_get_str(x, o, parent, key, false, &s))
        return false;
    if (!s)
        return true;
    s_path(f, sizeof f, parent, key);
    if (ccm_tz_parse_date(s, out) != 0)
        return s_err(x, f, "'%s' is not a YYYY-MM-DD date", s);
    *present = true;
    return true;
}

static bool s_check_icd10(s_ctx_t *x, const char *parent, const char *s)
{
    char f[128];
    size_t len = strlen(s);
    if (len < 3 || len > 8 || s[0] < 'A' || s[0] > 'Z') {
        s_path(f, sizeof f, parent, "icd10");
        return s_err(x, f, "'%s' is not an ICD-10-CM code", s);
    }
    return true;
}

/* A role that may bill (§1), as for billing_practitioner.role. */
static bool s_get_billing_role(s_ctx_t *x, json_t *o, const char *parent, ccm_role_t *out)
{
    char f[128];
    if (!s_get_enum(x, o, parent, "role", true, s_p_role, out, "PHYSICIAN, NP, PA, CNS or CNM",
                    NULL))
        return false;
    s_path(f, sizeof f, parent, "role");
    if (*out == CCM_ROLE_CLINICAL_STAFF || *out == CCM_ROLE_NON_CLINICAL)
        return s_err(x, f, "must be PHYSICIAN, NP, PA, CNS or CNM (§1)");
    return true;
}

static json_t *s_get_array(s_ctx_t *x, json_t *o, const char *key, size_t *n)
{
    json_t *v = json_object_get(o, key);
    *n = 0;
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_array(v)) {
        s_err(x, key, "must be an array");
        return NULL;
    }
    *n = json_array_size(v);
    return v;
}

static json_t *s_get_object(s_ctx_t *x, json_t *o, const char *field, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v)) {
        s_err(x, field, "must be an object");
        return NULL;
    }
    return v;
}

/* Array member at parent.key; NULL (n = 0) when absent or null. */
static json_t *s_get_array_at(s_ctx_t *x, json_t *o, const char *parent, const char *key, size_t *n)
{
    char f[128];
    json_t *v = json_object_get(o, key);
    *n = 0;
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_array(v)) {
        s_path(f, sizeof f, parent, key);
        s_err(x, f, "must be an array");
        return NULL;
    }
    *n = json_array_size(v);
    return v;
}

/* Everything the parsed case owns; freed by s_case_free. */
typedef struct {
    ccm_case_t c;
    ccm_condition_t *conditions;
    ccm_visit_t *visits;
    ccm_other_service_t *other;
    ccm_span_t *inpatient;
    ccm_time_entry_t *time;
    ccm_rules_config_t cfg;
    const char *tzname;
    bool died_date; /* died_at is to be the local start of died_day */
    int32_t died_day;
    /* history form */
    bool history;
    ccm_facts_t f;
    ccm_practitioner_period_t *practitioners;
    ccm_payer_period_t *payers;
    ccm_condition_facts_t *cfacts;
    ccm_attestation_t *attestations;
    ccm_consent_t *consents;
    ccm_care_plan_facts_t *care_plans;
    int32_t *complex_months;
} s_case_t;

static void s_case_free(s_case_t *k)
{
    free(k->conditions);
    free(k->visits);
    free(k->other);
    free(k->inpatient);
    free(k->time);
    free(k->practitioners);
    free(k->payers);
    free(k->cfacts);
    free(k->attestations);
    free(k->consents);
    free(k->care_plans);
    free(k->complex_months);
}

static void *s_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "ccmctl evaluate: out of memory\n");
        exit(1);
    }
    return p;
}

static bool s_parse_config(s_ctx_t *x, json_t *root, ccm_rules_config_t *cfg)
{
    json_t *o = s_get_object(x, root, "config", "config");
    if (!o)
        return !x->failed;
    struct {
        const char *key;
        int *ival;
        bool *bval;
    } map[] = {
        {"cap_99439", &cfg->cap_99439, NULL}, {"cap_99437", &cfg->cap_99437, NULL},
        {"cap_99489", &cfg->cap_99489, NULL}, {"cap_99425", &cfg->cap_99425, NULL},
        {"cap_99427", &cfg->cap_99427, NULL},
        {"init_lookback_months", &cfg->init_lookback_months, NULL},
        {"apcm_lookback_months", &cfg->apcm_lookback_months, NULL},
        {"timely_filing_months", &cfg->timely_filing_months, NULL},
        {"exclude_cpo_esrd", NULL, &cfg->exclude_cpo_esrd},
        {"count_after_revocation", NULL, &cfg->count_after_revocation},
        {"telehealth_initiating", NULL, &cfg->telehealth_initiating},
        {"pcm_ccm_other_practitioner_allowed", NULL, &cfg->pcm_ccm_other_practitioner_allowed},
        {"apcm_exclusion_any_practitioner", NULL, &cfg->apcm_exclusion_any_practitioner},
        {"apcm_requires_element", NULL, &cfg->apcm_requires_element},
        {"rhc_g0511_2025h1", NULL, &cfg->rhc_g0511_2025h1},
    };
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        size_t i = 0;
        for (; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(map[i].key, key) == 0)
                break;
        char f[128];
        s_path(f, sizeof f, "config", key);
        if (i == sizeof map / sizeof map[0])
            return s_err(x, f, "unknown setting");
        if (map[i].bval) {
            if (!json_is_boolean(v))
                return s_err(x, f, "must be true or false");
            *map[i].bval = json_is_true(v);
        } else {
            if (json_is_null(v) && strncmp(key, "cap_", 4) == 0) {
                *map[i].ival = CCM_CAP_NONE;
                continue;
            }
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000)
                return s_err(x, f, "must be an integer 0..1000%s",
                             strncmp(key, "cap_", 4) == 0 ? " or null (no cap)" : "");
            *map[i].ival = (int)json_integer_value(v);
        }
    }
    return true;
}

/* patient.conditions[i] of the single form, and each condition of the history
 * form: chronic, expected_months (0..1200; 999 = until death), high_risk. */
static bool s_parse_condition(s_ctx_t *x, json_t *o, const char *p, bool icd10, ccm_condition_t *c)
{
    char f[128];
    const char *s = NULL;
    int64_t months;
    if (!json_is_object(o))
        return s_err(x, p, "must be an object");
    if ((icd10 && !s_get_str(x, o, p, "icd10", true, &s)) ||
        !s_get_bool(x, o, p, "chronic", false, &c->chronic) ||
        !s_get_int(x, o, p, "expected_months", false, 0, &months) ||
        !s_get_bool(x, o, p, "high_risk", false, &c->high_risk))
        return false;
    if (icd10 && !s_check_icd10(x, p, s))
        return false;
    if (months < 0 || months > 1200) {
        s_path(f, sizeof f, p, "expected_months");
        return s_err(x, f, "must be 0..1200");
    }
    c->expected_months = (int)months;
    return true;
}

static bool s_parse_visits(s_ctx_t *x, json_t *pt, s_case_t *k)
{
    ccm_case_t *c = &k->c;
    const char *s;
    char f[128];
    size_t n;
    json_t *arr = s_get_array(x, pt, "visits", &n);
    if (x->failed)
        return s_err(x, "patient.visits", "must be an array");
    k->visits = s_calloc(n, sizeof *k->visits);
    c->visits = k->visits;
    c->n_visits = n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        ccm_visit_t *v = &k->visits[i];
        char p[64];
        snprintf(p, sizeof p, "patient.visits[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        if (!s_get_str(x, o, p, "code", true, &s))
            return false;
        v->code = ccm_rules_code_parse(s);
        s_path(f, sizeof f, p, "code");
        if (v->code == CCM_CODE_NONE)
            return s_err(x, f, "unknown code '%s'", s);
        if (!(ccm_rules_code_flags(v->code) & CCM_CODEF_VISIT))
            return s_err(x, f, "'%s' is not a visit code", s);
        if (!s_get_str(x, o, p, "date", true, &s))
            return false;
        if (ccm_tz_parse_date(s, &v->day) != 0) {
            s_path(f, sizeof f, p, "date");
            return s_err(x, f, "'%s' is not a YYYY-MM-DD date", s);
        }
        if (!s_get_npi(x, o, p, "npi", true, &v->npi) ||
            !s_get_bool(x, o, p, "g0506", false, &v->g0506) ||
            !s_get_bool(x, o, p, "telehealth", false, &v->telehealth))
            return false;
    }
    return true;
}

/* died_at (an instant) or died_date (a local date, time unknown), not both. */
static bool s_parse_death(s_ctx_t *x, json_t *o, const char *parent, s_case_t *k, int64_t *died_at)
{
    char f[128];
    if (!s_get_instant(x, o, parent, "died_at", died_at) ||
        !s_get_date(x, o, parent, "died_date", &k->died_date, &k->died_day))
        return false;
    if (k->died_date && *died_at != CCM_INSTANT_NONE) {
        s_path(f, sizeof f, parent, "died_date");
        return s_err(x, f, "not allowed with died_at (give one of them)");
    }
    return true;
}

/* The single-case form: one program, payer, practitioner, consent, care plan. */
static bool s_parse_single(s_ctx_t *x, json_t *root, s_case_t *k)
{
    ccm_case_t *c = &k->c;
    if (!s_get_enum(x, root, "", "program", true, s_p_program, &c->program, "CCM, PCM or APCM", NULL))
        return false;
    if (!s_get_enum(x, root, "", "payer", true, s_p_payer, &c->payer,
                    "MEDICARE_B, MEDICARE_ADVANTAGE, MEDICAID, COMMERCIAL or OTHER", NULL))
        return false;
    c->clinic = CCM_CLINIC_PHYSICIAN_PRACTICE;
    json_t *clinic = s_get_object(x, root, "clinic", "clinic");
    if (clinic && !s_get_enum(x, clinic, "clinic", "type", true, s_p_clinic, &c->clinic,
                              "PHYSICIAN_PRACTICE, RHC or FQHC", NULL))
        return false;
    json_t *bp = s_get_object(x, root, "billing_practitioner", "billing_practitioner");
    if (!bp)
        return x->failed ? false : s_err(x, "billing_practitioner", "required");
    if (!s_get_npi(x, bp, "billing_practitioner", "npi", true, &c->billing_npi) ||
        !s_get_billing_role(x, bp, "billing_practitioner", &c->billing_role))
        return false;

    /* patient */
    json_t *pt = s_get_object(x, root, "patient", "patient");
    if (!pt)
        return x->failed ? false : s_err(x, "patient", "required");
    if (!s_get_bool(x, pt, "patient", "qmb", false, &c->qmb) ||
        !s_parse_death(x, pt, "patient", k, &c->died_at))
        return false;
    size_t n;
    json_t *arr = s_get_array(x, pt, "conditions", &n);
    if (x->failed)
        return s_err(x, "patient.conditions", "must be an array");
    k->conditions = s_calloc(n, sizeof *k->conditions);
    c->conditions = k->conditions;
    c->n_conditions = n;
    for (size_t i = 0; i < n; i++) {
        char p[64];
        snprintf(p, sizeof p, "patient.conditions[%zu]", i);
        if (!s_parse_condition(x, json_array_get(arr, i), p, true, &k->conditions[i]))
            return false;
    }
    if (!s_parse_visits(x, pt, k))
        return false;

    /* consent */
    json_t *co = s_get_object(x, root, "consent", "consent");
    if (x->failed)
        return false;
    if (co) {
        if (!s_get_instant(x, co, "consent", "at", &c->consent_at) ||
            !s_get_npi(x, co, "consent", "npi", true, &c->consent_npi) ||
            !s_get_enum(x, co, "consent", "program", true, s_p_program, &c->consent_program,
                        "CCM, PCM or APCM", NULL) ||
            !s_get_instant(x, co, "consent", "revoked_at", &c->revoked_at))
            return false;
        c->has_consent = c->consent_at != CCM_INSTANT_NONE;
    } else {
        c->consent_at = c->revoked_at = CCM_INSTANT_NONE;
    }

    /* care plan */
    c->care_plan = CCM_CARE_PLAN_NONE;
    c->care_plan_established_at = c->care_plan_copy_given_at = CCM_INSTANT_NONE;
    json_t *cp = s_get_object(x, root, "care_plan", "care_plan");
    if (x->failed)
        return false;
    if (cp && (!s_get_enum(x, cp, "care_plan", "status", true, s_p_care_plan, &c->care_plan,
                           S_CARE_PLAN_VALUES, NULL) ||
               !s_get_instant(x, cp, "care_plan", "established_at", &c->care_plan_established_at) ||
               !s_get_instant(x, cp, "care_plan", "copy_given_at", &c->care_plan_copy_given_at)))
        return false;
    return s_get_bool(x, root, "", "complex", false, &c->complex);
}

/* The history form (see s_parse_history); these single-case fields would
 * contradict it and are refused, naming the field. */
static const char *const s_single_only[] = {"program", "payer",     "billing_practitioner",
                                            "consent", "care_plan", "complex"};
static const char *const s_single_only_patient[] = {"qmb", "died_at", "died_date", "conditions"};
static const char *const s_history_keys[] = {"billing_practitioners",
                                             "payers",
                                             "conditions",
                                             "consents",
                                             "died_at",
                                             "died_date",
                                             "care_plans",
                                             "complex_months"};

static bool s_parse_history(s_ctx_t *x, json_t *root, json_t *h, s_case_t *k)
{
    ccm_facts_t *fa = &k->f;
    char p[96], f[128];
    const char *s, *key;
    json_t *v, *arr;
    size_t n;
    for (size_t i = 0; i < sizeof s_single_only / sizeof s_single_only[0]; i++)
        if (json_object_get(root, s_single_only[i]))
            return s_err(x, s_single_only[i],
                         "not allowed with history (the month's facts come from history)");
    json_t *pt = s_get_object(x, root, "patient", "patient");
    if (x->failed)
        return false;
    for (size_t i = 0; pt && i < sizeof s_single_only_patient / sizeof s_single_only_patient[0];
         i++)
        if (json_object_get(pt, s_single_only_patient[i])) {
            s_path(f, sizeof f, "patient", s_single_only_patient[i]);
            return s_err(x, f, "not allowed with history (use history.%s)",
                         s_single_only_patient[i]);
        }
    json_object_foreach(h, key, v) {
        size_t i = 0;
        while (i < sizeof s_history_keys / sizeof s_history_keys[0] &&
               strcmp(key, s_history_keys[i]))
            i++;
        if (i == sizeof s_history_keys / sizeof s_history_keys[0]) {
            s_path(f, sizeof f, "history", key);
            return s_err(x, f, "unknown field");
        }
    }
    fa->clinic = CCM_CLINIC_PHYSICIAN_PRACTICE;
    json_t *clinic = s_get_object(x, root, "clinic", "clinic");
    if (clinic && !s_get_enum(x, clinic, "clinic", "type", true, s_p_clinic, &fa->clinic,
                              "PHYSICIAN_PRACTICE, RHC or FQHC", NULL))
        return false;
    if (x->failed)
        return false;

    /* billing practitioners over time; npi null = none assigned from then on */
    arr = s_get_array_at(x, h, "history", "billing_practitioners", &n);
    if (x->failed)
        return false;
    k->practitioners = s_calloc(n, sizeof *k->practitioners);
    for (size_t i = 0; i < n; i++) {
        ccm_practitioner_period_t *pp = &k->practitioners[i];
        json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "history.billing_practitioners[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        if (!s_get_npi(x, o, p, "npi", false, &pp->npi) ||
            !s_get_instant(x, o, p, "from", &pp->from))
            return false;
        pp->role = CCM_ROLE_PHYSICIAN;
        if ((pp->npi || json_object_get(o, "role")) && !s_get_billing_role(x, o, p, &pp->role))
            return false;
    }
    fa->practitioners = k->practitioners;
    fa->n_practitioners = n;

    arr = s_get_array_at(x, h, "history", "payers", &n);
    if (x->failed)
        return false;
    k->payers = s_calloc(n, sizeof *k->payers);
    for (size_t i = 0; i < n; i++) {
        ccm_payer_period_t *pp = &k->payers[i];
        json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "history.payers[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        if (!s_get_enum(x, o, p, "payer", true, s_p_payer, &pp->payer,
                        "MEDICARE_B, MEDICARE_ADVANTAGE, MEDICAID, COMMERCIAL or OTHER", NULL) ||
            !s_get_bool(x, o, p, "qmb", false, &pp->qmb) ||
            !s_get_instant(x, o, p, "from", &pp->from))
            return false;
    }
    fa->payers = k->payers;
    fa->n_payers = n;

    /* conditions with their attestations (one flat array for all of them) */
    arr = s_get_array_at(x, h, "history", "conditions", &n);
    if (x->failed)
        return false;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_object_get(json_array_get(arr, i), "attestations");
        total += json_is_array(a) ? json_array_size(a) : 0;
    }
    k->cfacts = s_calloc(n, sizeof *k->cfacts);
    k->attestations = s_calloc(total, sizeof *k->attestations);
    total = 0;
    for (size_t i = 0; i < n; i++) {
        ccm_condition_facts_t *cf = &k->cfacts[i];
        json_t *o = json_array_get(arr, i);
        size_t na;
        snprintf(p, sizeof p, "history.conditions[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        if (!s_get_str(x, o, p, "icd10", true, &cf->icd10) || !s_check_icd10(x, p, cf->icd10) ||
            !s_get_instant(x, o, p, "resolved_at", &cf->resolved_at))
            return false;
        json_t *att = s_get_array_at(x, o, p, "attestations", &na);
        if (x->failed)
            return false;
        if (na == 0) {
            s_path(f, sizeof f, p, "attestations");
            return s_err(x, f, "required (at least one attestation)");
        }
        cf->attestations = &k->attestations[total];
        cf->n_attestations = na;
        for (size_t j = 0; j < na; j++) {
            char q[160];
            snprintf(q, sizeof q, "%s.attestations[%zu]", p, j);
            ccm_attestation_t *a = &k->attestations[total++];
            json_t *ao = json_array_get(att, j);
            if (!s_parse_condition(x, ao, q, false, &a->c) ||
                !s_get_instant(x, ao, q, "from", &a->from))
                return false;
        }
    }
    fa->conditions = k->cfacts;
    fa->n_conditions = n;

    arr = s_get_array_at(x, h, "history", "consents", &n);
    if (x->failed)
        return false;
    k->consents = s_calloc(n, sizeof *k->consents);
    for (size_t i = 0; i < n; i++) {
        ccm_consent_t *co = &k->consents[i];
        json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "history.consents[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        if (!s_get_str(x, o, p, "id", false, &co->id) ||
            !s_get_enum(x, o, p, "program", true, s_p_program, &co->program, "CCM, PCM or APCM",
                        NULL) ||
            !s_get_npi(x, o, p, "npi", true, &co->npi) || !s_get_billing_role(x, o, p, &co->role) ||
            !s_get_instant(x, o, p, "at", &co->at) ||
            !s_get_instant(x, o, p, "revoked_at", &co->revoked_at) ||
            !s_get_instant(x, o, p, "ended_at", &co->ended_at))
            return false;
        if (!co->id)
            co->id = "";
        if (co->at == CCM_INSTANT_NONE) {
            s_path(f, sizeof f, p, "at");
            return s_err(x, f, "required");
        }
    }
    fa->consents = k->consents;
    fa->n_consents = n;

    if (!s_parse_death(x, h, "history", k, &fa->died_at))
        return false;

    arr = s_get_array_at(x, h, "history", "care_plans", &n);
    if (x->failed)
        return false;
    k->care_plans = s_calloc(n, sizeof *k->care_plans);
    for (size_t i = 0; i < n; i++) {
        ccm_care_plan_facts_t *cp = &k->care_plans[i];
        json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "history.care_plans[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        if (!s_get_enum(x, o, p, "program", true, s_p_program, &cp->program, "CCM, PCM or APCM",
                        NULL) ||
            !s_get_enum(x, o, p, "status", true, s_p_care_plan, &cp->status, S_CARE_PLAN_VALUES,
                        NULL) ||
            !s_get_instant(x, o, p, "established_at", &cp->established_at) ||
            !s_get_instant(x, o, p, "copy_given_at", &cp->copy_given_at))
            return false;
    }
    fa->care_plans = k->care_plans;
    fa->n_care_plans = n;

    arr = s_get_array_at(x, h, "history", "complex_months", &n);
    if (x->failed)
        return false;
    k->complex_months = s_calloc(n, sizeof *k->complex_months);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        snprintf(p, sizeof p, "history.complex_months[%zu]", i);
        s = json_string_value(o);
        if (!s || ccm_tz_parse_month(s, &k->complex_months[i]) != 0)
            return s_err(x, p, "must be a YYYY-MM month");
    }
    fa->complex_months = k->complex_months;
    fa->n_complex_months = n;

    /* patient: only the visit history */
    if (pt && !s_parse_visits(x, pt, k))
        return false;
    return true;
}

/* other_services, inpatient and time: the same in both forms. */
static bool s_parse_services_time(s_ctx_t *x, json_t *root, s_case_t *k)
{
    ccm_case_t *c = &k->c;
    const char *s;
    char f[128];
    size_t n;
    json_t *arr = s_get_array(x, root, "other_services", &n);
    if (x->failed)
        return false;
    k->other = s_calloc(n, sizeof *k->other);
    c->other = k->other;
    c->n_other = n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char p[64];
        snprintf(p, sizeof p, "other_services[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        if (!s_get_str(x, o, p, "code", true, &s))
            return false;
        k->other[i].code = ccm_rules_code_parse(s);
        if (k->other[i].code == CCM_CODE_NONE) {
            s_path(f, sizeof f, p, "code");
            return s_err(x, f, "unknown code '%s'", s);
        }
        if (!s_get_npi(x, o, p, "npi", true, &k->other[i].npi) || !s_get_str(x, o, p, "month", true, &s))
            return false;
        if (ccm_tz_parse_month(s, &k->other[i].month) != 0) {
            s_path(f, sizeof f, p, "month");
            return s_err(x, f, "'%s' is not YYYY-MM", s);
        }
    }

    arr = s_get_array(x, root, "inpatient", &n);
    if (x->failed)
        return false;
    k->inpatient = s_calloc(n, sizeof *k->inpatient);
    c->inpatient = k->inpatient;
    c->n_inpatient = n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char p[64];
        snprintf(p, sizeof p, "inpatient[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        if (!s_get_instant(x, o, p, "from", &k->inpatient[i].from) ||
            !s_get_instant(x, o, p, "to", &k->inpatient[i].to))
            return false;
        if (k->inpatient[i].from != CCM_INSTANT_NONE && k->inpatient[i].to != CCM_INSTANT_NONE &&
            k->inpatient[i].to < k->inpatient[i].from) {
            s_path(f, sizeof f, p, "to");
            return s_err(x, f, "is before from");
        }
    }

    arr = s_get_array(x, root, "time", &n);
    if (x->failed)
        return false;
    k->time = s_calloc(n, sizeof *k->time);
    c->time = k->time;
    c->n_time = n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        ccm_time_entry_t *t = &k->time[i];
        char p[64];
        snprintf(p, sizeof p, "time[%zu]", i);
        if (!json_is_object(o))
            return s_err(x, p, "must be an object");
        int64_t secs;
        if (!s_get_str(x, o, p, "id", true, &t->id) || !s_get_str(x, o, p, "performer", false, &s) ||
            !s_get_npi(x, o, p, "npi", false, &t->npi) ||
            !s_get_enum(x, o, p, "role", true, s_p_role, &t->role,
                        "CLINICAL_STAFF, PHYSICIAN, NP, PA, CNS, CNM or NON_CLINICAL", NULL) ||
            !s_get_bool(x, o, p, "in_us", true, &t->in_us) ||
            !s_get_enum(x, o, p, "service", true, s_p_service, &t->service,
                        "CCM, PCM, APCM, TCM, RPM or BHI", NULL) ||
            !s_get_instant(x, o, p, "start", &t->start) || !s_get_int(x, o, p, "seconds", true, 0, &secs))
            return false;
        if (t->start == CCM_INSTANT_NONE) {
            s_path(f, sizeof f, p, "start");
            return s_err(x, f, "required");
        }
        s_path(f, sizeof f, p, "seconds");
        if (t->service == CCM_SERVICE_APCM ? secs < 0 : secs <= 0)
            return s_err(x, f, t->service == CCM_SERVICE_APCM ? "must not be negative"
                                                               : "must be positive");
        if (secs > 31 * 86400)
            return s_err(x, f, "longer than a month");
        t->seconds = secs;
    }
    return true;
}
/* The whole case file: config, month, zone, as_of, then one of the two forms. */
static bool s_parse_case(s_ctx_t *x, json_t *root, s_case_t *k)
{
    ccm_case_t *c = &k->c;
    const char *s;
    bool as_of;
    if (!json_is_object(root))
        return s_err(x, "case", "must be a JSON object");
    ccm_rules_config_default(&k->cfg);
    if (!s_parse_config(x, root, &k->cfg))
        return false;
    if (!s_get_str(x, root, "", "month", true, &s))
        return false;
    if (ccm_tz_parse_month(s, &c->month) != 0)
        return s_err(x, "month", "'%s' is not YYYY-MM", s);
    if (!s_get_str(x, root, "", "timezone", true, &k->tzname))
        return false;
    json_t *h = json_object_get(root, "history");
    k->history = h && !json_is_null(h);
    if (k->history && !json_is_object(h))
        return s_err(x, "history", "must be an object");
    if (k->history ? !s_parse_history(x, root, h, k) : !s_parse_single(x, root, k))
        return false;
    /* as_of: the day the claim would be filed (timely filing, §9) */
    if (!s_get_date(x, root, "", "as_of", &as_of, &c->filing_day))
        return false;
    if (!as_of)
        c->filing_day = 0;
    if (!s_parse_services_time(x, root, k))
        return false;
    if (k->history) { /* the facts share the entries parsed above */
        ccm_facts_t *fa = &k->f;
        fa->month = c->month;
        fa->visits = c->visits;
        fa->n_visits = c->n_visits;
        fa->other = c->other;
        fa->n_other = c->n_other;
        fa->inpatient = c->inpatient;
        fa->n_inpatient = c->n_inpatient;
        fa->time = c->time;
        fa->n_time = c->n_time;
        fa->filing_day = c->filing_day;
    }
    return true;
}

static void s_day(int32_t day, char *buf, size_t len)
{
    int32_t y, m, d;
    ccm_tz_civil_from_days(day, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

static void s_reason_text(const ccm_decision_t *d, char *buf, size_t len)
{
    if (d->reason == CCM_REASON_EXCLUDED_SERVICE)
        snprintf(buf, len, "EXCLUDED_SERVICE(%s)", ccm_rules_code_name(d->reason_code));
    else
        snprintf(buf, len, "%s", ccm_rules_reason_name(d->reason));
}

/* What the history form adds: the selected case's consent, practitioner, payer. */
typedef struct {
    const char *consent_id; /* NULL: judged without a consent */
    uint64_t billing_npi;   /* 0: none */
    ccm_payer_t payer;
} s_origin_t;

static int s_print_json(const ccm_decision_t *d, const ccm_case_t *c, const s_origin_t *origin)
{
    char buf[512];
    json_t *o = json_object();
    json_object_set_new(o, "claim", json_boolean(d->claim));
    json_object_set_new(o, "program", json_string(ccm_rules_program_name(d->program)));
    if (origin) {
        json_object_set_new(o, "consent_id",
                            origin->consent_id ? json_string(origin->consent_id) : json_null());
        snprintf(buf, sizeof buf, "%010" PRIu64, origin->billing_npi);
        json_object_set_new(o, "billing_npi", origin->billing_npi ? json_string(buf) : json_null());
        json_object_set_new(o, "payer", json_string(ccm_rules_payer_name(origin->payer)));
    }
    if (d->claim) {
        json_t *lines = json_array();
        for (int i = 0; i < d->n_lines; i++) {
            s_day(d->lines[i].dos, buf, sizeof buf);
            json_array_append_new(lines, json_pack("{s:s,s:i,s:s}", "code",
                                                   ccm_rules_code_name(d->lines[i].code), "units",
                                                   d->lines[i].units, "dos", buf));
        }
        json_object_set_new(o, "lines", lines);
        s_day(d->dos, buf, sizeof buf);
        json_object_set_new(o, "dos", json_string(buf));
        json_object_set_new(o, "amount_cents", json_integer(d->amount_cents));
        json_object_set_new(o, "fee_year", json_integer(d->fee_year));
        json_object_set_new(o, "fee_stale", json_boolean(d->fee_stale));
    } else {
        s_reason_text(d, buf, sizeof buf);
        json_object_set_new(o, "reason", json_string(buf));
    }
    json_object_set_new(o, "minutes",
                        json_pack("{s:i,s:i,s:i}", "staff", d->staff_minutes, "practitioner",
                                  d->practitioner_minutes, "total", d->total_minutes));
    json_object_set_new(o, "seconds",
                        json_pack("{s:I,s:I}", "staff", (json_int_t)d->staff_seconds, "practitioner",
                                  (json_int_t)d->practitioner_seconds));
    if (d->program == CCM_PROGRAM_APCM)
        json_object_set_new(o, "apcm_elements", json_integer(d->apcm_elements));
    json_t *g = json_array();
    for (int i = 0; i < d->n_g0506; i++) {
        s_day(d->g0506[i].day, buf, sizeof buf);
        json_array_append_new(
            g, json_pack("{s:s,s:b,s:o}", "date", buf, "allowed", d->g0506[i].allowed, "reason",
                         d->g0506[i].allowed ? json_null()
                                             : json_string(ccm_rules_g0506_reason_name(d->g0506[i].reason))));
    }
    json_object_set_new(o, "g0506", g);
    json_t *r = json_array();
    for (int i = 0; i < d->n_evidence; i++) {
        ccm_rules_evidence_format(&d->evidence[i], buf, sizeof buf);
        json_array_append_new(r, json_pack("{s:s,s:s}", "rule", ccm_rules_evidence_rule(d->evidence[i].kind),
                                           "text", buf));
    }
    json_object_set_new(o, "reasons", r);
    (void)c;
    int rc = json_dumpf(o, stdout, JSON_INDENT(2)) == 0 ? 0 : 1;
    fputc('\n', stdout);
    json_decref(o);
    return rc;
}

static void s_print_text(const ccm_decision_t *d, const ccm_case_t *c, const char *tzname,
                         const s_origin_t *origin)
{
    char buf[512];
    int32_t y = c->month / 12, m = c->month % 12 + 1;
    printf("%04d-%02d %s (%s)\n", (int)y, (int)m, ccm_rules_program_name(d->program), tzname);
    if (origin) {
        if (origin->billing_npi)
            snprintf(buf, sizeof buf, "%010" PRIu64, origin->billing_npi);
        else
            snprintf(buf, sizeof buf, "none");
        printf("case:    consent %s, billing NPI %s, payer %s\n",
               origin->consent_id ? (*origin->consent_id ? origin->consent_id : "(no id)") : "none",
               buf, ccm_rules_payer_name(origin->payer));
    }
    if (d->claim) {
        printf("claim:   ");
        for (int i = 0; i < d->n_lines; i++) {
            printf("%s%s x%d", i ? " + " : "", ccm_rules_code_name(d->lines[i].code), d->lines[i].units);
            if (d->lines[i].dos != d->dos) {
                s_day(d->lines[i].dos, buf, sizeof buf);
                printf(" (%s)", buf);
            }
        }
        s_day(d->dos, buf, sizeof buf);
        printf("\nDOS:     %s\namount:  $%" PRId64 ".%02" PRId64 " (fee year %d%s)\n", buf,
               d->amount_cents / 100, d->amount_cents % 100, d->fee_year,
               d->fee_stale ? ", some amounts from another year" : "");
    } else {
        s_reason_text(d, buf, sizeof buf);
        printf("no claim: %s\n", buf);
    }
    printf("minutes: staff %d, practitioner %d, total %d\n", d->staff_minutes, d->practitioner_minutes,
           d->total_minutes);
    for (int i = 0; i < d->n_g0506; i++) {
        s_day(d->g0506[i].day, buf, sizeof buf);
        printf("G0506:   %s %s%s%s\n", buf, d->g0506[i].allowed ? "allowed" : "not allowed",
               d->g0506[i].allowed ? "" : ": ",
               d->g0506[i].allowed ? "" : ccm_rules_g0506_reason_name(d->g0506[i].reason));
    }
    printf("why:\n");
    for (int i = 0; i < d->n_evidence; i++) {
        ccm_rules_evidence_format(&d->evidence[i], buf, sizeof buf);
        printf("  [%s] %s\n", ccm_rules_evidence_rule(d->evidence[i].kind), buf);
    }
    if (d->evidence_dropped)
        printf("  (%d more)\n", d->evidence_dropped);
}

static int s_usage(void)
{
    fprintf(stderr, "usage: ccmctl evaluate CASE.json|- [--fees DIR] [--json]\n");
    return 2;
}

static const char s_help[] =
    "usage: ccmctl evaluate CASE.json|- [--fees DIR] [--json]\n"
    "Decides one patient-month offline with lib/rules (format: lib/rules/README.md).\n"
    "Single case: month, timezone, program (CCM, PCM, APCM), payer (MEDICARE_B,\n"
    "  MEDICARE_ADVANTAGE, MEDICAID, COMMERCIAL, OTHER), clinic.type (PHYSICIAN_PRACTICE,\n"
    "  RHC, FQHC), billing_practitioner {npi, role: PHYSICIAN, NP, PA, CNS, CNM},\n"
    "  patient {conditions, qmb, died_at | died_date, visits}, consent {at, npi, program,\n"
    "  revoked_at}, care_plan {status: NONE, DRAFT, ESTABLISHED; established_at,\n"
    "  copy_given_at}, complex, other_services, inpatient, time, config.\n"
    "History: a top-level \"history\" object {billing_practitioners, payers, conditions\n"
    "  with attestations, consents, died_at | died_date, care_plans, complex_months}\n"
    "  judges the month by the facts in force during it (what the services do);\n"
    "  program, payer, billing_practitioner, consent, care_plan, complex and\n"
    "  patient.qmb/died_at/died_date/conditions are then errors.\n"
    "Both: as_of YYYY-MM-DD = the filing day (timely filing, 12 months by default).\n"
    "Fees: --fees DIR, else $CCM_FEES_DIR, else the build's deploy/fees.\n"
    "Exit: 0 decided (claim or not), 1 invalid case or unreadable input, 2 usage.\n";

int ccmctl_evaluate(int argc, char **argv, bool json)
{
    const char *path = NULL, *fees_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fees") == 0) {
            if (++i >= argc)
                return s_usage();
            fees_dir = argv[i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(s_help, stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return s_usage();
        } else if (path) {
            return s_usage();
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return s_usage();
    if (!fees_dir)
        fees_dir = getenv("CCM_FEES_DIR");
    if (!fees_dir || !*fees_dir)
        fees_dir = CCM_FEES_DIR_DEFAULT;

    json_error_t jerr;
    json_t *root = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(path, 0, &jerr);
    if (!root) {
        fprintf(stderr, "ccmctl evaluate: %s: line %d column %d: %s\n", strcmp(path, "-") ? path : "stdin",
                jerr.line, jerr.column, jerr.text);
        return 1;
    }
    int rc = 1;
    s_ctx_t x = {.failed = false};
    s_case_t k;
    memset(&k, 0, sizeof k);
    ccm_tz_t *tz = malloc(sizeof *tz);
    ccm_fees_t *fees = malloc(sizeof *fees);
    ccm_month_decision_t *md = malloc(sizeof *md);
    ccm_decision_t *d = md ? &md->d : NULL;
    void *scratch_buf = NULL;
    if (!tz || !fees || !md) {
        fprintf(stderr, "ccmctl evaluate: out of memory\n");
        goto out;
    }
    if (!s_parse_case(&x, root, &k)) {
        fprintf(stderr, "ccmctl evaluate: %s\n", x.err);
        goto out;
    }
    int trc = ccm_tz_load(tz, k.tzname);
    if (trc != 0) {
        fprintf(stderr, "ccmctl evaluate: timezone: %s '%s'\n",
                trc == CCM_EIO ? "cannot read time zone" : "unknown time zone", k.tzname);
        goto out;
    }
    char ferr[512] = "";
    if (ccm_fees_load_dir(fees, fees_dir, ferr, sizeof ferr) != 0) {
        fprintf(stderr, "ccmctl evaluate: fees: %s\n", ferr);
        goto out;
    }
    if (k.died_date) { /* only the date is known: from the local start of that day */
        k.c.died_at = ccm_tz_local_to_utc(tz, (int64_t)k.died_day * 86400);
        k.c.died_date_only = true;
        k.f.died_at = k.c.died_at;
        k.f.died_date_only = true;
    }
    ccm_rules_scratch_t scratch = {NULL, k.history ? ccm_rules_month_scratch_size(&k.f)
                                                   : ccm_rules_scratch_size(&k.c)};
    scratch_buf = malloc(scratch.size ? scratch.size : 1);
    if (!scratch_buf) {
        fprintf(stderr, "ccmctl evaluate: out of memory\n");
        goto out;
    }
    scratch.buf = scratch_buf;
    int32_t bad = -1;
    int erc = k.history ? ccm_rules_month(&k.cfg, fees, tz, &k.f, &scratch, md, &bad)
                        : ccm_rules_evaluate(&k.cfg, fees, tz, &k.c, &scratch, d, &bad);
    if (erc != 0) {
        if (bad >= 0)
            fprintf(stderr, "ccmctl evaluate: time[%d]: invalid entry\n", (int)bad);
        else if (k.history && erc == CCM_EINVAL) /* the parser checked everything else */
            fprintf(stderr,
                    "ccmctl evaluate: history.consents: more than %d consents in force during "
                    "the month\n",
                    CCM_RULES_MAX_MONTH_CASES);
        else
            fprintf(stderr, "ccmctl evaluate: case: invalid (%d)\n", erc);
        goto out;
    }
    s_origin_t origin = {NULL, 0, CCM_PAYER_MEDICARE_B};
    if (k.history) {
        origin.consent_id = md->consent >= 0 ? k.f.consents[md->consent].id : NULL;
        origin.billing_npi = md->billing_npi;
        origin.payer = md->payer;
    }
    if (json)
        rc = s_print_json(d, &k.c, k.history ? &origin : NULL);
    else {
        s_print_text(d, &k.c, k.tzname, k.history ? &origin : NULL);
        rc = 0;
    }
out:
    free(scratch_buf);
    free(md);
    free(fees);
    free(tz);
    s_case_free(&k);
    json_decref(root);
    return rc;
}
