/* reader — buffered line reading with resume, rotation and truncation (reader.h). */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ccm/error.h"

#define S_READ_CHUNK 65536

struct ccm_cdr_reader {
    char *path;        /* owned */
    bool follow;       /* wait for more data and follow rotation */
    int fd;            /* the file being read */
    uint64_t dev, ino; /* its identity */
    char *buf;         /* owned: bytes read, not yet returned */
    size_t cap;        /* bytes allocated */
    size_t start, end; /* unreturned data is buf[start, end) */
    uint64_t consumed; /* file offset after the last returned line */
    uint64_t read_off; /* file offset of buf[end] */
    uint64_t line;     /* lines returned */
    bool skipping;     /* discarding the rest of an over-long line */
    bool rotated;      /* the path names another file: finish this one, then switch */
    bool eof;          /* not following: the end was reached */
    bool resumed;      /* the stored position was used */
    unsigned reopens;  /* rotations and truncations followed */
    uint32_t fp_len;   /* fingerprint cache: bytes hashed */
    uint64_t fp;       /* and their hash */
};

static int s_fingerprint(int fd, uint32_t len, uint64_t *out)
{
    char b[CCM_CDR_READER_FP_MAX];
    if (len > sizeof b)
        len = sizeof b;
    ssize_t n = pread(fd, b, len, 0);
    if (n != (ssize_t)len)
        return CCM_EIO;
    *out = ccm_cdr_hash(CCM_CDR_HASH_INIT, b, len);
    return 0;
}

static int s_open_fd(ccm_cdr_reader_t *r)
{
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CCM_ENOTFOUND : CCM_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return CCM_EIO;
    }
    r->fd = fd;
    r->dev = (uint64_t)st.st_dev;
    r->ino = (uint64_t)st.st_ino;
    r->start = r->end = 0;
    r->consumed = r->read_off = r->line = 0;
    r->skipping = r->rotated = r->eof = false;
    r->fp_len = 0;
    r->fp = CCM_CDR_HASH_INIT;
    return 0;
}

int ccm_cdr_reader_open(const char *path, bool follow, const ccm_cdr_pos_t *resume,
                        ccm_cdr_reader_t **out)
{
    *out = NULL;
    ccm_cdr_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return CCM_ENOMEM;
    r->fd = -1;
    r->follow = follow;
    r->path = strdup(path);
    r->cap = S_READ_CHUNK * 2;
    r->buf = malloc(r->cap);
    if (!r->path || !r->buf) {
        ccm_cdr_reader_destroy(&r);
        return CCM_ENOMEM;
    }
    int rc = s_open_fd(r);
    if (rc != 0) {
        ccm_cdr_reader_destroy(&r);
        return rc;
    }
    struct stat st;
    uint64_t fp;
    if (resume && resume->dev == r->dev && resume->ino == r->ino && fstat(r->fd, &st) == 0 &&
        (uint64_t)st.st_size >= resume->offset && resume->fp_len <= resume->offset &&
        s_fingerprint(r->fd, resume->fp_len, &fp) == 0 && fp == resume->fp &&
        lseek(r->fd, (off_t)resume->offset, SEEK_SET) == (off_t)resume->offset) {
        r->consumed = r->read_off = resume->offset;
        r->line = resume->line;
        r->fp_len = resume->fp_len;
        r->fp = resume->fp;
        r->resumed = true;
    }
    *out = r;
    return 0;
}

void ccm_cdr_reader_destroy(ccm_cdr_reader_t **p)
{
    if (!p || !*p)
        return;
    ccm_cdr_reader_t *r = *p;
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r->buf);
    free(r);
    *p = NULL;
}

/* Reads more bytes into the buffer. Returns bytes read (0 at the end) or -1. */
static ssize_t s_fill(ccm_cdr_reader_t *r)
{
    if (r->start > 0 && r->start == r->end)
        r->start = r->end = 0;
    if (r->cap - r->end < S_READ_CHUNK && r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end < S_READ_CHUNK) {
        size_t cap = r->cap * 2;
        char *n = realloc(r->buf, cap);
        if (!n)
            return -1;
        r->buf = n;
        r->cap = cap;
    }
    ssize_t n;
    do
        n = read(r->fd, r->buf + r->end, S_READ_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        r->end += (size_t)n;
        r->read_off += (uint64_t)n;
    }
    return n;
}

/* Hands out buf[start, start+len) as a line and consumes `used` bytes. */
static int s_emit(ccm_cdr_reader_t *r, size_t len, size_t used, const char **line, size_t *llen,
                  uint64_t *lineno)
{
    *line = r->buf + r->start;
    if (len > 0 && (*line)[len - 1] == '\r')
        len--;
    *llen = len;
    r->start += used;
    r->consumed += used;
    *lineno = ++r->line;
    return 0;
}

/* At the end of the data: has the file been rotated or truncated? 1 when it was
 * (read on), 0 when not (wait), or CCM_EIO. */
static int s_check(ccm_cdr_reader_t *r)
{
    struct stat st;
    if (stat(r->path, &st) != 0)
        return errno == ENOENT ? 0 : CCM_EIO; /* rotated, the new file not there yet */
    if ((uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino) {
        r->rotated = true; /* read the old file to its end once more, then switch */
        return 1;
    }
    if ((uint64_t)st.st_size < r->read_off) {
        /* Truncated in place (copytruncate): what is there now is new. */
        if (lseek(r->fd, 0, SEEK_SET) != 0)
            return CCM_EIO;
        r->start = r->end = 0;
        r->consumed = r->read_off = r->line = 0;
        r->skipping = false;
        r->fp_len = 0;
        r->reopens++;
        return 1;
    }
    return 0;
}

int ccm_cdr_reader_next(ccm_cdr_reader_t *r, const char **line, size_t *len, uint64_t *lineno)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl) {
            size_t l = (size_t)(nl - (r->buf + r->start));
            if (r->skipping) {
                r->skipping = false;
                r->start += l + 1;
                r->consumed += l + 1;
                continue;
            }
            return s_emit(r, l, l + 1, line, len, lineno);
        }
        size_t have = r->end - r->start;
        if (have >= CCM_CDR_READER_LINE_MAX) {
            /* An over-long line: hand out its start (the parser refuses it), drop the rest. */
            if (r->skipping) {
                r->start += have;
                r->consumed += have;
                continue;
            }
            r->skipping = true;
            return s_emit(r, have, have, line, len, lineno);
        }
        if (r->eof)
            return CCM_ENOTFOUND;
        ssize_t n = s_fill(r);
        if (n < 0)
            return CCM_EIO;
        if (n > 0)
            continue;
        /* End of the data for now. */
        if (!r->follow || r->rotated) {
            if (have > 0 && !r->skipping)
                return s_emit(r, have, have, line, len, lineno); /* last line, no newline */
            r->start += have;
            r->consumed += have;
            if (!r->follow) {
                r->eof = true;
                return CCM_ENOTFOUND;
            }
            /* Rotated: the old file is done; continue with the new one from 0. */
            int fd = r->fd;
            int rc = s_open_fd(r);
            if (rc == CCM_ENOTFOUND) {
                r->rotated = false; /* gone again; look later */
                return CCM_EAGAIN;
            }
            if (rc != 0)
                return rc;
            close(fd);
            r->reopens++;
            continue;
        }
        int rc = s_check(r);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return CCM_EAGAIN;
    }
}

void ccm_cdr_reader_pos(ccm_cdr_reader_t *r, ccm_cdr_pos_t *pos)
{
    uint32_t want =
        r->consumed < CCM_CDR_READER_FP_MAX ? (uint32_t)r->consumed : CCM_CDR_READER_FP_MAX;
    if (want != r->fp_len && s_fingerprint(r->fd, want, &r->fp) == 0)
        r->fp_len = want;
    pos->dev = r->dev;
    pos->ino = r->ino;
    pos->offset = r->consumed;
    pos->line = r->line;
    pos->fp_len = r->fp_len;
    pos->fp = r->fp;
}

bool ccm_cdr_reader_resumed(const ccm_cdr_reader_t *r)
{
    return r->resumed;
}

unsigned ccm_cdr_reader_reopens(const ccm_cdr_reader_t *r)
{
    return r->reopens;
}
