/* map — the mapping file: who talked (staff) and about whom (patient).
 *
 *   [staff]      extension or caller id  = staff id or NPI      e.g. 2015 = rn1
 *   [patients]   account code / user field / number = MRN      e.g. pt-1042 = 1042
 *   [defaults]   activity = phone call, service = CCM, timezone = ZONE, gmt = yes|no
 *
 * A record becomes a time entry only when both ends map; otherwise the reason
 * names what was tried. Pure once loaded. */
#ifndef CCM_CDR_MAP_H
#define CCM_CDR_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "cdr.h"
#include "ccm/config.h"

typedef struct ccm_cdr_map ccm_cdr_map_t;

/* One time entry for timetrack's AddTimeEntry (source CDR). */
typedef struct {
    char event_id[CCM_CDR_ID_MAX + 1];     /* source_event_id = the record's unique id */
    char mrn[CCM_CDR_FIELD_MAX + 1];       /* patient */
    char performer[CCM_CDR_FIELD_MAX + 1]; /* staff id or NPI */
    char activity[CCM_CDR_FIELD_MAX + 1];  /* e.g. "phone call" */
    int service;                           /* Ccm__Timetrack__ServiceTag value */
    int64_t start_us;                      /* UTC µs */
    int64_t seconds;                       /* 1..86400 */
} ccm_cdr_entry_t;

/* Loads the mapping file. 0, or CCM_EINVAL / CCM_ENOTFOUND / CCM_EIO with a message
 * in err ("path:line: …", unknown service tag). Caller destroys *out. */
int ccm_cdr_map_load(const char *path, ccm_cdr_map_t **out, char *err, size_t errlen);
/* Builds a mapping from a configuration (takes ownership of cfg, also on failure). */
int ccm_cdr_map_from_config(ccm_config_t *cfg, ccm_cdr_map_t **out, char *err, size_t errlen);
void ccm_cdr_map_destroy(ccm_cdr_map_t **p);

/* [defaults] timezone (NULL when absent) and gmt (true for yes/true/1). */
const char *ccm_cdr_map_timezone(const ccm_cdr_map_t *m);
int ccm_cdr_map_gmt(const ccm_cdr_map_t *m);

/* Parses CCM, PCM, TCM, RPM, BHI, APCM (case-insensitive) into the proto enum value;
 * 0 when unknown. */
int ccm_cdr_service_tag(const char *name);

/* Turns an answered record into a time entry. Staff: src, then the caller id
 * number, then dst ([staff]); the side that matched is ours, the other the
 * patient's. Patient: account code, then user field, then the other side's number
 * ([patients]). JSON Lines records carry patient and staff themselves.
 * 0, or CCM_EINVAL with a reason (no staff / patient mapping, over 24 hours). */
int ccm_cdr_map_apply(const ccm_cdr_map_t *m, const ccm_cdr_record_t *rec, ccm_cdr_entry_t *out,
                      char *reason, size_t rlen);

#endif
