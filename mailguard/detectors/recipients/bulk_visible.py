"""Everyone in To/Cc sees everyone else: count the outside addresses on show.

The ICO's commonest non-cyber breach is a mailing to residents or service users
with every address visible. Internal colleagues do not count.

BULK_VISIBLE counts every outside address. Severity: low for a handful, medium for
more than 10, high when 5 or more of them are private people and the subject or text
says what the people on the list have in common (a recovery group, tenants in
arrears): then the list itself is personal data, special category at worst. Officers
of several agencies on one case share a case, not a circumstance.

PERSONAL_ADDRESSES_VISIBLE counts only private individuals' addresses: at a mailbox
provider (webmail or an ISP's, see ``providers``) or a personal domain (``*.me.uk``).
Six officers of six organisations on one thread is how work gets done; five landlords
or residents at their own addresses, each now holding the others', is a disclosure
well below the bulk threshold, and Bcc would have cost the sender nothing. The same
mailbox written two ways (``j.smith@`` and ``jsmith@gmail.com``) counts once.
Severity: low for 2-4, medium from 5.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from mailguard.addresses import domain_of
from mailguard.detectors import DetectionContext, Detector
from mailguard.detectors.personal_data import special_category
from mailguard.detectors.recipients import providers
from mailguard.intake import quoting
from mailguard.intake.extract import opening_text
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "bulk_visible"
MIN_VISIBLE = 2  # one outside address in To is ordinary mail, not a finding
MANY = 10
REVEALING_FROM = 5  # a list this long that says what its members share is a disclosure
PRIVATE_LIST = 5  # private addresses: from here the sender should have used Bcc
THREAD_TEXT = 50_000  # characters of a reply read for the addresses its thread shows

# Circumstances a council mailing list can reveal beyond Article 9 categories.
_CIRCUMSTANCES = re.compile(
    r"\b(support group|recovery|survivors?|arrears|debt|foster(?:ing)? carers?|refuge"
    r"|bereave\w*|addiction|rehab\w*|asylum|refugees?|food bank|eviction|homeless\w*"
    r"|domestic abuse|carers? group)\b",
    re.IGNORECASE,
)


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    visible = {a.lower() for _, a in message.addresses("to", "cc")}
    external = context.domains.external(sorted(visible))
    if len(external) < MIN_VISIBLE:
        return []
    domains = {domain_of(a) for a in external}
    private = _private(external)
    detail = (
        f"{len(external)} outside addresses visible in To/Cc, {len(domains)} domain(s), "
        f"{len(private)} personal"
    )
    severity = Severity.MEDIUM if len(external) > MANY else Severity.LOW
    # Officers of several agencies on one thread share a case, not a circumstance: the
    # list reveals something about its members only when they are private people.
    if len(private) >= REVEALING_FROM:
        shared = _shared_circumstance(message)
        if shared:
            severity = Severity.HIGH
            detail += f"; the text mentions {shared}, so the list reveals who shares it"
    findings = [Finding(NAME, "BULK_VISIBLE", len(external), severity, "recipients", detail)]
    if len(private) >= MIN_VISIBLE:
        findings.extend(_private_list(message, private))
    return findings


def _private(addresses: Sequence[str]) -> dict[str, str]:
    """Distinct private mailboxes among ``addresses`` (by ``person_key``), each with its
    provider's domain (``""`` for a personal domain, whose name would identify its owner)."""
    people: dict[str, str] = {}
    for address in addresses:
        domain = domain_of(address)
        provider = providers.provider_of(domain)
        if provider is not None:
            people.setdefault(providers.person_key(address), provider)
        elif providers.is_personal_domain(domain):
            people.setdefault(address, "")
    return people


def _private_list(message: ParsedMessage, private: dict[str, str]) -> list[Finding]:
    """Private individuals shown each other's addresses, less those the thread being
    answered already showed together (a residents' group writing in with each other in
    Cc, answered to all): only what is new to the others is disclosed."""
    known = _on_the_thread(message, private.keys())
    new = Counter(provider for key, provider in private.items() if key not in known)
    people = sum(new.values())
    if people < MIN_VISIBLE:
        return []
    detail = f"{people} private individuals can see each other's addresses in To/Cc ({_where(new)})"
    if known:
        were = "was" if len(known) == 1 else "were"
        detail += f"; {len(known)} more {were} already visible earlier in the thread"
    severity = Severity.MEDIUM if people >= PRIVATE_LIST else Severity.LOW
    return [Finding(NAME, "PERSONAL_ADDRESSES_VISIBLE", people, severity, "recipients", detail)]


def _where(counts: Counter[str]) -> str:
    parts = [f"{n} at {d}" for d, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if d]
    if counts.get(""):
        parts.append(f"{counts['']} at personal domains")
    return ", ".join(parts)


_REPLY_SUBJECT = re.compile(r"^\s*(?:re|fwd?|aw|wg|sv|vs|odp|antw|r)\s*:", re.IGNORECASE)


def _on_the_thread(message: ParsedMessage, keys: Iterable[str]) -> set[str]:
    """Which of these mailboxes the quoted or forwarded thread already names."""
    headers = message.headers
    reply = headers.get("In-Reply-To") or headers.get("References")
    if not (reply or _REPLY_SUBJECT.match(str(headers.get("Subject", "")))):
        return set()
    text = opening_text(message.message, limit=THREAD_TEXT)
    start = quoting.THREAD.search(text)
    if start is None:
        return set()
    seen = {providers.person_key(a) for a in quoting.ADDRESS.findall(text[start.start() :])}
    return {k for k in keys if k in seen}


def _shared_circumstance(message: ParsedMessage) -> str | None:
    subject = str(message.headers.get("Subject", ""))
    text = subject + "\n" + opening_text(message.message, limit=3000)
    found = special_category.mentions(text)
    if found:
        return special_category.category_of(found[0].group(0))
    m = _CIRCUMSTANCES.search(text)
    return m.group(0).lower() if m else None


DETECTOR = Detector(
    NAME,
    detect,
    emits={"BULK_VISIBLE": Severity.MEDIUM, "PERSONAL_ADDRESSES_VISIBLE": Severity.LOW},
    summary=(
        "outside addresses visible in To/Cc (low: 2-10; high: the text says what they share);"
        " of them, private individuals' (webmail, ISP or personal domain; medium from 5)"
    ),
)
