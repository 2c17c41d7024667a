/* cdr — call records of phone systems, one parser per format.
 *
 * Every parser is a pure function from one line (no newline; not NUL-terminated)
 * to a ccm_cdr_record_t, or CCM_EINVAL with a one-line reason. No allocation but
 * jansson's for the JSON formats, no I/O, no clock. An unanswered call is a
 * record like any other (answered == false): the caller counts it as skipped.
 * Formats: docs/call-records-and-claims.md §1 and clients/ccm-cdr/README.md. */
#ifndef CCM_CDR_H
#define CCM_CDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccm/tz.h"

/* Longest unique id: "cdr:" + id must fit request_id's 128 bytes. */
#define CCM_CDR_ID_MAX 124
/* Longest text field kept (numbers, account codes, names). */
#define CCM_CDR_FIELD_MAX 128
/* Longest line a CSV parser accepts (Asterisk lastdata can be long, never this long). */
#define CCM_CDR_LINE_MAX 8192
/* Room for a reason, e.g. "expected 16, 18 or 21 columns, got 5". */
#define CCM_CDR_REASON_MAX 200

typedef enum {
    CCM_CDR_ASTERISK = 0, /* cdr_csv Master.csv, 16/18/21 columns */
    CCM_CDR_FREESWITCH,   /* mod_cdr_csv default template, 15 columns */
    CCM_CDR_KAMAILIO,     /* acc flat file: start|end|duration|src_user|dst_user|callid */
    CCM_CDR_TWILIO,       /* Call resource JSON, one object per line */
    CCM_CDR_JSONL         /* ours: {"id","patient","staff","start","seconds","activity"} */
} ccm_cdr_format_t;

typedef struct {
    char id[CCM_CDR_ID_MAX + 1];           /* the record's unique id: the idempotency key */
    int64_t start_us;                      /* when talk started (answer time), UTC µs */
    int64_t billsec;                       /* answered talk seconds (floored) */
    bool answered;                         /* answered with billsec > 0 */
    char src[CCM_CDR_FIELD_MAX + 1];       /* calling extension / number / user */
    char dst[CCM_CDR_FIELD_MAX + 1];       /* called extension / number / user */
    char clid[CCM_CDR_FIELD_MAX + 1];      /* caller id number ("2015" of "Ray" <2015>) */
    char account[CCM_CDR_FIELD_MAX + 1];   /* account code (Asterisk, FreeSWITCH) */
    char userfield[CCM_CDR_FIELD_MAX + 1]; /* user field (Asterisk 18/21 columns) */
    char patient[CCM_CDR_FIELD_MAX + 1];   /* MRN given by the record itself (JSON Lines) */
    char staff[CCM_CDR_FIELD_MAX + 1];     /* performer given by the record itself (JSON Lines) */
    char activity[CCM_CDR_FIELD_MAX + 1];  /* activity given by the record, "" = mapping default */
    char service[16];                      /* service tag given by the record, "" = default */
    char status[64];                       /* why unanswered: disposition, hangup cause, status */
} ccm_cdr_record_t;

/* Parses "asterisk", "freeswitch", "kamailio", "twilio", "jsonl". 0 or CCM_EINVAL. */
int ccm_cdr_format_parse(const char *name, ccm_cdr_format_t *out);
const char *ccm_cdr_format_name(ccm_cdr_format_t f);
/* True for formats whose dates are wall-clock times (they need a zone). */
bool ccm_cdr_format_local_dates(ccm_cdr_format_t f);

/* Parses one line of format f. `tz` is the zone of local dates (Asterisk,
 * FreeSWITCH); NULL means they are UTC. Returns 0 and fills *rec (cleared first),
 * or CCM_EINVAL and a reason in reason[0..rlen) (always NUL-terminated). */
int ccm_cdr_parse(ccm_cdr_format_t f, const char *line, size_t len, const ccm_tz_t *tz,
                  ccm_cdr_record_t *rec, char *reason, size_t rlen);

/* The parsers ccm_cdr_parse dispatches to; same contract. */
int ccm_cdr_parse_asterisk(const char *line, size_t len, const ccm_tz_t *tz, ccm_cdr_record_t *rec,
                           char *reason, size_t rlen);
int ccm_cdr_parse_freeswitch(const char *line, size_t len, const ccm_tz_t *tz,
                             ccm_cdr_record_t *rec, char *reason, size_t rlen);
int ccm_cdr_parse_kamailio(const char *line, size_t len, ccm_cdr_record_t *rec, char *reason,
                           size_t rlen);
int ccm_cdr_parse_twilio(const char *line, size_t len, ccm_cdr_record_t *rec, char *reason,
                         size_t rlen);
int ccm_cdr_parse_jsonl(const char *line, size_t len, ccm_cdr_record_t *rec, char *reason,
                        size_t rlen);

/* ---- helpers shared by the parsers (cdr.c) ---- */

/* Writes a printf-style reason; returns CCM_EINVAL so parsers can `return s_fail(…)`. */
int ccm_cdr_fail(char *reason, size_t rlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies s[0..len) into dst[0..cap) NUL-terminated. CCM_ETOOBIG when it does not fit,
 * CCM_EINVAL when it contains a NUL or another control character. */
int ccm_cdr_copy(char *dst, size_t cap, const char *s, size_t len);
/* Whole non-negative decimal number (at most 12 digits). 0 or CCM_EINVAL. */
int ccm_cdr_parse_uint(const char *s, size_t len, int64_t *out);
/* Non-negative decimal with an optional fraction ("938.412") in microseconds. */
int ccm_cdr_parse_decimal_us(const char *s, size_t len, int64_t *out_us);
/* "YYYY-MM-DD HH:MM:SS" wall-clock time in tz (NULL = UTC) to UTC µs. For a time
 * that occurs twice (fall back) the first occurrence; in a gap, the transition. */
int ccm_cdr_parse_local(const char *s, size_t len, const ccm_tz_t *tz, int64_t *out_us);
/* RFC 3339 ("2026-11-03T14:02:19Z", fractions kept) or RFC 2822
 * ("Tue, 03 Nov 2026 14:02:19 +0000") to UTC µs. */
int ccm_cdr_parse_instant(const char *s, size_t len, int64_t *out_us);
/* The number inside <…> of a caller id ("\"Nurse Ray\" <2015>" gives "2015"),
 * else the whole string. */
void ccm_cdr_clid_number(const char *clid, char *out, size_t cap);
/* FNV-1a 64 of bytes (used for synthesised ids and file fingerprints). */
uint64_t ccm_cdr_hash(uint64_t h, const void *data, size_t len);
#define CCM_CDR_HASH_INIT 0xcbf29ce484222325ULL

#endif
