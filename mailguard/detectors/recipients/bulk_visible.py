"""Everyone in To/Cc sees everyone else: count the outside addresses on show.

The ICO's commonest non-cyber breach is a mailing to residents or service users
with every address visible. Internal colleagues do not count.

BULK_VISIBLE counts every outside address. Severity: low for a handful, medium for
more than 10, high when the subject or text says what the people on the list have in
common (a recovery group, tenants in arrears): then the list itself is personal
data, special category at worst.

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
from collections.abc import Sequence

from mailguard.addresses import domain_of
from mailguard.detectors import DetectionContext, Detector
from mailguard.detectors.personal_data import special_category
from mailguard.detectors.recipients import providers
from mailguard.intake.extract import opening_text
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "bulk_visible"
MIN_VISIBLE = 2  # one outside address in To is ordinary mail, not a finding
MANY = 10
REVEALING_FROM = 5  # a list this long that says what its members share is a disclosure
PRIVATE_LIST = 5  # private addresses: from here the sender should have used Bcc

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
        f"{sum(private.values())} personal"
    )
    severity = Severity.MEDIUM if len(external) > MANY else Severity.LOW
    if len(external) >= REVEALING_FROM:
        shared = _shared_circumstance(message)
        if shared:
            severity = Severity.HIGH
            detail += f"; the text mentions {shared}, so the list reveals who shares it"
    findings = [Finding(NAME, "BULK_VISIBLE", len(external), severity, "recipients", detail)]
    people = sum(private.values())
    if people >= MIN_VISIBLE:
        findings.append(
            Finding(
                NAME,
                "PERSONAL_ADDRESSES_VISIBLE",
                people,
                Severity.MEDIUM if people >= PRIVATE_LIST else Severity.LOW,
                "recipients",
                f"{people} private individuals can see each other's addresses in To/Cc "
                f"({_where(private)})",
            )
        )
    return findings


def _private(addresses: Sequence[str]) -> Counter[str]:
    """Distinct private mailboxes among ``addresses``, counted per provider domain
    (``""`` for personal domains, whose name would identify their owner)."""
    people: dict[str, str] = {}
    for address in addresses:
        domain = domain_of(address)
        provider = providers.provider_of(domain)
        if provider is not None:
            people.setdefault(providers.person_key(address), provider)
        elif providers.is_personal_domain(domain):
            people.setdefault(address, "")
    return Counter(people.values())


def _where(private: Counter[str]) -> str:
    parts = [f"{n} at {d}" for d, n in sorted(private.items(), key=lambda x: (-x[1], x[0])) if d]
    if private.get(""):
        parts.append(f"{private['']} at personal domains")
    return ", ".join(parts)


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
