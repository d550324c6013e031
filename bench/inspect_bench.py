"""How fast is inspection? The figures issue 5 asks for, measured in one worker process.

- a 200 KB CSV of 2,000 synthetic residents, attached to a message (target <= 0.5 s)
- a 10 KB free-text body with a few identifiers and a special-category word (<= 50 ms)
- a plain 4 KB message with nothing personal in it (what most mail costs)
- a 4 KB prose letter to a resident: a name, a postal address, a reference (what a
  council sends most; issue 19: it should cost about what the plain message costs)
- the worker's peak RSS with the model loaded (<= 400 MB)

Run:  python bench/inspect_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailguard.detectors import registry
from mailguard.inspection import pipeline
from mailguard.model import Envelope
from tests.support import files
from tests.support.mail import compose

ENVELOPE = Envelope("officer@northdown.gov.uk", ("someone@example.org",))
EVERY_DETECTOR = registry.DETECTORS  # as if every rule of a policy needed every detector


def inspect(raw: bytes):  # type: ignore[no-untyped-def]
    return pipeline.inspect(ENVELOPE, raw, detector_set=EVERY_DETECTOR)


def free_text(size: int) -> str:
    fake = files.fake
    parts = []
    while sum(len(p) for p in parts) < size:
        parts.append(fake.paragraph(nb_sentences=6))
        if len(parts) % 5 == 0:
            parts.append(
                f"Re {fake.name()} (NI {files.nino()}), NHS number {files.nhs_number()}: "
                "she was diagnosed with diabetes and is under the care of the GP surgery."
            )
    return "\n\n".join(parts)[:size]


def letter(size: int) -> str:
    fake = files.fake
    name, address = fake.name(), fake.address().replace("\n", ", ")
    text = [
        f"Dear {name},",
        f"Thank you for your letter of {fake.date()} about the repairs at {address}. "
        f"Your reference is HR/{fake.random_int(10000, 99999)}.",
    ]
    while sum(len(t) for t in text) < size - 60:
        text.append(fake.paragraph(nb_sentences=5))
    text.append(f"Yours sincerely,\n{fake.name()}\nHousing Officer")
    return "\n\n".join(text)


def timed(raw: bytes, repeat: int) -> tuple[float, float, int]:
    times = []
    findings = 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = inspect(raw)
        times.append((time.perf_counter() - started) * 1000)
        findings = len(result.findings)
    return statistics.median(times), max(times), findings


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=10)
    args = p.parse_args()

    started = time.perf_counter()
    pipeline.warm_up()
    warm = time.perf_counter() - started

    fake = files.fake
    rows = [
        [*r, fake.email(), f"020 7946 {fake.random_int(0, 999):04d}", fake.job()]
        for r in files.residents(2000)
    ]
    csv = files.csv_bytes(rows, [*files.HEADER, "Email", "Phone", "Occupation"])
    cases = {
        f"CSV attachment, 2,000 rows ({len(csv) // 1024} KB)": files.message_with(
            {"residents.csv": csv}
        ),
        "10 KB free-text body with identifiers": files.message_with(body=free_text(10_000)),
        "plain 4 KB message, nothing personal": compose(body=files.fake.text(4000)),
        "4 KB prose letter to a resident": compose(body=letter(4000)),
    }
    print(f"model and recognisers loaded in {warm:.2f} s")
    for name, raw in cases.items():
        inspect(raw)  # warm-up for this shape
        median, worst, n = timed(raw, args.repeat)
        print(f"{name:<45} median {median:8.1f} ms  max {worst:8.1f} ms  findings {n}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (one worker's worth): {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
