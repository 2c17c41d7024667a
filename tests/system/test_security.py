"""System test: CURVE authentication and principals with the real binaries.

Keys are made by the real `ccmctl keygen` in a temp directory; the broker runs
with [broker] key/allow, every service with its service:NAME key, ccmctl with
an admin key. Checked as a user would: a peer without a key, or with a key not
in the allow directory, gets nothing; a key removed from the directory is cut
off on its open connection within 5 s (and SIGHUP re-reads the directory); a
textbook 7/MDP worker (Python, frames by hand) with an unlisted key, a listed
non-service key or another service's key never receives a request; the
principal a service records is the caller's; doorbells need a key; the whole
flow (patient, time through ccm-cdr, month close, claim) works with CURVE on;
without keys only loopback endpoints are accepted, with keys others are.
Usage: test_security.py BUILD_DIR
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, free_port, run_tests, wait_until  # noqa: E402
from billable import billable, caught_up, cdr_minutes  # noqa: E402

BUILD = sys.argv[1]
SERVICES = ("enrollment", "careplan", "timetrack", "billing")
MDPC, MDPW = b"MDPC01", b"MDPW01"
READY, REQUEST, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x04", b"\x05"
CTX = zmq.Context()
CCMCTL = os.path.join(BUILD, "clients", "ccmctl", "ccmctl")


def keygen(d, name, *args):
    r = subprocess.run([CCMCTL, "keygen", name, "--dir", d] + list(args), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def key_text(path, which):
    m = re.search(r'%s-key = "(.{40})"' % which, open(path).read())
    assert m, "%s: no %s-key" % (path, which)
    return m.group(1)


class SecureStack(Stack):
    """The harness's stack with keys: the config is rewritten with key settings."""

    def __init__(self, services=SERVICES):
        super().__init__(BUILD, services=services, extra={"billing": {"close_after_days": "0"}})
        self.keys = os.path.join(self.dir, "keys")
        self.allow = os.path.join(self.dir, "allow")
        os.makedirs(self.allow)
        keygen(self.keys, "broker")
        for s in SERVICES:
            keygen(self.keys, s, "--role", "service:" + s)
        keygen(self.keys, "admin", "--role", "admin")
        keygen(self.keys, "alice", "--role", "coordinator", "--clinic", "C01")
        keygen(self.keys, "phones", "--role", "telephony", "--clinic", "C01")
        keygen(self.keys, "temp", "--role", "watcher")
        keygen(self.keys, "outsider", "--role", "admin")  # never admitted
        for n in list(SERVICES) + ["admin", "alice", "phones", "temp"]:
            shutil.copy(self.key(n, "pub"), self.allow)
        with open(self.config) as f:
            text = f.read()
        bk = self.key("broker", "pub")
        text = text.replace("log_level = debug\n", "log_level = debug\nkey = %s\nallow = %s\n"
                            % (self.key("broker", "key"), self.allow), 1)
        for s in services:
            text = text.replace("[%s]\n" % s, "[%s]\nkey = %s\nbroker_key = %s\n"
                                % (s, self.key(s, "key"), bk), 1)
        text = text.replace("[client]\n", "[client]\nkey = %s\nbroker_key = %s\n"
                            % (self.key("admin", "key"), bk), 1)
        with open(self.config, "w") as f:
            f.write(text)

    def key(self, name, kind):
        return os.path.join(self.keys, "%s.%s" % (name, kind))

    def socket(self, kind, name=None, endpoint=None):
        """A DEALER (or other) socket to the broker, CURVE with key `name` when given."""
        s = CTX.socket(kind)
        s.linger = 0
        if name:
            s.curve_serverkey = key_text(self.key("broker", "pub"), "public").encode()
            s.curve_publickey = key_text(self.key(name, "key"), "public").encode()
            s.curve_secretkey = key_text(self.key(name, "key"), "secret").encode()
        s.connect(endpoint or self.broker_ep)
        return s


def mmi(sock, service=b"enrollment", timeout_ms=3000):
    """The broker's 8/MMI answer on sock, or None when nothing comes back."""
    sock.send_multipart([b"", MDPC, b"mmi.service", service])
    if sock.poll(timeout_ms):
        return sock.recv_multipart()[3]
    return None


def test_no_key_and_unknown_key_get_nothing():
    with SecureStack(services=("enrollment",)).start_all() as s:
        assert s.ctl_json("ping")["services"]["enrollment"] is True  # admin key: in
        # no key: ccmctl without config, plain socket
        env = {k: v for k, v in os.environ.items() if not k.startswith("CCM_")}
        r = subprocess.run([CCMCTL, "--broker", s.broker_ep, "--timeout", "700", "--retries",
                            "0", "ping"], capture_output=True, text=True, env=env, timeout=30)
        assert r.returncode == 3, (r.returncode, r.stderr)
        plain = s.socket(zmq.DEALER)
        assert mmi(plain) is None, "a peer without a key got an answer"
        s.wait_log("broker", "event=handshake_failed")
        # a key that is not in the allow directory
        r = s.ctl("--key", s.key("outsider", "key"), "--broker-key", s.key("broker", "pub"),
                  "ping", check=False, timeout_ms=700, retries=0)
        assert r.returncode == 3, (r.returncode, r.stderr)
        outsider = s.socket(zmq.DEALER, "outsider")
        assert mmi(outsider) is None, "an unlisted key got an answer"
        s.wait_log("broker", "event=auth_refused key=%s"
                   % key_text(s.key("outsider", "pub"), "public"))
        # the wrong broker key: our handshake cannot even complete
        r = s.ctl("--key", s.key("admin", "key"), "--broker-key", s.key("alice", "pub"),
                  "ping", check=False, timeout_ms=700, retries=0)
        assert r.returncode == 3, (r.returncode, r.stderr)
        # a secret key file others can read is refused before anything is sent
        loose = os.path.join(s.dir, "loose.key")
        shutil.copy(s.key("admin", "key"), loose)
        os.chmod(loose, 0o644)
        r = s.ctl("--key", loose, "--broker-key", s.key("broker", "pub"), "ping", check=False)
        assert r.returncode == 3 and "chmod 600" in r.stderr, (r.returncode, r.stderr)


def test_removed_key_is_cut_off_on_its_open_connection():
    with SecureStack(services=("enrollment",)).start_all() as s:
        temp = s.socket(zmq.DEALER, "temp")
        mon = temp.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        assert mmi(temp) == b"200"  # admitted, connection open
        # SIGHUP re-reads the directory at once, even unchanged
        loads = s.log("broker").count("event=allow_loaded")
        s.procs["broker"].send_signal(signal.SIGHUP)
        wait_until(lambda: s.log("broker").count("event=allow_loaded") > loads,
                   "SIGHUP to re-read the allow directory", timeout=2)
        t0 = time.time()
        os.unlink(os.path.join(s.allow, "temp.pub"))
        events = []
        while zmq.EVENT_DISCONNECTED not in events:
            assert time.time() - t0 < 5.0, "the removed key's connection stayed open: %s" % events
            if mon.poll(50):
                events.append(recv_monitor_message(mon)["event"])
        cut = time.time() - t0
        s.wait_log("broker", "event=key_removed name=temp")
        # it may not come back: the reconnection is refused and nothing is answered
        assert mmi(temp, timeout_ms=2000) is None, "a removed key is still answered"
        deadline = time.time() + 5
        while zmq.EVENT_HANDSHAKE_FAILED_AUTH not in events:
            assert time.time() < deadline, "the removed key reconnected: %s" % events
            if mon.poll(50):
                events.append(recv_monitor_message(mon)["event"])
        temp.disable_monitor()
        # everyone else carries on: the service re-registers, the admin is served
        s.wait_ready("enrollment")
        assert s.ctl_json("patient", "list", "--clinic", "C01") is not None
        print("     removed key cut off after %.2f s" % cut)


def rogue(s, name, service=b"enrollment"):
    """A textbook 7/MDP worker: READY by hand, with key `name`."""
    w = s.socket(zmq.DEALER, name)
    w.send_multipart([b"", MDPW, READY, service])
    return w


def never_a_request(w, ms):
    """True when w got no REQUEST for ms (heartbeats and DISCONNECT may come)."""
    deadline = time.time() + ms / 1000.0
    while time.time() < deadline:
        if w.poll(50):
            m = w.recv_multipart()
            if len(m) > 2 and m[2] == REQUEST:
                return False
    return True


def got_disconnect(w, ms=3000):
    deadline = time.time() + ms / 1000.0
    while time.time() < deadline:
        if w.poll(50) and w.recv_multipart()[:3] == [b"", MDPW, DISCONNECT]:
            return True
    return False


def test_only_a_service_key_registers_as_that_service():
    with SecureStack(services=("enrollment",)).start_all() as s:
        unlisted = rogue(s, "outsider")
        coordinator = rogue(s, "alice")
        timetrack = rogue(s, "timetrack")
        assert got_disconnect(coordinator), "a coordinator key was let register"
        assert got_disconnect(timetrack), "a service:timetrack key was let register as enrollment"
        s.wait_log("broker", "event=ready_refused")
        log = s.log("broker")
        assert "principal=service:timetrack:*:timetrack" in log, log[-2000:]
        assert "principal=coordinator:C01:alice" in log, log[-2000:]
        # the real enrollment serves; the rogues get nothing
        for i in range(5):
            s.ctl("patient", "list", "--clinic", "C01")
        # with the real worker gone, a request waits for it and reaches no rogue
        s.stop("enrollment")
        wait_until(lambda: not s.ctl_json("ping")["services"]["enrollment"],
                   "enrollment to be gone after SIGTERM", timeout=10, interval=0.1)
        again = rogue(s, "timetrack")
        assert got_disconnect(again)
        r = s.ctl("patient", "list", "--clinic", "C01", check=False, timeout_ms=1000, retries=1)
        assert r.returncode == 3, (r.returncode, r.stdout)
        for w in (unlisted, coordinator, timetrack, again):
            assert never_a_request(w, 300), "a rogue worker received a request"
        assert s.ctl_json("ping")["services"]["enrollment"] is False
        # the real binary with another service's key is refused too, and backs off
        refused = s.log("broker").count("event=ready_refused")
        log = open(os.path.join(s.dir, "wrong-key.log"), "wb")
        p = subprocess.Popen([s.binary("enrollment"), "--config", s.config, "--key",
                              s.key("timetrack", "key"), "--data", os.path.join(s.dir, "e2")],
                             stdout=log, stderr=log)
        try:
            def refused_again():
                assert p.poll() is None, open(log.name).read()
                return s.log("broker").count("event=ready_refused") > refused
            wait_until(refused_again, lambda: "a refused READY; log:\n" + open(log.name).read(),
                       timeout=30)
            first = s.log("broker").count("event=ready_refused")
            time.sleep(3.0)  # a window to count retries in, not a wait for a condition
            n = s.log("broker").count("event=ready_refused") - first
            assert n <= 5, "%d more refused READYs in 3 s: no back-off" % n
            assert s.ctl_json("ping")["services"]["enrollment"] is False
            assert "event=registration_refused" in open(log.name).read()
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)


def test_principal_is_the_callers_and_doorbells_need_a_key():
    with SecureStack(services=("enrollment",)).start_all() as s:
        ports = s.ports
        sub_ok = s.socket(zmq.SUB, "temp", endpoint="tcp://127.0.0.1:%d" % ports[2])
        sub_plain = s.socket(zmq.SUB, endpoint="tcp://127.0.0.1:%d" % ports[2])
        for sub in (sub_ok, sub_plain):
            sub.setsockopt(zmq.SUBSCRIBE, b"enrollment")
        alice = ["--key", s.key("alice", "key"), "--broker-key", s.key("broker", "pub")]
        # a subscription is never acknowledged: change something until a doorbell rings
        deadline, mrn = time.time() + 15, 90
        while not sub_ok.poll(300):
            assert time.time() < deadline, "a subscriber with a key heard no doorbell"
            s.ctl("staff", "add", "--clinic", "C01", "--id", "s%d" % mrn, "--role",
                  "CLINICAL_STAFF", "--name", "Staff %d" % mrn)
            mrn += 1
        assert sub_ok.recv_multipart()[0] == b"enrollment"
        assert not sub_plain.poll(0), "a subscriber without a key heard a doorbell"
        s.ctl(*alice, "patient", "add", "--clinic", "C01", "--mrn", "77", "--mbi",
              "1EG4TE5MK73", "--family", "Doe", "--given", "Jo", "--birth-date", "1950-01-02")
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", "78", "--mbi", "2EG4TE5MK73",
              "--family", "Roe", "--given", "Al", "--birth-date", "1951-03-04")
        evs = s.ctl_json("stream", "fetch", "enrollment")["events"]
        who = {e["key"]: e["principal"] for e in evs if e["type"] == "patient.registered"}
        assert who == {"C01/77": "coordinator:C01:alice", "C01/78": "admin:*:admin"}, who
        assert not sub_plain.poll(500), "a subscriber without a key heard a doorbell"
        # a key's metadata change takes effect without reconnecting
        with open(os.path.join(s.allow, "alice.pub")) as f:
            text = f.read()
        with open(os.path.join(s.allow, "alice.pub"), "w") as f:
            f.write(text.replace('clinics = "C01"', 'clinics = "C01,C02"'))
        s.wait_log("broker", "principal=coordinator:C01,C02:alice")
        s.ctl(*alice, "patient", "add", "--clinic", "C01", "--mrn", "79", "--mbi",
              "3EG4TE5MK73", "--family", "Poe", "--given", "Ed", "--birth-date", "1952-05-06")
        evs = s.ctl_json("stream", "fetch", "enrollment", "--from", "1")["events"]
        who = {e["key"]: e["principal"] for e in evs if e["type"] == "patient.registered"}
        assert who["C01/79"] == "coordinator:C01,C02:alice", who


def test_full_flow_with_curve():
    with SecureStack().start_all() as s:
        billable(s, minutes=())  # people, patient, consent, care plan: as admin
        # minutes come from the phone system: ccm-cdr takes its keys from the environment
        os.environ["CCM_KEY"] = s.key("phones", "key")
        os.environ["CCM_BROKER_KEY"] = s.key("broker", "pub")
        try:
            cdr_minutes(s, "C01", "1042", (25, 22))
        finally:
            del os.environ["CCM_KEY"], os.environ["CCM_BROKER_KEY"]
        caught_up(s)
        r = s.ctl_json("month", "close", "--month", "2026-10")
        assert r["claims"] == 1, r
        claims = s.ctl_json("claim", "list", "--clinic", "C01", "--month", "2026-10")["claims"]
        assert len(claims) == 1 and claims[0]["version"] == 1, claims
        entries = s.ctl_json("stream", "fetch", "timetrack", "--type", "entry.added")["events"]
        assert entries and {e["principal"] for e in entries} == {"telephony:C01:phones"}, entries
        ready = s.ctl_json("stream", "fetch", "billing", "--type", "claim.ready")["events"]
        assert [e["key"] for e in ready] == ["C01/1042/2026-10/CCM"], ready
        caught_up(s)


def test_endpoints_loopback_without_keys_any_with_keys():
    broker = os.path.join(BUILD, "broker", "ccm-broker")
    port = free_port()
    r = subprocess.run([broker, "--endpoint", "tcp://*:%d" % port, "--doorbell-in", "",
                        "--doorbell-out", ""], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "ccmctl keygen" in r.stderr, r.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCM_")}
    r = subprocess.run([CCMCTL, "--broker", "tcp://0.0.0.0:%d" % port, "ping"],
                       capture_output=True, text=True, env=env, timeout=10)
    assert r.returncode == 3 and "ccmctl keygen" in r.stderr, r.stderr
    r = subprocess.run([os.path.join(BUILD, "services", "enrollment", "ccm-enrollment"),
                        "--broker", "tcp://0.0.0.0:%d" % port], capture_output=True, text=True,
                       env=env, timeout=10)
    assert r.returncode == 1 and "ccmctl keygen" in r.stderr, r.stderr
    with SecureStack(services=()) as s:
        k = s.key("broker", "key")
        # half a configuration is refused, and so is a secret key others can read
        r = subprocess.run([broker, "--endpoint", "tcp://127.0.0.1:%d" % port, "--key", k],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 1 and "allow" in r.stderr, r.stderr
        os.chmod(k, 0o640)
        r = subprocess.run([broker, "--endpoint", "tcp://127.0.0.1:%d" % port, "--key", k,
                            "--allow", s.allow], capture_output=True, text=True, timeout=10)
        assert r.returncode == 1 and "chmod 600" in r.stderr, r.stderr
        os.chmod(k, 0o600)
        # with keys the broker may listen on every interface; we reach it on loopback
        log = open(os.path.join(s.dir, "any.log"), "wb")
        p = subprocess.Popen([broker, "--endpoint", "tcp://*:%d" % port, "--doorbell-in", "",
                              "--doorbell-out", "", "--key", k, "--allow", s.allow],
                             stdout=log, stderr=log)
        try:
            c = s.socket(zmq.DEALER, "admin", endpoint="tcp://127.0.0.1:%d" % port)
            deadline = time.time() + 10
            while mmi(c, timeout_ms=300) != b"404":
                assert p.poll() is None and time.time() < deadline, \
                    open(os.path.join(s.dir, "any.log")).read()
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=10) == 0


if __name__ == "__main__":
    sys.exit(run_tests([test_no_key_and_unknown_key_get_nothing,
                        test_removed_key_is_cut_off_on_its_open_connection,
                        test_only_a_service_key_registers_as_that_service,
                        test_principal_is_the_callers_and_doorbells_need_a_key,
                        test_full_flow_with_curve,
                        test_endpoints_loopback_without_keys_any_with_keys]))
