/* sender — the window of requests in flight to timetrack (see sender.h).
 * Invariants: every pending outbox event with seq < next_seq is in a slot, so
 * loading from next_seq never sends an event twice at once; requests are sent
 * only while fewer than cwnd are in flight, and events are loaded only while
 * fewer than cwnd slots are used, so resends go before new events. */
#include "sender.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccm/error.h"
#include "ccm/timetrack.pb-c.h"

/* The reconnect wait doubles while nothing answers, up to this many timeouts;
 * a request's own timeout doubles with each try, up to as many. */
#define S_BACKOFF_MAX 8
/* Replies taken in one step at most (each step commits its acks once). */
#define S_REPLIES_PER_STEP 1024
/* However slow the replies, a request is given up on (and resent) after this. */
#define S_TIMEOUT_MAX_MS 60000
/* A request's timeout is stretched by up to 1/S_JITTER_DIV at random, so that a
 * window sent at once neither times out nor is resent at once. */
#define S_JITTER_DIV 4
/* Silence for this many timeouts (with nothing answering at all) replaces the
 * socket: one timeout may be a slow commit, not a dead broker. */
#define S_SILENCE_TIMEOUTS 2

enum { S_FREE = 0, S_WAIT, S_INFLIGHT };

typedef struct {
    int state;                     /* S_FREE, S_WAIT (to send), S_INFLIGHT */
    uint64_t seq;                  /* outbox seq */
    char id[CCM_CDR_ID_MAX + 1];   /* unique id */
    char rid[CCM_CDR_RID_MAX + 1]; /* request_id: "cdr:" + id */
    void *req;                     /* owned copy of the packed request */
    size_t len;                    /* its bytes */
    int64_t sent_ms;               /* when last sent */
    int64_t due_ms;                /* when its reply is late */
    int tries;                     /* sends so far */
} slot_t;

struct ccm_cdr_sender {
    ccm_client_t *client;  /* borrowed */
    ccm_cdr_outbox_t *ob;  /* borrowed */
    slot_t *slots;         /* owned, window entries */
    int window;            /* slots: the most in flight */
    int min_timeout_ms;    /* the caller's reply timeout: the least */
    int timeout_ms;        /* reply timeout now (srtt + 4 rttvar, at least the caller's) */
    double srtt, rttvar;   /* smoothed round trip and its deviation, ms; srtt < 0: none yet */
    int cwnd;              /* requests allowed in flight now, 1..window */
    int ssthresh;          /* below it cwnd grows per reply (slow start), above per window */
    int grown;             /* quick replies since cwnd last grew above ssthresh */
    int64_t cut_ms;        /* when cwnd was last halved */
    bool answered;         /* a reply came since then: the window was in use */
    uint64_t rng;          /* xorshift state of the jitter */
    uint64_t next_seq;     /* first outbox seq not loaded into a slot */
    unsigned used;         /* slots not free */
    int64_t last_reply_ms; /* last reply or last (re)connect */
    int backoff;           /* reconnect wait in timeouts, 1..S_BACKOFF_MAX */
    ccm_cdr_refused_fn on_refused;
    void *arg;
    ccm_cdr_clock_fn clock; /* NULL: the system's monotonic clock */
    void *clock_arg;
    ccm_cdr_sender_stats_t st;
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_now(const ccm_cdr_sender_t *s)
{
    return s->clock ? s->clock(s->clock_arg) : s_now_ms();
}

static int64_t s_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ccm_cdr_sender_set_clock(ccm_cdr_sender_t *s, ccm_cdr_clock_fn fn, void *arg)
{
    s->clock = fn;
    s->clock_arg = arg;
    s->last_reply_ms = s_now(s);
    s->cut_ms = s->last_reply_ms - S_TIMEOUT_MAX_MS;
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
    s->min_timeout_ms = s->timeout_ms = timeout_ms > 0 ? timeout_ms : 2500;
    s->srtt = -1;
    s->cwnd = s->window < CCM_CDR_WINDOW_START ? s->window : CCM_CDR_WINDOW_START;
    s->ssthresh = s->window;
    s->next_seq = 1;
    s->backoff = 1;
    s->last_reply_ms = s_now_ms();
    s->cut_ms = s->last_reply_ms - S_TIMEOUT_MAX_MS;
    s->answered = true;
    s->rng = (uint64_t)s_wall_us() ^ (uint64_t)(uintptr_t)s;
    s->rng |= 1;
    s->on_refused = on_refused;
    s->arg = arg;
    s->st.window = s->cwnd;
    s->st.window_min = s->window;
    s->st.timeout_ms = s->timeout_ms;
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

double ccm_cdr_sender_resend_ratio(const ccm_cdr_sender_t *s)
{
    return s->st.sent ? (double)s->st.resent / (double)s->st.sent : 0.0;
}

/* ---- pace: the window and the timeout ---- */

/* A uniform value in [0, n]. */
static int64_t s_random(ccm_cdr_sender_t *s, int64_t n)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return n > 0 ? (int64_t)(s->rng % (uint64_t)(n + 1)) : 0;
}

/* When a request sent now for the tries-th time is late: the timeout doubled
 * per earlier try (at most S_BACKOFF_MAX times), plus jitter. */
static int64_t s_due(ccm_cdr_sender_t *s, int64_t now, int tries)
{
    int64_t t = s->timeout_ms;
    for (int i = 1; i < tries && t < (int64_t)s->timeout_ms * S_BACKOFF_MAX; i++)
        t *= 2;
    if (t > S_TIMEOUT_MAX_MS)
        t = S_TIMEOUT_MAX_MS;
    return now + t + s_random(s, t / S_JITTER_DIV);
}

/* A round trip measured on a request sent once (Karn: a resent one's reply may
 * answer either copy). Jacobson's estimator, as TCP's retransmission timer. */
static void s_sample(ccm_cdr_sender_t *s, int64_t rtt_ms)
{
    double r = (double)rtt_ms;
    if (s->srtt < 0) {
        s->srtt = r;
        s->rttvar = r / 2;
    } else {
        double d = s->srtt > r ? s->srtt - r : r - s->srtt;
        s->rttvar = 0.75 * s->rttvar + 0.25 * d;
        s->srtt = 0.875 * s->srtt + 0.125 * r;
    }
    double t = s->srtt + 4 * s->rttvar;
    s->timeout_ms = t < s->min_timeout_ms  ? s->min_timeout_ms
                    : t > S_TIMEOUT_MAX_MS ? S_TIMEOUT_MAX_MS
                                           : (int)t;
    s->st.timeout_ms = s->timeout_ms;
}

/* A reply came in time: one more request may be in flight (slow start), or one
 * more per window of such replies (congestion avoidance). */
static void s_grow(ccm_cdr_sender_t *s)
{
    if (s->cwnd >= s->window)
        return;
    if (s->cwnd < s->ssthresh || ++s->grown >= s->cwnd) {
        s->cwnd++;
        s->grown = 0;
    }
    s->st.window = s->cwnd;
}

/* Replies are late (or the service says it is busy): halve the window, once per
 * timeout however many requests were late together, and not again before some
 * reply shows what the smaller window does (an outage is one event, not many). */
static void s_cut(ccm_cdr_sender_t *s, int64_t now)
{
    if (now - s->cut_ms < s->timeout_ms || !s->answered)
        return;
    s->cut_ms = now;
    s->answered = false;
    s->ssthresh = s->cwnd > 1 ? s->cwnd / 2 : 1;
    s->cwnd = s->ssthresh;
    s->grown = 0;
    s->st.window = s->cwnd;
    if (s->cwnd < s->st.window_min)
        s->st.window_min = s->cwnd;
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
    sl->tries = 0;
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
    bool in_time = sl->state == S_INFLIGHT && now <= sl->due_ms;
    if (sl->tries == 1 && sl->state == S_INFLIGHT)
        s_sample(s, now - sl->sent_ms);
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
        sl->due_ms = s_due(s, now, sl->tries);
        return;
    default:
        /* UNAVAILABLE, INTERNAL, no status: nothing stored; resend after a
         * timeout, and ask less of a service that says it is busy. */
        sl->state = S_INFLIGHT;
        sl->due_ms = s_due(s, now, sl->tries);
        s_cut(s, now);
        return;
    }
    if (in_time)
        s_grow(s);
}

int ccm_cdr_sender_pump(ccm_cdr_sender_t *s, int wait_ms)
{
    /* 1. Fill free slots from the outbox, in arrival order, up to the window now. */
    if (s->used < (unsigned)s->cwnd) {
        load_t l = {s, 0, 0};
        int rc = ccm_cdr_outbox_scan(s->ob, s->next_seq, (size_t)s->cwnd - s->used, s_load_one, &l);
        if (rc != 0)
            return rc;
        if (l.rc != 0)
            return l.rc;
    }
    /* 2. Send what waits while fewer than cwnd are in flight (a full send queue
     * stops us until replies drain it). */
    int64_t now = s_now(s);
    int inflight = 0, unanswered = 0;
    for (int i = 0; i < s->window; i++) {
        inflight += s->slots[i].state == S_INFLIGHT;
        unanswered += s->slots[i].state != S_FREE && s->slots[i].tries > 0;
    }
    if (unanswered == 0)
        s->last_reply_ms = now; /* idle until now: silence counts from the first send */
    for (int i = 0; i < s->window && inflight < s->cwnd; i++) {
        slot_t *sl = &s->slots[i];
        if (sl->state != S_WAIT)
            continue;
        if (ccm_client_send(s->client, CCM_CDR_SERVICE, sl->req, sl->len) != 0)
            break;
        if (sl->tries++ > 0)
            s->st.resent++;
        else
            s->st.sent++;
        sl->state = S_INFLIGHT;
        sl->sent_ms = now;
        sl->due_ms = s_due(s, now, sl->tries);
        inflight++;
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
    /* ... but no longer than until the first reply is late. */
    int wait = s->used > 0 ? wait_ms : 0;
    for (int i = 0; i < s->window && wait > 0; i++)
        if (s->slots[i].state == S_INFLIGHT && s->slots[i].due_ms - now < wait)
            wait = s->slots[i].due_ms > now ? (int)(s->slots[i].due_ms - now) : 0;
    for (int n = 0; s->used > 0 && n < S_REPLIES_PER_STEP; n++) {
        void *body;
        size_t len;
        int rc = ccm_client_recv(s->client, NULL, &body, &len, n == 0 ? wait : 0);
        if (rc == CCM_EPROTO)
            continue;
        if (rc != 0)
            break;
        now = s_now(s);
        s->last_reply_ms = now;
        s->backoff = 1;
        s->answered = true;
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
    /* 4. Timeouts: late requests wait to be resent, and the window halves. */
    now = s_now(s);
    bool inflight_left = false, late = false;
    for (int i = 0; i < s->window; i++) {
        slot_t *sl = &s->slots[i];
        if (sl->state != S_INFLIGHT)
            continue;
        if (now > sl->due_ms && !s->st.denied) {
            sl->state = S_WAIT;
            s->st.timeouts++;
            late = true;
        } else {
            inflight_left = true;
        }
    }
    if (late)
        s_cut(s, now);
    if (!inflight_left && !late) {
        s->last_reply_ms = now;
        return 0;
    }
    /* Silence: nothing at all answers, so the broker or service is gone. New
     * socket, resend everything, at most once per backoff period. */
    int64_t quiet = now - s->last_reply_ms;
    if (quiet <= (int64_t)s->timeout_ms * S_SILENCE_TIMEOUTS * s->backoff)
        return 0;
    ccm_client_reconnect(s->client);
    s->st.reconnects++;
    for (int i = 0; i < s->window; i++)
        if (s->slots[i].state == S_INFLIGHT)
            s->slots[i].state = S_WAIT;
    s->last_reply_ms = now;
    if (s->backoff < S_BACKOFF_MAX)
        s->backoff *= 2;
    s_cut(s, now);
    return 0;
}
