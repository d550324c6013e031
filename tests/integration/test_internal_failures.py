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
from mailguard.smtp.server import Relay
from mailguard.workers import InspectionPool
from tests.conftest import HOST, free_port
from tests.mail import address, compose


@pytest.fixture
async def start_relay(sink, tmp_path):
    relays: list[Relay] = []

    async def _start(inspector: InspectionPool | None = None) -> Relay:
        r = Relay(_settings(sink, tmp_path), inspector)
        await r.start()
        relays.append(r)
        return r

    yield _start
    for r in relays:
        await r.shutdown()


@pytest.fixture
async def relay(start_relay):
    return await start_relay()


def _settings(sink, tmp_path):
    return load_settings(
        None,
        {
            "listen": f"{HOST}:{free_port()}",
            "upstream": f"{HOST}:{sink.port}",
            "data_dir": tmp_path,
            "workers": 1,
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
    for _ in range(100):  # the stuck worker was killed and a fresh one started
        if slow.replaced:
            break
        await asyncio.sleep(0.05)
    assert slow.replaced == 1


def _slow_inspect(envelope, raw, policy):  # runs in the worker process, loaded by name
    time.sleep(60)
