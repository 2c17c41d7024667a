"""System test: seeded differential test of month billing against `ccmctl evaluate`.

A seeded generator makes >= 100 patients in three clinics (New York, Chicago, Los
Angeles) whose histories change over the last ten closed months: conditions
re-attested, resolved and added, consents given, revoked and given again, CCM, PCM
and APCM, a new billing practitioner, payer and QMB changes, deaths (instant or
date only), complex months, time entries of every kind of performer and service,
some across month edges and around consent instants, documented APCM elements.
The facts go to the live services through the real clients (ccmctl with a request
id for every change; time entries batched through ccm-cdr's JSON Lines import),
the months are closed, then backdated changes arrive late (revocations, practitioner
and payer changes, resolutions, deaths, voided and late entries). When billing has
caught up, every patient-month's live result (its current claim, or the missed
row's reason) is compared with `ccmctl evaluate` of the same facts in the history
form: program, codes and units, amount, date of service, billing NPI, reason.
Prints its seed; CCM_DIFF_SEED=N replays one (CCM_DIFF_PATIENTS=N changes the size).
Usage: test_month_diff.py BUILD_DIR
"""
import datetime
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, parallel  # noqa: E402
from billable import PLAN, caught_up  # noqa: E402

BUILD = sys.argv[1]
SEED = int(os.environ.get("CCM_DIFF_SEED") or random.SystemRandom().randrange(1, 1 << 31))
N_PATIENTS = int(os.environ.get("CCM_DIFF_PATIENTS") or 100)
WORKERS = 6
SERVICES = ("enrollment", "careplan", "timetrack", "billing")
CLINICS = {"C01": "America/New_York", "C02": "America/Chicago", "C03": "America/Los_Angeles"}
P1, P2 = "1234567893", "1245319599"           # Luhn-valid NPIs (prefix 80840)
ROLE = {P1: "PHYSICIAN", P2: "NP"}
# id -> (role, in the US)
STAFF = {"rn1": ("CLINICAL_STAFF", True), "rn2": ("CLINICAL_STAFF", True),
         "fd1": ("NON_CLINICAL", True), "rnx": ("CLINICAL_STAFF", False)}
ICD10 = ("E11.9", "I50.9", "J44.9", "N18.30", "I10", "E78.5", "F03.90", "M17.0")
OTHER_PAYERS = ("MEDICARE_ADVANTAGE", "MEDICAID", "COMMERCIAL")
ALL = "cost-sharing,one-practitioner,right-to-stop"
CURRENT = ("READY", "SUBMITTED", "ACCEPTED", "PAID", "DENIED")  # not REPLACED/WITHDRAW_NEEDED
UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC)


def month_of(dt):
    return dt.year * 12 + dt.month - 1


# This month in the westmost zone, so every window month has ended in every clinic.
M0 = min(month_of(NOW.astimezone(ZoneInfo(z))) for z in CLINICS.values())
W0, W1 = M0 - 10, M0 - 1       # the ten closed months judged (timely filing: < 12 back)
TODAY = NOW.astimezone(ZoneInfo("America/Los_Angeles")).date().isoformat()


def mtext(m):
    return "%04d-%02d" % (m // 12, m % 12 + 1)


def days_in(m):
    nxt = datetime.date((m + 1) // 12, (m + 1) % 12 + 1, 1)
    return (nxt - datetime.timedelta(days=1)).day


def rfc(dt):
    return dt.isoformat() if dt is not None else None


def when(t):
    """WHEN of a dated enrollment change: a local midnight as a date (the clinic's
    midnight, as ccmctl reads it), any other instant in RFC 3339."""
    return t.date().isoformat() if (t.hour, t.minute, t.second) == (0, 0, 0) else rfc(t)


def mbi(i):
    """A valid MBI (C A X N A X N A A N N) unique for i < 10000."""
    return "%dEG%dTE%dMK%d%d" % (1 + SEED % 9, i // 1000 % 10, i // 100 % 10, i // 10 % 10, i % 10)


class Patient:
    """One patient's generated history: the model the reference is built from, and
    the commands that tell the live services the same facts."""

    def __init__(self, i, rng):
        self.i, self.rng = i, rng
        self.clinic = rng.choice(sorted(CLINICS))
        self.zone = CLINICS[self.clinic]
        self.tz = ZoneInfo(self.zone)
        self.mrn = str(5000 + i)
        self.bill = []          # [from, npi]; from None = since before any month
        self.payers = []        # [from, payer, qmb]
        self.conds = {}         # icd10 -> {"resolved": instant, "att": [[from, chronic, months, high]]}
        self.consents = []      # {"id", "program", "npi", "at", "revoked", "ended"}
        self.died_at = self.died_date = None
        self.plans = {}         # program -> (status, established_at, copy_given_at)
        self.complex = set()    # months
        self.visits = []        # (code, date, npi, g0506)
        self.entries = {}       # event id -> {"performer", "start", "seconds", "service", "voided", "live"}
        self.ops = []           # enrollment commands, in order
        self.cp_ops = []        # careplan commands, in order
        self.time_ops = []      # `time add` commands of 0-second APCM elements
        self.late_ops = []      # commands after the months closed
        self.jsonl = []         # time entries for ccm-cdr
        self.nreq = 0
        self.nentry = 0
        self.changes = Counter()

    # ---- small helpers ----
    def local(self, m, d, hh=10, mi=0, ss=0):
        return datetime.datetime(m // 12, m % 12 + 1, d, hh, mi, ss, tzinfo=self.tz)

    def rand_instant(self, m_from, m_to):
        """A random local instant in months [m_from, m_to]: 07:00-20:59, or midnight."""
        m = self.rng.randint(m_from, m_to)
        d = self.rng.randint(1, days_in(m))
        if self.rng.random() < 0.12:
            return self.local(m, d, 0, 0)
        return self.local(m, d, self.rng.randint(7, 20), self.rng.randint(0, 59))

    def cmd(self, *args):
        self.nreq += 1
        return list(args) + ["--request-id", "d%d-%s-%d" % (SEED, self.mrn, self.nreq)]

    def p(self):
        return ("--clinic", self.clinic, "--mrn", self.mrn)

    def npi_now(self):
        return self.bill[-1][1]

    def active(self, program):
        for c in self.consents:
            if c["program"] == program and c["revoked"] is None and c["ended"] is None:
                return c
        return None

    def last_change(self):
        """The latest instant of any enrollment fact so far."""
        ts = [c["at"] for c in self.consents] + [c["revoked"] for c in self.consents] + \
             [c["ended"] for c in self.consents] + [b[0] for b in self.bill] + \
             [p[0] for p in self.payers] + \
             [a[0] for c in self.conds.values() for a in c["att"]] + \
             [c["resolved"] for c in self.conds.values()]
        ts = [t for t in ts if t is not None]
        return max(ts) if ts else None

    # ---- facts: each checks what enrollment checks, updates the model, makes the command ----
    def f_consent(self, t, program, out):
        npi = self.npi_now()
        if self.active(program) or self.died_date or t > NOW:
            return
        cid = "%s/%s/%s/%d" % (self.clinic, self.mrn, program, len(self.consents) + 1)
        self.consents.append({"id": cid, "program": program, "npi": npi, "at": t,
                              "revoked": None, "ended": None})
        out.append(self.cmd("consent", "record", *self.p(), "--program", program, "--method",
                            self.rng.choice(("VERBAL", "WRITTEN")), "--at", when(t), "--staff",
                            "rn1", "--billing-npi", npi, "--disclosed", ALL))

    def f_revoke(self, t, program, out):
        c = self.active(program)
        if not c or t < c["at"] or self.died_date:
            return
        c["revoked"] = t
        out.append(self.cmd("consent", "revoke", *self.p(), "--program", program, "--at", when(t)))

    def f_billing(self, t, npi, out):
        old = self.npi_now()
        if npi == old or self.died_date or (self.bill[-1][0] and t <= self.bill[-1][0]):
            return
        mine = [c for c in self.consents if c["npi"] == old and c["revoked"] is None and
                c["ended"] is None]
        if any(c["at"] >= t for c in mine):
            return  # would end a consent before it began: not a history we generate
        for c in mine:
            c["ended"] = t
        self.bill.append([t, npi])
        out.append(self.cmd("patient", "set-billing", *self.p(), "--npi", npi, "--from", when(t)))

    def f_payer(self, t, payer, qmb, out):
        last = self.payers[-1]
        if self.died_date or (last[0] and t <= last[0]):
            return
        args = ["patient", "payer", *self.p(), "--payer", payer, "--from", when(t)]
        if qmb is None:
            qmb = last[2]          # --qmb not given: QMB status unchanged
        else:
            args += ["--qmb", "yes" if qmb else "no"]
        if (payer, qmb) == (last[1], last[2]):
            return                 # no change: enrollment records no period
        self.payers.append([t, payer, qmb])
        out.append(self.cmd(*args))

    def f_attest(self, t, code, months, high, out):
        c = self.conds.get(code)
        if self.died_date:
            return
        args = ["condition", "add", *self.p(), "--icd10", code, "--expected-months", str(months)]
        if high:
            args.append("--high-risk")
        if c is None:             # a new condition, in force from t
            self.conds[code] = {"resolved": None, "att": [[t, True, months, high]]}
        else:                     # a re-attestation from t: must change something
            last = c["att"][-1]
            if c["resolved"] or (last[0] and t <= last[0]) or (last[2], last[3]) == (months, high):
                return
            if not last[1]:
                args.append("--acute")
            c["att"].append([t, last[1], months, high])
        out.append(self.cmd(*args, "--from", when(t)))

    def f_resolve(self, t, code, out):
        c = self.conds.get(code)
        if not c or c["resolved"] or self.died_date or (c["att"][-1][0] and t <= c["att"][-1][0]):
            return
        c["resolved"] = t
        out.append(self.cmd("condition", "resolve", *self.p(), "--icd10", code, "--at", when(t)))

    def f_death(self, t, instant_known, out):
        if self.died_date:
            return
        self.died_date = t.date().isoformat()
        args = ["patient", "death", *self.p(), "--date", self.died_date]
        if instant_known:
            self.died_at = t
            args += ["--at", rfc(t)]
        out.append(self.cmd(*args))

    def f_entry(self, start, seconds, performer, service, out=None):
        """A time entry: batched through ccm-cdr, or one `time add` command appended to
        out (0-second APCM elements: to time_ops; ccm-cdr skips zero seconds)."""
        self.nentry += 1
        eid = "d%dp%de%d" % (SEED, self.i, self.nentry)
        if out is None and seconds == 0:
            out = self.time_ops
        self.entries[eid] = {"performer": performer, "start": start, "seconds": seconds,
                             "service": service, "voided": False,
                             "live": ("CDR:" if out is None else "MANUAL:") + eid}
        if out is None:
            self.jsonl.append({"id": eid, "patient": self.mrn, "staff": performer,
                               "start": rfc(start), "seconds": seconds, "service": service,
                               "activity": "care coordination"})
        else:
            out.append(self.cmd("time", "add", *self.p(), "--performer", performer, "--start",
                                rfc(start), "--seconds", str(seconds), "--service", service,
                                "--activity", "care coordination", "--event-id", eid))

    # ---- the generator ----
    def generate(self):
        rng = self.rng
        first = rng.choice((P1, P1, P2))
        qmb = rng.random() < 0.15
        self.bill = [[None, first]]
        self.payers = [[None, "MEDICARE_B", qmb]]
        self.ops.append(self.cmd("patient", "add", *self.p(), "--mbi", mbi(self.i), "--family",
                                 "Diff", "--given", "P%d" % self.i, "--birth-date", "1950-01-01",
                                 "--billing-npi", first, *(["--qmb"] if qmb else [])))
        for code in rng.sample(ICD10, rng.choice((1, 2, 2, 3, 3))):
            months, high = rng.choice((6, 12, 24, 24, 999, 999)), rng.random() < 0.9
            acute = rng.random() < 0.05
            self.conds[code] = {"resolved": None, "att": [[None, not acute, months, high]]}
            self.ops.append(self.cmd("condition", "add", *self.p(), "--icd10", code,
                                     "--expected-months", str(months),
                                     *(["--high-risk"] if high else []),
                                     *(["--acute"] if acute else [])))
        if rng.random() < 0.85:
            self.visit(first, self.rand_instant(W0 - 4, W0 + 2).date(), rng.random() < 0.2)

        # timeline of facts, applied in the order of their instants
        r = rng.random()
        programs = ["CCM"] if r < 0.65 else ["PCM"] if r < 0.85 else ["APCM"]
        if programs == ["CCM"] and rng.random() < 0.15:
            programs.append("APCM")
        events = []
        end = self.local(W1, days_in(W1), 20)
        for prog in programs:
            t = self.rand_instant(W0 - 3, W1 - 1)
            events.append((t, "consent", prog))
            if rng.random() < 0.3:
                r_at = t + datetime.timedelta(days=rng.randint(3, 150), hours=rng.randint(0, 9))
                if r_at < end:
                    events.append((r_at, "revoke", prog))
                    if rng.random() < 0.5:
                        again = r_at + datetime.timedelta(days=rng.randint(10, 120))
                        if again < end:
                            events.append((again, "consent", prog))
        if rng.random() < 0.2:
            t = self.rand_instant(W0, W1)
            other = P2 if first == P1 else P1
            events.append((t, "billing", other))
            if rng.random() < 0.7:
                events.append((t + datetime.timedelta(days=rng.randint(0, 40)), "consent",
                               programs[0]))
            if rng.random() < 0.5:
                self.visit(other, min(t.date(), NOW.date()), False)
        if rng.random() < 0.15:
            t = self.rand_instant(W0, W1)
            events.append((t, "payer", rng.choice(OTHER_PAYERS), None))
            if rng.random() < 0.5:
                events.append((t + datetime.timedelta(days=rng.randint(20, 120)), "payer",
                               "MEDICARE_B", None))
        if rng.random() < 0.1:
            events.append((self.rand_instant(W0, W1), "payer", "MEDICARE_B", not qmb))
        if rng.random() < 0.15:
            events.append((self.rand_instant(W0, W1), "attest", rng.choice(sorted(self.conds)),
                           rng.choice((6, 12, 24, 999)), rng.random() < 0.6))
        if rng.random() < 0.1:
            events.append((self.rand_instant(W0, W1), "resolve", rng.choice(sorted(self.conds))))
        if rng.random() < 0.1:
            events.append((self.rand_instant(W0, W1), "attest", rng.choice(ICD10), 24, True))
        for e in sorted(e for e in events if e[0] < NOW):
            self.apply(e, self.ops)
        for c in self.consents:     # a visit on the consent's day: CCM starts there (G0506)
            if rng.random() < 0.25:
                later = datetime.timedelta(days=rng.choice((0, 0, 3)))
                self.visit(c["npi"], c["at"].date() + later, rng.random() < 0.7)
        if rng.random() < 0.08:
            last = self.last_change() or self.local(W0, 1)
            t = max(last, self.local(W0, 1)) + datetime.timedelta(days=rng.randint(1, 120),
                                                                   hours=rng.randint(0, 6))
            if t < end:
                self.f_death(t, rng.random() < 0.5, self.ops)

        # care plans of the programs consented to
        for prog in sorted({c["program"] for c in self.consents}):
            r = rng.random()
            if r < 0.05:
                continue
            p = (*self.p(), "--program", prog)
            self.cp_ops.append(self.cmd("careplan", "set", *p, "--file", PLAN))
            if r < 0.1:
                self.plans[prog] = ("DRAFT", None, None)
                continue
            first_at = min(c["at"] for c in self.consents if c["program"] == prog)
            est = min(first_at.date() + datetime.timedelta(days=rng.randint(-5, 20)),
                      NOW.astimezone(self.tz).date() - datetime.timedelta(days=1))
            copy = min(est + datetime.timedelta(days=rng.randint(0, 5)),
                       NOW.astimezone(self.tz).date() - datetime.timedelta(days=1))
            self.cp_ops.append(self.cmd("careplan", "establish", *p, "--date", est.isoformat()))
            self.cp_ops.append(self.cmd("careplan", "copy-given", *p, "--date", copy.isoformat(),
                                        "--method", "PAPER", "--to", "PATIENT"))
            self.plans[prog] = (
                "ESTABLISHED",
                datetime.datetime(est.year, est.month, est.day, 12, tzinfo=self.tz),
                datetime.datetime(copy.year, copy.month, copy.day, tzinfo=self.tz))
        if any(c["program"] == "CCM" for c in self.consents):
            for m in range(W0, W1 + 1):
                if rng.random() < 0.05:
                    self.complex.add(m)
                    self.ops.append(self.cmd("patient", "complexity", *self.p(), "--month",
                                             mtext(m)))

        # time: a few entries a month, of every kind of performer and service
        progs = sorted({c["program"] for c in self.consents}) or ["CCM"]
        for m in range(W0, W1 + 1):
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
                self.random_entry(m, progs)
            if "APCM" in progs and rng.random() < 0.6:   # a documented APCM element
                self.f_entry(self.local(m, rng.randint(1, days_in(m)), rng.randint(8, 17)), 0,
                             "rn1", "APCM")
            if m < W1 and rng.random() < 0.06:          # across the month's last midnight
                start = self.local(m, days_in(m), 23, rng.randint(20, 50))
                self.f_entry(start, rng.randint(30, 90) * 60, "rn1", progs[0])
        for c in self.consents:                          # straddling a consent instant
            if rng.random() < 0.3:
                self.f_entry(c["at"] - datetime.timedelta(minutes=10), 1800, "rn1", c["program"])
        if self.died_date and rng.random() < 0.7:        # work on the day of death
            d = datetime.date.fromisoformat(self.died_date)
            self.f_entry(datetime.datetime(d.year, d.month, d.day, rng.randint(8, 20),
                                           tzinfo=self.tz), rng.randint(10, 30) * 60, "rn1",
                         progs[0])

    def visit(self, npi, d, g0506):
        d = min(d, NOW.astimezone(self.tz).date())
        self.visits.append(("99214", d.isoformat(), npi, g0506))
        self.ops.append(self.cmd("visit", "add", *self.p(), "--code", "99214", "--date",
                                 d.isoformat(), "--npi", npi, *(["--g0506"] if g0506 else [])))

    def random_entry(self, m, progs, out=None):
        rng = self.rng
        start = self.local(m, rng.randint(1, days_in(m)), rng.randint(7, 19), rng.randint(0, 59))
        r = rng.random()
        npi = [b[1] for b in self.bill if b[0] is None or b[0] <= start][-1]
        performer = ("rn1" if r < 0.6 else "rn2" if r < 0.72 else npi if r < 0.84 else
                     (P2 if npi == P1 else P1) if r < 0.9 else "fd1" if r < 0.95 else "rnx")
        service = "RPM" if rng.random() < 0.06 else rng.choice(progs)
        seconds = rng.randint(2, 40) * 60 + rng.randint(0, 59)
        if start + datetime.timedelta(seconds=seconds) < NOW:
            self.f_entry(start, seconds, performer, service, out)

    def apply(self, e, out):
        kind = e[1]
        if kind == "consent":
            self.f_consent(e[0], e[2], out)
        elif kind == "revoke":
            self.f_revoke(e[0], e[2], out)
        elif kind == "billing":
            self.f_billing(e[0], e[2], out)
        elif kind == "payer":
            self.f_payer(e[0], e[2], e[3], out)
        elif kind == "attest":
            self.f_attest(e[0], e[2], e[3], e[4], out)
        elif kind == "resolve":
            self.f_resolve(e[0], e[2], out)

    def generate_late(self):
        """Changes that arrive after the months closed (most of them backdated)."""
        rng, out = self.rng, self.late_ops
        end = self.local(W1, days_in(W1), 20)
        for _ in range(rng.choice((1, 1, 2))):
            k = rng.choice(("void", "void", "entry", "entry", "revoke", "billing", "payer",
                            "resolve", "attest", "death", "complex"))
            n = len(out)
            if k == "void":
                live = [e for e in self.entries.values() if not e["voided"] and e["seconds"]]
                if live:
                    e = rng.choice(live)
                    e["voided"] = True
                    out.append(self.cmd("time", "void", "--clinic", self.clinic, "--id",
                                        e["live"], "--reason", "late correction"))
            elif k == "entry":
                self.random_entry(rng.randint(W0, W1),
                                  sorted({c["program"] for c in self.consents}) or ["CCM"], out)
            elif k == "revoke":
                act = [c for c in self.consents if c["revoked"] is None and c["ended"] is None]
                if act:
                    c = rng.choice(act)
                    t = c["at"] + datetime.timedelta(days=rng.randint(1, 200))
                    if t < end:
                        self.f_revoke(t, c["program"], out)
            elif k == "billing":
                self.f_billing(self.rand_instant(W0 + 3, W1), P2 if self.npi_now() == P1 else P1,
                               out)
            elif k == "payer":
                self.f_payer(self.rand_instant(W0 + 3, W1),
                             rng.choice(OTHER_PAYERS + ("MEDICARE_B",)),
                             rng.choice((None, True, False)), out)
            elif k == "resolve":
                self.f_resolve(self.rand_instant(W0 + 2, W1), rng.choice(sorted(self.conds)), out)
            elif k == "attest":
                self.f_attest(self.rand_instant(W0 + 2, W1), rng.choice(sorted(self.conds)),
                              rng.choice((6, 12, 24, 999)), rng.random() < 0.6, out)
            elif k == "death":
                last = self.last_change() or self.local(W0, 1)
                t = self.rand_instant(W0 + 2, W1)
                if t > last:
                    self.f_death(t, rng.random() < 0.5, out)
            elif k == "complex" and any(c["program"] == "CCM" for c in self.consents):
                m = rng.randint(W0, W1)
                if m not in self.complex:
                    self.complex.add(m)
                    out.append(self.cmd("patient", "complexity", *self.p(), "--month", mtext(m)))
            if len(out) > n:
                self.changes[k] += 1

    # ---- the reference: the same facts as an evaluate case (history form) ----
    def case(self, m):
        def performer(pid):
            if pid in ROLE:
                return pid, ROLE[pid], True
            return None, STAFF[pid][0], STAFF[pid][1]
        time_ = []
        for eid, e in sorted(self.entries.items()):
            if e["voided"] or month_of(e["start"]) not in (m - 1, m):
                continue
            npi, role, in_us = performer(e["performer"])
            time_.append({"id": eid, "performer": e["performer"], "npi": npi, "role": role,
                          "in_us": in_us, "service": e["service"], "start": rfc(e["start"]),
                          "seconds": e["seconds"]})
        return {
            "month": mtext(m), "timezone": self.zone, "as_of": TODAY,
            "clinic": {"type": "PHYSICIAN_PRACTICE"},
            "history": {
                "billing_practitioners": [{"npi": n, "role": ROLE[n], "from": rfc(f)}
                                          for f, n in self.bill],
                "payers": [{"payer": p, "qmb": q, "from": rfc(f)} for f, p, q in self.payers],
                "conditions": [{"icd10": code, "resolved_at": rfc(c["resolved"]),
                                "attestations": [{"from": rfc(f), "chronic": ch,
                                                  "expected_months": mo, "high_risk": hi}
                                                 for f, ch, mo, hi in c["att"]]}
                               for code, c in sorted(self.conds.items())],
                "consents": [{"id": c["id"], "program": c["program"], "npi": c["npi"],
                              "role": ROLE[c["npi"]], "at": rfc(c["at"]),
                              "revoked_at": rfc(c["revoked"]), "ended_at": rfc(c["ended"])}
                             for c in self.consents],
                "died_at": rfc(self.died_at),
                "died_date": None if self.died_at else self.died_date,  # one of the two
                "care_plans": [{"program": prog, "status": st, "established_at": rfc(est),
                                "copy_given_at": rfc(cp)}
                               for prog, (st, est, cp) in sorted(self.plans.items())],
                "complex_months": [mtext(x) for x in sorted(self.complex)]},
            "patient": {"visits": [{"code": c, "date": d, "npi": n, "g0506": g}
                                   for c, d, n, g in self.visits]},
            "other_services": [], "inpatient": [], "time": time_,
        }


# ---- driving the live services ----

def people(s, clinic):
    for npi, fam in ((P1, "Osei"), (P2, "Park")):
        s.ctl("practitioner", "add", "--clinic", clinic, "--npi", npi, "--role", ROLE[npi],
              "--family", fam, "--given", "A", "--request-id", "ppl-%s-%s" % (clinic, npi))
    for sid, (role, in_us) in sorted(STAFF.items()):
        s.ctl("staff", "add", "--clinic", clinic, "--id", sid, "--role", role, "--name",
              "Staff " + sid, *([] if in_us else ["--outside-us"]),
              "--request-id", "ppl-%s-%s" % (clinic, sid))


def run_ops(s, ops):
    for args in ops:
        s.ctl(*args)


def cdr_import(s, clinic, records):
    path = os.path.join(s.dir, "entries-%s.jsonl" % clinic)
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    mp = os.path.join(s.dir, "map-%s.ini" % clinic)
    with open(mp, "w") as f:
        f.write("[defaults]\nactivity = care coordination\nservice = CCM\n")
    r = subprocess.run([os.path.join(s.build, "clients/ccm-cdr/ccm-cdr"), "--format", "jsonl",
                        "--map", mp, "--clinic", clinic, "--broker", s.broker_ep, "--state",
                        os.path.join(s.dir, "cdr-" + clinic), "--window", "64", "--deadline",
                        "120", "--json", "--quiet", path],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.returncode, r.stderr[-3000:])
    got = json.loads(r.stdout)
    assert got["acknowledged"] == len(records) and got["refused"] == 0, (got, r.stderr[-3000:])


def live_results(s):
    """(clinic, mrn, month) -> {"claims": [current claims], "missed": [rows]}, and
    (clinic, mrn, "all") -> every claim listed for the patient (any status)."""
    out = {}

    def fetch(cm):
        clinic, m = cm
        cs = s.ctl_json("claim", "list", "--clinic", clinic, "--month", mtext(m),
                        timeout_ms=10000).get("claims", [])
        ms = s.ctl_json("missed", "--clinic", clinic, "--month", mtext(m),
                        timeout_ms=10000).get("missed", [])
        return cs, ms
    for cs, ms in parallel(fetch, [(c, m) for c in sorted(CLINICS) for m in range(W0, W1 + 1)],
                           WORKERS):
        for c in cs:
            out.setdefault((c["clinic"], c["mrn"], "all"), []).append(c)
            if c["status"] in CURRENT:
                out.setdefault((c["clinic"], c["mrn"], c["month"]),
                               {"claims": [], "missed": []})["claims"].append(c)
        for x in ms:
            out.setdefault((x["clinic"], x["mrn"], x["month"]),
                           {"claims": [], "missed": []})["missed"].append(x)
    return out


def norm_reason(r):
    return r.split("(")[0] if r else r


def expected_of(ev):
    if ev["claim"]:
        return {"claim": True, "program": ev["program"],
                "lines": sorted((l["code"], l["units"], l["dos"]) for l in ev["lines"]),
                "amount_cents": ev["amount_cents"], "dos": ev["dos"],
                "billing_npi": ev.get("billing_npi")}
    return {"claim": False, "reason": norm_reason(ev["reason"])}


def live_of(got):
    if not got:
        return {"absent": "neither a claim nor a missed row"}
    cs, ms = got["claims"], got["missed"]
    if len(cs) > 1:
        return {"error": "%d current claims: %s" % (len(cs), [c["id"] for c in cs])}
    if cs and ms:
        return {"error": "claim %s and missed row(s) %s" % (cs[0]["id"],
                                                             [x["reason"] for x in ms])}
    if cs:
        c = cs[0]
        return {"claim": True, "program": c["program"],
                "lines": sorted((l["code"], l["units"], l["dos"]) for l in c["lines"]),
                "amount_cents": c["amount_cents"], "dos": c["dos"],
                "billing_npi": c["billing_npi"]}
    if len(ms) > 1:
        return {"error": "listed %d times in missed: %s" % (len(ms), [x["reason"] for x in ms])}
    return {"claim": False, "reason": norm_reason(ms[0]["reason"])}


def evaluate(pm):
    """`ccmctl evaluate` of one patient-month's facts (history form): the reference."""
    p, m = pm
    r = subprocess.run([os.path.join(os.path.abspath(BUILD), "clients/ccmctl/ccmctl"),
                        "evaluate", "-", "--json"], input=json.dumps(p.case(m)),
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return {"evaluate_error": r.stderr.strip()}
    return json.loads(r.stdout)


def compare(pms, evs, live):
    mismatches, kinds = [], Counter()
    for (p, m), ev in zip(pms, evs):
        want = ev if "evaluate_error" in ev else expected_of(ev)
        kinds["CLAIM" if want.get("claim") else want.get("reason", "ERROR")] += 1
        for line in want.get("lines", []):
            kinds[line[0]] += 1
        got = live_of(live.get((p.clinic, p.mrn, mtext(m))))
        if want != got:
            mismatches.append((p, m, want, got))
    return mismatches, kinds


def main():
    t0 = time.time()
    print("month-diff: seed=%d (replay: CCM_DIFF_SEED=%d) patients=%d months=%s..%s"
          % (SEED, SEED, N_PATIENTS, mtext(W0), mtext(W1)), flush=True)
    rng = random.Random(SEED)
    pts = [Patient(i, random.Random(rng.getrandbits(64))) for i in range(N_PATIENTS)]
    for p in pts:           # the whole history, the late changes included, is known up
        p.generate()        # front: the reference is computed while the stack runs
        if p.rng.random() < 0.5:
            p.generate_late()
    pms = [(p, m) for p in pts for m in range(W0, W1 + 1)]
    pool = ThreadPoolExecutor(max_workers=2)
    reference = [pool.submit(evaluate, pm) for pm in pms]
    with Stack(BUILD, services=SERVICES, clinics=sorted(CLINICS), zones=CLINICS,
               extra={"billing": {"close_after_days": "0"}}).start_all() as s:
        parallel(lambda c: people(s, c), sorted(CLINICS), 3)
        caught_up(s)
        # enrollment facts (per patient in order); time adds need the patient in timetrack
        parallel(lambda p: run_ops(s, p.ops), pts, WORKERS)
        caught_up(s, timeout=60)
        t1 = time.time()
        print("month-diff: enrollment facts of %d patients in %.1f s" % (len(pts), t1 - t0),
              flush=True)
        jobs = [("cp", p) for p in pts] + [("cdr", c) for c in sorted(CLINICS)] + \
               [("apcm", p) for p in pts]

        def job(j):
            kind, x = j
            if kind == "cp":
                run_ops(s, x.cp_ops)
            elif kind == "apcm":
                run_ops(s, x.time_ops)
            else:
                cdr_import(s, x, [r for p in pts if p.clinic == x for r in p.jsonl])
        parallel(job, jobs, WORKERS)
        caught_up(s, timeout=60)
        t2 = time.time()
        print("month-diff: care plans and %d time entries in %.1f s"
              % (sum(len(p.entries) for p in pts), t2 - t1), flush=True)
        for m in range(W0, W1 + 1):
            s.ctl("month", "close", "--month", mtext(m), "--request-id",
                  "close-%d-%s" % (SEED, mtext(m)), timeout_ms=30000)
        t3 = time.time()
        parallel(lambda p: run_ops(s, p.late_ops), pts, WORKERS)
        caught_up(s, timeout=90)
        t4 = time.time()
        evs = [f.result() for f in reference]
        pool.shutdown()
        t5 = time.time()
        # Billing settles the months that late changes touched a little later (a periodic
        # task): poll until live and reference agree, or the deadline passes.
        deadline = time.time() + 30
        while True:
            mismatches, kinds = compare(pms, evs, live_results(s))
            if not mismatches or time.time() > deadline:
                break
            time.sleep(0.5)
        t6 = time.time()

        late = Counter()
        for p in pts:
            late.update(p.changes)
        # nothing changed for a patient after the close: each claim is still version 1
        live = live_results(s)
        churn = [(p, c) for p in pts if not p.late_ops
                 for c in live.get((p.clinic, p.mrn, "all"), [])
                 if c["version"] != 1 or c["status"] != "READY"]
        for p, c in churn[:5]:
            print("CHURN %s (seed %d patient %d, no change after the close): version %d %s"
                  % (c["id"], SEED, p.i, c["version"], c["status"]))
        print("month-diff: expected outcomes %s" % dict(sorted(kinds.items())))
        print("month-diff: late changes %s" % dict(sorted(late.items())))
        print("month-diff: timing setup %.1f s, plans+time %.1f s, close %.1f s, late %.1f s, "
              "reference ready after %.1f s more, settled %.1f s"
              % (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5))
        for p, m, want, got in mismatches[:5]:
            print("MISMATCH %s/%s %s (seed %d patient %d):\n  evaluate: %s\n  live:     %s\n"
                  "  case: %s" % (p.clinic, p.mrn, mtext(m), SEED, p.i, json.dumps(want),
                                  json.dumps(got), json.dumps(p.case(m))))
        print("month-diff: seed=%d patients=%d patient_months=%d mismatches=%d churn=%d (%.0f s)"
              % (SEED, len(pts), len(pms), len(mismatches), len(churn), time.time() - t0),
              flush=True)
        # the generator must exercise the rules, not only agree on empty months
        assert len(pms) >= 500, len(pms)
        assert kinds["CLAIM"] >= len(pms) // 10, "too few billable months: %s" % kinds
        assert len([k for k in kinds if k.isupper() and "_" in k]) >= 5, \
            "too few distinct reasons: %s" % kinds
        assert sum(late.values()) >= 15, "too few late changes: %s" % late
        if mismatches or churn:
            raise AssertionError("%d of %d patient-months differ from evaluate, %d claims of "
                                 "unchanged patients re-versioned (seed %d)"
                                 % (len(mismatches), len(pms), len(churn), SEED))


if __name__ == "__main__":
    main()
