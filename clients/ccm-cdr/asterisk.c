/* asterisk — one line of cdr_csv's Master.csv. The column count tells the
 * variant: 16 (no uniqueid), 18 (+ uniqueid, userfield), 21 (+ peeraccount,
 * linkedid, sequence). Talk time is billsec; the talk started at `answer`. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ccm/error.h"
#include "cdr.h"
#include "csv.h"

enum {
    A_ACCOUNT,
    A_SRC,
    A_DST,
    A_DCONTEXT,
    A_CLID,
    A_CHANNEL,
    A_DSTCHANNEL,
    A_LASTAPP,
    A_LASTDATA,
    A_START,
    A_ANSWER,
    A_END,
    A_DURATION,
    A_BILLSEC,
    A_DISPOSITION,
    A_AMAFLAGS,
    A_UNIQUEID,
    A_USERFIELD,
    A_PEERACCOUNT,
    A_LINKEDID,
    A_SEQUENCE,
    A_MAX
};

static const char *const s_col[A_MAX] = {
    "accountcode", "src",      "dst",      "dcontext",  "clid",        "channel",  "dstchannel",
    "lastapp",     "lastdata", "start",    "answer",    "end",         "duration", "billsec",
    "disposition", "amaflags", "uniqueid", "userfield", "peeraccount", "linkedid", "sequence"};

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

static int s_date(const ccm_csv_field_t *f, int col, const ccm_tz_t *tz, int64_t *us, char *reason,
                  size_t rlen)
{
    if (ccm_cdr_parse_local(f->p, f->len, tz, us) != 0)
        return ccm_cdr_fail(reason, rlen, "%s: not a date \"%.*s\" (want YYYY-MM-DD HH:MM:SS)",
                            s_col[col], (int)(f->len > 40 ? 40 : f->len), f->p);
    return 0;
}

static int s_int(const ccm_csv_field_t *f, int col, int64_t *v, char *reason, size_t rlen)
{
    if (ccm_cdr_parse_uint(f->p, f->len, v) != 0)
        return ccm_cdr_fail(reason, rlen, "%s: not a whole number \"%.*s\"", s_col[col],
                            (int)(f->len > 40 ? 40 : f->len), f->p);
    return 0;
}

int ccm_cdr_parse_asterisk(const char *line, size_t len, const ccm_tz_t *tz, ccm_cdr_record_t *rec,
                           char *reason, size_t rlen)
{
    memset(rec, 0, sizeof *rec);
    if (len > CCM_CDR_LINE_MAX)
        return ccm_cdr_fail(reason, rlen, "line longer than %d bytes", CCM_CDR_LINE_MAX);
    char buf[CCM_CDR_LINE_MAX];
    ccm_csv_field_t f[A_MAX];
    int n = ccm_csv_split(line, len, f, A_MAX, buf, sizeof buf, reason, rlen);
    if (n < 0)
        return CCM_EINVAL;
    if (n != 16 && n != 18 && n != 21)
        return ccm_cdr_fail(reason, rlen, "expected 16, 18 or 21 columns, got %d", n);

    char clid[CCM_CDR_FIELD_MAX + 1];
    if (s_text(rec->account, sizeof rec->account, &f[A_ACCOUNT], A_ACCOUNT, reason, rlen) ||
        s_text(rec->src, sizeof rec->src, &f[A_SRC], A_SRC, reason, rlen) ||
        s_text(rec->dst, sizeof rec->dst, &f[A_DST], A_DST, reason, rlen) ||
        s_text(clid, sizeof clid, &f[A_CLID], A_CLID, reason, rlen) ||
        s_text(rec->status, sizeof rec->status, &f[A_DISPOSITION], A_DISPOSITION, reason, rlen))
        return CCM_EINVAL;
    ccm_cdr_clid_number(clid, rec->clid, sizeof rec->clid);

    int64_t start, answer = 0, end, duration, billsec;
    if (s_date(&f[A_START], A_START, tz, &start, reason, rlen))
        return CCM_EINVAL;
    if (f[A_ANSWER].len && s_date(&f[A_ANSWER], A_ANSWER, tz, &answer, reason, rlen))
        return CCM_EINVAL;
    if (f[A_END].len && s_date(&f[A_END], A_END, tz, &end, reason, rlen))
        return CCM_EINVAL;
    if (s_int(&f[A_DURATION], A_DURATION, &duration, reason, rlen) ||
        s_int(&f[A_BILLSEC], A_BILLSEC, &billsec, reason, rlen))
        return CCM_EINVAL;
    if (billsec > duration)
        return ccm_cdr_fail(reason, rlen, "billsec %" PRId64 " exceeds duration %" PRId64, billsec,
                            duration);

    if (n >= 18) {
        if (f[A_UNIQUEID].len == 0)
            return ccm_cdr_fail(reason, rlen, "uniqueid: empty");
        int rc = ccm_cdr_copy(rec->id, sizeof rec->id, f[A_UNIQUEID].p, f[A_UNIQUEID].len);
        if (rc != 0)
            return ccm_cdr_fail(reason, rlen, "uniqueid: %s",
                                rc == CCM_ETOOBIG ? "too long" : "control character");
        if (s_text(rec->userfield, sizeof rec->userfield, &f[A_USERFIELD], A_USERFIELD, reason,
                   rlen))
            return CCM_EINVAL;
    } else {
        /* No uniqueid column: the id is a hash of every field, so the same record
         * read twice (or from a copy of the file) gets the same id. */
        uint64_t h = CCM_CDR_HASH_INIT;
        for (int i = 0; i < n; i++) {
            h = ccm_cdr_hash(h, f[i].p, f[i].len);
            h = ccm_cdr_hash(h, "\x1f", 1);
        }
        snprintf(rec->id, sizeof rec->id, "ast-%016" PRIx64, h);
    }
    rec->billsec = billsec;
    rec->start_us = f[A_ANSWER].len ? answer : start;
    rec->answered = strcmp(rec->status, "ANSWERED") == 0 && billsec > 0;
    return 0;
}
