"""Legacy Excel (.xls, BIFF8) through xlrd: every sheet, hidden and very hidden ones,
and which rows and columns are hidden, as for .xlsx.

An .xls is not compressed, so its size is already budgeted; what is checked here is
the cells a sheet claims before they are read, and the time.
"""

from __future__ import annotations

import datetime as dt

from mailguard.intake.budget import Budget, CellCount, Uninspectable
from mailguard.intake.sheets import Sheet, cell_text


def read(data: bytes, budget: Budget) -> list[Sheet]:
    import xlrd  # imported here: only mail with old spreadsheets pays for it

    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    except xlrd.biffh.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise Uninspectable("encrypted (password protected)", structural=False) from None
        raise Uninspectable(f"not a readable .xls ({exc})", structural=False) from None
    cells = CellCount(budget)
    sheets = []
    try:
        for index in range(book.nsheets):
            budget.tick()
            sheet = book.sheet_by_index(index)
            cells.add(sheet.nrows * sheet.ncols)
            sheets.extend(_sheet(book, sheet, budget))
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return sheets


def _sheet(book: object, sheet: object, budget: Budget) -> list[Sheet]:
    import xlrd

    rows: list[tuple[str, ...]] = []
    hidden_rows: set[int] = set()
    for r in range(sheet.nrows):  # type: ignore[attr-defined]
        if r % 1000 == 0:
            budget.tick()
        values = tuple(
            _value(book, cell, xlrd)
            for cell in sheet.row(r)  # type: ignore[attr-defined]
        )
        if not any(v.strip() for v in values):
            continue
        info = sheet.rowinfo_map.get(r)  # type: ignore[attr-defined]
        if info is not None and (info.hidden or info.height == 0):
            hidden_rows.add(len(rows))
        rows.append(values)
    if not rows:
        return []
    hidden_cols = {
        c
        for c, info in sheet.colinfo_map.items()  # type: ignore[attr-defined]
        if info.hidden or info.width == 0
    }
    return [
        Sheet(
            sheet.name,  # type: ignore[attr-defined]
            tuple(rows),
            hidden=sheet.visibility != 0,  # type: ignore[attr-defined]
            hidden_rows=frozenset(hidden_rows),
            hidden_cols=frozenset(hidden_cols),
        )
    ]


def _value(book: object, cell: object, xlrd: object) -> str:
    kind, value = cell.ctype, cell.value  # type: ignore[attr-defined]
    if kind == xlrd.XL_CELL_DATE:  # type: ignore[attr-defined]
        try:
            parts = xlrd.xldate_as_tuple(value, book.datemode)  # type: ignore[attr-defined]
            return cell_text(dt.datetime(*parts) if parts[0] else dt.time(*parts[3:]))
        except Exception:  # an out-of-range date serial: show the number
            return _number(value)
    if kind in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):  # type: ignore[attr-defined]
        return ""
    return _number(value)


def _number(value: object) -> str:
    """xlrd gives every number as a float; Excel shows 42, not 42.0."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return cell_text(int(value))
    return cell_text(value)
