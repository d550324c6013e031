"""OCR cost per page: a dense A4 letter scanned at 300 dpi, read by Tesseract on one
core (as the inspection worker does). ``python bench/ocr_bench.py [PAGES]``."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from faker import Faker

from mailguard.intake.budget import Budget, Limits
from mailguard.intake.ocr import image_text
from tests.support.files import letter_image


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    fake = Faker("en_GB")
    Faker.seed(16)
    times = []
    for _ in range(pages):
        lines = [fake.sentence(nb_words=9)[:60] for _ in range(44)]  # a full page of text
        image = letter_image(lines)
        started = time.perf_counter()
        text = image_text(image, Budget(Limits(outside=True, ocr_seconds=60)))
        times.append(time.perf_counter() - started)
        assert len(text) > 1000, "OCR read too little"
    print(
        f"OCR of a dense 300 dpi A4 page, one core: median {statistics.median(times):.2f} s,"
        f" max {max(times):.2f} s over {pages} pages"
    )


if __name__ == "__main__":
    main()
