"""``mailguard records ...``: the council's own tables, imported as keyed hashes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from mailguard.cli.common import fail, json_option, runtime_from, state_options
from mailguard.records.importer import import_table
from mailguard.records.index import Meta
from mailguard.records.store import RecordsError, RecordsStore


def _store(config_file: Path | None, data_dir: Path | None, database: str | None) -> RecordsStore:
    return runtime_from(config_file, data_dir=data_dir, database=database).records


def _columns(values: tuple[str, ...]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


@click.group("records")
def records() -> None:
    """The council's own tables (housing, council tax, benefits, social care) that
    outgoing mail is matched against. Only keyed hashes are stored, never a value."""


@records.command("import")
@state_options
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--columns",
    multiple=True,
    help="Columns to use, comma-separated; COL:KIND to say what one holds"
    " (name, first name, last name, date, postcode, identifier, email, phone, address,"
    " text). [every column whose name says what it holds]",
)
@click.option(
    "--key-columns",
    multiple=True,
    help="Columns that identify a person alone (NHS number, council tax account).",
)
@click.option("--replace", is_flag=True, help="Load a fresh export over the table in force.")
@json_option
def import_(
    config_file: Path | None,
    data_dir: Path | None,
    database: str | None,
    name: str,
    file: Path,
    columns: tuple[str, ...],
    key_columns: tuple[str, ...],
    replace: bool,
    as_json: bool,
) -> None:
    """Import a CSV (UTF-8) or XLSX export whose first row names the columns."""
    store = _store(config_file, data_dir, database)
    started = time.monotonic()

    def progress(rows: int) -> None:
        if not as_json and sys.stderr.isatty():
            click.echo(f"\r{rows:,} rows", nl=False, err=True)

    try:
        done = import_table(
            store,
            name,
            file,
            columns=_columns(columns),
            key_columns=_columns(key_columns),
            replace=replace,
            progress=progress,
        )
    except RecordsError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror or exc}")
    elapsed = time.monotonic() - started
    if as_json:
        click.echo(json.dumps({**_summary(done.meta), "elapsed_s": round(elapsed, 1)}))
        return
    click.echo(
        f"Imported {done.meta.rows:,} rows into '{name}' in {elapsed:.1f}s:"
        f" {_column_list(done.meta)}."
    )
    if done.skipped_columns:
        click.echo(f"Not used: {', '.join(done.skipped_columns)} (choose with --columns).")
    if done.empty_values:
        click.echo(f"{done.empty_values:,} value(s) were blank or not of their column's kind.")


@records.command("list")
@state_options
@json_option
def list_(config_file: Path | None, data_dir: Path | None, database: str | None,
          as_json: bool) -> None:  # fmt: skip
    """The tables in force."""
    tables = _tables(_store(config_file, data_dir, database))
    if as_json:
        click.echo(json.dumps([_summary(m) for m in tables]))
        return
    if not tables:
        click.echo("No tables. Import one with: mailguard records import NAME FILE.csv")
    for meta in tables:
        click.echo(f"{meta.name}\t{meta.rows:,} rows\t{meta.imported_at}\t{_column_list(meta)}")


@records.command("show")
@state_options
@click.argument("name")
@json_option
def show(config_file: Path | None, data_dir: Path | None, database: str | None, name: str,
         as_json: bool) -> None:  # fmt: skip
    """One table: its columns, kinds, rows and when it was imported."""
    store = _store(config_file, data_dir, database)
    meta = next((m for m in _tables(store) if m.name == name), None)
    if meta is None:
        fail(f"no table named {name!r} (see: mailguard records list)")
    if as_json:
        click.echo(json.dumps(_summary(meta)))
        return
    click.echo(f"{meta.name}: {meta.rows:,} rows, imported {meta.imported_at} from {meta.source}")
    for column in meta.columns:
        key = ", counts alone" if column.key else ""
        click.echo(f"  {column.name}: {column.kind.value}{key}")


@records.command("drop")
@state_options
@click.argument("name")
@json_option
def drop(config_file: Path | None, data_dir: Path | None, database: str | None, name: str,
         as_json: bool) -> None:  # fmt: skip
    """Remove a table; mail is no longer matched against it."""
    store = _store(config_file, data_dir, database)
    try:
        found = store.drop(name)
    except OSError as exc:
        fail(f"cannot drop {name!r}: {exc}")
    if not found:
        fail(f"no table named {name!r} (see: mailguard records list)")
    if as_json:
        click.echo(json.dumps({"dropped": name}))
    else:
        click.echo(f"Dropped '{name}'.")


def _tables(store: RecordsStore) -> list[Meta]:
    try:
        return store.tables()
    except OSError as exc:
        fail(f"cannot read the records store: {exc}")


def _summary(meta: Meta) -> dict[str, object]:
    return {
        "name": meta.name,
        "rows": meta.rows,
        "columns": [c.to_json() for c in meta.columns],
        "imported_at": meta.imported_at,
        "source": meta.source,
        "version": meta.version,
    }


def _column_list(meta: Meta) -> str:
    return ", ".join(f"{c.name} ({c.kind.value}{', key' if c.key else ''})" for c in meta.columns)
