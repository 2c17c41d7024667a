"""Runs the real ccm-broker for the 7/MDP tests, with peers written independently
of lib/: frames are built by hand from the RFCs (rfc.zeromq.org/spec/7 and
spec/8) with Debian's python3-zmq. Nothing here uses a ccm library.

Broker(build) picks free loopback ports, writes a config file (max_msg_size,
and an endpoint the --endpoint flag must override), starts ccm-broker with
--endpoint/--doorbell-in/--doorbell-out/--log-level debug, and waits until it
answers mmi.service. log() is its stderr; stop() sends SIGTERM and returns the
exit code. Free ports, their retry and polling come from harness.py.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import bind_free_ports, free_port, run_tests, wait_until  # noqa: E402,F401

MDPC, MDPW = b"MDPC01", b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
CTX = zmq.Context()


class Broker:
    def __init__(self, build, max_msg_size="64k", log_level="debug"):
        self.exe = os.path.join(os.path.abspath(build), "broker", "ccm-broker")
        self.dir = tempfile.mkdtemp(prefix="ccm-broker-test-")
        self.config = os.path.join(self.dir, "ccm.conf")
        self.logfile = os.path.join(self.dir, "broker.log")
        self.max_msg_size = max_msg_size
        self.log_level = log_level
        self.proc = None
        self.sockets = []

    def start(self):
        bind_free_ports(self._start_on_free_ports)
        return self

    def _start_on_free_ports(self):
        """One try of start() (harness.bind_free_ports): False when a port was taken."""
        ports = [free_port() for _ in range(3)]
        self.ep = "tcp://127.0.0.1:%d" % ports[0]
        self.doorbell_in = "tcp://127.0.0.1:%d" % ports[1]
        self.doorbell_out = "tcp://127.0.0.1:%d" % ports[2]
        with open(self.config, "w") as f:
            # endpoint here is wrong on purpose: the flag must win
            f.write("[broker]\nendpoint = tcp://127.0.0.1:%d\nmax_msg_size = %s\n"
                    "log_level = error\n" % (free_port(), self.max_msg_size))
        seen = len(self.log()) if os.path.exists(self.logfile) else 0
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            [self.exe, "--config", self.config, "--endpoint", self.ep,
             "--doorbell-in", self.doorbell_in, "--doorbell-out", self.doorbell_out,
             "--log-level", self.log_level],
            stdout=log, stderr=log, cwd=self.dir)
        log.close()
        if self._answers():
            return True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if "bind_failed" not in self.log()[seen:]:
            raise AssertionError("ccm-broker did not start; log:\n" + self.log())
        return False

    def _answers(self):
        c = self.socket(zmq.DEALER)
        deadline = time.time() + 10
        while time.time() < deadline and self.proc.poll() is None:
            c.send_multipart([b"", MDPC, b"mmi.service", b"x"])
            if c.poll(200):
                c.recv_multipart()
                c.close()
                return True
        c.close()
        return False

    def socket(self, kind, connect=True):
        s = CTX.socket(kind)
        s.linger = 0
        if connect:
            s.connect(self.ep)
        self.sockets.append(s)
        return s

    def log(self):
        with open(self.logfile, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=3.0):
        wait_until(lambda: text in self.log(),
                   lambda: "%r in the broker log:\n%s" % (text, self.log()[-3000:]),
                   timeout=timeout, interval=0.02)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)

    def close(self, keep=False):
        for s in self.sockets:
            s.close()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            sys.stderr.write("---- broker log (tail) ----\n%s\n" % self.log()[-4000:])
            self.close()
            return
        # every test ends with a clean SIGTERM stop (a sanitizer build fails it on leaks)
        code = self.stop()
        log = self.log()
        self.close()
        assert code == 0, "ccm-broker exited %d on SIGTERM; log:\n%s" % (code, log[-4000:])


# ---- hand-built 7/MDP peers ----

def recv(s, timeout_ms=3000):
    if s.poll(timeout_ms):
        return s.recv_multipart()
    raise AssertionError("nothing received within %d ms" % timeout_ms)


def recv_skipping_heartbeats(s, timeout_ms=3000):
    deadline = time.time() + timeout_ms / 1000.0
    while True:
        m = recv(s, max(int((deadline - time.time()) * 1000), 1))
        if m != [b"", MDPW, HEARTBEAT]:
            return m


def nothing_but_heartbeats(s, timeout_ms):
    """True when s receives nothing but broker heartbeats for timeout_ms."""
    deadline = time.time() + timeout_ms / 1000.0
    while time.time() < deadline:
        if s.poll(max(int((deadline - time.time()) * 1000), 1)):
            m = s.recv_multipart()
            if m != [b"", MDPW, HEARTBEAT]:
                return False
    return True


def worker(b, service):
    w = b.socket(zmq.DEALER)
    w.send_multipart([b"", MDPW, READY, service])
    return w


def mmi(c, service, name=b"mmi.service"):
    c.send_multipart([b"", MDPC, name, service])
    r = recv(c)
    assert r[:3] == [b"", MDPC, name], r
    assert len(r) == 4, r
    return r[3]


def wait_mmi(c, service, code, timeout=5.0):
    wait_until(lambda: mmi(c, service) == code,
               "mmi.service %r to say %r" % (service, code), timeout=timeout, interval=0.02)


def echo_once(b, c, w, body=b"ping", service=b"echo"):
    """Client c -> broker -> worker w -> reply; asserts every frame on the way."""
    c.send_multipart([b"", MDPC, service, body])
    m = recv_skipping_heartbeats(w)
    assert len(m) == 7 and m[:3] == [b"", MDPW, REQUEST] and m[4] == b"", m
    assert m[5] == b"dev" and m[6] == body, m
    w.send_multipart([b"", MDPW, REPLY, m[3], b"", body.upper()])
    assert recv(c) == [b"", MDPC, service, body.upper()]
