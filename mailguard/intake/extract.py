"""Everything a person could read in a message, including what the sender cannot see.

Bodies (text and HTML), text files, CSV/TSV, xlsx and xls (every sheet, hidden and
veryHidden ones, hidden rows and columns), ods and odt (``opendoc``), docx
(paragraphs, tables, headers, footers, comments), pptx (slides, tables, speaker
notes), PDF, RTF, zip (recursively) and attached messages (also a saved email sent
as octet-stream) become plain ``TextPart``s and ``Table``s. Tables stay tables so
detectors can count records, not matches: that includes tables typed or pasted
into a body or a text file (``texttables``) and HTML ``<table>``s holding data
(``htmltext``); their lines are taken out of the text so nothing is counted twice.
Text in any encoding a BOM or a charset names is read (``encoding``).

Every parser runs inside a ``Budget`` (expanded bytes, nesting depth, file count,
compression ratio, time). A file that is encrypted, corrupt or over budget becomes
an ``Unreadable`` (reported as ``UNINSPECTABLE``), never an exception.
"""

from __future__ import annotations

import csv
import io
import re
import weakref
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import policy as email_policy
from email.message import Message
from email.parser import BytesParser
from itertools import compress, islice
from typing import Any

from mailguard.intake import (
    archives,
    doc,
    encoding,
    ocr,
    ole,
    opendoc,
    outlook,
    quoting,
    redaction,
    rtf,
    texttables,
    xls,
)
from mailguard.intake.budget import (
    MB,
    Budget,
    CellCount,
    Limits,
    OverBudget,
    Uninspectable,
    check_zip,
)
from mailguard.intake.flowed import unflow
from mailguard.intake.htmltext import html_to_text, text_and_tables
from mailguard.intake.mime import ParsedMessage, payload_bytes
from mailguard.intake.sheets import Sheet, cell_text

__all__ = [
    "MB",
    "Budget",
    "Extracted",
    "Limits",
    "OverBudget",
    "Table",
    "TextPart",
    "Uninspectable",
    "Unreadable",
    "decoded_text",
    "extract",
    "html_to_text",
    "opening_text",
]


@dataclass(frozen=True, slots=True)
class TextPart:
    where: str  # "body" or "attachment:NAME" (nested: "attachment:a.zip/b.docx")
    text: str
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """One sheet, CSV, or table found in a text, an HTML part or a slide: a header row
    (``()`` when the first row is itself a record), data rows, and which rows/columns
    are hidden. ``sheet`` names it within its part ("Residents", "slide 3", "table 2")."""

    where: str
    sheet: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    sheet_hidden: bool = False
    hidden_rows: frozenset[int] = frozenset()  # indexes into rows
    hidden_cols: frozenset[int] = frozenset()

    def is_hidden(self, row: int, col: int) -> bool:
        return self.sheet_hidden or row in self.hidden_rows or col in self.hidden_cols

    @property
    def hides_anything(self) -> bool:
        return self.sheet_hidden or bool(self.hidden_rows) or bool(self.hidden_cols)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A part that could not be read within its budget (becomes ``UNINSPECTABLE``)."""

    where: str
    reason: str
    structural: bool = True  # too deep, too big, a bomb: see ``Uninspectable``


@dataclass(slots=True)
class Extracted:
    texts: list[TextPart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    problems: list[Unreadable] = field(default_factory=list)
    files: int = 0


def extract(message: Message, limits: Limits | None = None) -> Extracted:
    out = Extracted()
    budget = Budget(limits or Limits())
    try:
        _message(message, "", 0, budget, out)
    except OverBudget as exc:
        out.problems.append(Unreadable("body", f"inspection stopped: {exc}"))
    out.files = budget.files
    out.tables = _distinct(out.tables)
    return out


def contents_of(message: ParsedMessage, *, outside: bool = False) -> Extracted:
    """What detectors read of a message, extracted once and shared between them; a
    message cut short by ``structure`` says so here. ``outside``: the mail leaves the
    council, so text in images and under redaction boxes is read too."""

    def make() -> Extracted:
        out = extract(message.message, Limits(outside=outside))
        if message.structure_problem:
            out.problems.insert(0, Unreadable("body", message.structure_problem))
        return out

    return message.shared(f"extracted:{'outside' if outside else 'inside'}", make)


def _distinct(tables: list[Table]) -> list[Table]:
    """One copy of a table shown twice in the same place (the plain and the HTML
    alternative of one body), so its rows are counted once; several tables found in
    one text are named "table 1", "table 2", ... in the order they appear."""
    if len(tables) < 2:
        return tables
    seen: dict[tuple, int] = {}
    kept: list[Table] = []
    for table in tables:
        # The same cells whether or not a header was recognised (<th> in the HTML only).
        content = ((table.header,) if table.header else ()) + table.rows
        key = (table.where, table.sheet, content, table.sheet_hidden)
        if key not in seen:
            seen[key] = len(kept)
            kept.append(table)
        elif table.header and not kept[seen[key]].header:
            kept[seen[key]] = table
    unnamed = Counter(t.where for t in kept if not t.sheet)
    number: Counter[str] = Counter()
    for i, table in enumerate(kept):
        if not table.sheet and unnamed[table.where] > 1:
            number[table.where] += 1
            kept[i] = replace(table, sheet=f"table {number[table.where]}")
    return kept


def _message(msg: Message, prefix: str, depth: int, budget: Budget, out: Extracted) -> None:
    body_where = f"attachment:{prefix.rstrip('/')}" if prefix else "body"
    for part in _leaves(msg):
        try:
            _part(part, body_where, prefix, depth, budget, out)
        except OverBudget:
            raise
        except Exception as exc:  # a hostile part is a problem, not a lost message
            out.problems.append(
                Unreadable(body_where, f"part could not be read ({type(exc).__name__})")
            )


def _part(
    part: Message, body_where: str, prefix: str, depth: int, budget: Budget, out: Extracted
) -> None:
    ctype = part.get_content_type()
    filename = filename_of(part)
    attached = bool(filename) or part.get_content_disposition() == "attachment"
    if ctype.startswith("message/") or (filename or "").lower().endswith(".eml"):
        _attachment(part, filename or "message.eml", prefix, depth, budget, out)
    elif not attached and ctype in ("text/plain", "text/html"):
        text = decoded_text(part)
        budget.spend(len(text))
        if (
            ctype == "text/plain"
            and _has_param(part, "format")
            and (str(part.get_param("format", "")).lower() == "flowed")
        ):
            text = unflow(text, delsp=str(part.get_param("delsp", "")).lower() == "yes")
        _text(text, body_where, budget, out, html=ctype == "text/html")
    elif attached or not ctype.startswith("multipart/"):
        name = filename or f"part.{ctype.split('/')[-1]}"
        _attachment(part, name, prefix, depth, budget, out)


def _has_param(part: Message, name: str, header: str = "content-type") -> bool:
    """Could ``get_param(name, header=header)`` find anything? Parsing the parameters
    costs more than this look at the header's text (a name, also RFC 2231's
    ``name*0*=``, holds the name's letters in any case)."""
    value = part.get(header)
    return value is not None and name in str(value).lower()


def filename_of(part: Message) -> str | None:
    """``part.get_filename()``, without parsing two headers' parameters when neither
    names a file (a plain body: most parts)."""
    if not _has_param(part, "filename", "content-disposition") and not _has_param(part, "name"):
        return None
    return part.get_filename()


def _leaves(msg: Message) -> Iterator[Message]:
    """Leaf parts, stopping at attached messages (they are opened as attachments)."""
    if msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), list):
        for sub in msg.get_payload():
            yield from _leaves(sub)
    else:
        yield msg


# A body is decoded for the extraction and again for the greeting detectors read:
# kept while its part lives (parts are never changed once parsed).
_DECODED: weakref.WeakKeyDictionary[Message, str] = weakref.WeakKeyDictionary()


def decoded_text(part: Message) -> str:
    """A text part's payload: BOM, declared charset, UTF-8, then Windows-1252."""
    text = _DECODED.get(part)
    if text is None:
        payload = payload_bytes(part)
        try:
            declared = part.get_content_charset()
        except Exception:  # a malformed Content-Type parameter
            declared = None
        text = _DECODED[part] = encoding.decode(payload, declared)
    return text


def _text(
    text: str, where: str, budget: Budget, out: Extracted, html: bool = False, hidden: bool = False
) -> None:
    """Text as it is read: tables found in it become ``Table``s, the rest stays text.

    A table over the cell budget is a problem, and the whole text is still read as text.
    """
    try:
        if html:
            text, grids = text_and_tables(text)
            text = text.replace("\xa0", " ")
            CellCount(budget).add(sum(len(g.header) + sum(len(r) for r in g.rows) for g in grids))
        else:
            grids = []
        rest, more = texttables.split(text, budget)
    except Uninspectable as exc:
        out.problems.append(Unreadable(where, str(exc), exc.structural))
        out.texts.append(TextPart(where, html_to_text(text) if html else text, hidden))
        return
    grids.extend(more)
    out.tables.extend(_grid_table(g, where, "", hidden) for g in grids)
    quoted = ""
    if where == "body":  # a reply's own words apart from the thread it carries
        rest, quoted = quoting.split(rest)
    if rest.strip() or not (grids or quoted):
        out.texts.append(TextPart(where, rest, hidden))
    if quoted.strip():
        out.texts.append(TextPart("quoted", quoted, hidden))


def _grid_table(grid: texttables.Grid, where: str, sheet: str, hidden: bool = False) -> Table:
    return Table(where, sheet, grid.header, grid.rows, sheet_hidden=hidden)


def _attachment(
    part: Message, name: str, prefix: str, depth: int, budget: Budget, out: Extracted
) -> None:
    where = f"attachment:{prefix}{name}"
    budget.file()
    if part.get_content_type() == "message/rfc822" and part.is_multipart():
        inner = part.get_payload(0)
        if depth + 1 > budget.limits.max_depth:
            out.problems.append(Unreadable(where, "nested too deeply"))
            return
        _message(inner, f"{prefix}{name}/", depth + 1, budget, out)
        return
    data = payload_bytes(part)
    budget.spend(len(data))
    try:
        charset = part.get_content_charset()
    except Exception:  # a malformed Content-Type parameter
        charset = None
    ctype = part.get_content_type()
    _file(name, data, where, f"{prefix}{name}/", depth, budget, out, ctype, charset)


def _file(
    name: str,
    data: bytes,
    where: str,
    prefix: str,
    depth: int,
    budget: Budget,
    out: Extracted,
    ctype: str = "",
    charset: str | None = None,
) -> None:
    kind = _kind(name, data, ctype)
    try:
        if kind == "csv":
            tab = name.lower().endswith((".tsv", ".tab")) or ctype == "text/tab-separated-values"
            _csv(encoding.decode(data, charset), where, "\t" if tab else None, budget, out)
        elif kind == "xlsx":
            out.tables.extend(_xlsx(data, where, budget, out))
        elif kind == "docx":
            _docx(data, where, budget, out)
        elif kind == "pptx":
            _pptx(data, where, prefix, depth, budget, out)
        elif kind == "pdf":
            text, scans, covered = _pdf(data, budget)
            _text(text, where, budget, out)
            for number, kind, hidden in covered:
                page = f"{where}#redacted:page {number} {kind}"
                _text(hidden, page, budget, out, hidden=True)
            if scans and budget.limits.outside:
                _scanned_pages(scans, where, budget, out)
        elif kind == "image":
            if budget.limits.outside and ocr.worth_reading(data):
                _text(ocr.image_text(data, budget), f"{where}#ocr", budget, out)
        elif kind == "zip":
            _zip(data, where, prefix, depth, budget, out)
        elif kind == "tar":
            _tar(archives.unpacked(data, budget), where, prefix, depth, budget, out)
        elif kind == "7z":
            _sevenzip(data, prefix, depth, budget, out)
        elif kind == "gzip":
            inner = name[: -len(".gz")] if name.lower().endswith(".gz") else f"{name}.out"
            budget.file()
            _file(inner, archives.unpacked(data, budget), where, prefix, depth + 1, budget, out)
        elif kind == "eml":
            if depth + 1 > budget.limits.max_depth:
                raise Uninspectable("nested too deeply")
            inner = BytesParser(policy=email_policy.compat32).parsebytes(data)
            _message(inner, prefix, depth + 1, budget, out)
        elif kind == "ole":
            _ole(name, data, where, prefix, depth, budget, out)
        elif kind in ("ods", "odt"):
            _opendoc(data, where, budget, out)
        elif kind == "rtf":
            _text(rtf.read(data, budget), where, budget, out)
        elif kind == "text":
            _text(encoding.decode(data, charset), where, budget, out)
        elif kind == "html":
            _text(encoding.decode(data, charset), where, budget, out, html=True)
    except OverBudget:
        raise
    except Uninspectable as exc:
        out.problems.append(Unreadable(where, str(exc), exc.structural))
    except Exception as exc:  # a damaged file: the reader gave up on its content
        out.problems.append(
            Unreadable(where, f"could not be read ({type(exc).__name__})", structural=False)
        )


def _kind(name: str, data: bytes, ctype: str) -> str:
    ext = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if ext in ("csv", "tsv", "tab") or ctype in ("text/csv", "text/tab-separated-values"):
        return "csv"
    if data[:4] == b"\xd0\xcf\x11\xe0":  # OLE2: old .xls/.doc, .msg, encrypted Office
        return "ole"
    if ext in ocr.IMAGE_EXTENSIONS or ctype.startswith("image/") or _IMAGE_MAGIC.match(data):
        return "image"
    if ext in ("ods", "ots", "odt", "ott") or "opendocument" in ctype:
        return "odt" if ext in ("odt", "ott") or ".text" in ctype else "ods"
    if ext == "rtf" or ctype in ("application/rtf", "text/rtf") or data[:5] == b"{\\rtf":
        return "rtf"
    if ext in ("xlsx", "xlsm") or "spreadsheetml" in ctype:
        return "xlsx"
    if ext == "docx" or "wordprocessingml" in ctype:
        return "docx"
    if ext in ("pptx", "pptm", "ppsx", "ppsm", "potx") or "presentationml" in ctype:
        return "pptx"
    if ext == "pdf" or ctype == "application/pdf" or data[:5] == b"%PDF-":
        return "pdf"
    if ext == "zip" or ctype in ("application/zip", "application/x-zip-compressed"):
        return "zip"
    if ext == "7z" or ctype == "application/x-7z-compressed" or data[:6] == _SEVENZIP:
        return "7z"
    lowered = name.lower()
    if lowered.endswith((".tar", ".tar.gz", ".tgz")) or ctype == "application/x-tar":
        return "tar"
    if (
        data[:2] == b"\x1f\x8b"
        or ext == "gz"
        or ctype in ("application/gzip", "application/x-gzip")
    ):
        return "gzip"
    if ext == "eml" or ctype == "message/rfc822":
        return "eml"
    if ext in ("htm", "html") or ctype == "text/html":
        return "html"
    if ext in ("txt", "text", "md", "log", "prn") or ctype.startswith("text/"):
        return "text"
    if _looks_like_message(data):  # a saved email sent as application/octet-stream
        return "eml"
    return "other"


_SEVENZIP = b"7z\xbc\xaf\x27\x1c"
_IMAGE_MAGIC = re.compile(
    rb"\x89PNG|\xff\xd8\xff|GIF8[79]a|II\*\x00|MM\x00\*|BM....\x00\x00|RIFF....WEBP"
    rb"|....ftyp(?:heic|heix|hevc|heim|heis|mif1|msf1)",
    re.DOTALL,
)
_HEADER_LINE = re.compile(
    rb"(?im)^(received|return-path|from|to|subject|date|message-id|mime-version):[ \t]"
)


def _looks_like_message(data: bytes) -> bool:
    """Headers first, several of the ones every email has, then a blank line."""
    head, sep, _ = data[:8192].partition(b"\r\n\r\n")
    if not sep:
        head, sep, _ = data[:8192].partition(b"\n\n")
    return bool(sep) and len(set(m.lower() for m in _HEADER_LINE.findall(head))) >= 3


def _sheet_table(sheet: Sheet, where: str) -> Table:
    header, *rows = sheet.rows
    return Table(
        where,
        sheet.name,
        header,
        tuple(rows),
        sheet_hidden=sheet.hidden,
        hidden_rows=frozenset(i - 1 for i in sheet.hidden_rows if i > 0),
        hidden_cols=sheet.hidden_cols,
    )


def _ole(
    name: str, data: bytes, where: str, prefix: str, depth: int, budget: Budget, out: Extracted
) -> None:
    kind = ole.kind_of(data)
    if kind == "xls":
        out.tables.extend(_sheet_table(s, where) for s in xls.read(data, budget))
    elif kind == "msg":
        _msg(data, where, prefix, depth, budget, out)
    elif kind == "encrypted":
        raise Uninspectable("encrypted (password protected)", structural=False)
    elif kind == "doc":
        _doc(data, where, budget, out)
    elif kind == "damaged":
        raise Uninspectable("a damaged or encrypted Office file", structural=False)
    else:
        raise Uninspectable("an old-format Office file that could not be read", structural=False)


def _doc(data: bytes, where: str, budget: Budget, out: Extracted) -> None:
    document = doc.read(data, budget)
    _text(document.text, where, budget, out)
    for kind, text in document.hidden.items():  # not on the page
        _text(text, f"{where}#redacted:{kind}", budget, out, hidden=True)


def _opendoc(data: bytes, where: str, budget: Budget, out: Extracted) -> None:
    doc = opendoc.read(data, budget)
    out.tables.extend(_sheet_table(s, where) for s in doc.sheets)
    if doc.text:
        _text("\n".join(doc.text), where, budget, out)
    for kind, texts in doc.hidden_text.items():  # not on the page
        _text("\n\n".join(texts), f"{where}#redacted:{kind}", budget, out, hidden=True)


def _msg(data: bytes, where: str, prefix: str, depth: int, budget: Budget, out: Extracted) -> None:
    if depth + 1 > budget.limits.max_depth:
        raise Uninspectable("nested too deeply")
    saved = outlook.read(data, budget)
    _outlook(saved, where, prefix, depth, budget, out)


def _outlook(
    saved: outlook.Saved, where: str, prefix: str, depth: int, budget: Budget, out: Extracted
) -> None:
    if saved.text.strip():
        _text(saved.text, where, budget, out)
    if saved.html.strip():
        _text(saved.html, where, budget, out, html=True)
    if (saved.attachments or saved.messages) and depth + 1 > budget.limits.max_depth:
        raise Uninspectable("nested too deeply")
    for name, member in saved.attachments:
        budget.file()
        _member(name, member, prefix, depth, budget, out)
    for name, inner_msg in saved.messages:
        budget.file()
        inner = f"{prefix}{name}"
        _outlook(inner_msg, f"attachment:{inner}", f"{inner}/", depth + 1, budget, out)


# --- CSV -----------------------------------------------------------------------------


def _csv(text: str, where: str, delimiter: str | None, budget: Budget, out: Extracted) -> None:
    """One table; title lines above it ("Clinic list 3 March") are text, and a first row
    that is plainly a record (a date, a long number, an address) is not the header."""
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows: list[tuple[str, ...]] = []
    cells = 0
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    while batch := list(islice(reader, 1000)):  # the budget checked a thousand rows at a time
        cells += sum(map(len, batch))
        if cells > budget.limits.max_cells:
            raise Uninspectable(f"more than {budget.limits.max_cells} cells")
        budget.tick()
        # Rows with something in them, looped over in C: a CSV has thousands.
        rows.extend(map(tuple, compress(batch, map(str.strip, map("".join, batch)))))
    if not rows:
        return
    preamble = 0
    if max(len(r) for r in rows[:50]) >= 2:
        while (
            preamble < min(10, len(rows) - 1) and sum(1 for c in rows[preamble] if c.strip()) <= 1
        ):
            preamble += 1
    if preamble:
        title = "\n".join(" ".join(c for c in r if c.strip()) for r in rows[:preamble])
        out.texts.append(TextPart(where, title))
        rows = rows[preamble:]
    if _is_record(rows[0]):
        out.tables.append(Table(where, "", (), tuple(rows)))
    else:
        out.tables.append(Table(where, "", rows[0], tuple(rows[1:])))


_VALUE = re.compile(r"^\W*\d[\d\s/.:-]{4,}\d\W*$|@")


def _is_record(row: tuple[str, ...]) -> bool:
    """A header never holds a date, a phone or NHS number, or an email address."""
    return any(_VALUE.search(c.strip()) for c in row)


# --- xlsx ----------------------------------------------------------------------------


def _xlsx(data: bytes, where: str, budget: Budget, out: Extracted) -> list[Table]:
    import openpyxl  # imported here: only mail with spreadsheets pays for it

    archive = check_zip(data, budget)
    _check_sheet_sizes(archive, budget)
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=False, data_only=True)
    tables = []
    cells = 0
    for sheet in book.worksheets:
        budget.tick()
        hidden_sheet = sheet.sheet_state in ("hidden", "veryHidden")
        rows: list[tuple[str, ...]] = []
        hidden_rows: set[int] = set()
        for r_index, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells += len(row)
            if cells > budget.limits.max_cells:
                raise Uninspectable(f"more than {budget.limits.max_cells} cells")
            values = tuple(cell_text(v) for v in row)
            if not any(v.strip() for v in values):
                continue
            dim = sheet.row_dimensions.get(r_index)
            if dim is not None and (dim.hidden or dim.ht == 0):
                hidden_rows.add(len(rows))
            rows.append(values)
        if not rows:
            continue
        hidden_cols = {i for i in range(len(rows[0]) if rows else 0) if _column_hidden(sheet, i)}
        hidden_rows_data = {i - 1 for i in hidden_rows if i > 0}
        tables.append(
            Table(
                where,
                sheet.title,
                rows[0],
                tuple(rows[1:]),
                sheet_hidden=hidden_sheet,
                hidden_rows=frozenset(hidden_rows_data),
                hidden_cols=frozenset(hidden_cols),
            )
        )
    return tables


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


def _check_sheet_sizes(archive: zipfile.ZipFile, budget: Budget) -> None:
    """Refuse a sheet that claims more cells than the budget before openpyxl loads it all
    (a few bytes can declare A1:XFD1048576)."""
    for info in archive.infolist():
        if not info.filename.startswith("xl/worksheets/") or not info.filename.endswith(".xml"):
            continue
        with archive.open(info) as f:
            head = f.read(4096)
        m = _DIMENSION.search(head)
        if not m or not m.group(3):
            continue
        cols = _column_number(m.group(3)) - _column_number(m.group(1)) + 1
        rows = int(m.group(4)) - int(m.group(2)) + 1
        if cols * rows > budget.limits.max_cells:
            raise Uninspectable(f"a sheet spans {cols * rows:,} cells, over the budget")


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _column_hidden(sheet: object, index: int) -> bool:
    from openpyxl.utils import get_column_letter

    dims = sheet.column_dimensions  # type: ignore[attr-defined]
    letter = get_column_letter(index + 1)
    if letter in dims and dims[letter].hidden:
        return True
    # Grouped column ranges (min..max) are stored under their first letter.
    return any(d.hidden and d.min and d.max and d.min <= index + 1 <= d.max for d in dims.values())


# --- docx ----------------------------------------------------------------------------


def _docx(data: bytes, where: str, budget: Budget, out: Extracted) -> None:
    import docx  # python-docx

    check_zip(data, budget)
    from docx.oxml.ns import qn

    document = docx.Document(io.BytesIO(data))
    body = document.element.body
    # A table of people is read as a table; a layout table (a letterhead, an
    # address block beside a reference box) stays text.
    data_tables = set()
    for table in body.iter(qn("w:tbl")):
        budget.tick()
        rows = [
            ["".join(t.text or "" for t in cell.iter(qn("w:t"))) for cell in row.iter(qn("w:tc"))]
            for row in table.iter(qn("w:tr"))
        ]
        grid = texttables.grid_of(rows) if len({len(r) for r in rows}) == 1 else None
        if grid is not None:
            data_tables.add(table)
            out.tables.append(_grid_table(grid, where, ""))
    # Every text run in the body, wherever it sits: paragraphs, tables, tracked
    # insertions, content controls (python-docx's .text skips the last two).
    chunks: list[str] = []
    breaks = {qn("w:br"): "\n", qn("w:cr"): "\n", qn("w:tab"): "\t"}
    text_tag = qn("w:t")
    unseen = _unseen_runs(body, qn)
    for paragraph in body.iter(qn("w:p")):
        budget.tick()
        if data_tables and any(a in data_tables for a in paragraph.iterancestors(qn("w:tbl"))):
            continue
        # Line breaks and tabs inside a paragraph keep "Child: ...<br/>Date of birth:"
        # on two lines, not run together.
        chunks.append(
            "".join(
                (e.text or "") if e.tag == text_tag else breaks[e.tag]
                for e in paragraph.iter(text_tag, *breaks)
                if e.getparent() not in unseen
            )
        )
    # What Word keeps but does not show: tracked deletions, hidden (w:vanish) runs,
    # white text. A "redaction" done by deleting with track changes on, or by colouring
    # the words white, sends them anyway.
    hidden = {redaction.DELETED: [t.text or "" for t in body.iter(qn("w:delText"))]}
    for run, kind in unseen.items():
        hidden.setdefault(kind, []).append("".join(t.text or "" for t in run.iter(text_tag)))
    for kind, texts in hidden.items():
        if any(t.strip() for t in texts):
            text = "\n".join(t for t in texts if t.strip())
            out.texts.append(TextPart(f"{where}#redacted:{kind}", text, True))
    for section in document.sections:
        for part in (section.header, section.footer):
            chunks.extend(p.text for p in part.paragraphs)
    comments = getattr(document, "comments", None)
    if comments is not None:
        chunks.extend(c.text for c in comments)
    text = "\n".join(c for c in chunks if c.strip())
    if text or not data_tables:
        out.texts.append(TextPart(where, text))


def _unseen_runs(body: Any, qn: Any) -> dict[Any, str]:
    """Runs a reader of the document does not see: hidden (``w:vanish``) or white."""
    unseen = {}
    for run in body.iter(qn("w:r")):
        props = run.find(qn("w:rPr"))
        if props is None:
            continue
        vanish = props.find(qn("w:vanish"))
        hidden = vanish is not None and vanish.get(qn("w:val"), "1") not in ("0", "false")
        color = props.find(qn("w:color"))
        white = color is not None and (color.get(qn("w:val")) or "").upper() == "FFFFFF"
        if hidden or white:
            unseen[run] = redaction.HIDDEN if hidden else redaction.WHITE
    return unseen


# --- pptx ----------------------------------------------------------------------------


def _pptx(data: bytes, where: str, prefix: str, depth: int, budget: Budget, out: Extracted) -> None:
    from mailguard.intake import pptx  # imported here: only mail with slides pays for it

    deck = pptx.read(data, budget)
    for name, grid, hidden in deck.tables:
        out.tables.append(_grid_table(grid, where, name, hidden))
    if deck.text:
        _text("\n\n".join(deck.text), where, budget, out)
    if deck.hidden_text:
        _text("\n\n".join(deck.hidden_text), where, budget, out, hidden=True)
    if deck.embedded and depth + 1 > budget.limits.max_depth:
        raise Uninspectable("nested too deeply")
    for name, member in deck.embedded:
        budget.file()
        _member(name, member, prefix, depth, budget, out)


# --- PDF -----------------------------------------------------------------------------


def _pdf(
    data: bytes, budget: Budget
) -> tuple[str, list[tuple[int, list[bytes]]], list[tuple[int, str]]]:
    """The text of every page, laid out as printed so a table's columns stay apart; the
    pages with no text but images (scans), with their images, for OCR; and, for mail
    going outside, the text each page hides under boxes or in white (``redaction``)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                raise Uninspectable("encrypted (password protected)", structural=False)
        except Exception:
            raise Uninspectable("encrypted (password protected)", structural=False) from None
    pages = []
    scans: list[tuple[int, list[bytes]]] = []
    covered: list[tuple[int, str, str]] = []
    for n, page in enumerate(reader.pages):
        if n >= budget.limits.max_pdf_pages:
            raise Uninspectable(f"more than {budget.limits.max_pdf_pages} pages")
        budget.tick()
        try:
            text = page.extract_text(extraction_mode="layout") or ""
        except Exception:  # layout mode is stricter about broken fonts
            text = page.extract_text() or ""
        budget.spend(len(text))
        pages.append(text)
        if budget.limits.outside and len(text.strip()) < _SCAN_TEXT:
            scans.append((n + 1, _page_images(page, budget)))
        elif budget.limits.outside:
            covered.extend((n + 1, kind, text) for kind, text in _covered(page))
    return "\n".join(pages), [(n, i) for n, i in scans if i], covered


def _covered(page: object) -> list[tuple[str, str]]:
    try:
        hidden = redaction.hidden_text(page)
    except Exception:  # a content stream pypdf reads for text but not for drawing
        return []
    kinds = ((redaction.UNDER_BOX, hidden.under_boxes), (redaction.WHITE, hidden.white))
    return [(kind, text) for kind, text in kinds if text]


_SCAN_TEXT = 20  # fewer characters than this on a page: a scan (perhaps with a stamp)


def _page_images(page: object, budget: Budget) -> list[bytes]:
    images = []
    try:
        for image in page.images:  # type: ignore[attr-defined]
            budget.spend(len(image.data))
            images.append(image.data)
    except OverBudget:
        raise
    except Exception:  # an image pypdf cannot decode (JBIG2...): OCR cannot help
        return images
    return images


def _scanned_pages(
    scans: list[tuple[int, list[bytes]]], where: str, budget: Budget, out: Extracted
) -> None:
    """Each scanned page's text as ``attachment:NAME#ocr:page N``; pages the OCR time
    allowance did not reach are said to be unread, the ones read are still judged."""
    for done, (number, images) in enumerate(scans):
        if budget.ocr_left() <= 0:
            left = ", ".join(str(n) for n, _ in scans[done:])
            out.problems.append(
                Unreadable(where, f"OCR time allowance spent; pages {left} not read")
            )
            return
        page_where = f"{where}#ocr:page {number}"
        try:
            text = "\n".join(ocr.image_text(i, budget) for i in images if ocr.worth_reading(i))
        except Uninspectable as exc:
            out.problems.append(Unreadable(page_where, str(exc), exc.structural))
            continue
        if text.strip():
            _text(text, page_where, budget, out)


# --- zip -----------------------------------------------------------------------------


def _zip(data: bytes, where: str, prefix: str, depth: int, budget: Budget, out: Extracted) -> None:
    if depth + 1 > budget.limits.max_depth:
        raise Uninspectable("nested too deeply")
    archive = check_zip(data, budget)
    for info in archive.infolist():
        if info.is_dir():
            continue
        budget.file()
        member = archive.read(info)
        budget.spend(len(member))
        _member(info.filename, member, prefix, depth, budget, out)


def _tar(data: bytes, where: str, prefix: str, depth: int, budget: Budget, out: Extracted) -> None:
    if depth + 1 > budget.limits.max_depth:
        raise Uninspectable("nested too deeply")
    for member, content in archives.tar_members(data, budget):
        _member(member, content, prefix, depth, budget, out)


def _sevenzip(data: bytes, prefix: str, depth: int, budget: Budget, out: Extracted) -> None:
    if depth + 1 > budget.limits.max_depth:
        raise Uninspectable("nested too deeply")
    for member, content in archives.sevenzip_members(data, budget):
        _member(member, content, prefix, depth, budget, out)


def _member(
    name: str, data: bytes, prefix: str, depth: int, budget: Budget, out: Extracted
) -> None:
    """A file inside another (an archive, a deck, a saved message), one level down."""
    _file(name, data, f"attachment:{prefix}{name}", f"{prefix}{name}/", depth + 1, budget, out)


# --- HTML ----------------------------------------------------------------------------


def opening_text(msg: Message, limit: int = 4000) -> str:
    """The start of the message body as the recipient reads it first (plain text preferred).

    For detectors that only need the greeting, without extracting attachments.
    """
    html = ""
    for part in _leaves(msg):
        if filename_of(part) or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            return decoded_text(part)[:limit]
        if ctype == "text/html" and not html:
            html = decoded_text(part)[: limit * 4]
    return html_to_text(html)[:limit] if html else ""
