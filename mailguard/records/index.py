"""A table of the council's records as keyed hashes, and how a message is matched.

On disk, one directory per imported version of a table: ``meta.json`` (the table's
name, column names and kinds, row count; never a value) and one file per column of
sorted 64-bit integers, read through ``numpy.memmap`` so every worker shares the page
cache instead of a copy. A value is ``HMAC-SHA-256(site key, normalised value)``:

- an ordinary column keeps 40 bits of it and the row number (24 bits) in one
  ``uint64`` (8 bytes a value); a false hit there needs a second field of the same
  row to matter;
- a key column (``--key-columns``: an NHS number, a council tax account), which
  counts alone, keeps all 64 bits, with the row in a ``uint32`` beside it (12 bytes).

Six columns, one of them a key: 52 bytes a row. Without the key the hashes are useless
to whoever copies them: ten-digit NHS numbers cannot be tried one by one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mailguard.records.normalise import NAME_PARTS, Kind

MAX_ROWS = 1 << 24  # the row number's 24 bits
_ROW_BITS = 24
_ROW_MASK = np.uint64((1 << _ROW_BITS) - 1)
_COMMON = 250_000  # a value in more rows than this names nobody (a common first name)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    key: bool = False

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind.value, "key": self.key}


@dataclass(frozen=True, slots=True)
class Meta:
    name: str
    version: str
    rows: int
    columns: tuple[Column, ...]
    imported_at: str
    source: str = ""  # the imported file's name, for ``records show``

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "rows": self.rows,
            "columns": [c.to_json() for c in self.columns],
            "imported_at": self.imported_at,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict) -> Meta:
        return cls(
            str(data["name"]),
            str(data["version"]),
            int(data["rows"]),
            tuple(Column(c["name"], Kind(c["kind"]), bool(c["key"])) for c in data["columns"]),
            str(data["imported_at"]),
            str(data.get("source", "")),
        )


class Hasher:
    """HMAC-SHA-256 under the site key, with the key's pads hashed once."""

    def __init__(self, key: bytes) -> None:
        block = key if len(key) <= 64 else hashlib.sha256(key).digest()
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __call__(self, value: str) -> int:
        inner = self._inner.copy()
        inner.update(value.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return int.from_bytes(outer.digest()[:8], "big")

    def many(self, values: Iterable[str]) -> np.ndarray:
        return np.fromiter((self(v) for v in values), dtype=np.uint64)


def pack(hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """An ordinary column's entries: 40 bits of hash, 24 of row, sorted."""
    packed = ((hashes >> np.uint64(_ROW_BITS)) << np.uint64(_ROW_BITS)) | rows.astype(np.uint64)
    packed.sort()
    return packed


def write_column(directory: Path, index: int, column: Column, hashes: np.ndarray,
                 rows: np.ndarray) -> None:  # fmt: skip
    if column.key:
        order = np.argsort(hashes, kind="stable")
        _save(directory / f"col-{index}.h64", hashes[order])
        _save(directory / f"col-{index}.row", rows[order].astype(np.uint32))
    else:
        _save(directory / f"col-{index}.u64", pack(hashes, rows))


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        fh.write(array.tobytes())
        fh.flush()
        os.fsync(fh.fileno())


def _load(path: Path, dtype: type) -> np.ndarray:
    if path.stat().st_size == 0:
        return np.empty(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


@dataclass(frozen=True, slots=True)
class Match:
    """Distinct rows of one table found in a message, the columns that matched in
    them, and the part of the message that held most of them."""

    table: str
    rows: int
    columns: tuple[str, ...]
    where: str


class TableIndex:
    """One version of one table, mapped from disk."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.meta = Meta.from_json(json.loads((directory / "meta.json").read_text()))
        self._columns: list[tuple[Column, np.ndarray, np.ndarray | None]] = []
        for i, column in enumerate(self.meta.columns):
            if column.key:
                hashes = _load(directory / f"col-{i}.h64", np.uint64)
                rows = _load(directory / f"col-{i}.row", np.uint32)
                self._columns.append((column, hashes, rows))
            else:
                self._columns.append((column, _load(directory / f"col-{i}.u64", np.uint64), None))
        kinds = {c.kind for c in self.meta.columns}
        self._names_need_both = Kind.FIRST_NAME in kinds and Kind.LAST_NAME in kinds

    def match(self, hashes: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        """The rows this message's values (``hashes``, sorted, unique) pick out: a
        key column's value alone, or two fields of one row (a name counts once,
        whether it is one column or first and last name)."""
        nothing = (np.empty(0, dtype=np.uint32), ())
        if not len(hashes):
            return nothing
        keyed: list[np.ndarray] = []
        fields: dict[str, list[tuple[Column, np.ndarray]]] = {}
        for column, table, rows in self._columns:
            if rows is not None:
                found = _key_rows(table, rows, hashes)
                if len(found):
                    keyed.append(found)
                    fields.setdefault(column.name, []).append((column, found))
                continue
            found = _packed_rows(table, hashes)
            if found is not None:
                group = "name" if column.kind in NAME_PARTS else column.name
                fields.setdefault(group, []).append((column, found))
        if not keyed and len(fields) < 2:
            return nothing  # the usual case: one kind of value at most, nobody's record
        per_field = [self._field_rows(group, hits) for group, hits in fields.items()]
        per_field = [r for r in per_field if len(r)]
        counted = np.empty(0, dtype=np.uint32)
        if len(per_field) >= 2:
            joined = np.concatenate(per_field)
            values, counts = np.unique(joined, return_counts=True)
            counted = values[counts >= 2]
        if keyed:
            counted = np.union1d(counted, np.concatenate(keyed))
        if not len(counted):
            return nothing
        matched = tuple(
            column.name
            for hits in fields.values()
            for column, rows in hits
            if np.isin(rows, counted, assume_unique=True).any()
        )
        return counted, matched

    def _field_rows(self, group: str, hits: list[tuple[Column, np.ndarray]]) -> np.ndarray:
        if group != "name":
            return np.unique(np.concatenate([rows for _, rows in hits]))
        full = [rows for column, rows in hits if column.kind is Kind.FULL_NAME]
        first = [rows for column, rows in hits if column.kind is Kind.FIRST_NAME]
        last = [rows for column, rows in hits if column.kind is Kind.LAST_NAME]
        parts = list(full)
        if self._names_need_both:
            if first and last:  # "Jane" and "Smith" in the same row, not just "Smith"
                parts.append(np.intersect1d(first[0], last[0]))
        else:
            parts.extend(first + last)
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint32)


def _key_rows(table: np.ndarray, rows: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    lo = np.searchsorted(table, hashes, side="left")
    hi = np.searchsorted(table, hashes, side="right")
    hit = hi > lo
    if not hit.any():
        return np.empty(0, dtype=np.uint32)
    return np.unique(np.concatenate([rows[a:b] for a, b in zip(lo[hit], hi[hit], strict=True)]))


def _packed_rows(table: np.ndarray, hashes: np.ndarray) -> np.ndarray | None:
    prefix = (hashes >> np.uint64(_ROW_BITS)) << np.uint64(_ROW_BITS)
    lo = np.searchsorted(table, prefix, side="left")
    hi = np.searchsorted(table, prefix | _ROW_MASK, side="right")
    hit = (hi > lo) & (hi - lo <= _COMMON)
    if not hit.any():
        return None
    entries = np.concatenate([table[a:b] for a, b in zip(lo[hit], hi[hit], strict=True)])
    return np.unique((entries & _ROW_MASK).astype(np.uint32))


def match_parts(
    tables: Sequence[TableIndex], hasher: Hasher, parts: Mapping[str, set[str]]
) -> list[Match]:
    """Each table's rows found in the message, part by part (a record's fields are
    looked for together in one body or one attachment), rows counted once."""
    cache: dict[str, int] = {}
    hashed: dict[str, np.ndarray] = {}
    for where, values in parts.items():
        for value in values:
            if value not in cache:
                cache[value] = hasher(value)
        hashed[where] = np.unique(np.fromiter((cache[v] for v in values), dtype=np.uint64))
    found = []
    for table in tables:
        rows: list[np.ndarray] = []
        columns: dict[str, None] = {}
        best, most = "", 0
        for where, hashes in hashed.items():
            part_rows, part_columns = table.match(hashes)
            if len(part_rows):
                rows.append(part_rows)
                columns.update(dict.fromkeys(part_columns))
                if len(part_rows) > most:
                    best, most = where, len(part_rows)
        if rows:
            total = len(np.unique(np.concatenate(rows)))
            found.append(Match(table.meta.name, total, tuple(columns), best))
    return found
