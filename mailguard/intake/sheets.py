"""A spreadsheet's sheet as every reader hands it over (.xls, .ods), before it becomes
a ``Table``: the grid as shown, and what of it the recipient cannot see at a glance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    rows: tuple[tuple[str, ...], ...]  # non-empty rows; the first is the header row
    hidden: bool = False  # a hidden (or very hidden) sheet
    hidden_rows: frozenset[int] = frozenset()  # indexes into rows
    hidden_cols: frozenset[int] = frozenset()


def cell_text(value: object) -> str:
    """Cells as a person sees them: dates as 12/03/1980, not 1980-03-12 00:00:00."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)
