"""System test: billing judges each patient-month by the facts in force during it.

enrollment + careplan + timetrack + billing + ccmctl, real processes. Facts change
over time (consents revoked and given again, a new billing practitioner, a payer
change, a re-attested condition, a second program, death) and a month is billed
(or not) by the facts of that month, never by today's: earlier claims stay as
they are, a claim that stops being billable is withdrawn (WITHDRAW_NEEDED), a
patient-month never gets two claims, and nothing makes a new claim version
unless what is billed changes.
Months are counted back from today (the clinic's zone, America/New_York), so
they are closed, and all lie within the last 12 months (timely filing).
Usage: test_month_facts.py BUILD_DIR
"""
import datetime
import os
import sys
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, run_tests, wait_until  # noqa: E402
from billable import PLAN, caught_up  # noqa: E402

BUILD = sys.argv[1]
SERVICES = ("enrollment", "careplan", "timetrack", "billing")
MANUAL = {"billing": {"close_after_days": "0"}}  # months close when the test says
TZ = ZoneInfo("America/New_York")                 # harness.Stack's clinics
P1 = "1234567893"                                 # Luhn-valid NPIs (prefix 80840)
P2 = "1245319599"
ALL = "cost-sharing,one-practitioner,right-to-stop"
CURRENT = ("READY", "SUBMITTED", "ACCEPTED", "PAID", "DENIED")  # not REPLACED/WITHDRAW_NEEDED

# ---- months and instants, relative to today ----

_today = datetime.datetime.now(TZ).date()
M0 = _today.year * 12 + _today.month - 1   # this month (index: year*12 + month-1)
A = M0 - 9                                  # the first month of every scenario


def mtext(m):
    return "%04d-%02d" % (m // 12, m % 12 + 1)


def day(m, d):
    return "%s-%02d" % (mtext(m), d)


def at(m, d, hh=10, mi=0):
    """RFC 3339 instant of local time hh:mi on day d of month m in the clinic's zone."""
    return datetime.datetime(m // 12, m % 12 + 1, d, hh, mi, tzinfo=TZ).isoformat()


# ---- a clinic, its patients and their facts, through ccmctl ----

def stack():
    return Stack(BUILD, services=SERVICES, extra=MANUAL).start_all()


def people(s):
    s.ctl("practitioner", "add", "--clinic", "C01", "--npi", P1, "--role", "PHYSICIAN",
          "--family", "Osei", "--given", "Kofi", "--credentials", "MD")
    s.ctl("practitioner", "add", "--clinic", "C01", "--npi", P2, "--role", "PHYSICIAN",
          "--family", "Park", "--given", "Mina", "--credentials", "MD")
    s.ctl("staff", "add", "--clinic", "C01", "--id", "rn1", "--role", "CLINICAL_STAFF",
          "--name", "Ray Nurse", "--credentials", "RN")


def patient(s, mrn, mbi, npi=P1, visit=(A, 5)):
    """A CCM-eligible patient (two chronic, high-risk conditions of 24 months) of
    billing practitioner npi, seen by them on visit (month, day)."""
    s.ctl("patient", "add", "--clinic", "C01", "--mrn", mrn, "--mbi", mbi, "--family",
          "Rivera", "--given", "Ana", "--birth-date", "1948-02-29", "--billing-npi", npi)
    for code in ("E11.9", "I50.9"):
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", mrn, "--icd10", code,
              "--expected-months", "24", "--high-risk")
    s.ctl("visit", "add", "--clinic", "C01", "--mrn", mrn, "--code", "99214",
          "--date", day(*visit), "--npi", npi)


def consent(s, mrn, instant, program="CCM", npi=P1):
    """A consent given at instant (None: now)."""
    s.ctl("consent", "record", "--clinic", "C01", "--mrn", mrn, "--program", program,
          "--method", "VERBAL", *(["--at", instant] if instant else []), "--staff", "rn1",
          "--billing-npi", npi, "--disclosed", ALL)


def plan(s, mrn, program="CCM", on=(A, 10)):
    """The program's care plan, established and given to the patient on day `on`."""
    caught_up(s)  # careplan knows the patient from enrollment's stream
    p = ("--clinic", "C01", "--mrn", mrn, "--program", program)
    s.ctl("careplan", "set", *p, "--file", PLAN)
    s.ctl("careplan", "establish", *p, "--date", day(*on))
    s.ctl("careplan", "copy-given", *p, "--date", day(*on), "--method", "PAPER",
          "--to", "PATIENT")


def minutes(s, mrn, m, d, mins, performer="rn1", service="CCM", hh=10, rid=None):
    """A time entry; returns its id. rid: the request id (billing names it as the cause
    of the re-judgement it brings)."""
    caught_up(s)  # timetrack knows the patient and the performer from enrollment
    eid = "%s-%s-%d-%02d" % (mrn, mtext(m), d, hh)
    s.ctl("time", "add", "--clinic", "C01", "--mrn", mrn, "--performer", performer,
          "--start", at(m, d, hh), "--minutes", str(mins), "--service", service,
          "--activity", "care coordination", "--event-id", eid,
          *(["--request-id", rid] if rid else []))
    return "MANUAL:" + eid


def rejudged(s, m, rid, mrn="1042"):
    """Waits until billing re-judged the month because of request rid (the claim's
    evidence names what last re-judged it); returns the current claim of the key."""
    def by_rid():
        cs = claims(s, m, mrn)
        return cs if any(rid in c["evidence"].get("cause", "") for c in cs) else None
    return wait_until(by_rid, "billing to re-judge %s after request %s" % (mtext(m), rid))


def billable(s, mrn="1042", mbi="1EG4TE5MK73", months=(), mins=25):
    """patient() with a CCM consent on A day 10 and its care plan, and `mins`
    staff minutes on day 6 of each of `months`."""
    patient(s, mrn, mbi)
    consent(s, mrn, at(A, 10))
    plan(s, mrn)
    for m in months:
        minutes(s, mrn, m, 6, mins)


def close(s, *months):
    caught_up(s)
    return [s.ctl_json("month", "close", "--month", mtext(m)) for m in months]


def claims(s, m, mrn=None):
    cs = s.ctl_json("claim", "list", "--clinic", "C01", "--month", mtext(m)).get("claims", [])
    return [c for c in cs if mrn is None or c["mrn"] == mrn]


def brief(c):
    """A claim (or a list of them) in one line, for assertion messages."""
    if isinstance(c, list):
        return "[%s]" % "; ".join(brief(x) for x in c)
    return ("%s %s %s %s dos %s npi %s staff %s prac %s consent %s%s%s"
            % (c["id"], c["status"], c["program"], lines(c), c["dos"], c["billing_npi"],
               c["staff_minutes"], c["practitioner_minutes"], c["evidence"]["consent_id"],
               " adjustment" if c.get("adjustment") else "",
               " withdraw: " + c["withdraw_reason"] if c.get("withdraw_reason") else ""))


def current(s, m, mrn="1042"):
    return [c for c in claims(s, m, mrn) if c["status"] in CURRENT]


def one_claim(s, m, mrn="1042"):
    cs = current(s, m, mrn)
    assert len(cs) == 1, "%s %s: want one current claim, got %s" % (mrn, mtext(m), brief(cs))
    return cs[0]


def lines(c):
    return [(l["code"], l["units"]) for l in c["lines"]]


def missed(s, m, mrn="1042"):
    got = s.ctl_json("missed", "--clinic", "C01", "--month", mtext(m)).get("missed", [])
    return [x for x in got if x["mrn"] == mrn]


def want_reason(s, m, want, mrn="1042"):
    """The patient-month is listed once in missed revenue, with reason `want`."""
    rows = missed(s, m, mrn)
    assert len(rows) == 1 and rows[0]["reason"] == want, \
        "%s %s: want one missed row %s, got %s (claims: %s)" % (
            mrn, mtext(m), want, rows, brief(claims(s, m, mrn)))


def events(s, typ, key_prefix):
    evs = s.ctl_json("stream", "fetch", "billing", "--type", typ, "--max", "1000")["events"]
    return [e for e in evs if e["key"].startswith(key_prefix)]


def key(m, mrn="1042", program="CCM"):
    return "C01/%s/%s/%s" % (mrn, mtext(m), program)


# ---- the month table ----

def test_reconsent_months_follow_each_consent():
    # CCM consent on A day 10, revoked A+2 day 15, given again A+5 day 1: A+1 bills under
    # the first consent (not NO_CONSENT because the current consent came later); A+3, A+4
    # lie after the revocation month; A+5 bills under the new consent.
    with stack() as s:
        people(s)
        patient(s, "1042", "1EG4TE5MK73")
        consent(s, "1042", at(A, 10))
        plan(s, "1042")
        minutes(s, "1042", A + 1, 6, 25)
        s.ctl("consent", "revoke", "--clinic", "C01", "--mrn", "1042", "--program", "CCM",
              "--at", at(A + 2, 15))
        consent(s, "1042", at(A + 5, 1, 9))
        minutes(s, "1042", A + 5, 8, 22)
        close(s, A + 1, A + 2, A + 3, A + 4, A + 5)
        c = one_claim(s, A + 1)
        assert lines(c) == [("99490", 1)], brief(c)
        assert c["evidence"]["consent_id"] == "C01/1042/CCM/1", c["evidence"]
        want_reason(s, A + 3, "CONSENT_REVOKED")
        want_reason(s, A + 4, "CONSENT_REVOKED")
        c = one_claim(s, A + 5)
        assert lines(c) == [("99490", 1)] and c["dos"] == day(A + 5, 8), brief(c)
        assert c["evidence"]["consent_id"] == "C01/1042/CCM/2", c["evidence"]


def test_new_billing_practitioner_leaves_earlier_months_to_the_old_one():
    # P1's consent on A day 10; today the patient moves to P2, who gets consent.
    # A+1 (25 staff + 31 minutes of P1 himself) is P1's month: 99490 + 99439 by P1.
    with stack() as s:
        people(s)
        patient(s, "1042", "1EG4TE5MK73")
        consent(s, "1042", at(A, 10))
        plan(s, "1042")
        minutes(s, "1042", A + 1, 6, 25)
        minutes(s, "1042", A + 1, 13, 31, performer=P1)
        s.ctl("patient", "set-billing", "--clinic", "C01", "--mrn", "1042", "--npi", P2)
        consent(s, "1042", None, npi=P2)
        close(s, A + 1)
        c = one_claim(s, A + 1)
        assert lines(c) == [("99490", 1), ("99439", 1)], brief(c)
        assert c["billing_npi"] == P1 and c["rendering_npi"] == P1, c
        assert c["evidence"]["consent_id"] == "C01/1042/CCM/1", c["evidence"]
        assert c["staff_minutes"] + c["practitioner_minutes"] == 56, brief(c)


def test_payer_change_today_keeps_the_claims_of_earlier_months():
    # 1042 changes to Medicare Advantage today: its closed months keep their claims
    # (no withdrawal, no new version). 1043 changes from A+2 on (backdated): A+2 is
    # withdrawn, A+1 is not -- so billing did hear of payer changes.
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73", months=(A + 1, A + 2))
        billable(s, "1043", "2EG4TE5MK73", months=(A + 1, A + 2))
        close(s, A + 1, A + 2)
        assert len(current(s, A + 1)) == 1 and len(current(s, A + 2)) == 1
        s.ctl("patient", "payer", "--clinic", "C01", "--mrn", "1042",
              "--payer", "MEDICARE_ADVANTAGE")
        s.ctl("patient", "payer", "--clinic", "C01", "--mrn", "1043",
              "--payer", "MEDICARE_ADVANTAGE", "--from", day(A + 2, 1))
        caught_up(s)
        wait_until(lambda: not current(s, A + 2, "1043"), "1043's A+2 claim to be withdrawn")
        [w] = claims(s, A + 2, "1043")
        assert w["status"] == "WITHDRAW_NEEDED" and w["withdraw_reason"], brief(w)
        want_reason(s, A + 2, "NOT_PART_B_FFS", "1043")
        assert one_claim(s, A + 1, "1043")["version"] == 1
        for m in (A + 1, A + 2):
            [c] = claims(s, m, "1042")
            assert c["status"] == "READY" and c["version"] == 1, brief(c)
        assert events(s, "claim.withdraw", "C01/1042/") == []
        assert len(events(s, "claim.ready", "C01/1042/")) == 2


def test_reattestation_today_keeps_the_billed_month():
    # 1042 re-attests E11.9 today as lasting 6 months (no longer a CCM condition): its
    # billed month stays as billed. 1043 does so from A+2 on: A+2 (whose first instant
    # is the attestation's) is withdrawn, A+1 (which ends at that instant) is not.
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73", months=(A + 1, A + 2))
        billable(s, "1043", "2EG4TE5MK73", months=(A + 1, A + 2))
        close(s, A + 1, A + 2)
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "E11.9",
              "--expected-months", "6", "--high-risk")
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1043", "--icd10", "E11.9",
              "--expected-months", "6", "--high-risk", "--from", at(A + 2, 1, 0))
        caught_up(s)
        wait_until(lambda: not current(s, A + 2, "1043"), "1043's A+2 claim to be withdrawn")
        want_reason(s, A + 2, "NOT_ELIGIBLE_CONDITIONS", "1043")
        assert one_claim(s, A + 1, "1043")["version"] == 1
        for m in (A + 1, A + 2):
            [c] = claims(s, m, "1042")
            assert c["status"] == "READY" and c["version"] == 1, brief(c)
            assert c["diagnoses"] == ["E11.9", "I50.9"], c
        assert events(s, "claim.withdraw", "C01/1042/") == []
        assert len(events(s, "claim.ready", "C01/1042/")) == 2


def test_a_second_program_does_not_hide_the_first():
    # CCM consent on A day 10 (still active), APCM consent on A+4 day 10: A+2 is a CCM month.
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73", months=(A + 2,))
        consent(s, "1042", at(A + 4, 10), program="APCM")
        close(s, A + 2)
        c = one_claim(s, A + 2)
        assert c["program"] == "CCM" and lines(c) == [("99490", 1)], brief(c)


def test_ccm_and_pcm_are_never_both_billed_for_a_month():
    # B closed with CCM 99490 (25 CCM minutes). Then a PCM consent backdated before B, its
    # plan, and 65 PCM minutes in B (99426 + 99427 pays more than 99490): one practitioner,
    # one program -- exactly one current claim for B, the other withdrawn.
    B = A + 2
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73", months=(B,))
        close(s, B)
        assert lines(one_claim(s, B)) == [("99490", 1)]
        consent(s, "1042", at(A + 1, 3), program="PCM")
        plan(s, "1042", program="PCM", on=(A + 1, 3))
        minutes(s, "1042", B, 20, 65, service="PCM")
        caught_up(s)
        wait_until(lambda: [c for c in current(s, B) if c["program"] == "PCM"] or
                   not current(s, B), "billing to re-judge B after the PCM facts")
        c = one_claim(s, B)
        others = [x for x in claims(s, B, "1042") if x["id"] != c["id"]]
        for x in others:
            assert x["status"] in ("WITHDRAW_NEEDED", "REPLACED"), brief([c] + others)
        assert c["program"] == "PCM" and lines(c) == [("99426", 1), ("99427", 1)], brief(c)
        [ccm] = [x for x in others if x["program"] == "CCM"]
        assert ccm["status"] == "WITHDRAW_NEEDED" and ccm["withdraw_reason"], brief(ccm)
        assert missed(s, B) == [], "a billed month is not missed revenue: %s" % missed(s, B)


def test_a_claim_that_stops_being_billable_is_withdrawn():
    B = A + 1
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73")
        minutes(s, "1042", B, 6, 12)
        late = minutes(s, "1042", B, 13, 13)
        close(s, B)
        c = one_claim(s, B)
        assert lines(c) == [("99490", 1)], brief(c)
        s.ctl("time", "void", "--clinic", "C01", "--id", late, "--reason", "wrong patient")
        wait_until(lambda: not current(s, B), "the claim to stop being current")
        [w] = claims(s, B)
        assert w["id"] == c["id"] and w["status"] == "WITHDRAW_NEEDED", brief(w)
        assert w["withdraw_reason"], w
        evs = events(s, "claim.withdraw", key(B))
        assert len(evs) == 1 and evs[0]["payload"]["status"] == "WITHDRAW_NEEDED", evs
        assert evs[0]["payload"]["withdraw_reason"] == w["withdraw_reason"], evs
        want_reason(s, B, "BELOW_THRESHOLD")  # listed once, with its reason
        # billable again: a new version supersedes the withdrawn one; no longer missed
        minutes(s, "1042", B, 20, 10, rid="billable-again")
        [c2] = rejudged(s, B, "billable-again")
        assert c2["version"] == 2 and c2["status"] == "READY", brief(c2)
        assert c2["supersedes"] == c["id"] and lines(c2) == [("99490", 1)], brief(c2)
        assert s.ctl_json("claim", "show", c["id"])["status"] in ("WITHDRAW_NEEDED", "REPLACED")
        assert missed(s, B) == [], missed(s, B)


def test_late_data_while_billing_is_down_is_settled_when_it_returns():
    # The claim's entry is voided while billing is stopped: once back, billing catches up
    # on timetrack's stream and withdraws the claim without anyone closing the month again.
    B = A + 1
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73")
        minutes(s, "1042", B, 6, 12)
        late = minutes(s, "1042", B, 13, 13)
        close(s, B)
        c = one_claim(s, B)
        s.stop("billing")
        s.ctl("time", "void", "--clinic", "C01", "--id", late, "--reason", "wrong patient")
        s.start("billing")
        wait_until(lambda: not current(s, B), "the claim to be withdrawn after the restart")
        [w] = claims(s, B)
        assert w["id"] == c["id"] and w["status"] == "WITHDRAW_NEEDED", brief(w)
        want_reason(s, B, "BELOW_THRESHOLD")


def test_a_change_from_a_date_takes_effect_at_that_local_midnight():
    # WHEN given as a date is midnight in the clinic's zone: P2 bills from A+2 on (with
    # consent given that midnight), P1 keeps A+1 -- whose last instant is just before.
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73", months=(A + 1, A + 2))
        s.ctl("visit", "add", "--clinic", "C01", "--mrn", "1042", "--code", "99214",
              "--date", day(A, 20), "--npi", P2)
        s.ctl("patient", "set-billing", "--clinic", "C01", "--mrn", "1042", "--npi", P2,
              "--from", day(A + 2, 1))
        consent(s, "1042", day(A + 2, 1), npi=P2)
        close(s, A + 1, A + 2)
        c = one_claim(s, A + 1)
        assert c["billing_npi"] == P1 and c["evidence"]["consent_id"] == "C01/1042/CCM/1", \
            brief(c)
        c = one_claim(s, A + 2)
        assert c["billing_npi"] == P2 and c["evidence"]["consent_id"] == "C01/1042/CCM/2", \
            brief(c)
        assert lines(c) == [("99490", 1)], brief(c)


def test_death_on_a_day_with_work():
    # Death on D: 1042's at 12:00 (the instant is known), 1043's with the date only.
    # Both have 20 minutes three days before and 25 minutes on D.
    m, d = A + 2, 14
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73")
        billable(s, "1043", "2EG4TE5MK73")
        for mrn in ("1042", "1043"):
            minutes(s, mrn, m, d - 3, 20)
        minutes(s, "1042", m, d, 25, hh=16)     # after the death: never counts
        minutes(s, "1043", m, d, 25, hh=10)     # on the day of death, time unknown
        s.ctl("patient", "death", "--clinic", "C01", "--mrn", "1042", "--date", day(m, d),
              "--at", at(m, d, 12))
        s.ctl("patient", "death", "--clinic", "C01", "--mrn", "1043", "--date", day(m, d))
        close(s, m)
        c = one_claim(s, m, "1042")
        assert lines(c) == [("99490", 1)] and c["staff_minutes"] == 20, brief(c)
        assert current(s, m, "1043") == []
        want_reason(s, m, "DEATH_DAY_REVIEW", "1043")


def test_closing_again_without_a_relevant_change_makes_no_new_version():
    B = A + 1
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73", months=(B,))
        [r] = close(s, B)
        assert r["claims"] == 1, r
        # changes that do not touch B: minutes in another month, a payer change today,
        # a new care-plan version (evidence only); and billing restarted
        minutes(s, "1042", B + 2, 6, 25)
        s.ctl("patient", "payer", "--clinic", "C01", "--mrn", "1042", "--payer", "MEDICAID")
        s.ctl("careplan", "set", "--clinic", "C01", "--mrn", "1042", "--file", PLAN,
              "--note", "reviewed")
        caught_up(s)
        s.stop("billing")
        s.start("billing")
        [r] = close(s, B)
        assert r["claims"] == 0 and r["unchanged"] >= 1, r
        [c] = claims(s, B)
        assert c["version"] == 1 and c["status"] == "READY", brief(c)
        assert len(events(s, "claim.ready", key(B))) == 1


def test_a_late_entry_that_changes_nothing_billed_makes_no_new_version():
    # 20 + 5 minutes: 99490, DOS day 6. One more minute on day 20 changes no line,
    # unit, amount or DOS: no version 2. Twenty more do (99439): version 2, and only it.
    B = A + 1
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73")
        minutes(s, "1042", B, 6, 20)
        minutes(s, "1042", B, 13, 5)
        close(s, B)
        c1 = one_claim(s, B)
        assert lines(c1) == [("99490", 1)] and c1["dos"] == day(B, 6), brief(c1)
        minutes(s, "1042", B, 20, 1, rid="one-more-minute")
        [c] = rejudged(s, B, "one-more-minute")
        assert c["id"] == c1["id"] and c["status"] == "READY", brief(c)
        assert c["staff_minutes"] == 26, brief(c)
        minutes(s, "1042", B, 22, 20, rid="twenty-more")
        [c2] = rejudged(s, B, "twenty-more")
        assert c2["version"] == 2 and lines(c2) == [("99490", 1), ("99439", 1)], brief(c2)
        assert c2["supersedes"] == c1["id"], brief(c2)
        assert s.ctl_json("claim", "show", c1["id"])["status"] == "REPLACED"
        assert [e["payload"]["version"] for e in events(s, "claim.ready", key(B))] == [1, 2]


def test_a_late_change_after_payment_is_an_adjustment():
    B = A + 1
    with stack() as s:
        people(s)
        billable(s, "1042", "1EG4TE5MK73", months=(B,))
        close(s, B)
        c1 = one_claim(s, B)
        s.ctl("claim", "ack", c1["id"], "--status", "PAID")
        minutes(s, "1042", B, 20, 20, rid="late-after-paid")
        [c2] = rejudged(s, B, "late-after-paid")
        assert c2["version"] == 2 and c2["status"] == "READY", brief(c2)
        assert c2["adjustment"] is True and c2["supersedes"] == c1["id"], brief(c2)
        assert lines(c2) == [("99490", 1), ("99439", 1)], brief(c2)
        assert s.ctl_json("claim", "show", c1["id"])["status"] == "PAID"


def test_g0506_is_a_line_dated_by_the_initiating_visit():
    # A new patient: consent on A+1 day 12 at 09:00, the initiating visit that day asks
    # for G0506, 25 minutes on day 20. A+1's claim carries G0506 dated the visit day next
    # to 99490 dated day 20; A+2's claim has no G0506 (once per patient and practitioner).
    with stack() as s:
        people(s)
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", "1042", "--mbi", "1EG4TE5MK73",
              "--family", "Rivera", "--given", "Ana", "--birth-date", "1948-02-29",
              "--billing-npi", P1)
        for code in ("E11.9", "I50.9"):
            s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", code,
                  "--expected-months", "24", "--high-risk")
        consent(s, "1042", at(A + 1, 12, 9))
        s.ctl("visit", "add", "--clinic", "C01", "--mrn", "1042", "--code", "99214",
              "--date", day(A + 1, 12), "--npi", P1, "--g0506")
        plan(s, "1042", on=(A + 1, 12))
        minutes(s, "1042", A + 1, 20, 25)
        minutes(s, "1042", A + 2, 6, 25)
        close(s, A + 1, A + 2)
        c = one_claim(s, A + 1)
        got = sorted((l["code"], l["units"], l["dos"]) for l in c["lines"])
        assert got == [("99490", 1, day(A + 1, 20)), ("G0506", 1, day(A + 1, 12))], brief(c)
        assert c["dos"] == day(A + 1, 20), brief(c)
        assert c["evidence"].get("visit_dates") == [day(A + 1, 12)], c["evidence"]
        c = one_claim(s, A + 2)
        assert lines(c) == [("99490", 1)], brief(c)


def test_a_condition_resolved_and_recorded_again_counts_once():
    # One chronic condition only (E11.9): never CCM-eligible (two are needed). Resolved on
    # A+2 day 10 and recorded again from day 20, it is still one condition in A+2 -- not
    # two because enrollment keeps two records of it.
    with stack() as s:
        people(s)
        s.ctl("patient", "add", "--clinic", "C01", "--mrn", "1042", "--mbi", "1EG4TE5MK73",
              "--family", "Rivera", "--given", "Ana", "--birth-date", "1948-02-29",
              "--billing-npi", P1)
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "E11.9",
              "--expected-months", "24", "--high-risk")
        s.ctl("visit", "add", "--clinic", "C01", "--mrn", "1042", "--code", "99214",
              "--date", day(A, 5), "--npi", P1)
        consent(s, "1042", at(A, 10))
        plan(s, "1042")
        for m in (A + 1, A + 2):
            minutes(s, "1042", m, 6, 25)
        s.ctl("condition", "resolve", "--clinic", "C01", "--mrn", "1042", "--icd10", "E11.9",
              "--at", at(A + 2, 10))
        s.ctl("condition", "add", "--clinic", "C01", "--mrn", "1042", "--icd10", "E11.9",
              "--expected-months", "24", "--high-risk", "--from", at(A + 2, 20))
        close(s, A + 1, A + 2)
        want_reason(s, A + 1, "NOT_ELIGIBLE_CONDITIONS")
        want_reason(s, A + 2, "NOT_ELIGIBLE_CONDITIONS")


def test_no_claim_past_timely_filing():
    # A month more than 12 months back (its DOS is past the filing limit).
    old = M0 - 13
    with stack() as s:
        people(s)
        patient(s, "1042", "1EG4TE5MK73", visit=(old - 1, 5))
        consent(s, "1042", at(old - 1, 10))
        plan(s, "1042", on=(old - 1, 10))
        minutes(s, "1042", old, 6, 25)
        minutes(s, "1042", A + 1, 6, 25)
        close(s, old, A + 1)
        assert current(s, old) == []
        want_reason(s, old, "TIMELY_FILING")
        assert lines(one_claim(s, A + 1)) == [("99490", 1)]


if __name__ == "__main__":
    sys.exit(run_tests([test_reconsent_months_follow_each_consent,
                        test_new_billing_practitioner_leaves_earlier_months_to_the_old_one,
                        test_payer_change_today_keeps_the_claims_of_earlier_months,
                        test_reattestation_today_keeps_the_billed_month,
                        test_a_second_program_does_not_hide_the_first,
                        test_ccm_and_pcm_are_never_both_billed_for_a_month,
                        test_a_claim_that_stops_being_billable_is_withdrawn,
                        test_late_data_while_billing_is_down_is_settled_when_it_returns,
                        test_a_change_from_a_date_takes_effect_at_that_local_midnight,
                        test_death_on_a_day_with_work,
                        test_closing_again_without_a_relevant_change_makes_no_new_version,
                        test_a_late_entry_that_changes_nothing_billed_makes_no_new_version,
                        test_a_late_change_after_payment_is_an_adjustment,
                        test_g0506_is_a_line_dated_by_the_initiating_visit,
                        test_a_condition_resolved_and_recorded_again_counts_once,
                        test_no_claim_past_timely_filing]))
