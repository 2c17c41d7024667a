"""System test: the whole stack closes a month into claims.

enrollment + careplan + timetrack + billing + ccmctl, real processes: a patient
enrolled, consented, with an established care plan given to them and minutes
logged; closing the month gives the claim `ccmctl evaluate` gives for the same
facts; a second clinic billing the same MBI-month is refused and both clinics
hear of it (each sees only its own patient); data arriving after the close
makes version 2, which replaces version 1; months without a claim say why.
Usage: test_billing.py BUILD_DIR
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests  # noqa: E402
from billable import NPI, billable, caught_up, evaluate  # noqa: E402

BUILD = sys.argv[1]
SERVICES = ("enrollment", "careplan", "timetrack", "billing")
# Months close only when asked, so each test decides when (auto-close has its own test).
MANUAL = {"billing": {"close_after_days": "0"}}


def stack(extra=MANUAL):
    return Stack(BUILD, services=SERVICES, extra=extra).start_all()


def claims(s, clinic="C01"):
    return s.ctl_json("claim", "list", "--clinic", clinic, "--month", "2026-10").get("claims", [])


def test_close_gives_the_claim_evaluate_gives():
    with stack() as s:
        billable(s)
        r = s.ctl_json("month", "close", "--month", "2026-10")
        assert r["claims"] == 1, r
        [c] = claims(s)
        ev = evaluate(s, (25, 22))
        assert ev["claim"] is True, ev
        assert [(l["code"], l["units"]) for l in c["lines"]] == \
            [(l["code"], l["units"]) for l in ev["lines"]], (c, ev)
        assert c["amount_cents"] == ev["amount_cents"] and c["dos"] == ev["dos"], (c, ev)
        assert c["fee_year"] == ev["fee_year"]
        assert c["id"] == "C01/1042/2026-10/CCM#v1" and c["version"] == 1
        assert c["mbi"] == "1EG4TE5MK73" and c["billing_npi"] == NPI
        assert c["diagnoses"] == ["E11.9", "I50.9"], c
        evd = c["evidence"]
        assert evd["consent_id"] == "C01/1042/CCM/1" and evd["care_plan_version"] == 1, evd
        assert sorted(evd["time_entry_ids"]) == ["MANUAL:C01-1042-13", "MANUAL:C01-1042-6"]
        # the claim-ready event is on billing's stream for subscribers
        evs = s.ctl_json("stream", "fetch", "billing", "--type", "claim.ready")["events"]
        assert [e["key"] for e in evs] == ["C01/1042/2026-10/CCM"], evs
        assert evs[0]["payload"]["amount_cents"] == ev["amount_cents"]
        # closing again changes nothing
        r = s.ctl_json("month", "close", "--month", "2026-10")
        assert r["claims"] == 0 and r["unchanged"] >= 1, r
        # a billing system acknowledges it
        a = s.ctl_json("claim", "ack", c["id"], "--status", "SUBMITTED", "--note", "batch 7")
        assert a["status"] == "SUBMITTED", a
        rep = s.ctl_json("report", "--clinic", "C01", "--month", "2026-10")["rows"]
        assert rep[0]["expected_cents"] == ev["amount_cents"] and rep[0]["reached"] == 1, rep
        human = s.ctl("report", "--clinic", "C01").stdout
        assert "#" in human and "2026-10" in human, human


def test_late_entry_makes_version_2_that_replaces_1():
    with stack() as s:
        billable(s, minutes=(25, 10))       # 35 minutes: 99490 x1
        s.ctl("month", "close", "--month", "2026-10")
        [c1] = claims(s)
        assert [(l["code"], l["units"]) for l in c1["lines"]] == [("99490", 1)], c1
        s.ctl("time", "add", "--clinic", "C01", "--mrn", "1042", "--performer", "rn1",
              "--start", "2026-10-20T10:00:00-04:00", "--minutes", "10",
              "--activity", "late note", "--event-id", "late-1")
        deadline = time.time() + 15
        while claims(s)[0]["version"] != 2:
            assert time.time() < deadline, "no version 2 after the late entry"
            time.sleep(0.1)
        [c2] = claims(s)
        assert c2["supersedes"] == "C01/1042/2026-10/CCM#v1", c2
        assert [(l["code"], l["units"]) for l in c2["lines"]] == [("99490", 1), ("99439", 1)]
        ev = evaluate(s, (25, 10, 10))
        assert c2["amount_cents"] == ev["amount_cents"], (c2, ev)
        old = s.ctl_json("claim", "show", "C01/1042/2026-10/CCM#v1")
        assert old["status"] == "REPLACED", old
        r = s.ctl("claim", "ack", "C01/1042/2026-10/CCM#v1", "--status", "PAID", check=False)
        assert r.returncode == 1 and "replaced" in r.stderr, r.stderr
        evs = s.ctl_json("stream", "fetch", "billing", "--type", "claim.ready")["events"]
        assert [e["payload"]["version"] for e in evs] == [1, 2], evs


def test_second_clinic_is_refused_and_both_hear_of_it():
    with stack() as s:
        billable(s)
        billable(s, clinic="C02", mrn="77")   # the same MBI at another clinic
        s.ctl("month", "close", "--month", "2026-10", "--clinic", "C01")
        r = s.ctl_json("month", "close", "--month", "2026-10", "--clinic", "C02")
        assert r["conflicts"] == 1 and r["claims"] == 0, r
        assert claims(s, "C02") == []
        missed = s.ctl_json("missed", "--clinic", "C02", "--month", "2026-10")
        [x] = missed["conflicts"]
        assert x["other_clinic"] == "C01" and x["mrn"] == "77", x
        evs = s.ctl_json("stream", "fetch", "billing", "--type", "claim.conflict")["events"]
        by_clinic = {e["payload"]["clinic"]: e["payload"] for e in evs}
        assert set(by_clinic) == {"C01", "C02"}, evs
        assert by_clinic["C01"]["mrn"] == "1042" and by_clinic["C01"]["other_clinic"] == "C02"
        assert by_clinic["C02"]["mrn"] == "77" and by_clinic["C02"]["other_clinic"] == "C01"
        c01 = by_clinic["C01"]
        assert c01["key"].startswith("C01/1042/") and "77" not in c01.values() and \
            "C02/77" not in json.dumps(c01), "C01 must not see C02's patient: %s" % c01


def test_months_without_a_claim_say_why():
    with stack() as s:
        billable(s, minutes=(9, 5))          # 14 minutes
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", "2000", "--mbi", "2EG4TE5MK73",
              "--family", "Okafor", "--given", "Ben", "--birth-date", "1950-06-01")
        caught_up(s)
        r = s.ctl_json("month", "close", "--month", "2026-10")
        assert r["claims"] == 0 and r["missed"] == 2, r
        missed = {m["mrn"]: m for m in
                  s.ctl_json("missed", "--clinic", "C01", "--month", "2026-10")["missed"]}
        assert missed["1042"]["reason"] == "BELOW_THRESHOLD", missed
        assert missed["1042"]["detail"] == "14 minutes", missed
        assert missed["2000"]["reason"] in ("NOT_ELIGIBLE_CONDITIONS", "NO_CONSENT"), missed
        r = s.ctl("month", "close", "--month", "2999-01", check=False)
        assert r.returncode == 1 and "month" in r.stderr, r.stderr


def test_complex_ccm_and_payer_come_from_enrollment():
    with stack() as s:
        billable(s, minutes=(50, 45))          # 95 minutes of staff time
        s.ctl("patient", "complexity", "--clinic", "C01", "--mrn", "1042", "--month", "2026-10")
        billable(s, clinic="C02", mrn="55", mbi="5EG4TE5MK73")
        s.ctl("patient", "payer", "--clinic", "C02", "--mrn", "55", "--payer", "COMMERCIAL")
        caught_up(s)
        s.ctl("month", "close", "--month", "2026-10")
        [c] = claims(s)
        # ccm-rules.md §8 worked example: complex, 95 min -> 99487 + 99489 ($202.17 in 2025)
        assert [(l["code"], l["units"]) for l in c["lines"]] == [("99487", 1), ("99489", 1)], c
        missed = s.ctl_json("missed", "--clinic", "C02", "--month", "2026-10")["missed"]
        assert [(m["mrn"], m["reason"]) for m in missed] == [("55", "NOT_PART_B_FFS")], missed
        r = s.ctl("patient", "payer", "--clinic", "C02", "--mrn", "55", "--payer", "VA",
                  check=False)
        assert r.returncode == 1 and "payer" in r.stderr, r.stderr


def test_months_close_by_themselves_and_late_data_settles_them():
    # close_after_days = 3: October (ended more than 3 days ago) closes at start,
    # before any data; everything after that is late data for a closed month.
    with stack(extra={"billing": {"close_after_days": "3"}}) as s:
        billable(s)
        deadline = time.time() + 15
        while not claims(s):
            assert time.time() < deadline, "no claim from the auto-closed month"
            time.sleep(0.1)
        [c] = claims(s)
        ev = evaluate(s, (25, 22))
        assert c["amount_cents"] == ev["amount_cents"], (c, ev)
        assert "event=auto_close clinic=C01 month=2026-10" in s.log("billing")


if __name__ == "__main__":
    sys.exit(run_tests([test_close_gives_the_claim_evaluate_gives,
                        test_late_entry_makes_version_2_that_replaces_1,
                        test_second_clinic_is_refused_and_both_hear_of_it,
                        test_months_without_a_claim_say_why,
                        test_complex_ccm_and_payer_come_from_enrollment,
                        test_months_close_by_themselves_and_late_data_settles_them]))
