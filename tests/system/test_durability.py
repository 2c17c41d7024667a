"""Durability: nothing acknowledged is lost, nothing is stored twice.

While the real pipeline client (lib/client) pipelines 10,000 idempotent
registrations, the enrollment service is SIGKILLed and restarted, then the
broker, then the service again. Afterwards every registration that got an OK
reply is stored exactly once, the stream holds exactly one event for each, and
the retries (same request ids) created no duplicates.
Usage: test_durability.py BUILD_DIR
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests  # noqa: E402

BUILD = sys.argv[1]
COUNT = 10000
# Sends per second at most: the run lasts >= 5 s on any machine, so the kills
# below land mid-run (at 15 %, 45 % and 75 % of the registrations).
RATE = 2000


def stream_seq(s):
    r = s.ctl("status", "--json", check=False, timeout_ms=300, retries=0)
    if r.returncode != 0:
        return -1
    st = json.loads(r.stdout).get("enrollment")
    return st["stream_seq"] if st else -1


def wait_seq(s, at_least, client, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if client.poll() is not None:
            raise AssertionError("the client finished before seq %d: %s"
                                 % (at_least, client.stdout.read()))
        if stream_seq(s) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("stream never reached seq %d" % at_least)


def all_events(s):
    events, nxt = [], 1
    while True:
        r = s.ctl_json("stream", "fetch", "enrollment", "--from", str(nxt), "--max", "1000")
        events += r["events"]
        if not r["events"] and r["next_seq"] > r["last_seq"]:
            return events
        nxt = r["next_seq"]


def all_patients(s):
    out, after = [], None
    while True:
        args = ["patient", "list", "--clinic", "C01", "--max", "1000"]
        if after:
            args += ["--after", after]
        r = s.ctl_json(*args)
        out += r.get("patients", [])
        if not r.get("more"):
            return out
        after = out[-1]["mrn"]


def test_kill_service_and_broker_while_pipelining():
    with Stack(BUILD).start_all() as s:
        client = subprocess.Popen(
            [os.path.join(BUILD, "tests/system/pipeline_client"), "--broker", s.broker_ep,
             "--clinic", "C01", "--count", str(COUNT), "--window", "300", "--timeout", "1000",
             "--deadline", "400", "--rate", str(RATE)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_seq(s, 1500, client)
            s.kill("enrollment")                 # SIGKILL mid-batch
            s.start("enrollment", wait=False)
            wait_seq(s, 4500, client)
            s.kill("broker")                     # SIGKILL the broker
            time.sleep(0.5)
            s.start("broker")
            wait_seq(s, 7500, client)
            s.kill("enrollment")
            s.start("enrollment", wait=False)
            out, err = client.communicate(timeout=420)
        finally:
            if client.poll() is None:
                client.kill()
        assert client.returncode == 0, "client: %s %s" % (out, err)
        summary = json.loads(out)
        print("client:", summary)
        assert summary["ok"] == COUNT and summary["failed"] == 0
        assert summary["resent"] > 0, \
            "the kills caused no retry, so nothing was tested: %s" % summary
        s.wait_ready("enrollment")

        events = all_events(s)
        keys = [e["key"] for e in events if e["type"] == "patient.registered"]
        assert len(keys) == COUNT, "stream holds %d registrations" % len(keys)
        assert len(set(keys)) == COUNT, "a registration was stored twice"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "seq gap"
        assert set(keys) == {"C01/P%d" % i for i in range(COUNT)}
        patients = all_patients(s)
        assert len(patients) == COUNT
        assert {p["mrn"] for p in patients} == {"P%d" % i for i in range(COUNT)}
        assert "event=ready" in s.log("enrollment")


if __name__ == "__main__":
    sys.exit(run_tests([test_kill_service_and_broker_while_pipelining]))
