"""Running the web UI: inside ``serve`` (same event loop as the relay) or on its own.

uvicorn serves the app; inside the relay it must not take over SIGTERM, which the
relay uses to drain mail first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator
from zoneinfo import ZoneInfo

import uvicorn

from mailguard import logging as mglog
from mailguard.config import Settings
from mailguard.db import PostgresDatabase
from mailguard.metrics import Metrics
from mailguard.quarantine.service import QuarantineService
from mailguard.storage import user_store
from mailguard.web.app import WebContext, build_app
from mailguard.web.links import SenderLinks, load_secret, shared_secret

log = mglog.get_logger()


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


def web_context(
    settings: Settings,
    service: QuarantineService,
    link_days: Callable[[], int],
    ready: Callable[[], tuple[bool, str]] | None = None,
    metrics: Metrics | None = None,
) -> WebContext:
    return WebContext(
        service=service,
        users=user_store(settings),
        links=sender_links(settings),
        link_days=link_days,
        secure_cookies=bool(settings.web_tls_cert) or base_url(settings).startswith("https:"),
        session_hours=settings.session_hours,
        timezone=ZoneInfo(settings.web_timezone),
        ready=ready,
        metrics=metrics,
        metrics_allow=tuple(settings.metrics_allow),
    )


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the relay owns the signals


class WebServer:
    def __init__(self, settings: Settings, ctx: WebContext) -> None:
        assert settings.web is not None
        host, port = settings.web
        config = uvicorn.Config(
            build_app(ctx),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            ssl_certfile=str(settings.web_tls_cert) if settings.web_tls_cert else None,
            ssl_keyfile=str(settings.web_tls_key) if settings.web_tls_key else None,
        )
        self.ctx = ctx
        self.server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (port taken...)
                raise OSError("web UI stopped during start-up")
            await asyncio.sleep(0.02)
        log.info("web_ready", url=self.ctx.links.base_url)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        self.ctx.users.close()
