"""What a policy did to a set of messages, counted: the replay's and the ledger's
report share it.

A ``Row`` is one decided message as a report sees it: when, what was done, which
rules and finding types (details already masked), the sender's domain; for a replay
against another policy, what that one would have done; for the replay's sample of
changed messages, the subject. Never the content, never an address.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from mailguard.ledger.store import Entry

SAMPLES_PER_RULE = 5


@dataclass(frozen=True, slots=True)
class Row:
    at: dt.datetime | None
    action: str
    rules: tuple[str, ...]
    findings: tuple[tuple[str, int, str], ...]  # (type, count, masked detail)
    sender_domain: str = ""
    against_action: str | None = None
    against_rules: tuple[str, ...] = ()
    subject: str = ""  # replay only, for the sample of changed messages
    ref: str = ""  # the file (replay) or queue id (ledger)
    rule: str = ""  # the rule whose action won
    against_rule: str = ""

    @property
    def changed(self) -> bool:
        """The other policy would have done something else with it."""
        return self.against_action is not None and self.against_action != self.action


@dataclass(slots=True)
class Sample:
    ref: str
    subject: str
    action: str
    against_action: str | None
    findings: tuple[tuple[str, int, str], ...]


@dataclass(slots=True)
class Summary:
    messages: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    holds: Counter[str] = field(default_factory=Counter)  # rule -> messages it held
    findings: Counter[str] = field(default_factory=Counter)  # type -> messages with it
    domains: Counter[str] = field(default_factory=Counter)  # sender domain -> intervened
    per_day: dict[str, Counter[str]] = field(default_factory=dict)
    changed: int = 0
    changed_by_rule: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    compared: bool = False
    elapsed_s: float = 0.0

    def add(self, row: Row) -> None:
        self.messages += 1
        self.actions[row.action] += 1
        self.rules.update(row.rules)
        if row.action == "hold":
            self.holds[row.rule or "(no rule)"] += 1
        self.findings.update({t for t, _, _ in row.findings})
        if row.action != "pass" and row.sender_domain:
            self.domains[row.sender_domain] += 1
        day = row.at.date().isoformat() if row.at else "undated"
        self.per_day.setdefault(day, Counter())[row.action] += 1
        if row.against_action is not None:
            self.compared = True
        if row.changed:
            self.changed += 1
            rule = row.rule or row.against_rule or "(no rule)"
            self.changed_by_rule[rule] += 1
            kept = self.samples.setdefault(rule, [])
            if len(kept) < SAMPLES_PER_RULE:
                kept.append(
                    Sample(row.ref, row.subject, row.action, row.against_action, row.findings)
                )

    def to_json(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "actions": dict(self.actions.most_common()),
            "rules": dict(self.rules.most_common()),
            "changed": self.changed,
            "per_day": {d: dict(c) for d, c in sorted(self.per_day.items())},
            "elapsed_s": round(self.elapsed_s, 1),
            "holds": dict(self.holds.most_common()),
            "findings": dict(self.findings.most_common()),
            "sender_domains": dict(self.domains.most_common(20)),
            "changed_by_rule": dict(self.changed_by_rule.most_common()),
        }


def from_ledger(entry: Entry) -> Row:
    """A ledger entry as a report counts it: the would-action of a monitor-mode rule is
    what the policy would have done."""
    return Row(
        dt.datetime.fromtimestamp(entry.at, dt.UTC),
        entry.would_action or entry.action,
        entry.rules,
        tuple((f.type, f.count, f.detail) for f in entry.findings),
        entry.sender.rpartition("@")[2].lower(),
        ref=entry.queue_id,
        rule=entry.rule,
    )
