"""Real attachment files, made quickly.

.xlsx by openpyxl; .docx from python-docx's own package (its styles, settings and
theme, saved once) with each document's body written straight into
``word/document.xml``, because building every letter through python-docx costs
~50 ms and the corpus needs hundreds; .pdf by fpdf2 placing lines itself (its
``multi_cell`` is slow); .pptx as a minimal PresentationML package (python-pptx is
not a dependency); .ics, .csv and Excel's "Unicode Text" (UTF-16 LE, BOM, tabs).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import textwrap
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

# Every file carries the same timestamps, so a seed always writes the same bytes.
STAMP = dt.datetime(2024, 4, 1, 9, 0, 0)
_ZIP_TIME = (2024, 4, 1, 9, 0, 0)


def _zip_entry(z: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, _ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def _restamp(data: bytes) -> bytes:
    """The same package with fixed entry times (openpyxl stamps the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "docProps/core.xml":  # openpyxl sets "modified" to now
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2024-04-01T09:00:00Z", data
                )
            _zip_entry(dst, item.filename, data)
    return out.getvalue()


# --- spreadsheets -------------------------------------------------------------------


@dataclass
class Sheet:
    title: str
    rows: list[list[object]]
    state: str = "visible"  # visible | hidden | veryHidden
    hidden_rows: Sequence[int] = ()  # 1-based row numbers
    hidden_columns: Sequence[str] = ()  # column letters
    widths: dict[str, float] = field(default_factory=dict)


def xlsx(sheets: Sequence[Sheet], *, creator: str = "Anyshire County Council") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.properties.creator = creator
    first = True
    for spec in sheets:
        sheet = book.active if first else book.create_sheet()
        first = False
        sheet.title = spec.title[:31]
        for row in spec.rows:
            sheet.append(list(row))
        if spec.rows:
            for cell in sheet[1]:
                cell.font = Font(bold=True)
        for r in spec.hidden_rows:
            sheet.row_dimensions[r].hidden = True
        for c in spec.hidden_columns:
            sheet.column_dimensions[c].hidden = True
        for c, w in spec.widths.items():
            sheet.column_dimensions[c].width = w
        sheet.sheet_state = spec.state
    book.properties.created = book.properties.modified = STAMP
    buf = io.BytesIO()
    book.save(buf)
    return _restamp(buf.getvalue())


def csv_text(rows: Sequence[Sequence[object]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def unicode_text(rows: Sequence[Sequence[object]]) -> bytes:
    """What Excel's "Save as Unicode Text" writes: UTF-16 LE with a BOM, tab-separated."""
    text = "\r\n".join("\t".join(str(v) for v in row) for row in rows) + "\r\n"
    return b"\xff\xfe" + text.encode("utf-16-le")


# --- Word -----------------------------------------------------------------------------

Block = tuple[str, object]  # ("p", text) ("h1", text) ("h2", text) ("table", rows) ("br", None)


@functools.cache
def _docx_base() -> tuple[bytes, str, str]:
    """python-docx's default package, compressed once, without its document and core
    properties (each document adds its own), the document template and the core XML."""
    import docx

    buf = io.BytesIO()
    docx.Document().save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    body = parts.pop("word/document.xml").decode("utf-8")
    core = parts.pop("docProps/core.xml").decode("utf-8")
    sect = re.search(r"<w:sectPr.*</w:sectPr>", body, re.S)
    head = body[: body.index("<w:body>")]
    template = head + "<w:body>{body}" + (sect.group(0) if sect else "") + "</w:body></w:document>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            _zip_entry(z, name, data)
    return out.getvalue(), template, core


def _run(text: str, bold: bool = False) -> str:
    props = "<w:rPr><w:b/></w:rPr>" if bold else ""
    pieces = text.split("\n")
    out = []
    for i, piece in enumerate(pieces):
        if i:
            out.append("<w:br/>")
        out.append(f'<w:t xml:space="preserve">{escape(piece)}</w:t>')
    return f"<w:r>{props}{''.join(out)}</w:r>"


def _para(text: str, style: str | None = None, bold: bool = False, align: str = "") -> str:
    ppr = ""
    if style or align:
        ppr = "<w:pPr>"
        if style:
            ppr += f'<w:pStyle w:val="{style}"/>'
        if align:
            ppr += f'<w:jc w:val="{align}"/>'
        ppr += "</w:pPr>"
    return f"<w:p>{ppr}{_run(text, bold) if text else ''}</w:p>"


def _table(rows: Sequence[Sequence[object]]) -> str:
    cols = max(len(r) for r in rows)
    grid = "".join('<w:gridCol w:w="1800"/>' for _ in range(cols))
    out = [
        '<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="0" w:type="auto"/>'
        f"</w:tblPr><w:tblGrid>{grid}</w:tblGrid>"
    ]
    for i, row in enumerate(rows):
        cells = "".join(
            '<w:tc><w:tcPr><w:tcW w:w="1800" '
            f'w:type="dxa"/></w:tcPr>{_para(str(v), bold=i == 0)}</w:tc>'
            for v in list(row) + [""] * (cols - len(row))
        )
        out.append(f"<w:tr>{cells}</w:tr>")
    out.append("</w:tbl>")
    return "".join(out)


def docx(blocks: Sequence[Block], *, title: str = "", author: str = "") -> bytes:
    base, template, core = _docx_base()
    xml = []
    for kind, value in blocks:
        if kind == "table":
            xml.append(_table(value))  # type: ignore[arg-type]
            xml.append(_para(""))
        elif kind in ("h1", "h2", "Title"):
            style = {"h1": "Heading1", "h2": "Heading2", "Title": "Title"}[kind]
            xml.append(_para(str(value), style))
        elif kind == "right":
            xml.append(_para(str(value), align="right"))
        elif kind == "b":
            xml.append(_para(str(value), bold=True))
        else:
            xml.append(_para(str(value)))
    document = template.replace("{body}", "".join(xml)).encode("utf-8")
    core = re.sub(
        r"<dc:title>.*?</dc:title>|<dc:title/>", f"<dc:title>{escape(title)}</dc:title>", core
    )
    core = re.sub(
        r"<dc:creator>.*?</dc:creator>|<dc:creator/>",
        f"<dc:creator>{escape(author)}</dc:creator>",
        core,
    )
    buf = io.BytesIO(base)
    buf.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z:
        _zip_entry(z, "docProps/core.xml", core.encode("utf-8"))
        _zip_entry(z, "word/document.xml", document)
    return buf.getvalue()


# --- PDF ------------------------------------------------------------------------------


def _latin1(text: str) -> str:
    table = {
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2022": "*",
        "\u2026": "...",
        "\u00a0": " ",
    }
    text = "".join(table.get(c, c) for c in text)
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf(blocks: Sequence[Block], *, title: str = "", author: str = "") -> bytes:
    """Blocks as for :func:`docx`; text placed line by line (fast), tables in columns."""
    from fpdf import FPDF

    doc = FPDF(format="A4")
    doc.set_title(_latin1(title))
    doc.set_author(_latin1(author))
    doc.set_creator("Microsoft Word for Microsoft 365")
    doc.set_creation_date(STAMP.replace(tzinfo=dt.UTC))
    doc.add_page()
    y = 20.0

    def need(h: float) -> None:
        nonlocal y
        if y + h > 280:
            doc.add_page()
            y = 20.0

    for kind, value in blocks:
        if kind == "table":
            rows = [[_latin1(str(v)) for v in r] for r in value]  # type: ignore[union-attr]
            cols = max(len(r) for r in rows)
            width = 170 / cols
            doc.set_font("Helvetica", size=8)
            limit = max(4, int(width / 1.75))
            for i, row in enumerate(rows):
                cells = [textwrap.wrap(v, limit) or [""] for v in row]
                height = max(len(c) for c in cells)
                need(4.5 * height)
                doc.set_font("Helvetica", style="B" if i == 0 else "", size=8)
                for j, lines in enumerate(cells):
                    for k, line in enumerate(lines):
                        doc.text(20 + j * width, y + k * 4, line)
                y += 4 * height + 1.5
            y += 3
            continue
        text = _latin1(str(value))
        size, style = {"h1": (14, "B"), "h2": (12, "B"), "Title": (16, "B"), "b": (10, "B")}.get(
            kind, (10, "")
        )
        doc.set_font("Helvetica", style=style, size=size)
        for raw_line in text.split("\n") or [""]:
            lines = textwrap.wrap(raw_line, 95) or [""]
            for line in lines:
                need(5)
                x = 190 - doc.get_string_width(line) if kind == "right" else 20
                doc.text(x, y, line)
                y += 5 if size <= 10 else 7
        y += 2.5
    return bytes(doc.output())


# --- PowerPoint -----------------------------------------------------------------------

_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.presentationml"


def _sp_text(id_: int, name: str, text: str, y: int, h: int, size: int = 2400) -> str:
    paras = "".join(
        f'<a:p><a:r><a:rPr lang="en-GB" sz="{size}"/><a:t>{escape(line)}</a:t></a:r></a:p>'
        for line in text.split("\n")
    )
    return (
        f'<p:sp><p:nvSpPr><p:cNvPr id="{id_}" name="{name}"/><p:cNvSpPr txBox="1"/><p:nvPr/>'
        f'</p:nvSpPr><p:spPr><a:xfrm><a:off x="457200" y="{y}"/><a:ext cx="8229600" cy="{h}"/>'
        '</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr>'
        f"<p:txBody><a:bodyPr/><a:lstStyle/>{paras}</p:txBody></p:sp>"
    )


def _graphic_table(rows: Sequence[Sequence[object]]) -> str:
    cols = max(len(r) for r in rows)
    width = 8229600 // cols
    grid = "".join(f'<a:gridCol w="{width}"/>' for _ in range(cols))
    trs = []
    for row in rows:
        tcs = "".join(
            '<a:tc><a:txBody><a:bodyPr/><a:lstStyle/><a:p><a:r><a:rPr lang="en-GB" sz="1100"/>'
            f"<a:t>{escape(str(v))}</a:t></a:r></a:p></a:txBody><a:tcPr/></a:tc>"
            for v in row
        )
        trs.append(f'<a:tr h="300000">{tcs}</a:tr>')
    return (
        '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table 3"/>'
        '<p:cNvGraphicFramePr><a:graphicFrameLocks noGrp="1"/></p:cNvGraphicFramePr><p:nvPr/>'
        '</p:nvGraphicFramePr><p:xfrm><a:off x="457200" y="1600200"/>'
        f'<a:ext cx="8229600" cy="{300000 * len(rows)}"/></p:xfrm><a:graphic>'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table">'
        f'<a:tbl><a:tblPr firstRow="1" bandRow="1"/><a:tblGrid>{grid}</a:tblGrid>{"".join(trs)}'
        "</a:tbl></a:graphicData></a:graphic></p:graphicFrame>"
    )


def _slide(title: str, body: str = "", table: Sequence[Sequence[object]] | None = None) -> str:
    shapes = _sp_text(2, "Title 1", title, 274638, 1143000, 3200)
    if body:
        shapes += _sp_text(3, "Content 2", body, 1600200, 4525963, 2000)
    if table:
        shapes += _graphic_table(table)
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:sld xmlns:a="{_A}" '
        f'xmlns:r="{_R}" xmlns:p="{_P}"><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/>'
        "<p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>"
        f"{shapes}</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>"
    )


_THEME = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><a:theme xmlns:a="{_A}" name="Office">'
    '<a:themeElements><a:clrScheme name="Office"><a:dk1><a:sysClr val="windowText" '
    'lastClr="000000"/>'
    '</a:dk1><a:lt1><a:sysClr val="window" lastClr="FFFFFF"/></a:lt1><a:dk2><a:srgbClr '
    'val="1F497D"/>'
    '</a:dk2><a:lt2><a:srgbClr val="EEECE1"/></a:lt2><a:accent1><a:srgbClr '
    'val="4F81BD"/></a:accent1>'
    '<a:accent2><a:srgbClr val="C0504D"/></a:accent2><a:accent3><a:srgbClr '
    'val="9BBB59"/></a:accent3>'
    '<a:accent4><a:srgbClr val="8064A2"/></a:accent4><a:accent5><a:srgbClr '
    'val="4BACC6"/></a:accent5>'
    '<a:accent6><a:srgbClr val="F79646"/></a:accent6><a:hlink><a:srgbClr val="0000FF"/></a:hlink>'
    '<a:folHlink><a:srgbClr val="800080"/></a:folHlink></a:clrScheme><a:fontScheme name="Office">'
    '<a:majorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:majorFont>'
    '<a:minorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont>'
    '</a:fontScheme><a:fmtScheme name="Office"><a:fillStyleLst><a:solidFill><a:schemeClr '
    'val="phClr"/>'
    '</a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill>'
    '<a:schemeClr val="phClr"/></a:solidFill></a:fillStyleLst><a:lnStyleLst><a:ln w="9525">'
    '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln><a:ln w="25400"><a:solidFill>'
    '<a:schemeClr val="phClr"/></a:solidFill></a:ln><a:ln w="38100"><a:solidFill>'
    '<a:schemeClr val="phClr"/></a:solidFill></a:ln></a:lnStyleLst><a:effectStyleLst>'
    "<a:effectStyle><a:effectLst/></a:effectStyle><a:effectStyle><a:effectLst/></a:effectStyle>"
    "<a:effectStyle><a:effectLst/></a:effectStyle></a:effectStyleLst><a:bgFillStyleLst>"
    '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/>'
    '</a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:bgFillStyleLst>'
    "</a:fmtScheme></a:themeElements></a:theme>"
)


def pptx(
    slides: Sequence[tuple[str, str, Sequence[Sequence[object]] | None]],
    *,
    notes: Sequence[str] = (),
) -> bytes:
    """Slides of (title, body text, table rows or None); a package PowerPoint opens."""
    n = len(slides)
    ct = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types '
        'xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default '
        'Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default '
        'Extension="xml" ContentType="application/xml"/><Override '
        f'PartName="/ppt/presentation.xml" ContentType="{_CT}.presentation.main+xml"/><Override '
        'PartName="/ppt/slideMasters/slideMaster1.xml" '
        f'ContentType="{_CT}.slideMaster+xml"/><Override '
        'PartName="/ppt/slideLayouts/slideLayout1.xml" '
        f'ContentType="{_CT}.slideLayout+xml"/><Override PartName="/ppt/theme/theme1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/><Override '
        'PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    ]
    for i in range(1, n + 1):
        ct.append(f'<Override PartName="/ppt/slides/slide{i}.xml" ContentType="{_CT}.slide+xml"/>')
    ct.append("</Types>")
    files: dict[str, str] = {"[Content_Types].xml": "".join(ct)}
    files["_rels/.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships '
        f'xmlns="{_REL}"><Relationship Id="rId1" Type="{_RT}/officeDocument" '
        'Target="ppt/presentation.xml"/><Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
        'core-properties" '
        'Target="docProps/core.xml"/></Relationships>'
    )
    files["docProps/core.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cp:coreProperties '
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Anyshire County '
        "Council</dc:creator>"
        "</cp:coreProperties>"
    )
    sld_ids = "".join(f'<p:sldId id="{255 + i}" r:id="rId{i + 1}"/>' for i in range(1, n + 1))
    files["ppt/presentation.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:presentation xmlns:a="{_A}" '
        f'xmlns:r="{_R}" xmlns:p="{_P}"><p:sldMasterIdLst><p:sldMasterId id="2147483648" '
        f'r:id="rId1"/></p:sldMasterIdLst><p:sldIdLst>{sld_ids}</p:sldIdLst><p:sldSz cx="9144000" '
        'cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>'
    )
    rels = [
        f'<Relationship Id="rId1" Type="{_RT}/slideMaster" Target="slideMasters/slideMaster1.xml"/>'
    ]
    rels += [
        f'<Relationship Id="rId{i + 1}" Type="{_RT}/slide" Target="slides/slide{i}.xml"/>'
        for i in range(1, n + 1)
    ]
    rels.append(f'<Relationship Id="rId{n + 2}" Type="{_RT}/theme" Target="theme/theme1.xml"/>')
    files["ppt/_rels/presentation.xml.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_REL}">'
        + "".join(rels)
        + "</Relationships>"
    )
    empty_tree = (
        '<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/>'
        "</p:nvGrpSpPr><p:grpSpPr/></p:spTree></p:cSld>"
    )
    files["ppt/slideMasters/slideMaster1.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:sldMaster xmlns:a="{_A}" '
        f'xmlns:r="{_R}" xmlns:p="{_P}">{empty_tree}<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" '
        'tx2="dk2" accent1="accent1" accent2="accent2" accent3="accent3" accent4="accent4" '
        'accent5="accent5" accent6="accent6" hlink="hlink" '
        'folHlink="folHlink"/><p:sldLayoutIdLst><p:sldLayoutId id="2147483649" '
        'r:id="rId1"/></p:sldLayoutIdLst></p:sldMaster>'
    )
    files["ppt/slideMasters/_rels/slideMaster1.xml.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships '
        f'xmlns="{_REL}"><Relationship Id="rId1" Type="{_RT}/slideLayout" '
        f'Target="../slideLayouts/slideLayout1.xml"/><Relationship Id="rId2" Type="{_RT}/theme" '
        'Target="../theme/theme1.xml"/></Relationships>'
    )
    files["ppt/slideLayouts/slideLayout1.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:sldLayout xmlns:a="{_A}" '
        f'xmlns:r="{_R}" xmlns:p="{_P}" type="blank">{empty_tree}'
        "<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>"
    )
    files["ppt/slideLayouts/_rels/slideLayout1.xml.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_REL}">'
        f'<Relationship Id="rId1" Type="{_RT}/slideMaster" '
        'Target="../slideMasters/slideMaster1.xml"/>'
        "</Relationships>"
    )
    files["ppt/theme/theme1.xml"] = _THEME
    for i, (title, body, table) in enumerate(slides, start=1):
        files[f"ppt/slides/slide{i}.xml"] = _slide(title, body, table)
        files[f"ppt/slides/_rels/slide{i}.xml.rels"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_REL}">'
            f'<Relationship Id="rId1" Type="{_RT}/slideLayout" '
            'Target="../slideLayouts/slideLayout1.xml"/>'
            "</Relationships>"
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            _zip_entry(z, name, text.encode("utf-8"))
    return buf.getvalue()


# --- calendar -------------------------------------------------------------------------


def ics(
    *,
    uid: str,
    summary: str,
    start: str,
    end: str,
    location: str,
    organiser: tuple[str, str],
    attendees: Sequence[tuple[str, str]],
    description: str = "",
    stamp: str,
) -> str:
    def fold(line: str) -> str:
        out, raw = [], line
        while len(raw.encode("utf-8")) > 74:
            out.append(raw[:73])
            raw = " " + raw[73:]
        out.append(raw)
        return "\r\n".join(out)

    desc = (
        description.replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace(",", "\\,")
        .replace(";", "\\;")
    )
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
        "VERSION:2.0",
        "METHOD:REQUEST",
        "BEGIN:VTIMEZONE",
        "TZID:GMT Standard Time",
        "BEGIN:STANDARD",
        "DTSTART:16011028T020000",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:-0000",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:16010325T010000",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
        "TZOFFSETFROM:-0000",
        "TZOFFSETTO:+0100",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
        "BEGIN:VEVENT",
        f'ORGANIZER;CN="{organiser[0]}":mailto:{organiser[1]}',
        *(
            f'ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN="{n}":mailto:{a}'
            for n, a in attendees
        ),
        f"DESCRIPTION;LANGUAGE=en-GB:{desc}",
        f"UID:{uid}",
        f"SUMMARY;LANGUAGE=en-GB:{summary}",
        f"DTSTART;TZID=GMT Standard Time:{start}",
        f"DTEND;TZID=GMT Standard Time:{end}",
        f"DTSTAMP:{stamp}",
        f"LOCATION;LANGUAGE=en-GB:{location}",
        "SEQUENCE:0",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "BEGIN:VALARM",
        "TRIGGER:-PT15M",
        "ACTION:DISPLAY",
        "DESCRIPTION:Reminder",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(fold(line) for line in lines) + "\r\n"
