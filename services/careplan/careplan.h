/* careplan — versioned care plans: the request handler the worker host runs for
 * service "careplan", the follower of enrollment's patients, and the periodic
 * review-due check. */
#ifndef CCM_CAREPLAN_H
#define CCM_CAREPLAN_H

#include "ccm/clinics.h"
#include "ccm/worker.h"

#define CCM_CAREPLAN_SERVICE "careplan"
#define CCM_CAREPLAN_SCHEMA 1
/* How often the review-due check runs by default ([careplan] review_check_ms). */
#define CCM_CAREPLAN_REVIEW_CHECK_MS 60000

typedef struct ccm_careplan ccm_careplan_t;

/* NULL-terminated databases the service needs in its store. */
extern const char *const ccm_careplan_dbs[];

/* Returns a new handler context, or NULL when out of memory. */
ccm_careplan_t *ccm_careplan_new(void);
void ccm_careplan_destroy(ccm_careplan_t **p);
/* Adds a clinic the service keeps care plans for, with its IANA time zone (its
 * calendar decides "today" for review dates and copy dates). Strings are copied.
 * 0, CCM_EINVAL (bad id or zone name), CCM_ENOTFOUND (no such zone), CCM_ENOMEM. */
int ccm_careplan_add_clinic(ccm_careplan_t *cp, const char *id, const char *timezone);
/* Replaces the clinic table with `clinics` (from ccm_clinics_load); takes
 * ownership. */
void ccm_careplan_set_clinics(ccm_careplan_t *cp, ccm_clinics_t *clinics);
/* Sets the interval of the review-due check (before bind). 0 or CCM_EINVAL (≤ 0). */
int ccm_careplan_set_review_check(ccm_careplan_t *cp, int interval_ms);
/* Looks up the databases once the worker's store is open, follows the
 * enrollment stream (patient.* events) and schedules the review-due check.
 * 0 or an error code. */
int ccm_careplan_bind(ccm_careplan_t *cp, ccm_worker_t *w);
/* The ccm_worker_handler_fn of the service; ctx is the ccm_careplan_t. */
int ccm_careplan_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx);
/* The ccm_worker_tick_fn of the review-due check (ctx is the ccm_careplan_t):
 * appends one careplan.review_due event for every care plan whose next review
 * date lies before the clinic's date of now_us and was not notified yet.
 * Public so tests can run it at a chosen time. 0 or a store error. */
int ccm_careplan_review_tick(ccm_worker_t *w, MDB_txn *txn, int64_t now_us, void *ctx);

#endif
