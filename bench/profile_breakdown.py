"""Where a relay's CPU goes, by stage: a py-spy profile folded into the stages of a
message's path (accept, SMTP commands, DATA, upstream, worker round trip, parsing,
detectors, policy, logging, metrics, recorders).

Record one under load (py-spy is not a dependency: ``pip install py-spy``)::

    python bench/relay_bench.py -n 3000 --rounds 1 --policy policies/council-default.yaml \\
      --mailguard-cmd "py-spy record --nonblocking --subprocesses -r 200 -f raw \\
                       -o mg.raw -- python -m mailguard"
    python bench/profile_breakdown.py mg.raw

Each sample is given to the stage of the innermost frame that belongs to one (the
message parser called by a detector counts as parsing, the detector's own regular
expressions as the detector). Start-up (imports, loading the model) is left out.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

STARTUP = ("_find_and_load", "warm_up", "_model (", "Language.from_disk", "spacy.load")
# (stage, patterns in a frame), most specific first.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("logging", ("structlog/", "mailguard/log.py", "_log_message", "_log_refused")),
    ("metrics", ("prometheus_client/", "mailguard/metrics.py")),
    (
        "ledger and history recorders",
        (
            "mailguard/batches.py",
            "mailguard/ledger/",
            "mailguard/history/recorder.py",
            "history/learn.py",
            "SQLHistory.",  # the writes of the history recorder's batches
        ),
    ),
    ("history lookup (SQLite)", ("read_profile", "ReadOnlyHistory", "OrgDomainCounts")),
    ("policy evaluation", ("mailguard/policy/",)),
    ("NER (spaCy)", ("spacy/", "thinc/", "_people_in", "_people_named")),
    ("pattern recognisers (Presidio)", ("presidio_analyzer/", "phonenumbers/", "_pattern_results")),
    ("other detectors", ("mailguard/detectors/",)),
    ("parsing and extraction", ("mailguard/intake/", "email/")),
    ("inspection pipeline", ("mailguard/inspection/pipeline.py", "mailguard/inspection/inline.py")),
    ("worker round trip (relay side)", ("InspectionPool", "_Worker.exchange")),
    ("worker request loop (worker side)", ("_serve_requests", "_read_frame")),
    ("upstream (aiosmtplib, pool)", ("aiosmtplib/", "mailguard/delivery/")),
    ("actions", ("mailguard/actions/",)),
    ("DATA received (aiosmtpd)", ("smtp_DATA", "has_bare_line_ending")),
    ("accept and SMTP commands (aiosmtpd)", ("aiosmtpd/", "mailguard/smtp/")),
    ("relay path", ("mailguard/relay.py",)),
    (
        "event loop and I/O",
        ("asyncio/", "uvloop", "selectors.py", "run_until_complete", "Runner.run"),
    ),
]


def process_of(root: str) -> str:
    """py-spy names a process by its command line (sometimes it cannot read it)."""
    return "worker" if "inspection.workers" in root else "relay"


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, patterns in STAGES:
            if any(p in frame for p in patterns):
                return name
    return "other"


def breakdown(raw: Path) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit():
            continue
        # Recorded with --subprocesses, each stack starts with its process; without,
        # the profile is of the one relay process.
        roots = [i for i, f in enumerate(frames) if f.startswith("process ")]
        who = process_of(frames[roots[-1]]) if roots else "relay"
        body = frames[roots[-1] + 1 :] if roots else frames
        if any(s in f for f in body for s in STARTUP):
            continue
        out[who][stage_of(body)] += int(count)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="py-spy record -f raw output")
    args = parser.parse_args()
    found = breakdown(args.raw)
    for who in ("relay", "worker"):
        total = sum(found[who].values())
        if not total:
            continue
        print(f"{who} process(es): {total} samples")
        for stage, n in found[who].most_common():
            print(f"  {100 * n / total:5.1f}%  {stage}")
    if not found:
        sys.exit("no samples: is this py-spy's raw format (-f raw)?")


if __name__ == "__main__":
    main()
