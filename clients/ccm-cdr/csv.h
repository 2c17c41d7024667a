/* csv — splits one CSV line (RFC 4180 quoting: "…" with "" for a quote inside)
 * into fields. Pure; the caller supplies the buffer unquoted values live in. */
#ifndef CCM_CDR_CSV_H
#define CCM_CDR_CSV_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *p; /* value (unquoted, points into the caller's buffer), not NUL-terminated */
    size_t len;    /* bytes of value */
    bool quoted;   /* the field was written in quotes */
} ccm_csv_field_t;

/* Splits line[0..len) into at most max fields, unquoting into buf (bufcap >= len).
 * Returns the number of fields (which may exceed max: fields past max are counted,
 * not stored), or CCM_EINVAL with a reason (unterminated quote, text after a
 * closing quote, a quote inside an unquoted field). */
int ccm_csv_split(const char *line, size_t len, ccm_csv_field_t *fields, size_t max, char *buf,
                  size_t bufcap, char *reason, size_t rlen);

#endif
