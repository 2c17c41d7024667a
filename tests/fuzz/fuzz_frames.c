/* fuzz_frames — arbitrary bytes as a multipart message for the 7/MDP parsers.
 * Input format: a sequence of frames, each a 1-byte length then that many bytes
 * (a truncated last frame is cut short). Both parsers run at every delimiter
 * position; a successful parse must describe frames that exist. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccm_frames_t *m = ccm_frames_new();
    if (!m)
        return 0;
    size_t i = 0;
    while (i < size) {
        size_t len = data[i++];
        if (len > size - i)
            len = size - i;
        if (ccm_frames_push(m, data + i, len) != 0)
            break;
        i += len;
    }
    size_t n = ccm_frames_size(m);
    for (size_t at = 0; at < 2 && at <= n; at++) {
        ccm_mdp_client_view_t c;
        if (ccm_mdp_parse_client(m, at, &c) == 0 &&
            (c.body >= n || c.service_len == 0 || c.service_len > CCM_SERVICE_MAX))
            abort();
        ccm_mdp_worker_view_t w;
        if (ccm_mdp_parse_worker(m, at, &w) == 0) {
            if ((w.command == CCM_MDPW_REQUEST || w.command == CCM_MDPW_REPLY) &&
                (w.body >= n || w.client_len == 0))
                abort();
            if (w.command < CCM_MDPW_READY || w.command > CCM_MDPW_DISCONNECT)
                abort();
        }
    }
    ccm_frames_destroy(&m);
    return 0;
}
