"""`mailguard policy lint|test` and `check --policy`, run as an admin would."""

import json
from pathlib import Path

from tests.support.mail import address, compose
from tests.support.relay import mailguard_cli

ROOT = Path(__file__).parents[2]
DEFAULT = ROOT / "policies" / "council-default.yaml"


mailguard = mailguard_cli


def test_the_shipped_default_policy_is_valid():
    result = mailguard("policy", "lint", str(DEFAULT))
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith(f"{DEFAULT}: OK (25 rules, version ")


def test_lint_prints_one_line_per_problem_and_exits_1(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("mode: monitor\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "modee: monitor\nrules:\n  - {name: r, when: {size: {more_than: 1}}, action: x}\n"
    )
    result = mailguard("policy", "lint", str(good), str(bad))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{good}: OK")
    # A valid policy that guards nothing is valid, with warnings that say so.
    assert [x for x in lines if x.startswith(f"{good}: warning: ")] == [
        f"{good}: warning: organisation.internal_domains is empty: every recipient counts"
        " as external",
        f"{good}: warning: the policy has no rules: every message passes",
    ]
    assert [x for x in lines[1:] if not x.startswith(f"{good}: warning: ")] == [
        f"{bad}:1:1: unknown key 'modee'",
        f"{bad}:3:53: 'x' is not one of 'pass', 'tag', 'rewrite', 'hold', 'reject' or 'allow'"
        " (in rules.0.action)",
    ]


def test_check_with_a_policy_reports_the_rules_that_fired(tmp_path):
    residents = [address("example.org") for _ in range(12)]
    eml = tmp_path / "mailing.eml"
    eml.write_bytes(compose(sender="housing@council.example", to=residents))
    result = mailguard("check", "--json", "--policy", str(DEFAULT), str(eml))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["action"], report["rules"]) == ("rewrite", ["bulk-visible-external"])
    [finding] = report["findings"]
    assert (finding["type"], finding["count"], finding["severity"]) == (
        "BULK_VISIBLE",
        12,
        "medium",
    )


def test_check_with_a_broken_policy_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    eml = tmp_path / "m.eml"
    eml.write_bytes(compose())
    result = mailguard("check", "--policy", str(bad), str(eml))
    assert result.returncode == 2 and result.stdout == ""
    assert f"{bad}:2:1:" in result.stderr


def test_policy_test_shows_each_rule_and_why(tmp_path):
    eml = tmp_path / "one.eml"
    eml.write_bytes(compose(to=[address("example.org")]))
    result = mailguard("policy", "test", "--policy", str(DEFAULT), str(eml))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{eml}: pass"
    assert lines[1].split() == ["RULE", "FIRED", "ACTION", "WHY"]
    assert lines[2].split()[:3] == ["bulk-visible-external", "no", "rewrite"]
    assert "moved them to Bcc" in lines[2]


def test_lint_reports_every_independent_problem_in_one_pass(tmp_path):
    """A duplicate key, a bad action, a bad size and unknown names: all at once, so an
    admin fixes the file in one go instead of one problem per run."""
    bad = tmp_path / "site.yaml"
    bad.write_text(
        "organisation: {name: X, internal_domains: [x.gov.uk]}\n"
        "mode: enforce\n"
        "mode: monitor\n"
        "rules:\n"
        "  - name: a\n"
        "    when: {sender: {group: nosuch}}\n"
        "    action: hold\n"
        "  - name: b\n"
        "    when: {finding: {type: NOT_A_TYPE}}\n"
        "    action: holdd\n"
        "  - name: c\n"
        "    when: {size: {more_than: big}}\n"
        "    action: tag\n"
    )
    result = mailguard("policy", "lint", str(bad))
    assert result.returncode == 1
    assert [line.split(": ", 1)[0] for line in result.stdout.splitlines()] == [
        f"{bad}:3:1", f"{bad}:9:28", f"{bad}:10:13", f"{bad}:12:30"
    ]  # fmt: skip
    assert "duplicate key 'mode'" in result.stdout
    assert "unknown finding type NOT_A_TYPE" in result.stdout
