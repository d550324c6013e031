"""Reading text in images: what is read, what is skipped, and what it may cost."""

from __future__ import annotations

import io
import struct
import time
import zlib
from email import message_from_bytes

from mailguard.intake import ocr
from mailguard.intake.budget import Budget, Limits
from mailguard.intake.extract import extract
from tests.support import files


def extracted(raw: bytes, **limits):
    return extract(message_from_bytes(raw), Limits(outside=True, **limits))


def ocr_texts(out) -> dict[str, str]:
    return {t.where: t.text for t in out.texts if "#ocr" in t.where}


def test_a_scan_is_read_only_when_asked():
    raw = files.message_with({"scan.png": files.letter_image(["Rent arrears for 12 High Street"])})
    assert ocr_texts(extract(message_from_bytes(raw))) == {}
    assert "Rent arrears" in ocr_texts(extracted(raw))["attachment:scan.png#ocr"]


def test_a_phone_photo_saved_as_heic_is_read():
    photo = files.letter_image(["Housing benefit claim for 4 Mill Lane"], fmt="HEIF")
    assert photo[4:12] == b"ftypheic"
    out = extracted(files.message_with({"IMG_0412.HEIC": photo}))
    assert "Housing benefit" in ocr_texts(out)["attachment:IMG_0412.HEIC#ocr"]
    assert out.problems == []


def test_logos_and_tracking_pixels_are_not_read():
    from PIL import Image

    def png(size: tuple[int, int]) -> bytes:
        buf = io.BytesIO()
        Image.new("L", size, 255).save(buf, format="PNG")
        return buf.getvalue()

    out = extracted(files.message_with({"pixel.png": png((1, 1)), "logo.png": png((240, 80))}))
    assert ocr_texts(out) == {} and out.problems == []


def test_a_decompression_bomb_image_is_refused_not_decoded():
    # A well-formed PNG of a few kilobytes claiming 100,000 x 100,000 pixels.
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    )
    png += chunk(b"IDAT", zlib.compress(b"\x00" * 100_000)) + chunk(b"IEND", b"")
    started = time.monotonic()
    out = extracted(files.message_with({"huge.png": png}))
    assert time.monotonic() - started < 5
    [problem] = out.problems
    assert "too large" in problem.reason and problem.structural


def test_pages_past_the_ocr_allowance_are_said_to_be_unread_and_the_rest_still_counts():
    pages = [
        files.letter_image([f"Page {n} of the case file", "Nothing of note"]) for n in range(1, 9)
    ]
    # An allowance of two and a half pages, however fast this machine reads one.
    started = time.monotonic()
    ocr.image_text(pages[0], Budget(Limits()))
    allowance = 2.5 * (time.monotonic() - started)
    out = extracted(
        files.message_with({"bundle.pdf": files.scanned_pdf(pages)}), ocr_seconds=allowance
    )
    read = ocr_texts(out)
    assert "attachment:bundle.pdf#ocr:page 1" in read  # at least the first page is read
    [problem] = [p for p in out.problems if "OCR time allowance" in p.reason]
    assert problem.where == "attachment:bundle.pdf" and "8" in problem.reason
    assert len(read) < 8
