/* broker — 7/MDP routing (see broker.h).
 *
 * Invariants: the loop never blocks on a peer (ROUTER_MANDATORY + non-blocking
 * sends; an unroutable or slow peer loses that message, and clients retry); a
 * request is handed to exactly one worker; requests nobody can serve are held
 * briefly, bounded in number and age, then dropped with a log line.
 *
 * Unlike zguide's mdbroker, a worker may hold many outstanding requests (up to
 * S_WORKER_CREDIT): services commit every request waiting in their socket in one
 * transaction, so feeding them one request at a time would defeat group commit.
 * Requests go to the live worker of the service with the fewest outstanding. */
#include "broker.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/wire.h"

/* Outstanding requests one worker may hold before others (or the queue) get them. */
#define S_WORKER_CREDIT 1000
/* Requests held per service while no worker can take them. */
#define S_QUEUE_MAX 10000
/* How long a held request may wait for a worker (clients retry long before). */
#define S_QUEUE_TTL_MS 10000
/* Principal stamped on requests while CURVE/ZAP is not configured. */
#define S_PRINCIPAL_DEV "dev"
/* Longest peer identity (ZeroMQ's limit is 255). */
#define S_ID_MAX 255

typedef struct service service_t;

typedef struct worker {
    uint8_t id[S_ID_MAX]; /* ROUTER identity */
    size_t id_len;
    service_t *service;  /* borrowed */
    int64_t expiry;      /* monotonic ms after which it is dead */
    size_t outstanding;  /* requests sent, not yet replied */
    struct worker *next; /* in the broker's list of workers */
} worker_t;

typedef struct queued {
    ccm_frames_t *msg; /* identity · "" · MDPC01 · service · body… */
    int64_t at;        /* monotonic ms it arrived */
    struct queued *next;
} queued_t;

struct service {
    char name[CCM_SERVICE_MAX + 1];
    queued_t *head, *tail; /* requests waiting for a worker */
    size_t queued;
    size_t workers; /* live workers of this service */
    service_t *next;
};

struct ccm_broker {
    void *ctx;
    void *router;  /* 7/MDP */
    void *xsub;    /* doorbells in (from services' PUB) */
    void *xpub;    /* doorbells out (to subscribers' SUB) */
    void *monitor; /* PAIR receiving the ROUTER's disconnect events */
    worker_t *workers;
    service_t *services;
    ccm_frames_t *in;     /* scratch: received message */
    ccm_frames_t *out;    /* scratch: message to send */
    int64_t heartbeat_at; /* next heartbeat round, monotonic ms */
};

static int64_t s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Printable form of a peer identity for logs (hex of its first bytes). */
static const char *s_peer(const void *id, size_t len, char buf[40])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = len > 18 ? 18 : len;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hex[((const uint8_t *)id)[i] >> 4];
        buf[2 * i + 1] = hex[((const uint8_t *)id)[i] & 15];
    }
    buf[2 * n] = '\0';
    return buf;
}

/* ---- services and workers ---- */

static service_t *s_service(ccm_broker_t *b, const char *name, size_t len, bool create)
{
    for (service_t *s = b->services; s; s = s->next)
        if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
            return s;
    if (!create)
        return NULL;
    service_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    memcpy(s->name, name, len);
    s->next = b->services;
    b->services = s;
    return s;
}

static worker_t *s_worker(ccm_broker_t *b, const void *id, size_t len)
{
    for (worker_t *w = b->workers; w; w = w->next)
        if (w->id_len == len && memcmp(w->id, id, len) == 0)
            return w;
    return NULL;
}

/* Sends a worker command (no body) to identity id. */
static void s_send_cmd(ccm_broker_t *b, const void *id, size_t len, int (*build)(ccm_frames_t *))
{
    if (build(b->out) == 0 && ccm_frames_push_front(b->out, id, len) == 0)
        ccm_frames_send(b->out, b->router, ZMQ_DONTWAIT);
    ccm_frames_clear(b->out);
}

static void s_delete_worker(ccm_broker_t *b, worker_t *w, bool disconnect, const char *why)
{
    char peer[40];
    ccm_info("event=worker_gone service=%s worker=%s reason=%s outstanding=%zu", w->service->name,
             s_peer(w->id, w->id_len, peer), why, w->outstanding);
    if (disconnect)
        s_send_cmd(b, w->id, w->id_len, ccm_mdp_worker_disconnect);
    for (worker_t **p = &b->workers; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    w->service->workers--;
    free(w);
}

/* The live worker of s with the fewest outstanding requests and credit left. */
static worker_t *s_pick(ccm_broker_t *b, service_t *s)
{
    worker_t *best = NULL;
    for (worker_t *w = b->workers; w; w = w->next)
        if (w->service == s && w->outstanding < S_WORKER_CREDIT &&
            (!best || w->outstanding < best->outstanding))
            best = w;
    return best;
}

/* Sends client request m (identity · "" · MDPC01 · service · body…) to worker w
 * as identity_w · "" · MDPW01 · 0x02 · client · "" · principal · body…
 * Returns 0, or CCM_EAGAIN when the worker cannot take it now. */
static int s_forward_request(ccm_broker_t *b, worker_t *w, const ccm_frames_t *m)
{
    static const unsigned char cmd = CCM_MDPW_REQUEST;
    ccm_frames_t *o = b->out;
    ccm_frames_clear(o);
    int rc = ccm_frames_push(o, w->id, w->id_len);
    if (!rc)
        rc = ccm_frames_push(o, "", 0);
    if (!rc)
        rc = ccm_frames_push_str(o, CCM_MDPW);
    if (!rc)
        rc = ccm_frames_push(o, &cmd, 1);
    if (!rc)
        rc = ccm_frames_push(o, ccm_frames_data(m, 0), ccm_frames_len(m, 0));
    if (!rc)
        rc = ccm_frames_push(o, "", 0);
    if (!rc)
        rc = ccm_frames_push_str(o, S_PRINCIPAL_DEV);
    if (!rc)
        rc = ccm_frames_append_from(o, m, 4);
    if (rc) {
        ccm_frames_clear(o);
        return rc;
    }
    rc = ccm_frames_send(o, b->router, ZMQ_DONTWAIT);
    if (rc == 0)
        w->outstanding++;
    return rc;
}

/* Hands queued requests of s to its workers while they have credit. */
static void s_dispatch(ccm_broker_t *b, service_t *s)
{
    int64_t now = s_now();
    while (s->head) {
        queued_t *q = s->head;
        if (now - q->at > S_QUEUE_TTL_MS) {
            ccm_warn("event=request_dropped service=%s reason=\"no worker took it within %d "
                     "ms\"",
                     s->name, S_QUEUE_TTL_MS);
        } else {
            worker_t *w = s_pick(b, s);
            if (!w)
                return;
            if (s_forward_request(b, w, q->msg) == CCM_EAGAIN)
                return; /* the worker's pipe is full: try again on its next message */
        }
        s->head = q->next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        ccm_frames_destroy(&q->msg);
        free(q);
    }
}

/* ---- messages from clients ---- */

static void s_client_reply(ccm_broker_t *b, const void *id, size_t id_len, const char *service,
                           const void *body, size_t len)
{
    if (ccm_mdp_client_request(b->out, service, body, len) == 0 &&
        ccm_frames_push_front(b->out, id, id_len) == 0)
        ccm_frames_send(b->out, b->router, ZMQ_DONTWAIT);
    ccm_frames_clear(b->out);
}

static void s_on_client(ccm_broker_t *b, const ccm_mdp_client_view_t *v)
{
    ccm_frames_t *m = b->in;
    char peer[40];
    const void *id = ccm_frames_data(m, 0);
    size_t id_len = ccm_frames_len(m, 0);
    if (ccm_frames_size(m) != v->body + 1) {
        ccm_warn("event=bad_request peer=%s reason=\"a request has exactly one body frame\" "
                 "frames=%zu",
                 s_peer(id, id_len, peer), ccm_frames_size(m));
        return;
    }
    if (v->service_len == strlen(CCM_MMI_SERVICE) &&
        memcmp(v->service, CCM_MMI_SERVICE, v->service_len) == 0) {
        /* 8/MMI: is a worker of the named service registered? */
        size_t nlen = ccm_frames_len(m, v->body);
        service_t *s = nlen > 0 && nlen <= CCM_SERVICE_MAX
                           ? s_service(b, ccm_frames_data(m, v->body), nlen, false)
                           : NULL;
        s_client_reply(b, id, id_len, CCM_MMI_SERVICE, s && s->workers ? "200" : "404", 3);
        return;
    }
    service_t *s = s_service(b, v->service, v->service_len, true);
    if (!s)
        return;
    if (s->queued >= S_QUEUE_MAX) {
        ccm_warn("event=request_dropped service=%s reason=\"%d requests already wait\"", s->name,
                 S_QUEUE_MAX);
        return;
    }
    queued_t *q = calloc(1, sizeof *q);
    ccm_frames_t *copy = ccm_frames_new();
    if (!q || !copy || ccm_frames_append_from(copy, m, 0) != 0) {
        free(q);
        ccm_frames_destroy(&copy);
        return;
    }
    q->msg = copy;
    q->at = s_now();
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
    s->queued++;
    if (!s->workers)
        ccm_debug("event=request_held service=%s reason=\"no worker registered\" queued=%zu",
                  s->name, s->queued);
    s_dispatch(b, s);
}

/* ---- messages from workers ---- */

static void s_on_worker(ccm_broker_t *b, const ccm_mdp_worker_view_t *v)
{
    ccm_frames_t *m = b->in;
    char peer[40];
    const void *id = ccm_frames_data(m, 0);
    size_t id_len = ccm_frames_len(m, 0);
    worker_t *w = s_worker(b, id, id_len);
    if (w)
        w->expiry = s_now() + (int64_t)CCM_HEARTBEAT_MS * CCM_HEARTBEAT_LIVENESS;

    switch (v->command) {
    case CCM_MDPW_READY: {
        if (w) { /* READY twice is a protocol error (7/MDP) */
            s_delete_worker(b, w, true, "ready_twice");
            return;
        }
        if (v->service_len >= 4 && memcmp(v->service, "mmi.", 4) == 0) {
            ccm_warn("event=bad_ready peer=%s reason=\"mmi.* is the broker's own\"",
                     s_peer(id, id_len, peer));
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
            return;
        }
        if (id_len > S_ID_MAX)
            return;
        service_t *s = s_service(b, v->service, v->service_len, true);
        w = calloc(1, sizeof *w);
        if (!s || !w) {
            free(w);
            return;
        }
        memcpy(w->id, id, id_len);
        w->id_len = id_len;
        w->service = s;
        w->expiry = s_now() + (int64_t)CCM_HEARTBEAT_MS * CCM_HEARTBEAT_LIVENESS;
        w->next = b->workers;
        b->workers = w;
        s->workers++;
        ccm_info("event=worker_ready service=%s worker=%s workers=%zu", s->name,
                 s_peer(id, id_len, peer), s->workers);
        s_dispatch(b, s);
        return;
    }
    case CCM_MDPW_REPLY: {
        if (!w) {
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
            return;
        }
        if (ccm_frames_size(m) != v->body + 1) {
            ccm_warn("event=bad_reply worker=%s reason=\"a reply has exactly one body frame\"",
                     s_peer(id, id_len, peer));
        } else {
            /* client · "" · MDPC01 · service · body */
            s_client_reply(b, v->client, v->client_len, w->service->name,
                           ccm_frames_data(m, v->body), ccm_frames_len(m, v->body));
        }
        if (w->outstanding > 0)
            w->outstanding--;
        s_dispatch(b, w->service);
        return;
    }
    case CCM_MDPW_HEARTBEAT:
        if (!w)
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
        return;
    case CCM_MDPW_DISCONNECT:
        if (w)
            s_delete_worker(b, w, false, "disconnect");
        return;
    default: /* REQUEST from a worker */
        ccm_warn("event=bad_command peer=%s command=%d reason=\"workers do not send REQUEST\"",
                 s_peer(id, id_len, peer), v->command);
        if (w)
            s_delete_worker(b, w, true, "protocol_error");
        return;
    }
}

static void s_on_router(ccm_broker_t *b)
{
    ccm_frames_t *m = b->in;
    char peer[40];
    size_t n = ccm_frames_size(m);
    const char *who = n ? s_peer(ccm_frames_data(m, 0), ccm_frames_len(m, 0), peer) : "?";
    if (n >= 3 && ccm_frames_eq(m, 2, CCM_MDPC)) {
        ccm_mdp_client_view_t v;
        if (ccm_mdp_parse_client(m, 1, &v) != 0) {
            ccm_warn("event=bad_message peer=%s protocol=MDPC01 reason=\"malformed client "
                     "request (needs empty frame, header, 1-%d byte service, body)\" frames=%zu",
                     who, CCM_SERVICE_MAX, n);
            return;
        }
        s_on_client(b, &v);
    } else if (n >= 3 && ccm_frames_eq(m, 2, CCM_MDPW)) {
        ccm_mdp_worker_view_t v;
        if (ccm_mdp_parse_worker(m, 1, &v) != 0) {
            ccm_warn("event=bad_message peer=%s protocol=MDPW01 reason=\"malformed or unknown "
                     "worker command\" frames=%zu",
                     who, n);
            worker_t *w = s_worker(b, ccm_frames_data(m, 0), ccm_frames_len(m, 0));
            if (w)
                s_delete_worker(b, w, true, "protocol_error");
            return;
        }
        s_on_worker(b, &v);
    } else {
        ccm_warn("event=bad_message peer=%s reason=\"not 7/MDP: wrong or missing protocol "
                 "header\" frames=%zu",
                 who, n);
    }
}

/* ---- heartbeats ---- */

static void s_heartbeat(ccm_broker_t *b)
{
    int64_t now = s_now();
    for (worker_t *w = b->workers, *next; w; w = next) {
        next = w->next;
        if (now > w->expiry)
            s_delete_worker(b, w, false, "expired");
    }
    if (now < b->heartbeat_at)
        return;
    for (worker_t *w = b->workers; w; w = w->next)
        s_send_cmd(b, w->id, w->id_len, ccm_mdp_worker_heartbeat);
    /* Drop requests held too long even when no message arrives for their service. */
    for (service_t *s = b->services; s; s = s->next)
        s_dispatch(b, s);
    b->heartbeat_at = now + CCM_HEARTBEAT_MS;
}

/* ---- doorbells: one message from `from` to `to`, all parts ---- */

static void s_forward(ccm_broker_t *b, void *from, void *to)
{
    if (ccm_frames_recv(b->in, from, ZMQ_DONTWAIT) == 0)
        ccm_frames_send(b->in, to, ZMQ_DONTWAIT); /* a lost doorbell costs a poll */
    ccm_frames_clear(b->in);
}

/* Logs one event of the ROUTER's monitor: frame 1 = u16 event + u32 value,
 * frame 2 = the endpoint. */
static void s_on_monitor(ccm_broker_t *b)
{
    if (ccm_frames_recv(b->in, b->monitor, ZMQ_DONTWAIT) == 0 && ccm_frames_size(b->in) == 2 &&
        ccm_frames_len(b->in, 0) >= 2) {
        int len = (int)ccm_frames_len(b->in, 1);
        ccm_debug("event=peer_disconnected endpoint=%.*s reason=\"the peer closed, or ZeroMQ "
                 "dropped it: a message over max_msg_size or a ZMTP error\"",
                 len, (const char *)ccm_frames_data(b->in, 1));
    }
    ccm_frames_clear(b->in);
}

/* ---- life cycle ---- */

static void *s_bind(ccm_broker_t *b, int type, const char *ep, int64_t maxmsg)
{
    void *s = zmq_socket(b->ctx, type);
    if (!s)
        return NULL;
    if (ccm_wire_socket_defaults(s, maxmsg) != 0 || zmq_bind(s, ep) != 0) {
        ccm_error("event=bind_failed endpoint=%s error=\"%s\"", ep, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

int ccm_broker_new(const ccm_broker_opts_t *o, ccm_broker_t **out)
{
    *out = NULL;
    const char *eps[] = {o->endpoint, o->doorbell_in, o->doorbell_out};
    for (int i = 0; i < 3; i++)
        if (eps[i] && !ccm_wire_endpoint_is_local(eps[i])) {
            ccm_error("event=refused endpoint=%s reason=\"not a loopback address; binding it "
                      "needs CURVE keys, which this build does not support yet\"",
                      eps[i]);
            return CCM_EINVAL;
        }
    ccm_broker_t *b = calloc(1, sizeof *b);
    if (!b)
        return CCM_ENOMEM;
    b->ctx = zmq_ctx_new();
    b->in = ccm_frames_new();
    b->out = ccm_frames_new();
    int rc = CCM_EIO;
    if (!b->ctx || !b->in || !b->out)
        goto fail;
    if (!(b->router = s_bind(b, ZMQ_ROUTER, o->endpoint, o->maxmsgsize)))
        goto fail;
    int one = 1;
    if (zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)
        goto fail;
    if (o->doorbell_in && !(b->xsub = s_bind(b, ZMQ_XSUB, o->doorbell_in, o->maxmsgsize)))
        goto fail;
    if (o->doorbell_out && !(b->xpub = s_bind(b, ZMQ_XPUB, o->doorbell_out, o->maxmsgsize)))
        goto fail;
    /* ZeroMQ drops a connection that sends a message over ZMQ_MAXMSGSIZE (or breaks
     * ZMTP) without telling the application; its monitor is how we can log it. */
    if (zmq_socket_monitor(b->router, "inproc://ccm-broker-monitor", ZMQ_EVENT_DISCONNECTED) != 0 ||
        !(b->monitor = zmq_socket(b->ctx, ZMQ_PAIR)) ||
        zmq_connect(b->monitor, "inproc://ccm-broker-monitor") != 0)
        goto fail;
    b->heartbeat_at = s_now() + CCM_HEARTBEAT_MS;
    *out = b;
    return 0;
fail:
    ccm_broker_destroy(&b);
    return rc;
}

void ccm_broker_destroy(ccm_broker_t **p)
{
    if (!p || !*p)
        return;
    ccm_broker_t *b = *p;
    while (b->workers) {
        worker_t *w = b->workers;
        b->workers = w->next;
        free(w);
    }
    while (b->services) {
        service_t *s = b->services;
        b->services = s->next;
        while (s->head) {
            queued_t *q = s->head;
            s->head = q->next;
            ccm_frames_destroy(&q->msg);
            free(q);
        }
        free(s);
    }
    if (b->router)
        zmq_close(b->router);
    if (b->xsub)
        zmq_close(b->xsub);
    if (b->xpub)
        zmq_close(b->xpub);
    if (b->monitor)
        zmq_close(b->monitor);
    if (b->ctx)
        zmq_ctx_term(b->ctx);
    ccm_frames_destroy(&b->in);
    ccm_frames_destroy(&b->out);
    free(b);
    *p = NULL;
}

int ccm_broker_run(ccm_broker_t *b, volatile sig_atomic_t *stop)
{
    zmq_pollitem_t items[4] = {{b->router, 0, ZMQ_POLLIN, 0},
                               {b->monitor, 0, ZMQ_POLLIN, 0},
                               {b->xsub, 0, ZMQ_POLLIN, 0},
                               {b->xpub, 0, ZMQ_POLLIN, 0}};
    int nitems = b->xsub && b->xpub ? 4 : 2;
    while (!*stop) {
        int64_t wait = b->heartbeat_at - s_now();
        int rc = zmq_poll(items, nitems, wait > 0 ? (long)wait : 0);
        if (rc < 0) {
            if (zmq_errno() == EINTR)
                continue;
            ccm_error("event=poll_failed error=\"%s\"", zmq_strerror(zmq_errno()));
            return CCM_EIO;
        }
        /* Bounded drains so one busy socket cannot starve heartbeats. */
        for (int i = 0; i < 1000 && (items[0].revents & ZMQ_POLLIN); i++) {
            int r = ccm_frames_recv(b->in, b->router, ZMQ_DONTWAIT);
            if (r == CCM_EAGAIN)
                break;
            if (r == CCM_EPROTO) {
                ccm_warn("event=bad_message reason=\"more than %d frames\"", CCM_FRAMES_MAX);
                continue;
            }
            if (r != 0)
                break;
            s_on_router(b);
            ccm_frames_clear(b->in);
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_on_monitor(b);
        if (nitems == 4) {
            if (items[2].revents & ZMQ_POLLIN)
                s_forward(b, b->xsub, b->xpub);
            if (items[3].revents & ZMQ_POLLIN)
                s_forward(b, b->xpub, b->xsub);
        }
        s_heartbeat(b);
    }
    /* Tell workers we are going so they reconnect to our successor at once. */
    for (worker_t *w = b->workers; w; w = w->next)
        s_send_cmd(b, w->id, w->id_len, ccm_mdp_worker_disconnect);
    return 0;
}
