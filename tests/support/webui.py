"""Helpers for tests of the review web UI: a relay with ``--web``, users, held mail."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

import aiosmtplib
import httpx

from mailguard.config import load_settings
from mailguard.quarantine.service import Role
from mailguard.runtime import build
from tests.support.mail import compose
from tests.support.net import HOST, free_port

PASSWORD = "correct horse battery staple"
OFFICER = "case.officer@northdown.gov.uk"
POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
rules:
  - name: hold-visible-list
    description: Five or more people outside the council could see each other's addresses.
    when: {finding: {detector: bulk_visible, type: BULK_VISIBLE, min_count: 5}}
    action: hold
    release: approver
  - name: hold-two-person
    description: Special category data about a named person, held for two people to check.
    when: {recipient_domain: [approve.example]}
    action: hold
    release: approver
  - name: hold-sender-may-release
    description: A new recipient who looks like a frequent contact; check the address.
    when: {recipient_domain: [self.example]}
    action: hold
    release: sender
  - name: hold-for-review
    description: Personal data to an outside address, held for review.
    when: {recipient_domain: [example.org, example.net]}
    action: hold
"""


def add_user(data_dir: Path, name: str, role: str) -> None:
    """A reviewer account in the relay's data dir, made through the same runtime the
    ``mailguard users add`` command uses (that command has its own test)."""
    with build(load_settings(None, {"data_dir": data_dir})) as runtime:
        runtime.users.add(name, Role(role), PASSWORD, by="test")


def web_args(tmp: Path) -> tuple[list[str], str]:
    """Extra ``serve`` arguments for a relay with the UI, and the UI's base URL."""
    policy = tmp / "web-policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    base = f"http://{HOST}:{port}"
    # The test's browser is on this machine: a loopback link is one it can open.
    return ["--policy", str(policy), "--web", f"{HOST}:{port}", "--web-url", base], base


def send(port: int, rcpts: list[str], raw: bytes | None = None, sender: str = OFFICER) -> str:
    """Send over real SMTP from a thread of its own (safe beside a sync browser)."""
    raw = raw or compose(sender=sender, to=rcpts, subject="Referral for a resident")
    out: dict[str, object] = {}

    def run() -> None:
        async def go() -> str:
            _, reply = await aiosmtplib.send(
                raw, sender=sender, recipients=rcpts, hostname=HOST, port=port, timeout=30
            )
            return reply

        try:
            out["reply"] = asyncio.run(go())
        except Exception as exc:  # reported in the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return str(out["reply"])


def queued_id(reply: str) -> str:
    m = re.search(r"queued as ([0-9A-F]+)", reply)
    assert m, reply
    return m.group(1)


def logged_in(base: str, name: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    reply = client.post("/login", data={"csrf": csrf, "name": name, "password": password})
    assert reply.status_code == 303, reply.text
    return client


def csrf_of(client: httpx.Client, path: str = "/held") -> str:
    page = client.get(path)
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def wait_until(predicate, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def delivered(sink) -> list:
    """What reached the sink, without mailguard's own notices (null sender)."""
    return [m for m in sink.messages if m.mail_from not in ("", "<>")]


def notices(sink) -> list:
    return [m for m in sink.messages if m.mail_from in ("", "<>")]
