/* Fuzz target: arbitrary bytes as a billing claim.ready payload through every
 * ccm-watch renderer. A payload that decodes must render or be refused with
 * CCM_EINVAL, never crash; an 837P must keep its envelope (one ST, one SE). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Ccm__Billing__Claim *c = ccm__billing__claim__unpack(NULL, size, data);
    if (!c)
        return 0;
    ccm_render_event_t ev = {1, "claim.ready", c->key, 1796040000000000LL};
    ccm_render_ids_t ids = {"SUB", "S", "1", "RCV", "R",  "T", "MEDICARE",
                            "1",   "C", "A", "B",   "NY", "1", "1"};
    ccm_render_person_t p = {c->mrn, c->program, c->dos};
    char *out = NULL;
    if (ccm_render_claim_json(&ev, c, &out) == 0)
        free(out);
    if (ccm_render_claim_csv(c, &out) == 0)
        free(out);
    if (ccm_render_fhir(&ev, c, &out) == 0)
        free(out);
    uint64_t control = (uint64_t)c->fee_year % (CCM_RENDER_X12_CONTROL_MAX + 2);
    int rc = ccm_render_837p(&ev, c, &ids, &p, &p, control, &out);
    if (rc == 0) {
        /* the data cannot open or close a transaction of its own */
        const char *st = strstr(out, "~\nST*"), *se = strstr(out, "~\nSE*");
        if (!st || strstr(st + 1, "~\nST*") || !se || strstr(se + 1, "~\nSE*"))
            abort();
        free(out);
    } else if (rc != CCM_EINVAL && rc != CCM_ENOMEM) {
        abort();
    }
    ccm__billing__claim__free_unpacked(c, NULL);
    return 0;
}
