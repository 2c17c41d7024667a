"""System test: the whole stack closes a month into claims.

enrollment + careplan + timetrack + billing + ccmctl, real processes: a patient
enrolled, consented, with an established care plan given to them and minutes
logged; closing the month gives the claim `ccmctl evaluate` gives for the same
facts; a second clinic billing the same MBI-month is refused and both clinics
hear of it (each sees only its own patient), whatever the program; data arriving
after the close makes version 2, which replaces version 1 — or, for a paid
claim, adjusts it — while evidence-only changes update the version in place; a
month that stops being billable is withdrawn and listed once as missed, and a new
version supersedes it when it is billable again; a month judged for another
program withdraws the old program's claim; months past the timely filing limit
get no claim, and a claim filed in time stands; G0506 bills on its visit's day;
months without a claim say why.
Usage: test_billing.py BUILD_DIR
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests, wait_until  # noqa: E402
from billable import (NPI, billable, care_plan, caught_up, consent, evaluate,  # noqa: E402
                      local)

BUILD = sys.argv[1]
SERVICES = ("enrollment", "careplan", "timetrack", "billing")
# Months close only when asked, so each test decides when (auto-close has its own test).
MANUAL = {"billing": {"close_after_days": "0"}}


def stack(extra=MANUAL):
    return Stack(BUILD, services=SERVICES, extra=extra).start_all()


def claims(s, clinic="C01", month="2026-10"):
    return s.ctl_json("claim", "list", "--clinic", clinic, "--month", month).get("claims", [])


KEY = "C01/1042/2026-10/CCM"


def claim(s, id_or_key):
    r = s.ctl("claim", "show", id_or_key, "--json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def events(s, service, typ):
    return s.ctl_json("stream", "fetch", service, "--type", typ, "--max", "1000").get("events", [])



def wait_claim(s, id_or_key, cond, what):
    return wait_until(lambda: (lambda c: c if c and cond(c) else None)(claim(s, id_or_key)),
                      what, timeout=15)


def missed(s, month="2026-10", clinic="C01"):
    m = s.ctl_json("missed", "--clinic", clinic, "--month", month)
    return m.get("missed", []), m.get("conflicts", [])


def report(s, month="2026-10", clinic="C01"):
    [row] = s.ctl_json("report", "--clinic", clinic, "--month", month)["rows"]
    return row


def late_entry(s, day, minutes, event_id, mrn="1042", service="CCM"):
    s.ctl("time", "add", "--clinic", "C01", "--mrn", mrn, "--performer", "rn1",
          "--start", local(day, 10), "--minutes", str(minutes), "--activity", "late note",
          "--service", service, "--event-id", event_id)


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
        wait_until(lambda: claims(s)[0]["version"] == 2, "version 2 after the late entry",
                   timeout=15)
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
        # Covered commercially since before October: October is not a Part B month.
        s.ctl("patient", "payer", "--clinic", "C02", "--mrn", "55", "--payer", "COMMERCIAL",
              "--from", "2026-09-01T00:00:00Z")
        caught_up(s)
        s.ctl("month", "close", "--month", "2026-10")
        [c] = claims(s)
        # complex CCM, 95 staff minutes -> 99487 + 99489 (beats 99490 + 99439 x2)
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
        # Each entry is late data for the closed month: the claim settles to the
        # month's whole time (a first version may show the first entry only).
        ev = evaluate(s, (25, 22))
        wait_until(lambda: [c["amount_cents"] for c in claims(s)] == [ev["amount_cents"]],
                   "the auto-closed month's claim for both entries", timeout=60)
        assert "event=auto_close clinic=C01 month=2026-10" in s.log("billing")


def test_a_month_that_stops_being_billable_is_withdrawn_and_missed_once():
    with stack() as s:
        billable(s)
        s.ctl("month", "close", "--month", "2026-10")
        [c1] = claims(s)
        s.ctl("claim", "ack", c1["id"], "--status", "SUBMITTED")
        # The patient had asked to stop in September: October was never billable.
        s.ctl("consent", "revoke", "--clinic", "C01", "--mrn", "1042", "--program", "CCM",
              "--at", local("2026-09-20", 12))
        w = wait_claim(s, KEY, lambda c: c["status"] == "WITHDRAW_NEEDED", "the withdrawal")
        assert w["id"] == c1["id"] and w["withdraw_reason"].startswith("CONSENT_REVOKED"), w
        revoked = events(s, "enrollment", "consent.revoked")[-1]
        assert w["evidence"]["cause"] == "enrollment seq %d consent.revoked request %s" % (
            revoked["seq"], revoked["request_id"]), w["evidence"]
        [ev] = events(s, "billing", "claim.withdraw")
        assert ev["key"] == KEY and ev["payload"]["id"] == c1["id"], ev
        assert ev["payload"]["status"] == "WITHDRAW_NEEDED", ev
        # listed once, as missed; the report counts it once, as missed
        m, x = missed(s)
        assert [(r["key"], r["reason"]) for r in m] == [(KEY, "CONSENT_REVOKED")] and not x, m
        row = report(s)
        assert (row["missed"], row["reached"], row["expected_cents"]) == (1, 0, 0), row
        r = s.ctl("claim", "ack", c1["id"], "--status", "PAID", check=False)
        assert r.returncode == 1 and "withdrawn" in r.stderr, r.stderr
        # Billable again (a new consent given before October): v2 supersedes v1.
        consent(s, "C01", "1042", "CCM", local("2026-09-21", 9))
        c2 = wait_claim(s, KEY, lambda c: c["version"] == 2, "version 2")
        assert c2["status"] == "READY" and c2["supersedes"] == c1["id"], c2
        assert not c2["adjustment"] and c2["evidence"]["consent_id"] == "C01/1042/CCM/2", c2
        assert claim(s, c1["id"])["status"] == "REPLACED"
        assert missed(s) == ([], [])
        row = report(s)
        assert (row["missed"], row["reached"]) == (0, 1) and row["expected_cents"] == \
            c2["amount_cents"], row
        assert [e["payload"]["version"] for e in events(s, "billing", "claim.ready")] == [1, 2]


def test_evidence_only_changes_update_the_claim_in_place():
    with stack() as s:
        billable(s)                                  # 47 minutes: 99490 + 99439
        s.ctl("month", "close", "--month", "2026-10")
        [c1] = claims(s)
        late_entry(s, "2026-10-20", 5, "late-5")     # 52 minutes: the same codes
        c = wait_claim(s, KEY, lambda c: "MANUAL:late-5" in c["evidence"]["time_entry_ids"],
                       "the new entry in the claim's evidence")
        assert c["id"] == c1["id"] and c["version"] == 1 and c["status"] == "READY", c
        assert c["staff_minutes"] == 52 and c1["staff_minutes"] == 47, (c, c1)
        added = events(s, "timetrack", "entry.added")[-1]
        assert c["evidence"]["cause"] == "timetrack seq %d entry.added request %s" % (
            added["seq"], added["request_id"]), c["evidence"]
        assert len(events(s, "billing", "claim.ready")) == 1
        r = s.ctl_json("month", "close", "--month", "2026-10")
        assert r["claims"] == 0 and r["unchanged"] == 1, r
        assert claim(s, KEY)["version"] == 1
        # 62 minutes: a second 99439 unit changes what is billed: version 2
        late_entry(s, "2026-10-21", 10, "late-10")
        c2 = wait_claim(s, KEY, lambda c: c["version"] == 2, "version 2")
        assert [(l["code"], l["units"]) for l in c2["lines"]] == [("99490", 1), ("99439", 2)]
        assert len(events(s, "billing", "claim.ready")) == 2


def test_a_paid_claim_is_adjusted_and_stays_paid():
    with stack() as s:
        billable(s, minutes=(25, 10))                # 35 minutes: 99490
        s.ctl("month", "close", "--month", "2026-10")
        [c1] = claims(s)
        s.ctl("claim", "ack", c1["id"], "--status", "PAID", "--note", "remit 88")
        late_entry(s, "2026-10-20", 10, "late-1")    # 45 minutes: 99490 + 99439
        c2 = wait_claim(s, KEY, lambda c: c["version"] == 2, "the adjustment")
        assert c2["adjustment"] is True and c2["supersedes"] == c1["id"], c2
        assert [(l["code"], l["units"]) for l in c2["lines"]] == [("99490", 1), ("99439", 1)]
        v1 = claim(s, c1["id"])
        assert v1["status"] == "PAID" and v1["status_note"] == "remit 88", v1
        [_, ready] = events(s, "billing", "claim.ready")
        assert ready["payload"]["adjustment"] is True, ready


def test_one_claim_per_patient_month_when_the_program_changes():
    with stack() as s:
        billable(s)
        s.ctl("month", "close", "--month", "2026-10")
        [c1] = claims(s)
        # From late September the patient is in PCM, and the CCM consent ended.
        late_entry(s, "2026-10-07", 25, "pcm-1", service="PCM")
        late_entry(s, "2026-10-14", 22, "pcm-2", service="PCM")
        care_plan(s, "C01", "1042", "PCM", "2026-09-21", "2026-09-21")
        consent(s, "C01", "1042", "PCM", local("2026-09-21", 9))
        s.ctl("consent", "revoke", "--clinic", "C01", "--mrn", "1042", "--program", "CCM",
              "--at", local("2026-09-20", 12))
        pcm = wait_claim(s, "C01/1042/2026-10/PCM", lambda c: c["status"] == "READY",
                         "the PCM claim")
        old = wait_claim(s, KEY, lambda c: c["status"] == "WITHDRAW_NEEDED", "the withdrawal")
        assert old["id"] == c1["id"] and old["withdraw_reason"].startswith("PROGRAM_CHANGED"), old
        assert [(l["code"], l["units"]) for l in pcm["lines"]] == [("99426", 1)], pcm
        live = [c for c in claims(s) if c["status"] != "WITHDRAW_NEEDED"]
        assert [c["key"] for c in live] == ["C01/1042/2026-10/PCM"], claims(s)
        assert missed(s) == ([], [])
        row = report(s)
        assert (row["reached"], row["missed"]) == (1, 0) and \
            row["expected_cents"] == pcm["amount_cents"], row


def test_one_biller_per_mbi_month_whatever_the_program():
    with stack() as s:
        billable(s)                                    # C01 bills CCM for the MBI
        billable(s, clinic="C02", mrn="77", program="PCM")
        s.ctl("month", "close", "--month", "2026-10", "--clinic", "C01")
        r = s.ctl_json("month", "close", "--month", "2026-10", "--clinic", "C02")
        assert r["conflicts"] == 1 and r["claims"] == 0, r
        assert claims(s, "C02") == []
        m, [x] = missed(s, clinic="C02")
        assert x["key"] == "C02/77/2026-10/PCM" and x["other_clinic"] == "C01" and not m, x


def test_timely_filing():
    # A year and more back: past the 12-month limit (today is after 2026-11-01).
    with stack() as s:
        billable(s, month="2025-10")
        r = s.ctl_json("month", "close", "--month", "2025-10")
        assert r["claims"] == 0 and r["missed"] == 1, r
        m, _ = missed(s, month="2025-10")
        assert [x["reason"] for x in m] == ["TIMELY_FILING"], m
        assert claims(s, month="2025-10") == []
    # The limit is configurable; a claim made in time stands when it has passed.
    with stack(extra={"billing": {"close_after_days": "0", "timely_filing_months": "0"}}) as s:
        billable(s, month="2025-10")
        r = s.ctl_json("month", "close", "--month", "2025-10")
        assert r["claims"] == 1, r
        [c1] = claims(s, month="2025-10")
        s.stop("billing")
        with open(s.config) as f:
            text = f.read()
        with open(s.config, "w") as f:
            f.write(text.replace("timely_filing_months = 0", "timely_filing_months = 12"))
        s.start("billing")
        late_entry(s, "2025-10-20", 30, "late-2025")   # would add 99439 units
        caught_up(s)
        s.ctl("month", "close", "--month", "2026-10")  # settles late data first
        assert claims(s, month="2025-10") == [c1], claims(s, month="2025-10")
        assert missed(s, month="2025-10") == ([], [])
        assert "timely_filing_months must be 0-120" in bad_config(s, "121")


def bad_config(s, value):
    s.stop("billing")
    with open(s.config) as f:
        text = f.read()
    with open(s.config, "w") as f:
        f.write(text.replace("timely_filing_months = 12", "timely_filing_months = " + value))
    p = s.start("billing", wait=False)
    p.wait(timeout=30)
    s.procs.pop("billing")
    return s.log("billing")


def test_g0506_bills_on_the_initiating_visit_day():
    with stack() as s:
        s.ctl("practitioner", "add", "--clinic", "C01", "--npi", NPI, "--role", "PHYSICIAN",
              "--family", "Osei", "--given", "Kofi", "--credentials", "MD")
        s.ctl("staff", "add", "--clinic", "C01", "--id", "rn1", "--role", "CLINICAL_STAFF",
              "--name", "Ray Nurse", "--credentials", "RN")
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", "1042", "--mbi", "1EG4TE5MK73",
              "--family", "Rivera", "--given", "Ana", "--birth-date", "1948-02-29",
              "--billing-npi", NPI)
        for code in ("E11.9", "I50.9"):
            s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", code,
                  "--expected-months", "24", "--high-risk")
        # a new patient: consent, then the initiating visit with G0506 the same day
        consent(s, "C01", "1042", "CCM", local("2026-10-02", 9))
        s.ctl("visit", "add", "--clinic", "C01", "--mrn", "1042", "--code", "99214",
              "--date", "2026-10-02", "--npi", NPI, "--g0506")
        caught_up(s)
        care_plan(s, "C01", "1042", "CCM", "2026-10-02", "2026-10-02")
        late_entry(s, "2026-10-06", 25, "g-1")
        late_entry(s, "2026-10-13", 22, "g-2")
        caught_up(s)
        s.ctl("month", "close", "--month", "2026-10")
        [c] = claims(s)
        lines = {l["code"]: l for l in c["lines"]}
        assert set(lines) == {"99490", "99439", "G0506"}, c
        assert lines["G0506"]["dos"] == "2026-10-02" and lines["G0506"]["role"] == "", c
        assert lines["99490"]["dos"] == c["dos"] == "2026-10-06", c  # 20 minutes reached
        assert c["evidence"]["visit_dates"] == ["2026-10-02"], c["evidence"]
        assert c["amount_cents"] == sum(l["amount_cents"] for l in c["lines"]), c


if __name__ == "__main__":
    sys.exit(run_tests([test_close_gives_the_claim_evaluate_gives,
                        test_late_entry_makes_version_2_that_replaces_1,
                        test_second_clinic_is_refused_and_both_hear_of_it,
                        test_months_without_a_claim_say_why,
                        test_complex_ccm_and_payer_come_from_enrollment,
                        test_months_close_by_themselves_and_late_data_settles_them,
                        test_a_month_that_stops_being_billable_is_withdrawn_and_missed_once,
                        test_evidence_only_changes_update_the_claim_in_place,
                        test_a_paid_claim_is_adjusted_and_stays_paid,
                        test_one_claim_per_patient_month_when_the_program_changes,
                        test_one_biller_per_mbi_month_whatever_the_program,
                        test_timely_filing,
                        test_g0506_bills_on_the_initiating_visit_day]))
