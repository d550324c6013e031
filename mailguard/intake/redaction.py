"""What a PDF page still says where its reader sees nothing: text under a filled box
(a "redaction" drawn over the words instead of removing them), text drawn in white
on the white page, and an invisible text layer (a scan's OCR) left under a box.

pypdf walks the page's content stream; this follows the fill colour, the text render
mode and the filled rectangles (``re`` then ``f``), and places each run of text by its
text and transformation matrices. A run counts as covered when a point inside its
first glyph lies in a dark box drawn after it (or in one drawn before it, when the
text is dark too). A box with light text on it (``[REDACTED]`` in white) is a proper
redaction and says nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

# What kind of unseen text a ``#redacted:KIND`` part holds, as the reviewer reads it.
UNDER_BOX = "under a box"
WHITE = "white text"
DELETED = "tracked deletion"
HIDDEN = "hidden text"
COMMENT = "comment"

_DARK = 0.25  # luminance at or below: a box that hides what is under it
_LIGHT = 0.95  # at or above: white text on a white page
_FILLS = frozenset({b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"})
_CLEARS = frozenset({b"n", b"S", b"s"})


@dataclass(frozen=True, slots=True)
class Hidden:
    under_boxes: str  # text a dark box covers
    white: str  # text drawn white on white


@dataclass(slots=True)
class _Page:
    seq: int = 0
    fill: float = 0.0  # luminance of the fill colour: black by default
    mode: int = 0  # text render mode; 3 is invisible (an OCR layer)
    stack: list[tuple[float, int]] = field(default_factory=list)
    pending: list[tuple[float, float, float, float]] = field(default_factory=list)
    boxes: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    runs: list[tuple[int, float, float, float, str, float, int]] = field(default_factory=list)

    def operator(self, op: bytes, args: Any, cm: Any, tm: Any) -> None:
        self.seq += 1
        with contextlib.suppress(TypeError, ValueError, IndexError):  # odd operands: skip
            self._operator(op, list(args), cm)

    def _operator(self, op: bytes, args: list[Any], cm: Any) -> None:
        if op == b"q":
            self.stack.append((self.fill, self.mode))
        elif op == b"Q" and self.stack:
            self.fill, self.mode = self.stack.pop()
        elif op in (b"g", b"rg", b"k", b"sc", b"scn"):
            numbers = [float(a) for a in args if isinstance(a, int | float)]
            self.fill = _luminance(numbers, cmyk=op == b"k") if numbers else self.fill
        elif op == b"Tr":
            self.mode = int(args[0])
        elif op == b"re":
            x, y, w, h = (float(a) for a in args[:4])
            corners = [_apply(cm, px, py) for px, py in ((x, y), (x + w, y + h))]
            (x0, y0), (x1, y1) = corners
            self.pending.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        elif op in _FILLS:
            if self.fill <= _DARK:
                self.boxes.extend((self.seq, *box) for box in self.pending)
            self.pending = []
        elif op in _CLEARS:
            self.pending = []

    def text(self, text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if not any(c.isalnum() for c in text):
            return
        x, y = _apply(cm, float(tm[4]), float(tm[5]))
        scale = abs(float(tm[3]) * float(cm[3])) or 1.0
        height = float(size or 10) * scale
        self.runs.append((self.seq, x, y, height, text, self.fill, self.mode))

    def hidden(self) -> Hidden:
        under, white = [], []
        for seq, x, y, height, text, fill, mode in self.runs:
            px, py = x + height * 0.3, y + height * 0.3  # inside the first glyph
            over = [b for b in self.boxes if b[1] <= px <= b[3] and b[2] <= py <= b[4]]
            if any(b[0] > seq or fill <= _DARK for b in over):
                under.append(text.strip())
            elif mode != 3 and fill >= _LIGHT and not over:
                white.append(text.strip())
        return Hidden("\n".join(under), "\n".join(white))


def _apply(cm: Any, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = (float(v) for v in cm)
    return a * x + c * y + e, b * x + d * y + f


def _luminance(values: list[float], *, cmyk: bool) -> float:
    if cmyk and len(values) == 4:
        c, m, y, k = values
        r, g, b = ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
    elif len(values) >= 3:
        r, g, b = values[:3]
    else:
        r = g = b = values[0]
    return 0.299 * r + 0.587 * g + 0.114 * b


def hidden_text(page: Any) -> Hidden:
    """The covered and the white text of one pypdf page."""
    state = _Page()
    page.extract_text(visitor_operand_before=state.operator, visitor_text=state.text)
    return state.hidden()
