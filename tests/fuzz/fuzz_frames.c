/* fuzz_frames — arbitrary bytes as a multipart message for the 7/MDP parsers.
 * Input format: a sequence of frames, each a 1-byte length then that many bytes
 * (a truncated last frame is cut short). Both parsers run at every delimiter
 * position; a successful parse must describe frames that exist, and what parses
 * must survive a rebuild with the builders and parse the same again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check(int ok)
{
    if (!ok)
        abort();
}

/* A parsed client request rebuilt by ccm_mdp_client_request parses the same. */
static void s_client_round_trip(const ccm_frames_t *m, const ccm_mdp_client_view_t *c)
{
    char service[CCM_SERVICE_MAX + 1];
    memcpy(service, c->service, c->service_len);
    service[c->service_len] = '\0';
    if (strlen(service) != c->service_len)
        return; /* a NUL inside the name: the string builder cannot express it */
    ccm_frames_t *r = ccm_frames_new();
    s_check(r != NULL);
    s_check(ccm_mdp_client_request(r, service, ccm_frames_data(m, c->body),
                                   ccm_frames_len(m, c->body)) == 0);
    ccm_mdp_client_view_t c2;
    s_check(ccm_mdp_parse_client(r, 0, &c2) == 0);
    s_check(c2.service_len == c->service_len &&
            memcmp(c2.service, c->service, c->service_len) == 0);
    s_check(ccm_frames_len(r, c2.body) == ccm_frames_len(m, c->body));
    ccm_frames_destroy(&r);
}

static void s_worker_round_trip(const ccm_frames_t *m, const ccm_mdp_worker_view_t *w)
{
    ccm_frames_t *r = ccm_frames_new();
    s_check(r != NULL);
    int rc = 0;
    if (w->command == CCM_MDPW_REPLY)
        rc = ccm_mdp_worker_reply(r, w->client, w->client_len, ccm_frames_data(m, w->body),
                                  ccm_frames_len(m, w->body));
    else if (w->command == CCM_MDPW_HEARTBEAT)
        rc = ccm_mdp_worker_heartbeat(r);
    else if (w->command == CCM_MDPW_DISCONNECT)
        rc = ccm_mdp_worker_disconnect(r);
    else {
        ccm_frames_destroy(&r);
        return;
    }
    s_check(rc == 0);
    ccm_mdp_worker_view_t w2;
    s_check(ccm_mdp_parse_worker(r, 0, &w2) == 0 && w2.command == w->command);
    if (w->command == CCM_MDPW_REPLY)
        s_check(w2.client_len == w->client_len && memcmp(w2.client, w->client, w->client_len) == 0);
    ccm_frames_destroy(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccm_frames_t *m = ccm_frames_new();
    if (!m)
        return 0;
    size_t i = 0;
    while (i < size) {
        size_t len = data[i++];
        if (len > size - i)
            len = size - i;
        if (ccm_frames_push(m, data + i, len) != 0)
            break;
        i += len;
    }
    size_t n = ccm_frames_size(m);
    s_check(n <= CCM_FRAMES_MAX);
    for (size_t at = 0; at < 2 && at <= n; at++) {
        ccm_mdp_client_view_t c;
        if (ccm_mdp_parse_client(m, at, &c) == 0) {
            s_check(c.body < n && c.service_len > 0 && c.service_len <= CCM_SERVICE_MAX);
            s_check(ccm_frames_eq(m, at + 1, CCM_MDPC) && ccm_frames_len(m, at) == 0);
            s_client_round_trip(m, &c);
        }
        ccm_mdp_worker_view_t w;
        if (ccm_mdp_parse_worker(m, at, &w) == 0) {
            s_check(w.command >= CCM_MDPW_READY && w.command <= CCM_MDPW_DISCONNECT);
            if (w.command == CCM_MDPW_REQUEST || w.command == CCM_MDPW_REPLY)
                s_check(w.body < n && w.client_len > 0);
            if (w.command == CCM_MDPW_READY)
                s_check(w.service_len > 0 && w.service_len <= CCM_SERVICE_MAX && at + 4 == n);
            s_worker_round_trip(m, &w);
        }
    }
    /* the message helpers on the same input: copy, shift, compare */
    ccm_frames_t *copy = ccm_frames_new();
    if (copy && n > 0) {
        s_check(ccm_frames_append_from(copy, m, 1) == 0);
        s_check(ccm_frames_size(copy) == n - 1);
        if (ccm_frames_push_front(copy, ccm_frames_data(m, 0), ccm_frames_len(m, 0)) == 0)
            for (size_t k = 0; k < n; k++)
                s_check(ccm_frames_len(copy, k) == ccm_frames_len(m, k) &&
                        memcmp(ccm_frames_data(copy, k), ccm_frames_data(m, k),
                               ccm_frames_len(m, k)) == 0);
        ccm_frames_drop_front(copy, 1);
        s_check(ccm_frames_size(copy) == n - 1);
    }
    ccm_frames_destroy(&copy);
    ccm_frames_destroy(&m);
    return 0;
}
