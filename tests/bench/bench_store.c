/* bench_store — what durable group commit costs: batches of N small puts, one fsync'd
 * commit per batch, with append-ordered keys (MDB_APPEND, like streams and logs) and
 * with random keys (like a hash-keyed index), on a store already holding PREFILL
 * records. Prints figures; never fails on speed.
 * Usage: bench_store [parent-dir (default $TMPDIR or /var/tmp)] [seconds per run (2)]
 * The parent directory should be on the disk the services use: tmpfs makes fsync free. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/store.h"

#define PREFILL 100000 /* records already stored when timing starts */
#define VALUE_LEN 100  /* bytes per value: a small record */
#define BATCH_MAX 256

typedef struct {
    MDB_dbi dbi;
    unsigned flags; /* MDB_APPEND for the append run */
} ctx_t;

typedef struct {
    uint64_t key;
} item_t;

static int s_put(MDB_txn *txn, void *itemp, void *ctxp)
{
    item_t *it = itemp;
    ctx_t *c = ctxp;
    uint8_t k[8], v[VALUE_LEN];
    ccm_be_put_u64(k, it->key);
    memset(v, 0xab, sizeof v);
    return ccm_store_put(txn, c->dbi, k, sizeof k, v, sizeof v, c->flags);
}

static uint64_t s_rand(uint64_t *x) /* splitmix64 */
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* Fills items with the next n keys of the run. */
static void s_keys(item_t *items, size_t n, int random, uint64_t *next, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        items[i].key = random ? s_rand(rng) : (*next)++;
}

static int s_run(const char *parent, int random, size_t batch, double seconds)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ccm-bench-XXXXXX", parent);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    static const char *const dbs[] = {"bench", NULL};
    ccm_store_opts_t o = {.path = dir, .dbs = dbs, .schema_version = 1};
    ccm_store_t *s = NULL;
    if (ccm_store_open(&o, &s) != 0)
        return 1;
    ctx_t c = {0, random ? 0 : MDB_APPEND};
    ccm_store_dbi(s, "bench", &c.dbi);
    static item_t items[10000];
    static void *ptrs[10000];
    for (size_t i = 0; i < 10000; i++)
        ptrs[i] = &items[i];
    uint64_t next = 0, rng = 42;
    for (size_t done = 0; done < PREFILL; done += 10000) {
        s_keys(items, 10000, random, &next, &rng);
        if (ccm_store_batch(s, ptrs, 10000, s_put, &c, NULL) != 0)
            return 1;
    }
    uint64_t commits = 0;
    double t0 = s_now(), t;
    do {
        s_keys(items, batch, random, &next, &rng);
        if (ccm_store_batch(s, ptrs, batch, s_put, &c, NULL) != 0)
            return 1;
        commits++;
        t = s_now() - t0;
    } while (t < seconds);
    uint64_t map = 0, used = 0;
    ccm_store_usage(s, &map, &used);
    printf("%-7s %6zu %12.0f %10.0f %10.1f %10.1f\n", random ? "random" : "append", batch,
           (double)(commits * batch) / t, (double)commits / t, t * 1e6 / (double)commits,
           t * 1e6 / (double)(commits * batch));
    ccm_store_destroy(&s);
    nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(int argc, char **argv)
{
    ccm_log_init("bench_store", CCM_LOG_WARN);
    const char *parent = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    if (seconds <= 0)
        seconds = 2.0;
    struct statfs fs;
    if (statfs(parent, &fs) == 0 && fs.f_type == 0x01021994) /* TMPFS_MAGIC */
        printf("warning: %s is tmpfs; fsync costs nothing there\n", parent);
    printf("store bench in %s: %d records prefilled, %d-byte values, 8-byte keys, "
           "%.1f s per run, durable commits\n",
           parent, PREFILL, VALUE_LEN, seconds);
    printf("%-7s %6s %12s %10s %10s %10s\n", "keys", "batch", "puts/s", "commits/s", "us/commit",
           "us/put");
    static const size_t batches[] = {1, 16, BATCH_MAX};
    for (int random = 0; random < 2; random++)
        for (size_t i = 0; i < sizeof batches / sizeof *batches; i++)
            if (s_run(parent, random, batches[i], seconds) != 0) {
                fprintf(stderr, "bench_store: run failed (see the log above)\n");
                return 1;
            }
    return 0;
}
