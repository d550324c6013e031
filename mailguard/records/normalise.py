"""One written form for each value, so an export and an email agree on it.

The council's export says ``SMITH, Jane`` and ``03/03/1961``; the email says "Mrs Jane
Smith, born 3 March 1961". Both sides go through the same functions here: the
importer with each column's kind, the detector with every value a message could hold
(``candidates``). Only the normalised form is ever hashed, and nothing here keeps it.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


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


class Group(enum.IntFlag):
    """What a value read from a message looks like (it may look like two things:
    "KR9 5RE" is a postcode and a reference), so it is looked up only in the columns
    that could hold it (a date never in the postcode column)."""

    WORDS = 1  # names, and whole cells of text
    DATE = 2
    POSTCODE = 4
    NUMBER = 8  # identifiers and phone numbers
    EMAIL = 16
    ADDRESS = 32


# The values each kind of column is searched for.
SEARCHED: dict[Kind, Group] = {
    Kind.FULL_NAME: Group.WORDS,
    Kind.FIRST_NAME: Group.WORDS,
    Kind.LAST_NAME: Group.WORDS,
    Kind.TEXT: Group.WORDS | Group.ADDRESS,
    Kind.DATE: Group.DATE,
    Kind.POSTCODE: Group.POSTCODE,
    Kind.IDENTIFIER: Group.NUMBER,
    Kind.PHONE: Group.NUMBER,
    Kind.EMAIL: Group.EMAIL,
    Kind.ADDRESS: Group.ADDRESS,
}

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


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case, accents and punctuation gone, single spaces: "O'Brien-Núñez" and
    "OBRIEN NUNEZ" become "obrien nunez"."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower().replace("'", "").replace("\u2019", "")
    return _NOT_WORD.sub(" ", text).strip()


def full_name(value: str) -> str:
    """First and last word of the name only: titles, middle names and initials
    dropped, and "SMITH, Jane" turned round ("Jane Smith-Jones" is "jane jones", as
    on the message's side)."""
    if "," in value:
        last, _, first = value.partition(",")
        value = f"{first} {last}"
    words = [w for w in fold(value).split() if w not in _TITLES]
    words = [w for w in words if len(w) > 1] or words
    if len(words) < 2:
        return " ".join(words)
    return f"{words[0]} {words[-1]}"


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
_HAS_LETTER = re.compile(r"[A-Za-z]")
_HAS_DIGIT = re.compile(r"\d")
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
    found: list[str] = []
    if not _HAS_DIGIT.search(text):
        return found
    for a, b, c in _NUMERIC_DATE.findall(text):
        if len(a) == 4:
            iso = _iso(int(a), int(b), int(c)) if len(c) <= 2 else None
        elif len(c) in (2, 4):
            iso = _iso(_year(c), int(b), int(a))  # day first, as in the UK
        else:
            iso = None
        if iso:
            found.append(iso)
    if text.isdigit() or not _HAS_LETTER.search(text):
        return found
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


_SPACE = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_NOT_DIGIT = re.compile(r"\D")
_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})\b", re.I)
_WHOLE_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}")


def postcode(value: str) -> str:
    compact = _SPACE.sub("", value).upper()
    return compact if _WHOLE_POSTCODE.fullmatch(compact) else ""


def identifier(value: str) -> str:
    """Upper case letters and digits only: "943 476 5919", "943-476-5919" and
    "9434765919" are one NHS number; "CT/00123" and "ct00123" one account."""
    return _NOT_ALNUM.sub("", value.upper())


def phone(value: str) -> str:
    digits = _NOT_DIGIT.sub("", value)
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
_MAX_CELL = 80  # a longer cell is a note, not a value of a register
ALL_KINDS = frozenset(Kind)
SINGLE_WORDS = frozenset({Kind.FIRST_NAME, Kind.LAST_NAME, Kind.TEXT})


def candidates(text: str, kinds: frozenset[Kind] = ALL_KINDS) -> dict[str, Group]:
    """Every normalised value of the wanted ``kinds`` this text could hold, with what
    it looks like: names (capitalised words, in pairs: "Jane Smith", "SMITH Jane",
    "Jane M. Smith"), dates, postcodes, numbers, email addresses, phone numbers, first
    lines of addresses."""
    text = text[:_MAX_PROSE]
    out: dict[str, Group] = {}

    def add(values: Iterable[str], group: Group) -> None:
        for value in values:
            out[value] = out.get(value, Group(0)) | group

    if kinds & NAME_PARTS or Kind.TEXT in kinds:
        words = [w for w in _WORD.findall(text) if w[0].isupper()]
        folded = [f for w in words for f in fold(w).split() if f not in _TITLES]
        if kinds & SINGLE_WORDS:
            add(folded, Group.WORDS)
        if Kind.FULL_NAME in kinds or Kind.TEXT in kinds:
            add((f"{a} {b}" for a, b in itertools.pairwise(folded)), Group.WORDS)
            # "SMITH Jane", as registers write names; "Jane M. Smith"
            add((f"{b} {a}" for a, b in itertools.pairwise(folded)), Group.WORDS)
            add((f"{a} {c}" for a, c in zip(folded, folded[2:], strict=False)), Group.WORDS)
    if not _HAS_DIGIT.search(text):
        return out  # every other kind has a digit in it
    if Kind.DATE in kinds:
        add(dates_in(text), Group.DATE)
    if Kind.POSTCODE in kinds:
        add((f"{a}{b}".upper() for a, b in _POSTCODE.findall(text)), Group.POSTCODE)
    if kinds & {Kind.IDENTIFIER, Kind.PHONE}:
        for found in _NUMBERISH.findall(text):
            number = identifier(found)
            if len(number) >= 4:
                add((number,), Group.NUMBER)
                if Kind.PHONE in kinds and number.isdigit():
                    add((phone(number) or number,), Group.NUMBER)
    if Kind.EMAIL in kinds:
        add((e.lower() for e in _EMAIL.findall(text)), Group.EMAIL)
    if Kind.ADDRESS in kinds:
        for number, street in _ADDRESS_START.findall(text):
            parts = fold(street).split()
            start = fold(number)
            add((f"{start} {' '.join(parts[:n])}" for n in range(1, len(parts) + 1)), Group.ADDRESS)
    out.pop("", None)
    return out


@dataclass(slots=True)
class Values:
    """What one part of a message may hold, by record context (a table row, or a few
    lines of text): ``values[i]``, which looks like ``groups[i]``, was seen in context
    ``contexts[i]``."""

    contexts: list[int] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    count: int = 0  # contexts

    def add(self, found: dict[str, Group]) -> None:
        at = self.count
        for value, group in found.items():
            if value:
                self.contexts.append(at)
                self.values.append(value)
                self.groups.append(group)
        self.count += 1

    def sets(self) -> list[set[str]]:
        out: list[set[str]] = [set() for _ in range(self.count)]
        for at, value in zip(self.contexts, self.values, strict=True):
            out[at].add(value)
        return [s for s in out if s]


def prose_contexts(text: str, kinds: frozenset[Kind] = ALL_KINDS) -> Values:
    """The values of a text, a few lines at a time: one person's details sit
    together ("Jane Smith, born ... of ..."; a "Name:/DOB:" block), and values many
    lines apart are not one record (a text table is read row by row this way)."""
    lines = text[:_MAX_PROSE].splitlines()
    out = Values()
    for start in range(0, max(len(lines), 1), 2):
        window = "\n".join(lines[start : start + 3])
        if window.strip():
            out.add(candidates(window, kinds))
    return out


def table_contexts(rows: Iterable[Sequence[str]], kinds: frozenset[Kind] = ALL_KINDS) -> Values:
    """One context a row: each cell read as the kind its column holds (judged from the
    column's first cells), and neighbouring name cells read as one name ("Forename |
    Surname"). A cell seen before in its column is not read again."""
    rows = [r for r in rows if any(r)]
    out = Values()
    if not rows:
        return out
    width = max(len(r) for r in rows)
    readers = [_column_reader([r[i] for r in rows[:30] if i < len(r)], kinds) for i in range(width)]
    names = [i for i in range(width - 1) if readers[i] is readers[i + 1] is _name_values]
    contexts, values, groups = out.contexts, out.values, out.groups
    numbers = range(len(rows))
    for i, reader in enumerate(readers):
        if reader is _nothing:
            continue
        cells = [row[i] if i < len(row) else "" for row in rows]
        read = {c: reader(c, kinds) for c in dict.fromkeys(cells) if c and len(c) <= _MAX_CELL}
        group = _GROUP_OF.get(reader)
        if group is not None and all(len(v) <= 1 for v in read.values()):
            # The usual column: one value a cell, all of one look.
            one = {c: next(iter(v)) for c, v in read.items() if v}
            found = [at for at in numbers if cells[at] in one]
            values.extend(one[cells[at]] for at in found)
            contexts.extend(found)
            groups.extend([group] * len(found))
            continue
        for at, cell in enumerate(cells):
            for value, looks in read.get(cell, {}).items():
                if value:
                    contexts.append(at)
                    values.append(value)
                    groups.append(looks)
    for i in names:
        for at, row in enumerate(rows):
            if i + 1 < len(row) and row[i] and row[i + 1]:
                a, b = fold(row[i]).split(), fold(row[i + 1]).split()
                if a and b:
                    contexts.extend((at, at))
                    values.extend((f"{a[0]} {b[-1]}", f"{b[0]} {a[-1]}"))
                    groups.extend((Group.WORDS, Group.WORDS))
    out.count = len(rows)
    return out


_ADDRESS_KINDS = frozenset({Kind.ADDRESS, Kind.TEXT})
_ADDRESS_LINE = re.compile(r"\d{1,4}[A-Za-z]?,?\s+[^\W\d_]")
_ID_LIKE = re.compile(r"[A-Za-z]{0,3}[\d][\d \-/.]*[A-Za-z]?")


def _name_values(cell: str, kinds: frozenset[Kind]) -> dict[str, Group]:
    """A name cell. One word alone ("Smith") is looked up only where a register keeps
    single names; next to another name cell it is read as part of a pair anyway."""
    name = full_name(cell)
    values = {name: Group.WORDS} if " " in name or kinds & SINGLE_WORDS else {}
    if kinds & SINGLE_WORDS:
        values[fold(cell)] = Group.WORDS
    return values


def _id_values(cell: str, kinds: frozenset[Kind]) -> dict[str, Group]:
    number = identifier(cell)
    if Kind.PHONE in kinds and number.isdigit():
        return {number: Group.NUMBER, phone(number): Group.NUMBER}
    return {number: Group.NUMBER}


def _date_values(cell: str, kinds: frozenset[Kind]) -> dict[str, Group]:
    return dict.fromkeys(dates_in(cell)[:1], Group.DATE)


def _worded_date_values(cell: str, kinds: frozenset[Kind]) -> dict[str, Group]:
    """A column of "3 March 1961": one pattern, not every way of writing a date."""
    found = _WORDED_DATE.fullmatch(cell.strip())
    if found is None:
        return _date_values(cell, kinds)
    day, month, year = found.groups()
    number = _MONTHS.get(month.lower())
    iso = _iso(_year(year), number, int(day)) if number else None
    return {iso: Group.DATE} if iso else {}


def _numeric_date_values(cell: str, kinds: frozenset[Kind]) -> dict[str, Group]:
    found = _NUMERIC_DATE.fullmatch(cell.strip())
    if found is None or len(found.group(1)) == 4:
        return _date_values(cell, kinds)
    day, month, year = found.groups()
    iso = _iso(_year(year), int(month), int(day)) if len(year) in (2, 4) else None
    return {iso: Group.DATE} if iso else {}


def _postcode_values(cell: str, kinds: frozenset[Kind]) -> dict[str, Group]:
    return {postcode(cell): Group.POSTCODE}


def _email_values(cell: str, kinds: frozenset[Kind]) -> dict[str, Group]:
    return {email(cell): Group.EMAIL}


def _nothing(cell: str, kinds: frozenset[Kind]) -> dict[str, Group]:
    return {}


_GROUP_OF = {
    _name_values: Group.WORDS,
    _id_values: Group.NUMBER,
    _date_values: Group.DATE,
    _worded_date_values: Group.DATE,
    _numeric_date_values: Group.DATE,
    _postcode_values: Group.POSTCODE,
    _email_values: Group.EMAIL,
}


def _column_reader(sample: list[str], kinds: frozenset[Kind]):  # type: ignore[no-untyped-def]
    """How to read a column's cells, judged from its first values."""
    sample = [c.strip() for c in sample if c and len(c) <= _MAX_CELL]
    if not sample:
        return _nothing

    def most(test) -> bool:  # type: ignore[no-untyped-def]
        return sum(1 for c in sample if test(c)) * 2 > len(sample)

    if Kind.DATE in kinds and most(lambda c: bool(dates_in(c))):
        if most(lambda c: _WORDED_DATE.fullmatch(c) is not None):
            return _worded_date_values
        if most(lambda c: _NUMERIC_DATE.fullmatch(c) is not None):
            return _numeric_date_values
        return _date_values
    if Kind.POSTCODE in kinds and most(lambda c: bool(postcode(c))):
        return _postcode_values
    if most(lambda c: "@" in c):  # email addresses: read only where a register has them
        return _email_values if Kind.EMAIL in kinds else _nothing
    if most(lambda c: _ADDRESS_LINE.match(c) is not None) and not kinds & _ADDRESS_KINDS:
        return _nothing  # "12 High Road": the register holds no addresses
    if kinds & {Kind.IDENTIFIER, Kind.PHONE} and most(lambda c: _ID_LIKE.fullmatch(c)):
        return _id_values
    if most(lambda c: _HAS_DIGIT.search(c) is not None):
        return candidates  # an address, a reference in words
    if kinds & (NAME_PARTS | {Kind.TEXT}) and most(lambda c: len(c.split()) <= 4):
        return _name_values
    return _nothing  # notes and other prose: not a register's value
