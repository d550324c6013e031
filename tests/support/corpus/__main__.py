"""python -m tests.support.corpus OUTDIR [--seed N] [--count N] [--date YYYY-MM-DD]"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from tests.support.corpus.generate import DEFAULT_POLICY, generate


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.corpus",
        description="Write a labelled corpus of a fictional council's outbound mail.",
    )
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        help="the corpus's 'today' (message and history dates) [today]",
    )
    parser.add_argument(
        "--default-policy",
        type=Path,
        default=DEFAULT_POLICY,
        help="the shipped policy the site policy includes [%(default)s]",
    )
    parser.add_argument("--jobs", type=int, help="processes writing messages [CPU count]")
    args = parser.parse_args()
    started = time.monotonic()
    doc = generate(
        args.outdir,
        seed=args.seed,
        count=args.count,
        today=args.date,
        default_policy=args.default_policy.resolve(),
        jobs=args.jobs,
    )
    risky = sum(m["risky"] for m in doc["messages"])
    print(
        f"{len(doc['messages'])} messages ({risky} risky) of {len(doc['kinds'])} kinds, "
        f"{doc['history_messages']} history messages, in {args.outdir} "
        f"({time.monotonic() - started:.1f}s)"
    )


if __name__ == "__main__":
    main()
