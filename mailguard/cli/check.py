"""``mailguard check``: what the relay would do to .eml files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mailguard.cli.files import FileInspection, inspection_options
from mailguard.model import Inspection


@click.command()
@inspection_options
@click.option("--policy", type=click.Path(path_type=Path), help="Policy YAML file [settings].")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@click.argument("files", nargs=-1, required=True)
def check(
    request: FileInspection, policy: Path | None, as_json: bool, files: tuple[str, ...]
) -> None:
    """Inspect .eml files exactly as the relay would; nothing is sent or stored.

    FILE may be - for standard input. Exit 0 whatever the verdict, 2 on bad input.
    """
    _, results = request.run(policy, files)
    for message, result in results:
        click.echo(render(message.path, result, as_json))


def render(path: str, result: Inspection, as_json: bool) -> str:
    decision = result.decision
    if as_json:
        out = {
            "path": path,
            "action": decision.action.value,
            "rules": list(decision.rules),
            "findings": [f.to_json() for f in result.findings],
        }
        if decision.directory:
            out["directory"] = decision.directory
        if decision.undetermined:
            out["undetermined"] = list(decision.undetermined)
        return json.dumps(out, ensure_ascii=False)
    lines = [f"{path}: {decision.action.value}"]
    if decision.rules:
        lines.append(f"  rules: {', '.join(decision.rules)}")
    if decision.directory == "unavailable":
        undecided = ", ".join(decision.undetermined) or "none"
        lines.append(f"  directory unavailable: rules not applied: {undecided}")
    for f in result.findings:
        lines.append(
            f"  {f.severity.value:<6} {f.detector}/{f.type} x{f.count} in {f.where}"
            + (f": {f.detail}" if f.detail else "")
        )
    if not result.findings:
        lines.append("  no findings")
    lines.append(f"  inspected by: {', '.join(result.inspected) or 'no detector (none needed)'}")
    return "\n".join(lines)
