"""7/MDP + 8/MMI conformance of ccm-broker, tested by peers written independently
of lib/: clients (DEALER and REQ) and workers in Python (Debian's python3-zmq)
whose frames are built by hand from the RFCs (rfc.zeromq.org/spec/7, spec/8).
Also: doorbell forwarding, flags over config, refusal of non-loopback endpoints,
clean exit on SIGTERM.
Usage: test_mdp_conformance.py BUILD_DIR
"""
import os
import re
import subprocess
import sys
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from broker_harness import (CTX, DISCONNECT, HEARTBEAT, MDPC, MDPW, READY, REPLY,  # noqa: E402
                            REQUEST, Broker, echo_once, mmi, nothing_but_heartbeats, recv,
                            recv_skipping_heartbeats, run_tests, wait_mmi, wait_until, worker)

BUILD = sys.argv[1]


def test_request_reply_dealer_and_req_with_principal():
    with Broker(BUILD) as b:
        w = worker(b, b"echo")
        c = b.socket(zmq.DEALER)
        wait_mmi(c, b"echo", b"200")
        echo_once(b, c, w, b"hello")  # principal frame "dev" checked there

        r = b.socket(zmq.REQ)  # REQ adds and strips the empty frame itself
        r.send_multipart([MDPC, b"echo", b"from req"])
        m = recv_skipping_heartbeats(w)
        assert m[:3] == [b"", MDPW, REQUEST] and m[4:] == [b"", b"dev", b"from req"], m
        w.send_multipart([b"", MDPW, REPLY, m[3], b"", b"ok"])
        assert recv(r) == [MDPC, b"echo", b"ok"]

        # 7/MDP bodies may have several frames: passed through both ways
        c.send_multipart([b"", MDPC, b"echo", b"part1", b"part2"])
        m = recv_skipping_heartbeats(w)
        assert m[5:] == [b"dev", b"part1", b"part2"], m
        w.send_multipart([b"", MDPW, REPLY, m[3], b"", b"r1", b"r2"])
        assert recv(c) == [b"", MDPC, b"echo", b"r1", b"r2"]

        # a request sent before any worker exists waits for one (held, not lost)
        c.send_multipart([b"", MDPC, b"late", b"early bird"])
        b.wait_log("event=request_held service=late")  # held before any worker came
        late = worker(b, b"late")
        m = recv_skipping_heartbeats(late)
        assert m[6] == b"early bird", m
        late.send_multipart([b"", MDPW, REPLY, m[3], b"", b"served"])
        assert recv(c) == [b"", MDPC, b"late", b"served"]


def test_mmi_200_404_501():
    with Broker(BUILD) as b:
        c = b.socket(zmq.DEALER)
        assert mmi(c, b"echo") == b"404"
        w = worker(b, b"echo")
        wait_mmi(c, b"echo", b"200")
        assert mmi(c, b"nosuch") == b"404"
        assert mmi(c, b"echo", name=b"mmi.nosuch") == b"501"  # unimplemented mmi.* (8/MMI)
        r = b.socket(zmq.REQ)
        r.send_multipart([MDPC, b"mmi.service", b"echo"])
        assert recv(r) == [MDPC, b"mmi.service", b"200"]
        w.send_multipart([b"", MDPW, DISCONNECT])
        wait_mmi(c, b"echo", b"404")
        assert "reason=disconnect" in b.log()


def test_heartbeats_expiry_and_held_request_ttl():
    """One 9 s window (> liveness 3 x 2.5 s): a heartbeating worker stays, a silent
    one expires, and a request for a service nobody serves is dropped and logged."""
    with Broker(BUILD) as b:
        alive = worker(b, b"alive")
        silent = worker(b, b"silent")
        c = b.socket(zmq.DEALER)
        wait_mmi(c, b"alive", b"200")
        wait_mmi(c, b"silent", b"200")
        orphan = b.socket(zmq.DEALER)
        orphan.send_multipart([b"", MDPC, b"nobody", b"anyone?"])
        beats, t0 = 0, time.time()
        while time.time() - t0 < 9.0:
            alive.send_multipart([b"", MDPW, HEARTBEAT])
            if alive.poll(1000):
                m = alive.recv_multipart()
                assert m == [b"", MDPW, HEARTBEAT], m
                beats += 1
        assert beats >= 3, "the broker sent %d heartbeats in 9 s" % beats
        assert mmi(c, b"alive") == b"200", "a heartbeating worker was expired"
        assert mmi(c, b"silent") == b"404", "a silent worker was not expired"
        log = b.log()
        assert "service=silent" in log and "reason=expired" in log, log
        assert "event=request_dropped service=nobody count=1" in log, log
        assert orphan.poll(0) == 0, "a request for a service nobody serves was answered"
        # the expired worker is unknown now: its next command is answered DISCONNECT
        silent.send_multipart([b"", MDPW, HEARTBEAT])
        assert recv_skipping_heartbeats(silent) == [b"", MDPW, DISCONNECT]
        echo_once(b, c, alive, b"still there?", service=b"alive")


def test_workers_of_one_service_take_turns():
    with Broker(BUILD) as b:
        ws = [worker(b, b"rr"), worker(b, b"rr"), worker(b, b"rr")]
        c = b.socket(zmq.DEALER)
        # all three registered before the first request, so the turns are of three
        wait_until(lambda: re.search(r"event=worker_ready service=rr worker=\S+ workers=3",
                                     b.log()), "three rr workers", timeout=5)
        wait_mmi(c, b"rr", b"200")
        poller = zmq.Poller()
        for w in ws:
            poller.register(w, zmq.POLLIN)

        def next_request():
            deadline = time.time() + 3
            while time.time() < deadline:
                for s, _ in poller.poll(200):
                    m = s.recv_multipart()
                    if m[2] == REQUEST:
                        return ws.index(s), m
            raise AssertionError("request not delivered")

        # one at a time, each answered: strict turns (least recently used worker)
        order = []
        for i in range(9):
            c.send_multipart([b"", MDPC, b"rr", b"%d" % i])
            k, m = next_request()
            order.append(k)
            ws[k].send_multipart([b"", MDPW, REPLY, m[3], b"", m[6]])
            assert recv(c)[3] == b"%d" % i
        assert sorted(order) == [0, 0, 0, 1, 1, 1, 2, 2, 2], order
        assert all(order[i] != order[i + 1] for i in range(8)), order
        # pipelined, none answered: spread over the workers (fewest outstanding)
        for i in range(6):
            c.send_multipart([b"", MDPC, b"rr", b"p%d" % i])
        got = [next_request()[0] for _ in range(6)]
        assert sorted(got) == [0, 0, 1, 1, 2, 2], got


def test_worker_protocol_errors_get_disconnect():
    with Broker(BUILD) as b:
        stranger = b.socket(zmq.DEALER)
        stranger.send_multipart([b"", MDPW, HEARTBEAT])  # never sent READY
        assert recv(stranger) == [b"", MDPW, DISCONNECT]
        stranger.send_multipart([b"", MDPW, REPLY, b"someone", b"", b"x"])
        assert recv(stranger) == [b"", MDPW, DISCONNECT]
        twice = worker(b, b"x")
        twice.send_multipart([b"", MDPW, READY, b"x"])  # READY twice
        assert recv_skipping_heartbeats(twice) == [b"", MDPW, DISCONNECT]
        mmi_worker = worker(b, b"mmi.service")  # the broker's own namespace
        assert recv_skipping_heartbeats(mmi_worker) == [b"", MDPW, DISCONNECT]
        req = worker(b, b"y")
        req.send_multipart([b"", MDPW, REQUEST, b"c", b"", b"b"])  # valid but unexpected
        assert recv_skipping_heartbeats(req) == [b"", MDPW, DISCONNECT]
        c = b.socket(zmq.DEALER)
        assert mmi(c, b"x") == b"404" and mmi(c, b"y") == b"404"
        log = b.log()
        assert "ready_twice" in log and "mmi.* is the broker's own namespace" in log, log


def test_doorbells_forwarded_both_ways():
    with Broker(BUILD) as b:
        pub = CTX.socket(zmq.PUB)
        sub = CTX.socket(zmq.SUB)
        for s in (pub, sub):
            s.linger = 0
            b.sockets.append(s)
        pub.connect(b.doorbell_in)
        sub.connect(b.doorbell_out)
        sub.setsockopt(zmq.SUBSCRIBE, b"enrollment")
        got = None
        deadline = time.time() + 5
        while got is None and time.time() < deadline:  # until the subscription is upstream
            pub.send_multipart([b"careplan", b"\x08\x01"])  # not subscribed: filtered
            pub.send_multipart([b"enrollment", b"\x08\x07"])
            if sub.poll(100):
                got = sub.recv_multipart()
        assert got == [b"enrollment", b"\x08\x07"], got
        while sub.poll(300):  # the SUB's filter went upstream: careplan never arrives
            assert sub.recv_multipart()[0] == b"enrollment"


def test_sigterm_exits_cleanly_and_workers_hear_disconnect():
    b = Broker(BUILD).start()
    try:
        w = worker(b, b"echo")
        c = b.socket(zmq.DEALER)
        wait_mmi(c, b"echo", b"200")
        assert b.stop() == 0
        assert recv_skipping_heartbeats(w, 2000) == [b"", MDPW, DISCONNECT]
        log = b.log()
        assert "event=stopped signal=TERM exit=0" in log, log
    finally:
        b.close()


def test_command_line():
    exe = os.path.join(BUILD, "broker", "ccm-broker")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--endpoint" in r.stdout and "--doorbell-in" in r.stdout
    r = subprocess.run([exe, "--bogus"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    # a non-loopback bind without CURVE keys: refused at start, with the reason
    for ep in ("tcp://0.0.0.0:7799", "tcp://*:7799", "tcp://127.example.org:7799"):
        r = subprocess.run([exe, "--endpoint", ep], capture_output=True, text=True, timeout=10)
        assert r.returncode == 1, (ep, r.returncode, r.stderr)
        assert "event=refused" in r.stderr and "not a loopback address" in r.stderr, r.stderr
    r = subprocess.run([exe, "--endpoint", "tcp://127.0.0.1:1", "--doorbell-out",
                        "tcp://10.1.2.3:7712"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "tcp://10.1.2.3:7712" in r.stderr, r.stderr
    r = subprocess.run([exe, "--log-level", "loud"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "log_level" in r.stderr, r.stderr
    r = subprocess.run([exe, "--config", "/nonexistent/ccm.conf"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2 and "/nonexistent/ccm.conf" in r.stderr, r.stderr


if __name__ == "__main__":
    code = run_tests([test_request_reply_dealer_and_req_with_principal,
                      test_mmi_200_404_501,
                      test_heartbeats_expiry_and_held_request_ttl,
                      test_workers_of_one_service_take_turns,
                      test_worker_protocol_errors_get_disconnect,
                      test_doorbells_forwarded_both_ways,
                      test_sigterm_exits_cleanly_and_workers_hear_disconnect,
                      test_command_line])
    sys.exit(code)
