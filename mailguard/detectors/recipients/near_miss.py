"""The autocomplete mistake: a recipient the sender has (almost) never written to,
who looks like someone they write to often.

j.smyth@ instead of j.smith@, sarah.jones@gmail.com instead of sarah.jones@nhs.net,
the other "Sarah Jones" in the address book. A similar colleague the sender also
writes to is not a near miss: both are people they mean to reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from mailguard.addresses import domain_of, mask_address
from mailguard.detectors import DetectionContext, Detector
from mailguard.detectors.recipients.names import fold, is_role
from mailguard.history.model import Contact, SenderProfile
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "recipient_near_miss"
RARE = 1  # a recipient written to at most this often is "new" to the sender

_TITLES = re.compile(r"\b(mr|mrs|ms|miss|mx|dr|prof|cllr|councillor|rev)\b\.?")


@dataclass(frozen=True, slots=True)
class NearMiss:
    recipient: str
    meant: Contact
    why: str


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    profile = context.history
    if profile is None:
        return []
    recipients = {r.lower() for r in envelope.rcpt_tos}
    sender = envelope.mail_from.lower()
    new = [r for r in sorted(recipients) if r != sender and profile.count(r) <= RARE]
    if not new or not profile.frequent_contacts():
        return []
    shown = {a.lower(): n for n, a in message.addresses("to", "cc") if n.strip()}
    index = _Index(profile, exclude=recipients)
    misses = [m for r in new if (m := index.closest(r, shown.get(r, "")))]
    if not misses:
        return []
    severity = max((_severity(m, context) for m in misses), key=lambda s: s.rank)
    detail = "; ".join(
        f"{mask_address(m.recipient, keep=1)} is new to this sender and resembles a frequent"
        f" contact"
        f" {mask_address(m.meant.address, keep=1)} ({m.why})"
        for m in misses[:3]
    )
    return [Finding(NAME, NAME.upper(), len(misses), severity, "recipients", detail)]


def _severity(miss: NearMiss, context: DetectionContext) -> Severity:
    new = context.domains.trust_of(domain_of(miss.recipient))
    meant = context.domains.trust_of(domain_of(miss.meant.address))
    if new == "internal":
        return Severity.LOW
    if meant in ("internal", "partner") and new == "external":
        return Severity.HIGH  # data meant to stay inside the public sector
    return Severity.MEDIUM


@lru_cache(maxsize=65536)
def normalised_name(name: str) -> str:
    """A display name reduced to its words: titles, punctuation and order dropped."""
    words = re.findall(r"[^\W\d_]+", _TITLES.sub(" ", fold(name)))
    return " ".join(sorted(words)) if len(words) >= 2 else ""


class _Index:
    """The sender's frequent contacts, compared three ways, each built only when asked."""

    def __init__(self, profile: SenderProfile, exclude: set[str]) -> None:
        # A frequent contact who is also a recipient: the sender has the right one on board.
        self.contacts = [c for c in profile.frequent_contacts() if c.address not in exclude]
        self._by_name: dict[str, Contact] | None = None

    def closest(self, recipient: str, shown_name: str) -> NearMiss | None:
        local, _, domain = recipient.rpartition("@")
        # Shared mailboxes exist everywhere: info@ elsewhere is someone else on purpose.
        if len(local) >= 4 and not is_role(local):
            prefix = local + "@"
            for contact in self.contacts:
                if contact.address.startswith(prefix):
                    return NearMiss(recipient, contact, "same name at another domain")
        if len(local) >= 3:
            suffix = "@" + domain
            same_domain = [c for c in self.contacts if c.address.endswith(suffix)]
            if same_domain:
                hit = process.extractOne(
                    local,
                    [c.address[: -len(suffix)] for c in same_domain],
                    scorer=OSA.distance,
                    score_cutoff=1 if len(local) <= 6 else 2,
                )
                if hit is not None:
                    meant = same_domain[hit[2]]
                    return NearMiss(recipient, meant, "address differs by a letter or two")
        key = "" if is_role(shown_name) else normalised_name(shown_name)
        if key and self.by_name:
            hit = process.extractOne(key, list(self.by_name), scorer=fuzz.ratio, score_cutoff=92)
            if hit is not None:
                return NearMiss(recipient, self.by_name[hit[0]], "same display name")
        return None

    @property
    def by_name(self) -> dict[str, Contact]:
        if self._by_name is None:
            self._by_name = {}
            for contact in self.contacts:
                key = normalised_name(contact.name) if contact.name else ""
                if key and is_role(contact.name):
                    continue
                if key:
                    self._by_name.setdefault(key, contact)
        return self._by_name


DETECTOR = Detector(
    NAME,
    detect,
    emits={"RECIPIENT_NEAR_MISS": Severity.MEDIUM},
    uses_history=True,
    summary="a new address one slip from a frequent contact (high: ours or a partner's"
    " to outside; low: internal)",
)
