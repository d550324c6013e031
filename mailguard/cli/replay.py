"""``mailguard replay``: what a policy would have done to last month's mail."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from mailguard.addresses import domain_of
from mailguard.cli.common import config_option, fail, load_policy_or_exit, runtime_from
from mailguard.history.learn import input_files, read_messages
from mailguard.inspection.context import needs_dns
from mailguard.inspection.replay import Archived, Judged, date_of
from mailguard.inspection.replay import replay as replay_all
from mailguard.intake.mime import ParsedMessage
from mailguard.policy.loader import LoadedPolicy
from mailguard.reports import html
from mailguard.reports.summary import Row, Summary
from mailguard.runtime import Runtime

_DATE = re.compile(rb"(?im)^date:[ \t]*(.+)$")


@click.command()
@config_option
@click.option("--policy", type=click.Path(path_type=Path), help="Policy to replay [settings].")
@click.option(
    "--against", type=click.Path(path_type=Path), help="Compare with this policy (the old one)."
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="State directory (read only).")
@click.option("--database", help="postgresql://... when the relays share one.")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per message, then a summary."
)
@click.option("--html", "html_file", type=click.Path(path_type=Path), help="Write a report page.")
@click.option("--since", help="Only mail dated on or after this day (YYYY-MM-DD).")
@click.option("--workers", type=click.IntRange(1, 64), help="Processes [one a core].")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
def replay(
    config_file: Path | None,
    policy: Path | None,
    against: Path | None,
    data_dir: Path | None,
    database: str | None,
    as_json: bool,
    html_file: Path | None,
    since: str | None,
    workers: int | None,
    sources: tuple[Path, ...],
) -> None:
    """Run a policy over archived mail (mbox, Maildir, directories of .eml, .eml files)
    exactly as the relay would judge it; nothing is sent, stored or learnt."""
    runtime = runtime_from(config_file, data_dir=data_dir, database=database, policy=policy)
    if runtime.settings.policy is None:
        fail("replay needs a policy: --policy FILE (or policy: in the settings)")
    loaded = load_policy_or_exit(runtime.settings.policy)
    old = load_policy_or_exit(against) if against else None
    start = _day(since) if since else None
    files = input_files(list(sources))
    dns = _dns(runtime, (loaded, old), files, start)
    summary = Summary()
    started = time.monotonic()
    skipped = 0
    judged = replay_all(
        _archived(files, start), loaded, runtime.inspection, against=old, dns=dns,
        workers=workers,
    )  # fmt: skip
    with _progress() as bar:
        for one in judged:
            bar.update(1)
            if one.inspection is None:
                skipped += 1
                click.echo(f"mailguard: {one.source}: {one.problem}", err=True)
                continue
            summary.add(row_of(one))
            if as_json:
                click.echo(json.dumps(_message_json(one), ensure_ascii=False))
    summary.elapsed_s = time.monotonic() - started
    if as_json:
        click.echo(json.dumps({"summary": {**summary.to_json(), "skipped": skipped}}))
    else:
        click.echo(_human(summary, skipped))
    if html_file is not None:
        subtitle = f"{runtime.settings.policy.name}" + (
            f" against {against.name}." if against else "."
        )
        html_file.write_text(
            html.render(summary, title="Policy replay", subtitle=f"Policy {subtitle}"),
            encoding="utf-8",
        )
        if not as_json:
            click.echo(f"Report: {html_file}")


def row_of(one: Judged) -> Row:
    assert one.inspection is not None
    decision = one.inspection.decision
    return Row(
        one.date,
        decision.action.value,
        tuple(decision.rules),
        tuple((f.type, f.count, f.detail) for f in one.inspection.findings),
        one.sender_domain,
        one.against.action.value if one.against else None,
        tuple(one.against.rules) if one.against else (),
        one.subject,
        one.source,
        decision.rule,
        one.against.rule if one.against else "",
    )


def _message_json(one: Judged) -> dict[str, object]:
    assert one.inspection is not None
    decision = one.inspection.decision
    out: dict[str, object] = {
        "path": one.source,
        "action": decision.action.value,
        "rules": list(decision.rules),
        "findings": [f.to_json() for f in one.inspection.findings],
        "message_id": one.message_id,
        "date": one.date.isoformat() if one.date else None,
    }
    if one.against is not None:
        out["against_action"] = one.against.action.value
        out["against_rules"] = list(one.against.rules)
    return out


def _archived(files: Sequence[Path], start: dt.datetime | None) -> Iterator[Archived]:
    for path in files:
        try:
            messages = list(read_messages(path)) if path.stat().st_size else []
        except OSError as exc:
            click.echo(f"mailguard: {path}: cannot read: {exc.strerror}", err=True)
            continue
        for n, message in enumerate(messages, start=1):
            if start is not None and not _on_or_after(message.raw, start):
                continue
            source = str(path) if len(messages) == 1 else f"{path}#{n}"
            yield Archived(source, message.raw)


def _on_or_after(raw: bytes, start: dt.datetime) -> bool:
    head = raw[: raw.find(b"\n\n") if b"\n\n" in raw else 16384]
    found = _DATE.search(head)
    when = date_of(found.group(1).decode("ascii", "replace")) if found else None
    return when is not None and when >= start


def _day(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    except ValueError:
        fail(f"--since {text}: use a day as YYYY-MM-DD")


def _dns(
    runtime: Runtime,
    policies: tuple[LoadedPolicy | None, ...],
    files: Sequence[Path],
    start: dt.datetime | None,
) -> dict[str, str]:
    """DNS answers for every recipient domain, asked once before the replay, and only
    when a rule of either policy reads them (``unroutable_domain``)."""
    wanted = [p for p in policies if p is not None and needs_dns(p)]
    if not wanted:
        return {}
    recipients: set[str] = set()
    for item in _archived(files, start):
        message = ParsedMessage(item.raw)
        recipients.update(a for _, a in message.addresses("to", "cc", "bcc") if domain_of(a))

    async def ask() -> dict[str, str]:
        try:
            return await runtime.inspection.dns_answers(runtime.dns, wanted[0], sorted(recipients))
        finally:
            await runtime.dns.aclose()

    return asyncio.run(ask())


class _Quiet:
    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _: int) -> None:
        return None


def _progress():  # type: ignore[no-untyped-def]
    """A count of messages on a terminal; nothing when stderr is a file or a pipe."""
    if not sys.stderr.isatty():
        return _Quiet()
    return click.progressbar(length=None, label="Replaying", file=sys.stderr, show_pos=True)


def _human(summary: Summary, skipped: int) -> str:
    lines = [f"Replayed {summary.messages:,} message(s) in {summary.elapsed_s:.1f}s"
             f" ({summary.messages / max(summary.elapsed_s, 1e-9):.0f}/s)."]  # fmt: skip
    lines.append("Actions: " + ", ".join(f"{a} {n:,}" for a, n in summary.actions.most_common()))
    if summary.rules:
        lines.append("Rules: " + ", ".join(f"{r} {n:,}" for r, n in summary.rules.most_common(10)))
    if summary.compared:
        lines.append(f"Changed by the new policy: {summary.changed:,}.")
        for rule, n in summary.changed_by_rule.most_common(10):
            lines.append(f"  {rule}: {n:,}")
    if skipped:
        lines.append(f"Skipped {skipped} message(s) that could not be judged (see above).")
    return "\n".join(lines)
