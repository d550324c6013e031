"""Incidents, their deletion requests and every change to them, in SQL (SQLite or the
shared PostgreSQL). Addresses are kept: an incident is about who received what."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mailguard.db import Database
from mailguard.ledger.store import LedgerFinding, finding_json

FILENAME = "incidents.db"

_MIGRATIONS = (
    """
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        opened_at REAL NOT NULL,
        opened_by TEXT NOT NULL,
        happened_at REAL NOT NULL,
        discovered_at REAL NOT NULL,
        queue_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipients TEXT NOT NULL,
        outside TEXT NOT NULL,
        action TEXT NOT NULL,
        rule TEXT NOT NULL,
        findings TEXT NOT NULL
    );
    CREATE TABLE deletion_requests (
        incident_id TEXT NOT NULL,
        recipient TEXT NOT NULL,
        sent_at REAL,
        confirmed_at REAL,
        confirmed_from TEXT,
        PRIMARY KEY (incident_id, recipient)
    );
    CREATE TABLE incident_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL,
        at REAL NOT NULL,
        who TEXT NOT NULL,
        what TEXT NOT NULL
    )
    """,
)


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    opened_at: float
    opened_by: str
    happened_at: float
    discovered_at: float
    queue_id: str
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    outside: tuple[str, ...]  # the recipients outside the council: whom to ask
    action: str
    rule: str
    findings: tuple[LedgerFinding, ...]


@dataclass(frozen=True, slots=True)
class DeletionRequest:
    recipient: str
    sent_at: float | None
    confirmed_at: float | None
    confirmed_from: str | None  # the confirming browser's address, or "phone: NAME"


@dataclass(frozen=True, slots=True)
class LogLine:
    at: float
    who: str
    what: str


class IncidentStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("incidents", _MIGRATIONS)

    def add(self, incident: Incident, who: str) -> None:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO incidents (id, opened_at, opened_by, happened_at, discovered_at,"
                " queue_id, message_id, sender, recipients, outside, action, rule, findings)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    incident.id, incident.opened_at, incident.opened_by, incident.happened_at,
                    incident.discovered_at, incident.queue_id, incident.message_id,
                    incident.sender, json.dumps(incident.recipients), json.dumps(incident.outside),
                    incident.action, incident.rule,
                    json.dumps([finding_json(f) for f in incident.findings]),
                ),
            )  # fmt: skip
            self._log(incident.id, who, "opened the incident")

    def get(self, incident_id: str) -> Incident | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        return _incident(row) if row else None

    def all(self) -> list[Incident]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM incidents ORDER BY opened_at DESC"
        ).fetchall()
        return [_incident(r) for r in rows]

    def requests(self, incident_id: str) -> list[DeletionRequest]:
        rows = self.db.execute(
            "SELECT recipient, sent_at, confirmed_at, confirmed_from FROM deletion_requests"
            " WHERE incident_id = ? ORDER BY recipient",
            (incident_id,),
        ).fetchall()
        return [DeletionRequest(*r) for r in rows]

    def requested(self, incident_id: str, recipient: str, who: str) -> None:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO deletion_requests (incident_id, recipient, sent_at) VALUES (?, ?, ?)"
                " ON CONFLICT (incident_id, recipient) DO UPDATE SET sent_at = excluded.sent_at",
                (incident_id, recipient, time.time()),
            )
            self._log(incident_id, who, f"asked {recipient} to delete the message")

    def confirmed(self, incident_id: str, recipient: str, source: str, who: str) -> bool:
        """Record that the recipient deleted it; False if it was confirmed before."""
        with self.db.transaction():
            done = self.db.execute(
                "UPDATE deletion_requests SET confirmed_at = ?, confirmed_from = ?"
                " WHERE incident_id = ? AND recipient = ? AND confirmed_at IS NULL",
                (time.time(), source, incident_id, recipient),
            ).rowcount
            if done:
                self._log(
                    incident_id, who, f"{recipient} confirmed deleting the message ({source})"
                )
        return bool(done)

    def log(self, incident_id: str) -> list[LogLine]:
        rows = self.db.execute(
            "SELECT at, who, what FROM incident_log WHERE incident_id = ? ORDER BY id",
            (incident_id,),
        ).fetchall()
        return [LogLine(*r) for r in rows]

    def _log(self, incident_id: str, who: str, what: str) -> None:
        self.db.execute(
            "INSERT INTO incident_log (incident_id, at, who, what) VALUES (?, ?, ?, ?)",
            (incident_id, time.time(), who, what),
        )

    def close(self) -> None:
        self.db.close()


def new_id(now: float) -> str:
    day = time.strftime("%Y%m%d", time.gmtime(now))
    return f"INC-{day}-{secrets.token_hex(3).upper()}"


_COLUMNS = (
    "id, opened_at, opened_by, happened_at, discovered_at, queue_id, message_id, sender,"
    " recipients, outside, action, rule, findings"
)


def _incident(row: Sequence[object]) -> Incident:
    return Incident(
        str(row[0]), float(row[1]), str(row[2]), float(row[3]), float(row[4]),  # type: ignore[arg-type]
        str(row[5]), str(row[6]), str(row[7]), tuple(json.loads(str(row[8]))),
        tuple(json.loads(str(row[9]))), str(row[10]), str(row[11]),
        tuple(LedgerFinding(*f) for f in json.loads(str(row[12]))),
    )  # fmt: skip
