/* client: Lazy Pirate retries resend the very same bytes (same request_id) on a
 * new socket with back-off, give up with CCM_ETIMEOUT, and pipelined replies
 * arrive through send/recv. The "broker" here is a bare ROUTER socket in the
 * test thread that answers as a 7/MDP broker would, so every frame is visible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <zmq.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/client.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/wire.h"

typedef struct {
    void *ctx;
    void *router;
    char endpoint[64];
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(f->router, "tcp://127.0.0.1:*") != 0)
        return -1;
    size_t len = sizeof f->endpoint;
    zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    free(f);
    return 0;
}

/* Receives one client request at the fake broker: identity · "" · MDPC01 · service · body. */
static ccm_frames_t *s_recv_request(fixture_t *f, int timeout_ms)
{
    zmq_pollitem_t pi = {f->router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&pi, 1, timeout_ms) != 1)
        return NULL;
    ccm_frames_t *m = ccm_frames_new();
    assert_int_equal(ccm_frames_recv(m, f->router, 0), 0);
    ccm_mdp_client_view_t v;
    assert_int_equal(ccm_mdp_parse_client(m, 1, &v), 0);
    return m;
}

/* Answers request m with body. */
static void s_reply(fixture_t *f, ccm_frames_t *m, const char *body)
{
    ccm_frames_t *out = ccm_frames_new();
    ccm_frames_push(out, ccm_frames_data(m, 0), ccm_frames_len(m, 0));
    ccm_frames_push(out, "", 0);
    ccm_frames_push_str(out, CCM_MDPC);
    ccm_frames_push(out, ccm_frames_data(m, 3), ccm_frames_len(m, 3));
    ccm_frames_push_str(out, body);
    assert_int_equal(ccm_frames_send(out, f->router, 0), 0);
    ccm_frames_destroy(&out);
}

/* ccm_client_request() blocks, so the test's broker answers from a thread of its
 * own (its own socket; only the context is shared, as ZeroMQ allows). A thread,
 * not fork(): forking a process whose ZeroMQ threads hold allocator locks can
 * deadlock the child (seen under AddressSanitizer). */
typedef struct {
    fixture_t *f;
    int swallow;     /* requests to drop before answering */
    int seen;        /* requests received */
    bool same_bytes; /* every request carried the first one's body */
    bool new_socket; /* retries came from another identity */
    char first_id[256];
    size_t first_id_len;
    char first_body[64];
    size_t first_body_len;
} broker_t;

static void *s_broker(void *arg)
{
    broker_t *b = arg;
    b->same_bytes = true;
    b->new_socket = true;
    ccm_frames_t *m;
    while ((m = s_recv_request(b->f, 3000)) != NULL) {
        size_t il = ccm_frames_len(m, 0), bl = ccm_frames_len(m, 4);
        if (b->seen == 0) {
            b->first_id_len = il < sizeof b->first_id ? il : sizeof b->first_id;
            memcpy(b->first_id, ccm_frames_data(m, 0), b->first_id_len);
            b->first_body_len = bl < sizeof b->first_body ? bl : sizeof b->first_body;
            memcpy(b->first_body, ccm_frames_data(m, 4), b->first_body_len);
        } else {
            b->same_bytes = b->same_bytes && bl == b->first_body_len &&
                            memcmp(ccm_frames_data(m, 4), b->first_body, bl) == 0;
            b->new_socket = b->new_socket && !(il == b->first_id_len &&
                                               memcmp(ccm_frames_data(m, 0), b->first_id, il) == 0);
        }
        b->seen++;
        if (b->swallow >= 0 && b->seen > b->swallow) {
            s_reply(b->f, m, "reply");
            ccm_frames_destroy(&m);
            break;
        }
        ccm_frames_destroy(&m);
    }
    return NULL;
}

static void test_retry_resends_identical_bytes_then_succeeds(void **state)
{
    fixture_t *f = *state;
    broker_t b = {.f = f, .swallow = 1}; /* the first try is lost, as if the service died */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_broker, &b), 0);
    ccm_client_t *c = ccm_client_new(f->endpoint);
    ccm_client_set_timeout(c, 300);
    ccm_client_set_retries(c, 3);
    void *rep = NULL;
    size_t len = 0;
    int rc = ccm_client_request(c, "echo", "request-id-7:body", 17, &rep, &len);
    ccm_client_destroy(&c);
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(len, 5);
    assert_memory_equal(rep, "reply", 5);
    free(rep);
    assert_int_equal(b.seen, 2);
    assert_true(b.same_bytes); /* the retry carried the same request (same request_id) */
    assert_true(b.new_socket); /* on a new socket */
}

static void test_gives_up_after_retries(void **state)
{
    fixture_t *f = *state;
    broker_t b = {.f = f, .swallow = -1}; /* never answers */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_broker, &b), 0);
    ccm_client_t *c = ccm_client_new(f->endpoint);
    ccm_client_set_timeout(c, 100);
    ccm_client_set_retries(c, 2);
    void *rep;
    size_t len;
    int rc = ccm_client_request(c, "echo", "x", 1, &rep, &len);
    ccm_client_destroy(&c);
    pthread_join(th, NULL); /* returns 3 s after the last request */
    assert_int_equal(rc, CCM_ETIMEOUT);
    assert_int_equal(b.seen, 3); /* the first try and two retries */
    assert_true(b.same_bytes);
}

static void test_pipelined_send_recv(void **state)
{
    fixture_t *f = *state;
    ccm_client_t *c = ccm_client_new(f->endpoint);
    assert_non_null(c);
    assert_int_equal(ccm_client_send(c, "svc", "a", 1), 0);
    assert_int_equal(ccm_client_send(c, "svc", "b", 1), 0);
    assert_int_equal(ccm_client_send(c, "", "c", 1), CCM_EINVAL);
    ccm_frames_t *ma = s_recv_request(f, 5000), *mb = s_recv_request(f, 5000);
    assert_non_null(ma);
    assert_non_null(mb);
    s_reply(f, mb, "B"); /* out of order */
    s_reply(f, ma, "A");
    char *svc;
    void *rep;
    size_t len;
    assert_int_equal(ccm_client_recv(c, &svc, &rep, &len, 5000), 0);
    assert_string_equal(svc, "svc");
    assert_int_equal(len, 1);
    assert_memory_equal(rep, "B", 1);
    free(svc);
    free(rep);
    assert_int_equal(ccm_client_recv(c, NULL, &rep, &len, 5000), 0);
    assert_memory_equal(rep, "A", 1);
    free(rep);
    assert_int_equal(ccm_client_recv(c, NULL, &rep, &len, 50), CCM_ETIMEOUT);
    ccm_frames_destroy(&ma);
    ccm_frames_destroy(&mb);
    ccm_client_destroy(&c);
    ccm_client_destroy(&c); /* safe twice */
}

/* Answers the one request it gets first with a reply of another request_id,
 * then with the right one: a client must take only the second. */
static void *s_broker_stray_first(void *arg)
{
    fixture_t *f = arg;
    ccm_frames_t *m = s_recv_request(f, 3000);
    if (!m)
        return NULL;
    Ccm__CommonRequest *req =
        ccm__common_request__unpack(NULL, ccm_frames_len(m, 4), ccm_frames_data(m, 4));
    const char *ids[2] = {"someone-else", req ? req->request_id : ""};
    for (int i = 0; i < 2; i++) {
        Ccm__Status st = CCM__STATUS__INIT;
        st.message = (char *)(i == 0 ? "stray" : "ours");
        Ccm__CommonReply r = CCM__COMMON_REPLY__INIT;
        r.request_id = (char *)ids[i];
        r.status = &st;
        uint8_t buf[256];
        size_t n = ccm__common_reply__pack(&r, buf);
        ccm_frames_t *out = ccm_frames_new();
        ccm_frames_push(out, ccm_frames_data(m, 0), ccm_frames_len(m, 0));
        ccm_frames_push(out, "", 0);
        ccm_frames_push_str(out, CCM_MDPC);
        ccm_frames_push(out, ccm_frames_data(m, 3), ccm_frames_len(m, 3));
        ccm_frames_push(out, buf, n);
        ccm_frames_send(out, f->router, 0);
        ccm_frames_destroy(&out);
    }
    if (req)
        ccm__common_request__free_unpacked(req, NULL);
    ccm_frames_destroy(&m);
    return NULL;
}

static void test_reply_of_another_request_is_not_taken(void **state)
{
    fixture_t *f = *state;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_broker_stray_first, f), 0);
    ccm_client_t *c = ccm_client_new(f->endpoint);
    ccm_client_set_timeout(c, 2000);
    ccm_client_set_retries(c, 0);
    Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
    req.request_id = "mine-42";
    uint8_t buf[64];
    size_t n = ccm__common_request__pack(&req, buf);
    void *rep = NULL;
    size_t len = 0;
    int rc = ccm_client_request(c, "svc", buf, n, &rep, &len);
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, len, rep);
    assert_non_null(r);
    assert_string_equal(r->request_id, "mine-42");
    assert_string_equal(r->status->message, "ours");
    ccm__common_reply__free_unpacked(r, NULL);
    free(rep);
    /* a request_id no service accepts is refused before anything is sent */
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    req.request_id = big;
    uint8_t bbuf[256];
    n = ccm__common_request__pack(&req, bbuf);
    assert_int_equal(ccm_client_request(c, "svc", bbuf, n, &rep, &len), CCM_EINVAL);
    ccm_client_destroy(&c);
}

int main(void)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_resends_identical_bytes_then_succeeds, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_gives_up_after_retries, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_send_recv, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reply_of_another_request_is_not_taken, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
