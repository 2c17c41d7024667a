/* stream — outbox append, FETCH serving and consumer cursors over a store.
 * seq is never cached: it is read (last key + 1) inside the writer's transaction, so
 * an aborted nested transaction or a replayed batch can neither skip nor reuse one.
 * Stored values are packed ccm.Envelope records; FETCH hands them back unpacked. */
#include "ccm/stream.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/log.h"

/* Envelopes up to this size are packed on the stack. */
#define S_STACK_BUF 2048
/* Type filters per FETCH at most: more is refused as a bad filter, so one request
 * cannot buy filters × CCM_FETCH_SCAN_MAX comparisons. */
#define S_TYPES_MAX 64

struct ccm_stream {
    ccm_store_t *store; /* borrowed; outlives the stream */
    MDB_dbi dbi;        /* CCM_STREAM_DB of store */
    char *producer;     /* owned; stamped on every envelope */
};

int ccm_stream_open(ccm_store_t *store, const char *producer, ccm_stream_t **out)
{
    if (!out)
        return CCM_EINVAL;
    *out = NULL;
    if (!store || !producer)
        return CCM_EINVAL;
    MDB_dbi dbi;
    int rc = ccm_store_dbi(store, CCM_STREAM_DB, &dbi);
    if (rc)
        return rc;
    ccm_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return CCM_ENOMEM;
    s->producer = strdup(producer);
    if (!s->producer) {
        free(s);
        return CCM_ENOMEM;
    }
    s->store = store;
    s->dbi = dbi;
    *out = s;
    return 0;
}

void ccm_stream_destroy(ccm_stream_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->producer);
    free(*p);
    *p = NULL;
}

/* Reads the seq of a stream key; anything but 8 bytes is a corrupt record. */
static int s_seq_of(const MDB_val *k, uint64_t *seq)
{
    if (k->mv_size != 8) {
        ccm_error("event=stream_corrupt reason=\"key of %zu bytes\"", k->mv_size);
        return CCM_EIO;
    }
    *seq = ccm_be_get_u64(k->mv_data);
    return 0;
}

int ccm_stream_last_seq(ccm_stream_t *s, MDB_txn *txn, uint64_t *seq)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->dbi, &cur);
    if (rc) {
        ccm_error("event=stream_error op=cursor_open error=\"%s\"", mdb_strerror(rc));
        return CCM_EIO;
    }
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        return 0;
    }
    if (rc) {
        ccm_error("event=stream_error op=last error=\"%s\"", mdb_strerror(rc));
        return CCM_EIO;
    }
    return s_seq_of(&k, seq);
}

int ccm_stream_append(ccm_stream_t *s, MDB_txn *txn, const char *type, const char *key,
                      const char *request_id, const char *principal, int64_t time_us,
                      const void *payload, size_t len, uint64_t *seq)
{
    if (!s || !txn || (len && !payload))
        return CCM_EINVAL;
    uint64_t last;
    int rc = ccm_stream_last_seq(s, txn, &last);
    if (rc)
        return rc;
    Ccm__Envelope e = CCM__ENVELOPE__INIT;
    e.producer = s->producer;
    e.seq = last + 1;
    e.time_us = time_us;
    e.type = (char *)(type ? type : "");
    e.key = (char *)(key ? key : "");
    e.request_id = (char *)(request_id ? request_id : "");
    e.principal = (char *)(principal ? principal : "");
    e.payload.data = (uint8_t *)payload;
    e.payload.len = len;
    size_t size = ccm__envelope__get_packed_size(&e);
    if (size > CCM_FETCH_BYTES_MAX)
        return CCM_ETOOBIG;
    uint8_t stack[S_STACK_BUF];
    uint8_t *buf = size <= sizeof stack ? stack : malloc(size);
    if (!buf)
        abort();
    ccm__envelope__pack(&e, buf);
    uint8_t k[8];
    ccm_be_put_u64(k, e.seq);
    rc = ccm_store_put(txn, s->dbi, k, sizeof k, buf, size, MDB_APPEND);
    if (buf != stack)
        free(buf);
    if (rc == CCM_EEXIST) {
        /* MDB_APPEND refused the key: the last key read a moment ago is not the last. */
        ccm_error("event=stream_error op=append seq=%llu reason=\"out of order\"",
                  (unsigned long long)e.seq);
        return CCM_EIO;
    }
    if (rc)
        return rc;
    if (seq)
        *seq = e.seq;
    return 0;
}

/* A filter is a type name, or "prefix.*" with a non-empty prefix; '*' nowhere else. */
static bool s_filter_valid(const char *f)
{
    if (!f || !f[0])
        return false;
    const char *star = strchr(f, '*');
    if (!star)
        return true;
    size_t n = strlen(f);
    return star == f + n - 1 && n >= 3 && f[n - 2] == '.';
}

static bool s_type_matches(const Ccm__FetchRequest *req, const char *type)
{
    if (req->n_types == 0)
        return true;
    for (size_t i = 0; i < req->n_types; i++) {
        const char *f = req->types[i];
        size_t n = strlen(f);
        if (f[n - 1] == '*') {
            /* "patient.*" matches "patient.registered", not "patient" nor "patients.x". */
            if (strncmp(type, f, n - 1) == 0)
                return true;
        } else if (strcmp(type, f) == 0) {
            return true;
        }
    }
    return false;
}

int ccm_stream_fetch(ccm_stream_t *s, MDB_txn *txn, const Ccm__FetchRequest *req,
                     Ccm__FetchReply *reply)
{
    if (!s || !txn || !req || !reply)
        return CCM_EINVAL;
    reply->n_events = 0;
    reply->events = NULL;
    if (req->n_types > S_TYPES_MAX)
        return CCM_EINVAL;
    for (size_t i = 0; i < req->n_types; i++)
        if (!s_filter_valid(req->types[i]))
            return CCM_EINVAL;
    uint64_t from = req->from_seq ? req->from_seq : 1;
    size_t max = req->max == 0              ? CCM_FETCH_DEFAULT
                 : req->max > CCM_FETCH_MAX ? CCM_FETCH_MAX
                                            : req->max;
    int rc = ccm_stream_last_seq(s, txn, &reply->last_seq);
    if (rc)
        return rc;
    reply->next_seq = from;
    if (from > reply->last_seq)
        return 0;
    uint64_t avail = reply->last_seq - from + 1;
    size_t cap = avail < max ? (size_t)avail : max;
    reply->events = calloc(cap, sizeof *reply->events);
    if (!reply->events)
        abort();

    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->dbi, &cur);
    if (mrc) {
        ccm_error("event=stream_error op=cursor_open error=\"%s\"", mdb_strerror(mrc));
        ccm_stream_fetch_clear(reply);
        return CCM_EIO;
    }
    uint8_t kb[8];
    ccm_be_put_u64(kb, from);
    MDB_val k = {sizeof kb, kb}, v;
    size_t scanned = 0, bytes = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (reply->n_events == max || scanned == CCM_FETCH_SCAN_MAX)
            break;
        uint64_t seq;
        if ((rc = s_seq_of(&k, &seq)) != 0)
            break;
        Ccm__Envelope *e = ccm__envelope__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            ccm_error("event=stream_corrupt seq=%llu reason=\"envelope does not decode\"",
                      (unsigned long long)seq);
            rc = CCM_EIO;
            break;
        }
        if (s_type_matches(req, e->type)) {
            /* Stop before an event that would overflow the reply; it starts the next. */
            if (bytes + v.mv_size > CCM_FETCH_BYTES_MAX && reply->n_events > 0) {
                ccm__envelope__free_unpacked(e, NULL);
                break;
            }
            bytes += v.mv_size;
            if (reply->n_events == cap) { /* only if seqs are not dense; never in practice */
                ccm__envelope__free_unpacked(e, NULL);
                break;
            }
            reply->events[reply->n_events++] = e;
        } else {
            ccm__envelope__free_unpacked(e, NULL);
        }
        scanned++;
        reply->next_seq = seq + 1;
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND) {
        ccm_error("event=stream_error op=fetch error=\"%s\"", mdb_strerror(mrc));
        rc = CCM_EIO;
    }
    if (rc) {
        ccm_stream_fetch_clear(reply);
        return rc;
    }
    return 0;
}

void ccm_stream_fetch_clear(Ccm__FetchReply *reply)
{
    if (!reply)
        return;
    for (size_t i = 0; i < reply->n_events; i++)
        ccm__envelope__free_unpacked(reply->events[i], NULL);
    free(reply->events);
    reply->events = NULL;
    reply->n_events = 0;
}

/* ---- consumer cursors: name -> next seq (u64 big-endian) ---- */

static int s_cursor_key(const char *name, size_t *len)
{
    if (!name || !name[0])
        return CCM_EINVAL;
    *len = strlen(name);
    return *len > CCM_KEY_MAX ? CCM_ETOOBIG : 0;
}

int ccm_cursor_get(MDB_txn *txn, MDB_dbi cursor_dbi, const char *name, uint64_t *next_seq)
{
    size_t len;
    int rc = s_cursor_key(name, &len);
    if (rc)
        return rc;
    MDB_val v;
    rc = ccm_store_get(txn, cursor_dbi, name, len, &v);
    if (rc == CCM_ENOTFOUND) {
        *next_seq = 1;
        return 0;
    }
    if (rc)
        return rc;
    if (v.mv_size != 8) {
        ccm_error("event=cursor_corrupt name=%s reason=\"value of %zu bytes\"", name, v.mv_size);
        return CCM_EIO;
    }
    *next_seq = ccm_be_get_u64(v.mv_data);
    return 0;
}

int ccm_cursor_set(MDB_txn *txn, MDB_dbi cursor_dbi, const char *name, uint64_t next_seq)
{
    size_t len;
    int rc = s_cursor_key(name, &len);
    if (rc)
        return rc;
    uint8_t buf[8];
    ccm_be_put_u64(buf, next_seq);
    return ccm_store_put(txn, cursor_dbi, name, len, buf, sizeof buf, 0);
}
