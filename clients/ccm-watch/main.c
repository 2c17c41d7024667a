/* ccm-watch — follows a service's stream and delivers each wanted event once.
 *
 * The cursor (next seq to fetch) and the next X12 control number live in LMDB in
 * --state. Each event is rendered, delivered, and only then is the cursor moved
 * past it (one commit per delivered event), so a crash redelivers at most the one
 * event that was out but not yet committed — with the same bytes, because
 * rendering depends only on the event and the stored counter. Doorbells wake the
 * loop; without them it polls every second. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/client.h"
#include "ccm/config.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/store.h"
#include "ccm/stream.h"
#include "ccm/wire.h"
#include "output.h"
#include "render.h"

enum { EXIT_OK = 0, EXIT_FATAL = 1, EXIT_USAGE = 2 };

/* Poll interval when no doorbell rings: a lost doorbell costs at most this. */
#define S_POLL_MS 1000
/* Events per FETCH. */
#define S_FETCH_MAX 100
#define S_TYPES_MAX 8
#define S_SCHEMA 1
#define S_CONTROL_CURSOR "x12.next_control"
#define S_BROKER_DEFAULT "tcp://127.0.0.1:7710"

static const char s_usage[] =
    "usage: ccm-watch --broker EP [--doorbell EP] --state DIR --stream billing|enrollment\n"
    "                 [--type T]... [--clinic C] --out stdout|dir:PATH|exec:COMMAND\n"
    "                 --format json|csv|837p|fhir [--once] [--config FILE]\n"
    "\n"
    "Delivers the events of a stream from a durable cursor, each once (see README.md).\n"
    "  --stream billing      types claim.ready and claim.withdraw (default; csv:\n"
    "                        claim.ready), claim.status, claim.missed, claim.conflict;\n"
    "                        837p and fhir render claim.ready and claim.withdraw (a void),\n"
    "                        csv claim.ready only\n"
    "  --stream enrollment   type eligibility, --format json\n"
    "  --clinic C            only events of clinic C\n"
    "  --once                stop when caught up (exit 1 if an event could not be delivered)\n"
    "  --config FILE         [client] broker/doorbell, [watch] and [clinic ID] identities\n"
    "exit: 0 stopped cleanly or caught up, 1 fatal error, 2 usage\n";

typedef enum { F_JSON, F_CSV, F_837P, F_FHIR } format_t;

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

typedef struct {
    const char *stream;
    char *types[S_TYPES_MAX];
    size_t ntypes;
    const char *clinic; /* filter, or NULL */
    format_t format;
    bool once;
    ccm_config_t *cfg; /* may be NULL */
    ccm_client_t *client;
    ccm_store_t *store;
    MDB_dbi cursor_dbi;
    ccm_watch_output_t *out;
    uint64_t next_seq;     /* committed cursor */
    uint64_t next_control; /* committed next X12 control number */
    bool header_done;      /* stdout CSV: header written this run */
    uint64_t delivered;
} watch_t;

/* ---- state ---- */

typedef struct {
    const char *stream;
    uint64_t next_seq;
    uint64_t next_control; /* 0 = leave as is */
} commit_t;

static int s_apply_commit(MDB_txn *txn, void *item, void *ctx)
{
    commit_t *c = item;
    MDB_dbi dbi = *(MDB_dbi *)ctx;
    int rc = ccm_cursor_set(txn, dbi, c->stream, c->next_seq);
    if (rc == 0 && c->next_control)
        rc = ccm_cursor_set(txn, dbi, S_CONTROL_CURSOR, c->next_control);
    return rc;
}

static int s_commit(watch_t *w, uint64_t next_seq, uint64_t next_control)
{
    commit_t c = {w->stream, next_seq, next_control};
    void *items[] = {&c};
    int item_rc = 0;
    int rc = ccm_store_batch(w->store, items, 1, s_apply_commit, &w->cursor_dbi, &item_rc);
    if (rc == 0)
        rc = item_rc;
    if (rc != 0) {
        ccm_error("event=cursor_commit_failed next_seq=%" PRIu64 " error=%s", next_seq,
                  ccm_strerror(rc));
        return rc;
    }
    w->next_seq = next_seq;
    if (next_control)
        w->next_control = next_control;
    return 0;
}

static int s_state_open(watch_t *w, const char *dir)
{
    static const char *const dbs[] = {CCM_CURSOR_DB, NULL};
    ccm_store_opts_t o = {
        .path = dir, .dbs = dbs, .schema_version = S_SCHEMA, .map_size = (size_t)4 << 20};
    int rc = ccm_store_open(&o, &w->store);
    if (rc == 0)
        rc = ccm_store_dbi(w->store, CCM_CURSOR_DB, &w->cursor_dbi);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = ccm_store_read_begin(w->store, &txn);
    if (rc == 0)
        rc = ccm_cursor_get(txn, w->cursor_dbi, w->stream, &w->next_seq);
    if (rc == 0)
        rc = ccm_cursor_get(txn, w->cursor_dbi, S_CONTROL_CURSOR, &w->next_control);
    if (txn)
        mdb_txn_abort(txn);
    if (rc == 0 && (w->next_control == 0 || w->next_control > CCM_RENDER_X12_CONTROL_MAX))
        w->next_control = 1;
    return rc;
}

/* ---- identities for the 837P ---- */

static void s_ids(const watch_t *w, const char *clinic, ccm_render_ids_t *ids)
{
    char section[64];
    snprintf(section, sizeof section, "clinic %s", clinic ? clinic : "");
    const ccm_config_t *c = w->cfg;
    *ids = (ccm_render_ids_t){
        .submitter_id = ccm_config_get(c, "watch", "submitter_id", "CCMSUBMITTER"),
        .submitter_name = ccm_config_get(c, "watch", "submitter_name", "CCM SUBMITTER"),
        .submitter_phone = ccm_config_get(c, "watch", "submitter_phone", "0000000000"),
        .receiver_id = ccm_config_get(c, "watch", "receiver_id", "CLEARINGHOUSE"),
        .receiver_name = ccm_config_get(c, "watch", "receiver_name", "CLEARINGHOUSE"),
        .usage = ccm_config_get(c, "watch", "usage", "T"),
        .payer_name = ccm_config_get(c, "watch", "payer_name", "MEDICARE PART B"),
        .payer_id = ccm_config_get(c, "watch", "payer_id", "MEDICARE"),
        .clinic_name = ccm_config_get(c, section, "name", clinic ? clinic : "UNKNOWN"),
        .address = ccm_config_get(c, section, "address", "ADDRESS UNKNOWN"),
        .city = ccm_config_get(c, section, "city", "UNKNOWN"),
        .state = ccm_config_get(c, section, "state", "XX"),
        .zip = ccm_config_get(c, section, "zip", "000000000"),
        .tax_id = ccm_config_get(c, section, "tax_id", "000000000"),
    };
}

/* Names the claim lacks: the patient (name, birth date) and the rendering
 * practitioner, from enrollment. *pat / *prac own what they return (free with
 * protobuf_c_message_free_unpacked). CCM_ETIMEOUT / CCM_EIO when enrollment did not
 * answer (retry the event later); an unknown patient or practitioner is not an
 * error (placeholders are used). */
static int s_enrollment_call(watch_t *w, Ccm__Enrollment__Request *req,
                             Ccm__Enrollment__Reply **reply)
{
    *reply = NULL;
    size_t len = ccm__enrollment__request__get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CCM_ENOMEM;
    ccm__enrollment__request__pack(req, buf);
    void *rbuf = NULL;
    size_t rlen = 0;
    int rc = ccm_client_request(w->client, "enrollment", buf, len, &rbuf, &rlen);
    free(buf);
    if (rc != 0)
        return rc;
    *reply = ccm__enrollment__reply__unpack(NULL, rlen, rbuf);
    free(rbuf);
    return *reply ? 0 : CCM_EPROTO;
}

static int s_lookup(watch_t *w, const Ccm__Billing__Claim *c, ccm_render_person_t *patient,
                    ccm_render_person_t *rendering, Ccm__Enrollment__Reply **pat,
                    Ccm__Enrollment__Reply **ppl)
{
    *patient = (ccm_render_person_t){0};
    *rendering = (ccm_render_person_t){0};
    Ccm__Enrollment__GetPatient gp = CCM__ENROLLMENT__GET_PATIENT__INIT;
    gp.clinic = c->clinic;
    gp.mrn = c->mrn;
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_GET_PATIENT;
    req.get_patient = &gp;
    int rc = s_enrollment_call(w, &req, pat);
    if (rc != 0)
        return rc;
    if ((*pat)->result_case == CCM__ENROLLMENT__REPLY__RESULT_PATIENT) {
        patient->family = (*pat)->patient->family_name;
        patient->given = (*pat)->patient->given_name;
        patient->birth_date = (*pat)->patient->birth_date;
    } else {
        ccm_warn("event=patient_unknown clinic=%s mrn=%s", c->clinic, c->mrn);
    }
    Ccm__Enrollment__ListPeople lp = CCM__ENROLLMENT__LIST_PEOPLE__INIT;
    lp.clinic = c->clinic;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_LIST_PEOPLE;
    req.list_people = &lp;
    rc = s_enrollment_call(w, &req, ppl);
    if (rc != 0)
        return rc;
    if ((*ppl)->result_case == CCM__ENROLLMENT__REPLY__RESULT_PEOPLE) {
        const Ccm__Enrollment__People *pp = (*ppl)->people;
        for (size_t i = 0; i < pp->n_practitioners; i++)
            if (strcmp(pp->practitioners[i]->npi, c->rendering_npi) == 0) {
                rendering->family = pp->practitioners[i]->family_name;
                rendering->given = pp->practitioners[i]->given_name;
            }
    }
    return 0;
}

/* ---- one event ---- */

static const char *s_payload_clinic(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "clinic");
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return "";
    const char *s = *(char *const *)((const char *)m + f->offset);
    return s ? s : "";
}

static const ProtobufCMessageDescriptor *s_descriptor(const char *stream, const char *type)
{
    if (strcmp(stream, "enrollment") == 0)
        return strcmp(type, "eligibility") == 0 ? &ccm__enrollment__eligibility_change__descriptor
                                                : NULL;
    if (strcmp(type, "claim.ready") == 0 || strcmp(type, "claim.status") == 0 ||
        strcmp(type, "claim.withdraw") == 0)
        return &ccm__billing__claim__descriptor;
    if (strcmp(type, "claim.missed") == 0)
        return &ccm__billing__missed__descriptor;
    if (strcmp(type, "claim.conflict") == 0)
        return &ccm__billing__conflict__descriptor;
    return NULL;
}

/* Renders and delivers one event. 0 delivered (or filtered out: *skipped),
 * CCM_EAGAIN / CCM_ETIMEOUT retry later, other codes: retry later too (logged). */
static int s_event(watch_t *w, const Ccm__Envelope *e, bool *skipped, bool *used_control)
{
    *skipped = false;
    *used_control = false;
    const ProtobufCMessageDescriptor *d = s_descriptor(w->stream, e->type);
    if (!d) { /* a type the service sent though not asked for: not ours */
        *skipped = true;
        return 0;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, e->payload.len, e->payload.data);
    if (!m) {
        ccm_error("event=bad_payload seq=%" PRIu64 " type=%s", e->seq, e->type);
        return CCM_EPROTO;
    }
    int rc = 0;
    char *rec = NULL, *row = NULL;
    Ccm__Enrollment__Reply *pat = NULL, *ppl = NULL;
    if (w->clinic && strcmp(s_payload_clinic(m), w->clinic) != 0) {
        *skipped = true;
        goto out;
    }
    ccm_render_event_t ev = {e->seq, e->type, e->key, e->time_us};
    const char *id = e->key, *ext = "json";
    if (d == &ccm__billing__claim__descriptor) {
        const Ccm__Billing__Claim *c = (const Ccm__Billing__Claim *)m;
        id = c->id;
        switch (w->format) {
        case F_JSON: rc = ccm_render_claim_json(&ev, c, &rec); break;
        case F_FHIR: rc = ccm_render_fhir(&ev, c, &rec); break;
        case F_CSV:
            ext = "csv";
            if ((rc = ccm_render_claim_csv(c, &row)) != 0)
                break;
            if (!ccm_watch_output_is_stdout(w->out) || !w->header_done) {
                char *h = NULL;
                if ((rc = ccm_render_csv_header(&h)) != 0)
                    break;
                rec = malloc(strlen(h) + strlen(row) + 1);
                if (rec)
                    strcat(strcpy(rec, h), row);
                free(h);
                rc = rec ? 0 : CCM_ENOMEM;
            } else {
                rec = row;
                row = NULL;
            }
            break;
        case F_837P: {
            ext = "x12";
            ccm_render_ids_t ids;
            ccm_render_person_t patient, rendering;
            s_ids(w, c->clinic, &ids);
            if ((rc = s_lookup(w, c, &patient, &rendering, &pat, &ppl)) != 0) {
                ccm_warn("event=enrollment_unavailable seq=%" PRIu64 " error=%s", e->seq,
                         ccm_strerror(rc));
                break;
            }
            rc = ccm_render_837p(&ev, c, &ids, &patient, &rendering, w->next_control, &rec);
            *used_control = rc == 0;
            break;
        }
        }
    } else {
        const char *name = d == &ccm__enrollment__eligibility_change__descriptor ? "eligibility"
                           : d == &ccm__billing__missed__descriptor              ? "missed"
                                                                                 : "conflict";
        rc = ccm_render_message_json(&ev, w->stream, name, m, &rec);
    }
    if (rc == 0 && w->format != F_837P && w->format != F_CSV) {
        size_t n = strlen(rec); /* JSON Lines: one record, one line */
        char *r2 = realloc(rec, n + 2);
        if (!r2) {
            rc = CCM_ENOMEM;
        } else {
            rec = r2;
            memcpy(rec + n, "\n", 2);
        }
    }
    if (rc == CCM_EINVAL) {
        ccm_error("event=cannot_render seq=%" PRIu64 " id=%s format=%d", e->seq, id,
                  (int)w->format);
        goto out;
    }
    if (rc != 0)
        goto out;
    ccm_watch_record_t r = {e->seq, e->type, id, ext, rec, strlen(rec)};
    rc = ccm_watch_output_deliver(w->out, &r);
    if (rc == 0 && w->format == F_CSV)
        w->header_done = true;
out:
    free(rec);
    free(row);
    if (pat)
        protobuf_c_message_free_unpacked(&pat->base, NULL);
    if (ppl)
        protobuf_c_message_free_unpacked(&ppl->base, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* ---- the loop ---- */

/* One FETCH and the events it returned. *more: the stream has more right now.
 * 0, or an error: delivery to retry later (CCM_EAGAIN), unreachable service
 * (CCM_ETIMEOUT), a refused FETCH (CCM_EPROTO) or a state error (CCM_EIO). */
static int s_round(watch_t *w, bool *more)
{
    *more = false;
    Ccm__FetchRequest f = CCM__FETCH_REQUEST__INIT;
    f.from_seq = w->next_seq;
    f.max = S_FETCH_MAX;
    f.n_types = w->ntypes;
    f.types = w->types;
    Ccm__CommonRequest req = CCM__COMMON_REQUEST__INIT;
    req.op_case = CCM__COMMON_REQUEST__OP_FETCH;
    req.fetch = &f;
    uint8_t buf[1024];
    size_t len = ccm__common_request__get_packed_size(&req);
    if (len > sizeof buf)
        return CCM_EINVAL;
    ccm__common_request__pack(&req, buf);
    void *rbuf = NULL;
    size_t rlen = 0;
    int rc = ccm_client_request(w->client, w->stream, buf, len, &rbuf, &rlen);
    if (rc != 0) {
        ccm_warn("event=fetch_failed stream=%s error=%s", w->stream, ccm_strerror(rc));
        return rc;
    }
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rbuf);
    free(rbuf);
    if (!r || !r->status || r->status->code != CCM__CODE__OK || !r->fetch) {
        ccm_error("event=fetch_refused stream=%s message=\"%s\"", w->stream,
                  r && r->status && r->status->message ? r->status->message : "malformed reply");
        if (r)
            ccm__common_reply__free_unpacked(r, NULL);
        return CCM_EPROTO;
    }
    const Ccm__FetchReply *fr = r->fetch;
    for (size_t i = 0; i < fr->n_events && !s_stop; i++) {
        const Ccm__Envelope *e = fr->events[i];
        if (e->seq < w->next_seq)
            continue;
        bool skipped, used_control;
        rc = s_event(w, e, &skipped, &used_control);
        if (rc != 0) { /* logged; the same event is tried again later, never skipped */
            rc = CCM_EAGAIN;
            break;
        }
        if (skipped)
            continue; /* committed with the next delivered event or the round's end */
        uint64_t control = 0;
        if (used_control)
            control = w->next_control >= CCM_RENDER_X12_CONTROL_MAX ? 1 : w->next_control + 1;
        if ((rc = s_commit(w, e->seq + 1, control)) != 0)
            return CCM_EIO;
        w->delivered++;
    }
    if (rc == 0 && !s_stop) {
        if (fr->next_seq > w->next_seq && (rc = s_commit(w, fr->next_seq, 0)) != 0)
            rc = CCM_EIO;
        *more = rc == 0 && w->next_seq <= fr->last_seq;
    }
    ccm__common_reply__free_unpacked(r, NULL);
    return rc;
}

/* Waits up to S_POLL_MS for a doorbell (or just sleeps without a SUB socket). */
static void s_wait(void *sub)
{
    zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
    if (!sub) {
        zmq_poll(NULL, 0, S_POLL_MS);
        return;
    }
    if (zmq_poll(&it, 1, S_POLL_MS) <= 0)
        return;
    char scratch[256];
    while (zmq_recv(sub, scratch, sizeof scratch, ZMQ_DONTWAIT) >= 0) {
        /* drain: a doorbell only says "fetch now" */
    }
}

static int s_usage_error(const char *msg)
{
    fprintf(stderr, "ccm-watch: %s\n(see ccm-watch --help)\n", msg);
    return EXIT_USAGE;
}

static bool s_type_ok(const char *stream, const char *t, format_t fmt)
{
    if (strcmp(stream, "enrollment") == 0)
        return strcmp(t, "eligibility") == 0;
    /* A CSV row has no column that could say "void": withdrawals need another format. */
    if (fmt == F_CSV)
        return strcmp(t, "claim.ready") == 0;
    if (fmt != F_JSON)
        return strcmp(t, "claim.ready") == 0 || strcmp(t, "claim.withdraw") == 0;
    return strcmp(t, "claim.ready") == 0 || strcmp(t, "claim.withdraw") == 0 ||
           strcmp(t, "claim.status") == 0 || strcmp(t, "claim.missed") == 0 ||
           strcmp(t, "claim.conflict") == 0 || strcmp(t, "claim.*") == 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"broker", required_argument, 0, 'b'}, {"doorbell", required_argument, 0, 'd'},
        {"state", required_argument, 0, 's'},  {"stream", required_argument, 0, 'S'},
        {"type", required_argument, 0, 't'},   {"clinic", required_argument, 0, 'c'},
        {"out", required_argument, 0, 'o'},    {"format", required_argument, 0, 'f'},
        {"once", no_argument, 0, '1'},         {"config", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    watch_t w = {0};
    const char *broker = NULL, *doorbell = NULL, *state = NULL, *out_spec = NULL;
    const char *format = NULL, *config_path = getenv("CCM_CONFIG");
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': broker = optarg; break;
        case 'd': doorbell = optarg; break;
        case 's': state = optarg; break;
        case 'S': w.stream = optarg; break;
        case 't':
            if (w.ntypes == S_TYPES_MAX)
                return s_usage_error("at most 8 --type filters");
            w.types[w.ntypes++] = optarg;
            break;
        case 'c': w.clinic = optarg; break;
        case 'o': out_spec = optarg; break;
        case 'f': format = optarg; break;
        case '1': w.once = true; break;
        case 'C': config_path = optarg; break;
        case 'h': fputs(s_usage, stdout); return EXIT_OK;
        default: return s_usage_error("unknown option");
        }
    }
    if (optind != argc)
        return s_usage_error("unexpected argument");
    if (!w.stream || (strcmp(w.stream, "billing") != 0 && strcmp(w.stream, "enrollment") != 0))
        return s_usage_error("--stream billing|enrollment is required");
    if (!state || !state[0])
        return s_usage_error("--state DIR is required");
    if (!out_spec)
        return s_usage_error("--out stdout|dir:PATH|exec:COMMAND is required");
    if (!format)
        return s_usage_error("--format json|csv|837p|fhir is required");
    if (strcmp(format, "json") == 0)
        w.format = F_JSON;
    else if (strcmp(format, "csv") == 0)
        w.format = F_CSV;
    else if (strcmp(format, "837p") == 0)
        w.format = F_837P;
    else if (strcmp(format, "fhir") == 0)
        w.format = F_FHIR;
    else
        return s_usage_error("--format json|csv|837p|fhir");
    bool enrollment = strcmp(w.stream, "enrollment") == 0;
    if (enrollment && w.format != F_JSON)
        return s_usage_error("eligibility events render as --format json only");
    /* By default a billing system hears of every claim and of every claim to withdraw. */
    if (w.ntypes == 0) {
        w.types[w.ntypes++] = enrollment ? "eligibility" : "claim.ready";
        if (!enrollment && w.format != F_CSV)
            w.types[w.ntypes++] = "claim.withdraw";
    }
    for (size_t i = 0; i < w.ntypes; i++)
        if (!s_type_ok(w.stream, w.types[i], w.format))
            return s_usage_error(
                enrollment           ? "--stream enrollment: --type eligibility only"
                : w.format == F_JSON ? "--type claim.ready|claim.withdraw|claim.status|"
                                       "claim.missed|claim.conflict|claim.*"
                : w.format == F_CSV  ? "csv renders --type claim.ready only"
                                     : "837p and fhir render --type claim.ready|claim.withdraw");
    if (w.clinic && (!w.clinic[0] || strlen(w.clinic) > 32))
        return s_usage_error("--clinic: 1 to 32 characters");

    ccm_log_init("ccm-watch", CCM_LOG_WARN);
    int exit_code = EXIT_FATAL;
    void *zctx = NULL, *sub = NULL;
    if (config_path) {
        char err[256];
        if (ccm_config_load(config_path, &w.cfg, err, sizeof err) != 0) {
            fprintf(stderr, "ccm-watch: %s\n", err);
            return EXIT_FATAL;
        }
        int lvl = ccm_log_level_parse(ccm_config_get(w.cfg, "watch", "log_level", "warn"));
        if (lvl >= 0)
            ccm_log_init("ccm-watch", lvl);
    }
    if (!broker)
        broker = getenv("CCM_BROKER");
    if (!broker)
        broker = ccm_config_get(w.cfg, "client", "broker", S_BROKER_DEFAULT);
    if (!doorbell)
        doorbell = ccm_config_get(w.cfg, "client", "doorbell",
                                  ccm_config_get(w.cfg, "broker", "doorbell_out", NULL));
    if (!ccm_wire_endpoint_is_local(broker) ||
        (doorbell && !ccm_wire_endpoint_is_local(doorbell))) {
        ccm_config_destroy(&w.cfg);
        return s_usage_error("endpoints must be local (no CURVE keys in this client)");
    }
    const char *why;
    int rc = ccm_watch_output_open(out_spec, &w.out, &why);
    if (rc != 0) {
        fprintf(stderr, "ccm-watch: %s: %s\n", out_spec, rc == CCM_ENOMEM ? "out of memory" : why);
        exit_code = rc == CCM_EINVAL ? EXIT_USAGE : EXIT_FATAL;
        goto out;
    }
    if ((rc = s_state_open(&w, state)) != 0) {
        fprintf(stderr, "ccm-watch: cannot open the state in %s: %s\n", state, ccm_strerror(rc));
        goto out;
    }
    w.client = ccm_client_new(broker);
    if (!w.client) {
        fprintf(stderr, "ccm-watch: cannot use broker endpoint %s\n", broker);
        goto out;
    }
    long long v;
    if (ccm_config_get_int(w.cfg, "client", "timeout_ms", 2500, &v) == 0 && v > 0)
        ccm_client_set_timeout(w.client, (int)v);
    if (ccm_config_get_int(w.cfg, "client", "retries", 3, &v) == 0 && v >= 0)
        ccm_client_set_retries(w.client, (int)v);
    if (doorbell && !w.once) {
        zctx = zmq_ctx_new();
        sub = zctx ? zmq_socket(zctx, ZMQ_SUB) : NULL;
        if (!sub || ccm_wire_socket_defaults(sub, 0) != 0 || zmq_connect(sub, doorbell) != 0 ||
            zmq_setsockopt(sub, ZMQ_SUBSCRIBE, w.stream, strlen(w.stream)) != 0) {
            ccm_warn("event=doorbell_unavailable endpoint=%s error=\"%s\" (polling)", doorbell,
                     zmq_strerror(zmq_errno()));
            if (sub)
                zmq_close(sub);
            sub = NULL;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    ccm_info("event=start stream=%s next_seq=%" PRIu64 " out=%s format=%s", w.stream, w.next_seq,
             out_spec, format);

    exit_code = EXIT_OK;
    while (!s_stop) {
        bool more = false;
        rc = s_round(&w, &more);
        if (rc == CCM_EIO) {
            exit_code = EXIT_FATAL;
            break;
        }
        if (rc != 0 && w.once) {
            fprintf(stderr,
                    "ccm-watch: stopped at seq %" PRIu64 " (%s); it is delivered on the next run\n",
                    w.next_seq, ccm_strerror(rc));
            exit_code = EXIT_FATAL;
            break;
        }
        if (more && rc == 0)
            continue;
        if (w.once)
            break;
        s_wait(sub);
    }
    if (!w.once)
        ccm_info("event=stop next_seq=%" PRIu64 " delivered=%" PRIu64, w.next_seq, w.delivered);
out:
    if (sub)
        zmq_close(sub);
    if (zctx)
        zmq_ctx_term(zctx);
    ccm_client_destroy(&w.client);
    ccm_store_destroy(&w.store);
    ccm_watch_output_destroy(&w.out);
    ccm_config_destroy(&w.cfg);
    return exit_code;
}
