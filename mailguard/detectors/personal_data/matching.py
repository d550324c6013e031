"""Presidio's pattern recognisers, run without their per-match bookkeeping.

``PatternRecognizer.analyze`` times every pattern with ``datetime.now()``, formats a
debug line and builds an explanation object for every match: more than the regex
itself costs on a table cell or a short stretch of text, and a CSV of residents has
thousands. ``analyze`` here gives the same results (same patterns, same flags and
regex engine, the recogniser's own validate/invalidate and Presidio's duplicate
removal); recognisers that are not plain pattern recognisers (phone numbers, IBAN's
own analyze) run as Presidio runs them, IBAN only where its pattern matches.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerResult

# A whole GB phone number has at least 7 digits (+44 and a 7-digit national number):
# a cell with fewer is never one, and the phone matcher is the slowest recogniser.
PHONE_MIN_DIGITS = 7


def analyze(recognizer: Any, text: str) -> list[RecognizerResult]:
    compiled = _compiled(recognizer)
    if compiled is None:
        return recognizer.analyze(text, recognizer.supported_entities)
    if not compiled.plain:
        if not any(regex.search(text) for regex, _ in compiled.patterns):
            return []  # it reports only inside a match of its own patterns
        return recognizer.analyze(text, recognizer.supported_entities)
    entity = recognizer.supported_entities[0]
    presidio = compiled.presidio
    results = []
    for regex, base in compiled.patterns:
        for match in regex.finditer(text):
            start, end = match.span()
            if start == end:
                continue
            found = text[start:end]
            score = base
            valid = recognizer.validate_result(found)
            if valid is not None:
                score = presidio.MAX_SCORE if valid else presidio.MIN_SCORE
            if recognizer.invalidate_result(found):
                score = presidio.MIN_SCORE
            if score > presidio.MIN_SCORE:
                results.append(presidio.Result(entity, start, end, score))
    return presidio.remove_duplicates(results) if len(results) > 1 else results


@lru_cache(maxsize=1024)
def able_to_cover(recognizers: tuple[Any, ...], length: int, slack: int) -> tuple[Any, ...]:
    """The recognisers whose matches can span all but ``slack`` of ``length`` ASCII
    characters (a table cell that *is* an NHS number): most cells need one or two of
    thirteen. Unknown widths, and recognisers that are not pattern ones, always can."""
    out = []
    for recognizer in recognizers:
        compiled = _compiled(recognizer)
        if compiled is None or compiled.narrowest <= length <= compiled.widest + slack:
            out.append(recognizer)
    return tuple(out)


def could_be_phone(text: str) -> bool:
    return sum(map(str.isdigit, text)) >= PHONE_MIN_DIGITS


def is_phone(recognizer: Any) -> bool:
    return "PHONE_NUMBER" in recognizer.supported_entities


# Recognisers with their own ``analyze`` that still report only inside a match of their
# own patterns: IBAN tries shorter groups of one match against its checksum.
_WITHIN_OWN_MATCHES = frozenset({"IbanRecognizer"})


@dataclass(frozen=True, slots=True)
class _Presidio:
    """Presidio's result type and score rules, imported when the first recogniser is
    compiled: a recogniser exists only once Presidio is loaded, and commands that never
    inspect (quarantine, users, records) start a second sooner without it."""

    Result: Any
    MAX_SCORE: float
    MIN_SCORE: float
    remove_duplicates: Any


@cache
def _presidio() -> _Presidio:
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    return _Presidio(
        RecognizerResult,
        EntityRecognizer.MAX_SCORE,
        EntityRecognizer.MIN_SCORE,
        EntityRecognizer.remove_duplicates,
    )


@dataclass(frozen=True, slots=True)
class _Compiled:
    presidio: _Presidio
    patterns: tuple[tuple[Any, float], ...]
    plain: bool  # PatternRecognizer's own analyze: its results are the matches
    narrowest: int  # of any match, in characters, for ASCII text (0 and sys.maxsize:
    widest: int  # not known)


@cache
def _compiled(recognizer: Any) -> _Compiled | None:
    """The compiled patterns of a pattern recogniser whose results lie in its matches;
    None for any other (phone numbers)."""
    from presidio_analyzer import PatternRecognizer

    if not isinstance(recognizer, PatternRecognizer) or not recognizer.patterns:
        return None
    plain = type(recognizer).analyze is PatternRecognizer.analyze
    if not plain and type(recognizer).__name__ not in _WITHIN_OWN_MATCHES:
        return None
    import regex  # the engine Presidio compiles its patterns with

    flags = recognizer.global_regex_flags
    patterns = tuple((regex.compile(p.regex, flags=flags), p.score) for p in recognizer.patterns)
    widths = [_width(p.regex, flags) for p in recognizer.patterns]
    narrowest, widest = min(w[0] for w in widths), max(w[1] for w in widths)
    return _Compiled(_presidio(), patterns, plain, narrowest, widest)


def _width(pattern: str, flags: int) -> tuple[int, int]:
    """Shortest and longest match of an ASCII pattern on ASCII text, from ``re``'s own
    parser (the ``regex`` engine reads the same syntax; one it cannot read is unknown)."""
    if not pattern.isascii():
        return 0, sys.maxsize
    try:
        low, high = re._parser.parse(pattern, flags & re.VERBOSE).getwidth()  # type: ignore[attr-defined]
    except Exception:
        return 0, sys.maxsize
    return low, high
