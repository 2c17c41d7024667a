"""System test: ccm-watch against the real services (broker, enrollment, and for the
billing group careplan, timetrack, billing), driven by the real ccmctl.

enrollment group: eligibility events reach a directory through doorbells; a
watcher killed with SIGKILL and restarted delivers every event exactly once (one
file per stream seq); a failing command stops delivery and the same event is
retried, never skipped; --clinic filters; usage errors.
billing group: a closed month's claim reaches ccm-watch with the codes `ccmctl
evaluate` gives, in JSON, CSV, X12 837P (checked by node-x12 when installed) and
FHIR; a late entry's version 2 is frequency 7 with REF*F8 and a new control
number; the adjustment of a paid claim is frequency 7 and its withdrawal a void
(frequency 8, REF*F8 naming the claim voided; FHIR status cancelled); a conflict
reaches only the clinic asked for; a watcher killed while a close is being
delivered receives every claim exactly once.
Usage: test_watch.py BUILD_DIR enrollment|billing
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests, wait_until  # noqa: E402
from billable import MONTH, NPI, billable, evaluate, local  # noqa: E402

BUILD = sys.argv[1]
GROUP = sys.argv[2] if len(sys.argv) > 2 else "enrollment"
WATCH = os.path.join(os.path.abspath(BUILD), "clients", "ccm-watch", "ccm-watch")
HERE = os.path.dirname(os.path.abspath(__file__))
X12_DIR = os.path.join(HERE, "..", "x12")


# ---- ccm-watch ----

def watch(s, *args, check=True):
    """ccm-watch --once with the stack's config; returns the CompletedProcess."""
    r = subprocess.run([WATCH, "--config", s.config, "--once"] + list(args),
                       capture_output=True, text=True, timeout=120, cwd=s.dir)
    if check and r.returncode != 0:
        raise AssertionError("ccm-watch %s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def start_watch(s, name, *args):
    """A long-running ccm-watch (follows doorbells); its log goes to the stack dir."""
    log = open(os.path.join(s.dir, name + ".log"), "ab")
    s.logs[name] = log.name
    s.procs[name] = subprocess.Popen([WATCH, "--config", s.config] + list(args),
                                     stdout=log, stderr=subprocess.STDOUT, cwd=s.dir)
    return s.procs[name]


def records(d, strict=True):
    """Files in an output directory: {name: text}. strict (no watcher running): a
    temporary file is an error; else one being written is ignored."""
    out = {}
    for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if n.startswith("."):
            assert not strict, "temporary file left in %s: %s" % (d, n)
            continue
        with open(os.path.join(d, n)) as f:
            out[n] = f.read()
    return out



def stream(s, service, typ):
    return s.ctl_json("stream", "fetch", service, "--type", typ, "--max", "1000")["events"]


def node_x12(path, frequency):
    """The independent X12 parse; returns False when node-x12 is not installed."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node or not os.path.isdir(os.path.join(X12_DIR, "node_modules", "node-x12")):
        print("note: node-x12 not installed (npm ci in tests/x12): X12 parse not checked here",
              flush=True)
        return False
    r = subprocess.run([node, os.path.join(X12_DIR, "check837.js"), path, str(frequency)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "node-x12 check failed:\n%s%s" % (r.stdout, r.stderr)
    return True


def segments(x12):
    return [seg.strip() for seg in x12.split("~") if seg.strip()]


# ---- enrollment group ----

def patient(s, mrn, mbi, clinic="C01", conditions=("E11.9", "I50.9")):
    s.ctl("patient", "add", "--clinic", clinic, "--mrn", mrn, "--mbi", mbi, "--family",
          "Rivera", "--given", "Ana", "--birth-date", "1948-02-29")
    for code in conditions:
        s.ctl("condition", "add", "--clinic", clinic, "--mrn", mrn, "--icd10", code,
              "--expected-months", "24", "--high-risk")


def test_eligibility_reaches_a_directory_once_across_a_kill():
    with Stack(BUILD, services=("enrollment",)).start_all() as s:
        out = os.path.join(s.dir, "out")
        args = ("--stream", "enrollment", "--state", os.path.join(s.dir, "w"), "--out",
                "dir:" + out, "--format", "json")
        start_watch(s, "watch", *args)
        patient(s, "1042", "1EG4TE5MK73")
        evs = stream(s, "enrollment", "eligibility")
        assert len(evs) == 2, evs  # NOT -> PCM -> CCM
        wait_until(lambda: len(records(out, False)) == 2, "two eligibility files", timeout=15)
        s.kill("watch")
        patient(s, "2000", "2EG4TE5MK73")
        patient(s, "3000", "3EG4TE5MK73", conditions=("E11.9",))
        evs = stream(s, "enrollment", "eligibility")
        assert len(evs) == 5, evs
        start_watch(s, "watch", *args)
        wait_until(lambda: len(records(out, False)) == 5,
                   "five eligibility files after restart", timeout=15)
        time.sleep(0.5)  # nothing more may come
        assert s.stop("watch") == 0, "a stopped watcher exits 0:\n" + s.log("watch")
        got = records(out)
        assert len(got) == 5, sorted(got)
        for e in evs:
            name = "%020d-%s.json" % (e["seq"], e["key"].replace("/", "_"))
            assert name in got, (name, sorted(got))
            rec = json.loads(got[name])
            assert rec["seq"] == e["seq"] and rec["type"] == "eligibility", rec
            assert rec["eligibility"]["mrn"] == e["payload"]["mrn"], rec
            assert rec["eligibility"]["eligibility"] == e["payload"]["eligibility"], rec
            assert "time" in rec
        # caught up: a --once run with the same state delivers nothing more
        watch(s, *args)
        assert len(records(out)) == 5


def test_failing_command_stops_and_the_same_event_is_retried():
    with Stack(BUILD, services=("enrollment",)).start_all() as s:
        patient(s, "1042", "1EG4TE5MK73")
        fail, log = os.path.join(s.dir, "FAIL"), os.path.join(s.dir, "delivered")
        cmd = ('test ! -e %s || exit 3; printf "%%s %%s %%s|" "$CCM_SEQ" "$CCM_EVENT_TYPE" '
               '"$CCM_CLAIM_ID" >> %s; cat >> %s' % (fail, log, log))
        args = ("--stream", "enrollment", "--state", os.path.join(s.dir, "w"), "--out",
                "exec:" + cmd, "--format", "json")
        open(fail, "w").close()
        r = watch(s, *args, check=False)
        assert r.returncode == 1 and "stopped at seq" in r.stderr, (r.returncode, r.stderr)
        assert not os.path.exists(log), "a failing command must not let the event pass"
        r = watch(s, *args, check=False)  # still failing: still the same event
        assert r.returncode == 1 and not os.path.exists(log)
        os.unlink(fail)
        watch(s, *args)
        with open(log) as f:
            lines = f.read().splitlines()
        evs = stream(s, "enrollment", "eligibility")
        assert len(lines) == len(evs) == 2, lines
        for line, e in zip(lines, evs):
            head, rec = line.split("|", 1)
            assert head == "%d eligibility C01/1042" % e["seq"], head
            assert json.loads(rec)["seq"] == e["seq"]
        watch(s, *args)
        with open(log) as f:
            assert len(f.read().splitlines()) == 2, "delivered twice"


def test_clinic_filter_and_usage_errors():
    with Stack(BUILD, services=("enrollment",)).start_all() as s:
        patient(s, "1042", "1EG4TE5MK73")
        patient(s, "77", "4EG4TE5MK73", clinic="C02")
        args = ("--stream", "enrollment", "--state", os.path.join(s.dir, "w"), "--out",
                "stdout", "--format", "json", "--clinic", "C02")
        r = watch(s, *args)
        recs = [json.loads(x) for x in r.stdout.splitlines()]
        assert len(recs) == 2 and {x["eligibility"]["clinic"] for x in recs} == {"C02"}, recs
        assert watch(s, *args).stdout == ""
        base = ["--state", os.path.join(s.dir, "u"), "--out", "stdout"]
        for bad in (["--stream", "enrollment", "--format", "837p"],
                    ["--stream", "billing", "--format", "csv", "--type", "claim.missed"],
                    ["--stream", "timetrack", "--format", "json"],
                    ["--stream", "billing", "--format", "xml"],
                    ["--stream", "billing", "--format", "json", "--out", "ftp:x"]):
            r = watch(s, *(base + bad), check=False)
            assert r.returncode == 2, (bad, r.returncode, r.stderr)


# ---- billing group ----

def billing_stack():
    return Stack(BUILD, services=("enrollment", "careplan", "timetrack", "billing"),
                 extra={"billing": {"close_after_days": "0"}}).start_all()


def watch_billing(s, state, out, fmt, *extra, check=True):
    return watch(s, "--stream", "billing", "--state", os.path.join(s.dir, state), "--out", out,
                 "--format", fmt, *extra, check=check)


def test_claim_reaches_watch_in_every_format():
    # the whole stack: enrollment, consent, care plan, minutes from the phone system
    with billing_stack() as s:
        billable(s, via_cdr=True)
        r = s.ctl_json("month", "close", "--month", MONTH)
        assert r["claims"] == 1, r
        ev = evaluate(s, (25, 22))
        want = [(l["code"], l["units"]) for l in ev["lines"]]
        # canonical JSON on stdout
        out = watch_billing(s, "wj", "stdout", "json").stdout.splitlines()
        assert len(out) == 1, out
        rec = json.loads(out[0])
        c = rec["claim"]
        assert rec["type"] == "claim.ready" and rec["claim_id"] == "C01/1042/%s/CCM#v1" % MONTH
        assert [(l["code"], l["units"]) for l in c["lines"]] == want, (c, ev)
        assert c["amount_cents"] == ev["amount_cents"] and c["mbi"] == "1EG4TE5MK73", c
        assert c["evidence"]["consent_id"] and c["evidence"]["time_entry_ids"], c
        # CSV: the header once, one row per line, the canonical columns
        csv = watch_billing(s, "wc", "stdout", "csv").stdout.splitlines()
        assert csv[0].startswith("clinic,claim_key,version,supersedes,mrn,mbi,month,dos,pos,")
        assert len(csv) == 1 + len(want), csv
        assert [tuple(x.split(",")[11:13]) for x in csv[1:]] == \
            [(code, str(units)) for code, units in want], csv
        # X12 837P into a directory, parsed by node-x12
        d = os.path.join(s.dir, "x12")
        watch_billing(s, "wx", "dir:" + d, "837p")
        files = records(d)
        assert len(files) == 1, files
        [(name, x12)] = files.items()
        assert name.endswith("-C01_1042_%s_CCM_v1.x12" % MONTH), name
        segs = segments(x12)
        clm = [x for x in segs if x.startswith("CLM*")]
        assert len(clm) == 1 and clm[0].split("*")[5] == "11:B:1", clm
        assert not [x for x in segs if x.startswith("REF*F8*")]
        assert [x.split("*")[1] for x in segs if x.startswith("SV1*")] == \
            ["HC:" + code for code, _ in want], segs
        assert "NM1*IL*1*RIVERA*ANA****MI*1EG4TE5MK73" in segs, segs
        assert "NM1*82*1*OSEI*KOFI****XX*" + NPI in segs, segs
        node_x12(os.path.join(d, name), 1)
        # FHIR R4 Claim
        f = json.loads(watch_billing(s, "wf", "stdout", "fhir").stdout)
        assert f["resourceType"] == "Claim" and f["status"] == "active", f
        assert f["billablePeriod"] == {"start": MONTH + "-01", "end": MONTH + "-31"}, f
        assert [i["productOrService"]["coding"][0]["code"] for i in f["item"]] == \
            [code for code, _ in want], f
        assert f["insurance"][0]["focal"] is True and "related" not in f


def test_late_entry_is_a_replacement_with_frequency_7():
    with billing_stack() as s:
        billable(s, minutes=(25, 10))
        s.ctl("month", "close", "--month", MONTH)
        d = os.path.join(s.dir, "x12")
        watch_billing(s, "wx", "dir:" + d, "837p")
        first = records(d)
        assert len(first) == 1, first
        s.ctl("time", "add", "--clinic", "C01", "--mrn", "1042", "--performer", "rn1",
              "--start", MONTH + "-20T10:00:00-04:00", "--minutes", "10",
              "--activity", "late note", "--event-id", "late-1")
        wait_until(lambda: len(stream(s, "billing", "claim.ready")) == 2, "version 2", timeout=15)
        watch_billing(s, "wx", "dir:" + d, "837p")
        got = records(d)
        assert len(got) == 2, sorted(got)
        [(name, x12)] = [(n, t) for n, t in got.items() if n not in first]
        assert name.endswith("_CCM_v2.x12"), name
        segs = segments(x12)
        clm = [x for x in segs if x.startswith("CLM*")][0]
        assert clm.split("*")[5] == "11:B:7", clm
        assert segs[segs.index(clm) + 1] == "REF*F8*C01/1042/%s/CCM#v1" % MONTH, segs
        isa = [segments(t)[0].split("*")[13] for t in (list(first.values())[0], x12)]
        assert isa[0] != isa[1] and int(isa[1]) == int(isa[0]) + 1, isa
        node_x12(os.path.join(d, name), 7)
        f = json.loads(watch_billing(s, "wf", "stdout", "fhir").stdout.splitlines()[-1])
        assert f["related"][0]["claim"]["identifier"]["value"] == "C01/1042/%s/CCM#v1" % MONTH


def clm(x12):
    """(CLM05-3 frequency, REF*F8 value or None) of an interchange."""
    segs = segments(x12)
    c = [x for x in segs if x.startswith("CLM*")][0]
    f8 = [x.split("*")[2] for x in segs if x.startswith("REF*F8*")]
    return c.split("*")[5].split(":")[2], f8[0] if f8 else None


def test_adjustment_and_withdrawal_reach_the_billing_system():
    key = "C01/1042/%s/CCM" % MONTH
    with billing_stack() as s:
        billable(s, minutes=(25, 10))
        s.ctl("month", "close", "--month", MONTH)
        s.ctl("claim", "ack", key + "#v1", "--status", "PAID")
        s.ctl("time", "add", "--clinic", "C01", "--mrn", "1042", "--performer", "rn1",
              "--start", MONTH + "-20T10:00:00-04:00", "--minutes", "10",
              "--activity", "late note", "--event-id", "late-1")
        wait_until(lambda: len(stream(s, "billing", "claim.ready")) == 2,
                   "the adjustment", timeout=15)
        # the patient had asked to stop in September: the month is withdrawn
        s.ctl("consent", "revoke", "--clinic", "C01", "--mrn", "1042", "--program", "CCM",
              "--at", local("2026-09-20", 12))
        wait_until(lambda: stream(s, "billing", "claim.withdraw"), "the withdrawal", timeout=15)
        # 837P follows claim.ready and claim.withdraw by default, in stream order
        d = os.path.join(s.dir, "x12")
        watch_billing(s, "wx", "dir:" + d, "837p")
        got = records(d)
        assert [n.split("-", 1)[1] for n in sorted(got)] == \
            ["C01_1042_%s_CCM_v%d.x12" % (MONTH, v) for v in (1, 2, 2)], sorted(got)
        assert [clm(got[n]) for n in sorted(got)] == \
            [("1", None), ("7", key + "#v1"), ("8", key + "#v2")], [clm(t) for t in got.values()]
        names = sorted(got)
        node_x12(os.path.join(d, names[1]), 7)
        # FHIR: the adjustment relates to the paid claim; the withdrawal cancels itself
        f = [json.loads(x) for x in watch_billing(s, "wf", "stdout", "fhir").stdout.splitlines()]
        assert [x["status"] for x in f] == ["active", "active", "cancelled"], f
        assert f[1]["related"][0]["claim"]["identifier"]["value"] == key + "#v1", f[1]
        assert f[2]["id"] == f[1]["id"] and f[2]["identifier"] == f[1]["identifier"], f
        # CSV cannot say "void": it renders claim.ready only
        csv = watch_billing(s, "wc", "stdout", "csv").stdout.splitlines()
        assert len(csv) == 1 + 1 + 2, csv
        r = watch_billing(s, "wc2", "stdout", "csv", "--type", "claim.withdraw", check=False)
        assert r.returncode == 2, (r.returncode, r.stderr)


def test_conflict_reaches_only_the_clinic_asked_for():
    with billing_stack() as s:
        billable(s)
        billable(s, clinic="C02", mrn="77")  # the same MBI at another clinic
        s.ctl("month", "close", "--month", MONTH, "--clinic", "C01")
        s.ctl("month", "close", "--month", MONTH, "--clinic", "C02")
        out = watch_billing(s, "w2", "stdout", "json", "--type", "claim.conflict",
                            "--clinic", "C02").stdout.splitlines()
        assert len(out) == 1, out
        rec = json.loads(out[0])
        assert rec["type"] == "claim.conflict" and rec["conflict"]["clinic"] == "C02", rec
        assert rec["conflict"]["other_clinic"] == "C01" and "1042" not in out[0], rec
        out = watch_billing(s, "w3", "stdout", "json", "--type", "claim.ready",
                            "--clinic", "C02").stdout
        assert out == "", out


def test_watch_killed_during_a_close_gets_every_claim_once():
    with billing_stack() as s:
        mbis = ["1EG4TE5MK73", "2EG4TE5MK73", "3EG4TE5MK73", "5EG4TE5MK73", "6EG4TE5MK73"]
        for i, mbi in enumerate(mbis):
            billable(s, mrn=str(1042 + i), mbi=mbi, people=(i == 0))
        d = os.path.join(s.dir, "out")
        args = ("--stream", "billing", "--state", os.path.join(s.dir, "w"), "--out", "dir:" + d,
                "--format", "837p")
        start_watch(s, "watch", *args)
        r = s.ctl_json("month", "close", "--month", MONTH)
        assert r["claims"] == len(mbis), r
        wait_until(lambda: len(records(d, False)) >= 1, "the first claim", timeout=15)
        s.kill("watch")  # SIGKILL: somewhere in the middle of delivering
        start_watch(s, "watch", *args)
        wait_until(lambda: len(records(d, False)) == len(mbis),
                   "every claim after the restart", timeout=15)
        time.sleep(0.5)
        assert s.stop("watch") == 0, "a stopped watcher exits 0:\n" + s.log("watch")
        got = records(d)
        evs = stream(s, "billing", "claim.ready")
        assert sorted(got) == sorted("%020d-%s.x12" % (e["seq"], e["payload"]["id"].replace(
            "/", "_").replace("#", "_")) for e in evs), (sorted(got), evs)
        controls = [segments(t)[0].split("*")[13] for t in got.values()]
        assert len(set(controls)) == len(controls), controls
        for name in got:
            node_x12(os.path.join(d, name), 1)


if __name__ == "__main__":
    if GROUP == "billing":
        tests = [test_claim_reaches_watch_in_every_format,
                 test_late_entry_is_a_replacement_with_frequency_7,
                 test_adjustment_and_withdrawal_reach_the_billing_system,
                 test_conflict_reaches_only_the_clinic_asked_for,
                 test_watch_killed_during_a_close_gets_every_claim_once]
    else:
        tests = [test_eligibility_reaches_a_directory_once_across_a_kill,
                 test_failing_command_stops_and_the_same_event_is_retried,
                 test_clinic_filter_and_usage_errors]
    sys.exit(run_tests(tests))
