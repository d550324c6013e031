"""The relay over real SMTP: client (aiosmtplib) → mailguard serve → aiosmtpd sink."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from pathlib import Path

import aiosmtplib
import pytest

from tests.support import files
from tests.support.mail import address, compose, fake, message_id
from tests.support.net import HOST, eventually, free_port
from tests.support.sink import Sink


@pytest.fixture(scope="module")
def sink(module_sink):
    """One upstream for the module, reset before each test."""
    return module_sink


@pytest.fixture(autouse=True)
def _reset_sink(sink):
    sink.reset()


@pytest.fixture(scope="module")
def mailguard(sink, start_module_mailguard):
    """One relay for the tests that only send through it; a test that signals the
    relay, kills its workers or counts its upstream connections has its own."""
    return start_module_mailguard(sink.port)


@pytest.fixture
def own_relay(sink, start_mailguard):
    return start_mailguard(sink.port)


async def send(port: int, sender: str, rcpts: list[str], content: bytes, **kw):
    return await aiosmtplib.send(
        content, sender=sender, recipients=rcpts, hostname=HOST, port=port, timeout=30, **kw
    )


async def test_clean_mail_arrives_byte_for_byte(sink, mailguard):
    sender, rcpt = address(), address("example.org")
    long_subject = " ".join(fake.words(60))
    content = compose(
        sender=sender,
        to=[rcpt],
        subject="Café rates — £40 refund",
        body=".leading dot survives\n..two dots too\nÜmlaut, 日本語, Łódź\n",
        extra_headers=[
            # A long folded header must reach the upstream exactly as sent.
            f"X-Long: {long_subject[:70]}\r\n\t{long_subject[70:]}",
        ],
    )
    errors, reply = await send(
        mailguard.port, sender, [rcpt], content, mail_options=["BODY=8BITMIME"]
    )

    assert errors == {}
    assert reply.startswith("2.0.0 Ok: queued as")
    [got] = sink.wait_for(1)
    assert got.content == content
    assert got.mail_from == sender and got.rcpt_tos == [rcpt]
    assert "BODY=8BITMIME" in got.mail_options


async def test_utf8_addresses_are_carried_with_smtputf8(sink, mailguard):
    sender = "zoë.ødegård@northdown.gov.uk"
    rcpt = "józef@exämple.org"
    content = compose(sender=sender, to=[rcpt], subject="Grüße")
    client = aiosmtplib.SMTP(hostname=HOST, port=mailguard.port, timeout=30)
    async with client:
        assert client.supports_extension("smtputf8")
        assert client.supports_extension("8bitmime")
        await client.sendmail(sender, [rcpt], content, mail_options=["SMTPUTF8"])
    [got] = sink.wait_for(1)
    assert got.content == content
    assert (got.mail_from, got.rcpt_tos) == (sender, [rcpt])
    assert "SMTPUTF8" in got.mail_options


async def test_upstream_down_gives_451_then_retry_is_delivered_once(start_mailguard):
    upstream_port = free_port()
    mg = start_mailguard(upstream_port)
    sender, rcpt = address(), address("example.org")
    content = compose(sender=sender, to=[rcpt])

    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(mg.port, sender, [rcpt], content)
    assert refused.value.code == 451

    sink = Sink(port=upstream_port)
    sink.start()
    try:
        await send(mg.port, sender, [rcpt], content)
        got = sink.wait_for(1)
        await asyncio.sleep(0.3)  # anything extra would have arrived by now
        assert [m.content for m in sink.messages] == [content]
        assert len(got) == 1
    finally:
        sink.stop()


async def test_recipient_refused_upstream_gets_that_reply_and_others_are_delivered(sink, mailguard):
    good1, bad, good2 = address("example.org"), address("example.org"), address("example.net")
    sink.behaviour.refuse_rcpt[bad] = "550 5.1.1 Recipient address rejected: User unknown"
    sender = address()
    content = compose(sender=sender, to=[good1, bad, good2])

    errors, _ = await send(mailguard.port, sender, [good1, bad, good2], content)

    assert set(errors) == {bad}
    assert errors[bad].code == 550
    assert "User unknown" in errors[bad].message
    [got] = sink.wait_for(1)
    assert got.rcpt_tos == [good1, good2]
    assert got.content == content


async def test_two_hundred_concurrent_messages_are_each_delivered_exactly_once(sink, mailguard):
    contents = [compose() for _ in range(200)]

    async def one(content: bytes):
        return await send(mailguard.port, address(), [address("example.org")], content)

    results = await asyncio.gather(*(one(c) for c in contents))

    assert all(errors == {} for errors, _ in results)
    got = sink.wait_for(200)
    await asyncio.sleep(0.3)
    ids = [message_id(m.content) for m in sink.messages]
    assert len(ids) == 200
    assert sorted(ids) == sorted(message_id(c) for c in contents)
    # Pooled upstream connections: far fewer connections than messages.
    assert sink.connections < 100, sink.connections
    assert len(got) == 200


async def test_sequential_messages_reuse_one_upstream_connection(sink, own_relay):
    for _ in range(10):
        await send(own_relay.port, address(), [address("example.org")], compose())
    assert len(sink.wait_for(10)) == 10
    assert sink.connections == 1


async def test_oversize_message_gets_552_and_nothing_is_relayed(sink, start_mailguard):
    mg = start_mailguard(sink.port, "--max-size", "64k")
    sender, rcpt = address(), address("example.org")
    big = compose(sender=sender, to=[rcpt], body="x" * 70 + "\n" * 1 + ("y" * 76 + "\n") * 1000)

    # Declared size (SIZE=) is refused at MAIL, undeclared at end of DATA.
    with pytest.raises(aiosmtplib.SMTPResponseException) as at_mail:
        await send(mg.port, sender, [rcpt], big)
    assert at_mail.value.code == 552

    client = aiosmtplib.SMTP(hostname=HOST, port=mg.port, timeout=30)
    async with client:
        await client.execute_command(b"MAIL", b"FROM:<" + sender.encode() + b">")
        await client.rcpt(rcpt)
        with pytest.raises(aiosmtplib.SMTPDataError) as at_data:
            await client.data(big)
    assert at_data.value.code == 552
    await asyncio.sleep(0.3)
    assert sink.messages == []


async def test_too_many_recipients_get_452(sink, start_mailguard):
    mg = start_mailguard(sink.port, "--max-recipients", "3")
    rcpts = [address("example.org") for _ in range(5)]
    errors, _ = await send(mg.port, address(), rcpts, compose(to=rcpts))
    assert {r: e.code for r, e in errors.items()} == {rcpts[3]: 452, rcpts[4]: 452}
    [got] = sink.wait_for(1)
    assert got.rcpt_tos == rcpts[:3]


async def test_null_sender_bounce_is_relayed(sink, mailguard):
    rcpt = address()
    content = compose(sender="mailer-daemon@example.org", to=[rcpt], subject="Undelivered")
    async with aiosmtplib.SMTP(hostname=HOST, port=mailguard.port, timeout=30) as client:
        assert (await client.execute_command(b"MAIL", b"FROM:<>")).code == 250
        await client.rcpt(rcpt)
        await client.data(content)
    [got] = sink.wait_for(1)
    assert got.mail_from == "<>"
    assert got.content == content


def smtp_dialogue(port: int, chunks: list[bytes], timeout: float = 10.0) -> bytes:
    """Talk raw SMTP (for things a well-behaved client library refuses to send)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.settimeout(timeout)
        received = s.recv(1024)
        for chunk in chunks:
            s.sendall(chunk)
            received += _read_replies(s)
        return received


def _read_replies(s: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            part = s.recv(4096)
        except TimeoutError:
            return data
        if not part:
            return data
        data += part
        lines = data.split(b"\r\n")
        if len(lines) >= 2 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return data


@pytest.mark.parametrize(
    "terminator",
    [b"\n.\r\n", b"\r\n.\n", b"\n.\n", b"\r.\r\n"],
    ids=["LF.CRLF", "CRLF.LF", "LF.LF", "CR.CRLF"],
)
def test_smuggled_second_message_never_reaches_upstream(sink, mailguard, terminator):
    sender, victim = address(), address("example.org")
    smuggled = (
        b"MAIL FROM:<ceo@" + b"northdown.gov.uk>\r\nRCPT TO:<" + victim.encode() + b">\r\n"
        b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n.\r\n"
    )
    data = b"Subject: first\r\n\r\nfirst body" + terminator + smuggled
    transcript = smtp_dialogue(
        mailguard.port,
        [
            b"EHLO client.example\r\n",
            b"MAIL FROM:<" + sender.encode() + b">\r\n",
            b"RCPT TO:<" + victim.encode() + b">\r\n",
            b"DATA\r\n",
            data + b"\r\n.\r\n",
            b"QUIT\r\n",
        ],
    )
    assert b"550 5.6.0" in transcript
    time.sleep(0.3)
    assert [m for m in sink.messages if b"smuggled" in m.content] == []
    assert sink.messages == []


def test_client_outside_allowed_networks_is_refused(sink, start_mailguard):
    mg = start_mailguard(sink.port, "--allow", "192.0.2.0/24")
    with socket.create_connection((HOST, mg.port), timeout=5) as s:
        greeting = s.recv(1024)
        assert greeting.startswith(b"421 4.7.1")
        assert s.recv(1024) == b""  # and the connection is closed
    assert mg.events("client_refused")


async def test_upstream_temporary_failure_at_data_is_passed_back_as_4xx(sink, mailguard):
    sink.behaviour.data_reply = "452 4.3.1 Insufficient system storage"
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(mailguard.port, address(), [address("example.org")], compose())
    assert refused.value.code == 452


async def test_upstream_permanent_refusal_at_data_is_passed_back(sink, mailguard):
    sink.behaviour.data_reply = "554 5.7.1 Message rejected by upstream content filter"
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(mailguard.port, address(), [address("example.org")], compose())
    assert refused.value.code == 554
    assert "upstream content filter" in refused.value.message


async def test_upstream_dropping_connection_mid_data_gives_451_and_relay_recovers(sink, mailguard):
    sink.behaviour.drop_on_data = True
    with pytest.raises(aiosmtplib.SMTPResponseException) as lost:
        await send(mailguard.port, address(), [address("example.org")], compose())
    assert lost.value.code == 451

    sink.behaviour.drop_on_data = False
    content = compose()
    await send(mailguard.port, address(), [address("example.org")], content)
    assert [m.content for m in sink.wait_for(1)] == [content]


async def test_sigterm_finishes_messages_in_flight_and_exits_zero(sink, own_relay):
    # A first message warms the worker up, so the eight below reach the upstream
    # together however busy the machine is.
    await send(own_relay.port, address(), [address("example.org")], compose())
    sink.reset()
    sink.behaviour.data_delay = 2.0  # the upstream is slow: messages are mid-flight
    contents = [compose() for _ in range(8)]
    sends = [
        asyncio.create_task(send(own_relay.port, address(), [address("example.org")], c))
        for c in contents
    ]
    assert await eventually(lambda: sink.data_started == 8, within=30, interval=0.02)
    own_relay.signal(signal.SIGTERM)
    await asyncio.sleep(0.3)

    # While draining, new clients are told to come back later...
    greeting = await asyncio.to_thread(smtp_dialogue, own_relay.port, [])
    assert greeting.startswith(b"421 4.3.2")
    # ...and every message already in flight is delivered and acknowledged.
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert all(not isinstance(r, BaseException) for r in results), results
    assert sorted(m.content for m in sink.wait_for(8)) == sorted(contents)
    assert await asyncio.to_thread(own_relay.wait, 30) == 0


async def test_sighup_does_not_stop_the_relay(sink, own_relay):
    own_relay.signal(signal.SIGHUP)
    await asyncio.sleep(0.3)
    content = compose()
    await send(own_relay.port, address(), [address("example.org")], content)
    assert [m.content for m in sink.wait_for(1)] == [content]


async def test_client_that_stalls_in_data_is_cut_off_without_delivery(
    sink, tmp_path, start_mailguard
):
    config = tmp_path / "mailguard.yaml"
    config.write_text("data_timeout: 1\ncommand_timeout: 30\n")
    mg = start_mailguard(sink.port, "--config", str(config))
    reader, writer = await asyncio.open_connection(HOST, mg.port)
    await reader.readline()
    rcpt = address("example.org")
    for line in [
        b"EHLO c\r\n",
        f"MAIL FROM:<{address()}>\r\n".encode(),
        f"RCPT TO:<{rcpt}>\r\n".encode(),
        b"DATA\r\n",
    ]:
        writer.write(line)
        await writer.drain()
        while True:
            reply = await reader.readline()
            if reply[3:4] != b"-":
                break
    writer.write(b"Subject: slow\r\n\r\nstarted but never fini")
    await writer.drain()
    rest = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    assert rest.startswith(b"421 4.4.2")
    await asyncio.sleep(0.3)
    assert sink.messages == []


def _children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    with open(path) as f:
        return [int(p) for p in f.read().split()]


def _named(name: str, parent: int) -> list[int]:
    """The processes below ``parent`` that ``ps -o comm`` shows as ``name``."""
    found = []
    for child in _children(parent):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{child}/comm").read_text().strip() == name:
                found.append(child)
        found += _named(name, child)
    return found


async def test_a_dead_inspection_worker_is_replaced_and_mail_keeps_flowing(sink, own_relay):
    [zygote] = _named("mg-zygote", own_relay.proc.pid)
    workers = _named("mg-worker", zygote)
    assert workers, "expected inspection workers, forked from the relay's zygote"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.5)

    content = compose()
    await send(own_relay.port, address(), [address("example.org")], content)

    assert [m.content for m in sink.wait_for(1)] == [content]
    died = own_relay.events("worker_died")
    assert died and died[0]["exit_code"] == -signal.SIGKILL
    # Forked again by the same zygote, not started as a new interpreter.
    assert await eventually(lambda: _named("mg-worker", zygote), within=10)
    assert not set(workers) & set(_named("mg-worker", zygote))
    assert _named("mg-worker", own_relay.proc.pid) == _named("mg-worker", zygote)


async def test_without_its_zygote_the_relay_starts_workers_as_new_processes(sink, own_relay):
    [zygote] = _named("mg-zygote", own_relay.proc.pid)
    doomed = [zygote, *_named("mg-worker", zygote)]
    for pid in doomed:
        os.kill(pid, signal.SIGKILL)

    assert await eventually(lambda: own_relay.events("worker_zygote_died"), within=10)
    assert await eventually(lambda: _named("mg-worker", own_relay.proc.pid), within=60)
    spawned = _named("mg-worker", own_relay.proc.pid)
    assert set(spawned) <= set(_children(own_relay.proc.pid))  # not forked: its own child
    content = compose()
    await send(own_relay.port, address(), [address("example.org")], content)
    assert [m.content for m in sink.wait_for(1)] == [content]
    assert not set(doomed) & set(_children(own_relay.proc.pid))  # and no zombie left


async def test_a_worker_over_its_time_is_killed_and_forked_again(tmp_path, sink, start_mailguard):
    config = tmp_path / "c.yaml"
    config.write_text("inspect_timeout: 0.3\n")
    policy = Path(__file__).parents[2] / "policies" / "council-default.yaml"
    mg = start_mailguard(sink.port, "--config", str(config), "--policy", str(policy))
    [zygote] = _named("mg-zygote", mg.proc.pid)
    [worker] = _named("mg-worker", zygote)
    # Its worker has not loaded the recognisers yet (tests defer them): seconds, not 0.3.
    content = files.message_with({"tenants.csv": files.csv_bytes(files.residents(200))})

    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(mg.port, "officer@council.example", ["someone@example.org"], content)

    assert refused.value.code == 451
    assert await eventually(lambda: mg.events("worker_died"), within=10)
    assert mg.events("worker_died")[0]["exit_code"] == -signal.SIGKILL
    assert await eventually(lambda: _named("mg-worker", zygote) not in ([], [worker]), within=10)
    assert sink.messages == []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def test_a_killed_relay_leaves_no_inspection_process_behind(sink, own_relay):
    [zygote] = _named("mg-zygote", own_relay.proc.pid)
    left = [zygote, *_named("mg-worker", zygote)]
    assert all(_running(pid) for pid in left)
    own_relay.proc.kill()
    own_relay.proc.wait()
    assert await eventually(lambda: not any(_running(pid) for pid in left), within=15)


async def test_lines_longer_than_rfc_5321_allows_are_relayed_not_bounced(sink, mailguard):
    # e.g. a base64 attachment a script sent without line breaks
    for length in (5000, 300_000):
        content = compose(body="x" * length + "\n")
        await send(mailguard.port, address(), [address("example.org")], content)
        assert sink.wait_for(1)[-1].content == content
        sink.messages.clear()
