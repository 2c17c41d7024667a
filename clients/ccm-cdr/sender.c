/* sender — the window of requests in flight to timetrack (see sender.h).
 * Invariant: every pending outbox event with seq < next_seq is in a slot, so
 * loading from next_seq never sends an event twice at once. */
#include "sender.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccm/error.h"
#include "ccm/timetrack.pb-c.h"

/* The reconnect wait doubles while nothing answers, up to this many timeouts. */
#define S_BACKOFF_MAX 8
/* Replies taken in one step at most (each step commits its acks once). */
#define S_REPLIES_PER_STEP 1024

enum { S_FREE = 0, S_WAIT, S_INFLIGHT };

typedef struct {
    int state;                     /* S_FREE, S_WAIT (to send), S_INFLIGHT */
    uint64_t seq;                  /* outbox seq */
    char id[CCM_CDR_ID_MAX + 1];   /* unique id */
    char rid[CCM_CDR_RID_MAX + 1]; /* request_id: "cdr:" + id */
    void *req;                     /* owned copy of the packed request */
    size_t len;                    /* its bytes */
    int64_t sent_ms;               /* when last sent */
    bool ever_sent;                /* counts resends */
} slot_t;

struct ccm_cdr_sender {
    ccm_client_t *client;  /* borrowed */
    ccm_cdr_outbox_t *ob;  /* borrowed */
    slot_t *slots;         /* owned, window entries */
    int window;            /* slots */
    int timeout_ms;        /* reply timeout before a resend */
    uint64_t next_seq;     /* first outbox seq not loaded into a slot */
    unsigned used;         /* slots not free */
    int64_t last_reply_ms; /* last reply or last (re)connect */
    int backoff;           /* reconnect wait in timeouts, 1..S_BACKOFF_MAX */
    ccm_cdr_refused_fn on_refused;
    void *arg;
    ccm_cdr_sender_stats_t st;
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

ccm_cdr_sender_t *ccm_cdr_sender_new(ccm_client_t *client, ccm_cdr_outbox_t *ob, int window,
                                     int timeout_ms, ccm_cdr_refused_fn on_refused, void *arg)
{
    ccm_cdr_sender_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->window = window > 0 ? window : CCM_CDR_WINDOW_DEFAULT;
    s->slots = calloc((size_t)s->window, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    s->client = client;
    s->ob = ob;
    s->timeout_ms = timeout_ms > 0 ? timeout_ms : 2500;
    s->next_seq = 1;
    s->backoff = 1;
    s->last_reply_ms = s_now_ms();
    s->on_refused = on_refused;
    s->arg = arg;
    return s;
}

void ccm_cdr_sender_destroy(ccm_cdr_sender_t **p)
{
    if (!p || !*p)
        return;
    for (int i = 0; i < (*p)->window; i++)
        free((*p)->slots[i].req);
    free((*p)->slots);
    free(*p);
    *p = NULL;
}

unsigned ccm_cdr_sender_inflight(const ccm_cdr_sender_t *s)
{
    return s->used;
}

const ccm_cdr_sender_stats_t *ccm_cdr_sender_stats(const ccm_cdr_sender_t *s)
{
    return &s->st;
}

static void s_free_slot(ccm_cdr_sender_t *s, slot_t *sl)
{
    free(sl->req);
    memset(sl, 0, sizeof *sl);
    s->used--;
}

typedef struct {
    ccm_cdr_sender_t *s;
    int next_free; /* slot index to look from */
    int rc;        /* CCM_ENOMEM on a failed copy */
} load_t;

static int s_load_one(uint64_t seq, const char *id, const void *req, size_t len, void *arg)
{
    load_t *l = arg;
    ccm_cdr_sender_t *s = l->s;
    while (l->next_free < s->window && s->slots[l->next_free].state != S_FREE)
        l->next_free++;
    if (l->next_free >= s->window)
        return 1;
    slot_t *sl = &s->slots[l->next_free];
    sl->req = malloc(len ? len : 1);
    if (!sl->req) {
        l->rc = CCM_ENOMEM;
        return 1;
    }
    memcpy(sl->req, req, len);
    sl->len = len;
    sl->seq = seq;
    strcpy(sl->id, id);
    memcpy(sl->rid, CCM_CDR_RID_PREFIX, sizeof CCM_CDR_RID_PREFIX);
    strcat(sl->rid, id);
    sl->state = S_WAIT;
    sl->ever_sent = false;
    s->used++;
    s->next_seq = seq + 1;
    return 0;
}

static slot_t *s_find(ccm_cdr_sender_t *s, const char *rid)
{
    for (int i = 0; i < s->window; i++)
        if (s->slots[i].state != S_FREE && strcmp(s->slots[i].rid, rid) == 0)
            return &s->slots[i];
    return NULL;
}

/* Takes one reply apart: an ack to record, a resend to schedule, or nothing. */
static void s_on_reply(ccm_cdr_sender_t *s, const void *body, size_t len, ccm_cdr_ack_t *acks,
                       slot_t **done, size_t *nacks, int64_t now)
{
    ccm_cdr_reply_t r;
    if (ccm_cdr_reply_parse(body, len, &r) != 0)
        return;
    slot_t *sl = s_find(s, r.request_id);
    if (!sl)
        return; /* a late duplicate of something already recorded */
    for (size_t i = 0; i < *nacks; i++)
        if (done[i] == sl)
            return;
    switch (r.code) {
    case CCM__CODE__OK:
        acks[*nacks] = (ccm_cdr_ack_t){sl->id, true};
        done[(*nacks)++] = sl;
        break;
    case CCM__CODE__INVALID_ARGUMENT:
    case CCM__CODE__NOT_FOUND:
    case CCM__CODE__CONFLICT:
    case CCM__CODE__FAILED_PRECONDITION:
        if (s->on_refused)
            s->on_refused(sl->id, r.code, r.message, s->arg);
        acks[*nacks] = (ccm_cdr_ack_t){sl->id, false};
        done[(*nacks)++] = sl;
        break;
    case CCM__CODE__PERMISSION_DENIED:
        if (!s->st.denied && s->on_refused)
            s->on_refused(sl->id, r.code, r.message, s->arg);
        s->st.denied = true;
        sl->state = S_INFLIGHT; /* kept; the caller stops */
        sl->sent_ms = now;
        break;
    default:
        /* UNAVAILABLE, INTERNAL, no status: nothing stored; resend after a timeout. */
        sl->state = S_INFLIGHT;
        sl->sent_ms = now;
        break;
    }
}

int ccm_cdr_sender_pump(ccm_cdr_sender_t *s, int wait_ms)
{
    /* 1. Fill free slots from the outbox, in arrival order. */
    if (s->used < (unsigned)s->window) {
        load_t l = {s, 0, 0};
        int rc =
            ccm_cdr_outbox_scan(s->ob, s->next_seq, (size_t)s->window - s->used, s_load_one, &l);
        if (rc != 0)
            return rc;
        if (l.rc != 0)
            return l.rc;
    }
    /* 2. Send what waits (a full send queue stops us until replies drain it). */
    int64_t now = s_now_ms();
    for (int i = 0; i < s->window; i++) {
        slot_t *sl = &s->slots[i];
        if (sl->state != S_WAIT)
            continue;
        if (ccm_client_send(s->client, CCM_CDR_SERVICE, sl->req, sl->len) != 0)
            break;
        if (sl->ever_sent)
            s->st.resent++;
        else
            s->st.sent++;
        sl->ever_sent = true;
        sl->state = S_INFLIGHT;
        sl->sent_ms = now;
    }
    /* 3. Replies: wait for one, then take all that are there; record them at once. */
    ccm_cdr_ack_t *acks = NULL;
    slot_t **done = NULL;
    size_t nacks = 0;
    if (s->used > 0) {
        acks = malloc(sizeof *acks * (size_t)s->window);
        done = malloc(sizeof *done * (size_t)s->window);
        if (!acks || !done) {
            free(acks);
            free(done);
            return CCM_ENOMEM;
        }
    }
    int wait = s->used > 0 ? wait_ms : 0;
    for (int n = 0; s->used > 0 && n < S_REPLIES_PER_STEP; n++) {
        void *body;
        size_t len;
        int rc = ccm_client_recv(s->client, NULL, &body, &len, n == 0 ? wait : 0);
        if (rc == CCM_EPROTO)
            continue;
        if (rc != 0)
            break;
        now = s_now_ms();
        s->last_reply_ms = now;
        s->backoff = 1;
        s_on_reply(s, body, len, acks, done, &nacks, now);
        free(body);
    }
    if (nacks > 0) {
        int rc = ccm_cdr_outbox_ack(s->ob, acks, nacks, s_wall_us());
        if (rc != 0) {
            free(acks);
            free(done);
            return rc; /* nothing recorded; the slots stay and are resent */
        }
        for (size_t i = 0; i < nacks; i++) {
            if (acks[i].delivered)
                s->st.acked++;
            else
                s->st.refused++;
            s_free_slot(s, done[i]);
        }
    }
    free(acks);
    free(done);
    /* 4. Timeouts. */
    now = s_now_ms();
    bool inflight = false;
    for (int i = 0; i < s->window; i++)
        inflight |= s->slots[i].state == S_INFLIGHT;
    if (!inflight) {
        s->last_reply_ms = now;
        return 0;
    }
    if (now - s->last_reply_ms > s->timeout_ms) {
        /* Silence: the broker or service is gone. New socket, resend everything,
         * at most once per backoff period. */
        if (now - s->last_reply_ms <= (int64_t)s->timeout_ms * s->backoff)
            return 0;
        ccm_client_reconnect(s->client);
        s->st.reconnects++;
        for (int i = 0; i < s->window; i++)
            if (s->slots[i].state == S_INFLIGHT)
                s->slots[i].state = S_WAIT;
        s->last_reply_ms = now;
        if (s->backoff < S_BACKOFF_MAX)
            s->backoff *= 2;
    } else {
        /* Others answer, these did not (a worker died with them): resend them. */
        for (int i = 0; i < s->window; i++) {
            slot_t *sl = &s->slots[i];
            if (sl->state == S_INFLIGHT && now - sl->sent_ms > s->timeout_ms)
                sl->state = S_WAIT;
        }
    }
    return 0;
}
