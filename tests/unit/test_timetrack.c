/* The timetrack handlers through the worker host, without sockets, on a real
 * temporary store: followed enrollment and careplan events are fed in as if
 * fetched, requests go through ccm_worker_call() and the stream is read back
 * with FETCH. Only services/timetrack/timetrack.h and the wire messages are
 * used, so the handlers' internals may change freely: an entry is one entry
 * however often its source event arrives, corrections keep history, overlaps
 * are flagged, month status is lib/rules' decision (through services/month),
 * thresholds are announced once per upward crossing, and the forecast lists
 * exactly the months that minutes alone can still make billable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ccm/careplan.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/log.h"
#include "ccm/timetrack.pb-c.h"
#include "ccm/worker.h"
#include "timetrack.h"

#define NPI "1234567893"
/* Instants (s) in America/New_York, before the clock of any run of this test. */
#define CONSENT_AT 1789484400LL  /* 2026-09-15 11:00 */
#define ESTABLISHED 1789488000LL /* 2026-09-15 12:00 */
#define OCT_05_10H 1791208800LL  /* 2026-10-05 10:00 */
#define OCT_06_10H 1791295200LL  /* 2026-10-06 10:00 */
#define OCT_06_1010 1791295800LL /* 2026-10-06 10:10 */
#define OCT_06_1030 1791297000LL /* 2026-10-06 10:30 */
#define OCT_07_10H 1791381600LL  /* 2026-10-07 10:00 */
#define OCT_13_10H 1791900000LL  /* 2026-10-13 10:00 */
#define OCT_31_2350 1793505000LL /* 2026-10-31 23:50, ten minutes before November */

typedef Ccm__Timetrack__Reply reply_t;
typedef Ccm__Timetrack__TimeEntry entry_t;

typedef struct {
    char dir[64];
    ccm_timetrack_t *t;
    ccm_worker_t *w;
    uint64_t seq[2]; /* next seq per followed producer: enrollment, careplan */
    unsigned rid;    /* request ids handed out */
} fix_t;

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ccm_log_init("test", CCM_LOG_ERROR);
    snprintf(f->dir, sizeof f->dir, "/tmp/ccm-test-timetrack-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->t = ccm_timetrack_new(CCM_FEES_DIR_DEFAULT);
    assert_non_null(f->t);
    assert_int_equal(
        ccm_timetrack_add_clinic(f->t, "C01", "America/New_York", "PHYSICIAN_PRACTICE"), 0);
    ccm_worker_opts_t o = {.service = CCM_TIMETRACK_SERVICE,
                           .broker = "tcp://127.0.0.1:1",
                           .data_dir = f->dir,
                           .dbs = ccm_timetrack_dbs,
                           .schema_version = CCM_TIMETRACK_SCHEMA,
                           .handle = ccm_timetrack_handle,
                           .ctx = f->t};
    assert_int_equal(ccm_worker_new(&o, &f->w), 0);
    assert_int_equal(ccm_timetrack_bind(f->t, f->w), 0);
    f->seq[0] = f->seq[1] = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    ccm_worker_destroy(&f->w);
    ccm_timetrack_destroy(&f->t);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Applies one event of a followed stream (0 enrollment, 1 careplan) as if fetched. */
static void feed(fix_t *f, int producer, const char *type, const char *key,
                 const ProtobufCMessage *m)
{
    static const char *const names[] = {"enrollment", "careplan"};
    uint8_t buf[4096];
    assert_true(protobuf_c_message_get_packed_size(m) <= sizeof buf);
    Ccm__Envelope ev = CCM__ENVELOPE__INIT, *evp = &ev;
    ev.producer = (char *)names[producer];
    ev.seq = f->seq[producer]++;
    ev.time_us = ESTABLISHED * 1000000;
    ev.type = (char *)type;
    ev.key = (char *)key;
    ev.payload.data = buf;
    ev.payload.len = protobuf_c_message_pack(m, buf);
    Ccm__FetchReply fr = CCM__FETCH_REPLY__INIT;
    fr.events = &evp;
    fr.n_events = 1;
    fr.next_seq = ev.seq + 1;
    fr.last_seq = ev.seq;
    assert_int_equal(ccm_worker_feed(f->w, names[producer], &fr), 0);
}

/* ---- facts, as enrollment and careplan publish them ---- */

/* The practitioner (NPI) and two clinical staff members, rn1 and rn2, of C01. */
static void people(fix_t *f)
{
    Ccm__Enrollment__Practitioner pr = CCM__ENROLLMENT__PRACTITIONER__INIT;
    pr.clinic = "C01", pr.npi = NPI, pr.role = CCM__ENROLLMENT__ROLE__PHYSICIAN;
    feed(f, 0, "practitioner.added", "C01/" NPI, &pr.base);
    static const char *const ids[] = {"rn1", "rn2"};
    for (int i = 0; i < 2; i++) {
        Ccm__Enrollment__Staff st = CCM__ENROLLMENT__STAFF__INIT;
        st.clinic = "C01", st.id = (char *)ids[i];
        st.role = CCM__ENROLLMENT__ROLE__CLINICAL_STAFF, st.in_us = 1;
        feed(f, 0, "staff.added", "C01/rn", &st.base);
    }
}

/* A patient of C01 with two chronic high-risk conditions, the initiating visit
 * and consent to `program` on 2026-09-15. */
static void patient(fix_t *f, const char *mrn, const char *mbi, Ccm__Enrollment__Program program)
{
    Ccm__Enrollment__Condition c1 = CCM__ENROLLMENT__CONDITION__INIT, c2 = c1;
    c1.icd10 = "E11.9", c1.chronic = 1, c1.high_risk = 1, c1.expected_months = 24;
    c2.icd10 = "I50.9", c2.chronic = 1, c2.high_risk = 1, c2.expected_months = 24;
    Ccm__Enrollment__Condition *conds[] = {&c1, &c2};
    Ccm__Enrollment__Visit v = CCM__ENROLLMENT__VISIT__INIT;
    v.code = "99214", v.date = "2026-09-15", v.npi = NPI;
    Ccm__Enrollment__Visit *visits[] = {&v};
    char id[64], key[32];
    snprintf(id, sizeof id, "C01/%s/%d/1", mrn, (int)program);
    snprintf(key, sizeof key, "C01/%s", mrn);
    Ccm__Enrollment__Consent con = CCM__ENROLLMENT__CONSENT__INIT;
    con.id = id, con.program = program, con.billing_npi = NPI;
    con.at_us = CONSENT_AT * 1000000;
    con.status = CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE;
    Ccm__Enrollment__Consent *cons[] = {&con};
    Ccm__Enrollment__Patient p = CCM__ENROLLMENT__PATIENT__INIT;
    p.clinic = "C01", p.mrn = (char *)mrn, p.mbi = (char *)mbi, p.billing_npi = NPI;
    p.conditions = conds, p.n_conditions = 2;
    p.visits = visits, p.n_visits = 1;
    p.consents = cons, p.n_consents = 1;
    p.eligibility = CCM__ENROLLMENT__ELIGIBILITY__CCM_ELIGIBLE;
    feed(f, 0, "consent.recorded", key, &p.base);
}

/* The patient's care plan for `program`, established and given on 2026-09-16. */
static void care_plan(fix_t *f, const char *mrn, Ccm__Careplan__Program program)
{
    Ccm__Careplan__CopyGiven copy = CCM__CAREPLAN__COPY_GIVEN__INIT;
    copy.date = "2026-09-16", copy.version = 1;
    Ccm__Careplan__CopyGiven *copies[] = {&copy};
    Ccm__Careplan__CarePlan cp = CCM__CAREPLAN__CARE_PLAN__INIT;
    cp.clinic = "C01", cp.mrn = (char *)mrn, cp.program = program;
    cp.status = CCM__CAREPLAN__STATUS__ESTABLISHED;
    cp.current_version = cp.established_version = 1;
    cp.established_us = ESTABLISHED * 1000000;
    cp.copies = copies, cp.n_copies = 1;
    char key[32];
    snprintf(key, sizeof key, "C01/%s", mrn);
    feed(f, 1, "careplan.established", key, &cp.base);
}

/* ---- requests ---- */

/* Runs one request; a mutation gets a request id of its own. Free the reply with
 * ccm__timetrack__reply__free_unpacked(). */
static reply_t *call(fix_t *f, Ccm__Timetrack__Request *req)
{
    char rid[32];
    snprintf(rid, sizeof rid, "req-%u", ++f->rid);
    req->request_id = rid;
    size_t len = ccm__timetrack__request__get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    ccm__timetrack__request__pack(req, buf);
    void *rep = NULL;
    size_t rlen = 0;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    free(buf);
    reply_t *r = ccm__timetrack__reply__unpack(NULL, rlen, rep);
    free(rep);
    assert_non_null(r);
    assert_non_null(r->status);
    req->request_id = NULL;
    return r;
}

/* Asserts a refusal with `code` on `field`, and frees the reply. */
static void refused(reply_t *r, Ccm__Code code, const char *field)
{
    assert_int_equal(r->status->code, code);
    assert_string_equal(r->status->field, field);
    assert_int_equal(r->result_case, CCM__TIMETRACK__REPLY__RESULT__NOT_SET);
    ccm__timetrack__reply__free_unpacked(r, NULL);
}

static Ccm__Timetrack__AddTimeEntry entry_of(const char *mrn, const char *performer,
                                             const char *event, int64_t start, int64_t seconds)
{
    Ccm__Timetrack__AddTimeEntry in = CCM__TIMETRACK__ADD_TIME_ENTRY__INIT;
    in.clinic = "C01", in.mrn = (char *)mrn, in.performer = (char *)performer;
    in.activity = "call with patient";
    in.service = CCM__TIMETRACK__SERVICE_TAG__CCM;
    in.start_us = start * 1000000, in.seconds = seconds;
    in.source = CCM__TIMETRACK__SOURCE__MANUAL;
    in.source_event_id = (char *)event;
    return in;
}

static reply_t *add_msg(fix_t *f, Ccm__Timetrack__AddTimeEntry *in)
{
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.op_case = CCM__TIMETRACK__REQUEST__OP_ADD_ENTRY;
    req.add_entry = in;
    return call(f, &req);
}

static reply_t *add(fix_t *f, const char *mrn, const char *performer, const char *event,
                    int64_t start, int64_t seconds)
{
    Ccm__Timetrack__AddTimeEntry in = entry_of(mrn, performer, event, start, seconds);
    return add_msg(f, &in);
}

/* Adds an entry that must be accepted; returns it (free with the reply). */
static const entry_t *added(reply_t *r)
{
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->result_case, CCM__TIMETRACK__REPLY__RESULT_ENTRY);
    return r->entry;
}

static void add_ok(fix_t *f, const char *mrn, const char *performer, const char *event,
                   int64_t start, int64_t seconds)
{
    reply_t *r = add(f, mrn, performer, event, start, seconds);
    added(r);
    ccm__timetrack__reply__free_unpacked(r, NULL);
}

static reply_t *void_entry(fix_t *f, const char *id, const char *reason)
{
    Ccm__Timetrack__VoidTimeEntry in = CCM__TIMETRACK__VOID_TIME_ENTRY__INIT;
    in.clinic = "C01", in.id = (char *)id, in.reason = (char *)reason;
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.op_case = CCM__TIMETRACK__REQUEST__OP_VOID_ENTRY;
    req.void_entry = &in;
    return call(f, &req);
}

static reply_t *status(fix_t *f, const char *mrn, const char *month)
{
    Ccm__Timetrack__MonthStatus in = CCM__TIMETRACK__MONTH_STATUS__INIT;
    in.clinic = "C01", in.mrn = (char *)mrn, in.month = (char *)month;
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.op_case = CCM__TIMETRACK__REQUEST__OP_MONTH_STATUS;
    req.month_status = &in;
    return call(f, &req);
}

/* The month status of an existing patient (free with the reply). */
static const Ccm__Timetrack__MonthStatusReply *status_ok(reply_t *r)
{
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->result_case, CCM__TIMETRACK__REPLY__RESULT_MONTH_STATUS);
    return r->month_status;
}

/* Countable minutes of a patient-month. */
static int minutes(fix_t *f, const char *mrn, const char *month)
{
    reply_t *r = status(f, mrn, month);
    int n = status_ok(r)->total_minutes;
    ccm__timetrack__reply__free_unpacked(r, NULL);
    return n;
}

static reply_t *list(fix_t *f, const char *mrn)
{
    Ccm__Timetrack__ListTimeEntries in = CCM__TIMETRACK__LIST_TIME_ENTRIES__INIT;
    in.clinic = "C01", in.mrn = (char *)mrn, in.month = "";
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.op_case = CCM__TIMETRACK__REQUEST__OP_LIST_ENTRIES;
    req.list_entries = &in;
    reply_t *r = call(f, &req);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->result_case, CCM__TIMETRACK__REPLY__RESULT_ENTRIES);
    return r;
}

/* The listed entry with this id (the test fails when there is none). */
static const entry_t *listed(const reply_t *r, const char *id)
{
    for (size_t i = 0; i < r->entries->n_entries; i++)
        if (strcmp(r->entries->entries[i]->id, id) == 0)
            return r->entries->entries[i];
    fail_msg("entry %s not listed", id);
    return NULL;
}

static bool names(const entry_t *e, const char *id)
{
    for (size_t i = 0; i < e->n_overlaps; i++)
        if (strcmp(e->overlaps[i], id) == 0)
            return true;
    return false;
}

/* The timetrack stream's events of one type (NULL: all), read with FETCH (free
 * with the reply). */
static reply_t *events(fix_t *f, const char *type)
{
    char *types[] = {(char *)type};
    Ccm__FetchRequest in = CCM__FETCH_REQUEST__INIT;
    in.from_seq = 1, in.max = 1000;
    in.types = types, in.n_types = type ? 1 : 0;
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.op_case = CCM__TIMETRACK__REQUEST__OP_FETCH;
    req.fetch = &in;
    reply_t *r = call(f, &req);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->result_case, CCM__TIMETRACK__REPLY__RESULT_FETCH);
    return r;
}

static size_t n_events(fix_t *f, const char *type)
{
    reply_t *r = events(f, type);
    size_t n = r->fetch->n_events;
    ccm__timetrack__reply__free_unpacked(r, NULL);
    return n;
}

/* ---- tests ---- */

static void test_a_source_event_is_one_entry_however_often_it_arrives(void **state)
{
    fix_t *f = *state;
    people(f);
    patient(f, "1042", "1EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    reply_t *r = add(f, "1042", "rn1", "uid-1", OCT_06_10H, 720);
    const entry_t *e = added(r);
    assert_string_equal(e->id, "MANUAL:uid-1");
    assert_int_equal(e->state, CCM__TIMETRACK__ENTRY_STATE__ACTIVE);
    assert_string_equal(e->role, "CLINICAL_STAFF");
    assert_string_equal(e->performer_npi, "");
    assert_string_equal(e->principal, "dev");
    int64_t recorded = e->recorded_us;
    ccm__timetrack__reply__free_unpacked(r, NULL);

    /* The same source event again under a new request id: the stored entry, nothing new. */
    r = add(f, "1042", "rn1", "uid-1", OCT_06_10H, 720);
    e = added(r);
    assert_string_equal(e->id, "MANUAL:uid-1");
    assert_int_equal(e->recorded_us, recorded);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    assert_int_equal(n_events(f, "entry.added"), 1);

    /* The same id with other facts is a conflict, not a second entry. */
    refused(add(f, "1042", "rn1", "uid-1", OCT_06_10H, 1800), CCM__CODE__CONFLICT,
            "source_event_id");
    refused(add(f, "1042", "rn2", "uid-1", OCT_06_10H, 720), CCM__CODE__CONFLICT,
            "source_event_id");
    assert_int_equal(n_events(f, "entry.added"), 1);

    /* The id is the source's: the same event id from a phone system is another entry,
     * and the same minutes from two sources count once. */
    Ccm__Timetrack__AddTimeEntry in = entry_of("1042", "rn1", "uid-1", OCT_06_10H, 720);
    in.source = CCM__TIMETRACK__SOURCE__CDR;
    r = add_msg(f, &in);
    e = added(r);
    assert_string_equal(e->id, "CDR:uid-1");
    assert_true(names(e, "MANUAL:uid-1"));
    ccm__timetrack__reply__free_unpacked(r, NULL);
    assert_int_equal(n_events(f, "entry.added"), 2);
    assert_int_equal(minutes(f, "1042", "2026-10"), 12);
}

static void test_bad_entries_are_refused_and_change_nothing(void **state)
{
    fix_t *f = *state;
    people(f);
    patient(f, "1042", "1EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    refused(add(f, "404", "rn1", "a", OCT_06_10H, 600), CCM__CODE__NOT_FOUND, "mrn");
    refused(add(f, "1042", "ghost", "a", OCT_06_10H, 600), CCM__CODE__NOT_FOUND, "performer");
    refused(add(f, "1042", "rn1", "a", OCT_06_10H, 0), CCM__CODE__INVALID_ARGUMENT, "seconds");
    refused(add(f, "1042", "rn1", "a", OCT_06_10H, 86401), CCM__CODE__INVALID_ARGUMENT, "seconds");
    refused(add(f, "1042", "rn1", "a", 4102444800LL /* 2100 */, 600), CCM__CODE__INVALID_ARGUMENT,
            "start_us");
    refused(add(f, "1042", "rn1", "with space", OCT_06_10H, 600), CCM__CODE__INVALID_ARGUMENT,
            "source_event_id");
    Ccm__Timetrack__AddTimeEntry in = entry_of("1042", "rn1", "a", OCT_06_10H, 600);
    in.clinic = "C09";
    refused(add_msg(f, &in), CCM__CODE__NOT_FOUND, "clinic");
    in = entry_of("1042", "rn1", "a", OCT_06_10H, 600);
    in.service = CCM__TIMETRACK__SERVICE_TAG__SERVICE_UNSPECIFIED;
    refused(add_msg(f, &in), CCM__CODE__INVALID_ARGUMENT, "service");
    /* a documented APCM service element is the one entry of 0 seconds */
    in = entry_of("1042", "rn1", "apcm-1", OCT_06_10H, 0);
    in.service = CCM__TIMETRACK__SERVICE_TAG__APCM;
    reply_t *r = add_msg(f, &in);
    assert_int_equal(added(r)->seconds, 0);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    assert_int_equal(n_events(f, NULL), 1);
}

static void test_void_and_amend_keep_history(void **state)
{
    fix_t *f = *state;
    people(f);
    patient(f, "1042", "1EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    care_plan(f, "1042", CCM__CAREPLAN__PROGRAM__CCM);
    add_ok(f, "1042", "rn1", "a", OCT_06_10H, 1500);
    add_ok(f, "1042", "rn1", "b", OCT_13_10H, 1320);
    assert_int_equal(minutes(f, "1042", "2026-10"), 47);

    reply_t *r = void_entry(f, "MANUAL:a", "entered on the wrong patient");
    const entry_t *e = added(r);
    assert_int_equal(e->state, CCM__TIMETRACK__ENTRY_STATE__VOIDED);
    assert_string_equal(e->reason, "entered on the wrong patient");
    ccm__timetrack__reply__free_unpacked(r, NULL);
    assert_int_equal(minutes(f, "1042", "2026-10"), 22);
    refused(void_entry(f, "MANUAL:a", "again"), CCM__CODE__FAILED_PRECONDITION, "id");
    refused(void_entry(f, "MANUAL:b", ""), CCM__CODE__INVALID_ARGUMENT, "reason");
    refused(void_entry(f, "MANUAL:nope", "typo"), CCM__CODE__NOT_FOUND, "id");

    /* b was 22 minutes, really 30: the replacement is a new entry with its own id */
    Ccm__Timetrack__AddTimeEntry repl = entry_of("1042", "rn1", "b2", OCT_13_10H, 1800);
    Ccm__Timetrack__AmendTimeEntry am = CCM__TIMETRACK__AMEND_TIME_ENTRY__INIT;
    am.clinic = "C01", am.id = "MANUAL:b", am.reason = "wrong length";
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.op_case = CCM__TIMETRACK__REQUEST__OP_AMEND_ENTRY;
    req.amend_entry = &am;
    refused(call(f, &req), CCM__CODE__INVALID_ARGUMENT, "replacement");
    am.replacement = &repl;
    r = call(f, &req);
    e = added(r);
    assert_string_equal(e->id, "MANUAL:b2");
    assert_string_equal(e->corrects, "MANUAL:b");
    assert_string_equal(e->reason, "wrong length");
    assert_int_equal(e->state, CCM__TIMETRACK__ENTRY_STATE__ACTIVE);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    refused(call(f, &req), CCM__CODE__FAILED_PRECONDITION, "id"); /* b is amended already */
    am.id = "MANUAL:a";
    refused(call(f, &req), CCM__CODE__FAILED_PRECONDITION, "id"); /* a is voided */
    assert_int_equal(minutes(f, "1042", "2026-10"), 30);

    /* nothing is deleted: every entry is listed with what happened to it */
    r = list(f, "1042");
    assert_int_equal(r->entries->n_entries, 3);
    assert_int_equal(listed(r, "MANUAL:a")->state, CCM__TIMETRACK__ENTRY_STATE__VOIDED);
    e = listed(r, "MANUAL:b");
    assert_int_equal(e->state, CCM__TIMETRACK__ENTRY_STATE__AMENDED);
    assert_string_equal(e->corrected_by, "MANUAL:b2");
    assert_string_equal(e->reason, "wrong length");
    assert_int_equal(e->seconds, 1320);
    assert_int_equal(listed(r, "MANUAL:b2")->seconds, 1800);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    assert_int_equal(n_events(f, "entry.added"), 3);
    assert_int_equal(n_events(f, "entry.voided"), 1);
    assert_int_equal(n_events(f, "entry.amended"), 1);
}

static void test_overlaps_are_flagged_not_counted_twice(void **state)
{
    fix_t *f = *state;
    people(f);
    patient(f, "1042", "1EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    patient(f, "2000", "2EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    add_ok(f, "1042", "rn1", "x1", OCT_06_10H, 1800); /* 10:00-10:30 */
    /* the same nurse on another patient at the same time: both entries say so */
    reply_t *r = add(f, "2000", "rn1", "x2", OCT_06_1010, 600);
    const entry_t *e = added(r);
    assert_int_equal(e->n_overlaps, 1);
    assert_string_equal(e->overlaps[0], "MANUAL:x1");
    ccm__timetrack__reply__free_unpacked(r, NULL);
    r = list(f, "1042");
    e = listed(r, "MANUAL:x1");
    assert_int_equal(e->n_overlaps, 1);
    assert_string_equal(e->overlaps[0], "MANUAL:x2");
    ccm__timetrack__reply__free_unpacked(r, NULL);

    /* another performer, or work that starts where the other ends, overlaps nothing */
    r = add(f, "1042", "rn2", "x3", OCT_06_10H, 1800);
    assert_int_equal(added(r)->n_overlaps, 0);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    r = add(f, "1042", "rn1", "x4", OCT_06_1030, 600);
    assert_int_equal(added(r)->n_overlaps, 0);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    /* an APCM service element has no length, so never overlaps */
    Ccm__Timetrack__AddTimeEntry in = entry_of("2000", "rn1", "el", OCT_06_1010 + 60, 0);
    in.service = CCM__TIMETRACK__SERVICE_TAG__APCM;
    r = add_msg(f, &in);
    assert_int_equal(added(r)->n_overlaps, 0);
    ccm__timetrack__reply__free_unpacked(r, NULL);

    /* a voided entry is never named again: x5 meets only x1's old interval */
    r = void_entry(f, "MANUAL:x1", "dialled twice");
    added(r);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    r = add(f, "2000", "rn1", "x5", OCT_06_10H + 60, 240); /* 10:01-10:05 */
    assert_int_equal(added(r)->n_overlaps, 0);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    r = add(f, "2000", "rn1", "x6", OCT_06_1010 + 300, 600); /* 10:15-10:25, x2 active */
    e = added(r);
    assert_int_equal(e->n_overlaps, 1);
    assert_string_equal(e->overlaps[0], "MANUAL:x2");
    ccm__timetrack__reply__free_unpacked(r, NULL);
    /* 1042's staff time is the union: rn2 10:00-10:30 and rn1 10:30-10:40 */
    assert_int_equal(minutes(f, "1042", "2026-10"), 40);
}

static void test_month_status_is_the_rules_decision(void **state)
{
    fix_t *f = *state;
    people(f);
    patient(f, "1042", "1EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    add_ok(f, "1042", "rn1", "a", OCT_06_10H, 1500);

    /* 25 minutes but no care plan yet: no claim, and why */
    reply_t *r = status(f, "1042", "2026-10");
    const Ccm__Timetrack__MonthStatusReply *st = status_ok(r);
    assert_string_equal(st->month, "2026-10");
    assert_int_equal(st->total_minutes, 25);
    assert_int_equal(st->staff_minutes, 25);
    assert_int_equal(st->practitioner_minutes, 0);
    assert_false(st->claim);
    assert_string_equal(st->reason, "CARE_PLAN_MISSING");
    assert_int_equal(st->n_lines, 0);
    assert_string_equal(st->next_code, "99439");
    assert_int_equal(st->minutes_to_next, 15);
    ccm__timetrack__reply__free_unpacked(r, NULL);

    /* the care plan arrives on careplan's stream; the practitioner adds 10 minutes */
    care_plan(f, "1042", CCM__CAREPLAN__PROGRAM__CCM);
    r = add(f, "1042", NPI, "doc", OCT_07_10H, 600);
    const entry_t *e = added(r);
    assert_string_equal(e->role, "PHYSICIAN");
    assert_string_equal(e->performer_npi, NPI);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    r = status(f, "1042", "2026-10");
    st = status_ok(r);
    assert_int_equal(st->total_minutes, 35);
    assert_int_equal(st->practitioner_minutes, 10);
    assert_true(st->claim);
    assert_string_equal(st->reason, "");
    assert_int_equal(st->n_lines, 1);
    assert_string_equal(st->lines[0], "99490 x1");
    assert_string_equal(st->next_code, "99439");
    assert_int_equal(st->minutes_to_next, 5);
    assert_non_null(strstr(st->summary, "5 minutes to 99439"));
    ccm__timetrack__reply__free_unpacked(r, NULL);

    /* An entry is counted in the clinic's months: 23:50 on October 31st in New
     * York is 10 minutes of October and 10 of November. */
    add_ok(f, "1042", "rn2", "late", OCT_31_2350, 1200);
    assert_int_equal(minutes(f, "1042", "2026-10"), 45);
    assert_int_equal(minutes(f, "1042", "2026-11"), 10);
    r = status(f, "1042", "2026-09"); /* consent in September, no minutes */
    st = status_ok(r);
    assert_int_equal(st->total_minutes, 0);
    assert_false(st->claim);
    assert_string_equal(st->reason, "BELOW_THRESHOLD");
    assert_string_equal(st->next_code, "99490");
    assert_int_equal(st->minutes_to_next, 20);
    ccm__timetrack__reply__free_unpacked(r, NULL);

    refused(status(f, "404", "2026-10"), CCM__CODE__NOT_FOUND, "mrn");
    refused(status(f, "1042", "2026-1"), CCM__CODE__INVALID_ARGUMENT, "month");
}

/* Asserts the threshold event i of the stream. */
static void threshold_is(const reply_t *r, size_t i, const char *kind, int at, int total,
                         const char *month)
{
    assert_true(i < r->fetch->n_events);
    const Ccm__Envelope *ev = r->fetch->events[i];
    assert_string_equal(ev->key, "C01/1042");
    Ccm__Timetrack__Threshold *th =
        ccm__timetrack__threshold__unpack(NULL, ev->payload.len, ev->payload.data);
    assert_non_null(th);
    assert_string_equal(th->clinic, "C01");
    assert_string_equal(th->mrn, "1042");
    assert_string_equal(th->month, month);
    assert_string_equal(th->kind, kind);
    assert_int_equal(th->minutes, at);
    assert_int_equal(th->total, total);
    ccm__timetrack__threshold__free_unpacked(th, NULL);
}

static void test_thresholds_are_announced_once_per_crossing(void **state)
{
    fix_t *f = *state;
    people(f);
    patient(f, "1042", "1EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    add_ok(f, "1042", "rn1", "a", OCT_05_10H, 19 * 60);
    assert_int_equal(n_events(f, "threshold"), 0);
    add_ok(f, "1042", "rn2", "b", OCT_06_10H, 90); /* the 20th minute lands */
    add_ok(f, "1042", "rn2", "b", OCT_06_10H, 90); /* sent again: crosses nothing */
    reply_t *r = events(f, "threshold");
    assert_int_equal(r->fetch->n_events, 1);
    threshold_is(r, 0, "staff", 20, 20, "2026-10");
    ccm__timetrack__reply__free_unpacked(r, NULL);

    /* 20 more staff minutes: 40. Then 30 of the practitioner's, which count for the
     * staff marks too (70: past 60) and reach the practitioner's own 30. */
    add_ok(f, "1042", "rn1", "c", OCT_07_10H, 1200);
    add_ok(f, "1042", NPI, "doc", OCT_13_10H, 1800);
    r = events(f, "threshold");
    assert_int_equal(r->fetch->n_events, 4);
    threshold_is(r, 1, "staff", 40, 40, "2026-10");
    threshold_is(r, 2, "staff", 60, 70, "2026-10");
    threshold_is(r, 3, "practitioner", 30, 30, "2026-10");
    ccm__timetrack__reply__free_unpacked(r, NULL);

    /* going down announces nothing; coming back up past 60 again does */
    r = void_entry(f, "MANUAL:c", "wrong patient");
    added(r);
    ccm__timetrack__reply__free_unpacked(r, NULL);
    assert_int_equal(minutes(f, "1042", "2026-10"), 50);
    assert_int_equal(n_events(f, "threshold"), 4);
    add_ok(f, "1042", "rn1", "c2", OCT_07_10H, 1200);
    r = events(f, "threshold");
    assert_int_equal(r->fetch->n_events, 5);
    threshold_is(r, 4, "staff", 60, 70, "2026-10");
    ccm__timetrack__reply__free_unpacked(r, NULL);
}

static void test_forecast_lists_months_only_minutes_can_still_make(void **state)
{
    fix_t *f = *state;
    people(f);
    /* 1042: care plan, 5 minutes: below threshold. 4000: care plan, no minutes yet.
     * 2000: no care plan: blocked by more than minutes. 3000: 25 minutes, billing. */
    patient(f, "1042", "1EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    care_plan(f, "1042", CCM__CAREPLAN__PROGRAM__CCM);
    add_ok(f, "1042", "rn1", "f1", OCT_06_10H, 300);
    patient(f, "2000", "2EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    add_ok(f, "2000", "rn1", "f2", OCT_07_10H, 300);
    patient(f, "3000", "3EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    care_plan(f, "3000", CCM__CAREPLAN__PROGRAM__CCM);
    add_ok(f, "3000", "rn2", "f3", OCT_06_10H, 1500);
    patient(f, "4000", "5EG4TE5MK73", CCM__ENROLLMENT__PROGRAM__CCM);
    care_plan(f, "4000", CCM__CAREPLAN__PROGRAM__CCM);

    Ccm__Timetrack__Forecast in = CCM__TIMETRACK__FORECAST__INIT;
    in.clinic = "C01", in.month = "2026-10";
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.op_case = CCM__TIMETRACK__REQUEST__OP_FORECAST;
    req.forecast = &in;
    reply_t *r = call(f, &req);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->result_case, CCM__TIMETRACK__REPLY__RESULT_FORECAST);
    /* a past month: no days left, certain to be missed; equal risk sorts by MRN */
    Ccm__Timetrack__ForecastReply *fc = r->forecast;
    assert_int_equal(fc->n_items, 2);
    assert_string_equal(fc->items[0]->mrn, "1042");
    assert_int_equal(fc->items[0]->total_minutes, 5);
    assert_string_equal(fc->items[0]->next_code, "99490");
    assert_int_equal(fc->items[0]->minutes_to_next, 15);
    assert_int_equal(fc->items[0]->days_left, 0);
    assert_true(fc->items[0]->risk == 1.0);
    assert_string_equal(fc->items[1]->mrn, "4000");
    assert_int_equal(fc->items[1]->total_minutes, 0);
    assert_int_equal(fc->items[1]->minutes_to_next, 20);
    assert_true(fc->items[1]->risk == 1.0);
    ccm__timetrack__reply__free_unpacked(r, NULL);

    /* A month ahead has all its days left: 20 minutes to find in 31 days. Every
     * patient with a care plan starts it with none (3000 included). */
    in.month = "2030-01";
    r = call(f, &req);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    fc = r->forecast;
    assert_int_equal(fc->n_items, 3);
    static const char *const mrns[] = {"1042", "3000", "4000"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(fc->items[i]->mrn, mrns[i]);
        assert_int_equal(fc->items[i]->total_minutes, 0);
        assert_int_equal(fc->items[i]->minutes_to_next, 20);
        assert_int_equal(fc->items[i]->days_left, 31);
        double off = fc->items[i]->risk - 20.0 / (20.0 + 2 * 31);
        assert_true(off > -1e-9 && off < 1e-9);
    }
    ccm__timetrack__reply__free_unpacked(r, NULL);

    in.month = "2030-1";
    refused(call(f, &req), CCM__CODE__INVALID_ARGUMENT, "month");
    in.clinic = "C09", in.month = "";
    refused(call(f, &req), CCM__CODE__NOT_FOUND, "clinic");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_source_event_is_one_entry_however_often_it_arrives,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_entries_are_refused_and_change_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_void_and_amend_keep_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlaps_are_flagged_not_counted_twice, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_month_status_is_the_rules_decision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thresholds_are_announced_once_per_crossing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forecast_lists_months_only_minutes_can_still_make,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
