/* csv — RFC 4180 field splitting for one line. Asterisk and FreeSWITCH quote
 * strings and double a quote inside; numbers and absent dates are bare. */
#include "csv.h"

#include "ccm/error.h"
#include "cdr.h"

int ccm_csv_split(const char *line, size_t len, ccm_csv_field_t *fields, size_t max, char *buf,
                  size_t bufcap, char *reason, size_t rlen)
{
    if (bufcap < len)
        return ccm_cdr_fail(reason, rlen, "line too long (%zu bytes)", len);
    size_t i = 0, n = 0, out = 0;
    for (;;) {
        size_t start = out;
        bool quoted = false;
        if (i < len && line[i] == '"') {
            quoted = true;
            i++;
            for (;;) {
                if (i >= len)
                    return ccm_cdr_fail(reason, rlen, "column %zu: unterminated quoted field",
                                        n + 1);
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        buf[out++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                buf[out++] = line[i++];
            }
            if (i < len && line[i] != ',')
                return ccm_cdr_fail(reason, rlen, "column %zu: text after the closing quote",
                                    n + 1);
        } else {
            while (i < len && line[i] != ',') {
                if (line[i] == '"')
                    return ccm_cdr_fail(reason, rlen, "column %zu: quote inside an unquoted field",
                                        n + 1);
                buf[out++] = line[i++];
            }
        }
        if (n < max) {
            fields[n].p = buf + start;
            fields[n].len = out - start;
            fields[n].quoted = quoted;
        }
        n++;
        if (i >= len)
            break;
        i++; /* the comma; a trailing comma ends with one more empty field */
        if (i == len) {
            if (n < max) {
                fields[n].p = buf + out;
                fields[n].len = 0;
                fields[n].quoted = false;
            }
            n++;
            break;
        }
    }
    return (int)n;
}
