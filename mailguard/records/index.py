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

from mailguard.records.normalise import NAME_PARTS, Kind, Values

MAX_ROWS = 1 << 24  # the row number's 24 bits
_ROW_BITS = 24
_ROW_MASK = np.uint64((1 << _ROW_BITS) - 1)
_COMMON = 20_000  # a value in more rows than this names nobody (a common surname)


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

    def table(self, values: Iterable[str]) -> dict[str, int]:
        """Each distinct value's hash, in one tight loop (the per-message cost)."""
        inner_copy, outer_copy, big = self._inner.copy, self._outer.copy, int.from_bytes
        out: dict[str, int] = {}
        for value in dict.fromkeys(values):
            inner = inner_copy()
            inner.update(value.encode("utf-8"))
            outer = outer_copy()
            outer.update(inner.digest())
            out[value] = big(outer.digest()[:8], "big")
        return out


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
        self._columns: list[tuple[int, Column, np.ndarray, np.ndarray | None]] = []
        fields: dict[str, int] = {}
        for i, column in enumerate(self.meta.columns):
            # A name counts once, however many columns hold parts of it.
            field = fields.setdefault(
                "name" if column.kind in NAME_PARTS else column.name, len(fields)
            )
            if column.key:
                hashes = _load(directory / f"col-{i}.h64", np.uint64)
                rows = _load(directory / f"col-{i}.row", np.uint32)
                self._columns.append((field, column, hashes, rows))
            else:
                packed = _load(directory / f"col-{i}.u64", np.uint64)
                self._columns.append((field, column, packed, None))
        self.kinds = frozenset(c.kind for c in self.meta.columns)

    def match(
        self, contexts: np.ndarray, hashes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """The table's rows that the message's values pick out, and for each the
        context (a table row or a few lines of text) it was found in: a key column's
        value alone, or two fields of one row in one context.

        ``contexts`` and ``hashes`` are parallel: each value's hash and where it was.
        Every hit is expanded to (context, row, field); values in more than
        ``_COMMON`` rows name nobody and are left out."""
        pairs: list[np.ndarray] = []  # (context << 24 | row) << 5 | field
        keyed: list[np.ndarray] = []
        hit_columns: list[tuple[str, np.ndarray]] = []
        for field, column, table, rows in self._columns:
            if rows is not None:
                lo = np.searchsorted(table, hashes, side="left")
                hi = np.searchsorted(table, hashes, side="right")
                found_rows, found_at = _expand(lo, hi, contexts)
                found_rows = rows[found_rows].astype(np.uint64) if len(found_rows) else found_rows
            else:
                prefix = (hashes >> np.uint64(_ROW_BITS)) << np.uint64(_ROW_BITS)
                lo = np.searchsorted(table, prefix, side="left")
                hi = np.searchsorted(table, prefix | _ROW_MASK, side="right")
                found_rows, found_at = _expand(lo, hi, contexts)
                if len(found_rows):
                    found_rows = table[found_rows] & _ROW_MASK
            if not len(found_rows):
                continue
            key = (found_at.astype(np.uint64) << np.uint64(_ROW_BITS)) | found_rows
            pairs.append((key << np.uint64(5)) | np.uint64(field))
            hit_columns.append((column.name, key))
            if column.key:
                keyed.append(key)
        if not pairs:
            return _NONE, _NONE, ()
        distinct = np.unique(np.concatenate(pairs))
        keys, counts = np.unique(distinct >> np.uint64(5), return_counts=True)
        counted = keys[counts >= 2]
        if keyed:
            counted = np.union1d(counted, np.concatenate(keyed))
        if not len(counted):
            return _NONE, _NONE, ()
        columns = tuple(
            dict.fromkeys(name for name, key in hit_columns if np.isin(key, counted).any())
        )
        return counted & _ROW_MASK, counted >> np.uint64(_ROW_BITS), columns


_NONE = np.empty(0, dtype=np.uint64)


def _expand(lo: np.ndarray, hi: np.ndarray, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``lo[i]..hi[i]`` for every value with a hit in fewer than ``_COMMON``
    rows, each with its value's context."""
    sizes = hi - lo
    hit = (sizes > 0) & (sizes <= _COMMON)
    if not hit.any():
        return _NONE, _NONE
    lo, sizes, at = lo[hit], sizes[hit], contexts[hit]
    total = int(sizes.sum())
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
    return starts + np.arange(total), np.repeat(at, sizes)


def match_parts(
    tables: Sequence[TableIndex], hasher: Hasher, parts: Mapping[str, Values]
) -> list[Match]:
    """Each table's rows found in the message: ``parts`` maps each part (the body, an
    attachment) to its values by record context (a table row, a few lines of text).
    A row counts once, however often it is found."""
    contexts: list[np.ndarray] = []
    owner: list[str] = []
    values: list[str] = []
    for where, found in parts.items():
        if not found.values:
            continue
        contexts.append(np.asarray(found.contexts, dtype=np.uint64) + np.uint64(len(owner)))
        owner.extend([where] * found.count)
        values.extend(found.values)
    if not values:
        return []
    hashed = hasher.table(values)
    hashes = np.fromiter(map(hashed.__getitem__, values), dtype=np.uint64, count=len(values))
    at = np.concatenate(contexts)
    order = np.argsort(hashes)  # the index is read in order, not at random
    at, hashes = at[order], hashes[order]
    out = []
    for table in tables:
        rows, where, columns = table.match(at, hashes)
        if not len(rows):
            continue
        distinct = np.unique(rows)
        by_part: dict[str, set[int]] = {}
        for row, context in zip(rows.tolist(), where.tolist(), strict=True):
            by_part.setdefault(owner[context], set()).add(row)
        best = max(by_part, key=lambda w: len(by_part[w]))
        out.append(Match(table.meta.name, len(distinct), columns, best))
    return out
