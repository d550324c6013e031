"""One written form for each value, so an export and an email agree on it.

The council's export says ``SMITH, Jane`` and ``03/03/1961``; the email says "Mrs Jane
Smith, born 3 March 1961". Both sides go through the same functions here: the
importer with each column's kind, the detector with every value a message could hold
(``candidates``). Only the normalised form is ever hashed, and nothing here keeps it.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence


class Kind(enum.StrEnum):
    FULL_NAME = "name"
    FIRST_NAME = "first name"
    LAST_NAME = "last name"
    DATE = "date"
    POSTCODE = "postcode"
    IDENTIFIER = "identifier"  # NHS, NI, council tax account, tenancy reference...
    EMAIL = "email"
    PHONE = "phone"
    ADDRESS = "address"  # the first line: "12 High Street"
    TEXT = "text"  # anything else, compared whole


NAME_PARTS = frozenset({Kind.FULL_NAME, Kind.FIRST_NAME, Kind.LAST_NAME})

# Header words that say a column's kind, most specific first.
_HEADER_KINDS: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(p, re.I), k)
    for p, k in (
        (r"e-?mail", Kind.EMAIL),
        (r"phone|tel\b|telephone|mobile", Kind.PHONE),
        (r"post ?code|postal ?code|zip", Kind.POSTCODE),
        (r"\bnhs\b|\bni\b|nino|national insurance|\bref|account|\bno\b|number|\bid\b|uprn|claim",
         Kind.IDENTIFIER),
        (r"birth|\bdob\b|\bdate\b|\bd\.o\.b", Kind.DATE),
        (r"first|fore ?name|given|christian", Kind.FIRST_NAME),
        (r"sur ?name|last ?name|family ?name", Kind.LAST_NAME),
        (r"address|street|line ?1|house", Kind.ADDRESS),
        (r"name|client|resident|tenant|claimant|person|patient|pupil|child", Kind.FULL_NAME),
    )
)  # fmt: skip


def kind_of_header(header: str) -> Kind:
    for pattern, kind in _HEADER_KINDS:
        if pattern.search(header):
            return kind
    return Kind.TEXT


def parse_kind(word: str) -> Kind:
    """``--columns "DOB:date"``: a kind by its name (or a few obvious synonyms)."""
    word = word.strip().lower().replace("_", " ").replace("-", " ")
    synonyms = {"full name": Kind.FULL_NAME, "forename": Kind.FIRST_NAME,
                "surname": Kind.LAST_NAME, "dob": Kind.DATE, "id": Kind.IDENTIFIER,
                "nhs": Kind.IDENTIFIER, "nino": Kind.IDENTIFIER, "mobile": Kind.PHONE}  # fmt: skip
    if word in synonyms:
        return synonyms[word]
    return Kind(word)  # ValueError: the caller names the choices


# --- the forms ---------------------------------------------------------------------

_NOT_WORD = re.compile(r"[^0-9a-z]+")
_TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "rev",
        "revd",
        "prof",
        "sir",
        "dame",
        "lady",
        "lord",
        "master",
        "cllr",
    ]
)


def fold(text: str) -> str:
    """Lower case, accents and punctuation gone, single spaces: "O'Brien-Núñez" and
    "OBRIEN NUNEZ" become "obrien nunez"."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower().replace("'", "").replace("\u2019", "")
    return _NOT_WORD.sub(" ", text).strip()


def full_name(value: str) -> str:
    """First and last name only: titles, middle names and initials dropped, and
    "SMITH, Jane" turned round."""
    if "," in value:
        last, _, first = value.partition(",")
        value = f"{first} {last}"
    words = [w for w in value.split() if fold(w) not in _TITLES]
    words = [w for w in words if len(fold(w).replace(" ", "")) > 1] or words
    if len(words) < 2:
        return fold(" ".join(words))
    return f"{fold(words[0])} {fold(words[-1])}".strip()


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        (
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        )
    )
    for m in names.split()
}
_NUMERIC_DATE = re.compile(r"\b(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")
_DAY_MONTH = r"(\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?[\s\-]+([A-Za-z]{3,9})\.?,?[\s\-]+(\d{4}|\d{2})"
_WORDED_DATE = re.compile(rf"\b{_DAY_MONTH}\b")
_MONTH_FIRST = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        this = dt.date.today().year % 100
        year += 2000 if year <= this else 1900
    return year


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def dates_in(text: str) -> list[str]:
    """Every date written in a UK way (3/3/1961, 03-03-61, 1961-03-03, 3 March 1961,
    3rd Mar 61, March 3, 1961), as YYYY-MM-DD."""
    found = []
    for a, b, c in _NUMERIC_DATE.findall(text):
        if len(a) == 4:
            iso = _iso(int(a), int(b), int(c)) if len(c) <= 2 else None
        elif len(c) in (2, 4):
            iso = _iso(_year(c), int(b), int(a))  # day first, as in the UK
        else:
            iso = None
        if iso:
            found.append(iso)
    for day, month, year in _WORDED_DATE.findall(text):
        number = _MONTHS.get(month.lower())
        if number and (iso := _iso(_year(year), number, int(day))):
            found.append(iso)
    for month, day, year in _MONTH_FIRST.findall(text):
        number = _MONTHS.get(month.lower())
        if number and (iso := _iso(int(year), number, int(day))):
            found.append(iso)
    return found


def date(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    found = dates_in(str(value))
    return found[0] if found else ""


_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})\b", re.I)
_WHOLE_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}")


def postcode(value: str) -> str:
    compact = re.sub(r"\s+", "", value).upper()
    return compact if _WHOLE_POSTCODE.fullmatch(compact) else ""


def identifier(value: str) -> str:
    """Upper case letters and digits only: "943 476 5919", "943-476-5919" and
    "9434765919" are one NHS number; "CT/00123" and "ct00123" one account."""
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if digits.startswith("44") and len(digits) == 12:
        digits = "0" + digits[2:]
    return digits if len(digits) >= 9 else ""


def email(value: str) -> str:
    return value.strip().lower() if "@" in value else ""


def address(value: str) -> str:
    """The first line of an address ("12 High Street"), folded."""
    first = re.split(r"[,\n]", value.strip(), maxsplit=1)[0]
    return fold(first)


def normalised(kind: Kind, value: object) -> str:
    """The one form of an exported value of this kind ("" when it holds none)."""
    if value is None:
        return ""
    if kind is Kind.DATE:
        return date(value)
    text = str(value).strip()
    if not text:
        return ""
    if kind is Kind.FULL_NAME:
        return full_name(text)
    if kind in (Kind.FIRST_NAME, Kind.LAST_NAME, Kind.TEXT):
        return fold(text)
    if kind is Kind.POSTCODE:
        return postcode(text)
    if kind is Kind.IDENTIFIER:
        return identifier(text)
    if kind is Kind.PHONE:
        return phone(text)
    if kind is Kind.EMAIL:
        return email(text)
    return address(text)


# --- what a message may hold -------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")
_ADDRESS_START = re.compile(r"\b(\d{1,4}[A-Za-z]?)\s+((?:[^\W\d_]+[ \t]+){0,3}[^\W\d_]+)")
_EMAIL = re.compile(r"[\w.+\-']+@[\w\-]+(?:\.[\w\-]+)+")
_NUMBERISH = re.compile(r"\b[A-Za-z]{0,3}\d[\dA-Za-z]*(?:[ \-/.]\d[\dA-Za-z]*)*(?:[ ]?[A-Da-d])?\b")
_MAX_PROSE = 400_000  # characters of one part read for candidates


def candidates(text: str) -> set[str]:
    """Every normalised value this text could hold, of every kind: its words and
    pairs of words (names), dates, postcodes, numbers, email addresses, phone
    numbers and first lines of addresses."""
    text = text[:_MAX_PROSE]
    out: set[str] = set()
    words = [fold(w) for w in _WORD.findall(text)]
    words = [w for w in words if w and w not in _TITLES]
    out.update(words)
    for a, b in itertools.pairwise(words):
        out.add(f"{a} {b}")
        out.add(f"{b} {a}")  # "SMITH Jane", as registers write names
    out.update(f"{a} {c}" for a, c in zip(words, words[2:], strict=False))  # a middle name
    out.update(dates_in(text))
    out.update(f"{a}{b}".upper() for a, b in _POSTCODE.findall(text))
    for found in _NUMBERISH.findall(text):
        number = identifier(found)
        if len(number) >= 4:
            out.add(number)
            if number.isdigit():
                out.add(phone(number) or number)
    out.update(e.lower() for e in _EMAIL.findall(text))
    for number, street in _ADDRESS_START.findall(text):
        parts = fold(street).split()
        out.update(fold(number) + " " + " ".join(parts[:n]) for n in range(1, len(parts) + 1))
    out.discard("")
    return out


def row_candidates(cells: Sequence[str]) -> set[str]:
    """A table row's values: each cell as a whole and as text, and neighbouring cells
    read as one name (a "Forename | Surname" table against a "Name" column)."""
    out: set[str] = set()
    alpha: list[str] = []
    for cell in cells:
        if not cell:
            alpha.append("")
            continue
        out.update(candidates(cell))
        whole = fold(cell)
        out.add(whole)
        out.add(full_name(cell))
        short = len(whole.split()) <= 2 and not any(c.isdigit() for c in whole)
        alpha.append(whole if short else "")
    for a, b in itertools.pairwise(alpha):
        if a and b:
            out.add(f"{a} {b}")
            out.add(f"{b} {a}")
    out.discard("")
    return out


def table_candidates(rows: Iterable[Sequence[str]]) -> set[str]:
    out: set[str] = set()
    for row in rows:
        out.update(row_candidates(row))
    return out
