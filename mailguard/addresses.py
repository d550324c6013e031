"""Addresses and domains: whose is this address, and how to show it without leaking it.

The one place that says what "internal" means, so the policy, the detectors, the
rewrite and the relay's DNS prefetch can never disagree about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Trust = Literal["internal", "partner", "external"]


def domain_of(address: str) -> str:
    """Domain part of an address, lower-cased; ``""`` for the null sender."""
    _, at, domain = address.rpartition("@")
    return domain.lower() if at else ""


def in_domains(domain: str, domains: Sequence[str]) -> bool:
    """``dept.northdown.gov.uk`` is in ``northdown.gov.uk``; ``evilnorthdown.gov.uk`` is not."""
    return any(domain == d or domain.endswith("." + d) for d in domains)


def mask_address(address: str, keep: int = 0) -> str:
    """``jane@example.org`` → ``***@example.org`` (``keep=1``: ``j***@example.org``, enough
    for a reviewer to tell two contacts apart); the null sender is ``<>``."""
    if not address:
        return "<>"
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:keep]}***@{domain}"


@dataclass(frozen=True, slots=True)
class Domains:
    """The organisation's own domains and its trusted partners' (from the policy)."""

    internal: tuple[str, ...] = ()
    partner: tuple[str, ...] = ()
    known: tuple[str, ...] = ()  # real, though they resemble others (an admin said so)

    def trust_of(self, domain: str) -> Trust:
        if in_domains(domain, self.internal):
            return "internal"
        if in_domains(domain, self.partner):
            return "partner"
        return "external"

    def is_internal(self, address: str) -> bool:
        return in_domains(domain_of(address), self.internal)

    def is_trusted(self, address: str) -> bool:
        return self.trust_of(domain_of(address)) != "external"

    def external(self, addresses: Sequence[str]) -> tuple[str, ...]:
        return tuple(a for a in addresses if not self.is_internal(a))
