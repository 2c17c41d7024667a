/* timetrack — time entries of care management and the month-to-date answer
 * lib/rules gives for them: the request handler of service "timetrack". */
#ifndef CCM_TIMETRACK_H
#define CCM_TIMETRACK_H

#include "ccm/clinics.h"
#include "ccm/rules.h"
#include "ccm/worker.h"

#define CCM_TIMETRACK_SERVICE "timetrack"
#define CCM_TIMETRACK_SCHEMA 1

typedef struct ccm_timetrack ccm_timetrack_t;

/* NULL-terminated databases the service needs in its store. */
extern const char *const ccm_timetrack_dbs[];

/* A new handler context using the fee tables of fees_dir (deploy/fees), or
 * NULL (logged). */
ccm_timetrack_t *ccm_timetrack_new(const char *fees_dir);
void ccm_timetrack_destroy(ccm_timetrack_t **p);
/* Adds a clinic with its IANA zone and type (PHYSICIAN_PRACTICE, RHC, FQHC).
 * 0, CCM_EINVAL, CCM_ENOTFOUND (zone), CCM_ENOMEM. */
int ccm_timetrack_add_clinic(ccm_timetrack_t *t, const char *id, const char *timezone,
                             const char *type);
/* Replaces the clinic table with `clinics` (from ccm_clinics_load); takes
 * ownership. */
void ccm_timetrack_set_clinics(ccm_timetrack_t *t, ccm_clinics_t *clinics);
/* Looks up the databases and follows the enrollment and careplan streams. */
int ccm_timetrack_bind(ccm_timetrack_t *t, ccm_worker_t *w);
/* The ccm_worker_handler_fn of the service; ctx is the ccm_timetrack_t. */
int ccm_timetrack_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx);

#endif
