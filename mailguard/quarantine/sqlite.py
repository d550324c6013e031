"""The embedded quarantine: one SQLite file in the data dir.

WAL with ``synchronous=FULL``: a committed hold is on disk before the relay
answers 250, and readers (the CLI, the web UI) never block the relay.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from mailguard.model import Finding, Severity
from mailguard.quarantine.store import AuditEntry, HeldMessage, State
from mailguard.sqlite_db import migrate, open_db

# Each entry upgrades the schema by one version (PRAGMA user_version).
_MIGRATIONS = (
    """
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        mail_from TEXT NOT NULL,
        rcpt_tos TEXT NOT NULL,
        size INTEGER NOT NULL,
        rules TEXT NOT NULL,
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        release TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        findings TEXT NOT NULL,
        smtputf8 INTEGER NOT NULL DEFAULT 0,
        content BLOB
    );
    CREATE INDEX messages_state ON messages (state, created_at);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX audit_message ON audit (message_id, seq);
    """,
    # v2: when a release claimed the message, so an interrupted release can be undone.
    """
    ALTER TABLE messages ADD COLUMN claimed_at REAL;
    """,
)

_COLUMNS = (
    "id, state, created_at, expires_at, mail_from, rcpt_tos, size, rules, rule, reason,"
    " release, policy_version, findings, smtputf8"
)


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_db(path, synchronous="FULL")
        migrate(self._db, self._lock, _MIGRATIONS)

    def add(self, held: HeldMessage, raw: bytes) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    f"INSERT INTO messages ({_COLUMNS}, content)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*_row(held), raw),
                )
                self._insert_audit(held.id, "mailguard", "held", held.reason or held.rule)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def get(self, message_id: str) -> HeldMessage | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        return _held(row) if row else None

    def content(self, message_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT content FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def list(self, state: State | None = None, limit: int = 100) -> list[HeldMessage]:
        query = f"SELECT {_COLUMNS} FROM messages"
        args: tuple[object, ...] = ()
        if state is not None:
            query += " WHERE state = ?"
            args = (state.value,)
        query += " ORDER BY created_at DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*args, limit)).fetchall()
        return [_held(r) for r in rows]

    def transition(
        self, message_id: str, from_state: State, to_state: State, *, drop_content: bool = False
    ) -> bool:
        sql = "UPDATE messages SET state = ?, claimed_at = ?"
        if drop_content:
            sql += ", content = NULL"
        sql += " WHERE id = ? AND state = ?"
        claimed = time.time() if to_state is State.RELEASING else None
        with self._lock:
            cur = self._db.execute(sql, (to_state.value, claimed, message_id, from_state.value))
        return cur.rowcount == 1

    def interrupted_releases(self, claimed_before: float) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM messages WHERE state = ? AND claimed_at < ?",
                (State.RELEASING.value, claimed_before),
            ).fetchall()
        return [r[0] for r in rows]

    def audit(self, message_id: str, actor: str, action: str, reason: str) -> None:
        with self._lock:
            self._insert_audit(message_id, actor, action, reason)

    def _insert_audit(self, message_id: str, actor: str, action: str, reason: str) -> None:
        self._db.execute(
            "INSERT INTO audit (message_id, at, actor, action, reason) VALUES (?,?,?,?,?)",
            (message_id, time.time(), actor, action, reason),
        )

    def audit_log(self, message_id: str | None = None) -> list[AuditEntry]:
        query = "SELECT message_id, at, actor, action, reason FROM audit"
        args: tuple[object, ...] = ()
        if message_id is not None:
            query += " WHERE message_id = ?"
            args = (message_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [AuditEntry(*r) for r in rows]

    def due_to_expire(self, now: float) -> list[HeldMessage]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE state = ? AND expires_at <= ?",
                (State.HELD.value, now),
            ).fetchall()
        return [_held(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(h: HeldMessage) -> tuple[object, ...]:
    return (
        h.id,
        h.state.value,
        h.created_at,
        h.expires_at,
        h.mail_from,
        json.dumps(list(h.rcpt_tos)),
        h.size,
        json.dumps(list(h.rules)),
        h.rule,
        h.reason,
        h.release,
        h.policy_version,
        json.dumps([f.to_json() for f in h.findings]),
        int(h.smtputf8),
    )


def _held(row: tuple[object, ...]) -> HeldMessage:
    (
        mid,
        state,
        created,
        expires,
        mail_from,
        rcpts,
        size,
        rules,
        rule,
        reason,
        release,
        version,
        findings,
        smtputf8,
    ) = row
    return HeldMessage(
        id=str(mid),
        state=State(state),
        created_at=float(created),  # type: ignore[arg-type]
        expires_at=float(expires),  # type: ignore[arg-type]
        mail_from=str(mail_from),
        rcpt_tos=tuple(json.loads(str(rcpts))),
        size=int(size),  # type: ignore[call-overload]
        rules=tuple(json.loads(str(rules))),
        rule=str(rule),
        reason=str(reason),
        release=str(release),
        policy_version=str(version),
        findings=tuple(
            Finding(
                f["detector"],
                f["type"],
                f["count"],
                Severity(f["severity"]),
                f["where"],
                f["detail"],
            )
            for f in json.loads(str(findings))
        ),
        smtputf8=bool(smtputf8),
    )
