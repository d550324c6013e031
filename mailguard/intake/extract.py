"""Everything a person could read in a message, including what the sender cannot see.

Bodies (text and HTML), CSV/TSV, xlsx (every sheet, hidden and veryHidden ones,
hidden rows and columns), docx (paragraphs, tables, headers, footers, comments),
PDF, zip (recursively) and attached messages become plain ``TextPart``s and
``Table``s. Tables stay tables so detectors can count records, not matches.

Every parser runs inside a ``Budget`` (expanded bytes, nesting depth, file count,
compression ratio, time). A file that is encrypted, corrupt or over budget becomes
an ``Unreadable`` (reported as ``UNINSPECTABLE``), never an exception.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy as email_policy
from email.message import Message
from email.parser import BytesParser
from html.parser import HTMLParser

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 100 * MB  # total expanded bytes across all parts
    max_depth: int = 4  # zip in eml in zip ...
    max_files: int = 500
    max_ratio: float = 100.0  # uncompressed / compressed, per zip member
    max_seconds: float = 20.0
    max_cells: int = 2_000_000
    max_pdf_pages: int = 500


@dataclass(frozen=True, slots=True)
class TextPart:
    where: str  # "body" or "attachment:NAME" (nested: "attachment:a.zip/b.docx")
    text: str
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """One sheet or CSV: a header row, data rows, and which rows/columns are hidden."""

    where: str
    sheet: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    sheet_hidden: bool = False
    hidden_rows: frozenset[int] = frozenset()  # indexes into rows
    hidden_cols: frozenset[int] = frozenset()

    def is_hidden(self, row: int, col: int) -> bool:
        return self.sheet_hidden or row in self.hidden_rows or col in self.hidden_cols


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A part that could not be read within its budget (becomes ``UNINSPECTABLE``)."""

    where: str
    reason: str


@dataclass(slots=True)
class Extracted:
    texts: list[TextPart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    problems: list[Unreadable] = field(default_factory=list)
    files: int = 0


class OverBudget(Exception):
    pass


class Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.bytes = 0
        self.files = 0

    def spend(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.limits.max_bytes:
            raise OverBudget(f"more than {self.limits.max_bytes // MB} MB of expanded content")
        self.tick()

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise OverBudget(f"took longer than {self.limits.max_seconds:g}s")

    def file(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise OverBudget(f"more than {self.limits.max_files} files")


def extract(message: Message, limits: Limits | None = None) -> Extracted:
    out = Extracted()
    budget = Budget(limits or Limits())
    try:
        _message(message, "", 0, budget, out)
    except OverBudget as exc:
        out.problems.append(Unreadable("body", f"inspection stopped: {exc}"))
    out.files = budget.files
    return out


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
    filename = part.get_filename()
    attached = bool(filename) or part.get_content_disposition() == "attachment"
    if ctype.startswith("message/") or (filename or "").lower().endswith(".eml"):
        _attachment(part, filename or "message.eml", prefix, depth, budget, out)
    elif not attached and ctype in ("text/plain", "text/html"):
        text = decoded_text(part)
        budget.spend(len(text))
        out.texts.append(TextPart(body_where, html_to_text(text) if ctype == "text/html" else text))
    elif attached or not ctype.startswith("multipart/"):
        name = filename or f"part.{ctype.split('/')[-1]}"
        _attachment(part, name, prefix, depth, budget, out)


def _leaves(msg: Message) -> Iterator[Message]:
    """Leaf parts, stopping at attached messages (they are opened as attachments)."""
    if msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), list):
        for sub in msg.get_payload():
            yield from _leaves(sub)
    else:
        yield msg


def decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except Exception:  # unknown or hostile charset names (idna, undefined, ...)
        return payload.decode("utf-8", "replace")


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
    data = part.get_payload(decode=True) or b""
    budget.spend(len(data))
    _file(name, data, where, f"{prefix}{name}/", depth, budget, out, part.get_content_type())


def _file(
    name: str,
    data: bytes,
    where: str,
    prefix: str,
    depth: int,
    budget: Budget,
    out: Extracted,
    ctype: str = "",
) -> None:
    kind = _kind(name, data, ctype)
    try:
        if kind == "csv":
            tab = "\t" if name.lower().endswith(".tsv") else None
            out.tables.extend(_csv(data, where, tab, budget))
        elif kind == "xlsx":
            out.tables.extend(_xlsx(data, where, budget, out))
        elif kind == "docx":
            out.texts.extend(_docx(data, where, budget))
        elif kind == "pdf":
            out.texts.extend(_pdf(data, where, budget))
        elif kind == "zip":
            _zip(data, where, prefix, depth, budget, out)
        elif kind == "eml":
            if depth + 1 > budget.limits.max_depth:
                raise Uninspectable("nested too deeply")
            inner = BytesParser(policy=email_policy.compat32).parsebytes(data)
            _message(inner, prefix, depth + 1, budget, out)
        elif kind == "ole":
            raise Uninspectable("encrypted or old-format Office file")
        elif kind == "text":
            out.texts.append(TextPart(where, data.decode("utf-8", "replace")))
        elif kind == "html":
            out.texts.append(TextPart(where, html_to_text(data.decode("utf-8", "replace"))))
    except OverBudget:
        raise
    except Uninspectable as exc:
        out.problems.append(Unreadable(where, str(exc)))
    except Exception as exc:  # any parser failure on hostile or broken input
        out.problems.append(Unreadable(where, f"could not be read ({type(exc).__name__})"))


class Uninspectable(Exception):
    pass


def _kind(name: str, data: bytes, ctype: str) -> str:
    ext = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if ext in ("csv", "tsv") or ctype in ("text/csv", "text/tab-separated-values"):
        return "csv"
    if data[:4] == b"\xd0\xcf\x11\xe0":  # OLE2: encrypted Office files, old .xls/.doc
        return "ole"
    if ext in ("xlsx", "xlsm") or "spreadsheetml" in ctype:
        return "xlsx"
    if ext == "docx" or "wordprocessingml" in ctype:
        return "docx"
    if ext == "pdf" or ctype == "application/pdf" or data[:5] == b"%PDF-":
        return "pdf"
    if ext == "zip" or ctype in ("application/zip", "application/x-zip-compressed"):
        return "zip"
    if ext == "eml" or ctype == "message/rfc822":
        return "eml"
    if ext in ("htm", "html") or ctype == "text/html":
        return "html"
    if ext in ("txt", "text", "md", "log") or ctype.startswith("text/"):
        return "text"
    return "other"


# --- CSV -----------------------------------------------------------------------------


def _csv(data: bytes, where: str, delimiter: str | None, budget: Budget) -> list[Table]:
    text = data.decode("utf-8-sig", "replace")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows: list[tuple[str, ...]] = []
    cells = 0
    for row in csv.reader(io.StringIO(text), delimiter=delimiter):
        cells += len(row)
        if cells > budget.limits.max_cells:
            raise Uninspectable(f"more than {budget.limits.max_cells} cells")
        if len(rows) % 1000 == 0:
            budget.tick()
        if any(c.strip() for c in row):
            rows.append(tuple(row))
    if not rows:
        return []
    return [Table(where, "", rows[0], tuple(rows[1:]))]


# --- xlsx ----------------------------------------------------------------------------


def _check_zip(data: bytes, budget: Budget) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Uninspectable("not a valid zip container") from None
    total = 0
    for info in archive.infolist():
        if info.flag_bits & 0x1:
            raise Uninspectable("encrypted")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MB and ratio > budget.limits.max_ratio:
            raise Uninspectable(f"compression ratio {ratio:.0f}:1 (zip bomb?)")
    if budget.bytes + total > budget.limits.max_bytes:
        raise Uninspectable(f"expands to {total // MB} MB, over the budget")
    return archive


def _xlsx(data: bytes, where: str, budget: Budget, out: Extracted) -> list[Table]:
    import openpyxl  # imported here: only mail with spreadsheets pays for it

    archive = _check_zip(data, budget)
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
            values = tuple(_cell_text(v) for v in row)
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


def _cell_text(value: object) -> str:
    """Cells as a person sees them: dates as 12/03/1980, not 1980-03-12 00:00:00."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _column_hidden(sheet: object, index: int) -> bool:
    from openpyxl.utils import get_column_letter

    dims = sheet.column_dimensions  # type: ignore[attr-defined]
    letter = get_column_letter(index + 1)
    if letter in dims and dims[letter].hidden:
        return True
    # Grouped column ranges (min..max) are stored under their first letter.
    return any(d.hidden and d.min and d.max and d.min <= index + 1 <= d.max for d in dims.values())


# --- docx ----------------------------------------------------------------------------


def _docx(data: bytes, where: str, budget: Budget) -> list[TextPart]:
    import docx  # python-docx

    _check_zip(data, budget)
    from docx.oxml.ns import qn

    document = docx.Document(io.BytesIO(data))
    # Every text run in the body, wherever it sits: paragraphs, tables, tracked
    # insertions, content controls (python-docx's .text skips the last two).
    chunks: list[str] = []
    for paragraph in document.element.body.iter(qn("w:p")):
        budget.tick()
        chunks.append("".join(t.text or "" for t in paragraph.iter(qn("w:t"))))
    for section in document.sections:
        for part in (section.header, section.footer):
            chunks.extend(p.text for p in part.paragraphs)
    comments = getattr(document, "comments", None)
    if comments is not None:
        chunks.extend(c.text for c in comments)
    return [TextPart(where, "\n".join(c for c in chunks if c.strip()))]


# --- PDF -----------------------------------------------------------------------------


def _pdf(data: bytes, where: str, budget: Budget) -> list[TextPart]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                raise Uninspectable("encrypted (password protected)")
        except Exception:
            raise Uninspectable("encrypted (password protected)") from None
    pages = []
    for n, page in enumerate(reader.pages):
        if n >= budget.limits.max_pdf_pages:
            raise Uninspectable(f"more than {budget.limits.max_pdf_pages} pages")
        budget.tick()
        text = page.extract_text() or ""
        budget.spend(len(text))
        pages.append(text)
    return [TextPart(where, "\n".join(pages))]


# --- zip -----------------------------------------------------------------------------


def _zip(data: bytes, where: str, prefix: str, depth: int, budget: Budget, out: Extracted) -> None:
    if depth + 1 > budget.limits.max_depth:
        raise Uninspectable("nested too deeply")
    archive = _check_zip(data, budget)
    for info in archive.infolist():
        if info.is_dir():
            continue
        budget.file()
        member = archive.read(info)
        budget.spend(len(member))
        _file(
            info.filename,
            member,
            f"attachment:{prefix}{info.filename}",
            f"{prefix}{info.filename}/",
            depth + 1,
            budget,
            out,
        )


# --- HTML ----------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title"})
    _BREAK = frozenset({"br", "p", "div", "tr", "li", "td", "th", "h1", "h2", "h3", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip:
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


def opening_text(msg: Message, limit: int = 4000) -> str:
    """The start of the message body as the recipient reads it first (plain text preferred).

    For detectors that only need the greeting, without extracting attachments.
    """
    html = ""
    for part in _leaves(msg):
        if part.get_filename() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            return decoded_text(part)[:limit]
        if ctype == "text/html" and not html:
            html = decoded_text(part)[: limit * 4]
    return html_to_text(html)[:limit] if html else ""
