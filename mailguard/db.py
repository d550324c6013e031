"""One small layer over SQLite and PostgreSQL, so each store is written once.

Stores write portable SQL with ``?`` placeholders; PostgreSQL gets ``%s``. Schema
scripts are written for SQLite and translated (types, ``WITHOUT ROWID``). Each store
is a component with its own schema version: SQLite keeps one file per component
(``PRAGMA user_version``), PostgreSQL one table ``mailguard_schema`` for all, migrated
under an advisory lock so two relays starting together never migrate twice.

A connection is used by one thread at a time (a lock), which is what the relay needs:
short statements, the slow ones moved to a thread by the caller.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol


class DatabaseUnavailable(OSError):
    """The shared database cannot be reached: every caller answers with a 4xx or exits."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Database:
    dialect: str = ""
    least = "min"  # two-argument min/max: SQLite's scalar min(), PostgreSQL's LEAST()
    greatest = "max"

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        with self._lock:
            return self._execute(sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows (a batch of history), in one call."""
        if rows:
            with self._lock:
                self._executemany(sql, rows)

    @contextlib.contextmanager
    def session(self) -> Iterator[Database]:
        """Several statements with nobody else's in between (no transaction)."""
        with self._lock:
            yield self

    @contextlib.contextmanager
    def reading(self) -> Iterator[Database]:
        """Several reads together; where it costs nothing extra (SQLite), from one
        snapshot of the database."""
        with self.session() as db:
            yield db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        with self._lock:
            self._begin()
            try:
                yield self
            except BaseException:
                self._rollback()
                raise
            self._commit()

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _execute(self, sql: str, args: Sequence[Any]) -> Cursor:
        raise NotImplementedError

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _begin(self) -> None:
        self._execute("BEGIN", ())

    def _commit(self) -> None:
        self._execute("COMMIT", ())

    def _rollback(self) -> None:
        self._execute("ROLLBACK", ())


def private_dir(path: Path) -> int | None:
    """Make the data directory, owner only (0700): held mail, history and accounts are
    personal data. An existing one open to others is tightened: its old mode is returned
    for the caller to log."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        path.chmod(0o700)
        return mode
    return None


def secret_file(data_dir: Path, filename: str, *, create: bool = True) -> bytes:
    """A site secret kept in the data dir, owner only, made on first use (None of it
    is ever logged). ``create=False``: a reader that finds none gets ``FileNotFoundError``."""
    path = data_dir / filename
    if not path.exists() and create:
        private_dir(data_dir)
        # Written whole to a private temporary file, then linked into place: a reader
        # never sees an empty or half-written secret, and of two racing writers one wins.
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_hex(32).encode())
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    secret = path.read_bytes().strip()
    if len(secret) < 32:
        raise OSError(f"{path} holds no usable secret (under 32 bytes): remove it to make one")
    return secret


def database_secret(db: Database, component: str, table: str, *, create: bool = True) -> bytes:
    """A site secret kept in the shared database, so every relay and UI agrees on it."""
    db.migrate(component, (f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, secret TEXT NOT NULL)",))
    if create:
        db.execute(
            f"INSERT INTO {table} (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
            (secrets.token_hex(32),),
        )
    row = db.execute(f"SELECT secret FROM {table} WHERE id = 1").fetchone()
    if row is None:
        raise FileNotFoundError(f"no {table} in the database yet")
    return str(row[0]).encode()


class SQLiteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: Path, *, synchronous: str = "FULL", read_only: bool = False) -> None:
        super().__init__()
        self.path = path
        if read_only:  # for readers that must never write (check, inspection workers)
            uri = f"{path.resolve().as_uri()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=2000")
            return
        private_dir(path.parent)
        if not path.exists():
            # Held mail and who-writes-to-whom are personal data: owner only. SQLite
            # gives the -wal and -shm files the database file's permissions.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=10000")

    def _execute(self, sql: str, args: Sequence[Any]) -> Cursor:
        return self._db.execute(sql, tuple(args))

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")  # take the write lock now, not half-way

    @contextlib.contextmanager
    def reading(self) -> Iterator[Database]:
        """One read transaction: in WAL mode each statement outside one takes and drops
        its own snapshot, which costs more than the statement (7 reads: 50 µs to 38 µs)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for n, script in enumerate(migrations[version:], start=version + 1):
                with self.transaction():
                    for statement in _statements(script):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={n}")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresDatabase(Database):
    """Shared by several relays and UIs; reconnects after the server went away."""

    dialect = "postgresql"
    least = "LEAST"
    greatest = "GREATEST"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._conn: Any = None
        self._connect()

    def _connect(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as exc:
                why = " ".join(str(exc).split())  # one line, for logs and exit messages
                raise DatabaseUnavailable(f"cannot connect to the database: {why}") from None
        return self._conn

    def _execute(self, sql: str, args: Sequence[Any]) -> Cursor:
        conn = self._connect()
        try:
            return conn.execute(_pg(sql), tuple(args))
        except Exception:
            if conn.broken and conn.info.transaction_status == 0:  # idle: safe to retry
                return self._connect().execute(_pg(sql), tuple(args))
            raise

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._connect().cursor() as cursor:  # psycopg pipelines the rows
            cursor.executemany(_pg(sql), [tuple(r) for r in rows])

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        with self.transaction():
            self._execute("SELECT pg_advisory_xact_lock(7305311)", ())
            self._execute(
                "CREATE TABLE IF NOT EXISTS mailguard_schema"
                " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
                (),
            )
            row = self._execute(
                "SELECT version FROM mailguard_schema WHERE component = ?", (component,)
            ).fetchone()
            version = row[0] if row else 0
            for n, script in enumerate(migrations[version:], start=version + 1):
                for statement in _statements(script):
                    self._execute(_pg_ddl(statement), ())
                self._execute(
                    "INSERT INTO mailguard_schema (component, version) VALUES (?, ?)"
                    " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                    (component, n),
                )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def is_url(database: str | None) -> bool:
    return bool(database) and str(database).startswith(("postgresql://", "postgres://"))


def open_database(
    database: str | None, data_dir: Path, filename: str, **sqlite_options: Any
) -> Database:
    """``--database postgresql://...`` for shared state; otherwise a file in the data dir."""
    if database and is_url(database):
        return PostgresDatabase(database)
    return SQLiteDatabase(data_dir / filename, **sqlite_options)


def _statements(script: str) -> list[str]:
    return [s for s in (part.strip() for part in script.split(";")) if s]


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


_DDL = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\)\s*WITHOUT ROWID"), ")"),
)


def _pg_ddl(statement: str) -> str:
    for pattern, replacement in _DDL:
        statement = pattern.sub(replacement, statement)
    return statement
