"""A real OpenID provider on loopback for the sign-in tests: the certified
``oidc-provider`` package (tests/support/oidc, installed by ``npm ci``) on this
machine's Node.js, with its own login page. Not a mock: mailguard discovers it,
sends the browser to it, and checks the ID tokens it signs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.net import HOST, free_port

HERE = Path(__file__).parent / "oidc"


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def ensure_installed() -> None:
    """``npm ci`` from the lock file when the package is not there yet (CI does it)."""
    if (HERE / "node_modules" / "oidc-provider").exists():
        return
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {HERE}:\n{done.stdout}\n{done.stderr}")


class OidcProvider:
    def __init__(self, tmp: Path, accounts: list[dict[str, Any]], clients: list[dict[str, Any]]):
        self.dir = tmp
        self.port = free_port()
        self.issuer = f"http://{HOST}:{self.port}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.config = tmp / "oidc-provider.json"
        self.log = tmp / "oidc-provider.log"
        self.clients = clients
        self.set_accounts(accounts)
        self.proc: subprocess.Popen[bytes] | None = None

    def set_accounts(self, accounts: list[dict[str, Any]]) -> None:
        """Read again by the provider at every sign-in and claims lookup."""
        self.dir.mkdir(parents=True, exist_ok=True)
        doc = {"port": self.port, "clients": self.clients, "accounts": accounts}
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.config)

    def start(self, timeout: float = 30.0) -> OidcProvider:
        ensure_installed()
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            ["node", str(HERE / "provider.mjs"), str(self.config)],
            stdout=out, stderr=out, cwd=HERE,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited:\n{self.log.read_text()}")
            if "ready" in self.log.read_text().splitlines():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the OpenID provider did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
