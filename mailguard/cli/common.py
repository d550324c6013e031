"""What every command shares: settings and policy loading, the runtime, errors.

Errors an admin must fix end the command with exit 2 and one line on stderr
(``mailguard: ...``); a refused quarantine operation is exit 1.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from mailguard.config import ConfigError, Settings, load_settings, parse_hostport, parse_size
from mailguard.policy.loader import LoadedPolicy, PolicyError, load_policy
from mailguard.runtime import Runtime, build

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"mailguard: {message}", err=True)
    sys.exit(code)


class HostPort(click.ParamType):
    name = "HOST:PORT"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, int]:
        try:
            return parse_hostport(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Size(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def config_option(f: F) -> F:
    return click.option(
        "--config", "config_file", type=click.Path(path_type=Path), help="YAML settings file."
    )(f)


def state_options(f: F) -> F:
    """Where the state is: --config, --data-dir, --database (flags win over the file)."""
    f = click.option("--database", help="postgresql://... shared by the relays [SQLite].")(f)
    f = click.option(
        "--data-dir", type=click.Path(path_type=Path), help="State directory [./mailguard-data]."
    )(f)
    return config_option(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def settings_from(config_file: Path | None, **flags: Any) -> Settings:
    try:
        return load_settings(config_file, flags)
    except ConfigError as exc:
        if len(exc.problems) == 1:
            fail(exc.problems[0])
        for problem in exc.problems:
            click.echo(problem, err=True)
        fail(f"{config_file}: {len(exc.problems)} problems in the settings, see above")


def runtime_from(config_file: Path | None, **flags: Any) -> Runtime:
    """The command's runtime; whatever it opens is closed when the command ends."""
    runtime = build(settings_from(config_file, **flags))
    click.get_current_context().call_on_close(runtime.close)
    return runtime


def opened(what: str, open_it: Callable[[], Any]) -> Any:
    """Open a store, or end with one clear line saying which and why."""
    try:
        return open_it()
    except (OSError, sqlite3.Error) as exc:
        fail(f"cannot open {what}: {exc}")


def load_policy_or_exit(path: Path) -> LoadedPolicy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        fail(f"{path}: policy has {len(exc.problems)} problem(s), see above")
