"""Names and roles: what the recipient detectors read in display names."""

from __future__ import annotations

import re
import unicodedata


def initials(name: str) -> str:
    """``Priya Patel`` → ``P*** P***``."""
    return " ".join(f"{w[:1].upper()}***" for w in name.split()) or "***"


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


# Words that make a mailbox or display name an organisation's or a role's, not a person's.
ROLE_WORDS = frozenset(
    [
        "accounts",
        "admin",
        "administrator",
        "applications",
        "association",
        "bursar",
        "business",
        "care",
        "centre",
        "center",
        "chair",
        "clerk",
        "complaints",
        "contact",
        "council",
        "councillor",
        "customer",
        "customerservices",
        "democratic",
        "department",
        "director",
        "duty",
        "enquiries",
        "enquiry",
        "environmental",
        "finance",
        "general",
        "governors",
        "group",
        "head",
        "headteacher",
        "hello",
        "help",
        "helpdesk",
        "housing",
        "hr",
        "info",
        "licensing",
        "llp",
        "ltd",
        "limited",
        "mail",
        "manager",
        "nhs",
        "noreply",
        "no-reply",
        "office",
        "officer",
        "parish",
        "planning",
        "plc",
        "postmaster",
        "practice",
        "principal",
        "reception",
        "referrals",
        "safeguarding",
        "sales",
        "school",
        "secretary",
        "service",
        "services",
        "solicitors",
        "support",
        "surgery",
        "teacher",
        "team",
        "town",
        "trust",
        "webmaster",
    ]
)
_WORD = re.compile(r"[^\W\d_]+")


def is_role(text: str) -> bool:
    """``parish.clerk``, ``School Office``, ``Northdown Housing Trust``: not a person."""
    return any(w in ROLE_WORDS for w in _WORD.findall(fold(text)))
