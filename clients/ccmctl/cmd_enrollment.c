/* ccmctl patient, condition, practitioner, staff, people, consent, visit, service,
 * inpatient and worklist: the enrollment service's commands. One table says which
 * flags each command takes and which it needs, so a flag a command does not use is
 * a usage error instead of being silently ignored. The client checks only what it
 * must to build a request (numbers, enum names, instants); the service validates
 * everything else and names the field at fault. */
#include <ctype.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ccm/enrollment.pb-c.h"
#include "ccm/tz.h"
#include "ccmctl.h"
#include "pbjson.h"

#define SERVICE "enrollment"

/* Expected duration that means "until death" (enrollment.proto, Condition). */
#define S_UNTIL_DEATH 999

/* Every flag of the enrollment commands; the index into s_opts and a bit of a flag set. */
enum {
    O_CLINIC,
    O_MRN,
    O_MBI,
    O_FAMILY,
    O_GIVEN,
    O_BIRTH_DATE,
    O_ID,
    O_NPI,
    O_ROLE,
    O_NAME,
    O_CREDENTIALS,
    O_OUTSIDE_US,
    O_BILLING_NPI,
    O_QMB,
    O_ICD10,
    O_DESCRIPTION,
    O_EXPECTED_MONTHS,
    O_UNTIL_DEATH,
    O_HIGH_RISK,
    O_ACUTE,
    O_PROGRAM,
    O_METHOD,
    O_AT,
    O_STAFF,
    O_DISCLOSED,
    O_SHARE,
    O_CODE,
    O_DATE,
    O_MONTH,
    O_G0506,
    O_TELEHEALTH,
    O_FROM,
    O_TO,
    O_FACILITY,
    O_AFTER,
    O_MAX,
    O_REQUEST_ID,
    O_PAYER,
    O_WITHDRAW,
    O_COUNT
};
_Static_assert(O_COUNT <= 64, "flag sets are 64-bit masks");

#define F(o) (UINT64_C(1) << (o))
/* getopt_long returns S_OPT_BASE + index: clear of ':' and '?', which it returns itself. */
#define S_OPT_BASE 1000
#define S_ARG(o, name) [o] = {name, required_argument, 0, S_OPT_BASE + (o)}
#define S_SWITCH(o, name) [o] = {name, no_argument, 0, S_OPT_BASE + (o)}
/* A switch that may be followed by a value as the next word: --qmb, --qmb no. */
#define S_OPTARG(o, name) [o] = {name, optional_argument, 0, S_OPT_BASE + (o)}

static const struct option s_opts[O_COUNT + 1] = {
    S_ARG(O_CLINIC, "clinic"),
    S_ARG(O_MRN, "mrn"),
    S_ARG(O_MBI, "mbi"),
    S_ARG(O_FAMILY, "family"),
    S_ARG(O_GIVEN, "given"),
    S_ARG(O_BIRTH_DATE, "birth-date"),
    S_ARG(O_ID, "id"),
    S_ARG(O_NPI, "npi"),
    S_ARG(O_ROLE, "role"),
    S_ARG(O_NAME, "name"),
    S_ARG(O_CREDENTIALS, "credentials"),
    S_SWITCH(O_OUTSIDE_US, "outside-us"),
    S_ARG(O_BILLING_NPI, "billing-npi"),
    S_OPTARG(O_QMB, "qmb"),
    S_ARG(O_ICD10, "icd10"),
    S_ARG(O_DESCRIPTION, "description"),
    S_ARG(O_EXPECTED_MONTHS, "expected-months"),
    S_SWITCH(O_UNTIL_DEATH, "until-death"),
    S_SWITCH(O_HIGH_RISK, "high-risk"),
    S_SWITCH(O_ACUTE, "acute"),
    S_ARG(O_PROGRAM, "program"),
    S_ARG(O_METHOD, "method"),
    S_ARG(O_AT, "at"),
    S_ARG(O_STAFF, "staff"),
    S_ARG(O_DISCLOSED, "disclosed"),
    S_SWITCH(O_SHARE, "share-electronically"),
    S_ARG(O_CODE, "code"),
    S_ARG(O_DATE, "date"),
    S_ARG(O_MONTH, "month"),
    S_SWITCH(O_G0506, "g0506"),
    S_SWITCH(O_TELEHEALTH, "telehealth"),
    S_ARG(O_FROM, "from"),
    S_ARG(O_TO, "to"),
    S_ARG(O_FACILITY, "facility"),
    S_ARG(O_AFTER, "after"),
    S_ARG(O_MAX, "max"),
    S_ARG(O_REQUEST_ID, "request-id"),
    S_ARG(O_PAYER, "payer"),
    S_SWITCH(O_WITHDRAW, "withdraw"),
    [O_COUNT] = {0, 0, 0, 0},
};

/* The flags given on the command line. */
typedef struct {
    const char *v[O_COUNT]; /* each flag's value; "" for a switch; NULL when not given */
} args_t;

/* yes/no of a switch that may take a value (S_OPTARG): "" (given alone) is yes.
 * 1, 0, or -1 after a usage error naming the flag. */
static int s_yes_no(const args_t *a, int o)
{
    const char *v = a->v[o];
    if (!v[0] || strcasecmp(v, "yes") == 0)
        return 1;
    if (strcasecmp(v, "no") == 0)
        return 0;
    ccmctl_usage("--%s takes yes or no (got \"%s\")", s_opts[o].name, v);
    return -1;
}

/* A switch (or flag) was given. */
static bool s_has(const args_t *a, int o)
{
    return a->v[o] != NULL;
}

/* A flag's value, or def when it was not given. */
static const char *s_or(const args_t *a, int o, const char *def)
{
    return a->v[o] ? a->v[o] : def;
}

/* ---- parsing values ---- */

/* n decimal digits at s into *out; -1 on anything else (stops at a NUL). */
static int s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static bool s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int s_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && s_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t s_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parses an RFC 3339 date-time, "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)",
 * into microseconds since the epoch, UTC (digits past the sixth of the fraction
 * are dropped). The offset is required: a bare local time would be read in the
 * zone ccmctl happens to run in, and a consent's time is audit evidence. Leap
 * seconds (:60) are refused like any other impossible time. Returns 0 or -1. */
static int s_rfc3339(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec;
    if (s_digits(s, 4, &y) || s[4] != '-' || s_digits(s + 5, 2, &mo) || s[7] != '-' ||
        s_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || s_digits(s + 11, 2, &h) ||
        s[13] != ':' || s_digits(s + 14, 2, &mi) || s[16] != ':' || s_digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > s_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return -1;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++, n++)
            if (n < 6)
                frac = frac * 10 + (*p - '0');
        if (n == 0 || n > 9)
            return -1;
        for (; n < 6; n++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (s_digits(p + 1, 2, &oh) || p[3] != ':' || s_digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (int64_t)(oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    int64_t secs = s_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *out = secs * 1000000 + frac;
    return 0;
}

/* --flag RFC3339 into *us, or a usage error naming the flag. */
static int s_instant(const args_t *a, int o, int64_t *us)
{
    if (s_rfc3339(a->v[o], us) == 0)
        return 0;
    return ccmctl_usage("--%s must be an RFC 3339 date-time with an offset, e.g. "
                        "2026-11-03T14:30:00-05:00 or 2026-11-03T19:30:00Z (got \"%s\")",
                        s_opts[o].name, a->v[o]);
}

/* --flag DATE|INSTANT into *us: an RFC 3339 instant, or a date YYYY-MM-DD
 * meaning local midnight in the clinic's time zone — how a clinic says when a
 * change took effect. The zone is the `timezone` of section [clinic ID] of the
 * configuration (--config, $CCM_CONFIG), as the services read it. */
static int s_when(ccmctl_t *ctl, const args_t *a, int o, int64_t *us)
{
    const char *v = a->v[o], *name = s_opts[o].name, *clinic = a->v[O_CLINIC];
    int32_t day;
    if (strlen(v) != 10 || strchr(v, 'T') || strchr(v, 't')) {
        if (s_rfc3339(v, us) == 0)
            return 0;
        return ccmctl_usage("--%s must be a date YYYY-MM-DD (midnight in the clinic's time zone) "
                            "or an RFC 3339 date-time with an offset, e.g. 2026-11-01 or "
                            "2026-11-03T14:30:00-05:00 (got \"%s\")",
                            name, v);
    }
    if (ccm_tz_parse_date(v, &day) != 0)
        return ccmctl_usage("--%s: \"%s\" is not a date YYYY-MM-DD", name, v);
    char section[64];
    snprintf(section, sizeof section, "clinic %s", clinic);
    const char *zone = ccm_config_get(ctl->cfg, section, "timezone", NULL);
    if (!zone)
        return ccmctl_usage("--%s %s is midnight in clinic %s's time zone, which the "
                            "configuration does not give ([clinic %s] timezone; use --config FILE "
                            "or $CCM_CONFIG), or give an RFC 3339 instant",
                            name, v, clinic, clinic);
    ccm_tz_t *tz = malloc(sizeof *tz);
    if (!tz)
        return CCMCTL_ERROR;
    int rc = ccm_tz_load(tz, zone);
    if (rc == 0)
        *us = ccm_tz_local_to_utc(tz, (int64_t)day * 86400) * 1000000;
    free(tz);
    if (rc != 0)
        return ccmctl_usage("[clinic %s] timezone: cannot load time zone \"%s\"", clinic, zone);
    return 0;
}

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* An enum value by name (any case) among allowed names (a NULL-terminated list),
 * or a usage error listing them. */
static int s_enum(const args_t *a, int o, const ProtobufCEnumDescriptor *d,
                  const char *const *allowed, int *out)
{
    const char *in = a->v[o];
    char up[32];
    size_t n = strlen(in);
    if (n < sizeof up) {
        for (size_t i = 0; i <= n; i++)
            up[i] = (char)toupper((unsigned char)in[i]);
        for (const char *const *k = allowed; *k; k++) {
            if (strcmp(up, *k) != 0)
                continue;
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(d, up);
            if (ev) {
                *out = ev->value;
                return 0;
            }
        }
    }
    char list[160] = "";
    for (const char *const *k = allowed; *k; k++) {
        strncat(list, *k, sizeof list - strlen(list) - 1);
        if (k[1])
            strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return ccmctl_usage("--%s must be one of %s (got \"%s\")", s_opts[o].name, list, in);
}

static const char *const s_practitioner_roles[] = {"PHYSICIAN", "NP", "PA", "CNS", "CNM", NULL};
static const char *const s_staff_roles[] = {
    "CLINICAL_STAFF", "NON_CLINICAL", "PHYSICIAN", "NP", "PA", "CNS", "CNM", NULL};
static const char *const s_program_names[] = {"CCM", "PCM", "APCM", NULL};
static const char *const s_method_names[] = {"VERBAL", "WRITTEN", NULL};

/* The name of an enum value, "?" when out of range. */
static const char *s_enum_name(const ProtobufCEnumDescriptor *d, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    return ev ? ev->name : "?";
}

/* ---- output ---- */

#define S_ENUM(type, v) s_enum_name(&ccm__enrollment__##type##__descriptor, (int)(v))

/* When a fact took effect: "since before any month" (0) or "from <instant>". */
static const char *s_from(long long us, char *buf, size_t len)
{
    char t[40];
    if (us == 0)
        snprintf(buf, len, "since before any month");
    else
        snprintf(buf, len, "from %s", ccmctl_time(us, t, sizeof t));
    return buf;
}

/* "chronic, 24 months, high risk" of an attestation's fields. */
static void s_print_attested(bool chronic, int months, bool high_risk)
{
    if (!chronic)
        printf("acute");
    else if (months == S_UNTIL_DEATH)
        printf("chronic, until death");
    else
        printf("chronic, %d months", months);
    if (high_risk)
        printf(", high risk");
}

static void s_print_patient(const Ccm__Enrollment__Patient *p)
{
    char t[40], t2[40], f[64];
    printf("patient   %s/%s\n", p->clinic, p->mrn);
    printf("name      %s, %s\n", p->family_name, p->given_name);
    printf("mbi       %s\n", p->mbi);
    printf("born      %s\n", p->birth_date);
    if (p->death_date[0] && p->died_us)
        printf("died      %s (at %s)\n", p->death_date, ccmctl_time(p->died_us, t, sizeof t));
    else if (p->death_date[0])
        printf("died      %s\n", p->death_date);
    if (p->qmb)
        printf("qmb       yes (Qualified Medicare Beneficiary)\n");
    printf("payer     %s\n", p->payer[0] ? p->payer : "MEDICARE_B");
    for (size_t i = 0; i < p->n_payer_history; i++) {
        const Ccm__Enrollment__PayerPeriod *h = p->payer_history[i];
        printf("          %-18s %s%s\n", h->payer[0] ? h->payer : "MEDICARE_B",
               s_from(h->from_us, f, sizeof f), h->qmb ? "  qmb" : "");
    }
    for (size_t i = 0; i < p->n_complex_months; i++)
        printf("complex   %s (attested complex CCM)\n", p->complex_months[i]);
    printf("billing   %s\n", p->billing_npi[0] ? p->billing_npi : "(no billing practitioner)");
    for (size_t i = 0; i < p->n_billing_history; i++) {
        const Ccm__Enrollment__BillingPeriod *h = p->billing_history[i];
        printf("          %-18s %s\n", h->npi[0] ? h->npi : "(none)",
               s_from(h->from_us, f, sizeof f));
    }
    printf("eligible  %s\n", S_ENUM(eligibility, p->eligibility));
    for (size_t i = 0; i < p->n_eligibility_reasons; i++)
        printf("          %s\n", p->eligibility_reasons[i]);
    printf("created   %s\n", ccmctl_time(p->created_us, t, sizeof t));

    size_t active = 0;
    for (size_t i = 0; i < p->n_conditions; i++)
        active += p->conditions[i]->resolved_us == 0;
    printf("conditions (%zu active)\n", active);
    for (size_t i = 0; i < p->n_conditions; i++) {
        const Ccm__Enrollment__Condition *c = p->conditions[i];
        printf("  %-8s %-8s recorded %s  ", c->icd10, c->resolved_us ? "resolved" : "active",
               ccmctl_time(c->added_us, t, sizeof t));
        s_print_attested(c->chronic, c->expected_months, c->high_risk);
        if (c->description[0])
            printf("  %s", c->description);
        putchar('\n');
        for (size_t k = 0; k < c->n_attestations; k++) {
            const Ccm__Enrollment__Attestation *at = c->attestations[k];
            printf("           %s: ", s_from(at->from_us, f, sizeof f));
            s_print_attested(at->chronic, at->expected_months, at->high_risk);
            putchar('\n');
        }
        if (c->resolved_us)
            printf("           resolved %s\n", ccmctl_time(c->resolved_us, t, sizeof t));
    }

    printf("consents (%zu)\n", p->n_consents);
    for (size_t i = 0; i < p->n_consents; i++) {
        const Ccm__Enrollment__Consent *c = p->consents[i];
        printf("  %-4s %-20s npi %s  %s at %s by %s", S_ENUM(program, c->program),
               S_ENUM(consent_status, c->status), c->billing_npi, S_ENUM(consent_method, c->method),
               ccmctl_time(c->at_us, t, sizeof t), c->staff_id);
        if (c->effective_until[0])
            printf("  until %s", c->effective_until);
        if (c->revoked_us)
            printf("  (revoked %s)", ccmctl_time(c->revoked_us, t2, sizeof t2));
        if (c->ended_us)
            printf("  (ended %s)", ccmctl_time(c->ended_us, t2, sizeof t2));
        printf("\n       disclosed:%s%s%s%s%s\n", c->disclosed_cost_sharing ? " cost-sharing" : "",
               c->disclosed_one_practitioner ? " one-practitioner" : "",
               c->disclosed_right_to_stop ? " right-to-stop" : "",
               c->disclosed_cost_sharing || c->disclosed_one_practitioner ||
                       c->disclosed_right_to_stop
                   ? ""
                   : " (none)",
               c->share_electronically ? "; may share electronically" : "");
    }

    printf("visits (%zu)\n", p->n_visits);
    for (size_t i = 0; i < p->n_visits; i++) {
        const Ccm__Enrollment__Visit *v = p->visits[i];
        printf("  %s  %-6s npi %s%s%s\n", v->date, v->code, v->npi, v->g0506 ? "  G0506" : "",
               v->telehealth ? "  telehealth" : "");
    }

    printf("other services (%zu)\n", p->n_other_services);
    for (size_t i = 0; i < p->n_other_services; i++) {
        const Ccm__Enrollment__OtherService *o = p->other_services[i];
        printf("  %s  %-6s npi %s\n", o->month, o->code, o->npi);
    }

    printf("inpatient stays (%zu)\n", p->n_inpatient);
    for (size_t i = 0; i < p->n_inpatient; i++) {
        const Ccm__Enrollment__InpatientStay *s = p->inpatient[i];
        printf("  %s to %s", ccmctl_time(s->from_us, t, sizeof t),
               s->to_us ? ccmctl_time(s->to_us, t2, sizeof t2) : "(still inpatient)");
        if (s->facility[0])
            printf("  %s", s->facility);
        putchar('\n');
    }
}

static void s_print_patients(const Ccm__Enrollment__PatientList *l)
{
    printf("%-10s %-12s %-11s %-10s %s\n", "MRN", "MBI", "BORN", "CONDITIONS", "NAME");
    for (size_t i = 0; i < l->n_patients; i++) {
        const Ccm__Enrollment__Patient *p = l->patients[i];
        size_t active = 0;
        for (size_t k = 0; k < p->n_conditions; k++)
            active += p->conditions[k]->resolved_us == 0;
        printf("%-10s %-12s %-11s %-10zu %s, %s\n", p->mrn, p->mbi, p->birth_date, active,
               p->family_name, p->given_name);
    }
    printf("(%zu patients%s)\n", l->n_patients,
           l->more ? "; more: use --after with the last MRN" : "");
}

static void s_print_practitioner_row(const Ccm__Enrollment__Practitioner *p)
{
    printf("  %-10s  %-9s %-10s %s, %s\n", p->npi, S_ENUM(role, p->role), p->credentials,
           p->family_name, p->given_name);
}

static void s_print_staff_row(const Ccm__Enrollment__Staff *s)
{
    printf("  %-10s  %-14s %-8s %-10s %s\n", s->id, S_ENUM(role, s->role), s->credentials,
           s->in_us ? "in US" : "outside US", s->name);
}

static void s_print_people(const Ccm__Enrollment__People *p)
{
    printf("practitioners (%zu)\n", p->n_practitioners);
    for (size_t i = 0; i < p->n_practitioners; i++)
        s_print_practitioner_row(p->practitioners[i]);
    printf("staff (%zu)\n", p->n_staff);
    for (size_t i = 0; i < p->n_staff; i++)
        s_print_staff_row(p->staff[i]);
}

static void s_print_worklist(const Ccm__Enrollment__WorklistReply *w)
{
    printf("%-10s %-13s %-24s %s\n", "MRN", "ELIGIBILITY", "REASON", "NAME");
    for (size_t i = 0; i < w->n_items; i++) {
        const Ccm__Enrollment__WorklistItem *it = w->items[i];
        printf("%-10s %-13s %-24s %s, %s\n", it->mrn, S_ENUM(eligibility, it->eligibility),
               it->reason, it->family_name, it->given_name);
        if (it->detail[0])
            printf("           %s\n", it->detail);
    }
    printf("(%zu to do)\n", w->n_items);
}

/* The result member of a reply, or NULL when it has none. */
static const ProtobufCMessage *s_result(const Ccm__Enrollment__Reply *r)
{
    switch (r->result_case) {
    case CCM__ENROLLMENT__REPLY__RESULT_PATIENT: return &r->patient->base;
    case CCM__ENROLLMENT__REPLY__RESULT_PATIENTS: return &r->patients->base;
    case CCM__ENROLLMENT__REPLY__RESULT_PRACTITIONER: return &r->practitioner->base;
    case CCM__ENROLLMENT__REPLY__RESULT_STAFF: return &r->staff->base;
    case CCM__ENROLLMENT__REPLY__RESULT_PEOPLE: return &r->people->base;
    case CCM__ENROLLMENT__REPLY__RESULT_WORKLIST: return &r->worklist->base;
    default: return NULL;
    }
}

/* Sends req and prints the reply's result: JSON with --json, else for people. */
static int s_run(ccmctl_t *ctl, Ccm__Enrollment__Request *req)
{
    ProtobufCMessage *m;
    int code = ccmctl_call(ctl, SERVICE, &req->base, &ccm__enrollment__reply__descriptor, &m);
    if (code != CCMCTL_OK)
        return code;
    Ccm__Enrollment__Reply *r = (Ccm__Enrollment__Reply *)m;
    code = ccmctl_check(ctl, r->status);
    const ProtobufCMessage *res = s_result(r);
    if (code == CCMCTL_OK && res) {
        if (ctl->json) {
            ccmctl_print_json(ccm_pbjson(res));
        } else {
            switch (r->result_case) {
            case CCM__ENROLLMENT__REPLY__RESULT_PATIENT: s_print_patient(r->patient); break;
            case CCM__ENROLLMENT__REPLY__RESULT_PATIENTS: s_print_patients(r->patients); break;
            case CCM__ENROLLMENT__REPLY__RESULT_PRACTITIONER:
                printf("practitioner of clinic %s\n", r->practitioner->clinic);
                s_print_practitioner_row(r->practitioner);
                break;
            case CCM__ENROLLMENT__REPLY__RESULT_STAFF:
                printf("staff of clinic %s\n", r->staff->clinic);
                s_print_staff_row(r->staff);
                break;
            case CCM__ENROLLMENT__REPLY__RESULT_PEOPLE: s_print_people(r->people); break;
            case CCM__ENROLLMENT__REPLY__RESULT_WORKLIST: s_print_worklist(r->worklist); break;
            default: break;
            }
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return code;
}

/* ---- one function per command: build the operation, send it ---- */

typedef int (*run_fn)(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req);

static int s_patient_add(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__RegisterPatient in = CCM__ENROLLMENT__REGISTER_PATIENT__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.mbi = (char *)a->v[O_MBI];
    in.family_name = (char *)a->v[O_FAMILY];
    in.given_name = (char *)a->v[O_GIVEN];
    in.birth_date = (char *)a->v[O_BIRTH_DATE];
    in.billing_npi = (char *)s_or(a, O_BILLING_NPI, "");
    int qmb = s_has(a, O_QMB) ? s_yes_no(a, O_QMB) : 0;
    if (qmb < 0)
        return CCMCTL_USAGE;
    in.qmb = qmb;
    in.payer = (char *)s_or(a, O_PAYER, "");
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_REGISTER_PATIENT;
    req->register_patient = &in;
    return s_run(ctl, req);
}

static int s_patient_show(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__GetPatient in = CCM__ENROLLMENT__GET_PATIENT__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_GET_PATIENT;
    req->get_patient = &in;
    return s_run(ctl, req);
}

static int s_patient_list(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    long max = 0;
    if (s_has(a, O_MAX)) {
        char *end;
        max = strtol(a->v[O_MAX], &end, 10);
        if (*end || end == a->v[O_MAX] || max < 1 || max > 1000)
            return ccmctl_usage("--max must be 1 to 1000");
    }
    Ccm__Enrollment__ListPatients in = CCM__ENROLLMENT__LIST_PATIENTS__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.after_mrn = (char *)s_or(a, O_AFTER, "");
    in.max = (uint32_t)max;
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_LIST_PATIENTS;
    req->list_patients = &in;
    return s_run(ctl, req);
}

static int s_patient_set_billing(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__SetBillingPractitioner in = CCM__ENROLLMENT__SET_BILLING_PRACTITIONER__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.npi = (char *)a->v[O_NPI];
    int rc; /* 0: the first practitioner since before any month, a change now */
    if (s_has(a, O_FROM) && (rc = s_when(ctl, a, O_FROM, &in.effective_us)))
        return rc;
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_SET_BILLING_PRACTITIONER;
    req->set_billing_practitioner = &in;
    return s_run(ctl, req);
}

static int s_patient_payer(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__SetPayer in = CCM__ENROLLMENT__SET_PAYER__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.payer = (char *)a->v[O_PAYER];
    int rc; /* 0: now */
    if (s_has(a, O_FROM) && (rc = s_when(ctl, a, O_FROM, &in.effective_us)))
        return rc;
    if (s_has(a, O_QMB)) {
        int qmb = s_yes_no(a, O_QMB);
        if (qmb < 0)
            return CCMCTL_USAGE;
        in.qmb = qmb ? CCM__ENROLLMENT__QMB_CHANGE__QMB_YES : CCM__ENROLLMENT__QMB_CHANGE__QMB_NO;
    }
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_SET_PAYER;
    req->set_payer = &in;
    return s_run(ctl, req);
}

static int s_patient_complexity(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__AttestComplexity in = CCM__ENROLLMENT__ATTEST_COMPLEXITY__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.month = (char *)a->v[O_MONTH];
    in.withdraw = s_has(a, O_WITHDRAW);
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_ATTEST_COMPLEXITY;
    req->attest_complexity = &in;
    return s_run(ctl, req);
}

static int s_patient_death(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__RecordDeath in = CCM__ENROLLMENT__RECORD_DEATH__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.date = (char *)a->v[O_DATE];
    int rc; /* 0: only the date is known */
    if (s_has(a, O_AT) && (rc = s_instant(a, O_AT, &in.at_us)))
        return rc;
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_RECORD_DEATH;
    req->record_death = &in;
    return s_run(ctl, req);
}

static int s_condition_add(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    long months = 0;
    if (s_has(a, O_EXPECTED_MONTHS) && s_has(a, O_UNTIL_DEATH))
        return ccmctl_usage("give --expected-months or --until-death, not both");
    if (s_has(a, O_EXPECTED_MONTHS)) {
        const char *v = a->v[O_EXPECTED_MONTHS];
        char *end;
        months = strtol(v, &end, 10);
        if (*end || end == v || months < 0 || months > S_UNTIL_DEATH)
            return ccmctl_usage("--expected-months must be 0 to 999 (999: until death)");
    } else if (s_has(a, O_UNTIL_DEATH)) {
        months = S_UNTIL_DEATH;
    }
    Ccm__Enrollment__AddCondition in = CCM__ENROLLMENT__ADD_CONDITION__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.icd10 = (char *)a->v[O_ICD10];
    in.description = (char *)s_or(a, O_DESCRIPTION, "");
    in.expected_months = (int32_t)months;
    in.high_risk = s_has(a, O_HIGH_RISK);
    in.acute = s_has(a, O_ACUTE);
    int rc; /* 0: a new condition since before any month, another attestation now */
    if (s_has(a, O_FROM) && (rc = s_when(ctl, a, O_FROM, &in.effective_us)))
        return rc;
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_CONDITION;
    req->add_condition = &in;
    return s_run(ctl, req);
}

static int s_condition_resolve(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__ResolveCondition in = CCM__ENROLLMENT__RESOLVE_CONDITION__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.icd10 = (char *)a->v[O_ICD10];
    int rc; /* 0: now */
    if (s_has(a, O_AT) && (rc = s_when(ctl, a, O_AT, &in.effective_us)))
        return rc;
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_RESOLVE_CONDITION;
    req->resolve_condition = &in;
    return s_run(ctl, req);
}

static int s_practitioner_add(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    int role, rc;
    if ((rc = s_enum(a, O_ROLE, &ccm__enrollment__role__descriptor, s_practitioner_roles, &role)))
        return rc;
    Ccm__Enrollment__AddPractitioner in = CCM__ENROLLMENT__ADD_PRACTITIONER__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.npi = (char *)a->v[O_NPI];
    in.role = (Ccm__Enrollment__Role)role;
    in.credentials = (char *)s_or(a, O_CREDENTIALS, "");
    in.family_name = (char *)a->v[O_FAMILY];
    in.given_name = (char *)a->v[O_GIVEN];
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_PRACTITIONER;
    req->add_practitioner = &in;
    return s_run(ctl, req);
}

static int s_staff_add(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    int role, rc;
    if ((rc = s_enum(a, O_ROLE, &ccm__enrollment__role__descriptor, s_staff_roles, &role)))
        return rc;
    Ccm__Enrollment__AddStaff in = CCM__ENROLLMENT__ADD_STAFF__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.id = (char *)a->v[O_ID];
    in.role = (Ccm__Enrollment__Role)role;
    in.outside_us = s_has(a, O_OUTSIDE_US);
    in.name = (char *)a->v[O_NAME];
    in.credentials = (char *)s_or(a, O_CREDENTIALS, "");
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_STAFF;
    req->add_staff = &in;
    return s_run(ctl, req);
}

static int s_people_list(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__ListPeople in = CCM__ENROLLMENT__LIST_PEOPLE__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_LIST_PEOPLE;
    req->list_people = &in;
    return s_run(ctl, req);
}

static int s_consent_record(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    int program, method, rc;
    if ((rc = s_enum(a, O_PROGRAM, &ccm__enrollment__program__descriptor, s_program_names,
                     &program)) ||
        (rc = s_enum(a, O_METHOD, &ccm__enrollment__consent_method__descriptor, s_method_names,
                     &method)))
        return rc;
    int64_t at = s_now_us();
    if (s_has(a, O_AT) && (rc = s_when(ctl, a, O_AT, &at)))
        return rc;
    Ccm__Enrollment__RecordConsent in = CCM__ENROLLMENT__RECORD_CONSENT__INIT;
    /* --disclosed lists what the patient was told, comma-separated; what is not
     * listed is sent as not disclosed, and the service names it. */
    char list[128];
    if (strlen(a->v[O_DISCLOSED]) >= sizeof list)
        return ccmctl_usage("--disclosed is too long");
    strcpy(list, a->v[O_DISCLOSED]);
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (strcmp(item, "cost-sharing") == 0)
            in.disclosed_cost_sharing = true;
        else if (strcmp(item, "one-practitioner") == 0)
            in.disclosed_one_practitioner = true;
        else if (strcmp(item, "right-to-stop") == 0)
            in.disclosed_right_to_stop = true;
        else
            return ccmctl_usage("--disclosed takes cost-sharing, one-practitioner and "
                                "right-to-stop, comma-separated (got \"%s\")",
                                item);
    }
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.program = (Ccm__Enrollment__Program)program;
    in.method = (Ccm__Enrollment__ConsentMethod)method;
    in.at_us = at;
    in.staff_id = (char *)a->v[O_STAFF];
    in.billing_npi = (char *)a->v[O_BILLING_NPI];
    in.share_electronically = s_has(a, O_SHARE);
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_RECORD_CONSENT;
    req->record_consent = &in;
    return s_run(ctl, req);
}

static int s_consent_revoke(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    int program, rc;
    if ((rc = s_enum(a, O_PROGRAM, &ccm__enrollment__program__descriptor, s_program_names,
                     &program)))
        return rc;
    int64_t at = 0; /* the service's now */
    if (s_has(a, O_AT) && (rc = s_when(ctl, a, O_AT, &at)))
        return rc;
    Ccm__Enrollment__RevokeConsent in = CCM__ENROLLMENT__REVOKE_CONSENT__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.program = (Ccm__Enrollment__Program)program;
    in.at_us = at;
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_REVOKE_CONSENT;
    req->revoke_consent = &in;
    return s_run(ctl, req);
}

static int s_visit_add(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__AddVisit in = CCM__ENROLLMENT__ADD_VISIT__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.code = (char *)a->v[O_CODE];
    in.date = (char *)a->v[O_DATE];
    in.npi = (char *)a->v[O_NPI];
    in.g0506 = s_has(a, O_G0506);
    in.telehealth = s_has(a, O_TELEHEALTH);
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_VISIT;
    req->add_visit = &in;
    return s_run(ctl, req);
}

static int s_service_add(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__AddOtherService in = CCM__ENROLLMENT__ADD_OTHER_SERVICE__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.code = (char *)a->v[O_CODE];
    in.month = (char *)a->v[O_MONTH];
    in.npi = (char *)a->v[O_NPI];
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_OTHER_SERVICE;
    req->add_other_service = &in;
    return s_run(ctl, req);
}

static int s_inpatient_add(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    int64_t from, to = 0; /* 0: still inpatient */
    int rc;
    if ((rc = s_instant(a, O_FROM, &from)) || (s_has(a, O_TO) && (rc = s_instant(a, O_TO, &to))))
        return rc;
    Ccm__Enrollment__AddInpatientStay in = CCM__ENROLLMENT__ADD_INPATIENT_STAY__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    in.mrn = (char *)a->v[O_MRN];
    in.from_us = from;
    in.to_us = to;
    in.facility = (char *)s_or(a, O_FACILITY, "");
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_ADD_INPATIENT_STAY;
    req->add_inpatient_stay = &in;
    return s_run(ctl, req);
}

static int s_worklist(ccmctl_t *ctl, const args_t *a, Ccm__Enrollment__Request *req)
{
    Ccm__Enrollment__Worklist in = CCM__ENROLLMENT__WORKLIST__INIT;
    in.clinic = (char *)a->v[O_CLINIC];
    req->op_case = CCM__ENROLLMENT__REQUEST__OP_WORKLIST;
    req->worklist = &in;
    return s_run(ctl, req);
}

/* ---- the command table ---- */

typedef struct {
    const char *command;
    const char *verb; /* NULL: the command has no verb */
    run_fn run;
    uint64_t takes; /* flags it accepts (besides --request-id on a mutation) */
    uint64_t needs; /* flags it requires, checked in flag order */
    bool mutation;  /* changes state: takes --request-id, sends one */
} verb_t;

#define PKEY (F(O_CLINIC) | F(O_MRN))

static const verb_t s_verbs[] = {
    {"patient", "add", s_patient_add,
     PKEY | F(O_MBI) | F(O_FAMILY) | F(O_GIVEN) | F(O_BIRTH_DATE) | F(O_BILLING_NPI) | F(O_QMB) |
         F(O_PAYER),
     PKEY | F(O_MBI) | F(O_FAMILY) | F(O_GIVEN) | F(O_BIRTH_DATE), true},
    {"patient", "show", s_patient_show, PKEY, PKEY, false},
    {"patient", "list", s_patient_list, F(O_CLINIC) | F(O_AFTER) | F(O_MAX), F(O_CLINIC), false},
    {"patient", "set-billing", s_patient_set_billing, PKEY | F(O_NPI) | F(O_FROM), PKEY | F(O_NPI),
     true},
    {"patient", "death", s_patient_death, PKEY | F(O_DATE) | F(O_AT), PKEY | F(O_DATE), true},
    {"patient", "payer", s_patient_payer, PKEY | F(O_PAYER) | F(O_FROM) | F(O_QMB),
     PKEY | F(O_PAYER), true},
    {"patient", "complexity", s_patient_complexity, PKEY | F(O_MONTH) | F(O_WITHDRAW),
     PKEY | F(O_MONTH), true},
    {"condition", "add", s_condition_add,
     PKEY | F(O_ICD10) | F(O_DESCRIPTION) | F(O_EXPECTED_MONTHS) | F(O_UNTIL_DEATH) |
         F(O_HIGH_RISK) | F(O_ACUTE) | F(O_FROM),
     PKEY | F(O_ICD10), true},
    {"condition", "resolve", s_condition_resolve, PKEY | F(O_ICD10) | F(O_AT), PKEY | F(O_ICD10),
     true},
    {"practitioner", "add", s_practitioner_add,
     F(O_CLINIC) | F(O_NPI) | F(O_ROLE) | F(O_FAMILY) | F(O_GIVEN) | F(O_CREDENTIALS),
     F(O_CLINIC) | F(O_NPI) | F(O_ROLE) | F(O_FAMILY) | F(O_GIVEN), true},
    {"staff", "add", s_staff_add,
     F(O_CLINIC) | F(O_ID) | F(O_ROLE) | F(O_NAME) | F(O_CREDENTIALS) | F(O_OUTSIDE_US),
     F(O_CLINIC) | F(O_ID) | F(O_ROLE) | F(O_NAME), true},
    {"people", "list", s_people_list, F(O_CLINIC), F(O_CLINIC), false},
    {"consent", "record", s_consent_record,
     PKEY | F(O_PROGRAM) | F(O_METHOD) | F(O_AT) | F(O_STAFF) | F(O_BILLING_NPI) | F(O_DISCLOSED) |
         F(O_SHARE),
     PKEY | F(O_PROGRAM) | F(O_METHOD) | F(O_STAFF) | F(O_BILLING_NPI) | F(O_DISCLOSED), true},
    {"consent", "revoke", s_consent_revoke, PKEY | F(O_PROGRAM) | F(O_AT), PKEY | F(O_PROGRAM),
     true},
    {"visit", "add", s_visit_add,
     PKEY | F(O_CODE) | F(O_DATE) | F(O_NPI) | F(O_G0506) | F(O_TELEHEALTH),
     PKEY | F(O_CODE) | F(O_DATE) | F(O_NPI), true},
    {"service", "add", s_service_add, PKEY | F(O_CODE) | F(O_MONTH) | F(O_NPI),
     PKEY | F(O_CODE) | F(O_MONTH) | F(O_NPI), true},
    {"inpatient", "add", s_inpatient_add, PKEY | F(O_FROM) | F(O_TO) | F(O_FACILITY),
     PKEY | F(O_FROM), true},
    {"worklist", NULL, s_worklist, F(O_CLINIC), F(O_CLINIC), false},
};

/* Parses argv (argv[0] is the verb or command) for v into a. */
static int s_parse(ccmctl_t *ctl, const verb_t *v, int argc, char **argv, args_t *a)
{
    uint64_t takes = v->takes | (v->mutation ? F(O_REQUEST_ID) : 0);
    memset(a, 0, sizeof *a);
    if (takes & F(O_CLINIC))
        a->v[O_CLINIC] = ctl->clinic;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", s_opts, NULL)) != -1) {
        if (c == ':')
            return ccmctl_usage("%s needs a value", argv[optind - 1]);
        if (c == '?' && optopt >= S_OPT_BASE && optopt < S_OPT_BASE + O_COUNT)
            return ccmctl_usage("--%s takes no value", s_opts[optopt - S_OPT_BASE].name);
        int o = c - S_OPT_BASE;
        if (c == '?' || o < 0 || o >= O_COUNT)
            return ccmctl_usage("unknown option %s", argv[optind - 1]);
        if (!(takes & F(o)))
            return ccmctl_usage("%s%s%s does not take --%s", v->command, v->verb ? " " : "",
                                v->verb ? v->verb : "", s_opts[o].name);
        a->v[o] = s_opts[o].has_arg == no_argument ? "" : optarg;
        /* getopt takes an optional value only as --flag=value; take the next
         * word too (these commands have no operands). */
        if (s_opts[o].has_arg == optional_argument && !optarg) {
            a->v[o] = "";
            if (optind < argc && argv[optind][0] != '-')
                a->v[o] = argv[optind++];
        }
    }
    if (optind != argc)
        return ccmctl_usage("unexpected argument \"%s\"", argv[optind]);
    char missing[256] = "";
    for (int o = 0; o < O_COUNT; o++) {
        if (!(v->needs & F(o)) || a->v[o])
            continue;
        size_t n = strlen(missing);
        snprintf(missing + n, sizeof missing - n, "%s--%s", n ? ", " : "", s_opts[o].name);
    }
    if (missing[0])
        return ccmctl_usage("%s%s%s needs %s", v->command, v->verb ? " " : "",
                            v->verb ? v->verb : "", missing);
    return 0;
}

/* Finds command's verb in argv[1] (or the verb-less command), parses its flags,
 * and runs it. */
static int s_dispatch(ccmctl_t *ctl, const char *command, int argc, char **argv)
{
    const verb_t *v = NULL;
    char verbs[128] = "";
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++) {
        const verb_t *k = &s_verbs[i];
        if (strcmp(k->command, command) != 0)
            continue;
        if (!k->verb) {
            v = k;
            break;
        }
        if (verbs[0])
            strncat(verbs, ", ", sizeof verbs - strlen(verbs) - 1);
        strncat(verbs, k->verb, sizeof verbs - strlen(verbs) - 1);
        if (argc >= 2 && strcmp(argv[1], k->verb) == 0)
            v = k;
    }
    if (!v && argc < 2)
        return ccmctl_usage("%s needs one of: %s", command, verbs);
    if (!v)
        return ccmctl_usage("%s: unknown verb \"%s\" (%s)", command, argv[1], verbs);
    int skip = v->verb ? 1 : 0;
    args_t a;
    int rc = s_parse(ctl, v, argc - skip, argv + skip, &a);
    if (rc)
        return rc;
    char rid[33] = "";
    if (v->mutation)
        ccmctl_request_id(rid);
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.request_id = (char *)s_or(&a, O_REQUEST_ID, rid);
    return v->run(ctl, &a, &req);
}

int ccmctl_cmd_patient(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "patient", argc, argv);
}

int ccmctl_cmd_condition(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "condition", argc, argv);
}

int ccmctl_cmd_practitioner(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "practitioner", argc, argv);
}

int ccmctl_cmd_staff(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "staff", argc, argv);
}

int ccmctl_cmd_people(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "people", argc, argv);
}

int ccmctl_cmd_consent(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "consent", argc, argv);
}

int ccmctl_cmd_visit(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "visit", argc, argv);
}

int ccmctl_cmd_service(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "service", argc, argv);
}

int ccmctl_cmd_inpatient(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "inpatient", argc, argv);
}

int ccmctl_cmd_worklist(ccmctl_t *ctl, int argc, char **argv)
{
    return s_dispatch(ctl, "worklist", argc, argv);
}
