/* freeswitch — one line of mod_cdr_csv's default ("example") template: 15 quoted
 * columns, A-leg only. uuid is the key; a call was answered iff billsec > 0. */
#include <inttypes.h>
#include <string.h>

#include "ccm/error.h"
#include "cdr.h"
#include "csv.h"

enum {
    F_CID_NAME,
    F_CID_NUMBER,
    F_DEST,
    F_CONTEXT,
    F_START,
    F_ANSWER,
    F_END,
    F_DURATION,
    F_BILLSEC,
    F_CAUSE,
    F_UUID,
    F_BLEG_UUID,
    F_ACCOUNT,
    F_READ_CODEC,
    F_WRITE_CODEC,
    F_MAX
};

static const char *const s_col[F_MAX] = {
    "caller_id_name", "caller_id_number", "destination_number", "context",    "start_stamp",
    "answer_stamp",   "end_stamp",        "duration",           "billsec",    "hangup_cause",
    "uuid",           "bleg_uuid",        "accountcode",        "read_codec", "write_codec"};

static int s_text(char *dst, size_t cap, const ccm_csv_field_t *f, int col, char *reason,
                  size_t rlen)
{
    int rc = ccm_cdr_copy(dst, cap, f->p, f->len);
    if (rc == CCM_ETOOBIG)
        return ccm_cdr_fail(reason, rlen, "%s: longer than %zu bytes", s_col[col], cap - 1);
    if (rc != 0)
        return ccm_cdr_fail(reason, rlen, "%s: control character", s_col[col]);
    return 0;
}

int ccm_cdr_parse_freeswitch(const char *line, size_t len, const ccm_tz_t *tz,
                             ccm_cdr_record_t *rec, char *reason, size_t rlen)
{
    memset(rec, 0, sizeof *rec);
    if (len > CCM_CDR_LINE_MAX)
        return ccm_cdr_fail(reason, rlen, "line longer than %d bytes", CCM_CDR_LINE_MAX);
    char buf[CCM_CDR_LINE_MAX];
    ccm_csv_field_t f[F_MAX];
    int n = ccm_csv_split(line, len, f, F_MAX, buf, sizeof buf, reason, rlen);
    if (n < 0)
        return CCM_EINVAL;
    if (n != F_MAX)
        return ccm_cdr_fail(reason, rlen, "expected %d columns, got %d", F_MAX, n);
    if (f[F_UUID].len == 0)
        return ccm_cdr_fail(reason, rlen, "uuid: empty");
    if (s_text(rec->id, sizeof rec->id, &f[F_UUID], F_UUID, reason, rlen) ||
        s_text(rec->src, sizeof rec->src, &f[F_CID_NUMBER], F_CID_NUMBER, reason, rlen) ||
        s_text(rec->dst, sizeof rec->dst, &f[F_DEST], F_DEST, reason, rlen) ||
        s_text(rec->account, sizeof rec->account, &f[F_ACCOUNT], F_ACCOUNT, reason, rlen) ||
        s_text(rec->status, sizeof rec->status, &f[F_CAUSE], F_CAUSE, reason, rlen))
        return CCM_EINVAL;
    memcpy(rec->clid, rec->src, sizeof rec->clid);

    int64_t start, answer = 0, end, duration, billsec;
    const int dates[] = {F_START, F_ANSWER, F_END};
    int64_t *out[] = {&start, &answer, &end};
    for (int i = 0; i < 3; i++) {
        const ccm_csv_field_t *d = &f[dates[i]];
        if (d->len == 0 && dates[i] != F_START)
            continue;
        if (ccm_cdr_parse_local(d->p, d->len, tz, out[i]) != 0)
            return ccm_cdr_fail(reason, rlen, "%s: not a date \"%.*s\" (want YYYY-MM-DD HH:MM:SS)",
                                s_col[dates[i]], (int)(d->len > 40 ? 40 : d->len), d->p);
    }
    if (ccm_cdr_parse_uint(f[F_DURATION].p, f[F_DURATION].len, &duration) != 0)
        return ccm_cdr_fail(reason, rlen, "duration: not a whole number \"%.*s\"",
                            (int)(f[F_DURATION].len > 40 ? 40 : f[F_DURATION].len),
                            f[F_DURATION].p);
    if (ccm_cdr_parse_uint(f[F_BILLSEC].p, f[F_BILLSEC].len, &billsec) != 0)
        return ccm_cdr_fail(reason, rlen, "billsec: not a whole number \"%.*s\"",
                            (int)(f[F_BILLSEC].len > 40 ? 40 : f[F_BILLSEC].len), f[F_BILLSEC].p);
    if (billsec > duration)
        return ccm_cdr_fail(reason, rlen, "billsec %" PRId64 " exceeds duration %" PRId64, billsec,
                            duration);
    rec->billsec = billsec;
    rec->start_us = f[F_ANSWER].len ? answer : start;
    rec->answered = billsec > 0;
    return 0;
}
