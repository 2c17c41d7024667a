/* month — a patient-month for lib/rules from followed facts (see month.h). */
#include "month.h"

#include <inttypes.h>
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

/* lib/rules' program of an enrollment/careplan program (CCM = 1, PCM = 2, APCM = 3). */
static bool s_program_of(int proto, ccm_program_t *out)
{
    if (proto < 1 || proto > 3)
        return false;
    *out = (ccm_program_t)(proto - 1);
    return true;
}

/* An instant in µs as lib/rules takes it: seconds, 0 = "since before any month". */
static int64_t s_from(int64_t us)
{
    return us ? us / 1000000 : CCM_INSTANT_NONE;
}

/* A payer as recorded: "" reads as Medicare Part B; a name lib/rules does not know
 * (enrollment validates them) never bills. */
static ccm_payer_t s_payer(const char *clinic, const char *mrn, const char *name)
{
    ccm_payer_t p = CCM_PAYER_MEDICARE_B;
    if (name[0] && ccm_rules_payer_parse(name, &p) != 0) {
        ccm_warn("event=payer_unknown clinic=%s mrn=%s payer=\"%s\" note=\"judged as OTHER\"",
                 clinic, mrn, name);
        p = CCM_PAYER_OTHER;
    }
    return p;
}

/* A billing practitioner's role: as enrollment recorded it, else a physician. */
static ccm_role_t s_billing_role(MDB_txn *txn, const ccm_month_db_t *db, const char *clinic,
                                 const char *npi)
{
    ccm_performer_t who = ccm_month_performer(txn, db, clinic, npi);
    return who.known ? who.role : CCM_ROLE_PHYSICIAN;
}

/* When a consent stopped being in force because the billing practitioner changed:
 * ended_us, or for records written before it existed the end of the local day
 * effective_until; CCM_INSTANT_NONE for any other consent. */
static int64_t s_consent_ended(const ccm_tz_t *tz, const Ccm__Enrollment__Consent *x)
{
    if (x->status != CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED)
        return CCM_INSTANT_NONE;
    if (x->ended_us)
        return x->ended_us / 1000000;
    int32_t day;
    if (ccm_tz_parse_date(x->effective_until, &day) == 0)
        return s_day_start(tz, day + 1);
    return x->at_us / 1000000; /* no end recorded: never counted as in force */
}

/* Everything ccm_rules_month() borrows, owned here; freed by s_facts_free(). */
typedef struct {
    ccm_facts_t f;
    ccm_practitioner_period_t *practitioners;
    ccm_payer_period_t *payers;
    ccm_condition_facts_t *conditions;
    ccm_attestation_t *attestations;
    ccm_consent_t *consents;
    ccm_care_plan_facts_t care_plans[3];
    uint32_t care_plan_versions[3]; /* established version per program */
    int32_t *complex_months;
    ccm_visit_t *visits;
    ccm_other_service_t *other;
    ccm_span_t *inpatient;
    entries_t entries;
} facts_t;

static void *s_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort(); /* out of memory: state is in LMDB */
    return p;
}

static void s_facts_free(facts_t *x)
{
    free(x->practitioners);
    free(x->payers);
    free(x->conditions);
    free(x->attestations);
    free(x->consents);
    free(x->complex_months);
    free(x->visits);
    free(x->other);
    free(x->inpatient);
    s_entries_free(&x->entries);
}

/* The history of the stored patient as lib/rules takes it. Records written before
 * enrollment kept histories have none: their current values then hold since before
 * any month. */
static void s_history(MDB_txn *txn, const ccm_month_db_t *db, const ccm_month_clinic_t *c,
                      const patient_t *p, facts_t *x)
{
    ccm_facts_t *f = &x->f;
    x->practitioners = s_calloc(p->n_billing_history + 1, sizeof *x->practitioners);
    if (p->n_billing_history == 0) {
        ccm_practitioner_period_t *pp = &x->practitioners[f->n_practitioners++];
        pp->from = CCM_INSTANT_NONE;
        ccm_rules_npi_parse(p->billing_npi, &pp->npi);
        pp->role = s_billing_role(txn, db, c->id, p->billing_npi);
    }
    for (size_t i = 0; i < p->n_billing_history; i++) {
        const Ccm__Enrollment__BillingPeriod *h = p->billing_history[i];
        ccm_practitioner_period_t *pp = &x->practitioners[f->n_practitioners++];
        pp->from = s_from(h->from_us);
        ccm_rules_npi_parse(h->npi, &pp->npi);
        pp->role = s_billing_role(txn, db, c->id, h->npi);
    }
    f->practitioners = x->practitioners;

    x->payers = s_calloc(p->n_payer_history + 1, sizeof *x->payers);
    if (p->n_payer_history == 0)
        x->payers[f->n_payers++] =
            (ccm_payer_period_t){CCM_INSTANT_NONE, s_payer(c->id, p->mrn, p->payer), p->qmb};
    for (size_t i = 0; i < p->n_payer_history; i++) {
        const Ccm__Enrollment__PayerPeriod *h = p->payer_history[i];
        x->payers[f->n_payers++] =
            (ccm_payer_period_t){s_from(h->from_us), s_payer(c->id, p->mrn, h->payer), h->qmb};
    }
    f->payers = x->payers;

    size_t natt = 0;
    for (size_t i = 0; i < p->n_conditions; i++)
        natt += p->conditions[i]->n_attestations ? p->conditions[i]->n_attestations : 1;
    x->conditions = s_calloc(p->n_conditions, sizeof *x->conditions);
    x->attestations = s_calloc(natt, sizeof *x->attestations);
    ccm_attestation_t *a = x->attestations;
    for (size_t i = 0; i < p->n_conditions; i++) {
        const Ccm__Enrollment__Condition *k = p->conditions[i];
        ccm_condition_facts_t *cf = &x->conditions[f->n_conditions++];
        cf->icd10 = k->icd10;
        cf->resolved_at = k->resolved_us ? k->resolved_us / 1000000 : CCM_INSTANT_NONE;
        cf->attestations = a;
        if (k->n_attestations == 0)
            *a++ = (ccm_attestation_t){s_from(k->from_us),
                                       {k->chronic, k->expected_months, k->high_risk}};
        for (size_t j = 0; j < k->n_attestations; j++) {
            const Ccm__Enrollment__Attestation *h = k->attestations[j];
            *a++ = (ccm_attestation_t){s_from(h->from_us),
                                       {h->chronic, h->expected_months, h->high_risk}};
        }
        cf->n_attestations = (size_t)(a - cf->attestations);
    }
    f->conditions = x->conditions;

    x->consents = s_calloc(p->n_consents, sizeof *x->consents);
    for (size_t i = 0; i < p->n_consents; i++) {
        const Ccm__Enrollment__Consent *k = p->consents[i];
        ccm_consent_t *cs = &x->consents[f->n_consents];
        if (!s_program_of(k->program, &cs->program))
            continue;
        cs->id = k->id;
        ccm_rules_npi_parse(k->billing_npi, &cs->npi);
        cs->role = s_billing_role(txn, db, c->id, k->billing_npi);
        cs->at = k->at_us / 1000000;
        cs->revoked_at = k->status == CCM__ENROLLMENT__CONSENT_STATUS__REVOKED && k->revoked_us
                             ? k->revoked_us / 1000000
                             : CCM_INSTANT_NONE;
        cs->ended_at = s_consent_ended(c->tz, k);
        f->n_consents++;
    }
    f->consents = x->consents;

    int32_t day;
    if (p->died_us) {
        f->died_at = p->died_us / 1000000;
    } else if (p->death_date[0] && ccm_tz_parse_date(p->death_date, &day) == 0) {
        f->died_at = s_day_start(c->tz, day); /* the time is unknown: the day is reviewed */
        f->died_date_only = true;
    } else {
        f->died_at = CCM_INSTANT_NONE;
    }

    x->complex_months = s_calloc(p->n_complex_months, sizeof *x->complex_months);
    for (size_t i = 0; i < p->n_complex_months; i++)
        if (ccm_tz_parse_month(p->complex_months[i], &x->complex_months[f->n_complex_months]) == 0)
            f->n_complex_months++;
    f->complex_months = x->complex_months;

    x->visits = s_calloc(p->n_visits, sizeof *x->visits);
    for (size_t i = 0; i < p->n_visits; i++) {
        const Ccm__Enrollment__Visit *k = p->visits[i];
        ccm_visit_t *v = &x->visits[f->n_visits];
        v->code = ccm_rules_code_parse(k->code);
        if (v->code == CCM_CODE_NONE || ccm_tz_parse_date(k->date, &v->day) != 0)
            continue;
        ccm_rules_npi_parse(k->npi, &v->npi);
        v->g0506 = k->g0506;
        v->telehealth = k->telehealth;
        f->n_visits++;
    }
    f->visits = x->visits;

    x->other = s_calloc(p->n_other_services, sizeof *x->other);
    for (size_t i = 0; i < p->n_other_services; i++) {
        const Ccm__Enrollment__OtherService *k = p->other_services[i];
        ccm_other_service_t *o = &x->other[f->n_other];
        o->code = ccm_rules_code_parse(k->code);
        if (o->code == CCM_CODE_NONE || ccm_tz_parse_month(k->month, &o->month) != 0)
            continue;
        ccm_rules_npi_parse(k->npi, &o->npi);
        f->n_other++;
    }
    f->other = x->other;

    x->inpatient = s_calloc(p->n_inpatient, sizeof *x->inpatient);
    for (size_t i = 0; i < p->n_inpatient; i++)
        x->inpatient[f->n_inpatient++] = (ccm_span_t){
            p->inpatient[i]->from_us / 1000000,
            p->inpatient[i]->to_us ? p->inpatient[i]->to_us / 1000000 : CCM_INSTANT_NONE};
    f->inpatient = x->inpatient;
}

/* The care plan of each program, as the careplan service announced it. */
static void s_care_plans(MDB_txn *txn, const ccm_month_db_t *db, const ccm_month_clinic_t *c,
                         const char *mrn, facts_t *x)
{
    for (int prog = CCM_PROGRAM_CCM; prog <= CCM_PROGRAM_APCM; prog++) {
        ccm_key_t k;
        s_key2(&k, c->id, mrn);
        ccm_key_u32(&k, (uint32_t)prog + 1);
        Ccm__Careplan__CarePlan *cp = (Ccm__Careplan__CarePlan *)s_get_msg(
            txn, db->careplans, &k, &ccm__careplan__care_plan__descriptor);
        if (!cp)
            continue;
        ccm_care_plan_facts_t *f = &x->care_plans[x->f.n_care_plans++];
        f->program = (ccm_program_t)prog;
        f->status = cp->status == CCM__CAREPLAN__STATUS__ESTABLISHED ? CCM_CARE_PLAN_ESTABLISHED
                                                                     : CCM_CARE_PLAN_DRAFT;
        f->established_at = cp->established_us ? cp->established_us / 1000000 : CCM_INSTANT_NONE;
        f->copy_given_at = CCM_INSTANT_NONE;
        int32_t day;
        for (size_t i = 0; i < cp->n_copies; i++)
            if (ccm_tz_parse_date(cp->copies[i]->date, &day) == 0) {
                int64_t at = s_day_start(c->tz, day);
                if (f->copy_given_at == CCM_INSTANT_NONE || at < f->copy_given_at)
                    f->copy_given_at = at;
            }
        x->care_plan_versions[prog] = cp->established_version;
        ccm__careplan__care_plan__free_unpacked(cp, NULL);
    }
    x->f.care_plans = x->care_plans;
}

/* ICD-10-CM of the conditions in force during [ms, me) by their attestation then:
 * chronic ones with attested risk first (the claim's diagnoses, §9). */
static void s_diagnoses(const facts_t *x, int64_t ms, int64_t me, ccm_month_t *out)
{
    out->diagnoses = s_calloc(x->f.n_conditions, sizeof *out->diagnoses);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < x->f.n_conditions; i++) {
            const ccm_attestation_t *a = ccm_rules_month_attestation(&x->f, i, ms, me);
            if (!a || (pass == 0) != (a->c.chronic && a->c.high_risk))
                continue;
            out->diagnoses[out->n_diagnoses++] = s_dup(x->f.conditions[i].icd10);
        }
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

    facts_t x;
    memset(&x, 0, sizeof x);
    x.f.month = month;
    x.f.clinic = c->type;
    x.f.filing_day = filing_day;
    s_history(txn, db, c, p, &x);
    s_care_plans(txn, db, c, mrn, &x);
    int rc = s_entries(txn, db, c, mrn, ms, me, &x.entries);
    x.f.time = x.entries.times;
    x.f.n_time = x.entries.n;

    ccm_month_decision_t *md = malloc(sizeof *md);
    ccm_rules_scratch_t scratch = {NULL, ccm_rules_month_scratch_size(&x.f)};
    scratch.buf = malloc(scratch.size ? scratch.size : 1);
    if (!md || !scratch.buf)
        abort();
    int32_t bad = -1;
    if (rc == 0 && (rc = ccm_rules_month(cfg, fees, c->tz, &x.f, &scratch, md, &bad)) != 0) {
        ccm_error("event=month_facts_invalid clinic=%s mrn=%s month=%d entry=%s error=%s", c->id,
                  mrn, (int)month,
                  bad >= 0 && (size_t)bad < x.entries.n ? x.entries.times[bad].id : "-",
                  ccm_strerror(rc));
        rc = rc == CCM_ETOOBIG ? CCM_EIO : CCM_EINVAL;
    }
    if (rc == 0) {
        out->d = md->d;
        out->month = month;
        out->program = md->d.program;
        snprintf(out->mbi, sizeof out->mbi, "%s", p->mbi);
        if (md->billing_npi)
            snprintf(out->billing_npi, sizeof out->billing_npi, "%010" PRIu64,
                     md->billing_npi % UINT64_C(10000000000));
        if (md->consent >= 0 && (size_t)md->consent < x.f.n_consents)
            snprintf(out->consent_id, sizeof out->consent_id, "%s", x.f.consents[md->consent].id);
        out->care_plan_version = x.care_plan_versions[out->program];
        out->entry_ids = x.entries.ids;
        out->n_entry_ids = x.entries.n;
        x.entries.ids = NULL; /* handed over */
        s_diagnoses(&x, ms, me, out);
    }
    free(scratch.buf);
    free(md);
    s_facts_free(&x);
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

int ccm_month_eval(MDB_txn *txn, const ccm_month_db_t *db, const ccm_rules_config_t *cfg,
                   const ccm_fees_t *fees, const ccm_month_clinic_t *c, const char *mrn,
                   int32_t month, ccm_month_t *out)
{
    return ccm_month_judge(txn, db, cfg, fees, c, mrn, month, 0, out);
}
