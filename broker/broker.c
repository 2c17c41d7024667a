/* broker — 7/MDP routing (see broker.h).
 *
 * Invariants: the loop never blocks on a peer (ROUTER_MANDATORY + non-blocking
 * sends; an unroutable or slow peer loses that message, and clients retry); a
 * request is handed to exactly one worker; requests nobody can serve are held
 * briefly, bounded in number, bytes and age, then dropped with a log line; the
 * broker's memory is bounded whatever peers send.
 *
 * Unlike zguide's mdbroker, a worker may hold many outstanding requests (up to
 * S_WORKER_CREDIT): services commit every request waiting in their socket in one
 * transaction, so feeding them one request at a time would defeat group commit.
 * Requests go to the live worker of the service with the fewest outstanding; among
 * equals, to the one that got work least recently, so workers take turns. */
#include "broker.h"

#include <errno.h>
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
/* Bytes held over all services (a few hundred full-size requests): bounds memory. */
#define S_HELD_BYTES_MAX (256 << 20)
/* How long a held request may wait for a worker: as long as a silent worker is
 * kept. Every ccm client has timed out and retried by then. */
#define S_QUEUE_TTL_MS (CCM_HEARTBEAT_MS * CCM_HEARTBEAT_LIVENESS)
/* Distinct service names known at once (registered or with held requests): a
 * client inventing names cannot grow the broker without bound. */
#define S_SERVICES_MAX 1000
/* Messages handled from one socket per poll round, so none starves the others. */
#define S_DRAIN_MAX 1000
/* Principal stamped on requests while CURVE/ZAP is not configured. */
#define S_PRINCIPAL_DEV "dev"
/* Longest peer identity (ZeroMQ's limit is 255). */
#define S_ID_MAX 255
/* Monitor address of the ROUTER (one broker per context). */
#define S_MONITOR_EP "inproc://ccm-broker-monitor"

typedef struct service service_t;

typedef struct worker {
    uint8_t id[S_ID_MAX]; /* ROUTER identity */
    size_t id_len;
    service_t *service;  /* borrowed */
    int64_t expiry;      /* monotonic ms after which it is dead */
    size_t outstanding;  /* requests sent, not yet replied */
    uint64_t last_sent;  /* dispatch sequence number of its latest request (turns) */
    bool blocked;        /* its pipe was full; skipped until it sends something */
    struct worker *next; /* in the broker's list of workers */
} worker_t;

typedef struct queued {
    ccm_frames_t *msg; /* identity · "" · MDPC01 · service · body… */
    size_t bytes;      /* sum of the frames' sizes */
    int64_t at;        /* monotonic ms it arrived */
    struct queued *next;
} queued_t;

struct service {
    char name[CCM_SERVICE_MAX + 1];
    queued_t *head, *tail; /* requests waiting for a worker, oldest first */
    size_t queued;
    size_t workers; /* live workers of this service */
    service_t *next;
};

struct ccm_broker {
    void *ctx;
    void *router;  /* 7/MDP */
    void *xsub;    /* doorbells in (from services' PUB) */
    void *xpub;    /* doorbells out (to subscribers' SUB) */
    void *monitor; /* PAIR receiving the ROUTER's connection events */
    worker_t *workers;
    service_t *services;
    size_t nservices;
    size_t held_bytes;    /* bytes of all queued requests */
    uint64_t dispatched;  /* requests handed to workers so far (turn order) */
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

/* Service names come from the network: log them only when printable. */
static bool s_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"')
            return false;
    return true;
}

/* ---- services and workers ---- */

static service_t *s_service(ccm_broker_t *b, const char *name, size_t len)
{
    for (service_t *s = b->services; s; s = s->next)
        if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

/* The service named name, created if needed; NULL when out of memory or when
 * S_SERVICES_MAX names are known (logged). */
static service_t *s_service_require(ccm_broker_t *b, const char *name, size_t len)
{
    service_t *s = s_service(b, name, len);
    if (s)
        return s;
    if (b->nservices >= S_SERVICES_MAX) {
        ccm_warn("event=request_dropped reason=\"%d service names already known\"", S_SERVICES_MAX);
        return NULL;
    }
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    memcpy(s->name, name, len); /* len <= CCM_SERVICE_MAX, checked by the parser */
    s->next = b->services;
    b->services = s;
    b->nservices++;
    return s;
}

/* Forgets services with neither workers nor held requests. */
static void s_service_gc(ccm_broker_t *b)
{
    for (service_t **p = &b->services; *p;) {
        service_t *s = *p;
        if (s->workers == 0 && !s->head) {
            *p = s->next;
            b->nservices--;
            free(s);
        } else {
            p = &s->next;
        }
    }
}

static worker_t *s_worker(ccm_broker_t *b, const void *id, size_t len)
{
    for (worker_t *w = b->workers; w; w = w->next)
        if (w->id_len == len && memcmp(w->id, id, len) == 0)
            return w;
    return NULL;
}

/* Sends a worker command (no body) to identity id; a lost command is harmless
 * (heartbeats repeat, DISCONNECT goes to a peer we are forgetting anyway). */
static void s_send_cmd(ccm_broker_t *b, const void *id, size_t len, int (*build)(ccm_frames_t *))
{
    if (build(b->out) == 0 && ccm_frames_push_front(b->out, id, len) == 0)
        ccm_frames_send(b->out, b->router, ZMQ_DONTWAIT);
    ccm_frames_clear(b->out);
}

static void s_worker_delete(ccm_broker_t *b, worker_t *w, bool disconnect, const char *why)
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

/* The live worker of s with the fewest outstanding requests and credit left;
 * among equals the one that got a request least recently. */
static worker_t *s_pick(ccm_broker_t *b, service_t *s)
{
    worker_t *best = NULL;
    for (worker_t *w = b->workers; w; w = w->next) {
        if (w->service != s || w->blocked || w->outstanding >= S_WORKER_CREDIT)
            continue;
        if (!best || w->outstanding < best->outstanding ||
            (w->outstanding == best->outstanding && w->last_sent < best->last_sent))
            best = w;
    }
    return best;
}

/* Sends client request m (identity · "" · MDPC01 · service · body…) to worker w
 * as identity_w · "" · MDPW01 · 0x02 · client · "" · principal · body…
 * Returns 0, or CCM_EAGAIN with errno EHOSTUNREACH (the worker is gone) or
 * EAGAIN (its pipe is full). */
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
        /* only when out of memory, or the client used every frame: drop it */
        ccm_frames_clear(o);
        return rc;
    }
    rc = ccm_frames_send(o, b->router, ZMQ_DONTWAIT);
    if (rc == 0) {
        w->outstanding++;
        w->last_sent = ++b->dispatched;
    }
    return rc;
}

static void s_unqueue_head(ccm_broker_t *b, service_t *s)
{
    queued_t *q = s->head;
    s->head = q->next;
    if (!s->head)
        s->tail = NULL;
    s->queued--;
    b->held_bytes -= q->bytes;
    ccm_frames_destroy(&q->msg);
    free(q);
}

/* Drops the requests of s that waited longer than S_QUEUE_TTL_MS (one log line). */
static void s_expire_requests(ccm_broker_t *b, service_t *s, int64_t now)
{
    size_t dropped = 0;
    while (s->head && now - s->head->at >= S_QUEUE_TTL_MS) {
        s_unqueue_head(b, s);
        dropped++;
    }
    if (dropped)
        ccm_warn("event=request_dropped service=%s count=%zu workers=%zu reason=\"no worker took "
                 "it within %d ms; the client retries\"",
                 s->name, dropped, s->workers, S_QUEUE_TTL_MS);
}

/* Hands queued requests of s to its workers while they have credit. */
static void s_dispatch(ccm_broker_t *b, service_t *s)
{
    s_expire_requests(b, s, s_now());
    while (s->head) {
        worker_t *w = s_pick(b, s);
        if (!w)
            return;
        int rc = s_forward_request(b, w, s->head->msg);
        int e = errno;
        if (rc == CCM_EAGAIN && e == EHOSTUNREACH) {
            s_worker_delete(b, w, false, "unreachable"); /* its connection is gone */
            continue;
        }
        if (rc == CCM_EAGAIN) {
            w->blocked = true; /* pipe full: try its siblings, then wait for it */
            continue;
        }
        if (rc != 0) {
            char peer[40];
            ccm_warn(
                "event=request_dropped service=%s client=%s error=\"%s\"", s->name,
                s_peer(ccm_frames_data(s->head->msg, 0), ccm_frames_len(s->head->msg, 0), peer),
                ccm_strerror(rc));
        }
        s_unqueue_head(b, s);
    }
}

/* ---- replies to clients ---- */

/* Sends "" · MDPC01 · service · body to client id, where body is the literal
 * `code` or, when code is NULL, frames [from, size) of src. */
static void s_client_reply(ccm_broker_t *b, const void *id, size_t id_len, const char *service,
                           const char *code, const ccm_frames_t *src, size_t from)
{
    ccm_frames_t *o = b->out;
    ccm_frames_clear(o);
    int rc = ccm_frames_push(o, id, id_len);
    if (!rc)
        rc = ccm_frames_push(o, "", 0);
    if (!rc)
        rc = ccm_frames_push_str(o, CCM_MDPC);
    if (!rc)
        rc = ccm_frames_push_str(o, service);
    if (!rc)
        rc = code ? ccm_frames_push_str(o, code) : ccm_frames_append_from(o, src, from);
    if (!rc)
        rc = ccm_frames_send(o, b->router, ZMQ_DONTWAIT);
    int e = errno;
    ccm_frames_clear(o);
    if (rc) {
        char peer[40];
        ccm_warn("event=reply_dropped service=%s client=%s reason=\"%s\"", service,
                 s_peer(id, id_len, peer),
                 rc != CCM_EAGAIN    ? ccm_strerror(rc)
                 : e == EHOSTUNREACH ? "the client is gone (it retries on a new socket)"
                                     : "the client's pipe is full");
    }
}

/* ---- messages from clients ---- */

/* 8/MMI: the broker answers mmi.* itself. */
static void s_on_mmi(ccm_broker_t *b, const ccm_mdp_client_view_t *v)
{
    ccm_frames_t *m = b->in;
    char service[CCM_SERVICE_MAX + 1];
    memcpy(service, v->service, v->service_len);
    service[v->service_len] = '\0';
    const char *code = "501"; /* unimplemented mmi.* service (8/MMI) */
    if (strcmp(service, CCM_MMI_SERVICE) == 0) {
        size_t nlen = ccm_frames_len(m, v->body);
        service_t *s = nlen > 0 && nlen <= CCM_SERVICE_MAX
                           ? s_service(b, ccm_frames_data(m, v->body), nlen)
                           : NULL;
        code = s && s->workers ? "200" : "404";
    }
    s_client_reply(b, ccm_frames_data(m, 0), ccm_frames_len(m, 0), service, code, NULL, 0);
}

static void s_on_client(ccm_broker_t *b, const ccm_mdp_client_view_t *v)
{
    ccm_frames_t *m = b->in;
    char peer[40];
    if (v->service_len >= 4 && memcmp(v->service, "mmi.", 4) == 0) {
        s_on_mmi(b, v);
        return;
    }
    service_t *s = s_service_require(b, v->service, v->service_len);
    if (!s)
        return;
    size_t bytes = 0;
    for (size_t i = 0; i < ccm_frames_size(m); i++)
        bytes += ccm_frames_len(m, i);
    if (s->queued >= S_QUEUE_MAX || b->held_bytes + bytes > S_HELD_BYTES_MAX) {
        ccm_warn("event=request_dropped service=%s client=%s reason=\"too many requests wait "
                 "(%zu for this service, %zu bytes in all)\"",
                 s->name, s_peer(ccm_frames_data(m, 0), ccm_frames_len(m, 0), peer), s->queued,
                 b->held_bytes);
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
    q->bytes = bytes;
    q->at = s_now();
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
    s->queued++;
    b->held_bytes += bytes;
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
    if (w) { /* any command is a heartbeat */
        w->expiry = s_now() + (int64_t)CCM_HEARTBEAT_MS * CCM_HEARTBEAT_LIVENESS;
        w->blocked = false;
    }

    switch (v->command) {
    case CCM_MDPW_READY: {
        if (w) { /* "The worker MUST NOT send a further READY" (7/MDP) */
            ccm_warn("event=bad_command worker=%s command=READY reason=\"already registered\"",
                     s_peer(id, id_len, peer));
            s_worker_delete(b, w, true, "ready_twice");
            return;
        }
        if (v->service_len >= 4 && memcmp(v->service, "mmi.", 4) == 0) {
            ccm_warn("event=bad_command peer=%s command=READY reason=\"mmi.* is the broker's "
                     "own namespace\"",
                     s_peer(id, id_len, peer));
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
            return;
        }
        if (!s_printable(v->service, v->service_len)) {
            ccm_warn("event=bad_command peer=%s command=READY reason=\"service name must be "
                     "printable ASCII\"",
                     s_peer(id, id_len, peer));
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
            return;
        }
        if (id_len > S_ID_MAX)
            return;
        service_t *s = s_service_require(b, v->service, v->service_len);
        if (!s || !(w = calloc(1, sizeof *w)))
            return;
        memcpy(w->id, id, id_len);
        w->id_len = id_len;
        w->service = s;
        w->expiry = s_now() + (int64_t)CCM_HEARTBEAT_MS * CCM_HEARTBEAT_LIVENESS;
        w->last_sent = b->dispatched; /* joins the turn order as if just served */
        w->next = b->workers;
        b->workers = w;
        s->workers++;
        ccm_info("event=worker_ready service=%s worker=%s workers=%zu", s->name,
                 s_peer(id, id_len, peer), s->workers);
        s_dispatch(b, s);
        return;
    }
    case CCM_MDPW_REPLY:
        if (!w) {
            ccm_warn("event=bad_command peer=%s command=REPLY reason=\"unknown worker (no "
                     "READY)\"",
                     s_peer(id, id_len, peer));
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
            return;
        }
        s_client_reply(b, v->client, v->client_len, w->service->name, NULL, m, v->body);
        if (w->outstanding > 0)
            w->outstanding--;
        s_dispatch(b, w->service);
        return;
    case CCM_MDPW_HEARTBEAT:
        if (!w) {
            ccm_debug("event=unknown_worker peer=%s command=HEARTBEAT action=disconnect",
                      s_peer(id, id_len, peer));
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
        }
        return;
    case CCM_MDPW_DISCONNECT:
        if (w)
            s_worker_delete(b, w, false, "disconnect");
        return;
    default: /* REQUEST: valid, but never from a worker */
        ccm_warn("event=bad_command peer=%s command=REQUEST reason=\"workers do not send "
                 "REQUEST\"",
                 s_peer(id, id_len, peer));
        if (w)
            s_worker_delete(b, w, true, "protocol_error");
        else
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
        return;
    }
}

/* Why a message that claims to be 7/MDP client (or worker) is malformed. */
static const char *s_client_problem(const ccm_frames_t *m)
{
    size_t n = ccm_frames_size(m);
    if (n < 4)
        return "malformed client request: no service frame";
    size_t slen = ccm_frames_len(m, 3);
    if (slen == 0)
        return "malformed client request: empty service name";
    if (slen > CCM_SERVICE_MAX)
        return "malformed client request: service name over 64 bytes";
    return "malformed client request: no body frame";
}

static const char *s_worker_problem(const ccm_frames_t *m)
{
    size_t n = ccm_frames_size(m);
    if (n < 4)
        return "malformed worker command: no command frame";
    if (ccm_frames_len(m, 3) != 1)
        return "malformed worker command: command frame is not one byte";
    unsigned char c = *(const unsigned char *)ccm_frames_data(m, 3);
    switch (c) {
    case CCM_MDPW_READY:
        return "malformed worker command: READY needs exactly one service "
               "name of 1-64 bytes";
    case CCM_MDPW_REQUEST:
    case CCM_MDPW_REPLY:
        return "malformed worker command: REQUEST/REPLY need client address, empty frame, body";
    case CCM_MDPW_HEARTBEAT:
    case CCM_MDPW_DISCONNECT:
        return "malformed worker command: HEARTBEAT/DISCONNECT take no frames";
    default: return "unknown worker command";
    }
}

static void s_on_router(ccm_broker_t *b)
{
    ccm_frames_t *m = b->in;
    char peer[40];
    size_t n = ccm_frames_size(m);
    const char *who = s_peer(ccm_frames_data(m, 0), ccm_frames_len(m, 0), peer);
    if (n >= 3 && ccm_frames_len(m, 1) == 0 && ccm_frames_eq(m, 2, CCM_MDPC)) {
        ccm_mdp_client_view_t v;
        if (ccm_mdp_parse_client(m, 1, &v) != 0) {
            ccm_warn("event=bad_message peer=%s protocol=MDPC01 reason=\"%s\" frames=%zu", who,
                     s_client_problem(m), n);
            return;
        }
        if (!s_printable(v.service, v.service_len)) { /* 7/MDP: a printable string */
            ccm_warn("event=bad_message peer=%s protocol=MDPC01 reason=\"malformed client "
                     "request: service name must be printable ASCII\"",
                     who);
            return;
        }
        s_on_client(b, &v);
    } else if (n >= 3 && ccm_frames_len(m, 1) == 0 && ccm_frames_eq(m, 2, CCM_MDPW)) {
        ccm_mdp_worker_view_t v;
        if (ccm_mdp_parse_worker(m, 1, &v) != 0) {
            const char *why = s_worker_problem(m);
            if (strcmp(why, "unknown worker command") == 0)
                ccm_warn("event=bad_message peer=%s protocol=MDPW01 reason=\"%s\" command=0x%02x",
                         who, why, *(const unsigned char *)ccm_frames_data(m, 3));
            else
                ccm_warn("event=bad_message peer=%s protocol=MDPW01 reason=\"%s\" frames=%zu", who,
                         why, n);
            /* 7/MDP: treat the peer as invalid */
            worker_t *w = s_worker(b, ccm_frames_data(m, 0), ccm_frames_len(m, 0));
            if (w)
                s_worker_delete(b, w, true, "protocol_error");
            return;
        }
        s_on_worker(b, &v);
    } else if (n >= 2 && (ccm_frames_eq(m, 1, CCM_MDPC) || ccm_frames_eq(m, 1, CCM_MDPW))) {
        ccm_warn("event=bad_message peer=%s reason=\"not 7/MDP: missing empty delimiter frame "
                 "before the protocol header\" frames=%zu",
                 who, n);
    } else {
        ccm_warn("event=bad_message peer=%s reason=\"not 7/MDP: wrong or missing protocol "
                 "header\" frames=%zu",
                 who, n);
    }
}

/* ---- time: expiry, held requests, heartbeats ---- */

static void s_on_timers(ccm_broker_t *b)
{
    int64_t now = s_now();
    for (worker_t *w = b->workers, *next; w; w = next) {
        next = w->next;
        if (now >= w->expiry)
            s_worker_delete(b, w, false, "expired");
    }
    for (service_t *s = b->services; s; s = s->next)
        s_expire_requests(b, s, now);
    s_service_gc(b);
    if (now >= b->heartbeat_at) {
        for (worker_t *w = b->workers; w; w = w->next)
            s_send_cmd(b, w->id, w->id_len, ccm_mdp_worker_heartbeat);
        b->heartbeat_at = now + CCM_HEARTBEAT_MS;
    }
}

/* Milliseconds until s_on_timers has something to do. */
static long s_poll_timeout(const ccm_broker_t *b)
{
    int64_t next = b->heartbeat_at;
    for (const worker_t *w = b->workers; w; w = w->next)
        if (w->expiry < next)
            next = w->expiry;
    for (const service_t *s = b->services; s; s = s->next)
        if (s->head && s->head->at + S_QUEUE_TTL_MS < next)
            next = s->head->at + S_QUEUE_TTL_MS;
    int64_t wait = next - s_now();
    return wait > 0 ? (long)wait : 0;
}

/* ---- doorbells: messages from `from` to `to`, all parts ---- */

static void s_forward(ccm_broker_t *b, void *from, void *to)
{
    for (int i = 0; i < S_DRAIN_MAX; i++) {
        int rc = ccm_frames_recv(b->in, from, ZMQ_DONTWAIT);
        if (rc == CCM_EAGAIN || rc == CCM_EIO)
            break;
        if (rc == 0) /* XPUB/XSUB never block; a lost doorbell costs a poll */
            ccm_frames_send(b->in, to, ZMQ_DONTWAIT);
    }
    ccm_frames_clear(b->in);
}

/* Logs one event of the ROUTER's monitor: frame 0 = u16 event + u32 value (the
 * socket's fd), frame 1 = the endpoint. ZeroMQ drops a connection that sends a
 * message over ZMQ_MAXMSGSIZE or breaks ZMTP without telling the application;
 * this is where we hear of it. */
static void s_on_monitor(ccm_broker_t *b)
{
    while (ccm_frames_recv(b->in, b->monitor, ZMQ_DONTWAIT) == 0) {
        if (ccm_frames_size(b->in) != 2 || ccm_frames_len(b->in, 0) != 6)
            continue;
        uint16_t event;
        uint32_t value;
        memcpy(&event, ccm_frames_data(b->in, 0), 2);
        memcpy(&value, (const char *)ccm_frames_data(b->in, 0) + 2, 4);
        int len = (int)ccm_frames_len(b->in, 1);
        const char *ep = ccm_frames_data(b->in, 1);
        if (event == ZMQ_EVENT_DISCONNECTED)
            ccm_debug("event=peer_disconnected endpoint=%.*s fd=%u reason=\"the peer closed, or "
                      "ZeroMQ dropped it: a message over max_msg_size or a ZMTP error\"",
                      len, ep, value);
        else
            ccm_warn("event=handshake_failed endpoint=%.*s code=%u reason=\"%s\"", len, ep, value,
                     event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                         ? "ZMTP protocol error (not a ZeroMQ peer, or garbage bytes)"
                     : event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "authentication refused"
                                                                : "handshake failed");
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
    if (!o->endpoint)
        return CCM_EINVAL;
    for (int i = 0; i < 3; i++)
        if (eps[i] && !ccm_wire_endpoint_is_local(eps[i])) {
            ccm_error("event=refused endpoint=%s reason=\"not a loopback address: binding it "
                      "needs CURVE keys, and this build has no CURVE support yet; use "
                      "tcp://127.0.0.1:PORT, tcp://[::1]:PORT or ipc://\"",
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
    int one = 1;
    if (!b->ctx || !b->in || !b->out)
        goto fail;
    if (!(b->router = s_bind(b, ZMQ_ROUTER, o->endpoint, o->maxmsgsize)))
        goto fail;
    if (zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)
        goto fail;
    if (o->doorbell_in && !(b->xsub = s_bind(b, ZMQ_XSUB, o->doorbell_in, o->maxmsgsize)))
        goto fail;
    if (o->doorbell_out && !(b->xpub = s_bind(b, ZMQ_XPUB, o->doorbell_out, o->maxmsgsize)))
        goto fail;
    if (zmq_socket_monitor(b->router, S_MONITOR_EP,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        !(b->monitor = zmq_socket(b->ctx, ZMQ_PAIR)) || zmq_connect(b->monitor, S_MONITOR_EP) != 0)
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
        while (s->head)
            s_unqueue_head(b, s);
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
        int rc = zmq_poll(items, nitems, s_poll_timeout(b));
        if (rc < 0) {
            if (zmq_errno() == EINTR)
                continue;
            ccm_error("event=poll_failed error=\"%s\"", zmq_strerror(zmq_errno()));
            return CCM_EIO;
        }
        /* Bounded drains so one busy socket cannot starve heartbeats. */
        for (int i = 0; i < S_DRAIN_MAX && (items[0].revents & ZMQ_POLLIN); i++) {
            int r = ccm_frames_recv(b->in, b->router, ZMQ_DONTWAIT);
            if (r == CCM_EAGAIN)
                break;
            if (r == CCM_EPROTO) {
                char peer[40];
                ccm_warn("event=bad_message peer=%s reason=\"more than %d frames\"",
                         s_peer(ccm_frames_data(b->in, 0), ccm_frames_len(b->in, 0), peer),
                         CCM_FRAMES_MAX);
                ccm_frames_clear(b->in);
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
                s_forward(b, b->xpub, b->xsub); /* subscriptions go upstream */
        }
        s_on_timers(b);
    }
    /* Tell workers we are going so they reconnect to our successor at once. */
    size_t n = 0;
    for (worker_t *w = b->workers; w; w = w->next, n++)
        s_send_cmd(b, w->id, w->id_len, ccm_mdp_worker_disconnect);
    ccm_info("event=stopping workers_disconnected=%zu", n);
    return 0;
}
