"""Rows of the council's own tables found in a message ("exact data match").

A pattern says "this looks like an NHS number"; a match against the housing register
says "these 7 lines are 7 of our tenants". Every value the message could hold (words
and pairs of words, dates, postcodes, numbers, addresses, in bodies and in every
attachment read) is normalised as on import and looked up by its keyed hash. A row
counts when a key column's value is found (an NHS number) or two of its fields are
found in the same part (a name and a date of birth; a name counts once, and "Smith"
alone is no name when the table has first names too). The finding names the table
and columns, never a value.
"""

from __future__ import annotations

from mailguard.detectors import Cost, DetectionContext, Detector, goes_outside
from mailguard.intake.extract import contents_of
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity
from mailguard.records import normalise

NAME = "known_records"


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    if context.records is None or not context.records.active():
        return []
    kinds = context.records.kinds()
    extracted = contents_of(message, outside=goes_outside(envelope, context))
    parts: dict[str, normalise.Values] = {}
    for n, part in enumerate(extracted.texts):
        parts[f"{part.where}\0{n}"] = normalise.prose_contexts(part.text, kinds)
    for n, table in enumerate(extracted.tables):
        rows = (table.header, *table.rows) if table.header else table.rows  # a header: a row?
        parts[f"{table.where}\0t{n}"] = normalise.table_contexts(rows, kinds)
    return [
        Finding(
            NAME,
            "KNOWN_RECORD",
            match.rows,
            Severity.HIGH,
            match.where.partition("\0")[0],
            f"{match.rows} row(s) of '{match.table}' ({', '.join(match.columns)})",
            table=match.table,
        )
        for match in context.records.find(parts)
    ]


DETECTOR = Detector(
    NAME,
    detect,
    emits={"KNOWN_RECORD": Severity.HIGH},
    cost=Cost.CONTENT,
    uses_records=True,
    summary="rows of the council's own imported tables (records import), by keyed hash",
)
