"""OpenDocument (.ods, .odt) from LibreOffice: read straight from ``content.xml``
with defusedxml (no DTDs, no entities), inside the same zip checks as every other
office file.

Spreadsheets: every sheet, hidden sheets (``table:display="false"``), hidden or
filtered rows and columns (``table:visibility``), with repeated cells expanded only
as far as they hold something. Text documents: every paragraph and heading, tables
as tables, comments, and what the reader does not see (hidden text and paragraphs,
tracked deletions) marked hidden.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

from mailguard.intake import redaction
from mailguard.intake.budget import Budget, CellCount, Uninspectable, check_zip
from mailguard.intake.sheets import Sheet

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_MAX_REPEAT = 1000  # a repeated cell or row that holds something, at most this often


@dataclass(slots=True)
class Document:
    sheets: list[Sheet] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    # Text a reader of the page does not see, by kind (``redaction.HIDDEN`` ...).
    hidden_text: dict[str, list[str]] = field(default_factory=dict)


def read(data: bytes, budget: Budget) -> Document:
    archive = check_zip(data, budget)
    try:
        mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
    except KeyError:
        mimetype = ""
    if _encrypted(archive):
        raise Uninspectable("encrypted (password protected)", structural=False)
    if "content.xml" not in archive.namelist():
        raise Uninspectable("not an OpenDocument file", structural=False)
    root = _xml(archive, "content.xml", budget)
    doc = Document()
    hidden_tables = _hidden_table_styles(root)
    cells = CellCount(budget)
    body = root.find(f"{_OFFICE}body")
    if body is None:
        return doc
    if "spreadsheet" in mimetype or body.find(f"{_OFFICE}spreadsheet") is not None:
        for table in body.iter(f"{_TABLE}table"):
            budget.tick()
            sheet = _sheet(table, hidden_tables, cells, budget)
            if sheet is not None:
                doc.sheets.append(sheet)
        return doc
    _text_document(body, doc, cells, budget)
    return doc


def _encrypted(archive: zipfile.ZipFile) -> bool:
    try:
        manifest = archive.read("META-INF/manifest.xml")
    except KeyError:
        return False
    return b"encryption-data" in manifest


def _xml(archive: zipfile.ZipFile, name: str, budget: Budget) -> Element:
    data = archive.read(name)
    budget.spend(len(data))
    try:
        return ElementTree.fromstring(data)
    except Exception as exc:  # defusedxml refuses DTDs and entities; broken XML
        raise Uninspectable(f"{name} could not be read ({type(exc).__name__})") from None


def _hidden_table_styles(root: Element) -> set[str]:
    hidden = set()
    for style in root.iter(f"{_STYLE}style"):
        props = style.find(f"{_STYLE}table-properties")
        if props is not None and props.get(f"{_TABLE}display") == "false":
            hidden.add(style.get(f"{_STYLE}name", ""))
    return hidden


def _repeat(element: Element, attribute: str) -> int:
    try:
        return max(1, int(element.get(f"{_TABLE}{attribute}", "1")))
    except ValueError:
        return 1


def _cell_text(cell: Element) -> str:
    return "\n".join("".join(p.itertext()) for p in cell.iter(f"{_TEXT}p"))


def _sheet(
    table: Element, hidden_styles: set[str], cells: CellCount, budget: Budget
) -> Sheet | None:
    hidden_cols: set[int] = set()
    column = 0
    for col in table.iter(f"{_TABLE}table-column"):
        n = _repeat(col, "number-columns-repeated")
        if col.get(f"{_TABLE}visibility") in ("collapse", "filter"):
            hidden_cols.update(range(column, column + min(n, _MAX_REPEAT)))
        column += n
    rows: list[tuple[str, ...]] = []
    hidden_rows: set[int] = set()
    for row in table.iter(f"{_TABLE}table-row"):
        values: list[str] = []
        for cell in row:
            if cell.tag not in (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"):
                continue
            text = _cell_text(cell)
            n = _repeat(cell, "number-columns-repeated")
            # Trailing empty cells repeated to the sheet's edge (16,384 of them) are
            # nothing; a value repeated is a value, up to a bound.
            values.extend([text] * (min(n, _MAX_REPEAT) if text else min(n, 64)))
        while values and not values[-1].strip():
            values.pop()
        if not values:
            continue
        times = min(_repeat(row, "number-rows-repeated"), _MAX_REPEAT)
        cells.add(len(values) * times)
        if len(rows) % 1000 == 0:
            budget.tick()
        for _ in range(times):
            if row.get(f"{_TABLE}visibility") in ("collapse", "filter"):
                hidden_rows.add(len(rows))
            rows.append(tuple(values))
    if not rows:
        return None
    return Sheet(
        table.get(f"{_TABLE}name", ""),
        tuple(rows),
        hidden=table.get(f"{_TABLE}style-name", "") in hidden_styles,
        hidden_rows=frozenset(hidden_rows),
        hidden_cols=frozenset(hidden_cols),
    )


_HIDDEN_TEXT = {
    f"{_TEXT}hidden-text": redaction.HIDDEN,
    f"{_TEXT}hidden-paragraph": redaction.HIDDEN,
    f"{_TEXT}tracked-changes": redaction.DELETED,  # what was deleted (insertions are shown)
    f"{_OFFICE}annotation": redaction.COMMENT,
}


def _text_document(body: Element, doc: Document, cells: CellCount, budget: Budget) -> None:
    """Paragraphs in order; a table of data as a sheet; hidden things set apart."""
    skip: set[int] = set()
    for tag, kind in _HIDDEN_TEXT.items():
        for hidden in body.iter(tag):
            text = "\n".join("".join(p.itertext()) for p in hidden.iter(f"{_TEXT}p"))
            text = text or "".join(hidden.itertext())
            if text.strip():
                doc.hidden_text.setdefault(kind, []).append(text)
            skip.update(id(e) for e in hidden.iter())
    for number, table in enumerate(body.iter(f"{_TABLE}table"), start=1):
        budget.tick()
        sheet = _sheet(table, set(), cells, budget)
        if sheet is not None and len(sheet.rows) >= 2 and len(sheet.rows[0]) >= 2:
            doc.sheets.append(Sheet(f"table {number}", sheet.rows))
            skip.update(id(e) for e in table.iter())
    for element in body.iter():
        if element.tag in (f"{_TEXT}p", f"{_TEXT}h") and id(element) not in skip:
            budget.tick()
            doc.text.append(_visible_text(element, skip))


def _visible_text(element: Element, skip: set[int]) -> str:
    """A paragraph's text without what sits inside hidden spans or comments."""
    parts = [element.text or ""]
    for child in element:
        if id(child) not in skip:
            if child.tag == f"{_TEXT}line-break":
                parts.append("\n")
            elif child.tag == f"{_TEXT}tab":
                parts.append("\t")
            elif child.tag == f"{_TEXT}s":
                parts.append(" ")
            else:
                parts.append(_visible_text(child, skip))
        parts.append(child.tail or "")
    return "".join(parts)
