"""The listening relay: who may connect, limits, timeouts and graceful shutdown."""

from __future__ import annotations

import asyncio
import ipaddress
import resource
import signal
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Session

from mailguard import __version__, pipeline
from mailguard import logging as mglog
from mailguard.actions.execute import Actions
from mailguard.config import Settings
from mailguard.delivery.upstream import UpstreamPool, UpstreamTransaction, config_from
from mailguard.detectors import unroutable
from mailguard.domain_check import DomainChecker, answers_for
from mailguard.history.recorder import HistoryRecorder
from mailguard.metrics import Metrics
from mailguard.model import domain_of
from mailguard.policy.engine import detectors_needed
from mailguard.policy.facts import in_domains
from mailguard.policy.loader import LoadedPolicy, PolicyError, load_policy
from mailguard.policy.schema import Policy
from mailguard.quarantine.service import QuarantineService
from mailguard.smtp import replies
from mailguard.smtp.handler import RelayHandler
from mailguard.smtp.replies import Reply
from mailguard.storage import history_location, history_store, quarantine_store
from mailguard.web.app import WebContext
from mailguard.web.server import WebServer, review_context, sender_links
from mailguard.workers import InspectionPool

log = mglog.get_logger()

NO_POLICY = LoadedPolicy(Policy(), (), "")


class RelaySession(Session):
    """aiosmtpd's session plus the upstream side of the current transaction."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.txn: UpstreamTransaction | None = None
        self.in_data = False

    @property
    def busy(self) -> bool:
        return self.txn is not None or self.in_data


class RelaySMTP(SMTP):
    """aiosmtpd's protocol with the guarantees a relay in the mail path needs.

    - clients outside the allow-list or arriving during shutdown get 421 and nothing else;
    - any exception becomes 451 (aiosmtpd's default is a 500, i.e. a bounce);
    - DATA has its own total time limit, and the idle timer stops while we process;
    - an abandoned transaction (RSET, EHLO, disconnect) is reset upstream too.
    """

    # RFC 5321 allows 1000 octets per line, but Exchange and scripts send longer ones and
    # Postfix accepts them; refusing with aiosmtpd's "500 Line too long" would bounce mail.
    # 1 MiB: a base64 attachment sent without line breaks fits; the buffer stays bounded.
    line_length_limit = 1024 * 1024

    def __init__(self, handler: RelayHandler, relay: Relay, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._relay = relay
        self._refused = False
        self._close_after_reply = False

    # --- connection gate -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # a new connection, not the STARTTLS upgrade
            refusal = self._relay.refusal_for(transport.get_extra_info("peername"))
            if refusal is not None:
                self._refused = True
                transport.write(f"{refusal}\r\n".encode())  # type: ignore[attr-defined]
                transport.close()
                return
            self._relay.sessions.add(self)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        return False if self._refused else super().eof_received()

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self._relay.sessions.discard(self)
        self._abort_transaction()
        super().connection_lost(error)

    # --- sessions and transactions ---------------------------------------------------
    def _create_session(self) -> RelaySession:
        return RelaySession(self.loop)

    def _create_envelope(self) -> Any:
        # aiosmtpd makes a new envelope on RSET, HELO/EHLO, STARTTLS and after DATA:
        # whatever transaction was open upstream is over too.
        self._abort_transaction()
        return super()._create_envelope()

    def _abort_transaction(self) -> None:
        session = self.session
        if isinstance(session, RelaySession) and session.txn is not None:
            txn, session.txn = session.txn, None
            self._relay.spawn(txn.abort())

    @property
    def busy(self) -> bool:
        return isinstance(self.session, RelaySession) and self.session.busy

    async def handle_exception(self, error: Exception) -> str:
        log.error("session_error", error=type(error).__name__, detail=str(error))
        self._abort_transaction()
        self._set_rset_state()
        return str(replies.INTERNAL_ERROR)

    async def push(self, status: Any) -> None:
        await super().push(status)
        if self._close_after_reply and self.transport is not None:
            self.transport.close()

    def close_after_reply(self) -> None:
        self._close_after_reply = True

    def say_goodbye(self, reply: Reply) -> None:
        if self.transport is not None:
            self._writer.write(f"{reply}\r\n".encode())
            self.transport.close()

    # --- timeouts --------------------------------------------------------------------
    async def smtp_DATA(self, arg: str) -> None:
        self._reset_timeout(self._relay.settings.data_timeout)
        await super().smtp_DATA(arg)

    def _timeout_cb(self) -> None:
        log.info("client_timeout")
        if self.transport is not None:
            self._writer.write(f"{replies.TIMEOUT}\r\n".encode())
        super()._timeout_cb()

    def pause_timeout(self) -> None:
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()

    def resume_timeout(self) -> None:
        if self.transport is not None:
            self._reset_timeout()


class Relay:
    """Owns the listener, the upstream pool and the inspection workers."""

    def __init__(
        self,
        settings: Settings,
        inspector: InspectionPool | None = None,
        policy: LoadedPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.sessions: set[RelaySMTP] = set()
        self.draining = False
        self._tasks: set[asyncio.Task[Any]] = set()  # short jobs: finished before exit
        self._loops: list[asyncio.Task[Any]] = []  # housekeeping loops: cancelled at exit
        self._server: asyncio.base_events.Server | None = None
        self.tls_context = _server_tls(settings)  # fails at start, not at a client's STARTTLS
        self.upstream = UpstreamPool(config_from(settings))
        self.metrics = Metrics()
        self.metrics.set_policy(policy.version if policy else None)
        self.upstream_ok: bool | None = None  # unknown until the first probe
        # Created before the workers start: they open it read-only.
        self.history = history_store(settings)
        self.recorder = HistoryRecorder(self.history)
        self.dns = DomainChecker(settings.dns_servers or None, timeout=settings.dns_timeout)
        self._needs_dns = _needs_dns(policy)
        self.inspector = inspector or InspectionPool(
            settings.workers,
            settings.inspect_timeout,
            env={
                pipeline.HISTORY_DB_ENV: history_location(settings),
                pipeline.HISTORY_AGE_ENV: str(settings.history_max_age_days),
            },
        )
        # No policy: no rules, so no detector could change a decision; none runs.
        self.inspector.set_policy(policy or NO_POLICY)
        self._watch(policy.files if policy else ())
        # Holds and expiry only: releases go through the UI's own service (its thread).
        self.quarantine = QuarantineService(quarantine_store(settings), self.upstream)
        self.actions = Actions(
            self.upstream,
            self.quarantine,
            policy=lambda: self.policy,
            hostname=settings.hostname,
            spawn=self.spawn,
        )
        self.handler = RelayHandler(
            self.upstream,
            self.inspector,
            self.actions,
            max_recipients=settings.max_recipients,
            is_draining=lambda: self.draining,
            metrics=self.metrics,
            learn=self.recorder.note if settings.history_learn else None,
            prefetch=self.prefetch_domain,
            domain_answers=self.domain_answers,
        )
        self.web: WebServer | None = None
        if settings.web is not None:
            self.actions.links = sender_links(settings)
            self.web = WebServer(settings, self._web_context)

    def _web_context(self) -> tuple[WebContext, Callable[[], Awaitable[None]]]:
        """Runs in the UI's thread: its own database connections and upstream pool."""
        return review_context(
            self.settings,
            lambda: self.policy.policy if self.policy else Policy(),
            self._expire_days,
            self._ready,
            self.metrics,
            self.actions.links,
        )

    def _expire_days(self) -> int:
        return self.policy.policy.quarantine.expire_days if self.policy else 14

    def _ready(self) -> tuple[bool, str]:
        """Ready: taking mail, the configured policy loaded, the upstream answering."""
        if self.draining:
            return False, "draining: shutting down"
        if self.settings.policy is not None and self.policy is None:
            return False, "no policy loaded"
        if self.upstream_ok is False:
            return False, "upstream not answering"
        return True, f"ok, policy {self.policy.version if self.policy else 'none'}"

    def _watch_metrics(self) -> None:
        self.metrics.watch(
            "mailguard_workers", "Inspection workers: size of the pool and how many are busy",
            lambda: {"size": self.inspector.size, "busy": self.inspector.busy,
                     "replaced": self.inspector.replaced},
            "state",
        )  # fmt: skip
        self.metrics.watch(
            "mailguard_upstream_up", "1 when the last probe of the upstream got a greeting",
            lambda: {"probe": float(bool(self.upstream_ok))}, "check",
        )  # fmt: skip

    async def _probe_upstream(self) -> None:
        """Does the upstream answer with a 220 greeting? For /healthz and metrics."""
        host, port = self.settings.upstream
        while True:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
                try:
                    greeting = await asyncio.wait_for(reader.readline(), 5)
                    writer.write(b"QUIT\r\n")
                    await writer.drain()
                finally:
                    writer.close()
                ok = greeting.startswith(b"220")
            except (OSError, TimeoutError):
                ok = False
            if ok != self.upstream_ok:
                log.info("upstream_probe", ok=ok)
            self.upstream_ok = ok
            await asyncio.sleep(self.settings.health_check_interval)

    def refusal_for(self, peer: Any) -> Reply | None:
        if self.draining:
            return replies.SHUTTING_DOWN
        try:
            address = ipaddress.ip_address(peer[0].split("%", 1)[0])
        except (TypeError, ValueError, IndexError):
            return replies.CLIENT_NOT_ALLOWED
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in net for net in self.settings.allow):
            return None
        log.warning("client_refused", client=str(address))
        return replies.CLIENT_NOT_ALLOWED

    def _external(self, domain: str) -> bool:
        internal = self.policy.policy.organisation.internal_domains if self.policy else ()
        return bool(domain) and not in_domains(domain, internal)

    def prefetch_domain(self, address: str) -> None:
        """At RCPT: start the DNS lookup so its answer is ready when DATA ends."""
        if self._needs_dns and self._external(domain := domain_of(address)):
            self.dns.start(domain)

    async def domain_answers(self, recipients: Sequence[str]) -> dict[str, str]:
        """DNS answers for the recipients' outside domains, within ``dns_timeout``."""
        if not self._needs_dns:
            return {}
        internal = self.policy.policy.organisation.internal_domains if self.policy else ()
        return await answers_for(self.dns, recipients, internal, self.settings.dns_timeout)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _protocol(self) -> RelaySMTP:
        s = self.settings
        return RelaySMTP(
            self.handler,
            self,
            data_size_limit=s.max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=s.hostname,
            ident=f"mailguard {__version__} ESMTP",
            timeout=s.command_timeout,
            tls_context=self.tls_context,
            require_starttls=s.tls_required,
        )

    def reload_policy(self, why: str) -> bool:
        """Load the policy again; a broken one is logged and the last good one stays."""
        path = self.settings.policy
        if path is None:
            log.info("policy_reload_skipped", why=why, reason="no policy configured")
            return False
        try:
            loaded = load_policy(path)
        except PolicyError as exc:
            self._watch(exc.files or (path,))
            log.error(
                "policy_reload_failed",
                why=why,
                problems=[str(p) for p in exc.problems],
                live_version=self.policy.version if self.policy else None,
            )
            return False
        self._watch(loaded.files)
        if self.policy and loaded.version == self.policy.version:
            return False
        self.policy = loaded
        self._needs_dns = _needs_dns(loaded)
        self.inspector.set_policy(loaded)
        self.metrics.set_policy(loaded.version)
        log.info("policy_loaded", why=why, version=loaded.version, rules=len(loaded.policy.rules))
        return True

    def _watch(self, files: tuple[Path, ...]) -> None:
        self._watched = files
        self._watched_stamp = _stamp(files)

    async def _watch_policy(self) -> None:
        """Poll the policy files (and what they include) for edits; no inotify needed."""
        while True:
            await asyncio.sleep(self.settings.policy_check_interval)
            try:
                if _stamp(self._watched) != self._watched_stamp:
                    self.reload_policy("file changed")
            except Exception as exc:  # the watcher must outlive any surprise
                log.error("policy_watch_error", error=f"{type(exc).__name__}: {exc}")

    async def _housekeeping(self) -> None:
        """Hourly: expire held mail nobody reviewed, forget history past its age."""
        while True:
            await self._expire_held()
            try:
                pruned = await asyncio.to_thread(self.history.prune, time.time())
            except Exception as exc:
                log.error("history_prune_failed", error=f"{type(exc).__name__}: {exc}")
            else:
                if pruned:
                    log.info("history_pruned", rows=pruned)
            await asyncio.sleep(3600)

    async def _expire_held(self) -> None:
        """Held mail nobody reviewed in time is treated as rejected (content deleted)."""
        try:
            grace = self.settings.upstream_data_timeout + self.settings.upstream_timeout * 3
            await asyncio.to_thread(self.quarantine.recover_interrupted_releases, grace)
            expired = await asyncio.to_thread(self.quarantine.expire)
        except Exception as exc:
            log.error("expiry_failed", error=f"{type(exc).__name__}: {exc}")
            return
        for held in expired:
            log.info("held_expired", id=held.id, rule=held.rule)
            self.actions.send_notice(
                "expired",
                held.id,
                held.mail_from,
                len(held.rcpt_tos),
                held.reason,
                held.rule,
                received_at=held.created_at,
            )

    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        _raise_open_files_limit()
        if self.web is not None:  # first: a taken web port stops start-up before SMTP
            await self.web.start()
        await self.inspector.start()
        loop = asyncio.get_running_loop()
        host, port = s.listen
        self._server = await loop.create_server(
            self._protocol, host=host, port=port, reuse_address=True
        )
        if s.policy is not None:
            self._loops.append(asyncio.ensure_future(self._watch_policy()))
        self._loops.append(asyncio.ensure_future(self._housekeeping()))
        if self.web is not None:
            self._watch_metrics()
            self._loops.append(asyncio.ensure_future(self._probe_upstream()))
        self.recorder.start()
        log.info(
            "ready",
            policy_version=self.policy.version if self.policy else None,
            listen=f"{host}:{port}",
            upstream=f"{s.upstream[0]}:{s.upstream[1]}",
            workers=s.workers,
            max_size=s.max_size,
            version=__version__,
        )

    @property
    def in_flight(self) -> int:
        return sum(1 for session in self.sessions if session.busy)

    async def shutdown(self) -> None:
        """Stop taking mail (421), let in-flight messages finish, then close."""
        self.draining = True
        grace = self.settings.shutdown_grace
        log.info("shutting_down", in_flight=self.in_flight, grace_s=grace)
        deadline = time.monotonic() + grace
        # In-flight is derived from live sessions; polling it is simpler than events.
        while self.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self.in_flight:
            log.warning("shutdown_grace_expired", in_flight=self.in_flight)
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.say_goodbye(replies.SHUTTING_DOWN)
        for task in self._loops:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self.web is not None:
            await self.web.stop()
        await self.upstream.close()
        await self.inspector.close()
        await self.recorder.close()
        await self.dns.aclose()
        self.quarantine.store.close()
        log.info("stopped")


def _raise_open_files_limit() -> None:
    """Clients, upstream connections, workers and the UI all need descriptors."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, 65536), hard))
    except (ValueError, OSError):
        pass


def _server_tls(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


def _needs_dns(policy: LoadedPolicy | None) -> bool:
    return policy is not None and unroutable.NAME in detectors_needed(policy.policy)


def _stamp(files: tuple[Path, ...]) -> tuple[tuple[str, int | None, int | None], ...]:
    stamps = []
    for f in files:
        try:
            st = f.stat()
            stamps.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((str(f), None, None))
    return tuple(stamps)


async def serve(settings: Settings, policy: LoadedPolicy | None = None) -> None:
    """Run until SIGTERM/SIGINT; SIGHUP reloads the policy and never kills the relay."""
    relay = Relay(settings, policy=policy)
    await relay.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: relay.reload_policy("SIGHUP"))
    await stop.wait()
    await relay.shutdown()
