/* pipeline_client — a real ccm client (lib/client) that pipelines many
 * idempotent patient registrations and retries until every one is acknowledged.
 * Used by the durability test while the service and the broker are killed.
 *
 *   pipeline_client --broker EP --clinic C --count N [--window W] [--timeout MS]
 *                   [--deadline S] [--prefix P] [--rate N]
 *
 * Registration i has request_id "<P>-<i>", MRN "<P><i>" and a valid MBI derived
 * from i, so a resend is byte-identical to the first send. --rate caps sends per
 * second (token bucket, no bursts), so a test can act at known points of the run
 * however fast the machine is. Prints one JSON line:
 * {"ok":N,"failed":F,"resent":R,"reconnects":C,"seconds":S,"per_second":X}.
 * Exit 0 when all N got an OK reply, 1 otherwise. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccm/client.h"
#include "ccm/enrollment.pb-c.h"
#include "ccm/error.h"

enum { UNSENT, INFLIGHT, DONE };

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An MBI unique per i < 90000: C A AN N A AN N A A N N. */
static void s_mbi(long i, char out[12])
{
    long d = i % 10000;
    memcpy(out, "1AC0CD0EF00", 12);
    out[0] = (char)('1' + i / 10000);
    out[3] = (char)('0' + d / 1000);
    out[6] = (char)('0' + (d / 100) % 10);
    out[9] = (char)('0' + (d / 10) % 10);
    out[10] = (char)('0' + d % 10);
}

static size_t s_pack(const char *prefix, const char *clinic, long i, uint8_t *buf)
{
    char rid[64], mrn[64], mbi[12];
    snprintf(rid, sizeof rid, "%s-%ld", prefix, i);
    snprintf(mrn, sizeof mrn, "%s%ld", prefix, i);
    s_mbi(i, mbi);
    Ccm__Enrollment__RegisterPatient in = CCM__ENROLLMENT__REGISTER_PATIENT__INIT;
    in.clinic = (char *)clinic;
    in.mrn = mrn;
    in.mbi = mbi;
    in.family_name = "Pipeline";
    in.given_name = mrn;
    in.birth_date = "1950-01-01";
    Ccm__Enrollment__Request req = CCM__ENROLLMENT__REQUEST__INIT;
    req.request_id = rid;
    req.op_case = CCM__ENROLLMENT__REQUEST__OP_REGISTER_PATIENT;
    req.register_patient = &in;
    return ccm__enrollment__request__pack(&req, buf);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"broker", required_argument, 0, 'b'},
                                         {"clinic", required_argument, 0, 'c'},
                                         {"count", required_argument, 0, 'n'},
                                         {"window", required_argument, 0, 'w'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"deadline", required_argument, 0, 'd'},
                                         {"prefix", required_argument, 0, 'p'},
                                         {"rate", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    const char *broker = NULL, *clinic = "C01", *prefix = "P";
    long count = 1000, window = 200, timeout_ms = 1000, deadline_s = 300, rate = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': broker = optarg; break;
        case 'c': clinic = optarg; break;
        case 'n': count = atol(optarg); break;
        case 'w': window = atol(optarg); break;
        case 't': timeout_ms = atol(optarg); break;
        case 'd': deadline_s = atol(optarg); break;
        case 'p': prefix = optarg; break;
        case 'r': rate = atol(optarg); break;
        default: return 2;
        }
    }
    if (!broker || count < 1 || count > 90000 || window < 1) {
        fprintf(stderr, "usage: pipeline_client --broker EP [--count 1..90000] ...\n");
        return 2;
    }
    ccm_client_t *cl = ccm_client_new(broker);
    unsigned char *state = calloc((size_t)count, 1);
    double *sent_at = calloc((size_t)count, sizeof *sent_at);
    if (!cl || !state || !sent_at)
        return 1;
    long ok = 0, failed = 0, resent = 0, reconnects = 0, inflight = 0, next = 0;
    long from = 0; /* no UNSENT registration below this index */
    double t0 = s_now(), last_progress = t0;
    double last_scan = t0;            /* last search for requests past their timeout */
    double tokens = 0, refilled = t0; /* --rate: sends allowed now, at most 50 */
    uint8_t buf[512];
    while (ok + failed < count && s_now() - t0 < (double)deadline_s) {
        /* Fill the window: first anything to resend (scan from 0), then new ones. */
        while (from < count && state[from] != UNSENT)
            from++;
        if (rate > 0) {
            double now = s_now();
            tokens += (now - refilled) * (double)rate;
            if (tokens > 50)
                tokens = 50;
            refilled = now;
        }
        for (long i = from; i < count && inflight < window; i++) {
            if (state[i] != UNSENT)
                continue;
            if (rate > 0) {
                if (tokens < 1)
                    break;
                tokens -= 1;
            }
            size_t len = s_pack(prefix, clinic, i, buf);
            if (ccm_client_send(cl, "enrollment", buf, len) != 0)
                break;
            if (i < next)
                resent++;
            if (i >= next)
                next = i + 1;
            state[i] = INFLIGHT;
            sent_at[i] = s_now();
            inflight++;
        }
        void *rep;
        size_t rlen;
        int rc = ccm_client_recv(cl, NULL, &rep, &rlen, rate > 0 ? 5 : 100);
        if (rc == 0) {
            Ccm__Enrollment__Reply *r = ccm__enrollment__reply__unpack(NULL, rlen, rep);
            free(rep);
            if (!r)
                continue;
            const char *dash = strrchr(r->request_id, '-');
            long i = dash ? atol(dash + 1) : -1;
            if (i >= 0 && i < count && state[i] == INFLIGHT) {
                inflight--;
                if (r->status && r->status->code == CCM__CODE__OK) {
                    state[i] = DONE;
                    ok++;
                    last_progress = s_now();
                } else if (r->status && r->status->code == CCM__CODE__UNAVAILABLE) {
                    state[i] = UNSENT; /* nothing was stored: send again */
                    if (i < from)
                        from = i;
                } else {
                    fprintf(stderr, "registration %ld refused: %s\n", i,
                            r->status ? r->status->message : "(no status)");
                    state[i] = DONE;
                    failed++;
                }
            }
            ccm__enrollment__reply__free_unpacked(r, NULL);
            continue;
        }
        /* No reply lately: the service or broker may have died. Drop the socket
         * (its replies are lost with it) and resend everything in flight. */
        double now = s_now();
        if (inflight > 0 && now - last_progress > (double)timeout_ms / 1000.0) {
            ccm_client_reconnect(cl);
            reconnects++;
            for (long i = 0; i < count; i++)
                if (state[i] == INFLIGHT)
                    state[i] = UNSENT;
            inflight = 0;
            from = 0;
            last_progress = now;
        } else if (now - last_scan > (double)timeout_ms / 1000.0) {
            /* Others progress but some requests went to a worker that died: resend
             * those that waited longer than the timeout, on the same socket. */
            for (long i = 0; i < count; i++)
                if (state[i] == INFLIGHT && now - sent_at[i] > (double)timeout_ms / 1000.0) {
                    state[i] = UNSENT;
                    inflight--;
                    if (i < from)
                        from = i;
                }
            last_scan = now;
        }
    }
    double secs = s_now() - t0;
    printf("{\"ok\":%ld,\"failed\":%ld,\"resent\":%ld,\"reconnects\":%ld,\"seconds\":%.3f,"
           "\"per_second\":%.0f}\n",
           ok, failed, resent, reconnects, secs, (double)ok / secs);
    ccm_client_destroy(&cl);
    free(state);
    free(sent_at);
    return ok == count ? 0 : 1;
}
