/* careplan — handlers for service "careplan".
 * Invariants: (clinic, MRN, program) identifies a care plan; versions are
 * numbered 1, 2, … and never change once written; a plan exists only for a
 * patient the enrollment stream announced; every change stores the plan state
 * and appends one event to the stream in the same transaction; a refused
 * request changes nothing. */
#include "careplan.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/careplan.pb-c.h"
#include "ccm/clinics.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/ident.h"
#include "ccm/log.h"
#include "ccm/tz.h"

/* Field limits (bytes, items). */
#define S_CLINIC_MAX CCM_CLINIC_ID_MAX
#define S_MRN_MAX 64
#define S_AUTHOR_MAX 100
#define S_NOTE_MAX 1000
#define S_TEXT_MAX 4000      /* a text element of the plan */
#define S_ITEM_TEXT_MAX 1000 /* a field of a list item or of the caregiver */
#define S_ITEMS_MAX 100      /* items per list element */
#define S_COPIES_MAX 500
#define S_INTERVAL_MAX 3650
#define S_HISTORY_MAX 1000
#define S_DUE_MAX 1000
/* Care plans the review check notifies per run at most (the rest next run). */
#define S_TICK_MAX 1000
#define S_DATE_LEN 10

const char *const ccm_careplan_dbs[] = {"plans", "versions", "patients", "review", NULL};

typedef Ccm__Careplan__Request request_t;
typedef Ccm__Careplan__Reply reply_t;
typedef Ccm__Careplan__Plan plan_t;
typedef Ccm__Careplan__Version version_t;
typedef Ccm__Careplan__CarePlan header_t;
typedef Ccm__Careplan__PatientRef patient_t;

/* A configured clinic; its zone decides "today" for review and copy dates. */
typedef ccm_clinic_info_t clinic_t;

struct ccm_careplan {
    ccm_clinics_t *clinics; /* configured clinics, owned */
    int review_check_ms;
    MDB_dbi plans;    /* clinic NUL mrn NUL program(u32) -> CarePlan */
    MDB_dbi versions; /* clinic NUL mrn NUL program(u32) version(u32) -> Version */
    MDB_dbi patients; /* clinic NUL mrn NUL -> PatientRef */
    MDB_dbi review;   /* day(i64) clinic NUL mrn NUL program(u32) -> "": review dates
                         not yet notified */
};

/* ---- required elements (docs/medicare-rules.md §5): establishing needs every one ---- */

static bool s_has_problems(const plan_t *p)
{
    return p->n_problems > 0;
}
static bool s_has_outcome(const plan_t *p)
{
    return p->expected_outcome[0] != '\0';
}
static bool s_has_goals(const plan_t *p)
{
    return p->n_goals > 0;
}
static bool s_has_symptoms(const plan_t *p)
{
    return p->symptom_management[0] != '\0';
}
static bool s_has_interventions(const plan_t *p)
{
    return p->n_interventions > 0;
}
static bool s_has_medication_management(const plan_t *p)
{
    return p->n_medications > 0 || p->medication_management[0] != '\0';
}
static bool s_has_functional(const plan_t *p)
{
    return p->functional_assessment[0] != '\0';
}
static bool s_has_review(const plan_t *p)
{
    return p->review && (p->review->interval_days > 0 || p->review->next_review[0] != '\0');
}

static const struct {
    const char *element; /* the Plan field a reader is pointed at */
    const char *what;    /* what is needed */
    bool (*present)(const plan_t *p);
} s_required[] = {
    {"problems", "at least one problem", s_has_problems},
    {"expected_outcome", "the expected outcome", s_has_outcome},
    {"goals", "at least one measurable goal", s_has_goals},
    {"symptom_management", "symptom management", s_has_symptoms},
    {"interventions", "at least one planned intervention", s_has_interventions},
    {"medication_management", "medications or medication management", s_has_medication_management},
    {"functional_assessment", "the functional assessment", s_has_functional},
    {"review", "a review schedule: interval_days or next_review", s_has_review},
};
#define S_NREQUIRED (sizeof s_required / sizeof s_required[0])

/* ---- context ---- */

ccm_careplan_t *ccm_careplan_new(void)
{
    ccm_careplan_t *cp = calloc(1, sizeof *cp);
    if (!cp)
        return NULL;
    if (!(cp->clinics = ccm_clinics_new())) {
        free(cp);
        return NULL;
    }
    cp->review_check_ms = CCM_CAREPLAN_REVIEW_CHECK_MS;
    return cp;
}

void ccm_careplan_destroy(ccm_careplan_t **p)
{
    if (!p || !*p)
        return;
    ccm_clinics_destroy(&(*p)->clinics);
    free(*p);
    *p = NULL;
}

int ccm_careplan_add_clinic(ccm_careplan_t *cp, const char *id, const char *timezone)
{
    return ccm_clinics_add(cp->clinics, id, timezone, NULL);
}

void ccm_careplan_set_clinics(ccm_careplan_t *cp, ccm_clinics_t *clinics)
{
    ccm_clinics_destroy(&cp->clinics);
    cp->clinics = clinics;
}

int ccm_careplan_set_review_check(ccm_careplan_t *cp, int interval_ms)
{
    if (interval_ms <= 0)
        return CCM_EINVAL;
    cp->review_check_ms = interval_ms;
    return 0;
}

static int s_on_enrollment(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx);

int ccm_careplan_bind(ccm_careplan_t *cp, ccm_worker_t *w)
{
    static const char *const types[] = {"patient.*", NULL};
    ccm_store_t *s = ccm_worker_store(w);
    int rc = ccm_store_dbi(s, "plans", &cp->plans);
    if (!rc)
        rc = ccm_store_dbi(s, "versions", &cp->versions);
    if (!rc)
        rc = ccm_store_dbi(s, "patients", &cp->patients);
    if (!rc)
        rc = ccm_store_dbi(s, "review", &cp->review);
    if (!rc)
        rc = ccm_worker_follow(w, "enrollment", types, s_on_enrollment, cp);
    if (!rc)
        rc = ccm_worker_every(w, cp->review_check_ms, ccm_careplan_review_tick, cp);
    if (rc)
        ccm_error("event=bind_failed service=careplan error=\"%s\"", ccm_strerror(rc));
    return rc;
}

/* ---- helpers ---- */

/* The clinic's calendar day of instant now_us (UTC's for an unknown clinic). */
static long s_today(const clinic_t *c, int64_t now_us)
{
    int64_t t = now_us / 1000000;
    if (c)
        return ccm_tz_local_day(c->tz, t);
    return (long)(t >= 0 ? t / 86400 : -((-t + 86399) / 86400));
}

static void s_date(long days, char out[S_DATE_LEN + 1])
{
    int32_t y, m, d;
    ccm_tz_civil_from_days((int32_t)days, &y, &m, &d);
    snprintf(out, S_DATE_LEN + 1, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
}

static const char *s_program_name(int program)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&ccm__careplan__program__descriptor, program);
    return v ? v->name : "?";
}

static void s_patient_key(ccm_key_t *k, const char *clinic, const char *mrn)
{
    ccm_key_init(k);
    ccm_key_str(k, clinic);
    ccm_key_str(k, mrn);
}

static void s_plan_key(ccm_key_t *k, const char *clinic, const char *mrn, int program)
{
    s_patient_key(k, clinic, mrn);
    ccm_key_u32(k, (uint32_t)program);
}

static void s_version_key(ccm_key_t *k, const char *clinic, const char *mrn, int program,
                          uint32_t version)
{
    s_plan_key(k, clinic, mrn, program);
    ccm_key_u32(k, version);
}

static void s_review_key(ccm_key_t *k, long day, const char *clinic, const char *mrn, int program)
{
    ccm_key_init(k);
    ccm_key_i64(k, day);
    ccm_key_str(k, clinic);
    ccm_key_str(k, mrn);
    ccm_key_u32(k, (uint32_t)program);
}

/* Loads a stored message of type desc; *out is freed with protobuf_c_message_free_unpacked.
 * 0, CCM_ENOTFOUND, CCM_EIO (corrupt record, logged). */
static int s_load(MDB_txn *txn, MDB_dbi dbi, const ccm_key_t *k,
                  const ProtobufCMessageDescriptor *desc, void **out)
{
    MDB_val v;
    int rc = ccm_store_get(txn, dbi, k->buf, k->len, &v);
    if (rc != 0)
        return rc;
    *out = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data);
    if (!*out) {
        ccm_error("event=corrupt_record type=%s", desc->name);
        return CCM_EIO;
    }
    return 0;
}

/* Packs msg into a new buffer (caller frees) and stores it under k. */
static int s_put(MDB_txn *txn, MDB_dbi dbi, const ccm_key_t *k, const ProtobufCMessage *msg,
                 uint8_t **packed, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    *packed = malloc(*len ? *len : 1);
    if (!*packed)
        return CCM_ENOMEM;
    protobuf_c_message_pack(msg, *packed);
    return ccm_store_put(txn, dbi, k->buf, k->len, *packed, *len, 0);
}

/* Stores msg under k and appends it to the stream as event `type` of the plan. */
static int s_save(ccm_worker_t *w, MDB_txn *txn, MDB_dbi dbi, const ccm_key_t *k,
                  const ProtobufCMessage *msg, const header_t *h, const char *type,
                  const char *request_id, const char *principal, int64_t now_us)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = s_put(txn, dbi, k, msg, &buf, &len);
    if (rc == 0) {
        char key[S_CLINIC_MAX + S_MRN_MAX + 16];
        snprintf(key, sizeof key, "%s/%s/%s", h->clinic, h->mrn, s_program_name(h->program));
        uint64_t seq;
        rc = ccm_stream_append(ccm_worker_stream(w), txn, type, key, request_id, principal, now_us,
                               buf, len, &seq);
    }
    free(buf);
    return rc;
}

static int s_put_header(ccm_careplan_t *cp, MDB_txn *txn, const header_t *h)
{
    ccm_key_t k;
    s_plan_key(&k, h->clinic, h->mrn, h->program);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = s_put(txn, cp->plans, &k, &h->base, &buf, &len);
    free(buf);
    return rc;
}

/* Validates clinic, mrn and program of operation op and checks that enrollment
 * knows the patient; *pat (may be NULL) receives it (caller frees). */
static int s_check_target(ccm_careplan_t *cp, MDB_txn *txn, ccm_worker_call_t *call, const char *op,
                          const char *clinic, const char *mrn, int program, patient_t **pat)
{
    const char *why;
    if (ccm_ident_key(clinic, S_CLINIC_MAX, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "clinic",
                               "%s.clinic: %s", op, why);
    if (!ccm_clinics_find(cp->clinics, clinic))
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "%s.clinic: no clinic \"%s\" is configured", op, clinic);
    if (ccm_ident_key(mrn, S_MRN_MAX, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "mrn", "%s.mrn: %s",
                               op, why);
    if (program < CCM__CAREPLAN__PROGRAM__CCM || program > CCM__CAREPLAN__PROGRAM__APCM)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "program",
                               "%s.program: must be CCM, PCM or APCM", op);
    ccm_key_t k;
    s_patient_key(&k, clinic, mrn);
    void *p = NULL;
    int rc = s_load(txn, cp->patients, &k, &ccm__careplan__patient_ref__descriptor, &p);
    if (rc == CCM_ENOTFOUND)
        return ccm_worker_fail(call, rc, CCM__CODE__NOT_FOUND, "mrn",
                               "%s.mrn: enrollment knows no patient %s in clinic %s", op, mrn,
                               clinic);
    if (rc != 0)
        return ccm_worker_store_fail(call, rc);
    if (pat)
        *pat = p;
    else
        protobuf_c_message_free_unpacked(p, NULL);
    return 0;
}

/* Loads the care plan an operation names, or fails the call with NOT_FOUND. */
static int s_load_header(ccm_careplan_t *cp, MDB_txn *txn, ccm_worker_call_t *call, const char *op,
                         const char *clinic, const char *mrn, int program, header_t **h)
{
    ccm_key_t k;
    s_plan_key(&k, clinic, mrn, program);
    int rc = s_load(txn, cp->plans, &k, &ccm__careplan__care_plan__descriptor, (void **)h);
    if (rc == CCM_ENOTFOUND)
        return ccm_worker_fail(call, rc, CCM__CODE__NOT_FOUND, "program",
                               "%s.program: patient %s of clinic %s has no %s care plan", op, mrn,
                               clinic, s_program_name(program));
    return rc ? ccm_worker_store_fail(call, rc) : 0;
}

/* Loads version n of a plan, or fails the call with NOT_FOUND naming `field`. */
static int s_load_version(ccm_careplan_t *cp, MDB_txn *txn, ccm_worker_call_t *call, const char *op,
                          const char *field, const header_t *h, uint32_t n, version_t **v)
{
    ccm_key_t k;
    s_version_key(&k, h->clinic, h->mrn, h->program, n);
    int rc = n == 0
                 ? CCM_ENOTFOUND
                 : s_load(txn, cp->versions, &k, &ccm__careplan__version__descriptor, (void **)v);
    if (rc == CCM_ENOTFOUND)
        return ccm_worker_fail(call, rc, CCM__CODE__NOT_FOUND, field,
                               "%s.%s: the care plan has no version %u (versions 1 to %u)", op,
                               field, n, h->current_version);
    return rc ? ccm_worker_store_fail(call, rc) : 0;
}

/* Required elements version v lacks: their names in missing[] (static strings). */
static size_t s_missing(const version_t *v, const char **missing)
{
    static const plan_t empty = CCM__CAREPLAN__PLAN__INIT;
    const plan_t *p = v && v->plan ? v->plan : &empty;
    size_t n = 0;
    for (size_t i = 0; i < S_NREQUIRED; i++)
        if (!s_required[i].present(p))
            missing[n++] = s_required[i].element;
    return n;
}

/* Answers with the plan state, version v (with its plan) and what it lacks. */
static int s_reply_view(ccm_worker_call_t *call, header_t *h, version_t *v, patient_t *pat)
{
    const char *missing[S_NREQUIRED];
    Ccm__Careplan__CarePlanView view = CCM__CAREPLAN__CARE_PLAN_VIEW__INIT;
    view.careplan = h;
    view.version = v;
    view.patient = pat;
    view.n_missing = s_missing(v, missing);
    view.missing = (char **)missing;
    reply_t r = CCM__CAREPLAN__REPLY__INIT;
    r.result_case = CCM__CAREPLAN__REPLY__RESULT_CAREPLAN;
    r.careplan = &view;
    return ccm_worker_reply_ok(call, &r.base);
}

/* ---- plan validation, driven by the Plan descriptor ---- */

static char **s_str(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    return (char **)((char *)m + f->offset);
}

static bool s_is_date_field(const char *name)
{
    return strcmp(name, "target_date") == 0 || strcmp(name, "next_review") == 0;
}

/* Checks one string field at path; normalises ICD-10-CM codes in place (the
 * message was unpacked with the system allocator, so the string can be replaced). */
static int s_check_string(ccm_worker_call_t *call, const char *path, char **s, const char *name,
                          size_t max, bool required)
{
    const char *why;
    if (strcmp(name, "icd10") == 0) {
        char code[9];
        if (ccm_ident_icd10(*s, code, &why) != 0)
            return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, path + 9,
                                   "%s: \"%.20s\" is not an ICD-10-CM code: %s", path, *s, why);
        char *n = strdup(code);
        if (!n)
            return CCM_ENOMEM;
        free(*s);
        *s = n;
        return 0;
    }
    if (s_is_date_field(name)) {
        if ((*s)[0] && ccm_ident_date(*s, NULL, &why) != 0)
            return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, path + 9,
                                   "%s: \"%.20s\" %s", path, *s, why);
        return 0;
    }
    if (ccm_ident_text(*s, max, required, &why) != 0) {
        char limit[48] = "";
        if (strcmp(why, "is too long") == 0)
            snprintf(limit, sizeof limit, " (at most %zu bytes)", max);
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, path + 9, "%s: %s%s",
                               path, why, limit);
    }
    return 0;
}

/* Checks every field of an item message (a list item, the caregiver or the
 * review schedule). In list items the first field is the item's identity and
 * required; an intervention also needs who is responsible. */
static int s_check_item(ccm_worker_call_t *call, const char *base, ProtobufCMessage *m,
                        bool list_item)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char path[160];
        int len = snprintf(path, sizeof path, "%s.%s", base, f->name);
        if (len < 0 || (size_t)len >= sizeof path) /* our own field names: never */
            return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INTERNAL, "plan",
                                   "%s: field path too long", base);
        if (f->type == PROTOBUF_C_TYPE_UINT32) { /* review.interval_days */
            uint32_t v = *(const uint32_t *)((const char *)m + f->offset);
            if (v > S_INTERVAL_MAX)
                return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, path + 9,
                                       "%s: at most %d days", path, S_INTERVAL_MAX);
            continue;
        }
        if (f->type != PROTOBUF_C_TYPE_STRING)
            continue;
        bool required = list_item && (i == 0 || (d == &ccm__careplan__intervention__descriptor &&
                                                 strcmp(f->name, "responsible") == 0));
        int rc = s_check_string(call, path, s_str(m, f), f->name, S_ITEM_TEXT_MAX, required);
        if (rc)
            return rc;
    }
    return 0;
}

/* The identity of a list item: its first field. */
static const char *s_identity(const ProtobufCMessage *m)
{
    return *s_str(m, &m->descriptor->fields[0]);
}

/* Checks a whole plan of set_plan: lengths, dates, codes, list sizes, unique items. */
static int s_check_plan(ccm_worker_call_t *call, plan_t *p)
{
    const ProtobufCMessageDescriptor *d = p->base.descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char path[160];
        snprintf(path, sizeof path, "set_plan.plan.%s", f->name);
        const char *base = (const char *)p;
        int rc = 0;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            rc = s_check_string(call, path, s_str(&p->base, f), f->name, S_TEXT_MAX, false);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage **items = *(ProtobufCMessage ***)(base + f->offset);
            if (n > S_ITEMS_MAX)
                return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, path + 9,
                                       "%s: at most %d items", path, S_ITEMS_MAX);
            for (size_t k = 0; k < n && rc == 0; k++) {
                char ipath[200];
                snprintf(ipath, sizeof ipath, "%s[%zu]", path, k);
                rc = s_check_item(call, ipath, items[k], true);
                for (size_t j = 0; j < k && rc == 0; j++)
                    if (strcmp(s_identity(items[j]), s_identity(items[k])) == 0)
                        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT,
                                             ipath + 9, "%s: \"%.40s\" is listed twice", ipath,
                                             s_identity(items[k]));
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            ProtobufCMessage *m = *(ProtobufCMessage **)(base + f->offset);
            if (m)
                rc = s_check_item(call, path, m, false);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- operations ---- */

static int s_set_plan(ccm_careplan_t *cp, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                      Ccm__Careplan__SetPlan *in)
{
    const char *why;
    int rc = ccm_worker_require_request_id(call);
    if (rc)
        return rc;
    patient_t *pat = NULL;
    header_t *h = NULL;
    if ((rc = s_check_target(cp, txn, call, "set_plan", in->clinic, in->mrn, in->program, &pat)))
        return rc;
    if (ccm_ident_text(in->author, S_AUTHOR_MAX, false, &why) != 0) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "author",
                             "set_plan.author: %s (at most %d bytes)", why, S_AUTHOR_MAX);
        goto out;
    }
    if (ccm_ident_text(in->note, S_NOTE_MAX, false, &why) != 0) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "note",
                             "set_plan.note: %s (at most %d bytes)", why, S_NOTE_MAX);
        goto out;
    }
    if (!in->plan) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "plan",
                             "set_plan.plan: required (the content of the new version)");
        goto out;
    }
    if ((rc = s_check_plan(call, in->plan)) != 0)
        goto out;

    const clinic_t *clinic = ccm_clinics_find(cp->clinics, in->clinic);
    ccm_key_t k;
    s_plan_key(&k, in->clinic, in->mrn, in->program);
    header_t fresh = CCM__CAREPLAN__CARE_PLAN__INIT;
    rc = s_load(txn, cp->plans, &k, &ccm__careplan__care_plan__descriptor, (void **)&h);
    if (rc == CCM_ENOTFOUND) {
        fresh.clinic = in->clinic;
        fresh.mrn = in->mrn;
        fresh.program = in->program;
        fresh.status = CCM__CAREPLAN__STATUS__DRAFT;
        fresh.created_us = call->now_us;
        rc = 0;
    } else if (rc != 0) {
        rc = ccm_worker_store_fail(call, rc);
        goto out;
    }
    header_t *hp = h ? h : &fresh;

    /* The review date this version sets: explicit, or the interval from today. */
    char next[S_DATE_LEN + 1] = "";
    const Ccm__Careplan__ReviewSchedule *rs = in->plan->review;
    if (rs && rs->next_review[0])
        snprintf(next, sizeof next, "%s", rs->next_review);
    else if (rs && rs->interval_days > 0)
        s_date(s_today(clinic, call->now_us) + (long)rs->interval_days, next);

    version_t v = CCM__CAREPLAN__VERSION__INIT;
    v.clinic = in->clinic;
    v.mrn = in->mrn;
    v.program = in->program;
    v.version = hp->current_version + 1;
    v.author = in->author[0] ? in->author : (char *)call->principal;
    v.time_us = call->now_us;
    v.substantial = in->substantial;
    v.note = in->note;
    v.principal = (char *)call->principal;
    v.request_id = (char *)call->request_id;
    v.plan = in->plan;
    v.next_review = next;
    ccm_key_t vk;
    s_version_key(&vk, in->clinic, in->mrn, in->program, v.version);
    rc = s_save(w, txn, cp->versions, &vk, &v.base, hp, "careplan.version", call->request_id,
                call->principal, call->now_us);

    /* Keep the review index to the dates not yet notified. */
    long day;
    if (rc == 0 && strcmp(hp->next_review, next) != 0 &&
        ccm_ident_date(hp->next_review, &day, NULL) == 0) {
        ccm_key_t rk;
        s_review_key(&rk, day, in->clinic, in->mrn, in->program);
        rc = ccm_store_del(txn, cp->review, rk.buf, rk.len);
        if (rc == CCM_ENOTFOUND)
            rc = 0;
    }
    if (rc == 0 && next[0] && strcmp(hp->review_notified, next) != 0 &&
        ccm_ident_date(next, &day, NULL) == 0) {
        ccm_key_t rk;
        s_review_key(&rk, day, in->clinic, in->mrn, in->program);
        rc = ccm_store_put(txn, cp->review, rk.buf, rk.len, "", 0, 0);
    }
    char *saved_next = hp->next_review;
    hp->current_version = v.version;
    hp->updated_us = call->now_us;
    hp->next_review = next;
    if (rc == 0)
        rc = s_put_header(cp, txn, hp);
    if (rc == 0) {
        call->remember = true;
        rc = s_reply_view(call, hp, &v, pat);
    } else {
        rc = ccm_worker_store_fail(call, rc);
    }
    hp->next_review = saved_next; /* owned by the unpacked header */
out:
    if (h)
        ccm__careplan__care_plan__free_unpacked(h, NULL);
    if (pat)
        ccm__careplan__patient_ref__free_unpacked(pat, NULL);
    return rc;
}

static int s_get_plan(ccm_careplan_t *cp, MDB_txn *txn, ccm_worker_call_t *call,
                      const Ccm__Careplan__GetPlan *in)
{
    patient_t *pat = NULL;
    header_t *h = NULL;
    version_t *v = NULL;
    int rc = s_check_target(cp, txn, call, "get_plan", in->clinic, in->mrn, in->program, &pat);
    if (rc)
        return rc;
    if ((rc = s_load_header(cp, txn, call, "get_plan", in->clinic, in->mrn, in->program, &h)))
        goto out;
    uint32_t n = in->version ? in->version : h->current_version;
    if ((rc = s_load_version(cp, txn, call, "get_plan", "version", h, n, &v)))
        goto out;
    rc = s_reply_view(call, h, v, pat);
out:
    if (v)
        ccm__careplan__version__free_unpacked(v, NULL);
    if (h)
        ccm__careplan__care_plan__free_unpacked(h, NULL);
    if (pat)
        ccm__careplan__patient_ref__free_unpacked(pat, NULL);
    return rc;
}

static int s_history(ccm_careplan_t *cp, MDB_txn *txn, ccm_worker_call_t *call,
                     const Ccm__Careplan__History *in)
{
    header_t *h = NULL;
    int rc = s_check_target(cp, txn, call, "history", in->clinic, in->mrn, in->program, NULL);
    if (rc)
        return rc;
    if ((rc = s_load_header(cp, txn, call, "history", in->clinic, in->mrn, in->program, &h)))
        return rc;
    uint32_t first =
        h->current_version > S_HISTORY_MAX ? h->current_version - S_HISTORY_MAX + 1 : 1;
    size_t n = h->current_version - first + 1;
    version_t **items = calloc(n, sizeof *items);
    if (!items) {
        ccm__careplan__care_plan__free_unpacked(h, NULL);
        return CCM_ENOMEM;
    }
    size_t got = 0;
    for (uint32_t i = first; i <= h->current_version && rc == 0; i++) {
        if ((rc = s_load_version(cp, txn, call, "history", "version", h, i, &items[got])))
            break;
        /* a listing: the content stays out */
        ccm__careplan__plan__free_unpacked(items[got]->plan, NULL);
        items[got++]->plan = NULL;
    }
    if (rc == 0) {
        Ccm__Careplan__HistoryReply hr = CCM__CAREPLAN__HISTORY_REPLY__INIT;
        hr.careplan = h;
        hr.n_versions = got;
        hr.versions = items;
        reply_t r = CCM__CAREPLAN__REPLY__INIT;
        r.result_case = CCM__CAREPLAN__REPLY__RESULT_HISTORY;
        r.history = &hr;
        rc = ccm_worker_reply_ok(call, &r.base);
    }
    for (size_t i = 0; i < got; i++)
        ccm__careplan__version__free_unpacked(items[i], NULL);
    free(items);
    ccm__careplan__care_plan__free_unpacked(h, NULL);
    return rc;
}

/* ---- diff: field-level, driven by the Plan descriptor ---- */

typedef struct {
    Ccm__Careplan__DiffReply *r; /* heap, freed with free_unpacked */
    int err;
} diff_t;

static char *s_dup(const char *s)
{
    char *d = strdup(s ? s : "");
    return d;
}

static void s_change(diff_t *df, const char *element, const char *item, const char *field,
                     Ccm__Careplan__Change__Kind kind, const char *before, const char *after)
{
    if (df->err)
        return;
    Ccm__Careplan__DiffReply *r = df->r;
    Ccm__Careplan__Change **n = realloc(r->changes, (r->n_changes + 1) * sizeof *n);
    Ccm__Careplan__Change *c = malloc(sizeof *c);
    if (!n || !c) {
        if (n)
            r->changes = n;
        free(c);
        df->err = CCM_ENOMEM;
        return;
    }
    r->changes = n;
    ccm__careplan__change__init(c);
    c->element = s_dup(element);
    c->item = s_dup(item);
    c->field = s_dup(field);
    c->kind = kind;
    c->before = s_dup(before);
    c->after = s_dup(after);
    r->changes[r->n_changes++] = c;
    if (!c->element || !c->item || !c->field || !c->before || !c->after)
        df->err = CCM_ENOMEM;
}

/* One sub-field of an item as text ("" when empty or zero). */
static void s_field_text(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, char *out,
                         size_t len)
{
    out[0] = '\0';
    if (!m)
        return;
    if (f->type == PROTOBUF_C_TYPE_STRING)
        snprintf(out, len, "%s", *s_str(m, f));
    else if (f->type == PROTOBUF_C_TYPE_UINT32 && *(const uint32_t *)((const char *)m + f->offset))
        snprintf(out, len, "%u", *(const uint32_t *)((const char *)m + f->offset));
}

/* A whole item as "field: value; …" of its non-empty fields. */
static void s_item_text(const ProtobufCMessage *m, char *out, size_t len)
{
    out[0] = '\0';
    size_t used = 0;
    for (unsigned i = 0; m && i < m->descriptor->n_fields; i++) {
        char v[S_ITEM_TEXT_MAX + 1];
        s_field_text(m, &m->descriptor->fields[i], v, sizeof v);
        if (!v[0] || used >= len)
            continue;
        int w = snprintf(out + used, len - used, "%s%s: %s", used ? "; " : "",
                         m->descriptor->fields[i].name, v);
        used += w > 0 ? (size_t)w : 0;
    }
}

/* Compares two items (either may be NULL) field by field under element/item. */
static void s_diff_item(diff_t *df, const char *element, const char *item,
                        const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    const ProtobufCMessage *any = a ? a : b;
    if (!any)
        return;
    char ta[S_ITEM_TEXT_MAX * 2], tb[S_ITEM_TEXT_MAX * 2];
    if (!a || !b) {
        s_item_text(a, ta, sizeof ta);
        s_item_text(b, tb, sizeof tb);
        if (ta[0] || tb[0])
            s_change(df, element, item, "",
                     a ? CCM__CAREPLAN__CHANGE__KIND__REMOVED : CCM__CAREPLAN__CHANGE__KIND__ADDED,
                     ta, tb);
        return;
    }
    for (unsigned i = 0; i < any->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &any->descriptor->fields[i];
        s_field_text(a, f, ta, sizeof ta);
        s_field_text(b, f, tb, sizeof tb);
        if (strcmp(ta, tb) == 0)
            continue;
        s_change(df, element, item, f->name,
                 !ta[0]   ? CCM__CAREPLAN__CHANGE__KIND__ADDED
                 : !tb[0] ? CCM__CAREPLAN__CHANGE__KIND__REMOVED
                          : CCM__CAREPLAN__CHANGE__KIND__CHANGED,
                 ta, tb);
    }
}

static const ProtobufCMessage *s_find_item(ProtobufCMessage **items, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s_identity(items[i]), id) == 0)
            return items[i];
    return NULL;
}

static void s_diff_plans(diff_t *df, const plan_t *a, const plan_t *b)
{
    static const plan_t empty = CCM__CAREPLAN__PLAN__INIT;
    a = a ? a : &empty;
    b = b ? b : &empty;
    const ProtobufCMessageDescriptor *d = &ccm__careplan__plan__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *sa = *s_str(&a->base, f), *sb = *s_str(&b->base, f);
            if (strcmp(sa, sb) != 0)
                s_change(df, f->name, "", "",
                         !sa[0]   ? CCM__CAREPLAN__CHANGE__KIND__ADDED
                         : !sb[0] ? CCM__CAREPLAN__CHANGE__KIND__REMOVED
                                  : CCM__CAREPLAN__CHANGE__KIND__CHANGED,
                         sa, sb);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = *(const size_t *)((const char *)a + f->quantifier_offset);
            size_t nb = *(const size_t *)((const char *)b + f->quantifier_offset);
            ProtobufCMessage **ia = *(ProtobufCMessage ***)((const char *)a + f->offset);
            ProtobufCMessage **ib = *(ProtobufCMessage ***)((const char *)b + f->offset);
            for (size_t k = 0; k < na; k++) /* removed or changed, in the old order */
                s_diff_item(df, f->name, s_identity(ia[k]), ia[k],
                            s_find_item(ib, nb, s_identity(ia[k])));
            for (size_t k = 0; k < nb; k++) /* added, in the new order */
                if (!s_find_item(ia, na, s_identity(ib[k])))
                    s_diff_item(df, f->name, s_identity(ib[k]), NULL, ib[k]);
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            s_diff_item(df, f->name, "", *(ProtobufCMessage **)((const char *)a + f->offset),
                        *(ProtobufCMessage **)((const char *)b + f->offset));
        }
    }
}

static int s_diff(ccm_careplan_t *cp, MDB_txn *txn, ccm_worker_call_t *call,
                  const Ccm__Careplan__Diff *in)
{
    header_t *h = NULL;
    version_t *a = NULL, *b = NULL;
    int rc = s_check_target(cp, txn, call, "diff", in->clinic, in->mrn, in->program, NULL);
    if (rc)
        return rc;
    if ((rc = s_load_header(cp, txn, call, "diff", in->clinic, in->mrn, in->program, &h)))
        return rc;
    if ((rc = s_load_version(cp, txn, call, "diff", "from", h, in->from, &a)) ||
        (rc = s_load_version(cp, txn, call, "diff", "to", h, in->to, &b)))
        goto out;
    diff_t df = {malloc(sizeof *df.r), 0};
    if (!df.r) {
        rc = CCM_ENOMEM;
        goto out;
    }
    ccm__careplan__diff_reply__init(df.r);
    df.r->from = in->from;
    df.r->to = in->to;
    s_diff_plans(&df, a->plan, b->plan);
    if (df.err) {
        rc = df.err;
    } else {
        reply_t r = CCM__CAREPLAN__REPLY__INIT;
        r.result_case = CCM__CAREPLAN__REPLY__RESULT_DIFF;
        r.diff = df.r;
        rc = ccm_worker_reply_ok(call, &r.base);
    }
    ccm__careplan__diff_reply__free_unpacked(df.r, NULL);
out:
    if (a)
        ccm__careplan__version__free_unpacked(a, NULL);
    if (b)
        ccm__careplan__version__free_unpacked(b, NULL);
    ccm__careplan__care_plan__free_unpacked(h, NULL);
    return rc;
}

static int s_establish(ccm_careplan_t *cp, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                       const Ccm__Careplan__Establish *in)
{
    const char *why;
    int rc = ccm_worker_require_request_id(call);
    if (rc)
        return rc;
    patient_t *pat = NULL;
    header_t *h = NULL;
    version_t *v = NULL;
    if ((rc = s_check_target(cp, txn, call, "establish", in->clinic, in->mrn, in->program, &pat)))
        return rc;
    if (ccm_ident_text(in->author, S_AUTHOR_MAX, false, &why) != 0) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "author",
                             "establish.author: %s (at most %d bytes)", why, S_AUTHOR_MAX);
        goto out;
    }
    /* Established earlier (recorded afterwards, e.g. from paper): noon of that
     * clinic-local day; never in the future. */
    int64_t established_us = call->now_us;
    if (in->date[0]) {
        const clinic_t *clinic = ccm_clinics_find(cp->clinics, in->clinic);
        int32_t day;
        if (!clinic || ccm_tz_parse_date(in->date, &day) != 0) {
            rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "date",
                                 "establish.date: must be a date YYYY-MM-DD");
            goto out;
        }
        if (day > s_today(clinic, call->now_us)) {
            rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "date",
                                 "establish.date: is in the future");
            goto out;
        }
        established_us = ccm_tz_local_to_utc(clinic->tz, (int64_t)day * 86400 + 12 * 3600) *
                         1000000;
    }
    if ((rc = s_load_header(cp, txn, call, "establish", in->clinic, in->mrn, in->program, &h)) ||
        (rc = s_load_version(cp, txn, call, "establish", "version", h, h->current_version, &v)))
        goto out;
    if (h->status == CCM__CAREPLAN__STATUS__ESTABLISHED) { /* already: nothing changes */
        call->remember = true;
        rc = s_reply_view(call, h, v, pat);
        goto out;
    }
    const char *missing[S_NREQUIRED];
    size_t n = s_missing(v, missing);
    if (n > 0) {
        char fields[256] = "", what[440] = "";
        size_t fu = 0, wu = 0;
        for (size_t i = 0; i < n; i++) {
            const char *desc = "";
            for (size_t k = 0; k < S_NREQUIRED; k++)
                if (s_required[k].element == missing[i])
                    desc = s_required[k].what;
            int a = snprintf(fields + fu, sizeof fields - fu, "%s%s", i ? "," : "", missing[i]);
            int b =
                snprintf(what + wu, sizeof what - wu, "%s%s (%s)", i ? ", " : "", missing[i], desc);
            fu += a > 0 && (size_t)a < sizeof fields - fu ? (size_t)a : 0;
            wu += b > 0 && (size_t)b < sizeof what - wu ? (size_t)b : 0;
        }
        rc = ccm_worker_fail(call, CCM_ECONFLICT, CCM__CODE__FAILED_PRECONDITION, fields,
                             "establish: version %u lacks %zu required element%s: %s", v->version,
                             n, n == 1 ? "" : "s", what);
        goto out;
    }
    char *saved = h->established_by;
    h->status = CCM__CAREPLAN__STATUS__ESTABLISHED;
    h->established_version = h->current_version;
    h->established_us = established_us;
    h->established_by = in->author[0] ? in->author : (char *)call->principal;
    h->updated_us = call->now_us;
    ccm_key_t k;
    s_plan_key(&k, h->clinic, h->mrn, h->program);
    rc = s_save(w, txn, cp->plans, &k, &h->base, h, "careplan.established", call->request_id,
                call->principal, call->now_us);
    if (rc == 0) {
        call->remember = true;
        rc = s_reply_view(call, h, v, pat);
    } else {
        rc = ccm_worker_store_fail(call, rc);
    }
    h->established_by = saved;
out:
    if (v)
        ccm__careplan__version__free_unpacked(v, NULL);
    if (h)
        ccm__careplan__care_plan__free_unpacked(h, NULL);
    if (pat)
        ccm__careplan__patient_ref__free_unpacked(pat, NULL);
    return rc;
}

static int s_record_copy(ccm_careplan_t *cp, ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call,
                         const Ccm__Careplan__RecordCopy *in)
{
    const char *why;
    int rc = ccm_worker_require_request_id(call);
    if (rc)
        return rc;
    patient_t *pat = NULL;
    header_t *h = NULL;
    version_t *v = NULL;
    if ((rc = s_check_target(cp, txn, call, "record_copy", in->clinic, in->mrn, in->program, &pat)))
        return rc;
    long day;
    if (ccm_ident_date(in->date, &day, &why) != 0) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "date",
                             "record_copy.date: %s", why);
        goto out;
    }
    if (day > s_today(ccm_clinics_find(cp->clinics, in->clinic), call->now_us)) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "date",
                             "record_copy.date: %s is in the future", in->date);
        goto out;
    }
    if (in->method < CCM__CAREPLAN__COPY_METHOD__PAPER ||
        in->method > CCM__CAREPLAN__COPY_METHOD__OTHER) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "method",
                             "record_copy.method: must be PAPER, PORTAL, EMAIL, MAIL or OTHER");
        goto out;
    }
    if (in->to != CCM__CAREPLAN__RECIPIENT__PATIENT &&
        in->to != CCM__CAREPLAN__RECIPIENT__CAREGIVER) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "to",
                             "record_copy.to: must be PATIENT or CAREGIVER");
        goto out;
    }
    if (ccm_ident_text(in->note, S_NOTE_MAX, false, &why) != 0) {
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "note",
                             "record_copy.note: %s (at most %d bytes)", why, S_NOTE_MAX);
        goto out;
    }
    if ((rc = s_load_header(cp, txn, call, "record_copy", in->clinic, in->mrn, in->program, &h)) ||
        (rc = s_load_version(cp, txn, call, "record_copy", "version", h, h->current_version, &v)))
        goto out;
    if (h->n_copies >= S_COPIES_MAX) {
        rc =
            ccm_worker_fail(call, CCM_ETOOBIG, CCM__CODE__FAILED_PRECONDITION, "date",
                            "record_copy: the care plan already has %d copy records", S_COPIES_MAX);
        goto out;
    }
    Ccm__Careplan__CopyGiven c = CCM__CAREPLAN__COPY_GIVEN__INIT;
    c.date = in->date;
    c.method = in->method;
    c.to = in->to;
    c.version = h->current_version;
    c.recorded_us = call->now_us;
    c.recorded_by = (char *)call->principal;
    c.note = in->note;
    Ccm__Careplan__CopyGiven **list = realloc(h->copies, (h->n_copies + 1) * sizeof *list);
    if (!list) {
        rc = CCM_ENOMEM;
        goto out;
    }
    h->copies = list;
    list[h->n_copies++] = &c;
    h->updated_us = call->now_us;
    ccm_key_t k;
    s_plan_key(&k, h->clinic, h->mrn, h->program);
    rc = s_save(w, txn, cp->plans, &k, &h->base, h, "careplan.copy_given", call->request_id,
                call->principal, call->now_us);
    if (rc == 0) {
        call->remember = true;
        rc = s_reply_view(call, h, v, pat);
    } else {
        rc = ccm_worker_store_fail(call, rc);
    }
    h->n_copies--; /* c lives on this stack frame: not for free_unpacked */
out:
    if (v)
        ccm__careplan__version__free_unpacked(v, NULL);
    if (h)
        ccm__careplan__care_plan__free_unpacked(h, NULL);
    if (pat)
        ccm__careplan__patient_ref__free_unpacked(pat, NULL);
    return rc;
}

/* Is the plan's review date before `today` (days)? */
static bool s_overdue(const header_t *h, long today)
{
    long day;
    return h->next_review[0] && ccm_ident_date(h->next_review, &day, NULL) == 0 && day < today;
}

static int s_list_due(ccm_careplan_t *cp, MDB_txn *txn, ccm_worker_call_t *call,
                      const Ccm__Careplan__ListDue *in)
{
    const char *why;
    if (ccm_ident_key(in->clinic, S_CLINIC_MAX, &why) != 0)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "clinic",
                               "list_due.clinic: %s", why);
    const clinic_t *clinic = ccm_clinics_find(cp->clinics, in->clinic);
    if (!clinic)
        return ccm_worker_fail(call, CCM_ENOTFOUND, CCM__CODE__NOT_FOUND, "clinic",
                               "list_due.clinic: no clinic \"%s\" is configured", in->clinic);
    long today = s_today(clinic, call->now_us);
    char today_s[S_DATE_LEN + 1];
    s_date(today, today_s);

    ccm_key_t prefix;
    ccm_key_init(&prefix);
    ccm_key_str(&prefix, in->clinic);
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, cp->plans, &cur) != 0)
        return ccm_worker_store_fail(call, CCM_EIO);
    Ccm__Careplan__DueItem *items = calloc(S_DUE_MAX, sizeof *items);
    Ccm__Careplan__DueItem **ptrs = calloc(S_DUE_MAX, sizeof *ptrs);
    header_t **held = calloc(S_DUE_MAX, sizeof *held);
    if (!items || !ptrs || !held) {
        mdb_cursor_close(cur);
        free(items);
        free(ptrs);
        free(held);
        return CCM_ENOMEM;
    }
    size_t n = 0;
    int rc = 0;
    MDB_val k = {prefix.len, prefix.buf}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && n < S_DUE_MAX) {
        if (k.mv_size < prefix.len || memcmp(k.mv_data, prefix.buf, prefix.len) != 0)
            break;
        header_t *h = ccm__careplan__care_plan__unpack(NULL, v.mv_size, v.mv_data);
        if (!h) {
            rc = ccm_worker_store_fail(call, CCM_EIO);
            break;
        }
        if (s_overdue(h, today)) {
            ccm__careplan__due_item__init(&items[n]);
            items[n].clinic = h->clinic;
            items[n].mrn = h->mrn;
            items[n].program = h->program;
            items[n].next_review = h->next_review;
            items[n].current_version = h->current_version;
            items[n].status = h->status;
            ptrs[n] = &items[n];
            held[n++] = h;
        } else {
            ccm__careplan__care_plan__free_unpacked(h, NULL);
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = ccm_worker_store_fail(call, CCM_EIO);
    if (rc == 0) {
        Ccm__Careplan__DueList dl = CCM__CAREPLAN__DUE_LIST__INIT;
        dl.n_items = n;
        dl.items = ptrs;
        dl.today = today_s;
        reply_t r = CCM__CAREPLAN__REPLY__INIT;
        r.result_case = CCM__CAREPLAN__REPLY__RESULT_DUE;
        r.due = &dl;
        rc = ccm_worker_reply_ok(call, &r.base);
    }
    for (size_t i = 0; i < n; i++)
        ccm__careplan__care_plan__free_unpacked(held[i], NULL);
    free(items);
    free(ptrs);
    free(held);
    return rc;
}

int ccm_careplan_handle(ccm_worker_t *w, MDB_txn *txn, ccm_worker_call_t *call, void *ctx)
{
    ccm_careplan_t *cp = ctx;
    request_t *req = ccm__careplan__request__unpack(NULL, call->len, call->body);
    if (!req)
        return ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "body",
                               "body: not a valid careplan request");
    int rc;
    switch (req->op_case) {
    case CCM__CAREPLAN__REQUEST__OP_SET_PLAN:
        rc = s_set_plan(cp, w, txn, call, req->set_plan);
        break;
    case CCM__CAREPLAN__REQUEST__OP_GET_PLAN: rc = s_get_plan(cp, txn, call, req->get_plan); break;
    case CCM__CAREPLAN__REQUEST__OP_HISTORY: rc = s_history(cp, txn, call, req->history); break;
    case CCM__CAREPLAN__REQUEST__OP_DIFF: rc = s_diff(cp, txn, call, req->diff); break;
    case CCM__CAREPLAN__REQUEST__OP_ESTABLISH:
        rc = s_establish(cp, w, txn, call, req->establish);
        break;
    case CCM__CAREPLAN__REQUEST__OP_RECORD_COPY:
        rc = s_record_copy(cp, w, txn, call, req->record_copy);
        break;
    case CCM__CAREPLAN__REQUEST__OP_LIST_DUE: rc = s_list_due(cp, txn, call, req->list_due); break;
    default:
        rc = ccm_worker_fail(call, CCM_EINVAL, CCM__CODE__INVALID_ARGUMENT, "op",
                             "op: the request names no careplan operation");
        break;
    }
    ccm__careplan__request__free_unpacked(req, NULL);
    return rc;
}

/* ---- followed: enrollment's patients ---- */

/* Keeps the patients enrollment announces (patient.* events carry a
 * ccm.enrollment.Patient): a care plan may only be written for one of them. */
static int s_on_enrollment(ccm_worker_t *w, MDB_txn *txn, const Ccm__Envelope *ev, void *ctx)
{
    (void)w;
    ccm_careplan_t *cp = ctx;
    if (strncmp(ev->type, "patient.", 8) != 0)
        return 0;
    Ccm__Enrollment__Patient *p =
        ccm__enrollment__patient__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!p)
        return CCM_EINVAL;
    int rc = CCM_EINVAL;
    if (ccm_ident_key(p->clinic, S_CLINIC_MAX, NULL) == 0 &&
        ccm_ident_key(p->mrn, S_MRN_MAX, NULL) == 0) {
        patient_t ref = CCM__CAREPLAN__PATIENT_REF__INIT;
        ref.clinic = p->clinic;
        ref.mrn = p->mrn;
        ref.mbi = p->mbi;
        ref.family_name = p->family_name;
        ref.given_name = p->given_name;
        ref.birth_date = p->birth_date;
        ref.updated_us = ev->time_us;
        ccm_key_t k;
        s_patient_key(&k, p->clinic, p->mrn);
        uint8_t *buf = NULL;
        size_t len = 0;
        rc = s_put(txn, cp->patients, &k, &ref.base, &buf, &len);
        free(buf);
    }
    ccm__enrollment__patient__free_unpacked(p, NULL);
    return rc;
}

/* ---- periodic: review due ---- */

typedef struct {
    uint8_t key[CCM_KEY_MAX];
    size_t len;
} rkey_t;

int ccm_careplan_review_tick(ccm_worker_t *w, MDB_txn *txn, int64_t now_us, void *ctx)
{
    ccm_careplan_t *cp = ctx;
    /* Index keys start with the day; no clinic is more than a day ahead of UTC. */
    long horizon = s_today(NULL, now_us) + 2;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, cp->review, &cur) != 0)
        return CCM_EIO;
    rkey_t *due = calloc(S_TICK_MAX, sizeof *due);
    if (!due) {
        mdb_cursor_close(cur);
        return CCM_ENOMEM;
    }
    size_t n = 0;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0 && n < S_TICK_MAX) {
        if (k.mv_size < 8 || k.mv_size > CCM_KEY_MAX)
            break;
        int64_t day = (int64_t)(ccm_be_get_u64(k.mv_data) ^ (UINT64_C(1) << 63));
        if (day >= horizon)
            break;
        memcpy(due[n].key, k.mv_data, k.mv_size);
        due[n++].len = k.mv_size;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    int rc = mrc == 0 || mrc == MDB_NOTFOUND ? 0 : CCM_EIO;

    for (size_t i = 0; i < n && rc == 0; i++) {
        /* key: day(8) clinic NUL mrn NUL program(4) */
        const uint8_t *kb = due[i].key;
        const char *clinic = (const char *)kb + 8;
        size_t cl = strnlen(clinic, due[i].len - 8);
        if (8 + cl + 1 >= due[i].len)
            continue;
        const char *mrn = clinic + cl + 1;
        size_t ml = strnlen(mrn, due[i].len - 8 - cl - 1);
        if (8 + cl + 1 + ml + 1 + 4 != due[i].len)
            continue;
        int program = (int)ccm_be_get_u32(kb + due[i].len - 4);
        int64_t day = (int64_t)(ccm_be_get_u64(kb) ^ (UINT64_C(1) << 63));
        if (day >= s_today(ccm_clinics_find(cp->clinics, clinic), now_us))
            continue; /* not passed yet in the clinic's calendar */
        header_t *h = NULL;
        ccm_key_t pk;
        s_plan_key(&pk, clinic, mrn, program);
        rc = s_load(txn, cp->plans, &pk, &ccm__careplan__care_plan__descriptor, (void **)&h);
        if (rc == 0) {
            char date[S_DATE_LEN + 1];
            s_date((long)day, date);
            if (strcmp(h->next_review, date) == 0 && strcmp(h->review_notified, date) != 0) {
                char *saved = h->review_notified;
                h->review_notified = date;
                rc = s_save(w, txn, cp->plans, &pk, &h->base, h, "careplan.review_due", "",
                            CCM_CAREPLAN_SERVICE, now_us);
                h->review_notified = saved;
                if (rc == 0)
                    ccm_info("event=review_due clinic=%s mrn=%s program=%s date=%s", clinic, mrn,
                             s_program_name(program), date);
            }
            ccm__careplan__care_plan__free_unpacked(h, NULL);
        } else if (rc == CCM_ENOTFOUND) {
            rc = 0; /* a stale entry: drop it */
        }
        if (rc == 0) {
            rc = ccm_store_del(txn, cp->review, kb, due[i].len);
            if (rc == CCM_ENOTFOUND)
                rc = 0;
        }
    }
    free(due);
    return rc;
}
