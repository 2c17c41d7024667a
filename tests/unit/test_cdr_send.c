/* cdr delivery: the sender pipelines AddTimeEntry requests (request_id "cdr:<id>",
 * source CDR, source_event_id <id>), removes an event only on OK or a definitive
 * refusal, resends the very same bytes after a timeout or UNAVAILABLE; its window
 * grows with quick replies, halves on a timeout and grows back one per window,
 * and a slow peer gets few resends, not a storm; and the
 * ccm-cdr binary, run against a fake broker + timetrack in this process, delivers
 * a sample file exactly once, survives lost replies and a broker outage, and a
 * second run sends nothing. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ccm/client.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/timetrack.pb-c.h"
#include "ccm/wire.h"
#include "outbox.h"
#include "request.h"
#include "sender.h"

typedef struct {
    void *ctx;
    void *router;      /* the fake broker */
    char endpoint[64]; /* where it listens */
    char dir[64];      /* temp directory */
} fx_t;

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(f->router, "tcp://127.0.0.1:*") != 0)
        return -1;
    size_t len = sizeof f->endpoint;
    zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
    strcpy(f->dir, "/tmp/ccm-cdr-send-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int s_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    if (f->router)
        zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* One request at the fake broker, or NULL after timeout_ms. */
static ccm_frames_t *s_recv(fx_t *f, int timeout_ms)
{
    zmq_pollitem_t pi = {f->router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&pi, 1, timeout_ms) != 1)
        return NULL;
    ccm_frames_t *m = ccm_frames_new();
    assert_int_equal(ccm_frames_recv(m, f->router, 0), 0);
    ccm_mdp_client_view_t v;
    assert_int_equal(ccm_mdp_parse_client(m, 1, &v), 0);
    assert_true(ccm_frames_eq(m, 3, "timetrack"));
    return m;
}

static Ccm__Timetrack__Request *s_unpack(ccm_frames_t *m)
{
    Ccm__Timetrack__Request *r =
        ccm__timetrack__request__unpack(NULL, ccm_frames_len(m, 4), ccm_frames_data(m, 4));
    assert_non_null(r);
    return r;
}

static void s_reply(fx_t *f, ccm_frames_t *m, const char *rid, int code, const char *msg)
{
    Ccm__Status st = CCM__STATUS__INIT;
    st.code = (Ccm__Code)code;
    st.message = (char *)msg;
    Ccm__Timetrack__Reply rep = CCM__TIMETRACK__REPLY__INIT;
    rep.request_id = (char *)rid;
    rep.status = &st;
    uint8_t buf[512];
    size_t len = ccm__timetrack__reply__pack(&rep, buf);
    ccm_frames_t *out = ccm_frames_new();
    ccm_frames_push(out, ccm_frames_data(m, 0), ccm_frames_len(m, 0));
    ccm_frames_push(out, "", 0);
    ccm_frames_push_str(out, CCM_MDPC);
    ccm_frames_push_str(out, "timetrack");
    ccm_frames_push(out, buf, len);
    assert_int_equal(ccm_frames_send(out, f->router, 0), 0);
    ccm_frames_destroy(&out);
}

typedef struct {
    int calls;
    int code;
    char id[64];
    char msg[128];
} refused_t;

static void s_refused(const char *id, int code, const char *message, void *arg)
{
    refused_t *r = arg;
    r->calls++;
    r->code = code;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->msg, sizeof r->msg, "%s", message);
}

static void s_add(ccm_cdr_outbox_t *ob, const char *id, int64_t seconds)
{
    ccm_cdr_entry_t e;
    memset(&e, 0, sizeof e);
    strcpy(e.event_id, id);
    strcpy(e.mrn, "1042");
    strcpy(e.performer, "rn1");
    strcpy(e.activity, "phone call");
    e.service = 1;
    e.start_us = 1793714539000000;
    e.seconds = seconds;
    uint8_t *buf;
    size_t len;
    assert_int_equal(ccm_cdr_request_pack(&e, "C01", &buf, &len), 0);
    ccm_cdr_event_t ev = {id, buf, len, false};
    size_t added;
    assert_int_equal(ccm_cdr_outbox_append(ob, &ev, 1, NULL, NULL, &added), 0);
    assert_int_equal(added, 1);
    free(buf);
}

static uint64_t s_pending(ccm_cdr_outbox_t *ob)
{
    uint64_t n;
    assert_int_equal(ccm_cdr_outbox_pending(ob, &n), 0);
    return n;
}

/* Pumps the sender until the broker has a request (or 3 s pass). */
static ccm_frames_t *s_pump_until_request(fx_t *f, ccm_cdr_sender_t *s)
{
    for (int i = 0; i < 150; i++) {
        assert_int_equal(ccm_cdr_sender_pump(s, 10), 0);
        ccm_frames_t *m = s_recv(f, 10);
        if (m)
            return m;
    }
    return NULL;
}

static void test_sender_acks_refusals_and_resends(void **state)
{
    fx_t *f = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/state", f->dir);
    ccm_cdr_outbox_t *ob;
    assert_int_equal(ccm_cdr_outbox_open(dir, 0, 0, &ob), 0);
    s_add(ob, "u1", 930);
    s_add(ob, "u2", 425);
    s_add(ob, "u3", 610);
    ccm_client_t *c = ccm_client_new(f->endpoint);
    refused_t ref = {0};
    ccm_cdr_sender_t *s = ccm_cdr_sender_new(c, ob, 16, 300, s_refused, &ref);
    assert_non_null(s);

    ccm_frames_t *req[3];
    for (int i = 0; i < 3; i++) {
        req[i] = i == 0 ? s_pump_until_request(f, s) : s_recv(f, 1000);
        assert_non_null(req[i]);
    }
    assert_int_equal(ccm_cdr_sender_inflight(s), 3);
    /* exactly what timetrack's contract asks for */
    Ccm__Timetrack__Request *r = s_unpack(req[0]);
    assert_string_equal(r->request_id, "cdr:u1");
    assert_int_equal(r->op_case, CCM__TIMETRACK__REQUEST__OP_ADD_ENTRY);
    assert_string_equal(r->add_entry->clinic, "C01");
    assert_string_equal(r->add_entry->mrn, "1042");
    assert_string_equal(r->add_entry->performer, "rn1");
    assert_string_equal(r->add_entry->activity, "phone call");
    assert_int_equal(r->add_entry->service, CCM__TIMETRACK__SERVICE_TAG__CCM);
    assert_int_equal(r->add_entry->source, CCM__TIMETRACK__SOURCE__CDR);
    assert_string_equal(r->add_entry->source_event_id, "u1");
    assert_int_equal(r->add_entry->seconds, 930);
    assert_int_equal(r->add_entry->start_us, 1793714539000000);
    ccm__timetrack__request__free_unpacked(r, NULL);

    s_reply(f, req[0], "cdr:u1", CCM__CODE__OK, "");
    s_reply(f, req[1], "cdr:u2", CCM__CODE__NOT_FOUND, "add_entry.mrn: no patient 1042");
    s_reply(f, req[0], "cdr:u1", CCM__CODE__OK, ""); /* a duplicate reply: ignored */
    for (int i = 0; i < 100 && s_pending(ob) > 1; i++)
        assert_int_equal(ccm_cdr_sender_pump(s, 20), 0);
    assert_int_equal(s_pending(ob), 1);
    assert_int_equal(ref.calls, 1);
    assert_int_equal(ref.code, CCM__CODE__NOT_FOUND);
    assert_string_equal(ref.id, "u2");
    assert_string_equal(ref.msg, "add_entry.mrn: no patient 1042");

    /* u3's reply never comes: the same bytes are sent again */
    ccm_frames_t *again = s_pump_until_request(f, s);
    assert_non_null(again);
    assert_int_equal(ccm_frames_len(again, 4), ccm_frames_len(req[2], 4));
    assert_memory_equal(ccm_frames_data(again, 4), ccm_frames_data(req[2], 4),
                        ccm_frames_len(req[2], 4));
    /* UNAVAILABLE: nothing was stored; it comes again */
    s_reply(f, again, "cdr:u3", CCM__CODE__UNAVAILABLE, "store busy");
    ccm_frames_t *third = s_pump_until_request(f, s);
    assert_non_null(third);
    assert_memory_equal(ccm_frames_data(third, 4), ccm_frames_data(req[2], 4),
                        ccm_frames_len(req[2], 4));
    s_reply(f, third, "cdr:u3", CCM__CODE__OK, "");
    for (int i = 0; i < 100 && s_pending(ob) > 0; i++)
        assert_int_equal(ccm_cdr_sender_pump(s, 20), 0);
    assert_int_equal(s_pending(ob), 0);
    assert_int_equal(ccm_cdr_sender_inflight(s), 0);
    const ccm_cdr_sender_stats_t *st = ccm_cdr_sender_stats(s);
    assert_int_equal(st->sent, 3);
    assert_true(st->resent >= 2);
    assert_int_equal(st->acked, 2);
    assert_int_equal(st->refused, 1);
    assert_false(st->denied);
    assert_true(ccm_cdr_outbox_known(ob, "u1"));
    assert_false(ccm_cdr_outbox_known(ob, "u2"));

    for (int i = 0; i < 3; i++)
        ccm_frames_destroy(&req[i]);
    ccm_frames_destroy(&again);
    ccm_frames_destroy(&third);
    ccm_cdr_sender_destroy(&s);
    ccm_cdr_sender_destroy(&s);
    ccm_client_destroy(&c);
    ccm_cdr_outbox_destroy(&ob);
}

static void test_sender_permission_denied_keeps_event(void **state)
{
    fx_t *f = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/state", f->dir);
    ccm_cdr_outbox_t *ob;
    assert_int_equal(ccm_cdr_outbox_open(dir, 0, 0, &ob), 0);
    s_add(ob, "u9", 60);
    ccm_client_t *c = ccm_client_new(f->endpoint);
    refused_t ref = {0};
    ccm_cdr_sender_t *s = ccm_cdr_sender_new(c, ob, 4, 300, s_refused, &ref);
    ccm_frames_t *m = s_pump_until_request(f, s);
    assert_non_null(m);
    s_reply(f, m, "cdr:u9", CCM__CODE__PERMISSION_DENIED, "principal dev may not");
    for (int i = 0; i < 100 && !ccm_cdr_sender_stats(s)->denied; i++)
        assert_int_equal(ccm_cdr_sender_pump(s, 20), 0);
    assert_true(ccm_cdr_sender_stats(s)->denied);
    assert_int_equal(ref.code, CCM__CODE__PERMISSION_DENIED);
    assert_int_equal(s_pending(ob), 1);
    ccm_frames_destroy(&m);
    ccm_cdr_sender_destroy(&s);
    ccm_client_destroy(&c);
    ccm_cdr_outbox_destroy(&ob);
}

/* ---- pace: the window against fake peers ---- */

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define S_PEER_QUEUE 4096

/* A fake broker + timetrack answering OK in arrival order (duplicates too, as
 * the real service answers a repeat), one reply per pace_ms at most. */
typedef struct {
    ccm_frames_t *q[S_PEER_QUEUE]; /* requests waiting for their reply */
    size_t head, tail;
    int pace_ms;        /* 0: answer at once */
    const char *ignore; /* request_id whose first copy is never answered */
    bool ignored;
    int requests;    /* received, duplicates included */
    int replied;     /* replies sent */
    int max_waiting; /* the longest the queue got */
    int64_t next_ms; /* the next reply not before */
    int64_t now;     /* simulated time (ms) the peer and the sender read */
} peer_t;

/* The sender's clock in these tests: the peer's simulated time. */
static int64_t s_sim_clock(void *arg)
{
    return *(const int64_t *)arg;
}

static void s_peer_step(fx_t *f, peer_t *p)
{
    ccm_frames_t *m;
    while ((m = s_recv(f, 0)) != NULL) {
        p->requests++;
        Ccm__Timetrack__Request *r = s_unpack(m);
        bool drop = p->ignore && !p->ignored && strcmp(r->request_id, p->ignore) == 0;
        ccm__timetrack__request__free_unpacked(r, NULL);
        if (drop) {
            p->ignored = true;
            ccm_frames_destroy(&m);
            continue;
        }
        assert_true(p->tail - p->head < S_PEER_QUEUE);
        p->q[p->tail++ % S_PEER_QUEUE] = m;
        if ((int)(p->tail - p->head) > p->max_waiting)
            p->max_waiting = (int)(p->tail - p->head);
    }
    const int64_t now = p->now;
    while (p->head < p->tail && now >= p->next_ms) {
        m = p->q[p->head++ % S_PEER_QUEUE];
        Ccm__Timetrack__Request *r = s_unpack(m);
        s_reply(f, m, r->request_id, CCM__CODE__OK, "");
        ccm__timetrack__request__free_unpacked(r, NULL);
        ccm_frames_destroy(&m);
        p->replied++;
        if (p->pace_ms)
            p->next_ms = p->next_ms + p->pace_ms > now ? p->next_ms + p->pace_ms : now + p->pace_ms;
    }
}

static void s_peer_clear(peer_t *p)
{
    while (p->head < p->tail)
        ccm_frames_destroy(&p->q[p->head++ % S_PEER_QUEUE]);
}

/* Pumps sender and peer until nothing is pending (or limit_ms pass); checks on
 * the way that no more requests are out than the window allows. */
static uint64_t s_moved(const ccm_cdr_sender_stats_t *st, const peer_t *p)
{
    return st->sent + st->resent + st->acked + st->refused + st->timeouts + st->reconnects +
           (uint64_t)p->requests + (uint64_t)p->replied;
}

/* Simulated time advances by 1 ms only in a step that moved nothing (no send,
 * no reply, no timeout): a message in transit on a busy machine does not age
 * while it waits to be scheduled, so timeouts happen exactly when the test
 * means them to. limit_ms is simulated; a real-time bound turns a hang into a
 * failure. */
static void s_drive(fx_t *f, ccm_cdr_sender_t *s, ccm_cdr_outbox_t *ob, peer_t *p, int limit_ms)
{
    const ccm_cdr_sender_stats_t *st = ccm_cdr_sender_stats(s);
    const int64_t end = p->now + limit_ms, real_end = s_mono_ms() + 300000;
    while (s_pending(ob) > 0 && p->now < end) {
        assert_true(s_mono_ms() < real_end);
        const uint64_t before = s_moved(st, p);
        assert_int_equal(ccm_cdr_sender_pump(s, 2), 0);
        s_peer_step(f, p);
        if (s_moved(st, p) == before)
            p->now++;
    }
}

static void s_add_many(ccm_cdr_outbox_t *ob, const char *prefix, int from, int to)
{
    for (int i = from; i < to; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        s_add(ob, id, 60);
    }
}

static void test_sender_window_grows_with_quick_replies(void **state)
{
    fx_t *f = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/state", f->dir);
    ccm_cdr_outbox_t *ob;
    assert_int_equal(ccm_cdr_outbox_open(dir, 0, 0, &ob), 0);
    s_add_many(ob, "g", 0, 200);
    ccm_client_t *c = ccm_client_new(f->endpoint);
    ccm_cdr_sender_t *s = ccm_cdr_sender_new(c, ob, 32, 1000, NULL, NULL);
    const ccm_cdr_sender_stats_t *st = ccm_cdr_sender_stats(s);
    assert_int_equal(st->window, CCM_CDR_WINDOW_START); /* starts small */
    peer_t *p = calloc(1, sizeof *p);
    ccm_cdr_sender_set_clock(s, s_sim_clock, &p->now);
    /* the first step sends only the starting window */
    assert_int_equal(ccm_cdr_sender_pump(s, 0), 0);
    assert_int_equal(ccm_cdr_sender_inflight(s), CCM_CDR_WINDOW_START);
    s_drive(f, s, ob, p, 10000);
    assert_int_equal(s_pending(ob), 0);
    assert_int_equal(st->acked, 200);
    assert_int_equal(st->window, 32); /* grew to --window, not past it */
    assert_int_equal(st->window_min, 32);
    assert_int_equal(st->resent, 0);
    assert_int_equal(st->timeouts, 0);
    assert_true(p->max_waiting <= 32);
    assert_true(ccm_cdr_sender_resend_ratio(s) == 0.0);
    s_peer_clear(p);
    free(p);
    ccm_cdr_sender_destroy(&s);
    ccm_client_destroy(&c);
    ccm_cdr_outbox_destroy(&ob);
}

static void test_sender_window_halves_on_timeout_and_grows_back(void **state)
{
    fx_t *f = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/state", f->dir);
    ccm_cdr_outbox_t *ob;
    assert_int_equal(ccm_cdr_outbox_open(dir, 0, 0, &ob), 0);
    s_add_many(ob, "a", 0, 100);
    ccm_client_t *c = ccm_client_new(f->endpoint);
    ccm_cdr_sender_t *s = ccm_cdr_sender_new(c, ob, 32, 300, NULL, NULL);
    const ccm_cdr_sender_stats_t *st = ccm_cdr_sender_stats(s);
    peer_t *p = calloc(1, sizeof *p);
    ccm_cdr_sender_set_clock(s, s_sim_clock, &p->now);
    s_drive(f, s, ob, p, 10000);
    assert_int_equal(st->window, 32);

    /* one request's reply is lost while the others come: one timeout, halved */
    s_add(ob, "late", 60);
    p->ignore = "cdr:late";
    int64_t t0 = p->now;
    s_drive(f, s, ob, p, 10000);
    assert_int_equal(s_pending(ob), 0);
    assert_true(p->now - t0 >= 300); /* resent only after the timeout */
    assert_int_equal(st->timeouts, 1);
    assert_int_equal(st->resent, 1);
    assert_int_equal(st->window_min, 16);
    assert_true(st->window >= 16 && st->window <= 17);

    /* quick replies again: one more per window of them (16, 17, 18 … acks per
     * step), not doubling: 200 acks take it to about 25, never back to 32 */
    s_add_many(ob, "b", 0, 200);
    s_drive(f, s, ob, p, 10000);
    assert_int_equal(s_pending(ob), 0);
    assert_int_equal(st->timeouts, 1);
    assert_true(st->window >= 24 && st->window <= 26);
    assert_int_equal(st->window_min, 16);
    s_peer_clear(p);
    free(p);
    ccm_cdr_sender_destroy(&s);
    ccm_client_destroy(&c);
    ccm_cdr_outbox_destroy(&ob);
}

/* A peer that answers 100 requests a second at most, duplicates included (a
 * commit-bound service): a window of 256 sent at once would wait 2.5 s in its
 * queue against a 100 ms timeout and be resent over and over. The sender
 * shrinks its window and backs off instead: every event is delivered with
 * few resends, and the peer's queue stays short. */
static void test_sender_slow_peer_bounded_resends(void **state)
{
    fx_t *f = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/state", f->dir);
    ccm_cdr_outbox_t *ob;
    assert_int_equal(ccm_cdr_outbox_open(dir, 0, 0, &ob), 0);
    const int n = 150;
    s_add_many(ob, "s", 0, n);
    ccm_client_t *c = ccm_client_new(f->endpoint);
    ccm_cdr_sender_t *s = ccm_cdr_sender_new(c, ob, 256, 100, NULL, NULL);
    const ccm_cdr_sender_stats_t *st = ccm_cdr_sender_stats(s);
    peer_t *p = calloc(1, sizeof *p);
    ccm_cdr_sender_set_clock(s, s_sim_clock, &p->now);
    p->pace_ms = 10;
    s_drive(f, s, ob, p, 30000);
    assert_int_equal(s_pending(ob), 0);
    assert_int_equal(st->acked, (uint64_t)n);
    assert_int_equal(st->reconnects, 0);
    assert_true(st->timeouts >= 1);    /* it was too slow for the first windows */
    assert_true(st->window_min <= 16); /* and the window came down */
    assert_true(st->resent <= (uint64_t)n / 4); /* few resends, not a storm */
    assert_true(p->requests <= n + n / 4);
    assert_true(p->max_waiting <= 64);  /* the peer's queue stayed short */
    assert_true(st->timeout_ms >= 100); /* the timeout followed the round trip */
    s_peer_clear(p);
    free(p);
    ccm_cdr_sender_destroy(&s);
    ccm_client_destroy(&c);
    ccm_cdr_outbox_destroy(&ob);
}

/* ---- the binary against a fake timetrack ---- */

typedef struct {
    int requests;       /* requests received */
    int unique;         /* distinct source_event_ids */
    long seconds;       /* their seconds, each once */
    char ids[64][128];  /* the distinct ids */
    int drop_first;     /* swallow the first request of every id (lost reply) */
    const char *refuse; /* answer NOT_FOUND for this id */
} fake_t;

/* Plays broker + timetrack until the child exits; returns its exit code. stdout
 * of the child goes to out (may be NULL). */
static int s_run(fx_t *f, fake_t *fk, char *out, size_t outcap, const char *const *args,
                 int bind_after_ms)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        char *argv[32];
        int n = 0;
        argv[n++] = (char *)CCM_CDR_BIN;
        for (; args[n - 1]; n++)
            argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        execv(CCM_CDR_BIN, argv);
        _exit(99);
    }
    close(pfd[1]);
    if (bind_after_ms > 0) {
        /* the broker is down when ccm-cdr starts, and comes back later */
        zmq_close(f->router);
        f->router = NULL;
        struct timespec ts = {bind_after_ms / 1000, (long)(bind_after_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
        int linger = 0;
        zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof linger);
        assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
    }
    int status = 0;
    time_t start = time(NULL);
    for (;;) {
        ccm_frames_t *m = s_recv(f, 20);
        if (m) {
            Ccm__Timetrack__Request *r = s_unpack(m);
            const char *id = r->add_entry->source_event_id;
            fk->requests++;
            int seen = -1;
            for (int i = 0; i < fk->unique; i++)
                if (strcmp(fk->ids[i], id) == 0)
                    seen = i;
            if (seen < 0 && fk->unique < 64) {
                snprintf(fk->ids[fk->unique++], sizeof fk->ids[0], "%s", id);
                if (!(fk->refuse && strcmp(fk->refuse, id) == 0))
                    fk->seconds += (long)r->add_entry->seconds;
                if (!fk->drop_first) {
                    s_reply(f, m, r->request_id, fk->refuse && !strcmp(fk->refuse, id) ? 2 : 0,
                            "no such patient");
                }
            } else {
                s_reply(f, m, r->request_id, fk->refuse && !strcmp(fk->refuse, id) ? 2 : 0,
                        "no such patient");
            }
            ccm__timetrack__request__free_unpacked(r, NULL);
            ccm_frames_destroy(&m);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (time(NULL) - start > 30) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("ccm-cdr did not finish");
        }
    }
    ssize_t n = out ? read(pfd[0], out, outcap - 1) : 0;
    if (out)
        out[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void test_binary_exactly_once(void **state)
{
    fx_t *f = *state;
    char st[128];
    snprintf(st, sizeof st, "%s/state", f->dir);
    const char *args[] = {"--format",
                          "asterisk",
                          "--map",
                          CCM_CDR_DATA "/map.ini",
                          "--clinic",
                          "C01",
                          "--broker",
                          f->endpoint,
                          "--state",
                          st,
                          "--timeout",
                          "200",
                          "--quiet",
                          "--json",
                          CCM_CDR_DATA "/asterisk-18.csv",
                          NULL};
    char out[2048];
    fake_t fk = {.drop_first = 1};
    assert_int_equal(s_run(f, &fk, out, sizeof out, args, 0), 0);
    assert_int_equal(fk.unique, 3);
    assert_int_equal(fk.seconds, 1965);
    assert_true(fk.requests >= 6); /* every first send was lost */
    assert_non_null(strstr(out, "\"new\":3,\"seconds\":1965,"));
    assert_non_null(strstr(out, "\"duplicates\":1,"));
    assert_non_null(strstr(out, "\"skipped\":3,"));
    assert_non_null(strstr(out, "\"errors\":4,"));
    assert_non_null(strstr(out, "\"acknowledged\":3,"));
    assert_non_null(strstr(out, "\"pending\":0"));
    /* again: the position says everything was read; nothing is sent */
    fake_t again = {0};
    assert_int_equal(s_run(f, &again, out, sizeof out, args, 0), 0);
    assert_int_equal(again.requests, 0);
    assert_non_null(strstr(out, "\"read\":0,"));
    /* from the start: every id is known, still nothing is sent */
    const char *args2[] = {"--format", "asterisk", "--map",        CCM_CDR_DATA "/map.ini",
                           "--clinic", "C01",      "--broker",     f->endpoint,
                           "--state",  st,         "--timeout",    "200",
                           "--quiet",  "--json",   "--from-start", CCM_CDR_DATA "/asterisk-18.csv",
                           NULL};
    fake_t third = {0};
    assert_int_equal(s_run(f, &third, out, sizeof out, args2, 0), 0);
    assert_int_equal(third.requests, 0);
    assert_non_null(strstr(out, "\"read\":11,"));
    assert_non_null(strstr(out, "\"duplicates\":4,"));
}

static void test_binary_broker_outage_and_refusal(void **state)
{
    fx_t *f = *state;
    char st[128];
    snprintf(st, sizeof st, "%s/state2", f->dir);
    const char *args[] = {"--format",
                          "jsonl",
                          "--map",
                          CCM_CDR_DATA "/map.ini",
                          "--clinic",
                          "C01",
                          "--broker",
                          f->endpoint,
                          "--state",
                          st,
                          "--timeout",
                          "200",
                          "--quiet",
                          "--json",
                          CCM_CDR_DATA "/calls.jsonl",
                          NULL};
    char out[2048];
    fake_t fk = {.refuse = "ehr-7003"};
    assert_int_equal(s_run(f, &fk, out, sizeof out, args, 700), 0);
    assert_int_equal(fk.unique, 3);
    assert_int_equal(fk.seconds, 930 + 610);
    assert_non_null(strstr(out, "\"acknowledged\":2,"));
    assert_non_null(strstr(out, "\"refused\":1,"));
    assert_non_null(strstr(out, "\"pending\":0"));
}

static void s_append_lines(const char *path, const char *mode, int from, int to)
{
    FILE *fp = fopen(path, mode);
    assert_non_null(fp);
    for (int i = from; i < to; i++)
        fprintf(fp,
                "{\"id\":\"r-%d\",\"patient\":\"1042\",\"staff\":\"rn1\",\"start\":"
                "\"2026-11-03T14:02:19Z\",\"seconds\":%d}\n",
                i, 60 + i);
    fclose(fp);
}

/* The file was rotated (renamed, a new one started) while ccm-cdr was not running,
 * after more lines had been written to it: the next run reads the rest of the old
 * file, then the new one, and sends nothing twice. */
static void test_binary_rotated_while_down(void **state)
{
    fx_t *f = *state;
    char st[128], path[128], rotated[140];
    snprintf(st, sizeof st, "%s/state3", f->dir);
    snprintf(path, sizeof path, "%s/calls.jsonl", f->dir);
    snprintf(rotated, sizeof rotated, "%s.1", path);
    s_append_lines(path, "w", 0, 3);
    const char *args[] = {"--format", "jsonl", "--map",     CCM_CDR_DATA "/map.ini",
                          "--clinic", "C01",   "--broker",  f->endpoint,
                          "--state",  st,      "--timeout", "200",
                          "--json",   path,    NULL};
    char out[2048];
    fake_t one = {0};
    assert_int_equal(s_run(f, &one, out, sizeof out, args, 0), 0);
    assert_int_equal(one.unique, 3);
    s_append_lines(path, "a", 3, 5); /* written after the first run */
    assert_int_equal(rename(path, rotated), 0);
    s_append_lines(path, "w", 5, 6); /* the new file */
    fake_t two = {0};
    assert_int_equal(s_run(f, &two, out, sizeof out, args, 0), 0);
    assert_int_equal(two.unique, 3);
    assert_int_equal(two.requests, 3);
    assert_string_equal(two.ids[0], "r-3");
    assert_string_equal(two.ids[1], "r-4");
    assert_string_equal(two.ids[2], "r-5");
    assert_non_null(strstr(out, "\"read\":3,"));
    assert_non_null(strstr(out, "\"duplicates\":0,"));
    /* and again: nothing */
    fake_t three = {0};
    assert_int_equal(s_run(f, &three, out, sizeof out, args, 0), 0);
    assert_int_equal(three.requests, 0);
    /* following with --once: a fresh state delivers the new file and stops */
    char st2[128];
    snprintf(st2, sizeof st2, "%s/state4", f->dir);
    const char *follow[] = {"--format", "jsonl",    "--map",     CCM_CDR_DATA "/map.ini",
                            "--clinic", "C01",      "--broker",  f->endpoint,
                            "--state",  st2,        "--timeout", "200",
                            "--json",   "--follow", "--once",    path,
                            NULL};
    fake_t four = {0};
    assert_int_equal(s_run(f, &four, out, sizeof out, follow, 0), 0);
    assert_int_equal(four.unique, 1);
    assert_string_equal(four.ids[0], "r-5");
}

static void test_binary_usage(void **state)
{
    fx_t *f = *state;
    const char *none[] = {"--format", "asterisk", "--clinic", "C01", CCM_CDR_DATA "/x.csv", NULL};
    fake_t fk = {0};
    assert_int_equal(s_run(f, &fk, NULL, 0, none, 0), 2); /* no --map */
    const char *zone[] = {
        "--format", "asterisk",   "--map", CCM_CDR_DATA "/map.ini",         "--clinic", "C01",
        "--gmt",    "--timezone", "UTC",   CCM_CDR_DATA "/asterisk-18.csv", NULL};
    assert_int_equal(s_run(f, &fk, NULL, 0, zone, 0), 2);
    const char *remote[] = {"--broker", "tcp://10.1.2.3:7710", NULL};
    assert_int_equal(s_run(f, &fk, NULL, 0, remote, 0), 2);
}

int main(void)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sender_acks_refusals_and_resends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sender_permission_denied_keeps_event, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_sender_window_grows_with_quick_replies, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_sender_window_halves_on_timeout_and_grows_back,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sender_slow_peer_bounded_resends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_binary_exactly_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_binary_broker_outage_and_refusal, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_binary_rotated_while_down, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_binary_usage, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
