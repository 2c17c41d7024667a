/* The billing handlers through the worker host, without sockets: followed events
 * are fed in as if fetched, requests go through ccm_worker_call(). What a system
 * test cannot reach cheaply: a report past the row counts a fixed array held, an
 * APCM month billed from documented elements (zero-second entries), and holder
 * rows written before one biller meant one per MBI-month. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "billing.h"
#include "ccm/billing.pb-c.h"
#include "ccm/careplan.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/store.h"
#include "ccm/timetrack.pb-c.h"
#include "ccm/worker.h"
#include "fuzz_feed.h"

#define NPI "1234567893"
/* Instants (s) in America/New_York: the month judged is 2026-10. */
#define CONSENT_AT 1789484400LL    /* 2026-09-15 11:00 */
#define ESTABLISHED 1789488000LL   /* 2026-09-15 12:00 */
#define OCT_06_10H 1791295200LL    /* 2026-10-06 10:00 */
#define OCT_08_10H 1791468000LL    /* 2026-10-08 10:00 */
#define OCT_13_10H 1791900000LL    /* 2026-10-13 10:00 */

typedef struct {
    char dir[64];
    ccm_billing_t *b;
    ccm_worker_t *w;
    uint64_t seq[3]; /* next seq per followed producer: enrollment, careplan, timetrack */
} fix_t;

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ccm_log_init("test", CCM_LOG_ERROR);
    snprintf(f->dir, sizeof f->dir, "/tmp/ccm-test-billing-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->b = ccm_billing_new(CCM_FEES_DIR_DEFAULT, 0);
    assert_non_null(f->b);
    assert_int_equal(ccm_billing_add_clinic(f->b, "C01", "America/New_York", "PHYSICIAN_PRACTICE"),
                     0);
    assert_int_equal(ccm_billing_add_clinic(f->b, "C02", "America/New_York", "PHYSICIAN_PRACTICE"),
                     0);
    ccm_worker_opts_t o = {.service = "billing",
                           .broker = "tcp://127.0.0.1:1",
                           .data_dir = f->dir,
                           .dbs = ccm_billing_dbs,
                           .schema_version = CCM_BILLING_SCHEMA,
                           .handle = ccm_billing_handle,
                           .ctx = f->b};
    assert_int_equal(ccm_worker_new(&o, &f->w), 0);
    assert_int_equal(ccm_billing_bind(f->b, f->w), 0);
    for (int i = 0; i < 3; i++)
        f->seq[i] = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    ccm_worker_destroy(&f->w);
    ccm_billing_destroy(&f->b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void feed(fix_t *f, int producer, const char *type, const ProtobufCMessage *m)
{
    static const char *const names[] = {"enrollment", "careplan", "timetrack"};
    fuzz_feed(f->w, names[producer], f->seq[producer]++, type, m);
}

/* ---- facts ---- */

static void people(fix_t *f, const char *clinic)
{
    Ccm__Enrollment__Practitioner pr = CCM__ENROLLMENT__PRACTITIONER__INIT;
    pr.clinic = (char *)clinic, pr.npi = NPI, pr.role = CCM__ENROLLMENT__ROLE__PHYSICIAN;
    feed(f, 0, "practitioner.added", &pr.base);
    Ccm__Enrollment__Staff st = CCM__ENROLLMENT__STAFF__INIT;
    st.clinic = (char *)clinic, st.id = "rn1", st.role = CCM__ENROLLMENT__ROLE__CLINICAL_STAFF;
    st.in_us = 1;
    feed(f, 0, "staff.added", &st.base);
}

/* A patient with two chronic conditions, the initiating visit and consent for
 * `program` on 2026-09-15 (consent = false: neither). */
static void patient(fix_t *f, const char *clinic, const char *mrn, const char *mbi,
                    Ccm__Enrollment__Program program, bool consent)
{
    Ccm__Enrollment__Condition c1 = CCM__ENROLLMENT__CONDITION__INIT, c2 = c1;
    c1.icd10 = "E11.9", c1.chronic = 1, c1.high_risk = 1, c1.expected_months = 24;
    c2.icd10 = "I50.9", c2.chronic = 1, c2.high_risk = 1, c2.expected_months = 24;
    Ccm__Enrollment__Condition *conds[] = {&c1, &c2};
    Ccm__Enrollment__Visit v = CCM__ENROLLMENT__VISIT__INIT;
    v.code = "99214", v.date = "2026-09-15", v.npi = NPI;
    Ccm__Enrollment__Visit *visits[] = {&v};
    char id[64];
    snprintf(id, sizeof id, "%s/%s/%d/1", clinic, mrn, (int)program);
    Ccm__Enrollment__Consent con = CCM__ENROLLMENT__CONSENT__INIT;
    con.id = id, con.program = program, con.billing_npi = NPI;
    con.at_us = CONSENT_AT * 1000000;
    con.status = CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE;
    Ccm__Enrollment__Consent *cons[] = {&con};
    Ccm__Enrollment__Patient p = CCM__ENROLLMENT__PATIENT__INIT;
    p.clinic = (char *)clinic, p.mrn = (char *)mrn, p.mbi = (char *)mbi;
    p.billing_npi = NPI;
    p.conditions = conds, p.n_conditions = 2;
    p.visits = visits, p.n_visits = 1;
    p.consents = cons, p.n_consents = consent ? 1 : 0;
    p.eligibility = CCM__ENROLLMENT__ELIGIBILITY__CCM_ELIGIBLE;
    feed(f, 0, consent ? "consent.recorded" : "patient.registered", &p.base);
}

static void care_plan(fix_t *f, const char *clinic, const char *mrn,
                      Ccm__Careplan__Program program)
{
    Ccm__Careplan__CopyGiven copy = CCM__CAREPLAN__COPY_GIVEN__INIT;
    copy.date = "2026-09-16", copy.version = 1;
    Ccm__Careplan__CopyGiven *copies[] = {&copy};
    Ccm__Careplan__CarePlan cp = CCM__CAREPLAN__CARE_PLAN__INIT;
    cp.clinic = (char *)clinic, cp.mrn = (char *)mrn, cp.program = program;
    cp.status = CCM__CAREPLAN__STATUS__ESTABLISHED;
    cp.current_version = cp.established_version = 1;
    cp.established_us = ESTABLISHED * 1000000;
    cp.copies = copies, cp.n_copies = 1;
    feed(f, 1, "careplan.established", &cp.base);
}

static void entry(fix_t *f, const char *clinic, const char *mrn, const char *id,
                  Ccm__Timetrack__ServiceTag service, int64_t start, int64_t seconds)
{
    Ccm__Timetrack__TimeEntry e = CCM__TIMETRACK__TIME_ENTRY__INIT;
    e.id = (char *)id, e.clinic = (char *)clinic, e.mrn = (char *)mrn, e.performer = "rn1";
    e.service = service, e.start_us = start * 1000000, e.seconds = seconds;
    e.state = CCM__TIMETRACK__ENTRY_STATE__ACTIVE;
    feed(f, 2, "entry.added", &e.base);
}

/* ---- requests ---- */

static Ccm__Billing__Reply *call(fix_t *f, Ccm__Billing__Request *req)
{
    uint8_t buf[512];
    size_t len = ccm__billing__request__get_packed_size(req);
    assert_true(len <= sizeof buf);
    ccm__billing__request__pack(req, buf);
    void *rep = NULL;
    size_t rlen = 0;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    Ccm__Billing__Reply *r = ccm__billing__reply__unpack(NULL, rlen, rep);
    free(rep);
    assert_non_null(r);
    assert_non_null(r->status);
    return r;
}

static Ccm__Billing__CloseReply close_month(fix_t *f, const char *clinic, const char *month)
{
    static unsigned n;
    char rid[32];
    snprintf(rid, sizeof rid, "close-%u", ++n);
    Ccm__Billing__CloseMonth in = CCM__BILLING__CLOSE_MONTH__INIT;
    in.month = (char *)month, in.clinic = (char *)clinic;
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = rid;
    req.op_case = CCM__BILLING__REQUEST__OP_CLOSE_MONTH;
    req.close_month = &in;
    Ccm__Billing__Reply *r = call(f, &req);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->result_case, CCM__BILLING__REPLY__RESULT_CLOSED);
    Ccm__Billing__CloseReply out = *r->closed;
    ccm__billing__reply__free_unpacked(r, NULL);
    return out;
}

/* ---- tests ---- */

static void test_report_keeps_every_row(void **state)
{
    fix_t *f = *state;
    patient(f, "C02", "3000", "3EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM, false);
    /* 300 months (2001-01 … 2025-12), each missed: one report row per month */
    for (int m = 0; m < 300; m++) {
        char month[8];
        snprintf(month, sizeof month, "%04d-%02d", 2001 + m / 12, m % 12 + 1);
        Ccm__Billing__CloseReply cr = close_month(f, "C02", month);
        assert_int_equal(cr.missed, 1);
    }
    Ccm__Billing__Report in = CCM__BILLING__REPORT__INIT;
    in.clinic = "C02", in.month = "";
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = "";
    req.op_case = CCM__BILLING__REQUEST__OP_REPORT;
    req.report = &in;
    Ccm__Billing__Reply *r = call(f, &req);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->report->n_rows, 300);
    for (size_t i = 0; i < r->report->n_rows; i++) {
        assert_int_equal(r->report->rows[i]->missed, 1);
        assert_int_equal(r->report->rows[i]->reached, 0);
    }
    assert_string_equal(r->report->rows[299]->month, "2025-12");
    ccm__billing__reply__free_unpacked(r, NULL);
}

static void test_apcm_month_bills_from_documented_elements(void **state)
{
    fix_t *f = *state;
    people(f, "C01");
    patient(f, "C01", "2000", "2EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__APCM, true);
    care_plan(f, "C01", "2000", CCM__CAREPLAN__PROGRAM__APCM);
    /* a documented APCM service element: zero seconds, service APCM */
    entry(f, "C01", "2000", "MANUAL:apcm-1", CCM__TIMETRACK__SERVICE_TAG__APCM, OCT_08_10H, 0);
    Ccm__Billing__CloseReply cr = close_month(f, "C01", "2026-10");
    assert_int_equal(cr.claims, 1);
    Ccm__Billing__GetClaim in = CCM__BILLING__GET_CLAIM__INIT;
    in.id = "C01/2000/2026-10/APCM";
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = "";
    req.op_case = CCM__BILLING__REQUEST__OP_GET_CLAIM;
    req.get_claim = &in;
    Ccm__Billing__Reply *r = call(f, &req);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    const Ccm__Billing__Claim *c = r->claim;
    assert_int_equal(c->n_lines, 1);
    assert_string_equal(c->lines[0]->code, "G0557"); /* two chronic conditions, not QMB */
    assert_string_equal(c->lines[0]->dos, c->dos);
    assert_int_equal(c->evidence->n_time_entry_ids, 1);
    assert_string_equal(c->evidence->time_entry_ids[0], "MANUAL:apcm-1");
    ccm__billing__reply__free_unpacked(r, NULL);
}

typedef struct {
    MDB_dbi dbi;
    const ccm_key_t *k;
    const char *value;
} put_t;

static int s_put_row(MDB_txn *txn, void *item, void *ctx)
{
    (void)ctx;
    put_t *p = item;
    return ccm_store_put(txn, p->dbi, p->k->buf, p->k->len, p->value, strlen(p->value) + 1, 0);
}

static void test_holder_rows_of_older_stores_still_hold_the_mbi_month(void **state)
{
    fix_t *f = *state;
    /* A store written when one biller meant one per MBI-month-program: C02 holds
     * this MBI's October under PCM. */
    ccm_store_t *s = ccm_worker_store(f->w);
    ccm_key_t k;
    ccm_key_init(&k);
    ccm_key_str(&k, "1EG4TE5MK73");
    ccm_key_u32(&k, 2026 * 12 + 9);
    ccm_key_u32(&k, 1); /* PCM */
    put_t p = {0, &k, "C02/77/2026-10/PCM"};
    assert_int_equal(ccm_store_dbi(s, "holders", &p.dbi), 0);
    void *items[] = {&p};
    int item_rc = -1;
    assert_int_equal(ccm_store_batch(s, items, 1, s_put_row, NULL, &item_rc), 0);
    assert_int_equal(item_rc, 0);

    people(f, "C01");
    patient(f, "C01", "1042", "1EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM, true);
    care_plan(f, "C01", "1042", CCM__CAREPLAN__PROGRAM__CCM);
    entry(f, "C01", "1042", "MANUAL:a", CCM__TIMETRACK__SERVICE_TAG__CCM, OCT_06_10H, 1500);
    entry(f, "C01", "1042", "MANUAL:b", CCM__TIMETRACK__SERVICE_TAG__CCM, OCT_13_10H, 1320);
    /* a CCM claim for the same MBI-month is refused: one biller per MBI-month */
    Ccm__Billing__CloseReply cr = close_month(f, "C01", "2026-10");
    assert_int_equal(cr.claims, 0);
    assert_int_equal(cr.conflicts, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_report_keeps_every_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apcm_month_bills_from_documented_elements, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_holder_rows_of_older_stores_still_hold_the_mbi_month, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
