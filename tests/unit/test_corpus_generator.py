"""The labelled corpus generator: valid synthetic identifiers, enough kinds of mail,
and the same bytes from the same seed."""

from __future__ import annotations

import datetime as dt
import random
import re

from tests.support.corpus import generate, ids
from tests.support.corpus.kinds import KINDS, SCORED


def test_identifiers_have_the_real_formats_and_check_digits():
    rng = random.Random(3)
    for _ in range(200):
        assert ids.passes_nhs_check(ids.nhs_number(rng))
        assert ids.passes_nhs_check(ids.ten_digit_reference(rng))
        nino = ids.nino(rng).replace(" ", "")
        assert re.fullmatch(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]", nino)
        assert nino[:2] not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
        iban = ids.gb_iban(rng, ids.sort_code(rng), ids.account_number(rng)).replace(" ", "")
        assert int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 == 1
        card = ids.card_number(rng).replace(" ", "")
        total = sum(
            int(d) if i % 2 == 0 else sum(divmod(int(d) * 2, 10))
            for i, d in enumerate(reversed(card))
        )
        assert total % 10 == 0
        assert re.fullmatch(r"[A-Z][A-Z]?\d{1,2} \d[A-Z]{2}", ids.postcode(rng))
    p = ids.person(rng, None, dt.date(2025, 6, 1), female=True)
    licence = p.licence
    assert re.fullmatch(r"[A-Z9]{5}\d{6}[A-Z9]{2}\d[A-Z]{2}", licence)
    assert int(licence[6:8]) == p.dob.month + 50  # women's month + 50, as the DVLA writes it


def test_the_corpus_has_enough_kinds_of_each_class():
    clean = [k for k in KINDS.values() if not k.risky]
    risky = [k for k in KINDS.values() if k.risky]
    assert len(KINDS) >= 50 and len(clean) >= 20 and len(risky) >= 20
    assert all(k.summary for k in KINDS.values())


def test_same_seed_same_corpus_in_any_number_of_processes(tmp_path):
    day = dt.date(2025, 6, 2)
    first = generate(tmp_path / "a", seed=5, count=160, today=day, jobs=2)
    second = generate(tmp_path / "b", seed=5, count=160, today=day, jobs=1)
    assert first == second
    for label in first["messages"]:
        a = (tmp_path / "a" / label["file"]).read_bytes()
        assert a == (tmp_path / "b" / label["file"]).read_bytes()
    assert {m["kind"] for m in first["messages"]} == set(KINDS)
    for label in first["messages"]:
        assert set(label["entities"]) <= set(SCORED)
        assert label["risky"] == KINDS[label["kind"]].risky
        assert label["rcpt"]
    assert (tmp_path / "a" / "history.mbox").read_bytes().startswith(b"From ")
    policy = (tmp_path / "a" / "policy.yaml").read_text()
    assert "internal_domains: [anyshire.gov.uk]" in policy and "council-default.yaml" in policy
