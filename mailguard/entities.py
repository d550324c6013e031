"""Names shared by detectors, findings and policy files (see CONTRACT.md).

A policy may name a detector or finding type whose detector is not installed on
this relay; lint accepts every name here, and rejects anything else as a typo.
"""

from __future__ import annotations

PERSONAL_DATA_TYPES = frozenset(
    {
        "UK_NHS",
        "UK_NINO",
        "UK_PASSPORT",
        "UK_DRIVING_LICENCE",
        "UK_POSTCODE",
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "UK_SORT_CODE",
        "UK_BANK_ACCOUNT",
        "DATE_OF_BIRTH",
        "SPECIAL_CATEGORY",
    }
)

CONTENT_TYPES = frozenset({"HIDDEN_CONTENT", "UNINSPECTABLE"})

RECIPIENT_DETECTORS = frozenset(
    {
        "bulk_visible",
        "lookalike_domain",
        "recipient_near_miss",
        "name_mismatch",
        "new_external_domain",
        "unroutable_domain",  # mailguard's addition to CONTRACT.md's list: needs DNS
    }
)

DETECTORS = frozenset({"personal_data", *RECIPIENT_DETECTORS})

# Recipient detectors report findings whose type is their own name in upper case.
FINDING_TYPES = frozenset(
    {*PERSONAL_DATA_TYPES, *CONTENT_TYPES, *(d.upper() for d in RECIPIENT_DETECTORS)}
)
