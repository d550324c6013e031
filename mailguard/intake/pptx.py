"""PowerPoint (.pptx): each slide's text in reading order, its tables, its speaker notes.

Read straight from the OOXML parts with defusedxml (no DTDs, no entities), inside the
same zip checks as every other Office file: slides in presentation order
(``ppt/presentation.xml``), shapes in the slide's own order (the order a screen
reader follows), groups opened, ``a:tbl`` tables kept as tables. Hidden slides and
hidden shapes are marked hidden. Files embedded in the deck (a chart's workbook, a
pasted document) are handed back to be read like attachments.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

from mailguard.intake.budget import Budget, CellCount, Uninspectable, check_zip
from mailguard.intake.texttables import Grid, header_like

_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_NOTES_TYPE = "/notesSlide"
_SLIDE = re.compile(r"^ppt/slides/slide(\d+)\.xml$")
# Placeholders on a notes page that are not the speaker's notes.
_NOT_NOTES = frozenset({"sldImg", "sldNum", "hdr", "ftr", "dt"})
EMBEDDED = (".xlsx", ".xlsm", ".docx", ".pptx", ".csv", ".txt")
MAX_DEPTH = 60  # groups within groups


@dataclass(slots=True)
class Deck:
    text: list[str] = field(default_factory=list)  # slides and notes, in order
    hidden_text: list[str] = field(default_factory=list)  # hidden slides and shapes
    tables: list[tuple[str, Grid, bool]] = field(default_factory=list)  # (name, grid, hidden)
    embedded: list[tuple[str, bytes]] = field(default_factory=list)


def read(data: bytes, budget: Budget) -> Deck:
    archive = check_zip(data, budget)
    names = set(archive.namelist())
    if "ppt/presentation.xml" not in names:
        raise Uninspectable("not a PowerPoint presentation", structural=False)
    deck = Deck()
    cells = CellCount(budget)
    for number, path in enumerate(_slide_paths(archive, names), start=1):
        budget.tick()
        root = _xml(archive, path, budget)
        hidden_slide = root.get("show") in ("0", "false")
        slide = _Slide(f"slide {number}", hidden_slide, cells)
        slide.walk(root, hidden_slide, 0)
        notes = _notes_path(archive, path, names)
        if notes:
            slide.notes(_xml(archive, notes, budget))
        deck.text.append("\n".join(slide.visible))
        if slide.hidden:
            deck.hidden_text.append("\n".join(slide.hidden))
        deck.tables.extend(slide.tables)
    for name in sorted(names):
        if name.startswith("ppt/embeddings/") and name.lower().endswith(EMBEDDED):
            member = archive.read(name)
            budget.spend(len(member))
            deck.embedded.append((posixpath.basename(name), member))
    return deck


def _xml(archive: zipfile.ZipFile, path: str, budget: Budget) -> Element:
    raw = archive.read(path)
    budget.spend(len(raw))
    return ElementTree.fromstring(raw, forbid_dtd=True)


def _slide_paths(archive: zipfile.ZipFile, names: set[str]) -> list[str]:
    """Slides in the order the presentation lists them (not the order of their names)."""
    try:
        rels = _relationships(archive, "ppt/_rels/presentation.xml.rels", "ppt/presentation.xml")
        root = ElementTree.fromstring(archive.read("ppt/presentation.xml"), forbid_dtd=True)
        ordered = [
            rels[s.get(f"{_R}id", "")]
            for s in root.iter(f"{_P}sldId")
            if rels.get(s.get(f"{_R}id", "")) in names
        ]
    except (KeyError, ElementTree.ParseError):
        ordered = []
    if ordered:
        return list(dict.fromkeys(ordered))
    numbered = [(int(m.group(1)), n) for n in names if (m := _SLIDE.match(n))]
    return [n for _, n in sorted(numbered)]


def _relationships(archive: zipfile.ZipFile, rels_path: str, source: str) -> dict[str, str]:
    root = ElementTree.fromstring(archive.read(rels_path), forbid_dtd=True)
    base = posixpath.dirname(source)
    return {
        r.get("Id", ""): posixpath.normpath(posixpath.join(base, r.get("Target", "")))
        for r in root.iter(f"{_REL}Relationship")
        if r.get("TargetMode") != "External"
    }


def _notes_path(archive: zipfile.ZipFile, slide: str, names: set[str]) -> str | None:
    rels_path = posixpath.join(
        posixpath.dirname(slide), "_rels", posixpath.basename(slide) + ".rels"
    )
    if rels_path not in names:
        return None
    root = ElementTree.fromstring(archive.read(rels_path), forbid_dtd=True)
    for r in root.iter(f"{_REL}Relationship"):
        if r.get("Type", "").endswith(_NOTES_TYPE):
            path = posixpath.normpath(posixpath.join(posixpath.dirname(slide), r.get("Target", "")))
            return path if path in names else None
    return None


class _Slide:
    def __init__(self, name: str, hidden_slide: bool, cells: CellCount) -> None:
        self.name = name
        self.hidden_slide = hidden_slide
        self.cells = cells
        self.visible: list[str] = []
        self.hidden: list[str] = []
        self.tables: list[tuple[str, Grid, bool]] = []

    def walk(self, element: Element, hidden: bool, depth: int) -> None:
        """Shapes in document order; text bodies as text, tables as tables."""
        if depth > MAX_DEPTH:
            raise Uninspectable("shapes nested too deeply")
        for child in element:
            tag = child.tag
            if tag == f"{_MC}AlternateContent":
                choice = next(iter(child), None)  # the first choice only: not twice
                if choice is not None:
                    self.walk(choice, hidden, depth + 1)
            elif tag == f"{_A}tbl":
                self._table(child, hidden)
            elif tag in (f"{_P}txBody", f"{_A}txBody"):
                text = _paragraphs(child)
                if text.strip():
                    (self.hidden if hidden else self.visible).append(text)
            else:
                self.walk(child, hidden or _hidden_shape(child), depth + 1)

    def notes(self, root: Element) -> None:
        for shape in root.iter(f"{_P}sp"):
            ph = shape.find(f"{_P}nvSpPr/{_P}nvPr/{_P}ph")
            if ph is not None and ph.get("type") in _NOT_NOTES:
                continue
            body = shape.find(f"{_P}txBody")
            if body is not None:
                text = _paragraphs(body)
                if text.strip():
                    (self.hidden if self.hidden_slide else self.visible).append(text)

    def _table(self, tbl: Element, hidden: bool) -> None:
        rows: list[tuple[str, ...]] = []
        for tr in tbl.iter(f"{_A}tr"):
            row = tuple(
                " ".join(_paragraphs(body).split()) if (body := tc.find(f"{_A}txBody")) is not None
                else ""
                for tc in tr.findall(f"{_A}tc")
            )  # fmt: skip
            self.cells.add(len(row))
            if any(row):
                rows.append(row)
        if not rows:
            return
        n = sum(1 for name, _, _ in self.tables if name.startswith(self.name)) + 1
        name = self.name if n == 1 else f"{self.name} table {n}"
        if header_like(rows[0]) or len(rows) == 1:
            grid = Grid(rows[0], tuple(rows[1:]))
        else:
            grid = Grid((), tuple(rows))
        self.tables.append((name, grid, hidden))


def _hidden_shape(element: Element) -> bool:
    """``<p:cNvPr hidden="1">`` on a shape: kept in the file, not shown on the slide."""
    if not element.tag.startswith(_P) or not element.tag.endswith(("sp", "grpSp", "Frame")):
        return False
    for nv in element:
        if nv.tag.startswith(f"{_P}nv"):
            c = nv.find(f"{_P}cNvPr")
            return c is not None and c.get("hidden") in ("1", "true")
    return False


def _paragraphs(body: Element) -> str:
    lines = []
    for p in body.iter(f"{_A}p"):
        chunks = []
        for node in p.iter():
            if node.tag == f"{_A}t":
                chunks.append(node.text or "")
            elif node.tag == f"{_A}br":
                chunks.append("\n")
            elif node.tag == f"{_A}tab":
                chunks.append("\t")
        lines.append("".join(chunks))
    return "\n".join(lines)
