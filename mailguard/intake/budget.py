"""What one message may cost to open: bytes, depth, files, compression ratio, cells, time.

Every reader in ``intake`` spends from one ``Budget``. ``OverBudget`` stops the whole
message (it is reported once); ``Uninspectable`` stops one part, which becomes an
``UNINSPECTABLE`` finding while the other parts are still read.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass

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
    # The mail leaves the council: also read what costs more and matters only there
    # (OCR of scans and photos, text under redaction boxes). OCR has its own allowance.
    outside: bool = False
    ocr_seconds: float = 25.0


class OverBudget(Exception):
    pass


class Uninspectable(Exception):
    """One part not read. ``structural``: its shape (depth, size, expansion) stopped us,
    which a sender can cause on purpose; otherwise it is sealed or damaged as a file."""

    def __init__(self, reason: str, *, structural: bool = True) -> None:
        super().__init__(reason)
        self.structural = structural


class Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.ocr_spent = 0.0
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

    def ocr_left(self) -> float:
        """Seconds OCR may still take on this message (its allowance is its own: the
        reading of everything else does not use it up)."""
        return self.limits.ocr_seconds - self.ocr_spent

    def file(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise OverBudget(f"more than {self.limits.max_files} files")


class CellCount:
    """Cells read from one file, against ``max_cells``."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.n = 0

    def add(self, n: int) -> None:
        self.n += n
        if self.n > self.budget.limits.max_cells:
            raise Uninspectable(f"more than {self.budget.limits.max_cells} cells")


def check_zip(data: bytes, budget: Budget) -> zipfile.ZipFile:
    """An OOXML or zip container, refused before it is expanded if it is a bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Uninspectable("not a valid zip container", structural=False) from None
    total = 0
    for info in archive.infolist():
        if info.flag_bits & 0x1:
            raise Uninspectable("encrypted", structural=False)
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MB and ratio > budget.limits.max_ratio:
            raise Uninspectable(f"compression ratio {ratio:.0f}:1 (zip bomb?)")
    if budget.bytes + total > budget.limits.max_bytes:
        raise Uninspectable(f"expands to {total // MB} MB, over the budget")
    return archive
