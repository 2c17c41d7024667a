/* broker — the 7/MDP broker of a ccm network: routes client requests to
 * workers by service name, tracks worker liveness with heartbeats, answers
 * 8/MMI mmi.service itself, authenticates every peer (CURVE + ZAP against an
 * allow directory, when it has a key), stamps each request with the caller's
 * principal, and forwards doorbells (XSUB -> XPUB). It never decodes protobuf and keeps no
 * durable state: losing it loses nothing, because peers retry. */
#ifndef CCM_BROKER_H
#define CCM_BROKER_H

#include <signal.h>
#include <stdint.h>

typedef struct ccm_broker ccm_broker_t;

typedef struct {
    const char *endpoint;     /* 7/MDP ROUTER bind endpoint */
    const char *doorbell_in;  /* XSUB bind endpoint, or NULL */
    const char *doorbell_out; /* XPUB bind endpoint, or NULL */
    int64_t maxmsgsize;       /* ZMQ_MAXMSGSIZE; 0 = CCM_MAXMSGSIZE */
    const char *key;          /* our secret key file (.key), or NULL: no CURVE */
    const char *allow;        /* directory of the admitted .pub certificates (with key) */
} ccm_broker_opts_t;

/* Binds every socket (a NULL doorbell endpoint: no doorbell forwarding). With a
 * key, loads it and the allow list and binds the ZAP handler before any socket:
 * a broker with a key never runs without its handler. 0, CCM_EINVAL (no
 * endpoint; a non-loopback one without key; key without allow or the other way
 * round; a refused key file: all logged), CCM_EIO (cannot bind, or cannot read
 * the allow directory: logged), CCM_ENOMEM. On success *out is the broker
 * (caller destroys it). */
int ccm_broker_new(const ccm_broker_opts_t *opts, ccm_broker_t **out);
void ccm_broker_destroy(ccm_broker_t **p);
/* Keys admitted now (0 without keys). */
size_t ccm_broker_keys(const ccm_broker_t *b);
/* Serves until *stop is set (a signal handler's flag), then sends DISCONNECT to
 * every worker. With keys, re-reads the allow directory when it changes and at
 * once when *reload is set (SIGHUP; reset here; may be NULL). Returns 0, or
 * CCM_EIO on a fatal socket error (logged). */
int ccm_broker_run(ccm_broker_t *b, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);

#endif
