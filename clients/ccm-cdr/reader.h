/* reader — complete lines of one input file, from a stored position, optionally
 * following it as it grows and across rotation.
 *
 * Only complete lines are returned (a last line without newline too, once the file
 * is finished: without --follow at its end, with --follow when it was rotated away).
 * The position after the last returned line is what the outbox stores. Following:
 * a new inode at the path (rotation) is opened after the rest of the old file has
 * been read; a file shorter than what was read (truncation) is read again from 0. */
#ifndef CCM_CDR_READER_H
#define CCM_CDR_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbox.h"

/* Longest line returned whole; a longer one is returned cut (the parser refuses it)
 * and the rest of it skipped. */
#define CCM_CDR_READER_LINE_MAX (256 * 1024)
/* Bytes of the file start in the fingerprint of a position. */
#define CCM_CDR_READER_FP_MAX 256

typedef struct ccm_cdr_reader ccm_cdr_reader_t;

/* Opens path. resume (may be NULL): a stored position; it is used when it names
 * this very file (same device, inode, fingerprint, and the file is not shorter),
 * otherwise reading starts at 0. 0, CCM_ENOTFOUND, CCM_EIO, CCM_ENOMEM. */
int ccm_cdr_reader_open(const char *path, bool follow, const ccm_cdr_pos_t *resume,
                        ccm_cdr_reader_t **out);
void ccm_cdr_reader_destroy(ccm_cdr_reader_t **p);

/* The next complete line (without "\n" or "\r\n"), borrowed until the next call,
 * and its 1-based number. 0; CCM_EAGAIN when following and no complete line is
 * there yet; CCM_ENOTFOUND at the end of a file not followed; CCM_EIO. */
int ccm_cdr_reader_next(ccm_cdr_reader_t *r, const char **line, size_t *len, uint64_t *lineno);

/* Position after the last line returned. */
void ccm_cdr_reader_pos(ccm_cdr_reader_t *r, ccm_cdr_pos_t *pos);
/* True when the stored position was used (reading resumed). */
bool ccm_cdr_reader_resumed(const ccm_cdr_reader_t *r);
/* Times the file was reopened (rotation) or read again (truncation). */
unsigned ccm_cdr_reader_reopens(const ccm_cdr_reader_t *r);

#endif
