"""The relay leans on aiosmtpd internals that have no public hook (timers, session and
envelope factories, the raw writer). If an aiosmtpd release renames any of them, this
fails before any mail does."""

from __future__ import annotations

import asyncio
from importlib.metadata import version

from aiosmtpd.smtp import SMTP

from mailguard.smtp.protocol import AIOSMTPD_PRIVATE_NAMES


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
    finally:
        writer.close()
        server.close()
        await server.wait_closed()
