"""``mailguard web``: the review UI on its own (the relay runs elsewhere)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import click

from mailguard import log as mglog
from mailguard.cli.common import fail, load_policy_or_exit, settings_from, state_options
from mailguard.config import parse_hostport
from mailguard.runtime import Runtime, build


@click.command("web")
@state_options
@click.option("--web", "web_address", help="Serve the UI here [from config, else 127.0.0.1:8025].")
@click.option("--upstream", help="Releases go to this HOST:PORT [from config].")
@click.option("--policy", type=click.Path(path_type=Path), help="Policy (for release as Bcc).")
def web(
    config_file: Path | None,
    web_address: str | None,
    data_dir: Path | None,
    database: str | None,
    upstream: str | None,
    policy: Path | None,
) -> None:
    """Run only the review UI (the relay runs elsewhere and shares the data dir)."""
    settings = settings_from(
        config_file,
        web=web_address,
        data_dir=data_dir,
        database=database,
        upstream=upstream,
        policy=policy,
    )
    if settings.web is None:
        settings = settings.model_copy(update={"web": parse_hostport("127.0.0.1:8025")})
    loaded = load_policy_or_exit(settings.policy) if settings.policy else None
    mglog.configure(settings.log_level)
    try:
        asyncio.run(_run_web(build(settings, live_policy=lambda: loaded)))
    except (OSError, sqlite3.Error) as exc:
        fail(f"cannot start: {getattr(exc, 'strerror', None) or exc}")


async def _run_web(runtime: Runtime) -> None:
    from mailguard.web.server import WebServer, review_context

    # No /metrics here: the relays serve their own.
    server = WebServer(runtime.settings, lambda: review_context(runtime, with_metrics=False))
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
