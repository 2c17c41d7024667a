/* worker — the host every ccm service runs in: one thread, one zmq_poll loop,
 * one LMDB store.
 *
 * It registers with the broker as a 7/MDP worker (heartbeats, reconnect), drains
 * every request already waiting (up to batch_max) into one write transaction
 * (adaptive group commit), and replies only after that transaction committed.
 * It serves FETCH and stats for the service's stream itself (ccm.CommonRequest
 * fields 3 and 4), and makes mutations idempotent: a reply the handler marks
 * `remember` is stored under (principal, request_id) in the same transaction,
 * and a request carrying a known request_id gets that stored reply, untouched.
 * After each commit that appended events it rings the doorbell (topic = service).
 *
 * Handlers run inside the batch, each in its own nested transaction, and may be
 * run again when the batch is replayed (map growth): they must depend only on
 * (txn, call) — use call->now_us, never the clock. */
#ifndef CCM_WORKER_H
#define CCM_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "ccm/auth.h"
#include "ccm/ccm.pb-c.h"
#include "ccm/store.h"
#include "ccm/stream.h"

/* Database holding remembered replies, keyed principal NUL request_id NUL. */
#define CCM_IDEM_DB "idem"
/* Longest request_id accepted (bytes). */
#define CCM_REQUEST_ID_MAX 128

typedef struct ccm_worker ccm_worker_t;

/* One request as a handler sees it. */
typedef struct {
    const char *principal;  /* who asked (the broker's principal frame: "ROLE:CLINICS:NAME",
                               or "dev" without keys; see ccm/auth.h) */
    const char *request_id; /* "" when the request has none */
    const void *body;       /* the packed service Request, borrowed */
    size_t len;
    int64_t now_us; /* the batch's time: use it, never the clock */
    void *reply;    /* packed reply, malloc'd; set with ccm_worker_reply_*() */
    size_t reply_len;
    bool remember; /* store the reply under request_id (set for mutations) */
} ccm_worker_call_t;

/* Handles one request in txn (a nested transaction). Return 0 to keep its changes,
 * any CCM_E* to roll them back (the reply set is still sent), CCM_EMAPFULL as
 * returned by the store to have the batch replayed on a larger map. */
typedef int (*ccm_worker_handler_fn)(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                                     void *ctx);

/* Applies one event of a followed stream inside txn (a nested transaction of a
 * batch that also advances the cursor). Return 0 to keep its effect;
 * CCM_EMAPFULL (from the store) to replay; any other code rolls back this event's
 * effect, is logged, and the event is skipped for good (it would fail again). */
typedef int (*ccm_worker_event_fn)(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev,
                                   void *ctx);

typedef struct {
    const char *service;    /* 7/MDP service name and stream producer */
    const char *broker;     /* broker 7/MDP endpoint */
    const char *doorbell;   /* broker doorbell_in endpoint, or NULL for none */
    const char *subscribe;  /* broker doorbell_out endpoint: doorbells of followed streams,
                               or NULL to poll only */
    const char *data_dir;   /* the LMDB environment directory */
    const char *const *dbs; /* NULL-terminated service databases (stream, idem added) */
    uint32_t schema_version;
    size_t batch_max;     /* 0 = 256 */
    long long maxmsgsize; /* 0 = CCM_MAXMSGSIZE */
    ccm_worker_handler_fn handle;
    void *ctx; /* passed to handle */
    /* CURVE keys for every socket (worker, FETCH, doorbell PUB and SUB; copied),
     * or NULL: plain sockets, loopback only. The broker then stamps requests
     * with principals and admits this worker only under a service:<service> key. */
    const ccm_auth_curve_t *curve;
} ccm_worker_opts_t;

/* Opens the store and stream and the sockets (connected lazily). Strings are
 * copied. 0, CCM_EINVAL, CCM_EIO, CCM_ESCHEMA, CCM_ENOMEM. */
int ccm_worker_new(const ccm_worker_opts_t *opts, ccm_worker_t **out);
void ccm_worker_destroy(ccm_worker_t **p);

/* Follows another service's stream (call before ccm_worker_run; at most 8).
 * The host FETCHes `producer` through the broker — at once when its doorbell
 * rings, else every second — and applies each event with fn in one write
 * transaction that also stores the cursor in CCM_CURSOR_DB under the producer's
 * name: each event's effect happens exactly once, across crashes. types is a
 * NULL-terminated list of FETCH filters, or NULL for every event; it is copied.
 * 0, CCM_EINVAL, CCM_ENOMEM. */
int ccm_worker_follow(ccm_worker_t *w, const char *producer, const char *const *types,
                      ccm_worker_event_fn fn, void *ctx);

/* Runs fn every interval_ms (and once at start) inside its own committed write
 * transaction, for time-driven changes such as review-due notices; now_us is
 * the wall clock of that run. At most 4. 0, CCM_EINVAL. */
typedef int (*ccm_worker_tick_fn)(ccm_worker_t *w, MDB_txn *txn, int64_t now_us, void *ctx);
int ccm_worker_every(ccm_worker_t *w, int interval_ms, ccm_worker_tick_fn fn, void *ctx);

/* Applies a FETCH reply of `producer` as if it had been fetched (events below
 * the cursor are ignored, the cursor moves to reply->next_seq): for tests and
 * tools. 0, CCM_ENOTFOUND (producer not followed), CCM_EIO. */
int ccm_worker_feed(ccm_worker_t *w, const char *producer, const Ccm__FetchReply *reply);

/* Next seq of producer's stream this worker will apply (1 when nothing yet). */
uint64_t ccm_worker_cursor(ccm_worker_t *w, const char *producer);

ccm_store_t *ccm_worker_store(ccm_worker_t *w);
ccm_stream_t *ccm_worker_stream(ccm_worker_t *w);
const char *ccm_worker_service(const ccm_worker_t *w);

/* Serves until *stop becomes nonzero (a signal handler sets it), then sends
 * DISCONNECT and returns 0; CCM_EIO on a fatal socket error. */
int ccm_worker_run(ccm_worker_t *w, volatile sig_atomic_t *stop);

/* Runs one request through the host exactly as if it came from the broker (a
 * one-request batch, committed), without any socket: for tests, fuzzing and
 * tools. On 0, *reply (caller frees) holds the packed reply. CCM_EIO when the
 * commit failed. */
int ccm_worker_call(ccm_worker_t *w, const char *principal, const void *body, size_t len,
                    void **reply, size_t *reply_len);

/* Sets call's reply to a copy of the packed bytes. 0 or CCM_ENOMEM. */
int ccm_worker_reply_bytes(ccm_worker_call_t *call, const void *bytes, size_t len);
/* Packs any protobuf-c message as the reply. 0 or CCM_ENOMEM. */
int ccm_worker_reply_msg(ccm_worker_call_t *call, const ProtobufCMessage *msg);
/* Sets a status-only reply (a ccm.CommonReply: wire-compatible with every
 * service's Reply) and returns `rc` for the handler to return, so a handler can
 * write `return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT,
 * "mbi", "mbi: must be 11 characters");`. */
int ccm_worker_fail(ccm_worker_call_t *call, int rc, Ccm__Code code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Packs `reply` — any service's Reply, i.e. a message whose field 1 is the
 * string request_id and field 2 the ccm.Status status — with request_id set to
 * call->request_id and an OK status; both fields are restored afterwards, so
 * the caller keeps ownership of an untouched message. 0 or CCM_ENOMEM. */
int ccm_worker_reply_ok(ccm_worker_call_t *call, ProtobufCMessage *reply);
/* The answer to a store error `rc` in a handler: CCM_EMAPFULL is returned as
 * is (the batch is replayed on a larger map); any other code is logged once
 * (event=store_error), answered INTERNAL "store: …", and returned. */
int ccm_worker_store_fail(ccm_worker_call_t *call, int rc);
/* 0 when the call carries a request_id; else answers INVALID_ARGUMENT on field
 * request_id (every change needs one: it makes retries safe) and returns
 * CCM_EINVAL. */
int ccm_worker_require_request_id(ccm_worker_call_t *call);

#endif
