"""The relay's side of the ledger: decisions noted on the event loop, written in
batches from a thread, so recording never delays a reply."""

from __future__ import annotations

import re

from mailguard.batches import Batches
from mailguard.ledger.store import Entry, Ledger, finding_of
from mailguard.model import Envelope, Inspection

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
        tuple(finding_of(f) for f in inspection.findings),
        len(raw),
        decision.policy_version,
    )


class LedgerRecorder(Batches[Entry]):
    def __init__(self, ledger: Ledger, *, interval: float = 1.0) -> None:
        super().__init__(ledger.add, "ledger_write_failed", limit=MAX_PENDING, interval=interval)
