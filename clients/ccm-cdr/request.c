/* request — protobuf packing of AddTimeEntry and parsing of timetrack replies. */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/timetrack.pb-c.h"

int ccm_cdr_request_pack(const ccm_cdr_entry_t *e, const char *clinic, uint8_t **buf, size_t *len)
{
    char rid[CCM_CDR_RID_MAX + 1];
    snprintf(rid, sizeof rid, "%s%s", CCM_CDR_RID_PREFIX, e->event_id);
    Ccm__Timetrack__AddTimeEntry add = CCM__TIMETRACK__ADD_TIME_ENTRY__INIT;
    add.clinic = (char *)clinic;
    add.mrn = (char *)e->mrn;
    add.performer = (char *)e->performer;
    add.activity = (char *)e->activity;
    add.service = (Ccm__Timetrack__ServiceTag)e->service;
    add.start_us = e->start_us;
    add.seconds = e->seconds;
    add.source = CCM__TIMETRACK__SOURCE__CDR;
    add.source_event_id = (char *)e->event_id;
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.request_id = rid;
    req.op_case = CCM__TIMETRACK__REQUEST__OP_ADD_ENTRY;
    req.add_entry = &add;
    size_t n = ccm__timetrack__request__get_packed_size(&req);
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return CCM_ENOMEM;
    *len = ccm__timetrack__request__pack(&req, b);
    *buf = b;
    return 0;
}

int ccm_cdr_reply_parse(const void *buf, size_t len, ccm_cdr_reply_t *out)
{
    memset(out, 0, sizeof *out);
    Ccm__Timetrack__Reply *r = ccm__timetrack__reply__unpack(NULL, len, buf);
    if (!r)
        return CCM_EPROTO;
    snprintf(out->request_id, sizeof out->request_id, "%s", r->request_id ? r->request_id : "");
    out->code = r->status ? (int)r->status->code : -1;
    if (r->status && r->status->message)
        snprintf(out->message, sizeof out->message, "%s", r->status->message);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    return 0;
}

const char *ccm_cdr_code_name(int code)
{
    static const char *const names[] = {
        "OK",       "INVALID_ARGUMENT",    "NOT_FOUND",   "PERMISSION_DENIED",
        "CONFLICT", "FAILED_PRECONDITION", "UNAVAILABLE", "INTERNAL"};
    return code >= 0 && code < 8 ? names[code] : "NO_STATUS";
}
