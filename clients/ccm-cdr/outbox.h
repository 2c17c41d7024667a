/* outbox — ccm-cdr's local LMDB state: events not yet acknowledged by timetrack,
 * the unique ids already seen (pending or delivered, kept for a retention window)
 * and the read position of every input file.
 *
 * Invariant: a chunk's new events and the file position after the chunk are
 * committed in one transaction, so after a crash the next run resumes exactly
 * where the last committed chunk ended — nothing is read twice, nothing lost.
 * An event leaves the outbox only in the transaction that records its reply. */
#ifndef CCM_CDR_OUTBOX_H
#define CCM_CDR_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdr.h"

typedef struct ccm_cdr_outbox ccm_cdr_outbox_t;

/* Where reading of one file stopped. */
typedef struct {
    uint64_t dev;    /* st_dev of the file read */
    uint64_t ino;    /* st_ino: a rotated file has another */
    uint64_t offset; /* bytes consumed: the end of the last complete line */
    uint64_t line;   /* lines consumed */
    uint32_t fp_len; /* bytes of the file start hashed into fp (<= offset) */
    uint64_t fp;     /* hash of those bytes: tells a reused inode from the same file */
} ccm_cdr_pos_t;

/* One new event: its unique id and the packed request (both borrowed). */
typedef struct {
    const char *id;
    const void *req;
    size_t len;
    bool added; /* out: set by ccm_cdr_outbox_append when the id was new */
} ccm_cdr_event_t;

/* Opens (creating) the outbox in directory dir and forgets delivered ids older
 * than retention_us before now_us. 0, CCM_EIO, CCM_ESCHEMA, CCM_ENOMEM. */
int ccm_cdr_outbox_open(const char *dir, int64_t retention_us, int64_t now_us,
                        ccm_cdr_outbox_t **out);
/* Closes; sets *p to NULL; safe on NULL and twice. */
void ccm_cdr_outbox_destroy(ccm_cdr_outbox_t **p);

/* The stored position of file `key` (its real path). 0 or CCM_ENOTFOUND, CCM_EIO. */
int ccm_cdr_outbox_position(ccm_cdr_outbox_t *ob, const char *key, ccm_cdr_pos_t *pos);

/* Adds the events whose ids are not known yet (pending or delivered) and stores
 * pos for key, in one transaction. key NULL: no position. *added (may be NULL)
 * gets the number added, ev[i].added tells which; the others were duplicates.
 * 0 or CCM_EIO. */
int ccm_cdr_outbox_append(ccm_cdr_outbox_t *ob, ccm_cdr_event_t *ev, size_t n, const char *key,
                          const ccm_cdr_pos_t *pos, size_t *added);

/* Calls fn for up to max pending events with seq >= from, in seq (arrival)
 * order; id and req are borrowed for the call only. fn returns 0 to go on.
 * Returns 0 or CCM_EIO. */
typedef int (*ccm_cdr_outbox_fn)(uint64_t seq, const char *id, const void *req, size_t len,
                                 void *arg);
int ccm_cdr_outbox_scan(ccm_cdr_outbox_t *ob, uint64_t from, size_t max, ccm_cdr_outbox_fn fn,
                        void *arg);

/* A reply: delivered (OK: the id is remembered) or refused (forgotten, so a
 * corrected re-import can send it again). */
typedef struct {
    const char *id;
    bool delivered;
} ccm_cdr_ack_t;

/* Removes the acknowledged events, in one transaction. Unknown ids are ignored.
 * 0 or CCM_EIO. */
int ccm_cdr_outbox_ack(ccm_cdr_outbox_t *ob, const ccm_cdr_ack_t *acks, size_t n, int64_t now_us);

/* Number of events pending (not acknowledged) into *n. 0 or CCM_EIO. */
int ccm_cdr_outbox_pending(ccm_cdr_outbox_t *ob, uint64_t *n);
/* True when id is known (pending or delivered within the retention window). */
bool ccm_cdr_outbox_known(ccm_cdr_outbox_t *ob, const char *id);

#endif
