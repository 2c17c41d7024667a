/* The worker host and the enrollment handlers, called directly (no sockets):
 * idempotency by request_id, rollback of refused requests, FETCH and stats
 * served by the host, undecodable bodies refused, and the fact history each
 * month is judged by (billing practitioner, payer, attestations, consents,
 * death, the instant each change takes effect, the migration of old stores). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ccm/careplan.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/worker.h"
#include "enrollment.h"
#include "facts.h"

typedef struct {
    char dir[64];
    ccm_enrollment_t *e;
    ccm_worker_t *w;
} fixture_t;

/* Starts the service on f->dir as its main() does: clinics, store, bind (which
 * migrates an old store). */
static int s_open(fixture_t *f)
{
    f->e = ccm_enrollment_new();
    ccm_enrollment_add_clinic(f->e, "C01", "America/New_York");
    ccm_enrollment_add_clinic(f->e, "C02", "America/Denver");
    ccm_worker_opts_t o = {.service = "enrollment",
                           .broker = "tcp://127.0.0.1:1", /* never reached: calls are direct */
                           .data_dir = f->dir,
                           .dbs = ccm_enrollment_dbs,
                           .schema_version = CCM_ENROLLMENT_SCHEMA,
                           .handle = ccm_enrollment_handle,
                           .ctx = f->e};
    if (ccm_worker_new(&o, &f->w) != 0 || ccm_enrollment_bind(f->e, f->w) != 0)
        return -1;
    return 0;
}

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ccm-enr-XXXXXX");
    if (!mkdtemp(f->dir) || s_open(f) != 0)
        return -1;
    *state = f;
    return 0;
}

/* Stops the service and starts it again on the same store. */
static void s_restart(fixture_t *f)
{
    ccm_worker_destroy(&f->w);
    ccm_enrollment_destroy(&f->e);
    assert_int_equal(s_open(f), 0);
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    ccm_worker_destroy(&f->w);
    ccm_enrollment_destroy(&f->e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Packs req, calls the host, returns the decoded reply (caller frees). */
static Ccm__Enrollment__Reply *s_call(fixture_t *f, Ccm__Enrollment__Request *req, uint8_t **raw,
                                      size_t *raw_len)
{
    uint8_t buf[4096];
    size_t len = ccm__enrollment__request__pack(req, buf);
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    Ccm__Enrollment__Reply *r = ccm__enrollment__reply__unpack(NULL, rlen, rep);
    assert_non_null(r);
    if (raw) {
        *raw = rep;
        *raw_len = rlen;
    } else {
        free(rep);
    }
    return r;
}

static Ccm__Enrollment__Reply *s_register(fixture_t *f, const char *rid, const char *mrn,
                                          const char *mbi, uint8_t **raw, size_t *raw_len)
{
    Ccm__Enrollment__RegisterPatient in = CCM__ENROLLMENT__REGISTER_PATIENT__INIT;
    in.clinic = "C01";
    in.mrn = (char *)mrn;
    in.mbi = (char *)mbi;
    in.family_name = "Rivera";
    in.given_name = "Ana";
    in.birth_date = "1948-02-29";
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.request_id = (char *)rid;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_REGISTER_PATIENT;
    req.register_patient = &in;
    return s_call(f, &req, raw, raw_len);
}

static uint64_t s_last_seq(fixture_t *f)
{
    Ccm__StatsRequest sr = CCM__STATS_REQUEST__INIT;
    Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
    req.op_case = CCM__COMMON_REQUEST__OP_STATS;
    req.stats = &sr;
    uint8_t buf[64];
    size_t len = ccm__common_request__pack(&req, buf);
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    free(rep);
    assert_non_null(r);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_non_null(r->stats);
    assert_string_equal(r->stats->service, "enrollment");
    uint64_t seq = r->stats->stream_seq;
    ccm__common_reply__free_unpacked(r, NULL);
    return seq;
}

static void test_retry_gets_the_same_reply_and_changes_nothing(void **state)
{
    fixture_t *f = *state;
    uint8_t *a, *b;
    size_t alen, blen;
    Ccm__Enrollment__Reply *r1 = s_register(f, "rid-1", "1042", "1EG4TE5MK73", &a, &alen);
    assert_int_equal(r1->status->code, CCM__CODE__OK);
    assert_string_equal(r1->request_id, "rid-1");
    assert_int_equal(s_last_seq(f), 1);
    Ccm__Enrollment__Reply *r2 = s_register(f, "rid-1", "1042", "1EG4TE5MK73", &b, &blen);
    assert_int_equal(r2->status->code, CCM__CODE__OK);
    /* byte for byte the remembered reply, including the first run's timestamps */
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    assert_int_equal(s_last_seq(f), 1);
    /* the same request id with another body still answers the first reply */
    Ccm__Enrollment__Reply *r3 = s_register(f, "rid-1", "9999", "2EG4TE5MK73", NULL, NULL);
    assert_string_equal(r3->patient->mrn, "1042");
    assert_int_equal(s_last_seq(f), 1);
    free(a);
    free(b);
    ccm__enrollment__reply__free_unpacked(r1, NULL);
    ccm__enrollment__reply__free_unpacked(r2, NULL);
    ccm__enrollment__reply__free_unpacked(r3, NULL);
}

static void test_refused_request_changes_nothing(void **state)
{
    fixture_t *f = *state;
    Ccm__Enrollment__Reply *r = s_register(f, "rid-x", "1042", "BAD", NULL, NULL);
    assert_int_equal(r->status->code, CCM__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "mbi");
    assert_non_null(strstr(r->status->message, "register_patient.mbi"));
    ccm__enrollment__reply__free_unpacked(r, NULL);
    assert_int_equal(s_last_seq(f), 0);
    /* not remembered: the corrected request with the same id goes through */
    r = s_register(f, "rid-x", "1042", "1EG4TE5MK73", NULL, NULL);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    ccm__enrollment__reply__free_unpacked(r, NULL);
    assert_int_equal(s_last_seq(f), 1);
}

static void test_mutation_without_request_id_is_refused(void **state)
{
    fixture_t *f = *state;
    Ccm__Enrollment__Reply *r = s_register(f, "", "1042", "1EG4TE5MK73", NULL, NULL);
    assert_int_equal(r->status->code, CCM__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "request_id");
    ccm__enrollment__reply__free_unpacked(r, NULL);
    assert_int_equal(s_last_seq(f), 0);
}

static void test_garbage_body_is_invalid_argument(void **state)
{
    fixture_t *f = *state;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", junk, sizeof junk, &rep, &rlen), 0);
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    free(rep);
    assert_non_null(r);
    assert_int_equal(r->status->code, CCM__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "body");
    ccm__common_reply__free_unpacked(r, NULL);
    /* an empty message names no operation */
    assert_int_equal(ccm_worker_call(f->w, "dev", "", 0, &rep, &rlen), 0);
    r = ccm__common_reply__unpack(NULL, rlen, rep);
    free(rep);
    assert_int_equal(r->status->code, CCM__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "op");
    ccm__common_reply__free_unpacked(r, NULL);
    assert_int_equal(s_last_seq(f), 0);
}

static void test_fetch_serves_the_stream(void **state)
{
    fixture_t *f = *state;
    const char *mbis[] = {"1EG4TE5MK73", "2EG4TE5MK73", "3EG4TE5MK73"};
    char rid[16], mrn[16];
    for (int i = 0; i < 3; i++) {
        snprintf(rid, sizeof rid, "r%d", i);
        snprintf(mrn, sizeof mrn, "M%d", i);
        ccm__enrollment__reply__free_unpacked(s_register(f, rid, mrn, mbis[i], NULL, NULL), NULL);
    }
    Ccm__FetchRequest fr = CCM__FETCH_REQUEST__INIT;
    fr.from_seq = 2;
    Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
    req.op_case = CCM__COMMON_REQUEST__OP_FETCH;
    req.fetch = &fr;
    uint8_t buf[64];
    size_t len = ccm__common_request__pack(&req, buf);
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    free(rep);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->fetch->n_events, 2);
    assert_int_equal(r->fetch->events[0]->seq, 2);
    assert_string_equal(r->fetch->events[0]->type, "patient.registered");
    assert_string_equal(r->fetch->events[0]->key, "C01/M1");
    assert_string_equal(r->fetch->events[0]->principal, "dev");
    assert_string_equal(r->fetch->events[0]->request_id, "r1");
    Ccm__Enrollment__Patient *p = ccm__enrollment__patient__unpack(
        NULL, r->fetch->events[1]->payload.len, r->fetch->events[1]->payload.data);
    assert_non_null(p);
    assert_string_equal(p->mrn, "M2");
    ccm__enrollment__patient__free_unpacked(p, NULL);
    assert_int_equal(r->fetch->next_seq, 4);
    assert_int_equal(r->fetch->last_seq, 3);
    ccm__common_reply__free_unpacked(r, NULL);
}

/* ---- issue 4: eligibility, people, consent ---- */

static Ccm__Enrollment__Reply *s_op(fixture_t *f, Ccm__Enrollment__Request *req, const char *rid)
{
    static int n;
    char id[32];
    snprintf(id, sizeof id, "%s-%d", rid, n++);
    req->request_id = id;
    return s_call(f, req, NULL, NULL);
}

static void s_ok(Ccm__Enrollment__Reply *r)
{
    if (r->status->code != CCM__CODE__OK)
        fail_msg("expected OK, got %d: %s", r->status->code, r->status->message);
    ccm__enrollment__reply__free_unpacked(r, NULL);
}

/* Asserts the reply failed with code on field; frees it. */
static void s_refused(Ccm__Enrollment__Reply *r, Ccm__Code code, const char *field)
{
    if (r->status->code != code || strcmp(r->status->field, field) != 0)
        fail_msg("expected %d on %s, got %d on %s: %s", code, field, r->status->code,
                 r->status->field, r->status->message);
    ccm__enrollment__reply__free_unpacked(r, NULL);
}

static Ccm__Enrollment__Reply *s_condition(fixture_t *f, const char *icd10, bool resolve)
{
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    Ccm__Enrollment__AddCondition add = CCM__ENROLLMENT__ADD_CONDITION__INIT;
    Ccm__Enrollment__ResolveCondition res = CCM__ENROLLMENT__RESOLVE_CONDITION__INIT;
    if (resolve) {
        res.clinic = "C01", res.mrn = "1042", res.icd10 = (char *)icd10;
        req.op_case = CCM__ENROLLMENT__REQUEST__OP_RESOLVE_CONDITION;
        req.resolve_condition = &res;
    } else {
        add.clinic = "C01", add.mrn = "1042", add.icd10 = (char *)icd10;
        add.expected_months = 12;
        add.high_risk = true;
        req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_CONDITION;
        req.add_condition = &add;
    }
    return s_op(f, &req, "cond");
}

/* Counts stream events of type (all of them from seq 1). */
static size_t s_events(fixture_t *f, const char *type, Ccm__Enrollment__EligibilityChange **last)
{
    Ccm__FetchRequest fr = CCM__FETCH_REQUEST__INIT;
    char *types[] = {(char *)type};
    fr.n_types = 1;
    fr.types = types;
    fr.max = 1000;
    Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
    req.op_case = CCM__COMMON_REQUEST__OP_FETCH;
    req.fetch = &fr;
    uint8_t buf[128];
    size_t len = ccm__common_request__pack(&req, buf);
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    free(rep);
    size_t n = r->fetch->n_events;
    if (last && n)
        *last = ccm__enrollment__eligibility_change__unpack(
            NULL, r->fetch->events[n - 1]->payload.len, r->fetch->events[n - 1]->payload.data);
    ccm__common_reply__free_unpacked(r, NULL);
    return n;
}

static void test_eligibility_flips_and_is_published(void **state)
{
    fixture_t *f = *state;
    ccm__enrollment__reply__free_unpacked(s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL),
                                          NULL);
    Ccm__Enrollment__Reply *r = s_condition(f, "E11.9", false);
    assert_int_equal(r->patient->eligibility, CCM__ENROLLMENT__ELIGIBILITY__PCM_ELIGIBLE);
    s_ok(r);
    assert_int_equal(s_events(f, "eligibility", NULL), 1);
    r = s_condition(f, "I50.9", false); /* the second chronic condition */
    assert_int_equal(r->patient->eligibility, CCM__ENROLLMENT__ELIGIBILITY__CCM_ELIGIBLE);
    assert_int_equal(r->patient->n_eligibility_reasons, 2);
    s_ok(r);
    Ccm__Enrollment__EligibilityChange *ch = NULL;
    assert_int_equal(s_events(f, "eligibility", &ch), 2);
    assert_int_equal(ch->eligibility, CCM__ENROLLMENT__ELIGIBILITY__CCM_ELIGIBLE);
    assert_int_equal(ch->previous, CCM__ENROLLMENT__ELIGIBILITY__PCM_ELIGIBLE);
    assert_string_equal(ch->mbi, "1EG4TE5MK73");
    ccm__enrollment__eligibility_change__free_unpacked(ch, NULL);
    s_ok(s_condition(f, "J44.9", false)); /* a third: still CCM, no new event */
    assert_int_equal(s_events(f, "eligibility", NULL), 2);
    s_ok(s_condition(f, "J44.9", true));
    s_ok(s_condition(f, "I50.9", true)); /* back to one: PCM */
    assert_int_equal(s_events(f, "eligibility", &ch), 3);
    assert_int_equal(ch->eligibility, CCM__ENROLLMENT__ELIGIBILITY__PCM_ELIGIBLE);
    ccm__enrollment__eligibility_change__free_unpacked(ch, NULL);
}

static void s_people(fixture_t *f)
{
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    Ccm__Enrollment__AddPractitioner pr = CCM__ENROLLMENT__ADD_PRACTITIONER__INIT;
    pr.clinic = "C01", pr.role = CCM__ENROLLMENT__ROLE__PHYSICIAN;
    pr.family_name = "Osei", pr.given_name = "Kwame", pr.credentials = "MD";
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_PRACTITIONER;
    req.add_practitioner = &pr;
    pr.npi = "1234567893";
    s_ok(s_op(f, &req, "pr"));
    pr.npi = "1245319599";
    s_ok(s_op(f, &req, "pr"));
    pr.npi = "1234567890"; /* bad check digit */
    s_refused(s_op(f, &req, "pr"), CCM__CODE__INVALID_ARGUMENT, "npi");
    Ccm__Enrollment__AddStaff st = CCM__ENROLLMENT__ADD_STAFF__INIT;
    st.clinic = "C01", st.id = "rn1", st.role = CCM__ENROLLMENT__ROLE__CLINICAL_STAFF;
    st.name = "Ray Nurse", st.credentials = "RN";
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_STAFF;
    req.add_staff = &st;
    s_ok(s_op(f, &req, "st"));
}

static Ccm__Enrollment__Reply *s_consent(fixture_t *f, const char *npi, int64_t at, bool all)
{
    Ccm__Enrollment__RecordConsent c = CCM__ENROLLMENT__RECORD_CONSENT__INIT;
    c.clinic = "C01", c.mrn = "1042", c.program = CCM__ENROLLMENT__PROGRAM__CCM;
    c.method = CCM__ENROLLMENT__CONSENT_METHOD__VERBAL;
    c.at_us = at, c.staff_id = "rn1", c.billing_npi = (char *)npi;
    c.disclosed_cost_sharing = c.disclosed_one_practitioner = true;
    c.disclosed_right_to_stop = all;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_RECORD_CONSENT;
    req.record_consent = &c;
    return s_op(f, &req, "consent");
}

/* Sets the billing practitioner from instant `from` (0: the service's default). */
static Ccm__Enrollment__Reply *s_billing_from(fixture_t *f, const char *npi, int64_t from)
{
    Ccm__Enrollment__SetBillingPractitioner b = CCM__ENROLLMENT__SET_BILLING_PRACTITIONER__INIT;
    b.clinic = "C01", b.mrn = "1042", b.npi = (char *)npi, b.effective_us = from;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_SET_BILLING_PRACTITIONER;
    req.set_billing_practitioner = &b;
    return s_op(f, &req, "billing");
}

static Ccm__Enrollment__Reply *s_billing(fixture_t *f, const char *npi)
{
    return s_billing_from(f, npi, 0);
}

static void test_consent_life_cycle(void **state)
{
    fixture_t *f = *state;
    ccm__enrollment__reply__free_unpacked(s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL),
                                          NULL);
    s_people(f);
    /* 2024-10-02T14:00:00Z, Eastern time: 10:00 */
    const int64_t at = 1727877600LL * 1000000;
    s_refused(s_consent(f, "1234567893", at, true), CCM__CODE__FAILED_PRECONDITION,
              "billing_npi"); /* no billing practitioner yet */
    s_ok(s_billing(f, "1234567893"));
    s_refused(s_consent(f, "1234567893", at, false), CCM__CODE__INVALID_ARGUMENT,
              "disclosed_right_to_stop");
    s_refused(s_consent(f, "1234567893", (int64_t)4102444800 * 1000000, true),
              CCM__CODE__INVALID_ARGUMENT, "at_us"); /* 2100: in the future */
    s_ok(s_consent(f, "1234567893", at, true));
    s_refused(s_consent(f, "1234567893", at, true), CCM__CODE__CONFLICT, "program");

    /* revoke on 2024-10-31 23:30 Eastern = 2024-11-01T03:30Z: effective to Oct 31 */
    Ccm__Enrollment__RevokeConsent rv = CCM__ENROLLMENT__REVOKE_CONSENT__INIT;
    rv.clinic = "C01", rv.mrn = "1042", rv.program = CCM__ENROLLMENT__PROGRAM__CCM;
    rv.at_us = 1730431800LL * 1000000;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_REVOKE_CONSENT;
    req.revoke_consent = &rv;
    Ccm__Enrollment__Reply *r = s_op(f, &req, "revoke");
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->patient->consents[0]->status, CCM__ENROLLMENT__CONSENT_STATUS__REVOKED);
    assert_string_equal(r->patient->consents[0]->effective_until, "2024-10-31");
    s_ok(r);
    s_refused(s_op(f, &req, "revoke"), CCM__CODE__NOT_FOUND, "program"); /* nothing active */

    s_ok(s_consent(f, "1234567893", at, true)); /* consent again after revocation */
    /* another billing practitioner from an hour after that consent */
    const int64_t change = at + 3600LL * 1000000;
    r = s_billing_from(f, "1245319599", change);
    assert_int_equal(r->patient->consents[1]->status,
                     CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED);
    assert_int_equal(r->patient->consents[1]->ended_us, change);
    assert_string_equal(r->patient->consents[1]->effective_until, "2024-10-02");
    s_ok(r);
    s_refused(s_consent(f, "1234567893", at, true), CCM__CODE__FAILED_PRECONDITION, "billing_npi");
    r = s_consent(f, "1245319599", change, true);
    assert_int_equal(r->patient->n_consents, 3);
    assert_string_equal(r->patient->consents[2]->id, "C01/1042/CCM/3");
    s_ok(r);
}

static void test_worklist_lists_eligible_without_consent(void **state)
{
    fixture_t *f = *state;
    ccm__enrollment__reply__free_unpacked(s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL),
                                          NULL);
    s_people(f);
    s_ok(s_condition(f, "E11.9", false));
    s_ok(s_condition(f, "I50.9", false));
    Ccm__Enrollment__Worklist wl = CCM__ENROLLMENT__WORKLIST__INIT;
    wl.clinic = "C01";
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_WORKLIST;
    req.worklist = &wl;
    Ccm__Enrollment__Reply *r = s_op(f, &req, "wl");
    assert_int_equal(r->worklist->n_items, 1);
    assert_string_equal(r->worklist->items[0]->reason, "NO_BILLING_PRACTITIONER");
    s_ok(r);
    s_ok(s_billing(f, "1234567893"));
    r = s_op(f, &req, "wl");
    assert_string_equal(r->worklist->items[0]->reason, "ELIGIBLE_NOT_ENROLLED");
    s_ok(r);
    s_ok(s_consent(f, "1234567893", 1727877600LL * 1000000, true));
    r = s_op(f, &req, "wl");
    assert_int_equal(r->worklist->n_items, 1);
    assert_string_equal(r->worklist->items[0]->reason, "CARE_PLAN_MISSING");
    s_ok(r);
    /* the careplan service announces the plan established and a copy given */
    Ccm__Careplan__CopyGiven copy = CCM__CAREPLAN__COPY_GIVEN__INIT;
    Ccm__Careplan__CopyGiven *copies[] = {&copy};
    Ccm__Careplan__CarePlan cp = CCM__CAREPLAN__CARE_PLAN__INIT;
    cp.clinic = "C01", cp.mrn = "1042", cp.program = CCM__CAREPLAN__PROGRAM__CCM;
    cp.status = CCM__CAREPLAN__STATUS__ESTABLISHED;
    uint8_t buf[256];
    Ccm__Envelope ev = CCM__ENVELOPE__INIT, *evp = &ev;
    ev.producer = "careplan", ev.seq = 1, ev.type = "careplan.established";
    ev.payload.data = buf;
    ev.payload.len = ccm__careplan__care_plan__pack(&cp, buf);
    Ccm__FetchReply fr = CCM__FETCH_REPLY__INIT;
    fr.events = &evp, fr.n_events = 1, fr.next_seq = 2, fr.last_seq = 1;
    assert_int_equal(ccm_worker_feed(f->w, "careplan", &fr), 0);
    r = s_op(f, &req, "wl");
    assert_int_equal(r->worklist->n_items, 1); /* established, but no copy given yet */
    s_ok(r);
    cp.copies = copies, cp.n_copies = 1;
    ev.seq = 2, ev.type = "careplan.copy_given";
    ev.payload.len = ccm__careplan__care_plan__pack(&cp, buf);
    fr.next_seq = 3, fr.last_seq = 2;
    assert_int_equal(ccm_worker_feed(f->w, "careplan", &fr), 0);
    r = s_op(f, &req, "wl");
    assert_int_equal(r->worklist->n_items, 0);
    s_ok(r);
}

static void test_reattest_condition_and_death(void **state)
{
    fixture_t *f = *state;
    ccm__enrollment__reply__free_unpacked(s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL),
                                          NULL);
    s_people(f);
    s_ok(s_billing(f, "1234567893"));
    /* attested without risk first: not eligible; a new attestation updates it in place */
    Ccm__Enrollment__AddCondition add = CCM__ENROLLMENT__ADD_CONDITION__INIT;
    add.clinic = "C01", add.mrn = "1042", add.icd10 = "E11.9", add.expected_months = 12;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_CONDITION;
    req.add_condition = &add;
    Ccm__Enrollment__Reply *r = s_op(f, &req, "c");
    assert_int_equal(r->patient->eligibility, CCM__ENROLLMENT__ELIGIBILITY__NOT_ELIGIBLE);
    s_ok(r);
    add.high_risk = true;
    r = s_op(f, &req, "c");
    assert_int_equal(r->patient->n_conditions, 1);
    assert_true(r->patient->conditions[0]->high_risk);
    assert_int_equal(r->patient->eligibility, CCM__ENROLLMENT__ELIGIBILITY__PCM_ELIGIBLE);
    s_ok(r);
    assert_int_equal(s_events(f, "condition.updated", NULL), 1);
    /* visit codes are not case-sensitive */
    Ccm__Enrollment__AddVisit v = CCM__ENROLLMENT__ADD_VISIT__INIT;
    v.clinic = "C01", v.mrn = "1042", v.code = "g0438", v.date = "2024-08-20";
    v.npi = "1234567893";
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_VISIT;
    req.add_visit = &v;
    r = s_op(f, &req, "v");
    assert_string_equal(r->patient->visits[0]->code, "G0438");
    s_ok(r);
    /* after death no new consent */
    Ccm__Enrollment__RecordDeath d = CCM__ENROLLMENT__RECORD_DEATH__INIT;
    d.clinic = "C01", d.mrn = "1042", d.date = "2025-01-05";
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_RECORD_DEATH;
    req.record_death = &d;
    s_ok(s_op(f, &req, "d"));
    s_refused(s_consent(f, "1234567893", 1727877600LL * 1000000, true),
              CCM__CODE__FAILED_PRECONDITION, "mrn");
}

/* ---- the fact history ---- */

#define S_US(sec) ((int64_t)(sec)*1000000)
/* America/New_York local midnights and instants used below. */
#define S_2024_10_02 S_US(1727841600) /* 2024-10-02T00:00-04:00 */
#define S_2025_01_05 S_US(1736053200) /* 2025-01-05T00:00-05:00 */
#define S_2025_02_01 S_US(1738386000) /* 2025-02-01T00:00-05:00 */
#define S_2025_03_01 S_US(1740805200) /* 2025-03-01T00:00-05:00 */
#define S_2025_03_10 S_US(1741579200) /* 2025-03-10T00:00-04:00 (after the DST change) */
#define S_2025_06_01 S_US(1748750400) /* 2025-06-01T00:00-04:00 */

/* The payload of the last stream event (caller frees), and its type in *type. */
static Ccm__Enrollment__Patient *s_last_payload(fixture_t *f, char type[64])
{
    uint64_t seq = s_last_seq(f);
    Ccm__FetchRequest fr = CCM__FETCH_REQUEST__INIT;
    fr.from_seq = seq;
    fr.max = 1;
    Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
    req.op_case = CCM__COMMON_REQUEST__OP_FETCH;
    req.fetch = &fr;
    uint8_t buf[64];
    size_t len = ccm__common_request__pack(&req, buf);
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    free(rep);
    assert_int_equal(r->fetch->n_events, 1);
    snprintf(type, 64, "%s", r->fetch->events[0]->type);
    Ccm__Enrollment__Patient *p = ccm__enrollment__patient__unpack(
        NULL, r->fetch->events[0]->payload.len, r->fetch->events[0]->payload.data);
    assert_non_null(p);
    ccm__common_reply__free_unpacked(r, NULL);
    return p;
}

/* The patient as the service answers it (caller frees the reply). */
static Ccm__Enrollment__Reply *s_show(fixture_t *f)
{
    Ccm__Enrollment__GetPatient g = CCM__ENROLLMENT__GET_PATIENT__INIT;
    g.clinic = "C01", g.mrn = "1042";
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_GET_PATIENT;
    req.get_patient = &g;
    Ccm__Enrollment__Reply *r = s_op(f, &req, "get");
    assert_int_equal(r->status->code, CCM__CODE__OK);
    return r;
}

static void test_billing_practitioner_history(void **state)
{
    fixture_t *f = *state;
    ccm__enrollment__reply__free_unpacked(s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL),
                                          NULL);
    s_people(f);
    /* The first billing practitioner is in force since before any month: the
     * patient was registered after care began. */
    Ccm__Enrollment__Reply *r = s_billing(f, "1234567893");
    assert_int_equal(r->patient->n_billing_history, 1);
    assert_string_equal(r->patient->billing_history[0]->npi, "1234567893");
    assert_int_equal(r->patient->billing_history[0]->from_us, 0);
    assert_true(r->patient->billing_history[0]->recorded_us > 0);
    assert_int_equal(r->patient->change_effective_us, 0);
    s_ok(r);
    const int64_t consent_at = S_US(1741615200); /* 2025-03-10T14:00Z */
    s_ok(s_consent(f, "1234567893", consent_at, true));
    uint64_t seq = s_last_seq(f);

    /* A change cannot end a consent before it was given, lie in the future or
     * before the epoch; refused, it changes nothing. */
    s_refused(s_billing_from(f, "1245319599", S_2025_03_10), CCM__CODE__FAILED_PRECONDITION,
              "effective_us");
    s_refused(s_billing_from(f, "1245319599", S_US(4102444800)), CCM__CODE__INVALID_ARGUMENT,
              "effective_us");
    s_refused(s_billing_from(f, "1245319599", -1), CCM__CODE__INVALID_ARGUMENT, "effective_us");
    assert_int_equal(s_last_seq(f), seq);

    /* Backdated to 1 June: the old practitioner's consent ends at that instant
     * and was in force through 31 May. */
    r = s_billing_from(f, "1245319599", S_2025_06_01);
    Ccm__Enrollment__Patient *p = r->patient;
    assert_string_equal(p->billing_npi, "1245319599");
    assert_int_equal(p->n_billing_history, 2);
    assert_string_equal(p->billing_history[0]->npi, "1234567893");
    assert_string_equal(p->billing_history[1]->npi, "1245319599");
    assert_int_equal(p->billing_history[1]->from_us, S_2025_06_01);
    assert_string_equal(p->billing_history[1]->request_id, r->request_id);
    assert_int_equal(p->consents[0]->status, CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED);
    assert_int_equal(p->consents[0]->ended_us, S_2025_06_01);
    assert_string_equal(p->consents[0]->effective_until, "2025-05-31");
    assert_int_equal(p->change_effective_us, S_2025_06_01);
    s_ok(r);
    char type[64];
    p = s_last_payload(f, type); /* what followers read */
    assert_string_equal(type, "patient.updated");
    assert_int_equal(p->change_effective_us, S_2025_06_01);
    assert_int_equal(p->n_billing_history, 2);
    ccm__enrollment__patient__free_unpacked(p, NULL);
    seq = s_last_seq(f);

    /* Not before the current period; the same practitioner again is no change. */
    s_refused(s_billing_from(f, "1234567893", S_2025_06_01 - S_US(86400)),
              CCM__CODE__FAILED_PRECONDITION, "effective_us");
    s_ok(s_billing_from(f, "1245319599", S_2025_06_01 + S_US(86400)));
    assert_int_equal(s_last_seq(f), seq);

    /* A consent is given to the practitioner billing at its instant. */
    s_refused(s_consent(f, "1245319599", S_2025_06_01 - S_US(3600), true),
              CCM__CODE__FAILED_PRECONDITION, "at_us");
    assert_int_equal(s_last_seq(f), seq);
    r = s_consent(f, "1245319599", S_2025_06_01 + S_US(3600), true);
    assert_int_equal(r->patient->change_effective_us, S_2025_06_01 + S_US(3600));
    assert_int_equal(r->patient->consents[1]->ended_us, 0);
    s_ok(r);

    /* A change at the default instant (now) is idempotent by request id. */
    Ccm__Enrollment__SetBillingPractitioner b = CCM__ENROLLMENT__SET_BILLING_PRACTITIONER__INIT;
    b.clinic = "C01", b.mrn = "1042", b.npi = "1234567893";
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.request_id = "change-back";
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_SET_BILLING_PRACTITIONER;
    req.set_billing_practitioner = &b;
    uint8_t *a1, *a2;
    size_t l1, l2;
    Ccm__Enrollment__Reply *r1 = s_call(f, &req, &a1, &l1);
    assert_int_equal(r1->status->code, CCM__CODE__OK);
    assert_int_equal(r1->patient->n_billing_history, 3);
    assert_true(r1->patient->billing_history[2]->from_us > S_2025_06_01);
    assert_int_equal(r1->patient->consents[1]->ended_us, r1->patient->billing_history[2]->from_us);
    seq = s_last_seq(f);
    Ccm__Enrollment__Reply *r2 = s_call(f, &req, &a2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(a1, a2, l1);
    assert_int_equal(s_last_seq(f), seq);
    free(a1);
    free(a2);
    ccm__enrollment__reply__free_unpacked(r1, NULL);
    ccm__enrollment__reply__free_unpacked(r2, NULL);
}

static Ccm__Enrollment__Reply *s_payer(fixture_t *f, const char *payer, int64_t from,
                                       Ccm__Enrollment__QmbChange qmb)
{
    Ccm__Enrollment__SetPayer sp = CCM__ENROLLMENT__SET_PAYER__INIT;
    sp.clinic = "C01", sp.mrn = "1042", sp.payer = (char *)payer;
    sp.effective_us = from, sp.qmb = qmb;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_SET_PAYER;
    req.set_payer = &sp;
    return s_op(f, &req, "payer");
}

static void test_payer_history(void **state)
{
    fixture_t *f = *state;
    Ccm__Enrollment__Reply *r = s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL);
    Ccm__Enrollment__Patient *p = r->patient;
    assert_int_equal(p->n_payer_history, 1); /* the registration's, since before any month */
    assert_string_equal(p->payer_history[0]->payer, "");
    assert_false(p->payer_history[0]->qmb);
    assert_int_equal(p->payer_history[0]->from_us, 0);
    assert_int_equal(p->n_billing_history, 0); /* no billing practitioner yet */
    assert_int_equal(p->change_effective_us, 0);
    s_ok(r);

    /* Medicare Advantage from 1 March, and QMB: the months before keep Part B. */
    r = s_payer(f, "MEDICARE_ADVANTAGE", S_2025_03_01, CCM__ENROLLMENT__QMB_CHANGE__QMB_YES);
    p = r->patient;
    assert_string_equal(p->payer, "MEDICARE_ADVANTAGE");
    assert_true(p->qmb);
    assert_int_equal(p->n_payer_history, 2);
    assert_string_equal(p->payer_history[1]->payer, "MEDICARE_ADVANTAGE");
    assert_true(p->payer_history[1]->qmb);
    assert_int_equal(p->payer_history[1]->from_us, S_2025_03_01);
    assert_int_equal(p->change_effective_us, S_2025_03_01);
    s_ok(r);
    uint64_t seq = s_last_seq(f);

    /* The same payer and QMB status is no change; bad input changes nothing. */
    s_ok(s_payer(f, "MEDICARE_ADVANTAGE", 0, CCM__ENROLLMENT__QMB_CHANGE__QMB_UNCHANGED));
    s_ok(s_payer(f, "MEDICARE_ADVANTAGE", S_2025_06_01, CCM__ENROLLMENT__QMB_CHANGE__QMB_YES));
    s_refused(s_payer(f, "MEDICARE_B", S_2025_02_01, 0), CCM__CODE__FAILED_PRECONDITION,
              "effective_us");
    s_refused(s_payer(f, "MEDICARE_B", S_US(4102444800), 0), CCM__CODE__INVALID_ARGUMENT,
              "effective_us");
    s_refused(s_payer(f, "MEDICARE_B", 0, (Ccm__Enrollment__QmbChange)7),
              CCM__CODE__INVALID_ARGUMENT, "qmb");
    s_refused(s_payer(f, "medicare_b", 0, 0), CCM__CODE__INVALID_ARGUMENT, "payer");
    assert_int_equal(s_last_seq(f), seq);

    /* Only the QMB status changes, from now (the default). */
    r = s_payer(f, "MEDICARE_ADVANTAGE", 0, CCM__ENROLLMENT__QMB_CHANGE__QMB_NO);
    p = r->patient;
    assert_false(p->qmb);
    assert_int_equal(p->n_payer_history, 3);
    assert_false(p->payer_history[2]->qmb);
    assert_true(p->payer_history[2]->from_us > S_2025_06_01);
    assert_int_equal(p->change_effective_us, p->payer_history[2]->from_us);
    s_ok(r);
}

static Ccm__Enrollment__Reply *s_attest(fixture_t *f, const char *icd10, int months, bool risk,
                                        int64_t from)
{
    Ccm__Enrollment__AddCondition add = CCM__ENROLLMENT__ADD_CONDITION__INIT;
    add.clinic = "C01", add.mrn = "1042", add.icd10 = (char *)icd10;
    add.expected_months = months, add.high_risk = risk, add.effective_us = from;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_CONDITION;
    req.add_condition = &add;
    return s_op(f, &req, "attest");
}

static Ccm__Enrollment__Reply *s_resolve(fixture_t *f, const char *icd10, int64_t at)
{
    Ccm__Enrollment__ResolveCondition res = CCM__ENROLLMENT__RESOLVE_CONDITION__INIT;
    res.clinic = "C01", res.mrn = "1042", res.icd10 = (char *)icd10, res.effective_us = at;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_RESOLVE_CONDITION;
    req.resolve_condition = &res;
    return s_op(f, &req, "resolve");
}

static void test_condition_attestations(void **state)
{
    fixture_t *f = *state;
    ccm__enrollment__reply__free_unpacked(s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL),
                                          NULL);
    /* A new condition is in force since before any month. */
    Ccm__Enrollment__Reply *r = s_attest(f, "E11.9", 6, true, 0);
    Ccm__Enrollment__Condition *c = r->patient->conditions[0];
    assert_int_equal(c->from_us, 0);
    assert_int_equal(c->n_attestations, 1);
    assert_int_equal(c->attestations[0]->from_us, 0);
    assert_int_equal(c->attestations[0]->expected_months, 6);
    assert_true(c->attestations[0]->high_risk && c->attestations[0]->chronic);
    assert_int_equal(r->patient->change_effective_us, 0);
    s_ok(r);
    uint64_t seq = s_last_seq(f);
    /* The same attestation again is no change, whatever instant it names. */
    s_ok(s_attest(f, "E11.9", 6, true, S_2025_03_01));
    assert_int_equal(s_last_seq(f), seq);

    /* Re-attested for 24 months from 1 March: appended; the months before keep 6. */
    r = s_attest(f, "E11.9", 24, true, S_2025_03_01);
    c = r->patient->conditions[0];
    assert_int_equal(r->patient->n_conditions, 1);
    assert_int_equal(c->n_attestations, 2);
    assert_int_equal(c->attestations[0]->expected_months, 6);
    assert_int_equal(c->attestations[1]->expected_months, 24);
    assert_int_equal(c->attestations[1]->from_us, S_2025_03_01);
    assert_int_equal(c->expected_months, 24); /* the current fields repeat the latest */
    assert_int_equal(c->from_us, 0);
    assert_int_equal(r->patient->change_effective_us, S_2025_03_01);
    s_ok(r);
    char type[64];
    Ccm__Enrollment__Patient *p = s_last_payload(f, type);
    assert_string_equal(type, "condition.updated");
    assert_int_equal(p->change_effective_us, S_2025_03_01);
    ccm__enrollment__patient__free_unpacked(p, NULL);
    seq = s_last_seq(f);

    /* Not before the latest attestation, not in the future. */
    s_refused(s_attest(f, "E11.9", 12, true, S_2025_02_01), CCM__CODE__FAILED_PRECONDITION,
              "effective_us");
    s_refused(s_attest(f, "I50.9", 12, true, S_US(4102444800)), CCM__CODE__INVALID_ARGUMENT,
              "effective_us");
    s_refused(s_resolve(f, "E11.9", S_2025_02_01), CCM__CODE__FAILED_PRECONDITION, "effective_us");
    s_refused(s_resolve(f, "J44.9", 0), CCM__CODE__NOT_FOUND, "icd10");
    assert_int_equal(s_last_seq(f), seq);

    /* A condition recorded as in force from a known instant. */
    r = s_attest(f, "I50.9", 999, true, S_2025_02_01);
    assert_int_equal(r->patient->conditions[1]->from_us, S_2025_02_01);
    assert_int_equal(r->patient->change_effective_us, S_2025_02_01);
    s_ok(r);

    /* Resolved on 1 June (backdated). */
    r = s_resolve(f, "E11.9", S_2025_06_01);
    c = r->patient->conditions[0];
    assert_int_equal(c->resolved_us, S_2025_06_01);
    assert_string_equal(c->resolved_request, r->request_id);
    assert_int_equal(r->patient->change_effective_us, S_2025_06_01);
    s_ok(r);

    /* It recurs: from when it is recorded again, never before it ended. */
    s_refused(s_attest(f, "E11.9", 24, true, S_2025_03_01), CCM__CODE__FAILED_PRECONDITION,
              "effective_us");
    r = s_attest(f, "E11.9", 24, true, 0);
    assert_int_equal(r->patient->n_conditions, 3);
    c = r->patient->conditions[2];
    assert_true(c->from_us > S_2025_06_01);
    assert_int_equal(c->attestations[0]->from_us, c->from_us);
    assert_int_equal(r->patient->change_effective_us, c->from_us);
    s_ok(r);
}

static Ccm__Enrollment__Reply *s_death(fixture_t *f, const char *date, int64_t at)
{
    Ccm__Enrollment__RecordDeath d = CCM__ENROLLMENT__RECORD_DEATH__INIT;
    d.clinic = "C01", d.mrn = "1042", d.date = (char *)date, d.at_us = at;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_RECORD_DEATH;
    req.record_death = &d;
    return s_op(f, &req, "death");
}

static void test_death_instant(void **state)
{
    fixture_t *f = *state;
    ccm__enrollment__reply__free_unpacked(s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL),
                                          NULL);
    uint64_t seq = s_last_seq(f);
    /* 2025-01-05T03:00Z is still 4 January in New York. */
    Ccm__Enrollment__Reply *r = s_death(f, "2025-01-05", S_US(1736046000));
    assert_int_equal(r->status->code, CCM__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "at_us");
    assert_non_null(strstr(r->status->message, "2025-01-04"));
    ccm__enrollment__reply__free_unpacked(r, NULL);
    s_refused(s_death(f, "2025-01-05", -5), CCM__CODE__INVALID_ARGUMENT, "at_us");
    s_refused(s_death(f, "2025-01-32", 0), CCM__CODE__INVALID_ARGUMENT, "date");
    assert_int_equal(s_last_seq(f), seq);

    /* Only the date: died_us stays 0; the change reaches back to the day's start. */
    r = s_death(f, "2025-01-10", 0);
    assert_string_equal(r->patient->death_date, "2025-01-10");
    assert_int_equal(r->patient->died_us, 0);
    assert_int_equal(r->patient->change_effective_us, S_US(1736485200)); /* 01-10T00:00-05:00 */
    s_ok(r);
    seq = s_last_seq(f);
    s_ok(s_death(f, "2025-01-10", 0)); /* the same again: no change */
    assert_int_equal(s_last_seq(f), seq);

    /* Corrected to 22:00 on 5 January (03:00Z on the 6th): the months from the
     * earlier day are re-judged. */
    r = s_death(f, "2025-01-05", S_US(1736132400));
    assert_string_equal(r->patient->death_date, "2025-01-05");
    assert_int_equal(r->patient->died_us, S_US(1736132400));
    assert_int_equal(r->patient->change_effective_us, S_2025_01_05);
    s_ok(r);
}

static void test_change_effective_of_every_change(void **state)
{
    fixture_t *f = *state;
    Ccm__Enrollment__Reply *r = s_register(f, "r", "1042", "1EG4TE5MK73", NULL, NULL);
    assert_int_equal(r->patient->change_effective_us, 0);
    s_ok(r);
    s_people(f);
    s_ok(s_billing(f, "1234567893"));
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;

    /* a visit: the start of its day in the clinic's zone */
    Ccm__Enrollment__AddVisit v = CCM__ENROLLMENT__ADD_VISIT__INIT;
    v.clinic = "C01", v.mrn = "1042", v.code = "99214", v.date = "2025-03-10";
    v.npi = "1234567893";
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_VISIT;
    req.add_visit = &v;
    r = s_op(f, &req, "v");
    assert_int_equal(r->patient->change_effective_us, S_2025_03_10);
    s_ok(r);
    /* another service: the start of its month */
    Ccm__Enrollment__AddOtherService o = CCM__ENROLLMENT__ADD_OTHER_SERVICE__INIT;
    o.clinic = "C01", o.mrn = "1042", o.code = "G0181", o.month = "2025-03";
    o.npi = "1245319599";
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_OTHER_SERVICE;
    req.add_other_service = &o;
    r = s_op(f, &req, "o");
    assert_int_equal(r->patient->change_effective_us, S_2025_03_01);
    s_ok(r);
    /* an inpatient stay: its admission */
    Ccm__Enrollment__AddInpatientStay st = CCM__ENROLLMENT__ADD_INPATIENT_STAY__INIT;
    st.clinic = "C01", st.mrn = "1042", st.from_us = S_US(1752580800);
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_INPATIENT_STAY;
    req.add_inpatient_stay = &st;
    r = s_op(f, &req, "i");
    assert_int_equal(r->patient->change_effective_us, S_US(1752580800));
    s_ok(r);
    /* complexity attested or withdrawn: the start of the month */
    Ccm__Enrollment__AttestComplexity cx = CCM__ENROLLMENT__ATTEST_COMPLEXITY__INIT;
    cx.clinic = "C01", cx.mrn = "1042", cx.month = "2025-02";
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_ATTEST_COMPLEXITY;
    req.attest_complexity = &cx;
    r = s_op(f, &req, "cx");
    assert_int_equal(r->patient->change_effective_us, S_2025_02_01);
    s_ok(r);
    cx.withdraw = true;
    r = s_op(f, &req, "cx");
    assert_int_equal(r->patient->change_effective_us, S_2025_02_01);
    s_ok(r);
    /* a consent: when it was given; a revocation: its instant */
    r = s_consent(f, "1234567893", S_2024_10_02 + S_US(36000), true);
    assert_int_equal(r->patient->change_effective_us, S_2024_10_02 + S_US(36000));
    s_ok(r);
    Ccm__Enrollment__RevokeConsent rv = CCM__ENROLLMENT__REVOKE_CONSENT__INIT;
    rv.clinic = "C01", rv.mrn = "1042", rv.program = CCM__ENROLLMENT__PROGRAM__CCM;
    rv.at_us = S_US(1756728000);
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_REVOKE_CONSENT;
    req.revoke_consent = &rv;
    r = s_op(f, &req, "rv");
    assert_int_equal(r->patient->change_effective_us, S_US(1756728000));
    s_ok(r);
    /* what is stored is what was published last */
    r = s_show(f);
    assert_int_equal(r->patient->change_effective_us, S_US(1756728000));
    s_ok(r);
}

/* Puts `p` (an old-shape record) in the patients database and forgets that
 * the store was migrated, as a store written by an older build is. */
static void s_put_old_record(fixture_t *f, const Ccm__Enrollment__Patient *p)
{
    ccm_store_t *st = ccm_worker_store(f->w);
    MDB_dbi patients, meta;
    assert_int_equal(ccm_store_dbi(st, "patients", &patients), 0);
    assert_int_equal(ccm_store_dbi(st, CCM_STORE_META_DB, &meta), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(ccm_store_env(st), NULL, 0, &txn), 0);
    uint8_t buf[4096];
    size_t len = ccm__enrollment__patient__pack(p, buf);
    ccm_key_t k;
    ccm_key_init(&k);
    ccm_key_str(&k, p->clinic);
    ccm_key_str(&k, p->mrn);
    assert_int_equal(ccm_store_put(txn, patients, k.buf, k.len, buf, len, 0), 0);
    assert_int_equal(ccm_store_del(txn, meta, CCM_FACTS_META_KEY, strlen(CCM_FACTS_META_KEY)), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void test_migration_gives_old_patients_their_history(void **state)
{
    fixture_t *f = *state;
    /* A patient as an older build stored it: current values only. */
    Ccm__Enrollment__Condition c1 = CCM__ENROLLMENT__CONDITION__INIT;
    c1.icd10 = "E11.9", c1.added_us = S_2024_10_02, c1.added_request = "c-1";
    c1.expected_months = 24, c1.high_risk = true, c1.chronic = true;
    Ccm__Enrollment__Condition c2 = CCM__ENROLLMENT__CONDITION__INIT;
    c2.icd10 = "I10", c2.added_us = S_2024_10_02, c2.resolved_us = S_2025_03_01;
    c2.expected_months = 6, c2.chronic = true;
    Ccm__Enrollment__Condition *conds[] = {&c1, &c2};
    Ccm__Enrollment__Consent k1 = CCM__ENROLLMENT__CONSENT__INIT;
    k1.id = "C01/1042/CCM/1", k1.program = CCM__ENROLLMENT__PROGRAM__CCM;
    k1.billing_npi = "1245319599", k1.at_us = S_2024_10_02;
    k1.status = CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED;
    k1.effective_until = "2025-03-09";
    Ccm__Enrollment__Consent k2 = CCM__ENROLLMENT__CONSENT__INIT;
    k2.id = "C01/1042/CCM/2", k2.program = CCM__ENROLLMENT__PROGRAM__CCM;
    k2.billing_npi = "1234567893", k2.at_us = S_2025_03_10;
    k2.status = CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE;
    Ccm__Enrollment__Consent *consents[] = {&k1, &k2};
    Ccm__Enrollment__Patient old = CCM__ENROLLMENT__PATIENT__INIT;
    old.clinic = "C01", old.mrn = "1042", old.mbi = "1EG4TE5MK73";
    old.family_name = "Rivera", old.given_name = "Ana", old.birth_date = "1948-02-29";
    old.created_us = S_2024_10_02 - S_US(86400), old.updated_us = S_2025_03_10;
    old.billing_npi = "1234567893", old.payer = "MEDICAID", old.qmb = true;
    old.conditions = conds, old.n_conditions = 2;
    old.consents = consents, old.n_consents = 2;
    s_put_old_record(f, &old);
    uint64_t seq = s_last_seq(f);

    s_restart(f); /* the migration runs at start */
    Ccm__Enrollment__Reply *r = s_show(f);
    Ccm__Enrollment__Patient *p = r->patient;
    assert_int_equal(p->n_billing_history, 1);
    assert_string_equal(p->billing_history[0]->npi, "1234567893");
    assert_int_equal(p->billing_history[0]->from_us, 0);
    assert_int_equal(p->billing_history[0]->recorded_us, old.created_us);
    assert_int_equal(p->n_payer_history, 1);
    assert_string_equal(p->payer_history[0]->payer, "MEDICAID");
    assert_true(p->payer_history[0]->qmb);
    assert_int_equal(p->payer_history[0]->from_us, 0);
    for (size_t i = 0; i < 2; i++) {
        const Ccm__Enrollment__Condition *c = p->conditions[i];
        assert_int_equal(c->n_attestations, 1);
        assert_int_equal(c->attestations[0]->from_us, 0);
        assert_int_equal(c->attestations[0]->expected_months, conds[i]->expected_months);
        assert_int_equal(c->attestations[0]->high_risk, conds[i]->high_risk);
        assert_int_equal(c->attestations[0]->chronic, conds[i]->chronic);
    }
    assert_int_equal(p->conditions[1]->resolved_us, S_2025_03_01);
    /* in force through 9 March (New York): ended when 10 March began */
    assert_int_equal(p->consents[0]->ended_us, S_2025_03_10);
    assert_int_equal(p->consents[1]->ended_us, 0);
    assert_int_equal(p->change_effective_us, 0);
    assert_int_equal(p->updated_us, old.updated_us); /* not a change of the patient */
    /* followers learn nothing new: a missing history reads the same */
    assert_int_equal(s_last_seq(f), seq);
    uint8_t a[4096], b[4096];
    size_t alen = ccm__enrollment__patient__pack(p, a);
    s_ok(r);

    /* Once per store: a later start changes nothing. */
    s_restart(f);
    r = s_show(f);
    size_t blen = ccm__enrollment__patient__pack(r->patient, b);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    s_ok(r);

    /* The history then grows from the migrated one. */
    r = s_payer(f, "MEDICARE_B", S_2025_06_01, CCM__ENROLLMENT__QMB_CHANGE__QMB_UNCHANGED);
    assert_int_equal(r->patient->n_payer_history, 2);
    assert_true(r->patient->payer_history[1]->qmb);
    s_ok(r);
}

int main(void)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_gets_the_same_reply_and_changes_nothing, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_refused_request_changes_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mutation_without_request_id_is_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_body_is_invalid_argument, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_serves_the_stream, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_eligibility_flips_and_is_published, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_consent_life_cycle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worklist_lists_eligible_without_consent, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_reattest_condition_and_death, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_billing_practitioner_history, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_payer_history, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_condition_attestations, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_death_instant, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_change_effective_of_every_change, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_migration_gives_old_patients_their_history, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
