"""System test: broker + enrollment + careplan + ccmctl, real processes on loopback.

A coordinator writes a care plan for a patient enrollment registered, is told
which required elements are missing when establishing too early, establishes
it, revises it twice, diffs and reads every version, exports FHIR, records the
copy given to the patient; bad input is refused with the field named and
changes nothing; retries with one request id apply once; a passed review date
produces one careplan.review_due event and shows in the due list.
Usage: test_careplan.py BUILD_DIR
"""
import copy
import datetime
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests, wait_until  # noqa: E402

BUILD = sys.argv[1]
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "careplan")
PLAN = os.path.join(DATA, "plan.json")
DRAFT = os.path.join(DATA, "plan-draft.json")
PAT = ["--clinic", "C01", "--mrn", "1042"]
REQUIRED = ["problems", "expected_outcome", "goals", "symptom_management", "interventions",
            "medication_management", "functional_assessment", "review"]


def stack():
    return Stack(BUILD, services=("enrollment", "careplan"),
                 extra={"careplan": {"review_check_ms": 200}}).start_all()


def register(s, mrn="1042", mbi="1EG4TE5MK73"):
    s.ctl("patient", "add", "--clinic", "C01", "--mrn", mrn, "--mbi", mbi, "--family", "Rivera",
          "--given", "Ana", "--birth-date", "1948-02-29")
    # careplan learns of the patient from enrollment's stream: wait until it does
    # (an unknown patient is NOT_FOUND on "mrn", a known one without a plan on "program").
    def known():
        r = s.ctl("careplan", "show", "--clinic", "C01", "--mrn", mrn, "--json", check=False)
        return r.returncode == 0 or json.loads(r.stdout)["error"]["field"] != "mrn"
    wait_until(known, "careplan to learn of patient %s" % mrn, timeout=15, interval=0.1)


def yesterday():
    """A date that has begun in every clinic (they use America/New_York, at most a day
    behind this machine's calendar), so it is never "in the future" for the service."""
    return (datetime.date.today() - datetime.timedelta(days=1)).isoformat()


def last_seq(s):
    return s.ctl_json("stream", "fetch", "careplan", "--max", "1")["last_seq"]


def write_plan(d, plan, name):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        json.dump(plan, f)
    return path


def load_plan():
    with open(PLAN) as f:
        return json.load(f)


def test_establish_revise_diff_read_export():
    with stack() as s:
        register(s)
        before = last_seq(s)
        # An unknown patient is refused, naming the field.
        r = s.ctl("careplan", "set", "--clinic", "C01", "--mrn", "404", "--file", PLAN,
                  "--json", check=False)
        assert r.returncode == 1 and "NOT_FOUND" in r.stderr, r.stderr
        assert json.loads(r.stdout)["error"]["field"] == "mrn"
        assert last_seq(s) == before

        v1 = s.ctl_json("careplan", "set", *PAT, "--file", DRAFT, "--author", "RN Park",
                        "--note", "first draft")
        assert v1["version"]["version"] == 1 and v1["careplan"]["status"] == "DRAFT"
        assert v1["version"]["plan"]["problems"][0]["icd10"] == "E11.9"
        # Establishing now is refused, and every missing element is named.
        seq = last_seq(s)
        r = s.ctl("careplan", "establish", *PAT, "--json", check=False)
        assert r.returncode == 1 and "FAILED_PRECONDITION" in r.stderr, r.stderr
        err = json.loads(r.stdout)["error"]
        missing = ["expected_outcome", "symptom_management", "interventions",
                   "functional_assessment", "review"]
        for m in missing:
            assert m in err["message"] and m in err["field"].split(","), (m, err)
        for present in ("problems", "goals", "medication_management"):
            assert present not in err["field"].split(","), err
        assert last_seq(s) == seq, "a refused establish changed the stream"

        v2 = s.ctl_json("careplan", "set", *PAT, "--file", PLAN, "--author", "Dr. Osei",
                        "--substantial", "--note", "complete plan")
        assert v2["version"]["version"] == 2 and "missing" not in v2, v2
        est = s.ctl_json("careplan", "establish", *PAT, "--author", "Dr. Osei")
        assert est["careplan"]["status"] == "ESTABLISHED"
        assert est["careplan"]["established_version"] == 2

        # Two revisions.
        with tempfile.TemporaryDirectory() as d:
            p = load_plan()
            p["goals"].append({"description": "Walk 30 minutes a day", "target": "5 days a week"})
            s.ctl("careplan", "set", *PAT, "--file", write_plan(d, p, "v3.json"), "--note", "walk")
            p = copy.deepcopy(p)
            p["goals"][0]["target_date"] = "2027-09-30"
            del p["caregiver"]
            p["medications"] = [m for m in p["medications"] if m["name"] != "Furosemide"]
            s.ctl("careplan", "set", *PAT, "--file", write_plan(d, p, "v4.json"), "--substantial")

        for n in (1, 2, 3, 4):
            v = s.ctl_json("careplan", "show", *PAT, "--version", str(n))
            assert v["version"]["version"] == n, v
            assert v["careplan"]["current_version"] == 4
            assert v["careplan"]["status"] == "ESTABLISHED"
        assert len(s.ctl_json("careplan", "show", *PAT, "--version", "3")["version"]["plan"]
                   ["goals"]) == 3
        cur = s.ctl_json("careplan", "show", *PAT)
        assert cur["version"]["version"] == 4
        assert cur["version"]["plan"]["goals"][0]["target_date"] == "2027-09-30"

        d34 = s.ctl_json("careplan", "diff", *PAT, "3", "4")["changes"]
        kinds = {(c["element"], c["item"], c["field"]): c for c in d34}
        assert kinds[("goals", "Lower HbA1c", "target_date")]["kind"] == "CHANGED"
        assert kinds[("goals", "Lower HbA1c", "target_date")]["before"] == "2027-06-30"
        assert kinds[("goals", "Lower HbA1c", "target_date")]["after"] == "2027-09-30"
        assert kinds[("caregiver", "", "")]["kind"] == "REMOVED"
        assert kinds[("medications", "Furosemide", "")]["kind"] == "REMOVED"
        assert len(d34) == 3, d34
        d23 = s.ctl_json("careplan", "diff", *PAT, "2", "3")["changes"]
        assert [(c["element"], c["item"], c["kind"]) for c in d23] == \
            [("goals", "Walk 30 minutes a day", "ADDED")], d23
        human = s.ctl("careplan", "diff", *PAT, "3", "4").stdout
        assert "~ goals [Lower HbA1c].target_date: 2027-06-30 -> 2027-09-30" in human, human
        assert "- caregiver" in human, human

        hist = s.ctl_json("careplan", "history", *PAT)
        assert [v["version"] for v in hist["versions"]] == [1, 2, 3, 4]
        assert [v["substantial"] for v in hist["versions"]] == [False, True, False, True]
        assert hist["versions"][0]["author"] == "RN Park"
        assert hist["versions"][2]["author"] == "dev"  # the principal when --author is absent
        assert "plan" not in hist["versions"][0]

        # FHIR R4 export: valid JSON with the goals and activities of the plan.
        out = s.ctl("careplan", "export", *PAT, "--fhir").stdout
        fhir = json.loads(out)
        assert fhir["resourceType"] == "CarePlan" and fhir["status"] == "active"
        assert fhir["intent"] == "plan" and fhir["created"].endswith("Z")
        assert fhir["subject"]["identifier"]["value"] == "1042"
        goals = [c for c in fhir["contained"] if c["resourceType"] == "Goal"]
        assert [g["description"]["text"] for g in goals] == \
            ["Lower HbA1c", "Daily weight log", "Walk 30 minutes a day"]
        assert goals[0]["target"][0]["dueDate"] == "2027-09-30"
        refs = {"#" + g["id"] for g in goals}
        assert {g["reference"] for g in fhir["goal"]} == refs
        details = [a["detail"] for a in fhir["activity"]]
        descs = [dt["description"] for dt in details]
        assert any("Monthly care-management call" in x for x in descs), descs
        assert any(x.startswith("Metformin") for x in descs), descs
        assert all(dt["status"] for dt in details)
        conds = [c for c in fhir["contained"] if c["resourceType"] == "Condition"]
        assert conds[0]["code"]["coding"][0]["code"] == "E11.9"
        # The plan export round-trips as a plan file.
        plain = s.ctl_json("careplan", "export", *PAT)
        assert plain["goals"][2]["description"] == "Walk 30 minutes a day"

        c = s.ctl_json("careplan", "copy-given", *PAT, "--date", yesterday(), "--method", "PAPER",
                       "--to", "PATIENT")
        assert c["careplan"]["copies"][0]["method"] == "PAPER"
        assert c["careplan"]["copies"][0]["version"] == 4

        ev = s.ctl_json("stream", "fetch", "careplan")["events"]
        assert [e["type"] for e in ev] == ["careplan.version"] * 2 + ["careplan.established"] + \
            ["careplan.version"] * 2 + ["careplan.copy_given"], ev
        assert ev[0]["key"] == "C01/1042/CCM"
        assert "ESTABLISHED" in s.ctl("careplan", "show", *PAT).stdout


def test_bad_input_names_the_field_and_changes_nothing():
    with stack() as s:
        register(s)
        s.ctl("careplan", "set", *PAT, "--file", PLAN)
        before = last_seq(s)
        today = datetime.date.today()
        future = (today + datetime.timedelta(days=3)).isoformat()
        with tempfile.TemporaryDirectory() as d:
            made = []

            def bad(change):
                p = load_plan()
                change(p)
                made.append(p)
                return write_plan(d, p, "bad%d.json" % len(made))
            cases = [
                (["set", *PAT, "--file", bad(lambda p: p.update(symptom_management="x" * 5000))],
                 "plan.symptom_management"),
                (["set", *PAT, "--file", bad(lambda p: p["problems"][1].update(icd10="1509"))],
                 "plan.problems[1].icd10"),
                (["set", *PAT, "--file",
                  bad(lambda p: p["goals"][0].update(target_date="2027-02-30"))],
                 "plan.goals[0].target_date"),
                (["set", *PAT, "--file", bad(lambda p: p["review"].update(next_review="soon"))],
                 "plan.review.next_review"),
                (["set", *PAT, "--file",
                  bad(lambda p: p["interventions"][0].update(responsible=""))],
                 "plan.interventions[0].responsible"),
                (["set", *PAT, "--file", PLAN, "--author", "A" * 101], "author"),
                (["set", "--clinic", "C01", "--mrn", "404", "--file", PLAN], "mrn"),
                (["set", "--clinic", "C09", "--mrn", "1042", "--file", PLAN], "clinic"),
                (["show", *PAT, "--version", "9"], "version"),
                (["show", *PAT, "--program", "PCM"], "program"),
                (["diff", *PAT, "1", "2"], "to"),
                (["copy-given", *PAT, "--date", future, "--method", "MAIL", "--to", "PATIENT"],
                 "date"),
                (["copy-given", *PAT, "--date", "2026-02-30", "--method", "MAIL", "--to",
                  "CAREGIVER"], "date"),
            ]
            for args, field in cases:
                r = s.ctl("careplan", *args, "--json", check=False)
                assert r.returncode == 1, (args, r.returncode, r.stderr)
                err = json.loads(r.stdout)["error"]
                assert err["field"] == field, (args, err)
                assert field.split(".")[-1].split("[")[0] in err["message"], (args, err)
            # Input the client cannot translate is a usage error (exit 2), naming the flag or key.
            usage = [
                (["set", *PAT, "--file", bad(lambda p: p.update(goals="many"))], "plan.goals"),
                (["set", *PAT, "--file", bad(lambda p: p.update(wishes="x"))], "plan.wishes"),
                (["set", *PAT, "--file", os.path.join(d, "nosuch.json")], "nosuch.json"),
                (["set", *PAT, "--file", PLAN, "--program", "XCM"], "--program"),
                (["copy-given", *PAT, "--date", today.isoformat(), "--method", "PIGEON",
                  "--to", "PATIENT"], "--method"),
                (["copy-given", *PAT, "--date", today.isoformat(), "--method", "PAPER",
                  "--to", "NEIGHBOUR"], "--to"),
                (["diff", *PAT, "1"], "two version numbers"),
                (["frob", *PAT], "unknown verb"),
            ]
            for args, what in usage:
                r = s.ctl("careplan", *args, check=False)
                assert r.returncode == 2 and what in r.stderr, (args, r.returncode, r.stderr)
        assert last_seq(s) == before, "a refused request changed the stream"
        assert s.ctl_json("careplan", "show", *PAT)["careplan"]["current_version"] == 1


def test_retry_with_same_request_id_applies_once():
    with stack() as s:
        register(s)
        a = s.ctl_json("careplan", "set", *PAT, "--file", PLAN, "--request-id", "cp-1")
        b = s.ctl_json("careplan", "set", *PAT, "--file", PLAN, "--request-id", "cp-1")
        assert a == b and a["version"]["version"] == 1
        assert last_seq(s) == 1
        s.ctl("careplan", "establish", *PAT, "--request-id", "cp-2")
        s.ctl("careplan", "establish", *PAT, "--request-id", "cp-2")
        for _ in range(2):
            s.ctl("careplan", "copy-given", *PAT, "--date", yesterday(), "--method", "PORTAL",
                  "--to", "CAREGIVER", "--request-id", "cp-3")
        assert last_seq(s) == 3
        assert len(s.ctl_json("careplan", "show", *PAT)["careplan"]["copies"]) == 1
        # A new request id is a new version.
        s.ctl("careplan", "set", *PAT, "--file", PLAN, "--request-id", "cp-4")
        assert last_seq(s) == 4


def test_review_due_event_and_list():
    with stack() as s:
        register(s)
        register(s, mrn="2001", mbi="2EG4TE5MK73")
        # Two days back: passed in New York whatever this machine's time zone.
        past = (datetime.date.today() - datetime.timedelta(days=2)).isoformat()
        later = (datetime.date.today() + datetime.timedelta(days=60)).isoformat()
        with tempfile.TemporaryDirectory() as d:
            p = load_plan()
            p["review"] = {"next_review": past}
            s.ctl("careplan", "set", *PAT, "--file", write_plan(d, p, "past.json"))
            p["review"] = {"next_review": later}
            s.ctl("careplan", "set", "--clinic", "C01", "--mrn", "2001", "--file",
                  write_plan(d, p, "later.json"))

        due = wait_until(lambda: s.ctl_json("stream", "fetch", "careplan", "--type",
                                            "careplan.review_due")["events"],
                         "a careplan.review_due event", timeout=10, interval=0.1)
        assert len(due) == 1, due
        assert due[0]["key"] == "C01/1042/CCM" and due[0]["principal"] == "careplan"
        lst = s.ctl_json("careplan", "due", "--clinic", "C01")
        assert [(i["mrn"], i["next_review"]) for i in lst["items"]] == [("1042", past)], lst
        assert "1042" in s.ctl("careplan", "due", "--clinic", "C01").stdout
        time.sleep(1.0)  # several more checks: still one event for that date
        assert len(s.ctl_json("stream", "fetch", "careplan", "--type",
                              "careplan.review_due")["events"]) == 1
        # A restart does not notify the same date again; the plan stays due.
        s.stop("careplan")
        s.start("careplan")
        time.sleep(0.8)
        assert len(s.ctl_json("stream", "fetch", "careplan", "--type",
                              "careplan.review_due")["events"]) == 1
        assert len(s.ctl_json("careplan", "due", "--clinic", "C01")["items"]) == 1
        # A new version with a later review date takes it off the list.
        with tempfile.TemporaryDirectory() as d:
            p = load_plan()
            p["review"] = {"interval_days": 30}
            v = s.ctl_json("careplan", "set", *PAT, "--file", write_plan(d, p, "new.json"))
        assert v["careplan"]["next_review"] > datetime.date.today().isoformat()
        assert s.ctl_json("careplan", "due", "--clinic", "C01").get("items") is None


def test_readme_example_is_the_test_plan():
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "services",
                          "careplan", "README.md")
    with open(readme) as f:
        text = f.read()
    start = text.index("```json\n") + len("```json\n")
    example = json.loads(text[start:text.index("```", start)])
    assert example == load_plan(), "services/careplan/README.md and tests/data differ"


if __name__ == "__main__":
    sys.exit(run_tests([test_readme_example_is_the_test_plan,
                        test_establish_revise_diff_read_export,
                        test_bad_input_names_the_field_and_changes_nothing,
                        test_retry_with_same_request_id_applies_once,
                        test_review_due_event_and_list]))
