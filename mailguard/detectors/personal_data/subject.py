"""Whose data is it, and who is receiving it?

A reply to a resident about their own council tax account, or their own decision
letter sent to them, is not a disclosure: councils send thousands a day. The same
letter sent to a different resident is the classic misdirected-mail breach. Both are
told apart by comparing the person a text is addressed to ("Dear Mr Patel", a letter's
addressee block) with the people it goes to (display names and mailbox names).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler

from mailguard.addresses import Domains
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope

_TITLES = (
    r"mr|mrs|ms|miss|mx|dr|prof|professor|cllr|councillor|sir|dame|rev|revd|reverend|lady|lord"
)
_GREETING = re.compile(
    r"^[ \t]*(?:dear|hi|hello|good\s+(?:morning|afternoon))[ \t,]+"
    rf"(?:(?P<title>{_TITLES})\.?[ \t]+)?"
    r"(?P<names>[A-Z][\w'\u2019-]+(?:[ \t]+[A-Z][\w'\u2019-]+){0,2})[ \t]*[,.!:]?[ \t\r]*$",
    re.IGNORECASE | re.MULTILINE,
)
# "Mr J Smith" on a line of its own, with a postcode a few lines below: a letter's
# addressee block.
_ADDRESSEE = re.compile(
    rf"^[ \t]*(?:{_TITLES})\.?[ \t]+(?P<names>(?:[A-Z]\.?[ \t]+)*[A-Z][\w'\u2019-]+"
    r"(?:[ \t]+[A-Z][\w'\u2019-]+)?)[ \t]*\n(?:.*\n){0,5}?.*"
    r"\b[A-Z]{1,2}\d[A-Z\d]?[ \t]*\d[A-Z]{2}\b",
    re.IGNORECASE | re.MULTILINE,
)
_NOT_NAMES = frozenset(
    re.findall(
        r"\w+",
        """sir madam sirs all colleague colleagues team everyone resident residents customer
        applicant tenant tenants occupier owner parent parents member members friend friends
        there you both partner partners councillor councillors landlord mr mrs ms miss mx dr""",
    )
)
_ROLE = re.compile(
    r"\b(?:council|team|office|services?|ltd|limited|plc|llp|trust|solicitors?|surgery"
    r"|practice|school|enquiries|info|admin|accounts|support|department|group|association"
    r"|housing|planning|reception|customer|noreply|no-reply|helpdesk|nhs)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[^\W\d_]+")


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class Addressee:
    """The person a text speaks to: surname when a title is given, else the names."""

    names: tuple[str, ...]
    titled: bool


def addressees(text: str, limit: int = 3000) -> list[Addressee]:
    """Who the opening of a text is written to (greetings and addressee blocks)."""
    head = text[:limit]
    out = []
    for m in (*_GREETING.finditer(head), *_ADDRESSEE.finditer(head)):
        words = [fold(w) for w in _TOKEN.findall(m.group("names"))]
        words = [w for w in words if len(w) > 1]
        if not words or words[0] in _NOT_NAMES or _ROLE.search(m.group("names")):
            continue
        titled = "title" not in m.groupdict() or bool(m.group("title"))
        out.append(Addressee(tuple(words), titled))
    return out


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    names: frozenset[str]  # folded words of the display name and the mailbox name
    mailbox: str  # folded local part
    known: bool  # a person's display name, not only a mailbox


# "From: Jane Smith <jane@example.org>" or "On 3 May, Jane Smith <jane@...> wrote:" in
# the quoted message a reply answers: the name the recipient gave themselves.
_QUOTED_FROM = re.compile(
    r"(?:^[ \t>]*from:[ \t]*|^[ \t>]*on [^\n]{4,80}?,[ \t]*)\"?(?P<name>[^<>\"\n,]{3,60}?)\"?"
    r"[ \t]*[<\[](?:mailto:)?(?P<address>[^>\]\s]+@[^>\]\s]+)[>\]]",
    re.IGNORECASE | re.MULTILINE,
)


def names_in_quotes(texts: Iterable[str]) -> dict[str, str]:
    """Address -> the display name it had in quoted replies below the text."""
    out: dict[str, str] = {}
    for text in texts:
        for m in _QUOTED_FROM.finditer(text):
            out.setdefault(m.group("address").lower(), m.group("name").strip())
    return out


def outside_recipients(
    message: ParsedMessage,
    envelope: Envelope,
    domains: Domains,
    quoted: dict[str, str] | None = None,
) -> list[Recipient]:
    shown = {a.lower(): n for n, a in message.addresses("to", "cc")}
    out = []
    for address in domains.external(sorted({a.lower() for a in envelope.rcpt_tos})):
        display = shown.get(address, "") or (quoted or {}).get(address, "")
        local = fold(address.partition("@")[0])
        if _ROLE.search(display) or _ROLE.search(local.replace(".", " ")):
            out.append(Recipient(address, frozenset(), local, known=False))
            continue
        words = {fold(w) for w in _TOKEN.findall(display) if len(w) > 1}
        words |= {w for w in _TOKEN.findall(local) if len(w) > 1}
        out.append(Recipient(address, frozenset(words), local, known=len(display.split()) >= 2))
    return out


def is_addressed_to(addressee: Addressee, recipient: Recipient) -> bool:
    """Greeted as themselves: a shared name, a close spelling, or the surname in the
    mailbox ("Dear Mr Patel" to a.patel77@...). A full name must match by its
    surname: "Kim B..." is not Kim at a recruitment agency."""
    words = addressee.names[-1:] if len(addressee.names) >= 2 else addressee.names
    for word in words:
        if word in recipient.names:
            return True
        if len(word) >= 4 and word in recipient.mailbox:
            return True
        if any(len(n) >= 4 and JaroWinkler.similarity(word, n) >= 0.92 for n in recipient.names):
            return True
    return False


def clearly_someone_else(addressee: Addressee, recipient: Recipient) -> bool:
    """Addressed by full name or title and surname to a person we know by another
    name (a display name, or a first.last mailbox)."""
    if not recipient.names or is_addressed_to(addressee, recipient):
        return False
    named = recipient.known or any(sep in recipient.mailbox for sep in "._")
    return named and (addressee.titled or len(addressee.names) >= 2)


def initials(addressee: Addressee) -> str:
    """``("ravi", "patel")`` -> ``R*** P***``: enough for the sender to recognise."""
    return " ".join(f"{w[:1].upper()}***" for w in addressee.names)


def greeted(texts: Iterable[str]) -> list[Addressee]:
    return [a for text in texts for a in addressees(text)]


_REPORT_TYPE = re.compile(
    r"multipart/report.*report-type\s*=\s*\"?(?:delivery-status|disposition-notification)",
    re.IGNORECASE | re.DOTALL,
)
_BOUNCE_FROM = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|bounces?)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status|failure|has failed)|returned mail|failure notice"
    r"|could not be delivered|mail delivery failed|non-delivery",
    re.IGNORECASE,
)


def is_delivery_report(message: ParsedMessage) -> bool:
    """A bounce (RFC 3464) or a read receipt: it returns the recipient's own message."""
    headers = message.headers
    if _REPORT_TYPE.search(str(headers.get("Content-Type", ""))):
        return True
    senders = [a for _, a in message.addresses("from")]
    return any(_BOUNCE_FROM.match(a) for a in senders) and bool(
        _BOUNCE_SUBJECT.search(str(headers.get("Subject", "")))
    )
