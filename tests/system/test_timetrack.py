"""System test: broker + enrollment + timetrack + ccmctl, real processes.

Time entries are refused when they name an unknown patient or performer, lie in
the future or last absurdly long; a source event arrives once however often it
is sent; a threshold event reaches a FETCH subscriber when the 20th minute
lands; `month status` agrees with `ccmctl evaluate` on the same facts,
including a DST day and an entry that crosses a month end; corrections void
without deleting; overlaps are flagged; a documented APCM service element is
the one entry of 0 seconds; the forecast names exactly the patients whose month
minutes alone stand between them and a claim (care plans from the careplan service).
Usage: test_timetrack.py BUILD_DIR
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests, wait_until  # noqa: E402
from billable import care_plan, caught_up  # noqa: E402

BUILD = sys.argv[1]
NPI = "1234567893"


def stack():
    return Stack(BUILD, services=("enrollment", "timetrack")).start_all()


def enroll(s, mrn="1042", consent_at="2026-01-10T10:00:00-05:00", mbi="1EG4TE5MK73"):
    """A CCM-eligible patient with consent, as a care coordinator sets one up."""
    s.ctl("practitioner", "add", "--clinic", "C01", "--npi", NPI, "--role", "PHYSICIAN",
          "--family", "Osei", "--given", "Kofi", "--credentials", "MD", check=False)
    for sid in ("rn1", "rn2"):
        s.ctl("staff", "add", "--clinic", "C01", "--id", sid, "--role", "CLINICAL_STAFF",
              "--name", "Nurse " + sid, "--credentials", "RN", check=False)
    s.ctl("patient", "add", "--clinic", "C01", "--mrn", mrn, "--mbi", mbi,
          "--family", "Rivera", "--given", "Ana", "--birth-date", "1948-02-29",
          "--billing-npi", NPI)
    for code in ("E11.9", "I50.9"):
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", mrn, "--icd10", code,
              "--expected-months", "24", "--high-risk")
    s.ctl("visit", "add", "--clinic", "C01", "--mrn", mrn, "--code", "99213",
          "--date", "2025-12-01", "--npi", NPI)
    s.ctl("consent", "record", "--clinic", "C01", "--mrn", mrn, "--program", "CCM",
          "--method", "VERBAL", "--at", consent_at, "--staff", "rn1", "--billing-npi", NPI,
          "--disclosed", "cost-sharing,one-practitioner,right-to-stop")


def wait_known(s, mrn="1042", timeout=10):
    """timetrack learns patients and staff from enrollment's stream: wait for it."""
    def known():
        return (s.ctl("time", "list", "--clinic", "C01", "--mrn", mrn, check=False).returncode
                == 0 and s.ctl("month", "status", "--clinic", "C01", "--mrn", mrn,
                               check=False).returncode == 0)
    wait_until(known, "timetrack to learn patient %s" % mrn, timeout=timeout, interval=0.1)


def add(s, start, minutes, performer="rn1", event=None, **kw):
    args = ["time", "add", "--clinic", "C01", "--mrn", kw.get("mrn", "1042"), "--performer",
            performer, "--start", start, "--seconds", str(int(minutes * 60)),
            "--activity", "call with patient"]
    if event:
        args += ["--event-id", event]
    return s.ctl(*args, "--json", check=kw.get("check", True))


def test_bad_entries_are_refused_and_change_nothing():
    with stack() as s:
        enroll(s)
        wait_known(s)
        before = s.ctl_json("stream", "fetch", "timetrack")["last_seq"]
        cases = [
            (["--mrn", "404"], "mrn"),
            (["--performer", "ghost"], "performer"),
            (["--start", "2099-01-01T10:00:00-05:00"], "start_us"),
            (["--seconds", "0"], "seconds"),
            (["--seconds", "90000"], "seconds"),
            (["--clinic", "NOPE"], "clinic"),
        ]
        base = {"--clinic": "C01", "--mrn": "1042", "--performer": "rn1",
                "--start": "2026-11-02T10:00:00-05:00", "--seconds": "600"}
        for override, field in cases:
            opts = dict(base)
            opts.update(dict(zip(override[::2], override[1::2])))
            args = ["time", "add"] + [x for kv in opts.items() for x in kv]
            r = s.ctl(*args, "--json", check=False)
            assert r.returncode == 1, (override, r.stderr)
            assert json.loads(r.stdout)["error"]["field"] == field, (override, r.stdout)
        r = s.ctl("time", "add", "--clinic", "C01", "--mrn", "1042", check=False)
        assert r.returncode == 2, "missing flags are a usage error"
        assert s.ctl_json("stream", "fetch", "timetrack")["last_seq"] == before


def test_same_source_event_counts_once_and_void_keeps_history():
    with stack() as s:
        enroll(s)
        wait_known(s)
        e = json.loads(add(s, "2026-11-02T10:00:00-05:00", 12, event="uid-1").stdout)
        assert e["role"] == "CLINICAL_STAFF" and e.get("performer_npi", "") == "", e
        again = json.loads(add(s, "2026-11-02T10:00:00-05:00", 12, event="uid-1").stdout)
        assert e["id"] == again["id"] == "MANUAL:uid-1"
        r = add(s, "2026-11-02T11:00:00-05:00", 30, event="uid-1", check=False)
        assert r.returncode == 1 and "CONFLICT" in r.stderr, r.stderr
        st = s.ctl_json("month", "status", "--clinic", "C01", "--mrn", "1042",
                        "--month", "2026-11")
        assert st["total_minutes"] == 12 and st["next_code"] == "99490", st
        assert st["minutes_to_next"] == 8
        s.ctl("time", "void", "--clinic", "C01", "--id", "MANUAL:uid-1", "--reason",
              "entered on the wrong patient")
        st = s.ctl_json("month", "status", "--clinic", "C01", "--mrn", "1042",
                        "--month", "2026-11")
        assert st["total_minutes"] == 0, st
        lst = s.ctl_json("time", "list", "--clinic", "C01", "--mrn", "1042")["entries"]
        assert [(x["id"], x["state"]) for x in lst] == [("MANUAL:uid-1", "VOIDED")], lst
        assert lst[0]["reason"] == "entered on the wrong patient"


def test_threshold_event_when_the_20th_minute_lands():
    with stack() as s:
        enroll(s)
        wait_known(s)
        add(s, "2026-11-02T10:00:00-05:00", 19, event="a")
        ev = s.ctl_json("stream", "fetch", "timetrack", "--type", "threshold")
        assert ev["events"] == [], ev
        add(s, "2026-11-03T10:00:00-05:00", 1.5, performer="rn2", event="b")
        ev = s.ctl_json("stream", "fetch", "timetrack", "--type", "threshold")["events"]
        assert len(ev) == 1, ev
        th = ev[0]["payload"]
        assert th["kind"] == "staff" and th["minutes"] == 20 and th["month"] == "2026-11", th
        assert th["total"] == 20 and ev[0]["key"] == "C01/1042"
        # the same minutes sent again cross nothing new
        add(s, "2026-11-03T10:00:00-05:00", 1.5, performer="rn2", event="b")
        assert len(s.ctl_json("stream", "fetch", "timetrack", "--type", "threshold")["events"]) == 1


def test_overlaps_are_flagged_not_double_counted():
    with stack() as s:
        enroll(s)
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", "2000", "--mbi", "2EG4TE5MK73",
              "--family", "Okafor", "--given", "Ben", "--birth-date", "1950-06-01")
        wait_known(s, "2000")
        a = json.loads(add(s, "2026-11-05T10:00:00-05:00", 30, event="x1").stdout)
        # the same nurse on another patient at the same time
        b = json.loads(add(s, "2026-11-05T10:10:00-05:00", 10, event="x2", mrn="2000").stdout)
        assert a["id"] in b.get("overlaps", []), b
        lst = s.ctl_json("time", "list", "--clinic", "C01", "--mrn", "1042")["entries"]
        assert "MANUAL:x2" in lst[0]["overlaps"], lst
        # the same interval of the same patient from a second source counts once
        c = json.loads(add(s, "2026-11-05T10:00:00-05:00", 30, event="x3").stdout)
        assert c["overlaps"] and set(c["overlaps"]) <= {a["id"], b["id"]}, c
        st = s.ctl_json("month", "status", "--clinic", "C01", "--mrn", "1042",
                        "--month", "2026-11")
        assert st["total_minutes"] == 30, st
        # the first entry voided, x3 still covers 10:00-10:30: a later call
        # overlapping only x3 says so (and a voided entry is never named)
        s.ctl("time", "void", "--clinic", "C01", "--id", a["id"], "--reason", "dialled twice")
        d = json.loads(add(s, "2026-11-05T10:25:00-05:00", 10, event="x4", mrn="2000").stdout)
        assert d["overlaps"] == ["MANUAL:x3"], d
        e = json.loads(add(s, "2026-11-05T10:40:00-05:00", 5, event="x5").stdout)
        assert not e.get("overlaps"), e


def test_apcm_element_is_the_only_zero_second_entry():
    with stack() as s:
        enroll(s)
        wait_known(s)
        el = json.loads(s.ctl("time", "add", "--clinic", "C01", "--mrn", "1042", "--performer",
                              "rn1", "--start", "2026-11-04T10:00:00-05:00", "--service", "APCM",
                              "--element", "--activity", "care plan reviewed", "--event-id",
                              "apcm-1", "--json").stdout)
        assert el["service"] == "APCM" and el.get("seconds", 0) == 0, el
        assert el["state"] == "ACTIVE" and not el.get("overlaps"), el
        # --minutes 0 says the same
        el2 = json.loads(s.ctl("time", "add", "--clinic", "C01", "--mrn", "1042", "--performer",
                               "rn2", "--start", "2026-11-05T10:00:00-05:00", "--service", "APCM",
                               "--minutes", "0", "--event-id", "apcm-2", "--json").stdout)
        assert el2.get("seconds", 0) == 0, el2
        # an element never overlaps: timed work by the same nurse at the same instant
        t = json.loads(add(s, "2026-11-04T09:55:00-05:00", 10, event="call-1").stdout)
        assert not t.get("overlaps"), t
        before = s.ctl_json("stream", "fetch", "timetrack")["last_seq"]
        for service in ("CCM", "PCM", "TCM", "RPM", "BHI"):
            r = s.ctl("time", "add", "--clinic", "C01", "--mrn", "1042", "--performer", "rn1",
                      "--start", "2026-11-06T10:00:00-05:00", "--service", service,
                      "--seconds", "0", "--json", check=False)
            assert r.returncode == 1, (service, r.stdout, r.stderr)
            err = json.loads(r.stdout)["error"]
            assert err["field"] == "seconds" and "APCM" in err["message"], (service, err)
        # --element belongs to APCM and has no minutes: usage errors, nothing sent
        for extra in (["--service", "CCM", "--element"], ["--element"],
                      ["--service", "APCM", "--element", "--minutes", "5"]):
            r = s.ctl("time", "add", "--clinic", "C01", "--mrn", "1042", "--performer", "rn1",
                      "--start", "2026-11-06T10:00:00-05:00", *extra, check=False)
            assert r.returncode == 2 and "--element" in r.stderr, (extra, r.stderr)
        assert s.ctl_json("stream", "fetch", "timetrack")["last_seq"] == before
        lst = s.ctl("time", "list", "--clinic", "C01", "--mrn", "1042").stdout
        assert "element" in lst, lst  # the length column of an element
        # the elements add no CCM minutes
        st = s.ctl_json("month", "status", "--clinic", "C01", "--mrn", "1042",
                        "--month", "2026-11")
        assert st["total_minutes"] == 10, st


def case_json(month, entries):
    return {
        "month": month, "timezone": "America/New_York", "program": "CCM",
        "payer": "MEDICARE_B", "clinic": {"type": "PHYSICIAN_PRACTICE"},
        "billing_practitioner": {"npi": NPI, "role": "PHYSICIAN"},
        "patient": {"conditions": [{"icd10": "E11.9", "chronic": True, "expected_months": 24,
                                    "high_risk": True},
                                   {"icd10": "I50.9", "chronic": True, "expected_months": 24,
                                    "high_risk": True}],
                    "qmb": False, "died_at": None,
                    "visits": [{"code": "99213", "date": "2025-12-01", "npi": NPI,
                                "g0506": False}]},
        "consent": {"at": "2026-01-10T10:00:00-05:00", "npi": NPI, "program": "CCM",
                    "revoked_at": None},
        "care_plan": None,
        "complex": False,
        "other_services": [],
        "inpatient": [],
        "time": entries,
    }


def test_month_status_agrees_with_evaluate_across_dst_and_month_end():
    with stack() as s:
        enroll(s)
        wait_known(s)
        entries = [  # (id, performer, start, seconds)
            ("dst", "rn1", "2026-03-08T01:30:00-05:00", 3600),        # spans the DST jump
            ("doc", NPI, "2026-03-15T10:00:00-04:00", 600),           # practitioner time
            ("late", "rn2", "2026-03-31T23:50:00-04:00", 1200),       # crosses into April
            ("apr", "rn1", "2026-04-10T09:00:00-04:00", 900),
        ]
        for eid, who, start, secs in entries:
            e = json.loads(add(s, start, secs / 60.0, performer=who, event=eid).stdout)
            if who == NPI:  # the practitioner's own time keeps role and NPI in the log
                assert e["role"] == "PHYSICIAN" and e["performer_npi"] == NPI, e
        case_entries = [{"id": eid, "performer": who, "npi": NPI if who == NPI else None,
                         "role": "PHYSICIAN" if who == NPI else "CLINICAL_STAFF",
                         "in_us": True, "service": "CCM", "start": start, "seconds": secs}
                        for eid, who, start, secs in entries]
        for month in ("2026-03", "2026-04"):
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(case_json(month, case_entries), f)
            ev = json.loads(s.ctl("evaluate", f.name, "--json").stdout)
            os.unlink(f.name)
            st = s.ctl_json("month", "status", "--clinic", "C01", "--mrn", "1042",
                            "--month", month)
            assert st["total_minutes"] == ev["minutes"]["total"], (month, st, ev)
            assert st["staff_minutes"] == ev["minutes"]["staff"], (month, st, ev)
            assert st["practitioner_minutes"] == ev["minutes"]["practitioner"], (month, st, ev)
            assert st["claim"] == ev["claim"], (month, st, ev)
            assert st.get("reason", "") == ev.get("reason", ""), (month, st, ev)
        # March: 60 (DST day, elapsed) + 10 practitioner + 10 before midnight = 80
        st = s.ctl_json("month", "status", "--clinic", "C01", "--mrn", "1042",
                        "--month", "2026-03")
        assert st["total_minutes"] == 80 and st["practitioner_minutes"] == 10, st
        apr = s.ctl_json("month", "status", "--clinic", "C01", "--mrn", "1042",
                         "--month", "2026-04")
        assert apr["total_minutes"] == 25, apr


def test_forecast_lists_patients_below_threshold():
    with Stack(BUILD, services=("enrollment", "careplan", "timetrack")).start_all() as s:
        # 1042: care plan, 5 minutes: only minutes are missing. 2000: 5 minutes but no
        # care plan: blocked by more than minutes. 3000: care plan, 25 minutes: billing.
        for mrn, mbi in (("1042", "1EG4TE5MK73"), ("2000", "2EG4TE5MK73"),
                         ("3000", "3EG4TE5MK73")):
            enroll(s, mrn, mbi=mbi)
        caught_up(s)  # careplan knows the patients
        for mrn in ("1042", "3000"):
            care_plan(s, "C01", mrn, "CCM", "2026-01-11", "2026-01-12")
        add(s, "2026-11-02T10:00:00-05:00", 5, event="f1")
        add(s, "2026-11-03T10:00:00-05:00", 5, event="f2", mrn="2000")
        add(s, "2026-11-04T10:00:00-05:00", 25, event="f3", mrn="3000")
        caught_up(s)  # timetrack has the care plans
        why = {mrn: s.ctl_json("month", "status", "--clinic", "C01", "--mrn", mrn,
                               "--month", "2026-11").get("reason", "")
               for mrn in ("1042", "2000", "3000")}
        assert why == {"1042": "BELOW_THRESHOLD", "2000": "CARE_PLAN_MISSING", "3000": ""}, why
        fc = s.ctl_json("month", "forecast", "--clinic", "C01", "--month", "2026-11")
        # November is over: no days left, the threshold is missed for sure
        assert fc.get("items") == [{"mrn": "1042", "total_minutes": 5, "next_code": "99490",
                                    "minutes_to_next": 15, "days_left": 0, "risk": 1.0}], fc
        human = s.ctl("month", "forecast", "--clinic", "C01", "--month", "2026-11").stdout
        assert "1042" in human and "2000" not in human and "3000" not in human, human


if __name__ == "__main__":
    sys.exit(run_tests([test_bad_entries_are_refused_and_change_nothing,
                        test_same_source_event_counts_once_and_void_keeps_history,
                        test_threshold_event_when_the_20th_minute_lands,
                        test_overlaps_are_flagged_not_double_counted,
                        test_apcm_element_is_the_only_zero_second_entry,
                        test_month_status_agrees_with_evaluate_across_dst_and_month_end,
                        test_forecast_lists_patients_below_threshold]))
