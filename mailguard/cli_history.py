"""``mailguard history ...``: teach the relay who each sender writes to, and manage it."""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import click

from mailguard.config import ConfigError, Settings, load_settings
from mailguard.history.learn import Learner, input_files, read_messages
from mailguard.history.sqlite import SQLHistory
from mailguard.storage import history_store


def _options(f: Any) -> Any:
    f = click.option("--database", help="postgresql://... shared by the relays.")(f)
    f = click.option("--data-dir", type=click.Path(path_type=Path), help="State directory.")(f)
    f = click.option("--config", "config_file", type=click.Path(path_type=Path))(f)
    return f


def _settings(config_file: Path | None, data_dir: Path | None, database: str | None) -> Settings:
    try:
        return load_settings(config_file, {"data_dir": data_dir, "database": database})
    except ConfigError as exc:
        _fail(str(exc))


def _open(settings: Settings) -> SQLHistory:
    try:
        return history_store(settings)
    except (OSError, sqlite3.Error) as exc:
        _fail(f"cannot open the history: {exc}")


@click.group("history")
def history() -> None:
    """The sender→recipient history behind near-miss and new-domain findings."""


@history.command("learn")
@_options
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
def learn(
    config_file: Path | None, data_dir: Path | None, database: str | None, files: tuple[Path, ...]
) -> None:
    """Learn from past sent mail: mbox files, .eml files, or directories of them.

    Only sender and recipient addresses, display names and dates are stored. Learning
    the same mail twice counts it once (by Message-ID).
    """
    settings = _settings(config_file, data_dir, database)
    store = _open(settings)
    learner = Learner(store, settings.history_max_age_days)
    paths = input_files(list(files))
    total = sum(p.stat().st_size for p in paths)
    started = time.monotonic()
    with click.progressbar(
        length=total, label="Learning", file=sys.stderr, show_pos=False, show_percent=True
    ) as bar:
        for path in paths:
            try:
                for message in read_messages(path):
                    learner.add(message.raw)
                    bar.update(message.size)
            except OSError as exc:
                learner.summary.unreadable += 1
                click.echo(f"\nmailguard: {path}: cannot read: {exc.strerror}", err=True)
        learner.flush()
    pruned = store.prune(time.time())
    stats = store.stats()
    store.close()
    s = learner.summary
    click.echo(
        f"Learned {s.messages} message(s) from {len(s.senders)} sender(s):"
        f" {s.sightings} recipient sighting(s) in {time.monotonic() - started:.1f}s."
    )
    skipped = {
        "already learned": s.duplicates,
        f"older than {settings.history_max_age_days} days": s.too_old,
        "no sender or recipients": s.unusable,
        "unreadable": s.unreadable,
    }
    if any(skipped.values()):
        click.echo("Skipped: " + ", ".join(f"{n} {why}" for why, n in skipped.items() if n) + ".")
    if pruned:
        click.echo(f"Forgot {pruned} entries past their age.")
    click.echo(
        f"History now holds {stats.contacts} sender→recipient pair(s) for"
        f" {stats.senders} sender(s), {stats.domains} domain(s)."
    )


@history.command("stats")
@_options
def stats(config_file: Path | None, data_dir: Path | None, database: str | None) -> None:
    """How much the history holds (counts only, no addresses)."""
    store = _open(_settings(config_file, data_dir, database))
    st = store.stats()
    store.close()
    click.echo(f"senders: {st.senders}")
    click.echo(f"sender→recipient pairs: {st.contacts}")
    click.echo(f"domains: {st.domains}")
    for label, stamp in (("oldest", st.oldest), ("newest", st.newest)):
        if stamp is not None:
            click.echo(f"{label}: {dt.datetime.fromtimestamp(stamp, dt.UTC):%Y-%m-%d %H:%M} UTC")


@history.command("prune")
@_options
def prune(config_file: Path | None, data_dir: Path | None, database: str | None) -> None:
    """Forget entries older than history_max_age_days now (the relay does it hourly)."""
    settings = _settings(config_file, data_dir, database)
    store = _open(settings)
    removed = store.prune(time.time())
    store.close()
    click.echo(f"Forgot {removed} entries older than {settings.history_max_age_days} days.")


@history.command("forget")
@_options
@click.argument("address")
def forget(
    config_file: Path | None, data_dir: Path | None, database: str | None, address: str
) -> None:
    """Forget one address as sender and as recipient (a leaver, an erasure request)."""
    store = _open(_settings(config_file, data_dir, database))
    removed = store.forget(address)
    store.close()
    click.echo(f"Forgot {removed} entries.")


def _fail(message: str) -> Any:
    click.echo(f"mailguard: {message}", err=True)
    sys.exit(2)
