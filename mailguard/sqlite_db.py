"""Opening and migrating the embedded SQLite databases (quarantine, history)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path


def open_db(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """A WAL connection usable from one thread at a time (guard it with a lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Held mail and who-writes-to-whom are personal data: owner only. SQLite gives
        # the -wal and -shm files the database file's permissions.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA busy_timeout=10000")
    return db


def open_read_only(path: Path) -> sqlite3.Connection:
    """For readers that must never write (``check``, inspection workers)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=2000")
    return db


def migrate(db: sqlite3.Connection, lock: threading.Lock, migrations: Sequence[str]) -> None:
    """Bring the schema up to date; each entry upgrades it by one ``user_version``."""
    with lock:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for n, script in enumerate(migrations[version:], start=version + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={n}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
