/* ccmctl month close / claim … / missed / report — the billing service's commands. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/billing.pb-c.h"
#include "ccmctl.h"
#include "pbjson.h"

#define SERVICE "billing"

typedef struct {
    const char *clinic, *month, *status, *note, *request_id;
    bool csv;
} args_t;

static int s_parse(ccmctl_t *ctl, int argc, char **argv, args_t *a, int *first_free)
{
    static const struct option opts[] = {{"clinic", required_argument, 0, 'c'},
                                         {"month", required_argument, 0, 'm'},
                                         {"status", required_argument, 0, 's'},
                                         {"note", required_argument, 0, 'n'},
                                         {"request-id", required_argument, 0, 'r'},
                                         {"csv", no_argument, 0, 'C'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->clinic = ctl->clinic;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->clinic = optarg; break;
        case 'm': a->month = optarg; break;
        case 's': a->status = optarg; break;
        case 'n': a->note = optarg; break;
        case 'r': a->request_id = optarg; break;
        case 'C': a->csv = true; break;
        case ':': return ccmctl_usage("%s needs a value", argv[optind - 1]);
        default: return ccmctl_usage("unknown option %s", argv[optind - 1]);
        }
    }
    *first_free = optind;
    return 0;
}

static void s_money(long long cents, char *buf, size_t len)
{
    snprintf(buf, len, "$%lld.%02lld", cents / 100, (cents < 0 ? -cents : cents) % 100);
}

static void s_print_claim(const Ccm__Billing__Claim *c)
{
    const ProtobufCEnumValue *st =
        protobuf_c_enum_descriptor_get_value(&ccm__billing__claim_status__descriptor, c->status);
    char m[32];
    s_money(c->amount_cents, m, sizeof m);
    printf("%-36s %-15s dos %s  %s  ", c->id, st ? st->name : "?", c->dos, m);
    for (size_t i = 0; i < c->n_lines; i++) {
        printf("%s%s x%d", i ? " + " : "", c->lines[i]->code, c->lines[i]->units);
        if (c->lines[i]->dos[0] && strcmp(c->lines[i]->dos, c->dos) != 0)
            printf(" (dos %s)", c->lines[i]->dos);
    }
    printf("  (staff %d, practitioner %d min)", c->staff_minutes, c->practitioner_minutes);
    if (c->supersedes[0])
        printf("  %s %s", c->adjustment ? "adjusts" : "replaces", c->supersedes);
    if (c->status == CCM__BILLING__CLAIM_STATUS__WITHDRAW_NEEDED)
        printf("  withdraw: %s", c->withdraw_reason);
    putchar('\n');
}

static int s_run(ccmctl_t *ctl, Ccm__Billing__Request *req, bool csv)
{
    ProtobufCMessage *m;
    int code = ccmctl_call(ctl, SERVICE, &req->base, &ccm__billing__reply__descriptor, &m);
    if (code != CCMCTL_OK)
        return code;
    Ccm__Billing__Reply *r = (Ccm__Billing__Reply *)m;
    code = ccmctl_check(ctl, r->status);
    if (code != CCMCTL_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return code;
    }
    const ProtobufCMessage *result =
        r->result_case == CCM__BILLING__REPLY__RESULT_CLOSED   ? &r->closed->base
        : r->result_case == CCM__BILLING__REPLY__RESULT_CLAIM  ? &r->claim->base
        : r->result_case == CCM__BILLING__REPLY__RESULT_CLAIMS ? &r->claims->base
        : r->result_case == CCM__BILLING__REPLY__RESULT_MISSED ? &r->missed->base
        : r->result_case == CCM__BILLING__REPLY__RESULT_REPORT ? &r->report->base
                                                               : NULL;
    if (ctl->json && result) {
        ccmctl_print_json(ccm_pbjson(result));
    } else if (r->result_case == CCM__BILLING__REPLY__RESULT_CLOSED) {
        printf("closed: %u claims ready or replaced, %u months missed, %u conflicts, "
               "%u unchanged\n",
               r->closed->claims, r->closed->missed, r->closed->conflicts, r->closed->unchanged);
    } else if (r->result_case == CCM__BILLING__REPLY__RESULT_CLAIM) {
        s_print_claim(r->claim);
    } else if (r->result_case == CCM__BILLING__REPLY__RESULT_CLAIMS) {
        for (size_t i = 0; i < r->claims->n_claims; i++)
            s_print_claim(r->claims->claims[i]);
        printf("(%zu claims)\n", r->claims->n_claims);
    } else if (r->result_case == CCM__BILLING__REPLY__RESULT_MISSED) {
        for (size_t i = 0; i < r->missed->n_missed; i++) {
            const Ccm__Billing__Missed *x = r->missed->missed[i];
            printf("%-32s %-28s %s\n", x->key, x->reason, x->detail);
        }
        for (size_t i = 0; i < r->missed->n_conflicts; i++) {
            const Ccm__Billing__Conflict *x = r->missed->conflicts[i];
            printf("%-32s %-28s clinic %s bills this MBI's month\n", x->key,
                   "OTHER_PRACTITIONER_BILLED", x->other_clinic);
        }
        printf("(%zu months missed, %zu conflicts)\n", r->missed->n_missed, r->missed->n_conflicts);
    } else if (r->result_case == CCM__BILLING__REPLY__RESULT_REPORT) {
        const Ccm__Billing__ReportReply *rep = r->report;
        if (csv)
            printf("clinic,month,expected_cents,enrolled,reached,reached_share,missed,codes\n");
        long long top = 1;
        for (size_t i = 0; i < rep->n_rows; i++)
            if (rep->rows[i]->expected_cents > top)
                top = rep->rows[i]->expected_cents;
        for (size_t i = 0; i < rep->n_rows; i++) {
            const Ccm__Billing__ReportRow *row = rep->rows[i];
            if (csv) {
                printf("%s,%s,%lld,%d,%d,%.3f,%d,", row->clinic, row->month,
                       (long long)row->expected_cents, row->enrolled, row->reached,
                       row->reached_share, row->missed);
            } else {
                char money[32], bar[41];
                s_money(row->expected_cents, money, sizeof money);
                int w = (int)(40 * row->expected_cents / top);
                memset(bar, '#', (size_t)w);
                bar[w] = '\0';
                printf("%-6s %s %12s |%-40s| %d/%d reached (%.0f%%)  ", row->clinic, row->month,
                       money, bar, row->reached, row->enrolled, row->reached_share * 100.0);
            }
            for (size_t k = 0; k < row->n_codes; k++)
                printf("%s%s=%d", k ? (csv ? ";" : " ") : "", row->codes[k]->key,
                       row->codes[k]->value);
            putchar('\n');
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return code;
}

int ccmctl_billing_close(ccmctl_t *ctl, int argc, char **argv)
{
    args_t a;
    int first, rc = s_parse(ctl, argc, argv, &a, &first);
    if (rc)
        return rc;
    if (first != argc)
        return ccmctl_usage("unexpected argument \"%s\"", argv[first]);
    if (!a.month)
        return ccmctl_usage("--month is required");
    char rid[33];
    ccmctl_request_id(rid);
    Ccm__Billing__CloseMonth in = CCM__BILLING__CLOSE_MONTH__INIT;
    in.month = (char *)a.month;
    /* Only an explicit --clinic narrows a close (not [client] clinic / $CCM_CLINIC). */
    in.clinic = "";
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--clinic") == 0 || strncmp(argv[i], "--clinic=", 9) == 0)
            in.clinic = (char *)a.clinic;
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = (char *)(a.request_id ? a.request_id : rid);
    req.op_case = CCM__BILLING__REQUEST__OP_CLOSE_MONTH;
    req.close_month = &in;
    return s_run(ctl, &req, false);
}

int ccmctl_cmd_claim(ccmctl_t *ctl, int argc, char **argv)
{
    if (argc < 2)
        return ccmctl_usage("claim needs list, show or ack");
    const char *verb = argv[1];
    args_t a;
    int first, rc = s_parse(ctl, argc - 1, argv + 1, &a, &first);
    if (rc)
        return rc;
    int nfree = argc - 1 - first;
    char **free_args = argv + 1 + first;
    char rid[33];
    ccmctl_request_id(rid);
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = "";
    if (strcmp(verb, "list") == 0) {
        if (!a.clinic)
            return ccmctl_usage("--clinic is required");
        Ccm__Billing__ListClaims in = CCM__BILLING__LIST_CLAIMS__INIT;
        in.clinic = (char *)a.clinic;
        in.month = (char *)(a.month ? a.month : "");
        req.op_case = CCM__BILLING__REQUEST__OP_LIST_CLAIMS;
        req.list_claims = &in;
        return s_run(ctl, &req, false);
    }
    if (strcmp(verb, "show") == 0 || strcmp(verb, "ack") == 0) {
        if (nfree != 1)
            return ccmctl_usage("claim %s needs one claim id (or key for show)", verb);
        if (strcmp(verb, "show") == 0) {
            Ccm__Billing__GetClaim in = CCM__BILLING__GET_CLAIM__INIT;
            in.id = free_args[0];
            req.op_case = CCM__BILLING__REQUEST__OP_GET_CLAIM;
            req.get_claim = &in;
            return s_run(ctl, &req, false);
        }
        const ProtobufCEnumValue *v = a.status
                                          ? protobuf_c_enum_descriptor_get_value_by_name(
                                                &ccm__billing__claim_status__descriptor, a.status)
                                          : NULL;
        if (!v)
            return ccmctl_usage("--status SUBMITTED|ACCEPTED|PAID|DENIED is required");
        Ccm__Billing__AckClaim in = CCM__BILLING__ACK_CLAIM__INIT;
        in.id = free_args[0];
        in.status = v->value;
        in.note = (char *)(a.note ? a.note : "");
        req.request_id = (char *)(a.request_id ? a.request_id : rid);
        req.op_case = CCM__BILLING__REQUEST__OP_ACK_CLAIM;
        req.ack_claim = &in;
        return s_run(ctl, &req, false);
    }
    return ccmctl_usage("claim: unknown verb \"%s\" (list, show, ack)", verb);
}

int ccmctl_cmd_missed(ccmctl_t *ctl, int argc, char **argv)
{
    args_t a;
    int first, rc = s_parse(ctl, argc, argv, &a, &first);
    if (rc)
        return rc;
    if (first != argc || !a.clinic)
        return ccmctl_usage("missed --clinic C [--month YYYY-MM]");
    Ccm__Billing__ListMissed in = CCM__BILLING__LIST_MISSED__INIT;
    in.clinic = (char *)a.clinic;
    in.month = (char *)(a.month ? a.month : "");
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = "";
    req.op_case = CCM__BILLING__REQUEST__OP_LIST_MISSED;
    req.list_missed = &in;
    return s_run(ctl, &req, false);
}

int ccmctl_cmd_report(ccmctl_t *ctl, int argc, char **argv)
{
    args_t a;
    int first, rc = s_parse(ctl, argc, argv, &a, &first);
    if (rc)
        return rc;
    if (first != argc)
        return ccmctl_usage("report [--clinic C] [--month YYYY-MM] [--csv]");
    Ccm__Billing__Report in = CCM__BILLING__REPORT__INIT;
    in.clinic = (char *)(a.clinic ? a.clinic : "");
    in.month = (char *)(a.month ? a.month : "");
    Ccm__Billing__Request req = CCM__BILLING__REQUEST__INIT;
    req.request_id = "";
    req.op_case = CCM__BILLING__REQUEST__OP_REPORT;
    req.report = &in;
    return s_run(ctl, &req, a.csv);
}
