"""``mailguard users ...`` (reviewer accounts) and ``mailguard web`` (the UI on its own)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click

from mailguard import logging as mglog
from mailguard.config import ConfigError, Settings, load_settings, parse_hostport
from mailguard.policy.loader import PolicyError, load_policy
from mailguard.policy.schema import Policy
from mailguard.quarantine.service import Role
from mailguard.storage import user_store
from mailguard.web.accounts import AccountError, UserStore

ROLES = click.Choice(["reviewer", "approver", "admin"])


def _settings(config_file: Path | None, **flags: Any) -> Settings:
    try:
        return load_settings(config_file, flags)
    except ConfigError as exc:
        _fail(str(exc))


def _options(f: Any) -> Any:
    f = click.option("--database", help="postgresql://... shared by the relays.")(f)
    f = click.option("--data-dir", type=click.Path(path_type=Path), help="State directory.")(f)
    f = click.option("--config", "config_file", type=click.Path(path_type=Path))(f)
    return f


def _store(config_file: Path | None, data_dir: Path | None, database: str | None) -> UserStore:
    settings = _settings(config_file, data_dir=data_dir, database=database)
    try:
        return user_store(settings)
    except (OSError, sqlite3.Error) as exc:
        _fail(f"cannot open users: {exc}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("users")
def users() -> None:
    """Accounts for the review web UI."""


@users.command("add")
@_options
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
    store = _store(config_file, data_dir, database)
    try:
        store.add(name, Role(role), _password(password_stdin))
    except AccountError as exc:
        _fail(str(exc))
    finally:
        store.close()
    click.echo(f"added {name} ({role})")


@users.command("list")
@_options
def list_users(config_file: Path | None, data_dir: Path | None, database: str | None) -> None:
    """Names, roles and whether each account is enabled."""
    store = _store(config_file, data_dir, database)
    for user in store.list():
        click.echo(f"{user.name:<24} {user.role.value:<9} {'disabled' if user.disabled else ''}")
    store.close()


@users.command("passwd")
@_options
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
        config_file, data_dir, database, lambda s: s.set_password(name, _password(password_stdin))
    )
    click.echo(f"password of {name} changed")


@users.command("role")
@_options
@click.argument("name")
@click.argument("role", type=ROLES)
def role(
    config_file: Path | None, data_dir: Path | None, database: str | None, name: str, role: str
) -> None:
    """Change what a user may do; their sessions end."""
    _change(config_file, data_dir, database, lambda s: s.set_role(name, Role(role)))
    click.echo(f"{name} is now {role}")


@users.command("disable")
@_options
@click.argument("name")
def disable(
    config_file: Path | None, data_dir: Path | None, database: str | None, name: str
) -> None:
    """Stop a user logging in (a leaver); their sessions end."""
    _change(config_file, data_dir, database, lambda s: s.set_disabled(name, True))
    click.echo(f"{name} disabled")


@users.command("enable")
@_options
@click.argument("name")
def enable(
    config_file: Path | None, data_dir: Path | None, database: str | None, name: str
) -> None:
    """Let a disabled user log in again."""
    _change(config_file, data_dir, database, lambda s: s.set_disabled(name, False))
    click.echo(f"{name} enabled")


def _change(
    config_file: Path | None, data_dir: Path | None, database: str | None, change: Any
) -> None:
    store = _store(config_file, data_dir, database)
    try:
        change(store)
    except AccountError as exc:
        _fail(str(exc))
    finally:
        store.close()


@click.command("web")
@click.option("--config", "config_file", type=click.Path(path_type=Path))
@click.option("--web", "web_address", help="Serve the UI here [from config, else 127.0.0.1:8025].")
@click.option("--data-dir", type=click.Path(path_type=Path), help="State directory.")
@click.option("--database", help="postgresql://... shared with the relays [SQLite].")
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
    settings = _settings(
        config_file,
        web=web_address,
        data_dir=data_dir,
        database=database,
        upstream=upstream,
        policy=policy,
    )
    if settings.web is None:
        settings = settings.model_copy(update={"web": parse_hostport("127.0.0.1:8025")})
    loaded = None
    if settings.policy is not None:
        try:
            loaded = load_policy(settings.policy)
        except PolicyError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            _fail(f"{settings.policy}: policy has problems, see above")
    mglog.configure(settings.log_level)
    try:
        asyncio.run(_run_web(settings, loaded.policy if loaded else Policy()))
    except (OSError, sqlite3.Error) as exc:
        _fail(f"cannot start: {getattr(exc, 'strerror', None) or exc}")


async def _run_web(settings: Settings, policy: Policy) -> None:
    from mailguard.web.server import WebServer, review_context

    server = WebServer(
        settings,
        lambda: review_context(settings, lambda: policy, lambda: policy.quarantine.expire_days),
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def _fail(message: str) -> Any:
    click.echo(f"mailguard: {message}", err=True)
    sys.exit(2)
