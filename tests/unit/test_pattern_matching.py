"""mailguard runs Presidio's pattern recognisers its own, cheaper way: same results."""

from __future__ import annotations

import random

import pytest

from mailguard.detectors.personal_data.detector import _SEED, _seed_runs, pattern_recognizers
from mailguard.detectors.personal_data.matching import able_to_cover, analyze, could_be_phone
from tests.support import files

fake = files.fake


def values() -> list[str]:
    out = []
    for _ in range(60):
        out += [
            fake.address().replace("\n", ", "),
            fake.postcode(),
            files.nhs_number(),
            files.nino(),
            fake.phone_number(),
            fake.email(),
            fake.iban(),
            fake.credit_card_number(),
            fake.date_of_birth().strftime("%d/%m/%Y"),
            f"{fake.sentence()} NHS {files.nhs_number()}, tel {fake.phone_number()}",
            fake.bothify("##-##-## ########"),
            fake.bothify("??######?").upper(),
        ]
    return out


def found(results) -> list[tuple[str, int, int, float]]:
    return sorted((r.entity_type, r.start, r.end, round(r.score, 6)) for r in results)


@pytest.mark.parametrize("recognizer", pattern_recognizers(), ids=lambda r: type(r).__name__)
def test_each_recogniser_finds_what_presidio_finds(recognizer):
    for value in values():
        expected = recognizer.analyze(value, recognizer.supported_entities)
        assert found(analyze(recognizer, value)) == found(expected), value


def cells(rng: random.Random) -> list[str]:
    """Table cells of every length: the values above, cut and padded, and junk."""
    out = []
    for value in values():
        out += [value, value[: rng.randrange(1, len(value) + 1)], f" {value}-", value.upper()]
    alphabet = "0123456789 -/ABGKMNQRSTWXYZabz@."
    out += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 50))) for _ in range(800)]
    return [c.strip() for c in out if c.strip().isascii() and c.strip()]


def test_a_recogniser_passed_over_for_a_cell_would_not_have_covered_it():
    everything = pattern_recognizers()
    whole_values = 0
    for cell in cells(random.Random(7)):
        able = able_to_cover(everything, len(cell), 2)
        for recognizer in everything:
            found = recognizer.analyze(cell, recognizer.supported_entities)
            covering = [r for r in found if r.end - r.start >= len(cell) - 2]
            whole_values += bool(covering)
            assert recognizer in able or not covering, (type(recognizer).__name__, cell)
    assert whole_values > 500  # the cells hold real values, not only junk


def test_a_cell_of_one_kind_is_read_by_few_recognisers():
    everything = pattern_recognizers()
    assert len(able_to_cover(everything, len("WB1 2AA"), 2)) < len(everything) / 2
    assert len(able_to_cover(everything, len("12 Kimberley Ports, Westbrook"), 2)) <= 4


def test_a_phone_number_needs_seven_digits():
    assert could_be_phone(fake.phone_number())
    assert not could_be_phone(f"Flat 3, 12 High Street, {fake.postcode()}")


@pytest.mark.parametrize("seed", range(5))
def test_digits_and_at_signs_are_found_wherever_the_text_has_them(seed):
    rng = random.Random(seed)
    alphabet = "ab 7@\x00\x01\n\u0663\u00e9" if seed % 2 else "ab 7@\x00\x01\n"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        expected = [(m.start(), m.end()) for m in _SEED.finditer(text)]
        assert list(_seed_runs(text)) == expected, repr(text)
