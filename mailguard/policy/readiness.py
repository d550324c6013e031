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


def unprotected(policy: Policy | None, directory: bool = True) -> tuple[str, ...]:
    """Plain sentences; empty when the policy looks like a real council's.
    ``directory``: whether the settings name a directory for its group rules."""
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
    if not directory and (wanted := directory_keys(policy)):
        problems.append(
            f"rules use the directory ({', '.join(wanted)}) but no directory is configured:"
            " those conditions are never true (set directory: in the settings)"
        )
    return tuple(problems)


def directory_keys(policy: Policy) -> list[str]:
    """What the policy's rules ask the directory, as the admin wrote it."""
    wanted: dict[str, None] = {}
    for rule in policy.rules:
        for _, cond in rule.when.walk():
            for group in cond.sender.group if cond.sender else ():
                if group not in policy.groups:
                    wanted.setdefault(f"group {group!r}")
            for department in cond.sender.department if cond.sender else ():
                wanted.setdefault(f"department {department!r}")
            for key in ("recipients", "unknown_internal_recipients", "directory_available"):
                if getattr(cond, key) is not None:
                    wanted.setdefault(key)
    return list(wanted)


def _placeholder(domain: str) -> bool:
    return domain in PLACEHOLDER_DOMAINS or domain.endswith(_RESERVED_SUFFIXES)
