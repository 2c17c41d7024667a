/* cdr outbox and reader: events and the read position commit together and
 * survive a reopen; duplicates are not added; acknowledged events leave and their
 * ids are remembered (refused ones are forgotten); retention forgets old ids; a
 * file resumes where the last chunk ended, is read again when it changed, and is
 * followed across growth, rotation and truncation; importing the same file again
 * adds nothing. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <unistd.h>

#include "ccm/error.h"
#include "ccm/log.h"
#include "cdr.h"
#include "map.h"
#include "outbox.h"
#include "reader.h"
#include "request.h"

typedef struct {
    char dir[64];   /* temp directory */
    char state[96]; /* outbox directory in it */
    char file[96];  /* an input file in it */
} fx_t;

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ccm-cdr-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->state, sizeof f->state, "%s/state", f->dir);
    snprintf(f->file, sizeof f->file, "%s/Master.csv", f->dir);
    *state = f;
    return 0;
}

static int s_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void s_write(const char *path, const char *mode, const char *text)
{
    FILE *fp = fopen(path, mode);
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

typedef struct {
    int n;
    uint64_t seq[16];
    char id[16][CCM_CDR_ID_MAX + 1];
    char req[16][32];
} seen_t;

static int s_collect(uint64_t seq, const char *id, const void *req, size_t len, void *arg)
{
    seen_t *s = arg;
    s->seq[s->n] = seq;
    strcpy(s->id[s->n], id);
    snprintf(s->req[s->n], sizeof s->req[0], "%.*s", (int)len, (const char *)req);
    s->n++;
    return 0;
}

static void test_append_with_position_survives_reopen(void **state)
{
    fx_t *f = *state;
    ccm_cdr_outbox_t *ob;
    assert_int_equal(ccm_cdr_outbox_open(f->state, 0, 0, &ob), 0);
    ccm_cdr_event_t ev[] = {
        {"u1", "req-1", 5, false}, {"u2", "req-2", 5, false}, {"u1", "req-1b", 6, false}};
    ccm_cdr_pos_t pos = {.dev = 7,
                         .ino = 42,
                         .offset = 1234,
                         .line = 10,
                         .fp_len = 256,
                         .fp = 0x1122334455667788ULL};
    size_t added;
    assert_int_equal(ccm_cdr_outbox_append(ob, ev, 3, "/data/Master.csv", &pos, &added), 0);
    assert_int_equal(added, 2); /* u1 twice in one chunk counts once */
    assert_true(ev[0].added);
    assert_true(ev[1].added);
    assert_false(ev[2].added);
    ccm_cdr_outbox_destroy(&ob);
    assert_null(ob);
    ccm_cdr_outbox_destroy(&ob);

    assert_int_equal(ccm_cdr_outbox_open(f->state, 0, 0, &ob), 0);
    ccm_cdr_pos_t got;
    assert_int_equal(ccm_cdr_outbox_position(ob, "/data/Master.csv", &got), 0);
    assert_int_equal(got.dev, pos.dev);
    assert_int_equal(got.ino, pos.ino);
    assert_int_equal(got.offset, pos.offset);
    assert_int_equal(got.line, pos.line);
    assert_int_equal(got.fp_len, pos.fp_len);
    assert_int_equal(got.fp, pos.fp);
    assert_int_equal(ccm_cdr_outbox_position(ob, "/data/other.csv", &got), CCM_ENOTFOUND);
    uint64_t n;
    assert_int_equal(ccm_cdr_outbox_pending(ob, &n), 0);
    assert_int_equal(n, 2);
    seen_t s = {0};
    assert_int_equal(ccm_cdr_outbox_scan(ob, 0, 10, s_collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.id[0], "u1");
    assert_string_equal(s.req[0], "req-1");
    assert_string_equal(s.id[1], "u2");
    assert_true(s.seq[1] > s.seq[0]);
    /* a scan from after the first starts at the second */
    seen_t s2 = {0};
    assert_int_equal(ccm_cdr_outbox_scan(ob, s.seq[0] + 1, 10, s_collect, &s2), 0);
    assert_int_equal(s2.n, 1);
    assert_string_equal(s2.id[0], "u2");
    /* new seqs continue after the pending ones */
    ccm_cdr_event_t e3 = {"u3", "req-3", 5, false};
    assert_int_equal(ccm_cdr_outbox_append(ob, &e3, 1, NULL, NULL, &added), 0);
    assert_int_equal(added, 1);
    seen_t s3 = {0};
    assert_int_equal(ccm_cdr_outbox_scan(ob, s.seq[1] + 1, 10, s_collect, &s3), 0);
    assert_int_equal(s3.n, 1);
    assert_string_equal(s3.id[0], "u3");
    ccm_cdr_outbox_destroy(&ob);
}

static void test_ack_removes_and_remembers(void **state)
{
    fx_t *f = *state;
    ccm_cdr_outbox_t *ob;
    int64_t day = 86400LL * 1000000;
    assert_int_equal(ccm_cdr_outbox_open(f->state, 30 * day, 100 * day, &ob), 0);
    ccm_cdr_event_t ev[] = {{"u1", "a", 1, false}, {"u2", "b", 1, false}, {"u3", "c", 1, false}};
    assert_int_equal(ccm_cdr_outbox_append(ob, ev, 3, NULL, NULL, NULL), 0);
    ccm_cdr_ack_t acks[] = {{"u1", true}, {"u2", false}, {"unknown", true}};
    assert_int_equal(ccm_cdr_outbox_ack(ob, acks, 3, 90 * day), 0);
    uint64_t n;
    assert_int_equal(ccm_cdr_outbox_pending(ob, &n), 0);
    assert_int_equal(n, 1);
    assert_true(ccm_cdr_outbox_known(ob, "u1"));  /* delivered: remembered */
    assert_false(ccm_cdr_outbox_known(ob, "u2")); /* refused: forgotten */
    assert_true(ccm_cdr_outbox_known(ob, "u3"));  /* pending */
    /* the same events again: only the refused one comes back */
    size_t added;
    assert_int_equal(ccm_cdr_outbox_append(ob, ev, 3, NULL, NULL, &added), 0);
    assert_int_equal(added, 1);
    /* a late duplicate OK changes nothing */
    assert_int_equal(ccm_cdr_outbox_ack(ob, acks, 1, 91 * day), 0);
    assert_true(ccm_cdr_outbox_known(ob, "u1"));
    ccm_cdr_outbox_destroy(&ob);
    /* retention: 150 days later u1 (delivered on day 90) is forgotten; pending stay */
    assert_int_equal(ccm_cdr_outbox_open(f->state, 30 * day, 150 * day, &ob), 0);
    assert_false(ccm_cdr_outbox_known(ob, "u1"));
    assert_true(ccm_cdr_outbox_known(ob, "u3"));
    assert_int_equal(ccm_cdr_outbox_pending(ob, &n), 0);
    assert_int_equal(n, 2);
    ccm_cdr_outbox_destroy(&ob);
}

static int s_next(ccm_cdr_reader_t *r, char *out, uint64_t *lineno)
{
    const char *line;
    size_t len;
    int rc = ccm_cdr_reader_next(r, &line, &len, lineno);
    if (rc == 0)
        snprintf(out, 256, "%.*s", (int)len, line);
    return rc;
}

static void test_reader_resume_and_change(void **state)
{
    fx_t *f = *state;
    s_write(f->file, "w", "one\r\ntwo\n\nthree");
    ccm_cdr_reader_t *r;
    assert_int_equal(ccm_cdr_reader_open(f->file, false, NULL, &r), 0);
    char line[256];
    uint64_t no;
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "one"); /* CRLF stripped */
    assert_int_equal(no, 1);
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "two");
    ccm_cdr_pos_t pos;
    ccm_cdr_reader_pos(r, &pos);
    assert_int_equal(pos.offset, 9);
    assert_int_equal(pos.line, 2);
    assert_int_equal(pos.fp_len, 9);
    ccm_cdr_reader_destroy(&r);
    /* resume: the third line next */
    assert_int_equal(ccm_cdr_reader_open(f->file, false, &pos, &r), 0);
    assert_true(ccm_cdr_reader_resumed(r));
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "");
    assert_int_equal(no, 3);
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "three"); /* last line without newline, file not followed */
    assert_int_equal(s_next(r, line, &no), CCM_ENOTFOUND);
    assert_int_equal(s_next(r, line, &no), CCM_ENOTFOUND);
    ccm_cdr_reader_destroy(&r);
    /* the file was replaced by other content in place: the fingerprint differs */
    s_write(f->file, "r+", "ONE");
    assert_int_equal(ccm_cdr_reader_open(f->file, false, &pos, &r), 0);
    assert_false(ccm_cdr_reader_resumed(r));
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "ONE");
    ccm_cdr_reader_destroy(&r);
    /* a position of another inode is not used */
    pos.ino++;
    s_write(f->file, "w", "one\r\ntwo\n");
    assert_int_equal(ccm_cdr_reader_open(f->file, false, &pos, &r), 0);
    assert_false(ccm_cdr_reader_resumed(r));
    ccm_cdr_reader_destroy(&r);
    assert_int_equal(ccm_cdr_reader_open("/nonexistent/x", false, NULL, &r), CCM_ENOTFOUND);
}

static void test_reader_follow_rotation_truncation(void **state)
{
    fx_t *f = *state;
    s_write(f->file, "w", "a1\na2");
    ccm_cdr_reader_t *r;
    assert_int_equal(ccm_cdr_reader_open(f->file, true, NULL, &r), 0);
    char line[256];
    uint64_t no;
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "a1");
    /* a partial line waits for its newline */
    assert_int_equal(s_next(r, line, &no), CCM_EAGAIN);
    s_write(f->file, "a", "x\na3\n");
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "a2x");
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "a3");
    assert_int_equal(s_next(r, line, &no), CCM_EAGAIN);
    /* rotation: the old file gets one more line after the rename, then a new file */
    char old[128];
    snprintf(old, sizeof old, "%s.1", f->file);
    assert_int_equal(rename(f->file, old), 0);
    s_write(old, "a", "a4\na5");
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "a4");
    assert_int_equal(s_next(r, line, &no), CCM_EAGAIN); /* new file not there yet */
    s_write(f->file, "w", "b1\n");
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "a5"); /* the rest of the old file first */
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "b1");
    assert_int_equal(no, 1);
    assert_int_equal(ccm_cdr_reader_reopens(r), 1);
    ccm_cdr_pos_t pos;
    ccm_cdr_reader_pos(r, &pos);
    assert_int_equal(pos.offset, 3);
    assert_int_equal(s_next(r, line, &no), CCM_EAGAIN);
    /* truncation in place (copytruncate), then new lines */
    assert_int_equal(truncate(f->file, 0), 0);
    assert_int_equal(s_next(r, line, &no), CCM_EAGAIN);
    s_write(f->file, "a", "c1\n");
    assert_int_equal(s_next(r, line, &no), 0);
    assert_string_equal(line, "c1");
    assert_int_equal(no, 1);
    ccm_cdr_reader_destroy(&r);
}

/* The import pipeline of main.c in miniature: read, parse, map, pack, append with
 * the position, one chunk per call. Returns the events added. */
static size_t s_import(const char *state, const char *path, ccm_cdr_format_t fmt, bool resume,
                       size_t chunk, size_t max_chunks, uint64_t *seconds)
{
    ccm_cdr_outbox_t *ob;
    assert_int_equal(ccm_cdr_outbox_open(state, 0, 0, &ob), 0);
    ccm_cdr_map_t *map;
    char err[256];
    assert_int_equal(ccm_cdr_map_load(CCM_CDR_DATA "/map.ini", &map, err, sizeof err), 0);
    ccm_tz_t *tz = malloc(sizeof *tz);
    assert_int_equal(ccm_tz_load(tz, "America/New_York"), 0);
    char key[4096];
    assert_non_null(realpath(path, key));
    ccm_cdr_pos_t pos;
    bool have = resume && ccm_cdr_outbox_position(ob, key, &pos) == 0;
    ccm_cdr_reader_t *r;
    assert_int_equal(ccm_cdr_reader_open(path, false, have ? &pos : NULL, &r), 0);
    size_t total = 0;
    bool done = false;
    for (size_t c = 0; c < max_chunks && !done; c++) {
        ccm_cdr_event_t ev[64];
        uint8_t *bufs[64];
        char ids[64][CCM_CDR_ID_MAX + 1];
        size_t n = 0;
        for (size_t i = 0; i < chunk; i++) {
            const char *line;
            size_t len;
            uint64_t no;
            int rc = ccm_cdr_reader_next(r, &line, &len, &no);
            if (rc == CCM_ENOTFOUND) {
                done = true;
                break;
            }
            assert_int_equal(rc, 0);
            ccm_cdr_record_t rec;
            ccm_cdr_entry_t e;
            char reason[CCM_CDR_REASON_MAX];
            if (len == 0 || ccm_cdr_parse(fmt, line, len, tz, &rec, reason, sizeof reason) ||
                !rec.answered || ccm_cdr_map_apply(map, &rec, &e, reason, sizeof reason))
                continue;
            size_t blen;
            assert_int_equal(ccm_cdr_request_pack(&e, "C01", &bufs[n], &blen), 0);
            strcpy(ids[n], e.event_id);
            ev[n] = (ccm_cdr_event_t){ids[n], bufs[n], blen, false};
            bool dup = ccm_cdr_outbox_known(ob, e.event_id);
            for (size_t k = 0; k < n; k++)
                dup |= strcmp(ids[k], e.event_id) == 0;
            if (seconds && !dup)
                *seconds += (uint64_t)e.seconds;
            n++;
        }
        ccm_cdr_reader_pos(r, &pos);
        size_t added;
        assert_int_equal(ccm_cdr_outbox_append(ob, ev, n, key, &pos, &added), 0);
        total += added;
        for (size_t i = 0; i < n; i++)
            free(bufs[i]);
    }
    ccm_cdr_reader_destroy(&r);
    free(tz);
    ccm_cdr_map_destroy(&map);
    ccm_cdr_outbox_destroy(&ob);
    return total;
}

static void test_reimport_adds_nothing(void **state)
{
    fx_t *f = *state;
    const char *files[][2] = {{"asterisk-16.csv", "asterisk"}, {"asterisk-18.csv", "asterisk"},
                              {"asterisk-21.csv", "asterisk"}, {"freeswitch.csv", "freeswitch"},
                              {"kamailio.acc", "kamailio"},    {"twilio.jsonl", "twilio"},
                              {"calls.jsonl", "jsonl"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512], state_dir[160];
        snprintf(path, sizeof path, "%s/%s", CCM_CDR_DATA, files[i][0]);
        snprintf(state_dir, sizeof state_dir, "%s/state-%zu", f->dir, i);
        ccm_cdr_format_t fmt;
        assert_int_equal(ccm_cdr_format_parse(files[i][1], &fmt), 0);
        uint64_t seconds = 0;
        /* answered, mapped, unique: 930 + 425 + 610 seconds in every sample */
        assert_int_equal(s_import(state_dir, path, fmt, true, 64, 100, &seconds), 3);
        assert_int_equal(seconds, 1965);
        /* again, resuming: nothing read, nothing added */
        assert_int_equal(s_import(state_dir, path, fmt, true, 64, 100, NULL), 0);
        /* again from the start: every id is known */
        assert_int_equal(s_import(state_dir, path, fmt, false, 64, 100, NULL), 0);
    }
}

/* A crash between chunks: the next run resumes after the last committed chunk and
 * ends with exactly the events of one whole run. */
static void test_crash_between_chunks(void **state)
{
    fx_t *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/asterisk-18.csv", CCM_CDR_DATA);
    /* two chunks of 3 lines committed, then "killed" */
    size_t first = s_import(f->state, path, CCM_CDR_ASTERISK, true, 3, 2, NULL);
    assert_int_equal(first, 2); /* lines 1..6: the 930 s call and the 425 s one */
    size_t rest = s_import(f->state, path, CCM_CDR_ASTERISK, true, 3, 100, NULL);
    assert_int_equal(rest, 1);
    ccm_cdr_outbox_t *ob;
    assert_int_equal(ccm_cdr_outbox_open(f->state, 0, 0, &ob), 0);
    uint64_t n;
    assert_int_equal(ccm_cdr_outbox_pending(ob, &n), 0);
    assert_int_equal(n, 3);
    ccm_cdr_outbox_destroy(&ob);
}

int main(void)
{
    ccm_log_init("test", CCM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_with_position_survives_reopen, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_ack_removes_and_remembers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reader_resume_and_change, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reader_follow_rotation_truncation, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_reimport_adds_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_chunks, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
