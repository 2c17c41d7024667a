/* render — claim events as JSON, CSV, X12 837P and FHIR R4 (see render.h).
 *
 * X12 values are upper-cased and stripped of the delimiters ("*", ":", "~", "^")
 * and of anything outside printable ASCII, so no payload can break the envelope.
 * The transaction's segment count is counted while it is written, never guessed. */
#include "render.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccm/error.h"
#include "pbjson.h"

/* jansson's default prints 60.49 as 60.490000000000002; 15 digits are exact for cents. */
#define S_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

#define S_SYS_ICD10 "http://hl7.org/fhir/sid/icd-10-cm"
#define S_SYS_MBI "http://hl7.org/fhir/sid/us-mbi"
#define S_SYS_NPI "http://hl7.org/fhir/sid/us-npi"
#define S_SYS_CPT "http://www.ama-assn.org/go/cpt"
#define S_SYS_HCPCS "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
#define S_SYS_POS                                                                                  \
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
#define S_SYS_CLAIM_TYPE "http://terminology.hl7.org/CodeSystem/claim-type"
#define S_SYS_PRIORITY "http://terminology.hl7.org/CodeSystem/processpriority"
#define S_SYS_RELATED "http://terminology.hl7.org/CodeSystem/related-claim-relationship"
#define S_SYS_INFO "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
#define S_SYS_CLAIM "urn:ccm:claim"
#define S_SYS_CONSENT "urn:ccm:consent"
#define S_SYS_CAREPLAN "urn:ccm:careplan"
#define S_SYS_TIME_ENTRY "urn:ccm:time-entry"
#define S_SYS_STREAM_SEQ "urn:ccm:billing-seq"

/* ---- a growing string ---- */

typedef struct {
    char *p;    /* NUL-terminated, owned */
    size_t len; /* bytes before the NUL */
    size_t cap; /* bytes allocated */
    int err;    /* sticky: CCM_ENOMEM once an append failed */
} sbuf_t;

static void s_vadd(sbuf_t *b, const char *fmt, va_list ap)
{
    if (b->err)
        return;
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) {
        b->err = CCM_EINVAL;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + (size_t)n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->err = CCM_ENOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)n;
}

static void s_add(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_add(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vadd(b, fmt, ap);
    va_end(ap);
}

/* Hands the string to *out (or frees it on error); returns the sticky error. */
static int s_finish(sbuf_t *b, char **out)
{
    if (b->err || !b->p) {
        free(b->p);
        *out = NULL;
        return b->err ? b->err : CCM_ENOMEM;
    }
    *out = b->p;
    return 0;
}

static const char *s_str(const char *s)
{
    return s ? s : "";
}

/* A line's date of service: its own (G0506 has the initiating visit's), else the
 * claim's (claims written before lines carried one). */
static const char *s_line_dos(const Ccm__Billing__Claim *c, const Ccm__Billing__Line *l)
{
    return l->dos && l->dos[0] ? l->dos : s_str(c->dos);
}

/* The claim asks the billing system to withdraw (void) what it was sent. */
static bool s_withdrawn(const Ccm__Billing__Claim *c)
{
    return c->status == CCM__BILLING__CLAIM_STATUS__WITHDRAW_NEEDED;
}

static void s_iso_time(int64_t us, char out[32])
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00Z");
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int s_dump(json_t *j, char **out)
{
    *out = j ? json_dumps(j, S_JSON_FLAGS) : NULL;
    json_decref(j);
    return *out ? 0 : CCM_ENOMEM;
}

/* The fields every record starts with. */
static json_t *s_event_json(const ccm_render_event_t *ev, const char *producer)
{
    char when[32];
    s_iso_time(ev->time_us, when);
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:s}", "seq", (json_int_t)ev->seq, "producer",
                     producer, "type", s_str(ev->type), "time", when, "time_us",
                     (json_int_t)ev->time_us, "key", s_str(ev->key));
}

/* ---- canonical JSON ---- */

static json_t *s_strings(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(s_str(v[i])));
    return a;
}

static const char *s_status_name(int status)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&ccm__billing__claim_status__descriptor, status);
    return v ? v->name : "CLAIM_STATUS_UNSPECIFIED";
}

static json_t *s_claim_object(const Ccm__Billing__Claim *c)
{
    json_t *lines = json_array();
    for (size_t i = 0; lines && i < c->n_lines; i++) {
        const Ccm__Billing__Line *l = c->lines[i];
        json_array_append_new(
            lines, json_pack("{s:s, s:i, s:I, s:I, s:i, s:s, s:s}", "code", s_str(l->code), "units",
                             (int)l->units, "unit_cents", (json_int_t)l->unit_cents, "amount_cents",
                             (json_int_t)l->amount_cents, "minutes", (int)l->minutes, "role",
                             s_str(l->role), "dos", s_line_dos(c, l)));
    }
    const Ccm__Billing__Evidence *e = c->evidence;
    json_t *ev = json_pack(
        "{s:s, s:I, s:o, s:s, s:o, s:s, s:o}", "consent_id", e ? s_str(e->consent_id) : "",
        "care_plan_version", (json_int_t)(e ? e->care_plan_version : 0), "time_entry_ids",
        e ? s_strings(e->time_entry_ids, e->n_time_entry_ids) : json_array(), "rules_version",
        e ? s_str(e->rules_version) : "", "reasons",
        e ? s_strings(e->reasons, e->n_reasons) : json_array(), "cause", e ? s_str(e->cause) : "",
        "visit_dates", e ? s_strings(e->visit_dates, e->n_visit_dates) : json_array());
    char created[32], status_at[32];
    s_iso_time(c->created_us, created);
    s_iso_time(c->status_us, status_at);
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:i, "
        "s:b, s:i, s:i, s:o, s:s, s:I, s:s, s:I, s:s, s:s, s:b, s:s}",
        "id", s_str(c->id), "key", s_str(c->key), "version", (json_int_t)c->version, "supersedes",
        s_str(c->supersedes), "clinic", s_str(c->clinic), "mrn", s_str(c->mrn), "mbi",
        s_str(c->mbi), "month", s_str(c->month), "program", s_str(c->program), "dos", s_str(c->dos),
        "place_of_service", s_str(c->place_of_service), "billing_npi", s_str(c->billing_npi),
        "rendering_npi", s_str(c->rendering_npi), "diagnoses",
        s_strings(c->diagnoses, c->n_diagnoses), "lines", lines, "amount_cents",
        (json_int_t)c->amount_cents, "fee_year", (int)c->fee_year, "fee_stale", (int)c->fee_stale,
        "staff_minutes", (int)c->staff_minutes, "practitioner_minutes",
        (int)c->practitioner_minutes, "evidence", ev, "status", s_status_name((int)c->status),
        "created_us", (json_int_t)c->created_us, "created", created, "status_us",
        (json_int_t)c->status_us, "status_at", status_at, "status_note", s_str(c->status_note),
        "adjustment", (int)c->adjustment, "withdraw_reason", s_str(c->withdraw_reason));
    return o;
}

int ccm_render_claim_json(const ccm_render_event_t *ev, const Ccm__Billing__Claim *c, char **out)
{
    json_t *j = s_event_json(ev, "billing");
    json_t *claim = s_claim_object(c);
    if (!j || !claim) {
        json_decref(j);
        json_decref(claim);
        *out = NULL;
        return CCM_ENOMEM;
    }
    json_object_set_new(j, "claim_id", json_string(s_str(c->id)));
    json_object_set_new(j, "claim", claim);
    return s_dump(j, out);
}

int ccm_render_message_json(const ccm_render_event_t *ev, const char *producer, const char *name,
                            const ProtobufCMessage *payload, char **out)
{
    json_t *j = s_event_json(ev, producer);
    json_t *p = ccm_pbjson(payload);
    if (!j || !p) {
        json_decref(j);
        json_decref(p);
        *out = NULL;
        return CCM_ENOMEM;
    }
    json_object_set_new(j, name, p);
    return s_dump(j, out);
}

/* ---- CSV ---- */

static const char s_csv_header[] =
    "clinic,claim_key,version,supersedes,mrn,mbi,month,dos,pos,billing_npi,rendering_npi,code,"
    "units,dx1,dx2,dx3,dx4,staff_minutes,practitioner_minutes,consent_id,care_plan_version,"
    "amount_cents\n";

int ccm_render_csv_header(char **out)
{
    *out = strdup(s_csv_header);
    return *out ? 0 : CCM_ENOMEM;
}

/* One field, quoted (RFC 4180) when it must be; a leading comma unless first. */
static void s_csv_field(sbuf_t *b, const char *s, bool first)
{
    s = s_str(s);
    if (!first)
        s_add(b, ",");
    if (!strpbrk(s, ",\"\r\n")) {
        s_add(b, "%s", s);
        return;
    }
    s_add(b, "\"");
    for (const char *p = s; *p; p++)
        s_add(b, *p == '"' ? "\"\"" : "%c", *p);
    s_add(b, "\"");
}

int ccm_render_claim_csv(const Ccm__Billing__Claim *c, char **out)
{
    *out = NULL;
    if (c->n_lines == 0)
        return CCM_EINVAL;
    sbuf_t b = {0};
    const Ccm__Billing__Evidence *e = c->evidence;
    for (size_t i = 0; i < c->n_lines; i++) {
        const Ccm__Billing__Line *l = c->lines[i];
        char num[32];
        s_csv_field(&b, c->clinic, true);
        s_csv_field(&b, c->key, false);
        snprintf(num, sizeof num, "%" PRIu32, c->version);
        s_csv_field(&b, num, false);
        s_csv_field(&b, c->supersedes, false);
        s_csv_field(&b, c->mrn, false);
        s_csv_field(&b, c->mbi, false);
        s_csv_field(&b, c->month, false);
        s_csv_field(&b, s_line_dos(c, l), false);
        s_csv_field(&b, c->place_of_service, false);
        s_csv_field(&b, c->billing_npi, false);
        s_csv_field(&b, c->rendering_npi, false);
        s_csv_field(&b, l->code, false);
        snprintf(num, sizeof num, "%" PRId32, l->units);
        s_csv_field(&b, num, false);
        for (size_t d = 0; d < 4; d++)
            s_csv_field(&b, d < c->n_diagnoses ? c->diagnoses[d] : "", false);
        snprintf(num, sizeof num, "%" PRId32, c->staff_minutes);
        s_csv_field(&b, num, false);
        snprintf(num, sizeof num, "%" PRId32, c->practitioner_minutes);
        s_csv_field(&b, num, false);
        s_csv_field(&b, e ? e->consent_id : "", false);
        snprintf(num, sizeof num, "%" PRIu32, e ? e->care_plan_version : 0);
        s_csv_field(&b, num, false);
        snprintf(num, sizeof num, "%" PRId64, l->amount_cents);
        s_csv_field(&b, num, false);
        s_add(&b, "\n");
    }
    return s_finish(&b, out);
}

/* ---- X12 837P ---- */

/* An X12 element value: printable ASCII, no delimiter, at most max bytes; names and
 * addresses upper-cased (identifiers keep their case: a claim id must match). */
static void s_x12_value(const char *s, char *out, size_t max, bool upper)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s_str(s); *p && n < max; p++) {
        unsigned char ch = *p;
        if (ch < 0x20 || ch > 0x7e || ch == '*' || ch == ':' || ch == '~' || ch == '^')
            ch = ' ';
        if (upper && ch >= 'a' && ch <= 'z')
            ch = (unsigned char)(ch - 'a' + 'A');
        out[n++] = (char)ch;
    }
    while (n > 0 && out[n - 1] == ' ') /* trailing spaces are not significant */
        n--;
    out[n] = '\0';
}

static void s_x12_clean(const char *s, char *out, size_t max)
{
    s_x12_value(s, out, max, true);
}

/* A cleaned value in a caller's scratch buffer: S_X12 upper-cases, S_X12ID keeps case. */
#define S_X12(buf, src, max) (s_x12_value((src), (buf), (max), true), (buf))
#define S_X12ID(buf, src, max) (s_x12_value((src), (buf), (max), false), (buf))

/* X12 decimal (R): 6000 -> "60", 6050 -> "60.5", 6049 -> "60.49". */
static void s_x12_money(int64_t cents, char out[32])
{
    const char *sign = cents < 0 ? "-" : "";
    uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    if (a % 100 == 0)
        snprintf(out, 32, "%s%" PRIu64, sign, a / 100);
    else if (a % 10 == 0)
        snprintf(out, 32, "%s%" PRIu64 ".%" PRIu64, sign, a / 100, (a % 100) / 10);
    else
        snprintf(out, 32, "%s%" PRIu64 ".%02" PRIu64, sign, a / 100, a % 100);
}

/* "YYYY-MM-DD" -> "YYYYMMDD"; false when s is not that shape. */
static bool s_d8(const char *s, char out[9])
{
    s = s_str(s);
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    memcpy(out, s, 4);
    memcpy(out + 4, s + 5, 2);
    memcpy(out + 6, s + 8, 2);
    out[8] = '\0';
    return true;
}

static uint64_t s_fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

void ccm_render_x12_pcn(const char *key, char out[21])
{
    key = s_str(key);
    size_t n = strlen(key);
    bool ok = n > 0 && n <= 20;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char ch = (unsigned char)key[i];
        ok = ch >= 0x20 && ch <= 0x7e && ch != '*' && ch != ':' && ch != '~' && ch != '^';
    }
    if (ok)
        memcpy(out, key, n + 1);
    else
        snprintf(out, 21, "K%016" PRIx64, s_fnv1a(key));
}

void ccm_render_safe_name(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return;
    for (const char *p = s_str(s); *p && n + 1 < cap; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
        out[n++] = ok ? ch : '_';
    }
    out[n] = '\0';
}

/* A segment inside ST…SE: counted. */
typedef struct {
    sbuf_t b;
    int segments; /* since ST, inclusive */
} x12_t;

static void s_seg(x12_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_seg(x12_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vadd(&x->b, fmt, ap);
    va_end(ap);
    s_add(&x->b, "~\n");
    x->segments++;
}

/* A person's name for NM103/NM104, with placeholders when unknown. */
static void s_names(const ccm_render_person_t *p, char family[61], char given[36])
{
    s_x12_clean(p ? p->family : NULL, family, 60);
    s_x12_clean(p ? p->given : NULL, given, 35);
    if (!family[0])
        snprintf(family, 61, "UNKNOWN");
}

int ccm_render_837p(const ccm_render_event_t *ev, const Ccm__Billing__Claim *c,
                    const ccm_render_ids_t *ids, const ccm_render_person_t *patient,
                    const ccm_render_person_t *rendering, uint64_t control, char **out)
{
    *out = NULL;
    if (c->n_lines == 0 || c->n_lines > CCM_RENDER_X12_LINES_MAX || control == 0 ||
        control > CCM_RENDER_X12_CONTROL_MAX || !c->mbi || !c->mbi[0] || !c->billing_npi ||
        !c->billing_npi[0])
        return CCM_EINVAL;
    char ymd[9], hm[5], yymmdd[7], dos[9];
    time_t t = (time_t)(ev->time_us / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return CCM_EINVAL;
    strftime(ymd, sizeof ymd, "%Y%m%d", &tm);
    memcpy(yymmdd, ymd + 2, sizeof yymmdd); /* ISA09 is YYMMDD */
    strftime(hm, sizeof hm, "%H%M", &tm);
    if (!s_d8(c->dos, dos))
        memcpy(dos, ymd, sizeof dos);

    char sub_id[16], rcv_id[16], v1[81], v2[81], v3[81];
    s_x12_clean(ids->submitter_id, sub_id, 15);
    s_x12_clean(ids->receiver_id, rcv_id, 15);
    if (!sub_id[0] || !rcv_id[0])
        return CCM_EINVAL;
    const char usage = ids->usage && ids->usage[0] == 'P' ? 'P' : 'T';

    x12_t x = {0};
    /* ISA: fixed width; ISA06/ISA08 padded to 15, ISA13 9 digits. */
    s_add(&x.b,
          "ISA*00*          *00*          *ZZ*%-15s*ZZ*%-15s*%s*%s*^*00501*%09" PRIu64 "*0*%c*:~\n",
          sub_id, rcv_id, yymmdd, hm, control, usage);
    s_add(&x.b, "GS*HC*%s*%s*%s*%s*%" PRIu64 "*X*005010X222A1~\n", sub_id, rcv_id, ymd, hm,
          control);
    x.segments = 0;
    s_seg(&x, "ST*837*0001*005010X222A1");
    /* BHT03 (originator reference) = the stream seq: a repeat is recognisable */
    s_seg(&x, "BHT*0019*00*%" PRIu64 "*%s*%s*CH", ev->seq, ymd, hm);
    /* 1000A submitter, 1000B receiver */
    s_seg(&x, "NM1*41*2*%s*****46*%s", S_X12(v1, ids->submitter_name, 60), sub_id);
    s_seg(&x, "PER*IC*%s*TE*%s", S_X12(v2, ids->submitter_name, 60),
          S_X12(v3, ids->submitter_phone, 20));
    s_seg(&x, "NM1*40*2*%s*****46*%s", S_X12(v1, ids->receiver_name, 60), rcv_id);
    /* 2000A billing provider */
    s_seg(&x, "HL*1**20*1");
    s_seg(&x, "NM1*85*2*%s*****XX*%s", S_X12(v1, ids->clinic_name, 60),
          S_X12(v2, c->billing_npi, 80));
    s_seg(&x, "N3*%s", S_X12(v1, ids->address, 55));
    s_seg(&x, "N4*%s*%s*%s", S_X12(v1, ids->city, 30), S_X12(v2, ids->state, 2),
          S_X12(v3, ids->zip, 15));
    s_seg(&x, "REF*EI*%s", S_X12(v1, ids->tax_id, 50));
    /* 2000B subscriber = the patient (Medicare Part B, self) */
    s_seg(&x, "HL*2*1*22*0");
    s_seg(&x, "SBR*P*18*******MB");
    char family[61], given[36];
    s_names(patient, family, given);
    s_seg(&x, "NM1*IL*1*%s*%s****MI*%s", family, given, S_X12(v1, c->mbi, 80));
    char dob[9];
    if (patient && s_d8(patient->birth_date, dob))
        s_seg(&x, "DMG*D8*%s*U", dob);
    /* 2010BB payer */
    s_seg(&x, "NM1*PR*2*%s*****PI*%s", S_X12(v1, ids->payer_name, 60),
          S_X12(v2, ids->payer_id, 80));
    /* 2300 claim */
    char pcn[21], total[32];
    ccm_render_x12_pcn(c->key, pcn);
    s_x12_money(c->amount_cents, total);
    /* Frequency (CLM05-3): 8 voids the claim sent under this very id; 7 replaces (or,
     * for an adjustment, corrects the paid) claim it supersedes; 1 is an original. */
    const bool void_claim = s_withdrawn(c);
    const bool replacement =
        !void_claim && (c->adjustment || c->version > 1 || (c->supersedes && c->supersedes[0]));
    const char frequency = void_claim ? '8' : replacement ? '7' : '1';
    s_seg(&x, "CLM*%s*%s***%s:B:%c*Y*A*Y*Y", pcn, total, S_X12(v1, c->place_of_service, 2),
          frequency);
    if (void_claim)
        s_seg(&x, "REF*F8*%s", S_X12ID(v1, c->id, 50));
    else if (replacement)
        s_seg(&x, "REF*F8*%s", S_X12ID(v1, c->supersedes, 50));
    s_seg(&x, "REF*D9*%s", S_X12ID(v1, c->id, 50));
    size_t ndx = c->n_diagnoses < CCM_RENDER_X12_DX_MAX ? c->n_diagnoses : CCM_RENDER_X12_DX_MAX;
    if (ndx > 0) {
        s_add(&x.b, "HI");
        for (size_t i = 0; i < ndx; i++) {
            char dx[16];
            size_t n = 0;
            for (const char *p = s_str(c->diagnoses[i]); *p && n < 7; p++)
                if (*p != '.')
                    dx[n++] = *p;
            dx[n] = '\0';
            s_add(&x.b, "*%s:%s", i == 0 ? "ABK" : "ABF", S_X12(v1, dx, 7));
        }
        s_seg(&x, "%s", "");
    }
    /* 2310B rendering provider */
    if (c->rendering_npi && c->rendering_npi[0]) {
        s_names(rendering, family, given);
        s_seg(&x, "NM1*82*1*%s*%s****XX*%s", family, given, S_X12(v1, c->rendering_npi, 80));
    }
    /* 2400 service lines; pointers to the first four diagnoses */
    char ptr[8] = "";
    for (size_t i = 0; i < ndx && i < 4; i++)
        snprintf(ptr + strlen(ptr), sizeof ptr - strlen(ptr), "%s%zu", i ? ":" : "", i + 1);
    for (size_t i = 0; i < c->n_lines; i++) {
        const Ccm__Billing__Line *l = c->lines[i];
        char charge[32], line_dos[9];
        s_x12_money(l->amount_cents, charge);
        if (!s_d8(l->dos, line_dos))
            memcpy(line_dos, dos, sizeof line_dos);
        s_seg(&x, "LX*%zu", i + 1);
        s_seg(&x, "SV1*HC:%s*%s*UN*%" PRId32 "***%s", S_X12(v1, l->code, 48), charge, l->units,
              ptr);
        s_seg(&x, "DTP*472*D8*%s", line_dos);
    }
    s_seg(&x, "SE*%d*0001", x.segments + 1);
    s_add(&x.b, "GE*1*%" PRIu64 "~\n", control);
    s_add(&x.b, "IEA*1*%09" PRIu64 "~\n", control);
    return s_finish(&x.b, out);
}

/* ---- FHIR R4 Claim ---- */

static json_t *s_coding(const char *system, const char *code)
{
    return json_pack("{s:[{s:s, s:s}]}", "coding", "system", system, "code", s_str(code));
}

static json_t *s_ident_ref(const char *system, const char *value)
{
    return json_pack("{s:{s:s, s:s}}", "identifier", "system", system, "value", s_str(value));
}

static json_t *s_money(int64_t cents)
{
    return json_pack("{s:f, s:s}", "value", (double)cents / 100.0, "currency", "USD");
}

static json_t *s_info(int seq, const char *what, const char *system, const char *value)
{
    return json_pack("{s:i, s:{s:[{s:s, s:s}], s:s}, s:o}", "sequence", seq, "category", "coding",
                     "system", S_SYS_INFO, "code", "info", "text", what, "valueReference",
                     s_ident_ref(system, value));
}

/* "YYYY-MM" -> first and last day of that month. */
static bool s_month_bounds(const char *m, char first[11], char last[11])
{
    m = s_str(m);
    int y, mo;
    char tail;
    if (strlen(m) != 7 || sscanf(m, "%4d-%2d%c", &y, &mo, &tail) != 2 || mo < 1 || mo > 12)
        return false;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int d = days[mo - 1];
    if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        d = 29;
    snprintf(first, 11, "%04d-%02d-01", y, mo);
    snprintf(last, 11, "%04d-%02d-%02d", y, mo, d);
    return true;
}

int ccm_render_fhir(const ccm_render_event_t *ev, const Ccm__Billing__Claim *c, char **out)
{
    *out = NULL;
    char first[11], last[11], created[32], id[65];
    if (!s_month_bounds(c->month, first, last))
        return CCM_EINVAL;
    s_iso_time(c->created_us, created);
    /* FHIR ids are [A-Za-z0-9.-]{1,64} */
    ccm_render_safe_name(c->id, id, sizeof id);
    for (char *p = id; *p; p++)
        if (*p == '_')
            *p = '-';
    if (!id[0])
        snprintf(id, sizeof id, "claim");

    json_t *diagnosis = json_array();
    json_t *dxseq = json_array();
    for (size_t i = 0; diagnosis && i < c->n_diagnoses; i++) {
        json_array_append_new(diagnosis, json_pack("{s:i, s:o}", "sequence", (int)i + 1,
                                                   "diagnosisCodeableConcept",
                                                   s_coding(S_SYS_ICD10, c->diagnoses[i])));
        if (i < 4)
            json_array_append_new(dxseq, json_integer((json_int_t)i + 1));
    }
    json_t *items = json_array();
    for (size_t i = 0; items && i < c->n_lines; i++) {
        const Ccm__Billing__Line *l = c->lines[i];
        const char *code = s_str(l->code);
        bool hcpcs = code[0] >= 'A' && code[0] <= 'Z';
        json_t *item =
            json_pack("{s:i, s:[i], s:O, s:o, s:s, s:o, s:{s:i}, s:o, s:o}", "sequence", (int)i + 1,
                      "careTeamSequence", 1, "diagnosisSequence", dxseq, "productOrService",
                      s_coding(hcpcs ? S_SYS_HCPCS : S_SYS_CPT, code), "servicedDate",
                      s_line_dos(c, l), "locationCodeableConcept",
                      s_coding(S_SYS_POS, c->place_of_service), "quantity", "value", (int)l->units,
                      "unitPrice", s_money(l->unit_cents), "net", s_money(l->amount_cents));
        json_array_append_new(items, item);
    }
    json_decref(dxseq);

    json_t *info = json_array();
    const Ccm__Billing__Evidence *e = c->evidence;
    int seq = 1;
    if (info && e) {
        if (e->consent_id && e->consent_id[0])
            json_array_append_new(info, s_info(seq++, "consent", S_SYS_CONSENT, e->consent_id));
        if (e->care_plan_version) {
            char cp[160];
            snprintf(cp, sizeof cp, "%s/%s/%s#v%" PRIu32, s_str(c->clinic), s_str(c->mrn),
                     s_str(c->program), e->care_plan_version);
            json_array_append_new(info, s_info(seq++, "care plan version", S_SYS_CAREPLAN, cp));
        }
        for (size_t i = 0; i < e->n_time_entry_ids; i++)
            json_array_append_new(
                info, s_info(seq++, "time entry", S_SYS_TIME_ENTRY, e->time_entry_ids[i]));
    }

    json_t *j = json_pack(
        "{s:s, s:s, s:[{s:s, s:s}], s:s, s:o, s:s, s:o, s:{s:s, s:s}, s:s, s:o, s:o, s:o, "
        "s:[{s:i, s:o}], s:[{s:i, s:b, s:{s:s, s:o}}], s:o, s:o, s:o}",
        "resourceType", "Claim", "id", id, "identifier", "system", S_SYS_CLAIM, "value",
        s_str(c->id), "status", s_withdrawn(c) ? "cancelled" : "active", "type",
        s_coding(S_SYS_CLAIM_TYPE, "professional"), "use", "claim", "patient",
        s_ident_ref(S_SYS_MBI, c->mbi), "billablePeriod", "start", first, "end", last, "created",
        created, "provider", s_ident_ref(S_SYS_NPI, c->billing_npi), "priority",
        s_coding(S_SYS_PRIORITY, "normal"), "payee",
        json_pack("{s:o}", "type",
                  s_coding("http://terminology.hl7.org/CodeSystem/payeetype", "provider")),
        "careTeam", "sequence", 1, "provider",
        s_ident_ref(S_SYS_NPI,
                    c->rendering_npi && c->rendering_npi[0] ? c->rendering_npi : c->billing_npi),
        "insurance", "sequence", 1, "focal", 1, "coverage", "display", "Medicare Part B",
        "identifier", json_pack("{s:s, s:s}", "system", S_SYS_MBI, "value", s_str(c->mbi)),
        "diagnosis", diagnosis, "item", items, "total", s_money(c->amount_cents));
    if (!j)
        return CCM_ENOMEM;
    char seqs[24];
    snprintf(seqs, sizeof seqs, "%" PRIu64, ev->seq);
    json_object_set_new(
        j, "meta", json_pack("{s:[{s:s, s:s}]}", "tag", "system", S_SYS_STREAM_SEQ, "code", seqs));
    if (json_array_size(info) > 0)
        json_object_set_new(j, "supportingInfo", info);
    else
        json_decref(info);
    if (c->supersedes && c->supersedes[0])
        json_object_set_new(j, "related",
                            json_pack("[{s:o, s:o}]", "claim",
                                      s_ident_ref(S_SYS_CLAIM, c->supersedes), "relationship",
                                      s_coding(S_SYS_RELATED, "prior")));
    return s_dump(j, out);
}
