/* clinics — the clinic table every service reads from its `[clinic ID]`
 * sections: id, name, IANA time zone (loaded from the system tzdata), clinic
 * type for lib/rules and place of service. Built once at start; read-only
 * while serving. */
#ifndef CCM_CLINICS_H
#define CCM_CLINICS_H

#include <stddef.h>

#include "ccm/config.h"
#include "ccm/rules.h"
#include "ccm/tz.h"

/* Longest clinic id (bytes): 1..32 of [A-Za-z0-9._-]. */
#define CCM_CLINIC_ID_MAX 32

/* One configured clinic. (ccm_clinic_t is lib/rules' clinic-type enum.) */
typedef struct {
    char id[CCM_CLINIC_ID_MAX + 1]; /* the ID of its [clinic ID] section */
    char *name;                     /* owned; "" when not configured */
    ccm_tz_t *tz;                   /* owned; the clinic's IANA zone */
    ccm_clinic_t type;              /* PHYSICIAN_PRACTICE unless configured */
    char *pos;                      /* owned place_of_service; "" when not configured */
} ccm_clinic_info_t;

typedef struct ccm_clinics ccm_clinics_t;

/* Returns an empty table, or NULL when out of memory. */
ccm_clinics_t *ccm_clinics_new(void);
/* Frees the table and every clinic in it and sets *p to NULL; safe twice. */
void ccm_clinics_destroy(ccm_clinics_t **p);

/* Builds a table from every `[clinic ID]` section of cfg (keys timezone,
 * required; name; type PHYSICIAN_PRACTICE, RHC or FQHC; place_of_service).
 * Each bad section is logged once (event=config_error). On 0, *out (caller
 * destroys) holds the table; CCM_EINVAL when any section was bad, CCM_ENOMEM;
 * *out is NULL on failure. */
int ccm_clinics_load(const ccm_config_t *cfg, ccm_clinics_t **out);

/* Adds a clinic (for tests and tools): id, IANA zone read from the system
 * tzdata, and type (NULL for PHYSICIAN_PRACTICE). Strings are copied; name and
 * place of service stay "". 0, CCM_EINVAL (bad id, zone name or type),
 * CCM_ENOTFOUND (no such zone), CCM_EIO, CCM_ENOMEM. */
int ccm_clinics_add(ccm_clinics_t *c, const char *id, const char *timezone, const char *type);

/* The clinic with this id (the first added, should the id repeat), or NULL.
 * Borrowed until the next add or destroy. */
const ccm_clinic_info_t *ccm_clinics_find(const ccm_clinics_t *c, const char *id);
/* How many clinics the table holds, and the i-th (i < count) in the order
 * added (file order for a loaded table): for services that visit every clinic.
 * Borrowed until the next add or destroy. */
size_t ccm_clinics_count(const ccm_clinics_t *c);
const ccm_clinic_info_t *ccm_clinics_at(const ccm_clinics_t *c, size_t i);

#endif
