"""``mailguard incident ...``: a misdirected email turned into the ICO breach pack."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from html import escape
from pathlib import Path

import click

from mailguard.cli.common import fail, load_policy_or_exit, runtime_from, state_options
from mailguard.cli.identity import shell_user
from mailguard.incidents.service import IncidentError, Incidents
from mailguard.runtime import Runtime


def _incidents(runtime: Runtime) -> Incidents:
    """The service, knowing the policy's own domains (who counts as outside)."""
    if runtime.settings.policy is not None:
        loaded = load_policy_or_exit(runtime.settings.policy)
        runtime.live_policy = lambda: loaded
    try:
        return runtime.incidents
    except OSError as exc:
        fail(f"cannot open the incidents store: {exc}")


@click.group("incident")
def incident() -> None:
    """Breach incidents: what left, to whom, which data, the 72-hour deadline, and the
    deletion requests that contain it."""


@incident.command("open")
@state_options
@click.option("--held", help="A quarantine id (held or released mail).")
@click.option("--message-id", help="The Message-ID, from the sender's Sent Items.")
@click.option("--queue-id", help="The relay's queue id, from Postfix's log.")
@click.option("--discovered", help="When it was discovered (ISO 8601) [now].")
@click.option("--by", help="Who opens it [the shell user].")
@click.option("--json", "as_json", is_flag=True, help="Print the pack as JSON.")
def open_(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    held: str | None,
    message_id: str | None,
    queue_id: str | None,
    discovered: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Open an incident for a message, delivered, held or released."""
    if sum(x is not None for x in (held, message_id, queue_id)) != 1:
        fail("say which message: one of --held ID, --message-id MSGID, --queue-id ID")
    when = None
    if discovered:
        try:
            parsed = dt.datetime.fromisoformat(discovered)
        except ValueError:
            fail(f"--discovered {discovered}: use ISO 8601, e.g. 2026-12-03T09:30")
        when = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    runtime = runtime_from(config_file, data_dir=data_dir, database=database)
    service = _incidents(runtime)
    try:
        opened = service.open(
            held=held, message_id=message_id, queue_id=queue_id, discovered=when,
            by=by or shell_user(),
        )  # fmt: skip
    except IncidentError as exc:
        fail(str(exc))
    _print(service.pack(opened.id), as_json)


@incident.command("show")
@state_options
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="The pack as JSON.")
@click.option("--html", "html_file", type=click.Path(path_type=Path), help="A printable page.")
def show(config_file: Path | None, data_dir: Path | None, database: str | None,
         incident_id: str, as_json: bool, html_file: Path | None) -> None:  # fmt: skip
    """The pack: what the ICO's breach report asks, as far as mailguard knows it."""
    runtime = runtime_from(config_file, data_dir=data_dir, database=database)
    if not runtime.incidents_exist():  # reading creates nothing
        fail(f"no incident {incident_id} (see: mailguard incident list)")
    service = _incidents(runtime)
    try:
        found = service.pack(incident_id)
    except IncidentError as exc:
        fail(str(exc))
    if html_file is not None:
        html_file.write_text(_page(found), encoding="utf-8")
    _print(found, as_json)


@incident.command("list")
@state_options
@click.option("--json", "as_json", is_flag=True)
def list_(config_file: Path | None, data_dir: Path | None, database: str | None,
          as_json: bool) -> None:  # fmt: skip
    """Every incident, newest first."""
    runtime = runtime_from(config_file, data_dir=data_dir, database=database)
    packs = []
    if runtime.incidents_exist():  # reading creates nothing
        service = _incidents(runtime)
        packs = [service.pack(i.id) for i in service.store.all()]
    if as_json:
        click.echo(json.dumps(packs))
        return
    if not packs:
        click.echo("No incidents.")
    for p in packs:
        click.echo(f"{p['id']}\tdue {p['report_due_at']}\t{p['description']}")


@incident.command("request-deletion")
@state_options
@click.argument("incident_id")
@click.option("--by", help="Who sends it [the shell user].")
def request_deletion(config_file: Path | None, data_dir: Path | None, database: str | None,
                     incident_id: str, by: str | None) -> None:  # fmt: skip
    """Email each unintended recipient a request to delete the message, with a link to
    confirm they have (sent through the upstream, as hold notices are)."""
    runtime = runtime_from(config_file, data_dir=data_dir, database=database)
    service = _incidents(runtime)

    async def run() -> list[str]:
        try:
            return await service.request_deletion(incident_id, runtime.upstream, by or shell_user())
        finally:
            await runtime.aclose()

    try:
        sent = asyncio.run(run())
    except IncidentError as exc:
        fail(str(exc))
    click.echo(f"Asked {len(sent)} recipient(s) to delete it: {', '.join(sent) or 'none'}.")


@incident.command("confirm")
@state_options
@click.argument("incident_id")
@click.argument("recipient")
@click.option("--note", required=True, help="How it was confirmed (a phone call with ...).")
@click.option("--by", help="Who records it [the shell user].")
def confirm(config_file: Path | None, data_dir: Path | None, database: str | None,
            incident_id: str, recipient: str, note: str, by: str | None) -> None:  # fmt: skip
    """Record a deletion confirmed another way (by phone)."""
    service = _incidents(runtime_from(config_file, data_dir=data_dir, database=database))
    if not service.confirm_by_phone(incident_id, recipient.lower(), by or shell_user(), note):
        fail(f"no open deletion request to {recipient} in {incident_id}")
    click.echo(f"Recorded: {recipient} deleted it.")


def _print(found: dict[str, object], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False))
        return
    click.echo(f"{found['id']}: {found['description']}")
    click.echo(f"  report to the ICO by {found['report_due_at']} ({found['hours_left']} h left)")
    click.echo(f"  data: {', '.join(found['data_categories'])}; about {found['records']} records,"  # type: ignore[arg-type]
               f" {found['people']} people")  # fmt: skip
    click.echo(f"  recipients: {', '.join(found['recipients'])}")  # type: ignore[arg-type]
    for step in found["containment"]:  # type: ignore[attr-defined]
        click.echo(f"  done: {step}")
    click.echo(f"  to fill in: {', '.join(found['to_fill_in'])}")  # type: ignore[arg-type]


def _page(found: dict[str, object]) -> str:
    rows = "".join(
        f"<tr><th>{escape(k.replace('_', ' '))}</th><td>{escape(_text(v))}</td></tr>"
        for k, v in found.items()
        if k not in ("log", "findings")
    )
    findings = "".join(
        f"<li>{escape(str(f['type']))} x{f['count']}: {escape(str(f['detail']))}</li>"
        for f in found["findings"]  # type: ignore[attr-defined]
    )
    log = "".join(
        f"<li>{escape(str(x['at']))} {escape(str(x['who']))}: {escape(str(x['what']))}</li>"
        for x in found["log"]  # type: ignore[attr-defined]
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Incident {escape(str(found['id']))}</title>"
        "<style>body{font:14px system-ui,sans-serif;max-width:900px;margin:2em auto}"
        "th{text-align:left;vertical-align:top;padding-right:1em}</style>"
        f"<h1>Personal data breach: {escape(str(found['id']))}</h1><table>{rows}</table>"
        f"<h2>Findings (masked)</h2><ul>{findings}</ul><h2>Log</h2><ul>{log}</ul></html>"
    )


def _text(value: object) -> str:
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return "" if value is None else str(value)
