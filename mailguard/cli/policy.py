"""``mailguard policy lint|test``: check policy files and try them on messages."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailguard.cli.files import FileInspection, inspection_options
from mailguard.policy.loader import PolicyError, load_policy
from mailguard.policy.readiness import directory_keys, unprotected
from mailguard.policy.report import render_policy_table


@click.group("policy")
def policy() -> None:
    """Check policy files and try them on messages."""


@policy.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def lint(files: tuple[Path, ...]) -> None:
    """Validate policy files: exit 0 when valid, else 1 and FILE:LINE:COL: problem lines."""
    failed = False
    for path in files:
        try:
            loaded = load_policy(path)
        except PolicyError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(str(problem))
            continue
        n = len(loaded.policy.rules)
        click.echo(f"{path}: OK ({n} rule{'s' * (n != 1)}, version {loaded.version})")
        for warning in unprotected(loaded.policy):
            click.echo(f"{path}: warning: {warning}")
        if wanted := directory_keys(loaded.policy):
            # Not in the policy's own groups: the directory must know them (a typo here
            # would never match), so say which names it will be asked about.
            click.echo(f"{path}: note: asked of the directory: {', '.join(wanted)}")
    sys.exit(1 if failed else 0)


@policy.command("test")
@inspection_options
@click.option("--policy", "policy_file", required=True, type=click.Path(path_type=Path))
@click.argument("files", nargs=-1, required=True)
def test(request: FileInspection, policy_file: Path, files: tuple[str, ...]) -> None:
    """Show, rule by rule, what the policy would do to each message and why."""
    loaded, results = request.run(policy_file, files)
    assert loaded is not None  # --policy is required
    for message, result in results:
        click.echo(render_policy_table(message.path, result, loaded))
