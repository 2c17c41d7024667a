/* output — where ccm-watch delivers a rendered record: stdout, a directory of
 * files, or a command run per record.
 *
 * A directory write is atomic and idempotent: the record goes to a temporary
 * file that is fsynced and renamed to a name made of the stream seq and the
 * claim id (then the directory is fsynced), so delivering the same event again
 * after a crash rewrites the same file with the same bytes. */
#ifndef CCM_WATCH_OUTPUT_H
#define CCM_WATCH_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ccm_watch_output ccm_watch_output_t;

/* One record to deliver (borrowed). */
typedef struct {
    uint64_t seq;     /* stream seq */
    const char *type; /* event type */
    const char *id;   /* claim id, or the event key when there is no claim */
    const char *ext;  /* file extension without the dot: json, csv, x12 */
    const char *data; /* the rendered record */
    size_t len;
} ccm_watch_record_t;

/* spec: "stdout", "dir:PATH" (created if missing, mode 0750) or "exec:COMMAND"
 * (run with /bin/sh -c). 0, CCM_EINVAL (bad spec; *why says why), CCM_EIO (the
 * directory cannot be created), CCM_ENOMEM. */
int ccm_watch_output_open(const char *spec, ccm_watch_output_t **out, const char **why);
void ccm_watch_output_destroy(ccm_watch_output_t **p);

/* True when the output is stdout (the CSV header is then written once per run). */
int ccm_watch_output_is_stdout(const ccm_watch_output_t *o);

/* Delivers one record. 0 when it is out (written and flushed, file fsynced and
 * renamed, or the command exited 0); CCM_EAGAIN when the command exited non-zero
 * or was killed (deliver the same record again later); CCM_EIO on a write, fsync,
 * rename or fork error (logged). */
int ccm_watch_output_deliver(ccm_watch_output_t *o, const ccm_watch_record_t *r);

/* The file name a record gets in a directory: "<seq, 20 digits>-<safe id>.<ext>". */
void ccm_watch_output_file_name(const ccm_watch_record_t *r, char *out, size_t cap);

#endif
