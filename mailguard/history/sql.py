"""The history in SQL: ``history.db`` in the data dir, or PostgreSQL shared by relays.

Writes come in batches from the relay (or ``history learn``); readers are the
inspection workers and ``check``, each with a connection of its own (read-only for
SQLite). History is a hint, not a record, so SQLite runs ``synchronous=NORMAL``: a
power cut may lose the last batch.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

from mailguard.addresses import domain_of
from mailguard.db import Database, PostgresDatabase, SQLiteDatabase, is_url
from mailguard.history.model import FREQUENT, Contact, HistoryStats, SenderProfile, SentMessage
from mailguard.history.store import DEFAULT_MAX_AGE_DAYS

FILENAME = "history.db"
MAX_FREQUENT = 1000  # contacts compared for near misses; a shared mailbox has more
FREQUENT_TTL = 60.0  # seconds a worker reuses a sender's frequent contacts
FREQUENT_SENDERS = 256
CACHE_FROM = 200  # frequent contacts; fewer are read fresh for every message
ORG_DOMAINS_KEPT = 4096

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
    # Domains a reviewer released a sender's mail to: real for that sender even when
    # they resemble another. Mail flow alone never puts a domain here.
    """
    CREATE TABLE confirmed_domains (
        sender TEXT NOT NULL,
        domain TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (sender, domain)
    ) WITHOUT ROWID;
    """,
)


def _upserts(db: Database) -> tuple[str, str, str]:
    """Counting upserts; two-argument min/max is spelt differently in each dialect."""
    least, greatest = db.least, db.greatest
    contact = f"""
        INSERT INTO contacts (sender, recipient, name, count, first_seen, last_seen)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (sender, recipient) DO UPDATE SET
            count = contacts.count + excluded.count,
            name = CASE WHEN excluded.name != '' AND excluded.last_seen >= contacts.last_seen
                        THEN excluded.name ELSE contacts.name END,
            first_seen = {least}(contacts.first_seen, excluded.first_seen),
            last_seen = {greatest}(contacts.last_seen, excluded.last_seen)
    """
    domain = f"""
        INSERT INTO domains (sender, domain, count, first_seen, last_seen)
        VALUES (?, ?, 1, ?, ?)
        ON CONFLICT (sender, domain) DO UPDATE SET
            count = domains.count + 1,
            first_seen = {least}(domains.first_seen, excluded.first_seen),
            last_seen = {greatest}(domains.last_seen, excluded.last_seen)
    """
    sender = f"""
        INSERT INTO senders (sender, messages, first_seen, last_seen)
        VALUES (?, 1, ?, ?)
        ON CONFLICT (sender) DO UPDATE SET
            messages = senders.messages + 1,
            first_seen = {least}(senders.first_seen, excluded.first_seen),
            last_seen = {greatest}(senders.last_seen, excluded.last_seen)
    """
    return contact, domain, sender


class SQLHistory:
    """Read-write history for the relay and ``history learn``, in SQLite or PostgreSQL."""

    def __init__(self, db: Database, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.db = db
        self.max_age = max_age_days * 86400.0
        db.migrate("history", _MIGRATIONS)
        self._contact, self._domain, self._sender = _upserts(db)

    def record(self, messages: Iterable[SentMessage]) -> int:
        contacts: list[tuple[object, ...]] = []
        domains: list[tuple[object, ...]] = []
        confirmed: list[tuple[object, ...]] = []
        senders: list[tuple[object, ...]] = []
        with self.db.transaction() as tx:
            for message in messages:
                if message.key is not None and not self._claim(tx, message.key, message.at):
                    continue  # learned before: from the relay, or an earlier run
                at = message.at
                for s in message.sightings:
                    contacts.append((message.sender, s.recipient, s.name, message.weight, at, at))
                # A domain counts once per message, however many recipients it had there.
                for domain in sorted({domain_of(s.recipient) for s in message.sightings}):
                    domains.append((message.sender, domain, at, at))
                    if message.confirmed:
                        confirmed.append((message.sender, domain, at))
                senders.append((message.sender, at, at))
            # Each table's rows in one call, in the batch's order (the tables do not
            # depend on each other): a statement per row cost twice as much.
            tx.executemany(self._contact, contacts)
            tx.executemany(self._domain, domains)
            tx.executemany(
                "INSERT INTO confirmed_domains (sender, domain, at) VALUES (?, ?, ?)"
                " ON CONFLICT (sender, domain) DO UPDATE SET at = excluded.at",
                confirmed,
            )
            tx.executemany(self._sender, senders)
        return len(senders)

    @staticmethod
    def _claim(tx: Database, key: bytes, at: float) -> bool:
        cur = tx.execute(
            "INSERT INTO learned (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, at)
        )
        return cur.rowcount == 1

    def knows(self, key: bytes) -> bool:
        row = self.db.execute("SELECT 1 FROM learned WHERE key = ?", (key,)).fetchone()
        return row is not None

    def prune(self, now: float) -> int:
        before = now - self.max_age
        removed = 0
        with self.db.transaction() as tx:
            for table in ("contacts", "domains", "senders", "learned"):
                column = "at" if table == "learned" else "last_seen"
                removed += tx.execute(f"DELETE FROM {table} WHERE {column} < ?", (before,)).rowcount
        return removed

    def forget(self, address: str) -> int:
        address = address.lower()
        removed = 0
        with self.db.transaction() as tx:
            for sql, args in (
                ("DELETE FROM contacts WHERE sender = ? OR recipient = ?", (address, address)),
                ("DELETE FROM domains WHERE sender = ?", (address,)),
                ("DELETE FROM senders WHERE sender = ?", (address,)),
            ):
                removed += tx.execute(sql, args).rowcount
        return removed

    def stats(self) -> HistoryStats:
        with self.db.session() as db:
            return _stats(db)

    def profile(self, sender: str, recipients: Sequence[str]) -> SenderProfile:
        since = time.time() - self.max_age
        with self.db.reading() as db:
            found = read_profile(db, sender, recipients, since)
        load = found.frequent_loader
        assert load is not None

        def locked() -> tuple[Contact, ...]:
            with self.db.session():
                return load()

        return dataclasses.replace(found, frequent_loader=locked)

    def close(self) -> None:
        self.db.close()


class SQLiteHistory(SQLHistory):
    """The embedded default: ``history.db`` in the data dir."""

    def __init__(self, path: Path, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.path = path
        super().__init__(SQLiteDatabase(path, synchronous="NORMAL"), max_age_days)


class ReadOnlyHistory:
    """What workers and ``check`` use: they read the relay's history, never write it."""

    def __init__(self, source: Path | Database, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.db = source if isinstance(source, Database) else SQLiteDatabase(source, read_only=True)
        self.max_age = max_age_days * 86400.0
        self._frequent: OrderedDict[str, tuple[float, tuple[Contact, ...]]] = OrderedDict()
        self._org_domains = OrgDomainCounts()

    def profile(self, sender: str, recipients: Sequence[str]) -> SenderProfile:
        with self.db.reading() as db:
            found = read_profile(
                db, sender, recipients, time.time() - self.max_age, self._org_domains
            )
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
            with self.db.session():
                contacts = load()
            if len(contacts) >= CACHE_FROM:  # small lists are cheap and should be fresh
                self._frequent[key] = (now + FREQUENT_TTL, contacts)
                self._frequent.move_to_end(key)
                while len(self._frequent) > FREQUENT_SENDERS:
                    self._frequent.popitem(last=False)
            return contacts

        return dataclasses.replace(found, frequent_loader=cached)

    def stats(self) -> HistoryStats:
        with self.db.session() as db:
            return _stats(db)

    def close(self) -> None:
        self.db.close()


class OrgDomainCounts:
    """How many messages the whole council sent to a domain, kept a minute once above 0.

    Summing every sender's row for gmail.com or nhs.net costs as many rows as there are
    staff, on every message. A domain someone wrote to stays written to (only "never"
    decides anything), so a count above 0 may be a minute old; 0 is always read fresh.
    """

    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def read(self, db: Database, domains: Sequence[str], since: float) -> dict[str, int]:
        now = time.monotonic()
        counts: dict[str, int] = {}
        for domain in domains:
            hit = self._kept.get(domain)
            if hit is not None and hit[0] > now:
                counts[domain] = hit[1]
        todo = [d for d in domains if d not in counts]
        if todo:
            fresh = _org_domain_counts(db, todo, since)
            for domain, count in fresh.items():
                if count > 0:
                    self._kept[domain] = (now + FREQUENT_TTL, count)
                    self._kept.move_to_end(domain)
            while len(self._kept) > ORG_DOMAINS_KEPT:
                self._kept.popitem(last=False)
            counts.update(fresh)
        return counts


def _org_domain_counts(db: Database, domains: Sequence[str], since: float) -> dict[str, int]:
    marks = ",".join("?" * len(domains))
    return dict(
        db.execute(
            f"SELECT domain, sum(count) FROM domains WHERE domain IN ({marks})"
            " AND last_seen >= ? GROUP BY domain",
            (*domains, since),
        ).fetchall()
    )


def read_profile(
    db: Database,
    sender: str,
    recipients: Sequence[str],
    since: float,
    org_domains: OrgDomainCounts | None = None,
) -> SenderProfile:
    sender = sender.lower()
    rcpts = sorted({r.lower() for r in recipients})
    rdomains = sorted({domain_of(r) for r in rcpts})
    row = db.execute(
        "SELECT messages FROM senders WHERE sender = ? AND last_seen >= ?", (sender, since)
    ).fetchone()
    messages = row[0] if row else 0
    marks = ",".join("?" * len(rcpts)) or "NULL"  # PostgreSQL has no empty IN ()
    dmarks = ",".join("?" * len(rdomains)) or "NULL"
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
    org_counts = (org_domains or OrgDomainCounts()).read(db, rdomains, since)
    confirmed = frozenset(
        d
        for (d,) in db.execute(
            f"SELECT domain FROM confirmed_domains WHERE sender = ? AND domain IN ({dmarks})",
            (sender, *rdomains),
        )
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
        org_counts,
        names,
        frequent_loader=frequent,
        confirmed_domains=confirmed,
    )


def _stats(db: Database) -> HistoryStats:
    senders = db.execute("SELECT count(*) FROM senders").fetchone()[0]
    contacts, oldest, newest = db.execute(
        "SELECT count(*), min(last_seen), max(last_seen) FROM contacts"
    ).fetchone()
    domains = db.execute("SELECT count(DISTINCT domain) FROM domains").fetchone()[0]
    return HistoryStats(senders, contacts, domains, oldest, newest)


def location(data_dir: Path, database: str | None) -> str:
    """Where the history is, as a worker opens it: a file path or the database URL."""
    return database if database else str((data_dir / FILENAME).resolve())


def open_reader(where: str, max_age_days: int) -> ReadOnlyHistory | None:
    """A reader for ``location``; None when there is no history yet."""
    if is_url(where):
        db = PostgresDatabase(where)
        db.migrate("history", _MIGRATIONS)  # a relay may not have made the tables yet
        return ReadOnlyHistory(db, max_age_days)
    path = Path(where)
    if not path.exists():
        return None
    return ReadOnlyHistory(SQLiteDatabase(path, read_only=True), max_age_days)
