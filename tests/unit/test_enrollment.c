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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
