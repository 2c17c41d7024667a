#!/usr/bin/python3
"""Writes the seed corpus of fuzz_timetrack: hand-encoded protobuf requests."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_enrollment_corpus import ld, uint  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "timetrack")
START = 1772110800000000  # 2026-02-26T13:00:00Z


def entry(eid, start=START, seconds=600, mrn="1042", performer="rn1", service=1):
    return (ld(1, "C01") + ld(2, mrn) + ld(3, performer) + ld(4, "call") + uint(5, service)
            + uint(6, start) + uint(7, seconds) + uint(8, 1) + ld(9, eid))


SEEDS = {
    "add": ld(1, "r1") + ld(16, entry("e1")),
    "add_overlap": ld(1, "r2") + ld(16, entry("e2", START + 60000000)),
    "add_unknown_patient": ld(1, "r3") + ld(16, entry("e3", mrn="404")),
    "add_zero_seconds": ld(1, "r4") + ld(16, entry("e4", seconds=0)),
    "add_apcm_element": ld(1, "r10") + ld(16, entry("e10", seconds=0, service=6)),
    "add_simultaneous": ld(1, "r11") + ld(16, entry("e11", mrn="1042")),
    "void_overlapped": ld(1, "r12") + ld(17, ld(1, "C01") + ld(2, "MANUAL:e11")
                                         + ld(3, "duplicate call")),
    "add_future": ld(1, "r5") + ld(16, entry("e5", start=4102444800000000)),
    "add_long": ld(1, "r6") + ld(16, entry("e6", seconds=90000)),
    "void": ld(1, "r7") + ld(17, ld(1, "C01") + ld(2, "MANUAL:e1") + ld(3, "wrong patient")),
    "amend": ld(1, "r8") + ld(18, ld(1, "C01") + ld(2, "MANUAL:e2") + ld(3, "fix")
                              + ld(4, entry("e2b", seconds=300))),
    "list": ld(19, ld(1, "C01") + ld(2, "1042") + ld(3, "2026-02")),
    "status": ld(20, ld(1, "C01") + ld(2, "1042") + ld(3, "2026-02")),
    "status_bad_month": ld(20, ld(1, "C01") + ld(2, "1042") + ld(3, "2026-13")),
    "forecast": ld(21, ld(1, "C01") + ld(2, "2026-02")),
    "no_request_id": ld(16, entry("e9")),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(SEEDS), OUT))
