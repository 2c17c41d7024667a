"""Bad input through the whole stack: garbage protobuf, an oversized message,
an invalid ICD-10 code, requests for services nobody serves. Each gets a clear
error (or, where 7/MDP has no reply, is dropped and logged); the processes keep
serving and the store is unchanged.

Frames are built by hand here (python3-zmq), as an independent client would.
Usage: test_bad_input.py BUILD_DIR
"""
import os
import sys

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests, wait_until  # noqa: E402

BUILD = sys.argv[1]
PATIENT = ["--clinic", "C01", "--mrn", "1042", "--mbi", "1EG4TE5MK73",
           "--family", "Rivera", "--given", "Ana", "--birth-date", "1948-02-29"]


def read_varint(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, i


def fields(b):
    """Decodes one protobuf message level into {field: [values]} (varint or bytes)."""
    out, i = {}, 0
    while i < len(b):
        key, i = read_varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 2:
            n, i = read_varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("unexpected wire type %d" % wt)
        out.setdefault(f, []).append(v)
    return out


def status_of(reply_body):
    """ccm.CommonReply.status (field 2) -> (code, message, field)."""
    st = fields(fields(reply_body)[2][0])
    return (st.get(1, [0])[0], st.get(2, [b""])[0].decode(), st.get(3, [b""])[0].decode())


class RawClient:
    def __init__(self, endpoint):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)

    def send(self, frames):
        self.sock.send_multipart(frames)

    def recv(self, timeout_ms=3000):
        if self.sock.poll(timeout_ms):
            return self.sock.recv_multipart()
        return None

    def close(self):
        self.sock.close()
        self.ctx.term()


def last_seq(s):
    return s.ctl_json("stream", "fetch", "enrollment", "--from", "1")["last_seq"]


def test_garbage_protobuf_is_invalid_argument():
    with Stack(BUILD).start_all() as s:
        s.ctl("patient", "add", *PATIENT)
        c = RawClient(s.broker_ep)
        for body in (b"\xff\xff\xff\xff\x0f\x01", b"\x0a\x05ab", b"\x82\x01\x03\x0a"):
            c.send([b"", b"MDPC01", b"enrollment", body])
            r = c.recv()
            assert r is not None, "no reply to garbage protobuf"
            assert r[:3] == [b"", b"MDPC01", b"enrollment"], r
            code, msg, field = status_of(r[3])
            assert code == 1 and field == "body" and "protobuf" in msg, (code, msg, field)
        c.close()
        assert last_seq(s) == 1
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "E11.9")
        assert last_seq(s) == 2


def test_invalid_icd10_changes_nothing():
    with Stack(BUILD).start_all() as s:
        s.ctl("patient", "add", *PATIENT)
        r = s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "E11.9.9",
                  check=False)
        assert r.returncode == 1 and "INVALID_ARGUMENT" in r.stderr and "icd10" in r.stderr
        assert last_seq(s) == 1
        assert "conditions" not in s.ctl_json("patient", "show", "--clinic", "C01", "--mrn", "1042")


def test_oversized_message_is_dropped_and_others_are_served():
    with Stack(BUILD).start_all() as s:
        c = RawClient(s.broker_ep)
        c.send([b"", b"MDPC01", b"enrollment", b"\x0a" + b"x" * (2 << 20)])
        assert c.recv(1500) is None, "an oversized request was answered"
        c.close()
        s.wait_log("broker", "event=peer_disconnected")  # the drop is logged
        s.ctl("patient", "add", *PATIENT)
        assert last_seq(s) == 1
        assert s.procs["broker"].poll() is None and s.procs["enrollment"].poll() is None


def test_unknown_service_gets_no_reply_and_broker_keeps_serving():
    with Stack(BUILD).start_all() as s:
        r = s.ctl("stream", "fetch", "nosuch", check=False, timeout_ms=300, retries=1)
        assert r.returncode == 3 and 'service "nosuch"' in r.stderr, r.stderr
        mmi = s.ctl_json("ping")
        assert mmi["services"]["enrollment"] is True
        c = RawClient(s.broker_ep)
        c.send([b"", b"MDPC01", b"mmi.service", b"nosuch"])
        assert c.recv()[3] == b"404"
        c.close()


def test_malformed_frames_are_dropped_and_logged():
    with Stack(BUILD).start_all() as s:
        c = RawClient(s.broker_ep)
        bad = [
            [b"", b"MDPC01"],                              # truncated: no service, no body
            [b"", b"MDPC01", b"enrollment"],               # no body
            [b"", b"MDPX01", b"enrollment", b""],          # wrong protocol header
            [b"MDPC01", b"enrollment", b""],               # no empty delimiter
            [b"", b"MDPC01", b"e" * 65, b""],              # service name too long
            [b"", b"MDPW01", b"\x09"],                     # unknown worker command
            [b"", b"MDPW01", b"\x02", b"x", b"", b"y"],    # a worker may not send REQUEST
        ]
        for frames in bad:
            c.send(frames)
        assert c.recv(1000) in (None, [b"", b"MDPW01", b"\x05"]), "malformed input was answered"
        c.close()
        # every one is logged: six malformed messages, and a REQUEST from a worker
        wait_until(lambda: s.log("broker").count("event=bad_message") >= 6
                   and "event=bad_command" in s.log("broker"),
                   lambda: "the broker to log each malformed message:\n" + s.log("broker"))
        log = s.log("broker")
        assert log.count("event=bad_message") == 6, log
        assert log.count("event=bad_command") == 1 and "workers do not send REQUEST" in log, log
        assert log.count("not 7/MDP") == 2 and log.count("malformed client request") == 3, log
        assert "unknown worker command" in log, log
        s.ctl("patient", "add", *PATIENT)
        assert last_seq(s) == 1


if __name__ == "__main__":
    sys.exit(run_tests([test_garbage_protobuf_is_invalid_argument,
                        test_invalid_icd10_changes_nothing,
                        test_oversized_message_is_dropped_and_others_are_served,
                        test_unknown_service_gets_no_reply_and_broker_keeps_serving,
                        test_malformed_frames_are_dropped_and_logged]))
