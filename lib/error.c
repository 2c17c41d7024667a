/* error — names of the ccm error codes. */
#include "ccm/error.h"

const char *ccm_strerror(int rc)
{
    switch (rc) {
    case CCM_OK: return "ok";
    case CCM_EINVAL: return "invalid argument";
    case CCM_ENOMEM: return "out of memory";
    case CCM_EIO: return "i/o error";
    case CCM_ENOTFOUND: return "not found";
    case CCM_EPROTO: return "protocol error";
    case CCM_ETIMEOUT: return "timed out";
    case CCM_EAGAIN: return "try again";
    case CCM_EMAPFULL: return "store map full";
    case CCM_ESCHEMA: return "schema version mismatch";
    case CCM_EEXIST: return "already exists";
    case CCM_ETOOBIG: return "too big";
    case CCM_ECONFLICT: return "conflict";
    default: return "unknown error";
    }
}
