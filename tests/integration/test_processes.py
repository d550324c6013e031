"""Several relay processes on one port (``processes``): every core takes mail, and the
relay still behaves as one: one reload, one drain, one set of metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiosmtplib
import httpx
import pytest

from mailguard.relay import Share
from tests.support.mail import address, compose
from tests.support.net import HOST, eventually, free_port

HOLD_ALL = """\
organisation: {name: Test, internal_domains: [council.example]}
rules:
  - name: hold-everything
    description: Everything waits for a reviewer.
    when: {external_recipients: {more_than: 0}}
    action: hold
"""


async def send_each_on_its_own_connection(port: int, count: int, concurrency: int = 10):
    """Like Exchange delivering a burst: a new connection per message."""
    gate = asyncio.Semaphore(concurrency)
    contents = [compose() for _ in range(count)]

    async def one(content: bytes) -> None:
        async with gate:
            await aiosmtplib.send(content, sender=address(), hostname=HOST, port=port,
                                  recipients=[address("example.org")], timeout=30)  # fmt: skip

    await asyncio.gather(*(one(c) for c in contents))
    return contents


def relay_pids(relay) -> dict[int, int]:
    """The latest pid of each relay process, from its process_ready event."""
    return {e["process"]: e["pid"] for e in relay.events("process_ready")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def two(sink, start_mailguard):
    return start_mailguard(sink.port, "--processes", "2")


async def test_two_relay_processes_take_mail_on_one_port_and_each_message_arrives_once(sink, two):
    assert sorted(relay_pids(two)) == [0, 1]
    assert len(two.events("ready")) == 1  # one relay, as far as anyone outside can tell

    contents = await send_each_on_its_own_connection(two.port, 120, concurrency=20)

    received = sink.wait_for(120, timeout=60)
    assert sorted(m.content for m in received) == sorted(contents)
    handled_by = {e["process"] for e in two.events("message")}
    assert handled_by == {0, 1}


async def test_a_relay_process_that_dies_is_replaced_and_mail_keeps_flowing(sink, two):
    first = relay_pids(two)
    os.kill(first[1], signal.SIGKILL)

    contents = await send_each_on_its_own_connection(two.port, 20)
    assert sorted(m.content for m in sink.wait_for(20)) == sorted(contents)
    assert await eventually(lambda: two.events("relay_process_replaced"), within=30)
    replacement = relay_pids(two)[1]
    assert replacement != first[1] and alive(replacement)
    assert two.events("relay_process_died")[0]["exit_code"] == -signal.SIGKILL


async def test_sighup_reloads_the_policy_in_every_relay_process(sink, tmp_path, start_mailguard):
    policy = tmp_path / "policy.yaml"
    policy.write_text("organisation: {name: Test, internal_domains: [council.example]}\n")
    config = tmp_path / "mailguard.yaml"
    config.write_text("policy_check_interval: 3600\n")  # only SIGHUP reloads
    relay = start_mailguard(
        sink.port, "--processes", "2", "--config", str(config), "--policy", str(policy)
    )
    policy.write_text(HOLD_ALL)

    relay.signal(signal.SIGHUP)

    assert await eventually(lambda: {e["process"] for e in relay.events("policy_loaded")} == {0, 1})
    await send_each_on_its_own_connection(relay.port, 30)
    assert not [m for m in sink.messages if m.mail_from != "<>"]  # hold notices only
    held = [e for e in relay.events("message") if e["action"] == "hold"]
    assert len(held) == 30 and {e["process"] for e in held} == {0, 1}


async def test_sigterm_drains_every_relay_process_and_leaves_none_behind(sink, two):
    pids = relay_pids(two)
    contents = await send_each_on_its_own_connection(two.port, 10)

    two.signal(signal.SIGTERM)

    assert await asyncio.to_thread(two.wait, 30) == 0
    assert sorted(m.content for m in sink.wait_for(10)) == sorted(contents)
    assert two.events("stopped")
    assert not [pid for pid in pids.values() if alive(pid)]


async def test_metrics_count_the_mail_of_every_relay_process(sink, start_mailguard):
    web = free_port()
    relay = start_mailguard(sink.port, "--processes", "2", "--web", f"{HOST}:{web}")
    await send_each_on_its_own_connection(relay.port, 60, concurrency=20)
    sink.wait_for(60, timeout=60)

    async with httpx.AsyncClient() as client:
        page = (await client.get(f"http://{HOST}:{web}/metrics")).text

    counter = 'mailguard_messages_total{action="pass",reply="2xx"}'
    passed = [line for line in page.splitlines() if line.startswith(counter)]
    assert passed and float(passed[0].split()[-1]) == 60


def test_a_taken_port_stops_start_up_with_one_clear_line(sink, tmp_path):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mailguard", "serve", "--processes", "2",
             "--listen", f"{HOST}:{port}", "--upstream", f"{HOST}:{sink.port}",
             "--data-dir", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode != 0
    assert f"SMTP {HOST}:{port} (setting listen): address already in use" in done.stderr


def test_the_inspection_workers_are_shared_out_among_the_relay_processes():
    assert [Share(i, 2).workers(5) for i in range(2)] == [3, 2]
    assert [Share(i, 3).workers(2) for i in range(3)] == [1, 1, 1]  # never none
