/* facts — a patient's dated facts, kept inside the Patient record: who bills
 * (billing_history), who pays and whether the patient is a QMB (payer_history),
 * each condition's attestations and resolution, when a consent stopped because
 * the billing practitioner changed (ended_us), when the patient died (died_us),
 * and for every change the earliest instant it takes effect
 * (change_effective_us). Followers judge each month by the facts in force
 * during it, never by today's.
 *
 * Invariants: every history is in from_us order and its last entry is the
 * value in force now, which the current fields repeat (billing_npi; payer and
 * qmb; a condition's expected_months, high_risk and chronic). from_us 0 means
 * "since before any month". A change never takes effect before the entry it
 * follows, nor in the future beyond CCM_FACTS_CLOCK_SKEW_US.
 *
 * The operations are functions of the unpacked message, the clinic's zone and
 * the call's time only (no store, no clock), so a replayed batch redoes them
 * exactly. Each returns 0 when it changed the patient (and set
 * change_effective_us), CCM_EEXIST when the fact already holds (the patient is
 * untouched: answer it, publish nothing), or a refusal — CCM_EINVAL,
 * CCM_ENOTFOUND or CCM_ETOOBIG with *why filled in — that leaves the patient
 * untouched. */
#ifndef CCM_ENROLLMENT_FACTS_H
#define CCM_ENROLLMENT_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccm/clinics.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/store.h"
#include "ccm/tz.h"

/* How far a client's clock may run ahead of ours for "not in the future". */
#define CCM_FACTS_CLOCK_SKEW_US (120 * 1000000LL)
/* Entries per list of a patient at most (histories, attestations, consents, …). */
#define CCM_FACTS_RECORDS_MAX 500
/* Conditions per patient at most. */
#define CCM_FACTS_CONDITIONS_MAX 64
/* Shape of the stored patients; kept in the store's meta database under
 * CCM_FACTS_META_KEY once every patient has its history (ccm_facts_migrate). */
#define CCM_FACTS_VERSION 1
#define CCM_FACTS_META_KEY "enrollment.facts_version"

/* The change being made: when it was asked, by which request, in which zone. */
typedef struct {
    int64_t now_us;         /* the call's time (ccm_worker_call_t.now_us) */
    const char *request_id; /* recorded with each new entry; borrowed */
    const ccm_tz_t *tz;     /* the clinic's zone; borrowed */
} ccm_facts_ctx_t;

/* Why a change was refused, for the reply "<op>.<field>: <why>". */
typedef struct {
    Ccm__Code code;    /* INVALID_ARGUMENT, FAILED_PRECONDITION or NOT_FOUND */
    const char *field; /* the request field at fault (a static string) */
    char why[256];     /* what is wrong with it */
} ccm_facts_refusal_t;

/* A registration: the first billing period (when billing_npi is set) and the
 * payer period, both since before any month; change_effective_us 0. */
void ccm_facts_register(Ccm__Enrollment__Patient *p, const ccm_facts_ctx_t *x);

/* The billing practitioner becomes npi (checked by the caller) from
 * effective_us: 0 means since before any month for the first assignment and now
 * for a change, which may be backdated but not before the current period began.
 * The old practitioner's ACTIVE consents end at that instant
 * (PRACTITIONER_CHANGED); refused when one of them was given after it.
 * CCM_EEXIST when npi already bills. */
int ccm_facts_set_billing(Ccm__Enrollment__Patient *p, const char *npi, int64_t effective_us,
                          const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why);

/* The payer (and QMB status, unless QMB_UNCHANGED) from effective_us (0 = now;
 * may be backdated, not before the current period began). CCM_EEXIST when both
 * already hold. */
int ccm_facts_set_payer(Ccm__Enrollment__Patient *p, const char *payer,
                        Ccm__Enrollment__QmbChange qmb, int64_t effective_us,
                        const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why);

/* An attestation of condition icd10 (normalised by the caller): a new condition
 * is in force from effective_us, 0 = since before any month (or now when the
 * same code was resolved before: a recurrence starts when it recurs); another
 * attestation of an active one is appended from effective_us (0 = now). *added
 * says which. CCM_EEXIST when the active condition is attested the same way.
 * description (checked by the caller) replaces the old one when not "". */
int ccm_facts_attest(Ccm__Enrollment__Patient *p, const char *icd10, const char *description,
                     int32_t expected_months, bool high_risk, bool chronic, int64_t effective_us,
                     const ccm_facts_ctx_t *x, bool *added, ccm_facts_refusal_t *why);

/* The active condition icd10 resolved at effective_us (0 = now; may be
 * backdated, not before its latest attestation). CCM_ENOTFOUND when none is
 * active. */
int ccm_facts_resolve(Ccm__Enrollment__Patient *p, const char *icd10, int64_t effective_us,
                      const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why);

/* Checks that a consent at at_us is given to the billing practitioner in force
 * at that instant: npi must be the current one and at_us not before its period
 * began. 0 or CCM_EINVAL (FAILED_PRECONDITION). */
int ccm_facts_consent_allowed(const Ccm__Enrollment__Patient *p, const char *npi, int64_t at_us,
                              ccm_facts_refusal_t *why);

/* The active consent for program revoked at at_us (0 = now; may be backdated,
 * not before it was given): in force to the end of that month in the clinic's
 * zone. CCM_ENOTFOUND when none is active. */
int ccm_facts_revoke(Ccm__Enrollment__Patient *p, Ccm__Enrollment__Program program, int64_t at_us,
                     const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why);

/* Death on local date `date`, at instant at_us when known (it must fall on
 * that date in the clinic's zone; 0 = the date only). A correction takes
 * effect from the earlier of the two death days. CCM_EEXIST when recorded so. */
int ccm_facts_record_death(Ccm__Enrollment__Patient *p, const char *date, int64_t at_us,
                           const ccm_facts_ctx_t *x, ccm_facts_refusal_t *why);

/* Brings a patient stored before the fact history up to it: its current values
 * in force since before any month (as followers read a missing history), and a
 * PRACTITIONER_CHANGED consent ended at the end of its effective_until day.
 * Returns true when it changed p. */
bool ccm_facts_upgrade(Ccm__Enrollment__Patient *p, const ccm_tz_t *tz);

/* Once per store: upgrades every patient in `patients` in one write
 * transaction that also records CCM_FACTS_VERSION in the meta database; later
 * starts find the version and read nothing. Appends no stream event. Zones come
 * from clinics (UTC for a clinic no longer configured). 0, CCM_EIO (logged),
 * CCM_ENOMEM. */
int ccm_facts_migrate(ccm_store_t *s, MDB_dbi patients, const ccm_clinics_t *clinics);

/* ---- calendar helpers (clinic time) ---- */

/* The local calendar day (days since 1970-01-01) of instant us (µs). */
int32_t ccm_facts_local_day(const ccm_tz_t *tz, int64_t us);
/* The first instant (µs) of local day `day` / of month index y*12+(m-1). */
int64_t ccm_facts_day_start(const ccm_tz_t *tz, int32_t day);
int64_t ccm_facts_month_start(const ccm_tz_t *tz, int32_t month);
/* YYYY-MM-DD of a day. */
void ccm_facts_format_day(int32_t day, char out[11]);

/* ---- fields of unpacked messages (freed by free_unpacked: malloc/free) ---- */

/* A heap copy of v ("" for NULL); aborts when out of memory. */
char *ccm_facts_dup(const char *v);
/* Replaces a string field (its old value may be the shared empty default). */
void ccm_facts_set_str(char **field, const char *v);
/* Appends elem (heap) to a repeated field. 0, CCM_ETOOBIG (CCM_FACTS_RECORDS_MAX
 * reached; elem not taken), CCM_ENOMEM. */
int ccm_facts_append(void ***arr, size_t *n, void *elem);

#endif
