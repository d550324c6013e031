"""DATA read in chunks gives what aiosmtpd's line-by-line reader gives, byte for byte."""

from __future__ import annotations

import asyncio
import random

import pytest

from mailguard.smtp.data import Problem, read_data

LINE_LIMIT = 1000


def by_lines(wire: bytes) -> bytes:
    """RFC 5321 4.5.2 as aiosmtpd applies it: lines end at CRLF, a line that starts
    with a dot loses it, a lone dot ends the data."""
    out = []
    for line in wire.split(b"\r\n"):
        if line == b".":
            break
        out.append(line[1:] if line.startswith(b".") else line)
    return b"".join(x + b"\r\n" for x in out)


async def read(wire: bytes, pieces: int = 1, size_limit: int | None = None, seed: int = 0):
    """Feed the wire to a reader in ``pieces`` random cuts, as TCP may deliver it."""
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    cuts = sorted(random.Random(seed).sample(range(1, len(wire)), pieces - 1)) if pieces > 1 else []

    async def feed() -> None:
        for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
            reader.feed_data(wire[start:end])
            await asyncio.sleep(0)

    feeding = asyncio.ensure_future(feed())
    data = await read_data(reader, size_limit, LINE_LIMIT)
    await feeding
    return data, reader


MESSAGES = [
    b"",
    b"Subject: x\r\n\r\nbody\r\n",
    b".starts with a dot\r\n..two\r\n...three\r\n.\r\n".replace(b"\r\n.\r\n", b"\r\n..\r\n"),
    b"Subject: s\r\n\r\nEnd of a sentence.\r\nAnother.\r\n\r\n.x\r\n",
    b"a line ending in a dot.\r\n..\r\n. \r\n",
    b"bare LF in a line\n.\r\nstill data\r\n",  # "\n.\r\n" is not the end (smuggling)
    b"x" * 2500 + b"\r\n" + b"QUJD" * 400 + b"\r\n",  # longer than the buffer limit
]


@pytest.mark.parametrize("message", MESSAGES)
@pytest.mark.parametrize("pieces", [1, 2, 7, 40])
async def test_chunked_reading_matches_line_by_line_reading(message, pieces):
    wire = message + b".\r\n"
    pieces = min(pieces, len(wire))
    for seed in range(5):
        data, _ = await read(wire, pieces, seed=seed)
        if max(map(len, wire.split(b"\r\n"))) + 2 > LINE_LIMIT:
            assert data.problem is Problem.TOO_LONG
        else:
            assert data.problem is None
            assert data.content == by_lines(wire)


async def test_what_follows_the_dot_stays_for_the_next_command():
    data, reader = await read(b"Subject: a\r\n\r\nbody.\r\n.\r\nQUIT\r\n", pieces=3)
    assert data.content == b"Subject: a\r\n\r\nbody.\r\n"
    assert await reader.readuntil(b"\r\n") == b"QUIT\r\n"


async def test_a_long_base64_attachment_is_kept_whole():
    body = b"".join(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=" * 2 + b"\r\n" for _ in range(3000))
    data, _ = await read(body + b".\r\n", pieces=50)
    assert data.content == body


async def test_over_the_size_limit_is_refused_only_after_the_end():
    wire = b"y" * 80 + b"\r\n"
    data, reader = await read(wire * 100 + b".\r\nRSET\r\n", pieces=9, size_limit=5000)
    assert data == type(data)(b"", Problem.TOO_MUCH)
    assert await reader.readuntil(b"\r\n") == b"RSET\r\n"


async def test_client_gone_mid_data_is_an_incomplete_read():
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    reader.feed_data(b"Subject: half\r\n\r\nand then")
    reader.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError):
        await read_data(reader, None, LINE_LIMIT)
