"""Whatever breaks inside mailguard, the client hears 451 and keeps the message.

These run the relay in-process (real listener, real upstream sink, real SMTP client)
so a fault can be injected into one of its parts.
"""

from __future__ import annotations

import aiosmtplib
import pytest

from mailguard.config import load_settings
from mailguard.delivery.upstream import UpstreamTransaction
from mailguard.smtp.server import Relay
from mailguard.workers import InspectionPool
from tests.conftest import HOST, free_port
from tests.mail import address, compose


@pytest.fixture
async def relay(sink, tmp_path):
    settings = load_settings(
        None,
        {
            "listen": f"{HOST}:{free_port()}",
            "upstream": f"{HOST}:{sink.port}",
            "data_dir": tmp_path,
            "workers": 1,
        },
    )
    r = Relay(settings)
    await r.start()
    yield r
    await r.shutdown()


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
    assert relay.upstream.idle_count == 1  # nothing leaked from the failed transaction


async def test_inspection_over_its_time_budget_is_a_451(sink, relay, monkeypatch):
    relay.inspector.timeout = 0.2
    monkeypatch.setattr("mailguard.pipeline.inspect", _slow_inspect)
    async with aiosmtplib.SMTP(hostname=HOST, port=relay.settings.listen[1]) as client:
        with pytest.raises(aiosmtplib.SMTPDataError) as failed:
            await client.sendmail(address(), [address("example.org")], compose())
    assert failed.value.code == 451
    assert sink.messages == []


def _slow_inspect(envelope, raw):  # runs in the worker, which imports it by name
    import time

    time.sleep(1.5)
