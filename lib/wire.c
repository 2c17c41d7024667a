/* wire — multipart messages and 7/MDP framing (see wire.h).
 * Parsers check every frame the protocol defines and never trust the peer. */
#include "ccm/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ccm/error.h"

struct ccm_frames {
    zmq_msg_t *f; /* frames [0, n) are initialised */
    size_t n;
    size_t cap;
};

ccm_frames_t *ccm_frames_new(void)
{
    return calloc(1, sizeof(ccm_frames_t));
}

void ccm_frames_clear(ccm_frames_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        zmq_msg_close(&m->f[i]);
    m->n = 0;
}

void ccm_frames_destroy(ccm_frames_t **p)
{
    if (!p || !*p)
        return;
    ccm_frames_clear(*p);
    free((*p)->f);
    free(*p);
    *p = NULL;
}

size_t ccm_frames_size(const ccm_frames_t *m)
{
    return m->n;
}

const void *ccm_frames_data(const ccm_frames_t *m, size_t i)
{
    return zmq_msg_data((zmq_msg_t *)&m->f[i]);
}

size_t ccm_frames_len(const ccm_frames_t *m, size_t i)
{
    return zmq_msg_size((zmq_msg_t *)&m->f[i]);
}

const char *ccm_frames_meta(const ccm_frames_t *m, size_t i, const char *name)
{
    return zmq_msg_gets(&m->f[i], name);
}

bool ccm_frames_eq(const ccm_frames_t *m, size_t i, const char *s)
{
    size_t n = strlen(s);
    return i < m->n && ccm_frames_len(m, i) == n && memcmp(ccm_frames_data(m, i), s, n) == 0;
}

/* Makes room for one more frame at the end; returns its slot or NULL. */
static zmq_msg_t *s_slot(ccm_frames_t *m)
{
    if (m->n >= CCM_FRAMES_MAX)
        return NULL;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        zmq_msg_t *f = realloc(m->f, cap * sizeof *f);
        if (!f)
            return NULL;
        m->f = f;
        m->cap = cap;
    }
    return &m->f[m->n];
}

int ccm_frames_push(ccm_frames_t *m, const void *data, size_t len)
{
    if (m->n >= CCM_FRAMES_MAX)
        return CCM_EINVAL;
    /* Copy into a fresh frame before growing the array: data may point into one of
     * m's own frames (short frames live inside their zmq_msg_t), which realloc moves. */
    zmq_msg_t part;
    if (zmq_msg_init_size(&part, len) != 0)
        return CCM_ENOMEM;
    if (len)
        memcpy(zmq_msg_data(&part), data, len);
    zmq_msg_t *s = s_slot(m);
    if (!s) {
        zmq_msg_close(&part);
        return CCM_ENOMEM;
    }
    *s = part; /* a zmq_msg_t may be moved while nothing else refers to it */
    m->n++;
    return 0;
}

int ccm_frames_push_str(ccm_frames_t *m, const char *s)
{
    return ccm_frames_push(m, s, strlen(s));
}

int ccm_frames_push_front(ccm_frames_t *m, const void *data, size_t len)
{
    int rc = ccm_frames_push(m, data, len);
    if (rc)
        return rc;
    zmq_msg_t last = m->f[m->n - 1];
    memmove(&m->f[1], &m->f[0], (m->n - 1) * sizeof *m->f);
    m->f[0] = last;
    return 0;
}

int ccm_frames_append_from(ccm_frames_t *m, const ccm_frames_t *src, size_t from)
{
    size_t n = src->n; /* m may be src: copy only the frames there now */
    for (size_t i = from; i < n; i++) {
        int rc = ccm_frames_push(m, ccm_frames_data(src, i), ccm_frames_len(src, i));
        if (rc)
            return rc;
    }
    return 0;
}

void ccm_frames_drop_front(ccm_frames_t *m, size_t n)
{
    if (n > m->n)
        n = m->n;
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&m->f[i]);
    memmove(&m->f[0], &m->f[n], (m->n - n) * sizeof *m->f);
    m->n -= n;
}

int ccm_frames_recv(ccm_frames_t *m, void *socket, int flags)
{
    ccm_frames_clear(m);
    bool overflow = false;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        /* Only the first part may be non-blocking: the rest arrive atomically. */
        int r = zmq_msg_recv(&part, socket, m->n == 0 ? flags : 0);
        if (r < 0) {
            int e = zmq_errno();
            zmq_msg_close(&part);
            ccm_frames_clear(m);
            return e == EAGAIN || e == EINTR ? CCM_EAGAIN : CCM_EIO;
        }
        bool more = zmq_msg_more(&part);
        zmq_msg_t *s = overflow ? NULL : s_slot(m);
        if (s) {
            *s = part;
            m->n++;
        } else {
            overflow = true; /* keep the first frames (the peer's identity) for the log */
            zmq_msg_close(&part);
        }
        if (!more)
            break;
    }
    return overflow ? CCM_EPROTO : 0;
}

int ccm_frames_send(ccm_frames_t *m, void *socket, int flags)
{
    int rc = 0, e = 0;
    for (size_t i = 0; i < m->n; i++) {
        int more = i + 1 < m->n ? ZMQ_SNDMORE : 0;
        /* Once the first part is queued the rest cannot block (atomic message). */
        if (zmq_msg_send(&m->f[i], socket, (i == 0 ? flags : 0) | more) < 0) {
            e = zmq_errno();
            rc = e == EAGAIN || e == EHOSTUNREACH || e == EINTR ? CCM_EAGAIN : CCM_EIO;
            break;
        }
        /* a sent zmq_msg_t is empty; re-initialise so clear() can close it */
        zmq_msg_init(&m->f[i]);
    }
    ccm_frames_clear(m);
    if (rc)
        errno = e; /* callers may tell EHOSTUNREACH (peer gone) from EAGAIN (pipe full) */
    return rc;
}

/* ---- 7/MDP ---- */

static bool s_empty(const ccm_frames_t *m, size_t i)
{
    return i < m->n && ccm_frames_len(m, i) == 0;
}

int ccm_mdp_parse_client(const ccm_frames_t *m, size_t at, ccm_mdp_client_view_t *v)
{
    /* "" · MDPC01 · service · body… */
    if (m->n < at + 4 || !s_empty(m, at) || !ccm_frames_eq(m, at + 1, CCM_MDPC))
        return CCM_EPROTO;
    size_t slen = ccm_frames_len(m, at + 2);
    if (slen == 0 || slen > CCM_SERVICE_MAX)
        return CCM_EPROTO;
    v->service = ccm_frames_data(m, at + 2);
    v->service_len = slen;
    v->body = at + 3;
    return 0;
}

int ccm_mdp_parse_worker(const ccm_frames_t *m, size_t at, ccm_mdp_worker_view_t *v)
{
    memset(v, 0, sizeof *v);
    if (m->n < at + 3 || !s_empty(m, at) || !ccm_frames_eq(m, at + 1, CCM_MDPW) ||
        ccm_frames_len(m, at + 2) != 1)
        return CCM_EPROTO;
    v->command = *(const unsigned char *)ccm_frames_data(m, at + 2);
    size_t rest = m->n - (at + 3);
    switch (v->command) {
    case CCM_MDPW_READY: {
        if (rest != 1)
            return CCM_EPROTO;
        size_t slen = ccm_frames_len(m, at + 3);
        if (slen == 0 || slen > CCM_SERVICE_MAX)
            return CCM_EPROTO;
        v->service = ccm_frames_data(m, at + 3);
        v->service_len = slen;
        return 0;
    }
    case CCM_MDPW_REQUEST:
    case CCM_MDPW_REPLY:
        /* client address · "" · body… */
        if (rest < 3 || ccm_frames_len(m, at + 3) == 0 || !s_empty(m, at + 4))
            return CCM_EPROTO;
        v->client = ccm_frames_data(m, at + 3);
        v->client_len = ccm_frames_len(m, at + 3);
        v->body = at + 5;
        return 0;
    case CCM_MDPW_HEARTBEAT:
    case CCM_MDPW_DISCONNECT: return rest == 0 ? 0 : CCM_EPROTO;
    default: return CCM_EPROTO;
    }
}

static int s_header(ccm_frames_t *out, const char *proto)
{
    ccm_frames_clear(out);
    int rc = ccm_frames_push(out, "", 0);
    return rc ? rc : ccm_frames_push_str(out, proto);
}

static int s_worker_cmd(ccm_frames_t *out, unsigned char cmd)
{
    int rc = s_header(out, CCM_MDPW);
    return rc ? rc : ccm_frames_push(out, &cmd, 1);
}

int ccm_mdp_client_request(ccm_frames_t *out, const char *service, const void *body, size_t len)
{
    size_t slen = strlen(service);
    if (slen == 0 || slen > CCM_SERVICE_MAX)
        return CCM_EINVAL;
    int rc = s_header(out, CCM_MDPC);
    if (!rc)
        rc = ccm_frames_push(out, service, slen);
    if (!rc)
        rc = ccm_frames_push(out, body, len);
    return rc;
}

int ccm_mdp_worker_ready(ccm_frames_t *out, const char *service)
{
    size_t slen = strlen(service);
    if (slen == 0 || slen > CCM_SERVICE_MAX)
        return CCM_EINVAL;
    int rc = s_worker_cmd(out, CCM_MDPW_READY);
    return rc ? rc : ccm_frames_push(out, service, slen);
}

int ccm_mdp_worker_heartbeat(ccm_frames_t *out)
{
    return s_worker_cmd(out, CCM_MDPW_HEARTBEAT);
}

int ccm_mdp_worker_disconnect(ccm_frames_t *out)
{
    return s_worker_cmd(out, CCM_MDPW_DISCONNECT);
}

int ccm_mdp_worker_reply(ccm_frames_t *out, const void *client, size_t client_len, const void *body,
                         size_t len)
{
    if (client_len == 0)
        return CCM_EINVAL;
    int rc = s_worker_cmd(out, CCM_MDPW_REPLY);
    if (!rc)
        rc = ccm_frames_push(out, client, client_len);
    if (!rc)
        rc = ccm_frames_push(out, "", 0);
    if (!rc)
        rc = ccm_frames_push(out, body, len);
    return rc;
}

int ccm_wire_socket_defaults(void *socket, int64_t maxmsgsize)
{
    int64_t max = maxmsgsize > 0 ? maxmsgsize : CCM_MAXMSGSIZE;
    int linger = 0;
    int ivl = CCM_HEARTBEAT_MS;
    int timeout = CCM_HEARTBEAT_MS * CCM_HEARTBEAT_LIVENESS;
    int ttl = timeout;
    if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(socket, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout) != 0 ||
        zmq_setsockopt(socket, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl) != 0)
        return CCM_EIO;
    return 0;
}

/* True when h starts with a dotted IPv4 literal 127.d.d.d followed by ':'. */
static bool s_ipv4_loopback(const char *h)
{
    if (strncmp(h, "127.", 4) != 0)
        return false;
    h += 4;
    for (int part = 0; part < 3; part++) {
        int digits = 0;
        while (*h >= '0' && *h <= '9' && digits < 4) {
            h++;
            digits++;
        }
        if (digits == 0 || digits > 3)
            return false;
        if (*h != (part < 2 ? '.' : ':'))
            return false;
        h++;
    }
    return true;
}

bool ccm_wire_endpoint_is_local(const char *ep)
{
    if (!ep)
        return false;
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return true;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    /* Literal addresses only (a name like 127.example.org could resolve anywhere). */
    const char *h = ep + 6;
    return s_ipv4_loopback(h) || strncmp(h, "localhost:", 10) == 0 || strncmp(h, "[::1]:", 6) == 0;
}
