/* sender — delivers the outbox to timetrack: pipelined sends through the client
 * API, replies matched by the request_id they echo, an event removed from the
 * outbox only when its reply is OK or a definitive refusal (INVALID_ARGUMENT,
 * NOT_FOUND, CONFLICT, FAILED_PRECONDITION), resends after a timeout.
 *
 * It adapts to the service's pace as TCP does (AIMD): at most `cwnd` requests
 * are in flight, cwnd starting at CCM_CDR_WINDOW_START and growing by one per
 * quick reply (slow start) until the first timeout, then by one per window of
 * quick replies, up to the caller's window; every timeout event halves it (once
 * per reply timeout). The reply timeout follows the replies' round-trip time
 * (srtt + 4 rttvar from replies to first sends, Karn), never below the caller's
 * timeout; a request that timed out is resent as the window allows, its next
 * timeout doubled with each try (up to 8x) and spread by jitter. A slow service
 * therefore sees fewer requests, not a resend storm.
 *
 * No reply at all for a timeout while requests are in flight means the broker or
 * the service is down: the socket is replaced (its replies are lost with it) and
 * everything in flight is resent, with the wait doubling up to 8 timeouts while
 * nothing answers. UNAVAILABLE / INTERNAL replies are resent after a timeout.
 * PERMISSION_DENIED keeps the event and marks the sender denied (fatal for the
 * caller: resending cannot help). Driven step by step by ccm_cdr_sender_pump(),
 * so the caller's loop (and a test) decides when time passes. */
#ifndef CCM_CDR_SENDER_H
#define CCM_CDR_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "ccm/client.h"
#include "outbox.h"
#include "request.h"

/* Requests in flight at most by default: enough to feed group commit. */
#define CCM_CDR_WINDOW_DEFAULT 256
/* The window a sender starts with (slow start doubles it per round trip). */
#define CCM_CDR_WINDOW_START 8

typedef struct ccm_cdr_sender ccm_cdr_sender_t;

typedef struct {
    uint64_t sent;       /* first sends */
    uint64_t resent;     /* sends after a timeout, a reconnect or UNAVAILABLE */
    uint64_t acked;      /* OK replies */
    uint64_t refused;    /* definitive refusals (removed from the outbox) */
    uint64_t reconnects; /* sockets replaced */
    uint64_t timeouts;   /* requests whose reply did not come in time */
    int window;          /* requests allowed in flight now (cwnd) */
    int window_min;      /* the smallest window after a cut (the caller's when none) */
    int timeout_ms;      /* the reply timeout now */
    bool denied;         /* a PERMISSION_DENIED reply arrived */
} ccm_cdr_sender_stats_t;

/* Called for every refusal (and PERMISSION_DENIED) with the unique id, the code
 * and the service's message. */
typedef void (*ccm_cdr_refused_fn)(const char *id, int code, const char *message, void *arg);

/* client and ob are borrowed and must outlive the sender. window >= 1 (the
 * most in flight), timeout_ms > 0 (the least reply timeout). NULL when out of
 * memory. */
ccm_cdr_sender_t *ccm_cdr_sender_new(ccm_client_t *client, ccm_cdr_outbox_t *ob, int window,
                                     int timeout_ms, ccm_cdr_refused_fn on_refused, void *arg);
void ccm_cdr_sender_destroy(ccm_cdr_sender_t **p);

/* One step: loads pending events into free window slots, sends what waits,
 * waits up to wait_ms for replies when any is in flight (then takes every reply
 * already there; with nothing in flight it returns at once),
 * records them in one outbox transaction, and handles timeouts.
 * 0, or CCM_EIO (the outbox could not be read or written: fatal). */
int ccm_cdr_sender_pump(ccm_cdr_sender_t *s, int wait_ms);

/* The clock the sender reads its timeouts from: milliseconds, monotonic. By
 * default the system's; a test hands in one it steps itself, so that what it
 * checks (a reply late by the timeout, a window halved once) holds exactly
 * however busy the machine is. fn NULL restores the system's clock. */
typedef int64_t (*ccm_cdr_clock_fn)(void *arg);
void ccm_cdr_sender_set_clock(ccm_cdr_sender_t *s, ccm_cdr_clock_fn fn, void *arg);

/* Resends per first send so far (0 when nothing was sent). */
double ccm_cdr_sender_resend_ratio(const ccm_cdr_sender_t *s);

/* Requests in the window (sent or waiting to be resent). */
unsigned ccm_cdr_sender_inflight(const ccm_cdr_sender_t *s);
const ccm_cdr_sender_stats_t *ccm_cdr_sender_stats(const ccm_cdr_sender_t *s);

#endif
