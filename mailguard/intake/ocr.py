"""Text in images: scanned letters, phone photos of forms, image-only PDF pages.

Tesseract (Debian's ``tesseract-ocr``) through its command line, one core
(``OMP_THREAD_LIMIT=1``), in the inspection worker. Pillow reads only an image's
header to skip what cannot hold a letter (logos, signature images, tracking pixels)
and refuses decompression bombs; very large photos are scaled to about 300 dpi A4
before OCR. Languages: ``MAILGUARD_OCR_LANGUAGES`` (default ``eng``; Welsh councils
``eng+cym`` with Debian's ``tesseract-ocr-cym``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import subprocess
import time
from typing import Any

from mailguard.intake.budget import Budget, Uninspectable

MIN_BYTES = 3_000  # a tracking pixel or a small logo
MIN_WIDTH, MIN_HEIGHT = 300, 200  # smaller cannot hold a line of body text at print size
MAX_PIXELS = 60_000_000  # more: a decompression bomb, not a photo
OCR_PIXELS = 9_000_000  # about A4 at 300 dpi (2480 x 3508); larger is scaled down
PAGE_SECONDS = 10.0  # the most one image may take, within the message's allowance
IMAGE_EXTENSIONS = (
    *("png", "jpg", "jpeg", "jpe", "tif", "tiff", "gif", "bmp", "webp"),
    *("heic", "heif", "hif"),  # iPhone photos; Pillow reads them through pillow-heif
)


def available() -> bool:
    return shutil.which("tesseract") is not None


def languages() -> str:
    return os.environ.get("MAILGUARD_OCR_LANGUAGES", "eng")


def worth_reading(data: bytes) -> bool:
    """Big enough to hold text: checked from the header, without decoding pixels. An
    image claiming absurd dimensions is "worth reading" so that it is refused loudly."""
    Image = _pillow()
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        return True
    except Exception:  # not an image Pillow knows: let Tesseract say, if it is not tiny
        return len(data) >= MIN_BYTES
    return len(data) >= MIN_BYTES and width >= MIN_WIDTH and height >= MIN_HEIGHT


def image_text(data: bytes, budget: Budget) -> str:
    """The text Tesseract reads in an image (every frame of a multi-page TIFF)."""
    if not available():
        raise Uninspectable("image not read: Tesseract OCR is not installed", structural=False)
    left = budget.ocr_left()
    if left <= 0:
        raise Uninspectable("image not read: the OCR time allowance is spent")
    started = time.monotonic()
    try:
        return _tesseract(_prepared(data), min(left, PAGE_SECONDS))
    finally:
        budget.ocr_spent += time.monotonic() - started


def _prepared(data: bytes) -> bytes:
    """The image as Tesseract should see it: bombs refused, huge photos scaled down,
    formats Leptonica lacks (and palette or alpha images) converted to PNG."""
    Image = _pillow()
    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
        width, height = image.size
    except Image.DecompressionBombError:
        raise Uninspectable("image too large to read (a decompression bomb?)") from None
    except Exception:
        return data  # Tesseract may still read it; if not, it says so
    if width * height > MAX_PIXELS or width * height * frames > MAX_PIXELS * 4:
        raise Uninspectable("image too large to read (a decompression bomb?)")
    if frames > 1 or (image.format in ("PNG", "JPEG", "TIFF") and width * height <= OCR_PIXELS):
        return data  # multi-page TIFFs are read frame by frame by Tesseract itself
    try:
        image = image.convert("L")
        if width * height > OCR_PIXELS:
            scale = (OCR_PIXELS / (width * height)) ** 0.5
            image = image.resize((max(1, int(width * scale)), max(1, int(height * scale))))
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    except Exception as exc:
        raise Uninspectable(
            f"image could not be decoded ({type(exc).__name__})", structural=False
        ) from None


def _pillow() -> Any:
    """Pillow, imported only for mail with images, refusing decompression bombs, and
    able to open HEIC where pillow-heif is installed (a photo from an iPhone)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    _heif()
    return Image


@functools.cache
def _heif() -> None:
    with contextlib.suppress(ImportError):
        from pillow_heif import register_heif_opener

        register_heif_opener(thumbnails=False)


def _tesseract(data: bytes, seconds: float) -> str:
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", languages(), "--psm", "3"],
            input=data,
            capture_output=True,
            timeout=seconds,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Uninspectable(f"OCR took longer than {seconds:.0f}s") from None
    if done.returncode != 0:
        raise Uninspectable("image could not be read by OCR", structural=False)
    return done.stdout.decode("utf-8", "replace")
