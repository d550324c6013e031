"""Running the web UI: inside ``serve`` (same event loop as the relay) or on its own.

uvicorn serves the app; inside the relay it must not take over SIGTERM, which the
relay uses to drain mail first.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Generator
from zoneinfo import ZoneInfo

import uvicorn

from mailguard import logging as mglog
from mailguard.config import Settings
from mailguard.db import PostgresDatabase
from mailguard.delivery.upstream import UpstreamPool, config_from
from mailguard.history.learn import learn_released
from mailguard.metrics import Metrics
from mailguard.model import Envelope
from mailguard.policy.schema import Policy
from mailguard.quarantine.service import QuarantineService
from mailguard.storage import history_store, quarantine_store, user_store
from mailguard.web.app import WebContext, build_app
from mailguard.web.links import SenderLinks, load_secret, shared_secret

log = mglog.get_logger()

WEB_CONNECTIONS = 100  # beyond this the UI answers 503 at once; SMTP keeps its sockets


def base_url(settings: Settings) -> str:
    if settings.web_url:
        return settings.web_url.rstrip("/")
    assert settings.web is not None
    host, port = settings.web
    scheme = "https" if settings.web_tls_cert else "http"
    return f"{scheme}://{host}:{port}"


def sender_links(settings: Settings) -> SenderLinks:
    if settings.database:
        db = PostgresDatabase(settings.database)
        try:
            secret = shared_secret(db)
        finally:
            db.close()
    else:
        secret = load_secret(settings.data_dir)
    return SenderLinks(secret, base_url(settings))


def review_context(
    settings: Settings,
    policy: Callable[[], Policy],
    link_days: Callable[[], int],
    ready: Callable[[], tuple[bool, str]] | None = None,
    metrics: Metrics | None = None,
    links: SenderLinks | None = None,
) -> tuple[WebContext, Callable[[], Awaitable[None]]]:
    """Everything the UI uses, opened for its own thread: database connections, an
    upstream pool for releases, the history that releases teach. And how to close it.

    ``links``: the relay's, when it has made them already (one secret lookup, not two).
    """
    upstream = UpstreamPool(config_from(settings, max_connections=4))
    history = history_store(settings) if settings.history_learn else None

    def learn(envelope: Envelope, raw: bytes) -> None:
        assert history is not None
        learn_released(history, envelope, raw)

    service = QuarantineService(
        quarantine_store(settings),
        upstream,
        on_released=learn if history else None,
        policy=policy,
    )
    ctx = WebContext(
        service=service,
        users=user_store(settings),
        links=links or sender_links(settings),
        link_days=link_days,
        secure_cookies=bool(settings.web_tls_cert) or base_url(settings).startswith("https:"),
        session_hours=settings.session_hours,
        timezone=ZoneInfo(settings.web_timezone),
        ready=ready,
        metrics=metrics,
        metrics_allow=tuple(settings.metrics_allow),
    )
    if metrics is not None:
        metrics.watch(
            "mailguard_quarantine_messages", "Messages in the quarantine by state",
            service.store.counts, "state",
        )  # fmt: skip

    async def close() -> None:
        await upstream.close()
        service.store.close()
        ctx.users.close()
        if history is not None:
            history.close()

    return ctx, close


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the relay owns the signals


# Builds the UI's context inside the UI's own thread and loop (its own database
# connections and upstream pool), and returns it with what closes it afterwards.
ContextFactory = Callable[[], tuple[WebContext, Callable[[], Awaitable[None]]]]


class WebServer:
    """The UI in a thread of its own, with its own event loop.

    A page that takes long (a 30 MB held message, an argon2 check, a search) or a crowd
    of idle browser connections then never stalls the relay's SMTP loop; uvicorn's
    ``limit_concurrency`` bounds the sockets the UI can hold.
    """

    def __init__(self, settings: Settings, factory: ContextFactory) -> None:
        assert settings.web is not None
        self.settings = settings
        self.factory = factory
        self.server: _QuietServer | None = None
        self.url = base_url(settings)
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mailguard-web", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._started.wait, 60)
        if self._error is not None:
            raise self._error
        if self.server is None or not self.server.started:
            raise OSError("the web UI did not start")
        log.info("web_ready", url=self.url)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the relay exits with it
            self._error = exc
        finally:
            self._started.set()

    async def _serve(self) -> None:
        ctx, cleanup = self.factory()
        s = self.settings
        assert s.web is not None
        host, port = s.web
        config = uvicorn.Config(
            build_app(ctx),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            limit_concurrency=WEB_CONNECTIONS,
            timeout_keep_alive=5,
            proxy_headers=bool(s.web_trusted_proxies),
            forwarded_allow_ips=",".join(s.web_trusted_proxies) or None,
            ssl_certfile=str(s.web_tls_cert) if s.web_tls_cert else None,
            ssl_keyfile=str(s.web_tls_key) if s.web_tls_key else None,
        )
        self.server = _QuietServer(config)
        serving = asyncio.ensure_future(self.server.serve())
        try:
            while not self.server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no "started" event)
                await asyncio.sleep(0.02)
            if self.server.started:
                self._started.set()
            await serving
        finally:
            await cleanup()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 15)
