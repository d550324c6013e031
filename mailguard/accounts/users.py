"""Reviewer accounts and login sessions, in ``users.db`` in the data dir.

Passwords are argon2id hashes. Sessions are random tokens kept server-side (only a
hash is stored), so logging out, disabling a user or changing their password ends
their sessions at once, which a signed-cookie session cannot do.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mailguard.db import Database
from mailguard.quarantine.service import Actor, Role

FILENAME = "users.db"
MIN_PASSWORD = 12
STAFF_ROLES = (Role.REVIEWER, Role.APPROVER, Role.ADMIN, Role.DPO)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")

_MIGRATIONS = (
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password TEXT NOT NULL,
        created_at REAL NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
        token BLOB PRIMARY KEY,
        name TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX sessions_by_name ON sessions (name);
    """,
    # v2: every change to an account, by whom; and when each user got their role,
    # so a right granted after a release was asked for cannot approve it.
    """
    CREATE TABLE user_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        name TEXT NOT NULL,
        change TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX user_changes_at ON user_changes (seq DESC);
    ALTER TABLE users ADD COLUMN role_since REAL;
    UPDATE users SET role_since = created_at;
    """,
    # v3: failed logins, shared by every UI process and kept across restarts.
    """
    CREATE TABLE login_failures (
        account TEXT NOT NULL,
        client TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX login_failures_key ON login_failures (account, client, at);
    """,
    # v4: accounts that sign in through the council's directory or an OpenID provider;
    # they have no password here and their role follows their groups.
    """
    ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
    """,
)
LOCAL = "local"
EXTERNAL_SOURCES = ("directory", "oidc")


class AccountError(Exception):
    """A user-management request that cannot be done (exists, unknown, weak password)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    created_at: float
    disabled: bool = False
    role_since: float | None = None  # when the current role was given (None: at creation)
    source: str = LOCAL  # or how they sign in: "directory" (a bind), "oidc"

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role, since=self.role_since or self.created_at)


@dataclass(frozen=True, slots=True)
class UserChange:
    """One line of the user-management audit: who changed which account, and how."""

    at: float
    actor: str
    name: str
    change: str  # added, role, disabled, enabled, password
    detail: str


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf: str
    expires_at: float


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("users", _MIGRATIONS)
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    # --- users -----------------------------------------------------------------------

    def add(self, name: str, role: Role, password: str, *, by: str) -> User:
        """``by``: who made the change, for the audit (an account or a shell user)."""
        if not _NAME.match(name):
            raise AccountError("a user name is 2-64 letters, digits, '.', '_', '@' or '-'")
        if role not in STAFF_ROLES:
            raise AccountError("role must be reviewer, approver or admin")
        _check_password(password)
        user = User(name, role, time.time())
        with self.db.transaction() as tx:
            cur = tx.execute(
                "INSERT INTO users (name, role, password, created_at, role_since)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (name, role.value, self._hasher.hash(password), user.created_at, user.created_at),
            )
            if cur.rowcount == 1:
                _record(tx, by, name, "added", role.value, user.created_at)
        if cur.rowcount != 1:
            raise AccountError(f"user {name} exists already")
        return user

    def sign_in_external(self, name: str, role: Role, source: str) -> User:
        """The account of someone the directory or the OpenID provider vouched for,
        made on first sign-in and given the role their groups map to now. A local
        account of that name is never taken over; one an admin disabled stays so."""
        if source not in EXTERNAL_SOURCES:
            raise AccountError(f"unknown sign-in source {source}")
        if role not in STAFF_ROLES:
            raise AccountError("role must be reviewer, approver, admin or dpo")
        now = time.time()
        with self.db.transaction() as tx:
            row = tx.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                # Not an argon2 hash: a password login to this account always fails.
                tx.execute(
                    "INSERT INTO users (name, role, password, created_at, role_since, source)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (name, role.value, f"!{source}", now, now, source),
                )
                _record(tx, source, name, "added", role.value, now)
                return User(name, role, now, False, now, source)
            user = _user(row)
            if user.source == LOCAL:
                raise AccountError(f"{name} is a local account: sign in with its password")
            if user.source != source:  # never one identity taking over another's account
                raise AccountError(f"{name} signs in through the {user.source}, not this way")
            if user.disabled:
                raise AccountError(f"{name} was disabled in mailguard by an admin")
            if user.role is not role:
                tx.execute(
                    "UPDATE users SET role = ?, role_since = ? WHERE name = ?",
                    (role.value, now, name),
                )
                _record(tx, source, name, "role", role.value, now)
                return User(name, role, user.created_at, False, now, source)
            return user

    def end_sessions(self, name: str) -> None:
        """Someone the directory no longer vouches for: signed out everywhere."""
        self.db.execute("DELETE FROM sessions WHERE name = ?", (name,))

    def get(self, name: str) -> User | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        return _user(row) if row else None

    def list(self) -> list[User]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name").fetchall()
        return [_user(r) for r in rows]

    def set_password(self, name: str, password: str, *, by: str) -> None:
        _check_password(password)
        self._update(name, "password = ?", (self._hasher.hash(password),), by, "password", "")

    def set_role(self, name: str, role: Role, *, by: str) -> None:
        if role not in STAFF_ROLES:
            raise AccountError("role must be reviewer, approver or admin")
        user = self.get(name)
        if user is not None and user.source != LOCAL:
            raise AccountError(f"{name}'s role follows their groups (settings: roles)")
        self._update(
            name, "role = ?, role_since = ?", (role.value, time.time()), by, "role", role.value
        )

    def set_disabled(self, name: str, disabled: bool, *, by: str) -> None:
        change = "disabled" if disabled else "enabled"
        self._update(name, "disabled = ?", (int(disabled),), by, change, "")

    def changes(self, limit: int = 500) -> list[UserChange]:
        """The user-management audit, newest first."""
        rows = self.db.execute(
            "SELECT at, actor, name, change, detail FROM user_changes ORDER BY seq DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [UserChange(float(r[0]), *(str(v) for v in r[1:])) for r in rows]

    def _update(
        self,
        name: str,
        assignment: str,
        values: tuple[object, ...],
        by: str,
        change: str,
        detail: str,
    ) -> None:
        with self.db.transaction() as tx:
            cur = tx.execute(f"UPDATE users SET {assignment} WHERE name = ?", (*values, name))
            # Any change to who someone is or what they may do ends their sessions.
            tx.execute("DELETE FROM sessions WHERE name = ?", (name,))
            if cur.rowcount == 1:
                _record(tx, by, name, change, detail, time.time())
        if cur.rowcount != 1:
            raise AccountError(f"no user {name}")

    def verify(self, name: str, password: str) -> User | None:
        """The user, if the password is right and the account enabled; else None.

        An unknown name costs the same hash as a known one, so timing tells nothing.
        """
        row = self.db.execute(
            f"SELECT {_COLUMNS}, password FROM users WHERE name = ?", (name,)
        ).fetchone()
        stored = row[6] if row else self._dummy
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row[3]:
            return None
        if self._hasher.check_needs_rehash(stored):
            self.db.execute(
                "UPDATE users SET password = ? WHERE name = ?", (self._hasher.hash(password), name)
            )
        return _user(row[:6])

    # --- sessions --------------------------------------------------------------------

    def start_session(self, user: User, hours: float) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(user, secrets.token_urlsafe(24), now + hours * 3600)
        self.db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
        self.db.execute(
            "INSERT INTO sessions (token, name, csrf, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (_digest(token), user.name, session.csrf, now, session.expires_at),
        )
        return token, session

    def session(self, token: str) -> Session | None:
        row = self.db.execute(
            "SELECT u.name, u.role, u.created_at, u.disabled, u.role_since, u.source, s.csrf,"
            " s.expires_at FROM sessions s JOIN users u ON u.name = s.name WHERE s.token = ?",
            (_digest(token),),
        ).fetchone()
        if row is None or row[3] or row[7] < time.time():
            return None
        return Session(_user(row[:6]), row[6], row[7])

    def end_session(self, token: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE token = ?", (_digest(token),))

    def close(self) -> None:
        self.db.close()


class LoginThrottle:
    """At most ``limit`` failed logins for one account from one client in ``window``
    seconds; further attempts from there are refused without checking the password.

    Keyed on account *and* client: one person's typos, or an attacker guessing one
    account from one place, never lock out a colleague behind the same proxy or the
    same person at another desk. Kept in the database, so every UI process (and a
    restart) sees the same count. Guessing stays slow anyway: each try costs an
    argon2 hash, and each client address has a connection cap.
    """

    def __init__(self, db: Database, limit: int = 5, window: float = 900.0) -> None:
        self.db = db
        self.limit = limit
        self.window = window

    def attempt(self, account: str, client: str) -> bool:
        """Count this attempt *before* the password is checked, then say whether it may
        go on: parallel requests (or two UI processes) get no extra guesses, since
        each one sees the others' attempts as well as its own."""
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM login_failures WHERE at < ?", (now - self.window,))
            tx.execute(
                "INSERT INTO login_failures (account, client, at) VALUES (?, ?, ?)",
                (account.lower(), client, now),
            )
        return self._count(account, client) <= self.limit

    def blocked(self, account: str, client: str) -> bool:
        return self._count(account, client) >= self.limit

    def _count(self, account: str, client: str) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM login_failures WHERE account = ? AND client = ? AND at > ?",
            (account.lower(), client, time.time() - self.window),
        ).fetchone()
        return int(row[0])

    def succeeded(self, account: str, client: str) -> None:
        """A right password: this account's count from this client starts again."""
        self.db.execute(
            "DELETE FROM login_failures WHERE account = ? AND client = ?",
            (account.lower(), client),
        )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_COLUMNS = "name, role, created_at, disabled, role_since, source"


def _user(row: tuple[object, ...]) -> User:
    name, role, created, disabled, since, source = row
    return User(
        str(name),
        Role(role),
        float(created),  # type: ignore[arg-type]
        bool(disabled),
        float(since) if since is not None else None,  # type: ignore[arg-type]
        str(source),
    )


def _record(tx: Database, by: str, name: str, change: str, detail: str, at: float) -> None:
    tx.execute(
        "INSERT INTO user_changes (at, actor, name, change, detail) VALUES (?, ?, ?, ?, ?)",
        (at, by, name, change, detail),
    )
