"""System test: phone-system records through ccm-cdr into timetrack, exactly once.

The real ccm-cdr reads call records of every supported format (answered,
unanswered, duplicate and malformed lines), maps extensions and account codes to
staff and patients, and delivers answered talk time to the real timetrack
service through the broker. Importing the same file again changes nothing; an
importer SIGKILLed in the middle of a large file and restarted ends with exact
totals; a shared line whose calls all map to one staff id (rounds of
simultaneous calls) lands every call once, flagged as overlapping, with the
patients' minutes counted once.
Usage: test_cdr.py BUILD_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests, wait_until  # noqa: E402

BUILD = sys.argv[1]
NPI = "1234567893"
MAP = """[defaults]
activity = phone call
service = CCM
timezone = America/New_York

[staff]
2015 = rn1
2016 = rn2
+15550002015 = rn1
+15550002016 = rn2

[patients]
pt-1042 = 1042
pt-1043 = 1043
5551234567 = 1042
5551234568 = 1043
+15551234567 = 1042
+15551234568 = 1043
"""


def stack():
    return Stack(BUILD, services=("enrollment", "timetrack")).start_all()


def setup_people(s):
    s.ctl("practitioner", "add", "--clinic", "C01", "--npi", NPI, "--role", "PHYSICIAN",
          "--family", "Osei", "--given", "Kofi")
    for sid in ("rn1", "rn2"):
        s.ctl("staff", "add", "--clinic", "C01", "--id", sid, "--role", "CLINICAL_STAFF",
              "--name", "Nurse " + sid)
    for mrn, mbi in (("1042", "1EG4TE5MK73"), ("1043", "2EG4TE5MK73")):
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", mrn, "--mbi", mbi,
              "--family", "P" + mrn, "--given", "X", "--birth-date", "1950-01-01",
              "--billing-npi", NPI)
    # timetrack learns them from enrollment's stream
    wait_until(lambda: s.ctl("time", "list", "--clinic", "C01", "--mrn", "1043",
                             check=False).returncode == 0,
               "timetrack to learn the patients", timeout=10, interval=0.1)


def cdr(s, fmt, path, state, *extra, timeout=120):
    mp = os.path.join(s.dir, "map.ini")
    with open(mp, "w") as f:
        f.write(MAP)
    cmd = [os.path.join(BUILD, "clients/ccm-cdr/ccm-cdr"), "--format", fmt, "--map", mp,
           "--clinic", "C01", "--broker", s.broker_ep, "--state", state, "--json",
           "--timeout", "1000", "--deadline", "90"] + list(extra) + [path]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def consent(s, mrn):
    """Makes the patient's CCM minutes countable: conditions, a visit, consent."""
    for code in ("E11.9", "I50.9"):
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", mrn, "--icd10", code,
              "--expected-months", "24", "--high-risk")
    s.ctl("visit", "add", "--clinic", "C01", "--mrn", mrn, "--code", "99213",
          "--date", "2025-12-01", "--npi", NPI)
    s.ctl("consent", "record", "--clinic", "C01", "--mrn", mrn, "--program", "CCM",
          "--method", "VERBAL", "--at", "2026-01-10T10:00:00-05:00", "--staff", "rn1",
          "--billing-npi", NPI, "--disclosed", "cost-sharing,one-practitioner,right-to-stop")


def entries(s, mrn):
    return s.ctl_json("time", "list", "--clinic", "C01", "--mrn", mrn).get("entries", [])


def totals(s):
    out = {}
    for mrn in ("1042", "1043"):
        es = [e for e in entries(s, mrn) if e["state"] == "ACTIVE"]
        out[mrn] = (len(es), sum(e["seconds"] for e in es))
    return out


# Answered talk seconds per (patient) expected from every format's sample below:
# three answered calls (930 s and 425 s for 1042, 611 s for 1043); an unanswered
# call, a duplicate of the first and a malformed line are not counted.
EXPECT = {"1042": (2, 930 + 425), "1043": (1, 611)}


def asterisk_line(uid, acct, src, dst, start, answer, end, duration, billsec, disp, user=""):
    q = lambda v: '"%s"' % v.replace('"', '""')  # noqa: E731
    return ",".join([q(acct), q(src), q(dst), q("from-internal"), q('"Nurse" <%s>' % src),
                     q("PJSIP/%s-1" % src), q("PJSIP/trunk-2"), q("Dial"), q("PJSIP/x,60"),
                     q(start), q(answer) if answer else "", q(end), str(duration),
                     str(billsec), q(disp), q("DOCUMENTATION"), q(uid), q(user)])


SAMPLES = {
    "asterisk": [
        asterisk_line("1793714531.42", "pt-1042", "2015", "5551234567", "2026-11-03 14:02:11",
                      "2026-11-03 14:02:19", "2026-11-03 14:17:49", 938, 930, "ANSWERED"),
        asterisk_line("1793718000.43", "pt-1042", "2015", "5551234567", "2026-11-03 15:00:00",
                      "", "2026-11-03 15:00:30", 30, 0, "NO ANSWER"),
        asterisk_line("1793714531.42", "pt-1042", "2015", "5551234567", "2026-11-03 14:02:11",
                      "2026-11-03 14:02:19", "2026-11-03 14:17:49", 938, 930, "ANSWERED"),
        '"pt-1042","2015","broken line with too few columns"',
        asterisk_line("1793801400.45", "pt-1042", "2016", "5551234567", "2026-11-04 09:10:00",
                      "2026-11-04 09:10:05", "2026-11-04 09:17:10", 430, 425, "ANSWERED"),
        asterisk_line("1793801500.46", "", "2016", "5551234568", "2026-11-04 10:00:00",
                      "2026-11-04 10:00:09", "2026-11-04 10:10:20", 620, 611, "ANSWERED",
                      user="pt-1043"),
    ],
    "freeswitch": [
        '"Nurse Ray","2015","5551234567","default","2026-11-03 14:02:11","2026-11-03 14:02:19",'
        '"2026-11-03 14:17:49","938","930","NORMAL_CLEARING","uuid-1","","pt-1042","PCMU","PCMU"',
        '"Nurse Ray","2015","5551234567","default","2026-11-03 15:00:00","","2026-11-03 15:00:30",'
        '"30","0","NO_ANSWER","uuid-2","","pt-1042","PCMU","PCMU"',
        '"Nurse Ray","2015","5551234567","default","2026-11-03 14:02:11","2026-11-03 14:02:19",'
        '"2026-11-03 14:17:49","938","930","NORMAL_CLEARING","uuid-1","","pt-1042","PCMU","PCMU"',
        '"Nurse Ray","2015","not enough columns"',
        '"Nurse Lee","2016","5551234567","default","2026-11-04 09:10:00","2026-11-04 09:10:05",'
        '"2026-11-04 09:17:10","430","425","NORMAL_CLEARING","uuid-3","","pt-1042","PCMU","PCMU"',
        '"Nurse Lee","2016","5551234568","default","2026-11-04 10:00:00","2026-11-04 10:00:09",'
        '"2026-11-04 10:10:20","620","611","NORMAL_CLEARING","uuid-4","","pt-1043","PCMU","PCMU"',
    ],
    "kamailio": [
        "1793714539|1793715469.512|930.512|2015|5551234567|call-1@pbx",
        "1793718000|1793718000|0|2015|5551234567|call-2@pbx",
        "1793714539|1793715469.512|930.512|2015|5551234567|call-1@pbx",
        "garbage|line",
        "1793801405|1793801830|425.9|2016|5551234567|call-3@pbx",
        "1793805609|1793806220|611.0|2016|5551234568|call-4@pbx",
    ],
    "twilio": [json.dumps(x) for x in [
        {"sid": "CA01", "from": "+15550002015", "to": "+15551234567", "status": "completed",
         "start_time": "Tue, 03 Nov 2026 19:02:19 +0000",
         "end_time": "Tue, 03 Nov 2026 19:17:49 +0000", "duration": "930"},
        {"sid": "CA02", "from": "+15550002015", "to": "+15551234567", "status": "no-answer",
         "start_time": None, "end_time": None, "duration": "0"},
        {"sid": "CA01", "from": "+15550002015", "to": "+15551234567", "status": "completed",
         "start_time": "Tue, 03 Nov 2026 19:02:19 +0000",
         "end_time": "Tue, 03 Nov 2026 19:17:49 +0000", "duration": "930"},
    ]] + ['{"sid": "CA09", "status": "completed", "duration": ', json.dumps(
        {"sid": "CA03", "from": "+15550002016", "to": "+15551234567", "status": "completed",
         "start_time": "2026-11-04T14:10:05Z", "end_time": "2026-11-04T14:17:10Z",
         "duration": "425"}), json.dumps(
        {"sid": "CA04", "from": "+15550002016", "to": "+15551234568", "status": "completed",
         "start_time": "Wed, 04 Nov 2026 15:00:09 +0000",
         "end_time": "Wed, 04 Nov 2026 15:10:20 +0000", "duration": "611"})],
    "jsonl": [json.dumps(x) for x in [
        {"id": "ehr-1", "patient": "1042", "staff": "rn1", "start": "2026-11-03T14:02:19-05:00",
         "seconds": 930, "activity": "call"},
        {"id": "ehr-2", "patient": "1042", "staff": "rn1", "start": "2026-11-03T15:00:00-05:00",
         "seconds": 0, "activity": "call"},
        {"id": "ehr-1", "patient": "1042", "staff": "rn1", "start": "2026-11-03T14:02:19-05:00",
         "seconds": 930, "activity": "call"},
    ]] + ["{not json", json.dumps(
        {"id": "ehr-3", "patient": "1042", "staff": "rn2", "start": "2026-11-04T09:10:05-05:00",
         "seconds": 425, "activity": "call"}), json.dumps(
        {"id": "ehr-4", "patient": "1043", "staff": "rn2", "start": "2026-11-04T10:00:09-05:00",
         "seconds": 611, "activity": "call"})],
}


def import_twice(fmt):
    with stack() as s:
        setup_people(s)
        path = os.path.join(s.dir, "calls." + fmt)
        with open(path, "w") as f:
            f.write("\n".join(SAMPLES[fmt]) + "\n")
        state = os.path.join(s.dir, "cdr-state")
        r = cdr(s, fmt, path, state)
        assert r.returncode == 0, (fmt, r.returncode, r.stdout, r.stderr)
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        assert "calls.%s:4:" % fmt in r.stderr, ("the malformed line is reported", r.stderr)
        assert totals(s) == EXPECT, (fmt, totals(s), summary)
        seq = s.ctl_json("stream", "fetch", "timetrack")["last_seq"]
        # the same file again, with the importer's state and without it
        r = cdr(s, fmt, path, state)
        assert r.returncode == 0, r.stderr
        r = cdr(s, fmt, path, os.path.join(s.dir, "fresh-state"))
        assert r.returncode == 0, r.stderr
        assert totals(s) == EXPECT, (fmt, totals(s))
        assert s.ctl_json("stream", "fetch", "timetrack")["last_seq"] == seq, \
            "a re-import changed the timetrack stream"
        return summary


def test_asterisk_imports_exactly_once():
    summary = import_twice("asterisk")
    assert summary.get("skipped", 0) >= 1, summary  # the unanswered call


def test_freeswitch_imports_exactly_once():
    import_twice("freeswitch")


def test_kamailio_imports_exactly_once():
    import_twice("kamailio")


def test_twilio_imports_exactly_once():
    import_twice("twilio")


def test_jsonl_imports_exactly_once():
    import_twice("jsonl")


def test_sigkill_mid_import_ends_with_exact_totals():
    n = 2000
    with stack() as s:
        setup_people(s)
        path = os.path.join(s.dir, "big.csv")
        base = 1793714531  # 2026-11-03 14:02:11 New York (19:02:11Z)
        total = {"1042": [0, 0], "1043": [0, 0]}
        with open(path, "w") as f:
            for i in range(n):
                mrn = "1042" if i % 2 == 0 else "1043"
                t = base + i * 600  # ten minutes apart, all in the past
                st = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t - 5 * 3600))
                en = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t - 5 * 3600 + 70))
                billsec = 30 + i % 40
                f.write(asterisk_line("%d.%d" % (t, i), "pt-" + mrn, "2015" if i % 3 else "2016",
                                      "555", st, st, en, 70, billsec, "ANSWERED") + "\n")
                total[mrn][0] += 1
                total[mrn][1] += billsec
        state = os.path.join(s.dir, "cdr-state")
        mp = os.path.join(s.dir, "map.ini")
        with open(mp, "w") as f:
            f.write(MAP)
        cmd = [os.path.join(BUILD, "clients/ccm-cdr/ccm-cdr"), "--format", "asterisk", "--map",
               mp, "--clinic", "C01", "--broker", s.broker_ep, "--state", state, "--json",
               "--timeout", "1000", "--deadline", "600", "--gmt", path]
        # --gmt: the dates written above are UTC-5 wall clock shifted by hand, so
        # read them as they are; the test only counts entries and seconds.
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        def a_quarter_in():
            assert p.poll() is None, "the importer finished before it could be killed"
            return s.ctl_json("stream", "fetch", "timetrack")["last_seq"] >= n // 4
        wait_until(a_quarter_in, "a quarter of the calls imported", timeout=60, interval=0.02)
        p.send_signal(signal.SIGKILL)
        p.wait()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=660)
        assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
        got = totals(s)
        assert got == {k: tuple(v) for k, v in total.items()}, (got, total)


def test_shared_line_simultaneous_calls_land_once_flagged():
    """A queue extension mapped to one staff id: each round's calls start at the
    same instant. Every call lands once; every entry says it overlaps, naming
    entries it really overlaps; a patient's minutes are the union of its calls."""
    rounds, per_round = 3, 200
    base = 1794319200  # 2026-11-10T14:00:00Z (09:00 in New York)
    with stack() as s:
        setup_people(s)
        for mrn in ("1042", "1043"):
            consent(s, mrn)
        path = os.path.join(s.dir, "queue.jsonl")
        want = {"1042": [0, 0], "1043": [0, 0]}  # entries, seconds
        longest = {}  # (mrn, round) -> seconds: the union of simultaneous calls
        with open(path, "w") as f:
            for r in range(rounds):
                start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + r * 3600))
                for i in range(per_round):
                    mrn = "1042" if i % 2 == 0 else "1043"
                    secs = 60 * (1 + i % 7)
                    f.write(json.dumps({"id": "q-%d-%d" % (r, i), "patient": mrn,
                                        "staff": "rn1", "start": start, "seconds": secs}) + "\n")
                    want[mrn][0] += 1
                    want[mrn][1] += secs
                    longest[mrn, r] = max(longest.get((mrn, r), 0), secs)
        r = cdr(s, "jsonl", path, os.path.join(s.dir, "cdr-state"), "--window", "64")
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-2000:])
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        assert summary["acknowledged"] == rounds * per_round and summary["pending"] == 0, summary
        assert "resend_ratio" in summary and "window" in summary, summary
        got, spans = {}, {}
        for mrn in ("1042", "1043"):
            es = entries(s, mrn)
            assert len({e["id"] for e in es}) == len(es), "an id listed twice"
            got[mrn] = [len(es), sum(e["seconds"] for e in es)]
            for e in es:
                spans[e["id"]] = (e["start_us"], e["start_us"] + e["seconds"] * 1000000, e)
        assert got == want, (got, want)
        for eid, (s0, e0, e) in spans.items():
            examples = e.get("overlaps", [])
            assert 1 <= len(examples) <= 3, (eid, examples)
            for x in examples:  # each names another entry of rn1 that overlaps it
                assert x != eid and x in spans, (eid, x)
                s1, e1, _ = spans[x]
                assert s1 < e0 and s0 < e1, (eid, x)
        for mrn in ("1042", "1043"):
            st = s.ctl_json("month", "status", "--clinic", "C01", "--mrn", mrn,
                            "--month", "2026-11")
            union = sum(longest[mrn, k] for k in range(rounds)) // 60
            assert st["total_minutes"] == union, (mrn, st, union)
        # exactly once: a fresh importer sends every call again; nothing changes
        seq = s.ctl_json("stream", "fetch", "timetrack")["last_seq"]
        r = cdr(s, "jsonl", path, os.path.join(s.dir, "fresh-state"), "--window", "64")
        assert r.returncode == 0, r.stderr[-2000:]
        assert s.ctl_json("stream", "fetch", "timetrack")["last_seq"] == seq
        assert {m: [len(entries(s, m)), sum(e["seconds"] for e in entries(s, m))]
                for m in ("1042", "1043")} == want


if __name__ == "__main__":
    sys.exit(run_tests([test_asterisk_imports_exactly_once,
                        test_freeswitch_imports_exactly_once,
                        test_kamailio_imports_exactly_once,
                        test_twilio_imports_exactly_once,
                        test_jsonl_imports_exactly_once,
                        test_sigkill_mid_import_ends_with_exact_totals,
                        test_shared_line_simultaneous_calls_land_once_flagged]))
