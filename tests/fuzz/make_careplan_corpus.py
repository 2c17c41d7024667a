#!/usr/bin/python3
"""Writes the seed corpus of fuzz_careplan: hand-encoded protobuf requests
(valid, invalid and malformed), so the seeds do not depend on generated code.
The replay runs them one after another on one store (in directory order), so the
valid ones build a plan (set, establish, revise, copy) that others read and diff."""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "careplan")


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
    return varint(field << 3) + varint(n)


def target(mrn="1042", program=1):
    return ld(1, "C01") + ld(2, mrn) + uint(3, program)


def plan(full=True, goal_date="2027-06-30", icd="e119", review_date="2020-01-01"):
    p = ld(1, ld(1, icd) + ld(2, "Type 2 diabetes"))
    p += ld(4, ld(1, "Lower HbA1c") + ld(2, "< 7.5") + ld(3, goal_date))
    if full:
        p += ld(2, "Stable") + ld(5, "Hypo plan")
        p += ld(6, ld(1, "Monthly call") + ld(2, "RN"))
        p += ld(7, ld(1, "Metformin") + ld(2, "500 mg"))
        p += ld(9, "Independent") + ld(13, ld(1, "Luis") + ld(2, "son"))
        p += ld(14, ld(1, "Meals on Wheels")) + ld(15, ld(1, "Dr. Chen") + ld(2, "cardiology"))
        p += ld(16, uint(1, 90) + ld(2, review_date))
    return p


def set_plan(rid, body, **kw):
    return ld(1, rid) + ld(16, target(**kw) + ld(4, "Dr. Osei") + uint(5, 1) + ld(6, "n") +
                           ld(7, body))


SEEDS = {
    "a01_set_draft": set_plan("r1", plan(full=False)),
    "a02_establish_missing": ld(1, "r2") + ld(20, target()),
    "a03_set_full": set_plan("r3", plan()),
    "a04_establish": ld(1, "r4") + ld(20, target()),
    "a05_set_revised": set_plan("r5", plan(goal_date="2027-12-31", icd="I10")),
    "a06_copy": ld(1, "r6") + ld(21, target() + ld(4, "2026-01-05") + uint(5, 2) + uint(6, 1)),
    "a07_get": ld(17, target()),
    "a08_get_v1": ld(17, target() + uint(4, 1)),
    "a09_history": ld(18, target()),
    "a10_diff": ld(19, target() + uint(4, 1) + uint(5, 2)),
    "a11_due": ld(22, ld(1, "C01")),
    "b01_bad_icd10": set_plan("b1", plan(icd="11.9")),
    "b02_bad_date": set_plan("b2", plan(goal_date="2027-02-30")),
    "b03_unknown_patient": set_plan("b3", plan(), mrn="404"),
    "b04_bad_program": set_plan("b4", plan(), program=9),
    "b05_no_plan": ld(1, "b5") + ld(16, target()),
    "b06_long_text": set_plan("b6", plan() + ld(5, "x" * 5000)),
    "b07_copy_bad_method": ld(1, "b7") + ld(21, target() + ld(4, "2026-01-05") + uint(5, 77) +
                                          uint(6, 1)),
    "b08_diff_missing_version": ld(19, target() + uint(4, 1) + uint(5, 99)),
    "b09_get_pcm": ld(17, target(program=2)),
    "b10_duplicate_goal": set_plan("b10", plan() + ld(4, ld(1, "Lower HbA1c"))),
    "b11_no_request_id": set_plan("", plan()),
    "b12_due_unknown_clinic": ld(22, ld(1, "ZZ")),
    "b13_empty_items": set_plan("b13", ld(4, b"") + ld(6, b"") + ld(13, b"") + ld(16, b"")),
    "c01_fetch": ld(3, uint(1, 1) + uint(2, 10) + ld(3, "careplan.*")),
    "c02_stats": ld(4, b""),
    "c03_empty": b"",
    "c04_truncated": set_plan("t", plan())[:-7],
    "c05_bad_wire_type": b"\xff\xff\xff\xff\x0f\x01",
    "c06_long_request_id": ld(1, "x" * 300) + ld(17, target()),
    "c07_nested_garbage": ld(1, "g") + ld(16, target() + ld(7, b"\x0a\x05\x0a\x03\xff\xfe")),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(SEEDS), OUT))
