"""The relay's side of learning: note every delivered message, write in batches.

Learning must never slow or endanger mail: noting is an in-memory append, the
write happens in a thread once a second, and a failed write is logged and
dropped (history is a hint, not a record).
"""

from __future__ import annotations

import time

from mailguard.batches import Batches
from mailguard.history.learn import sent_message
from mailguard.history.model import SentMessage
from mailguard.history.store import HistoryStore
from mailguard.model import Addressing, Envelope

MAX_PENDING = 20_000  # messages; if writes stall, the oldest are dropped


class HistoryRecorder(Batches[SentMessage]):
    def __init__(self, store: HistoryStore, *, interval: float = 1.0) -> None:
        super().__init__(store.record, "history_write_failed", limit=MAX_PENDING,
                         interval=interval)  # fmt: skip
        self.store = store

    def note_message(self, envelope: Envelope, raw: bytes, addressing: Addressing) -> None:
        """Remember who this delivered message went to. Bounces teach nothing."""
        if not envelope.mail_from:
            return
        sent = sent_message(envelope.mail_from, envelope.rcpt_tos, addressing, raw, time.time())
        if sent is not None:
            self.note(sent)
