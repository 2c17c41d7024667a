/* store: a real LMDB environment in a temporary directory per test. What a service
 * relies on: open/reopen and the schema gate, group commit with per-item rollback,
 * invisible map growth with exactly-once replay, key order, backup. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/store.h"

static const char *const s_dbs[] = {"items", "other", NULL};

typedef struct {
    char dir[64];   /* the test's temporary directory */
    char path[128]; /* the store's directory inside it (not created) */
} fixture_t;

static int s_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ccm-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/var/svc", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static ccm_store_t *s_open(const char *path, uint32_t version, size_t map, size_t max)
{
    ccm_store_opts_t o = {
        .path = path, .dbs = s_dbs, .schema_version = version, .map_size = map, .map_max = max};
    ccm_store_t *s = NULL;
    assert_int_equal(ccm_store_open(&o, &s), 0);
    assert_non_null(s);
    return s;
}

static MDB_dbi s_dbi(ccm_store_t *s, const char *name)
{
    MDB_dbi dbi;
    assert_int_equal(ccm_store_dbi(s, name, &dbi), 0);
    return dbi;
}

/* Number of records in a database, read in a fresh read transaction. */
static size_t s_count(ccm_store_t *s, const char *db)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(ccm_store_read_begin(s, &txn), 0);
    assert_int_equal(mdb_stat(txn, s_dbi(s, db), &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

/* Reads a u32-keyed u64 value; returns 0 and *v or the ccm error. */
static int s_read_u64(ccm_store_t *s, const char *db, uint32_t key, uint64_t *v)
{
    MDB_txn *txn;
    MDB_val val;
    uint8_t k[4];
    ccm_be_put_u32(k, key);
    assert_int_equal(ccm_store_read_begin(s, &txn), 0);
    int rc = ccm_store_get(txn, s_dbi(s, db), k, sizeof k, &val);
    if (rc == 0) {
        assert_true(val.mv_size >= 8); /* value, then padding */
        *v = ccm_be_get_u64(val.mv_data);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* ---- a replayable item: put items[key] = value, bump a counter, maybe fail ---- */

typedef struct {
    uint32_t key;   /* written under this key in "items" */
    uint64_t value; /* written value */
    size_t pad;     /* extra bytes of value, to fill the map */
    int fail;       /* returned after the writes (0 = keep) */
    int swallow;    /* turn CCM_EMAPFULL into CCM_EIO (a careless handler) */
    int runs;       /* how many times the function ran (replays included) */
} item_t;

typedef struct {
    ccm_store_t *s;
    MDB_dbi items;
    MDB_dbi other;
} ctx_t;

static const uint8_t s_counter_key[] = "counter";

static int s_apply(MDB_txn *txn, void *itemp, void *ctxp)
{
    item_t *it = itemp;
    ctx_t *c = ctxp;
    it->runs++;
    uint8_t k[4];
    ccm_be_put_u32(k, it->key);
    uint8_t *v = calloc(1, 8 + it->pad);
    ccm_be_put_u64(v, it->value);
    int rc = ccm_store_put(txn, c->items, k, sizeof k, v, 8 + it->pad, 0);
    free(v);
    if (rc)
        return it->swallow && rc == CCM_EMAPFULL ? CCM_EIO : rc;
    /* counter += 1: a replay that double-applied an item would show here */
    MDB_val cur;
    uint64_t n = 0;
    rc = ccm_store_get(txn, c->other, s_counter_key, sizeof s_counter_key, &cur);
    if (rc == 0)
        n = ccm_be_get_u64(cur.mv_data);
    else if (rc != CCM_ENOTFOUND)
        return rc;
    uint8_t nb[8];
    ccm_be_put_u64(nb, n + 1);
    rc = ccm_store_put(txn, c->other, s_counter_key, sizeof s_counter_key, nb, sizeof nb, 0);
    if (rc)
        return it->swallow && rc == CCM_EMAPFULL ? CCM_EIO : rc;
    return it->fail;
}

static uint64_t s_counter(ccm_store_t *s)
{
    MDB_txn *txn;
    MDB_val v;
    uint64_t n = 0;
    assert_int_equal(ccm_store_read_begin(s, &txn), 0);
    if (ccm_store_get(txn, s_dbi(s, "other"), s_counter_key, sizeof s_counter_key, &v) == 0)
        n = ccm_be_get_u64(v.mv_data);
    mdb_txn_abort(txn);
    return n;
}

/* Runs one batch of n items (key i+base, value 1000+key) and returns its result. */
static int s_batch(ccm_store_t *s, item_t *its, size_t n, int *rcs)
{
    ctx_t c = {s, s_dbi(s, "items"), s_dbi(s, "other")};
    void **ptrs = calloc(n, sizeof *ptrs);
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &its[i];
    int rc = ccm_store_batch(s, ptrs, n, s_apply, &c, rcs);
    free(ptrs);
    return rc;
}

static uint64_t s_last_txnid(ccm_store_t *s)
{
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(ccm_store_env(s), &info), 0);
    return info.me_last_txnid;
}

/* ---- tests ---- */

static void test_open_creates_dir_and_dbs(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 3, 0, 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    MDB_dbi a, b, m;
    assert_int_equal(ccm_store_dbi(s, "items", &a), 0);
    assert_int_equal(ccm_store_dbi(s, "other", &b), 0);
    assert_int_equal(ccm_store_dbi(s, CCM_STORE_META_DB, &m), 0);
    assert_true(a != b && a != m && b != m);
    assert_int_equal(ccm_store_dbi(s, "nope", &a), CCM_ENOTFOUND);
    assert_int_equal(ccm_store_schema_version(s), 3);
    uint64_t map = 0, used = 0;
    assert_int_equal(ccm_store_usage(s, &map, &used), 0);
    assert_int_equal(map, 64u << 20);
    assert_true(used > 0 && used < map);
    assert_int_equal(ccm_store_growths(s), 0);
    ccm_store_destroy(&s);
    assert_null(s);
    ccm_store_destroy(&s); /* safe twice */
}

static void test_open_rejects_bad_options(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = (ccm_store_t *)1;
    ccm_store_opts_t o = {.path = f->path, .dbs = s_dbs, .schema_version = 0};
    assert_int_equal(ccm_store_open(&o, &s), CCM_EINVAL);
    assert_null(s);
    o.schema_version = 1;
    o.path = "";
    assert_int_equal(ccm_store_open(&o, &s), CCM_EINVAL);
    const char *const empty_name[] = {"", NULL};
    o.path = f->path;
    o.dbs = empty_name;
    assert_int_equal(ccm_store_open(&o, &s), CCM_EINVAL);
    /* a file where the directory should be is a disk error, not a crash */
    char file[160];
    snprintf(file, sizeof file, "%s/file", f->dir);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    o.path = file;
    o.dbs = s_dbs;
    assert_int_equal(ccm_store_open(&o, &s), CCM_EIO);
    assert_null(s);
}

static void test_persists_across_reopen(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 1, 0, 0);
    item_t its[3] = {{.key = 1, .value = 11}, {.key = 2, .value = 22}, {.key = 3, .value = 33}};
    assert_int_equal(s_batch(s, its, 3, NULL), 0);
    ccm_store_destroy(&s);

    s = s_open(f->path, 1, 0, 0);
    uint64_t v = 0;
    assert_int_equal(s_read_u64(s, "items", 2, &v), 0);
    assert_int_equal(v, 22);
    assert_int_equal(s_count(s, "items"), 3);
    assert_int_equal(s_counter(s), 3);
    ccm_store_destroy(&s);
}

static void test_schema_mismatch_refused(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 1, 0, 0);
    item_t it = {.key = 7, .value = 70};
    assert_int_equal(s_batch(s, &it, 1, NULL), 0);
    ccm_store_destroy(&s);

    ccm_store_opts_t o = {.path = f->path, .dbs = s_dbs, .schema_version = 2};
    assert_int_equal(ccm_store_open(&o, &s), CCM_ESCHEMA);
    assert_null(s);
    /* refused means untouched: the right version still opens with its data */
    s = s_open(f->path, 1, 0, 0);
    uint64_t v = 0;
    assert_int_equal(s_read_u64(s, "items", 7, &v), 0);
    assert_int_equal(v, 70);
    /* the version is stored big-endian under "schema_version" in meta */
    MDB_txn *txn;
    MDB_val val;
    assert_int_equal(ccm_store_read_begin(s, &txn), 0);
    assert_int_equal(ccm_store_get(txn, s_dbi(s, CCM_STORE_META_DB), "schema_version", 14, &val),
                     0);
    assert_int_equal(val.mv_size, 4);
    assert_int_equal(ccm_be_get_u32(val.mv_data), 1);
    mdb_txn_abort(txn);
    ccm_store_destroy(&s);
}

static void test_new_db_added_on_reopen(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 1, 0, 0);
    ccm_store_destroy(&s);
    const char *const more[] = {"items", "other", "later", NULL};
    ccm_store_opts_t o = {.path = f->path, .dbs = more, .schema_version = 1};
    assert_int_equal(ccm_store_open(&o, &s), 0);
    MDB_dbi later;
    assert_int_equal(ccm_store_dbi(s, "later", &later), 0);
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(ccm_store_read_begin(s, &txn), 0);
    assert_int_equal(mdb_stat(txn, later, &st), 0); /* the handle is usable */
    mdb_txn_abort(txn);
    ccm_store_destroy(&s);
}

typedef struct {
    MDB_dbi dbi;
    int rc[12];
} ops_t;

static int s_ops(MDB_txn *txn, void *item, void *ctx)
{
    (void)item;
    ops_t *o = ctx;
    MDB_val v = {0, NULL};
    uint8_t big[CCM_KEY_MAX + 1] = {0};
    o->rc[0] = ccm_store_get(txn, o->dbi, "k1", 2, &v);
    o->rc[1] = ccm_store_put(txn, o->dbi, "k1", 2, "v1", 2, 0);
    o->rc[2] = ccm_store_put(txn, o->dbi, "k1", 2, "v2", 2, MDB_NOOVERWRITE);
    o->rc[3] = ccm_store_get(txn, o->dbi, "k1", 2, &v);
    o->rc[4] = v.mv_size == 2 && memcmp(v.mv_data, "v1", 2) == 0 ? 0 : -100;
    o->rc[5] = ccm_store_put(txn, o->dbi, "k0", 2, "x", 1, MDB_APPEND); /* out of order */
    o->rc[6] = ccm_store_put(txn, o->dbi, "k2", 2, "x", 1, MDB_APPEND);
    o->rc[7] = ccm_store_del(txn, o->dbi, "k9", 2);
    o->rc[8] = ccm_store_del(txn, o->dbi, "k2", 2);
    o->rc[9] = ccm_store_put(txn, o->dbi, "", 0, "x", 1, 0);
    o->rc[10] = ccm_store_put(txn, o->dbi, big, sizeof big, "x", 1, 0);
    o->rc[11] = ccm_store_get(txn, o->dbi, big, CCM_KEY_MAX, &v);
    return 0;
}

static void test_get_put_del_codes(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 1, 0, 0);
    ops_t o = {.dbi = s_dbi(s, "items")};
    void *one = &o;
    assert_int_equal(ccm_store_batch(s, &one, 1, s_ops, &o, NULL), 0);
    assert_int_equal(o.rc[0], CCM_ENOTFOUND);
    assert_int_equal(o.rc[1], 0);
    assert_int_equal(o.rc[2], CCM_EEXIST);
    assert_int_equal(o.rc[3], 0);
    assert_int_equal(o.rc[4], 0); /* NOOVERWRITE kept the first value */
    assert_int_equal(o.rc[5], CCM_EEXIST);
    assert_int_equal(o.rc[6], 0);
    assert_int_equal(o.rc[7], CCM_ENOTFOUND);
    assert_int_equal(o.rc[8], 0);
    assert_int_equal(o.rc[9], CCM_EINVAL);
    assert_int_equal(o.rc[10], CCM_ETOOBIG);
    assert_int_equal(o.rc[11], CCM_ENOTFOUND); /* the longest key is accepted */
    assert_int_equal(s_count(s, "items"), 1);  /* k1 only */
    ccm_store_destroy(&s);
}

/* ---- key helpers ---- */

typedef struct {
    int64_t a;
    const char *b;
    uint32_t c;
} tuple_t;

static int s_tuple_cmp(const tuple_t *x, const tuple_t *y)
{
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    int r = strcmp(x->b, y->b); /* unsigned byte order, as C requires */
    if (r)
        return r < 0 ? -1 : 1;
    if (x->c != y->c)
        return x->c < y->c ? -1 : 1;
    return 0;
}

static void s_tuple_key(ccm_key_t *k, const tuple_t *t)
{
    ccm_key_init(k);
    ccm_key_i64(k, t->a);
    ccm_key_str(k, t->b);
    ccm_key_u32(k, t->c);
    assert_int_equal(k->err, 0);
}

static void test_key_order_is_tuple_order(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 1, 0, 0);
    const int64_t as[] = {INT64_MIN, -1000000, -256, -1, 0, 1, 255, 256, INT64_MAX};
    const char *bs[] = {"", "a", "a\x01", "ab", "abc", "b", "\x7f", "\xc3\xa9", "\xff"};
    const uint32_t cs[] = {0, 1, 255, 256, 65536, UINT32_MAX};
    enum { NA = sizeof as / sizeof *as, NB = sizeof bs / sizeof *bs, NC = sizeof cs / sizeof *cs };
    tuple_t *t = calloc(NA * NB * NC, sizeof *t);
    size_t n = 0;
    for (size_t i = 0; i < NA; i++)
        for (size_t j = 0; j < NB; j++)
            for (size_t l = 0; l < NC; l++)
                t[n++] = (tuple_t){as[i], bs[j], cs[l]};
    /* compare every pair with LMDB's own comparison of the database */
    MDB_txn *txn;
    assert_int_equal(ccm_store_read_begin(s, &txn), 0);
    MDB_dbi dbi = s_dbi(s, "items");
    for (size_t i = 0; i < n; i++) {
        ccm_key_t ki;
        s_tuple_key(&ki, &t[i]);
        for (size_t j = 0; j < n; j += 7) { /* a stride keeps it fast and still covers all */
            ccm_key_t kj;
            s_tuple_key(&kj, &t[j]);
            MDB_val a = {ki.len, ki.buf}, b = {kj.len, kj.buf};
            int c = mdb_cmp(txn, dbi, &a, &b);
            c = c < 0 ? -1 : c > 0;
            if (c != s_tuple_cmp(&t[i], &t[j]))
                fail_msg("tuple %zu vs %zu: key order %d", i, j, c);
        }
    }
    mdb_txn_abort(txn);
    free(t);
    ccm_store_destroy(&s);
}

static void test_key_helpers_encoding_and_overflow(void **state)
{
    (void)state;
    uint8_t b[8];
    ccm_be_put_u32(b, 0x01020304);
    assert_memory_equal(b, "\x01\x02\x03\x04", 4);
    assert_int_equal(ccm_be_get_u32(b), 0x01020304);
    ccm_be_put_u64(b, 0x0102030405060708ULL);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(ccm_be_get_u64(b) == 0x0102030405060708ULL);

    ccm_key_t k;
    ccm_key_init(&k);
    ccm_key_i64(&k, -1);
    assert_memory_equal(k.buf, "\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
    ccm_key_str(&k, "ab");
    assert_int_equal(k.len, 11);
    assert_memory_equal(k.buf + 8, "ab", 3); /* with its NUL */

    /* a field that does not fit poisons the key: it can never address a record */
    char long_s[CCM_KEY_MAX];
    memset(long_s, 'x', sizeof long_s - 1);
    long_s[sizeof long_s - 1] = '\0'; /* 510 chars + NUL = 511 bytes: fits alone */
    ccm_key_init(&k);
    ccm_key_str(&k, long_s);
    assert_int_equal(k.err, 0);
    assert_int_equal(k.len, CCM_KEY_MAX);
    ccm_key_u32(&k, 1);
    assert_int_equal(k.err, CCM_ETOOBIG);
    assert_int_equal(k.len, 0);
    ccm_key_u32(&k, 1); /* sticky */
    assert_int_equal(k.err, CCM_ETOOBIG);
    assert_int_equal(k.len, 0);
}

/* ---- group commit ---- */

static void test_batch_commits_all_items_once(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 1, 0, 0);
    enum { N = 50 };
    item_t its[N];
    int rcs[N];
    for (int i = 0; i < N; i++)
        its[i] = (item_t){.key = (uint32_t)i, .value = 1000u + (uint32_t)i};
    uint64_t txn0 = s_last_txnid(s);
    assert_int_equal(s_batch(s, its, N, rcs), 0);
    assert_true(s_last_txnid(s) == txn0 + 1); /* one commit for the whole batch */
    for (int i = 0; i < N; i++) {
        uint64_t v = 0;
        assert_int_equal(rcs[i], 0);
        assert_int_equal(its[i].runs, 1);
        assert_int_equal(s_read_u64(s, "items", (uint32_t)i, &v), 0);
        assert_int_equal(v, 1000 + i);
    }
    assert_int_equal(s_counter(s), N);
    assert_int_equal(ccm_store_batch(s, NULL, 0, s_apply, NULL, NULL), 0); /* empty batch */
    ccm_store_destroy(&s);
}

static void test_failing_item_rolled_back_alone(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 1, 0, 0);
    item_t its[5];
    int rcs[5];
    for (int i = 0; i < 5; i++)
        its[i] = (item_t){.key = (uint32_t)i, .value = (uint64_t)i};
    its[2].fail = CCM_ECONFLICT; /* writes, then refuses */
    its[4].fail = CCM_EINVAL;
    assert_int_equal(s_batch(s, its, 5, rcs), 0);
    int want[5] = {0, 0, CCM_ECONFLICT, 0, CCM_EINVAL};
    uint64_t v;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rcs[i], want[i]);
        assert_int_equal(s_read_u64(s, "items", (uint32_t)i, &v), want[i] ? CCM_ENOTFOUND : 0);
    }
    /* the counter bumps of the failed items were rolled back with them */
    assert_int_equal(s_counter(s), 3);
    ccm_store_destroy(&s);
}

static void test_map_full_grows_and_replays_exactly_once(void **state)
{
    fixture_t *f = *state;
    /* A 32 KiB map (8 pages) cannot hold 300 items of ~200 bytes: MDB_MAP_FULL happens
     * in the middle of the batch, several times. */
    ccm_store_t *s = s_open(f->path, 1, 32 << 10, 0);
    uint64_t map0 = 0, used = 0;
    assert_int_equal(ccm_store_usage(s, &map0, &used), 0);
    assert_true(map0 <= 64 << 10);
    enum { N = 300 };
    item_t *its = calloc(N, sizeof *its);
    int *rcs = calloc(N, sizeof *rcs);
    for (int i = 0; i < N; i++)
        its[i] = (item_t){.key = (uint32_t)i, .value = (uint64_t)i * 3, .pad = 200};
    its[10].fail = CCM_ECONFLICT;
    assert_int_equal(s_batch(s, its, N, rcs), 0);
    assert_true(ccm_store_growths(s) > 0);
    assert_true(its[0].runs > 1); /* replayed from the start */
    uint64_t map1 = 0;
    assert_int_equal(ccm_store_usage(s, &map1, &used), 0);
    assert_true(map1 > map0);
    assert_true(used <= map1);
    for (int i = 0; i < N; i++) {
        uint64_t v = 0;
        assert_int_equal(rcs[i], i == 10 ? CCM_ECONFLICT : 0);
        assert_int_equal(s_read_u64(s, "items", (uint32_t)i, &v), i == 10 ? CCM_ENOTFOUND : 0);
        if (i != 10)
            assert_int_equal(v, (uint64_t)i * 3);
    }
    assert_int_equal(s_count(s, "items"), N - 1);
    assert_int_equal(s_counter(s), N - 1); /* each kept item counted exactly once */
    ccm_store_destroy(&s);

    /* the grown size is kept on reopen, even when a smaller size is configured */
    s = s_open(f->path, 1, 32 << 10, 0);
    uint64_t map2 = 0;
    assert_int_equal(ccm_store_usage(s, &map2, &used), 0);
    assert_true(map2 >= map1);
    ccm_store_destroy(&s);
    /* and a larger configured size wins over the stored one */
    s = s_open(f->path, 1, (size_t)map1 * 4, 0);
    assert_int_equal(ccm_store_usage(s, &map2, &used), 0);
    assert_true(map2 == map1 * 4);
    ccm_store_destroy(&s);
    free(its);
    free(rcs);
}

static void test_map_full_swallowed_by_item_still_replays(void **state)
{
    fixture_t *f = *state;
    /* One item too big for the tiny map turns CCM_EMAPFULL into CCM_EIO; the small
     * items around it would still fit, so only the store itself can notice. */
    ccm_store_t *s = s_open(f->path, 1, 32 << 10, 0);
    item_t its[3] = {{.key = 1, .value = 1, .swallow = 1},
                     {.key = 2, .value = 2, .pad = 40 << 10, .swallow = 1},
                     {.key = 3, .value = 3, .swallow = 1}};
    int rcs[3] = {-1, -1, -1};
    assert_int_equal(s_batch(s, its, 3, rcs), 0);
    assert_true(ccm_store_growths(s) > 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rcs[i], 0);
    assert_int_equal(s_count(s, "items"), 3);
    assert_int_equal(s_counter(s), 3);
    ccm_store_destroy(&s);
}

static void test_growth_stops_at_map_max(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 1, 32 << 10, 128 << 10);
    enum { N = 2000 }; /* ~2000 × 300 bytes: more than 128 KiB */
    item_t *its = calloc(N, sizeof *its);
    for (int i = 0; i < N; i++)
        its[i] = (item_t){.key = (uint32_t)i, .value = 1, .pad = 300};
    assert_int_equal(s_batch(s, its, N, NULL), CCM_EIO);
    assert_int_equal(s_count(s, "items"), 0); /* nothing of the batch is stored */
    uint64_t map = 0, used = 0;
    assert_int_equal(ccm_store_usage(s, &map, &used), 0);
    assert_true(map <= 128 << 10);
    /* the store keeps serving batches that fit */
    assert_int_equal(s_batch(s, its, 10, NULL), 0);
    assert_int_equal(s_count(s, "items"), 10);
    ccm_store_destroy(&s);
    free(its);
}

static void test_backup_is_a_readable_store(void **state)
{
    fixture_t *f = *state;
    ccm_store_t *s = s_open(f->path, 4, 0, 0);
    enum { N = 100 };
    item_t its[N];
    for (int i = 0; i < N; i++)
        its[i] = (item_t){.key = (uint32_t)i, .value = 500u + (uint32_t)i};
    assert_int_equal(s_batch(s, its, N, NULL), 0);
    char bak[160];
    snprintf(bak, sizeof bak, "%s/backup", f->dir);
    assert_int_equal(mkdir(bak, 0700), 0);
    assert_int_equal(ccm_store_backup(s, bak), 0);
    /* a second copy into the same directory must not overwrite the first */
    assert_int_equal(ccm_store_backup(s, bak), CCM_EEXIST);
    char missing[200];
    snprintf(missing, sizeof missing, "%s/nope/deeper", f->dir);
    assert_int_equal(ccm_store_backup(s, missing), CCM_EIO);
    ccm_store_destroy(&s);

    char file[200];
    struct stat st;
    snprintf(file, sizeof file, "%s/data.mdb", bak);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0); /* holds PHI: owner only */
    ccm_store_t *b = s_open(bak, 4, 0, 0);
    uint64_t v = 0;
    assert_int_equal(s_read_u64(b, "items", 42, &v), 0);
    assert_int_equal(v, 542);
    assert_int_equal(s_count(b, "items"), N);
    ccm_store_destroy(&b);
}

int main(void)
{
    ccm_log_init("test_store", CCM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_dir_and_dbs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_rejects_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persists_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_mismatch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_db_added_on_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_put_del_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_order_is_tuple_order, setup, teardown),
        cmocka_unit_test(test_key_helpers_encoding_and_overflow),
        cmocka_unit_test_setup_teardown(test_batch_commits_all_items_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_item_rolled_back_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full_grows_and_replays_exactly_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_map_full_swallowed_by_item_still_replays, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_growth_stops_at_map_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_is_a_readable_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
