/* twilio — one Call resource (JSON object) per line, as bulk exports write them.
 * status "completed" means answered; duration is seconds as a string. A child leg
 * (parent_call_sid set) is skipped: its talk time is its parent call's, counted
 * once under the parent's sid. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ccm/error.h"
#include "cdr.h"

/* Copies an optional string member; null or absent gives "". */
static int s_str(json_t *o, const char *key, char *dst, size_t cap, bool required, char *reason,
                 size_t rlen)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        dst[0] = '\0';
        return required ? ccm_cdr_fail(reason, rlen, "%s: missing", key) : 0;
    }
    if (!json_is_string(v))
        return ccm_cdr_fail(reason, rlen, "%s: not a string", key);
    int rc = ccm_cdr_copy(dst, cap, json_string_value(v), json_string_length(v));
    if (rc != 0)
        return ccm_cdr_fail(reason, rlen, "%s: %s", key,
                            rc == CCM_ETOOBIG ? "too long" : "control character");
    if (required && dst[0] == '\0')
        return ccm_cdr_fail(reason, rlen, "%s: empty", key);
    return 0;
}

int ccm_cdr_parse_twilio(const char *line, size_t len, ccm_cdr_record_t *rec, char *reason,
                         size_t rlen)
{
    memset(rec, 0, sizeof *rec);
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    if (!o)
        return ccm_cdr_fail(reason, rlen, "not JSON: %s (column %d)", err.text, err.column);
    int rc = CCM_EINVAL;
    char parent[CCM_CDR_FIELD_MAX + 1], start[64];
    if (!json_is_object(o)) {
        ccm_cdr_fail(reason, rlen, "not a JSON object");
        goto out;
    }
    if (s_str(o, "sid", rec->id, sizeof rec->id, true, reason, rlen) ||
        s_str(o, "from", rec->src, sizeof rec->src, false, reason, rlen) ||
        s_str(o, "to", rec->dst, sizeof rec->dst, false, reason, rlen) ||
        s_str(o, "status", rec->status, sizeof rec->status, true, reason, rlen) ||
        s_str(o, "parent_call_sid", parent, sizeof parent, false, reason, rlen) ||
        s_str(o, "start_time", start, sizeof start, false, reason, rlen))
        goto out;
    memcpy(rec->clid, rec->src, sizeof rec->clid);
    json_t *d = json_object_get(o, "duration");
    int64_t secs = 0;
    if (json_is_string(d)) {
        if (ccm_cdr_parse_uint(json_string_value(d), json_string_length(d), &secs) != 0) {
            ccm_cdr_fail(reason, rlen, "duration: not a whole number \"%.40s\"",
                         json_string_value(d));
            goto out;
        }
    } else if (json_is_integer(d) && json_integer_value(d) >= 0) {
        secs = json_integer_value(d);
    } else if (d && !json_is_null(d)) {
        ccm_cdr_fail(reason, rlen, "duration: not a number of seconds");
        goto out;
    }
    rec->billsec = secs;
    if (parent[0]) {
        snprintf(rec->status, sizeof rec->status, "child leg");
        rc = 0;
        goto out;
    }
    rec->answered = strcmp(rec->status, "completed") == 0 && secs > 0;
    if (start[0] && ccm_cdr_parse_instant(start, strlen(start), &rec->start_us) != 0) {
        ccm_cdr_fail(reason, rlen, "start_time: not a date \"%s\"", start);
        goto out;
    }
    if (rec->answered && !start[0]) {
        ccm_cdr_fail(reason, rlen, "start_time: missing on a completed call");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}
