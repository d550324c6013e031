"""``records import``: a CSV or XLSX export in, keyed hashes out, nothing plain kept.

The file is streamed row by row (a 2 GB export never sits in memory); each chosen
column's values are normalised by kind and hashed at once. Anything wrong with the
file stops the import with one line that says what and where, before the table in
force is touched: the new version is built aside and published only when complete.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mailguard.records import normalise
from mailguard.records.index import MAX_ROWS, Column, Hasher, Meta, write_column
from mailguard.records.normalise import Kind
from mailguard.records.store import RecordsError, RecordsStore, check_name, new_version

MAX_LINE = 1024 * 1024  # a longer line is not a row of an export
MAX_COLUMNS = 32


@dataclass(frozen=True, slots=True)
class Imported:
    meta: Meta
    skipped_columns: tuple[str, ...]  # in the file, not chosen (or of no known kind)
    empty_values: int  # cells left blank or not of their column's kind (not indexed)


def import_table(
    store: RecordsStore,
    name: str,
    path: Path,
    *,
    columns: Sequence[str] = (),
    key_columns: Sequence[str] = (),
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Imported:
    check_name(name)
    if store.get(name) is not None and not replace:
        raise RecordsError(f"table {name!r} exists: use --replace to load a fresh export over it")
    rows = _rows(path)
    header = _header(path, next(rows, None))
    chosen, skipped = _chosen(path, header, columns, key_columns)
    hasher = Hasher(store.key(create=True))
    hashes = [array("Q") for _ in chosen]
    row_numbers = [array("I") for _ in chosen]
    count = empty = 0
    for cells in rows:
        if not any(c not in (None, "") for c in cells):
            continue  # a blank line
        if count >= MAX_ROWS:
            raise RecordsError(f"{path}: more than {MAX_ROWS:,} rows; split the export")
        for i, (positions, column) in enumerate(chosen):
            if len(positions) == 1:
                value = _plain(cells[positions[0]]) if positions[0] < len(cells) else None
            else:  # first and last name, read as one name
                value = " ".join(str(cells[p] or "") for p in positions if p < len(cells))
            form = normalise.normalised(column.kind, value)
            if form:
                hashes[i].append(hasher(form))
                row_numbers[i].append(count)
            else:
                empty += 1
        count += 1
        if progress is not None and count % 100_000 == 0:
            progress(count)
    if count == 0:
        raise RecordsError(f"{path}: a header row but no records")
    meta = Meta(
        name,
        new_version(),
        count,
        tuple(column for _, column in chosen),
        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        path.name,
    )
    staged = store.staging(name, meta.version)
    try:
        for i, (_, column) in enumerate(chosen):
            write_column(
                staged,
                i,
                column,
                np.frombuffer(hashes[i], dtype=np.uint64),
                np.frombuffer(row_numbers[i], dtype=np.uint32),
            )
            hashes[i] = row_numbers[i] = array("Q")  # let the memory go column by column
        import json

        (staged / "meta.json").write_text(json.dumps(meta.to_json(), indent=2))
        store.publish(meta, staged)
    except BaseException:
        store.abandon(staged)
        raise
    return Imported(meta, skipped, empty)


def _plain(value: object) -> object:
    """Spreadsheet numbers as their digits: 9434765919.0 is the NHS number 9434765919."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return value


# --- reading the file ---------------------------------------------------------------


def _rows(path: Path) -> Iterator[Sequence[object]]:
    if not path.is_file():
        raise RecordsError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise RecordsError(f"{path}: the file is empty")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    return _csv_rows(path)


def _xlsx_rows(path: Path) -> Iterator[Sequence[object]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise RecordsError(f"{path}: not a readable xlsx workbook ({type(exc).__name__})") from None
    try:
        yield from book.worksheets[0].iter_rows(values_only=True)
    finally:
        book.close()


def _csv_rows(path: Path) -> Iterator[Sequence[object]]:
    with open(path, "rb") as raw:
        start = raw.read(4096)
        if b"\0" in start:
            raise RecordsError(f"{path}: not a text file (it holds NUL bytes); export it as CSV")
        raw.seek(0)
        lines = _lines(path, raw)
        sample = start.decode("utf-8-sig", "replace").splitlines()[0] if start.strip() else ""
        delimiter = max(",;\t|", key=sample.count) if sample else ","
        yield from csv.reader(lines, delimiter=delimiter)


def _lines(path: Path, raw: io.BufferedReader) -> Iterator[str]:
    """Decoded lines, each read with a limit: a file with no line breaks is refused
    after a megabyte, not read into memory."""
    number = 0
    while True:
        line = raw.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE:
            raise RecordsError(f"{path}:{number}: a line longer than 1 MB: not a CSV export")
        if b"\0" in line:
            raise RecordsError(f"{path}:{number}: a NUL byte: not a CSV export")
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise RecordsError(
                f"{path}:{number}: not UTF-8; export the file as 'CSV UTF-8' (Excel) or"
                " convert it with: iconv -f WINDOWS-1252 -t UTF-8"
            ) from None
        yield text


def _header(path: Path, first: Sequence[object] | None) -> list[str]:
    if first is None:
        raise RecordsError(f"{path}: the file is empty")
    header = [str(c).strip() if c is not None else "" for c in first]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise RecordsError(f"{path}:1: no header row: the first row must name the columns")
    for cell in header:
        if _looks_like_data(cell):
            raise RecordsError(
                f"{path}:1: no header row: the first row holds data ({_shape(cell)}), not"
                " column names; add a row naming the columns"
            )
    missing = [str(i + 1) for i, c in enumerate(header) if not c]
    if missing:
        raise RecordsError(f"{path}:1: column(s) {', '.join(missing)} have no name in the header")
    seen: set[str] = set()
    for cell in header:
        if cell.lower() in seen:
            raise RecordsError(f"{path}:1: two columns are named {cell!r}")
        seen.add(cell.lower())
    return header


def _looks_like_data(cell: str) -> bool:
    digits = sum(c.isdigit() for c in cell)
    return (
        digits >= 4
        or bool(normalise.dates_in(cell))
        or bool(normalise.postcode(cell))
        or ("@" in cell)
    )


def _shape(cell: str) -> str:
    """What a header cell looked like, without repeating it (it may be personal data)."""
    if normalise.dates_in(cell):
        return "a date"
    if normalise.postcode(cell):
        return "a postcode"
    if "@" in cell:
        return "an email address"
    return "a number"


def _chosen(
    path: Path, header: list[str], columns: Sequence[str], key_columns: Sequence[str]
) -> tuple[list[tuple[tuple[int, ...], Column]], tuple[str, ...]]:
    by_name = {h.lower(): i for i, h in enumerate(header)}

    def position(wanted: str) -> int:
        found = by_name.get(wanted.strip().lower())
        if found is None:
            raise RecordsError(
                f"{path}: no column named {wanted.strip()!r}; its columns are: {', '.join(header)}"
            )
        return found

    kinds: dict[int, Kind] = {}
    for spec in columns:
        column, _, kind = spec.partition(":")
        at = position(column)
        if kind:
            try:
                kinds[at] = normalise.parse_kind(kind)
            except ValueError:
                choices = ", ".join(k.value for k in Kind)
                raise RecordsError(
                    f"unknown kind {kind!r} for {column!r}: use one of {choices}"
                ) from None
        else:
            kinds[at] = normalise.kind_of_header(header[at])
    keys = {position(k.partition(":")[0]) for k in key_columns}
    for at in keys:
        kinds.setdefault(at, normalise.kind_of_header(header[at]))
    if not columns:
        for at, title in enumerate(header):
            kind = normalise.kind_of_header(title)
            if kind is not Kind.TEXT:
                kinds.setdefault(at, kind)
    if not kinds:
        raise RecordsError(
            f"{path}: no column has a name that says what it holds (name, date of birth,"
            f" postcode, NHS number...); choose them with --columns COL:KIND"
        )
    if len(kinds) > MAX_COLUMNS:
        raise RecordsError(f"{path}: more than {MAX_COLUMNS} columns chosen")
    chosen = [((at,), Column(header[at], kinds[at], at in keys)) for at in sorted(kinds)]
    firsts = [c for c in chosen if c[1].kind is Kind.FIRST_NAME]
    lasts = [c for c in chosen if c[1].kind is Kind.LAST_NAME]
    if len(firsts) == 1 and len(lasts) == 1:
        # "Jane" | "Smith" is kept as the one name "jane smith": a first name or a
        # surname alone picks out nobody, and one column costs less than two.
        (first, a), (last, b) = firsts[0], lasts[0]
        chosen = [c for c in chosen if c not in (firsts[0], lasts[0])]
        chosen.insert(0, (first + last, Column(f"{a.name} + {b.name}", Kind.FULL_NAME)))
    skipped = tuple(h for i, h in enumerate(header) if i not in kinds)
    return chosen, skipped
