"""Running the web UI: inside ``serve`` (in a thread of its own) or on its own.

uvicorn serves the app; inside the relay it must not take over SIGTERM, which the
relay uses to drain mail first.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import threading
from collections.abc import Awaitable, Callable, Generator
from zoneinfo import ZoneInfo

import uvicorn

from mailguard import log as mglog
from mailguard.accounts.oidc import OidcClient
from mailguard.accounts.signin import StaffSignIn
from mailguard.config import Settings
from mailguard.runtime import Runtime, web_url
from mailguard.web.app import WebContext, build_app
from mailguard.web.connections import guarded_protocol

log = mglog.get_logger()

WEB_CONNECTIONS = 200  # beyond this the UI answers 503 at once; SMTP keeps its sockets


def review_context(
    runtime: Runtime,
    ready: Callable[[], tuple[bool, str]] | None = None,
    *,
    with_metrics: bool = True,
) -> tuple[WebContext, Callable[[], Awaitable[None]]]:
    """Everything the UI uses, from a runtime of its own (its thread's database
    connections and upstream pool for releases), and how to close it."""
    settings = runtime.settings
    metrics = runtime.metrics if with_metrics else None
    ctx = WebContext(
        service=runtime.quarantine,
        users=runtime.users,
        links=runtime.links,
        link_days=lambda: runtime.policy().quarantine.expire_days,  # as long as a hold
        secure_cookies=bool(settings.web_tls_cert) or web_url(settings).startswith("https:"),
        session_hours=settings.session_hours,
        timezone=ZoneInfo(settings.web_timezone),
        ready=ready,
        metrics=metrics,
        metrics_allow=tuple(settings.metrics_allow),
        incidents=runtime.incidents,
        ledger=runtime.ledger,
        sign_in=_sign_in(runtime),
        oidc=_oidc(runtime),
    )
    if metrics is not None:
        metrics.watch(
            "mailguard_quarantine_messages", "Messages in the quarantine by state",
            runtime.quarantine_store.counts, "state",
        )  # fmt: skip
    return ctx, runtime.aclose


def _sign_in(runtime: Runtime) -> StaffSignIn | None:
    s = runtime.settings
    if s.directory is None and s.oidc is None:
        return None
    login = bool(s.directory and s.directory.login)
    return StaffSignIn(runtime.users, runtime.directory, s.roles, directory_login=login)


def _oidc(runtime: Runtime) -> OidcClient | None:
    s = runtime.settings
    if s.oidc is None:
        return None
    redirect = f"{web_url(s)}/login/oidc/callback"
    return OidcClient(s.oidc, redirect, runtime.site_secret())


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
        self.url = web_url(settings)
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
            http=guarded_protocol(
                s.web_connections_per_address,
                s.web_header_timeout,
                frozenset(s.web_trusted_proxies),
            ),
            proxy_headers=bool(s.web_trusted_proxies),
            forwarded_allow_ips=",".join(s.web_trusted_proxies) or None,
            ssl_certfile=str(s.web_tls_cert) if s.web_tls_cert else None,
            ssl_keyfile=str(s.web_tls_key) if s.web_tls_key else None,
        )
        self.server = _QuietServer(config)
        # Bound here, not by uvicorn, which answers a taken port with sys.exit and a
        # page of traceback: a taken port is one line the admin can act on.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise OSError(exc.errno, f"web UI {host}:{port} (setting web): {reason}") from None
        serving = asyncio.ensure_future(self.server.serve(sockets=[sock]))
        try:
            while not self.server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no "started" event)
                await asyncio.sleep(0.02)
            if self.server.started:
                self._started.set()
            if ctx.oidc is not None:  # asked once at start; a sign-in asks again
                await ctx.oidc.check()
            await serving
        finally:
            await cleanup()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 15)
