"""Bad input against the real ccm-broker, from hand-built Python peers: truncated
frames, wrong protocol headers, garbage worker commands, too many frames, an
oversized message, garbage bytes on the TCP port, a request for a service nobody
serves. Each is dropped and logged with the peer and the reason (stderr), and
afterwards the broker still serves a normal request.

What a client sees for a service nobody serves: nothing. 7/MDP has no error
reply; the broker holds the request for 7.5 s (liveness x heartbeat) in case a
worker registers, then drops it and logs event=request_dropped (checked in
test_mdp_conformance). The client's own timeout fires; a ccm client retries and
then reports the service unreachable; mmi.service tells it the service is 404.
Usage: broker_bad_input.py BUILD_DIR
"""
import os
import socket
import sys

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from broker_harness import (DISCONNECT, MDPC, MDPW, READY, REPLY, Broker,  # noqa: E402
                            echo_once, mmi, nothing_but_heartbeats, recv_skipping_heartbeats,
                            run_tests, wait_mmi, wait_until, worker)

BUILD = sys.argv[1]


def serving(b):
    """A fresh client and worker get a normal request through: the broker serves."""
    w = worker(b, b"echo")
    c = b.socket(zmq.DEALER)
    wait_mmi(c, b"echo", b"200")
    echo_once(b, c, w, b"after the bad input")
    assert b.alive()
    return w, c


def test_malformed_client_frames_dropped_and_logged():
    with Broker(BUILD) as b:
        w, c = serving(b)
        bad = b.socket(zmq.DEALER)
        cases = [
            ([b"", MDPC], "malformed client request: no service frame"),
            ([b"", MDPC, b"echo"], "malformed client request: no body frame"),
            ([b"", MDPC, b"", b"x"], "malformed client request: empty service name"),
            ([b"", MDPC, b"e" * 65, b"x"], "service name over 64 bytes"),
            ([b"", MDPC, b"echo\nforged line", b"x"], "service name must be printable"),
            ([b"", b"MDPX01", b"echo", b"x"], "not 7/MDP: wrong or missing protocol header"),
            ([b"", b"MDPC02", b"echo", b"x"], "not 7/MDP: wrong or missing protocol header"),
            ([MDPC, b"echo", b"x"], "missing empty delimiter frame"),
            ([b"x" * 3], "not 7/MDP"),
            ([b"f"] * 65, "more than 64 frames"),
        ]
        for frames, reason in cases:
            before = b.log().count("event=bad_message")
            bad.send_multipart(frames)
            b.wait_log(reason)
            wait_until(lambda: b.log().count("event=bad_message") > before,
                       "a bad_message line for %r" % frames[:4], timeout=3, interval=0.02)
        # none reached the worker, none was answered
        assert nothing_but_heartbeats(w, 300)
        assert bad.poll(0) == 0
        log = b.log()
        assert "peer=" in log.split("more than 64 frames")[0].splitlines()[-1], "peer not logged"
        echo_once(b, c, w, b"still serving")


def test_garbage_worker_commands_dropped_and_logged():
    with Broker(BUILD) as b:
        w, c = serving(b)
        g = b.socket(zmq.DEALER)
        cases = [
            ([b"", MDPW], "no command frame"),
            ([b"", MDPW, b"\x09"], "unknown worker command"),
            ([b"", MDPW, b"\x00"], "command=0x00"),
            ([b"", MDPW, b"\x01\x02", b"svc"], "command frame is not one byte"),
            ([b"", MDPW, READY], "READY needs exactly one service"),
            ([b"", MDPW, READY, b"a", b"b"], "READY needs exactly one service"),
            ([b"", MDPW, REPLY, b"client", b""], "REQUEST/REPLY need client address"),
            ([b"", MDPW, b"\x04", b"junk"], "HEARTBEAT/DISCONNECT take no frames"),
        ]
        for frames, reason in cases:
            g.send_multipart(frames)
            b.wait_log(reason)
        assert g.poll(200) == 0, "an invalid message from an unknown peer was answered"
        # a registered worker that sends garbage is treated as invalid: DISCONNECT, forgotten
        bad = worker(b, b"flaky")
        wait_mmi(c, b"flaky", b"200")
        bad.send_multipart([b"", MDPW, b"\x07"])
        assert recv_skipping_heartbeats(bad) == [b"", MDPW, DISCONNECT]
        assert mmi(c, b"flaky") == b"404"
        b.wait_log("reason=protocol_error")
        # a non-printable service name is refused
        np_ = worker(b, b"bad\x00name")
        assert recv_skipping_heartbeats(np_) == [b"", MDPW, DISCONNECT]
        b.wait_log("service name must be printable")
        echo_once(b, c, w, b"still serving")


def test_oversized_message_drops_only_that_connection():
    with Broker(BUILD, max_msg_size="64k") as b:
        w, c = serving(b)
        big = b.socket(zmq.DEALER)
        big.send_multipart([b"", MDPC, b"echo", b"x" * (100 << 10)])  # > 64 KiB
        assert big.poll(1000) == 0, "an oversized request was answered"
        assert nothing_but_heartbeats(w, 200), "an oversized request reached the worker"
        b.wait_log("event=peer_disconnected")
        assert "a message over max_msg_size" in b.log()
        # just under the limit still goes through, and others were never disturbed
        echo_once(b, c, w, b"y" * (60 << 10))
        # the same from a worker: its connection is dropped, the broker serves on
        w2 = worker(b, b"echo")
        wait_mmi(c, b"echo", b"200")
        dropped = b.log().count("event=peer_disconnected")
        w2.send_multipart([b"", MDPW, REPLY, b"nobody", b"", b"z" * (100 << 10)])
        wait_until(lambda: b.log().count("event=peer_disconnected") > dropped,
                   "the oversized worker's connection to be dropped", timeout=3, interval=0.02)
        echo_once(b, c, w, b"after")


def test_garbage_bytes_on_the_tcp_port():
    with Broker(BUILD) as b:
        host, port = b.ep[len("tcp://"):].rsplit(":", 1)
        for junk in (b"GET / HTTP/1.0\r\n\r\n" * 4, b"\xff" + b"\x00" * 8 + b"\x7f\x03" * 40):
            s = socket.create_connection((host, int(port)), timeout=2)
            s.sendall(junk)
            s.settimeout(0.5)
            try:
                while s.recv(4096):
                    pass
            except (socket.timeout, ConnectionResetError):
                pass
            s.close()
        b.wait_log("event=handshake_failed")
        b.wait_log("ZMTP protocol error")
        assert b.alive()
        serving(b)


def test_unknown_service_unanswered_broker_keeps_serving():
    with Broker(BUILD) as b:
        w, c = serving(b)
        lost = b.socket(zmq.DEALER)
        lost.send_multipart([b"", MDPC, b"nosuch", b"hello?"])
        assert lost.poll(1000) == 0, "the broker answered for a service nobody serves"
        assert mmi(lost, b"nosuch") == b"404"  # what a client can ask instead
        b.wait_log("event=request_held service=nosuch")
        # many invented names are bounded, not an unbounded memory growth
        for i in range(1200):
            lost.send_multipart([b"", MDPC, b"svc%d" % i, b"x"])
        b.wait_log("service names already known")
        echo_once(b, c, w, b"still serving")


if __name__ == "__main__":
    sys.exit(run_tests([test_malformed_client_frames_dropped_and_logged,
                        test_garbage_worker_commands_dropped_and_logged,
                        test_oversized_message_drops_only_that_connection,
                        test_garbage_bytes_on_the_tcp_port,
                        test_unknown_service_unanswered_broker_keeps_serving]))
