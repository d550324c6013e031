"""Everyone in To/Cc sees everyone else: count the outside addresses on show.

The ICO's commonest non-cyber breach is a mailing to residents or service users
with every address visible. Internal colleagues do not count; distinct domains and
personal webmail addresses are reported because a list of private addresses
reveals more than a list of organisations.
"""

from __future__ import annotations

from mailguard.detectors.lookalike import WELL_KNOWN
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity, domain_of
from mailguard.policy.facts import in_domains

NAME = "bulk_visible"
MIN_VISIBLE = 2  # one outside address in To is ordinary mail, not a finding
WEBMAIL = WELL_KNOWN - {"nhs.net", "nhs.uk", "gov.uk", "police.uk", "parliament.uk"}


def detect(message: ParsedMessage, envelope: Envelope, context: object) -> list[Finding]:
    org = getattr(context, "organisation", None)
    internal = org.internal_domains if org else ()
    visible = {a.lower() for _, a in message.addresses("to", "cc")}
    external = [a for a in visible if not in_domains(domain_of(a), internal)]
    if len(external) < MIN_VISIBLE:
        return []
    domains = {domain_of(a) for a in external}
    webmail = sum(1 for a in external if domain_of(a) in WEBMAIL)
    severity = Severity.HIGH if len(external) > 10 else Severity.MEDIUM
    detail = (
        f"{len(external)} outside addresses visible in To/Cc, {len(domains)} domain(s), "
        f"{webmail} personal webmail"
    )
    return [Finding(NAME, "BULK_VISIBLE", len(external), severity, "recipients", detail)]
