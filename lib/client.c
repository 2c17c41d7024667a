/* client — Lazy Pirate 7/MDP client over a DEALER socket (see client.h).
 * Invariants: a retry resends the caller's exact bytes, so the idempotency key
 * travels unchanged and the service answers a retry with its stored reply; a
 * reply is returned only when it echoes the request's request_id. */
#include "ccm/client.h"

#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/error.h"
#include "ccm/log.h"
#include "ccm/wire.h"

/* Back-off between tries: doubles from the first value up to the cap. */
#define S_BACKOFF_FIRST_MS 100
#define S_BACKOFF_MAX_MS 2000
/* Longest request_id a service accepts (CCM_REQUEST_ID_MAX of worker.h). */
#define S_REQUEST_ID_MAX 128

struct ccm_client {
    void *ctx;            /* own ZeroMQ context */
    void *sock;           /* DEALER connected to the broker, or NULL */
    char *endpoint;       /* owned copy */
    int timeout_ms;       /* per-try reply timeout */
    int retries;          /* tries after the first */
    long long maxmsgsize; /* ZMQ_MAXMSGSIZE, 0 = default */
    ccm_frames_t *frames; /* scratch message */

    bool curve_on;          /* every socket is a CURVE client with `curve` */
    ccm_auth_curve_t curve; /* our keys and the broker's public key */
};

static int s_connect(ccm_client_t *c)
{
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock)
        return CCM_EIO;
    if (ccm_wire_socket_defaults(c->sock, c->maxmsgsize) != 0 ||
        (c->curve_on && ccm_auth_curve_client(c->sock, &c->curve) != 0) ||
        zmq_connect(c->sock, c->endpoint) != 0) {
        ccm_error("event=client_connect endpoint=%s error=\"%s\"", c->endpoint,
                  zmq_strerror(zmq_errno()));
        zmq_close(c->sock);
        c->sock = NULL;
        return CCM_EIO;
    }
    return 0;
}

ccm_client_t *ccm_client_new(const char *endpoint)
{
    ccm_auth_curve_t curve;
    bool on = false;
    char err[512];
    if (ccm_auth_curve_from_env(&curve, &on, err, sizeof err) != 0) {
        ccm_error("event=key_refused error=\"%s\"", err);
        return NULL;
    }
    ccm_client_t *c = ccm_client_new_curve(endpoint, on ? &curve : NULL);
    explicit_bzero(&curve, sizeof curve);
    return c;
}

ccm_client_t *ccm_client_new_config(const char *endpoint, const ccm_config_t *cfg,
                                    const char *section)
{
    const char *key = ccm_config_get(cfg, section, "key", "");
    const char *broker_key = ccm_config_get(cfg, section, "broker_key", "");
    if (!key[0] && !broker_key[0])
        return ccm_client_new(endpoint);
    ccm_auth_curve_t curve;
    char err[512];
    if (ccm_auth_curve_load(key, broker_key, &curve, err, sizeof err) != 0) {
        ccm_error("event=key_refused section=%s error=\"%s\"", section, err);
        return NULL;
    }
    ccm_client_t *c = ccm_client_new_curve(endpoint, &curve);
    explicit_bzero(&curve, sizeof curve);
    return c;
}

ccm_client_t *ccm_client_new_curve(const char *endpoint, const ccm_auth_curve_t *curve)
{
    if (!endpoint || ccm_auth_endpoint_check(endpoint, curve != NULL, "broker") != 0)
        return NULL;
    ccm_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (curve) {
        c->curve_on = true;
        c->curve = *curve;
    }
    c->timeout_ms = 2500;
    c->retries = 3;
    c->ctx = zmq_ctx_new();
    c->endpoint = strdup(endpoint);
    c->frames = ccm_frames_new();
    if (!c->ctx || !c->endpoint || !c->frames || s_connect(c) != 0) {
        ccm_client_destroy(&c);
        return NULL;
    }
    return c;
}

void ccm_client_destroy(ccm_client_t **p)
{
    if (!p || !*p)
        return;
    ccm_client_t *c = *p;
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    ccm_frames_destroy(&c->frames);
    explicit_bzero(&c->curve, sizeof c->curve);
    free(c->endpoint);
    free(c);
    *p = NULL;
}

void ccm_client_set_timeout(ccm_client_t *c, int timeout_ms)
{
    if (timeout_ms > 0)
        c->timeout_ms = timeout_ms;
}

void ccm_client_set_retries(ccm_client_t *c, int retries)
{
    if (retries >= 0)
        c->retries = retries;
}

void ccm_client_set_maxmsgsize(ccm_client_t *c, long long bytes)
{
    c->maxmsgsize = bytes;
}

int ccm_client_reconnect(ccm_client_t *c)
{
    if (c->sock)
        zmq_close(c->sock);
    c->sock = NULL;
    return s_connect(c);
}

int ccm_client_send(ccm_client_t *c, const char *service, const void *req, size_t len)
{
    if (!service || !*service || strlen(service) > CCM_SERVICE_MAX)
        return CCM_EINVAL;
    if (!c->sock && s_connect(c) != 0)
        return CCM_EIO;
    int rc = ccm_mdp_client_request(c->frames, service, req, len);
    if (rc != 0)
        return rc;
    return ccm_frames_send(c->frames, c->sock, ZMQ_DONTWAIT);
}

static char *s_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int ccm_client_recv(ccm_client_t *c, char **service, void **reply, size_t *reply_len,
                    int timeout_ms)
{
    if (service)
        *service = NULL;
    *reply = NULL;
    *reply_len = 0;
    if (!c->sock)
        return CCM_ETIMEOUT;
    zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0)
        return zmq_errno() == EINTR ? CCM_ETIMEOUT : CCM_EIO;
    if (n == 0)
        return CCM_ETIMEOUT;
    int rc = ccm_frames_recv(c->frames, c->sock, ZMQ_DONTWAIT);
    if (rc == CCM_EAGAIN)
        return CCM_ETIMEOUT;
    if (rc != 0)
        return rc;
    ccm_mdp_client_view_t v;
    if (ccm_mdp_parse_client(c->frames, 0, &v) != 0) {
        ccm_warn("event=client_bad_reply frames=%zu", ccm_frames_size(c->frames));
        return CCM_EPROTO;
    }
    /* The reply body is the last frame (a 7/MDP reply has exactly one here). */
    size_t last = ccm_frames_size(c->frames) - 1;
    size_t blen = ccm_frames_len(c->frames, last);
    void *body = malloc(blen ? blen : 1);
    char *svc = service ? s_strndup(v.service, v.service_len) : NULL;
    if (!body || (service && !svc)) {
        free(body);
        free(svc);
        return CCM_ENOMEM;
    }
    memcpy(body, ccm_frames_data(c->frames, last), blen);
    *reply = body;
    *reply_len = blen;
    if (service)
        *service = svc;
    return 0;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int s_request(ccm_client_t *c, const char *service, const void *req, size_t len,
                     const char *id, void **reply, size_t *reply_len);

/* The request_id of req when it is a ccm Request (caller frees), else NULL:
 * mmi.* bodies are service names, and an opaque body has no id to match. */
static int s_request_id(const char *service, const void *req, size_t len, char **id)
{
    *id = NULL;
    if (strncmp(service, "mmi.", 4) == 0)
        return 0;
    Ccm__CommonRequest *r = ccm__common_request__unpack(NULL, len, req);
    if (!r)
        return 0;
    int rc = strlen(r->request_id) > S_REQUEST_ID_MAX ? CCM_EINVAL : 0;
    if (rc == 0 && !(*id = strdup(r->request_id)))
        rc = CCM_ENOMEM;
    ccm__common_request__free_unpacked(r, NULL);
    return rc;
}

/* True when reply answers the request whose request_id is id. */
static bool s_answers(const char *id, const void *reply, size_t len)
{
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, len, reply);
    bool same = r && strcmp(r->request_id, id) == 0;
    if (r)
        ccm__common_reply__free_unpacked(r, NULL);
    return same;
}

int ccm_client_request(ccm_client_t *c, const char *service, const void *req, size_t len,
                       void **reply, size_t *reply_len)
{
    char *id = NULL;
    if (!service || !*service || strlen(service) > CCM_SERVICE_MAX)
        return CCM_EINVAL;
    int rc = s_request_id(service, req, len, &id);
    if (rc != 0)
        return rc;
    rc = s_request(c, service, req, len, id, reply, reply_len);
    free(id);
    return rc;
}

static int s_request(ccm_client_t *c, const char *service, const void *req, size_t len,
                     const char *id, void **reply, size_t *reply_len)
{
    int backoff = S_BACKOFF_FIRST_MS;
    for (int attempt = 0; attempt <= c->retries; attempt++) {
        if (attempt > 0) {
            s_sleep_ms(backoff);
            backoff = backoff * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : backoff * 2;
            /* A new socket: whatever the old one still owed us is dropped with it. */
            if (ccm_client_reconnect(c) != 0)
                continue;
        }
        int rc = ccm_client_send(c, service, req, len);
        if (rc == CCM_EINVAL)
            return rc;
        if (rc != 0)
            continue;
        for (;;) {
            char *svc = NULL;
            rc = ccm_client_recv(c, &svc, reply, reply_len, c->timeout_ms);
            if (rc == CCM_ETIMEOUT)
                break;
            if (rc == CCM_EPROTO)
                continue; /* dropped; wait for the real reply until the timeout */
            if (rc != 0)
                return rc;
            bool same = strcmp(svc, service) == 0;
            free(svc);
            if (same && (!id || s_answers(id, *reply, *reply_len)))
                return 0;
            /* Not the answer to this request: another service's, or another
             * request's (a confused or rogue worker). Keep waiting for ours. */
            ccm_warn("event=client_stray_reply service=%s reason=\"%s\"", service,
                     same ? "its request_id is not this request's" : "another service's reply");
            free(*reply);
            *reply = NULL;
        }
    }
    return CCM_ETIMEOUT;
}
