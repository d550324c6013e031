"""``mailguard policy test``: what each rule made of a message, as a plain table."""

from __future__ import annotations

from mailguard.model import Inspection
from mailguard.policy.loader import LoadedPolicy
from mailguard.policy.schema import Mode


def render_policy_table(path: str, result: Inspection, loaded: LoadedPolicy) -> str:
    decision = result.decision
    fired = set(decision.rules)
    rows = [("RULE", "FIRED", "ACTION", "WHY")]
    for rule in loaded.policy.rules:
        mode = rule.mode or loaded.policy.mode
        action = rule.action.value + (" (monitor)" if mode is Mode.MONITOR else "")
        rows.append(
            (rule.name, "yes" if rule.name in fired else "no", action, rule.description or "-")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{path}: {decision.action.value}" + (f" by {decision.rule}" if decision.rule else "")]
    if decision.would_action:
        lines.append(f"  monitor mode: would have been {decision.would_action.value}")
    for row in rows:
        lines.append(
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[3]
        )
    if result.findings:
        lines.append("  findings:")
        for f in result.findings:
            lines.append(f"    {f.detector}/{f.type} x{f.count} in {f.where} ({f.severity.value})")
    return "\n".join(lines)
