"""Command line: ``mailguard serve`` and ``mailguard check``. Thin on purpose."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from mailguard import __version__, pipeline
from mailguard import logging as mglog
from mailguard.config import ConfigError, Settings, load_settings, parse_hostport, parse_size
from mailguard.detectors import unroutable
from mailguard.domain_check import DomainChecker, answers_for
from mailguard.history.sqlite import FILENAME as HISTORY_FILE
from mailguard.history.sqlite import ReadOnlyHistory
from mailguard.history.store import DEFAULT_MAX_AGE_DAYS
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Inspection
from mailguard.policy.engine import detectors_needed
from mailguard.policy.loader import LoadedPolicy, PolicyError, load_policy
from mailguard.policy.report import render_policy_table
from mailguard.storage import history_reader


class _HostPort(click.ParamType):
    name = "HOST:PORT"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, int]:
        try:
            return parse_hostport(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class _Size(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mailguard")
def main() -> None:
    """mailguard: an outbound email data-leak guard (SMTP relay)."""


@main.command()
@click.option(
    "--config", "config_file", type=click.Path(path_type=Path), help="YAML settings file."
)
@click.option("--listen", type=_HostPort(), help="Accept SMTP here [127.0.0.1:10025].")
@click.option("--upstream", type=_HostPort(), help="Relay to this MTA [127.0.0.1:10026].")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="State directory [./mailguard-data]."
)
@click.option(
    "--policy", type=click.Path(path_type=Path), help="Policy YAML file [none: pass all]."
)
@click.option(
    "--allow",
    multiple=True,
    help="Network allowed to relay (repeatable) [127.0.0.0/8, ::1].",
)
@click.option("--max-size", type=_Size(), help="Largest message accepted, e.g. 50M [50M].")
@click.option("--max-recipients", type=int, help="Recipients per message [1000].")
@click.option("--workers", type=int, help="Inspection worker processes [CPU count].")
@click.option("--hostname", help="Name in the greeting and EHLO [FQDN].")
@click.option("--database", help="postgresql://... to share state between relays [SQLite].")
@click.option("--web", type=_HostPort(), help="Serve the review UI here, e.g. 127.0.0.1:8025.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config_file: Path | None, **flags: Any) -> None:
    """Run the SMTP relay: inspect every message, then deliver it upstream."""
    try:
        settings = load_settings(config_file, flags)
    except ConfigError as exc:
        _fail(str(exc))
    policy = _load_policy_or_exit(settings.policy) if settings.policy else None
    mglog.configure(settings.log_level)
    try:
        asyncio.run(_serve(settings, policy))
    except (OSError, sqlite3.Error) as exc:  # listen port taken, data dir unwritable...
        _fail(f"cannot start: {getattr(exc, 'strerror', None) or exc}")


async def _serve(settings: Any, policy: LoadedPolicy | None) -> None:
    from mailguard.smtp.server import serve as run_relay

    await run_relay(settings, policy)


def _load_policy_or_exit(path: Path) -> LoadedPolicy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail(f"{path}: policy has {len(exc.problems)} problem(s), see above")


@dataclass(frozen=True, slots=True)
class _Input:
    path: str
    raw: bytes
    envelope: Envelope


@main.command()
@click.option("--policy", type=click.Path(path_type=Path), help="Policy YAML file.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="State directory (read only).")
@click.option("--database", help="postgresql://... when the relays share one (read only).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@click.option("--mail-from", help="Envelope sender [the From: address].")
@click.option("--rcpt", multiple=True, help="Envelope recipient, repeatable [To+Cc+Bcc].")
@click.option(
    "--dns-server",
    type=_HostPort(),
    multiple=True,
    help="Nameserver for unroutable_domain, repeatable [the system's].",
)
@click.argument("files", nargs=-1, required=True)
def check(
    policy: Path | None,
    data_dir: Path | None,
    database: str | None,
    as_json: bool,
    mail_from: str | None,
    rcpt: tuple[str, ...],
    dns_server: tuple[tuple[str, int], ...],
    files: tuple[str, ...],
) -> None:
    """Inspect .eml files exactly as the relay would; nothing is sent or stored.

    FILE may be - for standard input. Exit 0 whatever the verdict, 2 on bad input.
    """
    loaded = _load_policy_or_exit(policy) if policy else None
    inputs = [_read_input(path, mail_from, rcpt) for path in files]
    history = _read_history(data_dir, database)
    for item in inputs:
        domains = _domain_answers(loaded, item.envelope, dns_server)
        result = pipeline.inspect(item.envelope, item.raw, loaded, history=history, domains=domains)
        click.echo(_render(item.path, result, as_json))


def _domain_answers(
    loaded: LoadedPolicy | None, envelope: Envelope, servers: tuple[tuple[str, int], ...]
) -> dict[str, str]:
    """What the relay would have asked DNS, asked only when a rule can use it."""
    if loaded is None or unroutable.NAME not in detectors_needed(loaded.policy):
        return {}
    internal = loaded.policy.organisation.internal_domains

    async def ask() -> dict[str, str]:
        checker = DomainChecker(list(servers) or None, timeout=2.0)
        try:
            return await answers_for(checker, envelope.rcpt_tos, internal, 2.0)
        finally:
            await checker.aclose()

    return asyncio.run(ask())


def _read_history(data_dir: Path | None, database: str | None) -> ReadOnlyHistory | None:
    """The relay's history, read-only: ``check`` never learns from what it checks."""
    location = database or str(
        (data_dir or Settings.model_fields["data_dir"].default) / HISTORY_FILE
    )
    try:
        return history_reader(location, DEFAULT_MAX_AGE_DAYS)
    except Exception as exc:  # sqlite3 or psycopg errors alike
        _fail(f"cannot read history: {type(exc).__name__}: {exc}")


@main.group("policy")
def policy_group() -> None:
    """Check policy files and try them on messages."""


@policy_group.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def policy_lint(files: tuple[Path, ...]) -> None:
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
    sys.exit(1 if failed else 0)


@policy_group.command("test")
@click.option("--policy", "policy_file", required=True, type=click.Path(path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), help="State directory (read only).")
@click.option("--database", help="postgresql://... when the relays share one (read only).")
@click.option("--mail-from", help="Envelope sender [the From: address].")
@click.option("--rcpt", multiple=True, help="Envelope recipient, repeatable [To+Cc+Bcc].")
@click.argument("files", nargs=-1, required=True)
def policy_test(
    policy_file: Path,
    data_dir: Path | None,
    database: str | None,
    mail_from: str | None,
    rcpt: tuple[str, ...],
    files: tuple[str, ...],
) -> None:
    """Show, rule by rule, what the policy would do to each message and why."""
    loaded = _load_policy_or_exit(policy_file)
    inputs = [_read_input(path, mail_from, rcpt) for path in files]
    history = _read_history(data_dir, database)
    for item in inputs:
        result = pipeline.inspect(item.envelope, item.raw, loaded, history=history)
        click.echo(render_policy_table(item.path, result, loaded))


def _read_input(path: str, mail_from: str | None, rcpt: tuple[str, ...]) -> _Input:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc.strerror}")
    if not raw.strip():
        _fail(f"{path}: empty message")
    raw = to_crlf(raw)
    message = ParsedMessage(raw)
    sender = mail_from
    if sender is None:
        found = message.addresses("from")
        sender = found[0][1] if found else ""
    recipients = rcpt or tuple(a for _, a in message.addresses("to", "cc", "bcc"))
    if not recipients:
        _fail(f"{path}: no recipients: no To, Cc or Bcc header and no --rcpt")
    return _Input(path, raw, Envelope(mail_from=sender, rcpt_tos=tuple(recipients)))


def to_crlf(raw: bytes) -> bytes:
    """Files on disk usually have LF line endings; on the wire every line ends CRLF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _render(path: str, result: Inspection, as_json: bool) -> str:
    decision = result.decision
    if as_json:
        return json.dumps(
            {
                "path": path,
                "action": decision.action.value,
                "rules": list(decision.rules),
                "findings": [f.to_json() for f in result.findings],
            },
            ensure_ascii=False,
        )
    lines = [f"{path}: {decision.action.value}"]
    if decision.rules:
        lines.append(f"  rules: {', '.join(decision.rules)}")
    for f in result.findings:
        lines.append(
            f"  {f.severity.value:<6} {f.detector}/{f.type} x{f.count} in {f.where}"
            + (f": {f.detail}" if f.detail else "")
        )
    if not result.findings:
        lines.append("  no findings")
    lines.append(f"  inspected by: {', '.join(result.inspected) or 'no detector (none needed)'}")
    return "\n".join(lines)


def _fail(message: str) -> Any:
    click.echo(f"mailguard: {message}", err=True)
    sys.exit(2)


def _register() -> None:
    from mailguard.cli_history import history
    from mailguard.cli_postfix import postfix
    from mailguard.cli_quarantine import quarantine
    from mailguard.cli_web import users, web

    main.add_command(quarantine)
    main.add_command(history)
    main.add_command(users)
    main.add_command(web)
    main.add_command(postfix)


_register()
