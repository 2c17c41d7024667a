#!/usr/bin/python3
"""Writes the seed corpus of fuzz_billing: hand-encoded protobuf requests."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_enrollment_corpus import ld, uint  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "billing")
SEEDS = {
    "close": ld(1, "r1") + ld(16, ld(1, "2025-10")),
    "close_clinic": ld(1, "r2") + ld(16, ld(1, "2025-10") + ld(2, "C01")),
    "close_again": ld(1, "r3") + ld(16, ld(1, "2025-10")),
    "close_bad_month": ld(1, "r4") + ld(16, ld(1, "2025-13")),
    "close_future": ld(1, "r5") + ld(16, ld(1, "2999-01")),
    "get_by_key": ld(17, ld(1, "C01/1042/2025-10/CCM")),
    "get_by_id": ld(17, ld(1, "C01/1042/2025-10/CCM#v1")),
    "list": ld(18, ld(1, "C01") + ld(2, "2025-10")),
    "ack": ld(1, "r6") + ld(19, ld(1, "C01/1042/2025-10/CCM#v1") + uint(2, 2) + ld(3, "batch")),
    "ack_bad_status": ld(1, "r7") + ld(19, ld(1, "C01/1042/2025-10/CCM#v1") + uint(2, 9)),
    "missed": ld(20, ld(1, "C01")),
    "report": ld(21, ld(1, "C01")),
    "no_request_id": ld(16, ld(1, "2025-10")),
    # a later month: the payer history makes it commercial; closing it settles the
    # months marked for re-judging first
    "close_next": ld(1, "r8") + ld(16, ld(1, "2025-11")),
    "ack_paid": ld(1, "r9") + ld(19, ld(1, "C01/1042/2025-10/CCM#v1") + uint(2, 4)),
    "ack_withdraw_needed": ld(1, "r10") + ld(19, ld(1, "C01/1042/2025-10/CCM#v1") +
                                             uint(2, 7)),
    "report_month": ld(21, ld(1, "C01") + ld(2, "2025-10")),
    "list_all": ld(18, ld(1, "C01")),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(SEEDS), OUT))
