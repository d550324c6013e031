"""Fixtures only; the helpers behind them live in ``tests/support``."""

from __future__ import annotations

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


@pytest.fixture
def start_mailguard(tmp_path):
    started: list[Mailguard] = []

    def _start(upstream_port: int, *args: str) -> Mailguard:
        mg = Mailguard(tmp_path, upstream_port, *args).start()
        started.append(mg)
        return mg

    yield _start
    for mg in started:
        mg.stop_soon()  # drains and exits while the next test runs


@pytest.fixture
def mailguard(sink, start_mailguard):
    return start_mailguard(sink.port)


@pytest.fixture
def pg_url():
    """A fresh schema in the local PostgreSQL's ``test`` database, dropped afterwards."""
    with fresh_schema() as url:
        yield url
