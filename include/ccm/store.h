/* store — one LMDB environment per process.
 *
 * Opened once with durable sync (no MDB_NOSYNC, no MDB_WRITEMAP) and MDB_NOTLS;
 * stale readers are cleared at open (mdb_reader_check). A `meta` database holds
 * the schema version: a new store gets it written, a store with another version
 * is refused with CCM_ESCHEMA and a log line saying what to do.
 *
 * Writes go through ccm_store_batch(): every item of a batch is applied in its
 * own nested transaction inside one write transaction, committed once (group
 * commit). MDB_MAP_FULL anywhere (put or commit) aborts the batch, doubles the
 * map and replays every item from the start; the caller never sees it. Item
 * functions must therefore be replayable: depend only on (transaction, item),
 * and overwrite (not append to) any result they leave in the item. */
#ifndef CCM_STORE_H
#define CCM_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/* LMDB's default maximum key size. */
#define CCM_KEY_MAX 511
/* Name of the database holding the schema version (opened by every store). */
#define CCM_STORE_META_DB "meta"

typedef struct ccm_store ccm_store_t;

typedef struct {
    const char *path;            /* directory; created (mode 0700) if missing */
    const char *const *dbs;      /* NULL-terminated names of named databases (created) */
    uint32_t schema_version;     /* must be > 0 */
    size_t map_size;             /* initial map size in bytes; 0 = 64 MiB */
    size_t map_max;              /* growth stops here (then CCM_EIO); 0 = 64 GiB */
} ccm_store_opts_t;

/* Opens (creating if needed) the environment and every named database.
 * Returns 0 and *out, or CCM_EINVAL, CCM_EIO (logged with the LMDB error),
 * CCM_ESCHEMA. */
int ccm_store_open(const ccm_store_opts_t *opts, ccm_store_t **out);
/* Closes the environment; sets *p to NULL; safe on NULL and twice. */
void ccm_store_destroy(ccm_store_t **p);

/* Looks up a named database given at open. Returns 0 or CCM_ENOTFOUND. */
int ccm_store_dbi(ccm_store_t *s, const char *name, MDB_dbi *out);
MDB_env *ccm_store_env(ccm_store_t *s);
uint32_t ccm_store_schema_version(const ccm_store_t *s);
/* Current map size and bytes in use (last page number × page size). */
int ccm_store_usage(ccm_store_t *s, uint64_t *map_size, uint64_t *used);
/* Number of times the map grew since open (for tests and stats). */
uint64_t ccm_store_growths(const ccm_store_t *s);

/* Read-only transaction; end it with mdb_txn_abort(). 0 or CCM_EIO. */
int ccm_store_read_begin(ccm_store_t *s, MDB_txn **txn);

/* Applies one batch item inside `txn` (a nested transaction of the batch).
 * Return 0 to keep the item's changes; any other CCM_E* code rolls back only
 * this item's changes (the batch goes on); CCM_EMAPFULL (as returned by
 * ccm_store_put) makes the whole batch replay on a larger map. */
typedef int (*ccm_store_apply_fn)(MDB_txn *txn, void *item, void *ctx);

/* Applies fn to items[0..n) in one write transaction and commits it (fsync).
 * item_rc[i] (may be NULL) receives each item's result from the final, committed
 * run. Returns 0 when committed; CCM_EIO when the transaction could not be
 * committed (then nothing of the batch is stored) or the map cannot grow. */
int ccm_store_batch(ccm_store_t *s, void **items, size_t n, ccm_store_apply_fn fn, void *ctx,
                    int *item_rc);

/* mdb_get / mdb_put with ccm error codes. get: 0, CCM_ENOTFOUND, CCM_EIO; the value
 * is borrowed until the transaction ends. put: 0, CCM_EEXIST (with MDB_NOOVERWRITE
 * or MDB_APPEND out of order), CCM_EMAPFULL, CCM_EIO. del: 0, CCM_ENOTFOUND, CCM_EIO. */
int ccm_store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val);
int ccm_store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                  size_t vlen, unsigned flags);
int ccm_store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

/* Online backup: a compacted copy into directory `path` (must exist, empty). */
int ccm_store_backup(ccm_store_t *s, const char *path);

/* ---- Composite keys: fixed-width big-endian integers and NUL-terminated
 * strings, so byte order is (field1, field2, …) order. ---- */
typedef struct {
    uint8_t buf[CCM_KEY_MAX];
    size_t len;
    int err; /* sticky: CCM_ETOOBIG once a field did not fit */
} ccm_key_t;

void ccm_key_init(ccm_key_t *k);
void ccm_key_u32(ccm_key_t *k, uint32_t v);
void ccm_key_u64(ccm_key_t *k, uint64_t v);
/* Signed values are stored with the sign bit flipped so they order correctly. */
void ccm_key_i64(ccm_key_t *k, int64_t v);
/* Appends s and a NUL terminator (s must not contain NUL). */
void ccm_key_str(ccm_key_t *k, const char *s);

void ccm_be_put_u32(uint8_t *p, uint32_t v);
void ccm_be_put_u64(uint8_t *p, uint64_t v);
uint32_t ccm_be_get_u32(const uint8_t *p);
uint64_t ccm_be_get_u64(const uint8_t *p);

#endif
