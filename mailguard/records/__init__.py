"""The council's own records (housing, council tax, benefits, social care), kept as
keyed hashes only, so that outgoing mail can be matched against them on site."""
