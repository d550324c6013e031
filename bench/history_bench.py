"""What do the recipient detectors cost with a real-sized history? (issue 6: <= 2 ms)

Builds a history of N sender→recipient pairs (default 100,000: 500 senders with
Zipf-like contact counts, plus one shared mailbox with 5,000 contacts), then times
``pipeline.inspect`` on a mix of messages with a policy that runs the recipient
detectors (bulk_visible, lookalike_domain, new_external_domain, recipient_near_miss,
name_mismatch) against the same policy with no history, and with no detectors at all.
"Added" is the difference: the profile query plus the detectors.

Run:  python bench/history_bench.py [--pairs 100000] [--messages 3000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faker import Faker

from mailguard.history.model import SentMessage, Sighting
from mailguard.history.sql import ReadOnlyHistory, SQLiteHistory
from mailguard.inspection import pipeline
from mailguard.model import Envelope
from mailguard.policy.loader import load_policy

COUNCIL = "northdown.gov.uk"
POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk], partner_domains: [nhs.net]}
rules:
  - {name: near, when: {finding: {detector: recipient_near_miss}}, action: tag}
  - {name: newdom, when: {finding: {detector: new_external_domain}}, action: tag}
  - {name: names, when: {finding: {detector: name_mismatch}}, action: tag}
  - {name: look, when: {finding: {detector: lookalike_domain}}, action: tag}
  - {name: bulk, when: {finding: {detector: bulk_visible}}, action: tag}
"""
EMPTY_POLICY = "organisation: {name: N, internal_domains: [northdown.gov.uk]}\nrules: []\n"


def build(
    path: Path, pairs: int, seed: int = 1
) -> tuple[list[str], dict[str, list[tuple[str, str]]]]:
    rng = random.Random(seed)
    fake = Faker("en_GB")
    Faker.seed(seed)
    domains = (
        [fake.free_email_domain() for _ in range(20)]
        + [f"{fake.word()}-{fake.word()}.org.uk" for _ in range(300)]
        + ["nhs.net", COUNCIL]
    )
    store = SQLiteHistory(path)
    now = time.time()
    senders: list[str] = []
    contacts: dict[str, list[tuple[str, str]]] = {}
    shared = f"housing.enquiries@{COUNCIL}"
    plan = [(shared, 5000)]
    per = (pairs - 5000) // 500
    plan += [(f"{fake.user_name()}{i}@{COUNCIL}", per) for i in range(500)]
    written = 0
    for sender, n in plan:
        senders.append(sender)
        people = []
        sent = []
        for j in range(n):
            name = fake.name()
            first, last = name.split()[-2:]
            address = f"{first}.{last}{j}@{rng.choice(domains)}".lower()
            people.append((name, address))
            times = max(1, int(rng.paretovariate(1.2)))  # a few often, most once or twice
            for _ in range(min(times, 50)):
                at = now - rng.uniform(0, 300) * 86400
                sent.append(SentMessage(sender, at, (Sighting(sender, address, name, at),)))
        store.record(sent)
        contacts[sender] = people
        written += n
    store.close()
    return senders, contacts


def messages(senders, contacts, count: int, seed: int = 2) -> list[tuple[Envelope, bytes]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        sender = senders[0] if rng.random() < 0.1 else rng.choice(senders)  # the shared mailbox
        name, addr = rng.choice(contacts[sender][:50])
        kind = i % 4
        if kind == 1:  # a near miss: same name, another domain
            addr = addr.split("@")[0] + "@gmail.com"
        elif kind == 2:  # someone new at a new domain
            addr, name = f"new.person{i}@fresh-domain{i}.org.uk", "New Person"
        first = name.split()[-2] if kind != 3 else "Somebody"  # kind 3: wrong greeting
        raw = (
            f"From: Officer <{sender}>\r\nTo: {name} <{addr}>\r\nSubject: Case update\r\n"
            f"Message-ID: <{i}@{COUNCIL}>\r\nContent-Type: text/plain\r\n\r\n"
            f"Dear {first},\r\n\r\nThank you for your email about the case.\r\n" * 1
        ).encode()
        out.append((Envelope(sender, (addr,)), raw))
    return out


def timed(batch, policy, history) -> list[float]:
    times = []
    for envelope, raw in batch:
        started = time.perf_counter()
        pipeline.inspect(envelope, raw, policy, history=history)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        started = time.perf_counter()
        senders, contacts = build(db, args.pairs)
        built = time.perf_counter() - started
        stats = ReadOnlyHistory(db).stats()
        print(
            f"history: {stats.contacts} pairs, {stats.senders} senders, {stats.domains} domains,"
            f" built in {built:.1f}s, {db.stat().st_size / 1e6:.1f} MB"
        )
        pol_dir = Path(tmp)
        (pol_dir / "p.yaml").write_text(POLICY)
        (pol_dir / "e.yaml").write_text(EMPTY_POLICY)
        policy = load_policy(pol_dir / "p.yaml")
        empty = load_policy(pol_dir / "e.yaml")
        history = ReadOnlyHistory(db)
        batch = messages(senders, contacts, args.messages)
        timed(batch[:200], policy, history)  # warm caches and imports
        base = timed(batch, empty, None)
        full = timed(batch, policy, history)
        shared = [m for m in batch if m[0].mail_from.startswith("housing.enquiries")]
        shared_full = timed(shared, policy, history) if shared else []
        shared_base = timed(shared, empty, None) if shared else []

        def q(xs: list[float], p: float) -> float:
            return statistics.quantiles(xs, n=100)[int(p) - 1] if len(xs) > 2 else max(xs)

        added = [f - b for f, b in zip(full, base, strict=True)]
        print(f"messages: {len(batch)} (known, near miss, new domain, wrong greeting in turn)")
        print(f"no detectors:          mean {statistics.mean(base):.3f} ms")
        print(
            f"recipient detectors:   mean {statistics.mean(full):.3f} ms,"
            f" p50 {q(full, 50):.3f}, p99 {q(full, 99):.3f}"
        )
        print(
            f"added per message:     mean {statistics.mean(added):.3f} ms,"
            f" p50 {q(added, 50):.3f}, p99 {q(added, 99):.3f}  (target <= 2 ms)"
        )
        if shared_full:
            extra = [f - b for f, b in zip(shared_full, shared_base, strict=True)]
            print(
                f"shared mailbox (5,000 contacts), {len(shared)} msgs: added mean"
                f" {statistics.mean(extra):.3f} ms, p99 {q(extra, 99):.3f} ms"
            )


if __name__ == "__main__":
    main()
