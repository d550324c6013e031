"""One decision from all findings and facts, as in Mailman 3's rule → chain.

Every rule whose condition holds is recorded. ``allow`` rules exempt the message
from the rules they name (all others when they name none). Rules in monitor mode
are recorded and logged but change nothing. Of the rest, the strictest action
wins: reject > hold > rewrite > tag > pass; among holds, the strictest release
(approver > reviewer > sender).
"""

from __future__ import annotations

from collections.abc import Sequence

from mailguard.addresses import in_domains
from mailguard.detectors import registry
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action, Decision, Envelope, Finding, RuleReason
from mailguard.policy.facts import Facts
from mailguard.policy.schema import Condition, FindingCondition, Mode, Policy, Rule, RuleAction


def decide(
    policy: Policy | None,
    findings: Sequence[Finding],
    envelope: Envelope,
    message: ParsedMessage,
    version: str = "",
) -> Decision:
    if policy is None:
        return Decision(Action.PASS, policy_version=version)
    facts = Facts(envelope, message, findings, policy.organisation)
    fired = [rule for rule in policy.rules if holds(rule.when, facts, policy)]
    exempt: set[str] = set()
    for rule in fired:
        if rule.action is RuleAction.ALLOW and _mode(rule, policy) is Mode.ENFORCE:
            exempt |= set(rule.exempts) if rule.exempts is not None else {r.name for r in fired}
    acting: list[Rule] = []
    monitored: list[Rule] = []
    for rule in fired:
        if rule.action is RuleAction.ALLOW or rule.name in exempt:
            continue
        (monitored if _mode(rule, policy) is Mode.MONITOR else acting).append(rule)
    names = tuple(r.name for r in fired)
    would = _strictest(monitored)
    winner = _strictest(acting)
    if winner is None:
        return Decision(
            Action.PASS,
            names,
            monitored=tuple(r.name for r in monitored),
            would_action=would.action.action if would else None,
            policy_version=version,
        )
    action = winner.action.action
    assert action is not None
    prefix = next((r.subject_prefix for r in acting if r.subject_prefix), None)
    ranked = sorted(acting, key=_rank, reverse=True)
    ranked.remove(winner)  # the winner leads even among equals
    reasons = tuple(
        RuleReason(r.name, r.action.action, r.description)  # type: ignore[arg-type]
        for r in (winner, *ranked)
    )
    return Decision(
        action,
        names,
        reason=winner.description,
        rule=winner.name,
        rewrite=winner.rewrite,
        subject_prefix=prefix,
        notify=winner.notifies,
        release=winner.release,
        monitored=tuple(r.name for r in monitored),
        would_action=would.action.action if would else None,
        policy_version=version,
        reasons=reasons,
    )


def _mode(rule: Rule, policy: Policy) -> Mode:
    return rule.mode or policy.mode


_RELEASE_RANK = {"sender": 0, "reviewer": 1, "approver": 2}


def _strictest(rules: list[Rule]) -> Rule | None:
    """The strictest action; among rules with that action, the one whose release needs
    the most people, so a lenient site rule never loosens a stricter shipped one."""
    best: Rule | None = None
    for rule in rules:
        if best is None or _rank(rule) > _rank(best):
            best = rule
    return best


def _rank(rule: Rule) -> tuple[int, int]:
    action = rule.action.action
    assert action is not None
    return action.strictness, _RELEASE_RANK[rule.release]


def holds(cond: Condition, facts: Facts, policy: Policy) -> bool:
    """True when every key of the condition holds; cheap keys are tested first."""
    if cond.visible_external_recipients and not cond.visible_external_recipients.holds(
        len(facts.visible_external)
    ):
        return False
    if cond.external_recipients and not cond.external_recipients.holds(
        len(facts.external_recipients)
    ):
        return False
    if cond.untrusted_domains and not cond.untrusted_domains.holds(len(facts.untrusted_domains)):
        return False
    if cond.recipient_domain is not None and not any(
        in_domains(d, cond.recipient_domain) for d in facts.recipient_domains
    ):
        return False
    if cond.sender and not _sender_matches(cond, facts, policy):
        return False
    if cond.size and not cond.size.holds(facts.size):
        return False
    if cond.finding and not _findings_match(cond.finding, facts.findings):
        return False
    if cond.attachment and not set(cond.attachment.type) & facts.attachment_types:
        return False
    if cond.all_ is not None and not all(holds(c, facts, policy) for c in cond.all_):
        return False
    if cond.any_ is not None and not any(holds(c, facts, policy) for c in cond.any_):
        return False
    return not (cond.not_ is not None and holds(cond.not_, facts, policy))


def _sender_matches(cond: Condition, facts: Facts, policy: Policy) -> bool:
    assert cond.sender is not None
    sender = facts.envelope.mail_from.lower()
    addresses = set(cond.sender.address)
    for group in cond.sender.group:
        addresses.update(policy.groups.get(group, ()))
    if sender in addresses:
        return True
    _, _, domain = sender.rpartition("@")
    return bool(cond.sender.domain) and in_domains(domain, cond.sender.domain)


def _findings_match(cond: FindingCondition, findings: Sequence[Finding]) -> bool:
    total = 0
    for f in findings:
        if cond.type and f.type not in cond.type:
            continue
        if cond.detector and f.detector not in cond.detector:
            continue
        if cond.table and f.table not in cond.table:
            continue
        if f.severity.rank < cond.min_severity.rank:
            continue
        if not _where_matches(cond.where, f.where):
            continue
        total += f.count
    return total >= cond.min_count


def _where_matches(wanted: str, where: str) -> bool:
    if wanted == "any":
        return True
    if wanted == "attachment":
        return where.startswith("attachment:")
    if wanted == "hidden":
        return where.endswith("#hidden")
    return where == wanted


# Policies seen lately and what each needs; the entry keeps its policy alive, so the
# id cannot be reused while it is here. A policy is frozen, so the answer never goes stale.
_NEEDED: dict[int, tuple[Policy, frozenset[str]]] = {}


def detectors_needed(policy: Policy) -> frozenset[str]:
    """Detectors whose findings some rule looks at; the others need not run.

    Asked for every message (and every RCPT when DNS may be needed), so worked out
    once per policy."""
    entry = _NEEDED.get(id(policy))
    if entry is None:
        if len(_NEEDED) >= 16:  # a long-lived worker sees a new policy on every reload
            _NEEDED.clear()
        entry = _NEEDED[id(policy)] = (policy, _detectors_needed(policy))
    return entry[1]


def _detectors_needed(policy: Policy) -> frozenset[str]:
    site_types = {i.name for i in policy.identifiers}
    needed: set[str] = set()
    for rule in policy.rules:
        for _, cond in rule.when.walk():
            f = cond.finding
            if f is None:
                continue
            if f.detector:
                needed.update(f.detector)
            elif f.type:
                needed |= registry.emitting(f.type)
                if site_types & set(f.type):
                    needed |= registry.reading_site_types()
            else:  # any finding at all
                needed |= registry.names()
    return frozenset(needed)
