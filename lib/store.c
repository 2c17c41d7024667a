/* store — the LMDB environment of one process, group-commit batches and key helpers.
 * Invariants: every write goes through one top-level write transaction per batch;
 * MDB_MAP_FULL never reaches the caller (the batch is replayed on a doubled map);
 * a failed commit stores nothing and is reported as CCM_EIO. */
#include "ccm/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ccm/error.h"
#include "ccm/log.h"

/* Defaults of ccm_store_opts_t: a 64 MiB map costs nothing until used (sparse file,
 * lazily mapped); 64 GiB bounds growth well below any sane disk. */
#define S_MAP_DEFAULT ((uint64_t)64 << 20)
#define S_MAP_MAX_DEFAULT ((uint64_t)64 << 30)
#define S_SCHEMA_KEY "schema_version"

typedef struct {
    char *name; /* owned */
    MDB_dbi dbi;
} named_db_t;

struct ccm_store {
    MDB_env *env;     /* owned; its userctx points back here (see ccm_store_put) */
    char *path;       /* owned copy of the directory, for log lines */
    named_db_t *dbs;  /* meta first, then the caller's databases in order */
    size_t ndbs;      /* entries in dbs */
    uint32_t schema;  /* schema version stored and expected */
    size_t map_max;   /* growth limit, bytes */
    uint64_t growths; /* map growths since open */
    bool map_full;    /* a put hit MDB_MAP_FULL in the running batch */
};

/* ---- big-endian helpers and composite keys ---- */

void ccm_be_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void ccm_be_put_u64(uint8_t *p, uint64_t v)
{
    ccm_be_put_u32(p, (uint32_t)(v >> 32));
    ccm_be_put_u32(p + 4, (uint32_t)v);
}

uint32_t ccm_be_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

uint64_t ccm_be_get_u64(const uint8_t *p)
{
    return (uint64_t)ccm_be_get_u32(p) << 32 | ccm_be_get_u32(p + 4);
}

void ccm_key_init(ccm_key_t *k)
{
    k->len = 0;
    k->err = 0;
}

/* Reserves n bytes at the end of the key. A field that does not fit poisons the key:
 * err is set and len becomes 0, so a truncated key can never address another
 * record (LMDB and ccm_store_* refuse an empty key). */
static uint8_t *s_key_room(ccm_key_t *k, size_t n)
{
    if (k->err)
        return NULL;
    if (n > CCM_KEY_MAX - k->len) {
        k->err = CCM_ETOOBIG;
        k->len = 0;
        return NULL;
    }
    uint8_t *p = k->buf + k->len;
    k->len += n;
    return p;
}

void ccm_key_u32(ccm_key_t *k, uint32_t v)
{
    uint8_t *p = s_key_room(k, 4);
    if (p)
        ccm_be_put_u32(p, v);
}

void ccm_key_u64(ccm_key_t *k, uint64_t v)
{
    uint8_t *p = s_key_room(k, 8);
    if (p)
        ccm_be_put_u64(p, v);
}

void ccm_key_i64(ccm_key_t *k, int64_t v)
{
    /* Flipping the sign bit maps INT64_MIN..INT64_MAX onto 0..UINT64_MAX in order. */
    ccm_key_u64(k, (uint64_t)v ^ ((uint64_t)1 << 63));
}

void ccm_key_str(ccm_key_t *k, const char *s)
{
    if (!s) {
        if (!k->err) {
            k->err = CCM_EINVAL;
            k->len = 0;
        }
        return;
    }
    size_t n = strlen(s) + 1;
    uint8_t *p = s_key_room(k, n);
    if (p)
        memcpy(p, s, n);
}

/* ---- single operations ---- */

static int s_key_check(const void *key, size_t klen)
{
    if (!key || klen == 0)
        return CCM_EINVAL;
    return klen > CCM_KEY_MAX ? CCM_ETOOBIG : 0;
}

/* Maps an LMDB failure of `op` to a ccm code, logging it once unless it is an
 * expected outcome (not found, exists, map full: the caller decides). */
static int s_map_err(MDB_txn *txn, int rc, const char *op, MDB_dbi dbi, size_t klen)
{
    switch (rc) {
    case MDB_NOTFOUND: return CCM_ENOTFOUND;
    case MDB_KEYEXIST: return CCM_EEXIST;
    case MDB_MAP_FULL: {
        /* Remembered in the store so the batch replays even if the item function
         * turns this code into another one. */
        ccm_store_t *s = mdb_env_get_userctx(mdb_txn_env(txn));
        if (s)
            s->map_full = true;
        return CCM_EMAPFULL;
    }
    default:
        ccm_error("event=store_error op=%s dbi=%u klen=%zu error=\"%s\"", op, (unsigned)dbi, klen,
                  mdb_strerror(rc));
        return CCM_EIO;
    }
}

int ccm_store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val)
{
    int rc = s_key_check(key, klen);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key};
    rc = mdb_get(txn, dbi, &k, val);
    return rc ? s_map_err(txn, rc, "get", dbi, klen) : 0;
}

int ccm_store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                  size_t vlen, unsigned flags)
{
    int rc = s_key_check(key, klen);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key};
    MDB_val v = {vlen, (void *)val};
    rc = mdb_put(txn, dbi, &k, &v, flags);
    return rc ? s_map_err(txn, rc, "put", dbi, klen) : 0;
}

int ccm_store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    int rc = s_key_check(key, klen);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key};
    rc = mdb_del(txn, dbi, &k, NULL);
    return rc ? s_map_err(txn, rc, "del", dbi, klen) : 0;
}

/* ---- environment ---- */

/* mkdir -p with mode 0700 for every directory it creates. */
static int s_mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return CCM_ENOMEM;
    int rc = 0;
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char saved = *c;
        *c = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            ccm_error("event=store_mkdir_failed path=\"%s\" error=\"%s\"", p, strerror(errno));
            rc = CCM_EIO;
            break;
        }
        *c = saved;
        if (saved == '\0')
            break;
    }
    free(p);
    return rc;
}

/* Doubles the map (up to map_max). Only called with no transaction active. */
static int s_grow(ccm_store_t *s)
{
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    size_t cur = info.me_mapsize;
    if (cur >= s->map_max) {
        ccm_error("event=store_map_max path=\"%s\" map_size=%zu map_max=%zu "
                  "action=\"raise the store's map_max or free space\"",
                  s->path, cur, s->map_max);
        return CCM_EIO;
    }
    size_t next = cur > s->map_max / 2 ? s->map_max : cur * 2;
    int rc = mdb_env_set_mapsize(s->env, next);
    if (rc) {
        ccm_error("event=store_grow_failed path=\"%s\" from=%zu to=%zu error=\"%s\"", s->path, cur,
                  next, mdb_strerror(rc));
        return CCM_EIO;
    }
    s->growths++;
    ccm_info("event=store_grow path=\"%s\" from=%zu to=%zu", s->path, cur, next);
    return 0;
}

/* Begins a top-level transaction, adopting a map grown by another process. */
static int s_txn_begin(ccm_store_t *s, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) {
        rc = mdb_env_set_mapsize(s->env, 0);
        if (rc == 0)
            rc = mdb_txn_begin(s->env, NULL, flags, txn);
    }
    if (rc) {
        ccm_error("event=store_txn_begin_failed path=\"%s\" error=\"%s\"", s->path,
                  mdb_strerror(rc));
        return CCM_EIO;
    }
    return 0;
}

/* Opens (creating) every database and checks or writes the schema version, in one
 * write transaction. Returns 0, CCM_EMAPFULL (caller grows and retries), CCM_EIO,
 * CCM_ESCHEMA. */
static int s_init_txn(ccm_store_t *s)
{
    MDB_txn *txn;
    int rc = s_txn_begin(s, 0, &txn);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->ndbs; i++) {
        int mrc = mdb_dbi_open(txn, s->dbs[i].name, MDB_CREATE, &s->dbs[i].dbi);
        if (mrc) {
            mdb_txn_abort(txn);
            if (mrc == MDB_MAP_FULL)
                return CCM_EMAPFULL;
            ccm_error("event=store_open_db_failed path=\"%s\" db=%s error=\"%s\"", s->path,
                      s->dbs[i].name, mdb_strerror(mrc));
            return CCM_EIO;
        }
    }
    MDB_dbi meta = s->dbs[0].dbi;
    const char *key = S_SCHEMA_KEY;
    MDB_val v;
    rc = ccm_store_get(txn, meta, key, strlen(key), &v);
    bool created = rc == CCM_ENOTFOUND;
    if (rc == 0 && (v.mv_size != 4 || ccm_be_get_u32(v.mv_data) != s->schema)) {
        if (v.mv_size != 4)
            ccm_error("event=store_schema_unreadable path=\"%s\" size=%zu "
                      "action=\"restore the store from a backup\"",
                      s->path, v.mv_size);
        else
            ccm_error("event=store_schema_mismatch path=\"%s\" stored=%u expected=%u "
                      "action=\"run a build for schema %u, or migrate the store to %u\"",
                      s->path, ccm_be_get_u32(v.mv_data), s->schema, ccm_be_get_u32(v.mv_data),
                      s->schema);
        mdb_txn_abort(txn);
        return CCM_ESCHEMA;
    }
    if (created) {
        uint8_t buf[4];
        ccm_be_put_u32(buf, s->schema);
        rc = ccm_store_put(txn, meta, key, strlen(key), buf, sizeof buf, 0);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    /* Committed even when nothing changed: databases new to this version are created
     * here, and handles opened by a transaction only survive its commit. */
    int mrc = mdb_txn_commit(txn);
    if (mrc == MDB_MAP_FULL)
        return CCM_EMAPFULL;
    if (mrc) {
        ccm_error("event=store_commit_failed path=\"%s\" op=init error=\"%s\"", s->path,
                  mdb_strerror(mrc));
        return CCM_EIO;
    }
    if (created)
        ccm_info("event=store_created path=\"%s\" schema=%u", s->path, s->schema);
    return 0;
}

int ccm_store_open(const ccm_store_opts_t *opts, ccm_store_t **out)
{
    if (!out)
        return CCM_EINVAL;
    *out = NULL;
    if (!opts || !opts->path || !opts->path[0] || opts->schema_version == 0)
        return CCM_EINVAL;
    size_t n = 0;
    while (opts->dbs && opts->dbs[n]) {
        if (!opts->dbs[n][0])
            return CCM_EINVAL;
        n++;
    }
    int rc = s_mkdirs(opts->path);
    if (rc)
        return rc;

    ccm_store_t *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->schema = opts->schema_version;
    uint64_t max = opts->map_max ? opts->map_max : S_MAP_MAX_DEFAULT;
    s->map_max = max > SIZE_MAX ? SIZE_MAX : (size_t)max;
    uint64_t want = opts->map_size ? opts->map_size : S_MAP_DEFAULT;
    size_t map_size = want > s->map_max ? s->map_max : (size_t)want;
    s->path = strdup(opts->path);
    s->dbs = calloc(n + 1, sizeof *s->dbs);
    if (!s->path || !s->dbs)
        abort();
    s->ndbs = n + 1;
    s->dbs[0].name = strdup(CCM_STORE_META_DB);
    for (size_t i = 0; i < n; i++)
        s->dbs[i + 1].name = strdup(opts->dbs[i]);
    for (size_t i = 0; i < s->ndbs; i++)
        if (!s->dbs[i].name)
            abort();

    const char *what = "env_create";
    int mrc = mdb_env_create(&s->env);
    if (mrc == 0) {
        what = "set_maxdbs";
        mrc = mdb_env_set_maxdbs(s->env, (MDB_dbi)s->ndbs);
    }
    if (mrc == 0) {
        what = "set_mapsize";
        mrc = mdb_env_set_mapsize(s->env, map_size);
    }
    if (mrc == 0) {
        what = "env_open";
        mrc = mdb_env_open(s->env, s->path, MDB_NOTLS, 0600);
    }
    if (mrc == 0) {
        /* The configured size replaced the stored one; keep whichever is larger so a
         * map grown in an earlier run is not shrunk back (size 0 adopts the stored
         * size; LMDB rounds either up to the pages in use). */
        what = "adopt_mapsize";
        mrc = mdb_env_set_mapsize(s->env, 0);
        MDB_envinfo info;
        if (mrc == 0 && (mrc = mdb_env_info(s->env, &info)) == 0 && info.me_mapsize < map_size)
            mrc = mdb_env_set_mapsize(s->env, map_size);
    }
    if (mrc) {
        ccm_error("event=store_open_failed path=\"%s\" op=%s error=\"%s\"", s->path, what,
                  mdb_strerror(mrc));
        rc = CCM_EIO;
        goto fail;
    }
    mdb_env_set_userctx(s->env, s);

    int dead = 0;
    mrc = mdb_reader_check(s->env, &dead);
    if (mrc)
        ccm_warn("event=store_reader_check_failed path=\"%s\" error=\"%s\"", s->path,
                 mdb_strerror(mrc));
    else if (dead > 0)
        ccm_info("event=store_stale_readers path=\"%s\" cleared=%d", s->path, dead);

    while ((rc = s_init_txn(s)) == CCM_EMAPFULL)
        if ((rc = s_grow(s)) != 0)
            break;
    if (rc)
        goto fail;
    *out = s;
    return 0;
fail:
    ccm_store_destroy(&s);
    return rc;
}

void ccm_store_destroy(ccm_store_t **p)
{
    if (!p || !*p)
        return;
    ccm_store_t *s = *p;
    if (s->env)
        mdb_env_close(s->env);
    for (size_t i = 0; s->dbs && i < s->ndbs; i++)
        free(s->dbs[i].name);
    free(s->dbs);
    free(s->path);
    free(s);
    *p = NULL;
}

int ccm_store_dbi(ccm_store_t *s, const char *name, MDB_dbi *out)
{
    for (size_t i = 0; name && i < s->ndbs; i++)
        if (strcmp(s->dbs[i].name, name) == 0) {
            *out = s->dbs[i].dbi;
            return 0;
        }
    return CCM_ENOTFOUND;
}

MDB_env *ccm_store_env(ccm_store_t *s)
{
    return s->env;
}

uint32_t ccm_store_schema_version(const ccm_store_t *s)
{
    return s->schema;
}

int ccm_store_usage(ccm_store_t *s, uint64_t *map_size, uint64_t *used)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(s->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &st);
    if (rc) {
        ccm_error("event=store_usage_failed path=\"%s\" error=\"%s\"", s->path, mdb_strerror(rc));
        return CCM_EIO;
    }
    *map_size = info.me_mapsize;
    *used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    return 0;
}

uint64_t ccm_store_growths(const ccm_store_t *s)
{
    return s->growths;
}

int ccm_store_read_begin(ccm_store_t *s, MDB_txn **txn)
{
    return s_txn_begin(s, MDB_RDONLY, txn);
}

/* One run of a batch. Returns 0 (committed), CCM_EMAPFULL (nothing stored; grow and
 * replay) or CCM_EIO (nothing stored). */
static int s_batch_run(ccm_store_t *s, void **items, size_t n, ccm_store_apply_fn fn, void *ctx,
                       int *item_rc)
{
    MDB_txn *txn;
    int rc = s_txn_begin(s, 0, &txn);
    if (rc)
        return rc;
    s->map_full = false;
    for (size_t i = 0; i < n; i++) {
        MDB_txn *child;
        int mrc = mdb_txn_begin(s->env, txn, 0, &child);
        if (mrc) {
            mdb_txn_abort(txn);
            if (mrc == MDB_MAP_FULL)
                return CCM_EMAPFULL;
            ccm_error("event=store_txn_begin_failed path=\"%s\" nested=1 item=%zu error=\"%s\"",
                      s->path, i, mdb_strerror(mrc));
            return CCM_EIO;
        }
        int r = fn(child, items[i], ctx);
        if (r == CCM_EMAPFULL || s->map_full) {
            mdb_txn_abort(child);
            mdb_txn_abort(txn);
            return CCM_EMAPFULL;
        }
        if (r != 0) {
            mdb_txn_abort(child); /* this item only; the batch goes on */
        } else if ((mrc = mdb_txn_commit(child)) != 0) {
            /* The child is gone; after a failed merge the parent cannot be trusted. */
            mdb_txn_abort(txn);
            if (mrc == MDB_MAP_FULL)
                return CCM_EMAPFULL;
            ccm_error("event=store_commit_failed path=\"%s\" nested=1 item=%zu error=\"%s\"",
                      s->path, i, mdb_strerror(mrc));
            return CCM_EIO;
        }
        if (item_rc)
            item_rc[i] = r;
    }
    int mrc = mdb_txn_commit(txn);
    if (mrc == MDB_MAP_FULL)
        return CCM_EMAPFULL;
    if (mrc) {
        ccm_error("event=store_commit_failed path=\"%s\" items=%zu error=\"%s\"", s->path, n,
                  mdb_strerror(mrc));
        return CCM_EIO;
    }
    return 0;
}

int ccm_store_batch(ccm_store_t *s, void **items, size_t n, ccm_store_apply_fn fn, void *ctx,
                    int *item_rc)
{
    if (!s || !fn || (n && !items))
        return CCM_EINVAL;
    if (n == 0)
        return 0;
    int rc;
    while ((rc = s_batch_run(s, items, n, fn, ctx, item_rc)) == CCM_EMAPFULL)
        if (s_grow(s) != 0)
            return CCM_EIO;
    return rc;
}

int ccm_store_backup(ccm_store_t *s, const char *path)
{
    if (!s || !path || !path[0])
        return CCM_EINVAL;
    int rc = mdb_env_copy2(s->env, path, MDB_CP_COMPACT);
    if (rc) {
        ccm_error("event=store_backup_failed path=\"%s\" to=\"%s\" error=\"%s\"", s->path, path,
                  mdb_strerror(rc));
        return rc == EEXIST ? CCM_EEXIST : CCM_EIO;
    }
    /* LMDB creates the copy 0666 & ~umask; it holds what the store holds. */
    char file[4096];
    if (snprintf(file, sizeof file, "%s/data.mdb", path) < (int)sizeof file)
        chmod(file, 0600);
    ccm_info("event=store_backup path=\"%s\" to=\"%s\"", s->path, path);
    return 0;
}
