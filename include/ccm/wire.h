/* wire — ZeroMQ multipart messages and 7/MDP (MDP/0.1) + 8/MMI framing.
 *
 * A ccm_frames_t is an ordered list of frames (zmq_msg_t). Parsers never trust
 * the peer: every frame count, header and command byte is checked and a
 * malformed message is reported as CCM_EPROTO, never asserted on.
 * Frame layouts (the ROUTER identity frame not shown) are in proto/README.md. */
#ifndef CCM_WIRE_H
#define CCM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCM_MDPC "MDPC01"
#define CCM_MDPW "MDPW01"
#define CCM_MMI_SERVICE "mmi.service"

/* Worker commands (7/MDP). */
enum {
    CCM_MDPW_READY = 0x01,
    CCM_MDPW_REQUEST = 0x02,
    CCM_MDPW_REPLY = 0x03,
    CCM_MDPW_HEARTBEAT = 0x04,
    CCM_MDPW_DISCONNECT = 0x05
};

/* 7/MDP tunables: heartbeat every 2.5 s; a peer silent for LIVENESS beats is dead. */
#define CCM_HEARTBEAT_MS 2500
#define CCM_HEARTBEAT_LIVENESS 3
/* Default ZMQ_MAXMSGSIZE of every socket. */
#define CCM_MAXMSGSIZE (1 << 20)
/* Longest service name accepted (bytes). */
#define CCM_SERVICE_MAX 64
/* Most frames accepted in one message; more is a protocol error. */
#define CCM_FRAMES_MAX 64

typedef struct ccm_frames ccm_frames_t;

/* Returns an empty message, or NULL when out of memory. */
ccm_frames_t *ccm_frames_new(void);
/* Frees the message and every frame; sets *p to NULL. Safe on NULL and twice. */
void ccm_frames_destroy(ccm_frames_t **p);
/* Removes every frame. */
void ccm_frames_clear(ccm_frames_t *m);
size_t ccm_frames_size(const ccm_frames_t *m);
/* Frame i's bytes, borrowed until the message changes. i must be < size. */
const void *ccm_frames_data(const ccm_frames_t *m, size_t i);
size_t ccm_frames_len(const ccm_frames_t *m, size_t i);
/* The ZeroMQ metadata property `name` of frame i as received (e.g. "User-Id",
 * the ZAP user id of the peer's connection), borrowed until the message
 * changes, or NULL when the connection has none. i must be < size. */
const char *ccm_frames_meta(const ccm_frames_t *m, size_t i, const char *name);
/* True when frame i exists and equals the NUL-terminated string s (without the NUL). */
bool ccm_frames_eq(const ccm_frames_t *m, size_t i, const char *s);
/* Appends a copy of len bytes (data may be a frame of m itself). 0 or CCM_ENOMEM /
 * CCM_EINVAL (over CCM_FRAMES_MAX). */
int ccm_frames_push(ccm_frames_t *m, const void *data, size_t len);
int ccm_frames_push_str(ccm_frames_t *m, const char *s);
/* Inserts a copy of len bytes before frame 0. */
int ccm_frames_push_front(ccm_frames_t *m, const void *data, size_t len);
/* Appends copies of frames [from, size) of src. */
int ccm_frames_append_from(ccm_frames_t *m, const ccm_frames_t *src, size_t from);
/* Removes frames [0, n). */
void ccm_frames_drop_front(ccm_frames_t *m, size_t n);

/* Receives one whole multipart message into m (cleared first).
 * flags: 0 or ZMQ_DONTWAIT. Returns 0, CCM_EAGAIN (nothing waiting with DONTWAIT,
 * or interrupted by a signal), CCM_EPROTO (more than CCM_FRAMES_MAX frames: m keeps
 * the first CCM_FRAMES_MAX, e.g. for logging the peer; the rest is drained and
 * dropped) or CCM_EIO. */
int ccm_frames_recv(ccm_frames_t *m, void *socket, int flags);
/* Sends every frame (the message is left empty afterwards, whatever the result).
 * flags: 0 or ZMQ_DONTWAIT. Returns 0, CCM_EAGAIN (would block / unroutable
 * with ZMQ_ROUTER_MANDATORY: EHOSTUNREACH) or CCM_EIO. On failure errno holds the
 * ZeroMQ error, so a ROUTER can tell a gone peer (EHOSTUNREACH) from a full pipe. */
int ccm_frames_send(ccm_frames_t *m, void *socket, int flags);

/* ---- 7/MDP parsing. `at` is the index of the empty delimiter frame: 1 on a
 * ROUTER (after the identity), 0 on a DEALER. Views borrow from m. ---- */

/* Client request or broker reply: "" · "MDPC01" · service · body… (≥1 body frame). */
typedef struct {
    const char *service;   /* not NUL-terminated */
    size_t service_len;
    size_t body;           /* index of the first body frame */
} ccm_mdp_client_view_t;

/* Returns 0 or CCM_EPROTO (missing delimiter, wrong header, empty or over-long
 * service name, no body). */
int ccm_mdp_parse_client(const ccm_frames_t *m, size_t at, ccm_mdp_client_view_t *v);

/* Worker command: "" · "MDPW01" · command · … */
typedef struct {
    int command;           /* CCM_MDPW_* */
    const char *service;   /* READY only */
    size_t service_len;
    const void *client;    /* REQUEST / REPLY: the client address */
    size_t client_len;
    size_t body;           /* REQUEST / REPLY: index of the first body frame */
} ccm_mdp_worker_view_t;

/* Checks the frame shape of each command: READY has exactly a service; REQUEST and
 * REPLY have client address, empty frame and ≥1 body frame; HEARTBEAT and
 * DISCONNECT have nothing more. Returns 0 or CCM_EPROTO. */
int ccm_mdp_parse_worker(const ccm_frames_t *m, size_t at, ccm_mdp_worker_view_t *v);

/* ---- 7/MDP building. Each clears `out` and fills it, starting with the empty
 * delimiter (a DEALER sends it as is; a ROUTER caller pushes the identity in front). ---- */

/* "" · MDPC01 · service · body */
int ccm_mdp_client_request(ccm_frames_t *out, const char *service, const void *body, size_t len);
/* "" · MDPW01 · 0x01 · service */
int ccm_mdp_worker_ready(ccm_frames_t *out, const char *service);
/* "" · MDPW01 · 0x04 */
int ccm_mdp_worker_heartbeat(ccm_frames_t *out);
/* "" · MDPW01 · 0x05 */
int ccm_mdp_worker_disconnect(ccm_frames_t *out);
/* "" · MDPW01 · 0x03 · client · "" · body */
int ccm_mdp_worker_reply(ccm_frames_t *out, const void *client, size_t client_len,
                         const void *body, size_t len);

/* Sets the socket options every ccm socket uses: ZMQ_MAXMSGSIZE (maxmsgsize,
 * 0 = CCM_MAXMSGSIZE), ZMQ_LINGER 0, ZMTP heartbeats (ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL).
 * Returns 0 or CCM_EIO. */
int ccm_wire_socket_defaults(void *socket, int64_t maxmsgsize);

/* True for "tcp://127.d.d.d:…" (a literal address), "tcp://localhost:…", "tcp://[::1]:…",
 * ipc:// and inproc://. Anything else, including host names, is not local. */
bool ccm_wire_endpoint_is_local(const char *endpoint);

#endif
