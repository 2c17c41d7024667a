/* overlap — which active time entries of one performer overlap, in a few
 * O(log n) index operations per entry whatever the performer's history (a
 * shared main line mapped to one staff id may carry thousands of calls at once).
 *
 * The staircase of a performer's active entries of positive length is the
 * entries that no entry before them (in key order: start, then id) reaches as
 * far as. Their ends rise with their starts, so the last of them starting
 * before e has the furthest end of all entries starting before e: a seek tells
 * whether [s, e) overlaps any entry, and names one it overlaps. Two databases,
 * keyed clinic · performer · start µs · id -> end µs (u64 big-endian), hold it:
 *   overlap_alone  the entries not flagged as overlapping yet. Each is a step
 *                  (an entry reaching as far would overlap it), and they are
 *                  pairwise disjoint (a new entry flags every one it overlaps
 *                  and joins only when it overlaps nothing), so those a new entry
 *                  overlaps are one run of neighbours: each is flagged once and
 *                  moves to
 *   overlap_steps  the flagged steps.
 * So an entry that overlaps nothing costs one row; an entry of a shared line,
 * overlapped and reached past by an earlier one, none. The caller's index of
 * every entry with the same keys (month.h's by_performer) rebuilds the
 * staircase when a flagged step goes.
 * An entry therefore records THAT it overlaps, with an example, not every pair;
 * existing entries are rewritten at most once, when they first become
 * overlapped. Nothing here decides what counts: lib/rules merges a patient's
 * overlapping time when the month is evaluated (P-9). */
#ifndef CCM_TIMETRACK_OVERLAP_H
#define CCM_TIMETRACK_OVERLAP_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccm/store.h"

typedef struct {
    MDB_dbi steps, alone;
    MDB_dbi all; /* the caller's: every entry ever added, active or not, keyed and valued as
                    above (zero-length ones may be there too) */
} ccm_overlap_db_t;

/* Looks overlap_steps and overlap_alone up in an open store (the caller lists
 * them among its databases); all is the caller's index of every entry. 0 or
 * CCM_ENOTFOUND. */
int ccm_overlap_bind(ccm_overlap_db_t *db, ccm_store_t *store, MDB_dbi all);

/* One entry as the index sees it; strings borrowed for the call. */
typedef struct {
    const char *clinic;
    const char *performer;
    const char *id;   /* the entry id, unique in the clinic */
    int64_t start_us; /* [start_us, end_us) */
    int64_t end_us;   /* > start_us: zero-length entries overlap nothing, never indexed */
} ccm_overlap_span_t;

/* Called for each entry that becomes overlapped for the first time, with its id
 * (borrowed for the call). Returns 0, or a CCM_E code that stops the add and is
 * returned by it. */
typedef int (*ccm_overlap_flag_fn)(const char *id, void *arg);

/* Indexes a new active entry sp (not indexed yet). example (cap bytes) receives
 * the id of one active entry of the performer that sp overlaps, or "" when it
 * overlaps none (an id that does not fit is cut). flag is called for every entry
 * not flagged before that sp overlaps (the caller records it on that entry), and
 * may be NULL. 0, CCM_EMAPFULL, CCM_EIO, CCM_EINVAL (key too long), or flag's
 * code; on an error the transaction must be rolled back. */
int ccm_overlap_add(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                    char *example, size_t cap, ccm_overlap_flag_fn flag, void *arg);

/* Whether entry id (a row of db->all) is still active; a CCM_E code in *rc
 * (left 0 otherwise) stops the caller. */
typedef bool (*ccm_overlap_active_fn)(const char *id, void *arg, int *rc);

/* Forgets an entry that is no longer active (voided, amended). When it was a
 * flagged step, the rows of db->all it reached past are rescanned until one
 * reaches as far, asking active() about each that would become a step (O(1) for
 * simultaneous calls; at worst the entries it covered). 0 (also when sp was not
 * indexed), CCM_EMAPFULL, CCM_EIO, or active()'s code. */
int ccm_overlap_remove(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                       ccm_overlap_active_fn active, void *arg);

/* Indexes an existing active entry as it is, without looking for overlaps:
 * flagged = it already records that it overlaps. For building the index of a
 * store written before it existed. 0, CCM_EMAPFULL, CCM_EIO, CCM_EINVAL. */
int ccm_overlap_restore(MDB_txn *txn, const ccm_overlap_db_t *db, const ccm_overlap_span_t *sp,
                        bool flagged);

#endif
