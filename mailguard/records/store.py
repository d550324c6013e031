"""Where imported tables live, and how a refreshed one takes over with no gap.

With SQLite (the default) the tables are files under ``DATA_DIR/records/``: one
directory per version, and a ``CURRENT`` file naming the version in force. An import
writes its version completely (fsync'd), then renames a new ``CURRENT`` into place:
a reader sees the old table or the new one, never neither and never half of one.

With PostgreSQL the files are also kept in the database (``records_tables``,
``records_files``), replaced in one transaction; each relay copies a new version into
its own ``DATA_DIR/records/`` and maps it from there. Every reader checks for a new
version at most every few seconds, so a nightly refresh needs no restart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from mailguard import log as mglog
from mailguard.db import PostgresDatabase, database_secret, private_dir, secret_file
from mailguard.records.index import Hasher, Match, Meta, TableIndex, match_parts
from mailguard.records.normalise import Kind, Values

log = mglog.get_logger()

DIRNAME = "records"
KEY_FILE = "records.key"
CURRENT = "CURRENT"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

_MIGRATIONS = (
    """
    CREATE TABLE records_tables (
        name TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        meta TEXT NOT NULL
    );
    CREATE TABLE records_files (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        file TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (name, version, file)
    )
    """,
)


class RecordsError(Exception):
    """A table that cannot be imported, read or found; the message is one clear line."""


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise RecordsError(
            f"table name {name!r}: use lower-case letters, digits, '-' and '_'"
            " (e.g. housing-tenants)"
        )
    return name


def new_version() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


class RecordsStore:
    """The tables of one site: ``DATA_DIR/records``, and PostgreSQL when relays share
    one (``database``)."""

    def __init__(self, data_dir: Path, database: str | None = None) -> None:
        self.data_dir = data_dir
        self.root = data_dir / DIRNAME
        self.database = database
        self._db: PostgresDatabase | None = None

    # --- the site key ------------------------------------------------------------------
    def key(self, *, create: bool = False) -> bytes:
        """The HMAC key; made by the first import, never by a reader."""
        if self.database:
            db = PostgresDatabase(self.database)
            try:
                return database_secret(db, "records_key", "records_key", create=create)
            finally:
                db.close()
        return secret_file(self.data_dir, KEY_FILE, create=create)

    # --- what is there -----------------------------------------------------------------
    def tables(self) -> list[Meta]:
        if self.database:
            with self._shared() as db:
                rows = db.execute("SELECT meta FROM records_tables ORDER BY name").fetchall()
            return [Meta.from_json(json.loads(r[0])) for r in rows]
        return [m for name in self._local_names() if (m := self._local_meta(name))]

    def get(self, name: str) -> Meta | None:
        return next((m for m in self.tables() if m.name == name), None)

    def _local_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / CURRENT).is_file())

    def _local_meta(self, name: str) -> Meta | None:
        version = _read_current(self.root / name)
        if version is None:
            return None
        try:
            return Meta.from_json(
                json.loads((self.root / name / version / "meta.json").read_text())
            )
        except (OSError, ValueError, KeyError):
            return None

    # --- writing -----------------------------------------------------------------------
    def staging(self, name: str, version: str) -> Path:
        """An empty private directory to build a version in."""
        private_dir(self.data_dir)
        private_dir(self.root)
        path = self.root / name / f".new-{version}"
        path.mkdir(mode=0o700, parents=True)
        return path

    def publish(self, meta: Meta, staged: Path) -> None:
        """Make ``staged`` the table's version in force, at once for every reader."""
        if self.database:
            self._upload(meta, staged)
        final = self.root / meta.name / meta.version
        staged.rename(final)
        _fsync_dir(final.parent)
        _write_current(self.root / meta.name, meta.version)
        self._prune(meta.name, keep=meta.version)

    def drop(self, name: str) -> bool:
        found = False
        if self.database:
            with self._shared() as db, db.transaction():
                found = (
                    db.execute("DELETE FROM records_tables WHERE name = ?", (name,)).rowcount > 0
                )
                db.execute("DELETE FROM records_files WHERE name = ?", (name,))
        folder = self.root / name
        if (folder / CURRENT).exists():
            found = True
            (folder / CURRENT).unlink()  # readers stop using it now; the files follow
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        return found

    def abandon(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)
        with contextlib.suppress(OSError):
            staged.parent.rmdir()  # only when nothing else is in it

    def _prune(self, name: str, keep: str) -> None:
        """Older versions: a reader that still maps one keeps its pages until it
        lets go (the file is unlinked, not overwritten)."""
        for path in (self.root / name).iterdir():
            if path.is_dir() and path.name != keep and not path.name.startswith(".new-"):
                shutil.rmtree(path, ignore_errors=True)

    # --- PostgreSQL --------------------------------------------------------------------
    @contextlib.contextmanager
    def _shared(self):  # type: ignore[no-untyped-def]
        """The shared database, connected and migrated once per store (a relay's
        worker asks it for new versions every few seconds)."""
        assert self.database
        if self._db is None:
            db = PostgresDatabase(self.database)
            try:
                db.migrate("records", _MIGRATIONS)
            except BaseException:
                db.close()
                raise
            self._db = db
        yield self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _upload(self, meta: Meta, staged: Path) -> None:
        with self._shared() as db, db.transaction():
            for path in sorted(staged.iterdir()):
                db.execute(
                    "INSERT INTO records_files (name, version, file, data) VALUES (?, ?, ?, ?)",
                    (meta.name, meta.version, path.name, path.read_bytes()),
                )
            db.execute(
                "INSERT INTO records_tables (name, version, meta) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET version = excluded.version,"
                " meta = excluded.meta",
                (meta.name, meta.version, json.dumps(meta.to_json())),
            )
            db.execute(
                "DELETE FROM records_files WHERE name = ? AND version <> ?",
                (meta.name, meta.version),
            )

    def sync_from_database(self) -> None:
        """Copy versions this relay lacks from PostgreSQL; forget dropped tables."""
        if not self.database:
            return
        with self._shared() as db:
            wanted = dict(db.execute("SELECT name, version FROM records_tables").fetchall())
            for name, version in wanted.items():
                if _read_current(self.root / name) == version:
                    continue
                staged = self.staging(name, f"{version}-{secrets.token_hex(2)}")
                try:
                    files = db.execute(
                        "SELECT file, data FROM records_files WHERE name = ? AND version = ?",
                        (name, version),
                    ).fetchall()
                    for file, data in files:
                        (staged / file).write_bytes(bytes(data))
                    final = self.root / name / version
                    try:
                        staged.rename(final)
                    except OSError:
                        if not final.is_dir():
                            raise
                        self.abandon(staged)  # another worker of this relay was first
                    _write_current(self.root / name, version)
                    self._prune(name, keep=version)
                except OSError:
                    self.abandon(staged)
                    raise
        for name in self._local_names():
            if name not in wanted:
                self.drop_local(name)

    def drop_local(self, name: str) -> None:
        folder = self.root / name
        with contextlib.suppress(FileNotFoundError):
            (folder / CURRENT).unlink()
        shutil.rmtree(folder, ignore_errors=True)


def _read_current(folder: Path) -> str | None:
    try:
        return (folder / CURRENT).read_text().strip() or None
    except OSError:
        return None


def _write_current(folder: Path, version: str) -> None:
    tmp = folder / f".{CURRENT}-{secrets.token_hex(4)}"
    with open(tmp, "w") as fh:
        fh.write(version)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / CURRENT)
    _fsync_dir(folder)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RecordsReader:
    """The tables in force, as one worker or ``check`` sees them; ``refresh`` picks up
    a new version (or a dropped table) at most every ``interval`` seconds."""

    def __init__(self, store: RecordsStore, *, interval: float = 5.0) -> None:
        self.store = store
        self.interval = interval
        self._tables: dict[str, TableIndex] = {}
        self._checked = float("-inf")
        self._hasher: Hasher | None = None
        self._warned = False

    @property
    def tables(self) -> list[TableIndex]:
        return list(self._tables.values())

    def active(self) -> bool:
        """Is any table in force? (Checked first, so mail costs nothing without one.)

        Tables without their key (``records.key`` removed) match nothing and say so in
        the log: holding every outgoing message for it would be worse."""
        self.refresh()
        if not self._tables:
            return False
        if self._hasher is None:
            try:
                self._hasher = Hasher(self.store.key(create=False))
            except OSError as exc:
                if not self._warned:
                    log.error("records_key_missing", error=str(exc), tables=len(self._tables))
                    self._warned = True
                return False
        return True

    def kinds(self) -> frozenset[Kind]:
        """What the tables in force hold: the message is only read for those."""
        return frozenset().union(*(t.kinds for t in self._tables.values()))

    def find(self, parts: dict[str, Values]) -> list[Match]:
        """Rows of every table in force found in these parts' values."""
        if not self.active():
            return []
        assert self._hasher is not None
        return match_parts(self.tables, self._hasher, parts)

    def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.interval:
            return
        self._checked = now
        try:
            self.store.sync_from_database()
        except Exception as exc:  # the shared database is away: keep the tables we have
            log.error("records_sync_failed", error=f"{type(exc).__name__}: {exc}")
        present: dict[str, TableIndex] = {}
        for name in self.store._local_names():
            version = _read_current(self.store.root / name)
            loaded = self._tables.get(name)
            if loaded is not None and loaded.meta.version == version:
                present[name] = loaded
                continue
            with contextlib.suppress(OSError, ValueError, KeyError):
                present[name] = TableIndex(self.store.root / name / str(version))
        self._tables = present
