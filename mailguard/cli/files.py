"""Messages from files, inspected exactly as ``serve`` inspects mail from the wire.

``check`` and ``policy test`` share this: the same
inspection context from the settings (history and its age, DNS servers and
timeout), the same DNS answers for the same rules, the same detectors for the same
policy. Nothing is sent, stored or learnt.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailguard.cli.common import fail
from mailguard.inspection import pipeline
from mailguard.inspection.context import needs_dns
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Inspection
from mailguard.policy.loader import LoadedPolicy
from mailguard.runtime import Runtime


@dataclass(frozen=True, slots=True)
class MessageFile:
    path: str
    raw: bytes
    envelope: Envelope


def read_message(path: str, mail_from: str | None, rcpt: Sequence[str]) -> MessageFile:
    """An .eml file (``-``: stdin) with its envelope: given, or From and To+Cc+Bcc."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")
    if not raw.strip():
        fail(f"{path}: empty message")
    raw = to_crlf(raw)
    message = ParsedMessage(raw)
    sender = mail_from
    if sender is None:
        found = message.addresses("from")
        sender = found[0][1] if found else ""
    recipients = tuple(rcpt) or tuple(a for _, a in message.addresses("to", "cc", "bcc"))
    if not recipients:
        fail(f"{path}: no recipients: no To, Cc or Bcc header and no --rcpt")
    return MessageFile(path, raw, Envelope(mail_from=sender, rcpt_tos=recipients))


def to_crlf(raw: bytes) -> bytes:
    """Files on disk usually have LF line endings; on the wire every line ends CRLF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def inspect_files(
    runtime: Runtime, loaded: LoadedPolicy | None, messages: Sequence[MessageFile]
) -> Iterator[tuple[MessageFile, Inspection]]:
    """Each message's inspection, with the relay's history read (never written)."""
    answers = asyncio.run(_dns_answers(runtime, loaded, messages))
    try:
        history = runtime.inspection.open_history()
    except Exception as exc:  # sqlite3 or psycopg errors alike
        fail(f"cannot read history: {type(exc).__name__}: {exc}")
    try:
        for message, dns in zip(messages, answers, strict=True):
            inspection = pipeline.inspect(
                message.envelope, message.raw, loaded, history=history, dns=dns
            )
            yield message, inspection
    finally:
        if history is not None:
            history.close()


async def _dns_answers(
    runtime: Runtime, loaded: LoadedPolicy | None, messages: Sequence[MessageFile]
) -> list[dict[str, str]]:
    """What the relay would have asked DNS for each message, asked only when a rule
    of the policy can use the answer."""
    if loaded is None or not needs_dns(loaded):
        return [{} for _ in messages]
    try:
        return [
            await runtime.inspection.dns_answers(runtime.dns, loaded, m.envelope.rcpt_tos)
            for m in messages
        ]
    finally:
        await runtime.dns.aclose()
