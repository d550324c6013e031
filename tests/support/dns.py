"""A real DNS server on 127.0.0.1 for tests, so that no test ever asks the internet.

It runs its own asyncio loop in a background thread, answering over UDP and TCP on one
port, so it serves in-process asyncio tests and ``mailguard serve`` subprocesses alike.
A slow answer is a sleep in its own task, so it never holds up the other queries.

    with StubDNS(records={"northdown.gov.uk": {"MX": ["10 mx.northdown.gov.uk."]}}) as stub:
        checker = DomainChecker([stub.address])
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from tests.support.net import HOST, ours

TTL = 300

Records = Mapping[str, Mapping[str, Sequence[str]]]


def _key(name: str | dns.name.Name) -> str:
    text = name.to_text(omit_final_dot=True) if isinstance(name, dns.name.Name) else name
    return text.rstrip(".").lower()


def _bind_udp_and_tcp() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same free port (retrying if TCP's is taken)."""
    for _ in range(200):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((HOST, 0))
        port = udp.getsockname()[1]
        if not ours(port):  # another xdist worker's port (tests/support/net.py)
            udp.close()
            continue
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((HOST, port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(64)
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise RuntimeError("no free port for both UDP and TCP")


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, stub: StubDNS) -> None:
        self.stub = stub
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stub._spawn(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        wire = await self.stub._respond(data, udp=True)
        if wire is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(wire, addr)


class StubDNS:
    """An authoritative-looking DNS server with a tiny, fixed zone.

    ``records`` maps a name to ``{type: [rdata text, ...]}``. A name not there is
    NXDOMAIN; a name there without the asked type is NOERROR with an empty answer.
    ``slow`` delays a name's answers by N seconds, ``servfail`` answers SERVFAIL, and
    ``drop`` never answers at all. ``queries`` lists every (name, type) received.
    """

    def __init__(
        self,
        records: Records | None = None,
        *,
        slow: Mapping[str, float] | None = None,
        servfail: Iterable[str] = (),
        drop: Iterable[str] = (),
    ) -> None:
        self.records: dict[str, dict[str, list[str]]] = {
            _key(name): {t.upper(): list(v) for t, v in types.items()}
            for name, types in (records or {}).items()
        }
        self.slow: dict[str, float] = {_key(n): s for n, s in (slow or {}).items()}
        self.servfail: set[str] = {_key(n) for n in servfail}
        self.drop: set[str] = {_key(n) for n in drop}
        self._queries: list[tuple[str, str]] = []
        self._tcp_queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._port = 0
        self._startup_error: BaseException | None = None

    # -- public ----------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) to give a resolver; the same port serves UDP and TCP."""
        if not self._port:
            raise RuntimeError("StubDNS is not running")
        return HOST, self._port

    @property
    def queries(self) -> list[tuple[str, str]]:
        """Every query received, as (lower-case name without final dot, type)."""
        with self._lock:
            return list(self._queries)

    @property
    def tcp_queries(self) -> list[tuple[str, str]]:
        """The queries that came over TCP (after a truncated UDP answer, say)."""
        with self._lock:
            return list(self._tcp_queries)

    def count(self, name: str, rdtype: str | None = None) -> int:
        """How many queries for ``name`` (and ``rdtype``, if given) arrived."""
        k = _key(name)
        return sum(1 for n, t in self.queries if n == k and (rdtype is None or t == rdtype))

    def clear(self) -> None:
        with self._lock:
            self._queries.clear()
            self._tcp_queries.clear()

    def start(self) -> StubDNS:
        if self._thread is not None:
            return self
        udp, tcp = _bind_udp_and_tcp()
        self._port = udp.getsockname()[1]
        self._thread = threading.Thread(
            target=self._run, args=(udp, tcp), name=f"stub-dns-{self._port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("StubDNS did not start")
        if self._startup_error is not None:
            raise RuntimeError("StubDNS failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._loop = None
        self._port = 0
        self._ready.clear()

    def __enter__(self) -> StubDNS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- server ----------------------------------------------------------------------

    def _run(self, udp: socket.socket, tcp: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        transport: asyncio.BaseTransport | None = None
        server: asyncio.Server | None = None
        try:
            try:
                transport, _ = loop.run_until_complete(
                    loop.create_datagram_endpoint(lambda: _UDP(self), sock=udp)
                )
                server = loop.run_until_complete(asyncio.start_server(self._serve_tcp, sock=tcp))
            except BaseException as e:
                self._startup_error = e
                udp.close()
                tcp.close()
                return
            finally:
                self._ready.set()
            loop.run_forever()
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                loop.run_until_complete(asyncio.wait(list(self._tasks)))
            if transport is not None:
                transport.close()
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.wait_for(server.wait_closed(), 2))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # type: ignore[arg-type]
        try:
            while True:
                header = await reader.readexactly(2)
                (length,) = struct.unpack("!H", header)
                data = await reader.readexactly(length)
                wire = await self._respond(data, udp=False)
                if wire is None:
                    continue
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)  # type: ignore[arg-type]

    async def _respond(self, data: bytes, *, udp: bool) -> bytes | None:
        """The wire answer to one query, or None to stay silent."""
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        name = _key(question.name)
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self._queries.append((name, rdtype))
            if not udp:
                self._tcp_queries.append((name, rdtype))

        if name in self.drop:
            return None
        delay = self.slow.get(name, 0.0)
        if delay:
            await asyncio.sleep(delay)

        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            rdatas = self.records[name].get(rdtype, [])
            if rdatas:
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name, TTL, dns.rdataclass.IN, question.rdtype, rdatas
                    )
                )
        limit = 65535
        if udp:
            limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.RA | dns.flags.TC
            return truncated.to_wire()
