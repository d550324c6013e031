"""HTML as a reader sees it: the text, and the data tables in it as tables.

``html_to_text`` is the plain rendering (used for previews and greetings).
``text_and_tables`` renders the same text, except that each ``<table>`` holding data
becomes a ``Grid`` (rows from ``<tr>``, cells from ``<td>``/``<th>``) and leaves the
text. HTML mail is full of layout tables (signatures, newsletters, templates); they
stay text. A table is data when it has at least three rows and two columns of short
cells; it is layout when it is marked ``role="presentation"``, holds another table,
has one column, reads as label/value pairs ("Tel:" | number), or its cells are
mostly prose, empty spacers or several lines each.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

from mailguard.intake.texttables import Grid, header_like

_SKIP = frozenset({"script", "style", "head", "title"})
_BREAK = frozenset({"br", "p", "div", "tr", "li", "td", "th", "h1", "h2", "h3", "table"})
MAX_NESTING = 40  # tables inside tables deeper than this are read as text
MAX_COLSPAN = 50
MAX_CELLS = 200_000  # past this a message's tables are read as text (memory stays bounded)


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip:
            self._skip -= 1
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


# --- tables --------------------------------------------------------------------------


@dataclass(slots=True)
class _Cell:
    parts: list[str | _Table] = field(default_factory=list)
    th: bool = False
    colspan: int = 1


@dataclass(slots=True)
class _Table:
    parts: list[str | _Cell | _Table] = field(default_factory=list)  # as rendered
    rows: list[list[_Cell]] = field(default_factory=list)
    presentation: bool = False
    nested: bool = False
    overflow: bool = False  # more cells than MAX_CELLS: read as text
    grid: Grid | None = None


class _Tables(HTMLParser):
    """The same text as ``_TextOnly``, with each table kept as a structure in place."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: list[str | _Cell | _Table] = []
        self.tables: list[_Table] = []  # every table, in document order
        self._open: list[_Table] = []
        self._cell: list[_Cell | None] = []  # the open cell of each open table
        self._skip = 0
        self._ignored = 0  # <table> tags past MAX_NESTING
        self._cells = 0

    def _target(self) -> list:
        if not self._open:
            return self.root
        cell = self._cell[-1]
        return cell.parts if cell is not None else self._open[-1].parts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
            return
        if tag == "table":
            self._target().append("\n")
            if len(self._open) >= MAX_NESTING:
                self._ignored += 1
                return
            table = _Table(presentation=_presentation(attrs))
            if self._open:
                self._open[-1].nested = True
            self._target().append(table)
            self._open.append(table)
            self._cell.append(None)
            self.tables.append(table)
            return
        if self._open and tag == "tr":
            self._cell[-1] = None
            self._open[-1].rows.append([])
            self._open[-1].parts.append("\n")
            return
        if self._open and tag in ("td", "th") and self._cells >= MAX_CELLS:
            for table in self._open:
                table.overflow = True
        elif self._open and tag in ("td", "th"):
            self._cells += 1
            table = self._open[-1]
            if not table.rows:
                table.rows.append([])
            cell = _Cell(th=tag == "th", colspan=_colspan(attrs))
            table.rows[-1].append(cell)
            table.parts.append(cell)
            self._cell[-1] = cell
            cell.parts.append("\n")
            return
        if tag in _BREAK:
            self._target().append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            if self._skip:
                self._skip -= 1
            return
        if tag == "table":
            if self._ignored:
                self._ignored -= 1
            elif self._open:
                self._open.pop()
                self._cell.pop()
            return
        if tag in ("td", "th"):
            self._target().append("\t")
            if self._open:
                self._cell[-1] = None
        elif self._open and tag == "tr":
            self._cell[-1] = None

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._target().append(data)


def _presentation(attrs: list[tuple[str, str | None]]) -> bool:
    return any(k == "role" and (v or "").lower() in ("presentation", "none") for k, v in attrs)


def _colspan(attrs: list[tuple[str, str | None]]) -> int:
    for k, v in attrs:
        if k == "colspan":
            try:
                return max(1, min(int((v or "1").strip()), MAX_COLSPAN))
            except ValueError:
                return 1
    return 1


def text_and_tables(html: str) -> tuple[str, list[Grid]]:
    parser = _Tables()
    parser.feed(html)
    parser.close()
    # Innermost first: a table's text is only final once the tables inside it are decided.
    for table in reversed(parser.tables):
        table.grid = _data_grid(table)
    text: list[str] = []
    _render(parser.root, text, 0)
    return "".join(text), [t.grid for t in parser.tables if t.grid is not None]


def _render(parts: list, out: list[str], depth: int) -> None:
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, _Cell):
            _render(part.parts, out, depth + 1)
        elif part.grid is not None:
            out.append("\n")  # a data table is read as a table, not again as text
        elif depth < 3 * MAX_NESTING + 3:
            _render(part.parts, out, depth + 1)


def _cell_text(cell: _Cell) -> str:
    out: list[str] = []
    _render(cell.parts, out, 0)
    return " ".join("".join(out).split())


def _cell_lines(cell: _Cell) -> int:
    out: list[str] = []
    _render(cell.parts, out, 0)
    return sum(1 for line in "".join(out).split("\n") if line.strip())


_RECORD_CELL = re.compile(r"\d{5,}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{3} \d{3} \d{4}|@")


def _data_grid(table: _Table) -> Grid | None:
    if table.presentation or table.nested or table.overflow:
        return None
    rows: list[tuple[str, ...]] = []
    th_first = False
    multiline = cells_seen = 0
    for row in table.rows:
        values: list[str] = []
        for cell in row:
            text = _cell_text(cell)
            values.append(text)
            values.extend([""] * (cell.colspan - 1))
            if text:
                cells_seen += 1
                multiline += _cell_lines(cell) >= 3
        if any(values):
            if not rows:
                th_first = bool(row) and all(c.th for c in row)
            rows.append(tuple(values))
    if len(rows) < 3:
        return None
    width = Counter(len(r) for r in rows).most_common(1)[0][0]
    if width < 2 or multiline * 4 > cells_seen:
        return None
    rows = [r + ("",) * (width - len(r)) if len(r) < width else r for r in rows]
    used = [c for c in range(width) if sum(1 for r in rows if c < len(r) and r[c]) >= 2]
    if len(used) < 2:
        return None  # one column of text, or a logo beside a block
    full = sum(1 for r in rows if sum(1 for c in used if c < len(r) and r[c]) >= 2)
    if full < 2 or full < len(rows) / 2:
        return None
    filled = [r[c] for r in rows for c in used if c < len(r) and r[c]]
    if len(filled) < len(rows) * len(used) / 2:
        return None  # spacer cells: a template
    # Label / value pairs ("Tel:" | "01234 ...") are a contact block, not records.
    labels = [r[used[0]] for r in rows if r[used[0]]]
    if sum(1 for c in labels if c.endswith(":")) * 2 >= len(labels):
        return None
    # Prose: most columns hold sentences (a newsletter, a letter laid out in a table).
    prose_columns = sum(
        1 for c in used if sum(1 for r in rows if c < len(r) and _prose(r[c])) * 2 > len(rows)
    )
    if prose_columns * 2 > len(used):
        return None
    # Outlook makes a pasted first row <th> even when it is a record.
    if (th_first and not any(_RECORD_CELL.search(c) for c in rows[0])) or header_like(
        [rows[0][c] for c in used]
    ):
        return Grid(rows[0], tuple(rows[1:]))
    return Grid((), tuple(rows))


def _prose(text: str) -> bool:
    return len(text) > 100 or len(text.split()) > 12
