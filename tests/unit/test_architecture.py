"""The house rules a maintainer relies on: one registry, one assembly point, and a
README that describes the layers CI enforces."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mailguard.detectors import registry
from mailguard.policy.loader import PolicyError, load_policy

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_detector_table_is_the_registry():
    between = README.split(registry.README_BEGIN, 1)[1].split(registry.README_END, 1)[0]
    assert between.strip() == registry.markdown_table(), (
        "README is stale: run python -m mailguard.detectors.registry README.md"
    )


def test_the_readme_architecture_lists_the_import_linter_layers_in_order():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    section = README.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if re.match(r"\| \d+ \|", r)]
    documented = [re.findall(r"`(\w+)(?:/|\.py)`", row.split("|")[2]) for row in rows]
    assert documented == [[name.strip() for name in layer.split("|")] for layer in layers]


def test_a_finding_type_no_detector_reports_is_a_lint_error(tmp_path):
    every_type = registry.finding_types()
    assert {"UK_NINO", "BULK_VISIBLE", "UNROUTABLE_DOMAIN", "UNINSPECTABLE"} <= every_type
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - {name: r, when: {finding: {type: UK_NIN0}}, action: hold}\n")
    with pytest.raises(PolicyError, match="UK_NIN0"):
        load_policy(policy)


def test_the_engine_runs_only_the_detectors_that_report_what_a_rule_reads(tmp_path):
    from mailguard.policy.engine import detectors_needed

    policy = tmp_path / "p.yaml"
    policy.write_text(
        "identifiers: [{name: CASE_REF, pattern: 'CR\\d{6}'}]\n"
        "rules:\n"
        "  - {name: a, when: {finding: {type: LOOKALIKE_DOMAIN}}, action: tag}\n"
        "  - {name: b, when: {finding: {type: CASE_REF}}, action: hold}\n"
    )
    assert detectors_needed(load_policy(policy).policy) == {"lookalike_domain", "personal_data"}


def test_a_rule_on_any_finding_sees_every_detector_and_a_mixed_list_each_one(tmp_path):
    from mailguard.policy.engine import detectors_needed

    policy = tmp_path / "p.yaml"
    policy.write_text(
        "rules:\n  - {name: any-high, when: {finding: {min_severity: high}}, action: hold}\n"
    )
    assert detectors_needed(load_policy(policy).policy) == registry.names()
    policy.write_text(
        "rules:\n  - {name: m, when: {finding: {type: [UK_NINO, BULK_VISIBLE]}}, action: hold}\n"
    )
    assert detectors_needed(load_policy(policy).policy) == {"personal_data", "bulk_visible"}


# Who may construct what. Everything else gets it from runtime.build().
CONSTRUCTED_ONLY_IN = {
    "UpstreamPool": {"runtime.py"},
    "QuarantineService": {"runtime.py"},
    "SQLStore": {"runtime.py"},
    "SQLHistory": {"runtime.py"},
    "UserStore": {"runtime.py"},
    "SenderLinks": {"runtime.py"},
    # + the workers' history reader, and the records store's copy of shared tables
    "PostgresDatabase": {"runtime.py", "db.py", "history/sql.py", "records/store.py"},
    "SQLiteDatabase": {"db.py", "history/sql.py", "quarantine/sql.py"},
    "ReadOnlyHistory": {"history/sql.py"},  # open_reader, for InspectionContext
    "DomainChecker": {"inspection/context.py"},
    "InspectionPool": {"relay.py"},
    "HistoryRecorder": {"relay.py"},
}


def test_stores_pools_and_links_are_constructed_only_where_the_architecture_says():
    pattern = re.compile(r"\b(" + "|".join(CONSTRUCTED_ONLY_IN) + r")\(")
    found: dict[str, set[str]] = {}
    for path in (ROOT / "mailguard").rglob("*.py"):
        where = str(path.relative_to(ROOT / "mailguard"))
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith(("class ", "def ")):
                continue
            for name in pattern.findall(line):
                found.setdefault(name, set()).add(where)
    assert found.keys() == CONSTRUCTED_ONLY_IN.keys()
    for name, places in found.items():
        assert places <= CONSTRUCTED_ONLY_IN[name], f"{name} constructed in {places}"


def test_commands_that_judge_no_mail_start_without_the_language_libraries():
    """An admin's ``mailguard quarantine list`` should not wait a second for spaCy."""
    probe = (
        "import sys, mailguard.cli, mailguard.policy.loader;"
        "print(sorted(m for m in ('presidio_analyzer', 'spacy', 'tldextract') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
