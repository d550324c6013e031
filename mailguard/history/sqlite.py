"""The embedded history: ``history.db`` in the data dir.

Writes come in batches from the relay (or ``history learn``); readers are the
inspection workers and ``check``, each with a read-only connection. History is a
hint, not a record, so ``synchronous=NORMAL``: a power cut may lose the last batch.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

from mailguard.history.model import FREQUENT, Contact, HistoryStats, SenderProfile, SentMessage
from mailguard.history.store import DEFAULT_MAX_AGE_DAYS
from mailguard.model import domain_of
from mailguard.sqlite_db import migrate, open_db, open_read_only

FILENAME = "history.db"
MAX_FREQUENT = 1000  # contacts compared for near misses; a shared mailbox has more
FREQUENT_TTL = 60.0  # seconds a worker reuses a sender's frequent contacts
FREQUENT_SENDERS = 256
CACHE_FROM = 200  # frequent contacts; fewer are read fresh for every message

_MIGRATIONS = (
    """
    CREATE TABLE senders (
        sender TEXT PRIMARY KEY,
        messages INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE contacts (
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        name TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        PRIMARY KEY (sender, recipient)
    ) WITHOUT ROWID;
    CREATE INDEX contacts_by_count ON contacts (sender, count DESC);
    CREATE INDEX contacts_by_recipient ON contacts (recipient);
    CREATE INDEX contacts_by_age ON contacts (last_seen);
    CREATE TABLE domains (
        sender TEXT NOT NULL,
        domain TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        PRIMARY KEY (sender, domain)
    ) WITHOUT ROWID;
    CREATE INDEX domains_by_domain ON domains (domain);
    CREATE TABLE learned (
        key BLOB PRIMARY KEY,
        at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
)

_UPSERT_CONTACT = """
    INSERT INTO contacts (sender, recipient, name, count, first_seen, last_seen)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (sender, recipient) DO UPDATE SET
        count = count + excluded.count,
        name = CASE WHEN excluded.name != '' AND excluded.last_seen >= last_seen
                    THEN excluded.name ELSE name END,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen)
"""

_UPSERT_DOMAIN = """
    INSERT INTO domains (sender, domain, count, first_seen, last_seen)
    VALUES (?, ?, 1, ?, ?)
    ON CONFLICT (sender, domain) DO UPDATE SET
        count = count + 1,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen)
"""

_UPSERT_SENDER = """
    INSERT INTO senders (sender, messages, first_seen, last_seen)
    VALUES (?, 1, ?, ?)
    ON CONFLICT (sender) DO UPDATE SET
        messages = messages + 1,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen)
"""


class SQLiteHistory:
    """Read-write history for the relay and ``history learn``."""

    def __init__(self, path: Path, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.path = path
        self.max_age = max_age_days * 86400.0
        self._lock = threading.Lock()
        self._db = open_db(path, synchronous="NORMAL")
        migrate(self._db, self._lock, _MIGRATIONS)

    def record(self, messages: Iterable[SentMessage]) -> int:
        new = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for message in messages:
                    if message.key is not None and not self._claim(message.key, message.at):
                        continue  # learned before: from the relay, or an earlier run
                    self._add(message)
                    new += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return new

    def _claim(self, key: bytes, at: float) -> bool:
        cur = self._db.execute("INSERT OR IGNORE INTO learned (key, at) VALUES (?, ?)", (key, at))
        return cur.rowcount == 1

    def _add(self, message: SentMessage) -> None:
        at = message.at
        for s in message.sightings:
            self._db.execute(
                _UPSERT_CONTACT, (message.sender, s.recipient, s.name, message.weight, at, at)
            )
        # A domain counts once per message, however many recipients it had there.
        for domain in {domain_of(s.recipient) for s in message.sightings}:
            self._db.execute(_UPSERT_DOMAIN, (message.sender, domain, at, at))
        self._db.execute(_UPSERT_SENDER, (message.sender, at, at))

    def knows(self, key: bytes) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM learned WHERE key = ?", (key,)).fetchone()
        return row is not None

    def prune(self, now: float) -> int:
        before = now - self.max_age
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = 0
                for table in ("contacts", "domains", "senders", "learned"):
                    column = "at" if table == "learned" else "last_seen"
                    cur = self._db.execute(f"DELETE FROM {table} WHERE {column} < ?", (before,))
                    removed += cur.rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return removed

    def forget(self, address: str) -> int:
        address = address.lower()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = 0
                for sql, args in (
                    ("DELETE FROM contacts WHERE sender = ? OR recipient = ?", (address, address)),
                    ("DELETE FROM domains WHERE sender = ?", (address,)),
                    ("DELETE FROM senders WHERE sender = ?", (address,)),
                ):
                    removed += self._db.execute(sql, args).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return removed

    def stats(self) -> HistoryStats:
        with self._lock:
            return _stats(self._db)

    def profile(self, sender: str, recipients: Sequence[str]) -> SenderProfile:
        since = time.time() - self.max_age
        with self._lock:
            found = read_profile(self._db, sender, recipients, since)
        load = found.frequent_loader
        assert load is not None

        def locked() -> tuple[Contact, ...]:
            with self._lock:
                return load()

        return dataclasses.replace(found, frequent_loader=locked)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class ReadOnlyHistory:
    """What workers and ``check`` use: they read the relay's history, never write it."""

    def __init__(self, path: Path, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.path = path
        self.max_age = max_age_days * 86400.0
        self._db = open_read_only(path)
        self._frequent: OrderedDict[str, tuple[float, tuple[Contact, ...]]] = OrderedDict()

    def profile(self, sender: str, recipients: Sequence[str]) -> SenderProfile:
        found = read_profile(self._db, sender, recipients, time.time() - self.max_age)
        load = found.frequent_loader
        assert load is not None
        key = found.sender

        def cached() -> tuple[Contact, ...]:
            # A shared mailbox sends all day to thousands: its frequent contacts change
            # slowly, so a worker keeps them for a minute instead of reading them each time.
            now = time.monotonic()
            hit = self._frequent.get(key)
            if hit is not None and hit[0] > now:
                self._frequent.move_to_end(key)
                return hit[1]
            contacts = load()
            if len(contacts) >= CACHE_FROM:  # small lists are cheap and should be fresh
                self._frequent[key] = (now + FREQUENT_TTL, contacts)
                self._frequent.move_to_end(key)
                while len(self._frequent) > FREQUENT_SENDERS:
                    self._frequent.popitem(last=False)
            return contacts

        return dataclasses.replace(found, frequent_loader=cached)

    def stats(self) -> HistoryStats:
        return _stats(self._db)

    def close(self) -> None:
        self._db.close()


def read_profile(
    db: sqlite3.Connection, sender: str, recipients: Sequence[str], since: float
) -> SenderProfile:
    sender = sender.lower()
    rcpts = sorted({r.lower() for r in recipients})
    rdomains = sorted({domain_of(r) for r in rcpts})
    row = db.execute(
        "SELECT messages FROM senders WHERE sender = ? AND last_seen >= ?", (sender, since)
    ).fetchone()
    messages = row[0] if row else 0
    marks = ",".join("?" * len(rcpts))
    dmarks = ",".join("?" * len(rdomains))
    known = {
        r: Contact(r, n, c, t)
        for r, n, c, t in db.execute(
            "SELECT recipient, name, count, last_seen FROM contacts"
            f" WHERE sender = ? AND recipient IN ({marks}) AND last_seen >= ?",
            (sender, *rcpts, since),
        )
    }

    def frequent() -> tuple[Contact, ...]:
        rows = db.execute(
            "SELECT recipient, name, count, last_seen FROM contacts"
            " WHERE sender = ? AND count >= ? AND last_seen >= ? ORDER BY count DESC LIMIT ?",
            (sender, FREQUENT, since, MAX_FREQUENT),
        ).fetchall()
        return tuple(Contact(*row) for row in rows)

    domains = dict(
        db.execute(
            "SELECT domain, count FROM domains"
            f" WHERE sender = ? AND domain IN ({dmarks}) AND last_seen >= ?",
            (sender, *rdomains, since),
        ).fetchall()
    )
    frequent_domains = tuple(
        d
        for (d,) in db.execute(
            "SELECT domain FROM domains WHERE sender = ? AND count >= ? AND last_seen >= ?"
            " ORDER BY count DESC LIMIT 100",
            (sender, FREQUENT, since),
        )
    )
    org_domains = dict(
        db.execute(
            f"SELECT domain, sum(count) FROM domains WHERE domain IN ({dmarks})"
            " AND last_seen >= ? GROUP BY domain",
            (*rdomains, since),
        ).fetchall()
    )
    names: dict[str, str] = {}
    for r, n in db.execute(
        f"SELECT recipient, name FROM contacts WHERE recipient IN ({marks})"
        " AND name != '' AND last_seen >= ? ORDER BY last_seen",
        (*rcpts, since),
    ):
        names[r] = n  # the most recent name wins
    return SenderProfile(
        sender,
        messages,
        known,
        (),
        domains,
        frequent_domains,
        org_domains,
        names,
        frequent_loader=frequent,
    )


def _stats(db: sqlite3.Connection) -> HistoryStats:
    senders = db.execute("SELECT count(*) FROM senders").fetchone()[0]
    contacts, oldest, newest = db.execute(
        "SELECT count(*), min(last_seen), max(last_seen) FROM contacts"
    ).fetchone()
    domains = db.execute("SELECT count(DISTINCT domain) FROM domains").fetchone()[0]
    return HistoryStats(senders, contacts, domains, oldest, newest)
