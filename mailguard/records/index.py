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

from mailguard.records.normalise import NAME_PARTS, SEARCHED, Kind, Values

MAX_ROWS = 1 << 24  # the row number's 24 bits
_ROW_BITS = 24
_ROW_MASK = np.uint64((1 << _ROW_BITS) - 1)
_ROW_SHIFT = np.uint64(_ROW_BITS)
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
        self._keyed = np.array([c.key for _, c, _, _ in self._columns], dtype=bool)
        self._searched = [np.int8(SEARCHED[c.kind]) for _, c, _, _ in self._columns]

    def match(
        self, contexts: np.ndarray, hashes: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """The table's rows that the message's values pick out, each with the context
        (a table row, a few lines of text) it was found in: a key column's value
        alone, or two fields of one row in one context. Also the columns that matched.

        ``contexts``, ``hashes`` and ``groups`` are parallel, sorted by hash. Each value
        is looked up only in the columns that could hold it. In each context, the hit
        that names most rows (a date of birth shared by hundreds) is not spelled out:
        a row found through another field is checked against it one by one."""
        hits = [self._hits(i, contexts, hashes, groups) for i in range(len(self._columns))]
        hits = [h for h in hits if h is not None]
        if not hits:
            return _NONE, _NONE, ()
        column = np.concatenate([np.full(len(h[0]), h[4], dtype=np.int64) for h in hits])
        at, lo, size, hashed = (np.concatenate([h[i] for h in hits]) for i in range(4))
        keyed = self._keyed[column]
        # The broadest ordinary hit of each context is checked, not expanded.
        order = np.lexsort((-size, at))
        first = np.ones(len(order), dtype=bool)
        first[1:] = at[order][1:] != at[order][:-1]
        broad = np.zeros(len(at), dtype=bool)
        broad[order[first]] = True
        broad &= ~keyed
        spelled = ~broad
        rows, found_at, field, col = self._expand(column[spelled], at[spelled], lo[spelled],
                                                  size[spelled])  # fmt: skip
        key = (found_at << _ROW_SHIFT) | rows
        # Distinct (context, row, field), sorted: runs of one (context, row) count fields.
        distinct = np.sort((key << np.uint64(5)) | field)
        if len(distinct):
            distinct = distinct[np.concatenate(([True], distinct[1:] != distinct[:-1]))]
        pair = distinct >> np.uint64(5)
        starts = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
        counts = np.diff(np.append(starts, len(pair)))
        counted = pair[starts[counts >= 2]]
        alone = key[self._keyed[col]]
        # Found through one field: is the context's broad value in the same row?
        single = starts[counts == 1]
        checked = self._check(
            pair[single], distinct[single] & np.uint64(31), at[broad], hashed[broad], column[broad]
        )
        counted = np.unique(np.concatenate((counted, alone, checked)))
        if not len(counted):
            return _NONE, _NONE, ()
        matched = set(col[_within(key, counted)].tolist())
        matched |= set(column[broad][_within(at[broad], checked >> _ROW_SHIFT)].tolist())
        names = tuple(dict.fromkeys(self._columns[c][1].name for c in sorted(matched)))
        return counted & _ROW_MASK, counted >> _ROW_SHIFT, names

    def _hits(
        self, index: int, contexts: np.ndarray, hashes: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int] | None:
        """(context, first position, how many rows, hash) of each value found in one
        column, values in more than ``_COMMON`` rows left out."""
        _, _, table, rows = self._columns[index]
        wanted = (groups & self._searched[index]) != 0
        if not wanted.any():
            return None
        at, values = contexts[wanted], hashes[wanted]
        if not len(table):
            return None
        if rows is None:
            values = (values >> _ROW_SHIFT) << _ROW_SHIFT
        lo = np.searchsorted(table, values, side="left")
        # Most values are in no row: the end of the range is looked for only for hits.
        first = table[np.minimum(lo, len(table) - 1)]
        found = (lo < len(table)) & ((first >> _ROW_SHIFT) == (values >> _ROW_SHIFT))
        if rows is not None:
            found &= first == values
        if not found.any():
            return None
        at, values, lo = at[found], values[found], lo[found]
        last = values | _ROW_MASK if rows is None else values
        size = np.searchsorted(table, last, side="right") - lo
        keep = (size > 0) & (size <= _COMMON)
        if not keep.any():
            return None
        return at[keep], lo[keep], size[keep], values[keep], index

    def _expand(
        self, column: np.ndarray, at: np.ndarray, lo: np.ndarray, size: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every (row, context, field, column) the hits name."""
        if not len(at):
            return _NONE, _NONE, _NONE, np.empty(0, dtype=np.int64)
        total = int(size.sum())
        offsets = np.repeat(lo - np.concatenate(([0], np.cumsum(size)[:-1])), size)
        positions = offsets + np.arange(total)
        col = np.repeat(column, size)
        rows = np.empty(total, dtype=np.uint64)
        for c in np.unique(column).tolist():
            _, _, table, row_of = self._columns[c]
            here = col == c
            if row_of is not None:  # a key column: the rows beside the hashes
                rows[here] = row_of[positions[here]]
            else:
                rows[here] = table[positions[here]] & _ROW_MASK
        fields = np.array([f for f, *_ in self._columns], dtype=np.uint64)[col]
        return rows, np.repeat(at, size).astype(np.uint64), fields, col

    def _check(
        self, once: np.ndarray, once_field: np.ndarray, at: np.ndarray, hashed: np.ndarray,
        column: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """Of the (context, row) pairs found through one field (``once_field``), those
        whose context's broad value (a common date of birth) is also in that row."""
        if not len(once) or not len(at):
            return _NONE
        # One broad value a context: find each pair's by its context, in order.
        by_context = np.argsort(at)
        sorted_at = at[by_context]
        place = np.minimum(np.searchsorted(sorted_at, once >> _ROW_SHIFT), len(sorted_at) - 1)
        which = by_context[place]
        # ... and not in the field the pair was found through (two dates in one row of a
        # list, one of them the broad one, are one field, not two).
        fields = np.array([f for f, *_ in self._columns], dtype=np.uint64)
        keep = (sorted_at[place] == (once >> _ROW_SHIFT)) & (fields[column[which]] != once_field)
        pairs, which = once[keep], which[keep]
        confirmed = np.zeros(len(pairs), dtype=bool)
        for c in np.unique(column[which]).tolist():
            here = np.flatnonzero(column[which] == c)
            table = self._columns[c][2]
            probe = hashed[which[here]] | (pairs[here] & _ROW_MASK)  # 40 bits of hash + row
            order = np.argsort(probe)  # the column is read in order, not at random
            place = np.minimum(np.searchsorted(table, probe[order]), len(table) - 1)
            confirmed[here[order]] = table[place] == probe[order]
        return pairs[confirmed]


def _within(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``np.isin`` for a short sorted ``wanted``: a binary search each, no sorting."""
    if not len(wanted):
        return np.zeros(len(values), dtype=bool)
    place = np.minimum(np.searchsorted(wanted, values), len(wanted) - 1)
    return wanted[place] == values


_NONE = np.empty(0, dtype=np.uint64)


def match_parts(
    tables: Sequence[TableIndex], hasher: Hasher, parts: Mapping[str, Values]
) -> list[Match]:
    """Each table's rows found in the message: ``parts`` maps each part (the body, an
    attachment) to its values by record context (a table row, a few lines of text).
    A row counts once, however often it is found."""
    contexts: list[np.ndarray] = []
    owner: list[str] = []
    values: list[str] = []
    groups: list[int] = []
    for where, found in parts.items():
        if not found.values:
            continue
        contexts.append(np.asarray(found.contexts, dtype=np.uint64) + np.uint64(len(owner)))
        owner.extend([where] * found.count)
        values.extend(found.values)
        groups.extend(found.groups)
    if not values:
        return []
    hashed = hasher.table(values)
    hashes = np.fromiter(map(hashed.__getitem__, values), dtype=np.uint64, count=len(values))
    at = np.concatenate(contexts)
    looks = np.asarray(groups, dtype=np.int8)
    order = np.argsort(hashes)  # the index is read in order, not at random
    at, hashes, looks = at[order], hashes[order], looks[order]
    out = []
    for table in tables:
        rows, where, columns = table.match(at, hashes, looks)
        if not len(rows):
            continue
        distinct = np.unique(rows)
        by_part: dict[str, set[int]] = {}
        for row, context in zip(rows.tolist(), where.tolist(), strict=True):
            by_part.setdefault(owner[context], set()).add(row)
        best = max(by_part, key=lambda w: len(by_part[w]))
        out.append(Match(table.meta.name, len(distinct), columns, best))
    return out
