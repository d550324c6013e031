"""Presidio's pattern recognisers, run without their per-match bookkeeping.

``PatternRecognizer.analyze`` times every pattern with ``datetime.now()``, formats a
debug line and builds an explanation object for every match: more than the regex
itself costs on a table cell or a short stretch of text, and a CSV of residents has
thousands. ``analyze`` here gives the same results (same patterns, same flags and
regex engine, the recogniser's own validate/invalidate and Presidio's duplicate
removal); recognisers that are not plain pattern recognisers (phone numbers, IBAN's
own analyze) run as Presidio runs them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult

# A whole GB phone number has at least 7 digits (+44 and a 7-digit national number):
# a cell with fewer is never one, and the phone matcher is the slowest recogniser.
PHONE_MIN_DIGITS = 7


def analyze(recognizer: Any, text: str) -> list[RecognizerResult]:
    patterns = _patterns(recognizer)
    if patterns is None:
        return recognizer.analyze(text, recognizer.supported_entities)
    entity = recognizer.supported_entities[0]
    results = []
    for regex, base in patterns:
        for match in regex.finditer(text):
            start, end = match.span()
            if start == end:
                continue
            found = text[start:end]
            score = base
            valid = recognizer.validate_result(found)
            if valid is not None:
                score = EntityRecognizer.MAX_SCORE if valid else EntityRecognizer.MIN_SCORE
            if recognizer.invalidate_result(found):
                score = EntityRecognizer.MIN_SCORE
            if score > EntityRecognizer.MIN_SCORE:
                results.append(RecognizerResult(entity, start, end, score))
    return EntityRecognizer.remove_duplicates(results) if len(results) > 1 else results


def could_be_phone(text: str) -> bool:
    return sum(c.isdigit() for c in text) >= PHONE_MIN_DIGITS


def is_phone(recognizer: Any) -> bool:
    return "PHONE_NUMBER" in recognizer.supported_entities


@cache
def _patterns(recognizer: Any) -> tuple[tuple[Any, float], ...] | None:
    """The compiled patterns of a plain pattern recogniser; None for any other."""
    if not isinstance(recognizer, PatternRecognizer) or not recognizer.patterns:
        return None
    if type(recognizer).analyze is not PatternRecognizer.analyze:
        return None
    import regex  # the engine Presidio compiles its patterns with

    flags = recognizer.global_regex_flags
    return tuple((regex.compile(p.regex, flags=flags), p.score) for p in recognizer.patterns)
