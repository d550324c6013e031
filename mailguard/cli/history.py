"""``mailguard history ...``: teach the relay who each sender writes to, and manage it."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import click

from mailguard.cli.common import opened, runtime_from, state_options
from mailguard.history.learn import Learner, input_files, read_messages
from mailguard.runtime import Runtime


def _open(config_file: Path | None, data_dir: Path | None, database: str | None) -> Runtime:
    runtime = runtime_from(config_file, data_dir=data_dir, database=database)
    opened("the history", lambda: runtime.history)
    return runtime


@click.group("history")
def history() -> None:
    """The sender→recipient history behind near-miss and new-domain findings."""


@history.command("learn")
@state_options
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
def learn(
    config_file: Path | None, data_dir: Path | None, database: str | None, files: tuple[Path, ...]
) -> None:
    """Learn from past sent mail: mbox files, .eml files, or directories of them.

    Only sender and recipient addresses, display names and dates are stored. Learning
    the same mail twice counts it once (by Message-ID).
    """
    runtime = _open(config_file, data_dir, database)
    settings, store = runtime.settings, runtime.history
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
    runtime.close()
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
@state_options
def stats(config_file: Path | None, data_dir: Path | None, database: str | None) -> None:
    """How much the history holds (counts only, no addresses)."""
    runtime = _open(config_file, data_dir, database)
    st = runtime.history.stats()
    runtime.close()
    click.echo(f"senders: {st.senders}")
    click.echo(f"sender→recipient pairs: {st.contacts}")
    click.echo(f"domains: {st.domains}")
    for label, stamp in (("oldest", st.oldest), ("newest", st.newest)):
        if stamp is not None:
            click.echo(f"{label}: {dt.datetime.fromtimestamp(stamp, dt.UTC):%Y-%m-%d %H:%M} UTC")


@history.command("prune")
@state_options
def prune(config_file: Path | None, data_dir: Path | None, database: str | None) -> None:
    """Forget entries older than history_max_age_days now (the relay does it hourly)."""
    runtime = _open(config_file, data_dir, database)
    removed = runtime.history.prune(time.time())
    runtime.close()
    days = runtime.settings.history_max_age_days
    click.echo(f"Forgot {removed} entries older than {days} days.")


@history.command("forget")
@state_options
@click.argument("address")
def forget(
    config_file: Path | None, data_dir: Path | None, database: str | None, address: str
) -> None:
    """Forget one address as sender and as recipient (a leaver, an erasure request)."""
    runtime = _open(config_file, data_dir, database)
    removed = runtime.history.forget(address)
    runtime.close()
    click.echo(f"Forgot {removed} entries.")
