/* fuzz_enrollment — untrusted request bytes through the worker host and the
 * enrollment handlers, on a real LMDB store: decoding, validation, idempotency
 * and storage must never crash, and every input must get a decodable reply. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/log.h"
#include "ccm/worker.h"
#include "enrollment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ccm_worker_t *s_worker(void)
{
    static ccm_worker_t *w;
    static ccm_enrollment_t *e;
    if (w)
        return w;
    ccm_log_init("fuzz", CCM_LOG_ERROR);
    static char dir[] = "/tmp/ccm-fuzz-enr-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    e = ccm_enrollment_new();
    ccm_enrollment_add_clinic(e, "C01", "America/New_York");
    ccm_worker_opts_t o = {.service = "enrollment",
                           .broker = "tcp://127.0.0.1:1",
                           .data_dir = dir,
                           .dbs = ccm_enrollment_dbs,
                           .schema_version = CCM_ENROLLMENT_SCHEMA,
                           .handle = ccm_enrollment_handle,
                           .ctx = e};
    if (ccm_worker_new(&o, &w) != 0 || ccm_enrollment_bind(e, w) != 0)
        abort();
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccm_worker_t *w = s_worker();
    void *rep = NULL;
    size_t rlen = 0;
    if (ccm_worker_call(w, "dev", data, size, &rep, &rlen) != 0)
        abort(); /* the store must always commit here */
    Ccm__CommonReply *r = ccm__common_reply__unpack(NULL, rlen, rep);
    if (!r || !r->status)
        abort(); /* every input gets a status */
    ccm__common_reply__free_unpacked(r, NULL);
    free(rep);
    return 0;
}
