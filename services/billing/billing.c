/* billing — handlers for service "billing".
 *
 * Invariants: a claim is keyed by clinic/mrn/month/program and never edited in
 * place: data that changes a settled month makes a new version that replaces
 * the old one (REPLACED), announced as claim.ready with `supersedes`; an MBI's
 * month and program are billed by one clinic only (the first to settle), the
 * others get a conflict that names only the other clinic; every patient-month
 * settled without a claim records why (revenue missed). Month figures come from
 * services/common/month.c, the same code timetrack answers with. */
#include "billing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/billing.pb-c.h"
#include "ccm/clinics.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/ident.h"
#include "ccm/log.h"
#include "ccm/rules.h"
#include "ccm/tz.h"
#include "month.h"

#define S_CLINIC_MAX 32
#define S_KEY_MAX 160
#define S_ID_MAX 176
/* Closed months looked at again when late data arrives (months back). */
#define S_LATE_MONTHS 24
/* Auto-close check interval. */
#define S_CLOSE_CHECK_MS 60000
#define S_RULES_VERSION "ccm lib/rules 0.1 (ccm-rules.md, fees deploy/fees)"

typedef Ccm__Billing__Claim claim_t;
typedef Ccm__Billing__Reply reply_t;

const char *const ccm_billing_dbs[] = {"patients",   "people",       "careplans", "entries",
                                       "by_patient", "by_performer", "claims",    "current",
                                       "holders",    "missed",       "closed",    "conflicts",
                                       NULL};

typedef ccm_clinic_info_t clinic_t;

struct ccm_billing {
    ccm_clinics_t *clinics; /* owned */
    ccm_fees_t *fees;
    ccm_rules_config_t cfg;
    int close_after_days;
    ccm_month_db_t db;
    MDB_dbi claims;    /* claim id -> Claim */
    MDB_dbi current;   /* key -> current claim id */
    MDB_dbi holders;   /* mbi month(u32) program(u32) -> key of the clinic billing it */
    MDB_dbi missed;    /* key -> Missed */
    MDB_dbi closed;    /* clinic month(u32) -> closed_us (u64) */
    MDB_dbi conflicts; /* key -> Conflict */
};

/* Who causes a change: a request, or a followed event / the clock. */
typedef struct {
    const char *request_id;
    const char *principal;
    int64_t now_us;
} cause_t;

typedef struct {
    uint32_t claims, missed, conflicts, unchanged;
} counts_t;

/* ---- life cycle ---- */

ccm_billing_t *ccm_billing_new(const char *fees_dir, int close_after_days)
{
    ccm_billing_t *b = calloc(1, sizeof *b);
    if (!b || !(b->fees = malloc(sizeof *b->fees)) || !(b->clinics = ccm_clinics_new())) {
        if (b)
            free(b->fees);
        free(b);
        return NULL;
    }
    ccm_rules_config_default(&b->cfg);
    b->close_after_days = close_after_days;
    char err[256];
    if (ccm_fees_load_dir(b->fees, fees_dir, err, sizeof err) != 0) {
        ccm_error("event=fees_error dir=%s error=\"%s\"", fees_dir, err);
        ccm_billing_destroy(&b);
        return NULL;
    }
    return b;
}

void ccm_billing_destroy(ccm_billing_t **p)
{
    if (!p || !*p)
        return;
    ccm_clinics_destroy(&(*p)->clinics);
    free((*p)->fees);
    free(*p);
    *p = NULL;
}

int ccm_billing_add_clinic(ccm_billing_t *b, const char *id, const char *timezone, const char *type)
{
    return ccm_clinics_add(b->clinics, id, timezone, type);
}

void ccm_billing_set_clinics(ccm_billing_t *b, ccm_clinics_t *clinics)
{
    ccm_clinics_destroy(&b->clinics);
    b->clinics = clinics;
}

static const clinic_t *s_clinic(const ccm_billing_t *b, const char *id)
{
    return ccm_clinics_find(b->clinics, id);
}

/* Place of service of a clinic's claims: the configured one, else 11 (office). */
static const char *s_pos(const clinic_t *c)
{
    return c->pos && c->pos[0] ? c->pos : "11";
}

/* ---- records ---- */

static int s_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    protobuf_c_message_pack(m, buf);
    int rc = ccm_store_put(txn, dbi, key, strlen(key) + 1, buf, len, 0);
    free(buf);
    return rc;
}

static ProtobufCMessage *s_get(MDB_txn *txn, MDB_dbi dbi, const char *key,
                               const ProtobufCMessageDescriptor *d)
{
    MDB_val v;
    if (ccm_store_get(txn, dbi, key, strlen(key) + 1, &v) != 0)
        return NULL;
    return protobuf_c_message_unpack(d, NULL, v.mv_size, v.mv_data);
}

static int s_event(ccm_worker_t *w, MDB_txn *txn, const cause_t *why, const char *type,
                   const char *key, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    protobuf_c_message_pack(m, buf);
    uint64_t seq;
    int rc = ccm_stream_append(ccm_worker_stream(w), txn, type, key, why->request_id,
                               why->principal, why->now_us, buf, len, &seq);
    free(buf);
    return rc;
}

static void s_closed_key(ccm_key_t *k, const char *clinic, int32_t month)
{
    ccm_key_init(k);
    ccm_key_str(k, clinic);
    ccm_key_u32(k, (uint32_t)month);
}

static bool s_is_closed(ccm_billing_t *b, MDB_txn *txn, const char *clinic, int32_t month)
{
    ccm_key_t k;
    s_closed_key(&k, clinic, month);
    MDB_val v;
    return ccm_store_get(txn, b->closed, k.buf, k.len, &v) == 0;
}

/* ---- settling one patient-month ---- */

static bool s_practitioner_code(ccm_code_t c)
{
    return c == CCM_CODE_99491 || c == CCM_CODE_99437 || c == CCM_CODE_99424 || c == CCM_CODE_99425;
}

/* Minutes one claim line stands for: the base code's threshold, or each add-on
 * unit's increment (ccm-rules.md §7). */
static int s_line_minutes(ccm_code_t c, int units)
{
    switch (c) {
    case CCM_CODE_99490: return 20;
    case CCM_CODE_99439: return 20 * units;
    case CCM_CODE_99491:
    case CCM_CODE_99424:
    case CCM_CODE_99426: return 30;
    case CCM_CODE_99437:
    case CCM_CODE_99425:
    case CCM_CODE_99427:
    case CCM_CODE_99489: return 30 * units;
    case CCM_CODE_99487: return 60;
    case CCM_CODE_G0511: return 20;
    default: return 0;
    }
}

static void s_day_text(int32_t day, char out[11])
{
    int32_t y, m, d;
    ccm_tz_civil_from_days(day, &y, &m, &d);
    char buf[24];
    snprintf(buf, sizeof buf, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

/* Two claims say the same thing (the content a billing system would send). */
static bool s_same(const claim_t *a, const claim_t *b)
{
    if (strcmp(a->dos, b->dos) || a->amount_cents != b->amount_cents || a->n_lines != b->n_lines ||
        a->staff_minutes != b->staff_minutes ||
        a->practitioner_minutes != b->practitioner_minutes ||
        strcmp(a->billing_npi, b->billing_npi) || a->n_diagnoses != b->n_diagnoses)
        return false;
    for (size_t i = 0; i < a->n_lines; i++)
        if (strcmp(a->lines[i]->code, b->lines[i]->code) ||
            a->lines[i]->units != b->lines[i]->units)
            return false;
    for (size_t i = 0; i < a->n_diagnoses; i++)
        if (strcmp(a->diagnoses[i], b->diagnoses[i]))
            return false;
    return true;
}

static int s_conflict(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const cause_t *why,
                      const char *key, const char *clinic, const char *mrn, const char *month,
                      const char *program, const char *holder_key, counts_t *n)
{
    MDB_val v;
    if (ccm_store_get(txn, b->conflicts, key, strlen(key) + 1, &v) == 0) {
        n->unchanged++;
        return 0; /* reported already */
    }
    /* holder_key = "clinic/mrn/month/program" of the clinic that bills it */
    char holder_clinic[S_CLINIC_MAX + 1], holder_mrn[80];
    if (sscanf(holder_key, "%32[^/]/%79[^/]", holder_clinic, holder_mrn) != 2)
        return CCM_EIO;
    Ccm__Billing__Conflict mine = CCM__BILLING__CONFLICT__INIT;
    mine.key = (char *)key, mine.clinic = (char *)clinic, mine.mrn = (char *)mrn;
    mine.month = (char *)month, mine.program = (char *)program;
    mine.other_clinic = holder_clinic;
    mine.at_us = why->now_us;
    int rc = s_put(txn, b->conflicts, key, &mine.base);
    if (rc == 0)
        rc = s_event(w, txn, why, "claim.conflict", key, &mine.base);
    /* The clinic that holds the claim learns of it too, with only its own patient. */
    Ccm__Billing__Conflict theirs = CCM__BILLING__CONFLICT__INIT;
    theirs.key = (char *)holder_key, theirs.clinic = holder_clinic, theirs.mrn = holder_mrn;
    theirs.month = (char *)month, theirs.program = (char *)program;
    theirs.other_clinic = (char *)clinic;
    theirs.at_us = why->now_us;
    if (rc == 0)
        rc = s_event(w, txn, why, "claim.conflict", holder_key, &theirs.base);
    ccm_warn("event=claim_conflict key=%s holder_clinic=%s", key, holder_clinic);
    if (rc == 0)
        n->conflicts++;
    return rc;
}

/* Settles one patient-month: claim (new, replaced or unchanged), missed, or conflict. */
static int s_settle(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const cause_t *why,
                    const clinic_t *c, const char *mrn, int32_t month, counts_t *n)
{
    ccm_month_t m;
    memset(&m, 0, sizeof m);
    ccm_month_clinic_t mc = {c->id, c->tz, c->type};
    int rc = ccm_month_eval(txn, &b->db, &b->cfg, b->fees, &mc, mrn, month, &m);
    if (rc != 0) {
        ccm_month_clear(&m);
        return rc == CCM_ENOTFOUND ? 0 : rc;
    }
    char month_text[8], key[S_KEY_MAX];
    ccm_month_text(month, month_text);
    const char *program = ccm_rules_program_name(m.program);
    snprintf(key, sizeof key, "%s/%s/%s/%s", c->id, mrn, month_text, program);
    /* A patient-month is settled for one program: what an earlier settlement
     * recorded as missed under another program (the patient's program changed
     * since) no longer applies. */
    for (int p = CCM_PROGRAM_CCM; p <= CCM_PROGRAM_APCM; p++) {
        if (p == (int)m.program)
            continue;
        char other[S_KEY_MAX];
        snprintf(other, sizeof other, "%s/%s/%s/%s", c->id, mrn, month_text,
                 ccm_rules_program_name((ccm_program_t)p));
        rc = ccm_store_del(txn, b->missed, other, strlen(other) + 1);
        if (rc != 0 && rc != CCM_ENOTFOUND) {
            ccm_month_clear(&m);
            return rc;
        }
        rc = 0;
    }

    if (!m.d.claim) {
        Ccm__Billing__Missed ms = CCM__BILLING__MISSED__INIT;
        char detail[96];
        if (m.d.reason == CCM_REASON_EXCLUDED_SERVICE)
            snprintf(detail, sizeof detail, "EXCLUDED_SERVICE(%s)",
                     ccm_rules_code_name(m.d.reason_code));
        else if (m.d.reason == CCM_REASON_BELOW_THRESHOLD)
            snprintf(detail, sizeof detail, "%d minutes", m.d.total_minutes);
        else
            snprintf(detail, sizeof detail, "%s", ccm_rules_reason_name(m.d.reason));
        ms.key = key, ms.clinic = (char *)c->id, ms.mrn = (char *)mrn;
        ms.month = month_text, ms.program = (char *)program;
        ms.reason = (char *)ccm_rules_reason_name(m.d.reason);
        ms.detail = detail;
        ms.total_minutes = m.d.total_minutes;
        ms.closed_us = why->now_us;
        Ccm__Billing__Missed *old =
            (Ccm__Billing__Missed *)s_get(txn, b->missed, key, &ccm__billing__missed__descriptor);
        bool same = old && strcmp(old->reason, ms.reason) == 0 && strcmp(old->detail, detail) == 0;
        if (old)
            ccm__billing__missed__free_unpacked(old, NULL);
        if (same) {
            n->unchanged++;
        } else {
            rc = s_put(txn, b->missed, key, &ms.base);
            if (rc == 0)
                rc = s_event(w, txn, why, "claim.missed", key, &ms.base);
            n->missed++;
        }
        MDB_val cur;
        if (rc == 0 && ccm_store_get(txn, b->current, key, strlen(key) + 1, &cur) == 0)
            ccm_warn("event=claim_no_longer_billable key=%s reason=%s note=\"the current "
                     "version stands; void it with the billing system\"",
                     key, ms.reason);
        ccm_month_clear(&m);
        return rc;
    }

    /* One biller per MBI, month and program across the network. */
    ccm_key_t hk;
    ccm_key_init(&hk);
    ccm_key_str(&hk, m.mbi);
    ccm_key_u32(&hk, (uint32_t)month);
    ccm_key_u32(&hk, (uint32_t)m.program);
    MDB_val hv;
    if (ccm_store_get(txn, b->holders, hk.buf, hk.len, &hv) == 0 &&
        strcmp((const char *)hv.mv_data, key) != 0) {
        char holder[S_KEY_MAX];
        snprintf(holder, sizeof holder, "%.*s", (int)hv.mv_size, (const char *)hv.mv_data);
        rc = s_conflict(b, w, txn, why, key, c->id, mrn, month_text, program, holder, n);
        ccm_month_clear(&m);
        return rc;
    }

    /* The claim as it would be sent now. */
    claim_t cl = CCM__BILLING__CLAIM__INIT;
    Ccm__Billing__Line lines[CCM_RULES_MAX_LINES], *lp[CCM_RULES_MAX_LINES];
    char roles[CCM_RULES_MAX_LINES][16];
    for (int i = 0; i < m.d.n_lines; i++) {
        const ccm_line_t *l = &m.d.lines[i];
        ccm__billing__line__init(&lines[i]);
        lines[i].code = (char *)ccm_rules_code_name(l->code);
        lines[i].units = l->units;
        lines[i].unit_cents = l->unit_cents;
        lines[i].amount_cents = l->unit_cents > 0 ? l->unit_cents * l->units : 0;
        lines[i].minutes = s_line_minutes(l->code, l->units);
        snprintf(roles[i], sizeof roles[i], "%s",
                 s_practitioner_code(l->code) ? "practitioner" : "staff");
        lines[i].role = roles[i];
        lp[i] = &lines[i];
    }
    char dos[11];
    s_day_text(m.d.dos, dos);
    Ccm__Billing__Evidence ev = CCM__BILLING__EVIDENCE__INIT;
    ev.consent_id = m.consent_id;
    ev.care_plan_version = m.care_plan_version;
    ev.time_entry_ids = m.entry_ids;
    ev.n_time_entry_ids = m.n_entry_ids;
    ev.rules_version = S_RULES_VERSION;
    char reasons[CCM_RULES_MAX_EVIDENCE][200], *rp[CCM_RULES_MAX_EVIDENCE];
    for (int i = 0; i < m.d.n_evidence; i++) {
        char text[180];
        ccm_rules_evidence_format(&m.d.evidence[i], text, sizeof text);
        snprintf(reasons[i], sizeof reasons[i], "[%s] %s",
                 ccm_rules_evidence_rule(m.d.evidence[i].kind), text);
        rp[i] = reasons[i];
    }
    ev.reasons = rp;
    ev.n_reasons = (size_t)m.d.n_evidence;
    cl.key = key;
    cl.clinic = (char *)c->id;
    cl.mrn = (char *)mrn;
    cl.mbi = m.mbi;
    cl.month = month_text;
    cl.program = (char *)program;
    cl.dos = dos;
    cl.place_of_service = (char *)s_pos(c);
    cl.billing_npi = m.billing_npi;
    cl.rendering_npi = m.billing_npi;
    cl.diagnoses = m.diagnoses;
    cl.n_diagnoses = m.n_diagnoses;
    cl.lines = lp;
    cl.n_lines = (size_t)m.d.n_lines;
    cl.amount_cents = m.d.amount_cents;
    cl.fee_year = m.d.fee_year;
    cl.fee_stale = m.d.fee_stale;
    cl.staff_minutes = m.d.staff_minutes;
    cl.practitioner_minutes = m.d.practitioner_minutes;
    cl.evidence = &ev;
    cl.status = CCM__BILLING__CLAIM_STATUS__READY;
    cl.created_us = cl.status_us = why->now_us;

    char id[S_ID_MAX], old_id[S_ID_MAX] = "";
    MDB_val cv;
    claim_t *old = NULL;
    if (ccm_store_get(txn, b->current, key, strlen(key) + 1, &cv) == 0) {
        snprintf(old_id, sizeof old_id, "%.*s", (int)cv.mv_size, (const char *)cv.mv_data);
        old = (claim_t *)s_get(txn, b->claims, old_id, &ccm__billing__claim__descriptor);
    }
    if (old && s_same(old, &cl)) {
        ccm__billing__claim__free_unpacked(old, NULL);
        ccm_month_clear(&m);
        n->unchanged++;
        return 0;
    }
    cl.version = old ? old->version + 1 : 1;
    cl.supersedes = old_id;
    snprintf(id, sizeof id, "%s#v%u", key, cl.version);
    cl.id = id;
    if (old) {
        old->status = CCM__BILLING__CLAIM_STATUS__REPLACED;
        old->status_us = why->now_us;
        rc = s_put(txn, b->claims, old_id, &old->base);
        ccm__billing__claim__free_unpacked(old, NULL);
    }
    if (rc == 0)
        rc = s_put(txn, b->claims, id, &cl.base);
    if (rc == 0)
        rc = ccm_store_put(txn, b->current, key, strlen(key) + 1, id, strlen(id) + 1, 0);
    if (rc == 0)
        rc = ccm_store_put(txn, b->holders, hk.buf, hk.len, key, strlen(key) + 1, 0);
    if (rc == 0) {
        rc = ccm_store_del(txn, b->missed, key, strlen(key) + 1);
        rc = rc == CCM_ENOTFOUND ? 0 : rc;
    }
    if (rc == 0)
        rc = s_event(w, txn, why, "claim.ready", key, &cl.base);
    if (rc == 0) {
        n->claims++;
        ccm_info("event=claim_ready id=%s amount_cents=%lld lines=%zu", id,
                 (long long)cl.amount_cents, cl.n_lines);
    }
    ccm_month_clear(&m);
    return rc;
}

/* Settles every patient of clinic c for month and marks it closed. */
static int s_close_clinic(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const cause_t *why,
                          const clinic_t *c, int32_t month, counts_t *n)
{
    ccm_key_t ck;
    s_closed_key(&ck, c->id, month);
    uint8_t at[8];
    ccm_be_put_u64(at, (uint64_t)why->now_us);
    int rc = ccm_store_put(txn, b->closed, ck.buf, ck.len, at, 8, 0);
    if (rc)
        return rc;
    ccm_key_t prefix;
    ccm_key_init(&prefix);
    ccm_key_str(&prefix, c->id);
    /* Collect the MRNs first: settling writes to other databases only, but keep
     * the cursor's life simple. */
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, b->db.patients, &cur) != 0)
        return CCM_EIO;
    char **mrns = NULL;
    size_t nm = 0;
    MDB_val k = {prefix.len, prefix.buf}, v;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= prefix.len || memcmp(k.mv_data, prefix.buf, prefix.len) != 0)
            break;
        char **a = realloc(mrns, (nm + 1) * sizeof *a);
        if (!a || !(a[nm] = strdup((const char *)k.mv_data + prefix.len)))
            abort();
        mrns = a;
        nm++;
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < nm && rc == 0; i++)
        rc = s_settle(b, w, txn, why, c, mrns[i], month, n);
    for (size_t i = 0; i < nm; i++)
        free(mrns[i]);
    free(mrns);
    return rc;
}

/* Late data: settles again every closed month (of the last S_LATE_MONTHS) of
 * this patient that the change may touch. */
static int s_resettle(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const char *clinic,
                      const char *mrn, int32_t only_from, int32_t only_to, int64_t now_us)
{
    const clinic_t *c = s_clinic(b, clinic);
    if (!c)
        return 0;
    cause_t why = {"", "billing", now_us};
    counts_t n = {0, 0, 0, 0};
    int32_t now_month = ccm_month_of(c->tz, now_us);
    int32_t from = only_from >= 0 ? only_from : now_month - S_LATE_MONTHS;
    int32_t to = only_to >= 0 ? only_to : now_month;
    for (int32_t month = from; month <= to; month++) {
        if (!s_is_closed(b, txn, clinic, month))
            continue;
        int rc = s_settle(b, w, txn, &why, c, mrn, month, &n);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- followed streams ---- */

static int s_on_enrollment(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    ccm_billing_t *b = ctx;
    int rc = ccm_month_on_enrollment(txn, &b->db, ev);
    if (rc)
        return rc;
    if (strcmp(ev->type, "eligibility") == 0 || strncmp(ev->type, "practitioner.", 13) == 0 ||
        strncmp(ev->type, "staff.", 6) == 0)
        return 0;
    Ccm__Enrollment__Patient *p =
        ccm__enrollment__patient__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!p)
        return CCM_EINVAL;
    rc = s_resettle(b, w, txn, p->clinic, p->mrn, -1, -1, ev->time_us);
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

static int s_on_careplan(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    ccm_billing_t *b = ctx;
    int rc = ccm_month_on_careplan(txn, &b->db, ev);
    if (rc)
        return rc;
    /* key "clinic/mrn/PROGRAM" */
    char clinic[S_CLINIC_MAX + 1], mrn[80];
    if (sscanf(ev->key, "%32[^/]/%79[^/]", clinic, mrn) != 2)
        return 0;
    return s_resettle(b, w, txn, clinic, mrn, -1, -1, ev->time_us);
}

static int s_on_timetrack(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    ccm_billing_t *b = ctx;
    int rc = ccm_month_on_timetrack(txn, &b->db, ev);
    if (rc || strncmp(ev->type, "entry.", 6) != 0)
        return rc;
    Ccm__Timetrack__TimeEntry *e =
        ccm__timetrack__time_entry__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!e)
        return CCM_EINVAL;
    const clinic_t *c = s_clinic(b, e->clinic);
    if (c) {
        int32_t m0 = ccm_month_of(c->tz, e->start_us);
        int32_t m1 = ccm_month_of(c->tz, e->start_us + e->seconds * 1000000 - 1);
        rc = s_resettle(b, w, txn, e->clinic, e->mrn, m0, m1, ev->time_us);
    }
    ccm__timetrack__time_entry__free_unpacked(e, NULL);
    return rc;
}

/* Closes, per clinic, the month that ended close_after_days ago. */
static int s_auto_close(ccm_worker_t *w, MDB_txn *txn, int64_t now_us, void *ctx)
{
    ccm_billing_t *b = ctx;
    if (b->close_after_days <= 0)
        return 0;
    for (size_t i = 0; i < ccm_clinics_count(b->clinics); i++) {
        const clinic_t *c = ccm_clinics_at(b->clinics, i);
        int32_t today = ccm_tz_local_day(c->tz, now_us / 1000000), y, mo, d;
        ccm_tz_civil_from_days(today - b->close_after_days, &y, &mo, &d);
        int32_t month = y * 12 + mo - 1 - 1; /* the month before the one of (today - days) */
        if (s_is_closed(b, txn, c->id, month))
            continue;
        cause_t why = {"", "billing", now_us};
        counts_t n = {0, 0, 0, 0};
        char text[8];
        ccm_month_text(month, text);
        ccm_info("event=auto_close clinic=%s month=%s", c->id, text);
        int rc = s_close_clinic(b, w, txn, &why, c, month, &n);
        if (rc)
            return rc;
    }
    return 0;
}

int ccm_billing_bind(ccm_billing_t *b, ccm_worker_t *w)
{
    ccm_store_t *s = ccm_worker_store(w);
    int rc = ccm_month_bind(&b->db, s);
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"claims", &b->claims}, {"current", &b->current}, {"holders", &b->holders},
               {"missed", &b->missed}, {"closed", &b->closed},   {"conflicts", &b->conflicts}};
    for (size_t i = 0; rc == 0 && i < sizeof dbs / sizeof dbs[0]; i++)
        rc = ccm_store_dbi(s, dbs[i].name, dbs[i].dbi);
    static const char *const cp_types[] = {"careplan.established", "careplan.copy_given", NULL};
    static const char *const tt_types[] = {"entry.*", NULL};
    if (!rc)
        rc = ccm_worker_follow(w, "enrollment", NULL, s_on_enrollment, b);
    if (!rc)
        rc = ccm_worker_follow(w, "careplan", cp_types, s_on_careplan, b);
    if (!rc)
        rc = ccm_worker_follow(w, "timetrack", tt_types, s_on_timetrack, b);
    if (!rc)
        rc = ccm_worker_every(w, S_CLOSE_CHECK_MS, s_auto_close, b);
    return rc;
}

/* ---- requests ---- */

static int s_close(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                   const Ccm__Billing__CloseMonth *in)
{
    int32_t month;
    if (strlen(in->month) != 7 || ccm_tz_parse_month(in->month, &month) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "month",
                               "close_month.month: must be YYYY-MM");
    if (in->clinic[0] && !s_clinic(b, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "close_month.clinic: no clinic \"%s\" is configured", in->clinic);
    cause_t why = {call->request_id, call->principal, call->now_us};
    counts_t n = {0, 0, 0, 0};
    for (size_t i = 0; i < ccm_clinics_count(b->clinics); i++) {
        const clinic_t *c = ccm_clinics_at(b->clinics, i);
        if (in->clinic[0] && strcmp(in->clinic, c->id) != 0)
            continue;
        /* A month closes only after it ended in the clinic's zone. */
        if (month >= ccm_month_of(c->tz, call->now_us))
            return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__FAILED_PRECONDITION, "month",
                                   "close_month.month: %s has not ended in clinic %s", in->month,
                                   c->id);
        int rc = s_close_clinic(b, w, txn, &why, c, month, &n);
        if (rc)
            return ccm_worker_store_fail(call, rc);
    }
    Ccm__Billing__CloseReply cr = CCM__BILLING__CLOSE_REPLY__INIT;
    cr.claims = n.claims, cr.missed = n.missed, cr.conflicts = n.conflicts;
    cr.unchanged = n.unchanged;
    reply_t r = CCM__BILLING__REPLY__INIT;
    r.result_case = CCM__BILLING__REPLY__RESULT_CLOSED;
    r.closed = &cr;
    call->remember = true;
    return ccm_worker_reply_ok(call, &r.base);
}

/* The claim a request names: an id ("key#vN") or a key (its current version). */
static claim_t *s_claim(ccm_billing_t *b, MDB_txn *txn, const char *id_or_key)
{
    if (strchr(id_or_key, '#'))
        return (claim_t *)s_get(txn, b->claims, id_or_key, &ccm__billing__claim__descriptor);
    MDB_val v;
    if (ccm_store_get(txn, b->current, id_or_key, strlen(id_or_key) + 1, &v) != 0)
        return NULL;
    return (claim_t *)s_get(txn, b->claims, v.mv_data, &ccm__billing__claim__descriptor);
}

static int s_get_claim(ccm_billing_t *b, MDB_txn *txn, ccm_worker_call_t *call,
                       const Ccm__Billing__GetClaim *in)
{
    claim_t *cl = in->id[0] ? s_claim(b, txn, in->id) : NULL;
    if (!cl)
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "id",
                               "get_claim.id: no claim \"%s\"", in->id);
    reply_t r = CCM__BILLING__REPLY__INIT;
    r.result_case = CCM__BILLING__REPLY__RESULT_CLAIM;
    r.claim = cl;
    int rc = ccm_worker_reply_ok(call, &r.base);
    ccm__billing__claim__free_unpacked(cl, NULL);
    return rc;
}

static int s_ack(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                 const Ccm__Billing__AckClaim *in)
{
    if (in->status < CCM__BILLING__CLAIM_STATUS__SUBMITTED ||
        in->status > CCM__BILLING__CLAIM_STATUS__DENIED)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "status",
                               "ack_claim.status: must be SUBMITTED, ACCEPTED, PAID or DENIED");
    if (!strchr(in->id, '#'))
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "id",
                               "ack_claim.id: name the claim version acknowledged "
                               "(\"key#vN\")");
    claim_t *cl = s_claim(b, txn, in->id);
    if (!cl)
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "id",
                               "ack_claim.id: no claim \"%s\"", in->id);
    int rc;
    if (cl->status == CCM__BILLING__CLAIM_STATUS__REPLACED) {
        rc = ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__FAILED_PRECONDITION, "id",
                             "ack_claim.id: %s was replaced by a later version", in->id);
    } else {
        cl->status = in->status;
        cl->status_us = call->now_us;
        if (cl->status_note && cl->status_note != protobuf_c_empty_string)
            free(cl->status_note);
        cl->status_note = strdup(in->note);
        if (!cl->status_note)
            abort();
        cause_t why = {call->request_id, call->principal, call->now_us};
        rc = s_put(txn, b->claims, cl->id, &cl->base);
        if (rc == 0)
            rc = s_event(w, txn, &why, "claim.status", cl->key, &cl->base);
        if (rc == 0) {
            reply_t r = CCM__BILLING__REPLY__INIT;
            r.result_case = CCM__BILLING__REPLY__RESULT_CLAIM;
            r.claim = cl;
            call->remember = true;
            rc = ccm_worker_reply_ok(call, &r.base);
        } else {
            rc = ccm_worker_store_fail(call, rc);
        }
    }
    ccm__billing__claim__free_unpacked(cl, NULL);
    return rc;
}

/* Calls fn for each record of dbi whose string key starts with "clinic/" and whose
 * month (third key part) matches (any when month is ""). */
static int s_scan(MDB_txn *txn, MDB_dbi dbi, const char *clinic, const char *month,
                  int (*fn)(const char *key, MDB_val *v, void *arg), void *arg)
{
    char prefix[S_CLINIC_MAX + 2];
    snprintf(prefix, sizeof prefix, "%s/", clinic);
    size_t plen = strlen(prefix);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return CCM_EIO;
    MDB_val k = {plen, prefix}, v;
    int rc = 0;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0 && rc == 0;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        const char *key = k.mv_data;
        const char *m = strchr(key + plen, '/');
        if (month[0] && (!m || strncmp(m + 1, month, 7) != 0))
            continue;
        rc = fn(key, &v, arg);
    }
    mdb_cursor_close(cur);
    return rc;
}

typedef struct {
    ccm_billing_t *b;
    MDB_txn *txn;
    void **items;
    size_t n;
    const ProtobufCMessageDescriptor *desc;
    bool deref; /* value is a claim id to look up */
} collect_t;

static int s_collect(const char *key, MDB_val *v, void *arg)
{
    (void)key;
    collect_t *c = arg;
    ProtobufCMessage *m = c->deref
                              ? s_get(c->txn, c->b->claims, v->mv_data, c->desc)
                              : protobuf_c_message_unpack(c->desc, NULL, v->mv_size, v->mv_data);
    if (!m)
        return 0;
    void **a = realloc(c->items, (c->n + 1) * sizeof *a);
    if (!a)
        abort();
    a[c->n++] = m;
    c->items = a;
    return 0;
}

static void s_collect_free(collect_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        protobuf_c_message_free_unpacked(c->items[i], NULL);
    free(c->items);
}

static int s_list(ccm_billing_t *b, MDB_txn *txn, ccm_worker_call_t *call,
                  const Ccm__Billing__ListClaims *in)
{
    if (!s_clinic(b, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "list_claims.clinic: no clinic \"%s\" is configured", in->clinic);
    collect_t c = {b, txn, NULL, 0, &ccm__billing__claim__descriptor, true};
    int rc = s_scan(txn, b->current, in->clinic, in->month, s_collect, &c);
    if (rc) {
        s_collect_free(&c);
        return ccm_worker_store_fail(call, rc);
    }
    Ccm__Billing__ClaimList cl = CCM__BILLING__CLAIM_LIST__INIT;
    cl.claims = (claim_t **)c.items;
    cl.n_claims = c.n;
    reply_t r = CCM__BILLING__REPLY__INIT;
    r.result_case = CCM__BILLING__REPLY__RESULT_CLAIMS;
    r.claims = &cl;
    rc = ccm_worker_reply_ok(call, &r.base);
    s_collect_free(&c);
    return rc;
}

static int s_missed_list(ccm_billing_t *b, MDB_txn *txn, ccm_worker_call_t *call,
                         const Ccm__Billing__ListMissed *in)
{
    if (!s_clinic(b, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "list_missed.clinic: no clinic \"%s\" is configured", in->clinic);
    collect_t m = {b, txn, NULL, 0, &ccm__billing__missed__descriptor, false};
    collect_t x = {b, txn, NULL, 0, &ccm__billing__conflict__descriptor, false};
    int rc = s_scan(txn, b->missed, in->clinic, in->month, s_collect, &m);
    if (!rc)
        rc = s_scan(txn, b->conflicts, in->clinic, in->month, s_collect, &x);
    if (!rc) {
        Ccm__Billing__MissedList ml = CCM__BILLING__MISSED_LIST__INIT;
        ml.missed = (Ccm__Billing__Missed **)m.items;
        ml.n_missed = m.n;
        ml.conflicts = (Ccm__Billing__Conflict **)x.items;
        ml.n_conflicts = x.n;
        reply_t r = CCM__BILLING__REPLY__INIT;
        r.result_case = CCM__BILLING__REPLY__RESULT_MISSED;
        r.missed = &ml;
        rc = ccm_worker_reply_ok(call, &r.base);
    } else {
        rc = ccm_worker_store_fail(call, rc);
    }
    s_collect_free(&m);
    s_collect_free(&x);
    return rc;
}

/* Revenue by clinic and month from the current claims and missed months. */
static int s_report(ccm_billing_t *b, MDB_txn *txn, ccm_worker_call_t *call,
                    const Ccm__Billing__Report *in)
{
    if (in->clinic[0] && !s_clinic(b, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "report.clinic: no clinic \"%s\" is configured", in->clinic);
    if (in->month[0] && (strlen(in->month) != 7 || ccm_tz_parse_month(in->month, &(int32_t){0})))
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "month",
                               "report.month: must be YYYY-MM");
    Ccm__Billing__ReportRow rows[256], *rp[256];
    char months[256][8];
    Ccm__Billing__ReportRow__CodesEntry codes[256][16], *cp[256][16];
    char code_names[256][16][8];
    size_t nrows = 0;
    int rc = 0;
    for (size_t i = 0; i < ccm_clinics_count(b->clinics) && rc == 0; i++) {
        const clinic_t *c = ccm_clinics_at(b->clinics, i);
        if (in->clinic[0] && strcmp(in->clinic, c->id))
            continue;
        collect_t cl = {b, txn, NULL, 0, &ccm__billing__claim__descriptor, true};
        collect_t ms = {b, txn, NULL, 0, &ccm__billing__missed__descriptor, false};
        rc = s_scan(txn, b->current, c->id, in->month, s_collect, &cl);
        if (!rc)
            rc = s_scan(txn, b->missed, c->id, in->month, s_collect, &ms);
        /* rows per month, in the order months appear */
        for (int pass = 0; pass < 2 && rc == 0; pass++) {
            size_t n = pass ? ms.n : cl.n;
            for (size_t k = 0; k < n; k++) {
                const char *month = pass ? ((Ccm__Billing__Missed *)ms.items[k])->month
                                         : ((claim_t *)cl.items[k])->month;
                size_t r = 0;
                while (r < nrows &&
                       !(strcmp(rows[r].clinic, c->id) == 0 && strcmp(months[r], month) == 0))
                    r++;
                if (r == nrows) {
                    if (nrows == 256)
                        continue;
                    ccm__billing__report_row__init(&rows[r]);
                    rows[r].clinic = (char *)c->id;
                    snprintf(months[r], sizeof months[r], "%s", month);
                    rows[r].month = months[r];
                    rows[r].codes = cp[r];
                    rp[r] = &rows[r];
                    nrows++;
                }
                if (pass) {
                    rows[r].missed++;
                    /* Enrolled (consent in force) but not billed: every reason but
                     * those that mean the patient is not in the program. */
                    Ccm__Billing__Missed *mi = ms.items[k];
                    static const char *const not_enrolled[] = {
                        "NO_CONSENT", "CONSENT_REVOKED", "NOT_ELIGIBLE_CONDITIONS",
                        "NOT_PART_B_FFS"};
                    bool enrolled = true;
                    for (size_t q = 0; q < 4; q++)
                        enrolled = enrolled && strcmp(mi->reason, not_enrolled[q]) != 0;
                    rows[r].enrolled += enrolled;
                    continue;
                }
                claim_t *x = cl.items[k];
                rows[r].expected_cents += x->amount_cents;
                rows[r].enrolled++;
                rows[r].reached++;
                for (size_t l = 0; l < x->n_lines; l++) {
                    size_t q = 0;
                    while (q < rows[r].n_codes && strcmp(code_names[r][q], x->lines[l]->code))
                        q++;
                    if (q == rows[r].n_codes) {
                        if (q == 16)
                            continue;
                        ccm__billing__report_row__codes_entry__init(&codes[r][q]);
                        snprintf(code_names[r][q], sizeof code_names[r][q], "%s",
                                 x->lines[l]->code);
                        codes[r][q].key = code_names[r][q];
                        cp[r][q] = &codes[r][q];
                        rows[r].n_codes++;
                    }
                    codes[r][q].value += x->lines[l]->units;
                }
            }
        }
        s_collect_free(&cl);
        s_collect_free(&ms);
    }
    if (rc)
        return ccm_worker_store_fail(call, rc);
    for (size_t r = 0; r < nrows; r++)
        rows[r].reached_share =
            rows[r].enrolled ? (double)rows[r].reached / (double)rows[r].enrolled : 0.0;
    Ccm__Billing__ReportReply rr = CCM__BILLING__REPORT_REPLY__INIT;
    rr.rows = rp;
    rr.n_rows = nrows;
    reply_t r = CCM__BILLING__REPLY__INIT;
    r.result_case = CCM__BILLING__REPLY__RESULT_REPORT;
    r.report = &rr;
    return ccm_worker_reply_ok(call, &r.base);
}

int ccm_billing_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx)
{
    ccm_billing_t *b = ctx;
    Ccm__Billing__Request *req = ccm__billing__request__unpack(NULL, call->len, call->body);
    if (!req)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "body",
                               "body: not a valid billing request");
    bool mutation = req->op_case == CCM__BILLING__REQUEST__OP_CLOSE_MONTH ||
                    req->op_case == CCM__BILLING__REQUEST__OP_ACK_CLAIM;
    int rc;
    if (mutation && (rc = ccm_worker_require_request_id(call)) != 0) {
        ccm__billing__request__free_unpacked(req, NULL);
        return rc;
    }
    switch (req->op_case) {
    case CCM__BILLING__REQUEST__OP_CLOSE_MONTH:
        rc = s_close(b, w, txn, call, req->close_month);
        break;
    case CCM__BILLING__REQUEST__OP_GET_CLAIM: rc = s_get_claim(b, txn, call, req->get_claim); break;
    case CCM__BILLING__REQUEST__OP_LIST_CLAIMS: rc = s_list(b, txn, call, req->list_claims); break;
    case CCM__BILLING__REQUEST__OP_ACK_CLAIM: rc = s_ack(b, w, txn, call, req->ack_claim); break;
    case CCM__BILLING__REQUEST__OP_LIST_MISSED:
        rc = s_missed_list(b, txn, call, req->list_missed);
        break;
    case CCM__BILLING__REQUEST__OP_REPORT: rc = s_report(b, txn, call, req->report); break;
    default:
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "op",
                             "op: the request names no billing operation");
        break;
    }
    ccm__billing__request__free_unpacked(req, NULL);
    return rc;
}
