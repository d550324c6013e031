"""Known records: what the council's own tables cost (issue 17's figures).

- import: a synthetic register of N rows x 6 columns (default 5,000,000), CSV, through
  ``mailguard records import`` as an admin runs it: seconds, and bytes a row on disk
- matching: the ``known_records`` detector alone, in this process, after the message's
  contents were extracted (``personal_data`` extracts them anyway): a plain 4 KB
  message with no match (target <= 1 ms), and a 200 KB CSV of 2,000 rows of which
  500 are in the register (target <= 20 ms)
- memory: the relay maps the columns from disk (``numpy.memmap``): the bytes a
  worker would have to hold are the files' size, shared between workers

Run:  python bench/records_bench.py [--rows 5000000] [--repeat 50] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailguard.detectors import DetectionContext, known_records
from mailguard.intake.extract import contents_of
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope
from mailguard.records.store import RecordsReader, RecordsStore
from tests.support import files, registers
from tests.support.mail import compose

ENVELOPE = Envelope("officer@northdown.gov.uk", ("someone@example.org",))


def write_register(path: Path, rows: int) -> list[registers.Resident]:
    """``rows`` residents streamed to CSV in chunks; the first 100,000 are returned."""
    kept: list[registers.Resident] = []
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(registers.HEADER)
        chunk = 100_000
        for start in range(0, rows, chunk):
            people = registers.residents(min(chunk, rows - start), seed=start + 1)
            people = [
                registers.Resident(f"HT{start + i:08d}", *_rest(p)) for i, p in enumerate(people)
            ]
            writer.writerows(p.export_row() for p in people)
            if not kept:
                kept = people
    return kept


def first_chunk() -> list[registers.Resident]:
    people = registers.residents(100_000, seed=1)
    return [registers.Resident(f"HT{i:08d}", *_rest(p)) for i, p in enumerate(people)]


def imported(export: Path, data: Path, rows: int) -> list[registers.Resident] | None:
    started = time.perf_counter()
    known = write_register(export, rows)
    print(
        f"register: {rows:,} rows x 6 columns, {export.stat().st_size / 1e6:.0f} MB CSV"
        f" (written in {time.perf_counter() - started:.0f}s)"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mailguard", "records", "import", "register", str(export),
         "--data-dir", str(data), "--key-columns", "NHS Number", "--replace"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    took = time.perf_counter() - started
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    on_disk = sum(p.stat().st_size for p in (data / "records" / "register").rglob("col-*"))
    print(
        f"import: {took:.1f}s ({rows / took:,.0f} rows/s), peak RSS"
        f" {usage.ru_maxrss / 1024:.0f} MB; index {on_disk / 1e6:.0f} MB ="
        f" {on_disk / rows:.1f} bytes a row (target <= 64)"
    )
    return known


def _rest(p: registers.Resident) -> tuple:
    return (p.first, p.last, p.born, p.postcode, p.nhs)


def matching_csv(known: list[registers.Resident], strangers: list[registers.Resident]) -> bytes:
    """A 200 KB spreadsheet as another team keeps it: 500 known people among 2,000."""
    rows = known[:500] + strangers[: 2000 - 500]
    random.Random(1).shuffle(rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Name", "Date of birth", "Postcode", "NHS number", "Notes"])
    for p in rows:
        writer.writerow(
            [
                f"{p.first} {p.last}".upper(),
                f"{p.born.day} {p.born.strftime('%B %Y')}",
                p.postcode.replace(" ", ""),
                p.nhs,
                "Arrears review due; tenant contacted by phone, awaiting reply.",
            ]
        )
    return out.getvalue().encode()


def wide_csv(known: list[registers.Resident], note_words: int = 16) -> bytes:
    """An export of 500 known people as a case system writes it: wide rows with
    address, phone, email and a case note (``note_words`` long)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Ref", "Surname", "Forename", "DOB", "Address", "Postcode", "Phone",
                     "Email", "NHS No", "Case note"])  # fmt: skip
    rng = random.Random(2)
    for p in known[:500]:
        writer.writerow(
            [
                p.ref, p.last, p.first, p.born.strftime("%d/%m/%Y"),
                f"{rng.randint(1, 200)} {rng.choice(['High', 'Mill', 'Church', 'Park'])} Road",
                p.postcode, f"07700 9{rng.randint(10000, 99999)}",
                f"{p.first}.{p.last}@example.org".lower(), p.nhs,
                " ".join(rng.choice(_NOTE) for _ in range(note_words)),
            ]
        )  # fmt: skip
    return out.getvalue().encode()


_NOTE = [
    "tenancy",
    "sustainment",
    "visit",
    "booked",
    "arrears",
    "plan",
    "agreed",
    "with",
    "the",
    "tenant",
    "reviewed",
    "by",
    "the",
    "income",
    "team",
    "this",
    "week",
    "repairs",
    "reported",
    "damp",
    "in",
    "the",
    "bedroom",
    "follow",
    "up",
    "call",
    "made",
]


def timed(reader: RecordsReader, raw: bytes, repeat: int) -> tuple[float, float, int]:
    message = ParsedMessage(raw)
    contents_of(message)  # extracted once per message, shared by every detector
    context = DetectionContext(records=reader)
    times, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = known_records.detect(message, ENVELOPE, context)
        times.append((time.perf_counter() - started) * 1000)
        count = sum(f.count for f in found)
    return statistics.median(times), max(times), count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: match against the register imported there",
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="records-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        export = work / "register.csv"
        data = work / "data"
        if args.reuse and (data / "records" / "register").is_dir():
            known = first_chunk()
            print(f"register: reusing the one imported in {data}")
        else:
            known = imported(export, data, args.rows)
            if known is None:
                return 1
        reader = RecordsReader(RecordsStore(data))
        assert reader.active()
        plain = compose(to=["someone@example.org"])
        strangers = registers.residents(2000, seed=987654)
        sheet = matching_csv(known, strangers)
        wide = wide_csv(known)
        noted = wide_csv(known, note_words=60)
        cases = (
            (f"plain {len(plain) / 1024:.0f} KB message, no match", plain, 1.0),
            (f"{len(wide) / 1024:.0f} KB CSV, 500 wide rows, all known",
             files.message_with({"export.csv": wide}), 20.0),
            (f"{len(noted) / 1024:.0f} KB CSV, 500 wide rows with long notes, all known",
             files.message_with({"cases.csv": noted}), 20.0),
            (f"{len(sheet) / 1024:.0f} KB CSV, 2,000 rows, 500 known",
             files.message_with({"arrears.csv": sheet}), 20.0),
        )  # fmt: skip
        for label, raw, target in cases:
            median, worst, count = timed(reader, raw, args.repeat)
            print(
                f"{label}: median {median:.2f} ms, max {worst:.2f} ms, {count} rows found"
                f" (target <= {target:g} ms)"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
