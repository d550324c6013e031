"""What the inspection workers cost to start, to keep and to replace.

Starts ``mailguard serve --workers N --policy policies/council-default.yaml`` relaying
to a sink, with production defaults (the models preloaded), and reports:

- seconds from launch to the ``ready`` log line;
- how long a 205 KB CSV message sent at once takes (it waits for a worker that is
  still loading the models, if any);
- CPU seconds of the relay and all its inspection processes once they are warm;
- their memory: proportional set size (shared pages divided among the processes
  sharing them) and resident set size (shared pages counted in each);
- the median of five more CSV messages;
- how long the next CSV message takes after every worker was killed with SIGKILL.

Run from the repository root (``--mailguard-cmd`` runs an earlier checkout, e.g.
``"env PYTHONPATH=../old python -P -m mailguard"``)::

    .venv/bin/python bench/workers_bench.py --workers 4
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postfix_path import message
from relay_bench import HOST, Fleet, _free_port

POLICY = Path(__file__).resolve().parents[1] / "policies" / "council-default.yaml"
SENDER, RECIPIENT = "officer@council.example", "someone@example.org"


def _tree(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(p for child in children for p in _tree(int(child)))]


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _memory_mb(pids: list[int]) -> tuple[int, int]:
    rss = pss = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return pss // 1024, rss // 1024


def _is_worker(pid: int) -> bool:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return comm == "mg-worker" or b"mailguard.inspection.workers" in cmdline


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--settle", type=float, default=12.0, help="s to let workers warm up")
    p.add_argument("--mailguard-cmd", type=shlex.split, default=[sys.executable, "-m", "mailguard"])
    args = p.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "MAILGUARD_PRELOAD_NLP"}
    csv = message("csv").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    fleet = Fleet()
    with tempfile.TemporaryDirectory(prefix="mailguard-workers-") as tmp:
        counters = multiprocessing.get_context("spawn").Array("q", 2)
        sink = fleet.start_child("sink", counters=counters, options={"wire": True})
        port = _free_port()
        log_path = Path(tmp, "log")
        started = time.monotonic()
        with log_path.open("wb") as log:
            relay = subprocess.Popen(
                [
                    *args.mailguard_cmd, "serve", "--listen", f"{HOST}:{port}",
                    "--upstream", f"{HOST}:{sink.port}", "--data-dir", f"{tmp}/data",
                    "--workers", str(args.workers), "--policy", str(POLICY),
                ],
                stdout=log, stderr=log, env=env, start_new_session=True,
            )  # fmt: skip
        try:
            while b'"event": "ready"' not in log_path.read_bytes():
                if relay.poll() is not None:
                    print(log_path.read_text()[-2000:])
                    return 2
                time.sleep(0.01)
            ready = time.monotonic() - started

            def send() -> float:
                t = time.monotonic()
                with smtplib.SMTP(HOST, port, timeout=120) as smtp:
                    smtp.sendmail(SENDER, [RECIPIENT], csv)
                return time.monotonic() - t

            first = send()
            time.sleep(args.settle)
            pids = _tree(relay.pid)
            cpu = _cpu_seconds(pids)
            pss, rss = _memory_mb(pids)
            median = sorted(send() for _ in range(5))[2]
            workers = [pid for pid in pids if pid != relay.pid and _is_worker(pid)]
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
            after_kill = send()
        finally:
            relay.send_signal(signal.SIGTERM)
            relay.wait(60)
            fleet.close()
    print(json.dumps({
        "workers": args.workers, "ready_s": round(ready, 2), "first_csv_s": round(first, 3),
        "processes": len(pids), "cpu_s_warm": round(cpu, 2), "pss_mb": pss, "rss_mb": rss,
        "csv_median_ms": round(median * 1000, 1), "workers_killed": len(workers),
        "csv_after_kill_s": round(after_kill, 3),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
