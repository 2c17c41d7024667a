/* fuzz_feed — for fuzz targets of services that follow other streams: applies
 * one event of `producer` to the worker as if it had been fetched. */
#ifndef CCM_FUZZ_FEED_H
#define CCM_FUZZ_FEED_H

#include <stdint.h>
#include <stdlib.h>

#include "ccm/ccm.pb-c.h"
#include "ccm/worker.h"

static inline void fuzz_feed(ccm_worker_t *w, const char *producer, uint64_t seq, const char *type,
                             const ProtobufCMessage *m)
{
    uint8_t buf[4096];
    if (protobuf_c_message_get_packed_size(m) > sizeof buf)
        abort();
    Ccm__Envelope ev = CCM__ENVELOPE__INIT, *evp = &ev;
    ev.producer = (char *)producer;
    ev.seq = seq;
    ev.type = (char *)type;
    ev.key = "C01/1042";
    ev.payload.data = buf;
    ev.payload.len = protobuf_c_message_pack(m, buf);
    Ccm__FetchReply fr = CCM__FETCH_REPLY__INIT;
    fr.events = &evp;
    fr.n_events = 1;
    fr.next_seq = seq + 1;
    fr.last_seq = seq;
    if (ccm_worker_feed(w, producer, &fr) != 0)
        abort();
}

#endif
