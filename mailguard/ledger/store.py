"""Every decision the relay makes, one row a message, kept ``ledger_retention_days``.

A row holds when, the relay's queue id, the Message-ID, the sender and recipients
(personal data, kept for incident response only as long as the retention), the action
(and the monitor-mode would-action), the rules, the finding types with their counts
and masked details, the size and the policy version. Never a subject, a file name or
any of the content: a finding's place is kept as its kind (body, attachment, quoted).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mailguard.db import Database
from mailguard.model import Finding

FILENAME = "ledger.db"
DAY = 86400.0

_MIGRATIONS = (
    """
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        queue_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipients TEXT NOT NULL,
        action TEXT NOT NULL,
        would_action TEXT,
        rules TEXT NOT NULL,
        rule TEXT NOT NULL,
        findings TEXT NOT NULL,
        size INTEGER NOT NULL,
        policy_version TEXT NOT NULL
    );
    CREATE INDEX decisions_at ON decisions (at);
    CREATE INDEX decisions_message_id ON decisions (message_id);
    CREATE INDEX decisions_queue_id ON decisions (queue_id)
    """,
)


@dataclass(frozen=True, slots=True)
class LedgerFinding:
    detector: str
    type: str
    count: int
    severity: str
    where: str  # body, attachment, quoted...: never a file name
    detail: str  # masked by the detector
    table: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    at: float
    queue_id: str
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    action: str
    would_action: str | None
    rules: tuple[str, ...]
    rule: str
    findings: tuple[LedgerFinding, ...]
    size: int
    policy_version: str


_PART_NAME = re.compile(r"attachment:.*?(?=, e\.g\.|[;)]|$)", re.M)


def without_names(detail: str) -> str:
    """A finding's detail with the attachment's name taken out ("... of attachment:John
    Smith care plan.pdf, e.g. ..." is "... of attachment, e.g. ...")."""
    return _PART_NAME.sub("attachment", detail)


def finding_of(f: Finding) -> LedgerFinding:
    """A finding as the ledger keeps it: no file name in its place or its detail."""
    return LedgerFinding(
        f.detector, f.type, f.count, f.severity.value, where_kind(f.where),
        without_names(f.detail), f.table,
    )  # fmt: skip


def where_kind(where: str) -> str:
    """ "attachment:John Smith care plan.pdf#ocr" is kept as "attachment"."""
    return where.split(":", 1)[0].split("#", 1)[0] or "body"


class Ledger:
    def __init__(self, db: Database, retention_days: int = 90) -> None:
        self.db = db
        self.retention_days = retention_days
        db.migrate("ledger", _MIGRATIONS)

    def add(self, entries: Sequence[Entry]) -> None:
        rows = [
            (
                e.at, e.queue_id, e.message_id, e.sender, json.dumps(e.recipients),
                e.action, e.would_action, json.dumps(e.rules), e.rule,
                json.dumps([finding_json(f) for f in e.findings]), e.size, e.policy_version,
            )
            for e in entries
        ]  # fmt: skip
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO decisions (at, queue_id, message_id, sender, recipients, action,"
                " would_action, rules, rule, findings, size, policy_version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def since(self, when: float) -> list[Entry]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM decisions WHERE at >= ? ORDER BY at", (when,)
        ).fetchall()
        return [_entry(r) for r in rows]

    def find(self, *, message_id: str | None = None, queue_id: str | None = None) -> list[Entry]:
        """The decisions about one message, by the id its sender or Postfix's log has."""
        if message_id is not None:
            wanted = message_id.strip()
            bare = wanted.strip("<>")
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM decisions WHERE message_id IN (?, ?) ORDER BY at",
                (f"<{bare}>", bare),
            ).fetchall()
        else:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM decisions WHERE queue_id = ? ORDER BY at", (queue_id,)
            ).fetchall()
        return [_entry(r) for r in rows]

    def prune(self, now: float | None = None) -> int:
        """Forget decisions older than the retention (recipients are personal data)."""
        cutoff = (now if now is not None else time.time()) - self.retention_days * DAY
        return self.db.execute("DELETE FROM decisions WHERE at < ?", (cutoff,)).rowcount

    def close(self) -> None:
        self.db.close()


_COLUMNS = (
    "at, queue_id, message_id, sender, recipients, action, would_action, rules, rule,"
    " findings, size, policy_version"
)


def finding_json(f: LedgerFinding) -> list[object]:
    return [f.detector, f.type, f.count, f.severity, f.where, f.detail, f.table]


def _entry(row: Sequence[object]) -> Entry:
    at, queue_id, message_id, sender, recipients, action, would, rules, rule = row[:9]
    findings, size, version = row[9:]
    return Entry(
        float(at),  # type: ignore[arg-type]
        str(queue_id),
        str(message_id),
        str(sender),
        tuple(json.loads(str(recipients))),
        str(action),
        str(would) if would else None,
        tuple(json.loads(str(rules))),
        str(rule),
        tuple(LedgerFinding(*f) for f in json.loads(str(findings))),
        int(size),  # type: ignore[call-overload]
        str(version),
    )
