/* outbox — LMDB state of ccm-cdr (see outbox.h).
 *
 *   pending  u64 seq (big-endian)  -> u16 id length · id · packed request
 *   ids      unique id             -> u8 state · u64 seq (pending) or ack time µs (delivered)
 *   pos      file key (real path)  -> ccm_cdr_pos_t, fixed-width big-endian
 *
 * Every write is one ccm_store_batch() of one item, so it commits (fsync) once. */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/error.h"
#include "ccm/store.h"

#define S_SCHEMA 1
#define S_STATE_PENDING 1
#define S_STATE_DELIVERED 2
#define S_POS_LEN 44

struct ccm_cdr_outbox {
    ccm_store_t *store; /* owned */
    MDB_dbi pending;    /* seq -> event */
    MDB_dbi ids;        /* unique id -> state */
    MDB_dbi pos;        /* file key -> position */
    uint64_t next_seq;  /* seq of the next event appended */
};

/* A key for ids/pos: the string itself, or a hash of it when it is too long. */
static size_t s_key(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0)
        return 0;
    if (n < cap && n <= CCM_KEY_MAX)
        return (size_t)snprintf(buf, cap, "%s", s);
    return (size_t)snprintf(buf, cap, "#%016llx",
                            (unsigned long long)ccm_cdr_hash(CCM_CDR_HASH_INIT, s, n));
}

static void s_pos_pack(const ccm_cdr_pos_t *p, uint8_t out[S_POS_LEN])
{
    ccm_be_put_u64(out, p->dev);
    ccm_be_put_u64(out + 8, p->ino);
    ccm_be_put_u64(out + 16, p->offset);
    ccm_be_put_u64(out + 24, p->line);
    ccm_be_put_u32(out + 32, p->fp_len);
    ccm_be_put_u64(out + 36, p->fp);
}

static void s_pos_unpack(const uint8_t *in, ccm_cdr_pos_t *p)
{
    p->dev = ccm_be_get_u64(in);
    p->ino = ccm_be_get_u64(in + 8);
    p->offset = ccm_be_get_u64(in + 16);
    p->line = ccm_be_get_u64(in + 24);
    p->fp_len = ccm_be_get_u32(in + 32);
    p->fp = ccm_be_get_u64(in + 36);
}

/* ---- retention purge at open ---- */

typedef struct {
    ccm_cdr_outbox_t *ob;
    int64_t before_us; /* delivered before this are forgotten */
} purge_t;

static int s_purge(MDB_txn *txn, void *item, void *ctx)
{
    (void)ctx;
    purge_t *p = item;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, p->ob->ids, &cur) != 0)
        return CCM_EIO;
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const uint8_t *d = v.mv_data;
        if (v.mv_size == 9 && d[0] == S_STATE_DELIVERED &&
            (int64_t)ccm_be_get_u64(d + 1) < p->before_us) {
            int drc = mdb_cursor_del(cur, 0);
            if (drc != 0) {
                mdb_cursor_close(cur);
                /* deleting can need pages: MAP_FULL grows the map and replays */
                return drc == MDB_MAP_FULL ? CCM_EMAPFULL : CCM_EIO;
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : CCM_EIO;
}

int ccm_cdr_outbox_open(const char *dir, int64_t retention_us, int64_t now_us,
                        ccm_cdr_outbox_t **out)
{
    *out = NULL;
    static const char *const dbs[] = {"pending", "ids", "pos", NULL};
    ccm_store_opts_t o = {
        .path = dir, .dbs = dbs, .schema_version = S_SCHEMA, .map_size = (size_t)16 << 20};
    ccm_cdr_outbox_t *ob = calloc(1, sizeof *ob);
    if (!ob)
        return CCM_ENOMEM;
    int rc = ccm_store_open(&o, &ob->store);
    if (rc == 0)
        rc = ccm_store_dbi(ob->store, "pending", &ob->pending);
    if (rc == 0)
        rc = ccm_store_dbi(ob->store, "ids", &ob->ids);
    if (rc == 0)
        rc = ccm_store_dbi(ob->store, "pos", &ob->pos);
    if (rc != 0)
        goto fail;
    /* The next seq follows the last pending one (none pending: start again at 1). */
    MDB_txn *txn;
    if ((rc = ccm_store_read_begin(ob->store, &txn)) != 0)
        goto fail;
    MDB_cursor *cur;
    MDB_val k, v;
    ob->next_seq = 1;
    if (mdb_cursor_open(txn, ob->pending, &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
            ob->next_seq = ccm_be_get_u64(k.mv_data) + 1;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (retention_us > 0) {
        purge_t p = {ob, now_us - retention_us};
        void *items[] = {&p};
        if ((rc = ccm_store_batch(ob->store, items, 1, s_purge, NULL, NULL)) != 0)
            goto fail;
    }
    *out = ob;
    return 0;
fail:
    ccm_cdr_outbox_destroy(&ob);
    return rc;
}

void ccm_cdr_outbox_destroy(ccm_cdr_outbox_t **p)
{
    if (!p || !*p)
        return;
    ccm_store_destroy(&(*p)->store);
    free(*p);
    *p = NULL;
}

int ccm_cdr_outbox_position(ccm_cdr_outbox_t *ob, const char *key, ccm_cdr_pos_t *pos)
{
    char k[CCM_KEY_MAX + 1];
    size_t kl = s_key(key, k, sizeof k);
    if (!kl)
        return CCM_ENOTFOUND;
    MDB_txn *txn;
    int rc = ccm_store_read_begin(ob->store, &txn);
    if (rc != 0)
        return rc;
    MDB_val v;
    rc = ccm_store_get(txn, ob->pos, k, kl, &v);
    if (rc == 0 && v.mv_size == S_POS_LEN)
        s_pos_unpack(v.mv_data, pos);
    else if (rc == 0)
        rc = CCM_EIO;
    mdb_txn_abort(txn);
    return rc;
}

/* ---- append ---- */

typedef struct {
    ccm_cdr_outbox_t *ob;
    ccm_cdr_event_t *ev;
    size_t n;
    uint64_t first_seq; /* seq of the first event added */
    const char *key;
    const ccm_cdr_pos_t *pos;
    size_t added; /* result, overwritten on replay */
} append_t;

static int s_append(MDB_txn *txn, void *item, void *ctx)
{
    (void)ctx;
    append_t *a = item;
    a->added = 0;
    uint64_t seq = a->first_seq;
    int rc;
    for (size_t i = 0; i < a->n; i++)
        a->ev[i].added = false;
    for (size_t i = 0; i < a->n; i++) {
        ccm_cdr_event_t *e = &a->ev[i];
        size_t idlen = strlen(e->id);
        if (idlen == 0 || idlen > CCM_CDR_ID_MAX)
            continue;
        MDB_val old;
        rc = ccm_store_get(txn, a->ob->ids, e->id, idlen, &old);
        if (rc == 0)
            continue; /* pending or delivered already: a duplicate */
        if (rc != CCM_ENOTFOUND)
            return rc;
        uint8_t st[9], k[8];
        st[0] = S_STATE_PENDING;
        ccm_be_put_u64(st + 1, seq);
        ccm_be_put_u64(k, seq);
        size_t vlen = 2 + idlen + e->len;
        uint8_t *v = malloc(vlen);
        if (!v)
            return CCM_ENOMEM;
        v[0] = (uint8_t)(idlen >> 8);
        v[1] = (uint8_t)idlen;
        memcpy(v + 2, e->id, idlen);
        memcpy(v + 2 + idlen, e->req, e->len);
        rc = ccm_store_put(txn, a->ob->pending, k, 8, v, vlen, 0);
        free(v);
        if (rc == 0)
            rc = ccm_store_put(txn, a->ob->ids, e->id, idlen, st, sizeof st, 0);
        if (rc != 0)
            return rc;
        seq++;
        a->added++;
        e->added = true;
    }
    if (a->key && a->pos) {
        char k[CCM_KEY_MAX + 1];
        size_t kl = s_key(a->key, k, sizeof k);
        uint8_t v[S_POS_LEN];
        s_pos_pack(a->pos, v);
        if (kl && (rc = ccm_store_put(txn, a->ob->pos, k, kl, v, sizeof v, 0)) != 0)
            return rc;
    }
    return 0;
}

int ccm_cdr_outbox_append(ccm_cdr_outbox_t *ob, ccm_cdr_event_t *ev, size_t n, const char *key,
                          const ccm_cdr_pos_t *pos, size_t *added)
{
    append_t a = {ob, ev, n, ob->next_seq, key, pos, 0};
    void *items[] = {&a};
    int item_rc = 0;
    int rc = ccm_store_batch(ob->store, items, 1, s_append, NULL, &item_rc);
    if (rc == 0 && item_rc != 0)
        rc = item_rc == CCM_ENOMEM ? CCM_ENOMEM : CCM_EIO;
    if (rc != 0)
        return rc;
    ob->next_seq += a.added;
    if (added)
        *added = a.added;
    return 0;
}

/* ---- scan ---- */

int ccm_cdr_outbox_scan(ccm_cdr_outbox_t *ob, uint64_t from, size_t max, ccm_cdr_outbox_fn fn,
                        void *arg)
{
    MDB_txn *txn;
    int rc = ccm_store_read_begin(ob->store, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, ob->pending, &cur) != 0) {
        mdb_txn_abort(txn);
        return CCM_EIO;
    }
    uint8_t kb[8];
    ccm_be_put_u64(kb, from);
    MDB_val k = {8, kb}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    char id[CCM_CDR_ID_MAX + 1];
    for (size_t i = 0; mrc == 0 && i < max; i++) {
        const uint8_t *d = v.mv_data;
        size_t idlen = v.mv_size >= 2 ? (size_t)(d[0] << 8 | d[1]) : 0;
        if (k.mv_size != 8 || v.mv_size < 2 + idlen || idlen > CCM_CDR_ID_MAX) {
            rc = CCM_EIO;
            break;
        }
        memcpy(id, d + 2, idlen);
        id[idlen] = '\0';
        if (fn(ccm_be_get_u64(k.mv_data), id, d + 2 + idlen, v.mv_size - 2 - idlen, arg) != 0)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = CCM_EIO;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- ack ---- */

typedef struct {
    ccm_cdr_outbox_t *ob;
    const ccm_cdr_ack_t *acks;
    size_t n;
    int64_t now_us;
} ack_t;

static int s_ack(MDB_txn *txn, void *item, void *ctx)
{
    (void)ctx;
    ack_t *a = item;
    for (size_t i = 0; i < a->n; i++) {
        const char *id = a->acks[i].id;
        size_t idlen = strlen(id);
        MDB_val v;
        int rc = idlen ? ccm_store_get(txn, a->ob->ids, id, idlen, &v) : CCM_ENOTFOUND;
        if (rc == CCM_ENOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        if (v.mv_size != 9 || ((const uint8_t *)v.mv_data)[0] != S_STATE_PENDING)
            continue; /* delivered already: a late duplicate reply */
        uint8_t k[8];
        memcpy(k, (const uint8_t *)v.mv_data + 1, 8);
        rc = ccm_store_del(txn, a->ob->pending, k, 8);
        if (rc != 0 && rc != CCM_ENOTFOUND)
            return rc;
        if (a->acks[i].delivered) {
            uint8_t st[9];
            st[0] = S_STATE_DELIVERED;
            ccm_be_put_u64(st + 1, (uint64_t)a->now_us);
            rc = ccm_store_put(txn, a->ob->ids, id, idlen, st, sizeof st, 0);
        } else {
            rc = ccm_store_del(txn, a->ob->ids, id, idlen);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int ccm_cdr_outbox_ack(ccm_cdr_outbox_t *ob, const ccm_cdr_ack_t *acks, size_t n, int64_t now_us)
{
    if (n == 0)
        return 0;
    ack_t a = {ob, acks, n, now_us};
    void *items[] = {&a};
    int item_rc = 0;
    int rc = ccm_store_batch(ob->store, items, 1, s_ack, NULL, &item_rc);
    return rc != 0 ? rc : item_rc != 0 ? CCM_EIO : 0;
}

int ccm_cdr_outbox_pending(ccm_cdr_outbox_t *ob, uint64_t *n)
{
    MDB_txn *txn;
    int rc = ccm_store_read_begin(ob->store, &txn);
    if (rc != 0)
        return rc;
    MDB_stat st;
    rc = mdb_stat(txn, ob->pending, &st) == 0 ? 0 : CCM_EIO;
    if (rc == 0)
        *n = st.ms_entries;
    mdb_txn_abort(txn);
    return rc;
}

bool ccm_cdr_outbox_known(ccm_cdr_outbox_t *ob, const char *id)
{
    MDB_txn *txn;
    if (!id[0] || ccm_store_read_begin(ob->store, &txn) != 0)
        return false;
    MDB_val v;
    bool known = ccm_store_get(txn, ob->ids, id, strlen(id), &v) == 0;
    mdb_txn_abort(txn);
    return known;
}
