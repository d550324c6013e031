"""Identifiers that need more than their shape to count.

An 8-digit number is a bank account only next to a sort code or words about banks;
a 10-digit number that passes the NHS checksum (one random number in eleven does) is
an NHS number only with NHS context. A number labelled as one of the council's own
references (council tax, rent, customer, invoice, order, case, application...) is
that reference and never a bank or health identifier. The organisation's own bank
account, switchboard and addresses are never personal data, nor is an account that
the text says belongs to an organisation ("payable to Anyshire County Council").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailguard.detectors import OwnDetails

Result = tuple[str, int, int]  # (entity type, start, end)

# The label right before a number, when it names a reference rather than a person's
# identifier ("council tax account 30418827", "PO number 4010232137").
_REFERENCE = re.compile(
    r"(?:council\s*tax|c\.?tax|business\s+rates|nndr|rent|tenancy|housing|customer|client"
    r"|invoice|inv|order|purchase\s+order|p\.?o|case|application|app|planning|licen[cs]e"
    r"|permit|claim|benefits?|booking|ticket|receipt|transaction|batch|cheque|supplier"
    r"|vendor|creditor|debtor|property|uprn|payment|account\s+ref(?:erence)?"
    r"|ref(?:erence)?|job|request|foi|eir|complaint|contract"
    r"|quote|quotation|serial|tracking|parcel|consignment|policy|member(?:ship)?|student"
    r"|employee|staff|payroll)"
    r"(?:\s+(?:account|acct|a/c|reference|ref|number|num|no\.?|id|code))*"
    r"[\s.:#/-]*(?:is\s+|of\s+|number\s+)?$",
    re.IGNORECASE,
)
_LABEL_REACH = 40  # characters before the number, on the same line

_BANKING = re.compile(
    r"\b(?:bank(?:ing|s)?|building\s+society|sort\s*code|s/c|bacs|chaps|faster\s+payment"
    r"|account\s+holder|account\s+name|payee|direct\s+debit|standing\s+order|iban|swift"
    r"|bic|nationwide|barclays|lloyds|natwest|hsbc|santander|halifax|monzo|starling"
    r"|metro\s+bank|tsb|co-operative\s+bank|virgin\s+money)\b",
    re.IGNORECASE,
)
_SORT = re.compile(r"\bsort\s*code|\bs/c\b|\bsort\b", re.IGNORECASE)
_NHS = re.compile(r"\bnhs\b|\bchi\s+(?:no|number)|health\s+and\s+care\s+number", re.IGNORECASE)
_CLINICAL = re.compile(r"\b(?:patient|hospital|gp|clinic|ward|discharge|referral)\b", re.I)
_SPACED_NHS = re.compile(r"^\d{3}[ -]\d{3}[ -]\d{4}$")

# An organisation's account: the payee named as one, or "our" bank details.
_ORG_SUFFIX = (
    r"(?:council|ltd|limited|plc|llp|llc|trust|authority|partnership|association|society"
    r"|charity|services|group|company|co|cic|school|academy|college|university|board"
    r"|corporation|foundation|church|club|centre|solicitors|surgery|practice|nhs)\b"
)
_PAYEE = re.compile(
    r"(?:payable\s+to|pay(?:ments?)?\s+(?:to|into)|made\s+payable|account\s+name|remit\w*\s+to"
    r"|beneficiary|in\s+favour\s+of|bank\s+transfer\s+to|transfer\s+to|credit(?:ed)?\s+to)"
    r"\s*[:\-]?\s*(?:the\s+)?(?:[\w&'.,-]+\s+){0,6}?" + _ORG_SUFFIX,
    re.IGNORECASE,
)
_OURS = re.compile(
    r"\bour\s+(?:bank(?:ing)?\s+(?:details|account)|account\s+(?:details|number)|sort\s+code"
    r"|details\s+are|bank)\b",
    re.IGNORECASE,
)
_CARD = re.compile(
    r"\b(?:card|visa|mastercard|maestro|amex|american\s+express|expiry|expires|cvv|cvc"
    r"|debit|credit|pan)\b",
    re.IGNORECASE,
)
_GROUPED_CARD = re.compile(r"^\d{4}([ -])\d{4}\1\d{4}\1\d{3,4}$")
_INVOICE = re.compile(r"\binvoice\b|\bVAT\s+reg|\bVAT\s+(?:no|number)\b", re.IGNORECASE)
_BANK_TYPES = frozenset({"UK_BANK_ACCOUNT", "UK_SORT_CODE", "IBAN_CODE"})
_OWN_CHECKED = frozenset({"UK_BANK_ACCOUNT", "UK_SORT_CODE", "IBAN_CODE", "PHONE_NUMBER"})
_WINDOW = 80


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def postcode_key(text: str) -> str:
    return "".join(text.split()).upper()


def corroborated(text: str, results: Sequence[Result], own: OwnDetails) -> list[Result]:
    """The results that still stand once their context is read."""
    sort_codes = [s for t, s, _ in results if t == "UK_SORT_CODE"]
    organisation = _organisation_name(own.name)
    out = []
    for result in results:
        type_, start, end = result
        value = text[start:end]
        if type_ in _OWN_CHECKED and digits(value) and _is_own_number(value, own):
            continue
        if type_ == "UK_POSTCODE" and postcode_key(value) in own.postcodes:
            continue
        if type_ in _BANK_TYPES and _organisations_account(text, start, end, organisation):
            continue
        if type_ in ("UK_BANK_ACCOUNT", "UK_NHS") and _labelled_reference(text, start):
            continue
        if type_ == "UK_BANK_ACCOUNT" and not _bank_context(text, start, end, sort_codes):
            continue
        if type_ == "UK_SORT_CODE" and not _SORT.search(_window(text, start, end)):
            continue
        if type_ == "UK_NHS" and not _nhs_context(text, start, end, value):
            continue
        if type_ == "CREDIT_CARD" and not _card_context(text, start, end, value):
            continue
        out.append(result)
    return out


def _window(text: str, start: int, end: int, reach: int = _WINDOW) -> str:
    return text[max(0, start - reach) : end + reach]


def _labelled_reference(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, start - _LABEL_REACH) : start]
    if _BANKING.search(before):
        return False
    return _REFERENCE.search(before) is not None


def _bank_context(text: str, start: int, end: int, sort_codes: Sequence[int]) -> bool:
    if any(abs(s - start) <= 150 for s in sort_codes):
        return True
    return _BANKING.search(_window(text, start, end)) is not None


def _nhs_context(text: str, start: int, end: int, value: str) -> bool:
    window = _window(text, start, end, 60)
    if _NHS.search(window):
        return True
    return bool(_SPACED_NHS.match(value.strip())) and _CLINICAL.search(window) is not None


def _card_context(text: str, start: int, end: int, value: str) -> bool:
    """One 16-digit reference in ten passes Luhn: a card is written in groups of four
    or named as one, and never labelled as a reference."""
    if _labelled_reference(text, start) and not _CARD.search(_window(text, start, end, 40)):
        return False
    return bool(_GROUPED_CARD.match(value.strip())) or bool(_CARD.search(_window(text, start, end)))


def _is_own_number(value: str, own: OwnDetails) -> bool:
    number = digits(value)
    if not number:
        return False
    return any(number == n or (len(n) >= 9 and number.endswith(n[-9:])) for n in own.numbers)


def _organisation_name(name: str) -> re.Pattern[str] | None:
    words = re.findall(r"[\w&'-]+", name)
    if not words:
        return None
    return re.compile(r"\b" + r"\W+".join(re.escape(w) for w in words) + r"\b", re.IGNORECASE)


def _organisations_account(
    text: str, start: int, end: int, organisation: re.Pattern[str] | None
) -> bool:
    """The account is said to belong to an organisation, ours or another."""
    before = text[max(0, start - 250) : start]
    around = text[max(0, start - 250) : end + 120]
    if _PAYEE.search(before) or _OURS.search(before):
        return True
    # An invoice's bank details are its issuer's: a business's, not a person's.
    if _INVOICE.search(text, max(0, start - 400), min(len(text), end + 200)):
        return True
    if organisation is not None:
        for m in organisation.finditer(around):
            gap = around[max(0, m.start() - 40) : m.start()].lower()
            if re.search(r"payable|pay|name|to:?\s*$|transfer|remit|favour|account", gap):
                return True
    return False
