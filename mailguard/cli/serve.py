"""``mailguard serve``: the SMTP relay."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import click

from mailguard import log as mglog
from mailguard.cli.common import (
    HostPort,
    Size,
    config_option,
    fail,
    load_policy_or_exit,
    settings_from,
)


@click.command()
@config_option
@click.option("--listen", type=HostPort(), help="Accept SMTP here [127.0.0.1:10025].")
@click.option("--upstream", type=HostPort(), help="Relay to this MTA [127.0.0.1:10026].")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="State directory [./mailguard-data]."
)
@click.option(
    "--policy", type=click.Path(path_type=Path), help="Policy YAML file [none: pass all]."
)
@click.option(
    "--allow",
    multiple=True,
    help="Network allowed to relay (repeatable) [127.0.0.0/8, ::1].",
)
@click.option("--max-size", type=Size(), help="Largest message accepted, e.g. 50M [50M].")
@click.option("--max-recipients", type=int, help="Recipients per message [1000].")
@click.option("--workers", type=int, help="Inspection worker processes [CPU count].")
@click.option(
    "--processes", help="Relay processes on the listen port, or 'auto' (one per CPU) [1]."
)
@click.option("--hostname", help="Name in the greeting and EHLO [FQDN].")
@click.option("--database", help="postgresql://... to share state between relays [SQLite].")
@click.option("--web", type=HostPort(), help="Serve the review UI here, e.g. 127.0.0.1:8025.")
@click.option(
    "--web-url", help="The UI's address as staff reach it, for links in notices [web_url]."
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config_file: Path | None, **flags: Any) -> None:
    """Run the SMTP relay: inspect every message, then deliver it upstream."""
    from mailguard.inspection.workers import prefork
    from mailguard.relay import run
    from mailguard.relay import serve as run_relay
    from mailguard.supervisor import supervise

    settings = settings_from(config_file, **flags)
    policy = load_policy_or_exit(settings.policy) if settings.policy else None
    mglog.configure(settings.log_level)
    try:
        if settings.processes > 1:
            run(settings, supervise(settings, policy))
        else:
            prefork()  # before the event loop, a thread or a store exists
            run(settings, run_relay(settings, policy))
    except (OSError, sqlite3.Error) as exc:  # listen port taken, data dir unwritable...
        fail(f"cannot start: {getattr(exc, 'strerror', None) or exc}")
