/* fuzz_cdr — arbitrary bytes as one call record line: every parser (Asterisk and
 * FreeSWITCH with UTC and with a DST zone), the CSV splitter, the date parsers and
 * the mapping of whatever parses. Never crash, never read past len, always give
 * a reason on failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/tz.h"
#include "cdr.h"
#include "csv.h"
#include "map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ccm_cdr_map_t *s_map(void)
{
    static ccm_cdr_map_t *m;
    if (!m) {
        ccm_config_t *c = ccm_config_new();
        ccm_config_set(c, "staff", "2015", "rn1");
        ccm_config_set(c, "patients", "pt-1042", "1042");
        ccm_config_set(c, "patients", "5551234567", "1042");
        char err[128];
        ccm_cdr_map_from_config(c, &m, err, sizeof err);
    }
    return m;
}

static const ccm_tz_t *s_zone(void)
{
    static ccm_tz_t tz;
    static int state; /* 0 not tried, 1 loaded, -1 unavailable */
    if (state == 0)
        state = ccm_tz_load(&tz, "America/New_York") == 0 ? 1 : -1;
    return state == 1 ? &tz : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: a read past size is caught by ASan. */
    char *line = malloc(size ? size : 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    const ccm_tz_t *zones[] = {NULL, s_zone()};
    for (int f = CCM_CDR_ASTERISK; f <= CCM_CDR_JSONL; f++) {
        for (int z = 0; z < 2; z++) {
            if (z == 1 && !ccm_cdr_format_local_dates((ccm_cdr_format_t)f))
                break;
            ccm_cdr_record_t rec;
            char reason[CCM_CDR_REASON_MAX];
            int rc = ccm_cdr_parse((ccm_cdr_format_t)f, line, size, zones[z], &rec, reason,
                                   sizeof reason);
            if (rc != 0) {
                if (rc != CCM_EINVAL || !reason[0])
                    abort(); /* a failure always says why */
                continue;
            }
            if (!rec.id[0])
                abort(); /* a record always has its key */
            ccm_cdr_entry_t e;
            if (rec.answered && s_map() &&
                ccm_cdr_map_apply(s_map(), &rec, &e, reason, sizeof reason) == 0 &&
                (e.seconds < 1 || e.seconds > 86400))
                abort();
        }
    }
    if (size <= CCM_CDR_LINE_MAX) {
        char buf[CCM_CDR_LINE_MAX];
        ccm_csv_field_t fields[32];
        char reason[CCM_CDR_REASON_MAX];
        ccm_csv_split(line, size, fields, 32, buf, sizeof buf, reason, sizeof reason);
    }
    int64_t us;
    ccm_cdr_parse_instant(line, size, &us);
    ccm_cdr_parse_local(line, size, NULL, &us);
    ccm_cdr_parse_decimal_us(line, size, &us);
    free(line);
    return 0;
}
