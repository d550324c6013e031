"""What every kind of message is made from: the context handed to a kind, the sample
it returns, and the registry of kinds."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from faker import Faker

from mailguard.cli.evaluate import SCORED
from tests.support.corpus import council as cc
from tests.support.corpus import ids
from tests.support.corpus.mail import Block, Draft


@dataclass
class Sample:
    """One message and the truth about it."""

    draft: Draft | None
    risky: bool
    expect: str
    entities: set[str] = field(default_factory=set)
    secrets: list[str] = field(default_factory=list)
    raw: bytes | None = None  # instead of a draft (bounces, hand-made MIME)
    mail_from: str | None = None  # envelope; None: the From: address
    rcpt: list[str] | None = None  # envelope; None: To+Cc
    note: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.entities) - set(SCORED)
        assert not unknown, f"not a scored entity type: {unknown}"


@dataclass(frozen=True)
class Kind:
    name: str
    make: Callable[[Ctx], Sample]
    risky: bool
    weight: float
    summary: str


KINDS: dict[str, Kind] = {}


def kind(
    name: str, *, risky: bool, weight: float = 1.0
) -> Callable[[Callable[[Ctx], Sample]], Callable[[Ctx], Sample]]:
    def register(fn: Callable[[Ctx], Sample]) -> Callable[[Ctx], Sample]:
        assert name not in KINDS, name
        KINDS[name] = Kind(name, fn, risky, weight, (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return register


def _london(when: dt.datetime) -> dt.timezone:
    # British Summer Time: last Sunday of March to last Sunday of October (near enough).
    return dt.timezone(dt.timedelta(hours=1 if 4 <= when.month <= 10 else 0))


class Ctx:
    """Randomness, the world and the date for one message."""

    def __init__(self, rng: random.Random, fake: Faker, world: cc.World, today: dt.date) -> None:
        self.rng = rng
        self.fake = fake
        self.world = world
        self.today = today

    # --- choosing ---------------------------------------------------------------------
    def choice(self, seq: Sequence):  # type: ignore[no-untyped-def]
        return self.rng.choice(seq)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def when(self, days_back: int = 6) -> dt.datetime:
        day = self.today - dt.timedelta(days=self.rng.randint(0, days_back))
        while day.weekday() >= 5 and self.rng.random() < 0.85:
            day -= dt.timedelta(days=1)
        t = dt.datetime(
            day.year,
            day.month,
            day.day,
            self.rng.randint(7, 18),
            self.rng.randint(0, 59),
            self.rng.randint(0, 59),
        )
        return t.replace(tzinfo=_london(t))

    def earlier(self, when: dt.datetime, max_days: int = 3) -> dt.datetime:
        return when - dt.timedelta(minutes=self.rng.randint(20, max_days * 24 * 60))

    def date_ahead(self, lo: int = 3, hi: int = 40) -> dt.date:
        d = self.today + dt.timedelta(days=self.rng.randint(lo, hi))
        while d.weekday() >= 5:
            d += dt.timedelta(days=1)
        return d

    @staticmethod
    def day(d: dt.date) -> str:
        return f"{d:%A} {d.day} {d:%B %Y}"

    # --- people -----------------------------------------------------------------------
    def staff(self, *depts: str) -> cc.Staff:
        pool = self.world.staff_in(*depts) if depts else self.world.staff
        return self.rng.choice(pool)

    def staff_titled(self, *words: str) -> cc.Staff:
        return self.rng.choice(self.world.staff_titled(*words))

    def resident(self, **kw) -> ids.Person:  # type: ignore[no-untyped-def]
        return ids.person(self.rng, self.fake, self.today, **kw)

    def name(self) -> str:
        """Someone's name as it appears in a To: header or a signature (no title)."""
        return f"{self.fake.first_name()} {self.fake.last_name()}"

    def child(self, last: str | None = None, min_age: int = 1, max_age: int = 16) -> ids.Person:
        return ids.child(self.rng, self.fake, self.today, last, min_age=min_age, max_age=max_age)

    def contact(self, *kinds: str, partner: bool | None = None) -> cc.Contact:
        pool = [
            c
            for o in self.world.orgs
            if (not kinds or o.kind in kinds) and (partner is None or o.partner == partner)
            for c in o.contacts
        ]
        return self.rng.choice(pool)

    # --- writing ----------------------------------------------------------------------
    def closing(
        self, s: cc.Staff, *, external: bool = True, signoff: str | None = None
    ) -> list[Block]:
        blocks: list[Block] = [
            ("p", signoff or self.rng.choice(cc.SIGNOFFS)),
            ("sig", cc.signature(s, self.rng)),
        ]
        if (external and self.rng.random() < 0.65) or (not external and self.rng.random() < 0.15):
            blocks.append(("small", cc.disclaimer(self.rng)))
        return blocks

    def greet(self, first: str = "", formal: str = "") -> Block:
        return ("p", cc.greeting(self.rng, first, formal))

    def ref(self, prefix: str = "", digits: int = 6) -> str:
        return prefix + "".join(str(self.rng.randint(0, 9)) for _ in range(digits))

    def money(self, lo: float, hi: float) -> str:
        return f"£{self.rng.uniform(lo, hi):,.2f}"

    def pick_some(self, seq: Sequence, lo: int, hi: int) -> list:  # type: ignore[type-arg]
        return self.rng.sample(list(seq), min(len(seq), self.rng.randint(lo, hi)))


def person_secrets(p: ids.Person, *fields: str) -> list[str]:
    """The raw values of a person that a finding's detail must never show."""
    out = [p.name]
    for f in fields:
        if f == "dob":
            out.append(f"{p.dob:%d/%m/%Y}")
        else:
            out.append(getattr(p, f))
    return out
