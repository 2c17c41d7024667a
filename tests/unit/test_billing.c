/* The billing handlers through the worker host, without sockets: followed events
 * are fed in as if fetched, requests go through ccm_worker_call(). What a system
 * test cannot reach cheaply: a report past the row counts a fixed array held, an
 * APCM month billed from documented elements (zero-second entries), holder rows
 * written before one biller meant one per MBI-month, and months judged by the
 * history enrollment keeps (practitioner, payer, attestations, death), re-judged
 * only when a change can reach them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#define NPI "1234567893"
#define NPI_B "1245319599"
/* Instants (s) in America/New_York: the month judged is 2026-10. */
#define CONSENT_AT 1789484400LL    /* 2026-09-15 11:00 */
#define ESTABLISHED 1789488000LL   /* 2026-09-15 12:00 */
#define OCT_06_10H 1791295200LL    /* 2026-10-06 10:00 */
#define OCT_08_10H 1791468000LL    /* 2026-10-08 10:00 */
#define OCT_13_10H 1791900000LL    /* 2026-10-13 10:00 */
#define OCT_13_15H 1791918000LL    /* 2026-10-13 15:00 */
#define NOV_01 1793505600LL        /* 2026-11-01 00:00 */
#define NOV_15 1794751200LL        /* 2026-11-15 09:00 */
#define SEP_20 1789920000LL        /* 2026-09-20 12:00 */

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

/* Applies one event of a followed stream as if fetched. Unlike fuzz_feed() it
 * stamps the event with the current time: billing re-judges the closed months
 * within a window before the event's time. */
static void feed(fix_t *f, int producer, const char *type, const ProtobufCMessage *m)
{
    static const char *const names[] = {"enrollment", "careplan", "timetrack"};
    uint8_t buf[4096];
    assert_true(protobuf_c_message_get_packed_size(m) <= sizeof buf);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    Ccm__Envelope ev = CCM__ENVELOPE__INIT, *evp = &ev;
    ev.producer = (char *)names[producer];
    ev.seq = f->seq[producer]++;
    ev.time_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    ev.type = (char *)type;
    ev.key = "C01/1042";
    ev.payload.data = buf;
    ev.payload.len = protobuf_c_message_pack(m, buf);
    Ccm__FetchReply fr = CCM__FETCH_REPLY__INIT;
    fr.events = &evp;
    fr.n_events = 1;
    fr.next_seq = ev.seq + 1;
    fr.last_seq = ev.seq;
    assert_int_equal(ccm_worker_feed(f->w, names[producer], &fr), 0);
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

/* A CCM patient of C01 as enrollment now records it, to adjust before feeding:
 * the fields point into the struct itself. */
typedef struct {
    Ccm__Enrollment__Patient p;
    Ccm__Enrollment__Condition c[4], *cp[4];
    Ccm__Enrollment__Attestation a[4], *ap[4];
    Ccm__Enrollment__Visit v, *vp[1];
    Ccm__Enrollment__Consent con, *conp[1];
    Ccm__Enrollment__BillingPeriod bh[2], *bhp[2];
    Ccm__Enrollment__PayerPeriod ph[2], *php[2];
} record_t;

static void record_init(record_t *r, const char *mrn, const char *mbi)
{
    memset(r, 0, sizeof *r);
    static const char *const icd[] = {"E11.9", "I50.9", "J44.9", "R05.9"};
    for (int i = 0; i < 4; i++) {
        ccm__enrollment__condition__init(&r->c[i]);
        r->c[i].icd10 = (char *)icd[i];
        r->c[i].chronic = 1, r->c[i].high_risk = 1, r->c[i].expected_months = 24;
        r->cp[i] = &r->c[i];
        ccm__enrollment__attestation__init(&r->a[i]);
        r->ap[i] = &r->a[i];
    }
    ccm__enrollment__visit__init(&r->v);
    r->v.code = "99214", r->v.date = "2026-09-15", r->v.npi = NPI;
    r->vp[0] = &r->v;
    ccm__enrollment__consent__init(&r->con);
    r->con.id = "C01/x/CCM/1", r->con.program = CCM__ENROLLMENT__PROGRAM__CCM;
    r->con.billing_npi = NPI, r->con.at_us = CONSENT_AT * 1000000;
    r->con.status = CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE;
    r->conp[0] = &r->con;
    for (int i = 0; i < 2; i++) {
        ccm__enrollment__billing_period__init(&r->bh[i]);
        r->bhp[i] = &r->bh[i];
        ccm__enrollment__payer_period__init(&r->ph[i]);
        r->php[i] = &r->ph[i];
    }
    Ccm__Enrollment__Patient *p = &r->p;
    ccm__enrollment__patient__init(p);
    p->clinic = "C01", p->mrn = (char *)mrn, p->mbi = (char *)mbi, p->billing_npi = NPI;
    p->conditions = r->cp, p->n_conditions = 2;
    p->visits = r->vp, p->n_visits = 1;
    p->consents = r->conp, p->n_consents = 1;
}

/* A record's patient, billable for 2026-10 (care plan, 47 minutes). */
static void billable(fix_t *f, record_t *r)
{
    const char *mrn = r->p.mrn;
    char a[32], b[32];
    snprintf(a, sizeof a, "MANUAL:%s-a", mrn);
    snprintf(b, sizeof b, "MANUAL:%s-b", mrn);
    feed(f, 0, "consent.recorded", &r->p.base);
    care_plan(f, "C01", mrn, CCM__CAREPLAN__PROGRAM__CCM);
    entry(f, "C01", mrn, a, CCM__TIMETRACK__SERVICE_TAG__CCM, OCT_06_10H, 1500);
    entry(f, "C01", mrn, b, CCM__TIMETRACK__SERVICE_TAG__CCM, OCT_13_10H, 1320);
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

/* The current version of a claim key (NULL if none); free with
 * ccm__billing__reply__free_unpacked(reply). */
static const Ccm__Billing__Claim *get_claim(fix_t *f, const char *key, Ccm__Billing__Reply **reply)
{
    Ccm__Billing__GetClaim in = CCM__BILLING__GET_CLAIM__INIT;
    in.id = (char *)key;
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = "";
    req.op_case = CCM__BILLING__REQUEST__OP_GET_CLAIM;
    req.get_claim = &in;
    *reply = call(f, &req);
    return (*reply)->status->code == CCM__CODE__OK ? (*reply)->claim : NULL;
}

/* The missed record of a key, as "REASON" in out ("" if none). */
static void missed_reason(fix_t *f, const char *key, char *out, size_t cap)
{
    Ccm__Billing__ListMissed in = CCM__BILLING__LIST_MISSED__INIT;
    in.clinic = "C01", in.month = "";
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = "";
    req.op_case = CCM__BILLING__REQUEST__OP_LIST_MISSED;
    req.list_missed = &in;
    Ccm__Billing__Reply *r = call(f, &req);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    snprintf(out, cap, "%s", "");
    for (size_t i = 0; i < r->missed->n_missed; i++)
        if (strcmp(r->missed->missed[i]->key, key) == 0)
            snprintf(out, cap, "%s", r->missed->missed[i]->reason);
    ccm__billing__reply__free_unpacked(r, NULL);
}

/* ---- tests ---- */

static void test_month_is_billed_by_the_practitioner_and_payer_in_force_then(void **state)
{
    fix_t *f = *state;
    people(f, "C01");
    Ccm__Enrollment__Practitioner pr = CCM__ENROLLMENT__PRACTITIONER__INIT;
    pr.clinic = "C01", pr.npi = NPI_B, pr.role = CCM__ENROLLMENT__ROLE__NP;
    feed(f, 0, "practitioner.added", &pr.base);
    /* Today: practitioner B since Nov 15 (the consent to A ended then), a commercial
     * payer since Nov 1. October was A's, under Medicare Part B. */
    record_t r;
    record_init(&r, "1042", "1EG4TE5MK73");
    r.p.billing_npi = NPI_B, r.p.payer = "COMMERCIAL";
    r.bh[0].npi = NPI, r.bh[1].npi = NPI_B, r.bh[1].from_us = NOV_15 * 1000000;
    r.p.billing_history = r.bhp, r.p.n_billing_history = 2;
    r.ph[0].payer = "MEDICARE_B", r.ph[1].payer = "COMMERCIAL";
    r.ph[1].from_us = NOV_01 * 1000000;
    r.p.payer_history = r.php, r.p.n_payer_history = 2;
    r.con.status = CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED;
    r.con.ended_us = NOV_15 * 1000000, r.con.effective_until = "2026-11-15";
    billable(f, &r);
    assert_int_equal(close_month(f, "C01", "2026-10").claims, 1);
    Ccm__Billing__Reply *rep;
    const Ccm__Billing__Claim *c = get_claim(f, "C01/1042/2026-10/CCM", &rep);
    assert_non_null(c);
    assert_string_equal(c->billing_npi, NPI);
    assert_string_equal(c->rendering_npi, NPI);
    assert_string_equal(c->evidence->consent_id, "C01/x/CCM/1");
    ccm__billing__reply__free_unpacked(rep, NULL);
    /* November: no longer Medicare Part B */
    assert_int_equal(close_month(f, "C01", "2026-11").claims, 0);
    char why[64];
    missed_reason(f, "C01/1042/2026-11/CCM", why, sizeof why);
    assert_string_equal(why, "NOT_PART_B_FFS");
}

static void test_late_change_rejudges_only_the_months_it_reaches(void **state)
{
    fix_t *f = *state;
    people(f, "C01");
    record_t r;
    record_init(&r, "1042", "1EG4TE5MK73");
    billable(f, &r);
    assert_int_equal(close_month(f, "C01", "2026-10").claims, 1);
    /* A change effective from November on cannot reach October: not re-judged,
     * even though this record (no history) would now judge it commercial. */
    r.p.payer = "COMMERCIAL";
    r.p.change_effective_us = NOV_01 * 1000000;
    feed(f, 0, "patient.updated", &r.p.base);
    close_month(f, "C01", "2026-11"); /* settles what late data marked first */
    Ccm__Billing__Reply *rep;
    const Ccm__Billing__Claim *c = get_claim(f, "C01/1042/2026-10/CCM", &rep);
    assert_non_null(c);
    assert_int_equal(c->status, CCM__BILLING__CLAIM_STATUS__READY);
    ccm__billing__reply__free_unpacked(rep, NULL);
    /* The same change effective from always: October is re-judged and withdrawn. */
    r.p.change_effective_us = 0;
    uint64_t seq = f->seq[0];
    feed(f, 0, "patient.updated", &r.p.base);
    close_month(f, "C01", "2026-11");
    c = get_claim(f, "C01/1042/2026-10/CCM", &rep);
    assert_non_null(c);
    assert_int_equal(c->status, CCM__BILLING__CLAIM_STATUS__WITHDRAW_NEEDED);
    assert_string_equal(c->withdraw_reason, "NOT_PART_B_FFS");
    char cause[96];
    snprintf(cause, sizeof cause, "enrollment seq %llu patient.updated request ",
             (unsigned long long)seq);
    assert_string_equal(c->evidence->cause, cause);
    ccm__billing__reply__free_unpacked(rep, NULL);
    char why[64];
    missed_reason(f, "C01/1042/2026-10/CCM", why, sizeof why);
    assert_string_equal(why, "NOT_PART_B_FFS");
}

static void test_diagnoses_are_the_conditions_attested_for_the_month(void **state)
{
    fix_t *f = *state;
    people(f, "C01");
    record_t r;
    record_init(&r, "1042", "1EG4TE5MK73");
    r.p.n_conditions = 4;
    /* J44.9 attested from November only; R05.9 acute (listed after the chronic ones) */
    r.a[2].from_us = NOV_01 * 1000000, r.a[2].chronic = 1, r.a[2].high_risk = 1;
    r.a[2].expected_months = 24;
    r.c[2].attestations = &r.ap[2], r.c[2].n_attestations = 1;
    r.c[3].chronic = 0, r.c[3].high_risk = 0, r.c[3].expected_months = 1;
    /* E11.9: once attested acute, chronic with risk since September 20 */
    r.a[0].chronic = 0, r.a[0].expected_months = 1;
    r.a[1].from_us = SEP_20 * 1000000, r.a[1].chronic = 1, r.a[1].high_risk = 1;
    r.a[1].expected_months = 24;
    r.c[0].attestations = &r.ap[0], r.c[0].n_attestations = 2;
    billable(f, &r);
    assert_int_equal(close_month(f, "C01", "2026-10").claims, 1);
    Ccm__Billing__Reply *rep;
    const Ccm__Billing__Claim *c = get_claim(f, "C01/1042/2026-10/CCM", &rep);
    assert_non_null(c);
    assert_int_equal(c->n_diagnoses, 3);
    assert_string_equal(c->diagnoses[0], "E11.9");
    assert_string_equal(c->diagnoses[1], "I50.9");
    assert_string_equal(c->diagnoses[2], "R05.9");
    ccm__billing__reply__free_unpacked(rep, NULL);
}

static void test_death_known_by_date_only_holds_the_month_for_review(void **state)
{
    fix_t *f = *state;
    people(f, "C01");
    record_t r;
    record_init(&r, "1042", "1EG4TE5MK73");
    r.p.death_date = "2026-10-13"; /* the day of the second entry, time unknown */
    billable(f, &r);
    record_t k;
    record_init(&k, "2000", "2EG4TE5MK73");
    k.p.death_date = "2026-10-13", k.p.died_us = OCT_13_15H * 1000000; /* after it */
    billable(f, &k);
    Ccm__Billing__CloseReply cr = close_month(f, "C01", "2026-10");
    assert_int_equal(cr.claims, 1);
    char why[64];
    missed_reason(f, "C01/1042/2026-10/CCM", why, sizeof why);
    assert_string_equal(why, "DEATH_DAY_REVIEW");
    Ccm__Billing__Reply *rep;
    const Ccm__Billing__Claim *c = get_claim(f, "C01/2000/2026-10/CCM", &rep);
    assert_non_null(c);
    assert_int_equal(c->staff_minutes, 47);
    ccm__billing__reply__free_unpacked(rep, NULL);
}

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
        cmocka_unit_test_setup_teardown(test_holder_rows_of_older_stores_still_hold_the_mbi_month,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_month_is_billed_by_the_practitioner_and_payer_in_force_then, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_change_rejudges_only_the_months_it_reaches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_diagnoses_are_the_conditions_attested_for_the_month,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_death_known_by_date_only_holds_the_month_for_review,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
