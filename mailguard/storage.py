"""Where the relay's state lives: one place that opens each store for a setting.

SQLite files in the data dir by default (quarantine.db, history.db, users.db); with
``database: postgresql://...`` all three are tables in that database instead, so
several relays and review UIs share one quarantine, one history and one set of users.
"""

from __future__ import annotations

from pathlib import Path

from mailguard.config import Settings
from mailguard.db import PostgresDatabase, SQLiteDatabase
from mailguard.history.sqlite import FILENAME as HISTORY_FILE
from mailguard.history.sqlite import ReadOnlyHistory, SQLHistory, SQLiteHistory
from mailguard.quarantine.sqlite import SQLiteStore, SQLStore
from mailguard.web.accounts import FILENAME as USERS_FILE
from mailguard.web.accounts import UserStore

QUARANTINE_FILE = "quarantine.db"


def quarantine_store(settings: Settings) -> SQLStore:
    if settings.database:
        return SQLStore(PostgresDatabase(settings.database))
    return SQLiteStore(settings.data_dir / QUARANTINE_FILE)


def quarantine_exists(settings: Settings) -> bool:
    return bool(settings.database) or (settings.data_dir / QUARANTINE_FILE).exists()


def history_store(settings: Settings) -> SQLHistory:
    if settings.database:
        return SQLHistory(PostgresDatabase(settings.database), settings.history_max_age_days)
    return SQLiteHistory(settings.data_dir / HISTORY_FILE, settings.history_max_age_days)


def history_location(settings: Settings) -> str:
    """What an inspection worker opens (read-only): a file path or the database URL."""
    if settings.database:
        return settings.database
    return str((settings.data_dir / HISTORY_FILE).resolve())


def history_reader(location: str, max_age_days: int) -> ReadOnlyHistory | None:
    """A reader for ``history_location``; None when there is no history yet."""
    if location.startswith(("postgresql://", "postgres://")):
        db = PostgresDatabase(location)
        SQLHistory(db, max_age_days)  # makes sure the tables exist
        return ReadOnlyHistory(db, max_age_days)
    path = Path(location)
    if not path.exists():
        return None
    return ReadOnlyHistory(SQLiteDatabase(path, read_only=True), max_age_days)


def user_store(settings: Settings) -> UserStore:
    if settings.database:
        return UserStore(PostgresDatabase(settings.database))
    return UserStore(SQLiteDatabase(settings.data_dir / USERS_FILE, synchronous="FULL"))
