#!/usr/bin/python3
"""Writes the seed corpus of fuzz_enrollment: hand-encoded protobuf requests
(valid, invalid and malformed), so the seeds do not depend on generated code."""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "enrollment")


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def ld(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def uint(field, n):
    return varint(field << 3) + varint(n & 0xFFFFFFFFFFFFFFFF)  # int64: two's complement


PKEY = ld(1, "C01") + ld(2, "1042")
NOV1 = 1761969600000000  # 2025-11-01T00:00-04:00, an effective instant


def register(rid, clinic, mrn, mbi, fam, giv, born):
    body = ld(1, clinic) + ld(2, mrn) + ld(3, mbi) + ld(4, fam) + ld(5, giv) + ld(6, born)
    return ld(1, rid) + ld(16, body)


SEEDS = {
    "register_ok": register("r1", "C01", "1042", "1EG4TE5MK73", "Rivera", "Ana", "1948-02-29"),
    "register_bad_mbi": register("r2", "C01", "1043", "1SG4TE5MK73", "A", "B", "1950-01-01"),
    "register_bad_date": register("r3", "C01", "1044", "2EG4TE5MK73", "A", "B", "1950-02-30"),
    "register_unknown_clinic": register("r4", "ZZ", "1", "2EG4TE5MK73", "A", "B", "1950-01-01"),
    "register_no_rid": register("", "C01", "1045", "3EG4TE5MK73", "A", "B", "1950-01-01"),
    "add_condition": ld(1, "r5") + ld(17, ld(1, "C01") + ld(2, "1042") + ld(3, "E11.9")),
    "add_condition_bad": ld(1, "r6") + ld(17, ld(1, "C01") + ld(2, "1042") + ld(3, "11.9")),
    "resolve_condition": ld(1, "r7") + ld(18, ld(1, "C01") + ld(2, "1042") + ld(3, "E11.9")),
    "get_patient": ld(19, ld(1, "C01") + ld(2, "1042")),
    "list_patients": ld(20, ld(1, "C01") + uint(3, 5)),
    "fetch": ld(3, uint(1, 1) + uint(2, 10) + ld(3, "condition.*")),
    "fetch_bad_filter": ld(3, ld(3, "*x")),
    "stats": ld(4, b""),
    "empty": b"",
    "truncated": register("r8", "C01", "1", "1EG4TE5MK73", "A", "B", "1950-01-01")[:-3],
    "bad_wire_type": b"\xff\xff\xff\xff\x0f\x01",
    "long_request_id": ld(1, "x" * 300) + ld(19, ld(1, "C01") + ld(2, "1")),
    "add_practitioner": ld(1, "r9") + ld(21, ld(1, "C01") + ld(2, "1234567893") + uint(3, 2)
                                      + ld(5, "Osei") + ld(6, "Kwame")),
    "add_practitioner_bad_npi": ld(1, "r10") + ld(21, ld(1, "C01") + ld(2, "1234567890")),
    "add_staff": ld(1, "r11") + ld(22, ld(1, "C01") + ld(2, "rn1") + uint(3, 1) + ld(5, "Ray")),
    "set_billing": ld(1, "r12") + ld(24, ld(1, "C01") + ld(2, "1042") + ld(3, "1234567893")),
    "record_consent": ld(1, "r13") + ld(26, ld(1, "C01") + ld(2, "1042") + uint(3, 1)
                                        + uint(4, 1) + uint(5, 1727877600000000) + ld(6, "rn1")
                                        + ld(7, "1234567893") + uint(8, 1) + uint(9, 1)
                                        + uint(10, 1)),
    "revoke_consent": ld(1, "r14") + ld(27, ld(1, "C01") + ld(2, "1042") + uint(3, 1)),
    "add_visit": ld(1, "r15") + ld(28, ld(1, "C01") + ld(2, "1042") + ld(3, "99213")
                                   + ld(4, "2024-08-20") + ld(5, "1234567893")),
    "add_other_service": ld(1, "r16") + ld(29, ld(1, "C01") + ld(2, "1042") + ld(3, "G0181")
                                           + ld(4, "2025-03") + ld(5, "1234567893")),
    "add_inpatient": ld(1, "r17") + ld(30, ld(1, "C01") + ld(2, "1042")
                                       + uint(3, 1727877600000000)),
    "record_death": ld(1, "r18") + ld(25, ld(1, "C01") + ld(2, "1042") + ld(3, "2025-01-01")),
    "worklist": ld(31, ld(1, "C01")),
    "list_people": ld(23, ld(1, "C01")),
    # The fact history: effective instants, QMB changes, the instant of death.
    "set_billing_from": ld(1, "r19") + ld(24, PKEY + ld(3, "1245319599") + uint(4, NOV1)),
    "set_billing_negative": ld(1, "r20") + ld(24, PKEY + ld(3, "1245319599") + uint(4, -1)),
    "set_payer_qmb": ld(1, "r21") + ld(32, PKEY + ld(3, "MEDICARE_ADVANTAGE") + uint(4, NOV1)
                                       + uint(5, 1)),
    "set_payer_bad_qmb": ld(1, "r22") + ld(32, PKEY + ld(3, "MEDICAID") + uint(5, 9)),
    "add_condition_from": ld(1, "r23") + ld(17, PKEY + ld(3, "E11.9") + uint(5, 24) + uint(6, 1)
                                            + uint(8, NOV1)),
    "resolve_condition_at": ld(1, "r24") + ld(18, PKEY + ld(3, "E11.9") + uint(4, NOV1)),
    "record_death_at": ld(1, "r25") + ld(25, PKEY + ld(3, "2025-11-01")
                                         + uint(4, NOV1 + 3600000000)),
    "record_death_at_other_day": ld(1, "r26") + ld(25, PKEY + ld(3, "2025-11-02")
                                                   + uint(4, NOV1)),
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))
