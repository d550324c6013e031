"""A real ``mailguard serve`` process, and the ``mailguard`` command as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.net import HOST, free_port

# Relays told to stop (SIGTERM) whose exit nobody waits for: a test's teardown does not
# sit through the relay's drain and its workers' exit; reap_stopped() collects them.
_STOPPING: list[subprocess.Popen[bytes]] = []
_MAX_STOPPING = 4  # more than this still draining: wait for the oldest first


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


class Mailguard:
    """A real ``mailguard serve`` process."""

    def __init__(self, tmp: Path, upstream_port: int, *args: str) -> None:
        self.tmp = tmp
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
        """Start and wait for ``ready``. On a first start, a listen port some other
        process bound in the second since free_port() found it free is traded for a
        new one (twice at most); a restart keeps its port, as tests rely on it."""
        for _ in range(2 if self.proc is None else 0):
            try:
                return self._start(timeout)
            except RuntimeError as exc:
                if f"{HOST}:{self.port} (setting listen): address already in use" not in str(exc):
                    raise
            self.port = free_port()
            self.log_path = self.tmp / f"mailguard-{self.port}.log"
            self.args[1] = f"{HOST}:{self.port}"
        return self._start(timeout)

    def _start(self, timeout: float) -> Mailguard:
        reap_stopped(block=False)
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

    def stop_soon(self) -> None:
        """SIGTERM, without waiting for the exit (a fixture's teardown: nothing looks at
        this relay again). A test that restarts a relay on the same port or data
        directory, or checks how it exits, uses stop() or wait()."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            _STOPPING.append(self.proc)

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


def reap_stopped(block: bool = True) -> None:
    """Collect relays that stop_soon() signalled; kill any still running after 20 s.
    With ``block=False`` only those already gone, and the oldest while too many are
    still draining."""
    while _STOPPING:
        proc = _STOPPING[0]
        if proc.poll() is None:
            if not block and len(_STOPPING) <= _MAX_STOPPING:
                break
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _STOPPING.pop(0)
    _STOPPING[:] = [p for p in _STOPPING if p.poll() is None]
