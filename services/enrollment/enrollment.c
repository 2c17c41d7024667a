/* enrollment — handlers for service "enrollment".
 * Each handler reads like its business step: decode, authorise, validate, apply,
 * reply. Invariants: (clinic, MRN) identifies a patient; an MBI belongs to one
 * patient per clinic; every change appends the patient as it now is to the
 * stream in the same transaction. */
#include "enrollment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/careplan.pb-c.h"
#include "ccm/clinics.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/ident.h"
#include "ccm/log.h"
#include "ccm/rules.h"
#include "ccm/tz.h"
#include "facts.h"

/* Field limits (bytes). */
#define S_CLINIC_MAX CCM_CLINIC_ID_MAX
#define S_MRN_MAX 64
#define S_NAME_MAX 100
#define S_DESC_MAX 200
#define S_LIST_DEFAULT 100
#define S_LIST_MAX 1000
#define S_CREDENTIALS_MAX 32
#define S_STAFF_ID_MAX 64
#define S_FACILITY_MAX 200

const char *const ccm_enrollment_dbs[] = {"patients", "mbi",       "practitioners",
                                          "staff",    "careplans", NULL};

/* A configured clinic; its zone decides months, dates and revocations. */
typedef ccm_clinic_info_t clinic_t;

struct ccm_enrollment {
    ccm_clinics_t *clinics; /* configured clinics, owned */
    MDB_dbi patients;       /* clinic NUL mrn NUL -> Patient */
    MDB_dbi mbi;            /* mbi NUL clinic NUL -> mrn */
    MDB_dbi practitioners;  /* clinic NUL npi NUL -> Practitioner */
    MDB_dbi staff;          /* clinic NUL id NUL -> Staff */
    MDB_dbi careplans;      /* clinic NUL mrn NUL program(u32) -> u8 ready (established + copy) */
};

typedef Ccm__Enrollment__Request request_t;
typedef Ccm__Enrollment__Reply reply_t;
typedef Ccm__Enrollment__Patient patient_t;
typedef Ccm__Enrollment__Condition condition_t;

ccm_enrollment_t *ccm_enrollment_new(void)
{
    ccm_enrollment_t *e = calloc(1, sizeof *e);
    if (e && !(e->clinics = ccm_clinics_new())) {
        free(e);
        return NULL;
    }
    return e;
}

void ccm_enrollment_destroy(ccm_enrollment_t **p)
{
    if (!p || !*p)
        return;
    ccm_clinics_destroy(&(*p)->clinics);
    free(*p);
    *p = NULL;
}

int ccm_enrollment_add_clinic(ccm_enrollment_t *e, const char *id, const char *timezone)
{
    return ccm_clinics_add(e->clinics, id, timezone, NULL);
}

void ccm_enrollment_set_clinics(ccm_enrollment_t *e, ccm_clinics_t *clinics)
{
    ccm_clinics_destroy(&e->clinics);
    e->clinics = clinics;
}

/* Follows careplan.established / copy_given (payload ccm.careplan.CarePlan). */
static int s_on_careplan(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    (void)w;
    ccm_enrollment_t *e = ctx;
    Ccm__Careplan__CarePlan *cp =
        ccm__careplan__care_plan__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!cp)
        return CCM_EINVAL;
    ccm_key_t k;
    ccm_key_init(&k);
    ccm_key_str(&k, cp->clinic);
    ccm_key_str(&k, cp->mrn);
    ccm_key_u32(&k, (uint32_t)cp->program);
    uint8_t ready = cp->status == CCM__CAREPLAN__STATUS__ESTABLISHED && cp->n_copies > 0;
    int rc = ccm_store_put(txn, e->careplans, k.buf, k.len, &ready, 1, 0);
    ccm__careplan__care_plan__free_unpacked(cp, NULL);
    return rc;
}

int ccm_enrollment_bind(ccm_enrollment_t *e, ccm_worker_t *w)
{
    ccm_store_t *s = ccm_worker_store(w);
    int rc = ccm_store_dbi(s, "patients", &e->patients);
    if (!rc)
        rc = ccm_store_dbi(s, "mbi", &e->mbi);
    if (!rc)
        rc = ccm_store_dbi(s, "practitioners", &e->practitioners);
    if (!rc)
        rc = ccm_store_dbi(s, "staff", &e->staff);
    if (!rc)
        rc = ccm_store_dbi(s, "careplans", &e->careplans);
    /* Patients stored before the fact history get it before the first request. */
    if (!rc)
        rc = ccm_facts_migrate(s, e->patients, e->clinics);
    /* The worklist needs to know whose care plan is established and shared. */
    static const char *const types[] = {"careplan.established", "careplan.copy_given", NULL};
    return rc ? rc : ccm_worker_follow(w, "careplan", types, s_on_careplan, e);
}

/* ---- helpers ---- */

static bool s_clinic_known(const ccm_enrollment_t *e, const char *id)
{
    return ccm_clinics_find(e->clinics, id) != NULL;
}

/* Validates clinic and mrn of any operation; names the field at fault. */
static int s_check_patient_key(ccm_enrollment_t *e, ccm_worker_call_t *call, const char *op,
                               const char *clinic, const char *mrn)
{
    const char *why;
    if (ccm_ident_key(clinic, S_CLINIC_MAX, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "clinic",
                               "%s.clinic: %s", op, why);
    if (!s_clinic_known(e, clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "%s.clinic: no clinic \"%s\" is configured", op, clinic);
    if (ccm_ident_key(mrn, S_MRN_MAX, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "mrn", "%s.mrn: %s",
                               op, why);
    return 0;
}

static void s_patient_key(ccm_key_t *k, const char *clinic, const char *mrn)
{
    ccm_key_init(k);
    ccm_key_str(k, clinic);
    ccm_key_str(k, mrn);
}

/* Loads a patient; *out is freed with ccm__enrollment__patient__free_unpacked. */
static int s_load(ccm_enrollment_t *e, MDB_txn *txn, const char *clinic, const char *mrn,
                  patient_t **out)
{
    ccm_key_t k;
    s_patient_key(&k, clinic, mrn);
    MDB_val v;
    int rc = ccm_store_get(txn, e->patients, k.buf, k.len, &v);
    if (rc != 0)
        return rc;
    *out = ccm__enrollment__patient__unpack(NULL, v.mv_size, v.mv_data);
    if (!*out) {
        ccm_error("event=corrupt_record db=patients clinic=%s mrn=%s", clinic, mrn);
        return CCM_EIO;
    }
    return 0;
}

/* Stores the patient and appends it to the stream as event `type`. */
static int s_save(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                  const patient_t *p, const char *type)
{
    size_t len = ccm__enrollment__patient__get_packed_size(p);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CCM_ENOMEM;
    ccm__enrollment__patient__pack(p, buf);
    ccm_key_t k;
    s_patient_key(&k, p->clinic, p->mrn);
    int rc = ccm_store_put(txn, e->patients, k.buf, k.len, buf, len, 0);
    if (rc == 0) {
        char key[S_CLINIC_MAX + S_MRN_MAX + 2];
        snprintf(key, sizeof key, "%s/%s", p->clinic, p->mrn);
        uint64_t seq;
        rc = ccm_stream_append(ccm_worker_stream(w), txn, type, key, call->request_id,
                               call->principal, call->now_us, buf, len, &seq);
    }
    free(buf);
    return rc;
}

static int s_reply_patient(ccm_worker_call_t *call, patient_t *p)
{
    reply_t r = CCM__ENROLLMENT__REPLY__INIT;
    r.result_case = CCM__ENROLLMENT__REPLY__RESULT_PATIENT;
    r.patient = p;
    return ccm_worker_reply_ok(call, &r.base);
}

static void s_eligibility(patient_t *p);
static int s_publish_eligibility(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                                 const patient_t *p, Ccm__Enrollment__Eligibility previous);

/* The end of every change: recompute eligibility (lib/rules), store, append
 * event `type` (then the eligibility notification if it changed), answer. */
static int s_commit(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                    patient_t *p, const char *type)
{
    Ccm__Enrollment__Eligibility previous = p->eligibility;
    s_eligibility(p);
    int rc = s_save(e, w, txn, call, p, type);
    if (rc == 0)
        rc = s_publish_eligibility(w, txn, call, p, previous);
    if (rc != 0)
        return ccm_worker_store_fail(call, rc);
    call->remember = true;
    return s_reply_patient(call, p);
}

/* Normalises an ICD-10-CM code of operation op, or fails the call naming it. */
static int s_icd10(ccm_worker_call_t *call, const char *op, const char *in, char code[9])
{
    const char *why;
    if (ccm_ident_icd10(in, code, &why) == 0)
        return 0;
    return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "icd10",
                           "%s.icd10: \"%s\" is not an ICD-10-CM code: %s", op, in, why);
}

/* ---- shared validation and derived state ---- */

typedef Ccm__Enrollment__Consent consent_t;
typedef Ccm__Enrollment__Practitioner practitioner_t;
typedef Ccm__Enrollment__Staff staff_t;

static const char *const s_programs[] = {"", "CCM", "PCM", "APCM"};
static const char *const s_eligibility_names[] = {"NOT_ELIGIBLE", "PCM_ELIGIBLE", "CCM_ELIGIBLE"};

/* A catalogue code from user input, case-insensitive ("g0438" is G0438). */
static ccm_code_t s_code(const char *in)
{
    char up[8];
    size_t n = strlen(in);
    if (n == 0 || n >= sizeof up)
        return CCM_CODE_NONE;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)((in[i] >= 'a' && in[i] <= 'z') ? in[i] - 32 : in[i]);
    return ccm_rules_code_parse(up);
}

static int s_bad(ccm_worker_call_t *call, const char *op, const char *field, const char *why)
{
    return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, field, "%s.%s: %s", op,
                           field, why);
}

/* Validates an NPI field (format and check digit). */
static int s_npi(ccm_worker_call_t *call, const char *op, const char *field, const char *npi)
{
    const char *why;
    return ccm_ident_npi(npi, &why) == 0 ? 0 : s_bad(call, op, field, why);
}

/* Loads practitioner npi of clinic into *out (may be NULL), or fails NOT_FOUND. */
static int s_practitioner(ccm_enrollment_t *e, MDB_txn *txn, ccm_worker_call_t *call,
                          const char *op, const char *field, const char *clinic, const char *npi)
{
    int rc = s_npi(call, op, field, npi);
    if (rc)
        return rc;
    ccm_key_t k;
    s_patient_key(&k, clinic, npi);
    MDB_val v;
    rc = ccm_store_get(txn, e->practitioners, k.buf, k.len, &v);
    if (rc == CCM_ENOTFOUND)
        return ccm_worker_fail(call, rc, CCM__CODE__NOT_FOUND, field,
                               "%s.%s: no practitioner %s in clinic %s (add it first)", op, field,
                               npi, clinic);
    return rc ? ccm_worker_store_fail(call, rc) : 0;
}

/* Recomputes eligibility from the active conditions with lib/rules; when it
 * changed, appends an "eligibility" event (the eligibility notification). */
static void s_eligibility(patient_t *p)
{
    ccm_condition_t conds[CCM_FACTS_CONDITIONS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < p->n_conditions && n < CCM_FACTS_CONDITIONS_MAX; i++) {
        const condition_t *c = p->conditions[i];
        if (c->resolved_us)
            continue;
        conds[n++] = (ccm_condition_t){c->chronic, c->expected_months, c->high_risk};
    }
    ccm_eligibility_t el = ccm_rules_eligibility(conds, n);
    char r1[160], r2[160];
    snprintf(r1, sizeof r1,
             "CCM: %d chronic condition(s) expected to last 12 months or more with attested "
             "risk; 2 needed (docs/medicare-rules.md §2)",
             el.ccm_conditions);
    snprintf(r2, sizeof r2,
             "PCM: %d chronic condition(s) expected to last 3 months or more with attested "
             "risk; 1 needed (docs/medicare-rules.md §2)",
             el.pcm_conditions);
    for (size_t i = 0; i < p->n_eligibility_reasons; i++)
        free(p->eligibility_reasons[i]);
    free(p->eligibility_reasons);
    p->eligibility_reasons = malloc(2 * sizeof(char *));
    if (!p->eligibility_reasons)
        abort();
    p->eligibility_reasons[0] = ccm_facts_dup(r1);
    p->eligibility_reasons[1] = ccm_facts_dup(r2);
    p->n_eligibility_reasons = 2;
    p->eligibility = (Ccm__Enrollment__Eligibility)el.program;
}

/* Publishes the eligibility notification when p's eligibility differs from previous. */
static int s_publish_eligibility(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                                 const patient_t *p, Ccm__Enrollment__Eligibility previous)
{
    if (p->eligibility == previous)
        return 0;
    Ccm__Enrollment__EligibilityChange ch = CCM__ENROLLMENT__ELIGIBILITY_CHANGE__INIT;
    ch.clinic = p->clinic;
    ch.mrn = p->mrn;
    ch.mbi = p->mbi;
    ch.eligibility = p->eligibility;
    ch.previous = previous;
    ch.n_reasons = p->n_eligibility_reasons;
    ch.reasons = p->eligibility_reasons;
    uint8_t buf[1024];
    if (ccm__enrollment__eligibility_change__get_packed_size(&ch) > sizeof buf)
        return CCM_ETOOBIG;
    size_t len = ccm__enrollment__eligibility_change__pack(&ch, buf);
    char key[S_CLINIC_MAX + S_MRN_MAX + 2];
    snprintf(key, sizeof key, "%s/%s", p->clinic, p->mrn);
    uint64_t seq;
    ccm_info("event=eligibility clinic=%s mrn=%s eligibility=%s previous=%s", p->clinic, p->mrn,
             s_eligibility_names[ch.eligibility], s_eligibility_names[ch.previous]);
    return ccm_stream_append(ccm_worker_stream(w), txn, "eligibility", key, call->request_id,
                             call->principal, call->now_us, buf, len, &seq);
}

/* The patient's consent for program in force (ACTIVE), or NULL. */
static consent_t *s_active_consent(patient_t *p, int program)
{
    for (size_t i = 0; i < p->n_consents; i++)
        if (p->consents[i]->program == (Ccm__Enrollment__Program)program &&
            p->consents[i]->status == CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE)
            return p->consents[i];
    return NULL;
}

/* ---- the shape of a change: load, change, settle ---- */

/* Checks a text field of operation op, naming it on failure. */
static int s_text(ccm_worker_call_t *call, const char *op, const char *field, const char *v,
                  size_t max, bool required)
{
    const char *why;
    if (ccm_ident_text(v, max, required, &why) == 0)
        return 0;
    return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, field,
                           "%s.%s: %s (at most %zu bytes)", op, field, why, max);
}

/* Loads the patient an operation names, or fails the call with NOT_FOUND. */
static int s_load_for(ccm_enrollment_t *e, MDB_txn *txn, ccm_worker_call_t *call, const char *op,
                      const char *clinic, const char *mrn, patient_t **p)
{
    int rc = s_check_patient_key(e, call, op, clinic, mrn);
    if (rc)
        return rc;
    rc = s_load(e, txn, clinic, mrn, p);
    if (rc == CCM_ENOTFOUND)
        return ccm_worker_fail(call, rc, CCM__CODE__NOT_FOUND, "mrn",
                               "%s.mrn: no patient %s in clinic %s", op, mrn, clinic);
    return rc ? ccm_worker_store_fail(call, rc) : 0;
}

/* Loads the patient for a mutation op: request id required, patient must exist. */
static int s_begin(ccm_enrollment_t *e, MDB_txn *txn, ccm_worker_call_t *call, const char *op,
                   const char *clinic, const char *mrn, patient_t **p)
{
    int rc = ccm_worker_require_request_id(call);
    return rc ? rc : s_load_for(e, txn, call, op, clinic, mrn, p);
}

/* What the facts module needs of a call on a patient of clinic (known: the
 * key was checked). */
static ccm_facts_ctx_t s_ctx(const ccm_enrollment_t *e, const ccm_worker_call_t *call,
                             const char *clinic)
{
    return (ccm_facts_ctx_t){.now_us = call->now_us,
                             .request_id = call->request_id,
                             .tz = ccm_clinics_find(e->clinics, clinic)->tz};
}

/* Saves p with event type and answers; frees p. */
static int s_finish(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                    patient_t *p, const char *type)
{
    p->updated_us = call->now_us;
    int rc = s_commit(e, w, txn, call, p, type);
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

/* Fails the call with rc (already set) after freeing p. */
static int s_drop(patient_t *p, int rc)
{
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

/* Answers a change the facts module refused (rc, why); returns rc. */
static int s_refused(ccm_worker_call_t *call, const char *op, int rc,
                     const ccm_facts_refusal_t *why)
{
    return ccm_worker_fail(call, rc, why->code, why->field, "%s.%s: %s", op, why->field, why->why);
}

/* Ends a change the facts module made (rc 0: saved as event type), found
 * already so (CCM_EEXIST: the patient answers unchanged, nothing published) or
 * refused (why). Frees p. */
static int s_settle(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                    patient_t *p, const char *op, int rc, const ccm_facts_refusal_t *why,
                    const char *type)
{
    if (rc == CCM_EEXIST) {
        call->remember = true;
        return s_drop(p, s_reply_patient(call, p));
    }
    if (rc != 0)
        return s_drop(p, s_refused(call, op, rc, why));
    return s_finish(e, w, txn, call, p, type);
}

/* Appends record rec (heap) to one of p's lists and finishes the change with
 * event type, effective from instant `from`; frees rec and p on failure. */
static int s_add_record(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                        patient_t *p, void ***list, size_t *n, ProtobufCMessage *rec,
                        const char *op, const char *field, int64_t from, const char *type)
{
    int rc = ccm_facts_append(list, n, rec);
    if (rc != 0) {
        protobuf_c_message_free_unpacked(rec, NULL);
        return s_drop(p, ccm_worker_fail(call, rc, CCM__CODE__FAILED_PRECONDITION, field,
                                         "%s: the patient has %d such records already", op,
                                         CCM_FACTS_RECORDS_MAX));
    }
    p->change_effective_us = from;
    return s_finish(e, w, txn, call, p, type);
}

/* ---- operations ---- */

static int s_register(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                      const Ccm__Enrollment__RegisterPatient *in)
{
    const char *why;
    int rc = ccm_worker_require_request_id(call);
    if (rc)
        return rc;
    if ((rc = s_check_patient_key(e, call, "register_patient", in->clinic, in->mrn)) != 0)
        return rc;
    char mbi[12];
    if (ccm_ident_mbi(in->mbi, mbi, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "mbi",
                               "register_patient.mbi: %s", why);
    if ((rc = s_text(call, "register_patient", "family_name", in->family_name, S_NAME_MAX, true)) ||
        (rc = s_text(call, "register_patient", "given_name", in->given_name, S_NAME_MAX, true)))
        return rc;
    long days;
    if (ccm_ident_date(in->birth_date, &days, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "birth_date",
                               "register_patient.birth_date: %s", why);
    if (days * 86400LL * 1000000LL > call->now_us)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "birth_date",
                               "register_patient.birth_date: is in the future");

    /* The same MBI registered under another MRN of this clinic is a conflict. */
    ccm_key_t mk;
    ccm_key_init(&mk);
    ccm_key_str(&mk, mbi);
    ccm_key_str(&mk, in->clinic);
    MDB_val v;
    rc = ccm_store_get(txn, e->mbi, mk.buf, mk.len, &v);
    if (rc == 0 && (v.mv_size != strlen(in->mrn) || memcmp(v.mv_data, in->mrn, v.mv_size)))
        return ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__CONFLICT, "mbi",
                               "register_patient.mbi: already registered in clinic %s under "
                               "MRN %.*s",
                               in->clinic, (int)v.mv_size, (const char *)v.mv_data);
    if (rc != 0 && rc != CCM_ENOTFOUND)
        return ccm_worker_store_fail(call, rc);

    patient_t *p = NULL;
    rc = s_load(e, txn, in->clinic, in->mrn, &p);
    if (rc == 0) {
        /* Registered before: the same facts are an idempotent success, others a conflict. */
        const char *field = strcmp(p->mbi, mbi)                       ? "mbi"
                            : strcmp(p->family_name, in->family_name) ? "family_name"
                            : strcmp(p->given_name, in->given_name)   ? "given_name"
                            : strcmp(p->birth_date, in->birth_date)   ? "birth_date"
                            : in->billing_npi[0] && strcmp(p->billing_npi, in->billing_npi)
                                ? "billing_npi"
                            : p->qmb != in->qmb ? "qmb"
                                                : NULL;
        if (field)
            return s_drop(p, ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__CONFLICT, field,
                                             "register_patient.%s: MRN %s of clinic %s is "
                                             "already registered with another %s",
                                             field, in->mrn, in->clinic, field));
        call->remember = true;
        return s_drop(p, s_reply_patient(call, p));
    }
    if (rc != CCM_ENOTFOUND)
        return ccm_worker_store_fail(call, rc);

    if (in->billing_npi[0] && (rc = s_practitioner(e, txn, call, "register_patient", "billing_npi",
                                                   in->clinic, in->billing_npi)))
        return rc;
    ccm_payer_t payer;
    if (in->payer[0] && ccm_rules_payer_parse(in->payer, &payer) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "payer",
                               "register_patient.payer: must be MEDICARE_B, MEDICARE_ADVANTAGE, "
                               "MEDICAID, COMMERCIAL or OTHER");
    if ((rc = ccm_store_put(txn, e->mbi, mk.buf, mk.len, in->mrn, strlen(in->mrn), 0)) != 0)
        return ccm_worker_store_fail(call, rc);
    if (!(p = malloc(sizeof *p)))
        abort();
    ccm__enrollment__patient__init(p);
    p->clinic = ccm_facts_dup(in->clinic);
    p->mrn = ccm_facts_dup(in->mrn);
    p->mbi = ccm_facts_dup(mbi);
    p->family_name = ccm_facts_dup(in->family_name);
    p->given_name = ccm_facts_dup(in->given_name);
    p->birth_date = ccm_facts_dup(in->birth_date);
    p->billing_npi = ccm_facts_dup(in->billing_npi);
    p->qmb = in->qmb;
    p->payer = ccm_facts_dup(in->payer);
    p->created_us = call->now_us;
    ccm_facts_ctx_t x = s_ctx(e, call, in->clinic);
    ccm_facts_register(p, &x);
    return s_finish(e, w, txn, call, p, "patient.registered");
}

static int s_add_condition(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                           ccm_worker_call_t *call, const Ccm__Enrollment__AddCondition *in)
{
    static const char op[] = "add_condition";
    char code[9];
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    if ((rc = s_icd10(call, op, in->icd10, code)) ||
        (rc = s_text(call, op, "description", in->description, S_DESC_MAX, false)))
        return s_drop(p, rc);
    ccm_facts_ctx_t x = s_ctx(e, call, p->clinic);
    ccm_facts_refusal_t why;
    bool added;
    rc = ccm_facts_attest(p, code, in->description, in->expected_months, in->high_risk, !in->acute,
                          in->effective_us, &x, &added, &why);
    return s_settle(e, w, txn, call, p, op, rc, &why,
                    added ? "condition.added" : "condition.updated");
}

static int s_resolve_condition(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                               ccm_worker_call_t *call, const Ccm__Enrollment__ResolveCondition *in)
{
    static const char op[] = "resolve_condition";
    char code[9];
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    if ((rc = s_icd10(call, op, in->icd10, code)) != 0)
        return s_drop(p, rc);
    ccm_facts_ctx_t x = s_ctx(e, call, p->clinic);
    ccm_facts_refusal_t why;
    rc = ccm_facts_resolve(p, code, in->effective_us, &x, &why);
    return s_settle(e, w, txn, call, p, op, rc, &why, "condition.resolved");
}

static int s_get(ccm_enrollment_t *e, MDB_txn *txn, ccm_worker_call_t *call,
                 const Ccm__Enrollment__GetPatient *in)
{
    patient_t *p = NULL;
    int rc = s_load_for(e, txn, call, "get_patient", in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    rc = s_reply_patient(call, p);
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

static int s_list(ccm_enrollment_t *e, MDB_txn *txn, ccm_worker_call_t *call,
                  const Ccm__Enrollment__ListPatients *in)
{
    const char *why;
    if (ccm_ident_key(in->clinic, S_CLINIC_MAX, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "clinic",
                               "list_patients.clinic: %s", why);
    if (!s_clinic_known(e, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "list_patients.clinic: no clinic \"%s\" is configured", in->clinic);
    if (in->after_mrn[0] && ccm_ident_key(in->after_mrn, S_MRN_MAX, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "after_mrn",
                               "list_patients.after_mrn: %s", why);
    size_t max = in->max == 0 ? S_LIST_DEFAULT : in->max > S_LIST_MAX ? S_LIST_MAX : in->max;

    ccm_key_t prefix, start;
    ccm_key_init(&prefix);
    ccm_key_str(&prefix, in->clinic);
    s_patient_key(&start, in->clinic, in->after_mrn);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, e->patients, &cur) != 0)
        return ccm_worker_store_fail(call, CCM_EIO);
    patient_t **items = calloc(max, sizeof *items);
    if (!items) {
        mdb_cursor_close(cur);
        return CCM_ENOMEM;
    }
    Ccm__Enrollment__PatientList list = CCM__ENROLLMENT__PATIENT_LIST__INIT;
    MDB_val k = {start.len, start.buf}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    int rc = 0;
    while (mrc == 0) {
        if (k.mv_size < prefix.len || memcmp(k.mv_data, prefix.buf, prefix.len) != 0)
            break;
        if (k.mv_size == start.len && memcmp(k.mv_data, start.buf, start.len) == 0) {
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after_mrn itself is excluded */
            continue;
        }
        if (list.n_patients == max) {
            list.more = true;
            break;
        }
        patient_t *p = ccm__enrollment__patient__unpack(NULL, v.mv_size, v.mv_data);
        if (!p) {
            rc = ccm_worker_store_fail(call, CCM_EIO);
            break;
        }
        items[list.n_patients++] = p;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = ccm_worker_store_fail(call, CCM_EIO);
    if (rc == 0) {
        list.patients = items;
        reply_t r = CCM__ENROLLMENT__REPLY__INIT;
        r.result_case = CCM__ENROLLMENT__REPLY__RESULT_PATIENTS;
        r.patients = &list;
        rc = ccm_worker_reply_ok(call, &r.base);
    }
    for (size_t i = 0; i < list.n_patients; i++)
        ccm__enrollment__patient__free_unpacked(items[i], NULL);
    free(items);
    return rc;
}

/* ---- practitioners and staff ---- */

/* Stores msg under (clinic, id) in dbi unless an equal record exists (then the
 * stored one answers); another record under the key is a CONFLICT. Appends
 * event `type` for a new record. */
static int s_put_record(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, MDB_dbi dbi,
                        const char *op, const char *field, const char *clinic, const char *id,
                        ProtobufCMessage *msg, int64_t *created_us, const char *type,
                        reply_t *reply)
{
    ccm_key_t k;
    s_patient_key(&k, clinic, id);
    MDB_val v;
    int rc = ccm_store_get(txn, dbi, k.buf, k.len, &v);
    if (rc == 0) {
        ProtobufCMessage *old =
            protobuf_c_message_unpack(msg->descriptor, NULL, v.mv_size, v.mv_data);
        if (!old)
            return ccm_worker_store_fail(call, CCM_EIO);
        *created_us = 0;
        int64_t *old_created = (int64_t *)((char *)old + ((char *)created_us - (char *)msg));
        *created_us = *old_created;
        size_t a = protobuf_c_message_get_packed_size(msg);
        bool same = a == v.mv_size;
        if (same) {
            uint8_t *buf = malloc(a ? a : 1);
            if (!buf)
                abort();
            protobuf_c_message_pack(msg, buf);
            same = memcmp(buf, v.mv_data, a) == 0;
            free(buf);
        }
        protobuf_c_message_free_unpacked(old, NULL);
        if (!same)
            return ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__CONFLICT, field,
                                   "%s.%s: %s is already registered in clinic %s with other "
                                   "details",
                                   op, field, id, clinic);
        call->remember = true;
        return ccm_worker_reply_ok(call, &reply->base);
    }
    if (rc != CCM_ENOTFOUND)
        return ccm_worker_store_fail(call, rc);
    *created_us = call->now_us;
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    protobuf_c_message_pack(msg, buf);
    rc = ccm_store_put(txn, dbi, k.buf, k.len, buf, len, 0);
    if (rc == 0) {
        char key[S_CLINIC_MAX + S_STAFF_ID_MAX + 2];
        snprintf(key, sizeof key, "%s/%s", clinic, id);
        uint64_t seq;
        rc = ccm_stream_append(ccm_worker_stream(w), txn, type, key, call->request_id,
                               call->principal, call->now_us, buf, len, &seq);
    }
    free(buf);
    if (rc != 0)
        return ccm_worker_store_fail(call, rc);
    call->remember = true;
    return ccm_worker_reply_ok(call, &reply->base);
}

static int s_add_practitioner(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                              ccm_worker_call_t *call, const Ccm__Enrollment__AddPractitioner *in)
{
    static const char op[] = "add_practitioner";
    const char *why;
    int rc = ccm_worker_require_request_id(call);
    if (rc)
        return rc;
    if (ccm_ident_key(in->clinic, S_CLINIC_MAX, &why) != 0)
        return s_bad(call, op, "clinic", why);
    if (!s_clinic_known(e, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "%s.clinic: no clinic \"%s\" is configured", op, in->clinic);
    if ((rc = s_npi(call, op, "npi", in->npi)) != 0)
        return rc;
    if (in->role < CCM__ENROLLMENT__ROLE__PHYSICIAN || in->role > CCM__ENROLLMENT__ROLE__CNM)
        return s_bad(call, op, "role",
                     "a billing practitioner is a PHYSICIAN, NP, PA, CNS or CNM "
                     "(docs/medicare-rules.md §1)");
    if ((rc = s_text(call, op, "credentials", in->credentials, S_CREDENTIALS_MAX, false)) ||
        (rc = s_text(call, op, "family_name", in->family_name, S_NAME_MAX, true)) ||
        (rc = s_text(call, op, "given_name", in->given_name, S_NAME_MAX, true)))
        return rc;
    practitioner_t pr = CCM__ENROLLMENT__PRACTITIONER__INIT;
    pr.clinic = in->clinic;
    pr.npi = in->npi;
    pr.role = in->role;
    pr.credentials = in->credentials;
    pr.family_name = in->family_name;
    pr.given_name = in->given_name;
    reply_t r = CCM__ENROLLMENT__REPLY__INIT;
    r.result_case = CCM__ENROLLMENT__REPLY__RESULT_PRACTITIONER;
    r.practitioner = &pr;
    return s_put_record(w, txn, call, e->practitioners, op, "npi", in->clinic, in->npi, &pr.base,
                        &pr.created_us, "practitioner.added", &r);
}

static int s_add_staff(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                       const Ccm__Enrollment__AddStaff *in)
{
    static const char op[] = "add_staff";
    const char *why;
    int rc = ccm_worker_require_request_id(call);
    if (rc)
        return rc;
    if (ccm_ident_key(in->clinic, S_CLINIC_MAX, &why) != 0)
        return s_bad(call, op, "clinic", why);
    if (!s_clinic_known(e, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "%s.clinic: no clinic \"%s\" is configured", op, in->clinic);
    if (ccm_ident_key(in->id, S_STAFF_ID_MAX, &why) != 0)
        return s_bad(call, op, "id", why);
    if (in->role < CCM__ENROLLMENT__ROLE__CLINICAL_STAFF ||
        in->role > CCM__ENROLLMENT__ROLE__NON_CLINICAL)
        return s_bad(call, op, "role",
                     "must be CLINICAL_STAFF, NON_CLINICAL or a practitioner role");
    if ((rc = s_text(call, op, "name", in->name, S_NAME_MAX, true)) ||
        (rc = s_text(call, op, "credentials", in->credentials, S_CREDENTIALS_MAX, false)))
        return rc;
    staff_t st = CCM__ENROLLMENT__STAFF__INIT;
    st.clinic = in->clinic;
    st.id = in->id;
    st.role = in->role;
    st.in_us = !in->outside_us;
    st.name = in->name;
    st.credentials = in->credentials;
    reply_t r = CCM__ENROLLMENT__REPLY__INIT;
    r.result_case = CCM__ENROLLMENT__REPLY__RESULT_STAFF;
    r.staff = &st;
    return s_put_record(w, txn, call, e->staff, op, "id", in->clinic, in->id, &st.base,
                        &st.created_us, "staff.added", &r);
}

/* Collects every record of clinic in dbi (unpacked with desc) into *out. */
static int s_scan_clinic(MDB_txn *txn, MDB_dbi dbi, const char *clinic,
                         const ProtobufCMessageDescriptor *desc, void ***out, size_t *n)
{
    ccm_key_t prefix;
    ccm_key_init(&prefix);
    ccm_key_str(&prefix, clinic);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return CCM_EIO;
    MDB_val k = {prefix.len, prefix.buf}, v;
    int rc = 0;
    for (int m = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); m == 0;
         m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix.len || memcmp(k.mv_data, prefix.buf, prefix.len) != 0)
            break;
        ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data);
        void **a = msg ? realloc(*out, (*n + 1) * sizeof *a) : NULL;
        if (!a) {
            if (msg)
                protobuf_c_message_free_unpacked(msg, NULL);
            rc = CCM_EIO;
            break;
        }
        a[(*n)++] = msg;
        *out = a;
    }
    mdb_cursor_close(cur);
    return rc;
}

static int s_list_people(ccm_enrollment_t *e, MDB_txn *txn, ccm_worker_call_t *call,
                         const Ccm__Enrollment__ListPeople *in)
{
    if (!s_clinic_known(e, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "list_people.clinic: no clinic \"%s\" is configured", in->clinic);
    Ccm__Enrollment__People people = CCM__ENROLLMENT__PEOPLE__INIT;
    int rc =
        s_scan_clinic(txn, e->practitioners, in->clinic, &ccm__enrollment__practitioner__descriptor,
                      (void ***)&people.practitioners, &people.n_practitioners);
    if (rc == 0)
        rc = s_scan_clinic(txn, e->staff, in->clinic, &ccm__enrollment__staff__descriptor,
                           (void ***)&people.staff, &people.n_staff);
    if (rc == 0) {
        reply_t r = CCM__ENROLLMENT__REPLY__INIT;
        r.result_case = CCM__ENROLLMENT__REPLY__RESULT_PEOPLE;
        r.people = &people;
        rc = ccm_worker_reply_ok(call, &r.base);
    } else {
        rc = ccm_worker_store_fail(call, rc);
    }
    for (size_t i = 0; i < people.n_practitioners; i++)
        ccm__enrollment__practitioner__free_unpacked(people.practitioners[i], NULL);
    for (size_t i = 0; i < people.n_staff; i++)
        ccm__enrollment__staff__free_unpacked(people.staff[i], NULL);
    free(people.practitioners);
    free(people.staff);
    return rc;
}

/* ---- patient facts: billing practitioner, payer, death, consent, visits, … ---- */

static int s_set_billing(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                         ccm_worker_call_t *call, const Ccm__Enrollment__SetBillingPractitioner *in)
{
    static const char op[] = "set_billing_practitioner";
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    if ((rc = s_practitioner(e, txn, call, op, "npi", in->clinic, in->npi)) != 0)
        return s_drop(p, rc);
    ccm_facts_ctx_t x = s_ctx(e, call, p->clinic);
    ccm_facts_refusal_t why;
    rc = ccm_facts_set_billing(p, in->npi, in->effective_us, &x, &why);
    return s_settle(e, w, txn, call, p, op, rc, &why, "patient.updated");
}

static int s_set_payer(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                       const Ccm__Enrollment__SetPayer *in)
{
    static const char op[] = "set_payer";
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    ccm_facts_ctx_t x = s_ctx(e, call, p->clinic);
    ccm_facts_refusal_t why;
    rc = ccm_facts_set_payer(p, in->payer, in->qmb, in->effective_us, &x, &why);
    return s_settle(e, w, txn, call, p, op, rc, &why, "patient.updated");
}

/* Complex CCM is the billing practitioner's judgment for a month (moderate or
 * high complexity medical decision making, care plan established or revised). */
static int s_attest_complexity(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                               ccm_worker_call_t *call, const Ccm__Enrollment__AttestComplexity *in)
{
    static const char op[] = "attest_complexity";
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    int32_t month;
    if (strlen(in->month) != 7 || ccm_tz_parse_month(in->month, &month) != 0)
        return s_drop(p, s_bad(call, op, "month", "must be a month YYYY-MM"));
    size_t at = p->n_complex_months;
    for (size_t i = 0; i < p->n_complex_months; i++)
        if (strcmp(p->complex_months[i], in->month) == 0)
            at = i;
    if (in->withdraw) {
        if (at == p->n_complex_months)
            return s_drop(p, ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "month",
                                             "%s.month: no complexity attested for %s", op,
                                             in->month));
        free(p->complex_months[at]);
        p->complex_months[at] = p->complex_months[--p->n_complex_months];
    } else if (at == p->n_complex_months) {
        char *m = ccm_facts_dup(in->month);
        if ((rc = ccm_facts_append((void ***)&p->complex_months, &p->n_complex_months, m)) != 0) {
            free(m);
            return s_drop(p, ccm_worker_fail(call, rc, CCM__CODE__FAILED_PRECONDITION, "month",
                                             "%s: too many months attested", op));
        }
    }
    p->change_effective_us = ccm_facts_month_start(s_ctx(e, call, p->clinic).tz, month);
    return s_finish(e, w, txn, call, p, "patient.updated");
}

static int s_record_death(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                          ccm_worker_call_t *call, const Ccm__Enrollment__RecordDeath *in)
{
    static const char op[] = "record_death";
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    ccm_facts_ctx_t x = s_ctx(e, call, p->clinic);
    ccm_facts_refusal_t why;
    rc = ccm_facts_record_death(p, in->date, in->at_us, &x, &why);
    return s_settle(e, w, txn, call, p, op, rc, &why, "patient.updated");
}

static int s_staff_known(ccm_enrollment_t *e, MDB_txn *txn, ccm_worker_call_t *call, const char *op,
                         const char *clinic, const char *id)
{
    const char *why;
    if (ccm_ident_key(id, S_STAFF_ID_MAX, &why) != 0)
        return s_bad(call, op, "staff_id", why);
    ccm_key_t k;
    s_patient_key(&k, clinic, id);
    MDB_val v;
    int rc = ccm_store_get(txn, e->staff, k.buf, k.len, &v);
    if (rc == CCM_ENOTFOUND)
        return ccm_worker_fail(call, rc, CCM__CODE__NOT_FOUND, "staff_id",
                               "%s.staff_id: no staff member %s in clinic %s", op, id, clinic);
    return rc ? ccm_worker_store_fail(call, rc) : 0;
}

static int s_record_consent(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                            ccm_worker_call_t *call, const Ccm__Enrollment__RecordConsent *in)
{
    static const char op[] = "record_consent";
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    if (in->program < CCM__ENROLLMENT__PROGRAM__CCM || in->program > CCM__ENROLLMENT__PROGRAM__APCM)
        return s_drop(p, s_bad(call, op, "program", "must be CCM, PCM or APCM"));
    if (in->method != CCM__ENROLLMENT__CONSENT_METHOD__VERBAL &&
        in->method != CCM__ENROLLMENT__CONSENT_METHOD__WRITTEN)
        return s_drop(p, s_bad(call, op, "method", "must be VERBAL or WRITTEN"));
    if (in->at_us == 0)
        return s_drop(p, s_bad(call, op, "at_us", "when the patient consented is required"));
    if (in->at_us < 0)
        return s_drop(p, s_bad(call, op, "at_us", "must be after 1970-01-01"));
    if (in->at_us > call->now_us + CCM_FACTS_CLOCK_SKEW_US)
        return s_drop(p, s_bad(call, op, "at_us", "is in the future"));
    if (p->death_date[0])
        return s_drop(p, ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__FAILED_PRECONDITION, "mrn",
                                         "%s.mrn: the patient died on %s", op, p->death_date));
    if (!in->disclosed_cost_sharing)
        return s_drop(p, s_bad(call, op, "disclosed_cost_sharing",
                               "the patient must be told the service is available and that "
                               "cost sharing applies (docs/medicare-rules.md §3 a)"));
    if (!in->disclosed_one_practitioner)
        return s_drop(p, s_bad(call, op, "disclosed_one_practitioner",
                               "the patient must be told only one practitioner can furnish and "
                               "be paid for the service in a month (§3 b)"));
    if (!in->disclosed_right_to_stop)
        return s_drop(p, s_bad(call, op, "disclosed_right_to_stop",
                               "the patient must be told of the right to stop at any time, "
                               "effective at the end of the month (§3 c)"));
    if ((rc = s_staff_known(e, txn, call, op, in->clinic, in->staff_id)) ||
        (rc = s_practitioner(e, txn, call, op, "billing_npi", in->clinic, in->billing_npi)))
        return s_drop(p, rc);
    ccm_facts_refusal_t why;
    if ((rc = ccm_facts_consent_allowed(p, in->billing_npi, in->at_us, &why)) != 0)
        return s_drop(p, s_refused(call, op, rc, &why));
    if (s_active_consent(p, in->program))
        return s_drop(p, ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__CONFLICT, "program",
                                         "%s.program: the patient already has an active %s "
                                         "consent (revoke it first)",
                                         op, s_programs[in->program]));
    consent_t *c = malloc(sizeof *c);
    if (!c)
        abort();
    ccm__enrollment__consent__init(c);
    char id[S_CLINIC_MAX + S_MRN_MAX + 16];
    snprintf(id, sizeof id, "%s/%s/%s/%zu", p->clinic, p->mrn, s_programs[in->program],
             p->n_consents + 1);
    c->id = ccm_facts_dup(id);
    c->program = in->program;
    c->billing_npi = ccm_facts_dup(in->billing_npi);
    c->method = in->method;
    c->at_us = in->at_us;
    c->staff_id = ccm_facts_dup(in->staff_id);
    c->disclosed_cost_sharing = c->disclosed_one_practitioner = c->disclosed_right_to_stop = true;
    c->share_electronically = in->share_electronically;
    c->status = CCM__ENROLLMENT__CONSENT_STATUS__ACTIVE;
    c->recorded_us = call->now_us;
    c->request_id = ccm_facts_dup(call->request_id);
    return s_add_record(e, w, txn, call, p, (void ***)&p->consents, &p->n_consents, &c->base, op,
                        "program", in->at_us, "consent.recorded");
}

static int s_revoke_consent(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                            ccm_worker_call_t *call, const Ccm__Enrollment__RevokeConsent *in)
{
    static const char op[] = "revoke_consent";
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    if (in->program < CCM__ENROLLMENT__PROGRAM__CCM || in->program > CCM__ENROLLMENT__PROGRAM__APCM)
        return s_drop(p, s_bad(call, op, "program", "must be CCM, PCM or APCM"));
    ccm_facts_ctx_t x = s_ctx(e, call, p->clinic);
    ccm_facts_refusal_t why;
    rc = ccm_facts_revoke(p, in->program, in->at_us, &x, &why);
    return s_settle(e, w, txn, call, p, op, rc, &why, "consent.revoked");
}

static int s_add_visit(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                       const Ccm__Enrollment__AddVisit *in)
{
    static const char op[] = "add_visit";
    const char *why;
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    ccm_code_t code = s_code(in->code);
    if (code == CCM_CODE_NONE || !(ccm_rules_code_flags(code) & CCM_CODEF_VISIT))
        return s_drop(p, s_bad(call, op, "code",
                               "not a face-to-face visit code we know (E/M 99202-99215, AWV "
                               "G0438/G0439, IPPE G0402, TCM 99495/99496)"));
    long day;
    if (ccm_ident_date(in->date, &day, &why) != 0)
        return s_drop(p, s_bad(call, op, "date", why));
    const ccm_tz_t *tz = s_ctx(e, call, p->clinic).tz;
    if (day > ccm_facts_local_day(tz, call->now_us))
        return s_drop(p, s_bad(call, op, "date", "is in the future"));
    if ((rc = s_npi(call, op, "npi", in->npi)) != 0)
        return s_drop(p, rc);
    Ccm__Enrollment__Visit *v = malloc(sizeof *v);
    if (!v)
        abort();
    ccm__enrollment__visit__init(v);
    v->code = ccm_facts_dup(ccm_rules_code_name(code));
    v->date = ccm_facts_dup(in->date);
    v->npi = ccm_facts_dup(in->npi);
    v->g0506 = in->g0506;
    v->telehealth = in->telehealth;
    v->recorded_us = call->now_us;
    return s_add_record(e, w, txn, call, p, (void ***)&p->visits, &p->n_visits, &v->base, op,
                        "code", ccm_facts_day_start(tz, (int32_t)day), "visit.added");
}

static int s_add_other_service(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                               ccm_worker_call_t *call, const Ccm__Enrollment__AddOtherService *in)
{
    static const char op[] = "add_other_service";
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    ccm_code_t code = s_code(in->code);
    if (code == CCM_CODE_NONE)
        return s_drop(p, s_bad(call, op, "code",
                               "not a code of the catalogue (docs/medicare-rules.md §7 and §10)"));
    int32_t month;
    if (strlen(in->month) != 7 || ccm_tz_parse_month(in->month, &month) != 0)
        return s_drop(p, s_bad(call, op, "month", "must be a month YYYY-MM"));
    if ((rc = s_npi(call, op, "npi", in->npi)) != 0)
        return s_drop(p, rc);
    Ccm__Enrollment__OtherService *o = malloc(sizeof *o);
    if (!o)
        abort();
    ccm__enrollment__other_service__init(o);
    o->code = ccm_facts_dup(ccm_rules_code_name(code));
    o->month = ccm_facts_dup(in->month);
    o->npi = ccm_facts_dup(in->npi);
    o->recorded_us = call->now_us;
    return s_add_record(
        e, w, txn, call, p, (void ***)&p->other_services, &p->n_other_services, &o->base, op,
        "code", ccm_facts_month_start(s_ctx(e, call, p->clinic).tz, month), "other_service.added");
}

static int s_add_inpatient(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                           ccm_worker_call_t *call, const Ccm__Enrollment__AddInpatientStay *in)
{
    static const char op[] = "add_inpatient_stay";
    patient_t *p = NULL;
    int rc = s_begin(e, txn, call, op, in->clinic, in->mrn, &p);
    if (rc)
        return rc;
    if (in->from_us <= 0)
        return s_drop(p, s_bad(call, op, "from_us", "the admission instant is required"));
    if (in->from_us > call->now_us)
        return s_drop(p, s_bad(call, op, "from_us", "is in the future"));
    if (in->to_us != 0 && in->to_us <= in->from_us)
        return s_drop(p, s_bad(call, op, "to_us", "must be after from_us (or 0: still inpatient)"));
    if ((rc = s_text(call, op, "facility", in->facility, S_FACILITY_MAX, false)) != 0)
        return s_drop(p, rc);
    Ccm__Enrollment__InpatientStay *st = malloc(sizeof *st);
    if (!st)
        abort();
    ccm__enrollment__inpatient_stay__init(st);
    st->from_us = in->from_us;
    st->to_us = in->to_us;
    st->facility = ccm_facts_dup(in->facility);
    st->recorded_us = call->now_us;
    return s_add_record(e, w, txn, call, p, (void ***)&p->inpatient, &p->n_inpatient, &st->base, op,
                        "from_us", in->from_us, "inpatient.added");
}

/* The clinic's to-do list: eligible patients without a consent in force. */
static int s_worklist(ccm_enrollment_t *e, MDB_txn *txn, ccm_worker_call_t *call,
                      const Ccm__Enrollment__Worklist *in)
{
    if (!s_clinic_known(e, in->clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "worklist.clinic: no clinic \"%s\" is configured", in->clinic);
    patient_t **ps = NULL;
    size_t np = 0;
    int rc = s_scan_clinic(txn, e->patients, in->clinic, &ccm__enrollment__patient__descriptor,
                           (void ***)&ps, &np);
    Ccm__Enrollment__WorklistItem *items = calloc(np ? np : 1, sizeof *items);
    Ccm__Enrollment__WorklistItem **ptrs = calloc(np ? np : 1, sizeof *ptrs);
    char(*details)[160] = calloc(np ? np : 1, sizeof *details);
    if (!items || !ptrs || !details)
        abort();
    Ccm__Enrollment__WorklistReply wl = CCM__ENROLLMENT__WORKLIST_REPLY__INIT;
    for (size_t i = 0; rc == 0 && i < np; i++) {
        patient_t *p = ps[i];
        if (p->eligibility == CCM__ENROLLMENT__ELIGIBILITY__NOT_ELIGIBLE || p->death_date[0])
            continue;
        int program = p->eligibility == CCM__ENROLLMENT__ELIGIBILITY__CCM_ELIGIBLE
                          ? CCM__ENROLLMENT__PROGRAM__CCM
                          : CCM__ENROLLMENT__PROGRAM__PCM;
        int enrolled = 0;
        for (int k = CCM__ENROLLMENT__PROGRAM__CCM; k <= CCM__ENROLLMENT__PROGRAM__APCM; k++)
            if (s_active_consent(p, k))
                enrolled = k;
        if (enrolled) {
            /* Enrolled: billable only with an established care plan given to the
             * patient (P-6). */
            ccm_key_t ck;
            ccm_key_init(&ck);
            ccm_key_str(&ck, p->clinic);
            ccm_key_str(&ck, p->mrn);
            ccm_key_u32(&ck, (uint32_t)enrolled);
            MDB_val cv;
            if (ccm_store_get(txn, e->careplans, ck.buf, ck.len, &cv) == 0 && cv.mv_size == 1 &&
                *(const uint8_t *)cv.mv_data)
                continue;
            Ccm__Enrollment__WorklistItem *it = &items[wl.n_items];
            ccm__enrollment__worklist_item__init(it);
            snprintf(details[i], sizeof details[i],
                     "%s consent in force; care plan not established or no copy given (P-6)",
                     s_programs[enrolled]);
            it->mrn = p->mrn;
            it->family_name = p->family_name;
            it->given_name = p->given_name;
            it->reason = "CARE_PLAN_MISSING";
            it->detail = details[i];
            it->eligibility = p->eligibility;
            ptrs[wl.n_items++] = it;
            continue;
        }
        const char *reason = "ELIGIBLE_NOT_ENROLLED";
        snprintf(details[i], sizeof details[i], "%s eligible; no %s consent", s_programs[program],
                 s_programs[program]);
        if (!p->billing_npi[0]) {
            reason = "NO_BILLING_PRACTITIONER";
            snprintf(details[i], sizeof details[i],
                     "%s eligible; assign a billing practitioner, then record consent",
                     s_programs[program]);
        } else {
            for (size_t k = 0; k < p->n_consents; k++)
                if (p->consents[k]->program == (Ccm__Enrollment__Program)program &&
                    p->consents[k]->status ==
                        CCM__ENROLLMENT__CONSENT_STATUS__PRACTITIONER_CHANGED) {
                    reason = "CONSENT_NEEDED";
                    snprintf(details[i], sizeof details[i],
                             "the billing practitioner changed to %s: a new %s consent is needed",
                             p->billing_npi, s_programs[program]);
                }
        }
        Ccm__Enrollment__WorklistItem *it = &items[wl.n_items];
        ccm__enrollment__worklist_item__init(it);
        it->mrn = p->mrn;
        it->family_name = p->family_name;
        it->given_name = p->given_name;
        it->reason = (char *)reason;
        it->detail = details[i];
        it->eligibility = p->eligibility;
        ptrs[wl.n_items++] = it;
    }
    if (rc == 0) {
        wl.items = ptrs;
        reply_t r = CCM__ENROLLMENT__REPLY__INIT;
        r.result_case = CCM__ENROLLMENT__REPLY__RESULT_WORKLIST;
        r.worklist = &wl;
        rc = ccm_worker_reply_ok(call, &r.base);
    } else {
        rc = ccm_worker_store_fail(call, rc);
    }
    for (size_t i = 0; i < np; i++)
        ccm__enrollment__patient__free_unpacked(ps[i], NULL);
    free(ps);
    free(items);
    free(ptrs);
    free(details);
    return rc;
}

int ccm_enrollment_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx)
{
    ccm_enrollment_t *e = ctx;
    request_t *req = ccm__enrollment__request__unpack(NULL, call->len, call->body);
    if (!req)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "body",
                               "body: not a valid enrollment request");
    int rc;
    switch (req->op_case) {
    case CCM__ENROLLMENT__REQUEST__OP_REGISTER_PATIENT:
        rc = s_register(e, w, txn, call, req->register_patient);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_ADD_CONDITION:
        rc = s_add_condition(e, w, txn, call, req->add_condition);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_RESOLVE_CONDITION:
        rc = s_resolve_condition(e, w, txn, call, req->resolve_condition);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_GET_PATIENT:
        rc = s_get(e, txn, call, req->get_patient);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_LIST_PATIENTS:
        rc = s_list(e, txn, call, req->list_patients);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_ADD_PRACTITIONER:
        rc = s_add_practitioner(e, w, txn, call, req->add_practitioner);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_ADD_STAFF:
        rc = s_add_staff(e, w, txn, call, req->add_staff);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_LIST_PEOPLE:
        rc = s_list_people(e, txn, call, req->list_people);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_SET_BILLING_PRACTITIONER:
        rc = s_set_billing(e, w, txn, call, req->set_billing_practitioner);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_RECORD_DEATH:
        rc = s_record_death(e, w, txn, call, req->record_death);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_RECORD_CONSENT:
        rc = s_record_consent(e, w, txn, call, req->record_consent);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_REVOKE_CONSENT:
        rc = s_revoke_consent(e, w, txn, call, req->revoke_consent);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_ADD_VISIT:
        rc = s_add_visit(e, w, txn, call, req->add_visit);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_ADD_OTHER_SERVICE:
        rc = s_add_other_service(e, w, txn, call, req->add_other_service);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_ADD_INPATIENT_STAY:
        rc = s_add_inpatient(e, w, txn, call, req->add_inpatient_stay);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_SET_PAYER:
        rc = s_set_payer(e, w, txn, call, req->set_payer);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_ATTEST_COMPLEXITY:
        rc = s_attest_complexity(e, w, txn, call, req->attest_complexity);
        break;
    case CCM__ENROLLMENT__REQUEST__OP_WORKLIST: rc = s_worklist(e, txn, call, req->worklist); break;
    default:
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "op",
                             "op: the request names no enrollment operation");
        break;
    }
    ccm__enrollment__request__free_unpacked(req, NULL);
    return rc;
}
