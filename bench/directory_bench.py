"""What the council's directory costs a message, against a real slapd on loopback.

Part 1 times ``Directory.answers`` in-process: a message whose sender the cache does
not know yet (one LDAP search), one it knows, and a 500-member distribution list
expanded. Part 2 runs ``relay_bench.py`` once with mailguard twice, without ("before") and
with ``directory:`` in its settings, rounds alternating, under a policy with a
directory rule. relay_bench gives every message of a round a sender of its own, and
each round the same ones: in the first round every message is a cache miss (the
worst case: one LDAP search each), in later rounds every one is answered from memory.

    python bench/directory_bench.py [--messages 2000] [--skip-relay]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailguard.config import DirectorySettings  # noqa: E402
from mailguard.directory.service import Directory  # noqa: E402
from tests.support.slapd import (  # noqa: E402
    ADMIN_DN,
    ADMIN_PASSWORD,
    ATTRIBUTES,
    BASE_DN,
    USER_FILTER,
    Person,
    Slapd,
    directory_section,
)

PEOPLE = 2000
LIST_MEMBERS = 500
POLICY = """
organisation: {name: Bench, internal_domains: [example.org]}
rules:
  - name: revenues-health
    description: Revenues never sends health data.
    when: {all: [{sender: {group: Revenues}}, {finding: {type: [UK_NHS, SPECIAL_CATEGORY]}}]}
    action: hold
  - name: big-mailing
    description: Many outside recipients.
    when: {external_recipients: {more_than: 30}}
    action: tag
"""


def settings(slapd: Slapd) -> DirectorySettings:
    return DirectorySettings(
        url=slapd.url, base_dn=BASE_DN, bind_dn=ADMIN_DN, bind_password=ADMIN_PASSWORD,
        user_filter=USER_FILTER, attributes=ATTRIBUTES,
    )  # fmt: skip


def populate(slapd: Slapd) -> None:
    dns = [
        slapd.add_person(Person(f"p{i}", f"Person {i}", f"p{i}@example.org", "Revenues"))
        for i in range(PEOPLE)
    ]
    slapd.add_group("Revenues", dns[: PEOPLE // 2])
    slapd.add_group("Panel", dns[:LIST_MEMBERS], mail="panel@example.org")


async def in_process(slapd: Slapd) -> dict[str, float]:
    directory = Directory(settings(slapd))
    try:
        miss, hit = [], []
        for i in range(1000):
            started = time.perf_counter()
            await directory.answers([f"p{i}@example.org"])
            miss.append(time.perf_counter() - started)
        for i in range(1000):
            started = time.perf_counter()
            await directory.answers([f"p{i}@example.org"])
            hit.append(time.perf_counter() - started)
        started = time.perf_counter()
        answers = await directory.answers(["panel@example.org"])
        expand = time.perf_counter() - started
        assert len(answers.lookup("panel@example.org").members) == LIST_MEMBERS
    finally:
        directory.close()
    return {
        "uncached_sender_ms_p50": statistics.median(miss) * 1000,
        "uncached_sender_ms_p99": sorted(miss)[989] * 1000,
        "cached_sender_us_p50": statistics.median(hit) * 1e6,
        f"list_of_{LIST_MEMBERS}_expanded_ms": expand * 1000,
    }


def relay(tmp: Path, slapd: Slapd, messages: int, rounds: int) -> dict[str, object]:
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY)
    config = tmp / "mailguard.yaml"
    config.write_text(directory_section(slapd))
    # One relay_bench run, rounds alternating: "before" is mailguard without the
    # directory, "mailguard" the same with it (a wrapper adds --config after "serve").
    wrapper = tmp / "mailguard-with-directory.sh"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m mailguard "$@" --config {config}\n')
    wrapper.chmod(0o755)
    cmd = [
        sys.executable, str(ROOT / "bench" / "relay_bench.py"), "-n", str(messages),
        "--rounds", str(rounds), "--connection-mode", "reuse", "--policy", str(policy),
        "--baseline-cmd", f"{sys.executable} -m mailguard", "--mailguard-cmd", str(wrapper),
        "--json",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    print(done.stdout, done.stderr, file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])["modes"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-relay", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Slapd(Path(tmp) / "ldap") as slapd:
        started = time.perf_counter()
        populate(slapd)
        print(f"slapd: {PEOPLE} people in {time.perf_counter() - started:.1f}s")
        print(json.dumps(asyncio.run(in_process(slapd)), indent=1))
        if not args.skip_relay:
            print(json.dumps(relay(Path(tmp), slapd, args.messages, args.rounds), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
