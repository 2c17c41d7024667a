/* overlap — the interval index of each performer's active time entries (see
 * overlap.h). Invariants: the performer's steps (the active entries that no
 * active entry earlier in key order reaches as far as; their ends rise strictly
 * in key order) are split in two: overlap_alone holds exactly the active entries
 * not flagged (pairwise disjoint, and each a step: an earlier entry reaching as
 * far would overlap it), overlap_steps the flagged steps. Cursor positions are
 * never trusted across a write: every loop seeks again from a copied key. */
#include "overlap.h"

#include <string.h>

#include "ccm/error.h"

int ccm_overlap_bind(ccm_overlap_db_t *db, ccm_store_t *store, MDB_dbi all)
{
    db->all = all;
    int rc = ccm_store_dbi(store, "overlap_steps", &db->steps);
    return rc ? rc : ccm_store_dbi(store, "overlap_alone", &db->alone);
}

/* ---- keys and rows ---- */

/* clinic · performer: every row of one performer starts with it. */
static void s_prefix(ccm_key_t *k, const ccm_overlap_span_t *sp)
{
    ccm_key_init(k);
    ccm_key_str(k, sp->clinic);
    ccm_key_str(k, sp->performer);
}

/* The row key of sp. */
static void s_key(ccm_key_t *k, const ccm_overlap_span_t *sp)
{
    s_prefix(k, sp);
    ccm_key_i64(k, sp->start_us);
    ccm_key_str(k, sp->id);
}

/* The prefix followed by an instant: sorts before every row starting then. */
static void s_at(ccm_key_t *k, const ccm_overlap_span_t *sp, int64_t us)
{
    s_prefix(k, sp);
    ccm_key_i64(k, us);
}

/* A row of the performer, read from a cursor (borrowed until the next write). */
typedef struct {
    int64_t start, end;
    const char *id;
    MDB_val key;
} row_t;

/* True when (k, v) is a well-formed row of the performer whose prefix is p. */
static bool s_row(const MDB_val *k, const MDB_val *v, const ccm_key_t *p, row_t *out)
{
    const uint8_t *d = k->mv_data;
    if (k->mv_size <= p->len + 8 || memcmp(d, p->buf, p->len) != 0 || v->mv_size != 8 ||
        d[k->mv_size - 1] != '\0')
        return false;
    out->start = (int64_t)(ccm_be_get_u64(d + p->len) ^ (1ULL << 63));
    out->end = (int64_t)ccm_be_get_u64(v->mv_data);
    out->id = (const char *)d + p->len + 8;
    out->key = *k;
    return true;
}

static int s_cursor_err(int r)
{
    return r == MDB_NOTFOUND ? CCM_ENOTFOUND : CCM_EIO;
}

/* Finds the first row of db with key >= k (after = false) or > k (after = true),
 * of the performer p. 0 with *row, CCM_ENOTFOUND, CCM_EIO. */
static int s_next(MDB_cursor *cur, const ccm_key_t *k, bool after, const ccm_key_t *p, row_t *row)
{
    MDB_val kv = {k->len, (void *)k->buf}, vv;
    int r = mdb_cursor_get(cur, &kv, &vv, MDB_SET_RANGE);
    if (r == 0 && after && kv.mv_size == k->len && memcmp(kv.mv_data, k->buf, k->len) == 0)
        r = mdb_cursor_get(cur, &kv, &vv, MDB_NEXT);
    if (r != 0)
        return s_cursor_err(r);
    return s_row(&kv, &vv, p, row) ? 0 : CCM_ENOTFOUND;
}

/* Finds the last row of db with key < k, of the performer p. 0 with *row,
 * CCM_ENOTFOUND, CCM_EIO. */
static int s_prev(MDB_cursor *cur, const ccm_key_t *k, const ccm_key_t *p, row_t *row)
{
    MDB_val kv = {k->len, (void *)k->buf}, vv;
    int r = mdb_cursor_get(cur, &kv, &vv, MDB_SET_RANGE);
    if (r == MDB_NOTFOUND)
        r = mdb_cursor_get(cur, &kv, &vv, MDB_LAST);
    else if (r == 0)
        r = mdb_cursor_get(cur, &kv, &vv, MDB_PREV);
    if (r != 0)
        return s_cursor_err(r);
    return s_row(&kv, &vv, p, row) ? 0 : CCM_ENOTFOUND;
}

/* LMDB's default order: bytes, then the shorter first. */
static int s_keycmp(const MDB_val *a, const ccm_key_t *b)
{
    size_t n = a->mv_size < b->len ? a->mv_size : b->len;
    int c = memcmp(a->mv_data, b->buf, n);
    return c ? c : (a->mv_size > b->len) - (a->mv_size < b->len);
}

static int s_put(MDB_txn *txn, MDB_dbi dbi, const ccm_key_t *k, int64_t end)
{
    if (k->err)
        return CCM_EINVAL;
    uint8_t v[8];
    ccm_be_put_u64(v, (uint64_t)end);
    return ccm_store_put(txn, dbi, k->buf, k->len, v, sizeof v, 0);
}

/* Copies a row's key, so the row can be deleted and the scan sought again. */
static void s_copy_key(ccm_key_t *dst, const row_t *row)
{
    ccm_key_init(dst);
    memcpy(dst->buf, row->key.mv_data, row->key.mv_size);
    dst->len = row->key.mv_size;
}

static int s_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur)
{
    return mdb_cursor_open(txn, dbi, cur) == 0 ? 0 : CCM_EIO;
}

/* ---- the staircase ---- */

/* The performer's step nearest to key k in either database: the last before it
 * (after = false) or the first after it (after = true). 0 with its key copied
 * into *key and its end in *end, CCM_ENOTFOUND, CCM_EIO. */
static int s_step_near(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_key_t *k,
                       const ccm_key_t *p, bool after, ccm_key_t *key, int64_t *end)
{
    const MDB_dbi dbis[2] = {db->alone, db->steps};
    int found = CCM_ENOTFOUND;
    for (int i = 0; i < 2; i++) {
        MDB_cursor *cur;
        int rc = s_open(txn, dbis[i], &cur);
        if (rc)
            return rc;
        row_t r;
        rc = after ? s_next(cur, k, true, p, &r) : s_prev(cur, k, p, &r);
        if (rc == 0 && (found != 0 || (s_keycmp(&r.key, key) > 0) != after)) {
            s_copy_key(key, &r);
            *end = r.end;
            found = 0;
        }
        mdb_cursor_close(cur);
        if (rc != 0 && rc != CCM_ENOTFOUND)
            return rc;
    }
    return found;
}

/* Adds the flagged entry sp (key k) to overlap_steps unless an earlier step
 * reaches as far, and drops the steps after it that it now reaches past. Only
 * overlap_steps needs looking at: an unflagged step that reached as far as sp,
 * or that sp reaches past, would overlap sp (and be flagged by now). */
static int s_steps_insert(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                          const ccm_key_t *k)
{
    ccm_key_t p;
    s_prefix(&p, sp);
    MDB_cursor *cur;
    int rc = s_open(txn, db->steps, &cur);
    if (rc)
        return rc;
    row_t w;
    rc = s_prev(cur, k, &p, &w);
    if (rc == 0 && w.end >= sp->end_us) {
        mdb_cursor_close(cur);
        return 0; /* covered by an earlier step */
    }
    if (rc == 0 || rc == CCM_ENOTFOUND)
        rc = s_put(txn, db->steps, k, sp->end_us);
    while (rc == 0) {
        row_t q;
        rc = s_next(cur, k, true, &p, &q);
        if (rc != 0 || q.end > sp->end_us)
            break;
        ccm_key_t qk;
        s_copy_key(&qk, &q);
        rc = ccm_store_del(txn, db->steps, qk.buf, qk.len);
    }
    mdb_cursor_close(cur);
    return rc == CCM_ENOTFOUND ? 0 : rc;
}

/* sp (key k, already deleted from overlap_steps) was a flagged step: the active
 * entries it reached past up to the next step may be steps now (flagged ones: an
 * unflagged entry is a step already). Scans the rows of every entry in key
 * order, keeping each active one that reaches further than every one before it,
 * and stops at the first that reaches as far as sp did (none can go further). */
static int s_steps_rebuild(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                           const ccm_key_t *k, ccm_overlap_active_fn active, void *arg)
{
    ccm_key_t p, w, next;
    s_prefix(&p, sp);
    int64_t reach = INT64_MIN, next_end;
    int rc = s_step_near(txn, db, k, &p, false, &w, &reach);
    if (rc == CCM_ENOTFOUND)
        reach = INT64_MIN;
    else if (rc != 0)
        return rc;
    rc = s_step_near(txn, db, k, &p, true, &next, &next_end);
    if (rc == CCM_ENOTFOUND)
        next.len = 0; /* no step after it */
    else if (rc != 0)
        return rc;
    MDB_cursor *cur;
    if ((rc = s_open(txn, db->all, &cur)) != 0)
        return rc;
    ccm_key_t from = *k;
    for (;;) {
        row_t a;
        rc = s_next(cur, &from, true, &p, &a);
        if (rc != 0)
            break;
        if (next.len && s_keycmp(&a.key, &next) >= 0)
            break;
        s_copy_key(&from, &a);
        if (a.end <= reach || a.end <= a.start)
            continue;
        char id[CCM_KEY_MAX];
        memcpy(id, (const char *)from.buf + p.len + 8, from.len - p.len - 8);
        int arc = 0;
        bool is_active = active(id, arg, &arc);
        if ((rc = arc) != 0)
            break;
        if (!is_active)
            continue;
        reach = a.end;
        if ((rc = s_put(txn, db->steps, &from, a.end)) != 0 || reach >= sp->end_us)
            break;
    }
    mdb_cursor_close(cur);
    return rc == CCM_ENOTFOUND ? 0 : rc;
}

/* ---- the index ---- */

/* Flags the unflagged entries sp overlaps: the alone row just before sp's start
 * if it ends after it, then every alone row starting before sp's end. Each moves
 * to overlap_steps (it was a step; s_steps_insert drops it if sp reaches past). */
static int s_flag_alone(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                        ccm_overlap_flag_fn flag, void *arg)
{
    ccm_key_t p, at;
    s_prefix(&p, sp);
    s_at(&at, sp, sp->start_us);
    MDB_cursor *cur;
    int rc = s_open(txn, db->alone, &cur);
    if (rc)
        return rc;
    for (bool first = true;; first = false) {
        row_t a;
        if (first) {
            /* The rows are disjoint: only the last one starting before sp can reach into it. */
            rc = s_prev(cur, &at, &p, &a);
            if (rc == 0 && a.end <= sp->start_us)
                rc = CCM_ENOTFOUND;
            if (rc == CCM_ENOTFOUND)
                continue;
        } else {
            rc = s_next(cur, &at, false, &p, &a);
            if (rc == 0 && a.start >= sp->end_us)
                rc = CCM_ENOTFOUND;
        }
        if (rc != 0)
            break;
        ccm_key_t ak;
        s_copy_key(&ak, &a);
        int64_t end = a.end;
        char id[CCM_KEY_MAX];
        memcpy(id, (const char *)ak.buf + p.len + 8, ak.len - p.len - 8);
        if ((rc = ccm_store_del(txn, db->alone, ak.buf, ak.len)) != 0 ||
            (rc = s_put(txn, db->steps, &ak, end)) != 0)
            break;
        if (flag && (rc = flag(id, arg)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == CCM_ENOTFOUND ? 0 : rc;
}

int ccm_overlap_add(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                    char *example, size_t cap, ccm_overlap_flag_fn flag, void *arg)
{
    if (cap)
        example[0] = '\0';
    if (sp->end_us <= sp->start_us)
        return 0;
    ccm_key_t p, at, k, z;
    s_prefix(&p, sp);
    s_key(&k, sp);
    if (k.err)
        return CCM_EINVAL;
    /* Does anything overlap: the last step starting before sp's end, reaching past its start? */
    s_at(&at, sp, sp->end_us);
    int64_t zend;
    int rc = s_step_near(txn, db, &at, &p, false, &z, &zend);
    if (rc != 0 && rc != CCM_ENOTFOUND)
        return rc;
    if (rc == CCM_ENOTFOUND || zend <= sp->start_us)
        return s_put(txn, db->alone, &k, sp->end_us); /* a step that reaches past nothing */
    if (cap) {
        size_t n = z.len - p.len - 8 - 1;
        n = n < cap - 1 ? n : cap - 1;
        memcpy(example, (const char *)z.buf + p.len + 8, n);
        example[n] = '\0';
    }
    rc = s_flag_alone(txn, db, sp, flag, arg);
    return rc ? rc : s_steps_insert(txn, db, sp, &k);
}

int ccm_overlap_remove(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                       ccm_overlap_active_fn active, void *arg)
{
    if (sp->end_us <= sp->start_us)
        return 0;
    ccm_key_t k;
    s_key(&k, sp);
    if (k.err)
        return 0; /* never indexed */
    int rc = ccm_store_del(txn, db->alone, k.buf, k.len);
    if (rc != CCM_ENOTFOUND)
        return rc; /* unflagged: it reached past nothing (or an error) */
    rc = ccm_store_del(txn, db->steps, k.buf, k.len);
    if (rc == CCM_ENOTFOUND)
        return 0; /* not a step: nothing was reached past through it */
    return rc ? rc : s_steps_rebuild(txn, db, sp, &k, active, arg);
}

int ccm_overlap_restore(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                        bool flagged)
{
    if (sp->end_us <= sp->start_us)
        return 0;
    ccm_key_t k;
    s_key(&k, sp);
    if (!flagged)
        return s_put(txn, db->alone, &k, sp->end_us);
    return k.err ? CCM_EINVAL : s_steps_insert(txn, db, sp, &k);
}
