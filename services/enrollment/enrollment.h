/* enrollment — patients and their chronic conditions: the request handler the
 * worker host runs for service "enrollment". */
#ifndef CCM_ENROLLMENT_H
#define CCM_ENROLLMENT_H

#include "ccm/clinics.h"
#include "ccm/worker.h"

#define CCM_ENROLLMENT_SERVICE "enrollment"
#define CCM_ENROLLMENT_SCHEMA 1

typedef struct ccm_enrollment ccm_enrollment_t;

/* NULL-terminated databases the service needs in its store. */
extern const char *const ccm_enrollment_dbs[];

/* Returns a new handler context, or NULL when out of memory. */
ccm_enrollment_t *ccm_enrollment_new(void);
void ccm_enrollment_destroy(ccm_enrollment_t **p);
/* Adds a clinic the service accepts patients for, with its IANA time zone (read
 * from the system tzdata). Strings are copied. 0, CCM_EINVAL (bad id or zone
 * name), CCM_ENOTFOUND (no such zone), CCM_ENOMEM. */
int ccm_enrollment_add_clinic(ccm_enrollment_t *e, const char *id, const char *timezone);
/* Replaces the clinic table with `clinics` (from ccm_clinics_load); takes
 * ownership. */
void ccm_enrollment_set_clinics(ccm_enrollment_t *e, ccm_clinics_t *clinics);
/* Looks up the databases once the worker's store is open, and gives patients
 * stored by an older build their fact history (ccm_facts_migrate, once per
 * store). 0, CCM_ENOTFOUND, CCM_EIO (logged), CCM_ENOMEM. */
int ccm_enrollment_bind(ccm_enrollment_t *e, ccm_worker_t *w);
/* The ccm_worker_handler_fn of the service; ctx is the ccm_enrollment_t. */
int ccm_enrollment_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx);

#endif
