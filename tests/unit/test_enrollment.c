/* The worker host and the enrollment handlers, called directly (no sockets):
 * idempotency by request_id, rollback of refused requests, FETCH and stats
 * served by the host, and undecodable bodies refused. */
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

typedef struct {
    char dir[64];
    ccm_enrollment_t *e;
    ccm_worker_t *w;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ccm-enr-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
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
    *state = f;
    return 0;
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

static Ccm__Enrollment__Reply *s_billing(fixture_t *f, const char *npi)
{
    Ccm__Enrollment__SetBillingPractitioner b = CCM__ENROLLMENT__SET_BILLING_PRACTITIONER__INIT;
    b.clinic = "C01", b.mrn = "1042", b.npi = (char *)npi;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_SET_BILLING_PRACTITIONER;
    req.set_billing_practitioner = &b;
    return s_op(f, &req, "billing");
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
    r = s_billing(f, "1245319599");             /* another billing practitioner */
    assert_int_equal(r->patient->consents[1]->status,
                     CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED);
    s_ok(r);
    s_refused(s_consent(f, "1234567893", at, true), CCM__CODE__FAILED_PRECONDITION, "billing_npi");
    r = s_consent(f, "1245319599", at, true);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
