"""Replay: the policy run over archived mail, in parallel, exactly as ``check`` runs it.

Messages are read in the calling process and judged in a pool of worker processes
that each hold the policy (and the one to compare it ``against``), the history
(read-only) and the council's imported tables. Nothing is sent, stored or learnt.
Each result carries only what a report needs: the decision, the findings (their
details are masked already), the date, the sender's domain and, for the report's
sample of changed messages, the subject.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import email.utils
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mailguard.addresses import domain_of
from mailguard.directory.service import Directory
from mailguard.history.store import HistoryReader
from mailguard.inspection import pipeline
from mailguard.inspection.context import InspectionContext, directory_addresses
from mailguard.intake.mime import ParsedMessage, to_crlf
from mailguard.model import Decision, Envelope, Inspection
from mailguard.policy.loader import LoadedPolicy
from mailguard.records.store import RecordsReader


@dataclass(frozen=True, slots=True)
class Archived:
    """One message from an archive: where it came from and its bytes."""

    source: str  # a file, or FILE#N for the Nth message of an mbox
    raw: bytes


@dataclass(frozen=True, slots=True)
class Judged:
    source: str
    message_id: str
    date: dt.datetime | None  # from the Date header, UTC
    subject: str
    sender_domain: str
    recipients: int
    inspection: Inspection | None  # None: not judged (``problem`` says why)
    against: Decision | None = None
    problem: str = ""


@dataclass(frozen=True, slots=True)
class _Setup:
    policy: LoadedPolicy | None
    against: LoadedPolicy | None
    context: InspectionContext
    dns: Mapping[str, str]


_state: dict[str, Any] = {}


def _start(setup: _Setup) -> None:
    """Each worker: the policies, and the history and tables opened once."""
    _state["setup"] = setup
    try:
        _state["history"] = setup.context.open_history()
    except Exception:  # judged without history rather than not at all, as a relay worker
        _state["history"] = None
    _state["records"] = setup.context.open_records()
    _state["directory"] = setup.context.open_directory()


def judge(item: Archived) -> Judged:
    setup: _Setup = _state["setup"]
    history: HistoryReader | None = _state.get("history")
    records: RecordsReader | None = _state.get("records")
    raw = to_crlf(item.raw)
    message = ParsedMessage(raw)
    headers = message.headers
    found = message.addresses("from")
    sender = found[0][1] if found else ""
    recipients = tuple(a for _, a in message.addresses("to", "cc", "bcc"))
    date = date_of(headers.get("Date"))
    base = dict(
        source=item.source,
        message_id=str(headers.get("Message-ID", "") or "").strip(),
        date=date,
        subject=str(headers.get("Subject", "") or "")[:200],
        sender_domain=domain_of(sender) or "",
        recipients=len(recipients),
    )
    if not recipients:
        return Judged(**base, inspection=None, problem="no recipients (no To, Cc or Bcc)")
    envelope = Envelope(mail_from=sender, rcpt_tos=recipients)
    directory: Directory | None = _state.get("directory")
    answers = None
    if directory is not None:
        answers = directory.answers_now(directory_addresses(setup.policy, envelope))
    extras = {"history": history, "dns": setup.dns, "records": records, "directory": answers}
    inspection = pipeline.inspect(envelope, raw, setup.policy, **extras)
    against = None
    if setup.against is not None:
        against = pipeline.inspect(envelope, raw, setup.against, **extras).decision
    return Judged(**base, inspection=inspection, against=against)


def date_of(value: object) -> dt.datetime | None:
    """A Date header as UTC; None when there is none or it cannot be read."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def replay(
    messages: Iterable[Archived],
    policy: LoadedPolicy | None,
    context: InspectionContext,
    *,
    against: LoadedPolicy | None = None,
    dns: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> Iterator[Judged]:
    """Each message judged, in the order given; ``workers`` processes (default: one a
    core). One worker is run in this process (no pool to start)."""
    setup = _Setup(policy, against, context, dict(dns or {}))
    count = workers or os.cpu_count() or 1
    if count <= 1:
        _start(setup)
        try:
            yield from map(judge, messages)
        finally:
            _state.clear()
        return
    with concurrent.futures.ProcessPoolExecutor(
        count, initializer=_start, initargs=(setup,)
    ) as pool:
        # Bounded read-ahead: an archive of 300,000 messages is never all in memory.
        pending: list[concurrent.futures.Future[Judged]] = []
        for item in messages:
            pending.append(pool.submit(judge, item))
            if len(pending) >= count * 16:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()
