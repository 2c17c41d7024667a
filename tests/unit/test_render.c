/* ccm-watch renderers on hand-built claims: X12 837P envelope, counts, control
 * numbers and frequency; CSV columns; FHIR required fields; canonical JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "render.h"
#include "test_render_claim.h"

#define MAX_SEGS 128

/* Splits an interchange into segments (each without its "~\n"). Returns the count. */
static int split(char *x12, char *segs[MAX_SEGS])
{
    int n = 0;
    char *p = x12;
    while (*p && n < MAX_SEGS) {
        char *end = strstr(p, "~\n");
        assert_non_null(end);
        *end = '\0';
        segs[n++] = p;
        p = end + 2;
    }
    assert_int_equal(*p, '\0');
    return n;
}

/* Element i (0 = segment id) of a segment, copied into out. */
static const char *elem(const char *seg, int i, char *out, size_t cap)
{
    const char *p = seg;
    for (int k = 0; k < i; k++) {
        p = strchr(p, '*');
        if (!p) {
            out[0] = '\0';
            return out;
        }
        p++;
    }
    size_t n = strcspn(p, "*");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static int find(char *segs[], int n, const char *prefix)
{
    for (int i = 0; i < n; i++)
        if (strncmp(segs[i], prefix, strlen(prefix)) == 0)
            return i;
    return -1;
}

static int count(char *segs[], int n, const char *prefix)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += strncmp(segs[i], prefix, strlen(prefix)) == 0;
    return k;
}

static const ccm_render_event_t EV = {42, "claim.ready", "C01/1042/2026-11/CCM",
                                      1796040000000000LL}; /* 2026-11-30T12:00:00Z */

static char *render_837p(unsigned version, uint64_t control)
{
    test_claim_t t;
    test_claim_init(&t, version);
    ccm_render_ids_t ids = test_ids();
    ccm_render_person_t pat = {"Rivera", "Ana", "1948-02-29"}, doc = {"Park", "Mina", NULL};
    char *out = NULL;
    assert_int_equal(ccm_render_837p(&EV, &t.claim, &ids, &pat, &doc, control, &out), 0);
    return out;
}

static void test_837p_original_envelope_counts_and_controls(void **state)
{
    (void)state;
    char *x = render_837p(1, 42);
    char *segs[MAX_SEGS] = {NULL}, e[128], e2[128];
    int n = split(x, segs);
    assert_true(n > 10);
    /* ISA is fixed width: 106 characters with its terminator */
    assert_int_equal(strlen(segs[0]) + 1, 106);
    assert_string_equal(elem(segs[0], 13, e, sizeof e), "000000042");
    assert_string_equal(elem(segs[0], 15, e, sizeof e), "T");
    assert_string_equal(elem(segs[0], 16, e, sizeof e), ":");
    assert_string_equal(elem(segs[0], 12, e, sizeof e), "00501");
    assert_string_equal(elem(segs[0], 6, e, sizeof e), "SUB123         ");
    assert_string_equal(elem(segs[0], 9, e, sizeof e), "261130");
    assert_string_equal(elem(segs[1], 0, e, sizeof e), "GS");
    assert_string_equal(elem(segs[1], 6, e, sizeof e), "42");
    assert_string_equal(elem(segs[1], 8, e, sizeof e), "005010X222A1");
    assert_string_equal(elem(segs[1], 4, e, sizeof e), "20261130");
    /* trailers close what the headers opened */
    assert_string_equal(elem(segs[n - 1], 0, e, sizeof e), "IEA");
    assert_string_equal(elem(segs[n - 1], 1, e, sizeof e), "1");
    assert_string_equal(elem(segs[n - 1], 2, e, sizeof e), elem(segs[0], 13, e2, sizeof e2));
    assert_string_equal(elem(segs[n - 2], 0, e, sizeof e), "GE");
    assert_string_equal(elem(segs[n - 2], 1, e, sizeof e), "1");
    assert_string_equal(elem(segs[n - 2], 2, e, sizeof e), elem(segs[1], 6, e2, sizeof e2));
    int st = find(segs, n, "ST*"), se = find(segs, n, "SE*");
    assert_int_equal(st, 2);
    assert_int_equal(se, n - 3);
    assert_int_equal(atoi(elem(segs[se], 1, e, sizeof e)), se - st + 1);
    assert_string_equal(elem(segs[se], 2, e, sizeof e), elem(segs[st], 2, e2, sizeof e2));
    assert_string_equal(segs[st], "ST*837*0001*005010X222A1");
    /* loops */
    assert_string_equal(segs[st + 1], "BHT*0019*00*42*20261130*1200*CH"); /* BHT03 = seq */
    assert_true(find(segs, n, "REF*D9*C01/1042/2026-11/CCM#v1") > 0);     /* claim id */
    assert_true(find(segs, n, "NM1*41*2*RIVERSIDE BILLING*****46*SUB123") > st);
    assert_true(find(segs, n, "NM1*40*2*CLEAR HOUSE*****46*CLEARHOUSE1") > st);
    assert_true(find(segs, n, "HL*1**20*1") > 0);
    assert_true(find(segs, n, "NM1*85*2*RIVERSIDE FAMILY MEDICINE*****XX*1234567893") > 0);
    assert_true(find(segs, n, "N3*1 MAIN ST") > 0);
    assert_true(find(segs, n, "N4*ALBANY*NY*122070001") > 0);
    assert_true(find(segs, n, "REF*EI*123456789") > 0);
    assert_true(find(segs, n, "HL*2*1*22*0") > 0);
    assert_true(find(segs, n, "SBR*P*18*******MB") > 0);
    assert_true(find(segs, n, "NM1*IL*1*RIVERA*ANA****MI*1EG4TE5MK73") > 0);
    assert_true(find(segs, n, "DMG*D8*19480229*U") > 0);
    assert_true(find(segs, n, "NM1*PR*2*MEDICARE PART B*****PI*12502") > 0);
    int clm = find(segs, n, "CLM*");
    assert_string_equal(segs[clm], "CLM*C01/1042/2026-11/CCM*106.42***11:B:1*Y*A*Y*Y");
    assert_int_equal(find(segs, n, "REF*F8*"), -1);
    assert_true(find(segs, n, "HI*ABK:E1122*ABF:I10") > clm);
    assert_true(find(segs, n, "NM1*82*1*PARK*MINA****XX*1245319599") > clm);
    /* one 2400 loop per line */
    assert_int_equal(count(segs, n, "LX*"), 2);
    int lx1 = find(segs, n, "LX*1");
    assert_string_equal(segs[lx1 + 1], "SV1*HC:99490*60.49*UN*1***1:2");
    assert_string_equal(segs[lx1 + 2], "DTP*472*D8*20261118");
    assert_string_equal(segs[lx1 + 3], "LX*2");
    assert_string_equal(segs[lx1 + 4], "SV1*HC:99439*45.93*UN*1***1:2");
    assert_string_equal(segs[lx1 + 5], "DTP*472*D8*20261118");
    free(x);
}

static void test_837p_replacement_is_frequency_7_with_ref_f8(void **state)
{
    (void)state;
    char *x = render_837p(2, 43);
    char *segs[MAX_SEGS] = {NULL}, e[128];
    int n = split(x, segs);
    int clm = find(segs, n, "CLM*");
    assert_string_equal(elem(segs[clm], 5, e, sizeof e), "11:B:7");
    assert_string_equal(segs[clm + 1], "REF*F8*C01/1042/2026-11/CCM#v1");
    assert_string_equal(elem(segs[0], 13, e, sizeof e), "000000043");
    int se = find(segs, n, "SE*");
    assert_int_equal(atoi(elem(segs[se], 1, e, sizeof e)), se - 2 + 1);
    free(x);
}

static void test_837p_withdraw_is_frequency_8_naming_the_claim_itself(void **state)
{
    (void)state;
    test_claim_t t;
    test_claim_init(&t, 2);
    t.claim.status = CCM__BILLING__CLAIM_STATUS__WITHDRAW_NEEDED;
    t.claim.withdraw_reason = "CONSENT_REVOKED";
    ccm_render_ids_t ids = test_ids();
    ccm_render_event_t ev = EV;
    ev.type = "claim.withdraw";
    char *x = NULL;
    assert_int_equal(ccm_render_837p(&ev, &t.claim, &ids, NULL, NULL, 44, &x), 0);
    char *segs[MAX_SEGS] = {NULL}, e[128];
    int n = split(x, segs);
    int clm = find(segs, n, "CLM*");
    /* the void repeats the claim as sent (same lines, same total) */
    assert_string_equal(segs[clm], "CLM*C01/1042/2026-11/CCM*106.42***11:B:8*Y*A*Y*Y");
    /* REF*F8 names the claim to void: this version, not the one it superseded */
    assert_string_equal(segs[clm + 1], "REF*F8*C01/1042/2026-11/CCM#v2");
    assert_int_equal(count(segs, n, "REF*F8*"), 1);
    assert_int_equal(count(segs, n, "LX*"), 2);
    int se = find(segs, n, "SE*");
    assert_int_equal(atoi(elem(segs[se], 1, e, sizeof e)), se - 2 + 1);
    free(x);
}

static void test_837p_adjustment_of_a_paid_claim_is_frequency_7(void **state)
{
    (void)state;
    test_claim_t t;
    test_claim_init(&t, 2);
    t.claim.adjustment = true;
    ccm_render_ids_t ids = test_ids();
    char *x = NULL;
    assert_int_equal(ccm_render_837p(&EV, &t.claim, &ids, NULL, NULL, 45, &x), 0);
    char *segs[MAX_SEGS] = {NULL}, e[128];
    int n = split(x, segs);
    int clm = find(segs, n, "CLM*");
    assert_string_equal(elem(segs[clm], 5, e, sizeof e), "11:B:7");
    assert_string_equal(segs[clm + 1], "REF*F8*C01/1042/2026-11/CCM#v1");
    free(x);
}

static void test_g0506_line_keeps_its_own_date_of_service(void **state)
{
    (void)state;
    test_claim_t t;
    test_claim_init(&t, 1);
    test_claim_add_g0506(&t);
    ccm_render_ids_t ids = test_ids();
    char *x = NULL, e[128];
    assert_int_equal(ccm_render_837p(&EV, &t.claim, &ids, NULL, NULL, 46, &x), 0);
    char *segs[MAX_SEGS] = {NULL};
    int n = split(x, segs);
    assert_int_equal(count(segs, n, "LX*"), 3);
    int lx3 = find(segs, n, "LX*3");
    assert_string_equal(segs[lx3 + 1], "SV1*HC:G0506*65*UN*1***1:2");
    assert_string_equal(segs[lx3 + 2], "DTP*472*D8*20261103");
    assert_string_equal(segs[find(segs, n, "LX*1") + 2], "DTP*472*D8*20261118");
    assert_string_equal(elem(segs[find(segs, n, "CLM*")], 2, e, sizeof e), "171.42");
    free(x);

    /* CSV: the G0506 row carries the visit's day */
    char *rows = NULL;
    assert_int_equal(ccm_render_claim_csv(&t.claim, &rows), 0);
    const char *third = strchr(strchr(rows, '\n') + 1, '\n') + 1;
    assert_non_null(strstr(third, ",2026-11,2026-11-03,11,"));
    assert_non_null(strstr(third, ",G0506,1,"));
    assert_non_null(strstr(rows, ",2026-11,2026-11-18,11,"));
    free(rows);

    /* FHIR: servicedDate per item */
    char *out = NULL;
    assert_int_equal(ccm_render_fhir(&EV, &t.claim, &out), 0);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    assert_non_null(j);
    json_t *items = json_object_get(j, "item");
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(items, 2), "servicedDate")), "2026-11-03");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(items, 0), "servicedDate")), "2026-11-18");
    json_decref(j);
    free(out);

    /* canonical JSON: the line's dos and the evidence's visit date */
    assert_int_equal(ccm_render_claim_json(&EV, &t.claim, &out), 0);
    j = json_loads(out, 0, &err);
    assert_non_null(j);
    json_t *c = json_object_get(j, "claim");
    json_t *l3 = json_array_get(json_object_get(c, "lines"), 2);
    assert_string_equal(json_string_value(json_object_get(l3, "dos")), "2026-11-03");
    assert_string_equal(json_string_value(json_object_get(l3, "role")), "");
    json_t *vd = json_object_get(json_object_get(c, "evidence"), "visit_dates");
    assert_int_equal(json_array_size(vd), 1);
    assert_string_equal(json_string_value(json_array_get(vd, 0)), "2026-11-03");
    json_decref(j);
    free(out);

    /* a claim written before lines had dates: every line takes the claim's */
    t.l1.dos = t.l2.dos = t.l3.dos = "";
    assert_int_equal(ccm_render_837p(&EV, &t.claim, &ids, NULL, NULL, 47, &x), 0);
    n = split(x, segs);
    assert_int_equal(count(segs, n, "DTP*472*D8*20261118"), 3);
    free(x);
}

static void test_fhir_withdraw_cancels_the_same_resource(void **state)
{
    (void)state;
    test_claim_t t;
    test_claim_init(&t, 1);
    char *active = NULL, *cancelled = NULL;
    assert_int_equal(ccm_render_fhir(&EV, &t.claim, &active), 0);
    t.claim.status = CCM__BILLING__CLAIM_STATUS__WITHDRAW_NEEDED;
    t.claim.withdraw_reason = "NO_CONSENT";
    assert_int_equal(ccm_render_fhir(&EV, &t.claim, &cancelled), 0);
    json_error_t err;
    json_t *a = json_loads(active, 0, &err), *c = json_loads(cancelled, 0, &err);
    assert_non_null(a);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "active");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "cancelled");
    assert_string_equal(json_string_value(json_object_get(a, "id")),
                        json_string_value(json_object_get(c, "id")));
    json_decref(a);
    json_decref(c);
    free(active);
    free(cancelled);
}

static void test_837p_is_deterministic_and_control_numbers_differ(void **state)
{
    (void)state;
    char *a = render_837p(1, 7), *b = render_837p(1, 7), *c = render_837p(1, 8);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
    char *max = render_837p(1, CCM_RENDER_X12_CONTROL_MAX);
    assert_non_null(strstr(max, "*999999999*0*T*:~"));
    free(max);
}

static void test_837p_refuses_what_it_cannot_render(void **state)
{
    (void)state;
    test_claim_t t;
    test_claim_init(&t, 1);
    ccm_render_ids_t ids = test_ids();
    char *out = (char *)1;
    assert_int_equal(ccm_render_837p(&EV, &t.claim, &ids, NULL, NULL, 0, &out), CCM_EINVAL);
    assert_null(out);
    assert_int_equal(
        ccm_render_837p(&EV, &t.claim, &ids, NULL, NULL, CCM_RENDER_X12_CONTROL_MAX + 1, &out),
        CCM_EINVAL);
    t.claim.n_lines = 0;
    assert_int_equal(ccm_render_837p(&EV, &t.claim, &ids, NULL, NULL, 1, &out), CCM_EINVAL);
    test_claim_init(&t, 1);
    t.claim.mbi = "";
    assert_int_equal(ccm_render_837p(&EV, &t.claim, &ids, NULL, NULL, 1, &out), CCM_EINVAL);
}

static void test_837p_delimiters_in_data_cannot_break_segments(void **state)
{
    (void)state;
    test_claim_t t;
    test_claim_init(&t, 1);
    ccm_render_ids_t ids = test_ids();
    ids.clinic_name = "Evil*Clinic~ST*837";
    ccm_render_person_t pat = {"O'Brien~X*Y", "Ann:Marie^", "not a date"};
    char *out;
    assert_int_equal(ccm_render_837p(&EV, &t.claim, &ids, &pat, NULL, 5, &out), 0);
    char *segs[MAX_SEGS] = {NULL}, e[64];
    int n = split(out, segs);
    assert_int_equal(count(segs, n, "ST*"), 1);
    assert_true(find(segs, n, "NM1*85*2*EVIL CLINIC ST 837*****XX*1234567893") > 0);
    assert_true(find(segs, n, "NM1*IL*1*O'BRIEN X Y*ANN MARIE****MI*1EG4TE5MK73") > 0);
    assert_int_equal(find(segs, n, "DMG*"), -1); /* no valid birth date: no DMG */
    /* unknown rendering practitioner: placeholder name, the NPI still there */
    assert_true(find(segs, n, "NM1*82*1*UNKNOWN*****XX*1245319599") > 0);
    int se = find(segs, n, "SE*");
    assert_int_equal(atoi(elem(segs[se], 1, e, sizeof e)), se - 2 + 1);
    free(out);
}

static void test_pcn_is_the_key_or_a_hash(void **state)
{
    (void)state;
    char pcn[21], again[21];
    ccm_render_x12_pcn("C01/1042/2026-11/CCM", pcn);
    assert_string_equal(pcn, "C01/1042/2026-11/CCM");
    ccm_render_x12_pcn("C01/MRN-000123456/2026-11/APCM", pcn);
    assert_int_equal(strlen(pcn), 17);
    assert_int_equal(pcn[0], 'K');
    ccm_render_x12_pcn("C01/MRN-000123456/2026-11/APCM", again);
    assert_string_equal(pcn, again);
    ccm_render_x12_pcn("C01/MRN-000123457/2026-11/APCM", again);
    assert_string_not_equal(pcn, again);
}

static int csv_fields(const char *line)
{
    int n = 1, quoted = 0;
    for (const char *p = line; *p && *p != '\n'; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            n++;
    }
    return n;
}

static void test_csv_has_exactly_the_format_columns(void **state)
{
    (void)state;
    char *h;
    assert_int_equal(ccm_render_csv_header(&h), 0);
    assert_string_equal(h, "clinic,claim_key,version,supersedes,mrn,mbi,month,dos,pos,"
                           "billing_npi,rendering_npi,code,units,dx1,dx2,dx3,dx4,staff_minutes,"
                           "practitioner_minutes,consent_id,care_plan_version,amount_cents\n");
    test_claim_t t;
    test_claim_init(&t, 2);
    char *rows;
    assert_int_equal(ccm_render_claim_csv(&t.claim, &rows), 0);
    const char *second = strchr(rows, '\n') + 1;
    assert_string_equal(rows, "C01,C01/1042/2026-11/CCM,2,C01/1042/2026-11/CCM#v1,1042,"
                              "1EG4TE5MK73,2026-11,2026-11-18,11,1234567893,1245319599,99490,1,"
                              "E11.22,I10,,,40,0,C01/1042/CCM/1,3,6049\n"
                              "C01,C01/1042/2026-11/CCM,2,C01/1042/2026-11/CCM#v1,1042,"
                              "1EG4TE5MK73,2026-11,2026-11-18,11,1234567893,1245319599,99439,1,"
                              "E11.22,I10,,,40,0,C01/1042/CCM/1,3,4593\n");
    assert_int_equal(csv_fields(h), 22);
    assert_int_equal(csv_fields(rows), 22);
    assert_int_equal(csv_fields(second), 22);
    free(rows);
    /* a comma or quote in a value is quoted, the column count stays */
    t.claim.mrn = "10,\"42\"";
    assert_int_equal(ccm_render_claim_csv(&t.claim, &rows), 0);
    assert_non_null(strstr(rows, ",\"10,\"\"42\"\"\","));
    assert_int_equal(csv_fields(rows), 22);
    free(rows);
    t.claim.n_lines = 0;
    assert_int_equal(ccm_render_claim_csv(&t.claim, &rows), CCM_EINVAL);
    free(h);
}

static json_t *path(json_t *j, const char *p)
{
    return json_object_get(j, p);
}

static void test_fhir_claim_has_the_required_fields(void **state)
{
    (void)state;
    test_claim_t t;
    test_claim_init(&t, 1);
    char *out;
    assert_int_equal(ccm_render_fhir(&EV, &t.claim, &out), 0);
    assert_null(strchr(out, '\n'));
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(path(j, "resourceType")), "Claim");
    assert_string_equal(json_string_value(path(j, "status")), "active");
    assert_string_equal(json_string_value(path(j, "use")), "claim");
    json_t *type = json_array_get(path(path(j, "type"), "coding"), 0);
    assert_string_equal(json_string_value(path(type, "system")),
                        "http://terminology.hl7.org/CodeSystem/claim-type");
    assert_string_equal(json_string_value(path(type, "code")), "professional");
    assert_string_equal(json_string_value(path(path(path(j, "patient"), "identifier"), "value")),
                        "1EG4TE5MK73");
    assert_string_equal(json_string_value(path(path(path(j, "provider"), "identifier"), "value")),
                        "1234567893");
    assert_non_null(json_string_value(path(j, "created")));
    assert_string_equal(
        json_string_value(path(json_array_get(path(path(j, "priority"), "coding"), 0), "code")),
        "normal");
    json_t *ins = json_array_get(path(j, "insurance"), 0);
    assert_true(json_is_true(path(ins, "focal")));
    assert_non_null(path(ins, "coverage"));
    assert_string_equal(json_string_value(path(path(j, "billablePeriod"), "start")), "2026-11-01");
    assert_string_equal(json_string_value(path(path(j, "billablePeriod"), "end")), "2026-11-30");
    json_t *dx = path(j, "diagnosis");
    assert_int_equal(json_array_size(dx), 2);
    json_t *dx0 =
        json_array_get(path(path(json_array_get(dx, 0), "diagnosisCodeableConcept"), "coding"), 0);
    assert_string_equal(json_string_value(path(dx0, "system")),
                        "http://hl7.org/fhir/sid/icd-10-cm");
    assert_string_equal(json_string_value(path(dx0, "code")), "E11.22");
    json_t *items = path(j, "item");
    assert_int_equal(json_array_size(items), 2);
    json_t *it = json_array_get(items, 0);
    assert_string_equal(
        json_string_value(
            path(json_array_get(path(path(it, "productOrService"), "coding"), 0), "code")),
        "99490");
    assert_string_equal(json_string_value(path(it, "servicedDate")), "2026-11-18");
    assert_string_equal(
        json_string_value(
            path(json_array_get(path(path(it, "locationCodeableConcept"), "coding"), 0), "code")),
        "11");
    assert_int_equal(json_integer_value(path(path(it, "quantity"), "value")), 1);
    assert_true(json_real_value(path(path(it, "net"), "value")) == 60.49);
    assert_true(json_real_value(path(path(it, "unitPrice"), "value")) == 60.49);
    assert_non_null(strstr(out, "\"value\":60.49,"));
    /* evidence: consent, care plan version, three time entries */
    json_t *info = path(j, "supportingInfo");
    assert_int_equal(json_array_size(info), 5);
    assert_string_equal(
        json_string_value(
            path(path(path(json_array_get(info, 0), "valueReference"), "identifier"), "value")),
        "C01/1042/CCM/1");
    assert_null(path(j, "related"));
    json_t *tag = json_array_get(path(path(j, "meta"), "tag"), 0);
    assert_string_equal(json_string_value(path(tag, "system")), "urn:ccm:billing-seq");
    assert_string_equal(json_string_value(path(tag, "code")), "42");
    assert_string_equal(json_string_value(path(json_array_get(path(j, "identifier"), 0), "value")),
                        "C01/1042/2026-11/CCM#v1");
    json_decref(j);
    free(out);

    test_claim_init(&t, 2);
    t.claim.month = "2028-02";
    assert_int_equal(ccm_render_fhir(&EV, &t.claim, &out), 0);
    j = json_loads(out, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(path(path(j, "billablePeriod"), "end")), "2028-02-29");
    json_t *rel = json_array_get(path(j, "related"), 0);
    assert_string_equal(json_string_value(path(path(path(rel, "claim"), "identifier"), "value")),
                        "C01/1042/2026-11/CCM#v1");
    json_decref(j);
    free(out);
    t.claim.month = "2026-13";
    assert_int_equal(ccm_render_fhir(&EV, &t.claim, &out), CCM_EINVAL);
}

static void test_claim_json_carries_every_field_seq_and_id(void **state)
{
    (void)state;
    test_claim_t t;
    test_claim_init(&t, 2);
    char *out;
    assert_int_equal(ccm_render_claim_json(&EV, &t.claim, &out), 0);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_integer_value(path(j, "seq")), 42);
    assert_string_equal(json_string_value(path(j, "type")), "claim.ready");
    assert_string_equal(json_string_value(path(j, "time")), "2026-11-30T12:00:00Z");
    assert_string_equal(json_string_value(path(j, "claim_id")), "C01/1042/2026-11/CCM#v2");
    json_t *c = path(j, "claim");
    /* every field of billing.proto's Claim */
    for (unsigned i = 0; i < ccm__billing__claim__descriptor.n_fields; i++)
        assert_non_null(path(c, ccm__billing__claim__descriptor.fields[i].name));
    for (unsigned i = 0; i < ccm__billing__evidence__descriptor.n_fields; i++)
        assert_non_null(
            path(path(c, "evidence"), ccm__billing__evidence__descriptor.fields[i].name));
    for (unsigned i = 0; i < ccm__billing__line__descriptor.n_fields; i++)
        assert_non_null(path(json_array_get(path(c, "lines"), 0),
                             ccm__billing__line__descriptor.fields[i].name));
    assert_true(json_is_false(path(c, "adjustment")));
    assert_string_equal(json_string_value(path(c, "withdraw_reason")), "");
    assert_string_equal(json_string_value(path(c, "supersedes")), "C01/1042/2026-11/CCM#v1");
    assert_int_equal(json_integer_value(path(c, "amount_cents")), 10642);
    assert_string_equal(json_string_value(path(c, "status")), "READY");
    json_t *l = json_array_get(path(c, "lines"), 1);
    assert_string_equal(json_string_value(path(l, "code")), "99439");
    assert_int_equal(json_integer_value(path(l, "minutes")), 20);
    assert_string_equal(json_string_value(path(l, "role")), "staff");
    assert_int_equal(json_array_size(path(path(c, "evidence"), "time_entry_ids")), 3);
    json_decref(j);
    free(out);
}

static void test_eligibility_json_is_payload_seq_and_time(void **state)
{
    (void)state;
    Ccm__Enrollment__EligibilityChange ec = CCM__ENROLLMENT__ELIGIBILITY_CHANGE__INIT;
    ec.clinic = "C01";
    ec.mrn = "1042";
    ec.mbi = "1EG4TE5MK73";
    ec.eligibility = CCM__ENROLLMENT__ELIGIBILITY__CCM_ELIGIBLE;
    ec.previous = CCM__ENROLLMENT__ELIGIBILITY__PCM_ELIGIBLE;
    ccm_render_event_t ev = {7, "eligibility", "C01/1042", 1796040000000000LL};
    char *out;
    assert_int_equal(ccm_render_message_json(&ev, "enrollment", "eligibility", &ec.base, &out), 0);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_integer_value(path(j, "seq")), 7);
    assert_string_equal(json_string_value(path(j, "time")), "2026-11-30T12:00:00Z");
    json_t *e = path(j, "eligibility");
    assert_string_equal(json_string_value(path(e, "eligibility")), "CCM_ELIGIBLE");
    assert_string_equal(json_string_value(path(e, "previous")), "PCM_ELIGIBLE");
    assert_string_equal(json_string_value(path(e, "mbi")), "1EG4TE5MK73");
    json_decref(j);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_837p_original_envelope_counts_and_controls),
        cmocka_unit_test(test_837p_replacement_is_frequency_7_with_ref_f8),
        cmocka_unit_test(test_837p_withdraw_is_frequency_8_naming_the_claim_itself),
        cmocka_unit_test(test_837p_adjustment_of_a_paid_claim_is_frequency_7),
        cmocka_unit_test(test_g0506_line_keeps_its_own_date_of_service),
        cmocka_unit_test(test_fhir_withdraw_cancels_the_same_resource),
        cmocka_unit_test(test_837p_is_deterministic_and_control_numbers_differ),
        cmocka_unit_test(test_837p_refuses_what_it_cannot_render),
        cmocka_unit_test(test_837p_delimiters_in_data_cannot_break_segments),
        cmocka_unit_test(test_pcn_is_the_key_or_a_hash),
        cmocka_unit_test(test_csv_has_exactly_the_format_columns),
        cmocka_unit_test(test_fhir_claim_has_the_required_fields),
        cmocka_unit_test(test_claim_json_carries_every_field_seq_and_id),
        cmocka_unit_test(test_eligibility_json_is_payload_seq_and_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
