/* request — the bytes ccm-cdr sends to timetrack and what it reads back.
 * A request is packed once, stored in the outbox and resent byte for byte, so a
 * retry carries the same request_id ("cdr:" + unique id) and source_event_id. */
#ifndef CCM_CDR_REQUEST_H
#define CCM_CDR_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "map.h"

#define CCM_CDR_SERVICE "timetrack"
#define CCM_CDR_RID_PREFIX "cdr:"
#define CCM_CDR_RID_MAX 128

/* Packs timetrack.Request{request_id "cdr:<id>", add_entry{…, source CDR,
 * source_event_id <id>}}. On 0, *buf (caller frees) and *len. CCM_ENOMEM. */
int ccm_cdr_request_pack(const ccm_cdr_entry_t *e, const char *clinic, uint8_t **buf, size_t *len);

typedef struct {
    char request_id[CCM_CDR_RID_MAX + 1]; /* echoed request_id */
    int code;                             /* ccm.Code; -1 when the reply had no status */
    char message[256];                    /* status message (truncated) */
} ccm_cdr_reply_t;

/* Unpacks a timetrack.Reply. 0 or CCM_EPROTO (not a Reply). */
int ccm_cdr_reply_parse(const void *buf, size_t len, ccm_cdr_reply_t *out);

/* Name of a ccm.Code ("NOT_FOUND"). */
const char *ccm_cdr_code_name(int code);

#endif
