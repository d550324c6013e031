"""``mailguard quarantine ...``: the reviewer's operations, on the same service the relay uses."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from mailguard.cli.common import (
    fail,
    json_option,
    load_policy_or_exit,
    opened,
    runtime_from,
    state_options,
)
from mailguard.cli.identity import Acting, IdentityError, acting
from mailguard.policy.schema import Policy
from mailguard.quarantine.service import (
    Actor,
    QuarantineError,
    QuarantineService,
    ReleaseResult,
)
from mailguard.quarantine.store import AuditEntry, HeldMessage, State
from mailguard.runtime import Runtime

BY_HELP = (
    "Act for this user account: admins only, with --reason; the audit names you too."
    "  [you: the operating-system user]"
)


def _common(f: Any) -> Any:
    return state_options(json_option(f))


def _runtime(config_file: Path | None, **flags: Any) -> Runtime:
    """The command's runtime, once it is clear there is a quarantine to work on."""
    runtime = runtime_from(config_file, **flags)
    if not runtime.quarantine_exists():
        fail(f"no quarantine in {runtime.settings.data_dir} (wrong --data-dir?)")
    return runtime


def _service(runtime: Runtime, *, deliver: bool = False) -> QuarantineService:
    """The relay's quarantine service; with an upstream pool only to deliver releases."""
    if deliver:
        return opened("the quarantine", lambda: runtime.quarantine)
    return opened("the quarantine", lambda: runtime.quarantine_offline)


def _acting(runtime: Runtime, by: str | None, reason: str) -> Acting:
    """The shell user (or, for an admin with a reason, the account named by --by)."""
    users = opened("users", lambda: runtime.users) if runtime.users_exist() else None
    try:
        return acting(users, by, reason)
    except IdentityError as exc:
        fail(str(exc), code=1)


@click.group("quarantine")
def quarantine() -> None:
    """List, inspect, release or reject held messages."""


@quarantine.command("list")
@_common
@click.option(
    "--state", type=click.Choice([s.value for s in State]), help="Only messages in this state."
)
@click.option("--limit", type=int, default=100, show_default=True)
def list_(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    as_json: bool,
    state: str | None,
    limit: int,
) -> None:
    """Held messages, newest first."""
    service = _service(_runtime(config_file, data_dir=data_dir, database=database))
    items = service.store.list(State(state) if state else None, limit)
    if as_json:
        for held in items:
            click.echo(json.dumps(held_json(held)))
        return
    if not items:
        click.echo("no messages")
        return
    click.echo(f"{'ID':<18} {'STATE':<9} {'HELD':<16} {'EXPIRES':<16} {'RCPTS':>5}  SENDER / RULE")
    for h in items:
        click.echo(
            f"{h.id:<18} {h.state.value:<9} {_when(h.created_at):<16} {_when(h.expires_at):<16} "
            f"{len(h.rcpt_tos):>5}  {h.mail_from or '<>'} / {h.rule}"
        )


@quarantine.command("show")
@_common
@click.argument("message_id")
@click.option("--raw", is_flag=True, help="Print the original message bytes instead.")
def show(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    as_json: bool,
    message_id: str,
    raw: bool,
) -> None:
    """One held message: envelope, why it was held, findings and its audit trail."""
    service = _service(_runtime(config_file, data_dir=data_dir, database=database))
    held = _get(service, message_id)
    if raw:
        content = service.store.content(message_id)
        if content is None:
            fail(f"message {message_id} has no stored content ({held.state.value})")
        sys.stdout.buffer.write(content)
        return
    audit = service.store.audit_log(message_id)
    if as_json:
        click.echo(json.dumps({**held_json(held), "audit": [audit_json(a) for a in audit]}))
        return
    click.echo(f"Message {held.id}: {held.state.value}")
    click.echo(f"  from:     {held.mail_from or '<>'}")
    click.echo(f"  to:       {', '.join(held.rcpt_tos)}")
    click.echo(f"  size:     {held.size} bytes")
    click.echo(f"  held:     {_when(held.created_at)}, expires {_when(held.expires_at)}")
    click.echo(f"  rule:     {held.rule} ({', '.join(held.rules)})")
    click.echo(f"  why:      {held.reason}")
    click.echo(f"  release:  needs {held.release}")
    for f in held.findings:
        click.echo(f"  finding:  {f.detector}/{f.type} x{f.count} in {f.where}: {f.detail}")
    for a in audit:
        click.echo(f"  {_when(a.at)}  {a.action:<15} by {a.actor}: {a.reason}")


Deliver = Callable[[QuarantineService, str, Actor, str], Awaitable[ReleaseResult]]


def _delivering(done: str, reason_help: str, default_reason: str, act: Deliver) -> Any:
    """``release`` and ``approve``: the same options, and one delivery upstream."""

    def command(
        config_file: Path | None,
        data_dir: Path | None,
        database: str | None,
        as_json: bool,
        message_id: str,
        reason: str,
        by: str | None,
        upstream: str | None,
    ) -> None:
        runtime = _runtime(config_file, data_dir=data_dir, database=database, upstream=upstream)
        service = _service(runtime, deliver=True)
        who = _acting(runtime, by, reason)
        _deliver(
            service,
            lambda s: act(s, message_id, who.actor, who.noted(reason or default_reason)),
            f"{done} {message_id}",
            as_json,
        )

    for option in (
        click.option("--upstream", help="Deliver to this HOST:PORT [from config]."),
        click.option("--by", help=BY_HELP),
        click.option("--reason", default="", help=reason_help),
        click.argument("message_id"),
        _common,
    ):
        command = option(command)
    return command


release = quarantine.command(
    "release", help="Deliver a held message as it was received, without inspecting it again."
)(
    _delivering(
        "released",
        "Why it may go out (recorded in the audit).",
        "(no reason given)",
        lambda s, held, who, reason: s.release(held, who, reason),
    )
)


def _deliver(
    service: QuarantineService,
    act: Callable[[QuarantineService], Awaitable[ReleaseResult]],
    done: str,
    as_json: bool,
) -> None:
    """Run one release-like operation with an upstream, then report what it delivered."""

    async def run() -> ReleaseResult:
        try:
            return await act(service)
        finally:
            assert service.upstream is not None
            await service.upstream.close()

    try:
        result = asyncio.run(run())
    except QuarantineError as exc:
        fail(str(exc), code=1)
    refused = {r: str(reply) for r, reply in result.delivery.refused.items()}
    if as_json:
        click.echo(json.dumps({**held_json(result.held), "refused": refused}))
        return
    click.echo(f"{done} to {len(result.delivery.accepted)} recipient(s)")
    for rcpt, reply in refused.items():
        click.echo(f"  refused upstream: {rcpt}: {reply}")


@quarantine.command("request-release")
@_common
@click.argument("message_id")
@click.option("--reason", required=True, help="Why it may go out (recorded in the audit).")
@click.option("--by", help=BY_HELP)
def request_release(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    as_json: bool,
    message_id: str,
    reason: str,
    by: str | None,
) -> None:
    """Ask for a two-person release; a different approver must then approve it."""
    runtime = _runtime(config_file, data_dir=data_dir, database=database)
    service = _service(runtime)
    try:
        who = _acting(runtime, by, reason)
        held = service.request_release(message_id, who.actor, who.noted(reason))
    except QuarantineError as exc:
        fail(str(exc), code=1)
    click.echo(json.dumps(held_json(held)) if as_json else f"release of {message_id} requested")


approve = quarantine.command(
    "approve", help="Approve someone else's release request, and deliver the message."
)(
    _delivering(
        "approved and released",
        "A note for the audit.",
        "",
        lambda s, held, who, reason: s.approve(held, who, reason),
    )
)


@quarantine.command("reject")
@_common
@click.argument("message_id")
@click.option("--reason", default="", help="Why it must not go out (recorded in the audit).")
@click.option("--by", help=BY_HELP)
def reject(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    as_json: bool,
    message_id: str,
    reason: str,
    by: str | None,
) -> None:
    """Never deliver a held message: its content is deleted, its record kept."""
    runtime = _runtime(config_file, data_dir=data_dir, database=database)
    service = _service(runtime)
    try:
        who = _acting(runtime, by, reason)
        held = service.reject(message_id, who.actor, who.noted(reason or "(no reason given)"))
    except QuarantineError as exc:
        fail(str(exc), code=1)
    click.echo(json.dumps(held_json(held)) if as_json else f"rejected {message_id}")


@quarantine.command("audit")
@_common
@click.argument("message_id", required=False)
def audit(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    as_json: bool,
    message_id: str | None,
) -> None:
    """Every state change: who, when, why (all messages, or one)."""
    service = _service(_runtime(config_file, data_dir=data_dir, database=database))
    for a in service.store.audit_log(message_id):
        if as_json:
            click.echo(json.dumps(audit_json(a)))
        else:
            click.echo(f"{_when(a.at)}  {a.message_id:<18} {a.action:<15} {a.actor}: {a.reason}")


@quarantine.command("expire")
@_common
def expire(
    config_file: Path | None, data_dir: Path | None, database: str | None, as_json: bool
) -> None:
    """Expire messages held past their date, and delete the content of mail released
    longer ago than the policy's keep_released_days (the relay does both hourly)."""
    runtime = _runtime(config_file, data_dir=data_dir, database=database)
    service = _service(runtime)
    for held in service.expire():
        click.echo(json.dumps(held_json(held)) if as_json else f"expired {held.id}")
    policy = runtime.settings.policy
    keep = (
        load_policy_or_exit(policy).policy if policy else Policy()
    ).quarantine.keep_released_days
    for message_id in service.forget_released(keep):
        if as_json:
            click.echo(json.dumps({"id": message_id, "content_deleted": True}))
        else:
            click.echo(f"deleted the content of {message_id} (released over {keep} days ago)")


def _get(service: QuarantineService, message_id: str) -> HeldMessage:
    try:
        return service.get(message_id)
    except QuarantineError as exc:
        fail(str(exc), code=1)


def held_json(h: HeldMessage) -> dict[str, Any]:
    return {
        "id": h.id,
        "state": h.state.value,
        "created_at": _iso(h.created_at),
        "expires_at": _iso(h.expires_at),
        "mail_from": h.mail_from,
        "rcpt_tos": list(h.rcpt_tos),
        "size": h.size,
        "rule": h.rule,
        "rules": list(h.rules),
        "reason": h.reason,
        "release": h.release,
        "policy_version": h.policy_version,
        "findings": [f.to_json() for f in h.findings],
        "subject": h.subject,
        "release_request": {
            "by": h.request.by,
            "reason": h.request.reason,
            "at": _iso(h.request.at),
        }
        if h.request
        else None,
        "review_requested": h.review_requested,
    }


def audit_json(a: AuditEntry) -> dict[str, Any]:
    return {
        "id": a.message_id,
        "at": _iso(a.at),
        "actor": a.actor,
        "action": a.action,
        "reason": a.reason,
    }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M")
