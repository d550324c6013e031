"""The relay's lifecycle: start, reload the policy, housekeeping, probe, shutdown.

Everything it works with comes from ``runtime.build``; the wire is ``smtp/``, the
review UI is ``web/``. This module only wires them together and runs them.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailguard import __version__, heap, replies
from mailguard import log as mglog
from mailguard.actions.execute import Actions
from mailguard.config import Settings
from mailguard.db import private_dir
from mailguard.delivery.upstream import UpstreamPool, UpstreamTransaction
from mailguard.directory.model import DirectoryAnswers
from mailguard.directory.service import Directory
from mailguard.history.recorder import HistoryRecorder
from mailguard.inspection.context import RecipientDns, directory_addresses
from mailguard.inspection.inline import InlineInspector
from mailguard.inspection.workers import InspectionError, InspectionPool, preforked
from mailguard.ledger.recorder import LedgerRecorder, entry_of
from mailguard.model import Action, Decision, Envelope, Inspection
from mailguard.policy.loader import LoadedPolicy, PolicyError, load_policy
from mailguard.policy.readiness import unprotected
from mailguard.policy.schema import Mode
from mailguard.replies import Outcome
from mailguard.runtime import build, sender_link_problem
from mailguard.smtp.handler import RelayHandler
from mailguard.smtp.listener import Listener, server_tls

if TYPE_CHECKING:
    from mailguard.web.app import WebContext
    from mailguard.web.server import WebServer

log = mglog.get_logger()

_DELIVERED = (Action.PASS, Action.TAG, Action.REWRITE)


@dataclass(frozen=True)
class Share:
    """This process's part of a relay run as several processes (``supervisor``)."""

    index: int = 0
    of: int = 1
    sock: socket.socket | None = None  # the supervisor's listening socket

    @property
    def leads(self) -> bool:
        """The first process alone serves the UI and does the housekeeping."""
        return self.index == 0

    def workers(self, total: int) -> int:
        """``total`` inspection workers shared out, at least one each."""
        return max(1, total // self.of + (1 if self.index < total % self.of else 0))


class Relay:
    """Owns the listener, the inspection workers, the UI and the housekeeping loops."""

    def __init__(
        self,
        settings: Settings,
        inspector: InspectionPool | None = None,
        policy: LoadedPolicy | None = None,
        share: Share = Share(),
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.share = share
        tls = server_tls(settings)  # first: a bad certificate opens no store
        self.runtime = build(settings, live_policy=lambda: self.policy)
        self.metrics = self.runtime.metrics
        self.metrics.set_policy(policy.version if policy else None)
        self.upstream_ok: bool | None = None  # unknown until the first probe
        self._tasks: set[asyncio.Task[Any]] = set()  # short jobs: finished before exit
        self._loops: list[asyncio.Task[Any]] = []  # housekeeping loops: cancelled at exit
        # Created before the workers start: they open it read-only.
        self.recorder = HistoryRecorder(self.runtime.history)
        self.ledger = LedgerRecorder(self.runtime.ledger)
        self.inspector = inspector or InspectionPool(
            share.workers(settings.workers), settings.inspect_timeout, forker=preforked()
        )
        self.inline = InlineInspector(settings.inspect_inline_max_size)
        # No policy: no rules, so no detector runs.
        self._set_policy(policy)
        self._watch(policy.files if policy else ())
        # A link to this machine's loopback, made up because web_url is unset, is not
        # sent at all; one the admin set explicitly is sent (a one-machine trial), with
        # the same warning.
        self._link_problem = sender_link_problem(settings)
        self._no_links = self._link_problem is not None and not settings.web_url
        self.actions = Actions(
            self.upstream,
            self.runtime.quarantine,  # holds and expiry only; releases run in the UI's
            policy=self.runtime.policy,
            hostname=settings.hostname,
            spawn=self.spawn,
            links=self.runtime.links if settings.web is not None and not self._no_links else None,
            rules_outside=settings.rules_header_outside,
        )
        self.dns = RecipientDns(self.runtime.inspection, self.runtime.dns, self.runtime.live_policy)
        handler = RelayHandler(
            self.upstream,
            self.process,
            max_recipients=settings.max_recipients,
            is_draining=lambda: self.listener.draining,
            on_recipient=self.dns.prefetch,
            metrics=self.metrics,
            per_client=settings.upstream_per_client,
            share_wait=settings.upstream_connect_timeout,
            received_by=settings.hostname if settings.received_header else None,
        )
        self.listener = Listener(settings, handler, self.spawn, tls)
        self.web: WebServer | None = None
        if settings.web is not None and share.leads:
            # Imported only here: a relay without the review UI never loads Starlette,
            # Jinja or the sign-in libraries (a quarter of a second at every start).
            from mailguard.web.server import WebServer

            self.web = WebServer(settings, self._web_context)

    @property
    def upstream(self) -> UpstreamPool:
        return self.runtime.upstream

    async def process(
        self, message_id: str, envelope: Envelope, raw: bytes, txn: UpstreamTransaction
    ) -> Outcome:
        """A received message's path: DNS answers, inspection in a worker, the decision
        carried out on the open upstream transaction, the history taught."""
        dns = await self.dns.answers(envelope.rcpt_tos)
        directory = await self._directory_answers(envelope)
        try:
            inspection = self._inspect_here(envelope, raw, dns, directory)
            if inspection is None:
                inspection = await self.inspector.inspect(
                    envelope, raw, dns=dns, directory=directory
                )
                self.metrics.inspected_in.labels("worker").inc()
        except InspectionError as exc:
            log.error("inspection_failed", error=str(exc))
            self.metrics.inspection_errors.inc()
            return Outcome(replies.INSPECTION_FAILED)
        outcome = await self.actions.carry_out(message_id, envelope, raw, inspection, txn)
        if outcome.reply.is_positive or inspection.decision.action is Action.REJECT:
            try:  # decided for good (a 4xx is tried again, and recorded then)
                self.ledger.note(entry_of(message_id, envelope, raw, inspection, time.time()))
            except Exception as exc:  # the ledger never costs a message
                log.error("ledger_note_failed", error=f"{type(exc).__name__}: {exc}")
        delivered = inspection.decision.action in _DELIVERED
        if self._teaches(inspection.decision) and outcome.reply.is_positive and delivered:
            try:  # delivered (or split into copies), not held: the sender meant them
                self.recorder.note_message(envelope, raw, inspection.addressing)
            except Exception as exc:  # history is a hint; it never costs a message
                log.error("history_note_failed", error=f"{type(exc).__name__}: {exc}")
        return outcome

    async def _directory_answers(self, envelope: Envelope) -> DirectoryAnswers | None:
        """The directory's answers for this message: from memory, or within its timeout,
        or at once "unavailable" while it is down. Never a reason to fail the message."""
        directory = self.runtime.directory
        if directory is None:
            return None
        try:
            return await directory.answers(directory_addresses(self.policy, envelope))
        except Exception as exc:  # the directory is a hint; it never costs a message
            log.error("directory_lookup_failed", error=f"{type(exc).__name__}: {exc}")
            return DirectoryAnswers(available=False, configured=True)

    def _inspect_here(
        self,
        envelope: Envelope,
        raw: bytes,
        dns: dict[str, str],
        directory: DirectoryAnswers | None,
    ) -> Inspection | None:
        try:
            inspection = self.inline.inspect(envelope, raw, dns, directory)
        except Exception as exc:  # a worker tries again, in its own process
            log.error("inline_inspection_failed", error=f"{type(exc).__name__}: {exc}")
            return None
        if inspection is not None:
            self.metrics.inspected_in.labels("inline").inc()
        return inspection

    async def _warm_inline(self) -> None:
        try:
            await asyncio.to_thread(self.inline.warm_up)
        except Exception as exc:  # then the workers judge every message
            log.error("inline_warm_up_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.inline.ready = True
        heap.settle()  # start-up is over: what is loaded now stays
        log.info("inline_inspection_ready", max_size=self.inline.max_size)

    def _teaches(self, decision: Decision) -> bool:
        """Mail in monitor mode, or that a monitored rule would have stopped, teaches
        nothing: the monitor week must not make a typo domain look normal."""
        if not self.settings.history_learn or decision.monitored:
            return False
        return self.runtime.policy().mode is not Mode.MONITOR

    def _web_context(self) -> tuple[WebContext, Callable[[], Awaitable[None]]]:
        """Runs in the UI's thread: its own database connections and upstream pool."""
        from mailguard.web.server import review_context

        return review_context(self.runtime.sibling(upstream_connections=4), self._ready)

    def _ready(self) -> tuple[bool, str]:
        """Ready: taking mail, the configured policy loaded, the upstream answering."""
        if self.listener.draining:
            return False, "draining: shutting down"
        if self.settings.policy is not None and self.policy is None:
            return False, "no policy loaded"
        if self.upstream_ok is False:
            return False, "upstream not answering"
        status = f"ok, policy {self.policy.version if self.policy else 'none'}"
        lines = [status, *(f"warning: {w}" for w in self._unprotected())]
        directory = self.runtime.directory
        if directory is not None:  # mail flows without it: a warning, not "not ready"
            state = directory.state
            lines.append(
                f"directory: {state}" + (f" ({directory.error})" if directory.error else "")
            )
            if state == "down":
                lines.append("warning: directory unavailable: rules that need it are not applied")
        return True, "\n".join(lines)

    def _unprotected(self) -> tuple[str, ...]:
        has_directory = self.settings.directory is not None
        return unprotected(self.policy.policy if self.policy else None, has_directory)

    def _warn_if_unprotected(self) -> None:
        for problem in self._unprotected():
            log.warning("unprotected", problem=problem)

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
        directory = self.runtime.directory
        if directory is not None:
            self.metrics.watch(
                "mailguard_directory_up", "1 when the directory answered its last question",
                lambda: {"ldap": float(directory.up is True)}, "check",
            )  # fmt: skip

    async def _watch_directory(self, directory: Directory) -> None:
        """Ask at start (one clear line if it cannot be reached), then keep asking: more
        often while it is down, so mail uses it again soon after it is back."""
        directory.watched = True
        while True:
            try:
                await directory.aprobe()
            except Exception as exc:  # the watcher must outlive any surprise
                log.error("directory_probe_failed", error=f"{type(exc).__name__}: {exc}")
            s = self.settings
            assert s.directory is not None
            wait = s.health_check_interval if directory.up else s.directory.retry_interval
            await asyncio.sleep(min(wait, s.directory.retry_interval))

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

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- policy ----------------------------------------------------------------------
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
        self._set_policy(loaded)
        self.metrics.set_policy(loaded.version)
        log.info("policy_loaded", why=why, version=loaded.version, rules=len(loaded.policy.rules))
        self._warn_if_unprotected()
        return True

    def _set_policy(self, policy: LoadedPolicy | None) -> None:
        self.inspector.set_policy(policy, self.runtime.inspection)
        self.inline.set_policy(policy, self.runtime.inspection)

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

    # --- housekeeping ----------------------------------------------------------------
    async def _housekeeping(self) -> None:
        """Hourly: expire held mail nobody reviewed, forget history past its age."""
        while True:
            await self._expire_held()
            try:
                pruned = await asyncio.to_thread(self.runtime.history.prune, time.time())
            except Exception as exc:
                log.error("history_prune_failed", error=f"{type(exc).__name__}: {exc}")
            else:
                if pruned:
                    log.info("history_pruned", rows=pruned)
            await self._prune_ledger()
            await asyncio.sleep(3600)

    async def _prune_ledger(self) -> None:
        try:
            pruned = await asyncio.to_thread(self.runtime.ledger.prune)
        except Exception as exc:
            log.error("ledger_prune_failed", error=f"{type(exc).__name__}: {exc}")
        else:
            if pruned:
                log.info("ledger_pruned", rows=pruned)

    async def _expire_held(self) -> None:
        """Held mail nobody reviewed in time is treated as rejected (content deleted)."""
        quarantine = self.runtime.quarantine
        try:
            grace = self.settings.upstream_data_timeout + self.settings.upstream_timeout * 3
            await asyncio.to_thread(quarantine.recover_interrupted_releases, grace)
            expired = await asyncio.to_thread(quarantine.expire)
            keep = self.runtime.policy().quarantine.keep_released_days
            forgotten = await asyncio.to_thread(quarantine.forget_released, keep)
        except Exception as exc:
            log.error("expiry_failed", error=f"{type(exc).__name__}: {exc}")
            return
        if forgotten:
            log.info("released_content_deleted", messages=len(forgotten))
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

    # --- start and stop --------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        _raise_open_files_limit()
        if self.web is not None:  # first: a taken web port stops start-up before SMTP
            await self.web.start()
        await self.inspector.start()
        if s.inspect_inline_max_size > 0:
            self.spawn(self._warm_inline())
        await self.listener.start(self.share.sock)
        if s.policy is not None:
            self._loops.append(asyncio.ensure_future(self._watch_policy()))
        if self.share.leads:
            self._loops.append(asyncio.ensure_future(self._housekeeping()))
        if self.runtime.directory is not None:
            self._loops.append(asyncio.ensure_future(self._watch_directory(self.runtime.directory)))
        if self.web is not None:
            self._watch_metrics()
            self._loops.append(asyncio.ensure_future(self._probe_upstream()))
        self.recorder.start()
        self.ledger.start()
        if self.share.leads:
            self._warn_if_unprotected()
        if self._link_problem:
            log.warning(
                "sender_links_off" if self._no_links else "sender_links_local",
                problem=self._link_problem,
            )
        host, port = s.listen
        log.info(
            "ready" if self.share.of == 1 else "process_ready",
            policy_version=self.policy.version if self.policy else None,
            listen=f"{host}:{port}",
            upstream=f"{s.upstream[0]}:{s.upstream[1]}",
            workers=self.inspector.size,
            max_size=s.max_size,
            version=__version__,
            **({"pid": os.getpid()} if self.share.of > 1 else {}),
        )

    async def shutdown(self) -> None:
        """Stop taking mail (421), let in-flight messages finish, then close."""
        self.listener.draining = True
        grace = self.settings.shutdown_grace
        log.info("shutting_down", in_flight=self.listener.in_flight, grace_s=grace)
        deadline = time.monotonic() + grace
        # In-flight is derived from live sessions; polling it is simpler than events.
        while self.listener.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self.listener.in_flight:
            log.warning("shutdown_grace_expired", in_flight=self.listener.in_flight)
        self.listener.close()
        for task in self._loops:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self.web is not None:
            await self.web.stop()
        await self.inspector.close()
        self.inline.close()
        await self.recorder.close()
        await self.ledger.close()
        await self.runtime.aclose()
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


def _stamp(files: tuple[Path, ...]) -> tuple[tuple[str, int | None, int | None], ...]:
    stamps = []
    for f in files:
        try:
            st = f.stat()
            stamps.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((str(f), None, None))
    return tuple(stamps)


def run(settings: Settings, main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on the event loop the settings ask for (uvloop when it is there)."""
    if settings.event_loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if settings.event_loop == "uvloop":
                main.close()
                raise OSError("event_loop is uvloop, but uvloop is not installed") from None
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(main)
            return
    asyncio.run(main)


async def serve(
    settings: Settings,
    policy: LoadedPolicy | None = None,
    share: Share = Share(),
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT; SIGHUP reloads the policy and never kills the relay."""
    was = private_dir(settings.data_dir)  # before any store opens in it
    if was is not None and share.leads:
        log.warning("data_dir_tightened", path=str(settings.data_dir), was=f"{was:04o}")
    relay = Relay(settings, policy=policy, share=share)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # Before start: a SIGHUP sent the moment "ready" is logged must reload, not kill.
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: relay.reload_policy("SIGHUP"))
    await relay.start()
    if on_ready is not None:
        on_ready()
    await stop.wait()
    await relay.shutdown()
