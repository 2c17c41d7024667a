/* error — the one set of error codes every libccm function returns.
 * 0 is success; failures are small negative numbers. ccm_strerror() names them. */
#ifndef CCM_ERROR_H
#define CCM_ERROR_H

enum {
    CCM_OK = 0,
    CCM_EINVAL = -1,    /* bad argument or malformed input */
    CCM_ENOMEM = -2,    /* allocation failed */
    CCM_EIO = -3,       /* disk or socket error */
    CCM_ENOTFOUND = -4, /* no such key / entity */
    CCM_EPROTO = -5,    /* a peer broke the wire protocol */
    CCM_ETIMEOUT = -6,  /* no answer in time (after every retry) */
    CCM_EAGAIN = -7,    /* nothing to do now (non-blocking) */
    CCM_EMAPFULL = -8,  /* LMDB map full: the batch is replayed on a larger map */
    CCM_ESCHEMA = -9,   /* store schema version does not match */
    CCM_EEXIST = -10,   /* key already exists */
    CCM_ETOOBIG = -11,  /* message or field over its limit */
    CCM_ECONFLICT = -12 /* domain conflict (duplicate, state) */
};

/* Returns a static, human-readable name for an error code. */
const char *ccm_strerror(int rc);

#endif
