"""Soak: mixed traffic at a fixed rate for a long time; does anything leak or get lost?

A real ``mailguard serve`` (with a policy that passes most mail, rewrites visible
lists to Bcc and holds a share) between this load generator and a counting sink, all
on 127.0.0.1. Every ``--report`` seconds it prints throughput, p50/p99 latency over
that interval and the resident memory of mailguard with its workers. At the end it
accounts for every message the relay accepted: delivered once, or held once.

Run:  python bench/soak.py --minutes 30 --rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiosmtplib
from relay_bench import _ID_HEADER, HOST, Fleet, held_messages, make_messages

POLICY = """
organisation: {name: Soak, internal_domains: [example.com]}
rules:
  - name: hold-some
    description: held by the soak test
    when: {recipient_domain: [hold.example]}
    action: hold
    notify: false        # senders' notices would muddle the sink's count
  - name: bcc-lists
    description: visible list moved to Bcc
    when: {visible_external_recipients: {more_than: 3}}
    action: rewrite
    rewrite: bcc
    notify: false
"""


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and its descendants (Linux /proc), in MB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(p for p, ppid in parents.items() if ppid == pid)
    return total / 1e6


def mix(seed: int, count: int) -> list[tuple[str, list[str], bytes, str]]:
    """(sender, recipients, content, kind) with kind pass | bcc | hold."""
    rng = random.Random(seed)
    base = make_messages(min(count, 5000), 4096, seed)
    out = []
    for i in range(count):
        m = base[i % len(base)]
        roll = rng.random()
        if roll < 0.1:
            rcpts, kind = [f"case{i}@hold.example"], "hold"
        elif roll < 0.2:
            rcpts, kind = [f"resident{i}.{n}@example.net" for n in range(6)], "bcc"
        else:
            rcpts, kind = m.recipients, "pass"
        head = f"X-Bench-Id: soak{i}\r\n".encode()
        body = m.body
        if kind == "bcc":
            body = body.replace(b"To: ", f"To: {', '.join(rcpts)}\r\nX-Old-To: ".encode(), 1)
        out.append((m.sender, rcpts, head + body, kind))
    return out


async def run(args: argparse.Namespace) -> int:
    assert _ID_HEADER
    work = Path(tempfile.mkdtemp(prefix="mailguard-soak-"))
    (work / "policy.yaml").write_text(POLICY)
    fleet = Fleet()
    counters = multiprocessing.get_context("spawn").Array("q", 2)
    try:
        sink = fleet.start_child("sink", counters=counters)
        port = fleet.start_mailguard(
            [sys.executable, "-m", "mailguard"], sink.port, work / "data", work / "mailguard.log",
            args.workers, "warning", work / "policy.yaml",
        )  # fmt: skip
        assert fleet.mailguard is not None
        root = fleet.mailguard.pid
        total = int(args.minutes * 60 * args.rate)
        messages = mix(args.seed, total)
        queue: asyncio.Queue[tuple[str, list[str], bytes, str] | None] = asyncio.Queue()
        replies: Counter[str] = Counter()
        accepted: Counter[str] = Counter()
        window: list[float] = []
        all_latency: list[float] = []

        async def client() -> None:
            smtp = aiosmtplib.SMTP(hostname=HOST, port=port, timeout=60, start_tls=False)
            while (item := await queue.get()) is not None:
                sender, rcpts, content, kind = item
                started = time.perf_counter()
                try:
                    if not smtp.is_connected:
                        await smtp.connect()
                    await smtp.sendmail(sender, rcpts, content)
                except aiosmtplib.SMTPResponseException as exc:
                    replies[f"{exc.code // 100}xx"] += 1
                    continue
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    replies[f"error {type(exc).__name__}"] += 1
                    smtp.close()
                    continue
                ms = (time.perf_counter() - started) * 1000
                window.append(ms)
                all_latency.append(ms)
                replies["2xx"] += 1
                accepted[kind] += 1
            smtp.close()

        clients = [asyncio.ensure_future(client()) for _ in range(args.clients)]
        started = time.monotonic()
        next_report = started + args.report
        rss_series: list[float] = []
        print(f"soak: {total} messages at {args.rate}/s over {args.minutes} min, "
              f"{args.clients} clients; work dir {work}", flush=True)  # fmt: skip
        for i, item in enumerate(messages):
            due = started + i / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await queue.put(item)
            if time.monotonic() >= next_report:
                rss = tree_rss_mb(root)
                rss_series.append(rss)
                lat = sorted(window)
                p50 = statistics.median(lat) if lat else float("nan")
                p99 = (
                    lat[int(len(lat) * 0.99) - 1]
                    if len(lat) >= 100
                    else (max(lat) if lat else float("nan"))
                )
                print(f"t={time.monotonic() - started:6.0f}s  sent={i + 1:6d}  "
                      f"ok/s={len(lat) / args.report:5.1f}  p50={p50:6.1f}ms  p99={p99:6.1f}ms  "
                      f"rss={rss:6.1f}MB  replies={dict(replies)}", flush=True)  # fmt: skip
                window.clear()
                next_report += args.report
        for _ in clients:
            await queue.put(None)
        await asyncio.gather(*clients)
        await asyncio.sleep(3)
        with counters.get_lock():
            received, duplicates = int(counters[0]), int(counters[1])
        held = await held_messages(work / "data")
        expected_at_sink = accepted["pass"] + accepted["bcc"]
        lost = (expected_at_sink - (received - duplicates)) + (accepted["hold"] - held)
        lat = sorted(all_latency)
        summary = {
            "messages": total,
            "replies": dict(replies),
            "accepted": dict(accepted),
            "delivered": received - duplicates,
            "duplicates": duplicates,
            "held": held,
            "lost": lost,
            "throughput_per_s": round(replies["2xx"] / (time.monotonic() - started), 2),
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 1) if len(lat) >= 100 else None,
            "rss_mb_first": round(rss_series[0], 1) if rss_series else None,
            "rss_mb_max": round(max(rss_series), 1) if rss_series else None,
            "rss_mb_last": round(rss_series[-1], 1) if rss_series else None,
        }
        print(json.dumps(summary), flush=True)
        return 0 if lost == 0 and duplicates == 0 else 1
    finally:
        fleet.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20, help="messages per second")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--report", type=float, default=60, help="seconds between reports")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--seed", type=int, default=7)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
