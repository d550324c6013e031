"""``mailguard eval``: score the inspection ``check`` runs against a labelled corpus.

A labels file names each message (an .eml file beside it), whether it is risky (it
must be rewritten, held or rejected) or clean (it must not be), which personal-data
entity types it truly holds and which raw personal values it holds (none may appear
in a finding's detail). The file may also name a site policy and a mailbox of past
sent mail; the history is learnt into a temporary data dir first, exactly as
``mailguard history learn`` would learn it.

Each message is inspected by ``inspect_files`` (what ``check`` runs), in parallel
processes forked after the detectors' models are loaded. The scoring below is plain
functions of labels and verdicts, so it can be tested on its own.

Labels (JSON)::

    {"policy": "policy.yaml", "history": "history.mbox",          # both optional
     "messages": [{"file": "0001-kind.eml", "kind": "...", "risky": true,
                   "expect": "hold", "entities": ["UK_NHS"], "secrets": ["943 476 5919"],
                   "mail_from": "a@council.example", "rcpt": ["b@example.org"]}, ...]}

A bare list of message labels is accepted too.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from mailguard.cli.common import config_option, fail, load_policy_or_exit, opened, settings_from
from mailguard.cli.files import MessageFile, inspect_files, read_message
from mailguard.config import Settings
from mailguard.history.learn import Learner, input_files, read_messages
from mailguard.inspection import pipeline
from mailguard.model import Inspection
from mailguard.policy.loader import LoadedPolicy
from mailguard.runtime import build

INTERVENTIONS = frozenset({"rewrite", "hold", "reject"})
SCORED = (
    "UK_NHS",
    "UK_NINO",
    "UK_PASSPORT",
    "UK_DRIVING_LICENCE",
    "CREDIT_CARD",
    "IBAN_CODE",
    "UK_BANK_ACCOUNT",
    "UK_SORT_CODE",
    "DATE_OF_BIRTH",
    "SPECIAL_CATEGORY",
)
ACTIONS = ("pass", "tag", "rewrite", "hold", "reject")


class LabelError(ValueError):
    """The labels file is not what ``mailguard eval`` reads."""


# --- labels and verdicts ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Label:
    file: str
    kind: str
    risky: bool
    expect: str | None = None
    entities: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()
    mail_from: str | None = None
    rcpt: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the inspection decided for one message (``check --json``'s fields)."""

    action: str
    rules: tuple[str, ...] = ()
    findings: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def of(cls, inspection: Inspection) -> Verdict:
        return cls(
            inspection.decision.action.value,
            tuple(inspection.decision.rules),
            tuple(f.to_json() for f in inspection.findings),
        )

    @property
    def entities(self) -> frozenset[str]:
        return frozenset(f["type"] for f in self.findings if f["type"] in SCORED)

    @property
    def intervened(self) -> bool:
        return self.action in INTERVENTIONS


@dataclass(frozen=True, slots=True)
class Corpus:
    labels: tuple[Label, ...]
    base: Path  # message files and the paths below are relative to this
    policy: Path | None = None
    history: Path | None = None


def parse_labels(document: Any, base: Path) -> Corpus:
    """The corpus a labels document describes; raises LabelError on anything malformed."""
    if isinstance(document, list):
        document = {"messages": document}
    if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
        raise LabelError('expected {"messages": [...]} or a list of message labels')
    labels = []
    seen: set[str] = set()
    for i, item in enumerate(document["messages"]):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise LabelError(f"{where}: not an object")
        file = item.get("file")
        if not isinstance(file, str) or not file:
            raise LabelError(f"{where}: no file")
        if file in seen:
            raise LabelError(f"{where}: {file} is labelled twice")
        seen.add(file)
        risky = item.get("risky")
        if not isinstance(risky, bool):
            raise LabelError(f"{where} ({file}): risky must be true or false")
        entities = item.get("entities", [])
        if not isinstance(entities, list) or not all(isinstance(e, str) for e in entities):
            raise LabelError(f"{where} ({file}): entities must be a list of type names")
        unknown = set(entities) - set(SCORED)
        if unknown:
            raise LabelError(
                f"{where} ({file}): not a scored entity type: {', '.join(sorted(unknown))}"
            )
        secrets = item.get("secrets", [])
        if not isinstance(secrets, list) or not all(isinstance(s, str) for s in secrets):
            raise LabelError(f"{where} ({file}): secrets must be a list of strings")
        expect = item.get("expect")
        if expect is not None and expect not in ACTIONS:
            raise LabelError(f"{where} ({file}): expect must be one of {', '.join(ACTIONS)}")
        mail_from = item.get("mail_from")
        rcpt = item.get("rcpt", [])
        if mail_from is not None and not isinstance(mail_from, str):
            raise LabelError(f"{where} ({file}): mail_from must be a string")
        if not isinstance(rcpt, list) or not all(isinstance(r, str) for r in rcpt):
            raise LabelError(f"{where} ({file}): rcpt must be a list of addresses")
        labels.append(
            Label(
                file=file,
                kind=str(item.get("kind") or "unlabelled"),
                risky=risky,
                expect=expect,
                entities=frozenset(entities),
                secrets=tuple(secrets),
                mail_from=mail_from,
                rcpt=tuple(rcpt),
            )
        )

    def path(key: str) -> Path | None:
        value = document.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise LabelError(f"{key} must be a path")
        return base / value

    return Corpus(tuple(labels), base, path("policy"), path("history"))


# --- scoring ------------------------------------------------------------------------------

_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s./-]+(?=\d)")


def _mostly_digits(secret: str) -> str:
    """The digits of a number-like secret (an NHS number, a date), else ''."""
    digits = "".join(c for c in secret if c.isdigit())
    alnum = sum(c.isalnum() for c in secret)
    return digits if len(digits) >= 6 and len(digits) * 2 >= alnum else ""


def leaked_secrets(secrets: Iterable[str], details: Iterable[str]) -> list[str]:
    """The secrets that appear in any detail: as text (case-insensitive) or, for
    numbers, as the same digits with their separators dropped."""
    texts = [d.casefold() for d in details if d]
    if not texts:
        return []
    joined = [_BETWEEN_DIGITS.sub("", d) for d in texts]
    found = []
    for secret in secrets:
        s = secret.strip().casefold()
        if len(s) < 4:
            continue
        digits = _mostly_digits(s)
        if any(s in t for t in texts) or (digits and any(digits in j for j in joined)):
            found.append(secret)
    return found


def mask(secret: str) -> str:
    """Enough of a secret to find it in the labels, not enough to be it."""
    s = secret.strip()
    return s[:2] + "*" * max(0, len(s) - 2) if len(s) > 2 else "*" * len(s)


@dataclass
class KindRow:
    kind: str
    n: int = 0
    risky: int = 0
    intervened: int = 0
    expected_met: int = 0
    expected: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    false: Counter[str] = field(default_factory=Counter)
    leaks: int = 0

    @property
    def wrong(self) -> int:
        """Risky ones let through plus clean ones intervened on."""
        clean = self.n - self.risky
        if self.risky == self.n:
            return self.n - self.intervened
        if self.risky == 0:
            return self.intervened
        return clean  # a kind mixing both is not scored per kind

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n": self.n,
            "risky": self.risky == self.n and self.n > 0,
            "intervened": self.intervened,
            "wrong": self.wrong,
            "expected_met": self.expected_met,
            "expected": self.expected,
            "actions": dict(self.actions.most_common()),
            "rules": dict(self.rules.most_common()),
            "missed_entities": dict(self.missed.most_common()),
            "false_entities": dict(self.false.most_common()),
            "leaks": self.leaks,
        }


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def score(results: Sequence[tuple[Label, Verdict]]) -> dict[str, Any]:
    """The report: headline rates, their counts, one row per kind, the misses."""
    risky = [(label, v) for label, v in results if label.risky]
    clean = [(label, v) for label, v in results if not label.risky]
    caught = sum(v.intervened for _, v in risky)
    false_interventions = sum(v.intervened for _, v in clean)
    labelled = found = true_found = 0
    leaks: list[dict[str, Any]] = []
    kinds: dict[str, KindRow] = {}
    misses: list[dict[str, Any]] = []
    for label, v in results:
        row = kinds.setdefault(label.kind, KindRow(label.kind))
        row.n += 1
        row.risky += label.risky
        row.intervened += v.intervened
        row.actions[v.action] += 1
        row.rules.update(v.rules)
        if label.expect:
            row.expected += 1
            row.expected_met += v.action == label.expect
        reported = v.entities
        labelled += len(label.entities)
        found += len(reported)
        true_found += len(reported & label.entities)
        row.missed.update(label.entities - reported)
        row.false.update(reported - label.entities)
        for f in v.findings:
            for secret in leaked_secrets(label.secrets, [str(f.get("detail", ""))]):
                row.leaks += 1
                leaks.append(
                    {
                        "file": label.file,
                        "kind": label.kind,
                        "detector": f.get("detector"),
                        "type": f.get("type"),
                        "where": f.get("where"),
                        "secret": mask(secret),
                    }
                )
        if label.risky != v.intervened:
            misses.append(
                {
                    "file": label.file,
                    "kind": label.kind,
                    "risky": label.risky,
                    "action": v.action,
                    "rules": list(v.rules),
                    "missed_entities": sorted(label.entities - reported),
                    "false_entities": sorted(reported - label.entities),
                }
            )
    return {
        "messages": len(results),
        "risky": len(risky),
        "clean": len(clean),
        "kinds_total": len(kinds),
        "recall": _ratio(caught, len(risky)),
        "false_interventions": _ratio(false_interventions, len(clean)),
        "entity_recall": _ratio(true_found, labelled),
        "false_entities": _ratio(found - true_found, found),
        "leaks": len(leaks),
        "counts": {
            "risky_intervened": caught,
            "clean_intervened": false_interventions,
            "entities_labelled": labelled,
            "entities_found": true_found,
            "entities_reported": found,
            "entities_false": found - true_found,
            "actions": dict(Counter(v.action for _, v in results).most_common()),
        },
        "kinds": [
            row.to_json() for row in sorted(kinds.values(), key=lambda r: (-r.wrong, r.kind))
        ],
        "leaked": leaks,
        "misses": misses,
    }


def _top(counter: Mapping[str, int], n: int = 3) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {v}" for k, v in items[:n]) + (" ..." if len(items) > n else "") or "-"


def render(report: Mapping[str, Any]) -> str:
    """The report as text: headline figures, then one row per kind, worst first."""
    c = report["counts"]
    lines = [
        f"{report['messages']} messages ({report['risky']} risky, {report['clean']} clean)"
        f" of {report['kinds_total']} kinds",
        f"  recall               {report['recall']:.3f}  ({c['risky_intervened']}/{report['risky']}"
        " risky messages rewritten, held or rejected)",
        f"  false interventions  {report['false_interventions']:.3f}  ({c['clean_intervened']}/"
        f"{report['clean']} clean messages rewritten, held or rejected)",
        f"  entity recall        {report['entity_recall']:.3f}  ({c['entities_found']}/"
        f"{c['entities_labelled']} labelled entity types found in their message)",
        f"  false entities       {report['false_entities']:.3f}  ({c['entities_false']}/"
        f"{c['entities_reported']} reported entity types not labelled)",
        f"  leaks                {report['leaks']}  (personal values shown in a finding's detail)",
        "  actions              " + ", ".join(f"{k} {v}" for k, v in c["actions"].items()),
    ]
    timing = report.get("timing")
    if timing:
        lines.append(
            f"  time                 {timing['inspect_s']:.1f}s inspecting on {timing['jobs']}"
            f" process(es), {timing['learn_s']:.1f}s learning {timing['history_messages']}"
            " history message(s)"
        )
    rows = [
        (
            "kind",
            "n",
            "risky",
            "intervened",
            "wrong",
            "actions",
            "rules fired (top 3)",
            "missed entities",
            "false entities",
        )
    ]
    for k in report["kinds"]:
        rows.append(
            (
                k["kind"],
                str(k["n"]),
                "yes" if k["risky"] else "no",
                str(k["intervened"]),
                str(k["wrong"]),
                _top(k["actions"], 3),
                _top(k["rules"], 3),
                _top(k["missed_entities"], 3),
                _top(k["false_entities"], 3),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines.append("")
    for r in rows:
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    for leak in report["leaked"][:20]:
        lines.append(
            f"LEAK {leak['file']}: {leak['detector']}/{leak['type']} in {leak['where']}"
            f" shows {leak['secret']}"
        )
    return "\n".join(lines)


# --- running the inspection ----------------------------------------------------------------

# What forked workers inspect: set in the parent just before the pool forks, so the
# messages, the policy and the loaded models are shared, not pickled.
_SHARED: tuple[Settings, LoadedPolicy | None, Sequence[MessageFile]] | None = None


def _inspect_slice(start: int, stop: int) -> list[tuple[int, Verdict]] | str:
    assert _SHARED is not None
    settings, loaded, messages = _SHARED
    runtime = build(settings)
    try:
        verdicts = inspect_files(runtime, loaded, messages[start:stop])
        return [(start + i, Verdict.of(result)) for i, (_, result) in enumerate(verdicts)]
    except BaseException as exc:  # fail() in a worker: report it, don't kill the pool
        return f"{type(exc).__name__}: {exc}"
    finally:
        runtime.close()


def inspect_all(
    settings: Settings, loaded: LoadedPolicy | None, messages: Sequence[MessageFile], jobs: int
) -> list[Verdict]:
    """Every message's verdict, from ``jobs`` processes forked with the models loaded."""
    global _SHARED
    if loaded is not None:
        pipeline.warm_up()  # once, before forking: every worker shares the loaded models
    _SHARED = (settings, loaded, messages)
    try:
        if jobs <= 1 or len(messages) < 2:
            slices = [(0, len(messages))]
            done = [_inspect_slice(*s) for s in slices]
        else:
            size = max(1, min(50, len(messages) // (jobs * 6) or 1))
            slices = [(i, min(i + size, len(messages))) for i in range(0, len(messages), size)]
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                done = list(pool.map(_inspect_slice, *zip(*slices, strict=True)))
    finally:
        _SHARED = None
    verdicts: list[Verdict | None] = [None] * len(messages)
    for part in done:
        if isinstance(part, str):
            fail(f"inspection failed: {part}")
        for i, verdict in part:
            verdicts[i] = verdict
    assert all(v is not None for v in verdicts)
    return verdicts  # type: ignore[return-value]


def learn_history(settings: Settings, source: Path) -> int:
    """Learn past sent mail (an mbox, an .eml, or a directory of them: Maildir too) into
    the settings' history, as ``history learn`` does."""
    runtime = build(settings)
    try:
        store = opened("the history", lambda: runtime.history)
        learner = Learner(store, settings.history_max_age_days)
        for path in input_files([source]):
            try:
                for message in read_messages(path):
                    learner.add(message.raw)
            except OSError as exc:
                fail(f"{path}: cannot read: {exc.strerror}")
        learner.flush()
        return learner.summary.messages
    finally:
        runtime.close()


def read_corpus(labels_file: Path) -> Corpus:
    try:
        document = json.loads(labels_file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{labels_file}: cannot read: {exc.strerror}")
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"{labels_file}: not JSON: {exc}")
    try:
        return parse_labels(document, labels_file.parent)
    except LabelError as exc:
        fail(f"{labels_file}: {exc}")


@click.command("eval")
@config_option
@click.option(
    "--policy",
    type=click.Path(path_type=Path),
    help="Policy YAML file [the labels' policy, else the settings'].",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="State directory to read history from when the labels name no history mailbox.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="CPU count",
    help="Processes inspecting in parallel.",
)
@click.argument("labels", type=click.Path(path_type=Path))
def evaluate(
    config_file: Path | None,
    policy: Path | None,
    data_dir: Path | None,
    as_json: bool,
    jobs: int,
    labels: Path,
) -> None:
    """Score detection against a labelled corpus (python -m tests.support.corpus makes one).

    Prints recall (risky messages rewritten, held or rejected), false interventions
    (clean ones), entity recall and false entities over the scored entity types,
    leaks (labelled personal values in a finding's detail) and a table per kind.
    Exit 0 for a completed evaluation whatever the scores, 2 on bad input.
    """
    corpus = read_corpus(labels)
    if not corpus.labels:
        fail(f"{labels}: no messages")
    policy = policy or corpus.policy
    if policy is not None and not policy.exists():
        fail(f"{policy}: no such policy file")
    with tempfile.TemporaryDirectory(prefix="mailguard-eval-") as tmp:
        flags: dict[str, Any] = {"policy": policy, "data_dir": data_dir}
        settings = settings_from(config_file, **flags)
        learned, learn_s = 0, 0.0
        if corpus.history is not None:
            if not corpus.history.exists():
                fail(f"{corpus.history}: no such history mailbox")
            # A history of its own: never the site's data dir or shared database.
            settings = settings.model_copy(update={"data_dir": Path(tmp), "database": None})
            started = time.monotonic()
            learned = learn_history(settings, corpus.history)
            learn_s = time.monotonic() - started
        loaded = load_policy_or_exit(settings.policy) if settings.policy else None
        messages = [
            read_message(
                str(corpus.base / label.file),
                label.mail_from,
                label.rcpt,
            )
            for label in corpus.labels
        ]
        started = time.monotonic()
        verdicts = inspect_all(settings, loaded, messages, jobs)
        inspect_s = time.monotonic() - started
    report = score(list(zip(corpus.labels, verdicts, strict=True)))
    report["policy"] = str(settings.policy) if settings.policy else None
    report["timing"] = {
        "jobs": jobs,
        "inspect_s": round(inspect_s, 2),
        "learn_s": round(learn_s, 2),
        "history_messages": learned,
        "ms_per_message": round(inspect_s * 1000 / len(messages), 1),
    }
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        click.echo(render(report))


__all__ = ["Corpus", "Label", "Verdict", "evaluate", "leaked_secrets", "parse_labels", "score"]
