#!/usr/bin/python3
"""Benchmark: durable registrations per second through the whole stack.

Starts the real broker and enrollment service on loopback (harness.Stack) and
runs the pipeline client with several window sizes: window 1 is one request
at a time (latency-bound: every reply waits for its own fsync), larger windows
show adaptive group commit. Prints figures; never fails on speed.
Usage: bench_enrollment.py BUILD_DIR [COUNT]
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from harness import Stack  # noqa: E402

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
print("%-8s %8s %10s %12s" % ("window", "count", "seconds", "regs/s"))
for window in (1, 16, 256):
    n = min(count, 500) if window == 1 else count
    with Stack(build).start_all() as s:
        out = subprocess.run(
            [os.path.join(build, "tests/system/pipeline_client"), "--broker", s.broker_ep,
             "--count", str(n), "--window", str(window), "--prefix", "B%d" % window],
            capture_output=True, text=True, check=True).stdout
        r = json.loads(out)
        st = s.ctl_json("status")["enrollment"]
        print("%-8d %8d %10.2f %12.0f   (batches %d, max commit %d us)"
              % (window, r["ok"], r["seconds"], r["per_second"], st["batches"],
                 st["commit_us_max"]))
