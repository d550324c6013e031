"""``mailguard report``: what the policy did in production, from the decision ledger."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import click

from mailguard.cli.common import fail, opened, runtime_from, state_options
from mailguard.reports import html
from mailguard.reports.summary import Summary, from_ledger

_SPAN = re.compile(r"(\d+)([hdw])")
_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}


@click.command()
@state_options
@click.option("--since", default="7d", show_default=True, help="How far back: 24h, 7d, 4w.")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object.")
@click.option("--html", "html_file", type=click.Path(path_type=Path), help="Write a report page.")
def report(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    since: str,
    as_json: bool,
    html_file: Path | None,
) -> None:
    """What the policy did (or, in monitor mode, would have done) to the mail the relay
    decided, from its ledger. Counts only: no subject, no content."""
    span = _SPAN.fullmatch(since.strip())
    if span is None:
        fail(f"--since {since}: use a number and h, d or w (24h, 7d, 4w)")
    seconds = int(span.group(1)) * _SECONDS[span.group(2)]
    runtime = runtime_from(config_file, data_dir=data_dir, database=database)
    started = time.monotonic()
    summary = Summary()
    if runtime.ledger_exists():
        ledger = opened("the decision ledger", lambda: runtime.ledger)
        for entry in ledger.since(time.time() - seconds):
            summary.add(from_ledger(entry))
    summary.elapsed_s = time.monotonic() - started
    if as_json:
        click.echo(json.dumps({"summary": summary.to_json()}))
    else:
        click.echo(f"{summary.messages:,} message(s) decided in the last {since}.")
        for action, n in summary.actions.most_common():
            click.echo(f"  {action}: {n:,}")
        for rule, n in summary.rules.most_common(10):
            click.echo(f"  rule {rule}: {n:,}")
    if html_file is not None:
        page = html.render(summary, title="What mailguard did", subtitle=f"The last {since}.")
        html_file.write_text(page, encoding="utf-8")
        if not as_json:
            click.echo(f"Report: {html_file}")
