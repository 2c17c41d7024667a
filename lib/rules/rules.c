/* rules — evaluation of one patient-month against docs/medicare-rules.md.
 * Pure: no I/O, no clock, no globals, no allocation (the caller passes scratch).
 * Order of work: gates G0–G5, countable time (P-1…P-11, one sweep over
 * interval edges), G6, death-day review, G0506 verdicts, candidates A–E /
 * G0511 / APCM, selection, the G0506 line, timely filing. Every step appends
 * evidence that names the rule it applied. */
#include "ccm/rules.h"

#include <stdio.h>
#include <string.h>

#include "ccm/error.h"

/* ---- catalogue ------------------------------------------------------------ */

static const char *const s_code_name[CCM_CODE_COUNT] = {
    "",
#define CCM_X(e, s, f, from, to) s,
    CCM_CODES(CCM_X)
#undef CCM_X
};

static const unsigned s_code_flags[CCM_CODE_COUNT] = {
    0,
#define CCM_X(e, s, f, from, to) f,
    CCM_CODES(CCM_X)
#undef CCM_X
};

static const int32_t s_code_from[CCM_CODE_COUNT] = {
    0,
#define CCM_X(e, s, f, from, to) from,
    CCM_CODES(CCM_X)
#undef CCM_X
};

static const int32_t s_code_to[CCM_CODE_COUNT] = {
    0,
#define CCM_X(e, s, f, from, to) to,
    CCM_CODES(CCM_X)
#undef CCM_X
};

const char *ccm_rules_code_name(ccm_code_t code)
{
    return code > CCM_CODE_NONE && code < CCM_CODE_COUNT ? s_code_name[code] : "";
}

ccm_code_t ccm_rules_code_parse(const char *s)
{
    if (!s)
        return CCM_CODE_NONE;
    for (int i = 1; i < CCM_CODE_COUNT; i++)
        if (strcmp(s, s_code_name[i]) == 0)
            return (ccm_code_t)i;
    return CCM_CODE_NONE;
}

unsigned ccm_rules_code_flags(ccm_code_t code)
{
    return code > CCM_CODE_NONE && code < CCM_CODE_COUNT ? s_code_flags[code] : 0;
}

static int32_t s_ymd_day(int32_t ymd)
{
    return ccm_tz_days_from_civil(ymd / 10000, ymd / 100 % 100, ymd % 100);
}

bool ccm_rules_code_effective(ccm_code_t code, int32_t day)
{
    if (code <= CCM_CODE_NONE || code >= CCM_CODE_COUNT)
        return false;
    if (s_code_from[code] && day < s_ymd_day(s_code_from[code]))
        return false;
    if (s_code_to[code] && day > s_ymd_day(s_code_to[code]))
        return false;
    return true;
}

/* ---- enum names ----------------------------------------------------------- */

static int s_parse(const char *s, const char *const *names, int n, int *out)
{
    if (!s)
        return CCM_EINVAL;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return CCM_EINVAL;
}

static const char *const s_program[] = {"CCM", "PCM", "APCM"};
static const char *const s_payer[] = {"MEDICARE_B", "MEDICARE_ADVANTAGE", "MEDICAID", "COMMERCIAL",
                                      "OTHER"};
static const char *const s_clinic[] = {"PHYSICIAN_PRACTICE", "RHC", "FQHC"};
static const char *const s_role[] = {"CLINICAL_STAFF", "PHYSICIAN", "NP", "PA", "CNS", "CNM",
                                     "NON_CLINICAL"};
static const char *const s_service[] = {"CCM", "PCM", "APCM", "TCM", "RPM", "BHI"};
static const char *const s_care_plan[] = {"NONE", "DRAFT", "ESTABLISHED"};

#define S_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *ccm_rules_program_name(ccm_program_t p)
{
    return (unsigned)p < (unsigned)S_N(s_program) ? s_program[p] : "?";
}
int ccm_rules_program_parse(const char *s, ccm_program_t *out)
{
    int v, rc = s_parse(s, s_program, S_N(s_program), &v);
    if (rc == 0)
        *out = (ccm_program_t)v;
    return rc;
}
const char *ccm_rules_payer_name(ccm_payer_t p)
{
    return (unsigned)p < (unsigned)S_N(s_payer) ? s_payer[p] : "?";
}
int ccm_rules_payer_parse(const char *s, ccm_payer_t *out)
{
    int v, rc = s_parse(s, s_payer, S_N(s_payer), &v);
    if (rc == 0)
        *out = (ccm_payer_t)v;
    return rc;
}
int ccm_rules_clinic_parse(const char *s, ccm_clinic_t *out)
{
    int v, rc = s_parse(s, s_clinic, S_N(s_clinic), &v);
    if (rc == 0)
        *out = (ccm_clinic_t)v;
    return rc;
}
const char *ccm_rules_role_name(ccm_role_t r)
{
    return (unsigned)r < (unsigned)S_N(s_role) ? s_role[r] : "?";
}
int ccm_rules_role_parse(const char *s, ccm_role_t *out)
{
    int v, rc = s_parse(s, s_role, S_N(s_role), &v);
    if (rc == 0)
        *out = (ccm_role_t)v;
    return rc;
}
const char *ccm_rules_service_name(ccm_service_t s)
{
    return (unsigned)s < (unsigned)S_N(s_service) ? s_service[s] : "?";
}
int ccm_rules_service_parse(const char *s, ccm_service_t *out)
{
    int v, rc = s_parse(s, s_service, S_N(s_service), &v);
    if (rc == 0)
        *out = (ccm_service_t)v;
    return rc;
}
int ccm_rules_care_plan_parse(const char *s, ccm_care_plan_t *out)
{
    int v, rc = s_parse(s, s_care_plan, S_N(s_care_plan), &v);
    if (rc == 0)
        *out = (ccm_care_plan_t)v;
    return rc;
}

int ccm_rules_npi_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || strlen(s) != 10 || s[0] == '0')
        return CCM_EINVAL;
    for (int i = 0; i < 10; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CCM_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static const char *const s_reason[] = {
    "NONE", "NOT_PART_B_FFS", "NOT_ELIGIBLE_CONDITIONS", "NO_CONSENT", "CONSENT_REVOKED",
    "INITIATING_VISIT_MISSING", "CARE_PLAN_MISSING", "EXCLUDED_SERVICE",
    "OTHER_PRACTITIONER_BILLED", "INPATIENT_WHOLE_MONTH", "BELOW_THRESHOLD", "CODE_NOT_EFFECTIVE",
    "TIMELY_FILING", "DEATH_DAY_REVIEW"};

const char *ccm_rules_reason_name(ccm_reason_t r)
{
    return (unsigned)r < (unsigned)S_N(s_reason) ? s_reason[r] : "?";
}

static const char *const s_g0506_reason[] = {"ALLOWED", "NOT_INITIATING_VISIT", "OTHER_PRACTITIONER",
                                             "ALREADY_BILLED", "NO_CONSENT"};

const char *ccm_rules_g0506_reason_name(ccm_g0506_reason_t r)
{
    return (unsigned)r < (unsigned)S_N(s_g0506_reason) ? s_g0506_reason[r] : "?";
}

void ccm_rules_config_default(ccm_rules_config_t *cfg)
{
    cfg->cap_99439 = 2;
    cfg->cap_99437 = 2;
    cfg->cap_99489 = CCM_CAP_NONE;
    cfg->cap_99425 = 2;
    cfg->cap_99427 = 2;
    cfg->exclude_cpo_esrd = true;
    cfg->count_after_revocation = true;
    cfg->telehealth_initiating = false;
    cfg->pcm_ccm_other_practitioner_allowed = true;
    cfg->apcm_exclusion_any_practitioner = false;
    cfg->apcm_requires_element = true;
    cfg->rhc_g0511_2025h1 = false;
    cfg->init_lookback_months = 12;
    cfg->apcm_lookback_months = 36;
    cfg->timely_filing_months = 12;
}

/* ---- evidence --------------------------------------------------------------- */

static const char *const s_ev_rule[CCM_EV_COUNT] = {
    [CCM_EV_PAYER_OK] = "G0", [CCM_EV_PAYER_FAIL] = "G0",
    [CCM_EV_ELIGIBLE] = "G1", [CCM_EV_NOT_ELIGIBLE] = "G1", [CCM_EV_APCM_TIER] = "§2-APCM",
    [CCM_EV_COMPLEX_IGNORED] = "§2-COMPLEX",
    [CCM_EV_CONSENT_OK] = "G2", [CCM_EV_CONSENT_MISSING] = "G2", [CCM_EV_CONSENT_OTHER_NPI] = "P-3",
    [CCM_EV_CONSENT_OTHER_PROGRAM] = "§3-PROGRAM", [CCM_EV_CONSENT_AFTER_MONTH] = "P-1",
    [CCM_EV_CONSENT_REVOKED_EARLIER] = "P-2", [CCM_EV_CONSENT_REVOKED_THIS_MONTH] = "P-2",
    [CCM_EV_VISIT_NOT_REQUIRED] = "P-4", [CCM_EV_VISIT_DONE] = "P-5", [CCM_EV_VISIT_MISSING] = "G3",
    [CCM_EV_VISIT_TELEHEALTH] = "§4-TELEHEALTH",
    [CCM_EV_CARE_PLAN_OK] = "P-6", [CCM_EV_CARE_PLAN_DRAFT] = "P-6", [CCM_EV_CARE_PLAN_LATE] = "P-6",
    [CCM_EV_CARE_PLAN_NO_COPY] = "P-6",
    [CCM_EV_EXCLUDED] = "G5", [CCM_EV_OTHER_PRACTITIONER] = "G5", [CCM_EV_ALLOWED_WITH] = "§10",
    [CCM_EV_EXCLUSIONS_OK] = "G5",
    [CCM_EV_INPATIENT_WHOLE_MONTH] = "G6", [CCM_EV_NOT_INPATIENT_WHOLE_MONTH] = "G6",
    [CCM_EV_DUPLICATE] = "P-7", [CCM_EV_NON_CLINICAL] = "P-11", [CCM_EV_OUTSIDE_US] = "P-11",
    [CCM_EV_OTHER_SERVICE] = "P-11", [CCM_EV_BEFORE_CONSENT] = "P-1", [CCM_EV_BEFORE_VISIT] = "P-5",
    [CCM_EV_AFTER_DEATH] = "P-11", [CCM_EV_AFTER_REVOCATION] = "P-2", [CCM_EV_SPLIT_MONTH] = "P-8",
    [CCM_EV_INPATIENT_TIME] = "P-11", [CCM_EV_OVERLAP] = "P-9", [CCM_EV_TIME_TOTAL] = "P-10",
    [CCM_EV_APCM_ELEMENTS] = "§8-APCM",
    [CCM_EV_CANDIDATE] = "§8", [CCM_EV_CAP] = "§7-CAP", [CCM_EV_NO_CANDIDATE] = "§8",
    [CCM_EV_SELECTED] = "§8-SELECT", [CCM_EV_DOS] = "P-13", [CCM_EV_FEE] = "§11",
    [CCM_EV_FEE_STALE] = "P-14", [CCM_EV_FEE_MISSING] = "P-14", [CCM_EV_RHC_G0511] = "§9-RHC",
    [CCM_EV_RHC_G0511_CLOSED] = "§9-RHC", [CCM_EV_CODE_NOT_EFFECTIVE] = "§7",
    [CCM_EV_CONSENT_ENDED] = "P-3", [CCM_EV_AFTER_CONSENT_END] = "P-3",
    [CCM_EV_DEATH_DAY] = "P-11", [CCM_EV_TIMELY_FILING] = "§9-FILING",
    [CCM_EV_G0506_LINE] = "§4-G0506", [CCM_EV_MONTH_CASE] = "§10-ONE",
};

const char *ccm_rules_evidence_rule(ccm_ev_t kind)
{
    return (unsigned)kind < CCM_EV_COUNT && s_ev_rule[kind] ? s_ev_rule[kind] : "?";
}

static void s_fmt_day(int32_t day, char *buf, size_t len)
{
    int32_t y, m, d;
    ccm_tz_civil_from_days(day, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

static void s_fmt_instant(int64_t t, char *buf, size_t len)
{
    int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sec = t - day * 86400;
    int32_t y, m, d;
    ccm_tz_civil_from_days((int32_t)day, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
}

static const char *const s_letter_text[] = {"A 99490+99439", "B 99491+99437", "C 99487+99489",
                                            "D 99426+99427", "E 99424+99425", "G G0511",
                                            "P APCM"};

static const char *s_letter(int64_t l)
{
    switch (l) {
    case 'A': return s_letter_text[0];
    case 'B': return s_letter_text[1];
    case 'C': return s_letter_text[2];
    case 'D': return s_letter_text[3];
    case 'E': return s_letter_text[4];
    case 'G': return s_letter_text[5];
    default: return s_letter_text[6];
    }
}

int ccm_rules_evidence_format(const ccm_evidence_t *ev, char *buf, size_t len)
{
    char d1[32];
    const char *code = ccm_rules_code_name(ev->code);
    const int i = (int)ev->index;
    const long long a = (long long)ev->a, b = (long long)ev->b;
    switch (ev->kind) {
    case CCM_EV_PAYER_OK: return snprintf(buf, len, "payer is Medicare Part B FFS");
    case CCM_EV_PAYER_FAIL: return snprintf(buf, len, "payer is not Medicare Part B FFS");
    case CCM_EV_ELIGIBLE:
        return snprintf(buf, len, "%lld qualifying chronic condition(s), %lld needed", a, b);
    case CCM_EV_NOT_ELIGIBLE:
        return snprintf(buf, len, "only %lld qualifying chronic condition(s), %lld needed", a, b);
    case CCM_EV_APCM_TIER:
        return snprintf(buf, len, "APCM tier %s: %lld chronic condition(s), QMB %s", code, a,
                        b ? "yes" : "no");
    case CCM_EV_COMPLEX_IGNORED:
        return snprintf(buf, len, "complex flag set but program is not CCM; ignored");
    case CCM_EV_CONSENT_OK:
        s_fmt_instant(a, d1, sizeof d1);
        return snprintf(buf, len, "consent for this practitioner and program since %s", d1);
    case CCM_EV_CONSENT_MISSING: return snprintf(buf, len, "no consent on record");
    case CCM_EV_CONSENT_OTHER_NPI:
        return snprintf(buf, len, "consent names another billing practitioner; new consent needed");
    case CCM_EV_CONSENT_OTHER_PROGRAM:
        return snprintf(buf, len, "consent is for another program; this program needs its own");
    case CCM_EV_CONSENT_AFTER_MONTH:
        s_fmt_instant(a, d1, sizeof d1);
        return snprintf(buf, len, "consent at %s is after the month ends", d1);
    case CCM_EV_CONSENT_REVOKED_EARLIER:
        s_fmt_instant(a, d1, sizeof d1);
        return snprintf(buf, len, "consent revoked at %s, in an earlier month", d1);
    case CCM_EV_CONSENT_REVOKED_THIS_MONTH:
        s_fmt_instant(a, d1, sizeof d1);
        return snprintf(buf, len, "consent revoked at %s, this month: month stays billable, later minutes %s",
                        d1, b ? "count" : "do not count");
    case CCM_EV_VISIT_NOT_REQUIRED:
        s_fmt_day((int32_t)a, d1, sizeof d1);
        return snprintf(buf, len, "visits[%d] on %s is within %lld months before the start: no initiating visit needed",
                        i, d1, b);
    case CCM_EV_VISIT_DONE:
        s_fmt_day((int32_t)a, d1, sizeof d1);
        return snprintf(buf, len, "initiating visit visits[%d] %s on %s; minutes before that day do not count",
                        i, code, d1);
    case CCM_EV_VISIT_MISSING:
        return snprintf(buf, len, "new patient or not seen in %lld months: no initiating visit by the billing practitioner by month end",
                        b);
    case CCM_EV_VISIT_TELEHEALTH:
        return snprintf(buf, len, "visits[%d] was telehealth; not accepted as initiating visit", i);
    case CCM_EV_CARE_PLAN_OK: return snprintf(buf, len, "care plan established and copy given to patient");
    case CCM_EV_CARE_PLAN_DRAFT: return snprintf(buf, len, "care plan is not ESTABLISHED");
    case CCM_EV_CARE_PLAN_LATE: return snprintf(buf, len, "care plan established only after the month ended");
    case CCM_EV_CARE_PLAN_NO_COPY:
        return snprintf(buf, len, "no record of a care-plan copy given to the patient by month end");
    case CCM_EV_EXCLUDED:
        return snprintf(buf, len, "other_services[%d] %s this month excludes the program", i, code);
    case CCM_EV_OTHER_PRACTITIONER:
        return snprintf(buf, len, "other_services[%d] %s billed by another practitioner this month", i, code);
    case CCM_EV_ALLOWED_WITH:
        return snprintf(buf, len, "other_services[%d] %s this month is allowed alongside", i, code);
    case CCM_EV_EXCLUSIONS_OK: return snprintf(buf, len, "no excluding service this month");
    case CCM_EV_INPATIENT_WHOLE_MONTH: return snprintf(buf, len, "inpatient for the whole month");
    case CCM_EV_NOT_INPATIENT_WHOLE_MONTH: return snprintf(buf, len, "not inpatient for the whole month");
    case CCM_EV_DUPLICATE:
        return snprintf(buf, len, "time[%d] repeats the event id of time[%lld]; counted once", i, a);
    case CCM_EV_NON_CLINICAL: return snprintf(buf, len, "time[%d] by non-clinical staff does not count", i);
    case CCM_EV_OUTSIDE_US: return snprintf(buf, len, "time[%d] furnished outside the US does not count", i);
    case CCM_EV_OTHER_SERVICE:
        return snprintf(buf, len, "time[%d] is tagged %s, not this program; not counted", i,
                        ccm_rules_service_name((ccm_service_t)a));
    case CCM_EV_BEFORE_CONSENT:
        return snprintf(buf, len, "time[%d]: %lld s before consent not counted", i, a);
    case CCM_EV_BEFORE_VISIT:
        return snprintf(buf, len, "time[%d]: %lld s before the initiating visit day not counted", i, a);
    case CCM_EV_AFTER_DEATH: return snprintf(buf, len, "time[%d]: %lld s after death not counted", i, a);
    case CCM_EV_AFTER_REVOCATION:
        return snprintf(buf, len, "time[%d]: %lld s after revocation not counted", i, a);
    case CCM_EV_SPLIT_MONTH:
        return snprintf(buf, len, "time[%d] crosses the month boundary: %lld of %lld s fall in the month", i, a, b);
    case CCM_EV_INPATIENT_TIME:
        return snprintf(buf, len, "%lld s during inpatient stays not counted", a);
    case CCM_EV_OVERLAP:
        return snprintf(buf, len, "%lld s of overlapping time counted once (practitioner first)", a);
    case CCM_EV_TIME_TOTAL:
        return snprintf(buf, len, "practitioner %lld s, staff %lld s: T=%lld min, P=%lld min", a, b,
                        (a + b) / 60, a / 60);
    case CCM_EV_APCM_ELEMENTS:
        return snprintf(buf, len, "%lld documented APCM service element(s) this month", a);
    case CCM_EV_CANDIDATE:
        return snprintf(buf, len, "candidate %s pays %lld.%02lld", s_letter(a), b / 100, b % 100);
    case CCM_EV_CAP:
        return snprintf(buf, len, "%s: %lld unit(s) earned, capped at %lld", code, a, b);
    case CCM_EV_NO_CANDIDATE: return snprintf(buf, len, "no code threshold reached");
    case CCM_EV_SELECTED:
        return snprintf(buf, len, "selected %s: highest payment (ties A>C>B, D>E)", s_letter(a));
    case CCM_EV_DOS:
        s_fmt_day((int32_t)a, d1, sizeof d1);
        return snprintf(buf, len, "date of service %s: local day the base threshold was reached", d1);
    case CCM_EV_FEE:
        return snprintf(buf, len, "%s: %lld.%02lld per unit, fee year %lld", code, a / 100, a % 100, b);
    case CCM_EV_FEE_STALE:
        return snprintf(buf, len, "%s: no amount for %lld; using %lld (stale table)", code, b, a);
    case CCM_EV_FEE_MISSING: return snprintf(buf, len, "%s: no amount in any fee year; counted as 0", code);
    case CCM_EV_RHC_G0511: return snprintf(buf, len, "RHC/FQHC bills G0511 for this month");
    case CCM_EV_RHC_G0511_CLOSED:
        return snprintf(buf, len, "RHC/FQHC: G0511 ended 2025-06-30; individual codes only");
    case CCM_EV_CODE_NOT_EFFECTIVE:
        return snprintf(buf, len, "%s does not exist on the date of service", code);
    case CCM_EV_CONSENT_ENDED:
        s_fmt_instant(a, d1, sizeof d1);
        return snprintf(buf, len, "consent ended at %s: the billing practitioner changed", d1);
    case CCM_EV_AFTER_CONSENT_END:
        return snprintf(buf, len, "time[%d]: %lld s after the consent ended not counted", i, a);
    case CCM_EV_DEATH_DAY:
        return snprintf(buf, len,
                        "time[%d] lies on the day of death and the time of death is unknown: "
                        "review needed",
                        i);
    case CCM_EV_TIMELY_FILING:
        s_fmt_day((int32_t)a, d1, sizeof d1);
        return snprintf(buf, len, "date of service %s is past the timely filing limit", d1);
    case CCM_EV_G0506_LINE:
        s_fmt_day((int32_t)a, d1, sizeof d1);
        return snprintf(buf, len, "G0506 with the initiating visit visits[%d] of %s", i, d1);
    case CCM_EV_MONTH_CASE:
        return snprintf(buf, len, "month judged for consent %lld of program %s", a,
                        ccm_rules_program_name((ccm_program_t)b));
    case CCM_EV_COUNT: break;
    }
    return snprintf(buf, len, "?");
}

/* ---- evaluation ------------------------------------------------------------- */

/* Interval edge for the sweep: P/S/I open or close at t. */
typedef struct {
    int64_t t;
    int32_t kind; /* 0 P+, 1 P-, 2 S+, 3 S-, 4 I+, 5 I- */
    int32_t pad;
} s_edge_t;

size_t ccm_rules_scratch_size(const ccm_case_t *c)
{
    return 2 * (c->n_time + c->n_inpatient + 1) * sizeof(s_edge_t);
}

static void s_ev(ccm_decision_t *out, ccm_ev_t kind, int32_t index, ccm_code_t code, int64_t a, int64_t b)
{
    if (out->n_evidence >= CCM_RULES_MAX_EVIDENCE) {
        out->evidence_dropped++;
        return;
    }
    ccm_evidence_t *e = &out->evidence[out->n_evidence++];
    e->kind = kind;
    e->index = index;
    e->code = code;
    e->a = a;
    e->b = b;
}

static void s_fail(ccm_decision_t *out, ccm_reason_t r, ccm_code_t code)
{
    if (out->reason == CCM_REASON_NONE) {
        out->reason = r;
        out->reason_code = code;
    }
}

static void s_sort_edges(s_edge_t *e, size_t n)
{
    if (n <= 32) { /* typical patient-month: a handful of entries */
        for (size_t i = 1; i < n; i++) {
            s_edge_t x = e[i];
            size_t j = i;
            while (j > 0 && e[j - 1].t > x.t) {
                e[j] = e[j - 1];
                j--;
            }
            e[j] = x;
        }
        return;
    }
    /* heapsort: in place, O(n log n), no recursion */
    for (size_t start = n / 2; start-- > 0;) {
        size_t root = start;
        for (;;) {
            size_t child = 2 * root + 1;
            if (child >= n)
                break;
            if (child + 1 < n && e[child].t < e[child + 1].t)
                child++;
            if (e[root].t >= e[child].t)
                break;
            s_edge_t tmp = e[root];
            e[root] = e[child];
            e[child] = tmp;
            root = child;
        }
    }
    for (size_t end = n - 1; end > 0; end--) {
        s_edge_t tmp = e[0];
        e[0] = e[end];
        e[end] = tmp;
        size_t root = 0;
        for (;;) {
            size_t child = 2 * root + 1;
            if (child >= end)
                break;
            if (child + 1 < end && e[child].t < e[child + 1].t)
                child++;
            if (e[root].t >= e[child].t)
                break;
            tmp = e[root];
            e[root] = e[child];
            e[child] = tmp;
            root = child;
        }
    }
}

/* Day `months` calendar months before `day`, clamping the day of month (P-4). */
static int32_t s_months_before(int32_t day, int months)
{
    int32_t y, m, d;
    ccm_tz_civil_from_days(day, &y, &m, &d);
    int32_t idx = y * 12 + (m - 1) - months;
    y = idx / 12;
    m = idx % 12 + 1;
    int dim = ccm_tz_days_in_month(y, m);
    return ccm_tz_days_from_civil(y, m, d > dim ? dim : d);
}

static bool s_is_practitioner_role(ccm_role_t r)
{
    return r == CCM_ROLE_PHYSICIAN || r == CCM_ROLE_NP || r == CCM_ROLE_PA || r == CCM_ROLE_CNS ||
           r == CCM_ROLE_CNM;
}

/* Time sums produced by the sweep. */
typedef struct {
    int64_t p, s;            /* countable practitioner / staff-only seconds */
    int64_t inpatient_month; /* seconds of the month covered by inpatient stays */
    int64_t inpatient_cut;   /* countable-looking seconds removed as inpatient */
    int64_t raw;             /* sum of clipped entry seconds before merging */
    int64_t reach_t[3];      /* instants T reached 20/30/60 min, or NONE */
    int64_t reach_p30;       /* instant P reached 30 min, or NONE */
    int apcm_elements;
    int64_t apcm_first;      /* earliest APCM element instant */
    bool death_day;          /* a countable entry lies on the day of death (time unknown) */
} s_time_t;

static void s_cross(int64_t cum, int64_t len, int64_t at, int64_t thr, int64_t *reach)
{
    if (*reach == CCM_INSTANT_NONE && cum < thr && cum + len >= thr)
        *reach = at + (thr - cum);
}

typedef struct {
    int64_t lo_consent;  /* P-1 */
    int64_t lo_visit;    /* P-5, or NONE */
    int64_t hi_death;    /* P-11, or NONE */
    int64_t hi_revoked;  /* P-2 when revocation stops counting, or NONE */
    int64_t hi_ended;    /* P-3 consent ended (practitioner changed), or NONE */
    int64_t death_day_end; /* died_date_only: end of the day of death, else NONE */
} s_cuts_t;

static int s_time(const ccm_rules_config_t *cfg, const ccm_case_t *c, const s_cuts_t *cut,
                  ccm_rules_scratch_t *scratch, ccm_decision_t *out, s_time_t *r, int32_t *bad)
{
    const int64_t ms = out->month_start, me = out->month_end;
    const ccm_service_t want = c->program == CCM_PROGRAM_CCM   ? CCM_SERVICE_CCM
                               : c->program == CCM_PROGRAM_PCM ? CCM_SERVICE_PCM
                                                               : CCM_SERVICE_APCM;
    (void)cfg;
    s_edge_t *e = scratch->buf;
    size_t n = 0;
    memset(r, 0, sizeof *r);
    r->reach_t[0] = r->reach_t[1] = r->reach_t[2] = r->reach_p30 = CCM_INSTANT_NONE;
    r->apcm_first = CCM_INSTANT_NONE;

    for (size_t i = 0; i < c->n_time; i++) {
        const ccm_time_entry_t *t = &c->time[i];
        const int32_t ix = (int32_t)i;
        if (t->seconds < 0 || (t->seconds == 0 && t->service != CCM_SERVICE_APCM) ||
            (unsigned)t->role > CCM_ROLE_NON_CLINICAL || (unsigned)t->service > CCM_SERVICE_BHI ||
            t->start > INT64_MAX / 2 || t->start < INT64_MIN / 2 || t->seconds > INT64_MAX / 4) {
            if (bad)
                *bad = ix;
            return CCM_EINVAL;
        }
        int64_t s = t->start, en = t->start + t->seconds;
        if (t->seconds == 0 ? (s < ms || s >= me) : (en <= ms || s >= me))
            continue; /* another month of the history (§13) */
        if (t->id) {
            size_t j = 0;
            for (; j < i; j++)
                if (c->time[j].id && strcmp(c->time[j].id, t->id) == 0)
                    break;
            if (j < i) {
                s_ev(out, CCM_EV_DUPLICATE, ix, CCM_CODE_NONE, (int64_t)j, 0);
                continue;
            }
        }
        if (t->role == CCM_ROLE_NON_CLINICAL) {
            s_ev(out, CCM_EV_NON_CLINICAL, ix, CCM_CODE_NONE, 0, 0);
            continue;
        }
        if (!t->in_us) {
            s_ev(out, CCM_EV_OUTSIDE_US, ix, CCM_CODE_NONE, 0, 0);
            continue;
        }
        if (t->service != want) {
            s_ev(out, CCM_EV_OTHER_SERVICE, ix, CCM_CODE_NONE, t->service, 0);
            continue;
        }
        if (t->seconds == 0 || want == CCM_SERVICE_APCM) {
            /* APCM: a documented element counts, not its minutes. */
            ccm_ev_t why = CCM_EV_COUNT;
            if (s < cut->lo_consent)
                why = CCM_EV_BEFORE_CONSENT;
            else if (cut->lo_visit != CCM_INSTANT_NONE && s < cut->lo_visit)
                why = CCM_EV_BEFORE_VISIT;
            else if (cut->hi_revoked != CCM_INSTANT_NONE && s >= cut->hi_revoked)
                why = CCM_EV_AFTER_REVOCATION;
            else if (cut->hi_ended != CCM_INSTANT_NONE && s >= cut->hi_ended)
                why = CCM_EV_AFTER_CONSENT_END;
            else if (cut->hi_death != CCM_INSTANT_NONE && s >= cut->hi_death) {
                if (cut->death_day_end != CCM_INSTANT_NONE && s < cut->death_day_end) {
                    s_ev(out, CCM_EV_DEATH_DAY, ix, CCM_CODE_NONE, 0, 0);
                    r->death_day = true;
                }
                why = CCM_EV_AFTER_DEATH;
            }
            if (why != CCM_EV_COUNT) {
                s_ev(out, why, ix, CCM_CODE_NONE, t->seconds, 0);
                continue;
            }
            if (s < ms)
                s = ms;
            r->apcm_elements++;
            if (r->apcm_first == CCM_INSTANT_NONE || s < r->apcm_first)
                r->apcm_first = s;
            continue;
        }
        if (s < ms || en > me) {
            int64_t cs = s < ms ? ms : s, ce = en > me ? me : en;
            s_ev(out, CCM_EV_SPLIT_MONTH, ix, CCM_CODE_NONE, ce - cs, t->seconds);
            s = cs;
            en = ce;
        }
        if (s < cut->lo_consent) {
            int64_t lim = en < cut->lo_consent ? en : cut->lo_consent;
            s_ev(out, CCM_EV_BEFORE_CONSENT, ix, CCM_CODE_NONE, lim - s, 0);
            s = lim;
        }
        if (cut->lo_visit != CCM_INSTANT_NONE && s < cut->lo_visit && s < en) {
            int64_t lim = en < cut->lo_visit ? en : cut->lo_visit;
            s_ev(out, CCM_EV_BEFORE_VISIT, ix, CCM_CODE_NONE, lim - s, 0);
            s = lim;
        }
        if (cut->death_day_end != CCM_INSTANT_NONE && s < en) {
            /* Time of death unknown: what would count on that day is held for review,
             * never counted silently (the death cut below removes it). */
            int64_t hi = en;
            if (cut->hi_revoked != CCM_INSTANT_NONE && cut->hi_revoked < hi)
                hi = cut->hi_revoked;
            if (cut->hi_ended != CCM_INSTANT_NONE && cut->hi_ended < hi)
                hi = cut->hi_ended;
            if (hi > cut->death_day_end)
                hi = cut->death_day_end;
            if ((s > cut->hi_death ? s : cut->hi_death) < hi) {
                s_ev(out, CCM_EV_DEATH_DAY, ix, CCM_CODE_NONE, 0, 0);
                r->death_day = true;
            }
        }
        if (cut->hi_death != CCM_INSTANT_NONE && en > cut->hi_death && s < en) {
            int64_t lim = s > cut->hi_death ? s : cut->hi_death;
            s_ev(out, CCM_EV_AFTER_DEATH, ix, CCM_CODE_NONE, en - lim, 0);
            en = lim;
        }
        if (cut->hi_revoked != CCM_INSTANT_NONE && en > cut->hi_revoked && s < en) {
            int64_t lim = s > cut->hi_revoked ? s : cut->hi_revoked;
            s_ev(out, CCM_EV_AFTER_REVOCATION, ix, CCM_CODE_NONE, en - lim, 0);
            en = lim;
        }
        if (cut->hi_ended != CCM_INSTANT_NONE && en > cut->hi_ended && s < en) {
            int64_t lim = s > cut->hi_ended ? s : cut->hi_ended;
            s_ev(out, CCM_EV_AFTER_CONSENT_END, ix, CCM_CODE_NONE, en - lim, 0);
            en = lim;
        }
        if (s >= en)
            continue;
        const bool prac = t->npi != 0 && t->npi == c->billing_npi;
        e[n++] = (s_edge_t){s, prac ? 0 : 2, 0};
        e[n++] = (s_edge_t){en, prac ? 1 : 3, 0};
        r->raw += en - s;
    }
    for (size_t i = 0; i < c->n_inpatient; i++) {
        int64_t f = c->inpatient[i].from, to = c->inpatient[i].to;
        if (f == CCM_INSTANT_NONE || f < ms)
            f = ms;
        if (to == CCM_INSTANT_NONE || to > me)
            to = me;
        if (f >= to)
            continue;
        e[n++] = (s_edge_t){f, 4, 0};
        e[n++] = (s_edge_t){to, 5, 0};
    }
    s_sort_edges(e, n);

    int cnt[3] = {0, 0, 0};
    int64_t prev = n ? e[0].t : 0, cum = 0, cump = 0;
    for (size_t k = 0; k < n; k++) {
        const int64_t len = e[k].t - prev;
        if (len > 0) {
            if (cnt[2] > 0) {
                r->inpatient_month += len;
                if (cnt[0] > 0 || cnt[1] > 0)
                    r->inpatient_cut += len;
            } else if (cnt[0] > 0 || cnt[1] > 0) {
                s_cross(cum, len, prev, 1200, &r->reach_t[0]);
                s_cross(cum, len, prev, 1800, &r->reach_t[1]);
                s_cross(cum, len, prev, 3600, &r->reach_t[2]);
                cum += len;
                if (cnt[0] > 0) {
                    s_cross(cump, len, prev, 1800, &r->reach_p30);
                    cump += len;
                    r->p += len;
                } else {
                    r->s += len;
                }
            }
        }
        const int32_t k2 = e[k].kind;
        cnt[k2 / 2] += (k2 & 1) ? -1 : 1;
        prev = e[k].t;
    }
    return 0;
}

static int32_t s_day_of(const ccm_tz_t *tz, int64_t reach)
{
    return ccm_tz_local_day(tz, reach - 1); /* the second in which the threshold was reached */
}

typedef struct {
    const ccm_rules_config_t *cfg;
    const ccm_fees_t *fees;
    const ccm_tz_t *tz;
    ccm_decision_t *out;
    int32_t first_day;
    int year;
} s_sel_t;

/* Appends a line, capping its units; returns false if the code does not exist. */
static bool s_line(s_sel_t *x, ccm_candidate_t *cand, ccm_code_t code, int64_t units, int cap)
{
    if (units <= 0)
        return true;
    if (!ccm_rules_code_effective(code, x->first_day))
        return false;
    if (cap != CCM_CAP_NONE && units > cap) {
        s_ev(x->out, CCM_EV_CAP, -1, code, units, cap);
        units = cap;
    }
    if (units <= 0)
        return true;
    ccm_line_t *l = &cand->lines[cand->n_lines++];
    l->code = code;
    l->units = (int)units;
    l->dos = cand->dos; /* every line of a candidate shares its DOS (P-13) */
    ccm_fee_t f = ccm_fees_lookup(x->fees, code, x->year);
    l->unit_cents = f.cents;
    if (f.cents >= 0)
        cand->amount_cents += f.cents * units;
    return true;
}

static void s_cand(s_sel_t *x, char letter, int64_t reach, ccm_code_t base, ccm_code_t addon, int64_t minutes,
                   int64_t base_min, int64_t inc, int cap)
{
    ccm_decision_t *out = x->out;
    if (reach == CCM_INSTANT_NONE || out->n_candidates >= CCM_RULES_MAX_CANDIDATES)
        return;
    if (!ccm_rules_code_effective(base, x->first_day)) {
        s_ev(out, CCM_EV_CODE_NOT_EFFECTIVE, -1, base, 0, 0);
        return;
    }
    ccm_candidate_t *cand = &out->candidates[out->n_candidates];
    memset(cand, 0, sizeof *cand);
    cand->letter = letter;
    cand->dos = s_day_of(x->tz, reach);
    s_line(x, cand, base, 1, CCM_CAP_NONE);
    if (addon != CCM_CODE_NONE && inc > 0 && !s_line(x, cand, addon, (minutes - base_min) / inc, cap))
        s_ev(out, CCM_EV_CODE_NOT_EFFECTIVE, -1, addon, 0, 0);
    out->n_candidates++;
    s_ev(out, CCM_EV_CANDIDATE, -1, CCM_CODE_NONE, letter, cand->amount_cents);
}

/* Fee evidence of one line for the fee year `y` (§11, P-14). */
static void s_fee_ev(s_sel_t *x, ccm_code_t code, int32_t y)
{
    ccm_decision_t *out = x->out;
    ccm_fee_t f = ccm_fees_lookup(x->fees, code, y);
    if (f.cents < 0) {
        s_ev(out, CCM_EV_FEE_MISSING, -1, code, 0, 0);
        out->fee_stale = true;
        return;
    }
    if (f.stale) {
        s_ev(out, CCM_EV_FEE_STALE, -1, code, f.year, y);
        out->fee_stale = true;
    }
    s_ev(out, CCM_EV_FEE, -1, code, f.cents, f.year);
}

static int32_t s_year_of(int32_t day)
{
    int32_t y, m, d;
    ccm_tz_civil_from_days(day, &y, &m, &d);
    return y;
}

static void s_choose(s_sel_t *x)
{
    ccm_decision_t *out = x->out;
    int best = -1;
    for (int i = 0; i < out->n_candidates; i++)
        if (best < 0 || out->candidates[i].amount_cents > out->candidates[best].amount_cents)
            best = i; /* candidates are generated in tie order: first wins a tie */
    if (best < 0) {
        s_ev(out, CCM_EV_NO_CANDIDATE, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_BELOW_THRESHOLD, CCM_CODE_NONE);
        return;
    }
    const ccm_candidate_t *c = &out->candidates[best];
    s_ev(out, CCM_EV_SELECTED, -1, CCM_CODE_NONE, c->letter, c->amount_cents);
    out->claim = true;
    out->letter = c->letter;
    out->n_lines = c->n_lines;
    memcpy(out->lines, c->lines, sizeof out->lines);
    out->dos = c->dos;
    out->amount_cents = c->amount_cents;
    const int32_t y = s_year_of(c->dos);
    out->fee_year = y;
    s_ev(out, CCM_EV_DOS, -1, CCM_CODE_NONE, c->dos, 0);
    for (int i = 0; i < c->n_lines; i++)
        s_fee_ev(x, c->lines[i].code, y);
}

/* The CCM initiating visit of the case's consent (§4): the earliest visit on or
 * after the consent's local day that could initiate CCM (a qualifying code, by
 * the billing practitioner, face to face unless telehealth is configured), the
 * lowest index on a tie. The same visit G3 accepts when one is required; it is
 * where CCM starts, so G0506 belongs to it and to no other visit. -1 if none. */
static int s_initiating_visit(const ccm_rules_config_t *cfg, const ccm_case_t *c, int32_t start_day)
{
    if (!c->has_consent || c->consent_at == CCM_INSTANT_NONE)
        return -1;
    int init = -1;
    for (size_t i = 0; i < c->n_visits; i++) {
        const ccm_visit_t *v = &c->visits[i];
        if (!(ccm_rules_code_flags(v->code) & CCM_CODEF_INIT_VISIT) || v->npi != c->billing_npi ||
            (v->telehealth && !cfg->telehealth_initiating) || v->day < start_day)
            continue;
        if (init < 0 || v->day < c->visits[init].day)
            init = (int)i;
    }
    return init;
}

/* G0506 verdicts for the visits of the month that ask for it (§4): a code that
 * can initiate CCM, by the billing practitioner, once per patient per
 * practitioner (an earlier visit of that practitioner asking for it, or a G0506
 * reported for an earlier month, used it up), for a CCM case whose consent names
 * the billing practitioner (never PCM or APCM), and only on the CCM initiating
 * visit (s_initiating_visit). */
static void s_g0506(const ccm_rules_config_t *cfg, const ccm_case_t *c, int32_t consent_day,
                    ccm_decision_t *out, int32_t first_day, int32_t last_day)
{
    int init = -2; /* found when first needed: most months ask for no G0506 */
    for (size_t i = 0; i < c->n_visits; i++) {
        const ccm_visit_t *v = &c->visits[i];
        if (!v->g0506 || v->day < first_day || v->day > last_day)
            continue;
        if (out->n_g0506 >= CCM_RULES_MAX_G0506)
            break;
        ccm_g0506_t *g = &out->g0506[out->n_g0506++];
        g->visit = (int32_t)i;
        g->day = v->day;
        g->allowed = false;
        if (!(ccm_rules_code_flags(v->code) & CCM_CODEF_INIT_VISIT)) {
            g->reason = CCM_G0506_NOT_INITIATING_VISIT;
            continue;
        }
        if (v->npi != c->billing_npi) {
            g->reason = CCM_G0506_OTHER_PRACTITIONER;
            continue;
        }
        bool before = false;
        for (size_t j = 0; j < c->n_visits && !before; j++) {
            const ccm_visit_t *w = &c->visits[j];
            before = j != i && w->g0506 && w->npi == c->billing_npi &&
                     (ccm_rules_code_flags(w->code) & CCM_CODEF_INIT_VISIT) &&
                     (w->day < v->day || (w->day == v->day && j < i));
        }
        for (size_t j = 0; j < c->n_other && !before; j++)
            before = c->other[j].code == CCM_CODE_G0506 && c->other[j].npi == c->billing_npi &&
                     c->other[j].month < c->month;
        if (before) {
            g->reason = CCM_G0506_ALREADY_BILLED;
            continue;
        }
        if (!c->has_consent || c->consent_npi != c->billing_npi || c->program != CCM_PROGRAM_CCM ||
            c->consent_program != CCM_PROGRAM_CCM) {
            g->reason = CCM_G0506_NO_CONSENT;
            continue;
        }
        if (init == -2)
            init = s_initiating_visit(cfg, c, consent_day);
        if ((int)i != init) {
            g->reason = CCM_G0506_NOT_INITIATING_VISIT;
            continue;
        }
        g->allowed = true;
        g->reason = CCM_G0506_ALLOWED;
    }
}

/* §4: an allowed G0506 becomes a line of the month's claim, dated the visit
 * day. Called only when every gate passed; a month whose time reached no
 * threshold still bills the G0506 alone (DOS = the visit day). */
static void s_g0506_line(s_sel_t *x)
{
    ccm_decision_t *out = x->out;
    if (out->reason != CCM_REASON_NONE && out->reason != CCM_REASON_BELOW_THRESHOLD)
        return;
    const ccm_g0506_t *g = NULL;
    for (int i = 0; i < out->n_g0506 && !g; i++)
        if (out->g0506[i].allowed)
            g = &out->g0506[i];
    if (!g || out->n_lines >= CCM_RULES_MAX_LINES ||
        !ccm_rules_code_effective(CCM_CODE_G0506, g->day))
        return;
    const int32_t y = s_year_of(g->day);
    if (!out->claim) { /* BELOW_THRESHOLD: the G0506 alone is the claim */
        out->claim = true;
        out->reason = CCM_REASON_NONE;
        out->reason_code = CCM_CODE_NONE;
        out->letter = 0;
        out->dos = g->day;
        out->fee_year = y;
        out->amount_cents = 0;
    }
    ccm_line_t *l = &out->lines[out->n_lines++];
    l->code = CCM_CODE_G0506;
    l->units = 1;
    l->dos = g->day;
    l->unit_cents = ccm_fees_lookup(x->fees, CCM_CODE_G0506, y).cents;
    if (l->unit_cents >= 0)
        out->amount_cents += l->unit_cents;
    s_ev(out, CCM_EV_G0506_LINE, g->visit, CCM_CODE_G0506, g->day, 0);
    s_fee_ev(x, CCM_CODE_G0506, y);
}

/* Timely filing (§9): a line whose DOS is before the filing day minus
 * cfg.timely_filing_months calendar months can no longer be billed. Late lines
 * are dropped; a claim left with none fails with TIMELY_FILING. */
static void s_timely(s_sel_t *x, int32_t filing_day)
{
    ccm_decision_t *out = x->out;
    if (!out->claim || filing_day == 0 || x->cfg->timely_filing_months <= 0)
        return;
    const int32_t limit = s_months_before(filing_day, x->cfg->timely_filing_months);
    int kept = 0;
    for (int i = 0; i < out->n_lines; i++) {
        const ccm_line_t *l = &out->lines[i];
        if (l->dos >= limit) {
            out->lines[kept++] = *l;
            continue;
        }
        s_ev(out, CCM_EV_TIMELY_FILING, -1, l->code, l->dos, limit);
        if (l->unit_cents > 0)
            out->amount_cents -= l->unit_cents * l->units;
    }
    if (kept < out->n_lines && kept > 0) {
        out->fee_stale = false; /* as P-14 says for the lines still billed */
        for (int i = 0; i < kept; i++) {
            ccm_fee_t f = ccm_fees_lookup(x->fees, out->lines[i].code, out->fee_year);
            out->fee_stale |= f.cents < 0 || f.stale;
        }
    }
    out->n_lines = kept;
    if (kept == 0) {
        out->claim = false;
        out->letter = 0;
        out->dos = -1;
        out->amount_cents = 0;
        out->fee_year = 0;
        out->fee_stale = false;
        s_fail(out, CCM_REASON_TIMELY_FILING, CCM_CODE_NONE);
    } else if (out->lines[0].code == CCM_CODE_G0506) {
        out->letter = 0; /* only the G0506 line is still in time */
        out->dos = out->lines[0].dos;
    }
}

/* Selection, then the G0506 line, then timely filing: the end of every path. */
static void s_finish(s_sel_t *x, const ccm_case_t *c)
{
    s_choose(x);
    s_g0506_line(x);
    s_timely(x, c->filing_day);
}

/* §10 for one reported service of this month. Returns the reason it excludes, or NONE. */
static ccm_reason_t s_combination(const ccm_rules_config_t *cfg, const ccm_case_t *c,
                                  const ccm_other_service_t *o)
{
    const unsigned f = ccm_rules_code_flags(o->code);
    const bool same = o->npi == c->billing_npi;
    const unsigned own = c->program == CCM_PROGRAM_CCM ? CCM_CODEF_CCM : CCM_CODEF_PCM;
    const unsigned sibling = c->program == CCM_PROGRAM_CCM ? CCM_CODEF_PCM : CCM_CODEF_CCM;
    if (c->program == CCM_PROGRAM_APCM) {
        if (f & CCM_CODEF_APCM)
            return same ? CCM_REASON_EXCLUDED_SERVICE : CCM_REASON_OTHER_PRACTITIONER_BILLED;
        if (f & (CCM_CODEF_CCM | CCM_CODEF_PCM | CCM_CODEF_APCM_CONFLICT | CCM_CODEF_G0511))
            return same || cfg->apcm_exclusion_any_practitioner ? CCM_REASON_EXCLUDED_SERVICE
                                                                : CCM_REASON_NONE;
        return CCM_REASON_NONE;
    }
    if (f & own)
        return same ? CCM_REASON_EXCLUDED_SERVICE : CCM_REASON_OTHER_PRACTITIONER_BILLED;
    if (f & sibling)
        return same || !cfg->pcm_ccm_other_practitioner_allowed ? CCM_REASON_EXCLUDED_SERVICE
                                                                : CCM_REASON_NONE;
    if (f & CCM_CODEF_APCM)
        return same || cfg->apcm_exclusion_any_practitioner ? CCM_REASON_EXCLUDED_SERVICE : CCM_REASON_NONE;
    if (f & CCM_CODEF_CPO_ESRD)
        return cfg->exclude_cpo_esrd ? CCM_REASON_EXCLUDED_SERVICE : CCM_REASON_NONE;
    if (f & CCM_CODEF_G0511)
        return same ? CCM_REASON_EXCLUDED_SERVICE : CCM_REASON_NONE;
    return CCM_REASON_NONE;
}

ccm_eligibility_t ccm_rules_eligibility(const ccm_condition_t *conditions, size_t n)
{
    ccm_eligibility_t e = {CCM_ELIGIBLE_NONE, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const ccm_condition_t *k = &conditions[i];
        e.chronic += k->chronic;
        e.ccm_conditions += k->chronic && k->high_risk && k->expected_months >= 12;
        e.pcm_conditions += k->chronic && k->high_risk && k->expected_months >= 3;
    }
    e.program = e.ccm_conditions >= 2   ? CCM_ELIGIBLE_CCM
                : e.pcm_conditions >= 1 ? CCM_ELIGIBLE_PCM
                                        : CCM_ELIGIBLE_NONE;
    return e;
}

int ccm_rules_evaluate(const ccm_rules_config_t *cfg, const ccm_fees_t *fees, const ccm_tz_t *tz,
                       const ccm_case_t *c, ccm_rules_scratch_t *scratch, ccm_decision_t *out,
                       int32_t *bad_index)
{
    if (bad_index)
        *bad_index = -1;
    if ((unsigned)c->program > CCM_PROGRAM_APCM || (unsigned)c->payer > CCM_PAYER_OTHER ||
        (unsigned)c->clinic > CCM_CLINIC_FQHC || c->month < 12 || c->month > 9999 * 12 ||
        !s_is_practitioner_role(c->billing_role))
        return CCM_EINVAL; /* §1: only a practitioner bills */
    if (!scratch || scratch->size < ccm_rules_scratch_size(c))
        return CCM_ETOOBIG;

    out->claim = false;
    out->reason = CCM_REASON_NONE;
    out->reason_code = CCM_CODE_NONE;
    out->program = c->program;
    out->letter = 0;
    out->n_lines = 0;
    out->dos = -1;
    out->amount_cents = 0;
    out->fee_year = 0;
    out->fee_stale = false;
    out->n_candidates = 0;
    out->n_g0506 = 0;
    out->n_evidence = 0;
    out->evidence_dropped = 0;
    out->apcm_elements = 0;

    const int32_t y = c->month / 12, m = c->month % 12 + 1;
    const int32_t first_day = ccm_tz_days_from_civil(y, m, 1);
    const int32_t next_day = first_day + ccm_tz_days_in_month(y, m);
    out->month_start = ccm_tz_local_to_utc(tz, (int64_t)first_day * 86400);
    out->month_end = ccm_tz_local_to_utc(tz, (int64_t)next_day * 86400);
    const int64_t ms = out->month_start, me = out->month_end;

    /* G0 payer */
    if (c->payer == CCM_PAYER_MEDICARE_B) {
        s_ev(out, CCM_EV_PAYER_OK, -1, CCM_CODE_NONE, 0, 0);
    } else {
        s_ev(out, CCM_EV_PAYER_FAIL, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_NOT_PART_B_FFS, CCM_CODE_NONE);
    }

    /* G1 eligibility (§2) */
    const ccm_eligibility_t el = ccm_rules_eligibility(c->conditions, c->n_conditions);
    const int ccm_ok = el.ccm_conditions, pcm_ok = el.pcm_conditions;
    ccm_code_t apcm_code = CCM_CODE_NONE;
    if (c->program == CCM_PROGRAM_APCM) {
        /* §2: the tiers count chronic conditions as CCM does (expected >= 12 months
         * or until death, attested significant risk); short or low-risk ones do not. */
        apcm_code = ccm_ok <= 1 ? CCM_CODE_G0556 : c->qmb ? CCM_CODE_G0558 : CCM_CODE_G0557;
        s_ev(out, CCM_EV_APCM_TIER, -1, apcm_code, ccm_ok, c->qmb);
    } else {
        const int have = c->program == CCM_PROGRAM_CCM ? ccm_ok : pcm_ok;
        const int need = c->program == CCM_PROGRAM_CCM ? 2 : 1;
        if (have >= need) {
            s_ev(out, CCM_EV_ELIGIBLE, -1, CCM_CODE_NONE, have, need);
        } else {
            s_ev(out, CCM_EV_NOT_ELIGIBLE, -1, CCM_CODE_NONE, have, need);
            s_fail(out, CCM_REASON_NOT_ELIGIBLE_CONDITIONS, CCM_CODE_NONE);
        }
        if (c->complex && c->program != CCM_PROGRAM_CCM)
            s_ev(out, CCM_EV_COMPLEX_IGNORED, -1, CCM_CODE_NONE, 0, 0);
    }

    /* G2 consent (§3, P-1…P-3) */
    s_cuts_t cut = {.lo_consent = INT64_MAX,
                    .lo_visit = CCM_INSTANT_NONE,
                    .hi_death = c->died_at,
                    .hi_revoked = CCM_INSTANT_NONE,
                    .hi_ended = CCM_INSTANT_NONE,
                    .death_day_end = CCM_INSTANT_NONE};
    if (c->died_at != CCM_INSTANT_NONE && c->died_date_only) {
        const int32_t death_day = ccm_tz_local_day(tz, c->died_at);
        cut.death_day_end = ccm_tz_local_to_utc(tz, ((int64_t)death_day + 1) * 86400);
    }
    bool consent_ok = false;
    if (!c->has_consent || c->consent_at == CCM_INSTANT_NONE) {
        s_ev(out, CCM_EV_CONSENT_MISSING, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_NO_CONSENT, CCM_CODE_NONE);
    } else if (c->consent_npi != c->billing_npi) {
        s_ev(out, CCM_EV_CONSENT_OTHER_NPI, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_NO_CONSENT, CCM_CODE_NONE);
    } else if (c->consent_program != c->program) {
        s_ev(out, CCM_EV_CONSENT_OTHER_PROGRAM, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_NO_CONSENT, CCM_CODE_NONE);
    } else if (c->consent_at >= me) {
        s_ev(out, CCM_EV_CONSENT_AFTER_MONTH, -1, CCM_CODE_NONE, c->consent_at, 0);
        s_fail(out, CCM_REASON_NO_CONSENT, CCM_CODE_NONE);
    } else if (c->consent_ended && c->revoked_at != CCM_INSTANT_NONE && c->revoked_at <= ms) {
        /* P-3: ended when the billing practitioner changed, before this month: the
         * consent is gone (not revoked by the patient) */
        s_ev(out, CCM_EV_CONSENT_ENDED, -1, CCM_CODE_NONE, c->revoked_at, 0);
        s_fail(out, CCM_REASON_NO_CONSENT, CCM_CODE_NONE);
    } else if (c->revoked_at != CCM_INSTANT_NONE && c->revoked_at < ms) {
        s_ev(out, CCM_EV_CONSENT_REVOKED_EARLIER, -1, CCM_CODE_NONE, c->revoked_at, 0);
        s_fail(out, CCM_REASON_CONSENT_REVOKED, CCM_CODE_NONE);
    } else {
        consent_ok = true;
        cut.lo_consent = c->consent_at;
        s_ev(out, CCM_EV_CONSENT_OK, -1, CCM_CODE_NONE, c->consent_at, 0);
        if (c->consent_ended && c->revoked_at != CCM_INSTANT_NONE && c->revoked_at < me) {
            /* P-3: a consent ended by a change of practitioner stops at once */
            s_ev(out, CCM_EV_CONSENT_ENDED, -1, CCM_CODE_NONE, c->revoked_at, 0);
            cut.hi_ended = c->revoked_at;
        } else if (!c->consent_ended && c->revoked_at != CCM_INSTANT_NONE && c->revoked_at < me) {
            s_ev(out, CCM_EV_CONSENT_REVOKED_THIS_MONTH, -1, CCM_CODE_NONE, c->revoked_at,
                 cfg->count_after_revocation);
            if (!cfg->count_after_revocation)
                cut.hi_revoked = c->revoked_at;
        }
    }

    /* G3 initiating visit (§4, P-4, P-5); start = consent instant (§13). */
    const int32_t start_day = c->has_consent && c->consent_at != CCM_INSTANT_NONE
                                  ? ccm_tz_local_day(tz, c->consent_at)
                                  : 0;
    if (consent_ok) {
        const int lookback = c->program == CCM_PROGRAM_APCM ? cfg->apcm_lookback_months
                                                            : cfg->init_lookback_months;
        const int32_t from_day = s_months_before(start_day, lookback);
        int recent = -1, init = -1;
        for (size_t i = 0; i < c->n_visits; i++) {
            const ccm_visit_t *v = &c->visits[i];
            if (!(ccm_rules_code_flags(v->code) & CCM_CODEF_INIT_VISIT) || v->npi != c->billing_npi)
                continue;
            if (v->telehealth && !cfg->telehealth_initiating) {
                if (v->day >= from_day && v->day <= next_day - 1)
                    s_ev(out, CCM_EV_VISIT_TELEHEALTH, (int32_t)i, v->code, 0, 0);
                continue;
            }
            if (v->day >= from_day && v->day < start_day) {
                if (recent < 0 || v->day > c->visits[recent].day)
                    recent = (int)i;
            } else if (v->day >= start_day && v->day < next_day) {
                if (init < 0 || v->day < c->visits[init].day)
                    init = (int)i;
            }
        }
        if (recent >= 0) {
            s_ev(out, CCM_EV_VISIT_NOT_REQUIRED, recent, c->visits[recent].code, c->visits[recent].day,
                 lookback);
        } else if (init >= 0) {
            s_ev(out, CCM_EV_VISIT_DONE, init, c->visits[init].code, c->visits[init].day, 0);
            cut.lo_visit = ccm_tz_local_to_utc(tz, (int64_t)c->visits[init].day * 86400);
        } else {
            s_ev(out, CCM_EV_VISIT_MISSING, -1, CCM_CODE_NONE, 0, lookback);
            s_fail(out, CCM_REASON_INITIATING_VISIT_MISSING, CCM_CODE_NONE);
        }
    }

    /* G4 care plan (P-6) */
    if (c->care_plan != CCM_CARE_PLAN_ESTABLISHED) {
        s_ev(out, CCM_EV_CARE_PLAN_DRAFT, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_CARE_PLAN_MISSING, CCM_CODE_NONE);
    } else if (c->care_plan_established_at != CCM_INSTANT_NONE && c->care_plan_established_at >= me) {
        s_ev(out, CCM_EV_CARE_PLAN_LATE, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_CARE_PLAN_MISSING, CCM_CODE_NONE);
    } else if (c->care_plan_copy_given_at == CCM_INSTANT_NONE || c->care_plan_copy_given_at >= me) {
        s_ev(out, CCM_EV_CARE_PLAN_NO_COPY, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_CARE_PLAN_MISSING, CCM_CODE_NONE);
    } else {
        s_ev(out, CCM_EV_CARE_PLAN_OK, -1, CCM_CODE_NONE, 0, 0);
    }

    /* G5 combinations (§10) for services reported for this month */
    bool excluded = false;
    for (size_t i = 0; i < c->n_other; i++) {
        const ccm_other_service_t *o = &c->other[i];
        if (o->month != c->month || o->code == CCM_CODE_G0506)
            continue;
        ccm_reason_t r = s_combination(cfg, c, o);
        if (r == CCM_REASON_NONE) {
            s_ev(out, CCM_EV_ALLOWED_WITH, (int32_t)i, o->code, 0, 0);
            continue;
        }
        excluded = true;
        s_ev(out, r == CCM_REASON_EXCLUDED_SERVICE ? CCM_EV_EXCLUDED : CCM_EV_OTHER_PRACTITIONER,
             (int32_t)i, o->code, 0, 0);
        s_fail(out, r, r == CCM_REASON_EXCLUDED_SERVICE ? o->code : CCM_CODE_NONE);
    }
    if (!excluded)
        s_ev(out, CCM_EV_EXCLUSIONS_OK, -1, CCM_CODE_NONE, 0, 0);

    /* Countable time (P-7…P-11) */
    s_time_t tm;
    if (!consent_ok)
        cut.lo_consent = INT64_MAX; /* nothing counts without consent */
    int rc = s_time(cfg, c, &cut, scratch, out, &tm, bad_index);
    if (rc != 0)
        return rc;
    out->practitioner_seconds = tm.p;
    out->staff_seconds = tm.s;
    out->practitioner_minutes = (int)(tm.p / 60);
    out->staff_minutes = (int)(tm.s / 60);
    out->total_minutes = (int)((tm.p + tm.s) / 60);
    out->apcm_elements = tm.apcm_elements;
    if (tm.raw - tm.p - tm.s - tm.inpatient_cut > 0)
        s_ev(out, CCM_EV_OVERLAP, -1, CCM_CODE_NONE, tm.raw - tm.p - tm.s - tm.inpatient_cut, 0);
    if (tm.inpatient_cut > 0)
        s_ev(out, CCM_EV_INPATIENT_TIME, -1, CCM_CODE_NONE, tm.inpatient_cut, 0);
    if (c->program == CCM_PROGRAM_APCM)
        s_ev(out, CCM_EV_APCM_ELEMENTS, -1, CCM_CODE_NONE, tm.apcm_elements, 0);
    else
        s_ev(out, CCM_EV_TIME_TOTAL, -1, CCM_CODE_NONE, tm.p, tm.s);

    /* G6 inpatient all month */
    if (tm.inpatient_month >= me - ms) {
        s_ev(out, CCM_EV_INPATIENT_WHOLE_MONTH, -1, CCM_CODE_NONE, 0, 0);
        s_fail(out, CCM_REASON_INPATIENT_WHOLE_MONTH, CCM_CODE_NONE);
    } else if (c->n_inpatient > 0) {
        s_ev(out, CCM_EV_NOT_INPATIENT_WHOLE_MONTH, -1, CCM_CODE_NONE, tm.inpatient_month, 0);
    }

    if (tm.death_day)
        s_fail(out, CCM_REASON_DEATH_DAY_REVIEW, CCM_CODE_NONE);

    s_g0506(cfg, c, start_day, out, first_day, next_day - 1);
    if (out->reason != CCM_REASON_NONE)
        return 0;

    /* Candidates (§8) and selection */
    s_sel_t x = {cfg, fees, tz, out, first_day, y};
    const int64_t T = (tm.p + tm.s) / 60, P = tm.p / 60;
    if (c->program == CCM_PROGRAM_APCM) {
        if (!ccm_rules_code_effective(apcm_code, first_day)) {
            s_ev(out, CCM_EV_CODE_NOT_EFFECTIVE, -1, apcm_code, 0, 0);
            s_fail(out, CCM_REASON_CODE_NOT_EFFECTIVE, CCM_CODE_NONE);
            return 0;
        }
        if (tm.apcm_elements > 0 || !cfg->apcm_requires_element) {
            ccm_candidate_t *cand = &out->candidates[out->n_candidates++];
            memset(cand, 0, sizeof *cand);
            cand->letter = 'P';
            cand->dos = tm.apcm_elements > 0 ? ccm_tz_local_day(tz, tm.apcm_first) : next_day - 1;
            s_line(&x, cand, apcm_code, 1, CCM_CAP_NONE);
            s_ev(out, CCM_EV_CANDIDATE, -1, CCM_CODE_NONE, 'P', cand->amount_cents);
        }
        s_finish(&x, c);
        return 0;
    }
    const int32_t d2025 = ccm_tz_days_from_civil(2025, 1, 1), d2025h2 = ccm_tz_days_from_civil(2025, 7, 1);
    if (c->clinic != CCM_CLINIC_PHYSICIAN_PRACTICE) {
        const bool g0511 = first_day < d2025 || (first_day < d2025h2 && cfg->rhc_g0511_2025h1);
        if (g0511) {
            s_ev(out, CCM_EV_RHC_G0511, -1, CCM_CODE_G0511, 0, 0);
            s_cand(&x, 'G', tm.reach_t[0], CCM_CODE_G0511, CCM_CODE_NONE, T, 20, 0, 0);
            s_finish(&x, c);
            return 0;
        }
        if (first_day >= d2025h2)
            s_ev(out, CCM_EV_RHC_G0511_CLOSED, -1, CCM_CODE_G0511, 0, 0);
    }
    if (c->program == CCM_PROGRAM_CCM) {
        const bool y2020 = ccm_rules_code_effective(CCM_CODE_G2058, first_day);
        s_cand(&x, 'A', tm.reach_t[0], CCM_CODE_99490, y2020 ? CCM_CODE_G2058 : CCM_CODE_99439, T, 20, 20,
               cfg->cap_99439);
        if (c->complex)
            s_cand(&x, 'C', tm.reach_t[2], CCM_CODE_99487, CCM_CODE_99489, T, 60, 30, cfg->cap_99489);
        s_cand(&x, 'B', tm.reach_p30, CCM_CODE_99491, CCM_CODE_99437, P, 30, 30, cfg->cap_99437);
    } else {
        const bool old = ccm_rules_code_effective(CCM_CODE_G2065, first_day);
        if (old) { /* 2020–2021 PCM: one code each, no add-ons */
            s_cand(&x, 'D', tm.reach_t[1], CCM_CODE_G2065, CCM_CODE_NONE, T, 30, 0, 0);
            s_cand(&x, 'E', tm.reach_p30, CCM_CODE_G2064, CCM_CODE_NONE, P, 30, 0, 0);
        } else {
            s_cand(&x, 'D', tm.reach_t[1], CCM_CODE_99426, CCM_CODE_99427, T, 30, 30, cfg->cap_99427);
            s_cand(&x, 'E', tm.reach_p30, CCM_CODE_99424, CCM_CODE_99425, P, 30, 30, cfg->cap_99425);
        }
    }
    s_finish(&x, c);
    return 0;
}
