"""One decision from all findings and facts, as in Mailman 3's rule → chain.

Every rule whose condition holds is recorded. ``allow`` rules exempt the message
from the rules they name (all others when they name none). Rules in monitor mode
are recorded and logged but change nothing. Of the rest, the strictest action
wins: reject > hold > rewrite > tag > pass; among holds, the strictest release
(approver > reviewer > sender).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from mailguard.addresses import in_domains
from mailguard.detectors import registry
from mailguard.directory.model import NO_DIRECTORY, DirectoryAnswers, Kind, Unknown
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action, Decision, Envelope, Finding, RuleReason
from mailguard.policy.facts import Facts
from mailguard.policy.schema import (
    Condition,
    Count,
    FindingCondition,
    Mode,
    Policy,
    Rule,
    RuleAction,
    SenderCondition,
)


def decide(
    policy: Policy | None,
    findings: Sequence[Finding],
    envelope: Envelope,
    message: ParsedMessage,
    version: str = "",
    directory: DirectoryAnswers = NO_DIRECTORY,
) -> Decision:
    if policy is None:
        return Decision(Action.PASS, policy_version=version)
    facts = Facts(envelope, message, findings, policy.organisation, directory)
    verdicts = [(rule, _compiled(rule.when)(facts, policy)) for rule in policy.rules]
    fired = [rule for rule, verdict in verdicts if verdict is True]
    # Rules that could be neither true nor false: the directory could not be asked.
    undetermined = tuple(rule.name for rule, verdict in verdicts if verdict is None)
    seen = directory.state if facts.asked_directory else ""
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
            directory=seen,
            undetermined=undetermined,
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
        directory=seen,
        undetermined=undetermined,
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
    return evaluate(cond, facts, policy) is True


Verdict = bool | None  # None: cannot tell (the directory could not be asked)
Test = Callable[[Facts, Policy], Verdict]


def evaluate(cond: Condition, facts: Facts, policy: Policy) -> Verdict:
    """True when every key of the condition holds, False when one does not, None when
    none fails but one cannot be told (three-valued: ``not`` of None is None, so an
    unreachable directory never makes a rule fire). Cheap keys are tested first."""
    return _compiled(cond)(facts, policy)


def _until(subs: tuple[Test, ...], decisive: bool, facts: Facts, policy: Policy) -> Verdict:
    """``decisive`` at the first sub-condition that is it (False for all, True for
    any); else None if one could not be told, else the other answer."""
    unknown = False
    for sub in subs:
        verdict = sub(facts, policy)
        if verdict is decisive:
            return decisive
        unknown = unknown or verdict is None
    return None if unknown else not decisive


def _negated(inner: Test, facts: Facts, policy: Policy) -> Verdict:
    verdict = inner(facts, policy)
    return None if verdict is None else not verdict


def _always(facts: Facts, policy: Policy) -> Verdict:
    return True


def _count(bound: Count | None, n: int | Unknown) -> Verdict:
    if bound is None:
        return True
    return None if isinstance(n, Unknown) else bound.holds(n)


Check = Callable[[Condition, Facts, Policy], Verdict]
# (key, check), cheap keys first; a condition runs only the checks of the keys it has.
# all_, any_ and not_ come last, compiled from their sub-conditions (``_compile``).
_CHECKS: tuple[tuple[str, Check], ...] = (
    ("visible_external_recipients",
     lambda c, f, _: _count(c.visible_external_recipients, len(f.visible_external))),
    ("untrusted_domains", lambda c, f, _: _count(c.untrusted_domains, len(f.untrusted_domains))),
    ("recipient_domain", lambda c, f, _: c.recipient_domain is None
     or any(in_domains(d, c.recipient_domain) for d in f.recipient_domains)),
    ("size", lambda c, f, _: c.size is None or c.size.holds(f.size)),
    ("external_recipients", lambda c, f, _: c.external_recipients is None
     or c.external_recipients.holds(len(f.external_recipients))),
    ("directory_available", lambda c, f, _: c.directory_available is None
     or c.directory_available == (f.directory.configured and f.directory.available)),
    ("recipients", lambda c, f, _: _count(c.recipients, f.reached())),
    ("unknown_internal_recipients",
     lambda c, f, _: _count(c.unknown_internal_recipients, f.unknown_internal())),
    ("sender", lambda c, f, p: _sender_matches(c.sender, f, p) if c.sender else True),
    ("finding", lambda c, f, _: c.finding is None or _findings_match(c.finding, f.findings)),
    ("attachment", lambda c, f, _: c.attachment is None
     or bool(set(c.attachment.type) & f.attachment_types)),
)  # fmt: skip


def _compile(cond: Condition) -> Test:
    """One function for a condition, made of the checks of the keys it has: a policy
    of 25 rules would otherwise ask every key of every condition of every rule (700
    calls a message, most to say "not set")."""
    tests: list[Test] = [
        functools.partial(check, cond) for key, check in _CHECKS if getattr(cond, key) is not None
    ]
    if cond.all_ is not None:
        tests.append(functools.partial(_until, tuple(map(_compile, cond.all_)), False))
    if cond.any_ is not None:
        tests.append(functools.partial(_until, tuple(map(_compile, cond.any_)), True))
    if cond.not_ is not None:
        tests.append(functools.partial(_negated, _compile(cond.not_)))
    if not tests:
        return _always
    # Every test must hold: what ``all`` of them says.
    return tests[0] if len(tests) == 1 else functools.partial(_until, tuple(tests), False)


# Compiled once per condition (a rule's ``when``, a test's condition), keyed by id and
# holding the condition so the id is never reused while the entry lives.
_COMPILED: dict[int, tuple[Condition, Test]] = {}


def _compiled(cond: Condition) -> Test:
    known = _COMPILED.get(id(cond))
    if known is not None and known[0] is cond:
        return known[1]
    test = _compile(cond)
    if len(_COMPILED) > 10_000:  # policies reloaded many times over
        _COMPILED.clear()
    _COMPILED[id(cond)] = (cond, test)
    return test


def _sender_matches(cond: SenderCondition, facts: Facts, policy: Policy) -> Verdict:
    sender = facts.envelope.mail_from.lower()
    addresses = set(cond.address)
    directory_groups: list[str] = []
    for group in cond.group:
        if group in policy.groups:
            addresses.update(policy.groups[group])
        else:
            directory_groups.append(group)
    if sender in addresses:
        return True
    _, _, domain = sender.rpartition("@")
    if cond.domain and in_domains(domain, cond.domain):
        return True
    if not directory_groups and not cond.department:
        return False
    entry = facts.sender_entry()
    if isinstance(entry, Unknown):
        return None
    if entry is None or entry.kind is not Kind.PERSON:
        return False
    if directory_groups and entry.in_group(directory_groups):
        return True
    wanted = {d.casefold() for d in cond.department}
    return bool(entry.department) and entry.department.casefold() in wanted


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
