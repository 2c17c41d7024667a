#!/usr/bin/python3
"""Benchmark: call records imported per second, one busy staff id vs 100 staff.

Starts the real broker, enrollment and timetrack on loopback (harness.Stack),
registers the patients (pipeline_client) and 100 staff (ccmctl), then imports N
JSON Lines calls with the real ccm-cdr twice, each time into a fresh stack:

  spread  N calls of 100 staff (--staff), each staff's calls one after another;
  shared  the same N calls all made by ONE staff id (a shared main line or a
          queue extension mapped to one person): every round's calls start at
          the same instant, so each overlaps every other of its round.

For each it prints records/s (acknowledged / the importer's elapsed time),
resends and their ratio to first sends, reconnects and the service's longest
commit. Speed is never judged:
with --check it only verifies that every call landed exactly once (exit 1 if
not), which is how CTest runs it, at a tiny size.

Usage: bench_cdr.py BUILD_DIR [--calls N] [--rounds R] [--staff S] [--window W]
                    [--timeout MS] [--deadline S] [--only spread|shared] [--check]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from harness import Stack  # noqa: E402

CALL_SECONDS = 300


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("build")
    p.add_argument("--calls", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=1,
                   help="shared: the calls come in R rounds of N/R simultaneous calls")
    p.add_argument("--staff", type=int, default=100, help="staff of the spread import")
    p.add_argument("--window", type=int, default=1000)
    p.add_argument("--timeout", type=int, default=2500)
    p.add_argument("--deadline", type=int, default=600)
    p.add_argument("--only", choices=("spread", "shared"))
    p.add_argument("--check", action="store_true",
                   help="verify every call landed once (exit 1 if not); no figures judged")
    a = p.parse_args()
    if a.calls < a.rounds or a.calls % a.rounds or a.calls // a.rounds > 90000:
        p.error("--calls must be a multiple of --rounds, at most 90000 per round")
    return a


def write_calls(path, kind, calls, rounds, nstaff):
    """Round r's calls go to patients B0 .. B(per-1), one call each."""
    per = calls // rounds
    base = (int(time.time()) // 86400 - 20) * 86400  # 20 days ago, 00:00Z: all in the past
    with open(path, "w") as f:
        for i in range(calls):
            r, k = divmod(i, per)
            if kind == "shared":
                staff, start = "s000", base + r * 3600
            else:  # each staff member's calls one after another, 10 minutes apart
                staff, start = "s%03d" % (i % nstaff), base + (i // nstaff) * 600
            f.write(json.dumps({
                "id": "%s-%d" % (kind, i), "patient": "B%d" % k, "staff": staff,
                "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
                "seconds": CALL_SECONDS, "activity": "call"}) + "\n")
    return per


def setup(s, build, patients, nstaff):
    subprocess.run([os.path.join(build, "tests/system/pipeline_client"), "--broker", s.broker_ep,
                    "--count", str(patients), "--window", "256", "--prefix", "B"],
                   capture_output=True, text=True, check=True)
    for i in range(nstaff):
        s.ctl("staff", "add", "--clinic", "C01", "--id", "s%03d" % i, "--role", "CLINICAL_STAFF",
              "--name", "Staff %d" % i)
    deadline = time.time() + 120  # timetrack learns them from enrollment's stream
    last = "B%d" % (patients - 1)
    while s.ctl("time", "list", "--clinic", "C01", "--mrn", last, check=False).returncode:
        assert time.time() < deadline, "timetrack never learned the patients"
        time.sleep(0.2)
    time.sleep(1)  # and the staff, registered before the last patient's event was applied


def check(s, kind, patients, rounds):
    """Every call landed once, with its seconds; the shared line's entries are flagged."""
    bad = []
    for k in range(patients):
        es = s.ctl_json("time", "list", "--clinic", "C01", "--mrn", "B%d" % k)["entries"]
        if len(es) != rounds or any(e["seconds"] != CALL_SECONDS for e in es):
            bad.append(("B%d" % k, len(es)))
        elif kind == "shared" and patients > 1 and not all(e.get("overlaps") for e in es):
            bad.append(("B%d" % k, "not flagged"))
    return bad


def run(a, kind):
    build = os.path.abspath(a.build)
    with Stack(build, services=("enrollment", "timetrack"), clinics=("C01",)).start_all() as s:
        path = os.path.join(s.dir, "calls.jsonl")
        patients = write_calls(path, kind, a.calls, a.rounds, a.staff)
        setup(s, build, patients, a.staff)
        mp = os.path.join(s.dir, "map.ini")
        with open(mp, "w") as f:
            f.write("[defaults]\nactivity = call\nservice = CCM\n")
        cmd = [os.path.join(build, "clients/ccm-cdr/ccm-cdr"), "--format", "jsonl", "--map", mp,
               "--clinic", "C01", "--broker", s.broker_ep, "--state",
               os.path.join(s.dir, "cdr-state"), "--json", "--quiet", "--window", str(a.window),
               "--timeout", str(a.timeout), "--deadline", str(a.deadline), path]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.deadline + 120)
        lines = r.stdout.strip().splitlines()
        if not lines:
            raise SystemExit("ccm-cdr printed no summary (exit %d): %s"
                             % (r.returncode, r.stderr[-2000:]))
        sm = json.loads(lines[-1])
        # a service still busy with what was sent may not answer (then "-")
        st = s.ctl("status", "--json", check=False)
        st = (json.loads(st.stdout) if st.returncode == 0 else {}).get("timetrack") or {}
        commit = "%.0f" % (int(st["commit_us_max"]) / 1000.0) if "commit_us_max" in st else "-"
        print("%-7s %7d %7d %8.1f %10.0f %8d %6.3f %5d %9s"
              % (kind, a.calls, sm["acknowledged"], sm["elapsed"],
                 sm["acknowledged"] / max(sm["elapsed"], 1e-3), sm["resent"],
                 sm["resent"] / max(sm["sent"], 1), sm["reconnects"], commit), flush=True)
        if not a.check:
            return True
        bad = check(s, kind, patients, a.rounds)
        ok = r.returncode == 0 and sm["acknowledged"] == a.calls and sm["pending"] == 0 and not bad
        if not ok:
            print("CHECK FAILED %s: exit %d, summary %s, patients wrong %s"
                  % (kind, r.returncode, sm, bad[:10]), flush=True)
        return ok


def main():
    a = parse_args()
    print("calls: %d in %d round(s), window %d, timeout %d ms"
          % (a.calls, a.rounds, a.window, a.timeout))
    print("%-7s %7s %7s %8s %10s %8s %6s %5s %9s"
          % ("staff", "calls", "acked", "seconds", "records/s", "resent", "ratio", "recon",
             "commit_ms"), flush=True)
    kinds = [a.only] if a.only else ["spread", "shared"]
    results = [run(a, k) for k in kinds]
    if a.check:
        print("%d passed, %d failed" % (results.count(True), results.count(False)))
        return 0 if all(results) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
