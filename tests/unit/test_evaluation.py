"""``mailguard eval``'s scoring, on hand-built labels whose figures are known."""

from __future__ import annotations

import datetime as dt
import email.utils
import json

import pytest
from click.testing import CliRunner

from mailguard.cli import main
from mailguard.cli.evaluate import (
    Label,
    LabelError,
    Verdict,
    leaked_secrets,
    parse_labels,
    render,
    score,
)


def finding(type_: str, detail: str = "", detector: str = "personal_data") -> dict:
    return {
        "detector": detector,
        "type": type_,
        "count": 1,
        "severity": "high",
        "where": "body",
        "detail": detail,
    }


def label(file: str, kind: str, risky: bool, entities=(), secrets=(), expect=None) -> Label:
    return Label(file, kind, risky, expect, frozenset(entities), tuple(secrets))


RESULTS = [
    # 4 risky: 3 intervened on (hold, rewrite, reject), 1 let through
    (
        label("1.eml", "list", True, ["UK_NHS", "DATE_OF_BIRTH"], expect="hold"),
        Verdict(
            "hold",
            ("hold-bulk",),
            (finding("UK_NHS", "12 x UK_NHS, e.g. *** *** 5919"), finding("DATE_OF_BIRTH")),
        ),
    ),
    (label("2.eml", "list", True, ["UK_NINO"], expect="hold"), Verdict("pass", (), ())),
    (label("3.eml", "visible", True, expect="rewrite"), Verdict("rewrite", ("bcc",), ())),
    (label("4.eml", "visible", True, expect="rewrite"), Verdict("reject", ("r",), ())),
    # 5 clean: 1 held (a false intervention), 1 tagged (not an intervention)
    (
        label("5.eml", "reply", False, ["UK_NINO"], ["AB123456C", "Jane Smith"]),
        Verdict("tag", ("tag-own",), (finding("UK_NINO", "1 x UK_NINO, e.g. AB123456C"),)),
    ),
    (label("6.eml", "reply", False), Verdict("pass", (), ())),
    (
        label("7.eml", "invoice", False, secrets=["943 476 5919"]),
        Verdict(
            "hold",
            ("hold-bank",),
            (finding("UK_BANK_ACCOUNT", "account 943-476-5919"), finding("PERSON", "2 names")),
        ),
    ),
    (label("8.eml", "invoice", False), Verdict("pass", (), ())),
    (label("9.eml", "invoice", False, ["SPECIAL_CATEGORY"]), Verdict("pass", (), ())),
]


def test_headline_figures():
    report = score(RESULTS)
    assert (report["messages"], report["risky"], report["clean"]) == (9, 4, 5)
    assert report["recall"] == pytest.approx(3 / 4)
    assert report["false_interventions"] == pytest.approx(1 / 5)
    # labelled: 1:{NHS,DOB} 2:{NINO} 5:{NINO} 9:{SC} = 5; found of those: NHS, DOB, NINO(5) = 3
    assert report["entity_recall"] == pytest.approx(3 / 5)
    # reported scored types: 1:NHS,DOB 5:NINO 7:BANK = 4 (PERSON is not scored); false: BANK
    assert report["false_entities"] == pytest.approx(1 / 4)
    assert report["counts"]["actions"] == {
        "pass": 4,
        "hold": 2,
        "tag": 1,
        "rewrite": 1,
        "reject": 1,
    }


def test_leaks_are_secrets_in_a_detail_as_text_or_as_the_same_digits():
    report = score(RESULTS)
    assert report["leaks"] == 2
    assert {(leak["file"], leak["type"]) for leak in report["leaked"]} == {
        ("5.eml", "UK_NINO"),  # the NINO itself
        ("7.eml", "UK_BANK_ACCOUNT"),  # 943 476 5919 shown as 943-476-5919
    }
    assert all("*" in leak["secret"] for leak in report["leaked"])  # never echoed in full


@pytest.mark.parametrize(
    ("secrets", "detail", "leaked"),
    [
        (["943 476 5919"], "e.g. *** *** 5919", []),
        (["943 476 5919"], "e.g. 9434765919", ["943 476 5919"]),
        (["12/03/1985"], "e.g. **/**/1985", []),
        (["12/03/1985"], "born 12.03.1985", ["12/03/1985"]),
        (["Jane Smith"], "greeting names JANE SMITH", ["Jane Smith"]),
        (["Jane Smith"], "greeting names J*** S****", []),
        (["AB123456C"], "1 x UK_NINO, e.g. ab123456c", ["AB123456C"]),
        (["AB123456C"], "1 x UK_NINO, e.g. AB****56C", []),
        (["Ann"], "Ann", []),  # too short to be told apart from ordinary words
    ],
)
def test_leaked_secrets(secrets, detail, leaked):
    assert leaked_secrets(secrets, [detail]) == leaked


def test_per_kind_rows_worst_first():
    report = score(RESULTS)
    rows = {k["kind"]: k for k in report["kinds"]}
    assert rows["list"]["wrong"] == 1 and rows["list"]["risky"] is True
    assert rows["list"]["missed_entities"] == {"UK_NINO": 1}
    assert rows["invoice"]["wrong"] == 1 and rows["invoice"]["risky"] is False
    assert rows["invoice"]["false_entities"] == {"UK_BANK_ACCOUNT": 1}
    assert rows["invoice"]["missed_entities"] == {"SPECIAL_CATEGORY": 1}
    assert rows["visible"]["expected_met"] == 1 and rows["visible"]["expected"] == 2
    assert [k["kind"] for k in report["kinds"]][-1] in ("reply", "visible")
    assert {m["file"] for m in report["misses"]} == {"2.eml", "7.eml"}
    text = render(report)
    assert "recall               0.750" in text and "invoice" in text


def test_an_empty_class_scores_zero_not_a_division_error():
    report = score([(label("1.eml", "k", False), Verdict("pass"))])
    assert report["recall"] == 0.0 and report["false_interventions"] == 0.0
    assert report["entity_recall"] == 0.0 and report["false_entities"] == 0.0


def test_labels_document_and_bare_list(tmp_path):
    doc = {
        "policy": "p.yaml",
        "history": "h.mbox",
        "messages": [
            {
                "file": "a.eml",
                "kind": "k",
                "risky": True,
                "entities": ["UK_NHS"],
                "secrets": ["x"],
                "mail_from": "",
                "rcpt": ["b@example.org"],
            }
        ],
    }
    corpus = parse_labels(doc, tmp_path)
    assert corpus.policy == tmp_path / "p.yaml" and corpus.history == tmp_path / "h.mbox"
    assert corpus.labels[0].mail_from == "" and corpus.labels[0].rcpt == ("b@example.org",)
    bare = parse_labels([{"file": "a.eml", "risky": False}], tmp_path)
    assert bare.policy is None and bare.labels[0].kind == "unlabelled"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"messages": "nope"}, "expected"),
        ([{"risky": True}], "no file"),
        ([{"file": "a.eml"}], "risky must be"),
        ([{"file": "a.eml", "risky": True, "entities": ["UK_NHSS"]}], "UK_NHSS"),
        ([{"file": "a.eml", "risky": True, "expect": "bounce"}], "expect must be"),
        ([{"file": "a.eml", "risky": True}, {"file": "a.eml", "risky": False}], "twice"),
    ],
)
def test_bad_labels_are_refused(tmp_path, document, problem):
    with pytest.raises(LabelError, match=problem):
        parse_labels(document, tmp_path)


def test_bad_input_exits_2_with_one_line(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["eval", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    bad = tmp_path / "labels.json"
    bad.write_text("{not json")
    assert runner.invoke(main, ["eval", str(bad)]).exit_code == 2
    bad.write_text(json.dumps([{"file": "absent.eml", "risky": True}]))
    result = runner.invoke(main, ["eval", str(bad)])
    assert result.exit_code == 2 and "absent.eml" in result.output


def _eml(sender: str, to: str, subject: str) -> str:
    sent = email.utils.format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: <{subject}@x>\n"
        f"Date: {sent}\n\nHello\n"
    )


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_labels_history_is_learnt_before_scoring(tmp_path, jobs):
    """A domain the sender wrote to in the labels' history mailbox is not new; one they
    never wrote to is, so only that message is held."""
    me = "officer@council.example"
    (tmp_path / "history.mbox").write_text(
        "".join(  # enough past mail for "first time" to mean something
            f"From {me} Mon Jun  1 00:00:00 2026\n"
            + _eml(me, "someone@known.example", f"old{i}")
            + "\n"
            for i in range(12)
        )
    )
    (tmp_path / "policy.yaml").write_text(
        "organisation: {name: Council, internal_domains: [council.example]}\n"
        "rules:\n"
        "  - {name: new-domain, when: {finding: {detector: new_external_domain}},"
        " action: hold}\n"
    )
    (tmp_path / "known.eml").write_text(_eml(me, "other@known.example", "a"))
    (tmp_path / "new.eml").write_text(_eml(me, "x@never-seen.example", "b"))
    (tmp_path / "labels.json").write_text(
        json.dumps(
            {
                "policy": "policy.yaml",
                "history": "history.mbox",
                "messages": [
                    {"file": "known.eml", "kind": "known", "risky": False},
                    {"file": "new.eml", "kind": "new", "risky": True},
                ],
            }
        )
    )
    result = CliRunner().invoke(
        main,
        [
            "eval",
            "--json",
            "--jobs",
            jobs,
            "--data-dir",
            str(tmp_path / "unused"),
            str(tmp_path / "labels.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["recall"] == 1.0 and report["false_interventions"] == 0.0
    assert report["timing"]["history_messages"] == 12
    assert not (tmp_path / "unused").exists()  # learnt into a temporary data dir
