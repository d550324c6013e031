"""Whatever breaks inside mailguard, the client hears 451 and keeps the message.

These run the relay in-process (real listener, real upstream sink, real SMTP client)
so a fault can be injected into one of its parts.
"""

from __future__ import annotations

import asyncio
import time

import aiosmtplib
import pytest

from mailguard.config import load_settings
from mailguard.delivery.upstream import UpstreamTransaction
from mailguard.inspection.workers import InspectionPool
from mailguard.relay import Relay
from tests.support.mail import address, compose
from tests.support.net import HOST, eventually, free_port


@pytest.fixture
async def start_relay(sink, tmp_path):
    relays: list[Relay] = []

    async def _start(inspector: InspectionPool | None = None) -> Relay:
        r = Relay(_settings(sink.port, tmp_path), inspector)
        await r.start()
        relays.append(r)
        return r

    yield _start
    for r in relays:
        await r.shutdown()


@pytest.fixture
async def relay(start_relay):
    return await start_relay()


def _settings(upstream_port: int, tmp_path):
    return load_settings(
        None,
        {
            "listen": f"{HOST}:{free_port()}",
            "upstream": f"{HOST}:{upstream_port}",
            "data_dir": tmp_path,
            "workers": 1,
            "inspect_inline_max_size": 0,  # every message meets the worker pool
        },
    )


async def test_an_exception_during_inspection_is_a_451_not_a_500(sink, relay, monkeypatch):
    async def explode(self, envelope, raw):
        raise RuntimeError("bug")

    monkeypatch.setattr(InspectionPool, "inspect", explode)
    sender, rcpt = address(), address("example.org")
    async with aiosmtplib.SMTP(hostname=HOST, port=relay.settings.listen[1]) as client:
        with pytest.raises(aiosmtplib.SMTPDataError) as failed:
            await client.sendmail(sender, [rcpt], compose())
        assert failed.value.code == 451

        # The same session goes on working once the fault is gone.
        monkeypatch.undo()
        content = compose()
        await client.sendmail(sender, [rcpt], content)
    assert [m.content for m in sink.wait_for(1)] == [content]


async def test_an_exception_during_rcpt_is_a_451_and_the_session_recovers(sink, relay, monkeypatch):
    async def explode(self, recipient, options):
        raise ValueError("bug")

    monkeypatch.setattr(UpstreamTransaction, "rcpt", explode)
    async with aiosmtplib.SMTP(hostname=HOST, port=relay.settings.listen[1]) as client:
        await client.mail(address())
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as failed:
            await client.rcpt(address("example.org"))
        assert failed.value.code == 451

        monkeypatch.undo()
        await client.rset()
        content = compose()
        await client.sendmail(address(), [address("example.org")], content)
    assert [m.content for m in sink.wait_for(1)] == [content]
    await asyncio.sleep(0.2)
    assert relay.upstream.in_use == 0  # nothing leaked from the failed transaction
    assert relay.upstream.idle_count >= 1


async def test_inspection_over_its_time_budget_is_a_451_and_the_worker_is_replaced(
    sink, start_relay
):
    slow = InspectionPool(1, 0.5, target=f"{__name__}:_slow_inspect")
    relay = await start_relay(slow)
    async with aiosmtplib.SMTP(hostname=HOST, port=relay.settings.listen[1]) as client:
        with pytest.raises(aiosmtplib.SMTPDataError) as failed:
            await client.sendmail(address(), [address("example.org")], compose())
    assert failed.value.code == 451
    assert sink.messages == []
    # The stuck worker was killed and a fresh one started (a new process: slow to come
    # up on a busy machine).
    assert await eventually(lambda: slow.replaced >= 1, within=30)
    assert slow.replaced == 1


def _slow_inspect(envelope, raw, policy, **extras):  # runs in the worker process, loaded by name
    time.sleep(60)


class ScriptedUpstream:
    """A hand-written upstream MTA that misbehaves in precise, protocol-level ways."""

    def __init__(self, *, hold_rcpt_for: str = "", refuse_first_data: bool = False) -> None:
        self.hold_rcpt_for = hold_rcpt_for
        self.refuse_data = refuse_first_data
        self.bodies: list[bytes] = []

    async def handle(self, reader, writer):
        held = ""
        in_transaction = False
        writer.write(b"220 scripted ESMTP\r\n")
        while line := await reader.readline():
            cmd = line.decode().strip().upper()
            if cmd.startswith("EHLO"):
                out = "250-scripted\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            elif (
                cmd.startswith("RCPT") and self.hold_rcpt_for and self.hold_rcpt_for.upper() in cmd
            ):
                held = "250 2.1.5 late\r\n"  # answered only together with the next reply
                continue
            elif cmd.startswith("MAIL"):
                out = "503 5.5.1 Error: nested MAIL command\r\n" if in_transaction else "250 Ok\r\n"
                in_transaction = True
            elif cmd == "RSET":
                out, held, in_transaction = held + "250 2.0.0 Ok\r\n", "", False
            elif cmd == "DATA" and self.refuse_data:
                self.refuse_data = False
                out = "451 4.7.1 Rate limited, try later\r\n"  # transaction stays open
            elif cmd == "DATA":
                writer.write(b"354 go\r\n")
                body = b""
                while (chunk := await reader.readline()) not in (b".\r\n", b""):
                    body += chunk
                self.bodies.append(body)
                out, in_transaction = "250 2.0.0 queued\r\n", False
            elif cmd == "QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                out = "250 Ok\r\n"
            writer.write(out.encode())
            await writer.drain()
        writer.close()


@pytest.fixture
async def scripted(tmp_path):
    servers = []
    relays = []

    async def _start(upstream: ScriptedUpstream) -> Relay:
        server = await asyncio.start_server(upstream.handle, HOST, 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        settings = _settings(port, tmp_path)
        relay = Relay(settings)
        await relay.start()
        relays.append(relay)
        return relay

    yield _start
    for r in relays:
        await r.shutdown()
    for s in servers:
        s.close()


async def test_a_client_vanishing_mid_rcpt_never_desynchronises_the_next_message(scripted):
    upstream = ScriptedUpstream(hold_rcpt_for="slow@example.org")
    relay = await scripted(upstream)
    port = relay.settings.listen[1]
    reader, writer = await asyncio.open_connection(HOST, port)
    await reader.readline()
    for line in (b"EHLO c1\r\n", b"MAIL FROM:<a@northdown.gov.uk>\r\n"):
        writer.write(line)
        while (await reader.readline())[3:4] == b"-":
            pass
    writer.write(b"RCPT TO:<slow@example.org>\r\n")
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.write_eof()  # the client gives up while the upstream still owes a reply
    await asyncio.sleep(0.5)
    writer.close()

    content = compose()
    async with aiosmtplib.SMTP(hostname=HOST, port=port) as client:
        try:
            _, reply = await client.sendmail(address(), [address("example.org")], content)
        except aiosmtplib.SMTPException:
            reply = None
    if reply is not None:  # a 250 is only allowed if the upstream really has the message
        assert upstream.bodies == [content]


async def test_a_refused_data_command_does_not_leak_into_the_next_message(scripted):
    upstream = ScriptedUpstream(refuse_first_data=True)
    relay = await scripted(upstream)
    port = relay.settings.listen[1]
    async with aiosmtplib.SMTP(hostname=HOST, port=port) as client:
        with pytest.raises(aiosmtplib.SMTPDataError) as first:
            await client.sendmail(address(), [address("example.org")], compose())
        assert first.value.code == 451
        content = compose()
        await client.sendmail(address(), [address("example.org")], content)
    assert upstream.bodies == [content]
