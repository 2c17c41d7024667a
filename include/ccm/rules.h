/* rules — every Medicare CCM / PCM / APCM rule of docs/medicare-rules.md as pure
 * functions over plain structs (target ccm_rules: no I/O, no clock, no globals,
 * no malloc). One call evaluates one patient-month and returns a decision with
 * its lines, date of service, amount, minutes and the evidence (rule ids) that
 * produced it. Fee tables come from deploy/fees/<year>.csv through
 * ccm_fees_load_dir() (target ccm_rules_io). Instants are int64 seconds since
 * the Unix epoch (UTC); days are days since 1970-01-01 in the clinic's zone;
 * a month index is year*12 + (month-1). */
#ifndef CCM_RULES_H
#define CCM_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccm/tz.h"

/* "no instant" (a JSON null): never, or open-ended. */
#define CCM_INSTANT_NONE INT64_MIN

/* ---- code catalogue (§7, §10) -------------------------------------------
 * X(enum suffix, code text, flags, valid-from yyyymmdd, valid-to yyyymmdd; 0 = open) */
#define CCM_CODEF_CCM 0x0001u        /* CCM time code (99490…) */
#define CCM_CODEF_PCM 0x0002u        /* PCM time code */
#define CCM_CODEF_APCM 0x0004u       /* APCM base G0556–G0558 */
#define CCM_CODEF_APCM_BH 0x0008u    /* APCM behavioural add-on G0568–G0570 */
#define CCM_CODEF_INIT_VISIT 0x0010u /* qualifies as initiating visit (§4) */
#define CCM_CODEF_VISIT 0x0020u      /* a face-to-face visit code */
#define CCM_CODEF_CPO_ESRD 0x0040u   /* G0181/G0182/90951–90970 (§10) */
#define CCM_CODEF_TCM 0x0080u        /* TCM 99495/99496 */
#define CCM_CODEF_RPM 0x0100u        /* RPM / RTM */
#define CCM_CODEF_BHI 0x0200u        /* BHI / CoCM */
#define CCM_CODEF_APCM_CONFLICT 0x0400u /* not with APCM by the same practitioner */
#define CCM_CODEF_G0506 0x0800u
#define CCM_CODEF_G0511 0x1000u
#define CCM_CODEF_ADDON 0x2000u /* add-on unit code */

#define CCM_CODES(X)                                                          \
    X(99490, "99490", CCM_CODEF_CCM, 0, 0)                                    \
    X(99439, "99439", CCM_CODEF_CCM | CCM_CODEF_ADDON, 20210101, 0)           \
    X(G2058, "G2058", CCM_CODEF_CCM | CCM_CODEF_ADDON, 20200101, 20201231)    \
    X(99491, "99491", CCM_CODEF_CCM, 0, 0)                                    \
    X(99437, "99437", CCM_CODEF_CCM | CCM_CODEF_ADDON, 20220101, 0)           \
    X(99487, "99487", CCM_CODEF_CCM, 0, 0)                                    \
    X(99489, "99489", CCM_CODEF_CCM | CCM_CODEF_ADDON, 0, 0)                  \
    X(99424, "99424", CCM_CODEF_PCM, 20220101, 0)                             \
    X(99425, "99425", CCM_CODEF_PCM | CCM_CODEF_ADDON, 20220101, 0)           \
    X(99426, "99426", CCM_CODEF_PCM, 20220101, 0)                             \
    X(99427, "99427", CCM_CODEF_PCM | CCM_CODEF_ADDON, 20220101, 0)           \
    X(G2064, "G2064", CCM_CODEF_PCM, 20200101, 20211231)                      \
    X(G2065, "G2065", CCM_CODEF_PCM, 20200101, 20211231)                      \
    X(G0556, "G0556", CCM_CODEF_APCM, 20250101, 0)                            \
    X(G0557, "G0557", CCM_CODEF_APCM, 20250101, 0)                            \
    X(G0558, "G0558", CCM_CODEF_APCM, 20250101, 0)                            \
    X(G0568, "G0568", CCM_CODEF_APCM_BH, 20260101, 0)                         \
    X(G0569, "G0569", CCM_CODEF_APCM_BH, 20260101, 0)                         \
    X(G0570, "G0570", CCM_CODEF_APCM_BH, 20260101, 0)                         \
    X(G0506, "G0506", CCM_CODEF_G0506, 0, 0)                                  \
    X(G0511, "G0511", CCM_CODEF_G0511, 0, 20250630)                           \
    X(99202, "99202", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(99203, "99203", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(99204, "99204", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(99205, "99205", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(99211, "99211", CCM_CODEF_VISIT, 0, 0)                                  \
    X(99212, "99212", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(99213, "99213", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(99214, "99214", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(99215, "99215", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(G0402, "G0402", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(G0438, "G0438", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(G0439, "G0439", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT, 0, 0)           \
    X(99495, "99495", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT | CCM_CODEF_TCM | CCM_CODEF_APCM_CONFLICT, 0, 0) \
    X(99496, "99496", CCM_CODEF_VISIT | CCM_CODEF_INIT_VISIT | CCM_CODEF_TCM | CCM_CODEF_APCM_CONFLICT, 0, 0) \
    X(G0181, "G0181", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(G0182, "G0182", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90951, "90951", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90952, "90952", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90953, "90953", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90954, "90954", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90955, "90955", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90956, "90956", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90957, "90957", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90958, "90958", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90959, "90959", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90960, "90960", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90961, "90961", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90962, "90962", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90963, "90963", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90964, "90964", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90965, "90965", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90966, "90966", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90967, "90967", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90968, "90968", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90969, "90969", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(90970, "90970", CCM_CODEF_CPO_ESRD, 0, 0)                               \
    X(99453, "99453", CCM_CODEF_RPM, 0, 0)                                    \
    X(99454, "99454", CCM_CODEF_RPM, 0, 0)                                    \
    X(99457, "99457", CCM_CODEF_RPM, 0, 0)                                    \
    X(99458, "99458", CCM_CODEF_RPM, 0, 0)                                    \
    X(98975, "98975", CCM_CODEF_RPM, 0, 0)                                    \
    X(98980, "98980", CCM_CODEF_RPM, 0, 0)                                    \
    X(98981, "98981", CCM_CODEF_RPM, 0, 0)                                    \
    X(99484, "99484", CCM_CODEF_BHI, 0, 0)                                    \
    X(99492, "99492", CCM_CODEF_BHI, 0, 0)                                    \
    X(99493, "99493", CCM_CODEF_BHI, 0, 0)                                    \
    X(99494, "99494", CCM_CODEF_BHI, 0, 0)                                    \
    X(99446, "99446", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(99447, "99447", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(99448, "99448", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(99449, "99449", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(99451, "99451", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(99452, "99452", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(99421, "99421", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(99422, "99422", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(99423, "99423", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(G2061, "G2061", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(G2062, "G2062", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(G2063, "G2063", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(G2010, "G2010", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(G2012, "G2012", CCM_CODEF_APCM_CONFLICT, 0, 0)                          \
    X(G2252, "G2252", CCM_CODEF_APCM_CONFLICT, 0, 0)

typedef enum {
    CCM_CODE_NONE = 0,
#define CCM_X_ENUM(e, s, f, from, to) CCM_CODE_##e,
    CCM_CODES(CCM_X_ENUM)
#undef CCM_X_ENUM
    CCM_CODE_COUNT
} ccm_code_t;

/* Static text of a code ("99490"); "" for CCM_CODE_NONE. */
const char *ccm_rules_code_name(ccm_code_t code);
/* The code for its text, or CCM_CODE_NONE if it is not in the catalogue. */
ccm_code_t ccm_rules_code_parse(const char *s);
/* CCM_CODEF_* flags of a code. */
unsigned ccm_rules_code_flags(ccm_code_t code);
/* Whether the code exists on local day `day` (§7 history: 99439 from 2021, …). */
bool ccm_rules_code_effective(ccm_code_t code, int32_t day);

/* ---- case (input) -------------------------------------------------------- */

typedef enum { CCM_PROGRAM_CCM, CCM_PROGRAM_PCM, CCM_PROGRAM_APCM } ccm_program_t;
typedef enum { CCM_PAYER_MEDICARE_B, CCM_PAYER_MEDICARE_ADVANTAGE, CCM_PAYER_MEDICAID,
               CCM_PAYER_COMMERCIAL, CCM_PAYER_OTHER } ccm_payer_t;
typedef enum { CCM_CLINIC_PHYSICIAN_PRACTICE, CCM_CLINIC_RHC, CCM_CLINIC_FQHC } ccm_clinic_t;
typedef enum { CCM_ROLE_CLINICAL_STAFF, CCM_ROLE_PHYSICIAN, CCM_ROLE_NP, CCM_ROLE_PA, CCM_ROLE_CNS,
               CCM_ROLE_CNM, CCM_ROLE_NON_CLINICAL } ccm_role_t;
typedef enum { CCM_SERVICE_CCM, CCM_SERVICE_PCM, CCM_SERVICE_APCM, CCM_SERVICE_TCM, CCM_SERVICE_RPM,
               CCM_SERVICE_BHI } ccm_service_t;
typedef enum { CCM_CARE_PLAN_NONE, CCM_CARE_PLAN_DRAFT, CCM_CARE_PLAN_ESTABLISHED } ccm_care_plan_t;

/* Text names as used in case files ("CCM", "MEDICARE_B", …); parse returns 0 or CCM_EINVAL.
 * Care plan statuses: "NONE", "DRAFT", "ESTABLISHED". Names are static strings. */
const char *ccm_rules_program_name(ccm_program_t p);
int ccm_rules_program_parse(const char *s, ccm_program_t *out);
int ccm_rules_payer_parse(const char *s, ccm_payer_t *out);
const char *ccm_rules_payer_name(ccm_payer_t p); /* added with the month facts */
int ccm_rules_clinic_parse(const char *s, ccm_clinic_t *out);
const char *ccm_rules_role_name(ccm_role_t r);
int ccm_rules_role_parse(const char *s, ccm_role_t *out);
const char *ccm_rules_service_name(ccm_service_t s);
int ccm_rules_service_parse(const char *s, ccm_service_t *out);
int ccm_rules_care_plan_parse(const char *s, ccm_care_plan_t *out);
/* Parses a 10-digit NPI into a number; 0 is "no NPI". Returns 0 or CCM_EINVAL. */
int ccm_rules_npi_parse(const char *s, uint64_t *out);

typedef struct {
    bool chronic;        /* a chronic condition */
    int expected_months; /* expected duration; >= 12 for CCM, >= 3 for PCM */
    bool high_risk;      /* clinician attests significant risk (§2) */
} ccm_condition_t;

typedef struct {
    ccm_code_t code;  /* visit code */
    int32_t day;      /* local date of service */
    uint64_t npi;     /* performing practitioner */
    bool g0506;       /* G0506 asked for on this visit */
    bool telehealth;  /* furnished via telehealth (§4 [U]) */
} ccm_visit_t;

typedef struct {
    ccm_code_t code;  /* service billed for this patient */
    uint64_t npi;     /* by whom */
    int32_t month;    /* for which month (index) */
} ccm_other_service_t;

typedef struct {
    int64_t from; /* CCM_INSTANT_NONE: since before any month */
    int64_t to;   /* CCM_INSTANT_NONE: still inpatient */
} ccm_span_t;

typedef struct {
    const char *id;   /* event id (P-7); borrowed; same id = same event */
    uint64_t npi;     /* performer NPI, 0 if none */
    ccm_role_t role;
    bool in_us;
    ccm_service_t service;
    int64_t start;    /* instant */
    int64_t seconds;  /* > 0, or 0 for an APCM service element */
} ccm_time_entry_t;

/* One patient-month. Every pointer is borrowed for the duration of the call. */
typedef struct {
    int32_t month;                 /* month evaluated (index) */
    ccm_program_t program;
    ccm_payer_t payer;
    ccm_clinic_t clinic;
    uint64_t billing_npi;
    ccm_role_t billing_role;
    const ccm_condition_t *conditions;
    size_t n_conditions;
    bool qmb;
    int64_t died_at;               /* or CCM_INSTANT_NONE; time from it on never counts */
    bool died_date_only;           /* died_at is the start of the local day of death; the
                                      time is unknown: an otherwise countable entry on that
                                      day adds CCM_EV_DEATH_DAY and fails the month with
                                      CCM_REASON_DEATH_DAY_REVIEW (never counted silently) */
    const ccm_visit_t *visits;     /* the patient's visit history */
    size_t n_visits;
    bool has_consent;
    int64_t consent_at;            /* CCM start (§13) */
    uint64_t consent_npi;
    ccm_program_t consent_program;
    int64_t revoked_at;            /* or CCM_INSTANT_NONE */
    bool consent_ended;            /* revoked_at is when the consent ended because the
                                      billing practitioner changed: time after it never
                                      counts, whatever count_after_revocation says; ended at
                                      or before the month's first instant: NO_CONSENT */
    ccm_care_plan_t care_plan;
    int64_t care_plan_established_at; /* or CCM_INSTANT_NONE */
    int64_t care_plan_copy_given_at;  /* or CCM_INSTANT_NONE */
    bool complex;                  /* complex CCM criteria met (§2) */
    const ccm_other_service_t *other;
    size_t n_other;
    const ccm_span_t *inpatient;
    size_t n_inpatient;
    const ccm_time_entry_t *time;
    size_t n_time;
    int32_t filing_day;            /* local day the claim would be filed, for timely
                                      filing (cfg.timely_filing_months); 0 = not checked.
                                      A line whose DOS is before filing_day minus that many
                                      calendar months is dropped; none left: TIMELY_FILING */
} ccm_case_t;

/* ---- eligibility (§2) ------------------------------------------------------ */

typedef enum { CCM_ELIGIBLE_NONE = 0, CCM_ELIGIBLE_PCM = 1, CCM_ELIGIBLE_CCM = 2 } ccm_eligible_t;

typedef struct {
    ccm_eligible_t program; /* the most a patient qualifies for: CCM, else PCM, else none */
    int ccm_conditions;     /* chronic, attested risk, expected >= 12 months */
    int pcm_conditions;     /* chronic, attested risk, expected >= 3 months */
    int chronic;            /* chronic conditions of any duration or risk */
} ccm_eligibility_t;

/* Program eligibility from a patient's active conditions (G1): CCM needs 2
 * conditions lasting >= 12 months with attested risk, PCM 1 lasting >= 3. Pure;
 * ccm_rules_evaluate() applies the same rule. */
ccm_eligibility_t ccm_rules_eligibility(const ccm_condition_t *conditions, size_t n);

/* ---- configuration: every [U] of the doc, with its default ----------------- */

#define CCM_CAP_NONE (-1)

typedef struct {
    int cap_99439;               /* 2 [S] */
    int cap_99437;               /* 2 [U] */
    int cap_99489;               /* CCM_CAP_NONE [U] */
    int cap_99425;               /* 2 [U] */
    int cap_99427;               /* 2 [U] */
    bool exclude_cpo_esrd;       /* G0181/G0182/ESRD exclude CCM/PCM: true [U] */
    bool count_after_revocation; /* P-2 second half: true [U] */
    bool telehealth_initiating;  /* telehealth visit may initiate: false [U] */
    bool pcm_ccm_other_practitioner_allowed; /* §10: true [U] */
    bool apcm_exclusion_any_practitioner;    /* §10/Q3: false (same only) [U] */
    bool apcm_requires_element;  /* APCM needs >= 1 documented element: true [U] */
    bool rhc_g0511_2025h1;       /* RHC/FQHC bill G0511 Jan–Jun 2025: false */
    int init_lookback_months;    /* P-4: 12 */
    int apcm_lookback_months;    /* §4 APCM: 36 [S] */
    int timely_filing_months;    /* no claim for a DOS more than this many months before
                                    the filing day: 12 [C]; 0 = not checked */
} ccm_rules_config_t;

/* Fills `cfg` with the documented defaults above. */
void ccm_rules_config_default(ccm_rules_config_t *cfg);

/* ---- fee tables (§11; data, never compiled in) ---------------------------- */

#define CCM_FEES_YEAR_MIN 2015
#define CCM_FEES_YEAR_MAX 2050
#define CCM_FEES_NYEARS (CCM_FEES_YEAR_MAX - CCM_FEES_YEAR_MIN + 1)
#define CCM_FEES_POOL 16384

typedef struct {
    int64_t cents[CCM_FEES_NYEARS][CCM_CODE_COUNT]; /* -1 = no amount */
    uint16_t source[CCM_FEES_NYEARS][CCM_CODE_COUNT]; /* offset into pool */
    char pool[CCM_FEES_POOL];                    /* NUL-terminated source texts */
    size_t pool_used;
} ccm_fees_t;

typedef struct {
    int64_t cents;   /* amount, -1 if the code has no amount in any year */
    int year;        /* year the amount comes from */
    bool stale;      /* year differs from the one asked for (P-14) */
    const char *source; /* borrowed from the table */
} ccm_fee_t;

/* Empties the table. */
void ccm_fees_init(ccm_fees_t *fees);
/* Parses one year's CSV text ("code,amount_cents,source" lines; '#' comments
 * and a header line "code,..." allowed). Pure. On error returns CCM_EINVAL
 * and writes "line N: …" into err. Unknown codes are errors. */
int ccm_fees_parse_csv(ccm_fees_t *fees, int year, const char *text, size_t len, char *err,
                       size_t errlen);
/* Loads every DIR/<year>.csv (I/O; target ccm_rules_io). Returns 0, CCM_ENOTFOUND
 * (no directory or no file), CCM_EIO or CCM_EINVAL (message in err). */
int ccm_fees_load_dir(ccm_fees_t *fees, const char *dir, char *err, size_t errlen);
/* Amount for `code` on a date of service in `year`, falling back to the latest
 * earlier year, else the earliest later one (P-14). */
ccm_fee_t ccm_fees_lookup(const ccm_fees_t *fees, ccm_code_t code, int year);

/* ---- decision (output) ---------------------------------------------------- */

typedef enum {
    CCM_REASON_NONE = 0,
    CCM_REASON_NOT_PART_B_FFS,
    CCM_REASON_NOT_ELIGIBLE_CONDITIONS,
    CCM_REASON_NO_CONSENT,
    CCM_REASON_CONSENT_REVOKED,
    CCM_REASON_INITIATING_VISIT_MISSING,
    CCM_REASON_CARE_PLAN_MISSING,
    CCM_REASON_EXCLUDED_SERVICE,
    CCM_REASON_OTHER_PRACTITIONER_BILLED,
    CCM_REASON_INPATIENT_WHOLE_MONTH,
    CCM_REASON_BELOW_THRESHOLD,
    CCM_REASON_CODE_NOT_EFFECTIVE, /* [P] the program's codes do not exist on the DOS */
    CCM_REASON_TIMELY_FILING,      /* the DOS is past the timely filing limit */
    CCM_REASON_DEATH_DAY_REVIEW    /* [P] entries on the day of death, time of death unknown */
} ccm_reason_t;

/* "BELOW_THRESHOLD", … */
const char *ccm_rules_reason_name(ccm_reason_t r);

/* G0506 verdicts (§4), checked in this order. G0506 belongs to the CCM
 * initiating visit: the earliest visit on or after the consent's local day
 * with a code that can initiate CCM, by the billing practitioner, face to face
 * unless telehealth_initiating (lowest index on a tie). An allowed G0506 is a
 * line of the month's claim (G0506 x1, dos = the visit day). */
typedef enum {
    CCM_G0506_ALLOWED = 0,
    CCM_G0506_NOT_INITIATING_VISIT, /* visit code cannot initiate CCM, or the visit is not
                                       the CCM initiating visit */
    CCM_G0506_OTHER_PRACTITIONER,   /* visit not by the billing practitioner */
    CCM_G0506_ALREADY_BILLED,       /* once per patient per practitioner */
    CCM_G0506_NO_CONSENT            /* no CCM consent for this practitioner (also: the case
                                       is PCM or APCM) */
} ccm_g0506_reason_t;

const char *ccm_rules_g0506_reason_name(ccm_g0506_reason_t r);

/* Evidence kinds; ccm_rules_evidence_format() renders them with their rule id. */
typedef enum {
    CCM_EV_PAYER_OK, CCM_EV_PAYER_FAIL,
    CCM_EV_ELIGIBLE, CCM_EV_NOT_ELIGIBLE, CCM_EV_APCM_TIER, CCM_EV_COMPLEX_IGNORED,
    CCM_EV_CONSENT_OK, CCM_EV_CONSENT_MISSING, CCM_EV_CONSENT_OTHER_NPI, CCM_EV_CONSENT_OTHER_PROGRAM,
    CCM_EV_CONSENT_AFTER_MONTH, CCM_EV_CONSENT_REVOKED_EARLIER, CCM_EV_CONSENT_REVOKED_THIS_MONTH,
    CCM_EV_VISIT_NOT_REQUIRED, CCM_EV_VISIT_DONE, CCM_EV_VISIT_MISSING, CCM_EV_VISIT_TELEHEALTH,
    CCM_EV_CARE_PLAN_OK, CCM_EV_CARE_PLAN_DRAFT, CCM_EV_CARE_PLAN_LATE, CCM_EV_CARE_PLAN_NO_COPY,
    CCM_EV_EXCLUDED, CCM_EV_OTHER_PRACTITIONER, CCM_EV_ALLOWED_WITH, CCM_EV_EXCLUSIONS_OK,
    CCM_EV_INPATIENT_WHOLE_MONTH, CCM_EV_NOT_INPATIENT_WHOLE_MONTH,
    CCM_EV_DUPLICATE, CCM_EV_NON_CLINICAL, CCM_EV_OUTSIDE_US, CCM_EV_OTHER_SERVICE,
    CCM_EV_BEFORE_CONSENT, CCM_EV_BEFORE_VISIT, CCM_EV_AFTER_DEATH, CCM_EV_AFTER_REVOCATION,
    CCM_EV_SPLIT_MONTH, CCM_EV_INPATIENT_TIME, CCM_EV_OVERLAP, CCM_EV_TIME_TOTAL,
    CCM_EV_APCM_ELEMENTS, CCM_EV_CANDIDATE, CCM_EV_CAP, CCM_EV_NO_CANDIDATE, CCM_EV_SELECTED,
    CCM_EV_DOS, CCM_EV_FEE, CCM_EV_FEE_STALE, CCM_EV_FEE_MISSING, CCM_EV_RHC_G0511,
    CCM_EV_RHC_G0511_CLOSED, CCM_EV_CODE_NOT_EFFECTIVE,
    CCM_EV_CONSENT_ENDED,       /* consent ended (billing practitioner changed) at a */
    CCM_EV_AFTER_CONSENT_END,   /* time[index]: a seconds after the consent ended */
    CCM_EV_DEATH_DAY,           /* time[index] lies on the day of death (time unknown) */
    CCM_EV_TIMELY_FILING,       /* DOS a (day) before the filing limit day b */
    CCM_EV_G0506_LINE,          /* G0506 billed with visits[index] on day a */
    CCM_EV_MONTH_CASE,          /* month facts: case a (consent index or -1) of program b */
    CCM_EV_COUNT
} ccm_ev_t;

typedef struct {
    ccm_ev_t kind;
    int32_t index;   /* index into the case array it is about, or -1 */
    ccm_code_t code; /* code it is about, or CCM_CODE_NONE */
    int64_t a, b;    /* kind-specific figures (seconds, cents, days, counts) */
} ccm_evidence_t;

/* Rule id of an evidence kind ("P-9", "G3", "§8-A", …). Static string. */
const char *ccm_rules_evidence_rule(ccm_ev_t kind);
/* Renders one evidence item as a sentence into buf (always NUL-terminated).
 * Returns the length snprintf would have written. */
int ccm_rules_evidence_format(const ccm_evidence_t *ev, char *buf, size_t len);

#define CCM_RULES_MAX_LINES 4
#define CCM_RULES_MAX_EVIDENCE 96
#define CCM_RULES_MAX_G0506 8
#define CCM_RULES_MAX_CANDIDATES 6

typedef struct {
    ccm_code_t code;
    int units;
    int64_t unit_cents; /* amount per unit for the fee year (-1 unknown) */
    int32_t dos;        /* local day of service of this line: the claim's DOS, or the
                           initiating visit's day for G0506 */
} ccm_line_t;

typedef struct {
    char letter;      /* 'A'…'E' (§8), 'G' (G0511), 'P' (APCM) */
    int n_lines;
    ccm_line_t lines[CCM_RULES_MAX_LINES];
    int64_t amount_cents;
    int32_t dos;      /* local day the base threshold was reached */
} ccm_candidate_t;

typedef struct {
    int32_t visit;    /* index into case.visits */
    int32_t day;
    bool allowed;
    ccm_g0506_reason_t reason;
} ccm_g0506_t;

typedef struct {
    bool claim;
    ccm_reason_t reason;          /* CCM_REASON_NONE when claim */
    ccm_code_t reason_code;       /* the excluding code for EXCLUDED_SERVICE */
    ccm_program_t program;
    char letter;                  /* selected candidate */
    int n_lines;
    ccm_line_t lines[CCM_RULES_MAX_LINES];
    int32_t dos;                  /* local day; -1 without a claim */
    int64_t amount_cents;
    int fee_year;
    bool fee_stale;               /* some amount came from another year (P-14) */
    int64_t practitioner_seconds; /* P (after P-9 merging) */
    int64_t staff_seconds;        /* S, overlaps with P removed */
    int practitioner_minutes;     /* floor(P/60) */
    int staff_minutes;            /* floor(S/60) */
    int total_minutes;            /* floor((P+S)/60) (P-10) */
    int apcm_elements;            /* countable APCM service elements */
    int64_t month_start, month_end; /* the month in UTC, [start, end) */
    int n_candidates;
    ccm_candidate_t candidates[CCM_RULES_MAX_CANDIDATES];
    int n_g0506;
    ccm_g0506_t g0506[CCM_RULES_MAX_G0506];
    int n_evidence;
    int evidence_dropped;         /* items past CCM_RULES_MAX_EVIDENCE */
    ccm_evidence_t evidence[CCM_RULES_MAX_EVIDENCE];
} ccm_decision_t;

/* Scratch the caller provides so that evaluation never allocates. */
typedef struct {
    void *buf;      /* at least ccm_rules_scratch_size(case) bytes, suitably aligned (malloc) */
    size_t size;
} ccm_rules_scratch_t;

/* Bytes of scratch ccm_rules_evaluate() needs for `c`. */
size_t ccm_rules_scratch_size(const ccm_case_t *c);

/* Evaluates one patient-month. Pure and re-entrant: everything it reads is an
 * argument; it writes only *out and the scratch.
 * Returns 0 (a decision is in *out, claim or not), CCM_EINVAL (malformed case:
 * a non-APCM entry with seconds <= 0, a negative duration, an unknown enum;
 * *bad_index, if not NULL, receives the offending time index or -1) or
 * CCM_ETOOBIG (scratch too small). */
int ccm_rules_evaluate(const ccm_rules_config_t *cfg, const ccm_fees_t *fees, const ccm_tz_t *tz,
                       const ccm_case_t *c, ccm_rules_scratch_t *scratch, ccm_decision_t *out,
                       int32_t *bad_index);

/* ---- month facts: a patient's history, judged month by month ---------------
 * A patient-month is judged by the facts in force during that month, never by
 * today's. The caller hands over the whole history (every consent with its
 * interval, the billing practitioner, payer and condition attestations over
 * time, death); ccm_rules_month() builds one case per consent in force during
 * the month (of a run of consents of one program to one practitioner within
 * the month, the earliest and the latest), evaluates each with ccm_rules_evaluate() and selects one: one
 * practitioner and one program per patient-month (§1, §10). Selection [P]: a
 * claim beats no claim; among claims the highest amount; ties CCM > PCM > APCM,
 * then the later consent. With no consent in force the month is evaluated for
 * the latest consent given before the month ends (CONSENT_REVOKED, …), else
 * without consent, for the program the conditions qualify for, with the
 * billing practitioner in force at the month's end (NO_CONSENT, …).
 * `from` instants of CCM_INSTANT_NONE mean "since before any month". */

/* The billing practitioner from `from` on (until the next period). */
typedef struct {
    int64_t from;
    uint64_t npi;
    ccm_role_t role;
} ccm_practitioner_period_t;

/* The payer from `from` on. The month's payer is the one in force at its first instant. */
typedef struct {
    int64_t from;
    ccm_payer_t payer;
    bool qmb;
} ccm_payer_period_t;

/* One attestation of a condition (chronic, duration, risk) from `from` on. */
typedef struct {
    int64_t from;
    ccm_condition_t c;
} ccm_attestation_t;

/* A condition over time: for a month, the latest attestation with from < month
 * end applies (on equal `from`, the later in the array), and only if the
 * condition was not resolved before the month began (resolved_at < month start). */
typedef struct {
    const char *icd10; /* borrowed */
    int64_t resolved_at; /* or CCM_INSTANT_NONE */
    const ccm_attestation_t *attestations;
    size_t n_attestations;
} ccm_condition_facts_t;

/* One consent as given: in force from `at` to the end of the revocation month
 * (P-2), or until `ended_at` (the billing practitioner changed). */
typedef struct {
    const char *id;      /* borrowed; may be "" */
    ccm_program_t program;
    uint64_t npi;        /* the practitioner it was given to */
    ccm_role_t role;     /* that practitioner's role */
    int64_t at;
    int64_t revoked_at;  /* or CCM_INSTANT_NONE */
    int64_t ended_at;    /* or CCM_INSTANT_NONE */
} ccm_consent_t;

/* The care plan of one program as the careplan service announced it. */
typedef struct {
    ccm_program_t program;
    ccm_care_plan_t status;
    int64_t established_at; /* or CCM_INSTANT_NONE */
    int64_t copy_given_at;  /* first copy given, or CCM_INSTANT_NONE */
} ccm_care_plan_facts_t;

/* A patient's history and the month to judge. Every pointer is borrowed. */
typedef struct {
    int32_t month;
    ccm_clinic_t clinic;
    const ccm_practitioner_period_t *practitioners;
    size_t n_practitioners;
    const ccm_payer_period_t *payers; /* none: MEDICARE_B */
    size_t n_payers;
    const ccm_condition_facts_t *conditions;
    size_t n_conditions;
    const ccm_consent_t *consents;
    size_t n_consents;
    int64_t died_at;     /* or CCM_INSTANT_NONE */
    bool died_date_only; /* see ccm_case_t */
    const ccm_care_plan_facts_t *care_plans;
    size_t n_care_plans;
    const int32_t *complex_months; /* months (index) attested complex (§2) */
    size_t n_complex_months;
    const ccm_visit_t *visits;
    size_t n_visits;
    const ccm_other_service_t *other;
    size_t n_other;
    const ccm_span_t *inpatient;
    size_t n_inpatient;
    const ccm_time_entry_t *time;
    size_t n_time;
    int32_t filing_day; /* see ccm_case_t; 0 = not checked */
} ccm_facts_t;

#define CCM_RULES_MAX_MONTH_CASES 8

/* The month's outcome: the selected case's decision and where it came from. */
typedef struct {
    ccm_decision_t d;        /* the selected decision (claim or not) */
    int32_t consent;         /* index into facts.consents of the selected case, or -1 */
    uint64_t billing_npi;    /* the selected case's billing practitioner, 0 if none */
    ccm_payer_t payer;       /* the month's payer */
    bool qmb;
    int n_cases;             /* cases evaluated (<= CCM_RULES_MAX_MONTH_CASES) */
} ccm_month_decision_t;

/* The attestation of condition c that applies to the month [ms, me) (UTC
 * instants), or NULL when the condition is not in force during it. */
const ccm_attestation_t *ccm_rules_attestation(const ccm_condition_facts_t *c, int64_t ms,
                                               int64_t me);

/* The attestation of f->conditions[i] that counts for the month [ms, me): as
 * ccm_rules_attestation(), except that an ICD-10-CM code counts once a month —
 * when a resolved condition and its later re-add both reach into the month,
 * only the later record (higher index) counts. NULL when it does not count. */
const ccm_attestation_t *ccm_rules_month_attestation(const ccm_facts_t *f, size_t i, int64_t ms,
                                                     int64_t me);

/* Bytes of scratch ccm_rules_month() needs for `f` (any alignment of the buffer;
 * it includes the slack). Depends on the numbers of conditions, time entries and
 * inpatient spans only. */
size_t ccm_rules_month_scratch_size(const ccm_facts_t *f);

/* Judges one patient-month from its facts (see above). Pure; never allocates:
 * the month's conditions, the evaluation scratch and the decision under
 * comparison live in `scratch`. Each case: program, billing practitioner and
 * consent from the consent (a consent both revoked and ended is judged by the
 * one that stops the month's time first); payer and QMB from the payer period;
 * conditions from ccm_rules_attestation(); care plan = the last care_plans entry
 * of the case's program (none: NONE); complex = month in complex_months; death,
 * visits, other services, inpatient, time and filing_day as given. The selected
 * decision ends with CCM_EV_MONTH_CASE (consent index or -1, program).
 * Returns 0 (*out filled), CCM_EINVAL (malformed facts: an unknown enum, a
 * consent without `at`, a consent or practitioner period whose role cannot
 * bill, more than CCM_RULES_MAX_MONTH_CASES consents in force, NULL arrays with
 * a count; or a malformed entry, *bad_index = its index in f->time) or
 * CCM_ETOOBIG (scratch too small). */
int ccm_rules_month(const ccm_rules_config_t *cfg, const ccm_fees_t *fees, const ccm_tz_t *tz,
                    const ccm_facts_t *f, ccm_rules_scratch_t *scratch, ccm_month_decision_t *out,
                    int32_t *bad_index);

#endif
