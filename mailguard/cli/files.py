"""Messages from files, inspected exactly as ``serve`` inspects mail from the wire.

``check`` and ``policy test`` share this: the same
inspection context from the settings (history and its age, DNS servers and
timeout), the same DNS answers for the same rules, the same detectors for the same
policy. Nothing is sent, stored or learnt.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from mailguard.cli.common import (
    HostPort,
    config_option,
    fail,
    load_policy_or_exit,
    runtime_from,
)
from mailguard.inspection import pipeline
from mailguard.intake.mime import ParsedMessage, to_crlf
from mailguard.model import Envelope, Inspection
from mailguard.policy.loader import LoadedPolicy
from mailguard.runtime import Runtime


@dataclass(frozen=True, slots=True)
class FileInspection:
    """What ``check`` and ``policy test`` are asked to judge with: the settings and
    state, and the envelope for files that carry none."""

    config_file: Path | None
    data_dir: Path | None
    database: str | None
    mail_from: str | None
    rcpt: tuple[str, ...]
    dns_servers: tuple[tuple[str, int], ...]

    def run(
        self, policy: Path | None, files: Sequence[str]
    ) -> tuple[LoadedPolicy | None, Iterator[tuple[MessageFile, Inspection]]]:
        """The policy in force (``policy``, else the settings') and each file's verdict."""
        runtime = runtime_from(
            self.config_file,
            data_dir=self.data_dir,
            database=self.database,
            policy=policy,
            dns_servers=self.dns_servers,
        )
        path = runtime.settings.policy
        loaded = load_policy_or_exit(path) if path else None
        messages = []
        for f in files:
            try:
                messages.append(message_file(f, self.mail_from, self.rcpt))
            except BadMessage as exc:
                # One unreadable file of a batch gets its line; the others their verdicts.
                click.echo(f"mailguard: {exc}", err=True)
                click.get_current_context().call_on_close(lambda: sys.exit(2))
        return loaded, inspect_files(runtime, loaded, messages)


def inspection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options of ``check`` and ``policy test`` besides the policy, handed to the
    command as one ``request: FileInspection``."""

    @functools.wraps(f)
    def command(**kwargs: Any) -> Any:
        request = FileInspection(
            *(kwargs.pop(k) for k in ("config_file", "data_dir", "database", "mail_from")),
            tuple(kwargs.pop("rcpt")),
            tuple(kwargs.pop("dns_servers")),
        )
        return f(request=request, **kwargs)

    for option in reversed(
        (
            config_option,
            click.option(
                "--data-dir", type=click.Path(path_type=Path), help="State directory (read only)."
            ),
            click.option("--database", help="postgresql://... when the relays share one."),
            click.option("--mail-from", help="Envelope sender [the From: address]."),
            click.option(
                "--rcpt", multiple=True, help="Envelope recipient, repeatable [To+Cc+Bcc]."
            ),
            click.option(
                "--dns-server",
                "dns_servers",
                type=HostPort(),
                multiple=True,
                help="Nameserver for unroutable_domain, repeatable [settings, else the system's].",
            ),
        )
    ):
        command = option(command)
    return command


@dataclass(frozen=True, slots=True)
class MessageFile:
    path: str
    raw: bytes
    envelope: Envelope


class BadMessage(Exception):
    """A file that cannot be judged: unreadable, empty, or with nobody to send it to."""


def read_message(path: str, mail_from: str | None, rcpt: Sequence[str]) -> MessageFile:
    """message_file, or the end of the command with one line saying why not."""
    try:
        return message_file(path, mail_from, rcpt)
    except BadMessage as exc:
        fail(str(exc))


def message_file(path: str, mail_from: str | None, rcpt: Sequence[str]) -> MessageFile:
    """An .eml file (``-``: stdin) with its envelope: given, or From and To+Cc+Bcc."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise BadMessage(f"{path}: cannot read: {exc.strerror}") from None
    if not raw.strip():
        raise BadMessage(f"{path}: empty message")
    raw = to_crlf(raw)
    message = ParsedMessage(raw)
    sender = mail_from
    if sender is None:
        found = message.addresses("from")
        sender = found[0][1] if found else ""
    recipients = tuple(rcpt) or tuple(a for _, a in message.addresses("to", "cc", "bcc"))
    if not recipients:
        raise BadMessage(f"{path}: no recipients: no To, Cc or Bcc header and no --rcpt")
    return MessageFile(path, raw, Envelope(mail_from=sender, rcpt_tos=recipients))


def inspect_files(
    runtime: Runtime, loaded: LoadedPolicy | None, messages: Sequence[MessageFile]
) -> Iterator[tuple[MessageFile, Inspection]]:
    """Each message's inspection, with the relay's history read (never written)."""
    answers = asyncio.run(_dns_answers(runtime, loaded, messages))
    try:
        history = runtime.inspection.open_history()
    except Exception as exc:  # sqlite3 or psycopg errors alike
        fail(f"cannot read history: {type(exc).__name__}: {exc}")
    records = runtime.inspection.open_records()
    try:
        for message, dns in zip(messages, answers, strict=True):
            directory = runtime.directory_answers(loaded, message.envelope)
            inspection = pipeline.inspect(
                message.envelope, message.raw, loaded, history=history, dns=dns,
                records=records, directory=directory,
            )  # fmt: skip
            yield message, inspection
    finally:
        if history is not None:
            history.close()


async def _dns_answers(
    runtime: Runtime, loaded: LoadedPolicy | None, messages: Sequence[MessageFile]
) -> list[dict[str, str]]:
    """What the relay would have asked DNS for each message (nothing, unless a rule of
    the policy can use the answer)."""
    context = runtime.inspection
    try:
        return [
            await context.dns_answers(runtime.dns, loaded, m.envelope.rcpt_tos) for m in messages
        ]
    finally:
        await runtime.dns.aclose()
