"""Tables typed or pasted into text: a body, a .txt file, speaker notes.

A run of at least three consecutive lines that split into the same number (two or
more) of cells is a table when the cells read like data, not like prose:

- delimited by tab, comma, semicolon or pipe (CSV quoting respected; Markdown and
  ASCII-art rule lines such as ``|---|---|`` are skipped), or
- fixed-width: columns of characters that are blank on every line of the run, at
  least two wide (how a report or a pasted aligned list looks).

Look-alikes that are refused: prose that happens to contain commas (long cells,
cells that continue a sentence in lower case), an address block (a trailing comma
leaves an empty column; columns whose cells are of different kinds), a "Name: x"
block (labels ending in a colon are a form, not a table).

The first row is the header when it reads like one (short labels, no digits);
otherwise every row is a record and the header is empty, so rows are counted right.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass

from mailguard.intake.budget import Budget, CellCount

MIN_ROWS = 3  # a header and two records, or three records
SAMPLE = 500  # rows a run is judged on
DELIMITERS = ("\t", "|", ";", ",")  # in order of preference when two fit the same lines


@dataclass(frozen=True, slots=True)
class Grid:
    """A table found in text: ``header`` is ``()`` when the first row is a record."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def grid_of(rows: list[list[str]]) -> Grid | None:
    """A table from a document (a docx table): a Grid if it holds data, not layout."""
    return _accept(rows, loose=True)


def split(text: str, budget: Budget) -> tuple[str, list[Grid]]:
    """The text with its tables' lines blanked out, and the tables in order."""
    if len(text) < 12 or "\n" not in text:
        return text, []
    lines = text.split("\n")
    if ">" in text:
        clean = [_unquoted(line) for line in lines]
    else:  # what _unquoted leaves without a quote mark: the line without trailing CRs
        clean = [line.rstrip("\r") for line in lines] if "\r" in text else lines
    rule = [bool(line) and line[0] in _RULE_START and _is_rule(line) for line in clean]
    budget.tick()
    cells = CellCount(budget)
    found: list[tuple[int, int, Grid]] = []  # (first line, last line + 1, grid)
    taken = [False] * len(lines)
    for start, end, grid in _delimited(text, clean, rule, budget):
        if not any(taken[start:end]):
            cells.add(sum(len(r) for r in grid.rows) + len(grid.header))
            found.append((start, end, grid))
            taken[start:end] = [True] * (end - start)
    if "  " in text:
        for start, end, grid in _fixed_width(clean, rule, taken, budget):
            cells.add(sum(len(r) for r in grid.rows) + len(grid.header))
            found.append((start, end, grid))
            taken[start:end] = [True] * (end - start)
    if not found:
        return text, []
    found.sort(key=lambda f: f[0])
    rest = "\n".join("" if taken[i] else line for i, line in enumerate(lines))
    return rest, [grid for _, _, grid in found]


# --- delimited -------------------------------------------------------------------------

_QUOTE_PREFIX = re.compile(r"^(?:[ \t]*>)+ ?")
_RULE = re.compile(r"^[ \t|+:=_-]*[=_-]{3,}[ \t|+:=_-]*$")
_RULE_START = frozenset(" \t|+:=_-")


def _is_rule(line: str) -> bool:
    """``|---|---|`` under a Markdown header, ``+----+`` around an ASCII table."""
    return bool(_RULE.match(line))


def _unquoted(line: str) -> str:
    """A quoted reply's line without its ``>`` marks; no trailing CR."""
    line = line.rstrip("\r")
    return _QUOTE_PREFIX.sub("", line) if line[:1] in (">", " ", "\t") else line


def _fields(line: str, delimiter: str) -> list[str]:
    if delimiter == "|":
        line = line.strip()
        line = line[1:] if line.startswith("|") else line
        line = line[:-1] if line.endswith("|") else line
    if '"' in line:
        try:
            return next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))
        except (csv.Error, StopIteration):
            return [line]
    return line.split(delimiter)


def _width(line: str, delimiter: str) -> int:
    """How many fields ``line`` splits into (0 for a blank line), without splitting it."""
    if delimiter not in line:
        return 1 if line.strip() else 0
    if '"' in line or delimiter == "|":
        return len(_fields(line, delimiter))
    return line.count(delimiter) + 1


def _delimited(
    text: str, clean: list[str], rule: list[bool], budget: Budget
) -> list[tuple[int, int, Grid]]:
    """Candidate tables for every delimiter, best first (more rows, then preference)."""
    candidates: list[tuple[int, int, int, int, Grid]] = []
    for preference, delimiter in enumerate(DELIMITERS):
        if delimiter not in text:
            continue
        for start, end, rows in _runs(clean, rule, delimiter, budget):
            grid = _accept(rows, loose=delimiter in "\t|")
            if grid is not None:
                candidates.append((-len(rows), preference, start, end, grid))
    candidates.sort(key=lambda c: c[:3])
    return [(start, end, grid) for _, _, start, end, grid in candidates]


def _runs(
    clean: list[str], rule: list[bool], delimiter: str, budget: Budget
) -> Iterator[tuple[int, int, list[list[str]]]]:
    """Maximal runs of lines with the same number (>= 2) of fields; rule lines are
    passed over, a blank line ends a run."""
    widths = [0 if r else _width(line, delimiter) for line, r in zip(clean, rule, strict=True)]
    budget.tick()
    start = width = 0
    members: list[int] = []  # the run's rows (not its rule lines)
    for i, n in enumerate(widths):
        if rule[i]:
            continue
        if members and n == width:
            members.append(i)
            continue
        if len(members) >= MIN_ROWS:
            yield start, members[-1] + 1, [_fields(clean[m], delimiter) for m in members]
            budget.tick()
        members = []
        if n >= 2:
            start, width, members = i, n, [i]
    if len(members) >= MIN_ROWS:
        yield start, members[-1] + 1, [_fields(clean[m], delimiter) for m in members]


# --- is it data? -----------------------------------------------------------------------

_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_SENTENCE_END = re.compile(r"[a-z][.!?]$")


def header_like(row: tuple[str, ...] | list[str]) -> bool:
    """Short labels without digits ("Name", "Date of birth", "NHS No.")."""
    cells = [c.strip() for c in row]
    filled = [c for c in cells if c]
    return (
        len(filled) >= 2
        and len(filled) >= len(cells) - 1
        and all(
            len(c) <= 40
            and len(c.split()) <= 5
            and not _DIGIT.search(c)
            and _LETTER.search(c)
            and not c.endswith(("!", "?", ":"))
            for c in filled
        )
        and len(set(filled)) == len(filled)
    )


def _long(cell: str, words: int, chars: int) -> bool:
    return len(cell) > chars or len(cell.split()) > words


def _kind(cell: str) -> str:
    digits = bool(_DIGIT.search(cell))
    letters = bool(_LETTER.search(cell))
    if digits and letters:
        return "mixed"
    return "digits" if digits else "letters" if letters else "other"


def _consistent(column: list[str]) -> bool:
    kinds = [_kind(c) for c in column if c]
    if len(kinds) <= 1:
        return True
    most = max(kinds.count(k) for k in set(kinds))
    outliers = len(kinds) - most
    return outliers == 0 or (len(kinds) >= 5 and outliers <= len(kinds) // 5)


def _accept(raw_rows: list[list[str]], loose: bool) -> Grid | None:
    """A Grid if these rows read like data, None if like prose, an address or a form.

    ``loose`` for tab and pipe, which prose rarely contains; comma and semicolon
    separated cells must be short and must not continue a sentence.
    """
    if len(raw_rows) < MIN_ROWS or len(raw_rows[0]) < 2:
        return None
    # Judged on the first rows: a 100,000-line export costs what its first 500 do.
    rows = [tuple(c.strip() for c in r) for r in raw_rows[:SAMPLE]]
    width = len(rows[0])
    used = [c for c in range(width) if any(r[c] for r in rows)]
    if len(used) < 2:
        return None  # "12 High Street," lines: one column and an empty one
    filled = [r[c] for r in rows for c in used if r[c]]
    if sum(1 for r in rows if sum(1 for c in used if r[c]) >= 2) < len(rows) * 2 / 3:
        return None
    if len(rows) * len(used) - len(filled) > len(rows) * len(used) / 2:
        return None  # mostly empty
    # A form ("Name:  Jane", "DOB:  ...") is one record read down, not a table.
    first = [r[used[0]] for r in rows if r[used[0]]]
    if sum(1 for c in first if c.endswith(":")) * 2 >= len(first):
        return None
    if loose:
        # A notes column may hold sentences; a table whose columns mostly do is prose.
        prose = [c for c in used if sum(1 for r in rows if _long(r[c], 12, 120)) * 2 > len(rows)]
        if len(prose) * 2 > len(used):
            return None
        short = [r[c] for r in rows for c in used if r[c] and c not in prose]
        if sum(len(c.split()) for c in short) > 6 * len(short):
            return None
    else:
        if sum(1 for c in filled if _long(c, 6, 50)) * 5 > len(filled):
            return None
        if sum(len(c.split()) for c in filled) > 4 * len(filled):
            return None
        # Prose: cells that carry on a sentence ("..., which we received on Monday").
        later = [r[c] for r in rows for c in used[1:] if r[c]]
        running_on = sum(1 for c in later if c[0].islower() and " " in c)
        if running_on * 3 >= max(len(later), 1):
            return None
        if sum(1 for r in rows if _SENTENCE_END.search(r[used[-1]])) * 2 >= len(rows):
            return None
    has_header = header_like([rows[0][c] for c in used])
    body = rows[1:] if has_header else rows
    inconsistent = sum(1 for c in used if not _consistent([r[c] for r in body]))
    if inconsistent > (len(used) - 1) // 2:
        return None  # an address block, a signature: each line a different kind of thing
    rows += [tuple(c.strip() for c in r) for r in raw_rows[SAMPLE:]]
    if has_header:
        return Grid(rows[0], tuple(rows[1:]))
    return Grid((), tuple(rows))


# --- fixed width -----------------------------------------------------------------------

_GAP = re.compile(r"\S {2,}\S")
_WORD = re.compile(r"\S+")


def _fixed_width(
    clean: list[str], rule: list[bool], taken: list[bool], budget: Budget
) -> Iterator[tuple[int, int, Grid]]:
    """Runs of lines with an inner gap of 2+ spaces, cut where every line is blank."""
    start = None
    for i in range(len(clean) + 1):
        if i % 5000 == 0:
            budget.tick()
        aligned = False
        if i < len(clean) and not taken[i]:
            line = clean[i]
            if "\t" not in line:
                if rule[i]:
                    aligned = start is not None
                elif "  " in line or "\xa0" in line:
                    aligned = bool(_GAP.search(line.replace("\xa0", " ")))
                # Inside a run: a wrapped cell's next line (indented), or one blank
                # line between records, as a PDF's layout text has them.
                if not aligned and start is not None:
                    if line.startswith("  ") and line.strip():
                        aligned = True
                    elif not line.strip() and i + 1 < len(clean):
                        aligned = bool(_GAP.search(clean[i + 1].replace("\xa0", " ")))
        if aligned:
            if start is None:
                start = i
            continue
        if start is not None and i - start >= MIN_ROWS:
            yield from _columns(clean, rule, start, i)
        start = None


def _columns(
    clean: list[str], rule: list[bool], start: int, end: int
) -> Iterator[tuple[int, int, Grid]]:
    text = [line.replace("\xa0", " ").rstrip() for line in clean[start:end]]
    rows_at = [n for n in range(end - start) if not rule[start + n] and text[n]]
    if len(rows_at) < MIN_ROWS:
        return
    width = max(len(text[n]) for n in rows_at)
    if width > 2000:
        return
    used = bytearray(width)
    for n in rows_at:
        for word in _WORD.finditer(text[n]):
            used[word.start() : word.end()] = b"\x01" * (word.end() - word.start())
    spans: list[list[int]] = []
    pos = 0
    while pos < width:
        if not used[pos]:
            pos += 1
            continue
        begin = pos
        while pos < width and (used[pos] or (pos + 1 < width and used[pos + 1])):
            pos += 1  # a single blank column is a space between words, not a gap
        spans.append([begin, pos])
    if len(spans) < 2:
        return
    rows: list[list[str]] = []
    for n in rows_at:
        cells = [text[n][a:b].strip() for a, b in spans]
        if rows and not cells[0] and text[n].startswith("  "):
            # A wrapped cell goes on under its row: "Flat 20, 93 Brooks / Street, Easton".
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    grid = _accept(rows, loose=True)
    if grid is not None:
        last = start + rows_at[-1] + 1
        yield start + rows_at[0], last, grid
