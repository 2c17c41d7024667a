/* billing — handlers for service "billing".
 *
 * Invariants:
 * - A claim is keyed by clinic/mrn/month/program. A patient-month is judged for
 *   one program and one practitioner (lib/rules' ccm_rules_month): when a later
 *   judgement picks another program, the claim made under the old program's key is
 *   withdrawn and the new program's claim is made; never two live claims for one
 *   patient-month.
 * - A claim version is never rewritten in what it bills. A change of billable
 *   content (lines, units, amounts, diagnoses, NPIs, dates of service) makes a new
 *   version that supersedes the current one (REPLACED; a PAID version keeps PAID and
 *   the new one is an adjustment), announced as claim.ready. A change of evidence
 *   only (entry ids, minutes, reasons, cause) updates the current version in place,
 *   with no event.
 * - A live claim (READY, SUBMITTED, ACCEPTED, PAID) whose month stops being billable
 *   becomes WITHDRAW_NEEDED with the reason, announced as claim.withdraw; the month
 *   is then listed once, as missed. A month past the timely filing limit gets no new
 *   claim, and an existing claim for it is left as it is.
 * - One biller per MBI-month across the network: the first clinic to settle holds
 *   it (holders), the others get a conflict that names only the holder's clinic.
 * - Every patient-month settled without a claim records why (revenue missed).
 * - Followed events never settle in place: they mark the closed months they can
 *   change dirty (in the same transaction), and a periodic task, or the next
 *   close_month, settles them. Month figures come from services/common/month.c, the
 *   same code timetrack answers with. */
#include "billing.h"

#include <inttypes.h>
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
#define S_CAUSE_MAX 256
/* Closed months looked at again when late data arrives (months back): twice the
 * timely filing limit, so a withdrawal is still found after the limit passed. */
#define S_LATE_MONTHS 24
/* Auto-close check interval. */
#define S_CLOSE_CHECK_MS 60000
/* Dirty months are settled this often: late data shows in claims within a
 * fraction of a second, and a burst of events for one patient costs one settlement. */
#define S_SETTLE_MS 300
/* Dirty months settled per periodic run at most (keeps each write transaction short;
 * the rest go in the next run). */
#define S_SETTLE_BATCH 256
#define S_TIMELY_FILING_MAX 120
#define S_RULES_VERSION "ccm lib/rules 0.2 (month facts; fees deploy/fees)"

typedef Ccm__Billing__Claim claim_t;
typedef Ccm__Billing__Reply reply_t;

const char *const ccm_billing_dbs[] = {
    "patients", "people",  "careplans", "entries", "by_patient", "by_performer", "claims",
    "current",  "holders", "missed",    "closed",  "conflicts",  "dirty",        NULL};

typedef ccm_clinic_info_t clinic_t;

struct ccm_billing {
    ccm_clinics_t *clinics; /* owned */
    ccm_fees_t *fees;
    ccm_rules_config_t cfg;
    int close_after_days;
    ccm_month_db_t db;
    MDB_dbi claims;    /* claim id -> Claim */
    MDB_dbi current;   /* key -> current claim id */
    MDB_dbi holders;   /* mbi month(u32) -> key of the clinic billing that MBI-month */
    MDB_dbi missed;    /* key -> Missed */
    MDB_dbi closed;    /* clinic month(u32) -> closed_us (u64) */
    MDB_dbi conflicts; /* key -> Conflict */
    MDB_dbi dirty;     /* clinic mrn month(u32) -> cause: closed months to settle again */
};

/* Who causes a change: a request, or a followed event / the clock; `cause` is what
 * Evidence.cause records. */
typedef struct {
    const char *request_id;
    const char *principal;
    int64_t now_us;
    const char *cause;
} cause_t;

typedef struct {
    uint32_t claims, missed, conflicts, unchanged, withdrawn;
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

int ccm_billing_set_timely_filing_months(ccm_billing_t *b, int months)
{
    if (months < 0 || months > S_TIMELY_FILING_MAX)
        return CCM_EINVAL;
    b->cfg.timely_filing_months = months;
    return 0;
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

/* Deletes a string-keyed record; absent is fine. */
static int s_del(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
    int rc = ccm_store_del(txn, dbi, key, strlen(key) + 1);
    return rc == CCM_ENOTFOUND ? 0 : rc;
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

/* Replaces an unpacked message's string field with a copy of v. */
static void s_set_str(char **field, const char *v)
{
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = strdup(v);
    if (!*field)
        abort();
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

/* "clinic/mrn/YYYY-MM/PROGRAM" */
static void s_claim_key(char key[S_KEY_MAX], const char *clinic, const char *mrn,
                        const char *month_text, ccm_program_t program)
{
    snprintf(key, S_KEY_MAX, "%s/%s/%s/%s", clinic, mrn, month_text,
             ccm_rules_program_name(program));
}

/* The current version of a key's claim, or NULL; free with
 * ccm__billing__claim__free_unpacked(). */
static claim_t *s_current(ccm_billing_t *b, MDB_txn *txn, const char *key)
{
    MDB_val v;
    if (ccm_store_get(txn, b->current, key, strlen(key) + 1, &v) != 0)
        return NULL;
    return (claim_t *)s_get(txn, b->claims, v.mv_data, &ccm__billing__claim__descriptor);
}

/* Sent, or to be sent, to a billing system: a month that stops being billable
 * must be withdrawn there. */
static bool s_live(const claim_t *c)
{
    return c->status >= CCM__BILLING__CLAIM_STATUS__READY &&
           c->status <= CCM__BILLING__CLAIM_STATUS__PAID;
}

/* ---- holders: one biller per MBI-month ----
 * Rows are mbi NUL month(u32) -> key. Stores written when the rule was one biller
 * per MBI-month-program also hold rows mbi NUL month program(u32): the (mbi,
 * month) prefix finds both, and setting a holder removes every older row. */

static void s_holder_prefix(ccm_key_t *k, const char *mbi, int32_t month)
{
    ccm_key_init(k);
    ccm_key_str(k, mbi);
    ccm_key_u32(k, (uint32_t)month);
}

/* Finds the first row of (mbi, month) — naming `only_key` when that is not NULL —
 * and copies its key into *row and its value into holder (may be NULL).
 * 0, CCM_ENOTFOUND, CCM_EIO. */
static int s_holder_find(ccm_billing_t *b, MDB_txn *txn, const char *mbi, int32_t month,
                         const char *only_key, ccm_key_t *row, char holder[S_KEY_MAX])
{
    ccm_key_t pk;
    s_holder_prefix(&pk, mbi, month);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, b->holders, &cur) != 0)
        return CCM_EIO;
    MDB_val k = {pk.len, pk.buf}, v;
    int rc = CCM_ENOTFOUND;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < pk.len || memcmp(k.mv_data, pk.buf, pk.len) != 0 ||
            k.mv_size > sizeof row->buf)
            break;
        if (only_key &&
            (v.mv_size != strlen(only_key) + 1 || memcmp(v.mv_data, only_key, v.mv_size)))
            continue;
        ccm_key_init(row);
        memcpy(row->buf, k.mv_data, k.mv_size);
        row->len = k.mv_size;
        if (holder)
            snprintf(holder, S_KEY_MAX, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
        rc = 0;
        break;
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Removes the rows of (mbi, month): all of them, or only those naming only_key. */
static int s_holder_drop(ccm_billing_t *b, MDB_txn *txn, const char *mbi, int32_t month,
                         const char *only_key)
{
    ccm_key_t row;
    int rc;
    while ((rc = s_holder_find(b, txn, mbi, month, only_key, &row, NULL)) == 0)
        if ((rc = ccm_store_del(txn, b->holders, row.buf, row.len)) != 0)
            return rc;
    return rc == CCM_ENOTFOUND ? 0 : rc;
}

static int s_holder_set(ccm_billing_t *b, MDB_txn *txn, const char *mbi, int32_t month,
                        const char *key)
{
    int rc = s_holder_drop(b, txn, mbi, month, NULL);
    ccm_key_t k;
    s_holder_prefix(&k, mbi, month);
    return rc ? rc : ccm_store_put(txn, b->holders, k.buf, k.len, key, strlen(key) + 1, 0);
}

/* ---- settling one patient-month ---- */

/* What a claim line stands for (Line.role and Line.minutes). These are CMS
 * numbers that belong in lib/rules, which does not offer them yet: ccm_line_t
 * would need `int minutes` (the base code's threshold, or units x the add-on's
 * increment; 0 for G0506 and APCM) and `bool practitioner` (billed on the billing
 * practitioner's own time). Until then they stay here, used for nothing but
 * those two informational fields: no billing decision depends on them. */
static bool s_practitioner_code(ccm_code_t c)
{
    return c == CCM_CODE_99491 || c == CCM_CODE_99437 || c == CCM_CODE_99424 || c == CCM_CODE_99425;
}

/* Minutes one claim line stands for: the base code's threshold, or each add-on
 * unit's increment. */
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

/* A line's date of service; claims written before lines carried one use the claim's. */
static const char *s_line_dos(const claim_t *c, const Ccm__Billing__Line *l)
{
    return l->dos[0] ? l->dos : c->dos;
}

static bool s_same_strings(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]))
            return false;
    return true;
}

/* Two claims bill the same: what a billing system sends (lines, units, amounts,
 * diagnoses, NPIs, dates of service, place of service). */
static bool s_same_billable(const claim_t *a, const claim_t *b)
{
    if (strcmp(a->dos, b->dos) || a->amount_cents != b->amount_cents || a->n_lines != b->n_lines ||
        a->fee_year != b->fee_year || strcmp(a->billing_npi, b->billing_npi) ||
        strcmp(a->rendering_npi, b->rendering_npi) || strcmp(a->mbi, b->mbi) ||
        strcmp(a->place_of_service, b->place_of_service) ||
        !s_same_strings(a->diagnoses, a->n_diagnoses, b->diagnoses, b->n_diagnoses))
        return false;
    for (size_t i = 0; i < a->n_lines; i++) {
        const Ccm__Billing__Line *x = a->lines[i], *y = b->lines[i];
        if (strcmp(x->code, y->code) || x->units != y->units || x->unit_cents != y->unit_cents ||
            x->amount_cents != y->amount_cents || strcmp(s_line_dos(a, x), s_line_dos(b, y)))
            return false;
    }
    return true;
}

/* Two claims with the same billable content also carry the same evidence. */
static bool s_same_evidence(const claim_t *a, const claim_t *b)
{
    if (a->staff_minutes != b->staff_minutes ||
        a->practitioner_minutes != b->practitioner_minutes || a->fee_stale != b->fee_stale)
        return false;
    for (size_t i = 0; i < a->n_lines; i++)
        if (a->lines[i]->minutes != b->lines[i]->minutes ||
            strcmp(a->lines[i]->role, b->lines[i]->role) ||
            strcmp(a->lines[i]->dos, b->lines[i]->dos))
            return false;
    const Ccm__Billing__Evidence *x = a->evidence, *y = b->evidence;
    if (!x || !y)
        return x == y;
    return strcmp(x->consent_id, y->consent_id) == 0 &&
           x->care_plan_version == y->care_plan_version &&
           strcmp(x->rules_version, y->rules_version) == 0 && strcmp(x->cause, y->cause) == 0 &&
           s_same_strings(x->time_entry_ids, x->n_time_entry_ids, y->time_entry_ids,
                          y->n_time_entry_ids) &&
           s_same_strings(x->reasons, x->n_reasons, y->reasons, y->n_reasons) &&
           s_same_strings(x->visit_dates, x->n_visit_dates, y->visit_dates, y->n_visit_dates);
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

/* The live current claim of `key` stops being billable: it becomes WITHDRAW_NEEDED
 * with `reason`, announced as claim.withdraw, and gives up its hold on the
 * MBI-month. Nothing to do when there is no live current claim (none, already
 * withdrawn, or DENIED). */
static int s_withdraw(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const cause_t *why,
                      const char *key, int32_t month, const char *reason, counts_t *n)
{
    claim_t *cl = s_current(b, txn, key);
    if (!cl || !s_live(cl)) {
        if (cl)
            ccm__billing__claim__free_unpacked(cl, NULL);
        return 0;
    }
    int was = cl->status;
    cl->status = CCM__BILLING__CLAIM_STATUS__WITHDRAW_NEEDED;
    cl->status_us = why->now_us;
    s_set_str(&cl->withdraw_reason, reason);
    if (cl->evidence)
        s_set_str(&cl->evidence->cause, why->cause);
    int rc = s_put(txn, b->claims, cl->id, &cl->base);
    if (rc == 0)
        rc = s_event(w, txn, why, "claim.withdraw", key, &cl->base);
    if (rc == 0)
        rc = s_holder_drop(b, txn, cl->mbi, month, key);
    if (rc == 0) {
        n->withdrawn++;
        ccm_warn("event=claim_withdraw id=%s was=%s reason=\"%s\" cause=\"%s\"", cl->id,
                 protobuf_c_enum_descriptor_get_value(&ccm__billing__claim_status__descriptor, was)
                     ->name,
                 reason, why->cause);
    }
    ccm__billing__claim__free_unpacked(cl, NULL);
    return rc;
}

/* No claim for the month: the reason is recorded as missed (claim.missed when it
 * changed) and a live claim made earlier is withdrawn — unless the month is only
 * past the timely filing limit, where the claim filed in time stands. */
static int s_settle_missed(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const cause_t *why,
                           const clinic_t *c, const char *mrn, const char *key,
                           const ccm_month_t *m, counts_t *n)
{
    if (m->d.reason == CCM_REASON_TIMELY_FILING) {
        claim_t *cur = s_current(b, txn, key);
        bool filed = cur && s_live(cur);
        if (cur)
            ccm__billing__claim__free_unpacked(cur, NULL);
        if (filed) {
            n->unchanged++;
            return 0;
        }
    }
    char month_text[8], detail[96], reason[160];
    ccm_month_text(m->month, month_text);
    const char *name = ccm_rules_reason_name(m->d.reason);
    if (m->d.reason == CCM_REASON_EXCLUDED_SERVICE)
        snprintf(detail, sizeof detail, "EXCLUDED_SERVICE(%s)",
                 ccm_rules_code_name(m->d.reason_code));
    else if (m->d.reason == CCM_REASON_BELOW_THRESHOLD)
        snprintf(detail, sizeof detail, "%d minutes", m->d.total_minutes);
    else
        snprintf(detail, sizeof detail, "%s", name);
    if (strcmp(detail, name) == 0 || strncmp(detail, name, strlen(name)) == 0)
        snprintf(reason, sizeof reason, "%s", detail);
    else
        snprintf(reason, sizeof reason, "%s (%s)", name, detail);
    Ccm__Billing__Missed ms = CCM__BILLING__MISSED__INIT;
    ms.key = (char *)key, ms.clinic = (char *)c->id, ms.mrn = (char *)mrn;
    ms.month = month_text, ms.program = (char *)ccm_rules_program_name(m->program);
    ms.reason = (char *)name;
    ms.detail = detail;
    ms.total_minutes = m->d.total_minutes;
    ms.closed_us = why->now_us;
    Ccm__Billing__Missed *old =
        (Ccm__Billing__Missed *)s_get(txn, b->missed, key, &ccm__billing__missed__descriptor);
    bool same = old && strcmp(old->reason, ms.reason) == 0 && strcmp(old->detail, detail) == 0;
    if (old)
        ccm__billing__missed__free_unpacked(old, NULL);
    int rc = 0;
    if (same) {
        n->unchanged++;
    } else {
        rc = s_put(txn, b->missed, key, &ms.base);
        if (rc == 0)
            rc = s_event(w, txn, why, "claim.missed", key, &ms.base);
        n->missed++;
    }
    if (rc == 0)
        rc = s_del(txn, b->conflicts, key); /* not billable: nobody to conflict with */
    return rc ? rc : s_withdraw(b, w, txn, why, key, m->month, reason, n);
}

/* lib/rules dropped lines of the month for the timely filing limit. */
static bool s_past_filing_limit(const ccm_decision_t *d)
{
    for (int i = 0; i < d->n_evidence; i++)
        if (d->evidence[i].kind == CCM_EV_TIMELY_FILING)
            return true;
    return false;
}

/* The claim lines, evidence and figures of a billable month (borrowing from m). */
typedef struct {
    claim_t cl;
    Ccm__Billing__Line lines[CCM_RULES_MAX_LINES], *lp[CCM_RULES_MAX_LINES];
    char line_dos[CCM_RULES_MAX_LINES][11];
    char *visit_dates[CCM_RULES_MAX_LINES];
    char dos[11];
    char month_text[8];
    Ccm__Billing__Evidence ev;
    char reasons[CCM_RULES_MAX_EVIDENCE][200];
    char *rp[CCM_RULES_MAX_EVIDENCE];
} draft_t;

static void s_draft(draft_t *x, const clinic_t *c, const char *mrn, const char *key, ccm_month_t *m,
                    const cause_t *why)
{
    claim_t init = CCM__BILLING__CLAIM__INIT;
    Ccm__Billing__Evidence einit = CCM__BILLING__EVIDENCE__INIT;
    x->cl = init;
    x->ev = einit;
    size_t nvisits = 0;
    for (int i = 0; i < m->d.n_lines; i++) {
        const ccm_line_t *l = &m->d.lines[i];
        Ccm__Billing__Line *o = &x->lines[i];
        ccm__billing__line__init(o);
        o->code = (char *)ccm_rules_code_name(l->code);
        o->units = l->units;
        o->unit_cents = l->unit_cents;
        o->amount_cents = l->unit_cents > 0 ? l->unit_cents * l->units : 0;
        s_day_text(l->dos, x->line_dos[i]);
        o->dos = x->line_dos[i];
        if (ccm_rules_code_flags(l->code) & CCM_CODEF_G0506) {
            o->role = ""; /* no time: the initiating visit's assessment */
            x->visit_dates[nvisits++] = x->line_dos[i];
        } else {
            o->minutes = s_line_minutes(l->code, l->units);
            o->role = s_practitioner_code(l->code) ? "practitioner" : "staff";
        }
        x->lp[i] = o;
    }
    s_day_text(m->d.dos, x->dos);
    ccm_month_text(m->month, x->month_text);
    x->ev.consent_id = m->consent_id;
    x->ev.care_plan_version = m->care_plan_version;
    x->ev.time_entry_ids = m->entry_ids;
    x->ev.n_time_entry_ids = m->n_entry_ids;
    x->ev.rules_version = S_RULES_VERSION;
    x->ev.cause = (char *)why->cause;
    x->ev.visit_dates = x->visit_dates;
    x->ev.n_visit_dates = nvisits;
    for (int i = 0; i < m->d.n_evidence; i++) {
        char text[180];
        ccm_rules_evidence_format(&m->d.evidence[i], text, sizeof text);
        snprintf(x->reasons[i], sizeof x->reasons[i], "[%s] %s",
                 ccm_rules_evidence_rule(m->d.evidence[i].kind), text);
        x->rp[i] = x->reasons[i];
    }
    x->ev.reasons = x->rp;
    x->ev.n_reasons = (size_t)m->d.n_evidence;
    claim_t *cl = &x->cl;
    cl->key = (char *)key;
    cl->clinic = (char *)c->id;
    cl->mrn = (char *)mrn;
    cl->mbi = m->mbi;
    cl->month = x->month_text;
    cl->program = (char *)ccm_rules_program_name(m->program);
    cl->dos = x->dos;
    cl->place_of_service = (char *)s_pos(c);
    cl->billing_npi = m->billing_npi;
    cl->rendering_npi = m->billing_npi;
    cl->diagnoses = m->diagnoses;
    cl->n_diagnoses = m->n_diagnoses;
    cl->lines = x->lp;
    cl->n_lines = (size_t)m->d.n_lines;
    cl->amount_cents = m->d.amount_cents;
    cl->fee_year = m->d.fee_year;
    cl->fee_stale = m->d.fee_stale;
    cl->staff_minutes = m->d.staff_minutes;
    cl->practitioner_minutes = m->d.practitioner_minutes;
    cl->evidence = &x->ev;
    cl->status = CCM__BILLING__CLAIM_STATUS__READY;
    cl->created_us = cl->status_us = why->now_us;
}

/* A billable month: the claim is made, superseded by a new version, updated in
 * place (evidence only), left unchanged — or refused because another clinic
 * bills the MBI-month. */
static int s_settle_claim(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const cause_t *why,
                          const clinic_t *c, const char *mrn, const char *key, ccm_month_t *m,
                          counts_t *n)
{
    char holder[S_KEY_MAX], month_text[8];
    ccm_month_text(m->month, month_text);
    ccm_key_t row;
    int rc = s_holder_find(b, txn, m->mbi, m->month, NULL, &row, holder);
    if (rc != 0 && rc != CCM_ENOTFOUND)
        return rc;
    if (rc == 0 && strcmp(holder, key) != 0) {
        rc = s_del(txn, b->missed, key); /* listed once: as the conflict */
        return rc ? rc
                  : s_conflict(b, w, txn, why, key, c->id, mrn, month_text,
                               ccm_rules_program_name(m->program), holder, n);
    }

    draft_t *x = malloc(sizeof *x);
    if (!x)
        abort();
    s_draft(x, c, mrn, key, m, why);
    claim_t *cl = &x->cl;
    char id[S_ID_MAX], old_id[S_ID_MAX] = "";
    claim_t *old = s_current(b, txn, key);
    rc = 0;
    /* Past the timely filing limit (some lines dropped for it), a claim filed in time
     * is not refiled: whatever changed can no longer be billed. */
    if (old && s_live(old) && s_past_filing_limit(&m->d) && !s_same_billable(old, cl)) {
        n->unchanged++;
        ccm__billing__claim__free_unpacked(old, NULL);
        free(x);
        return 0;
    }
    if (old && old->status != CCM__BILLING__CLAIM_STATUS__WITHDRAW_NEEDED &&
        s_same_billable(old, cl)) {
        n->unchanged++;
        if (!s_same_evidence(old, cl)) {
            /* The same claim with other evidence: the version is updated where it is. */
            cl->id = old->id, cl->version = old->version, cl->supersedes = old->supersedes;
            cl->status = old->status, cl->status_us = old->status_us;
            cl->status_note = old->status_note, cl->created_us = old->created_us;
            cl->adjustment = old->adjustment, cl->withdraw_reason = old->withdraw_reason;
            rc = s_put(txn, b->claims, old->id, &cl->base);
        }
        ccm__billing__claim__free_unpacked(old, NULL);
        free(x);
        return rc;
    }
    if (old)
        snprintf(old_id, sizeof old_id, "%s", old->id);
    cl->version = old ? old->version + 1 : 1;
    cl->supersedes = old_id;
    /* A paid claim is corrected by an adjustment and keeps its status: the payer's
     * record of the payment stands until the adjustment is processed. */
    cl->adjustment = old && (old->status == CCM__BILLING__CLAIM_STATUS__PAID || old->adjustment);
    snprintf(id, sizeof id, "%s#v%u", key, cl->version);
    cl->id = id;
    if (old && old->status != CCM__BILLING__CLAIM_STATUS__PAID) {
        old->status = CCM__BILLING__CLAIM_STATUS__REPLACED;
        old->status_us = why->now_us;
        rc = s_put(txn, b->claims, old_id, &old->base);
    }
    if (old)
        ccm__billing__claim__free_unpacked(old, NULL);
    if (rc == 0)
        rc = s_put(txn, b->claims, id, &cl->base);
    if (rc == 0)
        rc = ccm_store_put(txn, b->current, key, strlen(key) + 1, id, strlen(id) + 1, 0);
    if (rc == 0)
        rc = s_holder_set(b, txn, m->mbi, m->month, key);
    if (rc == 0)
        rc = s_del(txn, b->missed, key);
    if (rc == 0)
        rc = s_del(txn, b->conflicts, key);
    if (rc == 0)
        rc = s_event(w, txn, why, "claim.ready", key, &cl->base);
    if (rc == 0) {
        n->claims++;
        ccm_info("event=claim_ready id=%s amount_cents=%lld lines=%zu adjustment=%d cause=\"%s\"",
                 id, (long long)cl->amount_cents, cl->n_lines, (int)cl->adjustment, why->cause);
    }
    free(x);
    return rc;
}

/* Settles one patient-month: claim (new, superseded, updated or unchanged),
 * withdrawal, missed, or conflict. A month whose stored facts lib/rules refuses is
 * left as it is (month.c logged why). */
static int s_settle(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const cause_t *why,
                    const clinic_t *c, const char *mrn, int32_t month, counts_t *n)
{
    ccm_month_t m;
    memset(&m, 0, sizeof m);
    ccm_month_clinic_t mc = {c->id, c->tz, c->type};
    const int32_t filing_day = ccm_tz_local_day(c->tz, why->now_us / 1000000);
    int rc = ccm_month_judge(txn, &b->db, &b->cfg, b->fees, &mc, mrn, month, filing_day, &m);
    if (rc == CCM_ENOTFOUND || rc == CCM_EINVAL) {
        if (rc == CCM_EINVAL)
            ccm_warn("event=month_not_settled clinic=%s mrn=%s month=%d cause=\"%s\"", c->id, mrn,
                     (int)month, why->cause);
        ccm_month_clear(&m);
        return 0;
    }
    if (rc != 0) {
        ccm_month_clear(&m);
        return rc;
    }
    char month_text[8], key[S_KEY_MAX];
    ccm_month_text(month, month_text);
    s_claim_key(key, c->id, mrn, month_text, m.program);
    /* One program per patient-month: what was settled under another program no
     * longer applies, and a claim made under it is withdrawn. */
    for (int p = CCM_PROGRAM_CCM; p <= CCM_PROGRAM_APCM && rc == 0; p++) {
        if (p == (int)m.program)
            continue;
        char other[S_KEY_MAX], reason[64];
        s_claim_key(other, c->id, mrn, month_text, (ccm_program_t)p);
        snprintf(reason, sizeof reason, "PROGRAM_CHANGED (the month is judged for %s)",
                 ccm_rules_program_name(m.program));
        rc = s_del(txn, b->missed, other);
        if (rc == 0)
            rc = s_del(txn, b->conflicts, other);
        if (rc == 0)
            rc = s_withdraw(b, w, txn, why, other, month, reason, n);
        if (rc == 0 && m.mbi[0])
            rc = s_holder_drop(b, txn, m.mbi, month, other);
    }
    if (rc == 0)
        rc = m.d.claim ? s_settle_claim(b, w, txn, why, c, mrn, key, &m, n)
                       : s_settle_missed(b, w, txn, why, c, mrn, key, &m, n);
    ccm_month_clear(&m);
    return rc;
}

/* ---- dirty months: late data, settled later ---- */

static void s_dirty_key(ccm_key_t *k, const char *clinic, const char *mrn, int32_t month)
{
    ccm_key_init(k);
    ccm_key_str(k, clinic);
    ccm_key_str(k, mrn);
    ccm_key_u32(k, (uint32_t)month);
}

/* Marks the closed months of (clinic, mrn) from `from` to `to` (month indexes,
 * clipped to the last S_LATE_MONTHS before now) to be settled again for `cause`. */
static int s_mark_dirty(ccm_billing_t *b, MDB_txn *txn, const clinic_t *c, const char *mrn,
                        int32_t from, int32_t to, int64_t now_us, const char *cause)
{
    const int32_t now_month = ccm_month_of(c->tz, now_us);
    if (from < now_month - S_LATE_MONTHS)
        from = now_month - S_LATE_MONTHS;
    if (to > now_month)
        to = now_month;
    for (int32_t month = from; month <= to; month++) {
        if (!s_is_closed(b, txn, c->id, month))
            continue;
        ccm_key_t k;
        s_dirty_key(&k, c->id, mrn, month);
        if (k.err)
            return k.err;
        int rc = ccm_store_put(txn, b->dirty, k.buf, k.len, cause, strlen(cause) + 1, 0);
        if (rc)
            return rc;
    }
    return 0;
}

/* "<producer> seq <n> <type> request <id>" */
static void s_event_cause(const Ccm__Envelope *ev, char out[S_CAUSE_MAX])
{
    snprintf(out, S_CAUSE_MAX, "%s seq %" PRIu64 " %s request %s", ev->producer, ev->seq, ev->type,
             ev->request_id);
}

typedef struct {
    char *clinic, *mrn, *cause;
    int32_t month;
    ccm_key_t key;
} dirty_t;

/* Settles dirty months (of one clinic, or of all when clinic is NULL), at most max
 * of them (0 = all), each with the cause that marked it. A month is unmarked as it
 * is settled. Store errors are returned (the run is rolled back and tried again). */
static int s_settle_dirty(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, int64_t now_us,
                          const char *clinic, size_t max, counts_t *n)
{
    ccm_key_t prefix;
    ccm_key_init(&prefix);
    if (clinic)
        ccm_key_str(&prefix, clinic);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, b->dirty, &cur) != 0)
        return CCM_EIO;
    dirty_t *rows = NULL;
    size_t nrows = 0, cap = 0;
    MDB_val k = {prefix.len, prefix.buf}, v;
    int r = prefix.len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                       : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; r == 0 && (max == 0 || nrows < max); r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix.len || memcmp(k.mv_data, prefix.buf, prefix.len) != 0)
            break;
        const char *kc = k.mv_data, *end = kc + k.mv_size;
        const char *km = memchr(kc, '\0', k.mv_size);
        const char *kz = km ? memchr(km + 1, '\0', (size_t)(end - km - 1)) : NULL;
        if (!kz || end - kz != 5 || v.mv_size == 0 ||
            ((const char *)v.mv_data)[v.mv_size - 1] != '\0') {
            ccm_error("event=dirty_row_malformed size=%zu", k.mv_size);
            continue; /* left in place: never settled, never in the way */
        }
        if (nrows == cap) {
            cap = cap ? cap * 2 : 16;
            dirty_t *a = realloc(rows, cap * sizeof *a);
            if (!a)
                abort();
            rows = a;
        }
        dirty_t *d = &rows[nrows++];
        d->clinic = strdup(kc);
        d->mrn = strdup(km + 1);
        d->cause = strdup(v.mv_data);
        if (!d->clinic || !d->mrn || !d->cause)
            abort();
        d->month = (int32_t)ccm_be_get_u32((const uint8_t *)kz + 1);
        ccm_key_init(&d->key);
        memcpy(d->key.buf, k.mv_data, k.mv_size);
        d->key.len = k.mv_size;
    }
    mdb_cursor_close(cur);
    int rc = 0;
    for (size_t i = 0; i < nrows && rc == 0; i++) {
        dirty_t *d = &rows[i];
        rc = ccm_store_del(txn, b->dirty, d->key.buf, d->key.len);
        const clinic_t *c = s_clinic(b, d->clinic);
        if (rc == 0 && c) {
            cause_t why = {"", "billing", now_us, d->cause};
            rc = s_settle(b, w, txn, &why, c, d->mrn, d->month, n);
        }
    }
    for (size_t i = 0; i < nrows; i++) {
        free(rows[i].clinic);
        free(rows[i].mrn);
        free(rows[i].cause);
    }
    free(rows);
    return rc;
}

/* Periodic: settles what late data marked. */
static int s_settle_tick(ccm_worker_t *w, MDB_txn *txn, int64_t now_us, void *ctx)
{
    counts_t n = {0, 0, 0, 0, 0};
    return s_settle_dirty(ctx, w, txn, now_us, NULL, S_SETTLE_BATCH, &n);
}

/* ---- closing a month ---- */

/* Settles every patient of clinic c for month and marks it closed; the clinic's
 * dirty months are settled first, so a close sees every earlier month current. */
static int s_close_clinic(ccm_billing_t *b, ccm_worker_t *w, MDB_txn *txn, const cause_t *why,
                          const clinic_t *c, int32_t month, counts_t *n)
{
    counts_t late = {0, 0, 0, 0, 0};
    int rc = s_settle_dirty(b, w, txn, why->now_us, c->id, 0, &late);
    if (rc)
        return rc;
    ccm_key_t ck;
    s_closed_key(&ck, c->id, month);
    uint8_t at[8];
    ccm_be_put_u64(at, (uint64_t)why->now_us);
    rc = ccm_store_put(txn, b->closed, ck.buf, ck.len, at, 8, 0);
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

/* ---- followed streams ---- */

static int s_on_enrollment(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    ccm_billing_t *b = ctx;
    (void)w;
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
    const clinic_t *c = s_clinic(b, p->clinic);
    if (c) {
        /* Only the months that end after the change takes effect can change. */
        int32_t from =
            p->change_effective_us ? ccm_month_of(c->tz, p->change_effective_us) : INT32_MIN / 2;
        char cause[S_CAUSE_MAX];
        s_event_cause(ev, cause);
        rc = s_mark_dirty(b, txn, c, p->mrn, from, INT32_MAX / 2, ev->time_us, cause);
    }
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

static int s_on_careplan(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    ccm_billing_t *b = ctx;
    (void)w;
    int rc = ccm_month_on_careplan(txn, &b->db, ev);
    if (rc)
        return rc;
    /* key "clinic/mrn/PROGRAM" */
    char clinic[S_CLINIC_MAX + 1], mrn[80], cause[S_CAUSE_MAX];
    if (sscanf(ev->key, "%32[^/]/%79[^/]", clinic, mrn) != 2)
        return 0;
    const clinic_t *c = s_clinic(b, clinic);
    if (!c)
        return 0;
    s_event_cause(ev, cause);
    return s_mark_dirty(b, txn, c, mrn, INT32_MIN / 2, INT32_MAX / 2, ev->time_us, cause);
}

static int s_on_timetrack(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    ccm_billing_t *b = ctx;
    (void)w;
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
        int32_t m1 =
            e->seconds > 0 ? ccm_month_of(c->tz, e->start_us + e->seconds * 1000000 - 1) : m0;
        char cause[S_CAUSE_MAX];
        s_event_cause(ev, cause);
        rc = s_mark_dirty(b, txn, c, e->mrn, m0, m1, ev->time_us, cause);
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
        char text[8], cause[32];
        ccm_month_text(month, text);
        snprintf(cause, sizeof cause, "auto_close %s", text);
        cause_t why = {"", "billing", now_us, cause};
        counts_t n = {0, 0, 0, 0, 0};
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
               {"missed", &b->missed}, {"closed", &b->closed},   {"conflicts", &b->conflicts},
               {"dirty", &b->dirty}};
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
    if (!rc)
        rc = ccm_worker_every(w, S_SETTLE_MS, s_settle_tick, b);
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
    char cause[S_CAUSE_MAX];
    snprintf(cause, sizeof cause, "close_month request %s", call->request_id);
    cause_t why = {call->request_id, call->principal, call->now_us, cause};
    counts_t n = {0, 0, 0, 0, 0};
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
    } else if (cl->status == CCM__BILLING__CLAIM_STATUS__WITHDRAW_NEEDED) {
        /* The month is no longer billable: whatever the payer says, the claim must be
         * withdrawn; its status stays until a later version supersedes it. */
        rc =
            ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__FAILED_PRECONDITION, "id",
                            "ack_claim.id: %s must be withdrawn (%s)", in->id, cl->withdraw_reason);
    } else {
        cl->status = in->status;
        cl->status_us = call->now_us;
        if (cl->status_note && cl->status_note != protobuf_c_empty_string)
            free(cl->status_note);
        cl->status_note = strdup(in->note);
        if (!cl->status_note)
            abort();
        cause_t why = {call->request_id, call->principal, call->now_us, ""};
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

/* The reason a missed month was recorded with; CCM_REASON_NONE if unknown. */
static ccm_reason_t s_reason(const char *name)
{
    for (int r = CCM_REASON_NONE + 1; r <= CCM_REASON_DEATH_DAY_REVIEW; r++)
        if (strcmp(ccm_rules_reason_name((ccm_reason_t)r), name) == 0)
            return (ccm_reason_t)r;
    return CCM_REASON_NONE;
}

/* A missed month of a patient in the program (a consent in force): every reason
 * but those of the gates before and at consent (payer, conditions, consent).
 * lib/rules does not say which reasons come after the consent gate; until it does
 * (a ccm_rules_reason_enrolled(), or the decision's consent verdict kept with the
 * missed month), this list follows its gate order G0-G2. */
static bool s_enrolled(ccm_reason_t r)
{
    return r != CCM_REASON_NOT_PART_B_FFS && r != CCM_REASON_NOT_ELIGIBLE_CONDITIONS &&
           r != CCM_REASON_NO_CONSENT && r != CCM_REASON_CONSENT_REVOKED;
}

/* Report rows, grown as months and codes appear (no row or code is ever dropped). */
typedef struct {
    Ccm__Billing__ReportRow **rows;
    size_t n, cap;
} report_t;

static Ccm__Billing__ReportRow *s_row(report_t *r, const char *clinic, const char *month)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i]->clinic, clinic) == 0 && strcmp(r->rows[i]->month, month) == 0)
            return r->rows[i];
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        Ccm__Billing__ReportRow **a = realloc(r->rows, r->cap * sizeof *a);
        if (!a)
            abort();
        r->rows = a;
    }
    Ccm__Billing__ReportRow *row = malloc(sizeof *row);
    if (!row)
        abort();
    ccm__billing__report_row__init(row);
    row->clinic = strdup(clinic);
    row->month = strdup(month);
    if (!row->clinic || !row->month)
        abort();
    r->rows[r->n++] = row;
    return row;
}

static void s_row_code(Ccm__Billing__ReportRow *row, const char *code, int32_t units)
{
    for (size_t i = 0; i < row->n_codes; i++)
        if (strcmp(row->codes[i]->key, code) == 0) {
            row->codes[i]->value += units;
            return;
        }
    Ccm__Billing__ReportRow__CodesEntry **a = realloc(row->codes, (row->n_codes + 1) * sizeof *a);
    Ccm__Billing__ReportRow__CodesEntry *e = malloc(sizeof *e);
    if (!a || !e)
        abort();
    ccm__billing__report_row__codes_entry__init(e);
    e->key = strdup(code);
    if (!e->key)
        abort();
    e->value = units;
    a[row->n_codes++] = e;
    row->codes = a;
}

static void s_report_free(report_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        Ccm__Billing__ReportRow *row = r->rows[i];
        for (size_t k = 0; k < row->n_codes; k++) {
            free(row->codes[k]->key);
            free(row->codes[k]);
        }
        free(row->codes);
        free(row->clinic);
        free(row->month);
        free(row);
    }
    free(r->rows);
}

/* Length of a key's "clinic/mrn/month/" part: records of one patient-month share it. */
static size_t s_month_prefix(const char *key)
{
    const char *p = strrchr(key, '/');
    return p ? (size_t)(p - key) + 1 : strlen(key);
}

/* Counts one patient-month once: a live claim (READY to PAID) counts as reached;
 * else a missed month as missed (a withdrawn claim is then only that); else a
 * DENIED claim as reached, as it was billed. claims and missed hold the month's
 * records (any may be absent). */
static void s_report_month(Ccm__Billing__ReportRow *row, claim_t **claims, size_t nc,
                           Ccm__Billing__Missed *missed)
{
    const claim_t *count = NULL;
    for (size_t i = 0; i < nc && !count; i++)
        if (s_live(claims[i]))
            count = claims[i];
    if (!count && missed) {
        row->missed++;
        row->enrolled += s_enrolled(s_reason(missed->reason));
        return;
    }
    for (size_t i = 0; i < nc && !count; i++)
        if (claims[i]->status == CCM__BILLING__CLAIM_STATUS__DENIED)
            count = claims[i];
    if (!count)
        return;
    row->expected_cents += count->amount_cents;
    row->enrolled++;
    row->reached++;
    for (size_t l = 0; l < count->n_lines; l++)
        s_row_code(row, count->lines[l]->code, count->lines[l]->units);
}

/* Revenue by clinic and month from the current claims and missed months, each
 * patient-month counted once. */
static int s_report(ccm_billing_t *b, MDB_txn *txn, ccm_worker_call_t *call,
                    const Ccm__Billing__Report *in)
{
    if (in->clinic[0] && !s_clinic(b, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "report.clinic: no clinic \"%s\" is configured", in->clinic);
    if (in->month[0] && (strlen(in->month) != 7 || ccm_tz_parse_month(in->month, &(int32_t){0})))
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "month",
                               "report.month: must be YYYY-MM");
    report_t rep = {NULL, 0, 0};
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
        /* Both lists are in key order, so a patient-month's records are adjacent in
         * each: walk them together, one patient-month at a time. */
        size_t a = 0, m = 0;
        while (rc == 0 && (a < cl.n || m < ms.n)) {
            const char *ka = a < cl.n ? ((claim_t *)cl.items[a])->key : NULL;
            const char *km = m < ms.n ? ((Ccm__Billing__Missed *)ms.items[m])->key : NULL;
            const char *first = !km || (ka && strcmp(ka, km) < 0) ? ka : km;
            size_t plen = s_month_prefix(first);
            size_t a_end = a;
            while (a_end < cl.n && strncmp(((claim_t *)cl.items[a_end])->key, first, plen) == 0 &&
                   s_month_prefix(((claim_t *)cl.items[a_end])->key) == plen)
                a_end++;
            Ccm__Billing__Missed *missed = NULL;
            while (m < ms.n &&
                   strncmp(((Ccm__Billing__Missed *)ms.items[m])->key, first, plen) == 0 &&
                   s_month_prefix(((Ccm__Billing__Missed *)ms.items[m])->key) == plen) {
                if (!missed)
                    missed = ms.items[m];
                m++;
            }
            const char *month = a_end > a ? ((claim_t *)cl.items[a])->month : missed->month;
            s_report_month(s_row(&rep, c->id, month), (claim_t **)cl.items + a, a_end - a, missed);
            a = a_end;
        }
        s_collect_free(&cl);
        s_collect_free(&ms);
    }
    if (rc) {
        s_report_free(&rep);
        return ccm_worker_store_fail(call, rc);
    }
    for (size_t r = 0; r < rep.n; r++)
        rep.rows[r]->reached_share =
            rep.rows[r]->enrolled ? (double)rep.rows[r]->reached / (double)rep.rows[r]->enrolled
                                  : 0.0;
    Ccm__Billing__ReportReply rr = CCM__BILLING__REPORT_REPLY__INIT;
    rr.rows = rep.rows;
    rr.n_rows = rep.n;
    reply_t r = CCM__BILLING__REPLY__INIT;
    r.result_case = CCM__BILLING__REPLY__RESULT_REPORT;
    r.report = &rr;
    rc = ccm_worker_reply_ok(call, &r.base);
    s_report_free(&rep);
    return rc;
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
