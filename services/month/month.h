/* month — one patient-month as lib/rules sees it, built from the facts a
 * service keeps by following the enrollment, careplan and timetrack streams.
 * timetrack (month status, thresholds) and billing (claims) both evaluate
 * through this module, so their answers cannot differ.
 *
 * A month is judged by the facts in force during it, never by today's: the
 * patient's history (billing practitioner, payer and QMB periods, condition
 * attestations, every consent with its interval, death) goes to lib/rules'
 * ccm_rules_month(), which picks one program and one practitioner for the month.
 * Records written before enrollment kept histories have none: their current
 * billing practitioner, payer, QMB and condition attestation then hold since
 * before any month, and a consent ended by a practitioner change (status
 * PRACTITIONER_CHANGED without ended_us) ends at the end of its effective_until day.
 *
 * Databases (named here, opened by the service): patients (clinic mrn ->
 * enrollment Patient), people (clinic id|npi -> 'P'|'S' + Practitioner|Staff),
 * careplans (clinic mrn program -> careplan CarePlan), entries (clinic id ->
 * TimeEntry), by_patient (clinic mrn start id -> ""), by_performer (clinic
 * performer start id -> end µs). */
#ifndef CCM_MONTH_H
#define CCM_MONTH_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/rules.h"
#include "ccm/store.h"
#include "ccm/timetrack.pb-c.h"
#include "ccm/tz.h"

/* The database names above, NULL-terminated, to list among a store's dbs. */
extern const char *const ccm_month_dbs[];

typedef struct {
    MDB_dbi patients, people, careplans, entries, by_patient, by_performer;
} ccm_month_db_t;

/* Looks the databases up in an open store. 0 or CCM_ENOTFOUND. */
int ccm_month_bind(ccm_month_db_t *db, ccm_store_t *store);

/* Applies one followed event (returns 0 for types it ignores). */
int ccm_month_on_enrollment(MDB_txn *txn, const ccm_month_db_t *db, const Ccm__Envelope *ev);
int ccm_month_on_careplan(MDB_txn *txn, const ccm_month_db_t *db, const Ccm__Envelope *ev);
/* entry.added / entry.voided / entry.amended of the timetrack stream. */
int ccm_month_on_timetrack(MDB_txn *txn, const ccm_month_db_t *db, const Ccm__Envelope *ev);

/* The stored time entry (clinic, id), or NULL; free with
 * ccm__timetrack__time_entry__free_unpacked(). */
Ccm__Timetrack__TimeEntry *ccm_month_get_entry(MDB_txn *txn, const ccm_month_db_t *db,
                                               const char *clinic, const char *id);

/* Stores a time entry (and its index rows when is_new). */
int ccm_month_put_entry(MDB_txn *txn, const ccm_month_db_t *db, const Ccm__Timetrack__TimeEntry *e,
                        bool is_new);

/* Who performed: role, NPI (practitioners), in the US; known = false if nobody. */
typedef struct {
    bool known;
    ccm_role_t role;
    uint64_t npi;
    bool in_us;
} ccm_performer_t;

ccm_performer_t ccm_month_performer(MDB_txn *txn, const ccm_month_db_t *db, const char *clinic,
                                    const char *id);

/* The clinic a month is evaluated in. */
typedef struct {
    const char *id;
    const ccm_tz_t *tz;
    ccm_clinic_t type;
} ccm_month_clinic_t;

/* The outcome of one patient-month and what produced it (for claims). */
typedef struct {
    ccm_decision_t d;      /* lib/rules' decision for the case it selected */
    int32_t month;         /* y*12 + m-1 */
    ccm_program_t program; /* the one program the month is judged for */
    char mbi[12];
    char billing_npi[11];       /* the selected case's billing practitioner, "" if none */
    char consent_id[96];        /* the selected case's consent, "" if none */
    uint32_t care_plan_version; /* the program's established care plan version, 0 if none */
    char **entry_ids;           /* owned: active entries that touch the month */
    size_t n_entry_ids;
    char **diagnoses; /* owned: ICD-10-CM of the conditions whose attestation
                         applies to the month, chronic with attested risk first */
    size_t n_diagnoses;
} ccm_month_t;

/* Judges one patient-month. filing_day: the clinic-local day a claim would be
 * filed on, for the timely filing limit (cfg->timely_filing_months); 0 = not
 * checked. out must be zeroed or cleared before; free with ccm_month_clear().
 * Every active time entry touching the month is evaluated (no limit).
 * 0, CCM_ENOTFOUND (patient unknown), CCM_EINVAL (the stored facts or entries are
 * malformed; logged with the clinic, MRN, month and entry), CCM_EIO. */
int ccm_month_judge(MDB_txn *txn, const ccm_month_db_t *db, const ccm_rules_config_t *cfg,
                    const ccm_fees_t *fees, const ccm_month_clinic_t *clinic, const char *mrn,
                    int32_t month, int32_t filing_day, ccm_month_t *out);

/* ccm_month_judge() without the timely filing check: what the month is worth
 * (timetrack's month status). Same results. */
int ccm_month_eval(MDB_txn *txn, const ccm_month_db_t *db, const ccm_rules_config_t *cfg,
                   const ccm_fees_t *fees, const ccm_month_clinic_t *clinic, const char *mrn,
                   int32_t month, ccm_month_t *out);
void ccm_month_clear(ccm_month_t *m);

/* The clinic-local month of an instant (µs). */
int32_t ccm_month_of(const ccm_tz_t *tz, int64_t us);
/* "YYYY-MM" of a month index. */
void ccm_month_text(int32_t month, char out[8]);

#endif
