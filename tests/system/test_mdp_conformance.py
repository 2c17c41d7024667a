"""7/MDP + 8/MMI conformance of ccm-broker, tested by peers written independently
of lib/: a client and workers in Python (Debian's python3-zmq) whose frames are
built by hand from the RFCs (rfc.zeromq.org/spec/7 and /spec/8).
Usage: test_mdp_conformance.py BUILD_DIR
"""
import os
import sys
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests  # noqa: E402

BUILD = sys.argv[1]
MDPC, MDPW = b"MDPC01", b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
CTX = zmq.Context()


def sock(kind, endpoint):
    s = CTX.socket(kind)
    s.linger = 0
    s.connect(endpoint)
    return s


def recv(s, timeout_ms=3000):
    if s.poll(timeout_ms):
        return s.recv_multipart()
    raise AssertionError("nothing received within %d ms" % timeout_ms)


def recv_skipping_heartbeats(s, timeout_ms=3000):
    deadline = time.time() + timeout_ms / 1000.0
    while True:
        left = int((deadline - time.time()) * 1000)
        m = recv(s, max(left, 1))
        if m != [b"", MDPW, HEARTBEAT]:
            return m


def worker(endpoint, service):
    w = sock(zmq.DEALER, endpoint)
    w.send_multipart([b"", MDPW, READY, service])
    return w


def mmi(c, service):
    c.send_multipart([b"", MDPC, b"mmi.service", service])
    r = recv(c)
    assert r[:3] == [b"", MDPC, b"mmi.service"], r
    return r[3]


def broker_stack():
    return Stack(BUILD, services=()).start_all()


def test_request_reply_through_dealer_and_req():
    with broker_stack() as s:
        w = worker(s.broker_ep, b"echo")
        c = sock(zmq.DEALER, s.broker_ep)
        deadline = time.time() + 5
        while mmi(c, b"echo") != b"200":
            assert time.time() < deadline, "worker never registered"
            time.sleep(0.05)
        c.send_multipart([b"", MDPC, b"echo", b"hello"])
        m = recv_skipping_heartbeats(w)
        # "" MDPW01 0x02 client "" principal body
        assert len(m) == 7 and m[:3] == [b"", MDPW, REQUEST] and m[4] == b"", m
        assert m[5] == b"dev", "principal frame: %r" % m[5]
        assert m[6] == b"hello"
        w.send_multipart([b"", MDPW, REPLY, m[3], b"", b"HELLO"])
        assert recv(c) == [b"", MDPC, b"echo", b"HELLO"]

        r = sock(zmq.REQ, s.broker_ep)  # REQ adds and strips the empty frame itself
        r.send_multipart([MDPC, b"echo", b"from req"])
        m = recv_skipping_heartbeats(w)
        assert m[6] == b"from req"
        w.send_multipart([b"", MDPW, REPLY, m[3], b"", b"ok"])
        assert recv(r) == [MDPC, b"echo", b"ok"]
        for x in (w, c, r):
            x.close()


def test_mmi_service_200_and_404():
    with broker_stack() as s:
        c = sock(zmq.DEALER, s.broker_ep)
        assert mmi(c, b"echo") == b"404"
        w = worker(s.broker_ep, b"echo")
        deadline = time.time() + 5
        while mmi(c, b"echo") != b"200":
            assert time.time() < deadline
            time.sleep(0.05)
        assert mmi(c, b"nosuch") == b"404"
        w.send_multipart([b"", MDPW, DISCONNECT])
        deadline = time.time() + 5
        while mmi(c, b"echo") != b"404":
            assert time.time() < deadline, "DISCONNECT did not unregister the worker"
            time.sleep(0.05)
        w.close()
        c.close()


def test_heartbeats_keep_alive_and_silence_expires():
    with broker_stack() as s:
        alive = worker(s.broker_ep, b"alive")
        silent = worker(s.broker_ep, b"silent")
        c = sock(zmq.DEALER, s.broker_ep)
        time.sleep(0.3)
        assert mmi(c, b"alive") == b"200" and mmi(c, b"silent") == b"200"
        beats_seen = 0
        end = time.time() + 9.0  # > liveness 3 x 2.5 s
        while time.time() < end:
            alive.send_multipart([b"", MDPW, HEARTBEAT])
            if alive.poll(1000):
                m = alive.recv_multipart()
                assert m == [b"", MDPW, HEARTBEAT], m
                beats_seen += 1
        assert beats_seen >= 2, "the broker sent %d heartbeats in 9 s" % beats_seen
        assert mmi(c, b"alive") == b"200", "a heartbeating worker was expired"
        assert mmi(c, b"silent") == b"404", "a silent worker was not expired"
        # the expired worker is unknown now: its next command is answered DISCONNECT
        silent.send_multipart([b"", MDPW, HEARTBEAT])
        assert recv_skipping_heartbeats(silent) == [b"", MDPW, DISCONNECT]
        c.send_multipart([b"", MDPC, b"alive", b"still?"])
        m = recv_skipping_heartbeats(alive)
        alive.send_multipart([b"", MDPW, REPLY, m[3], b"", b"yes"])
        assert recv(c) == [b"", MDPC, b"alive", b"yes"]
        for x in (alive, silent, c):
            x.close()


def test_two_workers_share_a_service():
    with broker_stack() as s:
        ws = [worker(s.broker_ep, b"rr"), worker(s.broker_ep, b"rr")]
        c = sock(zmq.DEALER, s.broker_ep)
        time.sleep(0.3)
        # One at a time: each request goes to the worker with fewer outstanding.
        counts = [0, 0]
        for i in range(10):
            c.send_multipart([b"", MDPC, b"rr", b"%d" % i])
            poller = zmq.Poller()
            for w in ws:
                poller.register(w, zmq.POLLIN)
            got = None
            deadline = time.time() + 3
            while got is None and time.time() < deadline:
                for sock_, _ in poller.poll(500):
                    m = sock_.recv_multipart()
                    if m[2] == REQUEST:
                        got = (sock_, m)
            assert got, "request %d was not delivered" % i
            w, m = got
            counts[ws.index(w)] += 1
            # answer every other request, so outstanding counts differ and both are used
            if i % 2 == 1:
                w.send_multipart([b"", MDPW, REPLY, m[3], b"", m[6]])
        assert counts[0] > 0 and counts[1] > 0, counts
        for x in ws + [c]:
            x.close()


def test_protocol_errors_disconnect_workers():
    with broker_stack() as s:
        stranger = sock(zmq.DEALER, s.broker_ep)
        stranger.send_multipart([b"", MDPW, HEARTBEAT])  # never sent READY
        assert recv(stranger) == [b"", MDPW, DISCONNECT]
        twice = worker(s.broker_ep, b"x")
        twice.send_multipart([b"", MDPW, READY, b"x"])   # READY twice
        assert recv_skipping_heartbeats(twice) == [b"", MDPW, DISCONNECT]
        mmi_worker = worker(s.broker_ep, b"mmi.service")  # the broker's own namespace
        assert recv_skipping_heartbeats(mmi_worker) == [b"", MDPW, DISCONNECT]
        c = sock(zmq.DEALER, s.broker_ep)
        assert mmi(c, b"x") == b"404"
        for x in (stranger, twice, mmi_worker, c):
            x.close()
        assert "ready_twice" in s.log("broker")


if __name__ == "__main__":
    code = run_tests([test_request_reply_through_dealer_and_req,
                      test_mmi_service_200_and_404,
                      test_heartbeats_keep_alive_and_silence_expires,
                      test_two_workers_share_a_service,
                      test_protocol_errors_disconnect_workers])
    CTX.term()
    sys.exit(code)
