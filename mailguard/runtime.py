"""The one place a mailguard process is assembled: ``build(settings) -> Runtime``.

``serve``, the review UI, ``check``, ``policy test`` and every other command get
their stores, upstream pool, DNS checker, sender links and inspection context from
here, so no two of them can open the same thing differently. Everything is opened
on first use: ``quarantine list`` never dials the upstream, ``check`` never opens the
quarantine.

Where state lives: SQLite files in the data dir by default (quarantine.db,
history.db, users.db, secret.key); with ``database: postgresql://...`` all of them
are tables in that database instead, so several relays and review UIs share one
quarantine, one history, one set of users and one link secret.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Callable
from functools import cached_property
from typing import Any

from mailguard.accounts import users as accounts
from mailguard.config import Settings
from mailguard.db import Database, PostgresDatabase, open_database
from mailguard.delivery.upstream import UpstreamPool, config_from
from mailguard.directory.model import NO_DIRECTORY, DirectoryAnswers
from mailguard.directory.service import Directory
from mailguard.history import sql as history_sql
from mailguard.history.learn import learn_released
from mailguard.incidents import store as incidents_store
from mailguard.incidents.service import Incidents
from mailguard.incidents.store import IncidentStore
from mailguard.inspection.context import InspectionContext, directory_addresses
from mailguard.inspection.dns import DomainChecker
from mailguard.ledger import store as ledger_store
from mailguard.ledger.store import Ledger
from mailguard.metrics import Metrics
from mailguard.model import Envelope
from mailguard.policy.loader import LoadedPolicy
from mailguard.policy.schema import Policy
from mailguard.quarantine import links as sender_links
from mailguard.quarantine import sql as quarantine_sql
from mailguard.quarantine.service import QuarantineService
from mailguard.records.store import RecordsStore

QUARANTINE_FILE = "quarantine.db"

LivePolicy = Callable[[], LoadedPolicy | None]


class Runtime:
    """What one process (or one thread: the UI has its own) works with.

    A context manager: leaving it closes whatever was opened (``aclose`` on the event
    loop that used the upstream pool and the DNS checker).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        live_policy: LivePolicy = lambda: None,
        metrics: Metrics | None = None,
        upstream_connections: int | None = None,
    ) -> None:
        self.settings = settings
        self.live_policy = live_policy  # the policy in force now (the relay's, on reload)
        self.metrics = metrics or Metrics()
        self.inspection = InspectionContext.from_settings(settings)
        self._upstream_connections = upstream_connections
        self._opened: list[Any] = []

    def sibling(self, *, upstream_connections: int | None = None) -> Runtime:
        """Same settings, policy, metrics and sender links; connections of its own
        (for the UI's thread and event loop)."""
        other = Runtime(
            self.settings,
            live_policy=self.live_policy,
            metrics=self.metrics,
            upstream_connections=upstream_connections,
        )
        if "links" in self.__dict__:
            other.__dict__["links"] = self.links  # one secret lookup, not two
        return other

    def policy(self) -> Policy:
        """The rules and organisation in force, or an empty policy when none is."""
        loaded = self.live_policy()
        return loaded.policy if loaded else Policy()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- stores ----------------------------------------------------------------------
    def _database(self, filename: str, **sqlite_options: Any) -> Database:
        s = self.settings
        return open_database(s.database, s.data_dir, filename, **sqlite_options)

    def quarantine_exists(self) -> bool:
        s = self.settings
        return bool(s.database) or (s.data_dir / QUARANTINE_FILE).exists()

    def users_exist(self) -> bool:
        s = self.settings
        return bool(s.database) or (s.data_dir / accounts.FILENAME).exists()

    @cached_property
    def quarantine_store(self) -> quarantine_sql.SQLStore:
        store = quarantine_sql.SQLStore(self._database(QUARANTINE_FILE, synchronous="FULL"))
        self._opened.append(store)
        return store

    @cached_property
    def history(self) -> history_sql.SQLHistory:
        db = self._database(history_sql.FILENAME, synchronous="NORMAL")
        store = history_sql.SQLHistory(db, self.settings.history_max_age_days)
        self._opened.append(store)
        return store

    @cached_property
    def users(self) -> accounts.UserStore:
        store = accounts.UserStore(self._database(accounts.FILENAME, synchronous="FULL"))
        self._opened.append(store)
        return store

    @cached_property
    def links(self) -> sender_links.SenderLinks:
        """Signed links in hold notices; the secret is shared through the database."""
        return sender_links.SenderLinks(self._secret(), web_url(self.settings))

    def site_secret(self) -> bytes:
        """The site's signing secret (sender links, deletion requests, sign-in state)."""
        return self._secret()

    def _secret(self) -> bytes:
        """The site secret that signs links (hold notices, deletion requests)."""
        if "_site_secret" not in self.__dict__:
            s = self.settings
            if s.database:
                db = PostgresDatabase(s.database)
                try:
                    self.__dict__["_site_secret"] = sender_links.shared_secret(db)
                finally:
                    db.close()
            else:
                self.__dict__["_site_secret"] = sender_links.load_secret(s.data_dir)
        return self.__dict__["_site_secret"]

    @cached_property
    def ledger(self) -> Ledger:
        """Every decision the relay made (no content), for reports and incidents."""
        db = self._database(ledger_store.FILENAME, synchronous="NORMAL")
        store = Ledger(db, self.settings.ledger_retention_days)
        self._opened.append(store)
        return store

    def incidents_exist(self) -> bool:
        s = self.settings
        return bool(s.database) or (s.data_dir / incidents_store.FILENAME).exists()

    def ledger_exists(self) -> bool:
        s = self.settings
        return bool(s.database) or (s.data_dir / ledger_store.FILENAME).exists()

    @cached_property
    def incidents(self) -> Incidents:
        """Breach incidents: found in the ledger (or the quarantine), with their pack."""
        store = IncidentStore(self._database(incidents_store.FILENAME, synchronous="FULL"))
        self._opened.append(store)
        return Incidents(
            store,
            self.ledger,
            self.quarantine_store if self.quarantine_exists() else None,
            self._secret(),
            web_url(self.settings),
            self.policy,
        )

    @cached_property
    def records(self) -> RecordsStore:
        """The council's imported tables (keyed hashes): files in the data dir, and
        PostgreSQL too when relays share one."""
        store = RecordsStore(self.settings.data_dir, self.settings.database)
        self._opened.append(store)
        return store

    # --- services --------------------------------------------------------------------
    @cached_property
    def upstream(self) -> UpstreamPool:
        overrides = {}
        if self._upstream_connections is not None:
            overrides["max_connections"] = self._upstream_connections
        return UpstreamPool(config_from(self.settings, **overrides))

    @cached_property
    def quarantine(self) -> QuarantineService:
        """The quarantine, able to deliver releases through the upstream pool."""
        return self._quarantine(self.upstream)

    @cached_property
    def quarantine_offline(self) -> QuarantineService:
        """The same service with no upstream: listing, showing, rejecting or expiring
        held mail never depends on the upstream's settings (its TLS CA file, say)."""
        return self._quarantine(None)

    def _quarantine(self, upstream: UpstreamPool | None) -> QuarantineService:
        learn = self._learn_released if self.settings.history_learn else None
        return QuarantineService(
            self.quarantine_store, upstream, on_released=learn, policy=self.policy
        )

    def _learn_released(self, envelope: Envelope, raw: bytes, by_reviewer: bool) -> None:
        """Someone confirmed these recipients were meant: the history learns them (and,
        when a reviewer did, that their domains are real even if they look like others)."""
        learn_released(self.history, envelope, raw, confirmed=by_reviewer)

    @cached_property
    def directory(self) -> Directory | None:
        """The council's directory, when the settings name one (opened on first use)."""
        if self.settings.directory is None:
            return None
        directory = Directory(self.settings.directory, metrics=self.metrics)
        self._opened.append(directory)
        return directory

    def directory_answers(
        self, policy: LoadedPolicy | None, envelope: Envelope
    ) -> DirectoryAnswers:
        """What ``check`` and ``replay`` learn from the directory, as ``serve`` does."""
        if self.directory is None:
            return NO_DIRECTORY
        return self.directory.answers_now(directory_addresses(policy, envelope))

    @cached_property
    def dns(self) -> DomainChecker:
        return self.inspection.dns_checker()

    # --- closing ---------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close what was opened, on the event loop that used it."""
        if "upstream" in self.__dict__:
            await self.upstream.close()
        if "dns" in self.__dict__:
            await self.dns.aclose()
        self.close()

    def close(self) -> None:
        while self._opened:
            self._opened.pop().close()


def build(settings: Settings, *, live_policy: LivePolicy = lambda: None) -> Runtime:
    """The runtime for one process; ``live_policy`` says which policy is in force."""
    return Runtime(settings, live_policy=live_policy)


def web_url(settings: Settings) -> str:
    """The review UI's address as senders' links name it."""
    if settings.web_url:
        return settings.web_url.rstrip("/")
    if settings.web is None:
        return ""
    host, port = settings.web
    scheme = "https" if settings.web_tls_cert else "http"
    return f"{scheme}://{host}:{port}"


def sender_link_problem(settings: Settings) -> str | None:
    """Why hold notices cannot carry a link a sender could open, if they cannot: a
    link to this machine's loopback only works on the mail server itself."""
    if settings.web is None:
        return None
    url = web_url(settings)
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
        unspecified = False
    else:
        loopback, unspecified = address.is_loopback, address.is_unspecified
    if not (loopback or unspecified):
        return None
    if settings.web_url:
        return f"web_url {url} names this machine only: senders' browsers cannot open it"
    return (
        f"web_url is not set and the UI listens on {host}: set web_url to the address"
        " staff reach the UI at (e.g. https://mailguard.council.example)"
    )
