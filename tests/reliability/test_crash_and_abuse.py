"""Trying to break the relay: kill -9 under load, a flapping upstream, a full disk,
and clients that abuse the protocol. Nothing accepted is lost; nothing refused is half
delivered; the relay keeps serving."""

from __future__ import annotations

import asyncio
import json
import re
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiosmtplib
import pytest

from tests.support.mail import compose
from tests.support.net import HOST, free_port
from tests.support.sink import Sink

pytestmark = pytest.mark.reliability

SENDER = "officer@northdown.gov.uk"
POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
rules:
  - {name: hold-outside, description: held, when: {recipient_domain: [example.org]}, action: hold}
  - name: bcc-list
    description: list moved to Bcc
    when: {visible_external_recipients: {more_than: 3}}
    action: rewrite
    rewrite: bcc
"""


def _policy(tmp_path: Path) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return str(path)


def _message(n: int) -> tuple[list[str], bytes]:
    kind = n % 3
    if kind == 0:
        rcpts = [f"colleague{n}@northdown.gov.uk"]
    elif kind == 1:
        rcpts = [f"resident{n}@example.org"]  # held
    else:
        rcpts = [f"r{n}.{i}@example.net" for i in range(5)]  # rewritten to Bcc
    return rcpts, compose(sender=SENDER, to=rcpts, subject=f"load-{n}")


async def _send(port: int, rcpts: list[str], raw: bytes) -> str:
    """250, 4xx, 5xx, or dropped (no answer: the connection died under us)."""
    try:
        await aiosmtplib.send(
            raw, sender=SENDER, recipients=rcpts, hostname=HOST, port=port, timeout=30
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        code = next(iter(exc.recipients)).code
        return f"{code // 100}xx"
    except aiosmtplib.SMTPResponseException as exc:
        return f"{exc.code // 100}xx"
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        return "dropped"
    return "250"


def _sink_count(sink: Sink, n: int) -> int:
    tag = f"Subject: load-{n}\r\n".encode()
    return sum(1 for m in sink.messages if tag in m.content)


def _held_subjects(data_dir: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "mailguard", "quarantine", "list", "--json", "--limit", "10000",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return [json.loads(line)["subject"] for line in out.splitlines()]


async def test_kill_9_under_load_loses_nothing_that_got_a_250(tmp_path, sink, start_mailguard):
    policy = _policy(tmp_path)
    mg = start_mailguard(sink.port, "--policy", policy, "--workers", "2")
    port = mg.port
    total = 200
    results: dict[int, str] = {}
    gate = asyncio.Semaphore(40)

    async def one(n: int) -> None:
        rcpts, raw = _message(n)
        async with gate:
            results[n] = await _send(port, rcpts, raw)

    tasks = [asyncio.ensure_future(one(n)) for n in range(total)]
    while len(results) < 60:  # noqa: ASYNC110 (polling the results of other tasks)
        await asyncio.sleep(0.01)
    assert mg.proc is not None
    mg.proc.kill()  # SIGKILL: no drain, no cleanup; its workers see their pipe close
    await asyncio.gather(*tasks)
    first = dict(results)
    assert "250" in first.values() and set(first.values()) - {"250", "4xx", "dropped"} == set()

    # The relay comes back on the same port and data; clients retry what was not 250.
    start_mailguard(sink.port, "--policy", policy, "--listen", f"{HOST}:{port}")
    for n, outcome in first.items():
        if outcome != "250":
            rcpts, raw = _message(n)
            assert await _send(port, rcpts, raw) == "250"

    await asyncio.sleep(1)
    held = _held_subjects(mg.data_dir)
    for n, outcome in first.items():
        copies = _sink_count(sink, n) + held.count(f"load-{n}")
        if outcome in ("250", "4xx"):
            assert copies == 1, (n, outcome, copies)  # 250: kept; 4xx: nothing half-sent
        else:
            assert copies in (1, 2), (n, outcome, copies)  # an SMTP retry may duplicate


async def test_a_flapping_upstream_means_4xx_then_exactly_one_delivery(tmp_path, start_mailguard):
    config = tmp_path / "c.yaml"
    config.write_text("upstream_data_timeout: 1\nupstream_timeout: 2\n")
    port = free_port()
    mg = start_mailguard(port, "--config", str(config))
    rcpts = ["colleague@northdown.gov.uk"]
    _, raw = _message(0)

    assert await _send(mg.port, rcpts, raw) == "4xx"  # down: nothing listens
    sink = Sink(port=port)
    sink.start()
    try:
        for trouble in ("data_reply", "data_delay", "drop_on_data"):
            if trouble == "data_reply":
                sink.behaviour.data_reply = "451 4.3.0 try again later"
            elif trouble == "data_delay":
                sink.behaviour.data_delay = 5.0  # beyond upstream_data_timeout
            else:
                sink.behaviour.drop_on_data = True
            assert await _send(mg.port, rcpts, raw) == "4xx", trouble
            sink.behaviour.data_reply, sink.behaviour.data_delay = None, 0.0
            sink.behaviour.drop_on_data = False
        assert await _send(mg.port, rcpts, raw) == "250"
        await asyncio.sleep(1)
        assert len(sink.messages) == 1
    finally:
        sink.stop()


async def test_a_full_disk_is_a_4xx_and_a_loud_log_never_a_250(tmp_path, sink):
    """RLIMIT_FSIZE makes every write past 1 MB fail, as a full disk does."""
    port = free_port()
    log_path = tmp_path / "mg.log"
    limit = 1024 * 1024

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before any mail)
            [sys.executable, "-m", "mailguard", "serve", "--listen", f"{HOST}:{port}",
             "--upstream", f"{HOST}:{sink.port}", "--data-dir", str(tmp_path / "data"),
             "--policy", _policy(tmp_path), "--workers", "1"],
            stdout=log, stderr=log, preexec_fn=cap,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while b'"ready"' not in log_path.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            await asyncio.sleep(0.05)
        big = compose(
            sender=SENDER, to=["resident@example.org"], body=("x" * 70 + "\n") * (limit // 35)
        )
        assert await _send(port, ["resident@example.org"], big) == "4xx"
        assert "quarantine_write_failed" in log_path.read_text()
        small = compose(sender=SENDER, to=["resident@example.org"], body="small")
        assert await _send(port, ["resident@example.org"], small) == "250"  # recovers
        # Held mail never slips out instead (the hold notice to the sender, from <>, may
        # already have arrived: it is sent in the background).
        assert [m for m in sink.messages if m.mail_from != "<>"] == []
    finally:
        proc.terminate()
        proc.wait(20)


def _talk(port: int, payload: bytes, wait: float = 3.0) -> bytes:
    with socket.create_connection((HOST, port), timeout=wait) as s:
        s.recv(1024)
        s.sendall(payload)
        s.settimeout(wait)
        chunks = []
        try:
            while data := s.recv(65536):
                chunks.append(data)
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_pipelined_commands_get_one_reply_each_and_one_message(sink, mailguard):
    body = b"Subject: piped\r\n\r\nhello\r\n.\r\n"
    one = b"MAIL FROM:<a@northdown.gov.uk>\r\nRCPT TO:<b@northdown.gov.uk>\r\nDATA\r\n" + body
    replies = _talk(mailguard.port, b"EHLO client\r\n" + one * 20 + b"QUIT\r\n", wait=10)
    codes = re.findall(rb"^(\d{3}) ", replies, re.MULTILINE)
    assert codes.count(b"354") == 20 and codes[-1] == b"221"
    assert len(sink.wait_for(20)) == 20


def test_an_overlong_command_is_refused_and_the_relay_keeps_serving(sink, mailguard):
    replies = _talk(mailguard.port, b"EHLO " + b"x" * 200_000 + b"\r\n")
    assert re.search(rb"^5\d\d ", replies, re.MULTILINE)
    ok = _talk(mailguard.port, b"EHLO client\r\nQUIT\r\n")
    assert b"250" in ok and b"221" in ok


def test_a_slow_loris_client_is_cut_off_and_others_are_served(tmp_path, sink, start_mailguard):
    config = tmp_path / "c.yaml"
    config.write_text("command_timeout: 2\n")
    mg = start_mailguard(sink.port, "--config", str(config))
    idle = [socket.create_connection((HOST, mg.port)) for _ in range(50)]
    try:
        slow = idle[0]
        slow.recv(1024)
        started = time.monotonic()
        for byte in b"EHLO ":
            try:
                slow.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break  # already cut off: what it said is read below
            time.sleep(0.5)
        slow.settimeout(10)
        goodbye = b""
        while time.monotonic() - started < 10:
            try:
                data = slow.recv(1024)
            except ConnectionResetError:
                break  # closed with our last byte unread: a reset after the reply, not a FIN
            if not data:
                break
            goodbye += data
        assert b"421" in goodbye  # timed out at the command line, told so, and closed
        ok = _talk(mg.port, b"EHLO client\r\nQUIT\r\n")
        assert b"250" in ok
        assert mg.proc is not None
        status = Path(f"/proc/{mg.proc.pid}/status").read_text()
        rss_mb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        assert rss_mb < 300, rss_mb  # fifty idle clients cost the relay little
    finally:
        for s in idle:
            s.close()
