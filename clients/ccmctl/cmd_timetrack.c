/* ccmctl time … / month … — the timetrack service's commands. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/timetrack.pb-c.h"
#include "ccm/tz.h"
#include "ccmctl.h"
#include "pbjson.h"

#define SERVICE "timetrack"

typedef struct {
    const char *clinic, *mrn, *performer, *start, *activity, *service, *source, *event_id;
    const char *id, *reason, *month, *request_id;
    long seconds;
    bool element; /* --element: a documented APCM service element (0 seconds) */
} args_t;

static int s_parse(ccmctl_t *ctl, int argc, char **argv, args_t *a)
{
    static const struct option opts[] = {{"clinic", required_argument, 0, 'c'},
                                         {"mrn", required_argument, 0, 'm'},
                                         {"performer", required_argument, 0, 'p'},
                                         {"start", required_argument, 0, 's'},
                                         {"minutes", required_argument, 0, 'M'},
                                         {"seconds", required_argument, 0, 'S'},
                                         {"activity", required_argument, 0, 'a'},
                                         {"service", required_argument, 0, 'v'},
                                         {"source", required_argument, 0, 'o'},
                                         {"event-id", required_argument, 0, 'e'},
                                         {"id", required_argument, 0, 'i'},
                                         {"reason", required_argument, 0, 'r'},
                                         {"month", required_argument, 0, 'n'},
                                         {"request-id", required_argument, 0, 'R'},
                                         {"element", no_argument, 0, 'E'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->clinic = ctl->clinic;
    a->seconds = -1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': a->clinic = optarg; break;
        case 'm': a->mrn = optarg; break;
        case 'p': a->performer = optarg; break;
        case 's': a->start = optarg; break;
        case 'M':
        case 'S': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 100000)
                return ccmctl_usage("--%s must be a whole number",
                                    c == 'M' ? "minutes" : "seconds");
            a->seconds = c == 'M' ? v * 60 : v;
            break;
        }
        case 'a': a->activity = optarg; break;
        case 'v': a->service = optarg; break;
        case 'o': a->source = optarg; break;
        case 'e': a->event_id = optarg; break;
        case 'i': a->id = optarg; break;
        case 'r': a->reason = optarg; break;
        case 'n': a->month = optarg; break;
        case 'R': a->request_id = optarg; break;
        case 'E': a->element = true; break;
        case ':': return ccmctl_usage("%s needs a value", argv[optind - 1]);
        default: return ccmctl_usage("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return ccmctl_usage("unexpected argument \"%s\"", argv[optind]);
    return 0;
}

static int s_need(const char *flag, const void *value)
{
    return value ? 0 : ccmctl_usage("%s is required", flag);
}

/* Looks a name up in a protobuf enum (case-sensitive, upper case). */
static int s_enum(const ProtobufCEnumDescriptor *d, const char *flag, const char *name, int *out)
{
    const ProtobufCEnumValue *v =
        name ? protobuf_c_enum_descriptor_get_value_by_name(d, name) : NULL;
    if (!v || v->value == 0)
        return ccmctl_usage("%s: unknown value \"%s\"", flag, name ? name : "");
    *out = v->value;
    return 0;
}

static void s_print_entry(const Ccm__Timetrack__TimeEntry *e)
{
    static const char *const states[] = {"?", "active", "voided", "amended"};
    char t[40];
    const ProtobufCEnumValue *sv =
        protobuf_c_enum_descriptor_get_value(&ccm__timetrack__service_tag__descriptor, e->service);
    char length[32] = "element"; /* an APCM service element has no minutes */
    if (e->seconds > 0)
        snprintf(length, sizeof length, "%4lld:%02lld", (long long)(e->seconds / 60),
                 (long long)(e->seconds % 60));
    printf("%-28s %s  %7s  %-5s %-8s %-8s %s", e->id, ccmctl_time(e->start_us, t, sizeof t), length,
           sv ? sv->name : "?", e->performer, e->state < 4 ? states[e->state] : "?", e->activity);
    if (e->n_overlaps)
        printf("  OVERLAPS %s%s", e->overlaps[0], e->n_overlaps > 1 ? ",…" : "");
    if (e->reason[0])
        printf("  (%s)", e->reason);
    putchar('\n');
}

static int s_run(ccmctl_t *ctl, Ccm__Timetrack__Request *req)
{
    ProtobufCMessage *m;
    int code = ccmctl_call(ctl, SERVICE, &req->base, &ccm__timetrack__reply__descriptor, &m);
    if (code != CCMCTL_OK)
        return code;
    Ccm__Timetrack__Reply *r = (Ccm__Timetrack__Reply *)m;
    code = ccmctl_check(ctl, r->status);
    if (code == CCMCTL_OK) {
        const ProtobufCMessage *result =
            r->result_case == CCM__TIMETRACK__REPLY__RESULT_ENTRY          ? &r->entry->base
            : r->result_case == CCM__TIMETRACK__REPLY__RESULT_ENTRIES      ? &r->entries->base
            : r->result_case == CCM__TIMETRACK__REPLY__RESULT_MONTH_STATUS ? &r->month_status->base
            : r->result_case == CCM__TIMETRACK__REPLY__RESULT_FORECAST     ? &r->forecast->base
                                                                           : NULL;
        if (ctl->json && result) {
            ccmctl_print_json(ccm_pbjson(result));
        } else if (r->result_case == CCM__TIMETRACK__REPLY__RESULT_ENTRY) {
            s_print_entry(r->entry);
        } else if (r->result_case == CCM__TIMETRACK__REPLY__RESULT_ENTRIES) {
            for (size_t i = 0; i < r->entries->n_entries; i++)
                s_print_entry(r->entries->entries[i]);
            printf("(%zu entries)\n", r->entries->n_entries);
        } else if (r->result_case == CCM__TIMETRACK__REPLY__RESULT_MONTH_STATUS) {
            const Ccm__Timetrack__MonthStatusReply *s = r->month_status;
            printf("%s\n", s->summary);
            if (s->claim) {
                printf("billable now: ");
                for (size_t i = 0; i < s->n_lines; i++)
                    printf("%s%s", i ? " + " : "", s->lines[i]);
                putchar('\n');
            } else {
                printf("not billable now: %s\n", s->reason);
            }
        } else if (r->result_case == CCM__TIMETRACK__REPLY__RESULT_FORECAST) {
            printf("%-10s %8s %-8s %8s %9s %5s\n", "MRN", "MINUTES", "NEXT", "NEEDS", "DAYS_LEFT",
                   "RISK");
            for (size_t i = 0; i < r->forecast->n_items; i++) {
                const Ccm__Timetrack__ForecastItem *f = r->forecast->items[i];
                printf("%-10s %8d %-8s %8d %9d %4.0f%%\n", f->mrn, f->total_minutes, f->next_code,
                       f->minutes_to_next, f->days_left, f->risk * 100.0);
            }
            printf("(%zu patients below threshold)\n", r->forecast->n_items);
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return code;
}

int ccmctl_cmd_time(ccmctl_t *ctl, int argc, char **argv)
{
    if (argc < 2)
        return ccmctl_usage("time needs add, void or list");
    const char *verb = argv[1];
    args_t a;
    int rc = s_parse(ctl, argc - 1, argv + 1, &a);
    if (rc)
        return rc;
    char rid[33];
    ccmctl_request_id(rid);
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.request_id = (char *)(a.request_id ? a.request_id : rid);
    if (strcmp(verb, "add") == 0) {
        /* An APCM service element is documented, not timed: --element (or
         * --minutes 0 with --service APCM; timetrack refuses 0 for others). */
        if (a.element && a.seconds >= 0)
            return ccmctl_usage("--element is a documented APCM service element without "
                                "minutes: give no --minutes or --seconds");
        if (a.element && (!a.service || strcmp(a.service, "APCM") != 0))
            return ccmctl_usage("--element needs --service APCM");
        if (a.element)
            a.seconds = 0;
        if ((rc = s_need("--clinic", a.clinic)) || (rc = s_need("--mrn", a.mrn)) ||
            (rc = s_need("--performer", a.performer)) || (rc = s_need("--start", a.start)) ||
            (rc = s_need("--minutes, --seconds or --element", a.seconds >= 0 ? "" : NULL)))
            return rc;
        int64_t start;
        if (ccm_tz_parse_instant(a.start, &start) != 0)
            return ccmctl_usage("--start must be RFC 3339 with an offset, e.g. "
                                "2026-11-03T14:30:00-05:00");
        int service = CCM__TIMETRACK__SERVICE_TAG__CCM, source = CCM__TIMETRACK__SOURCE__MANUAL;
        if ((a.service && (rc = s_enum(&ccm__timetrack__service_tag__descriptor, "--service",
                                       a.service, &service))) ||
            (a.source &&
             (rc = s_enum(&ccm__timetrack__source__descriptor, "--source", a.source, &source))))
            return rc;
        Ccm__Timetrack__AddTimeEntry in = CCM__TIMETRACK__ADD_TIME_ENTRY__INIT;
        in.clinic = (char *)a.clinic;
        in.mrn = (char *)a.mrn;
        in.performer = (char *)a.performer;
        in.activity = (char *)(a.activity ? a.activity : "");
        in.service = service;
        in.source = source;
        in.start_us = start * 1000000;
        in.seconds = a.seconds;
        /* A manual entry's own id; a re-run with --event-id (or --request-id) is safe. */
        in.source_event_id = (char *)(a.event_id ? a.event_id : req.request_id);
        req.op_case = CCM__TIMETRACK__REQUEST__OP_ADD_ENTRY;
        req.add_entry = &in;
        return s_run(ctl, &req);
    }
    if (strcmp(verb, "void") == 0) {
        if ((rc = s_need("--clinic", a.clinic)) || (rc = s_need("--id", a.id)) ||
            (rc = s_need("--reason", a.reason)))
            return rc;
        Ccm__Timetrack__VoidTimeEntry in = CCM__TIMETRACK__VOID_TIME_ENTRY__INIT;
        in.clinic = (char *)a.clinic;
        in.id = (char *)a.id;
        in.reason = (char *)a.reason;
        req.op_case = CCM__TIMETRACK__REQUEST__OP_VOID_ENTRY;
        req.void_entry = &in;
        return s_run(ctl, &req);
    }
    if (strcmp(verb, "list") == 0) {
        if ((rc = s_need("--clinic", a.clinic)) || (rc = s_need("--mrn", a.mrn)))
            return rc;
        Ccm__Timetrack__ListTimeEntries in = CCM__TIMETRACK__LIST_TIME_ENTRIES__INIT;
        in.clinic = (char *)a.clinic;
        in.mrn = (char *)a.mrn;
        in.month = (char *)(a.month ? a.month : "");
        req.request_id = "";
        req.op_case = CCM__TIMETRACK__REQUEST__OP_LIST_ENTRIES;
        req.list_entries = &in;
        return s_run(ctl, &req);
    }
    return ccmctl_usage("time: unknown verb \"%s\" (add, void, list)", verb);
}

int ccmctl_cmd_month(ccmctl_t *ctl, int argc, char **argv)
{
    if (argc < 2)
        return ccmctl_usage("month needs status, forecast or close");
    const char *verb = argv[1];
#ifdef CCMCTL_HAVE_BILLING
    if (strcmp(verb, "close") == 0)
        return ccmctl_billing_close(ctl, argc - 1, argv + 1);
#endif
    args_t a;
    int rc = s_parse(ctl, argc - 1, argv + 1, &a);
    if (rc)
        return rc;
    Ccm__Timetrack__Request req = CCM__TIMETRACK__REQUEST__INIT;
    req.request_id = "";
    if (strcmp(verb, "status") == 0) {
        if ((rc = s_need("--clinic", a.clinic)) || (rc = s_need("--mrn", a.mrn)))
            return rc;
        Ccm__Timetrack__MonthStatus in = CCM__TIMETRACK__MONTH_STATUS__INIT;
        in.clinic = (char *)a.clinic;
        in.mrn = (char *)a.mrn;
        in.month = (char *)(a.month ? a.month : "");
        req.op_case = CCM__TIMETRACK__REQUEST__OP_MONTH_STATUS;
        req.month_status = &in;
        return s_run(ctl, &req);
    }
    if (strcmp(verb, "forecast") == 0) {
        if ((rc = s_need("--clinic", a.clinic)))
            return rc;
        Ccm__Timetrack__Forecast in = CCM__TIMETRACK__FORECAST__INIT;
        in.clinic = (char *)a.clinic;
        in.month = (char *)(a.month ? a.month : "");
        req.op_case = CCM__TIMETRACK__REQUEST__OP_FORECAST;
        req.forecast = &in;
        return s_run(ctl, &req);
    }
    return ccmctl_usage("month: unknown verb \"%s\" (status, forecast)", verb);
}
