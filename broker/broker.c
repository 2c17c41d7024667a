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
 * equals, to the one that got work least recently, so workers take turns.
 *
 * With a key ([broker] key, allow) every socket is a CURVE server and the ZAP
 * handler, served in this thread, admits only the public keys of the allow
 * directory. Each message is checked again against the current list (its
 * connection's User-Id is the key), so a removed key is refused at once; the
 * principal stamped on a request is the key's entry at that moment; only a
 * service:NAME key may register as worker NAME. The list is re-read when the
 * directory changes (checked every S_ALLOW_CHECK_MS) and on SIGHUP. ZeroMQ can
 * not close one peer's connection of a bound socket, so when a key is removed
 * every socket is closed and bound again: the removed key cannot reconnect,
 * everyone else does (workers re-register within a heartbeat, clients retry). */
#include "broker.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ccm/auth.h"
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
/* Longest peer identity (ZeroMQ's limit is 255). */
#define S_ID_MAX 255
/* Monitor address of the ROUTER (one broker per context), numbered per binding. */
#define S_MONITOR_EP "inproc://ccm-broker-monitor-%u"
/* How often the allow directory is checked for changes: a change takes effect
 * within this (plus the time to re-read it), well inside the 5 s we promise. */
#define S_ALLOW_CHECK_MS 1000
/* A closed listening socket is released by ZeroMQ's I/O thread shortly after
 * zmq_close(); binding its endpoint again is retried this often, this long. */
#define S_REBIND_RETRY_MS 20
#define S_REBIND_WAIT_MS 3000
/* A peer without CURVE (or with it, to a broker without) reconnects every
 * 100 ms or so: that failure is logged at most this often (with a count). */
#define S_HANDSHAKE_LOG_MS 10000

typedef struct service service_t;

typedef struct worker {
    uint8_t id[S_ID_MAX]; /* ROUTER identity */
    size_t id_len;
    service_t *service;             /* borrowed */
    int64_t expiry;                 /* monotonic ms after which it is dead */
    size_t outstanding;             /* requests sent, not yet replied */
    uint64_t last_sent;             /* dispatch sequence number of its latest request (turns) */
    bool blocked;                   /* its pipe was full; skipped until it sends something */
    char key[CCM_AUTH_KEY_LEN + 1]; /* its connection's public key; "" without keys */
    struct worker *next;            /* in the broker's list of workers */
} worker_t;

typedef struct queued {
    ccm_frames_t *msg;                     /* identity · "" · MDPC01 · service · body… */
    size_t bytes;                          /* sum of the frames' sizes */
    int64_t at;                            /* monotonic ms it arrived */
    char key[CCM_AUTH_KEY_LEN + 1];        /* the client's public key; "" without keys */
    char principal[CCM_PRINCIPAL_MAX + 1]; /* stamped when it arrived */
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

    char *endpoint;     /* owned copies of the bind endpoints, for rebinding */
    char *doorbell_in;  /* or NULL */
    char *doorbell_out; /* or NULL */
    int64_t maxmsgsize;
    unsigned binding;         /* how many times the sockets were bound (monitor names) */
    int64_t handshake_logged; /* when a CURVE mismatch was last logged, monotonic ms */
    uint64_t handshake_quiet; /* CURVE mismatches not logged since */

    bool curve;              /* keys on: CURVE servers, ZAP, principals from the allow list */
    ccm_auth_cert_t own;     /* our key pair (curve) */
    char *allow_dir;         /* owned (curve) */
    ccm_auth_allow_t *allow; /* the admitted keys now (curve) */
    uint64_t allow_digest;   /* of allow_dir when it was read */
    int64_t allow_check_at;  /* next look at allow_dir, monotonic ms */
    ccm_auth_zap_t *zap;     /* the ZAP handler (curve) */
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
static int s_forward_request(ccm_broker_t *b, worker_t *w, const ccm_frames_t *m,
                             const char *principal)
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
        rc = ccm_frames_push_str(o, principal);
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
        int rc = s_forward_request(b, w, s->head->msg, s->head->principal);
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

/* who: the allow-list entry of the client's key, NULL without keys. */
static void s_on_client(ccm_broker_t *b, const ccm_mdp_client_view_t *v,
                        const ccm_auth_entry_t *who)
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
    snprintf(q->principal, sizeof q->principal, "%s", who ? who->principal : CCM_PRINCIPAL_DEV);
    if (who)
        memcpy(q->key, who->public_key, sizeof q->key);
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

/* who: the allow-list entry of the worker's key, NULL without keys. */
static void s_on_worker(ccm_broker_t *b, const ccm_mdp_worker_view_t *v,
                        const ccm_auth_entry_t *who)
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
        if (b->curve && (strlen(who->service) != v->service_len ||
                         memcmp(who->service, v->service, v->service_len) != 0)) {
            /* Only the service's own key may take its traffic. */
            ccm_warn("event=ready_refused peer=%s service=%.*s principal=%s reason=\"only a "
                     "service:%.*s key may register as %.*s\"",
                     s_peer(id, id_len, peer), (int)v->service_len, v->service, who->principal,
                     (int)v->service_len, v->service, (int)v->service_len, v->service);
            s_send_cmd(b, id, id_len, ccm_mdp_worker_disconnect);
            return;
        }
        service_t *s = s_service_require(b, v->service, v->service_len);
        if (!s || !(w = calloc(1, sizeof *w)))
            return;
        memcpy(w->id, id, id_len);
        w->id_len = id_len;
        w->service = s;
        if (who)
            memcpy(w->key, who->public_key, sizeof w->key);
        w->expiry = s_now() + (int64_t)CCM_HEARTBEAT_MS * CCM_HEARTBEAT_LIVENESS;
        w->last_sent = b->dispatched; /* joins the turn order as if just served */
        w->next = b->workers;
        b->workers = w;
        s->workers++;
        ccm_info("event=worker_ready service=%s worker=%s workers=%zu principal=%s", s->name,
                 s_peer(id, id_len, peer), s->workers, who ? who->principal : CCM_PRINCIPAL_DEV);
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

/* The allow-list entry of the key a message came with (its connection's ZAP
 * User-Id), or NULL when the key is no longer admitted. */
static const ccm_auth_entry_t *s_sender(const ccm_broker_t *b, const ccm_frames_t *m, size_t i)
{
    return ccm_auth_allow_find(b->allow, ccm_frames_meta(m, i, "User-Id"));
}

static void s_on_router(ccm_broker_t *b)
{
    ccm_frames_t *m = b->in;
    char peer[40];
    size_t n = ccm_frames_size(m);
    const char *who = s_peer(ccm_frames_data(m, 0), ccm_frames_len(m, 0), peer);
    const ccm_auth_entry_t *sender = NULL;
    if (b->curve && !(sender = s_sender(b, m, n - 1))) {
        /* Admitted at its handshake, removed since: nothing more gets through. */
        const char *uid = ccm_frames_meta(m, n - 1, "User-Id");
        ccm_warn("event=message_refused peer=%s key=%s reason=\"the key is no longer in the "
                 "allow directory\"",
                 who, uid ? uid : "-");
        worker_t *w = s_worker(b, ccm_frames_data(m, 0), ccm_frames_len(m, 0));
        if (w)
            s_worker_delete(b, w, true, "key_removed");
        return;
    }
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
        s_on_client(b, &v, sender);
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
        s_on_worker(b, &v, sender);
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

/* ---- the allow list: changes, removed keys ---- */

static int s_open_sockets(ccm_broker_t *b, bool retry);
static void s_close_sockets(ccm_broker_t *b);

/* Forgets every worker and held request, closes every socket and binds them
 * again: the only way ZeroMQ offers to close the connections of a removed key.
 * Workers and clients reconnect through a fresh handshake, where ZAP refuses
 * the removed key. CCM_EIO when an endpoint cannot be bound again (logged). */
static int s_rebind(ccm_broker_t *b, const char *why)
{
    size_t workers = 0, held = 0;
    while (b->workers) {
        s_worker_delete(b, b->workers, false, "rebind");
        workers++;
    }
    for (service_t *s = b->services; s; s = s->next)
        while (s->head) {
            s_unqueue_head(b, s); /* its client's connection goes: no reply could reach it */
            held++;
        }
    s_service_gc(b);
    s_close_sockets(b);
    ccm_info("event=rebind reason=\"%s\" workers_dropped=%zu requests_dropped=%zu", why, workers,
             held);
    return s_open_sockets(b, true);
}

/* Re-reads the allow directory when it changed (or when forced: SIGHUP). An
 * unreadable directory admits nobody: the broker fails closed. */
static int s_allow_reload(ccm_broker_t *b, bool force)
{
    uint64_t digest = ccm_auth_allow_digest(b->allow_dir);
    b->allow_check_at = s_now() + S_ALLOW_CHECK_MS;
    if (!force && digest == b->allow_digest)
        return 0;
    ccm_auth_allow_t *fresh = NULL;
    if (ccm_auth_allow_load(b->allow_dir, &fresh) != 0 &&
        !(fresh = ccm_auth_allow_new())) /* logged: admit nobody */
        return 0;                        /* out of memory: keep the list, try again */
    size_t removed = 0, added = 0;
    for (size_t i = 0; i < ccm_auth_allow_size(b->allow); i++) {
        const ccm_auth_entry_t *e = ccm_auth_allow_at(b->allow, i);
        const ccm_auth_entry_t *f = ccm_auth_allow_find(fresh, e->public_key);
        if (!f) {
            ccm_info("event=key_removed name=%s key=%s principal=%s", e->name, e->public_key,
                     e->principal);
            removed++;
        } else if (strcmp(f->principal, e->principal) != 0) {
            ccm_info("event=key_changed key=%s principal=%s was=%s", e->public_key, f->principal,
                     e->principal);
        }
    }
    for (size_t i = 0; i < ccm_auth_allow_size(fresh); i++) {
        const ccm_auth_entry_t *f = ccm_auth_allow_at(fresh, i);
        if (!ccm_auth_allow_find(b->allow, f->public_key)) {
            ccm_info("event=key_added name=%s key=%s principal=%s", f->name, f->public_key,
                     f->principal);
            added++;
        }
    }
    ccm_auth_allow_destroy(&b->allow);
    b->allow = fresh;
    b->allow_digest = digest;
    ccm_info("event=allow_loaded dir=%s keys=%zu added=%zu removed=%zu", b->allow_dir,
             ccm_auth_allow_size(fresh), added, removed);
    /* A worker whose key may no longer serve its service stops now. */
    for (worker_t *w = b->workers, *next; w; w = next) {
        next = w->next;
        const ccm_auth_entry_t *e = ccm_auth_allow_find(b->allow, w->key);
        if (!e || strcmp(e->service, w->service->name) != 0)
            s_worker_delete(b, w, true, "key_removed");
    }
    return removed ? s_rebind(b, "a key was removed from the allow directory") : 0;
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

/* Milliseconds until s_on_timers (or the allow check) has something to do. */
static long s_poll_timeout(const ccm_broker_t *b)
{
    int64_t next = b->heartbeat_at;
    if (b->curve && b->allow_check_at < next)
        next = b->allow_check_at;
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

/* With keys, a doorbell (topic = producer) is forwarded only from the
 * producer's own service key, and a subscription only from an admitted key:
 * nobody else can make followers fetch. */
static bool s_doorbell_allowed(const ccm_broker_t *b, bool upstream)
{
    if (!b->curve)
        return true;
    const ccm_auth_entry_t *e = s_sender(b, b->in, 0);
    if (!e)
        return false;
    if (upstream)
        return true;
    size_t n = strlen(e->service);
    return n > 0 && ccm_frames_len(b->in, 0) == n &&
           memcmp(ccm_frames_data(b->in, 0), e->service, n) == 0;
}

static void s_forward(ccm_broker_t *b, void *from, void *to, bool upstream)
{
    for (int i = 0; i < S_DRAIN_MAX; i++) {
        int rc = ccm_frames_recv(b->in, from, ZMQ_DONTWAIT);
        if (rc == CCM_EAGAIN || rc == CCM_EIO)
            break;
        if (rc != 0 || ccm_frames_size(b->in) == 0)
            continue;
        if (!s_doorbell_allowed(b, upstream)) {
            ccm_debug("event=doorbell_refused direction=%s reason=\"not the producer's service "
                      "key, or a key no longer admitted\"",
                      upstream ? "subscription" : "doorbell");
            continue;
        }
        ccm_frames_send(b->in, to, ZMQ_DONTWAIT); /* never blocks; a lost doorbell costs a poll */
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
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            ccm_debug("event=handshake_failed endpoint=%.*s code=%u reason=\"authentication "
                      "refused\"",
                      len, ep, value); /* the ZAP handler logged why */
        else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH && b->handshake_logged &&
                 s_now() - b->handshake_logged < S_HANDSHAKE_LOG_MS)
            b->handshake_quiet++; /* a misconfigured peer retrying: said already */
        else {
            ccm_warn("event=handshake_failed endpoint=%.*s code=%u reason=\"%s\" not_logged=%llu",
                     len, ep, value,
                     value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                         ? (b->curve ? "ZMTP protocol error: security mechanism mismatch (the "
                                       "peer does not use CURVE: it needs key and broker_key)"
                                     : "ZMTP protocol error: security mechanism mismatch (the "
                                       "peer uses CURVE, this broker has no key; or garbage)")
                     : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                         ? "ZMTP protocol error (not a ZeroMQ peer, garbage bytes, or the wrong "
                           "broker key)"
                         : "handshake failed",
                     (unsigned long long)b->handshake_quiet);
            if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
                b->handshake_logged = s_now();
                b->handshake_quiet = 0;
            }
        }
    }
    ccm_frames_clear(b->in);
}

/* ---- life cycle ---- */

/* A socket of type bound to ep with our options (CURVE server with keys). With
 * retry, an endpoint still held by the socket just closed is tried again. */
static void *s_bind(ccm_broker_t *b, int type, const char *ep, bool retry)
{
    void *s = zmq_socket(b->ctx, type);
    if (!s)
        return NULL;
    if (ccm_wire_socket_defaults(s, b->maxmsgsize) != 0 ||
        (b->curve && ccm_auth_curve_server(s, &b->own) != 0)) {
        zmq_close(s);
        return NULL;
    }
    for (int waited = 0;; waited += S_REBIND_RETRY_MS) {
        if (zmq_bind(s, ep) == 0)
            return s;
        if (!retry || zmq_errno() != EADDRINUSE || waited >= S_REBIND_WAIT_MS)
            break;
        struct timespec ts = {0, S_REBIND_RETRY_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    ccm_error("event=bind_failed endpoint=%s error=\"%s\"", ep, zmq_strerror(zmq_errno()));
    zmq_close(s);
    return NULL;
}

static void s_close_sockets(ccm_broker_t *b)
{
    void **socks[] = {&b->router, &b->xsub, &b->xpub, &b->monitor};
    for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++)
        if (*socks[i]) {
            zmq_close(*socks[i]);
            *socks[i] = NULL;
        }
}

static int s_open_sockets(ccm_broker_t *b, bool retry)
{
    int one = 1;
    char monitor[64];
    snprintf(monitor, sizeof monitor, S_MONITOR_EP, ++b->binding);
    if (!(b->router = s_bind(b, ZMQ_ROUTER, b->endpoint, retry)) ||
        zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)
        return CCM_EIO;
    if (b->doorbell_in && !(b->xsub = s_bind(b, ZMQ_XSUB, b->doorbell_in, retry)))
        return CCM_EIO;
    if (b->doorbell_out && !(b->xpub = s_bind(b, ZMQ_XPUB, b->doorbell_out, retry)))
        return CCM_EIO;
    if (zmq_socket_monitor(b->router, monitor,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        !(b->monitor = zmq_socket(b->ctx, ZMQ_PAIR)) || zmq_connect(b->monitor, monitor) != 0) {
        ccm_error("event=monitor_failed error=\"%s\"", zmq_strerror(zmq_errno()));
        return CCM_EIO;
    }
    return 0;
}

/* Loads our key and the allow list, and binds the ZAP handler: any failure
 * stops the start (logged), so a broker with a key never runs unchecked. */
static int s_auth_start(ccm_broker_t *b, const ccm_broker_opts_t *o)
{
    char err[512];
    int rc = ccm_auth_load_secret(o->key, &b->own, err, sizeof err);
    if (rc != 0) {
        ccm_error("event=key_refused setting=\"[broker] key\" error=\"%s\"", err);
        return CCM_EINVAL;
    }
    if (!(b->allow_dir = strdup(o->allow)))
        return CCM_ENOMEM;
    b->allow_digest = ccm_auth_allow_digest(b->allow_dir);
    if ((rc = ccm_auth_allow_load(b->allow_dir, &b->allow)) != 0)
        return rc; /* logged */
    if (ccm_auth_allow_size(b->allow) == 0)
        ccm_warn("event=allow_empty dir=%s reason=\"no certificate admitted: nobody can connect "
                 "until a NAME.pub made by `ccmctl keygen` is copied there\"",
                 b->allow_dir);
    b->allow_check_at = s_now() + S_ALLOW_CHECK_MS;
    /* Before any CURVE socket binds: without a handler ZeroMQ lets any key in. */
    return ccm_auth_zap_new(b->ctx, &b->zap);
}

int ccm_broker_new(const ccm_broker_opts_t *o, ccm_broker_t **out)
{
    *out = NULL;
    if (!o->endpoint)
        return CCM_EINVAL;
    bool curve = o->key && o->key[0];
    if (curve != (o->allow && o->allow[0])) {
        ccm_error("event=refused reason=\"%s\"",
                  curve ? "[broker] key needs allow = DIR, the directory of the admitted keys' "
                          ".pub certificates"
                        : "[broker] allow needs key = FILE.key, the broker's own key (make it "
                          "with `ccmctl keygen broker --dir DIR`)");
        return CCM_EINVAL;
    }
    const char *eps[] = {o->endpoint, o->doorbell_in, o->doorbell_out};
    static const char *const names[] = {"[broker] endpoint", "[broker] doorbell_in",
                                        "[broker] doorbell_out"};
    for (int i = 0; i < 3; i++)
        if (eps[i] && ccm_auth_endpoint_check(eps[i], curve, names[i]) != 0)
            return CCM_EINVAL;
    ccm_broker_t *b = calloc(1, sizeof *b);
    if (!b)
        return CCM_ENOMEM;
    b->curve = curve;
    b->maxmsgsize = o->maxmsgsize;
    b->ctx = zmq_ctx_new();
    b->in = ccm_frames_new();
    b->out = ccm_frames_new();
    b->endpoint = strdup(o->endpoint);
    b->doorbell_in = o->doorbell_in ? strdup(o->doorbell_in) : NULL;
    b->doorbell_out = o->doorbell_out ? strdup(o->doorbell_out) : NULL;
    int rc = CCM_ENOMEM;
    if (!b->ctx || !b->in || !b->out || !b->endpoint || (o->doorbell_in && !b->doorbell_in) ||
        (o->doorbell_out && !b->doorbell_out))
        goto fail;
    if (curve && (rc = s_auth_start(b, o)) != 0)
        goto fail;
    if ((rc = s_open_sockets(b, false)) != 0)
        goto fail;
    b->heartbeat_at = s_now() + CCM_HEARTBEAT_MS;
    *out = b;
    return 0;
fail:
    ccm_broker_destroy(&b);
    return rc;
}

size_t ccm_broker_keys(const ccm_broker_t *b)
{
    return b->curve ? ccm_auth_allow_size(b->allow) : 0;
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
    s_close_sockets(b);
    ccm_auth_zap_destroy(&b->zap);
    if (b->ctx)
        zmq_ctx_term(b->ctx);
    ccm_frames_destroy(&b->in);
    ccm_frames_destroy(&b->out);
    ccm_auth_allow_destroy(&b->allow);
    explicit_bzero(&b->own, sizeof b->own);
    free(b->allow_dir);
    free(b->endpoint);
    free(b->doorbell_in);
    free(b->doorbell_out);
    free(b);
    *p = NULL;
}

int ccm_broker_run(ccm_broker_t *b, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload)
{
    while (!*stop) {
        /* Rebuilt every round: a rebind replaces the sockets. */
        zmq_pollitem_t items[5] = {{b->router, 0, ZMQ_POLLIN, 0},
                                   {b->monitor, 0, ZMQ_POLLIN, 0},
                                   {b->zap ? ccm_auth_zap_socket(b->zap) : NULL, 0, ZMQ_POLLIN, 0},
                                   {b->xsub, 0, ZMQ_POLLIN, 0},
                                   {b->xpub, 0, ZMQ_POLLIN, 0}};
        int nitems = b->xsub && b->xpub ? 5 : 3;
        if (!b->zap) { /* keep the doorbell sockets at 2 and 3 */
            items[2] = items[3];
            items[3] = items[4];
            nitems--;
        }
        int rc = zmq_poll(items, nitems, s_poll_timeout(b));
        if (rc < 0) {
            if (zmq_errno() != EINTR) {
                ccm_error("event=poll_failed error=\"%s\"", zmq_strerror(zmq_errno()));
                return CCM_EIO;
            }
            for (int i = 0; i < nitems; i++)
                items[i].revents = 0;
        }
        int db = b->zap ? 3 : 2; /* index of the doorbell XSUB */
        /* Handshakes first: a peer waiting for ZAP waits for nothing else. */
        if (b->zap && (items[2].revents & ZMQ_POLLIN))
            ccm_auth_zap_handle(b->zap, b->allow);
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
        if (nitems > db) {
            if (items[db].revents & ZMQ_POLLIN)
                s_forward(b, b->xsub, b->xpub, false);
            if (items[db + 1].revents & ZMQ_POLLIN)
                s_forward(b, b->xpub, b->xsub, true); /* subscriptions go upstream */
        }
        s_on_timers(b);
        if (b->curve) {
            bool forced = reload && *reload;
            if (forced)
                *reload = 0;
            if ((forced || s_now() >= b->allow_check_at) && s_allow_reload(b, forced) != 0)
                return CCM_EIO; /* an endpoint could not be bound again: logged */
        }
    }
    /* Tell workers we are going so they reconnect to our successor at once. */
    size_t n = 0;
    for (worker_t *w = b->workers; w; w = w->next, n++)
        s_send_cmd(b, w->id, w->id_len, ccm_mdp_worker_disconnect);
    ccm_info("event=stopping workers_disconnected=%zu", n);
    return 0;
}
