"""What the ICO's breach report asks, worked out from a decision's findings.

Categories follow the report form's tick-boxes; records and people are estimates from
the counts (the form asks for approximate numbers); the description is one sentence a
data protection officer can start from. Nothing here reads content: the findings'
details are masked already.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailguard.ledger.store import LedgerFinding

REPORT_WITHIN_HOURS = 72

# Finding type -> the ICO form's categories.
_BY_TYPE = {
    "PERSON": ("basic identifiers",),
    "EMAIL_ADDRESS": ("basic identifiers",),
    "PHONE_NUMBER": ("basic identifiers",),
    "DATE_OF_BIRTH": ("basic identifiers",),
    "UK_NINO": ("basic identifiers",),
    "UK_NHS": ("basic identifiers", "health"),
    "UK_POSTCODE": ("basic identifiers", "location"),
    "UK_PASSPORT": ("official documents",),
    "UK_DRIVING_LICENCE": ("official documents",),
    "UK_BANK_ACCOUNT": ("financial",),
    "UK_SORT_CODE": ("financial",),
    "CREDIT_CARD": ("financial",),
    "IBAN_CODE": ("financial",),
    "KNOWN_RECORD": ("basic identifiers",),
    "RECIPIENT_OWN_DATA": ("basic identifiers",),
}
# SPECIAL_CATEGORY's kind (its detail names one: "e.g. [health]").
_SPECIAL = {
    "health": "health",
    "disability": "health",
    "ethnicity": "ethnicity",
    "religion": "religion",
    "sexuality": "sexual life/orientation",
    "criminal": "criminal convictions",
    "safeguarding": "children/vulnerable adults",
}
_KIND = re.compile(r"\[([a-z ]+)\]")
# One of these a person: the count that best says how many people are in it.
_ONE_EACH = ("KNOWN_RECORD", "UK_NHS", "UK_NINO", "DATE_OF_BIRTH", "UK_PASSPORT",
             "UK_DRIVING_LICENCE", "UK_BANK_ACCOUNT", "PERSON")  # fmt: skip
_PERSONAL = frozenset(_BY_TYPE) | {"SPECIAL_CATEGORY", "HIDDEN_CONTENT", "REDACTION_FAILURE"}


def categories(findings: Sequence[LedgerFinding]) -> list[str]:
    found: dict[str, None] = {}
    for f in findings:
        for category in _BY_TYPE.get(f.type, ()):
            found[category] = None
        if f.type == "SPECIAL_CATEGORY":
            kinds = _KIND.findall(f.detail) or ["health"]
            for kind in kinds:
                found[_SPECIAL.get(kind.strip(), "health")] = None
    return list(found) or ["not yet known"]


def records(findings: Sequence[LedgerFinding]) -> int:
    """Approximate records: the largest count of one personal finding type."""
    counts = [f.count for f in findings if f.type in _PERSONAL]
    return max(counts, default=0)


def people(findings: Sequence[LedgerFinding]) -> int:
    """Approximate people: the count of the finding that is one per person (rows of the
    council's own tables first, then NHS numbers, NI numbers, dates of birth...)."""
    by_type: dict[str, int] = {}
    for f in findings:
        by_type[f.type] = by_type.get(f.type, 0) + f.count
    for kind in _ONE_EACH:
        if by_type.get(kind):
            return by_type[kind]
    return 1 if any(f.type in _PERSONAL for f in findings) else 0


def description(action: str, rule: str, recipients: Sequence[str], outside: Sequence[str],
                findings: Sequence[LedgerFinding]) -> str:  # fmt: skip
    what = ", ".join(categories(findings))
    n = records(findings)
    went = {
        "hold": "was held by mailguard before it left",
        "reject": "was refused by mailguard",
    }.get(action, "was delivered")
    who = (
        f"{len(outside)} recipient(s) outside the council ({', '.join(sorted(_domains(outside)))})"
        if outside
        else f"{len(recipients)} recipient(s) inside the council"
    )
    rule_part = f" (rule {rule})" if rule else ""
    return (
        f"An email holding about {n} record(s) of personal data ({what}) was addressed to"
        f" {who} and {went}{rule_part}."
    )


def _domains(addresses: Sequence[str]) -> set[str]:
    return {a.rpartition("@")[2].lower() for a in addresses}
