"""The relay's side of the ledger: decisions noted on the event loop, written in
batches from a thread, so recording never delays a reply."""

from __future__ import annotations

import asyncio
import re

from mailguard import log as mglog
from mailguard.ledger.store import Entry, Ledger, LedgerFinding, where_kind, without_names
from mailguard.model import Envelope, Inspection

log = mglog.get_logger()

MAX_PENDING = 50_000  # a ledger that cannot be written is not allowed to eat memory
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(\S+)")


def entry_of(queue_id: str, envelope: Envelope, raw: bytes, inspection: Inspection,
             at: float) -> Entry:  # fmt: skip
    decision = inspection.decision
    head = raw[: raw.find(b"\r\n\r\n")] if b"\r\n\r\n" in raw else raw[:16384]
    found = _MESSAGE_ID.search(head)
    return Entry(
        at,
        queue_id,
        found.group(1).decode("ascii", "replace")[:500] if found else "",
        envelope.mail_from,
        tuple(envelope.rcpt_tos),
        decision.action.value,
        decision.would_action.value if decision.would_action else None,
        tuple(decision.rules),
        decision.rule,
        tuple(
            LedgerFinding(
                f.detector,
                f.type,
                f.count,
                f.severity.value,
                where_kind(f.where),
                without_names(f.detail),
                f.table,
            )
            for f in inspection.findings
        ),
        len(raw),
        decision.policy_version,
    )


class LedgerRecorder:
    def __init__(self, ledger: Ledger, *, interval: float = 1.0) -> None:
        self.ledger = ledger
        self.interval = interval
        self._pending: list[Entry] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def note(self, entry: Entry) -> None:
        self._pending.append(entry)
        if len(self._pending) > MAX_PENDING:
            del self._pending[0]
            self.dropped += 1

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await asyncio.to_thread(self.ledger.add, batch)
        except Exception as exc:
            log.error(
                "ledger_write_failed", error=f"{type(exc).__name__}: {exc}", messages=len(batch)
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.flush()
