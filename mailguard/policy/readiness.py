"""Is this policy protecting anything yet? What a newcomer must hear on day one.

A relay with no policy, or with the shipped placeholder domains, relays mail and looks
healthy while it guards nothing (or treats every colleague as an outsider). The relay
logs these at start-up and on each reload, /healthz repeats them, and ``policy lint``
prints them: they are warnings, never a reason to stop mail.
"""

from __future__ import annotations

from mailguard.policy.schema import Policy

# Domains the shipped files and examples use; RFC 2606/6761 names are never real.
PLACEHOLDER_DOMAINS = frozenset({"council.example", "example.gov.uk"})
_RESERVED_SUFFIXES = (".example", ".invalid", ".test", ".localhost")


def unprotected(policy: Policy | None) -> tuple[str, ...]:
    """Plain sentences; empty when the policy looks like a real council's."""
    if policy is None:
        return (
            "no policy is loaded: every message is relayed without inspection"
            " (start with --policy, e.g. policies/council-default.yaml from your site policy)",
        )
    problems = []
    internal = policy.organisation.internal_domains
    placeholders = [d for d in internal if _placeholder(d)]
    if not internal:
        problems.append(
            "organisation.internal_domains is empty: every recipient counts as external"
        )
    elif placeholders:
        problems.append(
            f"organisation.internal_domains still has the placeholder {', '.join(placeholders)}:"
            " set your council's own domains, or every colleague counts as external"
        )
    if not policy.rules:
        problems.append("the policy has no rules: every message passes")
    return tuple(problems)


def _placeholder(domain: str) -> bool:
    return domain in PLACEHOLDER_DOMAINS or domain.endswith(_RESERVED_SUFFIXES)
