"""Turning sent mail into sightings: from the relay's deliveries and from old mailboxes.

``history learn`` reads mbox files, single .eml files and directories of either
(Maildir included). Only headers are parsed: it never needs the body.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

from mailguard.history.model import LearnSummary, SentMessage, Sighting
from mailguard.history.store import HistoryStore
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Addressing, Envelope

_BATCH = 500


def sightings_of(
    sender: str, recipients: Sequence[str], addressing: Addressing, at: float
) -> list[Sighting]:
    """One sighting per distinct recipient, with the display name To/Cc gave it."""
    sender = sender.lower()
    names: dict[str, str] = {}
    for name, address in addressing.named:
        if name.strip():
            names.setdefault(address.lower(), " ".join(name.split())[:200])
    seen: dict[str, None] = dict.fromkeys(r.lower() for r in recipients if "@" in r)
    return [Sighting(sender, r, names.get(r, ""), at) for r in seen if r != sender]


def sent_message(
    sender: str, recipients: Sequence[str], addressing: Addressing, raw: bytes, at: float
) -> SentMessage | None:
    """What the history keeps of one sent message; None when it teaches nothing."""
    found = sightings_of(sender, recipients, addressing, at)
    if not sender or not found:
        return None
    key = message_key(sender.lower(), addressing.message_id, raw)
    return SentMessage(sender.lower(), at, tuple(found), key)


def message_key(sender: str, message_id: object, raw: bytes) -> bytes:
    """Learning the same message twice (relay, then mailbox) must count it once."""
    basis = str(message_id).strip().encode("utf-8", "replace") if message_id else raw[:4096]
    return hashlib.sha256(sender.encode("utf-8", "replace") + b"\0" + basis).digest()[:16]


CONFIRMED = 2  # a released recipient is no longer "new" (near-miss RARE is 1)


def learn_released(
    store: HistoryStore, envelope: Envelope, raw: bytes, *, confirmed: bool = False
) -> None:
    """Record a released message now: a person confirmed these recipients were meant.
    ``confirmed``: a reviewer, not the sender, so look-alike domains become real too."""
    addressing = ParsedMessage(raw).addressing()
    sent = sent_message(envelope.mail_from, envelope.rcpt_tos, addressing, raw, time.time())
    if sent is not None:
        store.record([dataclasses.replace(sent, weight=CONFIRMED, confirmed=confirmed)])


@dataclass(frozen=True, slots=True)
class SourceMessage:
    raw: bytes
    size: int  # bytes of input consumed, for the progress bar


def input_files(paths: Sequence[Path]) -> list[Path]:
    """Files to read, directories walked in name order; hidden files and tmp/ skipped."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "tmp")
                files.extend(Path(root, n) for n in sorted(names) if not n.startswith("."))
        else:
            files.append(path)
    return files


def read_messages(path: Path) -> Iterator[SourceMessage]:
    """Messages in an mbox (a file starting with ``From ``) or one .eml file."""
    with path.open("rb") as fh:
        first = fh.readline()
        if not first.startswith(b"From "):
            rest = fh.read()
            yield SourceMessage(first + rest, len(first) + len(rest))
            return
        lines: list[bytes] = []
        consumed = len(first)
        previous_blank = True
        for line in fh:
            if line.startswith(b"From ") and previous_blank:
                yield SourceMessage(b"".join(lines), consumed)
                lines, consumed = [], 0
            elif line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
                lines.append(line[1:])  # ">From " escaped by the mbox writer (mboxrd)
            else:
                lines.append(line)
            consumed += len(line)
            previous_blank = not line.strip()
        yield SourceMessage(b"".join(lines), consumed)


class Learner:
    """Feeds messages to a store in batches; one per ``history learn`` run.

    A message and its key are written in the same transaction, so a run stopped
    half-way can simply be run again.
    """

    def __init__(self, store: HistoryStore, max_age_days: int, now: float | None = None) -> None:
        self.store = store
        self.now = now if now is not None else time.time()
        self.oldest = self.now - max_age_days * 86400.0
        self.summary = LearnSummary()
        self._batch: list[SentMessage] = []
        self._keys: set[bytes] = set()

    def add(self, raw: bytes) -> None:
        try:
            message = ParsedMessage(raw)
            headers = message.headers
        except Exception:
            self.summary.unreadable += 1
            return
        senders = message.addresses("from")
        recipients = [a for _, a in message.addresses("to", "cc", "bcc")]
        if not senders or not recipients:
            self.summary.unusable += 1
            return
        at = _date_of(headers.get("Date"), self.now)
        if at < self.oldest:
            self.summary.too_old += 1
            return
        sent = sent_message(senders[0][1], recipients, message.addressing(), raw, at)
        if sent is None:
            self.summary.unusable += 1
            return
        assert sent.key is not None
        if sent.key in self._keys or self.store.knows(sent.key):
            self.summary.duplicates += 1
            return
        self._keys.add(sent.key)
        self._batch.append(sent)
        self.summary.sightings += len(sent.sightings)
        self.summary.senders.add(sent.sender)
        if len(self._batch) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            new = self.store.record(self._batch)
            self.summary.messages += new
            self.summary.duplicates += len(self._batch) - new
        self._batch, self._keys = [], set()


def _date_of(value: object, now: float) -> float:
    """The Date: header as Unix time; missing, broken or future dates count as now."""
    if value is None:
        return now
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return now
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return min(parsed.timestamp(), now)
