"""The whole path a council would run: Postfix -> filter -> Postfix, mailguard beside amavisd-new.

One private Postfix instance on loopback (its own config and queue directory, as
tests/integration/test_postfix.py starts one) takes mail on one input port per path,
each with its own ``content_filter``:

- ``postfix``: no filter, what Postfix alone costs;
- ``amavis``: amavisd-new (Debian's package) with virus, spam, banned-file and header
  checks bypassed, the least it can do;
- ``amavis-nopipe``: the same, with Postfix told not to pipeline towards it
  (``smtp_discard_ehlo_keywords=pipelining``): amavis answers pipelined commands in
  separate writes and a message can stall on it;
- ``mailguard``: ``mailguard serve`` with the council policy in monitor mode (every
  message inspected and judged as in enforce mode, and delivered, so every path
  delivers the same mail).

Both filters get the same ``maxproc`` (Postfix's connections to them; amavis's
``$max_servers``). Both re-inject on one listener with filtering off, and Postfix
relays everything to a sink that counts each message once (relay_bench's: a few lines
of SMTP on uvloop, or aiosmtpd with ``--sink aiosmtpd``). Paths run in
alternating rounds so that drift on the machine hits them alike.

For each kind of message (a 4 KB prose letter to a resident, 4 KB of filler text, a
200 KB CSV of names and postcodes) it reports end-to-end messages/second (Postfix's
``smtp-source`` sends N messages over ``-s`` sessions; the clock stops when the sink
has all of them), the filter's CPU milliseconds per message (its whole process tree)
and the latency of single messages sent one at a time (submission to arrival at the
sink, p50/p99).

Needs root (Postfix and amavis drop to their own users), Postfix and amavisd-new:
``apt-get install postfix amavisd-new``. Run from the repository root:

    .venv/bin/python bench/postfix_path.py                  # all kinds, 2 rounds
    .venv/bin/python bench/postfix_path.py --kinds letter -m 2000 --rounds 3
    .venv/bin/python bench/postfix_path.py --mailguard-args "--processes 2"

Exit status: 0 every message arrived exactly once, 1 not, 2 setup failed.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shlex
import shutil
import signal
import smtplib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay_bench import (
    HOST,
    SMTP_SOURCE,
    Fleet,
    SetupError,
    _end_session,
    _free_port,
    _process_tree_cpu,
    await_greeting,
)

from tests.support import files
from tests.support.scratch import reachable_tempdir

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "council-default.yaml"
POSTFIX = "/usr/sbin/postfix"
AMAVISD = "/usr/sbin/amavisd"
SENDER, RECIPIENT = "housing.officer@council.example", "resident@example.com"
KINDS = ("letter", "filler", "csv")


# --- messages ---------------------------------------------------------------------------
def message(kind: str) -> bytes:
    """One synthetic message of the kind (Faker en_GB people; never real ones)."""
    fake = files.fake
    attachments: dict[str, bytes] = {}
    if kind == "csv":
        rows = [r[:3] for r in files.residents(3400)]  # name, address, postcode
        csv = files.csv_bytes(rows, files.HEADER[:3])
        while len(csv) > 200_000:
            rows.pop()
            csv = files.csv_bytes(rows, files.HEADER[:3])
        attachments["estate-visits.csv"] = csv
        body = "The list for the estate visits is attached.\n\nRegards,\nHousing Office"
    else:
        if kind == "letter":
            name, address = fake.name(), fake.address().replace("\n", ", ")
            parts = [
                f"Dear {name},",
                f"Thank you for your letter of {fake.date()} about the repairs at {address}."
                f" Your reference is HR/{fake.random_int(10000, 99999)}.",
            ]
        else:
            parts = []
        while sum(len(p) for p in parts) < 3700:
            parts.append(fake.paragraph(nb_sentences=5))
        if kind == "letter":
            parts.append(f"Yours sincerely,\n{fake.name()}\nHousing Officer")
        body = "\n\n".join(parts)
    raw = files.message_with(
        attachments, body=body, sender=f"Housing Office <{SENDER}>", to=RECIPIENT
    )
    return raw.replace(b"\r\n", b"\n")  # smtp-source adds the CRs itself


# --- the parts --------------------------------------------------------------------------
@dataclass
class Ports:
    sink: int
    reinject: int = field(default_factory=_free_port)
    mailguard: int = field(default_factory=_free_port)
    amavis: int = field(default_factory=_free_port)
    before: int = field(default_factory=_free_port)  # mailguard as it was (--baseline-cmd)
    inputs: dict[str, int] = field(default_factory=dict)


FILTERS = {  # path -> Postfix content_filter
    "postfix": "",
    "amavis": "amavisfeed:[127.0.0.1]:{amavis}",
    "amavis-nopipe": "amavisnopipe:[127.0.0.1]:{amavis}",
    "mailguard-before": "mailguardbefore:[127.0.0.1]:{before}",
    "mailguard": "mailguard:[127.0.0.1]:{mailguard}",
}


class Postfix:
    """A private instance: own config and queue, loopback ports only."""

    def __init__(self, root: Path, ports: Ports, maxproc: int) -> None:
        self.root = root
        self.etc = root / "etc"
        for d in ("etc", "queue", "data"):
            (root / d).mkdir(parents=True)
        shutil.chown(root / "data", "postfix")
        (self.etc / "main.cf").write_text(
            f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.council.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{ports.sink}
smtp_dns_support_level = disabled
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
smtpd_relay_restrictions = permit_mynetworks, reject
default_process_limit = 200
"""
        )
        smtp_opts = (
            "    -o smtp_send_xforward_command=yes\n"
            "    -o disable_mime_output_conversion=yes\n"
            "    -o smtp_generic_maps=\n"
            "    -o smtp_connection_cache_on_demand=yes\n"
        )
        base = Path("/etc/postfix/master.cf").read_text()
        base = base.replace("\nsmtp      inet", "\n#smtp      inet")  # no port 25
        base = "\n".join(line for line in base.splitlines() if not line.startswith("postlog"))
        lines = [base, "postlog   unix-dgram n  -       n       -       1       postlogd"]
        for name in ("mailguard", "mailguardbefore", "amavisfeed", "amavisnopipe"):
            lines.append(f"{name} unix - - n - {maxproc} smtp\n{smtp_opts.rstrip()}")
        lines[-1] += "\n    -o smtp_discard_ehlo_keywords=pipelining"
        for path, content_filter in FILTERS.items():
            port = ports.inputs[path] = _free_port()
            cf = content_filter.format(
                amavis=ports.amavis, mailguard=ports.mailguard, before=ports.before
            )
            lines.append(f"{HOST}:{port} inet n - n - - smtpd\n    -o content_filter={cf}")
        lines.append(
            f"{HOST}:{ports.reinject} inet n - n - - smtpd\n"
            "    -o content_filter=\n"
            "    -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,"
            "no_milters,no_address_mappings\n"
            "    -o smtpd_relay_restrictions=permit_mynetworks,reject\n"
            "    -o smtpd_authorized_xforward_hosts=127.0.0.0/8"
        )
        (self.etc / "master.cf").write_text("\n".join(lines) + "\n")

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [POSTFIX, "-c", str(self.etc), *args], capture_output=True, text=True, timeout=60
        )

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


AMAVIS_CONF = """use strict;
$MYHOME = '{home}'; $TEMPBASE = '{home}/tmp'; $db_home = '{home}/db';
$pid_file = '{home}/amavisd.pid'; $lock_file = '{home}/amavisd.lock';
$daemon_user = 'amavis'; $daemon_group = 'amavis';
$myhostname = 'amavis.council.example'; $mydomain = 'council.example';
$max_servers = {maxproc};
$inet_socket_port = {port}; $inet_socket_bind = '127.0.0.1'; @inet_acl = qw(127.0.0.1);
$forward_method = 'smtp:[127.0.0.1]:{reinject}'; $notify_method = $forward_method;
@bypass_virus_checks_maps = (1); @bypass_spam_checks_maps = (1);
@bypass_banned_checks_maps = (1); @bypass_header_checks_maps = (1);
@av_scanners = (); @av_scanners_backup = ();
$enable_dkim_verification = 0; $enable_dkim_signing = 0; $enable_db = 0; $enable_zmq = 0;
$final_virus_destiny = D_PASS; $final_banned_destiny = D_PASS;
$final_spam_destiny = D_PASS; $final_bad_header_destiny = D_PASS;
$do_syslog = 0; $LOGFILE = '{home}/amavis.log'; $log_level = 0;
@local_domains_maps = ( [".council.example"] );
1;
"""


def start_amavis(root: Path, ports: Ports, maxproc: int) -> subprocess.Popen[bytes]:
    """amavisd in the foreground; its config must sit in a directory it cannot write."""
    etc, home = root / "amavis-etc", root / "amavis"
    etc.mkdir()
    for d in (home, home / "tmp", home / "db"):
        d.mkdir()
        shutil.chown(d, "amavis", "amavis")
    conf = etc / "amavisd.conf"
    conf.write_text(
        AMAVIS_CONF.format(home=home, maxproc=maxproc, port=ports.amavis, reinject=ports.reinject)
    )
    proc = subprocess.Popen(
        [AMAVISD, "-c", str(conf), "foreground"],
        stdout=subprocess.DEVNULL,
        stderr=(root / "amavis-stderr.log").open("wb"),
        start_new_session=True,
    )
    await_greeting(ports.amavis, "amavisd", proc, root / "amavis-stderr.log", within=60)
    return proc


def start_mailguard(
    root: Path, port: int, ports: Ports, maxproc: int, command: list[str], extra: list[str]
) -> subprocess.Popen[bytes]:
    root.mkdir(exist_ok=True)
    policy = root / "site.yaml"
    policy.write_text(f"include: [{POLICY}]\nmode: monitor\n")
    log = root / "mailguard.log"
    proc = subprocess.Popen(
        [
            *command,
            "serve",
            "--listen",
            f"{HOST}:{port}",
            "--upstream",
            f"{HOST}:{ports.reinject}",
            "--data-dir",
            str(root / "mg-data"),
            "--policy",
            str(policy),
            "--workers",
            str(min(maxproc, os.cpu_count() or 1)),
            *extra,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    await_greeting(port, "mailguard", proc, log, within=60)
    return proc


# --- measuring --------------------------------------------------------------------------
@dataclass
class Result:
    path: str
    kind: str
    sent: int
    wall_s: float
    cpu_s: float  # the filter's process tree during the batch
    arrived: int
    duplicated: int
    latencies_ms: list[float] = field(default_factory=list)
    singles_missing: int = 0

    @property
    def rate(self) -> float:
        return self.arrived / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s / self.sent * 1000 if self.sent else math.nan

    def percentile(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        return data[max(0, math.ceil(p / 100 * len(data)) - 1)] if data else math.nan


class Bench:
    def __init__(self, args: argparse.Namespace, ports: Ports, counters, pids) -> None:  # type: ignore[no-untyped-def]
        self.args, self.ports, self.counters, self.pids = args, ports, counters, pids
        self.results: list[Result] = []

    def received(self) -> tuple[int, int]:
        with self.counters.get_lock():
            return int(self.counters[0]), int(self.counters[1])

    def cpu(self, path: str) -> float:
        pid = self.pids.get(path)
        return _process_tree_cpu(pid, exited=True)[1] if pid else 0.0

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.received()[0] >= count:
                return True
            time.sleep(0.01)
        return False

    def batch(self, path: str, kind: str, text: Path, n: int, tag: str) -> Result:
        before, dups = self.received()
        cpu = self.cpu(path)
        started = time.perf_counter()
        done = subprocess.run(
            [
                SMTP_SOURCE,
                "-s",
                str(self.args.sessions),
                "-m",
                str(n),
                "-N",
                "-M",
                "client.council.example",
                "-f",
                SENDER,
                "-t",
                f"{tag}.{RECIPIENT}",
                "-F",
                str(text),
                f"{HOST}:{self.ports.inputs[path]}",
            ],
            capture_output=True,
            text=True,
            timeout=self.args.round_timeout,
        )
        if done.returncode:
            print(f"    ERROR smtp-source: {done.stderr.strip()[-300:]}", flush=True)
        self.wait_for(before + n, self.args.round_timeout)
        wall = time.perf_counter() - started
        time.sleep(0.3)  # a late duplicate
        after, dups_after = self.received()
        result = Result(
            path, kind, n, wall, self.cpu(path) - cpu, after - before, dups_after - dups
        )
        self.results.append(result)
        return result

    def singles(self, result: Result, raw: bytes, n: int) -> None:
        """One message at a time: how long from submission to arrival at the sink."""
        port = self.ports.inputs[result.path]
        for i in range(n):
            before, _ = self.received()
            started = time.perf_counter()
            with smtplib.SMTP(HOST, port, local_hostname="client.council.example") as smtp:
                smtp.sendmail(SENDER, [f"single{i}.{RECIPIENT}"], raw.replace(b"\n", b"\r\n"))
            if self.wait_for(before + 1, 30):
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
            else:
                result.singles_missing += 1


def report(r: Result, label: str) -> None:
    print(
        f"  {label:<8} {r.kind:<7} {r.path:<14} {r.rate:7.1f} msg/s  filter CPU"
        f" {r.cpu_ms:6.2f} ms/msg  p50 {r.percentile(50):7.1f} ms  p99"
        f" {r.percentile(99):7.1f} ms  arrived {r.arrived}/{r.sent} dup {r.duplicated}",
        flush=True,
    )


def summary(bench: Bench, kinds: list[str], paths: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    print("\nResult: best round of each path (msg/s end to end; filter CPU ms/msg; latency of"
          " single messages)")  # fmt: skip
    for kind in kinds:
        best = {
            p: max(
                (r for r in bench.results if r.kind == kind and r.path == p), key=lambda r: r.rate
            )
            for p in paths
        }
        # Single messages were sent in the first round; the best round may be another.
        singles = {
            p: next(
                (r for r in bench.results if r.kind == kind and r.path == p and r.latencies_ms),
                best[p],
            )
            for p in paths
        }
        rows = {}
        for p, r in best.items():
            lat = singles[p]
            rows[p] = {
                "msg_per_s": round(r.rate, 1),
                "filter_cpu_ms": round(r.cpu_ms, 2),
                "p50_ms": round(lat.percentile(50), 1),
                "p99_ms": round(lat.percentile(99), 1),
            }
            print(
                f"  {kind:<7} {p:<14} {r.rate:7.1f} msg/s  CPU {r.cpu_ms:6.2f} ms/msg"
                f"  p50 {lat.percentile(50):6.1f}  p99 {lat.percentile(99):6.1f} ms"
            )
        amavis = [p for p in paths if p.startswith("amavis")]
        if amavis and "mailguard" in best:
            top = max(amavis, key=lambda p: best[p].rate)
            ratio = best["mailguard"].rate / best[top].rate
            cpu = best["mailguard"].cpu_ms / best[top].cpu_ms
            print(
                f"  {kind:<7} mailguard / amavis at its best ({top}): {ratio:.2f}x msg/s,"
                f" {cpu:.2f}x the CPU per message"
            )
            rows["mailguard_vs_amavis"] = {"best_amavis": top, "ratio": round(ratio, 3),
                                           "cpu_ratio": round(cpu, 3)}  # fmt: skip
        if "mailguard-before" in best:
            ratio = best["mailguard"].rate / best["mailguard-before"].rate
            cpu = best["mailguard"].cpu_ms / best["mailguard-before"].cpu_ms
            print(
                f"  {kind:<7} mailguard / mailguard-before: {ratio:.2f}x msg/s,"
                f" {cpu:.2f}x the CPU per message"
            )
            rows["mailguard_vs_before"] = {"ratio": round(ratio, 3), "cpu_ratio": round(cpu, 3)}
        out[kind] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-m", "--messages", type=int, default=2000, help="per batch, 4 KB kinds")
    p.add_argument("--csv-messages", type=int, default=400, help="per batch, the CSV kind")
    p.add_argument("-s", "--sessions", type=int, default=10, help="smtp-source -s [10]")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--singles", type=int, default=100, help="single messages for latency")
    p.add_argument("--kinds", default=",".join(KINDS), help="letter,filler,csv")
    p.add_argument("--maxproc", type=int, default=10, help="both filters [10]")
    p.add_argument("--skip-amavis", action="store_true")
    p.add_argument("--round-timeout", type=float, default=600.0)
    p.add_argument("--mailguard-cmd", type=shlex.split, default=[sys.executable, "-m", "mailguard"])
    p.add_argument("--mailguard-args", type=shlex.split, default=[])
    p.add_argument(
        "--baseline-cmd",
        type=shlex.split,
        default=None,
        help="also run this mailguard (e.g. an older checkout) as path mailguard-before,"
        " in the same rounds",
    )
    p.add_argument(
        "--sink",
        choices=["wire", "aiosmtpd"],
        default="wire",
        help="the final MTA's stand-in, as relay_bench's --sink [wire]",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    if not set(kinds) <= set(KINDS):
        p.error(f"--kinds: choose from {', '.join(KINDS)}")
    paths = ["postfix", *([] if args.skip_amavis else ["amavis", "amavis-nopipe"])]
    paths += [*(["mailguard-before"] if args.baseline_cmd else []), "mailguard"]
    for tool in (POSTFIX, SMTP_SOURCE, *([] if args.skip_amavis else [AMAVISD])):
        if not Path(tool).exists():
            print(f"ERROR: {tool} is missing (apt-get install postfix amavisd-new)")
            return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    fleet = Fleet()
    root = reachable_tempdir("mailguard-pfpath-")  # Postfix's and amavis's users reach it
    postfix: Postfix | None = None
    filters: list[subprocess.Popen[bytes]] = []
    try:
        counters = multiprocessing.get_context("spawn").Array("q", 2)
        sink = fleet.start_child("sink", counters=counters, options={"wire": args.sink == "wire"})
        ports = Ports(sink.port)
        pids: dict[str, int] = {}
        if not args.skip_amavis:
            filters.append(start_amavis(root, ports, args.maxproc))
            pids["amavis"] = pids["amavis-nopipe"] = filters[-1].pid
        mailguards = {"mailguard": (ports.mailguard, args.mailguard_cmd)}
        if args.baseline_cmd:
            mailguards["mailguard-before"] = (ports.before, args.baseline_cmd)
        for path, (port, command) in mailguards.items():
            filters.append(
                start_mailguard(
                    root / path, port, ports, args.maxproc, command, args.mailguard_args
                )
            )
            pids[path] = filters[-1].pid
        postfix = Postfix(root / "postfix", ports, args.maxproc)
        started = postfix.command("start")
        if started.returncode:
            raise SetupError(f"postfix start: {started.stderr}{postfix.log()[-2000:]}")
        for path in paths:
            await_greeting(ports.inputs[path], "postfix")
        bench = Bench(args, ports, counters, pids)
        texts = {}
        for kind in kinds:
            texts[kind] = root / f"{kind}.eml"
            texts[kind].write_bytes(message(kind))
        print(
            f"Postfix -> filter -> Postfix on {os.cpu_count()} CPUs: maxproc {args.maxproc},"
            f" smtp-source -s {args.sessions}, {args.rounds} round(s); mailguard"
            f" {' '.join(args.mailguard_args) or '(defaults)'} with the council policy in"
            " monitor mode; amavisd-new with every check bypassed",
            flush=True,
        )
        for kind in kinds:
            size = texts[kind].stat().st_size // 1024
            print(f"{kind}: {size} KB", flush=True)
            n = args.csv_messages if kind == "csv" else args.messages
            for path in paths:  # warm-up: models loaded, connections cached
                bench.batch(path, kind, texts[kind], max(10, n // 20), f"w{path}")
                bench.results.pop()
            for rnd in range(1, args.rounds + 1):
                for path in paths:
                    result = bench.batch(path, kind, texts[kind], n, f"r{rnd}{path}")
                    if rnd == 1:
                        bench.singles(result, texts[kind].read_bytes(), args.singles)
                    report(result, f"round {rnd}")
        table = summary(bench, kinds, paths)
        total_sent = sum(r.sent for r in bench.results)
        lost = sum(max(0, r.sent - r.arrived) + r.singles_missing for r in bench.results)
        dups = sum(r.duplicated for r in bench.results)
        print(f"  {total_sent} measured messages: {lost} missing, {dups} duplicated")
        if args.json:
            print(json.dumps({"paths": table, "lost": lost, "duplicated": dups}))
        return 0 if not lost and not dups else 1
    except SetupError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if postfix is not None:
            postfix.command("stop")
        for proc in filters:
            _end_session(proc)
        fleet.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
