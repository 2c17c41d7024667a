/* worker host: following another service's stream exactly once (events and the
 * cursor in one transaction, surviving a restart), skipping a failing event
 * alone, and periodic tasks. Fed directly (ccm_worker_feed), no sockets. Also
 * the reply helpers handlers share (OK reply, store failure, request_id). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/worker.h"

static const char *const s_dbs[] = {"seen", NULL};

typedef struct {
    char dir[64];
    ccm_worker_t *w;
    MDB_dbi seen;
    int ticks;
} fixture_t;

static int s_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx)
{
    (void)w, (void)txn, (void)ctx;
    return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "op", "op: none");
}

/* Records each event's key in "seen" (and appends nothing); "bad" events fail. */
static int s_on_event(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    (void)w;
    fixture_t *f = ctx;
    int rc = ccm_store_put(txn, f->seen, ev->key, strlen(ev->key), "1", 1, MDB_NOOVERWRITE);
    if (rc == CCM_EEXIST)
        fail_msg("event %s applied twice", ev->key);
    if (strcmp(ev->type, "bad") == 0)
        return CCM_EINVAL; /* its put above must be rolled back */
    return rc;
}

static int s_on_tick(ccm_worker_t *w, MDB_txn *txn, int64_t now_us, void *ctx)
{
    (void)w, (void)txn;
    ((fixture_t *)ctx)->ticks++;
    return now_us > 0 ? 0 : CCM_EINVAL;
}

static void s_open(fixture_t *f)
{
    ccm_worker_opts_t o = {.service = "follower",
                           .broker = "tcp://127.0.0.1:1",
                           .data_dir = f->dir,
                           .dbs = s_dbs,
                           .schema_version = 1,
                           .handle = s_handle};
    assert_int_equal(ccm_worker_new(&o, &f->w), 0);
    assert_int_equal(ccm_store_dbi(ccm_worker_store(f->w), "seen", &f->seen), 0);
    const char *types[] = {"x.*", NULL};
    assert_int_equal(ccm_worker_follow(f->w, "producer", types, s_on_event, f), 0);
}

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ccm-worker-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    s_open(f);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    ccm_worker_destroy(&f->w);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* A FETCH reply with events seq from..to (types "x.a", or "bad" at seq bad). */
static void s_feed(fixture_t *f, uint64_t from, uint64_t to, uint64_t bad)
{
    Ccm__Envelope ev[16], *evp[16];
    char keys[16][16];
    size_t n = 0;
    for (uint64_t s = from; s <= to; s++, n++) {
        ccm__envelope__init(&ev[n]);
        ev[n].producer = "producer";
        ev[n].seq = s;
        ev[n].type = s == bad ? "bad" : "x.a";
        snprintf(keys[n], sizeof keys[n], "k%llu", (unsigned long long)s);
        ev[n].key = keys[n];
        evp[n] = &ev[n];
    }
    Ccm__FetchReply r = CCM__FETCH_REPLY__INIT;
    r.events = evp;
    r.n_events = n;
    r.next_seq = to + 1;
    r.last_seq = to;
    assert_int_equal(ccm_worker_feed(f->w, "producer", &r), 0);
}

static bool s_seen(fixture_t *f, const char *key)
{
    MDB_txn *txn;
    assert_int_equal(ccm_store_read_begin(ccm_worker_store(f->w), &txn), 0);
    MDB_val v;
    int rc = ccm_store_get(txn, f->seen, key, strlen(key), &v);
    mdb_txn_abort(txn);
    return rc == 0;
}

static void test_events_apply_once_and_cursor_survives_restart(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(ccm_worker_cursor(f->w, "producer"), 1);
    s_feed(f, 1, 3, 0);
    assert_int_equal(ccm_worker_cursor(f->w, "producer"), 4);
    assert_true(s_seen(f, "k1") && s_seen(f, "k3"));
    s_feed(f, 2, 5, 0); /* overlapping reply: 2 and 3 must not be applied again */
    assert_int_equal(ccm_worker_cursor(f->w, "producer"), 6);
    assert_true(s_seen(f, "k5"));
    ccm_worker_destroy(&f->w);
    s_open(f); /* the cursor was committed with the events */
    assert_int_equal(ccm_worker_cursor(f->w, "producer"), 6);
    s_feed(f, 1, 6, 0); /* a restart re-fetching old events applies only seq 6 */
    assert_true(s_seen(f, "k6"));
    assert_int_equal(ccm_worker_cursor(f->w, "producer"), 7);
}

static void test_failing_event_is_skipped_alone(void **state)
{
    fixture_t *f = *state;
    s_feed(f, 1, 4, 2);
    assert_true(s_seen(f, "k1"));
    assert_false(s_seen(f, "k2")); /* rolled back */
    assert_true(s_seen(f, "k3") && s_seen(f, "k4"));
    assert_int_equal(ccm_worker_cursor(f->w, "producer"), 5);
}

static void test_follow_arguments(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(ccm_worker_follow(f->w, "producer", NULL, s_on_event, f), CCM_EINVAL);
    assert_int_equal(ccm_worker_follow(f->w, "", NULL, s_on_event, f), CCM_EINVAL);
    assert_int_equal(ccm_worker_follow(f->w, "other", NULL, NULL, f), CCM_EINVAL);
    Ccm__FetchReply r = CCM__FETCH_REPLY__INIT;
    assert_int_equal(ccm_worker_feed(f->w, "nobody", &r), CCM_ENOTFOUND);
    assert_int_equal(ccm_worker_every(f->w, 0, s_on_tick, f), CCM_EINVAL);
    assert_int_equal(ccm_worker_every(f->w, 1000, s_on_tick, f), 0);
}

/* The reply helpers every handler uses: an OK reply echoes the call's
 * request_id and leaves the caller's message as it was. */
static void test_reply_ok_sets_and_restores(void **state)
{
    (void)state;
    ccm_worker_call_t call = {.principal = "p", .request_id = "req-1"};
    Ccm__StatsReply sr = CCM__STATS_REPLY__INIT;
    sr.service = "svc";
    Ccm__Status mine = CCM__STATUS__INIT;
    mine.code = CCM__CODE__INTERNAL;
    Ccm__CommonReply r = CCM__COMMON_REPLY__INIT;
    r.request_id = "mine";
    r.status = &mine;
    r.result_case = CCM__COMMON_REPLY__RESULT_STATS;
    r.stats = &sr;
    assert_int_equal(ccm_worker_reply_ok(&call, &r.base), 0);
    assert_string_equal(r.request_id, "mine");
    assert_ptr_equal(r.status, &mine);

    Ccm__CommonReply *got = ccm__common_reply__unpack(NULL, call.reply_len, call.reply);
    assert_non_null(got);
    assert_string_equal(got->request_id, "req-1");
    assert_non_null(got->status);
    assert_int_equal(got->status->code, CCM__CODE__OK);
    assert_string_equal(got->status->message, "");
    assert_int_equal(got->result_case, CCM__COMMON_REPLY__RESULT_STATS);
    assert_string_equal(got->stats->service, "svc");
    ccm__common_reply__free_unpacked(got, NULL);
    free(call.reply);
}

/* Checks the status of the call's reply, then frees the reply. */
static void s_check_status(ccm_worker_call_t *call, Ccm__Code code, const char *field,
                           const char *message)
{
    Ccm__CommonReply *got = ccm__common_reply__unpack(NULL, call->reply_len, call->reply);
    assert_non_null(got);
    assert_non_null(got->status);
    assert_int_equal(got->status->code, code);
    assert_string_equal(got->status->field, field);
    assert_string_equal(got->status->message, message);
    ccm__common_reply__free_unpacked(got, NULL);
    free(call->reply);
    call->reply = NULL;
}

static void test_store_fail(void **state)
{
    (void)state;
    ccm_worker_call_t call = {.principal = "p", .request_id = ""};
    /* map full: no reply, the batch is replayed */
    assert_int_equal(ccm_worker_store_fail(&call, CCM_EMAPFULL), CCM_EMAPFULL);
    assert_null(call.reply);
    assert_int_equal(ccm_worker_store_fail(&call, CCM_EIO), CCM_EIO);
    s_check_status(&call, CCM__CODE__INTERNAL, "", "store: i/o error");
}

static void test_require_request_id(void **state)
{
    (void)state;
    ccm_worker_call_t call = {.principal = "p", .request_id = "r"};
    assert_int_equal(ccm_worker_require_request_id(&call), 0);
    assert_null(call.reply);
    call.request_id = "";
    assert_int_equal(ccm_worker_require_request_id(&call), CCM_EINVAL);
    s_check_status(&call, CCM__CODE__INVALID_ARGUMENT, "request_id",
                   "request_id: required on every change (it makes retries safe)");
}

int main(void)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events_apply_once_and_cursor_survives_restart, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_failing_event_is_skipped_alone, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_follow_arguments, s_setup, s_teardown),
        cmocka_unit_test(test_reply_ok_sets_and_restores),
        cmocka_unit_test(test_store_fail),
        cmocka_unit_test(test_require_request_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
