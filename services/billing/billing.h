/* billing — the network-wide ledger: claims per patient-month (one program and
 * one practitioner each), judged with lib/rules over the facts in force during the
 * month, followed from enrollment, careplan and timetrack; one biller per
 * MBI-month across clinics. */
#ifndef CCM_BILLING_H
#define CCM_BILLING_H

#include "ccm/clinics.h"
#include "ccm/worker.h"

#define CCM_BILLING_SERVICE "billing"
#define CCM_BILLING_SCHEMA 1

typedef struct ccm_billing ccm_billing_t;

extern const char *const ccm_billing_dbs[];

/* fees_dir: deploy/fees; close_after_days: months close automatically this many
 * days after they end (clinic time), 0 = only by request. NULL on error (logged). */
ccm_billing_t *ccm_billing_new(const char *fees_dir, int close_after_days);
void ccm_billing_destroy(ccm_billing_t **p);
/* Timely filing: no new claim for a date of service more than `months` months
 * before the filing day (the clinic's today); a claim made before stands. 0 = not
 * checked; default 12 (lib/rules' default). 0 or CCM_EINVAL (outside 0-120). */
int ccm_billing_set_timely_filing_months(ccm_billing_t *b, int months);
/* Adds a clinic (tests); the daemon hands over its configured table instead. */
int ccm_billing_add_clinic(ccm_billing_t *b, const char *id, const char *timezone,
                           const char *type);
/* Replaces the clinic table (takes ownership). */
void ccm_billing_set_clinics(ccm_billing_t *b, ccm_clinics_t *clinics);
int ccm_billing_bind(ccm_billing_t *b, ccm_worker_t *w);
int ccm_billing_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx);

#endif
