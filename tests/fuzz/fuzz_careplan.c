/* fuzz_careplan — untrusted request bytes through the worker host and the
 * careplan handlers, on a real LMDB store with one patient fed from a fake
 * enrollment stream: decoding, plan validation (descriptor-driven walks of
 * nested messages), diffs, idempotency and storage must never crash, and every
 * input must get a decodable reply. The review check runs after each input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "careplan.h"
#include "ccm/careplan.pb-c.h"
#include "ccm/ccm.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/log.h"
#include "ccm/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ccm_careplan_t *s_cp;

static ccm_worker_t *s_worker(void)
{
    static ccm_worker_t *w;
    if (w)
        return w;
    ccm_log_init("fuzz", CCM_LOG_ERROR);
    static char dir[] = "/tmp/ccm-fuzz-cp-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    s_cp = ccm_careplan_new();
    if (!s_cp || ccm_careplan_add_clinic(s_cp, "C01", "America/New_York") != 0)
        abort();
    ccm_worker_opts_t o = {.service = "careplan",
                           .broker = "tcp://127.0.0.1:1",
                           .data_dir = dir,
                           .dbs = ccm_careplan_dbs,
                           .schema_version = CCM_CAREPLAN_SCHEMA,
                           .handle = ccm_careplan_handle,
                           .ctx = s_cp};
    if (ccm_worker_new(&o, &w) != 0 || ccm_careplan_bind(s_cp, w) != 0)
        abort();
    /* patient C01/1042, as enrollment would announce it */
    Ccm__Enrollment__Patient p = CCM__ENROLLMENT__PATIENT__INIT;
    p.clinic = "C01";
    p.mrn = "1042";
    uint8_t buf[128];
    Ccm__Envelope e = CCM__ENVELOPE__INIT;
    e.seq = 1;
    e.type = "patient.registered";
    e.payload.data = buf;
    e.payload.len = ccm__enrollment__patient__pack(&p, buf);
    Ccm__Envelope *ev[1] = {&e};
    Ccm__FetchReply fr = CCM__FETCH_REPLY__INIT;
    fr.n_events = 1;
    fr.events = ev;
    fr.next_seq = 2;
    fr.last_seq = 1;
    if (ccm_worker_feed(w, "enrollment", &fr) != 0)
        abort();
    /* two versions of its CCM plan, so reads, diffs and establishing have state
     * whatever order the inputs come in */
    for (int v = 1; v <= 2; v++) {
        Ccm__Careplan__Problem pr = CCM__CAREPLAN__PROBLEM__INIT;
        pr.icd10 = "E11.9";
        Ccm__Careplan__Problem *prs[1] = {&pr};
        Ccm__Careplan__Goal g = CCM__CAREPLAN__GOAL__INIT;
        g.description = "Lower HbA1c";
        g.target_date = v == 1 ? "2027-06-30" : "2027-12-31";
        Ccm__Careplan__Goal *gs[1] = {&g};
        Ccm__Careplan__ReviewSchedule rs = CCM__CAREPLAN__REVIEW_SCHEDULE__INIT;
        rs.next_review = "2026-01-01";
        Ccm__Careplan__Plan plan = CCM__CAREPLAN__PLAN__INIT;
        plan.n_problems = 1;
        plan.problems = prs;
        plan.n_goals = 1;
        plan.goals = gs;
        plan.expected_outcome = v == 2 ? "Stable" : "";
        plan.review = &rs;
        Ccm__Careplan__SetPlan sp = CCM__CAREPLAN__SET_PLAN__INIT;
        sp.clinic = "C01";
        sp.mrn = "1042";
        sp.program = CCM__CAREPLAN__PROGRAM__CCM;
        sp.plan = &plan;
        Ccm__Careplan__Request req = CCM__CAREPLAN__REQUEST__INIT;
        req.request_id = v == 1 ? "init-1" : "init-2";
        req.op_case = CCM__CAREPLAN__REQUEST__OP_SET_PLAN;
        req.set_plan = &sp;
        uint8_t rb[1024];
        void *rep = NULL;
        size_t rlen = 0;
        if (ccm__careplan__request__get_packed_size(&req) > sizeof rb ||
            ccm_worker_call(w, "dev", rb, ccm__careplan__request__pack(&req, rb), &rep, &rlen) != 0)
            abort();
        free(rep);
    }
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccm_worker_t *w = s_worker();
    void *rep = NULL;
    size_t rlen = 0;
    if (ccm_worker_call(w, "dev", data, size, &rep, &rlen) != 0)
        abort(); /* the store must always commit here */
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    if (!r || !r->status)
        abort(); /* every input gets a status */
    ccm__common_reply__free_unpacked(r, NULL);
    free(rep);
    /* the review check over whatever the input stored, a year from now */
    MDB_txn *txn;
    if (mdb_txn_begin(ccm_store_env(ccm_worker_store(w)), NULL, 0, &txn) != 0)
        abort();
    if (ccm_careplan_review_tick(w, txn, 1830000000LL * 1000000LL, s_cp) != 0)
        abort();
    mdb_txn_abort(txn); /* keep the state as the inputs left it */
    return 0;
}
