"""A billable patient-month through the real stack, shared by the billing and
ccm-watch system tests: enrollment, consent, an established care plan given to
the patient, and minutes (logged by hand or pushed through ccm-cdr), plus the
same facts as a `ccmctl evaluate` case.
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import wait_until  # noqa: E402

NPI = "1234567893"
MONTH = "2026-10"
ZONE = ZoneInfo("America/New_York")  # every clinic of the harness
PLAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "careplan",
                    "plan.json")


def local(date, hour=0, minute=0):
    """RFC 3339 instant of a clinic-local date and time, e.g. 2026-10-06T10:00:00-04:00."""
    d = datetime.date.fromisoformat(date)
    return datetime.datetime(d.year, d.month, d.day, hour, minute, tzinfo=ZONE).isoformat()


def month_before(month):
    y, m = map(int, month.split("-"))
    return "%04d-%02d" % ((y, m - 1) if m > 1 else (y - 1, 12))


def caught_up(s, timeout=15):
    """Waits until every service applied every event of the streams it follows."""
    lag = []

    def none_behind():
        st = s.ctl_json("status")
        last = {name: v["stream_seq"] for name, v in st.items() if v}
        lag[:] = [(name, c["producer"]) for name, v in st.items() if v
                  for c in v.get("cursors", []) if c["next_seq"] <= last.get(c["producer"], 0)]
        return not lag

    wait_until(none_behind, lambda: "services to catch up: %s" % lag, timeout=timeout)


def cdr_minutes(s, clinic, mrn, minutes, month=MONTH):
    """The phone system's calls, imported by the real ccm-cdr (Asterisk Master.csv)."""
    mp = os.path.join(s.dir, "map-%s-%s.ini" % (clinic, mrn))
    with open(mp, "w") as f:
        f.write("[defaults]\nactivity = phone call\nservice = CCM\ntimezone = America/New_York\n"
                "[staff]\n2015 = rn1\n[patients]\npt-%s = %s\n" % (mrn, mrn))
    csv = os.path.join(s.dir, "Master-%s-%s.csv" % (clinic, mrn))
    with open(csv, "w") as f:
        for day, mins in zip((6, 13), minutes):
            start = "%s-%02d 10:00:00" % (month, day)
            end = "%s-%02d %02d:%02d:00" % (month, day, 10 + mins // 60, mins % 60)
            f.write('"pt-%s","2015","5551234567","from-internal","""Nurse"" <2015>",'
                    '"PJSIP/2015-1","PJSIP/trunk-2","Dial","PJSIP/x,60","%s","%s","%s",%d,%d,'
                    '"ANSWERED","DOCUMENTATION","%s.%d","ccm"\n'
                    % (mrn, start, start, end, mins * 60, mins * 60, clinic, day))
    r = subprocess.run([os.path.join(s.build, "clients/ccm-cdr/ccm-cdr"), "--format", "asterisk",
                        "--map", mp, "--clinic", clinic, "--broker", s.broker_ep, "--state",
                        os.path.join(s.dir, "cdr-%s-%s" % (clinic, mrn)), "--json", csv],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr)


def billable(s, clinic="C01", mrn="1042", mbi="1EG4TE5MK73", minutes=(25, 22), people=True,
             via_cdr=False, month=MONTH, program="CCM"):
    """A patient billable for `month` (MONTH by default) in `program`: initiating
    visit, consent and care plan on the 15th of the month before, minutes on the 6th
    and 13th (logged by hand, or pushed by the phone system through ccm-cdr)."""
    setup = month_before(month) + "-15"
    copy = month_before(month) + "-16"
    if people:
        s.ctl("practitioner", "add", "--clinic", clinic, "--npi", NPI, "--role", "PHYSICIAN",
              "--family", "Osei", "--given", "Kofi", "--credentials", "MD")
        s.ctl("staff", "add", "--clinic", clinic, "--id", "rn1", "--role", "CLINICAL_STAFF",
              "--name", "Ray Nurse", "--credentials", "RN")
    s.ctl("patient", "add", "--clinic", clinic, "--mrn", mrn, "--mbi", mbi, "--family",
          "Rivera", "--given", "Ana", "--birth-date", "1948-02-29", "--billing-npi", NPI)
    for code in ("E11.9", "I50.9"):
        s.ctl("condition", "add", "--clinic", clinic, "--mrn", mrn, "--icd10", code,
              "--expected-months", "24", "--high-risk")
    s.ctl("visit", "add", "--clinic", clinic, "--mrn", mrn, "--code", "99214",
          "--date", setup, "--npi", NPI)
    consent(s, clinic, mrn, program, local(setup, 11))
    caught_up(s)
    care_plan(s, clinic, mrn, program, setup, copy)
    if via_cdr:
        cdr_minutes(s, clinic, mrn, minutes, month)
    else:
        tag = "" if month == MONTH else month + "-"  # MONTH's ids as they always were
        for day, mins in zip((6, 13), minutes):
            s.ctl("time", "add", "--clinic", clinic, "--mrn", mrn, "--performer", "rn1",
                  "--start", local("%s-%02d" % (month, day), 10), "--minutes", str(mins),
                  "--activity", "care coordination", "--service", program,
                  "--event-id", "%s-%s-%s%d" % (clinic, mrn, tag, day))
    caught_up(s)


def consent(s, clinic, mrn, program, at):
    s.ctl("consent", "record", "--clinic", clinic, "--mrn", mrn, "--program", program,
          "--method", "VERBAL", "--at", at, "--staff", "rn1",
          "--billing-npi", NPI, "--disclosed", "cost-sharing,one-practitioner,right-to-stop")


def care_plan(s, clinic, mrn, program, established, copy_given):
    """The program's care plan, established and given to the patient."""
    s.ctl("careplan", "set", "--clinic", clinic, "--mrn", mrn, "--program", program,
          "--file", PLAN)
    s.ctl("careplan", "establish", "--clinic", clinic, "--mrn", mrn, "--program", program,
          "--date", established)
    s.ctl("careplan", "copy-given", "--clinic", clinic, "--mrn", mrn, "--program", program,
          "--date", copy_given, "--method", "PAPER", "--to", "PATIENT")


def evaluate(s, minutes):
    case = {
        "month": MONTH, "timezone": "America/New_York", "program": "CCM",
        "payer": "MEDICARE_B", "clinic": {"type": "PHYSICIAN_PRACTICE"},
        "billing_practitioner": {"npi": NPI, "role": "PHYSICIAN"},
        "patient": {"conditions": [{"icd10": c, "chronic": True, "expected_months": 24,
                                    "high_risk": True} for c in ("E11.9", "I50.9")],
                    "qmb": False, "died_at": None,
                    "visits": [{"code": "99214", "date": "2026-09-15", "npi": NPI,
                                "g0506": False}]},
        "consent": {"at": "2026-09-15T11:00:00-04:00", "npi": NPI, "program": "CCM",
                    "revoked_at": None},
        "care_plan": {"status": "ESTABLISHED", "established_at": "2026-09-15T12:00:00-04:00",
                      "copy_given_at": "2026-09-16T00:00:00-04:00"},
        "complex": False, "other_services": [], "inpatient": [],
        "time": [{"id": "e%d" % i, "performer": "rn1", "npi": None, "role": "CLINICAL_STAFF",
                  "in_us": True, "service": "CCM",
                  "start": "%s-%02dT10:00:00-04:00" % (MONTH, day), "seconds": m * 60}
                 for i, (day, m) in enumerate(zip((6, 13, 20), minutes))],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(case, f)
    try:
        return json.loads(s.ctl("evaluate", f.name, "--json").stdout)
    finally:
        os.unlink(f.name)
