"""What does mailguard cost? Throughput and added latency against a bare relay.

Three kinds of process run on 127.0.0.1, each in its own interpreter so none
shares a GIL with another:

- a *sink* that counts every message it gets (the upstream MTA): a minimal SMTP
  protocol on uvloop that costs the machine little, or with ``--sink aiosmtpd`` an
  aiosmtpd server (half a core at these rates, taken from the relays under test);
- the *bare relay*, an aiosmtpd server that forwards each message to the sink and says
  250 only after the sink did, with no inspection: what relaying costs without any of
  mailguard's work. It is built as a user would build one: on uvloop when installed,
  with a pool of open upstream connections (``--bare-upstream per-message`` gives the
  naive one, a new ``aiosmtplib.send`` connection per message, on the same loop);
- ``mailguard serve``, relaying to the same sink.

The load generator (this process) sends the same synthetic messages through each
relay in alternating rounds, so drift on the machine hits both alike, and checks at
the sink that every message arrived exactly once. It does so in two connection modes
(``--connection-mode``): one message per client connection, as Exchange or Postfix
delivering on a new connection, and many messages per connection, as Postfix's
connection cache does. ``--relay-cpus`` pins both relays (and mailguard's children)
to the given CPUs, to show what one core gives against two.

Run from the repository root: ``.venv/bin/python bench/relay_bench.py --help``.
Exit status: 0 all delivered, 1 a message was lost, duplicated or refused, 2 a
process could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import hashlib
import itertools
import json
import logging
import math
import multiprocessing
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
BARE, MAILGUARD = "bare", "mailguard"
_ID_HEADER = b"X-Bench-Id: "
_ID_RE = re.compile(rb"^X-Bench-Id: *(\S+)", re.MULTILINE)
# Fixed names so no server or client looks up its own FQDN on every connection.
_SINK_NAME, _BARE_NAME, _CLIENT_NAME = "sink.bench.invalid", "bare.bench.invalid", "bench.invalid"
_SMTP_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)


# --- child processes: the sink and the bare relay --------------------------------------
class _SinkHandler:
    """Counts deliveries and duplicates; the parent reads both under one lock."""

    def __init__(self, counters: Any) -> None:
        self.counters = counters  # shared Array("q", 2): [received, duplicates]
        self.seen: set[bytes] = set()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or b"")
        return "250 OK"

    def count(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> None:
        if mail_from in ("", "<>") and len(self.counters) > 2:
            with self.counters.get_lock():
                self.counters[2] += 1  # mailguard's notices to senders, counted apart
            return
        found = _ID_RE.search(content, 0, 8192)
        key = found.group(1) if found else hashlib.sha1(content).digest()
        # smtp-source sends one text over and over, to numbered recipients (-N).
        key += b" " + " ".join(rcpt_tos).encode()
        duplicate = key in self.seen
        self.seen.add(key)
        with self.counters.get_lock():
            self.counters[0] += 1
            self.counters[1] += duplicate


def _path_of(command: bytes) -> str:
    """The address between the angle brackets of MAIL FROM:<...> or RCPT TO:<...>."""
    return command.partition(b"<")[2].partition(b">")[0].decode(errors="replace")


class _WireSink(asyncio.Protocol):
    """The sink as a few lines of SMTP on the event loop (``--sink wire``): what an MTA
    on another machine costs the relays, nothing. aiosmtpd takes half a core of this
    2-core machine at the relays' rates, which the relays under test then do not get.

    It answers every command in order (pipelined commands in one write), takes any
    MAIL and RCPT, and counts a message at the end of its DATA as ``_SinkHandler`` does.
    """

    _EHLO = (
        b"250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
        b"250 SIZE 104857600\r\n" % _SINK_NAME.encode()
    )

    def __init__(self, counter: _SinkHandler) -> None:
        self.counter = counter
        self.buffer = b""
        self.in_data = False
        self.scanned = 0
        self.mail_from = ""
        self.rcpt_tos: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(b"220 %s ESMTP\r\n" % _SINK_NAME.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out: list[bytes] = []
        while self.buffer:
            if self.in_data:
                # The terminator may straddle reads: search again from a little before.
                end = self.buffer.find(b"\r\n.\r\n", max(0, self.scanned - 4))
                if end < 0:
                    self.scanned = len(self.buffer)
                    break
                content = self.buffer[2 : end + 2]  # without the CRLF put before it
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                self.counter.count(self.mail_from, self.rcpt_tos, content)
                out.append(b"250 2.0.0 OK\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                break
            self.buffer = rest
            out.append(self._command(line))
        if out:
            self.transport.write(b"".join(out))  # type: ignore[attr-defined]
        if out and out[-1].startswith(b"221"):
            self.transport.close()

    def _command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"MAIL":
            self.mail_from = _path_of(line)
            self.rcpt_tos = []
            return b"250 2.1.0 OK\r\n"
        if verb == b"RCPT":
            self.rcpt_tos.append(_path_of(line))
            return b"250 2.1.5 OK\r\n"
        if verb == b"DATA":
            # An empty message ends at once: its terminator follows the 354 directly.
            self.in_data, self.scanned = True, 0
            self.buffer = b"\r\n" + self.buffer  # taken off again with the content
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"EHLO":
            return self._EHLO
        if verb == b"QUIT":
            return b"221 2.0.0 Bye\r\n"
        return b"250 2.0.0 OK\r\n"  # HELO, RSET, NOOP


class _BareRelayHandler:
    """The baseline: relay as plainly as possible, 250 only after the sink's 250.

    ``pooled`` keeps finished upstream connections open for the next message, as any
    relay meant for volume does; otherwise each message opens and closes its own.
    """

    def __init__(self, sink_port: int, pooled: bool) -> None:
        self.sink_port = sink_port
        self.pooled = pooled
        self.idle: list[aiosmtplib.SMTP] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        try:
            if self.pooled:
                await self._pooled(envelope.mail_from, envelope.rcpt_tos, content)
            else:
                await aiosmtplib.send(
                    content,
                    sender=envelope.mail_from,
                    recipients=envelope.rcpt_tos,
                    hostname=HOST,
                    port=self.sink_port,
                    local_hostname=_BARE_NAME,
                    start_tls=False,
                    timeout=30,
                )
        except _SMTP_ERRORS as exc:
            return f"451 4.4.1 bare relay: upstream failed ({type(exc).__name__})"
        return "250 OK"

    async def _pooled(self, sender: str, recipients: list[str], content: bytes) -> None:
        smtp = self.idle.pop() if self.idle else None
        if smtp is None or not smtp.is_connected:
            smtp = aiosmtplib.SMTP(
                hostname=HOST,
                port=self.sink_port,
                local_hostname=_BARE_NAME,
                start_tls=False,
                timeout=30,
            )
            await smtp.connect()
        try:
            await smtp.sendmail(sender, recipients, content)
        except BaseException:
            smtp.close()
            raise
        self.idle.append(smtp)


class _LongLineSMTP(SMTP):
    """Like Postfix, the stand-in upstream takes lines longer than RFC 5321's 1000."""

    line_length_limit = 1024 * 1024


def _child_main(
    kind: str, sink_port: int, counters: Any, conn: Connection, options: dict[str, Any]
) -> None:
    """Entry point of a spawned child; it lives until the parent closes ``conn``."""
    # Ctrl-C reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # aiosmtpd logs a traceback for every client that vanishes mid-session, as all do
    # on Ctrl-C; real trouble shows up in the counts the parent checks.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    if options.get("cpus"):
        os.sched_setaffinity(0, options["cpus"])
    factory: Any
    if kind == "sink" and options.get("wire"):
        counter = _SinkHandler(counters)
        factory = lambda: _WireSink(counter)  # noqa: E731
    else:
        handler: Any
        if kind == "sink":
            handler, name = _SinkHandler(counters), _SINK_NAME
        else:
            handler, name = _BareRelayHandler(sink_port, options["pooled"]), _BARE_NAME
        factory = lambda: _LongLineSMTP(handler, hostname=name, enable_SMTPUTF8=True)  # noqa: E731
    with asyncio.Runner(loop_factory=_loop_factory(options.get("uvloop", True))) as runner:
        runner.run(_child_serve(factory, conn))


def _loop_factory(wanted: bool) -> Any:
    """uvloop's loop when wanted and installed, as mailguard itself picks by default."""
    if wanted:
        try:
            import uvloop
        except ImportError:
            return None
        return uvloop.new_event_loop
    return None


async def _child_serve(factory: Any, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host=HOST, port=0)
    conn.send(server.sockets[0].getsockname()[1])
    # The parent never writes again: readable means it closed its end or died.
    stop = asyncio.Event()
    loop.add_reader(conn.fileno(), stop.set)
    await stop.wait()
    server.close()


# --- starting and stopping everything ---------------------------------------------------
class SetupError(Exception):
    """A process of the benchmark could not be started."""


@dataclass
class Child:
    process: SpawnProcess
    conn: Connection
    port: int


@dataclass
class Fleet:
    """Every process the benchmark starts, so one ``close`` ends them all."""

    children: list[Child] = field(default_factory=list)
    mailguard: subprocess.Popen[bytes] | None = None  # the last one started
    earlier: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_child(
        self,
        kind: str,
        sink_port: int = 0,
        counters: Any = None,
        options: dict[str, Any] | None = None,
    ) -> Child:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter, nothing inherited
        ours, theirs = ctx.Pipe()
        process = ctx.Process(
            target=_child_main,
            args=(kind, sink_port, counters, theirs, options or {"pooled": True}),
            name=f"bench-{kind}",
        )
        process.daemon = True
        process.start()
        theirs.close()
        child = Child(process, ours, 0)
        self.children.append(child)
        if not ours.poll(30):
            raise SetupError(f"{kind} did not report its port within 30 s")
        try:
            child.port = ours.recv()
        except EOFError:
            raise SetupError(f"{kind} exited during start-up") from None
        return child

    def start_mailguard(
        self,
        command: list[str],
        sink_port: int,
        data_dir: Path,
        log_path: Path,
        workers: int | None,
        log_level: str = "info",
        policy: Path | None = None,
        extra: list[str] | None = None,
        cpus: set[int] | None = None,
    ) -> int:
        port = _free_port()
        cmd = [
            *command,
            "serve",
            "--listen",
            f"{HOST}:{port}",
            "--upstream",
            f"{HOST}:{sink_port}",
            "--data-dir",
            str(data_dir),
            "--log-level",
            log_level,
        ]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        if policy is not None:
            cmd += ["--policy", str(policy)]
        cmd += extra or []

        if self.mailguard is not None:
            self.earlier.append(self.mailguard)

        def prepare() -> None:
            _die_with_parent()
            if cpus:
                os.sched_setaffinity(0, cpus)  # inherited by its workers and processes

        with log_path.open("wb") as log:
            self.mailguard = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C is ours to handle: SIGTERM it cleanly
                preexec_fn=prepare,
            )
        await_greeting(port, "mailguard", self.mailguard, log_path)
        return port

    def close(self) -> None:
        procs = [*self.earlier, *([self.mailguard] if self.mailguard else [])]
        self.mailguard, self.earlier = None, []
        for proc in procs:
            _end_session(proc)
        for child in reversed(self.children):
            child.conn.close()  # the child's cue to stop
        for child in reversed(self.children):
            child.process.join(5)
            if child.process.is_alive():
                child.process.kill()
                child.process.join()
        self.children.clear()


def _end_session(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """End the session we started mailguard in: it, its workers, any wrapper around it.

    SIGINT is Ctrl-C in its own terminal: mailguard drains and closes its worker pool
    (SIGINT and SIGTERM are the same to it), and a wrapper such as py-spy writes its
    output. Whatever is still there after ``grace`` seconds gets SIGKILL.
    """
    pgid = proc.pid  # start_new_session: the session and group ids are its pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()  # reap it, or its zombie would keep the group alive
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait()


def _die_with_parent() -> None:
    """If the benchmark itself is killed, mailguard gets SIGTERM instead of lingering."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def held_messages(data_dir: Path) -> int:
    """How many messages the quarantine in ``data_dir`` holds, asked as an admin would."""
    listing = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mailguard", "quarantine", "list", "--json", "--limit",
         "1000000", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return listing.stdout.count("\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def await_greeting(
    port: int,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    within: float = 30.0,
) -> None:
    """Until ``port`` answers with a 220; SetupError, with the tail of ``log``, when
    ``proc`` exits first or nothing greets in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SetupError(f"{what} exited early{_tail_of(log)}")
        if _greets(port):
            return
        time.sleep(0.05)
    raise SetupError(f"{what} did not greet on port {port} in {within:g} s{_tail_of(log)}")


def _tail_of(log: Path | None) -> str:
    return f":\n{_tail(log)}" if log is not None else ""


def _greets(port: int) -> bool:
    """True once a connection to ``port`` is answered with a 220 greeting."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as s:
            greeting = s.makefile("rb").readline()
            with contextlib.suppress(OSError):
                s.sendall(b"QUIT\r\n")
            return greeting.startswith(b"220")
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _process_tree_cpu(root: int, exited: bool = False) -> tuple[float, float]:
    """CPU seconds used so far by ``root`` alone and with its descendants, else NaN.

    Accounting per process (Linux /proc) shows which one saturates a core: a relay's
    event loop, its inspection workers, the sink or the load generator. ``exited``
    also counts children that ended and were waited for (their parent's cutime and
    cstime): amavis, for one, replaces its children after so many messages.
    """
    used = slice(11, 15 if exited else 13)  # utime stime [cutime cstime]
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = Path(entry.path, "stat").read_text()
            fields = text[text.rindex(")") + 2 :].split()
            stats[int(entry.name)] = (int(fields[1]), sum(map(int, fields[used])) / tick)
    if root not in stats:
        return math.nan, math.nan
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo.extend(p for p, (ppid, _) in stats.items() if ppid == pid)
    return stats[root][1], total


# --- messages ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Message:
    sender: str
    recipients: list[str]
    body: bytes  # headers and body, CRLF line endings, without the X-Bench-Id header


def make_messages(count: int, size: int, seed: int) -> list[Message]:
    """Synthetic, made-up mail of about ``size`` bytes: no real personal data.

    Names come from Faker (en_GB) when it is installed, the text is its lorem ipsum;
    without Faker both are random words. Every address is at a reserved example
    domain (RFC 2606). Bodies are drawn from a pool of paragraphs, which keeps
    generating thousands of messages to well under a second.
    """
    rng = random.Random(seed)
    words = [
        "council", "tax", "parking", "permit", "housing", "repair", "school", "meeting",
        "agenda", "planning", "waste", "application", "collection", "library", "grant",
        "consultation", "budget", "minutes", "report", "invoice", "licence", "road",
    ]  # fmt: skip
    try:
        from faker import Faker
    except ImportError:
        names = [f"{rng.choice(words).title()} {rng.choice(words).title()}" for _ in range(500)]
        paragraphs = [
            " ".join(rng.choice(words) for _ in range(60)).capitalize() + "." for _ in range(300)
        ]
    else:
        fake = Faker("en_GB")
        fake.seed_instance(seed)
        names = [str(fake.name()) for _ in range(500)]
        paragraphs = [str(fake.paragraph(nb_sentences=6)) for _ in range(300)]
    wrapped = [textwrap.wrap(p, 72) for p in paragraphs]

    messages = []
    for i in range(count):
        from_name, to_name = rng.choice(names), rng.choice(names)
        sender = f"{_local(from_name)}.{i}@example.org"
        recipient = f"{_local(to_name)}@example.com"
        lines = [
            f"From: {from_name} <{sender}>",
            f"To: {to_name} <{recipient}>",
            f"Subject: {textwrap.shorten(rng.choice(paragraphs), 60, placeholder='')}",
            f"Date: {formatdate(1_700_000_000 + i * 60, usegmt=True)}",
            f"Message-ID: <bench.{seed}.{i}@example.org>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=us-ascii",
            "Content-Transfer-Encoding: 7bit",
            "",
        ]
        length = sum(len(line) + 2 for line in lines)
        while length < size:
            for line in [*rng.choice(wrapped), ""]:
                lines.append(line)
                length += len(line) + 2
        body = ("\r\n".join(lines) + "\r\n").encode("ascii", "replace")
        messages.append(Message(sender, [recipient], body))
    return messages


def _local(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".") or "user"


# --- load generation --------------------------------------------------------------------
PER_MESSAGE, REUSE = "per-message", "reuse"
MODES = {"per-message": [PER_MESSAGE], "reuse": [REUSE], "both": [PER_MESSAGE, REUSE]}


@dataclass
class LoadResult:
    target: str
    mode: str  # PER_MESSAGE or REUSE
    label: str  # "warm-up" or "round N"
    sent: int
    wall_s: float
    latencies_ms: list[float]
    failures: Counter[str]
    cpu: dict[str, float]  # CPU seconds per process during the load
    lost: int = 0  # accepted with 250 but never reached the sink
    duplicated: int = 0  # reached the sink more than once
    unexpected: int = 0  # reached the sink although the client saw a failure

    @property
    def delivered_ok(self) -> bool:
        return not (self.failures or self.lost or self.duplicated or self.unexpected)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        data = sorted(self.latencies_ms)
        if not data:
            return math.nan
        return data[max(0, math.ceil(p / 100 * len(data)) - 1)]

    def summary(self) -> dict[str, Any]:
        return {
            "msg_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "wall_s": round(self.wall_s, 3),
            "ok": len(self.latencies_ms),
            "failed": sum(self.failures.values()),
            "cpu_s": {k: round(v, 2) for k, v in self.cpu.items()},
        }


def _client(port: int, smtp_timeout: float) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=HOST, port=port, timeout=smtp_timeout, start_tls=False, local_hostname=_CLIENT_NAME
    )


async def _on_time(due: float | None) -> None:
    """A paced client waits for its message's turn (``--rate``); late, it sends at once."""
    if due is not None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))


async def _persistent_client(
    smtp: aiosmtplib.SMTP,
    share: list[tuple[Message, bytes]],
    latencies: list[float],
    failures: Counter[str],
    schedule: Iterator[float | None],
) -> None:
    for message, content in share:
        await _on_time(next(schedule))
        if not smtp.is_connected:  # never connected, or the relay dropped us
            try:
                await smtp.connect()
            except _SMTP_ERRORS as exc:
                failures[f"connect: {_describe(exc)}"] += 1
                continue
        started = time.perf_counter()
        try:
            await smtp.sendmail(message.sender, message.recipients, content)
        except _SMTP_ERRORS as exc:
            failures[_describe(exc)] += 1
        else:
            latencies.append((time.perf_counter() - started) * 1000)


async def _connection_per_message_client(
    port: int,
    smtp_timeout: float,
    share: list[tuple[Message, bytes]],
    latencies: list[float],
    failures: Counter[str],
    schedule: Iterator[float | None],
) -> None:
    for message, content in share:
        await _on_time(next(schedule))
        smtp = _client(port, smtp_timeout)
        started = time.perf_counter()
        try:
            await smtp.connect()
            await smtp.sendmail(message.sender, message.recipients, content)
        except _SMTP_ERRORS as exc:
            failures[_describe(exc)] += 1
            smtp.close()
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        with contextlib.suppress(*_SMTP_ERRORS):
            await smtp.quit()  # not timed: the client has its answer already


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__


async def run_load(
    port: int,
    batch: list[tuple[Message, bytes]],
    clients: int,
    per_message_connection: bool,
    smtp_timeout: float,
    rate: float | None = None,
) -> tuple[float, list[float], Counter[str]]:
    """Send ``batch`` over ``clients`` concurrent clients; each client sends its share,
    as fast as it is answered or, with ``rate``, message i at i/rate seconds.

    With persistent connections, connecting happens before the clock starts, so the
    wall time measures steady-state relaying. Returns (wall s, latencies ms, failures).
    """
    shares = [share for share in (batch[i::clients] for i in range(clients)) if share]
    latencies: list[float] = []
    failures: Counter[str] = Counter()

    def schedule(client: int, started: float) -> Iterator[float | None]:
        if rate is None:
            return itertools.repeat(None)
        return (started + (client + j * clients) / rate for j in itertools.count())

    if per_message_connection:
        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for i, share in enumerate(shares):
                tg.create_task(
                    _connection_per_message_client(
                        port, smtp_timeout, share, latencies, failures, schedule(i, started)
                    )
                )
        return time.perf_counter() - started, latencies, failures
    conns = [_client(port, smtp_timeout) for _ in shares]
    try:
        # A client that cannot connect here retries, and reports, per message.
        await asyncio.gather(*(smtp.connect() for smtp in conns), return_exceptions=True)
        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for i, (smtp, share) in enumerate(zip(conns, shares, strict=True)):
                tg.create_task(
                    _persistent_client(smtp, share, latencies, failures, schedule(i, started))
                )
        wall = time.perf_counter() - started
        await asyncio.gather(*(smtp.quit() for smtp in conns), return_exceptions=True)
    finally:
        for smtp in conns:
            smtp.close()
    return wall, latencies, failures


async def smtp_source_load(
    port: int, batch: list[tuple[Message, bytes]], clients: int, per_message_connection: bool
) -> tuple[float, list[float], Counter[str]]:
    """The same batch size sent by Postfix's smtp-source (C: the load costs the machine
    little), the first message's text to numbered recipients. It reports no latency per
    message (NaN) and stops at the first refusal."""
    message, content = batch[0]
    failures: Counter[str] = Counter()
    with tempfile.NamedTemporaryFile("wb", suffix=".eml") as text:
        text.write(content.replace(b"\r\n", b"\n"))  # it adds the CRs itself
        text.flush()
        command = [
            SMTP_SOURCE, "-s", str(clients), "-m", str(len(batch)), "-N", "-M", _CLIENT_NAME,
            "-f", message.sender, "-t", message.recipients[0], "-F", text.name,
            *([] if per_message_connection else ["-d"]), f"{HOST}:{port}",
        ]  # fmt: skip
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await proc.communicate()
        wall = time.perf_counter() - started
    if proc.returncode:
        failures[f"smtp-source: {err.decode(errors='replace').strip()[-200:]}"] += 1
        return wall, [], failures
    return wall, [math.nan] * len(batch), failures


SMTP_SOURCE = "/usr/sbin/smtp-source"


# --- the benchmark ----------------------------------------------------------------------
@dataclass
class Bench:
    args: argparse.Namespace
    messages: list[Message]
    ports: dict[str, int]
    pids: dict[str, int]  # whose CPU to account: each relay and the sink
    counters: Any
    results: list[LoadResult] = field(default_factory=list)

    def _sink_counts(self) -> tuple[int, int]:
        with self.counters.get_lock():
            return int(self.counters[0]), int(self.counters[1])

    def _cpu(self, target: str) -> dict[str, float]:
        main, tree = _process_tree_cpu(self.pids[target])
        return {
            "relay": tree,
            "relay_main": main,  # without its inspection workers
            "sink": _process_tree_cpu(self.pids["sink"])[1],
            "loadgen": time.process_time(),  # this process alone, not its children
        }

    async def load(self, target: str, mode: str, label: str, messages: list[Message]) -> LoadResult:
        """One measured batch, then a check at the sink that each arrived exactly once."""
        tag = f"{target}-{mode}-{label}-".replace(" ", "").encode()
        batch = [(m, _ID_HEADER + tag + b"%06d\r\n" % i + m.body) for i, m in enumerate(messages)]
        before, dups_before = self._sink_counts()
        cpu_before = self._cpu(target)
        if self.args.client == "smtp-source":
            load = smtp_source_load(
                self.ports[target], batch, self.args.clients, mode == PER_MESSAGE
            )
        else:
            load = run_load(
                self.ports[target],
                batch,
                self.args.clients,
                mode == PER_MESSAGE,
                self.args.timeout,
                self.args.rate,
            )
        wall, latencies, failures = await asyncio.wait_for(load, self.args.round_timeout)
        cpu = {k: v - cpu_before[k] for k, v in self._cpu(target).items()}
        accepted = len(latencies)
        # Both relays answer 250 only after the sink's 250, so the count is final
        # already; wait a little anyway so a late duplicate cannot slip past.
        for _ in range(100):  # at most 5 s; the counter lives in another process
            if self._sink_counts()[0] - before >= accepted:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        after, dups_after = self._sink_counts()
        duplicated = dups_after - dups_before
        unique = after - before - duplicated
        result = LoadResult(
            target,
            mode,
            label,
            len(batch),
            wall,
            latencies,
            failures,
            cpu,
            lost=max(0, accepted - unique),
            duplicated=duplicated,
            unexpected=max(0, unique - accepted),
        )
        self.results.append(result)
        return result

    @property
    def targets(self) -> list[str]:
        return list(self.ports)

    async def run(self) -> None:
        args = self.args
        warm, measured = self.messages[: args.warmup], self.messages[args.warmup :]
        for target in self.targets:
            if warm:
                self.report(await self.load(target, REUSE, "warm-up", warm))
        for n in range(1, args.rounds + 1):
            for mode in MODES[args.connection_mode]:
                for target in self.targets:
                    self.report(await self.load(target, mode, f"round {n}", measured))

    def report(self, r: LoadResult) -> None:
        use = {k: v / r.wall_s for k, v in r.cpu.items()}
        relay_ms = r.cpu["relay"] / max(1, r.sent) * 1000
        print(
            f"  {r.label:<8} {r.mode:<11} {r.target:<12} {r.rate:6.1f} msg/s"
            f"  p50 {r.percentile(50):6.2f} ms"
            f"  p99 {r.percentile(99):6.2f} ms  {r.wall_s:5.2f} s  | CPU relay {use['relay']:4.0%}"
            f" (main {use['relay_main']:4.0%}) sink {use['sink']:4.0%}"
            f" loadgen {use['loadgen']:4.0%}, relay {relay_ms:.2f} ms/msg",
            flush=True,
        )
        for what, n in sorted(r.failures.items()):
            print(f"    ERROR {n} message(s) refused or failed: {what}", flush=True)
        if r.lost or r.duplicated or r.unexpected:
            print(
                f"    ERROR sink: {r.lost} lost, {r.duplicated} duplicated, {r.unexpected}"
                " delivered although the client saw a failure",
                flush=True,
            )

    def pick(self, target: str, mode: str) -> LoadResult:
        rounds = [
            r
            for r in self.results
            if r.target == target and r.mode == mode and r.label != "warm-up"
        ]
        rounds.sort(key=lambda r: r.rate, reverse=True)
        return rounds[0] if self.args.pick == "best" else rounds[(len(rounds) - 1) // 2]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark mailguard serve against a bare aiosmtpd relay on loopback."
    )
    p.add_argument("-n", "--messages", type=int, default=2000, help="per round [2000]")
    p.add_argument("-c", "--clients", type=int, default=20, help="concurrent clients [20]")
    p.add_argument("--rounds", type=int, default=2, help="rounds per target [2]")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="offer this many messages/s in all (aiosmtplib client), instead of as many as"
        " the relay answers: latency at the same load on both relays, below what either"
        " can take [as fast as answered]",
    )
    p.add_argument(
        "--pick",
        choices=["best", "median"],
        default="best",
        help="which round to report per target: highest msg/s, or the (lower) median [best]",
    )
    p.add_argument("--warmup", type=int, default=100, help="uncounted messages first [100]")
    p.add_argument("--size", type=int, default=4096, help="approximate message bytes [4096]")
    p.add_argument(
        "--connection-mode",
        choices=sorted(MODES),
        default="both",
        help="per-message: each client connects, sends one message and QUITs; reuse: each"
        " client keeps one connection for all its messages; both, one after the other in"
        " each round [both]",
    )
    p.add_argument(
        "--new-connection-per-message",
        action="store_const",
        dest="connection_mode",
        const=PER_MESSAGE,
        help="the same as --connection-mode per-message",
    )
    p.add_argument(
        "--bare-upstream",
        choices=["pooled", "per-message"],
        default="pooled",
        help="the bare relay keeps upstream connections open, or opens one per message [pooled]",
    )
    p.add_argument(
        "--bare-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the bare relay's event loop; uvloop falls back to asyncio if not installed [uvloop]",
    )
    p.add_argument(
        "--relay-cpus",
        type=_cpu_list,
        help="pin both relays (mailguard with its workers) to these CPUs, e.g. 0 or 0,1;"
        " the sink and the load generator are not pinned [no pinning]",
    )
    p.add_argument(
        "--scaling",
        type=int,
        metavar="N",
        help="run mailguard twice, with 1 relay process pinned to one CPU and with N"
        " processes pinned to N CPUs (the first of --relay-cpus, default 0..N-1), the bare"
        " relay pinned to the first; reports the N-CPU/1-CPU ratio [off]",
    )
    p.add_argument(
        "--mailguard-args",
        type=shlex.split,
        default=[],
        metavar="ARGS",
        help="more arguments for mailguard serve, e.g. '--processes 2' []",
    )
    p.add_argument("--workers", type=int, help="mailguard --workers [mailguard's default]")
    p.add_argument(
        "--policy",
        type=Path,
        help="run mailguard with this policy (e.g. policies/council-default.yaml) [none]",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="mailguard --log-level; info (one event per message) is how it runs in production"
        " [info]",
    )
    p.add_argument(
        "--mailguard-cmd",
        type=shlex.split,
        default=[sys.executable, "-m", "mailguard"],
        metavar="CMD",
        help="how to run mailguard, 'serve ...' is appended; e.g. to profile it: "
        "'py-spy record -o mg.svg -- python -m mailguard' [this python -m mailguard]",
    )
    p.add_argument(
        "--baseline-cmd",
        type=shlex.split,
        metavar="CMD",
        help="also run another mailguard as the target 'before', e.g. an earlier commit:"
        " 'env PYTHONPATH=../old python -P -m mailguard' (-P, or the current directory's"
        " mailguard comes first) [none]",
    )
    p.add_argument(
        "--client",
        choices=["aiosmtplib", "smtp-source"],
        default="aiosmtplib",
        help="the load generator: this script (latency per message), or Postfix's"
        " smtp-source (C, so the relays get more of the machine; one text to numbered"
        " recipients, no latency) [aiosmtplib]",
    )
    p.add_argument(
        "--sink",
        choices=["wire", "aiosmtpd"],
        default="wire",
        help="the upstream stand-in: a minimal SMTP protocol on uvloop, which costs the"
        " machine little (the upstream MTA is elsewhere in a deployment), or an aiosmtpd"
        " server, as before issue 19's sixth pass (about half a core at these rates) [wire]",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="client SMTP timeout s [30]")
    p.add_argument("--round-timeout", type=float, default=300.0, help="per batch, s [300]")
    p.add_argument("--seed", type=int, default=1, help="for the synthetic messages [1]")
    p.add_argument("--json", action="store_true", help="also print a one-line JSON summary")
    args = p.parse_args(argv)
    for name in ("messages", "clients", "rounds", "size", "timeout", "round_timeout"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.warmup < 0 or (args.workers is not None and args.workers < 1):
        p.error("--warmup must be >= 0 and --workers >= 1")
    if args.rate is not None and (args.rate <= 0 or args.client == "smtp-source"):
        p.error("--rate must be positive, and paces only the aiosmtplib client")
    return args


def _mailguards(
    args: argparse.Namespace,
) -> list[tuple[str, list[str], list[str], set[int] | None]]:
    """(target name, command, extra serve arguments, CPUs) of each mailguard to run."""
    command, extra = args.mailguard_cmd, args.mailguard_args
    before = [("before", args.baseline_cmd, extra, args.relay_cpus)] if args.baseline_cmd else []
    if not args.scaling:
        return [*before, (MAILGUARD, command, extra, args.relay_cpus)]
    n = args.scaling
    cpus = sorted(args.relay_cpus or range(n))[:n]
    return [
        *before,
        ("mailguard 1", command, [*extra, "--processes", "1"], set(cpus[:1])),
        (f"mailguard {n}", command, [*extra, "--processes", str(n)], set(cpus)),
    ]


def _cpu_list(text: str) -> set[int]:
    """'0,1' or '0-3' as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    # A SIGTERM ends the run through the same clean-up path as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    fleet = Fleet()
    try:
        with tempfile.TemporaryDirectory(prefix="mailguard-bench-") as tmp:
            ctx = multiprocessing.get_context("spawn")
            counters = ctx.Array("q", 2)
            sink = fleet.start_child(
                "sink", counters=counters, options={"wire": args.sink == "wire"}
            )
            first = set(sorted(args.relay_cpus or {0})[:1])
            bare = fleet.start_child(
                "bare",
                sink_port=sink.port,
                options={
                    "pooled": args.bare_upstream == "pooled",
                    "uvloop": args.bare_loop == "uvloop",
                    "cpus": first if args.scaling else args.relay_cpus,
                },
            )
            ports, pids = {BARE: bare.port}, {BARE: bare.process.pid or 0}
            logs: list[Path] = []
            for name, command, extra, cpus in _mailguards(args):
                logs.append(Path(tmp, f"{name.replace(' ', '-')}.log"))
                ports[name] = fleet.start_mailguard(
                    command,
                    sink.port,
                    Path(tmp, f"data-{len(logs)}"),
                    logs[-1],
                    args.workers,
                    args.log_level,
                    args.policy,
                    extra,
                    cpus,
                )
                assert fleet.mailguard is not None
                pids[name] = fleet.mailguard.pid
            pids["sink"] = sink.process.pid or 0
            messages = make_messages(args.warmup + args.messages, args.size, args.seed)
            bench = Bench(args, messages, ports=ports, pids=pids, counters=counters)
            _print_header(args, messages)
            try:
                with asyncio.Runner(loop_factory=_loop_factory(True)) as runner:
                    runner.run(bench.run())  # uvloop: the load costs the machine less
            except TimeoutError:
                print(f"ERROR: a batch took longer than {args.round_timeout:g} s", flush=True)
                return 1
            finally:
                mg_log = [
                    line for log in logs for line in log.read_text(errors="replace").splitlines()
                ]
            return _print_summary(bench, mg_log)
    except SetupError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        fleet.close()


def _print_header(args: argparse.Namespace, messages: list[Message]) -> None:
    mean_kb = sum(len(m.body) for m in messages) / len(messages) / 1024
    workers = args.workers or f"default (CPU count {os.cpu_count()})"
    pinned = ",".join(map(str, sorted(args.relay_cpus))) if args.relay_cpus else "any"
    print(
        f"mailguard relay benchmark: {args.messages} msgs/round (~{mean_kb:.1f} KB), "
        f"{args.clients} clients, connections: {args.connection_mode}, {args.rounds} round(s)"
        f" per target, warm-up {args.warmup}, mailguard workers {workers}"
        f" {' '.join(args.mailguard_args)}, {os.cpu_count()} CPUs, relays on CPUs {pinned};"
        f" bare relay: {args.bare_loop}, {args.bare_upstream} upstream"
        + (f"; offered {args.rate:g} msg/s" if args.rate else ""),
        flush=True,
    )
    print(
        "latency = MAIL..DATA per message (per-message mode: connect+EHLO+MAIL..DATA);"
        " CPU % = share of one core during the batch (main = the relay process without"
        " its inspection workers)",
        flush=True,
    )


def _is_problem(line: str) -> bool:
    """A log line at warning or above, or anything that is not a JSON event."""
    if not line.strip():
        return False
    try:
        return json.loads(line).get("level") not in ("debug", "info")
    except ValueError:
        return True


def _print_summary(bench: Bench, mg_log: list[str]) -> int:
    args = bench.args
    which = "best (highest msg/s)" if args.pick == "best" else "median (by msg/s)"
    print(f"\nResult: {which} of {args.rounds} round(s) per target and connection mode")
    print(f"  {'':<24}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/msg':>12}")
    modes: dict[str, Any] = {}
    for mode in MODES[args.connection_mode]:
        picked = {t: bench.pick(t, mode) for t in bench.targets}
        bare = picked[BARE]
        for name, r in picked.items():
            cpu_ms = r.cpu["relay"] / max(1, r.sent) * 1000
            print(
                f"  {mode:<11} {name:<12}{r.rate:9.1f}{r.percentile(50):9.2f}"
                f"{r.percentile(99):9.2f}{cpu_ms:12.2f}"
            )
        modes[mode] = {name: r.summary() for name, r in picked.items()}
        for name, r in picked.items():
            if name == BARE:
                continue
            ratio = r.rate / bare.rate if bare.rate else math.nan
            add50 = r.percentile(50) - bare.percentile(50)
            add99 = r.percentile(99) - bare.percentile(99)
            print(
                f"  {mode:<11} {name}/bare {ratio:.2f}x; added latency p50 {add50:+.2f} ms,"
                f" p99 {add99:+.2f} ms"
            )
            modes[mode][name].update(
                ratio=round(ratio, 3), added_p50_ms=round(add50, 2), added_p99_ms=round(add99, 2)
            )
        if args.scaling:
            one, many = picked["mailguard 1"], picked[f"mailguard {args.scaling}"]
            scale = many.rate / one.rate if one.rate else math.nan
            print(f"  {mode:<11} {args.scaling} CPUs / 1 CPU: {scale:.2f}x")
            modes[mode]["scaling"] = round(scale, 3)

    expected = sum(r.sent for r in bench.results)
    failed = sum(sum(r.failures.values()) for r in bench.results)
    lost = sum(r.lost for r in bench.results)
    duplicated = sum(r.duplicated for r in bench.results)
    received, _ = bench._sink_counts()
    print(
        f"  sink: {received} received for {expected} sent (incl. warm-up); "
        f"{failed} refused/failed at the client, {lost} lost, {duplicated} duplicated"
    )
    problems = [line for line in mg_log if _is_problem(line)]
    if problems:
        print(f"  mailguard logged {len(problems)} warning(s) or error(s), first ones:")
        for line in problems[:5]:
            print(f"    {line[:300]}")
    ok = all(r.delivered_ok for r in bench.results)
    if not ok:
        print("ERROR: not every message was delivered exactly once (see above)")
    if args.json:
        summary = {
            "messages": args.messages,
            "clients": args.clients,
            "rounds": args.rounds,
            "pick": args.pick,
            "workers": args.workers,
            "mailguard_args": args.mailguard_args,
            "relay_cpus": sorted(args.relay_cpus or []),
            "scaling": args.scaling,
            "bare": {"loop": args.bare_loop, "upstream": args.bare_upstream},
            "cpus": os.cpu_count(),
            "modes": modes,
            "sink": {
                "expected": expected,
                "received": received,
                "failed": failed,
                "lost": lost,
                "duplicated": duplicated,
            },
            "ok": ok,
        }
        print(json.dumps(summary), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
