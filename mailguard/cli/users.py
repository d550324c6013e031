"""``mailguard users ...``: accounts for the review web UI."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mailguard.accounts.users import STAFF_ROLES, AccountError, UserStore
from mailguard.cli.common import fail, opened, runtime_from, state_options
from mailguard.cli.identity import shell_user
from mailguard.quarantine.service import Role

ROLES = click.Choice([r.value for r in STAFF_ROLES])


def _store(
    config_file: Path | None, data_dir: Path | None, database: str | None, *, create: bool = False
) -> UserStore:
    """The users store; only ``users add`` may create one (a command run from the wrong
    directory must not quietly start an empty one beside the real one)."""
    runtime = runtime_from(config_file, data_dir=data_dir, database=database)
    if not create and not runtime.users_exist():
        fail(
            f"no users in {runtime.settings.data_dir.resolve()} (wrong --data-dir or --config?"
            " `mailguard users add` makes the first)"
        )
    return opened("users", lambda: runtime.users)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("users")
def users() -> None:
    """Accounts for the review web UI."""


@users.command("add")
@state_options
@click.argument("name")
@click.option("--role", type=ROLES, required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def add(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    name: str,
    role: str,
    password_stdin: bool,
) -> None:
    """Add a user: reviewer (release, reject), approver (also approves two-person
    releases) or admin (also manages users)."""
    store = _store(config_file, data_dir, database, create=True)
    try:
        store.add(name, Role(role), _password(password_stdin), by=shell_user())
    except AccountError as exc:
        fail(str(exc))
    finally:
        store.close()
    click.echo(f"added {name} ({role})")


@users.command("list")
@state_options
def list_users(config_file: Path | None, data_dir: Path | None, database: str | None) -> None:
    """Names, roles, how each signs in (local, directory, oidc) and whether enabled."""
    store = _store(config_file, data_dir, database)
    for user in store.list():
        state = "disabled" if user.disabled else ""
        click.echo(f"{user.name:<32} {user.role.value:<9} {user.source:<9} {state}".rstrip())
    store.close()


@users.command("changes")
@state_options
@click.option("--limit", type=int, default=100, show_default=True)
def changes(
    config_file: Path | None, data_dir: Path | None, database: str | None, limit: int
) -> None:
    """Who added, changed, disabled or enabled which account, newest first."""
    store = _store(config_file, data_dir, database)
    for c in store.changes(limit):
        when = dt.datetime.fromtimestamp(c.at).astimezone().strftime("%Y-%m-%d %H:%M")
        click.echo(f"{when}  {c.actor:<16} {c.change:<9} {c.name:<24} {c.detail}")
    store.close()


@users.command("passwd")
@state_options
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def passwd(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    name: str,
    password_stdin: bool,
) -> None:
    """Set a new password; the user's sessions end."""
    _change(
        config_file,
        data_dir,
        database,
        lambda s: s.set_password(name, _password(password_stdin), by=shell_user()),
    )
    click.echo(f"password of {name} changed")


@users.command("role")
@state_options
@click.argument("name")
@click.argument("role", type=ROLES)
def role(
    config_file: Path | None, data_dir: Path | None, database: str | None, name: str, role: str
) -> None:
    """Change what a user may do; their sessions end."""
    _change(
        config_file, data_dir, database, lambda s: s.set_role(name, Role(role), by=shell_user())
    )
    click.echo(f"{name} is now {role}")


@users.command("disable")
@state_options
@click.argument("name")
def disable(
    config_file: Path | None, data_dir: Path | None, database: str | None, name: str
) -> None:
    """Stop a user logging in (a leaver); their sessions end."""
    _change(config_file, data_dir, database, lambda s: s.set_disabled(name, True, by=shell_user()))
    click.echo(f"{name} disabled")


@users.command("enable")
@state_options
@click.argument("name")
def enable(
    config_file: Path | None, data_dir: Path | None, database: str | None, name: str
) -> None:
    """Let a disabled user log in again."""
    _change(config_file, data_dir, database, lambda s: s.set_disabled(name, False, by=shell_user()))
    click.echo(f"{name} enabled")


def _change(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    change: Callable[[UserStore], Any],
) -> None:
    store = _store(config_file, data_dir, database)
    try:
        change(store)
    except AccountError as exc:
        fail(str(exc))
    finally:
        store.close()
