"""Reports of what a policy did: counted from a replay or from the decision ledger,
printed as JSON or as one self-contained HTML page."""
