/* month — a patient-month for lib/rules from followed facts (see month.h). */
#include "month.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/careplan.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/log.h"

/* An entry lasts at most a day: entries starting this long before a month can
 * still reach into it. */
#define S_SECONDS_MAX 86400

typedef Ccm__Enrollment__Patient patient_t;
typedef Ccm__Timetrack__TimeEntry entry_t;

const char *const ccm_month_dbs[] = {"patients",   "people",       "careplans", "entries",
                                     "by_patient", "by_performer", NULL};

int ccm_month_bind(ccm_month_db_t *db, ccm_store_t *s)
{
    int rc = ccm_store_dbi(s, "patients", &db->patients);
    if (!rc)
        rc = ccm_store_dbi(s, "people", &db->people);
    if (!rc)
        rc = ccm_store_dbi(s, "careplans", &db->careplans);
    if (!rc)
        rc = ccm_store_dbi(s, "entries", &db->entries);
    if (!rc)
        rc = ccm_store_dbi(s, "by_patient", &db->by_patient);
    return rc ? rc : ccm_store_dbi(s, "by_performer", &db->by_performer);
}

static void s_key2(ccm_key_t *k, const char *a, const char *b)
{
    ccm_key_init(k);
    ccm_key_str(k, a);
    ccm_key_str(k, b);
}

static int s_put_msg(MDB_txn *txn, MDB_dbi dbi, const ccm_key_t *k, const ProtobufCMessage *m,
                     char prefix)
{
    size_t len = protobuf_c_message_get_packed_size(m) + (prefix ? 1 : 0);
    uint8_t *buf = malloc(len);
    if (!buf)
        abort();
    if (prefix)
        buf[0] = (uint8_t)prefix;
    protobuf_c_message_pack(m, buf + (prefix ? 1 : 0));
    int rc = ccm_store_put(txn, dbi, k->buf, k->len, buf, len, 0);
    free(buf);
    return rc;
}

static ProtobufCMessage *s_get_msg(MDB_txn *txn, MDB_dbi dbi, const ccm_key_t *k,
                                   const ProtobufCMessageDescriptor *d)
{
    MDB_val v;
    if (ccm_store_get(txn, dbi, k->buf, k->len, &v) != 0)
        return NULL;
    return protobuf_c_message_unpack(d, NULL, v.mv_size, v.mv_data);
}

/* ---- followed events ---- */

int ccm_month_on_enrollment(MDB_txn *txn, const ccm_month_db_t *db, const Ccm__Envelope *ev)
{
    ccm_key_t k;
    if (strcmp(ev->type, "practitioner.added") == 0) {
        Ccm__Enrollment__Practitioner *p =
            ccm__enrollment__practitioner__unpack(NULL, ev->payload.len, ev->payload.data);
        if (!p)
            return CCM_EINVAL;
        s_key2(&k, p->clinic, p->npi);
        int rc = s_put_msg(txn, db->people, &k, &p->base, 'P');
        ccm__enrollment__practitioner__free_unpacked(p, NULL);
        return rc;
    }
    if (strcmp(ev->type, "staff.added") == 0) {
        Ccm__Enrollment__Staff *s =
            ccm__enrollment__staff__unpack(NULL, ev->payload.len, ev->payload.data);
        if (!s)
            return CCM_EINVAL;
        s_key2(&k, s->clinic, s->id);
        int rc = s_put_msg(txn, db->people, &k, &s->base, 'S');
        ccm__enrollment__staff__free_unpacked(s, NULL);
        return rc;
    }
    if (strcmp(ev->type, "eligibility") == 0)
        return 0;
    /* Every other enrollment event carries the patient as it now is. */
    patient_t *p = ccm__enrollment__patient__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!p)
        return CCM_EINVAL;
    s_key2(&k, p->clinic, p->mrn);
    int rc = ccm_store_put(txn, db->patients, k.buf, k.len, ev->payload.data, ev->payload.len, 0);
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

int ccm_month_on_careplan(MDB_txn *txn, const ccm_month_db_t *db, const Ccm__Envelope *ev)
{
    if (strcmp(ev->type, "careplan.established") != 0 && strcmp(ev->type, "careplan.copy_given"))
        return 0;
    Ccm__Careplan__CarePlan *cp =
        ccm__careplan__care_plan__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!cp)
        return CCM_EINVAL;
    ccm_key_t k;
    s_key2(&k, cp->clinic, cp->mrn);
    ccm_key_u32(&k, (uint32_t)cp->program);
    int rc = ccm_store_put(txn, db->careplans, k.buf, k.len, ev->payload.data, ev->payload.len, 0);
    ccm__careplan__care_plan__free_unpacked(cp, NULL);
    return rc;
}

entry_t *ccm_month_get_entry(MDB_txn *txn, const ccm_month_db_t *db, const char *clinic,
                             const char *id)
{
    ccm_key_t k;
    s_key2(&k, clinic, id);
    return (entry_t *)s_get_msg(txn, db->entries, &k, &ccm__timetrack__time_entry__descriptor);
}

int ccm_month_put_entry(MDB_txn *txn, const ccm_month_db_t *db, const entry_t *e, bool is_new)
{
    ccm_key_t k;
    s_key2(&k, e->clinic, e->id);
    int rc = s_put_msg(txn, db->entries, &k, &e->base, 0);
    if (rc != 0 || !is_new)
        return rc;
    ccm_key_t bp, bf;
    s_key2(&bp, e->clinic, e->mrn);
    ccm_key_i64(&bp, e->start_us);
    ccm_key_str(&bp, e->id);
    s_key2(&bf, e->clinic, e->performer);
    ccm_key_i64(&bf, e->start_us);
    ccm_key_str(&bf, e->id);
    uint8_t end[8];
    ccm_be_put_u64(end, (uint64_t)(e->start_us + e->seconds * 1000000));
    rc = ccm_store_put(txn, db->by_patient, bp.buf, bp.len, "", 0, 0);
    return rc ? rc : ccm_store_put(txn, db->by_performer, bf.buf, bf.len, end, 8, 0);
}

int ccm_month_on_timetrack(MDB_txn *txn, const ccm_month_db_t *db, const Ccm__Envelope *ev)
{
    if (strncmp(ev->type, "entry.", 6) != 0)
        return 0;
    entry_t *e = ccm__timetrack__time_entry__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!e)
        return CCM_EINVAL;
    ccm_key_t k;
    s_key2(&k, e->clinic, e->id);
    MDB_val v;
    bool is_new = ccm_store_get(txn, db->entries, k.buf, k.len, &v) == CCM_ENOTFOUND;
    int rc = ccm_month_put_entry(txn, db, e, is_new);
    ccm__timetrack__time_entry__free_unpacked(e, NULL);
    return rc;
}

/* ---- evaluation ---- */

static ccm_service_t s_service(Ccm__Timetrack__ServiceTag tag)
{
    switch (tag) {
    case CCM__TIMETRACK__SERVICE_TAG__PCM: return CCM_SERVICE_PCM;
    case CCM__TIMETRACK__SERVICE_TAG__TCM: return CCM_SERVICE_TCM;
    case CCM__TIMETRACK__SERVICE_TAG__RPM: return CCM_SERVICE_RPM;
    case CCM__TIMETRACK__SERVICE_TAG__BHI: return CCM_SERVICE_BHI;
    case CCM__TIMETRACK__SERVICE_TAG__APCM: return CCM_SERVICE_APCM;
    default: return CCM_SERVICE_CCM;
    }
}

static ccm_role_t s_role(int enrollment_role)
{
    static const ccm_role_t map[] = {CCM_ROLE_NON_CLINICAL, CCM_ROLE_CLINICAL_STAFF,
                                     CCM_ROLE_PHYSICIAN,    CCM_ROLE_NP,
                                     CCM_ROLE_PA,           CCM_ROLE_CNS,
                                     CCM_ROLE_CNM,          CCM_ROLE_NON_CLINICAL};
    return enrollment_role >= 0 && enrollment_role <= 7 ? map[enrollment_role]
                                                        : CCM_ROLE_NON_CLINICAL;
}

ccm_performer_t ccm_month_performer(MDB_txn *txn, const ccm_month_db_t *db, const char *clinic,
                                    const char *id)
{
    ccm_performer_t out = {false, CCM_ROLE_NON_CLINICAL, 0, true};
    ccm_key_t k;
    s_key2(&k, clinic, id);
    MDB_val v;
    if (ccm_store_get(txn, db->people, k.buf, k.len, &v) != 0 || v.mv_size < 1)
        return out;
    const uint8_t *d = v.mv_data;
    if (d[0] == 'P') {
        Ccm__Enrollment__Practitioner *p =
            ccm__enrollment__practitioner__unpack(NULL, v.mv_size - 1, d + 1);
        if (p) {
            out = (ccm_performer_t){true, s_role(p->role), 0, true};
            ccm_rules_npi_parse(p->npi, &out.npi);
            ccm__enrollment__practitioner__free_unpacked(p, NULL);
        }
    } else if (d[0] == 'S') {
        Ccm__Enrollment__Staff *s = ccm__enrollment__staff__unpack(NULL, v.mv_size - 1, d + 1);
        if (s) {
            out = (ccm_performer_t){true, s_role(s->role), 0, s->in_us};
            ccm__enrollment__staff__free_unpacked(s, NULL);
        }
    }
    return out;
}

int32_t ccm_month_of(const ccm_tz_t *tz, int64_t us)
{
    int32_t y, m, d;
    ccm_tz_civil_from_days(ccm_tz_local_day(tz, us / 1000000), &y, &m, &d);
    return y * 12 + m - 1;
}

void ccm_month_text(int32_t month, char out[8])
{
    unsigned y = (unsigned)(month / 12) % 10000u, m = (unsigned)(month % 12 + 1) % 100u;
    char buf[16];
    snprintf(buf, sizeof buf, "%04u-%02u", y, m);
    memcpy(out, buf, 7);
    out[7] = '\0';
}

static int64_t s_day_start(const ccm_tz_t *tz, int32_t day)
{
    return ccm_tz_local_to_utc(tz, (int64_t)day * 86400);
}

/* The program a patient's month is evaluated for: the program of the latest
 * consent, else the best the patient is eligible for. */
static ccm_program_t s_program(const patient_t *p)
{
    const Ccm__Enrollment__Consent *best = NULL;
    for (size_t i = 0; i < p->n_consents; i++)
        if (!best || p->consents[i]->at_us >= best->at_us)
            best = p->consents[i];
    if (best)
        return best->program == CCM__ENROLLMENT__PROGRAM__PCM    ? CCM_PROGRAM_PCM
               : best->program == CCM__ENROLLMENT__PROGRAM__APCM ? CCM_PROGRAM_APCM
                                                                 : CCM_PROGRAM_CCM;
    return p->eligibility == CCM__ENROLLMENT__ELIGIBILITY__PCM_ELIGIBLE ? CCM_PROGRAM_PCM
                                                                        : CCM_PROGRAM_CCM;
}

static char *s_dup(const char *v)
{
    char *d = strdup(v);
    if (!d)
        abort();
    return d;
}

void ccm_month_clear(ccm_month_t *m)
{
    for (size_t i = 0; i < m->n_entry_ids; i++)
        free(m->entry_ids[i]);
    for (size_t i = 0; i < m->n_diagnoses; i++)
        free(m->diagnoses[i]);
    free(m->entry_ids);
    free(m->diagnoses);
    memset(m, 0, sizeof *m);
}

/* The active time entries that touch a month, as lib/rules takes them, with
 * their ids (owned) for the evidence. Grows with the month: no entry is left out. */
typedef struct {
    ccm_time_entry_t *times; /* times[i].id borrows held[i]->id */
    entry_t **held;          /* owned unpacked entries */
    char **ids;              /* owned copies of the ids */
    size_t n, cap;
} entries_t;

static void s_entries_free(entries_t *en)
{
    for (size_t i = 0; i < en->n; i++) {
        ccm__timetrack__time_entry__free_unpacked(en->held[i], NULL);
        if (en->ids)
            free(en->ids[i]);
    }
    free(en->times);
    free(en->held);
    free(en->ids);
    memset(en, 0, sizeof *en);
}

static void s_entries_push(entries_t *en, entry_t *e, const ccm_time_entry_t *te)
{
    if (en->n == en->cap) {
        size_t cap = en->cap ? en->cap * 2 : 64;
        ccm_time_entry_t *t = realloc(en->times, cap * sizeof *t);
        entry_t **h = t ? realloc(en->held, cap * sizeof *h) : NULL;
        char **ids = h ? realloc(en->ids, cap * sizeof *ids) : NULL;
        if (t)
            en->times = t;
        if (h)
            en->held = h;
        if (!ids)
            abort(); /* out of memory: state is in LMDB */
        en->ids = ids;
        en->cap = cap;
    }
    en->held[en->n] = e;
    en->times[en->n] = *te;
    en->ids[en->n] = s_dup(e->id);
    en->n++;
}

/* Reads the entries of (clinic, mrn) that may touch [ms, me) (seconds). A
 * zero-second entry (a documented APCM element) touches the month it lies in.
 * 0 or CCM_EIO. */
static int s_entries(MDB_txn *txn, const ccm_month_db_t *db, const ccm_month_clinic_t *c,
                     const char *mrn, int64_t ms, int64_t me, entries_t *en)
{
    ccm_key_t from;
    s_key2(&from, c->id, mrn);
    size_t prefix_len = from.len;
    ccm_key_i64(&from, (ms - S_SECONDS_MAX) * 1000000);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, db->by_patient, &cur) != 0) {
        ccm_error("event=store_error db=by_patient clinic=%s mrn=%s", c->id, mrn);
        return CCM_EIO;
    }
    MDB_val kv = {from.len, from.buf}, vv;
    for (int r = mdb_cursor_get(cur, &kv, &vv, MDB_SET_RANGE); r == 0;
         r = mdb_cursor_get(cur, &kv, &vv, MDB_NEXT)) {
        if (kv.mv_size <= prefix_len + 8 || memcmp(kv.mv_data, from.buf, prefix_len) != 0)
            break;
        int64_t start_us =
            (int64_t)(ccm_be_get_u64((const uint8_t *)kv.mv_data + prefix_len) ^ (1ULL << 63));
        if (start_us / 1000000 >= me)
            break;
        const char *id = (const char *)kv.mv_data + prefix_len + 8;
        ccm_key_t ek;
        s_key2(&ek, c->id, id);
        entry_t *e =
            (entry_t *)s_get_msg(txn, db->entries, &ek, &ccm__timetrack__time_entry__descriptor);
        if (!e)
            continue;
        const int64_t end_us = e->start_us + e->seconds * 1000000;
        const bool touches = e->seconds > 0 ? end_us > ms * 1000000 : e->start_us >= ms * 1000000;
        if (e->state != CCM__TIMETRACK__ENTRY_STATE__ACTIVE || !touches) {
            ccm__timetrack__time_entry__free_unpacked(e, NULL);
            continue;
        }
        ccm_performer_t who = ccm_month_performer(txn, db, c->id, e->performer);
        ccm_time_entry_t te = {e->id,
                               who.npi,
                               who.known ? who.role : CCM_ROLE_NON_CLINICAL,
                               who.in_us,
                               s_service(e->service),
                               e->start_us / 1000000,
                               e->seconds};
        s_entries_push(en, e, &te);
    }
    mdb_cursor_close(cur);
    return 0;
}

int ccm_month_eval(MDB_txn *txn, const ccm_month_db_t *db, const ccm_rules_config_t *cfg,
                   const ccm_fees_t *fees, const ccm_month_clinic_t *c, const char *mrn,
                   int32_t month, ccm_month_t *out)
{
    return ccm_month_judge(txn, db, cfg, fees, c, mrn, month, 0, out);
}

int ccm_month_judge(MDB_txn *txn, const ccm_month_db_t *db, const ccm_rules_config_t *cfg,
                    const ccm_fees_t *fees, const ccm_month_clinic_t *c, const char *mrn,
                    int32_t month, int32_t filing_day, ccm_month_t *out)
{
    ccm_month_clear(out);
    ccm_key_t k;
    s_key2(&k, c->id, mrn);
    patient_t *p =
        (patient_t *)s_get_msg(txn, db->patients, &k, &ccm__enrollment__patient__descriptor);
    if (!p)
        return CCM_ENOTFOUND;
    const int32_t y = month / 12, m = month % 12 + 1;
    const int32_t first = ccm_tz_days_from_civil(y, m, 1);
    const int64_t ms = s_day_start(c->tz, first);
    const int64_t me = s_day_start(c->tz, first + ccm_tz_days_in_month(y, m));

    ccm_case_t cs;
    memset(&cs, 0, sizeof cs);
    cs.month = month;
    cs.program = s_program(p);
    if (!p->payer[0] || ccm_rules_payer_parse(p->payer, &cs.payer) != 0)
        cs.payer = CCM_PAYER_MEDICARE_B;
    char month_text[8];
    ccm_month_text(month, month_text);
    for (size_t i = 0; i < p->n_complex_months; i++)
        cs.complex = cs.complex || strcmp(p->complex_months[i], month_text) == 0;
    cs.clinic = c->type;
    cs.filing_day = filing_day;
    cs.qmb = p->qmb;
    ccm_rules_npi_parse(p->billing_npi, &cs.billing_npi);
    ccm_performer_t bp = ccm_month_performer(txn, db, c->id, p->billing_npi);
    cs.billing_role = bp.known ? bp.role : CCM_ROLE_PHYSICIAN;
    int32_t day;
    cs.died_at = p->death_date[0] && ccm_tz_parse_date(p->death_date, &day) == 0
                     ? s_day_start(c->tz, day + 1)
                     : CCM_INSTANT_NONE;
    snprintf(out->mbi, sizeof out->mbi, "%s", p->mbi);
    snprintf(out->billing_npi, sizeof out->billing_npi, "%s", p->billing_npi);

    ccm_condition_t *conds = calloc(p->n_conditions + 1, sizeof *conds);
    ccm_visit_t *visits = calloc(p->n_visits + 1, sizeof *visits);
    ccm_other_service_t *other = calloc(p->n_other_services + 1, sizeof *other);
    ccm_span_t *spans = calloc(p->n_inpatient + 1, sizeof *spans);
    entries_t en = {0};
    out->diagnoses = calloc(p->n_conditions + 1, sizeof *out->diagnoses);
    if (!conds || !visits || !other || !spans || !out->diagnoses)
        abort();
    /* Conditions in force during the month; chronic ones with attested risk first. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < p->n_conditions; i++) {
            const Ccm__Enrollment__Condition *x = p->conditions[i];
            if (x->resolved_us && x->resolved_us / 1000000 < ms)
                continue;
            bool first_pass = x->chronic && x->high_risk;
            if ((pass == 0) != first_pass)
                continue;
            conds[cs.n_conditions++] =
                (ccm_condition_t){x->chronic, x->expected_months, x->high_risk};
            out->diagnoses[out->n_diagnoses++] = s_dup(x->icd10);
        }
    cs.conditions = conds;
    for (size_t i = 0; i < p->n_visits; i++) {
        const Ccm__Enrollment__Visit *x = p->visits[i];
        ccm_visit_t *v = &visits[cs.n_visits];
        v->code = ccm_rules_code_parse(x->code);
        if (v->code == CCM_CODE_NONE || ccm_tz_parse_date(x->date, &v->day) != 0)
            continue;
        ccm_rules_npi_parse(x->npi, &v->npi);
        v->g0506 = x->g0506;
        v->telehealth = x->telehealth;
        cs.n_visits++;
    }
    cs.visits = visits;
    for (size_t i = 0; i < p->n_other_services; i++) {
        const Ccm__Enrollment__OtherService *x = p->other_services[i];
        ccm_other_service_t *o = &other[cs.n_other];
        o->code = ccm_rules_code_parse(x->code);
        if (o->code == CCM_CODE_NONE || ccm_tz_parse_month(x->month, &o->month) != 0)
            continue;
        ccm_rules_npi_parse(x->npi, &o->npi);
        cs.n_other++;
    }
    cs.other = other;
    for (size_t i = 0; i < p->n_inpatient; i++)
        spans[cs.n_inpatient++] = (ccm_span_t){
            p->inpatient[i]->from_us / 1000000,
            p->inpatient[i]->to_us ? p->inpatient[i]->to_us / 1000000 : CCM_INSTANT_NONE};
    cs.inpatient = spans;

    /* Consent for the program: the one in force, else the latest. */
    const Ccm__Enrollment__Consent *con = NULL;
    for (size_t i = 0; i < p->n_consents; i++) {
        const Ccm__Enrollment__Consent *x = p->consents[i];
        if (x->program < CCM__ENROLLMENT__PROGRAM__CCM ||
            (ccm_program_t)(x->program - 1) != cs.program)
            continue;
        if (!con || x->status == CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE ||
            (con->status != CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE && x->at_us > con->at_us))
            con = x;
    }
    if (con) {
        cs.has_consent = true;
        cs.consent_at = con->at_us / 1000000;
        ccm_rules_npi_parse(con->billing_npi, &cs.consent_npi);
        cs.consent_program = (ccm_program_t)(con->program - 1);
        cs.revoked_at = con->status == CCM__ENROLLMENT__CONSENT_STATUS__REVOKED
                            ? con->revoked_us / 1000000
                            : CCM_INSTANT_NONE;
        snprintf(out->consent_id, sizeof out->consent_id, "%s", con->id);
    } else {
        cs.consent_at = cs.revoked_at = CCM_INSTANT_NONE;
    }

    /* Care plan of the program, as the careplan service announced it. */
    cs.care_plan = CCM_CARE_PLAN_NONE;
    cs.care_plan_established_at = cs.care_plan_copy_given_at = CCM_INSTANT_NONE;
    s_key2(&k, c->id, mrn);
    ccm_key_u32(&k, (uint32_t)cs.program + 1);
    Ccm__Careplan__CarePlan *cp = (Ccm__Careplan__CarePlan *)s_get_msg(
        txn, db->careplans, &k, &ccm__careplan__care_plan__descriptor);
    if (cp) {
        cs.care_plan = cp->status == CCM__CAREPLAN__STATUS__ESTABLISHED ? CCM_CARE_PLAN_ESTABLISHED
                                                                        : CCM_CARE_PLAN_DRAFT;
        out->care_plan_version = cp->established_version;
        if (cp->established_us)
            cs.care_plan_established_at = cp->established_us / 1000000;
        for (size_t i = 0; i < cp->n_copies; i++)
            if (ccm_tz_parse_date(cp->copies[i]->date, &day) == 0) {
                int64_t at = s_day_start(c->tz, day);
                if (cs.care_plan_copy_given_at == CCM_INSTANT_NONE ||
                    at < cs.care_plan_copy_given_at)
                    cs.care_plan_copy_given_at = at;
            }
        ccm__careplan__care_plan__free_unpacked(cp, NULL);
    }

    int rc = s_entries(txn, db, c, mrn, ms, me, &en);
    cs.time = en.times;
    cs.n_time = en.n;
    out->entry_ids = en.ids;
    out->n_entry_ids = en.n;
    en.ids = NULL;

    out->month = month;
    out->program = cs.program;
    ccm_rules_scratch_t scratch = {NULL, ccm_rules_scratch_size(&cs)};
    scratch.buf = malloc(scratch.size ? scratch.size : 1);
    if (!scratch.buf)
        abort();
    int32_t bad = -1;
    if (rc == 0 && ccm_rules_evaluate(cfg, fees, c->tz, &cs, &scratch, &out->d, &bad) != 0) {
        ccm_error("event=month_facts_invalid clinic=%s mrn=%s month=%d entry=%s", c->id, mrn,
                  (int)month, bad >= 0 && (size_t)bad < en.n ? en.times[bad].id : "-");
        rc = CCM_EINVAL;
    }
    free(scratch.buf);
    s_entries_free(&en);
    free(spans);
    free(other);
    free(visits);
    free(conds);
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}
