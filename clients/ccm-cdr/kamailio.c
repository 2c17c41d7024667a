/* kamailio — one line of an acc flat file: start|end|duration|src_user|dst_user|callid
 * with epoch-second times (fractions allowed) and a fractional duration. The acc
 * module writes a CDR only for an established dialog, so the duration is talk
 * time; it is floored to whole seconds. callid is the key. */
#include <inttypes.h>
#include <string.h>

#include "ccm/error.h"
#include "cdr.h"

enum { K_START, K_END, K_DURATION, K_SRC, K_DST, K_CALLID, K_MAX };

static const char *const s_col[K_MAX] = {"start",    "end",      "duration",
                                         "src_user", "dst_user", "callid"};

int ccm_cdr_parse_kamailio(const char *line, size_t len, ccm_cdr_record_t *rec, char *reason,
                           size_t rlen)
{
    memset(rec, 0, sizeof *rec);
    const char *p[K_MAX];
    size_t l[K_MAX];
    size_t n = 0, from = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != '|')
            continue;
        if (n < K_MAX) {
            p[n] = line + from;
            l[n] = i - from;
        }
        n++;
        from = i + 1;
    }
    if (n != K_MAX)
        return ccm_cdr_fail(reason, rlen, "expected %d '|'-separated fields, got %zu", K_MAX, n);
    int64_t v[3];
    for (int i = K_START; i <= K_DURATION; i++)
        if (ccm_cdr_parse_decimal_us(p[i], l[i], &v[i]) != 0)
            return ccm_cdr_fail(reason, rlen, "%s: not a number \"%.*s\"", s_col[i],
                                (int)(l[i] > 40 ? 40 : l[i]), p[i]);
    if (v[K_END] < v[K_START])
        return ccm_cdr_fail(reason, rlen, "end is before start");
    if (l[K_CALLID] == 0)
        return ccm_cdr_fail(reason, rlen, "callid: empty");
    char *dst[K_MAX] = {NULL, NULL, NULL, rec->src, rec->dst, rec->id};
    size_t cap[K_MAX] = {0, 0, 0, sizeof rec->src, sizeof rec->dst, sizeof rec->id};
    for (int i = K_SRC; i < K_MAX; i++) {
        int rc = ccm_cdr_copy(dst[i], cap[i], p[i], l[i]);
        if (rc != 0)
            return ccm_cdr_fail(reason, rlen, "%s: %s", s_col[i],
                                rc == CCM_ETOOBIG ? "too long" : "control character");
    }
    memcpy(rec->clid, rec->src, sizeof rec->clid);
    rec->start_us = v[K_START];
    rec->billsec = v[K_DURATION] / 1000000;
    rec->answered = rec->billsec > 0;
    if (!rec->answered)
        strcpy(rec->status, "zero duration");
    return 0;
}
