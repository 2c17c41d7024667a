/* timetrack — handlers for service "timetrack".
 *
 * Invariants: an entry is identified by (clinic, source, source event id), so a
 * phone system's record arrives once however often it is sent; nothing is ever
 * deleted (corrections are new entries that void or amend old ones); the
 * month-to-date answer is lib/rules' decision over the same facts billing will
 * use (patients, consent, visits, care plans followed from the enrollment and
 * careplan streams), so the two cannot disagree. */
#include "timetrack.h"

#include "month.h"
#include "overlap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/careplan.pb-c.h"
#include "ccm/clinics.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/ident.h"
#include "ccm/log.h"
#include "ccm/timetrack.pb-c.h"
#include "ccm/tz.h"

#define S_CLINIC_MAX CCM_CLINIC_ID_MAX
#define S_MRN_MAX 64
#define S_PERFORMER_MAX 64
#define S_EVENT_ID_MAX 128
#define S_ACTIVITY_MAX 200
#define S_REASON_MAX 200
#define S_SECONDS_MAX 86400
/* A client's clock may run this far ahead of ours for "not in the future". */
#define S_CLOCK_SKEW_US (120 * 1000000LL)
/* Entries of one patient-month evaluated at most. */
#define S_MONTH_ENTRIES_MAX 4096
/* Overlapping entries a new entry names at most (it records THAT it overlaps,
 * with examples, not every pair: a shared line may overlap thousands). */
#define S_OVERLAP_EXAMPLES 3
/* An entry id: "SOURCE:" + source_event_id. */
#define S_ID_MAX (S_EVENT_ID_MAX + 8)

typedef Ccm__Timetrack__TimeEntry entry_t;
typedef Ccm__Timetrack__Reply reply_t;
typedef Ccm__Enrollment__Patient patient_t;

const char *const ccm_timetrack_dbs[] = {
    "patients",     "people", "careplans",     "entries",       "by_patient",
    "by_performer", "months", "overlap_steps", "overlap_alone", NULL};

/* A configured clinic: its zone and its type for lib/rules. */
typedef ccm_clinic_info_t clinic_t;

struct ccm_timetrack {
    ccm_clinics_t *clinics; /* configured clinics, owned */
    ccm_fees_t *fees;       /* owned */
    ccm_rules_config_t cfg; /* rules defaults */
    ccm_month_db_t db;      /* followed facts and entries (services/common/month.h) */
    MDB_dbi months;         /* clinic mrn month(u32) -> total(u32) practitioner(u32) */
    ccm_overlap_db_t ov;    /* each performer's active entries as intervals (overlap.h) */
};

/* ---- life cycle ---- */

ccm_timetrack_t *ccm_timetrack_new(const char *fees_dir)
{
    ccm_timetrack_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (!(t->fees = malloc(sizeof *t->fees)) || !(t->clinics = ccm_clinics_new())) {
        ccm_timetrack_destroy(&t);
        return NULL;
    }
    ccm_rules_config_default(&t->cfg);
    char err[256];
    int rc = ccm_fees_load_dir(t->fees, fees_dir, err, sizeof err);
    if (rc != 0) {
        ccm_error("event=fees_error dir=%s error=\"%s\"", fees_dir, err);
        ccm_timetrack_destroy(&t);
        return NULL;
    }
    return t;
}

void ccm_timetrack_destroy(ccm_timetrack_t **p)
{
    if (!p || !*p)
        return;
    ccm_clinics_destroy(&(*p)->clinics);
    free((*p)->fees);
    free(*p);
    *p = NULL;
}

int ccm_timetrack_add_clinic(ccm_timetrack_t *t, const char *id, const char *timezone,
                             const char *type)
{
    return ccm_clinics_add(t->clinics, id, timezone, type);
}

void ccm_timetrack_set_clinics(ccm_timetrack_t *t, ccm_clinics_t *clinics)
{
    ccm_clinics_destroy(&t->clinics);
    t->clinics = clinics;
}

/* ---- keys and records ---- */

static void s_key2(ccm_key_t *k, const char *a, const char *b)
{
    ccm_key_init(k);
    ccm_key_str(k, a);
    ccm_key_str(k, b);
}

/* ---- following enrollment and careplan ---- */

static int s_on_enrollment(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    (void)w;
    return ccm_month_on_enrollment(txn, &((ccm_timetrack_t *)ctx)->db, ev);
}

static int s_on_careplan(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    (void)w;
    return ccm_month_on_careplan(txn, &((ccm_timetrack_t *)ctx)->db, ev);
}

/* ---- the overlap index ---- */

/* The interval of e ([start, end); empty for an APCM service element). */
static ccm_overlap_span_t s_span(const entry_t *e)
{
    return (ccm_overlap_span_t){e->clinic, e->performer, e->id, e->start_us,
                                e->start_us + e->seconds * 1000000};
}

/* Batch item: indexes every active entry of a store written before the overlap
 * index existed, as it is (flagged when it already lists overlaps). */
static int s_restore(MDB_txn *txn, void *item, void *ctx)
{
    ccm_timetrack_t *t = ctx;
    size_t *n = item;
    *n = 0;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, t->db.entries, &cur) != 0)
        return CCM_EIO;
    int rc = 0;
    MDB_val k, v;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0 && rc == 0;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        entry_t *e = ccm__timetrack__time_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e)
            continue;
        if (e->state == CCM__TIMETRACK__ENTRY_STATE__ACTIVE && e->seconds > 0) {
            ccm_overlap_span_t sp = s_span(e);
            rc = ccm_overlap_restore(txn, &t->ov, &sp, e->n_overlaps > 0);
            (*n)++;
        }
        ccm__timetrack__time_entry__free_unpacked(e, NULL);
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Builds the overlap index once when the store has entries but no index. */
static int s_overlap_index(ccm_timetrack_t *t, ccm_store_t *s)
{
    MDB_txn *txn;
    int rc = ccm_store_read_begin(s, &txn);
    if (rc)
        return rc;
    MDB_stat al, st, en;
    bool need = mdb_stat(txn, t->ov.alone, &al) == 0 && mdb_stat(txn, t->ov.steps, &st) == 0 &&
                mdb_stat(txn, t->db.entries, &en) == 0 && al.ms_entries == 0 &&
                st.ms_entries == 0 && en.ms_entries > 0;
    mdb_txn_abort(txn);
    if (!need)
        return 0;
    size_t n = 0;
    void *item = &n;
    int item_rc = 0;
    rc = ccm_store_batch(s, &item, 1, s_restore, t, &item_rc);
    if (rc == 0)
        rc = item_rc;
    if (rc)
        ccm_error("event=overlap_index_failed error=\"%s\"", ccm_strerror(rc));
    else if (n)
        ccm_info("event=overlap_index_built entries=%zu", n);
    return rc;
}

int ccm_timetrack_bind(ccm_timetrack_t *t, ccm_worker_t *w)
{
    ccm_store_t *s = ccm_worker_store(w);
    int rc = ccm_month_bind(&t->db, s);
    if (!rc)
        rc = ccm_store_dbi(s, "months", &t->months);
    if (!rc)
        rc = ccm_overlap_bind(&t->ov, s, t->db.by_performer);
    if (!rc)
        rc = s_overlap_index(t, s);
    if (rc)
        return rc;
    static const char *const cp_types[] = {"careplan.established", "careplan.copy_given", NULL};
    rc = ccm_worker_follow(w, "enrollment", NULL, s_on_enrollment, t);
    return rc ? rc : ccm_worker_follow(w, "careplan", cp_types, s_on_careplan, t);
}

/* ---- the month, as lib/rules sees it ---- */

typedef struct {
    ccm_decision_t d; /* the decision */
    int32_t month;    /* month index y*12+m-1 */
    ccm_program_t program;
} month_t;

/* Evaluates one patient-month through services/common/month.c (the same code
 * billing uses). 0, CCM_ENOTFOUND (patient), CCM_EIO. */
static int s_month(ccm_timetrack_t *t, MDB_txn *txn, const clinic_t *c, const char *mrn,
                   int32_t month, month_t *out)
{
    ccm_month_t full;
    memset(&full, 0, sizeof full);
    ccm_month_clinic_t mc = {c->id, c->tz, c->type};
    int rc = ccm_month_eval(txn, &t->db, &t->cfg, t->fees, &mc, mrn, month, &full);
    if (rc == 0) {
        out->d = full.d;
        out->month = full.month;
        out->program = full.program;
    }
    ccm_month_clear(&full);
    return rc;
}

/* What the next code of the program's staff track needs. */
static void s_next(const month_t *m, const char **code, int *minutes)
{
    static const struct {
        int at;
        const char *code;
    } ccm[] = {{20, "99490"}, {40, "99439"}, {60, "99439"}},
      pcm[] = {{30, "99426"}, {60, "99427"}, {90, "99427"}};
    *code = "";
    *minutes = 0;
    if (m->program == CCM_PROGRAM_APCM)
        return;
    const int total = m->d.total_minutes;
    for (int i = 0; i < 3; i++) {
        int at = m->program == CCM_PROGRAM_PCM ? pcm[i].at : ccm[i].at;
        if (total < at) {
            *code = m->program == CCM_PROGRAM_PCM ? pcm[i].code : ccm[i].code;
            *minutes = at - total;
            return;
        }
    }
}

/* ---- replies and validation ---- */

static int s_bad(ccm_worker_call_t *call, const char *op, const char *field, const char *why)
{
    return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, field, "%s.%s: %s", op,
                           field, why);
}

/* Checks clinic and patient of an operation. */
static int s_patient_known(ccm_timetrack_t *t, MDB_txn *txn, ccm_worker_call_t *call,
                           const char *op, const char *clinic, const char *mrn, const clinic_t **c)
{
    const char *why;
    if (ccm_ident_key(clinic, S_CLINIC_MAX, &why) != 0)
        return s_bad(call, op, "clinic", why);
    if (!(*c = ccm_clinics_find(t->clinics, clinic)))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "%s.clinic: no clinic \"%s\" is configured", op, clinic);
    if (ccm_ident_key(mrn, S_MRN_MAX, &why) != 0)
        return s_bad(call, op, "mrn", why);
    ccm_key_t k;
    s_key2(&k, clinic, mrn);
    MDB_val v;
    int rc = ccm_store_get(txn, t->db.patients, k.buf, k.len, &v);
    if (rc == CCM_ENOTFOUND)
        return ccm_worker_fail(call, rc, CCM__CODE__NOT_FOUND, "mrn",
                               "%s.mrn: no patient %s in clinic %s (known from enrollment)", op,
                               mrn, clinic);
    return rc ? ccm_worker_store_fail(call, rc) : 0;
}

static int s_month_of(const clinic_t *c, int64_t us)
{
    return ccm_month_of(c->tz, us);
}

/* The last µs e covers (its start for a 0-second APCM element). */
static int64_t s_last_us(const entry_t *e)
{
    return e->seconds > 0 ? e->start_us + e->seconds * 1000000 - 1 : e->start_us;
}

/* ---- threshold notices ---- */

/* Re-evaluates the entry's month(s) and appends a "threshold" event for every
 * threshold crossed upwards since the last evaluation (20/40/60 minutes of
 * staff time, counting the practitioner's; 30/60 practitioner minutes). */
static int s_thresholds(ccm_timetrack_t *t, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                        const clinic_t *c, const entry_t *e)
{
    int32_t months[2] = {s_month_of(c, e->start_us), s_month_of(c, s_last_us(e))};
    for (int i = 0; i < (months[1] != months[0] ? 2 : 1); i++) {
        month_t m;
        int rc = s_month(t, txn, c, e->mrn, months[i], &m);
        if (rc != 0)
            return rc;
        ccm_key_t k;
        s_key2(&k, c->id, e->mrn);
        ccm_key_u32(&k, (uint32_t)months[i]);
        uint32_t old_total = 0, old_prac = 0;
        MDB_val v;
        if (ccm_store_get(txn, t->months, k.buf, k.len, &v) == 0 && v.mv_size == 8) {
            old_total = ccm_be_get_u32(v.mv_data);
            old_prac = ccm_be_get_u32((const uint8_t *)v.mv_data + 4);
        }
        uint32_t total = (uint32_t)m.d.total_minutes, prac = (uint32_t)m.d.practitioner_minutes;
        static const struct {
            const char *kind;
            uint32_t at;
        } marks[] = {{"staff", 20},
                     {"staff", 40},
                     {"staff", 60},
                     {"practitioner", 30},
                     {"practitioner", 60}};
        char month_text[8];
        ccm_month_text(months[i], month_text);
        for (size_t j = 0; j < sizeof marks / sizeof marks[0]; j++) {
            bool staff = marks[j].kind[0] == 's';
            uint32_t before = staff ? old_total : old_prac, now = staff ? total : prac;
            if (!(before < marks[j].at && marks[j].at <= now))
                continue;
            Ccm__Timetrack__Threshold th = CCM__TIMETRACK__THRESHOLD__INIT;
            th.clinic = (char *)c->id;
            th.mrn = e->mrn;
            th.month = month_text;
            th.kind = (char *)marks[j].kind;
            th.minutes = (int32_t)marks[j].at;
            th.total = (int32_t)now;
            uint8_t buf[256];
            size_t len = ccm__timetrack__threshold__pack(&th, buf);
            char key[S_CLINIC_MAX + S_MRN_MAX + 2];
            snprintf(key, sizeof key, "%s/%s", c->id, e->mrn);
            uint64_t seq;
            ccm_info("event=threshold clinic=%s mrn=%s month=%s kind=%s minutes=%u", c->id, e->mrn,
                     month_text, marks[j].kind, marks[j].at);
            if ((rc = ccm_stream_append(ccm_worker_stream(w), txn, "threshold", key,
                                        call->request_id, call->principal, call->now_us, buf, len,
                                        &seq)) != 0)
                return rc;
        }
        uint8_t val[8];
        ccm_be_put_u32(val, total);
        ccm_be_put_u32(val + 4, prac);
        if ((rc = ccm_store_put(txn, t->months, k.buf, k.len, val, 8, 0)) != 0)
            return rc;
    }
    return 0;
}

/* ---- entries ---- */

/* Stores e (and, when new, its index rows) and appends event type. */
static int s_save(ccm_timetrack_t *t, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                  const entry_t *e, bool is_new, const char *type)
{
    size_t len = ccm__timetrack__time_entry__get_packed_size(e);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    ccm__timetrack__time_entry__pack(e, buf);
    int rc = ccm_month_put_entry(txn, &t->db, e, is_new);
    if (rc == 0) {
        char key[S_CLINIC_MAX + S_MRN_MAX + 2];
        snprintf(key, sizeof key, "%s/%s", e->clinic, e->mrn);
        uint64_t seq;
        rc = ccm_stream_append(ccm_worker_stream(w), txn, type, key, call->request_id,
                               call->principal, call->now_us, buf, len, &seq);
    }
    free(buf);
    return rc;
}

static char *s_dup(const char *v)
{
    char *d = strdup(v ? v : "");
    if (!d)
        abort();
    return d;
}

/* What the overlap index's callbacks need. */
typedef struct {
    ccm_timetrack_t *t;
    MDB_txn *txn;
    entry_t *e; /* the entry added or removed */
} ov_call_t;

/* Names id among e's examples unless it is there or they are enough. */
static void s_example(entry_t *e, const char *id)
{
    if (!id[0] || e->n_overlaps >= S_OVERLAP_EXAMPLES)
        return;
    for (size_t i = 0; i < e->n_overlaps; i++)
        if (strcmp(e->overlaps[i], id) == 0)
            return;
    char **a = realloc(e->overlaps, (e->n_overlaps + 1) * sizeof *a);
    if (!a)
        abort();
    e->overlaps = a;
    a[e->n_overlaps++] = s_dup(id);
}

/* ccm_overlap_flag_fn: entry id overlaps something for the first time: it
 * records the new entry, once (its only rewrite for overlaps). */
static int s_flag(const char *id, void *arg)
{
    ov_call_t *f = arg;
    entry_t *o = ccm_month_get_entry(f->txn, &f->t->db, f->e->clinic, id);
    if (!o)
        return 0; /* indexed but unreadable: nothing to flag */
    int rc = 0;
    if (o->n_overlaps == 0) {
        s_example(o, f->e->id);
        rc = ccm_month_put_entry(f->txn, &f->t->db, o, false);
    }
    s_example(f->e, id);
    ccm__timetrack__time_entry__free_unpacked(o, NULL);
    return rc;
}

/* Flags overlaps of e with the performer's other active entries (on any
 * patient, the same interval arriving again from another source included): e
 * names up to S_OVERLAP_EXAMPLES of them; an entry overlapped for the first
 * time names e.
 * A few index steps whatever the performer's history (overlap.h). Never changes
 * what counts (lib/rules merges a patient's overlaps, P-9): it makes them visible. */
static int s_overlaps(ccm_timetrack_t *t, MDB_txn *txn, entry_t *e)
{
    ccm_overlap_span_t sp = s_span(e);
    char example[S_ID_MAX + 1];
    ov_call_t f = {t, txn, e};
    int rc = ccm_overlap_add(txn, &t->ov, &sp, example, sizeof example, s_flag, &f);
    if (rc == 0)
        s_example(e, example);
    return rc;
}

/* ccm_overlap_active_fn: whether the stored entry id is still active. */
static bool s_is_active(const char *id, void *arg, int *rc)
{
    (void)rc;
    ov_call_t *f = arg;
    entry_t *o = ccm_month_get_entry(f->txn, &f->t->db, f->e->clinic, id);
    bool active = o && o->state == CCM__TIMETRACK__ENTRY_STATE__ACTIVE;
    if (o)
        ccm__timetrack__time_entry__free_unpacked(o, NULL);
    return active;
}

/* Takes e, no longer active, out of the overlap index. */
static int s_overlaps_remove(ccm_timetrack_t *t, MDB_txn *txn, entry_t *e)
{
    ccm_overlap_span_t sp = s_span(e);
    ov_call_t f = {t, txn, e};
    return ccm_overlap_remove(txn, &t->ov, &sp, s_is_active, &f);
}

/* Validates an AddTimeEntry of operation op; fills the new entry. */
static int s_check_add(ccm_timetrack_t *t, MDB_txn *txn, ccm_worker_call_t *call, const char *op,
                       const Ccm__Timetrack__AddTimeEntry *in, const clinic_t **c, entry_t *e)
{
    const char *why;
    int rc = s_patient_known(t, txn, call, op, in->clinic, in->mrn, c);
    if (rc)
        return rc;
    if (ccm_ident_key(in->performer, S_PERFORMER_MAX, &why) != 0)
        return s_bad(call, op, "performer", why);
    ccm_performer_t who = ccm_month_performer(txn, &t->db, in->clinic, in->performer);
    if (!who.known)
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "performer",
                               "%s.performer: no staff member or practitioner %s in clinic %s "
                               "(known from enrollment)",
                               op, in->performer, in->clinic);
    /* A documented APCM service element counts as done, not by its minutes
     * (docs/medicare-rules.md §8): it is the one entry that may last 0 seconds. */
    if (in->seconds < 0 || (in->seconds == 0 && in->service != CCM__TIMETRACK__SERVICE_TAG__APCM))
        return s_bad(call, op, "seconds",
                     "must be positive (0 only for an APCM service element, service APCM)");
    if (in->seconds > S_SECONDS_MAX)
        return s_bad(call, op, "seconds", "more than 24 hours is not a believable entry");
    if (in->start_us <= 0)
        return s_bad(call, op, "start_us", "the start instant is required");
    if (in->start_us + in->seconds * 1000000 > call->now_us + S_CLOCK_SKEW_US)
        return s_bad(call, op, "start_us", "the entry ends in the future");
    if (in->service < CCM__TIMETRACK__SERVICE_TAG__CCM ||
        in->service > CCM__TIMETRACK__SERVICE_TAG__APCM)
        return s_bad(call, op, "service", "must be CCM, PCM, TCM, RPM, BHI or APCM");
    if (in->source < CCM__TIMETRACK__SOURCE__MANUAL || in->source > CCM__TIMETRACK__SOURCE__EHR)
        return s_bad(call, op, "source", "must be MANUAL, CDR, TIMER or EHR");
    if (ccm_ident_text(in->source_event_id, S_EVENT_ID_MAX, true, &why) != 0 ||
        strchr(in->source_event_id, ' '))
        return s_bad(call, op, "source_event_id",
                     "1-128 printable characters without spaces (the idempotency key)");
    if (ccm_ident_text(in->activity, S_ACTIVITY_MAX, false, &why) != 0)
        return s_bad(call, op, "activity", why);
    static const char *const sources[] = {"", "MANUAL", "CDR", "TIMER", "EHR"};
    char id[S_EVENT_ID_MAX + 8];
    snprintf(id, sizeof id, "%s:%s", sources[in->source], in->source_event_id);
    e->id = s_dup(id);
    e->clinic = s_dup(in->clinic);
    e->mrn = s_dup(in->mrn);
    e->performer = s_dup(in->performer);
    e->activity = s_dup(in->activity);
    e->service = in->service;
    e->start_us = in->start_us;
    e->seconds = in->seconds;
    e->source = in->source;
    e->source_event_id = s_dup(in->source_event_id);
    e->state = CCM__TIMETRACK__ENTRY_STATE__ACTIVE;
    e->recorded_us = call->now_us;
    e->principal = s_dup(call->principal);
    /* The time log keeps who did the work as they were then (P-12). */
    e->role = s_dup(ccm_rules_role_name(who.role));
    char npi[24] = "";
    if (who.npi)
        snprintf(npi, sizeof npi, "%010llu", (unsigned long long)who.npi);
    e->performer_npi = s_dup(npi);
    return 0;
}

static int s_reply_entry(ccm_worker_call_t *call, entry_t *e)
{
    reply_t r = CCM__TIMETRACK__REPLY__INIT;
    r.result_case = CCM__TIMETRACK__REPLY__RESULT_ENTRY;
    r.entry = e;
    return ccm_worker_reply_ok(call, &r.base);
}

/* Adds entry e (validated): idempotent by its id; flags overlaps; notices. */
static int s_insert(ccm_timetrack_t *t, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                    const char *op, const clinic_t *c, entry_t *e, const char *type)
{
    entry_t *old = ccm_month_get_entry(txn, &t->db, e->clinic, e->id);
    if (old) {
        /* The same source event again: the same facts are a repeat, others a conflict. */
        bool same = strcmp(old->mrn, e->mrn) == 0 && strcmp(old->performer, e->performer) == 0 &&
                    old->start_us == e->start_us && old->seconds == e->seconds &&
                    old->service == e->service;
        int rc = same ? s_reply_entry(call, old)
                      : ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__CONFLICT, "source_event_id",
                                        "%s.source_event_id: %s was recorded with other facts "
                                        "(amend it instead)",
                                        op, e->id);
        if (same)
            call->remember = true;
        ccm__timetrack__time_entry__free_unpacked(old, NULL);
        return rc;
    }
    int rc = s_overlaps(t, txn, e);
    if (rc == 0)
        rc = s_save(t, w, txn, call, e, true, type);
    if (rc == 0)
        rc = s_thresholds(t, w, txn, call, c, e);
    if (rc != 0)
        return ccm_worker_store_fail(call, rc);
    call->remember = true;
    return s_reply_entry(call, e);
}

static int s_add(ccm_timetrack_t *t, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                 const Ccm__Timetrack__AddTimeEntry *in)
{
    entry_t *e = malloc(sizeof *e);
    if (!e)
        abort();
    ccm__timetrack__time_entry__init(e);
    const clinic_t *c;
    int rc = s_check_add(t, txn, call, "add_entry", in, &c, e);
    if (rc == 0)
        rc = s_insert(t, w, txn, call, "add_entry", c, e, "entry.added");
    ccm__timetrack__time_entry__free_unpacked(e, NULL);
    return rc;
}

/* Loads an active entry for a correction, or fails the call. */
static int s_load_active(ccm_timetrack_t *t, MDB_txn *txn, ccm_worker_call_t *call, const char *op,
                         const char *clinic, const char *id, const char *reason, entry_t **out,
                         const clinic_t **c)
{
    const char *why;
    if (!(*c = ccm_clinics_find(t->clinics, clinic)))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "%s.clinic: no clinic \"%s\" is configured", op, clinic);
    if (ccm_ident_text(reason, S_REASON_MAX, true, &why) != 0)
        return s_bad(call, op, "reason", "a correction needs a reason (at most 200 bytes)");
    *out = ccm_month_get_entry(txn, &t->db, clinic, id);
    if (!*out)
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "id",
                               "%s.id: no time entry %s in clinic %s", op, id, clinic);
    if ((*out)->state != CCM__TIMETRACK__ENTRY_STATE__ACTIVE) {
        ccm__timetrack__time_entry__free_unpacked(*out, NULL);
        *out = NULL;
        return ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__FAILED_PRECONDITION, "id",
                               "%s.id: entry %s was already voided or amended", op, id);
    }
    return 0;
}

static void s_set(char **field, const char *v)
{
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = s_dup(v);
}

static int s_void(ccm_timetrack_t *t, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                  const Ccm__Timetrack__VoidTimeEntry *in)
{
    entry_t *e;
    const clinic_t *c;
    int rc = s_load_active(t, txn, call, "void_entry", in->clinic, in->id, in->reason, &e, &c);
    if (rc)
        return rc;
    e->state = CCM__TIMETRACK__ENTRY_STATE__VOIDED;
    s_set(&e->reason, in->reason);
    rc = s_overlaps_remove(t, txn, e);
    if (rc == 0)
        rc = s_save(t, w, txn, call, e, false, "entry.voided");
    if (rc == 0)
        rc = s_thresholds(t, w, txn, call, c, e);
    if (rc == 0) {
        call->remember = true;
        rc = s_reply_entry(call, e);
    } else {
        rc = ccm_worker_store_fail(call, rc);
    }
    ccm__timetrack__time_entry__free_unpacked(e, NULL);
    return rc;
}

static int s_amend(ccm_timetrack_t *t, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                   const Ccm__Timetrack__AmendTimeEntry *in)
{
    static const char op[] = "amend_entry";
    if (!in->replacement)
        return s_bad(call, op, "replacement", "the corrected entry is required");
    entry_t *old;
    const clinic_t *c;
    int rc = s_load_active(t, txn, call, op, in->clinic, in->id, in->reason, &old, &c);
    if (rc)
        return rc;
    entry_t *e = malloc(sizeof *e);
    if (!e)
        abort();
    ccm__timetrack__time_entry__init(e);
    const clinic_t *c2;
    rc = s_check_add(t, txn, call, op, in->replacement, &c2, e);
    if (rc == 0 && strcmp(in->replacement->clinic, in->clinic) != 0)
        rc = s_bad(call, op, "replacement.clinic", "must be the amended entry's clinic");
    if (rc == 0) {
        old->state = CCM__TIMETRACK__ENTRY_STATE__AMENDED;
        s_set(&old->corrected_by, e->id);
        s_set(&old->reason, in->reason);
        s_set(&e->corrects, old->id);
        s_set(&e->reason, in->reason);
        rc = s_overlaps_remove(t, txn, old);
        if (rc == 0)
            rc = s_save(t, w, txn, call, old, false, "entry.amended");
        if (rc == 0)
            rc = s_thresholds(t, w, txn, call, c, old);
        rc = rc ? ccm_worker_store_fail(call, rc)
                : s_insert(t, w, txn, call, op, c, e, "entry.added");
    }
    ccm__timetrack__time_entry__free_unpacked(e, NULL);
    ccm__timetrack__time_entry__free_unpacked(old, NULL);
    return rc;
}

static int s_list(ccm_timetrack_t *t, MDB_txn *txn, ccm_worker_call_t *call,
                  const Ccm__Timetrack__ListTimeEntries *in)
{
    const clinic_t *c;
    int rc = s_patient_known(t, txn, call, "list_entries", in->clinic, in->mrn, &c);
    if (rc)
        return rc;
    int32_t month = -1;
    if (in->month[0] && ccm_tz_parse_month(in->month, &month) != 0)
        return s_bad(call, "list_entries", "month", "must be YYYY-MM");
    ccm_key_t from;
    s_key2(&from, in->clinic, in->mrn);
    size_t prefix = from.len;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, t->db.by_patient, &cur) != 0)
        return ccm_worker_store_fail(call, CCM_EIO);
    Ccm__Timetrack__TimeEntryList list = CCM__TIMETRACK__TIME_ENTRY_LIST__INIT;
    MDB_val k = {from.len, from.buf}, v;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= prefix + 8 || memcmp(k.mv_data, from.buf, prefix) != 0)
            break;
        if (list.n_entries >= 5000)
            break;
        entry_t *e =
            ccm_month_get_entry(txn, &t->db, in->clinic, (const char *)k.mv_data + prefix + 8);
        if (!e)
            continue;
        if (month >= 0 && s_month_of(c, e->start_us) != month &&
            s_month_of(c, s_last_us(e)) != month) {
            ccm__timetrack__time_entry__free_unpacked(e, NULL);
            continue;
        }
        entry_t **a = realloc(list.entries, (list.n_entries + 1) * sizeof *a);
        if (!a)
            abort();
        list.entries = a;
        a[list.n_entries++] = e;
    }
    mdb_cursor_close(cur);
    reply_t r = CCM__TIMETRACK__REPLY__INIT;
    r.result_case = CCM__TIMETRACK__REPLY__RESULT_ENTRIES;
    r.entries = &list;
    rc = ccm_worker_reply_ok(call, &r.base);
    for (size_t i = 0; i < list.n_entries; i++)
        ccm__timetrack__time_entry__free_unpacked(list.entries[i], NULL);
    free(list.entries);
    return rc;
}

static int s_status(ccm_timetrack_t *t, MDB_txn *txn, ccm_worker_call_t *call,
                    const Ccm__Timetrack__MonthStatus *in)
{
    const clinic_t *c;
    int rc = s_patient_known(t, txn, call, "month_status", in->clinic, in->mrn, &c);
    if (rc)
        return rc;
    int32_t month;
    if (!in->month[0])
        month = s_month_of(c, call->now_us);
    else if (strlen(in->month) != 7 || ccm_tz_parse_month(in->month, &month) != 0)
        return s_bad(call, "month_status", "month", "must be YYYY-MM");
    month_t m;
    if ((rc = s_month(t, txn, c, in->mrn, month, &m)) != 0)
        return ccm_worker_store_fail(call, rc);
    Ccm__Timetrack__MonthStatusReply st = CCM__TIMETRACK__MONTH_STATUS_REPLY__INIT;
    char month_text[8], summary[256], lines[4][32];
    char *line_ptrs[4];
    ccm_month_text(month, month_text);
    st.month = month_text;
    st.staff_minutes = m.d.staff_minutes;
    st.practitioner_minutes = m.d.practitioner_minutes;
    st.total_minutes = m.d.total_minutes;
    const char *next;
    int need;
    s_next(&m, &next, &need);
    st.next_code = (char *)next;
    st.minutes_to_next = need;
    st.claim = m.d.claim;
    st.reason = (char *)(m.d.claim ? "" : ccm_rules_reason_name(m.d.reason));
    for (int i = 0; i < m.d.n_lines && i < 4; i++) {
        snprintf(lines[i], sizeof lines[i], "%s x%d", ccm_rules_code_name(m.d.lines[i].code),
                 m.d.lines[i].units);
        line_ptrs[i] = lines[i];
    }
    st.n_lines = (size_t)(m.d.n_lines < 4 ? m.d.n_lines : 4);
    st.lines = line_ptrs;
    if (need > 0)
        snprintf(summary, sizeof summary,
                 "%d countable minutes in %s (staff %d, practitioner "
                 "%d): %d minute%s to %s",
                 m.d.total_minutes, month_text, m.d.staff_minutes, m.d.practitioner_minutes, need,
                 need == 1 ? "" : "s", next);
    else
        snprintf(summary, sizeof summary,
                 "%d countable minutes in %s (staff %d, practitioner %d): no further code",
                 m.d.total_minutes, month_text, m.d.staff_minutes, m.d.practitioner_minutes);
    st.summary = summary;
    reply_t r = CCM__TIMETRACK__REPLY__INIT;
    r.result_case = CCM__TIMETRACK__REPLY__RESULT_MONTH_STATUS;
    r.month_status = &st;
    return ccm_worker_reply_ok(call, &r.base);
}

static int s_forecast_cmp(const void *a, const void *b)
{
    const Ccm__Timetrack__ForecastItem *x = *(Ccm__Timetrack__ForecastItem *const *)a;
    const Ccm__Timetrack__ForecastItem *y = *(Ccm__Timetrack__ForecastItem *const *)b;
    return x->risk < y->risk ? 1 : x->risk > y->risk ? -1 : strcmp(x->mrn, y->mrn);
}

/* Patients whose month would bill but for the minutes, most at risk first. */
static int s_forecast(ccm_timetrack_t *t, MDB_txn *txn, ccm_worker_call_t *call,
                      const Ccm__Timetrack__Forecast *in)
{
    const clinic_t *c = ccm_clinics_find(t->clinics, in->clinic);
    if (!c)
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "forecast.clinic: no clinic \"%s\" is configured", in->clinic);
    int32_t now_month = s_month_of(c, call->now_us), month = now_month;
    if (in->month[0] && (strlen(in->month) != 7 || ccm_tz_parse_month(in->month, &month) != 0))
        return s_bad(call, "forecast", "month", "must be YYYY-MM");
    int32_t today = ccm_tz_local_day(c->tz, call->now_us / 1000000), y = month / 12,
            mo = month % 12 + 1;
    int32_t last = ccm_tz_days_from_civil(y, mo, 1) + ccm_tz_days_in_month(y, mo) - 1;
    int days_left = month < now_month   ? 0
                    : month > now_month ? ccm_tz_days_in_month(y, mo)
                                        : (int)(last - today + 1);
    ccm_key_t prefix;
    ccm_key_init(&prefix);
    ccm_key_str(&prefix, c->id);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, t->db.patients, &cur) != 0)
        return ccm_worker_store_fail(call, CCM_EIO);
    Ccm__Timetrack__ForecastReply fr = CCM__TIMETRACK__FORECAST_REPLY__INIT;
    char mrns[512][S_MRN_MAX + 1];
    char codes[512][8];
    Ccm__Timetrack__ForecastItem items[512];
    Ccm__Timetrack__ForecastItem *ptrs[512];
    MDB_val k = {prefix.len, prefix.buf}, v;
    int rc = 0;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0 && fr.n_items < 512;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= prefix.len || memcmp(k.mv_data, prefix.buf, prefix.len) != 0)
            break;
        const char *mrn = (const char *)k.mv_data + prefix.len;
        month_t m;
        if (s_month(t, txn, c, mrn, month, &m) != 0)
            continue;
        if (m.d.claim || m.d.reason != CCM_REASON_BELOW_THRESHOLD)
            continue; /* billing already, or blocked by something minutes cannot fix */
        const char *next;
        int need;
        s_next(&m, &next, &need);
        size_t i = fr.n_items;
        ccm__timetrack__forecast_item__init(&items[i]);
        snprintf(mrns[i], sizeof mrns[i], "%s", mrn);
        snprintf(codes[i], sizeof codes[i], "%s", next);
        items[i].mrn = mrns[i];
        items[i].total_minutes = m.d.total_minutes;
        items[i].next_code = codes[i];
        items[i].minutes_to_next = need;
        items[i].days_left = days_left;
        /* Heuristic: about 2 minutes a day can still be found; no days left = missed. */
        items[i].risk = days_left <= 0 ? 1.0 : (double)need / (double)(need + 2 * days_left);
        ptrs[i] = &items[i];
        fr.n_items++;
    }
    mdb_cursor_close(cur);
    qsort(ptrs, fr.n_items, sizeof ptrs[0], s_forecast_cmp);
    fr.items = ptrs;
    reply_t r = CCM__TIMETRACK__REPLY__INIT;
    r.result_case = CCM__TIMETRACK__REPLY__RESULT_FORECAST;
    r.forecast = &fr;
    rc = ccm_worker_reply_ok(call, &r.base);
    return rc;
}

int ccm_timetrack_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx)
{
    ccm_timetrack_t *t = ctx;
    Ccm__Timetrack__Request *req = ccm__timetrack__request__unpack(NULL, call->len, call->body);
    if (!req)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "body",
                               "body: not a valid timetrack request");
    int rc;
    bool mutation = req->op_case == CCM__TIMETRACK__REQUEST__OP_ADD_ENTRY ||
                    req->op_case == CCM__TIMETRACK__REQUEST__OP_VOID_ENTRY ||
                    req->op_case == CCM__TIMETRACK__REQUEST__OP_AMEND_ENTRY;
    if (mutation && (rc = ccm_worker_require_request_id(call)) != 0) {
        ccm__timetrack__request__free_unpacked(req, NULL);
        return rc;
    }
    switch (req->op_case) {
    case CCM__TIMETRACK__REQUEST__OP_ADD_ENTRY: rc = s_add(t, w, txn, call, req->add_entry); break;
    case CCM__TIMETRACK__REQUEST__OP_VOID_ENTRY:
        rc = s_void(t, w, txn, call, req->void_entry);
        break;
    case CCM__TIMETRACK__REQUEST__OP_AMEND_ENTRY:
        rc = s_amend(t, w, txn, call, req->amend_entry);
        break;
    case CCM__TIMETRACK__REQUEST__OP_LIST_ENTRIES:
        rc = s_list(t, txn, call, req->list_entries);
        break;
    case CCM__TIMETRACK__REQUEST__OP_MONTH_STATUS:
        rc = s_status(t, txn, call, req->month_status);
        break;
    case CCM__TIMETRACK__REQUEST__OP_FORECAST: rc = s_forecast(t, txn, call, req->forecast); break;
    default:
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "op",
                             "op: the request names no timetrack operation");
        break;
    }
    ccm__timetrack__request__free_unpacked(req, NULL);
    return rc;
}
