/* ccmctl ping / status / stream — commands that work with any service through
 * the broker: 8/MMI, and the ccm.CommonRequest stats and FETCH operations. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/client.h"
#include "ccm/billing.pb-c.h"
#include "ccm/enrollment.pb-c.h"
#ifdef CCMCTL_HAVE_CAREPLAN
#include "ccm/careplan.pb-c.h"
#endif
#include "ccm/timetrack.pb-c.h"
#include "ccm/error.h"
#include "ccm/wire.h"
#include "ccmctl.h"
#include "pbjson.h"

/* Every service of the network, in the order `status` shows them. */
static const char *const s_services[] = {"enrollment", "careplan", "timetrack", "billing"};
#define S_NSERVICES (sizeof s_services / sizeof s_services[0])

static long long s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Asks the broker's mmi.service about one service. *ready = 1 (200) or 0 (404).
 * Returns 0, or CCM_ETIMEOUT when the broker does not answer. */
static int s_mmi(ccmctl_t *ctl, ccm_client_t *c, const char *service, int *ready)
{
    void *rep = NULL;
    size_t len = 0;
    (void)ctl;
    int rc = ccm_client_request(c, CCM_MMI_SERVICE, service, strlen(service), &rep, &len);
    if (rc != 0)
        return rc;
    *ready = len == 3 && memcmp(rep, "200", 3) == 0;
    free(rep);
    return 0;
}

static ccm_client_t *s_client(ccmctl_t *ctl)
{
    ccm_client_t *c = ccm_client_new(ctl->broker);
    if (!c) {
        fprintf(stderr, "ccmctl: cannot use broker endpoint \"%s\"\n", ctl->broker);
        return NULL;
    }
    ccm_client_set_timeout(c, ctl->timeout_ms);
    ccm_client_set_retries(c, ctl->retries);
    return c;
}

static int s_unreachable(ccmctl_t *ctl)
{
    fprintf(stderr,
            "ccmctl: the broker at %s does not answer (%d tries of %d ms); start it with "
            "`deploy/ccm up`\n",
            ctl->broker, ctl->retries + 1, ctl->timeout_ms);
    return CCMCTL_UNREACHABLE;
}

int ccmctl_cmd_ping(ccmctl_t *ctl, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return ccmctl_usage("ping takes no arguments");
    ccm_client_t *c = s_client(ctl);
    if (!c)
        return CCMCTL_UNREACHABLE;
    int ready[S_NSERVICES];
    long long t0 = s_mono_us();
    for (size_t i = 0; i < S_NSERVICES; i++) {
        if (s_mmi(ctl, c, s_services[i], &ready[i]) != 0) {
            ccm_client_destroy(&c);
            return s_unreachable(ctl);
        }
    }
    double ms = (double)(s_mono_us() - t0) / 1000.0 / S_NSERVICES;
    ccm_client_destroy(&c);
    if (ctl->json) {
        json_t *svc = json_object();
        for (size_t i = 0; i < S_NSERVICES; i++)
            json_object_set_new(svc, s_services[i], json_boolean(ready[i]));
        ccmctl_print_json(json_pack("{s:s,s:b,s:f,s:o}", "broker", ctl->broker, "up", 1,
                                    "round_trip_ms", ms, "services", svc));
    } else {
        printf("broker %s: up (%.1f ms round trip)\n", ctl->broker, ms);
        for (size_t i = 0; i < S_NSERVICES; i++)
            printf("  %-11s %s\n", s_services[i], ready[i] ? "ready" : "not running");
    }
    return CCMCTL_OK;
}

int ccmctl_cmd_status(ccmctl_t *ctl, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return ccmctl_usage("status takes no arguments");
    ccm_client_t *c = s_client(ctl);
    if (!c)
        return CCMCTL_UNREACHABLE;
    json_t *all = json_object();
    if (!ctl->json)
        printf("%-11s %-7s %9s %8s %10s %10s %9s %s\n", "SERVICE", "STATE", "REQUESTS", "BATCHES",
               "COMMIT_US", "MAX_US", "SEQ", "STORE");
    int code = CCMCTL_OK;
    for (size_t i = 0; i < S_NSERVICES; i++) {
        int ready = 0;
        if (s_mmi(ctl, c, s_services[i], &ready) != 0) {
            code = s_unreachable(ctl);
            break;
        }
        if (!ready) {
            if (ctl->json)
                json_object_set_new(all, s_services[i], json_null());
            else
                printf("%-11s %-7s\n", s_services[i], "down");
            continue;
        }
        Ccm__StatsRequest sreq = CCM__STATS_REQUEST__INIT;
        Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
        req.op_case = CCM__COMMON_REQUEST__OP_STATS;
        req.stats = &sreq;
        ProtobufCMessage *m;
        int rc = ccmctl_call(ctl, s_services[i], &req.base, &ccm__common_reply__descriptor, &m);
        if (rc != CCMCTL_OK) {
            code = rc;
            continue;
        }
        Ccm__CommonReply *r = (Ccm__CommonReply *)m;
        if (ccmctl_check(ctl, r->status) != CCMCTL_OK || !r->stats) {
            code = CCMCTL_ERROR;
        } else if (ctl->json) {
            json_object_set_new(all, s_services[i], ccm_pbjson(&r->stats->base));
        } else {
            const Ccm__StatsReply *s = r->stats;
            printf("%-11s %-7s %9llu %8llu %10llu %10llu %9llu %.1f/%.0f MiB\n", s_services[i],
                   "up", (unsigned long long)s->requests, (unsigned long long)s->batches,
                   (unsigned long long)s->commit_us_last, (unsigned long long)s->commit_us_max,
                   (unsigned long long)s->stream_seq, (double)s->map_used / 1048576.0,
                   (double)s->map_size / 1048576.0);
            for (size_t k = 0; k < s->n_cursors; k++)
                printf("%-11s   follows %s from seq %llu\n", "", s->cursors[k]->producer,
                       (unsigned long long)s->cursors[k]->next_seq);
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    ccm_client_destroy(&c);
    if (ctl->json && code != CCMCTL_UNREACHABLE)
        ccmctl_print_json(all);
    else
        json_decref(all);
    return code;
}

/* Payload schemas: producer, event type prefix ("" = any), message. */
static const struct {
    const char *producer;
    const char *type_prefix;
    const ProtobufCMessageDescriptor *desc;
} s_payloads[] = {
    {"enrollment", "eligibility", &ccm__enrollment__eligibility_change__descriptor},
    {"enrollment", "practitioner.", &ccm__enrollment__practitioner__descriptor},
    {"enrollment", "staff.", &ccm__enrollment__staff__descriptor},
    {"enrollment", "", &ccm__enrollment__patient__descriptor},
    {"timetrack", "threshold", &ccm__timetrack__threshold__descriptor},
    {"billing", "claim.missed", &ccm__billing__missed__descriptor},
    {"billing", "claim.conflict", &ccm__billing__conflict__descriptor},
    {"billing", "claim.", &ccm__billing__claim__descriptor},
#ifdef CCMCTL_HAVE_CAREPLAN
    {"careplan", "careplan.version", &ccm__careplan__version__descriptor},
    {"careplan", "careplan.", &ccm__careplan__care_plan__descriptor},
#endif
    {"timetrack", "entry.", &ccm__timetrack__time_entry__descriptor},
};

const ProtobufCMessageDescriptor *ccmctl_payload_descriptor(const char *producer, const char *type)
{
    for (size_t i = 0; i < sizeof s_payloads / sizeof s_payloads[0]; i++)
        if (strcmp(s_payloads[i].producer, producer) == 0 &&
            strncmp(type, s_payloads[i].type_prefix, strlen(s_payloads[i].type_prefix)) == 0)
            return s_payloads[i].desc;
    return NULL;
}

/* The payload of an event, decoded by its producer's schema, as JSON (or NULL). */
static json_t *s_payload_json(const Ccm__Envelope *e)
{
    const ProtobufCMessageDescriptor *d = ccmctl_payload_descriptor(e->producer, e->type);
    if (!d)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, e->payload.len, e->payload.data);
    if (!m)
        return NULL;
    json_t *j = ccm_pbjson(m);
    protobuf_c_message_free_unpacked(m, NULL);
    return j;
}

int ccmctl_cmd_stream(ccmctl_t *ctl, int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "fetch") != 0)
        return ccmctl_usage("usage: stream fetch SERVICE [--from N] [--max N] [--type T]...");
    const char *service = argv[2];
    static const struct option opts[] = {{"from", required_argument, 0, 'f'},
                                         {"max", required_argument, 0, 'n'},
                                         {"type", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    unsigned long long from = 1, max = 0;
    char *types[16];
    size_t ntypes = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc - 2, argv + 2, ":", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'f':
            from = strtoull(optarg, &end, 10);
            if (*end || optarg[0] == '-')
                return ccmctl_usage("--from must be a sequence number");
            break;
        case 'n':
            max = strtoull(optarg, &end, 10);
            if (*end || max < 1 || max > 1000)
                return ccmctl_usage("--max must be 1 to 1000");
            break;
        case 't':
            if (ntypes == 16)
                return ccmctl_usage("at most 16 --type filters");
            types[ntypes++] = optarg;
            break;
        case ':': return ccmctl_usage("%s needs a value", argv[2 + optind - 1]);
        default: return ccmctl_usage("unknown option %s", argv[2 + optind - 1]);
        }
    }
    if (optind != argc - 2)
        return ccmctl_usage("unexpected argument \"%s\"", argv[2 + optind]);

    Ccm__FetchRequest f = CCM__FETCH_REQUEST__INIT;
    f.from_seq = from;
    f.max = (uint32_t)max;
    f.n_types = ntypes;
    f.types = types;
    Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
    req.op_case = CCM__COMMON_REQUEST__OP_FETCH;
    req.fetch = &f;
    ProtobufCMessage *m;
    int code = ccmctl_call(ctl, service, &req.base, &ccm__common_reply__descriptor, &m);
    if (code != CCMCTL_OK)
        return code;
    Ccm__CommonReply *r = (Ccm__CommonReply *)m;
    code = ccmctl_check(ctl, r->status);
    if (code == CCMCTL_OK && !r->fetch) {
        fprintf(stderr, "ccmctl: %s answered without events\n", service);
        code = CCMCTL_ERROR;
    }
    if (code == CCMCTL_OK) {
        const Ccm__FetchReply *fr = r->fetch;
        if (ctl->json) {
            json_t *events = json_array();
            for (size_t i = 0; i < fr->n_events; i++) {
                json_t *e = ccm_pbjson(&fr->events[i]->base);
                json_t *p = s_payload_json(fr->events[i]);
                json_object_del(e, "payload");
                if (p)
                    json_object_set_new(e, "payload", p);
                json_array_append_new(events, e);
            }
            ccmctl_print_json(json_pack("{s:o,s:I,s:I}", "events", events, "next_seq",
                                        (json_int_t)fr->next_seq, "last_seq",
                                        (json_int_t)fr->last_seq));
        } else {
            char t[40];
            for (size_t i = 0; i < fr->n_events; i++) {
                const Ccm__Envelope *e = fr->events[i];
                printf("%6llu  %s  %-20s %-20s by %s\n", (unsigned long long)e->seq,
                       ccmctl_time(e->time_us, t, sizeof t), e->type, e->key, e->principal);
            }
            printf("(%zu events; next --from %llu; stream ends at %llu)\n", fr->n_events,
                   (unsigned long long)fr->next_seq, (unsigned long long)fr->last_seq);
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return code;
}
