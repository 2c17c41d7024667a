/* worker — the service host (see worker.h).
 * Invariants: a reply leaves only after the transaction holding its effect
 * committed; a request_id seen before gets its remembered reply and changes
 * nothing; the loop never blocks on a peer (sends are non-blocking). */
#include "ccm/worker.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/wire.h"

/* Longest principal accepted from the broker (bytes). */
#define S_PRINCIPAL_MAX CCM_PRINCIPAL_MAX
/* Pause before reconnecting to a broker that went silent. */
#define S_RECONNECT_MS 250
/* A DISCONNECT this soon after READY is a refusal (with keys: a key that may not
 * serve this service); registering again is then delayed, doubling from
 * S_RECONNECT_MS up to S_REFUSED_MAX_MS, instead of spinning. */
#define S_REFUSED_WINDOW_MS 1000
#define S_REFUSED_MAX_MS 5000
/* Followed streams and periodic tasks per worker. */
#define S_FOLLOW_MAX 8
#define S_TICK_MAX 4
/* A followed stream is fetched this often without a doorbell, and a FETCH
 * without reply is given up (socket renewed) after S_FETCH_TIMEOUT_MS. */
#define S_FOLLOW_POLL_MS 1000
#define S_FETCH_TIMEOUT_MS 5000
/* Events asked for per FETCH of a followed stream. */
#define S_FOLLOW_BATCH 500

typedef struct {
    ccm_frames_t *frames; /* the REQUEST as received */
    const void *client;   /* borrowed from frames */
    size_t client_len;
    char principal[S_PRINCIPAL_MAX + 1];
    char request_id[CCM_REQUEST_ID_MAX + 1];
    ccm_worker_call_t call; /* what the handler sees and answers */
} item_t;

/* Another service's stream this worker applies (ccm_worker_follow). */
typedef struct {
    char producer[CCM_SERVICE_MAX + 1];
    char **types; /* owned FETCH filters */
    size_t ntypes;
    ccm_worker_event_fn fn;
    void *ctx;
    uint64_t cursor;      /* next seq to apply; mirrors CCM_CURSOR_DB */
    bool inflight;        /* a FETCH is out */
    bool want;            /* fetch again as soon as possible */
    int64_t sent_ms;      /* when the FETCH went out (monotonic) */
    int64_t next_poll_ms; /* fetch anyway at this time */
} follow_t;

typedef struct {
    ccm_worker_tick_fn fn;
    void *ctx;
    int interval_ms;
    int64_t next_ms; /* next run (monotonic) */
} tick_t;

/* A batch item that applies events of a followed stream, or runs a tick. */
typedef struct {
    follow_t *follow;             /* events: which stream */
    const Ccm__FetchReply *reply; /* events: borrowed */
    tick_t *tick;                 /* tick: which task */
    int64_t now_us;               /* tick: its time */
} feed_t;

struct ccm_worker {
    char *service;  /* owned */
    char *broker;   /* owned */
    char *doorbell; /* owned, or NULL */
    ccm_worker_handler_fn handle;
    void *ctx;
    size_t batch_max;
    long long maxmsgsize;
    ccm_store_t *store;
    ccm_stream_t *stream;
    MDB_dbi idem;
    void *zctx;
    void *sock;       /* DEALER to the broker */
    void *pub;        /* PUB to the broker's doorbell_in, or NULL */
    item_t *items;    /* batch_max slots */
    void **item_ptrs; /* the same, as the store batch wants them */
    int *item_rc;
    ccm_frames_t *out;  /* scratch for outgoing messages */
    uint64_t last_rung; /* stream seq of the last doorbell */
    char *subscribe;    /* owned broker doorbell_out endpoint, or NULL */
    MDB_dbi cursors;    /* CCM_CURSOR_DB */
    follow_t follows[S_FOLLOW_MAX];
    size_t nfollows;
    tick_t ticks[S_TICK_MAX];
    size_t nticks;
    void *fetch_sock;  /* DEALER client socket for FETCHes of followed streams */
    void *sub;         /* SUB to the broker's doorbell_out, or NULL */
    ccm_frames_t *fin; /* scratch: FETCH replies and doorbells */
    /* stats */
    uint64_t requests;
    uint64_t batches;
    uint64_t commit_us_last;
    uint64_t commit_us_max;
    int64_t started_us;

    bool curve_on;          /* every socket is a CURVE client with `curve` */
    ccm_auth_curve_t curve; /* our keys and the broker's public key */
};

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- replies ---- */

int ccm_worker_reply_bytes(ccm_worker_call_t *call, const void *bytes, size_t len)
{
    void *r = malloc(len ? len : 1);
    if (!r)
        return CCM_ENOMEM;
    memcpy(r, bytes, len);
    free(call->reply);
    call->reply = r;
    call->reply_len = len;
    return 0;
}

int ccm_worker_reply_msg(ccm_worker_call_t *call, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    void *r = malloc(len ? len : 1);
    if (!r)
        return CCM_ENOMEM;
    protobuf_c_message_pack(msg, r);
    free(call->reply);
    call->reply = r;
    call->reply_len = len;
    return 0;
}

static int s_reply_status(ccm_worker_call_t *call, Ccm__Code code, const char *field,
                          const char *message)
{
    Ccm__Status st = CCM__STATUS__INIT;
    st.code = code;
    st.field = (char *)(field ? field : "");
    st.message = (char *)message;
    Ccm__CommonReply r = CCM__COMMON_REPLY__INIT;
    r.request_id = (char *)call->request_id;
    r.status = &st;
    return ccm_worker_reply_msg(call, &r.base);
}

int ccm_worker_fail(ccm_worker_call_t *call, int rc, Ccm__Code code, const char *field,
                    const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s_reply_status(call, code, field, msg) != 0)
        return CCM_ENOMEM;
    return rc;
}

/* Every service's Reply starts like ccm.CommonReply (request_id = 1, status = 2),
 * so the two fields are found through the descriptor and set only for packing:
 * the caller's message is left as it was (it may be a stack value or unpacked). */
int ccm_worker_reply_ok(ccm_worker_call_t *call, ProtobufCMessage *reply)
{
    const ProtobufCMessageDescriptor *d = reply->descriptor;
    const ProtobufCFieldDescriptor *fid =
        protobuf_c_message_descriptor_get_field_by_name(d, "request_id");
    const ProtobufCFieldDescriptor *fst =
        protobuf_c_message_descriptor_get_field_by_name(d, "status");
    /* A programmer error: the message is not a service Reply. */
    assert(fid && fid->id == 1 && fid->type == PROTOBUF_C_TYPE_STRING &&
           fid->label != PROTOBUF_C_LABEL_REPEATED);
    assert(fst && fst->id == 2 && fst->type == PROTOBUF_C_TYPE_MESSAGE &&
           fst->label != PROTOBUF_C_LABEL_REPEATED && fst->descriptor == &ccm__status__descriptor);
    char **rid = (char **)((char *)reply + fid->offset);
    Ccm__Status **status = (Ccm__Status **)((char *)reply + fst->offset);
    char *old_rid = *rid;
    Ccm__Status *old_status = *status;
    Ccm__Status st = CCM__STATUS__INIT;
    st.message = "";
    st.field = "";
    *rid = (char *)call->request_id;
    *status = &st;
    int rc = ccm_worker_reply_msg(call, reply);
    *rid = old_rid;
    *status = old_status;
    return rc;
}

int ccm_worker_store_fail(ccm_worker_call_t *call, int rc)
{
    if (rc == CCM_EMAPFULL)
        return rc;
    ccm_error("event=store_error error=\"%s\"", ccm_strerror(rc));
    return ccm_worker_fail(call, rc, CCM__CODE__INTERNAL, NULL, "store: %s", ccm_strerror(rc));
}

int ccm_worker_require_request_id(ccm_worker_call_t *call)
{
    if (call->request_id[0])
        return 0;
    return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "request_id",
                           "request_id: required on every change (it makes retries safe)");
}

/* ---- FETCH and stats, served for every service ---- */

static int s_fetch(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                   const Ccm__FetchRequest *req)
{
    Ccm__FetchReply fr = CCM__FETCH_REPLY__INIT;
    int rc = ccm_stream_fetch(w->stream, txn, req, &fr);
    if (rc == CCM_EINVAL)
        return ccm_worker_fail(call, rc, CCM__CODE__INVALID_ARGUMENT, "fetch.types",
                               "fetch.types: each filter is a type name or \"prefix.*\"");
    if (rc != 0)
        return ccm_worker_fail(call, rc, CCM__CODE__INTERNAL, NULL, "fetch: store error: %s",
                               ccm_strerror(rc));
    Ccm__CommonReply r = CCM__COMMON_REPLY__INIT;
    r.result_case = CCM__COMMON_REPLY__RESULT_FETCH;
    r.fetch = &fr;
    rc = ccm_worker_reply_ok(call, &r.base);
    ccm_stream_fetch_clear(&fr);
    return rc;
}

static int s_stats(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call)
{
    Ccm__StatsReply sr = CCM__STATS_REPLY__INIT;
    sr.service = w->service;
    sr.requests = w->requests;
    sr.batches = w->batches;
    sr.commit_us_last = w->commit_us_last;
    sr.commit_us_max = w->commit_us_max;
    sr.started_us = w->started_us;
    sr.schema_version = ccm_store_schema_version(w->store);
    if (ccm_stream_last_seq(w->stream, txn, &sr.stream_seq) != 0)
        sr.stream_seq = 0;
    ccm_store_usage(w->store, &sr.map_size, &sr.map_used);
    Ccm__Cursor cursors[S_FOLLOW_MAX], *cp[S_FOLLOW_MAX];
    for (size_t i = 0; i < w->nfollows; i++) {
        ccm__cursor__init(&cursors[i]);
        cursors[i].producer = w->follows[i].producer;
        cursors[i].next_seq = w->follows[i].cursor;
        cp[i] = &cursors[i];
    }
    sr.cursors = cp;
    sr.n_cursors = w->nfollows;
    Ccm__CommonReply r = CCM__COMMON_REPLY__INIT;
    r.result_case = CCM__COMMON_REPLY__RESULT_STATS;
    r.stats = &sr;
    return ccm_worker_reply_ok(call, &r.base);
}

/* ---- one request, inside the batch ---- */

static void s_idem_key(ccm_key_t *k, const item_t *it)
{
    ccm_key_init(k);
    ccm_key_str(k, it->principal);
    ccm_key_str(k, it->request_id);
}

static int s_apply(MDB_txn *txn, void *itemp, void *ctxp)
{
    item_t *it = itemp;
    ccm_worker_t *w = ctxp;
    ccm_worker_call_t *call = &it->call;
    /* A replay starts from nothing: the earlier run's reply is void. */
    free(call->reply);
    call->reply = NULL;
    call->reply_len = 0;
    call->remember = false;
    it->request_id[0] = '\0';

    Ccm__CommonRequest *cr = ccm__common_request__unpack(NULL, call->len, call->body);
    if (!cr)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "body",
                               "body: not a valid %s request (protobuf decode failed)", w->service);
    size_t rlen = strlen(cr->request_id);
    if (rlen > CCM_REQUEST_ID_MAX) {
        ccm__common_request__free_unpacked(cr, NULL);
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "request_id",
                               "request_id: longer than %d bytes", CCM_REQUEST_ID_MAX);
    }
    memcpy(it->request_id, cr->request_id, rlen + 1);
    int rc;
    switch (cr->op_case) {
    case CCM__COMMON_REQUEST__OP_FETCH:
        rc = s_fetch(w, txn, call, cr->fetch);
        ccm__common_request__free_unpacked(cr, NULL);
        return rc;
    case CCM__COMMON_REQUEST__OP_STATS:
        ccm__common_request__free_unpacked(cr, NULL);
        return s_stats(w, txn, call);
    default: ccm__common_request__free_unpacked(cr, NULL); break;
    }

    ccm_key_t k;
    if (it->request_id[0]) {
        s_idem_key(&k, it);
        MDB_val v;
        rc = ccm_store_get(txn, w->idem, k.buf, k.len, &v);
        if (rc == 0)
            return ccm_worker_reply_bytes(call, v.mv_data, v.mv_size);
        if (rc != CCM_ENOTFOUND)
            return ccm_worker_fail(call, rc, CCM__CODE__INTERNAL, NULL, "store: %s",
                                   ccm_strerror(rc));
    }
    rc = w->handle(w, txn, call, w->ctx);
    if (rc == CCM_EMAPFULL)
        return rc;
    if (!call->reply) {
        ccm_error("event=handler_no_reply service=%s rc=%d", w->service, rc);
        return ccm_worker_fail(call, rc ? rc : CCM_EINVAL, CCM__CODE__INTERNAL, NULL,
                               "internal: the handler gave no reply");
    }
    if (rc == 0 && call->remember && it->request_id[0]) {
        rc = ccm_store_put(txn, w->idem, k.buf, k.len, call->reply, call->reply_len, 0);
        if (rc == CCM_EMAPFULL)
            return rc;
        if (rc != 0)
            return ccm_worker_fail(call, rc, CCM__CODE__INTERNAL, NULL, "store: %s",
                                   ccm_strerror(rc));
    }
    return rc;
}

/* ---- sockets ---- */

static int s_send_cmd(ccm_worker_t *w, int (*build)(ccm_frames_t *))
{
    int rc = build(w->out);
    return rc ? rc : ccm_frames_send(w->out, w->sock, ZMQ_DONTWAIT);
}

static int s_ready(ccm_frames_t *out, const char *service)
{
    return ccm_mdp_worker_ready(out, service);
}

/* A new socket of type connected to ep with our options (CURVE with keys), or
 * NULL (the caller logs). */
static void *s_socket(ccm_worker_t *w, int type, const char *ep)
{
    void *s = zmq_socket(w->zctx, type);
    if (!s)
        return NULL;
    if (ccm_wire_socket_defaults(s, w->maxmsgsize) != 0 ||
        (w->curve_on && ccm_auth_curve_client(s, &w->curve) != 0) || zmq_connect(s, ep) != 0) {
        int e = zmq_errno();
        zmq_close(s);
        errno = e;
        return NULL;
    }
    return s;
}

static int s_connect(ccm_worker_t *w)
{
    if (w->sock)
        zmq_close(w->sock);
    w->sock = s_socket(w, ZMQ_DEALER, w->broker);
    if (!w->sock) {
        ccm_error("event=connect_failed broker=%s error=\"%s\"", w->broker,
                  zmq_strerror(zmq_errno()));
        return CCM_EIO;
    }
    int rc = s_ready(w->out, w->service);
    if (rc == 0)
        rc = ccm_frames_send(w->out, w->sock, ZMQ_DONTWAIT);
    ccm_info("event=ready broker=%s service=%s", w->broker, w->service);
    return rc == CCM_EAGAIN ? 0 : rc;
}

/* ---- life cycle ---- */

int ccm_worker_new(const ccm_worker_opts_t *o, ccm_worker_t **out)
{
    *out = NULL;
    if (!o || !o->service || !o->broker || !o->data_dir || !o->handle ||
        strlen(o->service) > CCM_SERVICE_MAX)
        return CCM_EINVAL;
    ccm_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return CCM_ENOMEM;
    w->service = strdup(o->service);
    w->broker = strdup(o->broker);
    w->doorbell = o->doorbell ? strdup(o->doorbell) : NULL;
    w->subscribe = o->subscribe ? strdup(o->subscribe) : NULL;
    w->fin = ccm_frames_new();
    w->handle = o->handle;
    w->ctx = o->ctx;
    w->batch_max = o->batch_max ? o->batch_max : 256;
    w->maxmsgsize = o->maxmsgsize;
    if (o->curve) {
        w->curve_on = true;
        w->curve = *o->curve;
    }
    w->started_us = s_now_us();
    w->items = calloc(w->batch_max, sizeof *w->items);
    w->item_ptrs = calloc(w->batch_max, sizeof *w->item_ptrs);
    w->item_rc = calloc(w->batch_max, sizeof *w->item_rc);
    w->out = ccm_frames_new();
    int rc = CCM_ENOMEM;
    if (!w->service || !w->broker || (o->doorbell && !w->doorbell) ||
        (o->subscribe && !w->subscribe) || !w->fin || !w->items || !w->item_ptrs || !w->item_rc ||
        !w->out)
        goto fail;
    for (size_t i = 0; i < w->batch_max; i++) {
        w->items[i].frames = ccm_frames_new();
        if (!w->items[i].frames)
            goto fail;
        w->item_ptrs[i] = &w->items[i];
    }

    /* The service's databases plus the two the host owns. */
    size_t n = 0;
    while (o->dbs && o->dbs[n])
        n++;
    const char **dbs = calloc(n + 4, sizeof *dbs);
    if (!dbs)
        goto fail;
    for (size_t i = 0; i < n; i++)
        dbs[i] = o->dbs[i];
    dbs[n] = CCM_STREAM_DB;
    dbs[n + 1] = CCM_IDEM_DB;
    dbs[n + 2] = CCM_CURSOR_DB;
    ccm_store_opts_t so = {.path = o->data_dir, .dbs = dbs, .schema_version = o->schema_version};
    rc = ccm_store_open(&so, &w->store);
    free(dbs);
    if (rc != 0)
        goto fail;
    if ((rc = ccm_store_dbi(w->store, CCM_IDEM_DB, &w->idem)) != 0 ||
        (rc = ccm_store_dbi(w->store, CCM_CURSOR_DB, &w->cursors)) != 0 ||
        (rc = ccm_stream_open(w->store, w->service, &w->stream)) != 0)
        goto fail;

    rc = CCM_EIO;
    w->zctx = zmq_ctx_new();
    if (!w->zctx)
        goto fail;
    if (s_connect(w) != 0)
        goto fail;
    if (w->doorbell) {
        w->pub = s_socket(w, ZMQ_PUB, w->doorbell);
        if (!w->pub) {
            ccm_error("event=doorbell_connect_failed endpoint=%s error=\"%s\"", w->doorbell,
                      zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    *out = w;
    return 0;
fail:
    ccm_worker_destroy(&w);
    return rc;
}

void ccm_worker_destroy(ccm_worker_t **p)
{
    if (!p || !*p)
        return;
    ccm_worker_t *w = *p;
    if (w->sock)
        zmq_close(w->sock);
    if (w->pub)
        zmq_close(w->pub);
    if (w->fetch_sock)
        zmq_close(w->fetch_sock);
    if (w->sub)
        zmq_close(w->sub);
    for (size_t i = 0; i < w->nfollows; i++) {
        for (size_t k = 0; k < w->follows[i].ntypes; k++)
            free(w->follows[i].types[k]);
        free(w->follows[i].types);
    }
    ccm_frames_destroy(&w->fin);
    free(w->subscribe);
    if (w->zctx)
        zmq_ctx_term(w->zctx);
    if (w->items)
        for (size_t i = 0; i < w->batch_max; i++) {
            ccm_frames_destroy(&w->items[i].frames);
            free(w->items[i].call.reply);
        }
    free(w->items);
    free(w->item_ptrs);
    free(w->item_rc);
    ccm_frames_destroy(&w->out);
    ccm_stream_destroy(&w->stream);
    ccm_store_destroy(&w->store);
    explicit_bzero(&w->curve, sizeof w->curve);
    free(w->service);
    free(w->broker);
    free(w->doorbell);
    free(w);
    *p = NULL;
}

ccm_store_t *ccm_worker_store(ccm_worker_t *w)
{
    return w->store;
}

ccm_stream_t *ccm_worker_stream(ccm_worker_t *w)
{
    return w->stream;
}

const char *ccm_worker_service(const ccm_worker_t *w)
{
    return w->service;
}

static void s_ring(ccm_worker_t *w);

/* ---- followed streams and periodic tasks ---- */

static follow_t *s_follow_find(ccm_worker_t *w, const char *producer, size_t len)
{
    for (size_t i = 0; i < w->nfollows; i++)
        if (strlen(w->follows[i].producer) == len &&
            memcmp(w->follows[i].producer, producer, len) == 0)
            return &w->follows[i];
    return NULL;
}

int ccm_worker_follow(ccm_worker_t *w, const char *producer, const char *const *types,
                      ccm_worker_event_fn fn, void *ctx)
{
    if (!producer || !*producer || strlen(producer) > CCM_SERVICE_MAX || !fn ||
        w->nfollows == S_FOLLOW_MAX || s_follow_find(w, producer, strlen(producer)))
        return CCM_EINVAL;
    follow_t *f = &w->follows[w->nfollows];
    memset(f, 0, sizeof *f);
    snprintf(f->producer, sizeof f->producer, "%s", producer);
    size_t n = 0;
    while (types && types[n])
        n++;
    if (n) {
        f->types = calloc(n, sizeof *f->types);
        if (!f->types)
            return CCM_ENOMEM;
        for (; f->ntypes < n; f->ntypes++)
            if (!(f->types[f->ntypes] = strdup(types[f->ntypes]))) {
                for (size_t k = 0; k < f->ntypes; k++)
                    free(f->types[k]);
                free(f->types);
                f->types = NULL;
                f->ntypes = 0;
                return CCM_ENOMEM;
            }
    }
    f->fn = fn;
    f->ctx = ctx;
    f->want = true;
    MDB_txn *txn;
    int rc = ccm_store_read_begin(w->store, &txn);
    if (rc == 0) {
        rc = ccm_cursor_get(txn, w->cursors, producer, &f->cursor);
        mdb_txn_abort(txn);
    }
    if (rc != 0)
        return rc;
    w->nfollows++;
    ccm_info("event=follow producer=%s from_seq=%llu", producer, (unsigned long long)f->cursor);
    return 0;
}

uint64_t ccm_worker_cursor(ccm_worker_t *w, const char *producer)
{
    follow_t *f = s_follow_find(w, producer, strlen(producer));
    return f ? f->cursor : 1;
}

int ccm_worker_every(ccm_worker_t *w, int interval_ms, ccm_worker_tick_fn fn, void *ctx)
{
    if (interval_ms <= 0 || !fn || w->nticks == S_TICK_MAX)
        return CCM_EINVAL;
    w->ticks[w->nticks++] = (tick_t){fn, ctx, interval_ms, 0};
    return 0;
}

/* Batch item: apply a FETCH reply's events (each in its own nested transaction,
 * so a failing event rolls back alone) and move the cursor in the same
 * transaction; or run one tick. */
static int s_apply_feed(MDB_txn *txn, void *itemp, void *ctxp)
{
    feed_t *it = itemp;
    ccm_worker_t *w = ctxp;
    if (it->tick)
        return it->tick->fn(w, txn, it->now_us, it->tick->ctx);
    follow_t *f = it->follow;
    const Ccm__FetchReply *r = it->reply;
    if (r->next_seq <= f->cursor)
        return 0; /* nothing new (a stale or repeated reply) */
    for (size_t i = 0; i < r->n_events; i++) {
        const Ccm__Envelope *ev = r->events[i];
        if (ev->seq < f->cursor)
            continue;
        MDB_txn *child;
        if (mdb_txn_begin(ccm_store_env(w->store), txn, 0, &child) != 0)
            return CCM_EIO;
        int rc = f->fn(w, child, ev, f->ctx);
        if (rc == 0) {
            rc = mdb_txn_commit(child);
            if (rc == MDB_MAP_FULL)
                return CCM_EMAPFULL;
            if (rc != 0)
                return CCM_EIO;
            continue;
        }
        mdb_txn_abort(child);
        if (rc == CCM_EMAPFULL)
            return rc;
        ccm_warn("event=follow_event_skipped producer=%s seq=%llu type=%s error=\"%s\"",
                 f->producer, (unsigned long long)ev->seq, ev->type, ccm_strerror(rc));
    }
    return ccm_cursor_set(txn, w->cursors, f->producer, r->next_seq);
}

static int s_run_feed(ccm_worker_t *w, feed_t *item)
{
    void *ptr = item;
    int item_rc = 0;
    int rc = ccm_store_batch(w->store, &ptr, 1, s_apply_feed, w, &item_rc);
    if (rc == 0 && item_rc != 0)
        rc = item_rc;
    if (rc != 0) {
        ccm_error("event=%s_failed %s%s error=\"%s\"", item->tick ? "tick" : "follow",
                  item->follow ? "producer=" : "", item->follow ? item->follow->producer : "",
                  ccm_strerror(rc));
        return rc;
    }
    if (item->follow && item->reply->next_seq > item->follow->cursor)
        item->follow->cursor = item->reply->next_seq;
    s_ring(w);
    return 0;
}

int ccm_worker_feed(ccm_worker_t *w, const char *producer, const Ccm__FetchReply *reply)
{
    follow_t *f = s_follow_find(w, producer, strlen(producer));
    if (!f)
        return CCM_ENOTFOUND;
    feed_t item = {.follow = f, .reply = reply};
    return s_run_feed(w, &item);
}

static int s_fetch_connect(ccm_worker_t *w)
{
    if (w->fetch_sock)
        zmq_close(w->fetch_sock);
    w->fetch_sock = s_socket(w, ZMQ_DEALER, w->broker);
    if (!w->fetch_sock) {
        ccm_error("event=connect_failed broker=%s error=\"%s\"", w->broker,
                  zmq_strerror(zmq_errno()));
        return CCM_EIO;
    }
    return 0;
}

/* Sets up the sockets of followed streams (at the start of run). */
static int s_follow_start(ccm_worker_t *w)
{
    if (w->nfollows == 0)
        return 0;
    if (s_fetch_connect(w) != 0)
        return CCM_EIO;
    if (w->subscribe) {
        w->sub = s_socket(w, ZMQ_SUB, w->subscribe);
        if (!w->sub) {
            ccm_error("event=subscribe_failed endpoint=%s error=\"%s\"", w->subscribe,
                      zmq_strerror(zmq_errno()));
            return CCM_EIO;
        }
        for (size_t i = 0; i < w->nfollows; i++)
            zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, w->follows[i].producer,
                           strlen(w->follows[i].producer));
    }
    return 0;
}

/* Sends a FETCH for every followed stream that wants one and has none out. */
static void s_follow_kick(ccm_worker_t *w, int64_t now)
{
    for (size_t i = 0; i < w->nfollows; i++) {
        follow_t *f = &w->follows[i];
        if (f->inflight && now - f->sent_ms > S_FETCH_TIMEOUT_MS) {
            ccm_warn("event=fetch_timeout producer=%s from_seq=%llu", f->producer,
                     (unsigned long long)f->cursor);
            s_fetch_connect(w); /* replies to the old socket are dropped with it */
            for (size_t k = 0; k < w->nfollows; k++)
                w->follows[k].inflight = false, w->follows[k].want = true;
        }
        if (f->inflight || (!f->want && now < f->next_poll_ms))
            continue;
        Ccm__FetchRequest fr = CCM__FETCH_REQUEST__INIT;
        fr.from_seq = f->cursor;
        fr.max = S_FOLLOW_BATCH;
        fr.n_types = f->ntypes;
        fr.types = f->types;
        Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
        req.op_case = CCM__COMMON_REQUEST__OP_FETCH;
        req.fetch = &fr;
        uint8_t buf[4096];
        if (ccm__common_request__get_packed_size(&req) > sizeof buf)
            continue;
        size_t len = ccm__common_request__pack(&req, buf);
        if (ccm_mdp_client_request(w->out, f->producer, buf, len) != 0 ||
            ccm_frames_send(w->out, w->fetch_sock, ZMQ_DONTWAIT) != 0)
            continue;
        f->inflight = true;
        f->want = false;
        f->sent_ms = now;
        f->next_poll_ms = now + S_FOLLOW_POLL_MS;
    }
}

/* Applies every FETCH reply waiting on the fetch socket. */
static void s_follow_replies(ccm_worker_t *w)
{
    while (ccm_frames_recv(w->fin, w->fetch_sock, ZMQ_DONTWAIT) == 0) {
        ccm_mdp_client_view_t v;
        follow_t *f = NULL;
        if (ccm_mdp_parse_client(w->fin, 0, &v) == 0)
            f = s_follow_find(w, v.service, v.service_len);
        if (!f || !f->inflight) {
            ccm_frames_clear(w->fin);
            continue;
        }
        f->inflight = false;
        size_t last = ccm_frames_size(w->fin) - 1;
        Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, ccm_frames_len(w->fin, last),
                                                        ccm_frames_data(w->fin, last));
        ccm_frames_clear(w->fin);
        if (!r || !r->status || r->status->code != CCM__CODE__OK || !r->fetch) {
            ccm_warn("event=fetch_failed producer=%s error=\"%s\"", f->producer,
                     r && r->status ? r->status->message : "undecodable reply");
        } else {
            feed_t item = {.follow = f, .reply = r->fetch};
            if (s_run_feed(w, &item) == 0 && r->fetch->n_events > 0 &&
                r->fetch->next_seq <= r->fetch->last_seq)
                f->want = true; /* more is waiting */
        }
        if (r)
            ccm__common_reply__free_unpacked(r, NULL);
    }
}

/* A doorbell rang: fetch the streams it names. */
static void s_follow_doorbells(ccm_worker_t *w)
{
    while (ccm_frames_recv(w->fin, w->sub, ZMQ_DONTWAIT) == 0) {
        if (ccm_frames_size(w->fin) >= 1) {
            follow_t *f = s_follow_find(w, ccm_frames_data(w->fin, 0), ccm_frames_len(w->fin, 0));
            if (f)
                f->want = true;
        }
        ccm_frames_clear(w->fin);
    }
}

/* Runs the periodic tasks that are due; returns the next due time. */
static int64_t s_ticks(ccm_worker_t *w, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < w->nticks; i++) {
        tick_t *t = &w->ticks[i];
        if (now >= t->next_ms) {
            feed_t item = {.tick = t, .now_us = s_now_us()};
            s_run_feed(w, &item);
            t->next_ms = now + t->interval_ms;
        }
        if (t->next_ms < next)
            next = t->next_ms;
    }
    return next;
}

/* ---- the loop ---- */

/* Takes a received REQUEST into slot it; returns false (logged) when it is unusable. */
static bool s_take_request(ccm_worker_t *w, item_t *it, const ccm_mdp_worker_view_t *v)
{
    size_t nf = ccm_frames_size(it->frames);
    /* body: principal · message (the message is the last frame) */
    if (nf - v->body < 2) {
        ccm_warn("event=bad_request reason=\"no principal frame\" service=%s", w->service);
        return false;
    }
    size_t plen = ccm_frames_len(it->frames, v->body);
    if (plen == 0 || plen > S_PRINCIPAL_MAX) {
        ccm_warn("event=bad_request reason=\"bad principal length %zu\"", plen);
        return false;
    }
    memcpy(it->principal, ccm_frames_data(it->frames, v->body), plen);
    it->principal[plen] = '\0';
    it->client = v->client;
    it->client_len = v->client_len;
    memset(&it->call, 0, sizeof it->call);
    it->call.principal = it->principal;
    it->call.request_id = it->request_id;
    it->call.body = ccm_frames_data(it->frames, nf - 1);
    it->call.len = ccm_frames_len(it->frames, nf - 1);
    it->request_id[0] = '\0';
    return true;
}

static void s_ring(ccm_worker_t *w)
{
    if (!w->pub)
        return;
    MDB_txn *txn;
    uint64_t seq = 0;
    if (ccm_store_read_begin(w->store, &txn) != 0)
        return;
    int rc = ccm_stream_last_seq(w->stream, txn, &seq);
    mdb_txn_abort(txn);
    if (rc != 0 || seq == w->last_rung)
        return;
    w->last_rung = seq;
    Ccm__Doorbell d = CCM__DOORBELL__INIT;
    d.producer = w->service;
    d.seq = seq;
    uint8_t buf[128];
    size_t len = ccm__doorbell__pack(&d, buf);
    ccm_frames_clear(w->out);
    if (ccm_frames_push_str(w->out, w->service) == 0 && ccm_frames_push(w->out, buf, len) == 0)
        ccm_frames_send(w->out, w->pub, ZMQ_DONTWAIT); /* a lost doorbell costs a poll */
    ccm_frames_clear(w->out);
}

static void s_process(ccm_worker_t *w, size_t n)
{
    int64_t now = s_now_us();
    for (size_t i = 0; i < n; i++)
        w->items[i].call.now_us = now;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = ccm_store_batch(w->store, w->item_ptrs, n, s_apply, w, w->item_rc);
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t us = (uint64_t)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000);
    w->commit_us_last = us;
    if (us > w->commit_us_max)
        w->commit_us_max = us;
    w->requests += n;
    w->batches++;
    if (rc != 0)
        ccm_error("event=commit_failed service=%s requests=%zu error=\"%s\"", w->service, n,
                  ccm_strerror(rc));
    for (size_t i = 0; i < n; i++) {
        item_t *it = &w->items[i];
        if (rc != 0)
            s_reply_status(&it->call, CCM__CODE__UNAVAILABLE, NULL,
                           "store: the transaction could not be committed; nothing was "
                           "changed; retry");
        if (ccm_mdp_worker_reply(w->out, it->client, it->client_len, it->call.reply,
                                 it->call.reply_len) == 0 &&
            ccm_frames_send(w->out, w->sock, ZMQ_DONTWAIT) != 0)
            ccm_warn("event=reply_dropped service=%s reason=\"send would block\"", w->service);
        free(it->call.reply);
        it->call.reply = NULL;
        ccm_frames_clear(it->frames);
    }
    if (rc == 0)
        s_ring(w);
}

int ccm_worker_call(ccm_worker_t *w, const char *principal, const void *body, size_t len,
                    void **reply, size_t *reply_len)
{
    item_t *it = &w->items[0];
    size_t plen = strlen(principal);
    if (plen == 0 || plen > S_PRINCIPAL_MAX)
        return CCM_EINVAL;
    memcpy(it->principal, principal, plen + 1);
    memset(&it->call, 0, sizeof it->call);
    it->call.principal = it->principal;
    it->call.request_id = it->request_id;
    it->call.body = body;
    it->call.len = len;
    it->call.now_us = s_now_us();
    it->request_id[0] = '\0';
    int rc = ccm_store_batch(w->store, w->item_ptrs, 1, s_apply, w, w->item_rc);
    *reply = it->call.reply;
    *reply_len = it->call.reply_len;
    it->call.reply = NULL;
    if (rc != 0) {
        free(*reply);
        *reply = NULL;
        return rc;
    }
    return 0;
}

int ccm_worker_run(ccm_worker_t *w, volatile sig_atomic_t *stop)
{
    const int64_t expiry = (int64_t)CCM_HEARTBEAT_MS * CCM_HEARTBEAT_LIVENESS;
    int64_t heard = s_mono_ms();
    int64_t heartbeat_at = heard + CCM_HEARTBEAT_MS;
    int64_t connected_at = heard; /* when READY was last sent */
    int refused_ms = 0;           /* back-off after a refused READY */
    if (s_follow_start(w) != 0)
        return CCM_EIO;
    while (!*stop) {
        int64_t now = s_mono_ms();
        int64_t wake = heartbeat_at;
        int64_t tick_at = s_ticks(w, now);
        if (tick_at < wake)
            wake = tick_at;
        s_follow_kick(w, now);
        for (size_t i = 0; i < w->nfollows; i++) {
            int64_t t = w->follows[i].inflight ? w->follows[i].sent_ms + S_FETCH_TIMEOUT_MS
                                               : w->follows[i].next_poll_ms;
            if (t < wake)
                wake = t;
        }
        long timeout = wake > now ? (long)(wake - now) : 0;
        zmq_pollitem_t pi[3] = {{w->sock, 0, ZMQ_POLLIN, 0},
                                {w->fetch_sock, 0, ZMQ_POLLIN, 0},
                                {w->sub, 0, ZMQ_POLLIN, 0}};
        int npi = !w->fetch_sock ? 1 : w->sub ? 3 : 2;
        int np = zmq_poll(pi, npi, timeout);
        if (np < 0) {
            if (zmq_errno() == EINTR)
                continue;
            ccm_error("event=poll_failed error=\"%s\"", zmq_strerror(zmq_errno()));
            return CCM_EIO;
        }
        if (npi > 1 && (pi[1].revents & ZMQ_POLLIN))
            s_follow_replies(w);
        if (npi > 2 && (pi[2].revents & ZMQ_POLLIN))
            s_follow_doorbells(w);
        size_t n = 0;
        bool reconnect = false;
        if (np > 0 && (pi[0].revents & ZMQ_POLLIN)) {
            /* Drain what is waiting, up to batch_max: one transaction for all. */
            while (n < w->batch_max) {
                item_t *it = &w->items[n];
                int rc = ccm_frames_recv(it->frames, w->sock, ZMQ_DONTWAIT);
                if (rc == CCM_EAGAIN)
                    break;
                if (rc != 0) {
                    ccm_warn("event=recv_failed error=\"%s\"", ccm_strerror(rc));
                    continue;
                }
                heard = s_mono_ms();
                ccm_mdp_worker_view_t v;
                if (ccm_mdp_parse_worker(it->frames, 0, &v) != 0) {
                    ccm_warn("event=bad_message from=broker frames=%zu",
                             ccm_frames_size(it->frames));
                    continue;
                }
                if (v.command == CCM_MDPW_REQUEST) {
                    if (s_take_request(w, it, &v))
                        n++;
                } else if (v.command == CCM_MDPW_DISCONNECT) {
                    reconnect = true;
                    if (heard - connected_at >= S_REFUSED_WINDOW_MS) {
                        ccm_info("event=disconnect_from_broker");
                        refused_ms = 0;
                        break;
                    }
                    refused_ms = refused_ms ? refused_ms * 2 : S_RECONNECT_MS;
                    if (refused_ms > S_REFUSED_MAX_MS)
                        refused_ms = S_REFUSED_MAX_MS;
                    ccm_warn("event=registration_refused service=%s retry_ms=%d reason=\"the "
                             "broker answered READY with DISCONNECT: with keys, ours must have "
                             "role service:%s and be in the broker's allow directory\"",
                             w->service, refused_ms, w->service);
                    break;
                } else if (v.command != CCM_MDPW_HEARTBEAT) {
                    ccm_warn("event=bad_command command=%d", v.command);
                }
            }
        }
        if (n > 0)
            s_process(w, n);
        now = s_mono_ms();
        if (!reconnect && now - heard > expiry) {
            ccm_warn("event=broker_silent ms=%lld action=reconnect", (long long)(now - heard));
            struct timespec ts = {0, S_RECONNECT_MS * 1000000L};
            nanosleep(&ts, NULL);
            reconnect = true;
        }
        if (reconnect) {
            if (refused_ms) {
                struct timespec ts = {refused_ms / 1000, (long)(refused_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL); /* unregistered: nothing to serve meanwhile */
            }
            if (s_connect(w) != 0)
                return CCM_EIO;
            heard = connected_at = s_mono_ms();
            heartbeat_at = heard + CCM_HEARTBEAT_MS;
        } else if (now >= heartbeat_at) {
            s_send_cmd(w, ccm_mdp_worker_heartbeat);
            heartbeat_at = now + CCM_HEARTBEAT_MS;
        }
    }
    s_send_cmd(w, ccm_mdp_worker_disconnect);
    ccm_info("event=stopped service=%s requests=%llu batches=%llu", w->service,
             (unsigned long long)w->requests, (unsigned long long)w->batches);
    return 0;
}
