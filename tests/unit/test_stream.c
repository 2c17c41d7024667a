/* stream: a service's outbox and consumer cursors on a real LMDB store. What a
 * consumer relies on: seq gap-free from 1 whatever the batches did, FETCH returns
 * exactly the range, filters and limits it asks for, and next_seq never skips. */
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

#include <cmocka.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/store.h"
#include "ccm/stream.h"

static const char *const s_dbs[] = {CCM_STREAM_DB, CCM_CURSOR_DB, NULL};

typedef struct {
    char dir[64];
    char path[128];
    ccm_store_t *store;
    ccm_stream_t *stream;
} fixture_t;

static int s_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void s_open(fixture_t *f, size_t map)
{
    ccm_store_opts_t o = {.path = f->path, .dbs = s_dbs, .schema_version = 1, .map_size = map};
    assert_int_equal(ccm_store_open(&o, &f->store), 0);
    assert_int_equal(ccm_stream_open(f->store, "enrollment", &f->stream), 0);
}

static void s_close(fixture_t *f)
{
    ccm_stream_destroy(&f->stream);
    ccm_stream_destroy(&f->stream); /* safe twice */
    ccm_store_destroy(&f->store);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ccm-stream-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/svc", f->dir);
    s_open(f, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    s_close(f);
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- a batch item appends one event (maybe more), then keeps or fails ---- */

typedef struct {
    const char *type;
    size_t payload;  /* payload bytes (filled with seq-independent 'p') */
    int count;       /* events to append (0 = 1) */
    int fail;        /* returned after appending */
    const char *cur; /* if set: cursor name to advance to cur_to */
    uint64_t cur_to;
    uint64_t seq;      /* out: seq of the last appended event */
    uint64_t seen_cur; /* out: the cursor read before setting it */
} ev_t;

typedef struct {
    ccm_stream_t *stream;
    MDB_dbi cursors;
} ctx_t;

static int s_apply(MDB_txn *txn, void *itemp, void *ctxp)
{
    ev_t *e = itemp;
    ctx_t *c = ctxp;
    uint8_t *p = e->payload ? malloc(e->payload) : NULL;
    if (p)
        memset(p, 'p', e->payload);
    int rc = 0;
    for (int i = 0; i < (e->count ? e->count : 1) && rc == 0; i++)
        rc = ccm_stream_append(c->stream, txn, e->type, "C01/MRN1", "req-1", "dev", 1234, p,
                               e->payload, &e->seq);
    free(p);
    if (rc == 0 && e->cur) {
        rc = ccm_cursor_get(txn, c->cursors, e->cur, &e->seen_cur);
        if (rc == 0)
            rc = ccm_cursor_set(txn, c->cursors, e->cur, e->cur_to);
    }
    return rc ? rc : e->fail;
}

static int s_batch(fixture_t *f, ev_t *evs, size_t n, int *rcs)
{
    ctx_t c = {f->stream, 0};
    assert_int_equal(ccm_store_dbi(f->store, CCM_CURSOR_DB, &c.cursors), 0);
    void **ptrs = calloc(n, sizeof *ptrs);
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &evs[i];
    int rc = ccm_store_batch(f->store, ptrs, n, s_apply, &c, rcs);
    free(ptrs);
    return rc;
}

/* Appends n events of one type in one batch. */
static void s_append_n(fixture_t *f, const char *type, int n, size_t payload)
{
    ev_t e = {.type = type, .count = n, .payload = payload};
    int rc = -1;
    assert_int_equal(s_batch(f, &e, 1, &rc), 0);
    assert_int_equal(rc, 0);
}

static uint64_t s_last(fixture_t *f)
{
    MDB_txn *txn;
    uint64_t seq = 99;
    assert_int_equal(ccm_store_read_begin(f->store, &txn), 0);
    assert_int_equal(ccm_stream_last_seq(f->stream, txn, &seq), 0);
    mdb_txn_abort(txn);
    return seq;
}

/* FETCH in a read transaction; returns the ccm code. */
static int s_fetch(fixture_t *f, uint64_t from, uint32_t max, const char **types, size_t ntypes,
                   Ccm__FetchReply *r)
{
    Ccm__FetchRequest req = CCM__FETCH_REQUEST__INIT;
    req.from_seq = from;
    req.max = max;
    req.types = (char **)types;
    req.n_types = ntypes;
    *r = (Ccm__FetchReply)CCM__FETCH_REPLY__INIT;
    MDB_txn *txn;
    assert_int_equal(ccm_store_read_begin(f->store, &txn), 0);
    int rc = ccm_stream_fetch(f->stream, txn, &req, r);
    mdb_txn_abort(txn);
    return rc;
}

/* Asserts the reply holds exactly seqs first..first+n-1, in order. */
static void s_expect_range(const Ccm__FetchReply *r, uint64_t first, size_t n)
{
    assert_int_equal(r->n_events, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r->events[i]->seq, first + i);
}

/* ---- tests ---- */

static void test_open_needs_stream_db(void **state)
{
    fixture_t *f = *state;
    char other[128];
    snprintf(other, sizeof other, "%s/nostream", f->dir);
    const char *const dbs[] = {"x", NULL};
    ccm_store_opts_t o = {.path = other, .dbs = dbs, .schema_version = 1};
    ccm_store_t *s = NULL;
    assert_int_equal(ccm_store_open(&o, &s), 0);
    ccm_stream_t *st = (ccm_stream_t *)1;
    assert_int_equal(ccm_stream_open(s, "x", &st), CCM_ENOTFOUND);
    assert_null(st);
    ccm_store_destroy(&s);
}

static void test_empty_stream(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(s_last(f), 0);
    Ccm__FetchReply r;
    assert_int_equal(s_fetch(f, 0, 0, NULL, 0, &r), 0);
    assert_int_equal(r.n_events, 0);
    assert_int_equal(r.next_seq, 1);
    assert_int_equal(r.last_seq, 0);
    ccm_stream_fetch_clear(&r);
}

static void test_append_stores_the_envelope(void **state)
{
    fixture_t *f = *state;
    s_append_n(f, "patient.registered", 1, 5);
    Ccm__FetchReply r;
    assert_int_equal(s_fetch(f, 1, 0, NULL, 0, &r), 0);
    assert_int_equal(r.n_events, 1);
    Ccm__Envelope *e = r.events[0];
    assert_string_equal(e->producer, "enrollment");
    assert_int_equal(e->seq, 1);
    assert_int_equal(e->time_us, 1234);
    assert_string_equal(e->type, "patient.registered");
    assert_string_equal(e->key, "C01/MRN1");
    assert_string_equal(e->request_id, "req-1");
    assert_string_equal(e->principal, "dev");
    assert_int_equal(e->payload.len, 5);
    assert_memory_equal(e->payload.data, "ppppp", 5);
    ccm_stream_fetch_clear(&r);
    assert_int_equal(r.n_events, 0);
    assert_null(r.events);
    ccm_stream_fetch_clear(&r); /* safe twice */
}

static int s_append_nulls(MDB_txn *txn, void *item, void *ctx)
{
    return ccm_stream_append(ctx, txn, NULL, NULL, NULL, NULL, 0, NULL, 0, item);
}

static int s_append_huge(MDB_txn *txn, void *item, void *ctx)
{
    (void)item;
    size_t len = CCM_FETCH_BYTES_MAX;
    uint8_t *p = calloc(1, len);
    uint64_t seq = 0;
    int rc = ccm_stream_append(ctx, txn, "big", NULL, NULL, NULL, 0, p, len, &seq);
    free(p);
    return rc;
}

static void test_append_null_strings_and_oversize(void **state)
{
    fixture_t *f = *state;
    uint64_t seq = 0;
    void *item = &seq;
    int rc = -1;
    assert_int_equal(ccm_store_batch(f->store, &item, 1, s_append_nulls, f->stream, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(seq, 1);
    /* an envelope over the FETCH byte limit could never be served: refused */
    assert_int_equal(ccm_store_batch(f->store, &item, 1, s_append_huge, f->stream, &rc), 0);
    assert_int_equal(rc, CCM_ETOOBIG);
    assert_int_equal(s_last(f), 1);
    Ccm__FetchReply r;
    assert_int_equal(s_fetch(f, 1, 0, NULL, 0, &r), 0);
    assert_int_equal(r.n_events, 1);
    assert_string_equal(r.events[0]->type, "");
    assert_string_equal(r.events[0]->key, "");
    assert_int_equal(r.events[0]->payload.len, 0);
    ccm_stream_fetch_clear(&r);
}

static void test_seq_gap_free_across_batches_and_aborted_items(void **state)
{
    fixture_t *f = *state;
    ev_t b1[3] = {{.type = "a"}, {.type = "b"}, {.type = "c"}};
    assert_int_equal(s_batch(f, b1, 3, NULL), 0);
    assert_int_equal(b1[0].seq, 1);
    assert_int_equal(b1[2].seq, 3);
    /* the middle item appends, then fails: its event is rolled back and its seq reused */
    ev_t b2[3] = {{.type = "d"}, {.type = "x", .count = 2, .fail = CCM_ECONFLICT}, {.type = "e"}};
    int rcs[3];
    assert_int_equal(s_batch(f, b2, 3, rcs), 0);
    assert_int_equal(rcs[1], CCM_ECONFLICT);
    assert_int_equal(b2[0].seq, 4);
    assert_int_equal(b2[2].seq, 5);
    assert_int_equal(s_last(f), 5);
    Ccm__FetchReply r;
    assert_int_equal(s_fetch(f, 0, 0, NULL, 0, &r), 0);
    s_expect_range(&r, 1, 5);
    const char *want = "abcde";
    for (size_t i = 0; i < 5; i++)
        assert_true(r.events[i]->type[0] == want[i] && r.events[i]->type[1] == '\0');
    assert_int_equal(r.next_seq, 6);
    assert_int_equal(r.last_seq, 5);
    ccm_stream_fetch_clear(&r);
}

static void test_seq_gap_free_across_map_growth(void **state)
{
    fixture_t *f = *state;
    s_close(f);
    nftw(f->path, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    s_open(f, 32 << 10); /* tiny map: the batch below replays several times */
    enum { N = 400 };
    ev_t *evs = calloc(N, sizeof *evs);
    int *rcs = calloc(N, sizeof *rcs);
    for (int i = 0; i < N; i++)
        evs[i] = (ev_t){.type = "t", .payload = 150, .fail = i % 50 == 7 ? CCM_EINVAL : 0};
    assert_int_equal(s_batch(f, evs, N, rcs), 0);
    assert_true(ccm_store_growths(f->store) > 0);
    uint64_t expect = 0;
    for (int i = 0; i < N; i++)
        if (rcs[i] == 0)
            assert_int_equal(evs[i].seq, ++expect);
    assert_int_equal(expect, N - N / 50);
    assert_int_equal(s_last(f), expect);
    Ccm__FetchReply r;
    assert_int_equal(s_fetch(f, 1, 1000, NULL, 0, &r), 0);
    s_expect_range(&r, 1, (size_t)expect);
    ccm_stream_fetch_clear(&r);
    /* and it survives a restart */
    s_close(f);
    s_open(f, 0);
    assert_int_equal(s_last(f), expect);
    s_append_n(f, "t", 1, 0);
    assert_int_equal(s_last(f), expect + 1);
    free(evs);
    free(rcs);
}

static void test_fetch_ranges(void **state)
{
    fixture_t *f = *state;
    s_append_n(f, "t", 10, 3);
    Ccm__FetchReply r;
    struct {
        uint64_t from;
        uint64_t first;
        size_t n;
        uint64_t next;
    } cases[] = {
        {0, 1, 10, 11}, {1, 1, 10, 11},   {5, 5, 6, 11}, {10, 10, 1, 11},
        {11, 0, 0, 11}, {500, 0, 0, 500}, /* past the end: nothing, and the position is kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(s_fetch(f, cases[i].from, 0, NULL, 0, &r), 0);
        s_expect_range(&r, cases[i].first, cases[i].n);
        assert_int_equal(r.next_seq, cases[i].next);
        assert_int_equal(r.last_seq, 10);
        ccm_stream_fetch_clear(&r);
    }
}

static void test_fetch_max_default_and_cap(void **state)
{
    fixture_t *f = *state;
    s_append_n(f, "t", CCM_FETCH_MAX + 200, 0);
    Ccm__FetchReply r;
    assert_int_equal(s_fetch(f, 1, 3, NULL, 0, &r), 0);
    s_expect_range(&r, 1, 3);
    assert_int_equal(r.next_seq, 4);
    ccm_stream_fetch_clear(&r);
    assert_int_equal(s_fetch(f, 4, 0, NULL, 0, &r), 0);
    s_expect_range(&r, 4, CCM_FETCH_DEFAULT);
    assert_int_equal(r.next_seq, 4 + CCM_FETCH_DEFAULT);
    ccm_stream_fetch_clear(&r);
    assert_int_equal(s_fetch(f, 1, 1000000, NULL, 0, &r), 0);
    s_expect_range(&r, 1, CCM_FETCH_MAX);
    assert_int_equal(r.next_seq, CCM_FETCH_MAX + 1);
    assert_int_equal(r.last_seq, CCM_FETCH_MAX + 200);
    ccm_stream_fetch_clear(&r);
}

static void test_fetch_byte_cap(void **state)
{
    fixture_t *f = *state;
    enum { PAYLOAD = 100 * 1024, N = 12 };
    s_append_n(f, "big", N, PAYLOAD);
    Ccm__FetchReply r;
    uint64_t from = 1, total = 0;
    int replies = 0;
    while (from <= N) {
        assert_int_equal(s_fetch(f, from, 0, NULL, 0, &r), 0);
        assert_true(r.n_events >= 1);
        assert_true(r.n_events * (size_t)PAYLOAD <= CCM_FETCH_BYTES_MAX);
        s_expect_range(&r, from, r.n_events);
        assert_int_equal(r.next_seq, from + r.n_events); /* the one left out comes next */
        total += r.n_events;
        from = r.next_seq;
        replies++;
        ccm_stream_fetch_clear(&r);
    }
    assert_int_equal(total, N);
    assert_int_equal(replies, 2); /* 7 events of 100 KiB fit in 768 KiB, then 5 */
}

static void test_fetch_scan_cap_moves_next_seq(void **state)
{
    fixture_t *f = *state;
    s_append_n(f, "noise", CCM_FETCH_SCAN_MAX + 300, 0);
    s_append_n(f, "wanted", 1, 0);
    const char *types[] = {"wanted"};
    Ccm__FetchReply r;
    assert_int_equal(s_fetch(f, 1, 0, types, 1, &r), 0);
    assert_int_equal(r.n_events, 0);
    assert_int_equal(r.next_seq, CCM_FETCH_SCAN_MAX + 1); /* progress without a match */
    assert_int_equal(r.last_seq, CCM_FETCH_SCAN_MAX + 301);
    uint64_t next = r.next_seq;
    ccm_stream_fetch_clear(&r);
    assert_int_equal(s_fetch(f, next, 0, types, 1, &r), 0);
    assert_int_equal(r.n_events, 1);
    assert_int_equal(r.events[0]->seq, CCM_FETCH_SCAN_MAX + 301);
    assert_int_equal(r.next_seq, CCM_FETCH_SCAN_MAX + 302);
    ccm_stream_fetch_clear(&r);
}

static void test_fetch_type_filters(void **state)
{
    fixture_t *f = *state;
    const char *seqtypes[] = {"patient.registered", "patients.merged", "patient",
                              "condition.added",    "patient.updated", "patient.name.fixed"};
    for (size_t i = 0; i < 6; i++)
        s_append_n(f, seqtypes[i], 1, 0);
    struct {
        const char *types[3];
        size_t ntypes;
        uint64_t want[6];
        size_t nwant;
    } cases[] = {
        {{"patient.updated"}, 1, {5}, 1},
        {{"patient"}, 1, {3}, 1},
        {{"patient.*"}, 1, {1, 5, 6}, 3},
        {{"patient.name.*"}, 1, {6}, 1},
        {{"condition.added", "patient.*"}, 2, {1, 4, 5, 6}, 4},
        {{"nothing.*"}, 1, {0}, 0},
    };
    Ccm__FetchReply r;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        assert_int_equal(s_fetch(f, 1, 0, cases[c].types, cases[c].ntypes, &r), 0);
        assert_int_equal(r.n_events, cases[c].nwant);
        for (size_t i = 0; i < cases[c].nwant; i++)
            assert_int_equal(r.events[i]->seq, cases[c].want[i]);
        assert_int_equal(r.next_seq, 7);
        ccm_stream_fetch_clear(&r);
    }
    /* max counts matches; next_seq is one past the last event scanned */
    const char *p[] = {"patient.*"};
    assert_int_equal(s_fetch(f, 1, 2, p, 1, &r), 0);
    assert_int_equal(r.n_events, 2);
    assert_int_equal(r.events[1]->seq, 5);
    assert_int_equal(r.next_seq, 6);
    ccm_stream_fetch_clear(&r);

    const char *bad[] = {"", "*", "patient*", "pat*ent.x", ".*", "a.*.b", "a.**"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *t[] = {"patient.updated", bad[i]};
        assert_int_equal(s_fetch(f, 1, 0, t, 2, &r), CCM_EINVAL);
        assert_int_equal(r.n_events, 0);
    }
    const char *many[65];
    for (size_t i = 0; i < 65; i++)
        many[i] = "patient.updated";
    assert_int_equal(s_fetch(f, 1, 0, many, 64, &r), 0);
    ccm_stream_fetch_clear(&r);
    assert_int_equal(s_fetch(f, 1, 0, many, 65, &r), CCM_EINVAL);
}

static void test_cursor_default_set_and_rollback(void **state)
{
    fixture_t *f = *state;
    /* within a batch: absent reads as 1; set is seen by the next item; a failed item's
     * set is rolled back with its effect */
    ev_t b[3] = {{.type = "a", .cur = "billing", .cur_to = 2},
                 {.type = "b", .cur = "billing", .cur_to = 3},
                 {.type = "c", .cur = "billing", .cur_to = 99, .fail = CCM_EINVAL}};
    assert_int_equal(s_batch(f, b, 3, NULL), 0);
    assert_int_equal(b[0].seen_cur, 1);
    assert_int_equal(b[1].seen_cur, 2);
    assert_int_equal(b[2].seen_cur, 3);
    s_close(f);
    s_open(f, 0);
    MDB_dbi cursors;
    assert_int_equal(ccm_store_dbi(f->store, CCM_CURSOR_DB, &cursors), 0);
    MDB_txn *txn;
    uint64_t next = 0;
    assert_int_equal(ccm_store_read_begin(f->store, &txn), 0);
    assert_int_equal(ccm_cursor_get(txn, cursors, "billing", &next), 0);
    assert_int_equal(next, 3);
    assert_int_equal(ccm_cursor_get(txn, cursors, "careplan", &next), 0);
    assert_int_equal(next, 1);
    assert_int_equal(ccm_cursor_get(txn, cursors, "", &next), CCM_EINVAL);
    mdb_txn_abort(txn);
    assert_int_equal(s_last(f), 2); /* the failed item's event went with its cursor */
}

int main(void)
{
    ccm_log_init("test_stream", CCM_LOG_WARN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_needs_stream_db),
        T(test_empty_stream),
        T(test_append_stores_the_envelope),
        T(test_append_null_strings_and_oversize),
        T(test_seq_gap_free_across_batches_and_aborted_items),
        T(test_seq_gap_free_across_map_growth),
        T(test_fetch_ranges),
        T(test_fetch_max_default_and_cap),
        T(test_fetch_byte_cap),
        T(test_fetch_scan_cap_moves_next_seq),
        T(test_fetch_type_filters),
        T(test_cursor_default_set_and_rollback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
