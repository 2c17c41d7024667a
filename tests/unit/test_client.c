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
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

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

/* ccm_client_request() blocks, so it runs in a forked child while the test plays
 * the broker; the child's exit code carries its verdict. */

static void test_retry_resends_identical_bytes_then_succeeds(void **state)
{
    fixture_t *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ccm_client_t *c = ccm_client_new(f->endpoint);
        ccm_client_set_timeout(c, 300);
        ccm_client_set_retries(c, 3);
        void *rep;
        size_t len;
        int rc = ccm_client_request(c, "echo", "request-id-7:body", 17, &rep, &len);
        int ok = rc == 0 && len == 5 && memcmp(rep, "reply", 5) == 0;
        ccm_client_destroy(&c);
        _exit(ok ? 0 : 10 + (rc < 0 ? -rc : rc));
    }
    /* first try: swallowed, as if the service had died */
    ccm_frames_t *first = s_recv_request(f, 5000);
    assert_non_null(first);
    /* second try: on a new socket (new identity), same bytes */
    ccm_frames_t *second = s_recv_request(f, 5000);
    assert_non_null(second);
    assert_true(ccm_frames_len(first, 0) != ccm_frames_len(second, 0) ||
                memcmp(ccm_frames_data(first, 0), ccm_frames_data(second, 0),
                       ccm_frames_len(first, 0)) != 0);
    assert_true(ccm_frames_eq(second, 3, "echo"));
    assert_int_equal(ccm_frames_len(first, 4), ccm_frames_len(second, 4));
    assert_memory_equal(ccm_frames_data(first, 4), ccm_frames_data(second, 4), 17);
    s_reply(f, second, "reply");
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    ccm_frames_destroy(&first);
    ccm_frames_destroy(&second);
}

static void test_gives_up_after_retries(void **state)
{
    fixture_t *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ccm_client_t *c = ccm_client_new(f->endpoint);
        ccm_client_set_timeout(c, 100);
        ccm_client_set_retries(c, 2);
        void *rep;
        size_t len;
        int rc = ccm_client_request(c, "echo", "x", 1, &rep, &len);
        ccm_client_destroy(&c);
        _exit(rc == CCM_ETIMEOUT ? 0 : 1);
    }
    int tries = 0;
    ccm_frames_t *m;
    while ((m = s_recv_request(f, 3000)) != NULL) { /* never answered */
        tries++;
        ccm_frames_destroy(&m);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(tries, 3); /* the first try and two retries */
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

int main(void)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_resends_identical_bytes_then_succeeds,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gives_up_after_retries, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_send_recv, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
