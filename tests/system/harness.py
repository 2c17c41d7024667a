"""Starts the real ccm processes on loopback for system tests.

A Stack owns a temporary directory (config file, LMDB data, logs), picks free
loopback ports, starts ccm-broker and the requested services, waits until each
service is registered with the broker (8/MMI), and runs the real ccmctl.
Nothing here mocks a ccm component: these are the binaries a user runs.

The helpers every system test shares live here once: free_port() and the retry
when a free port is taken before the broker binds it (bind_free_ports), and
wait_until(), the poll with a deadline that a test waits on instead of sleeping
(broker_harness.py, billable.py and the tests use them).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bind_free_ports(start, tries=5):
    """Runs start() until it returns True, at most `tries` times. A port free_port()
    found free may be taken by another process (another test running in parallel)
    before ours binds it: start() picks fresh ports, starts the process that binds
    them and returns True once it serves, False when its bind failed (then it is
    tried again on other ports); any other failure it raises."""
    for _ in range(tries):
        if start():
            return
    raise AssertionError("no free loopback ports could be bound in %d tries" % tries)


def wait_until(cond, what, timeout=20.0, interval=0.05):
    """Polls cond() until it returns something truthy (returned) or the deadline
    passes (AssertionError naming `what`; a callable `what` is called then, e.g.
    for a log's tail). cond may raise to fail at once."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s"
                                 % (timeout, what() if callable(what) else what))
        time.sleep(interval)


class Stack:
    def __init__(self, build, services=("enrollment",), clinics=("C01", "C02"), keep=False,
                 extra=None, zones=None):
        """extra: optional {service: {key: value}} written into that service's section.
        zones: optional {clinic: IANA zone}; clinics not named are in America/New_York."""
        self.build = os.path.abspath(build)
        self.dir = tempfile.mkdtemp(prefix="ccm-test-")
        self.keep = keep
        self.ports = [free_port() for _ in range(3)]  # broker endpoint, doorbell in, out
        self.broker_ep = "tcp://127.0.0.1:%d" % self.ports[0]
        self.services = list(services)
        self.procs = {}
        self.logs = {}
        self.config = os.path.join(self.dir, "ccm.conf")
        with open(self.config, "w") as f:
            f.write("[broker]\nendpoint = %s\ndoorbell_in = tcp://127.0.0.1:%d\n"
                    "doorbell_out = tcp://127.0.0.1:%d\nlog_level = debug\n\n"
                    % (self.broker_ep, self.ports[1], self.ports[2]))
            for s in self.services:
                f.write("[%s]\nbroker = %s\ndoorbell = tcp://127.0.0.1:%d\n"
                        "subscribe = tcp://127.0.0.1:%d\ndata = %s\n\n"
                        % (s, self.broker_ep, self.ports[1], self.ports[2],
                           os.path.join(self.dir, s)))
                for k, v in ((extra or {}).get(s) or {}).items():
                    f.write("%s = %s\n\n" % (k, v))  # still in section [s]
            f.write("[client]\nbroker = %s\ntimeout_ms = 1500\nretries = 2\n\n" % self.broker_ep)
            for c in clinics:
                f.write("[clinic %s]\nname = Clinic %s\ntimezone = %s\n"
                        "type = PHYSICIAN_PRACTICE\nplace_of_service = 11\n\n"
                        % (c, c, (zones or {}).get(c, "America/New_York")))

    # ---- processes ----
    def binary(self, name):
        paths = {"broker": "broker/ccm-broker", "ccmctl": "clients/ccmctl/ccmctl"}
        rel = paths.get(name, "services/%s/ccm-%s" % (name, name))
        return os.path.join(self.build, rel)

    def start(self, name, wait=True):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        self.logs[name] = log.name
        self.procs[name] = subprocess.Popen([self.binary(name), "--config", self.config],
                                            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        if wait and name != "broker":
            self.wait_ready(name)
        return self.procs[name]

    def start_all(self):
        # A `with Stack(...).start_all() as s:` never reaches __exit__ when this
        # raises, so stop whatever did start before passing the failure on.
        try:
            self.start_broker()
            for s in self.services:
                self.start(s)
        except BaseException:
            sys.stderr.write("stack failed to start; logs:\n%s\n"
                             % "\n".join("---- %s ----\n%s" % (n, self.log(n)[-2000:])
                                          for n in self.logs))
            self.close()
            raise
        return self

    def start_broker(self):
        """Starts the broker and waits until it answers; when it could not bind a
        port (taken since free_port()), moves the stack to fresh ports and retries."""
        tries = []

        def attempt():
            if tries:
                self.move_ports()
            tries.append(1)
            seen = len(self.log("broker"))
            p = self.start("broker")
            wait_until(lambda: p.poll() is not None or self.ctl(
                "ping", check=False, timeout_ms=300, retries=0).returncode == 0,
                lambda: "ccm-broker to answer; log:\n" + self.log("broker"))
            if p.poll() is None:
                return True
            self.procs.pop("broker")
            if "event=bind_failed" not in self.log("broker")[seen:]:
                raise AssertionError("ccm-broker exited %d at start; log:\n%s"
                                     % (p.returncode, self.log("broker")))
            return False

        bind_free_ports(attempt)

    def move_ports(self):
        """Rewrites the config (whatever a test added to it) for fresh loopback ports."""
        new = [free_port() for _ in self.ports]
        with open(self.config) as f:
            text = f.read()
        for old, port in zip(self.ports, new):
            text = text.replace("127.0.0.1:%d\n" % old, "127.0.0.1:%d\n" % port)
        with open(self.config, "w") as f:
            f.write(text)
        self.ports = new
        self.broker_ep = "tcp://127.0.0.1:%d" % new[0]

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.pop(name)
        p.send_signal(sig)
        return p.wait(timeout=30)

    def stop(self, name):
        return self.kill(name, signal.SIGTERM)

    def wait_ready(self, service, timeout=20.0):
        def registered():
            r = self.ctl("ping", "--json", check=False, timeout_ms=500, retries=0)
            return r.returncode == 0 and json.loads(r.stdout)["services"].get(service)
        wait_until(registered, lambda: "%s to register with the broker; log:\n%s"
                   % (service, self.log(service)), timeout=timeout, interval=0.1)

    def wait_log(self, name, text, timeout=5.0):
        """Waits until process `name`'s log contains text."""
        wait_until(lambda: text in self.log(name),
                   lambda: "%r in the %s log:\n%s" % (text, name, self.log(name)[-3000:]),
                   timeout=timeout)

    def log(self, name):
        try:
            with open(self.logs[name], "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (KeyError, OSError):
            return ""

    # ---- the real client ----
    def ctl(self, *args, check=True, timeout_ms=None, retries=None, stdin=None):
        cmd = [self.binary("ccmctl"), "--config", self.config]
        if timeout_ms is not None:
            cmd += ["--timeout", str(timeout_ms)]
        if retries is not None:
            cmd += ["--retries", str(retries)]
        cmd += list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError("ccmctl %s exited %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def ctl_json(self, *args, **kw):
        r = self.ctl(*(args + ("--json",)), **kw)
        return json.loads(r.stdout)

    def close(self):
        for name in list(self.procs):
            try:
                self.kill(name, signal.SIGTERM)
            except Exception:
                pass
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stderr.write("test data kept in %s\n" % self.dir)
            self.keep = True
            for name in self.logs:
                sys.stderr.write("---- %s log (tail) ----\n%s\n" % (name, self.log(name)[-4000:]))
        self.close()


def parallel(fn, items, workers=4):
    """fn(item) for every item on a few threads (each typically runs real clients);
    returns the results in order; the first exception is raised after all finish."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=workers) as ex:
        futures = [ex.submit(fn, it) for it in items]
    return [f.result() for f in futures]


def run_tests(tests):
    """Runs test functions in order; prints the closing line CTest users read."""
    passed = failed = 0
    for t in tests:
        t0 = time.time()
        try:
            t()
            passed += 1
            print("ok   %s (%.1f s)" % (t.__name__, time.time() - t0), flush=True)
        except Exception as e:  # report every failure, keep going
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e), flush=True)
            import traceback
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
