"""Synthetic people and identifiers that have the real formats and check digits.

Everything here is made up from a seeded random source: names from Faker (en_GB),
identifiers built to the published formats (NHS number mod 11, NINO prefix rules,
DVLA licence layout, GB IBAN mod 97, Luhn card numbers). Telephone numbers come from
the ranges Ofcom keeps for drama (01632 960xxx, 07700 900xxx), so none is anyone's.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
import string
from dataclasses import dataclass, field

from faker import Faker

WEBMAIL = [
    ("gmail.com", 30),
    ("hotmail.co.uk", 11),
    ("outlook.com", 9),
    ("yahoo.co.uk", 7),
    ("btinternet.com", 6),
    ("icloud.com", 5),
    ("hotmail.com", 4),
    ("live.co.uk", 3),
    ("sky.com", 3),
    ("googlemail.com", 2),
    ("aol.com", 2),
    ("virginmedia.com", 2),
    ("talktalk.net", 2),
    ("ymail.com", 2),
    ("email.com", 1),
    ("me.com", 1),
    ("yahoo.com", 1),
    ("protonmail.com", 1),
    ("gmx.co.uk", 1),
    ("mail.com", 1),
]


def webmail_domain(rng: random.Random) -> str:
    names, weights = zip(*WEBMAIL, strict=True)
    return rng.choices(names, weights)[0]


# --- identifiers ------------------------------------------------------------------


def nhs_number(rng: random.Random, style: str | None = None) -> str:
    """A 10-digit NHS number whose 10th digit is the mod-11 check digit."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        digits[0] = rng.randint(4, 7)
        total = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            s = "".join(map(str, digits)) + str(check)
            break
    style = style or rng.choice(["spaced", "spaced", "spaced", "plain", "dashed"])
    if style == "plain":
        return s
    sep = "-" if style == "dashed" else " "
    return f"{s[:3]}{sep}{s[3:6]}{sep}{s[6:]}"


def passes_nhs_check(digits: str) -> bool:
    d = [int(c) for c in digits if c.isdigit()]
    if len(d) != 10:
        return False
    check = 11 - sum(x * w for x, w in zip(d[:9], range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == d[9]


def ten_digit_reference(rng: random.Random, prefix: str = "45") -> str:
    """A purchase-order style 10-digit number that happens to pass the NHS check."""
    while True:
        s = prefix + "".join(str(rng.randint(0, 9)) for _ in range(10 - len(prefix)))
        if passes_nhs_check(s):
            return s


_NINO_FIRST = [c for c in string.ascii_uppercase if c not in "DFIQUV"]
_NINO_SECOND = [c for c in string.ascii_uppercase if c not in "DFIOQUV"]
_NINO_BAD = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def nino(rng: random.Random, spaced: bool | None = None) -> str:
    while True:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        if prefix not in _NINO_BAD:
            break
    digits = "".join(str(rng.randint(0, 9)) for _ in range(6))
    suffix = rng.choice("ABCD")
    if spaced is None:
        spaced = rng.random() < 0.35
    if spaced:
        return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{prefix}{digits}{suffix}"


def passport_number(rng: random.Random) -> str:
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(8))


def driving_licence(
    rng: random.Random, surname: str, first: str, dob: dt.date, female: bool
) -> str:
    """The DVLA layout: surname, decade, month (+50 for women), day, year, initials."""
    letters = "".join(c for c in surname.upper() if c.isalpha())[:5].ljust(5, "9")
    month = dob.month + (50 if female else 0)
    initials = (first[:1] + rng.choice(string.ascii_uppercase + "9")).upper()
    check = rng.choice("9") + "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
    return f"{letters}{str(dob.year)[2]}{month:02d}{dob.day:02d}{str(dob.year)[3]}{initials}{check}"


def sort_code(rng: random.Random) -> str:
    return "-".join(f"{rng.randint(1 if i == 0 else 0, 99):02d}" for i in range(3))


def account_number(rng: random.Random) -> str:
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(7))


def gb_iban(rng: random.Random, sort: str, account: str, bank: str | None = None) -> str:
    bank = bank or "".join(rng.choice("ABCDEFGHJKLMNPRSTWXY") for _ in range(4))
    bban = bank + sort.replace("-", "") + account
    rearranged = bban + "GB00"
    number = int("".join(str(int(c, 36)) for c in rearranged))
    check = 98 - number % 97
    iban = f"GB{check:02d}{bban}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def card_number(rng: random.Random) -> str:
    first = rng.choice(["4", "4", "5"])
    body = [int(first)] + [rng.randint(0, 9) for _ in range(14)]
    if first == "5":
        body[1] = rng.randint(1, 5)
    total = 0
    for i, d in enumerate(reversed(body)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    digits = "".join(map(str, body)) + str((10 - total % 10) % 10)
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def council_tax_account(rng: random.Random) -> str:
    return rng.choice("3456") + "".join(str(rng.randint(0, 9)) for _ in range(7))


def phone(rng: random.Random, mobile: bool | None = None) -> str:
    if mobile is None:
        mobile = rng.random() < 0.6
    if mobile:
        n = rng.randint(900000, 900999)
        return rng.choice([f"07700 {n}", f"07700{n}", f"07700 {str(n)[:3]} {str(n)[3:]}"])
    return f"01632 {rng.randint(960000, 960999)}"


# --- people -----------------------------------------------------------------------


@dataclass
class Person:
    """A private individual: a resident, service user, tenant, patient, landlord."""

    title: str
    first: str
    last: str
    female: bool
    dob: dt.date
    street: str
    town: str
    postcode: str
    email: str
    phone: str
    _ids: dict[str, str] = field(default_factory=dict)
    rng: random.Random | None = None

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def formal(self) -> str:
        return f"{self.title} {self.last}"

    @property
    def address_lines(self) -> list[str]:
        return [self.street, self.town, self.postcode]

    def _get(self, key: str, make) -> str:
        if key not in self._ids:
            self._ids[key] = make()
        return self._ids[key]

    @property
    def nhs(self) -> str:
        return self._get("nhs", lambda: nhs_number(self.rng))

    @property
    def nino(self) -> str:
        return self._get("nino", lambda: nino(self.rng))

    @property
    def passport(self) -> str:
        return self._get("passport", lambda: passport_number(self.rng))

    @property
    def licence(self) -> str:
        return self._get(
            "licence",
            lambda: driving_licence(self.rng, self.last, self.first, self.dob, self.female),
        )

    @property
    def sort_code(self) -> str:
        return self._get("sort", lambda: sort_code(self.rng))

    @property
    def account(self) -> str:
        return self._get("account", lambda: account_number(self.rng))

    @property
    def iban(self) -> str:
        return self._get("iban", lambda: gb_iban(self.rng, self.sort_code, self.account))

    @property
    def card(self) -> str:
        return self._get("card", lambda: card_number(self.rng))

    @property
    def ctax(self) -> str:
        return self._get("ctax", lambda: council_tax_account(self.rng))

    def dob_text(self, style: str | None = None) -> str:
        style = style or self.rng.choice(["dmy", "dmy", "dmy", "long", "dashed", "dot"])
        d = self.dob
        if style == "long":
            return f"{d.day} {d:%B %Y}"
        if style == "dashed":
            return f"{d:%d-%m-%Y}"
        if style == "dot":
            return f"{d:%d.%m.%Y}"
        if style == "iso":
            return f"{d:%Y-%m-%d}"
        return f"{d:%d/%m/%Y}"


def _local_part(rng: random.Random, first: str, last: str, year: int) -> str:
    f, l_ = _ascii(first).lower(), _ascii(last).lower()
    pattern = rng.randint(0, 9)
    if pattern == 0:
        return f"{f}.{l_}"
    if pattern == 1:
        return f"{f}{l_}{rng.randint(1, 99)}"
    if pattern == 2:
        return f"{f[0]}{l_}{str(year)[2:]}"
    if pattern == 3:
        return f"{f}.{l_}{year}"
    if pattern == 4:
        return f"{l_}{f[0]}"
    if pattern == 5:
        return f"{f}_{l_}"
    if pattern == 6:
        return f"{f}{rng.randint(100, 999)}"
    if pattern == 7:
        return f"{f[0]}.{l_}{rng.randint(1, 9)}"
    if pattern == 8:
        return f"{f}{l_[0]}{rng.randint(10, 99)}"
    return f"{f}.{l_}.{rng.randint(1, 99)}"


def _ascii(s: str) -> str:
    import unicodedata

    out = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return "".join(c for c in out if c.isalnum()) or "x"


@functools.cache
def _vocabulary() -> dict[str, tuple]:
    """Faker's en_GB names and address parts, read once (its per-call weighting is slow)."""
    from faker.providers.address.en_GB import Provider as Address
    from faker.providers.person.en_GB import Provider as Names

    last = Names.last_names
    return {
        "female": tuple(Names.first_names_female),
        "male": tuple(Names.first_names_male),
        "last": tuple(last.keys()) if hasattr(last, "keys") else tuple(last),
        "last_weights": tuple(itertools.accumulate(last.values()))
        if hasattr(last, "values")
        else None,
        "suffixes": (
            "Road",
            "Street",
            "Lane",
            "Close",
            "Avenue",
            "Drive",
            "Way",
            "Gardens",
            "Crescent",
            "Court",
            "Grove",
            "Place",
            "Mews",
            "Terrace",
            "Walk",
            "Rise",
            "View",
        ),
        "zones1": tuple(Address.POSTAL_ZONES_ONE_CHAR),
        "zones2": tuple(Address.POSTAL_ZONES_TWO_CHARS),
    }


def postcode(rng: random.Random) -> str:
    """A postcode of the right shape (outward area and district, inward sector and unit)."""
    v = _vocabulary()
    area = rng.choice(v["zones2"]) if rng.random() < 0.8 else rng.choice(v["zones1"])
    district = str(rng.randint(1, 29 if len(area) == 2 else 9))
    unit = "ABDEFGHJLNPQRSTUWXYZ"
    return f"{area}{district} {rng.randint(0, 9)}{rng.choice(unit)}{rng.choice(unit)}"


def surname(rng: random.Random) -> str:
    v = _vocabulary()
    return (
        rng.choices(v["last"], cum_weights=v["last_weights"])[0]
        if v["last_weights"]
        else rng.choice(v["last"])
    )


def street(rng: random.Random) -> str:
    v = _vocabulary()
    name = surname(rng) if rng.random() < 0.6 else rng.choice(v["female"] + v["male"])
    line = f"{rng.randint(1, 180)} {name} {rng.choice(v['suffixes'])}"
    if rng.random() < 0.15:
        line = f"Flat {rng.randint(1, 24)}, {line}"
    return line


def person(
    rng: random.Random,
    fake: Faker | None,
    today: dt.date,
    *,
    min_age: int = 18,
    max_age: int = 90,
    domain: str | None = None,
    female: bool | None = None,
) -> Person:
    v = _vocabulary()
    if female is None:
        female = rng.random() < 0.52
    if female:
        first, title = rng.choice(v["female"]), rng.choice(["Mrs", "Ms", "Miss", "Ms", "Mrs"])
    else:
        first, title = rng.choice(v["male"]), "Mr"
    last = surname(rng)
    age_days = rng.randint(min_age * 365 + 1, max_age * 365 + 300)
    dob = today - dt.timedelta(days=age_days)
    domain = domain or webmail_domain(rng)
    email = f"{_local_part(rng, first, last, dob.year)}@{domain}"
    return Person(
        title=title,
        first=first,
        last=last,
        female=female,
        dob=dob,
        street=street(rng),
        town=rng.choice(TOWNS),
        postcode=postcode(rng),
        email=email,
        phone=phone(rng),
        rng=rng,
    )


def child(
    rng: random.Random,
    fake: Faker | None,
    today: dt.date,
    last: str | None = None,
    *,
    min_age: int = 1,
    max_age: int = 16,
) -> Person:
    p = person(rng, fake, today, min_age=min_age, max_age=max_age)
    if last:
        p.last = last
    p.title = ""
    return p


TOWNS = [
    "Anytown",
    "Kingsbridge Vale",
    "Marlow Heath",
    "Ashcombe",
    "Little Brancaster",
    "Easton Parva",
    "Hollowfield",
    "Westmoor",
    "Felbridge St Mary",
    "Oakhurst",
]
