/* billing — the network-wide ledger: claims per patient-month-program,
 * evaluated with lib/rules over the facts followed from enrollment, careplan
 * and timetrack; one biller per MBI-month-program across clinics. */
#ifndef CCM_BILLING_H
#define CCM_BILLING_H

#include "ccm/clinics.h"
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
/* Adds a clinic (tests); the daemon hands over its configured table instead. */
int ccm_billing_add_clinic(ccm_billing_t *b, const char *id, const char *timezone,
                           const char *type);
/* Replaces the clinic table (takes ownership). */
void ccm_billing_set_clinics(ccm_billing_t *b, ccm_clinics_t *clinics);
int ccm_billing_bind(ccm_billing_t *b, ccm_worker_t *w);
int ccm_billing_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx);

#endif
