"""Writing a corpus: messages, labels, the site policy and the history mailbox."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import random
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from faker import Faker

from tests.support.corpus import clean, risky  # noqa: F401  (they register the kinds)
from tests.support.corpus import council as cc
from tests.support.corpus.docs import _docx_base as docs_base
from tests.support.corpus.history import write_mbox
from tests.support.corpus.kinds import KINDS, SCORED, Ctx, Kind
from tests.support.corpus.mail import compose, to_bytes

REPO = Path(__file__).resolve().parents[3]
DEFAULT_POLICY = REPO / "policies" / "council-default.yaml"


def schedule(count: int, seed: int) -> list[Kind]:
    """Which kind each message is: every kind in proportion to its weight, shuffled."""
    kinds = sorted(KINDS.values(), key=lambda k: k.name)
    total = sum(k.weight for k in kinds)
    shares = [(count * k.weight / total, k) for k in kinds]
    counts = {k.name: int(share) for share, k in shares}
    left = count - sum(counts.values())
    for _, k in sorted(shares, key=lambda sk: (-(sk[0] - int(sk[0])), sk[1].name))[:left]:
        counts[k.name] += 1
    order = [k for k in kinds for _ in range(counts[k.name])]
    random.Random(f"schedule:{seed}").shuffle(order)
    return order


def site_policy(default_policy: Path) -> str:
    partners = ", ".join(cc.PARTNER_DOMAINS)
    return (
        f"# Site policy of the fictional {cc.NAME} for the evaluation corpus: the shipped\n# "
        "default policy with the council's own organisation, as an admin would write "
        f"it.\ninclude: [{json.dumps(str(default_policy))}]\norganisation:\n  name: {cc.NAME}\n  "
        f"internal_domains: [{cc.DOMAIN}]\n  partner_domains: [{partners}]\n  "
        "tls_required_domains: [nhs.net]\n"
    )


def _write_message(
    outdir: Path, seed: int, world: cc.World, fake: Faker, today: dt.date, i: int, k: Kind
) -> dict:
    """Message number ``i`` (its own seeded randomness, so any process can write it)."""
    rng = random.Random(f"{seed}:{i}:{k.name}")
    fake.seed_instance(zlib.crc32(f"{seed}:{i}".encode()))
    sample = k.make(Ctx(rng, fake, world, today))
    assert sample.risky == k.risky, k.name
    if sample.raw is not None:
        raw = sample.raw
        mail_from = sample.mail_from or ""
        rcpt = list(sample.rcpt or [])
    else:
        assert sample.draft is not None
        raw = to_bytes(compose(sample.draft, rng))
        d = sample.draft
        mail_from = sample.mail_from if sample.mail_from is not None else d.sender[1]
        rcpt = list(sample.rcpt) if sample.rcpt else [a for _, a in d.to + d.cc]
    name = f"{i:04d}-{k.name}.eml"
    (outdir / name).write_bytes(raw)
    label = {
        "file": name,
        "kind": k.name,
        "risky": k.risky,
        "expect": sample.expect,
        "entities": sorted(sample.entities, key=SCORED.index),
        "secrets": sorted(dict.fromkeys(s for s in sample.secrets if s)),
        "mail_from": mail_from,
        "rcpt": rcpt,
    }
    if sample.note:
        label["note"] = sample.note
    return label


# Set before the writers fork: what every writer shares.
_JOB: tuple[Path, int, cc.World, Faker, dt.date, list[Kind]] | None = None


def _write_share(part: int, parts: int) -> list[tuple[int, dict]]:
    assert _JOB is not None
    outdir, seed, world, fake, today, kinds = _JOB
    return [
        (i, _write_message(outdir, seed, world, fake, today, i, kinds[i - 1]))
        for i in range(part + 1, len(kinds) + 1, parts)
    ]


def _write_history(outdir: Path, world: cc.World, seed: int, today: dt.date) -> int:
    return write_mbox(outdir / "history.mbox", world, seed, today)


def generate(
    outdir: Path,
    *,
    seed: int = 1,
    count: int = 1500,
    today: dt.date | None = None,
    default_policy: Path = DEFAULT_POLICY,
    jobs: int | None = None,
) -> dict:
    """Write the corpus into ``outdir`` (in ``jobs`` processes: every message has its
    own seeded randomness, so the bytes do not depend on how many); returns the
    labels document."""
    global _JOB
    today = today or dt.date.today()
    outdir.mkdir(parents=True, exist_ok=True)
    world = cc.World(seed)
    kinds = schedule(count, seed)
    jobs = max(1, jobs or os.cpu_count() or 1)
    docs_base()  # python-docx's package, read once before any fork
    if jobs == 1 or count < 100:
        history = _write_history(outdir, world, seed, today)
        _JOB = (outdir, seed, world, Faker("en_GB"), today, kinds)
        try:
            numbered = _write_share(0, 1)
        finally:
            _JOB = None
    else:
        _JOB = (outdir, seed, world, Faker("en_GB"), today, kinds)
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                mbox = pool.submit(_write_history, outdir, world, seed, today)
                shares = [pool.submit(_write_share, p, jobs) for p in range(jobs)]
                numbered = [x for share in shares for x in share.result()]
                history = mbox.result()
        finally:
            _JOB = None
    labels = [label for _, label in sorted(numbered, key=lambda x: x[0])]
    (outdir / "policy.yaml").write_text(site_policy(default_policy), encoding="utf-8")
    document = {
        "corpus": f"{cc.NAME} (synthetic)",
        "seed": seed,
        "date": today.isoformat(),
        "policy": "policy.yaml",
        "history": "history.mbox",
        "history_messages": history,
        "kinds": {
            k.name: {"risky": k.risky, "summary": k.summary}
            for k in sorted(KINDS.values(), key=lambda k: k.name)
        },
        "messages": labels,
    }
    (outdir / "labels.json").write_text(
        json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return document
