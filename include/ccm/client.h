/* client — the public C API of thin ccm clients (ccmctl, ccm-cdr, ccm-watch, yours).
 *
 * A client speaks 7/MDP to the broker over one DEALER socket. Requests are opaque
 * bytes (a packed protobuf Request of the target service, see proto/); replies
 * are the service's packed Reply. ccm_client_request() is Lazy Pirate: on a
 * timeout it closes the socket, opens a new one and sends the very same bytes
 * again — the same request_id inside — with growing back-off, so a retried
 * mutation is applied once (services are idempotent by request_id).
 * A reply is taken as the answer only when it answers this request: when the
 * request is a ccm Request (a protobuf message; mmi.* aside), the reply must be
 * a ccm Reply echoing its request_id (both may be empty); anything else that
 * arrives is dropped and logged, and the wait goes on.
 * For throughput, ccm_client_send()/ccm_client_recv() pipeline many requests;
 * replies then arrive in any order and the caller matches them by the
 * request_id they echo.
 *
 * CURVE: with keys every socket is a CURVE client of the broker and the broker
 * stamps our principal on each request; without keys only loopback endpoints
 * are accepted. A client object is used from one thread. */
#ifndef CCM_CLIENT_H
#define CCM_CLIENT_H

#include <stddef.h>

#include "ccm/auth.h"
#include "ccm/config.h"

typedef struct ccm_client ccm_client_t;

/* Connects (lazily, as ZeroMQ does) to the broker's 7/MDP endpoint, e.g.
 * "tcp://127.0.0.1:7710", with the CURVE keys named by $CCM_KEY (our .key) and
 * $CCM_BROKER_KEY (the broker's .pub) when they are set, else without keys.
 * Returns NULL (logged) when out of memory, the endpoint is invalid, a key
 * file is refused, or the endpoint is not loopback and there are no keys. The
 * defaults: timeout 2500 ms per try, 3 retries, back-off doubling from 100 ms
 * up to 2 s. */
ccm_client_t *ccm_client_new(const char *endpoint);
/* The same with explicit keys (copied), or curve NULL for none (the
 * environment is not looked at). */
ccm_client_t *ccm_client_new_curve(const char *endpoint, const ccm_auth_curve_t *curve);
/* The same with the keys of a program's own section: `key` and `broker_key` of
 * [section] in cfg (e.g. [watch], [cdr]) when either is set, else
 * $CCM_KEY/$CCM_BROKER_KEY, else none. cfg may be NULL. */
ccm_client_t *ccm_client_new_config(const char *endpoint, const ccm_config_t *cfg,
                                    const char *section);
/* Closes the socket (pending requests are dropped); sets *p to NULL; safe twice. */
void ccm_client_destroy(ccm_client_t **p);

/* Per-try reply timeout in milliseconds (> 0) and number of retries (>= 0). */
void ccm_client_set_timeout(ccm_client_t *c, int timeout_ms);
void ccm_client_set_retries(ccm_client_t *c, int retries);
/* ZMQ_MAXMSGSIZE of the socket; 0 = CCM_MAXMSGSIZE. Applies to the next socket. */
void ccm_client_set_maxmsgsize(ccm_client_t *c, long long bytes);

/* Sends req to service and waits for its reply, retrying as described above.
 * On 0, *reply (caller frees with free()) and *reply_len hold the reply body.
 * Errors: CCM_EINVAL (bad service name; a request_id over 128 bytes, which no
 * service accepts), CCM_ETIMEOUT (no reply answering this request after every
 * retry: broker or service unreachable, or CURVE refused), CCM_EIO. */
int ccm_client_request(ccm_client_t *c, const char *service, const void *req, size_t len,
                       void **reply, size_t *reply_len);

/* Pipelining: queue one request without waiting. 0, CCM_EINVAL, CCM_EAGAIN (the
 * socket's send queue is full: receive replies first), CCM_EIO. */
int ccm_client_send(ccm_client_t *c, const char *service, const void *req, size_t len);
/* Waits up to timeout_ms (-1 = forever, 0 = poll) for the next reply.
 * On 0, *service (may be NULL; caller frees) names the replying service and
 * *reply (caller frees) holds the body. CCM_ETIMEOUT when none arrived,
 * CCM_EPROTO (a malformed reply was dropped), CCM_EIO. */
int ccm_client_recv(ccm_client_t *c, char **service, void **reply, size_t *reply_len,
                    int timeout_ms);
/* Drops the socket and connects a new one: replies to requests sent on the old
 * socket are lost, so the caller resends what it still waits for. 0 or CCM_EIO. */
int ccm_client_reconnect(ccm_client_t *c);

#endif
