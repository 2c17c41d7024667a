/* fuzz_billing — untrusted request bytes through the worker host and the
 * billing handlers on a real LMDB store holding a billable patient-month fed
 * in as followed events: decoding, validation, month close with lib/rules and
 * storage must never crash, and every input gets a decodable reply. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "ccm/ccm.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/log.h"
#include "ccm/timetrack.pb-c.h"
#include "ccm/worker.h"
#include "fuzz_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ccm_worker_t *s_worker(void)
{
    static ccm_worker_t *w;
    static ccm_billing_t *b;
    if (w)
        return w;
    ccm_log_init("fuzz", CCM_LOG_ERROR);
    static char dir[] = "/tmp/ccm-fuzz-bill-XXXXXX";
    if (!mkdtemp(dir) || !(b = ccm_billing_new(CCM_FEES_DIR_DEFAULT, 0)) ||
        ccm_billing_add_clinic(b, "C01", "America/New_York", "PHYSICIAN_PRACTICE") != 0)
        abort();
    ccm_worker_opts_t o = {.service = "billing",
                           .broker = "tcp://127.0.0.1:1",
                           .data_dir = dir,
                           .dbs = ccm_billing_dbs,
                           .schema_version = CCM_BILLING_SCHEMA,
                           .handle = ccm_billing_handle,
                           .ctx = b};
    if (ccm_worker_new(&o, &w) != 0 || ccm_billing_bind(b, w) != 0)
        abort();
    Ccm__Enrollment__Staff st = CCM__ENROLLMENT__STAFF__INIT;
    st.clinic = "C01", st.id = "rn1", st.role = CCM__ENROLLMENT__ROLE__CLINICAL_STAFF;
    st.in_us = 1;
    fuzz_feed(w, "enrollment", 1, "staff.added", &st.base);
    Ccm__Enrollment__Condition c1 = CCM__ENROLLMENT__CONDITION__INIT, c2 = c1;
    c1.icd10 = "E11.9", c1.chronic = 1, c1.high_risk = 1, c1.expected_months = 24;
    c2.icd10 = "I50.9", c2.chronic = 1, c2.high_risk = 1, c2.expected_months = 24;
    Ccm__Enrollment__Condition *conds[] = {&c1, &c2};
    Ccm__Enrollment__Consent con = CCM__ENROLLMENT__CONSENT__INIT;
    con.id = "C01/1042/CCM/1", con.program = CCM__ENROLLMENT__PROGRAM__CCM;
    con.billing_npi = "1234567893", con.at_us = 1758000000LL * 1000000;
    con.status = CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE;
    Ccm__Enrollment__Consent *cons[] = {&con};
    /* The history enrollment keeps: the month is judged by the facts in force then
     * (a payer change from 2025-11 on, a later attestation of the first condition). */
    Ccm__Enrollment__Attestation a1 = CCM__ENROLLMENT__ATTESTATION__INIT, a2 = a1;
    a1.chronic = 1, a1.high_risk = 1, a1.expected_months = 24;
    a2.chronic = 1, a2.expected_months = 6, a2.from_us = 1762000000LL * 1000000;
    Ccm__Enrollment__Attestation *atts[] = {&a1, &a2};
    c1.attestations = atts, c1.n_attestations = 2;
    Ccm__Enrollment__BillingPeriod bp = CCM__ENROLLMENT__BILLING_PERIOD__INIT;
    bp.npi = "1234567893";
    Ccm__Enrollment__BillingPeriod *bps[] = {&bp};
    Ccm__Enrollment__PayerPeriod pp1 = CCM__ENROLLMENT__PAYER_PERIOD__INIT, pp2 = pp1;
    pp1.payer = "MEDICARE_B";
    pp2.payer = "COMMERCIAL", pp2.from_us = 1761969600LL * 1000000;
    Ccm__Enrollment__PayerPeriod *pps[] = {&pp1, &pp2};
    Ccm__Enrollment__Patient p = CCM__ENROLLMENT__PATIENT__INIT;
    p.clinic = "C01", p.mrn = "1042", p.mbi = "1EG4TE5MK73", p.billing_npi = "1234567893";
    p.conditions = conds, p.n_conditions = 2, p.consents = cons, p.n_consents = 1;
    p.eligibility = CCM__ENROLLMENT__ELIGIBILITY__CCM_ELIGIBLE;
    p.billing_history = bps, p.n_billing_history = 1;
    p.payer_history = pps, p.n_payer_history = 2;
    fuzz_feed(w, "enrollment", 2, "consent.recorded", &p.base);
    Ccm__Timetrack__TimeEntry e = CCM__TIMETRACK__TIME_ENTRY__INIT;
    e.id = "MANUAL:f1", e.clinic = "C01", e.mrn = "1042", e.performer = "rn1";
    e.service = CCM__TIMETRACK__SERVICE_TAG__CCM, e.start_us = 1759759200LL * 1000000;
    e.seconds = 1500, e.state = CCM__TIMETRACK__ENTRY_STATE__ACTIVE;
    fuzz_feed(w, "timetrack", 1, "entry.added", &e.base);
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
