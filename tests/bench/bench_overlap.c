/* bench_overlap — timetrack's overlap index (services/timetrack/overlap.c) on a
 * real LMDB store: the cost of adding an entry with the performer's history
 * shaped five ways, and, with --check, a randomised comparison with a brute-force
 * model (which entry overlaps what, which entries get flagged, the two
 * databases' contents after adds, voids and a rebuild from scratch). A third
 * database plays the caller's index of every entry (timetrack's by_performer):
 * its row is written with each add, as timetrack does.
 *
 *   bench_overlap [--entries N]    prints µs per add and per void (of the first
 *                                  1,000 voided); never judges speed
 *   bench_overlap --check [ROUNDS] exit 0 when the index agrees with the model */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/store.h"
#include "overlap.h"

/* ---- a throw-away store ---- */

typedef struct {
    char dir[64];
    ccm_store_t *store;
    ccm_overlap_db_t db;
} fx_t;

static const char *const s_dbs[] = {"overlap_steps", "overlap_alone", "all", NULL};

static int s_rm_dir(const char *dir)
{
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    return rmdir(dir);
}

static void s_open(fx_t *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/ccm-bench-overlap-XXXXXX");
    ccm_store_opts_t o = {
        .path = f->dir, .dbs = s_dbs, .schema_version = 1, .map_size = (size_t)1 << 30};
    MDB_dbi all;
    if (!mkdtemp(f->dir) || ccm_store_open(&o, &f->store) != 0 ||
        ccm_store_dbi(f->store, "all", &all) != 0 || ccm_overlap_bind(&f->db, f->store, all) != 0) {
        fprintf(stderr, "bench_overlap: cannot open a store in /tmp\n");
        exit(1);
    }
    mdb_env_set_flags(ccm_store_env(f->store), MDB_NOSYNC, 1); /* a scratch store: no fsync */
}

static void s_close(fx_t *f)
{
    ccm_store_destroy(&f->store);
    s_rm_dir(f->dir);
}

static MDB_txn *s_begin(fx_t *f)
{
    MDB_txn *txn;
    if (mdb_txn_begin(ccm_store_env(f->store), NULL, 0, &txn) != 0)
        exit(1);
    return txn;
}

static void s_commit(MDB_txn *txn)
{
    if (mdb_txn_commit(txn) != 0) {
        fprintf(stderr, "bench_overlap: commit failed\n");
        exit(1);
    }
}

/* The caller's row of an entry (by_performer in timetrack). */
static void s_put_all(MDB_txn *txn, fx_t *f, const ccm_overlap_span_t *sp)
{
    ccm_key_t k;
    ccm_key_init(&k);
    ccm_key_str(&k, sp->clinic);
    ccm_key_str(&k, sp->performer);
    ccm_key_i64(&k, sp->start_us);
    ccm_key_str(&k, sp->id);
    uint8_t v[8];
    ccm_be_put_u64(v, (uint64_t)sp->end_us);
    if (ccm_store_put(txn, f->db.all, k.buf, k.len, v, sizeof v, 0) != 0)
        exit(1);
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the model ---- */

typedef struct {
    char performer[8];
    char id[16];
    int64_t start, end;
    int active;
    int flagged;
} ent_t;

typedef struct {
    ent_t *e;
    size_t n;
    size_t flagged_now; /* flag callbacks of the current add */
    char flagged_ids[4096][16];
    int failures;
} model_t;

static ent_t *s_find(model_t *m, const char *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].id, id) == 0)
            return &m->e[i];
    return NULL;
}

static int s_fail(model_t *m, const char *what, const char *id)
{
    if (m->failures++ < 10)
        fprintf(stderr, "MISMATCH %s (%s)\n", what, id);
    return 0;
}

static bool s_model_active(const char *id, void *arg, int *rc)
{
    (void)rc;
    ent_t *e = s_find(arg, id);
    return e && e->active;
}

static int s_on_flag(const char *id, void *arg)
{
    model_t *m = arg;
    if (m->flagged_now < sizeof m->flagged_ids / sizeof m->flagged_ids[0])
        snprintf(m->flagged_ids[m->flagged_now], sizeof m->flagged_ids[0], "%s", id);
    m->flagged_now++;
    return 0;
}

static ccm_overlap_span_t s_span(const ent_t *e)
{
    return (ccm_overlap_span_t){"C01", e->performer, e->id, e->start, e->end};
}

static int s_same_key_order(const ent_t *a, const ent_t *b)
{
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* The rows db holds for a performer, compared with the model's set. */
static void s_check_db(model_t *m, MDB_txn *txn, MDB_dbi dbi, const char *performer,
                       int (*want)(const model_t *, const ent_t *), const char *name)
{
    ccm_key_t p;
    ccm_key_init(&p);
    ccm_key_str(&p, "C01");
    ccm_key_str(&p, performer);
    MDB_cursor *cur;
    mdb_cursor_open(txn, dbi, &cur);
    MDB_val k = {p.len, p.buf}, v;
    size_t rows = 0;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= p.len + 8 || memcmp(k.mv_data, p.buf, p.len) != 0)
            break;
        const char *id = (const char *)k.mv_data + p.len + 8;
        rows++;
        size_t i = 0;
        while (i < m->n && strcmp(m->e[i].id, id) != 0)
            i++;
        if (i == m->n || !want(m, &m->e[i]))
            s_fail(m, name, id);
        else if ((int64_t)ccm_be_get_u64(v.mv_data) != m->e[i].end)
            s_fail(m, "stored end", id);
    }
    mdb_cursor_close(cur);
    size_t expect = 0;
    for (size_t i = 0; i < m->n; i++)
        expect += strcmp(m->e[i].performer, performer) == 0 && want(m, &m->e[i]);
    if (rows != expect)
        s_fail(m, name, "row count");
}

static int s_want_alone(const model_t *m, const ent_t *e)
{
    (void)m;
    return e->active && !e->flagged;
}

/* Flagged, and no active entry before it in key order reaches as far: a step
 * that is not alone. */
static int s_want_steps(const model_t *m, const ent_t *e)
{
    if (!e->active || !e->flagged)
        return 0;
    for (size_t i = 0; i < m->n; i++) {
        const ent_t *o = &m->e[i];
        if (o->active && strcmp(o->performer, e->performer) == 0 && s_same_key_order(o, e) < 0 &&
            o->end >= e->end)
            return 0;
    }
    return 1;
}

static void s_check_all(model_t *m, fx_t *f, const char *const *performers)
{
    MDB_txn *txn = s_begin(f);
    for (int i = 0; performers[i]; i++) {
        s_check_db(m, txn, f->db.alone, performers[i], s_want_alone, "alone");
        s_check_db(m, txn, f->db.steps, performers[i], s_want_steps, "steps");
    }
    mdb_txn_abort(txn);
}

static int s_overlap(const ent_t *a, const ent_t *b)
{
    return strcmp(a->performer, b->performer) == 0 && a->start < b->end && b->start < a->end;
}

/* One randomised run: adds and voids on three performers, checked step by step. */
static int s_check_run(unsigned seed, int ops)
{
    static const char *const performers[] = {"p0", "p1", "p2", NULL};
    srand(seed);
    fx_t f;
    s_open(&f);
    model_t *m = calloc(1, sizeof *m);
    m->e = calloc((size_t)ops, sizeof *m->e);
    int span = 50 + rand() % 400; /* small: many overlaps, equal starts and ends */
    for (int op = 0; op < ops; op++) {
        MDB_txn *txn = s_begin(&f);
        size_t nact = 0;
        for (size_t i = 0; i < m->n; i++)
            nact += m->e[i].active;
        if (nact > 0 && rand() % 10 < 3) {
            size_t pick = (size_t)rand() % nact, i = 0;
            for (;; i++)
                if (m->e[i].active && pick-- == 0)
                    break;
            ccm_overlap_span_t sp = s_span(&m->e[i]);
            m->e[i].active = 0; /* the caller records it first, as timetrack does */
            if (ccm_overlap_remove(txn, &f.db, &sp, s_model_active, m) != 0)
                s_fail(m, "remove failed", m->e[i].id);
        } else {
            ent_t *e = &m->e[m->n];
            snprintf(e->performer, sizeof e->performer, "p%d", rand() % 3);
            snprintf(e->id, sizeof e->id, "E%zu", m->n);
            int shape = rand() % 4;
            e->start = shape == 0 ? 100 : rand() % span; /* many simultaneous */
            e->end = e->start + (shape == 1 ? 30 : 1 + rand() % 60);
            e->active = 1;
            char example[16];
            m->flagged_now = 0;
            ccm_overlap_span_t sp = s_span(e);
            if (ccm_overlap_add(txn, &f.db, &sp, example, sizeof example, s_on_flag, m) != 0)
                s_fail(m, "add failed", e->id);
            s_put_all(txn, &f, &sp);
            /* the example: an active entry it overlaps, "" only when none exists */
            int any = 0;
            size_t expect_flags = 0;
            for (size_t i = 0; i < m->n; i++)
                if (m->e[i].active && s_overlap(&m->e[i], e)) {
                    any = 1;
                    if (!m->e[i].flagged)
                        expect_flags++;
                }
            if (any != (example[0] != '\0'))
                s_fail(m, any ? "no example for an overlapping entry" : "example without overlap",
                       e->id);
            for (size_t i = 0; example[0] && i < m->n; i++)
                if (strcmp(m->e[i].id, example) == 0 &&
                    (!m->e[i].active || !s_overlap(&m->e[i], e)))
                    s_fail(m, "example does not overlap", example);
            if (m->flagged_now != expect_flags)
                s_fail(m, "flag count", e->id);
            for (size_t j = 0; j < m->flagged_now && j < 4096; j++) {
                size_t i = 0;
                while (i < m->n && strcmp(m->e[i].id, m->flagged_ids[j]) != 0)
                    i++;
                if (i == m->n || m->e[i].flagged || !m->e[i].active || !s_overlap(&m->e[i], e))
                    s_fail(m, "flagged the wrong entry", m->flagged_ids[j]);
                else
                    m->e[i].flagged = 1;
            }
            e->flagged = any;
            m->n++;
        }
        s_commit(txn);
        if (op % 25 == 0 || op == ops - 1)
            s_check_all(m, &f, performers);
    }
    /* Built from scratch (a store older than the index): the same databases. */
    fx_t g;
    s_open(&g);
    MDB_txn *txn = s_begin(&g);
    for (size_t i = m->n; i-- > 0;) { /* in another order than they came */
        ccm_overlap_span_t sp = s_span(&m->e[i]);
        s_put_all(txn, &g, &sp);
        if (m->e[i].active && ccm_overlap_restore(txn, &g.db, &sp, m->e[i].flagged) != 0)
            s_fail(m, "restore failed", m->e[i].id);
    }
    s_commit(txn);
    s_check_all(m, &g, performers);
    s_close(&g);
    s_close(&f);
    int failures = m->failures;
    free(m->e);
    free(m);
    return failures;
}

/* ---- figures ---- */

/* Voids measured per shape: a void may rescan the entries the voided one
 * covered (overlap.h), so a long run of them is not what an import does. */
#define S_VOIDS 1000

/* In the figures, entry i is voided when voided[i] is set. */
static bool s_bench_active(const char *id, void *arg, int *rc)
{
    (void)rc;
    const char *voided = arg;
    return !voided[atoi(id + 4)]; /* "CDR:<i>" */
}

typedef enum { SIMULTANEOUS, NESTED_GROWING, NESTED_SHRINKING, SEQUENTIAL, SPREAD } shape_t;

static void s_bench(const char *name, shape_t shape, int n)
{
    fx_t f;
    s_open(&f);
    const int64_t t0 = 1790000000LL * 1000000, minute = 60LL * 1000000;
    char id[32], performer[16], example[64];
    double a0 = s_now();
    MDB_txn *txn = s_begin(&f);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "CDR:%d", i);
        int64_t start = t0, end = t0 + 5 * minute;
        snprintf(performer, sizeof performer, "s000");
        switch (shape) {
        case SIMULTANEOUS: break;
        case NESTED_GROWING: end = t0 + (i + 1) * 1000000LL; break;
        case NESTED_SHRINKING: end = t0 + (int64_t)(n - i) * 1000000LL; break;
        case SEQUENTIAL:
            start = t0 + i * 10 * minute;
            end = start + 5 * minute;
            break;
        case SPREAD:
            snprintf(performer, sizeof performer, "s%03d", i % 100);
            start = t0 + (i / 100) * 10 * minute;
            end = start + 5 * minute;
            break;
        }
        ccm_overlap_span_t sp = {"C01", performer, id, start, end};
        if (ccm_overlap_add(txn, &f.db, &sp, example, sizeof example, NULL, NULL) != 0) {
            fprintf(stderr, "bench_overlap: add failed\n");
            exit(1);
        }
        s_put_all(txn, &f, &sp);
        if (i % 1000 == 999) {
            s_commit(txn);
            txn = s_begin(&f);
        }
    }
    s_commit(txn);
    double a1 = s_now();
    /* void every other entry, oldest first, up to S_VOIDS of them */
    int voids = 0;
    char *voided = calloc((size_t)n, 1);
    txn = s_begin(&f);
    for (int i = 0; i < n && voids < S_VOIDS; i += 2, voids++) {
        snprintf(id, sizeof id, "CDR:%d", i);
        int64_t start = t0, end = t0 + 5 * minute;
        snprintf(performer, sizeof performer, "s000");
        if (shape == NESTED_GROWING)
            end = t0 + (i + 1) * 1000000LL;
        else if (shape == NESTED_SHRINKING)
            end = t0 + (int64_t)(n - i) * 1000000LL;
        else if (shape == SEQUENTIAL)
            start = t0 + i * 10 * minute, end = start + 5 * minute;
        else if (shape == SPREAD)
            snprintf(performer, sizeof performer, "s%03d", i % 100),
                start = t0 + (i / 100) * 10 * minute, end = start + 5 * minute;
        ccm_overlap_span_t sp = {"C01", performer, id, start, end};
        voided[i] = 1;
        if (ccm_overlap_remove(txn, &f.db, &sp, s_bench_active, voided) != 0) {
            fprintf(stderr, "bench_overlap: remove failed\n");
            exit(1);
        }
    }
    s_commit(txn);
    double a2 = s_now();
    printf("%-34s %8d %10.2f %10.2f\n", name, n, (a1 - a0) * 1e6 / n, (a2 - a1) * 1e6 / voids);
    free(voided);
    s_close(&f);
}

int main(int argc, char **argv)
{
    ccm_log_init("bench_overlap", CCM_LOG_ERROR);
    if (argc > 1 && strcmp(argv[1], "--check") == 0) {
        int rounds = argc > 2 ? atoi(argv[2]) : 20, failed = 0;
        for (int r = 0; r < rounds; r++)
            failed += s_check_run((unsigned)r + 1, 300) != 0;
        printf("overlap index vs brute force: %d passed, %d failed\n", rounds - failed, failed);
        return failed ? 1 : 0;
    }
    int n = 20000;
    if (argc > 2 && strcmp(argv[1], "--entries") == 0)
        n = atoi(argv[2]);
    if (n < 2) {
        fprintf(stderr, "usage: bench_overlap [--entries N] | --check [ROUNDS]\n");
        return 2;
    }
    printf("%-34s %8s %10s %10s\n", "one performer's history", "entries", "us/add", "us/void");
    s_bench("simultaneous (one shared line)", SIMULTANEOUS, n);
    s_bench("same start, each longer", NESTED_GROWING, n);
    s_bench("same start, each shorter", NESTED_SHRINKING, n);
    s_bench("one after another", SEQUENTIAL, n);
    s_bench("100 performers, one after another", SPREAD, n);
    return 0;
}
