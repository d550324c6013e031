"""The relay leans on aiosmtpd internals that have no public hook (timers, session and
envelope factories, the raw writer). If an aiosmtpd release renames any of them, this
fails before any mail does."""

from __future__ import annotations

import asyncio
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import aiosmtpd.smtp as aiosmtpd_smtp
import pytest
from aiosmtpd.smtp import SMTP

from mailguard.smtp.protocol import AIOSMTPD_PRIVATE_NAMES, STREAMREADER_PRIVATE_NAMES


class _Handler:
    pass


async def test_aiosmtpd_still_has_every_private_name_the_relay_uses():
    made: list[SMTP] = []

    def protocol() -> SMTP:
        made.append(SMTP(_Handler(), hostname="contract.invalid", timeout=5))
        return made[-1]

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert (await reader.readline()).startswith(b"220")
        [live] = made  # a connected session: its timer and writer exist now
        missing = [name for name in AIOSMTPD_PRIVATE_NAMES if not hasattr(live, name)]
        assert not missing, (
            f"aiosmtpd {version('aiosmtpd')} no longer has {missing}; "
            "mailguard/smtp/protocol.py must be adapted before this version is allowed"
        )
        assert live._timeout_handle is not None  # the idle timer the relay pauses
        gone = [n for n in STREAMREADER_PRIVATE_NAMES if not hasattr(live._reader, n)]
        assert not gone, f"asyncio.StreamReader no longer has {gone}"
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


class _AuthHandler:
    async def auth_TOKEN(self, server, args):  # a mechanism the handler adds
        return None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        return responses


def test_the_relays_per_class_member_lookup_gives_aiosmtpd_the_same_tables():
    """mailguard answers aiosmtpd's per-connection inspect calls from the class
    (mailguard.smtp.protocol); the AUTH table and EHLO hook must come out the same."""
    source = Path(aiosmtpd_smtp.__file__).read_text()
    used = set(re.findall(r"\binspect\.(\w+)", source))
    assert used <= {"getmembers", "signature"}, used  # a new use needs a look first
    # The one getmembers call keeps only auth_* members: all the lookup answers with.
    [call] = re.finditer(r"inspect\.getmembers\(", source)
    assert 'startswith("auth_")' in source[call.end() : call.end() + 120]
    loop = asyncio.new_event_loop()
    try:
        smtp = SMTP(_AuthHandler(), hostname="contract.invalid", loop=loop)
    finally:
        loop.close()
    expected = {
        name.removeprefix("auth_").replace("__", "-")
        for obj in (smtp, smtp.event_handler)
        for name, _ in inspect.getmembers(obj)
        if name.startswith("auth_")
    }
    assert set(smtp._auth_methods) == expected >= {"TOKEN", "LOGIN", "PLAIN"}
    assert smtp._auth_methods["TOKEN"].method.__self__ is smtp.event_handler
    assert smtp._ehlo_hook_ver == "new"


def test_the_relays_quick_reading_of_mail_and_rcpt_paths_agrees_with_aiosmtpd():
    """Plain ``<local@domain> PARAMS`` is read without aiosmtpd's header parser; every
    form, plain or not, must come out as aiosmtpd reads it (limit on the local part too)."""
    import itertools

    from mailguard.smtp.protocol import RelaySMTP

    local_parts = [
        "a",
        "a.b",
        "A.B+tag",
        "x_y-z",
        "a..b",
        ".a",
        '"q s"',
        "日本",
        "o'neil",
        "x" * 70,
    ]
    domains = ["b.c", "Example.ORG", "[192.0.2.1]", "a-b.c", "b..c", "b"]
    params = [
        "",
        " SIZE=100",
        " SIZE=100 BODY=8BITMIME",
        "  SIZE=1",
        "\tSIZE=1",
        " (c) SIZE=1",
        "x",
        " ",
    ]
    forms = ["<{}>", " <{}>", "{}", "<@relay.example:{}>"]
    for limit in (0, 64):
        theirs = SMTP(_Handler())
        theirs.local_part_limit = limit
        ours = RelaySMTP.__new__(RelaySMTP)
        ours.local_part_limit = limit
        for local, domain, rest, form in itertools.product(local_parts, domains, params, forms):
            arg = form.format(f"{local}@{domain}") + rest
            assert RelaySMTP._getaddr(ours, arg) == theirs._getaddr(arg), arg


@pytest.mark.parametrize(
    "message",
    [
        b"Subject: a\r\n\r\nbody\r\n",
        b".first line\r\n..second\r\nend.\r\n.\r\nx",
        b"bare\nLF and bare\rCR\r\n.dot after CRLF\n.dot after LF\r.dot after CR",
        b"",
        b".",
    ],
)
def test_the_relays_data_encoding_for_upstream_is_aiosmtplibs(message):
    """mailguard replaces aiosmtplib's line-ending and dot-stuffing regexes with a
    cheaper path for CRLF mail; the bytes on the wire must not change."""
    import aiosmtplib.protocol as protocol

    from mailguard.delivery import upstream

    original_normalize = upstream._normalize  # aiosmtplib's own, kept before replacing
    theirs = re.compile(rb"(?m)^\.").sub(b"..", original_normalize(message))
    ours = protocol.PERIOD_REGEX.sub(b"..", protocol.normalize_message_line_endings(message))
    assert ours == theirs


@pytest.mark.parametrize(
    "text",
    ["", "a", "a\r\n", "a\n", "a\r", "\r\n\r\n", "a\n\r", "a\r\n\n", "x" * 300 + "\r\n", "\n"],
)
def test_the_parsers_end_of_line_answer_is_the_standard_librarys(text):
    """mailguard replaces the feed parser's end-of-line regex (mime.py); it must say
    what the regex says, and the parser must still look it up under that name."""
    import email.feedparser

    from mailguard.intake import mime

    original = re.compile(r"(\r\n|\r|\n)\Z")
    assert mime._EndOfLine.pattern == original.pattern
    assert email.feedparser.NLCRE_eol is not original and hasattr(email.feedparser, "NLCRE_eol")
    ours, theirs = mime._EndOfLine().search(text), original.search(text)
    assert (ours and ours.group(0)) == (theirs and theirs.group(0))
