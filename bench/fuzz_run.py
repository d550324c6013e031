"""The long fuzz run: thousands of generated malformed messages through a real relay.

Each message from ``tests/fuzzmail.py`` (broken MIME, bad encodings, 8-bit headers,
deep nesting, huge lines; every 50th carries a file bomb) goes over SMTP to ``mailguard
serve`` with the shipped council policy, then to a counting sink. It reports answers by
class, the slowest answer, the workers' peak memory, and lost messages: accepted with
250 but neither delivered nor held.

Run:  python bench/fuzz_run.py --messages 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiosmtplib  # noqa: E402
from relay_bench import HOST, Fleet, held_messages  # noqa: E402

from tests.support import files  # noqa: E402
from tests.support.fuzzmail import hostile_attachments, random_message  # noqa: E402

SENDER = "officer@northdown.gov.uk"
RECIPIENT = "someone@example.org"


def peak_rss_mb(root: int) -> float:
    """Largest VmHWM among ``root``'s child processes (the inspection workers)."""
    peak = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(root) and "VmHWM" in fields:
            peak = max(peak, int(fields["VmHWM"].split()[0]) / 1024)
    return peak


async def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="mailguard-fuzz-"))
    site = work / "site.yaml"
    site.write_text(
        f"include: [{ROOT / 'policies' / 'council-default.yaml'}]\n"
        "organisation: {name: N, internal_domains: [northdown.gov.uk],"
        " partner_domains: [nhs.net]}\n"
    )
    fleet = Fleet()
    counters = multiprocessing.get_context("spawn").Array("q", 3)  # + notices
    bombs = list(hostile_attachments().items())
    try:
        sink = fleet.start_child("sink", counters=counters)
        port = fleet.start_mailguard(
            [sys.executable, "-m", "mailguard"], sink.port, work / "data", work / "mg.log",
            args.workers, "warning", site,
        )  # fmt: skip
        assert fleet.mailguard is not None
        rng = random.Random(args.seed)
        answers: Counter[str] = Counter()
        slowest = 0.0
        accepted = 0
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=100)

        async def client() -> None:
            nonlocal slowest, accepted
            while (raw := await queue.get()) is not None:
                started = time.monotonic()
                try:
                    await aiosmtplib.send(
                        raw, sender=SENDER, recipients=[RECIPIENT], hostname=HOST, port=port,
                        timeout=120,
                    )  # fmt: skip
                except aiosmtplib.SMTPResponseException as exc:
                    answers[f"{exc.code} {exc.message[:40]}"] += 1
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    answers[f"no answer: {type(exc).__name__}"] += 1
                else:
                    answers["250"] += 1
                    accepted += 1
                slowest = max(slowest, time.monotonic() - started)

        clients = [asyncio.ensure_future(client()) for _ in range(args.clients)]
        started = time.monotonic()
        for i in range(args.messages):
            if i % 50 == 49:
                name, data = bombs[(i // 50) % len(bombs)]
                raw = files.message_with({name: data}, to=RECIPIENT)
            else:
                raw = random_message(rng, SENDER, RECIPIENT)
            await queue.put(raw)
            if (i + 1) % 1000 == 0:
                print(f"{i + 1} sent, {dict(answers)}", flush=True)
        for _ in clients:
            await queue.put(None)
        await asyncio.gather(*clients)
        elapsed = time.monotonic() - started
        await asyncio.sleep(3)
        with counters.get_lock():
            delivered, duplicates, notices = (int(c) for c in counters)
        held = await held_messages(work / "data")
        lost = accepted - (delivered - duplicates) - held
        summary = {
            "messages": args.messages,
            "answers": dict(answers),
            "delivered": delivered,
            "notices": notices,
            "held": held,
            "duplicates": duplicates,
            "lost": lost,
            "slowest_answer_s": round(slowest, 2),
            "worker_peak_rss_mb": round(peak_rss_mb(fleet.mailguard.pid), 1),
            "elapsed_s": round(elapsed, 1),
        }
        print(json.dumps(summary), flush=True)
        return 0 if lost == 0 else 1
    finally:
        fleet.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--seed", type=int, default=11)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
