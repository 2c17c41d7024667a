/* fuzz_timetrack — untrusted request bytes through the worker host and the
 * timetrack handlers on a real LMDB store, with a patient and staff fed in as
 * enrollment events: decoding, validation, the month evaluation with lib/rules
 * and storage must never crash, and every input gets a decodable reply. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/log.h"
#include "ccm/worker.h"
#include "fuzz_feed.h"
#include "timetrack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ccm_worker_t *s_worker(void)
{
    static ccm_worker_t *w;
    static ccm_timetrack_t *t;
    if (w)
        return w;
    ccm_log_init("fuzz", CCM_LOG_ERROR);
    static char dir[] = "/tmp/ccm-fuzz-tt-XXXXXX";
    if (!mkdtemp(dir) || !(t = ccm_timetrack_new(CCM_FEES_DIR_DEFAULT)) ||
        ccm_timetrack_add_clinic(t, "C01", "America/New_York", "PHYSICIAN_PRACTICE") != 0)
        abort();
    ccm_worker_opts_t o = {.service = "timetrack",
                           .broker = "tcp://127.0.0.1:1",
                           .data_dir = dir,
                           .dbs = ccm_timetrack_dbs,
                           .schema_version = CCM_TIMETRACK_SCHEMA,
                           .handle = ccm_timetrack_handle,
                           .ctx = t};
    if (ccm_worker_new(&o, &w) != 0 || ccm_timetrack_bind(t, w) != 0)
        abort();
    Ccm__Enrollment__Staff st = CCM__ENROLLMENT__STAFF__INIT;
    st.clinic = "C01", st.id = "rn1", st.role = CCM__ENROLLMENT__ROLE__CLINICAL_STAFF;
    st.in_us = 1;
    fuzz_feed(w, "enrollment", 1, "staff.added", &st.base);
    Ccm__Enrollment__Patient p = CCM__ENROLLMENT__PATIENT__INIT;
    p.clinic = "C01", p.mrn = "1042", p.mbi = "1EG4TE5MK73", p.billing_npi = "1234567893";
    fuzz_feed(w, "enrollment", 2, "patient.registered", &p.base);
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccm_worker_t *w = s_worker();
    void *rep = NULL;
    size_t rlen = 0;
    if (ccm_worker_call(w, "dev", data, size, &rep, &rlen) != 0)
        abort();
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    if (!r || !r->status)
        abort();
    ccm__common_reply__free_unpacked(r, NULL);
    free(rep);
    return 0;
}
