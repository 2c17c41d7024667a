/* jsonl — our generic format, one object per line:
 * {"id","patient","staff","start","seconds","activity"} with start in RFC 3339.
 * patient and staff are already the MRN and the performer; "service" (CCM, PCM…)
 * is optional. Zero seconds is a skipped record, not an error. */
#include <jansson.h>
#include <string.h>

#include "ccm/error.h"
#include "cdr.h"

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

int ccm_cdr_parse_jsonl(const char *line, size_t len, ccm_cdr_record_t *rec, char *reason,
                        size_t rlen)
{
    memset(rec, 0, sizeof *rec);
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    if (!o)
        return ccm_cdr_fail(reason, rlen, "not JSON: %s (column %d)", err.text, err.column);
    int rc = CCM_EINVAL;
    char start[64];
    if (!json_is_object(o)) {
        ccm_cdr_fail(reason, rlen, "not a JSON object");
        goto out;
    }
    if (s_str(o, "id", rec->id, sizeof rec->id, true, reason, rlen) ||
        s_str(o, "patient", rec->patient, sizeof rec->patient, true, reason, rlen) ||
        s_str(o, "staff", rec->staff, sizeof rec->staff, true, reason, rlen) ||
        s_str(o, "start", start, sizeof start, true, reason, rlen) ||
        s_str(o, "activity", rec->activity, sizeof rec->activity, false, reason, rlen) ||
        s_str(o, "service", rec->service, sizeof rec->service, false, reason, rlen))
        goto out;
    json_t *s = json_object_get(o, "seconds");
    if (json_is_integer(s) && json_integer_value(s) >= 0) {
        rec->billsec = json_integer_value(s);
    } else if (!json_is_string(s) ||
               ccm_cdr_parse_uint(json_string_value(s), json_string_length(s), &rec->billsec)) {
        ccm_cdr_fail(reason, rlen, "seconds: %s", s ? "not a whole number of seconds" : "missing");
        goto out;
    }
    if (ccm_cdr_parse_instant(start, strlen(start), &rec->start_us) != 0 || start[4] != '-') {
        ccm_cdr_fail(reason, rlen, "start: not an RFC 3339 instant \"%s\"", start);
        goto out;
    }
    memcpy(rec->src, rec->staff, sizeof rec->src);
    rec->answered = rec->billsec > 0;
    if (!rec->answered)
        strcpy(rec->status, "zero seconds");
    rc = 0;
out:
    json_decref(o);
    return rc;
}
