"""Real parts on loopback: an aiosmtpd sink as the upstream and a real ``mailguard serve``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

HOST = "127.0.0.1"


def mailguard_cli(
    *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mailguard ARGS`` as a user would, and capture what it says."""
    return subprocess.run(
        [sys.executable, "-m", "mailguard", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
    )


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nobody listens on, never one this test run handed out before: two
    calls in a row (web port, then SMTP port) must not get the same one back."""
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    tls: bool = False  # the session had done STARTTLS


@dataclass
class SinkBehaviour:
    """How the fake upstream MTA misbehaves; tests flip these at will."""

    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    data_reply: str | None = None  # e.g. "451 4.3.0 try later"
    data_delay: float = 0.0
    drop_on_data: bool = False


class _SinkHandler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.sink.behaviour.refuse_rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        b = self.sink.behaviour
        if b.data_delay:
            await asyncio.sleep(b.data_delay)
        if b.drop_on_data:
            server.transport.close()
            return "250 never seen"
        if b.data_reply:
            return b.data_reply
        with self.sink.lock:
            self.sink.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    list(envelope.mail_options),
                    session.ssl is not None,
                )
            )
        return "250 2.0.0 Ok: queued as SINK"


class _CountingSMTP(SMTP):
    line_length_limit = 1024 * 1024  # like Postfix, the upstream accepts long lines

    def __init__(self, sink: Sink, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink

    def connection_made(self, transport):
        if self.transport is None:
            with self._sink.lock:
                self._sink.connections += 1
        super().connection_made(transport)


class Sink(Controller):
    """The upstream MTA: an aiosmtpd server in its own thread that records what it gets."""

    def __init__(self, port: int | None = None, **smtp_options: Any) -> None:
        """``smtp_options`` go to aiosmtpd's SMTP, e.g. ``tls_context`` for STARTTLS."""
        self.messages: list[Received] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.behaviour = SinkBehaviour()
        super().__init__(
            _SinkHandler(self),
            hostname=HOST,
            port=port or free_port(),
            enable_SMTPUTF8=True,
            ready_timeout=10,
            **smtp_options,
        )

    def start(self) -> None:
        super().start()
        with self.lock:
            self.connections = 0  # Controller.start() makes one probe connection

    def stop(self, no_assert: bool = False) -> None:
        if self._thread is None:
            return  # a test stopped it already, to play "upstream down"
        super().stop(no_assert)

    def factory(self):
        return _CountingSMTP(self, self.handler, **self.SMTP_kwargs)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)


async def eventually(predicate, within: float = 10.0, interval: float = 0.1) -> bool:
    """Wait until predicate() is true (a log line, a delivery); False on timeout."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


@pytest.fixture
def sink():
    s = Sink()
    s.start()
    yield s
    s.stop()


class Mailguard:
    """A real ``mailguard serve`` process."""

    def __init__(self, tmp: Path, upstream_port: int, *args: str) -> None:
        self.port = free_port()
        self.log_path = tmp / f"mailguard-{self.port}.log"
        self.data_dir = tmp / "data"
        self.args = [
            "--listen",
            f"{HOST}:{self.port}",
            "--upstream",
            f"{HOST}:{upstream_port}",
            "--data-dir",
            str(self.data_dir),
            "--workers",
            "1",
            *args,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Mailguard:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailguard", "serve", *self.args],
            stdout=log,
            stderr=log,
            # Most tests never need the NER model; loading it in every relay they
            # start would only compete for the CPU. The NLP tests load it themselves.
            env={**os.environ, "PYTHONUNBUFFERED": "1", "MAILGUARD_PRELOAD_NLP": "0"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mailguard exited early:\n{self.log_text()}")
            if any(e.get("event") == "ready" for e in self.events()):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"mailguard did not become ready:\n{self.log_text()}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if name is None or event.get("event") == name:
                out.append(event)
        return out


@pytest.fixture
def start_mailguard(tmp_path):
    started: list[Mailguard] = []

    def _start(upstream_port: int, *args: str) -> Mailguard:
        mg = Mailguard(tmp_path, upstream_port, *args).start()
        started.append(mg)
        return mg

    yield _start
    for mg in started:
        mg.stop()


@pytest.fixture
def mailguard(sink, start_mailguard):
    return start_mailguard(sink.port)


PG_SERVER = os.environ.get("MAILGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url():
    """A fresh schema in the local PostgreSQL's ``test`` database, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"mg_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    admin.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    admin.execute(f"DROP SCHEMA {schema} CASCADE")
    admin.close()
