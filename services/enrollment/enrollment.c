/* enrollment — handlers for service "enrollment".
 * Each handler reads like its business step: decode, authorise, validate, apply,
 * reply. Invariants: (clinic, MRN) identifies a patient; an MBI belongs to one
 * patient per clinic; every change appends the patient as it now is to the
 * stream in the same transaction. */
#include "enrollment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/ident.h"
#include "ccm/log.h"

/* Field limits (bytes). */
#define S_CLINIC_MAX 32
#define S_MRN_MAX 64
#define S_NAME_MAX 100
#define S_DESC_MAX 200
#define S_CONDITIONS_MAX 64
#define S_LIST_DEFAULT 100
#define S_LIST_MAX 1000

const char *const ccm_enrollment_dbs[] = {"patients", "mbi", NULL};

struct ccm_enrollment {
    char **clinics; /* configured clinic ids, owned */
    size_t nclinics;
    MDB_dbi patients; /* clinic NUL mrn NUL -> Patient */
    MDB_dbi mbi;      /* mbi NUL clinic NUL -> mrn */
};

typedef Ccm__Enrollment__Request request_t;
typedef Ccm__Enrollment__Reply reply_t;
typedef Ccm__Enrollment__Patient patient_t;
typedef Ccm__Enrollment__Condition condition_t;

ccm_enrollment_t *ccm_enrollment_new(void)
{
    return calloc(1, sizeof(ccm_enrollment_t));
}

void ccm_enrollment_destroy(ccm_enrollment_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->nclinics; i++)
        free((*p)->clinics[i]);
    free((*p)->clinics);
    free(*p);
    *p = NULL;
}

int ccm_enrollment_add_clinic(ccm_enrollment_t *e, const char *id)
{
    if (ccm_ident_key(id, S_CLINIC_MAX, NULL) != 0)
        return CCM_EINVAL;
    char **n = realloc(e->clinics, (e->nclinics + 1) * sizeof *n);
    if (!n)
        return CCM_ENOMEM;
    e->clinics = n;
    if (!(n[e->nclinics] = strdup(id)))
        return CCM_ENOMEM;
    e->nclinics++;
    return 0;
}

int ccm_enrollment_bind(ccm_enrollment_t *e, ccm_worker_t *w)
{
    ccm_store_t *s = ccm_worker_store(w);
    int rc = ccm_store_dbi(s, "patients", &e->patients);
    return rc ? rc : ccm_store_dbi(s, "mbi", &e->mbi);
}

/* ---- helpers ---- */

static int s_reply_ok(ccm_worker_call_t *call, reply_t *r)
{
    Ccm__Status st = CCM__STATUS__INIT;
    st.message = "";
    st.field = "";
    r->request_id = (char *)call->request_id;
    r->status = &st;
    return ccm_worker_reply_msg(call, &r->base);
}

static int s_store_fail(ccm_worker_call_t *call, int rc)
{
    if (rc == CCM_EMAPFULL)
        return rc;
    ccm_error("event=store_error error=\"%s\"", ccm_strerror(rc));
    return ccm_worker_fail(call, rc, CCM__CODE__INTERNAL, NULL, "store: %s", ccm_strerror(rc));
}

static bool s_clinic_known(const ccm_enrollment_t *e, const char *id)
{
    for (size_t i = 0; i < e->nclinics; i++)
        if (strcmp(e->clinics[i], id) == 0)
            return true;
    return false;
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
    return s_reply_ok(call, &r);
}

/* The end of every change: store, append event `type`, answer with the patient. */
static int s_commit(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                    patient_t *p, const char *type)
{
    int rc = s_save(e, w, txn, call, p, type);
    if (rc != 0)
        return s_store_fail(call, rc);
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

static int s_require_request_id(ccm_worker_call_t *call)
{
    if (call->request_id[0])
        return 0;
    return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "request_id",
                           "request_id: required on every change (it makes retries safe)");
}

/* ---- operations ---- */

static int s_register(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                      const Ccm__Enrollment__RegisterPatient *in)
{
    const char *why;
    int rc = s_require_request_id(call);
    if (rc)
        return rc;
    if ((rc = s_check_patient_key(e, call, "register_patient", in->clinic, in->mrn)) != 0)
        return rc;
    char mbi[12];
    if (ccm_ident_mbi(in->mbi, mbi, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "mbi",
                               "register_patient.mbi: %s", why);
    if (ccm_ident_text(in->family_name, S_NAME_MAX, true, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "family_name",
                               "register_patient.family_name: %s (at most %d bytes)", why,
                               S_NAME_MAX);
    if (ccm_ident_text(in->given_name, S_NAME_MAX, true, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "given_name",
                               "register_patient.given_name: %s (at most %d bytes)", why,
                               S_NAME_MAX);
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
        return s_store_fail(call, rc);

    patient_t *old = NULL;
    rc = s_load(e, txn, in->clinic, in->mrn, &old);
    if (rc == 0) {
        /* Registered before: the same facts are an idempotent success, others a conflict. */
        const char *field = strcmp(old->mbi, mbi)                       ? "mbi"
                            : strcmp(old->family_name, in->family_name) ? "family_name"
                            : strcmp(old->given_name, in->given_name)   ? "given_name"
                            : strcmp(old->birth_date, in->birth_date)   ? "birth_date"
                                                                        : NULL;
        if (field) {
            ccm__enrollment__patient__free_unpacked(old, NULL);
            return ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__CONFLICT, field,
                                   "register_patient.%s: MRN %s of clinic %s is already "
                                   "registered with another %s",
                                   field, in->mrn, in->clinic, field);
        }
        rc = s_reply_patient(call, old);
        ccm__enrollment__patient__free_unpacked(old, NULL);
        call->remember = true;
        return rc;
    }
    if (rc != CCM_ENOTFOUND)
        return s_store_fail(call, rc);

    patient_t p = CCM__ENROLLMENT__PATIENT__INIT;
    p.clinic = in->clinic;
    p.mrn = in->mrn;
    p.mbi = mbi;
    p.family_name = in->family_name;
    p.given_name = in->given_name;
    p.birth_date = in->birth_date;
    p.created_us = p.updated_us = call->now_us;
    if ((rc = s_save(e, w, txn, call, &p, "patient.registered")) != 0)
        return s_store_fail(call, rc);
    rc = ccm_store_put(txn, e->mbi, mk.buf, mk.len, in->mrn, strlen(in->mrn), 0);
    if (rc != 0)
        return s_store_fail(call, rc);
    call->remember = true;
    return s_reply_patient(call, &p);
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
    return rc ? s_store_fail(call, rc) : 0;
}

static condition_t *s_active(patient_t *p, const char *icd10)
{
    for (size_t i = 0; i < p->n_conditions; i++)
        if (p->conditions[i]->resolved_us == 0 && strcmp(p->conditions[i]->icd10, icd10) == 0)
            return p->conditions[i];
    return NULL;
}

static int s_add_condition(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                           ccm_worker_call_t *call, const Ccm__Enrollment__AddCondition *in)
{
    const char *why;
    int rc = s_require_request_id(call);
    if (rc)
        return rc;
    char code[9];
    patient_t *p = NULL;
    if ((rc = s_load_for(e, txn, call, "add_condition", in->clinic, in->mrn, &p)) != 0)
        return rc;
    if ((rc = s_icd10(call, "add_condition", in->icd10, code)) != 0)
        goto out;
    if (ccm_ident_text(in->description, S_DESC_MAX, false, &why) != 0) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "description",
                             "add_condition.description: %s (at most %d bytes)", why, S_DESC_MAX);
        goto out;
    }
    if (s_active(p, code)) { /* already active: nothing changes */
        call->remember = true;
        rc = s_reply_patient(call, p);
        goto out;
    }
    if (p->n_conditions >= S_CONDITIONS_MAX) {
        rc = ccm_worker_fail(call, CCM_ETOOBIG, CCM__CODE__FAILED_PRECONDITION, "icd10",
                             "add_condition.icd10: the patient already has %d conditions",
                             S_CONDITIONS_MAX);
        goto out;
    }
    condition_t c = CCM__ENROLLMENT__CONDITION__INIT;
    c.icd10 = code;
    c.description = in->description;
    c.added_us = call->now_us;
    c.added_request = (char *)call->request_id;
    condition_t **list = realloc(p->conditions, (p->n_conditions + 1) * sizeof *list);
    if (!list) {
        rc = CCM_ENOMEM;
        goto out;
    }
    p->conditions = list;
    list[p->n_conditions++] = &c;
    p->updated_us = call->now_us;
    rc = s_commit(e, w, txn, call, p, "condition.added");
    p->n_conditions--; /* c lives on this stack frame: not for free_unpacked */
out:
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

static int s_resolve_condition(ccm_enrollment_t *e, ccm_worker_t *w, MDB_txn *txn,
                               ccm_worker_call_t *call, const Ccm__Enrollment__ResolveCondition *in)
{
    int rc = s_require_request_id(call);
    if (rc)
        return rc;
    char code[9];
    patient_t *p = NULL;
    if ((rc = s_load_for(e, txn, call, "resolve_condition", in->clinic, in->mrn, &p)) != 0)
        return rc;
    if ((rc = s_icd10(call, "resolve_condition", in->icd10, code)) != 0)
        goto out;
    condition_t *c = s_active(p, code);
    if (!c) {
        rc = ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "icd10",
                             "resolve_condition.icd10: patient %s has no active condition %s",
                             in->mrn, code);
        goto out;
    }
    char *saved = c->resolved_request;
    c->resolved_us = call->now_us;
    c->resolved_request = (char *)call->request_id;
    p->updated_us = call->now_us;
    rc = s_commit(e, w, txn, call, p, "condition.resolved");
    c->resolved_request = saved; /* owned by the unpacked message */
out:
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
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
        return s_store_fail(call, CCM_EIO);
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
            rc = s_store_fail(call, CCM_EIO);
            break;
        }
        items[list.n_patients++] = p;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = s_store_fail(call, CCM_EIO);
    if (rc == 0) {
        list.patients = items;
        reply_t r = CCM__ENROLLMENT__REPLY__INIT;
        r.result_case = CCM__ENROLLMENT__REPLY__RESULT_PATIENTS;
        r.patients = &list;
        rc = s_reply_ok(call, &r);
    }
    for (size_t i = 0; i < list.n_patients; i++)
        ccm__enrollment__patient__free_unpacked(items[i], NULL);
    free(items);
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
    default:
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "op",
                             "op: the request names no enrollment operation");
        break;
    }
    ccm__enrollment__request__free_unpacked(req, NULL);
    return rc;
}
