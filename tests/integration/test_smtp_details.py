"""What a real SMTP client notices: extensions, refusals with the right codes, trace
lines, and a pool no handful of idle clients can take."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest

from tests.support.mail import address, compose
from tests.support.net import HOST


async def raw_session(port: int, lines: list[bytes], *, source: str = HOST) -> list[str]:
    """Write ``lines`` in one go (pipelined) and read every reply until QUIT's."""
    reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
    replies = [(await reader.readline()).decode()]
    writer.write(b"".join(lines))
    await writer.drain()
    while not replies[-1].startswith("221"):
        line = await asyncio.wait_for(reader.readline(), 30)
        if not line:
            break
        replies.append(line.decode())
    writer.close()
    return [r.rstrip("\r\n") for r in replies]


def config(tmp_path, text: str) -> str:
    path = tmp_path / "mailguard.yaml"
    path.write_text(text)
    return str(path)


async def test_pipelined_commands_deliver_the_message_once(sink, mailguard):
    sender, rcpts = address(), [address("example.org"), address("example.org")]
    body = compose(sender=sender, to=rcpts)
    client = aiosmtplib.SMTP(hostname=HOST, port=mailguard.port, timeout=30)
    async with client:
        assert client.supports_extension("pipelining")
        errors, reply = await client.sendmail(sender, rcpts, body)  # aiosmtplib pipelines
    assert errors == {} and reply.startswith("2.0.0")
    [got] = sink.wait_for(1)
    assert sorted(got.rcpt_tos) == sorted(rcpts) and got.content == body
    await asyncio.sleep(0.3)
    assert len(sink.messages) == 1


async def test_a_utf8_address_without_smtputf8_is_refused_as_rfc_6531_says(sink, mailguard):
    replies = await raw_session(
        mailguard.port,
        [
            b"EHLO client.northdown.test\r\n",
            "MAIL FROM:<zoë@northdown.gov.uk>\r\n".encode(),
            b"RSET\r\n",
            f"MAIL FROM:<{address()}>\r\n".encode(),
            "RCPT TO:<józef@exämple.org>\r\n".encode(),
            b"QUIT\r\n",
        ],
    )
    assert any(r.startswith("553 5.6.7") and "sender" in r for r in replies)
    assert any(r.startswith("553 5.6.7") and "recipient" in r for r in replies)
    refused = [e for e in mailguard.events("message") if e.get("refused")]
    assert [(e["stage"], e["reply"]) for e in refused] == [("MAIL", 553), ("RCPT", 553)]
    assert "zoë" not in mailguard.log_text()


async def test_a_message_with_nul_bytes_is_refused_and_not_delivered(sink, mailguard):
    sender, rcpt = address(), address("example.org")
    content = compose(sender=sender, to=[rcpt], body="NHS\x00number hidden behind a NUL\n")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await aiosmtplib.send(
            content, sender=sender, recipients=[rcpt], hostname=HOST, port=mailguard.port
        )
    assert refused.value.code == 550 and "NUL" in refused.value.message
    await asyncio.sleep(0.3)
    assert sink.messages == []


async def test_xforward_from_postfix_names_the_original_client_in_the_log(sink, mailguard):
    sender, rcpt = address(), address()
    replies = await raw_session(
        mailguard.port,
        [
            b"EHLO relay.northdown.test\r\n",
            b"XFORWARD NAME=pc-17.northdown.test ADDR=10.20.30.40 PORT=50123\r\n",
            b"XFORWARD PROTO=ESMTP HELO=pc-17 SOURCE=REMOTE IDENT=[UNAVAILABLE]\r\n",
            f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode(),
            compose(sender=sender, to=[rcpt]) + b".\r\nQUIT\r\n",
        ],
    )
    assert any("250-XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE" in r for r in replies)
    assert any(r.startswith("250 2.0.0 Ok: queued as") for r in replies)
    [event] = [e for e in mailguard.events("message") if e.get("reply") == 250]
    assert (event["client"], event["client_name"], event["helo"], event["via"]) == (
        "10.20.30.40", "pc-17.northdown.test", "pc-17", "127.0.0.1"
    )  # fmt: skip


async def test_xforward_is_neither_offered_nor_believed_from_other_clients(
    sink, start_mailguard, tmp_path
):
    mg = start_mailguard(
        sink.port, "--config", config(tmp_path, 'xforward_allow: ["10.9.9.0/24"]\n')
    )
    replies = await raw_session(
        mg.port,
        [b"EHLO pc.northdown.test\r\n", b"XFORWARD ADDR=10.20.30.40\r\n", b"QUIT\r\n"],
    )
    assert not any("XFORWARD" in r for r in replies if r.startswith("250"))
    assert "550 5.7.0 Error: insufficient authorization" in replies


async def test_a_received_line_is_added_only_when_asked(sink, start_mailguard, tmp_path):
    sender, rcpt = address(), address()
    content = compose(sender=sender, to=[rcpt])
    plain = start_mailguard(sink.port)
    await aiosmtplib.send(content, sender=sender, recipients=[rcpt], hostname=HOST, port=plain.port)
    [unchanged] = sink.wait_for(1)
    assert unchanged.content == content  # off by default: the bytes are promised unchanged

    sink.reset()
    traced = start_mailguard(
        sink.port, "--hostname", "guard.northdown.test",
        "--config", config(tmp_path, "received_header: true\n"),
    )  # fmt: skip
    await aiosmtplib.send(
        content, sender=sender, recipients=[rcpt], hostname=HOST, port=traced.port,
        local_hostname="pc-17.northdown.test",
    )  # fmt: skip
    [got] = sink.wait_for(1)
    head, _, rest = got.content.partition(b"\r\n\tby ")
    assert head == b"Received: from pc-17.northdown.test (unknown [127.0.0.1])"
    assert rest.startswith(b"guard.northdown.test (mailguard) with ESMTP id ")
    assert got.content.endswith(content)
    assert got.content.count(b"Received: ") == content.count(b"Received: ") + 1


async def test_idle_clients_from_one_address_cannot_take_the_whole_upstream_pool(
    sink, start_mailguard, tmp_path
):
    """Pool of 3, at most 2 per address: two idle transactions from 127.0.0.1, a third
    from the same address waits its turn and then hears 451, and a client at 127.0.0.2
    still gets through."""
    mg = start_mailguard(
        sink.port,
        "--config",
        config(
            tmp_path,
            "upstream_max_connections: 3\nupstream_per_client: 2\nupstream_connect_timeout: 1\n",
        ),
    )
    idle = []
    for _ in range(2):
        client = aiosmtplib.SMTP(hostname=HOST, port=mg.port, timeout=30)
        await client.connect()
        await client.mail(address())
        await client.rcpt(address("example.org"))
        idle.append(client)
    third = aiosmtplib.SMTP(hostname=HOST, port=mg.port, timeout=30)
    await third.connect()
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as busy:
        await third.mail(address())
    assert busy.value.code == 451 and "4.7.0" in busy.value.message
    third.close()

    other = aiosmtplib.SMTP(hostname=HOST, port=mg.port, source_address=("127.0.0.2", 0))
    async with other:
        sender, rcpt = address(), address("example.org")
        _, reply = await other.sendmail(sender, [rcpt], compose(sender=sender, to=[rcpt]))
    assert reply.startswith("2.0.0")
    assert [m.rcpt_tos for m in sink.wait_for(1)] == [[rcpt]]
    for client in idle:
        client.close()


async def test_a_client_idle_mid_transaction_gives_its_upstream_connection_back(
    sink, start_mailguard, tmp_path
):
    mg = start_mailguard(
        sink.port,
        "--config",
        config(tmp_path, "upstream_max_connections: 1\nupstream_idle_release: 1\n"),
    )
    slow = aiosmtplib.SMTP(hostname=HOST, port=mg.port, timeout=30)
    await slow.connect()
    await slow.mail(address())
    await slow.rcpt(address("example.org"))
    await asyncio.sleep(2)  # the only upstream connection is free again
    sender, rcpt = address(), address("example.org")
    _, reply = await aiosmtplib.send(
        compose(sender=sender, to=[rcpt]), sender=sender, recipients=[rcpt],
        hostname=HOST, port=mg.port, timeout=30,
    )  # fmt: skip
    assert reply.startswith("2.0.0")
    with pytest.raises(aiosmtplib.SMTPResponseException) as late:
        await slow.data(compose())
    assert late.value.code == 451 and "idle" in late.value.message  # it keeps its mail
    slow.close()
    assert [m.rcpt_tos for m in sink.wait_for(1)] == [[rcpt]]


async def test_a_burst_from_the_councils_own_mta_waits_its_turn_instead_of_failing(
    sink, start_mailguard, tmp_path
):
    """Six messages at once from one address with a share of two: the extra ones wait
    for a free slot of their own and are all delivered, none refused."""
    mg = start_mailguard(sink.port, "--config", config(tmp_path, "upstream_per_client: 2\n"))

    async def one() -> str:
        sender, rcpt = address(), address("example.org")
        _, reply = await aiosmtplib.send(
            compose(sender=sender, to=[rcpt]), sender=sender, recipients=[rcpt],
            hostname=HOST, port=mg.port, timeout=30,
        )  # fmt: skip
        return reply

    replies = await asyncio.gather(*(one() for _ in range(6)))
    assert all(r.startswith("2.0.0") for r in replies)
    assert len(sink.wait_for(6)) == 6


async def test_replies_to_pipelined_commands_come_back_in_one_write(sink, mailguard):
    """RFC 2920, as Postfix's smtpd does it: MAIL, RCPT, RCPT, DATA sent together are
    answered together (one write, not four), in order, and the message goes through."""
    sender, rcpts = address(), [address("example.org"), address("example.org")]
    reader, writer = await asyncio.open_connection(HOST, mailguard.port)
    await reader.readline()
    writer.write(b"EHLO client.northdown.test\r\n")
    while not (await reader.readline()).startswith(b"250 "):
        pass
    writer.write(
        f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpts[0]}>\r\nRCPT TO:<{rcpts[1]}>\r\nDATA\r\n".encode()
    )
    first = await asyncio.wait_for(reader.read(4096), 30)
    assert [line[:3] for line in first.split(b"\r\n") if line] == [b"250", b"250", b"250", b"354"]
    writer.write(compose(sender=sender, to=rcpts) + b".\r\nQUIT\r\n")
    rest = await asyncio.wait_for(reader.read(), 30)
    assert [line[:3] for line in rest.split(b"\r\n") if line] == [b"250", b"221"]
    writer.close()
    [got] = sink.wait_for(1)
    assert sorted(got.rcpt_tos) == sorted(rcpts)
