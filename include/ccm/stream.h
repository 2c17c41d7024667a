/* stream — a service's outbox of events, and consumer cursors.
 *
 * Events are ccm.Envelope records in the database CCM_STREAM_DB keyed by their
 * seq (u64 big-endian, MDB_APPEND). seq is gap-free from 1 because it is
 * assigned inside the writer's transaction (the last key + 1). A consumer keeps
 * its position in CCM_CURSOR_DB of its own store, written in the same
 * transaction as what it derived from the events (exactly-once effect).
 * The caller lists CCM_STREAM_DB and/or CCM_CURSOR_DB among its store's dbs. */
#ifndef CCM_STREAM_H
#define CCM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/store.h"

#define CCM_STREAM_DB "stream"
#define CCM_CURSOR_DB "cursor"
/* FETCH: events per reply by default and at most; bytes of payload per reply at most
 * (stays well under CCM_MAXMSGSIZE); events scanned per reply at most when filtering. */
#define CCM_FETCH_DEFAULT 100
#define CCM_FETCH_MAX 1000
#define CCM_FETCH_BYTES_MAX (768 * 1024)
#define CCM_FETCH_SCAN_MAX 10000

typedef struct ccm_stream ccm_stream_t;

/* Binds a stream to an open store. producer is copied. 0, CCM_ENOTFOUND (the store
 * has no CCM_STREAM_DB), CCM_ENOMEM. */
int ccm_stream_open(ccm_store_t *store, const char *producer, ccm_stream_t **out);
void ccm_stream_destroy(ccm_stream_t **p);

/* Appends one event inside the caller's write transaction and returns its seq.
 * Strings may be NULL (stored empty); payload is copied. 0, CCM_EMAPFULL, CCM_EIO,
 * CCM_ETOOBIG (envelope over CCM_FETCH_BYTES_MAX). */
int ccm_stream_append(ccm_stream_t *s, MDB_txn *txn, const char *type, const char *key,
                      const char *request_id, const char *principal, int64_t time_us,
                      const void *payload, size_t len, uint64_t *seq);

/* Highest seq stored (0 when empty). 0 or CCM_EIO. */
int ccm_stream_last_seq(ccm_stream_t *s, MDB_txn *txn, uint64_t *seq);

/* Serves a FETCH: events with seq >= req->from_seq (0 is read as 1) whose type
 * matches req->types (exact, or "prefix.*"; none = all), at most req->max
 * (0 = CCM_FETCH_DEFAULT, capped at CCM_FETCH_MAX) and CCM_FETCH_BYTES_MAX bytes,
 * scanning at most CCM_FETCH_SCAN_MAX events. Fills `reply` (events, next_seq =
 * one past the last event scanned, last_seq); the events it allocates are freed
 * by ccm_stream_fetch_clear(). 0, CCM_EINVAL (bad filter), CCM_EIO. */
int ccm_stream_fetch(ccm_stream_t *s, MDB_txn *txn, const Ccm__FetchRequest *req,
                     Ccm__FetchReply *reply);
void ccm_stream_fetch_clear(Ccm__FetchReply *reply);

/* A consumer's cursor `name` (e.g. "enrollment") in its store's CCM_CURSOR_DB:
 * the next seq to fetch. get: 0 (absent reads as 1) or CCM_EIO.
 * set: 0, CCM_EMAPFULL, CCM_EIO. */
int ccm_cursor_get(MDB_txn *txn, MDB_dbi cursor_dbi, const char *name, uint64_t *next_seq);
int ccm_cursor_set(MDB_txn *txn, MDB_dbi cursor_dbi, const char *name, uint64_t next_seq);

#endif
