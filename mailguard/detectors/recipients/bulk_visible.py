"""Everyone in To/Cc sees everyone else: count the outside addresses on show.

The ICO's commonest non-cyber breach is a mailing to residents or service users
with every address visible. Internal colleagues do not count; distinct domains and
personal webmail addresses are reported because a list of private addresses
reveals more than a list of organisations.

Severity: low for a handful, medium for more than 10, high when the subject or
text says what the people on the list have in common (a recovery group, tenants
in arrears): then the list itself is personal data, special category at worst.
"""

from __future__ import annotations

import re

from mailguard.addresses import domain_of
from mailguard.detectors import DetectionContext, Detector
from mailguard.detectors.personal_data import special_category
from mailguard.detectors.recipients.lookalike import WELL_KNOWN
from mailguard.intake.extract import opening_text
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "bulk_visible"
MIN_VISIBLE = 2  # one outside address in To is ordinary mail, not a finding
MANY = 10
REVEALING_FROM = 5  # a list this long that says what its members share is a disclosure
WEBMAIL = WELL_KNOWN - {"nhs.net", "nhs.uk", "gov.uk", "police.uk", "parliament.uk"}

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
    webmail = sum(1 for a in external if domain_of(a) in WEBMAIL)
    detail = (
        f"{len(external)} outside addresses visible in To/Cc, {len(domains)} domain(s), "
        f"{webmail} personal webmail"
    )
    severity = Severity.MEDIUM if len(external) > MANY else Severity.LOW
    if len(external) >= REVEALING_FROM:
        shared = _shared_circumstance(message)
        if shared:
            severity = Severity.HIGH
            detail += f"; the text mentions {shared}, so the list reveals who shares it"
    return [Finding(NAME, "BULK_VISIBLE", len(external), severity, "recipients", detail)]


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
    emits={"BULK_VISIBLE": Severity.MEDIUM},
    summary="outside addresses visible in To/Cc (low: 2-10; high: the text says what they share)",
)
