"""Known records: one written form for each value, and what counts as a record."""

from __future__ import annotations

import datetime as dt

import pytest

from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity
from mailguard.policy import engine
from mailguard.policy.schema import Policy
from mailguard.records import normalise
from mailguard.records.importer import import_table
from mailguard.records.normalise import Kind
from mailguard.records.store import RecordsError, RecordsReader, RecordsStore
from tests.support import registers


@pytest.mark.parametrize(
    ("kind", "exported", "written"),
    [
        (Kind.FULL_NAME, "SMITH, Jane", "Mrs Jane Smith"),
        (Kind.FULL_NAME, "Jane Mary O'Brien-Núñez", "JANE OBRIEN-NUNEZ"),
        (Kind.FIRST_NAME, "Zoë", "ZOE"),
        (Kind.DATE, "03/03/1961", "3rd March 1961"),
        (Kind.DATE, dt.datetime(1961, 3, 3), "1961-03-03"),
        (Kind.DATE, "3-Mar-61", "March 3, 1961"),
        (Kind.POSTCODE, "nd1 2ab", "ND12AB"),
        (Kind.IDENTIFIER, "943 476 5919", "943-476-5919"),
        (Kind.IDENTIFIER, "CT/0012345", "ct0012345"),
        (Kind.PHONE, "+44 7700 900123", "07700 900123"),
        (Kind.EMAIL, "Jane.Smith@Example.org ", "jane.smith@example.org"),
        (Kind.ADDRESS, "12 High Street, Northtown", "12 High Street"),
    ],
)
def test_an_export_and_an_email_agree_on_a_value_however_each_writes_it(kind, exported, written):
    form = normalise.normalised(kind, exported)
    assert form
    [in_text] = normalise.prose_contexts(f"Re: {written}, as discussed").sets()
    [in_cell] = normalise.table_contexts([[written]]).sets()
    assert form in in_text | in_cell


def test_headers_say_what_a_column_holds():
    kinds = [normalise.kind_of_header(h) for h in (*registers.HEADER, "Mobile", "Notes")]
    assert kinds == [
        Kind.IDENTIFIER, Kind.FIRST_NAME, Kind.LAST_NAME, Kind.DATE, Kind.POSTCODE,
        Kind.IDENTIFIER, Kind.PHONE, Kind.TEXT,
    ]  # fmt: skip


@pytest.fixture
def register(tmp_path):
    people = registers.residents(2000, seed=3)
    export = registers.write_csv(tmp_path / "export.csv", people)
    store = RecordsStore(tmp_path / "data")
    import_table(store, "tenants", export, key_columns=["NHS Number"])
    return people, RecordsReader(store)


def found(reader: RecordsReader, text: str) -> int:
    matches = reader.find({"body": normalise.prose_contexts(text)})
    return matches[0].rows if matches else 0


def test_a_name_with_a_second_field_of_the_same_row_is_a_record(register):
    people, reader = register
    p = people[10]
    assert found(reader, f"{p.first} {p.last} ({p.postcode})") == 1
    assert found(reader, f"{p.last.upper()}, {p.first} born {p.born:%d/%m/%Y}") == 1


def test_a_name_alone_or_a_surname_with_a_date_is_not(register):
    people, reader = register
    p, q = people[10], people[11]
    assert found(reader, f"{p.first} {p.last} rang today") == 0
    # Surname and date of birth of one row, but no first name: "Smith" is no name
    # when the register has first names.
    assert found(reader, f"Mr {p.last} was born {p.born:%d/%m/%Y}") == 0
    # Two fields, but of two different people.
    assert found(reader, f"{p.first} {p.last} of {q.postcode}") == 0


def test_a_key_column_counts_alone_and_each_row_once(register):
    people, reader = register
    p = people[20]
    text = f"NHS {p.nhs}; again {p.nhs[:3]} {p.nhs[3:6]} {p.nhs[6:]}; {p.first} {p.last}"
    assert found(reader, text + f" {p.postcode}") == 1


def test_the_index_takes_at_most_64_bytes_a_row(tmp_path):
    people = registers.residents(20_000, seed=5)
    export = registers.write_csv(tmp_path / "export.csv", people)
    store = RecordsStore(tmp_path / "data")
    meta = import_table(store, "big", export, key_columns=["NHS Number"]).meta
    size = sum(p.stat().st_size for p in (store.root / "big" / meta.version).glob("col-*"))
    assert meta.rows == 20_000 and size / meta.rows <= 64


def test_an_existing_table_is_replaced_only_when_asked(register, tmp_path):
    export = registers.write_csv(tmp_path / "again.csv", registers.residents(10))
    with pytest.raises(RecordsError, match="--replace"):
        import_table(register[1].store, "tenants", export)


def test_a_policy_can_name_the_table(register):
    policy = Policy.model_validate(
        {
            "rules": [
                {
                    "name": "hold-care-clients",
                    "when": {"finding": {"detector": "known_records", "table": "care-clients"}},
                    "action": "hold",
                }
            ]
        }
    )

    def decided(table: str) -> str:
        finding = Finding("known_records", "KNOWN_RECORD", 1, Severity.HIGH, "body", "", table)
        envelope = Envelope("a@b.org", ("c@d.org",))
        message = ParsedMessage(b"Subject: list\r\n\r\nsee attached\r\n")
        return engine.decide(policy, [finding], envelope, message).action.value

    assert decided("care-clients") == "hold"
    assert decided("housing-tenants") == "pass"


def test_an_xlsx_export_with_real_dates_and_numbers_matches_a_spreadsheet_in_a_message(tmp_path):
    from openpyxl import Workbook

    people = registers.residents(300, seed=8)
    book = Workbook()
    sheet = book.active
    sheet.append(["Client ID", "Forename", "Surname", "DOB", "NHS No"])
    for p in people:  # Excel keeps dates as dates and NHS numbers as numbers
        sheet.append([p.ref, p.first, p.last, dt.datetime.combine(p.born, dt.time()), int(p.nhs)])
    export = tmp_path / "clients.xlsx"
    book.save(export)
    store = RecordsStore(tmp_path / "data")
    done = import_table(store, "care-clients", export)
    names = [c.name for c in done.meta.columns]
    assert names == ["Forename + Surname", "Client ID", "DOB", "NHS No"]
    reader = RecordsReader(store)
    # The same people as another team's list: "Surname | Forename | Born" in text.
    rows = [(p.last.upper(), p.first, f"{p.born:%d.%m.%Y}") for p in people[:4]]
    [match] = reader.find({"list.xlsx": normalise.table_contexts(rows)})
    assert match.rows == 4 and match.table == "care-clients"
    assert set(match.columns) == {"Forename + Surname", "DOB"}


def test_tables_whose_key_was_removed_match_nothing_instead_of_failing_mail(register):
    people, reader = register
    (reader.store.data_dir / "records.key").unlink()
    fresh = RecordsReader(reader.store)
    p = people[10]
    assert not fresh.active()
    assert (
        fresh.find({"body": normalise.prose_contexts(f"{p.first} {p.last} ({p.postcode})")}) == []
    )
