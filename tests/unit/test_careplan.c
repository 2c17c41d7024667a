/* The careplan handlers through the worker host, without sockets: patients come
 * from fed enrollment events; versions, establishing with the required elements,
 * diffs, copies, idempotent retries, refused input that changes nothing, and the
 * review-due check run at chosen times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "careplan.h"
#include "ccm/careplan.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/tz.h"
#include "ccm/worker.h"

typedef Ccm__Careplan__Reply reply_t;
typedef Ccm__Careplan__Request request_t;

#define DAY_US (86400LL * 1000000LL)

typedef struct {
    char dir[64];
    ccm_careplan_t *cp;
    ccm_worker_t *w;
    uint64_t enr_seq; /* next seq of the fake enrollment stream */
} fixture_t;

/* Feeds one enrollment event carrying a Patient, as if fetched from enrollment. */
static int s_feed_patient(fixture_t *f, const char *type, const char *clinic, const char *mrn)
{
    Ccm__Enrollment__Patient p = CCM__ENROLLMENT__PATIENT__INIT;
    p.clinic = (char *)clinic;
    p.mrn = (char *)mrn;
    p.mbi = "1EG4TE5MK73";
    p.family_name = "Rivera";
    p.given_name = "Ana";
    p.birth_date = "1948-02-29";
    uint8_t buf[512];
    size_t len = ccm__enrollment__patient__pack(&p, buf);
    Ccm__Envelope e = CCM__ENVELOPE__INIT;
    e.producer = "enrollment";
    e.seq = f->enr_seq++;
    e.type = (char *)type;
    e.key = "k";
    e.payload.data = buf;
    e.payload.len = len;
    Ccm__Envelope *ev[1] = {&e};
    Ccm__FetchReply fr = CCM__FETCH_REPLY__INIT;
    fr.n_events = 1;
    fr.events = ev;
    fr.next_seq = e.seq + 1;
    fr.last_seq = e.seq;
    return ccm_worker_feed(f->w, "enrollment", &fr);
}

static int s_setup(void **state)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    fixture_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ccm-cp-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->cp = ccm_careplan_new();
    if (ccm_careplan_add_clinic(f->cp, "C01", "America/New_York") != 0 ||
        ccm_careplan_add_clinic(f->cp, "C02", "Pacific/Kiritimati") != 0)
        return -1;
    ccm_worker_opts_t o = {.service = "careplan",
                           .broker = "tcp://127.0.0.1:1", /* never reached: calls are direct */
                           .data_dir = f->dir,
                           .dbs = ccm_careplan_dbs,
                           .schema_version = CCM_CAREPLAN_SCHEMA,
                           .handle = ccm_careplan_handle,
                           .ctx = f->cp};
    if (ccm_worker_new(&o, &f->w) != 0 || ccm_careplan_bind(f->cp, f->w) != 0)
        return -1;
    f->enr_seq = 1;
    if (s_feed_patient(f, "patient.registered", "C01", "1042") != 0 ||
        s_feed_patient(f, "patient.registered", "C02", "77") != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    ccm_worker_destroy(&f->w);
    ccm_careplan_destroy(&f->cp);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Packs req, calls the host, returns the decoded reply (caller frees). */
static reply_t *s_call(fixture_t *f, request_t *req, uint8_t **raw, size_t *raw_len)
{
    size_t len = ccm__careplan__request__get_packed_size(req);
    uint8_t *buf = malloc(len + 1);
    ccm__careplan__request__pack(req, buf);
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    free(buf);
    reply_t *r = ccm__careplan__reply__unpack(NULL, rlen, rep);
    assert_non_null(r);
    assert_non_null(r->status);
    if (raw) {
        *raw = rep;
        *raw_len = rlen;
    } else {
        free(rep);
    }
    return r;
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
    assert_non_null(r->stats);
    uint64_t seq = r->stats->stream_seq;
    ccm__common_reply__free_unpacked(r, NULL);
    return seq;
}

/* The stream's events of one type (caller frees with ccm__common_reply__free_unpacked). */
static Ccm__CommonReply *s_fetch(fixture_t *f, const char *type)
{
    char *types[1] = {(char *)type};
    Ccm__FetchRequest fr = CCM__FETCH_REQUEST__INIT;
    fr.from_seq = 1;
    fr.n_types = type ? 1 : 0;
    fr.types = types;
    Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
    req.op_case = CCM__COMMON_REQUEST__OP_FETCH;
    req.fetch = &fr;
    uint8_t buf[256];
    size_t len = ccm__common_request__pack(&req, buf);
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", buf, len, &rep, &rlen), 0);
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    free(rep);
    assert_non_null(r);
    assert_non_null(r->fetch);
    return r;
}

/* ---- plans to write ---- */

typedef struct {
    Ccm__Careplan__Plan plan;
    Ccm__Careplan__Problem problem;
    Ccm__Careplan__Problem *problems[1];
    Ccm__Careplan__Goal goal, goal2;
    Ccm__Careplan__Goal *goals[2];
    Ccm__Careplan__Intervention iv;
    Ccm__Careplan__Intervention *ivs[1];
    Ccm__Careplan__Medication med;
    Ccm__Careplan__Medication *meds[1];
    Ccm__Careplan__Caregiver cg;
    Ccm__Careplan__ReviewSchedule review;
} plan_parts_t;

/* A complete plan (every required element) unless `partial`. */
static void s_plan(plan_parts_t *p, bool partial)
{
    memset(p, 0, sizeof *p);
    ccm__careplan__plan__init(&p->plan);
    ccm__careplan__problem__init(&p->problem);
    p->problem.icd10 = "e119";
    p->problem.description = "Type 2 diabetes";
    p->problems[0] = &p->problem;
    p->plan.n_problems = 1;
    p->plan.problems = p->problems;
    ccm__careplan__goal__init(&p->goal);
    p->goal.description = "HbA1c below 7.5 %";
    p->goal.target = "HbA1c < 7.5";
    p->goal.target_date = "2027-06-30";
    p->goals[0] = &p->goal;
    ccm__careplan__goal__init(&p->goal2);
    p->goal2.description = "Walk 30 minutes a day";
    p->goals[1] = &p->goal2;
    p->plan.n_goals = 1;
    p->plan.goals = p->goals;
    if (partial)
        return; /* problems and goals only */
    p->plan.expected_outcome = "Stable glucose, no admissions";
    p->plan.prognosis = "Good with adherence";
    p->plan.symptom_management = "Hypoglycemia plan on the fridge";
    ccm__careplan__intervention__init(&p->iv);
    p->iv.description = "Monthly call";
    p->iv.responsible = "RN care manager";
    p->ivs[0] = &p->iv;
    p->plan.n_interventions = 1;
    p->plan.interventions = p->ivs;
    ccm__careplan__medication__init(&p->med);
    p->med.name = "Metformin";
    p->med.dose = "500 mg twice daily";
    p->meds[0] = &p->med;
    p->plan.n_medications = 1;
    p->plan.medications = p->meds;
    p->plan.functional_assessment = "Independent in ADLs";
    ccm__careplan__caregiver__init(&p->cg);
    p->cg.name = "Luis Rivera";
    p->cg.relationship = "son";
    p->plan.caregiver = &p->cg;
    ccm__careplan__review_schedule__init(&p->review);
    p->review.interval_days = 90;
    p->plan.review = &p->review;
}

static reply_t *s_set(fixture_t *f, const char *rid, const char *clinic, const char *mrn,
                      Ccm__Careplan__Plan *plan, uint8_t **raw, size_t *raw_len)
{
    Ccm__Careplan__SetPlan in = CCM__CAREPLAN__SET_PLAN__INIT;
    in.clinic = (char *)clinic;
    in.mrn = (char *)mrn;
    in.program = CCM__CAREPLAN__PROGRAM__CCM;
    in.author = "Dr. Osei";
    in.note = "revision";
    in.substantial = true;
    in.plan = plan;
    request_t req = CCM__CAREPLAN__REQUEST__INIT;
    req.request_id = (char *)rid;
    req.op_case = CCM__CAREPLAN__REQUEST__OP_SET_PLAN;
    req.set_plan = &in;
    return s_call(f, &req, raw, raw_len);
}

static reply_t *s_establish(fixture_t *f, const char *rid)
{
    Ccm__Careplan__Establish in = CCM__CAREPLAN__ESTABLISH__INIT;
    in.clinic = "C01";
    in.mrn = "1042";
    in.program = CCM__CAREPLAN__PROGRAM__CCM;
    request_t req = CCM__CAREPLAN__REQUEST__INIT;
    req.request_id = (char *)rid;
    req.op_case = CCM__CAREPLAN__REQUEST__OP_ESTABLISH;
    req.establish = &in;
    return s_call(f, &req, NULL, NULL);
}

static reply_t *s_get(fixture_t *f, uint32_t version)
{
    Ccm__Careplan__GetPlan in = CCM__CAREPLAN__GET_PLAN__INIT;
    in.clinic = "C01";
    in.mrn = "1042";
    in.program = CCM__CAREPLAN__PROGRAM__CCM;
    in.version = version;
    request_t req = CCM__CAREPLAN__REQUEST__INIT;
    req.op_case = CCM__CAREPLAN__REQUEST__OP_GET_PLAN;
    req.get_plan = &in;
    return s_call(f, &req, NULL, NULL);
}

static reply_t *s_diff(fixture_t *f, uint32_t from, uint32_t to)
{
    Ccm__Careplan__Diff in = CCM__CAREPLAN__DIFF__INIT;
    in.clinic = "C01";
    in.mrn = "1042";
    in.program = CCM__CAREPLAN__PROGRAM__CCM;
    in.from = from;
    in.to = to;
    request_t req = CCM__CAREPLAN__REQUEST__INIT;
    req.op_case = CCM__CAREPLAN__REQUEST__OP_DIFF;
    req.diff = &in;
    return s_call(f, &req, NULL, NULL);
}

static reply_t *s_due(fixture_t *f, const char *clinic)
{
    Ccm__Careplan__ListDue in = CCM__CAREPLAN__LIST_DUE__INIT;
    in.clinic = (char *)clinic;
    request_t req = CCM__CAREPLAN__REQUEST__INIT;
    req.op_case = CCM__CAREPLAN__REQUEST__OP_LIST_DUE;
    req.list_due = &in;
    return s_call(f, &req, NULL, NULL);
}

static void s_expect_fail(reply_t *r, Ccm__Code code, const char *field)
{
    assert_int_equal(r->status->code, code);
    assert_string_equal(r->status->field, field);
    ccm__careplan__reply__free_unpacked(r, NULL);
}

static void s_ok(reply_t *r)
{
    if (r->status->code != CCM__CODE__OK)
        fail_msg("expected OK, got %d: %s", r->status->code, r->status->message);
    ccm__careplan__reply__free_unpacked(r, NULL);
}

/* Runs the review check at now_us in its own committed transaction. */
static void s_tick(fixture_t *f, int64_t now_us)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(ccm_store_env(ccm_worker_store(f->w)), NULL, 0, &txn), 0);
    assert_int_equal(ccm_careplan_review_tick(f->w, txn, now_us, f->cp), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "YYYY-MM-DD" of the New York date of instant us plus `days`. */
static void s_ny_date(int64_t us, int days, char out[11])
{
    ccm_tz_t *tz = malloc(sizeof *tz);
    assert_int_equal(ccm_tz_load(tz, "America/New_York"), 0);
    int32_t y, m, d;
    ccm_tz_civil_from_days(ccm_tz_local_day(tz, us / 1000000) + days, &y, &m, &d);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
    free(tz);
}

/* ---- tests ---- */

static void test_unknown_patient_is_not_found_and_changes_nothing(void **state)
{
    fixture_t *f = *state;
    plan_parts_t p;
    s_plan(&p, false);
    uint64_t before = s_last_seq(f);
    s_expect_fail(s_set(f, "r1", "C01", "404", &p.plan, NULL, NULL), CCM__CODE__NOT_FOUND, "mrn");
    /* a patient of another clinic is not this clinic's */
    s_expect_fail(s_set(f, "r2", "C01", "77", &p.plan, NULL, NULL), CCM__CODE__NOT_FOUND, "mrn");
    s_expect_fail(s_set(f, "r3", "C09", "1042", &p.plan, NULL, NULL), CCM__CODE__NOT_FOUND,
                  "clinic");
    assert_int_equal(s_last_seq(f), before);
    /* once enrollment announces the patient, the plan can be written */
    assert_int_equal(s_feed_patient(f, "patient.registered", "C01", "404"), 0);
    s_ok(s_set(f, "r1", "C01", "404", &p.plan, NULL, NULL));
    assert_int_equal(s_last_seq(f), before + 1);
}

static void test_establish_names_missing_then_versions_diff(void **state)
{
    fixture_t *f = *state;
    plan_parts_t p;
    s_plan(&p, true);
    reply_t *r = s_set(f, "v1", "C01", "1042", &p.plan, NULL, NULL);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->careplan->version->version, 1);
    assert_int_equal(r->careplan->careplan->status, CCM__CAREPLAN__STATUS__DRAFT);
    assert_string_equal(r->careplan->version->plan->problems[0]->icd10, "E11.9");
    assert_string_equal(r->careplan->version->author, "Dr. Osei");
    assert_int_equal(r->careplan->n_missing, 6);
    ccm__careplan__reply__free_unpacked(r, NULL);

    uint64_t before = s_last_seq(f);
    r = s_establish(f, "e1");
    assert_int_equal(r->status->code, CCM__CODE__FAILED_PRECONDITION);
    const char *names[] = {"expected_outcome",      "symptom_management",    "interventions",
                           "medication_management", "functional_assessment", "review"};
    for (size_t i = 0; i < 6; i++) {
        assert_non_null(strstr(r->status->message, names[i]));
        assert_non_null(strstr(r->status->field, names[i]));
    }
    assert_null(strstr(r->status->message, "goals"));
    ccm__careplan__reply__free_unpacked(r, NULL);
    assert_int_equal(s_last_seq(f), before);

    s_plan(&p, false);
    s_ok(s_set(f, "v2", "C01", "1042", &p.plan, NULL, NULL));
    r = s_establish(f, "e2");
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->careplan->careplan->status, CCM__CAREPLAN__STATUS__ESTABLISHED);
    assert_int_equal(r->careplan->careplan->established_version, 2);
    assert_int_equal(r->careplan->n_missing, 0);
    ccm__careplan__reply__free_unpacked(r, NULL);

    /* revised twice: a goal added and one target changed, the caregiver removed */
    p.plan.n_goals = 2;
    s_ok(s_set(f, "v3", "C01", "1042", &p.plan, NULL, NULL));
    p.goal.target_date = "2027-12-31";
    p.plan.caregiver = NULL;
    p.plan.prognosis = "";
    s_ok(s_set(f, "v4", "C01", "1042", &p.plan, NULL, NULL));

    for (uint32_t v = 1; v <= 4; v++) {
        r = s_get(f, v);
        assert_int_equal(r->status->code, CCM__CODE__OK);
        assert_int_equal(r->careplan->version->version, v);
        assert_int_equal(r->careplan->version->plan->n_goals, v >= 3 ? 2 : 1);
        assert_int_equal(r->careplan->careplan->current_version, 4);
        /* still established: a revision does not undo it */
        assert_int_equal(r->careplan->careplan->status, CCM__CAREPLAN__STATUS__ESTABLISHED);
        ccm__careplan__reply__free_unpacked(r, NULL);
    }
    r = s_get(f, 0);
    assert_int_equal(r->careplan->version->version, 4);
    ccm__careplan__reply__free_unpacked(r, NULL);

    r = s_diff(f, 2, 3);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->diff->n_changes, 1);
    assert_string_equal(r->diff->changes[0]->element, "goals");
    assert_string_equal(r->diff->changes[0]->item, "Walk 30 minutes a day");
    assert_int_equal(r->diff->changes[0]->kind, CCM__CAREPLAN__CHANGE__KIND__ADDED);
    ccm__careplan__reply__free_unpacked(r, NULL);

    r = s_diff(f, 3, 4);
    assert_int_equal(r->diff->n_changes, 3);
    bool target = false, caregiver = false, prognosis = false;
    for (size_t i = 0; i < r->diff->n_changes; i++) {
        Ccm__Careplan__Change *c = r->diff->changes[i];
        if (strcmp(c->element, "goals") == 0) {
            target = strcmp(c->field, "target_date") == 0 &&
                     c->kind == CCM__CAREPLAN__CHANGE__KIND__CHANGED &&
                     strcmp(c->before, "2027-06-30") == 0 && strcmp(c->after, "2027-12-31") == 0;
        } else if (strcmp(c->element, "caregiver") == 0) {
            caregiver = c->kind == CCM__CAREPLAN__CHANGE__KIND__REMOVED &&
                        strstr(c->before, "Luis Rivera") != NULL;
        } else if (strcmp(c->element, "prognosis") == 0) {
            prognosis = c->kind == CCM__CAREPLAN__CHANGE__KIND__REMOVED;
        }
    }
    assert_true(target && caregiver && prognosis);
    ccm__careplan__reply__free_unpacked(r, NULL);

    r = s_diff(f, 4, 4);
    assert_int_equal(r->diff->n_changes, 0);
    ccm__careplan__reply__free_unpacked(r, NULL);

    /* history: four versions, without content */
    Ccm__Careplan__History h = CCM__CAREPLAN__HISTORY__INIT;
    h.clinic = "C01";
    h.mrn = "1042";
    h.program = CCM__CAREPLAN__PROGRAM__CCM;
    request_t req = CCM__CAREPLAN__REQUEST__INIT;
    req.op_case = CCM__CAREPLAN__REQUEST__OP_HISTORY;
    req.history = &h;
    r = s_call(f, &req, NULL, NULL);
    assert_int_equal(r->history->n_versions, 4);
    assert_int_equal(r->history->versions[3]->version, 4);
    assert_null(r->history->versions[0]->plan);
    assert_true(r->history->versions[0]->substantial);
    ccm__careplan__reply__free_unpacked(r, NULL);

    /* the stream: 4 versions and one establishment, payloads decodable */
    Ccm__CommonReply *ev = s_fetch(f, NULL);
    assert_int_equal(ev->fetch->n_events, 5);
    assert_string_equal(ev->fetch->events[0]->type, "careplan.version");
    assert_string_equal(ev->fetch->events[0]->key, "C01/1042/CCM");
    assert_string_equal(ev->fetch->events[2]->type, "careplan.established");
    Ccm__Careplan__Version *v = ccm__careplan__version__unpack(
        NULL, ev->fetch->events[4]->payload.len, ev->fetch->events[4]->payload.data);
    assert_non_null(v);
    assert_int_equal(v->version, 4);
    assert_non_null(v->plan);
    ccm__careplan__version__free_unpacked(v, NULL);
    ccm__common_reply__free_unpacked(ev, NULL);
}

static void test_retry_gets_the_same_reply_and_changes_nothing(void **state)
{
    fixture_t *f = *state;
    plan_parts_t p;
    s_plan(&p, false);
    uint8_t *a, *b;
    size_t alen, blen;
    reply_t *r1 = s_set(f, "same", "C01", "1042", &p.plan, &a, &alen);
    assert_int_equal(r1->status->code, CCM__CODE__OK);
    assert_int_equal(s_last_seq(f), 1);
    reply_t *r2 = s_set(f, "same", "C01", "1042", &p.plan, &b, &blen);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    assert_int_equal(r2->careplan->version->version, 1);
    assert_int_equal(s_last_seq(f), 1);
    s_ok(s_establish(f, "est"));
    s_ok(s_establish(f, "est"));
    assert_int_equal(s_last_seq(f), 2);
    /* establishing again under a new id is harmless: nothing new */
    s_ok(s_establish(f, "est-2"));
    assert_int_equal(s_last_seq(f), 2);
    free(a);
    free(b);
    ccm__careplan__reply__free_unpacked(r1, NULL);
    ccm__careplan__reply__free_unpacked(r2, NULL);
}

static void test_bad_input_names_the_field_and_changes_nothing(void **state)
{
    fixture_t *f = *state;
    plan_parts_t p;
    s_plan(&p, false);
    s_ok(s_set(f, "ok", "C01", "1042", &p.plan, NULL, NULL));
    uint64_t before = s_last_seq(f);

    char longtext[5000];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    p.plan.symptom_management = longtext;
    s_expect_fail(s_set(f, "b1", "C01", "1042", &p.plan, NULL, NULL), CCM__CODE__INVALID_ARGUMENT,
                  "plan.symptom_management");
    s_plan(&p, false);
    p.problem.icd10 = "11.9";
    s_expect_fail(s_set(f, "b2", "C01", "1042", &p.plan, NULL, NULL), CCM__CODE__INVALID_ARGUMENT,
                  "plan.problems[0].icd10");
    s_plan(&p, false);
    p.goal.target_date = "2027-02-30";
    s_expect_fail(s_set(f, "b3", "C01", "1042", &p.plan, NULL, NULL), CCM__CODE__INVALID_ARGUMENT,
                  "plan.goals[0].target_date");
    s_plan(&p, false);
    p.iv.responsible = "";
    s_expect_fail(s_set(f, "b4", "C01", "1042", &p.plan, NULL, NULL), CCM__CODE__INVALID_ARGUMENT,
                  "plan.interventions[0].responsible");
    s_plan(&p, false);
    p.goal2.description = p.goal.description;
    p.plan.n_goals = 2;
    s_expect_fail(s_set(f, "b5", "C01", "1042", &p.plan, NULL, NULL), CCM__CODE__INVALID_ARGUMENT,
                  "plan.goals[1]");
    s_plan(&p, false);
    p.review.next_review = "tomorrow";
    s_expect_fail(s_set(f, "b6", "C01", "1042", &p.plan, NULL, NULL), CCM__CODE__INVALID_ARGUMENT,
                  "plan.review.next_review");
    s_expect_fail(s_set(f, "b7", "C01", "1042", NULL, NULL, NULL), CCM__CODE__INVALID_ARGUMENT,
                  "plan");
    s_plan(&p, false);
    s_expect_fail(s_set(f, "", "C01", "1042", &p.plan, NULL, NULL), CCM__CODE__INVALID_ARGUMENT,
                  "request_id");

    Ccm__Careplan__SetPlan in = CCM__CAREPLAN__SET_PLAN__INIT;
    in.clinic = "C01";
    in.mrn = "1042";
    in.program = 9;
    in.plan = &p.plan;
    request_t req = CCM__CAREPLAN__REQUEST__INIT;
    req.request_id = "b8";
    req.op_case = CCM__CAREPLAN__REQUEST__OP_SET_PLAN;
    req.set_plan = &in;
    s_expect_fail(s_call(f, &req, NULL, NULL), CCM__CODE__INVALID_ARGUMENT, "program");
    in.program = CCM__CAREPLAN__PROGRAM__PCM; /* no PCM plan yet */
    Ccm__Careplan__GetPlan g = CCM__CAREPLAN__GET_PLAN__INIT;
    g.clinic = "C01";
    g.mrn = "1042";
    g.program = CCM__CAREPLAN__PROGRAM__PCM;
    req.op_case = CCM__CAREPLAN__REQUEST__OP_GET_PLAN;
    req.get_plan = &g;
    s_expect_fail(s_call(f, &req, NULL, NULL), CCM__CODE__NOT_FOUND, "program");

    s_expect_fail(s_get(f, 7), CCM__CODE__NOT_FOUND, "version");
    s_expect_fail(s_diff(f, 1, 9), CCM__CODE__NOT_FOUND, "to");
    s_expect_fail(s_diff(f, 0, 1), CCM__CODE__NOT_FOUND, "from");

    Ccm__Careplan__RecordCopy rc = CCM__CAREPLAN__RECORD_COPY__INIT;
    rc.clinic = "C01";
    rc.mrn = "1042";
    rc.program = CCM__CAREPLAN__PROGRAM__CCM;
    rc.date = "2026-01-05";
    rc.method = 42;
    rc.to = CCM__CAREPLAN__RECIPIENT__PATIENT;
    req.request_id = "c1";
    req.op_case = CCM__CAREPLAN__REQUEST__OP_RECORD_COPY;
    req.record_copy = &rc;
    s_expect_fail(s_call(f, &req, NULL, NULL), CCM__CODE__INVALID_ARGUMENT, "method");
    rc.method = CCM__CAREPLAN__COPY_METHOD__PORTAL;
    rc.to = 0;
    s_expect_fail(s_call(f, &req, NULL, NULL), CCM__CODE__INVALID_ARGUMENT, "to");
    rc.to = CCM__CAREPLAN__RECIPIENT__CAREGIVER;
    rc.date = "2999-01-01";
    s_expect_fail(s_call(f, &req, NULL, NULL), CCM__CODE__INVALID_ARGUMENT, "date");
    rc.date = "2026-13-01";
    s_expect_fail(s_call(f, &req, NULL, NULL), CCM__CODE__INVALID_ARGUMENT, "date");
    s_expect_fail(s_due(f, "C09"), CCM__CODE__NOT_FOUND, "clinic");

    /* garbage is refused too */
    void *rep;
    size_t rlen;
    assert_int_equal(ccm_worker_call(f->w, "dev", "\xff\xff\xff", 3, &rep, &rlen), 0);
    Ccm__CommonReply *cr = ccm__common_reply__unpack(NULL, rlen, rep);
    assert_int_equal(cr->status->code, CCM__CODE__INVALID_ARGUMENT);
    ccm__common_reply__free_unpacked(cr, NULL);
    free(rep);

    assert_int_equal(s_last_seq(f), before);
    reply_t *r = s_get(f, 0);
    assert_int_equal(r->careplan->version->version, 1);
    ccm__careplan__reply__free_unpacked(r, NULL);

    /* and a good copy record goes through */
    rc.date = "2026-01-05";
    r = s_call(f, &req, NULL, NULL);
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->careplan->careplan->n_copies, 1);
    assert_int_equal(r->careplan->careplan->copies[0]->method, CCM__CAREPLAN__COPY_METHOD__PORTAL);
    assert_int_equal(r->careplan->careplan->copies[0]->to, CCM__CAREPLAN__RECIPIENT__CAREGIVER);
    assert_int_equal(r->careplan->careplan->copies[0]->version, 1);
    ccm__careplan__reply__free_unpacked(r, NULL);
    Ccm__CommonReply *ev = s_fetch(f, "careplan.copy_given");
    assert_int_equal(ev->fetch->n_events, 1);
    ccm__common_reply__free_unpacked(ev, NULL);
}

static void test_review_due_once_per_date(void **state)
{
    fixture_t *f = *state;
    int64_t now = s_now_us();
    char past[11], future[11];
    s_ny_date(now, -2, past);
    s_ny_date(now, 30, future);
    plan_parts_t p;
    s_plan(&p, false);
    p.review.next_review = past;
    s_ok(s_set(f, "v1", "C01", "1042", &p.plan, NULL, NULL));

    /* the day before the date and the date itself: nothing due yet */
    s_tick(f, now - 3 * DAY_US);
    s_tick(f, now - 2 * DAY_US);
    Ccm__CommonReply *ev = s_fetch(f, "careplan.review_due");
    assert_int_equal(ev->fetch->n_events, 0);
    ccm__common_reply__free_unpacked(ev, NULL);

    s_tick(f, now);
    s_tick(f, now + 1000000); /* once per due date */
    ev = s_fetch(f, "careplan.review_due");
    assert_int_equal(ev->fetch->n_events, 1);
    assert_string_equal(ev->fetch->events[0]->key, "C01/1042/CCM");
    Ccm__Careplan__CarePlan *h = ccm__careplan__care_plan__unpack(
        NULL, ev->fetch->events[0]->payload.len, ev->fetch->events[0]->payload.data);
    assert_non_null(h);
    assert_string_equal(h->review_notified, past);
    assert_string_equal(h->next_review, past);
    ccm__careplan__care_plan__free_unpacked(h, NULL);
    ccm__common_reply__free_unpacked(ev, NULL);

    reply_t *r = s_due(f, "C01");
    assert_int_equal(r->status->code, CCM__CODE__OK);
    assert_int_equal(r->due->n_items, 1);
    assert_string_equal(r->due->items[0]->mrn, "1042");
    assert_string_equal(r->due->items[0]->next_review, past);
    ccm__careplan__reply__free_unpacked(r, NULL);
    r = s_due(f, "C02");
    assert_int_equal(r->due->n_items, 0);
    ccm__careplan__reply__free_unpacked(r, NULL);

    /* a new version with a later date ends it */
    p.review.next_review = future;
    s_ok(s_set(f, "v2", "C01", "1042", &p.plan, NULL, NULL));
    r = s_due(f, "C01");
    assert_int_equal(r->due->n_items, 0);
    ccm__careplan__reply__free_unpacked(r, NULL);
    s_tick(f, now);
    ev = s_fetch(f, "careplan.review_due");
    assert_int_equal(ev->fetch->n_events, 1);
    ccm__common_reply__free_unpacked(ev, NULL);
    /* …until that date passes as well */
    s_tick(f, now + 32 * DAY_US);
    ev = s_fetch(f, "careplan.review_due");
    assert_int_equal(ev->fetch->n_events, 2);
    ccm__common_reply__free_unpacked(ev, NULL);
}

static void test_interval_sets_the_review_date_in_clinic_time(void **state)
{
    fixture_t *f = *state;
    plan_parts_t p;
    s_plan(&p, false); /* interval_days = 90, no date */
    reply_t *r = s_set(f, "v1", "C01", "1042", &p.plan, NULL, NULL);
    char want[11];
    s_ny_date(s_now_us(), 90, want);
    assert_string_equal(r->careplan->version->next_review, want);
    assert_string_equal(r->careplan->careplan->next_review, want);
    ccm__careplan__reply__free_unpacked(r, NULL);
}

static void test_followed_events_apply_once(void **state)
{
    fixture_t *f = *state;
    uint64_t cursor = ccm_worker_cursor(f->w, "enrollment");
    assert_int_equal(cursor, 3);
    /* a repeated event below the cursor is ignored */
    f->enr_seq = 2;
    assert_int_equal(s_feed_patient(f, "patient.registered", "C01", "5555"), 0);
    plan_parts_t p;
    s_plan(&p, false);
    s_expect_fail(s_set(f, "x", "C01", "5555", &p.plan, NULL, NULL), CCM__CODE__NOT_FOUND, "mrn");
    f->enr_seq = 3;
    assert_int_equal(s_feed_patient(f, "patient.updated", "C01", "5555"), 0);
    assert_int_equal(ccm_worker_cursor(f->w, "enrollment"), 4);
    s_ok(s_set(f, "x", "C01", "5555", &p.plan, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_patient_is_not_found_and_changes_nothing,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_establish_names_missing_then_versions_diff, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_retry_gets_the_same_reply_and_changes_nothing, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_names_the_field_and_changes_nothing, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_review_due_once_per_date, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_interval_sets_the_review_date_in_clinic_time, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_followed_events_apply_once, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
