"""The quarantine in SQL: ``quarantine.db`` in the data dir, or PostgreSQL shared by relays.

SQLite runs WAL with ``synchronous=FULL``: a committed hold is on disk before the
relay answers 250, and readers (the CLI, the web UI) never block the relay.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mailguard.db import Database, SQLiteDatabase
from mailguard.model import Action, Finding, RuleReason, Severity
from mailguard.quarantine.store import AuditEntry, HeldMessage, ReleaseRequest, Search, State

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
    # v3: the review UI: subject for the list, two-person release requests, and the
    # sender's "please review" from the notice link.
    """
    ALTER TABLE messages ADD COLUMN subject TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN request_by TEXT;
    ALTER TABLE messages ADD COLUMN request_reason TEXT;
    ALTER TABLE messages ADD COLUMN request_at REAL;
    ALTER TABLE messages ADD COLUMN review_requested INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_created ON messages (created_at);
    CREATE INDEX audit_at ON audit (seq DESC);
    """,
    # v4: message bytes in a table of their own, so listing and searching the
    # quarantine never reads (in SQLite: walks past) every held message's body.
    """
    CREATE TABLE contents (
        id TEXT PRIMARY KEY,
        content BLOB NOT NULL
    );
    INSERT INTO contents (id, content) SELECT id, content FROM messages WHERE content IS NOT NULL;
    ALTER TABLE messages DROP COLUMN content;
    """,
    # v5: every fired rule's reason for the reviewer; when a message was released, so
    # its content can be deleted after the retention time.
    """
    ALTER TABLE messages ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE messages ADD COLUMN released_at REAL;
    CREATE INDEX messages_released ON messages (state, released_at);
    """,
)

_COLUMNS = (
    "id, state, created_at, expires_at, mail_from, rcpt_tos, size, rules, rule, reason,"
    " release, policy_version, findings, smtputf8, subject, request_by, request_reason,"
    " request_at, review_requested, reasons, released_at"
)


class SQLStore:
    """The quarantine in SQL: SQLite in the data dir, or PostgreSQL shared by relays."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("quarantine", _MIGRATIONS)

    def add(self, held: HeldMessage, raw: bytes) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                f"INSERT INTO messages ({_COLUMNS}) VALUES ({','.join('?' * 21)})", _row(held)
            )
            tx.execute("INSERT INTO contents (id, content) VALUES (?, ?)", (held.id, raw))
            self._insert_audit(tx, held.id, "mailguard", "held", held.reason or held.rule)

    def get(self, message_id: str) -> HeldMessage | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        return _held(row) if row else None

    def content(self, message_id: str) -> bytes | None:
        row = self.db.execute("SELECT content FROM contents WHERE id = ?", (message_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def list(self, state: State | None = None, limit: int = 100) -> list[HeldMessage]:
        query = f"SELECT {_COLUMNS} FROM messages"
        args: tuple[object, ...] = ()
        if state is not None:
            query += " WHERE state = ?"
            args = (state.value,)
        query += " ORDER BY created_at DESC LIMIT ?"
        rows = self.db.execute(query, (*args, limit)).fetchall()
        return [_held(r) for r in rows]

    def search(self, search: Search) -> tuple[list[HeldMessage], int]:
        where, args = [], []
        if search.state is not None:
            where.append("state = ?")
            args.append(search.state.value)
        if search.rule:
            where.append("rule = ?")
            args.append(search.rule)
        if search.sender:
            where.append(f"lower(mail_from) {_LIKE}")
            args.append(f"%{_like(search.sender.lower())}%")
        if search.since is not None:
            where.append("created_at >= ?")
            args.append(search.since)
        if search.until is not None:
            where.append("created_at < ?")
            args.append(search.until)
        if search.text:
            columns = ("lower(id)", "lower(mail_from)", "lower(rcpt_tos)", "lower(subject)")
            where.append("(" + " OR ".join(f"{c} {_LIKE}" for c in columns) + ")")
            needle = f"%{_like(search.text.lower())}%"
            args.extend([needle] * 4)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self.db.session() as db:
            total = db.execute(f"SELECT count(*) FROM messages{clause}", args).fetchone()[0]
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM messages{clause}"
                " ORDER BY created_at DESC LIMIT ? OFFSET ?",
                (*args, search.limit, search.offset),
            ).fetchall()
        return [_held(r) for r in rows], int(total)

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

    def rules(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT rule FROM messages ORDER BY rule").fetchall()
        return [r[0] for r in rows]

    def set_request(self, message_id: str, request: ReleaseRequest | None) -> bool:
        if request is None:
            cur = self.db.execute(
                "UPDATE messages SET request_by = NULL, request_reason = NULL,"
                " request_at = NULL WHERE id = ? AND state = ?",
                (message_id, State.HELD.value),
            )
        else:
            cur = self.db.execute(
                "UPDATE messages SET request_by = ?, request_reason = ?, request_at = ?"
                " WHERE id = ? AND state = ? AND request_by IS NULL",
                (request.by, request.reason, request.at, message_id, State.HELD.value),
            )
        return cur.rowcount == 1

    def set_review_requested(self, message_id: str) -> bool:
        cur = self.db.execute(
            "UPDATE messages SET review_requested = 1 WHERE id = ? AND state = ?",
            (message_id, State.HELD.value),
        )
        return cur.rowcount == 1

    def transition(
        self, message_id: str, from_state: State, to_state: State, *, drop_content: bool = False
    ) -> bool:
        now = time.time()
        claimed = now if to_state is State.RELEASING else None
        released = now if to_state is State.RELEASED else None
        with self.db.transaction() as tx:
            cur = tx.execute(
                "UPDATE messages SET state = ?, claimed_at = ?, released_at = ?"
                " WHERE id = ? AND state = ?",
                (to_state.value, claimed, released, message_id, from_state.value),
            )
            moved = cur.rowcount == 1
            if moved and drop_content:
                tx.execute("DELETE FROM contents WHERE id = ?", (message_id,))
        return moved

    def interrupted_releases(self, claimed_before: float) -> list[str]:
        rows = self.db.execute(
            "SELECT id FROM messages WHERE state = ? AND claimed_at < ?",
            (State.RELEASING.value, claimed_before),
        ).fetchall()
        return [r[0] for r in rows]

    def audit(self, message_id: str, actor: str, action: str, reason: str) -> None:
        self._insert_audit(self.db, message_id, actor, action, reason)

    @staticmethod
    def _insert_audit(db: Database, message_id: str, actor: str, action: str, reason: str) -> None:
        db.execute(
            "INSERT INTO audit (message_id, at, actor, action, reason) VALUES (?,?,?,?,?)",
            (message_id, time.time(), actor, action, reason),
        )

    def audit_log(
        self,
        message_id: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        query = "SELECT message_id, at, actor, action, reason FROM audit"
        args: list[object] = []
        if message_id is not None:
            query += " WHERE message_id = ?"
            args.append(message_id)
        query += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        if limit is not None:
            query += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        rows = self.db.execute(query, args).fetchall()
        return [AuditEntry(*r) for r in rows]

    def released_content_before(self, before: float) -> list[str]:
        """Released messages whose content is still kept but was released before then."""
        rows = self.db.execute(
            "SELECT m.id FROM messages m JOIN contents c ON c.id = m.id"
            " WHERE m.state = ? AND m.released_at < ?",
            (State.RELEASED.value, before),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def drop_content(self, message_id: str) -> bool:
        cur = self.db.execute("DELETE FROM contents WHERE id = ?", (message_id,))
        return cur.rowcount == 1

    def due_to_expire(self, now: float) -> list[HeldMessage]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE state = ? AND expires_at <= ?",
            (State.HELD.value, now),
        ).fetchall()
        return [_held(r) for r in rows]

    def close(self) -> None:
        self.db.close()


class SQLiteStore(SQLStore):
    """The embedded default: ``quarantine.db`` in the data dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(SQLiteDatabase(path, synchronous="FULL"))


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
        h.subject,
        h.request.by if h.request else None,
        h.request.reason if h.request else None,
        h.request.at if h.request else None,
        int(h.review_requested),
        json.dumps([[r.rule, r.action.value, r.reason] for r in h.reasons]),
        h.released_at,
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
        subject,
        request_by,
        request_reason,
        request_at,
        review_requested,
        reasons,
        released_at,
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
        subject=str(subject or ""),
        request=ReleaseRequest(str(request_by), str(request_reason or ""), float(request_at))  # type: ignore[arg-type]
        if request_by
        else None,
        review_requested=bool(review_requested),
        reasons=tuple(
            RuleReason(rule, Action(action), why) for rule, action, why in json.loads(str(reasons))
        ),
        released_at=float(released_at) if released_at is not None else None,  # type: ignore[arg-type]
    )


_LIKE = "LIKE ? ESCAPE '\\'"


def _like(text: str) -> str:
    """Match ``%`` and ``_`` literally in a LIKE pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
