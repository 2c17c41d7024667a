/* wire: every 7/MDP frame shape built and parsed, malformed frames rejected, and
 * the multipart message helpers (a real ZeroMQ socket pair for send/recv). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "ccm/error.h"
#include "ccm/wire.h"

/* Builds a message from NULL-terminated strings; "\x01".."\x05" are command bytes. */
static ccm_frames_t *s_msg(const char *first, ...)
{
    ccm_frames_t *m = ccm_frames_new();
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        assert_int_equal(ccm_frames_push_str(m, s), 0);
    va_end(ap);
    return m;
}

static void test_frames_helpers(void **state)
{
    (void)state;
    ccm_frames_t *m = s_msg("b", "c", NULL);
    assert_int_equal(ccm_frames_push_front(m, "a", 1), 0);
    assert_int_equal(ccm_frames_size(m), 3);
    assert_true(ccm_frames_eq(m, 0, "a") && ccm_frames_eq(m, 1, "b") && ccm_frames_eq(m, 2, "c"));
    assert_false(ccm_frames_eq(m, 3, "x")); /* past the end */
    ccm_frames_t *n = ccm_frames_new();
    assert_int_equal(ccm_frames_append_from(n, m, 1), 0);
    assert_int_equal(ccm_frames_size(n), 2);
    assert_true(ccm_frames_eq(n, 0, "b"));
    ccm_frames_drop_front(m, 2);
    assert_int_equal(ccm_frames_size(m), 1);
    assert_true(ccm_frames_eq(m, 0, "c"));
    ccm_frames_clear(m);
    assert_int_equal(ccm_frames_size(m), 0);
    for (int i = 0; i < CCM_FRAMES_MAX; i++)
        assert_int_equal(ccm_frames_push(m, "", 0), 0);
    assert_int_equal(ccm_frames_push(m, "", 0), CCM_EINVAL); /* frame limit */
    ccm_frames_destroy(&m);
    ccm_frames_destroy(&m); /* safe twice */
    assert_null(m);
    ccm_frames_destroy(&n);
}

static void test_client_request_round_trip(void **state)
{
    (void)state;
    ccm_frames_t *m = ccm_frames_new();
    assert_int_equal(ccm_mdp_client_request(m, "enrollment", "\x0a\x01x", 3), 0);
    assert_int_equal(ccm_frames_size(m), 4);
    assert_int_equal(ccm_frames_len(m, 0), 0);
    assert_true(ccm_frames_eq(m, 1, "MDPC01"));
    ccm_mdp_client_view_t v;
    assert_int_equal(ccm_mdp_parse_client(m, 0, &v), 0);
    assert_int_equal(v.service_len, 10);
    assert_memory_equal(v.service, "enrollment", 10);
    assert_int_equal(v.body, 3);
    /* as a ROUTER sees it: identity first */
    assert_int_equal(ccm_frames_push_front(m, "\x00\x6b\x8b", 3), 0);
    assert_int_equal(ccm_mdp_parse_client(m, 1, &v), 0);
    assert_int_equal(v.body, 4);
    assert_int_equal(ccm_mdp_client_request(m, "", "x", 1), CCM_EINVAL);
    char big[CCM_SERVICE_MAX + 2];
    memset(big, 's', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(ccm_mdp_client_request(m, big, "x", 1), CCM_EINVAL);
    ccm_frames_destroy(&m);
}

static void test_worker_commands_round_trip(void **state)
{
    (void)state;
    ccm_frames_t *m = ccm_frames_new();
    ccm_mdp_worker_view_t v;

    assert_int_equal(ccm_mdp_worker_ready(m, "echo"), 0);
    assert_int_equal(ccm_frames_size(m), 4);
    assert_int_equal(ccm_mdp_parse_worker(m, 0, &v), 0);
    assert_int_equal(v.command, CCM_MDPW_READY);
    assert_int_equal(v.service_len, 4);
    assert_memory_equal(v.service, "echo", 4);

    assert_int_equal(ccm_mdp_worker_heartbeat(m), 0);
    assert_int_equal(ccm_frames_size(m), 3);
    assert_int_equal(ccm_mdp_parse_worker(m, 0, &v), 0);
    assert_int_equal(v.command, CCM_MDPW_HEARTBEAT);

    assert_int_equal(ccm_mdp_worker_disconnect(m), 0);
    assert_int_equal(ccm_mdp_parse_worker(m, 0, &v), 0);
    assert_int_equal(v.command, CCM_MDPW_DISCONNECT);

    assert_int_equal(ccm_mdp_worker_reply(m, "CLIENT", 6, "body", 4), 0);
    assert_int_equal(ccm_frames_size(m), 6);
    assert_int_equal(ccm_mdp_parse_worker(m, 0, &v), 0);
    assert_int_equal(v.command, CCM_MDPW_REPLY);
    assert_int_equal(v.client_len, 6);
    assert_memory_equal(v.client, "CLIENT", 6);
    assert_int_equal(v.body, 5);
    assert_true(ccm_frames_eq(m, 5, "body"));
    assert_int_equal(ccm_mdp_worker_reply(m, "", 0, "b", 1), CCM_EINVAL);

    /* broker -> worker REQUEST: "" MDPW01 0x02 client "" principal body */
    ccm_frames_destroy(&m);
    m = s_msg("", "MDPW01", "\x02", "CLIENT", "", "dev", "payload", NULL);
    assert_int_equal(ccm_mdp_parse_worker(m, 0, &v), 0);
    assert_int_equal(v.command, CCM_MDPW_REQUEST);
    assert_int_equal(v.body, 5);
    assert_true(ccm_frames_eq(m, v.body, "dev"));
    ccm_frames_destroy(&m);
}

static void test_malformed_client_frames_rejected(void **state)
{
    (void)state;
    char big[CCM_SERVICE_MAX + 2];
    memset(big, 's', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ccm_frames_t *bad[] = {
        s_msg("", NULL),                        /* truncated */
        s_msg("", "MDPC01", NULL),              /* no service */
        s_msg("", "MDPC01", "svc", NULL),       /* no body */
        s_msg("x", "MDPC01", "svc", "b", NULL), /* no empty delimiter */
        s_msg("", "MDPC02", "svc", "b", NULL),  /* wrong protocol */
        s_msg("", "MDPW01", "svc", "b", NULL),  /* worker header on the client side */
        s_msg("", "MDPC01", "", "b", NULL),     /* empty service */
        s_msg("", "MDPC01", big, "b", NULL),    /* service too long */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccm_mdp_client_view_t v;
        assert_int_equal(ccm_mdp_parse_client(bad[i], 0, &v), CCM_EPROTO);
        ccm_frames_destroy(&bad[i]);
    }
}

static void test_malformed_worker_frames_rejected(void **state)
{
    (void)state;
    ccm_frames_t *bad[] = {
        s_msg("", "MDPW01", NULL),                        /* no command */
        s_msg("", "MDPW01", "\x06", NULL),                /* unknown command */
        s_msg("", "MDPW01", "\x00", NULL),                /* unknown command */
        s_msg("", "MDPW01", "\x01\x01", NULL),            /* command of two bytes */
        s_msg("", "MDPW01", "\x01", NULL),                /* READY without service */
        s_msg("", "MDPW01", "\x01", "", NULL),            /* READY with empty service */
        s_msg("", "MDPW01", "\x01", "a", "b", NULL),      /* READY with extra frame */
        s_msg("", "MDPW01", "\x02", "c", "", NULL),       /* REQUEST without body */
        s_msg("", "MDPW01", "\x03", "c", "x", "b", NULL), /* REPLY without empty frame */
        s_msg("", "MDPW01", "\x03", "", "", "b", NULL),   /* REPLY with empty address */
        s_msg("", "MDPW01", "\x04", "extra", NULL),       /* HEARTBEAT with a body */
        s_msg("", "MDPW01", "\x05", "extra", NULL),       /* DISCONNECT with a body */
        s_msg("x", "MDPW01", "\x04", NULL),               /* no empty delimiter */
        s_msg("", "MDPC01", "\x04", NULL),                /* client header */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccm_mdp_worker_view_t v;
        assert_int_equal(ccm_mdp_parse_worker(bad[i], 0, &v), CCM_EPROTO);
        ccm_frames_destroy(&bad[i]);
    }
}

/* push() copies before growing: data may be one of the message's own frames,
 * even a short one stored inside a zmq_msg_t that realloc moves. */
static void test_push_own_frames_and_append_self(void **state)
{
    (void)state;
    ccm_frames_t *m = ccm_frames_new();
    assert_int_equal(ccm_frames_push_str(m, "short"), 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(ccm_frames_push(m, ccm_frames_data(m, 0), ccm_frames_len(m, 0)), 0);
        assert_int_equal(ccm_frames_push_front(m, ccm_frames_data(m, 1), ccm_frames_len(m, 1)), 0);
    }
    assert_int_equal(ccm_frames_size(m), 41);
    for (size_t i = 0; i < ccm_frames_size(m); i++)
        assert_true(ccm_frames_eq(m, i, "short"));
    ccm_frames_clear(m);
    assert_int_equal(ccm_frames_push_str(m, "a"), 0);
    assert_int_equal(ccm_frames_push_str(m, "b"), 0);
    assert_int_equal(ccm_frames_append_from(m, m, 0), 0); /* copies what was there */
    assert_int_equal(ccm_frames_size(m), 4);
    assert_true(ccm_frames_eq(m, 2, "a") && ccm_frames_eq(m, 3, "b"));
    ccm_frames_drop_front(m, 99); /* more than there are: empties */
    assert_int_equal(ccm_frames_size(m), 0);
    assert_false(ccm_frames_eq(m, 0, ""));
    ccm_frames_destroy(&m);
}

/* 7/MDP bodies may span several frames; the parsers point at the first. */
static void test_multi_frame_bodies(void **state)
{
    (void)state;
    ccm_frames_t *m = s_msg("", "MDPC01", "svc", "b1", "b2", NULL);
    ccm_mdp_client_view_t c;
    assert_int_equal(ccm_mdp_parse_client(m, 0, &c), 0);
    assert_int_equal(c.body, 3);
    ccm_frames_destroy(&m);
    /* broker -> worker REQUEST with principal then body; REPLY with two body frames */
    m = s_msg("", "MDPW01", "\x02", "CLIENT", "", "dev", "p1", "p2", NULL);
    ccm_mdp_worker_view_t w;
    assert_int_equal(ccm_mdp_parse_worker(m, 0, &w), 0);
    assert_int_equal(w.body, 5);
    assert_true(ccm_frames_eq(m, w.body, "dev") && ccm_frames_eq(m, 7, "p2"));
    ccm_frames_destroy(&m);
    m = s_msg("ID", "", "MDPW01", "\x03", "CLIENT", "", "r1", "r2", NULL);
    assert_int_equal(ccm_mdp_parse_worker(m, 1, &w), 0);
    assert_int_equal(w.command, CCM_MDPW_REPLY);
    assert_int_equal(w.body, 6);
    assert_memory_equal(w.client, "CLIENT", 6);
    /* at past the end, or on the identity instead of the delimiter */
    assert_int_equal(ccm_mdp_parse_worker(m, 0, &w), CCM_EPROTO);
    assert_int_equal(ccm_mdp_parse_worker(m, 8, &w), CCM_EPROTO);
    assert_int_equal(ccm_mdp_parse_client(m, 9, &c), CCM_EPROTO);
    ccm_frames_destroy(&m);
}

/* A ROUTER with ZMQ_ROUTER_MANDATORY: sending to an unknown peer fails at once
 * with CCM_EAGAIN and errno EHOSTUNREACH, and never blocks. */
static void test_send_to_unknown_peer(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *r = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1;
    assert_int_equal(zmq_setsockopt(r, ZMQ_ROUTER_MANDATORY, &one, sizeof one), 0);
    assert_int_equal(zmq_bind(r, "inproc://mandatory"), 0);
    ccm_frames_t *m = ccm_frames_new();
    assert_int_equal(ccm_mdp_worker_heartbeat(m), 0);
    assert_int_equal(ccm_frames_push_front(m, "nobody", 6), 0);
    errno = 0;
    assert_int_equal(ccm_frames_send(m, r, ZMQ_DONTWAIT), CCM_EAGAIN);
    assert_int_equal(errno, EHOSTUNREACH);
    assert_int_equal(ccm_frames_size(m), 0); /* emptied whatever the result */
    ccm_frames_destroy(&m);
    zmq_close(r);
    zmq_ctx_term(ctx);
}

static void test_send_recv_over_sockets(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(a, "inproc://wire"), 0);
    assert_int_equal(zmq_connect(b, "inproc://wire"), 0);
    ccm_frames_t *m = ccm_frames_new();
    assert_int_equal(ccm_frames_recv(m, b, ZMQ_DONTWAIT), CCM_EAGAIN);
    assert_int_equal(ccm_mdp_client_request(m, "svc", "body", 4), 0);
    assert_int_equal(ccm_frames_send(m, a, 0), 0);
    assert_int_equal(ccm_frames_size(m), 0); /* emptied by send */
    assert_int_equal(ccm_frames_recv(m, b, 0), 0);
    assert_int_equal(ccm_frames_size(m), 4);
    assert_true(ccm_frames_eq(m, 2, "svc") && ccm_frames_eq(m, 3, "body"));
    /* more than CCM_FRAMES_MAX frames: the whole message is drained and refused */
    for (int i = 0; i < CCM_FRAMES_MAX + 5; i++)
        assert_true(zmq_send(a, "f", 1, i + 1 < CCM_FRAMES_MAX + 5 ? ZMQ_SNDMORE : 0) == 1);
    assert_int_equal(zmq_send(a, "next", 4, 0), 4);
    assert_int_equal(ccm_frames_recv(m, b, 0), CCM_EPROTO);
    assert_int_equal(ccm_frames_size(m), CCM_FRAMES_MAX); /* the first ones, for the log */
    assert_int_equal(ccm_frames_recv(m, b, 0), 0);
    assert_int_equal(ccm_frames_size(m), 1);
    assert_true(ccm_frames_eq(m, 0, "next"));
    ccm_frames_destroy(&m);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

static void test_socket_defaults_and_local_endpoints(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    assert_int_equal(ccm_wire_socket_defaults(s, 0), 0);
    int64_t max = 0;
    size_t len = sizeof max;
    zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &max, &len);
    assert_int_equal(max, CCM_MAXMSGSIZE);
    assert_int_equal(ccm_wire_socket_defaults(s, 4096), 0);
    zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &max, &len);
    assert_int_equal(max, 4096);
    zmq_close(s);
    zmq_ctx_term(ctx);

    const char *local[] = {"tcp://127.0.0.1:7710", "tcp://127.1.2.3:1", "tcp://localhost:5",
                           "tcp://[::1]:7",        "ipc:///tmp/x",      "inproc://y"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        assert_true(ccm_wire_endpoint_is_local(local[i]));
    const char *remote[] = {"tcp://10.0.0.1:7710",
                            "tcp://0.0.0.0:1",
                            "tcp://*:7710",
                            "tcp://example.org:1",
                            "tcp://127example:1",
                            "tcp://127.example.org:1",
                            "tcp://127.0.0.1.nip.io:1",
                            "tcp://127.0.0.1",
                            "tcp://127..0.1:1",
                            "tcp://127.0.0.1234:1",
                            "tcp://localhost",
                            "tcp://[::2]:1",
                            "udp://127.0.0.1:1",
                            ""};
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        assert_false(ccm_wire_endpoint_is_local(remote[i]));
    assert_false(ccm_wire_endpoint_is_local(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_helpers),
        cmocka_unit_test(test_client_request_round_trip),
        cmocka_unit_test(test_worker_commands_round_trip),
        cmocka_unit_test(test_malformed_client_frames_rejected),
        cmocka_unit_test(test_malformed_worker_frames_rejected),
        cmocka_unit_test(test_push_own_frames_and_append_self),
        cmocka_unit_test(test_multi_frame_bodies),
        cmocka_unit_test(test_send_to_unknown_peer),
        cmocka_unit_test(test_send_recv_over_sockets),
        cmocka_unit_test(test_socket_defaults_and_local_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
