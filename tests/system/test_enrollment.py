"""System test: broker + enrollment + ccmctl, real processes on loopback.

A user registers patients, reads them back, lists a clinic, adds and resolves
conditions, and fetches the service's stream; bad input is refused with the
field named and changes nothing; retries with one request id apply once.
Usage: test_enrollment.py BUILD_DIR
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests  # noqa: E402

BUILD = sys.argv[1]

PATIENT = ["--clinic", "C01", "--mrn", "1042", "--mbi", "1EG4-TE5-MK73",
           "--family", "Rivera", "--given", "Ana", "--birth-date", "1948-02-29"]


def add(s, *extra, **kw):
    return s.ctl("patient", "add", *extra, **kw)


def stream(s, *extra):
    return s.ctl_json("stream", "fetch", "enrollment", *extra)


def test_register_read_list_fetch():
    with Stack(BUILD).start_all() as s:
        r = add(s, *PATIENT)
        assert "patient   C01/1042" in r.stdout, r.stdout
        assert "1EG4TE5MK73" in r.stdout, "MBI is stored without dashes: " + r.stdout
        p = s.ctl_json("patient", "show", "--clinic", "C01", "--mrn", "1042")
        assert p["family_name"] == "Rivera" and p["given_name"] == "Ana"
        assert p["birth_date"] == "1948-02-29" and p["mbi"] == "1EG4TE5MK73"
        add(s, "--clinic", "C01", "--mrn", "0007", "--mbi", "2AC3CD4EF56",
            "--family", "Okafor", "--given", "Ben", "--birth-date", "1950-06-01")
        add(s, "--clinic", "C02", "--mrn", "5000", "--mbi", "3AC3CD4EF56",
            "--family", "Chen", "--given", "Li", "--birth-date", "1941-01-15")
        lst = s.ctl_json("patient", "list", "--clinic", "C01")
        assert [x["mrn"] for x in lst["patients"]] == ["0007", "1042"], lst
        page = s.ctl_json("patient", "list", "--clinic", "C01", "--max", "1")
        assert [x["mrn"] for x in page["patients"]] == ["0007"] and page["more"] is True
        page2 = s.ctl_json("patient", "list", "--clinic", "C01", "--after", "0007")
        assert [x["mrn"] for x in page2["patients"]] == ["1042"]
        human = s.ctl("patient", "list", "--clinic", "C02").stdout
        assert "5000" in human and "Chen, Li" in human and "1042" not in human

        s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "e119",
              "--description", "Type 2 diabetes")
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "I10")
        s.ctl("condition", "resolve", "--clinic", "C01", "--mrn", "1042", "--icd10", "I10")
        p = s.ctl_json("patient", "show", "--clinic", "C01", "--mrn", "1042")
        conds = {c["icd10"]: c for c in p["conditions"]}
        assert set(conds) == {"E11.9", "I10"}, conds
        assert conds["E11.9"]["resolved_us"] == 0 and conds["I10"]["resolved_us"] > 0

        ev = stream(s)
        types = [e["type"] for e in ev["events"]]
        assert types == ["patient.registered"] * 3 + ["condition.added"] * 2 + \
            ["condition.resolved"], types
        assert [e["seq"] for e in ev["events"]] == [1, 2, 3, 4, 5, 6]
        assert ev["last_seq"] == 6 and ev["next_seq"] == 7
        assert ev["events"][0]["key"] == "C01/1042"
        assert ev["events"][0]["principal"] == "dev"
        assert ev["events"][5]["payload"]["conditions"][1]["resolved_us"] > 0
        part = stream(s, "--from", "4", "--max", "2")
        assert [e["seq"] for e in part["events"]] == [4, 5] and part["next_seq"] == 6
        only = stream(s, "--type", "condition.*")
        assert [e["seq"] for e in only["events"]] == [4, 5, 6]
        assert stream(s, "--from", "7")["events"] == []

        st = s.ctl_json("status")
        assert st["enrollment"]["stream_seq"] == 6 and st["enrollment"]["requests"] > 0
        assert st["careplan"] is None


def test_retry_with_same_request_id_applies_once():
    with Stack(BUILD).start_all() as s:
        add(s, *PATIENT, "--request-id", "r-1")
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "J44.9",
              "--request-id", "r-2")
        # The same requests again (a client retry): same answer, nothing new.
        add(s, *PATIENT, "--request-id", "r-1")
        r = s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "J44.9",
                  "--request-id", "r-2", "--json")
        assert '"J44.9"' in r.stdout
        assert stream(s)["last_seq"] == 2
        # Registering the same facts under a new request id is also harmless…
        add(s, *PATIENT)
        assert stream(s)["last_seq"] == 2
        # …but other facts for the same MRN are a conflict naming the field.
        bad = list(PATIENT)
        bad[bad.index("Ana")] = "Anna"
        r = add(s, *bad, check=False)
        assert r.returncode == 1 and "CONFLICT" in r.stderr and "given_name" in r.stderr


def test_bad_input_names_the_field_and_changes_nothing():
    with Stack(BUILD).start_all() as s:
        add(s, *PATIENT)
        before = stream(s)["last_seq"]
        cases = [
            (["patient", "add", "--clinic", "C01", "--mrn", "9", "--mbi", "1EG4TE5MK7",
              "--family", "X", "--given", "Y", "--birth-date", "1950-01-01"], "mbi"),
            (["patient", "add", "--clinic", "C01", "--mrn", "9", "--mbi", "1SG4TE5MK73",
              "--family", "X", "--given", "Y", "--birth-date", "1950-01-01"], "mbi"),
            (["patient", "add", "--clinic", "C01", "--mrn", "9", "--mbi", "2EG4TE5MK73",
              "--family", "X", "--given", "Y", "--birth-date", "1950-02-30"], "birth_date"),
            (["patient", "add", "--clinic", "C01", "--mrn", "9", "--mbi", "2EG4TE5MK73",
              "--family", "X", "--given", "Y", "--birth-date", "2999-01-01"], "birth_date"),
            (["patient", "add", "--clinic", "C01", "--mrn", "9", "--mbi", "2EG4TE5MK73",
              "--family", "X" * 101, "--given", "Y", "--birth-date", "1950-01-01"],
             "family_name"),
            (["patient", "add", "--clinic", "C01", "--mrn", "9 9", "--mbi", "2EG4TE5MK73",
              "--family", "X", "--given", "Y", "--birth-date", "1950-01-01"], "mrn"),
            (["patient", "add", "--clinic", "NOPE", "--mrn", "9", "--mbi", "2EG4TE5MK73",
              "--family", "X", "--given", "Y", "--birth-date", "1950-01-01"], "clinic"),
            (["patient", "add", "--clinic", "C01", "--mrn", "9", "--mbi", "1EG4TE5MK73",
              "--family", "X", "--given", "Y", "--birth-date", "1950-01-01"], "mbi"),
            (["condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "11.9"],
             "icd10"),
            (["condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "E11.99999"],
             "icd10"),
            (["condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "E1"], "icd10"),
            (["condition", "add", "--clinic", "C01", "--mrn", "404", "--icd10", "E11.9"], "mrn"),
            (["condition", "resolve", "--clinic", "C01", "--mrn", "1042", "--icd10", "E11.9"],
             "icd10"),
            (["patient", "show", "--clinic", "C02", "--mrn", "1042"], "mrn"),
        ]
        for args, field in cases:
            r = s.ctl(*args, "--json", check=False)
            assert r.returncode == 1, (args, r.returncode, r.stderr)
            err = __import__("json").loads(r.stdout)["error"]
            assert err["field"] == field, (args, err)
            assert field in err["message"], (args, err)
        assert stream(s)["last_seq"] == before, "a refused request changed the stream"
        p = s.ctl_json("patient", "show", "--clinic", "C01", "--mrn", "1042")
        assert p.get("conditions") is None, p

        # Usage errors never reach the service: exit code 2.
        for args in (["patient", "add", "--clinic", "C01"], ["patient", "frob"],
                     ["nosuch"], ["stream", "fetch", "enrollment", "--from", "x"]):
            r = s.ctl(*args, check=False)
            assert r.returncode == 2, (args, r.returncode, r.stderr)


def test_unreachable_broker_exits_3():
    with Stack(BUILD) as s:  # nothing started
        r = s.ctl("ping", check=False, timeout_ms=200, retries=1)
        assert r.returncode == 3 and "does not answer" in r.stderr, r.stderr
        r = s.ctl("patient", "show", "--clinic", "C01", "--mrn", "1", check=False,
                  timeout_ms=200, retries=0)
        assert r.returncode == 3, r.stderr


def test_data_survives_restart():
    with Stack(BUILD).start_all() as s:
        add(s, *PATIENT)
        s.stop("enrollment")
        s.start("enrollment")
        p = s.ctl_json("patient", "show", "--clinic", "C01", "--mrn", "1042")
        assert p["mbi"] == "1EG4TE5MK73"
        assert stream(s)["last_seq"] == 1


if __name__ == "__main__":
    sys.exit(run_tests([test_register_read_list_fetch,
                        test_retry_with_same_request_id_applies_once,
                        test_bad_input_names_the_field_and_changes_nothing,
                        test_unreachable_broker_exits_3,
                        test_data_survives_restart]))
