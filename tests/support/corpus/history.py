"""The council's past sent mail: who each member of staff usually writes to.

An admin seeds mailguard's history from a mailbox export like this one (``mailguard
history learn``) before switching it on; the evaluation does the same.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from faker import Faker

from tests.support.corpus import council as cc
from tests.support.corpus.ids import person
from tests.support.corpus.mail import fmt_addr, rfc_date

SUBJECTS_INTERNAL = [
    "Catch-up",
    "Team meeting",
    "Rota",
    "RE: allocation",
    "Supervision",
    "Leave request",
    "Budget monitoring",
    "RE: draft report",
    "Training",
    "Quick question",
]
SUBJECTS_PARTNER = [
    "Referral",
    "RE: referral",
    "Case discussion",
    "Meeting notes",
    "Strategy meeting",
    "Discharge planning",
    "Information request",
    "RE: update",
    "Joint visit",
]
SUBJECTS_OTHER = [
    "RE: quote",
    "Invoice",
    "Meeting",
    "RE: arrangements",
    "Contract",
    "RE: your enquiry",
    "Booking",
    "Documents",
]
SUBJECTS_RESIDENT = [
    "RE: your enquiry",
    "Your council tax",
    "Your application",
    "RE: bin collection",
    "Appointment",
    "Your claim",
    "RE: complaint",
    "Information you asked for",
]


def messages(world: cc.World, seed: int, today: dt.date) -> Iterator[tuple[str, bytes]]:
    """(envelope sender, message) pairs, oldest first, covering the last ~10 months."""
    rng = random.Random(f"history:{seed}")
    fake = Faker("en_GB")
    fake.seed_instance(seed * 31 + 7)
    out: list[tuple[dt.datetime, str, str, list[tuple[str, str]], str]] = []

    def when() -> dt.datetime:
        day = today - dt.timedelta(days=rng.randint(8, 300))
        t = dt.datetime(
            day.year, day.month, day.day, rng.randint(8, 17), rng.randint(0, 59), tzinfo=dt.UTC
        )
        return t

    for s in world.staff:
        me = (s.name, s.email)
        for c in s.contacts:  # usual outside contacts, many times each
            for _ in range(rng.randint(3, 8)):
                subj = rng.choice(SUBJECTS_PARTNER if c.org.partner else SUBJECTS_OTHER)
                out.append((when(), s.email, me, [(c.name, c.email)], subj))
        for colleague in s.colleagues:
            for _ in range(rng.randint(1, 5)):
                out.append(
                    (
                        when(),
                        s.email,
                        me,
                        [(colleague.name, colleague.email)],
                        rng.choice(SUBJECTS_INTERNAL),
                    )
                )
        for _ in range(rng.randint(4, 16)):  # residents, one-off
            foreign = rng.random() < 0.04
            r = person(rng, fake, today, domain=rng.choice(cc.FOREIGN_WEBMAIL) if foreign else None)
            out.append((when(), s.email, me, [(r.name, r.email)], rng.choice(SUBJECTS_RESIDENT)))
    for box in (
        "revenues",
        "benefits",
        "foi",
        "press",
        "planning",
        "payments",
        "housing",
        "admissions",
        "parking",
    ):
        address = cc.mailbox(box)
        for _ in range(40):
            if box == "press":
                c = rng.choice(world.orgs_of("press")).contacts
                to = [(x.name, x.email) for x in c[:1]]
            elif box == "foi" and rng.random() < 0.5:
                n = rng.randint(100000, 999999)
                to = [(fake.name(), f"request-{n}-{fake.hexify('^^^^^^^^')}@whatdotheyknow.com")]
            elif box == "planning" and rng.random() < 0.6:
                if rng.random() < 0.5:
                    parish, domain = rng.choice(cc.PARISHES)
                    to = [(f"Clerk to {parish} Parish Council", f"clerk@{domain}")]
                else:
                    to = [(fake.name(), f"{fake.user_name()}@{rng.choice(cc.PLANNING_AGENTS)}")]
            elif box == "payments":
                org = rng.choice(world.orgs_of("supplier") + world.orgs_of("charity"))
                to = [(org.contacts[0].name, org.contacts[0].email)]
            else:
                r = person(rng, fake, today)
                to = [(r.name, r.email)]
            out.append((when(), address, (box.title(), address), to, rng.choice(SUBJECTS_RESIDENT)))
    out.sort(key=lambda m: m[0])
    for i, (at, sender, from_, to, subj) in enumerate(out):
        greeting = to[0][0].split()[0] if to[0][0] else "there"
        body = f"Hi {greeting},\n\n{rng.choice(_LINES)}\n\nThanks\n{from_[0].split()[0]}\n"
        raw = (
            f"From: {fmt_addr(*from_)}\nTo: {', '.join(fmt_addr(n, a) for n, a in to)}\nSubject: "
            f"{subj}\nDate: {rfc_date(at)}\nMessage-ID: "
            f"<hist.{seed}.{i}@{cc.DOMAIN}>\nMIME-Version: 1.0\nContent-Type: text/plain; "
            f"charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}"
        )
        yield sender, raw.encode("utf-8")


_LINES = [
    "Thanks for your email, I'll pick this up tomorrow.",
    "Please see the attached and let me know your thoughts.",
    "Can we find a time next week to talk this through?",
    "Following our conversation, I have updated the record.",
    "Just confirming the arrangements for Thursday.",
    "I've passed this on to the right team; they will be in touch.",
]


def write_mbox(path, world: cc.World, seed: int, today: dt.date) -> int:  # type: ignore[no-untyped-def]
    n = 0
    with open(path, "wb") as fh:
        for sender, raw in messages(world, seed, today):
            fh.write(f"From {sender} {today:%a %b %d} 00:00:00 {today:%Y}\n".encode())
            for line in raw.split(b"\n"):
                fh.write((b">" + line if line.startswith(b"From ") else line) + b"\n")
            fh.write(b"\n")
            n += 1
    return n
