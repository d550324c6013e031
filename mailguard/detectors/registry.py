"""Every detector mailguard runs, in one list.

The policy engine asks it which detectors a policy needs, lint asks it which finding
types exist, and the README's detector table is generated from it. A new detector is
one module with a ``DETECTOR`` and one line here.
"""

from __future__ import annotations

from collections.abc import Iterable

from mailguard.detectors import Detector, known_records
from mailguard.detectors.personal_data import detector as personal_data
from mailguard.detectors.personal_data import quoted, redaction
from mailguard.detectors.recipients import (
    attachment_mismatch,
    bulk_visible,
    lookalike,
    name_mismatch,
    near_miss,
    new_domain,
    unroutable,
)

DETECTORS: tuple[Detector, ...] = (
    bulk_visible.DETECTOR,
    lookalike.DETECTOR,
    new_domain.DETECTOR,
    near_miss.DETECTOR,
    name_mismatch.DETECTOR,
    unroutable.DETECTOR,
    personal_data.DETECTOR,
    redaction.DETECTOR,
    quoted.DETECTOR,
    attachment_mismatch.DETECTOR,
    known_records.DETECTOR,
)

# Any detector that fails reports this, whatever it otherwise emits.
FAILURE_TYPE = "UNINSPECTABLE"


def names() -> frozenset[str]:
    return frozenset(d.name for d in DETECTORS)


def finding_types() -> frozenset[str]:
    emitted = {t for d in DETECTORS for t in d.emits}
    return frozenset({*emitted, FAILURE_TYPE})


def emitting(types: Iterable[str]) -> frozenset[str]:
    """Names of the detectors that can report any of ``types``."""
    wanted = set(types)
    return frozenset(d.name for d in DETECTORS if wanted & d.emits.keys())


def reading_site_types() -> frozenset[str]:
    """Detectors that also report the site's own identifier types (policy ``identifiers``)."""
    return frozenset(d.name for d in DETECTORS if d.site_types)


def using_dns(names: Iterable[str]) -> bool:
    """Does any of the named detectors read DNS answers?"""
    wanted = set(names)
    return any(d.uses_dns for d in DETECTORS if d.name in wanted)


def using_records(names: Iterable[str]) -> bool:
    """Does any of the named detectors read the council's imported tables?"""
    wanted = set(names)
    return any(d.uses_records for d in DETECTORS if d.name in wanted)


def sorted_by_cost(detectors: Iterable[Detector]) -> tuple[Detector, ...]:
    """Cheapest first, else in the order given."""
    return tuple(sorted(detectors, key=lambda d: d.cost))


def markdown_table() -> str:
    """The README's detector table, generated so it can never disagree with this list."""
    rows = [
        "| detector | finding types (usual severity) | cost | reads | what it reports |",
        "|---|---|---|---|---|",
    ]
    for d in DETECTORS:
        types = ", ".join(f"`{t}` ({s.value})" for t, s in d.emits.items())
        reads = ", ".join(
            n
            for n, used in (
                ("history", d.uses_history),
                ("DNS", d.uses_dns),
                ("records", d.uses_records),
            )
            if used
        )
        rows.append(f"| `{d.name}` | {types} | {d.cost.name.lower()} | {reads} | {d.summary} |")
    return "\n".join(rows)


README_BEGIN = "<!-- detector table: python -m mailguard.detectors.registry README.md -->"
README_END = "<!-- end of detector table -->"


def update_readme(path: str) -> bool:
    """Rewrite the table between the markers; True when it changed."""
    from pathlib import Path

    readme = Path(path)
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    new = f"{head}{README_BEGIN}\n{markdown_table()}\n{README_END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1:
        print("updated" if update_readme(sys.argv[1]) else "up to date")
    else:
        print(markdown_table())
