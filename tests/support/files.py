"""Generated attachments (Faker en_GB data; never real people) and messages carrying them."""

from __future__ import annotations

import email.policy
import functools
import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from faker import Faker

fake = Faker("en_GB")
Faker.seed(7)


def nhs_number() -> str:
    """A random NHS number with a valid mod-11 check digit."""
    while True:
        digits = [fake.random_int(0, 9) for _ in range(9)]
        total = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            s = "".join(map(str, digits)) + str(check)
            return f"{s[:3]} {s[3:6]} {s[6:]}"


def nino() -> str:
    prefix = fake.random_element(["AB", "CE", "JG", "KM", "PR", "SW", "TY", "WL"])
    return f"{prefix}{fake.random_int(100000, 999999)}{fake.random_element('ABCD')}"


def residents(n: int) -> list[list[str]]:
    return [
        [
            fake.name(),
            fake.street_address().replace("\n", ", "),
            fake.postcode(),
            nino(),
            nhs_number(),
            fake.date_of_birth(minimum_age=18, maximum_age=90).strftime("%d/%m/%Y"),
        ]
        for _ in range(n)
    ]


HEADER = ["Name", "Address", "Postcode", "NI number", "NHS number", "Date of birth"]


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def xlsx_bytes(
    visible: list[list[str]] | None = None,
    hidden: list[list[str]] | None = None,
    very_hidden: list[list[str]] | None = None,
    hidden_column_rows: list[list[str]] | None = None,
) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    first.title = "Summary"
    first.append(["Ward", "Requests"])
    first.append(["North", 12])
    for title, rows, state in (
        ("Residents", visible, "visible"),
        ("Old data", hidden, "hidden"),
        ("Lookup", very_hidden, "veryHidden"),
    ):
        if rows is None:
            continue
        sheet = book.create_sheet(title)
        sheet.append(HEADER)
        for r in rows:
            sheet.append(r)
        sheet.sheet_state = state
    if hidden_column_rows is not None:
        sheet = book.create_sheet("Contacts")
        sheet.append(["Ref", *HEADER])
        for i, r in enumerate(hidden_column_rows):
            sheet.append([f"REF{i:04d}", *r])
        for letter in "BCDEFG":
            sheet.column_dimensions[letter].hidden = True
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def docx_bytes(
    paragraphs: list[str], table: list[list[str]] | None = None, footer: str | None = None
) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    if table:
        t = document.add_table(rows=0, cols=len(table[0]))
        for row in table:
            cells = t.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = value
    if footer:
        document.sections[0].footer.paragraphs[0].text = footer
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def pdf_bytes(lines: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in lines:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def zip_bomb(size_mb: int = 200) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.txt", b"\0" * (size_mb * 1024 * 1024))
    return buf.getvalue()


def message_with(
    attachments: dict[str, bytes] | None = None,
    body: str = "Please see attached.",
    *,
    sender: str = "officer@northdown.gov.uk",
    to: str = "someone@example.org",
    html: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "Information you asked for"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data in (attachments or {}).items():
        if name.endswith(".eml"):
            inner = BytesParser(policy=email.policy.default).parsebytes(data)
            msg.add_attachment(inner, filename=name)
            continue
        maintype, subtype = _mime(name)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _mime(name: str) -> tuple[str, str]:
    ext = name.rsplit(".", 1)[-1].lower()
    return {
        "csv": ("text", "csv"),
        "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "pdf": ("application", "pdf"),
        "zip": ("application", "zip"),
    }.get(ext, ("application", "octet-stream"))


# --- Tables outside spreadsheets (issue 14): pasted, typed, in HTML and in slides ------

PATIENT_HEADER = ["Name", "Date of birth", "NHS number"]


def patients(n: int) -> list[list[str]]:
    """Name, date of birth and NHS number: what a clinic list pasted into mail holds."""
    return [
        [
            fake.name(),
            fake.date_of_birth(minimum_age=1, maximum_age=95).strftime("%d/%m/%Y"),
            nhs_number(),
        ]
        for _ in range(n)
    ]


def html_table(rows: list[list[str]], header: list[str] | None = None) -> str:
    """A table as Outlook writes one pasted from Excel (a <p> in every cell)."""
    head = "".join(f"<th><p class=MsoNormal>{h}</p></th>" for h in header or [])
    body = "".join(
        "<tr>" + "".join(f"<td><p class=MsoNormal>{c}<o:p></o:p></p></td>" for c in r) + "</tr>"
        for r in rows
    )
    return (
        "<table class=MsoTableGrid border=1 cellspacing=0 cellpadding=0>"
        + (f"<tr>{head}</tr>" if header else "")
        + body
        + "</table>"
    )


def unicode_text(rows: list[list[str]]) -> bytes:
    """Excel's "Unicode Text" export: UTF-16 LE with a BOM, tabs, CRLF."""
    return ("\ufeff" + "".join("\t".join(r) + "\r\n" for r in rows)).encode("utf-16-le")


def pptx_bytes(
    slides: list[dict],
) -> bytes:
    """A deck made by python-pptx. Each slide: {"title": str, "text": [str],
    "table": [[str]], "notes": str, "hidden": bool}, every key optional."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for spec in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
        slide.shapes.title.text = spec.get("title", "")
        if spec.get("text"):
            box = slide.shapes.add_textbox(Inches(0.5), Inches(1.5), Inches(9), Inches(1))
            box.text_frame.text = spec["text"][0]
            for line in spec["text"][1:]:
                box.text_frame.add_paragraph().text = line
        table = spec.get("table")
        if table:
            shape = slide.shapes.add_table(
                len(table), len(table[0]), Inches(0.5), Inches(3), Inches(9), Inches(3)
            )
            for r, row in enumerate(table):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if spec.get("notes"):
            slide.notes_slide.notes_text_frame.text = spec["notes"]
        if spec.get("hidden"):
            slide._element.set("show", "0")
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


# --- Shapes built to defeat a parser (issue 15) ---------------------------------------


def nested_message(depth: int, rows: int = 20, *, list_level: int | None = None,
                   to: str = "someone@gmail.com") -> bytes:  # fmt: skip
    """A patient list in multiparts nested ``depth`` levels deep; at the innermost
    level, or at ``list_level`` (0 = outermost) with plain text at the bottom."""
    listing = "\r\n".join(", ".join(r) for r in [PATIENT_HEADER, *patients(rows)])
    at = depth if list_level is None else list_level
    body = "Content-Type: text/plain\r\n\r\n" + ("see below" if at != depth else listing)
    for level in range(depth - 1, -1, -1):
        b = f"level{level}"
        extra = f"--{b}\r\nContent-Type: text/plain\r\n\r\n{listing}\r\n" if level == at else ""
        body = (
            f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n'
            f"{extra}--{b}\r\n{body}\r\n--{b}--\r\n"
        )
    head = (
        f"From: officer@northdown.gov.uk\r\nTo: {to}\r\nSubject: Clinic list\r\n"
        "MIME-Version: 1.0\r\n"
    )
    return (head + body).encode()


def many_parts_message(parts: int, rows: int = 20, *, to: str = "someone@gmail.com") -> bytes:
    """A patient list after ``parts`` empty sibling parts."""
    listing = "\r\n".join(", ".join(r) for r in [PATIENT_HEADER, *patients(rows)])
    filler = "".join("--many\r\nContent-Type: text/plain\r\n\r\n.\r\n" for _ in range(parts))
    return (
        f"From: officer@northdown.gov.uk\r\nTo: {to}\r\nSubject: Clinic list\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="many"\r\n\r\n'
        f"{filler}--many\r\nContent-Type: text/plain\r\n\r\n{listing}\r\n--many--\r\n"
    ).encode()


# --- Older and open formats (issue 16) -----------------------------------------------


def xls_bytes(
    rows: list[list[str]],
    *,
    hidden_sheet: bool = False,
    hidden_rows: tuple[int, ...] = (),
    hidden_cols: tuple[int, ...] = (),
) -> bytes:
    """Legacy Excel written by xlwt: a cover sheet, then the residents (indexes in
    ``hidden_rows`` count data rows from 0)."""
    import xlwt

    book = xlwt.Workbook()
    cover = book.add_sheet("Summary")
    cover.write(0, 0, "Ward")
    cover.write(1, 0, "North")
    sheet = book.add_sheet("Residents")
    for c, title in enumerate(HEADER):
        sheet.write(0, c, title)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    for r in hidden_rows:
        sheet.row(r + 1).hidden = True
    for c in hidden_cols:
        sheet.col(c).hidden = True
    if hidden_sheet:
        sheet.visibility = 1
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def ods_bytes(rows: list[list[str]], *, hidden_sheet: bool = False) -> bytes:
    """A LibreOffice Calc file written by odfpy: a cover sheet, then the residents."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TableProperties
    from odf.table import Table

    doc = OpenDocumentSpreadsheet()
    hidden = Style(name="hiddensheet", family="table")
    hidden.addElement(TableProperties(display="false"))
    doc.automaticstyles.addElement(hidden)

    doc.spreadsheet.addElement(_odf_table(Table(name="Summary"), [["Ward"], ["North"]]))
    extra = {"stylename": hidden} if hidden_sheet else {}
    doc.spreadsheet.addElement(_odf_table(Table(name="Residents", **extra), [HEADER, *rows]))
    buf = io.BytesIO()
    doc.write(buf)
    return buf.getvalue()


def _odf_table(table, grid: list[list[str]]):
    """Rows of text cells appended to an odfpy table element."""
    from odf.table import TableCell, TableRow
    from odf.text import P

    for row in grid:
        tr = TableRow()
        for value in row:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            tr.addElement(cell)
        table.addElement(tr)
    return table


def odt_bytes(
    paragraphs: list[str],
    *,
    table: list[list[str]] | None = None,
    hidden: str | None = None,
    deleted: str | None = None,
) -> bytes:
    """A LibreOffice Writer file written by odfpy; ``hidden`` as hidden text and
    ``deleted`` as a tracked deletion, both invisible on the page."""
    from odf.element import Element
    from odf.namespaces import TEXTNS
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableColumn
    from odf.text import P

    doc = OpenDocumentText()
    for text in paragraphs:
        doc.text.addElement(P(text=text))
    if table is not None:
        t = Table(name="Table1")
        t.addElement(TableColumn(numbercolumnsrepeated=len(table[0])))
        doc.text.addElement(_odf_table(t, table))
    if hidden is not None:
        p = P(text="See below.")
        span = Element(qname=(TEXTNS, "hidden-text"), check_grammar=False)
        span.setAttrNS(TEXTNS, "string-value", hidden)
        span.setAttrNS(TEXTNS, "is-hidden", "true")
        span.setAttrNS(TEXTNS, "condition", "")
        span.addText(hidden)
        p.addElement(span)
        doc.text.addElement(p)
    if deleted is not None:
        changes = Element(qname=(TEXTNS, "tracked-changes"), check_grammar=False)
        region = Element(qname=(TEXTNS, "changed-region"), check_grammar=False)
        region.setAttrNS(TEXTNS, "id", "ct1")
        deletion = Element(qname=(TEXTNS, "deletion"), check_grammar=False)
        deletion.addElement(P(text=deleted))
        region.addElement(deletion)
        changes.addElement(region)
        doc.text.addElement(changes)
    buf = io.BytesIO()
    doc.write(buf)
    return buf.getvalue()


def rtf_bytes(rows: list[list[str]], title: str = "Residents list") -> bytes:
    """RTF as a case-management export writes it: a title, then a table."""

    def esc(text: str) -> str:
        return "".join(c if ord(c) < 128 and c not in "\\{}" else f"\\u{ord(c)}?" for c in text)

    out = [r"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}\f0\fs20 ", esc(title), r"\par "]
    for row in [HEADER, *rows]:
        out.append(r"\trowd" + "".join(f"\\cellx{(i + 1) * 1500}" for i in range(len(row))))
        out.append("".join(f" {esc(v)}\\cell" for v in row) + r"\row ")
    out.append("}")
    return "".join(out).encode("ascii")


# --- Scans and photos (issue 16) -----------------------------------------------------


def _font(size: int):
    from PIL import ImageFont

    for path in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def letter_image(lines: list[str], *, photo: bool = False, fmt: str = "PNG") -> bytes:
    """A printed A4 letter scanned at 300 dpi (11 pt text); ``photo``: taken with a
    phone instead: slightly rotated, greyer paper, less contrast, JPEG."""
    from PIL import Image, ImageDraw, ImageEnhance

    page = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(page)
    font = _font(46)
    y = 300
    for line in lines:
        draw.text((250, y), line, fill=0, font=font)
        y += 70
    if photo:
        page = page.rotate(2.5, expand=True, fillcolor=230)
        page = ImageEnhance.Contrast(page).enhance(0.6)
        page = page.resize((page.width * 2 // 3, page.height * 2 // 3))
        fmt = "JPEG"
    if fmt == "HEIF":  # what an iPhone saves
        from pillow_heif import register_heif_opener

        register_heif_opener()
        page = page.convert("RGB")
    buf = io.BytesIO()
    page.save(buf, format=fmt, **({"quality": 70} if fmt in ("JPEG", "HEIF") else {}))
    return buf.getvalue()


def scanned_pdf(pages: list[bytes]) -> bytes:
    """An image-only PDF, as a scanner makes: each page one picture, no text layer."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    for image in pages:
        pdf.add_page()
        pdf.image(io.BytesIO(image), x=0, y=0, w=210, h=297)
    return bytes(pdf.output())


def care_letter(name: str | None = None) -> list[str]:
    """A social-care letter: a named resident, their NHS number and a diagnosis."""
    name = name or fake.name()
    return [
        "Northdown District Council - Adult Social Care",
        "",
        f"Re: {name}, NHS number {nhs_number()}",
        "",
        f"Dear Dr {fake.last_name()},",
        "",
        f"Following our assessment, {name} has a diagnosis of",
        "vascular dementia and depression and now needs",
        "daily home care visits and a review of medication.",
        "",
        "Yours sincerely,",
        "Care Assessment Team",
    ]


def poster_image() -> bytes:
    """A community event poster: words, a date and a place, nobody's data."""
    return letter_image(
        [
            "SUMMER FAIR",
            "Saturday 12 July, 11am to 4pm",
            "Northdown Recreation Ground",
            "Live music, food stalls and games for all ages",
            "Free entry - everyone welcome",
        ]
    )


def redacted_pdf(lines: list[str], secret_lines: tuple[int, ...], *, proper: bool = False) -> bytes:
    """A letter with black boxes over some lines, as a hurried redaction in a PDF editor
    draws them: the words are still underneath. ``proper``: the words were removed
    and "[REDACTED]" written in white on the box, as a redaction tool does."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for n, line in enumerate(lines):
        y = 20 + n * 8
        if n in secret_lines and proper:
            pdf.set_fill_color(0, 0, 0)
            pdf.rect(18, y - 1, 150, 7, style="F")
            pdf.set_text_color(255, 255, 255)
            pdf.text(20, y + 4, "[REDACTED]")
            pdf.set_text_color(0, 0, 0)
            continue
        pdf.text(20, y + 4, line)
        if n in secret_lines:
            pdf.set_fill_color(0, 0, 0)
            pdf.rect(18, y - 1, 150, 7, style="F")
    return bytes(pdf.output())


def searchable_scan_pdf(lines: list[str], boxed: tuple[int, ...] = ()) -> bytes:
    """A scanned letter as a scanner with OCR saves it: the page image with an
    invisible text layer over it. ``boxed``: lines blacked out on the image afterwards,
    the way a reviewer "redacts" a scan in a PDF editor, leaving the layer's words."""
    from fpdf import FPDF
    from fpdf.enums import TextMode

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(io.BytesIO(letter_image(lines)), x=0, y=0, w=210, h=297)
    pdf.set_font("Helvetica", size=11)
    pdf.text_mode = TextMode.INVISIBLE
    line_mm = 70 / 300 * 25.4  # where letter_image draws each line, in millimetres
    for n, line in enumerate(lines):
        y = (300 + 46) / 300 * 25.4 + n * line_mm
        pdf.text(250 / 300 * 25.4, y, line)
    pdf.text_mode = TextMode.FILL
    pdf.set_fill_color(0, 0, 0)
    for n in boxed:
        y = 300 / 300 * 25.4 + n * line_mm
        pdf.rect(250 / 300 * 25.4 - 1, y - 1, 170, line_mm, style="F")
    return bytes(pdf.output())


def white_text_pdf(visible: list[str], white: list[str]) -> bytes:
    """Visible lines, then lines in white on the white page."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for n, line in enumerate(visible):
        pdf.text(20, 24 + n * 8, line)
    pdf.set_text_color(255, 255, 255)
    for n, line in enumerate(white):
        pdf.text(20, 120 + n * 8, line)
    return bytes(pdf.output())


def docx_with_unseen(
    visible: list[str], *, deleted: str | None = None, vanished: str | None = None,
    white: str | None = None,
) -> bytes:  # fmt: skip
    """A Word letter whose "redactions" are still in the file: a tracked deletion, a
    hidden (w:vanish) run and a run coloured white."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    for text in visible:
        document.add_paragraph(text)
    paragraph = document.add_paragraph("Details: ")
    if deleted is not None:
        removal = OxmlElement("w:del")
        removal.set(qn("w:id"), "1")
        removal.set(qn("w:author"), "Officer")
        run = OxmlElement("w:r")
        text = OxmlElement("w:delText")
        text.text = deleted
        run.append(text)
        removal.append(run)
        paragraph._p.append(removal)
    if vanished is not None:
        run = paragraph.add_run(vanished)
        run.font.hidden = True
    if white is not None:
        from docx.shared import RGBColor

        run = paragraph.add_run(white)
        run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def msg_bytes(
    subject: str,
    body: str,
    *,
    to: str = "Housing Team",
    attachments: dict[str, bytes] | None = None,
    attached_message: tuple[str, str, str] | None = None,
) -> bytes:
    """An Outlook saved message (.msg): MAPI property streams in a compound file, as
    MS-OXMSG lays them out; ``attached_message``: (name, subject, body) of a message
    attached inside it."""
    from tests.support.cfb import Node, build

    def props(node: Node, subject: str, body: str) -> None:
        node.add("__substg1.0_0037001F", subject.encode("utf-16-le"))
        node.add("__substg1.0_1000001F", body.encode("utf-16-le"))
        node.add("__substg1.0_0E04001F", to.encode("utf-16-le"))
        node.add("__substg1.0_0C1A001F", fake.name().encode("utf-16-le"))

    root = Node("Root Entry")
    props(root, subject, body)
    n = 0
    for n, (name, data) in enumerate((attachments or {}).items()):
        attachment = root.add(f"__attach_version1.0_#{n:08X}")
        attachment.add("__substg1.0_3707001F", name.encode("utf-16-le"))
        attachment.add("__substg1.0_37010102", data)
    if attached_message is not None:
        name, inner_subject, inner_body = attached_message
        attachment = root.add(f"__attach_version1.0_#{n + 1:08X}")
        attachment.add("__substg1.0_3707001F", name.encode("utf-16-le"))
        props(attachment.add("__substg1.0_3701000D"), inner_subject, inner_body)
    return build(root)


def tar_gz_bytes(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    """A .tar.gz as a Linux export script makes one; ``link``: a symlink to add."""
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo("link")
            info.type = tarfile.SYMTYPE
            info.linkname = link
            archive.addfile(info)
    return buf.getvalue()


def sevenzip_bytes(
    members: dict[str, bytes], *, password: str | None = None, hide_names: bool = False
) -> bytes:
    """A .7z as 7-Zip makes one (py7zr writes the same format); ``hide_names``: the
    file list is encrypted too."""
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(
        buf, "w", password=password, header_encryption=hide_names and password is not None
    ) as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buf.getvalue()


@functools.lru_cache(maxsize=16)
def _converted(docx: bytes, to: str) -> bytes:
    """A .docx turned into another format by LibreOffice headless, a real tool."""
    soffice = shutil.which("soffice")
    if soffice is None:
        if os.environ.get("CI"):
            raise RuntimeError("soffice is missing: .ci/run should have installed it")
        pytest.skip("LibreOffice (soffice) is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "document.docx"
        source.write_bytes(docx)
        subprocess.run(
            [soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp}/profile",
             "--convert-to", to, "--outdir", tmp, str(source)],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
        return (Path(tmp) / f"document.{to}").read_bytes()


def doc_bytes(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    """Legacy Word (.doc), as LibreOffice writes it from the same document as docx_bytes."""
    return _converted(docx_bytes(paragraphs, table), "doc")


def doc_with_unseen(
    visible: list[str], *, deleted: str | None = None, vanished: str | None = None,
    white: str | None = None,
) -> bytes:  # fmt: skip
    """The Word letter of docx_with_unseen saved as .doc by LibreOffice, which keeps the
    tracked deletion (sprmCFRMarkDel), the hidden run (sprmCFVanish) and the white run
    (sprmCIco 8 and sprmCCv FFFFFF)."""
    return _converted(
        docx_with_unseen(visible, deleted=deleted, vanished=vanished, white=white), "doc"
    )


def doc_with_comment(paragraphs: list[str], comment: str) -> bytes:
    """A .doc letter with a comment on its first paragraph (LibreOffice keeps it as an
    annotation, its text after the body's)."""
    import docx

    document = docx.Document()
    first, *rest = paragraphs
    document.add_comment(document.add_paragraph(first).runs, text=comment, author="Officer")
    for text in rest:
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return _converted(buf.getvalue(), "doc")


def ole_patched(data: bytes, stream: str, at: int, new: bytes) -> bytes:
    """A compound file with some bytes of one stream overwritten (its size unchanged):
    a damaged table inside a file that still opens."""
    import olefile

    buf = io.BytesIO(data)
    ole = olefile.OleFileIO(buf, write_mode=True)
    content = bytearray(ole.openstream(stream).read())
    content[at : at + len(new)] = new
    ole.write_stream(stream, bytes(content))
    ole.close()
    return buf.getvalue()
