"""Synthetic council registers (Faker en_GB's name lists, seeded): a housing register
export of any size, fast enough for 100,000 rows in a test, and ways to write its
people into mail as staff would (capitals, worded dates, postcodes without a space)."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from faker.providers.person.en_GB import Provider as People

FIRST_NAMES = sorted(set(People.first_names_female) | set(People.first_names_male))
LAST_NAMES = sorted(set(People.last_names))
_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
HEADER = ("Tenancy Ref", "First Name", "Surname", "Date of Birth", "Postcode", "NHS Number")


@dataclass(frozen=True, slots=True)
class Resident:
    ref: str
    first: str
    last: str
    born: dt.date
    postcode: str
    nhs: str

    def export_row(self) -> tuple[str, ...]:
        """As the housing system exports it: dd/mm/yyyy, spaced NHS numbers."""
        return (
            self.ref,
            self.first,
            self.last,
            self.born.strftime("%d/%m/%Y"),
            self.postcode,
            f"{self.nhs[:3]} {self.nhs[3:6]} {self.nhs[6:]}",
        )


def _nhs(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def _postcode(rng: random.Random) -> str:
    area = rng.choice(["ND", "NT", "SX", "WB", "KR", "LM"])
    return (
        f"{area}{rng.randint(1, 29)} {rng.randint(1, 9)}"
        f"{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
    )


def residents(n: int, seed: int = 1) -> list[Resident]:
    rng = random.Random(seed)
    start = dt.date(1930, 1, 1).toordinal()
    return [
        Resident(
            f"HT{100000 + i:07d}",
            rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES),
            dt.date.fromordinal(start + rng.randint(0, 27000)),
            _postcode(rng),
            _nhs(rng),
        )
        for i in range(n)
    ]


class Register:
    """``residents(n)``, made the first time a test looks (not when tests are collected)."""

    def __init__(self, n: int, seed: int = 1) -> None:
        self.n, self.seed = n, seed

    @functools.cached_property
    def people(self) -> list[Resident]:
        return residents(self.n, self.seed)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        return self.people[index]

    def __len__(self) -> int:
        return self.n


def write_csv(path: Path, people: Sequence[Resident], header: tuple[str, ...] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(p.export_row() for p in people)
    return path


def in_a_letter(person: Resident) -> str:
    """One person as a caseworker writes them in prose."""
    return (
        f"Mrs {person.first} {person.last}, born {person.born.day} "
        f"{person.born.strftime('%B %Y')}, of {person.postcode.replace(' ', '')}"
    )


def reordered_csv(people: list[Resident]) -> bytes:
    """The same people as another team's spreadsheet has them: names in capitals,
    dates written out, postcodes without the space, columns in another order."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Postcode", "Date of birth", "NAME"])
    for p in people:
        writer.writerow(
            [
                p.postcode.replace(" ", ""),
                f"{p.born.day} {p.born.strftime('%B %Y')}",
                f"{p.first} {p.last}".upper(),
            ]
        )
    return out.getvalue().encode()
