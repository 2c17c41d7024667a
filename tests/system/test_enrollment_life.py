"""System test: a patient's CCM life through broker + enrollment + ccmctl.

What a care coordinator relies on: eligibility follows the chronic conditions and
every change of it reaches a FETCH subscriber as an `eligibility` event; consent
is recorded only for the billing practitioner with the three disclosures, a
second active consent is a CONFLICT, revocation runs to the end of the month in
the clinic's zone, a new billing practitioner needs a new consent; the worklist
names who still needs enrolling; bad input is refused with the field named and
changes nothing; every dated fact keeps its history with the instant it takes
effect (billing practitioner, payer and QMB, condition attestations, consents,
death), entered with ccmctl's --from / --at as a clinic date or an instant.
Usage: test_enrollment_life.py BUILD_DIR
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests, wait_until  # noqa: E402

BUILD = sys.argv[1]

NPI1 = "1234567893"  # valid Luhn check digit (prefix 80840)
NPI2 = "1245319599"
ALL = "cost-sharing,one-practitioner,right-to-stop"
# Instants well in the past, so they never become "in the future" and never
# depend on today's month. 2025-10-15 noon in New York (EDT, -04:00).
CONSENT_AT = "2025-10-15T12:00:00-04:00"
# 23:30 on 31 October in New York, already 1 November in UTC: the revocation
# month is October in the clinic's zone (America/New_York, see harness.Stack).
REVOKE_AT = "2025-11-01T03:30:00Z"


# ---- helpers ----

def people(s, clinic="C01"):
    s.ctl("practitioner", "add", "--clinic", clinic, "--npi", NPI1, "--role", "PHYSICIAN",
          "--family", "Osei", "--given", "Kofi", "--credentials", "MD")
    s.ctl("practitioner", "add", "--clinic", clinic, "--npi", NPI2, "--role", "NP",
          "--family", "Park", "--given", "Mina", "--credentials", "FNP-BC")
    s.ctl("staff", "add", "--clinic", clinic, "--id", "rn1", "--role", "CLINICAL_STAFF",
          "--name", "Ray Nurse", "--credentials", "RN")


def patient(s, mrn="1042", mbi="1EG4TE5MK73", clinic="C01", billing=NPI1, family="Rivera"):
    args = ["patient", "add", "--clinic", clinic, "--mrn", mrn, "--mbi", mbi,
            "--family", family, "--given", "Ana", "--birth-date", "1948-02-29"]
    if billing:
        args += ["--billing-npi", billing]
    return s.ctl_json(*args)


def condition(s, icd10, *flags, mrn="1042"):
    return s.ctl_json("condition", "add", "--clinic", "C01", "--mrn", mrn, "--icd10", icd10,
                      *flags)


def eligible(s, mrn="1042"):
    """Makes the patient CCM eligible: two chronic, high-risk, long conditions."""
    condition(s, "E11.9", "--expected-months", "24", "--high-risk", mrn=mrn)
    return condition(s, "I50.9", "--until-death", "--high-risk", mrn=mrn)


def consent_args(mrn="1042", npi=NPI1, at=CONSENT_AT, disclosed=ALL, staff="rn1",
                 clinic="C01", program="CCM"):
    return ["consent", "record", "--clinic", clinic, "--mrn", mrn, "--program", program,
            "--method", "VERBAL", "--at", at, "--staff", staff, "--billing-npi", npi,
            "--disclosed", disclosed]


def show(s, mrn="1042", clinic="C01"):
    return s.ctl_json("patient", "show", "--clinic", clinic, "--mrn", mrn)


def fetch(s, from_seq=1, *types):
    args = ["stream", "fetch", "enrollment", "--from", str(from_seq)]
    for t in types:
        args += ["--type", t]
    return s.ctl_json(*args)


def last_seq(s):
    return fetch(s)["last_seq"]


def worklist(s, clinic="C01"):
    return {i["mrn"]: i for i in s.ctl_json("worklist", "--clinic", clinic).get("items", [])}


def refused(s, args, field, code):
    """Runs ccmctl expecting a refusal: exit 1, the field named in the message on
    stderr and in {"error":{…}} with --json."""
    r = s.ctl(*args, check=False)
    assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
    assert field in r.stderr and code in r.stderr, (args, r.stderr)
    r = s.ctl(*args, "--json", check=False)
    assert r.returncode == 1, (args, r.returncode, r.stderr)
    err = json.loads(r.stdout)["error"]
    assert err["field"] == field and err["code"] == code, (args, err)
    assert field in err["message"], (args, err)
    return err


def consents(p, program="CCM"):
    return [c for c in p.get("consents", []) if c["program"] == program]


# ---- tests ----

def test_eligibility_follows_conditions_and_reaches_subscribers():
    with Stack(BUILD).start_all() as s:
        people(s)
        p = patient(s)
        assert p["eligibility"] == "NOT_ELIGIBLE", p
        # A FETCH subscriber starts at the end of the stream, only eligibility events.
        cursor = fetch(s, 1, "eligibility")["next_seq"]
        assert fetch(s, cursor, "eligibility")["events"] == []

        # One qualifying condition: PCM (one notification).
        p = condition(s, "E11.9", "--expected-months", "24", "--high-risk",
                      "--description", "Type 2 diabetes")
        assert p["eligibility"] == "PCM_ELIGIBLE", p
        got = fetch(s, cursor, "eligibility")
        assert [(e["type"], e["key"]) for e in got["events"]] == [("eligibility", "C01/1042")]
        cursor = got["next_seq"]

        # Conditions that do not qualify change nothing and notify no one: acute,
        # too short for CCM, or without attested risk.
        condition(s, "J20.9", "--acute", "--high-risk", "--expected-months", "1")
        condition(s, "I10", "--expected-months", "6", "--high-risk")
        p = condition(s, "J44.9", "--expected-months", "60")
        assert p["eligibility"] == "PCM_ELIGIBLE", p
        assert fetch(s, cursor, "eligibility")["events"] == []

        # The second chronic condition expected >= 12 months with risk: CCM.
        p = condition(s, "I50.9", "--until-death", "--high-risk")
        assert p["eligibility"] == "CCM_ELIGIBLE", p
        assert any(r.startswith("CCM: 2 ") for r in p["eligibility_reasons"]), p
        conds = {c["icd10"]: c for c in p["conditions"]}
        assert conds["I50.9"]["expected_months"] == 999 and conds["I50.9"]["high_risk"]
        assert conds["J20.9"]["chronic"] is False and conds["E11.9"]["chronic"] is True
        got = fetch(s, cursor, "eligibility")
        assert len(got["events"]) == 1, got
        ev = got["events"][0]
        assert ev["type"] == "eligibility" and ev["key"] == "C01/1042", ev
        pl = ev["payload"]  # ccm.enrollment.EligibilityChange
        assert pl["eligibility"] == "CCM_ELIGIBLE" and pl["previous"] == "PCM_ELIGIBLE", pl
        assert pl["mrn"] == "1042" and pl["mbi"] == "1EG4TE5MK73", pl
        cursor = got["next_seq"]
        human = s.ctl("patient", "show", "--clinic", "C01", "--mrn", "1042").stdout
        assert "eligible  CCM_ELIGIBLE" in human and "until death, high risk" in human, human

        # Adding an active condition again is not a change: no event.
        seq = last_seq(s)
        condition(s, "I50.9", "--until-death", "--high-risk")
        assert last_seq(s) == seq

        # Resolving one flips it back, with a second notification.
        p = s.ctl_json("condition", "resolve", "--clinic", "C01", "--mrn", "1042",
                       "--icd10", "I50.9")
        assert p["eligibility"] == "PCM_ELIGIBLE", p
        got = fetch(s, cursor, "eligibility")
        assert [(e["type"], e["key"]) for e in got["events"]] == [("eligibility", "C01/1042")]
        pl = got["events"][0]["payload"]
        assert pl["eligibility"] == "PCM_ELIGIBLE" and pl["previous"] == "CCM_ELIGIBLE", pl
        # Three notifications in all, each in the stream with the change that caused it.
        allev = fetch(s, 1, "eligibility")["events"]
        assert len(allev) == 3, allev
        types = [e["type"] for e in fetch(s, 1)["events"]]
        assert types.count("condition.added") == 5 and types.count("condition.resolved") == 1


def test_consent_record_duplicate_revoke_and_practitioner_change():
    with Stack(BUILD).start_all() as s:
        people(s)
        patient(s, billing=None)
        eligible(s)

        # Consent is given to the billing practitioner: none yet, so refused.
        refused(s, consent_args(), "billing_npi", "FAILED_PRECONDITION")
        s.ctl("patient", "set-billing", "--clinic", "C01", "--mrn", "1042", "--npi", NPI1)
        # Another practitioner of the clinic than the billing one: refused.
        refused(s, consent_args(npi=NPI2), "billing_npi", "FAILED_PRECONDITION")

        seq = last_seq(s)
        p = s.ctl_json(*consent_args(), "--share-electronically", "--request-id", "consent-1")
        [c] = consents(p)
        assert c["status"] == "ACTIVE" and c["billing_npi"] == NPI1 and c["staff_id"] == "rn1"
        assert c["method"] == "VERBAL" and c["share_electronically"] is True
        assert c["disclosed_cost_sharing"] and c["disclosed_one_practitioner"] \
            and c["disclosed_right_to_stop"], c
        assert c["at_us"] == 1760544000 * 1000000, c  # 2025-10-15T16:00:00Z
        assert c["effective_until"] == "" and c["revoked_us"] == 0, c
        assert last_seq(s) == seq + 1
        assert fetch(s, seq + 1)["events"][0]["type"] == "consent.recorded"

        # A client retry (same request id) is the same answer, not a duplicate.
        p = s.ctl_json(*consent_args(), "--share-electronically", "--request-id", "consent-1")
        assert len(consents(p)) == 1 and last_seq(s) == seq + 1
        # A second consent for the same program while one is active: CONFLICT.
        refused(s, consent_args(at="2025-10-20T09:00:00-04:00"), "program", "CONFLICT")
        assert len(consents(show(s))) == 1 and last_seq(s) == seq + 1
        # Another program is another consent.
        p = s.ctl_json(*consent_args(program="PCM"))
        assert len(consents(p, "PCM")) == 1

        # Revoke: in force to the last day of the revocation month, clinic time.
        p = s.ctl_json("consent", "revoke", "--clinic", "C01", "--mrn", "1042",
                       "--program", "CCM", "--at", REVOKE_AT)
        [c] = consents(p)
        assert c["status"] == "REVOKED", c
        assert c["revoked_us"] == 1761967800 * 1000000, c  # 2025-11-01T03:30:00Z
        assert c["effective_until"] == "2025-10-31", c  # UTC would say 2025-11-30
        assert fetch(s, last_seq(s))["events"][0]["type"] == "consent.revoked"
        # Nothing left to revoke.
        refused(s, ["consent", "revoke", "--clinic", "C01", "--mrn", "1042", "--program", "CCM"],
                "program", "NOT_FOUND")
        # The patient may consent again after revoking.
        p = s.ctl_json(*consent_args(at="2025-12-01T10:00:00-05:00"))
        assert [c["status"] for c in consents(p)] == ["REVOKED", "ACTIVE"], p["consents"]

        # A new billing practitioner (from 2 December, clinic time) needs a new
        # consent: the old one's end at that instant.
        p = s.ctl_json("patient", "set-billing", "--clinic", "C01", "--mrn", "1042",
                       "--npi", NPI2, "--from", "2025-12-02")
        assert p["billing_npi"] == NPI2
        assert [c["status"] for c in consents(p)] == ["REVOKED", "PRACTITIONER_CHANGED"], p
        assert consents(p)[1]["effective_until"] == "2025-12-01", p
        assert consents(p)[1]["ended_us"] == 1764651600 * 1000000, p  # 12-02T00:00-05:00
        assert [c["status"] for c in consents(p, "PCM")] == ["PRACTITIONER_CHANGED"], p
        assert worklist(s)["1042"]["reason"] == "CONSENT_NEEDED"
        # The old practitioner can no longer be consented to; the new one can.
        refused(s, consent_args(at="2025-12-02T10:00:00-05:00"), "billing_npi",
                "FAILED_PRECONDITION")
        p = s.ctl_json(*consent_args(npi=NPI2, at="2025-12-02T10:00:00-05:00"))
        assert [(c["status"], c["billing_npi"]) for c in consents(p)] == \
            [("REVOKED", NPI1), ("PRACTITIONER_CHANGED", NPI1), ("ACTIVE", NPI2)], p
        # enrolled now: what is left to do is the care plan (P-6)
        assert worklist(s)["1042"]["reason"] == "CARE_PLAN_MISSING"

        human = s.ctl("patient", "show", "--clinic", "C01", "--mrn", "1042").stdout
        assert "billing   " + NPI2 in human, human
        assert "until 2025-10-31" in human and "PRACTITIONER_CHANGED" in human, human
        assert "disclosed: cost-sharing one-practitioner right-to-stop" in human, human


def test_worklist_lists_eligible_patients_until_consent():
    with Stack(BUILD).start_all() as s:
        people(s)
        patient(s)                                          # will be CCM eligible
        patient(s, mrn="2001", mbi="2AC3CD4EF56", family="Okafor")  # stays not eligible
        patient(s, mrn="3001", mbi="3AC3CD4EF56", family="Chen", billing=None)
        condition(s, "E11.9", "--expected-months", "6", mrn="2001")  # no attested risk
        assert worklist(s) == {}

        eligible(s)
        eligible(s, mrn="3001")
        w = worklist(s)
        assert set(w) == {"1042", "3001"}, w
        assert w["1042"]["reason"] == "ELIGIBLE_NOT_ENROLLED", w
        assert w["1042"]["eligibility"] == "CCM_ELIGIBLE" and w["1042"]["family_name"] == "Rivera"
        assert w["3001"]["reason"] == "NO_BILLING_PRACTITIONER", w
        human = s.ctl("worklist", "--clinic", "C01").stdout
        assert "ELIGIBLE_NOT_ENROLLED" in human and "Rivera, Ana" in human, human
        assert s.ctl_json("worklist", "--clinic", "C02") == {}  # per clinic

        s.ctl(*consent_args())
        w = worklist(s)
        assert set(w) == {"1042", "3001"} and w["1042"]["reason"] == "CARE_PLAN_MISSING", w
        # Revoked: the patient is eligible and not enrolled again.
        s.ctl("consent", "revoke", "--clinic", "C01", "--mrn", "1042", "--program", "CCM",
              "--at", REVOKE_AT)
        assert worklist(s)["1042"]["reason"] == "ELIGIBLE_NOT_ENROLLED"
        # A patient who died is nobody's to-do.
        s.ctl("patient", "death", "--clinic", "C01", "--mrn", "3001", "--date", "2025-09-30")
        assert show(s, "3001")["death_date"] == "2025-09-30"
        assert set(worklist(s)) == {"1042"}
        # Consent again, given just now (ccmctl's default for --at): nothing to do.
        args = consent_args()
        del args[args.index("--at"):args.index("--at") + 2]
        t0 = time.time()
        p = s.ctl_json(*args)
        at = consents(p)[-1]["at_us"] / 1e6
        assert consents(p)[-1]["status"] == "ACTIVE" and t0 - 5 < at <= time.time(), p
        assert {k: v["reason"] for k, v in worklist(s).items()} == {"1042": "CARE_PLAN_MISSING"}


def test_visits_services_stays_and_people_are_recorded():
    with Stack(BUILD).start_all() as s:
        people(s)
        ppl = s.ctl_json("people", "list", "--clinic", "C01")
        assert {(x["npi"], x["role"]) for x in ppl["practitioners"]} == \
            {(NPI1, "PHYSICIAN"), (NPI2, "NP")}, ppl
        [st] = ppl["staff"]
        assert (st["id"], st["role"], st["in_us"], st["credentials"]) == \
            ("rn1", "CLINICAL_STAFF", True, "RN"), st
        s.ctl("staff", "add", "--clinic", "C01", "--id", "ma9", "--role", "NON_CLINICAL",
              "--name", "Sam Abroad", "--outside-us")
        staff = {x["id"]: x for x in s.ctl_json("people", "list", "--clinic", "C01")["staff"]}
        assert staff["ma9"]["in_us"] is False and staff["ma9"]["role"] == "NON_CLINICAL"
        assert s.ctl_json("people", "list", "--clinic", "C02") == {}
        human = s.ctl("people", "list", "--clinic", "C01").stdout
        assert "Osei, Kofi" in human and "Ray Nurse" in human and "outside US" in human, human

        p = patient(s)
        assert p["billing_npi"] == NPI1 and p["qmb"] is False
        p = patient(s, mrn="2001", mbi="2AC3CD4EF56")
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", "5001", "--mbi", "5AC3CD4EF56",
              "--family", "Q", "--given", "M", "--birth-date", "1940-01-01", "--qmb")
        assert show(s, "5001")["qmb"] is True

        p = s.ctl_json("visit", "add", "--clinic", "C01", "--mrn", "1042", "--code", "99214",
                       "--date", "2025-10-01", "--npi", NPI1, "--g0506")
        [v] = p["visits"]
        assert (v["code"], v["date"], v["npi"], v["g0506"], v["telehealth"]) == \
            ("99214", "2025-10-01", NPI1, True, False), v
        s.ctl("visit", "add", "--clinic", "C01", "--mrn", "1042", "--code", "G0438",
              "--date", "2025-11-03", "--npi", NPI2, "--telehealth")
        p = s.ctl_json("service", "add", "--clinic", "C01", "--mrn", "1042", "--code", "G0181",
                       "--month", "2025-11", "--npi", NPI2)
        [o] = p["other_services"]
        assert (o["code"], o["month"], o["npi"]) == ("G0181", "2025-11", NPI2), o
        p = s.ctl_json("inpatient", "add", "--clinic", "C01", "--mrn", "1042",
                       "--from", "2025-11-02T08:00:00-05:00", "--to", "2025-11-05T12:30:00.25Z",
                       "--facility", "General Hospital")
        [i] = p["inpatient"]
        assert i["from_us"] == 1762088400 * 1000000, i   # 2025-11-02T13:00:00Z
        assert i["to_us"] == 1762345800 * 1000000 + 250000, i
        p = s.ctl_json("inpatient", "add", "--clinic", "C01", "--mrn", "1042",
                       "--from", "2025-12-01T00:00:00Z")
        assert p["inpatient"][1]["to_us"] == 0 and p["inpatient"][1]["facility"] == ""
        p = s.ctl_json("patient", "death", "--clinic", "C01", "--mrn", "2001",
                       "--date", "2025-12-24")
        assert p["death_date"] == "2025-12-24"

        types = [e["type"] for e in fetch(s)["events"]]
        for t in ("practitioner.added", "staff.added", "visit.added", "other_service.added",
                  "inpatient.added", "patient.updated"):
            assert t in types, (t, types)
        assert types.count("visit.added") == 2 and types.count("inpatient.added") == 2

        human = s.ctl("patient", "show", "--clinic", "C01", "--mrn", "1042").stdout
        for want in ("visits (2)", "2025-10-01  99214  npi %s  G0506" % NPI1, "telehealth",
                     "other services (1)", "2025-11  G0181", "inpatient stays (2)",
                     "2025-11-02T13:00:00Z to 2025-11-05T12:30:00Z  General Hospital",
                     "(still inpatient)"):
            assert want in human, (want, human)
        assert "died      2025-12-24" in s.ctl("patient", "show", "--clinic", "C01",
                                               "--mrn", "2001").stdout


def test_bad_input_is_refused_with_the_field_named_and_changes_nothing():
    with Stack(BUILD).start_all() as s:
        people(s)
        patient(s)
        eligible(s)
        # The same MRN in another clinic is another patient, with its own people.
        patient(s, clinic="C02", mbi="9AC3CD4EF56", billing=None, family="Other")
        s.ctl("staff", "add", "--clinic", "C02", "--id", "ma2", "--role", "NON_CLINICAL",
              "--name", "Mo Assistant")
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", "7777", "--mbi", "7AC3CD4EF56",
              "--family", "Only", "--given", "Inc01", "--birth-date", "1950-01-01")
        before = last_seq(s)
        p_before = show(s)
        tomorrow = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
        long = "X" * 300
        P = ["--clinic", "C01", "--mrn", "1042"]
        cases = [
            # bad NPI check digit
            (["practitioner", "add", "--clinic", "C01", "--npi", "1234567890", "--role", "NP",
              "--family", "A", "--given", "B"], "npi", "INVALID_ARGUMENT"),
            (["patient", "set-billing", *P, "--npi", "1234567890"], "npi", "INVALID_ARGUMENT"),
            (["visit", "add", *P, "--code", "99213", "--date", "2025-10-01",
              "--npi", "1234567890"], "npi", "INVALID_ARGUMENT"),
            # valid NPI, but nobody of this clinic
            (["patient", "set-billing", *P, "--npi", "1111111112"], "npi", "NOT_FOUND"),
            # malformed MBI
            (["patient", "add", "--clinic", "C01", "--mrn", "9", "--mbi", "1EG4TE5MK7",
              "--family", "X", "--given", "Y", "--birth-date", "1950-01-01"], "mbi",
             "INVALID_ARGUMENT"),
            # unknown patient
            (["consent", "record", *consent_args(mrn="404")[2:]], "mrn", "NOT_FOUND"),
            (["visit", "add", "--clinic", "C01", "--mrn", "404", "--code", "99213",
              "--date", "2025-10-01", "--npi", NPI1], "mrn", "NOT_FOUND"),
            (["patient", "death", "--clinic", "C01", "--mrn", "404", "--date", "2025-10-01"],
             "mrn", "NOT_FOUND"),
            # a patient of another clinic: C01's patient under C02, and C02's
            # patient with C01's staff and practitioners
            (consent_args(mrn="7777", clinic="C02"), "mrn", "NOT_FOUND"),
            (["patient", "show", "--clinic", "C02", "--mrn", "7777"], "mrn", "NOT_FOUND"),
            (consent_args(clinic="C02"), "staff_id", "NOT_FOUND"),
            (consent_args(clinic="C02", staff="ma2"), "billing_npi", "NOT_FOUND"),
            (["patient", "set-billing", "--clinic", "C02", "--mrn", "1042", "--npi", NPI1],
             "npi", "NOT_FOUND"),
            # a consent dated in the future
            (consent_args(at=tomorrow), "at_us", "INVALID_ARGUMENT"),
            # over-long fields
            (["practitioner", "add", "--clinic", "C01", "--npi", "1245319599", "--role", "NP",
              "--family", "A", "--given", "B", "--credentials", long], "credentials",
             "INVALID_ARGUMENT"),
            (["staff", "add", "--clinic", "C01", "--id", "rn7", "--role", "CLINICAL_STAFF",
              "--name", long], "name", "INVALID_ARGUMENT"),
            (["inpatient", "add", *P, "--from", "2025-11-02T08:00:00Z", "--facility", long],
             "facility", "INVALID_ARGUMENT"),
            (["condition", "add", *P, "--icd10", "Z99.1", "--description", long],
             "description", "INVALID_ARGUMENT"),
            # unknown staff id on a consent
            (consent_args(staff="nobody"), "staff_id", "NOT_FOUND"),
            # a missing disclosure
            (consent_args(disclosed="cost-sharing,one-practitioner"),
             "disclosed_right_to_stop", "INVALID_ARGUMENT"),
            (consent_args(disclosed="right-to-stop,one-practitioner"),
             "disclosed_cost_sharing", "INVALID_ARGUMENT"),
            # an unknown visit code, and a code that is not a visit
            (["visit", "add", *P, "--code", "99999", "--date", "2025-10-01", "--npi", NPI1],
             "code", "INVALID_ARGUMENT"),
            (["visit", "add", *P, "--code", "99490", "--date", "2025-10-01", "--npi", NPI1],
             "code", "INVALID_ARGUMENT"),
            (["visit", "add", *P, "--code", "99213", "--date", "2025-02-29", "--npi", NPI1],
             "date", "INVALID_ARGUMENT"),
            # other-service month not YYYY-MM
            (["service", "add", *P, "--code", "G0181", "--month", "2025-13", "--npi", NPI1],
             "month", "INVALID_ARGUMENT"),
            (["service", "add", *P, "--code", "G0181", "--month", "2025-1", "--npi", NPI1],
             "month", "INVALID_ARGUMENT"),
            (["service", "add", *P, "--code", "G0181", "--month", "2025-11-01", "--npi", NPI1],
             "month", "INVALID_ARGUMENT"),
            # a stay that ends before it starts; a death before birth
            (["inpatient", "add", *P, "--from", "2025-11-02T08:00:00Z",
              "--to", "2025-11-01T08:00:00Z"], "to_us", "INVALID_ARGUMENT"),
            (["patient", "death", *P, "--date", "1947-12-31"], "date", "INVALID_ARGUMENT"),
        ]
        for args, field, code in cases:
            refused(s, args, field, code)
        assert last_seq(s) == before, "a refused request changed the stream"
        assert show(s) == p_before, "a refused request changed the patient"
        assert show(s, clinic="C02")["billing_npi"] == ""
        assert len(s.ctl_json("people", "list", "--clinic", "C01")["staff"]) == 1

        # Usage errors never reach the service: exit 2, the flag named.
        usage = [
            (consent_args(at="2025-10-15 12:00"), "--at"),
            (consent_args(at="2025-10-15T12:00:00"), "--at"),       # no offset
            (consent_args(at="2025-02-29T12:00:00Z"), "--at"),
            (consent_args(disclosed="cost-sharing,everything"), "--disclosed"),
            (["consent", "record", *P, "--program", "CCM"], "--method"),
            (["consent", "revoke", *P, "--program", "XCM"], "--program"),
            (["practitioner", "add", "--clinic", "C01", "--npi", NPI1, "--role", "RN",
              "--family", "A", "--given", "B"], "--role"),
            (["inpatient", "add", *P, "--from", "yesterday"], "--from"),
            (["condition", "add", *P, "--icd10", "E11.9", "--expected-months", "many"],
             "--expected-months"),
            (["patient", "show", *P, "--npi", NPI1], "--npi"),
            (["visit", "add", *P, "--code", "99213", "--date", "2025-10-01"], "--npi"),
            (["worklist"], "--clinic"),
            (["consent", "frob"], "record"),
        ]
        for args, flag in usage:
            r = s.ctl(*args, check=False)
            assert r.returncode == 2, (args, r.returncode, r.stderr)
            assert flag in r.stderr, (args, r.stderr)
        assert last_seq(s) == before


def test_worklist_follows_the_care_plan_service():
    """Enrollment follows careplan's stream through the broker: once the plan is
    established and a copy given, the enrolled patient leaves the worklist."""
    plan = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "careplan",
                        "plan.json")
    with Stack(BUILD, services=("enrollment", "careplan")).start_all() as s:
        people(s)
        patient(s)
        eligible(s)
        s.ctl(*consent_args())
        assert worklist(s)["1042"]["reason"] == "CARE_PLAN_MISSING"
        tries = []  # careplan learns the patient from enrollment's stream

        def plan_set():
            tries.append(s.ctl("careplan", "set", "--clinic", "C01", "--mrn", "1042", "--file",
                               plan, check=False))
            return tries[-1].returncode == 0
        wait_until(plan_set, lambda: "careplan to take the plan: " + tries[-1].stderr,
                   timeout=10, interval=0.1)
        s.ctl("careplan", "establish", "--clinic", "C01", "--mrn", "1042")
        s.ctl("careplan", "copy-given", "--clinic", "C01", "--mrn", "1042",
              "--date", time.strftime("%Y-%m-%d", time.gmtime(time.time() - 2 * 86400)),
              "--method", "PAPER", "--to", "PATIENT")
        wait_until(lambda: "1042" not in worklist(s), "enrollment to see the care plan",
                   timeout=10, interval=0.1)


def us(sec):
    return sec * 1000000


def last_event(s):
    """The last enrollment event (type, payload)."""
    ev = fetch(s, last_seq(s))["events"][0]
    return ev["type"], ev["payload"]


def test_fact_history_through_ccmctl():
    """Each dated fact keeps its history, entered as a clinic date (midnight in
    America/New_York) or an RFC 3339 instant; each event says from when its
    change takes effect (change_effective_us), so billing can judge each month
    by the facts in force during it."""
    with Stack(BUILD).start_all() as s:
        people(s)
        P = ["--clinic", "C01", "--mrn", "1042"]
        p = s.ctl_json("patient", "add", *P, "--mbi", "1EG4TE5MK73", "--family", "Rivera",
                       "--given", "Ana", "--birth-date", "1948-02-29", "--billing-npi", NPI1,
                       "--qmb", "no")
        # Registration: the facts are in force since before any month.
        assert p["billing_history"] == [{"npi": NPI1, "from_us": 0,
                                         "recorded_us": p["created_us"],
                                         "request_id": p["billing_history"][0]["request_id"]}], p
        [pp] = p["payer_history"]
        assert (pp["payer"], pp["qmb"], pp["from_us"]) == ("", False, 0), pp
        assert p["change_effective_us"] == 0 and p["qmb"] is False, p
        p = condition(s, "E11.9", "--expected-months", "6", "--high-risk")
        [c] = p["conditions"]
        assert c["from_us"] == 0 and len(c["attestations"]) == 1, c
        assert c["attestations"][0]["from_us"] == 0 and p["change_effective_us"] == 0, p
        s.ctl(*consent_args(at="2025-10-15"))  # a date: midnight in New York
        [c] = consents(show(s))
        assert c["at_us"] == us(1760500800), c  # 2025-10-15T00:00-04:00

        # A new billing practitioner from 1 November: the old one's consent ends then.
        p = s.ctl_json("patient", "set-billing", *P, "--npi", NPI2, "--from", "2025-11-01")
        nov1 = us(1761969600)  # 2025-11-01T00:00-04:00
        assert [(h["npi"], h["from_us"]) for h in p["billing_history"]] == \
            [(NPI1, 0), (NPI2, nov1)], p
        [c] = consents(p)
        assert (c["status"], c["ended_us"], c["effective_until"]) == \
            ("PRACTITIONER_CHANGED", nov1, "2025-10-31"), c
        typ, pl = last_event(s)
        assert typ == "patient.updated" and pl["change_effective_us"] == nov1, (typ, pl)
        seq = last_seq(s)
        # Not before the current practitioner's period; not in the future.
        refused(s, ["patient", "set-billing", *P, "--npi", NPI1, "--from", "2025-10-31"],
                "effective_us", "FAILED_PRECONDITION")
        refused(s, ["patient", "set-billing", *P, "--npi", NPI1, "--from", "2099-01-01"],
                "effective_us", "INVALID_ARGUMENT")
        # A consent is given to the practitioner billing at its instant.
        refused(s, consent_args(npi=NPI2, at="2025-10-20"), "at_us", "FAILED_PRECONDITION")
        assert last_seq(s) == seq
        p = s.ctl_json(*consent_args(npi=NPI2, at="2025-11-03"))
        assert consents(p)[1]["at_us"] == us(1762146000), p  # 11-03T00:00-05:00 (EST)
        assert p["change_effective_us"] == us(1762146000), p

        # Medicare Advantage and QMB from 1 January: the months before stay Part B.
        p = s.ctl_json("patient", "payer", *P, "--payer", "MEDICARE_ADVANTAGE",
                       "--from", "2026-01-01T00:00:00-05:00", "--qmb", "yes")
        assert [(h["payer"], h["qmb"], h["from_us"]) for h in p["payer_history"]] == \
            [("", False, 0), ("MEDICARE_ADVANTAGE", True, us(1767243600))], p
        assert p["payer"] == "MEDICARE_ADVANTAGE" and p["qmb"] is True, p
        assert p["change_effective_us"] == us(1767243600), p
        seq = last_seq(s)
        s.ctl("patient", "payer", *P, "--payer", "MEDICARE_ADVANTAGE")  # no change
        assert last_seq(s) == seq

        # Re-attested for 36 months from 1 December; a new condition since before
        # any month; one resolved on 1 February.
        p = condition(s, "E11.9", "--expected-months", "36", "--high-risk",
                      "--from", "2025-12-01")
        [c] = p["conditions"]
        assert [(a["from_us"], a["expected_months"]) for a in c["attestations"]] == \
            [(0, 6), (us(1764565200), 36)], c
        assert c["expected_months"] == 36 and p["change_effective_us"] == us(1764565200), p
        assert last_event(s)[0] == "condition.updated"
        p = condition(s, "I50.9", "--until-death", "--high-risk")
        assert p["conditions"][1]["from_us"] == 0 and p["change_effective_us"] == 0, p
        p = s.ctl_json("condition", "resolve", *P, "--icd10", "I50.9", "--at", "2026-02-01")
        assert p["conditions"][1]["resolved_us"] == us(1769922000), p
        assert p["change_effective_us"] == us(1769922000), p

        # Death at a known instant, which must fall on the date (clinic time).
        refused(s, ["patient", "death", *P, "--date", "2026-03-05",
                    "--at", "2026-03-06T06:00:00Z"], "at_us", "INVALID_ARGUMENT")
        p = s.ctl_json("patient", "death", *P, "--date", "2026-03-05",
                       "--at", "2026-03-05T15:00:00Z")
        assert p["death_date"] == "2026-03-05" and p["died_us"] == us(1772722800), p
        assert p["change_effective_us"] == us(1772686800), p  # 03-05T00:00-05:00

        human = s.ctl("patient", "show", *P).stdout
        for want in ("billing   " + NPI2, NPI1 + "         since before any month",
                     NPI2 + "         from 2025-11-01T04:00:00Z",
                     "MEDICARE_ADVANTAGE from 2026-01-01T05:00:00Z  qmb",
                     "since before any month: chronic, 6 months, high risk",
                     "from 2025-12-01T05:00:00Z: chronic, 36 months, high risk",
                     "resolved 2026-02-01T05:00:00Z", "(ended 2025-11-01T04:00:00Z)",
                     "died      2026-03-05 (at 2026-03-05T15:00:00Z)"):
            assert want in human, (want, human)

        # Usage errors never reach the service.
        seq = last_seq(s)
        for args, flag in [
                (["patient", "payer", *P, "--payer", "OTHER", "--qmb", "maybe"], "--qmb"),
                (["patient", "set-billing", *P, "--npi", NPI1, "--from", "2025-13-01"],
                 "--from"),
                (["patient", "set-billing", *P, "--npi", NPI1, "--from", "next week"],
                 "--from"),
                (["patient", "death", *P, "--date", "2026-03-05", "--at", "2026-03-05"],
                 "--at"),
                (["condition", "resolve", *P, "--icd10", "E11.9", "--from", "2026-02-01"],
                 "--from"),
                (["patient", "set-billing", "--clinic", "C09", "--mrn", "1042", "--npi", NPI1,
                  "--from", "2025-12-01"], "[clinic C09] timezone")]:
            r = s.ctl(*args, check=False)
            assert r.returncode == 2, (args, r.returncode, r.stderr)
            assert flag in r.stderr, (args, r.stderr)
        assert last_seq(s) == seq


if __name__ == "__main__":
    sys.exit(run_tests([test_eligibility_follows_conditions_and_reaches_subscribers,
                        test_consent_record_duplicate_revoke_and_practitioner_change,
                        test_worklist_lists_eligible_patients_until_consent,
                        test_worklist_follows_the_care_plan_service,
                        test_visits_services_stays_and_people_are_recorded,
                        test_bad_input_is_refused_with_the_field_named_and_changes_nothing,
                        test_fact_history_through_ccmctl]))
