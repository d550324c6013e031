"""Fixtures only; the helpers behind them live in ``tests/support``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.postgres import fresh_schema
from tests.support.relay import Mailguard, reap_stopped
from tests.support.sink import Sink


@pytest.fixture(scope="session", autouse=True)
def _reap_relays():
    """Relays stopped without waiting (start_mailguard) are waited for at the end."""
    yield
    reap_stopped()


@pytest.fixture
def sink():
    s = Sink()
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def module_sink():
    """The upstream of a relay that a module's tests share; each test reset()s it."""
    s = Sink()
    s.start()
    yield s
    s.stop()


@contextmanager
def _relays(tmp: Path) -> Iterator[Callable[..., Mailguard]]:
    started: list[Mailguard] = []

    def _start(upstream_port: int, *args: str) -> Mailguard:
        mg = Mailguard(tmp, upstream_port, *args).start()
        started.append(mg)
        return mg

    yield _start
    for mg in started:
        mg.stop_soon()  # drains and exits while the next test runs


@pytest.fixture
def start_mailguard(tmp_path):
    with _relays(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_mailguard(tmp_path_factory):
    """start_mailguard for a relay that several tests of a module share: only for
    tests that each make their own messages and change nothing the others look at."""
    with _relays(tmp_path_factory.mktemp("relay")) as start:
        yield start


@pytest.fixture
def mailguard(sink, start_mailguard):
    return start_mailguard(sink.port)


@pytest.fixture
def pg_url():
    """A fresh schema in the local PostgreSQL's ``test`` database, dropped afterwards."""
    with fresh_schema() as url:
        yield url
