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
