"""The decision ledger: what the relay decided about every message, for reports and
for the incident a misdirected email turns into. No subject, no content."""
