"""Policy files: every mistake reported as FILE:LINE:COL, includes merged as documented."""

from __future__ import annotations

import textwrap

import pytest

from mailguard.policy.loader import PolicyError, load_policy
from mailguard.policy.schema import RuleAction


def write(tmp_path, name: str, text: str):
    f = tmp_path / name
    f.write_text(textwrap.dedent(text).lstrip("\n"))
    return f


def problems(path) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    return [str(p) for p in err.value.problems]


def test_a_valid_policy_loads_with_a_version(tmp_path):
    f = write(
        tmp_path,
        "p.yaml",
        """
        organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
        rules:
          - name: bulk
            when: {visible_external_recipients: {more_than: 10}}
            action: rewrite
            rewrite: bcc
    """,
    )
    loaded = load_policy(f)
    assert loaded.policy.rules[0].action is RuleAction.REWRITE
    assert len(loaded.version) == 12
    assert loaded.files == (f,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            rules:
              - name: r
                when: {visible_external_recipients: {more_than: 10}}
                action: rewrite
                rewrit: bcc
            """,
            ["{f}:5:5: unknown key 'rewrit' (in rules.0)"],
        ),
        (
            """
            rules:
              - name: r
                when: {finding: {type: UK_NIN0}}
                action: hold
            """,
            ["{f}:3:28: unknown finding type UK_NIN0 (in rules.0.when.finding.type)"],
        ),
        (
            """
            rules:
              - name: r
                when: {finding: {detector: personal_dat}}
                action: hold
            """,
            [
                "{f}:3:32: unknown detector personal_dat (known: attachment_mismatch, "
                "bulk_visible, known_records, lookalike_domain, name_mismatch, "
                "new_external_domain, personal_data, quoted_history, recipient_near_miss, "
                "redaction, unroutable_domain) "
                "(in rules.0.when.finding.detector)"
            ],
        ),
        (
            """
            rules:
              - name: r
                when: {size: {more_than: 10M}}
                action: quarantine
            """,
            [
                "{f}:4:13: 'quarantine' is not one of 'pass', 'tag', 'rewrite', 'hold', "
                "'reject' or 'allow' (in rules.0.action)"
            ],
        ),
        (
            """
            mode: monitor
            rules:
              - name: r
                when: {external_recipients: {more_than: "ten"}}
                action: tag
            """,
            [
                "{f}:4:45: Input should be a valid integer, unable to parse string as an integer "
                "(in rules.0.when.external_recipients.more_than)"
            ],
        ),
        (
            """
            rules:
              - name: r
                action: tag
            """,
            ["{f}:2:5: missing key 'when' (in rules.0)"],
        ),
        (
            """
            rules:
              - name: r
                when: {}
                action: tag
            """,
            ["{f}:3:11: empty condition: it would match every message (in rules.0.when)"],
        ),
        (
            """
            rules:
              - {name: a, when: {size: {more_than: 1}}, action: tag}
              - {name: a, when: {size: {more_than: 2}}, action: tag}
            """,
            ["{f}:3:12: duplicate rule name 'a'"],
        ),
        (
            """
            rules:
              - {name: a, when: {sender: {group: payroll}}, action: allow, exempts: [b]}
            """,
            ["{f}:2:74: exempts unknown rule 'b'"],
        ),
        (
            """
            organisation:
              internal_domains: [northdown.gov.uk]
              internal_domains: [other.gov.uk]
            """,
            ["{f}:3:3: duplicate key 'internal_domains'"],
        ),
        (
            """
            rules:
              - name: r
                when: {size: {more_than: 1}
                action: tag
            """,
            ["{f}:4:5: YAML syntax: expected ',' or '}', but got '<scalar>'"],
        ),
        ("- just\n- a list\n", ["{f}:1:1: a policy file must be a mapping of keys"]),
    ],
)
def test_lint_reports_file_line_column(tmp_path, text, expected):
    f = write(tmp_path, "p.yaml", text)
    assert problems(f) == [e.replace("{f}", str(f)) for e in expected]


def test_missing_include_points_at_the_include_line(tmp_path):
    f = write(
        tmp_path,
        "p.yaml",
        """
        include:
          - base.yaml
    """,
    )
    assert problems(f) == [f"{f}:2:5: policy file not found: {tmp_path / 'base.yaml'}"]


def test_include_cycle_is_detected(tmp_path):
    a = write(tmp_path, "a.yaml", "include: [b.yaml]\n")
    write(tmp_path, "b.yaml", "include: [a.yaml]\n")
    [problem] = problems(a)
    assert problem.startswith(f"{tmp_path / 'b.yaml'}:1:11: include cycle:")


def test_errors_inside_an_included_file_name_that_file(tmp_path):
    write(
        tmp_path,
        "base.yaml",
        """
        rules:
          - {name: base, when: {size: {more_than: 1}}, action: tga}
    """,
    )
    f = write(tmp_path, "p.yaml", "include: [base.yaml]\n")
    [problem] = problems(f)
    assert problem.startswith(f"{tmp_path / 'base.yaml'}:2:56: 'tga' is not one of")


def test_including_file_wins_and_rules_are_merged_by_name(tmp_path):
    write(
        tmp_path,
        "base.yaml",
        """
        organisation:
          name: Base
          internal_domains: [northdown.gov.uk]
          partner_domains: [nhs.net]
        mode: monitor
        rules:
          - {name: one, when: {size: {more_than: 1}}, action: tag}
          - {name: two, when: {size: {more_than: 2}}, action: tag}
    """,
    )
    f = write(
        tmp_path,
        "p.yaml",
        """
        include: [base.yaml]
        organisation: {name: Northdown District Council}
        mode: enforce
        rules:
          - {name: two, when: {size: {more_than: 3}}, action: hold}
          - {name: three, when: {size: {more_than: 4}}, action: reject}
    """,
    )
    loaded = load_policy(f)
    p = loaded.policy
    assert p.organisation.name == "Northdown District Council"
    assert p.organisation.internal_domains == ["northdown.gov.uk"]
    assert p.organisation.partner_domains == ["nhs.net"]
    assert p.mode.value == "enforce"
    assert [(r.name, r.action.value) for r in p.rules] == [
        ("one", "tag"),
        ("two", "hold"),
        ("three", "reject"),
    ]
    assert loaded.files == (tmp_path / "base.yaml", f)


def test_version_changes_when_an_included_file_changes(tmp_path):
    base = write(tmp_path, "base.yaml", "mode: monitor\n")
    f = write(tmp_path, "p.yaml", "include: [base.yaml]\n")
    before = load_policy(f).version
    base.write_text("mode: enforce\n")
    assert load_policy(f).version != before


def test_several_problems_are_all_reported(tmp_path):
    f = write(
        tmp_path,
        "p.yaml",
        """
        organisation: {internal_domains: [not a domain]}
        rules:
          - {name: r, when: {size: {more_than: 1}}, action: nope}
    """,
    )
    assert len(problems(f)) == 2


def test_duplicate_rule_names_inside_one_file_are_caught_even_with_includes(tmp_path):
    write(tmp_path, "base.yaml", "mode: enforce\n")
    f = write(
        tmp_path,
        "p.yaml",
        """
        include: [base.yaml]
        rules:
          - {name: dup, when: {size: {more_than: 1}}, action: tag}
          - {name: dup, when: {size: {more_than: 2}}, action: hold}
    """,
    )
    assert problems(f) == [f"{f}:4:12: duplicate rule name 'dup'"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: &a [*a]\n", "an alias refers to itself"),
        ("mode: enforce\x07\n", "YAML:"),
        ("rules:\n  - {name: r, when: {all: []}, action: tag}\n", "'all' needs at least one"),
    ],
)
def test_odd_yaml_is_a_lint_problem_not_a_crash(tmp_path, text, message):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    [problem] = problems(f)
    assert problem.startswith(f"{f}:") and message in problem
